/*
 * committee_coord.c - the coordinator of committee sharing: sends the
 * query, relays shares (round 1), announces the contributor set (round 2),
 * collects the members' votes for it and relays the certificate once q
 * agree, collects share-sums and complaints (round 3) and reconstructs the
 * total.
 * See committee.h for the contract.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "committee.h"
#include "committee_impl.h"
#include "crypto/shamir.h"
#include "crypto/wipe.h"

enum member_status {
	MEMBER_PENDING = 0, /* may still answer */
	MEMBER_SUMMED,      /* its one share-sum is in (for sum_attempt) */
	MEMBER_FAULTY,      /* broke the protocol: ignored */
};

struct tly_committee_coord {
	const struct tly_identity *self;
	const struct tly_roster *roster;
	struct tly_query query; /* decoded from the bytes that were signed */
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	size_t d;
	unsigned k, t, q;
	enum tly_committee_phase phase;

	/* Round 1: per participant, bit j set once its share for
	 * committee[j] was relayed. */
	uint64_t *delivered;

	/* Rounds 2-3: announcements 0..attempt. */
	uint32_t attempt;
	struct tly_idlist sets[TLY_MAX_ANNOUNCE_ATTEMPTS];
	uint8_t set_hash[TLY_MAX_ANNOUNCE_ATTEMPTS][TLY_HASH_BYTES];
	uint8_t *excluded; /* per participant: named in a complaint on `attempt` */

	/* Per member (committee order). */
	uint8_t status[TLY_MAX_COMMITTEE];
	uint8_t answered[TLY_MAX_COMMITTEE];    /* some round-3 message accepted */
	uint32_t complained[TLY_MAX_COMMITTEE]; /* bit a: complained on attempt a */
	uint32_t sum_attempt[TLY_MAX_COMMITTEE];
	uint64_t *sums[TLY_MAX_COMMITTEE]; /* d elements when MEMBER_SUMMED */

	/* The agreement: each member's one vote (SET_SIGN), and whether an
	 * attempt's set has gathered q of them (its SET_CERT went out). */
	uint8_t voted[TLY_MAX_COMMITTEE];
	uint32_t vote_attempt[TLY_MAX_COMMITTEE];
	uint8_t vote[TLY_MAX_COMMITTEE][TLY_SIGNATURE_BYTES];
	uint8_t certified[TLY_MAX_ANNOUNCE_ATTEMPTS];

	/* The result (phase DONE), or why it was aborted (phase ABORTED). */
	uint32_t abort_reason;
	uint32_t done_attempt;
	int64_t *cells;
};

static void
forget_sums(struct tly_committee_coord *c)
{
	for (unsigned j = 0; j < c->k; j++) {
		if (c->sums[j] == NULL)
			continue;
		tly_wipe_free(c->sums[j], c->d * sizeof *c->sums[j]);
		c->sums[j] = NULL;
	}
}

void
tly_committee_coord_free(struct tly_committee_coord *c)
{
	if (c == NULL)
		return;
	forget_sums(c);
	for (unsigned a = 0; a < TLY_MAX_ANNOUNCE_ATTEMPTS; a++)
		tly_idlist_fini(&c->sets[a]);
	tly_wipe_free(c->cells, c->d * sizeof *c->cells);
	free(c->excluded);
	free(c->delivered);
	tly_query_fini(&c->query);
	free(c);
}

enum tly_committee_phase
tly_committee_coord_phase(const struct tly_committee_coord *c)
{
	return c->phase;
}

uint32_t
tly_committee_coord_abort_reason(const struct tly_committee_coord *c)
{
	return c->phase == TLY_COMMITTEE_ABORTED ? c->abort_reason : 0;
}

/* ---- sending ---- */

static tly_err
push_copy(struct tly_outbox *box, uint32_t to, const uint8_t *data, size_t len)
{
	struct tly_buf copy;

	tly_buf_init(&copy);
	tly_buf_put_bytes(&copy, data, len);
	return tly_outbox_push(box, to, &copy); /* takes copy's storage */
}

/* Seal one message to every participant and member, each party once. */
static tly_err
send_to_all(struct tly_committee_coord *c, enum tly_msg_type type, const struct tly_buf *body,
            struct tly_outbox *box)
{
	const struct tly_idlist *p = &c->query.participants, *m = &c->query.committee;
	struct tly_msg_header header = {
	    .type = type,
	    .sender = TLY_PARTY_COORDINATOR,
	    .recipient = TLY_PARTY_ALL,
	};
	struct tly_buf msg;
	size_t start = box->count;
	uint32_t i = 0, j = 0;
	tly_err rv;

	tly_buf_init(&msg);
	memcpy(header.query_id, c->query_id, TLY_QUERY_ID_BYTES);
	rv = body->error != TLY_OK
	         ? body->error
	         : tly_msg_seal(&msg, &header, body->data, body->len, c->self->sign);
	/* Merge the two increasing lists. */
	while (rv == TLY_OK && (i < p->count || j < m->count)) {
		uint32_t next;
		if (j == m->count || (i < p->count && p->ids[i] < m->ids[j]))
			next = p->ids[i++];
		else if (i == p->count || m->ids[j] < p->ids[i])
			next = m->ids[j++];
		else
			next = (i++, m->ids[j++]);
		rv = push_copy(box, next, msg.data, msg.len);
	}
	if (rv != TLY_OK)
		tly_outbox_truncate(box, start);
	tly_buf_fini(&msg);
	return rv;
}

static tly_err
abort_with(struct tly_committee_coord *c, uint32_t reason, struct tly_outbox *box)
{
	struct tly_buf body;
	tly_err rv;

	tly_buf_init(&body);
	rv = tly_abort_encode(&body, reason);
	if (rv == TLY_OK)
		rv = send_to_all(c, TLY_MSG_ABORT, &body, box);
	tly_buf_fini(&body);
	c->phase = TLY_COMMITTEE_ABORTED;
	c->abort_reason = reason;
	forget_sums(c);
	return rv;
}

static tly_err
abort_too_few(struct tly_committee_coord *c, struct tly_outbox *box)
{
	tly_err rv = abort_with(c, TLY_ABORT_TOO_FEW, box);
	return rv != TLY_OK ? rv : TLY_ETOOFEW;
}

tly_err
tly_committee_coord_abort(struct tly_committee_coord *c, uint32_t reason, struct tly_outbox *box)
{
	if (c->phase == TLY_COMMITTEE_DONE || c->phase == TLY_COMMITTEE_ABORTED)
		return TLY_ESTATE;
	return abort_with(c, reason, box);
}

/* ---- Round 0: the query ---- */

tly_err
tly_committee_coord_alloc(struct tly_committee_coord **out, const struct tly_identity *coord,
                          const struct tly_roster *roster, const struct tly_query *q,
                          const uint8_t query_id[static TLY_QUERY_ID_BYTES], struct tly_outbox *box)
{
	struct tly_committee_coord *c;
	struct tly_buf body;
	tly_err rv = TLY_ENOMEM;

	TLY_REQUIRE(coord->id == TLY_PARTY_COORDINATOR && coord->sign != NULL);
	tly_buf_init(&body);
	c = calloc(1, sizeof *c);
	if (c == NULL)
		goto out;
	c->self = coord;
	c->roster = roster;
	c->phase = TLY_COMMITTEE_SHARING;
	memcpy(c->query_id, query_id, TLY_QUERY_ID_BYTES);
	/* The coordinator works from exactly what the parties will decode. */
	rv = tly_query_encode(&body, q);
	if (rv == TLY_OK)
		rv = tly_query_decode(&c->query, body.data, body.len);
	if (rv == TLY_EFORMAT)
		rv = TLY_EINVAL;
	if (rv == TLY_OK)
		rv = tly_committee_query_check(&c->query, roster);
	if (rv != TLY_OK)
		goto out;
	rv = TLY_ENOMEM;
	c->d = c->query.cells;
	c->k = c->query.committee.count;
	c->t = c->query.threshold;
	c->q = c->query.quorum;
	c->delivered = calloc(c->query.participants.count, sizeof *c->delivered);
	c->excluded = calloc(c->query.participants.count, sizeof *c->excluded);
	if (c->delivered == NULL || c->excluded == NULL)
		goto out;
	rv = send_to_all(c, TLY_MSG_QUERY, &body, box);
	if (rv != TLY_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	tly_committee_coord_free(c);
	tly_buf_fini(&body);
	return rv;
}

/* ---- Round 1: relay ---- */

static tly_err
relay_share(struct tly_committee_coord *c, const struct tly_msg *peeked, const uint8_t *msg,
            size_t len, struct tly_outbox *box)
{
	struct tly_msg opened;
	enum tly_share_form form;
	const uint8_t *cipher;
	size_t cipher_len;
	long node, member;
	tly_err rv;

	if (c->phase != TLY_COMMITTEE_SHARING)
		return TLY_ESTATE;
	node = tly_idlist_find(&c->query.participants, peeked->header.sender);
	member = tly_idlist_find(&c->query.committee, peeked->header.recipient);
	if (node < 0 || member < 0)
		return TLY_EPEER;
	uint64_t bit = UINT64_C(1) << member;
	if (c->delivered[node] & bit)
		return TLY_EREPLAY;
	rv = tly_share_form_decode(&form, &cipher, &cipher_len, peeked->body, peeked->body_len,
	                           c->d);
	if (rv != TLY_OK)
		return rv;
	rv = tly_msg_open(msg, len, c->roster, &opened);
	if (rv != TLY_OK)
		return rv;
	rv = push_copy(box, peeked->header.recipient, msg, len);
	if (rv == TLY_OK)
		c->delivered[node] |= bit;
	return rv;
}

/* ---- Round 2: announcements ---- */

/* Announce `set` (taken over on success) as the next attempt to every
 * member that may still answer and has not voted (a vote is for one set
 * per query). */
static tly_err
announce(struct tly_committee_coord *c, uint32_t attempt, struct tly_idlist *set,
         struct tly_outbox *box)
{
	struct tly_msg_header header = {
	    .type = TLY_MSG_ANNOUNCE,
	    .sender = TLY_PARTY_COORDINATOR,
	};
	struct tly_buf body;
	size_t start = box->count;
	tly_err rv;

	tly_buf_init(&body);
	memcpy(header.query_id, c->query_id, TLY_QUERY_ID_BYTES);
	rv = tly_attempt_list_encode(&body, attempt, set);
	for (unsigned j = 0; j < c->k && rv == TLY_OK; j++) {
		if (c->status[j] != MEMBER_PENDING || c->voted[j])
			continue;
		header.recipient = c->query.committee.ids[j];
		rv = tly_msg_seal_to(box, header.recipient, &header, body.data, body.len,
		                     c->self->sign);
	}
	tly_buf_fini(&body);
	if (rv != TLY_OK) {
		tly_outbox_truncate(box, start);
		return rv;
	}
	c->sets[attempt] = *set;
	memset(set, 0, sizeof *set);
	tly_idlist_hash(c->set_hash[attempt], c->query_id, &c->sets[attempt]);
	c->attempt = attempt;
	memset(c->excluded, 0, c->query.participants.count);
	c->phase = TLY_COMMITTEE_SUMMING;
	return TLY_OK;
}

/* The ids of participants for which keep(c, i) holds, in order. */
static tly_err
select_participants(const struct tly_committee_coord *c,
                    int (*keep)(const struct tly_committee_coord *, uint32_t),
                    struct tly_idlist *out)
{
	const struct tly_idlist *p = &c->query.participants;
	struct tly_idlist list = {0};

	list.ids = malloc(p->count * sizeof *list.ids);
	if (list.ids == NULL)
		return TLY_ENOMEM;
	for (uint32_t i = 0; i < p->count; i++)
		if (keep(c, i))
			list.ids[list.count++] = p->ids[i];
	*out = list;
	return TLY_OK;
}

static int
delivered_all(const struct tly_committee_coord *c, uint32_t i)
{
	uint64_t all = c->k == 64 ? ~UINT64_C(0) : (UINT64_C(1) << c->k) - 1;
	return c->delivered[i] == all;
}

static int
still_announced(const struct tly_committee_coord *c, uint32_t i)
{
	return !c->excluded[i] &&
	       tly_idlist_contains(&c->sets[c->attempt], c->query.participants.ids[i]);
}

/* Members that may still vote for a new set. */
static unsigned
unvoted(const struct tly_committee_coord *c)
{
	unsigned count = 0;

	for (unsigned j = 0; j < c->k; j++)
		count += c->status[j] == MEMBER_PENDING && !c->voted[j];
	return count;
}

/* Round 2 again: the current set without the complained-about nodes.
 * Returns TLY_ETOOFEW, appending nothing, when that is impossible. */
static tly_err
reannounce(struct tly_committee_coord *c, struct tly_outbox *box)
{
	struct tly_idlist set = {0};
	tly_err rv = TLY_ETOOFEW;

	if (c->attempt + 1 >= TLY_MAX_ANNOUNCE_ATTEMPTS || unvoted(c) < c->q)
		return TLY_ETOOFEW;
	rv = select_participants(c, still_announced, &set);
	if (rv != TLY_OK)
		return rv;
	if (set.count < c->query.min_contributors)
		rv = TLY_ETOOFEW;
	else
		rv = announce(c, c->attempt + 1, &set, box);
	tly_idlist_fini(&set);
	return rv;
}

/* ---- Round 3: share-sums, complaints, reconstruction ---- */

static unsigned
sums_for(const struct tly_committee_coord *c, uint32_t attempt)
{
	unsigned count = 0;

	for (unsigned j = 0; j < c->k; j++)
		count += c->status[j] == MEMBER_SUMMED && c->sum_attempt[j] == attempt;
	return count;
}

/* Members that have not summed, complained about `attempt` or voted for
 * another set: they may still send a share-sum for `attempt`. */
static unsigned
undecided_for(const struct tly_committee_coord *c, uint32_t attempt)
{
	unsigned undecided = 0;

	for (unsigned j = 0; j < c->k; j++)
		undecided += c->status[j] == MEMBER_PENDING && !(c->complained[j] >> attempt & 1) &&
		             (!c->voted[j] || c->vote_attempt[j] == attempt);
	return undecided;
}

/* Whether `attempt` may still gather t share-sums: q votes first (every
 * share-sum needs a certificate), then t of the voters answering. */
static int
attempt_possible(const struct tly_committee_coord *c, uint32_t attempt)
{
	unsigned need = c->certified[attempt] ? c->t : c->q;
	return sums_for(c, attempt) + undecided_for(c, attempt) >= need;
}

/* Whether some member that may still answer complained on the current
 * attempt: only then can another attempt do better. */
static int
has_complaints(const struct tly_committee_coord *c)
{
	for (unsigned j = 0; j < c->k; j++)
		if (c->status[j] == MEMBER_PENDING && (c->complained[j] >> c->attempt & 1))
			return 1;
	return 0;
}

/* Whether every share-sum of `attempt` beyond the first t lies on the
 * polynomial of degree t - 1 through the first t (xs, rows): evaluate it
 * at each extra member's index by Lagrange over the points shifted by
 * that index, and compare without branching on the values. O(t d) per
 * extra share-sum. 1 when they agree (or there is nothing to check). */
static int
consistent(const struct tly_committee_coord *c, uint32_t attempt, const uint64_t *xs,
           const uint64_t *const *rows, size_t count, uint64_t *scratch)
{
	uint64_t shifted[TLY_MAX_COMMITTEE], coeffs[TLY_MAX_COMMITTEE];
	uint64_t differ = 0;

	for (unsigned j = 0; j < c->k; j++) {
		if (c->status[j] != MEMBER_SUMMED || c->sum_attempt[j] != attempt)
			continue;
		uint64_t x = j + 1;
		int used = 0;
		for (size_t i = 0; i < count; i++)
			used |= xs[i] == x;
		if (used)
			continue;
		/* f(x) = sum_i L_i(0) f(xs[i]) for the points xs[i] - x. */
		for (size_t i = 0; i < count; i++)
			shifted[i] = tly_field_sub(xs[i], x);
		if (tly_shamir_lagrange_at_zero(shifted, count, coeffs) != TLY_OK ||
		    tly_shamir_combine(coeffs, rows, count, c->d, scratch) != TLY_OK)
			return 0;
		for (size_t e = 0; e < c->d; e++)
			differ |= scratch[e] ^ c->sums[j][e];
	}
	return differ == 0;
}

/* The total of set `attempt` from its first t share-sums (committee[j]
 * holds index j + 1), decoded centred, once every further share-sum of
 * that attempt is checked to lie on the same polynomial: otherwise some
 * contributor sent shares off one polynomial or a member lied, and the
 * query is aborted (TLY_ABORT_INCONSISTENT, TLY_EAUTH). */
static tly_err
reconstruct(struct tly_committee_coord *c, uint32_t attempt, struct tly_outbox *box)
{
	uint64_t xs[TLY_MAX_COMMITTEE];
	const uint64_t *rows[TLY_MAX_COMMITTEE];
	uint64_t *total;
	int64_t *cells = NULL;
	size_t count = 0;
	tly_err rv = TLY_ENOMEM;

	for (unsigned j = 0; j < c->k && count < c->t; j++) {
		if (c->status[j] != MEMBER_SUMMED || c->sum_attempt[j] != attempt)
			continue;
		xs[count] = j + 1;
		rows[count++] = c->sums[j];
	}
	total = malloc(c->d * sizeof *total);
	cells = malloc(c->d * sizeof *cells);
	if (total == NULL || cells == NULL)
		goto out;
	if (!consistent(c, attempt, xs, rows, count, total)) {
		rv = abort_with(c, TLY_ABORT_INCONSISTENT, box);
		rv = rv != TLY_OK ? rv : TLY_EAUTH;
		goto out;
	}
	rv = tly_shamir_reconstruct(xs, rows, count, c->t, c->d, total);
	if (rv == TLY_OK)
		rv = tly_field_vec_decode_signed(cells, total, c->d, NULL);
	if (rv != TLY_OK)
		goto out;
	c->cells = cells;
	cells = NULL;
	c->done_attempt = attempt;
	c->phase = TLY_COMMITTEE_DONE;
	forget_sums(c);
out:
	tly_wipe_free(total, c->d * sizeof *total);
	free(cells);
	return rv;
}

/* After an accepted share-sum or complaint: finish, re-announce when the
 * current attempt can no longer succeed, or abort when nothing can. */
static tly_err
progress(struct tly_committee_coord *c, uint32_t attempt, struct tly_outbox *box)
{
	/* With t share-sums in, wait for the members still due, whose
	 * share-sums are checked against the first t, up to the deadline
	 * (tly_committee_coord_close_round). */
	if (sums_for(c, attempt) >= c->t)
		return undecided_for(c, attempt) > 0 ? TLY_OK : reconstruct(c, attempt, box);
	if (attempt_possible(c, c->attempt))
		return TLY_OK;
	tly_err rv = has_complaints(c) ? reannounce(c, box) : TLY_ETOOFEW;
	if (rv != TLY_ETOOFEW)
		return rv;
	/* A late share-sum may still complete an earlier attempt. */
	for (uint32_t a = 0; a < c->attempt; a++)
		if (attempt_possible(c, a))
			return TLY_OK;
	return abort_too_few(c, box);
}

/* A member's message after its signature verified but content broke the
 * protocol: it is ignored from now on. */
static tly_err
fault(struct tly_committee_coord *c, long member, tly_err rv, struct tly_outbox *box)
{
	c->status[member] = MEMBER_FAULTY;
	/* One answer fewer may be the one the current attempt needed. */
	tly_err next = progress(c, c->attempt, box);
	return next != TLY_OK ? next : rv;
}

/* The certificate for `attempt`: its set and every vote for it so far,
 * ids increasing (committee order). */
static tly_err
cert_encode(const struct tly_committee_coord *c, uint32_t attempt, struct tly_buf *body)
{
	struct tly_signature_entry entries[TLY_MAX_COMMITTEE];
	struct tly_set_cert cert = {.attempt = attempt, .set = c->sets[attempt]};

	cert.votes.entries = entries;
	for (unsigned j = 0; j < c->k; j++) {
		if (!c->voted[j] || c->vote_attempt[j] != attempt || c->status[j] == MEMBER_FAULTY)
			continue;
		entries[cert.votes.count].id = c->query.committee.ids[j];
		memcpy(entries[cert.votes.count++].signature, c->vote[j], TLY_SIGNATURE_BYTES);
	}
	return tly_set_cert_encode(body, &cert);
}

/* Round 3: once q members voted for the set of `attempt`, the certificate
 * to each of them that has not had it (`only`: to that member alone, a
 * late voter). */
static tly_err
certify(struct tly_committee_coord *c, uint32_t attempt, long only, struct tly_outbox *box)
{
	struct tly_msg_header header = {.type = TLY_MSG_SET_CERT, .sender = TLY_PARTY_COORDINATOR};
	struct tly_buf body;
	size_t start = box->count;
	tly_err rv;

	tly_buf_init(&body);
	memcpy(header.query_id, c->query_id, TLY_QUERY_ID_BYTES);
	rv = cert_encode(c, attempt, &body);
	for (unsigned j = 0; j < c->k && rv == TLY_OK; j++) {
		if (!c->voted[j] || c->vote_attempt[j] != attempt ||
		    c->status[j] != MEMBER_PENDING || (only >= 0 && (long)j != only))
			continue;
		header.recipient = c->query.committee.ids[j];
		rv = tly_msg_seal_to(box, header.recipient, &header, body.data, body.len,
		                     c->self->sign);
	}
	tly_buf_fini(&body);
	if (rv != TLY_OK)
		tly_outbox_truncate(box, start);
	else
		c->certified[attempt] = 1;
	return rv;
}

static unsigned
votes_for(const struct tly_committee_coord *c, uint32_t attempt)
{
	unsigned count = 0;

	for (unsigned j = 0; j < c->k; j++)
		count +=
		    c->voted[j] && c->vote_attempt[j] == attempt && c->status[j] != MEMBER_FAULTY;
	return count;
}

/* Round 2: member j's one vote. */
static tly_err
on_vote(struct tly_committee_coord *c, long j, const struct tly_msg *opened, struct tly_outbox *box)
{
	uint8_t set_hash[TLY_HASH_BYTES];
	uint32_t attempt;
	tly_err rv = tly_set_sign_decode(&attempt, set_hash, opened->body, opened->body_len);

	if (rv == TLY_OK && (attempt > c->attempt || (c->complained[j] >> attempt & 1) ||
	                     sodium_memcmp(set_hash, c->set_hash[attempt], TLY_HASH_BYTES) != 0))
		rv = TLY_EPEER; /* a set never announced under that attempt, or one it complained of
		                 */
	if (rv != TLY_OK)
		return fault(c, j, rv, box);
	c->voted[j] = 1;
	c->vote_attempt[j] = attempt;
	memcpy(c->vote[j], opened->signature, TLY_SIGNATURE_BYTES);
	c->answered[j] = 1;
	if (c->certified[attempt])
		rv = certify(c, attempt, j, box);
	else if (votes_for(c, attempt) >= c->q)
		rv = certify(c, attempt, -1, box);
	return rv != TLY_OK ? rv : progress(c, attempt, box);
}

/* Round 3: member j's share-sum. */
static tly_err
on_share_sum(struct tly_committee_coord *c, long j, const struct tly_msg *opened,
             struct tly_outbox *box)
{
	uint8_t set_hash[TLY_HASH_BYTES];
	uint32_t attempt;
	uint64_t *sum = malloc(c->d * sizeof *sum);
	tly_err rv;

	if (sum == NULL)
		return TLY_ENOMEM;
	rv = tly_share_sum_decode(&attempt, set_hash, sum, c->d, opened->body, opened->body_len);
	if (rv == TLY_OK && (attempt > c->attempt || !c->voted[j] ||
	                     c->vote_attempt[j] != attempt || !c->certified[attempt] ||
	                     sodium_memcmp(set_hash, c->set_hash[attempt], TLY_HASH_BYTES) != 0))
		rv = TLY_EPEER; /* not the certified set this member voted for */
	if (rv != TLY_OK) {
		free(sum);
		return fault(c, j, rv, box);
	}
	c->sums[j] = sum;
	c->sum_attempt[j] = attempt;
	c->status[j] = MEMBER_SUMMED;
	c->answered[j] = 1;
	return progress(c, attempt, box);
}

/* Round 3: member j's complaint about shares missing from its set. */
static tly_err
on_complaint(struct tly_committee_coord *c, long j, const struct tly_msg *opened,
             struct tly_outbox *box)
{
	struct tly_idlist missing = {0};
	uint32_t attempt;
	tly_err rv = tly_attempt_list_decode(&attempt, &missing, opened->body, opened->body_len);

	if (rv != TLY_OK)
		return fault(c, j, rv, box);
	if (attempt < c->attempt || (c->complained[j] >> attempt & 1)) {
		rv = TLY_EREPLAY; /* about an attempt that is over, or said already */
		goto out;
	}
	rv = TLY_EPEER;
	if (attempt > c->attempt || missing.count == 0 || c->voted[j])
		goto fault; /* a member that voted held every share of its set */
	for (uint32_t i = 0; i < missing.count; i++)
		if (!tly_idlist_contains(&c->sets[attempt], missing.ids[i]))
			goto fault;
	for (uint32_t i = 0; i < missing.count; i++)
		c->excluded[tly_idlist_find(&c->query.participants, missing.ids[i])] = 1;
	c->complained[j] |= UINT32_C(1) << attempt;
	c->answered[j] = 1;
	rv = progress(c, attempt, box);
	goto out;
fault:
	rv = fault(c, j, rv, box);
out:
	tly_idlist_fini(&missing);
	return rv;
}

/* The checks before a member's message of rounds 2-3 is opened: the
 * sender, the phase, and the cheap checks of its type. */
static tly_err
member_of(const struct tly_committee_coord *c, const struct tly_msg *peeked, long *member)
{
	long j = tly_idlist_find(&c->query.committee, peeked->header.sender);

	if (c->phase != TLY_COMMITTEE_SUMMING)
		return TLY_ESTATE;
	if (j < 0 || peeked->header.recipient != TLY_PARTY_COORDINATOR ||
	    c->status[j] == MEMBER_FAULTY)
		return TLY_EPEER;
	if (c->status[j] == MEMBER_SUMMED)
		return TLY_EREPLAY;
	if (peeked->header.type == TLY_MSG_SET_SIGN && c->voted[j])
		return TLY_EREPLAY;
	if (peeked->header.type == TLY_MSG_SHARE_SUM &&
	    peeked->body_len != 4 + TLY_HASH_BYTES + c->d * TLY_FIELD_ELEMENT_BYTES)
		return TLY_EFORMAT;
	*member = j;
	return TLY_OK;
}

/* A member's message of rounds 2-3: member_of's checks, then the
 * signature, then the handler of its type. */
static tly_err
from_member(struct tly_committee_coord *c, const struct tly_msg *peeked, const uint8_t *msg,
            size_t len, struct tly_outbox *box)
{
	struct tly_msg opened;
	long j;
	tly_err rv = member_of(c, peeked, &j);

	if (rv == TLY_OK)
		rv = tly_msg_open(msg, len, c->roster, &opened);
	if (rv != TLY_OK)
		return rv;
	switch (peeked->header.type) {
	case TLY_MSG_SET_SIGN:
		return on_vote(c, j, &opened, box);
	case TLY_MSG_SHARE_SUM:
		return on_share_sum(c, j, &opened, box);
	default:
		return on_complaint(c, j, &opened, box);
	}
}

tly_err
tly_committee_coord_receive(struct tly_committee_coord *c, const uint8_t *msg, size_t len,
                            struct tly_outbox *box)
{
	struct tly_msg peeked;
	tly_err rv = tly_msg_peek_for(msg, len, c->query_id, &peeked);

	if (rv != TLY_OK)
		return rv;
	if (c->phase == TLY_COMMITTEE_DONE || c->phase == TLY_COMMITTEE_ABORTED)
		return TLY_ESTATE;
	switch (peeked.header.type) {
	case TLY_MSG_SHARE:
		return relay_share(c, &peeked, msg, len, box);
	case TLY_MSG_SET_SIGN:
	case TLY_MSG_SHARE_SUM:
	case TLY_MSG_COMPLAINT:
		return from_member(c, &peeked, msg, len, box);
	default:
		return TLY_ESTATE;
	}
}

tly_err
tly_committee_coord_close_round(struct tly_committee_coord *c, struct tly_outbox *box)
{
	struct tly_idlist set = {0};
	tly_err rv;

	switch (c->phase) {
	case TLY_COMMITTEE_SHARING:
		/* Round 2: the nodes that delivered a share to every member. */
		rv = select_participants(c, delivered_all, &set);
		if (rv == TLY_OK)
			rv = set.count < c->query.min_contributors ? abort_too_few(c, box)
			                                           : announce(c, 0, &set, box);
		tly_idlist_fini(&set);
		return rv;
	case TLY_COMMITTEE_SUMMING:
		/* Members still silent at the deadline are not waited for. */
		for (uint32_t a = 0; a <= c->attempt; a++)
			if (sums_for(c, a) >= c->t)
				return reconstruct(c, a, box);
		rv = has_complaints(c) ? reannounce(c, box) : TLY_ETOOFEW;
		return rv == TLY_ETOOFEW ? abort_too_few(c, box) : rv;
	default:
		return TLY_ESTATE;
	}
}

/* ---- the result ---- */

static int
not_contributor(const struct tly_committee_coord *c, uint32_t i)
{
	return !tly_idlist_contains(&c->sets[c->done_attempt], c->query.participants.ids[i]);
}

static tly_err
select_members(const struct tly_committee_coord *c, int faulty, struct tly_idlist *out)
{
	struct tly_idlist list = {0};

	list.ids = malloc(c->k * sizeof *list.ids);
	if (list.ids == NULL)
		return TLY_ENOMEM;
	for (unsigned j = 0; j < c->k; j++) {
		int is_faulty = c->status[j] == MEMBER_FAULTY;
		if (faulty ? is_faulty : !is_faulty && !c->answered[j])
			list.ids[list.count++] = c->query.committee.ids[j];
	}
	*out = list;
	return TLY_OK;
}

static tly_err
copy_list(const struct tly_idlist *from, struct tly_idlist *to)
{
	struct tly_idlist list = {.count = from->count};

	list.ids = malloc((from->count + 1) * sizeof *list.ids);
	if (list.ids == NULL)
		return TLY_ENOMEM;
	memcpy(list.ids, from->ids, from->count * sizeof *list.ids);
	*to = list;
	return TLY_OK;
}

void
tly_committee_result_fini(struct tly_committee_result *r)
{
	if (r == NULL)
		return;
	free(r->cells);
	tly_idlist_fini(&r->contributors);
	tly_idlist_fini(&r->dropped);
	tly_idlist_fini(&r->unresponsive);
	tly_idlist_fini(&r->faulty);
	memset(r, 0, sizeof *r);
}

tly_err
tly_committee_coord_result(const struct tly_committee_coord *c, struct tly_committee_result *out)
{
	struct tly_committee_result r;
	tly_err rv = TLY_ESTATE;

	memset(&r, 0, sizeof r);
	if (c->phase != TLY_COMMITTEE_DONE)
		goto out;
	rv = TLY_ENOMEM;
	r.d = c->d;
	r.attempt = c->done_attempt;
	r.cells = malloc(c->d * sizeof *r.cells);
	if (r.cells == NULL)
		goto out;
	memcpy(r.cells, c->cells, c->d * sizeof *r.cells);
	rv = copy_list(&c->sets[c->done_attempt], &r.contributors);
	if (rv == TLY_OK)
		rv = select_participants(c, not_contributor, &r.dropped);
	if (rv == TLY_OK)
		rv = select_members(c, 0, &r.unresponsive);
	if (rv == TLY_OK)
		rv = select_members(c, 1, &r.faulty);
	if (rv != TLY_OK)
		goto out;
	*out = r;
	return TLY_OK;
out:
	tly_committee_result_fini(&r);
	return rv;
}
