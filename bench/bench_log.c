/*
 * bench_log - what "no query outside the log" costs per query
 * (docs/PROTOCOL.md 5.4), at n = 20 participants:
 *
 *   commit   the coordinator's part, before the QUERY leaves: append the
 *            committed entry to the SQLite transparency log (fsynced), the
 *            Merkle root and proofs over the whole log (O(size) hashes),
 *            the head's Ed25519 signature, the encoding
 *   verify   one node's part: decode, head signature, inclusion proof,
 *            consistency proof from its last head, and the head recorded
 *            (fsynced) in its ledger file. Nodes check in parallel, so a
 *            query waits for one node's verify; the CPU of all n is also
 *            given
 *   bytes    the QUERY's log section
 *   start    what the coordinator's start adds (issue 12 section 6): open
 *            the log and verify it whole (chain, signatures, each entry's
 *            rules), on this log and, as the baseline, on an empty one
 *
 * on a log of LOG_QUERIES (or argv[1]) earlier queries, two entries each.
 * The ratio is against a query time given in TLY_QUERY_MS (the query time
 * at n = 20, d = 10^4 before this change: bench_federation's protocol
 * time, or bench_protocol's query_cpu for `committee 20 10000`); without it
 * the costs are printed alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "coordinator/translog.h"
#include "crypto/rng.h"
#include "node/ledger.h"
#include "node/ledger_heads.h"
#include "wire/codec.h"
#include "store/head.h"
#include "timing.h"

enum { NODES = 20, LOG_QUERIES = 1000, REPS = 21 };
static long log_queries = LOG_QUERIES; /* argv[1] may change it */

static char dir[] = "/tmp/tally-bench-log-XXXXXX";
static struct tly_sign_key *key, *node_key;
static uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
static struct tly_translog *log_handle;
static struct tly_ledger *ledger;
/* A canonical query as the coordinator logs it (verification reads it). */
static const char spec[] =
    "{\"dataset\":\"patients\",\"domains\":{\"sex\":[\"F\",\"M\"]},\"group_by\":[\"sex\"],"
    "\"measure\":{\"op\":\"count\"},\"planner\":\"planner\",\"privacy\":{\"epsilon\":\"1/2\","
    "\"mechanism\":\"laplace\"},\"protocol\":\"committee\",\"sdc\":{\"round_to\":0,"
    "\"suppress_below\":0},\"where\":[]}";
static uint8_t commit_bytes[TLY_COMMIT_MAX_BYTES];
static size_t commit_len;
static uint8_t query_id[16], query_hash[32];
static uint64_t held_size;
static uint8_t held_root[32];

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench_log: %s failed\n", what);
		exit(1);
	}
}

static void
record_for(struct tly_translog_record *rec, uint8_t outcome)
{
	memset(rec, 0, sizeof *rec);
	randombytes_buf(query_id, sizeof query_id);
	tly_hash(query_hash, "tally/query/v1", (const uint8_t *)spec, sizeof spec - 1);
	memcpy(rec->query_id, query_id, 16);
	memcpy(rec->query_hash, query_hash, 32);
	rec->protocol = TLY_PROTOCOL_COMMITTEE;
	rec->threshold = 2;
	rec->degree = 3;
	rec->outcome = outcome;
	rec->reason = outcome == TLY_TRANSLOG_COMMITTED ? "" : "bench";
	rec->spec_json = spec;
	rec->spec_len = sizeof spec - 1;
}

/* The coordinator's part for one query. */
static void
commit_one(void *arg)
{
	struct tly_translog_record rec;
	struct tly_log_commit *c = calloc(1, sizeof *c);
	uint64_t sizes[16 + NODES];
	size_t n = 0;
	char why[300];

	(void)arg;
	record_for(&rec, TLY_TRANSLOG_COMMITTED);
	check(tly_translog_recent_heads(log_handle, sizes, 16, &n) == TLY_OK, "recent heads");
	for (size_t i = 0; i < NODES; i++)
		sizes[n++] = held_size; /* every node holds the last head */
	check(tly_translog_commit(log_handle, &rec, sizes, n, c, why, sizeof why) == TLY_OK, why);
	check(tly_log_commit_encode(commit_bytes, &commit_len, c) == TLY_OK, "encode");
	free(c);
}

/* One node's part for the query commit_one made last. */
static void
verify_one(void *arg)
{
	struct tly_log_commit *c = malloc(sizeof *c);
	uint8_t leaf[32];

	(void)arg;
	check(tly_log_commit_decode(c, commit_bytes, commit_len) == TLY_OK, "decode");
	check(tly_head_verify(&c->head, pk) == TLY_OK, "head signature");
	tly_log_leaf_hash(leaf, c->leaf_index + 1, TLY_LOG_OUTCOME_COMMITTED, query_id, query_hash,
	                  c->entry_hash);
	check(tly_merkle_verify_inclusion(leaf, c->leaf_index, c->head.size, c->inclusion.hashes[0],
	                                  c->inclusion.count, c->head.root) == TLY_OK,
	      "inclusion");
	const struct tly_merkle_proof *p = tly_log_commit_consistency(c, held_size);
	check(held_size == 0 || held_size == c->head.size ||
	          (p != NULL &&
	           tly_merkle_verify_consistency(held_size, c->head.size, held_root, c->head.root,
	                                         p->hashes[0], p->count) == TLY_OK),
	      "consistency");
	check(tly_ledger_head_record(ledger, &c->head, query_id) == TLY_OK, "record");
	free(c);
}

static double commit_s[REPS], verify_s[REPS];

/* A query's whole log cost: commit, then the next query sees this head;
 * *times (may be NULL) gets the two parts. */
static void
round_trip(double *times)
{
	struct tly_log_commit *c = malloc(sizeof *c);
	double t0 = bench_now();
	commit_one(NULL);
	double t1 = bench_now();
	verify_one(NULL);
	if (times != NULL) {
		times[0] = t1 - t0;
		times[1] = bench_now() - t1;
	}
	check(tly_log_commit_decode(c, commit_bytes, commit_len) == TLY_OK, "decode");
	held_size = c->head.size;
	memcpy(held_root, c->head.root, 32);
	free(c);
}

/* Open path read-write and verify it, as tally-coordinator does at start;
 * the seconds taken. */
static double
start_verify(const char *path)
{
	struct tly_translog *l;
	char terr[320];
	struct tly_translog_report report;
	struct tly_roster roster = {0};

	memcpy(roster.coordinator_pk, pk, sizeof pk);
	double t0 = bench_now();
	check(tly_translog_open(&l, path, key, terr, sizeof terr) == TLY_OK, terr);
	check(tly_translog_verify_chain(l, &roster, &report) == TLY_OK, report.reason);
	double t = bench_now() - t0;
	tly_translog_report_fini(&report);
	tly_translog_close(l);
	return t;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	char path[200], cmd[240], params[64];
	char terr[320];
	char lerr[256];
	struct tly_translog_record rec;
	char why[300];

	check(tly_crypto_init() == TLY_OK && mkdtemp(dir) != NULL, "setup");
	check(tly_sign_key_alloc(&key, NULL) == TLY_OK &&
	          tly_sign_key_alloc(&node_key, NULL) == TLY_OK,
	      "keys");
	tly_sign_key_public(key, pk);
	snprintf(path, sizeof path, "%s/transparency.db", dir);
	check(tly_translog_open(&log_handle, path, key, terr, sizeof terr) == TLY_OK, terr);
	snprintf(path, sizeof path, "%s/ledger.db", dir);
	check(tly_ledger_open(&ledger, path, 1, node_key, lerr, sizeof lerr) == TLY_OK, lerr);
	/* A log of LOG_QUERIES earlier queries: committed, then refused. */
	log_queries = bench_pick(LOG_QUERIES, 10);
	if (argc > 1)
		log_queries = strtol(argv[1], NULL, 10);
	for (long i = 0; i < log_queries; i++) {
		round_trip(NULL);
		record_for(&rec, TLY_TRANSLOG_REFUSED);
		check(tly_translog_append(log_handle, &rec, NULL, why, sizeof why) == TLY_OK, why);
	}
	bench_header();
	snprintf(params, sizeof params, "\"n=%d,log=%ld entries\"", NODES, 2 * log_queries);
	for (int i = 0; i < REPS; i++) {
		double t[2];
		round_trip(t);
		commit_s[i] = t[0];
		verify_s[i] = t[1];
	}
	qsort(commit_s, REPS, sizeof *commit_s, by_value);
	qsort(verify_s, REPS, sizeof *verify_s, by_value);
	double commit = commit_s[REPS / 2], verify = verify_s[REPS / 2];
	const char *env = getenv("TLY_QUERY_MS");
	double query_ms = env != NULL ? atof(env) : 0;
	const char *base = query_ms > 0 ? "query_n20_d1e4_before" : "";
	bench_row("log", "coordinator_commit", params, commit * 1e3, "ms", base, query_ms);
	bench_row("log", "commit_and_one_node", params, (commit + verify) * 1e3, "ms", base,
	          query_ms);
	bench_row("log", "node_verify_each", params, verify * 1e3, "ms", base, query_ms);
	bench_row("log", "node_verify_all_serial", params, verify * 1e3 * NODES, "ms", base,
	          query_ms);
	bench_row("log", "query_log_section", params, (double)commit_len, "bytes", "", 0);
	char empty[220];
	snprintf(path, sizeof path, "%s/transparency.db", dir);
	snprintf(empty, sizeof empty, "%s/empty.db", dir);
	double full_s[5], empty_s[5];
	for (int i = 0; i < 5; i++) {
		full_s[i] = start_verify(path);
		empty_s[i] = start_verify(empty);
	}
	qsort(full_s, 5, sizeof *full_s, by_value);
	qsort(empty_s, 5, sizeof *empty_s, by_value);
	snprintf(params, sizeof params, "\"log=%ld entries\"", 2 * (log_queries + REPS));
	bench_row("log", "start_open_and_verify", params, full_s[2] * 1e3, "ms",
	          "start_open_and_verify_empty", empty_s[2] * 1e3);
	bench_row("log", "start_open_and_verify_empty", "\"log=0 entries\"", empty_s[2] * 1e3, "ms",
	          "", 0);
	tly_translog_close(log_handle);
	tly_ledger_close(ledger);
	tly_sign_key_free(key);
	tly_sign_key_free(node_key);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
