/*
 * The rate and dsr cells of a release (coordinator/release_rate.h).
 *
 * dsr_equals_an_independent_computation: the demo's question (diabetes
 * per 100,000, by IMD decile, age-standardised to ESP 2013) on `tally
 * synth` data, evaluated by the node's code and released without noise
 * (mechanism none), against a second computation from the raw rows: its
 * own SQL (ages banded with CASE, not the node's MIN/MAX) and its own
 * Dobson limits (phe_dsr's formulas, written out here), at z = 1.96 as
 * phe_dsr's 95%. They must agree to the release's rounding.
 *
 * The other tests check the JSON of a rate by hand: parts, comparison,
 * suppression, rounding of the parts.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "coordinator/release.h"
#include "node/eval.h"

static const uint8_t query_id[TLY_QUERY_ID_BYTES] = {1, 2, 3};

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(release_rate, .init = setup, .timeout = 300);

struct fixture {
	struct tly_catalogue cat;
	struct tly_spec spec;
	struct tly_noise_params noise;
	uint32_t ids[3];
	struct tly_idlist contributors;
};

static void
fixture_init(struct fixture *f, const char *catalogue, const char *query)
{
	struct tly_field_error err;

	memset(f, 0, sizeof *f);
	cr_assert_eq(tly_catalogue_parse(&f->cat, catalogue, strlen(catalogue), &err), TLY_OK,
	             "%s: %s", err.field, err.reason);
	cr_assert_eq(tly_spec_parse(&f->spec, &f->cat, query, strlen(query), &err), TLY_OK,
	             "%s: %s", err.field, err.reason);
	f->noise.mechanism = TLY_MECH_NONE;
	f->noise.h = 1;
	f->ids[0] = 1;
	f->contributors = (struct tly_idlist){1, f->ids};
}

static json_t *
release(struct fixture *f, const int64_t *cells, size_t d, struct tly_release_sdc sdc)
{
	struct tly_release_input in = {.query_id = query_id,
	                               .spec = &f->spec,
	                               .cat = &f->cat,
	                               .noise = &f->noise,
	                               .cells = cells,
	                               .d = d,
	                               .contributors = &f->contributors,
	                               .sdc = sdc};
	char why[256];
	json_t *o = NULL;

	cr_assert_eq(tly_release_build(&in, &o, why, sizeof why), TLY_OK, "%s", why);
	return o;
}

static double
num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

static double
end(json_t *cell, size_t i)
{
	json_t *v = json_array_get(json_object_get(cell, "ci95"), i);
	cr_assert(json_is_number(v), "ci95[%zu] is not a number", i);
	return json_number_value(v);
}

/* ---- the rate's JSON ---- */

static const char small_catalogue[] =
    "{\"datasets\": [{\"name\": \"p\", \"columns\": ["
    "{\"name\": \"area\", \"type\": \"categorical\", \"domain\": [\"a\", \"b\", \"c\"]},"
    "{\"name\": \"ill\", \"type\": \"categorical\", \"domain\": [\"0\", \"1\"]}]}]}";

Test(release_rate, rate_cells_parts_and_ratio)
{
	struct fixture f;
	/* a: 65 of 100; b: 30 of 100 (reference); c: 0 after noise */
	int64_t cells[6] = {65, 35, 30, 70, 0, 0};
	fixture_init(&f, small_catalogue,
	             "{\"dataset\": \"p\", \"measure\": {\"op\": \"rate\", \"per\": 100,"
	             " \"numerator\": [{\"column\": \"ill\", \"op\": \"=\", \"value\": 1}]},"
	             " \"group_by\": [\"area\"], \"compare\": {\"to\": {\"area\": \"b\"},"
	             " \"as\": \"ratio\"}, \"privacy\": {\"mechanism\": \"laplace\", "
	             "\"epsilon\": 1}}");
	json_t *o = release(&f, cells, 6, (struct tly_release_sdc){0, 0});
	json_t *a = json_array_get(json_object_get(o, "cells"), 0);
	json_t *b = json_array_get(json_object_get(o, "cells"), 1);
	json_t *c = json_array_get(json_object_get(o, "cells"), 2);

	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "measure"), "op")),
	                 "rate");
	cr_assert_float_eq(num(a, "value"), 65, 1e-9);
	/* Wilson 95% for 65/100: [55.254, 73.636]; rounded outwards to 2 decimals */
	cr_assert_float_eq(end(a, 0), 55.25, 1e-9);
	cr_assert_float_eq(end(a, 1), 73.64, 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(a, "numerator"), "value")),
	             65);
	cr_assert_eq(
	    json_integer_value(json_object_get(json_object_get(a, "denominator"), "value")), 100);
	json_t *ratio = json_object_get(a, "ratio");
	cr_assert_float_eq(num(ratio, "value"), 65.0 / 30, 1e-2);
	cr_assert_lt(end(ratio, 0), 65.0 / 30);
	cr_assert_gt(end(ratio, 1), 65.0 / 30);
	cr_assert_eq(json_object_get(b, "reference"), json_true());
	cr_assert(json_is_null(json_object_get(c, "value")), "no one in c");
	cr_assert(json_is_string(json_object_get(c, "note")));
	cr_assert(json_is_null(json_object_get(c, "ratio")));
	json_decref(o);

	o = release(&f, cells, 6, (struct tly_release_sdc){.suppress_below = 101, .round_to = 0});
	a = json_array_get(json_object_get(o, "cells"), 0);
	cr_assert_eq(json_object_get(a, "suppressed"), json_true(), "denominator 100 < 101");
	cr_assert(json_is_null(json_object_get(a, "value")));
	json_decref(o);

	o = release(&f, cells, 6, (struct tly_release_sdc){.suppress_below = 0, .round_to = 10});
	a = json_array_get(json_object_get(o, "cells"), 0);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(a, "numerator"), "value")),
	             70, "65 to the nearest 10 (halves away from 0)");
	cr_assert_float_eq(num(a, "value"), 65, 1e-9, "the rate itself is not rounded");
	json_decref(o);
	tly_spec_fini(&f.spec);
	tly_catalogue_fini(&f.cat);
}

/* ---- dsr against an independent computation on the synthetic truth ---- */

static const char synth_catalogue[] =
    "{\"datasets\": [{\"name\": \"patients\", \"columns\": ["
    "{\"name\": \"age\", \"type\": \"integer\", \"min\": 0, \"max\": 110},"
    "{\"name\": \"imd_decile\", \"type\": \"categorical\", \"domain\": [\"1\",\"2\",\"3\","
    "\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\"]},"
    "{\"name\": \"has_diabetes\", \"type\": \"categorical\", \"domain\": [\"0\", \"1\"]}]}]}";

static const char dsr_query[] =
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"dsr\", \"age_column\": \"age\","
    " \"numerator\": [{\"column\": \"has_diabetes\", \"op\": \"=\", \"value\": 1}]},"
    " \"group_by\": [\"imd_decile\"], \"privacy\": {\"mechanism\": \"laplace\", "
    "\"epsilon\": 1}}";

struct truth {
	double events[10][19], pop[10][19];
};

/* The raw rows, counted by a query of this test's own. */
static void
read_truth(const char *db_path, struct truth *t)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	memset(t, 0, sizeof *t);
	cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db,
	                                "SELECT imd_decile, CASE WHEN age >= 90 THEN 18 "
	                                "ELSE age / 5 END AS esp, SUM(has_diabetes = 1), COUNT(*) "
	                                "FROM patients WHERE NOT COALESCE(opted_out, 0) AND age "
	                                "IS NOT NULL GROUP BY imd_decile, esp",
	                                -1, &st, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW) {
		int decile = sqlite3_column_int(st, 0), band = sqlite3_column_int(st, 1);
		cr_assert(decile >= 1 && decile <= 10 && band >= 0 && band < 19);
		t->events[decile - 1][band] = sqlite3_column_double(st, 2);
		t->pop[decile - 1][band] = sqlite3_column_double(st, 3);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* phe_dsr (PHEindicatormethods, R/phe_DSR.R): value = sum(x w / n) /
 * sum(w) m; vardsr = sum(x (w / n)^2) / sum(w)^2; limits value +
 * sqrt(vardsr / O) (byars(O) - O) m, O = sum(x); Byar's lower O (1 -
 * 1/(9 O) - z/(3 sqrt(O)))^3, upper (O + 1)(1 - 1/(9(O + 1)) + z/(3
 * sqrt(O + 1)))^3. */
static void
phe_dsr(const double *x, const double *n, double *value, double *lo, double *hi)
{
	static const double esp[19] = {5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
	                               7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000};
	double z = 1.959963984540054, w = 0, rate = 0, var = 0, o = 0;

	for (int k = 0; k < 19; k++) {
		w += esp[k];
		cr_assert_gt(n[k], 0, "phe_dsr needs every band populated (band %d)", k);
		rate += x[k] * esp[k] / n[k];
		var += x[k] * (esp[k] / n[k]) * (esp[k] / n[k]);
		o += x[k];
	}
	*value = rate / w;
	var /= w * w;
	double bl = o * pow(1 - 1 / (9 * o) - z / (3 * sqrt(o)), 3);
	double bu = (o + 1) * pow(1 - 1 / (9 * (o + 1)) + z / (3 * sqrt(o + 1)), 3);
	*lo = *value + sqrt(var / o) * (bl - o);
	*hi = *value + sqrt(var / o) * (bu - o);
}

/* The node's evaluation of dsr_query on db_path (node/eval.h). */
static void
node_cells(const char *db_path, const struct fixture *f, int64_t *cells, size_t d)
{
	struct tly_node_config cfg;
	struct tly_field_error err;
	struct tly_eval_stats stats;
	struct tly_store *store;
	char conf[1024], why[300];

	snprintf(conf, sizeof conf,
	         "[node]\nid = 1\ncoordinator = x\nsign_key = a\nkx_key = b\nledger = c\n"
	         "[dataset patients]\npath = %s\ntable = patients\nperson_id = person_id\n"
	         "opt_out = opted_out\ncolumn.age = integer 0 110\n"
	         "column.imd_decile = categorical 1,2,3,4,5,6,7,8,9,10\n"
	         "column.has_diabetes = categorical 0,1\n",
	         db_path);
	cr_assert_eq(tly_node_config_parse(&cfg, conf, "t.conf", "/", &err), TLY_OK, "%s",
	             err.reason);
	cr_assert_eq(tly_store_open(&store, &cfg.datasets[0], why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_store_begin(store, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_eval(store, &f->spec, &f->cat, cells, d, &stats, why, sizeof why), TLY_OK,
	             "%s", why);
	tly_store_end(store);
	tly_store_close(store);
	tly_node_config_fini(&cfg);
}

Test(release_rate, dsr_equals_an_independent_computation)
{
	const char *bin = getenv("TALLY_BIN") ? getenv("TALLY_BIN") : "build/bin";
	char dir[] = "/tmp/tally-dsr-XXXXXX", cmd[512], db[300];
	struct fixture f;
	struct truth *t = malloc(sizeof *t);
	int64_t cells[10 * 38];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof cmd,
	         "%s/tally synth --sites 1 --people 40000 --seed 7 --out %s --quiet >/dev/null",
	         bin, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(db, sizeof db, "%s/site-1/patients.db", dir);
	fixture_init(&f, synth_catalogue, dsr_query);
	node_cells(db, &f, cells, 10 * 38);
	read_truth(db, t);
	json_t *o = release(&f, cells, 10 * 38, (struct tly_release_sdc){0, 0});
	for (size_t g = 0; g < 10; g++) {
		json_t *cell = json_array_get(json_object_get(o, "cells"), g);
		double value, lo, hi;
		phe_dsr(t->events[g], t->pop[g], &value, &lo, &hi);
		value *= 100000, lo *= 100000, hi *= 100000;
		/* the release keeps 3 significant digits of the half-width */
		double unit = (hi - lo) / 2 / 100;
		cr_log_info("decile %zu: %.2f [%.2f, %.2f], released %.2f [%.2f, %.2f]", g + 1,
		            value, lo, hi, num(cell, "value"), end(cell, 0), end(cell, 1));
		cr_assert(fabs(num(cell, "value") - value) <= unit, "decile %zu value", g + 1);
		cr_assert(fabs(end(cell, 0) - lo) <= unit, "decile %zu lower", g + 1);
		cr_assert(fabs(end(cell, 1) - hi) <= unit, "decile %zu upper", g + 1);
	}
	json_decref(o);
	tly_spec_fini(&f.spec);
	tly_catalogue_fini(&f.cat);
	free(t);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
