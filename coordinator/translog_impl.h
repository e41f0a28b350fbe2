/*
 * translog_impl.h - what the transparency log's files share (translog.c:
 * file and append; translog_entry.c: canonical bytes; translog_audit.c:
 * verify; translog_show.c: show, releases, find). Nothing outside
 * coordinator/translog* includes it.
 */
#ifndef TLY_COORDINATOR_TRANSLOG_IMPL_H
#define TLY_COORDINATOR_TRANSLOG_IMPL_H

#include <sqlite3.h>

#include "wire/buf.h"
#include "query/spec.h"
#include "store/merkle.h"
#include "translog.h"

struct tly_translog {
	sqlite3 *db;
	const struct tly_sign_key *key;    /* borrowed; NULL for a read-only handle */
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES]; /* recorded in the file */
	/* The Merkle tree of entries 1..tree.size (translog_commit.c), loaded
	 * on first use (tree_loaded) and extended by each append. */
	struct tly_merkle_tree tree;
	int tree_loaded;
	uint8_t pending_leaf[TLY_MERKLE_HASH_BYTES]; /* of the entry being inserted */
	uint8_t pending_entry_hash[TLY_HASH_BYTES];  /* its entry_hash */
};

/* After entry seq is committed: extend the cached leaves with
 * pending_leaf, or drop the cache when it does not end at seq - 1 (another
 * writer; it is reloaded on next use). */
void tly_translog_leaf_added(struct tly_translog *log, uint64_t seq);

/* The columns of table `entries`, in the order of SELECTs and INSERTs. */
#define TLY_TRANSLOG_COLUMNS "seq, time, query_id, outcome, bytes, entry_hash, signature"
enum { TLY_TRANSLOG_COLUMN_COUNT = 7 };

/* One entry (layout in translog.h). Text and receipts point into the bytes
 * it was decoded from (or the caller's memory when encoding); the id lists
 * and the receipt array are malloc'd by decode (tly_translog_entry_fini). */
struct tly_translog_entry {
	uint64_t seq;
	uint64_t time;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	uint8_t query_hash[TLY_HASH_BYTES];
	uint8_t protocol;
	uint16_t threshold;
	uint16_t degree;
	uint8_t outcome;
	const char *reason;
	size_t reason_len;
	const char *spec;
	size_t spec_len;
	const char *release;
	size_t release_len;
	struct tly_idlist contributors;
	struct tly_idlist dropped;
	size_t receipt_count;
	struct tly_translog_receipt *receipts;
	uint8_t prev_hash[TLY_HASH_BYTES];
};

/* The entry bytes, appended to out. TLY_EINVAL when a length or count is
 * outside its range (nothing undecodable is written). */
TLY_MUST tly_err tly_translog_entry_encode(const struct tly_translog_entry *e, struct tly_buf *out);

/* Parse exactly len bytes (borrowed: e points into them). TLY_EFORMAT with
 * why for a wrong version, a length over its cap, text holding a NUL byte,
 * an id list not strictly increasing or outside 1..TLY_MAX_PARTY_ID, a
 * receipt length outside the receipt layout's range, or trailing bytes.
 * TLY_ENOMEM. On failure e is left empty. */
TLY_MUST tly_err tly_translog_entry_decode(struct tly_translog_entry *e, const uint8_t *bytes,
                                           size_t len, char *why, size_t why_len);

/* Frees what decode allocated; accepts a zeroed entry. */
void tly_translog_entry_fini(struct tly_translog_entry *e);

/* tly_hash("tally/translog/v1", bytes). */
void tly_translog_hash(uint8_t out[static TLY_HASH_BYTES], const uint8_t *bytes, size_t len);

/* What verification and listings need from a canonical spec. */
struct tly_translog_spec_summary {
	char dataset[TLY_SPEC_NAME_MAX + 1];
	char measure[16];
	uint8_t mechanism;                 /* TLY_MECH_LAPLACE or TLY_MECH_SKELLAM */
	uint64_t privacy_num, privacy_den; /* as the canonical "num/den" */
};

/* Read dataset, measure and privacy from canonical spec JSON (only those;
 * the catalogue is not needed). TLY_EFORMAT. */
TLY_MUST tly_err tly_translog_spec_summary(const char *spec, size_t len,
                                           struct tly_translog_spec_summary *out);

/* "2026-11-29T16:59:33Z", or "@seconds" when out of range. */

#endif
