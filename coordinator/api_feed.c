/* The public release feed, served (coordinator/feed.h): GET
 * /public/feed.json on a listener of its own, [api] public_feed, without
 * client certificates or signatures, behind its own guard with the
 * [limits] of the API (net/guard.h). The feed is built from the log when
 * it is asked for after the log grew, and kept (at least ten times as long
 * as it took to build): a flood of GETs costs one look at the log's size
 * each and the copy nng sends, not an export each. */
#include "server_impl.h"

#include <stdlib.h>
#include <string.h>

#include "coordinator/api.h"
#include "coordinator/feed.h"
#include "net/guard.h"

static const char feed_path[] = "/public/feed.json";

/* A rebuild holds up the loop (and the rounds) about 0.06-0.09 ms a log
 * entry (docs/FEED.md, "Cost"); after one, the feed is kept for this many times
 * as long, so that at most about a tenth of the loop's time goes to it
 * however fast the log grows and however many ask. */
enum { REBUILD_SHARE = 10 };

/* Each answer holds its own copy of the feed until it is sent (nng copies a
 * reply's body), so the listener takes at most this many connections at
 * once: memory for answers stays under FEED_MAX_CONNS feeds (16.4 MB each
 * at 10^4 log entries), however many ask. Fewer when api_max_conns is.
 * Not much lower: a connection a client has closed stays counted until
 * the guard has closed both its sides (20-30 at a time under 60 quick
 * sequential GETs on loopback, measured). */
enum { FEED_MAX_CONNS = 64 };

tly_err
srv_feed_open(struct server *s, char *why, size_t why_len)
{
	struct tly_guard_limits lim = {.max_conns = s->cfg.api_max_conns < FEED_MAX_CONNS
	                                                ? s->cfg.api_max_conns
	                                                : FEED_MAX_CONNS,
	                               .handshake_ms = s->cfg.handshake_timeout_ms,
	                               .idle_ms = s->cfg.idle_timeout_ms,
	                               .tls = 0};
	tly_err rv;

	if (s->cfg.public_feed[0] == '\0')
		return TLY_OK;
	if ((rv = tly_feed_names_load(&s->feed_names, s->cfg.registry, why, why_len)) != TLY_OK ||
	    (rv = tly_http_open(&s->feed_http, "http://127.0.0.1:0", NULL, why, why_len)) !=
	        TLY_OK ||
	    (rv = tly_guard_open(&s->feed_guard, s->cfg.public_feed, tly_http_port(s->feed_http),
	                         &lim, why, why_len)) != TLY_OK)
		return rv;
	srv_note("public feed: GET %s on port %d (public_feed = %s)", feed_path,
	         tly_guard_port(s->feed_guard), s->cfg.public_feed);
	return TLY_OK;
}

void
srv_feed_close(struct server *s)
{
	tly_guard_close(s->feed_guard);
	tly_http_close(s->feed_http);
	tly_feed_names_fini(&s->feed_names);
	free(s->feed_json);
}

static void
reply(struct server *s, uint64_t handle, int status, const char *body, size_t len,
      const char *const *headers)
{
	if (tly_http_reply_headers(s->feed_http, handle, status, "application/json",
	                           (const uint8_t *)body, len, headers) != TLY_OK)
		srv_note("could not answer a public feed request (status %d)", status);
}

static void
reply_error(struct server *s, uint64_t handle, int status, const char *code, const char *message,
            const char *const *headers)
{
	json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	if (text != NULL)
		reply(s, handle, status, text, strlen(text), headers);
	else
		srv_note("could not answer a public feed request (status %d)", status);
	free(text);
	json_decref(body);
}

/* The feed of the log as it stands, rebuilt when the log grew since. */
static tly_err
refresh(struct server *s, char *why, size_t why_len)
{
	uint64_t size = 0;
	char *json = NULL;
	size_t len = 0;
	tly_err rv;

	if ((rv = tly_feed_log_size(s->log, &size)) != TLY_OK)
		return tly_fail(why, why_len, rv, "cannot read the transparency log");
	uint64_t start = srv_now_ms();
	if (s->feed_json != NULL && (size == s->feed_log_size || start < s->feed_next_ms))
		return TLY_OK;
	if ((rv = tly_feed_export(s->log, &s->roster, &s->feed_names, &json, &len, why, why_len)) !=
	    TLY_OK)
		return rv;
	/* The loop's share: the next rebuild waits REBUILD_SHARE times this
	 * one's time (a feed a little older is still a whole, signed one). */
	uint64_t end = srv_now_ms();
	s->feed_next_ms = end + REBUILD_SHARE * (end - start);
	free(s->feed_json);
	s->feed_json = json;
	s->feed_len = len;
	s->feed_log_size = size;
	srv_note("public feed rebuilt: %zu bytes from %llu log entries", len,
	         (unsigned long long)size);
	return TLY_OK;
}

static void
on_feed_request(struct server *s, const struct tly_http_request *req)
{
	static const char *const allow[] = {"Allow", "GET", NULL};
	char path[TLY_HTTP_PATH_MAX], why[512];
	const char *query;

	if (tly_api_split(req->path, path, sizeof path, &query) != TLY_OK) {
		reply_error(s, req->handle, 414, "uri_too_long", "the request URI is too long",
		            NULL);
	} else if (strcmp(path, feed_path) != 0) {
		reply_error(s, req->handle, 404, "not_found",
		            "this listener serves only GET /public/feed.json", NULL);
	} else if (strcmp(req->method, "GET") != 0) {
		reply_error(s, req->handle, 405, "method_not_allowed",
		            "the public feed is read-only: GET", allow);
	} else if (refresh(s, why, sizeof why) != TLY_OK) {
		srv_note("public feed: %s", why);
		reply_error(s, req->handle, 503, "unavailable", why, NULL);
	} else {
		reply(s, req->handle, 200, s->feed_json, s->feed_len, NULL);
	}
}

void
srv_feed_poll(struct server *s)
{
	struct tly_http_request req;

	while (s->feed_http != NULL && tly_http_next(s->feed_http, &req, 0) == TLY_OK) {
		on_feed_request(s, &req);
		free(req.body);
	}
}
