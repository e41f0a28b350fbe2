/*
 * field.h - vectors over the prime field F_p, p = 2^61 - 1 (a Mersenne
 * prime: reduction is a shift and an add).
 *
 * Elements are uint64_t with the invariant 0 <= x < p. Functions taking
 * elements assume the invariant (misuse otherwise); data from a peer enters
 * only through tly_field_vec_load or tly_field_vec_check, which test it.
 *
 * Signed values are centred: v in [-(p-1)/2, (p-1)/2] is stored as v mod p,
 * so sums of signed contributions decode correctly while the true total
 * stays inside that range (tly_field_sum_fits says whether it must).
 *
 * Vector routines take restrict pointers: the vectors must not overlap.
 * None of them allocates, branches on element values, or fails.
 *
 * Constant time: every function below except tly_field_pow, tly_field_inv
 * and tly_field_sum_fits (whose arguments are public) has no branch or
 * memory index that depends on element values (checked by `make ctgrind`).
 * The only facts about the values they reveal are public by design:
 * whether an input is out of range (an error or a misuse abort) and, on an
 * error, the index of the first bad element.
 */
#ifndef TLY_FIELD_H
#define TLY_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TLY_FIELD_P    UINT64_C(0x1FFFFFFFFFFFFFFF) /* 2^61 - 1 */
#define TLY_FIELD_BITS 61
#define TLY_FIELD_HALF ((TLY_FIELD_P - 1) / 2) /* 2^60 - 1: largest |v| */

enum { TLY_FIELD_ELEMENT_BYTES = 8 };

__extension__ typedef unsigned __int128 tly_u128;

/* Reduce x < 2^122 (any product of two elements) to [0, p). */
static inline uint64_t
tly_field_reduce128(tly_u128 x)
{
	uint64_t lo = (uint64_t)x & TLY_FIELD_P;
	uint64_t hi = (uint64_t)(x >> TLY_FIELD_BITS);
	uint64_t s = lo + hi; /* < 2^62 */
	s = (s & TLY_FIELD_P) + (s >> TLY_FIELD_BITS);
	return s - (TLY_FIELD_P & -(uint64_t)(s >= TLY_FIELD_P));
}

/*
 * The conditional subtractions below are written as masks, not branches:
 * they run in constant time on secret shares, and GCC turns the vector
 * loops built on them into SIMD compares.
 */
static inline uint64_t
tly_field_add(uint64_t a, uint64_t b)
{
	uint64_t s = a + b; /* < 2p < 2^62 */
	return s - (TLY_FIELD_P & -(uint64_t)(s >= TLY_FIELD_P));
}

static inline uint64_t
tly_field_sub(uint64_t a, uint64_t b)
{
	return a - b + (TLY_FIELD_P & -(uint64_t)(a < b));
}

static inline uint64_t
tly_field_neg(uint64_t a)
{
	return tly_field_sub(0, a);
}

static inline uint64_t
tly_field_mul(uint64_t a, uint64_t b)
{
	return tly_field_reduce128((tly_u128)a * b);
}

/* a^e mod p (square and multiply over the bits of e). The time depends on
 * e, which must be public (tally only inverts public Lagrange products). */
uint64_t tly_field_pow(uint64_t a, uint64_t e);

/* Multiplicative inverse; TLY_ERANGE when a == 0. a is public (as above). */
TLY_MUST tly_err tly_field_inv(uint64_t a, uint64_t *out);

/* Reduce an arbitrary 64-bit word (for instance a public index) into F_p. */
static inline uint64_t
tly_field_from_u64(uint64_t x)
{
	uint64_t s = (x & TLY_FIELD_P) + (x >> TLY_FIELD_BITS);
	return s - (TLY_FIELD_P & -(uint64_t)(s >= TLY_FIELD_P));
}

/* acc[i] = acc[i] + v[i] */
void tly_field_vec_add(uint64_t *restrict acc, const uint64_t *restrict v, size_t d);
/* acc[i] = acc[i] - v[i] */
void tly_field_vec_sub(uint64_t *restrict acc, const uint64_t *restrict v, size_t d);
/* acc[i] = acc[i] + c * v[i] */
void tly_field_vec_axpy(uint64_t *restrict acc, uint64_t c, const uint64_t *restrict v, size_t d);
/* v[i] = c * v[i] */
void tly_field_vec_scale(uint64_t *v, uint64_t c, size_t d);
/* sum of a[i] * b[i] */
uint64_t tly_field_vec_dot(const uint64_t *a, const uint64_t *b, size_t d);

/* TLY_OK when every v[i] < p, else TLY_ERANGE. Constant time in the
 * values; only the result is public. */
TLY_MUST tly_err tly_field_vec_check(const uint64_t *v, size_t d);

/* Centred encoding. TLY_ERANGE when |v| > TLY_FIELD_HALF. */
TLY_MUST tly_err tly_field_encode_signed(int64_t v, uint64_t *out);
/* Inverse of the above for any element x < p (misuse otherwise). */
int64_t tly_field_decode_signed(uint64_t x);

/* Whole vectors. On failure out is left unspecified and the index of the
 * first bad entry is written to *bad_index when it is not NULL. */
TLY_MUST tly_err tly_field_vec_encode_signed(uint64_t *restrict out, const int64_t *restrict in,
                                             size_t d, size_t *bad_index);
TLY_MUST tly_err tly_field_vec_decode_signed(int64_t *restrict out, const uint64_t *restrict in,
                                             size_t d, size_t *bad_index);

/*
 * TLY_OK when `count` signed values each of absolute value at most max_abs
 * are guaranteed to sum (over the integers) inside [-HALF, HALF], so that
 * the decoded field total is the true total. TLY_ERANGE otherwise. Use it
 * before a round to refuse a query whose total could wrap.
 */
TLY_MUST tly_err tly_field_sum_fits(uint64_t count, uint64_t max_abs);

/* Wire form: d big-endian 8-byte words. load rejects any word >= p with
 * TLY_ERANGE (and writes nothing past the bad index's check). */
void tly_field_vec_store(uint8_t *restrict out, const uint64_t *restrict v, size_t d);
TLY_MUST tly_err tly_field_vec_load(uint64_t *restrict out, const uint8_t *restrict in, size_t d);

#endif
