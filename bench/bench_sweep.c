/*
 * bench_sweep - the in-process half of `make sweep` (docs/BENCHMARKS.md,
 * "Sweeps"): the cost of dropouts, bytes on the wire against the
 * plaintext at up to 2^10 users, the libprio job, and accuracy against
 * epsilon and against dropouts by simulation with the real samplers.
 * bench_federation sweep is the other half (time and bytes against n and
 * d with every node a process over TLS).
 *
 * Protocol runs. This process plays every party: the coordinator's state
 * machine (tly_committee_coord or tly_secagg_server), each node's
 * (tly_committee_node_answer and, for nodes 1..k, tly_committee_member;
 * or tly_secagg_client), with every message put through one FIFO, as the
 * coordinator relays it. Noise is off (TLY_MECH_NONE, the test-only opts
 * flag), so each total is checked exactly against the inputs of the
 * contributors the protocol names. Node i's input is the common vector
 * plus i in every cell.
 *   Dropouts: a dropping node goes silent at the message it would send in
 *   the round that hurts most: SecAgg(+) at its MASKED_INPUT (after its
 *   key shares went out, so the server must rebuild its pairwise masks
 *   from the survivors' shares); committee at its SHAREs (a committee
 *   member never drops: droppers are drawn from nodes k+1..n). Nothing is
 *   delivered to it from then on. When the FIFO is empty and the query is
 *   not over, the round's deadline is taken to pass at once
 *   (close_round): the deadline's wait is configuration, not work, and is
 *   left out of the times.
 *   Bytes: every message on every hop (node -> coordinator, coordinator
 *   -> node), protocol headers and signatures included, no transport
 *   framing or TLS. The plaintext baseline is n vectors of d 8-byte field
 *   elements, nothing else (what a node would send in the clear).
 *   Times: process CPU seconds of the whole query (every party, one
 *   thread), and the wall seconds inside the coordinator's calls.
 * Parameters. Committee (k, t, q) = (4, 2, 3), the coordinator's
 * defaults. SecAgg: complete graph, t = floor((n - 1) / 2) + 1. SecAgg+:
 * (degree, t) from tly_graph_params(n, 40, 20, rate, 0.05) with rate 0.05,
 * or in the dropout sweep the sweep's largest rate, so that the graph is
 * built for the dropouts it meets.
 *
 * Accuracy. A query with one cell per repetition: every contributor's
 * noise share is tly_noise_apply (the node's own call) over zeros with the
 * calibration of tly_noise_calibrate, the shares summed in the field and
 * decoded; the interval is tly_noise_describe's ci95_half_width, as the
 * coordinator releases it (coordinator/release.c). Rows per point: RMSE
 * against the stated sd, the interval's width, and the empirical coverage
 * against 0.95. Distributed: n shares each calibrated for h honest;
 * central: one curator adding the whole noise (n = h = 1), same epsilon.
 *
 * Rows (timing.h), params key=value (scripts/sweep.sh turns them into
 * columns):
 *   dropout_cpu, dropout_coord, dropout_bytes   per protocol and rate
 *   expansion        protocol bytes (MB), baseline plaintext (the ratio is
 *                    the expansion), over n at d = 2^16 and over d at
 *                    n = 2^8, up to n = 2^10 (SecAgg: 1000, its cap
 *                    TLY_MAX_COMPLETE_PARTIES); expansion_cpu its seconds
 *   prio_job         n = 1000, d = 1000: committee and SecAgg+ CPU seconds
 *   accuracy_rmse, accuracy_width, accuracy_coverage   against epsilon
 *   dropout_rmse, dropout_width, dropout_coverage      against the rate
 * `bench_sweep SECTION` runs one of dropout, expansion, prio, accuracy;
 * `bench_sweep versions` prints the libraries' versions as key=value.
 * SWEEP_SEED (environment, default SEED) seeds every draw. In the short
 * pass (TALLY_BENCH_QUICK) every section runs at tiny sizes.
 */
#include <gmp.h>
#include <math.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/timing.h"
#include "crypto/field.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "query/noise.h"
#include "wire/codec.h"
#include "protocol/committee.h"
#include "protocol/graph.h"
#include "protocol/secagg.h"

enum {
	MAX_PARTIES = 1024,
	MAX_D = 1 << 18,
	COMMITTEE_K = 4, /* the coordinator's defaults (coordinator/config.h) */
	COMMITTEE_T = 2,
	COMMITTEE_Q = 3,
	INPUT_BOUND = 1000000,
	SEED = 20261207,
};

/* Any failure ends the run: a benchmark that cannot check its totals
 * measures nothing. */
static void
check(tly_err rv, const char *what)
{
	if (rv == TLY_OK)
		return;
	fprintf(stderr, "bench_sweep: %s: %s\n", what, tly_strerror(rv));
	exit(1);
}

static void *
xcalloc(size_t count, size_t size)
{
	void *p = calloc(count, size);
	check(p != NULL ? TLY_OK : TLY_ENOMEM, "calloc");
	return p;
}

/* ---- the parties: keys, roster, inputs ---- */

static struct {
	struct tly_identity coord;
	struct tly_identity node[MAX_PARTIES + 1]; /* by id */
	struct tly_roster roster;
	struct tly_rng rng;
	int64_t *common; /* every node's input is common[c] + id */
	int64_t *input;  /* scratch: one node's input */
	uint32_t ids[MAX_PARTIES];
	uint32_t committee[COMMITTEE_K];
	uint64_t seed;
} lab;

/* The common input vector: uniform in [-INPUT_BOUND, INPUT_BOUND]. */
static void
common_inputs(void)
{
	const uint64_t span = 2 * INPUT_BOUND + 1;

	lab.common = xcalloc(MAX_D, sizeof *lab.common);
	lab.input = xcalloc(MAX_D, sizeof *lab.input);
	for (size_t c = 0; c < MAX_D; c++)
		lab.common[c] = (int64_t)tly_rng_uniform(&lab.rng, span) - INPUT_BOUND;
}

static void
lab_init(void)
{
	struct tly_party *pub = xcalloc(MAX_PARTIES, sizeof *pub);
	uint8_t coord_pk[TLY_SIGN_PUBLIC_BYTES];
	const char *env = getenv("SWEEP_SEED");

	lab.seed = env != NULL && *env != '\0' ? strtoull(env, NULL, 10) : SEED;
	tly_rng_init_seeded_u64(&lab.rng, lab.seed);
	check(tly_identity_generate(&lab.coord, TLY_PARTY_COORDINATOR, 0), "identity");
	for (uint32_t id = 1; id <= MAX_PARTIES; id++) {
		check(tly_identity_generate(&lab.node[id], id, 1), "identity");
		tly_identity_public(&lab.node[id], &pub[id - 1]);
		lab.ids[id - 1] = id;
	}
	for (uint32_t j = 0; j < COMMITTEE_K; j++)
		lab.committee[j] = j + 1;
	tly_sign_key_public(lab.coord.sign, coord_pk);
	check(tly_roster_init(&lab.roster, coord_pk, pub, MAX_PARTIES), "roster");
	free(pub);
	common_inputs();
}

static void
lab_fini(void)
{
	for (uint32_t id = 1; id <= MAX_PARTIES; id++)
		tly_identity_fini(&lab.node[id]);
	tly_identity_fini(&lab.coord);
	tly_roster_fini(&lab.roster);
	tly_rng_fini(&lab.rng);
	free(lab.common);
	free(lab.input);
}

static const int64_t *
input_of(uint32_t id, size_t d)
{
	for (size_t c = 0; c < d; c++)
		lab.input[c] = lab.common[c] + (int64_t)id;
	return lab.input;
}

/* ---- one query through a FIFO, with dropouts ---- */

struct flight {
	uint32_t to;
	uint8_t *data;
	size_t len;
};

struct run {
	uint8_t protocol;
	uint32_t n;
	size_t d;
	struct tly_query q;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	uint8_t dropper[MAX_PARTIES + 1], dead[MAX_PARTIES + 1];
	uint8_t drop_type; /* the message a dropper does not send */
	uint32_t drops;
	struct flight *queue;
	size_t head, tail, cap;
	struct tly_outbox box;
	uint64_t bytes;
	double coord_seconds;
	struct tly_committee_coord *coord;
	struct tly_committee_member *member[COMMITTEE_K + 1]; /* by id */
	struct tly_secagg_server *server;
	struct tly_secagg_client *client[MAX_PARTIES + 1]; /* by id */
};

/* What one query cost. */
struct outcome {
	double cpu, coord;
	uint64_t bytes;
	uint32_t contributors;
};

/* Move the outbox's messages to the queue, but for what a dropper would
 * send from its drop point on (it is dead from then). from = 0: the
 * coordinator. */
static void
queue_room(struct run *r, size_t more)
{
	size_t need = r->tail + more;
	struct flight *grown;

	if (need <= r->cap)
		return;
	grown = realloc(r->queue, 2 * need * sizeof *grown);
	check(grown != NULL ? TLY_OK : TLY_ENOMEM, "queue");
	r->queue = grown;
	r->cap = 2 * need;
}

static void
take(struct run *r, uint32_t from)
{
	if (r->head == r->tail)
		r->head = r->tail = 0;
	queue_room(r, r->box.count);
	for (size_t i = 0; i < r->box.count; i++) {
		struct tly_outmsg *m = &r->box.items[i];
		struct tly_msg peeked;
		if (from != 0 && r->dropper[from] &&
		    tly_msg_peek(m->data, m->len, &peeked) == TLY_OK &&
		    peeked.header.type == r->drop_type)
			r->dead[from] = 1;
		if (from != 0 && r->dead[from]) {
			free(m->data);
			continue;
		}
		r->bytes += m->len;
		r->queue[r->tail++] = (struct flight){m->to, m->data, m->len};
	}
	r->box.count = 0;
}

static void
coord_call(struct run *r, const struct flight *f)
{
	double start = bench_now();
	tly_err rv = TLY_OK;

	if (f == NULL && r->protocol == TLY_PROTOCOL_COMMITTEE)
		rv = tly_committee_coord_close_round(r->coord, &r->box);
	else if (f == NULL)
		rv = tly_secagg_server_close_round(r->server, &r->box);
	else if (r->protocol == TLY_PROTOCOL_COMMITTEE)
		rv = tly_committee_coord_receive(r->coord, f->data, f->len, &r->box);
	else
		rv = tly_secagg_server_receive(r->server, f->data, f->len, &r->box);
	r->coord_seconds += bench_now() - start;
	check(rv, f == NULL ? "coordinator: close a round" : "coordinator: receive");
	take(r, 0);
}

/* A committee node's QUERY: member first (if named), then its answer. */
static void
committee_query(struct run *r, uint32_t id, const struct flight *f)
{
	struct tly_committee_node_opts opts = {.allow_no_noise = 1};
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;

	check(tly_committee_read_query(&lab.roster, id, f->data, f->len, query_id, &q),
	      "read QUERY");
	if (tly_idlist_contains(&q.committee, id))
		check(tly_committee_member_alloc(&r->member[id], &lab.node[id], &lab.roster,
		                                 query_id, &q),
		      "member alloc");
	check(tly_committee_node_answer(&lab.node[id], &lab.roster, &lab.rng, &opts, query_id, &q,
	                                input_of(id, r->d), r->d, &r->box),
	      "node answer");
	tly_query_fini(&q);
}

static void
node_call(struct run *r, const struct flight *f)
{
	struct tly_secagg_client_opts opts = {.allow_no_noise = 1};
	struct tly_msg peeked;
	uint32_t id = f->to;

	check(tly_msg_peek(f->data, f->len, &peeked), "peek");
	if (r->protocol == TLY_PROTOCOL_COMMITTEE && peeked.header.type == TLY_MSG_QUERY)
		committee_query(r, id, f);
	else if (r->protocol == TLY_PROTOCOL_COMMITTEE)
		check(tly_committee_member_receive(r->member[id], f->data, f->len, &r->box),
		      "member receive");
	else if (peeked.header.type == TLY_MSG_QUERY) {
		check(tly_secagg_client_alloc(&r->client[id], &lab.node[id], &lab.roster, &lab.rng,
		                              &opts, f->data, f->len),
		      "client alloc");
		check(tly_secagg_client_start(r->client[id], input_of(id, r->d), r->d, &r->box),
		      "client start");
	} else
		check(tly_secagg_client_receive(r->client[id], f->data, f->len, &r->box),
		      "client receive");
	take(r, id);
}

static int
run_done(const struct run *r)
{
	if (r->protocol == TLY_PROTOCOL_COMMITTEE)
		return tly_committee_coord_phase(r->coord) == TLY_COMMITTEE_DONE;
	return tly_secagg_server_phase(r->server) == TLY_SECAGG_DONE;
}

/* Deliver until the query is done; an empty queue is a round's deadline. */
static void
pump(struct run *r)
{
	while (!run_done(r)) {
		if (r->head == r->tail) {
			coord_call(r, NULL);
			continue;
		}
		struct flight f = r->queue[r->head++];
		if (f.to == TLY_PARTY_COORDINATOR)
			coord_call(r, &f);
		else if (!r->dead[f.to])
			node_call(r, &f);
		free(f.data);
	}
	while (r->head < r->tail) /* late messages nobody reads */
		free(r->queue[r->head++].data);
}

/* The total must be the contributors' inputs, exactly (noise is off). */
static void
check_total(const struct run *r, const int64_t *cells, const struct tly_idlist *who)
{
	int64_t id_sum = 0;

	if (who->count != r->n - r->drops)
		check(TLY_ETOOFEW, "contributors missing from the total");
	for (uint32_t i = 0; i < who->count; i++) {
		if (r->dropper[who->ids[i]])
			check(TLY_EFORMAT, "a dropped node counted as a contributor");
		id_sum += who->ids[i];
	}
	for (size_t c = 0; c < r->d; c++)
		if (cells[c] != (int64_t)who->count * lab.common[c] + id_sum)
			check(TLY_EFORMAT, "wrong total");
}

/* The query of r->protocol over nodes 1..n, noise off; SecAgg+ with its
 * graph built for `design_rate` dropouts. */
static void
run_query_init(struct run *r, double design_rate)
{
	struct tly_query *q = &r->q;
	uint16_t degree = (uint16_t)(r->n - 1), threshold = (uint16_t)((r->n - 1) / 2 + 1);

	memset(q, 0, sizeof *q);
	q->protocol = r->protocol;
	q->mechanism = TLY_MECH_NONE;
	q->cells = (uint32_t)r->d;
	q->sensitivity_l1 = 1;
	q->sensitivity_l2sq = 1;
	q->min_honest = 1;
	q->deadline_ms = TLY_DEFAULT_DEADLINE_MS;
	q->participants = (struct tly_idlist){r->n, lab.ids};
	if (r->protocol == TLY_PROTOCOL_COMMITTEE) {
		q->threshold = COMMITTEE_T;
		q->quorum = COMMITTEE_Q;
		q->degree = COMMITTEE_K;
		q->committee = (struct tly_idlist){COMMITTEE_K, lab.committee};
		q->min_contributors = COMMITTEE_K;
		return;
	}
	if (r->protocol == TLY_PROTOCOL_SECAGG_PLUS)
		check(tly_graph_params(r->n, 40, 20, design_rate, 0.05, &degree, &threshold),
		      "graph params");
	q->threshold = threshold;
	q->degree = degree;
	q->min_contributors = threshold;
}

/* `drops` droppers drawn uniformly (seeded) from the nodes that may drop:
 * all of them in SecAgg(+), all but the committee in committee sharing. */
static void
choose_droppers(struct run *r, uint32_t drops)
{
	uint32_t first = r->protocol == TLY_PROTOCOL_COMMITTEE ? COMMITTEE_K + 1 : 1;
	uint32_t pool = r->n - first + 1;

	if (drops > pool)
		check(TLY_EINVAL, "more droppers than nodes that may drop");
	r->drops = drops;
	r->drop_type = r->protocol == TLY_PROTOCOL_COMMITTEE ? TLY_MSG_SHARE : TLY_MSG_MASKED_INPUT;
	for (uint32_t chosen = 0; chosen < drops;) {
		uint32_t id = first + (uint32_t)tly_rng_uniform(&lab.rng, pool);
		if (!r->dropper[id]) {
			r->dropper[id] = 1;
			chosen++;
		}
	}
}

static void
run_result(struct run *r)
{
	if (r->protocol == TLY_PROTOCOL_COMMITTEE) {
		struct tly_committee_result res;
		check(tly_committee_coord_result(r->coord, &res), "result");
		check_total(r, res.cells, &res.contributors);
		tly_committee_result_fini(&res);
	} else {
		struct tly_secagg_result res;
		check(tly_secagg_server_result(r->server, &res), "result");
		check_total(r, res.cells, &res.contributors);
		tly_secagg_result_fini(&res);
	}
}

static void
run_free(struct run *r)
{
	tly_committee_coord_free(r->coord);
	tly_secagg_server_free(r->server);
	for (uint32_t j = 0; j <= COMMITTEE_K; j++)
		tly_committee_member_free(r->member[j]);
	for (uint32_t id = 0; id <= MAX_PARTIES; id++)
		tly_secagg_client_free(r->client[id]);
	tly_outbox_fini(&r->box);
	free(r->queue);
	free(r);
}

/* One query of protocol over n nodes and d cells with `drops` dropouts. */
static struct outcome
run_once(uint8_t protocol, uint32_t n, size_t d, uint32_t drops, double design_rate)
{
	struct run *r = xcalloc(1, sizeof *r);
	struct outcome out;

	r->protocol = protocol;
	r->n = n;
	r->d = d;
	run_query_init(r, design_rate);
	choose_droppers(r, drops);
	tly_outbox_init(&r->box);
	tly_rng_bytes(&lab.rng, r->query_id, sizeof r->query_id);
	double cpu = bench_cpu(), start = bench_now();
	if (protocol == TLY_PROTOCOL_COMMITTEE)
		check(tly_committee_coord_alloc(&r->coord, &lab.coord, &lab.roster, &r->q,
		                                r->query_id, &r->box),
		      "coordinator alloc");
	else
		check(tly_secagg_server_alloc(&r->server, &lab.coord, &lab.roster, &r->q,
		                              r->query_id, &r->box),
		      "server alloc");
	r->coord_seconds = bench_now() - start;
	take(r, 0);
	pump(r);
	run_result(r);
	out = (struct outcome){bench_cpu() - cpu, r->coord_seconds, r->bytes, r->n - r->drops};
	run_free(r);
	return out;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median CPU and coordinator seconds of `reps` queries (bytes do not
 * vary between them). */
static struct outcome
run_median(uint8_t protocol, uint32_t n, size_t d, uint32_t drops, double design_rate, int reps)
{
	double cpu[8], coord[8];
	struct outcome o = {0};

	if (reps > 8)
		reps = 8;
	for (int i = 0; i < reps; i++) {
		o = run_once(protocol, n, d, drops, design_rate);
		cpu[i] = o.cpu;
		coord[i] = o.coord;
	}
	qsort(cpu, (size_t)reps, sizeof *cpu, compare_double);
	qsort(coord, (size_t)reps, sizeof *coord, compare_double);
	o.cpu = cpu[reps / 2];
	o.coord = coord[reps / 2];
	return o;
}

static const char *
protocol_name(uint8_t protocol)
{
	return protocol == TLY_PROTOCOL_COMMITTEE ? "committee"
	       : protocol == TLY_PROTOCOL_SECAGG  ? "secagg"
	                                          : "secagg_plus";
}

static const uint8_t protocols[] = {TLY_PROTOCOL_COMMITTEE, TLY_PROTOCOL_SECAGG,
                                    TLY_PROTOCOL_SECAGG_PLUS};
enum { PROTOCOLS = sizeof protocols / sizeof protocols[0] };

static double
plaintext_mb(uint32_t n, size_t d)
{
	return (double)n * (double)d * TLY_FIELD_ELEMENT_BYTES * 1e-6;
}

/* ---- the cost of dropouts ---- */

static const double drop_rates[] = {0, 0.06, 0.12, 0.18, 0.24};
enum { DROP_RATES = sizeof drop_rates / sizeof drop_rates[0] };

static void
section_dropout(void)
{
	uint32_t n = (uint32_t)bench_pick(100, 12);
	size_t d = (size_t)bench_pick(100000, 100);
	int reps = (int)bench_pick(3, 1);
	double design = drop_rates[DROP_RATES - 1];
	char p[160];

	for (size_t i = 0; i < PROTOCOLS; i++)
		for (size_t j = 0; j < DROP_RATES; j++) {
			uint32_t drops = (uint32_t)lround(drop_rates[j] * n);
			fprintf(stderr, "bench_sweep: dropout %s n=%u d=%zu rate=%.2f\n",
			        protocol_name(protocols[i]), n, d, drop_rates[j]);
			struct outcome o = run_median(protocols[i], n, d, drops, design, reps);
			snprintf(p, sizeof p, "\"protocol=%s,n=%u,d=%zu,rate=%.2f,dropped=%u\"",
			         protocol_name(protocols[i]), n, d, drop_rates[j], drops);
			bench_row("sweep", "dropout_cpu", p, o.cpu * 1e3, "ms", NULL, 0);
			bench_row("sweep", "dropout_coord", p, o.coord * 1e3, "ms", NULL, 0);
			bench_row("sweep", "dropout_bytes", p, (double)o.bytes * 1e-6, "MB",
			          "plaintext_bytes", plaintext_mb(o.contributors, d));
		}
}

/* ---- bytes against the plaintext (Bonawitz et al.: 1.73x at 2^10 users
 * and 2^20 cells) ---- */

static void
expansion_point(uint8_t protocol, uint32_t n, size_t d, const char *axis)
{
	char p[160];

	fprintf(stderr, "bench_sweep: expansion %s n=%u d=%zu\n", protocol_name(protocol), n, d);
	struct outcome o = run_once(protocol, n, d, 0, 0.05);
	snprintf(p, sizeof p, "\"protocol=%s,axis=%s,n=%u,d=%zu\"", protocol_name(protocol), axis,
	         n, d);
	bench_row("sweep", "expansion", p, (double)o.bytes * 1e-6, "MB", "plaintext_bytes",
	          plaintext_mb(n, d));
	bench_row("sweep", "expansion_cpu", p, o.cpu, "s", NULL, 0);
}

static void
section_expansion(void)
{
	static const uint32_t ns_full[] = {64, 256, 1024}, ns_quick[] = {8, 16};
	static const size_t ds_full[] = {1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18},
	                    ds_quick[] = {16, 64};
	const uint32_t *ns = bench_quick() ? ns_quick : ns_full;
	const size_t *ds = bench_quick() ? ds_quick : ds_full;
	size_t n_count = bench_quick() ? 2 : 3, d_count = bench_quick() ? 2 : 5;
	size_t d_at = (size_t)bench_pick(1 << 16, 64);
	uint32_t n_at = (uint32_t)bench_pick(256, 16);

	for (size_t i = 0; i < PROTOCOLS; i++) {
		for (size_t j = 0; j < n_count; j++) /* SecAgg: n <= TLY_MAX_COMPLETE_PARTIES */
			expansion_point(protocols[i],
			                protocols[i] == TLY_PROTOCOL_SECAGG &&
			                        ns[j] > TLY_MAX_COMPLETE_PARTIES
			                    ? TLY_MAX_COMPLETE_PARTIES
			                    : ns[j],
			                d_at, "n");
		for (size_t j = 0; j < d_count; j++)
			expansion_point(protocols[i], n_at, ds[j], "d");
	}
}

/* ---- the job mozilla/libprio was timed on: 1,000 clients, d = 1,000 ---- */

static void
section_prio(void)
{
	static const uint8_t prio_protocols[] = {TLY_PROTOCOL_COMMITTEE, TLY_PROTOCOL_SECAGG_PLUS};
	uint32_t n = (uint32_t)bench_pick(1000, 10);
	size_t d = (size_t)bench_pick(1000, 10);
	char p[160];

	for (size_t i = 0; i < sizeof prio_protocols; i++) {
		fprintf(stderr, "bench_sweep: prio job %s n=%u d=%zu\n",
		        protocol_name(prio_protocols[i]), n, d);
		struct outcome o = run_once(prio_protocols[i], n, d, 0, 0.05);
		snprintf(p, sizeof p, "\"protocol=%s,n=%u,d=%zu\"",
		         protocol_name(prio_protocols[i]), n, d);
		bench_row("sweep", "prio_job", p, o.cpu, "s", "libprio_external_low", 61.0);
	}
}

/* ---- accuracy: distributed noise against the central baseline ---- */

struct accuracy {
	double rmse, coverage;
	struct tly_noise_info info;
};

/* `reps` independent totals of `contributors` shares of q's noise, each
 * share by tly_noise_apply (a node's call) over a zero cell; the interval
 * is tly_noise_describe's, as released. */
static struct accuracy
simulate(const struct tly_query *q, uint32_t contributors, size_t reps)
{
	struct tly_noise_params params;
	struct accuracy a = {0};
	/* One block: the running sum, one share, the zero cells, the noise. */
	uint64_t *block = xcalloc(4 * reps, sizeof *block);
	uint64_t *acc = block, *share = block + reps;
	int64_t *zeros = (int64_t *)(block + 2 * reps), *noise = (int64_t *)(block + 3 * reps);
	double squares = 0;
	size_t covered = 0, bad = 0;

	check(tly_noise_calibrate(q, &params), "calibrate");
	check(tly_noise_describe(&params, contributors, &a.info), "describe");
	for (uint32_t i = 0; i < contributors; i++) {
		check(tly_noise_apply(&lab.rng, &params, zeros, reps, share), "noise share");
		tly_field_vec_add(acc, share, reps);
	}
	check(tly_field_vec_decode_signed(noise, acc, reps, &bad), "decode");
	for (size_t i = 0; i < reps; i++) {
		squares += (double)noise[i] * (double)noise[i];
		covered += llabs(noise[i]) <= a.info.ci95_half_width;
	}
	a.rmse = sqrt(squares / (double)reps);
	a.coverage = (double)covered / (double)reps;
	free(block);
	return a;
}

static void
noise_query(struct tly_query *q, uint8_t mechanism, uint64_t num, uint64_t den, uint32_t h)
{
	memset(q, 0, sizeof *q);
	q->mechanism = mechanism;
	q->privacy_num = num;
	q->privacy_den = den;
	q->sensitivity_l1 = 1;
	q->sensitivity_l2sq = 1;
	q->min_honest = h;
	q->cells = 1;
}

static void
accuracy_rows(const char *measure_prefix, const char *p, const struct accuracy *a)
{
	char measure[48];

	snprintf(measure, sizeof measure, "%s_rmse", measure_prefix);
	bench_row("sweep", measure, p, a->rmse, "count", "stated_sd", a->info.sd);
	snprintf(measure, sizeof measure, "%s_width", measure_prefix);
	bench_row("sweep", measure, p, 2.0 * (double)a->info.ci95_half_width, "count", NULL, 0);
	snprintf(measure, sizeof measure, "%s_coverage", measure_prefix);
	bench_row("sweep", measure, p, a->coverage, "fraction", "nominal", 0.95);
}

/* Privacy parameters as fractions: epsilon for LAPLACE, rho for SKELLAM. */
struct fraction {
	uint64_t num, den;
};
static const struct fraction epsilons[] = {{1, 10}, {1, 5}, {1, 2}, {1, 1}, {2, 1}, {5, 1}};
static const struct fraction rhos[] = {{1, 200}, {1, 50}, {1, 8}, {1, 2}, {2, 1}};
enum {
	EPSILONS = sizeof epsilons / sizeof epsilons[0],
	RHOS = sizeof rhos / sizeof rhos[0],
	ACC_N = 9, /* shares in a distributed total: the planner's 9 trusts */
	ACC_H = 3, /* honest shares each is calibrated for */
};

static void
accuracy_point(uint8_t mechanism, struct fraction f, uint32_t n, uint32_t h, size_t reps)
{
	struct tly_query q;
	char p[200];

	noise_query(&q, mechanism, f.num, f.den, h);
	struct accuracy a = simulate(&q, n, reps);
	snprintf(p, sizeof p, "\"mech=%s,noise=%s,n=%u,h=%u,privacy=%g,epsilon=%.6g\"",
	         mechanism == TLY_MECH_LAPLACE ? "laplace" : "skellam",
	         n == 1 ? "central" : "distributed", n, h, (double)f.num / (double)f.den,
	         a.info.dp_epsilon);
	accuracy_rows("accuracy", p, &a);
}

/* Against epsilon (Skellam: the (epsilon, 10^-6) its rho implies); then,
 * at epsilon = 1, against the dropout rate: fewer shares in the total. */
static void
section_accuracy(void)
{
	size_t reps = (size_t)bench_pick(1000000, 500);
	uint32_t n = 20, h = 10;
	char p[200];

	fprintf(stderr, "bench_sweep: accuracy against epsilon, %zu totals a point\n", reps);
	for (size_t i = 0; i < EPSILONS; i++) {
		accuracy_point(TLY_MECH_LAPLACE, epsilons[i], ACC_N, ACC_H, reps);
		accuracy_point(TLY_MECH_LAPLACE, epsilons[i], 1, 1, reps);
	}
	for (size_t i = 0; i < RHOS; i++) {
		accuracy_point(TLY_MECH_SKELLAM, rhos[i], ACC_N, ACC_H, reps);
		accuracy_point(TLY_MECH_SKELLAM, rhos[i], 1, 1, reps);
	}
	for (uint32_t drops = 0; drops <= n - h; drops += 2) {
		struct tly_query q;
		noise_query(&q, TLY_MECH_LAPLACE, 1, 1, h);
		struct accuracy a = simulate(&q, n - drops, reps);
		snprintf(p, sizeof p,
		         "\"mech=laplace,n=%u,h=%u,epsilon=1,rate=%.2f,contributors=%u\"", n, h,
		         (double)drops / n, n - drops);
		accuracy_rows("dropout", p, &a);
	}
}

/* ---- the run ---- */

static void
print_versions(void)
{
	printf("libsodium=%s\n", sodium_version_string());
	printf("openssl=%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("gmp=%s\n", gmp_version);
	printf("sqlite=%s\n", sqlite3_libversion());
	printf("seed=%llu\n", (unsigned long long)lab.seed);
}

static const struct {
	const char *name;
	void (*run)(void);
} sections[] = {
    {"accuracy", section_accuracy},
    {"dropout", section_dropout},
    {"expansion", section_expansion},
    {"prio", section_prio},
};
enum { SECTIONS = sizeof sections / sizeof sections[0] };

int
main(int argc, char **argv)
{
	int found = argc == 1;

	check(tly_crypto_init(), "crypto init");
	if (argc > 2) {
		fprintf(stderr,
		        "usage: bench_sweep [versions | accuracy | dropout | expansion | prio]\n");
		return 2;
	}
	lab_init();
	if (argc == 2 && strcmp(argv[1], "versions") == 0) {
		print_versions();
		lab_fini();
		return 0;
	}
	bench_header();
	for (size_t i = 0; i < SECTIONS; i++)
		if (argc == 1 || strcmp(argv[1], sections[i].name) == 0) {
			found = 1;
			sections[i].run();
		}
	lab_fini();
	if (!found)
		fprintf(stderr, "bench_sweep: no section %s (accuracy, dropout, expansion, prio)\n",
		        argv[1]);
	return found ? 0 : 2;
}
