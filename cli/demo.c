#include "demo.h"
#include "cli/demo_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/pki.h"
#include "cli/query.h"
#include "cli/synth.h"
#include "crypto/wipe.h"
#include "store/keys.h"
#include "net/process.h"
#include "net/transport.h"

extern char **environ;

/* READY_TIMEOUT_S: the federation comes up in about a second on an idle
 * machine; a loaded CI machine (two cores shared with a soak and a test
 * suite) has been seen to pass 30 s. Wall-clock time, not tries: each
 * try's request can itself take seconds under load. */
enum { EXIT_USAGE = 2, MAX_SITES = TLY_DEMO_SITES_MAX, READY_TIMEOUT_S = TLY_DEMO_READY_S };

static const char usage[] =
    "usage: tally demo [--sites N] [--people M] [--seed S] [--protocol P] [--dir DIR]\n"
    "                  [--keep]\n"
    "       tally demo --serve --dir DIR [--sites N] [--people M] [--seed S] [--protocol P]\n"
    "       tally demo --stop --dir DIR\n"
    "       tally demo --status --dir DIR\n"
    "       tally demo --restart NAME --dir DIR\n"
    "\n"
    "Set up a federation of N synthetic trusts on this machine (PKI, data,\n"
    "configs), start a coordinator and N nodes on loopback over mutual TLS, ask\n"
    "the demo questions and print each answer with its 95% interval beside the\n"
    "synthetic truth, verify every log, and stop everything.\n"
    "\n"
    "  --sites N     trusts, 3..50 (default 5)\n"
    "  --people M    people across all trusts (default 100000)\n"
    "  --seed S      synthetic data seed (default 1)\n"
    "  --protocol P  how the nodes' answers are added up: committee (secret\n"
    "                sharing to a committee of trusts), secagg or secagg+\n"
    "                (pairwise masking), or auto (default: the coordinator\n"
    "                chooses by the number of trusts)\n"
    "  --dir DIR     where everything goes (default: a new folder under /tmp)\n"
    "  --keep        keep DIR afterwards (always kept with --serve)\n"
    "  --serve       start the federation and leave it running; writes\n"
    "                DIR/planner.conf for `tally query --config DIR/planner.conf`\n"
    "  --stop        stop a federation started with --serve\n"
    "  --status      one line per daemon of a served federation: its name, state\n"
    "                (running or down), pid, start time and log, and for the\n"
    "                coordinator how many nodes are connected; exit 0 when all\n"
    "                run, 3 when any is down, 1 when DIR holds no federation\n"
    "  --restart NAME  stop the daemon NAME of a served federation (SIGTERM,\n"
    "                SIGKILL after 10 s) if it runs, start it again with the same\n"
    "                config and log (appended), and wait until it is up. NAME is\n"
    "                as its pid file DIR/run/NAME.pid: coordinator or node-N\n"
    "                (N = 1..sites); an unknown NAME exits 2 naming the valid ones\n";

static char self_dir[PATH_MAX];

int
tly_demo_join(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

static int
make_dir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST;
}

static int
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok = f != NULL && fputs(text, f) >= 0;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok;
}

/* A free TCP port on loopback (the kernel's choice). */
static int
free_port(void)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
		port = ntohs(addr.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ---- laying out the federation ---- */

struct layout {
	const char *dir;
	unsigned sites;
	int listen_port, api_port;
	const char *protocol; /* [rounds] protocol */
};

static tly_err
write_keys(const char *keys_dir, uint32_t id, int with_kx, struct tly_party *pub, char *why,
           size_t why_len)
{
	struct tly_identity identity;
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	char path[PATH_MAX];
	tly_err rv = tly_identity_generate(&identity, id, with_kx);

	if (rv != TLY_OK)
		return rv;
	tly_sign_key_seed(identity.sign, seed);
	if (!make_dir(keys_dir)) {
		tly_say(why, why_len, "%s: %s", keys_dir, strerror(errno));
		rv = TLY_EIO;
	}
	if (rv == TLY_OK) {
		tly_demo_join(path, sizeof path, "%s/%s.sign", keys_dir,
		              with_kx ? "node" : "coordinator");
		rv = tly_key_file_write(path, seed, sizeof seed, why, why_len);
	}
	if (rv == TLY_OK && with_kx) {
		tly_demo_join(path, sizeof path, "%s/node.kx", keys_dir);
		rv = tly_key_file_write(path, identity.kx_sk, TLY_KX_SECRET_BYTES, why, why_len);
	}
	if (rv == TLY_OK)
		tly_identity_public(&identity, pub);
	TLY_WIPE_OBJ(seed);
	tly_identity_fini(&identity);
	return rv;
}

static const char coordinator_conf[] = "; Coordinator of the `tally demo` federation.\n"
                                       "[coordinator]\n"
                                       "listen = tls+tcp://127.0.0.1:%d\n"
                                       "api = https://127.0.0.1:%d\n"
                                       "tls_cert = pki/coordinator.crt\n"
                                       "tls_key = pki/coordinator.key\n"
                                       "tls_node_ca = ../pki/node-ca.crt\n"
                                       "tls_planner_ca = ../pki/planner-ca.crt\n"
                                       "sign_key = keys/coordinator.sign\n"
                                       "registry = ../registry.ini\n"
                                       "planners = ../planners.ini\n"
                                       "catalogue = ../catalogue.json\n"
                                       "log = state/transparency.db\n"
                                       "%s"
                                       "\n"
                                       "[rounds]\n"
                                       "protocol = %s\n"
                                       "committee_size = %u\n"
                                       "threshold = 2\n"
                                       "quorum = 3\n"
                                       "deadline_ms = 10000\n"
                                       "\n"
                                       "[policy]\n"
                                       "min_contributors = 3\n"
                                       "min_honest = 2\n"
                                       "mechanisms = laplace, gaussian\n"
                                       "suppress_below = 0\n"
                                       "round_to = 0\n";

static const char planner_conf[] = "; Planner of the `tally demo` federation.\n"
                                   "[planner]\n"
                                   "api = https://127.0.0.1:%d\n"
                                   "name = planner\n"
                                   "sign_key = pki/planner.sign\n"
                                   "tls_cert = pki/planner.crt\n"
                                   "tls_key = pki/planner.key\n"
                                   "tls_ca = pki/coordinator-ca.crt\n";

/* pki/planner.sign and DIR/planners.ini, which lists its public key. */
static tly_err
write_planners(const char *dir, const char *pki, char *why, size_t why_len)
{
	char path[PATH_MAX], text[256], hex[65];
	uint8_t pk[32];
	tly_err rv = tly_pki_planner_key(pki, "planner", pk, why, why_len);

	if (rv != TLY_OK)
		return rv;
	tly_hex(hex, pk, sizeof pk);
	tly_demo_join(path, sizeof path, "%s/planners.ini", dir);
	tly_demo_join(
	    text, sizeof text,
	    "; Planners the coordinator accepts queries from (tally pki issue --role planner)\n"
	    "[planner planner]\nsign_pk = %s\n",
	    hex);
	if (!write_text(path, text)) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	return TLY_OK;
}

/* "web_root = ...\n" for the source tree's web/ when this tally runs
 * from a build folder (build/bin or build/NAME/bin), else "" (an installed
 * coordinator finds BINDIR/../share/tally/web by itself). */
static void
web_section(char *out, size_t len)
{
	static const char *const ups[] = {"../..", "../../.."};
	char index[PATH_MAX + 64];

	out[0] = '\0';
	for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
		tly_demo_join(index, sizeof index, "%s/%s/web/index.html", self_dir, ups[i]);
		if (access(index, R_OK) != 0)
			continue;
		tly_demo_join(out, len, "web_root = %s/%s/web\n", self_dir, ups[i]);
		return;
	}
}

static tly_err
lay_out(const struct layout *l, uint64_t people, uint64_t seed, char *why, size_t why_len)
{
	char path[PATH_MAX], sub[PATH_MAX], text[4096], coordinator[300];
	struct tly_party parties[MAX_SITES], coord_pub;
	tly_err rv;

	tly_demo_join(coordinator, sizeof coordinator, "tls+tcp://127.0.0.1:%d", l->listen_port);
	struct tly_synth_options opt = {.sites = l->sites,
	                                .people = people,
	                                .seed = seed,
	                                .out_dir = l->dir,
	                                .coordinator = coordinator,
	                                .quiet = 1};
	if ((rv = tly_synth(&opt, why, why_len)) != TLY_OK)
		return rv;
	tly_demo_join(path, sizeof path, "%s/pki", l->dir);
	if ((rv = tly_pki_init(path, 0, NULL, why, why_len)) != TLY_OK)
		return rv;
	/* The coordinator: keys, certificate for localhost and 127.0.0.1. */
	tly_demo_join(sub, sizeof sub, "%s/coordinator", l->dir);
	make_dir(sub);
	tly_demo_join(text, sizeof text, "%s/state", sub);
	make_dir(text);
	tly_demo_join(text, sizeof text, "%s/keys", sub);
	if ((rv = write_keys(text, 0, 0, &coord_pub, why, why_len)) != TLY_OK)
		return rv;
	tly_demo_join(text, sizeof text, "%s/pki", sub);
	const char *hosts[] = {"localhost", "127.0.0.1"};
	if ((rv = tly_pki_issue(path, "coordinator", TLY_PKI_COORDINATOR, hosts, 2, text, 0, why,
	                        why_len)) != TLY_OK)
		return rv;
	/* Each site. */
	for (unsigned s = 1; s <= l->sites; s++) {
		char name[32];
		tly_demo_join(sub, sizeof sub, "%s/site-%u", l->dir, s);
		tly_demo_join(text, sizeof text, "%s/keys", sub);
		if ((rv = write_keys(text, s, 1, &parties[s - 1], why, why_len)) != TLY_OK)
			return rv;
		parties[s - 1].id = s;
		tly_demo_join(text, sizeof text, "%s/pki", sub);
		tly_demo_join(name, sizeof name, "node-%u", s);
		if ((rv = tly_pki_issue(path, name, TLY_PKI_NODE, NULL, 0, text, 0, why,
		                        why_len)) != TLY_OK)
			return rv;
	}
	/* The planner: certificate, signing key, and the planners file. */
	if ((rv = tly_pki_issue(path, "planner", TLY_PKI_PLANNER, NULL, 0, path, 0, why,
	                        why_len)) != TLY_OK ||
	    (rv = write_planners(l->dir, path, why, why_len)) != TLY_OK)
		return rv;
	/* Registry, configs. */
	struct tly_roster roster;
	if ((rv = tly_roster_init(&roster, coord_pub.sign_pk, parties, l->sites)) != TLY_OK)
		return rv;
	tly_demo_join(path, sizeof path, "%s/registry.ini", l->dir);
	rv = tly_registry_write(&roster, path, why, why_len);
	tly_roster_fini(&roster);
	if (rv != TLY_OK)
		return rv;
	tly_demo_join(path, sizeof path, "%s/coordinator/coordinator.conf", l->dir);
	/* k = 4, t = 2, q = 3 (one member may drop); three sites: k = q = 3. */
	char web[PATH_MAX + 32];
	web_section(web, sizeof web);
	tly_demo_join(text, sizeof text, coordinator_conf, l->listen_port, l->api_port, web,
	              l->protocol, l->sites >= 4 ? 4u : 3u);
	if (!write_text(path, text)) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	tly_demo_join(path, sizeof path, "%s/planner.conf", l->dir);
	tly_demo_join(text, sizeof text, planner_conf, l->api_port);
	if (!write_text(path, text)) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	tly_demo_join(path, sizeof path, "%s/logs", l->dir);
	make_dir(path);
	tly_demo_join(path, sizeof path, "%s/run", l->dir);
	make_dir(path);
	return TLY_OK;
}

/* ---- processes ---- */

pid_t
tly_demo_spawn(const char *dir, const char *name, const char *program, const char *config)
{
	char exe[PATH_MAX], log[PATH_MAX], pidfile[PATH_MAX];
	posix_spawn_file_actions_t actions;
	pid_t pid;

	tly_demo_join(exe, sizeof exe, "%s/%s", self_dir, program);
	tly_demo_join(log, sizeof log, "%s/logs/%s.log", dir, name);
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	char *const argv[] = {(char *)program, "--config", (char *)config, NULL};
	int rc = posix_spawn(&pid, exe, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0) {
		fprintf(stderr, "tally demo: cannot start %s: %s\n", exe, strerror(rc));
		return -1;
	}
	tly_demo_join(pidfile, sizeof pidfile, "%s/run/%s.pid", dir, name);
	FILE *f = fopen(pidfile, "w");
	if (f != NULL) {
		fprintf(f, "%ld\n", (long)pid);
		fclose(f);
	}
	return pid;
}

/* SIGTERM every process with a pid file under DIR/run, wait up to 10 s,
 * then SIGKILL what is left. Returns how many were stopped. */
static int
stop_all(const char *dir)
{
	char path[PATH_MAX];
	pid_t pids[MAX_SITES + 1];
	int count = 0;

	for (unsigned i = 0; i <= MAX_SITES; i++) {
		if (i == 0)
			tly_demo_join(path, sizeof path, "%s/run/coordinator.pid", dir);
		else
			tly_demo_join(path, sizeof path, "%s/run/node-%u.pid", dir, i);
		FILE *f = fopen(path, "r");
		long pid;
		if (f == NULL)
			continue;
		if (fscanf(f, "%ld", &pid) == 1 && pid > 1 && kill((pid_t)pid, SIGTERM) == 0)
			pids[count++] = (pid_t)pid;
		fclose(f);
		unlink(path);
	}
	for (int waited = 0; waited < 100; waited++) {
		int alive = 0;
		for (int i = 0; i < count; i++) {
			waitpid(pids[i], NULL, WNOHANG); /* reaps our own children */
			if (kill(pids[i], 0) == 0)
				alive++;
		}
		if (alive == 0)
			return count;
		struct timespec pause = {0, 100000000};
		nanosleep(&pause, NULL);
	}
	for (int i = 0; i < count; i++)
		if (kill(pids[i], SIGKILL) == 0)
			waitpid(pids[i], NULL, 0);
	return count;
}

static const char *interrupted_dir;

static void
on_interrupt(int sig)
{
	(void)sig;
	if (interrupted_dir != NULL)
		stop_all(interrupted_dir);
	_exit(130);
}

/* ---- talking to the API ---- */

json_t *
tly_demo_request(const struct tly_demo_api *api, const char *method, const char *path,
                 const char *body, int *status, char *why, size_t why_len)
{
	char url[300];
	uint8_t *response = NULL;
	size_t len = 0;
	struct tly_tls_files tls = {.cert = api->cert, .key = api->key, .ca = api->ca};

	tly_demo_join(url, sizeof url, "%s%s", api->url, path);
	size_t body_len = body != NULL ? strlen(body) : 0;
	char auth[TLY_PLANNER_HEADER_MAX];
	int post = strcmp(method, "POST") == 0;
	if (post && tly_query_sign(auth, "planner", api->sign_key, method, path,
	                           (const uint8_t *)body, body_len, why, why_len) != TLY_OK)
		return NULL;
	if (tly_https_request_signed(url, method, &tls, post ? auth : NULL, (const uint8_t *)body,
	                             body_len, 120000, status, &response, &len, why,
	                             why_len) != TLY_OK)
		return NULL;
	json_error_t err;
	json_t *json = json_loadb((const char *)response, len, 0, &err);
	free(response);
	if (json == NULL)
		tly_say(why, why_len, "the API answered %d without JSON", *status);
	return json;
}

static int
wait_ready(const struct tly_demo_api *api, unsigned sites)
{
	char why[300] = "";
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (now = start; now.tv_sec - start.tv_sec < READY_TIMEOUT_S;
	     clock_gettime(CLOCK_MONOTONIC, &now)) {
		int status = 0;
		json_t *st =
		    tly_demo_request(api, "GET", "/v1/status", NULL, &status, why, sizeof why);
		if (st != NULL) {
			json_int_t connected =
			    json_integer_value(json_object_get(st, "nodes_connected"));
			json_decref(st);
			if (status == 200 && connected >= (json_int_t)sites)
				return 0;
		}
		struct timespec pause = {0, 200000000};
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "tally demo: the federation did not come up within %d s (%s)\n",
	        READY_TIMEOUT_S, why);
	return -1;
}

/* ---- the demo questions ---- */

static const char *const demo_queries[] = {"diabetes_by_age_sex.json",
                                           "mean_wait_by_specialty.json", "ae_histogram.json"};
static const char *const demo_titles[] = {
    "People with diabetes, by age band and sex (count, discrete Laplace, epsilon 0.5)",
    "Mean wait in weeks for elective care, by specialty (discrete Laplace, epsilon 1)",
    "A&E attendances in the last 12 months (histogram, zCDP, rho 0.1)"};

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = f ? malloc(1 << 20) : NULL;
	size_t len = 0;
	if (text != NULL) {
		len = fread(text, 1, (1 << 20) - 1, f);
		text[len] = '\0';
	}
	if (f != NULL)
		fclose(f);
	return text;
}

static void
group_label(json_t *group, char *out, size_t len)
{
	const char *key;
	json_t *value;
	size_t used = 0;
	out[0] = '\0';
	json_object_foreach(group, key, value)
	{
		int n = snprintf(out + used, len - used, "%s%s", used ? " " : "",
		                 json_is_string(value) ? json_string_value(value) : "?");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	(void)key;
}

/* Print one answer beside the truth; returns cells whose interval covered
 * the truth, and counts cells in *total. */
static int
print_answer(int q, json_t *result, json_t *truth, int *total)
{
	json_t *cells = json_object_get(result, "cells");
	json_t *privacy = json_object_get(result, "privacy");
	size_t i;
	json_t *cell;
	int covered = 0;

	const char *asked = json_string_value(json_object_get(result, "description"));
	printf("\n%s\n", demo_titles[q]);
	if (asked != NULL)
		printf("  asked: %s\n", asked);
	printf("  %lld trusts contributed; noise sd %.2f per cell\n",
	       (long long)json_integer_value(json_object_get(result, "contributors")),
	       json_number_value(json_object_get(privacy, "noise_sd")));
	printf("  %-28s %12s   %-22s %12s\n", "cell", "released", "95% interval", "truth");
	json_array_foreach(cells, i, cell)
	{
		char label[128], interval[64];
		json_t *t = json_array_get(truth, i);
		double value = json_number_value(json_object_get(cell, "value"));
		double truth_value = json_number_value(json_object_get(t, "value"));
		json_t *ci = json_object_get(cell, "ci95");
		double lo = json_number_value(json_array_get(ci, 0));
		double hi = json_number_value(json_array_get(ci, 1));
		group_label(json_object_get(cell, "group"), label, sizeof label);
		if (label[0] == '\0')
			group_label(json_object_get(t, "group"), label, sizeof label);
		snprintf(interval, sizeof interval, "[%.1f, %.1f]", lo, hi);
		int in = truth_value >= lo && truth_value <= hi;
		covered += in;
		(*total)++;
		printf("  %-28s %12.1f   %-22s %12.1f %s\n", label, value, interval, truth_value,
		       in ? "" : " (outside)");
	}
	return covered;
}

static int
ask_demo_questions(const char *dir, const struct tly_demo_api *api)
{
	char path[PATH_MAX], why[600];
	char *truth_text;
	json_error_t err;
	int covered = 0, total = 0, failures = 0;

	tly_demo_join(path, sizeof path, "%s/truth.json", dir);
	truth_text = read_file(path);
	json_t *truth = truth_text ? json_loads(truth_text, 0, &err) : NULL;
	free(truth_text);
	if (truth == NULL) {
		fprintf(stderr, "tally demo: cannot read %s\n", path);
		return -1;
	}
	for (int q = 0; q < 3; q++) {
		tly_demo_join(path, sizeof path, "%s/queries/%s", dir, demo_queries[q]);
		char *spec = read_file(path);
		int status = 0;
		json_t *result = spec ? tly_demo_request(api, "POST", "/v1/queries", spec, &status,
		                                         why, sizeof why)
		                      : NULL;
		free(spec);
		if (result == NULL || status != 200) {
			json_t *e = json_object_get(result, "error");
			fprintf(stderr, "tally demo: %s failed: %s\n", demo_queries[q],
			        e ? json_string_value(json_object_get(e, "message")) : why);
			json_decref(result);
			failures++;
			continue;
		}
		json_t *t = json_object_get(json_object_get(truth, "queries"), demo_queries[q]);
		covered += print_answer(q, result, t, &total);
		json_decref(result);
	}
	json_decref(truth);
	printf("\n%d of %d released cells have the truth inside their 95%% interval.\n", covered,
	       total);
	return failures == 0 ? 0 : -1;
}

static int
audit(const char *dir)
{
	char exe[PATH_MAX];
	pid_t pid;
	int status;
	tly_demo_join(exe, sizeof exe, "%s/tally", self_dir);
	char *const argv[] = {"tally", "audit", "verify", "--dir", (char *)dir, NULL};
	printf("\nVerifying every log: tally audit verify --dir %s\n", dir);
	fflush(stdout);
	if (posix_spawn(&pid, exe, NULL, NULL, argv, environ) != 0)
		return -1;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- the command ---- */

void
tly_demo_find_self(void)
{
	ssize_t n = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
	if (n <= 0) {
		snprintf(self_dir, sizeof self_dir, ".");
		return;
	}
	self_dir[n] = '\0';
	char *slash = strrchr(self_dir, '/');
	if (slash != NULL)
		*slash = '\0';
}

struct demo_args {
	unsigned long sites, people, seed;
	const char *dir;
	int keep, serve, stop;
	const char *protocol;
	int status;          /* --status */
	const char *restart; /* --restart NAME */
};

static int
protocol_known(const char *name)
{
	static const char *const names[] = {"auto", "committee", "secagg", "secagg+"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

/* The flags of --status and --restart: alone with --dir. Returns -1 to go
 * on, else the exit code. */
static int
daemons_args(const struct demo_args *a, int argc)
{
	const char *wrong = a->status && a->restart != NULL ? "give one of --status and --restart"
	                    : a->serve || a->stop
	                        ? "--status and --restart go without --serve and --stop"
	                    : a->dir == NULL ? "--status and --restart need --dir DIR"
	                    : optind != argc ? "unexpected argument"
	                                     : NULL;
	if (wrong == NULL)
		return -1;
	fprintf(stderr, "tally demo: %s (see 'tally demo --help')\n", wrong);
	return EXIT_USAGE;
}

/* Step 1: the flags. Returns -1 to go on, else the exit code. */
static int
demo_args(int argc, char **argv, struct demo_args *a)
{
	static const struct option options[] = {
	    {"sites", required_argument, NULL, 'n'},    {"people", required_argument, NULL, 'm'},
	    {"seed", required_argument, NULL, 's'},     {"dir", required_argument, NULL, 'd'},
	    {"protocol", required_argument, NULL, 'p'}, {"keep", no_argument, NULL, 'k'},
	    {"serve", no_argument, NULL, 'S'},          {"stop", no_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},           {"status", no_argument, NULL, 'T'},
	    {"restart", required_argument, NULL, 'R'},  {NULL, 0, NULL, 0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'n':
			a->sites = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			a->people = strtoul(optarg, NULL, 10);
			break;
		case 's':
			a->seed = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			a->dir = optarg;
			break;
		case 'p':
			a->protocol = optarg;
			break;
		case 'k':
			a->keep = 1;
			break;
		case 'S':
			a->serve = 1;
			break;
		case 'X':
			a->stop = 1;
			break;
		case 'T':
			a->status = 1;
			break;
		case 'R':
			a->restart = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return tly_process_bad_option("tally demo", options, argc, argv);
		}
	}
	if (a->status || a->restart != NULL)
		return daemons_args(a, argc);
	if (!protocol_known(a->protocol)) {
		fprintf(stderr,
		        "tally demo: --protocol: unknown protocol \"%s\"; use auto, committee, "
		        "secagg or secagg+\n",
		        a->protocol);
		return EXIT_USAGE;
	}
	if (optind != argc || a->sites < 3 || a->sites > MAX_SITES || a->people < a->sites * 10 ||
	    (a->serve && a->stop) || ((a->serve || a->stop) && a->dir == NULL)) {
		fprintf(stderr, "tally demo: %s\n%s",
		        (a->serve || a->stop) && a->dir == NULL
		            ? "--serve and --stop need --dir DIR"
		        : a->sites < 3 || a->sites > MAX_SITES ? "--sites must be 3..50"
		        : a->people < a->sites * 10 ? "--people must be at least 10 per site"
		                                    : "bad arguments",
		        usage);
		return EXIT_USAGE;
	}
	return -1;
}

/* Step 2: the folder, made under /tmp (into buf) when no --dir was given.
 * Returns 0, or 1 after saying why. */
static int
demo_dir(const char **dir, char *buf, size_t len)
{
	if (*dir == NULL) {
		snprintf(buf, len, "/tmp/tally-demo-XXXXXX");
		if (mkdtemp(buf) == NULL) {
			fprintf(stderr, "tally demo: cannot make a folder under /tmp\n");
			return 1;
		}
		*dir = buf;
	} else if (!make_dir(*dir)) {
		fprintf(stderr, "tally demo: %s: %s\n", *dir, strerror(errno));
		return 1;
	}
	return 0;
}

/* Step 3: the coordinator and the nodes started (SIGINT and SIGTERM stop
 * them), and the planner's API named. Returns 0 once every node is ready. */
static int
start_federation(const char *dir, unsigned long sites, const struct layout *l,
                 struct tly_demo_api *api)
{
	interrupted_dir = dir;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	char config[PATH_MAX];
	tly_demo_join(config, sizeof config, "%s/coordinator/coordinator.conf", dir);
	int rc = tly_demo_spawn(dir, "coordinator", "tally-coordinator", config) > 0 ? 0 : 1;
	for (unsigned s = 1; rc == 0 && s <= sites; s++) {
		char name[32];
		tly_demo_join(name, sizeof name, "node-%u", s);
		tly_demo_join(config, sizeof config, "%s/site-%u/node.conf", dir, s);
		if (tly_demo_spawn(dir, name, "tally-node", config) <= 0)
			rc = 1;
	}
	tly_demo_join(api->url, sizeof api->url, "https://127.0.0.1:%d", l->api_port);
	tly_demo_join(api->cert, sizeof api->cert, "%s/pki/planner.crt", dir);
	tly_demo_join(api->key, sizeof api->key, "%s/pki/planner.key", dir);
	tly_demo_join(api->ca, sizeof api->ca, "%s/pki/coordinator-ca.crt", dir);
	tly_demo_join(api->sign_key, sizeof api->sign_key, "%s/pki/planner.sign", dir);
	if (rc == 0 && wait_ready(api, (unsigned)sites) != 0)
		rc = 1;
	return rc;
}

/* Step 5: every process stopped, the logs audited, and the folder removed
 * when it was a temporary one (and no --keep). Returns the exit code. */
static int
demo_end(const char *dir, int rc, int remove)
{
	stop_all(dir);
	interrupted_dir = NULL;
	if (rc == 0 && audit(dir) != 0)
		rc = 1;
	if (rc != 0)
		fprintf(stderr, "tally demo: FAILED; the logs are in %s/logs\n", dir);
	else
		printf("\ntally demo: done; every process stopped.\n");
	if (rc == 0 && remove) {
		char cmd[PATH_MAX + 16];
		tly_demo_join(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "tally demo: could not remove %s\n", dir);
	}
	return rc;
}

int
tly_demo_main(int argc, char **argv)
{
	struct demo_args a = {5, 100000, 1, NULL, 0, 0, 0, "auto", 0, NULL};
	char dir_buf[PATH_MAX], why[600];
	struct tly_demo_api api;

	/* Step 1 */
	int rc = demo_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	tly_demo_find_self();
	if (a.status)
		return tly_demo_status(a.dir);
	if (a.restart != NULL)
		return tly_demo_restart(a.dir, a.restart);
	if (a.stop) {
		int stopped = stop_all(a.dir);
		printf("stopped %d process(es) of the federation in %s\n", stopped, a.dir);
		return 0;
	}
	/* Step 2 */
	if (demo_dir(&a.dir, dir_buf, sizeof dir_buf) != 0)
		return 1;
	struct layout l = {a.dir, (unsigned)a.sites, free_port(), free_port(), a.protocol};
	printf("tally demo: %lu synthetic trusts, %lu people, protocol %s, in %s\n", a.sites,
	       a.people, a.protocol, a.dir);
	if (lay_out(&l, a.people, a.seed, why, sizeof why) != TLY_OK) {
		fprintf(stderr, "tally demo: %s\n", why);
		return 1;
	}
	printf("  PKI, keys, data, registry and configs written\n");
	/* Step 3 */
	rc = start_federation(a.dir, a.sites, &l, &api);
	if (rc == 0)
		printf("  coordinator and %lu nodes running on loopback over mutual TLS (API %s)\n",
		       a.sites, api.url);
	if (rc == 0 && a.serve) {
		printf("\nThe federation is running. Ask it questions with\n"
		       "  tally query --config %s/planner.conf --count --by sex --epsilon 0.5\n"
		       "or in a browser at %s/ (the dashboard: docs/OPERATIONS.md, \"The "
		       "dashboard\")\n"
		       "and stop it with\n  tally demo --stop --dir %s\n",
		       a.dir, api.url, a.dir);
		return 0;
	}
	/* Step 4 */
	if (rc == 0 && ask_demo_questions(a.dir, &api) != 0)
		rc = 1;
	/* Step 5 */
	return demo_end(a.dir, rc, !a.keep && a.dir == dir_buf);
}
