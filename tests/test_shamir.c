#include <criterion/criterion.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/field.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "crypto/shamir.h"

#define P   TLY_FIELD_P
#define CAP TLY_SHAMIR_MAX_SHARES

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(shamir, .init = setup);
TestSuite(shamir_stats, .init = setup);

/* n rows of d elements (one more, so that d = 0 still allocates). */
static uint64_t **
rows_alloc(unsigned n, size_t d)
{
	uint64_t **rows = calloc(n + 1, sizeof *rows);

	cr_assert_not_null(rows);
	for (unsigned i = 0; i < n; i++) {
		rows[i] = calloc(d + 1, sizeof **rows);
		cr_assert_not_null(rows[i]);
	}
	return rows;
}

static void
rows_free(uint64_t **rows, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(rows[i]);
	free(rows);
}

/* A uniformly random k-subset of the indices 1..n, in random order
 * (partial Fisher-Yates): xs[i] is the index, picks[i] = xs[i] - 1. */
static void
random_subset(struct tly_rng *rng, unsigned n, unsigned k, uint64_t *xs)
{
	uint64_t all[CAP];

	for (unsigned i = 0; i < n; i++)
		all[i] = i + 1;
	for (unsigned i = 0; i < k; i++) {
		unsigned j = i + (unsigned)tly_rng_uniform(rng, n - i);
		uint64_t swap = all[i];
		all[i] = all[j];
		all[j] = swap;
		xs[i] = all[i];
	}
}

/* Reconstruct from the shares at xs[0..count) and compare with secret. */
static void
expect_reconstructs(uint64_t *const *shares, const uint64_t *xs, size_t count, unsigned t,
                    const uint64_t *secret, size_t d)
{
	const uint64_t *picked[CAP];
	uint64_t *out = calloc(d + 1, sizeof *out);

	cr_assert_not_null(out);
	for (size_t i = 0; i < count; i++)
		picked[i] = shares[xs[i] - 1];
	cr_assert_eq(tly_shamir_reconstruct(xs, picked, count, t, d, out), TLY_OK);
	cr_assert_eq(memcmp(out, secret, d * sizeof *out), 0, "t=%u count=%zu d=%zu", t, count, d);
	free(out);
}

static void
random_secret(struct tly_rng *rng, uint64_t *secret, size_t d)
{
	tly_rng_field(rng, secret, d);
}

/* Share, then reconstruct from `subsets` random t-subsets and a few larger
 * ones. */
static void
round_trip(struct tly_rng *rng, unsigned t, unsigned n, size_t d, const uint64_t *secret,
           int subsets)
{
	uint64_t **shares = rows_alloc(n, d);
	uint64_t xs[CAP];

	cr_assert_eq(tly_shamir_share(rng, secret, d, t, n, shares), TLY_OK);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(tly_field_vec_check(shares[i], d), TLY_OK);
	for (int s = 0; s < subsets; s++) {
		random_subset(rng, n, t, xs);
		expect_reconstructs(shares, xs, t, t, secret, d);
	}
	for (int s = 0; s < 3 && t < n; s++) {
		unsigned count = t + 1 + (unsigned)tly_rng_uniform(rng, n - t);
		random_subset(rng, n, count, xs);
		expect_reconstructs(shares, xs, count, t, secret, d);
	}
	rows_free(shares, n);
}

Test(shamir, lagrange_known_answers)
{
	uint64_t two[2], three[3];

	cr_assert_eq(tly_shamir_lagrange_at_zero((uint64_t[]){1, 2}, 2, two), TLY_OK);
	cr_assert_eq(two[0], 2);
	cr_assert_eq(two[1], P - 1);
	cr_assert_eq(tly_shamir_lagrange_at_zero((uint64_t[]){1, 2, 3}, 3, three), TLY_OK);
	cr_assert_eq(three[0], 3);
	cr_assert_eq(three[1], P - 3);
	cr_assert_eq(three[2], 1);
	cr_assert_eq(tly_shamir_lagrange_at_zero((uint64_t[]){7}, 1, two), TLY_OK);
	cr_assert_eq(two[0], 1);
}

/* For distinct points, sum_i l_i x_i^k is 1 for k = 0 and 0 for
 * 1 <= k < count: the coefficients interpolate every polynomial of degree
 * < count. Points anywhere in [1, p), including the top. */
Test(shamir, lagrange_interpolates_monomials)
{
	struct tly_rng rng;
	uint64_t xs[40], coeffs[40];

	tly_rng_init_seeded_u64(&rng, 11);
	for (int trial = 0; trial < 50; trial++) {
		size_t count = 1 + (size_t)tly_rng_uniform(&rng, 40);
		for (size_t i = 0; i < count; i++)
			xs[i] = 1 + tly_rng_uniform(&rng, P - 1);
		if (trial == 0)
			xs[0] = P - 1;
		cr_assert_eq(tly_shamir_lagrange_at_zero(xs, count, coeffs), TLY_OK);
		for (size_t k = 0; k < count; k++) {
			uint64_t sum = 0;
			for (size_t i = 0; i < count; i++)
				sum = tly_field_add(
				    sum, tly_field_mul(coeffs[i], tly_field_pow(xs[i], k)));
			cr_assert_eq(sum, k == 0 ? 1 : 0, "count=%zu k=%zu", count, k);
		}
	}
	tly_rng_fini(&rng);
}

Test(shamir, round_trip_random_parameters)
{
	struct tly_rng rng;
	uint64_t secret[48];

	tly_rng_init_seeded_u64(&rng, 1);
	for (int trial = 0; trial < 60; trial++) {
		unsigned n = 1 + (unsigned)tly_rng_uniform(&rng, 100);
		unsigned t = 1 + (unsigned)tly_rng_uniform(&rng, n);
		size_t d = (size_t)tly_rng_uniform(&rng, 48);
		random_secret(&rng, secret, d);
		round_trip(&rng, t, n, d, secret, 40);
	}
	tly_rng_fini(&rng);
}

Test(shamir, round_trip_edges_of_t)
{
	struct tly_rng rng;
	uint64_t secret[5];

	tly_rng_init_seeded_u64(&rng, 2);
	random_secret(&rng, secret, 5);
	for (unsigned n = 1; n <= 100; n += 9) {
		round_trip(&rng, 1, n, 5, secret, 10);
		round_trip(&rng, n, n, 5, secret, 10);
		if (n >= 2)
			round_trip(&rng, n - 1, n, 5, secret, 10);
	}
	tly_rng_fini(&rng);
}

/* t = 1: no secrecy, every share is the secret. */
Test(shamir, threshold_one_copies)
{
	struct tly_rng rng;
	uint64_t secret[3] = {0, 1, P - 1};
	uint64_t **shares = rows_alloc(4, 3);

	tly_rng_init_seeded_u64(&rng, 3);
	cr_assert_eq(tly_shamir_share(&rng, secret, 3, 1, 4, shares), TLY_OK);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(memcmp(shares[i], secret, sizeof secret), 0);
	rows_free(shares, 4);
	tly_rng_fini(&rng);
}

Test(shamir, round_trip_at_the_cap)
{
	struct tly_rng rng;
	uint64_t secret[3];

	tly_rng_init_seeded_u64(&rng, 4);
	random_secret(&rng, secret, 3);
	round_trip(&rng, CAP, CAP, 3, secret, 2);
	round_trip(&rng, 2, CAP, 3, secret, 20);
	round_trip(&rng, CAP / 2, CAP, 3, secret, 3);
	tly_rng_fini(&rng);
}

Test(shamir, round_trip_extreme_secrets)
{
	struct tly_rng rng;
	uint64_t zeros[600] = {0}, tops[600];

	for (size_t i = 0; i < 600; i++)
		tops[i] = P - 1;
	tly_rng_init_seeded_u64(&rng, 5);
	for (unsigned t = 1; t <= 9; t += 2) {
		round_trip(&rng, t, 9, 600, zeros, 10);
		round_trip(&rng, t, 9, 600, tops, 10);
	}
	tly_rng_fini(&rng);
}

/* d = 0 writes nothing and draws nothing. */
Test(shamir, empty_vector)
{
	struct tly_rng rng, fresh;
	uint64_t *shares[3] = {NULL, NULL, NULL};
	uint64_t xs[2] = {1, 3};

	tly_rng_init_seeded_u64(&rng, 6);
	tly_rng_init_seeded_u64(&fresh, 6);
	cr_assert_eq(tly_shamir_share(&rng, NULL, 0, 2, 3, shares), TLY_OK);
	cr_assert_eq(tly_rng_u64(&rng), tly_rng_u64(&fresh));
	cr_assert_eq(tly_shamir_reconstruct(xs, (const uint64_t *const *)shares, 2, 2, 0, NULL),
	             TLY_OK);
	tly_rng_fini(&rng);
	tly_rng_fini(&fresh);
}

Test(shamir, single_element)
{
	struct tly_rng rng;
	uint64_t secret[1];

	tly_rng_init_seeded_u64(&rng, 7);
	for (int trial = 0; trial < 20; trial++) {
		random_secret(&rng, secret, 1);
		round_trip(&rng, 1 + (unsigned)trial % 7, 7, 1, secret, 20);
	}
	tly_rng_fini(&rng);
}

/* Large d, not a multiple of any block width; every 3-subset of 5. */
Test(shamir, large_vector_every_subset)
{
	enum { D = 100003 };
	struct tly_rng rng;
	uint64_t *secret = malloc(D * sizeof *secret);
	uint64_t **shares = rows_alloc(5, D);

	cr_assert_not_null(secret);
	tly_rng_init_seeded_u64(&rng, 8);
	random_secret(&rng, secret, D);
	cr_assert_eq(tly_shamir_share(&rng, secret, D, 3, 5, shares), TLY_OK);
	for (uint64_t a = 1; a <= 5; a++)
		for (uint64_t b = a + 1; b <= 5; b++)
			for (uint64_t c = b + 1; c <= 5; c++)
				expect_reconstructs(shares, (uint64_t[]){c, a, b}, 3, 3, secret, D);
	rows_free(shares, 5);
	free(secret);
	tly_rng_fini(&rng);
}

/*
 * White-box known answers: with d = 1, the t - 1 coefficients are the
 * rng's next t - 1 field elements, a_1 first, so share i is
 * s + a_1 x + ... + a_{t-1} x^{t-1} at x = i + 1, which a reference
 * evaluation with tly_field_mul can check. s = p - a_1 makes s + a_1 * 1
 * exactly p before reduction: the share at x = 1 of a t = 2 sharing is 0.
 */
Test(shamir, known_answer_polynomial)
{
	struct tly_rng rng, copy;
	uint64_t coeffs[6], secret[1];
	uint64_t **shares = rows_alloc(9, 1);

	for (unsigned t = 1; t <= 7; t++) {
		tly_rng_init_seeded_u64(&rng, 20 + t);
		tly_rng_init_seeded_u64(&copy, 20 + t);
		tly_rng_field(&copy, coeffs, t - 1);
		secret[0] = t == 2 ? P - coeffs[0] : tly_rng_uniform(&copy, P);
		cr_assert_eq(tly_shamir_share(&rng, secret, 1, t, 9, shares), TLY_OK);
		for (uint64_t x = 1; x <= 9; x++) {
			uint64_t expected = secret[0];
			for (unsigned c = 1; c < t; c++)
				expected = tly_field_add(
				    expected, tly_field_mul(coeffs[c - 1], tly_field_pow(x, c)));
			cr_assert_eq(shares[x - 1][0], expected, "t=%u x=%lu", t, (unsigned long)x);
		}
		if (t == 2)
			cr_assert_eq(shares[0][0], 0);
		tly_rng_fini(&rng);
		tly_rng_fini(&copy);
	}
	rows_free(shares, 9);
}

/* Two sharings of the same secret under different rng states differ. */
Test(shamir, fresh_coefficients)
{
	struct tly_rng rng;
	uint64_t secret[4] = {1, 2, 3, 4};
	uint64_t **first = rows_alloc(3, 4), **second = rows_alloc(3, 4);

	tly_rng_init_seeded_u64(&rng, 9);
	cr_assert_eq(tly_shamir_share(&rng, secret, 4, 2, 3, first), TLY_OK);
	cr_assert_eq(tly_shamir_share(&rng, secret, 4, 2, 3, second), TLY_OK);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_neq(memcmp(first[i], second[i], 4 * sizeof(uint64_t)), 0);
	rows_free(first, 3);
	rows_free(second, 3);
	tly_rng_fini(&rng);
}

/* combine against tly_field_mul on the values where the 32-bit pieces
 * carry most: 0, 1, 2^32 +- 1, 2^60, p - 1, and random ones. */
Test(shamir, combine_matches_reference)
{
	static const uint64_t edges[] = {0,
	                                 1,
	                                 2,
	                                 UINT64_C(0xFFFFFFFF),
	                                 UINT64_C(0x100000000),
	                                 UINT64_C(0x100000001),
	                                 UINT64_C(1) << 60,
	                                 P - 2,
	                                 P - 1,
	                                 UINT64_C(0x1FFFFFFF00000000),
	                                 UINT64_C(0x00000000FFFFFFFF) | (UINT64_C(1) << 60)};
	enum { E = sizeof edges / sizeof edges[0], D = 1000 };
	struct tly_rng rng;
	uint64_t **shares = rows_alloc(E, D);
	uint64_t coeffs[E], out[D];

	tly_rng_init_seeded_u64(&rng, 10);
	for (int trial = 0; trial < 4; trial++) {
		for (size_t i = 0; i < E; i++) {
			coeffs[i] = trial == 0 ? edges[i] : edges[(i + (size_t)trial) % E];
			if (trial == 3)
				coeffs[i] = tly_rng_uniform(&rng, P);
			for (size_t k = 0; k < D; k++)
				shares[i][k] =
				    k < E * E ? edges[(k + i) % E] : tly_rng_uniform(&rng, P);
		}
		for (size_t count = 0; count <= E; count++) {
			cr_assert_eq(tly_shamir_combine(coeffs, (const uint64_t *const *)shares,
			                                count, D, out),
			             TLY_OK);
			for (size_t k = 0; k < D; k++) {
				uint64_t expected = 0;
				for (size_t i = 0; i < count; i++)
					expected = tly_field_add(
					    expected, tly_field_mul(coeffs[i], shares[i][k]));
				cr_assert_eq(out[k], expected, "count=%zu k=%zu", count, k);
			}
		}
	}
	rows_free(shares, E);
	tly_rng_fini(&rng);
}

Test(shamir, secret_round_trip)
{
	struct tly_rng rng;
	uint8_t secret[TLY_SHAMIR_SECRET_BYTES], out[TLY_SHAMIR_SECRET_BYTES];
	uint8_t *shares[100];
	const uint8_t *picked[100];
	uint64_t xs[100];

	for (unsigned i = 0; i < 100; i++) {
		shares[i] = malloc(TLY_SHAMIR_SECRET_SHARE_BYTES);
		cr_assert_not_null(shares[i]);
	}
	tly_rng_init_seeded_u64(&rng, 12);
	for (int trial = 0; trial < 200; trial++) {
		unsigned n = 1 + (unsigned)tly_rng_uniform(&rng, 100);
		unsigned t = 1 + (unsigned)tly_rng_uniform(&rng, n);
		if (trial % 3 == 0)
			memset(secret, 0, sizeof secret);
		else if (trial % 3 == 1)
			memset(secret, 0xff, sizeof secret);
		else
			tly_rng_bytes(&rng, secret, sizeof secret);
		cr_assert_eq(tly_shamir_secret_share(&rng, secret, t, n, shares), TLY_OK);
		for (unsigned i = 0; i < n; i++) {
			uint64_t words[TLY_SHAMIR_SECRET_CHUNKS];
			cr_assert_eq(tly_field_vec_load(words, shares[i], TLY_SHAMIR_SECRET_CHUNKS),
			             TLY_OK);
		}
		for (int s = 0; s < 10; s++) {
			unsigned count = t + (unsigned)tly_rng_uniform(&rng, n - t + 1);
			random_subset(&rng, n, count, xs);
			for (unsigned i = 0; i < count; i++)
				picked[i] = shares[xs[i] - 1];
			memset(out, 0xa5, sizeof out);
			cr_assert_eq(tly_shamir_secret_reconstruct(xs, picked, count, t, out),
			             TLY_OK);
			cr_assert_eq(memcmp(out, secret, sizeof secret), 0, "t=%u n=%u", t, n);
		}
	}
	for (unsigned i = 0; i < 100; i++)
		free(shares[i]);
	tly_rng_fini(&rng);
}

/* One set of coefficients, many secrets (the SecAgg unmasking pattern). */
Test(shamir, secret_combine_cached_coefficients)
{
	struct tly_rng rng;
	uint8_t secret[TLY_SHAMIR_SECRET_BYTES], out[TLY_SHAMIR_SECRET_BYTES];
	uint8_t bytes[7][TLY_SHAMIR_SECRET_SHARE_BYTES];
	uint8_t *shares[7];
	const uint8_t *picked[4];
	uint64_t xs[4] = {6, 2, 7, 3}, coeffs[4];

	for (unsigned i = 0; i < 7; i++)
		shares[i] = bytes[i];
	tly_rng_init_seeded_u64(&rng, 30);
	cr_assert_eq(tly_shamir_lagrange_at_zero(xs, 4, coeffs), TLY_OK);
	for (int trial = 0; trial < 20; trial++) {
		tly_rng_bytes(&rng, secret, sizeof secret);
		cr_assert_eq(tly_shamir_secret_share(&rng, secret, 4, 7, shares), TLY_OK);
		for (unsigned i = 0; i < 4; i++)
			picked[i] = shares[xs[i] - 1];
		cr_assert_eq(tly_shamir_secret_combine(coeffs, picked, 4, out), TLY_OK);
		cr_assert_eq(memcmp(out, secret, sizeof secret), 0);
	}
	tly_rng_fini(&rng);
}

Test(shamir, secret_combine_bad_coefficient_aborts, .signal = SIGABRT)
{
	uint8_t share[TLY_SHAMIR_SECRET_SHARE_BYTES] = {0}, out[TLY_SHAMIR_SECRET_BYTES];
	const uint8_t *shares[1] = {share};

	cr_assert_eq(tly_shamir_secret_combine((uint64_t[]){P}, shares, 1, out), TLY_OK);
}

/* t = 1 shares are the chunk encoding itself: 7-byte big-endian chunks,
 * the last one 4 bytes. */
Test(shamir, secret_chunk_layout)
{
	struct tly_rng rng;
	uint8_t secret[TLY_SHAMIR_SECRET_BYTES], share[TLY_SHAMIR_SECRET_SHARE_BYTES];
	uint8_t *shares[1] = {share};
	uint64_t words[TLY_SHAMIR_SECRET_CHUNKS];

	for (unsigned i = 0; i < sizeof secret; i++)
		secret[i] = (uint8_t)(i + 1);
	tly_rng_init_seeded_u64(&rng, 13);
	cr_assert_eq(tly_shamir_secret_share(&rng, secret, 1, 1, shares), TLY_OK);
	cr_assert_eq(tly_field_vec_load(words, share, TLY_SHAMIR_SECRET_CHUNKS), TLY_OK);
	cr_assert_eq(words[0], UINT64_C(0x01020304050607));
	cr_assert_eq(words[1], UINT64_C(0x08090a0b0c0d0e));
	cr_assert_eq(words[3], UINT64_C(0x161718191a1b1c));
	cr_assert_eq(words[4], UINT64_C(0x1d1e1f20));
	tly_rng_fini(&rng);
}

Test(shamir, too_few_shares)
{
	struct tly_rng rng;
	uint64_t secret[2] = {5, 6}, out[2] = {77, 77};
	uint64_t **shares = rows_alloc(5, 2);
	uint8_t bytes[5][TLY_SHAMIR_SECRET_SHARE_BYTES], key[TLY_SHAMIR_SECRET_BYTES] = {1};
	uint8_t *byte_shares[5] = {bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]};
	uint8_t key_out[TLY_SHAMIR_SECRET_BYTES] = {0};

	tly_rng_init_seeded_u64(&rng, 14);
	cr_assert_eq(tly_shamir_share(&rng, secret, 2, 3, 5, shares), TLY_OK);
	cr_assert_eq(tly_shamir_reconstruct((uint64_t[]){1, 2}, (const uint64_t *const *)shares, 2,
	                                    3, 2, out),
	             TLY_ETOOFEW);
	cr_assert_eq(out[0], 77, "out untouched");
	cr_assert_eq(tly_shamir_secret_share(&rng, key, 3, 5, byte_shares), TLY_OK);
	cr_assert_eq(tly_shamir_secret_reconstruct(
	                 (uint64_t[]){4, 5}, (const uint8_t *const *)byte_shares, 2, 3, key_out),
	             TLY_ETOOFEW);
	cr_assert_eq(key_out[0], 0, "out untouched");
	rows_free(shares, 5);
	tly_rng_fini(&rng);
}

Test(shamir, duplicate_index)
{
	uint64_t zero[1] = {0}, out[1] = {77}, coeffs[3];
	const uint64_t *shares[4] = {zero, zero, zero, zero};

	cr_assert_eq(tly_shamir_reconstruct((uint64_t[]){1, 2, 1}, shares, 3, 3, 1, out), TLY_EDUP);
	/* A duplicate among the shares beyond the first t is still refused. */
	cr_assert_eq(tly_shamir_reconstruct((uint64_t[]){1, 2, 3, 2}, shares, 4, 2, 1, out),
	             TLY_EDUP);
	cr_assert_eq(out[0], 77);
	cr_assert_eq(tly_shamir_lagrange_at_zero((uint64_t[]){P - 1, 5, P - 1}, 3, coeffs),
	             TLY_EDUP);
}

Test(shamir, index_out_of_range)
{
	uint64_t zero[1] = {0}, out[1] = {77}, coeffs[2] = {9, 9};
	const uint64_t *shares[2] = {zero, zero};
	uint8_t bytes[TLY_SHAMIR_SECRET_SHARE_BYTES] = {0};
	const uint8_t *byte_shares[2] = {bytes, bytes};
	uint8_t key_out[TLY_SHAMIR_SECRET_BYTES] = {0};

	cr_assert_eq(tly_shamir_reconstruct((uint64_t[]){0, 2}, shares, 2, 2, 1, out), TLY_ERANGE);
	cr_assert_eq(tly_shamir_reconstruct((uint64_t[]){1, CAP + 1}, shares, 2, 2, 1, out),
	             TLY_ERANGE);
	cr_assert_eq(tly_shamir_reconstruct((uint64_t[]){1, P}, shares, 2, 2, 1, out), TLY_ERANGE);
	cr_assert_eq(tly_shamir_reconstruct((uint64_t[]){1, UINT64_MAX}, shares, 2, 2, 1, out),
	             TLY_ERANGE);
	/* Range is checked before duplicates. */
	cr_assert_eq(tly_shamir_reconstruct((uint64_t[]){1, 1, 0}, shares, 3, 2, 1, out),
	             TLY_ERANGE);
	cr_assert_eq(out[0], 77);
	cr_assert_eq(tly_shamir_secret_reconstruct((uint64_t[]){0, 1}, byte_shares, 2, 2, key_out),
	             TLY_ERANGE);
	cr_assert_eq(tly_shamir_lagrange_at_zero((uint64_t[]){0, 2}, 2, coeffs), TLY_ERANGE);
	cr_assert_eq(tly_shamir_lagrange_at_zero((uint64_t[]){1, P}, 2, coeffs), TLY_ERANGE);
	cr_assert_eq(tly_shamir_lagrange_at_zero((uint64_t[]){UINT64_MAX, 2}, 2, coeffs),
	             TLY_ERANGE);
	cr_assert_eq(coeffs[0], 9, "coeffs untouched");
	cr_assert_eq(tly_shamir_lagrange_at_zero((uint64_t[]){1}, 0, coeffs), TLY_EINVAL);
}

/* A used share with an element >= p: refused, and out wiped to zeros. An
 * unused one is never read. */
Test(shamir, share_element_out_of_field)
{
	struct tly_rng rng;
	enum { D = 1500 };
	uint64_t secret[D], out[D];
	uint64_t **shares = rows_alloc(3, D);
	uint64_t xs[3] = {1, 2, 3};

	tly_rng_init_seeded_u64(&rng, 15);
	random_secret(&rng, secret, D);
	cr_assert_eq(tly_shamir_share(&rng, secret, D, 2, 3, shares), TLY_OK);
	shares[1][D - 1] = P;
	memset(out, 0x5a, sizeof out);
	cr_assert_eq(tly_shamir_reconstruct(xs, (const uint64_t *const *)shares, 3, 2, D, out),
	             TLY_ERANGE);
	for (size_t k = 0; k < D; k++)
		cr_assert_eq(out[k], 0);
	shares[1][D - 1] = UINT64_MAX;
	cr_assert_eq(tly_shamir_reconstruct(xs, (const uint64_t *const *)shares, 3, 2, D, out),
	             TLY_ERANGE);
	/* Share 2 is third here, beyond t = 2. */
	cr_assert_eq(tly_shamir_reconstruct(
	                 (uint64_t[]){1, 3, 2},
	                 (const uint64_t *const *)(uint64_t *[]){shares[0], shares[2], shares[1]},
	                 3, 2, D, out),
	             TLY_OK);
	cr_assert_eq(memcmp(out, secret, sizeof secret), 0);
	rows_free(shares, 3);
	tly_rng_fini(&rng);
}

/* Shamir has no integrity: a changed share reconstructs, silently, to a
 * different vector. */
Test(shamir, tampered_share_changes_result)
{
	struct tly_rng rng;
	uint64_t secret[8], out[8];
	uint64_t **shares = rows_alloc(5, 8);
	uint64_t xs[3] = {1, 4, 5};

	tly_rng_init_seeded_u64(&rng, 16);
	random_secret(&rng, secret, 8);
	cr_assert_eq(tly_shamir_share(&rng, secret, 8, 3, 5, shares), TLY_OK);
	shares[3][2] = tly_field_add(shares[3][2], 1);
	cr_assert_eq(tly_shamir_reconstruct(
	                 xs,
	                 (const uint64_t *const *)(uint64_t *[]){shares[0], shares[3], shares[4]},
	                 3, 3, 8, out),
	             TLY_OK);
	cr_assert_neq(out[2], secret[2]);
	out[2] = secret[2];
	cr_assert_eq(memcmp(out, secret, sizeof secret), 0, "only the tampered element moves");
	rows_free(shares, 5);
	tly_rng_fini(&rng);
}

/* 32-byte path: a word >= p is TLY_ERANGE; a random word usually makes a
 * chunk too wide (TLY_EFORMAT); a share shifted by exactly 1/l_i moves the
 * secret by one and passes unnoticed. out untouched on errors. */
Test(shamir, secret_corrupt_shares)
{
	struct tly_rng rng;
	uint8_t secret[TLY_SHAMIR_SECRET_BYTES], out[TLY_SHAMIR_SECRET_BYTES];
	uint8_t bytes[4][TLY_SHAMIR_SECRET_SHARE_BYTES];
	uint8_t *shares[4] = {bytes[0], bytes[1], bytes[2], bytes[3]};
	uint64_t xs[2] = {2, 3}, lambdas[2], words[TLY_SHAMIR_SECRET_CHUNKS], inverse;
	const uint8_t *picked[2] = {bytes[1], bytes[2]};
	uint8_t saved[TLY_SHAMIR_SECRET_SHARE_BYTES];

	tly_rng_init_seeded_u64(&rng, 17);
	tly_rng_bytes(&rng, secret, sizeof secret);
	secret[31] &= 0x7f; /* so that +1 stays inside the last chunk */
	cr_assert_eq(tly_shamir_secret_share(&rng, secret, 2, 4, shares), TLY_OK);
	memcpy(saved, bytes[2], sizeof saved);

	memset(out, 0, sizeof out);
	memset(bytes[2] + 8, 0xff, 8);
	cr_assert_eq(tly_shamir_secret_reconstruct(xs, picked, 2, 2, out), TLY_ERANGE);
	cr_assert_eq(out[0] | out[31], 0, "out untouched");

	memcpy(bytes[2], saved, sizeof saved);
	cr_assert_eq(tly_field_vec_load(words, bytes[2], TLY_SHAMIR_SECRET_CHUNKS), TLY_OK);
	words[4] = tly_field_add(words[4], UINT64_C(0x123456789abcdef));
	tly_field_vec_store(bytes[2], words, TLY_SHAMIR_SECRET_CHUNKS);
	cr_assert_eq(tly_shamir_secret_reconstruct(xs, picked, 2, 2, out), TLY_EFORMAT);
	cr_assert_eq(out[0] | out[31], 0, "out untouched");

	/* Chunks one bit too wide: +2^56 on a 7-byte chunk, +2^32 on the last. */
	cr_assert_eq(tly_shamir_lagrange_at_zero(xs, 2, lambdas), TLY_OK);
	cr_assert_eq(tly_field_inv(lambdas[1], &inverse), TLY_OK);
	for (unsigned c = 0; c < TLY_SHAMIR_SECRET_CHUNKS; c++) {
		unsigned shift = c + 1 < TLY_SHAMIR_SECRET_CHUNKS ? 56 : 32;
		memcpy(bytes[2], saved, sizeof saved);
		cr_assert_eq(tly_field_vec_load(words, bytes[2], TLY_SHAMIR_SECRET_CHUNKS), TLY_OK);
		words[c] = tly_field_add(words[c], tly_field_mul(inverse, UINT64_C(1) << shift));
		tly_field_vec_store(bytes[2], words, TLY_SHAMIR_SECRET_CHUNKS);
		cr_assert_eq(tly_shamir_secret_reconstruct(xs, picked, 2, 2, out), TLY_EFORMAT,
		             "chunk %u", c);
	}

	memcpy(bytes[2], saved, sizeof saved);
	cr_assert_eq(tly_field_vec_load(words, bytes[2], TLY_SHAMIR_SECRET_CHUNKS), TLY_OK);
	words[4] = tly_field_add(words[4], inverse);
	tly_field_vec_store(bytes[2], words, TLY_SHAMIR_SECRET_CHUNKS);
	cr_assert_eq(tly_shamir_secret_reconstruct(xs, picked, 2, 2, out), TLY_OK);
	cr_assert_eq(memcmp(out, secret, 31), 0);
	cr_assert_eq(out[31], (uint8_t)(secret[31] + 1), "shifted by one, undetected");
	tly_rng_fini(&rng);
}

/* secret_combine notes a word >= p instead of stopping at it (make
 * ctgrind): TLY_ERANGE must still win over TLY_EFORMAT, wherever the bad
 * word is, and out must stay untouched. */
Test(shamir, secret_range_error_wins_over_format)
{
	struct tly_rng rng;
	uint8_t secret[TLY_SHAMIR_SECRET_BYTES], out[TLY_SHAMIR_SECRET_BYTES];
	uint8_t bytes[3][TLY_SHAMIR_SECRET_SHARE_BYTES];
	uint8_t *shares[3] = {bytes[0], bytes[1], bytes[2]};
	uint64_t xs[2] = {1, 3};
	const uint8_t *picked[2] = {bytes[0], bytes[2]};
	uint8_t saved[TLY_SHAMIR_SECRET_SHARE_BYTES];

	tly_rng_init_seeded_u64(&rng, 23);
	tly_rng_bytes(&rng, secret, sizeof secret);
	cr_assert_eq(tly_shamir_secret_share(&rng, secret, 2, 3, shares), TLY_OK);
	memcpy(saved, bytes[2], sizeof saved);
	for (unsigned c = 0; c < TLY_SHAMIR_SECRET_CHUNKS; c++) {
		memcpy(bytes[2], saved, sizeof saved);
		bytes[2][0] ^= 0x01;               /* chunk 0 corrupt: EFORMAT on its own */
		memset(bytes[2] + 8 * c, 0xff, 8); /* and a word >= p in chunk c */
		memset(out, 0x5a, sizeof out);
		cr_assert_eq(tly_shamir_secret_reconstruct(xs, picked, 2, 2, out), TLY_ERANGE,
		             "chunk %u", c);
		for (size_t i = 0; i < sizeof out; i++)
			cr_assert_eq(out[i], 0x5a, "out untouched");
	}
	memcpy(bytes[2], saved, sizeof saved);
	cr_assert_eq(tly_shamir_secret_reconstruct(xs, picked, 2, 2, out), TLY_OK);
	cr_assert_arr_eq(out, secret, sizeof out);
	tly_rng_fini(&rng);
}

Test(shamir, invalid_threshold)
{
	struct tly_rng rng;
	uint64_t secret[1] = {1}, out[1];
	uint64_t **shares = rows_alloc(CAP + 1, 1);
	uint8_t key[TLY_SHAMIR_SECRET_BYTES] = {0};
	uint8_t *byte_shares[1] = {NULL};

	tly_rng_init_seeded_u64(&rng, 18);
	cr_assert_eq(tly_shamir_share(&rng, secret, 1, 0, 3, shares), TLY_EINVAL);
	cr_assert_eq(tly_shamir_share(&rng, secret, 1, 4, 3, shares), TLY_EINVAL);
	cr_assert_eq(tly_shamir_share(&rng, secret, 1, 0, 0, shares), TLY_EINVAL);
	cr_assert_eq(tly_shamir_share(&rng, secret, 1, 2, CAP + 1, shares), TLY_EINVAL);
	cr_assert_eq(tly_shamir_secret_share(&rng, key, 0, 1, byte_shares), TLY_EINVAL);
	cr_assert_eq(tly_shamir_secret_share(&rng, key, 2, 1, byte_shares), TLY_EINVAL);
	cr_assert_eq(tly_shamir_secret_share(&rng, key, 1, CAP + 1, byte_shares), TLY_EINVAL);
	cr_assert_eq(
	    tly_shamir_reconstruct((uint64_t[]){1}, (const uint64_t *const *)shares, 1, 0, 1, out),
	    TLY_EINVAL);
	cr_assert_eq(tly_shamir_reconstruct((uint64_t[]){1}, (const uint64_t *const *)shares, 1,
	                                    CAP + 1, 1, out),
	             TLY_EINVAL);
	cr_assert_eq(tly_shamir_secret_reconstruct((uint64_t[]){1}, NULL, 1, 0, key), TLY_EINVAL);
	rows_free(shares, CAP + 1);
	tly_rng_fini(&rng);
}

Test(shamir, secret_element_out_of_field_aborts, .signal = SIGABRT)
{
	struct tly_rng rng;
	uint64_t secret[2] = {1, P};
	uint64_t **shares = rows_alloc(3, 2);

	tly_rng_init_seeded_u64(&rng, 19);
	cr_assert_eq(tly_shamir_share(&rng, secret, 2, 2, 3, shares), TLY_OK);
}

Test(shamir, coefficient_out_of_field_aborts, .signal = SIGABRT)
{
	uint64_t v[1] = {1}, out[1];
	const uint64_t *shares[1] = {v};

	cr_assert_eq(tly_shamir_combine((uint64_t[]){P}, shares, 1, 1, out), TLY_OK);
}

Test(shamir, unseeded_rng_aborts, .signal = SIGABRT)
{
	struct tly_rng rng;
	uint64_t secret[1] = {1};
	uint64_t **shares = rows_alloc(3, 1);

	memset(&rng, 0, sizeof rng);
	cr_assert_eq(tly_shamir_share(&rng, secret, 1, 2, 3, shares), TLY_OK);
}

/*
 * Secrecy: t - 1 shares are uniform whatever the secret. Chi-square of the
 * joint top 4 bits of `used` share coordinates (x = 1, 2, ...) against the
 * uniform law on 256 cells; df = 255, critical value 330.5 at alpha = 0.001.
 */
enum { STAT_D = 1 << 17, STAT_CELLS = 256 };
static const double chi2_critical = 330.5;

static double
share_chi_square(uint64_t seed, uint64_t value, unsigned t, unsigned n, unsigned used)
{
	struct tly_rng rng;
	uint64_t *secret = malloc(STAT_D * sizeof *secret);
	uint64_t **shares = rows_alloc(n, STAT_D);
	double counts[STAT_CELLS] = {0}, chi2 = 0;
	unsigned bits = 8 / used;

	cr_assert_not_null(secret);
	for (size_t k = 0; k < STAT_D; k++)
		secret[k] = value;
	tly_rng_init_seeded_u64(&rng, seed);
	cr_assert_eq(tly_shamir_share(&rng, secret, STAT_D, t, n, shares), TLY_OK);
	for (size_t k = 0; k < STAT_D; k++) {
		unsigned cell = 0;
		for (unsigned i = 0; i < used; i++)
			cell = (cell << bits) | (unsigned)(shares[i][k] >> (TLY_FIELD_BITS - bits));
		counts[cell] += 1;
	}
	for (unsigned c = 0; c < STAT_CELLS; c++) {
		double expected = (double)STAT_D / STAT_CELLS;
		chi2 += (counts[c] - expected) * (counts[c] - expected) / expected;
	}
	rows_free(shares, n);
	free(secret);
	tly_rng_fini(&rng);
	return chi2;
}

Test(shamir_stats, fewer_than_t_shares_are_uniform)
{
	static const uint64_t secrets[] = {0, P - 1, 12345};

	for (size_t s = 0; s < 3; s++) {
		double one = share_chi_square(100 + s, secrets[s], 2, 3, 1);
		double two = share_chi_square(200 + s, secrets[s], 3, 5, 2);
		double four = share_chi_square(300 + s, secrets[s], 5, 5, 4);
		cr_assert_lt(one, chi2_critical, "t=2, 1 share, chi2=%f", one);
		cr_assert_lt(two, chi2_critical, "t=3, 2 shares, chi2=%f", two);
		cr_assert_lt(four, chi2_critical, "t=5, 4 shares, chi2=%f", four);
	}
}

/* The same test has the power to see t shares: with t = 2, the pair
 * (f(1), f(2)) = (s + a, s + 2a) is far from uniform. */
Test(shamir_stats, t_shares_are_detected)
{
	double chi2 = share_chi_square(400, 0, 2, 3, 2);

	cr_assert_gt(chi2, 10 * chi2_critical, "chi2=%f", chi2);
}
