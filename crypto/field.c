#include "field.h"

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
	TLY_REQUIRE(c < TLY_FIELD_P);
	for (size_t i = 0; i < d; i++)
		acc[i] = tly_field_add(acc[i], tly_field_mul(c, v[i]));
}

void
tly_field_vec_scale(uint64_t *v, uint64_t c, size_t d)
{
	TLY_REQUIRE(c < TLY_FIELD_P);
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
	return bad ? TLY_ERANGE : TLY_OK;
}

tly_err
tly_field_encode_signed(int64_t v, uint64_t *out)
{
	if (v > (int64_t)TLY_FIELD_HALF || v < -(int64_t)TLY_FIELD_HALF)
		return TLY_ERANGE;
	*out = v >= 0 ? (uint64_t)v : TLY_FIELD_P - (uint64_t)(-v);
	return TLY_OK;
}

int64_t
tly_field_decode_signed(uint64_t x)
{
	TLY_REQUIRE(x < TLY_FIELD_P);
	return x <= TLY_FIELD_HALF ? (int64_t)x : -(int64_t)(TLY_FIELD_P - x);
}

tly_err
tly_field_vec_encode_signed(uint64_t *restrict out, const int64_t *restrict in, size_t d,
    size_t *bad_index)
{
	for (size_t i = 0; i < d; i++) {
		if (tly_field_encode_signed(in[i], &out[i]) != TLY_OK) {
			if (bad_index != NULL)
				*bad_index = i;
			return TLY_ERANGE;
		}
	}
	return TLY_OK;
}

tly_err
tly_field_vec_decode_signed(int64_t *restrict out, const uint64_t *restrict in, size_t d,
    size_t *bad_index)
{
	for (size_t i = 0; i < d; i++) {
		if (in[i] >= TLY_FIELD_P) {
			if (bad_index != NULL)
				*bad_index = i;
			return TLY_ERANGE;
		}
		out[i] = tly_field_decode_signed(in[i]);
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

tly_err
tly_field_vec_load(uint64_t *restrict out, const uint8_t *restrict in, size_t d)
{
	for (size_t i = 0; i < d; i++) {
		uint64_t x = 0;
		for (int b = 0; b < 8; b++)
			x = (x << 8) | in[8 * i + (size_t)b];
		if (x >= TLY_FIELD_P)
			return TLY_ERANGE;
		out[i] = x;
	}
	return TLY_OK;
}
