/*
 * The signed append-only log file (store/sqlog.h), with a format of its
 * own so that the contract is tested apart from the ledger and the
 * transparency log: creation (pragmas, key, WAL), the append-only
 * triggers, every open refusal with the message that names it, the head,
 * and the seal check (hash, then signature).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/rng.h"
#include "crypto/sign.h"
#include "store/sqlog.h"

static const char schema[] =
    "CREATE TABLE widget_meta (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) STRICT;"
    "CREATE TABLE entries (seq INTEGER PRIMARY KEY NOT NULL, entry_hash BLOB NOT NULL,"
    " signature BLOB NOT NULL, note TEXT NOT NULL) STRICT;";

static const struct tly_sqlog_format widget = {
    .noun = "widget log",
    .wrong_key = "the widget log was written with another widget key",
    .schema_sql = schema,
    .meta_table = "widget_meta",
    .columns = "seq, entry_hash, signature, note",
    .application_id = 0x57494447, /* "WIDG" */
    .format_version = 3,
    .busy_ms = 1000,
    .foreign_keys = 1,
};

static char dir[64];
static char path[128];
static struct tly_sign_key *key;
static char msg[320];

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	snprintf(dir, sizeof dir, "/tmp/tally-sqlog-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/widget.db", dir);
	cr_assert_eq(tly_sign_key_alloc(&key, NULL), TLY_OK);
	msg[0] = '\0';
}

static void
teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	char file[400];

	while (d != NULL && (ent = readdir(d)) != NULL) {
		if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
			continue;
		snprintf(file, sizeof file, "%s/%s", dir, ent->d_name);
		unlink(file);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
	tly_sign_key_free(key);
}

TestSuite(sqlog, .init = setup, .fini = teardown);

static void
raw_sql(const char *sql)
{
	sqlite3 *db = NULL;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	sqlite3_close(db);
}

static sqlite3_int64
raw_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_int64 v;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	v = tly_sqlog_query_int(db, sql);
	sqlite3_close(db);
	return v;
}

/* A writer on a new file, closed again; pk is the recorded key. */
static void
create_file(uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	sqlite3 *db = NULL;

	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, key, msg, sizeof msg), TLY_OK, "%s",
	             msg);
	sqlite3_close(db);
}

static void
assert_refused(const struct tly_sign_key *k, tly_err expected, const char *words)
{
	sqlite3 *db = (sqlite3 *)&db;
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];

	msg[0] = '\0';
	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, k, msg, sizeof msg), expected,
	             "opened: %s", msg);
	cr_assert_null(db);
	cr_assert(strstr(msg, words) != NULL, "message \"%s\" lacks \"%s\"", msg, words);
	cr_assert(strstr(msg, path) != NULL, "message \"%s\" does not name the file", msg);
}

Test(sqlog, creates_with_pragmas_key_and_wal)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES], mine[TLY_SIGN_PUBLIC_BYTES];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	create_file(pk);
	tly_sign_key_public(key, mine);
	cr_assert_eq(memcmp(pk, mine, sizeof pk), 0);
	cr_assert_eq(raw_int("PRAGMA application_id"), widget.application_id);
	cr_assert_eq(raw_int("PRAGMA user_version"), widget.format_version);
	cr_assert_eq(
	    raw_int("SELECT length(value) FROM widget_meta WHERE name = 'sign_public_key'"),
	    TLY_SIGN_PUBLIC_BYTES);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* Reopened by the writer and by a reader: the same key. */
	create_file(pk);
	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, NULL, msg, sizeof msg), TLY_OK, "%s",
	             msg);
	cr_assert_eq(memcmp(pk, mine, sizeof pk), 0);
	sqlite3_close(db);
}

Test(sqlog, writer_settings)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	sqlite3 *db = NULL;

	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, key, msg, sizeof msg), TLY_OK, "%s",
	             msg);
	cr_assert_eq(tly_sqlog_query_int(db, "PRAGMA synchronous"), 2); /* FULL */
	cr_assert_eq(tly_sqlog_query_int(db, "PRAGMA foreign_keys"), 1);
	cr_assert_eq(tly_sqlog_query_int(db, "PRAGMA busy_timeout"), widget.busy_ms);
	sqlite3_close(db);
}

Test(sqlog, triggers_refuse_update_and_delete)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	sqlite3 *db = NULL;

	create_file(pk);
	raw_sql("INSERT INTO entries VALUES (1, zeroblob(32), zeroblob(64), 'first')");
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_neq(tly_sqlog_exec(db, "UPDATE entries SET note = 'changed'"), SQLITE_OK);
	cr_assert(strstr(sqlite3_errmsg(db), "widget log entries are append-only") != NULL, "%s",
	          sqlite3_errmsg(db));
	cr_assert_neq(tly_sqlog_exec(db, "DELETE FROM entries"), SQLITE_OK);
	cr_assert(strstr(sqlite3_errmsg(db), "widget log entries are append-only") != NULL, "%s",
	          sqlite3_errmsg(db));
	sqlite3_close(db);
	cr_assert_eq(raw_int("SELECT count(*) FROM entries WHERE note = 'first'"), 1);
}

Test(sqlog, refuses_a_file_with_tables_but_no_application_id)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	raw_sql("CREATE TABLE patients (person_id INTEGER); INSERT INTO patients VALUES (1);");
	assert_refused(key, TLY_EFORMAT, "not a tally widget log (application_id 0x00000000");
	assert_refused(NULL, TLY_EFORMAT, "not a tally widget log");
	/* Left as it was: no tables added, journal mode not switched. */
	cr_assert_eq(raw_int("SELECT count(*) FROM sqlite_master"), 1);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "delete");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

Test(sqlog, refuses_another_application_id)
{
	raw_sql("PRAGMA application_id = 42; CREATE TABLE t (x);");
	assert_refused(key, TLY_EFORMAT, "application_id 0x0000002a, expected 0x57494447");
}

Test(sqlog, refuses_other_versions)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];

	create_file(pk);
	raw_sql("PRAGMA user_version = 4;");
	assert_refused(key, TLY_EFORMAT,
	               "widget log format version 4; this build reads version 3 "
	               "(upgrade tally)");
	raw_sql("PRAGMA user_version = 2;");
	assert_refused(NULL, TLY_EFORMAT, "widget log format version 2");
	cr_assert(strstr(msg, "upgrade") == NULL, "%s", msg);
}

Test(sqlog, refuses_a_file_that_is_not_sqlite)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	for (int i = 0; i < 4096; i++)
		fputc('x', f);
	fclose(f);
	assert_refused(key, TLY_EFORMAT, "not a readable SQLite database");
}

Test(sqlog, reader_refuses_an_empty_or_missing_file)
{
	assert_refused(NULL, TLY_EIO, "cannot open");
	fclose(fopen(path, "w"));
	assert_refused(NULL, TLY_EFORMAT, "not a tally widget log (empty file)");
}

Test(sqlog, refuses_another_key)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_sign_key *other = NULL;

	create_file(pk);
	cr_assert_eq(tly_sign_key_alloc(&other, NULL), TLY_OK);
	assert_refused(other, TLY_EAUTH, "the widget log was written with another widget key");
	tly_sign_key_free(other);
}

Test(sqlog, refuses_a_damaged_meta_or_entries_table)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];

	/* The key row of the wrong length. */
	raw_sql("PRAGMA application_id = 1464419399; PRAGMA user_version = 3;"
	        "CREATE TABLE widget_meta (name TEXT, value BLOB);"
	        "INSERT INTO widget_meta VALUES ('sign_public_key', x'0102');"
	        "CREATE TABLE entries (seq, entry_hash, signature, note);");
	assert_refused(NULL, TLY_EFORMAT, "damaged widget log: no public key recorded");
	unlink(path);

	/* An entries table without the format's columns. */
	create_file(pk);
	raw_sql("PRAGMA writable_schema = ON;"
	        "UPDATE sqlite_master SET sql = 'CREATE TABLE entries (seq INTEGER PRIMARY KEY,"
	        " entry_hash BLOB, signature BLOB)' WHERE name = 'entries';");
	assert_refused(NULL, TLY_EFORMAT, "damaged widget log: no such column: note");
}

Test(sqlog, messages_are_optional)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	sqlite3 *db = NULL;

	raw_sql("PRAGMA application_id = 42; CREATE TABLE t (x);");
	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, key, NULL, 0), TLY_EFORMAT);
	cr_assert_null(db);
}

Test(sqlog, head_of_empty_and_filled_logs)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES], prev[TLY_SQLOG_HASH_BYTES],
	    zero[TLY_SQLOG_HASH_BYTES] = {0};
	uint64_t next = 0;
	sqlite3 *db = NULL;

	create_file(pk);
	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, NULL, msg, sizeof msg), TLY_OK);
	memset(prev, 0xee, sizeof prev);
	cr_assert_eq(tly_sqlog_head(db, &next, prev), TLY_OK);
	cr_assert_eq(next, 1);
	cr_assert_eq(memcmp(prev, zero, sizeof prev), 0);
	sqlite3_close(db);

	raw_sql("INSERT INTO entries VALUES (1, randomblob(32), zeroblob(64), 'a');"
	        "INSERT INTO entries VALUES (2, x'"
	        "0102030405060708090a0b0c0d0e0f10"
	        "1112131415161718191a1b1c1d1e1f20', zeroblob(64), 'b');");
	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, NULL, msg, sizeof msg), TLY_OK);
	cr_assert_eq(tly_sqlog_head(db, &next, prev), TLY_OK);
	cr_assert_eq(next, 3);
	for (int i = 0; i < TLY_SQLOG_HASH_BYTES; i++)
		cr_assert_eq(prev[i], i + 1);
	sqlite3_close(db);

	/* A last row with a short hash, or a seq that cannot be followed. */
	raw_sql("INSERT INTO entries VALUES (3, x'01', zeroblob(64), 'c');");
	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, NULL, msg, sizeof msg), TLY_OK);
	cr_assert_eq(tly_sqlog_head(db, &next, prev), TLY_EFORMAT);
	sqlite3_close(db);
	raw_sql(
	    "INSERT INTO entries VALUES (9223372036854775807, zeroblob(32), zeroblob(64), 'd');");
	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, NULL, msg, sizeof msg), TLY_OK);
	cr_assert_eq(tly_sqlog_head(db, &next, prev), TLY_EFORMAT);
	sqlite3_close(db);
}

Test(sqlog, seal_checks_hash_then_signature)
{
	uint8_t hash[TLY_SQLOG_HASH_BYTES], stored[TLY_SQLOG_HASH_BYTES];
	uint8_t sig[TLY_SIGN_BYTES], pk[TLY_SIGN_PUBLIC_BYTES], other_pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_sign_key *other = NULL;

	for (size_t i = 0; i < sizeof hash; i++)
		hash[i] = (uint8_t)(3 * i + 1);
	memcpy(stored, hash, sizeof hash);
	tly_sign_key_public(key, pk);
	cr_assert_eq(tly_sign(sig, key, stored, sizeof stored), TLY_OK);
	cr_assert_eq(tly_sqlog_check_seal(hash, stored, sig, pk), TLY_SQLOG_SEALED);

	/* Contents changed: the recomputed hash differs from entry_hash. */
	hash[31] ^= 1;
	cr_assert_eq(tly_sqlog_check_seal(hash, stored, sig, pk), TLY_SQLOG_BAD_HASH);
	/* Contents and entry_hash changed together: the signature catches it. */
	stored[31] ^= 1;
	cr_assert_eq(tly_sqlog_check_seal(hash, stored, sig, pk), TLY_SQLOG_BAD_SIGNATURE);
	stored[31] ^= 1;
	hash[31] ^= 1;
	/* A flipped signature bit, and another signer's key. */
	sig[0] ^= 0x80;
	cr_assert_eq(tly_sqlog_check_seal(hash, stored, sig, pk), TLY_SQLOG_BAD_SIGNATURE);
	sig[0] ^= 0x80;
	cr_assert_eq(tly_sign_key_alloc(&other, NULL), TLY_OK);
	tly_sign_key_public(other, other_pk);
	cr_assert_eq(tly_sqlog_check_seal(hash, stored, sig, other_pk), TLY_SQLOG_BAD_SIGNATURE);
	tly_sign_key_free(other);
}

Test(sqlog, insert_binds_integers_and_blobs_in_order)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES], hash[TLY_SQLOG_HASH_BYTES], sig[TLY_SIGN_BYTES];
	sqlite3 *db = NULL;

	memset(hash, 0xab, sizeof hash);
	memset(sig, 0xcd, sizeof sig);
	cr_assert_eq(tly_sqlog_open(&db, pk, path, &widget, key, msg, sizeof msg), TLY_OK, "%s",
	             msg);
	const struct tly_sqlog_value row[] = {
	    tly_sqlog_int(UINT64_MAX),
	    tly_sqlog_blob(hash, sizeof hash),
	    tly_sqlog_blob(sig, sizeof sig),
	    tly_sqlog_blob("note", 4),
	};
	const char *sql = "INSERT INTO entries VALUES (?, ?, ?, CAST(? AS TEXT))";
	cr_assert_eq(tly_sqlog_insert(db, sql, row, 4), TLY_OK, "%s", sqlite3_errmsg(db));
	/* u64 by two's-complement reinterpretation; each blob in its column. */
	cr_assert_eq(tly_sqlog_query_int(db, "SELECT seq FROM entries"), -1);
	cr_assert_eq(tly_sqlog_query_int(db, "SELECT count(*) FROM entries WHERE entry_hash ="
	                                     " x'"
	                                     "abababababababababababababababab"
	                                     "abababababababababababababababab' AND"
	                                     " length(signature) = 64 AND note = 'note'"),
	             1);
	/* A constraint (the same seq again), a bad statement, more values than
	 * parameters. */
	cr_assert_eq(tly_sqlog_insert(db, sql, row, 4), TLY_EIO);
	cr_assert_eq(tly_sqlog_insert(db, "INSERT INTO nowhere VALUES (?)", row, 1), TLY_EIO);
	const struct tly_sqlog_value more[] = {row[0], row[1], row[2], row[3], row[3]};
	cr_assert_eq(tly_sqlog_insert(db, sql, more, 5), TLY_EIO);
	cr_assert_eq(tly_sqlog_query_int(db, "SELECT count(*) FROM entries"), 1);
	sqlite3_close(db);
}
