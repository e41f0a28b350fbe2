/* Query evaluation on a node's SQLite data, checked against a brute-force
 * evaluation of the same rows in C: every measure, filters, grouping with
 * empty cells, clipping, opt-outs, NULLs and values outside the domain. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "node/eval.h"

static const char conf[] = "[node]\nid = 1\ncoordinator = x\nsign_key = a\nkx_key = b\nledger = c\n"
                           "[dataset patients]\npath = p.db\ntable = patients\n"
                           "person_id = person_id\nopt_out = opted_out\n"
                           "column.age = integer 0 110\ncolumn.sex = categorical F,M\n"
                           "column.band = categorical a,b,c\ncolumn.flag = categorical 0,1\n";

struct row {
	const char *id;
	int age; /* -1 = NULL */
	const char *sex;
	const char *band;
	int flag;
	int opted_out;
};

/* Includes: an age above the bound (clipped to 110), NULL age, a sex
 * outside the domain, NULL band, opted-out rows, and no row in band c. */
static const struct row rows[] = {
    {"p01", 34, "F", "a", 1, 0}, {"p02", 71, "M", "a", 0, 0}, {"p03", 150, "F", "b", 1, 0},
    {"p04", -1, "M", "b", 1, 0}, {"p05", 5, "X", "a", 0, 0},  {"p06", 44, "F", NULL, 1, 0},
    {"p07", 90, "M", "b", 1, 1}, {"p08", 17, "F", "a", 0, 1}, {"p09", 65, "M", "a", 1, 0},
    {"p10", 18, "F", "b", 0, 0}, {"p11", 0, "M", "b", 1, 0},  {"p12", 64, "F", "a", 1, 0},
};
enum { ROWS = sizeof rows / sizeof rows[0] };

static struct tly_node_config cfg;
static struct tly_catalogue cat;
static struct tly_store *store;
static char dir[] = "/tmp/tally-eval-XXXXXX";

static void
setup(void)
{
	struct tly_field_error err;
	char path[200], why[300];
	sqlite3 *db;
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(tly_node_config_parse(&cfg, conf, "t.conf", dir, &err), TLY_OK, "%s",
	             err.reason);
	cr_assert_eq(tly_node_config_catalogue(&cfg, &cat), TLY_OK);
	snprintf(path, sizeof path, "%s/p.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_exec(db,
	                 "CREATE TABLE patients (person_id TEXT, age INTEGER, sex TEXT, band TEXT, "
	                 "flag INTEGER, opted_out INTEGER)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	for (int i = 0; i < ROWS; i++) {
		char sql[300], age[16], band[8];
		snprintf(age, sizeof age, rows[i].age < 0 ? "NULL" : "%d", rows[i].age);
		snprintf(band, sizeof band, rows[i].band ? "'%s'" : "NULL", rows[i].band);
		snprintf(sql, sizeof sql,
		         "INSERT INTO patients VALUES ('%s', %s, '%s', %s, %d, %d)", rows[i].id,
		         age, rows[i].sex, band, rows[i].flag, rows[i].opted_out);
		cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sql);
	}
	sqlite3_close(db);
	cr_assert_eq(tly_store_open(&store, &cfg.datasets[0], why, sizeof why), TLY_OK, "%s", why);
}

static void
teardown(void)
{
	char cmd[300];
	tly_store_close(store);
	tly_catalogue_fini(&cat);
	tly_node_config_fini(&cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(eval, .init = setup, .fini = teardown);

/* Evaluate JSON; returns the cell count and fills cells. */
static size_t
run(const char *json, int64_t *cells, size_t cap, struct tly_eval_stats *stats)
{
	struct tly_spec spec;
	struct tly_field_error err;
	char why[300];
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, strlen(json), &err), TLY_OK, "%s: %s",
	             err.field, err.reason);
	size_t d = tly_spec_cells(&spec, &cat);
	cr_assert_leq(d, cap);
	cr_assert_eq(tly_eval(store, &spec, &cat, cells, d, stats, why, sizeof why), TLY_OK, "%s",
	             why);
	tly_spec_fini(&spec);
	return d;
}

static int
sex_index(const char *sex)
{
	return strcmp(sex, "F") == 0 ? 0 : strcmp(sex, "M") == 0 ? 1 : -1;
}

static int
band_index(const char *band)
{
	if (band == NULL)
		return -1;
	return band[0] == 'a' ? 0 : band[0] == 'b' ? 1 : band[0] == 'c' ? 2 : -1;
}

Test(eval, count_by_band_and_sex_with_filter)
{
	int64_t cells[16], want[6] = {0};
	struct tly_eval_stats stats;
	size_t d = run("{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},"
	               "\"where\":[{\"column\":\"flag\",\"op\":\"=\",\"value\":1}],"
	               "\"group_by\":[\"band\",\"sex\"],"
	               "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
	               cells, 16, &stats);
	cr_assert_eq(d, 6, "3 bands x 2 sexes, band c empty but present");
	uint64_t matched = 0;
	for (int i = 0; i < ROWS; i++) {
		if (rows[i].opted_out || rows[i].flag != 1)
			continue;
		matched++;
		int b = band_index(rows[i].band), s = sex_index(rows[i].sex);
		if (b >= 0 && s >= 0)
			want[b * 2 + s]++;
	}
	cr_assert_arr_eq(cells, want, sizeof want);
	cr_assert_eq(stats.rows_matched, matched);
	cr_assert_eq(stats.rows_unmatched, 1, "p06 has no band");
	cr_assert_eq(cells[4] + cells[5], 0);
}

Test(eval, clipped_sum_and_mean)
{
	int64_t cells[16], sum[3] = {0}, count[3] = {0};
	struct tly_eval_stats stats;
	for (int i = 0; i < ROWS; i++) {
		int b = band_index(rows[i].band);
		if (rows[i].opted_out || rows[i].age < 0 || b < 0)
			continue;
		sum[b] += rows[i].age > 110 ? 110 : rows[i].age;
		count[b]++;
	}
	size_t d =
	    run("{\"dataset\":\"patients\",\"measure\":{\"op\":\"sum\",\"column\":\"age\"},"
	        "\"group_by\":[\"band\"],\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
	        cells, 16, &stats);
	cr_assert_eq(d, 3);
	cr_assert_arr_eq(cells, sum, sizeof sum, "p03's 150 counts as 110");

	d = run("{\"dataset\":\"patients\",\"measure\":{\"op\":\"mean\",\"column\":\"age\"},"
	        "\"group_by\":[\"band\"],\"privacy\":{\"mechanism\":\"gaussian\",\"rho\":0.5}}",
	        cells, 16, &stats);
	cr_assert_eq(d, 6);
	/* age [0, 110]: c = 55, B' = 55; Skellam w = 42 (55 / 3^(1/4) =
	 * 41.8: (55^2 + 41^2)(3 41^2 + 55^2) / 41^2 = 22586.6 > 22579.4 at
	 * 42). The cells are sum(clip(x) - 55) and 42 * count. */
	for (int b = 0; b < 3; b++) {
		cr_assert_eq(cells[2 * b], sum[b] - 55 * count[b], "centred sum cell of band %d",
		             b);
		cr_assert_eq(cells[2 * b + 1], 42 * count[b], "weighted count cell of band %d", b);
	}
	/* Laplace: w = 38 (55 / 3^(1/3) = 38.13). */
	d = run("{\"dataset\":\"patients\",\"measure\":{\"op\":\"mean\",\"column\":\"age\"},"
	        "\"group_by\":[\"band\"],\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
	        cells, 16, &stats);
	for (int b = 0; b < 3; b++) {
		cr_assert_eq(cells[2 * b], sum[b] - 55 * count[b], "centred sum cell of band %d",
		             b);
		cr_assert_eq(cells[2 * b + 1], 38 * count[b], "weighted count cell of band %d", b);
	}
}

/* The clip holds at both ends, for a column whose |min| >= |max| (where
 * clipping past min would break the sum's sensitivity bound, max(|min|,
 * |max|) = 100): values below min count as min, above max as max, one
 * unit inside either bound as themselves. Each group's sum is checked
 * against the clip done here in C. */
Test(eval, clip_holds_at_both_ends)
{
	static const char conf2[] = "[node]\nid = 1\ncoordinator = x\nsign_key = a\nkx_key = b\n"
	                            "ledger = c\n[dataset accounts]\npath = q.db\ntable = t\n"
	                            "person_id = id\ncolumn.delta = integer -100 50\n"
	                            "column.g = categorical a,b,c\n";
	static const struct {
		const char *g;
		long v;
	} vals[] = {{"a", -500}, {"a", -101}, {"a", -100}, {"a", -99},  {"a", 0},  {"a", 49},
	            {"a", 50},   {"a", 51},   {"a", 9999}, {"b", -101}, {"b", 49}, {"c", -100000}};
	struct tly_node_config cfg2;
	struct tly_catalogue cat2;
	struct tly_field_error err;
	struct tly_field_error serr;
	struct tly_store *st;
	struct tly_spec spec;
	struct tly_eval_stats stats;
	char path[200], why[300], sql[200];
	int64_t cells[3], want[3] = {0};
	uint64_t l1, l2sq;
	sqlite3 *db;

	cr_assert_eq(tly_node_config_parse(&cfg2, conf2, "t.conf", dir, &err), TLY_OK, "%s",
	             err.reason);
	cr_assert_eq(tly_node_config_catalogue(&cfg2, &cat2), TLY_OK);
	snprintf(path, sizeof path, "%s/q.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_exec(db, "CREATE TABLE t (id TEXT, delta INTEGER, g TEXT)", NULL, NULL, NULL),
	    SQLITE_OK);
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		snprintf(sql, sizeof sql, "INSERT INTO t VALUES ('q%zu', %ld, '%s')", i, vals[i].v,
		         vals[i].g);
		cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sql);
		long clipped = vals[i].v < -100 ? -100 : vals[i].v > 50 ? 50 : vals[i].v;
		want[vals[i].g[0] - 'a'] += clipped;
	}
	sqlite3_close(db);
	cr_assert_eq(tly_store_open(&st, &cfg2.datasets[0], why, sizeof why), TLY_OK, "%s", why);
	static const char json[] = "{\"dataset\":\"accounts\",\"measure\":{\"op\":\"sum\","
	                           "\"column\":\"delta\"},\"group_by\":[\"g\"],"
	                           "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}";
	cr_assert_eq(tly_spec_parse(&spec, &cat2, json, strlen(json), &serr), TLY_OK, "%s: %s",
	             serr.field, serr.reason);
	cr_assert_eq(tly_spec_sensitivity(&spec, &cat2, &l1, &l2sq), TLY_OK);
	cr_assert_eq(l1, 100, "one person moves a sum by at most max(|min|, |max|)");
	cr_assert_eq(tly_spec_cells(&spec, &cat2), 3);
	cr_assert_eq(tly_store_begin(st, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_eval(st, &spec, &cat2, cells, 3, &stats, why, sizeof why), TLY_OK, "%s",
	             why);
	tly_store_end(st);
	cr_assert_arr_eq(cells, want, sizeof want, "a %lld (want %lld), b %lld (want %lld)",
	                 (long long)cells[0], (long long)want[0], (long long)cells[1],
	                 (long long)want[1]);
	cr_assert_eq(cells[2], -100, "one person far below min counts as min: within l1");
	tly_spec_fini(&spec);
	tly_store_close(st);
	tly_catalogue_fini(&cat2);
	tly_node_config_fini(&cfg2);
}

Test(eval, histogram_with_out_of_range_values_in_end_bins)
{
	int64_t cells[16], want[6] = {0};
	struct tly_eval_stats stats;
	const int edges[4] = {0, 18, 65, 110};
	size_t d = run("{\"dataset\":\"patients\",\"measure\":{\"op\":\"histogram\","
	               "\"column\":\"age\",\"edges\":[0,18,65,110]},\"group_by\":[\"sex\"],"
	               "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
	               cells, 16, &stats);
	cr_assert_eq(d, 6);
	for (int i = 0; i < ROWS; i++) {
		int s = sex_index(rows[i].sex);
		if (rows[i].opted_out || rows[i].age < 0 || s < 0)
			continue;
		int bin = 2;
		for (int e = 1; e < 3; e++) {
			if (rows[i].age < edges[e]) {
				bin = e - 1;
				break;
			}
		}
		want[s * 3 + bin]++;
	}
	cr_assert_arr_eq(cells, want, sizeof want);
}

Test(eval, conditions_of_every_kind)
{
	int64_t cells[4];
	struct tly_eval_stats stats;
	struct {
		const char *where;
		long expected;
	} cases[] = {
	    {"{\"column\":\"age\",\"op\":\">=\",\"value\":65}", 2}, /* p02, p03 (p09=65 too) */
	    {"{\"column\":\"age\",\"op\":\"<\",\"value\":18}", 1},  /* p11 (p05 'X' counts too) */
	    {"{\"column\":\"sex\",\"op\":\"!=\",\"value\":\"F\"}", 0},
	    {"{\"column\":\"band\",\"op\":\"in\",\"value\":[\"b\",\"c\"]}", 0},
	    {"{\"column\":\"age\",\"op\":\"<=\",\"value\":0}", 0},
	    {"{\"column\":\"age\",\"op\":\">\",\"value\":64}", 0},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		/* Brute force the same filter for the expected count. */
		long want = 0;
		for (int i = 0; i < ROWS; i++) {
			const struct row *r = &rows[i];
			if (r->opted_out)
				continue;
			int pass = c == 0   ? r->age >= 65
			           : c == 1 ? r->age >= 0 && r->age < 18
			           : c == 2 ? strcmp(r->sex, "F") != 0
			           : c == 3
			               ? r->band != NULL && (r->band[0] == 'b' || r->band[0] == 'c')
			           : c == 4 ? r->age >= 0 && r->age <= 0
			                    : r->age > 64;
			want += pass;
		}
		char json[400];
		snprintf(json, sizeof json,
		         "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"where\":[%s],"
		         "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
		         cases[c].where);
		run(json, cells, 4, &stats);
		cr_assert_eq(cells[0], want, "case %zu: %s", c, cases[c].where);
	}
}

Test(eval, sql_carries_no_query_text)
{
	struct tly_spec spec;
	struct tly_field_error err;
	char *sql;
	const char *json = "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},"
	                   "\"where\":[{\"column\":\"sex\",\"op\":\"=\",\"value\":\"M\"},"
	                   "{\"column\":\"age\",\"op\":\">\",\"value\":42}],"
	                   "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}";
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, strlen(json), &err), TLY_OK);
	cr_assert_eq(tly_eval_sql(&cfg.datasets[0], &spec, &sql), TLY_OK);
	cr_assert(strstr(sql, "'M'") == NULL && strstr(sql, "42") == NULL, "%s", sql);
	cr_assert(strstr(sql, "COALESCE(\"opted_out\", 0) = 0") != NULL, "opt-outs first: %s", sql);
	free(sql);
	tly_spec_fini(&spec);

	/* Injection attempts never reach SQL: they are not columns or values. */
	const char *attacks[] = {
	    "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"where\":[{\"column\":"
	    "\"sex\\\" OR 1=1 --\",\"op\":\"=\",\"value\":\"F\"}],\"privacy\":{\"mechanism\":"
	    "\"laplace\",\"epsilon\":1}}",
	    "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"where\":[{\"column\":"
	    "\"sex\",\"op\":\"=\",\"value\":\"F' OR '1'='1\"}],\"privacy\":{\"mechanism\":"
	    "\"laplace\",\"epsilon\":1}}",
	    "{\"dataset\":\"patients; DROP TABLE patients\",\"measure\":{\"op\":\"count\"},"
	    "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
	};
	for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++)
		cr_assert_eq(tly_spec_parse(&spec, &cat, attacks[i], strlen(attacks[i]), &err),
		             TLY_EINVAL, "attack %zu accepted", i);
}

Test(eval, per_person_usage)
{
	struct tly_spec spec;
	struct tly_field_error err;
	char why[200];
	int used;
	const char *json = "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},"
	                   "\"where\":[{\"column\":\"flag\",\"op\":\"=\",\"value\":1}],"
	                   "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}";
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, strlen(json), &err), TLY_OK);
	cr_assert_eq(tly_eval_person(store, &spec, "p01", &used, why, sizeof why), TLY_OK);
	cr_assert_eq(used, 1);
	cr_assert_eq(tly_eval_person(store, &spec, "p02", &used, why, sizeof why), TLY_OK);
	cr_assert_eq(used, 0, "flag 0");
	cr_assert_eq(tly_eval_person(store, &spec, "p07", &used, why, sizeof why), TLY_OK);
	cr_assert_eq(used, 0, "opted out");
	cr_assert_eq(tly_eval_person(store, &spec, "nobody' OR '1'='1", &used, why, sizeof why),
	             TLY_OK);
	cr_assert_eq(used, 0, "a bound value, not SQL");
	tly_spec_fini(&spec);
}

Test(eval, store_refuses_bad_data)
{
	struct tly_node_dataset ds = cfg.datasets[0];
	struct tly_store *st;
	char why[300], path[200];
	sqlite3 *db;

	snprintf(ds.path, sizeof ds.path, "%s/missing.db", dir);
	cr_assert_eq(tly_store_open(&st, &ds, why, sizeof why), TLY_EINVAL);

	snprintf(path, sizeof path, "%s/dup.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_exec(db,
	                 "CREATE TABLE patients (person_id TEXT, age INTEGER, sex TEXT, band TEXT,"
	                 " flag INTEGER, opted_out INTEGER);"
	                 "INSERT INTO patients VALUES ('p1', 1, 'F', 'a', 0, 0), "
	                 "('p1', 2, 'M', 'b', 0, 0);",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	snprintf(ds.path, sizeof ds.path, "%s", path);
	cr_assert_eq(tly_store_open(&st, &ds, why, sizeof why), TLY_EINVAL);
	cr_assert(strstr(why, "not unique") != NULL, "%s", why);

	snprintf(path, sizeof path, "%s/nocol.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
	                          "CREATE TABLE patients (person_id TEXT, age INTEGER, sex TEXT, "
	                          "flag INTEGER, opted_out INTEGER)",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	sqlite3_close(db);
	snprintf(ds.path, sizeof ds.path, "%s", path);
	cr_assert_eq(tly_store_open(&st, &ds, why, sizeof why), TLY_EINVAL);
	cr_assert(strstr(why, "band") != NULL, "%s", why);
}

static int
write_sql(const char *file, const char *sql)
{
	char path[200];
	sqlite3 *db;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static tly_err
begin_end(char *why, size_t why_len)
{
	tly_err rv = tly_store_begin(store, why, why_len);
	if (rv == TLY_OK)
		tly_store_end(store);
	return rv;
}

/* One row per person is checked again whenever the file changes, however
 * it changes: a commit by another connection (rollback journal and WAL),
 * or another file renamed over the path. Between begin and end the data
 * cannot change, so what is answered is what was checked. */
Test(eval, store_rechecks_whenever_the_data_changes)
{
	char why[300], from[200], to[200];
	int64_t cells[2];
	struct tly_eval_stats stats;
	struct tly_spec spec;
	struct tly_field_error err;

	cr_assert_eq(begin_end(why, sizeof why), TLY_OK, "%s", why);
	/* Held still: a writer cannot commit while the answer reads. */
	cr_assert_eq(tly_store_begin(store, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(write_sql("p.db", "INSERT INTO patients (person_id) VALUES ('p13')"),
	             SQLITE_BUSY);
	tly_store_end(store);

	cr_assert_eq(write_sql("p.db", "INSERT INTO patients (person_id) VALUES ('p01')"),
	             SQLITE_OK);
	cr_assert_eq(begin_end(why, sizeof why), TLY_EINVAL, "a duplicate went unnoticed");
	cr_assert(strstr(why, "not unique (1 duplicate rows)") != NULL, "%s", why);
	/* A failed check leaves no lock behind, and is made afresh. */
	cr_assert_eq(write_sql("p.db", "DELETE FROM patients WHERE rowid > 12"), SQLITE_OK);
	cr_assert_eq(begin_end(why, sizeof why), TLY_OK, "%s", why);

	/* Another file renamed over the path: reopened and checked. */
	cr_assert_eq(
	    write_sql("q.db",
	              "CREATE TABLE patients (person_id TEXT, age INTEGER, sex TEXT, band TEXT,"
	              " flag INTEGER, opted_out INTEGER);"
	              "INSERT INTO patients (person_id) VALUES ('x'), ('x')"),
	    SQLITE_OK);
	snprintf(from, sizeof from, "%s/p.db", dir);
	snprintf(to, sizeof to, "%s/q.db", dir);
	cr_assert_eq(rename(to, from), 0);
	cr_assert_eq(begin_end(why, sizeof why), TLY_EINVAL, "a replaced file went unnoticed");
	cr_assert(strstr(why, "not unique") != NULL, "%s", why);
	cr_assert_eq(write_sql("p.db", "DELETE FROM patients WHERE rowid = 2"), SQLITE_OK);
	cr_assert_eq(begin_end(why, sizeof why), TLY_OK, "%s", why);
	const char *json = "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
	                   " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}";
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, strlen(json), &err), TLY_OK);
	cr_assert_eq(tly_store_begin(store, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_eval(store, &spec, &cat, cells, 1, &stats, why, sizeof why), TLY_OK);
	tly_store_end(store);
	cr_assert_eq(cells[0], 1, "the answer did not come from the new file");
	tly_spec_fini(&spec);

	/* WAL: the main file may not change at all; data_version does. (After
	 * the rename: renaming a file over a WAL database corrupts it.) */
	cr_assert_eq(write_sql("p.db", "PRAGMA journal_mode = WAL"), SQLITE_OK);
	cr_assert_eq(begin_end(why, sizeof why), TLY_OK, "%s", why);
	sqlite3 *writer;
	cr_assert_eq(sqlite3_open(from, &writer), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_exec(writer, "INSERT INTO patients (person_id) VALUES ('x')", NULL, NULL, NULL),
	    SQLITE_OK);
	cr_assert_eq(begin_end(why, sizeof why), TLY_EINVAL, "a WAL commit went unnoticed");
	cr_assert_eq(sqlite3_exec(writer, "DELETE FROM patients WHERE rowid > 1", NULL, NULL, NULL),
	             SQLITE_OK);
	sqlite3_close(writer);
	cr_assert_eq(begin_end(why, sizeof why), TLY_OK, "%s", why);
}

/* Rate and dsr cells against the rows counted here in C: per sex, the
 * rows with flag = 1 (numerator) and the others, among those with age >=
 * 1 (where: p04's NULL age is not); the dsr also per ESP band of the
 * clipped age (p03's 150 is 110: band 90+). */
Test(eval, rate_and_dsr_cells)
{
	int64_t cells[2 * 2 * TLY_ESP2013_BANDS], rate[4] = {0},
	                                          dsr[2 * 2 * TLY_ESP2013_BANDS] = {0};
	struct tly_eval_stats stats;
	for (int i = 0; i < ROWS; i++) {
		int s = sex_index(rows[i].sex);
		int other = rows[i].flag == 1 ? 0 : 1;
		if (rows[i].opted_out || s < 0 || rows[i].age < 1) /* NULL age: not >= 1 */
			continue;
		rate[2 * s + other]++;
		int band = (rows[i].age > 110 ? 110 : rows[i].age) / 5;
		band = band > 18 ? 18 : band;
		dsr[s * 2 * TLY_ESP2013_BANDS + 2 * band + other]++;
	}
	size_t d = run("{\"dataset\":\"patients\",\"measure\":{\"op\":\"rate\",\"numerator\":"
	               "[{\"column\":\"flag\",\"op\":\"=\",\"value\":1}]},\"where\":[{\"column\":"
	               "\"age\",\"op\":\">=\",\"value\":1}],\"group_by\":[\"sex\"],"
	               "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
	               cells, 4, &stats);
	cr_assert_eq(d, 4);
	cr_assert_arr_eq(cells, rate, sizeof rate, "rate: %lld %lld %lld %lld", (long long)cells[0],
	                 (long long)cells[1], (long long)cells[2], (long long)cells[3]);
	d = run("{\"dataset\":\"patients\",\"measure\":{\"op\":\"dsr\",\"numerator\":"
	        "[{\"column\":\"flag\",\"op\":\"=\",\"value\":1}],\"age_column\":\"age\"},"
	        "\"where\":[{\"column\":\"age\",\"op\":\">=\",\"value\":1}],"
	        "\"group_by\":[\"sex\"],\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":1}}",
	        cells, sizeof cells / sizeof cells[0], &stats);
	cr_assert_eq(d, 2 * 2 * TLY_ESP2013_BANDS);
	for (size_t i = 0; i < d; i++)
		cr_assert_eq(cells[i], dsr[i], "dsr cell %zu: %lld, want %lld", i,
		             (long long)cells[i], (long long)dsr[i]);
	cr_assert_eq(cells[2 * 18], 1, "p03 (F, 150) in F's 90+ numerator");
}
