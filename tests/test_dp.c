/*
 * The exact DP noise samplers (dp.h) and the quantiles and variances of the
 * noise they produce (dp_quantile.h).
 *
 * Statistical suites (names contain "stats", left out under valgrind): each
 * sampler draws 10^6 values at a fixed seed, which must pass Pearson's
 * chi-square against the exact pmf (p > 1e-4, tail bins pooled to at least
 * 5 expected draws), and match its mean, variance and 95% tail mass within 5
 * standard errors. The same draws must then fail (p < 1e-6) against the pmf
 * with the parameter off by 10%, so that every test shows it has the power
 * to catch a wrong sampler. The exact pmfs here are computed independently
 * of dp_quantile.c: from closed forms and lgamma, by direct convolution.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>

#include "crypto/dp.h"
#include "crypto/dp_quantile.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "stats.h"

enum { DRAWS = 1000000 };

#define FIT_P     1e-4 /* the true pmf must not be rejected at this level */
#define POWER_P   1e-6 /* a pmf 10% off must be rejected at this level */
#define TOLERANCE 5.0  /* standard errors */

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(dp, .init = setup);
TestSuite(dp_stats, .init = setup);
TestSuite(dp_quantile, .init = setup);

/* ---- Exact pmfs ---- */

/* p[i] = P(X = lo + i) for i < len. */
struct pmf {
	int64_t lo;
	size_t len;
	double *p;
};

static struct pmf
pmf_new(int64_t lo, int64_t hi)
{
	struct pmf f = {lo, (size_t)(hi - lo + 1), calloc((size_t)(hi - lo + 1), sizeof(double))};
	cr_assert_not_null(f.p);
	return f;
}

static void
pmf_free(struct pmf *f)
{
	free(f->p);
	f->p = NULL;
}

static double
pmf_at(const struct pmf *f, int64_t x)
{
	if (x < f->lo || x >= f->lo + (int64_t)f->len)
		return 0;
	return f->p[x - f->lo];
}

/* P(x) = (1 - a)/(1 + a) a^|x|, a = exp(-rate). */
static struct pmf
laplace_pmf(long double rate, int64_t half)
{
	struct pmf f = pmf_new(-half, half);
	for (int64_t x = -half; x <= half; x++)
		f.p[x + half] = (double)(tanhl(rate / 2) * expl(-rate * (long double)llabs(x)));
	return f;
}

static struct pmf
geometric_pmf(long double rate, int64_t last)
{
	struct pmf f = pmf_new(0, last);
	for (int64_t k = 0; k <= last; k++)
		f.p[k] = (double)(-expm1l(-rate) * expl(-rate * (long double)k));
	return f;
}

/* NB(r, a): Gamma(k + r)/(Gamma(r) k!) (1 - a)^r a^k. */
static struct pmf
polya_pmf(long double r, long double rate, int64_t last)
{
	struct pmf f = pmf_new(0, last);
	for (int64_t k = 0; k <= last; k++) {
		long double lk = (long double)k;
		f.p[k] = (double)expl(lgammal(lk + r) - lgammal(r) - lgammal(lk + 1) +
		                      r * logl(-expm1l(-rate)) - rate * lk);
	}
	return f;
}

static struct pmf
poisson_pmf(long double mu, int64_t last)
{
	struct pmf f = pmf_new(0, last);
	for (int64_t k = 0; k <= last; k++) {
		long double lk = (long double)k;
		f.p[k] = mu == 0 ? (k == 0) : (double)expl(-mu + lk * logl(mu) - lgammal(lk + 1));
	}
	return f;
}

/* N_Z(0, variance) on [-half, half], normalised there (half >= 15 sigma). */
static struct pmf
gauss_pmf(long double variance, int64_t half)
{
	struct pmf f = pmf_new(-half, half);
	long double total = 0;
	for (int64_t x = -half; x <= half; x++)
		total += expl(-(long double)x * (long double)x / (2 * variance));
	for (int64_t x = -half; x <= half; x++)
		f.p[x + half] =
		    (double)(expl(-(long double)x * (long double)x / (2 * variance)) / total);
	return f;
}

static struct pmf
convolve(const struct pmf *a, const struct pmf *b)
{
	struct pmf f = pmf_new(a->lo + b->lo, a->lo + b->lo + (int64_t)(a->len + b->len) - 2);
	for (size_t i = 0; i < a->len; i++)
		for (size_t j = 0; j < b->len; j++)
			f.p[i + j] += a->p[i] * b->p[j];
	return f;
}

/* A - A' for independent A, A' ~ f. */
static struct pmf
difference(const struct pmf *f)
{
	struct pmf mirror = pmf_new(-(f->lo + (int64_t)f->len - 1), -f->lo);
	for (size_t i = 0; i < f->len; i++)
		mirror.p[mirror.len - 1 - i] = f->p[i];
	struct pmf d = convolve(f, &mirror);
	pmf_free(&mirror);
	return d;
}

/* The n-fold convolution of f. */
static struct pmf
convolve_n(const struct pmf *f, int n)
{
	struct pmf sum = convolve(f, f);
	for (int i = 2; i < n; i++) {
		struct pmf next = convolve(&sum, f);
		pmf_free(&sum);
		sum = next;
	}
	return sum;
}

/* The smallest k >= 0 with P(|X| <= k) >= q, by brute force; and
 * P(|X| <= k) for any k. */
static long double
central_mass(const struct pmf *f, int64_t k)
{
	long double mass = 0;
	for (int64_t x = -k; x <= k; x++)
		mass += pmf_at(f, x);
	return mass;
}

static int64_t
brute_quantile(const struct pmf *f, long double q)
{
	int64_t k = 0;
	long double mass = pmf_at(f, 0);
	while (mass < q) {
		k++;
		mass += pmf_at(f, k) + pmf_at(f, -k);
	}
	return k;
}

/* ---- Sampling and the fit ---- */

typedef tly_err (*draw_fn)(struct tly_rng *rng, const uint64_t *arg, int64_t *out);

static void
sample(struct stats_hist *h, const struct pmf *window, draw_fn draw, const uint64_t *arg,
       uint64_t seed, uint64_t draws)
{
	struct tly_rng rng;
	uint64_t failures = 0;

	tly_rng_init_seeded_u64(&rng, seed);
	stats_hist_init(h, window->lo, window->lo + (int64_t)window->len - 1);
	for (uint64_t i = 0; i < draws; i++) {
		int64_t x;
		if (draw(&rng, arg, &x) != TLY_OK)
			failures++;
		else
			stats_hist_add(h, x);
	}
	tly_rng_fini(&rng);
	cr_assert_eq(failures, 0, "%llu draws failed", (unsigned long long)failures);
}

/* The draws fit truth: chi-square, mean, variance and the mass beyond the
 * 95% quantile. */
static void
check_fit(const char *name, const struct stats_hist *h, const struct pmf *truth)
{
	double stat, dof, mean, variance, fourth;
	double n = (double)h->total;
	double p = stats_chi2(h, truth->p, &stat, &dof);

	cr_assert_gt(p, FIT_P, "%s: chi2 = %g on %g dof, p = %g", name, stat, dof, p);
	stats_moments(truth->p, truth->len, truth->lo, &mean, &variance, &fourth);
	cr_assert_lt(stats_mean_err(h, mean, variance), TOLERANCE, "%s: mean %g vs %g", name,
	             stats_hist_mean(h), mean);
	cr_assert_lt(stats_variance_err(h, variance, variance, fourth), TOLERANCE,
	             "%s: variance %g vs %g", name, stats_hist_variance(h), variance);
	int64_t k = brute_quantile(truth, 0.95L);
	double tail = (double)(1 - central_mass(truth, k));
	double seen = (double)stats_hist_abs_above(h, k) / n;
	cr_assert_lt(stats_proportion_err(seen, tail, n), TOLERANCE,
	             "%s: P(|X| > %lld) = %g seen, %g exact", name, (long long)k, seen, tail);
}

/* The same draws must be rejected against a pmf with a parameter 10% off. */
static void
check_power(const char *name, const struct stats_hist *h, const struct pmf *wrong)
{
	double stat, dof;
	cr_assert_eq(wrong->lo, h->lo);
	double p = stats_chi2(h, wrong->p, &stat, &dof);
	cr_assert_lt(p, POWER_P, "%s: wrong pmf not rejected: chi2 = %g on %g dof, p = %g", name,
	             stat, dof, p);
}

typedef struct pmf (*pmf_fn)(long double param, const long double *extra);

/* Draw, fit the pmf at param, and reject it at param * 1.1 and * 0.9. */
static void
fit_and_reject(const char *name, draw_fn draw, const uint64_t *arg, uint64_t seed, pmf_fn make,
               long double param, const long double *extra)
{
	struct stats_hist h;
	struct pmf truth = make(param, extra);
	struct pmf high = make(param * 1.1L, extra);
	struct pmf low = make(param * 0.9L, extra);

	sample(&h, &truth, draw, arg, seed, DRAWS);
	check_fit(name, &h, &truth);
	check_power(name, &h, &high);
	check_power(name, &h, &low);
	stats_hist_fini(&h);
	pmf_free(&low);
	pmf_free(&high);
	pmf_free(&truth);
}

/* ---- Bernoulli ---- */

static tly_err
draw_bernoulli(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	int bit;
	tly_err rv = tly_dp_bernoulli(rng, arg[0], arg[1], &bit);
	*out = bit;
	return rv;
}

static tly_err
draw_bernoulli_exp(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	int bit;
	tly_err rv = tly_dp_bernoulli_exp(rng, arg[0], arg[1], &bit);
	*out = bit;
	return rv;
}

static struct pmf
bit_pmf(long double p, const long double *extra)
{
	(void)extra;
	struct pmf f = pmf_new(0, 1);
	f.p[0] = (double)(1 - p);
	f.p[1] = (double)p;
	return f;
}

/* The chi-square on two bins is the binomial z-test squared; variance and
 * tail checks are meaningless for a bit, so only fit and power here. */
static void
fit_bit(const char *name, draw_fn draw, const uint64_t *arg, uint64_t seed, long double p,
        long double wrong_high, long double wrong_low)
{
	struct stats_hist h;
	struct pmf truth = bit_pmf(p, NULL), high = bit_pmf(wrong_high, NULL);
	struct pmf low = bit_pmf(wrong_low, NULL);
	double stat, dof;

	sample(&h, &truth, draw, arg, seed, DRAWS);
	double fit = stats_chi2(&h, truth.p, &stat, &dof);
	cr_assert_gt(fit, FIT_P, "%s: %llu ones, p = %g", name, (unsigned long long)h.count[1],
	             fit);
	check_power(name, &h, &high);
	check_power(name, &h, &low);
	stats_hist_fini(&h);
	pmf_free(&low);
	pmf_free(&high);
	pmf_free(&truth);
}

Test(dp_stats, bernoulli_rational)
{
	const uint64_t cases[][2] = {
	    {1, 3}, {999, 1000}, {(UINT64_C(1) << 63) + 1, UINT64_MAX}, {7, 100}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long double p = (long double)cases[i][0] / (long double)cases[i][1];
		long double high = p * 1.1L > 1 ? p + (1 - p) / 2 : p * 1.1L;
		fit_bit("bernoulli", draw_bernoulli, cases[i], 100 + i, p, high, p * 0.9L);
	}
}

Test(dp_stats, bernoulli_certain)
{
	struct tly_rng rng;
	uint64_t ones = 0, zeros = 0;
	int bit;

	tly_rng_init_seeded_u64(&rng, 110);
	for (int i = 0; i < 100000; i++) {
		cr_assert_eq(tly_dp_bernoulli(&rng, 5, 5, &bit), TLY_OK);
		ones += (uint64_t)bit;
		cr_assert_eq(tly_dp_bernoulli(&rng, 0, 5, &bit), TLY_OK);
		zeros += (uint64_t)!bit;
	}
	cr_assert_eq(ones, 100000);
	cr_assert_eq(zeros, 100000);
}

/* Algorithm 1 below 1, at 1, above 1 (the floor(gamma) loop), far above,
 * and with a denominator so large that den * K leaves 64 bits. */
Test(dp_stats, bernoulli_exp)
{
	const uint64_t cases[][2] = {{1, 3},
	                             {1, 1},
	                             {5, 2},
	                             {7, 1},
	                             {UINT64_MAX, UINT64_C(1) << 62},
	                             {UINT64_MAX - 1, UINT64_MAX}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long double gamma = (long double)cases[i][0] / (long double)cases[i][1];
		fit_bit("bernoulli_exp", draw_bernoulli_exp, cases[i], 120 + i, expl(-gamma),
		        expl(-gamma * 1.1L), expl(-gamma * 0.9L));
	}
}

Test(dp_stats, bernoulli_exp_zero)
{
	struct tly_rng rng;
	uint64_t ones = 0;
	int bit;

	tly_rng_init_seeded_u64(&rng, 130);
	for (int i = 0; i < DRAWS; i++) {
		cr_assert_eq(tly_dp_bernoulli_exp(&rng, 0, 17, &bit), TLY_OK);
		ones += (uint64_t)bit;
	}
	cr_assert_eq(ones, DRAWS, "exp(-0) = 1 exactly");
}

/* ---- Geometric and discrete Laplace ---- */

static tly_err
draw_geometric(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	uint64_t k;
	tly_err rv = tly_dp_geometric(rng, arg[0], arg[1], &k);
	*out = (int64_t)k;
	return rv;
}

static tly_err
draw_laplace(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	return tly_dp_laplace(rng, arg[0], arg[1], out);
}

/* Windows wide enough that the mass outside is below 10^-12. */
static int64_t
laplace_reach(long double rate)
{
	return (int64_t)ceill(30 / rate) + 5;
}

static struct pmf
make_geometric(long double rate, const long double *extra)
{
	return geometric_pmf(rate, (int64_t)extra[0]);
}

static struct pmf
make_laplace(long double rate, const long double *extra)
{
	return laplace_pmf(rate, (int64_t)extra[0]);
}

static void
fit_laplace_family(int geometric, uint64_t s, uint64_t t, uint64_t seed)
{
	const uint64_t arg[2] = {s, t};
	long double rate = (long double)s / (long double)t;
	const long double reach[1] = {(long double)laplace_reach(rate * 0.9L)};

	if (geometric)
		fit_and_reject("geometric", draw_geometric, arg, seed, make_geometric, rate, reach);
	else
		fit_and_reject("laplace", draw_laplace, arg, seed, make_laplace, rate, reach);
}

Test(dp_stats, geometric_small_scale)
{
	fit_laplace_family(1, 1, 3, 200);
	fit_laplace_family(1, 5, 2, 201);
}

Test(dp_stats, geometric_large_scale)
{
	fit_laplace_family(1, 3, 700, 202);
}

Test(dp_stats, laplace_unit)
{
	fit_laplace_family(0, 1, 1, 210);
}

Test(dp_stats, laplace_scale_10)
{
	fit_laplace_family(0, 1, 10, 211);
}

Test(dp_stats, laplace_scale_667)
{
	fit_laplace_family(0, 3, 2000, 212);
}

Test(dp_stats, laplace_below_one)
{
	fit_laplace_family(0, 7, 3, 213);
}

/* ---- Discrete Gaussian ---- */

static tly_err
draw_gauss(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	return tly_dp_gauss(rng, arg[0], arg[1], out);
}

static int64_t
gauss_reach(long double variance)
{
	return (int64_t)ceill(15 * sqrtl(variance)) + 5;
}

static struct pmf
make_gauss(long double variance, const long double *extra)
{
	return gauss_pmf(variance, (int64_t)extra[0]);
}

static void
fit_gauss(uint64_t num, uint64_t den, uint64_t seed)
{
	const uint64_t arg[2] = {num, den};
	long double variance = (long double)num / (long double)den;
	const long double reach[1] = {(long double)gauss_reach(variance * 1.1L)};

	fit_and_reject("gauss", draw_gauss, arg, seed, make_gauss, variance, reach);
}

Test(dp_stats, gauss_narrow)
{
	fit_gauss(1, 4, 300);
}

Test(dp_stats, gauss_4)
{
	fit_gauss(4, 1, 301);
}

Test(dp_stats, gauss_100_3)
{
	fit_gauss(100, 3, 302);
}

Test(dp_stats, gauss_wide)
{
	fit_gauss(1000000, 1, 303);
}

/* sigma^2 = (3 2^62 + 1)/2^62, about 3: the acceptance exponent overflows
 * 128 bits and goes through GMP. */
Test(dp_stats, gauss_gmp_path)
{
	fit_gauss(UINT64_C(3) << 62 | 1, UINT64_C(1) << 62, 304);
}

/* sigma^2 = (2^62 + 1)/(2^62 - 1), about 1: the exponent's denominator is
 * near 2^127, so Algorithm 1's den * K leaves 128 bits (the two-Bernoulli
 * split) for small candidates and GMP takes the larger ones. */
Test(dp_stats, gauss_128_bit_split)
{
	fit_gauss((UINT64_C(1) << 62) + 1, (UINT64_C(1) << 62) - 1, 305);
}

/* ---- Polya ---- */

static tly_err
draw_polya(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	uint64_t k;
	tly_err rv = tly_dp_polya(rng, arg[0], arg[1], arg[2], arg[3], &k);
	*out = (int64_t)k;
	return rv;
}

/* Sampled once; rejected with r and with the rate each 10% off. */
static void
fit_polya(uint64_t r_num, uint64_t r_den, uint64_t s, uint64_t t, uint64_t seed)
{
	const uint64_t arg[4] = {r_num, r_den, s, t};
	long double r = (long double)r_num / (long double)r_den;
	long double rate = (long double)s / (long double)t;
	int64_t last = laplace_reach(rate * 0.9L) + 20;
	struct pmf truth = polya_pmf(r, rate, last);
	const struct pmf wrong[] = {
	    polya_pmf(r * 1.1L, rate, last), polya_pmf(r * 0.9L, rate, last),
	    polya_pmf(r, rate * 1.1L, last), polya_pmf(r, rate * 0.9L, last)};
	struct stats_hist h;

	sample(&h, &truth, draw_polya, arg, seed, DRAWS);
	check_fit("polya", &h, &truth);
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		check_power("polya", &h, &wrong[i]);
		free(wrong[i].p);
	}
	stats_hist_fini(&h);
	pmf_free(&truth);
}

Test(dp_stats, polya_third)
{
	fit_polya(1, 3, 1, 2, 400);
}

Test(dp_stats, polya_two_fifths_wide)
{
	fit_polya(2, 5, 1, 20, 401);
}

Test(dp_stats, polya_one_is_geometric)
{
	fit_polya(3, 3, 1, 4, 402);
}

/* ---- Distributed discrete Laplace ---- */

/* arg = {s, t, h, n}: the sum of n shares. */
static tly_err
draw_laplace_total(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	int64_t total = 0;
	for (uint64_t i = 0; i < arg[3]; i++) {
		int64_t share;
		tly_err rv = tly_dp_laplace_share(rng, arg[0], arg[1], arg[2], &share);
		if (rv != TLY_OK)
			return rv;
		total += share;
	}
	*out = total;
	return TLY_OK;
}

/* h shares sum to the discrete Laplace of the same s/t exactly. */
static void
fit_laplace_total_exact(uint64_t s, uint64_t t, uint64_t h, uint64_t seed)
{
	const uint64_t arg[4] = {s, t, h, h};
	long double rate = (long double)s / (long double)t;
	const long double reach[1] = {(long double)laplace_reach(rate * 0.9L)};

	fit_and_reject("laplace shares", draw_laplace_total, arg, seed, make_laplace, rate, reach);
}

Test(dp_stats, laplace_shares_h3)
{
	fit_laplace_total_exact(1, 5, 3, 500);
}

Test(dp_stats, laplace_shares_h5)
{
	fit_laplace_total_exact(1, 2, 5, 501);
}

/* n = 5 shares made for h = 3: NB(5/3) - NB(5/3). Rejected against the
 * discrete Laplace (what n = h would give) and against r off by 10%. */
Test(dp_stats, laplace_shares_more_than_h)
{
	const uint64_t arg[4] = {1, 2, 3, 5};
	long double rate = 0.5L, r = 5.0L / 3;
	int64_t last = laplace_reach(rate) + 20;
	struct pmf nb = polya_pmf(r, rate, last), nb_high = polya_pmf(r * 1.1L, rate, last);
	struct pmf truth = difference(&nb), high = difference(&nb_high);
	struct pmf plain = laplace_pmf(rate, last);
	struct stats_hist h;

	sample(&h, &truth, draw_laplace_total, arg, 502, DRAWS);
	check_fit("laplace shares n > h", &h, &truth);
	check_power("laplace shares n > h vs r * 1.1", &h, &high);
	check_power("laplace shares n > h vs n = h", &h, &plain);
	stats_hist_fini(&h);
	pmf_free(&plain);
	pmf_free(&high);
	pmf_free(&truth);
	pmf_free(&nb_high);
	pmf_free(&nb);
}

/* ---- Poisson and Skellam ---- */

static tly_err
draw_poisson(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	uint64_t k;
	tly_err rv = tly_dp_poisson(rng, arg[0], arg[1], &k);
	*out = (int64_t)k;
	return rv;
}

/* arg = {num, den, h, n}: the sum of n Skellam shares. */
static tly_err
draw_skellam_total(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	int64_t total = 0;
	for (uint64_t i = 0; i < arg[3]; i++) {
		int64_t share;
		tly_err rv = arg[2] == 1
		                 ? tly_dp_skellam(rng, arg[0], arg[1], &share)
		                 : tly_dp_skellam_share(rng, arg[0], arg[1], arg[2], &share);
		if (rv != TLY_OK)
			return rv;
		total += share;
	}
	*out = total;
	return TLY_OK;
}

static struct pmf
make_poisson(long double mu, const long double *extra)
{
	return poisson_pmf(mu, (int64_t)extra[0]);
}

static struct pmf
make_skellam(long double mu, const long double *extra)
{
	struct pmf p = poisson_pmf(mu, (int64_t)extra[0]);
	struct pmf d = difference(&p);
	pmf_free(&p);
	return d;
}

static int64_t
poisson_reach(long double mu)
{
	return (int64_t)ceill(mu + 12 * sqrtl(mu) + 30);
}

static void
fit_poisson(uint64_t num, uint64_t den, uint64_t seed)
{
	const uint64_t arg[2] = {num, den};
	long double mu = (long double)num / (long double)den;
	const long double reach[1] = {(long double)poisson_reach(mu * 1.1L)};

	fit_and_reject("poisson", draw_poisson, arg, seed, make_poisson, mu, reach);
}

Test(dp_stats, poisson_small)
{
	fit_poisson(3, 10, 600);
}

Test(dp_stats, poisson_3_7)
{
	fit_poisson(37, 10, 601);
}

Test(dp_stats, poisson_12_5)
{
	fit_poisson(25, 2, 602);
}

Test(dp_stats, poisson_zero)
{
	struct tly_rng rng;
	uint64_t k, nonzero = 0;

	tly_rng_init_seeded_u64(&rng, 603);
	for (int i = 0; i < DRAWS; i++) {
		cr_assert_eq(tly_dp_poisson(&rng, 0, 9, &k), TLY_OK);
		nonzero += k != 0;
	}
	cr_assert_eq(nonzero, 0);
}

/* Skellam(mu) as the total of n shares Skellam(mu/h); n = h = 1 is
 * tly_dp_skellam itself. The total is Skellam(n mu/h). */
static void
fit_skellam_total(uint64_t num, uint64_t den, uint64_t h, uint64_t n, uint64_t seed)
{
	const uint64_t arg[4] = {num, den, h, n};
	long double mu = (long double)num / (long double)den * (long double)n / (long double)h;
	const long double reach[1] = {(long double)poisson_reach(mu * 1.1L)};

	fit_and_reject("skellam", draw_skellam_total, arg, seed, make_skellam, mu, reach);
}

Test(dp_stats, skellam)
{
	fit_skellam_total(37, 10, 1, 1, 610);
}

Test(dp_stats, skellam_shares_h3)
{
	fit_skellam_total(6, 1, 3, 3, 611);
}

Test(dp_stats, skellam_shares_more_than_h)
{
	fit_skellam_total(3, 1, 3, 5, 612);
}

/* ---- Distributed discrete Gaussian ---- */

static tly_err
draw_gauss_total(struct tly_rng *rng, const uint64_t *arg, int64_t *out)
{
	int64_t total = 0;
	for (uint64_t i = 0; i < arg[3]; i++) {
		int64_t share;
		tly_err rv = tly_dp_gauss_share(rng, arg[0], arg[1], arg[2], &share);
		if (rv != TLY_OK)
			return rv;
		total += share;
	}
	*out = total;
	return TLY_OK;
}

/* extra = {n, share reach}: n shares of N_Z(0, variance). */
static struct pmf
make_gauss_total(long double share_variance, const long double *extra)
{
	struct pmf share = gauss_pmf(share_variance, (int64_t)extra[1]);
	struct pmf total = convolve_n(&share, (int)extra[0]);
	pmf_free(&share);
	return total;
}

static void
fit_gauss_total(uint64_t num, uint64_t den, uint64_t h, uint64_t n, uint64_t seed)
{
	const uint64_t arg[4] = {num, den, h, n};
	long double share_variance = (long double)num / (long double)den / (long double)h;
	const long double extra[2] = {(long double)n,
	                              (long double)gauss_reach(share_variance * 1.1L)};

	fit_and_reject("gauss shares", draw_gauss_total, arg, seed, make_gauss_total,
	               share_variance, extra);
}

Test(dp_stats, gauss_shares_h3)
{
	fit_gauss_total(9, 1, 3, 3, 700);
}

Test(dp_stats, gauss_shares_more_than_h)
{
	fit_gauss_total(6, 1, 3, 5, 701);
}

/* ---- Determinism, errors and misuse ---- */

Test(dp, same_seed_same_noise)
{
	struct tly_rng a, b;
	tly_rng_init_seeded_u64(&a, 800);
	tly_rng_init_seeded_u64(&b, 800);
	for (int i = 0; i < 1000; i++) {
		int64_t x, y;
		cr_assert_eq(tly_dp_gauss(&a, 7, 2, &x), TLY_OK);
		cr_assert_eq(tly_dp_gauss(&b, 7, 2, &y), TLY_OK);
		cr_assert_eq(x, y);
	}
}

#define SENTINEL 0x5a5a5a5a

/* Each call must fail with `want` and leave *out alone. */
#define EXPECT_FAIL(want, call, out)                                                               \
	do {                                                                                       \
		(out) = SENTINEL;                                                                  \
		cr_assert_eq((call), (want), "%s", #call);                                         \
		cr_assert_eq((out), SENTINEL, "%s wrote its output", #call);                       \
	} while (0)

Test(dp, invalid_parameters)
{
	struct tly_rng rng;
	int bit;
	uint64_t k;
	int64_t x;
	const uint64_t big = UINT64_C(1) << 63;

	tly_rng_init_seeded_u64(&rng, 801);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_bernoulli(&rng, 1, 0, &bit), bit);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_bernoulli(&rng, 4, 3, &bit), bit);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_bernoulli_exp(&rng, 1, 0, &bit), bit);

	EXPECT_FAIL(TLY_EINVAL, tly_dp_geometric(&rng, 0, 1, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_geometric(&rng, 1, 0, &k), k);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_geometric(&rng, 1, TLY_DP_MAX_SCALE + 1, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_laplace(&rng, 0, 5, &x), x);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_laplace(&rng, 5, 0, &x), x);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_laplace(&rng, 3, 3 * TLY_DP_MAX_SCALE + 1, &x), x);
	cr_assert_eq(tly_dp_laplace(&rng, 3, 3 * TLY_DP_MAX_SCALE, &x), TLY_OK);

	EXPECT_FAIL(TLY_EINVAL, tly_dp_gauss(&rng, 0, 1, &x), x);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_gauss(&rng, 1, 0, &x), x);

	EXPECT_FAIL(TLY_EINVAL, tly_dp_polya(&rng, 0, 1, 1, 1, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_polya(&rng, 1, 0, 1, 1, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_polya(&rng, 3, 2, 1, 1, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_polya(&rng, 1, 2, 0, 1, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_polya(&rng, 1, 2, 1, 0, &k), k);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_polya(&rng, 1, 2, 1, TLY_DP_POLYA_MAX_SCALE + 1, &k), k);

	EXPECT_FAIL(TLY_EINVAL, tly_dp_laplace_share(&rng, 1, 2, 0, &x), x);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_laplace_share(&rng, 0, 2, 3, &x), x);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_laplace_share(&rng, 1, 2, TLY_DP_MAX_SHARES + 1, &x), x);
	EXPECT_FAIL(TLY_ERANGE,
	            tly_dp_laplace_share(&rng, 2, 2 * TLY_DP_POLYA_MAX_SCALE + 1, 3, &x), x);

	EXPECT_FAIL(TLY_EINVAL, tly_dp_poisson(&rng, 1, 0, &k), k);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_poisson(&rng, TLY_DP_POISSON_MAX + 1, 1, &k), k);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_poisson(&rng, UINT64_MAX, 2, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_skellam(&rng, 1, 0, &x), x);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_skellam(&rng, 3 * TLY_DP_POISSON_MAX + 1, 3, &x), x);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_skellam_share(&rng, 1, 0, 2, &x), x);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_skellam_share(&rng, 1, 2, 0, &x), x);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_skellam_share(&rng, 1, 2, TLY_DP_MAX_SHARES + 1, &x), x);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_skellam_share(&rng, 5 * TLY_DP_POISSON_MAX, 1, 2, &x), x);
	/* 1/(2^63 * 3) has a denominator beyond 64 bits... */
	EXPECT_FAIL(TLY_ERANGE, tly_dp_skellam_share(&rng, 1, big, 3, &x), x);
	/* ...but 3/(2^63 * 3) reduces to 1/2^63. */
	cr_assert_eq(tly_dp_skellam_share(&rng, 3, big, 3, &x), TLY_OK);

	EXPECT_FAIL(TLY_EINVAL, tly_dp_gauss_share(&rng, 0, 1, 2, &x), x);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_gauss_share(&rng, 1, 0, 2, &x), x);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_gauss_share(&rng, 1, 1, 0, &x), x);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_gauss_share(&rng, 1, big, 3, &x), x);
	EXPECT_FAIL(TLY_ERANGE, tly_dp_gauss_share(&rng, 1, 1, TLY_DP_MAX_SHARES + 1, &x), x);

	struct tly_dp_noise unknown = {.mechanism = 0, .num = 1, .den = 1, .honest = 1};
	EXPECT_FAIL(TLY_EINVAL, tly_dp_share(&rng, &unknown, &x), x);
	struct tly_dp_noise no_honest = {.mechanism = TLY_DP_GAUSS, .num = 1, .den = 1};
	EXPECT_FAIL(TLY_EINVAL, tly_dp_share(&rng, &no_honest, &x), x);
	tly_rng_fini(&rng);
}

/* The share dispatcher draws what the named sampler draws. */
Test(dp, share_dispatches)
{
	const struct tly_dp_noise noises[] = {
	    {TLY_DP_LAPLACE, 1, 3, 1, 1},
	    {TLY_DP_LAPLACE, 1, 3, 4, 1},
	    {TLY_DP_GAUSS, 7, 2, 3, 1},
	    {TLY_DP_SKELLAM, 5, 2, 3, 1},
	};
	for (size_t i = 0; i < sizeof noises / sizeof noises[0]; i++) {
		const struct tly_dp_noise *n = &noises[i];
		struct tly_rng a, b;
		tly_rng_init_seeded_u64(&a, 810 + i);
		tly_rng_init_seeded_u64(&b, 810 + i);
		for (int j = 0; j < 200; j++) {
			int64_t x, y;
			tly_err rv;
			cr_assert_eq(tly_dp_share(&a, n, &x), TLY_OK);
			switch (n->mechanism) {
			case TLY_DP_LAPLACE:
				rv = n->honest == 1
				         ? tly_dp_laplace(&b, n->num, n->den, &y)
				         : tly_dp_laplace_share(&b, n->num, n->den, n->honest, &y);
				break;
			case TLY_DP_GAUSS:
				rv = tly_dp_gauss_share(&b, n->num, n->den, n->honest, &y);
				break;
			default:
				rv = tly_dp_skellam_share(&b, n->num, n->den, n->honest, &y);
				break;
			}
			cr_assert_eq(rv, TLY_OK);
			cr_assert_eq(x, y);
		}
	}
}

Test(dp, null_rng_aborts, .signal = SIGABRT)
{
	int64_t x;
	tly_err rv = tly_dp_laplace(NULL, 1, 1, &x);
	cr_assert_fail("returned %d", rv);
}

Test(dp, null_output_aborts, .signal = SIGABRT)
{
	struct tly_rng rng;
	tly_rng_init_seeded_u64(&rng, 820);
	tly_err rv = tly_dp_gauss(&rng, 1, 1, NULL);
	cr_assert_fail("returned %d", rv);
}

/* ---- Quantiles and variances ---- */

/* The exact pmf of the total described by noise, brute force. */
static struct pmf
total_pmf(const struct tly_dp_noise *noise)
{
	long double param = (long double)noise->num / (long double)noise->den;
	long double shares = (long double)noise->shares / (long double)noise->honest;

	switch (noise->mechanism) {
	case TLY_DP_LAPLACE: {
		if (noise->shares == noise->honest)
			return laplace_pmf(param, laplace_reach(param));
		struct pmf nb = polya_pmf(shares, param, laplace_reach(param) * 3 + 100);
		struct pmf d = difference(&nb);
		pmf_free(&nb);
		return d;
	}
	case TLY_DP_GAUSS: {
		long double share_variance = param / (long double)noise->honest;
		struct pmf share = gauss_pmf(share_variance, gauss_reach(share_variance));
		if (noise->shares == 1)
			return share;
		struct pmf total = convolve_n(&share, (int)noise->shares);
		pmf_free(&share);
		return total;
	}
	default: {
		long double mu = param * shares;
		struct pmf p = poisson_pmf(mu, poisson_reach(mu));
		struct pmf d = difference(&p);
		pmf_free(&p);
		return d;
	}
	}
}

static const uint64_t levels[][2] = {{1, 2},    {9, 10},     {95, 100},
                                     {99, 100}, {999, 1000}, {999999, 1000000}};

/* P(|X| <= k) >= q > P(|X| <= k - 1) against the brute-force pmf. */
static void
check_quantiles(const struct tly_dp_noise *noise)
{
	struct pmf f = total_pmf(noise);

	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		uint64_t k;
		long double q = (long double)levels[i][0] / (long double)levels[i][1];
		cr_assert_eq(tly_dp_noise_quantile(noise, levels[i][0], levels[i][1], &k), TLY_OK);
		long double at = central_mass(&f, (int64_t)k);
		cr_assert_geq(at, q, "mech %d %llu/%llu h %llu n %llu q %Lg: k = %llu covers %Lg",
		              noise->mechanism, (unsigned long long)noise->num,
		              (unsigned long long)noise->den, (unsigned long long)noise->honest,
		              (unsigned long long)noise->shares, q, (unsigned long long)k, at);
		if (k > 0) {
			long double below = central_mass(&f, (int64_t)k - 1);
			cr_assert_lt(below, q, "q %Lg: k - 1 = %llu already covers %Lg", q,
			             (unsigned long long)k - 1, below);
		}
	}
	pmf_free(&f);
}

Test(dp_quantile, hand_checked)
{
	/* Worked by hand: alpha = 1/e, P(|X| >= k) = 2 e^-k/(1 + 1/e): 0.0728
	 * at k = 3, 0.0268 at k = 4. N_Z(0, 1): P(|X| <= 1) = 0.8829, P(|X| <=
	 * 2) = 0.9909. The rest checked with mpmath at 30 digits. */
	const struct {
		struct tly_dp_noise noise;
		uint64_t k;
	} cases[] = {
	    {{TLY_DP_LAPLACE, 1, 1, 1, 1}, 3},   {{TLY_DP_GAUSS, 1, 1, 1, 1}, 2},
	    {{TLY_DP_LAPLACE, 1, 10, 1, 1}, 30}, {{TLY_DP_LAPLACE, 1, 10, 3, 5}, 38},
	    {{TLY_DP_LAPLACE, 1, 10, 1, 3}, 50}, {{TLY_DP_GAUSS, 100, 3, 1, 1}, 11},
	    {{TLY_DP_GAUSS, 4, 1, 3, 5}, 5},     {{TLY_DP_SKELLAM, 37, 10, 1, 1}, 5},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t k;
		cr_assert_eq(tly_dp_noise_quantile(&cases[i].noise, 95, 100, &k), TLY_OK);
		cr_assert_eq(k, cases[i].k, "case %zu: k = %llu", i, (unsigned long long)k);
	}
}

Test(dp_quantile, laplace_brute_force)
{
	const uint64_t rates[][2] = {{1, 1}, {1, 10}, {3, 7}, {5, 1}, {1, 1000}, {40, 1}};
	for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
		struct tly_dp_noise noise = {TLY_DP_LAPLACE, rates[i][0], rates[i][1], 1, 1};
		check_quantiles(&noise);
	}
}

Test(dp_quantile, laplace_shares_brute_force)
{
	const struct tly_dp_noise noises[] = {
	    {TLY_DP_LAPLACE, 1, 10, 3, 5}, {TLY_DP_LAPLACE, 1, 2, 5, 3},
	    {TLY_DP_LAPLACE, 1, 10, 1, 3}, {TLY_DP_LAPLACE, 1, 100, 2, 7},
	    {TLY_DP_LAPLACE, 3, 1, 10, 1},
	};
	for (size_t i = 0; i < sizeof noises / sizeof noises[0]; i++)
		check_quantiles(&noises[i]);
}

Test(dp_quantile, gauss_brute_force)
{
	const struct tly_dp_noise noises[] = {
	    {TLY_DP_GAUSS, 1, 4, 1, 1},
	    {TLY_DP_GAUSS, 1, 1, 1, 1},
	    {TLY_DP_GAUSS, 100, 3, 1, 1},
	    {TLY_DP_GAUSS, 10000, 1, 1, 1},
	    {TLY_DP_GAUSS, 4, 1, 3, 5},
	    {TLY_DP_GAUSS, 1, 1, 10, 10},
	    {TLY_DP_GAUSS, 1, 100, 1, 50},
	    /* sigma^2/h = 8: the total is taken as one N_Z(0, 24); checked
	     * here against the real three-fold convolution. */
	    {TLY_DP_GAUSS, 24, 1, 3, 3},
	    {TLY_DP_GAUSS, 80, 1, 10, 4},
	};
	for (size_t i = 0; i < sizeof noises / sizeof noises[0]; i++)
		check_quantiles(&noises[i]);
}

Test(dp_quantile, skellam_brute_force)
{
	const struct tly_dp_noise noises[] = {
	    {TLY_DP_SKELLAM, 1, 10, 1, 1},   {TLY_DP_SKELLAM, 37, 10, 1, 1},
	    {TLY_DP_SKELLAM, 1000, 1, 1, 1}, {TLY_DP_SKELLAM, 3, 1, 3, 5},
	    {TLY_DP_SKELLAM, 1, 7, 100, 30},
	};
	for (size_t i = 0; i < sizeof noises / sizeof noises[0]; i++)
		check_quantiles(&noises[i]);
}

Test(dp_quantile, zero_skellam_has_no_spread)
{
	struct tly_dp_noise noise = {TLY_DP_SKELLAM, 0, 1, 1, 1};
	uint64_t k = 7;
	double variance = 7;

	cr_assert_eq(tly_dp_noise_quantile(&noise, 999, 1000, &k), TLY_OK);
	cr_assert_eq(k, 0);
	cr_assert_eq(tly_dp_noise_variance(&noise, &variance), TLY_OK);
	cr_assert_eq(variance, 0);
}

static void
check_variance(const struct tly_dp_noise *noise)
{
	struct pmf f = total_pmf(noise);
	double mean, variance, fourth, reported;

	stats_moments(f.p, f.len, f.lo, &mean, &variance, &fourth);
	cr_assert_eq(tly_dp_noise_variance(noise, &reported), TLY_OK);
	cr_assert_float_eq(reported, variance, 1e-9 * variance, "mech %d: %.15g vs %.15g",
	                   noise->mechanism, reported, variance);
	pmf_free(&f);
}

Test(dp_quantile, variances)
{
	const struct tly_dp_noise noises[] = {
	    {TLY_DP_LAPLACE, 1, 1, 1, 1},   {TLY_DP_LAPLACE, 1, 10, 3, 5},
	    {TLY_DP_GAUSS, 1, 4, 1, 1},     {TLY_DP_GAUSS, 1, 1, 1, 1},
	    {TLY_DP_GAUSS, 100, 3, 1, 1},   {TLY_DP_GAUSS, 4, 1, 3, 5},
	    {TLY_DP_SKELLAM, 37, 10, 1, 1}, {TLY_DP_SKELLAM, 3, 1, 3, 5},
	};
	for (size_t i = 0; i < sizeof noises / sizeof noises[0]; i++)
		check_variance(&noises[i]);

	/* The closed forms, against the brute-force pmf of NB(r, alpha). */
	double reported, mean, variance, fourth;
	struct pmf nb = polya_pmf(2.0L / 5, 0.25L, 400);
	stats_moments(nb.p, nb.len, nb.lo, &mean, &variance, &fourth);
	cr_assert_eq(tly_dp_polya_variance(2, 5, 1, 4, &reported), TLY_OK);
	cr_assert_float_eq(reported, variance, 1e-9 * variance);
	pmf_free(&nb);
	struct tly_dp_noise laplace = {TLY_DP_LAPLACE, 1, 10, 1, 1};
	double alpha = exp(-0.1);
	cr_assert_eq(tly_dp_noise_variance(&laplace, &reported), TLY_OK);
	cr_assert_float_eq(reported, 2 * alpha / ((1 - alpha) * (1 - alpha)), 1e-9);
}

Test(dp_quantile, invalid_parameters)
{
	uint64_t k;
	double v;
	const struct tly_dp_noise good = {TLY_DP_LAPLACE, 1, 10, 1, 1};
	struct tly_dp_noise bad;

	EXPECT_FAIL(TLY_EINVAL, tly_dp_noise_quantile(&good, 0, 100, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_noise_quantile(&good, 100, 100, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_noise_quantile(&good, 101, 100, &k), k);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_noise_quantile(&good, 1, 0, &k), k);

	const struct {
		struct tly_dp_noise noise;
		tly_err want;
	} cases[] = {
	    {{0, 1, 1, 1, 1}, TLY_EINVAL},
	    {{TLY_DP_LAPLACE, 1, 1, 0, 1}, TLY_EINVAL},
	    {{TLY_DP_LAPLACE, 1, 1, 1, 0}, TLY_EINVAL},
	    {{TLY_DP_LAPLACE, 0, 1, 1, 1}, TLY_EINVAL},
	    {{TLY_DP_LAPLACE, 1, 0, 1, 1}, TLY_EINVAL},
	    {{TLY_DP_GAUSS, 0, 1, 1, 1}, TLY_EINVAL},
	    {{TLY_DP_SKELLAM, 1, 0, 1, 1}, TLY_EINVAL},
	    {{TLY_DP_LAPLACE, 1, TLY_DP_MAX_SCALE + 1, 1, 1}, TLY_ERANGE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		EXPECT_FAIL(cases[i].want, tly_dp_noise_quantile(&cases[i].noise, 95, 100, &k), k);
		EXPECT_FAIL(cases[i].want, tly_dp_noise_variance(&cases[i].noise, &v), v);
	}
	/* Work caps: the quantile refuses, the variance (closed form) does not. */
	const struct tly_dp_noise too_wide[] = {
	    {TLY_DP_LAPLACE, 1, 1000000, 1, 2},
	    {TLY_DP_GAUSS, UINT64_C(1) << 41, 1, 1, 1},
	    {TLY_DP_GAUSS, 1, 1, 1, 1000000},
	    {TLY_DP_SKELLAM, UINT64_C(1) << 40, 1, 1, 1},
	};
	for (size_t i = 0; i < sizeof too_wide / sizeof too_wide[0]; i++) {
		bad = too_wide[i];
		EXPECT_FAIL(TLY_ERANGE, tly_dp_noise_quantile(&bad, 95, 100, &k), k);
		cr_assert_eq(tly_dp_noise_variance(&bad, &v), TLY_OK);
	}
	EXPECT_FAIL(TLY_EINVAL, tly_dp_polya_variance(0, 1, 1, 1, &v), v);
	EXPECT_FAIL(TLY_EINVAL, tly_dp_polya_variance(1, 1, 1, 0, &v), v);
}
