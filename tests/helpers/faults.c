/*
 * faults - scripted kill -9 faults against a real federation (`make
 * faults`; tests/test_faults.c runs a short version).
 *
 *   faults --queries N [--seed S] [--sites K] [--people M] [--dir DIR]
 *          [--keep] [--csv FILE] [--max-delay MS]
 *   faults --check DIR
 *
 * Sets up a federation with `tally demo --serve` (coordinator, K
 * tally-node daemons over mutual TLS, committee k = 4, t = 2, q = 3 from
 * four sites up), then asks N
 * queries one at a time with `tally query` (the demo's spec files with
 * small privacy amounts, and flag queries: counts, sums, means,
 * histograms). For two queries in three it waits a random 0..MS ms after
 * the query was sent and kill -9s a random victim: any node, a member of
 * this query's committee (the coordinator's log names them), or the
 * coordinator; then restarts the victim as `tally demo` started it, and
 * before the next query waits until every node is connected again.
 *
 * Each query is classified:
 *   completed       exit 0, and every released cell within 4 of its 95%
 *                   half-widths of the exact answer over the contributors
 *                   the transparency log names (computed here with SQL on
 *                   each site's file); the intervals' coverage is reported
 *   failed cleanly  exit 3, 4 or 5 (DESIGN.md 7.1) with an error message
 *                   (queries run with --timeout QUERY_TIMEOUT_MS; those
 *                   that failed only at that timeout are counted apart)
 *   bad             anything else: a wrong answer, a release missing from
 *                   the log, a hang (tally query still running HANG_MS
 *                   after it started, past its own --timeout), another
 *                   exit code, or a daemon that died without being killed
 *
 * Afterwards every daemon is stopped with SIGTERM, `tally audit verify
 * --dir DIR` must pass, and the checks of --check run: every ledger
 * verifies under its registry key; each ledger's spent totals equal the
 * sum of its charges; and no under-count: for every entry of the
 * transparency log, every contributor of a release and every node whose
 * receipt the entry carries has a charge in its own ledger for that query
 * (same id, hash and mechanism) of at least the released (or receipted)
 * amount. --check DIR runs only these checks on an existing federation
 * laid out as `tally demo` lays it out.
 *
 * Exit 0 only when no query was bad and every post-check passed; 1
 * otherwise; 2 for bad usage. TALLY_BIN names the folder of the programs
 * (default build/bin).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "coordinator/translog.h"
#include "coordinator/translog_impl.h"
#include "node/ledger.h"
#include "store/keys.h"
#include "wire/party.h"
#include "query/receipt.h"
#include "net/transport.h"

extern char **environ;

enum {
	MAX_SITES = 50,
	QUERY_TIMEOUT_MS = 40000, /* tally query --timeout: 4 deadlines and more */
	HANG_MS = 70000,          /* a query still running after this hung */
	READY_MS = 90000,         /* every node connected again */
	STOP_MS = 30000,          /* SIGTERM to exit */
	WIDTHS = 4,               /* released cell within WIDTHS half-widths */
};

static const char usage[] =
    "usage: faults --queries N [--seed S] [--sites K] [--people M] [--dir DIR]\n"
    "              [--keep] [--csv FILE] [--max-delay MS]\n"
    "       faults --check DIR\n"
    "\n"
    "Kill -9 random nodes, committee members and the coordinator at random\n"
    "points across N queries of a `tally demo --serve` federation; check each\n"
    "query completed correctly or failed cleanly, that no ledger under-counts\n"
    "a release and that every log verifies. Exit 0 only when all held.\n"
    "\n"
    "  --queries N     queries to ask (default 200)\n"
    "  --seed S        seed of the fault schedule and the synthetic data (1)\n"
    "  --sites K       trusts, 4..50 (default 6)\n"
    "  --people M      people across all trusts (default 6000)\n"
    "  --dir DIR       where the federation goes (default: new under /tmp)\n"
    "  --keep          keep DIR afterwards (kept anyway on failure)\n"
    "  --csv FILE      per-query CSV (default DIR/faults/queries.csv)\n"
    "  --max-delay MS  kills land 0..MS ms after the query is sent (600)\n"
    "  --check DIR     only the ledger and log checks, on an existing DIR\n"
    "  --skew K        add K to every true value (a negative control: the\n"
    "                  answer check must then fail)\n"
    "\n"
    "TALLY_BIN names the folder of tally, tally-node, tally-coordinator.\n";

/* ---- small things ---- */

static char bin[PATH_MAX] = "build/bin";
static long truth_skew; /* --skew: a wrong truth, to show the check fails */
static char dir[PATH_MAX];
static uint64_t rng_state;

/* splitmix64: the fault schedule only (not a secret). */
static uint64_t
next_random(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static unsigned
below(unsigned n)
{
	return (unsigned)(next_random() % n);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
nap(unsigned ms)
{
	struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

static void path_of(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
path_of(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "faults: path too long\n");
		exit(2);
	}
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, cap = 0;
	if (f == NULL)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			char *grown = realloc(text, cap);
			if (grown == NULL)
				break;
			text = grown;
		}
		size_t got = fread(text + len, 1, 4096, f);
		len += got;
		if (got == 0)
			break;
	}
	fclose(f);
	if (text != NULL)
		text[len] = '\0';
	return text;
}

/* ---- processes ---- */

/* Start bin/argv[0] with stdout and stderr to files (NULL: /dev/null). */
static pid_t
spawn(const char *const argv[], const char *out, const char *err)
{
	char program[PATH_MAX];
	posix_spawn_file_actions_t actions;
	pid_t pid;

	path_of(program, sizeof program, "%s/%s", bin, argv[0]);
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 1, out ? out : "/dev/null",
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&actions, 2, err ? err : "/dev/null",
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = posix_spawn(&pid, program, &actions, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0) {
		fprintf(stderr, "faults: cannot start %s: %s\n", program, strerror(rc));
		return -1;
	}
	return pid;
}

/* The exit code (128 + signal when killed by one). */
static int
decode_status(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Wait for pid up to ms; the exit code, or -1 on timeout. */
static int
wait_for(pid_t pid, unsigned ms)
{
	uint64_t until = now_ms() + ms;
	int status;
	for (;;) {
		pid_t got = waitpid(pid, &status, WNOHANG);
		if (got == pid)
			return decode_status(status);
		if (got < 0)
			return -2;
		if (now_ms() >= until)
			return -1;
		nap(20);
	}
}

static int
run(const char *const argv[], const char *out, const char *err, unsigned ms)
{
	pid_t pid = spawn(argv, out, err);
	if (pid < 0)
		return -2;
	int code = wait_for(pid, ms);
	if (code == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return code;
}

/* ---- the federation's daemons: [0] the coordinator, [s] node s ---- */

static unsigned sites = 6;
static pid_t daemon_pid[MAX_SITES + 1];
static int daemon_mine[MAX_SITES + 1]; /* a child we can reap */

static void
daemon_name(unsigned i, char *out, size_t len)
{
	if (i == 0)
		path_of(out, len, "coordinator");
	else
		path_of(out, len, "node-%u", i);
}

static pid_t
read_pid(unsigned i)
{
	char name[32], path[PATH_MAX];
	long pid = -1;
	daemon_name(i, name, sizeof name);
	path_of(path, sizeof path, "%s/run/%s.pid", dir, name);
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return (pid_t)pid;
}

/* Start daemon i exactly as cli/demo.c's start() does: stdin /dev/null,
 * stdout and stderr appended to DIR/logs/NAME.log, argv {program,
 * --config, CONFIG}, and its pid in DIR/run/NAME.pid. */
static int
start_daemon(unsigned i)
{
	char name[32], exe[PATH_MAX], log[PATH_MAX], config[PATH_MAX], pidfile[PATH_MAX];
	const char *program = i == 0 ? "tally-coordinator" : "tally-node";
	posix_spawn_file_actions_t actions;
	pid_t pid;

	daemon_name(i, name, sizeof name);
	path_of(exe, sizeof exe, "%s/%s", bin, program);
	path_of(log, sizeof log, "%s/logs/%s.log", dir, name);
	if (i == 0)
		path_of(config, sizeof config, "%s/coordinator/coordinator.conf", dir);
	else
		path_of(config, sizeof config, "%s/site-%u/node.conf", dir, i);
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	char *const argv[] = {(char *)program, "--config", config, NULL};
	int rc = posix_spawn(&pid, exe, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0) {
		fprintf(stderr, "faults: cannot restart %s: %s\n", name, strerror(rc));
		return -1;
	}
	path_of(pidfile, sizeof pidfile, "%s/run/%s.pid", dir, name);
	FILE *f = fopen(pidfile, "w");
	if (f != NULL) {
		fprintf(f, "%ld\n", (long)pid);
		fclose(f);
	}
	daemon_pid[i] = pid;
	daemon_mine[i] = 1;
	return 0;
}

/* Wait until a process we may not be the parent of is gone. */
static int
wait_gone(unsigned i, unsigned ms, int *code)
{
	uint64_t until = now_ms() + ms;
	*code = -1;
	if (daemon_mine[i]) {
		int c = wait_for(daemon_pid[i], ms);
		if (c >= 0 || c == -2) {
			*code = c;
			return 1;
		}
		return 0;
	}
	while (kill(daemon_pid[i], 0) == 0) {
		if (now_ms() >= until)
			return 0;
		nap(20);
	}
	return 1;
}

/* kill -9 daemon i and start it again. */
static int
kill_and_restart(unsigned i)
{
	int code;
	if (kill(daemon_pid[i], SIGKILL) != 0) {
		fprintf(stderr, "faults: kill %ld: %s\n", (long)daemon_pid[i], strerror(errno));
		return -1;
	}
	if (!wait_gone(i, 10000, &code)) {
		fprintf(stderr, "faults: %ld survived SIGKILL\n", (long)daemon_pid[i]);
		return -1;
	}
	return start_daemon(i);
}

/* Daemons that died without being killed; each is reported, counted and
 * restarted so that the run goes on. */
static unsigned
unexpected_deaths(char *what, size_t len)
{
	unsigned deaths = 0;
	what[0] = '\0';
	for (unsigned i = 0; i <= sites; i++) {
		int status, dead = 0, code = -1;
		if (daemon_mine[i]) {
			if (waitpid(daemon_pid[i], &status, WNOHANG) == daemon_pid[i]) {
				dead = 1;
				code = decode_status(status);
			}
		} else if (kill(daemon_pid[i], 0) != 0) {
			dead = 1;
		}
		if (!dead)
			continue;
		char name[32];
		daemon_name(i, name, sizeof name);
		size_t used = strlen(what);
		snprintf(what + used, len - used, "%s%s died (exit %d)", deaths ? "; " : "", name,
		         code);
		fprintf(stderr, "faults: %s died without being killed (exit code %d)\n", name,
		        code);
		deaths++;
		start_daemon(i);
	}
	return deaths;
}

/* ---- the API ---- */

static char api_url[256];

static int
load_api(void)
{
	char path[PATH_MAX], line[512];
	path_of(path, sizeof path, "%s/planner.conf", dir);
	FILE *f = fopen(path, "r");
	api_url[0] = '\0';
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "api = %255s", api_url) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return api_url[0] != '\0';
}

/* Nodes connected according to GET /v1/status, or -1. */
static long
nodes_connected(void)
{
	char url[400], cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX], why[300];
	uint8_t *response = NULL;
	size_t len = 0;
	int status = 0;
	long connected = -1;

	path_of(url, sizeof url, "%s/v1/status", api_url);
	path_of(cert, sizeof cert, "%s/pki/planner.crt", dir);
	path_of(key, sizeof key, "%s/pki/planner.key", dir);
	path_of(ca, sizeof ca, "%s/pki/coordinator-ca.crt", dir);
	struct tly_tls_files tls = {.cert = cert, .key = key, .ca = ca};
	if (tly_https_request(url, "GET", &tls, NULL, 0, 5000, &status, &response, &len, why,
	                      sizeof why) != TLY_OK)
		return -1;
	json_error_t err;
	json_t *body = json_loadb((const char *)response, len, 0, &err);
	if (body != NULL && status == 200)
		connected = (long)json_integer_value(json_object_get(body, "nodes_connected"));
	json_decref(body);
	free(response);
	return connected;
}

/* Every node connected again (the API answers and counts them all). */
static int
wait_ready(unsigned ms)
{
	uint64_t until = now_ms() + ms;
	while (now_ms() < until) {
		if (nodes_connected() == (long)sites)
			return 1;
		nap(200);
	}
	return 0;
}

/* ---- the queries ---- */

enum measure { COUNT, SUM, MEAN, HISTOGRAM };

struct template
{
	const char *kind;    /* for the CSV */
	const char *spec;    /* a spec of DIR/queries, rewritten, or NULL */
	const char *privacy; /* "epsilon" or "rho" (spec: the new amount) */
	double amount;
	const char *flags[12]; /* flag query (spec NULL) */
	enum measure measure;
	const char *column; /* measured column */
	long lo, hi;        /* its declared bounds (sum, mean) */
	const char *filter; /* the query's where, as SQL */
};

/* Small privacy amounts so that 200 queries fit a node's budgets
 * (epsilon 20, rho 5 per dataset): about 29 queries of each kind cost
 * 4 x 29 x 0.05 = 5.8 epsilon and 3 x 29 x 0.02 = 1.7 rho. The rho 0.02
 * queries have 95% half-widths of about 21, so a wrong contributor set
 * (a site's cells hold ~100 or more) shows. */
static const struct template templates[] = {
    {"count_spec",
     "diabetes_by_age_sex.json",
     "epsilon",
     0.05,
     {NULL},
     COUNT,
     NULL,
     0,
     0,
     "has_diabetes = 1"},
    {"mean_spec",
     "mean_wait_by_specialty.json",
     "epsilon",
     0.05,
     {NULL},
     MEAN,
     "wait_weeks",
     0,
     104,
     "1"},
    {"histogram_spec",
     "ae_histogram.json",
     "rho",
     0.02,
     {NULL},
     HISTOGRAM,
     "ae_attendances_12m",
     0,
     50,
     "1"},
    {"count_flags",
     NULL,
     NULL,
     0,
     {"--count", "--by", "sex", "--where", "age >= 65", "--rho", "0.02", NULL},
     COUNT,
     NULL,
     0,
     0,
     "age >= 65"},
    {"sum_flags",
     NULL,
     NULL,
     0,
     {"--sum", "bmi", "--by", "has_diabetes", "--epsilon", "0.05", NULL},
     SUM,
     "bmi",
     10,
     80,
     "1"},
    {"histogram_flags",
     NULL,
     NULL,
     0,
     {"--histogram", "age", "--edges", "0,18,40,65,80,110", "--by", "sex", "--rho", "0.02", NULL},
     HISTOGRAM,
     "age",
     0,
     110,
     "1"},
    {"mean_flags",
     NULL,
     NULL,
     0,
     {"--mean", "bmi", "--where", "has_copd = 1", "--epsilon", "0.05", NULL},
     MEAN,
     "bmi",
     10,
     80,
     "has_copd = 1"},
};
enum { TEMPLATES = sizeof templates / sizeof templates[0] };

/* DIR/faults/NAME: the demo's spec with the privacy amount lowered. */
static int
write_specs(void)
{
	for (unsigned t = 0; t < TEMPLATES; t++) {
		const struct template *tp = &templates[t];
		char in[PATH_MAX], out[PATH_MAX];
		json_error_t err;
		if (tp->spec == NULL)
			continue;
		path_of(in, sizeof in, "%s/queries/%s", dir, tp->spec);
		path_of(out, sizeof out, "%s/faults/%s", dir, tp->spec);
		json_t *spec = json_load_file(in, 0, &err);
		json_t *privacy = json_object_get(spec, "privacy");
		if (privacy == NULL || json_object_get(privacy, tp->privacy) == NULL ||
		    json_object_set_new(privacy, tp->privacy, json_real(tp->amount)) != 0 ||
		    json_dump_file(spec, out, JSON_INDENT(1)) != 0) {
			fprintf(stderr, "faults: cannot rewrite %s\n", in);
			json_decref(spec);
			return 0;
		}
		json_decref(spec);
	}
	return 1;
}

enum role { ROLE_NONE, ROLE_NODE, ROLE_COMMITTEE, ROLE_COORDINATOR };
static const char *const role_names[] = {"none", "node", "committee", "coordinator"};

enum outcome { COMPLETED, FAILED_CLEANLY, BAD };
static const char *const outcome_names[] = {"completed", "failed_cleanly", "bad"};

struct record {
	unsigned template;
	enum role role;
	unsigned victim;     /* daemon index; 0 = coordinator */
	unsigned delay_ms;   /* after the query was sent */
	int query_had_ended; /* when the kill landed */
	int client_timeout;  /* failed cleanly, but only at tally query's --timeout */
	int exit_code;
	uint64_t latency_ms;
	enum outcome outcome;
	char *answer; /* stdout of a released query */
	char detail[240];
};

/* The committee of the query started after byte `from` of the
 * coordinator's log; how many members were read into ids. */
static unsigned
committee_of(long from, unsigned ids[static 8])
{
	char path[PATH_MAX], line[1024];
	unsigned count = 0;
	path_of(path, sizeof path, "%s/logs/coordinator.log", dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fseek(f, from, SEEK_SET) == 0) {
		while (fgets(line, sizeof line, f) != NULL) {
			const char *list = strstr(line, "started with");
			if (list == NULL || (list = strstr(list, "): ")) == NULL)
				continue;
			list += 3;
			count = 0;
			char *end;
			for (;;) {
				unsigned long id = strtoul(list, &end, 10);
				if (end == list || count == 8)
					break;
				if (id >= 1 && id <= sites)
					ids[count++] = (unsigned)id;
				list = end;
			}
			break;
		}
	}
	fclose(f);
	return count;
}

static long
log_size(void)
{
	char path[PATH_MAX];
	struct stat st;
	path_of(path, sizeof path, "%s/logs/coordinator.log", dir);
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Sleep ms while noting when the query process ends (its exit code in
 * *code, -1 while running). */
static void
pump(pid_t query, unsigned ms, int *code, uint64_t *ended)
{
	uint64_t until = now_ms() + ms;
	do {
		int status;
		if (*code < 0 && waitpid(query, &status, WNOHANG) == query) {
			*code = decode_status(status);
			*ended = now_ms();
		}
		if (now_ms() >= until)
			break;
		nap(5);
	} while (1);
}

/* Pick and kill the victim, then restart it. */
static int
strike(struct record *r, long log_from, pid_t query, int *code, uint64_t *ended)
{
	unsigned ids[8], members = 0;
	if (r->role == ROLE_COMMITTEE) {
		/* The committee is known once the query started; wait for it. */
		for (int tries = 0; tries < 500 && members == 0; tries++) {
			members = committee_of(log_from, ids);
			if (members == 0)
				pump(query, 10, code, ended);
			if (members == 0 && *code >= 0 && tries > 20)
				break;
		}
		if (members == 0) {
			r->role = ROLE_NODE; /* never started: any node will do */
			snprintf(r->detail, sizeof r->detail, "no committee seen; killed a node");
		}
	}
	r->query_had_ended = *code >= 0;
	if (r->role == ROLE_COMMITTEE)
		r->victim = ids[below(members)];
	else if (r->role == ROLE_NODE)
		r->victim = 1 + below(sites);
	else
		r->victim = 0;
	return kill_and_restart(r->victim);
}

static void
ask(unsigned q, struct record *r)
{
	const struct template *tp = &templates[r->template];
	char conf[PATH_MAX], spec[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	char timeout[16];
	const char *argv[32] = {"tally",    "query", "--config",  conf,
	                        "--format", "json",  "--timeout", timeout};
	size_t n = 8;

	snprintf(timeout, sizeof timeout, "%u", (unsigned)QUERY_TIMEOUT_MS);
	path_of(conf, sizeof conf, "%s/planner.conf", dir);
	path_of(out, sizeof out, "%s/faults/q%04u.json", dir, q);
	path_of(err, sizeof err, "%s/faults/q%04u.err", dir, q);
	if (tp->spec != NULL) {
		path_of(spec, sizeof spec, "%s/faults/%s", dir, tp->spec);
		argv[n++] = "--spec";
		argv[n++] = spec;
	}
	for (size_t i = 0; tp->flags[i] != NULL; i++)
		argv[n++] = tp->flags[i];
	argv[n] = NULL;

	long log_from = log_size();
	uint64_t started = now_ms(), ended = 0;
	int code = -1;
	pid_t query = spawn(argv, out, err);
	if (query < 0) {
		r->outcome = BAD;
		snprintf(r->detail, sizeof r->detail, "tally query did not start");
		return;
	}
	if (r->role != ROLE_NONE) {
		pump(query, r->delay_ms, &code, &ended);
		if (strike(r, log_from, query, &code, &ended) != 0) {
			r->outcome = BAD;
			snprintf(r->detail, sizeof r->detail,
			         "could not kill or restart the victim");
		}
	}
	while (code < 0 && now_ms() - started < HANG_MS)
		pump(query, 50, &code, &ended);
	if (code < 0) {
		kill(query, SIGKILL);
		waitpid(query, NULL, 0);
		ended = now_ms();
	}
	r->exit_code = code;
	r->latency_ms = ended - started;
	char *message = slurp(err);
	int has_message = message != NULL && message[0] != '\0';
	if (r->outcome == BAD) {
		/* already decided */
	} else if (code < 0) {
		r->outcome = BAD;
		snprintf(r->detail, sizeof r->detail,
		         "hang: tally query --timeout %u still running after %u ms",
		         (unsigned)QUERY_TIMEOUT_MS, (unsigned)HANG_MS);
	} else if (code == 0) {
		r->outcome = COMPLETED; /* checked against the truth at the end */
		r->answer = slurp(out);
	} else if ((code == 3 || code == 4 || code == 5) && has_message) {
		r->outcome = FAILED_CLEANLY;
		r->client_timeout = code == 4 && strstr(message, "Timed out") != NULL;
		size_t len = strcspn(message, "\n");
		snprintf(r->detail, sizeof r->detail, "%.*s", (int)(len < 200 ? len : 200),
		         message);
	} else {
		r->outcome = BAD;
		snprintf(r->detail, sizeof r->detail, "exit %d%s%.150s", code,
		         has_message ? ": " : " with no message", has_message ? message : "");
	}
	free(message);
	char *nl = strchr(r->detail, '\n');
	if (nl != NULL)
		*nl = '\0';
}

/* ---- the truth, over the contributors the log names ---- */

/* The contributors of the log entry of this query id (hex). */
static int
logged_contributors(sqlite3 *db, const char *qid_hex, struct tly_idlist *out, char *why,
                    size_t why_len)
{
	uint8_t id[TLY_QUERY_ID_BYTES];
	size_t len = 0;
	sqlite3_stmt *st = NULL;
	int found = 0;

	if (sodium_hex2bin(id, sizeof id, qid_hex, strlen(qid_hex), NULL, &len, NULL) != 0 ||
	    len != sizeof id) {
		snprintf(why, why_len, "the release has no valid query_id");
		return 0;
	}
	if (sqlite3_prepare_v2(db, "SELECT bytes, outcome FROM entries WHERE query_id = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_blob(st, 1, id, sizeof id, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		struct tly_translog_entry e;
		const uint8_t *bytes = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		if (sqlite3_column_int(st, 1) != TLY_TRANSLOG_RELEASED) {
			snprintf(why, why_len, "released to the planner, logged as not released");
		} else if (tly_translog_entry_decode(&e, bytes, n, why, why_len) == TLY_OK) {
			out->count = e.contributors.count;
			out->ids = malloc((e.contributors.count + 1) * sizeof *out->ids);
			if (out->ids != NULL) {
				memcpy(out->ids, e.contributors.ids,
				       e.contributors.count * sizeof *out->ids);
				found = 1;
			}
			tly_translog_entry_fini(&e);
		}
	} else {
		snprintf(why, why_len, "released to the planner but missing from the log");
	}
	sqlite3_finalize(st);
	return found;
}

struct cell_truth {
	long count;
	long sum;
};

/* COUNT(*) and SUM(clipped column) of one cell over one site's file. */
static int
site_cell(sqlite3 *db, const struct template *tp, json_t *group, json_t *edges,
          struct cell_truth *t, char *why, size_t why_len)
{
	char sql[2048];
	const char *key;
	json_t *value;
	size_t used;
	int bind = 0;
	long bin_lo = 0, bin_hi = 0;
	int bin_first = 0, bin_last = 0;

	used = (size_t)snprintf(sql, sizeof sql,
	                        "SELECT COUNT(*), SUM(%s%s%s) FROM patients "
	                        "WHERE COALESCE(opted_out, 0) = 0 AND (%s)",
	                        tp->column ? "MIN(MAX(\"" : "0", tp->column ? tp->column : "",
	                        tp->column ? "\", ?1), ?2)" : "", tp->filter);
	if (tp->column != NULL)
		used += (size_t)snprintf(sql + used, sizeof sql - used, " AND \"%s\" IS NOT NULL",
		                         tp->column);
	json_object_foreach(group, key, value)
	{
		if (strcmp(key, "bin") == 0) {
			const char *label = json_string_value(value);
			size_t ne = json_array_size(edges);
			if (label == NULL || sscanf(label, "[%ld, %ld", &bin_lo, &bin_hi) != 2 ||
			    ne < 2) {
				snprintf(why, why_len, "bad bin label");
				return 0;
			}
			bin_first = bin_lo == json_integer_value(json_array_get(edges, 0));
			bin_last = bin_hi == json_integer_value(json_array_get(edges, ne - 1));
			continue;
		}
		if (strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(key)) {
			snprintf(why, why_len, "bad group column %s", key);
			return 0;
		}
		used += (size_t)snprintf(sql + used, sizeof sql - used, " AND \"%s\" = ?%d", key,
		                         3 + bind++);
	}
	if (tp->measure == HISTOGRAM) {
		if (!bin_first)
			used += (size_t)snprintf(sql + used, sizeof sql - used,
			                         " AND \"%s\" >= %ld", tp->column, bin_lo);
		if (!bin_last)
			used += (size_t)snprintf(sql + used, sizeof sql - used, " AND \"%s\" < %ld",
			                         tp->column, bin_hi);
	}
	if (used >= sizeof sql)
		return 0;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, why_len, "truth SQL: %s", sqlite3_errmsg(db));
		return 0;
	}
	if (tp->column != NULL) {
		sqlite3_bind_int64(st, 1, tp->lo);
		sqlite3_bind_int64(st, 2, tp->hi);
	}
	bind = 0;
	json_object_foreach(group, key, value)
	{
		if (strcmp(key, "bin") != 0)
			sqlite3_bind_text(st, 3 + bind++, json_string_value(value), -1,
			                  SQLITE_STATIC);
	}
	int ok = sqlite3_step(st) == SQLITE_ROW;
	if (ok) {
		t->count += (long)sqlite3_column_int64(st, 0);
		t->sum += (long)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return ok;
}

struct coverage {
	unsigned long covered, cells;
};

/* One released figure {value, ci95} against the truth; 0 when it is
 * further than WIDTHS half-widths away. */
static int
figure_ok(json_t *fig, long truth, double half, struct coverage *cov, char *why, size_t why_len,
          const char *what)
{
	json_t *value = json_object_get(fig, "value");
	json_t *ci = json_object_get(fig, "ci95");
	if (!json_is_number(value) || json_array_size(ci) != 2) {
		snprintf(why, why_len, "%s: no value or ci95", what);
		return 0;
	}
	double v = json_number_value(value);
	double lo = json_number_value(json_array_get(ci, 0));
	double hi = json_number_value(json_array_get(ci, 1));
	cov->cells++;
	cov->covered += (double)truth >= lo && (double)truth <= hi;
	if (v - (double)truth > WIDTHS * half || (double)truth - v > WIDTHS * half) {
		snprintf(why, why_len, "%s: released %.0f, truth %ld, 95%% half-width %.0f", what,
		         v, truth, half);
		return 0;
	}
	return 1;
}

/* Check one released answer; 1 when every cell is right. */
static int
check_answer(struct record *r, sqlite3 *logdb, sqlite3 **sitedb, struct coverage *cov)
{
	const struct template *tp = &templates[r->template];
	char why[200] = "";
	json_error_t err;
	json_t *result = json_loads(r->answer ? r->answer : "", 0, &err);
	struct tly_idlist contributors = {0, NULL};
	int ok = 0;

	if (result == NULL) {
		snprintf(r->detail, sizeof r->detail, "exit 0 without a JSON answer");
		return 0;
	}
	const char *qid = json_string_value(json_object_get(result, "query_id"));
	double half = json_number_value(
	    json_object_get(json_object_get(result, "privacy"), "ci95_half_width"));
	json_t *edges = json_object_get(json_object_get(result, "measure"), "edges");
	if (qid == NULL || !logged_contributors(logdb, qid, &contributors, why, sizeof why))
		goto out;
	if (json_integer_value(json_object_get(result, "contributors")) !=
	    (json_int_t)contributors.count) {
		snprintf(why, sizeof why, "the answer and the log disagree on the contributors");
		goto out;
	}
	size_t i;
	json_t *cell;
	json_array_foreach(json_object_get(result, "cells"), i, cell)
	{
		struct cell_truth t = {0, 0};
		json_t *group = json_object_get(cell, "group");
		for (uint32_t c = 0; c < contributors.count; c++)
			if (!site_cell(sitedb[contributors.ids[c]], tp, group, edges, &t, why,
			               sizeof why))
				goto out;
		char what[64];
		snprintf(what, sizeof what, "cell %zu", i);
		t.count += truth_skew;
		t.sum += truth_skew;
		if (tp->measure == MEAN) {
			if (!figure_ok(json_object_get(cell, "sum"), t.sum, half, cov, why,
			               sizeof why, what) ||
			    !figure_ok(json_object_get(cell, "count"), t.count, half, cov, why,
			               sizeof why, what))
				goto out;
		} else if (!figure_ok(cell, tp->measure == SUM ? t.sum : t.count, half, cov, why,
		                      sizeof why, what)) {
			goto out;
		}
	}
	ok = json_array_size(json_object_get(result, "cells")) > 0;
	if (!ok)
		snprintf(why, sizeof why, "no cells");
out:
	if (!ok)
		snprintf(r->detail, sizeof r->detail, "wrong answer: %s", why);
	free(contributors.ids);
	json_decref(result);
	return ok;
}

/* ---- post-checks: ledgers and the log (also --check DIR) ---- */

struct charge {
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	uint8_t query_hash[TLY_HASH_BYTES];
	uint8_t mechanism;
	struct tly_fraction amount;
};

struct node_ledger {
	uint32_t id;
	size_t count;
	struct charge *charges;
};

static unsigned problems, under_counts;

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
problem(const char *fmt, ...)
{
	va_list ap;
	fputs("  FAILED: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	problems++;
}

/* One dataset's running sum of charges per mechanism. */
struct dataset_sum {
	char name[TLY_SPEC_NAME_MAX + 1];
	struct tly_fraction epsilon, rho;       /* summed from the charges */
	struct tly_fraction last_eps, last_rho; /* as the last charge states */
};

static int
same(struct tly_fraction a, struct tly_fraction b)
{
	return tly_ledger_fraction_cmp(a, b) == 0;
}

/* Verify node's ledger, load its charges, and check its totals. */
static void
load_ledger(const struct tly_party *party, struct node_ledger *nl)
{
	char path[PATH_MAX];
	struct tly_ledger *ledger = NULL;
	char err[256];
	struct tly_ledger_report report;
	struct dataset_sum sums[8];
	size_t datasets = 0;

	nl->id = party->id;
	path_of(path, sizeof path, "%s/site-%u/state/ledger.db", dir, party->id);
	if (access(path, F_OK) != 0) {
		printf("ledger of node %u: none (never charged)\n", party->id);
		return;
	}
	if (tly_ledger_open_readonly(&ledger, path, err, sizeof err) != TLY_OK) {
		problem("ledger of node %u: %s", party->id, err);
		return;
	}
	if (tly_ledger_verify(ledger, party->sign_pk, &report) != TLY_OK) {
		problem("ledger of node %u does not verify: entry %" PRIu64 ": %s", party->id,
		        report.bad_seq, report.reason);
		goto out;
	}
	nl->charges = calloc(report.entries + 1, sizeof *nl->charges);
	for (uint64_t seq = 1; nl->charges != NULL && seq <= report.entries; seq++) {
		struct tly_ledger_entry e;
		if (tly_ledger_entry_get(ledger, seq, &e) != TLY_OK) {
			problem("ledger of node %u: entry %" PRIu64 " unreadable", party->id, seq);
			goto out;
		}
		if (e.kind != TLY_LEDGER_CHARGE)
			continue;
		struct charge *c = &nl->charges[nl->count++];
		memcpy(c->query_id, e.query_id, sizeof c->query_id);
		memcpy(c->query_hash, e.query_hash, sizeof c->query_hash);
		c->mechanism = e.mechanism;
		c->amount = e.amount;
		size_t d = 0;
		while (d < datasets && strcmp(sums[d].name, e.dataset) != 0)
			d++;
		if (d == datasets) {
			if (datasets == 8) {
				problem("ledger of node %u: too many datasets", party->id);
				goto out;
			}
			memset(&sums[d], 0, sizeof sums[d]);
			snprintf(sums[d].name, sizeof sums[d].name, "%s", e.dataset);
			sums[d].epsilon = sums[d].rho = (struct tly_fraction){0, 1};
			datasets++;
		}
		struct tly_fraction *total =
		    e.mechanism == TLY_MECH_LAPLACE ? &sums[d].epsilon : &sums[d].rho;
		if (tly_ledger_fraction_add(*total, e.amount, total) != TLY_OK) {
			problem("ledger of node %u: the charges overflow", party->id);
			goto out;
		}
		sums[d].last_eps = e.epsilon_spent;
		sums[d].last_rho = e.rho_spent;
	}
	/* The ledger's totals are the sum of its charges. */
	for (size_t d = 0; d < datasets; d++) {
		struct tly_budget_spent spent;
		char a[64], b[64];
		/* synth's configs: each dataset is its own population */
		if (tly_ledger_spent(ledger, sums[d].name, &spent) != TLY_OK) {
			problem("ledger of node %u: cannot read the spend of %s", party->id,
			        sums[d].name);
			continue;
		}
		struct tly_fraction eps = spent.epsilon, rho = spent.rho;
		if (!same(eps, sums[d].epsilon) || !same(sums[d].last_eps, sums[d].epsilon)) {
			tly_ledger_fraction_format(a, sizeof a, eps);
			tly_ledger_fraction_format(b, sizeof b, sums[d].epsilon);
			problem("ledger of node %u, %s: epsilon spent %s, charges sum to %s",
			        party->id, sums[d].name, a, b);
		}
		if (!same(rho, sums[d].rho) || !same(sums[d].last_rho, sums[d].rho)) {
			tly_ledger_fraction_format(a, sizeof a, rho);
			tly_ledger_fraction_format(b, sizeof b, sums[d].rho);
			problem("ledger of node %u, %s: rho spent %s, charges sum to %s", party->id,
			        sums[d].name, a, b);
		}
		tly_ledger_fraction_format(a, sizeof a, sums[d].epsilon);
		tly_ledger_fraction_format(b, sizeof b, sums[d].rho);
		printf("ledger of node %u: verifies; %" PRIu64 " entries, %zu charges; %s: "
		       "epsilon %s, rho %s (= the sum of its charges)\n",
		       party->id, report.entries, nl->count, sums[d].name, a, b);
	}
	if (datasets == 0)
		printf("ledger of node %u: verifies; %" PRIu64 " entries, no charges\n", party->id,
		       report.entries);
out:
	tly_ledger_close(ledger);
}

static const struct charge *
find_charge(const struct node_ledger *nl, const uint8_t query_id[static TLY_QUERY_ID_BYTES])
{
	for (size_t i = 0; i < nl->count; i++)
		if (memcmp(nl->charges[i].query_id, query_id, TLY_QUERY_ID_BYTES) == 0)
			return &nl->charges[i];
	return NULL;
}

/* Node `node` must have charged at least `amount` for this entry's query. */
static void
must_have_charged(const struct node_ledger *ledgers, size_t n, uint32_t node,
                  const struct tly_translog_entry *e, uint8_t mechanism, struct tly_fraction amount,
                  const char *as)
{
	char qid[2 * TLY_QUERY_ID_BYTES + 1], a[64], b[64];
	const struct node_ledger *nl = NULL;
	for (size_t i = 0; i < n; i++)
		if (ledgers[i].id == node)
			nl = &ledgers[i];
	sodium_bin2hex(qid, sizeof qid, e->query_id, TLY_QUERY_ID_BYTES);
	const struct charge *c = nl ? find_charge(nl, e->query_id) : NULL;
	if (c == NULL) {
		under_counts++;
		problem("UNDER-COUNT: log entry %" PRIu64 " (query %s) names node %u as %s, but "
		        "its ledger has no charge for the query",
		        e->seq, qid, node, as);
		return;
	}
	if (memcmp(c->query_hash, e->query_hash, TLY_HASH_BYTES) != 0 ||
	    c->mechanism != mechanism || tly_ledger_fraction_cmp(c->amount, amount) < 0) {
		under_counts++;
		tly_ledger_fraction_format(a, sizeof a, c->amount);
		tly_ledger_fraction_format(b, sizeof b, amount);
		problem("UNDER-COUNT: log entry %" PRIu64 " (query %s): node %u (%s) charged %s "
		        "(mechanism %u) for a cost of %s (mechanism %u)%s",
		        e->seq, qid, node, as, a, c->mechanism, b, mechanism,
		        memcmp(c->query_hash, e->query_hash, TLY_HASH_BYTES)
		            ? ", another query hash"
		            : "");
	}
}

/* Every entry of the log against the ledgers. */
static void
check_log(const struct node_ledger *ledgers, size_t n, const struct tly_roster *roster)
{
	char path[PATH_MAX], why[300];
	struct tly_translog_report report;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned long released = 0, checked = 0, receipts = 0;

	path_of(path, sizeof path, "%s/coordinator/state/transparency.db", dir);
	memset(&report, 0, sizeof report);
	if (tly_translog_verify_file(path, roster, &report) != TLY_OK)
		problem("the transparency log does not verify: entry %" PRIu64 ": %s",
		        report.bad_seq, report.reason);
	else
		printf("transparency log: verifies; %" PRIu64 " entries (%" PRIu64
		       " released, %" PRIu64 " aborted, %" PRIu64 " refused)\n",
		       report.entries, report.released, report.aborted, report.refused);
	tly_translog_report_fini(&report);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT bytes FROM entries ORDER BY seq", -1, &st, NULL) !=
	        SQLITE_OK) {
		problem("%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct tly_translog_entry e;
		struct tly_translog_spec_summary sum;
		const uint8_t *bytes = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		if (tly_translog_entry_decode(&e, bytes, len, why, sizeof why) != TLY_OK) {
			problem("a log entry does not decode: %s", why);
			continue;
		}
		if (e.outcome == TLY_TRANSLOG_RELEASED) {
			released++;
			if (tly_translog_spec_summary(e.spec, e.spec_len, &sum) != TLY_OK) {
				problem("log entry %" PRIu64 ": unreadable spec", e.seq);
			} else {
				struct tly_fraction cost = {sum.privacy_num, sum.privacy_den};
				for (uint32_t c = 0; c < e.contributors.count; c++, checked++)
					must_have_charged(ledgers, n, e.contributors.ids[c], &e,
					                  sum.mechanism, cost, "a contributor");
			}
		}
		/* Whoever the entry carries a receipt of was charged. */
		for (size_t i = 0; i < e.receipt_count; i++) {
			struct tly_ledger_receipt rc;
			if (tly_ledger_receipt_decode(&rc, e.receipts[i].bytes,
			                              e.receipts[i].len) != TLY_OK) {
				problem("log entry %" PRIu64 ": a receipt does not decode", e.seq);
				continue;
			}
			receipts++;
			must_have_charged(ledgers, n, rc.node_id, &e, rc.mechanism, rc.amount,
			                  "holder of a receipt");
		}
		tly_translog_entry_fini(&e);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	printf("under-count check: %lu releases, %lu contributor charges and %lu receipts checked "
	       "against the ledgers: %s\n",
	       released, checked, receipts, under_counts ? "UNDER-COUNTS FOUND" : "no under-count");
}

/* The checks of --check; the number of problems found. */
static unsigned
post_checks(void)
{
	char path[PATH_MAX], why[300];
	struct tly_roster roster;
	unsigned before = problems;

	path_of(path, sizeof path, "%s/registry.ini", dir);
	if (tly_registry_load(&roster, path, why, sizeof why) != TLY_OK) {
		problem("registry: %s", why);
		return problems - before;
	}
	struct node_ledger *ledgers = calloc(roster.count + 1, sizeof *ledgers);
	for (size_t i = 0; ledgers != NULL && i < roster.count; i++)
		load_ledger(&roster.parties[i], &ledgers[i]);
	if (ledgers != NULL)
		check_log(ledgers, roster.count, &roster);
	for (size_t i = 0; ledgers != NULL && i < roster.count; i++)
		free(ledgers[i].charges);
	free(ledgers);
	tly_roster_fini(&roster);
	return problems - before;
}

/* ---- the run ---- */

struct options {
	unsigned queries, people, max_delay;
	unsigned long seed;
	int keep;
	const char *dir, *csv, *check;
};

static int
parse(int argc, char **argv, struct options *o)
{
	static const struct option options[] = {
	    {"queries", required_argument, NULL, 'q'}, {"seed", required_argument, NULL, 's'},
	    {"sites", required_argument, NULL, 'n'},   {"people", required_argument, NULL, 'm'},
	    {"dir", required_argument, NULL, 'd'},     {"keep", no_argument, NULL, 'k'},
	    {"csv", required_argument, NULL, 'c'},     {"max-delay", required_argument, NULL, 'D'},
	    {"check", required_argument, NULL, 'C'},   {"skew", required_argument, NULL, 'K'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	int c;
	*o = (struct options){200, 6000, 600, 1, 0, NULL, NULL, NULL};
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'q':
			o->queries = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->seed = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			sites = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			o->people = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'k':
			o->keep = 1;
			break;
		case 'c':
			o->csv = optarg;
			break;
		case 'D':
			o->max_delay = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'C':
			o->check = optarg;
			break;
		case 'K':
			truth_skew = strtol(optarg, NULL, 10);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			return 0;
		}
	}
	if (optind != argc || o->queries == 0 || sites < 4 || sites > MAX_SITES ||
	    o->people < sites * 10) {
		fprintf(stderr, "faults: %s\n",
		        optind != argc                   ? "unexpected argument"
		        : o->queries == 0                ? "--queries must be at least 1"
		        : sites < 4 || sites > MAX_SITES ? "--sites must be 4..50"
		                                         : "--people must be at least 10 per site");
		return 0;
	}
	return 1;
}

static int
setup(const struct options *o)
{
	char seed[32], count[16], people[32], log[PATH_MAX];
	if (o->dir != NULL) {
		path_of(dir, sizeof dir, "%s", o->dir);
	} else {
		path_of(dir, sizeof dir, "/tmp/tally-faults-XXXXXX");
		if (mkdtemp(dir) == NULL) {
			fprintf(stderr, "faults: cannot make a folder under /tmp\n");
			return 0;
		}
	}
	snprintf(seed, sizeof seed, "%lu", o->seed);
	snprintf(count, sizeof count, "%u", sites);
	snprintf(people, sizeof people, "%u", o->people);
	path_of(log, sizeof log, "%s.setup.log", dir);
	const char *const argv[] = {"tally", "demo",     "--serve", "--dir",  dir,  "--sites",
	                            count,   "--people", people,    "--seed", seed, NULL};
	int code = run(argv, log, log, 180000);
	if (code != 0) {
		fprintf(stderr, "faults: tally demo --serve failed (exit %d); see %s\n", code, log);
		return 0;
	}
	for (unsigned i = 0; i <= sites; i++) {
		daemon_pid[i] = read_pid(i);
		if (daemon_pid[i] <= 1) {
			fprintf(stderr, "faults: no pid file for daemon %u\n", i);
			return 0;
		}
	}
	path_of(log, sizeof log, "%s/faults", dir);
	mkdir(log, 0700);
	return load_api() && write_specs() && wait_ready(READY_MS);
}

/* SIGTERM every daemon; the ones that did not stop cleanly. */
static unsigned
stop_all(void)
{
	unsigned unclean = 0;
	for (unsigned i = 0; i <= sites; i++)
		kill(daemon_pid[i], SIGTERM);
	for (unsigned i = 0; i <= sites; i++) {
		int code;
		char name[32];
		daemon_name(i, name, sizeof name);
		if (!wait_gone(i, STOP_MS, &code)) {
			problem("%s did not stop within %u ms of SIGTERM", name, (unsigned)STOP_MS);
			kill(daemon_pid[i], SIGKILL);
			wait_gone(i, 10000, &code);
			unclean++;
		} else if (daemon_mine[i] && code != 0) {
			problem("%s exited %d on SIGTERM", name, code);
			unclean++;
		}
		char pidfile[PATH_MAX];
		path_of(pidfile, sizeof pidfile, "%s/run/%s.pid", dir, name);
		unlink(pidfile);
	}
	return unclean;
}

static int
by_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return (a > b) - (a < b);
}

static uint64_t
percentile(uint64_t *sorted, size_t n, unsigned p)
{
	if (n == 0)
		return 0;
	size_t at = (n * p + 99) / 100;
	return sorted[at == 0 ? 0 : at - 1];
}

static void
write_csv(const char *path, const struct record *r, unsigned n)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		problem("cannot write %s", path);
		return;
	}
	fprintf(f, "query,kind,victim,victim_role,kill_delay_ms,outcome,exit_code,latency_ms,"
	           "detail\n");
	for (unsigned q = 0; q < n; q++) {
		char victim[32] = "";
		if (r[q].role != ROLE_NONE)
			daemon_name(r[q].victim, victim, sizeof victim);
		char detail[256];
		size_t j = 0;
		for (const char *s = r[q].detail; *s && j + 2 < sizeof detail; s++)
			detail[j++] = *s == '"' ? '\'' : *s;
		detail[j] = '\0';
		fprintf(f, "%u,%s,%s,%s,%u,%s,%d,%" PRIu64 ",\"%s\"\n", q + 1,
		        templates[r[q].template].kind, victim, role_names[r[q].role],
		        r[q].role != ROLE_NONE ? r[q].delay_ms : 0, outcome_names[r[q].outcome],
		        r[q].exit_code, r[q].latency_ms, detail);
	}
	fclose(f);
}

/* Per role: [role][outcome]. */
static void
summarise(const struct record *r, unsigned n, const struct coverage *cov, uint64_t seconds)
{
	unsigned table[4][3] = {{0}};
	uint64_t *lat = calloc(n + 1, sizeof *lat);
	size_t nl;
	for (unsigned q = 0; q < n; q++)
		table[r[q].role][r[q].outcome]++;
	printf("\n%u queries in %" PRIu64 " s\n", n, seconds);
	printf("  %-12s %10s %15s %5s\n", "victim", "completed", "failed_cleanly", "bad");
	unsigned tot[3] = {0, 0, 0};
	for (int role = 0; role < 4; role++) {
		printf("  %-12s %10u %15u %5u\n", role_names[role], table[role][0], table[role][1],
		       table[role][2]);
		for (int o = 0; o < 3; o++)
			tot[o] += table[role][o];
	}
	printf("  %-12s %10u %15u %5u\n", "total", tot[0], tot[1], tot[2]);
	for (int role = -1; lat != NULL && role < 4; role++) {
		nl = 0;
		for (unsigned q = 0; q < n; q++)
			if (r[q].outcome == COMPLETED && (role < 0 || r[q].role == (enum role)role))
				lat[nl++] = r[q].latency_ms;
		qsort(lat, nl, sizeof *lat, by_u64);
		printf("completed latency (%s): %zu queries, p50 %" PRIu64 " ms, p99 %" PRIu64
		       " ms, max %" PRIu64 " ms\n",
		       role < 0 ? "all" : role_names[role], nl, percentile(lat, nl, 50),
		       percentile(lat, nl, 99), nl ? lat[nl - 1] : 0);
	}
	unsigned kills = 0, late = 0, timeouts = 0;
	for (unsigned q = 0; q < n; q++)
		timeouts += r[q].client_timeout != 0;
	printf("failed cleanly only at the planner's own --timeout (%u ms, exit 4): %u\n",
	       (unsigned)QUERY_TIMEOUT_MS, timeouts);
	for (unsigned q = 0; q < n; q++) {
		kills += r[q].role != ROLE_NONE;
		late += r[q].role != ROLE_NONE && r[q].query_had_ended;
	}
	printf("kills: %u, of which %u landed while the query was running and %u after it "
	       "had ended\n",
	       kills, kills - late, late);
	free(lat);
	printf("interval coverage: %lu of %lu released figures (%.1f%%) have the truth inside "
	       "their stated 95%% interval\n",
	       cov->covered, cov->cells,
	       cov->cells ? 100.0 * (double)cov->covered / (double)cov->cells : 0.0);
	for (unsigned q = 0; q < n; q++)
		if (r[q].outcome == BAD)
			printf("  BAD query %u (%s, victim %s): %s\n", q + 1,
			       templates[r[q].template].kind, role_names[r[q].role], r[q].detail);
}

static int
check_answers(struct record *records, unsigned n, struct coverage *cov)
{
	char path[PATH_MAX];
	sqlite3 *logdb = NULL, *sitedb[MAX_SITES + 1] = {NULL};
	int ok = 1;

	path_of(path, sizeof path, "%s/coordinator/state/transparency.db", dir);
	if (sqlite3_open_v2(path, &logdb, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		problem("cannot open %s", path);
		ok = 0;
	}
	for (unsigned s = 1; ok && s <= sites; s++) {
		path_of(path, sizeof path, "%s/site-%u/patients.db", dir, s);
		if (sqlite3_open_v2(path, &sitedb[s], SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
			problem("cannot open %s", path);
			ok = 0;
		}
	}
	for (unsigned q = 0; ok && q < n; q++)
		if (records[q].outcome == COMPLETED &&
		    !check_answer(&records[q], logdb, sitedb, cov))
			records[q].outcome = BAD;
	for (unsigned s = 0; s <= sites; s++)
		sqlite3_close(sitedb[s]);
	sqlite3_close(logdb);
	return ok;
}

int
main(int argc, char **argv)
{
	struct options o;
	const char *env = getenv("TALLY_BIN");

	if (env != NULL)
		snprintf(bin, sizeof bin, "%s", env);
	if (!parse(argc, argv, &o)) {
		fputs(usage, stderr);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	if (o.check != NULL) {
		path_of(dir, sizeof dir, "%s", o.check);
		unsigned found = post_checks();
		printf("faults --check: %s\n", found ? "FAILED" : "ok");
		return found ? 1 : 0;
	}
	/* Daemons that `tally demo` starts become our children when it exits,
	 * so that a crash is seen with its exit status. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
		for (unsigned i = 0; i <= MAX_SITES; i++)
			daemon_mine[i] = 1;
	rng_state = o.seed * 0x9e3779b97f4a7c15u + 1;
	uint64_t began = now_ms();
	if (!setup(&o)) {
		fprintf(stderr, "faults: setup failed in %s\n", dir[0] ? dir : "(no folder)");
		return 1;
	}
	printf("faults: %u queries against %u trusts in %s (seed %lu)\n", o.queries, sites, dir,
	       o.seed);
	fflush(stdout);

	struct record *records = calloc(o.queries, sizeof *records);
	unsigned crashes = 0;
	if (records == NULL)
		return 1;
	for (unsigned q = 0; q < o.queries; q++) {
		struct record *r = &records[q];
		char deaths[200];
		r->template = q % TEMPLATES;
		r->role = below(3) == 0 ? ROLE_NONE : (enum role)(1 + below(3));
		r->delay_ms = below(o.max_delay + 1);
		ask(q, r);
		unsigned died = unexpected_deaths(deaths, sizeof deaths);
		if (died > 0) {
			crashes += died;
			r->outcome = BAD;
			snprintf(r->detail, sizeof r->detail, "crash: %s", deaths);
		}
		if (!wait_ready(READY_MS)) {
			r->outcome = BAD;
			snprintf(r->detail, sizeof r->detail,
			         "the federation did not recover within %u ms", (unsigned)READY_MS);
			printf("query %u: the federation did not recover; stopping\n", q + 1);
			o.queries = q + 1;
			break;
		}
		if ((q + 1) % 10 == 0 || r->outcome == BAD) {
			printf("query %u/%u: %s (%s, victim %s, exit %d, %" PRIu64 " ms)%s%s\n",
			       q + 1, o.queries, outcome_names[r->outcome],
			       templates[r->template].kind, role_names[r->role], r->exit_code,
			       r->latency_ms, r->outcome == BAD ? ": " : "",
			       r->outcome == BAD ? r->detail : "");
			fflush(stdout);
		}
	}
	uint64_t seconds = (now_ms() - began) / 1000;

	printf("\nstopping the federation (SIGTERM)\n");
	stop_all();
	char out[PATH_MAX];
	path_of(out, sizeof out, "%s/faults/audit.txt", dir);
	const char *const audit[] = {"tally", "audit", "verify", "--dir", dir, NULL};
	int audit_code = run(audit, out, out, 300000);
	if (audit_code != 0)
		problem("tally audit verify --dir %s: exit %d (see %s)", dir, audit_code, out);
	else
		printf("tally audit verify --dir %s: ok\n", dir);
	post_checks();
	struct coverage cov = {0, 0};
	check_answers(records, o.queries, &cov);

	char csv[PATH_MAX];
	path_of(csv, sizeof csv, "%s/faults/queries.csv", dir);
	write_csv(o.csv != NULL ? o.csv : csv, records, o.queries);
	summarise(records, o.queries, &cov, seconds);
	unsigned bad = 0;
	for (unsigned q = 0; q < o.queries; q++)
		bad += records[q].outcome == BAD;
	int ok = bad == 0 && problems == 0;
	printf("crashes of daemons that were not killed: %u\npost-check problems: %u\n"
	       "faults: %s (CSV %s)\n",
	       crashes, problems, ok ? "PASSED" : "FAILED", o.csv != NULL ? o.csv : csv);
	for (unsigned q = 0; q < o.queries; q++)
		free(records[q].answer);
	free(records);
	if (ok && !o.keep && o.dir == NULL) {
		char cmd[PATH_MAX + 32];
		path_of(cmd, sizeof cmd, "rm -rf %s %s.setup.log", dir, dir);
		if (system(cmd) != 0)
			fprintf(stderr, "faults: could not remove %s\n", dir);
	} else if (!ok) {
		printf("everything is kept in %s\n", dir);
	}
	return ok ? 0 : 1;
}
