/* The dataset read from PostgreSQL (node/eval_pg.c) against the same rows
 * in SQLite (node/eval.c): a real server started by scripts/pg-temp.sh for
 * the whole binary (PRE_ALL, stopped at POST_ALL whatever the tests did),
 * the same synthetic rows loaded into both (COPY through libpq, bound
 * INSERTs), every measure asked of both and compared cell for cell; then
 * the checks (tables, columns, types, the role's rights, one row per
 * person, re-checked while the node runs), injection attempts, and the
 * conninfo's password never shown. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "node/eval.h"
#include "node/pg.h"

enum { ROWS = 3000 };

/* Domain values that are SQL in disguise: bound, never spliced. */
#define INJ_QUOTE  "q'x"
#define INJ_DROP   "y');DROP TABLE patients;--"
#define INJ_DOLLAR "$$z$$"

static char server_dir[128], lite_dir[128], admin_info[256], reader_info[256];

/* ---- the server, for the whole binary ---- */

static void
script_path(char *out, size_t len)
{
	const char *bin = getenv("TALLY_BIN");

	snprintf(out, len, "scripts/pg-temp.sh");
	if (access(out, X_OK) != 0 && bin != NULL)
		snprintf(out, len, "%s/../../scripts/pg-temp.sh", bin);
}

static void
environment(void)
{
	const char *dir = getenv("TALLY_TEST_PG_DIR");
	cr_assert_not_null(dir, "the server was not started (PRE_ALL)");
	snprintf(server_dir, sizeof server_dir, "%s", dir);
	snprintf(lite_dir, sizeof lite_dir, "%s-lite", dir);
	snprintf(admin_info, sizeof admin_info, "host=%s port=5432 dbname=postgres user=postgres",
	         dir);
	snprintf(reader_info, sizeof reader_info,
	         "host=%s port=5432 dbname=postgres user=tally_reader", dir);
}

/* Run sql as the superuser; the result status, the message in why. */
static int
admin_try(const char *sql, char *why, size_t why_len)
{
	PGconn *conn = PQconnectdb(admin_info);
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	if (why != NULL)
		snprintf(why, why_len, "%s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return ok;
}

static void
admin(const char *sql)
{
	char why[400];
	cr_assert(admin_try(sql, why, sizeof why), "%s: %s", sql, why);
}

struct row {
	char id[16];
	int age; /* -1000 = NULL */
	const char *sex, *band;
	int flag, opted_out; /* -1 = NULL */
};

/* Deterministic rows with every awkward case: NULLs in every column,
 * ages past both bounds, values outside the domains, opt-outs (1, 0 and
 * NULL), and the injection values as data. */
static void
make_row(int i, struct row *r)
{
	static const char *sexes[] = {"F", "M", "F", "M", "X", NULL};
	static const char *bands[] = {"a", "b", "c", INJ_QUOTE, INJ_DROP, INJ_DOLLAR, "d", NULL};
	unsigned x = (unsigned)i * 2654435761u;

	snprintf(r->id, sizeof r->id, "p%05d", i);
	r->age = i % 20 == 0 ? -1000 : i % 37 == 0 ? 150 : i % 41 == 0 ? -3 : (int)(x >> 8) % 100;
	r->sex = sexes[(x >> 4) % 6];
	r->band = bands[(x >> 12) % 8];
	r->flag = i % 23 == 0 ? -1 : (int)(x >> 20) % 2;
	r->opted_out = i % 11 == 0 ? 1 : i % 13 == 0 ? -1 : 0;
}

static void
copy_field(char *line, size_t len, const char *text, int last)
{
	size_t at = strlen(line);
	snprintf(line + at, len - at, "%s%c", text != NULL ? text : "\\N", last ? '\n' : '\t');
}

static void
load_postgres(void)
{
	PGconn *conn = PQconnectdb(admin_info);
	admin("CREATE ROLE tally_reader LOGIN");
	admin("CREATE TABLE patients (person_id text PRIMARY KEY, age integer, sex text, "
	      "band text, flag smallint, opted_out boolean); "
	      "GRANT SELECT ON patients TO tally_reader");
	PGresult *res = PQexec(conn, "COPY patients FROM STDIN");
	cr_assert_eq(PQresultStatus(res), PGRES_COPY_IN, "%s", PQerrorMessage(conn));
	PQclear(res);
	for (int i = 0; i < ROWS; i++) {
		struct row r;
		char line[256] = "", age[16], flag[4];
		make_row(i, &r);
		snprintf(age, sizeof age, "%d", r.age);
		snprintf(flag, sizeof flag, "%d", r.flag);
		copy_field(line, sizeof line, r.id, 0);
		copy_field(line, sizeof line, r.age == -1000 ? NULL : age, 0);
		copy_field(line, sizeof line, r.sex, 0);
		copy_field(line, sizeof line, r.band, 0);
		copy_field(line, sizeof line, r.flag < 0 ? NULL : flag, 0);
		copy_field(line, sizeof line,
		           r.opted_out < 0 ? NULL
		           : r.opted_out   ? "true"
		                           : "false",
		           1);
		cr_assert_eq(PQputCopyData(conn, line, (int)strlen(line)), 1);
	}
	cr_assert_eq(PQputCopyEnd(conn, NULL), 1);
	res = PQgetResult(conn);
	cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
}

static void
bind_or_null(sqlite3_stmt *stmt, int at, int value, int is_null)
{
	if (is_null)
		sqlite3_bind_null(stmt, at);
	else
		sqlite3_bind_int(stmt, at, value);
}

static void
load_sqlite(void)
{
	char path[200];
	sqlite3 *db;
	sqlite3_stmt *stmt;
	snprintf(path, sizeof path, "%s/p.db", lite_dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
	                          "CREATE TABLE patients (person_id TEXT, age INTEGER, sex TEXT, "
	                          "band TEXT, flag INTEGER, opted_out INTEGER); BEGIN",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?)", -1,
	                                &stmt, NULL),
	             SQLITE_OK);
	for (int i = 0; i < ROWS; i++) {
		struct row r;
		make_row(i, &r);
		sqlite3_bind_text(stmt, 1, r.id, -1, SQLITE_TRANSIENT);
		bind_or_null(stmt, 2, r.age, r.age == -1000);
		sqlite3_bind_text(stmt, 3, r.sex, -1, SQLITE_STATIC); /* NULL binds NULL */
		sqlite3_bind_text(stmt, 4, r.band, -1, SQLITE_STATIC);
		bind_or_null(stmt, 5, r.flag, r.flag < 0);
		bind_or_null(stmt, 6, r.opted_out, r.opted_out < 0);
		cr_assert_eq(sqlite3_step(stmt), SQLITE_DONE);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char script[300], cmd[600], line[300], dir[128];
	(void)set;
	snprintf(dir, sizeof dir, "/tmp/tally-pg-test-%d", (int)getpid());
	setenv("TALLY_TEST_PG_DIR", dir, 1);
	environment();
	script_path(script, sizeof script);
	snprintf(cmd, sizeof cmd, "%s start %s", script, server_dir);
	FILE *p = popen(cmd, "r");
	int started = p != NULL && fgets(line, sizeof line, p) != NULL;
	if (p == NULL || pclose(p) != 0 || !started) {
		fprintf(stderr, "test_pg: %s failed\n", cmd);
		unsetenv("TALLY_TEST_PG_DIR");
		return;
	}
	snprintf(cmd, sizeof cmd, "mkdir -p %s", lite_dir);
	if (system(cmd) != 0)
		return;
	load_postgres();
	load_sqlite();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	char script[300], cmd[600];
	(void)stats;
	if (getenv("TALLY_TEST_PG_DIR") == NULL)
		return;
	script_path(script, sizeof script);
	snprintf(cmd, sizeof cmd, "%s stop %s; rm -rf %s", script, server_dir, lite_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_pg: %s failed\n", cmd);
}

/* ---- configs and stores ---- */

static const char node_section[] =
    "[node]\nid = 1\ncoordinator = x\nsign_key = a\nkx_key = b\nledger = c\n";
static const char columns[] = "column.age = integer 0 110\ncolumn.sex = categorical F,M\n"
                              "column.band = categorical a,b,c," INJ_QUOTE "," INJ_DROP
                              "," INJ_DOLLAR "\ncolumn.flag = categorical 0,1\n";

struct source {
	struct tly_node_config cfg;
	struct tly_catalogue cat;
	struct tly_store *store;
};

/* Parse [node] + "[dataset patients]" + lines; TLY_OK or the error. */
static tly_err
parse(struct tly_node_config *cfg, const char *lines, struct tly_field_error *err)
{
	char text[2048];
	snprintf(text, sizeof text, "%s[dataset patients]\n%s", node_section, lines);
	return tly_node_config_parse(cfg, text, "t.conf", lite_dir, err);
}

static void
source_open(struct source *s, int pg)
{
	char lines[1024], why[600];
	struct tly_field_error err;
	snprintf(lines, sizeof lines,
	         "%s%s\ntable = patients\nperson_id = person_id\n"
	         "opt_out = opted_out\n%s",
	         pg ? "source = postgresql\nconninfo = " : "path = p.db", pg ? reader_info : "",
	         columns);
	cr_assert_eq(parse(&s->cfg, lines, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(tly_node_config_catalogue(&s->cfg, &s->cat), TLY_OK);
	cr_assert_eq(tly_store_open(&s->store, &s->cfg.datasets[0], why, sizeof why), TLY_OK, "%s",
	             why);
}

static void
source_close(struct source *s)
{
	tly_store_close(s->store);
	tly_catalogue_fini(&s->cat);
	tly_node_config_fini(&s->cfg);
}

static struct source lite, pg;

static void
setup(void)
{
	environment();
	source_open(&lite, 0);
	source_open(&pg, 1);
}

static void
teardown(void)
{
	source_close(&pg);
	source_close(&lite);
}

TestSuite(pg, .init = setup, .fini = teardown);

enum { CELLS_MAX = 2 * 2 * TLY_ESP2013_BANDS * 8 };

/* body (after "dataset") evaluated by s inside a read the caller began:
 * cells, their count, the stats. */
static size_t
evaluate(struct source *s, const char *body, int64_t *cells, struct tly_eval_stats *stats)
{
	char json[1200], why[600];
	struct tly_field_error err;
	struct tly_spec spec;
	snprintf(json, sizeof json, "{\"dataset\":\"patients\",%s%s}", body,
	         strstr(body, "\"privacy\"") != NULL
	             ? ""
	             : ",\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}");
	cr_assert_eq(tly_spec_parse(&spec, &s->cat, json, strlen(json), &err), TLY_OK, "%s: %s",
	             err.field, err.reason);
	size_t d = tly_spec_cells(&spec, &s->cat);
	cr_assert_leq(d, CELLS_MAX);
	tly_err rv = tly_eval(s->store, &spec, &s->cat, cells, d, stats, why, sizeof why);
	cr_assert_eq(rv, TLY_OK, "%s: %s", body, why);
	tly_spec_fini(&spec);
	return d;
}

/* The same in a read of its own, as the node answers. */
static size_t
answer(struct source *s, const char *body, int64_t *cells, struct tly_eval_stats *stats)
{
	char why[600];
	cr_assert_eq(tly_store_begin(s->store, why, sizeof why), TLY_OK, "%s", why);
	size_t d = evaluate(s, body, cells, stats);
	tly_store_end(s->store);
	return d;
}

/* Every measure, filters of every kind, group-bys with empty cells,
 * clipping at both ends, NULLs and out-of-domain values: the same cells
 * and the same counts of rows matched and left out, from both sources. */
static const char *const suite[] = {
    "\"measure\":{\"op\":\"count\"}",
    "\"measure\":{\"op\":\"count\"},\"where\":[{\"column\":\"flag\",\"op\":\"=\",\"value\":1}],"
    "\"group_by\":[\"band\",\"sex\"]",
    "\"measure\":{\"op\":\"sum\",\"column\":\"age\"},\"group_by\":[\"band\"]",
    "\"measure\":{\"op\":\"mean\",\"column\":\"age\"},\"group_by\":[\"sex\"],"
    "\"privacy\":{\"mechanism\":\"gaussian\",\"rho\":0.5}",
    "\"measure\":{\"op\":\"mean\",\"column\":\"age\"},\"group_by\":[\"band\"]",
    "\"measure\":{\"op\":\"histogram\",\"column\":\"age\",\"edges\":[0,18,65,110]},"
    "\"group_by\":[\"sex\"]",
    "\"measure\":{\"op\":\"histogram\",\"column\":\"age\",\"edges\":[10,20,30,40]}",
    "\"measure\":{\"op\":\"rate\",\"numerator\":[{\"column\":\"flag\",\"op\":\"=\",\"value\":1}]},"
    "\"where\":[{\"column\":\"age\",\"op\":\">=\",\"value\":1}],\"group_by\":[\"sex\"]",
    "\"measure\":{\"op\":\"dsr\",\"numerator\":[{\"column\":\"flag\",\"op\":\"=\",\"value\":1}],"
    "\"age_column\":\"age\"},\"group_by\":[\"sex\"]",
    "\"measure\":{\"op\":\"count\"},\"where\":[{\"column\":\"age\",\"op\":\"<\",\"value\":18}]",
    "\"measure\":{\"op\":\"count\"},\"where\":[{\"column\":\"sex\",\"op\":\"!=\",\"value\":\"F\"}]",
    "\"measure\":{\"op\":\"count\"},\"where\":[{\"column\":\"band\",\"op\":\"in\",\"value\":"
    "[\"b\",\"" INJ_QUOTE "\",\"" INJ_DOLLAR "\"]}]",
    "\"measure\":{\"op\":\"count\"},\"where\":[{\"column\":\"band\",\"op\":\"=\",\"value\":"
    "\"" INJ_DROP "\"}]",
    "\"measure\":{\"op\":\"sum\",\"column\":\"age\"},\"where\":[{\"column\":\"age\",\"op\":\">\","
    "\"value\":64},{\"column\":\"sex\",\"op\":\"=\",\"value\":\"M\"}]",
    "\"measure\":{\"op\":\"count\"},\"where\":[{\"column\":\"age\",\"op\":\"<=\",\"value\":0}],"
    "\"group_by\":[\"flag\"]",
    "\"measure\":{\"op\":\"count\"},\"group_by\":[\"band\"]",
    "\"measure\":{\"op\":\"sum\",\"column\":\"age\"},\"group_by\":[\"flag\",\"sex\"],"
    "\"privacy\":{\"mechanism\":\"gaussian\",\"rho\":0.5}",
};

Test(pg, agrees_with_sqlite_cell_for_cell)
{
	int64_t a[CELLS_MAX], b[CELLS_MAX];
	struct tly_eval_stats sa, sb;

	for (size_t q = 0; q < sizeof suite / sizeof suite[0]; q++) {
		size_t d = answer(&lite, suite[q], a, &sa);
		cr_assert_eq(answer(&pg, suite[q], b, &sb), d);
		int64_t any = 0;
		for (size_t i = 0; i < d; i++) {
			cr_assert_eq(a[i], b[i],
			             "query %zu (%s), cell %zu: sqlite %lld, postgresql %lld", q,
			             suite[q], i, (long long)a[i], (long long)b[i]);
			any |= a[i];
		}
		cr_assert_neq(any, 0, "query %zu answers only zeros: it tests nothing", q);
		cr_assert_eq(sa.rows_matched, sb.rows_matched, "query %zu: rows matched", q);
		cr_assert_eq(sa.rows_unmatched, sb.rows_unmatched, "query %zu: rows left out", q);
	}
	/* The suite covers what it claims: rows left out, and (by the clipped
	 * sum against the plain one) ages past the bounds. */
	answer(&pg, suite[1], b, &sb);
	cr_assert_gt(sb.rows_unmatched, 0);
	answer(&pg,
	       "\"measure\":{\"op\":\"count\"},\"where\":[{\"column\":\"band\",\"op\":\"=\","
	       "\"value\":\"" INJ_DROP "\"}]",
	       b, &sb);
	cr_assert_gt(b[0], 0, "the injection value is data, matched literally");
}

/* The person lookups (usage reports) agree too, and take ids as values. */
Test(pg, person_lookups_agree)
{
	const char *ids[] = {"p00001",
	                     "p00011",
	                     "p00013",
	                     "p00020",
	                     "p02999",
	                     "p03000",
	                     "nobody' OR '1'='1",
	                     "p00001'; DROP TABLE patients; --",
	                     "$$p$$"};
	char json[300], why[300];
	struct tly_field_error err;
	struct tly_spec sl, sp;
	snprintf(json, sizeof json,
	         "{\"dataset\":\"patients\",%s,\"privacy\":{\"mechanism\":"
	         "\"laplace\",\"epsilon\":1}}",
	         suite[1]);
	cr_assert_eq(tly_spec_parse(&sl, &lite.cat, json, strlen(json), &err), TLY_OK);
	cr_assert_eq(tly_spec_parse(&sp, &pg.cat, json, strlen(json), &err), TLY_OK);
	int used_total = 0;
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		int ul, up, el, ep;
		cr_assert_eq(tly_eval_person(lite.store, &sl, ids[i], &ul, why, sizeof why),
		             TLY_OK);
		cr_assert_eq(tly_eval_person(pg.store, &sp, ids[i], &up, why, sizeof why), TLY_OK,
		             "%s", why);
		cr_assert_eq(tly_eval_person_exists(lite.store, ids[i], &el, why, sizeof why),
		             TLY_OK);
		cr_assert_eq(tly_eval_person_exists(pg.store, ids[i], &ep, why, sizeof why), TLY_OK,
		             "%s", why);
		cr_assert_eq(ul, up, "%s: used", ids[i]);
		cr_assert_eq(el, ep, "%s: exists", ids[i]);
		cr_assert_eq(ep, i < 5, "%s", ids[i]);
		used_total += up;
	}
	cr_assert_gt(used_total, 0);
	cr_assert(admin_try("SELECT 1 FROM patients LIMIT 1", NULL, 0), "the table is still there");
	tly_spec_fini(&sl);
	tly_spec_fini(&sp);
}

/* A postgresql dataset on `table` (schema, conninfo as given: the reader's
 * when NULL) with columns age and person_id: tly_store_open's result, its
 * message in why. */
static tly_err
open_table(const char *table, const char *schema, const char *conninfo, char *why, size_t why_len)
{
	struct tly_node_config cfg;
	struct tly_field_error err;
	struct tly_store *st = NULL;
	char lines[1024];
	snprintf(lines, sizeof lines,
	         "source = postgresql\nconninfo = %s\ntable = %s\n%s%s%sperson_id = person_id\n"
	         "column.age = integer 0 110\n",
	         conninfo != NULL ? conninfo : reader_info, table, schema ? "schema = " : "",
	         schema ? schema : "", schema ? "\n" : "");
	cr_assert_eq(parse(&cfg, lines, &err), TLY_OK, "%s: %s", err.field, err.reason);
	tly_err rv = tly_store_open(&st, &cfg.datasets[0], why, why_len);
	tly_store_close(st);
	tly_node_config_fini(&cfg);
	return rv;
}

static void
refused(const char *table, const char *schema, const char *conninfo, const char *needle)
{
	char why[600];
	cr_assert_eq(open_table(table, schema, conninfo, why, sizeof why), TLY_EINVAL,
	             "%s accepted", table);
	cr_assert(strstr(why, needle) != NULL, "%s: want \"%s\" in: %s", table, needle, why);
}

/* Names are exact (another case is another name), the schema is the one
 * configured (no search path), columns exist with integer types, and one
 * row per person. Each table is readable by the reader, so that only the
 * check under test can refuse it. */
Test(pg, refuses_tables_the_checks_reject)
{
	char why[600];
	admin("CREATE TABLE \"Caps\" (person_id text PRIMARY KEY, age int);"
	      "CREATE SCHEMA other; CREATE TABLE other.elsewhere (person_id text PRIMARY KEY, "
	      "age int); GRANT USAGE ON SCHEMA other TO tally_reader;"
	      "CREATE TABLE colcase (person_id text PRIMARY KEY, \"Age\" int);"
	      "CREATE TABLE numtab (person_id text PRIMARY KEY, age numeric);"
	      "CREATE TABLE dups (person_id text, age int);"
	      "INSERT INTO dups VALUES ('a', 1), ('b', 2), ('a', 3);"
	      "GRANT SELECT ON \"Caps\", other.elsewhere, colcase, numtab, dups TO tally_reader");
	refused("caps", NULL, NULL, "no table \"public\".\"caps\"");
	refused("elsewhere", NULL, NULL, "no table \"public\".\"elsewhere\"");
	cr_assert_eq(open_table("elsewhere", "other", NULL, why, sizeof why), TLY_OK, "%s", why);
	refused("colcase", NULL, NULL, "no declared column \"age\"");
	refused("numtab", NULL, NULL, "column \"age\" is numeric");
	refused("dups", NULL, NULL, "not unique (1 duplicate rows)");
	/* a NULL person id is no person: as SQLite's check counts it */
	admin("DELETE FROM dups WHERE age = 3; INSERT INTO dups VALUES (NULL, 4)");
	refused("dups", NULL, NULL, "not unique (1 duplicate rows)");
	admin("DELETE FROM dups WHERE person_id IS NULL");
	cr_assert_eq(open_table("dups", NULL, NULL, why, sizeof why), TLY_OK, "%s", why);
}

/* A role that can do more than SELECT is refused, naming what it can do. */
Test(pg, refuses_a_role_that_can_write)
{
	char why[600];
	admin("CREATE TABLE rights (person_id text PRIMARY KEY, age int);"
	      "GRANT SELECT ON rights TO tally_reader");
	cr_assert_eq(open_table("rights", NULL, NULL, why, sizeof why), TLY_OK, "%s", why);
	refused("rights", NULL, admin_info, "role \"postgres\" is a superuser");
	static const struct {
		const char *grant, *revoke, *needle;
	} cases[] = {
	    {"GRANT INSERT ON rights TO tally_reader", "REVOKE INSERT ON rights FROM tally_reader",
	     "can INSERT"},
	    {"GRANT UPDATE (age) ON rights TO tally_reader",
	     "REVOKE UPDATE (age) ON rights FROM tally_reader", "can UPDATE"},
	    {"GRANT DELETE ON rights TO tally_reader", "REVOKE DELETE ON rights FROM tally_reader",
	     "can DELETE"},
	    {"GRANT TRUNCATE ON rights TO tally_reader",
	     "REVOKE TRUNCATE ON rights FROM tally_reader", "can TRUNCATE"},
	    {"ALTER TABLE rights OWNER TO tally_reader",
	     "ALTER TABLE rights OWNER TO postgres; GRANT SELECT ON rights TO tally_reader",
	     "owns the table"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		admin(cases[i].grant);
		refused("rights", NULL, NULL, cases[i].needle);
		admin(cases[i].revoke);
		cr_assert_eq(open_table("rights", NULL, NULL, why, sizeof why), TLY_OK, "%s", why);
	}
}

/* Checked again at every answer: a duplicate or a dropped column after
 * open is refused; once mended, answered. */
Test(pg, rechecks_a_table_changed_between_answers)
{
	struct tly_node_config cfg;
	struct tly_field_error err;
	struct tly_store *st;
	char lines[512], why[600];
	admin("CREATE TABLE changing (person_id text, age int);"
	      "INSERT INTO changing VALUES ('a', 1), ('b', 2);"
	      "GRANT SELECT ON changing TO tally_reader");
	snprintf(lines, sizeof lines,
	         "source = postgresql\nconninfo = %s\ntable = changing\nperson_id = person_id\n"
	         "column.age = integer 0 110\n",
	         reader_info);
	cr_assert_eq(parse(&cfg, lines, &err), TLY_OK, "%s", err.reason);
	cr_assert_eq(tly_store_open(&st, &cfg.datasets[0], why, sizeof why), TLY_OK, "%s", why);
	admin("INSERT INTO changing VALUES ('a', 3)");
	cr_assert_eq(tly_store_begin(st, why, sizeof why), TLY_EINVAL,
	             "a duplicate went unnoticed");
	cr_assert(strstr(why, "not unique (1 duplicate rows)") != NULL, "%s", why);
	admin("DELETE FROM changing WHERE age = 3");
	cr_assert_eq(tly_store_begin(st, why, sizeof why), TLY_OK, "%s", why);
	tly_store_end(st);
	admin("ALTER TABLE changing DROP COLUMN age");
	cr_assert_eq(tly_store_begin(st, why, sizeof why), TLY_EINVAL, "a dropped column");
	cr_assert(strstr(why, "no declared column \"age\"") != NULL, "%s", why);
	admin("ALTER TABLE changing ADD COLUMN age bigint");
	cr_assert_eq(tly_store_begin(st, why, sizeof why), TLY_OK, "%s", why);
	tly_store_end(st);
	tly_store_close(st);
	tly_node_config_fini(&cfg);
}

/* Between begin and end the answer reads one snapshot, and the table
 * cannot be altered (ACCESS SHARE lock: ALTER waits, here until its own
 * lock_timeout); the next answer sees the commit. On a copy of the
 * table: the suite's tests run in parallel, and the others read it. */
Test(pg, one_snapshot_per_answer)
{
	int64_t cells[CELLS_MAX];
	struct tly_eval_stats stats;
	struct source snap;
	char lines[1024], why[600];
	struct tly_field_error err;
	admin("CREATE TABLE snap AS SELECT * FROM patients; ALTER TABLE snap ADD PRIMARY KEY "
	      "(person_id); GRANT SELECT ON snap TO tally_reader");
	snprintf(lines, sizeof lines,
	         "source = postgresql\nconninfo = %s\ntable = snap\nperson_id = person_id\n"
	         "opt_out = opted_out\n%s",
	         reader_info, columns);
	cr_assert_eq(parse(&snap.cfg, lines, &err), TLY_OK, "%s", err.reason);
	cr_assert_eq(tly_node_config_catalogue(&snap.cfg, &snap.cat), TLY_OK);
	cr_assert_eq(tly_store_open(&snap.store, &snap.cfg.datasets[0], why, sizeof why), TLY_OK,
	             "%s", why);
	answer(&snap, suite[0], cells, &stats);
	int64_t before = cells[0];
	/* Before the answer's first read: the checks took the lock and the
	 * snapshot already. */
	cr_assert_eq(tly_store_begin(snap.store, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_not(admin_try("SET lock_timeout = '100ms'; ALTER TABLE snap ADD COLUMN x int",
	                        why, sizeof why),
	              "the table was altered under an answer");
	cr_assert(strstr(why, "lock timeout") != NULL, "%s", why);
	admin("INSERT INTO snap (person_id, age) VALUES ('new1', 5)");
	evaluate(&snap, suite[0], cells, &stats);
	cr_assert_eq(cells[0], before, "a commit showed up inside one answer");
	tly_store_end(snap.store);
	answer(&snap, suite[0], cells, &stats);
	cr_assert_eq(cells[0], before + 1);
	source_close(&snap);
}

/* A sum past int64 is an error from both sources, never a wrapped or
 * rounded cell: SQLite's integer SUM overflows, PostgreSQL's NUMERIC sum
 * fails its cast back to BIGINT. Both are TLY_ERANGE. */
Test(pg, a_sum_past_int64_is_refused_by_both)
{
	char path[300], lines[1024], why[600];
	struct tly_field_error err;
	struct tly_spec spec;
	struct tly_eval_stats stats;
	int64_t cells[1];
	sqlite3 *db;
	admin("CREATE TABLE huge (person_id text PRIMARY KEY, v bigint);"
	      "INSERT INTO huge VALUES ('a', 5000000000000000000), ('b', 5000000000000000000);"
	      "GRANT SELECT ON huge TO tally_reader");
	snprintf(path, sizeof path, "%s/huge.db", lite_dir);
	(void)unlink(path);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
	                          "CREATE TABLE huge (person_id TEXT, v INTEGER);"
	                          "INSERT INTO huge VALUES ('a', 5000000000000000000), "
	                          "('b', 5000000000000000000)",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	sqlite3_close(db);
	for (int pg_source = 0; pg_source < 2; pg_source++) {
		struct source s;
		snprintf(lines, sizeof lines,
		         "%s%s\ntable = huge\nperson_id = person_id\n"
		         "column.v = integer 0 6000000000000000000\n",
		         pg_source ? "source = postgresql\nconninfo = " : "path = huge.db",
		         pg_source ? reader_info : "");
		cr_assert_eq(parse(&s.cfg, lines, &err), TLY_OK, "%s", err.reason);
		cr_assert_eq(tly_node_config_catalogue(&s.cfg, &s.cat), TLY_OK);
		cr_assert_eq(tly_store_open(&s.store, &s.cfg.datasets[0], why, sizeof why), TLY_OK,
		             "%s", why);
		static const char json[] =
		    "{\"dataset\":\"patients\",\"measure\":{\"op\":\"sum\","
		    "\"column\":\"v\"},\"privacy\":{\"mechanism\":\"laplace\","
		    "\"epsilon\":1}}";
		cr_assert_eq(tly_spec_parse(&spec, &s.cat, json, strlen(json), &err), TLY_OK, "%s",
		             err.reason);
		cr_assert_eq(tly_store_begin(s.store, why, sizeof why), TLY_OK, "%s", why);
		tly_err rv = tly_eval(s.store, &spec, &s.cat, cells, 1, &stats, why, sizeof why);
		tly_store_end(s.store);
		cr_assert_eq(rv, TLY_ERANGE, "%s: %d, %s", pg_source ? "postgresql" : "sqlite", rv,
		             why);
		tly_spec_fini(&spec);
		source_close(&s);
	}
}

/* ---- the conninfo's secret ---- */

#define SECRET "s3cr3tpw"

Test(pg, conninfo_password_is_never_shown)
{
	char shown[512], why[600], info[300];
	tly_pg_conninfo_display("host=/run/x dbname=trust password=" SECRET " user=r", shown,
	                        sizeof shown);
	cr_assert(strstr(shown, "host=/run/x") && strstr(shown, "dbname=trust") &&
	              strstr(shown, "user=r") && !strstr(shown, SECRET) &&
	              !strstr(shown, "password"),
	          "%s", shown);
	tly_pg_conninfo_display("postgresql://r:" SECRET "@/trust?host=/run/x&sslpassword=" SECRET,
	                        shown, sizeof shown);
	cr_assert(strstr(shown, SECRET) == NULL && strstr(shown, "host=/run/x") != NULL, "%s",
	          shown);
	/* libpq quotes the user name in its error: here it is the password. */
	snprintf(info, sizeof info,
	         "host=%s port=5432 dbname=postgres user=" SECRET " password=" SECRET, server_dir);
	cr_assert_eq(open_table("patients", NULL, info, why, sizeof why), TLY_EINVAL);
	cr_assert(strstr(why, SECRET) == NULL, "the password leaked: %s", why);
	cr_assert(strstr(why, "role \"***\" does not exist") != NULL, "%s", why);
	/* A server that is not there: the message names the socket, no secret. */
	snprintf(info, sizeof info, "host=%s/none dbname=postgres password=" SECRET, server_dir);
	cr_assert_eq(open_table("patients", NULL, info, why, sizeof why), TLY_EINVAL);
	cr_assert(strstr(why, SECRET) == NULL && strstr(why, "cannot connect") != NULL, "%s", why);
}

/* Config errors name the field and never quote the conninfo. */
Test(pg, config_errors_name_the_field)
{
	static const struct {
		const char *lines, *field, *reason;
	} cases[] = {
	    {"source = postgresql\n", "dataset patients.conninfo", "required key is missing"},
	    {"source = postgresql\nconninfo = " SECRET "\n", "dataset patients.conninfo",
	     "missing \"=\" after \"...\""},
	    {"source = postgresql\nconninfo = passwrd=" SECRET "\n", "dataset patients.conninfo",
	     "invalid connection option"},
	    {"source = postgresql\nconninfo = dbname=x\npath = p.db\n", "dataset patients.path",
	     "is for source = sqlite"},
	    {"path = p.db\nconninfo = dbname=x\n", "dataset patients.conninfo",
	     "is for source = postgresql"},
	    {"source = mysql\n", "dataset patients.source", "must be sqlite or postgresql"},
	    {"source = postgresql\nconninfo =\nschema = public\".\"x\n", "dataset patients.schema",
	     "names are"},
	    {"source = postgresql\nconninfo =\ntable = patients\"; DROP TABLE patients; --\n",
	     "dataset patients.table", "names are"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tly_node_config cfg;
		struct tly_field_error err;
		char lines[512];
		snprintf(lines, sizeof lines, "%stable = patients\nperson_id = person_id\n%s",
		         cases[i].lines, columns);
		cr_assert_eq(parse(&cfg, lines, &err), TLY_EINVAL, "case %zu accepted", i);
		cr_assert_str_eq(err.field, cases[i].field, "case %zu: %s", i, err.reason);
		cr_assert(strstr(err.reason, cases[i].reason) != NULL, "case %zu: %s", i,
		          err.reason);
		cr_assert(strstr(err.reason, SECRET) == NULL, "case %zu leaked: %s", i, err.reason);
	}
	/* An empty conninfo is libpq's environment and service file. */
	struct tly_node_config cfg;
	struct tly_field_error err;
	cr_assert_eq(parse(&cfg,
	                   "source = postgresql\nconninfo =\ntable = t\nperson_id = id\n"
	                   "column.age = integer 0 1\n",
	                   &err),
	             TLY_OK, "%s", err.reason);
	cr_assert_str_eq(cfg.datasets[0].pg_schema, "public");
	tly_node_config_fini(&cfg);
}

/* ---- a whole node on PostgreSQL ---- */

#include "tests/demo.h"

static struct dmn_demo demo;

static void
demo_setup(void)
{
	environment();
	dmn_demo_init(&demo, "pgnode");
	dmn_demo_serve(&demo, 3, 3000, 7);
}

static void
demo_teardown(void)
{
	dmn_demo_fini(&demo);
}

TestSuite(pgnode, .init = demo_setup, .fini = demo_teardown, .timeout = 240);

/* Site 1's rows copied into schema demo (through sqlite3 -csv and COPY),
 * and its config rewritten to read them from there, with a password in
 * the conninfo (the private server's trust authentication ignores it). */
static void
move_site_to_postgres(const char *conf)
{
	char cmd[2000], db[300], text[8192], rewritten[9000];
	admin("CREATE SCHEMA demo; GRANT USAGE ON SCHEMA demo TO tally_reader;"
	      "CREATE TABLE demo.patients (person_id text PRIMARY KEY, age integer, age_band "
	      "text, sex text, imd_decile integer, ethnicity text, has_diabetes integer, has_copd "
	      "integer, has_hypertension integer, bmi integer, specialty text, wait_weeks integer, "
	      "ae_attendances_12m integer, opted_out integer NOT NULL);"
	      "GRANT SELECT ON demo.patients TO tally_reader");
	dmn_demo_path(&demo, db, sizeof db, "site-1/patients.db");
	snprintf(cmd, sizeof cmd,
	         "sqlite3 -csv %s 'SELECT * FROM patients' | psql '%s' -X -q -v ON_ERROR_STOP=1 "
	         "-c 'COPY demo.patients FROM STDIN (FORMAT csv)'",
	         db, admin_info);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	cr_assert_eq(unlink(db), 0, "the node must not find its old file");
	FILE *f = fopen(conf, "r");
	cr_assert_not_null(f);
	size_t len = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[len] = '\0';
	char *path = strstr(text, "path = patients.db\n");
	cr_assert_not_null(path, "%s", text);
	*path = '\0';
	snprintf(rewritten, sizeof rewritten,
	         "%ssource = postgresql\nconninfo = %s password=" SECRET "\nschema = demo\n%s",
	         text, reader_info, path + strlen("path = patients.db\n"));
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(rewritten, f) >= 0 && fclose(f) == 0, 1);
}

/* The file's contents (at most cap - 1 bytes). */
static void
slurp(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	size_t len = fread(out, 1, cap - 1, f);
	fclose(f);
	out[len] = '\0';
}

/* Node 1 of a served federation reads its rows from PostgreSQL: check
 * and explain show the connection without its password, and a query
 * through the daemons counts it among the contributors (its SQLite file
 * is gone, so only PostgreSQL could have answered). */
Test(pgnode, a_node_answers_from_postgresql)
{
	char conf[300], out[300], err[300], text[16384], spec[300], log[300];
	dmn_demo_stop(&demo, "node-1", 30000);
	dmn_demo_conf(&demo, "node-1", conf, sizeof conf);
	move_site_to_postgres(conf);
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	dmn_demo_path(&demo, err, sizeof err, "err.txt");
	int code = dmn_demo_run_split(
	    &demo, out, err, (const char *const[]){"tally-node", "check", "--config", conf, NULL});
	slurp(err, text, sizeof text);
	cr_assert_eq(code, 0, "tally-node check: %s", text);
	dmn_demo_path(&demo, spec, sizeof spec, "queries/diabetes_by_age_sex.json");
	code = dmn_demo_run_split(
	    &demo, out, err,
	    (const char *const[]){"tally-node", "explain", "--config", conf, "--spec", spec, NULL});
	slurp(out, text, sizeof text);
	cr_assert_eq(code, 0, "%s", text);
	cr_assert(strstr(text, "postgresql: ") != NULL && strstr(text, "\"demo\".\"patients\""),
	          "%s", text);
	cr_assert(strstr(text, SECRET) == NULL && strstr(text, "password") == NULL, "%s", text);

	dmn_demo_path(&demo, log, sizeof log, "logs/node-1.log");
	(void)dmn_demo_start(&demo, "node-1", log, 1);
	dmn_demo_wait_connected(&demo, 3, 5000, 300);
	dmn_demo_path(&demo, conf, sizeof conf, "planner.conf");
	code = dmn_demo_run_split(&demo, out, err,
	                          (const char *const[]){"tally", "query", "--config", conf,
	                                                "--spec", spec, "--format", "json", NULL});
	slurp(out, text, sizeof text);
	cr_assert_eq(code, 0, "tally query: %s", text);
	cr_assert(strstr(text, "\"contributors\":3") && strstr(text, "\"trusts\":[1,2,3]"), "%s",
	          text);
	slurp(log, text, sizeof text);
	cr_assert(strstr(text, SECRET) == NULL, "the node's log shows the password");
}
