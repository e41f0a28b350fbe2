/*
 * Rates and directly standardised rates (query/rate.h): Wilson's and
 * Byar's limits against values worked out independently (Python, the
 * formulas of OHID's PHEindicatormethods wilson_lower/upper and
 * byars_lower/upper), the monotonicity the corner argument needs, and the
 * coverage of the released intervals by simulation.
 *
 * Coverage (suite rate_stats): TRIALS simulated releases per setting. The
 * truth is a population prevalence p (per band for a dsr); each trial draws
 * the group's counts from it (the sampling view of docs/PRIVACY.md: N ~
 * Binomial(D, p)), adds the real distributed noise (tly_dp_share, n shares
 * of the calibrated parameters), and asks whether the 95% interval holds
 * p (or the standardised p). It must, in at least 95% of trials less
 * COVERAGE_SLACK (3 standard errors of a 95% proportion over TRIALS). The
 * negative controls run the same trials with the noise left out of the
 * interval (half-width 0: the sampling interval of the noisy counts alone)
 * and must fall below 95% - COVERAGE_SLACK, so the check can fail.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "crypto/dp.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "query/rate.h"

enum { TRIALS = 2000 };
#define COVERAGE_SLACK 0.0146

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(rate, .init = setup);
TestSuite(rate_stats, .init = setup, .timeout = 600);

static void
near(double got, double want, double tolerance)
{
	cr_assert(fabs(got - want) <= tolerance, "got %.12g, want %.12g", got, want);
}

Test(rate, wilson_and_byars_known_values)
{
	double z = tly_rate_z(0, TLY_RATE_LEVEL_95);

	near(z, 1.959963984540054, 1e-12);
	near(tly_rate_wilson_lower(65, 100, z), 0.5525444329688797, 1e-12);
	near(tly_rate_wilson_upper(65, 100, z), 0.7363575175690247, 1e-12);
	near(tly_rate_byars_lower(65, z), 50.16318771045943, 1e-9);
	near(tly_rate_byars_upper(65, z), 82.84913854593984, 1e-9);
	cr_assert_eq(tly_rate_wilson_lower(0, 50, z), 0);
	cr_assert_eq(tly_rate_wilson_upper(50, 50, z), 1);
	cr_assert_eq(tly_rate_byars_lower(0, z), 0);
}

/* The corner argument of rate.h: Wilson's limits for N events among N + R
 * rise with N and fall with R. */
Test(rate, wilson_limits_are_monotone_on_the_box)
{
	double z = tly_rate_z(1, TLY_RATE_LEVEL_95);

	for (int n = 0; n < 120; n++)
		for (int r = 0; r < 120; r++) {
			if (n + r == 0)
				continue;
			double lo = tly_rate_wilson_lower(n, n + r, z);
			double hi = tly_rate_wilson_upper(n, n + r, z);
			cr_assert_geq(tly_rate_wilson_lower(n + 1, n + 1 + r, z), lo - 1e-15);
			cr_assert_geq(tly_rate_wilson_upper(n + 1, n + 1 + r, z), hi - 1e-15);
			cr_assert_leq(tly_rate_wilson_lower(n, n + r + 1, z), lo + 1e-15);
			cr_assert_leq(tly_rate_wilson_upper(n, n + r + 1, z), hi + 1e-15);
		}
}

Test(rate, crude_without_noise_is_wilson)
{
	int64_t cells[2] = {65, 35};
	struct tly_rate_figure f;
	double z = tly_rate_z(0, TLY_RATE_LEVEL_95);

	tly_rate_crude(cells, 0, z, 1000, &f);
	cr_assert(f.has_value);
	near(f.value, 650, 1e-9);
	near(f.lo, 552.5444329688797, 1e-9);
	near(f.hi, 736.3575175690247, 1e-9);
	cr_assert_eq(f.numerator, 65);
	cr_assert_eq(f.denominator, 100);
}

Test(rate, crude_after_noise_clamps_and_widens)
{
	int64_t cells[2] = {-3, 40}, empty[2] = {-2, -5};
	struct tly_rate_figure f;

	tly_rate_crude(cells, 5, 2.24, 100, &f);
	cr_assert(f.has_value);
	near(f.value, 0, 1e-12); /* N clamped at 0, so N <= D */
	cr_assert_eq(f.numerator_hi, 2);
	cr_assert_eq(f.denominator_lo, 35);
	cr_assert_gt(f.hi, 100 * tly_rate_wilson_upper(0, 40, 2.24));
	tly_rate_crude(empty, 5, 2.24, 100, &f);
	cr_assert(!f.has_value, "no one in the denominator: no value");
	cr_assert_eq(f.lo, 0);
}

Test(rate, comparisons)
{
	struct tly_rate_figure a = {.has_value = 1, .value = 20, .lo = 10, .hi = 30};
	struct tly_rate_figure ref = {.has_value = 1, .value = 10, .lo = 5, .hi = 20};
	struct tly_rate_figure zero = {.has_value = 1, .value = 4, .lo = 0, .hi = 8};
	double v, lo, hi;

	cr_assert(tly_rate_compare(&a, &ref, TLY_COMPARE_RATIO, &v, &lo, &hi));
	near(v, 2, 1e-12);
	near(lo, 0.5, 1e-12);
	near(hi, 6, 1e-12);
	cr_assert(tly_rate_compare(&a, &ref, TLY_COMPARE_DIFFERENCE, &v, &lo, &hi));
	near(v, 10, 1e-12);
	near(lo, -10, 1e-12);
	near(hi, 25, 1e-12);
	cr_assert(tly_rate_compare(&a, &zero, TLY_COMPARE_RATIO, &v, &lo, &hi));
	cr_assert(isinf(hi));
}

/* ---- coverage ---- */

/* splitmix64: the sampling view's draws (not the noise, which is the
 * real sampler). */
static uint64_t
next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int64_t
binomial(uint64_t *s, int64_t n, double p)
{
	int64_t x = 0;
	for (int64_t i = 0; i < n; i++)
		x += (double)(next(s) >> 11) * 0x1.0p-53 < p;
	return x;
}

struct sim {
	struct tly_noise_params noise;
	struct tly_dp_noise share;
	uint32_t n; /* contributors */
	struct tly_rng rng;
	uint64_t seed;
};

/* Laplace noise for epsilon = num/den, L1 = 1 (rate.h), h = n shares. */
static void
sim_init(struct sim *s, uint64_t eps_num, uint64_t eps_den, uint32_t h, uint32_t n, uint64_t seed)
{
	struct tly_query q;

	memset(s, 0, sizeof *s);
	memset(&q, 0, sizeof q);
	q.mechanism = TLY_MECH_LAPLACE;
	q.privacy_num = eps_num;
	q.privacy_den = eps_den;
	q.sensitivity_l1 = 1;
	q.sensitivity_l2sq = 1;
	q.min_honest = h;
	q.cells = 38;
	cr_assert_eq(tly_noise_calibrate(&q, &s->noise), TLY_OK);
	s->share = (struct tly_dp_noise){.mechanism = TLY_DP_LAPLACE,
	                                 .num = s->noise.scale_s,
	                                 .den = s->noise.scale_t,
	                                 .honest = h,
	                                 .shares = n};
	s->n = n;
	s->seed = seed;
	tly_rng_init_seeded_u64(&s->rng, seed);
}

static int64_t
noisy(struct sim *s, int64_t truth)
{
	int64_t noise;
	for (uint32_t j = 0; j < s->n; j++) {
		cr_assert_eq(tly_dp_share(&s->rng, &s->share, &noise), TLY_OK);
		truth += noise;
	}
	return truth;
}

/* control: where the noise matters, leaving it out must fail. */
static void
expect(double covered, double narrow, const char *what, int control)
{
	cr_log_info("%s: coverage %.4f, without the noise %.4f", what, covered, narrow);
	cr_assert_geq(covered, 0.95 - COVERAGE_SLACK, "%s: coverage %.4f", what, covered);
	if (control)
		cr_assert_lt(narrow, 0.95 - COVERAGE_SLACK,
		             "%s: leaving the noise out should fail the same check (%.4f)", what,
		             narrow);
}

static void
rate_coverage(int64_t d, double p, uint64_t eps_num, uint64_t eps_den, uint64_t seed, int control)
{
	struct sim s;
	int64_t h;
	unsigned covered = 0, narrow = 0;
	double z = tly_rate_z(1, TLY_RATE_LEVEL_95);
	char what[96];

	sim_init(&s, eps_num, eps_den, 3, 3, seed);
	cr_assert_eq(tly_rate_half_width(&s.noise, 3, 2, TLY_RATE_LEVEL_95, &h), TLY_OK);
	for (unsigned t = 0; t < TRIALS; t++) {
		int64_t x = binomial(&s.seed, d, p);
		int64_t cells[2] = {noisy(&s, x), noisy(&s, d - x)};
		struct tly_rate_figure f, g;
		tly_rate_crude(cells, h, z, 1, &f);
		tly_rate_crude(cells, 0, z, 1, &g);
		covered += f.lo <= p && p <= f.hi;
		narrow += g.lo <= p && p <= g.hi;
	}
	snprintf(what, sizeof what, "rate D %lld, p %.3f, epsilon %llu/%llu", (long long)d, p,
	         (unsigned long long)eps_num, (unsigned long long)eps_den);
	expect((double)covered / TRIALS, (double)narrow / TRIALS, what, control);
	tly_rng_fini(&s.rng);
}

/* Range tested: D 100 to 5000, p 0.02 to 0.5, epsilon 0.1 to 1. */
Test(rate_stats, rate_interval_covers)
{
	rate_coverage(100, 0.1, 1, 10, 1, 1);
	rate_coverage(400, 0.02, 1, 5, 2, 1);
	rate_coverage(1000, 0.3, 1, 10, 3, 1);
	rate_coverage(5000, 0.5, 1, 10, 4, 0);
	rate_coverage(200, 0.1, 1, 1, 5, 0);
}

/* A dsr: population per band shaped like a small area (more young than
 * old, a few dozen at 90+), prevalence rising with age. */
static void
dsr_coverage(int64_t scale, double base, uint64_t eps_num, uint64_t eps_den, uint64_t seed,
             int control)
{
	struct sim s;
	int64_t h, pop[TLY_ESP2013_BANDS];
	double p[TLY_ESP2013_BANDS], truth = 0, z = tly_rate_z(1, TLY_RATE_LEVEL_95);
	unsigned covered = 0, narrow = 0;
	char what[96];

	for (size_t k = 0; k < TLY_ESP2013_BANDS; k++) {
		pop[k] = scale * (int64_t)(TLY_ESP2013_BANDS + 1 - k) / 10;
		p[k] = fmin(base * (1 + (double)(k * k) / 20), 0.9);
		truth += tly_esp2013_weights[k] * p[k] / TLY_ESP2013_TOTAL;
	}
	sim_init(&s, eps_num, eps_den, 3, 3, seed);
	cr_assert_eq(tly_rate_half_width(&s.noise, 3, 38, TLY_RATE_LEVEL_95, &h), TLY_OK);
	for (unsigned t = 0; t < TRIALS; t++) {
		int64_t cells[2 * TLY_ESP2013_BANDS];
		struct tly_rate_figure f, g;
		for (size_t k = 0; k < TLY_ESP2013_BANDS; k++) {
			int64_t x = binomial(&s.seed, pop[k], p[k]);
			cells[2 * k] = noisy(&s, x);
			cells[2 * k + 1] = noisy(&s, pop[k] - x);
		}
		tly_rate_dsr(cells, h, z, 1, &f);
		tly_rate_dsr(cells, 0, z, 1, &g);
		covered += f.lo <= truth && truth <= f.hi;
		narrow += g.lo <= truth && truth <= g.hi;
	}
	snprintf(what, sizeof what, "dsr scale %lld, base %.3f, epsilon %llu/%llu",
	         (long long)scale, base, (unsigned long long)eps_num, (unsigned long long)eps_den);
	expect((double)covered / TRIALS, (double)narrow / TRIALS, what, control);
	tly_rng_fini(&s.rng);
}

/* Range tested: bands of 10 to 1000 people (total 110 to 11000 per group),
 * prevalence 0.5% to 90%, epsilon 0.2 to 1. */
Test(rate_stats, dsr_interval_covers)
{
	dsr_coverage(50, 0.01, 1, 5, 11, 1);
	dsr_coverage(200, 0.005, 1, 2, 12, 1);
	dsr_coverage(500, 0.02, 1, 1, 13, 0);
}
