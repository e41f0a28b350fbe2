/*
 * transport.h - the network, and the only module that includes nng
 * (Debian 12: nng 1.5.2 built with mbedTLS 2.28; certificates are ECDSA
 * P-256 or RSA, never Ed25519).
 *
 * Three things travel over it:
 *
 * 1. Protocol messages between the coordinator (a hub that listens) and
 *    the nodes (links that dial out: trusts need no inbound port), over
 *    tls+tcp:// with mutual TLS: both sides present a certificate and
 *    verify the other's, the hub against the nodes' CA only, the node
 *    against the coordinator's CA only (one CA per role, cli/pki.h). nng 1.5 cannot tell
 *    which certificate a connection presented, so the hub binds each
 *    connection to a node id itself: on every new connection it sends a
 *    32-byte random challenge, and the node answers with HELLO = node id
 *    u32 || Ed25519(node key, "tally/hello/v1" || challenge || node id).
 *    The hub checks the signature against the roster, answers WELCOME =
 *    node id u32, and only then routes messages to and from that id; a
 *    connection that fails the handshake, sends anything else first, or
 *    stays silent for TLY_HANDSHAKE_MS is closed and logged. A later
 *    connection for the same id replaces the earlier one (a node that
 *    reconnected). Protocol messages themselves carry their own
 *    signatures (codec.h): the binding only decides where to send.
 *
 *    The wire is nng's byte streams (nng_stream: tcp, tls+tcp, ipc) with
 *    one frame per message: length u32 big-endian, then the message.
 *    Not nng's pair1 sockets: pair1 in polyamorous mode drops messages
 *    silently when a peer's 2-deep queue is full (measured: 46 of 100
 *    80 kB messages sent in a burst to one pipe), and a monogamous
 *    pair1 dialer may hand a message queued before a reconnection to
 *    the new connection ahead of its HELLO. Here every send is queued
 *    per connection and delivered in order or not at all (the connection
 *    dropped), and the first frame on every connection is the handshake.
 *    Reading from a connection pauses while TLY_RECV_PAUSE_BYTES of its
 *    messages wait for the application (TCP backpressure, per node).
 *
 *    Keepalives: once a connection is bound (after WELCOME), each side
 *    sends an empty frame (length 0, no message: no protocol message is
 *    empty) every heartbeat interval when nothing else is being sent,
 *    and closes the connection when nothing at all (no byte) arrived for
 *    its dead-after time while it was reading: a peer that froze, a
 *    silent cut that drops packets without RST, or a socket that died
 *    under the TLS layer without telling it. The node then redials.
 *    A keepalive rides inside the same mutually authenticated TLS
 *    session as the messages, after the signed HELLO bound it, and means
 *    only "still here"; an empty frame before WELCOME is refused, and a
 *    peer sending more than TLY_KEEPALIVE_MAX_PER_S in a second is cut
 *    off. Reading paused by backpressure does not count as silence.
 *
 * 2. The planner API: HTTPS (nng's HTTP server over TLS) with client
 *    certificates required, from the planners' CA only; which planner
 *    asked is told by the Tally-Signature header (query/planner.h). Requests are queued for the
 * coordinator's own thread and answered when it is ready, so a slow query never blocks nng's
 * threads.
 *
 * 3. The planner's client side of that API (`tally query`).
 *
 * Certificates (what `tally pki` must issue): PEM, ECDSA P-256 (or RSA)
 * with SHA-256, each signed by its role's CA, with basicConstraints
 * CA:FALSE and no Ed25519 anywhere (mbedTLS 2.28 cannot use it).
 *   - The coordinator's certificate is checked by nodes and planners
 *     against the host part of the URL they dial (or tls.server_name
 *     when set). mbedTLS 2.28 compares that name only with the
 *     certificate's dNSName subjectAltNames (and with the CN only when
 *     there is no subjectAltName at all): it ignores iPAddress entries.
 *     So a coordinator reached as tls+tcp://127.0.0.1:PORT needs
 *     "DNS:127.0.0.1" as a SAN (add "IP:127.0.0.1" too for OpenSSL and
 *     curl); one reached as localhost needs "DNS:localhost".
 *   - Node and planner certificates need no particular name: the hub
 *     identifies nodes by the signed HELLO, and the HTTPS server only
 *     requires a certificate from the CA it was given. Give them CN = "node-<id>" or
 *     the planner's name, for the logs.
 *   - extendedKeyUsage, when present, must allow serverAuth for the
 *     coordinator and clientAuth for nodes and planners.
 * The key may sit in its own PEM file or after the certificate in one.
 *
 * Every function returns tly_err; nng's errors are converted here and
 * `why` carries nng's own words where it helps (TLS handshake failures,
 * refused connections). Messages are capped at TLY_MAX_MESSAGE_BYTES,
 * HTTP bodies at TLY_HTTP_BODY_MAX.
 *
 * Timeouts are in milliseconds; TLY_ETIMEDOUT when one passes, and a
 * negative timeout waits forever. Thread safety: a hub, link or HTTP
 * server may be used from one thread at a time; different objects from
 * different threads. nng's own threads do the I/O in the background.
 */
#ifndef TLY_TRANSPORT_H
#define TLY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/sign.h"
#include "wire/messages.h"
#include "wire/party.h"

enum {
	TLY_HELLO_CHALLENGE_BYTES = 32,
	TLY_HELLO_BYTES = 4 + TLY_SIGN_BYTES, /* node id u32, signature */
	TLY_WELCOME_BYTES = 4,                /* node id u32 */
	TLY_FRAME_HEAD_BYTES = 4,             /* length u32 before each message */
	TLY_HANDSHAKE_MS = 10000,             /* connect to WELCOME, either side */
	TLY_REDIAL_MIN_MS = 100,              /* a link's redial backoff doubles */
	TLY_REDIAL_MAX_MS = 2000,             /* from min to max */
	TLY_PENDING_MAX = 64,                 /* hub connections awaiting HELLO */
	TLY_HEARTBEAT_INTERVAL_MS = 2000,     /* keepalive every, both sides */
	TLY_HEARTBEAT_DEAD_MS = 6000,         /* silent this long: link dead */
	TLY_KEEPALIVE_MAX_PER_S = 50,         /* more from a peer: cut off */
	TLY_RECV_PAUSE_BYTES = 64 << 20,      /* per connection, see above */
	TLY_SEND_QUEUE_MAX = 1 << 30,         /* bytes queued per connection */
	TLY_EVENT_LINE_MAX = 200,             /* an event line, with its NUL */
	TLY_HTTP_BODY_MAX = 1 << 20,
	TLY_HTTP_DRAIN_MAX = 8 << 20, /* bodies up to this get 413, longer 400 */
	TLY_HTTP_PATH_MAX = 256,
	TLY_HTTP_AUTH_MAX = 512, /* a Tally-Signature header value, with its NUL */
};

_Static_assert((uint64_t)TLY_MAX_MESSAGE_BYTES <= (uint64_t)TLY_SEND_QUEUE_MAX, "fits a queue");
_Static_assert(TLY_HTTP_BODY_MAX < TLY_HTTP_DRAIN_MAX, "413 range");

/* PEM files: this party's certificate and private key (key NULL, or the
 * same path, when one file holds both), and the CA that signs every
 * party's certificate. server_name, for dialers (links and the HTTPS
 * client): the name the server's certificate must carry; NULL means the
 * host part of the URL. */
struct tly_tls_files {
	const char *cert;
	const char *key;
	const char *ca;
	const char *server_name;
};

/* ---- coordinator side: the hub ---- */

struct tly_hub;

/* Listen on url (tls+tcp://HOST:PORT, or tcp:// and ipc:// for tests and
 * benchmarks when tls is NULL; a TLS URL without tls, or the reverse, is
 * TLY_EINVAL). PORT 0 picks a free port (tly_hub_port). roster pins the
 * nodes' keys for the handshake (borrowed; must outlive the hub).
 * TLY_EIO when the files cannot be read or the address not bound (why
 * says which), TLY_ENOMEM. Needs tly_crypto_init. */
TLY_MUST tly_err tly_hub_open(struct tly_hub **out, const char *url,
                              const struct tly_tls_files *tls, const struct tly_roster *roster,
                              char *why, size_t why_len);
/* Close every connection and free the hub; messages not yet received are
 * dropped. Accepts NULL. */
void tly_hub_close(struct tly_hub *hub);

/* Heartbeat (both hub and link; see "Keepalives" above): send a
 * keepalive every interval_ms on each authenticated connection with
 * nothing else going out, and close one from which nothing at all
 * arrived for dead_ms (it is dead: a link redials). Defaults
 * TLY_HEARTBEAT_INTERVAL_MS and TLY_HEARTBEAT_DEAD_MS; 0 < interval_ms
 * < dead_ms. The peer's interval must be well under this side's dead_ms.
 * The interval applies at once, dead_ms to connections bound later. */
void tly_hub_heartbeat(struct tly_hub *hub, int interval_ms, int dead_ms);

/* The TCP port the hub listens on (useful after PORT 0), or -1 for ipc. */
int tly_hub_port(struct tly_hub *hub);

/* The next protocol message from an authenticated node: *from is its id,
 * *msg a malloc'd copy the caller frees. TLY_ETIMEDOUT. */
TLY_MUST tly_err tly_hub_recv(struct tly_hub *hub, uint32_t *from, uint8_t **msg, size_t *len,
                              int timeout_ms);

/* Queue a copy of msg for a connected, authenticated node; returns at
 * once. TLY_EPEER when it is not connected now, or has more than
 * TLY_SEND_QUEUE_MAX bytes waiting (the caller treats it as a dropout);
 * TLY_EINVAL for len 0 or over TLY_MAX_MESSAGE_BYTES; TLY_ENOMEM.
 * Messages to one node arrive in order; a message queued when the
 * connection drops is lost with it. */
TLY_MUST tly_err tly_hub_send(struct tly_hub *hub, uint32_t to, const uint8_t *msg, size_t len);

/* Cut node id off now: close its connection, drop its messages not yet
 * received, and refuse its HELLO for hold_ms (a peer that broke a limit
 * of the caller's, such as a flood). An event line names it with `why`.
 * Returns how many of its messages were dropped unread; 0 and no effect
 * but the hold when it is not connected. */
size_t tly_hub_disconnect(struct tly_hub *hub, uint32_t id, int hold_ms, const char *why);

/* Nonzero when that node is connected and authenticated. */
int tly_hub_connected(struct tly_hub *hub, uint32_t id);

/* Events worth a log line (connections, handshake failures, garbage,
 * oversized frames, disconnects, replaced connections), one at a time:
 * TLY_OK with a NUL-terminated line in `line` (truncated to len),
 * TLY_ETIMEDOUT when none is waiting. Never blocks. Up to 128 lines of
 * at most TLY_EVENT_LINE_MAX bytes wait; beyond that the oldest go, and
 * a "N earlier transport events dropped" line says so. The transport
 * never logs by itself. */
TLY_MUST tly_err tly_hub_event(struct tly_hub *hub, char *line, size_t len);

/* ---- node side: the link ---- */

struct tly_link;

/* Dial url (same schemes as the hub) and keep redialling after failures
 * and drops, every TLY_REDIAL_MIN_MS doubling to TLY_REDIAL_MAX_MS. self
 * signs the handshake (borrowed; must outlive the link). Returns at
 * once: the first connection is made in the background. TLY_EINVAL,
 * TLY_EIO (unreadable files, bad URL), TLY_ENOMEM. */
TLY_MUST tly_err tly_link_open(struct tly_link **out, const char *url,
                               const struct tly_tls_files *tls, const struct tly_identity *self,
                               char *why, size_t why_len);
/* Accepts NULL. */
void tly_link_close(struct tly_link *link);

/* As tly_hub_heartbeat, for the link to the coordinator. */
void tly_link_heartbeat(struct tly_link *link, int interval_ms, int dead_ms);

/* The next protocol message from the coordinator (handshake traffic is
 * handled inside). *msg is malloc'd. TLY_ETIMEDOUT. */
TLY_MUST tly_err tly_link_recv(struct tly_link *link, uint8_t **msg, size_t *len, int timeout_ms);

/* Queue a copy for the coordinator; returns at once. TLY_EPEER when not
 * connected and welcomed (yet), or over TLY_SEND_QUEUE_MAX queued;
 * TLY_EINVAL, TLY_ENOMEM as for tly_hub_send. */
TLY_MUST tly_err tly_link_send(struct tly_link *link, const uint8_t *msg, size_t len);

/* Nonzero once the hub has welcomed us on the current connection. */
int tly_link_ready(struct tly_link *link);

/* Connection events (connected, dial failures with nng's reason,
 * handshake refused, drops), as tly_hub_event. */
TLY_MUST tly_err tly_link_event(struct tly_link *link, char *line, size_t len);

/* ---- the planner API: HTTPS server ---- */

struct tly_http;

struct tly_http_request {
	uint64_t handle;              /* for tly_http_reply */
	char method[8];               /* "GET", "POST" */
	char path[TLY_HTTP_PATH_MAX]; /* the request URI as sent, query included */
	uint8_t *body;                /* malloc'd, NUL-terminated; the caller frees it */
	size_t body_len;
	/* The Tally-Signature header's value (query/planner.h), "" when
	 * absent; one of TLY_HTTP_AUTH_MAX bytes or more is cut short here,
	 * which no valid value is. */
	char auth[TLY_HTTP_AUTH_MAX];
};

/* Serve https://HOST:PORT (http:// when tls is NULL, for tests) with
 * client certificates required (a client without one fails the TLS
 * handshake). GET and POST on /v1 and below (query string included),
 * on / and on /web/... (the dashboard's static files) and on /public/...
 * (the public release feed) are queued. Answered here without queuing,
 * each with a JSON error body
 * {"error":{"code","message"}}: a URI of TLY_HTTP_PATH_MAX bytes or more
 * 414, a path outside /v1 404, other methods 405 with "Allow: GET, POST",
 * a body over TLY_HTTP_BODY_MAX 413 (over TLY_HTTP_DRAIN_MAX, and for
 * requests that are not HTTP, nng answers 400 itself, without reading it). Answers to queued
 * requests carry Connection: close, and the server waits for the client to close first (nng 1.5.2's
 * TLS can drop the last record of an answer when the server closes at once). PORT 0 picks a free
 * port (tly_http_port). */
TLY_MUST tly_err tly_http_open(struct tly_http **out, const char *url,
                               const struct tly_tls_files *tls, char *why, size_t why_len);
/* Answers every request not yet answered with 503, waits up to 3 s for
 * the answers to go out, and frees. Accepts NULL. */
void tly_http_close(struct tly_http *http);

/* The TCP port the server listens on. */
int tly_http_port(struct tly_http *http);

/* The next queued request. TLY_ETIMEDOUT. */
TLY_MUST tly_err tly_http_next(struct tly_http *http, struct tly_http_request *req, int timeout_ms);

/* Answer a request (once); the response goes out in the background.
 * TLY_EINVAL for an unknown or answered handle, status outside
 * 100..599, or a NULL content_type with a body; TLY_ENOMEM (the client
 * then gets a 500). */
TLY_MUST tly_err tly_http_reply(struct tly_http *http, uint64_t handle, int status,
                                const char *content_type, const uint8_t *body, size_t len);
/* The same with more headers: name, value pairs in one array ending with
 * a NULL name ("Retry-After", "3", "Allow", "GET", NULL); NULL for none.
 * TLY_EINVAL for a name without a value. */
TLY_MUST tly_err tly_http_reply_headers(struct tly_http *http, uint64_t handle, int status,
                                        const char *content_type, const uint8_t *body, size_t len,
                                        const char *const *headers);

/* ---- the planner API: client ---- */

/* One request to url (https://HOST:PORT/PATH with a client certificate;
 * http:// when tls is NULL). *response is malloc'd (NUL-terminated),
 * *status the HTTP status. TLY_EIO for connection and TLS failures (why
 * says which), TLY_ETIMEDOUT, TLY_EINVAL for a bad URL or a scheme that
 * does not match tls, TLY_ENOMEM. */
TLY_MUST tly_err tly_https_request(const char *url, const char *method,
                                   const struct tly_tls_files *tls, const uint8_t *body, size_t len,
                                   int timeout_ms, int *status, uint8_t **response,
                                   size_t *response_len, char *why, size_t why_len);

/* The same with a Tally-Signature header whose value is auth (a planner's
 * signature over this request, query/planner.h); auth NULL sends none. */
TLY_MUST tly_err tly_https_request_signed(const char *url, const char *method,
                                          const struct tly_tls_files *tls, const char *auth,
                                          const uint8_t *body, size_t len, int timeout_ms,
                                          int *status, uint8_t **response, size_t *response_len,
                                          char *why, size_t why_len);

#endif
