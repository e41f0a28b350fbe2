/*
 * wipe.h - the two ways tally forgets a secret.
 *
 * sodium_memzero cannot be optimised away, unlike memset on memory that is
 * about to die.
 */
#ifndef TLY_WIPE_H
#define TLY_WIPE_H

#include <sodium.h>

#define TLY_WIPE(ptr, len) sodium_memzero((ptr), (len))
#define TLY_WIPE_OBJ(obj)  sodium_memzero(&(obj), sizeof(obj))

#endif
