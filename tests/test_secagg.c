/*
 * Pairwise masking (protocol/secagg.h): every party in one process, the
 * messages carried by a queue in this file.
 *
 * A "net" holds the coordinator, n nodes with ids 3, 8, 13, ... (gaps, so
 * that ids and indices cannot be confused), a roster, a query and each
 * node's cells. Messages go through a FIFO; a tap sees each one first and
 * may swallow it or inject others (injected messages skip the tap and their
 * results are recorded). A node with drop round R takes no message of a
 * round >= R: R = 0 never starts, 2 drops after ADVERTISE, 4 after its
 * KEY_SHAREs, 6 after MASKED_INPUT, 8 after CONSISTENCY. When the queue is
 * empty and the server is still waiting, its round deadline "passes"
 * (tly_secagg_server_close_round).
 *
 * Every UNMASK any node sends is audited: no peer may ever get both kinds
 * of share from anyone, and each kind must match the U3 it was sent for.
 *
 * Statistical suite (name contains "stats"): the coordinator's view of a
 * masked vector is uniform and the same under two input sets with the same
 * total (chi-square on the top 8 bits), while the same test rejects an
 * unmasked view; and with noise on, the released total minus the true sum
 * follows the target distribution.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "crypto/shamir.h"
#include "wire/codec.h"
#include "query/noise.h"
#include "protocol/graph.h"
#include "protocol/secagg.h"
#include "stats.h"

enum { NEVER = 1000, MAX_INJECTED = 4096 };

#define FIT_P   1e-4
#define POWER_P 1e-9

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(secagg, .init = setup, .timeout = 120);
TestSuite(secagg_stats, .init = setup, .timeout = 120);

/* ---- the net ---- */

struct pending {
	uint32_t from, to;
	uint8_t *data;
	size_t len;
	int injected;
};

struct net;
/* Return 1 to deliver p, 0 to swallow it. */
typedef int (*tap_fn)(struct net *net, const struct pending *p);

struct net {
	uint32_t n;
	size_t d;
	struct tly_identity coord;
	struct tly_identity *nodes;
	struct tly_roster roster;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query query;
	struct tly_rng *rngs;
	int64_t **cells;
	uint32_t *drop;
	struct tly_secagg_server *server;
	struct tly_secagg_client **clients;
	struct pending *queue;
	size_t head, tail, cap;
	tap_fn tap;
	void *tap_arg;
	/* what happened */
	unsigned server_errors[TLY_ERR_COUNT];
	unsigned client_errors[TLY_ERR_COUNT];
	tly_err injected_rv[MAX_INJECTED];
	size_t injected_count;
	tly_err close_rv;
	uint8_t *revealed; /* per node: kinds of its shares revealed by anyone */
	unsigned unmasks;  /* UNMASK messages sent */
	unsigned aborted;  /* nodes that took an ABORT */
	int split_view;    /* the test plays a coordinator that splits views */
};

static uint32_t
id_of(uint32_t index)
{
	return 3 + 5 * index;
}

static long
index_of(const struct net *net, uint32_t id)
{
	if (id < 3 || (id - 3) % 5 != 0 || (id - 3) / 5 >= net->n)
		return -1;
	return (long)((id - 3) / 5);
}

static void
net_init(struct net *net, uint32_t n, size_t d, uint8_t protocol, uint16_t degree, uint16_t t,
         uint64_t seed)
{
	struct tly_party *pub = calloc(n, sizeof *pub);
	uint8_t coord_pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_rng rng;

	memset(net, 0, sizeof *net);
	net->n = n;
	net->d = d;
	net->nodes = calloc(n, sizeof *net->nodes);
	net->rngs = calloc(n, sizeof *net->rngs);
	net->cells = calloc(n, sizeof *net->cells);
	net->drop = calloc(n, sizeof *net->drop);
	net->clients = calloc(n, sizeof *net->clients);
	net->revealed = calloc(n, sizeof *net->revealed);
	cr_assert(pub && net->nodes && net->rngs && net->cells && net->drop && net->clients &&
	          net->revealed);
	cr_assert_eq(tly_identity_generate(&net->coord, TLY_PARTY_COORDINATOR, 0), TLY_OK);
	tly_rng_init_seeded_u64(&rng, seed);
	for (uint32_t i = 0; i < n; i++) {
		cr_assert_eq(tly_identity_generate(&net->nodes[i], id_of(i), 0), TLY_OK);
		tly_identity_public(&net->nodes[i], &pub[i]);
		tly_rng_init_seeded_u64(&net->rngs[i], seed * 1000 + i + 1);
		net->cells[i] = malloc(d * sizeof **net->cells);
		cr_assert_not_null(net->cells[i]);
		for (size_t c = 0; c < d; c++)
			net->cells[i][c] = (int64_t)tly_rng_uniform(&rng, 2000001) - 1000000;
		net->drop[i] = NEVER;
	}
	tly_sign_key_public(net->coord.sign, coord_pk);
	cr_assert_eq(tly_roster_init(&net->roster, coord_pk, pub, n), TLY_OK);
	free(pub);
	tly_rng_bytes(&rng, net->query_id, sizeof net->query_id);

	struct tly_query *q = &net->query;
	q->protocol = protocol;
	q->mechanism = TLY_MECH_NONE;
	q->cells = (uint32_t)d;
	q->min_honest = 1;
	q->min_contributors = n < 3 ? n : 3;
	q->threshold = t;
	q->degree = degree;
	q->deadline_ms = 1000;
	q->participants.count = n;
	q->participants.ids = malloc(n * sizeof *q->participants.ids);
	cr_assert_not_null(q->participants.ids);
	for (uint32_t i = 0; i < n; i++)
		q->participants.ids[i] = id_of(i);
	net->close_rv = TLY_OK;
	tly_rng_fini(&rng);
}

static void
net_fini(struct net *net)
{
	for (size_t i = net->head; i < net->tail; i++)
		free(net->queue[i].data);
	free(net->queue);
	for (uint32_t i = 0; i < net->n; i++) {
		tly_secagg_client_free(net->clients[i]);
		tly_identity_fini(&net->nodes[i]);
		tly_rng_fini(&net->rngs[i]);
		free(net->cells[i]);
	}
	tly_secagg_server_free(net->server);
	tly_identity_fini(&net->coord);
	tly_roster_fini(&net->roster);
	tly_query_fini(&net->query);
	free(net->nodes);
	free(net->rngs);
	free(net->cells);
	free(net->drop);
	free(net->clients);
	free(net->revealed);
}

static void
enqueue(struct net *net, uint32_t from, uint32_t to, const uint8_t *data, size_t len, int injected)
{
	if (net->tail == net->cap) {
		if (net->head > 0) {
			memmove(net->queue, net->queue + net->head,
			        (net->tail - net->head) * sizeof *net->queue);
			net->tail -= net->head;
			net->head = 0;
		}
		if (net->tail == net->cap) {
			net->cap = net->cap ? 2 * net->cap : 256;
			net->queue = realloc(net->queue, net->cap * sizeof *net->queue);
			cr_assert_not_null(net->queue);
		}
	}
	struct pending *p = &net->queue[net->tail++];
	p->from = from;
	p->to = to;
	p->len = len;
	p->injected = injected;
	p->data = malloc(len);
	cr_assert_not_null(p->data);
	memcpy(p->data, data, len);
}

static void
enqueue_box(struct net *net, uint32_t from, struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++)
		enqueue(net, from, box->items[i].to, box->items[i].data, box->items[i].len, 0);
	tly_outbox_clear(box);
}

/* Seal a message as `who` for this query (or another) and inject it. */
static void
inject_sealed(struct net *net, const struct tly_identity *who, const uint8_t query_id[16],
              enum tly_msg_type type, uint32_t recipient, uint32_t to, const uint8_t *body,
              size_t len)
{
	struct tly_msg_header h = {.type = type, .sender = who->id, .recipient = recipient};
	struct tly_buf msg;

	memcpy(h.query_id, query_id, TLY_QUERY_ID_BYTES);
	tly_buf_init(&msg);
	cr_assert_eq(tly_msg_seal(&msg, &h, body, len, who->sign), TLY_OK);
	enqueue(net, who->id, to, msg.data, msg.len, 1);
	tly_buf_fini(&msg);
}

/* Record the kinds of an UNMASK and check them against the sender's U3. */
static void
audit_unmask(struct net *net, const struct pending *p)
{
	struct tly_msg m;
	struct tly_unmask u;

	cr_assert_eq(tly_msg_open(p->data, p->len, &net->roster, &m), TLY_OK);
	cr_assert_eq(tly_unmask_decode(&u, m.body, m.body_len), TLY_OK);
	for (uint32_t i = 0; i < u.count; i++) {
		long k = index_of(net, u.entries[i].id);
		cr_assert(k >= 0);
		net->revealed[k] |= u.entries[i].kind;
		if (!net->split_view)
			cr_assert_neq(net->revealed[k], TLY_UNMASK_SELF_SEED | TLY_UNMASK_MASK_KEY,
			              "both kinds of share revealed for node %u", u.entries[i].id);
	}
	net->unmasks++;
	tly_unmask_fini(&u);
}

static void
count_error(unsigned *counts, tly_err rv)
{
	if (rv != TLY_OK)
		counts[rv]++;
}

static void
to_client(struct net *net, const struct pending *p, struct tly_outbox *box, tly_err *rv)
{
	long i = index_of(net, p->to);
	int round = tly_msg_round(p->data[1]);

	cr_assert(i >= 0, "message to unknown party %u", p->to);
	if (round < 0 || (uint32_t)round >= net->drop[i]) {
		*rv = TLY_OK; /* the node is gone */
		return;
	}
	if (net->clients[i] == NULL) {
		struct tly_secagg_client_opts opts = {.allow_no_noise = 1};
		*rv = tly_secagg_client_alloc(&net->clients[i], &net->nodes[i], &net->roster,
		                              &net->rngs[i], &opts, p->data, p->len);
		if (*rv == TLY_OK)
			*rv = tly_secagg_client_start(net->clients[i], net->cells[i], net->d, box);
		return;
	}
	*rv = tly_secagg_client_receive(net->clients[i], p->data, p->len, box);
	net->aborted += *rv == TLY_EABORTED && p->data[1] == TLY_MSG_ABORT;
}

static void
deliver(struct net *net, const struct pending *p)
{
	struct tly_outbox box;
	tly_err rv;

	tly_outbox_init(&box);
	if (p->to == TLY_PARTY_COORDINATOR) {
		rv = tly_secagg_server_receive(net->server, p->data, p->len, &box);
		count_error(net->server_errors, rv);
		if (rv == TLY_ETOOFEW || rv == TLY_EAUTH)
			net->close_rv = tly_secagg_server_phase(net->server) == TLY_SECAGG_ABORTED
			                    ? rv
			                    : net->close_rv;
		enqueue_box(net, TLY_PARTY_COORDINATOR, &box);
	} else {
		to_client(net, p, &box, &rv);
		count_error(net->client_errors, rv);
		for (size_t i = 0; i < box.count; i++)
			if (box.items[i].data[1] == TLY_MSG_UNMASK) {
				struct pending unmask = {
				    .data = box.items[i].data,
				    .len = box.items[i].len,
				};
				audit_unmask(net, &unmask);
			}
		enqueue_box(net, p->to, &box);
	}
	if (p->injected && net->injected_count < MAX_INJECTED)
		net->injected_rv[net->injected_count++] = rv;
	tly_outbox_fini(&box);
}

static void
pump(struct net *net)
{
	while (net->head < net->tail) {
		struct pending p = net->queue[net->head++];
		if (p.injected || net->tap == NULL || net->tap(net, &p))
			deliver(net, &p);
		free(p.data);
	}
}

static void
net_start(struct net *net)
{
	struct tly_outbox box;

	tly_outbox_init(&box);
	cr_assert_eq(tly_secagg_server_alloc(&net->server, &net->coord, &net->roster, &net->query,
	                                     net->query_id, &box),
	             TLY_OK);
	enqueue_box(net, TLY_PARTY_COORDINATOR, &box);
	tly_outbox_fini(&box);
}

/* Run to the end: pump, and let a deadline pass whenever the queue runs
 * dry. Returns the server's final phase. */
static enum tly_secagg_phase
net_finish(struct net *net)
{
	struct tly_outbox box;

	tly_outbox_init(&box);
	for (int rounds = 0; rounds < 16; rounds++) {
		pump(net);
		enum tly_secagg_phase phase = tly_secagg_server_phase(net->server);
		if (phase == TLY_SECAGG_DONE || phase == TLY_SECAGG_ABORTED)
			break;
		tly_err rv = tly_secagg_server_close_round(net->server, &box);
		if (rv != TLY_OK)
			net->close_rv = rv;
		enqueue_box(net, TLY_PARTY_COORDINATOR, &box);
	}
	pump(net);
	tly_outbox_fini(&box);
	return tly_secagg_server_phase(net->server);
}

static enum tly_secagg_phase
net_run(struct net *net)
{
	net_start(net);
	return net_finish(net);
}

/* The run finished, and the total is exactly the sum of U3's cells. */
static void
expect_exact_sum(struct net *net, struct tly_secagg_result *out)
{
	struct tly_secagg_result r;

	cr_assert_eq(tly_secagg_server_phase(net->server), TLY_SECAGG_DONE, "close_rv %d",
	             net->close_rv);
	cr_assert_eq(tly_secagg_server_result(net->server, &r), TLY_OK);
	cr_assert_eq(r.d, net->d);
	cr_assert_eq(r.contributors.count + r.dropped.count, net->n);
	for (size_t c = 0; c < net->d; c++) {
		int64_t expected = 0;
		for (uint32_t i = 0; i < r.contributors.count; i++)
			expected += net->cells[index_of(net, r.contributors.ids[i])][c];
		cr_assert_eq(r.cells[c], expected, "cell %zu: %lld != %lld", c,
		             (long long)r.cells[c], (long long)expected);
	}
	for (uint32_t i = 0; i < r.contributors.count; i++)
		cr_assert_eq(
		    tly_secagg_client_phase(net->clients[index_of(net, r.contributors.ids[i])]) ==
		            TLY_SECAGG_CLIENT_DONE ||
		        net->drop[index_of(net, r.contributors.ids[i])] <= TLY_ROUND_SIGNATURE_LIST,
		    1);
	if (out != NULL)
		*out = r;
	else
		tly_secagg_result_fini(&r);
}

static int
contains(const struct tly_idlist *list, uint32_t id)
{
	return tly_idlist_contains(list, id);
}

/* ---- complete runs ---- */

static void
round_trip(uint32_t n, size_t d, uint8_t protocol, uint16_t degree, uint16_t t, uint64_t seed)
{
	struct net net;

	net_init(&net, n, d, protocol, degree, t, seed);
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE);
	expect_exact_sum(&net, NULL);
	for (int e = 0; e < TLY_ERR_COUNT; e++) {
		cr_assert_eq(net.server_errors[e], 0, "server error %d", e);
		cr_assert_eq(net.client_errors[e], 0, "client error %d", e);
	}
	cr_assert_eq(net.unmasks, n);
	net_fini(&net);
}

Test(secagg, complete_graph_sizes)
{
	round_trip(3, 1, TLY_PROTOCOL_SECAGG, 2, 2, 1);
	round_trip(3, 10, TLY_PROTOCOL_SECAGG, 2, 2, 2);
	round_trip(5, 10000, TLY_PROTOCOL_SECAGG, 4, 3, 3);
	round_trip(10, 10, TLY_PROTOCOL_SECAGG, 9, 5, 4);
	round_trip(30, 10000, TLY_PROTOCOL_SECAGG, 29, 15, 5);
}

Test(secagg, hundred_clients_complete_graph)
{
	round_trip(100, 10, TLY_PROTOCOL_SECAGG, 99, 50, 6);
}

Test(secagg, hundred_thousand_cells)
{
	round_trip(4, 100000, TLY_PROTOCOL_SECAGG, 3, 2, 7);
}

Test(secagg, harary_graph_sizes)
{
	round_trip(10, 10, TLY_PROTOCOL_SECAGG_PLUS, 4, 3, 8);
	round_trip(30, 10000, TLY_PROTOCOL_SECAGG_PLUS, 8, 5, 9);
	round_trip(100, 10, TLY_PROTOCOL_SECAGG_PLUS, 16, 9, 10);
	/* degree n - 1 under SecAgg+ is the complete graph */
	round_trip(6, 3, TLY_PROTOCOL_SECAGG_PLUS, 5, 3, 11);
}

/* ---- dropouts ---- */

static const uint32_t stages[] = {
    0,                        /* never starts */
    TLY_ROUND_KEY_LIST,       /* after ADVERTISE */
    TLY_ROUND_SHARE_SET,      /* after its KEY_SHAREs */
    TLY_ROUND_SURVIVORS,      /* after MASKED_INPUT */
    TLY_ROUND_SIGNATURE_LIST, /* after CONSISTENCY */
};

/* Drop `count` distinct random nodes, each at a random stage. */
static void
random_drops(struct net *net, struct tly_rng *rng, uint32_t count)
{
	for (uint32_t dropped = 0; dropped < count;) {
		uint32_t i = (uint32_t)tly_rng_uniform(rng, net->n);
		if (net->drop[i] != NEVER)
			continue;
		net->drop[i] = stages[tly_rng_uniform(rng, sizeof stages / sizeof stages[0])];
		dropped++;
	}
}

Test(secagg, one_dropout_at_each_round)
{
	struct tly_secagg_result r;
	struct net net;

	/* n = 10, t = 5, Q = 8 (tly_secagg_quorum): up to 2 may go before
	 * they sign U3, any number after. */
	net_init(&net, 10, 20, TLY_PROTOCOL_SECAGG, 9, 5, 20);
	net.drop[1] = TLY_ROUND_KEY_LIST;
	net.drop[3] = TLY_ROUND_SHARE_SET;
	net.drop[7] = TLY_ROUND_SIGNATURE_LIST;
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE);
	expect_exact_sum(&net, &r);
	cr_assert(!contains(&r.contributors, id_of(1)));
	/* dropped after sharing its keys: its mask key was rebuilt */
	cr_assert(!contains(&r.contributors, id_of(3)));
	cr_assert_eq(r.recovered.count, 1);
	cr_assert_eq(r.recovered.ids[0], id_of(3));
	/* gone after its masked input arrived: its input counts */
	cr_assert(contains(&r.contributors, id_of(5)));
	cr_assert(contains(&r.contributors, id_of(7)));
	cr_assert_eq(r.contributors.count, 8);
	cr_assert_eq(net.revealed[3], TLY_UNMASK_MASK_KEY);
	cr_assert_eq(net.revealed[5], TLY_UNMASK_SELF_SEED);
	tly_secagg_result_fini(&r);
	net_fini(&net);
}

/* A masked input that arrives after its round closed is too late: the
 * node counts as dropped, its pairwise masks are removed through its
 * rebuilt mask key, and the late message is refused. */
static int
hold_masked_input(struct net *net, const struct pending *p)
{
	struct pending *held = net->tap_arg;

	if (p->data[1] == TLY_MSG_MASKED_INPUT && p->from == id_of(2) && held->data == NULL) {
		*held = *p;
		held->data = malloc(p->len);
		cr_assert_not_null(held->data);
		memcpy(held->data, p->data, p->len);
		return 0;
	}
	return 1;
}

Test(secagg, late_masked_input_counts_as_dropped)
{
	struct pending held = {0};
	struct tly_secagg_result r;
	struct net net;
	struct tly_outbox box;

	net_init(&net, 8, 50, TLY_PROTOCOL_SECAGG, 7, 4, 21);
	net.tap = hold_masked_input;
	net.tap_arg = &held;
	net_start(&net);
	pump(&net);
	cr_assert_eq(tly_secagg_server_phase(net.server), TLY_SECAGG_MASKING);
	tly_outbox_init(&box);
	cr_assert_eq(tly_secagg_server_close_round(net.server, &box), TLY_OK); /* deadline */
	enqueue_box(&net, TLY_PARTY_COORDINATOR, &box);
	cr_assert_eq(tly_secagg_server_receive(net.server, held.data, held.len, &box), TLY_EREPLAY);
	cr_assert_eq(box.count, 0);
	tly_outbox_fini(&box);
	free(held.data);
	/* The late node is told nothing more; it stays waiting. */
	cr_assert_eq(net_finish(&net), TLY_SECAGG_DONE);
	expect_exact_sum(&net, &r);
	cr_assert(!contains(&r.contributors, id_of(2)));
	cr_assert_eq(r.recovered.count, 1);
	cr_assert_eq(r.recovered.ids[0], id_of(2));
	cr_assert_eq(net.revealed[2], TLY_UNMASK_MASK_KEY);
	tly_secagg_result_fini(&r);
	net_fini(&net);
}

Test(secagg, random_dropouts_up_to_the_limit)
{
	struct tly_rng rng;

	tly_rng_init_seeded_u64(&rng, 22);
	for (int trial = 0; trial < 8; trial++) {
		struct net net;
		/* complete graph, n = 12, t = 6, Q = 9: n - Q = 3 may go */
		net_init(&net, 12, 16, TLY_PROTOCOL_SECAGG, 11, 6, 100 + (uint64_t)trial);
		random_drops(&net, &rng, (uint32_t)tly_rng_uniform(&rng, 4));
		cr_assert_eq(net_run(&net), TLY_SECAGG_DONE, "trial %d: %d", trial, net.close_rv);
		expect_exact_sum(&net, NULL);
		net_fini(&net);
	}
	for (int trial = 0; trial < 4; trial++) {
		struct net net;
		/* Harary, n = 40, k = 10, t = 6: any k - t = 4 may go */
		net_init(&net, 40, 8, TLY_PROTOCOL_SECAGG_PLUS, 10, 6, 200 + (uint64_t)trial);
		random_drops(&net, &rng, 4);
		cr_assert_eq(net_run(&net), TLY_SECAGG_DONE, "trial %d: %d", trial, net.close_rv);
		expect_exact_sum(&net, NULL);
		net_fini(&net);
	}
	tly_rng_fini(&rng);
}

Test(secagg, hundred_clients_with_dropouts)
{
	struct tly_rng rng;
	struct net net;

	tly_rng_init_seeded_u64(&rng, 23);
	net_init(&net, 100, 10000, TLY_PROTOCOL_SECAGG_PLUS, 20, 12, 24);
	random_drops(&net, &rng, 8); /* k - t = 8 */
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE, "%d", net.close_rv);
	expect_exact_sum(&net, NULL);
	net_fini(&net);
	tly_rng_fini(&rng);
}

/* Past the limit the query aborts cleanly: TLY_ETOOFEW, ABORT to every
 * node still there, no total. */
static void
expect_abort(uint32_t stage, uint32_t count)
{
	struct tly_secagg_result r;
	struct net net;

	net_init(&net, 10, 4, TLY_PROTOCOL_SECAGG, 9, 5, 30 + stage);
	for (uint32_t i = 0; i < count; i++)
		net.drop[i] = stage;
	cr_assert_eq(net_run(&net), TLY_SECAGG_ABORTED, "stage %u", stage);
	cr_assert_eq(net.close_rv, TLY_ETOOFEW, "stage %u: %d", stage, net.close_rv);
	cr_assert_eq(tly_secagg_server_result(net.server, &r), TLY_ESTATE);
	cr_assert_eq(net.aborted, net.n - count, "stage %u: %u aborted", stage, net.aborted);
	for (uint32_t i = count; i < net.n; i++)
		cr_assert_eq(tly_secagg_client_phase(net.clients[i]), TLY_SECAGG_CLIENT_ABORTED);
	net_fini(&net);
}

Test(secagg, past_the_limit_aborts)
{
	for (size_t s = 0; s < sizeof stages / sizeof stages[0]; s++)
		expect_abort(stages[s], 5); /* n - t = 5: one too many */
}

/* ---- a malicious coordinator ---- */

/* Copies of messages of the types in `swallow` (a bit per type), which are
 * not delivered. */
struct capture {
	uint32_t swallow;
	struct pending items[512];
	size_t count;
};

static int
capture_tap(struct net *net, const struct pending *p)
{
	struct capture *c = net->tap_arg;

	if (!(c->swallow & (UINT32_C(1) << p->data[1])))
		return 1;
	cr_assert_lt(c->count, sizeof c->items / sizeof c->items[0]);
	struct pending *copy = &c->items[c->count++];
	*copy = *p;
	copy->data = malloc(p->len);
	cr_assert_not_null(copy->data);
	memcpy(copy->data, p->data, p->len);
	return 0;
}

static void
capture_fini(struct capture *c)
{
	for (size_t i = 0; i < c->count; i++)
		free(c->items[i].data);
	c->count = 0;
}

/* The SIGNATURE_LIST rules' ending: the first four lists injected from
 * `before` on were refused with want[0..3] and clients 0..3 aborted; the
 * fifth was taken, and client 4 alone unmasked. */
static void
four_refused_fifth_unmasks(struct net *net, size_t before, const tly_err want[static 4])
{
	for (uint32_t i = 0; i < 4; i++) {
		cr_assert_eq(net->injected_rv[before + i], want[i], "client %u", i);
		cr_assert_eq(tly_secagg_client_phase(net->clients[i]), TLY_SECAGG_CLIENT_ABORTED);
	}
	cr_assert_eq(net->injected_rv[before + 4], TLY_OK);
	cr_assert_eq(tly_secagg_client_phase(net->clients[4]), TLY_SECAGG_CLIENT_DONE);
	cr_assert_eq(net->unmasks, 1);
}

/* The captured message of `type` from `from`, opened. */
static void
captured(const struct net *net, const struct capture *c, enum tly_msg_type type, uint32_t from,
         struct tly_msg *out)
{
	for (size_t i = 0; i < c->count; i++)
		if (c->items[i].data[1] == type && c->items[i].from == from) {
			cr_assert_eq(
			    tly_msg_open(c->items[i].data, c->items[i].len, &net->roster, out),
			    TLY_OK);
			return;
		}
	cr_assert_fail("no %d from %u", type, from);
}

static void
inject_id_list(struct net *net, enum tly_msg_type type, uint32_t to, const uint32_t *ids,
               uint32_t count)
{
	struct tly_idlist list = {count, (uint32_t *)ids};
	struct tly_buf body;

	tly_buf_init(&body);
	cr_assert_eq(tly_idlist_encode(&body, &list), TLY_OK);
	inject_sealed(net, &net->coord, net->query_id, type, to, to, body.data, body.len);
	tly_buf_fini(&body);
}

/* A SIGNATURE_LIST to `to` with the captured CONSISTENCY signatures of
 * the nodes whose indices are listed. */
static void
inject_signatures(struct net *net, const struct capture *c, uint32_t to, const uint32_t *indices,
                  uint32_t count)
{
	struct tly_signature_entry entries[64];
	struct tly_signature_list list = {count, entries};
	struct tly_buf body;

	for (uint32_t i = 0; i < count; i++) {
		struct tly_msg m;
		captured(net, c, TLY_MSG_CONSISTENCY, id_of(indices[i]), &m);
		entries[i].id = id_of(indices[i]);
		memcpy(entries[i].signature, m.signature, TLY_SIGNATURE_BYTES);
	}
	tly_buf_init(&body);
	cr_assert_eq(tly_signature_list_encode(&body, &list), TLY_OK);
	inject_sealed(net, &net->coord, net->query_id, TLY_MSG_SIGNATURE_LIST, to, to, body.data,
	              body.len);
	tly_buf_fini(&body);
}

/*
 * n = 6 on the complete graph, t = 3 (2t > k = 5). The coordinator gets
 * every masked input, then shows the survivors set U3 (all six) to the
 * nodes of `group_a` and U3 without node 0 ("node 0 dropped") to the
 * others, and collects everyone's CONSISTENCY.
 */
static void
split_view(struct net *net, struct capture *cap, const int *in_a)
{
	uint32_t all[6], without_w[5];

	net_init(net, 6, 8, TLY_PROTOCOL_SECAGG, 5, 3, 40);
	net->tap = capture_tap;
	net->tap_arg = cap;
	cap->swallow = (UINT32_C(1) << TLY_MSG_SURVIVORS) | (UINT32_C(1) << TLY_MSG_CONSISTENCY) |
	               (UINT32_C(1) << TLY_MSG_ADVERTISE);
	net_start(net);
	/* ADVERTISEs are captured for their keys, then let through. */
	pump(net);
	for (size_t i = 0; i < cap->count; i++)
		enqueue(net, cap->items[i].from, cap->items[i].to, cap->items[i].data,
		        cap->items[i].len, 1);
	pump(net);
	cr_assert_eq(tly_secagg_server_phase(net->server), TLY_SECAGG_CHECKING);
	for (uint32_t i = 0; i < 6; i++) {
		all[i] = id_of(i);
		if (i > 0)
			without_w[i - 1] = id_of(i);
	}
	for (uint32_t i = 0; i < 6; i++)
		inject_id_list(net, TLY_MSG_SURVIVORS, id_of(i), in_a[i] ? all : without_w,
		               in_a[i] ? 6 : 5);
	pump(net);
	for (uint32_t i = 0; i < 6; i++)
		cr_assert_eq(tly_secagg_client_phase(net->clients[i]),
		             TLY_SECAGG_CLIENT_SIGNATURES);
}

Test(secagg, coordinator_showing_different_survivors_is_caught)
{
	static const int in_a[6] = {1, 1, 1, 0, 0, 0};
	static const uint32_t everyone[6] = {0, 1, 2, 3, 4, 5};
	struct capture cap = {0};
	struct net net;

	split_view(&net, &cap, in_a);
	size_t before = net.injected_count;
	for (uint32_t i = 0; i < 6; i++)
		inject_signatures(&net, &cap, id_of(i), everyone, 6);
	pump(&net);
	/* Those shown U3 find signatures over another set; those told node 0
	 * dropped find node 0 among the signers. Nobody unmasks. */
	for (uint32_t i = 0; i < 6; i++) {
		cr_assert_eq(net.injected_rv[before + i], in_a[i] ? TLY_EAUTH : TLY_EPEER,
		             "node %u", i);
		cr_assert_eq(tly_secagg_client_phase(net.clients[i]), TLY_SECAGG_CLIENT_ABORTED);
	}
	cr_assert_eq(net.unmasks, 0);
	capture_fini(&cap);
	net_fini(&net);
}

Test(secagg, coordinator_lying_that_a_node_dropped_is_caught)
{
	/* Only node 0 itself is shown the true U3. */
	static const int in_a[6] = {1, 0, 0, 0, 0, 0};
	static const uint32_t everyone[6] = {0, 1, 2, 3, 4, 5};
	struct capture cap = {0};
	struct net net;

	split_view(&net, &cap, in_a);
	size_t before = net.injected_count;
	for (uint32_t i = 0; i < 6; i++)
		inject_signatures(&net, &cap, id_of(i), everyone, 6);
	pump(&net);
	for (uint32_t i = 0; i < 6; i++)
		cr_assert_eq(net.injected_rv[before + i], i == 0 ? TLY_EAUTH : TLY_EPEER);
	cr_assert_eq(net.unmasks, 0);
	capture_fini(&cap);
	net_fini(&net);
}

/*
 * The split done carefully: each side gets only its own side's signatures,
 * so nobody can see the lie. Under the paper's rule (t = 3 signatures)
 * side A = {0, 1, 2} would reveal shares of b_0 and side B = {3, 4, 5}
 * shares of s_0^SK, and one corrupt client signing both views would give
 * the coordinator t of each, so x_0. With the quorum Q = ceil((n + t)/2) =
 * 5 neither side has enough signatures: every client refuses, and nothing
 * is unmasked.
 */
Test(secagg, coordinator_splitting_views_cannot_unmask_a_node)
{
	static const int in_a[6] = {1, 1, 1, 0, 0, 0};
	static const uint32_t side_a[3] = {0, 1, 2}, side_b[3] = {3, 4, 5};
	struct capture cap = {0};
	struct net net;

	split_view(&net, &cap, in_a);
	net.split_view = 1;
	cap.swallow |= UINT32_C(1) << TLY_MSG_UNMASK;
	size_t before = cap.count, injected = net.injected_count;
	for (uint32_t i = 0; i < 6; i++)
		inject_signatures(&net, &cap, id_of(i), in_a[i] ? side_a : side_b, 3);
	pump(&net);
	for (uint32_t i = 0; i < 6; i++) {
		cr_assert_eq(net.injected_rv[injected + i], TLY_ETOOFEW, "node %u", i);
		cr_assert_eq(tly_secagg_client_phase(net.clients[i]), TLY_SECAGG_CLIENT_ABORTED);
	}
	cr_assert_eq(cap.count, before, "nobody unmasked");
	cr_assert_eq(net.unmasks, 0);
	capture_fini(&cap);
	net_fini(&net);
}

/* Shares are revealed once: after UNMASK, a second SURVIVORS or
 * SIGNATURE_LIST (even for another set) is refused and nothing is sent. */
Test(secagg, a_second_unmask_request_is_refused)
{
	struct capture cap = {0};
	struct net net;
	uint32_t fewer[4];

	net_init(&net, 5, 4, TLY_PROTOCOL_SECAGG, 4, 3, 41);
	net.tap = capture_tap;
	net.tap_arg = &cap;
	cap.swallow = UINT32_C(1) << TLY_MSG_CONSISTENCY;
	net_start(&net);
	pump(&net);
	/* Everyone has signed U3; release the signatures. */
	for (size_t i = 0; i < cap.count; i++)
		enqueue(&net, cap.items[i].from, cap.items[i].to, cap.items[i].data,
		        cap.items[i].len, 1);
	cr_assert_eq(net_finish(&net), TLY_SECAGG_DONE);
	expect_exact_sum(&net, NULL);
	cr_assert_eq(net.unmasks, 5);
	for (uint32_t i = 0; i < 4; i++)
		fewer[i] = id_of(i);
	static const uint32_t signers[4] = {0, 1, 2, 3};
	size_t before = net.injected_count;
	inject_id_list(&net, TLY_MSG_SURVIVORS, id_of(1), fewer, 4);
	inject_signatures(&net, &cap, id_of(1), signers, 4);
	pump(&net);
	cr_assert_eq(net.injected_rv[before], TLY_EREPLAY);
	cr_assert_eq(net.injected_rv[before + 1], TLY_EREPLAY);
	cr_assert_eq(net.unmasks, 5);
	cr_assert_eq(tly_secagg_client_phase(net.clients[1]), TLY_SECAGG_CLIENT_DONE);
	capture_fini(&cap);
	net_fini(&net);
}

/* Pump, letting deadlines pass, until the server reaches `phase`. */
static void
advance_to(struct net *net, enum tly_secagg_phase phase)
{
	struct tly_outbox box;

	tly_outbox_init(&box);
	for (int rounds = 0; rounds < 8; rounds++) {
		pump(net);
		if (tly_secagg_server_phase(net->server) == phase)
			break;
		cr_assert_eq(tly_secagg_server_close_round(net->server, &box), TLY_OK);
		enqueue_box(net, TLY_PARTY_COORDINATOR, &box);
	}
	tly_outbox_fini(&box);
	cr_assert_eq(tly_secagg_server_phase(net->server), phase);
}

/* What a node checks in SURVIVORS; a coordinator that breaks a rule loses
 * the node for this query. */
Test(secagg, survivor_rules)
{
	struct capture cap = {0};
	struct net net;
	uint32_t ids[6];

	/* n = 6, t = 3; node 5 drops after ADVERTISE, so U2 = U3 = nodes 0-4. */
	net_init(&net, 6, 4, TLY_PROTOCOL_SECAGG, 5, 3, 42);
	net.drop[5] = TLY_ROUND_KEY_LIST;
	net.tap = capture_tap;
	net.tap_arg = &cap;
	cap.swallow = UINT32_C(1) << TLY_MSG_SURVIVORS;
	net_start(&net);
	advance_to(&net, TLY_SECAGG_CHECKING);
	for (uint32_t i = 0; i < 6; i++)
		ids[i] = id_of(i);
	uint32_t stranger[6] = {id_of(0), id_of(1), id_of(2), id_of(3), id_of(4), 1000};
	size_t before = net.injected_count;
	inject_id_list(&net, TLY_MSG_SURVIVORS, id_of(0), ids + 1, 4); /* without node 0 */
	inject_id_list(&net, TLY_MSG_SURVIVORS, id_of(1), ids, 6);     /* node 5 never shared */
	inject_id_list(&net, TLY_MSG_SURVIVORS, id_of(2), ids + 1, 2); /* fewer than t */
	inject_id_list(&net, TLY_MSG_SURVIVORS, id_of(3), stranger, 6);
	inject_id_list(&net, TLY_MSG_SURVIVORS, id_of(4), ids, 5); /* the true U3 */
	pump(&net);
	cr_assert_eq(net.injected_rv[before], TLY_EPEER);
	cr_assert_eq(net.injected_rv[before + 1], TLY_EPEER);
	cr_assert_eq(net.injected_rv[before + 2], TLY_ETOOFEW);
	cr_assert_eq(net.injected_rv[before + 3], TLY_EPEER);
	cr_assert_eq(net.injected_rv[before + 4], TLY_OK);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(tly_secagg_client_phase(net.clients[i]), TLY_SECAGG_CLIENT_ABORTED);
	cr_assert_eq(tly_secagg_client_phase(net.clients[4]), TLY_SECAGG_CLIENT_SIGNATURES);
	capture_fini(&cap);
	net_fini(&net);
}

static void
inject_signature_entries(struct net *net, uint32_t to, const struct tly_signature_entry *entries,
                         uint32_t count)
{
	struct tly_signature_list list = {count, (struct tly_signature_entry *)entries};
	struct tly_buf body;

	tly_buf_init(&body);
	cr_assert_eq(tly_signature_list_encode(&body, &list), TLY_OK);
	inject_sealed(net, &net->coord, net->query_id, TLY_MSG_SIGNATURE_LIST, to, to, body.data,
	              body.len);
	tly_buf_fini(&body);
}

/* What a node checks in SIGNATURE_LIST: at least t signers, all in U3,
 * every signature over its own U3. */
Test(secagg, signature_list_rules)
{
	struct tly_signature_entry good[6], entries[7];
	struct capture cap = {0};
	struct net net;

	net_init(&net, 6, 4, TLY_PROTOCOL_SECAGG, 5, 3, 43);
	net.tap = capture_tap;
	net.tap_arg = &cap;
	cap.swallow = UINT32_C(1) << TLY_MSG_CONSISTENCY;
	net_start(&net);
	pump(&net);
	cr_assert_eq(tly_secagg_server_phase(net.server), TLY_SECAGG_CHECKING);
	for (uint32_t i = 0; i < 6; i++) {
		struct tly_msg m;
		captured(&net, &cap, TLY_MSG_CONSISTENCY, id_of(i), &m);
		good[i].id = id_of(i);
		memcpy(good[i].signature, m.signature, TLY_SIGNATURE_BYTES);
	}
	size_t before = net.injected_count;
	inject_signature_entries(&net, id_of(0), good, 2); /* fewer than t */
	memcpy(entries, good, sizeof good);
	entries[6] = good[5];
	entries[6].id = 1000; /* not a survivor */
	inject_signature_entries(&net, id_of(1), entries, 7);
	memcpy(entries, good, sizeof good);
	entries[2].signature[10] ^= 1; /* a bad signature */
	inject_signature_entries(&net, id_of(2), entries, 6);
	memcpy(entries, good, sizeof good);
	memcpy(entries[3].signature, good[4].signature, TLY_SIGNATURE_BYTES); /* someone else's */
	inject_signature_entries(&net, id_of(3), entries, 6);
	inject_signature_entries(&net, id_of(4), good + 1, 5); /* good, exactly Q = 5 */
	pump(&net);
	four_refused_fifth_unmasks(&net, before,
	                           (const tly_err[]){TLY_ETOOFEW, TLY_EPEER, TLY_EAUTH, TLY_EAUTH});
	capture_fini(&cap);
	net_fini(&net);
}

/* ---- SecAgg+: each client checks its neighbours' signatures only ---- */

/* The indices of node `index`'s neighbours in the query's graph. */
static uint32_t
neighbours_of(const struct net *net, uint32_t index, uint32_t *out)
{
	uint32_t ids[64], count;
	struct tly_graph g;

	cr_assert_eq(tly_graph_init(&g, net->query_id, net->query.participants.ids, net->n,
	                            net->query.degree),
	             TLY_OK);
	cr_assert_eq(tly_graph_neighbours(&g, id_of(index), ids, &count), TLY_OK);
	for (uint32_t i = 0; i < count; i++)
		out[i] = (uint32_t)index_of(net, ids[i]);
	tly_graph_fini(&g);
	return count;
}

/* A sparse net (n = 12, k = 4, t = 3) stopped after every CONSISTENCY was
 * captured (not delivered); `survivors` (NULL: the true U3) is what each
 * node is shown instead of the coordinator's SURVIVORS. */
static void
sparse_signed(struct net *net, struct capture *cap, const uint32_t *const *shown,
              const uint32_t *shown_count)
{
	net_init(net, 12, 8, TLY_PROTOCOL_SECAGG_PLUS, 4, 3, 44);
	net->tap = capture_tap;
	net->tap_arg = cap;
	cap->swallow = UINT32_C(1) << TLY_MSG_CONSISTENCY;
	if (shown != NULL)
		cap->swallow |= UINT32_C(1) << TLY_MSG_SURVIVORS;
	net_start(net);
	pump(net);
	cr_assert_eq(tly_secagg_server_phase(net->server), TLY_SECAGG_CHECKING);
	for (uint32_t i = 0; shown != NULL && i < net->n; i++)
		inject_id_list(net, TLY_MSG_SURVIVORS, id_of(i), shown[i], shown_count[i]);
	pump(net);
	for (uint32_t i = 0; i < net->n; i++)
		cr_assert_eq(tly_secagg_client_phase(net->clients[i]), TLY_SECAGG_CLIENT_SIGNATURES,
		             "node %u", i);
}

/*
 * The coordinator shows node 0 (and w) the true U3 and everyone else U3
 * without w, one of node 0's neighbours ("w dropped"): node 0 would reveal its share
 * of b_w, the others theirs of s_w^SK. Node 0's neighbours' signatures are
 * over the other set: node 0 refuses and reveals nothing. A node of the
 * other view given t of its neighbours (w not among them) unmasks: the
 * check refuses the lie, not the view.
 */
Test(secagg, sparse_coordinator_showing_different_survivors_is_caught)
{
	uint32_t all[12], without_w[11], near[8], near_count, other, w;
	const uint32_t *shown[12];
	uint32_t shown_count[12];
	struct capture cap = {0};
	struct net net;

	net_init(&net, 12, 8, TLY_PROTOCOL_SECAGG_PLUS, 4, 3, 44);
	near_count = neighbours_of(&net, 0, near);
	cr_assert_eq(near_count, 4);
	w = near[0];
	net_fini(&net);
	for (uint32_t i = 0, j = 0; i < 12; i++) {
		all[i] = id_of(i);
		if (i != w)
			without_w[j++] = id_of(i);
		shown[i] = i == 0 || i == w ? all : without_w; /* w must see itself */
		shown_count[i] = i == 0 || i == w ? 12 : 11;
	}
	sparse_signed(&net, &cap, shown, shown_count);
	/* node 0's SIGNATURE_LIST: t of its neighbours other than w, ids
	 * increasing (neighbours_of gives them so) */
	uint32_t signers[3], count = 0;
	for (uint32_t i = 0; i < near_count && count < 3; i++)
		if (near[i] != w)
			signers[count++] = near[i];
	cr_assert_eq(count, 3);
	/* a node of the other view, not next to w or 0, and t of its own */
	other = 12;
	for (uint32_t i = 1; i < 12 && other == 12; i++) {
		uint32_t theirs[8], k = neighbours_of(&net, i, theirs), ok = i != w;
		for (uint32_t j = 0; j < k; j++)
			ok &= theirs[j] != w && theirs[j] != 0;
		other = ok ? i : 12;
	}
	cr_assert_lt(other, 12);
	uint32_t theirs[8];
	neighbours_of(&net, other, theirs);
	size_t before = net.injected_count;
	inject_signatures(&net, &cap, id_of(0), signers, 3);
	inject_signatures(&net, &cap, id_of(other), theirs, 3);
	pump(&net);
	cr_assert_eq(net.injected_rv[before], TLY_EAUTH);
	cr_assert_eq(tly_secagg_client_phase(net.clients[0]), TLY_SECAGG_CLIENT_ABORTED);
	cr_assert_eq(net.injected_rv[before + 1], TLY_OK);
	cr_assert_eq(tly_secagg_client_phase(net.clients[other]), TLY_SECAGG_CLIENT_DONE);
	cr_assert_eq(net.unmasks, 1);
	capture_fini(&cap);
	net_fini(&net);
}

/* The entries of a SIGNATURE_LIST from the captured CONSISTENCY messages
 * of the nodes listed (indices, any order), ids increasing. */
static uint32_t
signature_entries(const struct net *net, const struct capture *cap, uint32_t *indices,
                  uint32_t count, struct tly_signature_entry *out)
{
	for (uint32_t i = 1; i < count; i++)
		for (uint32_t j = i; j > 0 && indices[j - 1] > indices[j]; j--) {
			uint32_t swap = indices[j];
			indices[j] = indices[j - 1];
			indices[j - 1] = swap;
		}
	for (uint32_t i = 0; i < count; i++) {
		struct tly_msg m;
		captured(net, cap, TLY_MSG_CONSISTENCY, id_of(indices[i]), &m);
		out[i].id = id_of(indices[i]);
		memcpy(out[i].signature, m.signature, TLY_SIGNATURE_BYTES);
	}
	return count;
}

/*
 * What a SecAgg+ node checks in SIGNATURE_LIST: t signatures of its
 * neighbours over its U3. One missing, one forged, one by a client that is
 * not a neighbour (a valid signature over the same U3), or its own in place
 * of a neighbour's: refused, and nothing is revealed. Exactly t good ones:
 * it unmasks.
 */
Test(secagg, sparse_signature_list_rules)
{
	struct tly_signature_entry entries[8];
	uint32_t near[8], pick[8], count;
	struct capture cap = {0};
	struct net net;

	sparse_signed(&net, &cap, NULL, NULL);
	size_t before = net.injected_count;
	for (uint32_t node = 0; node < 5; node++) {
		neighbours_of(&net, node, near);
		memcpy(pick, near, 3 * sizeof *pick);
		count = 3;
		if (node == 0)
			count = 2; /* one missing */
		if (node == 2 || node == 3) {
			uint32_t stranger = 0;
			while (stranger == node || stranger == near[0] || stranger == near[1] ||
			       stranger == near[2] || stranger == near[3])
				stranger++;
			pick[2] = node == 2 ? stranger : node;
		}
		count = signature_entries(&net, &cap, pick, count, entries);
		if (node == 1)
			entries[1].signature[7] ^= 1; /* forged */
		inject_signature_entries(&net, id_of(node), entries, count);
	}
	pump(&net);
	four_refused_fifth_unmasks(&net, before,
	                           (const tly_err[]){TLY_ETOOFEW, TLY_EAUTH, TLY_EPEER, TLY_EPEER});
	capture_fini(&cap);
	net_fini(&net);
}

/*
 * Property: SecAgg+ totals are exact whatever drops at whichever round.
 * n = 30, k = 8, t = 5: any k - t = 3 may drop. For each round, three nodes
 * drop there; then random mixes. Each run's total is exactly the sum of
 * its contributors' cells, and the audit of every UNMASK (no peer ever
 * gets both kinds) holds.
 */
Test(secagg, sparse_sums_exact_with_dropouts_at_each_round)
{
	struct tly_rng rng;

	tly_rng_init_seeded_u64(&rng, 45);
	for (size_t s = 0; s < 2 * (sizeof stages / sizeof stages[0]); s++) {
		struct net net;
		net_init(&net, 30, 6, TLY_PROTOCOL_SECAGG_PLUS, 8, 5, 300 + (uint64_t)s);
		if (s < sizeof stages / sizeof stages[0]) {
			for (uint32_t dropped = 0; dropped < 3;) {
				uint32_t i = (uint32_t)tly_rng_uniform(&rng, net.n);
				if (net.drop[i] == NEVER) {
					net.drop[i] = stages[s];
					dropped++;
				}
			}
		} else {
			random_drops(&net, &rng, 3);
		}
		cr_assert_eq(net_run(&net), TLY_SECAGG_DONE, "run %zu: %d", s, net.close_rv);
		expect_exact_sum(&net, NULL);
		net_fini(&net);
	}
	tly_rng_fini(&rng);
}

/* ---- misbehaviour is rejected and the rest complete ---- */

static const uint8_t *
body_of(const struct pending *p, size_t *len)
{
	*len = p->len - TLY_HEADER_BYTES - TLY_SIGNATURE_BYTES;
	return p->data + TLY_HEADER_BYTES;
}

static const struct tly_identity *
sender_identity(struct net *net, uint32_t id)
{
	return id == TLY_PARTY_COORDINATOR ? &net->coord : &net->nodes[index_of(net, id)];
}

/* Node 1's MASKED_INPUT is preceded by three bad versions of it. */
static int
tamper_masked_input(struct net *net, const struct pending *p)
{
	int *done = net->tap_arg;
	size_t len;
	const uint8_t *body = body_of(p, &len);

	if (p->data[1] != TLY_MSG_MASKED_INPUT || p->from != id_of(1) || *done)
		return 1;
	*done = 1;
	uint8_t *copy = malloc(p->len > len ? p->len : len);
	cr_assert_not_null(copy);
	memcpy(copy, p->data, p->len);
	copy[p->len - 1] ^= 1; /* the signature */
	enqueue(net, p->from, p->to, copy, p->len, 1);
	inject_sealed(net, &net->nodes[1], net->query_id, TLY_MSG_MASKED_INPUT,
	              TLY_PARTY_COORDINATOR, TLY_PARTY_COORDINATOR, body,
	              len - 8); /* one element short */
	memcpy(copy, body, len);
	tly_store_be64(copy + 8, TLY_FIELD_P); /* an element >= p */
	inject_sealed(net, &net->nodes[1], net->query_id, TLY_MSG_MASKED_INPUT,
	              TLY_PARTY_COORDINATOR, TLY_PARTY_COORDINATOR, copy, len);
	free(copy);
	enqueue(net, p->from, p->to, p->data, p->len, 1);
	return 0;
}

Test(secagg, bad_signature_length_and_range_rejected)
{
	struct net net;
	int done = 0;

	net_init(&net, 5, 6, TLY_PROTOCOL_SECAGG, 4, 3, 50);
	net.tap = tamper_masked_input;
	net.tap_arg = &done;
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE);
	cr_assert_eq(net.injected_count, 4);
	cr_assert_eq(net.injected_rv[0], TLY_EAUTH);
	cr_assert_eq(net.injected_rv[1], TLY_EFORMAT);
	cr_assert_eq(net.injected_rv[2], TLY_ERANGE);
	cr_assert_eq(net.injected_rv[3], TLY_OK);
	struct tly_secagg_result r;
	expect_exact_sum(&net, &r);
	cr_assert_eq(r.contributors.count, 5);
	tly_secagg_result_fini(&r);
	net_fini(&net);
}

static int
duplicate_everything(struct net *net, const struct pending *p)
{
	enqueue(net, p->from, p->to, p->data, p->len, 1);
	return 1;
}

Test(secagg, replayed_messages_rejected)
{
	struct net net;

	net_init(&net, 6, 5, TLY_PROTOCOL_SECAGG_PLUS, 4, 3, 51);
	net.tap = duplicate_everything;
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE);
	expect_exact_sum(&net, NULL);
	cr_assert_gt(net.injected_count, 6 * 8);
	for (size_t i = 0; i < net.injected_count; i++)
		cr_assert_eq(net.injected_rv[i], TLY_EREPLAY, "copy %zu: %d", i,
		             net.injected_rv[i]);
	cr_assert_eq(net.unmasks, 6);
	net_fini(&net);
}

/* Every message is followed by a copy sealed for another query. */
static int
foreign_copies(struct net *net, const struct pending *p)
{
	uint8_t other[TLY_QUERY_ID_BYTES];
	size_t len;
	const uint8_t *body = body_of(p, &len);

	memcpy(other, net->query_id, sizeof other);
	other[0] ^= 0x80;
	inject_sealed(net, sender_identity(net, p->from), other, p->data[1],
	              tly_load_be32(p->data + 28), p->to, body, len);
	return 1;
}

Test(secagg, messages_for_another_query_rejected)
{
	struct net net;

	net_init(&net, 5, 5, TLY_PROTOCOL_SECAGG, 4, 3, 52);
	net.tap = foreign_copies;
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE);
	expect_exact_sum(&net, NULL);
	cr_assert_gt(net.injected_count, 5 * 8);
	for (size_t i = 0; i < net.injected_count; i++)
		cr_assert_eq(net.injected_rv[i], TLY_EREPLAY, "copy %zu: %d", i,
		             net.injected_rv[i]);
	net_fini(&net);
}

/* Node `index`'s signature on an ADVERTISE of `keys`. */
static void
sign_advertise(struct net *net, uint32_t index, const struct tly_advertise *keys,
               uint8_t sig[TLY_SIGNATURE_BYTES])
{
	struct tly_msg_header h = {TLY_MSG_ADVERTISE, {0}, id_of(index), TLY_PARTY_COORDINATOR};
	struct tly_buf body;

	memcpy(h.query_id, net->query_id, TLY_QUERY_ID_BYTES);
	tly_buf_init(&body);
	cr_assert_eq(tly_advertise_encode(&body, keys), TLY_OK);
	cr_assert_eq(tly_msg_sign(sig, &h, body.data, body.len, net->nodes[index].sign), TLY_OK);
	tly_buf_fini(&body);
}

enum forgery { FORGED_SIGNATURE, FORGED_KEY, REPEATED_KEY, LOW_ORDER_KEY, FORGERIES };

struct forge {
	uint32_t victim[FORGERIES];
	int done[FORGERIES];
};

/* The KEY_LIST to each victim is preceded by a doctored copy. */
static int
forge_key_list(struct net *net, const struct pending *p)
{
	struct forge *f = net->tap_arg;
	struct tly_key_list list;
	struct tly_buf body;
	size_t len;
	int kind = -1;

	for (int k = 0; k < FORGERIES; k++)
		if (p->data[1] == TLY_MSG_KEY_LIST && p->to == id_of(f->victim[k]) && !f->done[k])
			kind = k;
	if (kind < 0)
		return 1;
	f->done[kind] = 1;
	const uint8_t *raw = body_of(p, &len);
	cr_assert_eq(tly_key_list_decode(&list, raw, len), TLY_OK);
	struct tly_key_entry *e = &list.entries[list.entries[0].id == p->to ? 1 : 0];
	struct tly_key_entry *other = &list.entries[list.entries[2].id == p->to ? 3 : 2];
	switch (kind) {
	case FORGED_SIGNATURE:
		e->signature[7] ^= 4;
		break;
	case FORGED_KEY:
		e->keys.secret_pk[3] ^= 1;
		break;
	case REPEATED_KEY: /* validly signed by its node, but another's key */
		memcpy(e->keys.secret_pk, other->keys.mask_pk, TLY_KX_PUBLIC_BYTES);
		sign_advertise(net, (uint32_t)index_of(net, e->id), &e->keys, e->signature);
		break;
	default: /* validly signed, low order */
		memset(e->keys.secret_pk, 0, TLY_KX_PUBLIC_BYTES);
		sign_advertise(net, (uint32_t)index_of(net, e->id), &e->keys, e->signature);
		break;
	}
	tly_buf_init(&body);
	cr_assert_eq(tly_key_list_encode(&body, &list), TLY_OK);
	inject_sealed(net, &net->coord, net->query_id, TLY_MSG_KEY_LIST, p->to, p->to, body.data,
	              body.len);
	enqueue(net, p->from, p->to, p->data, p->len, 1);
	tly_buf_fini(&body);
	tly_key_list_fini(&list);
	return 0;
}

Test(secagg, doctored_key_lists_rejected)
{
	struct forge f = {{1, 3, 5, 6}, {0}};
	struct tly_secagg_result r;
	struct net net;

	/* n = 16, t = 8, Q = 12: the four victims drop out, the other 12
	 * finish */
	net_init(&net, 16, 7, TLY_PROTOCOL_SECAGG, 15, 8, 53);
	net.tap = forge_key_list;
	net.tap_arg = &f;
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE, "%d", net.close_rv);
	cr_assert_eq(net.injected_count, 8);
	cr_assert_eq(net.injected_rv[0], TLY_EAUTH);
	cr_assert_eq(net.injected_rv[1], TLY_EABORTED); /* the genuine one comes too late */
	cr_assert_eq(net.injected_rv[2], TLY_EAUTH);
	cr_assert_eq(net.injected_rv[4], TLY_EPEER);
	cr_assert_eq(net.injected_rv[6], TLY_ELOWORDER);
	expect_exact_sum(&net, &r);
	cr_assert_eq(r.contributors.count, 12);
	for (int k = 0; k < FORGERIES; k++) {
		cr_assert(!contains(&r.contributors, id_of(f.victim[k])));
		cr_assert_eq(tly_secagg_client_phase(net.clients[f.victim[k]]),
		             TLY_SECAGG_CLIENT_ABORTED);
	}
	tly_secagg_result_fini(&r);
	net_fini(&net);
}

/* Node 1's ADVERTISE is preceded by three bad ones of its own. */
static int
tamper_advertise(struct net *net, const struct pending *p)
{
	struct tly_advertise *first = net->tap_arg, keys, mine;
	size_t len;
	const uint8_t *body = body_of(p, &len);
	struct tly_buf out;

	if (p->data[1] != TLY_MSG_ADVERTISE)
		return 1;
	if (p->from == id_of(0)) {
		cr_assert_eq(tly_advertise_decode(first, body, len), TLY_OK);
		return 1;
	}
	if (p->from != id_of(1))
		return 1;
	cr_assert_eq(tly_advertise_decode(&mine, body, len), TLY_OK);
	struct tly_advertise bad[3] = {mine, *first, mine};
	memset(bad[0].secret_pk, 0, TLY_KX_PUBLIC_BYTES);              /* low order */
	memcpy(bad[2].secret_pk, bad[2].mask_pk, TLY_KX_PUBLIC_BYTES); /* both the same */
	for (int i = 0; i < 3; i++) {
		keys = bad[i];
		tly_buf_init(&out);
		cr_assert_eq(tly_advertise_encode(&out, &keys), TLY_OK);
		inject_sealed(net, &net->nodes[1], net->query_id, TLY_MSG_ADVERTISE,
		              TLY_PARTY_COORDINATOR, TLY_PARTY_COORDINATOR, out.data, out.len);
		tly_buf_fini(&out);
	}
	enqueue(net, p->from, p->to, p->data, p->len, 1);
	return 0;
}

Test(secagg, server_rejects_bad_keys)
{
	struct tly_advertise first;
	struct net net;

	net_init(&net, 4, 3, TLY_PROTOCOL_SECAGG, 3, 2, 54);
	net.tap = tamper_advertise;
	net.tap_arg = &first;
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE);
	cr_assert_eq(net.injected_count, 4);
	cr_assert_eq(net.injected_rv[0], TLY_ELOWORDER);
	cr_assert_eq(net.injected_rv[1], TLY_EPEER); /* node 0's keys */
	cr_assert_eq(net.injected_rv[2], TLY_EPEER);
	cr_assert_eq(net.injected_rv[3], TLY_OK);
	expect_exact_sum(&net, NULL);
	net_fini(&net);
}

/* Node 1's UNMASK is preceded by doctored copies. */
static int
tamper_unmask(struct net *net, const struct pending *p)
{
	int *done = net->tap_arg;
	struct tly_unmask u;
	size_t len;
	const uint8_t *body = body_of(p, &len);

	if (p->data[1] != TLY_MSG_UNMASK || p->from != id_of(1) || *done)
		return 1;
	*done = 1;
	for (int variant = 0; variant < 3; variant++) {
		struct tly_buf out;
		cr_assert_eq(tly_unmask_decode(&u, body, len), TLY_OK);
		cr_assert_gt(u.count, 1);
		if (variant == 0) /* the other kind of share */
			u.entries[0].kind = u.entries[0].kind == TLY_UNMASK_SELF_SEED
			                        ? TLY_UNMASK_MASK_KEY
			                        : TLY_UNMASK_SELF_SEED;
		else if (variant == 1) /* a share for itself, not in its share set */
			u.entries[0].id = id_of(1);
		else /* a word >= p */
			tly_store_be64(u.entries[1].share, TLY_FIELD_P + 1);
		if (variant == 1 && u.entries[1].id < id_of(1)) {
			struct tly_unmask_entry swap = u.entries[0];
			u.entries[0] = u.entries[1];
			u.entries[1] = swap;
		}
		tly_buf_init(&out);
		cr_assert_eq(tly_unmask_encode(&out, &u), TLY_OK);
		inject_sealed(net, &net->nodes[1], net->query_id, TLY_MSG_UNMASK,
		              TLY_PARTY_COORDINATOR, TLY_PARTY_COORDINATOR, out.data, out.len);
		tly_buf_fini(&out);
		tly_unmask_fini(&u);
	}
	enqueue(net, p->from, p->to, p->data, p->len, 1);
	return 0;
}

Test(secagg, server_rejects_bad_unmask)
{
	struct net net;
	int done = 0;

	/* node 0 drops after its key shares: the UNMASKs carry both kinds */
	net_init(&net, 6, 3, TLY_PROTOCOL_SECAGG, 5, 3, 55);
	net.drop[0] = TLY_ROUND_SHARE_SET;
	net.tap = tamper_unmask;
	net.tap_arg = &done;
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE);
	cr_assert_eq(net.injected_count, 4);
	cr_assert_eq(net.injected_rv[0], TLY_EPEER);
	cr_assert_eq(net.injected_rv[1], TLY_EPEER);
	cr_assert_eq(net.injected_rv[2], TLY_ERANGE);
	cr_assert_eq(net.injected_rv[3], TLY_OK);
	expect_exact_sum(&net, NULL);
	net_fini(&net);
}

/* Types out of turn, and messages for someone else. */
Test(secagg, out_of_turn_and_misaddressed)
{
	struct capture cap = {0};
	struct net net;
	uint32_t ids[4] = {id_of(0), id_of(1), id_of(2), id_of(3)};
	uint8_t hash[TLY_HASH_BYTES] = {0};

	net_init(&net, 4, 3, TLY_PROTOCOL_SECAGG, 3, 2, 56);
	net.tap = capture_tap;
	net.tap_arg = &cap;
	cap.swallow = UINT32_C(1) << TLY_MSG_KEY_LIST;
	net_start(&net);
	pump(&net);
	cr_assert_eq(tly_secagg_server_phase(net.server), TLY_SECAGG_SHARING);
	cr_assert_eq(cap.count, 4);
	size_t before = net.injected_count;
	/* to node 0, waiting for its KEY_LIST: */
	inject_id_list(&net, TLY_MSG_SURVIVORS, id_of(0), ids, 4); /* a later round */
	inject_sealed(&net, &net.nodes[1], net.query_id, TLY_MSG_CONSISTENCY, TLY_PARTY_COORDINATOR,
	              id_of(0), hash, sizeof hash); /* a type nodes never take */
	for (size_t i = 0; i < cap.count; i++)
		if (cap.items[i].to == id_of(1)) /* node 1's KEY_LIST */
			enqueue(&net, TLY_PARTY_COORDINATOR, id_of(0), cap.items[i].data,
			        cap.items[i].len, 1);
	/* to the server, collecting KEY_SHAREs: */
	inject_id_list(&net, TLY_MSG_SURVIVORS, TLY_PARTY_COORDINATOR, ids, 4);
	inject_sealed(&net, &net.nodes[0], net.query_id, TLY_MSG_CONSISTENCY, TLY_PARTY_COORDINATOR,
	              TLY_PARTY_COORDINATOR, hash, sizeof hash);
	struct tly_advertise keys;
	memset(&keys, 9, sizeof keys);
	inject_sealed(&net, &net.nodes[0], net.query_id, TLY_MSG_ADVERTISE, TLY_PARTY_COORDINATOR,
	              TLY_PARTY_COORDINATOR, (const uint8_t *)&keys, sizeof keys);
	uint8_t ct[TLY_KEY_SHARE_CIPHER_BYTES] = {0};
	inject_sealed(&net, &net.nodes[0], net.query_id, TLY_MSG_KEY_SHARE, 1000,
	              TLY_PARTY_COORDINATOR, ct, sizeof ct); /* for a stranger */
	inject_sealed(&net, &net.nodes[0], net.query_id, TLY_MSG_KEY_SHARE, id_of(1),
	              TLY_PARTY_COORDINATOR, ct, sizeof ct - 1); /* short */
	pump(&net);
	cr_assert_eq(net.injected_count - before, 8);
	cr_assert_eq(net.injected_rv[before], TLY_ESTATE);
	cr_assert_eq(net.injected_rv[before + 1], TLY_ESTATE);
	cr_assert_eq(net.injected_rv[before + 2], TLY_EPEER);
	cr_assert_eq(net.injected_rv[before + 3], TLY_ESTATE);
	cr_assert_eq(net.injected_rv[before + 4], TLY_ESTATE);
	cr_assert_eq(net.injected_rv[before + 5], TLY_EREPLAY);
	cr_assert_eq(net.injected_rv[before + 6], TLY_EPEER);
	cr_assert_eq(net.injected_rv[before + 7], TLY_EFORMAT);
	cr_assert_eq(tly_secagg_client_phase(net.clients[0]), TLY_SECAGG_CLIENT_KEYS);
	/* none of it did harm: deliver the key lists and finish */
	net.tap = NULL;
	for (size_t i = 0; i < cap.count; i++)
		enqueue(&net, cap.items[i].from, cap.items[i].to, cap.items[i].data,
		        cap.items[i].len, 1);
	cr_assert_eq(net_finish(&net), TLY_SECAGG_DONE);
	expect_exact_sum(&net, NULL);
	capture_fini(&cap);
	net_fini(&net);
}

static int policy_calls;

static tly_err
refuse(void *arg, const uint8_t query_id[TLY_QUERY_ID_BYTES], const struct tly_query *q)
{
	(void)arg;
	(void)query_id;
	cr_assert_eq(q->protocol, TLY_PROTOCOL_SECAGG);
	policy_calls++;
	return TLY_ERANGE;
}

Test(secagg, node_refusals)
{
	struct tly_secagg_client *c = NULL;
	struct tly_identity stranger;
	struct tly_outbox box;
	struct net net;

	net_init(&net, 3, 2, TLY_PROTOCOL_SECAGG, 2, 2, 57);
	tly_outbox_init(&box);
	cr_assert_eq(tly_secagg_server_alloc(&net.server, &net.coord, &net.roster, &net.query,
	                                     net.query_id, &box),
	             TLY_OK);
	cr_assert_eq(box.count, 3);
	size_t len = box.items[0].len;
	uint8_t *query = malloc(len);
	cr_assert_not_null(query);
	memcpy(query, box.items[0].data, len);
	/* no noise without the test-only permission */
	cr_assert_eq(
	    tly_secagg_client_alloc(&c, &net.nodes[0], &net.roster, &net.rngs[0], NULL, query, len),
	    TLY_EPEER);
	struct tly_secagg_client_opts opts = {.allow_no_noise = 1, .policy = refuse};
	cr_assert_eq(tly_secagg_client_alloc(&c, &net.nodes[0], &net.roster, &net.rngs[0], &opts,
	                                     query, len),
	             TLY_ERANGE);
	cr_assert_eq(policy_calls, 1);
	cr_assert_eq(tly_identity_generate(&stranger, 999, 0), TLY_OK);
	opts.policy = NULL;
	cr_assert_eq(
	    tly_secagg_client_alloc(&c, &stranger, &net.roster, &net.rngs[0], &opts, query, len),
	    TLY_EPEER);
	tly_identity_fini(&stranger);
	cr_assert_null(c);
	/* a message that is not a QUERY */
	cr_assert_eq(tly_secagg_client_alloc(&c, &net.nodes[0], &net.roster, &net.rngs[0], &opts,
	                                     query, len - 1),
	             TLY_EFORMAT);
	/* start: wrong d, then twice */
	cr_assert_eq(tly_secagg_client_alloc(&c, &net.nodes[0], &net.roster, &net.rngs[0], &opts,
	                                     query, len),
	             TLY_OK);
	cr_assert_eq(tly_secagg_client_phase(c), TLY_SECAGG_CLIENT_READY);
	cr_assert_eq(tly_secagg_client_query(c)->cells, 2);
	cr_assert_eq(memcmp(tly_secagg_client_query_id(c), net.query_id, 16), 0);
	tly_outbox_clear(&box);
	cr_assert_eq(tly_secagg_client_start(c, net.cells[0], 3, &box), TLY_EINVAL);
	cr_assert_eq(tly_secagg_client_start(c, net.cells[0], 2, &box), TLY_OK);
	cr_assert_eq(box.count, 1);
	cr_assert_eq(tly_secagg_client_start(c, net.cells[0], 2, &box), TLY_ESTATE);
	/* a cell outside the signed range ends the query for the node */
	tly_secagg_client_free(c);
	c = NULL;
	int64_t huge[2] = {INT64_MAX, 0};
	cr_assert_eq(tly_secagg_client_alloc(&c, &net.nodes[1], &net.roster, &net.rngs[1], &opts,
	                                     query, len),
	             TLY_OK);
	cr_assert_eq(tly_secagg_client_start(c, huge, 2, &box), TLY_ERANGE);
	cr_assert_eq(tly_secagg_client_phase(c), TLY_SECAGG_CLIENT_ABORTED);
	cr_assert_eq(tly_secagg_client_start(c, huge, 2, &box), TLY_EABORTED);
	tly_secagg_client_free(c);
	tly_outbox_fini(&box);
	free(query);
	net_fini(&net);
}

Test(secagg, query_rules)
{
	struct net net;
	struct tly_query *q = &net.query;
	struct tly_outbox box;

	net_init(&net, 8, 2, TLY_PROTOCOL_SECAGG_PLUS, 4, 3, 58);
	cr_assert_eq(tly_secagg_query_check(q, &net.roster), TLY_OK);
#define EXPECT_RULE(field, value, expected)                                                        \
	do {                                                                                       \
		__typeof__(q->field) saved = q->field;                                             \
		q->field = (value);                                                                \
		cr_assert_eq(tly_secagg_query_check(q, &net.roster), (expected),                   \
		             #field " = " #value);                                                 \
		q->field = saved;                                                                  \
	} while (0)
	EXPECT_RULE(protocol, TLY_PROTOCOL_COMMITTEE, TLY_EINVAL);
	EXPECT_RULE(degree, 5, TLY_EINVAL); /* odd */
	EXPECT_RULE(degree, 0, TLY_EINVAL);
	EXPECT_RULE(degree, 8, TLY_EINVAL); /* past n - 1 */
	EXPECT_RULE(degree, 7, TLY_EINVAL); /* complete, but then 2t <= k */
	q->threshold = 4;
	EXPECT_RULE(degree, 7, TLY_OK); /* complete */
	q->threshold = 3;
	EXPECT_RULE(threshold, 1, TLY_EINVAL);
	EXPECT_RULE(threshold, 2, TLY_EINVAL); /* 2t = k */
	EXPECT_RULE(threshold, 4, TLY_OK);
	EXPECT_RULE(threshold, 5, TLY_EINVAL); /* t > k */
	EXPECT_RULE(min_contributors, 9, TLY_EINVAL);
	EXPECT_RULE(min_honest, 4, TLY_EINVAL);
	EXPECT_RULE(min_honest, 0, TLY_EINVAL);
	EXPECT_RULE(cells, 0, TLY_EINVAL);
	q->protocol = TLY_PROTOCOL_SECAGG;
	EXPECT_RULE(degree, 4, TLY_EINVAL); /* SecAgg is complete */
	q->protocol = TLY_PROTOCOL_SECAGG_PLUS;
	q->participants.ids[7] = 1001; /* not in the roster */
	cr_assert_eq(tly_secagg_query_check(q, &net.roster), TLY_EPEER);
	q->participants.count = 2;
	q->degree = 1;
	q->threshold = 1;
	q->min_contributors = 2;
	cr_assert_eq(tly_secagg_query_check(q, &net.roster), TLY_EINVAL); /* n < 3 */
	q->participants.count = 8;
	q->degree = 4;
	q->threshold = 2;
	tly_outbox_init(&box);
	cr_assert_eq(
	    tly_secagg_server_alloc(&net.server, &net.coord, &net.roster, q, net.query_id, &box),
	    TLY_EINVAL);
	cr_assert_null(net.server);
	cr_assert_eq(box.count, 0);
	tly_outbox_fini(&box);
	q->participants.ids[7] = id_of(7);
	net_fini(&net);
}

/* ---- statistics ---- */

enum { VIEW_BINS = 256, VIEW_SHIFT = TLY_FIELD_BITS - 8, VIEW_CELLS = 32768 };

/* The coordinator's view: node 0's masked vector. */
struct view {
	uint64_t elements[VIEW_CELLS];
	int seen;
};

static int
watch_node0(struct net *net, const struct pending *p)
{
	struct view *v = net->tap_arg;
	struct tly_msg m;

	if (p->data[1] == TLY_MSG_MASKED_INPUT && p->from == id_of(0)) {
		cr_assert_eq(tly_msg_open(p->data, p->len, &net->roster, &m), TLY_OK);
		cr_assert_eq(tly_vector_decode(v->elements, VIEW_CELLS, m.body, m.body_len),
		             TLY_OK);
		v->seen = 1;
	}
	return 1;
}

static void
histogram(uint64_t *bins, const uint64_t *elements, size_t count)
{
	memset(bins, 0, VIEW_BINS * sizeof *bins);
	for (size_t i = 0; i < count; i++)
		bins[elements[i] >> VIEW_SHIFT]++;
}

/* Pearson's p-value of bins against the uniform distribution on F_p's top
 * 8 bits (the last bin is one element short of 2^53: negligible). */
static double
uniform_p(const uint64_t *bins, size_t total)
{
	double expected = (double)total / VIEW_BINS, statistic = 0;

	for (int i = 0; i < VIEW_BINS; i++)
		statistic += ((double)bins[i] - expected) * ((double)bins[i] - expected) / expected;
	return stats_chi2_sf(statistic, VIEW_BINS - 1);
}

/* Chi-square test of homogeneity of two histograms (2 x 256 table). */
static double
same_p(const uint64_t *a, const uint64_t *b)
{
	double total_a = 0, total_b = 0, statistic = 0;
	int used = 0;

	for (int i = 0; i < VIEW_BINS; i++) {
		total_a += (double)a[i];
		total_b += (double)b[i];
	}
	for (int i = 0; i < VIEW_BINS; i++) {
		double pooled = (double)(a[i] + b[i]);
		if (pooled == 0)
			continue;
		double ea = pooled * total_a / (total_a + total_b);
		double eb = pooled * total_b / (total_a + total_b);
		statistic += ((double)a[i] - ea) * ((double)a[i] - ea) / ea +
		             ((double)b[i] - eb) * ((double)b[i] - eb) / eb;
		used++;
	}
	return used < 2 ? 0 : stats_chi2_sf(statistic, used - 1);
}

/*
 * Two input sets with total 0 in every cell: (A) node 0 holds 2^59 + r,
 * node 1 its negation; (B) node 0 holds r, node 1 -r; node 2 holds 0. Run
 * the protocol and return node 0's masked vector, and its raw input.
 */
static void
masked_view(int set_a, struct view *v, uint64_t *raw, uint64_t seed)
{
	struct net net;
	struct tly_rng rng;

	net_init(&net, 3, VIEW_CELLS, TLY_PROTOCOL_SECAGG, 2, 2, seed);
	tly_rng_init_seeded_u64(&rng, seed + 7);
	for (size_t c = 0; c < VIEW_CELLS; c++) {
		int64_t r = (int64_t)tly_rng_uniform(&rng, 1000000);
		net.cells[0][c] = set_a ? ((int64_t)1 << 59) + r : r;
		net.cells[1][c] = -net.cells[0][c];
		net.cells[2][c] = 0;
	}
	cr_assert_eq(tly_field_vec_encode_signed(raw, net.cells[0], VIEW_CELLS, NULL), TLY_OK);
	v->seen = 0;
	net.tap = watch_node0;
	net.tap_arg = v;
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE);
	expect_exact_sum(&net, NULL);
	cr_assert(v->seen);
	tly_rng_fini(&rng);
	net_fini(&net);
}

Test(secagg_stats, masked_view_hides_the_input)
{
	static struct view a, b;
	static uint64_t raw_a[VIEW_CELLS], raw_b[VIEW_CELLS], weak[VIEW_CELLS];
	uint64_t bins_a[VIEW_BINS], bins_b[VIEW_BINS], bins_raw_a[VIEW_BINS], bins_raw_b[VIEW_BINS];
	uint64_t bins_weak[VIEW_BINS];
	struct tly_rng rng;

	masked_view(1, &a, raw_a, 60);
	masked_view(0, &b, raw_b, 61);
	histogram(bins_a, a.elements, VIEW_CELLS);
	histogram(bins_b, b.elements, VIEW_CELLS);
	double p_a = uniform_p(bins_a, VIEW_CELLS), p_b = uniform_p(bins_b, VIEW_CELLS);
	double p_ab = same_p(bins_a, bins_b);
	cr_assert_gt(p_a, FIT_P, "view under A not uniform: p = %g", p_a);
	cr_assert_gt(p_b, FIT_P, "view under B not uniform: p = %g", p_b);
	cr_assert_gt(p_ab, FIT_P, "views under A and B differ: p = %g", p_ab);

	/* Power: the same tests on an unmasked view, and on one masked by a
	 * 40-bit value only, reject. */
	histogram(bins_raw_a, raw_a, VIEW_CELLS);
	histogram(bins_raw_b, raw_b, VIEW_CELLS);
	cr_assert_lt(uniform_p(bins_raw_a, VIEW_CELLS), POWER_P);
	cr_assert_lt(uniform_p(bins_raw_b, VIEW_CELLS), POWER_P);
	cr_assert_lt(same_p(bins_raw_a, bins_raw_b), POWER_P);
	tly_rng_init_seeded_u64(&rng, 62);
	for (size_t c = 0; c < VIEW_CELLS; c++)
		weak[c] = tly_field_add(raw_a[c], tly_rng_u64(&rng) & ((UINT64_C(1) << 40) - 1));
	histogram(bins_weak, weak, VIEW_CELLS);
	cr_assert_lt(uniform_p(bins_weak, VIEW_CELLS), POWER_P);
	cr_assert_lt(same_p(bins_weak, bins_b), POWER_P);
	tly_rng_fini(&rng);
}

enum { NOISE_CELLS = 20000, NOISE_WINDOW = 60 };

/* n = h = 3 nodes with noise on; the released total minus the true sum,
 * per cell. */
static void
noise_run(uint8_t mechanism, uint64_t num, uint64_t den, struct stats_hist *hist,
          struct tly_noise_params *params)
{
	struct tly_secagg_result r;
	struct net net;

	net_init(&net, 3, NOISE_CELLS, TLY_PROTOCOL_SECAGG, 2, 2, 70 + mechanism);
	net.query.mechanism = mechanism;
	net.query.privacy_num = num;
	net.query.privacy_den = den;
	net.query.sensitivity_l1 = 1;
	net.query.sensitivity_l2sq = 1;
	net.query.min_honest = 3;
	net.query.min_contributors = 3;
	cr_assert_eq(tly_noise_calibrate(&net.query, params), TLY_OK);
	cr_assert_eq(net_run(&net), TLY_SECAGG_DONE);
	cr_assert_eq(tly_secagg_server_result(net.server, &r), TLY_OK);
	cr_assert_eq(r.contributors.count, 3);
	stats_hist_init(hist, -NOISE_WINDOW, NOISE_WINDOW);
	for (size_t c = 0; c < NOISE_CELLS; c++)
		stats_hist_add(hist,
		               r.cells[c] - net.cells[0][c] - net.cells[1][c] - net.cells[2][c]);
	tly_secagg_result_fini(&r);
	net_fini(&net);
}

/* Discrete Laplace: P(k) = (1 - a)/(1 + a) a^|k|. */
static void
laplace_pmf(double *prob, double alpha)
{
	for (int k = -NOISE_WINDOW; k <= NOISE_WINDOW; k++)
		prob[k + NOISE_WINDOW] = (1 - alpha) / (1 + alpha) * pow(alpha, abs(k));
}

Test(secagg_stats, laplace_noise_in_the_total)
{
	double prob[2 * NOISE_WINDOW + 1];
	struct tly_noise_params params;
	struct stats_hist hist;

	/* epsilon = 1, sensitivity 1: the total noise is discrete Laplace with
	 * alpha = e^-1 when all h = 3 shares are in */
	noise_run(TLY_MECH_LAPLACE, 1, 1, &hist, &params);
	cr_assert_eq(params.h, 3);
	laplace_pmf(prob, exp(-1.0));
	double p = stats_chi2(&hist, prob, NULL, NULL);
	cr_assert_gt(p, FIT_P, "p = %g", p);
	laplace_pmf(prob, exp(-1.25));
	cr_assert_lt(stats_chi2(&hist, prob, NULL, NULL), POWER_P);
	laplace_pmf(prob, exp(-0.8));
	cr_assert_lt(stats_chi2(&hist, prob, NULL, NULL), POWER_P);
	stats_hist_fini(&hist);
}

/* Skellam(mu): P(k) = e^{-2 mu} sum_j mu^{2j + |k|} / (j! (j + |k|)!). */
static void
skellam_pmf(double *prob, double mu)
{
	for (int k = -NOISE_WINDOW; k <= NOISE_WINDOW; k++) {
		double sum = 0;
		for (int j = 0; j < 400; j++)
			sum += exp(-2 * mu + (2.0 * j + abs(k)) * log(mu) - lgamma(j + 1.0) -
			           lgamma(j + abs(k) + 1.0));
		prob[k + NOISE_WINDOW] = sum;
	}
}

Test(secagg_stats, skellam_noise_in_the_total)
{
	double prob[2 * NOISE_WINDOW + 1];
	struct tly_noise_params params;
	struct stats_hist hist;

	noise_run(TLY_MECH_SKELLAM, 1, 2, &hist, &params); /* rho = 1/2 */
	double mu = (double)params.mu_num / (double)params.mu_den;
	cr_assert(mu > 0.5 && 6 * sqrt(2 * mu) < NOISE_WINDOW, "mu = %g", mu);
	skellam_pmf(prob, mu);
	double p = stats_chi2(&hist, prob, NULL, NULL);
	cr_assert_gt(p, FIT_P, "p = %g", p);
	skellam_pmf(prob, mu * 1.2);
	cr_assert_lt(stats_chi2(&hist, prob, NULL, NULL), POWER_P);
	stats_hist_fini(&hist);
}
