/*
 * bench_protocol - committee sharing, SecAgg and SecAgg+ end to end in one
 * process, beside the primitive work the same parameters cannot avoid,
 * measured in the same run.
 *
 * The protocol. This file plays every party: the coordinator, n nodes and
 * (committee) k aggregators, each a state machine of protocol/, with the
 * messages handed over in memory (no transport, no copies but the ones the
 * state machines make). Noise is off (TLY_MECH_NONE, allowed by the
 * test-only opts flags) so the protocol alone is measured; one run per
 * protocol at the target point adds discrete Laplace noise (epsilon = 1,
 * h = n / 2) for the record. Every run is checked: the total must be
 * exactly n times the common input vector (no dropouts).
 *
 * Times. query_cpu is the process CPU time of one whole query, from the
 * coordinator's first call to the decoded total; query_wall the same on the
 * wall clock. The machines are shared, so ratios use CPU seconds on both
 * sides. Per party, each state-machine call is timed on CLOCK_MONOTONIC (a
 * CPU-clock read costs ~3 us in these VMs) and the wall sums are scaled by
 * query_cpu / query_wall: node_round1_mean (committee: the mean over nodes
 * of tly_committee_node_answer), member_mean (the mean over members of all
 * their calls), client_mean (SecAgg: the mean over clients of all their
 * calls), coordinator (every coordinator call: relay, announce,
 * reconstruct, or the SecAgg server's rounds and unmasking). Below 0.25 s a
 * point is run three times and the median kept.
 *
 * The floor. Each primitive is timed here, per call at the exact size the
 * protocol uses (CPU time, median of 3 batches of >= 3 ms), just before and
 * just after the point's run (the floor is the mean of the two: the load on
 * these machines drifts), and multiplied by the counts below. Sizes: share
 * = 36 + 8d + 16 signed bytes, sum = 36 + 36 + 8d, masked = 36 + 8d, small
 * = 140 (a KEY_SHARE's signed bytes). A signature is timed as the code
 * makes and checks it (wire/codec.h tly_msg_digest): one SHA-256 of the
 * message's bytes, then Ed25519 over the 32-byte digest (which hashes
 * 32 bytes twice to sign, once to verify). Before issue 16 Ed25519 hashed
 * the whole message, which at d = 10^4 was most of the floor.
 *   committee, per node:   t - 1 seeded shares = (t - 1) prg_add(d), the
 *                          k - t + 1 others interpolated = (k - t + 1) t
 *                          axpy(d); (k - t + 1) (seal(8d) + sign(share));
 *                          (t - 1) (seal(32) + sign(seed = 36 + 49))
 *                          (with shares=whole: Shamir of d elements t-of-k
 *                          = k (t - 1) axpy(d) + rng_field((t - 1) d); k
 *                          seal(8d); k sign(share))
 *   per member (mean):     n (k - t + 1) / k (open(8d + 16) + verify(share))
 *                          + n (t - 1) / k (open(48) + verify(seed) +
 *                          prg_add(d)); n field_add(d); 1 sign(sum)
 *   coordinator:           n verify of each of the k shares on relay; t
 *                          verify(sum); reconstruct = t axpy(d)
 *   SecAgg(+), per client (deg = graph degree, t = threshold):
 *                          2 deg X25519 (mask key s_uv, envelope key c_uv:
 *                          one each per pair); (deg + 1) prg_add(d) (pair
 *                          masks and self mask); 2 Shamir of a 32-byte
 *                          secret t-of-deg; deg seal(88) + deg open(104)
 *                          (key shares); 1 sign(masked) + (deg + 3)
 *                          sign(small); (2 deg + t + 5) verify(small)
 *                          (forwarded keys, key shares, t consistency
 *                          signatures, 5 coordinator messages)
 *   server:                n verify(masked) + n (deg + 3) verify(small);
 *                          n field_add(d); n prg_add(d) (self masks off:
 *                          nobody drops); n Shamir rebuilds (t shares);
 *                          (2n + 3) sign(small)
 * Not counted, so they show as protocol overhead: the X25519 and HKDF in
 * every committee envelope (long-term keys: the agreement could be cached
 * per pair); in SecAgg the second X25519 per pair (the envelope is opened
 * under a key agreed again) and the low-order check of every peer key;
 * consistency signatures beyond t; query decoding; wire encoding and
 * decoding of vectors; message copies and wipes; allocation.
 *
 * Sweeps (d = 10^4 unless said): committee (k, t) = (3, 2) and (5, 3) over
 * n = 3..1000, and over d = 10..10^6 at n = 10; SecAgg (complete graph)
 * n = 3..100; SecAgg+ n = 10..1000 with (degree, t) from
 * tly_graph_params(n, sigma 40, eta 20, dropout 0.05, corrupt 0.05).
 * growth_exponent rows: the least-squares slope of log query_cpu against
 * log n over a sweep (growth_exponent_floor: of the floor), beside the
 * slope of the protocol's cost model over the same n (committee n, SecAgg
 * n (n - 1), SecAgg+ n deg(n)); the _top rows take the last step of the
 * sweep alone (n = 300 to 1000, or 30 to 100 for SecAgg), where a term that
 * grows faster than the model shows first.
 *
 * Extra points: the target (n = 100, d = 10^4) with noise on; then, after
 * tune_malloc(), committee at the target and at d = 10^6, and SecAgg+ at
 * the target again with glibc's heap kept (params malloc=tuned), to show
 * what page-faulting freshly trimmed heap costs the state machines.
 *
 * CSV on stdout (timing.h), params quoted since they hold commas; progress
 * on stderr. Several minutes of CPU: the scale sweep's n = 10^4 point alone
 * took 270 s of it here.
 * Scale (run_scale): SecAgg+ per client at d = 10^3, n = 100 .. 10^4, and
 * the slope of log per-client time against log n; `bench_protocol scale`
 * runs it alone.
 * `bench_protocol PROTOCOL N [D [REPEAT]]` runs one point (for profiling).
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/timing.h"
#include "crypto/aead.h"
#include "crypto/field.h"
#include "crypto/kx.h"
#include "crypto/prg.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "crypto/shamir.h"
#include "crypto/sign.h"
#include "wire/codec.h"
#include "protocol/committee.h"
#include "protocol/graph.h"
#include "protocol/secagg.h"

enum {
	MAX_NODES = 10000,
	KEYED_NODES = 1000, /* nodes with keys of their own (fed_init) */
	MAX_MEMBERS = 5,
	MEMBER_BASE = MAX_NODES, /* aggregator j has id MEMBER_BASE + 1 + j */
	POOL = MAX_NODES + MAX_MEMBERS,
	KEYED = KEYED_NODES + MAX_MEMBERS,
	MAX_D = 1000000,
	RNG_MAX = (MAX_MEMBERS - 1) * MAX_D, /* Shamir coefficients: (t - 1) d, t < k */
	SMALL_SIGNED = TLY_HEADER_BYTES + TLY_KEY_SHARE_CIPHER_BYTES,
	MAX_POINTS = 8,
	CACHE = 128,
	SEED = 20240601,
};

#define MIN_BATCH_SECONDS    0.003
#define REPEAT_BELOW_SECONDS 0.25
#define INPUT_BOUND          1000000

static void
die(const char *what, tly_err rv)
{
	fprintf(stderr, "bench_protocol: %s: %s\n", what, tly_strerror(rv));
	exit(1);
}

static void
check(tly_err rv, const char *what)
{
	if (rv != TLY_OK)
		die(what, rv);
}

static void *
xcalloc(size_t count, size_t size)
{
	void *p = calloc(count, size);

	if (p == NULL)
		die("calloc", TLY_ENOMEM);
	return p;
}

/* ---- primitives: CPU seconds per call, measured once per size ---- */

enum prim {
	PRIM_SIGN,           /* tly_msg_digest of a `size`-byte message + tly_sign(32) */
	PRIM_VERIFY,         /* tly_msg_verify of a `size`-byte message */
	PRIM_SEAL,           /* AES-256-GCM seal of `size` plaintext bytes */
	PRIM_OPEN,           /* ... open of `size` ciphertext bytes */
	PRIM_PRG_ADD,        /* tly_prg_alloc + tly_prg_field_add(size) + free */
	PRIM_FIELD_ADD,      /* tly_field_vec_add over `size` elements */
	PRIM_AXPY,           /* tly_field_vec_axpy over `size` elements */
	PRIM_RNG_FIELD,      /* tly_rng_field of `size` elements */
	PRIM_KX,             /* tly_kx_agree */
	PRIM_SECRET_SHARE,   /* tly_shamir_secret_share, t-of-size */
	PRIM_SECRET_REBUILD, /* tly_shamir_secret_reconstruct from t shares */
};

static const char *const prim_names[] = {
    "sign",       "verify",    "aead_seal",    "aead_open",    "prg_add",       "field_add",
    "field_axpy", "rng_field", "x25519_agree", "secret_share", "secret_rebuild"};

struct prim_call {
	enum prim kind;
	size_t size;
	unsigned t;
};

/* Scratch for the primitives, sized for the largest message. */
static struct {
	uint8_t *a, *b, *c, *msg;
	uint64_t *x, *y;
	struct tly_sign_key *key;
	uint8_t sign_pk[TLY_SIGN_PUBLIC_BYTES], sig[TLY_SIGN_BYTES];
	uint8_t kx_sk[TLY_KX_SECRET_BYTES], kx_pk[TLY_KX_PUBLIC_BYTES],
	    peer_pk[TLY_KX_PUBLIC_BYTES];
	uint8_t *secret_rows[TLY_SHAMIR_MAX_SHARES];
	uint64_t xs[TLY_SHAMIR_MAX_SHARES];
	struct tly_rng rng;
} lab;

static struct {
	struct prim_call call;
	double seconds;
} cache[CACHE];
static size_t cached;

static void
lab_init(void)
{
	lab.a = xcalloc(TLY_MAX_MESSAGE_BYTES, 1);
	lab.b = xcalloc(TLY_MAX_MESSAGE_BYTES, 1);
	lab.c = xcalloc(TLY_MAX_MESSAGE_BYTES, 1);
	lab.x = xcalloc(RNG_MAX, sizeof *lab.x);
	lab.y = xcalloc(MAX_D, sizeof *lab.y);
	tly_rng_init_seeded_u64(&lab.rng, SEED);
	tly_rng_field(&lab.rng, lab.y, MAX_D);
	tly_rng_bytes(&lab.rng, lab.b, TLY_MAX_MESSAGE_BYTES);
	lab.msg = xcalloc(TLY_MAX_MESSAGE_BYTES, 1);
	memcpy(lab.msg, lab.b, TLY_MAX_MESSAGE_BYTES);
	check(tly_sign_key_alloc(&lab.key, NULL), "sign key");
	tly_sign_key_public(lab.key, lab.sign_pk);
	tly_kx_keypair(lab.kx_pk, lab.kx_sk);
	uint8_t peer_sk[TLY_KX_SECRET_BYTES];
	tly_kx_keypair(lab.peer_pk, peer_sk);
	uint8_t *rows = xcalloc(TLY_SHAMIR_MAX_SHARES, TLY_SHAMIR_SECRET_SHARE_BYTES);
	for (size_t i = 0; i < TLY_SHAMIR_MAX_SHARES; i++) {
		lab.secret_rows[i] = rows + i * TLY_SHAMIR_SECRET_SHARE_BYTES;
		lab.xs[i] = i + 1;
	}
}

static void
lab_fini(void)
{
	free(lab.secret_rows[0]);
	tly_sign_key_free(lab.key);
	tly_rng_fini(&lab.rng);
	free(lab.a);
	free(lab.b);
	free(lab.c);
	free(lab.msg);
	free(lab.x);
	free(lab.y);
}

/* A message signature as tly_msg_seal makes it (wire/codec.h): the digest
 * of a `size`-byte message, header || body, then Ed25519 over its 32
 * bytes. lab.msg's header is set to the body's length first (a header
 * write; verifying checks it). */
static void
prim_sign(size_t size)
{
	struct tly_msg_header header = {.type = TLY_MSG_SHARE, .sender = 1};
	uint8_t digest[TLY_MSG_DIGEST_BYTES];

	tly_msg_raw_header(lab.msg, &header, (uint32_t)(size - TLY_HEADER_BYTES));
	check(tly_msg_digest(digest, lab.msg, lab.msg + TLY_HEADER_BYTES, size - TLY_HEADER_BYTES),
	      "digest");
	check(tly_sign(lab.sig, lab.key, digest, sizeof digest), "sign");
}

/* What a call needs ready: a signature to verify, a ciphertext to open,
 * shares to rebuild. */
static void
prim_prepare(const struct prim_call *p)
{
	static const uint8_t nonce[TLY_AEAD_NONCE_MAX];

	if (p->kind == PRIM_VERIFY)
		prim_sign(p->size);
	if (p->kind == PRIM_OPEN)
		check(tly_aead_seal(TLY_AEAD_AES256GCM, lab.a, lab.b, p->size - TLY_AEAD_TAG_BYTES,
		                    lab.c, TLY_HEADER_BYTES, nonce, lab.kx_sk),
		      "seal");
	if (p->kind == PRIM_SECRET_REBUILD)
		check(tly_shamir_secret_share(&lab.rng, lab.kx_sk, p->t, p->t, lab.secret_rows),
		      "secret share");
}

static void
prim_prg_add(size_t d)
{
	static const uint8_t session[TLY_QUERY_ID_BYTES + 4];
	struct tly_prg_context ctx = {
	    .purpose = "pairwise-mask",
	    .session = session,
	    .session_len = sizeof session,
	    .length = d,
	};
	struct tly_prg *prg;

	check(tly_prg_alloc(&prg, TLY_SECAGG_PRG, lab.kx_sk, &ctx), "prg");
	check(tly_prg_field_add(prg, lab.x, d), "prg add");
	tly_prg_free(prg);
}

static void
prim_run(const struct prim_call *p)
{
	static const uint8_t nonce[TLY_AEAD_NONCE_MAX];
	uint8_t out[TLY_SHAMIR_SECRET_BYTES];

	switch (p->kind) {
	case PRIM_SIGN:
		prim_sign(p->size);
		break;
	case PRIM_VERIFY:
		check(tly_msg_verify(lab.msg, lab.msg + TLY_HEADER_BYTES,
		                     p->size - TLY_HEADER_BYTES, lab.sig, lab.sign_pk),
		      "verify");
		break;
	case PRIM_SEAL:
		check(tly_aead_seal(TLY_AEAD_AES256GCM, lab.c, lab.b, p->size, lab.a,
		                    TLY_HEADER_BYTES, nonce, lab.kx_sk),
		      "seal");
		break;
	case PRIM_OPEN:
		check(tly_aead_open(TLY_AEAD_AES256GCM, lab.b, lab.a, p->size, lab.c,
		                    TLY_HEADER_BYTES, nonce, lab.kx_sk),
		      "open");
		break;
	case PRIM_PRG_ADD:
		prim_prg_add(p->size);
		break;
	case PRIM_FIELD_ADD:
		tly_field_vec_add(lab.x, lab.y, p->size);
		break;
	case PRIM_AXPY:
		tly_field_vec_axpy(lab.x, 3, lab.y, p->size);
		break;
	case PRIM_RNG_FIELD:
		tly_rng_field(&lab.rng, lab.x, p->size);
		break;
	case PRIM_KX:
		check(tly_kx_agree(out, lab.kx_sk, lab.kx_pk, lab.peer_pk, "bench"), "kx");
		break;
	case PRIM_SECRET_SHARE:
		check(tly_shamir_secret_share(&lab.rng, lab.kx_sk, p->t, (unsigned)p->size,
		                              lab.secret_rows),
		      "secret share");
		break;
	case PRIM_SECRET_REBUILD:
		check(tly_shamir_secret_reconstruct(lab.xs, (const uint8_t *const *)lab.secret_rows,
		                                    p->t, p->t, out),
		      "secret rebuild");
		break;
	}
	bench_consume(lab.x, sizeof *lab.x);
}

static double
batch(const struct prim_call *p, size_t calls)
{
	double start = bench_cpu();

	for (size_t i = 0; i < calls; i++)
		prim_run(p);
	return (bench_cpu() - start) / (double)calls;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* CPU seconds per call: the median of three batches of >= 3 ms. */
static double
prim_measure(const struct prim_call *p)
{
	double times[3];
	size_t calls = 1;

	prim_prepare(p);
	prim_run(p);
	while ((times[0] = batch(p, calls)) * (double)calls < MIN_BATCH_SECONDS)
		calls *= 2;
	times[1] = batch(p, calls);
	times[2] = batch(p, calls);
	qsort(times, 3, sizeof times[0], compare_double);
	return times[1];
}

static double
cost(enum prim kind, size_t size, unsigned t)
{
	struct prim_call p = {kind, size, t};

	for (size_t i = 0; i < cached; i++)
		if (cache[i].call.kind == kind && cache[i].call.size == size &&
		    cache[i].call.t == t)
			return cache[i].seconds;
	if (cached == CACHE)
		die("primitive cache full", TLY_ERANGE);
	cache[cached].call = p;
	cache[cached].seconds = prim_measure(&p);
	return cache[cached++].seconds;
}

/* ---- the parties ---- */

/*
 * Nodes 1..KEYED_NODES and the aggregators have keys of their own; node
 * KEYED_NODES + i uses node i's keys under its own id. Each key lives in
 * sodium_malloc memory (guard pages, locked), and 10^4 of them besides 10^4
 * clients' secrets would pass the kernel's cap on memory maps (65530). The
 * work is the same: every message is still signed and every signature
 * checked, under the sender's id.
 */
static struct {
	struct tly_identity coord;
	struct tly_identity keys[KEYED]; /* nodes 1..KEYED_NODES, then the aggregators */
	struct tly_identity party[POOL]; /* nodes 1..MAX_NODES, then the aggregators */
	struct tly_roster roster;
	int64_t *cells; /* every node's input: the total is n times it */
	struct tly_rng rng;
} fed;

static struct tly_identity *
party(uint32_t id)
{
	return &fed.party[id <= MAX_NODES ? id - 1 : MAX_NODES + (id - MEMBER_BASE - 1)];
}

static void
fed_init(void)
{
	struct tly_party *pub = xcalloc(POOL, sizeof *pub);
	uint8_t coord_pk[TLY_SIGN_PUBLIC_BYTES];

	tly_rng_init_seeded_u64(&fed.rng, SEED + 1);
	check(tly_identity_generate(&fed.coord, TLY_PARTY_COORDINATOR, 0), "identity");
	for (uint32_t i = 0; i < KEYED; i++)
		check(tly_identity_generate(&fed.keys[i], 1, 1), "identity");
	for (uint32_t i = 0; i < POOL; i++) {
		uint32_t id = i < MAX_NODES ? i + 1 : MEMBER_BASE + 1 + (i - MAX_NODES);
		fed.party[i] =
		    fed.keys[i < MAX_NODES ? i % KEYED_NODES : KEYED_NODES + (i - MAX_NODES)];
		fed.party[i].id = id;
		tly_identity_public(&fed.party[i], &pub[i]);
	}
	tly_sign_key_public(fed.coord.sign, coord_pk);
	check(tly_roster_init(&fed.roster, coord_pk, pub, POOL), "roster");
	free(pub);
	fed.cells = xcalloc(MAX_D, sizeof *fed.cells);
	for (size_t c = 0; c < MAX_D; c++)
		fed.cells[c] =
		    (int64_t)tly_rng_uniform(&fed.rng, 2 * INPUT_BOUND + 1) - INPUT_BOUND;
}

static void
fed_fini(void)
{
	for (uint32_t i = 0; i < KEYED; i++)
		tly_identity_fini(&fed.keys[i]);
	tly_identity_fini(&fed.coord);
	tly_roster_fini(&fed.roster);
	tly_rng_fini(&fed.rng);
	free(fed.cells);
}

/* One query's parameters. */
struct point {
	uint8_t protocol;
	uint32_t n, k, t; /* k: committee size, or the graph's degree */
	size_t d;
	int noisy;
	int tuned_malloc; /* run after tune_malloc() */
	int whole_shares; /* committee: every share whole (opts.whole_shares) */
};

struct timing {
	double wall, cpu;
	double node, member, coord; /* CPU seconds, apportioned (file comment) */
	double share_bytes;         /* committee: SHARE bytes into the coordinator */
	double all_bytes;           /* committee: every message's bytes, every hop */
};

static void
query_init(struct tly_query *q, const struct point *pt)
{
	memset(q, 0, sizeof *q);
	q->protocol = pt->protocol;
	q->cells = (uint32_t)pt->d;
	q->sensitivity_l1 = 1;
	q->sensitivity_l2sq = 1;
	q->min_honest = 1;
	q->min_contributors = pt->protocol == TLY_PROTOCOL_COMMITTEE ? 1 : pt->t;
	q->threshold = (uint16_t)pt->t;
	q->degree = (uint16_t)pt->k;
	if (pt->protocol == TLY_PROTOCOL_COMMITTEE) /* the smallest quorum: 2q >= k + t */
		q->quorum = (uint16_t)((pt->k + pt->t + 1) / 2);
	q->deadline_ms = TLY_DEFAULT_DEADLINE_MS;
	if (pt->noisy) {
		q->mechanism = TLY_MECH_LAPLACE;
		q->privacy_num = 1;
		q->privacy_den = 1;
		q->min_honest = pt->n / 2;
		q->min_contributors =
		    pt->n / 2 > q->min_contributors ? pt->n / 2 : q->min_contributors;
	}
	q->participants.count = pt->n;
	q->participants.ids = xcalloc(pt->n, sizeof *q->participants.ids);
	for (uint32_t i = 0; i < pt->n; i++)
		q->participants.ids[i] = i + 1;
	if (pt->protocol == TLY_PROTOCOL_COMMITTEE) {
		q->committee.count = pt->k;
		q->committee.ids = xcalloc(pt->k, sizeof *q->committee.ids);
		for (uint32_t j = 0; j < pt->k; j++)
			q->committee.ids[j] = MEMBER_BASE + 1 + j;
	}
}

/* The released total must be n times the common input (noise off). */
static void
expect_total(const struct point *pt, const int64_t *cells, uint32_t contributors)
{
	if (contributors != pt->n)
		die("contributors missing", TLY_ETOOFEW);
	for (size_t c = 0; c < pt->d && !pt->noisy; c++)
		if (cells[c] != (int64_t)pt->n * fed.cells[c])
			die("wrong total", TLY_EFORMAT);
}

/* Time one state-machine call into *acc (wall seconds). */
#define TIMED(acc, call)                                                                           \
	do {                                                                                       \
		double start_ = bench_now();                                                       \
		tly_err rv_ = (call);                                                              \
		*(acc) += bench_now() - start_;                                                    \
		check(rv_, #call);                                                                 \
	} while (0)

/* ---- committee: one query ---- */

struct committee_run {
	const struct point *pt;
	struct tly_committee_coord *coord;
	struct tly_committee_member *member[MAX_MEMBERS];
	struct tly_outbox from_node, from_coord, from_member;
	struct timing *tm;
};

/* Hand every coordinator message to its member; each answer back. */
static void
committee_to_members(struct committee_run *r)
{
	struct tly_outbox *box = &r->from_coord;

	for (size_t i = 0; i < box->count; i++) {
		uint32_t j = box->items[i].to - MEMBER_BASE - 1;
		r->tm->all_bytes += (double)box->items[i].len;
		TIMED(&r->tm->member,
		      tly_committee_member_receive(r->member[j], box->items[i].data,
		                                   box->items[i].len, &r->from_member));
	}
	tly_outbox_clear(box);
}

/* The members' answers (votes, then share-sums) into the coordinator. */
static void
committee_sums_in(struct committee_run *r)
{
	struct tly_outbox *box = &r->from_member;

	for (size_t i = 0; i < box->count; i++)
		r->tm->all_bytes += (double)box->items[i].len;
	for (size_t i = 0; i < box->count; i++) {
		if (tly_committee_coord_phase(r->coord) == TLY_COMMITTEE_DONE)
			break; /* share-sums past the t-th are not needed */
		TIMED(&r->tm->coord,
		      tly_committee_coord_receive(r->coord, box->items[i].data, box->items[i].len,
		                                  &r->from_coord));
	}
	tly_outbox_clear(box);
}

/* A node's round 1 as a node runs it: the QUERY read and verified once,
 * then answered from the decoded query. */
static tly_err
node_answer(const struct tly_identity *self, const struct tly_committee_node_opts *opts,
            const uint8_t *query_msg, size_t query_len, size_t d, struct tly_outbox *out)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	tly_err rv =
	    tly_committee_read_query(&fed.roster, self->id, query_msg, query_len, query_id, &q);

	if (rv != TLY_OK)
		return rv;
	rv = tly_committee_node_answer(self, &fed.roster, &fed.rng, opts, query_id, &q, fed.cells,
	                               d, out);
	tly_query_fini(&q);
	return rv;
}

/* A member's state from the QUERY message: read, then allocated from the
 * decoded query (as node/daemon.c). */
static tly_err
member_alloc(struct tly_committee_member **out, const struct tly_identity *self,
             const uint8_t *query_msg, size_t query_len)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	tly_err rv =
	    tly_committee_read_query(&fed.roster, self->id, query_msg, query_len, query_id, &q);

	if (rv != TLY_OK)
		return rv;
	rv = tly_committee_member_alloc(out, self, &fed.roster, query_id, &q);
	tly_query_fini(&q);
	return rv;
}

/* Round 1 for node i: its k shares, each relayed and delivered. */
static void
committee_node(struct committee_run *r, uint32_t i, const uint8_t *query_msg, size_t query_len)
{
	struct tly_committee_node_opts opts = {.allow_no_noise = 1,
	                                       .whole_shares = r->pt->whole_shares};

	TIMED(&r->tm->node,
	      node_answer(party(i + 1), &opts, query_msg, query_len, r->pt->d, &r->from_node));
	for (size_t s = 0; s < r->from_node.count; s++) {
		r->tm->share_bytes += (double)r->from_node.items[s].len;
		r->tm->all_bytes += (double)r->from_node.items[s].len;
	}
	for (size_t s = 0; s < r->from_node.count; s++)
		TIMED(&r->tm->coord,
		      tly_committee_coord_receive(r->coord, r->from_node.items[s].data,
		                                  r->from_node.items[s].len, &r->from_coord));
	tly_outbox_clear(&r->from_node);
	committee_to_members(r);
}

static void
committee_query(struct committee_run *r, struct tly_query *q, const uint8_t *query_id)
{
	const struct point *pt = r->pt;

	TIMED(&r->tm->coord, tly_committee_coord_alloc(&r->coord, &fed.coord, &fed.roster, q,
	                                               query_id, &r->from_coord));
	/* One signed QUERY for all: every party gets the same bytes. */
	const uint8_t *query_msg = r->from_coord.items[0].data;
	size_t query_len = r->from_coord.items[0].len;
	for (uint32_t j = 0; j < pt->k; j++)
		TIMED(&r->tm->member, member_alloc(&r->member[j], party(MEMBER_BASE + 1 + j),
		                                   query_msg, query_len));
	struct tly_outbox queries = r->from_coord;
	for (size_t i = 0; i < queries.count; i++)
		r->tm->all_bytes += (double)queries.items[i].len;
	tly_outbox_init(&r->from_coord);
	for (uint32_t i = 0; i < pt->n; i++)
		committee_node(r, i, query_msg, query_len);
	tly_outbox_fini(&queries);
	/* Round 2: the deadline passes; announce, votes, certificates (the
	 * agreement), then round 3: sum, reconstruct. */
	TIMED(&r->tm->coord, tly_committee_coord_close_round(r->coord, &r->from_coord));
	committee_to_members(r);
	committee_sums_in(r);
	committee_to_members(r);
	committee_sums_in(r);
}

static void
committee_once(const struct point *pt, const uint8_t *query_id, struct timing *tm)
{
	struct committee_run r = {.pt = pt, .tm = tm};
	struct tly_committee_result result;
	struct tly_query q;

	memset(tm, 0, sizeof *tm);
	query_init(&q, pt);
	tly_outbox_init(&r.from_node);
	tly_outbox_init(&r.from_coord);
	tly_outbox_init(&r.from_member);
	double wall = bench_now(), cpu = bench_cpu();
	committee_query(&r, &q, query_id);
	TIMED(&tm->coord, tly_committee_coord_result(r.coord, &result));
	tm->cpu = bench_cpu() - cpu;
	tm->wall = bench_now() - wall;
	expect_total(pt, result.cells, result.contributors.count);
	tly_committee_result_fini(&result);
	tly_committee_coord_free(r.coord);
	for (uint32_t j = 0; j < pt->k; j++)
		tly_committee_member_free(r.member[j]);
	tly_outbox_fini(&r.from_node);
	tly_outbox_fini(&r.from_coord);
	tly_outbox_fini(&r.from_member);
	tly_query_fini(&q);
}

/* ---- SecAgg and SecAgg+: one query, messages through a FIFO ---- */

struct flight {
	uint32_t to;
	uint8_t *data;
	size_t len;
};

struct secagg_run {
	const struct point *pt;
	struct tly_secagg_server *server;
	struct tly_secagg_client **clients;
	struct flight *queue;
	size_t head, tail, cap;
	struct tly_outbox box;
	struct timing *tm;
};

/* Move the outbox's messages (and their storage) to the queue. */
static void
secagg_take(struct secagg_run *r)
{
	if (r->head == r->tail)
		r->head = r->tail = 0;
	if (r->tail + r->box.count > r->cap) {
		r->cap = 2 * (r->tail + r->box.count);
		r->queue = realloc(r->queue, r->cap * sizeof *r->queue);
		if (r->queue == NULL)
			die("queue", TLY_ENOMEM);
	}
	for (size_t i = 0; i < r->box.count; i++)
		r->queue[r->tail++] =
		    (struct flight){r->box.items[i].to, r->box.items[i].data, r->box.items[i].len};
	r->box.count = 0;
}

static void
secagg_deliver(struct secagg_run *r, const struct flight *f)
{
	struct tly_secagg_client_opts opts = {.allow_no_noise = 1};
	struct tly_secagg_client **c;

	if (f->to == TLY_PARTY_COORDINATOR) {
		TIMED(&r->tm->coord,
		      tly_secagg_server_receive(r->server, f->data, f->len, &r->box));
		return;
	}
	c = &r->clients[f->to - 1];
	if (*c != NULL) {
		TIMED(&r->tm->node, tly_secagg_client_receive(*c, f->data, f->len, &r->box));
		return;
	}
	/* The QUERY: the client starts (Round 0). */
	TIMED(&r->tm->node, tly_secagg_client_alloc(c, party(f->to), &fed.roster, &fed.rng, &opts,
	                                            f->data, f->len));
	TIMED(&r->tm->node, tly_secagg_client_start(*c, fed.cells, r->pt->d, &r->box));
}

static void
secagg_query(struct secagg_run *r, const struct tly_query *q, const uint8_t *query_id)
{
	TIMED(&r->tm->coord,
	      tly_secagg_server_alloc(&r->server, &fed.coord, &fed.roster, q, query_id, &r->box));
	secagg_take(r);
	while (r->head < r->tail) {
		struct flight f = r->queue[r->head++];
		secagg_deliver(r, &f);
		free(f.data);
		secagg_take(r);
	}
	if (tly_secagg_server_phase(r->server) != TLY_SECAGG_DONE)
		die("secagg did not finish", TLY_ESTATE);
}

static void
secagg_once(const struct point *pt, const uint8_t *query_id, struct timing *tm)
{
	struct secagg_run r = {.pt = pt, .tm = tm};
	struct tly_secagg_result result;
	struct tly_query q;

	memset(tm, 0, sizeof *tm);
	query_init(&q, pt);
	r.clients = xcalloc(pt->n, sizeof *r.clients);
	tly_outbox_init(&r.box);
	double wall = bench_now(), cpu = bench_cpu();
	secagg_query(&r, &q, query_id);
	TIMED(&tm->coord, tly_secagg_server_result(r.server, &result));
	tm->cpu = bench_cpu() - cpu;
	tm->wall = bench_now() - wall;
	expect_total(pt, result.cells, result.contributors.count);
	tly_secagg_result_fini(&result);
	tly_secagg_server_free(r.server);
	for (uint32_t i = 0; i < pt->n; i++)
		tly_secagg_client_free(r.clients[i]);
	free(r.clients);
	free(r.queue);
	tly_outbox_fini(&r.box);
	tly_query_fini(&q);
}

/* ---- one point: run, floor, rows ---- */

struct floor {
	double node, member, coord, total; /* CPU seconds; node and member per party */
};

static size_t
share_signed(size_t d)
{
	return TLY_HEADER_BYTES + 8 * d + TLY_AEAD_TAG_BYTES;
}

/* Round 1's sharing: seeded (docs/PROTOCOL.md 6.1), the first t - 1
 * shares expanded from seeds and the other k - t + 1 interpolated from t
 * points; whole, Shamir t-of-k. */
static double
committee_sharing(const struct point *pt, size_t seeded)
{
	size_t d = pt->d, k = pt->k, t = pt->t;

	if (seeded == 0)
		return (double)(k * (t - 1)) * cost(PRIM_AXPY, d, 0) +
		       cost(PRIM_RNG_FIELD, (t - 1) * d, 0);
	return (double)seeded * cost(PRIM_PRG_ADD, d, 0) +
	       (double)((k - seeded) * t) * cost(PRIM_AXPY, d, 0);
}

static void
committee_floor(const struct point *pt, struct floor *f)
{
	size_t d = pt->d, n = pt->n, k = pt->k, t = pt->t;
	size_t seeded = pt->whole_shares ? 0 : t - 1, whole = k - seeded;
	size_t share = share_signed(d), seed = TLY_HEADER_BYTES + TLY_SHARE_SEEDED_BODY_BYTES;
	size_t sum = TLY_HEADER_BYTES + 4 + TLY_HASH_BYTES + 8 * d;
	double open_whole =
	    cost(PRIM_OPEN, 8 * d + TLY_AEAD_TAG_BYTES, 0) + cost(PRIM_VERIFY, share, 0);
	double open_seed = cost(PRIM_OPEN, TLY_SHARE_SEEDED_BODY_BYTES - 1, 0) +
	                   cost(PRIM_VERIFY, seed, 0) + cost(PRIM_PRG_ADD, d, 0);

	f->node =
	    committee_sharing(pt, seeded) +
	    (double)whole * (cost(PRIM_SEAL, 8 * d, 0) + cost(PRIM_SIGN, share, 0)) +
	    (double)seeded * (cost(PRIM_SEAL, TLY_SHARE_SEED_BYTES, 0) + cost(PRIM_SIGN, seed, 0));
	/* The mean member: whole/k of the members open whole shares. */
	f->member =
	    (double)n / (double)k * ((double)whole * open_whole + (double)seeded * open_seed) +
	    (double)n * cost(PRIM_FIELD_ADD, d, 0) + cost(PRIM_SIGN, sum, 0);
	f->coord = (double)n * ((double)whole * cost(PRIM_VERIFY, share, 0) +
	                        (double)seeded * cost(PRIM_VERIFY, seed, 0)) +
	           (double)t * (cost(PRIM_VERIFY, sum, 0) + cost(PRIM_AXPY, d, 0));
	f->total = (double)n * f->node + (double)k * f->member + f->coord;
}

static void
secagg_floor(const struct point *pt, struct floor *f)
{
	size_t d = pt->d, n = pt->n, deg = pt->k;
	unsigned t = pt->t;
	double small_sign = cost(PRIM_SIGN, SMALL_SIGNED, 0);
	double small_verify = cost(PRIM_VERIFY, SMALL_SIGNED, 0);

	f->node = (double)(2 * deg) * cost(PRIM_KX, 0, 0) +
	          (double)(deg + 1) * cost(PRIM_PRG_ADD, d, 0) +
	          2 * cost(PRIM_SECRET_SHARE, deg, t) +
	          (double)deg * (cost(PRIM_SEAL, TLY_KEY_SHARE_PLAIN_BYTES, 0) +
	                         cost(PRIM_OPEN, TLY_KEY_SHARE_CIPHER_BYTES, 0)) +
	          cost(PRIM_SIGN, TLY_HEADER_BYTES + 8 * d, 0) + (double)(deg + 3) * small_sign +
	          (double)(2 * deg + t + 5) * small_verify;
	f->member = 0;
	f->coord = (double)n * (cost(PRIM_VERIFY, TLY_HEADER_BYTES + 8 * d, 0) +
	                        (double)(deg + 3) * small_verify + cost(PRIM_FIELD_ADD, d, 0) +
	                        cost(PRIM_PRG_ADD, d, 0) + cost(PRIM_SECRET_REBUILD, 0, t)) +
	           (double)(2 * n + 3) * small_sign;
	f->total = (double)n * f->node + f->coord;
}

/* The floor of a point from freshly timed primitives. */
static void
floor_of(const struct point *pt, struct floor *f)
{
	cached = 0;
	if (pt->protocol == TLY_PROTOCOL_COMMITTEE)
		committee_floor(pt, f);
	else
		secagg_floor(pt, f);
}

static const char *
protocol_name(uint8_t protocol)
{
	return protocol == TLY_PROTOCOL_COMMITTEE ? "committee"
	       : protocol == TLY_PROTOCOL_SECAGG  ? "secagg"
	                                          : "secagg+";
}

static void
params_of(const struct point *pt, char *out, size_t len)
{
	int is_committee = pt->protocol == TLY_PROTOCOL_COMMITTEE;

	/* Quoted: the field holds commas. */
	snprintf(out, len, "\"protocol=%s,n=%u,d=%zu,%s=%u,t=%u,noise=%s,malloc=%s%s\"",
	         protocol_name(pt->protocol), pt->n, pt->d, is_committee ? "k" : "degree", pt->k,
	         pt->t, pt->noisy ? "laplace" : "none", pt->tuned_malloc ? "tuned" : "default",
	         pt->whole_shares ? ",shares=whole" : "");
}

/* A fresh query id per run, so that runs never share a graph or a key. */
static void
run_once(const struct point *pt, struct timing *tm)
{
	static uint64_t counter;
	uint8_t query_id[TLY_QUERY_ID_BYTES] = {0};

	tly_store_be64(query_id + 8, ++counter);
	if (pt->protocol == TLY_PROTOCOL_COMMITTEE)
		committee_once(pt, query_id, tm);
	else
		secagg_once(pt, query_id, tm);
}

static int
compare_timing(const void *a, const void *b)
{
	return compare_double(&((const struct timing *)a)->cpu, &((const struct timing *)b)->cpu);
}

/* Run (three times when short: the median by CPU time) and apportion the
 * per-party wall sums to CPU time. */
static void
measure(const struct point *pt, struct timing *tm)
{
	struct timing runs[3];
	int count = 1;

	run_once(pt, &runs[0]);
	if (runs[0].cpu < REPEAT_BELOW_SECONDS && !bench_quick()) {
		run_once(pt, &runs[1]);
		run_once(pt, &runs[2]);
		count = 3;
	}
	qsort(runs, (size_t)count, sizeof runs[0], compare_timing);
	*tm = runs[count / 2];
	double scale = tm->wall > 0 ? tm->cpu / tm->wall : 1;
	tm->node *= scale;
	tm->member *= scale;
	tm->coord *= scale;
}

static void
print_point(const struct point *pt, const struct timing *tm, const struct floor *f)
{
	char params[160];
	int is_committee = pt->protocol == TLY_PROTOCOL_COMMITTEE;

	params_of(pt, params, sizeof params);
	bench_row("protocol", "query_cpu", params, tm->cpu, "s", "floor", f->total);
	bench_row("protocol", "query_wall", params, tm->wall, "s", NULL, 0);
	bench_row("protocol", is_committee ? "node_round1_mean" : "client_mean", params,
	          tm->node / pt->n, "s", is_committee ? "node_floor" : "client_floor", f->node);
	if (is_committee)
		bench_row("protocol", "member_mean", params, tm->member / pt->k, "s",
		          "member_floor", f->member);
	bench_row("protocol", "coordinator", params, tm->coord, "s", "coordinator_floor", f->coord);
}

/* Measure one point; its CPU time and floor go to *time and *floor_total. */
static void
point(const struct point *pt, double *time, double *floor_total)
{
	struct floor before, after, f;
	struct timing tm;
	char params[160];

	params_of(pt, params, sizeof params);
	fprintf(stderr, "bench_protocol: %s ...", params);
	fflush(stderr);
	/* The machines are shared and their load drifts: the primitives are
	 * timed just before and just after the run, and the floor is the mean. */
	floor_of(pt, &before);
	measure(pt, &tm);
	floor_of(pt, &after);
	f.node = (before.node + after.node) / 2;
	f.member = (before.member + after.member) / 2;
	f.coord = (before.coord + after.coord) / 2;
	f.total = (before.total + after.total) / 2;
	fprintf(stderr, " %.3f s cpu (%.3f wall), floor %.3f s\n", tm.cpu, tm.wall, f.total);
	print_point(pt, &tm, &f);
	if (time != NULL)
		*time = tm.cpu;
	if (floor_total != NULL)
		*floor_total = f.total;
}

/* ---- sweeps ---- */

static double
slope(const double *xs, const double *ys, size_t count)
{
	double mx = 0, my = 0, sxy = 0, sxx = 0;

	for (size_t i = 0; i < count; i++) {
		mx += log(xs[i]) / (double)count;
		my += log(ys[i]) / (double)count;
	}
	for (size_t i = 0; i < count; i++) {
		sxy += (log(xs[i]) - mx) * (log(ys[i]) - my);
		sxx += (log(xs[i]) - mx) * (log(xs[i]) - mx);
	}
	return sxy / sxx;
}

struct sweep {
	uint8_t protocol;
	uint32_t k, t; /* committee only */
	size_t count;
	uint32_t ns[MAX_POINTS];
};

/* The point for n: committee (k, t) as given; SecAgg the complete graph
 * with t = floor((n - 1) / 2) + 1; SecAgg+ from tly_graph_params. */
static struct point
sweep_point(const struct sweep *s, uint32_t n, size_t d)
{
	struct point pt = {.protocol = s->protocol, .n = n, .k = s->k, .t = s->t, .d = d};
	uint16_t degree, threshold;

	if (s->protocol == TLY_PROTOCOL_SECAGG) {
		pt.k = n - 1;
		pt.t = (n - 1) / 2 + 1;
	} else if (s->protocol == TLY_PROTOCOL_SECAGG_PLUS) {
		check(tly_graph_params(n, 40, 20, 0.05, 0.05, &degree, &threshold), "graph params");
		pt.k = degree;
		pt.t = threshold;
	}
	return pt;
}

/* The cost model's count of per-element work for a point. */
static double
model(const struct point *pt)
{
	return pt->protocol == TLY_PROTOCOL_COMMITTEE ? (double)pt->n
	                                              : (double)pt->n * (double)pt->k;
}

/* The params of a sweep's growth rows, over ns[first..last]. */
static void
sweep_params(const struct sweep *s, size_t d, size_t first, size_t last, char *out, size_t len)
{
	if (s->protocol == TLY_PROTOCOL_COMMITTEE)
		snprintf(out, len, "\"protocol=committee,k=%u,t=%u,d=%zu,n=%u..%u\"", s->k, s->t, d,
		         s->ns[first], s->ns[last]);
	else
		snprintf(out, len, "\"protocol=%s,d=%zu,n=%u..%u\"", protocol_name(s->protocol), d,
		         s->ns[first], s->ns[last]);
}

/* Slopes over ns[first..last] of the protocol, its floor and the model. */
static void
growth_rows(const struct sweep *s, size_t d, size_t first, size_t last, const char *measure,
            const double *ns, const double *times, const double *floors, const double *models)
{
	size_t count = last - first + 1;
	double model_slope = slope(ns + first, models + first, count);
	char params[160], floor_measure[64];

	sweep_params(s, d, first, last, params, sizeof params);
	snprintf(floor_measure, sizeof floor_measure, "%s_floor", measure);
	bench_row("protocol", measure, params, slope(ns + first, times + first, count), "",
	          "model_exponent", model_slope);
	bench_row("protocol", floor_measure, params, slope(ns + first, floors + first, count), "",
	          "model_exponent", model_slope);
}

static void
run_sweep_n(const struct sweep *s, size_t d)
{
	double ns[MAX_POINTS], times[MAX_POINTS], floors[MAX_POINTS], models[MAX_POINTS];
	size_t count = (size_t)bench_pick((long)s->count, 2); /* two make a slope */

	for (size_t i = 0; i < count; i++) {
		struct point pt = sweep_point(s, s->ns[i], d);
		ns[i] = pt.n;
		models[i] = model(&pt);
		point(&pt, &times[i], &floors[i]);
	}
	growth_rows(s, d, 0, count - 1, "growth_exponent", ns, times, floors, models);
	growth_rows(s, d, count - 2, count - 1, "growth_exponent_top", ns, times, floors, models);
}

static void
run_sweep_d(uint32_t n, uint32_t k, uint32_t t)
{
	static const size_t ds[] = {10, 1000, 10000, 100000, 1000000};

	for (size_t i = 0; i < (size_t)bench_pick(sizeof ds / sizeof ds[0], 2); i++) {
		struct point pt = {
		    .protocol = TLY_PROTOCOL_COMMITTEE, .n = n, .k = k, .t = t, .d = ds[i]};
		point(&pt, NULL, NULL);
	}
}

/* The primitive costs behind the floor at d, for reading the ratios. */
static void
print_primitives(size_t d)
{
	static const struct {
		enum prim kind;
		int size; /* 0 none, 1 share bytes, 2 d elements, 3 small, 4 ct of 8d */
	} rows[] = {{PRIM_SIGN, 1}, {PRIM_VERIFY, 1},    {PRIM_SIGN, 3},    {PRIM_VERIFY, 3},
	            {PRIM_SEAL, 4}, {PRIM_OPEN, 4},      {PRIM_PRG_ADD, 2}, {PRIM_FIELD_ADD, 2},
	            {PRIM_AXPY, 2}, {PRIM_RNG_FIELD, 2}, {PRIM_KX, 0}};
	char params[96];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		size_t size = rows[i].size == 1   ? share_signed(d)
		              : rows[i].size == 2 ? d
		              : rows[i].size == 3 ? (size_t)SMALL_SIGNED
		              : rows[i].size == 4 ? 8 * d + TLY_AEAD_TAG_BYTES
		                                  : 0;
		if (rows[i].kind == PRIM_SEAL)
			size = 8 * d;
		snprintf(params, sizeof params, "\"%s,size=%zu\"", prim_names[rows[i].kind], size);
		bench_row("protocol_primitive", "cpu_per_call", params,
		          cost(rows[i].kind, size, 0) * 1e6, "us", NULL, 0);
	}
}

enum { NOISY = 1, TUNED = 2 };

static void
extra_point(const struct sweep *s, uint32_t n, size_t d, int flags)
{
	struct point pt = sweep_point(s, n, d);

	pt.noisy = (flags & NOISY) != 0;
	pt.tuned_malloc = (flags & TUNED) != 0;
	point(&pt, NULL, NULL);
}

/*
 * glibc gives the top of its heap back to the kernel once more than
 * M_TRIM_THRESHOLD (dynamically, 2x the mmap threshold) lies free there,
 * and serves blocks above M_MMAP_THRESHOLD with fresh mmaps, so a party
 * that allocates and frees a few share-sized buffers per message
 * page-faults them in again every time. Raising both (as LIMITS.md does
 * for nng's 8 MB messages) keeps the heap.
 */
static void
tune_malloc(void)
{
	if (mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1 || mallopt(M_TRIM_THRESHOLD, 1 << 30) != 1 ||
	    mallopt(M_TOP_PAD, 64 << 20) != 1)
		die("mallopt", TLY_EINVAL);
}

/*
 * SecAgg+ at scale (issue 14): the per-client cost, query_cpu / n (every
 * party's work, the coordinator's included, over the clients), at d = 10^3
 * for n = 100 .. 10^4 (10^4 clients in this one process), and the slope of
 * its log against log n (goal <= 0.25: O(log n) per client). The short
 * pass takes n = 10 and 30.
 */
static void
run_scale(void)
{
	static const uint32_t full[] = {100, 300, 1000, 3000, 10000}, quick[] = {10, 30};
	static const struct sweep secagg_plus = {TLY_PROTOCOL_SECAGG_PLUS, 0, 0, 0, {0}};
	const uint32_t *ns = bench_quick() ? quick : full;
	size_t count = bench_quick() ? 2 : 5;
	double logn[5], per_client[5];
	char params[160];

	for (size_t i = 0; i < count; i++) {
		struct point pt = sweep_point(&secagg_plus, ns[i], 1000);
		double time;
		point(&pt, &time, NULL);
		logn[i] = ns[i];
		per_client[i] = time / ns[i];
		params_of(&pt, params, sizeof params);
		bench_row("protocol", "per_client_cpu", params, per_client[i], "s", NULL, 0);
	}
	snprintf(params, sizeof params, "\"protocol=secagg+,d=1000,n=%u..%u\"", ns[0],
	         ns[count - 1]);
	bench_row("protocol", "per_client_slope", params, slope(logn, per_client, count), "",
	          "goal", 0.25);
}

/*
 * Issue 14 section 4, relay bytes: committee queries with t - 1 of each
 * node's k shares sent as seeds (the protocol) against every share whole
 * (opts.whole_shares: the sharing before), alternating in the same run,
 * noise off. Per point: SHARE bytes into the coordinator (each is relayed
 * once more to its member) and every message byte on every hop, each
 * against the whole-share run and against the plaintext n * 8d; the CPU
 * per node (round 1), per member and per query, seeded against whole.
 */
static void
relay_point(uint32_t n, uint32_t k, uint32_t t, size_t d)
{
	struct point seeded = {.protocol = TLY_PROTOCOL_COMMITTEE, .n = n, .k = k, .t = t, .d = d};
	struct point whole = seeded;
	struct timing ts, tw;
	struct floor fs, fw;
	char params[160];
	double plain = (double)n * 8.0 * (double)d;

	whole.whole_shares = 1;
	measure(&whole, &tw);
	measure(&seeded, &ts);
	fprintf(stderr, "bench_protocol: relay n=%u k=%u t=%u d=%zu: %.0f vs %.0f share bytes\n", n,
	        k, t, d, ts.share_bytes, tw.share_bytes);
	params_of(&whole, params, sizeof params);
	bench_row("protocol", "relay_share_bytes", params, tw.share_bytes, "B", "plaintext", plain);
	bench_row("protocol", "relay_all_bytes", params, tw.all_bytes, "B", "plaintext", plain);
	params_of(&seeded, params, sizeof params);
	bench_row("protocol", "relay_share_bytes", params, ts.share_bytes, "B", "plaintext", plain);
	bench_row("protocol", "relay_all_bytes", params, ts.all_bytes, "B", "plaintext", plain);
	bench_row("protocol", "relay_share_bytes", params, ts.share_bytes, "B", "whole_shares",
	          tw.share_bytes);
	bench_row("protocol", "relay_all_bytes", params, ts.all_bytes, "B", "whole_shares",
	          tw.all_bytes);
	bench_row("protocol", "node_round1_mean", params, ts.node / n, "s", "whole_shares",
	          tw.node / n);
	bench_row("protocol", "member_mean", params, ts.member / k, "s", "whole_shares",
	          tw.member / k);
	bench_row("protocol", "query_cpu", params, ts.cpu, "s", "whole_shares", tw.cpu);
	/* Each against its own floor (the cost model above). */
	floor_of(&seeded, &fs);
	floor_of(&whole, &fw);
	bench_row("protocol", "query_cpu", params, ts.cpu, "s", "floor", fs.total);
	bench_row("protocol", "node_round1_mean", params, ts.node / n, "s", "node_floor", fs.node);
	params_of(&whole, params, sizeof params);
	bench_row("protocol", "query_cpu", params, tw.cpu, "s", "floor", fw.total);
	bench_row("protocol", "node_round1_mean", params, tw.node / n, "s", "node_floor", fw.node);
}

static void
run_relay(size_t d)
{
	static const uint32_t kts[][2] = {{3, 2}, {5, 3}}; /* k <= MAX_MEMBERS */
	const uint32_t ns[] = {20, (uint32_t)bench_pick(100, 20)};

	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
		for (size_t j = 0; j < sizeof kts / sizeof kts[0]; j++)
			relay_point(ns[i], kts[j][0], kts[j][1], d);
}

/* One point from the command line (for profiling): PROTOCOL N [D [REPEAT]]. */
static int
one_point(int argc, char **argv)
{
	static const struct sweep committee = {TLY_PROTOCOL_COMMITTEE, 3, 2, 0, {0}};
	static const struct sweep secagg = {TLY_PROTOCOL_SECAGG, 0, 0, 0, {0}};
	static const struct sweep secagg_plus = {TLY_PROTOCOL_SECAGG_PLUS, 0, 0, 0, {0}};
	const struct sweep *s = strcmp(argv[1], "committee") == 0 ? &committee
	                        : strcmp(argv[1], "secagg") == 0  ? &secagg
	                        : strcmp(argv[1], "secagg+") == 0 ? &secagg_plus
	                                                          : NULL;
	long n = strtol(argv[2], NULL, 10), d = argc > 3 ? strtol(argv[3], NULL, 10) : 10000;
	long repeat = argc > 4 ? strtol(argv[4], NULL, 10) : 1;

	if (s == NULL || n < 3 || n > MAX_NODES || d < 1 || d > MAX_D || repeat < 1) {
		fprintf(stderr, "usage: bench_protocol [scale | relay | committee|secagg|secagg+ N "
		                "[D [REPEAT]]]\n");
		return 2;
	}
	struct point pt = sweep_point(s, (uint32_t)n, (size_t)d);
	for (long i = 0; i < repeat; i++)
		point(&pt, NULL, NULL);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct sweep committee3 = {
	    TLY_PROTOCOL_COMMITTEE, 3, 2, 6, {3, 10, 30, 100, 300, 1000}};
	static const struct sweep committee5 = {
	    TLY_PROTOCOL_COMMITTEE, 5, 3, 6, {3, 10, 30, 100, 300, 1000}};
	static const struct sweep secagg = {TLY_PROTOCOL_SECAGG, 0, 0, 4, {3, 10, 30, 100}};
	static const struct sweep secagg_plus = {
	    TLY_PROTOCOL_SECAGG_PLUS, 0, 0, 5, {10, 30, 100, 300, 1000}};
	/* The short pass (bench_quick): the two smallest points of each sweep,
	 * d = 1000, the extra points at n = 10. */
	const size_t d = (size_t)bench_pick(10000, 1000);
	const uint32_t at = (uint32_t)bench_pick(100, 10);
	double start = bench_now();

	check(tly_crypto_init(), "crypto init");
	lab_init();
	fed_init();
	bench_header();
	if (argc == 2 && strcmp(argv[1], "relay") == 0) {
		run_relay(d);
		fed_fini();
		lab_fini();
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "scale") == 0) {
		run_scale();
		fed_fini();
		lab_fini();
		return 0;
	}
	if (argc > 2) {
		int rv = one_point(argc, argv);
		fed_fini();
		lab_fini();
		return rv;
	}
	print_primitives(d);

	run_sweep_n(&committee3, d);
	run_sweep_n(&committee5, d);
	run_sweep_d(10, 3, 2);
	run_sweep_d(10, 5, 3);
	run_relay(d);
	run_sweep_n(&secagg, d);
	run_sweep_n(&secagg_plus, d);
	run_scale();

	/* For the record: the target point with noise on. */
	extra_point(&committee3, at, d, NOISY);
	extra_point(&secagg, at, d, NOISY);
	extra_point(&secagg_plus, at, d, NOISY);
	/* What glibc's heap trimming costs (tune_malloc): the same points with
	 * the heap kept. Last, since it changes the process for good. */
	tune_malloc();
	extra_point(&committee3, at, d, TUNED);
	extra_point(&committee3, 10, (size_t)bench_pick(1000000, 1000), TUNED);
	extra_point(&secagg_plus, at, d, TUNED);

	fed_fini();
	lab_fini();
	fprintf(stderr, "bench_protocol: done in %.0f s\n", bench_now() - start);
	return 0;
}
