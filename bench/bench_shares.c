/*
 * bench_shares - what the per-planner share (coordinator/shares.h, [api]
 * planner_share) costs:
 *
 *   rebuild   at start, replaying a transparency log of LOG_ENTRIES (or
 *             argv[1]) entries into the accountant: half committed
 *             entries, half released ones with NODES receipts each, from
 *             PLANNERS planners over DATASETS datasets; the baseline is
 *             reading (and printing to /dev/null) the same entries,
 *             `tally audit show`'s walk
 *   ask       one admission check on the POST path, against the state
 *             that log leaves; the baseline is the log commit that every
 *             admitted query pays next (bench_log's coordinator_commit)
 *
 * The log is written in /dev/shm when it exists (the bench measures
 * reading it, not the disk's fsyncs while building it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "coordinator/shares.h"
#include "coordinator/translog.h"
#include "query/budget.h"
#include "store/keys.h"
#include "timing.h"

enum { LOG_ENTRIES = 20000, NODES = 3, PLANNERS = 8, DATASETS = 2, REPS = 5, ASKS = 20000 };

static char dir[64];
static struct tly_sign_key *key;
static struct tly_translog *log_handle;
static struct tly_shares *shares;
static const char *const datasets[DATASETS] = {"patients", "visits"};

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench_shares: %s failed\n", what);
		exit(1);
	}
}

static void
spec_of(char *out, size_t len, long i)
{
	snprintf(out, len,
	         "{\"dataset\":\"%s\",\"measure\":{\"op\":\"count\"},\"planner\":\"planner%ld\","
	         "\"privacy\":{\"epsilon\":\"1/1000\",\"mechanism\":\"laplace\"}}",
	         datasets[i % DATASETS], i % PLANNERS);
}

static void
receipt_of(struct tly_buf *out, uint32_t node, long i, const uint8_t qid[16],
           const uint8_t qhash[32])
{
	struct tly_ledger_receipt r;
	struct tly_budget_cap cap = {{20, 1}, {1, 1000000}, 1};

	memset(&r, 0, sizeof r);
	r.node_id = node;
	r.seq = (uint64_t)i + 1;
	r.time = 1;
	snprintf(r.dataset, sizeof r.dataset, "%s", datasets[i % DATASETS]);
	snprintf(r.population, sizeof r.population, "%s", datasets[i % DATASETS]);
	memcpy(r.query_id, qid, 16);
	memcpy(r.query_hash, qhash, 32);
	r.mechanism = TLY_MECH_LAPLACE;
	r.amount = r.epsilon_spent = (struct tly_fraction){1, 1000};
	r.epsilon_rho_spent = (struct tly_fraction){1, 2000000};
	r.rho_spent = (struct tly_fraction){0, 1};
	r.budget.epsilon_total = cap.epsilon_total;
	r.budget.epsilon_per_query = (struct tly_fraction){2, 1};
	r.budget.rho_per_query = (struct tly_fraction){1, 2};
	r.budget.delta_total = cap.delta_total;
	r.budget.sites = 1;
	check(tly_budget_rho_cap(&cap, &r.budget.rho_total) == TLY_OK, "rho cap");
	check(tly_ledger_receipt_encode(&r, out) == TLY_OK, "receipt");
}

/* Query i: its committed entry, then its release with NODES receipts. */
static void
append_query(long i)
{
	struct tly_translog_record rec;
	struct tly_translog_receipt receipts[NODES];
	struct tly_buf bufs[NODES];
	uint32_t ids[NODES];
	struct tly_idlist contributors = {NODES, ids};
	char spec[300], why[300];

	memset(&rec, 0, sizeof rec);
	spec_of(spec, sizeof spec, i);
	randombytes_buf(rec.query_id, sizeof rec.query_id);
	tly_hash(rec.query_hash, "tally/query/v1", (const uint8_t *)spec, strlen(spec));
	rec.protocol = TLY_PROTOCOL_COMMITTEE;
	rec.threshold = 2;
	rec.degree = 3;
	rec.outcome = TLY_TRANSLOG_COMMITTED;
	rec.reason = "";
	rec.spec_json = spec;
	rec.spec_len = strlen(spec);
	check(tly_translog_append(log_handle, &rec, NULL, why, sizeof why) == TLY_OK, why);
	for (uint32_t n = 0; n < NODES; n++) {
		ids[n] = n + 1;
		tly_buf_init(&bufs[n]);
		receipt_of(&bufs[n], n + 1, i, rec.query_id, rec.query_hash);
		receipts[n] = (struct tly_translog_receipt){bufs[n].data, bufs[n].len};
	}
	rec.outcome = TLY_TRANSLOG_RELEASED;
	rec.release_json = "{\"cells\":[]}";
	rec.release_len = strlen(rec.release_json);
	rec.contributors = &contributors;
	rec.receipts = receipts;
	rec.receipt_count = NODES;
	check(tly_translog_append(log_handle, &rec, NULL, why, sizeof why) == TLY_OK, why);
	for (uint32_t n = 0; n < NODES; n++)
		tly_buf_fini(&bufs[n]);
}

static void
rebuild(void *arg)
{
	char why[300];

	(void)arg;
	tly_shares_free(shares);
	check(tly_shares_alloc(&shares, (struct tly_fraction){1, 4}) == TLY_OK, "alloc");
	check(tly_translog_load_shares(log_handle, shares, why, sizeof why) == TLY_OK, why);
}

static void
walk(void *arg)
{
	FILE *null = fopen("/dev/null", "w");

	(void)arg;
	check(null != NULL && tly_translog_show(log_handle, null, TLY_TRANSLOG_CSV) == TLY_OK,
	      "show");
	fclose(null);
}

static void
asks(void *arg)
{
	const struct tly_share_ask ask = {"planner3", "visits", TLY_MECH_LAPLACE, {1, 1000}};
	int admitted = 0;

	(void)arg;
	for (int i = 0; i < ASKS; i++)
		admitted += tly_shares_check(shares, &ask, NULL) == TLY_OK;
	bench_consume(&admitted, sizeof admitted);
}

int
main(int argc, char **argv)
{
	char path[200], cmd[240], params[96];
	char terr[320];
	long entries = argc > 1 ? strtol(argv[1], NULL, 10) : bench_pick(LOG_ENTRIES, 100);

	check(entries >= 2 && tly_crypto_init() == TLY_OK, "setup");
	snprintf(dir, sizeof dir, "%s/tally-bench-shares-XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	check(mkdtemp(dir) != NULL && tly_sign_key_alloc(&key, NULL) == TLY_OK, "keys");
	snprintf(path, sizeof path, "%s/transparency.db", dir);
	check(tly_translog_open(&log_handle, path, key, terr, sizeof terr) == TLY_OK, terr);
	for (long i = 0; i < entries / 2; i++)
		append_query(i);
	bench_header();
	snprintf(params, sizeof params, "\"log=%ld entries,nodes=%d,planners=%d,datasets=%d\"",
	         entries, NODES, PLANNERS, DATASETS);
	double read_s = bench_median(walk, NULL, REPS);
	double rebuild_s = bench_median(rebuild, NULL, REPS);
	bench_row("shares", "rebuild_from_log", params, rebuild_s * 1e3, "ms", "read_log",
	          read_s * 1e3);
	double ask_s = bench_median(asks, NULL, REPS) / ASKS;
	bench_row("shares", "ask", params, ask_s * 1e9, "ns", "", 0);
	size_t spends, flights, caps;
	tly_shares_counts(shares, &spends, &flights, &caps);
	check(spends == PLANNERS && flights == 0 && caps == NODES * DATASETS, "state rebuilt");
	tly_shares_free(shares);
	tly_translog_close(log_handle);
	tly_sign_key_free(key);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
