/*
 * The whole system as separate processes on loopback: a coordinator and
 * five tally-node daemons over mutual TLS, set up with `tally demo
 * --serve`, asked questions with `tally query`, and hurt in the ways a
 * real federation is: nodes killed mid-round, the coordinator killed and
 * restarted, strangers with the wrong certificates or keys, garbage on
 * every port, budgets run dry. Every log is verified at the end.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/daemons.h"
#include "tests/demo.h"

enum { SITES = 5 };

static struct dmn_demo demo;

/* Run a tally program to completion, its stdout to log and its stderr
 * discarded; its exit code. */
static int
run_to(const char *log, const char *const argv[])
{
	return dmn_demo_run_split(&demo, log, NULL, argv);
}

/* The same with stdout to DIR/out.txt. */
static int
run(const char *const argv[])
{
	char log[300];
	dmn_demo_path(&demo, log, sizeof log, "out.txt");
	return run_to(log, argv);
}

static void
setup(void)
{
	dmn_demo_init(&demo, "fed");
	dmn_demo_serve(&demo, SITES, 20000, 3);
}

static void
teardown(void)
{
	dmn_demo_fini(&demo);
}

TestSuite(federation, .init = setup, .fini = teardown, .timeout = 240);

static json_t *
query_json(const char *spec_file, int *exit_code)
{
	char conf[300], out[300], spec[300];
	snprintf(conf, sizeof conf, "%s/planner.conf", demo.dir);
	snprintf(out, sizeof out, "%s/answer.json", demo.dir);
	snprintf(spec, sizeof spec, "%s/queries/%s", demo.dir, spec_file);
	*exit_code =
	    dmn_demo_run_to(&demo, out,
	                    (const char *const[]){"tally", "query", "--config", conf, "--spec",
	                                          spec, "--format", "json", NULL});
	json_error_t err;
	return json_load_file(out, 0, &err);
}

/* tally query --config DIR/planner.conf EXTRA...: stdout to out, stderr to
 * err (made afresh); NULL discards either. */
static int
query_to(const char *out, const char *err, const char *const *extra)
{
	char conf[300];
	const char *argv[32] = {"tally", "query", "--config", conf};
	size_t n = 4;
	snprintf(conf, sizeof conf, "%s/planner.conf", demo.dir);
	for (; *extra != NULL && n < 30; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	if (err != NULL)
		(void)remove(err);
	return dmn_demo_run_split(&demo, out, err, argv);
}

/* The same with stdout in DIR/out.txt. */
static int
query_flags(const char *const *extra)
{
	char out[300];
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	return query_to(out, NULL, extra);
}

static int
audit_ok(void)
{
	return run((const char *const[]){"tally", "audit", "verify", "--dir", demo.dir, NULL}) == 0;
}

Test(federation, round_trip_matches_truth_and_logs_verify)
{
	int code;
	json_t *result = query_json("diabetes_by_age_sex.json", &code);
	cr_assert_eq(code, 0);
	cr_assert_not_null(result);
	cr_assert_eq(json_integer_value(json_object_get(result, "contributors")), SITES);
	cr_assert_eq(json_array_size(json_object_get(result, "cells")), 10);
	json_decref(result);
	result = query_json("mean_wait_by_specialty.json", &code);
	cr_assert_eq(code, 0);
	json_decref(result);
	result = query_json("ae_histogram.json", &code);
	cr_assert_eq(code, 0);
	json_decref(result);
	cr_assert(audit_ok(), "audit after three queries");
}

/* The exact count per (imd decile, sex, age band) over every site's file:
 * truth[decile - 1][sex][band]. */
static void
load_truth(long truth[10][2][5])
{
	static const char *const bands[5] = {"0-17", "18-39", "40-64", "65-79", "80+"};
	memset(truth, 0, sizeof(long[10][2][5]));
	for (int s = 1; s <= SITES; s++) {
		char cmd[600], band[16], sex[4];
		int decile;
		long count;
		snprintf(cmd, sizeof cmd,
		         "sqlite3 -separator ' ' %s/site-%d/patients.db \"SELECT imd_decile, sex, "
		         "age_band, COUNT(*) FROM patients WHERE opted_out = 0 GROUP BY 1, 2, 3\"",
		         demo.dir, s);
		FILE *p = popen(cmd, "r");
		cr_assert_not_null(p);
		while (fscanf(p, "%d %3s %15s %ld", &decile, sex, band, &count) == 4) {
			for (int b = 0; b < 5; b++)
				if (strcmp(band, bands[b]) == 0 && decile >= 1 && decile <= 10)
					truth[decile - 1][sex[0] == 'M'][b] += count;
		}
		pclose(p);
	}
}

Test(federation, intervals_cover_the_truth_about_95_percent)
{
	/* 100 cells a query (imd decile x sex x age band), epsilon 0.5: four
	 * queries give 400 cells. The intervals are exact quantiles of a
	 * discrete distribution, so coverage is at least 95% (up to ~97%);
	 * with 400 cells, 5 standard errors below 0.95 is 0.895. */
	static const char *const bands[5] = {"0-17", "18-39", "40-64", "65-79", "80+"};
	char conf[300], out[300];
	long truth[10][2][5];
	int covered = 0, total = 0;
	load_truth(truth);
	snprintf(conf, sizeof conf, "%s/planner.conf", demo.dir);
	snprintf(out, sizeof out, "%s/cover.json", demo.dir);
	for (int q = 0; q < 4; q++) {
		int code = dmn_demo_run_to(
		    &demo, out,
		    (const char *const[]){"tally", "query", "--config", conf, "--count", "--by",
		                          "imd_decile,sex,age_band", "--epsilon", "0.5", "--format",
		                          "json", NULL});
		cr_assert_eq(code, 0, "query %d", q);
		json_error_t err;
		json_t *result = json_load_file(out, 0, &err);
		cr_assert_not_null(result);
		size_t i;
		json_t *cell;
		json_array_foreach(json_object_get(result, "cells"), i, cell)
		{
			json_t *group = json_object_get(cell, "group");
			int decile = atoi(json_string_value(json_object_get(group, "imd_decile")));
			int male = json_string_value(json_object_get(group, "sex"))[0] == 'M';
			const char *band = json_string_value(json_object_get(group, "age_band"));
			int b = 0;
			while (b < 5 && strcmp(band, bands[b]) != 0)
				b++;
			cr_assert(decile >= 1 && decile <= 10 && b < 5, "unexpected group");
			long t = truth[decile - 1][male][b];
			json_t *ci = json_object_get(cell, "ci95");
			double lo = json_number_value(json_array_get(ci, 0));
			double hi = json_number_value(json_array_get(ci, 1));
			covered += t >= lo && t <= hi;
			total++;
		}
		json_decref(result);
	}
	cr_log_info("coverage %d / %d", covered, total);
	cr_assert_eq(total, 400);
	cr_assert_geq((double)covered / total, 0.895, "coverage %d/%d", covered, total);
}

/* The first bytes of a file, for a failure message. */
static const char *
slurp(const char *path)
{
	static char text[1024];
	FILE *f = fopen(path, "r");
	size_t n = f != NULL ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f != NULL)
		fclose(f);
	text[n] = '\0';
	return text;
}

/* The clipped sum and count of wait_weeks per specialty over every site's
 * file: the census truth a mean estimates. */
static void
load_wait_truth(const char *const *specialty, size_t n, double *sum, double *count)
{
	for (size_t i = 0; i < n; i++)
		sum[i] = count[i] = 0;
	for (int s = 1; s <= SITES; s++) {
		char cmd[600], name[64];
		double site_sum, site_count;
		snprintf(
		    cmd, sizeof cmd,
		    "sqlite3 -separator '|' %s/site-%d/patients.db \"SELECT specialty, "
		    "SUM(MIN(MAX(wait_weeks, 0), 104)), COUNT(*) FROM patients WHERE opted_out = "
		    "0 AND wait_weeks IS NOT NULL GROUP BY 1\"",
		    demo.dir, s);
		FILE *p = popen(cmd, "r");
		cr_assert_not_null(p);
		while (fscanf(p, "%63[^|]|%lf|%lf\n", name, &site_sum, &site_count) == 3)
			for (size_t i = 0; i < n; i++)
				if (strcmp(name, specialty[i]) == 0) {
					sum[i] += site_sum;
					count[i] += site_count;
				}
		pclose(p);
	}
}

/* A mean through the daemons (node SQL and weights, coordinator release)
 * against the truth from the site files. At epsilon 2 (the demo's cap a
 * query) the noise of a mean of several hundred rows is a fraction of a
 * week, so a node and a coordinator that disagree on the centre or the
 * weight (a mean wrong by weeks) cannot pass; the check allows 3 times the
 * interval's half-width, which real noise exceeds with probability far
 * below 1e-4. */
Test(federation, mean_through_the_daemons_matches_the_truth)
{
	enum { MAX_GROUPS = 16 };
	const char *names[MAX_GROUPS];
	double value[MAX_GROUPS], lo[MAX_GROUPS], hi[MAX_GROUPS], sum[MAX_GROUPS],
	    count[MAX_GROUPS], got_count[MAX_GROUPS], count_half[MAX_GROUPS];
	char out[300], errf[300];
	size_t n = 0, i;
	json_t *cell;
	snprintf(out, sizeof out, "%s/mean.json", demo.dir);
	snprintf(errf, sizeof errf, "%s/mean.err", demo.dir);
	cr_assert_eq(query_to(out, errf,
	                      (const char *const[]){"--mean", "wait_weeks", "--by", "specialty",
	                                            "--epsilon", "2", "--format", "json", NULL}),
	             0, "%s", slurp(errf));
	json_error_t err;
	json_t *result = json_load_file(out, 0, &err);
	cr_assert_not_null(result, "%s", err.text);
	json_array_foreach(json_object_get(result, "cells"), i, cell)
	{
		cr_assert_lt(n, MAX_GROUPS);
		json_t *ci = json_object_get(cell, "ci95");
		names[n] =
		    json_string_value(json_object_get(json_object_get(cell, "group"), "specialty"));
		value[n] = json_number_value(json_object_get(cell, "value"));
		lo[n] = json_number_value(json_array_get(ci, 0));
		hi[n] = json_number_value(json_array_get(ci, 1));
		json_t *c = json_object_get(cell, "count"), *cci = json_object_get(c, "ci95");
		got_count[n] = json_number_value(json_object_get(c, "value"));
		count_half[n] = (json_number_value(json_array_get(cci, 1)) -
		                 json_number_value(json_array_get(cci, 0))) /
		                2;
		n++;
	}
	cr_assert_eq(n, 12);
	load_wait_truth(names, n, sum, count);
	int covered = 0;
	for (i = 0; i < n; i++) {
		double truth = sum[i] / count[i], half = (hi[i] - lo[i]) / 2;
		cr_log_info("%s: %.3f [%.3f, %.3f], truth %.3f (%g rows, released %.1f)", names[i],
		            value[i], lo[i], hi[i], truth, count[i], got_count[i]);
		cr_assert_gt(count[i], 50, "%s: too few rows to test", names[i]);
		cr_assert_leq(fabs(value[i] - truth), 3 * half + 0.01, "%s", names[i]);
		cr_assert_leq(fabs(got_count[i] - count[i]), 3 * count_half[i] + 0.1, "%s",
		              names[i]);
		covered += lo[i] <= truth && truth <= hi[i];
	}
	cr_log_info("the mean's interval covered the truth in %d of %zu specialties", covered, n);
	json_decref(result);
}

Test(federation, a_killed_node_is_dropped_then_too_few_fail_with_exit_4)
{
	int code;
	cr_assert_eq(kill(dmn_pid_of(demo.dir, "node-5"), SIGKILL), 0);
	sleep(1);
	json_t *result = query_json("diabetes_by_age_sex.json", &code);
	cr_assert_eq(code, 0, "4 of 5 trusts are enough");
	cr_assert_eq(json_integer_value(json_object_get(result, "contributors")), SITES - 1);
	json_decref(result);
	cr_assert_eq(kill(dmn_pid_of(demo.dir, "node-4"), SIGKILL), 0);
	cr_assert_eq(kill(dmn_pid_of(demo.dir, "node-3"), SIGKILL), 0);
	sleep(1);
	result = query_json("diabetes_by_age_sex.json", &code);
	cr_assert_eq(code, 4, "2 of 5 trusts: too few");
	json_decref(result);
	/* The killed nodes' ledgers still verify. */
	for (int s = 3; s <= 5; s++) {
		char conf[300];
		snprintf(conf, sizeof conf, "%s/site-%d/node.conf", demo.dir, s);
		cr_assert_eq(run((const char *const[]){"tally-node", "ledger", "verify", "--config",
		                                       conf, NULL}),
		             0, "ledger of site %d", s);
	}
}

Test(federation, coordinator_killed_and_restarted)
{
	int code;
	json_t *result = query_json("diabetes_by_age_sex.json", &code);
	cr_assert_eq(code, 0);
	json_decref(result);
	cr_assert_eq(kill(dmn_pid_of(demo.dir, "coordinator"), SIGKILL), 0);
	sleep(1);
	cr_assert(audit_ok(), "the log verifies after a kill");
	/* Restart it with the same config; the nodes redial. */
	char log[300];
	dmn_demo_path(&demo, log, sizeof log, "logs/coordinator.log");
	(void)dmn_demo_start(&demo, "coordinator", log, 1);
	for (int tries = 0; tries < 40; tries++) {
		sleep(1);
		result = query_json("diabetes_by_age_sex.json", &code);
		json_decref(result);
		if (code == 0)
			break;
	}
	cr_assert_eq(code, 0, "queries work again after the restart");
	cr_assert(audit_ok());
}

Test(federation, strangers_are_refused)
{
	char other[200], cmd[900];
	/* A planner certificate from another CA: connection failure, exit 5. */
	snprintf(other, sizeof other, "%s/other-ca", demo.dir);
	cr_assert_eq(run((const char *const[]){"tally", "pki", "init", "--dir", other, NULL}), 0);
	cr_assert_eq(run((const char *const[]){"tally", "pki", "issue", "--dir", other, "--name",
	                                       "mallory", "--role", "planner", NULL}),
	             0);
	snprintf(cmd, sizeof cmd, "%s/mallory.crt", other);
	char key[400], ca[300];
	snprintf(key, sizeof key, "%s/mallory.key", other);
	snprintf(ca, sizeof ca, "%s/pki/coordinator-ca.crt", demo.dir);
	cr_assert_eq(
	    run((const char *const[]){"tally", "query", "--api", demo.api, "--cert", cmd, "--key",
	                              key, "--ca", ca, "--count", "--epsilon", "0.5", NULL}),
	    5);
	/* A node whose key is not in the registry never takes part: queries
	 * still see exactly the five registered trusts. */
	int code;
	json_t *result = query_json("diabetes_by_age_sex.json", &code);
	cr_assert_eq(code, 0);
	cr_assert_eq(json_integer_value(json_object_get(result, "contributors")), SITES);
	json_decref(result);
}

/* Raw bytes to a TCP port on loopback. */
static void
garbage(int port, size_t bytes)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
		char *junk = malloc(bytes);
		for (size_t i = 0; i < bytes; i++)
			junk[i] = (char)(i * 131 + 7);
		(void)write(fd, junk, bytes);
		free(junk);
	}
	close(fd);
}

static int
port_of(const char *key)
{
	char conf[300], line[300];
	int port = -1;
	snprintf(conf, sizeof conf, "%s/coordinator/coordinator.conf", demo.dir);
	FILE *f = fopen(conf, "r");
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		char *colon = strrchr(line, ':');
		if (strncmp(line, key, strlen(key)) == 0 && colon != NULL)
			port = atoi(colon + 1);
	}
	if (f != NULL)
		fclose(f);
	return port;
}

Test(federation, garbage_on_every_port_is_survived)
{
	int hub = port_of("listen"), api = port_of("api");
	cr_assert_gt(hub, 0);
	cr_assert_gt(api, 0);
	for (int i = 0; i < 5; i++) {
		garbage(hub, 17);
		garbage(hub, 70000);
		garbage(api, 5);
		garbage(api, 300000);
	}
	int code;
	json_t *result = query_json("diabetes_by_age_sex.json", &code);
	cr_assert_eq(code, 0, "the daemons keep serving");
	json_decref(result);
}

Test(federation, budget_exhaustion_is_refused_with_exit_3)
{
	/* Each node allows epsilon 20 in total, 2 per query: ten queries at
	 * epsilon 2 spend it all; the eleventh is refused. */
	const char *const ask[] = {"--count", "--by", "sex", "--epsilon", "2", NULL};
	for (int i = 0; i < 10; i++)
		cr_assert_eq(query_flags(ask), 0, "query %d of 10", i + 1);
	cr_assert_eq(query_flags(ask), 3, "over the budget");
	char out[300];
	snprintf(out, sizeof out, "%s/out.txt", demo.dir);
	cr_assert(audit_ok(), "logs verify, and no node is over its cap");
}

/* Issue 12 section 2: the coordinator refuses, before it sends anything,
 * a query whose noise passes the samplers' caps and one whose noise costs
 * more than its max_query_work (default 10^9 work units): exit 2, the
 * message names the limit, and no trust's ledger has an entry. */
static int
ledger_entries(int site)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd,
	         "sqlite3 %s/site-%d/state/ledger.db 'SELECT COUNT(*) FROM entries' "
	         "> %s/count.txt",
	         demo.dir, site, demo.dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(cmd, sizeof cmd, "%s/count.txt", demo.dir);
	FILE *f = fopen(cmd, "r");
	int n = -1;
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", &n), 1);
	fclose(f);
	return n;
}

/* tally query with its stderr in DIR/out.txt. */
static int
query_stderr(const char *const *extra)
{
	char log[300];
	dmn_demo_path(&demo, log, sizeof log, "out.txt");
	return query_to(NULL, log, extra);
}

static void
assert_out_has(const char *what)
{
	char path[300];
	snprintf(path, sizeof path, "%s/out.txt", demo.dir);
	FILE *f = fopen(path, "r");
	char text[4096] = "";
	cr_assert_not_null(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	cr_assert(strstr(text, what) != NULL, "\"%s\" not in: %s", what, text);
}

Test(federation, costly_queries_are_refused_before_they_are_sent_with_exit_2)
{
	const char *const tiny[] = {"--count", "--epsilon", "0.000000001", NULL};
	cr_assert_eq(query_stderr(tiny), 2, "an epsilon past the samplers' caps");
	assert_out_has("samplers' limits");
	/* 100 x 2 x 5 = 1000 cells at epsilon 10^-6, h = 2: 1000 x 2026156
	 * work units */
	char edges[600];
	size_t used = 0;
	for (int i = 0; i <= 100; i++)
		used +=
		    (size_t)snprintf(edges + used, sizeof edges - used, "%s%d", i ? "," : "", i);
	const char *const bomb[] = {"--histogram",  "age",       "--edges",  edges, "--by",
	                            "sex,age_band", "--epsilon", "0.000001", NULL};
	cr_assert_eq(query_stderr(bomb), 2, "a cost bomb");
	assert_out_has("2026156000 work units, above this coordinator's max_query_work 1000000000");
	for (int site = 1; site <= 5; site++)
		cr_assert_eq(ledger_entries(site), 0, "site %d has a ledger entry", site);
	/* an honest query still runs */
	const char *const ask[] = {"--count", "--by", "sex", "--epsilon", "1", NULL};
	cr_assert_eq(query_flags(ask), 0);
}

static char *
read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	char *text = NULL;
	size_t cap = 0, len = 0, got;
	do {
		if (len + 4096 + 1 > cap) {
			cap = 2 * cap + 4096 + 1;
			text = realloc(text, cap);
			cr_assert_not_null(text);
		}
		got = fread(text + len, 1, 4096, f);
		len += got;
	} while (got > 0);
	fclose(f);
	/* SQLite files hold NULs: make them spaces, so strstr sees it all. */
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\0')
			text[i] = ' ';
	text[len] = '\0';
	return text;
}

static void
data_sql(int site, const char *sql)
{
	char cmd[800];
	snprintf(cmd, sizeof cmd, "sqlite3 %s/site-%d/patients.db \"%s\"", demo.dir, site, sql);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void
duplicate_seven_people(void)
{
	/* Seven people twice in sites 1 to 3 (without tally synth's UNIQUE,
	 * as a trust's own export might be), written by another process. */
	for (int site = 1; site <= 3; site++)
		data_sql(site,
		         "BEGIN; CREATE TABLE copy AS SELECT * FROM patients; DROP TABLE "
		         "patients; ALTER TABLE copy RENAME TO patients; INSERT INTO patients "
		         "SELECT * FROM patients ORDER BY person_id LIMIT 7; COMMIT;");
}

static void
mend(void)
{
	for (int site = 1; site <= 3; site++)
		data_sql(site, "DELETE FROM patients WHERE rowid NOT IN (SELECT MIN(rowid) FROM "
		               "patients GROUP BY person_id);");
}

/* Three of five trusts refuse (too few answer: exit 3); the coordinator's
 * log shows exactly what it received from them, the fixed text and no
 * count; the trusts' own logs have the count. */
static void
expect_data_refusals(const char *const *ask, int logged_before)
{
	char path[300];
	cr_assert_eq(query_flags(ask), 3, "three refusals leave too few: refused");
	snprintf(path, sizeof path, "%s/logs/coordinator.log", demo.dir);
	char *text = read_all(path);
	size_t refusals = 0;
	for (char *p = text; (p = strstr(p, "refused: refused: this trust's data does not pass the "
	                                    "node's checks (one row per person, the declared "
	                                    "columns; the trust's own log says more); nothing was "
	                                    "charged")) != NULL;
	     p++)
		refusals++;
	cr_assert_eq(refusals, (size_t)logged_before + 3, "%s", text);
	cr_assert(strstr(text, "duplicate") == NULL, "a count reached the coordinator: %s", text);
	free(text);
	snprintf(path, sizeof path, "%s/logs/node-2.log", demo.dir);
	text = read_all(path);
	cr_assert(strstr(text, "is not unique (7 duplicate rows)") != NULL,
	          "the trust's own log says why: %s", text);
	free(text);
}

/* What the planner sees and what the data officer sees, with real daemons:
 * duplicate person ids in three trusts' files are refused before any
 * charge with a fixed text, both when the nodes first open their files and
 * when the files change under running nodes (the coordinator's log shows
 * exactly what it received: no count; the same text goes into its
 * transparency log); the count is in the trusts' own logs only. With the
 * data mended, the nodes answer again, the CSV's first line states every
 * filter, and the logs verify (the refusals cost nothing). */
Test(federation, csv_states_the_filters_and_changed_data_is_refused_without_data)
{
	char out[300];
	const char *const ask[] = {
	    "--count", "--by",      "sex",       "--where", "has_diabetes = 1",
	    "--where", "age >= 65", "--epsilon", "0.5",     "--format",
	    "csv",     NULL};

	duplicate_seven_people();
	expect_data_refusals(ask, 0);
	mend();
	cr_assert_eq(query_flags(ask), 0, "mended data is answered");
	snprintf(out, sizeof out, "%s/out.txt", demo.dir);
	char *text = read_all(out);
	static const char first[] = "# count of people in dataset \"patients\" where age >= 65 "
	                            "and has_diabetes = \"1\", by sex\n# query id: ";
	cr_assert(strncmp(text, first, strlen(first)) == 0, "%s", text);
	/* Then the facts (issue 15), and the header after the comment lines. */
	cr_assert(strstr(text, "\n# filters: age >= 65, has_diabetes = \"1\"\n") != NULL, "%s",
	          text);
	cr_assert(strstr(text, "\n# privacy cost: epsilon 0.5 at each trust") != NULL, "%s", text);
	cr_assert(strstr(text, "\n# trusts: ") != NULL, "%s", text);
	cr_assert(strstr(text, "\nsex,value,ci95_low,ci95_high\n") != NULL, "%s", text);
	free(text);

	/* Changed under the running nodes, which hold their files open. */
	duplicate_seven_people();
	expect_data_refusals(ask, 3);
	mend();
	cr_assert_eq(query_flags(ask), 0, "mended data is answered again");
	cr_assert(audit_ok(), "refusals for bad data cost nothing and the logs verify");
}

/* Regression (found by tests/test_netns.c): tally-node never printed its
 * link's events, so a node that could not reach the coordinator (refused,
 * TLS name or certificate) logged nothing about why. */
Test(federation, a_node_logs_why_it_cannot_reach_the_coordinator)
{
	char log[300], line[600];
	int lost = 0, refused = 0;
	cr_assert_eq(kill(dmn_pid_of(demo.dir, "coordinator"), SIGKILL), 0);
	snprintf(log, sizeof log, "%s/logs/node-1.log", demo.dir);
	for (int tries = 0; tries < 100 && !(lost && refused); tries++) {
		struct timespec pause = {0, 100000000};
		nanosleep(&pause, NULL);
		FILE *f = fopen(log, "r");
		while (f != NULL && fgets(line, sizeof line, f) != NULL) {
			lost |= strstr(line, "connection to the coordinator lost") != NULL;
			refused |=
			    strstr(line, "cannot connect to the coordinator at tls+tcp://") !=
			        NULL &&
			    strstr(line, "refused") != NULL;
		}
		if (f != NULL)
			fclose(f);
	}
	cr_assert(lost, "node 1 must log that its connection was lost");
	cr_assert(refused, "node 1 must log why it cannot redial (connection refused)");
}

/* ---- tally query's --timeout (no federation: a listener that never answers) ---- */

static void
write_planner_conf(const char *path, int port, const char *timeout_ms)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "[planner]\napi = http://127.0.0.1:%d\ntls_cert = none.crt\n"
	        "tls_key = none.key\ntls_ca = none.crt\ntimeout_ms = %s\n",
	        port, timeout_ms);
	fclose(f);
}

/* The planner config says 10 minutes, --timeout says 1 s: the flag wins
 * (flags override the config, DESIGN.md 7.1). `tally query` used to drop
 * --timeout whenever --config was given (the config loader started from
 * zero), and this test then ran into its own 60 s timeout. Without the
 * flag, the config's timeout_ms applies. Both end in exit 4. Plain HTTP,
 * so that only the flag handling is under test (test_transport.c has the
 * TLS client's timeout). */
Test(query_timeout, flag_beats_planner_config, .timeout = 60)
{
	char conf[300], cmd[300];
	int port, fd;
	dmn_demo_init(&demo, "fed");
	fd = dmn_listen_loopback(8, &port); /* never accepts: never answers */
	snprintf(conf, sizeof conf, "%s/planner.conf", demo.dir);
	write_planner_conf(conf, port, "600000");
	cr_assert_eq(query_flags((const char *const[]){"--timeout", "1000", "--count", "--epsilon",
	                                               "0.5", NULL}),
	             4, "--timeout 1000 against a server that never answers");
	write_planner_conf(conf, port, "1000");
	cr_assert_eq(query_flags((const char *const[]){"--count", "--epsilon", "0.5", NULL}), 4,
	             "timeout_ms = 1000 from the config");
	/* A bad timeout_ms names the field and exits 2 (it used to become
	 * "10" from "10s", or the 120 s default from "soon"). */
	const char *bad[] = {"10s", "soon", "0", "-5", "99999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_planner_conf(conf, port, bad[i]);
		cr_assert_eq(
		    query_flags((const char *const[]){"--count", "--epsilon", "0.5", NULL}), 2,
		    "timeout_ms = %s is refused", bad[i]);
	}
	close(fd);
	snprintf(cmd, sizeof cmd, "rm -rf %s", demo.dir);
	cr_assert_eq(system(cmd), 0);
}

/* Issue 15's "Done": diabetes prevalence per 1,000 by IMD decile,
 * age-standardised to ESP 2013, with 95% intervals, in one command
 * through the real daemons; every decile with its value inside its
 * interval, the parts, and the ratio to decile 10. */
Test(federation, age_standardised_prevalence_by_imd_decile_in_one_command)
{
	char out[300];
	json_error_t jerr;
	const char *const ask[] = {
	    "--dataset",  "patients",   "--rate",        "has_diabetes=1", "--per",        "1000",
	    "--group-by", "imd_decile", "--standardise", "esp2013",        "--age-column", "age",
	    "--epsilon",  "1",          "--compare-to",  "imd_decile=10",  "--format",     "json",
	    NULL};

	cr_assert_eq(query_flags(ask), 0, "the Done example is answered");
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	json_t *o = json_load_file(out, 0, &jerr);
	cr_assert_not_null(o, "%s", jerr.text);
	json_t *measure = json_object_get(o, "measure"), *cells = json_object_get(o, "cells");
	cr_assert_str_eq(json_string_value(json_object_get(measure, "op")), "dsr");
	cr_assert_eq(json_integer_value(json_object_get(measure, "per")), 1000);
	cr_assert_eq(json_array_size(cells), 10);
	for (size_t g = 0; g < 10; g++) {
		json_t *c = json_array_get(cells, g), *ci = json_object_get(c, "ci95");
		double v = json_number_value(json_object_get(c, "value"));
		double lo = json_number_value(json_array_get(ci, 0));
		double hi = json_number_value(json_array_get(ci, 1));
		cr_assert(json_is_number(json_object_get(c, "value")), "decile %zu has a value",
		          g + 1);
		cr_assert(0 <= lo && lo <= v && v <= hi && hi <= 1000, "decile %zu: %g [%g, %g]",
		          g + 1, v, lo, hi);
		cr_assert_str_eq(json_string_value(json_object_get(c, "standard")), "esp2013");
		cr_assert(
		    json_is_integer(json_object_get(json_object_get(c, "numerator"), "value")));
		cr_assert(
		    json_is_integer(json_object_get(json_object_get(c, "denominator"), "value")));
		cr_assert(json_is_object(json_object_get(c, "ratio")), "decile %zu ratio", g + 1);
	}
	json_decref(o);
	cr_assert(audit_ok(), "the logs verify");
}
