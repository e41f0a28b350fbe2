/*
 * bench_feed - what the public release feed (coordinator/feed.h) costs on
 * a log of QUERIES (or argv[1]) released queries, two entries each (the
 * committed entry with its signed head, then the release carrying one
 * node's receipt with that head):
 *
 *   export   tly_feed_export of the whole log: what `tally audit export`
 *            does, and what the coordinator does on its loop thread the
 *            first time GET /public/feed.json is asked after the log grew
 *   verify   tly_feed_verify of that feed: what a campaigner's `tally
 *            audit verify --feed` does (one signature an entry released)
 *   bytes    the feed's size, and per release
 *
 * Baseline, in the same run: tly_translog_verify_chain of the same log
 * (one signature check an entry: what the coordinator does at each start).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "coordinator/feed.h"
#include "coordinator/translog.h"
#include "crypto/rng.h"
#include "query/budget.h"
#include "query/receipt.h"
#include "store/head.h"
#include "wire/codec.h"
#include "wire/hex.h"
#include "timing.h"

enum { QUERIES = 5000, REPS = 5 };

/* mkdtemp template: the log lives in a fresh folder, removed at the end. */
static char dir[] = "/tmp/tally-bench-feed-XXXXXX";
static struct tly_sign_key *key, *node_key;
static struct tly_roster roster;
static struct tly_translog *log_handle;
static char *feed;
static size_t feed_len;

static const char spec[] =
    "{\"dataset\":\"patients\",\"domains\":{\"sex\":[\"F\",\"M\"]},\"group_by\":[\"sex\"],"
    "\"measure\":{\"op\":\"count\"},\"planner\":\"planner\",\"privacy\":{\"epsilon\":\"1/2\","
    "\"mechanism\":\"laplace\"},\"protocol\":\"committee\",\"sdc\":{\"round_to\":0,"
    "\"suppress_below\":0},\"where\":[]}";

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench_feed: %s failed\n", what);
		exit(1);
	}
}

static void
record_for(struct tly_translog_record *rec, const uint8_t id[16], uint8_t outcome)
{
	memset(rec, 0, sizeof *rec);
	memcpy(rec->query_id, id, 16);
	tly_hash(rec->query_hash, "tally/query/v1", (const uint8_t *)spec, sizeof spec - 1);
	rec->protocol = TLY_PROTOCOL_COMMITTEE;
	rec->threshold = 2;
	rec->degree = 3;
	rec->outcome = outcome;
	rec->spec_json = spec;
	rec->spec_len = sizeof spec - 1;
}

/* Node 1's signed receipt for the query, carrying the head it verified. */
static void
receipt_for(const struct tly_translog_record *rec, const struct tly_tree_head *head, uint64_t seq,
            struct tly_buf *out)
{
	struct tly_ledger_receipt r;
	struct tly_budget_cap cap;

	memset(&r, 0, sizeof r);
	r.node_id = 1;
	r.seq = seq;
	r.time = 1700000000;
	snprintf(r.dataset, sizeof r.dataset, "patients");
	snprintf(r.population, sizeof r.population, "patients");
	memcpy(r.query_id, rec->query_id, 16);
	memcpy(r.query_hash, rec->query_hash, 32);
	r.mechanism = TLY_MECH_LAPLACE;
	/* epsilon 1 a query (reduced fractions, as a ledger writes them) */
	r.amount = (struct tly_fraction){1, 1};
	r.epsilon_spent = (struct tly_fraction){seq, 1};
	r.rho_spent = (struct tly_fraction){0, 1};
	r.epsilon_rho_spent =
	    seq % 2 == 0 ? (struct tly_fraction){seq / 2, 1} : (struct tly_fraction){seq, 2};
	r.budget.epsilon_total = (struct tly_fraction){1000000, 1};
	r.budget.epsilon_per_query = (struct tly_fraction){2, 1};
	r.budget.rho_per_query = (struct tly_fraction){1, 2};
	r.budget.delta_total = (struct tly_fraction){1, 1000000};
	r.budget.sites = 1;
	cap = (struct tly_budget_cap){r.budget.epsilon_total, r.budget.delta_total, 1};
	check(tly_budget_rho_cap(&cap, &r.budget.rho_total) == TLY_OK, "rho cap");
	r.log_head.size = head->size;
	memcpy(r.log_head.root, head->root, 32);
	memcpy(r.log_head.signature, head->signature, TLY_SIGN_BYTES);
	randombytes_buf(r.entry_hash, sizeof r.entry_hash);
	uint8_t digest[TLY_HASH_BYTES];
	check(tly_ledger_receipt_digest(&r, digest) == TLY_OK, "digest");
	check(tly_sign(r.signature, node_key, digest, sizeof digest) == TLY_OK, "sign receipt");
	check(tly_ledger_receipt_encode(&r, out) == TLY_OK, "encode receipt");
}

/* One released query: its commitment, then its release. */
static void
release_one(uint64_t n)
{
	static const uint32_t trusts[] = {1, 2, 3};
	struct tly_idlist contributors = {3, (uint32_t *)trusts};
	struct tly_translog_record rec;
	struct tly_log_commit *c = calloc(1, sizeof *c);
	struct tly_buf receipt;
	char why[300], release[600], qid[33];
	uint8_t id[16];

	check(c != NULL, "memory");
	randombytes_buf(id, sizeof id);
	tly_hex(qid, id, sizeof id);
	record_for(&rec, id, TLY_TRANSLOG_COMMITTED);
	check(tly_translog_commit(log_handle, &rec, NULL, 0, c, why, sizeof why) == TLY_OK, why);
	snprintf(release, sizeof release,
	         "{\"query_id\":\"%s\",\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},"
	         "\"contributors\":3,\"dropped\":[],\"protocol\":\"committee\",\"group_by\":"
	         "[\"sex\"],\"trusts\":[1,2,3],\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":"
	         "0.5,\"epsilon_exact\":\"0.5\",\"delta\":0,\"min_honest\":2,\"noise_sd\":4.426,"
	         "\"ci95_half_width\":9},\"sdc\":{\"suppress_below\":0,\"round_to\":0},\"cells\":"
	         "[{\"group\":{\"sex\":\"F\"},\"value\":%llu,\"ci95\":[0,9]},{\"group\":{\"sex\":"
	         "\"M\"},\"value\":%llu,\"ci95\":[0,9]}]}",
	         qid, (unsigned long long)n, (unsigned long long)n + 1);
	tly_buf_init(&receipt);
	receipt_for(&rec, &c->head, n + 1, &receipt);
	struct tly_translog_receipt r = {receipt.data, receipt.len};
	record_for(&rec, id, TLY_TRANSLOG_RELEASED);
	rec.release_json = release;
	rec.release_len = strlen(release);
	rec.contributors = &contributors;
	rec.receipts = &r;
	rec.receipt_count = 1;
	check(tly_translog_append(log_handle, &rec, NULL, why, sizeof why) == TLY_OK, why);
	tly_buf_fini(&receipt);
	free(c);
}

static void
export_once(void *arg)
{
	char why[300];
	(void)arg;
	free(feed);
	check(tly_feed_export(log_handle, &roster, NULL, &feed, &feed_len, why, sizeof why) ==
	          TLY_OK,
	      why);
}

static void
verify_once(void *arg)
{
	struct tly_feed_report report;
	(void)arg;
	check(tly_feed_verify(feed, feed_len, &roster, NULL, &report) == TLY_OK, report.reason);
	tly_feed_report_fini(&report);
}

static void
chain_once(void *arg)
{
	struct tly_translog_report report;
	(void)arg;
	check(tly_translog_verify_chain(log_handle, &roster, &report) == TLY_OK, report.reason);
	tly_translog_report_fini(&report);
}

int
main(int argc, char **argv)
{
	struct tly_party node = {.id = 1};
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	char path[200], terr[320], params[64];
	long queries = bench_pick(QUERIES, 20);

	if (argc > 1)
		queries = strtol(argv[1], NULL, 10);
	check(queries >= 2 && tly_crypto_init() == TLY_OK && mkdtemp(dir) != NULL, "setup");
	check(tly_sign_key_alloc(&key, NULL) == TLY_OK &&
	          tly_sign_key_alloc(&node_key, NULL) == TLY_OK,
	      "keys");
	tly_sign_key_public(key, pk);
	tly_sign_key_public(node_key, node.sign_pk);
	check(tly_roster_init(&roster, pk, &node, 1) == TLY_OK, "roster");
	snprintf(path, sizeof path, "%s/transparency.db", dir);
	check(tly_translog_open(&log_handle, path, key, terr, sizeof terr) == TLY_OK, terr);
	for (long i = 0; i < queries; i++)
		release_one((uint64_t)i);
	bench_header();
	snprintf(params, sizeof params, "\"log=%ld entries\"", 2 * queries);
	double chain = bench_median(chain_once, NULL, REPS);
	double export_s = bench_median(export_once, NULL, REPS);
	double verify_s = bench_median(verify_once, NULL, REPS);
	bench_row("feed", "export", params, export_s * 1e3, "ms", "log_verify_chain", chain * 1e3);
	bench_row("feed", "verify", params, verify_s * 1e3, "ms", "log_verify_chain", chain * 1e3);
	bench_row("feed", "log_verify_chain", params, chain * 1e3, "ms", "", 0);
	bench_row("feed", "feed_bytes", params, (double)feed_len, "bytes", "", 0);
	bench_row("feed", "bytes_per_release", params, (double)feed_len / (double)(queries - 1),
	          "bytes", "", 0);
	free(feed);
	tly_translog_close(log_handle);
	tly_roster_fini(&roster);
	tly_sign_key_free(key);
	tly_sign_key_free(node_key);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	check(system(path) == 0, "cleanup");
	return 0;
}
