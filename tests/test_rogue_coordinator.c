/*
 * A malicious coordinator, simulated, against real trust nodes.
 *
 * Each test starts a real federation (`tally demo --serve`: PKI, SQLite
 * data, tally-node daemons over mutual TLS). For the rogue tests the real
 * coordinator is then stopped and this process takes its place: a hub
 * (net/transport.h) on the coordinator's address, with the
 * coordinator's TLS certificate and its real signing key, so the daemons
 * redial to it and everything they do is what they would do for a
 * coordinator gone bad. It sends crafted QUERY messages and checks each
 * node's answer (RECEIPT or REFUSAL on the wire), its log, and its ledger
 * (node/ledger.h, and `tally-node ledger show`):
 *
 *   a) a replay of an answered QUERY (same bytes): REFUSAL, a signed
 *      refusal entry (replay), no second charge;
 *   b) a query id reused with the same spec and other round data
 *      (deadline): the same; with another spec, which the log cannot
 *      commit a second time: refused as a query outside the log, nothing
 *      recorded;
 *   c) a query over the per-query cap, and queries up to and past the
 *      total budget: refusal entries (per-query, budget), the spend never
 *      over the cap, exact at the boundary; `tally-node answer` exits 3;
 *   d) unsigned (zero or missing signature), signed by a stranger's key,
 *      signed by a node's key, and a validly signed QUERY whose spec does
 *      not hash to its query_hash: refused, not charged, not in the ledger
 *      (they cannot be attributed to the coordinator: see THREAT_MODEL),
 *      and named in the node's log; the daemon keeps serving;
 *   e) a release logged (with the coordinator's real key) listing a node
 *      as dropped although it answered: `tally audit verify --dir` fails
 *      naming the node and the query, while the consistent log passed.
 *
 *   f) no query outside the log (docs/PROTOCOL.md 5.4): a QUERY with no
 *      log section or a head without it is refused by every node, nothing
 *      charged; a forked log is refused by a node that saw the other and
 *      fails the audit; the truncated log (and one with a hole)
 *      fails `tally audit verify --strict`, naming node, query and head.
 *
 *   g) pairwise masking (SecAgg, five sites, k = 4, t = 3, Q = 4), a real
 *      tly_secagg_server here relaying rounds 0 to 2: at SURVIVORS two
 *      views, correctly signed (all five to nodes 1, 2, 5; node 5
 *      "dropped" to nodes 3, 4), then to each node the CONSISTENCY
 *      signatures over its own view (below Q), and in another query those
 *      of both views: every node refuses the SIGNATURE_LIST, stops and
 *      wipes its secrets, sends no UNMASK (within 20 rounds' time, 3 s at
 *      least), and is charged once per query. The control: the same
 *      crafted messages with one view (U3a to all, all five signatures)
 *      are unmasked by every node; an honest query after them is released.
 *
 * The differencing test uses the whole real federation (coordinator too):
 * two queries whose answers differ by exactly one person are answered
 * while the budget lasts, each charged in every ledger, then refused; and
 * their differences carry noise of the stated scale, not the person.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli/audit.h"
#include "coordinator/config.h"
#include "coordinator/release.h"
#include "coordinator/translog.h"
#include "crypto/rng.h"
#include "federation.h"
#include "log_fixture.h"
#include "node/ledger.h"
#include "node/ledger_heads.h"
#include "store/head.h"
#include "wire/codec.h"
#include "protocol/committee.h"
#include "protocol/secagg.h"
#include "store/keys.h"
#include "query/noise.h"
#include "query/spec.h"
#include "net/transport.h"
#include "tests/daemons.h"

enum { SITES = 4, MAX_SITES = 5, WAIT_MS = 60000 };

static char dir[] = "/tmp/tally-rogue-XXXXXX";
static uint32_t deadline_ms = 10000; /* of the QUERYs make_query builds */
static char bin[1024];
static unsigned sites;
static int started; /* a federation runs in dir: stop it however the test ends */

static void path_of(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
path_of(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int used = snprintf(out, len, "%s/", dir);
	va_start(ap, fmt);
	vsnprintf(out + used, len - (size_t)used, fmt, ap);
	va_end(ap);
}

/* Run a program from build/bin, its output appended to DIR/out.txt; its
 * exit code. */
static int
run(const char *const argv[])
{
	char program[1200], log[300];

	snprintf(program, sizeof program, "%s/%s", bin, argv[0]);
	path_of(log, sizeof log, "out.txt");
	return dmn_wait(dmn_spawn(program, argv, log, 0));
}

/* The output of the last run(). */
static char *
output(void)
{
	char log[300];
	path_of(log, sizeof log, "out.txt");
	return dmn_slurp(log, NULL);
}

static void
start_federation(unsigned count, int people)
{
	char n[16], p[16];

	cr_assert_eq(tly_crypto_init(), TLY_OK);
	const char *env = getenv("TALLY_BIN");
	snprintf(bin, sizeof bin, "%s", env != NULL ? env : "build/bin");
	cr_assert_not_null(mkdtemp(dir));
	started = 1;
	sites = count;
	snprintf(n, sizeof n, "%u", count);
	snprintf(p, sizeof p, "%d", people);
	cr_assert_eq(run((const char *const[]){"tally", "demo", "--serve", "--dir", dir, "--sites",
	                                       n, "--people", p, "--seed", "5", NULL}),
	             0, "demo --serve failed: %s", output());
}

static void
stop_federation(void)
{
	char cmd[300];
	if (!started)
		return;
	started = 0;
	run((const char *const[]){"tally", "demo", "--stop", "--dir", dir, NULL});
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

/* The pid a daemon wrote; the file must be there. */
static pid_t
pid_of(const char *name)
{
	pid_t pid = dmn_pid_of(dir, name);
	cr_assert_gt(pid, 0, "%s/run/%s.pid", dir, name);
	return pid;
}

/* ---- the rogue coordinator ---- */

struct rogue {
	struct tly_coord_config *cfg;
	struct tly_identity key;      /* the coordinator's real signing key */
	struct tly_identity stranger; /* a key in no registry */
	struct tly_identity node1;    /* node 1's own signing key */
	struct tly_roster roster;
	struct tly_catalogue cat;
	struct tly_hub *hub;
	struct tly_rng rng;
	/* Where seal_query commits each QUERY (docs/PROTOCOL.md 5.4). */
	enum { LOG_MEMORY, LOG_NONE, LOG_REAL, LOG_FORK, LOG_REUSE } log_mode;
	uint8_t *last; /* LOG_REUSE: the last commitment made */
	uint32_t last_len;
	struct test_log mem;       /* LOG_MEMORY: the rogue's own log */
	struct test_log fork;      /* LOG_FORK: another log, for the fork test */
	struct tly_translog *real; /* LOG_REAL: the coordinator's log file */
};

/* What one node sent back about one query. */
struct reply {
	int receipt;                         /* a RECEIPT arrived */
	int refusal;                         /* a REFUSAL arrived */
	char text[TLY_REFUSAL_TEXT_MAX + 1]; /* its text */
	uint8_t receipt_bytes[TLY_RECEIPT_MAX_BYTES];
	size_t receipt_len;
};

static void
rogue_open(struct rogue *r)
{
	struct tly_field_error cerr;
	char path[300], why[600];

	memset(r, 0, sizeof *r);
	r->cfg = calloc(1, sizeof *r->cfg);
	cr_assert_not_null(r->cfg);
	path_of(path, sizeof path, "coordinator/coordinator.conf");
	cr_assert_eq(tly_coord_config_load(r->cfg, path, &cerr), TLY_OK, "%s", cerr.reason);
	cr_assert_eq(tly_identity_from_files(&r->key, TLY_PARTY_COORDINATOR, r->cfg->sign_key, NULL,
	                                     why, sizeof why),
	             TLY_OK, "%s", why);
	cr_assert_eq(tly_identity_generate(&r->stranger, TLY_PARTY_COORDINATOR, 0), TLY_OK);
	char sign[300], kx[300];
	path_of(sign, sizeof sign, "site-1/keys/node.sign");
	path_of(kx, sizeof kx, "site-1/keys/node.kx");
	cr_assert_eq(tly_identity_from_files(&r->node1, 1, sign, kx, why, sizeof why), TLY_OK, "%s",
	             why);
	cr_assert_eq(tly_registry_load(&r->roster, r->cfg->registry, why, sizeof why), TLY_OK, "%s",
	             why);
	char *cat = dmn_slurp(r->cfg->catalogue, NULL);
	struct tly_field_error serr;
	cr_assert_eq(tly_catalogue_parse(&r->cat, cat, strlen(cat), &serr), TLY_OK, "%s",
	             serr.reason);
	free(cat);
	tly_rng_init(&r->rng);

	/* Stop the real coordinator, and take its place. */
	pid_t pid = pid_of("coordinator");
	cr_assert_eq(kill(pid, SIGTERM), 0);
	for (int i = 0; i < 200 && kill(pid, 0) == 0; i++)
		dmn_pause_ms(50);
	cr_assert_neq(kill(pid, 0), 0, "the coordinator did not stop");
	struct tly_tls_files tls = {
	    .cert = r->cfg->tls_cert, .key = r->cfg->tls_key, .ca = r->cfg->tls_node_ca};
	tly_err rv = TLY_EIO;
	for (int i = 0; i < 50 && rv != TLY_OK; i++) {
		rv = tly_hub_open(&r->hub, r->cfg->listen, &tls, &r->roster, why, sizeof why);
		if (rv != TLY_OK)
			dmn_pause_ms(200);
	}
	cr_assert_eq(rv, TLY_OK, "cannot listen on %s: %s", r->cfg->listen, why);
	/* The daemons redial (backoff up to 2 s). */
	for (int i = 0; i < WAIT_MS / 100; i++) {
		unsigned connected = 0;
		for (uint32_t n = 1; n <= sites; n++)
			connected += tly_hub_connected(r->hub, n) != 0;
		if (connected == sites)
			return;
		dmn_pause_ms(100);
	}
	cr_assert_fail("the nodes did not connect to the rogue coordinator");
}

static void
rogue_close(struct rogue *r)
{
	tly_hub_close(r->hub);
	tly_translog_close(r->real);
	free(r->last);
	test_log_fini(&r->mem);
	test_log_fini(&r->fork);
	tly_catalogue_fini(&r->cat);
	tly_roster_fini(&r->roster);
	tly_identity_fini(&r->key);
	tly_identity_fini(&r->stranger);
	tly_identity_fini(&r->node1);
	tly_rng_fini(&r->rng);
	free(r->cfg);
}

/* The QUERY fields an honest coordinator would send for spec json, to
 * every site, committee 1..3. *canonical is malloc'd and borrowed by q. */
static void
make_query(struct rogue *r, struct tly_query *q, const char *json, char **canonical,
           uint32_t *participants, uint32_t *committee)
{
	struct tly_spec spec;
	struct tly_field_error err;
	uint64_t l1, l2sq;

	cr_assert_eq(tly_spec_parse(&spec, &r->cat, json, strlen(json), &err), TLY_OK, "%s: %s",
	             err.field, err.reason);
	cr_assert_eq(tly_spec_canonical(&spec, &r->cat, canonical), TLY_OK);
	cr_assert_eq(tly_spec_sensitivity(&spec, &r->cat, &l1, &l2sq), TLY_OK);
	memset(q, 0, sizeof *q);
	cr_assert_eq(tly_spec_hash(&spec, &r->cat, q->query_hash), TLY_OK);
	q->protocol = TLY_PROTOCOL_COMMITTEE;
	q->mechanism = spec.mechanism;
	q->cells = (uint32_t)tly_spec_cells(&spec, &r->cat);
	q->privacy_num = spec.privacy_num;
	q->privacy_den = spec.privacy_den;
	q->sensitivity_l1 = l1;
	q->sensitivity_l2sq = l2sq;
	q->min_honest = 2;
	q->min_contributors = 3;
	q->threshold = 2;
	q->quorum = 3;
	q->degree = 3;
	q->deadline_ms = deadline_ms;
	for (uint32_t i = 0; i < sites; i++)
		participants[i] = i + 1;
	for (uint32_t i = 0; i < 3; i++)
		committee[i] = i + 1;
	q->participants = (struct tly_idlist){sites, participants};
	q->committee = (struct tly_idlist){3, committee};
	q->spec_json = *canonical;
	q->spec_len = (uint32_t)strlen(*canonical);
	tly_spec_fini(&spec);
}

static const char count_by_sex[] = "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
                                   " \"group_by\": [\"sex\"],"
                                   " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": %s}}";

static const char rho_count_by_sex[] =
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
    " \"group_by\": [\"sex\"], \"privacy\": {\"mechanism\": \"gaussian\", \"rho\": %s}}";

/* Commit the query to the coordinator's real log file, as an honest
 * coordinator would (the real one is stopped), with consistency proofs
 * from every head it has issued. */
static void
commit_real(struct rogue *r, struct tly_query *q, const uint8_t query_id[TLY_QUERY_ID_BYTES])
{
	char err[320];
	struct tly_translog_record rec;
	struct tly_log_commit *c = calloc(1, sizeof *c);
	uint64_t sizes[TLY_COMMIT_CONSISTENCY_MAX];
	size_t n = 0, len;
	char why[300];

	if (r->real == NULL)
		cr_assert_eq(tly_translog_open(&r->real, r->cfg->log, r->key.sign, err, sizeof err),
		             TLY_OK, "%s", err);
	memset(&rec, 0, sizeof rec);
	memcpy(rec.query_id, query_id, TLY_QUERY_ID_BYTES);
	memcpy(rec.query_hash, q->query_hash, TLY_HASH_BYTES);
	rec.protocol = q->protocol;
	rec.threshold = q->threshold;
	rec.degree = q->degree;
	rec.outcome = TLY_TRANSLOG_COMMITTED;
	rec.spec_json = q->spec_json;
	rec.spec_len = q->spec_len;
	cr_assert_eq(tly_translog_recent_heads(r->real, sizes, TLY_COMMIT_CONSISTENCY_MAX, &n),
	             TLY_OK);
	cr_assert_eq(tly_translog_commit(r->real, &rec, sizes, n, c, why, sizeof why), TLY_OK, "%s",
	             why);
	q->log_commit = malloc(TLY_COMMIT_MAX_BYTES);
	cr_assert_eq(tly_log_commit_encode(q->log_commit, &len, c), TLY_OK);
	q->log_commit_len = (uint32_t)len;
	free(c);
}

/* The QUERY's log commitment, by r->log_mode. */
static void
commit(struct rogue *r, struct tly_query *q, const uint8_t query_id[TLY_QUERY_ID_BYTES])
{
	switch (r->log_mode) {
	case LOG_MEMORY:
		test_log_commit(&r->mem, r->key.sign, query_id, q);
		break;
	case LOG_FORK:
		test_log_commit(&r->fork, r->key.sign, query_id, q);
		break;
	case LOG_REAL:
		commit_real(r, q, query_id);
		break;
	case LOG_NONE:
		return;
	case LOG_REUSE:
		q->log_commit = malloc(r->last_len);
		memcpy(q->log_commit, r->last, r->last_len);
		q->log_commit_len = r->last_len;
		return;
	}
	free(r->last);
	r->last = malloc(q->log_commit_len);
	memcpy(r->last, q->log_commit, q->log_commit_len);
	r->last_len = q->log_commit_len;
}

/* A QUERY message for spec json at this epsilon, signed by key (sender
 * 0, to all). tamper_hash flips a bit of query_hash before signing, so
 * the signature holds but the spec no longer matches. */
static void
seal_query(struct rogue *r, struct tly_buf *msg, const char *epsilon,
           const uint8_t query_id[TLY_QUERY_ID_BYTES], const struct tly_sign_key *key,
           int tamper_hash, const char *json_fmt)
{
	struct tly_query q;
	char json[600], *canonical;
	uint32_t participants[MAX_SITES], committee[3];
	struct tly_buf body;
	struct tly_msg_header h = {
	    .type = TLY_MSG_QUERY, .sender = TLY_PARTY_COORDINATOR, .recipient = TLY_PARTY_ALL};

	snprintf(json, sizeof json, json_fmt != NULL ? json_fmt : count_by_sex, epsilon);
	make_query(r, &q, json, &canonical, participants, committee);
	commit(r, &q, query_id);
	tly_buf_init(&body);
	cr_assert_eq(tly_query_encode(&body, &q), TLY_OK);
	free(q.log_commit);
	cr_assert_eq(body.error, 0);
	if (tamper_hash)
		body.data[0] ^= 0x01; /* query_hash is the body's first field */
	memcpy(h.query_id, query_id, TLY_QUERY_ID_BYTES);
	tly_buf_init(msg);
	cr_assert_eq(tly_msg_seal(msg, &h, body.data, body.len, key), TLY_OK);
	tly_buf_fini(&body);
	free(canonical);
}

static void
new_id(struct rogue *r, uint8_t id[TLY_QUERY_ID_BYTES])
{
	tly_rng_bytes(&r->rng, id, TLY_QUERY_ID_BYTES);
}

static void
send_all(struct rogue *r, const uint8_t *msg, size_t len)
{
	for (uint32_t n = 1; n <= sites; n++)
		cr_assert_eq(tly_hub_send(r->hub, n, msg, len), TLY_OK, "node %u not connected", n);
}

/* Wait for every node's RECEIPT or REFUSAL about query_id; other
 * messages (shares for the committee, late ones about earlier queries)
 * are dropped, and those about one of the `forbidden` query ids counted
 * in *other. */
static void
collect(struct rogue *r, const uint8_t query_id[TLY_QUERY_ID_BYTES], struct reply *replies,
        const uint8_t (*forbidden)[TLY_QUERY_ID_BYTES], size_t forbidden_count, int *other)
{
	unsigned done = 0;
	memset(replies, 0, sizeof *replies * (MAX_SITES + 1));
	for (int waited = 0; done < sites && waited < WAIT_MS; waited += 100) {
		uint32_t from;
		uint8_t *bytes;
		size_t len;
		struct tly_msg m;
		tly_err rv = tly_hub_recv(r->hub, &from, &bytes, &len, 100);
		if (rv == TLY_ETIMEDOUT)
			continue;
		cr_assert_eq(rv, TLY_OK);
		cr_assert_eq(tly_msg_open(bytes, len, &r->roster, &m), TLY_OK,
		             "a node's message does not verify");
		cr_assert_eq(m.header.sender, from);
		if (memcmp(m.header.query_id, query_id, TLY_QUERY_ID_BYTES) != 0 || from > sites ||
		    (m.header.type != TLY_MSG_RECEIPT && m.header.type != TLY_MSG_REFUSAL)) {
			for (size_t i = 0; i < forbidden_count; i++)
				*other += memcmp(m.header.query_id, forbidden[i],
				                 TLY_QUERY_ID_BYTES) == 0;
			free(bytes);
			continue;
		}
		struct reply *rep = &replies[from];
		cr_assert(!rep->receipt && !rep->refusal, "node %u answered twice", from);
		if (m.header.type == TLY_MSG_RECEIPT) {
			rep->receipt = 1;
			cr_assert_leq(m.body_len, sizeof rep->receipt_bytes);
			memcpy(rep->receipt_bytes, m.body, m.body_len);
			rep->receipt_len = m.body_len;
		} else {
			uint32_t reason;
			rep->refusal = 1;
			cr_assert_eq(tly_refusal_decode(&reason, rep->text, m.body, m.body_len),
			             TLY_OK);
			cr_assert_eq(reason, TLY_ABORT_REFUSED);
		}
		done++;
		free(bytes);
	}
	cr_assert_eq(done, sites, "only %u of %u nodes replied", done, sites);
}

/* ---- ledgers ---- */

static void
ledger_path(unsigned site, char *out, size_t len)
{
	path_of(out, len, "site-%u/state/ledger.db", site);
}

/* Verify node site's ledger and return its entry count; *e receives
 * entry seq `want` when want > 0. */
static uint64_t
ledger_check(unsigned site, uint64_t want, struct tly_ledger_entry *e)
{
	char path[300];
	struct tly_ledger *ledger;
	char err[256];
	struct tly_ledger_report report;
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];

	ledger_path(site, path, sizeof path);
	cr_assert_eq(tly_ledger_open_readonly(&ledger, path, err, sizeof err), TLY_OK, "%s", err);
	tly_ledger_public_key(ledger, pk);
	cr_assert_eq(tly_ledger_verify(ledger, pk, &report), TLY_OK, "site %u: %s", site,
	             report.reason);
	if (want > 0)
		cr_assert_eq(tly_ledger_entry_get(ledger, want, e), TLY_OK);
	tly_ledger_close(ledger);
	return report.entries;
}

/* Entry seq of site's ledger: its kind, refusal and query id. */
static void
assert_entry(unsigned site, uint64_t seq, uint8_t kind, uint8_t refusal,
             const uint8_t query_id[TLY_QUERY_ID_BYTES])
{
	struct tly_ledger_entry e;
	ledger_check(site, seq, &e);
	cr_assert_eq(e.kind, kind, "site %u entry %llu: kind %u", site, (unsigned long long)seq,
	             e.kind);
	cr_assert_eq(e.refusal, refusal, "site %u entry %llu: refusal %u", site,
	             (unsigned long long)seq, e.refusal);
	cr_assert_arr_eq(e.query_id, query_id, TLY_QUERY_ID_BYTES);
}

static char *
node_log(unsigned site)
{
	char path[300];
	path_of(path, sizeof path, "logs/node-%u.log", site);
	return dmn_slurp(path, NULL);
}

/* kill -9 the daemon of `site` and start it again on the same config, its
 * output appended to the same log and its pid in the same file (so that
 * `tally demo --stop` stops it). */
static void
restart_node(unsigned site)
{
	char name[32], log[300], conf[300], program[1200];
	pid_t pid;

	snprintf(name, sizeof name, "node-%u", site);
	pid = pid_of(name);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	dmn_wait_gone(pid, 10000);
	path_of(log, sizeof log, "logs/node-%u.log", site);
	path_of(conf, sizeof conf, "site-%u/node.conf", site);
	snprintf(program, sizeof program, "%s/tally-node", bin);
	pid = dmn_spawn_split(program, (const char *const[]){"tally-node", "--config", conf, NULL},
	                      NULL, log);
	dmn_write_pid(dir, name, pid);
}

static int
log_mentions(unsigned site, const uint8_t query_id[TLY_QUERY_ID_BYTES], const char *what)
{
	char qid[2 * TLY_QUERY_ID_BYTES + 1], needle[200];
	tly_hex(qid, query_id, TLY_QUERY_ID_BYTES);
	snprintf(needle, sizeof needle, "query %s: %s", qid, what);
	char *text = node_log(site);
	int found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

/* Send one crafted QUERY and wait for every node's reply. */
static void
ask(struct rogue *r, const struct tly_buf *msg, const uint8_t id[TLY_QUERY_ID_BYTES],
    struct reply *replies)
{
	send_all(r, msg->data, msg->len);
	collect(r, id, replies, NULL, 0, NULL);
}

static void
assert_all_answered(const struct reply *replies, const char *what)
{
	for (unsigned n = 1; n <= sites; n++)
		cr_assert(replies[n].receipt, "%s: node %u did not answer (%s)", what, n,
		          replies[n].text);
}

static void
assert_all_refused(const struct reply *replies, const char *what, const char *because)
{
	for (unsigned n = 1; n <= sites; n++) {
		cr_assert(replies[n].refusal, "%s: node %u did not refuse", what, n);
		cr_assert(strstr(replies[n].text, because) != NULL, "%s: node %u said \"%s\"", what,
		          n, replies[n].text);
	}
}

/* The federation is stopped in fini, which Criterion runs after a failed
 * assertion too: no daemons are left behind. */
TestSuite(rogue, .fini = stop_federation, .timeout = 170);

/* ---- a, b, d, e ---- */

/* Log one entry for query q (spec at epsilon) as the coordinator would,
 * with its real key: a release naming contributors and dropped nodes and
 * carrying the receipts given. */
static void
log_release(struct rogue *r, const uint8_t id[TLY_QUERY_ID_BYTES], const char *epsilon,
            const uint32_t *contributors, uint32_t ccount, const uint32_t *dropped, uint32_t dcount,
            const struct reply *replies, const uint32_t *receipts_from, size_t rcount)
{
	struct tly_query q;
	struct tly_spec spec;
	struct tly_field_error serr;
	struct tly_noise_params noise;
	struct tly_translog *log;
	char lerr[320];
	char json[600], *canonical, *release, why[400];
	uint32_t participants[MAX_SITES], committee[3], c_ids[MAX_SITES], d_ids[MAX_SITES];
	int64_t cells[2] = {100, 100};
	struct tly_translog_receipt rec[MAX_SITES];

	snprintf(json, sizeof json, count_by_sex, epsilon);
	make_query(r, &q, json, &canonical, participants, committee);
	cr_assert_eq(tly_spec_parse(&spec, &r->cat, canonical, strlen(canonical), &serr), TLY_OK);
	cr_assert_eq(tly_noise_calibrate(&q, &noise), TLY_OK);
	if (ccount > 0)
		memcpy(c_ids, contributors, ccount * sizeof *c_ids);
	if (dcount > 0) /* dropped may be NULL then: memcpy's arguments never may */
		memcpy(d_ids, dropped, dcount * sizeof *d_ids);
	struct tly_idlist c = {ccount, c_ids}, d = {dcount, d_ids};
	struct tly_release_input in = {.query_id = id,
	                               .spec = &spec,
	                               .cat = &r->cat,
	                               .noise = &noise,
	                               .cells = cells,
	                               .d = 2,
	                               .contributors = &c,
	                               .dropped = &d};
	cr_assert_eq(tly_release_encode(&in, &release, why, sizeof why), TLY_OK, "%s", why);
	for (size_t i = 0; i < rcount; i++)
		rec[i] = (struct tly_translog_receipt){replies[receipts_from[i]].receipt_bytes,
		                                       replies[receipts_from[i]].receipt_len};
	struct tly_translog_record record = {.protocol = TLY_PROTOCOL_COMMITTEE,
	                                     .threshold = 2,
	                                     .degree = 3,
	                                     .outcome = TLY_TRANSLOG_RELEASED,
	                                     .reason = "",
	                                     .spec_json = canonical,
	                                     .spec_len = strlen(canonical),
	                                     .release_json = release,
	                                     .release_len = strlen(release),
	                                     .contributors = &c,
	                                     .dropped = &d,
	                                     .receipts = rec,
	                                     .receipt_count = rcount};
	memcpy(record.query_id, id, TLY_QUERY_ID_BYTES);
	memcpy(record.query_hash, q.query_hash, TLY_HASH_BYTES);
	cr_assert_eq(tly_translog_open(&log, r->cfg->log, r->key.sign, lerr, sizeof lerr), TLY_OK,
	             "%s", lerr);
	cr_assert_eq(tly_translog_append(log, &record, NULL, why, sizeof why), TLY_OK, "%s", why);
	tly_translog_close(log);
	free(release);
	free(canonical);
	tly_spec_fini(&spec);
}

/* a) and b): the first query's bytes again, its id with another spec, and
 * its id and spec with another deadline: all refused by every node. */
static void
replays_refused(struct rogue *r, const struct tly_buf *first, const uint8_t id1[16],
                struct reply *replies)
{
	struct tly_buf msg;

	/* a) The same bytes again. */
	ask(r, first, id1, replies);
	assert_all_refused(replies, "a replay", "already");
	/* b) The same id with another spec (a different question): the log
	 * cannot commit it (one committed entry per query id), and the first
	 * query's commitment does not include it: refused as a query outside
	 * the log, before the ledger (nothing recorded). */
	r->log_mode = LOG_REUSE;
	seal_query(r, &msg, "0.5", id1, r->key.sign, 0,
	           "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
	           " \"group_by\": [\"age_band\"],"
	           " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": %s}}");
	ask(r, &msg, id1, replies);
	assert_all_refused(replies, "a reused id", "outside the log");
	tly_buf_fini(&msg);
	/* b) The same id and spec with other round data (the deadline): the
	 * same committed entry, so the ledger refuses the replay. */
	deadline_ms = 7000;
	seal_query(r, &msg, "0.5", id1, r->key.sign, 0, NULL);
	deadline_ms = 10000;
	r->log_mode = LOG_REAL;
	cr_assert(msg.len != first->len || memcmp(msg.data, first->data, msg.len) != 0);
	ask(r, &msg, id1, replies);
	assert_all_refused(replies, "a reused id with another deadline", "already");
	tly_buf_fini(&msg);
	for (unsigned n = 1; n <= sites; n++) {
		cr_assert_eq(ledger_check(n, 0, NULL), 3, "site %u", n);
		for (uint64_t seq = 2; seq <= 3; seq++)
			assert_entry(n, seq, TLY_LEDGER_REFUSAL, TLY_LEDGER_REFUSED_REPLAY, id1);
		struct tly_ledger_entry e;
		ledger_check(n, 3, &e);
		/* Refusals cost nothing: the spend is still the first charge. */
		cr_assert(e.epsilon_spent.num == 1 && e.epsilon_spent.den == 2);
	}
}

/* Each node logged why it refused each forgery, charged nothing for them,
 * and charged the probe that followed as its fourth entry. */
static void
forgeries_logged(const uint8_t forged_ids[5][16], const uint8_t id_probe[16])
{
	const uint8_t *id_zero = forged_ids[0], *id_stranger = forged_ids[2],
	              *id_node = forged_ids[3], *id_hash = forged_ids[4];

	for (unsigned n = 1; n <= sites; n++) {
		/* Not charged, not recorded: the next entry is the probe's charge. */
		cr_assert_eq(ledger_check(n, 0, NULL), 4, "site %u", n);
		assert_entry(n, 4, TLY_LEDGER_CHARGE, TLY_LEDGER_REFUSED_NONE, id_probe);
		const char *said = "not a valid QUERY (authentication failed): refused, not "
		                   "recorded in the ledger";
		cr_assert(log_mentions(n, id_zero, said), "site %u: zero signature not logged", n);
		cr_assert(log_mentions(n, id_stranger, said), "site %u: stranger not logged", n);
		cr_assert(log_mentions(n, id_node, said), "site %u: node key not logged", n);
		/* Cut short, it does not even parse as a message: no query id to name. */
		char *text = node_log(n);
		cr_assert_not_null(strstr(text, "dropped a malformed message"), "site %u: cut", n);
		free(text);
		cr_assert(log_mentions(n, id_hash, "not a valid QUERY ("), "site %u: hash", n);
		cr_assert(!log_mentions(n, id_hash, "answered"), "site %u", n);
	}
}

/* d) Forgeries: none can be attributed to the coordinator. A zero
 * signature, none at all, a stranger's key, a node's key and a wrong hash,
 * then a valid query (id_probe) whose replies land in replies. */
static void
forgeries_refused(struct rogue *r, uint8_t id_probe[16], struct reply *replies)
{
	struct tly_buf zero, cut, stranger, by_node, bad_hash, msg;
	uint8_t forged_ids[5][16];

	new_id(r, forged_ids[0]);
	seal_query(r, &zero, "0.5", forged_ids[0], r->key.sign, 0, NULL);
	memset(zero.data + zero.len - TLY_SIGNATURE_BYTES, 0, TLY_SIGNATURE_BYTES);
	new_id(r, forged_ids[1]);
	seal_query(r, &cut, "0.5", forged_ids[1], r->key.sign, 0, NULL);
	cut.len -= TLY_SIGNATURE_BYTES; /* no signature at all */
	new_id(r, forged_ids[2]);
	seal_query(r, &stranger, "0.5", forged_ids[2], r->stranger.sign, 0, NULL);
	new_id(r, forged_ids[3]);
	seal_query(r, &by_node, "0.5", forged_ids[3], r->node1.sign, 0, NULL);
	new_id(r, forged_ids[4]);
	seal_query(r, &bad_hash, "0.5", forged_ids[4], r->key.sign, 1, NULL);
	send_all(r, zero.data, zero.len);
	send_all(r, cut.data, cut.len);
	send_all(r, stranger.data, stranger.len);
	send_all(r, by_node.data, by_node.len);
	send_all(r, bad_hash.data, bad_hash.len);
	/* A valid query behind them: when it is answered, each node has
	 * handled the forgeries (messages to a node arrive in order), and it
	 * shows the daemons kept serving. */
	new_id(r, id_probe);
	seal_query(r, &msg, "0.5", id_probe, r->key.sign, 0, NULL);
	send_all(r, msg.data, msg.len);
	int other = 0;
	collect(r, id_probe, replies, (const uint8_t(*)[16])forged_ids, 5, &other);
	assert_all_answered(replies, "the query after the forgeries");
	cr_assert_eq(other, 0, "a node answered a forged QUERY (%d messages)", other);
	forgeries_logged((const uint8_t(*)[16])forged_ids, id_probe);
	tly_buf_fini(&msg);
	tly_buf_fini(&zero);
	tly_buf_fini(&cut);
	tly_buf_fini(&stranger);
	tly_buf_fini(&by_node);
	tly_buf_fini(&bad_hash);
}

/* The ledger as people read it shows the refusals of id1 with their
 * reasons. */
static void
ledger_shows_refusals(const uint8_t id1[16])
{
	char conf[300];
	path_of(conf, sizeof conf, "site-2/node.conf");
	cr_assert_eq(run((const char *const[]){"tally-node", "ledger", "show", "--config", conf,
	                                       "--format", "csv", NULL}),
	             0);
	char *shown = output(), qid[33];
	tly_hex(qid, id1, 16);
	char *line = strstr(shown, qid);
	cr_assert_not_null(line, "%s", shown);
	cr_assert_not_null(strstr(line + 1, qid), "the refusals are not shown: %s", shown);
	cr_assert_not_null(strstr(shown, "refused"), "%s", shown);
	free(shown);
}

/* e) A consistent log passes the audit; one that claims node 3 dropped
 * from the probe query, although it answered and holds the charge, does
 * not: the audit names the node and the query. */
static void
audit_sees_the_lie(struct rogue *r, const uint8_t id1[16], const uint8_t id_probe[16],
                   const struct reply *first_replies, const struct reply *probe_replies)
{
	const uint32_t all[] = {1, 2, 3, 4}, three[] = {1, 2, 4}, node3[] = {3};
	char *shown, qid[33];

	log_release(r, id1, "0.5", all, 4, NULL, 0, first_replies, all, 4);
	cr_assert_eq(run((const char *const[]){"tally", "audit", "verify", "--dir", dir, NULL}), 0,
	             "a consistent log fails the audit: %s", (shown = output()));
	log_release(r, id_probe, "0.5", three, 3, node3, 1, probe_replies, three, 3);
	/* By default it is a WARNING (an honest node killed between its charge
	 * and its send looks the same); --strict fails on it. */
	cr_assert_eq(run((const char *const[]){"tally", "audit", "verify", "--dir", dir, NULL}), 0);
	shown = output();
	cr_assert_not_null(strstr(shown, "WARNING"), "%s", shown);
	cr_assert_not_null(strstr(shown, "node 3"), "%s", shown);
	free(shown);
	cr_assert_eq(
	    run((const char *const[]){"tally", "audit", "verify", "--strict", "--dir", dir, NULL}),
	    1);
	shown = output();
	tly_hex(qid, id_probe, 16);
	cr_assert_not_null(strstr(shown, "node 3"), "%s", shown);
	cr_assert_not_null(strstr(shown, qid), "%s", shown);
	cr_assert_not_null(strstr(shown, "as dropped"), "%s", shown);
	cr_log_info("audit of the lying log: %s", shown);
	free(shown);
}

Test(rogue, replays_reused_ids_and_forgeries_are_refused_and_shown)
{
	struct rogue r;
	struct reply replies[MAX_SITES + 1];
	struct tly_buf first;
	uint8_t id1[16], id_probe[16];

	start_federation(SITES, 4000);
	rogue_open(&r);
	r.log_mode = LOG_REAL; /* the log must pass the audit in e) */

	/* An honest query first: every node answers and charges 1/2. */
	new_id(&r, id1);
	seal_query(&r, &first, "0.5", id1, r.key.sign, 0, NULL);
	ask(&r, &first, id1, replies);
	assert_all_answered(replies, "the first query");
	struct reply first_replies[MAX_SITES + 1];
	memcpy(first_replies, replies, sizeof replies);
	for (unsigned n = 1; n <= sites; n++) {
		cr_assert_eq(ledger_check(n, 0, NULL), 1);
		assert_entry(n, 1, TLY_LEDGER_CHARGE, TLY_LEDGER_REFUSED_NONE, id1);
	}
	replays_refused(&r, &first, id1, replies);
	forgeries_refused(&r, id_probe, replies);
	struct reply probe_replies[MAX_SITES + 1];
	memcpy(probe_replies, replies, sizeof replies);
	ledger_shows_refusals(id1);
	audit_sees_the_lie(&r, id1, id_probe, first_replies, probe_replies);
	tly_buf_fini(&first);
	rogue_close(&r);
}

/* ---- c ---- */

static void
write_file(const char *path, const struct tly_buf *b)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(b->data, 1, b->len, f), b->len);
	fclose(f);
}

/* msg, over the budget, given to `tally-node answer` of site 1: exit 3,
 * no output, and the refusal recorded as entry seq (the id was refused,
 * never charged, so it is judged afresh on the budget). */
static void
refused_offline(const struct tly_buf *msg, const uint8_t id[16], uint64_t seq)
{
	char path[300], out[300], conf[300];
	path_of(path, sizeof path, "over.msg");
	path_of(out, sizeof out, "over-out");
	path_of(conf, sizeof conf, "site-1/node.conf");
	write_file(path, msg);
	cr_assert_eq(run((const char *const[]){"tally-node", "answer", "--config", conf, "--query",
	                                       path, "--out", out, NULL}),
	             3);
	char *said = output();
	cr_assert_not_null(strstr(said, "budget exhausted"), "%s", said);
	free(said);
	cr_assert_eq(access(out, F_OK), -1, "a refused answer wrote output");
	assert_entry(1, seq, TLY_LEDGER_REFUSAL, TLY_LEDGER_REFUSED_BUDGET, id);
}

/* Forgeries offline: a stranger's signature is refused with exit 1
 * (authentication), and nothing is written to the ledger. */
static void
forged_offline(struct rogue *r)
{
	char path[300], out[300], conf[300];
	struct tly_buf msg;
	uint8_t id[16];
	uint64_t before = ledger_check(1, 0, NULL);
	new_id(r, id);
	seal_query(r, &msg, "0.5", id, r->stranger.sign, 0, NULL);
	path_of(path, sizeof path, "stranger.msg");
	path_of(out, sizeof out, "stranger-out");
	path_of(conf, sizeof conf, "site-1/node.conf");
	write_file(path, &msg);
	tly_buf_fini(&msg);
	int rc = run((const char *const[]){"tally-node", "answer", "--config", conf, "--query",
	                                   path, "--out", out, NULL});
	char *said = output();
	cr_assert_neq(rc, 0, "a stranger's QUERY was answered");
	cr_assert_neq(rc, 3, "a forgery is not a policy refusal");
	cr_log_info("tally-node answer, stranger's signature: exit %d: %s", rc, said);
	free(said);
	cr_assert_eq(ledger_check(1, 0, NULL), before, "a forgery was recorded");
	cr_assert_eq(
	    run((const char *const[]){"tally-node", "ledger", "verify", "--config", conf, NULL}),
	    0);
}

Test(rogue, budget_overruns_are_refused_and_recorded)
{
	struct rogue r;
	struct reply replies[MAX_SITES + 1];
	struct tly_buf msg;
	uint8_t id[16];
	struct tly_ledger_entry e;
	uint64_t seq = 0;

	start_federation(SITES, 4000);
	rogue_open(&r);

	/* Over the per-query cap (2): refused, recorded, nothing spent. */
	new_id(&r, id);
	seal_query(&r, &msg, "5", id, r.key.sign, 0, NULL);
	ask(&r, &msg, id, replies);
	tly_buf_fini(&msg);
	assert_all_refused(replies, "epsilon 5", "per-query cap");
	seq++;
	for (unsigned n = 1; n <= sites; n++) {
		assert_entry(n, seq, TLY_LEDGER_REFUSAL, TLY_LEDGER_REFUSED_PER_QUERY, id);
		ledger_check(n, seq, &e);
		cr_assert(e.epsilon_spent.num == 0, "site %u spent on a refusal", n);
	}

	/* The total (20): 1/2, then epsilon 2 nine times (18 1/2), then 2
	 * again is over (20 1/2) while 3/2 lands exactly on 20; then nothing
	 * more, not even the smallest amount. */
	const char *plan[] = {"0.5", "2", "2", "2", "2",   "2",    "2",
	                      "2",   "2", "2", "2", "1.5", "0.001"};
	const uint64_t spent_num[] = {1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 37, 20, 20};
	const uint64_t spent_den[] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1};
	for (size_t i = 0; i < sizeof plan / sizeof *plan; i++) {
		int over = i == 10 || i == 12;
		new_id(&r, id);
		seal_query(&r, &msg, plan[i], id, r.key.sign, 0, NULL);
		ask(&r, &msg, id, replies);
		if (over)
			assert_all_refused(replies, plan[i], "budget exhausted");
		else
			assert_all_answered(replies, plan[i]);
		seq++;
		for (unsigned n = 1; n <= sites; n++) {
			assert_entry(n, seq, over ? TLY_LEDGER_REFUSAL : TLY_LEDGER_CHARGE,
			             over ? TLY_LEDGER_REFUSED_BUDGET : TLY_LEDGER_REFUSED_NONE,
			             id);
			ledger_check(n, seq, &e);
			cr_assert(e.epsilon_spent.num == spent_num[i] &&
			              e.epsilon_spent.den == spent_den[i],
			          "site %u after %s: spent %llu/%llu", n, plan[i],
			          (unsigned long long)e.epsilon_spent.num,
			          (unsigned long long)e.epsilon_spent.den);
		}
		/* The last refusal, offline too: `tally-node answer` exits 3. */
		if (i == 12)
			refused_offline(&msg, id, seq + 1);
		tly_buf_fini(&msg);
	}
	/* Issue 10's sequence: epsilon is at 20/20; a rho = 0.5 query, which
	 * the separate rho budget (5) used to answer nine times over, is
	 * refused at the one (epsilon, delta) cap by every node. */
	new_id(&r, id);
	seal_query(&r, &msg, "0.5", id, r.key.sign, 0, rho_count_by_sex);
	ask(&r, &msg, id, replies);
	tly_buf_fini(&msg);
	assert_all_refused(replies, "rho 0.5", "budget exhausted");
	for (unsigned n = 1; n <= sites; n++) {
		uint64_t at = seq + 1 + (n == 1); /* site 1 also refused offline */
		assert_entry(n, at, TLY_LEDGER_REFUSAL, TLY_LEDGER_REFUSED_BUDGET, id);
		ledger_check(n, at, &e);
		cr_assert(e.rho_spent.num == 0 && e.epsilon_spent.num == 20 &&
		              e.epsilon_spent.den == 1,
		          "site %u: rho spent %llu/%llu", n, (unsigned long long)e.rho_spent.num,
		          (unsigned long long)e.rho_spent.den);
	}
	forged_offline(&r);
	rogue_close(&r);
}

/* ---- e, at the unit level: which dropped nodes the audit accepts ---- */

Test(rogue, audit_accepts_a_dropped_node_only_with_its_receipt)
{
	struct fed f;
	struct fed_query q;
	struct tly_buf receipts[4];
	struct tly_audit_finding finding;
	const uint32_t three[] = {1, 2, 4}, node3[] = {3};
	char why[256], qid[33];
	FILE *sink = fopen("/dev/null", "w");

	cr_assert_eq(tly_crypto_init(), TLY_OK);
	fed_init(&f, 4);
	/* Every node charges the query. */
	fed_query(&f, &q, "0.5");
	for (uint32_t n = 1; n <= 4; n++) {
		tly_buf_init(&receipts[n - 1]);
		fed_charge(&f, n, &q, &receipts[n - 1]);
	}
	const char *ledgers[4] = {f.ledger_path[1], f.ledger_path[2], f.ledger_path[3],
	                          f.ledger_path[4]};
	struct tly_audit_files files = {f.log_path, f.registry_path, 4, ledgers, 1};
	/* Node 3 listed as dropped, its receipt left out. */
	char *release = fed_release_json(&f, &q, three, 3, node3, 1);
	struct tly_buf kept[3] = {receipts[0], receipts[1], receipts[3]};
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, release, three, 3, node3, 1, kept, 3,
	                        why, sizeof why),
	             TLY_OK, "%s", why);
	free(release);
	fed_close(&f);
	/* Not strict: passes, with the finding as a WARNING line. */
	files.strict = 0;
	cr_assert_eq(tly_audit_verify(&files, sink, &finding), TLY_OK, "%s", finding.reason);
	files.strict = 1;
	cr_assert_eq(tly_audit_verify(&files, sink, &finding), TLY_EAUTH);
	tly_hex(qid, q.id, 16);
	cr_assert_str_eq(finding.file, f.ledger_path[3]);
	cr_assert_eq(finding.seq, 1);
	cr_assert_not_null(strstr(finding.reason, "node 3"), "%s", finding.reason);
	cr_assert_not_null(strstr(finding.reason, qid), "%s", finding.reason);
	cr_assert_not_null(strstr(finding.reason, "as dropped"), "%s", finding.reason);
	for (int i = 0; i < 4; i++)
		tly_buf_fini(&receipts[i]);
	fed_query_fini(&q);
	fed_fini(&f);

	/* Left out of both lists: the same finding, worded so. */
	fed_init(&f, 4);
	fed_query(&f, &q, "0.5");
	for (uint32_t n = 1; n <= 4; n++) {
		tly_buf_init(&receipts[n - 1]);
		fed_charge(&f, n, &q, &receipts[n - 1]);
	}
	const char *ledgers2[4] = {f.ledger_path[1], f.ledger_path[2], f.ledger_path[3],
	                           f.ledger_path[4]};
	files = (struct tly_audit_files){f.log_path, f.registry_path, 4, ledgers2, 1};
	release = fed_release_json(&f, &q, three, 3, NULL, 0);
	struct tly_buf kept2[3] = {receipts[0], receipts[1], receipts[3]};
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, release, three, 3, NULL, 0, kept2, 3,
	                        why, sizeof why),
	             TLY_OK, "%s", why);
	free(release);
	fed_close(&f);
	cr_assert_eq(tly_audit_verify(&files, sink, &finding), TLY_EAUTH);
	cr_assert_not_null(strstr(finding.reason, "leaves node 3 out"), "%s", finding.reason);
	for (int i = 0; i < 4; i++)
		tly_buf_fini(&receipts[i]);
	fed_query_fini(&q);
	fed_fini(&f);

	/* Negative control: dropped after answering, with its receipt in the
	 * log (the coordinator's honest account of a late node), passes. */
	fed_init(&f, 4);
	fed_query(&f, &q, "0.5");
	fed_release(&f, &q, three, 3, node3, 1);
	const char *ledgers3[4] = {f.ledger_path[1], f.ledger_path[2], f.ledger_path[3],
	                           f.ledger_path[4]};
	files = (struct tly_audit_files){f.log_path, f.registry_path, 4, ledgers3, 1};
	fed_close(&f);
	cr_assert_eq(tly_audit_verify(&files, sink, &finding), TLY_OK, "%s", finding.reason);
	fed_query_fini(&q);
	fed_fini(&f);
	fclose(sink);
}

/* ---- differencing ---- */

/* An age that exactly one person (not opted out) has across all sites:
 * its site, sex and age band. */
static int
unique_age(char *sex, char *band, unsigned *site_of)
{
	int counts[111] = {0};
	for (unsigned s = 1; s <= sites; s++) {
		char path[300];
		sqlite3 *db;
		sqlite3_stmt *st;
		path_of(path, sizeof path, "site-%u/patients.db", s);
		cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		cr_assert_eq(
		    sqlite3_prepare_v2(
		        db, "SELECT age, COUNT(*) FROM patients WHERE opted_out = 0 GROUP BY age",
		        -1, &st, NULL),
		    SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			int age = sqlite3_column_int(st, 0);
			if (age >= 0 && age <= 110)
				counts[age] += sqlite3_column_int(st, 1);
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	int age = -1;
	for (int a = 110; a >= 1 && age < 0; a--)
		if (counts[a] == 1)
			age = a;
	cr_assert_geq(age, 1, "no age held by exactly one person");
	for (unsigned s = 1; s <= sites; s++) {
		char path[300], sql[200];
		sqlite3 *db;
		sqlite3_stmt *st;
		path_of(path, sizeof path, "site-%u/patients.db", s);
		cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		snprintf(sql, sizeof sql,
		         "SELECT sex, age_band FROM patients WHERE opted_out = 0 AND age = %d",
		         age);
		cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(sex, 8, "%s", (const char *)sqlite3_column_text(st, 0));
			snprintf(band, 16, "%s", (const char *)sqlite3_column_text(st, 1));
			*site_of = s;
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	return age;
}

/* `tally query` with --where; the release JSON (NULL when refused) and
 * the exit code. */
static json_t *
query(const char *where, int *code)
{
	char conf[300];
	path_of(conf, sizeof conf, "planner.conf");
	*code = run((const char *const[]){"tally", "query", "--config", conf, "--count", "--by",
	                                  "sex,age_band", "--where", where, "--epsilon", "0.5",
	                                  "--format", "json", NULL});
	if (*code != 0)
		return NULL;
	char *text = output();
	json_error_t err;
	json_t *root = json_loads(text, 0, &err);
	cr_assert_not_null(root, "not JSON: %s", text);
	free(text);
	return root;
}

/* The cell of a release for (sex, band). */
static long
cell(json_t *release, const char *sex, const char *band)
{
	json_t *cells = json_object_get(release, "cells"), *c;
	size_t i;
	json_array_foreach(cells, i, c)
	{
		json_t *g = json_object_get(c, "group");
		if (strcmp(json_string_value(json_object_get(g, "sex")), sex) == 0 &&
		    strcmp(json_string_value(json_object_get(g, "age_band")), band) == 0)
			return (long)json_integer_value(json_object_get(c, "value"));
	}
	cr_assert_fail("no cell %s/%s", sex, band);
	return 0;
}

/* The check on the differences: mean square against the stated variance
 * of a difference of two releases (2 sd^2), and not a point mass. */
static int
noise_matches(const long *diff, size_t n, double stated_sd, double *ratio)
{
	double sq = 0;
	size_t zeros = 0;
	for (size_t i = 0; i < n; i++) {
		sq += (double)diff[i] * (double)diff[i];
		zeros += diff[i] == 0;
	}
	*ratio = sq / (double)n / (2 * stated_sd * stated_sd);
	return *ratio > 0.5 && *ratio < 2.0 && zeros < n / 2;
}

Test(rogue, differencing_is_bounded_by_the_budget_and_hidden_by_noise)
{
	enum { PAIRS = 20 };
	static const char *sexes[] = {"F", "M"};
	static const char *bands[] = {"0-17", "18-39", "40-64", "65-79", "80+"};
	char sex[8] = "", band[16] = "", with[64], without[64];
	unsigned site = 0;
	long diff[PAIRS * 10];
	size_t n = 0;
	double sd = 0;
	int code;

	start_federation(3, 3000);
	int age = unique_age(sex, band, &site);
	cr_log_info("age %d: one person, at site %u (%s, %s)", age, site, sex, band);
	/* The two queries differ by that one person only. */
	snprintf(with, sizeof with, "age <= %d", age);
	snprintf(without, sizeof without, "age <= %d", age - 1);
	for (int pair = 0; pair < PAIRS; pair++) {
		json_t *a = query(with, &code);
		cr_assert_eq(code, 0, "pair %d: with: exit %d: %s", pair, code, output());
		json_t *b = query(without, &code);
		cr_assert_eq(code, 0, "pair %d: without: exit %d: %s", pair, code, output());
		sd = json_number_value(json_object_get(json_object_get(a, "privacy"), "noise_sd"));
		cr_assert_eq(json_integer_value(json_object_get(a, "contributors")), 3);
		for (int s = 0; s < 2; s++)
			for (int k = 0; k < 5; k++) {
				int person =
				    strcmp(sexes[s], sex) == 0 && strcmp(bands[k], band) == 0;
				diff[n++] = cell(a, sexes[s], bands[k]) -
				            cell(b, sexes[s], bands[k]) - person;
			}
		json_decref(a);
		json_decref(b);
	}
	/* 40 queries at 1/2 spent the whole budget of 20: the next is refused. */
	json_t *refused = query(with, &code);
	cr_assert_null(refused);
	cr_assert_eq(code, 3, "a 41st query: exit %d", code);
	char *said = output();
	cr_assert_not_null(strstr(said, "budget"), "%s", said);
	free(said);

	/* Every ledger charged each query 1/2, the spend climbing to exactly 20,
	 * and recorded the refusal. */
	for (unsigned s = 1; s <= sites; s++) {
		struct tly_ledger_entry e;
		uint64_t entries = ledger_check(s, 0, NULL);
		cr_assert_eq(entries, 2 * PAIRS + 1, "site %u: %llu entries", s,
		             (unsigned long long)entries);
		for (uint64_t seq = 1; seq <= 2 * PAIRS; seq++) {
			ledger_check(s, seq, &e);
			cr_assert_eq(e.kind, TLY_LEDGER_CHARGE);
			cr_assert(e.amount.num == 1 && e.amount.den == 2);
			struct tly_fraction want = seq % 2 == 0 ? (struct tly_fraction){seq / 2, 1}
			                                        : (struct tly_fraction){seq, 2};
			cr_assert(e.epsilon_spent.num == want.num &&
			              e.epsilon_spent.den == want.den,
			          "site %u entry %llu: spent %llu/%llu", s, (unsigned long long)seq,
			          (unsigned long long)e.epsilon_spent.num,
			          (unsigned long long)e.epsilon_spent.den);
		}
		ledger_check(s, 2 * PAIRS + 1, &e);
		cr_assert_eq(e.kind, TLY_LEDGER_REFUSAL);
		cr_assert_eq(e.refusal, TLY_LEDGER_REFUSED_BUDGET);
		cr_assert(e.epsilon_spent.num == 20 && e.epsilon_spent.den == 1);
	}

	/* The noise: differences of two releases, less the person, have the
	 * variance the releases state (2 sd^2), and are not a point mass. */
	double ratio;
	cr_assert_gt(sd, 0);
	int ok = noise_matches(diff, n, sd, &ratio);
	size_t exact = 0;
	for (size_t i = 0; i < n; i++)
		exact += diff[i] == 0;
	cr_log_info("%zu differences: mean square / (2 sd^2) = %.3f (sd %.3f), %zu exactly the "
	            "truth",
	            n, ratio, sd, exact);
	cr_assert(ok, "the differences do not look like noise of sd %.3f: ratio %.3f", sd, ratio);
	/* Negative controls: the same check fails on noise-free differences
	 * and against the scale of another epsilon (2: sd about 0.82). */
	long none[PAIRS * 10] = {0};
	double control;
	cr_assert(!noise_matches(none, n, sd, &control), "a point mass passes");
	cr_assert(!noise_matches(diff, n, 0.82, &control), "the wrong scale passes (%.3f)",
	          control);
}

/* ---- one contributor set per query: a rogue coordinator and a rogue member ---- */

/* Member `id`'s vote for `set` (attempt 0), made with its own key. */
static void
vote_for(const struct tly_identity *member, const uint8_t query_id[TLY_QUERY_ID_BYTES],
         const struct tly_idlist *set, uint8_t signature[TLY_SIGNATURE_BYTES])
{
	struct tly_msg_header h = {
	    .type = TLY_MSG_SET_SIGN, .sender = member->id, .recipient = TLY_PARTY_COORDINATOR};
	uint8_t hash[TLY_HASH_BYTES];
	struct tly_buf body, msg;

	memcpy(h.query_id, query_id, TLY_QUERY_ID_BYTES);
	tly_idlist_hash(hash, query_id, set);
	tly_buf_init(&body);
	tly_buf_init(&msg);
	cr_assert_eq(tly_set_sign_encode(&body, 0, hash), TLY_OK);
	cr_assert_eq(tly_msg_seal(&msg, &h, body.data, body.len, member->sign), TLY_OK);
	memcpy(signature, msg.data + msg.len - TLY_SIGNATURE_BYTES, TLY_SIGNATURE_BYTES);
	tly_buf_fini(&msg);
	tly_buf_fini(&body);
}

/* Sign body as the coordinator (type, to node) and send it. */
static void
rogue_send(struct rogue *r, enum tly_msg_type type, uint32_t to,
           const uint8_t query_id[TLY_QUERY_ID_BYTES], const struct tly_buf *body)
{
	struct tly_msg_header h = {.type = type, .sender = TLY_PARTY_COORDINATOR, .recipient = to};
	struct tly_buf msg;

	memcpy(h.query_id, query_id, TLY_QUERY_ID_BYTES);
	tly_buf_init(&msg);
	cr_assert_eq(tly_msg_seal(&msg, &h, body->data, body->len, r->key.sign), TLY_OK);
	cr_assert_eq(tly_hub_send(r->hub, to, msg.data, msg.len), TLY_OK, "node %u", to);
	tly_buf_fini(&msg);
}

/* A SET_CERT for `set` carrying the votes given (ids increasing). */
static void
send_cert(struct rogue *r, uint32_t to, const uint8_t query_id[TLY_QUERY_ID_BYTES],
          const struct tly_idlist *set, const uint32_t *ids, const uint8_t *const *signatures,
          uint32_t count)
{
	struct tly_signature_entry entries[4];
	struct tly_set_cert cert = {.attempt = 0, .set = *set};
	struct tly_buf body;

	for (uint32_t i = 0; i < count; i++) {
		entries[i].id = ids[i];
		memcpy(entries[i].signature, signatures[i], TLY_SIGNATURE_BYTES);
	}
	cert.votes = (struct tly_signature_list){count, entries};
	tly_buf_init(&body);
	cr_assert_eq(tly_set_cert_encode(&body, &cert), TLY_OK);
	rogue_send(r, TLY_MSG_SET_CERT, to, query_id, &body);
	tly_buf_fini(&body);
}

/* Wait until node `site`'s log holds `count` lines mentioning `what` for
 * this query (the daemon logs a refusal before it would send anything). */
static void
await_log(unsigned site, const uint8_t query_id[TLY_QUERY_ID_BYTES], const char *what, int count)
{
	char qid[2 * TLY_QUERY_ID_BYTES + 1], needle[300];
	tly_hex(qid, query_id, TLY_QUERY_ID_BYTES);
	snprintf(needle, sizeof needle, "query %s: %s", qid, what);
	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		char *text = node_log(site);
		int found = 0;
		for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
			found++;
		free(text);
		if (found >= count)
			return;
		dmn_pause_ms(100);
	}
	cr_assert_fail("node %u never logged %d x \"%s\"", site, count, what);
}

/*
 * Four sites, committee {1, 2, 3, 4}, (k, t, q) = (4, 2, 3); site 4's
 * member keys are the coalition's (its daemon still answers as a trust).
 * The rogue coordinator relays round 1 faithfully, announces S = {1..4} to
 * members 1 and 2 and S' = {1, 2, 3} to member 3, and the rogue member
 * votes for both and sums both (two in-process instances with the
 * agreement off). The coordinator then tries every certificate it can
 * make for S': the honest daemons release share-sums only for S, and
 * member 3 refuses each certificate for S' (its log says why), so the
 * coalition holds one share-sum for S' (the rogue member's), fewer than t.
 */
/* The state of two_sets_with_a_rogue_member_release_at_most_one, shared by
 * its rounds. */
struct two_sets {
	struct rogue r;
	struct tly_identity rogue_member;
	struct tly_committee_member *twin[2]; /* the rogue member, agreement off */
	uint32_t participants[MAX_SITES];
	uint8_t id[TLY_QUERY_ID_BYTES], hash_s[TLY_HASH_BYTES], hash_s2[TLY_HASH_BYTES];
	struct tly_idlist s, s2;
	char *canonical;
	struct tly_buf body, query;
	struct tly_outbox out;
	struct tly_outmsg to3[4]; /* the four shares sealed to member 3 */
	unsigned kept;
	uint8_t votes[5][TLY_SIGNATURE_BYTES], rogue_s[TLY_SIGNATURE_BYTES],
	    rogue_s2[TLY_SIGNATURE_BYTES];
};

/* Round 0: a QUERY every check passes, to every node and to both twins. */
static void
two_sets_query(struct two_sets *t)
{
	struct rogue *r = &t->r;
	struct tly_query q;
	char json[600];
	uint32_t committee[MAX_SITES] = {1, 2, 3, 4};

	snprintf(json, sizeof json, count_by_sex, "0.5");
	make_query(r, &q, json, &t->canonical, t->participants, committee);
	q.committee = (struct tly_idlist){4, committee};
	q.degree = 4;
	q.threshold = 2;
	q.quorum = 3;
	q.min_contributors = 3;
	struct tly_msg_header h = {
	    .type = TLY_MSG_QUERY, .sender = TLY_PARTY_COORDINATOR, .recipient = TLY_PARTY_ALL};
	new_id(r, t->id);
	memcpy(h.query_id, t->id, TLY_QUERY_ID_BYTES);
	commit(r, &q, t->id);
	tly_buf_init(&t->body);
	tly_buf_init(&t->query);
	cr_assert_eq(tly_query_encode(&t->body, &q), TLY_OK);
	free(q.log_commit);
	cr_assert_eq(tly_msg_seal(&t->query, &h, t->body.data, t->body.len, r->key.sign), TLY_OK);
	struct tly_query read;
	uint8_t read_id[TLY_QUERY_ID_BYTES];
	cr_assert_eq(tly_committee_read_query(&r->roster, t->rogue_member.id, t->query.data,
	                                      t->query.len, read_id, &read),
	             TLY_OK);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(tly_committee_member_alloc(&t->twin[i], &t->rogue_member, &r->roster,
		                                        read_id, &read),
		             TLY_OK);
		tly_committee_member_skip_agreement(t->twin[i]);
	}
	tly_query_fini(&read);
	send_all(r, t->query.data, t->query.len);
}

/* One SHARE of round 1: member 4's go to the coalition, the others are
 * relayed; member 3's are kept, to relay again later. Takes bytes. */
static void
two_sets_share(struct two_sets *t, const struct tly_msg *m, uint8_t *bytes, size_t len)
{
	if (m->header.recipient == 4)
		for (int i = 0; i < 2; i++)
			cr_assert_eq(tly_committee_member_receive(t->twin[i], bytes, len, &t->out),
			             TLY_OK);
	else
		cr_assert_eq(tly_hub_send(t->r.hub, m->header.recipient, bytes, len), TLY_OK);
	if (m->header.recipient == 3) {
		cr_assert_lt(t->kept, 4);
		t->to3[t->kept].data = bytes;
		t->to3[t->kept++].len = len;
		bytes = NULL;
	}
	free(bytes);
}

/* Round 1: relay every share; member 4's go to the coalition. */
static void
two_sets_relay_shares(struct two_sets *t)
{
	unsigned shares = 0, receipts = 0;

	tly_outbox_init(&t->out);
	for (int waited = 0; (shares < 16 || receipts < 4) && waited < WAIT_MS;) {
		uint32_t from;
		uint8_t *bytes;
		size_t len;
		struct tly_msg m;
		tly_err rv = tly_hub_recv(t->r.hub, &from, &bytes, &len, 100);
		if (rv == TLY_ETIMEDOUT) {
			waited += 100;
			continue;
		}
		cr_assert_eq(rv, TLY_OK);
		cr_assert_eq(tly_msg_peek(bytes, len, &m), TLY_OK);
		if (memcmp(m.header.query_id, t->id, TLY_QUERY_ID_BYTES) == 0) {
			receipts += m.header.type == TLY_MSG_RECEIPT;
			cr_assert_neq(m.header.type, TLY_MSG_REFUSAL, "node %u refused", from);
			if (m.header.type == TLY_MSG_SHARE) {
				shares++;
				two_sets_share(t, &m, bytes, len);
				bytes = NULL;
			}
		}
		free(bytes);
	}
	cr_assert_eq(shares, 16);
	cr_assert_eq(receipts, 4);
	cr_assert_eq(t->kept, 4);
}

/* Round 2: S = {1..4} to members 1 and 2, S' = {1, 2, 3} to member 3; the
 * rogue member sums both sets. */
static void
two_sets_announce(struct two_sets *t)
{
	t->s = (struct tly_idlist){4, t->participants};
	t->s2 = (struct tly_idlist){3, t->participants};
	tly_idlist_hash(t->hash_s, t->id, &t->s);
	tly_idlist_hash(t->hash_s2, t->id, &t->s2);
	for (uint32_t member = 1; member <= 3; member++) {
		tly_buf_reset(&t->body);
		cr_assert_eq(tly_attempt_list_encode(&t->body, 0, member == 3 ? &t->s2 : &t->s),
		             TLY_OK);
		rogue_send(&t->r, TLY_MSG_ANNOUNCE, member, t->id, &t->body);
	}
	for (int i = 0; i < 2; i++) { /* the rogue member sums both sets */
		tly_buf_reset(&t->body);
		cr_assert_eq(tly_attempt_list_encode(&t->body, 0, i == 0 ? &t->s : &t->s2), TLY_OK);
		struct tly_buf ann;
		struct tly_msg_header ah = {
		    .type = TLY_MSG_ANNOUNCE, .sender = TLY_PARTY_COORDINATOR, .recipient = 4};
		memcpy(ah.query_id, t->id, TLY_QUERY_ID_BYTES);
		tly_buf_init(&ann);
		cr_assert_eq(tly_msg_seal(&ann, &ah, t->body.data, t->body.len, t->r.key.sign),
		             TLY_OK);
		cr_assert_eq(tly_committee_member_receive(t->twin[i], ann.data, ann.len, &t->out),
		             TLY_OK);
		tly_buf_fini(&ann);
	}
	cr_assert_eq(t->out.count, 2, "the rogue member's two share-sums");
}

/* The honest votes come back: 1 and 2 for S, 3 for S'; the rogue member
 * votes for both. */
static void
two_sets_collect_votes(struct two_sets *t)
{
	unsigned voted = 0;

	for (int waited = 0; voted != 0x7 && waited < WAIT_MS;) {
		uint32_t from;
		uint8_t *bytes;
		size_t len;
		struct tly_msg m;
		uint32_t attempt;
		uint8_t hash[TLY_HASH_BYTES];
		tly_err rv = tly_hub_recv(t->r.hub, &from, &bytes, &len, 100);
		if (rv == TLY_ETIMEDOUT) {
			waited += 100;
			continue;
		}
		cr_assert_eq(rv, TLY_OK);
		cr_assert_eq(tly_msg_open(bytes, len, &t->r.roster, &m), TLY_OK);
		if (memcmp(m.header.query_id, t->id, TLY_QUERY_ID_BYTES) == 0) {
			cr_assert_eq(m.header.type, TLY_MSG_SET_SIGN, "node %u sent type %d", from,
			             (int)m.header.type);
			cr_assert_eq(tly_set_sign_decode(&attempt, hash, m.body, m.body_len),
			             TLY_OK);
			cr_assert_arr_eq(hash, from == 3 ? t->hash_s2 : t->hash_s, TLY_HASH_BYTES);
			memcpy(t->votes[from], m.signature, TLY_SIGNATURE_BYTES);
			voted |= 1u << (from - 1);
		}
		free(bytes);
	}
	cr_assert_eq(voted, 0x7, "votes from %x only", voted);
	vote_for(&t->rogue_member, t->id, &t->s, t->rogue_s);
	vote_for(&t->rogue_member, t->id, &t->s2, t->rogue_s2);
}

/* Round 3: every certificate for S' the coalition can make. To 3: its own
 * vote and the rogue's (two, q = 3); the same padded with 1's and 2's
 * votes (over S); to 1: a certificate for S' (it voted for S). Then the
 * honest certificate for S to 1 and 2. */
static void
two_sets_certificates(struct two_sets *t)
{
	struct rogue *r = &t->r;
	const uint8_t *id = t->id;

	send_cert(r, 3, id, &t->s2, (uint32_t[]){3, 4},
	          (const uint8_t *const[]){t->votes[3], t->rogue_s2}, 2);
	await_log(3, id, "committee: set certificate refused (fewer shares than the threshold", 1);
	send_cert(r, 3, id, &t->s2, (uint32_t[]){1, 2, 3, 4},
	          (const uint8_t *const[]){t->votes[1], t->votes[2], t->votes[3], t->rogue_s2}, 4);
	await_log(3, id, "committee: set certificate refused", 2);
	send_cert(r, 1, id, &t->s2, (uint32_t[]){1, 3, 4},
	          (const uint8_t *const[]){t->votes[1], t->votes[3], t->rogue_s2}, 3);
	await_log(1, id, "committee: set certificate refused", 1);
	/* A second set announced to member 1, which voted already. */
	tly_buf_reset(&t->body);
	cr_assert_eq(tly_attempt_list_encode(&t->body, 0, &t->s2), TLY_OK);
	rogue_send(r, TLY_MSG_ANNOUNCE, 1, id, &t->body);
	await_log(1, id, "committee: refused to vote for a second contributor set", 1);
	for (uint32_t member = 1; member <= 2; member++)
		send_cert(r, member, id, &t->s, (uint32_t[]){1, 2, 4},
		          (const uint8_t *const[]){t->votes[1], t->votes[2], t->rogue_s}, 3);
}

/* Share-sums: exactly 1 and 2, both for S. Member 3's refusals were logged
 * before this point, so anything it had sent is here too. */
static void
two_sets_collect_sums(struct two_sets *t)
{
	unsigned sums = 0;

	for (int waited = 0; sums != 0x3 && waited < WAIT_MS;) {
		uint32_t from;
		uint8_t *bytes;
		size_t len;
		struct tly_msg m;
		tly_err rv = tly_hub_recv(t->r.hub, &from, &bytes, &len, 100);
		if (rv == TLY_ETIMEDOUT) {
			waited += 100;
			continue;
		}
		cr_assert_eq(rv, TLY_OK);
		cr_assert_eq(tly_msg_open(bytes, len, &t->r.roster, &m), TLY_OK);
		if (memcmp(m.header.query_id, t->id, TLY_QUERY_ID_BYTES) == 0) {
			cr_assert_eq(m.header.type, TLY_MSG_SHARE_SUM, "node %u sent type %d", from,
			             (int)m.header.type);
			cr_assert(from == 1 || from == 2, "node %u released a share-sum", from);
			cr_assert_arr_eq(m.body + 4, t->hash_s, TLY_HASH_BYTES,
			                 "a share-sum not for S");
			cr_assert(!(sums >> (from - 1) & 1), "node %u summed twice", from);
			sums |= 1u << (from - 1);
		}
		free(bytes);
	}
	cr_assert_eq(sums, 0x3);
}

/* Nothing about this query waiting in the hub is of a refused type: a
 * SHARE_SUM always, and a SET_SIGN too when votes_too. */
static void
two_sets_none_pending(struct two_sets *t, int votes_too, const char *what)
{
	for (;;) {
		uint32_t from;
		uint8_t *bytes;
		size_t len;
		struct tly_msg m;
		if (tly_hub_recv(t->r.hub, &from, &bytes, &len, 0) != TLY_OK)
			break;
		cr_assert_eq(tly_msg_peek(bytes, len, &m), TLY_OK);
		cr_assert(memcmp(m.header.query_id, t->id, TLY_QUERY_ID_BYTES) != 0 ||
		              (m.header.type != TLY_MSG_SHARE_SUM &&
		               (!votes_too || m.header.type != TLY_MSG_SET_SIGN)),
		          "%s: node %u sent type %d", what, from, (int)m.header.type);
		free(bytes);
	}
}

/* Member 3 restarts (kill -9), and the coordinator tries again: the same
 * QUERY, the same four shares, and S announced. The new process would
 * vote for S (its memory of the vote for S' is gone); its ledger
 * remembers, so it sends nothing (node/ledger_votes.h). */
static void
two_sets_restart_member3(struct two_sets *t)
{
	struct rogue *r = &t->r;

	restart_node(3);
	for (int waited = 0; !tly_hub_connected(r->hub, 3) && waited < WAIT_MS; waited += 100)
		dmn_pause_ms(100);
	cr_assert(tly_hub_connected(r->hub, 3), "node 3 did not come back");
	cr_assert_eq(tly_hub_send(r->hub, 3, t->query.data, t->query.len), TLY_OK);
	await_log(3, t->id, "serving on the committee", 1);
	for (unsigned i = 0; i < t->kept; i++)
		cr_assert_eq(tly_hub_send(r->hub, 3, t->to3[i].data, t->to3[i].len), TLY_OK);
	tly_buf_reset(&t->body);
	cr_assert_eq(tly_attempt_list_encode(&t->body, 0, &t->s), TLY_OK);
	rogue_send(r, TLY_MSG_ANNOUNCE, 3, t->id, &t->body);
	await_log(3, t->id, "committee: this node's ledger holds its vote for another", 1);
	two_sets_none_pending(t, 1, "the restarted node");
}

/*
 * Four sites, committee {1, 2, 3, 4}, (k, t, q) = (4, 2, 3); site 4's
 * member keys are the coalition's (its daemon still answers as a trust).
 * The rogue coordinator relays round 1 faithfully, announces S = {1..4} to
 * members 1 and 2 and S' = {1, 2, 3} to member 3, and the rogue member
 * votes for both and sums both (two in-process instances with the
 * agreement off). The coordinator then tries every certificate it can
 * make for S': the honest daemons release share-sums only for S, and
 * member 3 refuses each certificate for S' (its log says why), so the
 * coalition holds one share-sum for S' (the rogue member's), fewer than t.
 */
Test(rogue, two_sets_with_a_rogue_member_release_at_most_one)
{
	struct two_sets *t = calloc(1, sizeof *t);
	char why[400], sign[300], kx[300];

	cr_assert_not_null(t);
	start_federation(SITES, 4000);
	rogue_open(&t->r);
	path_of(sign, sizeof sign, "site-4/keys/node.sign");
	path_of(kx, sizeof kx, "site-4/keys/node.kx");
	cr_assert_eq(tly_identity_from_files(&t->rogue_member, 4, sign, kx, why, sizeof why),
	             TLY_OK, "%s", why);
	two_sets_query(t);
	two_sets_relay_shares(t);
	two_sets_announce(t);
	two_sets_collect_votes(t);
	two_sets_certificates(t);
	two_sets_collect_sums(t);
	/* Nothing from member 3 arrived meanwhile (its refusals were logged
	 * first): the coalition holds 3 share-sums of S (1, 2 and its own)
	 * and one of S', fewer than t = 2. */
	two_sets_none_pending(t, 0, "a second share-sum");
	char *log3 = node_log(3);
	cr_assert(strstr(log3, "share-sum released") != NULL);
	free(log3);
	two_sets_restart_member3(t);
	for (unsigned i = 0; i < t->kept; i++)
		free(t->to3[i].data);
	tly_buf_fini(&t->body);
	tly_buf_fini(&t->query);
	tly_outbox_fini(&t->out);
	for (int i = 0; i < 2; i++)
		tly_committee_member_free(t->twin[i]);
	tly_identity_fini(&t->rogue_member);
	free(t->canonical);
	rogue_close(&t->r);
	free(t);
}

/* ---- pairwise masking: a coordinator that splits the survivors' views ---- */

/*
 * Five sites, a SecAgg query (complete graph, k = 4, t = 3, so Q =
 * ceil((n + t) / 2) = 4), run by a real tly_secagg_server in this process
 * relaying the daemons' messages, each round closed when everyone has
 * sent. At SURVIVORS the rogue holds back the server's (honest) message and
 * shows two views, each signed with the coordinator's real key: U3a = all
 * five to nodes 1, 2 and 5, U3b = {1, 2, 3, 4} (node 5 "dropped") to nodes
 * 3 and 4. Every CONSISTENCY comes back over the view its sender was
 * shown; the SIGNATURE_LIST each node then gets carries the signatures over
 * ITS view (3 or 2, below Q) in one query, and all five in another (the
 * other view's do not verify over the recipient's U3). Every node refuses
 * the list, stops and wipes its secrets; none sends an UNMASK. The control
 * (the check above can fail): a third query with the same crafted SURVIVORS
 * and SIGNATURE_LIST but one view (U3a to every node, all five signatures)
 * is unmasked by every node. A fourth, relayed honestly to the end, is
 * released: the daemons keep serving. Each query is charged once.
 */
enum { MASK_SITES = 5 };

static const char secagg_count_by_sex[] =
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
    " \"group_by\": [\"sex\"], \"protocol\": \"secagg\","
    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": %s}}";

/* One masking query driven by the rogue. */
struct masked {
	struct tly_secagg_server *server;
	struct tly_outbox box;
	uint8_t id[TLY_QUERY_ID_BYTES];
	unsigned receipts; /* RECEIPTs: every node charged before its keys left */
	unsigned unmasks;  /* UNMASKs received */
	int consistent;    /* the control: every node is shown U3a */
	uint8_t consistency[MAX_SITES + 1][TLY_SIGNATURE_BYTES];
};

/* Send what the server put in m->box, except messages of type `hold`. */
static void
masked_dispatch(struct rogue *r, struct masked *m, int hold)
{
	for (size_t i = 0; i < m->box.count; i++) {
		struct tly_msg peeked;
		const struct tly_outmsg *o = &m->box.items[i];
		cr_assert_eq(tly_msg_peek(o->data, o->len, &peeked), TLY_OK);
		if ((int)peeked.header.type == hold)
			continue;
		cr_assert_eq(tly_hub_send(r->hub, o->to, o->data, o->len), TLY_OK, "node %u",
		             o->to);
	}
	tly_outbox_clear(&m->box);
}

/* A SecAgg QUERY over the five sites, committed to the rogue's log; the
 * server signs it and sends it to each. */
static void
masked_start(struct rogue *r, struct masked *m)
{
	struct tly_query q;
	char json[600], *canonical;
	uint32_t participants[MAX_SITES], committee[3];

	memset(m, 0, sizeof *m);
	snprintf(json, sizeof json, secagg_count_by_sex, "0.5");
	make_query(r, &q, json, &canonical, participants, committee);
	q.protocol = TLY_PROTOCOL_SECAGG;
	q.committee = (struct tly_idlist){0, NULL};
	q.quorum = 0;
	q.degree = MASK_SITES - 1;
	q.threshold = 3;
	new_id(r, m->id);
	commit(r, &q, m->id);
	tly_outbox_init(&m->box);
	cr_assert_eq(tly_secagg_server_alloc(&m->server, &r->key, &r->roster, &q, m->id, &m->box),
	             TLY_OK);
	free(q.log_commit);
	free(canonical);
	masked_dispatch(r, m, -1);
}

/* Relay the nodes' messages to the server until it reaches `phase`;
 * messages of type `hold` it sends are kept back. */
static void
masked_pump(struct rogue *r, struct masked *m, enum tly_secagg_phase phase, int hold)
{
	for (int waited = 0; tly_secagg_server_phase(m->server) < phase && waited < WAIT_MS;) {
		uint32_t from;
		uint8_t *bytes;
		size_t len;
		struct tly_msg peeked;
		tly_err rv = tly_hub_recv(r->hub, &from, &bytes, &len, 100);
		if (rv == TLY_ETIMEDOUT) {
			waited += 100;
			continue;
		}
		cr_assert_eq(rv, TLY_OK);
		cr_assert_eq(tly_msg_peek(bytes, len, &peeked), TLY_OK);
		if (memcmp(peeked.header.query_id, m->id, TLY_QUERY_ID_BYTES) == 0) {
			cr_assert_neq(peeked.header.type, TLY_MSG_REFUSAL, "node %u refused", from);
			m->receipts += peeked.header.type == TLY_MSG_RECEIPT;
			m->unmasks += peeked.header.type == TLY_MSG_UNMASK;
			if (peeked.header.type != TLY_MSG_RECEIPT)
				cr_assert_eq(
				    tly_secagg_server_receive(m->server, bytes, len, &m->box),
				    TLY_OK, "node %u's type %d", from, (int)peeked.header.type);
			masked_dispatch(r, m, hold);
		}
		free(bytes);
	}
	cr_assert_eq(tly_secagg_server_phase(m->server), phase);
}

/* U3a (all five) or U3b (node 5 dropped): the view node n is shown. */
static struct tly_idlist
view_of(const struct masked *m, uint32_t n, uint32_t *ids)
{
	for (uint32_t i = 0; i < MASK_SITES; i++)
		ids[i] = i + 1;
	int b = !m->consistent && (n == 3 || n == 4);
	return (struct tly_idlist){b ? MASK_SITES - 1 : MASK_SITES, ids};
}

/* The two SURVIVORS views, then every CONSISTENCY: over its sender's view,
 * signed by it (kept). */
static void
masked_split(struct rogue *r, struct masked *m)
{
	uint32_t ids[MASK_SITES];
	struct tly_buf body;
	unsigned signed_by = 0;

	tly_buf_init(&body);
	for (uint32_t n = 1; n <= MASK_SITES; n++) {
		struct tly_idlist view = view_of(m, n, ids);
		tly_buf_reset(&body);
		cr_assert_eq(tly_idlist_encode(&body, &view), TLY_OK);
		rogue_send(r, TLY_MSG_SURVIVORS, n, m->id, &body);
	}
	tly_buf_fini(&body);
	for (int waited = 0; signed_by != 0x1f && waited < WAIT_MS;) {
		uint32_t from;
		uint8_t *bytes, hash[TLY_HASH_BYTES];
		size_t len;
		struct tly_msg msg;
		tly_err rv = tly_hub_recv(r->hub, &from, &bytes, &len, 100);
		if (rv == TLY_ETIMEDOUT) {
			waited += 100;
			continue;
		}
		cr_assert_eq(rv, TLY_OK);
		cr_assert_eq(tly_msg_open(bytes, len, &r->roster, &msg), TLY_OK);
		if (memcmp(msg.header.query_id, m->id, TLY_QUERY_ID_BYTES) == 0) {
			cr_assert_eq(msg.header.type, TLY_MSG_CONSISTENCY, "node %u sent type %d",
			             from, (int)msg.header.type);
			struct tly_idlist view = view_of(m, from, ids);
			tly_idlist_hash(hash, m->id, &view);
			cr_assert(msg.body_len == TLY_HASH_BYTES &&
			              memcmp(msg.body, hash, TLY_HASH_BYTES) == 0,
			          "node %u did not sign the view it was shown", from);
			memcpy(m->consistency[from], msg.signature, TLY_SIGNATURE_BYTES);
			signed_by |= 1u << (from - 1);
		}
		free(bytes);
	}
	cr_assert_eq(signed_by, 0x1f, "CONSISTENCY from %x only", signed_by);
}

/* To each node a SIGNATURE_LIST: the signatures over its own view (below
 * Q), or with `both` every signature of both views. */
static void
masked_signature_lists(struct rogue *r, struct masked *m, int both)
{
	struct tly_signature_entry entries[MASK_SITES];
	struct tly_buf body;

	tly_buf_init(&body);
	for (uint32_t n = 1; n <= MASK_SITES; n++) {
		uint32_t count = 0, ids[MASK_SITES];
		struct tly_idlist mine = view_of(m, n, ids);
		for (uint32_t v = 1; v <= MASK_SITES; v++) {
			if (!both && view_of(m, v, ids).count != mine.count)
				continue;
			entries[count].id = v;
			memcpy(entries[count++].signature, m->consistency[v], TLY_SIGNATURE_BYTES);
		}
		cr_assert_lt(count, both ? MASK_SITES + 1 : 4, "Q = 4");
		struct tly_signature_list list = {count, entries};
		tly_buf_reset(&body);
		cr_assert_eq(tly_signature_list_encode(&body, &list), TLY_OK);
		rogue_send(r, TLY_MSG_SIGNATURE_LIST, n, m->id, &body);
	}
	tly_buf_fini(&body);
}

/* Nothing about m's query arrives for wait_ms: no UNMASK above all. */
static void
masked_none_for(struct rogue *r, const struct masked *m, long wait_ms)
{
	for (long start = dmn_now_ms(); dmn_now_ms() - start < wait_ms;) {
		uint32_t from;
		uint8_t *bytes;
		size_t len;
		struct tly_msg peeked;
		if (tly_hub_recv(r->hub, &from, &bytes, &len, 100) != TLY_OK)
			continue;
		cr_assert_eq(tly_msg_peek(bytes, len, &peeked), TLY_OK);
		cr_assert(memcmp(peeked.header.query_id, m->id, TLY_QUERY_ID_BYTES) != 0,
		          "node %u sent type %d after the split lists", from,
		          (int)peeked.header.type);
		free(bytes);
	}
}

/* Until every node has logged `what` about m's query; nothing about it
 * may arrive meanwhile (an UNMASK fails here, type 28). */
static void
masked_await_logs(struct rogue *r, const struct masked *m, const char *what)
{
	unsigned logged = 0;

	for (long start = dmn_now_ms(); logged != 0x1f && dmn_now_ms() - start < WAIT_MS;) {
		masked_none_for(r, m, 100);
		for (unsigned n = 1; n <= MASK_SITES; n++)
			if (log_mentions(n, m->id, what))
				logged |= 1u << (n - 1);
	}
	cr_assert_eq(logged, 0x1f, "only nodes %x logged \"%s\"", logged, what);
}

/* Rounds 0 to 2 relayed faithfully; the SURVIVORS the server would send
 * held back. The mean round time (QUERY and ADVERTISE, KEY_SHARE,
 * MASKED_INPUT), in ms. */
static long
masked_to_survivors(struct rogue *r, struct masked *m, int consistent)
{
	long start = dmn_now_ms();
	masked_start(r, m);
	m->consistent = consistent;
	masked_pump(r, m, TLY_SECAGG_CHECKING, TLY_MSG_SURVIVORS);
	cr_assert_eq(m->receipts, MASK_SITES);
	return (dmn_now_ms() - start) / 3;
}

/* The control for the split: the same crafted messages with one view (U3a
 * to all) and all five signatures: every node unmasks. */
static void
masked_consistent_query(struct rogue *r, struct masked *m)
{
	(void)masked_to_survivors(r, m, 1);
	masked_split(r, m);
	masked_signature_lists(r, m, 1);
	for (int waited = 0; m->unmasks < MASK_SITES && waited < WAIT_MS;) {
		uint32_t from;
		uint8_t *bytes;
		size_t len;
		struct tly_msg peeked;
		tly_err rv = tly_hub_recv(r->hub, &from, &bytes, &len, 100);
		if (rv == TLY_ETIMEDOUT) {
			waited += 100;
			continue;
		}
		cr_assert_eq(rv, TLY_OK);
		cr_assert_eq(tly_msg_peek(bytes, len, &peeked), TLY_OK);
		if (memcmp(peeked.header.query_id, m->id, TLY_QUERY_ID_BYTES) == 0)
			m->unmasks += peeked.header.type == TLY_MSG_UNMASK;
		free(bytes);
	}
	cr_assert_eq(m->unmasks, MASK_SITES, "one view: %u UNMASKs", m->unmasks);
	masked_await_logs(r, m, "masking: unmasking shares sent; done");
	tly_secagg_server_free(m->server);
	tly_outbox_fini(&m->box);
}

/* One split query: rounds 0 to 2 relayed faithfully (timed), the two
 * views, the lists; every node refuses (err), logs that it stops, and
 * sends no UNMASK within 20 times the mean round (3 s at least). */
static void
masked_split_query(struct rogue *r, struct masked *m, int both, tly_err err)
{
	char what[300];

	long round_ms = masked_to_survivors(r, m, 0);
	masked_split(r, m);
	masked_signature_lists(r, m, both);
	snprintf(what, sizeof what,
	         "masking: message of type %d refused: %s; this node stops and wipes its secrets",
	         (int)TLY_MSG_SIGNATURE_LIST, tly_strerror(err));
	masked_await_logs(r, m, what);
	masked_await_logs(r, m, "masking: stopped");
	long grace = 20 * round_ms > 3000 ? 20 * round_ms : 3000;
	cr_log_info("split views (%s): rounds took %ld ms each; no UNMASK for %ld ms",
	            both ? "both views' signatures" : "own view's", round_ms, grace);
	masked_none_for(r, m, grace);
	cr_assert_eq(m->unmasks, 0);
	tly_secagg_server_free(m->server);
	tly_outbox_fini(&m->box);
}

Test(rogue, masking_split_survivor_views_unmask_nothing)
{
	struct rogue r;
	struct masked split1, split2, control, honest;
	struct tly_secagg_result res;

	start_federation(MASK_SITES, 4000);
	rogue_open(&r);
	masked_split_query(&r, &split1, 0, TLY_ETOOFEW);
	masked_split_query(&r, &split2, 1, TLY_EAUTH);
	masked_consistent_query(&r, &control);
	/* An honest query after them: the daemons still serve. */
	masked_start(&r, &honest);
	masked_pump(&r, &honest, TLY_SECAGG_DONE, -1);
	cr_assert_eq(honest.unmasks, MASK_SITES);
	cr_assert_eq(tly_secagg_server_result(honest.server, &res), TLY_OK);
	cr_assert_eq(res.contributors.count, MASK_SITES);
	tly_secagg_result_fini(&res);
	tly_secagg_server_free(honest.server);
	tly_outbox_fini(&honest.box);
	/* One charge per query in every ledger, in order: none more. */
	for (unsigned n = 1; n <= MASK_SITES; n++) {
		cr_assert_eq(ledger_check(n, 0, NULL), 4, "site %u", n);
		assert_entry(n, 1, TLY_LEDGER_CHARGE, TLY_LEDGER_REFUSED_NONE, split1.id);
		assert_entry(n, 2, TLY_LEDGER_CHARGE, TLY_LEDGER_REFUSED_NONE, split2.id);
		assert_entry(n, 3, TLY_LEDGER_CHARGE, TLY_LEDGER_REFUSED_NONE, control.id);
		assert_entry(n, 4, TLY_LEDGER_CHARGE, TLY_LEDGER_REFUSED_NONE, honest.id);
	}
	rogue_close(&r);
}

/* ---- no query outside the log (docs/PROTOCOL.md section 5.4) ---- */

/* Wait for the RECEIPT or REFUSAL about query_id of each node in ids. */
static void
collect_from(struct rogue *r, const uint8_t query_id[TLY_QUERY_ID_BYTES], struct reply *replies,
             const uint32_t *ids, size_t count)
{
	size_t done = 0;
	memset(replies, 0, sizeof *replies * (MAX_SITES + 1));
	for (int waited = 0; done < count && waited < WAIT_MS; waited += 100) {
		uint32_t from, reason;
		uint8_t *bytes;
		size_t len;
		struct tly_msg m;
		tly_err rv = tly_hub_recv(r->hub, &from, &bytes, &len, 100);
		if (rv == TLY_ETIMEDOUT)
			continue;
		cr_assert_eq(rv, TLY_OK);
		cr_assert_eq(tly_msg_open(bytes, len, &r->roster, &m), TLY_OK);
		int wanted = 0;
		for (size_t i = 0; i < count; i++)
			wanted |= ids[i] == from;
		if (wanted && memcmp(m.header.query_id, query_id, TLY_QUERY_ID_BYTES) == 0) {
			struct reply *rep = &replies[from];
			if (m.header.type == TLY_MSG_RECEIPT) {
				rep->receipt = 1;
				done++;
			} else if (m.header.type == TLY_MSG_REFUSAL) {
				rep->refusal = 1;
				cr_assert_eq(
				    tly_refusal_decode(&reason, rep->text, m.body, m.body_len),
				    TLY_OK);
				done++;
			}
		}
		free(bytes);
	}
	cr_assert_eq(done, count, "only %zu of %zu nodes replied", done, count);
}

/* `tally audit verify --strict --dir DIR`: its exit code; *text its output. */
static int
audit_dir(char **text)
{
	int code =
	    run((const char *const[]){"tally", "audit", "verify", "--strict", "--dir", dir, NULL});
	*text = output();
	return code;
}

/* A query never logged: no log section, or a head that does not include
 * it. Every node refuses and charges nothing (not even a refusal entry);
 * the same query properly logged is then answered (the control). */
Test(rogue, a_query_outside_the_log_is_refused_by_every_node_uncharged)
{
	struct rogue r;
	struct reply replies[MAX_SITES + 1];
	struct tly_buf msg;
	uint8_t id[16], other[16];

	start_federation(SITES, 2000);
	rogue_open(&r);
	r.log_mode = LOG_NONE;
	new_id(&r, id);
	seal_query(&r, &msg, "0.5", id, r.key.sign, 0, NULL);
	ask(&r, &msg, id, replies);
	assert_all_refused(replies, "no log section", "outside the log");
	tly_buf_fini(&msg);
	/* A head (properly signed) of a log that holds another query only. */
	r.log_mode = LOG_MEMORY;
	new_id(&r, other);
	seal_query(&r, &msg, "0.5", other, r.key.sign, 0, NULL);
	tly_buf_fini(&msg);
	struct tly_query q;
	char json[600], *canonical;
	uint32_t participants[MAX_SITES], committee[3];
	struct tly_buf body;
	struct tly_msg_header h = {
	    .type = TLY_MSG_QUERY, .sender = TLY_PARTY_COORDINATOR, .recipient = TLY_PARTY_ALL};
	snprintf(json, sizeof json, count_by_sex, "0.5");
	make_query(&r, &q, json, &canonical, participants, committee);
	test_log_commit(&r.mem, r.key.sign, other, &q); /* the head includes `other`, not `id` */
	tly_buf_init(&body);
	cr_assert_eq(tly_query_encode(&body, &q), TLY_OK);
	memcpy(h.query_id, id, TLY_QUERY_ID_BYTES);
	tly_buf_init(&msg);
	cr_assert_eq(tly_msg_seal(&msg, &h, body.data, body.len, r.key.sign), TLY_OK);
	ask(&r, &msg, id, replies);
	assert_all_refused(replies, "a head without the query", "does not include this query");
	tly_buf_fini(&msg);
	tly_buf_fini(&body);
	free(q.log_commit);
	free(canonical);
	for (unsigned n = 1; n <= sites; n++) {
		cr_assert_eq(ledger_check(n, 0, NULL), 0, "site %u charged or recorded something",
		             n);
		cr_assert(log_mentions(n, id, "refused, nothing charged"), "site %u's log", n);
	}
	/* Control: the same question committed to the log is answered. */
	new_id(&r, id);
	seal_query(&r, &msg, "0.5", id, r.key.sign, 0, NULL);
	ask(&r, &msg, id, replies);
	assert_all_answered(replies, "a logged query");
	tly_buf_fini(&msg);
	for (unsigned n = 1; n <= sites; n++)
		cr_assert_eq(ledger_check(n, 0, NULL), 1, "site %u", n);
	rogue_close(&r);
}

/* The newest head a site holds. */
static struct tly_ledger_head
held_head(unsigned site)
{
	char path[300];
	struct tly_ledger *ledger;
	char err[256];
	struct tly_ledger_head h;
	int found = 0;

	ledger_path(site, path, sizeof path);
	cr_assert_eq(tly_ledger_open_readonly(&ledger, path, err, sizeof err), TLY_OK, "%s", err);
	cr_assert_eq(tly_ledger_head_newest(ledger, &h, &found), TLY_OK);
	cr_assert(found, "site %u holds no head", site);
	tly_ledger_close(ledger);
	return h;
}

/* A forked log: the coordinator's real log grows to size 2 for node 1,
 * while node 2 is shown another log of size 2 with the same first entry.
 * Node 2 accepts it (it only held size 1); shown to node 1, which holds
 * the real head of size 2, it is refused as a fork, uncharged. The audit
 * finds the fork from node 2's ledger, naming node, query and head. */
Test(rogue, a_forked_log_is_refused_by_a_node_that_saw_the_other_and_fails_the_audit)
{
	struct rogue r;
	struct reply replies[MAX_SITES + 1];
	struct tly_buf msg;
	uint8_t id1[16], id2[16], id3[16];
	const uint32_t one[] = {1}, two[] = {2};

	start_federation(SITES, 2000);
	rogue_open(&r);
	r.log_mode = LOG_REAL;
	new_id(&r, id1);
	seal_query(&r, &msg, "0.5", id1, r.key.sign, 0, NULL);
	ask(&r, &msg, id1, replies);
	assert_all_answered(replies, "query 1 (real log, size 1)");
	tly_buf_fini(&msg);
	new_id(&r, id2);
	seal_query(&r, &msg, "0.5", id2, r.key.sign, 0, NULL);
	cr_assert_eq(tly_hub_send(r.hub, 1, msg.data, msg.len), TLY_OK);
	collect_from(&r, id2, replies, one, 1);
	cr_assert(replies[1].receipt, "node 1 refused query 2: %s", replies[1].text);
	tly_buf_fini(&msg);
	cr_assert_eq(held_head(1).head.size, 2);
	/* The other log: the real first entry, then query 3. */
	struct tly_translog_report report;
	cr_assert_eq(tly_translog_verify(r.real, &r.roster, &report), TLY_OK, "%s", report.reason);
	r.fork.leaves = malloc(TLY_MERKLE_HASH_BYTES);
	memcpy(r.fork.leaves, report.leaves, TLY_MERKLE_HASH_BYTES);
	r.fork.size = 1;
	tly_translog_report_fini(&report);
	r.log_mode = LOG_FORK;
	new_id(&r, id3);
	seal_query(&r, &msg, "0.5", id3, r.key.sign, 0, NULL);
	cr_assert_eq(tly_hub_send(r.hub, 2, msg.data, msg.len), TLY_OK);
	collect_from(&r, id3, replies, two, 1);
	cr_assert(replies[2].receipt, "node 2 refused the forked head: %s", replies[2].text);
	cr_assert_eq(held_head(2).head.size, 2);
	cr_assert_arr_neq(held_head(1).head.root, held_head(2).head.root, 32);
	/* Node 1 holds the real head of size 2: the fork is refused. */
	uint64_t before = ledger_check(1, 0, NULL);
	cr_assert_eq(tly_hub_send(r.hub, 1, msg.data, msg.len), TLY_OK);
	collect_from(&r, id3, replies, one, 1);
	cr_assert(replies[1].refusal, "node 1 accepted a fork");
	cr_assert(strstr(replies[1].text, "fork") != NULL, "%s", replies[1].text);
	cr_assert_eq(ledger_check(1, 0, NULL), before, "node 1 charged the forked query");
	tly_buf_fini(&msg);
	rogue_close(&r);
	/* The audit names node 2, query 3 and the head of size 2. */
	char *text, qid[33], needle[200];
	cr_assert_eq(audit_dir(&text), 1, "%s", text);
	tly_hex(qid, id3, 16);
	snprintf(needle, sizeof needle, "node 2, query %s, log head of size 2", qid);
	cr_assert(strstr(text, needle) != NULL, "%s", text);
	cr_assert(strstr(text, "fork") != NULL, "%s", text);
	free(text);
}

/* `tally query` against the real coordinator (planner.conf); exit code. */
static int
real_query(void)
{
	char conf[300];
	path_of(conf, sizeof conf, "planner.conf");
	return run((const char *const[]){"tally", "query", "--config", conf, "--count", "--by",
	                                 "sex", "--epsilon", "0.25", NULL});
}

/* The reproduction: on a stopped federation, cut the newest
 * entries off the log (the trigger dropped first): `tally audit verify
 * --strict` must fail naming the node, the query and the head (it printed
 * OK before). Then an entry deleted from the middle, on a copy. */
Test(rogue, a_truncated_or_holed_log_fails_the_audit_naming_node_query_and_head)
{
	char log_path[300], copy[300], cmd[700], *text;

	start_federation(SITES, 2000);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(real_query(), 0, "query %d: %s", i, (text = output()));
	cr_assert_eq(run((const char *const[]){"tally", "demo", "--stop", "--dir", dir, NULL}), 0);
	cr_assert_eq(audit_dir(&text), 0, "the honest log fails: %s", text);
	free(text);
	path_of(log_path, sizeof log_path, "coordinator/state/transparency.db");
	path_of(copy, sizeof copy, "transparency.copy");
	snprintf(cmd, sizeof cmd, "cp %s %s", log_path, copy);
	cr_assert_eq(system(cmd), 0);
	/* Entries: committed, released per query: 8. The last query's
	 * committed entry is 7; the nodes hold the head of size 7. */
	fed_sql(log_path, "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq >= 6");
	cr_assert_eq(audit_dir(&text), 1, "a truncated log passed: %s", text);
	cr_assert(strstr(text, "log head of size 7") != NULL, "%s", text);
	cr_assert(strstr(text, "truncated") != NULL, "%s", text);
	cr_assert(strstr(text, "node ") != NULL && strstr(text, "query ") != NULL, "%s", text);
	free(text);
	snprintf(cmd, sizeof cmd, "cp %s %s", copy, log_path);
	cr_assert_eq(system(cmd), 0);
	fed_sql(log_path, "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 3");
	cr_assert_eq(audit_dir(&text), 1, "a log with a hole passed: %s", text);
	cr_assert(strstr(text, "entry 3: missing") != NULL, "%s", text);
	cr_assert(strstr(text, "log head of size") != NULL, "%s", text);
	free(text);
}
