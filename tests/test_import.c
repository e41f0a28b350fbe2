/* CSV import: good files land whole, bad rows are reported by line and
 * leave nothing behind, and the CSV reader handles RFC 4180 quoting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "node/import.h"

static const char conf[] = "[node]\nid = 1\ncoordinator = x\nsign_key = a\nkx_key = b\nledger = c\n"
                           "[dataset patients]\npath = p.db\ntable = patients\n"
                           "person_id = person_id\nopt_out = opted_out\n"
                           "column.age = integer 0 110\ncolumn.sex = categorical F,M\n";

static struct tly_node_config cfg;
static char dir[] = "/tmp/tally-import-XXXXXX";
static char csv[200], out[200];

static void
setup(void)
{
	struct tly_field_error err;
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(tly_node_config_parse(&cfg, conf, "t.conf", dir, &err), TLY_OK, "%s",
	             err.reason);
	snprintf(csv, sizeof csv, "%s/in.csv", dir);
	snprintf(out, sizeof out, "%s/out.db", dir);
}

static void
teardown(void)
{
	char cmd[300];
	tly_node_config_fini(&cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(import, .init = setup, .fini = teardown);

static void
write_csv(const char *text)
{
	FILE *f = fopen(csv, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static long
count_rows(const char *where)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[200];
	long n = -1;
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM patients WHERE %s", where);
	cr_assert_eq(sqlite3_open_v2(out, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

Test(import, good_file_lands_whole)
{
	struct tly_import_report r;
	write_csv("sex,person_id,age,opted_out\r\n"
	          "F,p1,34,0\r\n"
	          "M,\"p,2\",,1\r\n"
	          "\"F\",p3,110,\r\n"
	          "\n"
	          ",p4,7,0\n");
	cr_assert_eq(tly_import_csv(&cfg.datasets[0], csv, out, &r), TLY_OK, "%s", r.error);
	cr_assert_eq(r.rows, 4);
	cr_assert_eq(r.bad_rows, 0);
	cr_assert_eq(count_rows("1"), 4);
	cr_assert_eq(count_rows("person_id = 'p,2' AND age IS NULL AND opted_out = 1"), 1);
	cr_assert_eq(count_rows("sex IS NULL AND age = 7"), 1);
	cr_assert_eq(count_rows("opted_out = 0"), 3, "empty opt-out means 0");
	/* Never overwritten. */
	cr_assert_eq(tly_import_csv(&cfg.datasets[0], csv, out, &r), TLY_EINVAL);
	cr_assert(strstr(r.error, "already exists") != NULL);
}

static void
expect_refused(const char *text, uint64_t line, const char *reason_part)
{
	struct tly_import_report r;
	write_csv(text);
	cr_assert_eq(tly_import_csv(&cfg.datasets[0], csv, out, &r), TLY_EINVAL, "%s", text);
	cr_assert_eq(access(out, F_OK), -1, "nothing half-imported is left");
	if (line == 0) {
		cr_assert(strstr(r.error, reason_part) != NULL, "%s", r.error);
		return;
	}
	cr_assert_geq(r.described, 1);
	cr_assert_eq(r.problems[0].line, line, "%s", r.problems[0].reason);
	cr_assert(strstr(r.problems[0].reason, reason_part) != NULL, "%s", r.problems[0].reason);
}

Test(import, bad_rows_are_reported_by_line_and_nothing_is_left)
{
	const char *header = "person_id,age,sex,opted_out\n";
	char text[400];
	snprintf(text, sizeof text, "%sp1,34,F,0\np2,old,M,0\n", header);
	expect_refused(text, 3, "not an integer");
	snprintf(text, sizeof text, "%sp1,34,X,0\n", header);
	expect_refused(text, 2, "not in the declared domain");
	snprintf(text, sizeof text, "%sp1,34,F,0\np1,35,M,0\n", header);
	expect_refused(text, 3, "more than once");
	snprintf(text, sizeof text, "%sp1,34,F\n", header);
	expect_refused(text, 2, "fields");
	snprintf(text, sizeof text, "%sp1,34,F,yes\n", header);
	expect_refused(text, 2, "0, 1 or empty");
	snprintf(text, sizeof text, "%s,34,F,0\n", header);
	expect_refused(text, 2, "empty person_id");
	snprintf(text, sizeof text, "%sp1,\"multi\nline\",F,0\np2,x,F,0\n", header);
	expect_refused(text, 2, "not an integer");
	snprintf(text, sizeof text, "%sp1,\"unterminated,F,0\n", header);
	expect_refused(text, 2, "malformed");
	/* The second problem's line counts the quoted newline. */
	struct tly_import_report r;
	snprintf(text, sizeof text, "%sp1,\"1\n\",F,0\np2,x,F,0\n", header);
	write_csv(text);
	cr_assert_eq(tly_import_csv(&cfg.datasets[0], csv, out, &r), TLY_EINVAL);
	cr_assert_eq(r.bad_rows, 2);
	cr_assert_eq(r.problems[1].line, 4);
}

Test(import, header_problems)
{
	expect_refused("person_id,age,sex,opted_out,postcode\n", 0, "postcode");
	expect_refused("person_id,age,opted_out\n", 0, "sex");
	expect_refused("person_id,age,sex,sex,opted_out\n", 0, "twice");
	expect_refused("age,sex,opted_out\n", 0, "person id");
	expect_refused("", 0, "empty");
}

Test(import, csv_reader_quoting)
{
	FILE *f = fmemopen((void *)"a,\"b \"\"q\"\", c\",\"\"\r\nx\n\"y\"z\n", 26, "r");
	char *storage = NULL, *fields[TLY_CSV_FIELDS_MAX];
	size_t cap = 0, n;
	uint64_t line = 0;
	cr_assert_not_null(f);
	cr_assert_eq(tly_csv_read(f, &storage, &cap, fields, &n, &line), 1);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(fields[1], "b \"q\", c");
	cr_assert_str_eq(fields[2], "");
	cr_assert_eq(line, 1);
	cr_assert_eq(tly_csv_read(f, &storage, &cap, fields, &n, &line), 1);
	cr_assert_str_eq(fields[0], "x");
	cr_assert_eq(tly_csv_read(f, &storage, &cap, fields, &n, &line), -1, "text after a quote");
	free(storage);
	fclose(f);
}
