/* Verifying the transparency log: the chain, the coordinator's signatures,
 * each entry's rules, and the node receipts it carries (translog.h). */
#include "translog_impl.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "coordinator/release.h"
#include "query/budget.h"
#include "query/receipt.h" /* receipts: one definition for node and coordinator */
#include "store/keys.h"
#include "store/head.h"
#include "store/sqlog.h"

/* A receipted charge, for the checks across entries. */
struct charge {
	uint64_t seq;     /* the node's ledger entry */
	uint64_t log_seq; /* the log entry that carried it */
	char population[TLY_SPEC_NAME_MAX + 1];
	uint8_t mechanism;
	struct tly_fraction amount;
	struct tly_budget_spent spent; /* the population's totals */
};

/* One node's receipted charges, sorted by ledger seq. */
struct history {
	uint32_t node_id;
	size_t count, cap;
	struct charge *charges;
};

struct walk {
	const struct tly_roster *registry;
	struct tly_translog_report *report;
	sqlite3_stmt *earlier; /* seq of an earlier entry with this query id */
	uint8_t prev_hash[TLY_HASH_BYTES];
	struct history *nodes;
	size_t node_count;
	uint64_t seq;                /* the entry being checked */
	struct tly_merkle_tree tree; /* entries 1..seq - 1, for receipts' heads */
	int chain_only;              /* seals and links only (tly_translog_verify_chain) */
	/* The last log head whose signature verified: the receipts of one
	 * query mostly carry the same head, checked once. */
	struct tly_tree_head head_ok;
	int have_head_ok;
};

static tly_err
bad(struct walk *w, const char *fmt, ...)
{
	char detail[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	w->report->bad_seq = w->seq;
	snprintf(w->report->reason, sizeof w->report->reason, "entry %" PRIu64 ": %s", w->seq,
	         detail);
	return TLY_EAUTH;
}

void
tly_translog_report_fini(struct tly_translog_report *report)
{
	if (report == NULL)
		return;
	free(report->receipt_refs);
	report->receipt_refs = NULL;
	report->receipt_ref_count = 0;
	for (size_t i = 0; i < report->release_ref_count; i++) {
		tly_idlist_fini(&report->release_refs[i].contributors);
		tly_idlist_fini(&report->release_refs[i].dropped);
	}
	free(report->release_refs);
	report->release_refs = NULL;
	report->release_ref_count = 0;
	free(report->leaves);
	report->leaves = NULL;
	free(report->query_refs);
	report->query_refs = NULL;
	report->query_ref_count = 0;
}

static const char *
unit(uint8_t mechanism)
{
	return mechanism == TLY_MECH_LAPLACE ? "epsilon" : "rho";
}

static void
fraction_text(char *out, size_t len, struct tly_fraction f)
{
	snprintf(out, len, "%" PRIu64 "/%" PRIu64, f.num, f.den);
}

/* ---- across entries: each node's spend in ledger order ---- */

static struct history *
history_of(struct walk *w, uint32_t node_id)
{
	struct history *grown;

	for (size_t i = 0; i < w->node_count; i++)
		if (w->nodes[i].node_id == node_id)
			return &w->nodes[i];
	grown = realloc(w->nodes, (w->node_count + 1) * sizeof *grown);
	if (grown == NULL)
		return NULL;
	w->nodes = grown;
	memset(&grown[w->node_count], 0, sizeof *grown);
	grown[w->node_count].node_id = node_id;
	return &grown[w->node_count++];
}

/* -1 when a < b in any of the three sums, 0 when all are equal, else 1. */
static int
spent_order(const struct tly_budget_spent *a, const struct tly_budget_spent *b)
{
	int e = tly_ledger_fraction_cmp(a->epsilon, b->epsilon);
	int q = tly_ledger_fraction_cmp(a->epsilon_rho, b->epsilon_rho);
	int r = tly_ledger_fraction_cmp(a->rho, b->rho);

	if (e < 0 || q < 0 || r < 0)
		return -1;
	return e || q || r;
}

/*
 * a then b, a.seq < b.seq, same node and population: b's totals are at
 * least a's plus b's charge (tly_budget_add); with nothing between them in
 * the ledger, exactly so.
 */
static tly_err
check_pair(struct walk *w, uint32_t node_id, const struct charge *a, const struct charge *b)
{
	int consecutive = a->seq + 1 == b->seq;
	struct tly_budget_spent sum;
	int order;

	if (tly_budget_add(&a->spent, b->mechanism, b->amount, &sum) != TLY_OK)
		return bad(w, "node %" PRIu32 ": %s spent overflows", node_id, unit(b->mechanism));
	order = spent_order(&b->spent, &sum);
	if (order < 0 || (consecutive && order != 0))
		return bad(w,
		           "node %" PRIu32 " population \"%s\": the totals at ledger entry %" PRIu64
		           " (log entry %" PRIu64 ") are %s ledger entry %" PRIu64
		           "'s plus its %s charge",
		           node_id, b->population, b->seq, b->log_seq,
		           consecutive ? "not" : "below", a->seq, unit(b->mechanism));
	return TLY_OK;
}

static tly_err
add_charge(struct walk *w, const struct tly_ledger_receipt *r)
{
	struct history *h = history_of(w, r->node_id);
	struct charge c;
	size_t pos = 0;
	tly_err rv;

	if (h == NULL)
		return TLY_ENOMEM;
	while (pos < h->count && h->charges[pos].seq < r->seq)
		pos++;
	if (pos < h->count && h->charges[pos].seq == r->seq)
		return bad(w,
		           "node %" PRIu32 ": its ledger entry %" PRIu64
		           " was already receipted in log entry %" PRIu64,
		           r->node_id, r->seq, h->charges[pos].log_seq);
	memset(&c, 0, sizeof c);
	c.seq = r->seq;
	c.log_seq = w->seq;
	memcpy(c.population, r->population, sizeof c.population);
	c.mechanism = r->mechanism;
	c.amount = r->amount;
	c.spent = (struct tly_budget_spent){r->epsilon_spent, r->epsilon_rho_spent, r->rho_spent};
	for (size_t i = pos; i-- > 0;)
		if (strcmp(h->charges[i].population, c.population) == 0) {
			if ((rv = check_pair(w, r->node_id, &h->charges[i], &c)) != TLY_OK)
				return rv;
			break;
		}
	for (size_t i = pos; i < h->count; i++)
		if (strcmp(h->charges[i].population, c.population) == 0) {
			if ((rv = check_pair(w, r->node_id, &c, &h->charges[i])) != TLY_OK)
				return rv;
			break;
		}
	if (h->count == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 16;
		struct charge *grown = realloc(h->charges, cap * sizeof *grown);
		if (grown == NULL)
			return TLY_ENOMEM;
		h->charges = grown;
		h->cap = cap;
	}
	memmove(&h->charges[pos + 1], &h->charges[pos], (h->count - pos) * sizeof c);
	h->charges[pos] = c;
	h->count++;
	return TLY_OK;
}

/* ---- one receipt ---- */

static tly_err
remember(struct walk *w, const struct tly_ledger_receipt *r)
{
	struct tly_translog_report *rep = w->report;
	struct tly_translog_receipt_ref *grown, *ref;

	grown = realloc(rep->receipt_refs, (rep->receipt_ref_count + 1) * sizeof *grown);
	if (grown == NULL)
		return TLY_ENOMEM;
	rep->receipt_refs = grown;
	ref = &grown[rep->receipt_ref_count++];
	memset(ref, 0, sizeof *ref);
	ref->log_seq = w->seq;
	ref->node_id = r->node_id;
	ref->spend = r->spend;
	memcpy(ref->entry_hash, r->entry_hash, sizeof ref->entry_hash);
	return TLY_OK;
}

static tly_err
copy_ids(struct tly_idlist *out, const struct tly_idlist *in)
{
	out->count = 0;
	out->ids = NULL;
	if (in->count == 0)
		return TLY_OK;
	if ((out->ids = malloc(in->count * sizeof *out->ids)) == NULL)
		return TLY_ENOMEM;
	memcpy(out->ids, in->ids, in->count * sizeof *out->ids);
	out->count = in->count;
	return TLY_OK;
}

/* A release's query id and lists, for the auditor's ledger cross-check. */
static tly_err
remember_release(struct walk *w, const struct tly_translog_entry *e)
{
	struct tly_translog_report *rep = w->report;
	struct tly_translog_release_ref *grown, *ref;

	grown = realloc(rep->release_refs, (rep->release_ref_count + 1) * sizeof *grown);
	if (grown == NULL)
		return TLY_ENOMEM;
	rep->release_refs = grown;
	ref = &grown[rep->release_ref_count];
	memset(ref, 0, sizeof *ref);
	ref->log_seq = w->seq;
	memcpy(ref->query_id, e->query_id, sizeof ref->query_id);
	if (copy_ids(&ref->contributors, &e->contributors) != TLY_OK ||
	    copy_ids(&ref->dropped, &e->dropped) != TLY_OK) {
		tly_idlist_fini(&ref->contributors);
		return TLY_ENOMEM;
	}
	rep->release_ref_count++;
	return TLY_OK;
}

/* The receipt's totals within its population's cap, by the ledger's own
 * arithmetic (query/budget.h), and at least its own charge. */
static tly_err
check_receipt_budget(struct walk *w, const struct tly_ledger_receipt *r)
{
	const struct tly_budget_cap cap = {r->budget.epsilon_total, r->budget.delta_total,
	                                   r->budget.sites};
	const struct tly_budget_spent spent = {r->epsilon_spent, r->epsilon_rho_spent,
	                                       r->rho_spent};
	struct tly_budget_spent alone;
	struct tly_fraction rho_total;
	char a[48], b[48];

	if (tly_budget_rho_cap(&cap, &rho_total) != TLY_OK ||
	    tly_ledger_fraction_cmp(rho_total, r->budget.rho_total) != 0)
		return bad(w,
		           "the receipt of node %" PRIu32 ": rho_total is not the zCDP cap of its "
		           "(epsilon_total, delta_total, sites)",
		           r->node_id);
	fraction_text(a, sizeof a, r->epsilon_spent);
	fraction_text(b, sizeof b, r->rho_spent);
	if (tly_budget_within(&spent, &cap, rho_total) == TLY_BUDGET_OVER)
		return bad(w,
		           "the receipt of node %" PRIu32
		           ": population \"%s\" spent epsilon %s and "
		           "rho %s, over its cap",
		           r->node_id, r->population, a, b);
	if (tly_budget_add(&(struct tly_budget_spent){{0, 1}, {0, 1}, {0, 1}}, r->mechanism,
	                   r->amount, &alone) != TLY_OK ||
	    spent_order(&spent, &alone) < 0)
		return bad(w, "the receipt of node %" PRIu32 ": %s spent is below its own charge",
		           r->node_id, unit(r->mechanism));
	return TLY_OK;
}

/* The log head the node verified before its charge (receipt v3): signed
 * by the coordinator, a head of this log before this entry, which
 * includes the query's committed entry. A receipt with no head (size 0:
 * a ledger driven through its API without a head, never tally-node) has
 * nothing to check here; the ledger cross-check (cli/audit.c) still asks
 * that the query was committed. */
static tly_err
check_receipt_head(struct walk *w, const struct tly_translog_entry *e,
                   const struct tly_ledger_receipt *r)
{
	struct tly_tree_head head = {.size = r->log_head.size};
	uint8_t root[TLY_MERKLE_HASH_BYTES];
	uint64_t committed = 0;

	memcpy(head.root, r->log_head.root, sizeof head.root);
	memcpy(head.signature, r->log_head.signature, sizeof head.signature);
	for (size_t i = 0; i < w->report->query_ref_count; i++)
		if (memcmp(w->report->query_refs[i].query_id, e->query_id, TLY_QUERY_ID_BYTES) == 0)
			committed = w->report->query_refs[i].committed_seq;
	if (head.size == 0)
		return TLY_OK;
	int seen = w->have_head_ok && head.size == w->head_ok.size &&
	           memcmp(head.root, w->head_ok.root, sizeof head.root) == 0 &&
	           memcmp(head.signature, w->head_ok.signature, sizeof head.signature) == 0;
	if (!seen && tly_head_verify(&head, w->registry->coordinator_pk) != TLY_OK)
		return bad(w,
		           "the receipt of node %" PRIu32 ": its log head (size %" PRIu64
		           ") is not signed by the coordinator's registry key",
		           r->node_id, head.size);
	w->head_ok = head;
	w->have_head_ok = 1;
	if (head.size >= w->seq || head.size < committed || committed == 0)
		return bad(w,
		           "the receipt of node %" PRIu32 ": its log head of size %" PRIu64
		           " is not a head of the log between the query's committed entry (%" PRIu64
		           ") and this one",
		           r->node_id, head.size, committed);
	tly_merkle_tree_root(&w->tree, head.size, root);
	if (sodium_memcmp(root, head.root, sizeof root) != 0)
		return bad(w,
		           "the receipt of node %" PRIu32 ": fork: the log's first %" PRIu64
		           " entries have another root than its log head",
		           r->node_id, head.size);
	return TLY_OK;
}

/* The receipt is this entry's query's, at the spec's price, within caps. */
static tly_err
check_terms(struct walk *w, const struct tly_translog_entry *e,
            const struct tly_translog_spec_summary *spec, const struct tly_ledger_receipt *r)
{
	int eps = r->mechanism == TLY_MECH_LAPLACE;
	struct tly_fraction cap = eps ? r->budget.epsilon_per_query : r->budget.rho_per_query;
	char a[48], b[48];

	/* A release names who took part; an abort or refusal may not know. */
	if (e->outcome == TLY_TRANSLOG_RELEASED &&
	    !tly_idlist_contains(&e->contributors, r->node_id) &&
	    !tly_idlist_contains(&e->dropped, r->node_id))
		return bad(w, "a receipt from node %" PRIu32 ", which took no part", r->node_id);
	if (sodium_memcmp(r->query_id, e->query_id, TLY_QUERY_ID_BYTES) != 0 ||
	    sodium_memcmp(r->query_hash, e->query_hash, TLY_HASH_BYTES) != 0)
		return bad(w, "the receipt of node %" PRIu32 " is for another query", r->node_id);
	if (strcmp(r->dataset, spec->dataset) != 0 || r->mechanism != spec->mechanism ||
	    r->amount.num != spec->privacy_num || r->amount.den != spec->privacy_den)
		return bad(w,
		           "the receipt of node %" PRIu32 " charges %s %" PRIu64 "/%" PRIu64
		           " on \"%s\", not the query's %s %" PRIu64 "/%" PRIu64 " on \"%s\"",
		           r->node_id, unit(r->mechanism), r->amount.num, r->amount.den, r->dataset,
		           unit(spec->mechanism), spec->privacy_num, spec->privacy_den,
		           spec->dataset);
	fraction_text(a, sizeof a, r->amount);
	fraction_text(b, sizeof b, cap);
	if (tly_ledger_fraction_cmp(r->amount, cap) > 0)
		return bad(w, "the receipt of node %" PRIu32 ": %s %s is over its per-query cap %s",
		           r->node_id, unit(r->mechanism), a, b);
	return check_receipt_budget(w, r);
}

static tly_err
check_receipts(struct walk *w, const struct tly_translog_entry *e,
               const struct tly_translog_spec_summary *spec)
{
	struct tly_ledger_receipt r;
	const struct tly_party *party;
	uint32_t last = 0;
	tly_err rv;

	if (e->receipt_count > 0 && e->spec_len == 0)
		return bad(w, "receipts without a query");
	for (size_t i = 0; i < e->receipt_count; i++) {
		if (tly_ledger_receipt_decode(&r, e->receipts[i].bytes, e->receipts[i].len) !=
		    TLY_OK)
			return bad(w, "receipt %zu is malformed", i + 1);
		if (r.node_id <= last)
			return bad(w, "receipts are not in increasing node order");
		last = r.node_id;
		if ((party = tly_roster_find(w->registry, r.node_id)) == NULL)
			return bad(w,
			           "a receipt from node %" PRIu32 ", which is not in the registry",
			           r.node_id);
		if (tly_ledger_receipt_verify_logged(&r, party) != TLY_OK)
			return bad(w,
			           "the receipt of node %" PRIu32 " (ledger entry %" PRIu64
			           ") does not verify under that node's registry keys (sign_pk "
			           "and retired_sign_pk)",
			           r.node_id, r.seq);
		if ((rv = check_terms(w, e, spec, &r)) != TLY_OK ||
		    (rv = check_receipt_head(w, e, &r)) != TLY_OK ||
		    (rv = add_charge(w, &r)) != TLY_OK)
			return rv;
	}
	/* Every contributor's input is in the release: each was charged. */
	if (e->outcome == TLY_TRANSLOG_RELEASED)
		for (uint32_t i = 0; i < e->contributors.count; i++) {
			int found = 0;
			for (size_t j = 0; j < e->receipt_count && !found; j++)
				found = tly_load_be32(e->receipts[j].bytes + 1) ==
				        e->contributors.ids[i];
			if (!found)
				return bad(w, "contributor %" PRIu32 " has no receipt",
				           e->contributors.ids[i]);
		}
	return TLY_OK;
}

/* ---- one entry ---- */

/* The release names this query, its contributors and its privacy figure. */
static tly_err
check_release(struct walk *w, const struct tly_translog_entry *e,
              const struct tly_translog_spec_summary *spec)
{
	char id[2 * TLY_QUERY_ID_BYTES + 1], exact[48];
	json_t *root = json_loadb(e->release, e->release_len, JSON_REJECT_DUPLICATES, NULL);
	json_t *privacy = json_object_get(root, "privacy");
	const char *got_id = json_string_value(json_object_get(root, "query_id"));
	const char *dataset = json_string_value(json_object_get(root, "dataset"));
	const char *mechanism = json_string_value(json_object_get(privacy, "mechanism"));
	const char *figure = json_string_value(json_object_get(
	    privacy, spec->mechanism == TLY_MECH_LAPLACE ? "epsilon_exact" : "rho_exact"));
	json_t *contributors = json_object_get(root, "contributors");
	tly_err rv = TLY_OK;

	tly_hex(id, e->query_id, sizeof e->query_id);
	tly_release_exact(exact, sizeof exact, spec->privacy_num, spec->privacy_den);
	if (root == NULL)
		rv = bad(w, "the release is not JSON");
	else if (got_id == NULL || strcmp(got_id, id) != 0 || dataset == NULL ||
	         strcmp(dataset, spec->dataset) != 0)
		rv = bad(w, "the release names another query or dataset");
	else if (!json_is_integer(contributors) ||
	         json_integer_value(contributors) != (json_int_t)e->contributors.count)
		rv = bad(w, "the release's contributor count is not the entry's (%" PRIu32 ")",
		         e->contributors.count);
	else if (mechanism == NULL || strcmp(mechanism, tly_spec_mechanism_name(spec->mechanism)) ||
	         figure == NULL || strcmp(figure, exact) != 0)
		rv = bad(w, "the release states another privacy figure than the query's %s %s",
		         unit(spec->mechanism), exact);
	json_decref(root);
	return rv;
}

/* A committed entry: the query as it was about to be sent, nothing more. */
static tly_err
check_committed(struct walk *w, const struct tly_translog_entry *e)
{
	if (e->contributors.count > 0 || e->dropped.count > 0 || e->receipt_count > 0)
		return bad(w, "a committed query with contributors, dropped nodes or receipts");
	return TLY_OK;
}

/* Earlier entries of this query id: none before a committed entry; only
 * its committed entry before an outcome. (Whether a node's charge came
 * with a head that includes the committed entry is the ledger
 * cross-check's question: cli/audit.c.) */
static tly_err
check_order(struct walk *w, const struct tly_translog_entry *e)
{
	uint64_t committed = 0;
	int rc;

	sqlite3_reset(w->earlier);
	if (sqlite3_bind_blob(w->earlier, 1, e->query_id, TLY_QUERY_ID_BYTES, SQLITE_STATIC) !=
	        SQLITE_OK ||
	    sqlite3_bind_int64(w->earlier, 2, (sqlite3_int64)e->seq) != SQLITE_OK)
		return TLY_EIO;
	while ((rc = sqlite3_step(w->earlier)) == SQLITE_ROW) {
		sqlite3_int64 seq = sqlite3_column_int64(w->earlier, 0);
		if (e->outcome == TLY_TRANSLOG_COMMITTED ||
		    sqlite3_column_int64(w->earlier, 1) != TLY_TRANSLOG_COMMITTED || committed != 0)
			return bad(w, "the query is already in entry %lld", (long long)seq);
		committed = (uint64_t)seq;
	}
	return rc == SQLITE_DONE ? TLY_OK : TLY_EIO;
}

static tly_err
check_rules(struct walk *w, const struct tly_translog_entry *e,
            struct tly_translog_spec_summary *spec)
{
	uint8_t hash[TLY_HASH_BYTES];
	int released = e->outcome == TLY_TRANSLOG_RELEASED;
	tly_err rv;

	if (e->outcome < TLY_TRANSLOG_RELEASED || e->outcome > TLY_TRANSLOG_COMMITTED)
		return bad(w, "unknown outcome %u", e->outcome);
	if (e->spec_len == 0 && e->outcome != TLY_TRANSLOG_REFUSED)
		return bad(w, "no canonical query");
	if ((e->release_len > 0) != released)
		return bad(w, released ? "released without a release" : "a release, yet %s",
		           tly_translog_outcome_name(e->outcome));
	if (released && e->contributors.count == 0)
		return bad(w, "a release without contributors");
	/* t > k/2 is no longer required: the members' quorum q (2q >= k + t,
	 * checked by every member on the signed QUERY) keeps sets apart. */
	if (e->outcome == TLY_TRANSLOG_COMMITTED && (rv = check_committed(w, e)) != TLY_OK)
		return rv;
	if (e->protocol == TLY_PROTOCOL_COMMITTEE && e->degree > 0 &&
	    (e->threshold == 0 || e->threshold > e->degree))
		return bad(w, "committee threshold %u of %u: privacy needs 1 <= t <= k",
		           e->threshold, e->degree);
	/* Masking: the rules every node checked on the signed QUERY (secagg.h). */
	if (e->protocol != TLY_PROTOCOL_COMMITTEE && e->degree > 0 &&
	    (e->threshold < 2 || e->threshold > e->degree || 2u * e->threshold <= e->degree))
		return bad(w,
		           "masking threshold %u of %u neighbours: privacy needs 2 <= t <= k and "
		           "2t > k",
		           e->threshold, e->degree);
	for (uint32_t i = 0; i < e->contributors.count; i++)
		if (tly_idlist_contains(&e->dropped, e->contributors.ids[i]))
			return bad(w, "node %" PRIu32 " both contributed and was dropped",
			           e->contributors.ids[i]);
	if (e->spec_len > 0) {
		tly_hash(hash, "tally/query/v1", (const uint8_t *)e->spec, e->spec_len);
		if (sodium_memcmp(hash, e->query_hash, sizeof hash) != 0)
			return bad(w, "query_hash is not the hash of its canonical query");
		if (tly_translog_spec_summary(e->spec, e->spec_len, spec) != TLY_OK)
			return bad(w, "the canonical query cannot be read");
	}
	if ((rv = check_order(w, e)) != TLY_OK)
		return rv;
	return released ? check_release(w, e, spec) : TLY_OK;
}

/* The entry's Merkle leaf and its query, for the head and ledger checks. */
static tly_err
remember_leaf(struct walk *w, const struct tly_translog_entry *e, const uint8_t *entry_hash)
{
	struct tly_translog_report *rep = w->report;
	size_t n = (size_t)rep->entries;
	uint8_t *leaves = realloc(rep->leaves, (n + 1) * TLY_MERKLE_HASH_BYTES);

	if (leaves == NULL)
		return TLY_ENOMEM;
	rep->leaves = leaves;
	tly_log_leaf_hash(leaves + n * TLY_MERKLE_HASH_BYTES, e->seq, e->outcome, e->query_id,
	                  e->query_hash, entry_hash);
	if (tly_merkle_tree_append(&w->tree, leaves + n * TLY_MERKLE_HASH_BYTES) != TLY_OK)
		return TLY_ENOMEM;
	struct tly_translog_query_ref *ref = NULL;
	for (size_t i = rep->query_ref_count; i > 0 && ref == NULL; i--)
		if (memcmp(rep->query_refs[i - 1].query_id, e->query_id, TLY_QUERY_ID_BYTES) == 0)
			ref = &rep->query_refs[i - 1];
	if (ref == NULL) {
		struct tly_translog_query_ref *refs =
		    realloc(rep->query_refs, (rep->query_ref_count + 1) * sizeof *refs);
		if (refs == NULL)
			return TLY_ENOMEM;
		rep->query_refs = refs;
		ref = &refs[rep->query_ref_count++];
		memset(ref, 0, sizeof *ref);
		memcpy(ref->query_id, e->query_id, TLY_QUERY_ID_BYTES);
	}
	if (e->outcome == TLY_TRANSLOG_COMMITTED) {
		ref->committed_seq = e->seq;
	} else {
		ref->outcome_seq = e->seq;
		ref->outcome = e->outcome;
	}
	return TLY_OK;
}

/* The row's columns, as far as their types and sizes. */
struct row {
	sqlite3_int64 seq, time, outcome;
	const uint8_t *query_id, *bytes, *entry_hash, *signature;
	size_t bytes_len;
};

static const char *
read_row(sqlite3_stmt *st, struct row *row)
{
	static const struct {
		int type, size;
		const char *name;
	} cols[TLY_TRANSLOG_COLUMN_COUNT] = {{SQLITE_INTEGER, -1, "seq"},
	                                     {SQLITE_INTEGER, -1, "time"},
	                                     {SQLITE_BLOB, TLY_QUERY_ID_BYTES, "query_id"},
	                                     {SQLITE_INTEGER, -1, "outcome"},
	                                     {SQLITE_BLOB, -1, "bytes"},
	                                     {SQLITE_BLOB, TLY_HASH_BYTES, "entry_hash"},
	                                     {SQLITE_BLOB, TLY_SIGN_BYTES, "signature"}};

	for (int i = 0; i < TLY_TRANSLOG_COLUMN_COUNT; i++)
		if (sqlite3_column_type(st, i) != cols[i].type ||
		    (cols[i].size >= 0 && sqlite3_column_bytes(st, i) != cols[i].size))
			return cols[i].name;
	row->seq = sqlite3_column_int64(st, 0);
	row->time = sqlite3_column_int64(st, 1);
	row->query_id = sqlite3_column_blob(st, 2);
	row->outcome = sqlite3_column_int64(st, 3);
	row->bytes = sqlite3_column_blob(st, 4);
	row->bytes_len = (size_t)sqlite3_column_bytes(st, 4);
	row->entry_hash = sqlite3_column_blob(st, 5);
	row->signature = sqlite3_column_blob(st, 6);
	return NULL;
}

/* Hash and signature of the bytes, then the bytes against the columns. */
static tly_err
check_seal(struct walk *w, const struct row *row, struct tly_translog_entry *e)
{
	uint8_t hash[TLY_HASH_BYTES];
	char why[96];
	tly_err rv;

	tly_translog_hash(hash, row->bytes, row->bytes_len);
	switch (tly_sqlog_check_seal(hash, row->entry_hash, row->signature,
	                             w->registry->coordinator_pk)) {
	case TLY_SQLOG_BAD_HASH:
		return bad(w, "entry_hash does not match its bytes");
	case TLY_SQLOG_BAD_SIGNATURE:
		return bad(w, "signature does not verify under the coordinator's registry key");
	case TLY_SQLOG_SEALED:
		break;
	}
	rv = tly_translog_entry_decode(e, row->bytes, row->bytes_len, why, sizeof why);
	if (rv == TLY_EFORMAT)
		return bad(w, "%s", why);
	if (rv != TLY_OK)
		return rv;
	if (e->seq != (uint64_t)row->seq || e->time != (uint64_t)row->time ||
	    e->outcome != row->outcome ||
	    memcmp(e->query_id, row->query_id, TLY_QUERY_ID_BYTES) != 0)
		return bad(w, "its columns disagree with its signed bytes");
	if (sodium_memcmp(e->prev_hash, w->prev_hash, TLY_HASH_BYTES) != 0)
		return bad(w, "prev_hash is not the hash of entry %" PRIu64, w->seq - 1);
	return TLY_OK;
}

static tly_err
check_row(struct walk *w, sqlite3_stmt *st, uint64_t expected)
{
	struct tly_translog_entry e;
	struct tly_translog_spec_summary spec;
	struct row row = {0};
	const char *column = read_row(st, &row);
	sqlite3_int64 seq = sqlite3_column_int64(st, 0);
	tly_err rv;

	w->seq = expected;
	memset(&e, 0, sizeof e);
	memset(&spec, 0, sizeof spec);
	if (seq < 1 || (uint64_t)seq != expected)
		return seq >= 1 && (uint64_t)seq > expected
		           ? bad(w, "missing (the next entry is %lld)", (long long)seq)
		           : bad(w, "out of sequence (%lld)", (long long)seq);
	if (column != NULL)
		return bad(w, "column %s has the wrong type or size", column);
	if ((rv = check_seal(w, &row, &e)) != TLY_OK)
		goto out;
	if (w->chain_only)
		goto linked;
	if ((rv = check_rules(w, &e, &spec)) != TLY_OK ||
	    (rv = check_receipts(w, &e, &spec)) != TLY_OK)
		goto out;
	for (size_t i = 0; i < e.receipt_count; i++) {
		struct tly_ledger_receipt r;
		if (tly_ledger_receipt_decode(&r, e.receipts[i].bytes, e.receipts[i].len) !=
		        TLY_OK ||
		    (rv = remember(w, &r)) != TLY_OK)
			goto out;
	}
	if (e.outcome == TLY_TRANSLOG_RELEASED && (rv = remember_release(w, &e)) != TLY_OK)
		goto out;
	if ((rv = remember_leaf(w, &e, row.entry_hash)) != TLY_OK)
		goto out;
linked:
	tly_translog_hash(w->prev_hash, row.bytes, row.bytes_len);
	memcpy(w->report->head_hash, w->prev_hash, TLY_HASH_BYTES);
	w->report->entries++;
	w->report->receipts += e.receipt_count;
	w->report->released += e.outcome == TLY_TRANSLOG_RELEASED;
	w->report->aborted += e.outcome == TLY_TRANSLOG_ABORTED;
	w->report->refused += e.outcome == TLY_TRANSLOG_REFUSED;
	w->report->committed += e.outcome == TLY_TRANSLOG_COMMITTED;
out:
	tly_translog_entry_fini(&e);
	return rv;
}

static tly_err
visit(void *w, sqlite3_stmt *st, uint64_t seq)
{
	return check_row(w, st, seq);
}

static tly_err
walk_log(struct tly_translog *log, const struct tly_roster *registry,
         struct tly_translog_report *report, int chain_only)
{
	struct walk w = {.registry = registry, .report = report, .chain_only = chain_only};
	const struct tly_sqlog_walk walk = {
	    .rows_sql = "SELECT " TLY_TRANSLOG_COLUMNS " FROM entries ORDER BY seq",
	    .earlier_sql =
	        "SELECT seq, outcome FROM entries WHERE query_id = ? AND seq < ? ORDER BY seq",
	    .earlier = &w.earlier,
	    .row = visit,
	    .ctx = &w,
	};
	tly_err rv;

	TLY_REQUIRE(log != NULL && registry != NULL && report != NULL);
	memset(report, 0, sizeof *report);
	tly_merkle_tree_init(&w.tree);
	rv = tly_sqlog_walk(log->db, &walk, "transparency log", report->reason,
	                    sizeof report->reason);
	for (size_t i = 0; i < w.node_count; i++)
		free(w.nodes[i].charges);
	free(w.nodes);
	tly_merkle_tree_fini(&w.tree);
	return rv;
}

tly_err
tly_translog_verify(struct tly_translog *log, const struct tly_roster *registry,
                    struct tly_translog_report *report)
{
	return walk_log(log, registry, report, 0);
}

tly_err
tly_translog_verify_chain(struct tly_translog *log, const struct tly_roster *registry,
                          struct tly_translog_report *report)
{
	return walk_log(log, registry, report, 1);
}

tly_err
tly_translog_verify_file(const char *path, const struct tly_roster *registry,
                         struct tly_translog_report *report)
{
	struct tly_translog *log = NULL;
	tly_err rv;

	TLY_REQUIRE(report != NULL);
	memset(report, 0, sizeof *report);
	if ((rv = tly_translog_open_readonly(&log, path, report->reason, sizeof report->reason)) ==
	    TLY_OK)
		rv = tly_translog_verify(log, registry, report);
	tly_translog_close(log);
	return rv;
}
