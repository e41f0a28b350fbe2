/* The transparency-log heads in the ledgers, against the log
 * (audit_heads.h). */
#include "cli/audit_heads.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/ledger_heads.h"
#include "wire/codec.h"
#include "store/keys.h"
#include "store/head.h"

void
tly_audit_heads_fini(struct tly_audit_heads *heads)
{
	free(heads->seen);
	tly_merkle_tree_fini(&heads->tree);
	memset(heads, 0, sizeof *heads);
}

struct context {
	const char *path;
	uint32_t node_id;
	FILE *out;
	char *reason;
	size_t reason_len;
};

static tly_err
fail(const struct context *c, const struct tly_ledger_head *h, const char *fmt, ...)
{
	char detail[320], qid[2 * TLY_QUERY_ID_BYTES + 1], root[2 * 32 + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	tly_hex(qid, h->query_id, TLY_QUERY_ID_BYTES);
	tly_hex(root, h->head.root, 8);
	snprintf(c->reason, c->reason_len,
	         "node %" PRIu32 ", query %s, log head of size %" PRIu64 " (root %s...): %s",
	         c->node_id, qid, h->head.size, root, detail);
	fprintf(c->out, "ledger %s (node %" PRIu32 "): FAILED: %s\n", c->path, c->node_id,
	        c->reason);
	return TLY_EAUTH;
}

/* The seq of the log's committed entry for this query id; 0 for none. */
static uint64_t
committed_in_log(const struct tly_translog_report *log, const uint8_t query_id[16])
{
	for (size_t i = 0; i < log->query_ref_count; i++)
		if (memcmp(log->query_refs[i].query_id, query_id, TLY_QUERY_ID_BYTES) == 0)
			return log->query_refs[i].committed_seq;
	return 0;
}

/* One head: signature, size, root, and the heads of other ledgers. */
static tly_err
check_one(const struct context *c, struct tly_audit_heads *heads, const struct tly_ledger_head *h,
          const struct tly_roster *roster, const struct tly_translog_report *log)
{
	uint8_t root[TLY_MERKLE_HASH_BYTES];

	if (tly_head_verify(&h->head, roster->coordinator_pk) != TLY_OK)
		return fail(c, h, "not signed by the registry's coordinator key");
	for (size_t i = 0; i < heads->count; i++) {
		const struct tly_audit_head_seen *s = &heads->seen[i];
		if (s->size == h->head.size && sodium_memcmp(s->root, h->head.root, 32) != 0)
			return fail(c, h,
			            "fork: node %" PRIu32 " holds another head of the same size",
			            s->node_id);
	}
	if (h->head.size > log->entries)
		return fail(c, h,
		            "the log has only %" PRIu64 " entries that verify: it was truncated "
		            "(or the head was never the log's)",
		            log->entries);
	if (!heads->built) {
		tly_merkle_tree_init(&heads->tree);
		for (uint64_t i = 0; i < log->entries; i++)
			if (tly_merkle_tree_append(
			        &heads->tree, log->leaves + i * TLY_MERKLE_HASH_BYTES) != TLY_OK)
				return TLY_ENOMEM;
		heads->built = 1;
	}
	tly_merkle_tree_root(&heads->tree, h->head.size, root);
	if (sodium_memcmp(root, h->head.root, sizeof root) != 0)
		return fail(c, h,
		            "fork: the log's first %" PRIu64 " entries have another root (the log "
		            "was rewritten, or the node was shown another log)",
		            h->head.size);
	uint64_t committed = committed_in_log(log, h->query_id);
	if (committed == 0)
		return fail(c, h,
		            "the query is not committed in the log (a query outside the log)");
	if (h->head.size < committed)
		return fail(c, h,
		            "the head does not include the query's committed entry (%" PRIu64 ")",
		            committed);
	struct tly_audit_head_seen *grown =
	    realloc(heads->seen, (heads->count + 1) * sizeof *grown);
	if (grown == NULL)
		return TLY_ENOMEM;
	heads->seen = grown;
	grown[heads->count++] =
	    (struct tly_audit_head_seen){.size = h->head.size, .node_id = c->node_id};
	memcpy(grown[heads->count - 1].root, h->head.root, 32);
	memcpy(grown[heads->count - 1].query_id, h->query_id, TLY_QUERY_ID_BYTES);
	return TLY_OK;
}

/* The heads in the signed entries (ledger v3): each entry's head is the
 * one the node verified for that entry's query. Entries without a head
 * (size 0) were written through the ledger API by a caller that verified
 * none; tally-node never writes one. */
static tly_err
check_entry_heads(const struct context *c, struct tly_audit_heads *heads, struct tly_ledger *ledger,
                  uint64_t entries, const struct tly_roster *roster,
                  const struct tly_translog_report *log)
{
	struct tly_ledger_entry e;
	struct tly_ledger_head h;
	tly_err rv = TLY_OK;

	for (uint64_t seq = 1; seq <= entries && rv == TLY_OK; seq++) {
		if ((rv = tly_ledger_entry_get(ledger, seq, &e)) != TLY_OK) {
			snprintf(c->reason, c->reason_len,
			         "ledger entry %" PRIu64 " cannot be read: %s", seq,
			         tly_strerror(rv));
			return rv;
		}
		if (e.log_head.size == 0)
			continue;
		memset(&h, 0, sizeof h);
		h.head.size = e.log_head.size;
		memcpy(h.head.root, e.log_head.root, sizeof h.head.root);
		memcpy(h.head.signature, e.log_head.signature, sizeof h.head.signature);
		memcpy(h.query_id, e.query_id, sizeof h.query_id);
		h.time = e.time;
		rv = check_one(c, heads, &h, roster, log);
	}
	return rv;
}

tly_err
tly_audit_check_heads(struct tly_audit_heads *heads, struct tly_ledger *ledger, const char *path,
                      uint32_t node_id, uint64_t entries, const struct tly_roster *roster,
                      const struct tly_translog_report *log, FILE *out, char *reason,
                      size_t reason_len)
{
	struct context c = {path, node_id, out, reason, reason_len};
	struct tly_ledger_head *held = NULL;
	size_t count = 0;
	tly_err rv = tly_ledger_heads(ledger, &held, &count);

	if (rv != TLY_OK) {
		snprintf(reason, reason_len, "its log heads cannot be read: %s", tly_strerror(rv));
		return rv;
	}
	for (size_t i = 0; i < count && rv == TLY_OK; i++)
		rv = check_one(&c, heads, &held[i], roster, log);
	free(held);
	if (rv == TLY_OK)
		rv = check_entry_heads(&c, heads, ledger, entries, roster, log);
	return rv;
}

size_t
tly_audit_note_unfinished(const struct tly_translog_report *log, const char *path, FILE *out)
{
	char qid[2 * TLY_QUERY_ID_BYTES + 1];
	size_t n = 0;

	for (size_t i = 0; i < log->query_ref_count; i++) {
		const struct tly_translog_query_ref *q = &log->query_refs[i];
		if (q->committed_seq == 0 || q->outcome != 0)
			continue;
		tly_hex(qid, q->query_id, TLY_QUERY_ID_BYTES);
		fprintf(out,
		        "log %s: note: query %s was committed (entry %" PRIu64
		        ") and has no outcome: committed, no release (the coordinator stopped "
		        "before it logged how the query ended)\n",
		        path, qid, q->committed_seq);
		n++;
	}
	return n;
}
