/* Loading PostgreSQL (node/pg_load.h): `tally synth --postgres` and
 * `tally-node import --postgres` run as processes against a real server
 * (scripts/pg-temp.sh, one per test, stopped in .fini also when the test
 * fails), checked with libpq against the SQLite files of the same seed or
 * CSV: row counts and a hash over every row in person_id order. Bad CSVs
 * load nothing and name the line and field; an existing table is refused;
 * a password in the connection string never reaches stdout or stderr. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "node/pg.h"
#include "node/pg_load.h"

static char dir[] = "/tmp/tally-pgload-XXXXXX";
static char conninfo[300], secret_conninfo[400], bin[600];
static char out_path[300], err_path[300], csv[300], conf[300];

static const char node_conf[] =
    "[node]\nid = 1\ncoordinator = x\nsign_key = a\nkx_key = b\nledger = c\n"
    "[dataset patients]\npath = p.db\ntable = patients\nperson_id = person_id\n"
    "opt_out = opted_out\ncolumn.age = integer 0 110\ncolumn.sex = categorical F,M\n";

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static char *
slurp(const char *path)
{
	static char text[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	text[n] = '\0';
	if (f)
		fclose(f);
	return text;
}

static void
setup(void)
{
	char cmd[400];
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0); /* the server runs as postgres under root */
	snprintf(cmd, sizeof cmd, "scripts/pg-temp.sh start %s/pg > %s/conninfo", dir, dir);
	snprintf(out_path, sizeof out_path, "%s/conninfo", dir);
	cr_assert_eq(system(cmd), 0, "pg-temp.sh start failed");
	snprintf(conninfo, sizeof conninfo, "%s", slurp(out_path));
	conninfo[strcspn(conninfo, "\n")] = '\0';
	snprintf(secret_conninfo, sizeof secret_conninfo, "%s password=secret", conninfo);
	const char *env = getenv("TALLY_BIN");
	snprintf(bin, sizeof bin, "%s", env ? env : "build/bin");
	snprintf(out_path, sizeof out_path, "%s/stdout", dir);
	snprintf(err_path, sizeof err_path, "%s/stderr", dir);
	snprintf(csv, sizeof csv, "%s/in.csv", dir);
	snprintf(conf, sizeof conf, "%s/node.conf", dir);
	write_text(conf, node_conf);
}

static void
teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "scripts/pg-temp.sh stop %s/pg; rm -rf %s", dir, dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(pg_load, .init = setup, .fini = teardown, .timeout = 120);

/* Run bin/program with args, stdout and stderr to files; the exit code. */
static int
run(const char *program, const char *const *args)
{
	char path[700];
	const char *argv[24] = {path};
	size_t n = 1;
	for (; args[n - 1] != NULL; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	snprintf(path, sizeof path, "%s/%s", bin, program);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(out, 1);
		dup2(err, 2);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Neither stdout nor stderr of the last run holds the password. */
static void
assert_no_secret(void)
{
	cr_assert_null(strstr(slurp(out_path), "secret"), "stdout: %s", slurp(out_path));
	cr_assert_null(strstr(slurp(err_path), "secret"), "stderr: %s", slurp(err_path));
}

/* ---- both sides as (rows, hash over rows in person_id order) ---- */

struct digest {
	long rows;
	uint8_t hash[32];
};

static void
hash_cell(crypto_generichash_state *st, const char *text, int first)
{
	if (!first)
		crypto_generichash_update(st, (const uint8_t *)"\x1f", 1);
	if (text == NULL)
		text = "\\N";
	crypto_generichash_update(st, (const uint8_t *)text, strlen(text));
}

static struct digest
sqlite_digest(const char *path, const char *table)
{
	struct digest d = {0};
	crypto_generichash_state st;
	sqlite3 *db;
	sqlite3_stmt *q;
	char sql[200];

	crypto_generichash_init(&st, NULL, 0, sizeof d.hash);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", path);
	snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY person_id", table);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(q); c++)
			hash_cell(&st, (const char *)sqlite3_column_text(q, c), c == 0);
		crypto_generichash_update(&st, (const uint8_t *)"\x1e", 1);
		d.rows++;
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	crypto_generichash_final(&st, d.hash, sizeof d.hash);
	return d;
}

static PGresult *
pg_query(const char *sql)
{
	PGconn *conn = PQconnectdb(conninfo);
	cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
	PGresult *res = PQexec(conn, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(conn));
	PQfinish(conn);
	return res;
}

static struct digest
pg_digest(const char *table)
{
	struct digest d = {0};
	crypto_generichash_state st;
	char sql[200];

	crypto_generichash_init(&st, NULL, 0, sizeof d.hash);
	snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY person_id COLLATE \"C\"", table);
	PGresult *res = pg_query(sql);
	for (int r = 0; r < PQntuples(res); r++) {
		for (int c = 0; c < PQnfields(res); c++)
			hash_cell(&st, PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c),
			          c == 0);
		crypto_generichash_update(&st, (const uint8_t *)"\x1e", 1);
		d.rows++;
	}
	PQclear(res);
	crypto_generichash_final(&st, d.hash, sizeof d.hash);
	return d;
}

static void
assert_same(struct digest a, struct digest b, const char *what)
{
	cr_assert_eq(a.rows, b.rows, "%s: %ld rows in SQLite, %ld in PostgreSQL", what, a.rows,
	             b.rows);
	cr_assert(a.rows > 0, "%s: no rows", what);
	cr_assert_eq(memcmp(a.hash, b.hash, sizeof a.hash), 0, "%s: the rows differ", what);
}

/* 1 when the table exists at the server. */
static int
table_exists(const char *table)
{
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT to_regclass('%s') IS NOT NULL", table);
	PGresult *res = pg_query(sql);
	int exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return exists;
}

/* ---- tally synth --postgres ---- */

Test(pg_load, synth_writes_the_same_rows_as_sqlite)
{
	char a[400], b[400], path[500], table[40];
	snprintf(a, sizeof a, "%s/sqlite", dir);
	snprintf(b, sizeof b, "%s/postgres", dir);
	const char *sqlite_args[] = {"synth", "--sites", "3", "--people", "3000", "--seed",
	                             "11",    "--out",   a,   "--quiet",  NULL};
	const char *pg_args[] = {"synth", "--sites", "3", "--people",   "3000",          "--seed",
	                         "11",    "--out",   b,   "--postgres", secret_conninfo, NULL};
	cr_assert_eq(run("tally", sqlite_args), 0, "%s", slurp(err_path));
	cr_assert_eq(run("tally", pg_args), 0, "%s", slurp(err_path));
	assert_no_secret();
	for (unsigned site = 1; site <= 3; site++) {
		snprintf(path, sizeof path, "%s/site-%u/patients.db", a, site);
		snprintf(table, sizeof table, "site%u_patients", site);
		assert_same(sqlite_digest(path, "patients"), pg_digest(table), table);
		snprintf(path, sizeof path, "%s/site-%u/patients.db", b, site);
		cr_assert_neq(access(path, F_OK), 0, "%s written as well", path);
		snprintf(path, sizeof path, "%s/site-%u/node.conf", b, site);
		struct stat sb;
		cr_assert_eq(stat(path, &sb), 0);
		cr_assert_eq(sb.st_mode & 0777, 0600, "node.conf holds a password: private");
		cr_assert_not_null(strstr(slurp(path), "source = postgresql\nconninfo = "));
		snprintf(table, sizeof table, "table = site%u_patients\n", site);
		cr_assert_not_null(strstr(slurp(path), table));
	}
	char truth_a[600], truth_b[600];
	snprintf(truth_a, sizeof truth_a, "%s/truth.json", a);
	snprintf(truth_b, sizeof truth_b, "%s/truth.json", b);
	char *text = strdup(slurp(truth_a));
	cr_assert_str_eq(text, slurp(truth_b), "the same seed, the same truth");
	free(text);

	/* A second federation into the same server is refused, all of it. */
	snprintf(b, sizeof b, "%s/again", dir);
	cr_assert_eq(run("tally", pg_args), 2);
	cr_assert_not_null(strstr(slurp(err_path), "\"site1_patients\" already exists"), "%s",
	                   slurp(err_path));
	assert_no_secret();
}

/* ---- tally-node import --postgres ---- */

/* n rows: NULL ages, both sexes and empty, opt-outs, ids that need COPY
 * escapes (a backslash, a tab, a comma in quotes). */
static void
write_big_csv(int n)
{
	FILE *f = fopen(csv, "w");
	cr_assert_not_null(f);
	fprintf(f, "sex,person_id,age,opted_out\n");
	fprintf(f, "F,\"a\\b\tc,d\",44,1\n");
	for (int i = 0; i < n; i++) {
		const char *sex = i % 7 == 0 ? "" : i % 2 ? "M" : "F";
		if (i % 11 == 0)
			fprintf(f, "%s,P%06d,,%d\n", sex, i, i % 13 == 0);
		else
			fprintf(f, "%s,P%06d,%d,%s\n", sex, i, i % 111, i % 17 == 0 ? "1" : "");
	}
	cr_assert_eq(fclose(f), 0);
}

static int
import_pg(const char *table, int replace)
{
	const char *args[16] = {"import", "--config", conf,         "--dataset",    "patients",
	                        "--csv",  csv,        "--postgres", secret_conninfo};
	size_t n = 9;
	if (table != NULL) {
		args[n++] = "--table";
		args[n++] = table;
	}
	if (replace)
		args[n++] = "--replace";
	args[n] = NULL;
	return run("tally-node", args);
}

Test(pg_load, import_matches_the_sqlite_import)
{
	char db[400];
	snprintf(db, sizeof db, "%s/out.db", dir);
	write_big_csv(5000);
	const char *args[] = {"import", "--config", conf,    "--dataset", "patients",
	                      "--csv",  csv,        "--out", db,          NULL};
	cr_assert_eq(run("tally-node", args), 0, "%s", slurp(err_path));
	cr_assert_eq(import_pg(NULL, 0), 0, "%s", slurp(err_path));
	cr_assert_not_null(strstr(slurp(out_path), "imported 5001 rows into table patients"), "%s",
	                   slurp(out_path));
	assert_no_secret();
	assert_same(sqlite_digest(db, "patients"), pg_digest("patients"), "import");

	PGresult *res = pg_query("SELECT column_name, data_type, is_nullable FROM "
	                         "information_schema.columns WHERE table_name = 'patients' "
	                         "ORDER BY ordinal_position");
	const char *want[4][3] = {{"person_id", "text", "NO"},
	                          {"age", "bigint", "YES"},
	                          {"sex", "text", "YES"},
	                          {"opted_out", "integer", "NO"}};
	cr_assert_eq(PQntuples(res), 4);
	for (int r = 0; r < 4; r++)
		for (int c = 0; c < 3; c++)
			cr_assert_str_eq(PQgetvalue(res, r, c), want[r][c]);
	PQclear(res);
	res = pg_query("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON "
	               "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
	               "WHERE i.indrelid = 'patients'::regclass AND i.indisprimary");
	cr_assert_eq(PQntuples(res), 1, "one primary key column");
	cr_assert_str_eq(PQgetvalue(res, 0, 0), "person_id");
	PQclear(res);
}

struct bad_case {
	const char *csv;
	const char *says; /* in stderr */
};

Test(pg_load, bad_csv_loads_nothing_and_names_line_and_field)
{
	const struct bad_case cases[] = {
	    {"person_id,age,sex,opted_out,postcode\np1,3,F,0,AB1\n",
	     "column \"postcode\" is not declared"},
	    {"person_id,age,sex,opted_out\np1,3,F,0\np2,4,X,0\np3,5,M,0\n",
	     ":3: sex: \"X\" is not in the declared domain"},
	    {"person_id,age,sex,opted_out\np1,3,F,0\np2,4,M,0\np3,5,M,0\np1,6,F,0\n",
	     ":5: person_id \"p1\" appears more than once"},
	    {"person_id,age,sex,opted_out\np1,3,F,0\np2,old,M,0\n",
	     ":3: age: \"old\" is not an integer"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_text(csv, cases[i].csv);
		cr_assert_eq(import_pg(NULL, 0), 2, "case %zu: %s", i, slurp(err_path));
		cr_assert_not_null(strstr(slurp(err_path), cases[i].says), "case %zu: %s", i,
		                   slurp(err_path));
		assert_no_secret();
		cr_assert_not(table_exists("patients"), "case %zu left a table behind", i);
	}
}

Test(pg_load, existing_table_refused_and_replace_is_all_or_nothing)
{
	write_text(csv, "person_id,age,sex,opted_out\np1,3,F,0\np2,4,M,1\n");
	cr_assert_eq(import_pg("site9_patients", 0), 0, "%s", slurp(err_path));
	struct digest first = pg_digest("site9_patients");
	cr_assert_eq(first.rows, 2);

	write_text(csv, "person_id,age,sex,opted_out\nq1,30,M,0\n");
	cr_assert_eq(import_pg("site9_patients", 0), 2);
	cr_assert_not_null(strstr(slurp(err_path), "\"site9_patients\" already exists"), "%s",
	                   slurp(err_path));
	assert_no_secret();
	struct digest still = pg_digest("site9_patients");
	cr_assert_eq(memcmp(first.hash, still.hash, sizeof first.hash), 0, "refused, untouched");

	/* --replace with a bad row: the old table stays as it was. */
	write_text(csv, "person_id,age,sex,opted_out\nq1,30,M,0\nq2,31,Z,0\n");
	cr_assert_eq(import_pg("site9_patients", 1), 2);
	still = pg_digest("site9_patients");
	cr_assert_eq(memcmp(first.hash, still.hash, sizeof first.hash), 0, "rolled back");

	write_text(csv, "person_id,age,sex,opted_out\nq1,30,M,0\n");
	cr_assert_eq(import_pg("site9_patients", 1), 0, "%s", slurp(err_path));
	cr_assert_eq(pg_digest("site9_patients").rows, 1);
}

Test(pg_load, bad_names_and_servers_are_named_without_the_password)
{
	write_text(csv, "person_id,age,sex,opted_out\np1,3,F,0\n");
	cr_assert_eq(import_pg("x; DROP TABLE y", 0), 2);
	cr_assert_not_null(strstr(slurp(err_path), "names are [a-z][a-z0-9_]*"), "%s",
	                   slurp(err_path));

	char uri[500], nosuch[500];
	snprintf(nosuch, sizeof nosuch, "%s dbname=nosuch", secret_conninfo);
	const char *host = strstr(conninfo, "host=") + 5;
	snprintf(uri, sizeof uri, "postgresql://postgres:secret@/nosuch?host=%.*s",
	         (int)strcspn(host, " "), host);
	/* A user name that is also the password: the server's "role ... does
	 * not exist" and the shown conninfo would quote it. */
	char same[500];
	snprintf(same, sizeof same, "host=%.*s dbname=postgres user=secret password=secret",
	         (int)strcspn(host, " "), host);
	const char *targets[] = {nosuch, uri, "host=/nonexistent password=secret",
	                         "host='unterminated password=secret", same};
	for (size_t i = 0; i < 5; i++) {
		const char *args[] = {"import", "--config", conf,         "--dataset", "patients",
		                      "--csv",  csv,        "--postgres", targets[i],  NULL};
		int rc = run("tally-node", args);
		cr_assert(rc == 1 || rc == 2, "case %zu: exit %d", i, rc);
		cr_assert_not_null(strstr(slurp(err_path), i == 3 ? "not a libpq connection string"
		                                                  : "PostgreSQL ("),
		                   "case %zu: %s", i, slurp(err_path));
		assert_no_secret();
	}
}

/* ---- in-process: the redaction and the names ---- */

Test(pg_load, redact_and_names)
{
	char out[200];
	tly_pg_conninfo_display("host=/tmp/x user=u password=secret dbname='a b'", out, sizeof out);
	cr_assert_str_eq(out, "user=u dbname='a b' host=/tmp/x");
	tly_pg_conninfo_display("postgresql://u:secret@db.example/w?sslmode=require", out,
	                        sizeof out);
	cr_assert_str_eq(out, "user=u dbname=w host=db.example sslmode=require");
	tly_pg_conninfo_display("host=x sslpassword=secret", out, sizeof out);
	cr_assert_str_eq(out, "host=x");
	tly_pg_conninfo_display("host=x password='secret", out, sizeof out);
	cr_assert_str_eq(out, "(unparseable)");
	tly_pg_conninfo_display("password=secret host=a_rather_long_host_name", out, 16);
	cr_assert_str_eq(out, "host=a_rathe...");
	tly_pg_conninfo_display("host=abc dbname=a_rather_long_database_name", out, 20);
	cr_assert_str_eq(out, "dbname=a_rather_...", "%s", out);
	cr_assert(tly_pg_conninfo_has_password("host=x password=secret"));
	cr_assert(tly_pg_conninfo_has_password("postgresql://u:secret@h/d"));
	cr_assert_not(tly_pg_conninfo_has_password("host=x user=u"));

	cr_assert(tly_pg_name_ok("site3_patients"));
	const char *bad[] = {
	    "",         "3site",
	    "Patients", "a-b",
	    "a\"b",     "a;b",
	    "a b",      "a234567890123456789012345678901234567890123456789012345678901234"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_not(tly_pg_name_ok(bad[i]), "%s", bad[i]);
}
