/* A `tally demo --serve` federation for the process-level suites (demo.h). */
#include "demo.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "tests/daemons.h"

void
dmn_demo_init(struct dmn_demo *d, const char *name)
{
	const char *env = getenv("TALLY_BIN");

	memset(d, 0, sizeof *d);
	snprintf(d->bin, sizeof d->bin, "%s", env != NULL ? env : "build/bin");
	snprintf(d->dir, sizeof d->dir, "/tmp/tally-%s-XXXXXX", name);
	cr_assert_not_null(mkdtemp(d->dir));
}

void
dmn_demo_serve(struct dmn_demo *d, int sites, int people, int seed)
{
	dmn_demo_serve_protocol(d, sites, people, seed, "auto");
}

void
dmn_demo_serve_protocol(struct dmn_demo *d, int sites, int people, int seed, const char *protocol)
{
	char n[16], p[16], s[16];

	snprintf(n, sizeof n, "%d", sites);
	snprintf(p, sizeof p, "%d", people);
	snprintf(s, sizeof s, "%d", seed);
	cr_assert_eq(
	    dmn_demo_run(d, (const char *const[]){"tally", "demo", "--serve", "--dir", d->dir,
	                                          "--sites", n, "--people", p, "--seed", s,
	                                          "--protocol", protocol, NULL}),
	    0, "tally demo --serve --protocol %s failed", protocol);
	cr_assert(dmn_planner_api(d->dir, d->api, sizeof d->api), "no api in %s/planner.conf",
	          d->dir);
}

void
dmn_demo_fini(const struct dmn_demo *d)
{
	char cmd[300];

	if (d->dir[0] == '\0')
		return;
	(void)dmn_demo_run(d,
	                   (const char *const[]){"tally", "demo", "--stop", "--dir", d->dir, NULL});
	snprintf(cmd, sizeof cmd, "rm -rf %s", d->dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", d->dir);
}

void
dmn_demo_path(const struct dmn_demo *d, char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", d->dir, rel);
}

int
dmn_demo_run_to(const struct dmn_demo *d, const char *log, const char *const argv[])
{
	char program[1200];

	snprintf(program, sizeof program, "%s/%s", d->bin, argv[0]);
	return dmn_wait(dmn_spawn(program, argv, log, 0));
}

pid_t
dmn_demo_spawn(const struct dmn_demo *d, const char *out, const char *err, const char *const argv[])
{
	char program[1200];

	snprintf(program, sizeof program, "%s/%s", d->bin, argv[0]);
	return dmn_spawn_split(program, argv, out, err);
}

int
dmn_demo_run_split(const struct dmn_demo *d, const char *out, const char *err,
                   const char *const argv[])
{
	return dmn_wait(dmn_demo_spawn(d, out, err, argv));
}

int
dmn_demo_run(const struct dmn_demo *d, const char *const argv[])
{
	char log[300];

	dmn_demo_path(d, log, sizeof log, "out.txt");
	return dmn_demo_run_to(d, log, argv);
}

void
dmn_demo_stop(const struct dmn_demo *d, const char *name, long cap_ms)
{
	pid_t pid = dmn_pid_of(d->dir, name);

	cr_assert_gt(pid, 0, "no pid in %s/run/%s.pid", d->dir, name);
	cr_assert_eq(kill(pid, SIGTERM), 0, "%s is not running", name);
	dmn_wait_gone(pid, cap_ms);
}

void
dmn_demo_conf(const struct dmn_demo *d, const char *name, char *out, size_t len)
{
	if (strcmp(name, "coordinator") == 0)
		snprintf(out, len, "%s/coordinator/coordinator.conf", d->dir);
	else
		snprintf(out, len, "%s/site-%s/node.conf", d->dir, name + strlen("node-"));
}

pid_t
dmn_demo_start(const struct dmn_demo *d, const char *name, const char *log, int append)
{
	const char *program = strcmp(name, "coordinator") == 0 ? "tally-coordinator" : "tally-node";
	char conf[300], exe[1200];
	pid_t pid;

	dmn_demo_conf(d, name, conf, sizeof conf);
	snprintf(exe, sizeof exe, "%s/%s", d->bin, program);
	pid = dmn_spawn(exe, (const char *const[]){program, "--config", conf, NULL}, log, append);
	dmn_write_pid(d->dir, name, pid);
	return pid;
}

void
dmn_planner_tls(const char *dir, struct dmn_tls_paths *paths)
{
	snprintf(paths->cert, sizeof paths->cert, "%s/pki/planner.crt", dir);
	snprintf(paths->key, sizeof paths->key, "%s/pki/planner.key", dir);
	snprintf(paths->ca, sizeof paths->ca, "%s/pki/coordinator-ca.crt", dir);
}

int
dmn_demo_api_get(const struct dmn_demo *d, const char *rel, int limit_ms, double *ms, json_t **body)
{
	char url[300], why[300];
	struct dmn_tls_paths paths;
	dmn_planner_tls(d->dir, &paths);
	struct tly_tls_files tls = {paths.cert, paths.key, paths.ca, NULL};
	uint8_t *response = NULL;
	size_t len = 0;
	int status = 0;

	snprintf(url, sizeof url, "%s%s", d->api, rel);
	double start = dmn_now_s();
	tly_err rv = tly_https_request(url, "GET", &tls, NULL, 0, limit_ms, &status, &response,
	                               &len, why, sizeof why);
	*ms = (dmn_now_s() - start) * 1000.0;
	if (rv != TLY_OK) {
		fprintf(stderr, "GET %s failed after %.0f ms: %s: %s\n", rel, *ms, tly_strerror(rv),
		        why);
		status = -1;
	}
	if (body != NULL)
		*body = rv == TLY_OK ? json_loadb((const char *)response, len, 0, NULL) : NULL;
	free(response);
	return status;
}

int
dmn_demo_connected(const struct dmn_demo *d, int limit_ms)
{
	double ms;
	json_t *body = NULL;
	int n = -1;

	if (dmn_demo_api_get(d, "/v1/status", limit_ms, &ms, &body) == 200)
		n = (int)json_integer_value(json_object_get(body, "nodes_connected"));
	json_decref(body);
	return n;
}

void
dmn_demo_wait_connected(const struct dmn_demo *d, int want, int limit_ms, int tries)
{
	int n = -1;

	for (int i = 0; i < tries && (n = dmn_demo_connected(d, limit_ms)) != want; i++)
		dmn_pause_ms(100);
	cr_assert_eq(n, want, "%d nodes connected after %d tries, wanted %d", n, tries, want);
}
