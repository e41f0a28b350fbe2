/*
 * bench_mean - the error of a released mean before and after issue 15's
 * encoding (query/spec.h, tly_spec_mean_encoding; docs/PRIVACY.md "Means"),
 * on the demo data: `tally synth` (5 sites, 100000 people, seed 1) into a
 * temporary folder, the truths read from the site files.
 *
 *   before: cells (sum of clip(x), count), both with the noise of L1 = B + 1
 *           (L2^2 = B^2 + 1), B = max |bound|; mean = S / C.
 *   after:  cells (sum of (clip(x) - c), w count), L1 = B' + w (L2^2 =
 *           B'^2 + w^2); mean = c + S' w / W.
 *
 * For each scenario and mechanism (Laplace epsilon 1, Skellam rho 0.5; h =
 * 3 honest of n = 5 contributors, each site one contributor; 20,000 draws
 * for Laplace, 4,000 for Skellam, 200 in the short pass):
 *   rmse_expected  the delta-method RMSE of the mean, sqrt(Var S + (mu -
 *                  c)^2 Var C) / C with the total noise variance of
 *                  tly_noise_describe (Var C = Var / w^2);
 *   rmse_measured  over DRAWS draws of the real sampler: each site's true
 *                  cells through tly_noise_apply, decoded and summed, the
 *                  mean clipped to the bounds as the release does (draws
 *                  with a noisy count below 1 give no mean: counted in
 *                  no_mean, left out of the RMSE);
 *   no_mean        the share of draws with no mean;
 *   count_rmse     the RMSE of the noisy count W / w, in rows (for the
 *                  group with no rows, bmi of ages 0-17, the one figure).
 * The "after" rows have the "before" figure of the same run as baseline, so
 * ratio = after / before; a "gain" row gives before / after.
 */
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/synth.h"
#include "crypto/field.h"
#include "crypto/rng.h"
#include "query/noise.h"
#include "query/spec.h"
#include "timing.h"

enum { SITES = 5, HONEST = 3, MAX_SCENARIOS = 8 };

struct scenario {
	const char *name;
	const char *column;
	const char *where; /* SQL condition */
	const char *unit;
	int64_t lo, hi;
	double sum[SITES], count[SITES]; /* clipped sum and rows per site */
};

static struct scenario scenarios[] = {
    {"wait_weeks oral_surgery",
     "wait_weeks",
     "specialty = 'oral_surgery'",
     "weeks",
     0,
     104,
     {0},
     {0}},
    {"wait_weeks all", "wait_weeks", "1", "weeks", 0, 104, {0}, {0}},
    {"bmi ages 0-17", "bmi", "age_band = '0-17'", "kg/m2", 10, 80, {0}, {0}},
    {"bmi ages 18-39", "bmi", "age_band = '18-39'", "kg/m2", 10, 80, {0}, {0}},
    {"bmi all", "bmi", "1", "kg/m2", 10, 80, {0}, {0}},
};

static void
die(const char *what)
{
	fprintf(stderr, "bench_mean: %s\n", what);
	exit(1);
}

/* The clipped sum and count of one scenario at one site. */
static void
site_truth(const char *db_path, struct scenario *sc, int site)
{
	char sql[512];
	sqlite3 *db;
	sqlite3_stmt *st;

	snprintf(sql, sizeof sql,
	         "SELECT TOTAL(MIN(MAX(%s, %" PRId64 "), %" PRId64 ")), COUNT(*) FROM patients"
	         " WHERE opted_out = 0 AND %s IS NOT NULL AND %s",
	         sc->column, sc->lo, sc->hi, sc->column, sc->where);
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		die(sqlite3_errmsg(db));
	sc->sum[site] = sqlite3_column_double(st, 0);
	sc->count[site] = (double)sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
load_truths(void)
{
	char dir[] = "/tmp/tally-bench-mean-XXXXXX", path[256], why[256];

	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	struct tly_synth_options opt = {.sites = SITES,
	                                .people = 100000,
	                                .seed = 1,
	                                .out_dir = dir,
	                                .coordinator = "tls+tcp://127.0.0.1:1",
	                                .quiet = 1};
	if (tly_synth(&opt, why, sizeof why) != TLY_OK)
		die(why);
	for (int s = 0; s < SITES; s++) {
		snprintf(path, sizeof path, "%s/site-%d/patients.db", dir, s + 1);
		for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
			site_truth(path, &scenarios[i], s);
	}
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "bench_mean: could not remove %s\n", dir);
}

/* One encoding: centre c, count weight w, per-site sensitivities. */
struct encoding {
	double centre;
	int64_t weight;
	struct tly_noise_params noise;
	double variance; /* of each total cell's noise, n = SITES */
};

static void
calibrate(struct encoding *e, uint8_t mechanism, uint64_t l1, uint64_t l2sq)
{
	struct tly_query q;
	struct tly_noise_info info;

	memset(&q, 0, sizeof q);
	q.protocol = TLY_PROTOCOL_COMMITTEE;
	q.mechanism = mechanism;
	q.cells = 2;
	q.privacy_num = 1;
	q.privacy_den = mechanism == TLY_MECH_LAPLACE ? 1 : 2; /* epsilon 1, rho 1/2 */
	q.sensitivity_l1 = l1;
	q.sensitivity_l2sq = l2sq;
	q.min_honest = HONEST;
	if (tly_noise_calibrate(&q, &e->noise) != TLY_OK ||
	    tly_noise_describe(&e->noise, SITES, &info) != TLY_OK)
		die("calibrate");
	e->variance = info.variance;
}

static void
encodings(const struct scenario *sc, uint8_t mechanism, struct encoding *before,
          struct encoding *after)
{
	struct tly_column col = {.kind = TLY_COLUMN_INTEGER, .min = sc->lo, .max = sc->hi};
	struct tly_mean_encoding enc;
	uint64_t b = (uint64_t)(llabs(sc->lo) > llabs(sc->hi) ? llabs(sc->lo) : llabs(sc->hi));

	before->centre = 0;
	before->weight = 1;
	calibrate(before, mechanism, b + 1, b * b + 1);
	tly_mean_encoding_of(&col, mechanism, &enc);
	after->centre = (double)enc.centre;
	after->weight = (int64_t)enc.weight;
	calibrate(after, mechanism, enc.half_range + enc.weight,
	          enc.half_range * enc.half_range + enc.weight * enc.weight);
}

static double
total(const double *v)
{
	double t = 0;
	for (int s = 0; s < SITES; s++)
		t += v[s];
	return t;
}

/* sqrt(Var S + (mu - c)^2 Var C) / C: the delta method. */
static double
expected_rmse(const struct scenario *sc, const struct encoding *e)
{
	double count = total(sc->count), mu = total(sc->sum) / count;
	double w = (double)e->weight;

	return sqrt(e->variance + (mu - e->centre) * (mu - e->centre) * e->variance / (w * w)) /
	       count;
}

/* One draw of the released mean; 0 when the noisy count is below 1.
 * *count: the noisy count W / w. */
static int
draw(struct tly_rng *rng, const struct scenario *sc, const struct encoding *e, double *mean,
     double *count)
{
	int64_t cells[2], sums[2] = {0, 0};
	uint64_t out[2];

	for (int s = 0; s < SITES; s++) {
		cells[0] = (int64_t)llround(sc->sum[s] - e->centre * sc->count[s]);
		cells[1] = e->weight * (int64_t)sc->count[s];
		if (tly_noise_apply(rng, &e->noise, cells, 2, out) != TLY_OK)
			die("tly_noise_apply");
		sums[0] += tly_field_decode_signed(out[0]);
		sums[1] += tly_field_decode_signed(out[1]);
	}
	*count = (double)sums[1] / (double)e->weight;
	if (sums[1] < e->weight)
		return 0;
	*mean = e->centre + (double)sums[0] * (double)e->weight / (double)sums[1];
	*mean = fmin(fmax(*mean, (double)sc->lo), (double)sc->hi);
	return 1;
}

struct measured {
	double rmse, no_mean, count_rmse;
};

static struct measured
measure(struct tly_rng *rng, const struct scenario *sc, const struct encoding *e, long draws)
{
	double truth = total(sc->sum) / fmax(total(sc->count), 1), sq = 0, mean = 0, count = 0;
	double csq = 0;
	long shown = 0;

	for (long i = 0; i < draws; i++) {
		int has_mean = draw(rng, sc, e, &mean, &count);
		csq += (count - total(sc->count)) * (count - total(sc->count));
		if (has_mean) {
			sq += (mean - truth) * (mean - truth);
			shown++;
		}
	}
	return (struct measured){
	    shown > 0 && total(sc->count) >= 1 ? sqrt(sq / (double)shown) : NAN,
	    (double)(draws - shown) / (double)draws, sqrt(csq / (double)draws)};
}

static void
rows(struct tly_rng *rng, const struct scenario *sc, uint8_t mechanism, long draws)
{
	const char *mech = mechanism == TLY_MECH_LAPLACE ? "laplace eps=1" : "skellam rho=0.5";
	struct encoding before, after;
	char params[160], tag[200];

	encodings(sc, mechanism, &before, &after);
	snprintf(params, sizeof params, "%s; %s h=%d n=%d; truth %.3f of %.0f rows; w=%" PRId64,
	         sc->name, mech, HONEST, SITES, total(sc->sum) / fmax(total(sc->count), 1),
	         total(sc->count), after.weight);
	if (total(sc->count) >= 1) {
		double eb = expected_rmse(sc, &before), ea = expected_rmse(sc, &after);
		snprintf(tag, sizeof tag, "%s before", params);
		bench_row("mean", "rmse_expected", tag, eb, sc->unit, "", 0);
		snprintf(tag, sizeof tag, "%s after", params);
		bench_row("mean", "rmse_expected", tag, ea, sc->unit, "before", eb);
		bench_row("mean", "rmse_expected_gain", params, eb / ea, "x", "", 0);
	}
	struct measured mb = measure(rng, sc, &before, draws);
	struct measured ma = measure(rng, sc, &after, draws);
	snprintf(tag, sizeof tag, "%s before", params);
	if (isfinite(mb.rmse))
		bench_row("mean", "rmse_measured", tag, mb.rmse, sc->unit, "", 0);
	bench_row("mean", "no_mean", tag, mb.no_mean, "share", "", 0);
	bench_row("mean", "count_rmse", tag, mb.count_rmse, "rows", "", 0);
	snprintf(tag, sizeof tag, "%s after", params);
	if (isfinite(ma.rmse))
		bench_row("mean", "rmse_measured", tag, ma.rmse, sc->unit, "before", mb.rmse);
	bench_row("mean", "no_mean", tag, ma.no_mean, "share", "", 0);
	bench_row("mean", "count_rmse", tag, ma.count_rmse, "rows", "before", mb.count_rmse);
	if (isfinite(mb.rmse) && isfinite(ma.rmse) && ma.rmse > 0)
		bench_row("mean", "rmse_measured_gain", params, mb.rmse / ma.rmse, "x", "", 0);
}

int
main(void)
{
	struct tly_rng rng;
	/* Skellam's Poisson sampler costs time linear in its mean (about
	 * 3,600 a share before, on these bounds): fewer draws. */
	long draws = bench_pick(20000, 200), skellam_draws = bench_pick(4000, 200);

	if (tly_crypto_init() != TLY_OK)
		die("crypto init");
	load_truths();
	tly_rng_init(&rng);
	bench_header();
	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
		rows(&rng, &scenarios[i], TLY_MECH_LAPLACE, draws);
		rows(&rng, &scenarios[i], TLY_MECH_SKELLAM, skellam_draws);
	}
	tly_rng_fini(&rng);
	return 0;
}
