/*
 * daemons.h - the scaffolding of the multi-process tests: clocks, starting
 * a program with its output in a log and waiting for it (capped or not),
 * stopping a daemon that is not our child, the pid files under DIR/run/,
 * the paths of tests/helpers/, a listener that never answers, and
 * reading, searching and editing files (logs, configs). tests/demo.h
 * builds a `tally demo --serve` federation on these. Every helper asserts
 * (Criterion) instead of returning errors, except where its contract says
 * otherwise.
 */
#ifndef TLY_TESTS_DAEMONS_H
#define TLY_TESTS_DAEMONS_H

#include <stddef.h>
#include <sys/types.h>

/* Milliseconds on the monotonic clock. */
long dmn_now_ms(void);
/* Seconds on the monotonic clock. */
double dmn_now_s(void);
/* Sleep for ms milliseconds (resumed after a signal). */
void dmn_pause_ms(long ms);

/* Start program (a path) with argv (argv[0] first, NULL last); its stdout
 * and stderr both go to log, created 0600 and truncated, or appended to
 * when append is set. Asserts that the program started. */
pid_t dmn_spawn(const char *program, const char *const argv[], const char *log, int append);
/* The same with stdout to out (truncated) and stderr to err (appended to);
 * NULL for either is /dev/null. */
pid_t dmn_spawn_split(const char *program, const char *const argv[], const char *out,
                      const char *err);

/* Wait for our child pid to exit: its exit code, or 128 + the signal that
 * killed it. */
int dmn_wait(pid_t pid);
/* The same, but -1 when the child still runs after cap_ms (it is left
 * running). */
int dmn_wait_capped(pid_t pid, long cap_ms);
/* The same, but a child still running after cap_ms is killed (SIGKILL)
 * and reaped, and the result is -1. */
int dmn_wait_or_kill(pid_t pid, long cap_ms);
/* Wait at most cap_ms for a process that is not our child to be gone;
 * asserts that it is. */
void dmn_wait_gone(pid_t pid, long cap_ms);
/* SIGTERM pid (asserting that the signal was sent), then dmn_wait_gone. */
void dmn_stop(pid_t pid, long cap_ms);

/* The path of tests/helpers/NAME as built beside this test binary
 * (BUILD/tests/helpers/NAME) into out; asserts that it can be run. */
void dmn_helper(char *out, size_t len, const char *name);

/* A TCP socket listening on 127.0.0.1 (an ephemeral port, into *port)
 * with this backlog, that nothing accepts on: the kernel completes
 * connections and nothing answers. Returns the descriptor. */
int dmn_listen_loopback(int backlog, int *port);

/* The pid in DIR/run/NAME.pid; -1 when the file is missing or does not
 * start with a number (a daemon that has not written it yet). */
pid_t dmn_pid_of(const char *dir, const char *name);
/* Write pid into DIR/run/NAME.pid (so that `tally demo --stop` stops a
 * daemon the test started). */
void dmn_write_pid(const char *dir, const char *name, pid_t pid);

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

/* Whether the file holds needle (a missing file holds nothing). */
int dmn_file_has(const char *path, const char *needle);
/* How many times needle occurs in the file (0 when it is missing). */
int dmn_count_in(const char *path, const char *needle);
/* Wait at most cap_ms for needle to appear in the file; asserts it did. */
void dmn_wait_for_line(const char *path, const char *needle, long cap_ms);
/* Wait at most cap_ms for needle to occur at least n times in the file;
 * the count then (the caller asserts what it needs). */
int dmn_wait_count(const char *path, const char *needle, int n, long cap_ms);
/* Replace the first from in the file by to; asserts there is one. */
void dmn_edit_file(const char *path, const char *from, const char *to);
/* The last lines of a file on stderr (for a failure's message). */
void dmn_show_tail(const char *path, int lines);

/* The number of a "Key:   N kB" line of /proc/PID/status (key without
 * the colon); -1 when there is none. Asserts the process exists. */
long dmn_proc_kb(pid_t pid, const char *key);

#endif
