/*
 * audit_feed.h - `tally audit export` and `tally audit verify --feed`: the
 * public release feed (coordinator/feed.h, docs/FEED.md) written from a
 * transparency log, and checked offline against the registry and, when
 * given, the log heads that node ledgers hold (a coordinator showing the
 * public one log and the trusts another fails here).
 *
 * Exit codes as `tally audit verify`: 0 good, 1 failed (naming the first
 * bad release and why, or the file that could not be read); usage errors
 * (2) are audit.c's.
 */
#ifndef TLY_CLI_AUDIT_FEED_H
#define TLY_CLI_AUDIT_FEED_H

#include <stddef.h>

/* What the command line named; all borrowed. */
struct tly_audit_feed_args {
	const char *log, *registry; /* export: the log; both: the registry */
	const char *feed;           /* verify: the feed file ("-": stdin) */
	const char *out;            /* export: the file to write; NULL: stdout */
	size_t ledger_count;        /* verify: ledgers whose heads to compare */
	const char *const *ledgers;
};

/* Write the feed of args->log to args->out (replaced atomically: a crash
 * leaves the old file or the new one) or stdout. Returns the exit code. */
int tly_audit_export(const struct tly_audit_feed_args *args);

/* Verify args->feed, then compare each ledger's heads with it. Prints what
 * it checked to stdout, the first problem to stderr. Returns the exit code. */
int tly_audit_verify_feed(const struct tly_audit_feed_args *args);

#endif
