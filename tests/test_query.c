/*
 * The planner's printing of an API answer (tly_query_answer, cli/query.h):
 * table and CSV from a release, exit codes from an error body, and answers
 * with members missing or of the wrong type (found by
 * tests/fuzz/fuzz_result.c), which must print "?" rather than pass NULL to
 * "%s".
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/query.h"

static const char good[] =
    "{\"query_id\":\"d77b676e1ef8577dfaefe33070b34d85\",\"dataset\":\"patients\","
    "\"measure\":{\"op\":\"count\"},\"filters\":[\"age = 67\"],"
    "\"description\":\"count of people in dataset \\\"patients\\\" where age = 67, by sex\","
    "\"contributors\":3,\"dropped\":[4],\"protocol\":\"committee\",\"group_by\":[\"sex\"],"
    "\"trusts\":[1,2,3],"
    "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":0.333,\"epsilon_exact\":\"1/3\","
    "\"delta\":0,\"min_honest\":2,\"noise_sd\":3.428,\"ci95_half_width\":7},"
    "\"cells\":[{\"group\":{\"sex\":\"F\"},\"value\":41,\"ci95\":[34,48]},"
    "{\"group\":{\"sex\":\"M\"},\"value\":null,\"ci95\":null}]}";

static int
answer(int status, const char *body, const char *format, char **out_text, char **err_text)
{
	size_t out_len = 0, err_len = 0;
	FILE *out = open_memstream(out_text, &out_len), *err = open_memstream(err_text, &err_len);
	cr_assert(out != NULL && err != NULL);
	int rc = tly_query_answer(out, err, status, (const uint8_t *)body, strlen(body), format);
	fclose(out);
	fclose(err);
	return rc;
}

Test(query_answer, table_and_csv)
{
	char *out, *err;

	cr_assert_eq(answer(200, good, "table", &out, &err), 0);
	cr_assert_str_eq(
	    out, "query id      d77b676e1ef8577dfaefe33070b34d85\n"
	         "question      count of people in dataset \"patients\" where age = 67, by sex\n"
	         "filters       age = 67\n"
	         "grouped by    sex\n"
	         "privacy cost  epsilon 0.333334 (rounded up; exactly 1/3) at each trust "
	         "(discrete Laplace noise, delta 0)\n"
	         "protocol      committee\n"
	         "trusts        3 took part: 1, 2, 3 (dropped: 4)\n"
	         "noise         sd 3.43, 95% half-width 7\n\n"
	         "sex                          value  95% interval\n"
	         "F                               41  [34, 48]\n"
	         "M                       suppressed\n");
	free(out);
	free(err);
	cr_assert_eq(answer(200, good, "csv", &out, &err), 0);
	cr_assert_str_eq(out, "# count of people in dataset \"patients\" where age = 67, by sex\n"
	                      "# query id: d77b676e1ef8577dfaefe33070b34d85\n"
	                      "# filters: age = 67\n"
	                      "# grouped by: sex\n"
	                      "# privacy cost: epsilon 0.333334 (rounded up; exactly 1/3) at each "
	                      "trust (discrete Laplace noise, delta 0)\n"
	                      "# protocol: committee\n"
	                      "# trusts: 3 took part: 1, 2, 3 (dropped: 4)\n"
	                      "# noise: sd 3.43, 95% half-width 7\n"
	                      "sex,value,ci95_low,ci95_high\nF,41,34,48\nM,,,\n");
	free(out);
	free(err);
}

/* The comment line cannot be broken by what the coordinator sends, and
 * says so when it sent no description. */
Test(query_answer, csv_comment_line_stays_one_line)
{
	static const char broken[] =
	    "{\"description\":\"count where x = 1\\n7,8,9\\r\",\"cells\":[{\"group\":{},"
	    "\"value\":5,\"ci95\":[1,9]}]}";
	static const char none[] = "{\"cells\":[{\"group\":{},\"value\":5,\"ci95\":[1,9]}]}";
	char *out, *err;

	cr_assert_eq(answer(200, broken, "csv", &out, &err), 0);
	cr_assert_eq(strncmp(out, "# count where x = 1?7,8,9?\n# query id: ?\n", 40), 0, "%s", out);
	cr_assert(strstr(out, "\nvalue,ci95_low,ci95_high\n5,1,9\n") != NULL, "%s", out);
	free(out);
	free(err);
	cr_assert_eq(answer(200, none, "csv", &out, &err), 0);
	cr_assert_eq(strncmp(out, "# (the coordinator sent no description of the query)\n# ", 55),
	             0, "%s", out);
	free(out);
	free(err);
}

/* Regression (fuzz_result): no query_id, no privacy, epsilon_exact a
 * number: the table said "query (null): ..., (null) epsilon=(null)"; now
 * "?" in each of its places. */
Test(query_answer, missing_members_print_a_question_mark)
{
	static const char body[] =
	    "{\"contributors\":3,\"cells\":[{\"group\":{\"sex\":7},\"value\":1.5}]}";
	static const char exact_not_text[] =
	    "{\"query_id\":5,\"privacy\":{\"mechanism\":[],\"epsilon_exact\":0.5},\"cells\":[]}";
	static const char rho_not_text[] = "{\"privacy\":{\"rho_exact\":{}},\"cells\":{}}";
	const char *bodies[] = {body, exact_not_text, rho_not_text};
	char *out, *err;

	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(answer(200, bodies[i], "table", &out, &err), 0);
		cr_assert(strstr(out, "(null)") == NULL, "%s", out);
		cr_assert(strstr(out, "query id      ?\n") != NULL, "%s", out);
		free(out);
		free(err);
	}
	cr_assert_eq(answer(200, exact_not_text, "table", &out, &err), 0);
	cr_assert(strstr(out, "privacy cost  epsilon ? at each trust") != NULL, "%s", out);
	free(out);
	free(err);
}

Test(query_answer, error_bodies_and_exit_codes)
{
	static const struct {
		int status;
		const char *body;
		int rc;
		const char *said;
	} cases[] = {
	    {400,
	     "{\"error\":{\"code\":\"invalid_query\",\"field\":\"measure.op\",\"message\":\"no\"}}",
	     2, "tally query: measure.op: no\n"},
	    {409, "{\"error\":{\"code\":\"refused\",\"message\":\"over the cap\"}}", 3,
	     "tally query: over the cap\n"},
	    {403, "{\"error\":{\"code\":\"unauthenticated\",\"message\":\"not signed\"}}", 5,
	     "tally query: not signed\n"},
	    {504, "{\"error\":{\"code\":\"too_few\"}}", 4,
	     "tally query: the coordinator refused the query\n"},
	    {503, "{\"error\":{\"code\":\"busy\",\"message\":7}}", 1,
	     "tally query: the coordinator refused the query\n"},
	    {500, "[]", 1, "tally query: the coordinator refused the query\n"},
	    {200, "not json", 1, "tally query: the API answered 200 with no JSON\n"},
	};
	char *out, *err;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_assert_eq(answer(cases[i].status, cases[i].body, "table", &out, &err),
		             cases[i].rc, "case %zu", i);
		cr_assert_str_eq(err, cases[i].said);
		cr_assert_str_eq(out, "");
		free(out);
		free(err);
	}
}

/* A 429 (queue full, or the planner over its rate) says how long to wait. */
Test(query_answer, too_many_requests_says_how_long)
{
	char *out, *err;

	cr_assert_eq(
	    answer(429,
	           "{\"error\":{\"code\":\"rate_limited\",\"message\":\"this planner is over "
	           "its query rate; try again later\",\"planner\":\"alice\",\"limit\":\"x\","
	           "\"retry_after\":17}}",
	           "table", &out, &err),
	    1);
	cr_assert(strstr(err, "over its query rate") != NULL, "%s", err);
	cr_assert(strstr(err, "wait 17 s before asking again") != NULL, "%s", err);
	free(out);
	free(err);
}

/* ---- the dry run (POST /v1/queries/estimate) ---- */

static const char estimate[] =
    "{\"dry_run\":true,\"dataset\":\"patients\",\"protocol\":\"committee\","
    "\"contributors\":3,\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":0.5,"
    "\"epsilon_exact\":\"0.5\",\"delta\":0},\"figures\":[{\"figure\":\"sum\","
    "\"half_width95\":318},{\"figure\":\"count\",\"half_width95\":318},{\"figure\":\"mean\","
    "\"half_width95\":1.2345,\"group_size\":100,\"bounded\":true}],"
    "\"words\":\"mean of wait_weeks in dataset \\\"patients\\\". Asking 3 trusts would "
    "charge epsilon 0.5.\\nmore\"}";

Test(query_answer, dry_run_table_and_csv)
{
	char *out, *err;

	cr_assert_eq(answer(200, estimate, "table", &out, &err), 0);
	cr_assert_str_eq(out, "dry run: nothing was asked, charged or logged\n"
	                      "mean of wait_weeks in dataset \"patients\". Asking 3 trusts would "
	                      "charge epsilon 0.5.?more\n\n"
	                      "figure                        95% half-width (+/-)\n"
	                      "sum                           318\n"
	                      "count                         318\n"
	                      "mean (group of 100)           1.23\n");
	free(out);
	free(err);
	cr_assert_eq(answer(200, estimate, "csv", &out, &err), 0);
	/* Parse it back: comment lines, a header, one row a figure. */
	char *save = NULL, *line;
	size_t rows = 0, comments = 0;
	const char *want[] = {"sum,318,", "count,318,", "mean,1.23,100"};
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			comments++;
			continue;
		}
		if (rows == 0)
			cr_assert_str_eq(line, "figure,half_width95,group_size");
		else
			cr_assert_str_eq(line, want[rows - 1]);
		rows++;
	}
	cr_assert_eq(comments, 2);
	cr_assert_eq(rows, 4);
	free(out);
	free(err);
	/* json: as the coordinator sent it */
	cr_assert_eq(answer(200, estimate, "json", &out, &err), 0);
	cr_assert_eq(strncmp(out, estimate, strlen(estimate)), 0);
	free(out);
	free(err);
}

/* A refused dry run exits as a refused query: 2, naming the field. */
Test(query_answer, dry_run_refused_names_the_field)
{
	char *out, *err;
	static const char refused[] = "{\"error\":{\"code\":\"invalid_query\",\"field\":"
	                              "\"measure.column\",\"message\":\"no column nosuch\"}}";

	cr_assert_eq(answer(400, refused, "table", &out, &err), 2);
	cr_assert_str_eq(err, "tally query: measure.column: no column nosuch\n");
	free(out);
	free(err);
}

/* The CSV parses back: skipping the '#' lines leaves the header and one
 * row a cell, every row with the header's number of fields, and each fact
 * of the table is in a comment line. */
Test(query_answer, csv_parses_back)
{
	char *out, *err, *save = NULL;
	size_t header_fields = 0, rows = 0;
	int facts = 0;

	cr_assert_eq(answer(200, good, "csv", &out, &err), 0);
	for (char *line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t fields = 1;
		if (line[0] == '#') {
			facts += strncmp(line, "# query id: ", 12) == 0 ||
			         strncmp(line, "# filters: age = 67", 19) == 0 ||
			         strncmp(line, "# privacy cost: epsilon 0.333334", 32) == 0 ||
			         strncmp(line, "# trusts: 3 took part: 1, 2, 3", 30) == 0 ||
			         strncmp(line, "# protocol: committee", 21) == 0;
			continue;
		}
		for (const char *c = line; *c != '\0'; c++)
			fields += *c == ',';
		if (rows++ == 0)
			header_fields = fields;
		cr_assert_eq(fields, header_fields, "%s", line);
	}
	cr_assert_eq(facts, 5);
	cr_assert_eq(header_fields, 4);
	cr_assert_eq(rows, 3);
	free(out);
	free(err);
}

/* A rate with a comparison: the parts and the ratio as extra columns. */
Test(query_answer, rate_parts_and_ratio)
{
	static const char rate[] =
	    "{\"query_id\":\"00\",\"measure\":{\"op\":\"dsr\"},\"description\":\"d\","
	    "\"contributors\":3,\"privacy\":{},\"cells\":["
	    "{\"group\":{\"imd_decile\":\"1\"},\"value\":98.5,\"ci95\":[34.6,194.5],"
	    "\"numerator\":{\"value\":194},\"denominator\":{\"value\":2069},"
	    "\"ratio\":{\"value\":1.69,\"ci95\":[0.22,13.07]}},"
	    "{\"group\":{\"imd_decile\":\"10\"},\"value\":58.1,\"ci95\":[19.4,117.7],"
	    "\"numerator\":{\"value\":188},\"denominator\":{\"value\":3390},"
	    "\"reference\":true,\"ratio\":{\"value\":1,\"ci95\":[0.12,7.93]}},"
	    "{\"group\":{\"imd_decile\":\"2\"},\"value\":null,\"ci95\":null,"
	    "\"suppressed\":true,\"ratio\":null}]}";
	char *out, *err;

	cr_assert_eq(answer(200, rate, "csv", &out, &err), 0);
	/* Past the comment lines (what was asked, and the facts): */
	const char *body = strstr(out, "\nimd_decile,");
	cr_assert(body != NULL && strncmp(out, "# d\n", 4) == 0, "%s", out);
	cr_assert_str_eq(body + 1, "imd_decile,value,ci95_low,ci95_high,numerator,denominator,"
	                           "ratio,ratio_low,ratio_high\n"
	                           "1,98.50,34.60,194.50,194,2069,1.690,0.220,13.070\n"
	                           "10,58.10,19.40,117.70,188,3390,1.000,0.120,7.930\n"
	                           "2,,,,,,,,\n");
	free(out);
	free(err);
	cr_assert_eq(answer(200, rate, "table", &out, &err), 0);
	cr_assert(strstr(out, "[34.60, 194.50]  numerator 194 of 2069  ratio 1.690 [0.220, "
	                      "13.070]") != NULL,
	          "%s", out);
	free(out);
	free(err);
}

/* ---- short flags ---- */

/* argv for tly_query_from_flags: "query" then the flags (getopt skips
 * argv[0]). */
static char *
from_flags(const char *const *flags, size_t n, char *why, size_t why_len)
{
	char *argv[16];

	cr_assert(n + 1 < sizeof argv / sizeof argv[0]);
	argv[0] = (char *)"query";
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = (char *)flags[i];
	argv[n + 1] = NULL;
	return tly_query_from_flags((int)n + 1, argv, why, why_len);
}

/* A rate's flags without --rate are refused, naming the flag (they were
 * silently dropped); with --rate they make the measure. */
Test(query_flags, rate_only_flags_need_rate)
{
	const char *rate_only[][2] = {{"--per", "1000"},
	                              {"--standardise", "esp2013"},
	                              {"--age-column", "age"},
	                              {"--compare-to", "imd_decile=10"},
	                              {"--compare", "ratio"}};
	char why[256], *json;

	for (size_t i = 0; i < sizeof rate_only / sizeof rate_only[0]; i++) {
		const char *flags[] = {"--count", "--epsilon", "1", rate_only[i][0],
		                       rate_only[i][1]};
		why[0] = '\0';
		cr_assert_null(from_flags(flags, 5, why, sizeof why), "%s", rate_only[i][0]);
		cr_assert(strstr(why, rate_only[i][0]) != NULL &&
		              strstr(why, "needs --rate") != NULL,
		          "%s", why);
	}
	const char *ok[] = {"--rate",  "has_diabetes=1", "--per", "1000",      "--standardise",
	                    "esp2013", "--age-column",   "age",   "--epsilon", "1"};
	json = from_flags(ok, 10, why, sizeof why);
	cr_assert_not_null(json, "%s", why);
	cr_assert(strstr(json, "\"dsr\"") != NULL && strstr(json, "\"per\":1000") != NULL, "%s",
	          json);
	free(json);
}
