/* Field F_p, p = 2^61 - 1: identities against 128-bit reference arithmetic,
 * signed encoding at the edges, wire load/store, overflow bounds. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/field.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"

#define P TLY_FIELD_P

static struct tly_rng rng;

static void
setup(void)
{
	tly_rng_init_seeded_u64(&rng, 61);
}

TestSuite(field, .init = setup);

static uint64_t
reference_mod(tly_u128 x)
{
	return (uint64_t)(x % P);
}

Test(field, arithmetic_matches_reference)
{
	/* Every pair of edge elements, then random pairs. */
	static const uint64_t edges[] = {0,
	                                 1,
	                                 2,
	                                 P - 1,
	                                 P - 2,
	                                 P / 2,
	                                 P / 2 + 1,
	                                 UINT64_C(1) << 60,
	                                 (UINT64_C(1) << 32) - 1,
	                                 UINT64_C(1) << 32};
	enum { E = sizeof edges / sizeof edges[0], RANDOM = 10000 };
	for (int i = 0; i < E * E + RANDOM; i++) {
		uint64_t a, b;
		if (i < E * E) {
			a = edges[i / E];
			b = edges[i % E];
		} else {
			a = tly_rng_u64(&rng) % P;
			b = tly_rng_u64(&rng) % P;
		}
		cr_assert_eq(tly_field_add(a, b), reference_mod((tly_u128)a + b));
		cr_assert_eq(tly_field_sub(a, b), reference_mod((tly_u128)a + P - b));
		cr_assert_eq(tly_field_mul(a, b), reference_mod((tly_u128)a * b));
		cr_assert_eq(tly_field_neg(a), reference_mod((tly_u128)P - a));
	}
}

Test(field, identities)
{
	for (int i = 0; i < 1000; i++) {
		uint64_t a = tly_rng_u64(&rng) % P, b = tly_rng_u64(&rng) % P,
		         c = tly_rng_u64(&rng) % P;
		cr_assert_eq(tly_field_add(a, 0), a);
		cr_assert_eq(tly_field_mul(a, 1), a);
		cr_assert_eq(tly_field_add(a, tly_field_neg(a)), 0);
		cr_assert_eq(tly_field_sub(tly_field_add(a, b), b), a);
		cr_assert_eq(tly_field_mul(a, tly_field_add(b, c)),
		             tly_field_add(tly_field_mul(a, b), tly_field_mul(a, c)));
		cr_assert_eq(tly_field_mul(tly_field_mul(a, b), c),
		             tly_field_mul(a, tly_field_mul(b, c)));
		if (a != 0) {
			uint64_t inv;
			cr_assert_eq(tly_field_inv(a, &inv), TLY_OK);
			cr_assert_eq(tly_field_mul(a, inv), 1);
		}
	}
}

Test(field, reduce128_extremes)
{
	tly_u128 max = (tly_u128)(P - 1) * (P - 1);
	cr_assert_eq(tly_field_reduce128(max), reference_mod(max));
	cr_assert_eq(tly_field_reduce128((tly_u128)P), 0);
	cr_assert_eq(tly_field_reduce128((tly_u128)P * 5 + 3), 3);
	cr_assert_eq(tly_field_from_u64(UINT64_MAX), (uint64_t)(UINT64_MAX % P));
	cr_assert_eq(tly_field_from_u64(P), 0);
}

Test(field, inverse_of_zero_and_out_of_range)
{
	uint64_t out = 12345;
	cr_assert_eq(tly_field_inv(0, &out), TLY_ERANGE);
	cr_assert_eq(tly_field_inv(P, &out), TLY_ERANGE);
	cr_assert_eq(out, 12345, "out-parameter written on failure");
	cr_assert_eq(tly_field_pow(3, P - 1), 1, "Fermat");
}

Test(field, vector_ops_match_scalar)
{
	enum { N = 1037 }; /* not a multiple of any vector width */
	uint64_t a[N], b[N], acc[N], expect[N];
	tly_rng_field(&rng, a, N);
	tly_rng_field(&rng, b, N);
	a[0] = P - 1;
	b[0] = P - 1;
	a[1] = 0;
	b[1] = P - 1;
	uint64_t c = tly_rng_u64(&rng) % P;

	memcpy(acc, a, sizeof a);
	tly_field_vec_add(acc, b, N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(acc[i], tly_field_add(a[i], b[i]), "add at %d", i);
	tly_field_vec_sub(acc, b, N);
	cr_assert_arr_eq(acc, a, sizeof a, "sub undoes add");

	memcpy(acc, a, sizeof a);
	tly_field_vec_axpy(acc, c, b, N);
	for (int i = 0; i < N; i++)
		expect[i] = tly_field_add(a[i], tly_field_mul(c, b[i]));
	cr_assert_arr_eq(acc, expect, sizeof acc);

	memcpy(acc, a, sizeof a);
	tly_field_vec_scale(acc, c, N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(acc[i], tly_field_mul(c, a[i]));

	uint64_t dot = 0;
	for (int i = 0; i < N; i++)
		dot = tly_field_add(dot, tly_field_mul(a[i], b[i]));
	cr_assert_eq(tly_field_vec_dot(a, b, N), dot);
	cr_assert_eq(tly_field_vec_check(acc, N), TLY_OK);
}

Test(field, dot_of_maximal_elements_does_not_overflow)
{
	enum { N = 4096 };
	static uint64_t a[N];
	for (int i = 0; i < N; i++)
		a[i] = P - 1; /* (-1)(-1) = 1 each */
	cr_assert_eq(tly_field_vec_dot(a, a, N), (uint64_t)N);
}

Test(field, check_rejects_out_of_range)
{
	uint64_t v[5] = {0, 1, P - 1, 3, 4};
	cr_assert_eq(tly_field_vec_check(v, 5), TLY_OK);
	v[3] = P;
	cr_assert_eq(tly_field_vec_check(v, 5), TLY_ERANGE);
	v[3] = UINT64_MAX;
	cr_assert_eq(tly_field_vec_check(v, 5), TLY_ERANGE);
	cr_assert_eq(tly_field_vec_check(v, 0), TLY_OK);
}

Test(field, signed_round_trip_at_the_edges)
{
	const int64_t half = (int64_t)TLY_FIELD_HALF;
	const int64_t values[] = {0,        1,         -1,       2,         -2,
	                          half,     -half,     half - 1, -half + 1, 1000000,
	                          -1000000, INT32_MAX, INT32_MIN};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		uint64_t x;
		cr_assert_eq(tly_field_encode_signed(values[i], &x), TLY_OK);
		cr_assert_lt(x, P);
		cr_assert_eq(tly_field_decode_signed(x), values[i]);
	}
	uint64_t x = 77;
	cr_assert_eq(tly_field_encode_signed(half + 1, &x), TLY_ERANGE);
	cr_assert_eq(tly_field_encode_signed(-half - 1, &x), TLY_ERANGE);
	cr_assert_eq(tly_field_encode_signed(INT64_MAX, &x), TLY_ERANGE);
	cr_assert_eq(tly_field_encode_signed(INT64_MIN, &x), TLY_ERANGE);
	cr_assert_eq(x, 77);
	/* Every element decodes, and the two halves meet at (p-1)/2. */
	cr_assert_eq(tly_field_decode_signed(TLY_FIELD_HALF), half);
	cr_assert_eq(tly_field_decode_signed(TLY_FIELD_HALF + 1), -half);
	cr_assert_eq(tly_field_decode_signed(P - 1), -1);
}

Test(field, signed_sums_decode_to_integer_sums)
{
	/* 100 contributions of up to 2^50 in absolute value. */
	int64_t total = 0;
	uint64_t acc = 0;
	cr_assert_eq(tly_field_sum_fits(100, UINT64_C(1) << 50), TLY_OK);
	for (int i = 0; i < 100; i++) {
		int64_t v = (int64_t)(tly_rng_u64(&rng) % (UINT64_C(1) << 51)) - (INT64_C(1) << 50);
		uint64_t x;
		cr_assert_eq(tly_field_encode_signed(v, &x), TLY_OK);
		acc = tly_field_add(acc, x);
		total += v;
	}
	cr_assert_eq(tly_field_decode_signed(acc), total);
}

Test(field, sum_fits_bounds)
{
	cr_assert_eq(tly_field_sum_fits(0, UINT64_MAX), TLY_OK);
	cr_assert_eq(tly_field_sum_fits(UINT64_MAX, 0), TLY_OK);
	cr_assert_eq(tly_field_sum_fits(1, TLY_FIELD_HALF), TLY_OK);
	cr_assert_eq(tly_field_sum_fits(2, TLY_FIELD_HALF), TLY_ERANGE);
	cr_assert_eq(tly_field_sum_fits(1, TLY_FIELD_HALF + 1), TLY_ERANGE);
	cr_assert_eq(tly_field_sum_fits(1000, TLY_FIELD_HALF / 1000), TLY_OK);
	cr_assert_eq(tly_field_sum_fits(1001, TLY_FIELD_HALF / 1000), TLY_ERANGE);
}

Test(field, vector_signed_reports_bad_index)
{
	int64_t in[4] = {1, -1, (int64_t)TLY_FIELD_HALF + 1, 0};
	uint64_t out[4];
	int64_t back[4];
	size_t bad = 99;
	cr_assert_eq(tly_field_vec_encode_signed(out, in, 4, &bad), TLY_ERANGE);
	cr_assert_eq(bad, 2);
	in[2] = -5;
	cr_assert_eq(tly_field_vec_encode_signed(out, in, 4, &bad), TLY_OK);
	cr_assert_eq(tly_field_vec_decode_signed(back, out, 4, &bad), TLY_OK);
	cr_assert_arr_eq(back, in, sizeof in);
	out[3] = P;
	cr_assert_eq(tly_field_vec_decode_signed(back, out, 4, &bad), TLY_ERANGE);
	cr_assert_eq(bad, 3);
}

Test(field, wire_load_store)
{
	uint64_t v[3] = {0x0102030405060708, 0, P - 1}, back[3];
	uint8_t wire[24];
	tly_field_vec_store(wire, v, 3);
	cr_assert_eq(wire[0], 0x01, "big-endian");
	cr_assert_eq(wire[7], 0x08);
	cr_assert_eq(tly_field_vec_load(back, wire, 3), TLY_OK);
	cr_assert_arr_eq(back, v, sizeof v);
	wire[16] = 0x20; /* element 2 becomes >= 2^61 */
	cr_assert_eq(tly_field_vec_load(back, wire, 3), TLY_ERANGE);
	memset(wire + 16, 0, 8);
	wire[16] = 0x1f;
	memset(wire + 17, 0xff, 7); /* exactly p */
	cr_assert_eq(tly_field_vec_load(back, wire, 3), TLY_ERANGE);
}

/* The encoders no longer branch per element (make ctgrind); the first bad
 * index and the range edges must survive that. */
Test(field, vector_signed_reports_first_bad_index)
{
	enum { N = 300 };
	static int64_t in[N], back[N];
	static uint64_t out[N];
	size_t bad = 0;

	for (size_t i = 0; i < N; i++)
		in[i] = (int64_t)i - 150;
	in[0] = (int64_t)TLY_FIELD_HALF;
	in[1] = -(int64_t)TLY_FIELD_HALF;
	cr_assert_eq(tly_field_vec_encode_signed(out, in, N, &bad), TLY_OK);
	cr_assert_eq(out[0], TLY_FIELD_HALF);
	cr_assert_eq(out[1], TLY_FIELD_HALF + 1, "p - HALF");
	cr_assert_eq(out[2], P - 148);
	cr_assert_eq(tly_field_vec_decode_signed(back, out, N, &bad), TLY_OK);
	cr_assert_arr_eq(back, in, sizeof in);

	in[200] = INT64_MIN;
	in[250] = (int64_t)TLY_FIELD_HALF + 1;
	cr_assert_eq(tly_field_vec_encode_signed(out, in, N, &bad), TLY_ERANGE);
	cr_assert_eq(bad, 200);
	in[200] = 0;
	cr_assert_eq(tly_field_vec_encode_signed(out, in, N, &bad), TLY_ERANGE);
	cr_assert_eq(bad, 250);
	in[250] = INT64_MAX;
	cr_assert_eq(tly_field_vec_encode_signed(out, in, N, &bad), TLY_ERANGE);
	cr_assert_eq(bad, 250);
	in[250] = -(int64_t)TLY_FIELD_HALF - 1;
	cr_assert_eq(tly_field_vec_encode_signed(out, in, N, &bad), TLY_ERANGE);
	cr_assert_eq(bad, 250);
	cr_assert_eq(tly_field_vec_encode_signed(out, in, N, NULL), TLY_ERANGE);

	for (size_t i = 0; i < N; i++)
		out[i] = i;
	out[299] = UINT64_MAX;
	out[77] = P;
	cr_assert_eq(tly_field_vec_decode_signed(back, out, N, &bad), TLY_ERANGE);
	cr_assert_eq(bad, 77);
	cr_assert_eq(tly_field_vec_decode_signed(back, out, N, NULL), TLY_ERANGE);
}

Test(field, wire_load_stops_at_the_first_bad_word)
{
	enum { N = 200 }; /* several of load's 64-word blocks */
	static uint64_t v[N], back[N];
	static uint8_t wire[8 * N];

	for (size_t i = 0; i < N; i++)
		v[i] = tly_rng_u64(&rng) & P;
	v[5] = P - 1;
	tly_field_vec_store(wire, v, N);
	for (size_t bad_at = 0; bad_at < N; bad_at += 43) {
		uint8_t saved[8];
		memcpy(saved, wire + 8 * bad_at, 8);
		memset(wire + 8 * bad_at, 0xff, 8);
		memset(back, 0xAA, sizeof back);
		cr_assert_eq(tly_field_vec_load(back, wire, N), TLY_ERANGE, "bad word %zu", bad_at);
		for (size_t i = 0; i < N; i++) {
			if (i < bad_at)
				cr_assert_eq(back[i], v[i], "word %zu before the bad one", i);
			else
				cr_assert_eq(back[i], UINT64_C(0xAAAAAAAAAAAAAAAA),
				             "word %zu written past the bad one", i);
		}
		memcpy(wire + 8 * bad_at, saved, 8);
	}
	cr_assert_eq(tly_field_vec_load(back, wire, N), TLY_OK);
	cr_assert_arr_eq(back, v, sizeof v);
	cr_assert_eq(tly_field_vec_load(back, wire, 0), TLY_OK);
}

Test(field, scalar_signed_extremes)
{
	uint64_t x = 7;
	cr_assert_eq(tly_field_encode_signed(INT64_MIN, &x), TLY_ERANGE);
	cr_assert_eq(tly_field_encode_signed(INT64_MAX, &x), TLY_ERANGE);
	cr_assert_eq(tly_field_encode_signed((int64_t)TLY_FIELD_HALF + 1, &x), TLY_ERANGE);
	cr_assert_eq(tly_field_encode_signed(-(int64_t)TLY_FIELD_HALF - 1, &x), TLY_ERANGE);
	cr_assert_eq(x, 7, "untouched on error");
	cr_assert_eq(tly_field_encode_signed(-1, &x), TLY_OK);
	cr_assert_eq(x, P - 1);
	cr_assert_eq(tly_field_decode_signed(P - 1), -1);
	cr_assert_eq(tly_field_decode_signed(TLY_FIELD_HALF), (int64_t)TLY_FIELD_HALF);
	cr_assert_eq(tly_field_decode_signed(TLY_FIELD_HALF + 1), -(int64_t)TLY_FIELD_HALF);
	cr_assert_eq(tly_field_from_u64(UINT64_MAX), 7, "2^64 - 1 = 8 p + 7");
	cr_assert_eq(tly_field_from_u64(P), 0);
	cr_assert_eq(tly_field_reduce128((tly_u128)P * P), 0);
}

Test(field, misuse_decode_out_of_range_aborts, .signal = SIGABRT)
{
	(void)tly_field_decode_signed(P);
}

Test(field, misuse_scale_by_non_element_aborts, .signal = SIGABRT)
{
	uint64_t v[1] = {1};
	tly_field_vec_scale(v, P, 1);
}
