/* A query in words (query/spec_words.h): every operator, quoting of
 * strings (escapes included), `in` lists, grouping, every measure and
 * histogram edges; and a tampered or malformed spec is refused, not
 * printed. Specs go through the parser and the canonical form first, as
 * the coordinator and the log hold them. */
#include <criterion/criterion.h>
#include <string.h>

#include "query/spec.h"
#include "query/spec_words.h"

static const char catalogue_json[] =
    "{\"datasets\": [{\"name\": \"patients\", \"columns\": ["
    "{\"name\": \"age\", \"type\": \"integer\", \"min\": 0, \"max\": 110},"
    "{\"name\": \"sex\", \"type\": \"categorical\", \"domain\": [\"F\", \"M\"]},"
    "{\"name\": \"band\", \"type\": \"categorical\", \"domain\": [\"0-17\", \"18+\"]},"
    "{\"name\": \"flag\", \"type\": \"categorical\", \"domain\": [0, 1]},"
    "{\"name\": \"site\", \"type\": \"categorical\", \"domain\": [\"St \\\"Mary\\\"'s\", "
    "\"A\\\\B\"]},"
    "{\"name\": \"wait\", \"type\": \"integer\", \"min\": 0, \"max\": 104}]}]}";

static struct tly_catalogue cat;

static void
setup(void)
{
	struct tly_field_error err;
	cr_assert_eq(tly_catalogue_parse(&cat, catalogue_json, strlen(catalogue_json), &err),
	             TLY_OK, "%s: %s", err.field, err.reason);
}

static void
teardown(void)
{
	tly_catalogue_fini(&cat);
}

TestSuite(spec_words, .init = setup, .fini = teardown);

/* The canonical JSON object of a query. */
static json_t *
canonical(const char *measure, const char *where, const char *group_by)
{
	char json[2000], *text;
	struct tly_spec spec;
	struct tly_field_error err;

	snprintf(json, sizeof json,
	         "{\"dataset\": \"patients\", \"measure\": %s, \"where\": %s, \"group_by\": %s,"
	         " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}",
	         measure, where, group_by);
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, strlen(json), &err), TLY_OK, "%s: %s: %s",
	             json, err.field, err.reason);
	cr_assert_eq(tly_spec_canonical(&spec, &cat, &text), TLY_OK);
	json_t *obj = json_loads(text, 0, NULL);
	cr_assert_not_null(obj);
	free(text);
	tly_spec_fini(&spec);
	return obj;
}

static void
expect_filters(json_t *spec, const char *const *expected, size_t n)
{
	json_t *filters;
	cr_assert_eq(tly_spec_words_filters(spec, &filters), TLY_OK);
	cr_assert_eq(json_array_size(filters), n);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(json_string_value(json_array_get(filters, i)), expected[i]);
	json_decref(filters);
}

static void
expect_sentence(json_t *spec, const char *expected)
{
	char *sentence;
	cr_assert_eq(tly_spec_words_sentence(spec, &sentence), TLY_OK);
	cr_assert_str_eq(sentence, expected);
	free(sentence);
}

Test(spec_words, every_operator_in_words)
{
	/* Canonical order: by column name, then operator. */
	json_t *spec =
	    canonical("{\"op\": \"count\"}",
	              "[{\"column\": \"age\", \"op\": \">=\", \"value\": 65},"
	              " {\"column\": \"age\", \"op\": \"<\", \"value\": 80},"
	              " {\"column\": \"wait\", \"op\": \"<=\", \"value\": 18},"
	              " {\"column\": \"wait\", \"op\": \">\", \"value\": 2},"
	              " {\"column\": \"sex\", \"op\": \"=\", \"value\": \"F\"},"
	              " {\"column\": \"flag\", \"op\": \"!=\", \"value\": 0},"
	              " {\"column\": \"band\", \"op\": \"in\", \"value\": [\"18+\", \"0-17\"]}]",
	              "[]");
	const char *const expected[] = {
	    "age < 80",      "age >= 65",   "band in (\"0-17\", \"18+\")",
	    "flag != \"0\"", "sex = \"F\"", "wait <= 18",
	    "wait > 2"};
	expect_filters(spec, expected, 7);
	expect_sentence(
	    spec,
	    "count of people in dataset \"patients\" where age < 80 and age >= 65 and band in "
	    "(\"0-17\", \"18+\") and flag != \"0\" and sex = \"F\" and wait <= 18 and wait > 2");
	json_decref(spec);
}

Test(spec_words, strings_are_quoted_with_escapes)
{
	json_t *spec = canonical("{\"op\": \"count\"}",
	                         "[{\"column\": \"site\", \"op\": \"in\", \"value\": [\"St "
	                         "\\\"Mary\\\"'s\", \"A\\\\B\"]}]",
	                         "[]");
	const char *const expected[] = {"site in (\"St \\\"Mary\\\"'s\", \"A\\\\B\")"};
	expect_filters(spec, expected, 1);
	json_decref(spec);
}

Test(spec_words, measures_grouping_and_edges)
{
	json_t *spec = canonical("{\"op\": \"histogram\", \"column\": \"wait\", \"edges\": [0, 4, "
	                         "18, 52]}",
	                         "[{\"column\": \"sex\", \"op\": \"=\", \"value\": \"M\"}]",
	                         "[\"band\", \"sex\"]");
	expect_sentence(spec, "histogram of wait with bin edges 0, 4, 18, 52 in dataset "
	                      "\"patients\" where sex = \"M\", by band and sex");
	json_decref(spec);

	spec = canonical("{\"op\": \"mean\", \"column\": \"wait\"}", "[]",
	                 "[\"band\", \"flag\", \"sex\"]");
	expect_filters(spec, NULL, 0);
	expect_sentence(spec, "mean of wait (each value clipped to its declared bounds) in "
	                      "dataset \"patients\", with no filter, by band, flag and sex");
	json_decref(spec);

	spec = canonical("{\"op\": \"sum\", \"column\": \"age\"}", "[]", "[]");
	expect_sentence(spec, "sum of age (each value clipped to its declared bounds) in dataset "
	                      "\"patients\", with no filter");
	json_decref(spec);
}

/* From a log that may have been tampered with: nothing unexpected is
 * printed, the spec is refused. */
Test(spec_words, malformed_specs_are_refused)
{
	const char *bad[] = {
	    "[]",
	    "{\"dataset\": \"patients\"}",
	    "{\"dataset\": \"pat\\nients\", \"measure\": {\"op\": \"count\"}}",
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"median\", \"column\": \"age\"}}",
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"where\": {}}",
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"where\": "
	    "[{\"column\": \"age\", \"op\": \"~\", \"value\": 1}]}",
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"where\": "
	    "[{\"column\": \"Age; DROP\", \"op\": \"=\", \"value\": 1}]}",
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"where\": "
	    "[{\"column\": \"age\", \"op\": \"=\", \"value\": 1.5}]}",
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"where\": "
	    "[{\"column\": \"age\", \"op\": \"in\", \"value\": []}]}",
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"histogram\", \"column\": \"age\", "
	    "\"edges\": [1]}}",
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"group_by\": [\"A\"]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *spec = json_loads(bad[i], 0, NULL);
		char *sentence = NULL;
		json_t *filters = NULL;
		cr_assert_not_null(spec, "%s", bad[i]);
		cr_assert_eq(tly_spec_words_sentence(spec, &sentence), TLY_EFORMAT, "%s", bad[i]);
		cr_assert_null(sentence);
		/* Entries 4 to 8 have a bad "where": the filters alone fail too. */
		tly_err rv = tly_spec_words_filters(spec, &filters);
		if (i >= 4 && i <= 8)
			cr_assert_eq(rv, TLY_EFORMAT, "%s", bad[i]);
		if (rv == TLY_OK)
			json_decref(filters);
		json_decref(spec);
	}
}

/* A rate, a dsr and a comparison in words, from their canonical form. */
Test(spec_words, rates)
{
	static const char *const queries[][2] = {
	    {"{\"dataset\": \"patients\", \"measure\": {\"op\": \"rate\", \"per\": 100,"
	     " \"numerator\": [{\"column\": \"sex\", \"op\": \"=\", \"value\": \"F\"}]}}",
	     "rate per 100 of people with sex = \"F\" in dataset \"patients\", with no filter"},
	    {"{\"dataset\": \"patients\", \"measure\": {\"op\": \"dsr\", \"per\": 100000,"
	     " \"standard\": \"esp2013\", \"age_column\": \"age\", \"numerator\": "
	     "[{\"column\": \"sex\", \"op\": \"=\", \"value\": \"F\"}]},"
	     " \"group_by\": [\"band\"], \"compare\": {\"as\": \"ratio\", \"to\": {\"band\": "
	     "\"a\"}}}",
	     "rate per 100000 of people with sex = \"F\", directly age-standardised by age to "
	     "the European Standard Population 2013 in dataset \"patients\", with no filter, "
	     "by band, each compared with band = \"a\" as a ratio"},
	};
	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
		json_t *spec = json_loads(queries[i][0], 0, NULL);
		char *sentence;
		cr_assert_not_null(spec);
		cr_assert_eq(tly_spec_words_sentence(spec, &sentence), TLY_OK, "%s", queries[i][0]);
		cr_assert_str_eq(sentence, queries[i][1]);
		free(sentence);
		json_decref(spec);
	}
	json_t *bad = json_loads("{\"dataset\": \"patients\", \"measure\": {\"op\": \"dsr\","
	                         " \"per\": 1000, \"standard\": \"esp1976\", \"age_column\": "
	                         "\"age\", \"numerator\": [{\"column\": \"sex\", \"op\": \"=\","
	                         " \"value\": \"F\"}]}}",
	                         0, NULL);
	char *sentence;
	cr_assert_eq(tly_spec_words_sentence(bad, &sentence), TLY_EFORMAT, "unknown standard");
	json_decref(bad);
}
