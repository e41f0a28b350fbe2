/*
 * wipe.h - how tally forgets a secret.
 *
 * sodium_memzero cannot be optimised away, unlike memset on memory that is
 * about to die.
 */
#ifndef TLY_WIPE_H
#define TLY_WIPE_H

#include <sodium.h>
#include <stdlib.h>

#define TLY_WIPE(ptr, len) sodium_memzero((ptr), (len))
#define TLY_WIPE_OBJ(obj)  sodium_memzero(&(obj), sizeof(obj))

/* Heap memory that held a secret: wiped (len bytes), then freed. NULL is
 * fine, for an out: path. */
static inline void
tly_wipe_free(void *ptr, size_t len)
{
	if (ptr != NULL)
		sodium_memzero(ptr, len);
	free(ptr);
}

#endif
