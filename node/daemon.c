#include "daemon.h"
#include "node/node_log.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "node/ledger_votes.h"
#include "node/node.h"
#include "protocol/committee.h"
#include "protocol/secagg.h"
#include "store/keys.h"
#include "query/planner.h"
#include "net/process.h"
#include "net/signals.h"
#include "net/transport.h"

enum { MEMBER_SLOTS = 8, RECV_TIMEOUT_MS = 250 };

/* Set by SIGTERM or SIGINT (net/signals.h), read by the loop. */
static const volatile sig_atomic_t *stopping;

static void note(uint32_t id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line per event: time, node, what happened. */
static void
note(uint32_t id, const char *fmt, ...)
{
	char who[32];
	va_list ap;

	snprintf(who, sizeof who, "tally-node %u", id);
	va_start(ap, fmt);
	tly_process_vnote(who, fmt, ap);
	va_end(ap);
}

/* A query this node is in after its QUERY: as a committee member, or as a
 * pairwise-masking client (its secrets live here between rounds). */
struct member_slot {
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_committee_member *member;
	struct tly_secagg_client *client;
	uint64_t used;    /* for replacing the oldest */
	uint64_t expires; /* a client's: CLOCK_MONOTONIC ms after which it is wiped */
};

/* A masking client outlives its query's rounds by at most this many round
 * deadlines: a coordinator that vanished mid-query does not leave its
 * secrets in memory until 8 newer queries push it out. */
enum { CLIENT_LIFE_ROUNDS = 8 };

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct daemon {
	struct tly_node node;
	struct tly_link *link;
	struct member_slot slots[MEMBER_SLOTS];
	uint64_t clock;
};

static void
send_outbox(struct daemon *d, struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++) {
		tly_err rv = tly_link_send(d->link, box->items[i].data, box->items[i].len);
		if (rv != TLY_OK)
			note(d->node.config.id, "send failed: %s", tly_strerror(rv));
	}
	tly_outbox_clear(box);
}

static struct member_slot *
find_slot(struct daemon *d, const uint8_t query_id[TLY_QUERY_ID_BYTES])
{
	for (size_t i = 0; i < MEMBER_SLOTS; i++)
		if ((d->slots[i].member != NULL || d->slots[i].client != NULL) &&
		    memcmp(d->slots[i].query_id, query_id, TLY_QUERY_ID_BYTES) == 0)
			return &d->slots[i];
	return NULL;
}

/* Empty a slot: the member's or client's secrets wiped and freed. */
static void
slot_clear(struct member_slot *slot)
{
	tly_committee_member_free(slot->member);
	tly_secagg_client_free(slot->client);
	slot->member = NULL;
	slot->client = NULL;
}

/* A slot for a new query: a free one, or the least recently used. */
static struct member_slot *
new_slot(struct daemon *d)
{
	struct member_slot *oldest = &d->slots[0];
	for (size_t i = 0; i < MEMBER_SLOTS; i++) {
		if (d->slots[i].member == NULL && d->slots[i].client == NULL)
			return &d->slots[i];
		if (d->slots[i].used < oldest->used)
			oldest = &d->slots[i];
	}
	slot_clear(oldest);
	return oldest;
}

/* Sign and send a node -> coordinator message about a query. */
static void
send_to_coordinator(struct daemon *d, enum tly_msg_type type,
                    const uint8_t query_id[TLY_QUERY_ID_BYTES], const struct tly_buf *body)
{
	struct tly_msg_header header = {
	    .type = type, .sender = d->node.config.id, .recipient = TLY_PARTY_COORDINATOR};
	struct tly_buf msg;

	memcpy(header.query_id, query_id, TLY_QUERY_ID_BYTES);
	tly_buf_init(&msg);
	if (tly_msg_seal(&msg, &header, body->data, body->len, d->node.identity.sign) == TLY_OK &&
	    tly_link_send(d->link, msg.data, msg.len) == TLY_OK)
		;
	else
		note(d->node.config.id, "could not send a message of type %d", (int)type);
	tly_buf_fini(&msg);
}

static uint32_t
refusal_reason(tly_err rv)
{
	return rv == TLY_EBUDGET || rv == TLY_EREPLAY || rv == TLY_EPEER || rv == TLY_EINVAL
	           ? TLY_ABORT_REFUSED
	           : TLY_ABORT_INTERNAL;
}

/* Who asked, for the log line: the planner the coordinator named in the
 * signed spec (query/planner.h), or "(none named)". */
static void
note_planner(uint32_t self, const char *qid, const struct tly_query *q)
{
	json_t *spec = q->spec_json != NULL ? json_loadb(q->spec_json, q->spec_len, 0, NULL) : NULL;
	const char *planner = json_string_value(json_object_get(spec, "planner"));

	note(self, "query %s: asked by planner %s", qid,
	     planner != NULL && tly_planner_name_valid(planner) ? planner : "(none named)");
	json_decref(spec);
}

/* The member state in a fresh slot, and a note saying whether it serves. */
static void
serve(struct daemon *d, const uint8_t query_id[TLY_QUERY_ID_BYTES], const char *qid,
      const struct tly_query *q)
{
	uint32_t self = d->node.config.id;
	struct member_slot *slot = new_slot(d);
	tly_err rv = tly_committee_member_alloc(&slot->member, &d->node.identity, &d->node.roster,
	                                        query_id, q);

	if (rv != TLY_OK) {
		slot->member = NULL;
		note(self, "query %s: cannot serve on the committee: %s", qid, tly_strerror(rv));
		return;
	}
	memcpy(slot->query_id, query_id, TLY_QUERY_ID_BYTES);
	slot->used = ++d->clock;
	note(self, "query %s: serving on the committee", qid);
}

/* A member's state for the query, so that relayed shares find it (or a
 * note saying why this node does not serve). The member keeps its own
 * copy of q. */
static void
join_committee(struct daemon *d, const uint8_t query_id[TLY_QUERY_ID_BYTES], const char *qid,
               const struct tly_query *q)
{
	uint32_t self = d->node.config.id;

	if (!d->node.config.committee) {
		note(self,
		     "query %s: named to the committee, but this node's config says "
		     "committee = no",
		     qid);
		return;
	}
	if (find_slot(d, query_id) != NULL)
		return;
	serve(d, query_id, qid, q);
}

/* A REFUSAL to the coordinator, saying why. */
static void
send_refusal(struct daemon *d, const uint8_t query_id[TLY_QUERY_ID_BYTES], uint32_t reason,
             const char *why)
{
	struct tly_buf body;

	tly_buf_init(&body);
	if (tly_refusal_encode(&body, reason, why) == TLY_OK)
		send_to_coordinator(d, TLY_MSG_REFUSAL, query_id, &body);
	tly_buf_fini(&body);
}

/* No query outside the log: a member that sums shares for it would
 * release the others' answers (node_log.h). 0 when it is not there: the
 * refusal is noted and, by a participant, sent. */
static int
in_log(struct daemon *d, const char *qid, const uint8_t query_id[TLY_QUERY_ID_BYTES],
       const struct tly_query *q, int participant)
{
	char why_log[400];

	if (tly_node_check_log(&d->node, query_id, q, NULL, why_log, sizeof why_log) == TLY_OK)
		return 1;
	note(d->node.config.id, "query %s: %s", qid, why_log);
	if (participant)
		send_refusal(d, query_id, TLY_ABORT_REFUSED, why_log);
	return 0;
}

/* What a participant sends for its answer: the receipt and its shares, or
 * a refusal saying why. */
static void
send_answer(struct daemon *d, const uint8_t query_id[TLY_QUERY_ID_BYTES], tly_err rv,
            struct tly_outbox *box, const struct tly_ledger_receipt *receipt, const char *why)
{
	struct tly_buf body;

	if (rv != TLY_OK) {
		send_refusal(d, query_id, refusal_reason(rv), why);
		return;
	}
	tly_buf_init(&body);
	if (receipt->node_id != 0 && tly_ledger_receipt_encode(receipt, &body) == TLY_OK)
		send_to_coordinator(d, TLY_MSG_RECEIPT, query_id, &body);
	tly_buf_fini(&body);
	send_outbox(d, box);
}

/* The answer's outcome in the node's log, and what only the trust's log
 * may hold (node->local_note: never sent). */
static void
note_answer(struct daemon *d, const char *qid, const char *why)
{
	uint32_t self = d->node.config.id;

	note(self, "query %s: %s", qid, why);
	if (d->node.local_note[0] != '\0')
		note(self, "query %s: %s", qid, d->node.local_note);
}

/* A participant's answer (node.h, steps 1b to 5), from the query on_query
 * decoded. */
static void
answer(struct daemon *d, const char *qid, const uint8_t query_id[TLY_QUERY_ID_BYTES],
       const struct tly_query *q)
{
	struct tly_outbox box;
	struct tly_ledger_receipt receipt;
	char why[600];

	struct tly_secagg_client *client = NULL;
	tly_err rv;

	tly_outbox_init(&box);
	memset(&receipt, 0, sizeof receipt);
	if (q->protocol == TLY_PROTOCOL_COMMITTEE)
		rv = tly_node_answer(&d->node, query_id, q, &box, &receipt, why, sizeof why);
	else
		rv = tly_node_answer_masked(&d->node, query_id, q, &client, &box, &receipt, why,
		                            sizeof why);
	note_answer(d, qid, why);
	if (client != NULL) {
		/* Kept before anything is sent, so that the rounds find it. */
		struct member_slot *slot = new_slot(d);
		memcpy(slot->query_id, query_id, TLY_QUERY_ID_BYTES);
		slot->client = client;
		slot->used = ++d->clock;
		slot->expires = now_ms() + (uint64_t)CLIENT_LIFE_ROUNDS * q->deadline_ms;
	}
	send_answer(d, query_id, rv, &box, &receipt, why);
	tly_outbox_fini(&box);
}

/* Step 1 (node.h): the QUERY verified and decoded, once. A bad one is not
 * attributable to the coordinator: logged here, never in the ledger, or
 * anyone who can reach the node could grow it. */
static tly_err
read_query(struct daemon *d, const char *qid, const uint8_t *msg, size_t len,
           uint8_t query_id[TLY_QUERY_ID_BYTES], struct tly_query *q)
{
	uint32_t self = d->node.config.id;
	tly_err rv = tly_query_read_checked(&d->node.roster, self, msg, len, tly_node_query_check,
	                                    query_id, q);

	if (rv != TLY_OK)
		note(self, "query %s: not a valid QUERY (%s): refused, not recorded in the ledger",
		     qid, tly_strerror(rv));
	return rv;
}

/* A QUERY is read and verified once, here (node.h step 1); the member
 * state and the answer both take the decoded query. */
static void
on_query(struct daemon *d, const uint8_t *msg, size_t len, const struct tly_msg *peeked)
{
	uint32_t self = d->node.config.id;
	struct tly_query q;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	char qid[2 * TLY_QUERY_ID_BYTES + 1];

	tly_hex(qid, peeked->header.query_id, TLY_QUERY_ID_BYTES);
	if (read_query(d, qid, msg, len, query_id, &q) != TLY_OK)
		return;
	int member = tly_idlist_contains(&q.committee, self);
	int participant = tly_idlist_contains(&q.participants, self);
	note_planner(self, qid, &q);
	if ((member || participant) && in_log(d, qid, query_id, &q, participant)) {
		/* The member state first, so that relayed shares find it. */
		if (member)
			join_committee(d, query_id, qid, &q);
		if (participant)
			answer(d, qid, query_id, &q);
	}
	tly_query_fini(&q);
}

/* One vote per query, across restarts (node/ledger_votes.h): record every
 * SET_SIGN in the box durably before it leaves. 0 when one may not be
 * sent: the query holds a vote for another set, or it could not be
 * recorded; the caller then sends nothing. */
static int
record_votes(struct daemon *d, const struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++) {
		struct tly_msg m;
		uint8_t set_hash[TLY_HASH_BYTES];
		uint32_t attempt;
		if (tly_msg_peek(box->items[i].data, box->items[i].len, &m) != TLY_OK ||
		    m.header.type != TLY_MSG_SET_SIGN)
			continue;
		if (tly_set_sign_decode(&attempt, set_hash, m.body, m.body_len) != TLY_OK ||
		    tly_ledger_vote_record(d->node.ledger, m.header.query_id, attempt, set_hash) !=
		        TLY_OK)
			return 0;
	}
	return 1;
}

/* Why the member refused a message, in the node's log. */
static void
note_refused(uint32_t self, const char *qid, enum tly_msg_type type, tly_err rv)
{
	if (rv != TLY_OK && type == TLY_MSG_SET_CERT)
		note(self,
		     "query %s: committee: set certificate refused (%s): no share-sum released",
		     qid, tly_strerror(rv));
	else if (rv == TLY_EPEER && type == TLY_MSG_ANNOUNCE)
		note(self,
		     "query %s: committee: refused to vote for a second contributor set "
		     "(one vote per query)",
		     qid);
	else if (rv != TLY_OK && rv != TLY_EABORTED)
		note(self, "committee: message of type %d refused: %s", (int)type,
		     tly_strerror(rv));
}

/* The ledger holds another vote for this query: nothing in box is sent
 * and the member is dropped. The state machine holds the vote it made: a
 * certificate for it must find no member to release a share-sum. */
static void
leave_committee(struct daemon *d, struct member_slot *slot, const char *qid, struct tly_outbox *box)
{
	note(d->node.config.id,
	     "query %s: committee: this node's ledger holds its vote for another "
	     "contributor set in this query (one vote per query, across restarts): "
	     "nothing sent, and this node leaves the query's committee",
	     qid);
	tly_outbox_fini(box);
	slot_clear(slot);
}

/* A committee message for a query this node serves: the member takes it,
 * its votes are recorded before anything leaves, its answer is sent. */
static void
to_member(struct daemon *d, struct member_slot *slot, const uint8_t *msg, size_t len,
          const struct tly_msg *peeked)
{
	uint32_t self = d->node.config.id;
	struct tly_outbox box;
	char qid[2 * TLY_QUERY_ID_BYTES + 1];

	tly_outbox_init(&box);
	slot->used = ++d->clock;
	tly_err rv = tly_committee_member_receive(slot->member, msg, len, &box);
	tly_hex(qid, peeked->header.query_id, TLY_QUERY_ID_BYTES);
	note_refused(self, qid, peeked->header.type, rv);
	if (!record_votes(d, &box)) {
		leave_committee(d, slot, qid, &box);
		return;
	}
	if (box.count > 0)
		note(self, "committee: answering a message of type %d with %zu message(s)",
		     (int)peeked->header.type, box.count);
	send_outbox(d, &box);
	tly_outbox_fini(&box);
	if (rv == TLY_EABORTED || peeked->header.type == TLY_MSG_ABORT)
		slot_clear(slot);
}

/* A round of pairwise masking for a query this node answers: the client
 * takes the message and its answer is sent. Its secrets are wiped when it
 * is done or has stopped. */
static void
to_client(struct daemon *d, struct member_slot *slot, const uint8_t *msg, size_t len,
          const struct tly_msg *peeked)
{
	uint32_t self = d->node.config.id;
	struct tly_outbox box;
	char qid[2 * TLY_QUERY_ID_BYTES + 1];

	tly_outbox_init(&box);
	slot->used = ++d->clock;
	slot->expires = now_ms() + (uint64_t)CLIENT_LIFE_ROUNDS *
	                               tly_secagg_client_query(slot->client)->deadline_ms;
	tly_hex(qid, peeked->header.query_id, TLY_QUERY_ID_BYTES);
	tly_err rv = tly_secagg_client_receive(slot->client, msg, len, &box);
	enum tly_secagg_client_phase phase = tly_secagg_client_phase(slot->client);
	if (rv != TLY_OK && rv != TLY_EABORTED)
		note(self, "query %s: masking: message of type %d refused: %s%s", qid,
		     (int)peeked->header.type, tly_strerror(rv),
		     phase == TLY_SECAGG_CLIENT_ABORTED ? "; this node stops and wipes its secrets"
		                                        : "");
	if (box.count > 0)
		note(self, "query %s: masking: answering a message of type %d with %zu message(s)",
		     qid, (int)peeked->header.type, box.count);
	send_outbox(d, &box);
	tly_outbox_fini(&box);
	if (phase == TLY_SECAGG_CLIENT_DONE || phase == TLY_SECAGG_CLIENT_ABORTED) {
		note(self, "query %s: masking: %s", qid,
		     phase == TLY_SECAGG_CLIENT_DONE ? "unmasking shares sent; done" : "stopped");
		slot_clear(slot);
	}
}

/* Fault injection for the dropout tests (tests/test_masking.c): with
 * TALLY_TEST_DIE_ON set to a message type's number (wire/messages.h), the
 * node kills itself with SIGKILL when one arrives, before reading it, as a
 * crash or a pulled cable would at that round. Unset in every real
 * deployment. */
static void
die_point(uint32_t self, uint8_t type)
{
	const char *on = getenv("TALLY_TEST_DIE_ON");
	if (on != NULL && strtoul(on, NULL, 10) == type) {
		note(self, "TALLY_TEST_DIE_ON=%s: killing this process (a test)", on);
		raise(SIGKILL);
	}
}

static void
on_message(struct daemon *d, const uint8_t *msg, size_t len)
{
	struct tly_msg peeked;
	uint32_t self = d->node.config.id;

	if (tly_msg_peek(msg, len, &peeked) != TLY_OK) {
		note(self, "dropped a malformed message of %zu bytes", len);
		return;
	}
	die_point(self, peeked.header.type);
	if (peeked.header.type == TLY_MSG_QUERY) {
		on_query(d, msg, len, &peeked);
		return;
	}
	struct member_slot *slot = find_slot(d, peeked.header.query_id);
	if (slot == NULL) {
		if (peeked.header.type != TLY_MSG_ABORT)
			note(self, "dropped a message of type %d for a query it does not serve",
			     (int)peeked.header.type);
		return;
	}
	if (slot->client != NULL)
		to_client(d, slot, msg, len, &peeked);
	else
		to_member(d, slot, msg, len, &peeked);
}

/* Dial the coordinator (over TLS for a "tls+" address) and take the stop
 * signals. */
static tly_err
dial(struct daemon *d)
{
	const struct tly_node_config *cfg = &d->node.config;
	struct tly_tls_files tls = {.cert = cfg->tls_cert, .key = cfg->tls_key, .ca = cfg->tls_ca};
	int use_tls = strncmp(cfg->coordinator, "tls+", 4) == 0;
	char why[600];
	tly_err rv = tly_link_open(&d->link, cfg->coordinator, use_tls ? &tls : NULL,
	                           &d->node.identity, why, sizeof why);

	if (rv != TLY_OK) {
		note(cfg->id, "cannot dial %s: %s", cfg->coordinator, why);
		return rv;
	}
	tly_link_heartbeat(d->link, (int)cfg->heartbeat_interval_ms, (int)cfg->heartbeat_dead_ms);
	stopping = tly_signals_install();
	d->node.stopping = stopping; /* a SIGTERM abandons a query's noise */
	note(cfg->id, "dialling %s", cfg->coordinator);
	return TLY_OK;
}

/* The link's events, and whether it is connected when that changed. */
static void
report_link(struct daemon *d, int *was_ready)
{
	char event[400];

	/* Why a dial or a connection failed (refused, TLS name or
	 * certificate, handshake): the operator's only clue. */
	while (tly_link_event(d->link, event, sizeof event) == TLY_OK)
		note(d->node.config.id, "%s", event);
	int ready = tly_link_ready(d->link);
	if (ready != *was_ready)
		note(d->node.config.id,
		     ready ? "connected to the coordinator" : "connection lost; redialling");
	*was_ready = ready;
}

/* Masking clients whose query has outlived its rounds: wiped. */
static void
expire_clients(struct daemon *d)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < MEMBER_SLOTS; i++) {
		struct member_slot *slot = &d->slots[i];
		if (slot->client == NULL || now < slot->expires)
			continue;
		char qid[2 * TLY_QUERY_ID_BYTES + 1];
		tly_hex(qid, slot->query_id, TLY_QUERY_ID_BYTES);
		note(d->node.config.id,
		     "query %s: masking: no round came for %u round deadlines; its secrets are "
		     "wiped",
		     qid, (unsigned)CLIENT_LIFE_ROUNDS);
		slot_clear(slot);
	}
}

/* Each message from the coordinator in turn, until SIGTERM or SIGINT. */
static void
receive_loop(struct daemon *d)
{
	int was_ready = 0;

	while (!*stopping) {
		uint8_t *msg;
		size_t len;
		report_link(d, &was_ready);
		expire_clients(d);
		tly_err rv = tly_link_recv(d->link, &msg, &len, RECV_TIMEOUT_MS);
		if (rv == TLY_ETIMEDOUT)
			continue;
		if (rv != TLY_OK) {
			note(d->node.config.id, "receive failed: %s", tly_strerror(rv));
			continue;
		}
		on_message(d, msg, len);
		free(msg);
	}
	note(d->node.config.id, "stopping");
}

int
tly_node_daemon(const char *config_path)
{
	char why[600];
	struct daemon *d = calloc(1, sizeof *d);
	tly_err rv;

	if (d == NULL)
		return 1;
	if ((rv = tly_node_open(&d->node, config_path, why, sizeof why)) != TLY_OK) {
		free(d);
		return tly_process_refused("tally-node", rv, why);
	}
	rv = dial(d);
	if (rv == TLY_OK)
		receive_loop(d);
	for (size_t i = 0; i < MEMBER_SLOTS; i++)
		slot_clear(&d->slots[i]);
	tly_link_close(d->link);
	tly_node_close(&d->node);
	free(d);
	return rv == TLY_OK ? 0 : 1;
}
