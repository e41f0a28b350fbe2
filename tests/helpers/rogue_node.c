/*
 * rogue_node - a registered node that misbehaves, for tests/test_hostile.c.
 *
 *   rogue_node --config SITE/node.conf --mode MODE
 *
 * It opens a real site's config (its keys, certificate, registry, data and
 * ledger: the test has stopped that site's tally-node first), dials the
 * coordinator over the real transport, passes the real handshake, and then
 * speaks the committee protocol through the library, wrongly on purpose:
 *
 *   silent        connects and never sends anything
 *   late          answers correctly (shares, receipt, share-sums as a
 *                 member) but only deadline_ms + 1.5 s after the QUERY
 *   flood         sends frames as fast as the link takes them: validly
 *                 signed messages for unknown query ids, replays of one of
 *                 its own signed SHAREs, garbage and 1 MB junk frames
 *   wrong-length  SHAREs (and, as a member, a SHARE_SUM) one element long
 *   big-element   SHAREs sealed properly whose elements are all >= p (and,
 *                 as a member, a SHARE_SUM with an element >= p)
 *   replay        answers its first query honestly, then re-sends that
 *                 query's signed SHAREs and receipt for every later query
 *   other-query   valid SHAREs bound to another query id
 *   equivocate    shares that are not on one polynomial (member k gets
 *                 another secret) and, as a member, a share-sum off by one
 *
 * As a committee member it otherwise behaves as tally-node does. On
 * SIGTERM it prints one line of counts to stderr ("rogue ...: sent N
 * frames ...") and exits 0. Exit 2 for usage, 1 when it cannot start.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/field.h"
#include "crypto/rng.h"
#include "crypto/shamir.h"
#include "node/node.h"
#include "wire/codec.h"
#include "protocol/committee.h"
#include "store/keys.h"
#include "net/transport.h"

enum mode {
	SILENT,
	LATE,
	FLOOD,
	WRONG_LENGTH,
	BIG_ELEMENT,
	REPLAY,
	OTHER_QUERY,
	EQUIVOCATE,
	MODES
};

static const char *const mode_names[MODES] = {"silent",       "late",        "flood",
                                              "wrong-length", "big-element", "replay",
                                              "other-query",  "equivocate"};

enum { HELD_MAX = 64, LATE_SLACK_MS = 1500, JUNK_BYTES = 1 << 20, FLOOD_VARIANTS = 16 };

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

struct held {
	uint64_t due;
	uint8_t *data;
	size_t len;
};

struct rogue {
	enum mode mode;
	struct tly_node node;
	struct tly_link *link;
	uint32_t self;

	uint8_t query_id[TLY_QUERY_ID_BYTES]; /* the current query */
	int have_query;
	uint32_t deadline_ms;
	struct tly_committee_member *member;

	struct held held[HELD_MAX]; /* LATE: messages waiting for their time */
	struct tly_outbox first;    /* REPLAY: the first query's messages */
	int answered_once;

	uint64_t sent, send_failed, bytes_sent, started_ms;
	uint64_t connected_ms, sent_connected; /* time welcomed, frames sent then */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
say(const struct rogue *r, const char *what)
{
	fprintf(stderr, "rogue %u (%s): %s\n", r->self, mode_names[r->mode], what);
	fflush(stderr);
}

static void
send_bytes(struct rogue *r, const uint8_t *data, size_t len)
{
	if (tly_link_send(r->link, data, len) == TLY_OK) {
		r->sent++;
		r->bytes_sent += len;
	} else {
		r->send_failed++;
	}
}

/* Send now, or hold until the round is over (LATE). */
static void
emit(struct rogue *r, const uint8_t *data, size_t len)
{
	if (r->mode != LATE) {
		send_bytes(r, data, len);
		return;
	}
	for (size_t i = 0; i < HELD_MAX; i++) {
		if (r->held[i].data != NULL)
			continue;
		r->held[i].data = malloc(len);
		if (r->held[i].data == NULL)
			return;
		memcpy(r->held[i].data, data, len);
		r->held[i].len = len;
		r->held[i].due = now_ms() + r->deadline_ms + LATE_SLACK_MS;
		return;
	}
}

static void
release_held(struct rogue *r)
{
	for (size_t i = 0; i < HELD_MAX; i++) {
		if (r->held[i].data == NULL || r->held[i].due > now_ms())
			continue;
		send_bytes(r, r->held[i].data, r->held[i].len);
		free(r->held[i].data);
		r->held[i].data = NULL;
	}
}

static void
emit_box(struct rogue *r, struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++)
		emit(r, box->items[i].data, box->items[i].len);
	tly_outbox_clear(box);
}

static tly_err
seal(struct rogue *r, enum tly_msg_type type, const uint8_t query_id[TLY_QUERY_ID_BYTES],
     uint32_t to, const uint8_t *body, size_t len, struct tly_outbox *box)
{
	struct tly_msg_header header = {.type = type, .sender = r->self, .recipient = to};

	memcpy(header.query_id, query_id, TLY_QUERY_ID_BYTES);
	return tly_msg_seal_to(box, TLY_PARTY_COORDINATOR, &header, body, len,
	                       r->node.identity.sign);
}

/* One SHARE per member, each carrying `rows[j]` (d elements, stored as is:
 * no reduction, so elements >= p go out as such) sealed end to end as an
 * honest node seals, bound to query_id. extra != 0 appends that many
 * bytes after the sealed envelope (a wrong length). */
static tly_err
send_shares(struct rogue *r, const struct tly_query *q, const uint8_t query_id[TLY_QUERY_ID_BYTES],
            uint64_t *const *rows, size_t extra, struct tly_outbox *box)
{
	size_t d = q->cells;
	uint8_t *plain = malloc(d * TLY_FIELD_ELEMENT_BYTES);
	tly_err rv = plain != NULL ? TLY_OK : TLY_ENOMEM;

	for (uint32_t j = 0; j < q->committee.count && rv == TLY_OK; j++) {
		const struct tly_party *member =
		    tly_roster_find(&r->node.roster, q->committee.ids[j]);
		struct tly_msg_header header = {
		    .type = TLY_MSG_SHARE, .sender = r->self, .recipient = member->id};
		uint8_t raw[TLY_HEADER_BYTES];
		struct tly_buf body;

		memcpy(header.query_id, query_id, TLY_QUERY_ID_BYTES);
		for (size_t e = 0; e < d; e++)
			tly_store_be64(plain + e * TLY_FIELD_ELEMENT_BYTES, rows[j][e]);
		tly_msg_raw_header(
		    raw, &header,
		    (uint32_t)(d * TLY_FIELD_ELEMENT_BYTES + TLY_AEAD_TAG_BYTES + extra));
		tly_buf_init(&body);
		rv = tly_envelope_seal(&body, r->node.identity.kx_sk, r->node.identity.kx_pk,
		                       member->kx_pk, raw, plain, d * TLY_FIELD_ELEMENT_BYTES);
		for (size_t e = 0; e < extra; e++)
			tly_buf_put_u8(&body, 0xA5);
		if (rv == TLY_OK)
			rv = tly_msg_seal_to(box, TLY_PARTY_COORDINATOR, &header, body.data,
			                     body.len, r->node.identity.sign);
		tly_buf_fini(&body);
	}
	free(plain);
	return rv;
}

/* The crafted round 1 of the tampering modes. */
static void
crafted_shares(struct rogue *r, const struct tly_query *q)
{
	size_t d = q->cells, k = q->committee.count;
	uint64_t *input = calloc(d, sizeof *input), *shares = calloc(k * d, sizeof *shares);
	uint64_t *rows[TLY_MAX_COMMITTEE];
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_outbox box;
	tly_err rv = TLY_ENOMEM;

	tly_outbox_init(&box);
	memcpy(query_id, r->query_id, sizeof query_id);
	if (input == NULL || shares == NULL)
		goto out;
	for (size_t j = 0; j < k; j++)
		rows[j] = shares + j * d;
	rv = tly_shamir_share(&r->node.rng, input, d, q->threshold, (unsigned)k, rows);
	if (rv != TLY_OK)
		goto out;
	if (r->mode == BIG_ELEMENT)
		for (size_t e = 0; e < k * d; e++)
			shares[e] = TLY_FIELD_P + (shares[e] & 0xff);
	if (r->mode == EQUIVOCATE) /* another secret for the last member */
		for (size_t e = 0; e < d; e++)
			rows[k - 1][e] = tly_field_add(rows[k - 1][e], 1000 + e);
	if (r->mode == OTHER_QUERY)
		query_id[0] ^= 0x5a;
	rv = send_shares(r, q, query_id, rows, r->mode == WRONG_LENGTH ? 8 : 0, &box);
out:
	if (rv == TLY_OK) {
		emit_box(r, &box);
		say(r, "sent its crafted shares");
	} else {
		say(r, "could not build its shares");
	}
	tly_outbox_fini(&box);
	free(shares);
	free(input);
}

/* tally-node's read (step 1) and answer from one QUERY message. */
static tly_err
node_answer_msg(struct tly_node *node, const uint8_t *msg, size_t len, struct tly_outbox *box,
                struct tly_ledger_receipt *receipt, char *why, size_t why_len)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	tly_err rv = tly_node_read_query(node, msg, len, query_id, &q, why, why_len);

	if (rv != TLY_OK)
		return rv;
	rv = tly_node_answer(node, query_id, &q, box, receipt, why, why_len);
	tly_query_fini(&q);
	return rv;
}

/* An honest round 1 (tally-node's), with its receipt first. */
static void
honest_answer(struct rogue *r, const uint8_t *msg, size_t len, struct tly_outbox *keep)
{
	struct tly_ledger_receipt receipt;
	struct tly_outbox box;
	struct tly_buf body;
	char why[600];

	tly_outbox_init(&box);
	tly_buf_init(&body);
	memset(&receipt, 0, sizeof receipt);
	if (node_answer_msg(&r->node, msg, len, &box, &receipt, why, sizeof why) != TLY_OK) {
		say(r, why);
	} else {
		struct tly_outbox all;
		tly_outbox_init(&all);
		if (receipt.node_id != 0 && tly_ledger_receipt_encode(&receipt, &body) == TLY_OK &&
		    seal(r, TLY_MSG_RECEIPT, r->query_id, TLY_PARTY_COORDINATOR, body.data,
		         body.len, &all) != TLY_OK)
			say(r, "could not seal its receipt");
		for (size_t i = 0; i < box.count; i++) {
			struct tly_buf copy;
			tly_buf_init(&copy);
			tly_buf_put_bytes(&copy, box.items[i].data, box.items[i].len);
			if (tly_outbox_push(&all, TLY_PARTY_COORDINATOR, &copy) != TLY_OK)
				say(r, "out of memory");
		}
		for (size_t i = 0; keep != NULL && i < all.count; i++) {
			struct tly_buf copy;
			tly_buf_init(&copy);
			tly_buf_put_bytes(&copy, all.items[i].data, all.items[i].len);
			if (tly_outbox_push(keep, TLY_PARTY_COORDINATOR, &copy) != TLY_OK)
				say(r, "out of memory");
		}
		emit_box(r, &all);
		tly_outbox_fini(&all);
		say(r, "answered honestly");
	}
	tly_buf_fini(&body);
	tly_outbox_fini(&box);
}

static void
on_query(struct rogue *r, const uint8_t *msg, size_t len)
{
	struct tly_query q;
	uint8_t query_id[TLY_QUERY_ID_BYTES];

	if (tly_committee_read_query(&r->node.roster, r->self, msg, len, query_id, &q) != TLY_OK) {
		say(r, "a QUERY that does not verify");
		return;
	}
	memcpy(r->query_id, query_id, sizeof query_id);
	r->have_query = 1;
	r->deadline_ms = q.deadline_ms;
	tly_committee_member_free(r->member);
	r->member = NULL;
	int member = tly_idlist_contains(&q.committee, r->self);
	if (member && r->mode != SILENT && r->mode != FLOOD &&
	    tly_committee_member_alloc(&r->member, &r->node.identity, &r->node.roster, query_id,
	                               &q) == TLY_OK)
		say(r, "serving on the committee");
	switch (r->mode) {
	case SILENT:
	case FLOOD:
		break;
	case LATE:
		honest_answer(r, msg, len, NULL);
		break;
	case REPLAY:
		if (!r->answered_once) {
			honest_answer(r, msg, len, &r->first);
			r->answered_once = 1;
		} else {
			for (size_t i = 0; i < r->first.count; i++)
				send_bytes(r, r->first.items[i].data, r->first.items[i].len);
			say(r, "replayed its first query's messages");
		}
		break;
	default:
		crafted_shares(r, &q);
		break;
	}
	tly_query_fini(&q);
}

/* As a member: the share-sum the mode calls for. */
static void
tamper_sum(struct rogue *r, struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++) {
		struct tly_msg m;
		if (tly_msg_peek(box->items[i].data, box->items[i].len, &m) != TLY_OK ||
		    m.header.type != TLY_MSG_SHARE_SUM ||
		    (r->mode != WRONG_LENGTH && r->mode != BIG_ELEMENT && r->mode != EQUIVOCATE))
			continue;
		struct tly_buf body, msg;
		tly_buf_init(&body);
		tly_buf_init(&msg);
		tly_buf_put_bytes(&body, m.body, m.body_len);
		uint8_t *first = body.data + 4 + TLY_HASH_BYTES; /* element 0 */
		if (r->mode == WRONG_LENGTH)
			tly_buf_put_u8(&body, 0);
		else if (r->mode == BIG_ELEMENT)
			tly_store_be64(first, TLY_FIELD_P);
		else
			tly_store_be64(first, tly_field_add(tly_load_be64(first) % TLY_FIELD_P, 1));
		if (body.error == TLY_OK && tly_msg_seal(&msg, &m.header, body.data, body.len,
		                                         r->node.identity.sign) == TLY_OK) {
			free(box->items[i].data);
			box->items[i].data = tly_buf_take(&msg, &box->items[i].len);
			say(r, "tampered with its share-sum");
		}
		tly_buf_fini(&msg);
		tly_buf_fini(&body);
	}
}

static void
on_message(struct rogue *r, const uint8_t *msg, size_t len)
{
	struct tly_msg peeked;
	struct tly_outbox box;

	if (tly_msg_peek(msg, len, &peeked) != TLY_OK)
		return;
	if (peeked.header.type == TLY_MSG_QUERY) {
		on_query(r, msg, len);
		return;
	}
	if (r->member == NULL || memcmp(peeked.header.query_id, r->query_id, TLY_QUERY_ID_BYTES))
		return;
	tly_outbox_init(&box);
	tly_err rv = tly_committee_member_receive(r->member, msg, len, &box);
	tamper_sum(r, &box);
	emit_box(r, &box);
	tly_outbox_fini(&box);
	if (rv == TLY_EABORTED) {
		tly_committee_member_free(r->member);
		r->member = NULL;
	}
}

/* ---- flood ---- */

struct flood {
	struct tly_buf signed_other[FLOOD_VARIANTS]; /* unknown query ids */
	struct tly_buf replay;                       /* one SHARE, sent again and again */
	uint8_t replay_for[TLY_QUERY_ID_BYTES];
	uint8_t *junk;
	uint64_t counter;
};

static void
flood_init(struct rogue *r, struct flood *f)
{
	uint8_t body[4 + TLY_HASH_BYTES + 8] = {0};

	memset(f, 0, sizeof *f);
	for (size_t i = 0; i < FLOOD_VARIANTS; i++) {
		struct tly_msg_header header = {.type = TLY_MSG_SHARE_SUM,
		                                .sender = r->self,
		                                .recipient = TLY_PARTY_COORDINATOR};
		tly_rng_bytes(&r->node.rng, header.query_id, sizeof header.query_id);
		tly_buf_init(&f->signed_other[i]);
		if (tly_msg_seal(&f->signed_other[i], &header, body, sizeof body,
		                 r->node.identity.sign) != TLY_OK)
			say(r, "cannot sign");
	}
	tly_buf_init(&f->replay);
	f->junk = malloc(JUNK_BYTES);
	if (f->junk != NULL)
		tly_rng_bytes(&r->node.rng, f->junk, JUNK_BYTES);
}

static void
flood_fini(struct flood *f)
{
	for (size_t i = 0; i < FLOOD_VARIANTS; i++)
		tly_buf_fini(&f->signed_other[i]);
	tly_buf_fini(&f->replay);
	free(f->junk);
}

/* A SHARE for the running query with a junk envelope of the right length,
 * to one member: relayed once, then every copy is a replay. */
static void
flood_replay_for(struct rogue *r, struct flood *f, const uint8_t *query_msg, size_t len)
{
	struct tly_query q;
	uint8_t query_id[TLY_QUERY_ID_BYTES];

	if (tly_committee_read_query(&r->node.roster, r->self, query_msg, len, query_id, &q) !=
	    TLY_OK)
		return;
	size_t body_len = (size_t)q.cells * TLY_FIELD_ELEMENT_BYTES + TLY_AEAD_TAG_BYTES;
	uint8_t *body = calloc(1, body_len);
	struct tly_msg_header header = {
	    .type = TLY_MSG_SHARE, .sender = r->self, .recipient = q.committee.ids[0]};
	memcpy(header.query_id, query_id, sizeof query_id);
	if (body != NULL &&
	    tly_msg_seal(&f->replay, &header, body, body_len, r->node.identity.sign) == TLY_OK)
		memcpy(f->replay_for, query_id, sizeof query_id);
	free(body);
	tly_query_fini(&q);
}

/* One burst: every 1000th frame is 1 MB of junk, then garbage, then
 * signed messages for unknown queries and replays in turn. */
static void
flood_burst(struct rogue *r, struct flood *f)
{
	for (int i = 0; i < 256 && !stopping; i++) {
		uint64_t n = f->counter++;
		if (n % 1000 == 999 && f->junk != NULL) {
			send_bytes(r, f->junk, JUNK_BYTES);
		} else if (n % 4 == 0) {
			send_bytes(r, f->junk, 1 + n % 300);
		} else if (n % 4 == 1 && f->replay.len > 0) {
			send_bytes(r, f->replay.data, f->replay.len);
		} else {
			const struct tly_buf *m = &f->signed_other[n % FLOOD_VARIANTS];
			send_bytes(r, m->data, m->len);
		}
	}
}

static int
parse(int argc, char **argv, const char **config, enum mode *mode)
{
	*config = NULL;
	*mode = MODES;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--config") == 0)
			*config = argv[i + 1];
		else if (strcmp(argv[i], "--mode") == 0)
			for (int m = 0; m < MODES; m++)
				if (strcmp(argv[i + 1], mode_names[m]) == 0)
					*mode = (enum mode)m;
	}
	return *config != NULL && *mode != MODES;
}

int
main(int argc, char **argv)
{
	static struct rogue r;
	struct flood f;
	const char *config;
	char why[600];

	if (!parse(argc, argv, &config, &r.mode)) {
		fprintf(stderr, "usage: rogue_node --config NODE.conf --mode "
		                "silent|late|flood|wrong-length|big-element|replay|other-query|"
		                "equivocate\n");
		return 2;
	}
	if (tly_crypto_init() != TLY_OK ||
	    tly_node_open(&r.node, config, why, sizeof why) != TLY_OK) {
		fprintf(stderr, "rogue_node: %s\n", why);
		return 1;
	}
	r.self = r.node.config.id;
	tly_outbox_init(&r.first);
	struct tly_tls_files tls = {.cert = r.node.config.tls_cert,
	                            .key = r.node.config.tls_key,
	                            .ca = r.node.config.tls_ca};
	int use_tls = strncmp(r.node.config.coordinator, "tls+", 4) == 0;
	if (tly_link_open(&r.link, r.node.config.coordinator, use_tls ? &tls : NULL,
	                  &r.node.identity, why, sizeof why) != TLY_OK) {
		fprintf(stderr, "rogue_node: %s\n", why);
		tly_node_close(&r.node);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (r.mode == FLOOD)
		flood_init(&r, &f);
	say(&r, "dialling");
	r.started_ms = now_ms();
	int was_ready = 0;
	while (!stopping) {
		uint8_t *msg;
		size_t len;
		int ready = tly_link_ready(r.link);
		if (ready != was_ready)
			say(&r, ready ? "connected and welcomed" : "connection lost");
		was_ready = ready;
		int flooding = r.mode == FLOOD && ready;
		uint64_t burst_start = now_ms(), sent_before = r.sent;
		if (flooding) {
			flood_burst(&r, &f);
			r.connected_ms += now_ms() - burst_start;
			r.sent_connected += r.sent - sent_before;
		}
		release_held(&r);
		if (tly_link_recv(r.link, &msg, &len, flooding ? 0 : 50) != TLY_OK)
			continue;
		if (r.mode == FLOOD) {
			struct tly_msg peeked;
			if (tly_msg_peek(msg, len, &peeked) == TLY_OK &&
			    peeked.header.type == TLY_MSG_QUERY)
				flood_replay_for(&r, &f, msg, len);
		} else if (r.mode != SILENT) {
			on_message(&r, msg, len);
		}
		free(msg);
	}
	double seconds = (double)(now_ms() - r.started_ms) / 1000.0;
	fprintf(stderr,
	        "rogue %u (%s): sent %llu frames (%llu bytes) in %.1f s, %.0f frames/s; %llu sends "
	        "refused by the link (not connected or queue full)\n",
	        r.self, mode_names[r.mode], (unsigned long long)r.sent,
	        (unsigned long long)r.bytes_sent, seconds,
	        seconds > 0 ? (double)r.sent / seconds : 0, (unsigned long long)r.send_failed);
	if (r.mode == FLOOD) {
		fprintf(
		    stderr,
		    "rogue %u (flood): while connected: %llu frames in %.2f s of sending, %.0f "
		    "frames/s\n",
		    r.self, (unsigned long long)r.sent_connected, (double)r.connected_ms / 1000.0,
		    r.connected_ms > 0 ? (double)r.sent_connected * 1000.0 / (double)r.connected_ms
		                       : 0);
		flood_fini(&f);
	}
	for (size_t i = 0; i < HELD_MAX; i++)
		free(r.held[i].data);
	tly_outbox_fini(&r.first);
	tly_committee_member_free(r.member);
	tly_link_close(r.link);
	tly_node_close(&r.node);
	return 0;
}
