/*
 * process.h - what the two daemons (tally-node, tally-coordinator) do
 * alike as processes: one line per event on stderr, and the report and
 * exit status of a start that failed. How they are told to stop is
 * signals.h.
 */
#ifndef TLY_NET_PROCESS_H
#define TLY_NET_PROCESS_H

#include <stdarg.h>

#include "crypto/error.h"

/* One line on stderr, flushed: "2026-12-07T01:02:03Z WHO: MESSAGE", the
 * time in UTC. */
void tly_process_vnote(const char *who, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* A daemon that could not start: "PROGRAM: WHY" on stderr. Returns its
 * exit status: 2 for a refused configuration (TLY_EINVAL), 1 otherwise. */
int tly_process_refused(const char *program, tly_err rv, const char *why);

#endif
