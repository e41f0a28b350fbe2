/*
 * demo_daemons.c - the daemons of a served `tally demo` federation, one at
 * a time: `tally demo --status` and `tally demo --restart NAME`
 * (demo_impl.h). A daemon is named as its pid file is, DIR/run/NAME.pid:
 * "coordinator" or "node-N" for each DIR/site-N/node.conf.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cli/demo_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_USAGE = 2, STOP_WAIT_MS = 10000, KILL_WAIT_MS = 5000, POLL_MS = 100 };

static const char connected_line[] = "connected to the coordinator"; /* node/daemon.c */

struct daemon {
	char name[32];
	const char *program;
	char config[PATH_MAX];
	char log[PATH_MAX];
};

static void
pause_ms(long ms)
{
	struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&pause, NULL);
}

static double
now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* How many sites DIR has: site-1 .. site-N with a node.conf each. */
static unsigned
site_count(const char *dir)
{
	char path[PATH_MAX];
	unsigned n = 0;

	while (n < TLY_DEMO_SITES_MAX &&
	       tly_demo_join(path, sizeof path, "%s/site-%u/node.conf", dir, n + 1) &&
	       access(path, R_OK) == 0)
		n++;
	return n;
}

/* The daemon that name names in DIR; 0 when there is none. */
static int
daemon_of(const char *dir, const char *name, struct daemon *d)
{
	unsigned site = 0;
	char tail;

	memset(d, 0, sizeof *d);
	if (strcmp(name, "coordinator") == 0) {
		d->program = "tally-coordinator";
		tly_demo_join(d->config, sizeof d->config, "%s/coordinator/coordinator.conf", dir);
	} else if (strncmp(name, "node-", 5) == 0 && name[5] >= '1' && name[5] <= '9' &&
	           strspn(name + 5, "0123456789") == strlen(name + 5) &&
	           sscanf(name + 5, "%u%c", &site, &tail) == 1 && site <= site_count(dir)) {
		d->program = "tally-node";
		tly_demo_join(d->config, sizeof d->config, "%s/site-%u/node.conf", dir, site);
	} else {
		return 0;
	}
	tly_demo_join(d->name, sizeof d->name, "%s", name);
	tly_demo_join(d->log, sizeof d->log, "%s/logs/%s.log", dir, name);
	return access(d->config, R_OK) == 0;
}

/* The pid in DIR/run/NAME.pid, 0 when there is none. */
static pid_t
pid_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	long pid = 0;

	tly_demo_join(path, sizeof path, "%s/run/%s.pid", dir, name);
	FILE *f = fopen(path, "r");
	if (f != NULL && (fscanf(f, "%ld", &pid) != 1 || pid <= 1))
		pid = 0;
	if (f != NULL)
		fclose(f);
	return (pid_t)pid;
}

/* /proc/PID/WHAT into buf (NUL-terminated); its length, 0 when it
 * cannot be read. */
static size_t
read_proc(pid_t pid, const char *what, char *buf, size_t size)
{
	char path[64];

	tly_demo_join(path, sizeof path, "/proc/%ld/%s", (long)pid, what);
	FILE *f = fopen(path, "r");
	size_t len = f != NULL ? fread(buf, 1, size - 1, f) : 0;
	if (f != NULL)
		fclose(f);
	buf[len] = '\0';
	return len;
}

/* The config file a process's argv names, resolved against its own
 * working folder, into out (realpath); 0 when it cannot be read. */
static int
process_config(pid_t pid, const char *program, char *out)
{
	char path[64], args[2 * PATH_MAX], cwd[PATH_MAX], config[2 * PATH_MAX + 2];

	size_t len = read_proc(pid, "cmdline", args, sizeof args);
	/* argv: PROGRAM --config FILE (tly_demo_spawn); a zombie has none. */
	const char *flag = args + strlen(args) + 1, *file = flag + strlen(flag) + 1;
	if (len == 0 || strcmp(args, program) != 0 || file >= args + len ||
	    strcmp(flag, "--config") != 0)
		return 0;
	tly_demo_join(path, sizeof path, "/proc/%ld/cwd", (long)pid);
	ssize_t n = readlink(path, cwd, sizeof cwd - 1);
	if (n <= 0)
		return 0;
	cwd[n] = '\0';
	tly_demo_join(config, sizeof config, "%s/%s", file[0] == '/' ? "" : cwd, file);
	return realpath(config, out) != NULL;
}

/* Whether pid is d's program running on d's config: alive, not a zombie,
 * and not another program that was given a reused pid. */
static int
is_daemon(pid_t pid, const struct daemon *d)
{
	char theirs[PATH_MAX], ours[PATH_MAX];

	if (pid <= 1 || (kill(pid, 0) != 0 && errno != EPERM))
		return 0;
	return process_config(pid, d->program, theirs) && realpath(d->config, ours) != NULL &&
	       strcmp(theirs, ours) == 0;
}

/* Whether pid has exited: no such process, or a zombie. Not "its
 * cmdline is empty": that happens when it frees its memory, before it
 * closes its sockets, and a new daemon started then could not listen. */
static int
exited(pid_t pid)
{
	char stat_line[512];

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return 1;
	if (read_proc(pid, "stat", stat_line, sizeof stat_line) == 0)
		return 1;                            /* gone between the two looks */
	const char *paren = strrchr(stat_line, ')'); /* "PID (COMM) STATE ..." */
	return paren != NULL && (paren[2] == 'Z' || paren[2] == 'X');
}

/* Whether pid has exited within ms. */
static int
gone_within(pid_t pid, long ms)
{
	for (long waited = 0; waited < ms; waited += POLL_MS) {
		waitpid(pid, NULL, WNOHANG); /* reaps our own child (in tests) */
		if (exited(pid))
			return 1;
		pause_ms(POLL_MS);
	}
	return exited(pid);
}

/* SIGTERM, wait up to STOP_WAIT_MS, then SIGKILL. 0 once it is gone. */
static int
stop_one(pid_t pid, const struct daemon *d)
{
	kill(pid, SIGTERM);
	if (gone_within(pid, STOP_WAIT_MS)) {
		printf("tally demo: stopped %s (pid %ld)\n", d->name, (long)pid);
		return 0;
	}
	printf("tally demo: %s (pid %ld) did not stop within %d s: SIGKILL\n", d->name, (long)pid,
	       STOP_WAIT_MS / 1000);
	kill(pid, SIGKILL);
	return gone_within(pid, KILL_WAIT_MS) ? 0 : -1;
}

/* How many lines of path hold needle (0 when it cannot be read). */
static int
count_lines(const char *path, const char *needle)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(path, "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		n += strstr(line, needle) != NULL;
	if (f != NULL)
		fclose(f);
	return n;
}

/* The planner's API of DIR, from DIR/planner.conf's `api = URL`. */
static int
api_of(const char *dir, struct tly_demo_api *api)
{
	char path[PATH_MAX], line[512];
	int found = 0;

	memset(api, 0, sizeof *api);
	tly_demo_join(path, sizeof path, "%s/planner.conf", dir);
	FILE *f = fopen(path, "r");
	while (f != NULL && !found && fgets(line, sizeof line, f) != NULL)
		found = sscanf(line, "api = %127s", api->url) == 1;
	if (f != NULL)
		fclose(f);
	tly_demo_join(api->cert, sizeof api->cert, "%s/pki/planner.crt", dir);
	tly_demo_join(api->key, sizeof api->key, "%s/pki/planner.key", dir);
	tly_demo_join(api->ca, sizeof api->ca, "%s/pki/coordinator-ca.crt", dir);
	tly_demo_join(api->sign_key, sizeof api->sign_key, "%s/pki/planner.sign", dir);
	return found;
}

/* nodes_connected of the coordinator's GET /v1/status, -1 when it did not
 * answer 200. */
static int
connected_nodes(const char *dir)
{
	struct tly_demo_api api;
	char why[300];
	int status = 0, n = -1;

	if (!api_of(dir, &api))
		return -1;
	json_t *st = tly_demo_request(&api, "GET", "/v1/status", NULL, &status, why, sizeof why);
	if (st != NULL && status == 200)
		n = (int)json_integer_value(json_object_get(st, "nodes_connected"));
	json_decref(st);
	return n;
}

/* ---- --status ---- */

/* When DIR/run/NAME.pid was written (the daemon's start), in UTC. */
static void
started_at(const char *dir, const char *name, char *out, size_t len)
{
	char path[PATH_MAX];
	struct stat st;
	struct tm tm;

	tly_demo_join(path, sizeof path, "%s/run/%s.pid", dir, name);
	if (stat(path, &st) != 0 || gmtime_r(&st.st_mtime, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		tly_demo_join(out, len, "-");
}

/* One daemon's line; returns whether it runs. */
static int
status_line(const char *dir, const struct daemon *d, unsigned sites)
{
	char pid_text[24] = "-", since[32] = "-", extra[64] = "";
	pid_t pid = pid_file(dir, d->name);
	int running = is_daemon(pid, d);

	if (pid > 0)
		tly_demo_join(pid_text, sizeof pid_text, "%ld", (long)pid);
	if (running)
		started_at(dir, d->name, since, sizeof since);
	if (running && strcmp(d->name, "coordinator") == 0) {
		int n = connected_nodes(dir);
		if (n >= 0)
			tly_demo_join(extra, sizeof extra, "  %d of %u nodes connected", n, sites);
		else
			tly_demo_join(extra, sizeof extra, "  (its API did not answer)");
	}
	printf("%-12s %-8s %-8s %-20s  %s%s\n", d->name, running ? "running" : "down", pid_text,
	       since, d->log, extra);
	return running;
}

int
tly_demo_status(const char *dir)
{
	struct daemon d;
	unsigned sites = site_count(dir);
	int down = 0;

	if (!daemon_of(dir, "coordinator", &d)) {
		fprintf(stderr,
		        "tally demo: %s holds no federation (no coordinator/coordinator.conf)\n",
		        dir);
		return 1;
	}
	printf("%-12s %-8s %-8s %-20s  %s\n", "NAME", "STATE", "PID", "SINCE", "LOG");
	down += !status_line(dir, &d, sites);
	for (unsigned s = 1; s <= sites; s++) {
		char name[32];
		tly_demo_join(name, sizeof name, "node-%u", s);
		if (daemon_of(dir, name, &d))
			down += !status_line(dir, &d, sites);
	}
	if (down > 0)
		printf(
		    "%d of %u daemons down; restart one with tally demo --restart NAME --dir %s\n",
		    down, sites + 1, dir);
	return down > 0 ? TLY_DEMO_EXIT_DOWN : 0;
}

/* ---- --restart ---- */

/* "tally demo: --restart: no daemon NAME in DIR; the daemons are ...". */
static int
unknown_daemon(const char *dir, const char *name)
{
	unsigned sites = site_count(dir);

	fprintf(stderr,
	        "tally demo: --restart: no daemon '%.40s' in %s; the daemons are coordinator", name,
	        dir);
	for (unsigned s = 1; s <= sites; s++)
		fprintf(stderr, ", node-%u", s);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* How many nodes of DIR run now. */
static unsigned
nodes_running(const char *dir)
{
	struct daemon d;
	unsigned sites = site_count(dir), running = 0;

	for (unsigned s = 1; s <= sites; s++) {
		char name[32];
		tly_demo_join(name, sizeof name, "node-%u", s);
		running += daemon_of(dir, name, &d) && is_daemon(pid_file(dir, name), &d);
	}
	return running;
}

/* Up: the coordinator answers with every running node connected; a node
 * has logged one more "connected to the coordinator" than before. 0 once
 * up, -1 when it exited or TLY_DEMO_READY_S passed (said). */
static int
wait_up(const char *dir, const struct daemon *d, pid_t pid, int connected_before)
{
	int coordinator = strcmp(d->name, "coordinator") == 0;
	double start = now_s();

	while (now_s() - start < TLY_DEMO_READY_S) {
		/* Our own child: no pid reuse to fear while it is unreaped. */
		if (waitpid(pid, NULL, WNOHANG) == pid || exited(pid)) {
			fprintf(stderr, "tally demo: %s exited; see %s\n", d->name, d->log);
			return -1;
		}
		if (coordinator ? connected_nodes(dir) >= (int)nodes_running(dir)
		                : count_lines(d->log, connected_line) > connected_before)
			return 0;
		pause_ms(200);
	}
	fprintf(stderr, "tally demo: %s did not come up within %d s; see %s\n", d->name,
	        TLY_DEMO_READY_S, d->log);
	return -1;
}

int
tly_demo_restart(const char *dir, const char *name)
{
	struct daemon d;

	if (!daemon_of(dir, name, &d))
		return unknown_daemon(dir, name);
	pid_t old = pid_file(dir, name);
	if (is_daemon(old, &d) && stop_one(old, &d) != 0) {
		fprintf(stderr, "tally demo: %s (pid %ld) would not stop\n", name, (long)old);
		return 1;
	}
	int before = count_lines(d.log, connected_line);
	pid_t pid = tly_demo_spawn(dir, name, d.program, d.config);
	if (pid <= 0)
		return 1;
	printf("tally demo: started %s (pid %ld, log %s); waiting for it to come up\n", name,
	       (long)pid, d.log);
	fflush(stdout);
	if (wait_up(dir, &d, pid, before) != 0)
		return 1;
	printf("tally demo: %s is up (pid %ld)%s\n", name, (long)pid,
	       strcmp(name, "coordinator") == 0 ? ": answering, every running node connected"
	                                        : ": connected to the coordinator");
	return 0;
}
