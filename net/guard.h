/*
 * guard.h - a TCP guard in front of a listener that has no limits of its
 * own (nng 1.5's HTTP server: no most-connections, no handshake deadline,
 * no idle timeout; each accepted TLS connection costs it a descriptor and
 * tens of KiB before a byte is read).
 *
 * The guard listens on the public address and relays each connection to
 * the real server on 127.0.0.1:upstream_port. It holds at most max_conns
 * client connections at once. A connection dials the server only when its
 * client sends its first byte, so an idle flood costs one descriptor and
 * one small struct per connection, and at most max_conns of them.
 *
 * A connection is "pending" until its client has finished the TLS
 * handshake: until the client sends its first application-data record
 * (TLS record type 23; with plain HTTP, its first byte). Pending
 * connections are closed at handshake_ms after accept. When the guard is
 * full, a new connection evicts the oldest pending one (an idle flood
 * cannot keep an honest client out); when none is pending, the new one is
 * closed. An established connection with no byte in either direction for
 * idle_ms is closed.
 *
 * Descriptors: 1 per pending silent connection, 3 per relayed one (the
 * client's, the guard's dial, the server's accept), + 3 for the guard.
 *
 * Thread: one of its own (epoll). Not used by crypto or round logic.
 */
#ifndef TLY_GUARD_H
#define TLY_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

enum {
	TLY_GUARD_BUF_BYTES = 16384 + 256,   /* one direction's relay buffer: a TLS record */
	TLY_GUARD_RECORD_MAX = 16384 + 2048, /* the longest TLS record (ciphertext) */
	TLY_GUARD_FDS_PER_CONN = 3,
	TLY_GUARD_FDS_OWN = 3,
};

struct tly_guard_limits {
	uint32_t max_conns;    /* >= 1 */
	uint32_t handshake_ms; /* >= 1 */
	uint32_t idle_ms;      /* >= 1 */
	int tls;               /* pending until a TLS application-data record */
};

struct tly_guard_stats {
	uint64_t accepted;      /* connections accepted */
	uint64_t refused;       /* closed at once: full, none pending */
	uint64_t evicted;       /* pending, closed for a newcomer */
	uint64_t timed_out;     /* past handshake_ms or idle_ms */
	uint64_t accept_failed; /* accept() errors (EMFILE, ...) */
	uint32_t open;          /* client connections now */
	uint32_t pending;       /* of which pending */
};

/* The client's side of a TLS stream, scanned for its first record of type
 * 23 (application data). Record headers are checked: type 20..23, major
 * version 3, length 1..TLY_GUARD_RECORD_MAX. */
struct tly_guard_scan {
	uint8_t head[5];
	uint8_t have;  /* bytes of head[] filled */
	uint32_t skip; /* body bytes of the current record still to pass */
	int done;      /* an application-data record began */
};

/* Feed the next len bytes of the stream: 1 once an application-data record
 * has begun (and from then on, without looking), 0 if not yet, -1 if a
 * record header is malformed (the connection is not TLS). */
int tly_guard_scan_feed(struct tly_guard_scan *scan, const uint8_t *bytes, size_t len);

struct tly_guard;

/* Listen on url's host and port ("https://HOST:PORT" or "http://...", port
 * 0 for any) and relay to 127.0.0.1:upstream_port. TLY_EINVAL (bad url or
 * limits), TLY_EIO (cannot listen: *why says why), TLY_ENOMEM. */
TLY_MUST tly_err tly_guard_open(struct tly_guard **out, const char *url, int upstream_port,
                                const struct tly_guard_limits *limits, char *why, size_t why_len);

/* The port listened on. */
int tly_guard_port(const struct tly_guard *guard);

/* A snapshot of the counters. */
void tly_guard_stats(struct tly_guard *guard, struct tly_guard_stats *out);

/* Stop the thread, close every connection, free. NULL is fine. */
void tly_guard_close(struct tly_guard *guard);

#endif
