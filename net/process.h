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
 * returns its status; for an unknown one prints "PROGRAM: unknown command
 * "NAME"" and `usage` on stderr and returns 2. argc >= 2. */
int tly_process_command(const char *program, const struct tly_command *commands, size_t count,
                        const char *usage, int argc, char **argv);

#endif
