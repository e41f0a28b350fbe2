/* The transparency log file (open, schema, format checks) and its one
 * write path: append. See translog.h for the contract and the layout. */
#include "translog_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store/head.h"
#include "store/sqlog.h"
#include "query/receipt.h" /* receipts: one definition for node and coordinator */

/* Append-only by construction: store/sqlog.c adds the triggers that
 * refuse UPDATE and DELETE. The CHECKs catch honest corruption early;
 * verification does not rely on them. */
static const char schema_sql[] =
    "CREATE TABLE log_meta (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) STRICT;"
    "CREATE TABLE entries ("
    " seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),"
    " time INTEGER NOT NULL,"
    " query_id BLOB NOT NULL CHECK (length(query_id) = 16),"
    " outcome INTEGER NOT NULL CHECK (outcome IN (1, 2, 3, 4)),"
    " bytes BLOB NOT NULL,"
    " entry_hash BLOB NOT NULL CHECK (length(entry_hash) = 32),"
    " signature BLOB NOT NULL CHECK (length(signature) = 64)"
    ") STRICT;"
    /* One "committed" entry and one outcome per query id. */
    "CREATE UNIQUE INDEX entries_query ON entries (query_id, outcome = 4);";

static const struct tly_sqlog_format translog_format = {
    .noun = "transparency log",
    .wrong_key = "the log was written with another coordinator signing key",
    .schema_sql = schema_sql,
    .meta_table = "log_meta",
    .columns = TLY_TRANSLOG_COLUMNS,
    .application_id = TLY_TRANSLOG_APPLICATION_ID,
    .format_version = TLY_TRANSLOG_FORMAT_VERSION,
    .busy_ms = TLY_TRANSLOG_BUSY_MS,
    .foreign_keys = 0,
};

static tly_err
open_db(struct tly_translog **out, const char *path, const struct tly_sign_key *key, char *why,
        size_t why_len)
{
	struct tly_translog *log = calloc(1, sizeof *log);
	tly_err rv = TLY_ENOMEM;

	if (log == NULL) {
		tly_say(why, why_len, "%s: out of memory", path);
		goto out;
	}
	if ((rv = tly_sqlog_open(&log->db, log->pk, path, &translog_format, key, why, why_len)) !=
	    TLY_OK)
		goto out;
	log->key = key;
	*out = log;
	log = NULL;
out:
	tly_translog_close(log);
	return rv;
}

tly_err
tly_translog_open(struct tly_translog **out, const char *path, const struct tly_sign_key *key,
                  char *why, size_t why_len)
{
	TLY_REQUIRE(out != NULL && path != NULL && key != NULL);
	return open_db(out, path, key, why, why_len);
}

tly_err
tly_translog_open_readonly(struct tly_translog **out, const char *path, char *why, size_t why_len)
{
	TLY_REQUIRE(out != NULL && path != NULL);
	return open_db(out, path, NULL, why, why_len);
}

void
tly_translog_close(struct tly_translog *log)
{
	if (log == NULL)
		return;
	sqlite3_close_v2(log->db);
	tly_merkle_tree_fini(&log->tree);
	free(log);
}

const char *
tly_translog_outcome_name(uint8_t outcome)
{
	static const char *const names[] = {
	    [TLY_TRANSLOG_RELEASED] = "released",
	    [TLY_TRANSLOG_ABORTED] = "aborted",
	    [TLY_TRANSLOG_REFUSED] = "refused",
	    [TLY_TRANSLOG_COMMITTED] = "committed",
	};

	return outcome < sizeof names / sizeof names[0] && names[outcome] != NULL ? names[outcome]
	                                                                          : "?";
}

/* ---- append ---- */

static int
text_ok(const char *text, size_t len, size_t max)
{
	return len <= max && (len == 0 || (text != NULL && memchr(text, '\0', len) == NULL));
}

static int
ids_ok(const struct tly_idlist *list)
{
	if (list->count > TLY_MAX_PARTIES)
		return 0;
	for (uint32_t i = 0; i < list->count; i++)
		if (list->ids[i] < 1 || list->ids[i] > TLY_MAX_PARTY_ID ||
		    (i > 0 && list->ids[i] <= list->ids[i - 1]))
			return 0;
	return 1;
}

static int
disjoint(const struct tly_idlist *a, const struct tly_idlist *b)
{
	for (uint32_t i = 0; i < a->count; i++)
		if (tly_idlist_contains(b, a->ids[i]))
			return 0;
	return 1;
}

/* Receipts decoded, for this query, one per node; sorted[] receives them
 * in node id order. */
struct sorted_receipt {
	uint32_t node_id;
	struct tly_translog_receipt receipt;
};

static int
by_node(const void *a, const void *b)
{
	uint32_t x = ((const struct sorted_receipt *)a)->node_id;
	uint32_t y = ((const struct sorted_receipt *)b)->node_id;
	return (x > y) - (x < y);
}

static tly_err
sort_receipts(const struct tly_translog_record *r, struct sorted_receipt *sorted, char *why,
              size_t why_len)
{
	struct tly_ledger_receipt receipt;

	for (size_t i = 0; i < r->receipt_count; i++) {
		if (r->receipts[i].bytes == NULL ||
		    tly_ledger_receipt_decode(&receipt, r->receipts[i].bytes, r->receipts[i].len) !=
		        TLY_OK)
			return tly_fail(why, why_len, TLY_EINVAL, "receipt %zu is malformed", i);
		if (sodium_memcmp(receipt.query_id, r->query_id, TLY_QUERY_ID_BYTES) != 0 ||
		    sodium_memcmp(receipt.query_hash, r->query_hash, TLY_HASH_BYTES) != 0)
			return tly_fail(why, why_len, TLY_EINVAL,
			                "the receipt of node %" PRIu32 " is for another query",
			                receipt.node_id);
		sorted[i].node_id = receipt.node_id;
		sorted[i].receipt = r->receipts[i];
	}
	qsort(sorted, r->receipt_count, sizeof *sorted, by_node);
	for (size_t i = 1; i < r->receipt_count; i++)
		if (sorted[i].node_id == sorted[i - 1].node_id)
			return tly_fail(why, why_len, TLY_EINVAL, "two receipts from node %" PRIu32,
			                sorted[i].node_id);
	return TLY_OK;
}

/* The record's own rules, before anything is written. */
static tly_err
check_record(const struct tly_translog_record *r, char *why, size_t why_len)
{
	static const struct tly_idlist none = {0, NULL};
	const struct tly_idlist *contributors = r->contributors ? r->contributors : &none;
	const struct tly_idlist *dropped = r->dropped ? r->dropped : &none;
	size_t reason_len = r->reason != NULL ? strlen(r->reason) : 0;
	uint8_t hash[TLY_HASH_BYTES];
	int released = r->outcome == TLY_TRANSLOG_RELEASED;

	if (r->outcome < TLY_TRANSLOG_RELEASED || r->outcome > TLY_TRANSLOG_COMMITTED)
		return tly_fail(why, why_len, TLY_EINVAL, "unknown outcome %u", r->outcome);
	if (r->outcome == TLY_TRANSLOG_COMMITTED &&
	    (r->receipt_count > 0 || (r->contributors != NULL && r->contributors->count > 0) ||
	     (r->dropped != NULL && r->dropped->count > 0)))
		return tly_fail(
		    why, why_len, TLY_EINVAL,
		    "a committed query has no contributors, dropped nodes or receipts yet");
	if (reason_len > TLY_TRANSLOG_REASON_MAX)
		return tly_fail(why, why_len, TLY_EINVAL, "reason longer than %d bytes",
		                TLY_TRANSLOG_REASON_MAX);
	if (!text_ok(r->spec_json, r->spec_len, TLY_SPEC_JSON_MAX) ||
	    (r->spec_len == 0 && r->outcome != TLY_TRANSLOG_REFUSED))
		return tly_fail(why, why_len, TLY_EINVAL,
		                "the canonical query is missing, too long or holds a NUL byte");
	if (!text_ok(r->release_json, r->release_len, TLY_TRANSLOG_RELEASE_MAX) ||
	    (r->release_len > 0) != released)
		return tly_fail(why, why_len, TLY_EINVAL,
		                "a release is logged exactly for a released query, within %d bytes",
		                TLY_TRANSLOG_RELEASE_MAX);
	if (r->spec_len > 0) {
		tly_hash(hash, "tally/query/v1", (const uint8_t *)r->spec_json, r->spec_len);
		if (sodium_memcmp(hash, r->query_hash, sizeof hash) != 0)
			return tly_fail(why, why_len, TLY_EINVAL,
			                "query_hash is not the hash of the canonical query");
	}
	if (!ids_ok(contributors) || !ids_ok(dropped) || !disjoint(contributors, dropped))
		return tly_fail(
		    why, why_len, TLY_EINVAL,
		    "contributor and dropped lists must be increasing, disjoint node ids");
	if (released && contributors->count == 0)
		return tly_fail(why, why_len, TLY_EINVAL, "a release without contributors");
	if (r->receipt_count > TLY_MAX_PARTIES || (r->receipt_count > 0 && r->receipts == NULL))
		return tly_fail(why, why_len, TLY_EINVAL, "too many receipts");
	return TLY_OK;
}

/* Next seq and prev_hash, and whether the query id is in the log where
 * this entry may not follow it: a "committed" entry comes first, and one
 * outcome at most after it. */
static tly_err
load_head(struct tly_translog *log, struct tly_translog_entry *e, int *seen)
{
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;

	if (sqlite3_prepare_v2(log->db,
	                       "SELECT count(*) FROM entries WHERE query_id = ? AND"
	                       " (outcome <> 4 OR ? = 4)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 1, e->query_id, TLY_QUERY_ID_BYTES, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 2, e->outcome) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto out;
	*seen = sqlite3_column_int64(st, 0) > 0;
	rv = tly_sqlog_head(log->db, &e->seq, e->prev_hash);
out:
	sqlite3_finalize(st);
	return rv;
}

/* Hash, sign and insert (inside the caller's transaction). */
static tly_err
insert(struct tly_translog *log, const struct tly_translog_entry *e)
{
	uint8_t hash[TLY_HASH_BYTES], signature[TLY_SIGN_BYTES];
	struct tly_buf bytes;
	tly_err rv;

	tly_buf_init(&bytes);
	if ((rv = tly_translog_entry_encode(e, &bytes)) != TLY_OK)
		goto out;
	tly_translog_hash(hash, bytes.data, bytes.len);
	tly_log_leaf_hash(log->pending_leaf, e->seq, e->outcome, e->query_id, e->query_hash, hash);
	memcpy(log->pending_entry_hash, hash, sizeof hash);
	if ((rv = tly_sign(signature, log->key, hash, sizeof hash)) != TLY_OK)
		goto out;
	const struct tly_sqlog_value row[TLY_TRANSLOG_COLUMN_COUNT] = {
	    tly_sqlog_int(e->seq),
	    tly_sqlog_int(e->time),
	    tly_sqlog_blob(e->query_id, TLY_QUERY_ID_BYTES),
	    tly_sqlog_int(e->outcome),
	    tly_sqlog_blob(bytes.data, bytes.len),
	    tly_sqlog_blob(hash, sizeof hash),
	    tly_sqlog_blob(signature, sizeof signature),
	};
	rv = tly_sqlog_insert(
	    log->db, "INSERT INTO entries (" TLY_TRANSLOG_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?)",
	    row, TLY_TRANSLOG_COLUMN_COUNT);
out:
	tly_buf_fini(&bytes);
	return rv;
}

/* The entry's fields from the record; receipts from sorted. */
static void
fill(struct tly_translog_entry *e, const struct tly_translog_record *r,
     struct tly_translog_receipt *receipts, const struct sorted_receipt *sorted)
{
	time_t now = time(NULL);

	memset(e, 0, sizeof *e);
	e->time = now > 0 ? (uint64_t)now : 0;
	memcpy(e->query_id, r->query_id, sizeof e->query_id);
	memcpy(e->query_hash, r->query_hash, sizeof e->query_hash);
	e->protocol = r->protocol;
	e->threshold = r->threshold;
	e->degree = r->degree;
	e->outcome = r->outcome;
	e->reason = r->reason != NULL ? r->reason : "";
	e->reason_len = strlen(e->reason);
	e->spec = r->spec_json;
	e->spec_len = r->spec_len;
	e->release = r->release_json;
	e->release_len = r->release_len;
	if (r->contributors != NULL)
		e->contributors = *r->contributors;
	if (r->dropped != NULL)
		e->dropped = *r->dropped;
	for (size_t i = 0; i < r->receipt_count; i++)
		receipts[i] = sorted[i].receipt;
	e->receipts = receipts;
	e->receipt_count = r->receipt_count;
}

tly_err
tly_translog_append(struct tly_translog *log, const struct tly_translog_record *record,
                    uint64_t *seq, char *why, size_t why_len)
{
	struct tly_translog_entry e;
	struct sorted_receipt *sorted = NULL;
	struct tly_translog_receipt *receipts = NULL;
	int in_transaction = 0, seen = 0;
	size_t n;
	tly_err rv;

	TLY_REQUIRE(log != NULL && log->key != NULL && record != NULL);
	TLY_REQUIRE(why != NULL || why_len == 0);
	if (why_len > 0)
		why[0] = '\0';
	if ((rv = check_record(record, why, why_len)) != TLY_OK)
		return rv;
	n = record->receipt_count > 0 ? record->receipt_count : 1;
	rv = TLY_ENOMEM;
	if ((sorted = calloc(n, sizeof *sorted)) == NULL ||
	    (receipts = calloc(n, sizeof *receipts)) == NULL)
		goto out;
	if ((rv = sort_receipts(record, sorted, why, why_len)) != TLY_OK)
		goto out;
	fill(&e, record, receipts, sorted);
	rv = TLY_EIO;
	if (tly_sqlog_exec(log->db, "BEGIN IMMEDIATE") != SQLITE_OK)
		goto out;
	in_transaction = 1;
	if ((rv = load_head(log, &e, &seen)) != TLY_OK)
		goto out;
	if (seen) {
		rv = tly_fail(why, why_len, TLY_EREPLAY, "the query is already in the log");
		goto out;
	}
	if ((rv = insert(log, &e)) != TLY_OK)
		goto out;
	rv = TLY_EIO;
	/* synchronous = FULL in WAL mode: the commit returns after the WAL
	 * is fsynced. */
	if (tly_sqlog_exec(log->db, "COMMIT") != SQLITE_OK)
		goto out;
	in_transaction = 0;
	tly_translog_leaf_added(log, e.seq);
	if (seq != NULL)
		*seq = e.seq;
	rv = TLY_OK;
out:
	if (rv != TLY_OK && why_len > 0 && why[0] == '\0')
		snprintf(why, why_len, "cannot append to the transparency log (%s: %s)",
		         tly_strerror(rv), sqlite3_errmsg(log->db));
	if (in_transaction)
		tly_sqlog_exec(log->db, "ROLLBACK");
	free(receipts);
	free(sorted);
	return rv;
}
