/*
 * head.h - signed tree heads of the coordinator's transparency log, and
 * the log commitment a QUERY carries (docs/PROTOCOL.md section 5.4).
 *
 * A signed tree head (TLY_HEAD_BYTES = 105, integers big-endian):
 *
 *   version    u8   1
 *   size       u64  leaves (log entries) the head covers, >= 1
 *   root       32   MTH of the first `size` entries (store/merkle.h: leaf =
 *                   the entry's bytes)
 *   signature  64   Ed25519 by the coordinator over
 *                   "tally/tree-head/v1" || size u64 || root
 *
 * A log commitment (the QUERY's trailing section, at most
 * TLY_COMMIT_MAX_BYTES):
 *
 *   version          u8   1
 *   head             105  the signed head that includes the query
 *   leaf_index       u64  the query's "committed" entry: seq - 1, < size
 *   entry_hash       32   that entry's hash (coordinator/translog.h), so
 *                         that the node can rebuild its leaf (below)
 *   inclusion_count  u8   0..64, then inclusion[count][32]: the audit path
 *                         of leaf_index in the head's tree
 *   consistency_count u8  0..TLY_COMMIT_CONSISTENCY_MAX, then per proof:
 *     from_size      u64  1 <= from_size < size, strictly increasing
 *     count          u8   1..64, then hashes[count][32]: the consistency
 *                         proof from the tree of from_size entries
 *
 * A log leaf (TLY_LOG_LEAF_BYTES = 90): what the Merkle tree commits to
 * for each log entry, short enough for a node to rebuild from a QUERY:
 *
 *   version 1 u8, seq u64, outcome u8 (4 = committed), query_id[16],
 *   query_hash[32], entry_hash[32]
 *
 * Decoders take exact lengths, refuse another version, counts over their
 * caps, sizes out of order or out of range, and trailing bytes. Pure: no
 * I/O; thread-safe.
 */
#ifndef TLY_STORE_HEAD_H
#define TLY_STORE_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/sign.h"
#include "wire/messages.h"
#include "store/merkle.h"

enum {
	TLY_HEAD_VERSION = 1,
	TLY_HEAD_BYTES = 1 + 8 + TLY_MERKLE_HASH_BYTES + TLY_SIGN_BYTES,
	TLY_COMMIT_VERSION = 1,
	TLY_LOG_LEAF_VERSION = 1,
	TLY_LOG_LEAF_BYTES = 1 + 8 + 1 + 16 + 32 + 32,
	TLY_LOG_OUTCOME_COMMITTED = 4, /* = TLY_TRANSLOG_COMMITTED */
	TLY_COMMIT_CONSISTENCY_MAX = 32,
	TLY_COMMIT_PROOF_BYTES = 1 + TLY_MERKLE_PROOF_MAX * TLY_MERKLE_HASH_BYTES,
	TLY_COMMIT_MAX_BYTES = 1 + TLY_HEAD_BYTES + 8 + 32 + TLY_COMMIT_PROOF_BYTES + 1 +
	                       TLY_COMMIT_CONSISTENCY_MAX * (8 + TLY_COMMIT_PROOF_BYTES),
};

/* The start of a node's refusal when a QUERY carries no consistency proof
 * from the head the node holds, followed by that head's size and ")". The
 * coordinator reads the size as a hint (never trusted: a wrong one only
 * gives a proof the node refuses again) and proves from it in the next
 * QUERY it sends that node: a node that fell more than the recent heads
 * behind, and a coordinator restarted without the sizes it had sent, find
 * their way back. */
#define TLY_REFUSAL_NO_PROOF "no consistency proof from the log head this node holds (size "

_Static_assert(TLY_HEAD_BYTES == 105, "tree head layout");
_Static_assert((int)TLY_COMMIT_MAX_BYTES <= (int)TLY_QUERY_LOG_MAX, "a commitment fits the QUERY");

struct tly_tree_head {
	uint64_t size;
	uint8_t root[TLY_MERKLE_HASH_BYTES];
	uint8_t signature[TLY_SIGN_BYTES];
};

struct tly_merkle_proof {
	size_t count;
	uint8_t hashes[TLY_MERKLE_PROOF_MAX][TLY_MERKLE_HASH_BYTES];
};

struct tly_log_commit {
	struct tly_tree_head head;
	uint64_t leaf_index;
	uint8_t entry_hash[32];
	struct tly_merkle_proof inclusion;
	size_t consistency_count;
	uint64_t from_size[TLY_COMMIT_CONSISTENCY_MAX];
	struct tly_merkle_proof consistency[TLY_COMMIT_CONSISTENCY_MAX];
};

/* Sign head->size and head->root with the coordinator's key into
 * head->signature. TLY_EINVAL for size 0; TLY_ECRYPTO. */
TLY_MUST tly_err tly_head_sign(struct tly_tree_head *head, const struct tly_sign_key *key);
/* TLY_OK when the signature verifies under pk, else TLY_EAUTH. */
TLY_MUST tly_err tly_head_verify(const struct tly_tree_head *head,
                                 const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES]);

void tly_head_encode(uint8_t out[static TLY_HEAD_BYTES], const struct tly_tree_head *head);
/* Exactly TLY_HEAD_BYTES; version 1; size >= 1. TLY_EFORMAT. */
TLY_MUST tly_err tly_head_decode(struct tly_tree_head *out, const uint8_t *bytes, size_t len);

/* Whether two heads are the same (size, root and signature). */
int tly_head_equal(const struct tly_tree_head *a, const struct tly_tree_head *b);

/* Encode into out[0..*len) (out holds TLY_COMMIT_MAX_BYTES). TLY_EINVAL
 * when c breaks a rule the decoder enforces. */
TLY_MUST tly_err tly_log_commit_encode(uint8_t *out, size_t *len, const struct tly_log_commit *c);
/* Parse exactly len bytes (rules above). TLY_EFORMAT; *out is written only
 * on success. */
TLY_MUST tly_err tly_log_commit_decode(struct tly_log_commit *out, const uint8_t *bytes,
                                       size_t len);

/* The Merkle leaf hash of log entry seq (layout above). */
void tly_log_leaf_hash(uint8_t out[static TLY_MERKLE_HASH_BYTES], uint64_t seq, uint8_t outcome,
                       const uint8_t query_id[static 16], const uint8_t query_hash[static 32],
                       const uint8_t entry_hash[static 32]);

/* The consistency proof from from_size, or NULL when c has none. */
const struct tly_merkle_proof *tly_log_commit_consistency(const struct tly_log_commit *c,
                                                          uint64_t from_size);

#endif
