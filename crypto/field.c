#include "field.h"

#include "ct.h"

/*
 * The vector loops are written so that GCC vectorises them: no branches on
 * the data, conditional subtraction by masks. target_clones lets the same
 * binary use AVX2 where the CPU has it and SSE2 elsewhere.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

uint64_t
tly_field_pow(uint64_t a, uint64_t e)
{
	uint64_t result = 1;

	TLY_REQUIRE(a < TLY_FIELD_P);
	while (e > 0) {
		if (e & 1)
			result = tly_field_mul(result, a);
		a = tly_field_mul(a, a);
		e >>= 1;
	}
	return result;
}

tly_err
tly_field_inv(uint64_t a, uint64_t *out)
{
	if (a == 0 || a >= TLY_FIELD_P)
		return TLY_ERANGE;
	*out = tly_field_pow(a, TLY_FIELD_P - 2); /* Fermat */
	return TLY_OK;
}

VECTOR_CLONES void
tly_field_vec_add(uint64_t *restrict acc, const uint64_t *restrict v, size_t d)
{
	for (size_t i = 0; i < d; i++)
		acc[i] = tly_field_add(acc[i], v[i]);
}

VECTOR_CLONES void
tly_field_vec_sub(uint64_t *restrict acc, const uint64_t *restrict v, size_t d)
{
	for (size_t i = 0; i < d; i++)
		acc[i] = tly_field_sub(acc[i], v[i]);
}

void
tly_field_vec_axpy(uint64_t *restrict acc, uint64_t c, const uint64_t *restrict v, size_t d)
{
	/* c may be secret; a misuse abort is public. */
	TLY_REQUIRE(tly_ct_public(c < TLY_FIELD_P));
	for (size_t i = 0; i < d; i++)
		acc[i] = tly_field_add(acc[i], tly_field_mul(c, v[i]));
}

void
tly_field_vec_scale(uint64_t *v, uint64_t c, size_t d)
{
	TLY_REQUIRE(tly_ct_public(c < TLY_FIELD_P)); /* as in axpy */
	for (size_t i = 0; i < d; i++)
		v[i] = tly_field_mul(c, v[i]);
}

uint64_t
tly_field_vec_dot(const uint64_t *a, const uint64_t *b, size_t d)
{
	/* Each product is < 2^122; fold every product into 61-bit halves so
	 * that the two accumulators cannot overflow for any d < 2^64. */
	uint64_t lo = 0, hi = 0;

	for (size_t i = 0; i < d; i++) {
		tly_u128 product = (tly_u128)a[i] * b[i];
		lo = tly_field_add(lo, (uint64_t)product & TLY_FIELD_P);
		hi = tly_field_add(hi, (uint64_t)(product >> TLY_FIELD_BITS));
	}
	return tly_field_add(lo, hi);
}

VECTOR_CLONES tly_err
tly_field_vec_check(const uint64_t *v, size_t d)
{
	uint64_t bad = 0;

	for (size_t i = 0; i < d; i++)
		bad |= (v[i] >= TLY_FIELD_P);
	/* Whether the vector is valid is public: the caller reports it. */
	return tly_ct_public(bad) ? TLY_ERANGE : TLY_OK;
}

/* v as an element, and in *bad whether |v| > HALF (then the element is
 * meaningless). No branch on v: a count plus its noise is secret. */
static inline uint64_t
encode(int64_t v, uint64_t *bad)
{
	uint64_t u = (uint64_t)v;
	uint64_t neg = -(u >> 63);            /* all ones when v < 0 */
	uint64_t magnitude = (u ^ neg) - neg; /* |v|, 2^63 for INT64_MIN */

	*bad = (uint64_t)(magnitude > TLY_FIELD_HALF);
	return u + (TLY_FIELD_P & neg); /* v, or p + v = p - |v| */
}

/* The centred value of an element x < p, without a branch on x. */
static inline int64_t
decode(uint64_t x)
{
	uint64_t upper = -(uint64_t)(x > TLY_FIELD_HALF);
	return (int64_t)(x - (TLY_FIELD_P & upper)); /* x, or x - p = -(p - x) */
}

tly_err
tly_field_encode_signed(int64_t v, uint64_t *out)
{
	uint64_t bad, x = encode(v, &bad);

	/* Whether v is in range is public: the caller fails the query. */
	if (tly_ct_public(bad))
		return TLY_ERANGE;
	*out = x;
	return TLY_OK;
}

int64_t
tly_field_decode_signed(uint64_t x)
{
	TLY_REQUIRE(tly_ct_public(x < TLY_FIELD_P)); /* a misuse abort is public */
	return decode(x);
}

/* The index of the first v[i] >= p, once one is known to exist (the
 * error and its index are public). */
static size_t
first_out_of_range(const uint64_t *v, size_t d)
{
	size_t i = 0;

	while (i < d && !tly_ct_public(v[i] >= TLY_FIELD_P))
		i++;
	return i;
}

tly_err
tly_field_vec_encode_signed(uint64_t *restrict out, const int64_t *restrict in, size_t d,
                            size_t *bad_index)
{
	uint64_t bad = 0, one;

	for (size_t i = 0; i < d; i++) {
		out[i] = encode(in[i], &one);
		bad |= one;
	}
	/* As in tly_field_encode_signed: only the error and its index are
	 * public. */
	if (tly_ct_public(bad)) {
		size_t i = 0;
		for (; i < d; i++) {
			(void)encode(in[i], &one);
			if (tly_ct_public(one))
				break;
		}
		if (bad_index != NULL)
			*bad_index = i;
		return TLY_ERANGE;
	}
	return TLY_OK;
}

tly_err
tly_field_vec_decode_signed(int64_t *restrict out, const uint64_t *restrict in, size_t d,
                            size_t *bad_index)
{
	uint64_t bad = 0;

	for (size_t i = 0; i < d; i++) {
		bad |= (in[i] >= TLY_FIELD_P);
		out[i] = decode(in[i]);
	}
	if (tly_ct_public(bad)) { /* the error and its index are public */
		if (bad_index != NULL)
			*bad_index = first_out_of_range(in, d);
		return TLY_ERANGE;
	}
	return TLY_OK;
}

tly_err
tly_field_sum_fits(uint64_t count, uint64_t max_abs)
{
	if (max_abs != 0 && count > TLY_FIELD_HALF / max_abs)
		return TLY_ERANGE;
	return TLY_OK;
}

void
tly_field_vec_store(uint8_t *restrict out, const uint64_t *restrict v, size_t d)
{
	for (size_t i = 0; i < d; i++) {
		uint64_t x = v[i];
		for (int b = 7; b >= 0; b--) {
			out[8 * i + (size_t)b] = (uint8_t)x;
			x >>= 8;
		}
	}
}

static inline uint64_t
load_be64(const uint8_t *in)
{
	uint64_t x = 0;

	for (int b = 0; b < 8; b++)
		x = (x << 8) | in[b];
	return x;
}

/*
 * A loaded share is secret (it was just decrypted), so its words are not
 * branched on one by one: each block is checked first without writing
 * anything, and only the block's verdict is public. A bad block is then
 * walked to its first bad word, whose index the error makes public anyway,
 * so that nothing is written past it.
 */
enum { LOAD_BLOCK = 64 };

tly_err
tly_field_vec_load(uint64_t *restrict out, const uint8_t *restrict in, size_t d)
{
	for (size_t start = 0; start < d; start += LOAD_BLOCK) {
		size_t end = d - start < LOAD_BLOCK ? d : start + LOAD_BLOCK;
		uint64_t bad = 0;

		for (size_t i = start; i < end; i++)
			bad |= (load_be64(in + 8 * i) >= TLY_FIELD_P);
		if (tly_ct_public(bad)) {
			for (size_t i = start; i < end; i++) {
				uint64_t x = load_be64(in + 8 * i);
				if (tly_ct_public(x >= TLY_FIELD_P))
					return TLY_ERANGE;
				out[i] = x;
			}
		}
		for (size_t i = start; i < end; i++)
			out[i] = load_be64(in + 8 * i);
	}
	return TLY_OK;
}
