/*
 * ct.h - the points where a value computed from secrets becomes public.
 *
 * `make ctgrind` (tests/ct/ct_check.c, scripts/ctgrind.sh) runs the
 * secret-handling code under valgrind memcheck with every secret marked
 * undefined, so that memcheck reports each branch and each memory index
 * that depends on a secret. A few one-bit facts derived from secrets are
 * public by design and the code branches on them: whether an element is
 * below p (a bad share is an error the caller reports), whether a keystream
 * word was rejected (probability 2^-61, see prg.c), whether a tag matched.
 * tly_ct_public() marks such a value defined at the exact point where it
 * becomes public; each call site says why in a comment. Nothing else may
 * be declassified in library code.
 *
 * Outside valgrind the client request is a few instructions that do
 * nothing (a rotate sequence, valgrind.h); without the valgrind headers it
 * compiles to nothing. Its cost is one store and one load: use it on a
 * per-call or per-block bit, never inside a vector loop.
 */
#ifndef TLY_CT_H
#define TLY_CT_H

#include <stdint.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define TLY_CT_DECLASSIFY(ptr, len) ((void)VALGRIND_MAKE_MEM_DEFINED((ptr), (len)))
#endif
#endif
#ifndef TLY_CT_DECLASSIFY
#define TLY_CT_DECLASSIFY(ptr, len) ((void)(ptr), (void)(len))
#endif

/* x, declared public (see above). */
static inline uint64_t
tly_ct_public(uint64_t x)
{
	TLY_CT_DECLASSIFY(&x, sizeof x);
	return x;
}

#endif
