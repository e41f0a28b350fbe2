/* The transparency-log heads a node holds (ledger_heads.h). */
#include "node/ledger_heads.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ledger_impl.h"
#include "store/sqlog.h"

static const char heads_sql[] =
    "CREATE TABLE IF NOT EXISTS log_heads ("
    " size INTEGER PRIMARY KEY NOT NULL CHECK (size >= 1),"
    " root BLOB NOT NULL CHECK (length(root) = 32),"
    " signature BLOB NOT NULL CHECK (length(signature) = 64),"
    " query_id BLOB NOT NULL CHECK (length(query_id) = 16),"
    " time INTEGER NOT NULL) STRICT;"
    "CREATE TRIGGER IF NOT EXISTS log_heads_no_update BEFORE UPDATE ON log_heads"
    " BEGIN SELECT RAISE(ABORT, 'log heads are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS log_heads_no_delete BEFORE DELETE ON log_heads"
    " BEGIN SELECT RAISE(ABORT, 'log heads are append-only'); END;";

/* Whether the table exists (a read-only handle never creates it). */
static int
has_table(struct tly_ledger *l)
{
	sqlite3_stmt *st = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(l->db,
	                       "SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
	                       " name = 'log_heads'",
	                       -1, &st, NULL) == SQLITE_OK)
		found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static tly_err
read_head(sqlite3_stmt *st, struct tly_ledger_head *out)
{
	if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || sqlite3_column_int64(st, 0) < 1 ||
	    sqlite3_column_bytes(st, 1) != TLY_MERKLE_HASH_BYTES ||
	    sqlite3_column_bytes(st, 2) != TLY_SIGN_BYTES ||
	    sqlite3_column_bytes(st, 3) != TLY_QUERY_ID_BYTES)
		return TLY_EFORMAT;
	memset(out, 0, sizeof *out);
	out->head.size = (uint64_t)sqlite3_column_int64(st, 0);
	memcpy(out->head.root, sqlite3_column_blob(st, 1), TLY_MERKLE_HASH_BYTES);
	memcpy(out->head.signature, sqlite3_column_blob(st, 2), TLY_SIGN_BYTES);
	memcpy(out->query_id, sqlite3_column_blob(st, 3), TLY_QUERY_ID_BYTES);
	out->time = (uint64_t)sqlite3_column_int64(st, 4);
	return TLY_OK;
}

#define HEAD_COLUMNS "size, root, signature, query_id, time"

/* The head of this size, or the newest when size is 0. */
static tly_err
find(struct tly_ledger *l, uint64_t size, struct tly_ledger_head *out, int *found)
{
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;
	int rc;

	*found = 0;
	if (!has_table(l))
		return TLY_OK;
	if (sqlite3_prepare_v2(l->db,
	                       size == 0 ? "SELECT " HEAD_COLUMNS
	                                   " FROM log_heads ORDER BY size DESC LIMIT 1"
	                                 : "SELECT " HEAD_COLUMNS " FROM log_heads WHERE size = ?",
	                       -1, &st, NULL) != SQLITE_OK ||
	    (size != 0 && sqlite3_bind_int64(st, 1, (sqlite3_int64)size) != SQLITE_OK))
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if ((rv = read_head(st, out)) == TLY_OK)
			*found = 1;
	} else {
		rv = rc == SQLITE_DONE ? TLY_OK : TLY_EIO;
	}
out:
	sqlite3_finalize(st);
	return rv;
}

tly_err
tly_ledger_head_newest(struct tly_ledger *ledger, struct tly_ledger_head *out, int *found)
{
	TLY_REQUIRE(ledger != NULL && out != NULL && found != NULL);
	return find(ledger, 0, out, found);
}

tly_err
tly_ledger_head_record(struct tly_ledger *ledger, const struct tly_tree_head *head,
                       const uint8_t query_id[static TLY_QUERY_ID_BYTES])
{
	struct tly_ledger_head held;
	time_t now = time(NULL);
	int found = 0;
	tly_err rv;

	TLY_REQUIRE(ledger != NULL && ledger->key != NULL && head != NULL && head->size >= 1);
	if (sqlite3_exec(ledger->db, heads_sql, NULL, NULL, NULL) != SQLITE_OK)
		return TLY_EIO;
	if ((rv = find(ledger, head->size, &held, &found)) != TLY_OK)
		return rv;
	if (found)
		return sodium_memcmp(held.head.root, head->root, TLY_MERKLE_HASH_BYTES) == 0
		           ? TLY_OK
		           : TLY_EAUTH;
	const struct tly_sqlog_value row[] = {
	    tly_sqlog_int(head->size),
	    tly_sqlog_blob(head->root, TLY_MERKLE_HASH_BYTES),
	    tly_sqlog_blob(head->signature, TLY_SIGN_BYTES),
	    tly_sqlog_blob(query_id, TLY_QUERY_ID_BYTES),
	    tly_sqlog_int(now > 0 ? (uint64_t)now : 0),
	};
	return tly_sqlog_insert(ledger->db,
	                        "INSERT INTO log_heads (" HEAD_COLUMNS ") VALUES (?, ?, ?, ?, ?)",
	                        row, sizeof row / sizeof row[0]);
}

tly_err
tly_ledger_heads(struct tly_ledger *ledger, struct tly_ledger_head **out, size_t *count)
{
	struct tly_ledger_head *heads = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	tly_err rv = TLY_EIO;
	int rc = SQLITE_DONE;

	TLY_REQUIRE(ledger != NULL && out != NULL && count != NULL);
	if (has_table(ledger)) {
		if (sqlite3_prepare_v2(ledger->db,
		                       "SELECT " HEAD_COLUMNS " FROM log_heads ORDER BY size", -1,
		                       &st, NULL) != SQLITE_OK)
			goto out;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct tly_ledger_head *grown = realloc(heads, (n + 1) * sizeof *grown);
			rv = TLY_ENOMEM;
			if (grown == NULL)
				goto out;
			heads = grown;
			if ((rv = read_head(st, &heads[n])) != TLY_OK)
				goto out;
			n++;
		}
	}
	rv = rc == SQLITE_DONE ? TLY_OK : TLY_EIO;
	if (rv == TLY_OK) {
		*out = heads;
		*count = n;
		heads = NULL;
	}
out:
	sqlite3_finalize(st);
	free(heads);
	return rv;
}
