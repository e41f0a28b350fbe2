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
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "net/transport.h"
#include "tests/daemons.h"

extern char **environ;

enum {
	SITES = 3,
	FLOOD_CONNS = 20000,
	FLOOD_READY_S = 180,
	API_BOUND_MS = 5000,
	RSS_BOUND_KB = 64 * 1024 + TALLY_ASAN_EXTRA_KB,
	FILES_BOUND = 1024,  /* api_max_conns 256: 3 x 256 + 3 + nodes + 64 + 128 */
	CONNECT_WAIT_S = 60, /* a node reconnects in about 1 s unloaded */
};

static char dir[] = "/tmp/tally-flood-XXXXXX";
static char bin[1024], helper[1100], api[200];
static pid_t flooder = -1;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
run_to(const char *log, const char *const argv[])
{
	char program[1200];
	int status;
	snprintf(program, sizeof program, "%s/%s", bin, argv[0]);
	pid_t pid = dmn_spawn(program, argv, log, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void
path(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", dir, rel);
}

static int
file_has(const char *file, const char *text)
{
	char line[1024];
	int found = 0;
	FILE *f = fopen(file, "r");
	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

/* The last lines of a file, on stderr, for a failure's message. */
static void
show_tail(const char *file)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "tail -n 8 %s >&2", file);
	if (system(cmd) != 0)
		cr_log_warn("cannot show %s", file);
}

/* A "Key:   N kB" line of /proc/PID/status. */
static long
status_kb(pid_t pid, const char *key)
{
	char file[64], line[256];
	long kb = -1;
	snprintf(file, sizeof file, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(file, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			kb = atol(line + strlen(key) + 1);
	fclose(f);
	return kb;
}

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
	char url[300], cert[300], key[300], ca[300], why[300];
	struct tly_tls_files tls = {cert, key, ca, NULL};
	uint8_t *response = NULL;
	size_t len = 0;
	int status = 0;

	path(cert, sizeof cert, "pki/planner.crt");
	path(key, sizeof key, "pki/planner.key");
	path(ca, sizeof ca, "pki/coordinator-ca.crt");
	snprintf(url, sizeof url, "%s/v1/status", api);
	double start = now_s();
	tly_err rv = tly_https_request(url, "GET", &tls, NULL, 0, 20000, &status, &response, &len,
	                               why, sizeof why);
	*ms = (now_s() - start) * 1000.0;
	*nodes = -1;
	if (rv != TLY_OK) {
		cr_log_info("GET /v1/status: %s", why);
		status = -1;
	} else {
		json_error_t err;
		json_t *body = json_loadb((const char *)response, len, 0, &err);
		*nodes = (int)json_integer_value(json_object_get(body, "nodes_connected"));
		json_decref(body);
	}
	free(response);
	return status;
}

static void
wait_connected(int want)
{
	double ms, start = now_s();
	int n = -1;
	while ((api_status(&ms, &n) != 200 || n != want) && now_s() - start < CONNECT_WAIT_S)
		dmn_pause_ms(100);
	cr_assert_eq(n, want, "%d nodes connected after %d s, wanted %d", n, CONNECT_WAIT_S, want);
}

static void
setup(void)
{
	const char *env = getenv("TALLY_BIN");
	char exe[1024], out[300];
	snprintf(bin, sizeof bin, "%s", env != NULL ? env : "build/bin");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	cr_assert(n > 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(helper, sizeof helper, "%s/helpers/flood", exe);
	cr_assert_eq(access(helper, X_OK), 0, "%s not built", helper);
	cr_assert_not_null(mkdtemp(dir));
	path(out, sizeof out, "out.txt");
	cr_assert_eq(
	    run_to(out, (const char *const[]){"tally", "demo", "--serve", "--dir", dir, "--sites",
	                                      "3", "--people", "600", "--seed", "12", NULL}),
	    0, "tally demo --serve failed");
	cr_assert(dmn_planner_api(dir, api, sizeof api), "no api in %s/planner.conf", dir);
	wait_connected(SITES);
}

static void
teardown(void)
{
	char cmd[300], out[300];
	if (flooder > 0) {
		kill(flooder, SIGTERM);
		waitpid(flooder, NULL, 0);
	}
	path(out, sizeof out, "out.txt");
	(void)run_to(out, (const char *const[]){"tally", "demo", "--stop", "--dir", dir, NULL});
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

TestSuite(flood, .init = setup, .fini = teardown, .timeout = 600);

/* Start the flood and wait for it to be in place; returns how many
 * connections the kernel completed. */
static long
start_flood(void)
{
	char log[300], port[16], count[16], line[200];
	long connected = -1, of = -1;
	const char *colon = strrchr(api, ':');
	cr_assert_not_null(colon);
	snprintf(port, sizeof port, "%s", colon + 1);
	snprintf(count, sizeof count, "%d", FLOOD_CONNS);
	path(log, sizeof log, "flood.txt");
	flooder = dmn_spawn(helper, (const char *const[]){"flood", "127.0.0.1", port, count, NULL},
	                    log, 0);
	double start = now_s();
	while (!file_has(log, "ready") && now_s() - start < FLOOD_READY_S) {
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
	char name[32], conf[300], log[300], exe[1200], pidfile[300];
	snprintf(name, sizeof name, "node-%d", site);
	pid_t old = dmn_pid_of(dir, name);
	cr_assert_eq(kill(old, SIGTERM), 0);
	for (int i = 0; i < 400 && kill(old, 0) == 0; i++)
		dmn_pause_ms(50);
	cr_assert(kill(old, 0) != 0, "node %d did not stop", site);
	/* Until the coordinator has seen the old link close it still counts
	 * the node; a query sent then would go to the dead link. */
	wait_connected(SITES - 1);
	snprintf(conf, sizeof conf, "%s/site-%d/node.conf", dir, site);
	snprintf(log, sizeof log, "%s/logs/node-%d.restarted.log", dir, site);
	snprintf(exe, sizeof exe, "%s/tally-node", bin);
	pid_t pid =
	    dmn_spawn(exe, (const char *const[]){"tally-node", "--config", conf, NULL}, log, 0);
	snprintf(pidfile, sizeof pidfile, "%s/run/%s.pid", dir, name);
	FILE *f = fopen(pidfile, "w");
	cr_assert_not_null(f);
	fprintf(f, "%ld\n", (long)pid);
	fclose(f);
}

/* ---- the descriptor budget at start ---- */

/* Stop the demo's coordinator and start it again from this process (whose
 * limits it inherits); returns its pid, its log in `log`. */
static pid_t
restart_coordinator(char *log, size_t log_len)
{
	char conf[300], exe[1200];
	pid_t old = dmn_pid_of(dir, "coordinator");
	cr_assert_eq(kill(old, SIGTERM), 0);
	for (int i = 0; i < 400 && kill(old, 0) == 0; i++)
		dmn_pause_ms(50);
	cr_assert(kill(old, 0) != 0, "the coordinator did not stop");
	path(conf, sizeof conf, "coordinator/coordinator.conf");
	path(log, log_len, "logs/coordinator.restarted.log");
	snprintf(exe, sizeof exe, "%s/tally-coordinator", bin);
	return dmn_spawn(exe, (const char *const[]){"tally-coordinator", "--config", conf, NULL},
	                 log, 0);
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
	char pidfile[300];
	path(pidfile, sizeof pidfile, "run/coordinator.pid");
	FILE *pf = fopen(pidfile, "w");
	cr_assert_not_null(pf);
	fprintf(pf, "%ld\n", (long)coordinator);
	fclose(pf);
	wait_connected(SITES);

	/* The bound on /v1/status during the flood: API_BOUND_MS, or 25 times
	 * the slowest of three answers before it where the machine is slower. */
	double bound = API_BOUND_MS;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(api_status(&ms, &nodes), 200,
		             "GET /v1/status failed before the flood");
		bound = ms * 25 > bound ? ms * 25 : bound;
	}
	long rss_before = status_kb(coordinator, "VmRSS:");
	long connected = start_flood();
	cr_log_info("coordinator: RSS %ld kB before, %ld kB with the flood in place, %d files",
	            rss_before, status_kb(coordinator, "VmRSS:"), open_files(coordinator));

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
	path(conf, sizeof conf, "planner.conf");
	path(spec, sizeof spec, "queries/diabetes_by_age_sex.json");
	path(out, sizeof out, "answer.json");
	int rc = run_to(out, (const char *const[]){"tally", "query", "--config", conf, "--spec",
	                                           spec, "--format", "json", NULL});
	if (rc != 0)
		show_tail(out);
	cr_assert_eq(rc, 0, "a query failed during the flood (exit %d, its output is above)", rc);

	long peak = status_kb(coordinator, "VmHWM:");
	int files = open_files(coordinator);
	cr_log_info("coordinator: peak RSS %ld kB (bound %d), %d files (bound %d)", peak,
	            RSS_BOUND_KB, files, FILES_BOUND);
	cr_assert_lt(peak, RSS_BOUND_KB, "coordinator peak RSS %ld kB", peak);
	cr_assert_lt(files, FILES_BOUND, "coordinator holds %d files", files);
	cr_assert_not(file_has(log, "accepting a connection failed"));
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
	for (int i = 0; i < 400 && !file_has(log, "open files:"); i++)
		dmn_pause_ms(50);
	cr_assert(file_has(log, "open files: limit raised from 256 to"), "no raise logged");
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
	int status = 0;
	pid_t done = 0;
	/* It exits at once (1.5 s here, loaded); running after CONNECT_WAIT_S
	 * means it started anyway. */
	for (double start = now_s();
	     (done = waitpid(pid, &status, WNOHANG)) == 0 && now_s() - start < CONNECT_WAIT_S;)
		dmn_pause_ms(100);
	if (done == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	cr_assert(done == pid && WIFEXITED(status) && WEXITSTATUS(status) != 0,
	          "it started anyway");
	if (!file_has(log, "limits.api_max_conns = 256 needs")) {
		show_tail(log);
		cr_assert_fail("the log does not name the key (its last lines are above)");
	}
	cr_assert(file_has(log, "hard RLIMIT_NOFILE is 600"));
}
