/* `tally audit dp` (cli/audit_dp.h) and its statistics (query/dpaudit.h):
 * the incomplete beta and Clopper-Pearson bounds against known values;
 * the real mechanisms not flagged at a fixed seed; the negative controls
 * caught (a calibration 10% too small at the default run size, one noise
 * share released alone, a floating-point Laplace sampler); the command
 * line's errors, JSON and plot. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/audit_dp.h"
#include "crypto/field.h"
#include "crypto/rng_test.h"
#include "query/dpaudit.h"
#include "tests/daemons.h"

/* ---- the statistics ---- */

/* P(Bin(n, p) >= k), summed exactly in long double. */
static double
binomial_tail(int n, int k, double p)
{
	long double total = 0;
	for (int j = k; j <= n; j++)
		total += expl(lgammal(n + 1.0L) - lgammal(j + 1.0L) - lgammal(n - j + 1.0L) +
		              j * logl((long double)p) + (n - j) * log1pl(-(long double)p));
	return (double)total;
}

Test(dpaudit, beta_cdf_closed_forms)
{
	const double xs[] = {1e-9, 0.01, 0.3, 0.5, 0.77, 0.999};
	for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
		double x = xs[i];
		cr_assert_float_eq(tly_dpaudit_beta_cdf(1, 7, x), 1 - pow(1 - x, 7), 1e-13, "x %g",
		                   x);
		cr_assert_float_eq(tly_dpaudit_beta_cdf(4.5, 1, x), pow(x, 4.5), 1e-13, "x %g", x);
	}
	cr_assert_float_eq(tly_dpaudit_beta_cdf(3, 3, 0.5), 0.5, 1e-14);
	cr_assert_float_eq(tly_dpaudit_beta_cdf(250, 250, 0.5), 0.5, 1e-12);
	cr_assert_float_eq(tly_dpaudit_beta_cdf(1e6, 1e6, 0.5), 0.5, 1e-12);
	cr_assert_float_eq(tly_dpaudit_beta_cdf(1e7, 1e7, 0.5), 0.5, 1e-11);
	/* I_0.3(2, 3) = sum_{j>=2} C(4, j) 0.3^j 0.7^(4-j) = 0.3483 */
	cr_assert_float_eq(tly_dpaudit_beta_cdf(2, 3, 0.3), 0.3483, 1e-12);
	cr_assert(isnan(tly_dpaudit_beta_cdf(0, 1, 0.5)));
	cr_assert(isnan(tly_dpaudit_beta_cdf(1, 1, 1.5)));
	cr_assert(isnan(tly_dpaudit_beta_quantile(1, 1, -0.1)));
}

/* I_p(k, n - k + 1) = P(Bin(n, p) >= k) for every k of n = 60. */
Test(dpaudit, beta_cdf_is_the_binomial_tail)
{
	const double ps[] = {0.001, 0.05, 0.37, 0.5, 0.9};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
		for (int k = 1; k <= 60; k++) {
			double want = binomial_tail(60, k, ps[i]);
			double got = tly_dpaudit_beta_cdf(k, 60 - k + 1, ps[i]);
			cr_assert(fabs(got - want) <= 1e-12 + 1e-10 * want,
			          "p %g k %d: %.17g vs %.17g", ps[i], k, got, want);
		}
}

Test(dpaudit, quantile_inverts_the_cdf)
{
	const double shapes[][2] = {{1, 1}, {0.5, 3}, {20, 7}, {5000, 1e6}, {1e7, 1e7}};
	const double ps[] = {1e-12, 3.2e-5, 0.025, 0.5, 0.975, 0.99997};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++) {
			double a = shapes[i][0], b = shapes[i][1];
			double x = tly_dpaudit_beta_quantile(a, b, ps[j]);
			double back = tly_dpaudit_beta_cdf(a, b, x);
			cr_assert(fabs(back - ps[j]) <= 1e-9 * ps[j] + 1e-13,
			          "a %g b %g p %g: %.17g", a, b, ps[j], back);
		}
}

/* Known Clopper-Pearson intervals: 0 of 10 and 10 of 10 in closed form,
 * 5 of 10 as R's binom.test gives it (0.1870860, 0.8129140), and half of
 * 10^7 against the normal approximation (their difference is O(1/n)). */
Test(dpaudit, clopper_pearson_known_values)
{
	cr_assert_float_eq(tly_dpaudit_cp_upper(0, 10, 0.95), 1 - pow(0.05, 0.1), 1e-12);
	cr_assert_float_eq(tly_dpaudit_cp_lower(10, 10, 0.95), pow(0.05, 0.1), 1e-12);
	cr_assert_eq(tly_dpaudit_cp_lower(0, 10, 0.95), 0);
	cr_assert_eq(tly_dpaudit_cp_upper(10, 10, 0.95), 1);
	cr_assert_float_eq(tly_dpaudit_cp_lower(5, 10, 0.975), 0.1870860, 1e-7);
	cr_assert_float_eq(tly_dpaudit_cp_upper(5, 10, 0.975), 0.8129140, 1e-7);
	double half = 1.959963984540054 * sqrt(0.25 / 1e7);
	cr_assert_float_eq(tly_dpaudit_cp_lower(5000000, 10000000, 0.975), 0.5 - half, 1e-6);
	cr_assert_float_eq(tly_dpaudit_cp_upper(5000000, 10000000, 0.975), 0.5 + half, 1e-6);
}

Test(dpaudit, epsilon_bounds)
{
	/* 731 vs 269 of 1000: ratio e^1.0003 */
	cr_assert_float_eq(tly_dpaudit_epsilon_hat(731, 269, 1000, 0), log(731.0 / 269), 1e-12);
	double lb = tly_dpaudit_epsilon_lb(731, 269, 1000, 0, 0.975);
	cr_assert(lb > 0.7 && lb < 1.0, "%g", lb);
	cr_assert_eq(tly_dpaudit_epsilon_lb(100, 300, 1000, 0, 0.975), 0);
	cr_assert(isinf(tly_dpaudit_epsilon_hat(5, 0, 1000, 0)));
	cr_assert(tly_dpaudit_epsilon_hat(5, 3, 1000, 0.01) == -INFINITY);
	/* delta comes off the numerator's lower bound */
	cr_assert(tly_dpaudit_epsilon_lb(731, 269, 1000, 0.1, 0.975) < lb);
}

/* Two point masses at 0 and 1 (D: 0 with 0.75; D': 0 with 0.25): the
 * event chosen on the first half reads ln 3 on the second. */
Test(dpaudit, choose_then_evaluate)
{
	const double values[] = {-INFINITY, 0, 1};
	const uint64_t d0[] = {0, 7500, 2500}, d1[] = {0, 2500, 7500};
	struct tly_dpaudit_draws draws = {.value_count = 3, .values = values, .n = {10000, 10000}};
	struct tly_dpaudit_event e;
	struct tly_dpaudit_finding f;
	draws.count[0][0] = draws.count[1][0] = d0;
	draws.count[0][1] = draws.count[1][1] = d1;
	cr_assert_eq(tly_dpaudit_choose(&draws, 0, 0.975, &e), TLY_OK);
	cr_assert_eq(tly_dpaudit_evaluate(&draws, &e, 0, 0.975, &f), TLY_OK);
	cr_assert_float_eq(f.epsilon_hat, log(3), 1e-12);
	cr_assert(f.epsilon_lb > 1.0 && f.epsilon_lb < log(3));
	draws.n[0] = 0;
	cr_assert_eq(tly_dpaudit_choose(&draws, 0, 0.975, &e), TLY_EINVAL);
	e.kind = TLY_DPAUDIT_EXTRA;
	e.extra = 0;
	cr_assert_eq(tly_dpaudit_evaluate(&draws, &e, 0, 0.975, &f), TLY_EINVAL);
}

/* Coverage, by simulation: of 4,000 draws of k ~ Bin(200, 0.3), how many
 * bounds at `level` miss p (lower above it, or upper below it). */
static int
cp_misses(double level, int upper)
{
	struct tly_rng rng;
	int misses = 0;
	tly_rng_init_seeded_u64(&rng, 1717);
	for (int trial = 0; trial < 4000; trial++) {
		uint64_t k = 0;
		for (int i = 0; i < 200; i++)
			k += tly_rng_uniform(&rng, 10) < 3;
		if (upper ? tly_dpaudit_cp_upper(k, 200, level) < 0.3
		          : tly_dpaudit_cp_lower(k, 200, level) > 0.3)
			misses++;
	}
	tly_rng_fini(&rng);
	return misses;
}

/* Each one-sided bound at 0.975 misses at most 2.5% of the time (Clopper-
 * Pearson is conservative): at most 100 of 4,000 expected, 130 allowed (3
 * sd). The negative control: bounds at 0.9 used in their place miss about
 * 10% and fail the same check, so the check can tell. */
Test(dpaudit, clopper_pearson_coverage_stats)
{
	for (int upper = 0; upper < 2; upper++) {
		int good = cp_misses(0.975, upper), bad = cp_misses(0.9, upper);
		cr_log_info("%s bound: %d misses at 0.975, %d at 0.9 (of 4000)\n",
		            upper ? "upper" : "lower", good, bad);
		cr_expect(good <= 130, "%s: %d misses", upper ? "upper" : "lower", good);
		cr_expect(bad > 130, "%s at 0.9: %d misses, the check cannot tell",
		          upper ? "upper" : "lower", bad);
	}
}

/* ---- the auditor ---- */

static struct tly_audit_dp_result
audit(const struct tly_audit_dp_options *o, const char *mechanism)
{
	struct tly_audit_dp_result r;
	char why[512] = "";
	cr_assert_eq(tly_audit_dp_run(o, mechanism, &r, why, sizeof why), TLY_OK, "%s: %s",
	             mechanism, why);
	cr_log_info("%s: claimed %.4f, eps_hat %.4f, eps_lb %.4f (draws %llu, %.1f s)\n", mechanism,
	            r.epsilon_claimed, r.finding.epsilon_hat, r.finding.epsilon_lb,
	            (unsigned long long)r.draws, r.seconds);
	return r;
}

/* The real mechanisms at seed 17 are not flagged: at the default size for
 * the fast ones, smaller for the Skellam sums and means (whose Poisson
 * draws cost O(mu)). The Laplace count's bound is also close to its claim:
 * the audit is tight, not merely passing. */
Test(audit_dp_stats, real_mechanisms_are_not_flagged, .timeout = 120)
{
	static const struct {
		const char *name;
		uint64_t draws;
	} runs[] = {
	    {"count-laplace", 1000000},    {"sum-laplace", 200000},  {"mean-laplace", 100000},
	    {"histogram-laplace", 200000}, {"rate-laplace", 200000}, {"count-skellam", 200000},
	    {"sum-skellam", 40000},        {"mean-skellam", 20000},  {"histogram-skellam", 60000},
	    {"rate-skellam", 60000},
	};
	struct tly_audit_dp_options o;
	tly_audit_dp_defaults(&o);
	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
		o.draws = runs[i].draws;
		struct tly_audit_dp_result r = audit(&o, runs[i].name);
		cr_expect(!r.flagged, "%s flagged: eps_lb %g > %g", runs[i].name,
		          r.finding.epsilon_lb, r.epsilon_claimed);
		cr_expect_eq(r.finding.n, runs[i].draws / 2);
		if (i == 0)
			cr_expect(r.finding.epsilon_lb > 0.98,
			          "count-laplace bound %g is not tight", r.finding.epsilon_lb);
	}
}

/* Negative control 1: the noise calibrated for epsilon 1.1 under a claim of
 * 1 (10% too little noise) is caught at the default run size. */
Test(audit_dp_stats, calibration_ten_percent_too_small_is_caught, .timeout = 120)
{
	struct tly_audit_dp_options o;
	tly_audit_dp_defaults(&o);
	cr_assert_eq(o.draws, TLY_AUDIT_DP_DEFAULT_DRAWS);
	snprintf(o.calibrate, sizeof o.calibrate, "1.1");
	struct tly_audit_dp_result r = audit(&o, "count-laplace");
	cr_assert(r.flagged, "eps_lb %g", r.finding.epsilon_lb);
	cr_assert(r.finding.epsilon_lb > 1.0 && r.finding.epsilon_hat < 1.2, "%g %g",
	          r.finding.epsilon_lb, r.finding.epsilon_hat);
	r = audit(&o, "histogram-laplace");
	cr_assert(r.flagged, "histogram: eps_lb %g", r.finding.epsilon_lb);
}

/* Negative control 2: the first honest trust's share released alone (1/h
 * of the noise, h = 2) is caught, and so it is with h = 3 of 5. */
Test(audit_dp_stats, one_share_alone_is_caught, .timeout = 120)
{
	struct tly_audit_dp_options o;
	tly_audit_dp_defaults(&o);
	o.draws = 200000;
	o.fault = TLY_AUDIT_DP_FAULT_SHARE_ALONE;
	struct tly_audit_dp_result r = audit(&o, "count-laplace");
	cr_assert(r.flagged && r.finding.epsilon_lb > 1.5, "eps_lb %g", r.finding.epsilon_lb);
	o.nodes = 5;
	o.honest = 3;
	r = audit(&o, "sum-laplace");
	cr_assert(r.flagged, "sum, h = 3: eps_lb %g", r.finding.epsilon_lb);
}

/* Negative control 3: the textbook floating-point Laplace, for tests only
 * (the tally program has no way to reach it). u is a float uniform on
 * (0, 1] with 24 bits (k / 2^24, k = 1..2^24), |noise| = -b ln u computed
 * in float, a fair sign, rounded to the nearest integer. In exact
 * arithmetic that is post-processing of the Laplace mechanism, and a
 * threshold cannot tell; but u takes only 2^24 values, so far from 0 the
 * noise takes only some integers: where b ln((k + 1)/k) > 1, i.e. |noise|
 * above b ln(2^24 / b), about 5.1 b for b = 10^5, whole runs of integers
 * cannot occur (Mironov 2012: the neighbours' sets of reachable outputs
 * differ). The auditor's support events see it. */
__attribute__((noinline)) static float
float_magnitude(float b, uint32_t k)
{
	return -b * logf((float)k * 0x1p-24f);
}

static float
float_scale(const struct tly_noise_params *p)
{
	return (float)p->scale_t / (float)p->scale_s;
}

static tly_err
float_draw(struct tly_rng *rng, const struct tly_noise_params *params, const int64_t *cells,
           size_t d, int64_t *noisy, void *arg)
{
	float b = float_scale(params);
	(void)arg;
	for (size_t i = 0; i < d; i++) {
		uint64_t w = tly_rng_u64(rng);
		long n = lrintf(float_magnitude(b, (uint32_t)(w >> 40) + 1));
		noisy[i] = cells[i] + ((w & 1) ? -n : n);
	}
	return TLY_OK;
}

/* Which |noise| values float_draw can produce: all 2^24 inputs tried. */
struct float_support {
	long max;
	uint8_t *hit;
};

static void
float_support_build(struct float_support *s, float b)
{
	s->max = lrintf(float_magnitude(b, 1));
	s->hit = calloc((size_t)s->max + 1, 1);
	cr_assert_not_null(s->hit);
	for (uint32_t k = 1; k <= (UINT32_C(1) << 24); k++)
		s->hit[lrintf(float_magnitude(b, k))] = 1;
}

static int
float_reachable(const struct tly_noise_params *params, int64_t v, void *arg)
{
	const struct float_support *s = arg;
	int64_t a = v < 0 ? -v : v;
	(void)params;
	return a <= s->max && s->hit[a];
}

static struct tly_audit_dp_result
float_audit(const char *mechanism, const char *column, float b, uint64_t draws)
{
	struct float_support support;
	struct tly_audit_dp_sampler sampler = {float_draw, float_reachable, &support};
	struct tly_audit_dp_options o;
	tly_audit_dp_defaults(&o);
	float_support_build(&support, b);
	o.draws = draws;
	o.nodes = o.honest = 1;
	o.sampler = &sampler;
	snprintf(o.column, sizeof o.column, "%s", column);
	struct tly_audit_dp_result r = audit(&o, mechanism);
	free(support.hit);
	return r;
}

Test(audit_dp_stats, floating_point_sampler_is_caught, .timeout = 120)
{
	/* A sum of costs bounded by 10^5 at epsilon 1: b = 10^5. */
	struct tly_audit_dp_result r = float_audit("sum-laplace", "cost", 1e5f, 100000);
	cr_assert_eq(r.event.kind, TLY_DPAUDIT_EXTRA);
	cr_assert(r.flagged && r.finding.epsilon_lb > 2.5, "eps_lb %g", r.finding.epsilon_lb);
	cr_assert_eq(r.finding.k_q, 0, "a neighbour's impossible output occurred");
}

/* The same sampler at b = 1 (a count at epsilon 1) reaches every integer
 * it is likely to: the support events find nothing, nothing is flagged. */
Test(audit_dp_stats, floating_point_sampler_at_small_scale_passes, .timeout = 120)
{
	struct tly_audit_dp_result r = float_audit("count-laplace", "visits", 1.0f, 200000);
	cr_assert(!r.flagged, "eps_lb %g", r.finding.epsilon_lb);
}

/* The same seed gives the same counts whatever the thread count; another
 * seed other counts. */
Test(audit_dp_stats, seeded_runs_repeat, .timeout = 120)
{
	struct tly_audit_dp_options o;
	tly_audit_dp_defaults(&o);
	o.draws = 100000;
	o.threads = 1;
	struct tly_audit_dp_result one = audit(&o, "rate-laplace");
	o.threads = 2;
	struct tly_audit_dp_result two = audit(&o, "rate-laplace");
	cr_assert_eq(one.finding.k_p, two.finding.k_p);
	cr_assert_eq(one.finding.k_q, two.finding.k_q);
	cr_assert_eq(one.event.threshold, two.event.threshold);
	o.seed = 18;
	struct tly_audit_dp_result other = audit(&o, "rate-laplace");
	cr_assert(other.finding.k_p != one.finding.k_p || other.finding.k_q != one.finding.k_q);
}

/* tly_audit_dp_run refuses o with TLY_EINVAL and a why naming `needle`. */
static void
refused(const struct tly_audit_dp_options *o, const char *mechanism, const char *needle)
{
	struct tly_audit_dp_result r;
	char why[256] = "";
	cr_expect_eq(tly_audit_dp_run(o, mechanism, &r, why, sizeof why), TLY_EINVAL, "%s", needle);
	cr_expect(strstr(why, needle) != NULL, "%s: %s", needle, why);
}

Test(audit_dp, bad_options_are_refused)
{
	struct tly_audit_dp_options o;
	tly_audit_dp_defaults(&o);
	refused(&o, "median-laplace", "--mechanism");
	o.draws = 1;
	refused(&o, "count-laplace", "--draws");
	tly_audit_dp_defaults(&o);
	snprintf(o.epsilon, sizeof o.epsilon, "2000");
	refused(&o, "count-laplace", "--epsilon 2000");
	tly_audit_dp_defaults(&o);
	o.honest = 4;
	refused(&o, "count-laplace", "--honest");
	tly_audit_dp_defaults(&o);
	o.confidence = 1;
	refused(&o, "count-laplace", "--confidence");
	tly_audit_dp_defaults(&o);
	snprintf(o.column, sizeof o.column, "salary");
	refused(&o, "sum-laplace", "--epsilon 1: measure.column");
	tly_audit_dp_defaults(&o);
	snprintf(o.calibrate, sizeof o.calibrate, "0.0000001");
	struct tly_audit_dp_result r;
	char why[256] = "";
	cr_expect_neq(tly_audit_dp_run(&o, "count-laplace", &r, why, sizeof why), TLY_OK);
	cr_expect(strstr(why, "--calibrate") != NULL, "%s", why);
}

/* ---- the command line ---- */

static char workdir[] = "/tmp/tally-audit-dp-test-XXXXXX"; /* the CLI tests' files */

static void
cli_setup(void)
{
	cr_assert_not_null(mkdtemp(workdir));
}

static void
cli_teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", workdir);
	cr_assert_eq(system(cmd), 0);
}

/* Run `tally audit dp ARGS...`: its exit code; stdout and stderr in
 * workdir/out and workdir/err. */
static int
run_tally(const char *const *args)
{
	const char *bin = getenv("TALLY_BIN");
	char program[512], out[256], err[256];
	const char *argv[24] = {"tally", "audit", "dp"};
	size_t n = 3;
	cr_assert_not_null(bin, "TALLY_BIN is not set");
	snprintf(program, sizeof program, "%s/tally", bin);
	snprintf(out, sizeof out, "%s/out", workdir);
	snprintf(err, sizeof err, "%s/err", workdir);
	unlink(err);
	for (; *args != NULL && n < 23; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return dmn_wait_or_kill(dmn_spawn_split(program, argv, out, err), 120000);
}

static int
err_has(const char *needle)
{
	char path[256];
	snprintf(path, sizeof path, "%s/err", workdir);
	return dmn_file_has(path, needle);
}

TestSuite(audit_dp_cli, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

Test(audit_dp_cli, help_lists_the_options)
{
	char path[256];
	cr_assert_eq(run_tally((const char *[]){"--help", NULL}), 0);
	snprintf(path, sizeof path, "%s/out", workdir);
	cr_assert(dmn_file_has(path, "--mechanism M") && dmn_file_has(path, "--calibrate X") &&
	          dmn_file_has(path, "--plot PREFIX"));
}

/* Every bad value exits 2 with a message naming its option. */
Test(audit_dp_cli, bad_options_name_themselves)
{
	static const char *const cases[][3] = {
	    {"--draws", "1", "--draws"},
	    {"--draws", "many", "--draws"},
	    {"--epsilon", "-1", "--epsilon"},
	    {"--epsilon", "abc", "--epsilon"},
	    {"--rho", "0", "--rho"},
	    {"--confidence", "1.5", "--confidence"},
	    {"--delta", "0", "--delta"},
	    {"--mechanism", "median", "--mechanism"},
	    {"--column", "salary", "--column"},
	    {"--fault", "everything", "--fault"},
	    {"--threads", "0", "--threads"},
	    {"--nodes", "100", "--nodes"},
	    {"--bogus", "1", "--bogus"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_expect_eq(run_tally((const char *[]){cases[i][0], cases[i][1], NULL}), 2,
		             "%s %s", cases[i][0], cases[i][1]);
		cr_expect(err_has(cases[i][2]), "%s %s: the message does not name it", cases[i][0],
		          cases[i][1]);
	}
	cr_expect_eq(run_tally((const char *[]){"--nodes", "2", "--honest", "3", NULL}), 2);
	cr_expect(err_has("--honest"));
	cr_expect_eq(run_tally((const char *[]){"stray", NULL}), 2);
	cr_expect(err_has("stray"));
}

/* A short run writes the JSON (every field) and both pictures; a
 * calibration 10% too small exits 1 and says FLAGGED. */
Test(audit_dp_cli, json_and_plot)
{
	char json[256], prefix[256], path[300];
	json_error_t error;
	snprintf(json, sizeof json, "%s/audit.json", workdir);
	snprintf(prefix, sizeof prefix, "%s/audit", workdir);
	cr_assert_eq(run_tally((const char *[]){"--mechanism", "count", "--draws", "20000",
	                                        "--json", json, "--plot", prefix, NULL}),
	             0);
	json_t *doc = json_load_file(json, 0, &error);
	cr_assert_not_null(doc, "%s", error.text);
	json_t *results = json_object_get(doc, "results");
	cr_assert_eq(json_array_size(results), 2);
	static const char *const keys[] = {"mechanism",  "epsilon_claimed", "draws",
	                                   "event",      "counts",          "epsilon_hat",
	                                   "epsilon_lb", "confidence",      "epsilon_lb_4sigma",
	                                   "seconds",    "flagged",         "truth"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		cr_expect_not_null(json_object_get(json_array_get(results, 0), keys[i]), "%s",
		                   keys[i]);
	cr_expect_not_null(json_object_get(json_array_get(results, 1), "rho"));
	cr_expect_not_null(json_object_get(json_array_get(results, 1), "delta"));
	json_decref(doc);
	static const char *const ends[] = {".dat", ".png", ".svg"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s%s", prefix, ends[i]);
		cr_expect_eq(access(path, R_OK), 0, "%s", path);
	}
	cr_assert_eq(run_tally((const char *[]){"--mechanism", "count-laplace", "--calibrate",
	                                        "1.1", "--draws", "200000", NULL}),
	             1);
	snprintf(path, sizeof path, "%s/out", workdir);
	cr_assert(dmn_file_has(path, "FLAGGED"));
}
