/*
 * process.h - what the programs do alike as processes: the daemons'
 * (tally-node, tally-coordinator) one line per event on stderr and the
 * report and exit status of a start that failed, and the subcommands of
 * tally and tally-node. How the daemons are told to stop is signals.h.
 */
#ifndef TLY_NET_PROCESS_H
#define TLY_NET_PROCESS_H

#include <stdarg.h>
#include <stddef.h>

#include "crypto/error.h"

/* One line on stderr, flushed: "2026-12-07T01:02:03Z WHO: MESSAGE", the
 * time in UTC. */
void tly_process_vnote(const char *who, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* A daemon that could not start: "PROGRAM: WHY" on stderr. Returns its
 * exit status: 2 for a refused configuration (TLY_EINVAL), 1 otherwise. */
int tly_process_refused(const char *program, tly_err rv, const char *why);

/* A subcommand: `PROGRAM NAME ARGS...` runs run(argc - 1, argv + 1). */
struct tly_command {
	const char *name;
	int (*run)(int argc, char **argv);
};

/* Runs the command of `commands` that argv[1] names (getopt reset) and
 * returns its status; for an unknown one prints tly_process_unknown's line
 * and returns 2. `usage` is unused (kept for the callers). argc >= 2. */
int tly_process_command(const char *program, const struct tly_command *commands, size_t count,
                        const char *usage, int argc, char **argv);

/* An unknown subcommand: one line on stderr, "PROGRAM: unknown command
 * 'WORD'; did you mean 'NAME'? (see 'PROGRAM --help')", the suggestion
 * only when one of names[0..count) is near (query/nearest.h). Returns 2. */
int tly_process_unknown(const char *program, const char *word, const char *const *names,
                        size_t count);

/* "Did you mean" for getopt_long. Every program sets opterr = 0, so that
 * getopt prints nothing; when getopt_long(argc, argv, "", options, NULL)
 * has just returned '?', tly_process_option_error writes what was wrong
 * with the option it stopped at into out (truncated, NUL-terminated):
 *
 *   unrecognised option '--confg'; did you mean '--config'?
 *   unrecognised option '--verbose'              (nothing near)
 *   option '--s' is ambiguous: --sites, --seed, --serve, --stop
 *   option '--config' needs a value
 *   option '--help' takes no value
 *
 * and tly_process_bad_option prints it on stderr as one line, "PROGRAM:
 * MESSAGE (see 'PROGRAM --help')", and returns 2 (the exit code). options
 * is getopt_long's array, ended by a NULL name. */
struct option;
void tly_process_option_error(char *out, size_t len, const struct option *options, int argc,
                              char **argv);
int tly_process_bad_option(const char *program, const struct option *options, int argc,
                           char **argv);

#endif
