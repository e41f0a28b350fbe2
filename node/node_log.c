/* Steps 1 to 5 of node_log.h: the QUERY's log commitment. */
#include "node/node_log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/ledger_heads.h"
#include "store/head.h"

static tly_err
refuse(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (why_len == 0)
		return TLY_EAUTH;
	n = snprintf(why, why_len, "refused, nothing charged: ");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < why_len)
		vsnprintf(why + n, why_len - (size_t)n, fmt, ap);
	va_end(ap);
	return TLY_EAUTH;
}

/* Step 4: the new head against the newest one held. */
static tly_err
check_held(struct tly_node *node, const struct tly_log_commit *c, char *why, size_t why_len)
{
	struct tly_ledger_head held;
	int found = 0;
	tly_err rv = tly_ledger_head_newest(node->ledger, &held, &found);

	if (rv != TLY_OK)
		return rv;
	if (!found)
		return TLY_OK;
	uint64_t m = held.head.size, n = c->head.size;
	if (n < m)
		return refuse(why, why_len,
		              "rollback: the log head (size %" PRIu64 ") is older than the head "
		              "this node holds (size %" PRIu64 ")",
		              n, m);
	if (n == m)
		return sodium_memcmp(held.head.root, c->head.root, TLY_MERKLE_HASH_BYTES) == 0
		           ? TLY_OK
		           : refuse(why, why_len,
		                    "fork: a log head of size %" PRIu64 " with another root than "
		                    "the one this node holds",
		                    n);
	const struct tly_merkle_proof *p = tly_log_commit_consistency(c, m);
	if (p == NULL)
		return refuse(why, why_len,
		              TLY_REFUSAL_NO_PROOF "%" PRIu64 ") to the new one (size %" PRIu64 ")",
		              m, n);
	if (tly_merkle_verify_consistency(m, n, held.head.root, c->head.root, p->hashes[0],
	                                  p->count) != TLY_OK)
		return refuse(why, why_len,
		              "fork: the log head of size %" PRIu64 " does not extend the head of "
		              "size %" PRIu64 " this node holds",
		              n, m);
	return TLY_OK;
}

tly_err
tly_node_check_log(struct tly_node *node, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                   const struct tly_query *q, struct tly_log_head_field *verified, char *why,
                   size_t why_len)
{
	struct tly_log_commit *c = NULL;
	uint8_t leaf[TLY_MERKLE_HASH_BYTES];
	tly_err rv;

	if (q->log_commit_len == 0)
		return refuse(why, why_len,
		              "the QUERY carries no transparency log commitment (a query outside "
		              "the log)");
	if ((c = malloc(sizeof *c)) == NULL)
		return TLY_ENOMEM;
	if (tly_log_commit_decode(c, q->log_commit, q->log_commit_len) != TLY_OK) {
		rv = refuse(why, why_len, "the QUERY's log commitment does not decode");
		goto out;
	}
	if (tly_head_verify(&c->head, node->roster.coordinator_pk) != TLY_OK) {
		rv =
		    refuse(why, why_len,
		           "the log head (size %" PRIu64 ") is not signed by the coordinator's key",
		           c->head.size);
		goto out;
	}
	tly_log_leaf_hash(leaf, c->leaf_index + 1, TLY_LOG_OUTCOME_COMMITTED, query_id,
	                  q->query_hash, c->entry_hash);
	if (tly_merkle_verify_inclusion(leaf, c->leaf_index, c->head.size, c->inclusion.hashes[0],
	                                c->inclusion.count, c->head.root) != TLY_OK) {
		rv = refuse(why, why_len,
		            "the log head (size %" PRIu64 ") does not include this query's "
		            "committed entry (a query outside the log)",
		            c->head.size);
		goto out;
	}
	if ((rv = check_held(node, c, why, why_len)) != TLY_OK)
		goto out;
	rv = tly_ledger_head_record(node->ledger, &c->head, query_id);
	if (rv == TLY_EAUTH)
		rv =
		    refuse(why, why_len, "fork: the ledger holds another log head of size %" PRIu64,
		           c->head.size);
	else if (rv != TLY_OK && why_len > 0)
		snprintf(why, why_len, "cannot record the log head: %s", tly_strerror(rv));
	if (rv == TLY_OK && verified != NULL) {
		verified->size = c->head.size;
		memcpy(verified->root, c->head.root, sizeof verified->root);
		memcpy(verified->signature, c->head.signature, sizeof verified->signature);
	}
out:
	free(c);
	return rv;
}
