/*
 * The dry run's figures (coordinator/estimate.h) against the release of
 * the same spec (coordinator/release.h): for each measure, mechanism and
 * number of contributors, the half-width a dry run states is the one the
 * release prints (before disclosure control), and a mean's stated bound
 * holds for every mean a group of TLY_ESTIMATE_MEAN_GROUP can have. And the
 * answer's JSON keeps the contract the dashboard reads.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coordinator/estimate.h"
#include "coordinator/release.h"

static const char catalogue[] =
    "{\"datasets\": [{\"name\": \"patients\", \"columns\": ["
    "{\"name\": \"sex\", \"type\": \"categorical\", \"domain\": [\"F\", \"M\"]},"
    "{\"name\": \"age\", \"type\": \"integer\", \"min\": 0, \"max\": 110},"
    "{\"name\": \"wait_weeks\", \"type\": \"integer\", \"min\": 0, \"max\": 52}]}]}";

static const uint8_t query_id[TLY_QUERY_ID_BYTES] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                     9, 10, 11, 12, 13, 14, 15, 16};

struct fixture {
	struct tly_catalogue cat;
	struct tly_spec spec;
	struct tly_noise_params noise;
	uint32_t ids[8];
	struct tly_idlist contributors, dropped;
};

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(estimate, .init = setup);

static void
fixture_init(struct fixture *f, const char *query, uint32_t h, uint32_t n)
{
	struct tly_field_error err;
	struct tly_query q;
	uint64_t l1, l2sq;

	memset(f, 0, sizeof *f);
	cr_assert_eq(tly_catalogue_parse(&f->cat, catalogue, strlen(catalogue), &err), TLY_OK);
	cr_assert_eq(tly_spec_parse(&f->spec, &f->cat, query, strlen(query), &err), TLY_OK,
	             "%s: %s", err.field, err.reason);
	cr_assert_eq(tly_spec_sensitivity(&f->spec, &f->cat, &l1, &l2sq), TLY_OK);
	memset(&q, 0, sizeof q);
	q.protocol = TLY_PROTOCOL_COMMITTEE;
	q.mechanism = f->spec.mechanism;
	q.cells = (uint32_t)tly_spec_cells(&f->spec, &f->cat);
	q.privacy_num = f->spec.privacy_num;
	q.privacy_den = f->spec.privacy_den;
	q.sensitivity_l1 = l1;
	q.sensitivity_l2sq = l2sq;
	q.min_honest = h;
	cr_assert_eq(tly_noise_calibrate(&q, &f->noise), TLY_OK);
	for (uint32_t i = 0; i < n; i++)
		f->ids[i] = i + 1;
	f->contributors = (struct tly_idlist){n, f->ids};
	f->dropped = (struct tly_idlist){0, NULL};
}

static void
fixture_fini(struct fixture *f)
{
	tly_spec_fini(&f->spec);
	tly_catalogue_fini(&f->cat);
}

/* The release of cells (every cell the same pair or value). */
static json_t *
release(struct fixture *f, const int64_t *cells, size_t d)
{
	struct tly_release_input in = {.query_id = query_id,
	                               .spec = &f->spec,
	                               .cat = &f->cat,
	                               .noise = &f->noise,
	                               .cells = cells,
	                               .d = d,
	                               .contributors = &f->contributors,
	                               .dropped = &f->dropped};
	json_t *o = NULL;
	char why[256];

	cr_assert_eq(tly_release_build(&in, &o, why, sizeof why), TLY_OK, "%s", why);
	return o;
}

static const char *const queries[] = {
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"group_by\": [\"sex\"], "
    "\"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 0.5}}",
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"sum\", \"column\": \"age\"}, "
    "\"privacy\": {\"mechanism\": \"gaussian\", \"rho\": 0.1}}",
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"histogram\", \"column\": \"age\", "
    "\"edges\": [0, 18, 65, 110]}, \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, "
    "\"privacy\": {\"mechanism\": \"gaussian\", \"rho\": 0.02}}",
};

/* count, sum, histogram: the one figure's half-width is the release's
 * ci95 half-width, and a cell far from 0 is value -/+ it. */
Test(estimate, totals_agree_with_the_release)
{
	const uint32_t shapes[][2] = {{2, 2}, {2, 5}, {3, 3}, {1, 4}};
	int64_t cells[8];

	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
		for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; j++) {
			struct fixture f;
			struct tly_estimate e;
			char why[256];
			fixture_init(&f, queries[i], shapes[j][0], shapes[j][1]);
			cr_assert_eq(tly_estimate_figures(&f.spec, &f.cat, &f.noise, shapes[j][1],
			                                  &e, why, sizeof why),
			             TLY_OK, "%s", why);
			cr_assert_eq(e.figure_count, 1);
			cr_assert_str_eq(e.figures[0].figure, i == 1 ? "sum" : "count");
			size_t d = tly_spec_cells(&f.spec, &f.cat);
			for (size_t c = 0; c < d; c++)
				cells[c] = 1000000;
			json_t *o = release(&f, cells, d);
			json_t *ci =
			    json_object_get(json_array_get(json_object_get(o, "cells"), 0), "ci95");
			double k = e.figures[0].half_width95;
			cr_assert_eq(k,
			             (double)json_integer_value(json_object_get(
			                 json_object_get(o, "privacy"), "ci95_half_width")),
			             "query %zu, h %u n %u", i, shapes[j][0], shapes[j][1]);
			cr_assert_eq(json_integer_value(json_array_get(ci, 1)) - 1000000,
			             (json_int_t)k);
			cr_assert_eq(1000000 - json_integer_value(json_array_get(ci, 0)),
			             (json_int_t)k);
			json_decref(o);
			fixture_fini(&f);
		}
	}
}

/* A mean: its sum and count as the release's, and no released mean of a
 * group of 100 reaches further from its value than the stated bound (the
 * release rounds outward at two significant digits of the half-width:
 * a tenth of the bound is allowed for that). */
Test(estimate, mean_bound_holds_for_a_group_of_100)
{
	static const char query[] =
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"mean\", \"column\": "
	    "\"wait_weeks\"}, \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 5}}";
	struct fixture f;
	struct tly_estimate e;
	char why[256];
	double widest = 0;

	fixture_init(&f, query, 2, 3);
	cr_assert_eq(tly_estimate_figures(&f.spec, &f.cat, &f.noise, 3, &e, why, sizeof why),
	             TLY_OK, "%s", why);
	cr_assert_eq(e.figure_count, 3);
	cr_assert_str_eq(e.figures[0].figure, "sum");
	cr_assert_str_eq(e.figures[1].figure, "count");
	cr_assert_str_eq(e.figures[2].figure, "mean");
	cr_assert_eq(e.figures[2].group_size, TLY_ESTIMATE_MEAN_GROUP);
	cr_assert_not(e.figures[2].unbounded);
	double bound = e.figures[2].half_width95;
	struct tly_mean_encoding enc;
	tly_spec_mean_encoding(&f.spec, &f.cat, &enc);
	for (int64_t m = 0; m <= 52; m++) {
		/* the centred sum S' and the weighted count w C (spec.h) */
		const int64_t cells[] = {(m - enc.centre) * TLY_ESTIMATE_MEAN_GROUP,
		                         (int64_t)enc.weight * TLY_ESTIMATE_MEAN_GROUP};
		json_t *o = release(&f, cells, 2);
		json_t *c = json_array_get(json_object_get(o, "cells"), 0);
		json_t *ci = json_object_get(c, "ci95");
		double value = json_number_value(json_object_get(c, "value"));
		double lo = json_number_value(json_array_get(ci, 0));
		double hi = json_number_value(json_array_get(ci, 1));
		widest = fmax(widest, fmax(hi - value, value - lo));
		json_t *count_ci = json_object_get(json_object_get(c, "count"), "ci95");
		cr_assert_eq(json_number_value(json_array_get(count_ci, 1)) -
		                 TLY_ESTIMATE_MEAN_GROUP,
		             e.figures[1].half_width95, "m %lld", (long long)m);
		json_decref(o);
	}
	cr_assert_leq(widest, bound * 1.1, "widest %g, bound %g", widest, bound);
	cr_assert_geq(widest, bound * 0.5, "the bound is not loose: widest %g, bound %g", widest,
	              bound);
	fixture_fini(&f);
}

/* The dashboard's contract: the keys, and a refused describe (fewer
 * contributors than h) is an error, not a figure. */
Test(estimate, json_keeps_the_contract)
{
	struct fixture f;
	struct tly_estimate e;
	json_t *o;
	char why[256];

	fixture_init(&f, queries[1], 2, 3);
	cr_assert_eq(tly_estimate_figures(&f.spec, &f.cat, &f.noise, 1, &e, why, sizeof why),
	             TLY_EINVAL);
	cr_assert_eq(tly_estimate_figures(&f.spec, &f.cat, &f.noise, 3, &e, why, sizeof why),
	             TLY_OK, "%s", why);
	cr_assert_eq(tly_estimate_json(&f.spec, &f.cat, &f.noise, &e, &o), TLY_OK);
	cr_assert(json_is_true(json_object_get(o, "dry_run")));
	cr_assert_str_eq(json_string_value(json_object_get(o, "dataset")), "patients");
	cr_assert_str_eq(json_string_value(json_object_get(o, "protocol")), "committee");
	cr_assert_eq(json_integer_value(json_object_get(o, "contributors")), 3);
	json_t *p = json_object_get(o, "privacy");
	cr_assert_str_eq(json_string_value(json_object_get(p, "mechanism")), "skellam");
	cr_assert_float_eq(json_number_value(json_object_get(p, "rho")), 0.1, 1e-12);
	cr_assert_str_eq(json_string_value(json_object_get(p, "rho_exact")), "0.1");
	cr_assert(json_number_value(json_object_get(p, "epsilon")) > 0);
	json_t *fig = json_array_get(json_object_get(o, "figures"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(fig, "figure")), "sum");
	cr_assert_eq(json_number_value(json_object_get(fig, "half_width95")),
	             e.figures[0].half_width95);
	const char *words = json_string_value(json_object_get(o, "words"));
	cr_assert_not_null(words);
	cr_assert(strstr(words, "sum of age") != NULL, "%s", words);
	cr_assert(strstr(words, "rho 0.1 to each trust's budget") != NULL, "%s", words);
	cr_assert(strstr(words, "each sum within \xc2\xb1 ") != NULL, "%s", words);
	cr_assert(json_is_array(json_object_get(o, "filters")));
	json_decref(o);
	fixture_fini(&f);
}
