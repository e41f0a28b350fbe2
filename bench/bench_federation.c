/*
 * bench_federation - end-to-end query latency of committee sharing, SecAgg
 * and SecAgg+ with every node a process of its own, against a plaintext
 * baseline run by the same processes over the same connections in the same
 * run; and the same federation's CPU and memory against n up to 200 nodes.
 *
 * Setup. This process is the coordinator: a tly_hub on loopback, over
 * tls+tcp:// (mutual TLS, certificates made in a temporary folder by
 * tly_pki_init/tly_pki_issue) and over plain tcp://. Identities and the
 * roster are generated here and MAIN_NODES children are forked before nng
 * starts (nng's threads do not survive fork), so each child inherits its
 * identity and learns the two ports through a pipe. Each child dials the TLS
 * hub, serves until told to move on, then dials the tcp hub: the same
 * children and, within one transport, the same connections for every
 * query. A child dies with this process (PR_SET_PDEATHSIG) and is always
 * reaped (SIGTERM + waitpid) at the end or on failure. Every process keeps
 * large buffers on the heap (mallopt), as the daemons do.
 *
 * A child answers
 *   QUERY (committee protocol, messages.h): tly_committee_node_answer over
 *     its d cells when a participant, and tly_committee_member_alloc then
 *     tly_committee_member_receive for every later message when named to
 *     the committee (nodes 1..k), exactly as node/daemon.c drives them.
 *     Noise is off (TLY_MECH_NONE, allowed by the test-only flag; noise is
 *     node-local and measured in bench_protocol and bench_dp) except on
 *     one row at the target point (discrete Laplace, epsilon = 1, h = n/2).
 *   QUERY (SecAgg or SecAgg+, secagg.h): a tly_secagg_client (alloc, start
 *     over its d cells, then receive for every later message of that
 *     query), noise off as above. The coordinator runs the server and
 *     relays each KEY_SHARE; a round closes inside server_receive when
 *     its last expected message is in, or with server_close_round when
 *     nothing arrives for ROUND_DEADLINE_MS (never, with no dropouts).
 *     SecAgg+ takes (degree, t) from tly_graph_params(n, sigma 40, eta 20,
 *     dropout 0.05, corrupt 0.05), as bench_protocol; SecAgg the complete
 *     graph with t = floor((n - 1) / 2) + 1. A QUERY's protocol is read
 *     from its body unsigned, only to route it; the state machine that
 *     takes it checks the signature.
 *   A plaintext request (this bench's own framing, CTRL_* below): its d
 *     cells encoded as centred field elements, unsigned, unencrypted but
 *     for the transport's own TLS, which the coordinator loads (< p
 *     checked) and adds.
 * Cells are a fixed pseudo-random function of (node, cell) in
 * [-10^6, 10^6], so every total (protocol and plaintext) is checked
 * against the sum computed here. No noise, no dropouts: any failure stops
 * the bench.
 *
 * Times. query = wall time from the coordinator's first state-machine call
 * (tly_committee_coord_alloc) to the decoded total, relaying every SHARE as
 * it arrives and announcing as soon as all n k shares are in (as
 * coordinator/lifecycle.c closes round 1 early) and taking all k share-sums,
 * since the coordinator checks the k - t beyond the first t against them
 * (the share-sum consistency check) before it releases; plaintext = from sending the n requests
 * to the n-th vector summed. Median of REPS repetitions (REPS_HEAVY at
 * n = 50 or d = 10^5, REPS_TARGET at the target), protocol and plaintext
 * alternating, after one warm-up of each. Committee (k, t, q) = (4, 2, 3),
 * the coordinator's defaults, min_contributors = n. The agreement round
 * (SET_SIGN, SET_CERT) is inside the query time.
 *
 * Rows (timing.h; params quoted since they hold commas):
 *   query            protocol ms, baseline plaintext_same_transport (the
 *                    issue's target: ratio <= 3 at n = 20, d = 10^4 over TLS);
 *                    mode=secagg and secagg_plus at the focus point only,
 *                    each against its own alternating plaintext runs
 *                    (goal for SecAgg+: <= 1.5 at n = 20, d = 10^4), with
 *                    their bytes_per_query
 *   tls_over_tcp     TLS ms against tcp ms, per mode: the TLS share
 *   bytes_per_query  bytes through the hub, both directions
 *   aead_seal_open   CPU ns per byte to seal and open 1 MiB: libsodium
 *                    XChaCha20-Poly1305 and OpenSSL AES-256-GCM (tly_aead)
 *   tls_cpu_per_byte at the breakdown point: (transport CPU over TLS -
 *                    transport CPU over tcp) / bytes through the hub, i.e.
 *                    what TLS costs per byte at both ends, against
 *                    libsodium's seal + open per byte
 *   projected_app_channel  tcp ms + bytes x (libsodium XChaCha20-Poly1305
 *                    seal + open per byte, measured here), charged serially
 *                    (no credit for the second core): an upper bound for an
 *                    application-layer channel over plain tcp; against the
 *                    measured TLS time and against the plaintext baseline
 *                    projected the same way.
 *   breakdown (n = 20, d = 10^4, each transport, BREAKDOWN_QUERIES more
 *                    queries of committee, plaintext and SecAgg+ (whose
 *                    cpu_client is the client state machine's, all nodes,
 *                    and cpu_coordinator the server's)): CPU ms per query by where it
 *                    went, each against cpu_total (all processes):
 *                    cpu_node_answer (QUERY check and node_answer, all
 *                    nodes), cpu_member (member alloc and receive, all
 *                    members), cpu_coordinator (the coordinator's state
 *                    machine), cpu_transport_nodes / _coordinator (the rest
 *                    of each process's CPU: nng's threads, TLS, framing,
 *                    copies, the loops); plaintext: cpu_node_encode,
 *                    cpu_coordinator_sum and the same transport rows. The
 *                    state-machine calls are timed on the thread CPU clock
 *                    only inside the breakdown window, process CPU on the
 *                    process clock; children send their totals back.
 *
 * Scale (issue 14 §5), first, in a process of its own forked before nng
 * starts, with its own MAX_NODES = 200 children (their memory holds only
 * this sweep's): plaintext, committee and SecAgg+ over TLS at d = 10^3,
 * n = 25, 50, 100, 200 (the first n nodes take part), SCALE_REPS queries per
 * point after a warm-up, every total checked. Rows, per point:
 *   scale_cpu_node        CPU ms per query per node: the n children's
 *                         CLOCK_PROCESS_CPUTIME_ID (user + sys, nng's
 *                         threads and TLS included) over the repetitions,
 *                         summed and divided by n and SCALE_REPS;
 *   scale_cpu_coordinator the same for this process;
 *   scale_rss_node        peak RSS (VmHWM, reset through /proc/self/
 *   scale_rss_node_max    clear_refs after the warm-up and malloc_trim, so
 *   scale_rss_coordinator that the heap earlier points kept is not counted)
 *                         in MB: mean and largest over the nodes, and this
 *                         process;
 *   scale_wall            median wall ms per query;
 *   scale_cpu_node_work   of those CPU figures, the part in the state
 *   scale_cpu_coordinator_work  machines' calls (thread CPU; for the
 *                         plaintext mode the encoding and the sum), the
 *                         rest being transport (nng, TLS, copies);
 * then per mode and measure scale_slope: the least-squares slope of log
 * value on log n. The short pass runs it at n = 5, 10 with d = 100.
 * bench/plot_federation.gp draws it (make bench-plots).
 *
 * Sweep (`bench_federation sweep`, run by `make sweep`): committee, SecAgg
 * and SecAgg+ over TLS, each against its own alternating plaintext runs
 * (measure_pair, SWEEP_REPS repetitions), over n = 5..200 at d = 10^4 and
 * over d = 10^2..3 10^5 at n = 20, with only as many children as the largest
 * n: rows sweep,time (ms, baseline plaintext_same_transport) and
 * sweep,bytes (MB through the hub, baseline plaintext_bytes).
 *
 * CSV on stdout, progress on stderr. About 1.5 minutes on 2 loaded vCPUs.
 * `bench_federation N D` runs that point alone, with its breakdown (and
 * the noisy row), for profiling; `bench_federation scale` the scale sweep
 * alone.
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/timing.h"
#include "cli/pki.h"
#include "crypto/aead.h"
#include "crypto/field.h"
#include "crypto/rng.h"
#include "wire/buf.h"
#include "wire/codec.h"
#include "protocol/committee.h"
#include "protocol/graph.h"
#include "protocol/secagg.h"
#include "net/transport.h"

/* The coordinator's defaults (coordinator/config.h); -D overrides them to
 * measure another committee by hand. */
#ifndef BENCH_COMMITTEE_K
#define BENCH_COMMITTEE_K 4
#define BENCH_COMMITTEE_T 2
#define BENCH_COMMITTEE_Q 3
#endif

enum {
	MAX_NODES = 200, /* the scale sweep's children; tables are sized by it */
	MAIN_NODES = 50, /* the children of the latency sweeps */
	MAX_D = 100000,
	TARGET_N = 20,
	TARGET_D = 10000,
	QUICK_N = 5, /* the short pass: the least n with SecAgg+ parameters */
	COMMITTEE_K = BENCH_COMMITTEE_K,
	COMMITTEE_T = BENCH_COMMITTEE_T,
	COMMITTEE_Q = BENCH_COMMITTEE_Q,
	REPS = 5,
	REPS_HEAVY = 3,
	REPS_TARGET = 7,
	MAX_REPS = 7,
	BREAKDOWN_QUERIES = 5,
	CELL_BOUND = 1000000,
	WAIT_MS = 120000,    /* for any one message before giving up */
	CONNECT_MS = 120000, /* for all children to be welcomed */
	CHILD_POLL_MS = 1000,
	ROUND_DEADLINE_MS = 30000, /* a masking round closes after this silence */
	AEAD_BYTES = 1 << 20,
	TRANSPORTS = 2,
};

enum transport { TLS = 0, TCP = 1 };
static const char *const transport_name[TRANSPORTS] = {"tls", "tcp"};

/*
 * The bench's own messages over the same links, never mistaken for a
 * protocol message (whose first byte is TLY_WIRE_VERSION):
 *   magic[8] || op u8 || seq u32 || d u32 || payload
 * PLAIN_VECTOR carries d big-endian field elements; STATS carries
 * STATS_FIELDS u64 values in units of 10^-9 (enum stat: CPU seconds, and
 * for STAT_HWM the peak RSS in kB); a STATS_RESET with d = 1 also trims the
 * heap (malloc_trim) before the peak RSS is reset.
 */
#define CTRL_MAGIC "tlybench"
enum { CTRL_MAGIC_BYTES = 8, CTRL_HEAD_BYTES = CTRL_MAGIC_BYTES + 1 + 4 + 4 };
enum ctrl_op {
	CTRL_PLAIN_REQUEST = 1,
	CTRL_PLAIN_VECTOR = 2,
	CTRL_STATS_RESET = 3,
	CTRL_STATS_REQUEST = 4,
	CTRL_STATS = 5,
	CTRL_NEXT_TRANSPORT = 6,
};
enum stat {
	STAT_ANSWER,
	STAT_MEMBER,
	STAT_ENCODE,
	STAT_CLIENT,
	STAT_PROCESS,
	STAT_HWM,
	STATS_FIELDS
};

_Static_assert(sizeof CTRL_MAGIC - 1 == CTRL_MAGIC_BYTES, "magic length");
_Static_assert(COMMITTEE_K <= MAX_NODES && COMMITTEE_T <= COMMITTEE_Q &&
                   COMMITTEE_Q <= COMMITTEE_K && 2 * COMMITTEE_Q >= COMMITTEE_K + COMMITTEE_T,
               "committee");

/* ---- shared by both sides ---- */

static char workdir[64];
static pid_t parent_pid;
static pid_t children[MAX_NODES + 1];
static int is_child;
/* The children of this process tree (MAIN_NODES, or MAX_NODES in the scale
 * sweep's own tree) and the largest d they serve. */
static uint32_t node_count = MAIN_NODES;
static size_t node_max_d = MAX_D;

static void
remove_workdir(void)
{
	DIR *dir = workdir[0] != '\0' ? opendir(workdir) : NULL;
	struct dirent *e;
	char path[sizeof workdir + 300];

	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", workdir, e->d_name);
		unlink(path);
	}
	closedir(dir);
	rmdir(workdir);
	workdir[0] = '\0';
}

/* SIGTERM every child still running, then reap them all. */
static void
stop_children(void)
{
	for (int i = 1; i <= MAX_NODES; i++)
		if (children[i] > 0)
			kill(children[i], SIGTERM);
	for (int i = 1; i <= MAX_NODES; i++) {
		if (children[i] > 0)
			while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR)
				;
		children[i] = 0;
	}
}

/* SIGINT or SIGTERM to the coordinator: stop at the next message. */
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
die(const char *what, tly_err rv)
{
	fprintf(stderr, "bench_federation%s: %s: %s\n", is_child ? " (node)" : "", what,
	        tly_strerror(rv));
	if (is_child)
		_exit(1);
	stop_children();
	remove_workdir();
	exit(1);
}

static void
check(tly_err rv, const char *what)
{
	if (rv != TLY_OK)
		die(what, rv);
}

static void *
xmalloc(size_t size)
{
	void *p = malloc(size);
	if (p == NULL)
		die("malloc", TLY_ENOMEM);
	return p;
}

static double
clock_seconds(clockid_t which)
{
	struct timespec ts;
	clock_gettime(which, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
thread_cpu(void)
{
	return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

static double
process_cpu(void)
{
	return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

/* This process's peak resident set (VmHWM, kB) since it started or since
 * reset_peak_rss; 0 when /proc cannot tell. */
static double
peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double kb = 0;

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtod(line + 6, NULL);
	if (f != NULL)
		fclose(f);
	return kb;
}

/* Peak RSS := current RSS (Linux >= 4.0, "5" to clear_refs); if the
 * kernel refuses, the peak stays the lifetime one. */
static void
reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (f == NULL)
		return;
	fputs("5", f);
	fclose(f);
}

/* Add the thread CPU time of `call` to acc, when `on`. */
#define TIMED(on, acc, call)                                                                       \
	do {                                                                                       \
		double start_ = (on) ? thread_cpu() : 0;                                           \
		call;                                                                              \
		if (on)                                                                            \
			(acc) += thread_cpu() - start_;                                            \
	} while (0)

/* Node id's cell c: splitmix64 of (id, c), in [-CELL_BOUND, CELL_BOUND]. */
static int64_t
cell_value(uint32_t id, size_t c)
{
	uint64_t x = (((uint64_t)id << 32) | (uint64_t)c) + UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return (int64_t)(x % (2 * CELL_BOUND + 1)) - CELL_BOUND;
}

static void
ctrl_head(uint8_t *p, enum ctrl_op op, uint32_t seq, uint32_t d)
{
	memcpy(p, CTRL_MAGIC, CTRL_MAGIC_BYTES);
	p[CTRL_MAGIC_BYTES] = (uint8_t)op;
	tly_store_be32(p + CTRL_MAGIC_BYTES + 1, seq);
	tly_store_be32(p + CTRL_MAGIC_BYTES + 5, d);
}

struct ctrl {
	enum ctrl_op op;
	uint32_t seq, d;
	const uint8_t *payload;
	size_t payload_len;
};

/* Nonzero (and *out filled) when msg is one of this bench's messages. */
static int
ctrl_parse(const uint8_t *msg, size_t len, struct ctrl *out)
{
	if (len < CTRL_HEAD_BYTES || memcmp(msg, CTRL_MAGIC, CTRL_MAGIC_BYTES) != 0)
		return 0;
	out->op = (enum ctrl_op)msg[CTRL_MAGIC_BYTES];
	out->seq = tly_load_be32(msg + CTRL_MAGIC_BYTES + 1);
	out->d = tly_load_be32(msg + CTRL_MAGIC_BYTES + 5);
	out->payload = msg + CTRL_HEAD_BYTES;
	out->payload_len = len - CTRL_HEAD_BYTES;
	return 1;
}

static void
tls_files(struct tly_tls_files *tls, char *cert, char *key, size_t len, const char *name)
{
	static char ca[sizeof workdir + 24];
	/* One CA per role (cli/pki.h): each side trusts only the other's. */
	snprintf(ca, sizeof ca, "%s/%s.crt", workdir,
	         strcmp(name, "coordinator") == 0 ? "node-ca" : "coordinator-ca");
	snprintf(cert, len, "%s/%s.crt", workdir, name);
	snprintf(key, len, "%s/%s.key", workdir, name);
	*tls = (struct tly_tls_files){.cert = cert, .key = key, .ca = ca};
}

/* ---- a node: one child process ---- */

struct node {
	uint32_t id;
	const struct tly_identity *self;
	const struct tly_roster *roster;
	struct tly_link *link;
	struct tly_rng rng;
	int64_t *cells;  /* MAX_D: this node's data */
	uint64_t *field; /* MAX_D: the cells as field elements */
	uint8_t *wire;   /* the plaintext reply: head and MAX_D elements */
	struct tly_committee_member *member;
	uint8_t member_query[TLY_QUERY_ID_BYTES];
	struct tly_secagg_client *client; /* the running masking query's */
	int instrument;                   /* between STATS_RESET and STATS_REQUEST */
	double stat[STATS_FIELDS];
	int next;
};

static void
node_send(struct node *nd, const uint8_t *msg, size_t len)
{
	check(tly_link_send(nd->link, msg, len), "send to the coordinator");
}

static void
node_send_box(struct node *nd, struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++)
		node_send(nd, box->items[i].data, box->items[i].len);
	tly_outbox_clear(box);
}

/* Round 0 received: become a member if named, answer if a participant
 * (in that order, as node/daemon.c, so relayed shares find the member). */
static void
node_on_query(struct node *nd, const uint8_t *msg, size_t len)
{
	struct tly_committee_node_opts opts = {.allow_no_noise = 1};
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_outbox box;
	struct tly_query q;
	int member = 0, participant = 0;
	size_t d = 0;

	tly_committee_member_free(nd->member);
	nd->member = NULL;
	TIMED(nd->instrument, nd->stat[STAT_ANSWER], {
		check(tly_committee_read_query(nd->roster, nd->id, msg, len, query_id, &q),
		      "read QUERY");
		member = tly_idlist_contains(&q.committee, nd->id);
		participant = tly_idlist_contains(&q.participants, nd->id);
		d = q.cells;
	});
	if (d > node_max_d)
		die("QUERY with too many cells", TLY_EINVAL);
	tly_outbox_init(&box);
	if (member) {
		TIMED(nd->instrument, nd->stat[STAT_MEMBER],
		      check(tly_committee_member_alloc(&nd->member, nd->self, nd->roster, query_id,
		                                       &q),
		            "member alloc"));
		memcpy(nd->member_query, query_id, TLY_QUERY_ID_BYTES);
	}
	if (participant)
		TIMED(nd->instrument, nd->stat[STAT_ANSWER],
		      check(tly_committee_node_answer(nd->self, nd->roster, &nd->rng, &opts,
		                                      query_id, &q, nd->cells, d, &box),
		            "node answer"));
	tly_query_fini(&q);
	node_send_box(nd, &box);
	tly_outbox_fini(&box);
}

/* The protocol a QUERY names, read without its signature: only to route it
 * to the state machine that opens it (and checks the signature). */
static uint8_t
query_protocol(const struct tly_msg *peeked)
{
	struct tly_query q;
	uint8_t protocol;

	check(tly_query_decode(&q, peeked->body, peeked->body_len), "decode QUERY");
	protocol = q.protocol;
	tly_query_fini(&q);
	return protocol;
}

/* A masking QUERY: a fresh client, started over this node's cells. */
static void
node_on_masking_query(struct node *nd, const uint8_t *msg, size_t len)
{
	struct tly_secagg_client_opts opts = {.allow_no_noise = 1};
	struct tly_outbox box;

	tly_secagg_client_free(nd->client);
	nd->client = NULL;
	tly_outbox_init(&box);
	TIMED(nd->instrument, nd->stat[STAT_CLIENT], {
		check(tly_secagg_client_alloc(&nd->client, nd->self, nd->roster, &nd->rng, &opts,
		                              msg, len),
		      "client alloc");
		size_t d = tly_secagg_client_query(nd->client)->cells;
		if (d > node_max_d)
			die("QUERY with too many cells", TLY_EINVAL);
		check(tly_secagg_client_start(nd->client, nd->cells, d, &box), "client start");
	});
	node_send_box(nd, &box);
	tly_outbox_fini(&box);
}

static void
node_on_masking(struct node *nd, const uint8_t *msg, size_t len)
{
	struct tly_outbox box;
	tly_err rv = TLY_OK;

	tly_outbox_init(&box);
	TIMED(nd->instrument, nd->stat[STAT_CLIENT],
	      rv = tly_secagg_client_receive(nd->client, msg, len, &box));
	check(rv, "client receive"); /* no dropouts here: any refusal is a bug */
	node_send_box(nd, &box);
	tly_outbox_fini(&box);
}

static void
node_on_protocol(struct node *nd, const uint8_t *msg, size_t len)
{
	struct tly_msg peeked;
	struct tly_outbox box;
	tly_err rv = TLY_OK;

	check(tly_msg_peek(msg, len, &peeked), "peek");
	if (peeked.header.type == TLY_MSG_QUERY) {
		if (query_protocol(&peeked) == TLY_PROTOCOL_COMMITTEE)
			node_on_query(nd, msg, len);
		else
			node_on_masking_query(nd, msg, len);
		return;
	}
	if (nd->client != NULL &&
	    memcmp(peeked.header.query_id, tly_secagg_client_query_id(nd->client),
	           TLY_QUERY_ID_BYTES) == 0) {
		node_on_masking(nd, msg, len);
		return;
	}
	if (nd->member == NULL ||
	    memcmp(peeked.header.query_id, nd->member_query, TLY_QUERY_ID_BYTES) != 0)
		die("a protocol message for a query this node does not serve", TLY_ESTATE);
	tly_outbox_init(&box);
	TIMED(nd->instrument, nd->stat[STAT_MEMBER],
	      rv = tly_committee_member_receive(nd->member, msg, len, &box));
	if (rv != TLY_OK && rv != TLY_EABORTED)
		die("member receive", rv);
	node_send_box(nd, &box);
	tly_outbox_fini(&box);
	if (rv == TLY_EABORTED) {
		tly_committee_member_free(nd->member);
		nd->member = NULL;
	}
}

/* The plaintext baseline: the raw cells as d field elements. */
static void
node_plain(struct node *nd, const struct ctrl *req)
{
	size_t d = req->d;

	if (d == 0 || d > node_max_d)
		die("plaintext request size", TLY_EINVAL);
	TIMED(nd->instrument, nd->stat[STAT_ENCODE], {
		check(tly_field_vec_encode_signed(nd->field, nd->cells, d, NULL), "encode");
		tly_field_vec_store(nd->wire + CTRL_HEAD_BYTES, nd->field, d);
	});
	ctrl_head(nd->wire, CTRL_PLAIN_VECTOR, req->seq, req->d);
	node_send(nd, nd->wire, CTRL_HEAD_BYTES + TLY_FIELD_ELEMENT_BYTES * d);
}

static void
node_stats(struct node *nd, const struct ctrl *req)
{
	uint8_t reply[CTRL_HEAD_BYTES + 8 * STATS_FIELDS];

	nd->stat[STAT_PROCESS] = process_cpu() - nd->stat[STAT_PROCESS];
	nd->stat[STAT_HWM] = peak_rss_kb();
	ctrl_head(reply, CTRL_STATS, req->seq, 0);
	for (int i = 0; i < STATS_FIELDS; i++)
		tly_store_be64(reply + CTRL_HEAD_BYTES + 8 * i, (uint64_t)(nd->stat[i] * 1e9));
	nd->instrument = 0;
	node_send(nd, reply, sizeof reply);
}

static void
node_on_ctrl(struct node *nd, const struct ctrl *req)
{
	switch (req->op) {
	case CTRL_PLAIN_REQUEST:
		node_plain(nd, req);
		break;
	case CTRL_STATS_RESET:
		memset(nd->stat, 0, sizeof nd->stat);
		nd->stat[STAT_PROCESS] = process_cpu();
		nd->instrument = 1;
		if (req->d != 0) /* the scale sweep: the peak of what comes next */
			malloc_trim(0);
		reset_peak_rss();
		break;
	case CTRL_STATS_REQUEST:
		node_stats(nd, req);
		break;
	case CTRL_NEXT_TRANSPORT:
		nd->next = 1;
		break;
	default:
		die("unknown bench message", TLY_EFORMAT);
	}
}

/* Dial url and serve until CTRL_NEXT_TRANSPORT. */
static void
node_serve(struct node *nd, const char *url, const struct tly_tls_files *tls)
{
	char why[300];

	if (tly_link_open(&nd->link, url, tls, nd->self, why, sizeof why) != TLY_OK) {
		fprintf(stderr, "bench_federation (node %u): %s\n", nd->id, why);
		_exit(1);
	}
	nd->next = 0;
	while (!nd->next) {
		struct ctrl req;
		uint8_t *msg;
		size_t len;
		tly_err rv = tly_link_recv(nd->link, &msg, &len, CHILD_POLL_MS);
		if (rv == TLY_ETIMEDOUT) {
			if (getppid() != parent_pid)
				_exit(1);
			continue;
		}
		check(rv, "receive");
		if (ctrl_parse(msg, len, &req))
			node_on_ctrl(nd, &req);
		else
			node_on_protocol(nd, msg, len);
		free(msg);
	}
	tly_committee_member_free(nd->member);
	nd->member = NULL;
	tly_secagg_client_free(nd->client);
	nd->client = NULL;
	tly_link_close(nd->link);
	nd->link = NULL;
}

static void
node_main(uint32_t id, int port_fd, const struct tly_identity *self,
          const struct tly_roster *roster)
{
	struct node nd = {.id = id, .self = self, .roster = roster};
	char cert[sizeof workdir + 48], key[sizeof workdir + 48], name[32], url[64];
	struct tly_tls_files tls;
	int ports[TRANSPORTS];

	is_child = 1;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent_pid)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	if (read(port_fd, ports, sizeof ports) != (ssize_t)sizeof ports)
		_exit(1); /* the coordinator failed before opening its hubs */
	close(port_fd);
	tly_rng_init(&nd.rng); /* never the parent's stream: shares must differ */
	nd.cells = xmalloc(node_max_d * sizeof *nd.cells);
	nd.field = xmalloc(node_max_d * sizeof *nd.field);
	nd.wire = xmalloc(CTRL_HEAD_BYTES + (size_t)TLY_FIELD_ELEMENT_BYTES * node_max_d);
	for (size_t c = 0; c < node_max_d; c++)
		nd.cells[c] = cell_value(id, c);
	snprintf(name, sizeof name, "node-%u", id);
	tls_files(&tls, cert, key, sizeof cert, name);
	snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", ports[TLS]);
	node_serve(&nd, url, &tls);
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", ports[TCP]);
	node_serve(&nd, url, NULL);
	_exit(0);
}

/* ---- the coordinator ---- */

struct point {
	uint32_t n;
	size_t d;
};

/* n sweep at d = 10^4, then the d sweep at n = 20 (10^4 already done). */
static const struct point points[] = {
    {3, 10000},  {5, 10000}, {10, 10000}, {20, 10000},
    {50, 10000}, {20, 10},   {20, 1000},  {20, 100000},
};
enum { POINTS = sizeof points / sizeof points[0] };

/* What this run measures: the sweeps and the breakdown at the target, or
 * (`bench_federation N D`) one point and its breakdown. */
static struct {
	const struct point *list;
	size_t count;
	struct point focus;
	enum { SCALE_NONE, SCALE_ALSO, SCALE_ONLY } scale;
	int sweep; /* `bench_federation sweep`: sweep_run alone */
} plan = {points, POINTS, {TARGET_N, TARGET_D}, SCALE_ALSO, 0};

struct measured {
	double protocol, plaintext;           /* median wall seconds */
	uint64_t protocol_bytes, plain_bytes; /* through the hub per query */
};

static struct {
	struct tly_identity coord;
	struct tly_identity node[MAX_NODES + 1]; /* by id */
	struct tly_roster roster;
	int port_fd[MAX_NODES + 1];
	struct tly_hub *hub[TRANSPORTS];
	struct tly_hub *now; /* the hub of the running phase */
	struct tly_rng rng;
	uint32_t participants[MAX_NODES], committee[COMMITTEE_K];
	uint64_t *acc, *scratch;
	int64_t *total, *expected;
	uint32_t seq;
	uint64_t bytes;
	int instrument;
	double coord_cpu, sum_cpu;
	struct measured result[TRANSPORTS][POINTS];
	/* breakdown: transport CPU seconds and hub bytes per query, by mode */
	double transport_cpu[TRANSPORTS][2];
	double transport_bytes[TRANSPORTS][2];
} fed;

static void
print_events(void)
{
	char line[TLY_EVENT_LINE_MAX];
	for (int t = 0; t < TRANSPORTS; t++)
		while (fed.hub[t] != NULL && tly_hub_event(fed.hub[t], line, sizeof line) == TLY_OK)
			fprintf(stderr, "hub %s: %s\n", transport_name[t], line);
}

static void
fail(const char *what, tly_err rv)
{
	print_events();
	die(what, rv);
}

static void
send_to(uint32_t to, const uint8_t *msg, size_t len)
{
	tly_err rv = tly_hub_send(fed.now, to, msg, len);
	if (rv != TLY_OK)
		fail("send to a node", rv);
	fed.bytes += len;
}

static void
send_ctrl(uint32_t first, uint32_t last, enum ctrl_op op, uint32_t seq, uint32_t d)
{
	uint8_t head[CTRL_HEAD_BYTES];
	ctrl_head(head, op, seq, d);
	for (uint32_t id = first; id <= last; id++)
		send_to(id, head, sizeof head);
}

/* A child that exited early (its own error is on stderr) ends the bench
 * at once rather than after WAIT_MS. */
static void
check_children(void)
{
	pid_t pid = waitpid(-1, NULL, WNOHANG);
	if (pid <= 0)
		return;
	for (uint32_t i = 1; i <= node_count; i++)
		if (children[i] == pid)
			children[i] = 0;
	fail("a node exited", TLY_EPEER);
}

/* The next message within ms: TLY_OK, or TLY_ETIMEDOUT. */
static tly_err
receive_within(int ms, uint32_t *from, uint8_t **msg, size_t *len)
{
	tly_err rv;

	for (int waited = 0;; waited += CHILD_POLL_MS) {
		if (interrupted)
			fail("interrupted", TLY_EABORTED);
		int wait = ms - waited < CHILD_POLL_MS ? ms - waited : CHILD_POLL_MS;
		rv = tly_hub_recv(fed.now, from, msg, len, wait > 0 ? wait : 1);
		if (rv != TLY_ETIMEDOUT || waited + wait >= ms)
			break;
		check_children();
	}
	if (rv != TLY_OK && rv != TLY_ETIMEDOUT)
		fail("waiting for a node", rv);
	if (rv == TLY_OK)
		fed.bytes += *len;
	return rv;
}

static void
receive(uint32_t *from, uint8_t **msg, size_t *len)
{
	if (receive_within(WAIT_MS, from, msg, len) != TLY_OK)
		fail("waiting for a node", TLY_ETIMEDOUT);
}

static void
setup_pki(void)
{
	const char *hosts[] = {"127.0.0.1"};
	char why[300], name[32];

	snprintf(workdir, sizeof workdir, "/tmp/tly_bench_fed_XXXXXX");
	if (mkdtemp(workdir) == NULL) {
		workdir[0] = '\0';
		die("mkdtemp", TLY_EIO);
	}
	if (tly_pki_init(workdir, 0, NULL, why, sizeof why) != TLY_OK ||
	    tly_pki_issue(workdir, "coordinator", TLY_PKI_COORDINATOR, hosts, 1, NULL, 0, why,
	                  sizeof why) != TLY_OK) {
		fprintf(stderr, "bench_federation: %s\n", why);
		die("pki", TLY_EIO);
	}
	for (uint32_t id = 1; id <= node_count; id++) {
		snprintf(name, sizeof name, "node-%u", id);
		if (tly_pki_issue(workdir, name, TLY_PKI_NODE, NULL, 0, NULL, 0, why, sizeof why) !=
		    TLY_OK) {
			fprintf(stderr, "bench_federation: %s\n", why);
			die("pki", TLY_EIO);
		}
	}
}

static void
setup_identities(void)
{
	struct tly_party parties[MAX_NODES];
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];

	check(tly_identity_generate(&fed.coord, TLY_PARTY_COORDINATOR, 0), "coordinator keys");
	for (uint32_t id = 1; id <= node_count; id++) {
		check(tly_identity_generate(&fed.node[id], id, 1), "node keys");
		tly_identity_public(&fed.node[id], &parties[id - 1]);
	}
	tly_sign_key_public(fed.coord.sign, pk);
	check(tly_roster_init(&fed.roster, pk, parties, node_count), "roster");
}

/* Before nng starts: one child per node, each waiting for the ports. */
static void
fork_children(void)
{
	fflush(stdout);
	fflush(stderr);
	for (uint32_t id = 1; id <= node_count; id++) {
		int fds[2];
		if (pipe(fds) != 0)
			die("pipe", TLY_EIO);
		pid_t pid = fork();
		if (pid < 0)
			die("fork", TLY_EIO);
		if (pid == 0) {
			close(fds[1]);
			for (uint32_t j = 1; j < id; j++)
				close(fed.port_fd[j]);
			node_main(id, fds[0], &fed.node[id], &fed.roster);
		}
		close(fds[0]);
		fed.port_fd[id] = fds[1];
		children[id] = pid;
	}
}

static void
open_hubs(void)
{
	char cert[sizeof workdir + 48], key[sizeof workdir + 48], why[300];
	struct tly_tls_files tls;
	int ports[TRANSPORTS];

	tls_files(&tls, cert, key, sizeof cert, "coordinator");
	if (tly_hub_open(&fed.hub[TLS], "tls+tcp://127.0.0.1:0", &tls, &fed.roster, why,
	                 sizeof why) != TLY_OK ||
	    tly_hub_open(&fed.hub[TCP], "tcp://127.0.0.1:0", NULL, &fed.roster, why, sizeof why) !=
	        TLY_OK) {
		fprintf(stderr, "bench_federation: %s\n", why);
		die("hub", TLY_EIO);
	}
	for (int t = 0; t < TRANSPORTS; t++)
		ports[t] = tly_hub_port(fed.hub[t]);
	for (uint32_t id = 1; id <= node_count; id++) {
		if (write(fed.port_fd[id], ports, sizeof ports) != (ssize_t)sizeof ports)
			die("write ports", TLY_EIO);
		close(fed.port_fd[id]);
	}
}

static void
wait_connected(struct tly_hub *hub)
{
	double end = bench_now() + CONNECT_MS / 1000.0;
	struct timespec pause = {0, 20 * 1000 * 1000};

	for (uint32_t id = 1; id <= node_count; id++)
		while (!tly_hub_connected(hub, id)) {
			if (interrupted)
				fail("interrupted", TLY_EABORTED);
			if (bench_now() > end)
				fail("nodes did not all connect", TLY_ETIMEDOUT);
			nanosleep(&pause, NULL);
		}
}

static void
query_init(struct tly_query *q, uint32_t n, size_t d, int noisy)
{
	memset(q, 0, sizeof *q);
	q->protocol = TLY_PROTOCOL_COMMITTEE;
	q->mechanism = noisy ? TLY_MECH_LAPLACE : TLY_MECH_NONE;
	q->privacy_num = noisy ? 1 : 0;
	q->privacy_den = noisy ? 1 : 0;
	q->cells = (uint32_t)d;
	q->sensitivity_l1 = 1;
	q->sensitivity_l2sq = 1;
	q->min_honest = noisy ? n / 2 : 1;
	q->min_contributors = n;
	q->threshold = COMMITTEE_T;
	q->quorum = COMMITTEE_Q;
	q->degree = COMMITTEE_K;
	q->deadline_ms = TLY_DEFAULT_DEADLINE_MS;
	for (uint32_t i = 0; i < n; i++)
		fed.participants[i] = i + 1;
	for (uint32_t j = 0; j < COMMITTEE_K; j++)
		fed.committee[j] = j + 1;
	q->participants = (struct tly_idlist){n, fed.participants};
	q->committee = (struct tly_idlist){COMMITTEE_K, fed.committee};
}

static void
compute_expected(uint32_t n, size_t d)
{
	for (size_t c = 0; c < d; c++) {
		int64_t sum = 0;
		for (uint32_t id = 1; id <= n; id++)
			sum += cell_value(id, c);
		fed.expected[c] = sum;
	}
}

static void
send_box(struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++)
		if (box->items[i].to != TLY_PARTY_COORDINATOR)
			send_to(box->items[i].to, box->items[i].data, box->items[i].len);
	tly_outbox_clear(box);
}

/* One message of the running query into the coordinator's state machine;
 * counts SHAREs. */
static void
coord_take(struct tly_committee_coord *coord, const uint8_t *query_id, uint32_t from,
           const uint8_t *msg, size_t len, struct tly_outbox *box, uint32_t *shares)
{
	struct tly_msg peeked;
	tly_err rv = TLY_OK;

	if (tly_msg_peek(msg, len, &peeked) != TLY_OK || peeked.header.sender != from ||
	    memcmp(peeked.header.query_id, query_id, TLY_QUERY_ID_BYTES) != 0)
		fail("a message that is not this query's", TLY_EFORMAT);
	TIMED(fed.instrument, fed.coord_cpu,
	      rv = tly_committee_coord_receive(coord, msg, len, box));
	check(rv, "coordinator receive");
	if (peeked.header.type == TLY_MSG_SHARE)
		++*shares;
}

/* Rounds 0-3 of one query; the wall seconds to the decoded total. */
static double
protocol_query(const struct tly_query *q, int noisy)
{
	struct tly_committee_coord *coord = NULL;
	struct tly_committee_result result;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	uint32_t shares = 0, n = q->participants.count;
	struct tly_outbox box;

	tly_rng_bytes(&fed.rng, query_id, sizeof query_id);
	tly_outbox_init(&box);
	double start = bench_now();
	TIMED(fed.instrument, fed.coord_cpu,
	      check(tly_committee_coord_alloc(&coord, &fed.coord, &fed.roster, q, query_id, &box),
	            "coordinator alloc"));
	send_box(&box);
	while (tly_committee_coord_phase(coord) != TLY_COMMITTEE_DONE) {
		uint32_t from;
		uint8_t *msg;
		size_t len;
		receive(&from, &msg, &len);
		coord_take(coord, query_id, from, msg, len, &box, &shares);
		free(msg);
		if (tly_committee_coord_phase(coord) == TLY_COMMITTEE_SHARING &&
		    shares == n * COMMITTEE_K)
			TIMED(fed.instrument, fed.coord_cpu,
			      check(tly_committee_coord_close_round(coord, &box), "announce"));
		send_box(&box);
	}
	TIMED(fed.instrument, fed.coord_cpu,
	      check(tly_committee_coord_result(coord, &result), "result"));
	double elapsed = bench_now() - start;
	if (result.contributors.count != n || result.d != q->cells)
		fail("contributors missing from the total", TLY_ETOOFEW);
	for (size_t c = 0; c < result.d && !noisy; c++)
		if (result.cells[c] != fed.expected[c])
			fail("wrong protocol total", TLY_EFORMAT);
	tly_committee_result_fini(&result);
	tly_committee_coord_free(coord);
	tly_outbox_fini(&box);
	return elapsed;
}

/* A masking query (SecAgg, or SecAgg+ with tly_graph_params' degree and
 * threshold, as bench_protocol builds them) over nodes 1..n, every node's
 * input required. */
static void
masking_query_init(struct tly_query *q, uint8_t protocol, uint32_t n, size_t d)
{
	uint16_t degree = (uint16_t)(n - 1), threshold = (uint16_t)((n - 1) / 2 + 1);

	if (protocol == TLY_PROTOCOL_SECAGG_PLUS)
		check(tly_graph_params(n, 40, 20, 0.05, 0.05, &degree, &threshold), "graph params");
	memset(q, 0, sizeof *q);
	q->protocol = protocol;
	q->mechanism = TLY_MECH_NONE;
	q->cells = (uint32_t)d;
	q->sensitivity_l1 = 1;
	q->sensitivity_l2sq = 1;
	q->min_honest = 1;
	q->min_contributors = n;
	q->threshold = threshold;
	q->degree = degree;
	q->deadline_ms = TLY_DEFAULT_DEADLINE_MS;
	for (uint32_t i = 0; i < n; i++)
		fed.participants[i] = i + 1;
	q->participants = (struct tly_idlist){n, fed.participants};
}

/* One message into the server, or at the round's deadline (nothing for
 * ROUND_DEADLINE_MS) the round closed with whoever sent. */
static void
masking_step(struct tly_secagg_server *srv, const uint8_t *query_id, struct tly_outbox *box)
{
	struct tly_msg peeked;
	uint32_t from;
	uint8_t *msg;
	size_t len;
	tly_err rv = TLY_OK;

	if (receive_within(ROUND_DEADLINE_MS, &from, &msg, &len) == TLY_ETIMEDOUT) {
		fprintf(stderr, "bench_federation: a round's deadline passed\n");
		TIMED(fed.instrument, fed.coord_cpu, rv = tly_secagg_server_close_round(srv, box));
		check(rv, "close a round at its deadline");
		return;
	}
	if (tly_msg_peek(msg, len, &peeked) != TLY_OK || peeked.header.sender != from ||
	    memcmp(peeked.header.query_id, query_id, TLY_QUERY_ID_BYTES) != 0)
		fail("a message that is not this query's", TLY_EFORMAT);
	/* A round closes inside receive when its last expected message is in. */
	TIMED(fed.instrument, fed.coord_cpu, rv = tly_secagg_server_receive(srv, msg, len, box));
	free(msg);
	check(rv, "server receive");
}

/* Rounds 0-4 of a SecAgg(+) query; the wall seconds to the decoded total,
 * checked against the plaintext sum. */
static double
masking_query(const struct tly_query *q)
{
	struct tly_secagg_server *srv = NULL;
	struct tly_secagg_result result;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_outbox box;

	tly_rng_bytes(&fed.rng, query_id, sizeof query_id);
	tly_outbox_init(&box);
	double start = bench_now();
	TIMED(fed.instrument, fed.coord_cpu,
	      check(tly_secagg_server_alloc(&srv, &fed.coord, &fed.roster, q, query_id, &box),
	            "server alloc"));
	send_box(&box);
	while (tly_secagg_server_phase(srv) != TLY_SECAGG_DONE) {
		masking_step(srv, query_id, &box);
		send_box(&box);
	}
	TIMED(fed.instrument, fed.coord_cpu,
	      check(tly_secagg_server_result(srv, &result), "result"));
	double elapsed = bench_now() - start;
	if (result.contributors.count != q->participants.count || result.d != q->cells)
		fail("contributors missing from the total", TLY_ETOOFEW);
	for (size_t c = 0; c < result.d; c++)
		if (result.cells[c] != fed.expected[c])
			fail("wrong masking total", TLY_EFORMAT);
	tly_secagg_result_fini(&result);
	tly_secagg_server_free(srv);
	tly_outbox_fini(&box);
	return elapsed;
}

static void
plain_take(uint32_t from, const uint8_t *msg, size_t len, uint32_t n, size_t d, uint8_t *seen)
{
	struct ctrl reply;
	tly_err rv = TLY_OK;

	if (!ctrl_parse(msg, len, &reply) || reply.op != CTRL_PLAIN_VECTOR ||
	    reply.seq != fed.seq || reply.payload_len != TLY_FIELD_ELEMENT_BYTES * d || from < 1 ||
	    from > n || seen[from])
		fail("an unexpected plaintext reply", TLY_EFORMAT);
	seen[from] = 1;
	TIMED(fed.instrument, fed.sum_cpu, {
		rv = tly_field_vec_load(fed.scratch, reply.payload, d);
		if (rv == TLY_OK)
			tly_field_vec_add(fed.acc, fed.scratch, d);
	});
	check(rv, "plaintext vector");
}

/* The baseline: n raw vectors over the same links, summed here. */
static double
plaintext_query(uint32_t n, size_t d)
{
	uint8_t seen[MAX_NODES + 1] = {0};

	fed.seq++;
	double start = bench_now();
	send_ctrl(1, n, CTRL_PLAIN_REQUEST, fed.seq, (uint32_t)d);
	memset(fed.acc, 0, d * sizeof *fed.acc);
	for (uint32_t got = 0; got < n; got++) {
		uint32_t from;
		uint8_t *msg;
		size_t len;
		receive(&from, &msg, &len);
		plain_take(from, msg, len, n, d, seen);
		free(msg);
	}
	double elapsed = bench_now() - start;
	check(tly_field_vec_decode_signed(fed.total, fed.acc, d, NULL), "decode");
	for (size_t c = 0; c < d; c++)
		if (fed.total[c] != fed.expected[c])
			fail("wrong plaintext total", TLY_EFORMAT);
	return elapsed;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double
median(double *v, int count)
{
	qsort(v, (size_t)count, sizeof *v, compare_double);
	return v[count / 2];
}

static void
params(char *out, size_t len, const char *mode, const char *transport, uint32_t n, size_t d)
{
	if (transport != NULL)
		snprintf(out, len, "\"mode=%s,transport=%s,n=%u,d=%zu\"", mode, transport, n, d);
	else
		snprintf(out, len, "\"mode=%s,n=%u,d=%zu\"", mode, n, d);
}

static int
reps_for(const struct point *pt)
{
	if (bench_quick())
		return 1;
	if (pt->n == plan.focus.n && pt->d == plan.focus.d)
		return REPS_TARGET;
	return pt->n >= 50 || pt->d >= 100000 ? REPS_HEAVY : REPS;
}

/* What a query runs: the plaintext baseline or one of the protocols. */
enum mode { MODE_PLAINTEXT, MODE_COMMITTEE, MODE_SECAGG, MODE_SECAGG_PLUS, MODES };
static const char *const mode_name[MODES] = {"plaintext", "committee", "secagg", "secagg_plus"};

static void
mode_query_init(struct tly_query *q, enum mode mode, uint32_t n, size_t d)
{
	if (mode == MODE_SECAGG || mode == MODE_SECAGG_PLUS)
		masking_query_init(
		    q, mode == MODE_SECAGG ? TLY_PROTOCOL_SECAGG : TLY_PROTOCOL_SECAGG_PLUS, n, d);
	else
		query_init(q, n, d, 0); /* the plaintext mode reads only n and d */
}

/* One query of mode; the wall seconds, every total checked. */
static double
mode_query(enum mode mode, const struct tly_query *q)
{
	switch (mode) {
	case MODE_PLAINTEXT:
		return plaintext_query(q->participants.count, q->cells);
	case MODE_COMMITTEE:
		return protocol_query(q, 0);
	default:
		return masking_query(q);
	}
}

/* Protocol and plaintext alternating, after one warm-up of each: the
 * medians and the bytes of the last repetition into *m. */
static void
measure_pair(enum mode mode, const struct point *pt, int reps, struct measured *m)
{
	double proto[MAX_REPS], plain[MAX_REPS];
	struct tly_query q;

	mode_query_init(&q, mode, pt->n, pt->d);
	compute_expected(pt->n, pt->d);
	mode_query(mode, &q);
	plaintext_query(pt->n, pt->d);
	for (int r = 0; r < reps; r++) {
		fed.bytes = 0;
		proto[r] = mode_query(mode, &q);
		m->protocol_bytes = fed.bytes;
		fed.bytes = 0;
		plain[r] = plaintext_query(pt->n, pt->d);
		m->plain_bytes = fed.bytes;
	}
	m->protocol = median(proto, reps);
	m->plaintext = median(plain, reps);
}

static void
run_point(enum transport tr, size_t index)
{
	const struct point *pt = &plan.list[index];
	struct measured *m = &fed.result[tr][index];
	char p[128];

	fprintf(stderr, "bench_federation: %s n=%u d=%zu\n", transport_name[tr], pt->n, pt->d);
	measure_pair(MODE_COMMITTEE, pt, reps_for(pt), m);
	params(p, sizeof p, "committee", transport_name[tr], pt->n, pt->d);
	bench_row("federation", "query", p, m->protocol * 1e3, "ms", "plaintext_same_transport",
	          m->plaintext * 1e3);
}

/* SecAgg and SecAgg+ end to end at the focus point (issue 14's goal:
 * SecAgg+ <= 1.5x the plaintext sum over the same links at n = 20,
 * d = 10^4), each against its own alternating plaintext runs. */
static void
run_masking(enum transport tr)
{
	for (enum mode mode = MODE_SECAGG; mode <= MODE_SECAGG_PLUS; mode++) {
		struct measured m;
		struct tly_query q;
		char p[160];

		fprintf(stderr, "bench_federation: %s %s n=%u d=%zu\n", transport_name[tr],
		        mode_name[mode], plan.focus.n, plan.focus.d);
		measure_pair(mode, &plan.focus, reps_for(&plan.focus), &m);
		mode_query_init(&q, mode, plan.focus.n, plan.focus.d);
		snprintf(p, sizeof p, "\"mode=%s,transport=%s,n=%u,d=%zu,degree=%u,t=%u\"",
		         mode_name[mode], transport_name[tr], plan.focus.n, plan.focus.d,
		         (unsigned)q.degree, (unsigned)q.threshold);
		bench_row("federation", "query", p, m.protocol * 1e3, "ms",
		          "plaintext_same_transport", m.plaintext * 1e3);
		bench_row("federation", "bytes_per_query", p, (double)m.protocol_bytes * 1e-6, "MB",
		          "plaintext_bytes", (double)m.plain_bytes * 1e-6);
	}
}

/* The focus point once more with discrete Laplace noise on. */
static void
run_noisy(enum transport tr, size_t focus)
{
	uint32_t n = plan.focus.n;
	double proto[MAX_REPS];
	struct tly_query q;
	char p[160];

	query_init(&q, n, plan.focus.d, 1);
	protocol_query(&q, 1);
	int reps = (int)bench_pick(REPS, 1);
	for (int r = 0; r < reps; r++)
		proto[r] = protocol_query(&q, 1);
	snprintf(p, sizeof p, "\"mode=committee_laplace,transport=%s,n=%u,d=%zu,epsilon=1,h=%u\"",
	         transport_name[tr], n, plan.focus.d, n / 2);
	bench_row("federation", "query", p, median(proto, reps) * 1e3, "ms",
	          "plaintext_same_transport", fed.result[tr][focus].plaintext * 1e3);
}

/* The children's totals since CTRL_STATS_RESET, summed over nodes 1..n,
 * and their largest values. */
static void
collect_stats(uint32_t n, double sums[STATS_FIELDS], double max[STATS_FIELDS])
{
	uint8_t seen[MAX_NODES + 1] = {0};

	memset(sums, 0, STATS_FIELDS * sizeof *sums);
	memset(max, 0, STATS_FIELDS * sizeof *max);
	fed.seq++;
	send_ctrl(1, n, CTRL_STATS_REQUEST, fed.seq, 0);
	for (uint32_t got = 0; got < n; got++) {
		struct ctrl reply;
		uint32_t from;
		uint8_t *msg;
		size_t len;
		receive(&from, &msg, &len);
		if (!ctrl_parse(msg, len, &reply) || reply.op != CTRL_STATS ||
		    reply.seq != fed.seq || reply.payload_len != 8 * STATS_FIELDS || from < 1 ||
		    from > n || seen[from])
			fail("an unexpected stats reply", TLY_EFORMAT);
		seen[from] = 1;
		for (int i = 0; i < STATS_FIELDS; i++) {
			double v = (double)tly_load_be64(reply.payload + 8 * i) * 1e-9;
			sums[i] += v;
			max[i] = v > max[i] ? v : max[i];
		}
		free(msg);
	}
}

static void
cpu_row(const char *measure, const char *p, double seconds, double total)
{
	double per_query = 1e3 / BREAKDOWN_QUERIES;
	bench_row("federation", measure, p, seconds * per_query, "ms", "cpu_total",
	          total * per_query);
}

/* The CPU rows of a breakdown: the state machines' (or the plaintext
 * encoding and sum) and the rest of each process, against the total. */
static void
breakdown_rows(enum mode mode, const char *p, const double node[STATS_FIELDS], double coord_proc)
{
	double node_work =
	    node[STAT_ANSWER] + node[STAT_MEMBER] + node[STAT_ENCODE] + node[STAT_CLIENT];
	double total = node[STAT_PROCESS] + coord_proc;

	if (mode == MODE_PLAINTEXT) {
		cpu_row("cpu_node_encode", p, node[STAT_ENCODE], total);
		cpu_row("cpu_coordinator_sum", p, fed.sum_cpu, total);
	} else if (mode == MODE_COMMITTEE) {
		cpu_row("cpu_node_answer", p, node[STAT_ANSWER], total);
		cpu_row("cpu_member", p, node[STAT_MEMBER], total);
		cpu_row("cpu_coordinator", p, fed.coord_cpu, total);
	} else {
		cpu_row("cpu_client", p, node[STAT_CLIENT], total);
		cpu_row("cpu_coordinator", p, fed.coord_cpu, total);
	}
	cpu_row("cpu_transport_nodes", p, node[STAT_PROCESS] - node_work, total);
	cpu_row("cpu_transport_coordinator", p, coord_proc - fed.coord_cpu - fed.sum_cpu, total);
	cpu_row("cpu_total", p, total, total);
}

/* Where the CPU of BREAKDOWN_QUERIES queries of one mode goes. */
static void
breakdown(enum transport tr, enum mode mode)
{
	uint32_t n = plan.focus.n;
	size_t d = plan.focus.d;
	double node[STATS_FIELDS], node_max[STATS_FIELDS];
	struct tly_query q;
	char p[128];

	mode_query_init(&q, mode, n, d);
	compute_expected(n, d);
	send_ctrl(1, n, CTRL_STATS_RESET, 0, 0);
	fed.coord_cpu = fed.sum_cpu = 0;
	fed.instrument = 1;
	fed.bytes = 0;
	double cpu0 = process_cpu(), wall0 = bench_now();
	for (int i = 0; i < BREAKDOWN_QUERIES; i++)
		mode_query(mode, &q);
	double wall = bench_now() - wall0, coord_proc = process_cpu() - cpu0;
	fed.instrument = 0;
	collect_stats(n, node, node_max);
	if (mode == MODE_PLAINTEXT || mode == MODE_COMMITTEE) { /* for summary() */
		int plaintext = mode == MODE_PLAINTEXT;
		double work = node[STAT_ANSWER] + node[STAT_MEMBER] + node[STAT_ENCODE] +
		              fed.coord_cpu + fed.sum_cpu;
		fed.transport_cpu[tr][plaintext] =
		    (node[STAT_PROCESS] + coord_proc - work) / BREAKDOWN_QUERIES;
		fed.transport_bytes[tr][plaintext] = (double)fed.bytes / BREAKDOWN_QUERIES;
	}
	params(p, sizeof p, mode_name[mode], transport_name[tr], n, d);
	bench_row("federation", "breakdown_wall", p, wall * 1e3 / BREAKDOWN_QUERIES, "ms", NULL, 0);
	breakdown_rows(mode, p, node, coord_proc);
}

static size_t
focus_index(void)
{
	for (size_t i = 0; i < plan.count; i++)
		if (plan.list[i].n == plan.focus.n && plan.list[i].d == plan.focus.d)
			return i;
	die("the focus point is not in the plan", TLY_EINVAL);
	return 0;
}

static void
run_transport(enum transport tr)
{
	fed.now = fed.hub[tr];
	wait_connected(fed.now);
	for (size_t i = 0; i < plan.count; i++)
		run_point(tr, i);
	run_masking(tr);
	if (tr == TLS)
		run_noisy(tr, focus_index());
	breakdown(tr, MODE_COMMITTEE);
	breakdown(tr, MODE_PLAINTEXT);
	breakdown(tr, MODE_SECAGG_PLUS);
	send_ctrl(1, node_count, CTRL_NEXT_TRANSPORT, 0, 0);
}

/* Seconds per byte to seal and then open AEAD_BYTES with alg. */
static double
aead_seconds_per_byte(enum tly_aead_alg alg)
{
	uint8_t *pt = xmalloc(AEAD_BYTES), *ct = xmalloc(AEAD_BYTES + TLY_AEAD_TAG_BYTES);
	uint8_t key[TLY_AEAD_KEY_BYTES], nonce[TLY_AEAD_NONCE_MAX] = {0};
	double times[REPS];

	tly_rng_bytes(&fed.rng, key, sizeof key);
	tly_rng_bytes(&fed.rng, pt, AEAD_BYTES);
	for (int r = 0; r <= REPS; r++) {
		nonce[0] = (uint8_t)r; /* one nonce per seal under this key */
		double start = thread_cpu();
		check(tly_aead_seal(alg, ct, pt, AEAD_BYTES, NULL, 0, nonce, key), "seal");
		check(tly_aead_open(alg, pt, ct, AEAD_BYTES + TLY_AEAD_TAG_BYTES, NULL, 0, nonce,
		                    key),
		      "open");
		if (r > 0) /* the first is a warm-up */
			times[r - 1] = thread_cpu() - start;
	}
	free(pt);
	free(ct);
	return median(times, REPS) / AEAD_BYTES;
}

/* Rows that need both transports. */
static void
summary(void)
{
	double sodium = aead_seconds_per_byte(TLY_AEAD_XCHACHA20POLY1305);
	double openssl = aead_seconds_per_byte(TLY_AEAD_AES256GCM);
	char p[128];

	bench_row("federation", "aead_seal_open", "\"aead=xchacha20poly1305,lib=libsodium\"",
	          sodium * 1e9, "ns/B", NULL, 0);
	bench_row("federation", "aead_seal_open", "\"aead=aes256gcm,lib=openssl\"", openssl * 1e9,
	          "ns/B", NULL, 0);
	for (int plaintext = 0; plaintext < 2; plaintext++) {
		/* The CPU that TLS adds per byte through the hub, both ends. */
		double extra =
		    fed.transport_cpu[TLS][plaintext] - fed.transport_cpu[TCP][plaintext];
		params(p, sizeof p, plaintext ? "plaintext" : "committee", NULL, plan.focus.n,
		       plan.focus.d);
		bench_row("federation", "tls_cpu_per_byte", p,
		          extra / fed.transport_bytes[TCP][plaintext] * 1e9, "ns/B",
		          "libsodium_seal_open", sodium * 1e9);
	}
	for (size_t i = 0; i < plan.count; i++) {
		const struct measured *tls = &fed.result[TLS][i], *tcp = &fed.result[TCP][i];
		uint32_t n = plan.list[i].n;
		size_t d = plan.list[i].d;
		double proto_bytes = (double)tcp->protocol_bytes;
		double plain_bytes = (double)tcp->plain_bytes;
		double app = tcp->protocol + proto_bytes * sodium;
		double app_plain = tcp->plaintext + plain_bytes * sodium;

		params(p, sizeof p, "committee", NULL, n, d);
		bench_row("federation", "tls_over_tcp", p, tls->protocol * 1e3, "ms",
		          "committee_tcp", tcp->protocol * 1e3);
		bench_row("federation", "bytes_per_query", p, proto_bytes * 1e-6, "MB",
		          "plaintext_bytes", plain_bytes * 1e-6);
		bench_row("federation", "projected_app_channel", p, app * 1e3, "ms",
		          "committee_tls", tls->protocol * 1e3);
		bench_row("federation", "projected_app_channel", p, app * 1e3, "ms",
		          "plaintext_projected_app_channel", app_plain * 1e3);
		params(p, sizeof p, "plaintext", NULL, n, d);
		bench_row("federation", "tls_over_tcp", p, tls->plaintext * 1e3, "ms",
		          "plaintext_tcp", tcp->plaintext * 1e3);
	}
}

/* ---- the scale sweep (issue 14 §5): its own process tree ---- */

enum {
	SCALE_D = 1000,
	SCALE_QUICK_D = 100,
	SCALE_QUICK_NODES = 10,
	SCALE_REPS = 5,
	SCALE_POINTS = 4,
};
static const uint32_t scale_full[SCALE_POINTS] = {25, 50, 100, MAX_NODES};
static const uint32_t scale_quick[] = {QUICK_N, SCALE_QUICK_NODES};
static const enum mode scale_modes[] = {MODE_PLAINTEXT, MODE_COMMITTEE, MODE_SECAGG_PLUS};
enum { SCALE_MODES = sizeof scale_modes / sizeof scale_modes[0] };

enum scale_measure {
	SC_CPU_NODE,  /* mean over the n nodes, per query */
	SC_CPU_COORD, /* the coordinator process, per query */
	SC_RSS_NODE,  /* mean over the n nodes of the peak RSS */
	SC_RSS_NODE_MAX,
	SC_RSS_COORD,
	SC_WALL,
	SC_CPU_NODE_WORK,  /* of SC_CPU_NODE: in the state machine (or encoding) */
	SC_CPU_COORD_WORK, /* of SC_CPU_COORD: in the state machine (or sum) */
	SC_MEASURES,
};
static const char *const sc_name[SC_MEASURES] = {
    "scale_cpu_node",      "scale_cpu_coordinator",     "scale_rss_node",
    "scale_rss_node_max",  "scale_rss_coordinator",     "scale_wall",
    "scale_cpu_node_work", "scale_cpu_coordinator_work"};
static const char *const sc_unit[SC_MEASURES] = {"ms", "ms", "MB", "MB", "MB", "ms", "ms", "ms"};

/* reps queries of mode over nodes 1..n after a warm-up: CPU per query of
 * every process (from each one's CLOCK_PROCESS_CPUTIME_ID: user + sys, all
 * threads) and peak RSS (VmHWM, reset after the warm-up) into out. */
static void
scale_point(enum mode mode, uint32_t n, size_t d, int reps, double out[SC_MEASURES])
{
	double wall[MAX_REPS], node[STATS_FIELDS], node_max[STATS_FIELDS];
	struct tly_query q;

	mode_query_init(&q, mode, n, d);
	compute_expected(n, d);
	mode_query(mode, &q);
	send_ctrl(1, n, CTRL_STATS_RESET, 0, 1);
	malloc_trim(0);
	reset_peak_rss();
	fed.coord_cpu = fed.sum_cpu = 0;
	fed.instrument = 1;
	double cpu0 = process_cpu();
	for (int r = 0; r < reps; r++)
		wall[r] = mode_query(mode, &q);
	out[SC_CPU_COORD] = (process_cpu() - cpu0) / reps * 1e3;
	fed.instrument = 0;
	out[SC_CPU_COORD_WORK] = (fed.coord_cpu + fed.sum_cpu) / reps * 1e3;
	out[SC_RSS_COORD] = peak_rss_kb() / 1024;
	collect_stats(n, node, node_max);
	out[SC_CPU_NODE] = node[STAT_PROCESS] / n / reps * 1e3;
	out[SC_CPU_NODE_WORK] =
	    (node[STAT_ANSWER] + node[STAT_MEMBER] + node[STAT_ENCODE] + node[STAT_CLIENT]) / n /
	    reps * 1e3;
	out[SC_RSS_NODE] = node[STAT_HWM] / n / 1024;
	out[SC_RSS_NODE_MAX] = node_max[STAT_HWM] / 1024;
	out[SC_WALL] = median(wall, reps) * 1e3;
}

/* Least squares slope of log y on log x over count points. */
static double
log_log_slope(const uint32_t *x, const double *y, size_t count)
{
	double mx = 0, my = 0, sxy = 0, sxx = 0;

	for (size_t i = 0; i < count; i++) {
		mx += log((double)x[i]) / (double)count;
		my += log(y[i]) / (double)count;
	}
	for (size_t i = 0; i < count; i++) {
		double dx = log((double)x[i]) - mx;
		sxy += dx * (log(y[i]) - my);
		sxx += dx * dx;
	}
	return sxx > 0 ? sxy / sxx : 0;
}

static void
scale_slopes(enum mode mode, const uint32_t *ns, size_t count, size_t d,
             double v[SCALE_POINTS][SC_MEASURES])
{
	double y[SCALE_POINTS];
	char p[160];

	for (int m = 0; m < SC_MEASURES; m++) {
		for (size_t i = 0; i < count; i++)
			y[i] = v[i][m];
		snprintf(p, sizeof p, "\"mode=%s,measure=%s,n=%u..%u,d=%zu\"", mode_name[mode],
		         sc_name[m], ns[0], ns[count - 1], d);
		bench_row("federation", "scale_slope", p, log_log_slope(ns, y, count), "log/log",
		          NULL, 0);
	}
}

/* Every mode at every n over TLS: the rows, then the slopes. */
static void
scale_run(void)
{
	const uint32_t *ns = bench_quick() ? scale_quick : scale_full;
	size_t count = bench_quick() ? sizeof scale_quick / sizeof *ns : SCALE_POINTS;
	int reps = (int)bench_pick(SCALE_REPS, 1);
	double v[SCALE_POINTS][SC_MEASURES];
	char p[160];

	fed.now = fed.hub[TLS];
	wait_connected(fed.now);
	for (size_t k = 0; k < SCALE_MODES; k++) {
		enum mode mode = scale_modes[k];
		for (size_t i = 0; i < count; i++) {
			fprintf(stderr, "bench_federation: scale %s n=%u d=%zu\n", mode_name[mode],
			        ns[i], node_max_d);
			scale_point(mode, ns[i], node_max_d, reps, v[i]);
			params(p, sizeof p, mode_name[mode], "tls", ns[i], node_max_d);
			for (int m = 0; m < SC_MEASURES; m++)
				bench_row("federation", sc_name[m], p, v[i][m], sc_unit[m], NULL,
				          0);
		}
		scale_slopes(mode, ns, count, node_max_d, v);
	}
}

static void
teardown(void)
{
	stop_children();
	for (int t = 0; t < TRANSPORTS; t++)
		tly_hub_close(fed.hub[t]);
	for (uint32_t id = 1; id <= node_count; id++)
		tly_identity_fini(&fed.node[id]);
	tly_identity_fini(&fed.coord);
	tly_roster_fini(&fed.roster);
	tly_rng_fini(&fed.rng);
	free(fed.acc);
	free(fed.scratch);
	free(fed.total);
	free(fed.expected);
	remove_workdir();
}

/* ---- the research sweep (make sweep; docs/BENCHMARKS.md, "Sweeps") ---- */

/* Over n at d = 10^4, then over d at n = 20 (10^4 already done); the
 * short pass over n at d = 100 and over d at n = 5. */
static const struct point sweep_full[] = {
    {5, 10000}, {10, 10000}, {20, 10000}, {50, 10000},  {100, 10000}, {MAX_NODES, 10000},
    {20, 100},  {20, 1000},  {20, 30000}, {20, 100000}, {20, 300000},
};
static const struct point sweep_quick[] = {{5, 100}, {6, 100}, {5, 300}};
enum { SWEEP_REPS = 5 };

static void setup_tree(uint32_t nodes, size_t max_d);

static void
sweep_plan(void)
{
	plan.sweep = 1;
	plan.list = bench_quick() ? sweep_quick : sweep_full;
	plan.count = bench_quick() ? sizeof sweep_quick / sizeof sweep_quick[0]
	                           : sizeof sweep_full / sizeof sweep_full[0];
	plan.focus = plan.list[0];
}

/* Each protocol at pt over TLS against its own alternating plaintext runs:
 * median wall time and the bytes through the hub per query. */
static void
sweep_point(enum mode mode, const struct point *pt)
{
	struct measured m;
	char p[128];

	fprintf(stderr, "bench_federation: sweep %s n=%u d=%zu\n", mode_name[mode], pt->n, pt->d);
	measure_pair(mode, pt, bench_quick() ? 1 : SWEEP_REPS, &m);
	params(p, sizeof p, mode_name[mode], transport_name[TLS], pt->n, pt->d);
	bench_row("sweep", "time", p, m.protocol * 1e3, "ms", "plaintext_same_transport",
	          m.plaintext * 1e3);
	bench_row("sweep", "bytes", p, (double)m.protocol_bytes * 1e-6, "MB", "plaintext_bytes",
	          (double)m.plain_bytes * 1e-6);
}

/* Children for the largest n of the plan, serving its largest d. */
static void
sweep_run(void)
{
	uint32_t most_n = 0;
	size_t most_d = 0;

	for (size_t i = 0; i < plan.count; i++) {
		most_n = plan.list[i].n > most_n ? plan.list[i].n : most_n;
		most_d = plan.list[i].d > most_d ? plan.list[i].d : most_d;
	}
	setup_tree(most_n, most_d);
	fed.now = fed.hub[TLS];
	wait_connected(fed.now);
	for (size_t i = 0; i < plan.count; i++)
		for (enum mode mode = MODE_COMMITTEE; mode < MODES; mode++)
			sweep_point(mode, &plan.list[i]);
	teardown();
}

/* `bench_federation N D`: that point alone, with its breakdown. */
static void
parse_args(int argc, char **argv)
{
	static struct point single;
	char *end1 = NULL, *end2 = NULL;

	if (argc == 1 && bench_quick()) { /* the short pass: one small point */
		single = (struct point){QUICK_N, 1000};
		plan.list = &single;
		plan.count = 1;
		plan.focus = single;
		return;
	}
	if (argc == 1)
		return;
	if (argc == 2 && strcmp(argv[1], "scale") == 0) {
		plan.scale = SCALE_ONLY;
		return;
	}
	plan.scale = SCALE_NONE;
	if (argc == 2 && strcmp(argv[1], "sweep") == 0) {
		sweep_plan();
		return;
	}
	unsigned long n = argc == 3 ? strtoul(argv[1], &end1, 10) : 0;
	unsigned long d = argc == 3 ? strtoul(argv[2], &end2, 10) : 0;
	if (argc != 3 || *end1 != '\0' || *end2 != '\0' || n < COMMITTEE_K || n > MAIN_NODES ||
	    d < 1 || d > MAX_D) {
		fprintf(stderr,
		        "usage: bench_federation [scale | sweep | N D]  (%d <= N <= %d, 1 <= D <= "
		        "%d)\n",
		        COMMITTEE_K, MAIN_NODES, MAX_D);
		exit(2);
	}
	single = (struct point){(uint32_t)n, (size_t)d};
	plan.list = &single;
	plan.count = 1;
	plan.focus = single;
}

/* This process tree: keys, certificates and `nodes` children serving up
 * to max_d cells, then the hubs. */
static void
setup_tree(uint32_t nodes, size_t max_d)
{
	node_count = nodes;
	node_max_d = max_d;
	parent_pid = getpid();
	setup_pki();
	setup_identities();
	fed.acc = xmalloc(max_d * sizeof *fed.acc);
	fed.scratch = xmalloc(max_d * sizeof *fed.scratch);
	fed.total = xmalloc(max_d * sizeof *fed.total);
	fed.expected = xmalloc(max_d * sizeof *fed.expected);
	fork_children();
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	tly_rng_init(&fed.rng);
	open_hubs();
}

/* The scale sweep in a process of its own, forked before nng starts here,
 * with its own MAX_NODES children (SCALE_QUICK_NODES in the short pass):
 * their memory holds only the sweep's. Nonzero when it failed. */
static int
run_scale_tree(void)
{
	int status = 0;

	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", TLY_EIO);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		setup_tree(bench_quick() ? SCALE_QUICK_NODES : MAX_NODES,
		           bench_quick() ? SCALE_QUICK_D : SCALE_D);
		scale_run();
		teardown();
		exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "bench_federation: the scale sweep failed\n");
	return 1;
}

int
main(int argc, char **argv)
{
	int failed = 0;

	parse_args(argc, argv);
	/* As node/main.c and coordinator/main.c do; the children inherit it. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	signal(SIGPIPE, SIG_IGN);
	check(tly_crypto_init(), "crypto init");
	bench_header();
	if (plan.scale != SCALE_NONE)
		failed = run_scale_tree();
	if (plan.scale == SCALE_ONLY)
		return failed;
	if (plan.sweep) {
		sweep_run();
		return 0;
	}
	setup_tree(MAIN_NODES, MAX_D);
	run_transport(TLS);
	run_transport(TCP);
	tly_hub_close(fed.hub[TLS]); /* every node moved to tcp and then left */
	fed.hub[TLS] = NULL;
	summary();
	teardown();
	return failed;
}
