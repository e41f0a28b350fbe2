/*
 * committee_member.c - a committee member: keeps one share per node
 * (round 1), answers an announced set with its one vote (SET_SIGN) or a
 * complaint (round 2), and sums that set once it holds q votes for it
 * (SET_CERT, round 3). See committee.h for the contract.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "committee.h"
#include "committee_impl.h"
#include "crypto/wipe.h"

enum share_state {
	SHARE_NONE = 0, /* nothing from this node yet */
	SHARE_GOOD,     /* opened, every element < p */
	SHARE_BAD,      /* its one SHARE did not open or held an element >= p */
};

enum member_phase {
	MEMBER_COLLECTING = 1, /* shares in, announcements answered by complaints */
	MEMBER_SIGNED,         /* its one vote is out: waits for that set's certificate */
	MEMBER_ANSWERED,       /* the one share-sum is sent: nothing more */
	MEMBER_ABORTED,
};

struct tly_committee_member {
	const struct tly_identity *self;
	const struct tly_roster *roster;
	struct tly_query query;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	size_t d;
	enum member_phase phase;
	int complained;        /* an earlier ANNOUNCE was answered by a complaint */
	uint32_t last_attempt; /* ... with this attempt number */
	uint8_t *state;        /* per participant: enum share_state */
	uint64_t **shares;     /* per participant: d elements when SHARE_GOOD */
	uint8_t *plain;        /* plain_bytes(d): an envelope's plaintext, wiped after use */
	/* MEMBER_SIGNED: the one set this member voted for. */
	uint32_t signed_attempt;
	struct tly_idlist signed_set;
	uint8_t signed_hash[TLY_HASH_BYTES];
	int no_agreement; /* TESTS ONLY: tly_committee_member_skip_agreement */
};

/* Room for either form's plaintext: d elements or a seed. */
static size_t
plain_bytes(size_t d)
{
	size_t whole = d * TLY_FIELD_ELEMENT_BYTES;
	return whole > TLY_SHARE_SEED_BYTES ? whole : TLY_SHARE_SEED_BYTES;
}

/* Wipe and free every share; the states stay (a node's one SHARE is spent). */
static void
forget_shares(struct tly_committee_member *m)
{
	if (m->shares == NULL)
		return;
	for (uint32_t i = 0; i < m->query.participants.count; i++) {
		if (m->shares[i] == NULL)
			continue;
		tly_wipe_free(m->shares[i], m->d * sizeof **m->shares);
		m->shares[i] = NULL;
	}
}

void
tly_committee_member_free(struct tly_committee_member *m)
{
	if (m == NULL)
		return;
	forget_shares(m);
	tly_wipe_free(m->plain, plain_bytes(m->d));
	free(m->shares);
	free(m->state);
	tly_idlist_fini(&m->signed_set);
	tly_query_fini(&m->query);
	free(m);
}

void
tly_committee_member_skip_agreement(struct tly_committee_member *m)
{
	m->no_agreement = 1;
}

tly_err
tly_committee_member_alloc(struct tly_committee_member **out, const struct tly_identity *self,
                           const struct tly_roster *roster,
                           const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                           const struct tly_query *q)
{
	struct tly_committee_member *m;
	tly_err rv = TLY_ENOMEM;

	TLY_REQUIRE(self->sign != NULL && self->kx_sk != NULL);
	if (!tly_idlist_contains(&q->committee, self->id))
		return TLY_EPEER;
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return TLY_ENOMEM;
	m->self = self;
	m->roster = roster;
	m->phase = MEMBER_COLLECTING;
	memcpy(m->query_id, query_id, TLY_QUERY_ID_BYTES);
	if (tly_query_copy(&m->query, q) != TLY_OK)
		goto out;
	m->d = m->query.cells;
	m->state = calloc(m->query.participants.count, sizeof *m->state);
	m->shares = calloc(m->query.participants.count, sizeof *m->shares);
	m->plain = malloc(plain_bytes(m->d));
	if (m->state == NULL || m->shares == NULL || m->plain == NULL)
		goto out;
	*out = m;
	return TLY_OK;
out:
	tly_committee_member_free(m);
	return rv;
}

/* Round 1: open a SHARE's envelope into share[0..d): a whole share's d
 * elements (each < p), or a seeded share's seed, expanded. */
static tly_err
open_share(struct tly_committee_member *m, const struct tly_msg *opened, uint64_t *share)
{
	const struct tly_party *sender = tly_roster_find(m->roster, opened->header.sender);
	enum tly_share_form form;
	const uint8_t *cipher;
	size_t cipher_len;
	tly_err rv = tly_share_form_decode(&form, &cipher, &cipher_len, opened->body,
	                                   opened->body_len, m->d);

	if (rv == TLY_OK)
		rv = tly_envelope_open(m->plain, m->self->kx_sk, m->self->kx_pk, sender->kx_pk,
		                       opened->raw_header, cipher, cipher_len);
	if (rv != TLY_OK)
		return rv;
	if (form == TLY_SHARE_WHOLE)
		return tly_field_vec_load(share, m->plain, m->d); /* each element < p */
	return tly_committee_seed_expand(m->plain, m->query_id, opened->header.sender, m->self->id,
	                                 share, m->d);
}

/* Round 1: an authentic, well-sized SHARE is the node's one share,
 * whatever it turns out to hold: bad until it opens and every element is
 * < p. */
static tly_err
take_share(struct tly_committee_member *m, long node, const struct tly_msg *opened)
{
	uint64_t *share = malloc(m->d * sizeof *share);
	tly_err rv;

	if (share == NULL)
		return TLY_ENOMEM;
	m->state[node] = SHARE_BAD;
	rv = open_share(m, opened, share);
	TLY_WIPE(m->plain, plain_bytes(m->d));
	if (rv != TLY_OK) {
		tly_wipe_free(share, m->d * sizeof *share);
		return rv;
	}
	m->state[node] = SHARE_GOOD;
	m->shares[node] = share;
	return TLY_OK;
}

/* Round 1: the checks on one node's share, relayed by the coordinator,
 * before it is opened. *node: its sender's place among the participants. */
static tly_err
share_check(const struct tly_committee_member *m, const struct tly_msg *peeked, long *node)
{
	if (m->phase != MEMBER_COLLECTING)
		return TLY_ESTATE;
	if (peeked->header.recipient != m->self->id)
		return TLY_EPEER;
	*node = tly_idlist_find(&m->query.participants, peeked->header.sender);
	if (*node < 0)
		return TLY_EPEER;
	if (m->state[*node] != SHARE_NONE)
		return TLY_EREPLAY;
	/* Either form's exact length, checked again in full once opened. */
	if (peeked->body_len != tly_share_body_bytes(TLY_SHARE_WHOLE, m->d) &&
	    peeked->body_len != tly_share_body_bytes(TLY_SHARE_SEEDED, m->d))
		return TLY_EFORMAT;
	return TLY_OK;
}

/* This member's signed message of `type`, to the coordinator. */
static tly_err
seal_to_coordinator(const struct tly_committee_member *m, enum tly_msg_type type,
                    const struct tly_buf *body, struct tly_outbox *out)
{
	struct tly_msg_header header = {
	    .type = type,
	    .sender = m->self->id,
	    .recipient = TLY_PARTY_COORDINATOR,
	};

	memcpy(header.query_id, m->query_id, TLY_QUERY_ID_BYTES);
	return tly_msg_seal_to(out, TLY_PARTY_COORDINATOR, &header, body->data, body->len,
	                       m->self->sign);
}

/* Round 3: the sum of the announced contributors' shares, sent once. */
static tly_err
send_share_sum(struct tly_committee_member *m, uint32_t attempt, const struct tly_idlist *set,
               struct tly_outbox *out)
{
	uint8_t set_hash[TLY_HASH_BYTES];
	struct tly_buf body;
	uint64_t *sum;
	tly_err rv = TLY_ENOMEM;

	tly_buf_init(&body);
	sum = calloc(m->d, sizeof *sum);
	if (sum == NULL)
		goto out;
	for (uint32_t i = 0; i < set->count; i++) {
		long node = tly_idlist_find(&m->query.participants, set->ids[i]);
		tly_field_vec_add(sum, m->shares[node], m->d);
	}
	tly_idlist_hash(set_hash, m->query_id, set);
	rv = tly_share_sum_encode(&body, attempt, set_hash, sum, m->d);
	if (rv == TLY_OK)
		rv = seal_to_coordinator(m, TLY_MSG_SHARE_SUM, &body, out);
	if (rv != TLY_OK)
		goto out;
	/* The one share-sum is out: no other set may be answered, and the
	 * shares have no further use. */
	m->phase = MEMBER_ANSWERED;
	forget_shares(m);
out:
	tly_wipe_free(sum, m->d * sizeof *sum);
	tly_buf_fini(&body);
	return rv;
}

/* Round 3: the announced contributors whose share is missing or bad. */
static tly_err
send_complaint(struct tly_committee_member *m, uint32_t attempt, const struct tly_idlist *set,
               struct tly_outbox *out)
{
	struct tly_idlist missing = {0};
	struct tly_buf body;
	tly_err rv = TLY_ENOMEM;

	tly_buf_init(&body);
	missing.ids = malloc(set->count * sizeof *missing.ids);
	if (missing.ids == NULL)
		goto out;
	for (uint32_t i = 0; i < set->count; i++) {
		long node = tly_idlist_find(&m->query.participants, set->ids[i]);
		if (m->state[node] != SHARE_GOOD)
			missing.ids[missing.count++] = set->ids[i];
	}
	rv = tly_attempt_list_encode(&body, attempt, &missing);
	if (rv == TLY_OK)
		rv = seal_to_coordinator(m, TLY_MSG_COMPLAINT, &body, out);
	if (rv != TLY_OK)
		goto out;
	m->complained = 1;
	m->last_attempt = attempt;
out:
	tly_idlist_fini(&missing);
	tly_buf_fini(&body);
	return rv;
}

/* The rules an announced set must meet before a member answers it. */
static tly_err
check_set(const struct tly_committee_member *m, uint32_t attempt, const struct tly_idlist *set)
{
	if (m->complained && attempt < m->last_attempt)
		return TLY_EREPLAY;
	for (uint32_t i = 0; i < set->count; i++)
		if (!tly_idlist_contains(&m->query.participants, set->ids[i]))
			return TLY_EPEER;
	if (set->count < m->query.min_contributors)
		return TLY_ETOOFEW;
	return TLY_OK;
}

/* Round 2: this member's one vote, for the announced set it can sum.
 * Takes `set` over on success. */
static tly_err
send_vote(struct tly_committee_member *m, uint32_t attempt, struct tly_idlist *set,
          struct tly_outbox *out)
{
	uint8_t set_hash[TLY_HASH_BYTES];
	struct tly_buf body;
	tly_err rv;

	tly_buf_init(&body);
	tly_idlist_hash(set_hash, m->query_id, set);
	rv = tly_set_sign_encode(&body, attempt, set_hash);
	if (rv == TLY_OK)
		rv = seal_to_coordinator(m, TLY_MSG_SET_SIGN, &body, out);
	tly_buf_fini(&body);
	if (rv != TLY_OK)
		return rv;
	/* Signed: no other set, under any attempt, will get this member's
	 * vote or its share-sum. */
	m->phase = MEMBER_SIGNED;
	m->signed_attempt = attempt;
	m->signed_set = *set;
	memset(set, 0, sizeof *set);
	memcpy(m->signed_hash, set_hash, TLY_HASH_BYTES);
	return TLY_OK;
}

/* Round 2: the coordinator's contributor set. */
static tly_err
on_announce(struct tly_committee_member *m, const struct tly_msg *opened, struct tly_outbox *out)
{
	struct tly_idlist set = {0};
	uint32_t attempt;
	int complete = 1;
	tly_err rv = tly_attempt_list_decode(&attempt, &set, opened->body, opened->body_len);

	if (rv != TLY_OK)
		return rv;
	if (m->phase == MEMBER_SIGNED) {
		/* One vote per query: the same set again is a replay, any other
		 * set is the coordinator asking for a second vote. */
		uint8_t hash[TLY_HASH_BYTES];
		tly_idlist_hash(hash, m->query_id, &set);
		rv = attempt == m->signed_attempt &&
		             sodium_memcmp(hash, m->signed_hash, TLY_HASH_BYTES) == 0
		         ? TLY_EREPLAY
		         : TLY_EPEER;
		goto out;
	}
	rv = check_set(m, attempt, &set);
	if (rv != TLY_OK)
		goto out;
	for (uint32_t i = 0; i < set.count && complete; i++)
		complete =
		    m->state[tly_idlist_find(&m->query.participants, set.ids[i])] == SHARE_GOOD;
	if (!complete)
		rv = send_complaint(m, attempt, &set, out);
	else if (m->no_agreement)
		rv = send_share_sum(m, attempt, &set, out);
	else
		rv = send_vote(m, attempt, &set, out);
out:
	tly_idlist_fini(&set);
	return rv;
}

/* Whether cert holds at least q valid votes, from distinct committee
 * members (ids strictly increasing, decoder), for exactly the (attempt,
 * set) this member voted for. */
static tly_err
check_cert(const struct tly_committee_member *m, const struct tly_set_cert *cert)
{
	uint8_t hash[TLY_HASH_BYTES];

	tly_idlist_hash(hash, m->query_id, &cert->set);
	if (cert->attempt != m->signed_attempt ||
	    sodium_memcmp(hash, m->signed_hash, TLY_HASH_BYTES) != 0)
		return TLY_EPEER; /* a certificate for a set this member did not sign */
	if (cert->votes.count < m->query.quorum)
		return TLY_ETOOFEW;
	for (uint32_t i = 0; i < cert->votes.count; i++) {
		const struct tly_signature_entry *vote = &cert->votes.entries[i];
		if (!tly_idlist_contains(&m->query.committee, vote->id))
			return TLY_EPEER; /* a vote by a non-member */
		tly_err rv =
		    tly_committee_vote_verify(m->roster, m->query_id, vote->id, cert->attempt,
		                              m->signed_hash, vote->signature);
		if (rv != TLY_OK)
			return rv;
	}
	return TLY_OK;
}

/* Round 3: the certificate for the set this member voted for. */
static tly_err
on_cert(struct tly_committee_member *m, const struct tly_msg *opened, struct tly_outbox *out)
{
	struct tly_set_cert cert;
	tly_err rv = tly_set_cert_decode(&cert, opened->body, opened->body_len);

	if (rv != TLY_OK)
		return rv;
	rv = check_cert(m, &cert);
	if (rv == TLY_OK)
		rv = send_share_sum(m, m->signed_attempt, &m->signed_set, out);
	tly_set_cert_fini(&cert);
	return rv;
}

static tly_err
on_abort(struct tly_committee_member *m, const struct tly_msg *opened)
{
	uint32_t reason;
	tly_err rv = tly_abort_decode(&reason, opened->body, opened->body_len);

	if (rv != TLY_OK)
		return rv;
	m->phase = MEMBER_ABORTED;
	forget_shares(m);
	return TLY_EABORTED;
}

/* The checks before a message is opened, cheap before the signature: the
 * phase its type needs and its recipient (this member; for an ABORT also
 * every party), and a SHARE's (share_check). */
static tly_err
precheck(const struct tly_committee_member *m, const struct tly_msg *peeked, long *node)
{
	uint32_t to = peeked->header.recipient;

	switch (peeked->header.type) {
	case TLY_MSG_SHARE:
		return share_check(m, peeked, node);
	case TLY_MSG_ANNOUNCE:
		if (m->phase == MEMBER_ANSWERED)
			return TLY_ESTATE;
		break;
	case TLY_MSG_SET_CERT:
		if (m->phase != MEMBER_SIGNED || m->no_agreement)
			return TLY_ESTATE;
		break;
	case TLY_MSG_ABORT:
		if (to == TLY_PARTY_ALL)
			return TLY_OK;
		break;
	default:
		return TLY_ESTATE;
	}
	return to == m->self->id ? TLY_OK : TLY_EPEER;
}

tly_err
tly_committee_member_receive(struct tly_committee_member *m, const uint8_t *msg, size_t len,
                             struct tly_outbox *out)
{
	struct tly_msg peeked, opened;
	long node = -1;
	tly_err rv = tly_msg_peek_for(msg, len, m->query_id, &peeked);

	if (rv == TLY_OK && m->phase == MEMBER_ABORTED)
		rv = TLY_ESTATE;
	if (rv == TLY_OK)
		rv = precheck(m, &peeked, &node);
	if (rv == TLY_OK)
		rv = tly_msg_open(msg, len, m->roster, &opened);
	if (rv != TLY_OK)
		return rv;
	switch (peeked.header.type) {
	case TLY_MSG_SHARE:
		return take_share(m, node, &opened);
	case TLY_MSG_ANNOUNCE:
		return on_announce(m, &opened, out);
	case TLY_MSG_SET_CERT:
		return on_cert(m, &opened, out);
	default:
		return on_abort(m, &opened);
	}
}
