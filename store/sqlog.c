/* Opening a signed append-only log file: see sqlog.h. */
#include "sqlog.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define PK_NAME "sign_public_key"

struct where {
	const char *path;
	const struct tly_sqlog_format *f;
	char *msg;
	size_t msg_len;
};

static void
say(const struct where *w, const char *fmt, ...)
{
	va_list ap;

	if (w->msg_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(w->msg, w->msg_len, fmt, ap);
	va_end(ap);
}

int
tly_sqlog_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

sqlite3_int64
tly_sqlog_query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

tly_err
tly_sqlog_query_blob(sqlite3 *db, const char *sql, uint8_t *out, size_t len)
{
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rv = TLY_EFORMAT;
		if (sqlite3_column_type(st, 0) != SQLITE_BLOB ||
		    (size_t)sqlite3_column_bytes(st, 0) != len)
			goto out;
		memcpy(out, sqlite3_column_blob(st, 0), len);
	} else if (rc != SQLITE_DONE) {
		goto out;
	}
	rv = TLY_OK;
out:
	sqlite3_finalize(st);
	return rv;
}

struct tly_sqlog_value
tly_sqlog_int(uint64_t v)
{
	return (struct tly_sqlog_value){NULL, 0, (sqlite3_int64)v};
}

struct tly_sqlog_value
tly_sqlog_blob(const void *blob, size_t len)
{
	return (struct tly_sqlog_value){blob, len, 0};
}

static int
bind_value(sqlite3_stmt *st, int col, const struct tly_sqlog_value *v)
{
	if (v->blob == NULL)
		return sqlite3_bind_int64(st, col, v->integer);
	if (v->len > INT_MAX)
		return SQLITE_TOOBIG;
	return sqlite3_bind_blob(st, col, v->blob, (int)v->len, SQLITE_STATIC);
}

tly_err
tly_sqlog_insert(sqlite3 *db, const char *sql, const struct tly_sqlog_value *values, size_t count)
{
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;

	if (count > INT_MAX || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < count; i++)
		if (bind_value(st, (int)i + 1, &values[i]) != SQLITE_OK)
			goto out;
	if (sqlite3_step(st) == SQLITE_DONE)
		rv = TLY_OK;
out:
	sqlite3_finalize(st);
	return rv;
}

/* Is this file a log of our format, empty (to create), or neither? */
static tly_err
classify(sqlite3 *db, const struct where *w, int *is_new)
{
	sqlite3_int64 app = tly_sqlog_query_int(db, "PRAGMA application_id");
	sqlite3_int64 version = tly_sqlog_query_int(db, "PRAGMA user_version");
	sqlite3_int64 objects = tly_sqlog_query_int(db, "SELECT count(*) FROM sqlite_master");

	if (app < 0 || version < 0 || objects < 0) {
		say(w, "%s: not a readable SQLite database: %s", w->path, sqlite3_errmsg(db));
		return sqlite3_errcode(db) == SQLITE_NOTADB ? TLY_EFORMAT : TLY_EIO;
	}
	*is_new = app == 0 && version == 0 && objects == 0;
	if (*is_new)
		return TLY_OK;
	if (app != w->f->application_id) {
		say(w, "%s: not a tally %s (application_id 0x%08llx, expected 0x%08x)", w->path,
		    w->f->noun, (unsigned long long)app, (unsigned)w->f->application_id);
		return TLY_EFORMAT;
	}
	if (version != w->f->format_version) {
		say(w, "%s: %s format version %lld; this build reads version %d%s", w->path,
		    w->f->noun, (long long)version, (int)w->f->format_version,
		    version > w->f->format_version ? " (upgrade tally)" : "");
		return TLY_EFORMAT;
	}
	return TLY_OK;
}

/* Append-only by construction: triggers refuse UPDATE and DELETE on the
 * entries table (the SQL text is part of the file format: keep it). */
static tly_err
add_triggers(sqlite3 *db, const char *noun)
{
	static const char *const ops[] = {"update", "UPDATE", "delete", "DELETE"};
	char sql[192];

	for (size_t i = 0; i < 4; i += 2) {
		if ((size_t)snprintf(
		        sql, sizeof sql,
		        "CREATE TRIGGER entries_no_%s BEFORE %s ON entries"
		        " BEGIN SELECT RAISE(ABORT, '%s entries are append-only'); END;",
		        ops[i], ops[i + 1], noun) >= sizeof sql ||
		    tly_sqlog_exec(db, sql) != SQLITE_OK)
			return TLY_EIO;
	}
	return TLY_OK;
}

/* Create tables and record the key; re-checked under the write lock in
 * case another process created the file meanwhile. */
static tly_err
create(sqlite3 *db, const struct where *w, const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	char sql[128];
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;

	if (tly_sqlog_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK)
		goto out;
	if (tly_sqlog_query_int(db, "PRAGMA application_id") != 0) {
		rv = tly_sqlog_exec(db, "COMMIT") == SQLITE_OK ? TLY_OK : TLY_EIO;
		goto out;
	}
	snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
	         (int)w->f->application_id, (int)w->f->format_version);
	if (tly_sqlog_exec(db, w->f->schema_sql) != SQLITE_OK ||
	    (rv = add_triggers(db, w->f->noun)) != TLY_OK || tly_sqlog_exec(db, sql) != SQLITE_OK)
		goto out;
	rv = TLY_EIO;
	snprintf(sql, sizeof sql, "INSERT INTO %s (name, value) VALUES (?, ?)", w->f->meta_table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, PK_NAME, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 2, pk, TLY_SIGN_PUBLIC_BYTES, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE || tly_sqlog_exec(db, "COMMIT") != SQLITE_OK)
		goto out;
	rv = TLY_OK;
out:
	if (rv != TLY_OK) {
		say(w, "%s: cannot create the %s: %s", w->path, w->f->noun, sqlite3_errmsg(db));
		tly_sqlog_exec(db, "ROLLBACK");
	}
	sqlite3_finalize(st);
	return rv;
}

/* The recorded key, and a check that the entries table has our columns. */
static tly_err
load_meta(sqlite3 *db, const struct where *w, uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	char sql[1024];
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EFORMAT;

	snprintf(sql, sizeof sql, "SELECT value FROM %s WHERE name = '" PK_NAME "'",
	         w->f->meta_table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 0) != SQLITE_BLOB ||
	    sqlite3_column_bytes(st, 0) != TLY_SIGN_PUBLIC_BYTES) {
		say(w, "%s: damaged %s: no public key recorded", w->path, w->f->noun);
		goto out;
	}
	memcpy(pk, sqlite3_column_blob(st, 0), TLY_SIGN_PUBLIC_BYTES);
	sqlite3_finalize(st);
	st = NULL;
	if ((size_t)snprintf(sql, sizeof sql, "SELECT %s FROM entries LIMIT 0", w->f->columns) >=
	        sizeof sql ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		say(w, "%s: damaged %s: %s", w->path, w->f->noun, sqlite3_errmsg(db));
		goto out;
	}
	rv = TLY_OK;
out:
	sqlite3_finalize(st);
	return rv;
}

/* Pragmas of a writing handle. Called only once the file is known to be
 * ours (or empty): journal_mode = WAL is persistent. */
static tly_err
configure_writer(sqlite3 *db, const struct where *w)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int wal;

	if ((w->f->foreign_keys && tly_sqlog_exec(db, "PRAGMA foreign_keys = ON") != SQLITE_OK) ||
	    tly_sqlog_exec(db, "PRAGMA synchronous = FULL") != SQLITE_OK) {
		say(w, "%s: cannot set pragmas: %s", w->path, sqlite3_errmsg(db));
		return TLY_EIO;
	}
	wal = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL) == SQLITE_OK &&
	      sqlite3_step(st) == SQLITE_ROW && (mode = sqlite3_column_text(st, 0)) != NULL &&
	      strcmp((const char *)mode, "wal") == 0;
	sqlite3_finalize(st);
	if (!wal) {
		say(w, "%s: cannot switch to WAL journaling: %s", w->path, sqlite3_errmsg(db));
		return TLY_EIO;
	}
	return TLY_OK;
}

/* Format checks, creation and key check on an open handle. */
static tly_err
settle(sqlite3 *db, const struct where *w, const struct tly_sign_key *key,
       uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	uint8_t mine[TLY_SIGN_PUBLIC_BYTES] = {0};
	int is_new = 0;
	tly_err rv;

	if ((rv = classify(db, w, &is_new)) != TLY_OK)
		return rv;
	if (is_new && key == NULL) {
		say(w, "%s: not a tally %s (empty file)", w->path, w->f->noun);
		return TLY_EFORMAT;
	}
	if (key != NULL) {
		if ((rv = configure_writer(db, w)) != TLY_OK)
			return rv;
		tly_sign_key_public(key, mine);
	}
	if (is_new && (rv = create(db, w, mine)) != TLY_OK)
		return rv;
	if ((rv = load_meta(db, w, pk)) != TLY_OK)
		return rv;
	/* With handovers the key in force is tly_sqlog_open_handovers' to check. */
	if (key != NULL && !w->f->handovers && sodium_memcmp(mine, pk, sizeof mine) != 0) {
		say(w, "%s: %s", w->path, w->f->wrong_key);
		return TLY_EAUTH;
	}
	return TLY_OK;
}

tly_err
tly_sqlog_open(sqlite3 **db, uint8_t pk[static TLY_SIGN_PUBLIC_BYTES], const char *path,
               const struct tly_sqlog_format *f, const struct tly_sign_key *key, char *msg,
               size_t msg_len)
{
	const struct where w = {path, f, msg, msg_len};
	int flags = key != NULL ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	sqlite3 *h = NULL;
	tly_err rv = TLY_EIO;

	TLY_REQUIRE(db != NULL && path != NULL && f != NULL);
	*db = NULL;
	if (sqlite3_open_v2(path, &h, flags, NULL) != SQLITE_OK) {
		say(&w, "%s: cannot open: %s", path, h ? sqlite3_errmsg(h) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(h, 1);
	sqlite3_busy_timeout(h, f->busy_ms);
	if ((rv = settle(h, &w, key, pk)) != TLY_OK)
		goto out;
	*db = h;
	h = NULL;
out:
	sqlite3_close_v2(h);
	return rv;
}

tly_err
tly_sqlog_head(sqlite3 *db, uint64_t *next_seq, uint8_t prev_hash[static TLY_SQLOG_HASH_BYTES])
{
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	*next_seq = 1;
	memset(prev_hash, 0, TLY_SQLOG_HASH_BYTES);
	if (rc == SQLITE_ROW) {
		rv = TLY_EFORMAT;
		if (sqlite3_column_int64(st, 0) < 1 || sqlite3_column_int64(st, 0) == INT64_MAX ||
		    sqlite3_column_bytes(st, 1) != TLY_SQLOG_HASH_BYTES)
			goto out;
		*next_seq = (uint64_t)sqlite3_column_int64(st, 0) + 1;
		memcpy(prev_hash, sqlite3_column_blob(st, 1), TLY_SQLOG_HASH_BYTES);
	} else if (rc != SQLITE_DONE) {
		goto out;
	}
	rv = TLY_OK;
out:
	sqlite3_finalize(st);
	return rv;
}

enum tly_sqlog_seal
tly_sqlog_check_seal(const uint8_t computed[static TLY_SQLOG_HASH_BYTES],
                     const uint8_t entry_hash[static TLY_SQLOG_HASH_BYTES],
                     const uint8_t signature[static TLY_SIGN_BYTES],
                     const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	if (sodium_memcmp(computed, entry_hash, TLY_SQLOG_HASH_BYTES) != 0)
		return TLY_SQLOG_BAD_HASH;
	if (tly_sign_verify(signature, entry_hash, TLY_SQLOG_HASH_BYTES, pk) != TLY_OK)
		return TLY_SQLOG_BAD_SIGNATURE;
	return TLY_SQLOG_SEALED;
}

void
tly_sqlog_iso_time(char out[static TLY_SQLOG_TIME_BYTES], uint64_t seconds)
{
	struct tm tm;
	time_t t = (time_t)seconds;

	if (seconds > (uint64_t)INT32_MAX * 1000 || gmtime_r(&t, &tm) == NULL ||
	    strftime(out, TLY_SQLOG_TIME_BYTES, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, TLY_SQLOG_TIME_BYTES, "@%" PRIu64, seconds);
}

static tly_err
step_rows(sqlite3_stmt *st, const struct tly_sqlog_walk *walk)
{
	tly_err rv = TLY_OK;
	int rc = SQLITE_OK;

	for (uint64_t seq = 1; rv == TLY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW; seq++)
		rv = walk->row(walk->ctx, st, seq);
	return rv == TLY_OK && rc != SQLITE_DONE ? TLY_EIO : rv;
}

tly_err
tly_sqlog_walk(sqlite3 *db, const struct tly_sqlog_walk *walk, const char *noun, char *why,
               size_t why_len)
{
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;
	int reading = tly_sqlog_exec(db, "BEGIN") == SQLITE_OK;

	if (reading && sqlite3_prepare_v2(db, walk->rows_sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, walk->earlier_sql, -1, walk->earlier, NULL) == SQLITE_OK &&
	    (walk->start == NULL || (rv = walk->start(walk->ctx, db)) == TLY_OK))
		rv = step_rows(st, walk);
	if (rv == TLY_EIO || rv == TLY_ENOMEM)
		tly_say(why, why_len, "cannot read the %s: %s", noun,
		        rv == TLY_ENOMEM ? "out of memory" : sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_finalize(*walk->earlier);
	*walk->earlier = NULL;
	if (reading)
		tly_sqlog_exec(db, "COMMIT");
	return rv;
}
