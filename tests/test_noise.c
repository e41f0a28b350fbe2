/*
 * Distributed noise for a query (query/noise.h): calibration known
 * answers and refusals, the Skellam condition checked against an
 * independent exact formulation, apply's edges, and describe's figures.
 *
 * Statistical suite (name contains "stats", left out under valgrind): n
 * contributors, each with its own seeded rng, run tly_noise_apply on zero
 * cells; the decoded field sum of their outputs is the noise of a released
 * total. Over CELLS cells it must pass Pearson's chi-square against the
 * exact pmf of the target total (p > FIT_P), match tly_noise_describe's
 * variance within TOLERANCE standard errors, and cover [-k, k], k =
 * ci95_half_width, with the pmf's exact probability (itself >= 0.95, and
 * < 0.95 for k - 1) within TOLERANCE standard errors. The same totals must
 * fail chi-square (p < POWER_P) and the variance check against the
 * distribution with its parameter 10% off. The pmfs here are computed in
 * this file, from the negative binomial and Poisson recurrences and a
 * direct convolution, not by crypto/dp_quantile.c.
 */
#include <criterion/criterion.h>
#include <gmp.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/dp.h"
#include "crypto/field.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "query/noise.h"
#include "stats.h"

enum { CELLS = 1000000 };

#define FIT_P      1e-4
#define POWER_P    1e-6
#define TOLERANCE  5.0
#define NEGLIGIBLE 1e-22L /* tail weight left out of a pmf window */

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(noise, .init = setup);
TestSuite(noise_stats, .init = setup, .timeout = 120);

static struct tly_query
query(uint8_t mechanism, uint64_t privacy_num, uint64_t privacy_den, uint32_t min_honest,
      uint64_t l1, uint64_t l2sq)
{
	struct tly_query q;

	memset(&q, 0, sizeof q);
	q.protocol = TLY_PROTOCOL_COMMITTEE;
	q.mechanism = mechanism;
	q.cells = 1;
	q.privacy_num = privacy_num;
	q.privacy_den = privacy_den;
	q.sensitivity_l1 = l1;
	q.sensitivity_l2sq = l2sq;
	q.min_honest = min_honest;
	return q;
}

static struct tly_noise_params
calibrated(uint8_t mechanism, uint64_t privacy_num, uint64_t privacy_den, uint32_t min_honest,
           uint64_t l1, uint64_t l2sq)
{
	struct tly_query q = query(mechanism, privacy_num, privacy_den, min_honest, l1, l2sq);
	struct tly_noise_params p;

	cr_assert_eq(tly_noise_calibrate(&q, &p), TLY_OK);
	return p;
}

/* calibrate must fail with `expected` and leave *out as it was. */
static void
assert_refused(const struct tly_query *q, tly_err expected)
{
	struct tly_noise_params p, before;

	memset(&p, 0xa5, sizeof p);
	before = p;
	cr_assert_eq(tly_noise_calibrate(q, &p), expected, "mechanism %u: %d", q->mechanism,
	             (int)expected);
	cr_assert_eq(memcmp(&p, &before, sizeof p), 0, "nothing written on failure");
}

/* ---- calibration: LAPLACE ---- */

static void
assert_laplace(uint64_t num, uint64_t den, uint64_t l1, uint64_t s, uint64_t t)
{
	struct tly_noise_params p = calibrated(TLY_MECH_LAPLACE, num, den, 3, l1, 0);

	cr_assert_eq(p.mechanism, TLY_MECH_LAPLACE);
	cr_assert_eq(p.h, 3);
	cr_assert(p.scale_s == s && p.scale_t == t, "%lu/%lu, Delta %lu: got %lu/%lu want %lu/%lu",
	          num, den, l1, p.scale_s, p.scale_t, s, t);
	cr_assert_eq(p.mu_num, 0);
	cr_assert_eq(p.mu_den, 0);
}

Test(noise, laplace_known_answer)
{
	struct tly_noise_params p = calibrated(TLY_MECH_LAPLACE, 1, 2, 3, 3, 0);

	cr_assert_eq(p.scale_s, 1);
	cr_assert_eq(p.scale_t, 6);
	cr_assert_eq(p.privacy_num, 1);
	cr_assert_eq(p.privacy_den, 2);
}

Test(noise, laplace_reduced)
{
	assert_laplace(4, 6, 2, 1, 3);
	assert_laplace(10, 4, 5, 1, 2);
	assert_laplace(6, 1, 4, 3, 2);
	assert_laplace(UINT64_C(1) << 40, UINT64_C(1) << 41, UINT64_C(1) << 18, 1,
	               UINT64_C(1) << 19);
	assert_laplace(UINT64_MAX, UINT64_MAX, 1, 1, 1);
	/* 3 2^60 / 2^62 over 3 2^10: den Delta would pass 2^64 unreduced. */
	assert_laplace(UINT64_C(3) << 60, UINT64_C(1) << 62, 3 << 10, 1, 4096);
	/* The scale cap, exactly. */
	assert_laplace(1, TLY_DP_POLYA_MAX_SCALE, 1, 1, TLY_DP_POLYA_MAX_SCALE);

	struct tly_noise_params p = calibrated(TLY_MECH_LAPLACE, 6, 4, 3, 1, 0);
	cr_assert(p.privacy_num == 3 && p.privacy_den == 2, "epsilon kept in lowest terms");
}

Test(noise, laplace_out_of_range)
{
	struct tly_query q = query(TLY_MECH_LAPLACE, 1, UINT64_MAX, 3, 2, 0);
	assert_refused(&q, TLY_ERANGE); /* den Delta passes 2^64 */
	q = query(TLY_MECH_LAPLACE, 1, UINT64_C(1) << 63, 3, 2, 0);
	assert_refused(&q, TLY_ERANGE);
	q = query(TLY_MECH_LAPLACE, 1, TLY_DP_POLYA_MAX_SCALE + 1, 3, 1, 0);
	assert_refused(&q, TLY_ERANGE); /* past the Polya sampler's cap */
	q = query(TLY_MECH_LAPLACE, 1, 1000, 3, 1001, 0);
	assert_refused(&q, TLY_ERANGE);
}

Test(noise, invalid_queries)
{
	static const uint8_t mechanisms[] = {TLY_MECH_LAPLACE, TLY_MECH_SKELLAM};

	for (size_t i = 0; i < sizeof mechanisms; i++) {
		uint8_t m = mechanisms[i];
		struct tly_query q = query(m, 1, 0, 3, 1, 1);
		assert_refused(&q, TLY_EINVAL); /* den 0 */
		q = query(m, 0, 1, 3, 1, 1);
		assert_refused(&q, TLY_EINVAL); /* epsilon or rho 0 */
		q = query(m, 1, 1, 0, 1, 1);
		assert_refused(&q, TLY_EINVAL); /* min_honest 0 */
		q = query(m, 1, 1, 3, 0, 1);
		assert_refused(&q, TLY_EINVAL); /* L1 sensitivity 0 */
	}
	struct tly_query q = query(TLY_MECH_SKELLAM, 1, 1, 3, 1, 0);
	assert_refused(&q, TLY_EINVAL); /* L2 sensitivity 0 */
	q = query(3, 1, 1, 3, 1, 1);
	assert_refused(&q, TLY_EINVAL); /* unknown mechanism */
	q = query(TLY_MECH_NONE, 0, 0, 0, 0, 0);
	assert_refused(&q, TLY_EINVAL);
}

Test(noise, none)
{
	struct tly_noise_params p = calibrated(TLY_MECH_NONE, 0, 0, 4, 0, 0);

	cr_assert_eq(p.mechanism, TLY_MECH_NONE);
	cr_assert_eq(p.h, 4);
	cr_assert(p.scale_s == 0 && p.scale_t == 0 && p.mu_num == 0 && p.mu_den == 0);
	cr_assert(p.privacy_num == 0 && p.privacy_den == 0);
}

/* ---- calibration: SKELLAM ---- */

/*
 * The Skellam RDP bound (Agarwal, Kairouz, Liu 2021, Theorem 3.5, for
 * noise of variance 2 mu) gives rho-zCDP iff, for all u = 1/alpha in
 * [0, 1], D2/(4 mu) + min(F(u), G(u)) <= rho with F(u) = (2 D2 + (6 D1 -
 * D2) u)/(16 mu^2), G(u) = 3 D1 u/(4 mu). Formulated here differently from
 * noise.c: with slack = rho - D2/(4 mu), the bound fails iff some u in
 * [0, 1] has both F(u) > slack and G(u) > slack. G(u) > slack exactly for
 * u > g0 = slack / (3 D1 / (4 mu)), so it fails iff g0 < 1 and the linear F
 * exceeds slack somewhere on (g0, 1], i.e. at u = 1 or just after g0.
 */
static int
bound_holds(uint64_t mu_num, uint64_t mu_den, uint64_t rho_num, uint64_t rho_den, uint64_t l1,
            uint64_t l2sq)
{
	mpq_t mu, slack, term, g0, f;
	int holds;

	mpq_inits(mu, slack, term, g0, f, NULL);
	mpq_set_ui(mu, mu_num, mu_den);
	mpq_canonicalize(mu);
	mpq_set_ui(slack, rho_num, rho_den);
	mpq_canonicalize(slack);
	/* slack = rho - D2 / (4 mu) */
	mpq_set_ui(term, l2sq, 4);
	mpq_canonicalize(term);
	mpq_div(term, term, mu);
	mpq_sub(slack, slack, term);
	if (mpq_sgn(slack) < 0) {
		holds = 0;
		goto out;
	}
	/* g0 = slack 4 mu / (3 D1) */
	mpq_set_ui(term, 4, 3 * l1);
	mpq_canonicalize(term);
	mpq_mul(g0, slack, term);
	mpq_mul(g0, g0, mu);
	mpq_set_ui(term, 1, 1);
	if (mpq_cmp(g0, term) >= 0) {
		holds = 1;
		goto out;
	}
	/* F(u) 16 mu^2 = 2 D2 + (6 D1 - D2) u at u = 1 and u = g0 */
	holds = 1;
	for (int end = 0; end < 2; end++) {
		mpq_set_si(f, (long)(6 * l1) - (long)l2sq, 1);
		if (end == 0)
			mpq_mul(f, f, g0);
		mpq_set_ui(term, 2 * l2sq, 1);
		mpq_add(f, f, term);
		mpq_div(f, f, mu);
		mpq_div(f, f, mu);
		mpq_set_ui(term, 1, 16);
		mpq_mul(f, f, term);
		if (mpq_cmp(f, slack) > 0)
			holds = 0;
	}
out:
	mpq_clears(mu, slack, term, g0, f, NULL);
	return holds;
}

/* The calibrated mu, as m/TLY_NOISE_MU_GRID. */
static uint64_t
skellam_grid_point(const struct tly_noise_params *p)
{
	cr_assert_eq(TLY_NOISE_MU_GRID % p->mu_den, 0);
	return p->mu_num * (TLY_NOISE_MU_GRID / p->mu_den);
}

static void
assert_skellam_tight(uint64_t rho_num, uint64_t rho_den, uint32_t h, uint64_t l1, uint64_t l2sq)
{
	struct tly_noise_params p = calibrated(TLY_MECH_SKELLAM, rho_num, rho_den, h, l1, l2sq);
	uint64_t m = skellam_grid_point(&p);

	cr_assert_eq(p.h, h);
	cr_assert(bound_holds(m, TLY_NOISE_MU_GRID, rho_num, rho_den, l1, l2sq),
	          "rho %lu/%lu D1 %lu D2 %lu: mu = %lu/1000 meets the bound", rho_num, rho_den, l1,
	          l2sq, m);
	if (m > 1)
		cr_assert(!bound_holds(m - 1, TLY_NOISE_MU_GRID, rho_num, rho_den, l1, l2sq),
		          "rho %lu/%lu D1 %lu D2 %lu: mu - 1/1000 = %lu/1000 must not", rho_num,
		          rho_den, l1, l2sq, m - 1);
}

Test(noise, skellam_known_answers)
{
	/* From an independent Python calculation with exact fractions. */
	struct tly_noise_params p = calibrated(TLY_MECH_SKELLAM, 1, 2, 3, 1, 1);
	cr_assert(p.mu_num == 1219 && p.mu_den == 1000, "rho 1/2: mu %lu/%lu", p.mu_num, p.mu_den);
	cr_assert(p.privacy_num == 1 && p.privacy_den == 2);
	p = calibrated(TLY_MECH_SKELLAM, 1, 1, 3, 1, 1);
	cr_assert(p.mu_num == 799 && p.mu_den == 1000);
	p = calibrated(TLY_MECH_SKELLAM, 1, 100, 3, 1, 1);
	cr_assert(p.mu_num == 26643 && p.mu_den == 1000);
	p = calibrated(TLY_MECH_SKELLAM, 1, 10, 3, 3, 3);
	cr_assert(p.mu_num == 1793 && p.mu_den == 200, "reduced: %lu/%lu", p.mu_num, p.mu_den);
	p = calibrated(TLY_MECH_SKELLAM, 2, 1, 3, 1, 1);
	cr_assert(p.mu_num == 1 && p.mu_den == 2);
	p = calibrated(TLY_MECH_SKELLAM, 10, 1, 3, 1, 1);
	cr_assert(p.mu_num == 1 && p.mu_den == 10); /* the 3 D1/(4 mu) branch: mu = 1/rho */
}

Test(noise, skellam_smallest_grid_point)
{
	static const uint64_t rhos[][2] = {{1, 1000}, {1, 100}, {1, 10}, {1, 2},   {1, 1},
	                                   {2, 1},    {10, 1},  {7, 3},  {1000, 1}};
	static const uint64_t sens[][2] = {{1, 1}, {2, 2}, {3, 3},  {2, 4},
	                                   {5, 5}, {1, 9}, {10, 20}};

	for (size_t i = 0; i < sizeof rhos / sizeof rhos[0]; i++)
		for (size_t j = 0; j < sizeof sens / sizeof sens[0]; j++)
			assert_skellam_tight(rhos[i][0], rhos[i][1], 3, sens[j][0], sens[j][1]);
	/* Huge rho: the smallest grid point itself. */
	struct tly_noise_params p = calibrated(TLY_MECH_SKELLAM, UINT64_MAX, 1, 3, 1, 1);
	cr_assert(p.mu_num == 1 && p.mu_den == TLY_NOISE_MU_GRID);
	/* Large rationals go through GMP without overflow. */
	assert_skellam_tight(UINT64_MAX - 1, UINT64_MAX, 1000000, UINT64_C(1) << 40,
	                     UINT64_C(1) << 41);
}

Test(noise, skellam_mu_falls_as_rho_grows)
{
	static const uint64_t rhos[][2] = {{1, 1000}, {1, 100}, {1, 10}, {1, 4},
	                                   {1, 2},    {1, 1},   {2, 1},  {5, 1}};
	uint64_t previous = UINT64_MAX;

	for (size_t i = 0; i < sizeof rhos / sizeof rhos[0]; i++) {
		struct tly_noise_params p =
		    calibrated(TLY_MECH_SKELLAM, rhos[i][0], rhos[i][1], 3, 1, 1);
		uint64_t m = skellam_grid_point(&p);
		cr_assert_lt(m, previous, "rho %lu/%lu", rhos[i][0], rhos[i][1]);
		previous = m;
	}
}

/*
 * The Gaussian mechanism with rho-zCDP has variance D2/(2 rho). The
 * Skellam's variance 2 mu approaches it from above as mu grows (the
 * bound's leading term is the Gaussian's): 2 mu / (D2/(2 rho)) is 1.0070
 * at rho = 1/1000 and 1.0657 at 1/100, but 1.47 at 1/10 and 2.44 at 1/2
 * (D1 = D2 = 1), where the bound's discretisation term dominates.
 */
Test(noise, skellam_approaches_gaussian)
{
	static const struct {
		uint64_t rho_den;
		double low, high;
	} cases[] = {{1000000, 1.0, 1.0001},
	             {1000, 1.0, 1.01},
	             {100, 1.05, 1.07},
	             {10, 1.4, 1.5},
	             {2, 2.4, 2.5}};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tly_noise_params p =
		    calibrated(TLY_MECH_SKELLAM, 1, cases[i].rho_den, 1, 1, 1);
		double variance = 2.0 * (double)p.mu_num / (double)p.mu_den;
		double gaussian = (double)cases[i].rho_den / 2.0;
		double r = variance / gaussian;
		cr_assert(r >= cases[i].low && r <= cases[i].high, "rho 1/%lu: ratio %f",
		          cases[i].rho_den, r);
	}
}

Test(noise, skellam_out_of_range)
{
	/* mu/h past TLY_DP_POISSON_MAX: rho = 10^-9 needs mu of about 2.5 10^8. */
	struct tly_query q = query(TLY_MECH_SKELLAM, 1, 1000000000, 3, 1, 1);
	assert_refused(&q, TLY_ERANGE);
	/* The same mu is within reach when split among 300 shares. */
	q = query(TLY_MECH_SKELLAM, 1, 1000000000, 300, 1, 1);
	struct tly_noise_params p;
	cr_assert_eq(tly_noise_calibrate(&q, &p), TLY_OK);
	cr_assert_leq(p.mu_num, p.mu_den * TLY_DP_POISSON_MAX * 300);
	q = query(TLY_MECH_SKELLAM, 1, UINT64_MAX, UINT32_MAX, UINT64_MAX, UINT64_MAX);
	assert_refused(&q, TLY_ERANGE);
}

/* ---- apply ---- */

Test(noise, none_encodes_cells_exactly)
{
	struct tly_noise_params p = calibrated(TLY_MECH_NONE, 0, 0, 3, 0, 0);
	const int64_t cells[] = {0,
	                         1,
	                         -1,
	                         42,
	                         -1000000,
	                         (int64_t)TLY_FIELD_HALF,
	                         -(int64_t)TLY_FIELD_HALF,
	                         123456789012345};
	enum { D = sizeof cells / sizeof cells[0] };
	uint64_t out[D], want;
	struct tly_rng rng;

	tly_rng_init_seeded_u64(&rng, 1);
	cr_assert_eq(tly_noise_apply(&rng, &p, cells, D, out), TLY_OK);
	for (size_t i = 0; i < D; i++) {
		cr_assert_eq(tly_field_encode_signed(cells[i], &want), TLY_OK);
		cr_assert_eq(out[i], want, "cell %zu", i);
	}
	tly_rng_fini(&rng);
}

/* apply must fail with TLY_ERANGE and leave out all zeros. */
static void
assert_apply_range(const struct tly_noise_params *p, const int64_t *cells, size_t d)
{
	uint64_t out[64];
	struct tly_rng rng;

	cr_assert_leq(d, 64);
	memset(out, 0xa5, sizeof out);
	tly_rng_init_seeded_u64(&rng, 2);
	cr_assert_eq(tly_noise_apply(&rng, p, cells, d, out), TLY_ERANGE);
	for (size_t i = 0; i < d; i++)
		cr_assert_eq(out[i], 0, "out wiped on failure");
	tly_rng_fini(&rng);
}

Test(noise, apply_range_edges)
{
	struct tly_noise_params params[] = {
	    calibrated(TLY_MECH_NONE, 0, 0, 3, 0, 0),
	    calibrated(TLY_MECH_LAPLACE, 1, 1, 3, 1, 0),
	    calibrated(TLY_MECH_SKELLAM, 1, 2, 3, 1, 1),
	};
	const int64_t top[] = {5, INT64_MAX};
	const int64_t bottom[] = {-5, 7, INT64_MIN};
	const int64_t above[] = {(int64_t)TLY_FIELD_HALF + 1};
	const int64_t below[] = {-(int64_t)TLY_FIELD_HALF - 1};
	int64_t edge[64];

	for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
		assert_apply_range(&params[i], top, 2);
		assert_apply_range(&params[i], bottom, 3);
	}
	assert_apply_range(&params[0], above, 1);
	assert_apply_range(&params[0], below, 1);
	/* Cells at +HALF: the first positive share pushes one past it. */
	for (size_t i = 0; i < 64; i++)
		edge[i] = (int64_t)TLY_FIELD_HALF;
	assert_apply_range(&params[1], edge, 64);
	assert_apply_range(&params[2], edge, 64);
	for (size_t i = 0; i < 64; i++)
		edge[i] = -(int64_t)TLY_FIELD_HALF;
	assert_apply_range(&params[1], edge, 64);
	assert_apply_range(&params[2], edge, 64);
}

/* The noise does not depend on the cells: the same seed gives outputs that
 * differ by exactly the cells. */
Test(noise, apply_adds_cells)
{
	struct tly_noise_params params[] = {
	    calibrated(TLY_MECH_LAPLACE, 1, 2, 3, 1, 0),
	    calibrated(TLY_MECH_SKELLAM, 1, 10, 3, 2, 2),
	};
	enum { D = 1000 };
	int64_t cells[D], zeros[D] = {0};
	uint64_t noisy[D], noise[D];
	int nonzero = 0;

	for (size_t i = 0; i < D; i++)
		cells[i] = (int64_t)(i * 7919 % 2001) - 1000;
	for (size_t j = 0; j < 2; j++) {
		struct tly_rng a, b;
		tly_rng_init_seeded_u64(&a, 10 + j);
		tly_rng_init_seeded_u64(&b, 10 + j);
		cr_assert_eq(tly_noise_apply(&a, &params[j], cells, D, noisy), TLY_OK);
		cr_assert_eq(tly_noise_apply(&b, &params[j], zeros, D, noise), TLY_OK);
		for (size_t i = 0; i < D; i++) {
			int64_t n = tly_field_decode_signed(noise[i]);
			cr_assert_eq(tly_field_decode_signed(noisy[i]) - n, cells[i]);
			nonzero += n != 0;
		}
		tly_rng_fini(&a);
		tly_rng_fini(&b);
	}
	cr_assert_gt(nonzero, D / 2, "noise was added");
}

Test(noise, apply_refuses_bad_params)
{
	struct tly_noise_params good = calibrated(TLY_MECH_LAPLACE, 1, 1, 3, 1, 0);
	struct tly_noise_params skellam = calibrated(TLY_MECH_SKELLAM, 1, 2, 3, 1, 1);
	struct tly_noise_params p;
	const int64_t cells[2] = {1, 2};
	uint64_t out[2] = {7, 7};
	struct tly_rng rng;

	tly_rng_init_seeded_u64(&rng, 3);
	p = good;
	p.h = 0;
	cr_assert_eq(tly_noise_apply(&rng, &p, cells, 2, out), TLY_EINVAL);
	cr_assert(out[0] == 0 && out[1] == 0, "out wiped");
	p = good;
	p.scale_s = 0;
	cr_assert_eq(tly_noise_apply(&rng, &p, cells, 2, out), TLY_EINVAL);
	p = good;
	p.scale_t = TLY_DP_POLYA_MAX_SCALE + 1;
	cr_assert_eq(tly_noise_apply(&rng, &p, cells, 2, out), TLY_ERANGE);
	p = good;
	p.mechanism = 9;
	cr_assert_eq(tly_noise_apply(&rng, &p, cells, 2, out), TLY_EINVAL);
	p = skellam;
	p.mu_den = 0;
	cr_assert_eq(tly_noise_apply(&rng, &p, cells, 2, out), TLY_EINVAL);
	p = skellam;
	p.mu_num = 0;
	cr_assert_eq(tly_noise_apply(&rng, &p, cells, 2, out), TLY_EINVAL);
	p = skellam;
	p.mu_num = TLY_DP_POISSON_MAX * 3 + 1;
	p.mu_den = 1;
	cr_assert_eq(tly_noise_apply(&rng, &p, cells, 2, out), TLY_ERANGE);
	p = skellam;
	p.mu_den = UINT64_MAX;
	p.mu_num = 1;
	cr_assert_eq(tly_noise_apply(&rng, &p, cells, 2, out), TLY_ERANGE); /* mu/h's den */
	cr_assert_eq(tly_noise_apply(&rng, &good, cells, 0, NULL), TLY_OK);
	tly_rng_fini(&rng);
}

Test(noise, apply_null_rng_aborts, .signal = SIGABRT)
{
	struct tly_noise_params p = calibrated(TLY_MECH_NONE, 0, 0, 3, 0, 0);
	int64_t cell = 0;
	uint64_t out;

	tly_err rv = tly_noise_apply(NULL, &p, &cell, 1, &out);
	cr_assert_fail("returned %d", rv);
}

Test(noise, apply_null_cells_aborts, .signal = SIGABRT)
{
	struct tly_noise_params p = calibrated(TLY_MECH_NONE, 0, 0, 3, 0, 0);
	struct tly_rng rng;
	uint64_t out;

	tly_rng_init_seeded_u64(&rng, 1);
	tly_err rv = tly_noise_apply(&rng, &p, NULL, 1, &out);
	cr_assert_fail("returned %d", rv);
}

/* ---- describe ---- */

Test(noise, describe_laplace)
{
	struct tly_noise_params p = calibrated(TLY_MECH_LAPLACE, 1, 1, 3, 1, 0);
	struct tly_noise_info info;
	double alpha = exp(-1.0);
	double target = 2 * alpha / ((1 - alpha) * (1 - alpha));

	cr_assert_eq(tly_noise_describe(&p, 3, &info), TLY_OK);
	cr_assert_float_eq(info.variance, target, 1e-12);
	cr_assert_float_eq(info.target_variance, target, 1e-12);
	cr_assert_float_eq(info.sd, sqrt(target), 1e-12);
	/* P(|X| > k) = 2 alpha^(k+1)/(1 + alpha): 0.0673 at k = 2, 0.0248 at 3. */
	cr_assert_eq(info.ci95_half_width, 3);
	cr_assert_eq(info.dp_epsilon, 1.0);
	cr_assert_eq(info.dp_delta, 0.0);

	cr_assert_eq(tly_noise_describe(&p, 6, &info), TLY_OK);
	cr_assert_float_eq(info.variance, 2 * target, 1e-12);
	cr_assert_float_eq(info.target_variance, target, 1e-12);
	cr_assert_eq(info.dp_epsilon, 1.0, "the guarantee is the target's");
}

Test(noise, describe_skellam)
{
	struct tly_noise_params p = calibrated(TLY_MECH_SKELLAM, 1, 2, 3, 1, 1);
	struct tly_noise_info info;
	double mu = 1.219;
	/* CKS cdp2adp(0.5, 1e-6) = 5.2215344445 (their cdp2adp.py); the old
	 * rho + 2 sqrt(rho ln(1/delta)) gave 5.755 */
	double epsilon = 5.221534444530169;

	cr_assert_eq(tly_noise_describe(&p, 5, &info), TLY_OK);
	cr_assert_float_eq(info.variance, 2 * mu * 5 / 3, 1e-12);
	cr_assert_float_eq(info.sd, sqrt(2 * mu * 5 / 3), 1e-12);
	cr_assert_float_eq(info.target_variance, 2 * mu, 1e-12);
	cr_assert_geq(info.dp_epsilon, epsilon - 1e-12, "rounded up: %.12f", info.dp_epsilon);
	cr_assert_float_eq(info.dp_epsilon, epsilon, 1e-6);
	cr_assert_eq(info.dp_delta, 1e-6);
	cr_assert_gt(info.ci95_half_width, 0);
}

Test(noise, describe_refusals)
{
	struct tly_noise_params p = calibrated(TLY_MECH_SKELLAM, 1, 2, 3, 1, 1);
	struct tly_noise_params none = calibrated(TLY_MECH_NONE, 0, 0, 3, 0, 0);
	struct tly_noise_info info, zero, before;

	memset(&info, 0xa5, sizeof info);
	before = info;
	cr_assert_eq(tly_noise_describe(&p, 2, &info), TLY_EINVAL, "fewer than h shares");
	cr_assert_eq(tly_noise_describe(&p, 0, &info), TLY_EINVAL);
	p.privacy_den = 0;
	cr_assert_eq(tly_noise_describe(&p, 3, &info), TLY_EINVAL);
	p.privacy_den = 2;
	p.mu_den = 0;
	cr_assert_eq(tly_noise_describe(&p, 3, &info), TLY_EINVAL);
	cr_assert_eq(memcmp(&info, &before, sizeof info), 0, "nothing written on failure");

	memset(&zero, 0, sizeof zero);
	cr_assert_eq(tly_noise_describe(&none, 1, &info), TLY_OK);
	cr_assert_eq(memcmp(&info, &zero, sizeof info), 0, "NONE: zeros");
}

/* ---- statistics of the total of n contributors' shares ---- */

/* An exact pmf on [-width, width]. */
struct pmf {
	int64_t width;
	double *p;
};

/* One side's weights w[k], k >= 0, from w[0] and the ratio w[k+1]/w[k] =
 * (k + r)/(k + 1) x (negative binomial NB(r, x)) or x/(k + 1) (Poisson(x),
 * r = 0), up to where the weight left is negligible. */
static long double *
counts(long double r, long double x, long double first, size_t *len)
{
	size_t cap = 64, n = 1;
	long double *w = malloc(cap * sizeof *w);

	cr_assert_not_null(w);
	w[0] = first;
	for (size_t k = 0;; k++) {
		long double step = r > 0 ? ((long double)k + r) / ((long double)k + 1) * x
		                         : x / ((long double)k + 1);
		long double next = w[k] * step;
		if (next < NEGLIGIBLE && step < 0.5L)
			break;
		if (n == cap) {
			cap *= 2;
			w = realloc(w, cap * sizeof *w);
			cr_assert_not_null(w);
		}
		w[n++] = next;
	}
	*len = n;
	return w;
}

/* X = A - A', A and A' independent with weights w: P(X = x) = sum_j
 * w[j + |x|] w[j]. */
static struct pmf
difference(const long double *w, size_t len)
{
	struct pmf out = {.width = (int64_t)len - 1};

	out.p = calloc(2 * len - 1, sizeof *out.p);
	cr_assert_not_null(out.p);
	for (size_t x = 0; x < len; x++) {
		long double sum = 0;
		for (size_t j = 0; j + x < len; j++)
			sum += w[j + x] * w[j];
		out.p[out.width + (int64_t)x] = (double)sum;
		out.p[out.width - (int64_t)x] = (double)sum;
	}
	return out;
}

/* The total of n LAPLACE shares: NB(r, alpha) - NB(r, alpha), r = n/h,
 * alpha = exp(-rate). */
static struct pmf
laplace_total(long double rate, long double r)
{
	size_t len;
	long double alpha = expl(-rate);
	long double *w = counts(r, alpha, powl(1 - alpha, r), &len);
	struct pmf out = difference(w, len);

	free(w);
	return out;
}

/* The total of n SKELLAM shares: Poisson(m) - Poisson(m), m = n mu/h. */
static struct pmf
skellam_total(long double mean)
{
	size_t len;
	long double *w = counts(0, mean, expl(-mean), &len);
	struct pmf out = difference(w, len);

	free(w);
	return out;
}

/* The decoded totals of n contributors' outputs on CELLS zero cells. */
static int64_t *
totals(const struct tly_noise_params *p, unsigned n, uint64_t seed)
{
	int64_t *zeros = calloc(CELLS, sizeof *zeros);
	uint64_t *sum = calloc(CELLS, sizeof *sum);
	uint64_t *out = malloc(CELLS * sizeof *out);
	int64_t *decoded = malloc(CELLS * sizeof *decoded);

	cr_assert(zeros != NULL && sum != NULL && out != NULL && decoded != NULL);
	for (unsigned c = 0; c < n; c++) {
		struct tly_rng rng;
		tly_rng_init_seeded_u64(&rng, seed * 1000 + c);
		cr_assert_eq(tly_noise_apply(&rng, p, zeros, CELLS, out), TLY_OK);
		tly_field_vec_add(sum, out, CELLS);
		tly_rng_fini(&rng);
	}
	cr_assert_eq(tly_field_vec_decode_signed(decoded, sum, CELLS, NULL), TLY_OK);
	free(zeros);
	free(sum);
	free(out);
	return decoded;
}

static double
pmf_mass(const struct pmf *pmf, int64_t k)
{
	double mass = 0;

	for (int64_t x = -k; x <= k; x++)
		if (x >= -pmf->width && x <= pmf->width)
			mass += pmf->p[x + pmf->width];
	return mass;
}

/* Chi-square p-value of the histogram against pmf, and whether the
 * sample variance is within TOLERANCE standard errors of the pmf's. */
static double
fit(const struct stats_hist *hist, const struct pmf *pmf, int *variance_ok)
{
	int64_t lo = hist->lo, hi = hist->hi;
	size_t bins = (size_t)(hi - lo + 1);
	double *prob = calloc(bins, sizeof *prob);
	double mean, variance, fourth;

	cr_assert_not_null(prob);
	for (int64_t x = lo; x <= hi; x++)
		if (x >= -pmf->width && x <= pmf->width)
			prob[x - lo] = pmf->p[x + pmf->width];
	double p_value = stats_chi2(hist, prob, NULL, NULL);
	stats_moments(pmf->p, (size_t)(2 * pmf->width + 1), -pmf->width, &mean, &variance, &fourth);
	*variance_ok = stats_variance_err(hist, variance, variance, fourth) <= TOLERANCE;
	free(prob);
	return p_value;
}

/*
 * The checks of the file's header comment for one mechanism and n
 * contributors: `right` is the exact pmf of the total, `wrong` the same
 * with the parameter 10% off.
 */
static void
check_totals(const struct tly_noise_params *p, unsigned n, uint64_t seed, const struct pmf *right,
             const struct pmf *wrong)
{
	struct tly_noise_info info;
	struct stats_hist hist;
	int64_t *total = totals(p, n, seed);
	int64_t window = right->width > wrong->width ? right->width : wrong->width;
	int variance_ok;

	cr_assert_eq(tly_noise_describe(p, n, &info), TLY_OK);
	stats_hist_init(&hist, -window, window);
	for (size_t i = 0; i < CELLS; i++)
		stats_hist_add(&hist, total[i]);
	free(total);

	double p_right = fit(&hist, right, &variance_ok);
	cr_assert_gt(p_right, FIT_P, "n = %u: chi-square p = %g against the target", n, p_right);
	cr_assert(variance_ok, "n = %u: variance %f", n, stats_hist_variance(&hist));
	double mean, variance, fourth;
	stats_moments(right->p, (size_t)(2 * right->width + 1), -right->width, &mean, &variance,
	              &fourth);
	cr_assert_float_eq(info.variance, variance, 1e-9 * variance, "describe's variance");
	cr_assert_float_eq(info.sd, sqrt(variance), 1e-9 * variance);

	/* ci95: the smallest k with exact coverage >= 0.95, and the empirical
	 * coverage agrees with the exact one. */
	int64_t k = info.ci95_half_width;
	double coverage = pmf_mass(right, k);
	cr_assert_geq(coverage, 0.95, "n = %u: P(|X| <= %ld) = %f", n, k, coverage);
	cr_assert_lt(pmf_mass(right, k - 1), 0.95, "n = %u: k = %ld is the smallest", n, k);
	double seen = 1 - (double)stats_hist_abs_above(&hist, k) / (double)hist.total;
	cr_assert_leq(stats_proportion_err(seen, coverage, (double)hist.total), TOLERANCE,
	              "n = %u: coverage %f vs %f", n, seen, coverage);

	double p_wrong = fit(&hist, wrong, &variance_ok);
	cr_assert_lt(p_wrong, POWER_P, "n = %u: a 10%% wrong parameter passed (p = %g)", n,
	             p_wrong);
	cr_assert(!variance_ok, "n = %u: the variance check cannot tell 10%%", n);
	stats_hist_fini(&hist);
}

static void
laplace_case(uint32_t h, unsigned n, uint64_t seed)
{
	/* epsilon = 1, Delta = 1: alpha = exp(-1). */
	struct tly_noise_params p = calibrated(TLY_MECH_LAPLACE, 1, 1, h, 1, 0);
	long double r = (long double)n / h;
	struct pmf right = laplace_total(1.0L, r);
	struct pmf wrong = laplace_total(1.1L, r);

	check_totals(&p, n, seed, &right, &wrong);
	free(right.p);
	free(wrong.p);
}

static void
skellam_case(uint32_t h, unsigned n, uint64_t seed)
{
	/* rho = 1/2, D1 = D2 = 1: mu = 1.219. */
	struct tly_noise_params p = calibrated(TLY_MECH_SKELLAM, 1, 2, h, 1, 1);
	long double mean = (long double)p.mu_num / p.mu_den * n / h;
	struct pmf right = skellam_total(mean);
	struct pmf wrong = skellam_total(mean * 1.1L);

	check_totals(&p, n, seed, &right, &wrong);
	free(right.p);
	free(wrong.p);
}

Test(noise_stats, laplace_three_of_three)
{
	laplace_case(3, 3, 1);
}

Test(noise_stats, laplace_five_of_three)
{
	laplace_case(3, 5, 2);
}

Test(noise_stats, skellam_three_of_three)
{
	skellam_case(3, 3, 3);
}

Test(noise_stats, skellam_five_of_three)
{
	skellam_case(3, 5, 4);
}

/* ---- cost (issue 12 section 2) ---- */

static uint64_t
work_of(uint8_t mechanism, uint64_t num, uint64_t den, uint32_t h, uint64_t l1, uint64_t l2sq,
        uint32_t cells)
{
	struct tly_query q = query(mechanism, num, den, h, l1, l2sq);
	struct tly_noise_params p;
	uint64_t work;

	q.cells = cells;
	cr_assert_eq(tly_noise_cost(&q, &p, &work), TLY_OK);
	return work;
}

/* The figures of noise.h's derivation, by hand: x = ceil((s + t)/s),
 * proposals ceil(x / floor(x^(1/h))), per NB draw proposals (5 +
 * ceil(15/h)) + x, per cell twice that plus TLY_NOISE_WORK_CELL. */
Test(noise, work_known_answers)
{
	enum { C = TLY_NOISE_WORK_CELL };
	/* epsilon 10^-6, h = 3: x = 1000001, root 100, 10001 proposals. */
	cr_assert_eq(work_of(TLY_MECH_LAPLACE, 1, 1000000, 3, 1, 0, 1),
	             2 * (10001 * (5 + 5) + 1000001) + C);
	/* the 60,000-cell bomb of the issue */
	cr_assert_eq(work_of(TLY_MECH_LAPLACE, 1, 1000000, 3, 1, 0, 60000),
	             UINT64_C(60000) * (2200022 + C));
	/* epsilon 1, h = 3: x = 2, root 1, 2 proposals: 2 (2 10 + 2) */
	cr_assert_eq(work_of(TLY_MECH_LAPLACE, 1, 1, 3, 1, 0, 1), 44 + C);
	/* epsilon 1/10, Delta 2, h = 2: t/s = 20, x = 21, root 4, 6 proposals:
	 * 2 (6 (5 + 8) + 21) */
	cr_assert_eq(work_of(TLY_MECH_LAPLACE, 1, 10, 2, 2, 0, 1), 198 + C);
	/* h = 1 (still the share sampler, r = 1): one proposal, and the
	 * product loop turns up to x times without a draw */
	cr_assert_eq(work_of(TLY_MECH_LAPLACE, 1, 1000000, 1, 1, 0, 7),
	             7 * (2 * (1 * (5 + 15) + 1000001) + C));
	/* no noise: the per-cell constant */
	cr_assert_eq(work_of(TLY_MECH_NONE, 0, 0, 2, 1, 0, 9), 9 * C);
}

Test(noise, work_skellam_counts_poisson_parts)
{
	struct tly_noise_params p = calibrated(TLY_MECH_SKELLAM, 1, 100, 3, 1, 1);
	uint64_t w = work_of(TLY_MECH_SKELLAM, 1, 100, 3, 1, 1, 5);
	/* m = ceil(2 mu / h) with mu = mu_num / mu_den */
	uint64_t m = (2 * p.mu_num + 3 * p.mu_den - 1) / (3 * p.mu_den);
	cr_assert_gt(m, 1);
	cr_assert_eq(w, 5 * (8 * m + TLY_NOISE_WORK_CELL));
}

Test(noise, work_grows_as_epsilon_falls_and_saturates)
{
	uint64_t last = 0;
	for (uint64_t den = 1; den <= 1000000; den *= 10) {
		uint64_t w = work_of(TLY_MECH_LAPLACE, 1, den, 3, 1, 0, 1);
		cr_assert_gt(w, last, "epsilon 1/%lu", den);
		last = w;
	}
	/* a count past 2^64 saturates rather than wrapping */
	struct tly_noise_params p = calibrated(TLY_MECH_LAPLACE, 1, 1000000, 3, 1, 0);
	uint64_t work;
	cr_assert_eq(tly_noise_work(&p, UINT64_MAX / 1000, &work), TLY_OK);
	cr_assert_eq(work, UINT64_MAX);
	/* large h: the root is 1, proposals x */
	cr_assert_eq(work_of(TLY_MECH_LAPLACE, 1, 1000, 1000, 1, 0, 1),
	             2 * (1001 * (5 + 1) + 1001) + TLY_NOISE_WORK_CELL);
}

/* The words both daemons put to a refusal (node/node.c and
 * coordinator/lifecycle.c check_cost), and the work on success. */
Test(noise, cost_why_says_which_limit)
{
	struct tly_query q = query(TLY_MECH_LAPLACE, 1, 1000000000, 3, 1, 0);
	struct tly_noise_params p;
	char why[TLY_NOISE_WHY_BYTES], expect[TLY_NOISE_WHY_BYTES];
	uint64_t work = 42, direct;

	cr_assert_eq(tly_noise_cost_why(&q, &work, why, sizeof why), TLY_ERANGE);
	snprintf(expect, sizeof expect,
	         "the noise this epsilon needs passes the samplers' limits (noise scale above "
	         "%llu, query/noise.h)",
	         (unsigned long long)TLY_DP_POLYA_MAX_SCALE);
	cr_assert_str_eq(why, expect);
	cr_assert_eq(work, 42, "written only on success");
	q = query(TLY_MECH_LAPLACE, 0, 1, 3, 1, 0);
	tly_err rv = tly_noise_cost_why(&q, &work, why, sizeof why);
	cr_assert(rv != TLY_OK && rv != TLY_ERANGE);
	snprintf(expect, sizeof expect, "the noise cannot be calibrated: %s", tly_strerror(rv));
	cr_assert_str_eq(why, expect);
	q = query(TLY_MECH_LAPLACE, 1, 10, 3, 1, 0);
	cr_assert_eq(tly_noise_cost_why(&q, &work, NULL, 0), TLY_OK);
	cr_assert_eq(tly_noise_cost(&q, &p, &direct), TLY_OK);
	cr_assert_eq(work, direct);
}

Test(noise, cost_refuses_what_calibrate_refuses)
{
	struct tly_query q = query(TLY_MECH_LAPLACE, 1, 1000000000, 3, 1, 0);
	struct tly_noise_params p;
	uint64_t work = 42;

	cr_assert_eq(tly_noise_cost(&q, &p, &work), TLY_ERANGE);
	cr_assert_eq(work, 42, "written only on success");
	struct tly_noise_params bad = {
	    .mechanism = TLY_MECH_LAPLACE, .h = 3, .scale_s = 0, .scale_t = 1};
	cr_assert_eq(tly_noise_work(&bad, 1, &work), TLY_EINVAL);
}
