/* The CSPRNG: determinism of the test mode, independence of streams,
 * unbiased bounded draws, fast-key-erasure, and uniformity. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "crypto/field.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(rng, .init = setup);
TestSuite(rng_stats, .init = setup);

Test(rng, seeded_streams_repeat_and_differ)
{
	struct tly_rng a, b, c;
	uint8_t x[3000], y[3000], z[3000];
	tly_rng_init_seeded_u64(&a, 7);
	tly_rng_init_seeded_u64(&b, 7);
	tly_rng_init_seeded_u64(&c, 8);
	/* Different split points give the same stream. */
	tly_rng_bytes(&a, x, 1);
	tly_rng_bytes(&a, x + 1, 2999);
	tly_rng_bytes(&b, y, 2000);
	tly_rng_bytes(&b, y + 2000, 1000);
	tly_rng_bytes(&c, z, sizeof z);
	cr_assert_arr_eq(x, y, sizeof x);
	cr_assert(memcmp(x, z, sizeof x) != 0);
}

Test(rng, system_streams_differ)
{
	struct tly_rng a, b;
	uint8_t x[64], y[64];
	tly_rng_init(&a);
	tly_rng_init(&b);
	tly_rng_bytes(&a, x, sizeof x);
	tly_rng_bytes(&b, y, sizeof y);
	cr_assert(memcmp(x, y, sizeof x) != 0);
	tly_rng_fini(&a);
	tly_rng_fini(&b);
}

Test(rng, output_is_erased_from_state)
{
	struct tly_rng a;
	uint8_t out[100];
	tly_rng_init_seeded_u64(&a, 1);
	tly_rng_bytes(&a, out, sizeof out);
	/* The bytes handed out no longer exist in the state. */
	for (size_t i = 0; i + sizeof out <= sizeof a.buffer; i++)
		cr_assert(memcmp(a.buffer + i, out, sizeof out) != 0);
	cr_assert(memcmp(a.key, out, 16) != 0);
	tly_rng_fini(&a);
	for (size_t i = 0; i < sizeof a.buffer; i++)
		cr_assert_eq(a.buffer[i], 0);
}

Test(rng, uniform_stays_in_bounds)
{
	struct tly_rng a;
	tly_rng_init_seeded_u64(&a, 2);
	const uint64_t bounds[] = {1, 2, 3, 7, 1000, (UINT64_C(1) << 63) + 1, UINT64_MAX};
	for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
		for (int j = 0; j < 2000; j++)
			cr_assert_lt(tly_rng_uniform(&a, bounds[i]), bounds[i]);
	cr_assert_eq(tly_rng_uniform(&a, 1), 0);
}

Test(rng, field_elements_in_range)
{
	struct tly_rng a;
	uint64_t v[5000];
	tly_rng_init_seeded_u64(&a, 3);
	tly_rng_field(&a, v, 5000);
	cr_assert_eq(tly_field_vec_check(v, 5000), TLY_OK);
}

Test(rng, uninitialised_use_aborts, .signal = SIGABRT)
{
	struct tly_rng a;
	uint8_t x;
	memset(&a, 0, sizeof a);
	tly_rng_bytes(&a, &x, 1);
}

Test(rng, zero_bound_aborts, .signal = SIGABRT)
{
	struct tly_rng a;
	tly_rng_init_seeded_u64(&a, 4);
	(void)tly_rng_uniform(&a, 0);
}

/* Chi-square with k-1 = 6 degrees of freedom at 10^6 draws of uniform(7):
 * the 1e-4 upper quantile of chi2(6) is 25.74. A bias of 1% in one cell
 * (the size of a naive `% 7` of a byte) gives a statistic in the hundreds. */
static double
chi2_uniform7(struct tly_rng *rng, int biased)
{
	enum { K = 7, DRAWS = 1000000 };
	long counts[K] = {0};
	for (int i = 0; i < DRAWS; i++) {
		uint64_t x =
		    biased ? (uint64_t)(tly_rng_u64(rng) & 0xff) % K : tly_rng_uniform(rng, K);
		counts[x]++;
	}
	double expected = (double)DRAWS / K, stat = 0;
	for (int i = 0; i < K; i++)
		stat += ((double)counts[i] - expected) * ((double)counts[i] - expected) / expected;
	return stat;
}

Test(rng_stats, uniform_is_unbiased)
{
	struct tly_rng a;
	tly_rng_init_seeded_u64(&a, 5);
	double stat = chi2_uniform7(&a, 0);
	cr_assert_lt(stat, 25.74, "chi2 = %g", stat);
	/* The same test catches the modulo bias of byte % 7 (256 = 36*7 + 4). */
	double biased = chi2_uniform7(&a, 1);
	cr_assert_gt(biased, 25.74, "chi2 = %g", biased);
}

Test(rng_stats, bits_are_balanced)
{
	struct tly_rng a;
	long ones = 0;
	enum { N = 1000000 };
	tly_rng_init_seeded_u64(&a, 6);
	for (int i = 0; i < N; i++)
		ones += tly_rng_bit(&a);
	/* 5 standard deviations of Binomial(10^6, 1/2) is 2500. */
	cr_assert_lt(labs(ones - N / 2), 2500, "ones = %ld", ones);
}
