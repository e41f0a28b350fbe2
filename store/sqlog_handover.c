/* Key handovers of a signed append-only log: see sqlog.h. */
#include "sqlog.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wire/buf.h"

/* Append-only like the entries; the CHECKs catch honest corruption early,
 * verification does not rely on them. The SQL is part of the file format. */
static const char table_sql[] =
    "CREATE TABLE IF NOT EXISTS key_handovers ("
    " id INTEGER PRIMARY KEY NOT NULL CHECK (id >= 1),"
    " from_seq INTEGER NOT NULL CHECK (from_seq >= 1),"
    " time INTEGER NOT NULL,"
    " prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    " old_pk BLOB NOT NULL CHECK (length(old_pk) = 32),"
    " new_pk BLOB NOT NULL CHECK (length(new_pk) = 32),"
    " old_signature BLOB NOT NULL CHECK (length(old_signature) = 64),"
    " new_signature BLOB NOT NULL CHECK (length(new_signature) = 64)) STRICT;"
    "CREATE TRIGGER IF NOT EXISTS key_handovers_no_update BEFORE UPDATE ON key_handovers"
    " BEGIN SELECT RAISE(ABORT, 'key handovers are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS key_handovers_no_delete BEFORE DELETE ON key_handovers"
    " BEGIN SELECT RAISE(ABORT, 'key handovers are append-only'); END;";

#define COLUMNS "from_seq, time, prev_hash, old_pk, new_pk, old_signature, new_signature"

static const char domain[22] = "tally-key-handover-v1";

static tly_err
add_table(sqlite3 *db)
{
	return tly_sqlog_exec(db, table_sql) == SQLITE_OK ? TLY_OK : TLY_EIO;
}

/* Whether the file has the table (a reader never creates it). */
static int
has_table(sqlite3 *db)
{
	return tly_sqlog_query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	                               " AND name = 'key_handovers'") == 1;
}

void
tly_sqlog_handover_message(uint8_t out[static TLY_SQLOG_HANDOVER_MESSAGE_BYTES],
                           const struct tly_sqlog_format *f, const struct tly_sqlog_handover *h)
{
	uint8_t *p = out;

	memcpy(p, domain, sizeof domain);
	p += sizeof domain;
	tly_store_be32(p, (uint32_t)f->application_id);
	tly_store_be64(p + 4, h->from_seq);
	tly_store_be64(p + 12, h->time);
	p += 20;
	memcpy(p, h->prev_hash, TLY_SQLOG_HASH_BYTES);
	memcpy(p + 32, h->old_pk, TLY_SIGN_PUBLIC_BYTES);
	memcpy(p + 64, h->new_pk, TLY_SIGN_PUBLIC_BYTES);
}

static tly_err
read_row(sqlite3_stmt *st, struct tly_sqlog_handover *h)
{
	static const struct {
		int col;
		size_t off, len;
	} blobs[] = {
	    {2, offsetof(struct tly_sqlog_handover, prev_hash), TLY_SQLOG_HASH_BYTES},
	    {3, offsetof(struct tly_sqlog_handover, old_pk), TLY_SIGN_PUBLIC_BYTES},
	    {4, offsetof(struct tly_sqlog_handover, new_pk), TLY_SIGN_PUBLIC_BYTES},
	    {5, offsetof(struct tly_sqlog_handover, old_signature), TLY_SIGN_BYTES},
	    {6, offsetof(struct tly_sqlog_handover, new_signature), TLY_SIGN_BYTES},
	};

	memset(h, 0, sizeof *h);
	if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || sqlite3_column_int64(st, 0) < 1 ||
	    sqlite3_column_type(st, 1) != SQLITE_INTEGER)
		return TLY_EFORMAT;
	h->from_seq = (uint64_t)sqlite3_column_int64(st, 0);
	h->time = (uint64_t)sqlite3_column_int64(st, 1);
	for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++) {
		if (sqlite3_column_type(st, blobs[i].col) != SQLITE_BLOB ||
		    (size_t)sqlite3_column_bytes(st, blobs[i].col) != blobs[i].len)
			return TLY_EFORMAT;
		memcpy((uint8_t *)h + blobs[i].off, sqlite3_column_blob(st, blobs[i].col),
		       blobs[i].len);
	}
	return TLY_OK;
}

tly_err
tly_sqlog_handovers(sqlite3 *db, struct tly_sqlog_handover **out, size_t *count)
{
	struct tly_sqlog_handover *list = NULL, *grown;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	tly_err rv = TLY_EIO;
	int rc;

	*out = NULL;
	*count = 0;
	if (!has_table(db))
		return TLY_OK;
	if (sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM key_handovers ORDER BY id", -1, &st,
	                       NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((grown = realloc(list, (n + 1) * sizeof *list)) == NULL) {
			rv = TLY_ENOMEM;
			goto out;
		}
		list = grown;
		if ((rv = read_row(st, &list[n])) != TLY_OK)
			goto out;
		n++;
		rv = TLY_EIO;
	}
	if (rc != SQLITE_DONE)
		goto out;
	*out = list;
	*count = n;
	list = NULL;
	rv = TLY_OK;
out:
	sqlite3_finalize(st);
	free(list);
	return rv;
}

tly_err
tly_sqlog_current_key(sqlite3 *db, const uint8_t first_pk[static TLY_SIGN_PUBLIC_BYTES],
                      uint8_t out[static TLY_SIGN_PUBLIC_BYTES])
{
	memcpy(out, first_pk, TLY_SIGN_PUBLIC_BYTES);
	if (!has_table(db))
		return TLY_OK;
	return tly_sqlog_query_blob(db, "SELECT new_pk FROM key_handovers ORDER BY id DESC LIMIT 1",
	                            out, TLY_SIGN_PUBLIC_BYTES);
}

/* Fill and sign h for the log's head, inside the caller's transaction. */
static tly_err
make(sqlite3 *db, const struct tly_sqlog_format *f, const struct tly_sign_key *old_key,
     const struct tly_sign_key *new_key, struct tly_sqlog_handover *h)
{
	uint8_t message[TLY_SQLOG_HANDOVER_MESSAGE_BYTES];
	tly_err rv;

	if ((rv = tly_sqlog_head(db, &h->from_seq, h->prev_hash)) != TLY_OK)
		return rv;
	tly_sign_key_public(old_key, h->old_pk);
	tly_sign_key_public(new_key, h->new_pk);
	tly_sqlog_handover_message(message, f, h);
	if ((rv = tly_sign(h->old_signature, old_key, message, sizeof message)) != TLY_OK ||
	    (rv = tly_sign(h->new_signature, new_key, message, sizeof message)) != TLY_OK)
		return rv;
	return TLY_OK;
}

static tly_err
insert(sqlite3 *db, const struct tly_sqlog_handover *h)
{
	const struct tly_sqlog_value values[] = {
	    tly_sqlog_int(h->from_seq),
	    tly_sqlog_int(h->time),
	    tly_sqlog_blob(h->prev_hash, sizeof h->prev_hash),
	    tly_sqlog_blob(h->old_pk, sizeof h->old_pk),
	    tly_sqlog_blob(h->new_pk, sizeof h->new_pk),
	    tly_sqlog_blob(h->old_signature, sizeof h->old_signature),
	    tly_sqlog_blob(h->new_signature, sizeof h->new_signature),
	};

	return tly_sqlog_insert(
	    db, "INSERT INTO key_handovers (" COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?)", values,
	    sizeof values / sizeof values[0]);
}

tly_err
tly_sqlog_handover_write(sqlite3 *db, const struct tly_sqlog_format *f,
                         const uint8_t first_pk[static TLY_SIGN_PUBLIC_BYTES],
                         const struct tly_sign_key *old_key, const struct tly_sign_key *new_key,
                         uint64_t time, struct tly_sqlog_handover *out, char *msg, size_t msg_len)
{
	struct tly_sqlog_handover h = {.time = time};
	uint8_t current[TLY_SIGN_PUBLIC_BYTES], mine[TLY_SIGN_PUBLIC_BYTES];
	tly_err rv;

	TLY_REQUIRE(db != NULL && f != NULL && f->handovers && old_key != NULL && new_key != NULL &&
	            out != NULL);
	tly_sign_key_public(old_key, mine);
	tly_sign_key_public(new_key, h.new_pk);
	if (sodium_memcmp(mine, h.new_pk, sizeof mine) == 0) {
		tly_say(msg, msg_len, "the new key is the key in use");
		return TLY_EINVAL;
	}
	if (tly_sqlog_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK || add_table(db) != TLY_OK) {
		rv = TLY_EIO;
		goto fail;
	}
	if ((rv = tly_sqlog_current_key(db, first_pk, current)) != TLY_OK)
		goto fail;
	if (sodium_memcmp(current, mine, sizeof mine) != 0) {
		tly_sqlog_exec(db, "ROLLBACK");
		tly_say(msg, msg_len, "the %s is signed with another key than the one given",
		        f->noun);
		return TLY_EAUTH;
	}
	if ((rv = make(db, f, old_key, new_key, &h)) != TLY_OK || (rv = insert(db, &h)) != TLY_OK)
		goto fail;
	if (tly_sqlog_exec(db, "COMMIT") != SQLITE_OK) {
		rv = TLY_EIO;
		goto fail;
	}
	*out = h;
	return TLY_OK;
fail:
	tly_say(msg, msg_len, "cannot record the key handover in the %s: %s", f->noun,
	        rv == TLY_EIO ? sqlite3_errmsg(db) : tly_strerror(rv));
	tly_sqlog_exec(db, "ROLLBACK");
	return rv;
}

const char *
tly_sqlog_handover_check(const struct tly_sqlog_handover *h, const struct tly_sqlog_format *f,
                         uint64_t seq, const uint8_t prev_hash[static TLY_SQLOG_HASH_BYTES],
                         const uint8_t current[static TLY_SIGN_PUBLIC_BYTES])
{
	uint8_t message[TLY_SQLOG_HANDOVER_MESSAGE_BYTES];

	if (h->from_seq != seq)
		return "it is out of place (its from_seq is not where the entries stand)";
	if (sodium_memcmp(h->prev_hash, prev_hash, TLY_SQLOG_HASH_BYTES) != 0)
		return "its prev_hash is not the hash of the entry before it";
	if (sodium_memcmp(h->old_pk, current, TLY_SIGN_PUBLIC_BYTES) != 0)
		return "its old key is not the key in force";
	if (sodium_memcmp(h->new_pk, current, TLY_SIGN_PUBLIC_BYTES) == 0)
		return "it hands the key over to itself";
	tly_sqlog_handover_message(message, f, h);
	if (tly_sign_verify(h->old_signature, message, sizeof message, h->old_pk) != TLY_OK)
		return "the old key's signature does not verify";
	if (tly_sign_verify(h->new_signature, message, sizeof message, h->new_pk) != TLY_OK)
		return "the new key's signature does not verify";
	return NULL;
}

/* After the open: the table for a writer, the key in force, the writer's
 * key against it. */
static tly_err
settle_key(sqlite3 *db, const uint8_t first_pk[static TLY_SIGN_PUBLIC_BYTES],
           uint8_t current[static TLY_SIGN_PUBLIC_BYTES], const char *path,
           const struct tly_sqlog_format *f, const struct tly_sign_key *key, char *msg,
           size_t msg_len)
{
	uint8_t mine[TLY_SIGN_PUBLIC_BYTES];
	tly_err rv;

	if (key != NULL && add_table(db) != TLY_OK) {
		tly_say(msg, msg_len, "%s: cannot add the key handovers table: %s", path,
		        sqlite3_errmsg(db));
		return TLY_EIO;
	}
	if ((rv = tly_sqlog_current_key(db, first_pk, current)) != TLY_OK) {
		tly_say(msg, msg_len, "%s: damaged %s: unreadable key handovers", path, f->noun);
		return rv;
	}
	if (key == NULL)
		return TLY_OK;
	tly_sign_key_public(key, mine);
	if (sodium_memcmp(mine, current, sizeof mine) != 0) {
		tly_say(msg, msg_len, "%s: %s", path, f->wrong_key);
		return TLY_EAUTH;
	}
	return TLY_OK;
}

tly_err
tly_sqlog_open_handovers(sqlite3 **db, uint8_t first_pk[static TLY_SIGN_PUBLIC_BYTES],
                         uint8_t current[static TLY_SIGN_PUBLIC_BYTES], const char *path,
                         const struct tly_sqlog_format *f, const struct tly_sign_key *key,
                         char *msg, size_t msg_len)
{
	tly_err rv;

	TLY_REQUIRE(f != NULL && f->handovers);
	if ((rv = tly_sqlog_open(db, first_pk, path, f, key, msg, msg_len)) != TLY_OK)
		return rv;
	if ((rv = settle_key(*db, first_pk, current, path, f, key, msg, msg_len)) != TLY_OK) {
		sqlite3_close_v2(*db);
		*db = NULL;
	}
	return rv;
}
