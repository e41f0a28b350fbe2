/* The transparency log's Merkle tree (RFC 9162, store/merkle.h): the leaf
 * hashes of its entries, and the commitment of a query before it is sent
 * (signed head, inclusion and consistency proofs). See translog.h. */
#include "translog_impl.h"

#include <stdlib.h>
#include <string.h>

#include "store/head.h"

/* Where query_hash sits in the entry bytes (translog.h): after version
 * u8, seq u64, time u64 and query_id. */
enum { QUERY_HASH_AT = 1 + 8 + 8 + TLY_QUERY_ID_BYTES };
_Static_assert(QUERY_HASH_AT == 33, "translog entry layout");

#define HASH TLY_MERKLE_HASH_BYTES

static void
drop_tree(struct tly_translog *log)
{
	tly_merkle_tree_fini(&log->tree);
	log->tree_loaded = 0;
}

void
tly_translog_leaf_added(struct tly_translog *log, uint64_t seq)
{
	if (!log->tree_loaded)
		return;
	if (log->tree.size + 1 != seq ||
	    tly_merkle_tree_append(&log->tree, log->pending_leaf) != TLY_OK)
		drop_tree(log);
}

/* Read every entry, in seq order, into the tree. */
static tly_err
load_tree(struct tly_translog *log)
{
	sqlite3_stmt *st = NULL;
	uint8_t leaf[HASH];
	tly_err rv = TLY_EIO;
	int rc;

	drop_tree(log);
	tly_merkle_tree_init(&log->tree);
	if (sqlite3_prepare_v2(log->db,
	                       "SELECT seq, outcome, query_id, bytes, entry_hash FROM entries"
	                       " ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *bytes = sqlite3_column_blob(st, 3);
		if ((uint64_t)sqlite3_column_int64(st, 0) != log->tree.size + 1 ||
		    sqlite3_column_bytes(st, 2) != TLY_QUERY_ID_BYTES ||
		    sqlite3_column_bytes(st, 3) < QUERY_HASH_AT + TLY_HASH_BYTES ||
		    sqlite3_column_bytes(st, 4) != TLY_HASH_BYTES) {
			rv = TLY_EFORMAT;
			goto out;
		}
		tly_log_leaf_hash(leaf, log->tree.size + 1, (uint8_t)sqlite3_column_int(st, 1),
		                  sqlite3_column_blob(st, 2), bytes + QUERY_HASH_AT,
		                  sqlite3_column_blob(st, 4));
		if ((rv = tly_merkle_tree_append(&log->tree, leaf)) != TLY_OK)
			goto out;
	}
	rv = rc == SQLITE_DONE ? TLY_OK : TLY_EIO;
out:
	sqlite3_finalize(st);
	if (rv == TLY_OK)
		log->tree_loaded = 1;
	else
		drop_tree(log);
	return rv;
}

tly_err
tly_translog_recent_heads(struct tly_translog *log, uint64_t *sizes, size_t max, size_t *count)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int rc = SQLITE_ERROR;

	if (sqlite3_prepare_v2(
	        log->db, "SELECT seq FROM entries WHERE outcome = 4 ORDER BY seq DESC LIMIT ?", -1,
	        &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, (sqlite3_int64)max) == SQLITE_OK)
		while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max)
			sizes[n++] = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return TLY_EIO;
	*count = n;
	return TLY_OK;
}

static int
ascending(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The consistency proofs from the distinct sizes in 1..size-1, the largest
 * TLY_COMMIT_CONSISTENCY_MAX of them, increasing. */
static tly_err
add_consistency(const struct tly_translog *log, const uint64_t *from_sizes, size_t from_count,
                struct tly_log_commit *c)
{
	uint64_t *sorted = malloc((from_count > 0 ? from_count : 1) * sizeof *sorted);
	size_t kept = 0;

	if (sorted == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i < from_count; i++)
		if (from_sizes[i] >= 1 && from_sizes[i] < c->head.size)
			sorted[kept++] = from_sizes[i];
	qsort(sorted, kept, sizeof *sorted, ascending);
	size_t distinct = 0;
	for (size_t i = 0; i < kept; i++)
		if (distinct == 0 || sorted[distinct - 1] != sorted[i])
			sorted[distinct++] = sorted[i];
	size_t first =
	    distinct > TLY_COMMIT_CONSISTENCY_MAX ? distinct - TLY_COMMIT_CONSISTENCY_MAX : 0;
	tly_err rv = TLY_OK;
	c->consistency_count = 0;
	for (size_t i = first; i < distinct && rv == TLY_OK; i++) {
		struct tly_merkle_proof *p = &c->consistency[c->consistency_count];
		rv = tly_merkle_tree_consistency(&log->tree, p->hashes, &p->count, sorted[i],
		                                 c->head.size);
		c->from_size[c->consistency_count++] = sorted[i];
	}
	free(sorted);
	return rv;
}

tly_err
tly_translog_commit(struct tly_translog *log, const struct tly_translog_record *record,
                    const uint64_t *from_sizes, size_t from_count, struct tly_log_commit *out,
                    char *why, size_t why_len)
{
	struct tly_log_commit *c = NULL;
	uint64_t seq;
	tly_err rv;

	TLY_REQUIRE(log != NULL && record != NULL && out != NULL);
	TLY_REQUIRE(record->outcome == TLY_TRANSLOG_COMMITTED);
	if ((rv = tly_translog_append(log, record, &seq, why, why_len)) != TLY_OK)
		return rv;
	if ((!log->tree_loaded || log->tree.size != seq) && (rv = load_tree(log)) != TLY_OK)
		goto out;
	rv = TLY_EIO;
	if (log->tree.size != seq)
		goto out;
	rv = TLY_ENOMEM;
	if ((c = calloc(1, sizeof *c)) == NULL)
		goto out;
	c->head.size = seq;
	tly_merkle_tree_root(&log->tree, seq, c->head.root);
	c->leaf_index = seq - 1;
	memcpy(c->entry_hash, log->pending_entry_hash, TLY_HASH_BYTES);
	if ((rv = tly_merkle_tree_inclusion(&log->tree, c->inclusion.hashes, &c->inclusion.count,
	                                    seq, seq - 1)) != TLY_OK ||
	    (rv = add_consistency(log, from_sizes, from_count, c)) != TLY_OK)
		goto out;
	if (tly_head_sign(&c->head, log->key) != TLY_OK) {
		rv = TLY_ECRYPTO;
		goto out;
	}
	memcpy(out, c, sizeof *c);
out:
	if (rv != TLY_OK && why_len > 0)
		snprintf(why, why_len, "the query is logged, but its log head cannot be built (%s)",
		         tly_strerror(rv));
	free(c);
	return rv;
}
