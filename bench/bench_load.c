/*
 * bench_load - loading PostgreSQL against loading SQLite, in the same run
 * (issue 16 section 2: `tally-node import` and `tally synth` can load
 * PostgreSQL).
 *
 * A private server (scripts/pg-temp.sh, run from the tree's top as `make
 * bench` does) and one CSV extract of 10^6 people (10^4 in the short pass)
 * with the synthetic trusts' columns. Rows:
 *   import_sqlite     tly_import_csv into a new SQLite file (the baseline)
 *   import_postgres   tly_import_csv_postgres into a new table (--replace)
 *   psql_copy         psql's \copy of the same CSV into a table of the same
 *                     types with the same primary key: PostgreSQL's own
 *                     floor, no checks (the second baseline)
 *   synth_sqlite      tly_synth, 5 sites, into SQLite files (baseline)
 *   synth_postgres    the same seed into PostgreSQL tables
 * each in rows per second, the median of REPS runs, with the ratio to its
 * baseline (above 1: faster than the baseline).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench/timing.h"
#include "cli/synth.h"
#include "node/import.h"

enum { PEOPLE = 1000000, PEOPLE_QUICK = 10000, REPS = 3, SITES = 5 };

static const char node_conf[] =
    "[node]\nid = 1\ncoordinator = x\nsign_key = a\nkx_key = b\nledger = c\n"
    "[dataset patients]\npath = p.db\ntable = patients\nperson_id = person_id\n"
    "opt_out = opted_out\ncolumn.age = integer 0 110\n"
    "column.age_band = categorical 0-17,18-39,40-64,65-79,80+\n"
    "column.sex = categorical F,M\ncolumn.imd_decile = categorical 1,2,3,4,5,6,7,8,9,10\n"
    "column.ethnicity = categorical white,asian,black,mixed,other\n"
    "column.has_diabetes = categorical 0,1\ncolumn.bmi = integer 10 80\n"
    "column.wait_weeks = integer 0 104\n";

static const char *const ethnicities[5] = {"white", "asian", "black", "mixed", "other"};
static const char *const bands[5] = {"0-17", "18-39", "40-64", "65-79", "80+"};

static char dir[] = "/tmp/tally-bench-load-XXXXXX";
static char conninfo[400], csv[200], db[200];
static struct tly_node_config cfg;
static long people;
static unsigned run_count;

static void
die(const char *what)
{
	fprintf(stderr, "bench_load: %s\n", what);
	exit(1);
}

static void
stop_server(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "scripts/pg-temp.sh stop %s/pg; rm -rf %s", dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_load: could not stop the server in %s\n", dir);
}

static void
start_server(void)
{
	char cmd[300], path[200];
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0)
		die("mkdtemp");
	atexit(stop_server);
	snprintf(path, sizeof path, "%s/conninfo", dir);
	snprintf(cmd, sizeof cmd, "scripts/pg-temp.sh start %s/pg > %s", dir, path);
	if (system(cmd) != 0)
		die("scripts/pg-temp.sh start failed (run from the tree's top)");
	FILE *f = fopen(path, "r");
	if (f == NULL || fgets(conninfo, sizeof conninfo, f) == NULL)
		die("no connection string");
	fclose(f);
	conninfo[strcspn(conninfo, "\n")] = '\0';
}

/* A deterministic extract of `people` rows (rand_r: test data). */
static void
write_csv(void)
{
	unsigned seed = 1;
	FILE *f = fopen(csv, "w");
	if (f == NULL)
		die(csv);
	fprintf(f, "person_id,age,age_band,sex,imd_decile,ethnicity,has_diabetes,bmi,"
	           "wait_weeks,opted_out\n");
	for (long i = 0; i < people; i++) {
		int age = rand_r(&seed) % 100;
		int band = age < 18 ? 0 : age < 40 ? 1 : age < 65 ? 2 : age < 80 ? 3 : 4;
		fprintf(f, "P%08ld,%d,%s,%s,%d,%s,%d,", i, age, bands[band],
		        rand_r(&seed) % 2 ? "F" : "M", 1 + rand_r(&seed) % 10,
		        ethnicities[rand_r(&seed) % 5], rand_r(&seed) % 14 == 0);
		if (age >= 18)
			fprintf(f, "%d", 18 + rand_r(&seed) % 30);
		if (rand_r(&seed) % 8 == 0)
			fprintf(f, ",%d", rand_r(&seed) % 105);
		else
			fputc(',', f);
		fprintf(f, ",%d\n", rand_r(&seed) % 20 == 0);
	}
	if (fclose(f) != 0)
		die("writing the CSV");
}

static void
import_sqlite(void *arg)
{
	struct tly_import_report report;
	(void)arg;
	unlink(db);
	if (tly_import_csv(&cfg.datasets[0], csv, db, &report) != TLY_OK)
		die(report.error[0] ? report.error : "import to SQLite refused rows");
}

static void
import_postgres(void *arg)
{
	struct tly_import_report report;
	(void)arg;
	if (tly_import_csv_postgres(&cfg.datasets[0], csv, conninfo, NULL, 1, &report) != TLY_OK)
		die(report.error[0] ? report.error : "import to PostgreSQL refused rows");
}

static void
psql_copy(void *arg)
{
	char cmd[1200];
	(void)arg;
	snprintf(cmd, sizeof cmd,
	         "psql '%s' -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' "
	         "-c 'DROP TABLE IF EXISTS raw' "
	         "-c 'CREATE TABLE raw (person_id text NOT NULL, age bigint, age_band text, "
	         "sex text, imd_decile text, ethnicity text, has_diabetes text, bmi bigint, "
	         "wait_weeks bigint, opted_out integer NOT NULL DEFAULT 0)' "
	         "-c \"\\\\copy raw FROM '%s' WITH (FORMAT csv, HEADER)\" "
	         "-c 'ALTER TABLE raw ADD PRIMARY KEY (person_id)' > /dev/null",
	         conninfo, csv);
	if (system(cmd) != 0)
		die("psql \\copy failed");
}

/* Each synth run into a new folder; the tables of an earlier run are
 * dropped first (a few milliseconds, inside the timing). */
static void
synth(int postgres)
{
	struct tly_synth_options opt = {
	    .sites = SITES, .people = (uint64_t)people, .seed = 1, .quiet = 1};
	char out[300], why[512];
	snprintf(out, sizeof out, "%s/synth-%u", dir, run_count++);
	opt.out_dir = out;
	if (postgres) {
		opt.postgres = conninfo;
		PGconn *conn = PQconnectdb(conninfo);
		PQclear(PQexec(conn, "SET client_min_messages = warning"));
		PGresult *res = PQexec(conn, "DROP TABLE IF EXISTS site1_patients, site2_patients, "
		                             "site3_patients, site4_patients, site5_patients");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("DROP TABLE failed");
		PQclear(res);
		PQfinish(conn);
	}
	if (tly_synth(&opt, why, sizeof why) != TLY_OK)
		die(why);
}

static void
synth_sqlite(void *arg)
{
	(void)arg;
	synth(0);
}

static void
synth_postgres(void *arg)
{
	(void)arg;
	synth(1);
}

int
main(void)
{
	struct tly_field_error err;
	char params[64];

	people = bench_pick(PEOPLE, PEOPLE_QUICK);
	start_server();
	if (tly_node_config_parse(&cfg, node_conf, "bench.conf", dir, &err) != TLY_OK)
		die(err.reason);
	snprintf(csv, sizeof csv, "%s/extract.csv", dir);
	snprintf(db, sizeof db, "%s/out.db", dir);
	write_csv();
	snprintf(params, sizeof params, "rows=%ld", people);
	double n = (double)people;
	double base = n / bench_median(import_sqlite, NULL, REPS);
	double pg = n / bench_median(import_postgres, NULL, REPS);
	double copy = n / bench_median(psql_copy, NULL, REPS);
	bench_header();
	bench_row("load", "import_sqlite", params, base, "rows/s", "", 0);
	bench_row("load", "import_postgres", params, pg, "rows/s", "import_sqlite", base);
	bench_row("load", "psql_copy", params, copy, "rows/s", "import_sqlite", base);
	bench_row("load", "import_postgres", params, pg, "rows/s", "psql_copy", copy);
	snprintf(params, sizeof params, "rows=%ld sites=%d", people, SITES);
	base = n / bench_median(synth_sqlite, NULL, REPS);
	pg = n / bench_median(synth_postgres, NULL, REPS);
	bench_row("load", "synth_sqlite", params, base, "rows/s", "", 0);
	bench_row("load", "synth_postgres", params, pg, "rows/s", "synth_sqlite", base);
	tly_node_config_fini(&cfg);
	return 0;
}
