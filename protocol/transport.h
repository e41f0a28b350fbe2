/*
 * transport.h - the network, and the only module that includes nng
 * (Debian 12: nng 1.5.2 built with mbedTLS 2.28; certificates are ECDSA
 * P-256 or RSA, never Ed25519).
 *
 * Three things travel over it:
 *
 * 1. Protocol messages between the coordinator (a hub that listens) and
 *    the nodes (links that dial out: trusts need no inbound port). nng
 *    pair1 in polyamorous mode over tls+tcp:// with mutual TLS: both sides
 *    present a certificate signed by the federation's CA and verify the
 *    other's. nng 1.5 cannot tell which certificate a pipe presented, so
 *    the hub binds each connection to a node id itself: on every new
 *    connection it sends a 32-byte random challenge, and the node answers
 *    with HELLO = node id u32 || Ed25519(node key, "tally/hello/v1" ||
 *    challenge || node id). The hub checks the signature against the
 *    registry and only then routes messages to and from that id; a
 *    connection that fails the handshake, or sends anything first, is
 *    closed and logged. A later connection for the same id replaces the
 *    earlier one (a node that reconnected). Protocol messages themselves
 *    carry their own signatures (codec.h): the binding only decides where
 *    to send.
 *
 * 2. The planner API: HTTPS (nng's HTTP server over TLS) with client
 *    certificates required. Requests are queued for the coordinator's own
 *    thread and answered when it is ready, so a slow query never blocks
 *    nng's threads.
 *
 * 3. The planner's client side of that API (`tally query`).
 *
 * Every function returns tly_err; nng's errors are converted here and
 * `why` carries nng's own words where it helps (TLS handshake failures,
 * refused connections). Messages are capped at TLY_MAX_MESSAGE_BYTES
 * (NNG_OPT_RECVMAXSZ), HTTP bodies at TLY_HTTP_BODY_MAX.
 *
 * Timeouts are in milliseconds; TLY_ETIMEDOUT when one passes, and a
 * negative timeout waits forever. Thread safety: a hub, link or HTTP
 * server may be used from one thread at a time; different objects from
 * different threads.
 */
#ifndef TLY_TRANSPORT_H
#define TLY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "party.h"

enum {
	TLY_HELLO_CHALLENGE_BYTES = 32,
	TLY_HTTP_BODY_MAX = 1 << 20,
	TLY_HTTP_PATH_MAX = 256,
};

/* PEM files: this party's certificate and private key (one file may hold
 * both), and the CA that signs every party's certificate. */
struct tly_tls_files {
	const char *cert;
	const char *key;
	const char *ca;
};

/* ---- coordinator side: the hub ---- */

struct tly_hub;

/* Listen on url (tls+tcp://HOST:PORT, or tcp:// and ipc:// for tests and
 * benchmarks when tls is NULL). roster pins the nodes' keys for the
 * handshake (borrowed; must outlive the hub). */
TLY_MUST tly_err tly_hub_open(struct tly_hub **out, const char *url,
    const struct tly_tls_files *tls, const struct tly_roster *roster, char *why, size_t why_len);
void tly_hub_close(struct tly_hub *hub);

/* The next protocol message from an authenticated node: *from is its id,
 * *msg a malloc'd copy the caller frees. TLY_ETIMEDOUT. */
TLY_MUST tly_err tly_hub_recv(struct tly_hub *hub, uint32_t *from, uint8_t **msg, size_t *len,
    int timeout_ms);

/* Send to a connected, authenticated node. TLY_EPEER when it is not
 * connected now (the caller treats it as a dropout). */
TLY_MUST tly_err tly_hub_send(struct tly_hub *hub, uint32_t to, const uint8_t *msg, size_t len);

/* Nonzero when that node is connected and authenticated. */
int tly_hub_connected(struct tly_hub *hub, uint32_t id);

/* Events worth a log line (handshake failures, garbage, disconnects), one
 * at a time: TLY_OK with a line in `line`, TLY_ETIMEDOUT when none is
 * waiting. The transport never logs by itself. */
TLY_MUST tly_err tly_hub_event(struct tly_hub *hub, char *line, size_t len);

/* ---- node side: the link ---- */

struct tly_link;

/* Dial url and keep redialling after drops. self signs the handshake
 * (borrowed; must outlive the link). Returns at once: the first
 * connection is made in the background. */
TLY_MUST tly_err tly_link_open(struct tly_link **out, const char *url,
    const struct tly_tls_files *tls, const struct tly_identity *self, char *why, size_t why_len);
void tly_link_close(struct tly_link *link);

/* The next protocol message from the coordinator (handshake traffic is
 * handled inside). *msg is malloc'd. TLY_ETIMEDOUT. */
TLY_MUST tly_err tly_link_recv(struct tly_link *link, uint8_t **msg, size_t *len, int timeout_ms);

/* Send to the coordinator. TLY_EPEER when not connected (yet). */
TLY_MUST tly_err tly_link_send(struct tly_link *link, const uint8_t *msg, size_t len);

/* Nonzero once the handshake has completed on the current connection. */
int tly_link_ready(struct tly_link *link);

/* ---- the planner API: HTTPS server ---- */

struct tly_http;

struct tly_http_request {
	uint64_t handle;   /* for tly_http_reply */
	char method[8];    /* "GET", "POST" */
	char path[TLY_HTTP_PATH_MAX];
	uint8_t *body;     /* malloc'd, NUL-terminated; the caller frees it */
	size_t body_len;
};

/* Serve https://HOST:PORT (http:// when tls is NULL, for tests) with
 * client certificates required. Every request on /v1/ is queued. */
TLY_MUST tly_err tly_http_open(struct tly_http **out, const char *url,
    const struct tly_tls_files *tls, char *why, size_t why_len);
void tly_http_close(struct tly_http *http);

/* The next queued request. TLY_ETIMEDOUT. */
TLY_MUST tly_err tly_http_next(struct tly_http *http, struct tly_http_request *req,
    int timeout_ms);

/* Answer a request (once). TLY_EINVAL for an unknown or answered handle. */
TLY_MUST tly_err tly_http_reply(struct tly_http *http, uint64_t handle, int status,
    const char *content_type, const uint8_t *body, size_t len);

/* ---- the planner API: client ---- */

/* One request to url (https://HOST:PORT/PATH) with a client certificate.
 * *response is malloc'd (NUL-terminated). TLY_EIO for connection and TLS
 * failures (why says which), TLY_ETIMEDOUT. */
TLY_MUST tly_err tly_https_request(const char *url, const char *method,
    const struct tly_tls_files *tls, const uint8_t *body, size_t len, int timeout_ms,
    int *status, uint8_t **response, size_t *response_len, char *why, size_t why_len);

#endif
