/*
 * bench_pg - the node's query evaluation on PostgreSQL against SQLite and
 * against psql running the same SQL on the same PostgreSQL data, in the
 * same run (issue 16 section 2).
 *
 * A synthetic site of 10^6 people (tally synth's generator, 10^4 under
 * TALLY_BENCH_QUICK), its SQLite file, and the same rows copied into a
 * private PostgreSQL server that this program starts and stops
 * (scripts/pg-temp.sh), read by a role granted SELECT only. Two queries,
 * bench_node's: a group-by count (diabetes by age band and sex) and a
 * clipped mean (wait by specialty). Rows:
 *
 *   QUERY            tally on PostgreSQL (tly_eval inside one read), against
 *                    psql -c running the same SQL (its wall time minus that
 *                    of `SELECT 1`: process start and connection)
 *   QUERY_answer     the same plus tly_store_begin/end, as the node answers
 *                    (the checks, the lock, the snapshot), against psql
 *   QUERY_sqlite     tally on SQLite (tly_eval), against tally on PostgreSQL
 *   checks           tly_store_begin/end alone on PostgreSQL (the checks of
 *                    every answer), against the group-by count's answer
 *   checks_no_key    the same on a copy of the table without its primary
 *                    key (one row per person then counted over the table)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/site.h"
#include "bench/timing.h"
#include "node/eval.h"

enum { PEOPLE = 1000000, PEOPLE_QUICK = 10000, REPS = 5 };

static struct tly_store *current;
static struct bench_site site;
static struct tly_spec spec;
static int64_t cells[1024];
static char shell_cmd[9000], server_dir[256], script[512];

static void
die(const char *what)
{
	fprintf(stderr, "bench_pg: %s\n", what);
	if (server_dir[0] != '\0') {
		char cmd[900];
		snprintf(cmd, sizeof cmd, "%s stop %s", script, server_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_pg: %s failed\n", cmd);
	}
	exit(1);
}

static void
evaluate(void *arg)
{
	struct tly_eval_stats stats;
	char why[512];
	(void)arg;
	if (tly_eval(current, &spec, &site.cat, cells, tly_spec_cells(&spec, &site.cat), &stats,
	             why, sizeof why) != TLY_OK)
		die(why);
}

static void
answer(void *arg)
{
	char why[512];
	if (tly_store_begin(current, why, sizeof why) != TLY_OK)
		die(why);
	evaluate(arg);
	tly_store_end(current);
}

static void
begin_end(void *arg)
{
	char why[512];
	(void)arg;
	if (tly_store_begin(current, why, sizeof why) != TLY_OK)
		die(why);
	tly_store_end(current);
}

static void
shell(void *arg)
{
	(void)arg;
	if (system(shell_cmd) != 0)
		die("shell command failed");
}

static void
sh(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_pg: %s\n", cmd);
		die("shell command failed");
	}
}

/* The SQL with its $N parameters written in as literals (our own bench
 * values, not user input), their ::type casts kept. */
static void
literal_sql(const char *sql, const char *const *params, size_t count, char *out, size_t len)
{
	size_t used = 0;
	for (const char *p = sql; *p != '\0' && used + 32 < len; p++) {
		if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
			char *end;
			unsigned long n = strtoul(p + 1, &end, 10);
			if (n > count)
				die("more parameters than the bench knows");
			used += (size_t)snprintf(out + used, len - used, "%s", params[n - 1]);
			p = end - 1;
		} else {
			out[used++] = *p;
		}
	}
	out[used] = '\0';
}

/* The server, and the site's rows copied into it (the same rows as the
 * SQLite file, through sqlite3 -csv and COPY). */
static void
start_server(const char *db, char *reader, size_t reader_len)
{
	const char *bin = getenv("TALLY_BIN");
	char cmd[9000], admin[400];
	snprintf(script, sizeof script, "scripts/pg-temp.sh");
	if (access(script, X_OK) != 0 && bin != NULL)
		snprintf(script, sizeof script, "%s/../../scripts/pg-temp.sh", bin);
	snprintf(server_dir, sizeof server_dir, "/tmp/tally-bench-pg-%d", (int)getpid());
	snprintf(cmd, sizeof cmd, "%s start %s > /dev/null", script, server_dir);
	sh(cmd);
	snprintf(admin, sizeof admin, "host=%s port=5432 dbname=postgres user=postgres",
	         server_dir);
	snprintf(reader, reader_len, "host=%s port=5432 dbname=postgres user=tally_reader",
	         server_dir);
	snprintf(cmd, sizeof cmd,
	         "psql '%s' -X -q -v ON_ERROR_STOP=1 -c \"CREATE ROLE tally_reader LOGIN\" -c "
	         "\"CREATE TABLE patients (person_id text PRIMARY KEY, age integer, age_band "
	         "text, sex text, imd_decile integer, ethnicity text, has_diabetes integer, "
	         "has_copd integer, has_hypertension integer, bmi integer, specialty text, "
	         "wait_weeks integer, ae_attendances_12m integer, opted_out integer NOT NULL)\" "
	         "-c \"GRANT SELECT ON patients TO tally_reader\"",
	         admin);
	sh(cmd);
	snprintf(cmd, sizeof cmd,
	         "sqlite3 -csv %s 'SELECT * FROM patients' | psql '%s' -X -q -v ON_ERROR_STOP=1 "
	         "-c 'COPY patients FROM STDIN (FORMAT csv)' && psql '%s' -X -q -c 'VACUUM "
	         "ANALYZE patients' -c 'CREATE TABLE patients_no_key AS SELECT * FROM patients' -c "
	         "'GRANT SELECT ON patients_no_key TO tally_reader' -c 'VACUUM ANALYZE "
	         "patients_no_key'",
	         db, admin, admin);
	sh(cmd);
}

/* The three rows of one query; the time of tally's answer on PostgreSQL. */
static double
run(const char *name, const struct tly_node_dataset *pg_ds, struct tly_store *lite,
    struct tly_store *pg, const char *reader, const char *json, const char *const *params,
    size_t param_count)
{
	struct tly_field_error err;
	char *sql, literal[4096], params_text[64], what[64], sql_file[300];
	if (tly_spec_parse(&spec, &site.cat, json, strlen(json), &err) != TLY_OK)
		die(err.reason);
	if (tly_eval_sql(pg_ds, &spec, &sql) != TLY_OK)
		die("sql");
	literal_sql(sql, params, param_count, literal, sizeof literal);
	free(sql);
	snprintf(sql_file, sizeof sql_file, "%s-%s.sql", server_dir, name);
	FILE *f = fopen(sql_file, "w");
	if (f == NULL || fprintf(f, "%s;\n", literal) < 0 || fclose(f) != 0)
		die("writing the SQL file");
	if (getenv("BENCH_PG_SQL") != NULL)
		fprintf(stderr, "%s\n", literal);

	snprintf(shell_cmd, sizeof shell_cmd, "psql '%s' -X -q -A -t -c 'SELECT 1' > /dev/null",
	         reader);
	double startup = bench_median(shell, NULL, REPS);
	snprintf(shell_cmd, sizeof shell_cmd, "psql '%s' -X -q -A -t -f %s > /dev/null", reader,
	         sql_file);
	double psql = bench_median(shell, NULL, REPS) - startup;
	char why[512];
	current = pg;
	if (tly_store_begin(pg, why, sizeof why) != TLY_OK)
		die(why);
	double ours_pg = bench_median(evaluate, NULL, REPS);
	tly_store_end(pg);
	double ours_answer = bench_median(answer, NULL, REPS);
	current = lite;
	double ours_lite = bench_median(answer, NULL, REPS);
	unlink(sql_file);

	snprintf(params_text, sizeof params_text, "rows=%ld", bench_pick(PEOPLE, PEOPLE_QUICK));
	bench_row("pg", name, params_text, ours_pg * 1e3, "ms", "psql_same_sql", psql * 1e3);
	snprintf(what, sizeof what, "%s_answer", name);
	bench_row("pg", what, params_text, ours_answer * 1e3, "ms", "psql_same_sql", psql * 1e3);
	snprintf(what, sizeof what, "%s_sqlite", name);
	bench_row("pg", what, params_text, ours_lite * 1e3, "ms", "tally_pg_answer",
	          ours_answer * 1e3);
	tly_spec_fini(&spec);
	return ours_answer * 1e3;
}

/* The site's dataset read from PostgreSQL instead of its file. */
static void
to_postgres(struct tly_node_dataset *ds, const char *reader)
{
	ds->source = TLY_SOURCE_POSTGRESQL;
	ds->path[0] = '\0';
	snprintf(ds->conninfo, sizeof ds->conninfo, "%s", reader);
	snprintf(ds->pg_schema, sizeof ds->pg_schema, "public");
}

/* The checks alone, with the primary key and without (table no_key). */
static void
checks(struct tly_store *pg, struct tly_node_dataset *no_key, double answer_ms)
{
	char params_text[64], why[512];
	struct tly_store *st;
	snprintf(params_text, sizeof params_text, "rows=%ld", bench_pick(PEOPLE, PEOPLE_QUICK));
	current = pg;
	double with_key = bench_median(begin_end, NULL, REPS);
	snprintf(no_key->table, sizeof no_key->table, "patients_no_key");
	if (tly_store_open(&st, no_key, why, sizeof why) != TLY_OK)
		die(why);
	current = st;
	double without = bench_median(begin_end, NULL, REPS);
	tly_store_close(st);
	bench_row("pg", "checks", params_text, with_key * 1e3, "ms", "tally_pg_answer", answer_ms);
	bench_row("pg", "checks_no_key", params_text, without * 1e3, "ms", "tally_pg_answer",
	          answer_ms);
}

static double
queries(const struct tly_node_dataset *pg_ds, struct tly_store *lite, struct tly_store *pg,
        const char *reader)
{
	double answer_ms =
	    run("group_by_count", pg_ds, lite, pg, reader,
	        "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},"
	        "\"where\":[{\"column\":\"has_diabetes\",\"op\":\"=\",\"value\":1}],"
	        "\"group_by\":[\"age_band\",\"sex\"],\"privacy\":{\"mechanism\":\"laplace\","
	        "\"epsilon\":1}}",
	        (const char *const[]){"'1'"}, 1);
	run("clipped_mean", pg_ds, lite, pg, reader,
	    "{\"dataset\":\"patients\",\"measure\":{\"op\":\"mean\",\"column\":\"wait_weeks\"},"
	    "\"group_by\":[\"specialty\"],\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
	    (const char *const[]){"0", "104", "52"}, 3); /* bounds, then the centre */
	return answer_ms;
}

int
main(void)
{
	char why[512], cmd[1000], reader[400];
	struct tly_store *lite, *pg;
	const char *failed =
	    bench_site_make(&site, "pg-data", (uint64_t)bench_pick(PEOPLE, PEOPLE_QUICK));

	if (failed != NULL)
		die(failed);
	struct tly_node_config *cfg = &site.cfg;
	if (tly_store_open(&lite, &cfg->datasets[0], why, sizeof why) != TLY_OK)
		die(why);
	start_server(site.db, reader, sizeof reader);
	struct tly_node_dataset pg_ds = cfg->datasets[0];
	to_postgres(&pg_ds, reader);
	if (tly_store_open(&pg, &pg_ds, why, sizeof why) != TLY_OK)
		die(why);
	bench_header();
	double answer_ms = queries(&pg_ds, lite, pg, reader);
	struct tly_node_dataset no_key = pg_ds;
	checks(pg, &no_key, answer_ms);
	tly_store_close(pg);
	tly_store_close(lite);
	bench_site_fini(&site);
	snprintf(cmd, sizeof cmd, "%s stop %s; rm -rf %s", script, server_dir, site.dir);
	server_dir[0] = '\0';
	if (system(cmd) != 0)
		die("cleanup");
	return 0;
}
