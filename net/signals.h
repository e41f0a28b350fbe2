/*
 * signals.h - how a daemon is told to stop: SIGTERM and SIGINT set a flag
 * its loop reads, and SIGPIPE is ignored, so that a peer that closes a
 * socket mid-write costs that write an error code, not the process.
 *
 * Shared by tally-node and tally-coordinator (node/daemon.c,
 * coordinator/server.c). Process-wide: one flag, set once, never cleared.
 */
#ifndef TLY_NET_SIGNALS_H
#define TLY_NET_SIGNALS_H

#include <signal.h>

/* Installs the handlers above (again is harmless) and returns the flag:
 * nonzero once SIGTERM or SIGINT has arrived. Async-signal-safe to read. */
const volatile sig_atomic_t *tly_signals_install(void);

#endif
