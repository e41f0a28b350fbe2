/*
 * The result JSON of a finished query (coordinator/release.h): each
 * measure against values worked out by hand, disclosure control, refusals.
 *
 * Hand values. Discrete Laplace with alpha = exp(-epsilon/L1), the total of
 * n = h shares: P(|X| >= m) = 2 alpha^m / (1 + alpha), so the 95%
 * half-width is the smallest k with 2 alpha^(k+1)/(1 + alpha) <= 0.05 and
 * the 97.5% one with <= 0.025; variance 2 alpha/(1 - alpha)^2.
 *   epsilon 1, L1 = 1  (count):           k95 = 3,   sd 1.357
 *   epsilon 1, L1 = 10 (sum over [-10,10]): k95 = 30
 *   epsilon 1, L1 = 44 (mean over [0,52]: c = 26, B' = 26, w = 18, L1 =
 *     B' + w): k95 = 132, k97.5 = 162
 * A mean's cells are S' = sum - 26 count and 18 count (query/spec.h).
 *
 * Statistical suite (name contains "stats", left out under valgrind): the
 * mean's interval must cover the true mean in at least 95% of TRIALS
 * simulated releases, less COVERAGE_SLACK (3 standard errors of a 95%
 * proportion over TRIALS: 0.0146), for Laplace and Skellam noise, n = h and
 * n > h, small and large counts. The same simulations must show a too
 * narrow interval (half-widths divided by 4) falling well below 95%, so the
 * check can fail.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coordinator/release.h"
#include "crypto/dp.h"
#include "crypto/dp_quantile.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"

enum { TRIALS = 2500 };
#define COVERAGE_SLACK 0.0146

static const char catalogue[] =
    "{\"datasets\": [{\"name\": \"patients\", \"columns\": ["
    "{\"name\": \"sex\", \"type\": \"categorical\", \"domain\": [\"F\", \"M\"]},"
    "{\"name\": \"band\", \"type\": \"categorical\", \"domain\": [\"young\", \"old\"]},"
    "{\"name\": \"age\", \"type\": \"integer\", \"min\": 0, \"max\": 110},"
    "{\"name\": \"wait_weeks\", \"type\": \"integer\", \"min\": 0, \"max\": 52},"
    "{\"name\": \"delta\", \"type\": \"integer\", \"min\": -10, \"max\": 10},"
    "{\"name\": \"loss\", \"type\": \"integer\", \"min\": -10, \"max\": 0}]}]}";

static const uint8_t query_id[TLY_QUERY_ID_BYTES] = {0xab, 0xcd, 1, 2,  3,  4,  5,  6,
                                                     7,    8,    9, 10, 11, 12, 13, 14};

struct fixture {
	struct tly_catalogue cat;
	struct tly_spec spec;
	struct tly_noise_params noise;
	uint32_t ids[8];
	struct tly_idlist contributors;
	struct tly_idlist dropped;
};

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(release, .init = setup);
TestSuite(release_stats, .init = setup, .timeout = 300);

/* Parse the query, calibrate its noise for h, and take n contributors. */
static void
fixture_init(struct fixture *f, const char *query, uint32_t h, uint32_t n)
{
	struct tly_field_error err;
	struct tly_query q;
	uint64_t l1, l2sq;

	memset(f, 0, sizeof *f);
	cr_assert_eq(tly_catalogue_parse(&f->cat, catalogue, strlen(catalogue), &err), TLY_OK,
	             "%s: %s", err.field, err.reason);
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
	cr_assert(n <= 8);
	for (uint32_t i = 0; i < n; i++)
		f->ids[i] = i + 1;
	f->contributors = (struct tly_idlist){n, f->ids};
	f->dropped = (struct tly_idlist){n < 8 ? 1 : 0, &f->ids[7]};
	f->ids[7] = 8;
}

static void
fixture_fini(struct fixture *f)
{
	tly_spec_fini(&f->spec);
	tly_catalogue_fini(&f->cat);
}

static struct tly_release_input
input(struct fixture *f, const int64_t *cells, size_t d, struct tly_release_sdc sdc)
{
	return (struct tly_release_input){.query_id = query_id,
	                                  .spec = &f->spec,
	                                  .cat = &f->cat,
	                                  .noise = &f->noise,
	                                  .cells = cells,
	                                  .d = d,
	                                  .contributors = &f->contributors,
	                                  .dropped = &f->dropped,
	                                  .sdc = sdc};
}

/* Release, serialise, parse back. */
static json_t *
release(struct fixture *f, const int64_t *cells, size_t d, struct tly_release_sdc sdc)
{
	struct tly_release_input in = input(f, cells, d, sdc);
	char why[256], *text = NULL;
	json_error_t jerr;

	cr_assert_eq(tly_release_encode(&in, &text, why, sizeof why), TLY_OK, "%s", why);
	json_t *o = json_loads(text, 0, &jerr);
	cr_assert_not_null(o, "%s: %s", text, jerr.text);
	free(text);
	return o;
}

static json_t *
cell(json_t *o, size_t i)
{
	json_t *c = json_array_get(json_object_get(o, "cells"), i);
	cr_assert_not_null(c, "cell %zu", i);
	return c;
}

static json_int_t
integer(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static double
number(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

static const char *
string(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static void
expect_interval(json_t *c, double lo, double hi)
{
	json_t *ci = json_object_get(c, "ci95");
	cr_assert(json_is_array(ci) && json_array_size(ci) == 2, "ci95 is not a pair");
	double got_lo = json_number_value(json_array_get(ci, 0));
	double got_hi = json_number_value(json_array_get(ci, 1));
	cr_assert(fabs(got_lo - lo) < 1e-9 && fabs(got_hi - hi) < 1e-9,
	          "ci95 [%g, %g], expected [%g, %g]", got_lo, got_hi, lo, hi);
}

static const struct tly_release_sdc no_sdc = {0, 0};

Test(release, count_by_group)
{
	struct fixture f;
	fixture_init(
	    &f,
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"group_by\": [\"sex\"],"
	    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	    2, 2);
	const int64_t cells[] = {10, -2};
	json_t *o = release(&f, cells, 2, no_sdc);

	cr_assert_str_eq(string(o, "query_id"), "abcd0102030405060708090a0b0c0d0e");
	cr_assert_str_eq(string(o, "dataset"), "patients");
	cr_assert_str_eq(string(json_object_get(o, "measure"), "op"), "count");
	cr_assert_eq(integer(o, "contributors"), 2);
	cr_assert_eq(json_array_size(json_object_get(o, "dropped")), 1);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(o, "dropped"), 0)), 8);
	json_t *p = json_object_get(o, "privacy");
	cr_assert_str_eq(string(p, "mechanism"), "laplace");
	cr_assert_eq(number(p, "epsilon"), 1.0);
	cr_assert_str_eq(string(p, "epsilon_exact"), "1");
	cr_assert_eq(number(p, "delta"), 0.0);
	cr_assert_eq(integer(p, "min_honest"), 2);
	cr_assert_eq(number(p, "noise_sd"), 1.357, "sqrt(2a)/(1-a), a = 1/e, to 4 digits");
	cr_assert_eq(integer(p, "ci95_half_width"), 3);

	cr_assert_eq(json_array_size(json_object_get(o, "cells")), 2);
	json_t *c = cell(o, 0);
	cr_assert_str_eq(string(json_object_get(c, "group"), "sex"), "F");
	cr_assert_eq(integer(c, "value"), 10);
	expect_interval(c, 7, 13);
	cr_assert_null(json_object_get(c, "clamped"));
	c = cell(o, 1);
	cr_assert_str_eq(string(json_object_get(c, "group"), "sex"), "M");
	cr_assert_eq(integer(c, "value"), 0, "clamped at 0 with its interval");
	expect_interval(c, 0, 1);
	cr_assert(json_is_true(json_object_get(c, "clamped")));
	cr_assert_null(json_object_get(c, "suppressed"));
	json_decref(o);
	fixture_fini(&f);
}

Test(release, two_grouping_columns_in_row_major_order)
{
	struct fixture f;
	fixture_init(&f,
	             "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
	             " \"group_by\": [\"sex\", \"band\"],"
	             " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	             2, 3);
	const int64_t cells[] = {1, 2, 3, 4};
	json_t *o = release(&f, cells, 4, no_sdc);
	static const char *const sex[] = {"F", "F", "M", "M"};
	static const char *const band[] = {"young", "old", "young", "old"};

	for (size_t i = 0; i < 4; i++) {
		json_t *g = json_object_get(cell(o, i), "group");
		cr_assert_str_eq(string(g, "sex"), sex[i]);
		cr_assert_str_eq(string(g, "band"), band[i]);
		cr_assert_eq(integer(cell(o, i), "value"), (json_int_t)i + 1);
	}
	json_decref(o);
	fixture_fini(&f);
}

Test(release, sum)
{
	struct fixture f;
	fixture_init(
	    &f,
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"sum\", \"column\": \"delta\"},"
	    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	    2, 2);
	const int64_t cells[] = {37};
	json_t *o = release(&f, cells, 1, (struct tly_release_sdc){1000, 0});

	cr_assert_str_eq(string(json_object_get(o, "measure"), "column"), "delta");
	cr_assert_eq(integer(json_object_get(o, "privacy"), "ci95_half_width"), 30);
	json_t *c = cell(o, 0);
	cr_assert_eq(json_object_size(json_object_get(c, "group")), 0, "no group_by: one group");
	cr_assert_eq(integer(c, "value"), 37, "a sum has no count: never suppressed");
	expect_interval(c, 7, 67);
	json_decref(o);
	fixture_fini(&f);
}

Test(release, sum_of_a_non_negative_column_is_clipped_at_zero)
{
	struct fixture f;
	fixture_init(
	    &f,
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"sum\", \"column\": \"age\"},"
	    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 110}}",
	    2, 2);
	const int64_t cells[] = {1};
	json_t *o = release(&f, cells, 1, no_sdc);
	/* epsilon/L1 = 1 as for the count: k = 3. */
	expect_interval(cell(o, 0), 0, 4);
	json_decref(o);
	fixture_fini(&f);
}

/* Issue 15: a count of -1 came out as -1 [0, 8], its interval not
 * containing it. Both are clamped at 0 now, and the cell says so; the
 * same for a sum of a column that cannot be negative, and at 0 from above
 * for a column that cannot be positive. */
Test(release, negative_figures_are_clamped_with_their_intervals)
{
	struct fixture f;
	fixture_init(
	    &f,
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"group_by\": [\"sex\"],"
	    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	    2, 2);
	const int64_t cells[] = {-1, -5};
	json_t *o = release(&f, cells, 2, no_sdc);
	/* k = 3: -1 [-4, 2] -> 0 [0, 2]; -5 [-8, -2] -> 0 [0, 0]. */
	cr_assert_eq(integer(cell(o, 0), "value"), 0);
	expect_interval(cell(o, 0), 0, 2);
	cr_assert(json_is_true(json_object_get(cell(o, 0), "clamped")));
	cr_assert_eq(integer(cell(o, 1), "value"), 0);
	expect_interval(cell(o, 1), 0, 0);
	json_decref(o);
	fixture_fini(&f);

	/* loss in [-10, 0]: L1 = 10, k = 30; 12 [-18, 42] -> 0 [-18, 0]. */
	fixture_init(&f,
	             "{\"dataset\": \"patients\", \"measure\": {\"op\": \"sum\", \"column\": "
	             "\"loss\"}, \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	             2, 2);
	const int64_t sums[] = {12};
	o = release(&f, sums, 1, no_sdc);
	cr_assert_eq(integer(cell(o, 0), "value"), 0);
	expect_interval(cell(o, 0), -18, 0);
	cr_assert(json_is_true(json_object_get(cell(o, 0), "clamped")));
	json_decref(o);
	fixture_fini(&f);
}

Test(release, histogram_bins)
{
	struct fixture f;
	fixture_init(
	    &f,
	    "{\"dataset\": \"patients\","
	    " \"measure\": {\"op\": \"histogram\", \"column\": \"age\", \"edges\": [0, 18, 65, "
	    "110]},"
	    " \"group_by\": [\"sex\"], \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	    2, 2);
	const int64_t cells[] = {5, 50, 20, 6, 60, 30};
	json_t *o = release(&f, cells, 6, no_sdc);
	static const char *const bins[] = {"[0, 18)", "[18, 65)", "[65, 110]"};

	json_t *edges = json_object_get(json_object_get(o, "measure"), "edges");
	cr_assert_eq(json_array_size(edges), 4);
	cr_assert_eq(json_integer_value(json_array_get(edges, 3)), 110);
	cr_assert_eq(json_array_size(json_object_get(o, "cells")), 6);
	for (size_t i = 0; i < 6; i++) {
		json_t *c = cell(o, i), *g = json_object_get(c, "group");
		cr_assert_str_eq(string(g, "sex"), i < 3 ? "F" : "M");
		cr_assert_str_eq(string(g, "bin"), bins[i % 3]);
		cr_assert_eq(integer(c, "value"), cells[i]);
		expect_interval(c, (double)cells[i] - 3, (double)cells[i] + 3);
	}
	json_decref(o);
	fixture_fini(&f);
}

static const char mean_query[] =
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"mean\", \"column\": \"wait_weeks\"},"
    " \"group_by\": [\"sex\"], \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}";

Test(release, mean)
{
	struct fixture f;
	fixture_init(&f, mean_query, 2, 2);
	/* F: sum 5000, count 1000; M: sum 1000, count 100. */
	const int64_t cells[] = {5000 - 26 * 1000, 18 * 1000, 1000 - 26 * 100, 18 * 100};
	json_t *o = release(&f, cells, 4, no_sdc);

	cr_assert_eq(integer(json_object_get(o, "privacy"), "ci95_half_width"), 132);
	/* F: k97.5 = 162: C in [17838/18, 18162/18] = [991, 1009], S' in
	 * [-21162, -20838]: 26 + [-21162/991, -20838/1009] = [4.6458, 5.3479],
	 * half-width 0.35: two decimals, outwards. */
	json_t *c = cell(o, 0);
	cr_assert_eq(number(c, "value"), 5.0);
	expect_interval(c, 4.64, 5.35);
	json_t *sum = json_object_get(c, "sum"), *count = json_object_get(c, "count");
	/* sum = 26 C + S' over the same box: [-21162 + 26 991, -20838 + 26
	 * 1009] = [4604, 5396]. count at k95 = 132: [ceil(17868/18),
	 * floor(18132/18)] = [993, 1007]. */
	cr_assert_eq(number(sum, "value"), 5000.0);
	expect_interval(sum, 4604, 5396);
	cr_assert_eq(number(count, "value"), 1000.0);
	expect_interval(count, 993, 1007);
	/* M: C in [ceil(1638/18), floor(1962/18)] = [91, 109], S' in [-1762,
	 * -1438]: 26 + [-1762/91, -1438/109] = [6.637, 12.807], half-width
	 * 3.1: one decimal. (Before the centring and the weight it was
	 * [2, 52].) */
	c = cell(o, 1);
	cr_assert_eq(number(c, "value"), 10.0);
	expect_interval(c, 6.6, 12.9);
	expect_interval(json_object_get(c, "count"), 93, 107);
	json_decref(o);
	fixture_fini(&f);
}

Test(release, mean_count_is_not_an_integer)
{
	struct fixture f;
	fixture_init(&f, mean_query, 2, 2);
	/* 18 C = 18005: C = 1000.28, shown to one decimal (k95/w = 7.3). */
	const int64_t cells[] = {0, 18005, 0, 18 * 7};
	json_t *o = release(&f, cells, 4, no_sdc);

	cr_assert_eq(number(json_object_get(cell(o, 0), "count"), "value"), 1000.3);
	json_decref(o);
	fixture_fini(&f);
}

Test(release, mean_without_a_count)
{
	struct fixture f;
	fixture_init(&f, mean_query, 2, 2);
	/* F: S' = -40, 18 C = 0; M: sum 60, count 2. */
	const int64_t cells[] = {-40, 0, 60 - 52, 36};
	json_t *o = release(&f, cells, 4, no_sdc);

	json_t *c = cell(o, 0);
	cr_assert(json_is_null(json_object_get(c, "value")));
	expect_interval(c, 0, 52);
	cr_assert(strstr(string(c, "note"), "below 1") != NULL);
	/* sum -40 clamped at 0; C in [0, floor(162/18) = 9]: the interval
	 * [-40 - 162, -40 + 162 + 26 * 9] = [-202, 356] cut at 0. */
	json_t *sum = json_object_get(c, "sum");
	cr_assert_eq(number(sum, "value"), 0.0);
	cr_assert(json_is_true(json_object_get(sum, "clamped")));
	expect_interval(sum, 0, 356);
	expect_interval(json_object_get(c, "count"), 0, 7);
	/* M: 26 + 8/2 = 30, within the bounds; C in [1, 11], S' in [-154,
	 * 170]: the interval is the whole range. */
	c = cell(o, 1);
	cr_assert_eq(number(c, "value"), 30.0);
	expect_interval(c, 0, 52);
	json_decref(o);
	fixture_fini(&f);
}

Test(release, mean_clipped_to_the_bounds)
{
	struct fixture f;
	fixture_init(&f, mean_query, 2, 2);
	const int64_t cells[] = {100000 - 26000, 18000, -500 - 26000, 18000};
	json_t *o = release(&f, cells, 4, no_sdc);

	cr_assert_eq(number(cell(o, 0), "value"), 52.0, "100 weeks clipped to the column max");
	cr_assert_eq(number(cell(o, 1), "value"), 0.0, "negative clipped to the column min");
	json_decref(o);
	fixture_fini(&f);
}

Test(release, suppression)
{
	struct fixture f;
	fixture_init(
	    &f,
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"group_by\": [\"sex\"],"
	    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	    2, 2);
	const int64_t cells[] = {8, 7};
	json_t *o = release(&f, cells, 2, (struct tly_release_sdc){8, 0});

	cr_assert_eq(integer(json_object_get(o, "sdc"), "suppress_below"), 8);
	cr_assert_eq(integer(cell(o, 0), "value"), 8, "8 is not below 8");
	json_t *c = cell(o, 1);
	cr_assert(json_is_null(json_object_get(c, "value")));
	cr_assert(json_is_null(json_object_get(c, "ci95")), "the interval would reveal it");
	cr_assert(json_is_true(json_object_get(c, "suppressed")));
	cr_assert_str_eq(string(json_object_get(c, "group"), "sex"), "M", "the group stays");
	json_decref(o);
	fixture_fini(&f);

	fixture_init(&f, mean_query, 2, 2);
	/* Counts 100 and 4 (18 C = 1800 and 72). */
	const int64_t means[] = {500 - 2600, 1800, 40 - 104, 72};
	o = release(&f, means, 4, (struct tly_release_sdc){5, 0});
	cr_assert_eq(number(cell(o, 0), "value"), 5.0);
	c = cell(o, 1);
	cr_assert(json_is_true(json_object_get(c, "suppressed")), "mean of a count of 4 < 5");
	cr_assert(json_is_null(json_object_get(c, "value")));
	cr_assert(json_is_null(json_object_get(c, "sum")));
	cr_assert(json_is_null(json_object_get(c, "count")));
	json_decref(o);
	/* At the threshold: 18 C = 89 is C = 4.94 < 5, 90 is 5; a negative
	 * weighted count is suppressed too. */
	const int64_t edge[] = {0, 89, 0, 90};
	o = release(&f, edge, 4, (struct tly_release_sdc){5, 0});
	cr_assert(json_is_true(json_object_get(cell(o, 0), "suppressed")));
	cr_assert_null(json_object_get(cell(o, 1), "suppressed"));
	json_decref(o);
	const int64_t below[] = {0, -20, 0, 90};
	o = release(&f, below, 4, (struct tly_release_sdc){5, 0});
	cr_assert(json_is_true(json_object_get(cell(o, 0), "suppressed")));
	json_decref(o);
	fixture_fini(&f);
}

Test(release, rounding)
{
	struct fixture f;
	fixture_init(&f,
	             "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
	             " \"group_by\": [\"sex\", \"band\"],"
	             " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	             2, 2);
	/* k = 3: 12 [9, 15], 13 [10, 16], -3 [0, 0], 2 [0, 5]. */
	const int64_t cells[] = {12, 13, -3, 2};
	json_t *o = release(&f, cells, 4, (struct tly_release_sdc){0, 5});

	cr_assert_eq(integer(json_object_get(o, "sdc"), "round_to"), 5);
	cr_assert_eq(integer(cell(o, 0), "value"), 10);
	expect_interval(cell(o, 0), 5, 15);
	cr_assert_eq(integer(cell(o, 1), "value"), 15, "halves and above round up");
	expect_interval(cell(o, 1), 10, 20);
	cr_assert_eq(integer(cell(o, 2), "value"), 0, "clamped at 0, then rounded");
	expect_interval(cell(o, 2), 0, 0);
	cr_assert_eq(integer(cell(o, 3), "value"), 0);
	expect_interval(cell(o, 3), 0, 5);
	json_decref(o);
	fixture_fini(&f);

	fixture_init(&f, mean_query, 2, 2);
	/* sum 5003, count 1002: S' = 5003 - 26 1002 = -21049, 18 C = 18036. */
	const int64_t means[] = {-21049, 18036, 0, 0};
	o = release(&f, means, 4, (struct tly_release_sdc){0, 10});
	json_t *c = cell(o, 0);
	cr_assert_eq(number(c, "value"), 4.99, "the mean (4.993) is not rounded to 10");
	/* sum over C in [993, 1011], S' in [-21211, -20887]: [4607, 5399]. */
	cr_assert_eq(number(json_object_get(c, "sum"), "value"), 5000.0);
	expect_interval(json_object_get(c, "sum"), 4600, 5400);
	/* count at k95: [ceil(17904/18), floor(18168/18)] = [995, 1009]. */
	cr_assert_eq(number(json_object_get(c, "count"), "value"), 1000.0);
	expect_interval(json_object_get(c, "count"), 990, 1010);
	json_decref(o);
	fixture_fini(&f);
}

Test(release, sdc_resolution)
{
	struct tly_spec spec;
	struct tly_release_sdc defaults = {10, 5}, got;

	memset(&spec, 0, sizeof spec);
	got = tly_release_sdc_resolve(&spec, defaults);
	cr_assert_eq(got.suppress_below, 10, "the default applies when the query is silent");
	cr_assert_eq(got.round_to, 5);
	spec.suppress_below = 3;
	spec.round_to = 100;
	got = tly_release_sdc_resolve(&spec, defaults);
	cr_assert_eq(got.suppress_below, 3, "the query's own value wins");
	cr_assert_eq(got.round_to, 100);
	got = tly_release_sdc_resolve(&spec, (struct tly_release_sdc){0, 1});
	cr_assert_eq(got.round_to, 100);
	spec.round_to = 0;
	got = tly_release_sdc_resolve(&spec, (struct tly_release_sdc){0, 1});
	cr_assert_eq(got.round_to, 0, "1 is off");
}

Test(release, skellam_states_rho_and_its_epsilon_delta)
{
	struct fixture f;
	fixture_init(&f,
	             "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
	             " \"privacy\": {\"mechanism\": \"gaussian\", \"rho\": 0.5}}",
	             2, 3);
	const int64_t cells[] = {100};
	json_t *o = release(&f, cells, 1, no_sdc);
	json_t *p = json_object_get(o, "privacy");
	struct tly_noise_info info;

	cr_assert_eq(tly_noise_describe(&f.noise, 3, &info), TLY_OK);
	cr_assert_str_eq(string(p, "mechanism"), "skellam");
	cr_assert_eq(number(p, "rho"), 0.5);
	cr_assert_str_eq(string(p, "rho_exact"), "0.5");
	/* CKS cdp2adp at delta = 1e-6, rounded up */
	double epsilon = 5.221534444530169;
	cr_assert(number(p, "epsilon") >= epsilon - 1e-12 && number(p, "epsilon") < epsilon + 1e-6,
	          "%.12f", number(p, "epsilon"));
	cr_assert_eq(number(p, "delta"), 1e-6);
	cr_assert_null(json_object_get(p, "epsilon_exact"));
	cr_assert(fabs(number(p, "noise_sd") - info.sd) < info.sd * 1e-3);
	cr_assert_eq(integer(p, "ci95_half_width"), info.ci95_half_width);
	expect_interval(cell(o, 0), (double)(100 - info.ci95_half_width),
	                (double)(100 + info.ci95_half_width));
	json_decref(o);
	fixture_fini(&f);
}

Test(release, exact_figures)
{
	char text[48];

	tly_release_exact(text, sizeof text, 1, 2);
	cr_assert_str_eq(text, "0.5");
	tly_release_exact(text, sizeof text, 1, 3);
	cr_assert_str_eq(text, "1/3");
	tly_release_exact(text, sizeof text, 6, 1);
	cr_assert_str_eq(text, "6");
	tly_release_exact(text, sizeof text, 21, 8);
	cr_assert_str_eq(text, "2.625");
	tly_release_exact(text, sizeof text, 1, 1000000000000000ull);
	cr_assert_str_eq(text, "0.000000000000001");
	tly_release_exact(text, sizeof text, UINT64_MAX, UINT64_MAX - 1);
	cr_assert(strchr(text, '/') != NULL, "%s", text);
}

Test(release, refusals)
{
	struct fixture f;
	char why[256];
	json_t *o = NULL;
	fixture_init(
	    &f,
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"group_by\": [\"sex\"],"
	    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	    3, 2);
	const int64_t cells[] = {10, 20};
	struct tly_release_input in = input(&f, cells, 2, no_sdc);

	cr_assert_eq(tly_release_build(&in, &o, why, sizeof why), TLY_EINVAL,
	             "2 contributors with h = 3");
	cr_assert(strstr(why, "below min_honest") != NULL, "%s", why);
	cr_assert_null(o);

	f.contributors.count = 3;
	in.d = 1;
	cr_assert_eq(tly_release_build(&in, &o, why, sizeof why), TLY_EINVAL, "wrong cell count");
	cr_assert(strstr(why, "cells") != NULL, "%s", why);

	in.d = 2;
	f.noise.privacy_num = 2;
	cr_assert_eq(tly_release_build(&in, &o, why, sizeof why), TLY_EINVAL,
	             "noise of another epsilon");
	f.noise.privacy_num = 1;
	cr_assert_eq(tly_release_build(&in, &o, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_not_null(o);
	json_decref(o);
	fixture_fini(&f);
}

/* ---- the mean's interval covers the truth ---- */

struct coverage {
	unsigned covered; /* by the released interval */
	unsigned narrow;  /* by an interval with quarter half-widths */
	unsigned wrong_w; /* by the interval decoded with twice the weight */
	unsigned trials;
};

/* The interval of release.h, for the cells (S', w C) decoded with weight w
 * and half-width k for both (no rounding). */
static int
covers(double centred, double weighted, double k, double w, double truth)
{
	double c_lo = fmax(ceil((weighted - k) / w), 1);
	double c_hi = fmax(floor((weighted + k) / w), c_lo);
	double lo = 26 + fmin((centred - k) / c_lo, (centred - k) / c_hi);
	double hi = 26 + fmax((centred + k) / c_lo, (centred + k) / c_hi);
	lo = fmin(fmax(lo, 0), 52);
	hi = fmin(fmax(hi, 0), 52);
	return lo <= truth && truth <= hi;
}

static void
noise_of(const struct fixture *f, uint32_t h, uint32_t n, struct tly_dp_noise *share)
{
	memset(share, 0, sizeof *share);
	share->honest = h;
	share->shares = n;
	if (f->noise.mechanism == TLY_MECH_LAPLACE) {
		share->mechanism = TLY_DP_LAPLACE;
		share->num = f->noise.scale_s;
		share->den = f->noise.scale_t;
	} else {
		share->mechanism = TLY_DP_SKELLAM;
		share->num = f->noise.mu_num;
		share->den = f->noise.mu_den;
	}
}

/* One release of true (sum s, count c) in both groups; tallies. */
static void
trial(struct fixture *f, struct tly_rng *rng, const struct tly_dp_noise *share, int64_t s,
      int64_t c, double k975, struct coverage *out)
{
	struct tly_mean_encoding enc;
	double truth = (double)s / (double)c;
	int64_t noise;

	tly_spec_mean_encoding(&f->spec, &f->cat, &enc);
	cr_assert_eq(enc.centre, 26);
	int64_t w = (int64_t)enc.weight, cells[4] = {s - 26 * c, w * c, s - 26 * c, w * c};
	for (size_t i = 0; i < 4; i++)
		for (uint32_t j = 0; j < share->shares; j++) {
			cr_assert_eq(tly_dp_share(rng, share, &noise), TLY_OK);
			cells[i] += noise;
		}
	json_t *o = release(f, cells, 4, no_sdc);
	for (size_t g = 0; g < 2; g++) {
		json_t *ci = json_object_get(cell(o, g), "ci95");
		double lo = json_number_value(json_array_get(ci, 0));
		double hi = json_number_value(json_array_get(ci, 1));
		double sp = (double)cells[2 * g], wc = (double)cells[2 * g + 1];
		out->covered += lo <= truth && truth <= hi ? 1u : 0u;
		out->narrow += covers(sp, wc, k975 / 4, (double)w, truth) ? 1u : 0u;
		out->wrong_w += covers(sp, wc, k975, 2.0 * (double)w, truth) ? 1u : 0u;
		out->trials++;
	}
	json_decref(o);
}

static void
simulate(const char *query, uint32_t h, uint32_t n, int64_t s, int64_t c, uint64_t seed,
         struct coverage *out)
{
	struct fixture f;
	struct tly_rng rng;
	struct tly_dp_noise share;
	uint64_t k975;

	fixture_init(&f, query, h, n);
	tly_rng_init_seeded_u64(&rng, seed);
	noise_of(&f, h, n, &share);
	cr_assert_eq(tly_dp_noise_quantile(&share, 39, 40, &k975), TLY_OK);
	memset(out, 0, sizeof *out);
	for (unsigned t = 0; t < TRIALS; t++)
		trial(&f, &rng, &share, s, c, (double)k975, out);
	tly_rng_fini(&rng);
	fixture_fini(&f);
}

static void
expect_coverage(const char *query, uint32_t h, uint32_t n, int64_t s, int64_t c, uint64_t seed)
{
	struct coverage cov;

	simulate(query, h, n, s, c, seed, &cov);
	double rate = (double)cov.covered / cov.trials;
	double narrow = (double)cov.narrow / cov.trials;
	double wrong = (double)cov.wrong_w / cov.trials;
	cr_log_info("mean %g/%g, h %u, n %u: coverage %.4f, narrow %.4f, wrong w %.4f", (double)s,
	            (double)c, h, n, rate, narrow, wrong);
	cr_assert_geq(rate, 0.95 - COVERAGE_SLACK, "coverage %.4f (s %lld, c %lld, n %u)", rate,
	              (long long)s, (long long)c, n);
	cr_assert_lt(narrow, 0.95 - COVERAGE_SLACK,
	             "a too narrow interval should fail the same check (%.4f)", narrow);
	cr_assert_lt(wrong, 0.95 - COVERAGE_SLACK,
	             "decoding with the wrong weight should fail the same check (%.4f)", wrong);
}

#define MEAN_QUERY(privacy)                                                                        \
	"{\"dataset\": \"patients\", \"measure\": {\"op\": \"mean\", \"column\": \"wait_weeks\"}," \
	" \"group_by\": [\"sex\"], \"privacy\": " privacy "}"

Test(release_stats, mean_interval_covers_laplace)
{
	/* w = 18, L1 = 44. epsilon 5: k97.5 = 32; epsilon 0.5: 324. */
	static const char eps5[] = MEAN_QUERY("{\"mechanism\": \"laplace\", \"epsilon\": 5}");
	static const char eps05[] = MEAN_QUERY("{\"mechanism\": \"laplace\", \"epsilon\": 0.5}");
	expect_coverage(eps5, 2, 2, 12 * 200, 200, 1);
	expect_coverage(eps5, 2, 5, 30 * 60, 60, 2);
	expect_coverage(eps5, 3, 3, 40 * 2000, 2000, 3);
	expect_coverage(eps5, 2, 2, 3 * 15, 15, 6);
	expect_coverage(eps05, 2, 2, 20 * 400, 400, 7);
	expect_coverage(eps05, 2, 3, 50 * 5000, 5000, 8);
}

Test(release_stats, mean_interval_covers_skellam)
{
	/* w = 20. */
	static const char rho1[] = MEAN_QUERY("{\"mechanism\": \"gaussian\", \"rho\": 1}");
	static const char rho01[] = MEAN_QUERY("{\"mechanism\": \"gaussian\", \"rho\": 0.1}");
	expect_coverage(rho1, 2, 2, 8 * 300, 300, 4);
	expect_coverage(rho1, 2, 4, 25 * 80, 80, 5);
	expect_coverage(rho01, 2, 2, 45 * 1000, 1000, 9);
	expect_coverage(rho01, 3, 3, 2 * 150, 150, 10);
}

/* Every filter and the grouping, in words: a release that narrows down to
 * one person must say so, not "the count over dataset patients". */
Test(release, states_every_filter_in_words)
{
	struct fixture f;
	fixture_init(&f,
	             "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
	             " \"where\": [{\"column\": \"age\", \"op\": \"=\", \"value\": 67},"
	             " {\"column\": \"band\", \"op\": \"in\", \"value\": [\"old\", \"young\"]},"
	             " {\"column\": \"wait_weeks\", \"op\": \">=\", \"value\": 51}],"
	             " \"group_by\": [\"sex\"],"
	             " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	             2, 3);
	const int64_t cells[] = {1, 0};
	json_t *o = release(&f, cells, 2, no_sdc);
	json_t *filters = json_object_get(o, "filters");

	cr_assert_eq(json_array_size(filters), 3);
	cr_assert_str_eq(json_string_value(json_array_get(filters, 0)), "age = 67");
	cr_assert_str_eq(json_string_value(json_array_get(filters, 1)),
	                 "band in (\"young\", \"old\")");
	cr_assert_str_eq(json_string_value(json_array_get(filters, 2)), "wait_weeks >= 51");
	cr_assert_str_eq(string(o, "description"),
	                 "count of people in dataset \"patients\" where age = 67 and band in "
	                 "(\"young\", \"old\") and wait_weeks >= 51, by sex");
	json_decref(o);
	fixture_fini(&f);

	/* No filter says so. */
	fixture_init(&f,
	             "{\"dataset\": \"patients\", \"measure\": {\"op\": \"sum\", \"column\":"
	             " \"delta\"}, \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	             2, 3);
	const int64_t total[] = {4};
	o = release(&f, total, 1, no_sdc);
	cr_assert_eq(json_array_size(json_object_get(o, "filters")), 0);
	cr_assert_str_eq(string(o, "description"),
	                 "sum of delta (each value clipped to its declared bounds) in dataset "
	                 "\"patients\", with no filter");
	json_decref(o);
	fixture_fini(&f);
}

/* Issue 15: what `tally query` shows people beside the filters: the
 * protocol, the grouping and the trusts that took part. */
Test(release, names_the_protocol_grouping_and_trusts)
{
	struct fixture f;
	fixture_init(&f,
	             "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"group_by\": "
	             "[\"band\", \"sex\"], \"protocol\": \"secagg\", \"privacy\": {\"mechanism\": "
	             "\"laplace\", \"epsilon\": 1}}",
	             2, 3);
	const int64_t cells[] = {10, 20, 30, 40};
	json_t *o = release(&f, cells, 4, no_sdc);

	cr_assert_str_eq(string(o, "protocol"), "secagg");
	json_t *by = json_object_get(o, "group_by");
	cr_assert_eq(json_array_size(by), 2);
	cr_assert_str_eq(json_string_value(json_array_get(by, 0)), "band");
	cr_assert_str_eq(json_string_value(json_array_get(by, 1)), "sex");
	json_t *trusts = json_object_get(o, "trusts");
	cr_assert_eq(json_array_size(trusts), 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(json_integer_value(json_array_get(trusts, i)), (json_int_t)i + 1);
	json_decref(o);
	fixture_fini(&f);
}
