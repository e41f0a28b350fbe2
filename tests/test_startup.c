/*
 * Starting and stopping the real daemons (issue 12 sections 6 and 2), in
 * three parts: the coordinator refuses a broken transparency log at start
 * (suite startup, below); `tally-node explain` shows the budget spent and
 * remaining and refuses what does not fit (suite startup, "explain"); and
 * SIGTERM stops every daemon within 1 s whatever it is doing (suite
 * signals); and a node that fell more than the recent heads behind is
 * proved back in after a coordinator restart (suite startup, at the end).
 *
 * Broken state is noticed at start, with the real daemons: a three-site `tally demo` federation
 * answers two queries (four log entries: committed, released, committed, released), its coordinator
 * is stopped, and copies of its transparency log are damaged the ways an
 * attacker or a disk would: a byte of an entry changed, an entry re-signed
 * with the coordinator's own key but linked to the wrong predecessor, a
 * middle entry deleted, a signature flipped. `tally-coordinator` started
 * on each copy exits 1 with a line on stderr naming the entry and what is
 * wrong, and before it opens any listener (no "open files" or "listening"
 * line). On the intact log it starts, says how many entries it verified,
 * and answers a query.
 *
 * No bound here depends on the machine's speed: a refused start is waited
 * for up to START_CAP_MS (it takes tens of milliseconds unloaded), and a
 * good start is recognised by its "listening" line.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/translog_impl.h"
#include "crypto/rng.h"
#include "store/head.h"
#include "store/keys.h"
#include "tests/daemons.h"
#include "tests/demo.h"

enum { SITES = 3, START_CAP_MS = 60000 };

static struct dmn_demo demo;

/* Run a tally program, its stdout to DIR/out.txt (its stderr discarded),
 * for at most 10 x START_CAP_MS; its exit code. */
static int
run(const char *const argv[])
{
	char out[300];
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	int code = dmn_wait_capped(dmn_demo_spawn(&demo, out, NULL, argv), 10 * START_CAP_MS);
	cr_assert_neq(code, -1, "%s did not finish", argv[0]);
	return code;
}

static int
query(void)
{
	char conf[300];
	snprintf(conf, sizeof conf, "%s/planner.conf", demo.dir);
	return run((const char *const[]){"tally", "query", "--config", conf, "--count", "--by",
	                                 "sex", "--epsilon", "0.5", NULL});
}

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	dmn_demo_init(&demo, "startup");
	dmn_demo_serve(&demo, SITES, 2000, 5);
}

static void
teardown(void)
{
	dmn_demo_fini(&demo);
}

TestSuite(startup, .init = setup, .fini = teardown, .timeout = 600);
TestSuite(signals, .init = setup, .fini = teardown, .timeout = 600);

/* ---- the coordinator's transparency log ---- */

static void
sql(const char *path, const char *text)
{
	sqlite3 *db;
	char *msg = NULL;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	int rc = sqlite3_exec(db, text, NULL, NULL, &msg);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", text, msg != NULL ? msg : "");
	sqlite3_close(db);
}

/* A copy of the stopped coordinator's log as DIR/coordinator/state/NAME.db,
 * and a config coordinator/NAME.conf that points at it. */
static void
log_copy(const char *name, char *log, size_t log_len, char *conf, size_t conf_len)
{
	char orig[300], command[700], text[300];

	snprintf(orig, sizeof orig, "%s/coordinator/state/transparency.db", demo.dir);
	snprintf(log, log_len, "%s/coordinator/state/%s.db", demo.dir, name);
	snprintf(text, sizeof text, "VACUUM INTO '%s'", log);
	sql(orig, text);
	snprintf(conf, conf_len, "%s/coordinator/%s.conf", demo.dir, name);
	snprintf(command, sizeof command,
	         "sed 's|^log = .*|log = state/%s.db|' %s/coordinator/coordinator.conf > %s", name,
	         demo.dir, conf);
	cr_assert_eq(system(command), 0);
}

/* Entry seq's blob column, read raw (malloc'd). */
static uint8_t *
read_blob(const char *path, const char *column, uint64_t seq, size_t *len)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char text[160];

	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(text, sizeof text, "SELECT %s FROM entries WHERE seq = %llu", column,
	         (unsigned long long)seq);
	cr_assert_eq(sqlite3_prepare_v2(db, text, -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	*len = (size_t)sqlite3_column_bytes(st, 0);
	uint8_t *copy = malloc(*len);
	cr_assert_not_null(copy);
	memcpy(copy, sqlite3_column_blob(st, 0), *len);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return copy;
}

static void
write_blob(const char *path, const char *column, uint64_t seq, const uint8_t *blob, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char text[160];

	sql(path, "DROP TRIGGER IF EXISTS entries_no_update");
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	snprintf(text, sizeof text, "UPDATE entries SET %s = ? WHERE seq = %llu", column,
	         (unsigned long long)seq);
	cr_assert_eq(sqlite3_prepare_v2(db, text, -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_bind_blob(st, 1, blob, (int)len, SQLITE_TRANSIENT), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
flip(const char *path, const char *column, uint64_t seq, size_t offset)
{
	size_t len;
	uint8_t *blob = read_blob(path, column, seq, &len);
	cr_assert_lt(offset, len);
	blob[offset] ^= 0x01;
	write_blob(path, column, seq, blob, len);
	free(blob);
}

/* What a coordinator holding its own key could do: link entry seq to the
 * entry two before it (a splice that skips its predecessor), then hash and
 * sign it again, so that only the chain is wrong. */
static void
resign_spliced(const char *path, uint64_t seq)
{
	struct tly_identity coordinator;
	char key[300], why[300];
	uint8_t hash[TLY_HASH_BYTES], sig[TLY_SIGN_BYTES];
	size_t len, older_len;

	snprintf(key, sizeof key, "%s/coordinator/keys/coordinator.sign", demo.dir);
	cr_assert_eq(tly_identity_from_files(&coordinator, TLY_PARTY_COORDINATOR, key, NULL, why,
	                                     sizeof why),
	             TLY_OK, "%s", why);
	uint8_t *older = read_blob(path, "bytes", seq - 2, &older_len);
	uint8_t *bytes = read_blob(path, "bytes", seq, &len);
	cr_assert_gt(len, TLY_HASH_BYTES);
	tly_translog_hash(bytes + len - TLY_HASH_BYTES, older, older_len);
	tly_translog_hash(hash, bytes, len);
	cr_assert_eq(tly_sign(sig, coordinator.sign, hash, sizeof hash), TLY_OK);
	write_blob(path, "bytes", seq, bytes, len);
	write_blob(path, "entry_hash", seq, hash, sizeof hash);
	write_blob(path, "signature", seq, sig, sizeof sig);
	free(bytes);
	free(older);
	tly_identity_fini(&coordinator);
}

/* Start the coordinator on conf and expect a refusal naming the entry. */
static void
expect_refused(const char *name, const char *conf, const char *entry, const char *reason)
{
	char err[300];
	snprintf(err, sizeof err, "%s/logs/%s.err", demo.dir, name);
	long t0 = dmn_now_ms();
	pid_t pid = dmn_demo_spawn(
	    &demo, NULL, err, (const char *const[]){"tally-coordinator", "--config", conf, NULL});
	int code = dmn_wait_or_kill(pid, START_CAP_MS);
	long took = dmn_now_ms() - t0;
	char *text = dmn_slurp(err, NULL);
	cr_log_info("%s: exit %d after %ld ms: %s", name, code, took, text);
	cr_assert_eq(code, 1, "%s: exit %d, expected 1; stderr: %s", name, code, text);
	cr_assert(strstr(text, "refusing to start") != NULL, "%s: %s", name, text);
	cr_assert(strstr(text, entry) != NULL, "%s: no \"%s\" in: %s", name, entry, text);
	cr_assert(strstr(text, reason) != NULL, "%s: no \"%s\" in: %s", name, reason, text);
	/* Refused before the descriptor budget and the listeners. */
	cr_assert(strstr(text, "open files") == NULL && strstr(text, "listening") == NULL,
	          "%s: got as far as the listeners: %s", name, text);
	free(text);
}

Test(startup, coordinator_refuses_a_broken_log_and_starts_on_a_good_one)
{
	char log[300], conf[300];

	cr_assert_eq(query(), 0);
	cr_assert_eq(query(), 0);
	dmn_stop(dmn_pid_of(demo.dir, "coordinator"), START_CAP_MS);

	log_copy("flipped", log, sizeof log, conf, sizeof conf);
	flip(log, "bytes", 2, 60); /* inside the query hash */
	expect_refused("flipped", conf, "entry 2:", "entry_hash does not match its bytes");

	log_copy("spliced", log, sizeof log, conf, sizeof conf);
	resign_spliced(log, 3);
	expect_refused("spliced", conf, "entry 3:", "prev_hash is not the hash of entry");

	log_copy("deleted", log, sizeof log, conf, sizeof conf);
	sql(log, "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 2");
	expect_refused("deleted", conf, "entry 2:", "missing (the next entry is 3)");

	log_copy("signature", log, sizeof log, conf, sizeof conf);
	flip(log, "signature", 4, 5);
	expect_refused("signature", conf, "entry 4:", "signature does not verify");

	/* The intact log: it starts, says so, and answers. */
	char err[300], exe_conf[300];
	snprintf(err, sizeof err, "%s/logs/restarted.err", demo.dir);
	snprintf(exe_conf, sizeof exe_conf, "%s/coordinator/coordinator.conf", demo.dir);
	pid_t pid =
	    dmn_demo_spawn(&demo, NULL, err,
	                   (const char *const[]){"tally-coordinator", "--config", exe_conf, NULL});
	dmn_write_pid(demo.dir, "coordinator", pid);
	char *text = NULL;
	for (long until = dmn_now_ms() + START_CAP_MS; dmn_now_ms() < until; dmn_pause_ms(20)) {
		free(text);
		text = dmn_slurp(err, NULL);
		if (strstr(text, "listening") != NULL)
			break;
	}
	cr_assert(strstr(text, "transparency log chain verified: 4 entries") != NULL, "%s", text);
	free(text);
	int code = -1;
	for (int tries = 0; tries < 60 && code != 0; tries++) {
		code = query(); /* the nodes redial within their backoff */
		if (code != 0)
			dmn_pause_ms(500);
	}
	cr_assert_eq(code, 0, "a query after the restart");
}

/* ---- tally-node explain: the budget as the ledger stands ---- */

/* A count by sex at this epsilon ("num/den"), as DIR/NAME.json. */
static void
spec_file(char *path, size_t len, const char *name, const char *epsilon)
{
	snprintf(path, len, "%s/%s.json", demo.dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"group_by\":[\"sex\"],"
	        "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":\"%s\"}}\n",
	        epsilon);
	fclose(f);
}

static int
query_at(const char *epsilon)
{
	char conf[300], spec[300];
	snprintf(conf, sizeof conf, "%s/planner.conf", demo.dir);
	spec_file(spec, sizeof spec, "asked", epsilon);
	return run((const char *const[]){"tally", "query", "--config", conf, "--spec", spec, NULL});
}

/* `tally-node explain` of site 1 at this epsilon: its exit code, and its
 * output in *text (malloc'd). */
static int
explain(const char *epsilon, char **text)
{
	char conf[300], spec[300], out[300];
	snprintf(conf, sizeof conf, "%s/site-1/node.conf", demo.dir);
	snprintf(out, sizeof out, "%s/explain.txt", demo.dir);
	spec_file(spec, sizeof spec, "explained", epsilon);
	int code = dmn_wait_capped(
	    dmn_demo_spawn(&demo, out, NULL,
	                   (const char *const[]){"tally-node", "explain", "--config", conf,
	                                         "--spec", spec, NULL}),
	    10 * START_CAP_MS);
	*text = dmn_slurp(out, NULL);
	return code;
}

static void
expect_explain(const char *epsilon, int code, const char *const *lines)
{
	char *text;
	int got = explain(epsilon, &text);
	cr_assert_eq(got, code, "explain at %s: exit %d, expected %d:\n%s", epsilon, got, code,
	             text);
	for (; *lines != NULL; lines++)
		cr_assert(strstr(text, *lines) != NULL, "explain at %s: no \"%s\" in:\n%s", epsilon,
		          *lines, text);
	free(text);
}

/* Each site's config: epsilon_total 20, epsilon_per_query 2, one site per
 * person (basic composition decides for pure epsilon charges). */
Test(startup, explain_shows_spent_and_remaining_and_refuses_what_does_not_fit)
{
	expect_explain("1/2", 0,
	               (const char *const[]){"epsilon      total 20, spent 0, remaining 20",
	                                     "allowed      yes", NULL});
	expect_explain(
	    "5/2", 3,
	    (const char *const[]){"allowed      no (dataset \"patients\": over the per-query cap "
	                          "(epsilon_per_query 2))",
	                          NULL});
	/* Spend 19.5 with real queries: 1/2 remains. */
	for (int i = 0; i < 9; i++)
		cr_assert_eq(query_at("2/1"), 0, "query %d", i);
	/* 18 + 4/3: decimals that never overstate what remains (issue 15). */
	cr_assert_eq(query_at("4/3"), 0);
	expect_explain("1/2", 0,
	               (const char *const[]){"spent 19.333334, remaining 0.666666",
	                                     "spent rounded up, total and remaining down", NULL});
	cr_assert_eq(query_at("1/6"), 0);
	expect_explain(
	    "1/2", 0, (const char *const[]){"spent 19.5, remaining 0.5", "allowed      yes", NULL});
	/* The smallest step over what remains (1/2 + 1/10^9) is refused. */
	expect_explain(
	    "500000001/1000000000", 3,
	    (const char *const[]){"allowed      no (population \"patients\": budget exhausted",
	                          "epsilon_total 20", NULL});
	/* The node agrees: the exact remainder is charged, then nothing is left. */
	cr_assert_eq(query_at("1/2"), 0);
	expect_explain("1/2", 3,
	               (const char *const[]){
	                   "epsilon      total 20, spent 20, remaining 0",
	                   "allowed      no (population \"patients\": budget exhausted", NULL});
	cr_assert_eq(query_at("1/1000000"), 3, "the nodes refuse a spent budget");
}

/* ---- SIGTERM stops every daemon within 1 s (issue 12 section 2) ----
 *
 * Each daemon of the federation is restarted as this test's child (so
 * that waitpid times its exit) and sent SIGTERM: idle; mid-round, while
 * the nodes draw the noise of a 500-cell count at epsilon 10^-5 (several
 * seconds of sampler work a node, within the default max_query_work);
 * and, for the coordinator, under a flood of idle connections on its API
 * port (tests/helpers/flood). The time from kill() to waitpid() is logged
 * and must be at most TERM_BOUND_MS. Afterwards the node's ledger
 * verifies with the interrupted query still charged, and `tally audit
 * verify` passes on the whole federation. tally-node has one daemon mode
 * (committee members and --aggregator nodes are the same process), so
 * these are all the daemons. */

enum { TERM_BOUND_MS = 1000, FLOOD_CONNS = 5000 };

static const char *const busy_query[] = {
    "--count", "--by", "imd_decile,sex,age_band,ethnicity", "--epsilon", "0.00001", NULL};

/* Stop the demo's daemon NAME and start it again as our child, its stderr
 * in DIR/logs/NAME.child-K.log (log, log_len); returns its pid. */
static pid_t
adopt(const char *name, char *log, size_t log_len)
{
	static int started;
	pid_t old = dmn_pid_of(demo.dir, name);
	if (old > 0 && kill(old, 0) == 0)
		dmn_stop(old, START_CAP_MS);
	snprintf(log, log_len, "%s/logs/%s.child-%d.log", demo.dir, name, ++started);
	return dmn_demo_start(&demo, name, log, 1);
}

/* SIGTERM to our child; the milliseconds from kill() to waitpid(). */
static long
term(pid_t pid, const char *what)
{
	long t0 = dmn_now_ms();
	cr_assert_eq(kill(pid, SIGTERM), 0);
	int code = dmn_wait_or_kill(pid, START_CAP_MS);
	long took = dmn_now_ms() - t0;
	cr_log_info("SIGTERM %s: exit %d after %ld ms", what, code, took);
	cr_assert_eq(code, 0, "%s: exit %d after SIGTERM", what, code);
	cr_assert_leq(took, TERM_BOUND_MS, "%s: %ld ms from SIGTERM to exit", what, took);
	return took;
}

/* utime + stime of pid, in clock ticks. */
static long
cpu_ticks(pid_t pid)
{
	char path[64], text[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *p = strrchr(text, ')'); /* the name may hold spaces */
	cr_assert_not_null(p);
	unsigned long utime = 0, stime = 0;
	cr_assert_eq(
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime),
	    2);
	return (long)(utime + stime);
}

/* A planner's query that keeps the nodes in the sampler, in the
 * background; returns its pid. */
static pid_t
start_busy_query(void)
{
	char conf[300];
	const char *argv[16] = {"tally", "query", "--config", conf};
	size_t n = 4;
	snprintf(conf, sizeof conf, "%s/planner.conf", demo.dir);
	for (const char *const *a = busy_query; *a != NULL; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	return dmn_demo_spawn(&demo, NULL, NULL, argv);
}

/* Wait until node pid (its log at log) serves the query and has spent
 * CPU on it since: it is drawing the noise. */
static void
wait_in_sampler(pid_t pid, const char *log, int served_before)
{
	long until = dmn_now_ms() + START_CAP_MS;
	int served =
	    dmn_wait_count(log, "serving on the committee", served_before + 1, START_CAP_MS);
	cr_assert_gt(served, served_before, "%s", log);
	long ticks = cpu_ticks(pid);
	while (cpu_ticks(pid) < ticks + 20 && dmn_now_ms() < until) /* 0.2 s of CPU */
		dmn_pause_ms(10);
	cr_assert_geq(cpu_ticks(pid), ticks + 20, "the node is not computing");
}

static int
charges_of(int site)
{
	char path[300], text[120];
	snprintf(path, sizeof path, "%s/site-%d/state/ledger.db", demo.dir, site);
	sqlite3 *db;
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(text, sizeof text, "SELECT COUNT(*) FROM entries WHERE kind = 1");
	cr_assert_eq(sqlite3_prepare_v2(db, text, -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
expect_ledger_verifies(int site)
{
	char conf[300];
	snprintf(conf, sizeof conf, "%s/site-%d/node.conf", demo.dir, site);
	cr_assert_eq(
	    run((const char *const[]){"tally-node", "ledger", "verify", "--config", conf, NULL}), 0,
	    "site %d's ledger", site);
}

Test(signals, a_node_stops_within_1s_idle_and_while_drawing_noise)
{
	char log[300];

	pid_t pid = adopt("node-1", log, sizeof log);
	dmn_wait_for_line(log, "connected to the coordinator", START_CAP_MS);
	term(pid, "tally-node, idle");

	pid = adopt("node-1", log, sizeof log);
	dmn_wait_for_line(log, "connected to the coordinator", START_CAP_MS);
	int charged = charges_of(1);
	pid_t planner = start_busy_query();
	wait_in_sampler(pid, log, 0);
	term(pid, "tally-node, drawing noise");
	cr_assert(dmn_file_has(log, "abandoned while drawing the noise: the node is stopping; the "
	                            "charge stands"),
	          "%s", log);
	cr_assert_neq(dmn_wait_capped(planner, 10 * START_CAP_MS), -1, "the planner's query ended");
	expect_ledger_verifies(1);
	cr_assert_eq(charges_of(1), charged + 1, "the interrupted query stays charged");
	char err[300];
	pid = adopt("node-1", err, sizeof err); /* for the audit and teardown */
	dmn_wait_for_line(err, "connected to the coordinator", START_CAP_MS);
	cr_assert_eq(
	    run((const char *const[]){"tally", "audit", "verify", "--dir", demo.dir, NULL}), 0);
}

/* The API address from planner.conf ("https://127.0.0.1:PORT"): its port. */
static void
api_port(char *port, size_t len)
{
	const char *colon = strrchr(demo.api, ':');
	cr_assert_not_null(colon, "no api in %s/planner.conf", demo.dir);
	snprintf(port, len, "%s", colon + 1);
}

/* tests/helpers/flood holding FLOOD_CONNS idle connections to port; its
 * pid, once it says "ready". */
static pid_t
start_flood(const char *port)
{
	char helper[1100], out[300], count[16];
	dmn_helper(helper, sizeof helper, "flood");
	snprintf(out, sizeof out, "%s/flood.txt", demo.dir);
	snprintf(count, sizeof count, "%d", FLOOD_CONNS);
	pid_t pid = dmn_spawn(
	    helper, (const char *const[]){"flood", "127.0.0.1", port, count, NULL}, out, 0);
	dmn_wait_for_line(out, "ready", START_CAP_MS);
	char *text = dmn_slurp(out, NULL);
	cr_log_info("flood: %s", text);
	free(text);
	return pid;
}

/* Our coordinator, up with every node connected. */
static pid_t
adopt_coordinator(char *log, size_t log_len)
{
	pid_t pid = adopt("coordinator", log, log_len);
	dmn_wait_for_line(log, "listening", START_CAP_MS);
	int connected = dmn_wait_count(log, "connected from", SITES, START_CAP_MS);
	cr_assert_geq(connected, SITES, "%s", log);
	return pid;
}

Test(signals, the_coordinator_stops_within_1s_idle_mid_round_and_flooded)
{
	char log[300], node_log[300], port[16];

	pid_t pid = adopt_coordinator(log, sizeof log);
	term(pid, "tally-coordinator, idle");

	/* Mid-round: the nodes are drawing the noise. */
	pid_t node = adopt("node-1", node_log, sizeof node_log);
	pid = adopt_coordinator(log, sizeof log);
	dmn_wait_for_line(node_log, "connected to the coordinator", START_CAP_MS);
	pid_t planner = start_busy_query();
	wait_in_sampler(node, node_log, 0);
	term(pid, "tally-coordinator, mid-round");
	cr_assert(dmn_file_has(log, "stopping after"), "%s", log);
	/* The planner's blocking POST is not answered when the coordinator
	 * stops: `tally query` waits for its --timeout (reported, not
	 * tested here). */
	kill(planner, SIGKILL);
	waitpid(planner, NULL, 0);

	/* Under a connection flood on the API port. */
	pid = adopt_coordinator(log, sizeof log);
	api_port(port, sizeof port);
	pid_t flood = start_flood(port);
	term(pid, "tally-coordinator, API flooded");
	kill(flood, SIGTERM);
	waitpid(flood, NULL, 0);

	/* Nothing inconsistent: the log verifies at the next start, and the
	 * whole federation audits. */
	pid = adopt_coordinator(log, sizeof log);
	cr_assert(dmn_file_has(log, "transparency log chain verified"), "%s", log);
	cr_assert_eq(
	    run((const char *const[]){"tally", "audit", "verify", "--dir", demo.dir, NULL}), 0);
	expect_ledger_verifies(1);
}

/* ---- a node that fell behind, across a coordinator restart ---- */

/*
 * The soak's heartbeat recipe found it (docs/SECURITY.md): a QUERY carries
 * consistency proofs from the 16 newest heads and from the head last sent
 * to each node; a node that missed more than 16 queries holds an older
 * head, and a restarted coordinator no longer knows it, so the node
 * refused every query for good. Now its refusal names the head it holds
 * (TLY_REFUSAL_NO_PROOF) and the next QUERY proves from there.
 *
 * Node 3 is stopped while 18 queries run on nodes 1 and 2 (the coordinator
 * set to a committee of 2 and 2 contributors), the coordinator restarts,
 * node 3 comes back: within three queries node 3 must answer one (a
 * charge in its ledger). Without the hint it refuses all three.
 */
Test(startup, a_node_behind_by_more_than_the_recent_heads_is_proved_back_in)
{
	enum { MISSED = 18, TRIES = 3 };
	char conf[300], log[300], node_log[300], out[300];
	static const char k3[] = "committee_size = 3\nthreshold = 2\nquorum = 3";
	static const char k2[] = "committee_size = 2\nthreshold = 2\nquorum = 2";

	/* Then queries node 3 misses: nodes 1 and 2 refuse them by their own policy
	 * (3 contributors at least), but each is logged first, committed and
	 * refused, so the log grows past the recent heads node 3 could be
	 * proved from. */
	snprintf(conf, sizeof conf, "%s/coordinator/coordinator.conf", demo.dir);
	snprintf(out, sizeof out, "%s/out.txt", demo.dir);
	/* First a query all three answer: node 3 then holds a log head. */
	cr_assert_eq(query(), 0, "%s", dmn_slurp_or_empty(out, NULL));
	dmn_edit_file(conf, k3, k2);
	dmn_edit_file(conf, "min_contributors = 3", "min_contributors = 2");
	dmn_stop(dmn_pid_of(demo.dir, "node-3"), START_CAP_MS);
	pid_t pid = adopt("coordinator", log, sizeof log);
	dmn_wait_for_line(log, "listening", START_CAP_MS);
	(void)dmn_wait_count(log, "connected from", SITES - 1, START_CAP_MS);
	for (int i = 0; i < MISSED; i++) {
		int code = query();
		cr_assert(code == 0 || code == 3, "query %d without node 3: exit %d: %s", i, code,
		          dmn_slurp_or_empty(out, NULL));
	}
	cr_assert_geq(dmn_count_in(log, "committed to the transparency log"), MISSED, "%s", log);
	term(pid, "tally-coordinator, before the restart");

	/* The coordinator as it was, node 3 back, a restart. */
	dmn_edit_file(conf, k2, k3);
	dmn_edit_file(conf, "min_contributors = 2", "min_contributors = 3");
	int before = charges_of(3);
	(void)adopt("node-3", node_log, sizeof node_log);
	pid = adopt_coordinator(log, sizeof log);
	int tries = 0;
	while (charges_of(3) == before && tries < TRIES) {
		(void)query();
		tries++;
	}
	cr_log_info("node 3 answered after %d queries", tries);
	cr_assert(dmn_file_has(log, TLY_REFUSAL_NO_PROOF), "node 3 was not behind: %s", log);
	cr_assert_gt(charges_of(3), before, "node 3 answered none of %d queries: %s", TRIES, log);
}
