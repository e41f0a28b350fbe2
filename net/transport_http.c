/*
 * transport_http.c - the planner API over nng's HTTP server (HTTPS with
 * client certificates), and its client (transport.h).
 *
 * nng calls the handler on its own thread with the request read and the
 * body collected. To answer later from the coordinator's thread, the
 * handler takes the connection over (nng_http_hijack: the connection and
 * the request are then ours), lets nng's aio go at once, and queues the
 * request. tly_http_reply writes the response on that connection with an
 * aio of our own. Keeping nng's aio pending instead would leave a window
 * in which a client that disconnects frees it under us.
 *
 * nng 1.5.2's TLS may still hold the last record of a response when the
 * write completes, and closing the connection then loses it (seen: the
 * header record sent, the body never). So the server waits LINGER_MS
 * after a response before it closes, and the client asks for no
 * "Connection: close" (nng's own transact helper would add it, making
 * nng's server close first on its own answers).
 *
 * The wait is a timer, never a read. A read of a hijacked TLS connection
 * started after its TCP has failed (a client that left while its answer
 * was being written) waits in nng 1.5.2 for ever: the TLS layer's TCP
 * receive is already closed, so nothing completes or cancels it, and
 * nng_http_conn_close then blocks in nni_aio_stop on that read -- on the
 * coordinator's thread. (An earlier version read until the client closed;
 * `make soak` hung on it within a minute at a few queries a second.)
 *
 * The handler can run after tly_http_close has returned (nng frees its
 * server, and so the handler, in the background), so what the handler
 * touches lives in a core shared by both and freed by whichever lets go
 * last (the handler's side through nng's handler data destructor).
 */
#include "net/transport_impl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/supplemental/http/http.h>

#include "query/planner.h"

enum {
	WRITE_TIMEOUT_MS = 10000, /* a client that does not read its answer */
	LINGER_MS = 250,          /* after a response, before closing */
	CLOSE_TIMEOUT_MS = 3000,  /* tly_http_close, for the last answers */
	STUCK_GRACE_MS = 1000,    /* a client step past its deadline: cancel, then give up */
};

struct entry {
	struct entry *next;
	struct core *core;
	nng_http_conn *conn; /* hijacked: ours */
	nng_http_res *res;
	nng_aio *aio;  /* writes res, then sleeps LINGER_MS */
	int lingering; /* the aio's callback's own */
	int written;   /* done: may be freed (under the core lock) */
	struct tly_http_request req;
};

struct core {
	nng_mtx *mtx;
	nng_cv *cv;
	int refs; /* the application's and the handler's */
	int closing;
	int handling; /* handlers between reserving and queuing */
	uint64_t last_handle;
	struct entry *queued, *queued_tail; /* for tly_http_next */
	struct entry *pending;              /* given out, waiting for a reply */
	struct entry *sending;              /* reply being written */
};

struct tly_http {
	struct core *core;
	nng_http_server *server;
	nng_tls_config *tls;
	int port;
};

static void
core_drop(void *arg)
{
	struct core *core = arg;
	int last;

	nng_mtx_lock(core->mtx);
	last = --core->refs == 0;
	nng_mtx_unlock(core->mtx);
	if (!last)
		return;
	nng_cv_free(core->cv);
	nng_mtx_free(core->mtx);
	free(core);
}

static void
entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	if (e->aio != NULL)
		nng_aio_free(e->aio);
	if (e->res != NULL)
		nng_http_res_free(e->res);
	if (e->conn != NULL)
		nng_http_conn_close(e->conn);
	free(e->req.body);
	free(e);
}

static void
write_done(void *arg)
{
	struct entry *e = arg;
	struct core *core = e->core;
	int rv = nng_aio_result(e->aio);

	if (rv == 0 && !e->lingering) {
		e->lingering = 1;
		nng_sleep_aio(LINGER_MS, e->aio);
		return;
	}
	nng_mtx_lock(core->mtx);
	e->written = 1;
	nng_cv_wake(core->cv);
	nng_mtx_unlock(core->mtx);
}

/* Free the entries whose responses have gone out (or failed). */
static void
reap_sent(struct core *core)
{
	for (;;) {
		struct entry *done = NULL;

		nng_mtx_lock(core->mtx);
		for (struct entry **pp = &core->sending; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->written) {
				done = *pp;
				*pp = done->next;
				break;
			}
		}
		nng_mtx_unlock(core->mtx);
		if (done == NULL)
			return;
		entry_free(done);
	}
}

/* Start writing a response on e's connection, giving up after
 * timeout_ms; e goes on the sending list either way. headers: name,
 * value pairs ending with NULL, or NULL. */
static tly_err
respond(struct entry *e, uint16_t status, const char *content_type, const void *body, size_t len,
        const char *const *headers, nng_duration timeout_ms)
{
	struct core *core = e->core;
	tly_err rv = TLY_OK;
	int nrv;

	if ((nrv = nng_http_res_alloc(&e->res)) != 0 ||
	    (nrv = nng_http_res_set_status(e->res, status)) != 0 ||
	    (content_type != NULL &&
	     (nrv = nng_http_res_set_header(e->res, "Content-Type", content_type)) != 0) ||
	    (nrv = nng_http_res_set_header(e->res, "Connection", "close")) != 0 ||
	    (nrv = nng_http_res_copy_data(e->res, len > 0 ? body : "", len)) != 0)
		rv = TLY_ENOMEM;
	for (size_t i = 0; rv == TLY_OK && headers != NULL && headers[i] != NULL; i += 2)
		if (nng_http_res_set_header(e->res, headers[i], headers[i + 1]) != 0)
			rv = TLY_ENOMEM;
	if (rv != TLY_OK) {
		/* Try a bare 500; failing that, just close. */
		if (e->res != NULL)
			nng_http_res_free(e->res);
		e->res = NULL;
		if (nng_http_res_alloc_error(&e->res, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR) != 0)
			e->res = NULL;
	}
	nng_mtx_lock(core->mtx);
	e->next = core->sending;
	core->sending = e;
	e->written = e->res == NULL;
	nng_mtx_unlock(core->mtx);
	if (e->res != NULL) {
		nng_aio_set_timeout(e->aio, timeout_ms);
		nng_http_conn_write_res(e->conn, e->res, e->aio);
	}
	return rv;
}

/* ---- the handler, on nng's thread ---- */

/* What the transport answers by itself: a JSON error (the API's shape,
 * docs/PROTOCOL.md), with Allow on a 405. */
static const struct {
	uint16_t status;
	const char *code, *message;
} direct[] = {
    {NNG_HTTP_STATUS_NOT_FOUND, "not_found", "not part of the API (it lives under /v1)"},
    {NNG_HTTP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed", "the API takes GET and POST"},
    {NNG_HTTP_STATUS_ENTITY_TOO_LONG, "uri_too_long", "the request URI is too long"},
    {NNG_HTTP_STATUS_PAYLOAD_TOO_LARGE, "body_too_large", "the request body is too large"},
    {NNG_HTTP_STATUS_SERVICE_UNAVAILABLE, "busy", "the coordinator is shutting down"},
    {NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal", "out of memory"},
};

static void
answer_now(nng_aio *aio, uint16_t status)
{
	const char *code = "internal", *message = "out of memory";
	char text[200];
	nng_http_res *res;
	int n;

	for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++)
		if (direct[i].status == status) {
			code = direct[i].code;
			message = direct[i].message;
		}
	if (status == NNG_HTTP_STATUS_PAYLOAD_TOO_LARGE)
		n = snprintf(text, sizeof text,
		             "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"limit\":%d}}", code,
		             message, TLY_HTTP_BODY_MAX);
	else
		n = snprintf(text, sizeof text, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
		             code, message);
	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	if (nng_http_res_set_status(res, status) != 0 ||
	    nng_http_res_set_header(res, "Content-Type", "application/json") != 0 ||
	    (status == NNG_HTTP_STATUS_METHOD_NOT_ALLOWED &&
	     nng_http_res_set_header(res, "Allow", "GET, POST") != 0) ||
	    nng_http_res_copy_data(res, text, (size_t)n) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* The handler takes every path (nng's own 404 and 405 pages are HTML):
 * only /v1 and below are the API's, / and /web/... the dashboard's, and
 * /public/... the public feed's (the application decides which files, if
 * any, those are, and which listener serves the feed). */
static int
in_api(const char *uri)
{
	if (strcmp(uri, "/") == 0 || strncmp(uri, "/web/", 5) == 0 ||
	    strncmp(uri, "/public/", 8) == 0)
		return 1;
	return strncmp(uri, "/v1", 3) == 0 && (uri[3] == '\0' || uri[3] == '/' || uri[3] == '?');
}

/* 0 when the request may be queued, else the status to answer with. */
static uint16_t
screen(const char *method, const char *uri, size_t body_len)
{
	if (strlen(uri) >= TLY_HTTP_PATH_MAX)
		return NNG_HTTP_STATUS_ENTITY_TOO_LONG;
	if (!in_api(uri))
		return NNG_HTTP_STATUS_NOT_FOUND;
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		return NNG_HTTP_STATUS_METHOD_NOT_ALLOWED;
	if (body_len > TLY_HTTP_BODY_MAX)
		return NNG_HTTP_STATUS_PAYLOAD_TOO_LARGE;
	return 0;
}

static struct entry *
entry_alloc(struct core *core, nng_http_req *req, const void *body, size_t len)
{
	const char *method = nng_http_req_get_method(req);
	const char *uri = nng_http_req_get_uri(req);
	const char *auth = nng_http_req_get_header(req, TLY_PLANNER_HEADER);
	struct entry *e = calloc(1, sizeof *e);

	if (e == NULL)
		return NULL;
	e->core = core;
	if (nng_aio_alloc(&e->aio, write_done, e) != 0 || (e->req.body = malloc(len + 1)) == NULL) {
		entry_free(e);
		return NULL;
	}
	snprintf(e->req.method, sizeof e->req.method, "%s", method);
	snprintf(e->req.path, sizeof e->req.path, "%s", uri);
	snprintf(e->req.auth, sizeof e->req.auth, "%s", auth != NULL ? auth : "");
	if (len > 0)
		memcpy(e->req.body, body, len);
	e->req.body[len] = '\0';
	e->req.body_len = len;
	return e;
}

static void
handle(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	struct core *core = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	const char *method = nng_http_req_get_method(req);
	const char *uri = nng_http_req_get_uri(req);
	uint16_t status;
	struct entry *e = NULL;
	void *body;
	size_t len;

	nng_http_req_get_data(req, &body, &len);
	if ((status = screen(method, uri, len)) == 0 &&
	    (e = entry_alloc(core, req, body, len)) == NULL)
		status = NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR;
	/* Reserve under the lock, take the connection over without it (nng
	 * holds its server lock when it calls core_drop, so ours is never
	 * held around nng's), then queue; tly_http_close waits for handlers
	 * between the two steps. */
	nng_mtx_lock(core->mtx);
	if (status == 0 && core->closing)
		status = NNG_HTTP_STATUS_SERVICE_UNAVAILABLE;
	if (status == 0)
		core->handling++;
	nng_mtx_unlock(core->mtx);
	if (status == 0) {
		nng_http_hijack(conn);
		e->conn = conn;
		nng_mtx_lock(core->mtx);
		e->req.handle = ++core->last_handle;
		if (core->queued_tail != NULL)
			core->queued_tail->next = e;
		else
			core->queued = e;
		core->queued_tail = e;
		core->handling--;
		nng_cv_wake(core->cv);
		nng_mtx_unlock(core->mtx);
	}
	if (status != 0) {
		entry_free(e);
		answer_now(aio, status);
		return;
	}
	/* The hijacked request is ours too; its contents are copied. */
	nng_http_req_free(req);
	nng_aio_set_output(aio, 0, NULL);
	nng_aio_finish(aio, 0);
}

/* ---- the server API ---- */

static tly_err
core_alloc(struct core **out)
{
	struct core *core = calloc(1, sizeof *core);

	if (core == NULL)
		return TLY_ENOMEM;
	if (nng_mtx_alloc(&core->mtx) != 0) {
		free(core);
		return TLY_ENOMEM;
	}
	if (nng_cv_alloc(&core->cv, core->mtx) != 0) {
		nng_mtx_free(core->mtx);
		free(core);
		return TLY_ENOMEM;
	}
	core->refs = 1;
	*out = core;
	return TLY_OK;
}

static tly_err
add_handler(struct tly_http *http, char *why, size_t why_len)
{
	nng_http_handler *h;
	int nrv;

	if ((nrv = nng_http_handler_alloc(&h, "/", handle)) != 0)
		return tly_nng_err(nrv, "HTTP handler", why, why_len);
	if ((nrv = nng_http_handler_set_method(h, NULL)) != 0 ||
	    (nrv = nng_http_handler_set_tree(h)) != 0 ||
	    (nrv = nng_http_handler_collect_body(h, true, TLY_HTTP_DRAIN_MAX)) != 0) {
		nng_http_handler_free(h);
		return tly_nng_err(nrv, "HTTP handler", why, why_len);
	}
	http->core->refs++;
	if ((nrv = nng_http_handler_set_data(h, http->core, core_drop)) != 0) {
		http->core->refs--;
		nng_http_handler_free(h);
		return tly_nng_err(nrv, "HTTP handler", why, why_len);
	}
	if ((nrv = nng_http_server_add_handler(http->server, h)) != 0) {
		nng_http_handler_free(h); /* drops the core reference */
		return tly_nng_err(nrv, "HTTP handler on /", why, why_len);
	}
	return TLY_OK;
}

static tly_err
http_serve(struct tly_http *http, const char *url, const struct tly_tls_files *tls, char *why,
           size_t why_len)
{
	nng_sockaddr sa;
	nng_url *parsed;
	tly_err rv;
	int nrv;

	if ((rv = tly_url_parse(&parsed, url, 1, tls != NULL, why, why_len)) != TLY_OK)
		return rv;
	nrv = nng_http_server_hold(&http->server, parsed);
	nng_url_free(parsed);
	if (nrv != 0)
		return tly_nng_err(nrv, url, why, why_len);
	if (tls != NULL) {
		rv = tly_tls_config(&http->tls, NNG_TLS_MODE_SERVER, tls, NULL, why, why_len);
		if (rv != TLY_OK)
			return rv;
		if ((nrv = nng_http_server_set_tls(http->server, http->tls)) != 0)
			return tly_nng_err(nrv, "HTTPS configuration", why, why_len);
	}
	if ((rv = add_handler(http, why, why_len)) != TLY_OK)
		return rv;
	if ((nrv = nng_http_server_start(http->server)) != 0) {
		tly_say(why, why_len, "cannot listen on %s: %s", url, nng_strerror(nrv));
		return nrv == NNG_ENOMEM ? TLY_ENOMEM : TLY_EIO;
	}
	http->port = -1;
	if (nng_http_server_get_addr(http->server, &sa) == 0 && sa.s_family == NNG_AF_INET)
		http->port = ntohs(sa.s_in.sa_port);
	else if (nng_http_server_get_addr(http->server, &sa) == 0 && sa.s_family == NNG_AF_INET6)
		http->port = ntohs(sa.s_in6.sa_port);
	return TLY_OK;
}

tly_err
tly_http_open(struct tly_http **out, const char *url, const struct tly_tls_files *tls, char *why,
              size_t why_len)
{
	struct tly_http *http;
	tly_err rv;

	TLY_REQUIRE(out != NULL && url != NULL);
	if ((http = calloc(1, sizeof *http)) == NULL)
		return TLY_ENOMEM;
	if ((rv = core_alloc(&http->core)) != TLY_OK) {
		free(http);
		return rv;
	}
	if ((rv = http_serve(http, url, tls, why, why_len)) != TLY_OK) {
		tly_http_close(http);
		return rv;
	}
	*out = http;
	return TLY_OK;
}

void
tly_http_close(struct tly_http *http)
{
	static const char unavailable[] =
	    "{\"error\":{\"code\":\"busy\",\"message\":\"the coordinator is shutting down\"}}";
	struct core *core;
	struct entry *left, *e;

	if (http == NULL)
		return;
	core = http->core;
	nng_mtx_lock(core->mtx);
	core->closing = 1;
	while (core->handling > 0)
		nng_cv_wait(core->cv);
	left = core->queued;
	if (core->queued_tail != NULL)
		core->queued_tail->next = core->pending;
	else
		left = core->pending;
	core->queued = core->queued_tail = core->pending = NULL;
	nng_mtx_unlock(core->mtx);
	if (http->server != NULL) {
		nng_http_server_stop(http->server);
		nng_http_server_release(http->server);
	}
	while ((e = left) != NULL) {
		left = e->next;
		(void)respond(e, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE, "application/json",
		              unavailable, sizeof unavailable - 1, NULL, CLOSE_TIMEOUT_MS);
	}
	/* Wait for the answers still going out, then free everything. */
	nng_time deadline = nng_clock() + CLOSE_TIMEOUT_MS;
	nng_mtx_lock(core->mtx);
	for (;;) {
		for (e = core->sending; e != NULL && e->written; e = e->next)
			;
		if (e == NULL || nng_cv_until(core->cv, deadline) == NNG_ETIMEDOUT)
			break;
	}
	nng_mtx_unlock(core->mtx);
	for (;;) {
		nng_mtx_lock(core->mtx);
		e = core->sending;
		if (e != NULL)
			core->sending = e->next;
		nng_mtx_unlock(core->mtx);
		if (e == NULL)
			break;
		entry_free(e); /* nng_aio_free cancels and waits */
	}
	if (http->tls != NULL)
		nng_tls_config_free(http->tls);
	core_drop(core);
	free(http);
}

int
tly_http_port(struct tly_http *http)
{
	return http->port;
}

tly_err
tly_http_next(struct tly_http *http, struct tly_http_request *req, int timeout_ms)
{
	struct core *core = http->core;
	nng_time deadline = nng_clock() + (nng_time)(timeout_ms < 0 ? 0 : timeout_ms);
	struct entry *e;

	TLY_REQUIRE(req != NULL);
	reap_sent(core);
	nng_mtx_lock(core->mtx);
	while ((e = core->queued) == NULL) {
		if (timeout_ms < 0) {
			nng_cv_wait(core->cv);
		} else if (nng_cv_until(core->cv, deadline) == NNG_ETIMEDOUT &&
		           core->queued == NULL) {
			nng_mtx_unlock(core->mtx);
			return TLY_ETIMEDOUT;
		}
	}
	core->queued = e->next;
	if (core->queued == NULL)
		core->queued_tail = NULL;
	e->next = core->pending;
	core->pending = e;
	*req = e->req;
	e->req.body = NULL; /* the caller's now */
	nng_mtx_unlock(core->mtx);
	return TLY_OK;
}

tly_err
tly_http_reply(struct tly_http *http, uint64_t handle, int status, const char *content_type,
               const uint8_t *body, size_t len)
{
	return tly_http_reply_headers(http, handle, status, content_type, body, len, NULL);
}

tly_err
tly_http_reply_headers(struct tly_http *http, uint64_t handle, int status, const char *content_type,
                       const uint8_t *body, size_t len, const char *const *headers)
{
	struct core *core = http->core;
	struct entry *e = NULL;

	if (status < 100 || status > 599 || (len > 0 && (body == NULL || content_type == NULL)))
		return TLY_EINVAL;
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
		if (headers[i + 1] == NULL)
			return TLY_EINVAL;
	reap_sent(core);
	nng_mtx_lock(core->mtx);
	for (struct entry **pp = &core->pending; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->req.handle == handle) {
			e = *pp;
			*pp = e->next;
			break;
		}
	}
	nng_mtx_unlock(core->mtx);
	if (e == NULL)
		return TLY_EINVAL;
	return respond(e, (uint16_t)status, content_type, body, len, headers, WRITE_TIMEOUT_MS);
}

/* ---- the client ---- */

/* A client request, on the heap: when nng never finishes a step (see
 * request_step) the request is left to nng, wedged, and never freed. */
struct request {
	nng_url *url;
	nng_http_client *client;
	nng_http_conn *conn;
	nng_tls_config *tls;
	nng_http_req *req;
	nng_http_res *res;
	nng_aio *aio;
	nng_mtx *mtx;
	nng_cv *cv;
	int done;   /* the aio's step finished (under mtx) */
	int wedged; /* nng still holds the aio: leak everything */
};

/* The aio's callback: it touches only mtx, cv and done. */
static void
request_done(void *arg)
{
	struct request *r = arg;

	nng_mtx_lock(r->mtx);
	r->done = 1;
	nng_cv_wake(r->cv);
	nng_mtx_unlock(r->mtx);
}

static tly_err
request_build(struct request *r, const char *method, const struct tly_tls_files *tls,
              const char *auth, const uint8_t *body, size_t len, char *why, size_t why_len)
{
	tly_err rv;
	int nrv;

	if ((nrv = nng_mtx_alloc(&r->mtx)) != 0 || (nrv = nng_cv_alloc(&r->cv, r->mtx)) != 0 ||
	    (nrv = nng_aio_alloc(&r->aio, request_done, r)) != 0)
		return tly_nng_err(nrv, "HTTP request", why, why_len);
	if ((nrv = nng_http_client_alloc(&r->client, r->url)) != 0)
		return tly_nng_err(nrv, r->url->u_rawurl, why, why_len);
	if (tls != NULL) {
		const char *name = tls->server_name != NULL ? tls->server_name : r->url->u_hostname;
		if ((rv = tly_tls_config(&r->tls, NNG_TLS_MODE_CLIENT, tls, name, why, why_len)) !=
		    TLY_OK)
			return rv;
		if ((nrv = nng_http_client_set_tls(r->client, r->tls)) != 0)
			return tly_nng_err(nrv, "HTTPS configuration", why, why_len);
	}
	if ((nrv = nng_http_req_alloc(&r->req, r->url)) != 0 ||
	    (nrv = nng_http_req_set_method(r->req, method)) != 0 ||
	    (len > 0 && (nrv = nng_http_req_copy_data(r->req, body, len)) != 0) ||
	    (auth != NULL &&
	     (nrv = nng_http_req_set_header(r->req, TLY_PLANNER_HEADER, auth)) != 0) ||
	    (nrv = nng_http_res_alloc(&r->res)) != 0)
		return tly_nng_err(nrv, "HTTP request", why, why_len);
	return TLY_OK;
}

/* Wait for the step under way until it is done or `until`; nonzero when
 * done. Called and returns with r->mtx held. */
static int
request_wait(struct request *r, nng_time until, int forever)
{
	while (!r->done) {
		if (forever)
			nng_cv_wait(r->cv);
		else if (nng_cv_until(r->cv, until) == NNG_ETIMEDOUT)
			break;
	}
	return r->done;
}

/*
 * Run one step on r->aio within what is left of the deadline.
 *
 * nng 1.5.2 cannot be trusted with a connection whose server never
 * answers the TLS handshake (seen when the coordinator is killed with
 * SIGKILL as a planner connects, tests/helpers/faults.c; reproduced by
 * tests/test_faults.c with a server that accepts and stays silent): the
 * step's timeout was seen not to fire, and once it has, closing the
 * connection waits forever. So the deadline is kept here too: past it,
 * cancel the step, and if nng does not finish it even then, give it up as
 * NNG_ETIMEDOUT. A transact that ended in a timeout or cancellation marks
 * the request wedged: nothing nng may still touch is freed or closed (a
 * leak of one connection per such request, in return for not hanging).
 */
static int
request_step(struct request *r, nng_time deadline, int forever)
{
	nng_time now = nng_clock();
	int done;

	if (forever)
		nng_aio_set_timeout(r->aio, NNG_DURATION_INFINITE);
	else
		nng_aio_set_timeout(r->aio, deadline > now ? (nng_duration)(deadline - now) : 1);
	nng_mtx_lock(r->mtx);
	r->done = 0;
	nng_mtx_unlock(r->mtx);
	if (r->conn == NULL)
		nng_http_client_connect(r->client, r->aio);
	else
		nng_http_conn_transact(r->conn, r->req, r->res, r->aio);
	nng_mtx_lock(r->mtx);
	done = request_wait(r, deadline + STUCK_GRACE_MS, forever);
	nng_mtx_unlock(r->mtx);
	if (!done) {
		nng_aio_cancel(r->aio);
		nng_mtx_lock(r->mtx);
		done = request_wait(r, nng_clock() + STUCK_GRACE_MS, 0);
		r->wedged = !done;
		nng_mtx_unlock(r->mtx);
		if (!done)
			return NNG_ETIMEDOUT;
	}
	int rv = nng_aio_result(r->aio);
	if (r->conn != NULL && (rv == NNG_ETIMEDOUT || rv == NNG_ECANCELED))
		r->wedged = 1;
	return rv;
}

static void
request_free(struct request *r)
{
	if (r == NULL || r->wedged)
		return; /* nng may still call request_done: leak it all */
	if (r->conn != NULL)
		nng_http_conn_close(r->conn);
	if (r->aio != NULL)
		nng_aio_free(r->aio);
	if (r->res != NULL)
		nng_http_res_free(r->res);
	if (r->req != NULL)
		nng_http_req_free(r->req);
	if (r->client != NULL)
		nng_http_client_free(r->client);
	if (r->tls != NULL)
		nng_tls_config_free(r->tls);
	if (r->url != NULL)
		nng_url_free(r->url);
	if (r->cv != NULL)
		nng_cv_free(r->cv);
	if (r->mtx != NULL)
		nng_mtx_free(r->mtx);
	free(r);
}

tly_err
tly_https_request(const char *url, const char *method, const struct tly_tls_files *tls,
                  const uint8_t *body, size_t len, int timeout_ms, int *status, uint8_t **response,
                  size_t *response_len, char *why, size_t why_len)
{
	return tly_https_request_signed(url, method, tls, NULL, body, len, timeout_ms, status,
	                                response, response_len, why, why_len);
}

tly_err
tly_https_request_signed(const char *url, const char *method, const struct tly_tls_files *tls,
                         const char *auth, const uint8_t *body, size_t len, int timeout_ms,
                         int *status, uint8_t **response, size_t *response_len, char *why,
                         size_t why_len)
{
	nng_time deadline = nng_clock() + (nng_time)(timeout_ms < 0 ? 0 : timeout_ms);
	struct request *r = calloc(1, sizeof *r);
	uint8_t *copy;
	void *data;
	size_t data_len;
	tly_err rv;
	int nrv;

	TLY_REQUIRE(url != NULL && method != NULL && status != NULL && response != NULL &&
	            response_len != NULL && (len == 0 || body != NULL));
	if (r == NULL)
		return TLY_ENOMEM;
	if ((rv = tly_url_parse(&r->url, url, 1, tls != NULL, why, why_len)) != TLY_OK ||
	    (rv = request_build(r, method, tls, auth, body, len, why, why_len)) != TLY_OK)
		goto out;
	/* Connect, then transact on the connection: nng_http_client_transact
	 * would add "Connection: close" (see the top of this file). */
	if ((nrv = request_step(r, deadline, timeout_ms < 0)) != 0) {
		rv = tly_nng_err(nrv, url, why, why_len);
		goto out;
	}
	r->conn = nng_aio_get_output(r->aio, 0);
	if ((nrv = request_step(r, deadline, timeout_ms < 0)) != 0) {
		rv = tly_nng_err(nrv, url, why, why_len);
		goto out;
	}
	nng_http_res_get_data(r->res, &data, &data_len);
	if ((copy = malloc(data_len + 1)) == NULL) {
		rv = TLY_ENOMEM;
		goto out;
	}
	if (data_len > 0)
		memcpy(copy, data, data_len);
	copy[data_len] = '\0';
	*status = nng_http_res_get_status(r->res);
	*response = copy;
	*response_len = data_len;
	rv = TLY_OK;
out:
	request_free(r);
	return rv;
}
