/*
 * bench_node - the node's query evaluation against the sqlite3 shell
 * running the same SQL over the same file, in the same run.
 *
 * A synthetic site of 10^6 people (tally synth's generator); two queries:
 * a group-by count (diabetes by age band and sex) and a clipped mean (wait
 * by specialty). Target (issue "Trust node"): tally's evaluation <= 1.5x
 * the shell's time. The shell's time is its wall time minus the wall time
 * of `SELECT 1` on the same file (process start and open).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/site.h"
#include "bench/timing.h"
#include "node/eval.h"

enum { PEOPLE = 1000000, PEOPLE_QUICK = 10000, REPS = 5 };

static struct tly_store *store;
static struct bench_site site;
static struct tly_spec spec;
static int64_t cells[1024];
static char shell_cmd[8192];

static void
die(const char *what)
{
	fprintf(stderr, "bench_node: %s\n", what);
	exit(1);
}

static void
evaluate(void *arg)
{
	struct tly_eval_stats stats;
	char why[256];
	(void)arg;
	if (tly_eval(store, &spec, &site.cat, cells, tly_spec_cells(&spec, &site.cat), &stats, why,
	             sizeof why) != TLY_OK)
		die(why);
}

static void
shell(void *arg)
{
	(void)arg;
	if (system(shell_cmd) != 0)
		die("sqlite3 shell failed");
}

/* The SQL with its parameters written in: the shell gets the same
 * statement as literals (our own bench values, not user input). */
static void
literal_sql(const char *sql, const char *const *params, size_t count, char *out, size_t len)
{
	size_t used = 0, next = 0;
	for (const char *p = sql; *p != '\0' && used + 32 < len; p++) {
		if (*p == '?') {
			if (next == count)
				die("more parameters than the bench knows");
			used += (size_t)snprintf(out + used, len - used, "%s", params[next++]);
		} else {
			out[used++] = *p;
		}
	}
	if (next != count)
		die("fewer parameters than the bench expects");
	out[used] = '\0';
}

static void
run(const char *name, const struct tly_node_dataset *ds, const char *db, const char *json,
    const char *const *params, size_t param_count)
{
	struct tly_field_error err;
	char *sql, literal[4096], params_text[64];
	if (tly_spec_parse(&spec, &site.cat, json, strlen(json), &err) != TLY_OK)
		die(err.reason);
	if (tly_eval_sql(ds, &spec, &sql) != TLY_OK)
		die("sql");
	literal_sql(sql, params, param_count, literal, sizeof literal);
	free(sql);

	snprintf(shell_cmd, sizeof shell_cmd, "sqlite3 %s 'SELECT 1' > /dev/null", db);
	double startup = bench_median(shell, NULL, REPS);
	char sql_file[4400];
	snprintf(sql_file, sizeof sql_file, "%s.sql", db);
	FILE *f = fopen(sql_file, "w");
	if (f == NULL || fprintf(f, "%s;\n", literal) < 0 || fclose(f) != 0)
		die("writing the SQL file");
	snprintf(shell_cmd, sizeof shell_cmd, "sqlite3 %s < %s > /dev/null", db, sql_file);
	if (getenv("BENCH_NODE_SQL") != NULL)
		fprintf(stderr, "%s\n", literal);
	double sqlite = bench_median(shell, NULL, REPS) - startup;
	double ours = bench_median(evaluate, NULL, REPS);
	snprintf(params_text, sizeof params_text, "rows=%ld", bench_pick(PEOPLE, PEOPLE_QUICK));
	bench_row("node", name, params_text, ours * 1e3, "ms", "sqlite3_shell_same_sql",
	          sqlite * 1e3);
	tly_spec_fini(&spec);
}

int
main(void)
{
	char why[512], cmd[200];
	const char *failed =
	    bench_site_make(&site, "node", (uint64_t)bench_pick(PEOPLE, PEOPLE_QUICK));

	if (failed != NULL)
		die(failed);
	if (tly_store_open(&store, &site.cfg.datasets[0], why, sizeof why) != TLY_OK)
		die(why);

	run("group_by_count", &site.cfg.datasets[0], site.db,
	    "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},"
	    "\"where\":[{\"column\":\"has_diabetes\",\"op\":\"=\",\"value\":1}],"
	    "\"group_by\":[\"age_band\",\"sex\"],\"privacy\":{\"mechanism\":\"laplace\","
	    "\"epsilon\":1}}",
	    (const char *const[]){"'1'"}, 1);
	run("clipped_mean", &site.cfg.datasets[0], site.db,
	    "{\"dataset\":\"patients\",\"measure\":{\"op\":\"mean\",\"column\":\"wait_weeks\"},"
	    "\"group_by\":[\"specialty\"],\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
	    (const char *const[]){"0", "104", "52"}, 3); /* bounds, then the centre (spec_mean.c) */

	tly_store_close(store);
	bench_site_fini(&site);
	snprintf(cmd, sizeof cmd, "rm -rf %s", site.dir);
	if (system(cmd) != 0)
		die("cleanup");
	return 0;
}
