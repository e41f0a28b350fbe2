/*
 * transport_impl.h - what the hub, the link and the HTTP side of the
 * transport share. Only net/transport_*.c include it (and so nng).
 *
 * A station is the application's end of one hub or link: a lock, the
 * inbox of received messages, the event lines, and the connections. A
 * connection is one nng_stream carrying length-prefixed frames (see
 * transport.h); its receive and send loops run on nng's threads.
 *
 * Locking: the station lock guards the inbox, the events, the list of
 * connections and each connection's send queue and flags. nng is never
 * called with the lock held. A connection's receive state belongs to
 * its receive callback alone (and to the resume path, which runs only
 * while that callback is idle).
 *
 * Lifetime: a connection is freed only by tly_station_reap, which runs
 * on the application's thread (inside hub and link calls), skips
 * connections that are held (being set up) or still have posts in the
 * inbox, and waits for the connection's callbacks with nng_aio_stop
 * before freeing. So a callback may use its own connection freely, the
 * application's thread may use any listed connection after unlocking,
 * and a callback may only mark another connection closing (the reaper
 * then closes its stream).
 */
#ifndef TLY_TRANSPORT_IMPL_H
#define TLY_TRANSPORT_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "net/transport.h"

enum {
	TLY_EVENT_SLOTS = 128,
	TLY_PEER_NAME_MAX = 64,
	/* "tally/hello/v1" || challenge || node id: what HELLO signs. */
	TLY_HELLO_DOMAIN_BYTES = 14,
	TLY_HELLO_SIGNED_BYTES = TLY_HELLO_DOMAIN_BYTES + TLY_HELLO_CHALLENGE_BYTES + 4,
};

struct tly_conn;

/* A frame waiting to be sent: head and message contiguous. */
struct tly_frame {
	struct tly_frame *next;
	size_t size; /* TLY_FRAME_HEAD_BYTES + message length */
	uint8_t bytes[];
};

/* A received message waiting for the application. */
struct tly_post {
	struct tly_post *next;
	struct tly_conn *conn; /* counted in conn->posts */
	uint32_t from;
	uint8_t *data;
	size_t len;
};

/* What the owner (hub or link) does with a connection's traffic. */
struct tly_conn_ops {
	/* A whole frame arrived; data (malloc'd) now belongs to the callee.
	 * Called on the connection's receive callback, lock not held.
	 * Returns nonzero to keep reading. */
	int (*frame)(struct tly_conn *conn, uint8_t *data, size_t len);
	/* The connection has just been marked closing by its own callback:
	 * a receive or send failure (nng error err), or a refusal (err 0,
	 * already logged). Unbind it, log it. Lock not held. */
	void (*lost)(struct tly_conn *conn, int err);
	/* The connection a message for `to` goes to (tly_station_send), or
	 * NULL when there is none ready. Lock held. */
	struct tly_conn *(*route)(void *owner, uint32_t to);
	/* Log that conn's send queue is full (tly_station_send). Lock held. */
	void (*full)(struct tly_conn *conn);
};

/* The stream end a hub listens on or a link dials, with its TLS
 * configuration. Zeroed: nothing made yet. */
struct tly_endpoint {
	nng_stream_listener *listener; /* the hub's */
	nng_stream_dialer *dialer;     /* the link's */
	nng_tls_config *tls;
};

struct tly_station {
	nng_mtx *mtx;
	nng_cv *cv;
	const struct tly_conn_ops *ops;
	void *owner;
	struct tly_post *inbox_head, *inbox_tail;
	struct tly_conn *conns; /* every connection not yet freed */
	int reap_wanted;        /* a connection is closing */
	int waiting;            /* the application sleeps on cv */
	char events[TLY_EVENT_SLOTS][TLY_EVENT_LINE_MAX];
	unsigned event_first, event_count;
	unsigned long events_lost;
	/* Heartbeat (tly_hub_heartbeat); under the lock. */
	int hb_interval_ms, hb_dead_ms;
};

struct tly_conn {
	struct tly_station *station;
	struct tly_conn *next; /* in station->conns */
	nng_stream *stream;
	nng_aio *rx_aio, *tx_aio;
	char peer[TLY_PEER_NAME_MAX]; /* remote address, for event lines */

	/* Owner's handshake state and binding (owner-defined values). */
	int state;
	uint32_t id;
	uint8_t challenge[TLY_HELLO_CHALLENGE_BYTES];
	nng_time deadline; /* of the handshake; 0 once done */

	/* Receive: the callback's alone (see above). */
	uint8_t rx_head[TLY_FRAME_HEAD_BYTES];
	uint8_t *rx_body;
	size_t rx_len, rx_got;
	size_t rx_limit; /* longest frame accepted in the current state */
	uint64_t rx_total;
	int rx_idle_ms;     /* once bound: silence that kills it (the tick's) */
	nng_time ka_window; /* keepalives received since then */
	unsigned ka_count;
	/* Heartbeat, under the lock: when a byte last arrived (or reading
	 * resumed), and whether the tick closed it for silence. */
	nng_time rx_last;
	int silent;

	/* Under the station lock. */
	unsigned holds; /* set-up in progress: not reaped */
	struct tly_frame *tx_head, *tx_tail;
	size_t tx_off, tx_queued;
	int tx_busy;
	size_t posts, post_bytes; /* in the inbox */
	int paused;               /* stopped reading: post_bytes too high */
	int closing;
	int stream_closed;
};

/* ---- stations (transport_conn.c) ---- */

TLY_MUST tly_err tly_station_init(struct tly_station *st, const struct tly_conn_ops *ops,
                                  void *owner);
/* Marks every connection closing, drops the inbox, reaps everything.
 * The owner has stopped every source of new connections first. */
void tly_station_fini(struct tly_station *st);

/* The teardown that the hub and the link share. First *closing = 1 under
 * the station's lock (nothing if the station was never initialised), so
 * that no callback starts anything new, and ep's listener or dialer is
 * closed; then tly_station_close stops each of aios[] (NULL skipped),
 * finishes the station, frees the aios and then ep's listener or dialer
 * and its TLS configuration. */
void tly_station_begin_close(struct tly_station *st, int *closing, struct tly_endpoint *ep);
void tly_station_close(struct tly_station *st, struct tly_endpoint *ep, nng_aio *const *aios,
                       size_t n);

/* Queue a copy of msg for the connection ops->route(owner, to) gives
 * (tly_hub_send, tly_link_send; the caller has checked len). TLY_ENOMEM;
 * TLY_EPEER when there is none or its queue is full (ops->full logs it). */
TLY_MUST tly_err tly_station_send(struct tly_station *st, uint32_t to, const uint8_t *msg,
                                  size_t len);

/* Set the heartbeat of a hub or a link (tly_hub_heartbeat,
 * tly_link_heartbeat): its station's interval and silence bound, then tick
 * at once through tick (its keepalive timer) so the new interval applies. */
void tly_station_heartbeat(struct tly_station *st, nng_aio *tick, int interval_ms, int dead_ms);

/* Append an event line. Lock held. */
void tly_station_event(struct tly_station *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
TLY_MUST tly_err tly_station_next_event(struct tly_station *st, char *line, size_t len);

/* Wait for the next post (see tly_hub_recv); reaps on the way. */
TLY_MUST tly_err tly_station_recv(struct tly_station *st, uint32_t *from, uint8_t **msg,
                                  size_t *len, int timeout_ms);

/* Free closing connections that nothing refers to, close the streams of
 * the others. Application thread, lock not held. */
void tly_station_reap(struct tly_station *st);

/* Remove c's messages from the inbox unread (a peer cut off for
 * flooding); returns how many. Lock held. */
size_t tly_station_drop_posts(struct tly_station *st, struct tly_conn *c);

/* ---- connections ---- */

/* Wrap an accepted or dialled stream and add it to the station, held
 * (the stream is freed on failure too). The caller sets it up, starts
 * it and releases it. */
TLY_MUST tly_err tly_conn_alloc(struct tly_conn **out, struct tly_station *st, nng_stream *stream,
                                size_t first_limit);
/* Start the receive loop. Lock not held. */
void tly_conn_start(struct tly_conn *conn);
/* Drop the hold of tly_conn_alloc. Lock not held. */
void tly_conn_release(struct tly_conn *conn);

/* A frame holding a copy of msg, for tly_conn_queue. NULL on ENOMEM. */
struct tly_frame *tly_frame_alloc(const uint8_t *msg, size_t len);
/* Queue a frame (which now belongs to the connection). Lock held.
 * Returns nonzero when the caller must call tly_conn_kick after
 * unlocking. TLY_EPEER when closing or over TLY_SEND_QUEUE_MAX (the
 * frame is then freed). */
TLY_MUST tly_err tly_conn_queue(struct tly_conn *conn, struct tly_frame *frame, int *kick);
/* Start sending (after tly_conn_queue said so). Lock not held. */
void tly_conn_kick(struct tly_conn *conn);

/* Mark closing (idempotent); the reaper closes the stream. Lock held.
 * Returns nonzero if this call did it. */
int tly_conn_mark_closing(struct tly_conn *conn);
/* From the connection's own callback: mark closing with an event line
 * and close the stream now, so that a misbehaving peer is cut off at
 * once. Lock not held. */
void tly_conn_refuse(struct tly_conn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One heartbeat tick for a bound connection (lock held): when nothing
 * arrived for its rx_idle_ms while it was reading, it is marked silent
 * and TLY_TICK_CLOSE returned; otherwise a keepalive is queued when
 * nothing else is being sent, and TLY_TICK_KICK returned. 0: nothing to
 * do. On nonzero c is held: call tly_conn_tick_done after unlocking. */
enum { TLY_TICK_KICK = 1, TLY_TICK_CLOSE = 2 };
int tly_conn_tick(struct tly_conn *conn, nng_time now);
/* Do what tly_conn_tick returned (lock not held) and release c.
 * Closing the stream fails its pending receive, whose callback then
 * reports the loss (nng 1.5.2's TLS can leave a receive pending forever
 * after its TCP connection failed: only a close ends it). */
void tly_conn_tick_done(struct tly_conn *conn, int action);

/* Append a received message to the inbox (data now belongs to the
 * station). Returns nonzero to keep reading; pauses the connection when
 * its posts pass TLY_RECV_PAUSE_BYTES. From the receive callback. */
int tly_conn_post(struct tly_conn *conn, uint32_t from, uint8_t *data, size_t len);

/* ---- helpers (transport_tls.c) ---- */

/* nng error -> tly_err, with "what: nng's words" in why. */
tly_err tly_nng_err(int rv, const char *what, char *why, size_t why_len);

/* Parse url, load the TLS files (tls NULL: none) and allocate ep's
 * listener (listen nonzero) or dialer for url with that configuration; a
 * dialer checks tls->server_name, or else the url's host. What was made
 * before a failure stays in ep for tly_station_close to free. */
TLY_MUST tly_err tly_endpoint_open(struct tly_endpoint *ep, const char *url,
                                   const struct tly_tls_files *tls, int listen, char *why,
                                   size_t why_len);

/* A TLS configuration from PEM files: mutual authentication required,
 * server_name checked on clients (NULL: none). */
TLY_MUST tly_err tly_tls_config(nng_tls_config **out, nng_tls_mode mode,
                                const struct tly_tls_files *files, const char *server_name,
                                char *why, size_t why_len);

/* Parse url and check its scheme: streams (http 0) take tcp, tcp4, tcp6
 * and ipc without tls, tls+tcp, tls+tcp4 and tls+tcp6 with it; HTTP
 * takes http without tls and https with it. TLY_EINVAL otherwise. */
TLY_MUST tly_err tly_url_parse(nng_url **out, const char *url, int http, int with_tls, char *why,
                               size_t why_len);

/* The bytes a HELLO signs. */
void tly_hello_message(uint8_t out[static TLY_HELLO_SIGNED_BYTES],
                       const uint8_t challenge[static TLY_HELLO_CHALLENGE_BYTES], uint32_t id);

uint32_t tly_be32_get(const uint8_t *p);
void tly_be32_put(uint8_t *p, uint32_t v);

#endif
