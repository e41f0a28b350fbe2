/*
 * A connection flood against the real coordinator (issue 12 §1): a
 * three-site `tally demo` federation over mutual TLS, and
 * tests/helpers/flood holding FLOOD_CONNS idle plain TCP connections to
 * the API port (no TLS, no certificate). During the flood: /v1/status
 * answers within API_BOUND_MS, a node that restarts reconnects, a query
 * completes; the coordinator's peak RSS (VmHWM) stays under RSS_BOUND_KB,
 * its descriptors under what raise_files asked for, and it never logs an
 * accept failure.
 *
 * RSS_BOUND_KB: the coordinator idles at about 8 MiB; the guard holds at
 * most api_max_conns = 256 connections (default), each at most two relay
 * buffers (2 x 16.6 KiB) plus nng's side of a relayed TLS connection
 * (under 100 KiB), so 8 + 256 x 0.14 = 44 MiB at worst: bound 64 MiB.
 * Before the guard it grew past 1 GiB under this flood. Under
 * AddressSanitizer (make asan) freed memory waits in ASan's quarantine
 * (256 MiB by default) and every allocation carries redzones: the bound
 * there adds the quarantine, 320 MiB (measured: 75 MiB).
 */
#if defined(__SANITIZE_ADDRESS__)
#define TALLY_ASAN_EXTRA_KB (256 * 1024)
#else
#define TALLY_ASAN_EXTRA_KB 0
#endif
/*
 * Deadlines: 20,000 loopback connects took 8.5 s on an idle 2-core
 * machine; the flood gets FLOOD_READY_S (20 times that) to be in place.
 * The helper forks processes of at most 10,000 descriptors each, so this
 * process needs no more than its usual limit.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "net/transport.h"
#include "tests/daemons.h"
#include "tests/demo.h"

enum {
	SITES = 3,
	FLOOD_CONNS = 20000,
	FLOOD_READY_S = 180,
	API_BOUND_MS = 5000,
	RSS_BOUND_KB = 64 * 1024 + TALLY_ASAN_EXTRA_KB,
	FILES_BOUND = 1024,  /* api_max_conns 256: 3 x 256 + 3 + nodes + 64 + 128 */
	CONNECT_WAIT_S = 60, /* a node reconnects in about 1 s unloaded */
};

static struct dmn_demo demo;
static char helper[1100];
static pid_t flooder = -1;

static int
open_files(pid_t pid)
{
	char fds[64];
	int n = 0;
	snprintf(fds, sizeof fds, "/proc/%ld/fd", (long)pid);
	DIR *d = opendir(fds);
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* GET /v1/status: the HTTP status, the time taken in *ms, the nodes. */
static int
api_status(double *ms, int *nodes)
{
	json_t *body = NULL;
	int status = dmn_demo_api_get(&demo, "/v1/status", 20000, ms, &body);

	*nodes =
	    status < 0 ? -1 : (int)json_integer_value(json_object_get(body, "nodes_connected"));
	json_decref(body);
	return status;
}

static void
wait_connected(int want)
{
	dmn_demo_wait_connected(&demo, want, 20000, CONNECT_WAIT_S * 10);
}

static void
setup(void)
{
	dmn_helper(helper, sizeof helper, "flood");
	dmn_demo_init(&demo, "flood");
	dmn_demo_serve(&demo, SITES, 600, 12);
	wait_connected(SITES);
}

static void
teardown(void)
{
	if (flooder > 0) {
		kill(flooder, SIGTERM);
		waitpid(flooder, NULL, 0);
	}
	dmn_demo_fini(&demo);
}

TestSuite(flood, .init = setup, .fini = teardown, .timeout = 600);

/* Start the flood and wait for it to be in place; returns how many
 * connections the kernel completed. */
static long
start_flood(void)
{
	char log[300], port[16], count[16], line[200];
	long connected = -1, of = -1;
	const char *colon = strrchr(demo.api, ':');
	cr_assert_not_null(colon);
	snprintf(port, sizeof port, "%s", colon + 1);
	snprintf(count, sizeof count, "%d", FLOOD_CONNS);
	dmn_demo_path(&demo, log, sizeof log, "flood.txt");
	flooder = dmn_spawn(helper, (const char *const[]){"flood", "127.0.0.1", port, count, NULL},
	                    log, 0);
	double start = dmn_now_s();
	while (!dmn_file_has(log, "ready") && dmn_now_s() - start < FLOOD_READY_S) {
		cr_assert_eq(waitpid(flooder, NULL, WNOHANG), 0, "the flood helper died");
		dmn_pause_ms(200);
	}
	FILE *f = fopen(log, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "connected %ld of %ld", &connected, &of) == 2)
			cr_log_info("flood: %s", line);
	fclose(f);
	cr_assert_eq(of, FLOOD_CONNS, "the flood was not in place in %d s", FLOOD_READY_S);
	return connected;
}

static void
restart_node(int site)
{
	char name[32], log[300];
	snprintf(name, sizeof name, "node-%d", site);
	dmn_demo_stop(&demo, name, 20000);
	/* Until the coordinator has seen the old link close it still counts
	 * the node; a query sent then would go to the dead link. */
	wait_connected(SITES - 1);
	snprintf(log, sizeof log, "%s/logs/node-%d.restarted.log", demo.dir, site);
	(void)dmn_demo_start(&demo, name, log, 0);
}

/* ---- the descriptor budget at start ---- */

/* Stop the demo's coordinator and start it again from this process (whose
 * limits it inherits); returns its pid, its log in `log`. */
static pid_t
restart_coordinator(char *log, size_t log_len)
{
	dmn_demo_stop(&demo, "coordinator", 20000);
	dmn_demo_path(&demo, log, log_len, "logs/coordinator.restarted.log");
	return dmn_demo_start(&demo, "coordinator", log, 0);
}

/* "Max open files  SOFT  HARD  files" of /proc/PID/limits. */
static long
soft_open_files(pid_t pid)
{
	char file[64], line[256];
	long soft = -1;
	snprintf(file, sizeof file, "/proc/%ld/limits", (long)pid);
	FILE *f = fopen(file, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "Max open files", 14) == 0)
			soft = atol(line + 14);
	fclose(f);
	return soft;
}

Test(flood, api_and_node_links_survive_twenty_thousand_idle_connections)
{
	char conf[300], spec[300], out[300], log[300];
	double ms;
	int nodes;

	/* As deployed with the common default soft limit of 1,024 files (the
	 * incident's coordinator ran out of them): the coordinator must raise
	 * what it needs itself. Its children (the flood helper) raise theirs. */
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 1024 ? rl.rlim_max : 1024;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	pid_t coordinator = restart_coordinator(log, sizeof log);
	wait_connected(SITES);

	/* The bound on /v1/status during the flood: API_BOUND_MS, or 25 times
	 * the slowest of three answers before it where the machine is slower. */
	double bound = API_BOUND_MS;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(api_status(&ms, &nodes), 200,
		             "GET /v1/status failed before the flood");
		bound = ms * 25 > bound ? ms * 25 : bound;
	}
	long rss_before = dmn_proc_kb(coordinator, "VmRSS");
	long connected = start_flood();
	cr_log_info("coordinator: RSS %ld kB before, %ld kB with the flood in place, %d files",
	            rss_before, dmn_proc_kb(coordinator, "VmRSS"), open_files(coordinator));

	/* /v1/status answers, promptly. */
	cr_log_info("flood: %ld of %d connections made", connected, FLOOD_CONNS);
	cr_assert_eq(api_status(&ms, &nodes), 200, "GET /v1/status failed during the flood");
	cr_log_info("GET /v1/status during the flood: %.0f ms (bound %.0f ms)", ms, bound);
	cr_assert_lt(ms, bound, "GET /v1/status took %.0f ms during the flood", ms);
	cr_assert_eq(nodes, SITES);

	/* A node that restarts reconnects. */
	restart_node(1);
	wait_connected(SITES);

	/* A query completes. */
	dmn_demo_path(&demo, conf, sizeof conf, "planner.conf");
	dmn_demo_path(&demo, spec, sizeof spec, "queries/diabetes_by_age_sex.json");
	dmn_demo_path(&demo, out, sizeof out, "answer.json");
	int rc = dmn_demo_run_to(&demo, out,
	                         (const char *const[]){"tally", "query", "--config", conf, "--spec",
	                                               spec, "--format", "json", NULL});
	if (rc != 0)
		dmn_show_tail(out, 8);
	cr_assert_eq(rc, 0, "a query failed during the flood (exit %d, its output is above)", rc);

	long peak = dmn_proc_kb(coordinator, "VmHWM");
	int files = open_files(coordinator);
	cr_log_info("coordinator: peak RSS %ld kB (bound %d), %d files (bound %d)", peak,
	            RSS_BOUND_KB, files, FILES_BOUND);
	cr_assert_lt(peak, RSS_BOUND_KB, "coordinator peak RSS %ld kB", peak);
	cr_assert_lt(files, FILES_BOUND, "coordinator holds %d files", files);
	cr_assert_not(dmn_file_has(log, "accepting a connection failed"));
	/* Last: on main the server's failures come first, and then this. */
	cr_assert_eq(connected, FLOOD_CONNS, "only %ld of %d connections were made", connected,
	             FLOOD_CONNS);
}

Test(flood, coordinator_raises_its_soft_open_files_limit_to_the_need)
{
	char log[300];
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 2048)
		cr_skip_test("the hard RLIMIT_NOFILE (%llu) is below 2048",
		             (unsigned long long)rl.rlim_max);
	rl.rlim_cur = 256; /* this test's own process: its children inherit it */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	pid_t pid = restart_coordinator(log, sizeof log);
	for (int i = 0; i < 400 && !dmn_file_has(log, "open files:"); i++)
		dmn_pause_ms(50);
	cr_assert(dmn_file_has(log, "open files: limit raised from 256 to"), "no raise logged");
	long soft = soft_open_files(pid);
	cr_log_info("coordinator's soft limit: %ld", soft);
	cr_assert_geq(soft, 3 * 256 + 3 + 2 * SITES + 64 + 128);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

Test(flood, coordinator_refuses_to_start_when_the_hard_limit_is_too_low)
{
	char log[300];
	struct rlimit rl = {600, 600}; /* below 3 x 256 for the API alone */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	pid_t pid = restart_coordinator(log, sizeof log);
	/* It exits at once (1.5 s here, loaded); running after CONNECT_WAIT_S
	 * means it started anyway. */
	int code = dmn_wait_or_kill(pid, 1000L * CONNECT_WAIT_S);
	cr_assert(code > 0 && code < 128, "it started anyway");
	if (!dmn_file_has(log, "limits.api_max_conns = 256 needs")) {
		dmn_show_tail(log, 8);
		cr_assert_fail("the log does not name the key (its last lines are above)");
	}
	cr_assert(dmn_file_has(log, "hard RLIMIT_NOFILE is 600"));
}
