/*
 * soak - a real federation under sustained load (`make soak`, not part of
 * `make test`): NODES tally-node processes, a coordinator and PLANNERS
 * concurrent planner clients (each a loop of `tally query` processes) for
 * MINUTES of mixed queries. Every INTERVAL seconds it samples VmRSS and the
 * open descriptors of the coordinator and every node; it records every
 * query's latency and exit code; at the end it judges growth, stops the
 * federation with SIGTERM and runs `tally audit verify`. See usage[].
 *
 * Budgets: the nodes of `tally demo` allow (epsilon 20, delta 1e-6) per population,
 * a few hundred queries. Tiny per-query epsilons would make the load
 * unrepresentative (the nodes' exact samplers cost O(1/epsilon) per cell:
 * Polya rejection and Poisson draws), so the soak lets `tally demo --serve`
 * lay the federation out, stops it, raises epsilon_total in
 * every DIR/site-K/node.conf (per-query caps unchanged) and starts the
 * coordinator and the nodes again itself, as its own children, so that a
 * death is seen by waitpid at once.
 *
 * Negative control: a "canary" process (this program with --canary) is
 * sampled and judged exactly like the daemons; it leaks twice the RSS
 * threshold after warm-up and opens a descriptor every 10 s. The run fails
 * if the canary is NOT flagged, so a blind check cannot pass silently.
 *
 * Hostile phase (issue 12, Done; --no-hostile, --events): the second half
 * of the time after warm-up adds a connection flood, a query flood from a
 * second planner, cost bombs and the heartbeat recipe beside the honest
 * planners; see usage[] and docs/SECURITY.md. A watchdog fails the run
 * when the coordinator stops answering.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/query.h"
#include "crypto/rng.h"
#include "net/transport.h"

extern char **environ;

enum {
	MAX_NODES = 50,
	MAX_PROCS = MAX_NODES + 2, /* coordinator, nodes, canary */
	MAX_PLANNERS = 200,
	RSS_FLOOR_KB = 4096,   /* growth below 4 MB is never a finding */
	RSS_FRACTION_PCT = 10, /* ... nor below 10% of the warm-up RSS */
	READY_TIMEOUT_S = 240,
	DRAIN_TIMEOUT_S = 300,
	QUERY_TIMEOUT_MS = 900000,
	/* The hostile phase (--no-hostile leaves it out). */
	FLOOD_API_CONNS = 4000, /* idle TCP connections on the API port */
	FLOOD_HUB_CONNS = 2000, /* ... and on the node hub port */
	FLOOD_READY_TIMEOUT_S = 180,
	FLOODER_THREADS = 8,       /* the query-flood planner's parallel clients */
	FLOODER_TIMEOUT_MS = 2000, /* each gives up after this and posts again */
	COST_BOMBS = 5,            /* over the hostile span */
	RECOVERY_GIVE_UP_S = 120,
	STALL_MIN_S = 120,         /* no honest query finished for this long, */
	STALL_LATENCY_FACTOR = 10, /* nor for 10 x the slowest so far: stalled */
	HONEST_FAIL_PCT_MAX = 5,   /* honest failures allowed under a flood */
};

/* Which hostile event is active: a column of samples.csv and latency.csv. */
enum phase { PHASE_NONE, PHASE_CONN_FLOOD, PHASE_QUERY_FLOOD, PHASE_RECIPE, PHASES };
static const char *const phase_names[PHASES] = {"none", "conn_flood", "query_flood", "recipe"};

static const char usage[] =
    "usage: soak [--minutes M] [--nodes N] [--planners P] [--out DIR]\n"
    "            [--people-per-site K] [--seed S] [--interval S] [--warmup S]\n"
    "            [--dir DIR] [--keep] [--no-canary] [--no-hostile]\n"
    "\n"
    "Start a federation with `tally demo --serve` (TALLY_BIN names the folder of\n"
    "tally, tally-node and tally-coordinator), raise the nodes' total budgets,\n"
    "restart it, and run P concurrent planners (loops of `tally query`) for M\n"
    "minutes of mixed queries. Samples RSS and descriptors of every daemon.\n"
    "\n"
    "  --minutes M          load duration, may be fractional (default 10)\n"
    "  --nodes N            trusts, 3..50 (default 50)\n"
    "  --planners P         concurrent planner clients (default 20)\n"
    "  --out DIR            samples.csv, latency.csv, summary.csv, logs (default build/soak)\n"
    "  --people-per-site K  synthetic people per trust (default 1000)\n"
    "  --seed S             data and query-mix seed (default 7)\n"
    "  --interval S         sampling period in seconds (default 5)\n"
    "  --warmup S           seconds of load before growth is judged\n"
    "                       (default max(60, 10% of the run), at most half of it)\n"
    "  --dir DIR            the federation's folder (default a new one under /tmp)\n"
    "  --keep               keep the federation's folder afterwards\n"
    "  --no-canary          leave out the leaking negative control\n"
    "  --no-hostile         leave out the hostile phase (below)\n"
    "  --events LIST        its events, of conn_flood, query_flood, recipe,\n"
    "                       cost_bomb (default all four)\n"
    "\n"
    "Hostile phase (the second half of the run after warm-up, beside the honest\n"
    "planners): a connection flood (tests/helpers/flood, idle TCP connections on\n"
    "the API and the node hub ports), a query flood from a second planner\n"
    "(\"flooder\", over [api] planner_rate / planner_queue_max: 429s), a cost\n"
    "bomb (a query above [policy] max_query_work) every fifth of the span, and\n"
    "the heartbeat recipe (SIGSTOP a node, start a query, SIGKILL the\n"
    "coordinator, SIGCONT the node, restart the coordinator; time until the\n"
    "node is back). hostile.csv has one row per event, phases.csv the spans,\n"
    "phases.gp the shading for bench/plot_soak.gp. RSS growth is judged on the\n"
    "honest half only (after warm-up, before the hostile phase).\n"
    "\n"
    "Fails (exit 1) when a daemon dies or stops uncleanly, a query exits with an\n"
    "unexpected code or prints no result, a daemon holds more descriptors when\n"
    "idle after the load than when idle before it, the least-squares RSS trend\n"
    "after warm-up grows by more than max(4 MB, 10%), the canary is not\n"
    "flagged, or `tally audit verify` fails; with the hostile phase also when\n"
    "more than 5% of honest queries fail during a flood, a cost bomb is not\n"
    "refused naming max_query_work or is charged at a node, a node ledger\n"
    "holds a charge whose query the coordinator's log lacks, the coordinator\n"
    "stops answering (a watchdog), or the recipe's node does not reconnect\n"
    "within heartbeat_dead_ms + the redial backoff + the federation's own\n"
    "measured connect time. Exit 2: bad usage or setup.\n";

/* ---- options and shared state ---- */

struct options {
	double minutes, interval, warmup;
	unsigned nodes, planners, people_per_site, seed;
	const char *out, *dir;
	int keep, canary, hostile;
	unsigned events; /* bit per enum phase, and EVENT_BOMBS */
};

enum { EVENT_BOMBS = 1u << PHASES, EVENTS_ALL = (1u << PHASES) * 2 - 2 };

struct query_kind {
	const char *name;
	int expect; /* exit code of tally query */
	int also;   /* another acceptable one, or -1 */
	unsigned weight;
	const char *args[12];
};

/* The mix: counts by group, means, sums, histograms, filters, disclosure
 * control, Laplace and zCDP; plus an invalid query (exit 2) and one over
 * the per-query cap (exit 3), so that refusals run under load too, and
 * abandoned requests. */
static const struct query_kind kinds[] = {
    {"count_diabetes_by_age_sex", 0, -1, 4, {"--spec", "@queries/diabetes_by_age_sex.json"}},
    {"mean_wait_by_specialty", 0, -1, 4, {"--spec", "@queries/mean_wait_by_specialty.json"}},
    {"histogram_ae_rho", 0, -1, 4, {"--spec", "@queries/ae_histogram.json"}},
    {"count_by_imd_sex_age",
     0,
     -1,
     4,
     {"--count", "--by", "imd_decile,sex,age_band", "--epsilon", "0.5"}},
    {"count_65plus_by_ethnicity_sdc",
     0,
     -1,
     4,
     {"--count", "--where", "age >= 65", "--by", "ethnicity", "--epsilon", "0.2",
      "--suppress-below", "8", "--round-to", "5"}},
    {"sum_bmi_copd_by_sex_rho",
     0,
     -1,
     4,
     {"--sum", "bmi", "--where", "has_copd = 1", "--by", "sex", "--rho", "0.05"}},
    {"mean_age_imd_in",
     0,
     -1,
     4,
     {"--mean", "age", "--where", "imd_decile in 1,2,3", "--epsilon", "0.3"}},
    {"histogram_bmi_hypertension",
     0,
     -1,
     4,
     {"--histogram", "bmi", "--edges", "10,18,25,30,40,80", "--where", "has_hypertension = 1",
      "--epsilon", "0.4"}},
    {"invalid_column", 2, -1, 1, {"--count", "--by", "blood_group", "--epsilon", "0.5"}},
    {"over_per_query_cap", 3, -1, 1, {"--count", "--by", "sex", "--epsilon", "3"}},
    /* A planner that gives up after 100 ms (exit 4) and closes its
     * connection while its query waits or runs; 0 if it was that fast. */
    {"impatient_100ms",
     4,
     0,
     1,
     {"--timeout", "100", "--count", "--by", "sex", "--epsilon", "0.1"}},
};
enum { KINDS = sizeof kinds / sizeof kinds[0] };

static int
expected(unsigned kind, int code)
{
	return code == kinds[kind].expect || code == kinds[kind].also;
}

struct record {
	double t_s, latency_ms;
	unsigned planner, kind;
	int code, bad_output, partial;
	int phase; /* enum phase active when it started (or when it ended) */
};

struct proc {
	char name[32];
	pid_t pid;
	int alive, died_status; /* died_status: waitpid status once reaped */
	int quiet_fds[2];       /* idle before and after the load */
	long quiet_rss[2];
};

struct round {
	double t_s;
	long rss_kb[MAX_PROCS];
	int fds[MAX_PROCS];
};

static struct {
	struct options opt;
	char bin[1024], dir[1024], out[1024], api[256];
	char cert[1100], key[1100], ca[1100];
	struct proc procs[MAX_PROCS];
	unsigned nprocs; /* coordinator = 0, node K = K, canary last */
	int canary_index;
	struct timespec t0;
	double duration_s, warmup_s;
	pthread_mutex_t mtx;
	struct record *records;
	size_t nrecords, records_cap;
	struct round *rounds;
	size_t nrounds, rounds_cap;
	FILE *latency_csv, *samples_csv, *failures;
	volatile int load_over, sampler_over;
	int deaths;
	/* The hostile phase. procs_mtx: the recipe replaces the coordinator
	 * while the sampler may be looking at it. */
	pthread_mutex_t procs_mtx;
	volatile int phase;            /* enum phase */
	double last_done_s, slowest_s; /* the watchdog's: last completion, slowest */
	int stalled;                   /* the coordinator stopped answering */
	volatile int planners_running; /* planner threads not yet returned */
	double hostile_s;              /* when the hostile phase starts (t0-relative) */
	double connect_s;              /* how long the federation took to connect at start */
	int api_port, hub_port;
	FILE *hostile_csv, *phases_csv;
	struct hostile_result {
		unsigned bombs, bombs_refused;
		double bomb_ms_max;
		unsigned long flood_posted, flood_429, flood_accepted, flood_gave_up, flood_other;
		int conn_api_held, conn_hub_held, conn_ok;
		unsigned recipes, recipes_ok;
		double reconnect_s_max, full_query_s_max, recovery_bound_s;
		double phase_start[PHASES], phase_end[PHASES];
	} h;
} g = {.mtx = PTHREAD_MUTEX_INITIALIZER, .procs_mtx = PTHREAD_MUTEX_INITIALIZER};

static double
since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void
pause_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("soak: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (g.nprocs > 0) {
		char cmd[2600];
		snprintf(cmd, sizeof cmd, "'%s/tally' demo --stop --dir '%s' >/dev/null", g.bin,
		         g.dir);
		(void)!system(cmd);
		fprintf(stderr, "soak: stopped the federation; its files are kept in %s\n", g.dir);
	}
	exit(2);
}

/* ---- processes ---- */

/* Spawn bin/argv[0] with stdout and stderr to files (NULL: /dev/null),
 * appending when append is set. */
static pid_t
spawn(const char *const argv[], const char *out_path, const char *err_path, int append)
{
	char program[1200];
	posix_spawn_file_actions_t actions;
	int flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);
	pid_t pid;

	if (argv[0][0] == '/')
		snprintf(program, sizeof program, "%s", argv[0]);
	else
		snprintf(program, sizeof program, "%s/%s", g.bin, argv[0]);
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 1, out_path ? out_path : "/dev/null", flags,
	                                 0600);
	posix_spawn_file_actions_addopen(&actions, 2, err_path ? err_path : "/dev/null", flags,
	                                 0600);
	int rc = posix_spawn(&pid, program, &actions, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	return rc == 0 ? pid : -1;
}

static int
wait_code(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int
run(const char *const argv[], const char *log)
{
	pid_t pid = spawn(argv, log, log, 1);
	return pid > 0 ? wait_code(pid) : -1;
}

static void
pid_file(const char *name, pid_t pid)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/run/%s.pid", g.dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "%ld\n", (long)pid);
	fclose(f);
}

static void
start_daemon(unsigned index)
{
	char config[1200], log[1200];
	struct proc *p = &g.procs[index];
	const char *program = index == 0 ? "tally-coordinator" : "tally-node";

	if (index == 0) {
		snprintf(p->name, sizeof p->name, "coordinator");
		snprintf(config, sizeof config, "%s/coordinator/coordinator.conf", g.dir);
	} else {
		snprintf(p->name, sizeof p->name, "node-%u", index);
		snprintf(config, sizeof config, "%s/site-%u/node.conf", g.dir, index);
	}
	snprintf(log, sizeof log, "%s/logs/%s.log", g.dir, p->name);
	p->pid = spawn((const char *const[]){program, "--config", config, NULL}, log, log, 1);
	if (p->pid <= 0)
		die("cannot start %s", program);
	p->alive = 1;
	pid_file(p->name, p->pid);
}

/* ---- the federation ---- */

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (text != NULL)
		text[fread(text, 1, (size_t)len, f)] = '\0';
	fclose(f);
	return text;
}

/* Raise epsilon_total (the population's one cap) in one node config;
 * per-query caps stay as they are. */
static void
raise_budget(unsigned site)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/site-%u/node.conf", g.dir, site);
	char *text = slurp(path);
	if (text == NULL)
		die("%s: cannot read", path);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	int raised = 0;
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (strncmp(line, "epsilon_total", 13) == 0) {
			fputs("epsilon_total = 1000000\n", f);
			raised++;
		} else {
			fprintf(f, "%s\n", line);
		}
	}
	fclose(f);
	free(text);
	if (raised != 1)
		die("%s: no epsilon_total to raise", path);
}

static void
read_planner_conf(void)
{
	char path[1200], line[512];
	snprintf(path, sizeof path, "%s/planner.conf", g.dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "api = %255s", g.api) == 1)
			break;
	fclose(f);
	if (g.api[0] == '\0')
		die("%s: no api", path);
	snprintf(g.cert, sizeof g.cert, "%s/pki/planner.crt", g.dir);
	snprintf(g.key, sizeof g.key, "%s/pki/planner.key", g.dir);
	snprintf(g.ca, sizeof g.ca, "%s/pki/coordinator-ca.crt", g.dir);
}

/* GET /v1/status; NULL when the API does not answer. */
static json_t *
api_status(void)
{
	char url[400], why[300];
	struct tly_tls_files tls = {.cert = g.cert, .key = g.key, .ca = g.ca};
	uint8_t *body = NULL;
	size_t len = 0;
	int status = 0;

	snprintf(url, sizeof url, "%s/v1/status", g.api);
	if (tly_https_request(url, "GET", &tls, NULL, 0, 30000, &status, &body, &len, why,
	                      sizeof why) != TLY_OK)
		return NULL;
	json_error_t err;
	json_t *json = status == 200 ? json_loadb((const char *)body, len, 0, &err) : NULL;
	free(body);
	return json;
}

static json_int_t
status_field(json_t *st, const char *name)
{
	return json_integer_value(json_object_get(st, name));
}

/* Seconds until every node is connected (polled every step_s). */
static double
wait_ready(double step_s)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (since(&start) < READY_TIMEOUT_S) {
		json_t *st = api_status();
		json_int_t connected = st ? status_field(st, "nodes_connected") : -1;
		json_decref(st);
		if (connected >= (json_int_t)g.opt.nodes) {
			printf("soak: coordinator and %u nodes connected after %.1f s\n",
			       g.opt.nodes, since(&start));
			return since(&start);
		}
		pause_s(step_s);
	}
	die("the federation did not come up within %d s (logs in %s/logs)", READY_TIMEOUT_S, g.dir);
}

/* The port of the first "KEY = scheme://host:PORT" line of a config. */
static int
conf_port(const char *path, const char *key)
{
	char line[512];
	int port = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while (port == 0 && fgets(line, sizeof line, f) != NULL) {
		char *colon = strrchr(line, ':');
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ' ' &&
		    colon != NULL)
			port = atoi(colon + 1);
	}
	fclose(f);
	if (port <= 0)
		die("%s: no %s port", path, key);
	return port;
}

/* The hostile phase's set-up: the coordinator's per-planner limits (so
 * that the query flood meets 429s while the honest planners, one identity
 * with at most P queries in flight, do not), and a second planner
 * "flooder" in the planners file, with its own certificate, signing key
 * and DIR/flooder.conf, the way `tally demo` makes the first. */
static void
set_up_hostile(const char *log)
{
	char path[1200], stanza[1200], *text;
	snprintf(path, sizeof path, "%s/coordinator/coordinator.conf", g.dir);
	FILE *f = fopen(path, "a");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	/* The honest identity runs P blocking clients, each at most a few
	 * queries a second (a query takes a few hundred ms): a rate of 5 a
	 * second per client leaves it room; the flooder posts without waiting
	 * and meets the limit. */
	unsigned per_planner = g.opt.planners + 2;
	unsigned rate = 300 * g.opt.planners > 600 ? 300 * g.opt.planners : 600;
	fprintf(f,
	        "\n[api]\nplanner_rate = %u\nplanner_burst = %u\nplanner_queue_max = %u\n"
	        "queue_max = %u\n",
	        rate, per_planner, per_planner, 2 * per_planner + 8);
	fclose(f);
	g.api_port = conf_port(path, "api");
	g.hub_port = conf_port(path, "listen");
	snprintf(path, sizeof path, "%s/pki", g.dir);
	snprintf(stanza, sizeof stanza, "%s/scratch/flooder.ini", g.out);
	(void)unlink(stanza); /* spawn appends: not a stanza of an earlier run */
	pid_t pid = spawn((const char *const[]){"tally", "pki", "issue", "--dir", path, "--name",
	                                        "flooder", "--role", "planner", NULL},
	                  stanza, log, 1);
	if (pid <= 0 || wait_code(pid) != 0 || (text = slurp(stanza)) == NULL)
		die("tally pki issue --name flooder failed (see %s)", log);
	snprintf(path, sizeof path, "%s/planners.ini", g.dir);
	if ((f = fopen(path, "a")) == NULL)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "%s", text);
	fclose(f);
	free(text);
	snprintf(path, sizeof path, "%s/flooder.conf", g.dir);
	if ((f = fopen(path, "w")) == NULL)
		die("%s: %s", path, strerror(errno));
	fprintf(f,
	        "; The soak's query flood: a second planner.\n[planner]\napi = %s\n"
	        "name = flooder\nsign_key = pki/flooder.sign\ntls_cert = pki/flooder.crt\n"
	        "tls_key = pki/flooder.key\ntls_ca = pki/coordinator-ca.crt\n",
	        g.api);
	fclose(f);
}

/* tally demo --serve, then stop it, raise the budgets and start the
 * daemons again as our own children. */
static void
set_up(void)
{
	char sites[16], people[32], seed[16], log[1200];
	snprintf(sites, sizeof sites, "%u", g.opt.nodes);
	snprintf(people, sizeof people, "%u", g.opt.nodes * g.opt.people_per_site);
	snprintf(seed, sizeof seed, "%u", g.opt.seed);
	snprintf(log, sizeof log, "%s/demo.log", g.out);
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* demo gives its federation 30 s to come up; on a loaded machine 50
	 * nodes may need longer, and the soak restarts them anyway: what it
	 * needs from demo is the layout, which is complete once the last
	 * node config and planner.conf are written. */
	if (run((const char *const[]){"tally", "demo", "--serve", "--dir", g.dir, "--sites", sites,
	                              "--people", people, "--seed", seed, NULL},
	        log) != 0) {
		char conf[1200], planner[1200];
		snprintf(conf, sizeof conf, "%s/site-%u/node.conf", g.dir, g.opt.nodes);
		snprintf(planner, sizeof planner, "%s/planner.conf", g.dir);
		if (access(conf, R_OK) != 0 || access(planner, R_OK) != 0)
			die("tally demo --serve failed (see %s)", log);
		printf("soak: tally demo --serve did not see the federation up in its 30 s; "
		       "the layout is complete, so the soak starts the daemons itself\n");
	}
	if (run((const char *const[]){"tally", "demo", "--stop", "--dir", g.dir, NULL}, log) != 0)
		die("tally demo --stop failed (see %s)", log);
	printf("soak: %u trusts, %s people laid out by tally demo in %.1f s; budgets raised to "
	       "epsilon_total 1000000 per node\n",
	       g.opt.nodes, people, since(&start));
	for (unsigned s = 1; s <= g.opt.nodes; s++)
		raise_budget(s);
	read_planner_conf();
	if (g.opt.hostile)
		set_up_hostile(log);
	for (unsigned i = 0; i <= g.opt.nodes; i++)
		start_daemon(i);
	g.nprocs = g.opt.nodes + 1;
	g.connect_s = wait_ready(0.5);
}

/* ---- sampling ---- */

static long
read_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
count_fds(pid_t pid)
{
	char path[64];
	int count = 0;
	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		count += e->d_name[0] != '.';
	closedir(d);
	return count;
}

/* Reap a daemon that died; 1 if it is (still) alive. */
static int
check_alive(struct proc *p)
{
	int status;
	if (!p->alive)
		return 0;
	if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
		p->alive = 0;
		p->died_status = status;
		g.deaths++;
		fprintf(stderr, "soak: %s (pid %ld) DIED: %s %d\n", p->name, (long)p->pid,
		        WIFEXITED(status) ? "exit" : "signal",
		        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return 0;
	}
	return 1;
}

static void
sample_round(void)
{
	struct round r = {.t_s = since(&g.t0)};
	const char *phase = phase_names[g.phase];
	pthread_mutex_lock(&g.procs_mtx);
	for (unsigned i = 0; i < g.nprocs; i++) {
		struct proc *p = &g.procs[i];
		r.rss_kb[i] = check_alive(p) ? read_rss_kb(p->pid) : -1;
		r.fds[i] = p->alive ? count_fds(p->pid) : -1;
		fprintf(g.samples_csv, "%.1f,%s,%ld,%d,%s\n", r.t_s, p->name, r.rss_kb[i], r.fds[i],
		        phase);
	}
	pthread_mutex_unlock(&g.procs_mtx);
	fflush(g.samples_csv);
	pthread_mutex_lock(&g.mtx);
	if (g.nrounds == g.rounds_cap) {
		g.rounds_cap = g.rounds_cap ? 2 * g.rounds_cap : 256;
		g.rounds = realloc(g.rounds, g.rounds_cap * sizeof *g.rounds);
		if (g.rounds == NULL)
			die("out of memory");
	}
	g.rounds[g.nrounds++] = r;
	pthread_mutex_unlock(&g.mtx);
}

static void *
sampler(void *arg)
{
	(void)arg;
	for (double next = 0; !g.sampler_over; next += g.opt.interval) {
		while (!g.sampler_over && since(&g.t0) < next)
			pause_s(0.1);
		if (!g.sampler_over)
			sample_round();
	}
	return NULL;
}

/* Idle snapshot (no query in flight): which = 0 before the load, 1 after. */
static void
quiet_sample(int which)
{
	for (unsigned i = 0; i < g.nprocs; i++) {
		struct proc *p = &g.procs[i];
		p->quiet_rss[which] = check_alive(p) ? read_rss_kb(p->pid) : -1;
		p->quiet_fds[which] = p->alive ? count_fds(p->pid) : -1;
	}
}

/* ---- the canary (negative control) ---- */

/* Leak rate_kb kB per second (touched, so resident) and open one
 * descriptor every 10 s, until killed. */
static int
canary_main(long rate_kb)
{
	for (unsigned tick = 1;; tick++) {
		char *leak = malloc((size_t)rate_kb * 1024 / 10);
		if (leak != NULL)
			memset(leak, (int)tick, (size_t)rate_kb * 1024 / 10);
		if (tick % 100 == 0 && open("/dev/null", O_RDONLY) < 0)
			return 1;
		pause_s(0.1);
	}
}

static void
start_canary(void)
{
	char rate[32], self[1024];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		die("cannot find /proc/self/exe");
	self[n] = '\0';
	/* Twice the RSS floor over the judged part of the run. */
	double judged = g.hostile_s - g.warmup_s;
	snprintf(rate, sizeof rate, "%ld",
	         (long)ceil(2.0 * RSS_FLOOR_KB / (judged > 1 ? judged : 1)));
	struct proc *p = &g.procs[g.nprocs];
	snprintf(p->name, sizeof p->name, "canary");
	p->pid = spawn((const char *const[]){self, "--canary", rate, NULL}, NULL, NULL, 0);
	if (p->pid <= 0)
		die("cannot start the canary");
	p->alive = 1;
	g.canary_index = (int)g.nprocs++;
	/* Its idle baseline: the descriptors it has before it leaks any. */
	pause_s(0.5);
	p->quiet_rss[0] = read_rss_kb(p->pid);
	p->quiet_fds[0] = count_fds(p->pid);
}

/* ---- planners ---- */

static unsigned
pick(uint64_t *state)
{
	unsigned total = 0;
	for (unsigned k = 0; k < KINDS; k++)
		total += kinds[k].weight;
	/* xorshift64 */
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	unsigned r = (unsigned)(*state % total);
	for (unsigned k = 0; k < KINDS; k++) {
		if (r < kinds[k].weight)
			return k;
		r -= kinds[k].weight;
	}
	return 0;
}

/* A released answer: JSON with a non-empty cells array; *partial when
 * fewer than every node contributed. */
static int
good_output(const char *path, int *partial)
{
	json_error_t err;
	json_t *result = json_load_file(path, 0, &err);
	int ok = result != NULL && json_array_size(json_object_get(result, "cells")) > 0;
	*partial = ok && json_integer_value(json_object_get(result, "contributors")) <
	                     (json_int_t)g.opt.nodes;
	json_decref(result);
	return ok;
}

static void
failure_note(unsigned planner, unsigned kind, int code, const char *err_path)
{
	char *text = slurp(err_path);
	pthread_mutex_lock(&g.mtx);
	fprintf(g.failures, "t=%.1f planner %u %s: exit %d (expected %d): %s\n", since(&g.t0),
	        planner, kinds[kind].name, code, kinds[kind].expect, text ? text : "");
	fflush(g.failures);
	pthread_mutex_unlock(&g.mtx);
	free(text);
}

/* Run one query of this kind; returns the record (t_s relative to t0). */
static struct record
ask(unsigned planner, unsigned kind)
{
	char conf[1200], out_path[1200], err_path[1200], spec[1200], timeout[32];
	const char *argv[32] = {"tally",    "query", "--config",  conf,
	                        "--format", "json",  "--timeout", timeout};
	size_t n = 8;
	struct record r = {.planner = planner, .kind = kind};

	snprintf(conf, sizeof conf, "%s/planner.conf", g.dir);
	snprintf(timeout, sizeof timeout, "%d", QUERY_TIMEOUT_MS);
	snprintf(out_path, sizeof out_path, "%s/scratch/planner-%u.json", g.out, planner);
	snprintf(err_path, sizeof err_path, "%s/scratch/planner-%u.err", g.out, planner);
	for (const char *const *a = kinds[kind].args; *a != NULL; a++) {
		if ((*a)[0] == '@') {
			snprintf(spec, sizeof spec, "%s/%s", g.dir, *a + 1);
			argv[n++] = spec;
		} else {
			argv[n++] = *a;
		}
	}
	argv[n] = NULL;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	r.t_s = since(&g.t0);
	r.phase = g.phase;
	pid_t pid = spawn(argv, out_path, err_path, 0);
	r.code = pid > 0 ? wait_code(pid) : -1;
	r.latency_ms = since(&start) * 1000.0;
	if (r.phase == PHASE_NONE)
		r.phase = g.phase;
	if (r.code == 0 && !good_output(out_path, &r.partial))
		r.bad_output = 1;
	if (!expected(kind, r.code) || r.bad_output)
		failure_note(planner, kind, r.code, err_path);
	return r;
}

static void
keep_record(const struct record *r)
{
	pthread_mutex_lock(&g.mtx);
	if (g.nrecords == g.records_cap) {
		g.records_cap = g.records_cap ? 2 * g.records_cap : 4096;
		g.records = realloc(g.records, g.records_cap * sizeof *g.records);
		if (g.records == NULL)
			die("out of memory");
	}
	g.records[g.nrecords++] = *r;
	g.last_done_s = since(&g.t0);
	g.slowest_s = fmax(g.slowest_s, r->latency_ms / 1000.0);
	fprintf(g.latency_csv, "%.3f,%u,%s,%d,%.1f,%s\n", r->t_s, r->planner, kinds[r->kind].name,
	        r->code, r->latency_ms, phase_names[r->phase]);
	fflush(g.latency_csv);
	pthread_mutex_unlock(&g.mtx);
}

static void *
planner_loop(void *arg)
{
	unsigned planner = (unsigned)(uintptr_t)arg;
	uint64_t state = 0x9e3779b97f4a7c15ULL * (planner + 1) ^ g.opt.seed;

	while (!g.load_over && since(&g.t0) < g.duration_s) {
		struct record r = ask(planner, pick(&state));
		keep_record(&r);
	}
	pthread_mutex_lock(&g.mtx);
	g.planners_running--;
	pthread_mutex_unlock(&g.mtx);
	return NULL;
}

/* Each kind once, one at a time, before the idle baseline: whatever a
 * daemon opens lazily on its first query is open by then. */
static void
prime(void)
{
	clock_gettime(CLOCK_MONOTONIC, &g.t0);
	for (unsigned k = 0; k < KINDS; k++) {
		struct record r = ask(0, k);
		if (!expected(k, r.code) || r.bad_output)
			die("priming query %s: exit %d, expected %d (see %s/failures.log)",
			    kinds[k].name, r.code, kinds[k].expect, g.out);
		printf("soak: prime %-30s exit %d in %.0f ms\n", kinds[k].name, r.code,
		       r.latency_ms);
	}
}

/* ---- statistics ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile(const double *sorted, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t rank = (size_t)ceil(p * (double)n);
	return sorted[rank > 0 ? rank - 1 : 0];
}

struct latency {
	size_t done, ok, unexpected, bad_output, partial, by_code[7]; /* [6]: other */
	double p50, p90, p95, p99, max;
};

/* Over the queries that ran during one phase, or all (phase -1). */
static struct latency
latency_stats(int phase)
{
	struct latency l = {0};
	pthread_mutex_lock(&g.mtx);
	double *ms = malloc((g.nrecords + 1) * sizeof *ms);
	if (ms == NULL)
		die("out of memory");
	for (size_t i = 0; i < g.nrecords; i++) {
		const struct record *r = &g.records[i];
		if (phase >= 0 && r->phase != phase)
			continue;
		l.done++;
		l.by_code[r->code >= 0 && r->code <= 5 ? r->code : 6]++;
		l.unexpected += !expected(r->kind, r->code);
		l.bad_output += r->bad_output != 0;
		l.partial += r->partial != 0;
		if (r->code == 0 && kinds[r->kind].expect == 0)
			ms[l.ok++] = r->latency_ms;
	}
	pthread_mutex_unlock(&g.mtx);
	qsort(ms, l.ok, sizeof *ms, cmp_double);
	l.p50 = percentile(ms, l.ok, 0.50);
	l.p90 = percentile(ms, l.ok, 0.90);
	l.p95 = percentile(ms, l.ok, 0.95);
	l.p99 = percentile(ms, l.ok, 0.99);
	l.max = l.ok ? ms[l.ok - 1] : 0;
	free(ms);
	return l;
}

/* Least-squares slope (kB per second) of a process's RSS over rounds
 * [from, to). */
static double
rss_slope(unsigned proc, size_t from, size_t to)
{
	double st = 0, sy = 0, stt = 0, sty = 0;
	size_t n = 0;
	for (size_t i = from; i < to; i++) {
		if (g.rounds[i].rss_kb[proc] < 0)
			continue;
		double t = g.rounds[i].t_s, y = (double)g.rounds[i].rss_kb[proc];
		st += t, sy += y, stt += t * t, sty += t * y, n++;
	}
	double den = (double)n * stt - st * st;
	return n >= 3 && den > 0 ? ((double)n * sty - st * sy) / den : 0;
}

/* Median (or max) over the nodes of one round's RSS or fds. */
static long
node_stat(size_t round, int fds, int want_max)
{
	long v[MAX_NODES];
	unsigned n = 0;
	for (unsigned i = 1; i <= g.opt.nodes; i++)
		v[n++] = fds ? g.rounds[round].fds[i] : g.rounds[round].rss_kb[i];
	qsort(v, n, sizeof *v, cmp_long);
	return want_max ? v[n - 1] : v[n / 2];
}

static void
progress(void)
{
	struct latency l = latency_stats(-1);
	double t = since(&g.t0);
	pthread_mutex_lock(&g.mtx);
	size_t last = g.nrounds ? g.nrounds - 1 : 0;
	long crss = g.nrounds ? g.rounds[last].rss_kb[0] : -1;
	int cfds = g.nrounds ? g.rounds[last].fds[0] : -1;
	long nmed = g.nrounds ? node_stat(last, 0, 0) : -1,
	     nmax = g.nrounds ? node_stat(last, 0, 1) : -1;
	pthread_mutex_unlock(&g.mtx);
	printf(
	    "[%4.0f s] %zu queries (%zu released, %zu unexpected) %.2f q/s  p50 %.0f ms  p99 %.0f "
	    "ms | coordinator %ld kB %d fds | nodes RSS median %ld kB max %ld kB | deaths %d\n",
	    t, l.done, l.ok, l.unexpected, t > 0 ? (double)l.done / t : 0, l.p50, l.p99, crss, cfds,
	    nmed, nmax, g.deaths);
	fflush(stdout);
}

/* ---- the hostile phase ---- */

static void hostile_row(const char *event, const char *outcome, double duration_ms, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

/* One row of hostile.csv: t_s,event,outcome,duration_ms,detail. */
static void
hostile_row(const char *event, const char *outcome, double duration_ms, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	double t = since(&g.t0);
	fprintf(g.hostile_csv, "%.1f,%s,%s,%.0f,\"%s\"\n", t, event, outcome, duration_ms, detail);
	fflush(g.hostile_csv);
	printf("[%4.0f s] hostile %s: %s in %.0f ms (%s)\n", t, event, outcome, duration_ms,
	       detail);
	fflush(stdout);
}

static void
phase_begin(enum phase ph)
{
	g.h.phase_start[ph] = since(&g.t0);
	g.phase = (int)ph;
}

static void
phase_end(enum phase ph)
{
	g.phase = PHASE_NONE;
	g.h.phase_end[ph] = since(&g.t0);
	fprintf(g.phases_csv, "%s,%.1f,%.1f\n", phase_names[ph], g.h.phase_start[ph],
	        g.h.phase_end[ph]);
	fflush(g.phases_csv);
}

/* A query whose noise would cost far above max_query_work (35,000 cells:
 * 70 BMI bins by IMD decile, sex, age band and ethnicity, at epsilon 1e-5:
 * 7.3 x 10^9 work units against the default 10^9). The coordinator must
 * refuse it, naming max_query_work, before it is logged or sent, so no
 * node charges it; nodes_uncharged() checks the ledgers for its amount. */
static const char bomb_epsilon[] = "0.00001";
enum { BOMB_EPSILON_DEN = 100000 };

static void
cost_bomb(void)
{
	char conf[1200], err_path[1200], edges[512], timeout[32];
	size_t len = 0;
	for (int e = 10; e <= 80; e++) /* BMI's bounds in the catalogue */
		len += (size_t)snprintf(edges + len, sizeof edges - len, e > 10 ? ",%d" : "%d", e);
	snprintf(conf, sizeof conf, "%s/planner.conf", g.dir);
	snprintf(err_path, sizeof err_path, "%s/scratch/cost-bomb.err", g.out);
	snprintf(timeout, sizeof timeout, "%d", 120000); /* refused at once, or a finding */
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	pid_t pid = spawn((const char *const[]){"tally", "query", "--config", conf, "--timeout",
	                                        timeout, "--histogram", "bmi", "--edges", edges,
	                                        "--by", "imd_decile,sex,age_band,ethnicity",
	                                        "--epsilon", bomb_epsilon, NULL},
	                  NULL, err_path, 0);
	int code = pid > 0 ? wait_code(pid) : -1;
	double ms = since(&start) * 1000.0;
	char *why = slurp(err_path);
	if (why != NULL)
		why[strcspn(why, "\n\"")] = '\0';
	/* The API answers 400 invalid_query naming the limit: tally query
	 * exits 2 (3 would be a policy refusal; either way nothing ran). */
	int refused =
	    (code == 2 || code == 3) && why != NULL && strstr(why, "max_query_work") != NULL;
	g.h.bombs++;
	g.h.bombs_refused += refused != 0;
	g.h.bomb_ms_max = fmax(g.h.bomb_ms_max, ms);
	hostile_row("cost_bomb", refused ? "refused" : "NOT_REFUSED", ms, "exit %d: %s", code,
	            why ? why : "");
	free(why);
}

/* Sleep until t (t0-relative) or the end of the load, firing the cost
 * bombs that fall due meanwhile. */
static void
idle_until(double t)
{
	double every = (g.duration_s - g.hostile_s) / COST_BOMBS;
	while (!g.load_over && since(&g.t0) < t) {
		double next = g.hostile_s + (g.h.bombs + 0.5) * every;
		if ((g.opt.events & EVENT_BOMBS) && g.h.bombs < COST_BOMBS && since(&g.t0) >= next)
			cost_bomb();
		else
			pause_s(0.2);
	}
}

/* Start tests/helpers/flood PORT N beside this program; output to path. */
static pid_t
start_flood(int port, int n, const char *path)
{
	char self[1024], flood[1100], port_s[16], n_s[16];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0)
		die("cannot find /proc/self/exe");
	self[len] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(flood, sizeof flood, "%s/flood", self);
	snprintf(port_s, sizeof port_s, "%d", port);
	snprintf(n_s, sizeof n_s, "%d", n);
	pid_t pid =
	    spawn((const char *const[]){flood, "127.0.0.1", port_s, n_s, NULL}, path, path, 0);
	if (pid <= 0)
		die("cannot start %s", flood);
	return pid;
}

/* The number after `key` in a flood's output, once the line is there; -1
 * before. */
static int
flood_figure(const char *path, const char *key)
{
	char *text = slurp(path), *at = text ? strstr(text, key) : NULL;
	int v = at ? atoi(at + strlen(key)) : -1;
	free(text);
	return v;
}

static void
conn_flood(double end_t)
{
	char api_out[1200], hub_out[1200];
	snprintf(api_out, sizeof api_out, "%s/flood-api.log", g.out);
	snprintf(hub_out, sizeof hub_out, "%s/flood-hub.log", g.out);
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	phase_begin(PHASE_CONN_FLOOD);
	pid_t api = start_flood(g.api_port, FLOOD_API_CONNS, api_out);
	pid_t hub = start_flood(g.hub_port, FLOOD_HUB_CONNS, hub_out);
	/* Held once both print "ready" (an event, with a generous cap). */
	while (since(&start) < FLOOD_READY_TIMEOUT_S &&
	       (flood_figure(api_out, "ready") < 0 || flood_figure(hub_out, "ready") < 0))
		pause_s(0.2);
	double ready_ms = since(&start) * 1000.0;
	g.h.conn_api_held = flood_figure(api_out, "connected ");
	g.h.conn_hub_held = flood_figure(hub_out, "connected ");
	idle_until(end_t);
	kill(api, SIGTERM);
	kill(hub, SIGTERM);
	int api_code = wait_code(api), hub_code = wait_code(hub);
	phase_end(PHASE_CONN_FLOOD);
	g.h.conn_ok =
	    api_code == 0 && hub_code == 0 && g.h.conn_api_held > 0 && g.h.conn_hub_held > 0;
	hostile_row(
	    "conn_flood", g.h.conn_ok ? "held" : "FLOOD_FAILED", since(&start) * 1000.0,
	    "API port %d: %d of %d connected, %d closed by the coordinator; hub port %d: %d of "
	    "%d, %d closed; both held after %.0f ms",
	    g.api_port, g.h.conn_api_held, FLOOD_API_CONNS, flood_figure(api_out, "server: "),
	    g.hub_port, g.h.conn_hub_held, FLOOD_HUB_CONNS, flood_figure(hub_out, "server: "),
	    ready_ms);
}

struct flooder {
	unsigned id;
	double end_t;
	unsigned long posted, limited, accepted, gave_up, other;
};

/* One of the query flood's clients: the planner "flooder" posting
 * asynchronous queries (POST /v1/queries?async=1, signed as `tally query`
 * signs) as fast as it can until end_t, without waiting for any result: a
 * real flood, far faster than the honest planners' blocking clients, so
 * that the per-planner rate and queue limits meet it and not them. A 202
 * is counted accepted (the query then runs), a 429 limited. */
static void *
flooder_loop(void *arg)
{
	static const char body[] = "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, "
	                           "\"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 0.1}}";
	static const char path[] = "/v1/queries?async=1";
	struct flooder *f = arg;
	char cert[1200], key[1200], ca[1200], sign[1200], url[300], why[300];
	char auth[TLY_PLANNER_HEADER_MAX];
	snprintf(cert, sizeof cert, "%s/pki/flooder.crt", g.dir);
	snprintf(key, sizeof key, "%s/pki/flooder.key", g.dir);
	snprintf(ca, sizeof ca, "%s/pki/coordinator-ca.crt", g.dir);
	snprintf(sign, sizeof sign, "%s/pki/flooder.sign", g.dir);
	snprintf(url, sizeof url, "https://127.0.0.1:%d%s", g.api_port, path);
	struct tly_tls_files tls = {cert, key, ca, NULL};
	while (!g.load_over && since(&g.t0) < f->end_t) {
		uint8_t *answer = NULL;
		size_t len = 0;
		int status = 0;
		tly_err rv =
		    tly_query_sign(auth, "flooder", sign, "POST", path, (const uint8_t *)body,
		                   sizeof body - 1, why, sizeof why);
		if (rv == TLY_OK)
			rv = tly_https_request_signed(
			    url, "POST", &tls, auth, (const uint8_t *)body, sizeof body - 1,
			    FLOODER_TIMEOUT_MS, &status, &answer, &len, why, sizeof why);
		free(answer);
		f->posted++;
		if (rv != TLY_OK)
			f->gave_up++;
		else if (status == 202)
			f->accepted++;
		else if (status == 429)
			f->limited++;
		else
			f->other++;
	}
	return NULL;
}

static void
query_flood(double end_t)
{
	pthread_t threads[FLOODER_THREADS];
	struct flooder f[FLOODER_THREADS];
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	phase_begin(PHASE_QUERY_FLOOD);
	for (unsigned i = 0; i < FLOODER_THREADS; i++) {
		f[i] = (struct flooder){.id = i, .end_t = end_t};
		if (pthread_create(&threads[i], NULL, flooder_loop, &f[i]) != 0)
			die("cannot start flooder %u", i);
	}
	idle_until(end_t);
	for (unsigned i = 0; i < FLOODER_THREADS; i++) {
		pthread_join(threads[i], NULL);
		g.h.flood_posted += f[i].posted;
		g.h.flood_429 += f[i].limited;
		g.h.flood_accepted += f[i].accepted;
		g.h.flood_gave_up += f[i].gave_up;
		g.h.flood_other += f[i].other;
	}
	phase_end(PHASE_QUERY_FLOOD);
	hostile_row("query_flood", g.h.flood_429 > 0 ? "limited" : "NOT_LIMITED",
	            since(&start) * 1000.0,
	            "planner flooder, %d clients posting async: %lu posts, %lu answered 429 with "
	            "Retry-After, %lu accepted (202), %lu no answer within %d ms, %lu other",
	            FLOODER_THREADS, g.h.flood_posted, g.h.flood_429, g.h.flood_accepted,
	            g.h.flood_gave_up, FLOODER_TIMEOUT_MS, g.h.flood_other);
}

/* 1 when the API answers and counts every node connected. */
static int
all_connected(void)
{
	json_t *st = api_status();
	json_int_t connected = st ? status_field(st, "nodes_connected") : -1;
	json_decref(st);
	return connected >= (json_int_t)g.opt.nodes;
}

/* A count that every node contributed to: 1 when released with all. */
static int
full_query(void)
{
	char conf[1200], out_path[1200], timeout[32];
	int partial = 1;
	snprintf(conf, sizeof conf, "%s/planner.conf", g.dir);
	snprintf(out_path, sizeof out_path, "%s/scratch/recipe-full.json", g.out);
	snprintf(timeout, sizeof timeout, "%d", 120000);
	pid_t pid = spawn((const char *const[]){"tally", "query", "--config", conf, "--format",
	                                        "json", "--timeout", timeout, "--count", "--by",
	                                        "sex", "--epsilon", "0.1", NULL},
	                  out_path, NULL, 0);
	return pid > 0 && wait_code(pid) == 0 && good_output(out_path, &partial) && !partial;
}

/* Issue 12 section 4: SIGSTOP node N, start a query, SIGKILL the
 * coordinator, SIGCONT the node, restart the coordinator; then the time
 * until every node (the stopped one too) is connected again, and until a
 * query with every node in it is released. */
static void
recipe(void)
{
	struct proc *node = &g.procs[g.opt.nodes], *coord = &g.procs[0];
	char conf[1200], out_path[1200];
	snprintf(conf, sizeof conf, "%s/planner.conf", g.dir);
	snprintf(out_path, sizeof out_path, "%s/scratch/recipe-query.err", g.out);
	phase_begin(PHASE_RECIPE);
	kill(node->pid, SIGSTOP);
	pid_t query =
	    spawn((const char *const[]){"tally", "query", "--config", conf, "--timeout", "60000",
	                                "--count", "--by", "sex", "--epsilon", "0.1", NULL},
	          NULL, out_path, 0);
	pause_s(1); /* the query on its way: the recipe's order, not a deadline */
	pthread_mutex_lock(&g.procs_mtx);
	kill(coord->pid, SIGKILL);
	(void)wait_code(coord->pid);
	coord->alive = 0;
	kill(node->pid, SIGCONT);
	struct timespec cont;
	clock_gettime(CLOCK_MONOTONIC, &cont);
	start_daemon(0);
	pthread_mutex_unlock(&g.procs_mtx);
	double reconnect_s = -1, full_s = -1;
	while (since(&cont) < RECOVERY_GIVE_UP_S && reconnect_s < 0) {
		if (all_connected())
			reconnect_s = since(&cont);
		else
			pause_s(0.1);
	}
	while (reconnect_s >= 0 && since(&cont) < RECOVERY_GIVE_UP_S && full_s < 0) {
		if (full_query())
			full_s = since(&cont);
		else
			pause_s(0.2);
	}
	int query_code = wait_code(query);
	phase_end(PHASE_RECIPE);
	g.h.recovery_bound_s = (TLY_HEARTBEAT_DEAD_MS + TLY_REDIAL_MAX_MS) / 1000.0 + g.connect_s;
	int ok = reconnect_s >= 0 && reconnect_s <= g.h.recovery_bound_s && full_s >= 0;
	g.h.recipes++;
	g.h.recipes_ok += ok != 0;
	g.h.reconnect_s_max = fmax(g.h.reconnect_s_max, reconnect_s);
	g.h.full_query_s_max = fmax(g.h.full_query_s_max, full_s);
	hostile_row(
	    "recipe", ok ? "recovered" : "NOT_RECOVERED", since(&cont) * 1000.0,
	    "%s stopped, coordinator killed and restarted: every node connected %.1f s after "
	    "SIGCONT (bound %.1f s: heartbeat_dead_ms %d + redial %d ms + the federation's own "
	    "connect time %.1f s), a query with all %u nodes released after %.1f s; the query in "
	    "flight exited %d",
	    node->name, reconnect_s, g.h.recovery_bound_s, TLY_HEARTBEAT_DEAD_MS, TLY_REDIAL_MAX_MS,
	    g.connect_s, g.opt.nodes, full_s, query_code);
}

/* The schedule over the hostile span [hostile_s, duration): cost bombs
 * every fifth of it throughout; the connection flood, the query flood and
 * the recipe one after the other. */
static void *
hostile(void *arg)
{
	(void)arg;
	double from = g.hostile_s, span = g.duration_s - g.hostile_s;
	unsigned ev = g.opt.events;
	idle_until(from);
	if (!g.load_over && (ev & 1u << PHASE_CONN_FLOOD))
		conn_flood(from + 0.22 * span);
	idle_until(from + 0.30 * span);
	if (!g.load_over && (ev & 1u << PHASE_QUERY_FLOOD))
		query_flood(from + 0.52 * span);
	idle_until(from + 0.62 * span);
	if (!g.load_over && (ev & 1u << PHASE_RECIPE))
		recipe();
	idle_until(g.duration_s);
	return NULL;
}

/* ---- the watchdog ---- */

/* No honest query has finished for max(STALL_MIN_S, 10 x the slowest
 * one so far), outside the recipe (which kills the coordinator on
 * purpose): the coordinator has stopped serving. Keep every thread's
 * stack (gdb, when there is one) in OUT/coordinator-stall.txt, SIGKILL
 * the coordinator so that the planners' queries end, and fail the run. */
static void
watchdog(void)
{
	double quiet_for = since(&g.t0) - g.last_done_s;
	if (g.stalled || g.phase == PHASE_RECIPE ||
	    quiet_for < fmax(STALL_MIN_S, STALL_LATENCY_FACTOR * g.slowest_s))
		return;
	char cmd[1600];
	pthread_mutex_lock(&g.procs_mtx);
	struct proc *c = &g.procs[0];
	printf("soak: STALLED: no query finished for %.0f s (the slowest took %.1f s); the "
	       "coordinator's stacks go to %s/coordinator-stall.txt, then it is killed\n",
	       quiet_for, g.slowest_s, g.out);
	fflush(stdout);
	snprintf(
	    cmd, sizeof cmd,
	    "command -v gdb >/dev/null && timeout 120 gdb -p %ld -batch -ex 'thread apply all bt' "
	    "> '%s/coordinator-stall.txt' 2>&1",
	    (long)c->pid, g.out);
	(void)!system(cmd);
	g.stalled = 1;
	if (c->alive) {
		kill(c->pid, SIGKILL);
		(void)wait_code(c->pid);
		c->alive = 0;
	}
	pthread_mutex_unlock(&g.procs_mtx);
	g.load_over = 1;
}

/* ---- the run ---- */

static void
run_load(void)
{
	pthread_t sampler_thread, hostile_thread, planners[MAX_PLANNERS];
	clock_gettime(CLOCK_MONOTONIC, &g.t0);
	if (pthread_create(&sampler_thread, NULL, sampler, NULL) != 0)
		die("cannot start the sampler");
	if (g.opt.hostile && pthread_create(&hostile_thread, NULL, hostile, NULL) != 0)
		die("cannot start the hostile phase");
	g.planners_running = (int)g.opt.planners;
	for (unsigned p = 0; p < g.opt.planners; p++)
		if (pthread_create(&planners[p], NULL, planner_loop, (void *)(uintptr_t)p) != 0)
			die("cannot start planner %u", p);
	for (double next = 30; since(&g.t0) < g.duration_s && !g.stalled;) {
		pause_s(0.5);
		watchdog();
		if (since(&g.t0) >= next) {
			progress();
			next += 30;
		}
	}
	g.load_over = 1;
	printf("soak: load over after %.0f s; waiting for the planners in flight\n", since(&g.t0));
	for (;;) { /* the watchdog watches these too */
		pthread_mutex_lock(&g.mtx);
		int running = g.planners_running;
		pthread_mutex_unlock(&g.mtx);
		if (running == 0)
			break;
		pause_s(0.5);
		watchdog();
	}
	for (unsigned p = 0; p < g.opt.planners; p++)
		pthread_join(planners[p], NULL);
	if (g.opt.hostile)
		pthread_join(hostile_thread, NULL);
	sample_round(); /* the last sample under load */
	g.sampler_over = 1;
	pthread_join(sampler_thread, NULL);
}

/* Wait until the coordinator has nothing queued or running. */
static void
drain(void)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (since(&start) < DRAIN_TIMEOUT_S) {
		json_t *st = api_status();
		int idle = st != NULL && status_field(st, "queued") == 0 &&
		           json_object_get(st, "running") == NULL;
		json_decref(st);
		if (idle)
			break;
		pause_s(0.5);
	}
	pause_s(5); /* the API lingers up to 2 s on each closed connection */
}

/* SIGTERM through `tally demo --stop`, reaping our children meanwhile;
 * returns how many daemons did not exit 0. */
static int
stop_federation(const char *log)
{
	pid_t stopper = spawn(
	    (const char *const[]){"tally", "demo", "--stop", "--dir", g.dir, NULL}, log, log, 1);
	int unclean = 0, stopper_done = stopper <= 0;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int left = 0, status;
		for (unsigned i = 0; i < g.nprocs; i++) {
			struct proc *p = &g.procs[i];
			if ((int)i == g.canary_index || !p->alive)
				continue;
			if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
				p->alive = 0;
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
					printf("soak: %s stopped uncleanly (status 0x%x)\n",
					       p->name, (unsigned)status);
					unclean++;
				}
			} else {
				left++;
			}
		}
		if (!stopper_done && waitpid(stopper, &status, WNOHANG) == stopper)
			stopper_done = 1;
		if ((left == 0 && stopper_done) || since(&start) > 60)
			return unclean + left;
		pause_s(0.05);
	}
}

/* ---- the verdict ---- */

struct growth {
	long warm, end;
	double fit_kb; /* fitted growth over the judged span */
	int flagged;
};

static struct growth
judge_rss(unsigned proc, size_t warm, size_t end)
{
	struct growth gr = {g.rounds[warm].rss_kb[proc], g.rounds[end].rss_kb[proc], 0, 0};
	double span = g.rounds[end].t_s - g.rounds[warm].t_s;
	gr.fit_kb = rss_slope(proc, warm, end + 1) * span;
	double limit = (double)gr.warm * RSS_FRACTION_PCT / 100.0;
	if (limit < RSS_FLOOR_KB)
		limit = RSS_FLOOR_KB;
	gr.flagged = gr.fit_kb > limit;
	return gr;
}

static void row(FILE *f, const char *metric, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
row(FILE *f, const char *metric, const char *fmt, ...)
{
	va_list ap;
	char value[256];
	va_start(ap, fmt);
	vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	fprintf(f, "%s,%s\n", metric, value);
	printf("  %-34s %s\n", metric, value);
}

struct verdict {
	int rss_flagged, fds_grown, canary_flagged, canary_fds_grown, unclean, audit_code;
};

static void
summarise_latency(FILE *f, const struct latency *l, double load_s)
{
	row(f, "queries_completed", "%zu", l->done);
	row(f, "queries_released", "%zu", l->ok);
	for (int c = 1; c <= 6; c++) {
		char name[32];
		snprintf(name, sizeof name, c == 6 ? "queries_exit_other" : "queries_exit_%d", c);
		row(f, name, "%zu", l->by_code[c]);
	}
	row(f, "queries_unexpected_exit", "%zu", l->unexpected);
	row(f, "queries_bad_output", "%zu", l->bad_output);
	row(f, "releases_with_dropped_nodes", "%zu", l->partial);
	row(f, "load_seconds", "%.1f", load_s);
	row(f, "throughput_queries_per_s", "%.3f", load_s > 0 ? (double)l->done / load_s : 0);
	row(f, "latency_ms_p50", "%.1f", l->p50);
	row(f, "latency_ms_p90", "%.1f", l->p90);
	row(f, "latency_ms_p99", "%.1f", l->p99);
	row(f, "latency_ms_max", "%.1f", l->max);
}

static void
summarise_memory(FILE *f, size_t warm, size_t end, struct verdict *v)
{
	struct growth c = judge_rss(0, warm, end);
	row(f, "warmup_sample_t_s", "%.1f", g.rounds[warm].t_s);
	row(f, "end_sample_t_s", "%.1f", g.rounds[end].t_s);
	row(f, "coordinator_rss_kb_warm", "%ld", c.warm);
	row(f, "coordinator_rss_kb_end", "%ld", c.end);
	row(f, "coordinator_rss_kb_growth", "%ld", c.end - c.warm);
	row(f, "coordinator_rss_kb_fit_growth", "%.0f", c.fit_kb);
	row(f, "coordinator_fds_warm", "%d", g.rounds[warm].fds[0]);
	row(f, "coordinator_fds_end", "%d", g.rounds[end].fds[0]);
	row(f, "node_median_rss_kb_warm", "%ld", node_stat(warm, 0, 0));
	row(f, "node_median_rss_kb_end", "%ld", node_stat(end, 0, 0));
	row(f, "node_max_rss_kb_warm", "%ld", node_stat(warm, 0, 1));
	row(f, "node_max_rss_kb_end", "%ld", node_stat(end, 0, 1));
	row(f, "node_median_fds_warm", "%ld", node_stat(warm, 1, 0));
	row(f, "node_median_fds_end", "%ld", node_stat(end, 1, 0));
	row(f, "node_max_fds_warm", "%ld", node_stat(warm, 1, 1));
	row(f, "node_max_fds_end", "%ld", node_stat(end, 1, 1));
	v->rss_flagged = c.flagged;
	if (c.flagged)
		printf("soak: coordinator RSS grows: fitted %.0f kB after warm-up\n", c.fit_kb);
	double worst = -1e18;
	unsigned worst_node = 1;
	for (unsigned i = 1; i <= g.opt.nodes; i++) {
		struct growth n = judge_rss(i, warm, end);
		if (n.fit_kb > worst)
			worst = n.fit_kb, worst_node = i;
		if (n.flagged) {
			printf("soak: node-%u RSS grows: fitted %.0f kB after warm-up (%ld -> %ld "
			       "kB)\n",
			       i, n.fit_kb, n.warm, n.end);
			v->rss_flagged++;
		}
	}
	row(f, "node_max_rss_kb_fit_growth", "%.0f (node-%u)", worst, worst_node);
	row(f, "daemons_rss_flagged", "%d", v->rss_flagged);
	if (g.canary_index > 0) {
		struct growth k = judge_rss((unsigned)g.canary_index, warm, end);
		v->canary_flagged = k.flagged;
		row(f, "canary_rss_kb_fit_growth", "%.0f", k.fit_kb);
		row(f, "canary_rss_flagged", "%s", k.flagged ? "yes" : "NO");
	}
}

static void
summarise_fds(FILE *f, struct verdict *v)
{
	int node_max[2] = {0, 0};
	for (unsigned i = 0; i < g.nprocs; i++) {
		struct proc *p = &g.procs[i];
		int grown = p->quiet_fds[1] != p->quiet_fds[0] || p->quiet_fds[1] < 0;
		if ((int)i == g.canary_index) {
			v->canary_fds_grown = grown;
			continue;
		}
		/* The recipe restarted the coordinator: its idle baseline was
		 * another process's, so its descriptors are reported, not judged. */
		if (i == 0 && g.h.recipes > 0)
			grown = 0;
		if (grown) {
			printf("soak: %s holds %d descriptors idle after the load, %d before\n",
			       p->name, p->quiet_fds[1], p->quiet_fds[0]);
			v->fds_grown++;
		}
		if (i > 0) {
			node_max[0] = p->quiet_fds[0] > node_max[0] ? p->quiet_fds[0] : node_max[0];
			node_max[1] = p->quiet_fds[1] > node_max[1] ? p->quiet_fds[1] : node_max[1];
		}
	}
	row(f, "coordinator_fds_idle_before", "%d%s", g.procs[0].quiet_fds[0],
	    g.h.recipes > 0 ? " (before the recipe restarted it: not judged)" : "");
	row(f, "coordinator_fds_idle_after", "%d", g.procs[0].quiet_fds[1]);
	row(f, "coordinator_rss_kb_idle_before", "%ld", g.procs[0].quiet_rss[0]);
	row(f, "coordinator_rss_kb_idle_after", "%ld", g.procs[0].quiet_rss[1]);
	row(f, "node_max_fds_idle_before", "%d", node_max[0]);
	row(f, "node_max_fds_idle_after", "%d", node_max[1]);
	row(f, "daemons_fds_grown", "%d", v->fds_grown);
	if (g.canary_index > 0)
		row(f, "canary_fds_grown", "%s (%d -> %d)", v->canary_fds_grown ? "yes" : "NO",
		    g.procs[g.canary_index].quiet_fds[0], g.procs[g.canary_index].quiet_fds[1]);
}

/* ---- the hostile phase's verdict ---- */

struct hostile_verdict {
	int flood_failures_over, bombs_bad, bombs_charged, unlogged_charges, recipes_bad, conn_bad;
	int ledger_check_failed;
};

/* Honest latency in one phase: rows, and 1 when its failure rate is over
 * HONEST_FAIL_PCT_MAX (judged for the floods only). */
static int
summarise_phase(FILE *f, enum phase ph, const struct latency *quiet)
{
	struct latency l = latency_stats((int)ph);
	char name[64];
	const char *p = phase_names[ph];
	size_t failed = l.unexpected + l.bad_output;
	double pct = l.done ? 100.0 * (double)failed / (double)l.done : 0;
	snprintf(name, sizeof name, "honest_%s_queries", p);
	row(f, name, "%zu (%zu released, %zu failed: %.1f%%)", l.done, l.ok, failed, pct);
	snprintf(name, sizeof name, "honest_%s_latency_ms_p50", p);
	row(f, name, "%.1f (x%.2f quiet)", l.p50, quiet->p50 > 0 ? l.p50 / quiet->p50 : 0);
	snprintf(name, sizeof name, "honest_%s_latency_ms_p95", p);
	row(f, name, "%.1f (x%.2f quiet)", l.p95, quiet->p95 > 0 ? l.p95 / quiet->p95 : 0);
	return (ph == PHASE_CONN_FLOOD || ph == PHASE_QUERY_FLOOD) &&
	       (l.done == 0 || pct > HONEST_FAIL_PCT_MAX);
}

/* Peak RSS and descriptors over the whole run, coordinator and nodes. */
static void
summarise_peaks(FILE *f)
{
	long rss[2] = {0, 0};
	int fds[2] = {0, 0};
	for (size_t r = 0; r < g.nrounds; r++)
		for (unsigned i = 0; i <= g.opt.nodes; i++) {
			int k = i > 0;
			rss[k] = g.rounds[r].rss_kb[i] > rss[k] ? g.rounds[r].rss_kb[i] : rss[k];
			fds[k] = g.rounds[r].fds[i] > fds[k] ? g.rounds[r].fds[i] : fds[k];
		}
	row(f, "coordinator_rss_kb_peak", "%ld", rss[0]);
	row(f, "coordinator_fds_peak", "%d", fds[0]);
	row(f, "node_max_rss_kb_peak", "%ld", rss[1]);
	row(f, "node_max_fds_peak", "%d", fds[1]);
}

static void
summarise_hostile(FILE *f, struct hostile_verdict *hv)
{
	struct latency quiet = latency_stats(PHASE_NONE);
	row(f, "honest_quiet_latency_ms_p50", "%.1f", quiet.p50);
	row(f, "honest_quiet_latency_ms_p95", "%.1f", quiet.p95);
	for (int ph = PHASE_CONN_FLOOD; ph < PHASES; ph++)
		hv->flood_failures_over += summarise_phase(f, (enum phase)ph, &quiet);
	row(f, "conn_flood_connections_held", "%d of %d (API), %d of %d (hub)", g.h.conn_api_held,
	    FLOOD_API_CONNS, g.h.conn_hub_held, FLOOD_HUB_CONNS);
	row(f, "query_flood_posts", "%lu", g.h.flood_posted);
	row(f, "query_flood_429_retry_after", "%lu", g.h.flood_429);
	row(f, "query_flood_accepted", "%lu", g.h.flood_accepted);
	row(f, "query_flood_gave_up", "%lu", g.h.flood_gave_up);
	row(f, "query_flood_other", "%lu", g.h.flood_other);
	row(f, "cost_bombs_refused", "%u of %u", g.h.bombs_refused, g.h.bombs);
	row(f, "cost_bomb_refusal_ms_max", "%.0f", g.h.bomb_ms_max);
	row(f, "recipes_recovered", "%u of %u", g.h.recipes_ok, g.h.recipes);
	row(f, "recipe_reconnect_s_max", "%.1f (bound %.1f)", g.h.reconnect_s_max,
	    g.h.recovery_bound_s);
	row(f, "recipe_full_query_s_max", "%.1f", g.h.full_query_s_max);
	unsigned ev = g.opt.events;
	hv->conn_bad = (ev & 1u << PHASE_CONN_FLOOD) && !g.h.conn_ok;
	hv->bombs_bad = (ev & EVENT_BOMBS) && (g.h.bombs == 0 || g.h.bombs_refused != g.h.bombs);
	hv->recipes_bad =
	    (ev & 1u << PHASE_RECIPE) && (g.h.recipes == 0 || g.h.recipes_ok != g.h.recipes);
	/* The query flood must have met the limit. */
	hv->conn_bad += (ev & 1u << PHASE_QUERY_FLOOD) && g.h.flood_429 == 0;
}

/* Per node ledger (the daemons stopped): charges whose query the
 * coordinator's log does not hold, and charges of the cost bomb's amount. */
static void
check_ledgers(FILE *f, struct hostile_verdict *hv)
{
	long charges = 0;
	for (unsigned n = 1; n <= g.opt.nodes; n++) {
		char cmd[4000], line[256];
		long unlogged = -1, bombs = -1, all = -1;
		snprintf(
		    cmd, sizeof cmd,
		    "sqlite3 -readonly '%s/site-%u/state/ledger.db' \"ATTACH '%s/coordinator/state/"
		    "transparency.db' AS log; SELECT (SELECT count(*) FROM entries WHERE kind = %d "
		    "AND query_id NOT IN (SELECT query_id FROM log.entries)), (SELECT count(*) "
		    "FROM "
		    "entries WHERE kind = %d AND amount_num * %d = amount_den), (SELECT count(*) "
		    "FROM "
		    "entries WHERE kind = %d);\" 2>&1",
		    g.dir, n, g.dir, 1, 1, BOMB_EPSILON_DEN, 1);
		FILE *p = popen(cmd, "r");
		if (p != NULL && fgets(line, sizeof line, p) != NULL)
			(void)sscanf(line, "%ld|%ld|%ld", &unlogged, &bombs, &all);
		if (p != NULL)
			pclose(p);
		if (unlogged < 0 || bombs < 0 || all <= 0) {
			printf("soak: node-%u ledger: cannot count its charges: %s", n, line);
			hv->ledger_check_failed++;
			continue;
		}
		hv->unlogged_charges += (int)unlogged;
		hv->bombs_charged += (int)bombs;
		charges += all;
	}
	row(f, "ledger_charges_total", "%ld", charges);
	row(f, "ledger_charges_without_log_entry", "%d", hv->unlogged_charges);
	row(f, "ledger_charges_of_cost_bomb", "%d", hv->bombs_charged);
}

static int
hostile_pass(const struct hostile_verdict *hv)
{
	return hv->flood_failures_over == 0 && hv->bombs_bad == 0 && hv->bombs_charged == 0 &&
	       hv->unlogged_charges == 0 && hv->recipes_bad == 0 && hv->conn_bad == 0 &&
	       hv->ledger_check_failed == 0;
}

/* ---- main ---- */

/* "conn_flood,recipe,...": a bit per event; exit 2 naming a bad one. */
static unsigned
parse_events(char *list)
{
	unsigned events = 0;
	for (char *name = strtok(list, ","); name != NULL; name = strtok(NULL, ",")) {
		unsigned bit = strcmp(name, "cost_bomb") == 0 ? EVENT_BOMBS : 0;
		for (int ph = PHASE_CONN_FLOOD; ph < PHASES; ph++)
			if (strcmp(name, phase_names[ph]) == 0)
				bit = 1u << ph;
		if (bit == 0) {
			fprintf(stderr,
			        "soak: --events: \"%s\" is not conn_flood, query_flood, recipe "
			        "or cost_bomb\n",
			        name);
			exit(2);
		}
		events |= bit;
	}
	return events;
}

static void
parse(int argc, char **argv)
{
	static const struct option options[] = {{"minutes", required_argument, NULL, 'm'},
	                                        {"nodes", required_argument, NULL, 'n'},
	                                        {"planners", required_argument, NULL, 'p'},
	                                        {"out", required_argument, NULL, 'o'},
	                                        {"people-per-site", required_argument, NULL, 'k'},
	                                        {"seed", required_argument, NULL, 's'},
	                                        {"interval", required_argument, NULL, 'i'},
	                                        {"warmup", required_argument, NULL, 'w'},
	                                        {"dir", required_argument, NULL, 'd'},
	                                        {"keep", no_argument, NULL, 'K'},
	                                        {"no-canary", no_argument, NULL, 'C'},
	                                        {"no-hostile", no_argument, NULL, 'H'},
	                                        {"events", required_argument, NULL, 'E'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	struct options *o = &g.opt;
	int c;
	*o = (struct options){10, 5, -1, 50, 20, 1000, 7, "build/soak", NULL, 0, 1, 1, EVENTS_ALL};
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->minutes = strtod(optarg, NULL);
			break;
		case 'n':
			o->nodes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			o->planners = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'k':
			o->people_per_site = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			o->interval = strtod(optarg, NULL);
			break;
		case 'w':
			o->warmup = strtod(optarg, NULL);
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'K':
			o->keep = 1;
			break;
		case 'C':
			o->canary = 0;
			break;
		case 'H':
			o->hostile = 0;
			break;
		case 'E':
			o->events = parse_events(optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			exit(2);
		}
	}
	if (optind != argc || !(o->minutes > 0) || o->nodes < 3 || o->nodes > MAX_NODES ||
	    o->planners < 1 || o->planners > MAX_PLANNERS || o->people_per_site < 10 ||
	    !(o->interval >= 0.5)) {
		fputs(usage, stderr);
		exit(2);
	}
	g.duration_s = o->minutes * 60;
	g.warmup_s = o->warmup >= 0 ? o->warmup : fmax(60, 0.1 * g.duration_s);
	g.warmup_s = fmin(g.warmup_s, 0.5 * g.duration_s);
	/* The hostile phase takes the second half of the time after warm-up. */
	g.hostile_s = o->hostile ? g.warmup_s + 0.5 * (g.duration_s - g.warmup_s) : g.duration_s;
}

static FILE *
open_out(const char *name, const char *header)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/%s", g.out, name);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	if (header != NULL)
		fprintf(f, "%s\n", header);
	return f;
}

static void
prepare_dirs(void)
{
	const char *env = getenv("TALLY_BIN");
	snprintf(g.bin, sizeof g.bin, "%s", env != NULL ? env : "build/bin");
	char scratch[1200], cmd[1300];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/scratch'", g.opt.out);
	if (system(cmd) != 0)
		die("cannot make %s", g.opt.out);
	if (realpath(g.opt.out, g.out) == NULL)
		die("%s: %s", g.opt.out, strerror(errno));
	snprintf(scratch, sizeof scratch, "%s/scratch", g.out);
	if (g.opt.dir != NULL) {
		if (mkdir(g.opt.dir, 0700) != 0 && errno != EEXIST)
			die("%s: %s", g.opt.dir, strerror(errno));
		if (realpath(g.opt.dir, g.dir) == NULL)
			die("%s: %s", g.opt.dir, strerror(errno));
	} else {
		snprintf(g.dir, sizeof g.dir, "/tmp/tally-soak-XXXXXX");
		if (mkdtemp(g.dir) == NULL)
			die("cannot make a folder under /tmp");
	}
}

static int
finish(size_t warm, size_t end, const struct latency *l, double load_s)
{
	struct verdict v = {0};
	struct hostile_verdict hv = {0};
	char log[1200];
	FILE *f = open_out("summary.csv", "metric,value");

	printf("\nsoak summary (%u nodes, %u planners, %.1f min, warm-up %.0f s, sampled every "
	       "%.0f s):\n",
	       g.opt.nodes, g.opt.planners, g.opt.minutes, g.warmup_s, g.opt.interval);
	row(f, "nodes", "%u", g.opt.nodes);
	row(f, "planners", "%u", g.opt.planners);
	summarise_latency(f, l, load_s);
	summarise_memory(f, warm, end, &v);
	summarise_fds(f, &v);
	summarise_peaks(f);
	if (g.opt.hostile)
		summarise_hostile(f, &hv);
	row(f, "daemon_deaths", "%d", g.deaths);
	row(f, "coordinator_stalled", "%s", g.stalled ? "YES (see coordinator-stall.txt)" : "no");
	snprintf(log, sizeof log, "%s/demo.log", g.out);
	v.unclean = stop_federation(log);
	row(f, "daemons_not_stopped_cleanly", "%d", v.unclean);
	snprintf(log, sizeof log, "%s/audit.log", g.out);
	v.audit_code =
	    run((const char *const[]){"tally", "audit", "verify", "--dir", g.dir, NULL}, log);
	row(f, "audit_verify_exit", "%d", v.audit_code);
	check_ledgers(f, &hv);
	int canary_ok = g.canary_index == 0 || (v.canary_flagged && v.canary_fds_grown);
	/* Honest failures outside the hostile events: none allowed. */
	struct latency quiet = g.opt.hostile ? latency_stats(PHASE_NONE) : *l;
	int pass = g.deaths == 0 && !g.stalled && quiet.unexpected == 0 && quiet.bad_output == 0 &&
	           l->ok > 0 && v.rss_flagged == 0 && v.fds_grown == 0 && v.unclean == 0 &&
	           v.audit_code == 0 && canary_ok && (!g.opt.hostile || hostile_pass(&hv));
	row(f, "negative_control_canary_caught", "%s",
	    g.canary_index == 0 ? "skipped"
	    : canary_ok         ? "yes"
	                        : "NO");
	row(f, "verdict", "%s", pass ? "PASS" : "FAIL");
	fclose(f);
	return pass;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--canary") == 0)
		return canary_main(strtol(argv[2], NULL, 10));
	parse(argc, argv);
	if (tly_crypto_init() != TLY_OK) /* the query flood signs in-process */
		die("cannot initialise libsodium");
	prepare_dirs();
	signal(SIGPIPE, SIG_IGN);
	g.failures = open_out("failures.log", NULL);
	printf("soak: federation in %s, output in %s\n", g.dir, g.out);
	set_up();
	prime();
	pause_s(5);
	quiet_sample(0);
	if (g.opt.canary)
		start_canary();
	g.samples_csv = open_out("samples.csv", "t_s,process,rss_kb,fds,hostile");
	g.hostile_csv = open_out("hostile.csv", "t_s,event,outcome,duration_ms,detail");
	g.phases_csv = open_out("phases.csv", "event,start_s,end_s");
	g.latency_csv = open_out("latency.csv", "t_s,planner,query,exit_code,latency_ms,hostile");
	g.nrecords = 0;
	printf("soak: %u planners for %.1f min (warm-up %.0f s)\n", g.opt.planners, g.opt.minutes,
	       g.warmup_s);
	run_load();
	double load_s = since(&g.t0);
	struct latency l = latency_stats(-1);
	if (!g.stalled)
		drain();
	quiet_sample(1);
	if (g.canary_index > 0) {
		kill(g.procs[g.canary_index].pid, SIGKILL);
		waitpid(g.procs[g.canary_index].pid, NULL, 0);
		g.procs[g.canary_index].alive = 0;
	}
	/* Growth is judged after warm-up and before the hostile phase. */
	size_t warm = 0, end = g.nrounds ? g.nrounds - 1 : 0;
	while (warm + 1 < g.nrounds && g.rounds[warm].t_s < g.warmup_s)
		warm++;
	while (end > warm && g.rounds[end].t_s > g.hostile_s)
		end--;
	if (g.nrounds < 3 || end < warm + 2)
		die("too few samples (%zu, %zu judged); run longer", g.nrounds, end - warm + 1);
	int pass = finish(warm, end, &l, load_s);
	fclose(g.samples_csv);
	fclose(g.latency_csv);
	fclose(g.hostile_csv);
	fclose(g.phases_csv);
	fclose(g.failures);
	char cmd[1300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s/scratch'", g.out);
	(void)!system(cmd);
	if (pass && !g.opt.keep) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", g.dir);
		(void)!system(cmd);
	} else {
		printf("soak: the federation's files are kept in %s\n", g.dir);
	}
	return pass ? 0 : 1;
}
