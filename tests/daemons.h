/*
 * daemons.h - the scaffolding of the multi-process tests: clocks, starting
 * a program with its output in a log, the pid a daemon wrote under
 * DIR/run/, and reading a whole file. Every helper asserts (Criterion)
 * instead of returning errors, except where its contract says otherwise.
 */
#ifndef TLY_TESTS_DAEMONS_H
#define TLY_TESTS_DAEMONS_H

#include <stddef.h>
#include <sys/types.h>

/* Milliseconds on the monotonic clock. */
long dmn_now_ms(void);
/* Sleep for ms milliseconds (resumed after a signal). */
void dmn_pause_ms(long ms);

/* Start program (a path) with argv (argv[0] first, NULL last); its stdout
 * and stderr both go to log, created 0600 and truncated, or appended to
 * when append is set. Asserts that the program started. */
pid_t dmn_spawn(const char *program, const char *const argv[], const char *log, int append);

/* The pid in DIR/run/NAME.pid; -1 when the file is missing or does not
 * start with a number (a daemon that has not written it yet). */
pid_t dmn_pid_of(const char *dir, const char *name);

/* The API URL of the planner config `tally demo` writes (the value of
 * "api = " in DIR/planner.conf) into api (len bytes). 1 when found; 0, with
 * api empty, when the file is missing or has no api line (or the value
 * does not fit). */
int dmn_planner_api(const char *dir, char *api, size_t len);

/* The whole file, NUL-terminated, malloc'd (free it); *len (if len is not
 * NULL) is its length without the NUL. Asserts that the file can be read. */
char *dmn_slurp(const char *path, size_t *len);
/* The same, but a missing or unreadable file reads as "" (for a log a
 * daemon may not have created yet). */
char *dmn_slurp_or_empty(const char *path, size_t *len);

#endif
