/* The auditor's world (audit_dp_impl.h): two neighbouring SQLite datasets
 * read by the node's evaluation, the query a coordinator would send, its
 * calibrated noise, and the coordinator's release of a noisy total. */
#include "audit_dp_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "coordinator/release.h"
#include "crypto/frac.h"
#include "node/config.h"
#include "node/eval.h"
#include "query/budget.h"

const char *const tly_audit_dp_mechanisms[TLY_AUDIT_DP_MECHANISMS] = {
    "count-laplace", "sum-laplace", "mean-laplace", "histogram-laplace", "rate-laplace",
    "count-skellam", "sum-skellam", "mean-skellam", "histogram-skellam", "rate-skellam",
};

/* The columns both datasets declare (a node config's [dataset] section). */
static const char config_text[] =
    "[node]\nid = 1\ncoordinator = audit\nsign_key = unused\nkx_key = unused\nledger = unused\n"
    "[dataset people]\npath = %s\ntable = people\nperson_id = person_id\nopt_out = opted_out\n"
    "column.age = integer 0 100\ncolumn.visits = integer 0 5\n"
    "column.cost = integer 0 100000\ncolumn.sex = categorical F,M\n"
    "column.flag = categorical 0,1\n";

enum { BASE_PEOPLE = 40 };

/* D: BASE_PEOPLE people with spread-out values (and one opted out, whom
 * every answer leaves out); D': the same and one more, at the top of every
 * bound (age 100, 5 visits, cost 100000, in the rate's numerator), the
 * person whose presence the release must hide. */
static int
write_people(sqlite3 *db, int neighbour)
{
	char sql[256];
	int rc = sqlite3_exec(db,
	                      "CREATE TABLE people (person_id TEXT, age INTEGER, visits INTEGER, "
	                      "cost INTEGER, sex TEXT, flag INTEGER, opted_out INTEGER)",
	                      NULL, NULL, NULL);

	for (int i = 0; rc == SQLITE_OK && i < BASE_PEOPLE; i++) {
		snprintf(sql, sizeof sql,
		         "INSERT INTO people VALUES ('p%02d', %d, %d, %d, '%s', %d, %d)", i,
		         (i * 37) % 101, i % 6, (i * 7919) % 100001, i % 2 ? "F" : "M", i % 3 == 0,
		         i == 7);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK && neighbour)
		rc = sqlite3_exec(db,
		                  "INSERT INTO people VALUES ('added', 100, 5, 100000, 'F', 1, 0)",
		                  NULL, NULL, NULL);
	return rc;
}

static tly_err
write_dataset(const char *path, int neighbour, char *why, size_t why_len)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);

	if (rc == SQLITE_OK)
		rc = write_people(db, neighbour);
	if (rc != SQLITE_OK)
		tly_say(why, why_len, "cannot write the audit's dataset %s: %s", path,
		        db != NULL ? sqlite3_errmsg(db) : "out of memory");
	sqlite3_close(db);
	return rc == SQLITE_OK ? TLY_OK : TLY_EIO;
}

/* The node's exact answer on one dataset: the config a trust would write
 * for the file, its store, tly_eval. */
static tly_err
evaluate(struct dp_world *w, const char *dir, const char *file, int64_t *cells, char *why,
         size_t why_len)
{
	struct tly_node_config cfg;
	struct tly_field_error err;
	struct tly_store *store = NULL;
	struct tly_eval_stats stats;
	char text[sizeof config_text + 64];
	tly_err rv;

	snprintf(text, sizeof text, config_text, file);
	if ((rv = tly_node_config_parse(&cfg, text, "audit.conf", dir, &err)) != TLY_OK)
		return tly_fail(why, why_len, rv, "the audit's node config: %s: %s", err.field,
		                err.reason);
	rv = tly_store_open(&store, &cfg.datasets[0], why, why_len);
	if (rv == TLY_OK && (rv = tly_store_begin(store, why, why_len)) == TLY_OK) {
		rv = tly_eval(store, &w->spec, &w->cat, cells, w->d, &stats, why, why_len);
		tly_store_end(store);
	}
	tly_store_close(store);
	tly_node_config_fini(&cfg);
	return rv;
}

/* The catalogue, from the same config text (no file is read). */
static tly_err
catalogue(struct dp_world *w, char *why, size_t why_len)
{
	struct tly_node_config cfg;
	struct tly_field_error err;
	char text[sizeof config_text + 64];
	tly_err rv;

	snprintf(text, sizeof text, config_text, "unused.db");
	if ((rv = tly_node_config_parse(&cfg, text, "audit.conf", "/", &err)) != TLY_OK)
		return tly_fail(why, why_len, rv, "the audit's node config: %s: %s", err.field,
		                err.reason);
	rv = tly_node_config_catalogue(&cfg, &w->cat);
	tly_node_config_fini(&cfg);
	return rv;
}

/* The query JSON of measure m with the privacy figure `figure`. */
static void
query_json(char *out, size_t len, enum audit_measure m, int skellam, const char *figure,
           const char *column)
{
	static const char *const measures[] = {
	    [AUDIT_COUNT] = "{\"op\": \"count\"}",
	    [AUDIT_SUM] = "{\"op\": \"sum\", \"column\": \"%s\"}",
	    [AUDIT_MEAN] = "{\"op\": \"mean\", \"column\": \"%s\"}",
	    [AUDIT_HISTOGRAM] = "{\"op\": \"histogram\", \"column\": \"age\", "
	                        "\"edges\": [0, 25, 50, 75, 100]}",
	    [AUDIT_RATE] = "{\"op\": \"rate\", \"numerator\": [{\"column\": \"flag\", \"op\": "
	                   "\"=\", \"value\": 1}], \"per\": 1000}",
	};
	char measure[256];

	snprintf(measure, sizeof measure, measures[m], column);
	snprintf(out, len,
	         "{\"dataset\": \"people\", \"measure\": %s, \"privacy\": {\"mechanism\": "
	         "\"%s\", \"%s\": %s}}",
	         measure, skellam ? "gaussian" : "laplace", skellam ? "rho" : "epsilon", figure);
}

/* Parse the query with `figure` and calibrate its noise as a node does
 * (the QUERY's numbers: mechanism, figure, sensitivities, min_honest). */
static tly_err
calibrate(struct dp_world *w, struct tly_spec *spec, const char *figure, const char *option,
          const struct tly_audit_dp_options *o, struct tly_noise_params *out, char *why,
          size_t why_len)
{
	struct tly_field_error err;
	struct tly_query q;
	char json[1024];
	tly_err rv;

	query_json(json, sizeof json, w->measure, w->skellam, figure, o->column);
	if ((rv = tly_spec_parse(spec, &w->cat, json, strlen(json), &err)) != TLY_OK)
		return tly_fail(why, why_len, rv, "%s %s: %s: %s", option, figure, err.field,
		                err.reason);
	memset(&q, 0, sizeof q);
	q.mechanism = spec->mechanism;
	q.privacy_num = spec->privacy_num;
	q.privacy_den = spec->privacy_den;
	q.min_honest = o->honest;
	q.cells = (uint32_t)tly_spec_cells(spec, &w->cat);
	if ((rv = tly_spec_sensitivity(spec, &w->cat, &q.sensitivity_l1, &q.sensitivity_l2sq)) ==
	    TLY_OK)
		rv = tly_noise_calibrate(&q, out);
	if (rv != TLY_OK) {
		tly_spec_fini(spec);
		memset(spec, 0, sizeof *spec);
		return tly_fail(why, why_len, rv, "%s %s: the noise cannot be calibrated: %s",
		                option, figure, tly_strerror(rv));
	}
	return TLY_OK;
}

/* The two datasets in a fresh folder of their own (mkdtemp's template:
 * TMPDIR or /tmp, "tally-audit-dp-" and six random characters), evaluated,
 * then removed again. */
static tly_err
evaluate_both(struct dp_world *w, char *why, size_t why_len)
{
	static const char *const files[2] = {"d.db", "d-neighbour.db"};
	const char *tmp = getenv("TMPDIR");
	char dir[512], path[600];
	tly_err rv = TLY_OK;

	snprintf(dir, sizeof dir, "%s/tally-audit-dp-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return tly_fail(why, why_len, TLY_EIO, "cannot make a temporary folder in %s",
		                tmp != NULL && *tmp ? tmp : "/tmp");
	for (int s = 0; s < 2 && rv == TLY_OK; s++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[s]);
		if ((rv = write_dataset(path, s, why, why_len)) == TLY_OK)
			rv = evaluate(w, dir, files[s], w->cells[s], why, why_len);
	}
	for (int s = 0; s < 2; s++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[s]);
		unlink(path);
	}
	rmdir(dir);
	return rv;
}

/* Which cell the audit reads: the one the added person changes (a
 * histogram's bin; the first cell of a mean's or a rate's pair). */
static tly_err
choose_figure(struct dp_world *w, char *why, size_t why_len)
{
	size_t i = 0;

	while (i < w->d && w->cells[0][i] == w->cells[1][i])
		i++;
	if (i == w->d)
		return tly_fail(why, why_len, TLY_EINVAL,
		                "the neighbouring datasets give the same cells");
	w->key_cells = w->measure == AUDIT_MEAN || w->measure == AUDIT_RATE ? 2 : 1;
	w->key_first = w->key_cells == 2 ? 0 : i;
	w->figure = w->measure == AUDIT_HISTOGRAM ? i : 0;
	for (int s = 0; s < 2; s++) {
		int64_t total = 0;
		for (uint32_t n = 0; n < w->nodes; n++)
			total += w->cells[n == 0 ? s : 0][w->key_first];
		w->truth_cell[s] = total;
	}
	return TLY_OK;
}

/* delta as a fraction of 10^12, reduced. */
static struct tly_fraction
delta_fraction(double delta)
{
	uint64_t num = (uint64_t)llround(delta * 1e12), den = UINT64_C(1000000000000);

	while (num != 0 && num % 2 == 0 && den % 2 == 0) {
		num /= 2;
		den /= 2;
	}
	while (num != 0 && num % 5 == 0 && den % 5 == 0) {
		num /= 5;
		den /= 5;
	}
	return (struct tly_fraction){num, den};
}

/* The claim: epsilon, or rho and its cdp2adp epsilon at delta. */
static tly_err
claim(const struct dp_world *w, const struct tly_audit_dp_options *o,
      struct tly_audit_dp_result *out, char *why, size_t why_len)
{
	double ratio = (double)w->claimed.privacy_num / (double)w->claimed.privacy_den;
	struct tly_noise_info info;
	tly_err rv;

	out->skellam = w->skellam;
	out->epsilon_claimed = ratio;
	if (w->skellam) {
		struct tly_fraction rho = {w->claimed.privacy_num, w->claimed.privacy_den};
		out->rho = ratio;
		out->delta = o->delta;
		if ((rv = tly_budget_cdp2adp(rho, delta_fraction(o->delta),
		                             &out->epsilon_claimed)) != TLY_OK)
			return tly_fail(why, why_len, rv, "--delta %g: cdp2adp fails: %s", o->delta,
			                tly_strerror(rv));
	}
	if ((rv = tly_noise_describe(&w->drawn, w->drawn.h, &info)) != TLY_OK)
		return tly_fail(why, why_len, rv, "cannot describe the noise: %s",
		                tly_strerror(rv));
	/* The audited total holds honest_drawing of the h shares (fewer for
	 * share-alone); a share's variance is the target's over h, for both
	 * noises (query/noise.h). */
	out->noise_sd = sqrt(info.target_variance * (double)w->honest_drawing / (double)w->drawn.h);
	return TLY_OK;
}

static tly_err
release_value(const struct dp_world *w, const int64_t *noisy, double *value)
{
	struct tly_release_input in = {.query_id = w->query_id,
	                               .spec = &w->spec,
	                               .cat = &w->cat,
	                               .noise = &w->claimed,
	                               .cells = noisy,
	                               .d = w->d,
	                               .contributors = &w->contributors};
	json_t *release = NULL, *v;
	tly_err rv = tly_release_build(&in, &release, NULL, 0);

	if (rv != TLY_OK)
		return rv;
	v = json_object_get(json_array_get(json_object_get(release, "cells"), w->figure), "value");
	if (v == NULL || (!json_is_number(v) && !json_is_null(v)))
		rv = TLY_EFORMAT;
	else
		*value = json_is_null(v) ? -INFINITY : json_number_value(v);
	json_decref(release);
	return rv;
}

tly_err
dp_world_release(const struct dp_world *w, const int64_t *noisy, double *value)
{
	return release_value(w, noisy, value);
}

static tly_err
contributors(struct dp_world *w)
{
	w->contributors.ids = calloc(w->nodes, sizeof *w->contributors.ids);
	if (w->contributors.ids == NULL)
		return TLY_ENOMEM;
	w->contributors.count = w->nodes;
	for (uint32_t i = 0; i < w->nodes; i++)
		w->contributors.ids[i] = i + 1;
	return TLY_OK;
}

/* The noise-free release under D and D' (the audited value's truth). */
static tly_err
truths(const struct dp_world *w, struct tly_audit_dp_result *out, char *why, size_t why_len)
{
	int64_t *total = calloc(w->d, sizeof *total);
	tly_err rv = total == NULL ? TLY_ENOMEM : TLY_OK;

	for (int s = 0; s < 2 && rv == TLY_OK; s++) {
		for (size_t i = 0; i < w->d; i++) {
			total[i] = 0;
			for (uint32_t n = 0; n < w->nodes; n++)
				total[i] += w->cells[n == 0 ? s : 0][i];
		}
		rv = release_value(w, total, &out->truth[s]);
	}
	free(total);
	if (rv != TLY_OK)
		tly_say(why, why_len, "cannot release the noise-free totals: %s", tly_strerror(rv));
	return rv;
}

static tly_err
check_options(const struct tly_audit_dp_options *o, char *why, size_t why_len)
{
	if (o->draws < 2)
		return tly_fail(why, why_len, TLY_EINVAL,
		                "--draws: at least 2 (half of them choose "
		                "the event, half test it)");
	if (o->nodes < 1 || o->nodes > TLY_AUDIT_DP_MAX_NODES)
		return tly_fail(why, why_len, TLY_EINVAL, "--nodes: 1 to %d",
		                TLY_AUDIT_DP_MAX_NODES);
	if (o->honest < 1 || o->honest > o->nodes)
		return tly_fail(why, why_len, TLY_EINVAL, "--honest: 1 to --nodes (%u)", o->nodes);
	if (!(o->confidence > 0 && o->confidence < 1))
		return tly_fail(why, why_len, TLY_EINVAL, "--confidence: strictly between 0 and 1");
	if (!(o->delta > 0 && o->delta < 1))
		return tly_fail(why, why_len, TLY_EINVAL, "--delta: strictly between 0 and 1");
	if (o->threads < 1 || o->threads > TLY_AUDIT_DP_MAX_THREADS)
		return tly_fail(why, why_len, TLY_EINVAL, "--threads: 1 to %d",
		                TLY_AUDIT_DP_MAX_THREADS);
	return TLY_OK;
}

tly_err
dp_world_init(struct dp_world *w, size_t m, const struct tly_audit_dp_options *o,
              struct tly_audit_dp_result *out, char *why, size_t why_len)
{
	const char *figure, *drawn;
	struct tly_spec drawn_spec;
	tly_err rv;

	memset(w, 0, sizeof *w);
	if ((rv = check_options(o, why, why_len)) != TLY_OK)
		return rv;
	w->measure = (enum audit_measure)(m % 5);
	w->skellam = m >= 5;
	w->nodes = o->nodes;
	w->honest_drawing = o->fault == TLY_AUDIT_DP_FAULT_SHARE_ALONE ? 1 : o->honest;
	w->sampler = o->sampler;
	figure = w->skellam ? o->rho : o->epsilon;
	drawn = o->calibrate[0] != '\0' ? o->calibrate : figure;
	if ((rv = catalogue(w, why, why_len)) != TLY_OK ||
	    (rv = calibrate(w, &w->spec, figure, w->skellam ? "--rho" : "--epsilon", o, &w->claimed,
	                    why, why_len)) != TLY_OK)
		return rv;
	if ((rv = calibrate(w, &drawn_spec, drawn, "--calibrate", o, &w->drawn, why, why_len)) !=
	    TLY_OK)
		return rv;
	tly_spec_fini(&drawn_spec);
	w->d = tly_spec_cells(&w->spec, &w->cat);
	w->cells[0] = calloc(w->d, sizeof(int64_t));
	w->cells[1] = calloc(w->d, sizeof(int64_t));
	if (w->cells[0] == NULL || w->cells[1] == NULL || contributors(w) != TLY_OK)
		return tly_fail(why, why_len, TLY_ENOMEM, "out of memory");
	if ((rv = evaluate_both(w, why, why_len)) != TLY_OK ||
	    (rv = choose_figure(w, why, why_len)) != TLY_OK ||
	    (rv = claim(w, o, out, why, why_len)) != TLY_OK)
		return rv;
	return truths(w, out, why, why_len);
}

void
dp_world_fini(struct dp_world *w)
{
	tly_spec_fini(&w->spec);
	tly_catalogue_fini(&w->cat);
	free(w->cells[0]);
	free(w->cells[1]);
	tly_idlist_fini(&w->contributors);
	memset(w, 0, sizeof *w);
}
