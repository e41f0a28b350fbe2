#include <criterion/criterion.h>

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/field.h"
#include "crypto/prg.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "crypto/shamir.h"
#include "wire/codec.h"
#include "protocol/committee.h"
#include "protocol/committee_impl.h"
#include "query/noise.h"
#include "tests/stats.h"

#define P TLY_FIELD_P

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(committee, .init = setup);
TestSuite(committee_stats, .init = setup);
TestSuite(committee_seeded, .init = setup);

/* ---- a federation in one process ---- */

struct spec {
	uint32_t n, k, t, d;
	uint32_t q;                /* 0: the smallest quorum, ceil((k + t) / 2) */
	uint32_t min_contributors; /* 0: 1 */
	uint32_t min_honest;       /* 0: 1 */
	int aggregators;           /* committee = k extra parties, not nodes */
	uint8_t mechanism;
	uint64_t privacy_num, privacy_den;
};

struct flight {
	uint32_t to;
	uint8_t *data;
	size_t len;
};

struct rejection {
	uint32_t to;
	enum tly_msg_type type;
	tly_err rv;
};

struct fed;
/* Return 0 to drop the message, nonzero to deliver it (maybe changed). */
typedef int (*tamper_fn)(struct fed *f, struct flight *fl);

struct fed {
	struct spec spec;
	struct tly_identity coord;
	struct tly_identity *party; /* party[i] has id i + 1 */
	uint32_t party_count;
	struct tly_roster roster;
	struct tly_query q;
	struct tly_rng rng;
	struct tly_committee_node_opts opts;

	/* One round. */
	uint8_t qid[TLY_QUERY_ID_BYTES];
	struct tly_committee_coord *c;
	struct tly_committee_member **member; /* committee order; NULL: vanished */
	int *vanish;
	uint8_t *query_msg;
	size_t query_len;
	struct flight *queue;
	size_t head, tail, cap;
	struct rejection rejects[256];
	size_t reject_count;
	size_t aborts_seen;
	tamper_fn tamper;
	void *arg;
	void (*spy)(struct fed *f, const uint8_t *msg, size_t len); /* coordinator's inbox */
};

static void
idlist_range(struct tly_idlist *list, uint32_t first, uint32_t count)
{
	list->count = count;
	list->ids = malloc((count + 1) * sizeof *list->ids);
	cr_assert_not_null(list->ids);
	for (uint32_t i = 0; i < count; i++)
		list->ids[i] = first + i;
}

static void
fed_init(struct fed *f, const struct spec *spec, uint64_t seed)
{
	struct tly_party *pub;

	memset(f, 0, sizeof *f);
	f->spec = *spec;
	f->party_count = spec->n + (spec->aggregators ? spec->k : 0);
	cr_assert(spec->aggregators || spec->k <= spec->n);
	cr_assert_eq(tly_identity_generate(&f->coord, TLY_PARTY_COORDINATOR, 0), TLY_OK);
	f->party = calloc(f->party_count, sizeof *f->party);
	pub = calloc(f->party_count, sizeof *pub);
	cr_assert(f->party != NULL && pub != NULL);
	for (uint32_t i = 0; i < f->party_count; i++) {
		cr_assert_eq(tly_identity_generate(&f->party[i], i + 1, 1), TLY_OK);
		tly_identity_public(&f->party[i], &pub[i]);
	}
	uint8_t coord_pk[TLY_SIGN_PUBLIC_BYTES];
	tly_sign_key_public(f->coord.sign, coord_pk);
	cr_assert_eq(tly_roster_init(&f->roster, coord_pk, pub, f->party_count), TLY_OK);
	free(pub);

	struct tly_query *q = &f->q;
	q->protocol = TLY_PROTOCOL_COMMITTEE;
	q->mechanism = spec->mechanism;
	q->cells = spec->d;
	q->privacy_num = spec->privacy_num;
	q->privacy_den = spec->privacy_den;
	q->sensitivity_l1 = 1;
	q->sensitivity_l2sq = 1;
	q->min_honest = spec->min_honest ? spec->min_honest : 1;
	q->min_contributors = spec->min_contributors ? spec->min_contributors : 1;
	q->threshold = (uint16_t)spec->t;
	q->quorum = (uint16_t)(spec->q ? spec->q : (spec->k + spec->t + 1) / 2);
	q->degree = (uint16_t)spec->k;
	q->deadline_ms = 1000;
	idlist_range(&q->participants, 1, spec->n);
	idlist_range(&q->committee, spec->aggregators ? spec->n + 1 : 1, spec->k);
	tly_rng_init_seeded_u64(&f->rng, seed);
	f->opts.allow_no_noise = 1;
	f->vanish = calloc(spec->k, sizeof *f->vanish);
	f->member = calloc(spec->k, sizeof *f->member);
	cr_assert(f->vanish != NULL && f->member != NULL);
}

static void
queue_push(struct fed *f, uint32_t to, const uint8_t *data, size_t len)
{
	if (f->tail == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->queue = realloc(f->queue, f->cap * sizeof *f->queue);
		cr_assert_not_null(f->queue);
	}
	struct flight *fl = &f->queue[f->tail++];
	fl->to = to;
	fl->len = len;
	fl->data = malloc(len);
	cr_assert_not_null(fl->data);
	memcpy(fl->data, data, len);
}

/* Move an outbox into the queue. */
static void
queue_take(struct fed *f, struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++)
		queue_push(f, box->items[i].to, box->items[i].data, box->items[i].len);
	tly_outbox_clear(box);
}

static long
member_pos(const struct fed *f, uint32_t id)
{
	for (uint32_t j = 0; j < f->spec.k; j++)
		if (f->q.committee.ids[j] == id)
			return j;
	return -1;
}

static enum tly_msg_type
type_of(const uint8_t *msg, size_t len)
{
	return len > 1 ? (enum tly_msg_type)msg[1] : (enum tly_msg_type)0;
}

/* Deliver one message to its addressee; what it sends goes to the queue.
 * EABORTED (a member told of an abort) counts as an abort seen. */
static tly_err
deliver(struct fed *f, uint32_t to, const uint8_t *msg, size_t len)
{
	struct tly_outbox box;
	tly_err rv = TLY_OK;
	long j = member_pos(f, to);

	tly_outbox_init(&box);
	if (to == TLY_PARTY_COORDINATOR) {
		if (f->spy != NULL)
			f->spy(f, msg, len);
		rv = tly_committee_coord_receive(f->c, msg, len, &box);
	} else if (j >= 0 && f->member[j] != NULL) {
		rv = tly_committee_member_receive(f->member[j], msg, len, &box);
	} else if (j < 0 && type_of(msg, len) == TLY_MSG_ABORT) {
		f->aborts_seen++;
	}
	if (rv == TLY_EABORTED) {
		f->aborts_seen++;
		rv = TLY_OK;
	}
	/* Share-sums beyond the t-th arrive after the end: expected traffic. */
	if (rv == TLY_ESTATE && to == TLY_PARTY_COORDINATOR &&
	    tly_committee_coord_phase(f->c) == TLY_COMMITTEE_DONE &&
	    type_of(msg, len) == TLY_MSG_SHARE_SUM)
		rv = TLY_OK;
	if (rv != TLY_OK && f->reject_count < sizeof f->rejects / sizeof f->rejects[0])
		f->rejects[f->reject_count++] = (struct rejection){to, type_of(msg, len), rv};
	queue_take(f, &box);
	tly_outbox_fini(&box);
	return rv;
}

static void
pump(struct fed *f)
{
	while (f->head < f->tail) {
		struct flight fl = f->queue[f->head++];
		if (f->tamper == NULL || f->tamper(f, &fl))
			(void)deliver(f, fl.to, fl.data, fl.len);
		free(fl.data);
	}
	f->head = f->tail = 0;
}

/* A member's state from the QUERY message: read and verified once
 * (tly_committee_read_query), then allocated from the decoded query. */
static tly_err
member_alloc(struct tly_committee_member **out, const struct tly_identity *self,
             const struct tly_roster *roster, const uint8_t *msg, size_t len)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	tly_err rv = tly_committee_read_query(roster, self->id, msg, len, query_id, &q);

	if (rv != TLY_OK)
		return rv;
	rv = tly_committee_member_alloc(out, self, roster, query_id, &q);
	tly_query_fini(&q);
	return rv;
}

static void
fed_begin(struct fed *f, uint64_t qid_seed)
{
	struct tly_outbox box;

	memset(f->qid, 0, sizeof f->qid);
	tly_store_be64(f->qid + 8, qid_seed);
	f->reject_count = 0;
	f->aborts_seen = 0;
	tly_outbox_init(&box);
	cr_assert_eq(tly_committee_coord_alloc(&f->c, &f->coord, &f->roster, &f->q, f->qid, &box),
	             TLY_OK);
	/* Round 0: one signed QUERY, one copy per party. */
	cr_assert_eq(box.count, f->party_count);
	for (size_t i = 0; i < box.count; i++) {
		cr_assert_eq(box.items[i].to, i + 1);
		cr_assert_eq(box.items[i].len, box.items[0].len);
		cr_assert_eq(memcmp(box.items[i].data, box.items[0].data, box.items[0].len), 0);
	}
	f->query_len = box.items[0].len;
	f->query_msg = malloc(f->query_len);
	cr_assert_not_null(f->query_msg);
	memcpy(f->query_msg, box.items[0].data, f->query_len);
	tly_outbox_fini(&box);
	for (uint32_t j = 0; j < f->spec.k; j++)
		if (!f->vanish[j])
			cr_assert_eq(member_alloc(&f->member[j],
			                          &f->party[f->q.committee.ids[j] - 1], &f->roster,
			                          f->query_msg, f->query_len),
			             TLY_OK);
}

static void
fed_end(struct fed *f)
{
	tly_committee_coord_free(f->c);
	f->c = NULL;
	for (uint32_t j = 0; j < f->spec.k; j++) {
		tly_committee_member_free(f->member[j]);
		f->member[j] = NULL;
	}
	for (size_t i = f->head; i < f->tail; i++)
		free(f->queue[i].data);
	f->head = f->tail = 0;
	free(f->query_msg);
	f->query_msg = NULL;
}

static void
fed_fini(struct fed *f)
{
	fed_end(f);
	free(f->queue);
	free(f->member);
	free(f->vanish);
	tly_query_fini(&f->q);
	tly_roster_fini(&f->roster);
	for (uint32_t i = 0; i < f->party_count; i++)
		tly_identity_fini(&f->party[i]);
	free(f->party);
	tly_identity_fini(&f->coord);
	tly_rng_fini(&f->rng);
}

/* A node's round 1 from the QUERY message: read and verified once
 * (tly_committee_read_query), then answered from the decoded query. */
static tly_err
answer(const struct tly_identity *self, const struct tly_roster *roster, struct tly_rng *rng,
       const struct tly_committee_node_opts *opts, const uint8_t *msg, size_t len,
       const int64_t *cells, size_t d, struct tly_outbox *box)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	tly_err rv = tly_committee_read_query(roster, self->id, msg, len, query_id, &q);

	if (rv != TLY_OK)
		return rv;
	rv = tly_committee_node_answer(self, roster, rng, opts, query_id, &q, cells, d, box);
	tly_query_fini(&q);
	return rv;
}

/* Round 1 for node index i: its k SHARE messages, into an outbox. */
static void
node_shares(struct fed *f, uint32_t i, const int64_t *cells, struct tly_outbox *box)
{
	cr_assert_eq(answer(&f->party[i], &f->roster, &f->rng, &f->opts, f->query_msg, f->query_len,
	                    cells, f->spec.d, box),
	             TLY_OK);
	cr_assert_eq(box->count, f->spec.k);
}

/* Node i answers and its shares travel through the coordinator. */
static void
node_send(struct fed *f, uint32_t i, const int64_t *cells)
{
	struct tly_outbox box;

	tly_outbox_init(&box);
	node_shares(f, i, cells, &box);
	for (size_t s = 0; s < box.count; s++)
		cr_assert_eq(box.items[s].to, TLY_PARTY_COORDINATOR);
	queue_take(f, &box);
	tly_outbox_fini(&box);
	pump(f);
}

static tly_err
close_round(struct fed *f)
{
	struct tly_outbox box;

	tly_outbox_init(&box);
	tly_err rv = tly_committee_coord_close_round(f->c, &box);
	queue_take(f, &box);
	tly_outbox_fini(&box);
	pump(f);
	return rv;
}

/* Every node not `silent` sends; then deadlines pass until the query ends.
 * Returns the last close_round result. */
static tly_err
run(struct fed *f, const int64_t *inputs, const int *silent)
{
	for (uint32_t i = 0; i < f->spec.n; i++)
		if (silent == NULL || !silent[i])
			node_send(f, i, inputs + (size_t)i * f->spec.d);
	tly_err rv = close_round(f);
	for (int guard = 0; rv == TLY_OK && guard < TLY_MAX_ANNOUNCE_ATTEMPTS &&
	                    tly_committee_coord_phase(f->c) == TLY_COMMITTEE_SUMMING;
	     guard++)
		rv = close_round(f);
	return rv;
}

static int64_t *
random_inputs(struct tly_rng *rng, uint32_t n, uint32_t d, int64_t bound)
{
	int64_t *in = malloc((size_t)n * d * sizeof *in);

	cr_assert_not_null(in);
	for (size_t i = 0; i < (size_t)n * d; i++)
		in[i] = (int64_t)tly_rng_uniform(rng, 2 * (uint64_t)bound + 1) - bound;
	return in;
}

/* The result is the exact sum of its contributors' inputs, the contributor
 * and dropped lists split the participants, and `dropped` is as expected
 * (NULL: nobody). */
static void
expect_exact(struct fed *f, const int64_t *inputs, const struct tly_committee_result *r,
             const int *dropped)
{
	uint32_t d = f->spec.d;
	uint32_t dropped_count = 0;

	cr_assert_eq(r->d, d);
	for (uint32_t i = 0; i < f->spec.n; i++) {
		int out = dropped != NULL && dropped[i];
		dropped_count += (uint32_t)out;
		cr_assert_eq(tly_idlist_contains(&r->contributors, i + 1), !out, "node %u", i + 1);
		cr_assert_eq(tly_idlist_contains(&r->dropped, i + 1), out, "node %u", i + 1);
	}
	cr_assert_eq(r->contributors.count + r->dropped.count, f->spec.n);
	cr_assert_eq(r->dropped.count, dropped_count);
	for (uint32_t c = 0; c < d; c++) {
		int64_t sum = 0;
		for (uint32_t u = 0; u < r->contributors.count; u++)
			sum += inputs[(size_t)(r->contributors.ids[u] - 1) * d + c];
		cr_assert_eq(r->cells[c], sum, "cell %u: %" PRId64 " != %" PRId64, c, r->cells[c],
		             sum);
	}
}

static void
get_result(struct fed *f, struct tly_committee_result *r)
{
	cr_assert_eq(tly_committee_coord_phase(f->c), TLY_COMMITTEE_DONE);
	cr_assert_eq(tly_committee_coord_result(f->c, r), TLY_OK);
}

static size_t
count_rejects(const struct fed *f, enum tly_msg_type type, tly_err rv)
{
	size_t count = 0;

	for (size_t i = 0; i < f->reject_count; i++)
		count += f->rejects[i].type == type && f->rejects[i].rv == rv;
	return count;
}

/* ---- round trips ---- */

static void
round_trip(const struct spec *spec, uint64_t seed)
{
	struct fed f;
	struct tly_committee_result r;

	fed_init(&f, spec, seed);
	int64_t *inputs = random_inputs(&f.rng, spec->n, spec->d, INT64_C(1) << 40);
	fed_begin(&f, seed);
	cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
	cr_assert_eq(f.reject_count, 0, "first rejection: %s",
	             f.reject_count ? tly_strerror(f.rejects[0].rv) : "");
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, NULL);
	cr_assert_eq(r.attempt, 0);
	cr_assert_eq(r.faulty.count, 0);
	tly_committee_result_fini(&r);
	free(inputs);
	fed_fini(&f);
}

Test(committee, round_trip_small_committees)
{
	round_trip(&(struct spec){.n = 3, .k = 3, .t = 2, .d = 1}, 1);
	round_trip(&(struct spec){.n = 3, .k = 1, .t = 1, .d = 10}, 2);
	round_trip(&(struct spec){.n = 10, .k = 5, .t = 3, .d = 10, .aggregators = 1}, 3);
	round_trip(&(struct spec){.n = 12, .k = 7, .t = 4, .d = 1000}, 4);
	round_trip(&(struct spec){.n = 8, .k = 4, .t = 3, .d = 10, .min_contributors = 8}, 5);
}

Test(committee, round_trip_hundred_nodes)
{
	round_trip(&(struct spec){.n = 100, .k = 5, .t = 3, .d = 10}, 6);
	round_trip(&(struct spec){.n = 40, .k = 7, .t = 4, .d = 1000, .aggregators = 1}, 7);
}

Test(committee, round_trip_hundred_thousand_cells)
{
	round_trip(&(struct spec){.n = 4, .k = 3, .t = 2, .d = 100000}, 8);
}

/* Extreme inputs: the centred range's edges cancel exactly. */
Test(committee, round_trip_extreme_values)
{
	struct fed f;
	struct tly_committee_result r;
	int64_t half = (int64_t)TLY_FIELD_HALF;
	int64_t inputs[3 * 4] = {
	    half, -half, 0, 1, -half, half, -1, 0, 0, 0, 1, -1,
	};

	fed_init(&f, &(struct spec){.n = 3, .k = 3, .t = 2, .d = 4}, 9);
	fed_begin(&f, 9);
	cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, NULL);
	tly_committee_result_fini(&r);
	fed_fini(&f);
}

/* ---- the node's refusals ---- */

static tly_err
refuse_all(void *arg, const uint8_t query_id[TLY_QUERY_ID_BYTES], const struct tly_query *q)
{
	(void)query_id;
	cr_assert_eq(q->protocol, TLY_PROTOCOL_COMMITTEE);
	++*(int *)arg;
	return TLY_EAUTH;
}

Test(committee, node_refusals)
{
	struct fed f;
	struct tly_outbox box;
	int64_t cells[4] = {1, 2, 3, 4};
	int calls = 0;

	fed_init(&f, &(struct spec){.n = 3, .k = 3, .t = 2, .d = 4, .aggregators = 1}, 10);
	fed_begin(&f, 10);
	tly_outbox_init(&box);

	/* Production nodes refuse noise-free queries. */
	struct tly_committee_node_opts strict = {0};
	cr_assert_eq(answer(&f.party[0], &f.roster, &f.rng, &strict, f.query_msg, f.query_len,
	                    cells, 4, &box),
	             TLY_EPEER);
	cr_assert_eq(
	    answer(&f.party[0], &f.roster, &f.rng, NULL, f.query_msg, f.query_len, cells, 4, &box),
	    TLY_EPEER);
	/* The policy hook decides before anything is computed. */
	struct tly_committee_node_opts policy = {
	    .allow_no_noise = 1, .policy = refuse_all, .policy_arg = &calls};
	cr_assert_eq(answer(&f.party[0], &f.roster, &f.rng, &policy, f.query_msg, f.query_len,
	                    cells, 4, &box),
	             TLY_EAUTH);
	cr_assert_eq(calls, 1);
	/* A committee-only aggregator is not a participant. */
	cr_assert_eq(answer(&f.party[3], &f.roster, &f.rng, &f.opts, f.query_msg, f.query_len,
	                    cells, 4, &box),
	             TLY_EPEER);
	/* The cell count is the query's. */
	cr_assert_eq(answer(&f.party[0], &f.roster, &f.rng, &f.opts, f.query_msg, f.query_len,
	                    cells, 3, &box),
	             TLY_EINVAL);
	/* A query with a flipped byte does not verify. */
	f.query_msg[TLY_HEADER_BYTES + 3] ^= 1;
	cr_assert_eq(answer(&f.party[0], &f.roster, &f.rng, &f.opts, f.query_msg, f.query_len,
	                    cells, 4, &box),
	             TLY_EAUTH);
	f.query_msg[TLY_HEADER_BYTES + 3] ^= 1;
	cr_assert_eq(box.count, 0, "a refusal sends nothing");
	/* A cell that would leave the field range. */
	int64_t huge[4] = {INT64_MAX, 0, 0, 0};
	cr_assert_eq(answer(&f.party[0], &f.roster, &f.rng, &f.opts, f.query_msg, f.query_len, huge,
	                    4, &box),
	             TLY_ERANGE);
	cr_assert_eq(box.count, 0);
	tly_outbox_fini(&box);
	fed_fini(&f);
}

/* A QUERY signed by the coordinator but breaking a committee rule. */
static void
signed_query(struct fed *f, const struct tly_query *q, struct tly_buf *msg)
{
	struct tly_buf body;
	struct tly_msg_header header = {
	    .type = TLY_MSG_QUERY,
	    .sender = TLY_PARTY_COORDINATOR,
	    .recipient = TLY_PARTY_ALL,
	};

	tly_buf_init(&body);
	tly_buf_init(msg);
	cr_assert_eq(tly_query_encode(&body, q), TLY_OK);
	cr_assert_eq(tly_msg_seal(msg, &header, body.data, body.len, f->coord.sign), TLY_OK);
	tly_buf_fini(&body);
}

Test(committee, query_rules)
{
	struct fed f;
	struct tly_outbox box;
	struct tly_committee_coord *c = NULL;
	struct tly_committee_member *m = NULL;
	struct tly_buf msg;
	uint8_t qid[TLY_QUERY_ID_BYTES] = {7};

	fed_init(&f, &(struct spec){.n = 4, .k = 4, .t = 3, .d = 2}, 11);
	tly_outbox_init(&box);

	/* 2q < k + t would let two sets each gather q votes with t - 1
	 * members colluding: refused by the coordinator and by every member
	 * and node (k = 4, t = 3: q = 4 is the only quorum). */
	f.q.quorum = 3;
	cr_assert_eq(tly_committee_coord_alloc(&c, &f.coord, &f.roster, &f.q, qid, &box),
	             TLY_EINVAL);
	signed_query(&f, &f.q, &msg);
	for (uint32_t j = 0; j < 4; j++)
		cr_assert_eq(member_alloc(&m, &f.party[j], &f.roster, msg.data, msg.len),
		             TLY_EINVAL, "member %u", j + 1);
	int64_t zero[2] = {0, 0};
	struct tly_committee_node_opts no_noise = {.allow_no_noise = 1};
	cr_assert_eq(
	    answer(&f.party[0], &f.roster, &f.rng, &no_noise, msg.data, msg.len, zero, 2, &box),
	    TLY_EINVAL);
	tly_buf_fini(&msg);
	/* q < t and q > k do not even encode (codec.h). */
	f.q.quorum = 2;
	cr_assert_eq(tly_committee_coord_alloc(&c, &f.coord, &f.roster, &f.q, qid, &box),
	             TLY_EINVAL);
	f.q.quorum = 5;
	cr_assert_eq(tly_committee_coord_alloc(&c, &f.coord, &f.roster, &f.q, qid, &box),
	             TLY_EINVAL);
	f.q.quorum = 4;
	/* t <= k/2 is allowed now: the quorum, not t, keeps sets apart. */
	f.q.threshold = 2;
	f.q.quorum = 3;
	cr_assert_eq(tly_committee_coord_alloc(&c, &f.coord, &f.roster, &f.q, qid, &box), TLY_OK);
	tly_committee_coord_free(c);
	c = NULL;
	tly_outbox_clear(&box);
	f.q.threshold = 3;
	f.q.quorum = 4;

	/* Every announced set must carry the target noise. */
	f.q.min_honest = 3;
	f.q.min_contributors = 2;
	cr_assert_eq(tly_committee_coord_alloc(&c, &f.coord, &f.roster, &f.q, qid, &box),
	             TLY_EINVAL);
	f.q.min_honest = 1;

	/* Masking queries are not for this protocol. */
	f.q.protocol = TLY_PROTOCOL_SECAGG;
	cr_assert_eq(tly_committee_coord_alloc(&c, &f.coord, &f.roster, &f.q, qid, &box),
	             TLY_EINVAL);
	f.q.protocol = TLY_PROTOCOL_COMMITTEE;

	/* Everyone must be in the roster. */
	f.q.participants.ids[3] = 99;
	cr_assert_eq(tly_committee_coord_alloc(&c, &f.coord, &f.roster, &f.q, qid, &box),
	             TLY_EPEER);
	f.q.participants.ids[3] = 4;
	cr_assert_eq(box.count, 0);

	/* A party outside the committee cannot be a member. */
	f.q.committee.count = f.q.degree = 3;
	f.q.threshold = 2;
	f.q.quorum = 3;
	signed_query(&f, &f.q, &msg);
	cr_assert_eq(member_alloc(&m, &f.party[3], &f.roster, msg.data, msg.len), TLY_EPEER);
	/* A QUERY signed by someone else. */
	struct tly_committee_node_opts opts = {.allow_no_noise = 1};
	msg.data[msg.len - 1] ^= 0x20;
	cr_assert_eq(member_alloc(&m, &f.party[0], &f.roster, msg.data, msg.len), TLY_EAUTH);
	int64_t cells[2] = {0, 0};
	cr_assert_eq(
	    answer(&f.party[0], &f.roster, &f.rng, &opts, msg.data, msg.len, cells, 2, &box),
	    TLY_EAUTH);
	tly_buf_fini(&msg);
	cr_assert_null(m);
	cr_assert_null(c);
	tly_outbox_fini(&box);
	fed_fini(&f);
}

/* ---- dropouts ---- */

Test(committee, silent_nodes_are_left_out)
{
	struct spec spec = {.n = 20, .k = 5, .t = 3, .d = 10, .min_contributors = 10};
	struct tly_committee_result r;
	struct fed f;
	int silent[20] = {0};

	fed_init(&f, &spec, 12);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000000);
	for (int s = 0; s < 7; s++)
		silent[tly_rng_uniform(&f.rng, spec.n)] = 1;
	fed_begin(&f, 12);
	cr_assert_eq(run(&f, inputs, silent), TLY_OK);
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, silent);
	cr_assert_gt(r.dropped.count, 0);
	tly_committee_result_fini(&r);
	free(inputs);
	fed_fini(&f);
}

/* A node whose shares reach only some members is not announced. */
static int
drop_share_to_first_member(struct fed *f, struct flight *fl)
{
	struct tly_msg m;

	if (fl->to != TLY_PARTY_COORDINATOR || tly_msg_peek(fl->data, fl->len, &m) != TLY_OK)
		return 1;
	return !(m.header.type == TLY_MSG_SHARE && m.header.sender == 2 &&
	         m.header.recipient == f->q.committee.ids[0]);
}

Test(committee, partial_sender_is_left_out)
{
	struct spec spec = {.n = 5, .k = 3, .t = 2, .d = 3};
	struct tly_committee_result r;
	struct fed f;
	int dropped[5] = {0, 1, 0, 0, 0};

	fed_init(&f, &spec, 13);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	fed_begin(&f, 13);
	f.tamper = drop_share_to_first_member;
	cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, dropped);
	cr_assert_eq(f.reject_count, 0);
	tly_committee_result_fini(&r);
	free(inputs);
	fed_fini(&f);
}

Test(committee, members_may_vanish_up_to_k_minus_q)
{
	struct tly_committee_result r;
	struct fed f;

	/* (k, t, q) = (5, 3, 4), (7, 2, 5) and the defaults (4, 2, 3): k - q
	 * members never answer, and the query completes. */
	for (int round = 0; round < 3; round++) {
		struct spec spec =
		    round == 0   ? (struct spec){.n = 6, .k = 5, .t = 3, .d = 10, .aggregators = 1}
		    : round == 1 ? (struct spec){.n = 9, .k = 7, .t = 2, .d = 10}
		                 : (struct spec){.n = 5, .k = 4, .t = 2, .d = 10};
		fed_init(&f, &spec, 14 + (uint64_t)round);
		uint32_t gone = spec.k - f.q.quorum;
		cr_assert_geq(gone, 1);
		int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1 << 20);
		for (uint32_t v = 0; v < gone; v++)
			f.vanish[(v * 2 + 1) % spec.k] = 1;
		fed_begin(&f, 14);
		cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
		get_result(&f, &r);
		expect_exact(&f, inputs, &r, NULL);
		cr_assert_eq(r.unresponsive.count, gone);
		for (uint32_t j = 0; j < spec.k; j++)
			cr_assert_eq(tly_idlist_contains(&r.unresponsive, f.q.committee.ids[j]),
			             f.vanish[j]);
		tly_committee_result_fini(&r);
		free(inputs);
		fed_fini(&f);
	}
}

Test(committee, too_many_members_vanish_aborts)
{
	struct spec spec = {.n = 6, .k = 5, .t = 3, .d = 4};
	struct tly_committee_result r;
	struct fed f;

	fed_init(&f, &spec, 16);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	/* k - q + 1 = 2 of (k, t, q) = (5, 3, 4): no set can gather q votes. */
	for (uint32_t v = 0; v <= spec.k - f.q.quorum; v++)
		f.vanish[v] = 1;
	fed_begin(&f, 16);
	cr_assert_eq(run(&f, inputs, NULL), TLY_ETOOFEW);
	cr_assert_eq(tly_committee_coord_phase(f.c), TLY_COMMITTEE_ABORTED);
	cr_assert_eq(tly_committee_coord_result(f.c, &r), TLY_ESTATE);
	/* Every party was told: the 2 vanished members (nodes too) drop it. */
	cr_assert_eq(f.aborts_seen, spec.n - (spec.k - f.q.quorum + 1));
	struct tly_outbox box;
	tly_outbox_init(&box);
	cr_assert_eq(tly_committee_coord_close_round(f.c, &box), TLY_ESTATE);
	cr_assert_eq(tly_committee_coord_abort(f.c, TLY_ABORT_INTERNAL, &box), TLY_ESTATE);
	cr_assert_eq(box.count, 0);
	tly_outbox_fini(&box);
	free(inputs);
	fed_fini(&f);
}

Test(committee, too_few_contributors_aborts)
{
	struct spec spec = {
	    .n = 6, .k = 3, .t = 2, .d = 4, .min_contributors = 5, .aggregators = 1};
	struct fed f;
	int silent[6] = {0, 0, 1, 0, 1, 0};

	fed_init(&f, &spec, 17);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	fed_begin(&f, 17);
	cr_assert_eq(run(&f, inputs, silent), TLY_ETOOFEW);
	cr_assert_eq(tly_committee_coord_phase(f.c), TLY_COMMITTEE_ABORTED);
	cr_assert_eq(f.aborts_seen, f.party_count, "an ABORT reaches every party");

	/* The ABORT says why; members then refuse everything. */
	struct tly_outbox box, sink;
	tly_outbox_init(&box);
	tly_outbox_init(&sink);
	node_shares(&f, 2, inputs, &box);
	cr_assert_eq(tly_committee_coord_receive(f.c, box.items[0].data, box.items[0].len, &sink),
	             TLY_ESTATE);
	cr_assert_eq(
	    tly_committee_member_receive(f.member[0], box.items[0].data, box.items[0].len, &sink),
	    TLY_ESTATE);
	cr_assert_eq(sink.count, 0);
	tly_outbox_fini(&box);
	tly_outbox_fini(&sink);
	free(inputs);
	fed_fini(&f);
}

Test(committee, external_abort_reaches_everyone)
{
	struct spec spec = {.n = 4, .k = 3, .t = 2, .d = 2};
	struct tly_outbox box;
	struct tly_msg m;
	struct fed f;

	uint32_t reason;

	fed_init(&f, &spec, 18);
	fed_begin(&f, 18);
	tly_outbox_init(&box);
	cr_assert_eq(tly_committee_coord_abort(f.c, TLY_ABORT_REFUSED, &box), TLY_OK);
	cr_assert_eq(box.count, f.party_count);
	cr_assert_eq(tly_msg_open(box.items[3].data, box.items[3].len, &f.roster, &m), TLY_OK);
	cr_assert_eq(m.header.type, TLY_MSG_ABORT);
	cr_assert_eq(tly_abort_decode(&reason, m.body, m.body_len), TLY_OK);
	cr_assert_eq(reason, TLY_ABORT_REFUSED);
	cr_assert_eq(tly_committee_coord_phase(f.c), TLY_COMMITTEE_ABORTED);
	tly_outbox_fini(&box);
	fed_fini(&f);
}

/* ---- misbehaviour ---- */

/* A SHARE signed by node index i to `member` with an arbitrary body. */
static void
signed_share(struct fed *f, uint32_t i, uint32_t member, const uint8_t *body, size_t len,
             struct tly_buf *msg)
{
	struct tly_msg_header header = {
	    .type = TLY_MSG_SHARE,
	    .sender = i + 1,
	    .recipient = member,
	};

	memcpy(header.query_id, f->qid, TLY_QUERY_ID_BYTES);
	tly_buf_init(msg);
	cr_assert_eq(tly_msg_seal(msg, &header, body, len, f->party[i].sign), TLY_OK);
}

/* A SHARE from node index i to `member` whose envelope is valid but holds
 * plain (8d bytes). */
static void
sealed_share(struct fed *f, uint32_t i, uint32_t member, const uint8_t *plain, struct tly_buf *msg)
{
	size_t plain_len = (size_t)f->spec.d * 8;
	struct tly_msg_header header = {
	    .type = TLY_MSG_SHARE,
	    .sender = i + 1,
	    .recipient = member,
	};
	uint8_t raw[TLY_HEADER_BYTES];
	struct tly_buf body;

	memcpy(header.query_id, f->qid, TLY_QUERY_ID_BYTES);
	tly_msg_raw_header(raw, &header, (uint32_t)(plain_len + TLY_AEAD_TAG_BYTES));
	tly_buf_init(&body);
	cr_assert_eq(tly_envelope_seal(&body, f->party[i].kx_sk, f->party[i].kx_pk,
	                               tly_roster_find(&f->roster, member)->kx_pk, raw, plain,
	                               plain_len),
	             TLY_OK);
	signed_share(f, i, member, body.data, body.len, msg);
	tly_buf_fini(&body);
}

Test(committee, bad_signature_and_length_rejected)
{
	struct spec spec = {.n = 4, .k = 3, .t = 2, .d = 5};
	struct tly_committee_result r;
	struct tly_outbox box, sink;
	struct fed f;

	fed_init(&f, &spec, 19);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	fed_begin(&f, 19);
	tly_outbox_init(&box);
	tly_outbox_init(&sink);
	node_shares(&f, 1, inputs + spec.d, &box);
	struct tly_outmsg *share = &box.items[0];
	uint32_t first_member = f.q.committee.ids[0];

	/* A flipped byte in the body, the signature or the header. */
	size_t spots[3] = {TLY_HEADER_BYTES + 7, share->len - 1, 30};
	for (int s = 0; s < 3; s++) {
		share->data[spots[s]] ^= 0x04;
		tly_err want = s == 2 ? TLY_EPEER : TLY_EAUTH; /* byte 30: the recipient */
		cr_assert_eq(tly_committee_coord_receive(f.c, share->data, share->len, &sink), want,
		             "spot %d", s);
		if (s < 2)
			cr_assert_eq(tly_committee_member_receive(f.member[0], share->data,
			                                          share->len, &sink),
			             TLY_EAUTH);
		share->data[spots[s]] ^= 0x04;
	}
	cr_assert_eq(sink.count, 0, "nothing forged is relayed or answered");

	/* Signed by the node, but one byte short or long. */
	for (int delta = -1; delta <= 1; delta += 2) {
		size_t len = (size_t)spec.d * 8 + TLY_AEAD_TAG_BYTES + (size_t)(long)delta;
		uint8_t *body = calloc(len, 1);
		struct tly_buf msg;
		signed_share(&f, 1, first_member, body, len, &msg);
		cr_assert_eq(tly_committee_coord_receive(f.c, msg.data, msg.len, &sink),
		             TLY_EFORMAT);
		cr_assert_eq(tly_committee_member_receive(f.member[0], msg.data, msg.len, &sink),
		             TLY_EFORMAT);
		tly_buf_fini(&msg);
		free(body);
	}
	/* Garbage from a raw peer. */
	uint8_t garbage[200];
	tly_rng_bytes(&f.rng, garbage, sizeof garbage);
	cr_assert_eq(tly_committee_coord_receive(f.c, garbage, sizeof garbage, &sink), TLY_EFORMAT);
	cr_assert_eq(tly_committee_member_receive(f.member[1], garbage, sizeof garbage, &sink),
	             TLY_EFORMAT);
	cr_assert_eq(sink.count, 0);

	/* None of that spent node 2's one share: everyone completes. */
	queue_take(&f, &box);
	pump(&f);
	for (uint32_t i = 0; i < spec.n; i++)
		if (i != 1)
			node_send(&f, i, inputs + (size_t)i * spec.d);
	cr_assert_eq(close_round(&f), TLY_OK);
	cr_assert_eq(f.reject_count, 0);
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, NULL);
	tly_committee_result_fini(&r);
	tly_outbox_fini(&box);
	tly_outbox_fini(&sink);
	free(inputs);
	fed_fini(&f);
}

Test(committee, replayed_and_foreign_shares_rejected)
{
	struct spec spec = {.n = 3, .k = 3, .t = 2, .d = 2, .aggregators = 1};
	struct tly_committee_result r;
	struct tly_outbox box, sink;
	struct fed f;

	fed_init(&f, &spec, 20);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);

	/* Shares for another query (id 21), made first. */
	struct tly_outbox foreign;
	tly_outbox_init(&foreign);
	fed_begin(&f, 21);
	node_shares(&f, 0, inputs, &foreign);
	fed_end(&f);

	fed_begin(&f, 20);
	tly_outbox_init(&box);
	tly_outbox_init(&sink);
	cr_assert_eq(
	    tly_committee_coord_receive(f.c, foreign.items[0].data, foreign.items[0].len, &sink),
	    TLY_EREPLAY);
	cr_assert_eq(tly_committee_member_receive(f.member[0], foreign.items[0].data,
	                                          foreign.items[0].len, &sink),
	             TLY_EREPLAY);

	/* The second copy of a share is not relayed. */
	node_shares(&f, 0, inputs, &box);
	cr_assert_eq(tly_committee_coord_receive(f.c, box.items[0].data, box.items[0].len, &sink),
	             TLY_OK);
	cr_assert_eq(sink.count, 1);
	cr_assert_eq(sink.items[0].to, f.q.committee.ids[0]);
	cr_assert_eq(sink.items[0].len, box.items[0].len);
	cr_assert_eq(tly_committee_coord_receive(f.c, box.items[0].data, box.items[0].len, &sink),
	             TLY_EREPLAY);
	cr_assert_eq(sink.count, 1);
	/* ... and the member keeps only the first. */
	cr_assert_eq(
	    tly_committee_member_receive(f.member[0], sink.items[0].data, sink.items[0].len, &sink),
	    TLY_OK);
	cr_assert_eq(
	    tly_committee_member_receive(f.member[0], sink.items[0].data, sink.items[0].len, &sink),
	    TLY_EREPLAY);
	/* A fresh answer from the same node is a second share too. */
	struct tly_outbox again;
	tly_outbox_init(&again);
	node_shares(&f, 0, inputs, &again);
	cr_assert_eq(tly_committee_member_receive(f.member[0], again.items[0].data,
	                                          again.items[0].len, &sink),
	             TLY_EREPLAY);
	/* A share addressed to another member. */
	cr_assert_eq(
	    tly_committee_member_receive(f.member[1], box.items[0].data, box.items[0].len, &sink),
	    TLY_EPEER);
	/* A member is not a participant here: it cannot send shares. */
	struct tly_buf msg;
	uint8_t body[2 * 8 + TLY_AEAD_TAG_BYTES] = {0};
	signed_share(&f, spec.n, f.q.committee.ids[1], body, sizeof body, &msg);
	cr_assert_eq(tly_committee_coord_receive(f.c, msg.data, msg.len, &sink), TLY_EPEER);
	cr_assert_eq(tly_committee_member_receive(f.member[1], msg.data, msg.len, &sink),
	             TLY_EPEER);
	tly_buf_fini(&msg);
	cr_assert_eq(sink.count, 1);

	/* The rest of node 1's shares, then everyone else: all complete. */
	for (size_t s = 1; s < box.count; s++)
		queue_push(&f, box.items[s].to, box.items[s].data, box.items[s].len);
	pump(&f);
	for (uint32_t i = 1; i < spec.n; i++)
		node_send(&f, i, inputs + (size_t)i * spec.d);
	cr_assert_eq(close_round(&f), TLY_OK);
	cr_assert_eq(f.reject_count, 0);
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, NULL);
	tly_committee_result_fini(&r);
	tly_outbox_fini(&again);
	tly_outbox_fini(&foreign);
	tly_outbox_fini(&box);
	tly_outbox_fini(&sink);
	free(inputs);
	fed_fini(&f);
}

/* Replace node 2's shares to the members whose position bit is set in
 * f->arg with valid envelopes holding an element equal to p. */
static int
share_with_element_p(struct fed *f, struct flight *fl)
{
	unsigned mask = *(unsigned *)f->arg;
	struct tly_msg m;

	if (fl->to != TLY_PARTY_COORDINATOR || tly_msg_peek(fl->data, fl->len, &m) != TLY_OK ||
	    m.header.type != TLY_MSG_SHARE || m.header.sender != 2)
		return 1;
	long j = member_pos(f, m.header.recipient);
	if (!(mask >> j & 1))
		return 1;
	size_t plain_len = (size_t)f->spec.d * 8;
	uint8_t *plain = calloc(plain_len, 1);
	struct tly_buf msg;
	cr_assert_not_null(plain);
	tly_store_be64(plain + 8 * (f->spec.d - 1), P);
	sealed_share(f, 1, m.header.recipient, plain, &msg);
	free(plain);
	free(fl->data);
	fl->data = tly_buf_take(&msg, &fl->len);
	return 1;
}

/* (k, t, q) = (4, 2, 3). A node's bad share at m members: with m <= k - q
 * the other members still certify and sum set 0 (node counted); with
 * m >= q the complainers are enough to certify set 1 without the node;
 * in between (m = 2 here) no set can gather q votes and the query aborts:
 * the liveness the agreement costs (THREAT_MODEL). */
Test(committee, element_above_p_excludes_node)
{
	struct spec spec = {.n = 4, .k = 4, .t = 2, .d = 6};
	struct tly_committee_result r;
	struct fed f;
	int dropped[4] = {0, 1, 0, 0};
	unsigned masks[3] = {0x1, 0x3, 0x7};

	fed_init(&f, &spec, 22);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	for (int i = 0; i < 3; i++) {
		unsigned bad_members = masks[i];
		fed_begin(&f, 22 + (uint64_t)i);
		f.tamper = share_with_element_p;
		f.arg = &bad_members;
		tly_err rv = run(&f, inputs, NULL);
		cr_assert_eq(count_rejects(&f, TLY_MSG_SHARE, TLY_ERANGE), (size_t)i + 1);
		if (i == 1) {
			/* Set 1 got the complainers' two votes; members 3 and 4
			 * voted for set 0 and refuse set 1. */
			cr_assert_eq(tly_committee_coord_phase(f.c), TLY_COMMITTEE_ABORTED);
			cr_assert_eq(tly_committee_coord_abort_reason(f.c), TLY_ABORT_TOO_FEW);
			cr_assert_eq(count_rejects(&f, TLY_MSG_ANNOUNCE, TLY_EPEER), 2);
			fed_end(&f);
			continue;
		}
		cr_assert_eq(rv, TLY_OK);
		/* m = 3: member 4 voted for set 0 and refuses set 1. */
		cr_assert_eq(count_rejects(&f, TLY_MSG_ANNOUNCE, TLY_EPEER), i == 2 ? 1u : 0u);
		/* ... and member 3's complaint came after the re-announcement. */
		cr_assert_eq(count_rejects(&f, TLY_MSG_COMPLAINT, TLY_EREPLAY), i == 2 ? 1u : 0u);
		cr_assert_eq(f.reject_count, i == 2 ? 5u : 1u, "no other rejection");
		get_result(&f, &r);
		cr_assert_eq(r.attempt, i == 0 ? 0 : 1);
		expect_exact(&f, inputs, &r, i == 0 ? NULL : dropped);
		cr_assert_eq(r.faulty.count, 0);
		tly_committee_result_fini(&r);
		fed_end(&f);
	}
	free(inputs);
	fed_fini(&f);
}

Test(committee, one_bad_share_is_tolerated)
{
	struct spec spec = {.n = 4, .k = 5, .t = 3, .d = 6, .aggregators = 1};
	struct tly_committee_result r;
	struct fed f;
	unsigned bad_members = 0x4;

	fed_init(&f, &spec, 23);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	fed_begin(&f, 23);
	f.tamper = share_with_element_p;
	f.arg = &bad_members;
	cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
	/* The others' share-sums of set 0 suffice; node 2's shares there are
	 * sound, so its input is counted, exactly. */
	cr_assert_eq(count_rejects(&f, TLY_MSG_SHARE, TLY_ERANGE), 1);
	get_result(&f, &r);
	cr_assert_eq(r.attempt, 0);
	expect_exact(&f, inputs, &r, NULL);
	tly_committee_result_fini(&r);
	free(inputs);
	fed_fini(&f);
}

/* Replace the first member's SHARE_SUM with one for another set. */
static int
share_sum_wrong_set(struct fed *f, struct flight *fl)
{
	struct tly_msg m;
	uint32_t attempt;
	uint8_t hash[TLY_HASH_BYTES];

	if (fl->to != TLY_PARTY_COORDINATOR || tly_msg_peek(fl->data, fl->len, &m) != TLY_OK ||
	    m.header.type != TLY_MSG_SHARE_SUM || m.header.sender != f->q.committee.ids[0])
		return 1;
	uint64_t *sum = calloc(f->spec.d, sizeof *sum);
	cr_assert_not_null(sum);
	cr_assert_eq(tly_share_sum_decode(&attempt, hash, sum, f->spec.d, m.body, m.body_len),
	             TLY_OK);
	/* The set without its last node. */
	struct tly_idlist smaller = f->q.participants;
	smaller.count--;
	tly_idlist_hash(hash, f->qid, &smaller);
	struct tly_buf body, msg;
	tly_buf_init(&body);
	tly_buf_init(&msg);
	cr_assert_eq(tly_share_sum_encode(&body, attempt, hash, sum, f->spec.d), TLY_OK);
	cr_assert_eq(
	    tly_msg_seal(&msg, &m.header, body.data, body.len, f->party[m.header.sender - 1].sign),
	    TLY_OK);
	free(fl->data);
	fl->data = tly_buf_take(&msg, &fl->len);
	tly_buf_fini(&body);
	free(sum);
	return 1;
}

Test(committee, share_sum_for_wrong_set_rejected)
{
	struct spec spec = {.n = 4, .k = 3, .t = 2, .d = 3};
	struct tly_committee_result r;
	struct fed f;

	fed_init(&f, &spec, 24);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	fed_begin(&f, 24);
	f.tamper = share_sum_wrong_set;
	cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
	cr_assert_eq(count_rejects(&f, TLY_MSG_SHARE_SUM, TLY_EPEER), 1);
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, NULL);
	cr_assert_eq(r.faulty.count, 1);
	cr_assert_eq(r.faulty.ids[0], f.q.committee.ids[0]);
	cr_assert_eq(r.unresponsive.count, 0);
	tly_committee_result_fini(&r);
	free(inputs);
	fed_fini(&f);
}

/* An ANNOUNCE for `member` with header sender `sender`, signed by `key`. */
static void
signed_announce(struct fed *f, uint32_t sender, const struct tly_sign_key *key, uint32_t member,
                uint32_t attempt, const struct tly_idlist *set, struct tly_buf *msg)
{
	struct tly_msg_header header = {
	    .type = TLY_MSG_ANNOUNCE,
	    .sender = sender,
	    .recipient = member,
	};
	struct tly_buf body;

	memcpy(header.query_id, f->qid, TLY_QUERY_ID_BYTES);
	tly_buf_init(&body);
	tly_buf_init(msg);
	cr_assert_eq(tly_attempt_list_encode(&body, attempt, set), TLY_OK);
	cr_assert_eq(tly_msg_seal(msg, &header, body.data, body.len, key), TLY_OK);
	tly_buf_fini(&body);
}

Test(committee, announce_rules)
{
	struct spec spec = {.n = 4, .k = 3, .t = 2, .d = 3, .min_contributors = 3};
	struct tly_committee_result r;
	struct tly_outbox sink;
	struct tly_buf msg;
	struct fed f;
	uint32_t first_member = 1; /* the committee is nodes 1..3 */

	fed_init(&f, &spec, 25);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	fed_begin(&f, 25);
	tly_outbox_init(&sink);
	for (uint32_t i = 0; i < spec.n; i++)
		node_send(&f, i, inputs + (size_t)i * spec.d);

	/* Not signed by the coordinator: a node's key under the coordinator's
	 * id, or a node's own id. */
	signed_announce(&f, TLY_PARTY_COORDINATOR, f.party[3].sign, first_member, 0,
	                &f.q.participants, &msg);
	cr_assert_eq(tly_committee_member_receive(f.member[0], msg.data, msg.len, &sink),
	             TLY_EAUTH);
	tly_buf_fini(&msg);
	signed_announce(&f, 4, f.party[3].sign, first_member, 0, &f.q.participants, &msg);
	cr_assert_eq(tly_committee_member_receive(f.member[0], msg.data, msg.len, &sink),
	             TLY_EPEER);
	tly_buf_fini(&msg);
	/* Signed, but below min_contributors, or naming a stranger. */
	struct tly_idlist small = f.q.participants;
	small.count = 2;
	signed_announce(&f, TLY_PARTY_COORDINATOR, f.coord.sign, first_member, 0, &small, &msg);
	cr_assert_eq(tly_committee_member_receive(f.member[0], msg.data, msg.len, &sink),
	             TLY_ETOOFEW);
	tly_buf_fini(&msg);
	uint32_t stranger_ids[3] = {1, 2, 77};
	struct tly_idlist stranger = {.count = 3, .ids = stranger_ids};
	signed_announce(&f, TLY_PARTY_COORDINATOR, f.coord.sign, first_member, 0, &stranger, &msg);
	cr_assert_eq(tly_committee_member_receive(f.member[0], msg.data, msg.len, &sink),
	             TLY_EPEER);
	tly_buf_fini(&msg);
	/* Addressed to another member. */
	signed_announce(&f, TLY_PARTY_COORDINATOR, f.coord.sign, 2, 0, &f.q.participants, &msg);
	cr_assert_eq(tly_committee_member_receive(f.member[0], msg.data, msg.len, &sink),
	             TLY_EPEER);
	tly_buf_fini(&msg);
	/* Members accept nothing of the coordinator's or members' own types. */
	cr_assert_eq(tly_committee_member_receive(f.member[0], f.query_msg, f.query_len, &sink),
	             TLY_ESTATE);
	cr_assert_eq(sink.count, 0, "no rejected ANNOUNCE is answered");

	/* The real round completes. */
	cr_assert_eq(close_round(&f), TLY_OK);
	cr_assert_eq(f.reject_count, 0);
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, NULL);

	/* A member that gave its share-sum answers no other set: not a
	 * subset (which would reveal a node), nor the same set again. */
	struct tly_idlist subset = f.q.participants;
	subset.count = 3;
	for (uint32_t attempt = 0; attempt < 2; attempt++) {
		signed_announce(&f, TLY_PARTY_COORDINATOR, f.coord.sign, first_member, attempt,
		                attempt ? &subset : &f.q.participants, &msg);
		cr_assert_eq(tly_committee_member_receive(f.member[0], msg.data, msg.len, &sink),
		             TLY_ESTATE);
		tly_buf_fini(&msg);
	}
	cr_assert_eq(sink.count, 0);
	/* Nor does the coordinator take anything after the result. */
	cr_assert_eq(tly_committee_coord_close_round(f.c, &sink), TLY_ESTATE);
	tly_committee_result_fini(&r);
	tly_outbox_fini(&sink);
	free(inputs);
	fed_fini(&f);
}

/* A COMPLAINT signed by committee member position j. */
static void
signed_complaint(struct fed *f, uint32_t j, uint32_t attempt, const struct tly_idlist *missing,
                 struct tly_buf *msg)
{
	uint32_t id = f->q.committee.ids[j];
	struct tly_msg_header header = {
	    .type = TLY_MSG_COMPLAINT,
	    .sender = id,
	    .recipient = TLY_PARTY_COORDINATOR,
	};
	struct tly_buf body;

	memcpy(header.query_id, f->qid, TLY_QUERY_ID_BYTES);
	tly_buf_init(&body);
	tly_buf_init(msg);
	cr_assert_eq(tly_attempt_list_encode(&body, attempt, missing), TLY_OK);
	cr_assert_eq(tly_msg_seal(msg, &header, body.data, body.len, f->party[id - 1].sign),
	             TLY_OK);
	tly_buf_fini(&body);
}

Test(committee, complaint_rules)
{
	struct spec spec = {.n = 5, .k = 5, .t = 3, .d = 2};
	struct tly_committee_result r;
	struct tly_outbox sink;
	struct tly_buf msg;
	struct fed f;

	fed_init(&f, &spec, 26);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	/* (k, t, q) = (5, 3, 4). Member 5 vanishes; member 4's complaint is
	 * made here, and the coordinator's messages are held: every
	 * remaining answer matters. */
	f.vanish[4] = 1;
	fed_begin(&f, 26);
	tly_outbox_init(&sink);
	for (uint32_t i = 0; i < spec.n; i++)
		node_send(&f, i, inputs + (size_t)i * spec.d);
	/* Nothing of round 3 before the announcement. */
	uint32_t one_id = 1;
	struct tly_idlist one = {.count = 1, .ids = &one_id};
	signed_complaint(&f, 3, 0, &one, &msg);
	cr_assert_eq(tly_committee_coord_receive(f.c, msg.data, msg.len, &sink), TLY_ESTATE);
	tly_buf_fini(&msg);
	/* Announce, but hold the members' answers. */
	cr_assert_eq(tly_committee_coord_close_round(f.c, &sink), TLY_OK);
	cr_assert_eq(sink.count, 5);
	tly_outbox_clear(&sink);

	/* Member 4 complains about node 1: accepted; twice: a replay. */
	signed_complaint(&f, 3, 0, &one, &msg);
	cr_assert_eq(tly_committee_coord_receive(f.c, msg.data, msg.len, &sink), TLY_OK);
	cr_assert_eq(tly_committee_coord_receive(f.c, msg.data, msg.len, &sink), TLY_EREPLAY);
	tly_buf_fini(&msg);
	/* Member 5 names a node that was never announced: faulty. */
	uint32_t stranger_id = 9;
	struct tly_idlist stranger = {.count = 1, .ids = &stranger_id};
	signed_complaint(&f, 4, 0, &stranger, &msg);
	cr_assert_eq(tly_committee_coord_receive(f.c, msg.data, msg.len, &sink), TLY_EPEER);
	tly_buf_fini(&msg);
	signed_complaint(&f, 4, 0, &one, &msg);
	cr_assert_eq(tly_committee_coord_receive(f.c, msg.data, msg.len, &sink), TLY_EPEER,
	             "a faulty member stays ignored");
	tly_buf_fini(&msg);
	/* Set 0 can no longer gather q = 4 votes (members 1-3 are left):
	 * re-announced at once without node 1, to members 1-4. */
	cr_assert_eq(sink.count, 4);
	queue_take(&f, &sink);
	pump(&f);
	/* Members 1-4 voted for set 1, got its certificate and summed. */
	get_result(&f, &r);
	cr_assert_eq(r.attempt, 1);
	int dropped[5] = {1, 0, 0, 0, 0};
	expect_exact(&f, inputs, &r, dropped);
	cr_assert_eq(r.faulty.count, 1);
	cr_assert_eq(r.faulty.ids[0], 5);
	tly_committee_result_fini(&r);
	tly_outbox_fini(&sink);
	free(inputs);
	fed_fini(&f);
}

/* Members keep complaining about one more node: after the last attempt
 * there is nothing left to try. */
Test(committee, attempts_run_out)
{
	/* (k, t, q) = (5, 3, 4): one complaint leaves q possible voters, the
	 * second does not. */
	struct spec spec = {.n = 6, .k = 5, .t = 3, .d = 1, .aggregators = 1};
	struct tly_outbox sink;
	struct tly_buf msg;
	struct fed f;

	fed_init(&f, &spec, 27);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	fed_begin(&f, 27);
	tly_outbox_init(&sink);
	for (uint32_t i = 0; i < spec.n; i++)
		node_send(&f, i, inputs + (size_t)i * spec.d);
	tly_err rv = TLY_OK;
	for (uint32_t attempt = 0; rv == TLY_OK; attempt++) {
		cr_assert_lt(attempt, TLY_MAX_ANNOUNCE_ATTEMPTS);
		if (attempt == 0)
			cr_assert_eq(tly_committee_coord_close_round(f.c, &sink), TLY_OK);
		cr_assert_eq(sink.count, spec.k);
		tly_outbox_clear(&sink);
		/* Two members complain about one more node each time. */
		uint32_t victim = attempt + 1;
		struct tly_idlist missing = {.count = 1, .ids = &victim};
		for (uint32_t j = 0; j < 2 && rv == TLY_OK; j++) {
			signed_complaint(&f, j, attempt, &missing, &msg);
			rv = tly_committee_coord_receive(f.c, msg.data, msg.len, &sink);
			tly_buf_fini(&msg);
		}
	}
	/* The last attempt's complaints leave nothing to try. */
	cr_assert_eq(rv, TLY_ETOOFEW);
	cr_assert_eq(tly_committee_coord_phase(f.c), TLY_COMMITTEE_ABORTED);
	cr_assert_eq(sink.count, f.party_count, "ABORT to every party");
	tly_outbox_fini(&sink);
	free(inputs);
	fed_fini(&f);
}

/* ---- statistics: what the coordinator sees ---- */

enum { VIEW_BINS = 16, VIEW_RUNS = 40, VIEW_CELLS = 200 };

struct view {
	uint64_t top[VIEW_BINS]; /* the element's top 4 bits */
	uint64_t low[VIEW_BINS]; /* and its low 4 bits */
};

static void
view_add(struct view *v, uint64_t x)
{
	v->top[x >> (TLY_FIELD_BITS - 4)]++;
	v->low[x & 15]++;
}

/* Two-sample chi-square of equal-size samples a and b over the bins. */
static double
two_sample_p(const uint64_t *a, const uint64_t *b, size_t bins)
{
	double stat = 0;
	size_t used = 0;

	for (size_t i = 0; i < bins; i++) {
		double sum = (double)a[i] + (double)b[i];
		if (sum == 0)
			continue;
		double diff = (double)a[i] - (double)b[i];
		stat += diff * diff / sum;
		used++;
	}
	return used < 2 ? 1.0 : stats_chi2_sf(stat, (double)(used - 1));
}

/* The smaller p-value of the two statistics. */
static double
views_differ(const struct view *a, const struct view *b)
{
	return fmin(two_sample_p(a->top, b->top, VIEW_BINS),
	            two_sample_p(a->low, b->low, VIEW_BINS));
}

struct observation {
	struct view share_sum;   /* the first member's share-sum: the coordinator's view */
	struct view one_share;   /* node 1's share for member 1 (seeded): t - 1 colluders */
	struct view whole_share; /* ... for member 2 (whole, interpolated) */
	struct view leaked;      /* node 1's input from t of its shares: a leak */
};

/* The coordinator's inbox: member 1's share-sum elements. */
static void
spy_share_sum(struct fed *f, const uint8_t *msg, size_t len)
{
	struct observation *obs = f->arg;
	struct tly_msg m;
	uint64_t sum[VIEW_CELLS];
	uint8_t hash[TLY_HASH_BYTES];
	uint32_t attempt;

	if (tly_msg_peek(msg, len, &m) != TLY_OK || m.header.type != TLY_MSG_SHARE_SUM ||
	    m.header.sender != f->q.committee.ids[0])
		return;
	cr_assert_eq(tly_share_sum_decode(&attempt, hash, sum, VIEW_CELLS, m.body, m.body_len),
	             TLY_OK);
	for (size_t c = 0; c < VIEW_CELLS; c++)
		view_add(&obs->share_sum, sum[c]);
}

/* Open a SHARE (either form) from node index i as `member` would:
 * share[0..d) is its share. Returns the form. */
static enum tly_share_form
open_share_as(struct fed *f, const struct tly_identity *member, uint32_t i, const uint8_t *msg,
              size_t len, uint64_t *share)
{
	size_t d = f->spec.d;
	uint8_t *plain = malloc(d * 8 + TLY_SHARE_SEED_BYTES);
	enum tly_share_form form;
	const uint8_t *cipher;
	size_t cipher_len;
	struct tly_msg m;

	cr_assert_not_null(plain);
	cr_assert_eq(tly_msg_peek(msg, len, &m), TLY_OK);
	cr_assert_eq(tly_share_form_decode(&form, &cipher, &cipher_len, m.body, m.body_len, d),
	             TLY_OK);
	cr_assert_eq(tly_envelope_open(plain, member->kx_sk, member->kx_pk, f->party[i].kx_pk,
	                               m.raw_header, cipher, cipher_len),
	             TLY_OK);
	if (form == TLY_SHARE_WHOLE)
		cr_assert_eq(tly_field_vec_load(share, plain, d), TLY_OK);
	else
		cr_assert_eq(tly_committee_seed_expand(plain, f->qid, i + 1, member->id, share, d),
		             TLY_OK);
	free(plain);
	return form;
}

/* Open node 1's shares as members would (a coalition of members). */
static void
coalition_view(struct fed *f, struct tly_outbox *box, struct observation *obs)
{
	uint64_t shares[2][VIEW_CELLS], input[VIEW_CELLS];
	const uint64_t *rows[2] = {shares[0], shares[1]};
	uint64_t xs[2] = {1, 2};

	/* Member 1's share is seeded (t = 2), member 2's whole. */
	for (size_t j = 0; j < 2; j++)
		cr_assert_eq(open_share_as(f, &f->party[f->q.committee.ids[j] - 1], 0,
		                           box->items[j].data, box->items[j].len, shares[j]),
		             j == 0 ? TLY_SHARE_SEEDED : TLY_SHARE_WHOLE);
	cr_assert_eq(tly_shamir_reconstruct(xs, rows, 2, 2, VIEW_CELLS, input), TLY_OK);
	for (size_t c = 0; c < VIEW_CELLS; c++) {
		view_add(&obs->one_share, shares[0][c]);
		view_add(&obs->whole_share, shares[1][c]);
		view_add(&obs->leaked, input[c]);
	}
}

/* VIEW_RUNS queries where node 1 holds `first` and node 2 `second` in
 * every cell (node 3 holds 5). */
static void
observe(struct fed *f, int64_t first, int64_t second, uint64_t qid, struct observation *obs)
{
	static int64_t inputs[3][VIEW_CELLS];

	memset(obs, 0, sizeof *obs);
	for (size_t c = 0; c < VIEW_CELLS; c++) {
		inputs[0][c] = first;
		inputs[1][c] = second;
		inputs[2][c] = 5;
	}
	f->spy = spy_share_sum;
	f->arg = obs;
	for (int run_index = 0; run_index < VIEW_RUNS; run_index++) {
		struct tly_outbox box;
		fed_begin(f, qid + (uint64_t)run_index);
		tly_outbox_init(&box);
		node_shares(f, 0, inputs[0], &box);
		coalition_view(f, &box, obs);
		queue_take(f, &box);
		pump(f);
		tly_outbox_fini(&box);
		node_send(f, 1, inputs[1]);
		node_send(f, 2, inputs[2]);
		cr_assert_eq(close_round(f), TLY_OK);
		cr_assert_eq(tly_committee_coord_phase(f->c), TLY_COMMITTEE_DONE);
		fed_end(f);
	}
	f->spy = NULL;
}

Test(committee_stats, coordinator_view_hides_single_inputs, .timeout = 60)
{
	struct spec spec = {.n = 3, .k = 3, .t = 2, .d = VIEW_CELLS, .aggregators = 1};
	struct observation a, b;
	struct fed f;

	fed_init(&f, &spec, 28);
	/* Same total, inputs swapped between nodes 1 and 2. */
	observe(&f, 0, 1000, 1000, &a);
	observe(&f, 1000, 0, 2000, &b);
	double p_view = views_differ(&a.share_sum, &b.share_sum);
	double p_one = views_differ(&a.one_share, &b.one_share);
	double p_whole = views_differ(&a.whole_share, &b.whole_share);
	double p_leak = views_differ(&a.leaked, &b.leaked);
	cr_log_info("two-sample p: share-sum %g, seeded share %g, whole share %g, t shares %g",
	            p_view, p_one, p_whole, p_leak);
	/* The coordinator's share-sums, and one member's share of node 1 (a
	 * coalition below t), look the same either way ... */
	cr_assert_gt(p_view, 1e-4, "share-sums depend on a single input: p = %g", p_view);
	cr_assert_gt(p_one, 1e-4, "a seeded share depends on the input: p = %g", p_one);
	cr_assert_gt(p_whole, 1e-4, "a whole share depends on the input: p = %g", p_whole);
	/* ... while t shares, with the very same test, tell them apart. */
	cr_assert_lt(p_leak, 1e-12, "the test has no power: p = %g", p_leak);
	fed_fini(&f);
}

/* ---- statistics: the noise in released totals ---- */

enum { NOISE_NODES = 3, NOISE_CELLS = 50000 };

/* Total minus true sum over NOISE_CELLS cells of one noisy run, with
 * h = NOISE_NODES (every share is needed for the target). */
static void
noisy_run(uint8_t mechanism, uint64_t num, uint64_t den, uint64_t seed, struct stats_hist *h,
          struct tly_noise_params *params)
{
	struct spec spec = {.n = NOISE_NODES,
	                    .k = 3,
	                    .t = 2,
	                    .d = NOISE_CELLS,
	                    .min_honest = NOISE_NODES,
	                    .min_contributors = NOISE_NODES,
	                    .mechanism = mechanism,
	                    .privacy_num = num,
	                    .privacy_den = den};
	struct tly_committee_result r;
	struct fed f;

	fed_init(&f, &spec, seed);
	f.opts.allow_no_noise = 0;
	cr_assert_eq(tly_noise_calibrate(&f.q, params), TLY_OK);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	fed_begin(&f, seed);
	cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
	get_result(&f, &r);
	cr_assert_eq(r.contributors.count, NOISE_NODES);
	for (size_t c = 0; c < NOISE_CELLS; c++) {
		int64_t truth = 0;
		for (uint32_t i = 0; i < NOISE_NODES; i++)
			truth += inputs[(size_t)i * NOISE_CELLS + c];
		stats_hist_add(h, r.cells[c] - truth);
	}
	tly_committee_result_fini(&r);
	free(inputs);
	fed_fini(&f);
}

static void
laplace_pmf(double alpha, int64_t lo, size_t len, double *prob)
{
	for (size_t i = 0; i < len; i++)
		prob[i] = (1 - alpha) / (1 + alpha) * pow(alpha, fabs((double)(lo + (int64_t)i)));
}

/* Poisson(mu) - Poisson(mu). */
static void
skellam_pmf(double mu, int64_t lo, size_t len, double *prob)
{
	for (size_t i = 0; i < len; i++) {
		int64_t k = llabs(lo + (int64_t)i);
		double sum = 0;
		for (int64_t j = 0; j < 2000; j++)
			sum += exp(-2 * mu + (double)(2 * j + k) * log(mu) - lgamma((double)j + 1) -
			           lgamma((double)(j + k) + 1));
		prob[i] = sum;
	}
}

/* Chi-square and variance against the target; then the same draws against
 * a target 10% off must fail. */
static void
check_noise(const char *name, const struct stats_hist *h, const double *truth, const double *wrong,
            size_t len, const struct tly_noise_params *params)
{
	struct tly_noise_info info;
	double stat, dof, mean, variance, fourth;

	cr_assert_eq(tly_noise_describe(params, NOISE_NODES, &info), TLY_OK);
	stats_moments(truth, len, h->lo, &mean, &variance, &fourth);
	cr_assert_lt(fabs(variance - info.variance) / info.variance, 1e-3,
	             "%s: pmf variance %g vs describe %g", name, variance, info.variance);
	double p = stats_chi2(h, truth, &stat, &dof);
	cr_log_info("%s: chi2 %g on %g dof, p = %g; variance %g, target %g", name, stat, dof, p,
	            stats_hist_variance(h), info.variance);
	cr_assert_gt(p, 1e-4, "%s: chi2 %g on %g dof, p = %g", name, stat, dof, p);
	cr_assert_lt(stats_variance_err(h, info.variance, variance, fourth), 5,
	             "%s: variance %g vs %g", name, stats_hist_variance(h), info.variance);
	cr_assert_lt(stats_mean_err(h, 0, variance), 5, "%s: mean %g", name, stats_hist_mean(h));
	double p_wrong = stats_chi2(h, wrong, &stat, &dof);
	cr_log_info("%s: against a parameter 10%% off, p = %g", name, p_wrong);
	cr_assert_lt(p_wrong, 1e-6, "%s: no power against a wrong parameter (p = %g)", name,
	             p_wrong);
}

Test(committee_stats, laplace_noise_matches_target, .timeout = 60)
{
	struct tly_noise_params params;
	struct stats_hist h;
	enum { LO = -40, LEN = 81 };
	double truth[LEN], wrong[LEN];

	stats_hist_init(&h, LO, LO + LEN - 1);
	noisy_run(TLY_MECH_LAPLACE, 1, 1, 29, &h, &params);
	double ratio = (double)params.scale_s / (double)params.scale_t; /* epsilon / L1 */
	laplace_pmf(exp(-ratio), LO, LEN, truth);
	laplace_pmf(exp(-1.1 * ratio), LO, LEN, wrong);
	check_noise("laplace", &h, truth, wrong, LEN, &params);
	stats_hist_fini(&h);
}

Test(committee_stats, skellam_noise_matches_target, .timeout = 60)
{
	struct tly_noise_params params;
	struct stats_hist h;
	enum { LO = -60, LEN = 121 };
	double truth[LEN], wrong[LEN];

	stats_hist_init(&h, LO, LO + LEN - 1);
	noisy_run(TLY_MECH_SKELLAM, 1, 10, 30, &h, &params);
	double mu = (double)params.mu_num / (double)params.mu_den;
	cr_assert_lt(6 * sqrt(2 * mu), -LO, "window too narrow for mu = %g", mu);
	skellam_pmf(mu, LO, LEN, truth);
	skellam_pmf(1.1 * mu, LO, LEN, wrong);
	check_noise("skellam", &h, truth, wrong, LEN, &params);
	stats_hist_fini(&h);
}

/* ---- consistency of share-sums: equivocation and lying members ---- */

/* Node i's round 1 as an equivocator: its cells shared t-of-k, then delta
 * added to cell `cell` of member `target`'s share alone (a share off the
 * polynomial: another secret for that member), each share sealed and
 * signed as an honest node does. delta 0 is an honest node. */
static void
equivocal_send(struct fed *f, uint32_t i, const int64_t *cells, uint32_t target, uint32_t cell,
               uint64_t delta)
{
	uint32_t d = f->spec.d, k = f->spec.k;
	uint64_t *input = calloc(d, sizeof *input), *shares = calloc((size_t)k * d, sizeof *shares);
	uint8_t *plain = calloc(d, TLY_FIELD_ELEMENT_BYTES);
	uint64_t *rows[TLY_MAX_COMMITTEE];
	struct tly_outbox box;

	cr_assert(input != NULL && shares != NULL && plain != NULL);
	tly_outbox_init(&box);
	cr_assert_eq(tly_field_vec_encode_signed(input, cells, d, NULL), TLY_OK);
	for (uint32_t j = 0; j < k; j++)
		rows[j] = shares + (size_t)j * d;
	cr_assert_eq(tly_shamir_share(&f->rng, input, d, f->spec.t, k, rows), TLY_OK);
	rows[target][cell] = tly_field_add(rows[target][cell], delta);
	for (uint32_t j = 0; j < k; j++) {
		const struct tly_party *member = tly_roster_find(&f->roster, f->q.committee.ids[j]);
		struct tly_msg_header header = {
		    .type = TLY_MSG_SHARE, .sender = i + 1, .recipient = member->id};
		uint8_t raw[TLY_HEADER_BYTES];
		struct tly_buf body;
		memcpy(header.query_id, f->qid, TLY_QUERY_ID_BYTES);
		tly_msg_raw_header(raw, &header, d * TLY_FIELD_ELEMENT_BYTES + TLY_AEAD_TAG_BYTES);
		tly_field_vec_store(plain, rows[j], d);
		tly_buf_init(&body);
		cr_assert_eq(tly_envelope_seal(&body, f->party[i].kx_sk, f->party[i].kx_pk,
		                               member->kx_pk, raw, plain,
		                               d * TLY_FIELD_ELEMENT_BYTES),
		             TLY_OK);
		cr_assert_eq(tly_msg_seal_to(&box, TLY_PARTY_COORDINATOR, &header, body.data,
		                             body.len, f->party[i].sign),
		             TLY_OK);
		tly_buf_fini(&body);
	}
	queue_take(f, &box);
	tly_outbox_fini(&box);
	pump(f);
	free(plain);
	free(shares);
	free(input);
}

/* Every node sends (node `liar` through equivocal_send), then deadlines
 * pass until the query ends. */
static tly_err
run_equivocal(struct fed *f, const int64_t *inputs, uint32_t liar, uint32_t target, uint32_t cell,
              uint64_t delta)
{
	for (uint32_t i = 0; i < f->spec.n; i++) {
		const int64_t *cells = inputs + (size_t)i * f->spec.d;
		if (i == liar)
			equivocal_send(f, i, cells, target, cell, delta);
		else
			node_send(f, i, cells);
	}
	tly_err rv = close_round(f);
	for (int guard = 0; rv == TLY_OK && guard < TLY_MAX_ANNOUNCE_ATTEMPTS &&
	                    tly_committee_coord_phase(f->c) == TLY_COMMITTEE_SUMMING;
	     guard++)
		rv = close_round(f);
	return rv;
}

static void
expect_inconsistent(struct fed *f)
{
	cr_assert_eq(tly_committee_coord_phase(f->c), TLY_COMMITTEE_ABORTED);
	cr_assert_eq(tly_committee_coord_abort_reason(f->c), TLY_ABORT_INCONSISTENT);
	/* The honest members heard of the abort. */
	cr_assert_geq(f->aborts_seen, 1);
}

Test(committee, equivocating_node_detected_when_all_members_answer)
{
	struct spec spec = {.n = 4, .k = 3, .t = 2, .d = 3};
	struct tly_committee_result r;
	struct fed f;

	fed_init(&f, &spec, 40);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	/* Negative control: the same path with shares on one polynomial. */
	fed_begin(&f, 40);
	cr_assert_eq(run_equivocal(&f, inputs, 3, 2, 1, 0), TLY_OK);
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, NULL);
	tly_committee_result_fini(&r);
	fed_end(&f);
	/* Node 4 gives member 3 another secret for cell 1. */
	for (uint32_t target = 0; target < spec.k; target++) {
		fed_begin(&f, 41 + target);
		cr_assert_eq(run_equivocal(&f, inputs, 3, target, 1, 12345), TLY_OK);
		expect_inconsistent(&f);
		cr_assert_eq(count_rejects(&f, TLY_MSG_SHARE_SUM, TLY_EAUTH), 1, "target %u",
		             target);
		fed_end(&f);
	}
	free(inputs);
	fed_fini(&f);
}

/* Member `*arg` (committee index) adds 1 to the first cell of its
 * share-sum and signs it again: a lying member. */
static int
lying_share_sum(struct fed *f, struct flight *fl)
{
	const uint32_t *liar = f->arg;
	struct tly_msg m;
	uint32_t attempt;
	uint8_t hash[TLY_HASH_BYTES];

	if (fl->to != TLY_PARTY_COORDINATOR || tly_msg_peek(fl->data, fl->len, &m) != TLY_OK ||
	    m.header.type != TLY_MSG_SHARE_SUM || m.header.sender != f->q.committee.ids[*liar])
		return 1;
	uint64_t *sum = calloc(f->spec.d, sizeof *sum);
	cr_assert_not_null(sum);
	cr_assert_eq(tly_share_sum_decode(&attempt, hash, sum, f->spec.d, m.body, m.body_len),
	             TLY_OK);
	sum[0] = tly_field_add(sum[0], 1);
	struct tly_buf body, msg;
	tly_buf_init(&body);
	tly_buf_init(&msg);
	cr_assert_eq(tly_share_sum_encode(&body, attempt, hash, sum, f->spec.d), TLY_OK);
	cr_assert_eq(
	    tly_msg_seal(&msg, &m.header, body.data, body.len, f->party[m.header.sender - 1].sign),
	    TLY_OK);
	free(fl->data);
	fl->data = tly_buf_take(&msg, &fl->len);
	tly_buf_fini(&body);
	free(sum);
	return 1;
}

Test(committee, lying_member_detected_when_all_members_answer)
{
	struct spec spec = {.n = 4, .k = 3, .t = 2, .d = 3};
	struct tly_committee_result r;
	struct fed f;

	fed_init(&f, &spec, 50);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	for (uint32_t liar = 0; liar < spec.k; liar++) {
		fed_begin(&f, 50 + liar);
		f.tamper = lying_share_sum;
		f.arg = &liar;
		cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
		expect_inconsistent(&f);
		fed_end(&f);
	}
	fed_fini(&f);
	/* The limit: with t = q = k = 3 only t share-sums come in, nothing
	 * can be checked, and the lie shifts cell 0 by one. */
	uint32_t liar = 0;
	fed_init(&f, &(struct spec){.n = 4, .k = 3, .t = 3, .d = 3}, 50);
	fed_begin(&f, 59);
	f.tamper = lying_share_sum;
	f.arg = &liar;
	cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
	get_result(&f, &r);
	int64_t truth = 0;
	for (uint32_t i = 0; i < spec.n; i++)
		truth += inputs[(size_t)i * spec.d];
	cr_assert_neq(r.cells[0], truth, "a lie with exactly t share-sums goes undetected");
	cr_assert_eq(r.cells[1], inputs[1] + inputs[4] + inputs[7] + inputs[10]);
	tly_committee_result_fini(&r);
	free(inputs);
	fed_fini(&f);
}

/* Random committees, sizes and inputs: honest runs always release the
 * exact total; one equivocating node (random member, cell and nonzero
 * offset) is always caught when every member answers. */
Test(committee, consistency_check_property)
{
	static const uint32_t shapes[][2] = {{3, 2}, {4, 3}, {5, 3}, {7, 4}, {9, 5}};
	struct tly_rng pick;

	tly_rng_init_seeded_u64(&pick, 60);
	for (int round = 0; round < 40; round++) {
		const uint32_t *shape = shapes[tly_rng_uniform(&pick, 5)];
		struct spec spec = {
		    .k = shape[0], .t = shape[1], .d = 1 + (uint32_t)tly_rng_uniform(&pick, 6)};
		spec.n = spec.k + (uint32_t)tly_rng_uniform(&pick, 4);
		struct tly_committee_result r;
		struct fed f;

		fed_init(&f, &spec, 600 + (uint64_t)round);
		int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1 << 20);
		fed_begin(&f, 1);
		cr_assert_eq(run(&f, inputs, NULL), TLY_OK, "round %d honest", round);
		get_result(&f, &r);
		expect_exact(&f, inputs, &r, NULL);
		tly_committee_result_fini(&r);
		fed_end(&f);

		uint32_t liar = (uint32_t)tly_rng_uniform(&pick, spec.n);
		uint32_t target = (uint32_t)tly_rng_uniform(&pick, spec.k);
		uint32_t cell = (uint32_t)tly_rng_uniform(&pick, spec.d);
		uint64_t delta = 1 + tly_rng_uniform(&pick, TLY_FIELD_P - 1);
		fed_begin(&f, 2);
		cr_assert_eq(run_equivocal(&f, inputs, liar, target, cell, delta), TLY_OK,
		             "round %d", round);
		expect_inconsistent(&f);
		fed_end(&f);
		free(inputs);
		fed_fini(&f);
	}
	tly_rng_fini(&pick);
}

/* ---- the two-set attack (issue 10): one contributor set per query ---- */

/*
 * The coordinator relays every share honestly, then announces S = {1..n}
 * to the honest members whose bit is set in `shown_full` and S' = S \ {n}
 * to the others; the corrupt members (bits of `corrupt`) are each run as
 * two instances with the agreement off, one per set, so they return
 * share-sums for both, and they vote for both sets. With the agreement on,
 * the coordinator then sends every honest voter the best certificate it
 * can make for its set: first one padded with the other set's honest
 * votes, then one with exactly the votes for that set. What the coalition
 * ends up holding is counted per set.
 */
struct two_sets {
	unsigned sums[2];                     /* share-sums per set (0: S, 1: S') */
	uint64_t xs[2][TLY_MAX_COMMITTEE];    /* their Shamir indices */
	uint64_t *rows[2][TLY_MAX_COMMITTEE]; /* and values */
	unsigned honest_sums;                 /* share-sums from honest members */
	unsigned refusals;                    /* honest refusals of a cert or set */
};

static void
set_of(const struct fed *f, int which, struct tly_idlist *set)
{
	set->count = f->spec.n - (uint32_t)which;
	set->ids = f->q.participants.ids;
}

/* A message from the coordinator, signed with its key. */
static void
rogue_message(struct fed *f, enum tly_msg_type type, uint32_t to, const struct tly_buf *body,
              struct tly_buf *msg)
{
	struct tly_msg_header header = {
	    .type = type, .sender = TLY_PARTY_COORDINATOR, .recipient = to};

	memcpy(header.query_id, f->qid, TLY_QUERY_ID_BYTES);
	tly_buf_init(msg);
	cr_assert_eq(tly_msg_seal(msg, &header, body->data, body->len, f->coord.sign), TLY_OK);
}

/* Member `id`'s vote for `set` (attempt 0): the signature of its SET_SIGN. */
static void
vote_of(struct fed *f, uint32_t id, const struct tly_idlist *set,
        uint8_t signature[static TLY_SIGNATURE_BYTES])
{
	struct tly_msg_header header = {
	    .type = TLY_MSG_SET_SIGN, .sender = id, .recipient = TLY_PARTY_COORDINATOR};
	uint8_t hash[TLY_HASH_BYTES];
	struct tly_buf body, msg;

	memcpy(header.query_id, f->qid, TLY_QUERY_ID_BYTES);
	tly_idlist_hash(hash, f->qid, set);
	tly_buf_init(&body);
	tly_buf_init(&msg);
	cr_assert_eq(tly_set_sign_encode(&body, 0, hash), TLY_OK);
	cr_assert_eq(tly_msg_seal(&msg, &header, body.data, body.len, f->party[id - 1].sign),
	             TLY_OK);
	memcpy(signature, msg.data + msg.len - TLY_SIGNATURE_BYTES, TLY_SIGNATURE_BYTES);
	tly_buf_fini(&body);
	tly_buf_fini(&msg);
}

/* Keep a SHARE_SUM the coalition now holds; count SET_SIGNs of honest
 * members into voted[which]. */
static void
collect(struct fed *f, struct tly_outbox *box, uint32_t j, int honest, struct two_sets *out)
{
	for (size_t i = 0; i < box->count; i++) {
		struct tly_msg m;
		uint8_t hash[TLY_HASH_BYTES], want[TLY_HASH_BYTES];
		uint32_t attempt;
		cr_assert_eq(tly_msg_open(box->items[i].data, box->items[i].len, &f->roster, &m),
		             TLY_OK);
		if (m.header.type != TLY_MSG_SHARE_SUM)
			continue;
		uint64_t *sum = calloc(f->spec.d, sizeof *sum);
		cr_assert_not_null(sum);
		cr_assert_eq(
		    tly_share_sum_decode(&attempt, hash, sum, f->spec.d, m.body, m.body_len),
		    TLY_OK);
		struct tly_idlist full;
		set_of(f, 0, &full);
		tly_idlist_hash(want, f->qid, &full);
		int which = memcmp(hash, want, TLY_HASH_BYTES) == 0 ? 0 : 1;
		out->xs[which][out->sums[which]] = j + 1;
		out->rows[which][out->sums[which]++] = sum;
		out->honest_sums += (unsigned)honest;
	}
	tly_outbox_clear(box);
}

/* One certificate for set `which` to honest member position j: the votes
 * of every member in `voters` (bit per position) for `vote_set[pos]`. */
static tly_err
send_cert(struct fed *f, uint32_t j, int which, unsigned voters, const int *vote_set,
          struct tly_outbox *box)
{
	struct tly_signature_entry entries[TLY_MAX_COMMITTEE];
	struct tly_set_cert cert = {.attempt = 0};
	struct tly_buf body, msg;

	set_of(f, which, &cert.set);
	cert.votes.entries = entries;
	for (uint32_t p = 0; p < f->spec.k; p++) {
		if (!(voters >> p & 1))
			continue;
		struct tly_idlist voted;
		set_of(f, vote_set[p], &voted);
		entries[cert.votes.count].id = f->q.committee.ids[p];
		vote_of(f, f->q.committee.ids[p], &voted, entries[cert.votes.count++].signature);
	}
	tly_buf_init(&body);
	cr_assert_eq(tly_set_cert_encode(&body, &cert), TLY_OK);
	rogue_message(f, TLY_MSG_SET_CERT, f->q.committee.ids[j], &body, &msg);
	tly_err rv = tly_committee_member_receive(f->member[j], msg.data, msg.len, box);
	tly_buf_fini(&msg);
	tly_buf_fini(&body);
	return rv;
}

static void
two_set_attack(struct fed *f, unsigned corrupt, unsigned shown_full, int agreement,
               const int64_t *inputs, struct two_sets *out)
{
	struct tly_committee_member *twin[TLY_MAX_COMMITTEE] = {0};
	struct tly_outbox box;
	uint32_t k = f->spec.k;
	int vote_set[TLY_MAX_COMMITTEE];

	memset(out, 0, sizeof *out);
	tly_outbox_init(&box);
	fed_begin(f, 77);
	for (uint32_t j = 0; j < k; j++) {
		int bad = corrupt >> j & 1;
		if (bad) {
			cr_assert_eq(member_alloc(&twin[j], &f->party[f->q.committee.ids[j] - 1],
			                          &f->roster, f->query_msg, f->query_len),
			             TLY_OK);
			tly_committee_member_skip_agreement(twin[j]);
		}
		if (bad || !agreement)
			tly_committee_member_skip_agreement(f->member[j]);
		vote_set[j] = bad ? 0 : !(shown_full >> j & 1);
	}
	/* Round 1, relayed faithfully (to both instances of a corrupt member). */
	for (uint32_t i = 0; i < f->spec.n; i++) {
		node_shares(f, i, inputs + (size_t)i * f->spec.d, &box);
		for (size_t s = 0; s < box.count; s++) {
			struct tly_msg m;
			cr_assert_eq(tly_msg_peek(box.items[s].data, box.items[s].len, &m), TLY_OK);
			long j = member_pos(f, m.header.recipient);
			struct tly_outbox none;
			tly_outbox_init(&none);
			cr_assert_eq(tly_committee_member_receive(f->member[j], box.items[s].data,
			                                          box.items[s].len, &none),
			             TLY_OK);
			if (twin[j] != NULL)
				cr_assert_eq(tly_committee_member_receive(twin[j],
				                                          box.items[s].data,
				                                          box.items[s].len, &none),
				             TLY_OK);
			cr_assert_eq(none.count, 0);
			tly_outbox_fini(&none);
		}
		tly_outbox_clear(&box);
	}
	/* Round 2: two different sets. */
	for (uint32_t j = 0; j < k; j++) {
		for (int which = 0; which < 2; which++) {
			int bad = corrupt >> j & 1;
			struct tly_committee_member *to = which == 0 ? f->member[j] : twin[j];
			if (!bad && which != vote_set[j])
				continue;
			if (!bad)
				to = f->member[j];
			struct tly_idlist set;
			struct tly_buf body, msg;
			set_of(f, which, &set);
			tly_buf_init(&body);
			cr_assert_eq(tly_attempt_list_encode(&body, 0, &set), TLY_OK);
			rogue_message(f, TLY_MSG_ANNOUNCE, f->q.committee.ids[j], &body, &msg);
			cr_assert_eq(tly_committee_member_receive(to, msg.data, msg.len, &box),
			             TLY_OK);
			collect(f, &box, j, !bad, out);
			tly_buf_fini(&msg);
			tly_buf_fini(&body);
		}
	}
	/* Round 3: the best certificates the coalition can make. */
	unsigned everyone = (1u << k) - 1;
	for (uint32_t j = 0; agreement && j < k; j++) {
		if (corrupt >> j & 1)
			continue;
		int which = vote_set[j];
		unsigned same = 0;
		for (uint32_t p = 0; p < k; p++)
			same |= (unsigned)(vote_set[p] == which || (corrupt >> p & 1)) << p;
		/* Padded with the other set's honest votes: refused (a vote over
		 * another set), unless every member voted this set anyway. */
		if (same != everyone) {
			cr_assert_neq(send_cert(f, j, which, everyone, vote_set, &box), TLY_OK);
			cr_assert_eq(box.count, 0);
			out->refusals++;
		}
		tly_err rv = send_cert(f, j, which, same, vote_set, &box);
		if (rv != TLY_OK)
			out->refusals++;
		collect(f, &box, j, 1, out);
	}
	for (uint32_t j = 0; j < k; j++)
		tly_committee_member_free(twin[j]);
	tly_outbox_fini(&box);
	fed_end(f);
}

static void
two_sets_fini(struct two_sets *a)
{
	for (int w = 0; w < 2; w++)
		for (unsigned i = 0; i < a->sums[w]; i++)
			free(a->rows[w][i]);
}

/* The total of set `which` from the coalition's first t share-sums. */
static void
reconstruct_set(const struct fed *f, struct two_sets *a, int which, int64_t *cells)
{
	uint64_t *total = calloc(f->spec.d, sizeof *total);
	cr_assert_not_null(total);
	cr_assert_geq(a->sums[which], f->spec.t);
	cr_assert_eq(tly_shamir_reconstruct(a->xs[which], (const uint64_t *const *)a->rows[which],
	                                    f->spec.t, f->spec.t, f->spec.d, total),
	             TLY_OK);
	cr_assert_eq(tly_field_vec_decode_signed(cells, total, f->spec.d, NULL), TLY_OK);
	free(total);
}

/* The issue's parameters: n = 5, committee {1, 2, 3}, k = 3, t = 2, h = 2,
 * discrete Laplace at epsilon = 1. */
static const struct spec issue_spec = {.n = 5,
                                       .k = 3,
                                       .t = 2,
                                       .d = 2000,
                                       .min_honest = 2,
                                       .min_contributors = 4,
                                       .mechanism = TLY_MECH_LAPLACE,
                                       .privacy_num = 1,
                                       .privacy_den = 1};

/* Negative control: with the agreement switched off in the harness (the
 * protocol before it), the attack recovers trust 5's cells up to its own
 * noise share, exactly for most cells. This is what the test below
 * catches. */
Test(committee, two_set_attack_without_agreement_recovers_trust_5)
{
	struct fed f;
	struct two_sets a;

	fed_init(&f, &issue_spec, 90);
	int64_t *inputs = random_inputs(&f.rng, issue_spec.n, issue_spec.d, 50);
	/* Member 3 colludes; member 1 is shown S, member 2 S \ {5}. */
	two_set_attack(&f, 0x4, 0x1, 0, inputs, &a);
	cr_assert_eq(a.sums[0], 2);
	cr_assert_eq(a.sums[1], 2);
	int64_t *with = calloc(issue_spec.d, sizeof *with),
	        *without = calloc(issue_spec.d, sizeof *without);
	cr_assert(with != NULL && without != NULL);
	reconstruct_set(&f, &a, 0, with);
	reconstruct_set(&f, &a, 1, without);
	uint32_t exact = 0;
	for (uint32_t c = 0; c < issue_spec.d; c++)
		exact += with[c] - without[c] == inputs[(size_t)4 * issue_spec.d + c];
	/* Only trust 5's own share NB(1/2) - NB(1/2) is left: P(0) = 2/3
	 * (the issue measured 65.5%); far above chance for values in
	 * [-50, 50]. */
	cr_assert_gt(exact, issue_spec.d / 2, "exact %u of %u", exact, issue_spec.d);
	free(with);
	free(without);
	two_sets_fini(&a);
	free(inputs);
	fed_fini(&f);
}

/* The same attack with the agreement (q = 3 for k = 3, t = 2): no honest
 * member sums anything, the coalition holds one share-sum (the corrupt
 * member's) per set, fewer than t, so neither set is reconstructable. */
Test(committee, two_set_attack_fails_with_agreement)
{
	struct fed f;
	struct two_sets a;

	fed_init(&f, &issue_spec, 91);
	cr_assert_eq(f.q.quorum, 3);
	int64_t *inputs = random_inputs(&f.rng, issue_spec.n, issue_spec.d, 50);
	two_set_attack(&f, 0x4, 0x1, 1, inputs, &a);
	cr_assert_eq(a.honest_sums, 0, "an honest member released a share-sum");
	cr_assert_eq(a.refusals, 4, "both honest members refuse both certificates");
	cr_assert_lt(a.sums[0], issue_spec.t);
	cr_assert_lt(a.sums[1], issue_spec.t);
	two_sets_fini(&a);
	free(inputs);
	fed_fini(&f);
}

/* Every split of the honest members between S and S', for the defaults
 * (4, 2, 3) with c = t - 1 = 1 corrupt member and for (5, 3, 4) with
 * c = 2: at most one set ever gathers t share-sums (and some split does
 * gather them: the honest path still works under attack). */
Test(committee, two_set_attack_fails_for_every_split)
{
	static const struct {
		uint32_t k, t;
		unsigned corrupt;
	} cases[] = {{4, 2, 0x8}, {4, 2, 0x1}, {5, 3, 0x18}, {5, 3, 0x5}};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct spec spec = issue_spec;
		struct fed f;
		spec.k = cases[i].k;
		spec.t = cases[i].t;
		spec.d = 50;
		fed_init(&f, &spec, 92 + i);
		int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 50);
		unsigned released = 0;
		for (unsigned shown = 0; shown < 1u << spec.k; shown++) {
			if (shown & cases[i].corrupt)
				continue;
			struct two_sets a;
			two_set_attack(&f, cases[i].corrupt, shown, 1, inputs, &a);
			int got = (a.sums[0] >= spec.t) + (a.sums[1] >= spec.t);
			cr_assert_leq(got, 1, "k %u corrupt %x shown %x: both sets", spec.k,
			              cases[i].corrupt, shown);
			released += (unsigned)got;
			two_sets_fini(&a);
		}
		cr_assert_gt(released, 0);
		free(inputs);
		fed_fini(&f);
	}
}

/* A SET_CERT to `to` for set `which` with votes by ids[i] for set
 * vote_sets[i]; `flip`: change one bit of the first vote. */
static tly_err
deliver_cert(struct fed *f, uint32_t j, int which, const uint32_t *ids, const int *vote_sets,
             uint32_t count, int flip, struct tly_outbox *box)
{
	struct tly_signature_entry entries[TLY_MAX_COMMITTEE];
	struct tly_set_cert cert = {.attempt = 0};
	struct tly_buf body, msg;

	set_of(f, which, &cert.set);
	cert.votes.entries = entries;
	cert.votes.count = count;
	for (uint32_t i = 0; i < count; i++) {
		struct tly_idlist voted;
		set_of(f, vote_sets[i], &voted);
		entries[i].id = ids[i];
		vote_of(f, ids[i], &voted, entries[i].signature);
	}
	entries[0].signature[5] ^= (uint8_t)(flip ? 0x10 : 0);
	tly_buf_init(&body);
	cr_assert_eq(tly_set_cert_encode(&body, &cert), TLY_OK);
	rogue_message(f, TLY_MSG_SET_CERT, f->q.committee.ids[j], &body, &msg);
	tly_err rv = tly_committee_member_receive(f->member[j], msg.data, msg.len, box);
	tly_buf_fini(&msg);
	tly_buf_fini(&body);
	return rv;
}

static tly_err
deliver_announce(struct fed *f, uint32_t j, int which, struct tly_outbox *box)
{
	struct tly_idlist set;
	struct tly_buf body, msg;

	set_of(f, which, &set);
	tly_buf_init(&body);
	cr_assert_eq(tly_attempt_list_encode(&body, 0, &set), TLY_OK);
	rogue_message(f, TLY_MSG_ANNOUNCE, f->q.committee.ids[j], &body, &msg);
	tly_err rv = tly_committee_member_receive(f->member[j], msg.data, msg.len, box);
	tly_buf_fini(&msg);
	tly_buf_fini(&body);
	return rv;
}

/* What a member checks in a certificate before it sums: each rule broken
 * alone is refused with nothing sent; a good one gets the one share-sum. */
Test(committee, certificate_rules)
{
	struct spec spec = {.n = 5, .k = 4, .t = 2, .d = 3};
	struct tly_outbox box;
	struct fed f;

	fed_init(&f, &spec, 95);
	cr_assert_eq(f.q.quorum, 3);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	tly_outbox_init(&box);
	fed_begin(&f, 95);
	for (uint32_t i = 0; i < spec.n; i++) {
		node_shares(&f, i, inputs + (size_t)i * spec.d, &box);
		for (size_t s = 0; s < box.count; s++) {
			struct tly_msg m;
			struct tly_outbox none;
			tly_outbox_init(&none);
			cr_assert_eq(tly_msg_peek(box.items[s].data, box.items[s].len, &m), TLY_OK);
			cr_assert_eq(tly_committee_member_receive(
			                 f.member[member_pos(&f, m.header.recipient)],
			                 box.items[s].data, box.items[s].len, &none),
			             TLY_OK);
			tly_outbox_fini(&none);
		}
		tly_outbox_clear(&box);
	}
	/* Before it voted, a member takes no certificate. */
	uint32_t good[3] = {1, 2, 3};
	int full[4] = {0, 0, 0, 0};
	cr_assert_eq(deliver_cert(&f, 0, 0, good, full, 3, 0, &box), TLY_ESTATE);
	/* It votes once: the same set again is a replay, another set refused. */
	cr_assert_eq(deliver_announce(&f, 0, 0, &box), TLY_OK);
	cr_assert_eq(box.count, 1);
	cr_assert_eq(type_of(box.items[0].data, box.items[0].len), TLY_MSG_SET_SIGN);
	tly_outbox_clear(&box);
	cr_assert_eq(deliver_announce(&f, 0, 0, &box), TLY_EREPLAY);
	cr_assert_eq(deliver_announce(&f, 0, 1, &box), TLY_EPEER);
	cr_assert_eq(box.count, 0);

	/* A certificate for a set it did not vote for. */
	cr_assert_eq(deliver_cert(&f, 0, 1, good, (int[]){1, 1, 1}, 3, 0, &box), TLY_EPEER);
	/* Fewer than q votes. */
	cr_assert_eq(deliver_cert(&f, 0, 0, good, full, 2, 0, &box), TLY_ETOOFEW);
	/* A vote by a participant outside the committee (node 5 signs too). */
	cr_assert_eq(deliver_cert(&f, 0, 0, (uint32_t[]){1, 2, 5}, full, 3, 0, &box), TLY_EPEER);
	/* Member 2's vote over another set, relabelled. */
	cr_assert_eq(deliver_cert(&f, 0, 0, good, (int[]){0, 1, 0}, 3, 0, &box), TLY_EAUTH);
	/* A forged vote. */
	cr_assert_eq(deliver_cert(&f, 0, 0, good, full, 3, 1, &box), TLY_EAUTH);
	cr_assert_eq(box.count, 0, "nothing sent on a refused certificate");

	/* q good votes: the one share-sum, then nothing more. */
	cr_assert_eq(deliver_cert(&f, 0, 0, (uint32_t[]){2, 3, 4}, full, 3, 0, &box), TLY_OK);
	cr_assert_eq(box.count, 1);
	cr_assert_eq(type_of(box.items[0].data, box.items[0].len), TLY_MSG_SHARE_SUM);
	tly_outbox_clear(&box);
	cr_assert_eq(deliver_cert(&f, 0, 0, good, full, 3, 0, &box), TLY_ESTATE);
	cr_assert_eq(deliver_announce(&f, 0, 1, &box), TLY_ESTATE);
	cr_assert_eq(box.count, 0);
	tly_outbox_fini(&box);
	fed_end(&f);
	free(inputs);
	fed_fini(&f);
}

/* Member `*arg` (committee index) votes for another set than the one
 * announced: the coordinator marks it faulty and carries on. */
static int
vote_for_other_set(struct fed *f, struct flight *fl)
{
	const uint32_t *liar = f->arg;
	struct tly_msg m;

	if (fl->to != TLY_PARTY_COORDINATOR || tly_msg_peek(fl->data, fl->len, &m) != TLY_OK ||
	    m.header.type != TLY_MSG_SET_SIGN || m.header.sender != f->q.committee.ids[*liar])
		return 1;
	struct tly_idlist other = {.count = 1, .ids = f->q.participants.ids};
	uint8_t hash[TLY_HASH_BYTES];
	struct tly_buf body, msg;
	tly_idlist_hash(hash, f->qid, &other);
	tly_buf_init(&body);
	tly_buf_init(&msg);
	cr_assert_eq(tly_set_sign_encode(&body, 0, hash), TLY_OK);
	cr_assert_eq(
	    tly_msg_seal(&msg, &m.header, body.data, body.len, f->party[m.header.sender - 1].sign),
	    TLY_OK);
	free(fl->data);
	fl->data = tly_buf_take(&msg, &fl->len);
	tly_buf_fini(&body);
	return 1;
}

Test(committee, coordinator_refuses_votes_for_other_sets)
{
	struct spec spec = {.n = 5, .k = 4, .t = 2, .d = 3};
	struct tly_committee_result r;
	struct fed f;
	uint32_t liar = 1;

	fed_init(&f, &spec, 96);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	fed_begin(&f, 96);
	f.tamper = vote_for_other_set;
	f.arg = &liar;
	cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
	cr_assert_eq(count_rejects(&f, TLY_MSG_SET_SIGN, TLY_EPEER), 1);
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, NULL);
	cr_assert_eq(r.faulty.count, 1);
	cr_assert_eq(r.faulty.ids[0], 2);
	tly_committee_result_fini(&r);
	free(inputs);
	fed_fini(&f);
}

/* ---- seeded shares (issue 14 section 4) ---- */

struct form_count {
	uint32_t seeded[TLY_MAX_COMMITTEE], whole[TLY_MAX_COMMITTEE];
};

/* The coordinator's inbox: the form of every SHARE, per member position. */
static void
spy_forms(struct fed *f, const uint8_t *msg, size_t len)
{
	struct form_count *count = f->arg;
	struct tly_msg m;

	if (tly_msg_peek(msg, len, &m) != TLY_OK || m.header.type != TLY_MSG_SHARE)
		return;
	long j = member_pos(f, m.header.recipient);
	cr_assert_geq(j, 0);
	if (m.body_len == TLY_SHARE_SEEDED_BODY_BYTES)
		count->seeded[j]++;
	else if (m.body_len == (size_t)f->spec.d * 8 + TLY_AEAD_TAG_BYTES)
		count->whole[j]++;
}

/* One query of `spec` with every node sending, seeded or whole; the
 * released cells into *cells (d, the caller frees). */
static void
run_forms(const struct spec *spec, uint64_t seed, int whole, const int64_t *inputs, int64_t **cells)
{
	struct form_count count = {0};
	struct tly_committee_result r;
	struct fed f;

	fed_init(&f, spec, seed);
	f.opts.whole_shares = whole;
	fed_begin(&f, seed);
	f.spy = spy_forms;
	f.arg = &count;
	cr_assert_eq(run(&f, inputs, NULL), TLY_OK);
	cr_assert_eq(f.reject_count, 0, "first rejection: %s",
	             f.reject_count ? tly_strerror(f.rejects[0].rv) : "");
	get_result(&f, &r);
	expect_exact(&f, inputs, &r, NULL);
	/* Every node: member j < t - 1 got a seed, the others the elements. */
	for (uint32_t j = 0; j < spec->k; j++) {
		int is_seeded = !whole && j + 1 < spec->t;
		cr_assert_eq(count.seeded[j], is_seeded ? spec->n : 0, "member %u", j);
		cr_assert_eq(count.whole[j], is_seeded ? 0 : spec->n, "member %u", j);
	}
	*cells = r.cells;
	r.cells = NULL;
	tly_committee_result_fini(&r);
	fed_fini(&f);
}

/* Property: for random (n, k, t, d), seeded and whole sharing release the
 * same exact totals from the same inputs. */
Test(committee_seeded, seeded_and_whole_release_the_same_totals)
{
	struct tly_rng rng;

	tly_rng_init_seeded_u64(&rng, 200);
	for (int round = 0; round < 24; round++) {
		uint32_t k = 1 + (uint32_t)tly_rng_uniform(&rng, 9);
		struct spec spec = {
		    .n = 2 + (uint32_t)tly_rng_uniform(&rng, 4),
		    .k = k,
		    .t = 1 + (uint32_t)tly_rng_uniform(&rng, k),
		    .d = 1 + (uint32_t)tly_rng_uniform(&rng, round < 12 ? 5 : 300),
		    .aggregators = 1,
		};
		int64_t *inputs = random_inputs(&rng, spec.n, spec.d, INT64_C(1) << 40);
		int64_t *seeded, *whole;
		run_forms(&spec, 300 + (uint64_t)round, 0, inputs, &seeded);
		run_forms(&spec, 300 + (uint64_t)round, 1, inputs, &whole);
		cr_assert_arr_eq(seeded, whole, spec.d * sizeof *seeded, "n %u k %u t %u d %u",
		                 spec.n, spec.k, spec.t, spec.d);
		free(seeded);
		free(whole);
		free(inputs);
	}
	tly_rng_fini(&rng);
}

/* Node 1's k shares of `cells`, opened as each member would, from the rng
 * reseeded to `seed`: shares[j] for committee[j]. */
static void
shares_under(struct fed *f, uint64_t seed, const int64_t *cells, uint64_t **shares)
{
	struct tly_outbox box;

	tly_rng_fini(&f->rng);
	tly_rng_init_seeded_u64(&f->rng, seed);
	tly_outbox_init(&box);
	node_shares(f, 0, cells, &box);
	for (uint32_t j = 0; j < f->spec.k; j++)
		(void)open_share_as(f, &f->party[f->q.committee.ids[j] - 1], 0, box.items[j].data,
		                    box.items[j].len, shares[j]);
	tly_outbox_fini(&box);
}

/* Whether node 1's share for member j is the same for secrets a and b
 * under the same rng draws. */
static int
same_share(struct fed *f, const int64_t *a, const int64_t *b, uint32_t j)
{
	size_t bytes = (size_t)f->spec.d * sizeof(uint64_t);
	uint64_t *sa[TLY_MAX_COMMITTEE], *sb[TLY_MAX_COMMITTEE];
	int same;

	for (uint32_t m = 0; m < f->spec.k; m++) {
		sa[m] = malloc(bytes);
		sb[m] = malloc(bytes);
		cr_assert(sa[m] != NULL && sb[m] != NULL);
	}
	shares_under(f, 77, a, sa);
	shares_under(f, 77, b, sb);
	same = memcmp(sa[j], sb[j], bytes) == 0;
	for (uint32_t m = 0; m < f->spec.k; m++) {
		free(sa[m]);
		free(sb[m]);
	}
	return same;
}

/* The t - 1 seeded shares are drawn before and apart from the secret: two
 * different secrets under the same rng draws get the very same seeded
 * shares, while every whole share differs. */
Test(committee_seeded, seeded_shares_do_not_depend_on_the_secret)
{
	struct spec spec = {.n = 2, .k = 5, .t = 3, .d = 6, .aggregators = 1};
	int64_t a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {-9, 0, 700, 4, 5, 1 << 20};
	struct fed f;

	fed_init(&f, &spec, 210);
	fed_begin(&f, 210);
	for (uint32_t j = 0; j < spec.k; j++)
		cr_assert_eq(same_share(&f, a, b, j), j + 1 < spec.t, "member %u", j);
	/* Negative control: whole Shamir sharing, where f(1) = s + a_1 moves
	 * with the secret under the same draws, fails the same comparison. */
	f.opts.whole_shares = 1;
	for (uint32_t j = 0; j + 1 < spec.t; j++)
		cr_assert(!same_share(&f, a, b, j), "member %u", j);
	fed_fini(&f);
}

/* Any t of the k shares, seeded or whole, reconstruct the secret: the
 * interpolated shares lie on the polynomial the seeds fix. */
Test(committee_seeded, any_t_shares_reconstruct_the_input)
{
	struct spec spec = {.n = 2, .k = 6, .t = 4, .d = 7, .aggregators = 1};
	int64_t cells[7] = {0, 1, -1, 99, 123456789, -(INT64_C(1) << 50), 42};
	uint64_t *shares[6], want[7], got[7];
	struct fed f;

	fed_init(&f, &spec, 220);
	fed_begin(&f, 220);
	for (uint32_t j = 0; j < spec.k; j++)
		cr_assert_not_null(shares[j] = malloc(spec.d * sizeof(uint64_t)));
	shares_under(&f, 5, cells, shares);
	cr_assert_eq(tly_field_vec_encode_signed(want, cells, spec.d, NULL), TLY_OK);
	/* Every t-subset of the k members (bit masks with t bits). */
	for (uint32_t mask = 0; mask < (1u << spec.k); mask++) {
		const uint64_t *rows[6];
		uint64_t xs[6];
		size_t count = 0;
		if ((uint32_t)__builtin_popcount(mask) != spec.t)
			continue;
		for (uint32_t j = 0; j < spec.k; j++)
			if (mask & (1u << j)) {
				xs[count] = j + 1;
				rows[count++] = shares[j];
			}
		cr_assert_eq(tly_shamir_reconstruct(xs, rows, count, spec.t, spec.d, got), TLY_OK);
		cr_assert_arr_eq(got, want, sizeof want, "members %#x", mask);
	}
	for (uint32_t j = 0; j < spec.k; j++)
		free(shares[j]);
	fed_fini(&f);
}

enum seed_tamper {
	SEED_RESEALED = 0, /* the same seed, sealed and signed again: a control */
	SEED_CHANGED,      /* another seed, sealed and signed: a lying node */
	SEED_GARBLED,      /* the ciphertext flipped, signed again: no envelope */
};

struct seed_attack {
	uint32_t liar; /* node index */
	enum seed_tamper how;
};

/* Node `liar` replaces its seeded SHARE to committee[0] as `how` says. */
static int
tamper_seed(struct fed *f, struct flight *fl)
{
	const struct seed_attack *attack = f->arg;
	const struct tly_identity *node = &f->party[attack->liar];
	const struct tly_identity *member = &f->party[f->q.committee.ids[0] - 1];
	uint8_t seed[TLY_SHARE_SEED_BYTES];
	struct tly_buf body, msg;
	struct tly_msg m;

	/* On its way to the coordinator, once: not again when relayed. */
	if (fl->to != TLY_PARTY_COORDINATOR || tly_msg_peek(fl->data, fl->len, &m) != TLY_OK ||
	    m.header.type != TLY_MSG_SHARE || m.header.sender != node->id ||
	    m.header.recipient != member->id)
		return 1;
	cr_assert_eq(m.body_len, TLY_SHARE_SEEDED_BODY_BYTES);
	cr_assert_eq(tly_envelope_open(seed, member->kx_sk, member->kx_pk, node->kx_pk,
	                               m.raw_header, m.body + 1, m.body_len - 1),
	             TLY_OK);
	seed[0] ^= (uint8_t)(attack->how == SEED_CHANGED);
	tly_buf_init(&body);
	tly_buf_init(&msg);
	tly_buf_put_u8(&body, TLY_SHARE_SEEDED);
	cr_assert_eq(tly_envelope_seal(&body, node->kx_sk, node->kx_pk, member->kx_pk, m.raw_header,
	                               seed, sizeof seed),
	             TLY_OK);
	body.data[5] ^= (uint8_t)(attack->how == SEED_GARBLED);
	cr_assert_eq(tly_msg_seal(&msg, &m.header, body.data, body.len, node->sign), TLY_OK);
	free(fl->data);
	fl->data = tly_buf_take(&msg, &fl->len);
	tly_buf_fini(&body);
	return 1;
}

/* A tampered seed: flipped in transit, the signature refuses it; garbled
 * and signed again by its node, the envelope does (member 1 cannot open
 * it and complains; the q = 4 other members vote, and hold sound shares of
 * the node, so its input is counted exactly); another valid seed (the node
 * equivocates) breaks the share-sum consistency check and the query is
 * aborted. The same seed sealed again is the control: the query completes. */
Test(committee_seeded, tampered_seed_is_detected)
{
	struct spec spec = {.n = 4, .k = 5, .t = 3, .d = 5, .aggregators = 1};
	struct seed_attack attack = {.liar = 2};
	struct tly_committee_result r;
	struct tly_outbox box, sink;
	struct fed f;

	fed_init(&f, &spec, 230);
	int64_t *inputs = random_inputs(&f.rng, spec.n, spec.d, 1000);
	/* In transit: one flipped byte of the sealed seed. */
	fed_begin(&f, 230);
	tly_outbox_init(&box);
	tly_outbox_init(&sink);
	node_shares(&f, 0, inputs, &box);
	box.items[0].data[TLY_HEADER_BYTES + 1 + 3] ^= 0x10;
	cr_assert_eq(tly_committee_coord_receive(f.c, box.items[0].data, box.items[0].len, &sink),
	             TLY_EAUTH);
	cr_assert_eq(
	    tly_committee_member_receive(f.member[0], box.items[0].data, box.items[0].len, &sink),
	    TLY_EAUTH);
	cr_assert_eq(sink.count, 0);
	tly_outbox_fini(&box);
	tly_outbox_fini(&sink);
	fed_end(&f);

	f.tamper = tamper_seed;
	f.arg = &attack;
	for (int how = SEED_RESEALED; how <= SEED_GARBLED; how++) {
		attack.how = (enum seed_tamper)how;
		fed_begin(&f, 231 + (uint64_t)how);
		cr_assert_eq(run(&f, inputs, NULL), TLY_OK, "how %d", how);
		if (how == SEED_CHANGED) {
			expect_inconsistent(&f);
			cr_assert_eq(count_rejects(&f, TLY_MSG_SHARE_SUM, TLY_EAUTH), 1);
		} else {
			get_result(&f, &r);
			expect_exact(&f, inputs, &r, NULL);
			cr_assert_eq(count_rejects(&f, TLY_MSG_SHARE, TLY_EAUTH),
			             how == SEED_GARBLED ? 1u : 0u);
			tly_committee_result_fini(&r);
		}
		fed_end(&f);
	}
	free(inputs);
	fed_fini(&f);
}

/* A signed SHARE of a seeded share's length plus or minus one, or of the
 * right length with another form byte, is refused: the coordinator does
 * not relay it (TLY_EFORMAT); the member refuses the wrong lengths before
 * the signature, and a wrong form byte once the signature is checked
 * (TLY_EFORMAT), which spends that node's one share. */
Test(committee_seeded, seeded_lengths_and_form_byte_rejected)
{
	struct spec spec = {.n = 3, .k = 3, .t = 2, .d = 5};
	const uint8_t forms[3] = {0, TLY_SHARE_WHOLE, 3};
	struct tly_outbox sink, box;
	struct tly_buf msg;
	struct fed f;

	fed_init(&f, &spec, 240);
	fed_begin(&f, 240);
	tly_outbox_init(&sink);
	for (uint32_t i = 0; i < 3; i++) {
		uint8_t body[TLY_SHARE_SEEDED_BODY_BYTES + 1] = {TLY_SHARE_SEEDED};
		for (int delta = -1; delta <= 1; delta += 2) {
			size_t len = (size_t)(TLY_SHARE_SEEDED_BODY_BYTES + delta);
			signed_share(&f, i, f.q.committee.ids[0], body, len, &msg);
			cr_assert_eq(tly_committee_coord_receive(f.c, msg.data, msg.len, &sink),
			             TLY_EFORMAT, "node %u, length %zu", i, len);
			cr_assert_eq(
			    tly_committee_member_receive(f.member[0], msg.data, msg.len, &sink),
			    TLY_EFORMAT, "node %u, length %zu", i, len);
			tly_buf_fini(&msg);
		}
		body[0] = forms[i];
		signed_share(&f, i, f.q.committee.ids[0], body, TLY_SHARE_SEEDED_BODY_BYTES, &msg);
		cr_assert_eq(tly_committee_coord_receive(f.c, msg.data, msg.len, &sink),
		             TLY_EFORMAT, "form byte %u", forms[i]);
		cr_assert_eq(tly_committee_member_receive(f.member[0], msg.data, msg.len, &sink),
		             TLY_EFORMAT, "form byte %u", forms[i]);
		tly_buf_fini(&msg);
	}
	cr_assert_eq(sink.count, 0, "nothing relayed or answered");
	/* The wrong form byte spent node 1's share: its real one is a replay. */
	tly_outbox_init(&box);
	node_shares(&f, 0, (const int64_t[5]){1, 2, 3, 4, 5}, &box);
	cr_assert_eq(
	    tly_committee_member_receive(f.member[0], box.items[0].data, box.items[0].len, &sink),
	    TLY_EREPLAY);
	tly_outbox_fini(&box);
	tly_outbox_fini(&sink);
	fed_fini(&f);
}

/* Key separation: a seeded share is the PRG under purpose
 * "committee-seeded-share" and session query_id || sender || member, so
 * the same seed gives unrelated shares for another query, sender or
 * member, and the expansion is exactly that generator's output. */
Test(committee_seeded, seed_expansion_is_bound_to_query_sender_member)
{
	enum { D = 16 };
	uint8_t seed[TLY_SHARE_SEED_BYTES], qid[TLY_QUERY_ID_BYTES] = {1}, session[24];
	uint64_t base[D], other[D], direct[D];
	struct tly_prg *prg;

	memset(seed, 0x5a, sizeof seed);
	cr_assert_eq(tly_committee_seed_expand(seed, qid, 3, 7, base, D), TLY_OK);
	memcpy(session, qid, sizeof qid);
	tly_store_be32(session + 16, 3);
	tly_store_be32(session + 20, 7);
	struct tly_prg_context ctx = {.purpose = "committee-seeded-share",
	                              .session = session,
	                              .session_len = sizeof session,
	                              .length = D};
	cr_assert_eq(tly_prg_alloc(&prg, TLY_PRG_AES128CTR, seed, &ctx), TLY_OK);
	cr_assert_eq(tly_prg_field(prg, direct, D), TLY_OK);
	tly_prg_free(prg);
	cr_assert_arr_eq(base, direct, sizeof base);
	for (int change = 0; change < 4; change++) {
		uint8_t q2[TLY_QUERY_ID_BYTES] = {1};
		q2[15] = (uint8_t)(change == 0);
		seed[0] = (uint8_t)(0x5a ^ (change == 3));
		cr_assert_eq(tly_committee_seed_expand(seed, q2, change == 1 ? 4 : 3,
		                                       change == 2 ? 8 : 7, other, D),
		             TLY_OK);
		for (size_t c = 0; c < D; c++)
			cr_assert_neq(other[c], base[c], "change %d, cell %zu", change, c);
	}
}
