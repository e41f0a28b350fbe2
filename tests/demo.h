/*
 * demo.h - a `tally demo --serve` federation run by a process-level suite:
 * its folder, its programs, its planner API; running tally commands in it,
 * stopping and starting its daemons, and asking its API as the planner.
 * The daemons' layout is `tally demo`'s:
 *
 *   DIR/coordinator/coordinator.conf   DIR/site-N/node.conf
 *   DIR/run/NAME.pid                   DIR/logs/NAME.log
 *   DIR/pki/planner.{crt,key}          DIR/pki/coordinator-ca.crt
 *
 * where NAME is "coordinator" or "node-N". Every helper asserts
 * (Criterion) instead of returning errors, except where it says so.
 */
#ifndef TLY_TESTS_DEMO_H
#define TLY_TESTS_DEMO_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct dmn_demo {
	char dir[64];   /* the federation's folder */
	char bin[1024]; /* the programs: $TALLY_BIN, else build/bin */
	char api[200];  /* the planner API's URL, once dmn_demo_serve has run */
};

/* The programs' folder and a fresh folder /tmp/tally-NAME-XXXXXX. */
void dmn_demo_init(struct dmn_demo *d, const char *name);
/* `tally demo --serve` of sites sites, people people and this seed in the
 * folder (asserts that it succeeded), and the API URL it wrote (asserts
 * that there is one). */
void dmn_demo_serve(struct dmn_demo *d, int sites, int people, int seed);
/* The same with `--protocol protocol` (auto, committee, secagg, secagg+). */
void dmn_demo_serve_protocol(struct dmn_demo *d, int sites, int people, int seed,
                             const char *protocol);
/* `tally demo --stop`, then remove the folder. */
void dmn_demo_fini(const struct dmn_demo *d);

/* DIR/rel into out. */
void dmn_demo_path(const struct dmn_demo *d, char *out, size_t len, const char *rel);
/* Run BIN/argv[0] to completion, stdout and stderr to log (truncated);
 * its exit code (128 + the signal when killed). */
int dmn_demo_run_to(const struct dmn_demo *d, const char *log, const char *const argv[]);
/* Start BIN/argv[0] with stdout to out (truncated) and stderr to err
 * (appended to); NULL for either is /dev/null. */
pid_t dmn_demo_spawn(const struct dmn_demo *d, const char *out, const char *err,
                     const char *const argv[]);
/* dmn_demo_spawn, waited for: the exit code. */
int dmn_demo_run_split(const struct dmn_demo *d, const char *out, const char *err,
                       const char *const argv[]);
/* dmn_demo_run_to with the output in DIR/out.txt. */
int dmn_demo_run(const struct dmn_demo *d, const char *const argv[]);

/* SIGTERM the daemon NAME (its pid from DIR/run/NAME.pid) and wait at most
 * cap_ms for it to be gone (asserted). */
void dmn_demo_stop(const struct dmn_demo *d, const char *name, long cap_ms);
/* Start the daemon NAME on its demo config, stdout and stderr to log
 * (appended to, or truncated), its pid written to DIR/run/NAME.pid;
 * returns the pid (a child of the test). */
pid_t dmn_demo_start(const struct dmn_demo *d, const char *name, const char *log, int append);
/* The config file of the daemon NAME into out. */
void dmn_demo_conf(const struct dmn_demo *d, const char *name, char *out, size_t len);

/* The planner's TLS files in a demo folder: DIR/pki/planner.crt,
 * DIR/pki/planner.key and DIR/pki/coordinator-ca.crt. */
struct dmn_tls_paths {
	char cert[300], key[300], ca[300];
};
void dmn_planner_tls(const char *dir, struct dmn_tls_paths *paths);

/* GET rel (e.g. "/v1/status") from the API with the planner's
 * certificate, waiting at most limit_ms: the HTTP status, or -1 when the
 * request failed (said on stderr); the milliseconds taken in *ms; the body
 * in *body (if body is not NULL; NULL when it failed or is not JSON). */
int dmn_demo_api_get(const struct dmn_demo *d, const char *rel, int limit_ms, double *ms,
                     json_t **body);
/* The nodes_connected of GET /v1/status, or -1 when it did not answer 200. */
int dmn_demo_connected(const struct dmn_demo *d, int limit_ms);
/* Ask dmn_demo_connected until want nodes are connected, at most tries
 * times, 100 ms apart (so at least tries / 10 seconds); asserts that they
 * are. */
void dmn_demo_wait_connected(const struct dmn_demo *d, int want, int limit_ms, int tries);

#endif
