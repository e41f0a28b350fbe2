/*
 * demo_impl.h - what `tally demo`'s files share (cli/ only): the planner's
 * API of a demo federation, starting one daemon, and the daemons'
 * restart and status (demo_daemons.c).
 */
#ifndef TLY_CLI_DEMO_IMPL_H
#define TLY_CLI_DEMO_IMPL_H

#include <limits.h>
#include <sys/types.h>

#include <jansson.h>

/* READY_S: how long a start or restart waits for the daemons to come up
 * (demo.c says why it is this long). */
enum { TLY_DEMO_SITES_MAX = 50, TLY_DEMO_READY_S = 120 };

/* The planner's side of DIR's API. */
struct tly_demo_api {
	char url[128];
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	char sign_key[PATH_MAX]; /* the planner's: queries are signed */
};

/* snprintf into out: 1 when it fitted, 0 when it was cut short. */
int tly_demo_join(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The folder of the running tally (for its sibling programs); call once
 * before tly_demo_spawn. */
void tly_demo_find_self(void);

/* Start PROGRAM (beside tally) as `PROGRAM --config CONFIG`, stdin from
 * /dev/null, stdout and stderr appended to DIR/logs/NAME.log, its pid
 * written to DIR/run/NAME.pid. Returns the pid, or -1 after saying why. */
pid_t tly_demo_spawn(const char *dir, const char *name, const char *program, const char *config);

/* One request to the API (POSTs signed as the planner): the JSON answer
 * (the caller owns it) with the HTTP status in *status, or NULL with why. */
json_t *tly_demo_request(const struct tly_demo_api *api, const char *method, const char *path,
                         const char *body, int *status, char *why, size_t why_len);

/* `tally demo --status --dir DIR`: one line per daemon. Returns the exit
 * code: 0 when every daemon runs, TLY_DEMO_EXIT_DOWN when one is down, 1
 * when DIR holds no federation. */
enum { TLY_DEMO_EXIT_DOWN = 3 };
int tly_demo_status(const char *dir);

/* `tally demo --restart NAME --dir DIR`: stop the daemon NAME if it runs
 * (SIGTERM, then SIGKILL after 10 s), start it again as --serve did, and
 * wait until it is up (the coordinator answering with every running node
 * connected; a node connected to the coordinator). Returns the exit code:
 * 0, 2 for an unknown NAME (the valid names listed), 1 when it did not
 * come up. */
int tly_demo_restart(const char *dir, const char *name);

#endif
