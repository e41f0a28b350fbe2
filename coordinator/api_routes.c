/*
 * api_routes.c - the planner API: routes, replies and the job queue
 *
 * Query strings and the token bucket are coordinator/api.c (pure); this file
 * holds the handlers that read and answer the server's state, the replies
 * of every status, and queue admission (admit, dequeue).
 *
 * coordinator/server_impl.h holds the state all four files share.
 */
#include "coordinator/server_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- replies ---- */

/* An async query's outcome, kept for GET /v1/queries/{id}; text is the
 * ring's now. */
static void
keep_result(struct server *s, int status, char *text)
{
	struct result *r = &s->results[s->results_next];

	free(r->body);
	snprintf(r->qid, sizeof r->qid, "%s", s->async_qid);
	r->status = status;
	r->body = text;
	s->results_next = (s->results_next + 1) % RESULTS_MAX;
}

/* Answer a request; handle 0 is the async query started last. */
void
srv_answer(struct server *s, uint64_t handle, int status, const char *text)
{
	if (handle == 0) {
		char *copy = strdup(text);
		if (copy != NULL)
			keep_result(s, status, copy);
		return;
	}
	if (tly_http_reply(s->http, handle, status, "application/json", (const uint8_t *)text,
	                   strlen(text)) != TLY_OK)
		srv_note("could not answer a planner request (status %d)", status);
}

static void
reply_json(struct server *s, uint64_t handle, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	if (text != NULL)
		srv_answer(s, handle, status, text);
	else
		srv_note("could not answer a planner request (status %d)", status);
	free(text);
	json_decref(body);
}

/* 429 with Retry-After (also in the body, for clients that lose headers). */
static void
reply_429(struct server *s, uint64_t handle, uint32_t retry_s, const char *code,
          const char *planner, const char *limit, const char *message)
{
	char seconds[16];
	json_t *body =
	    json_pack("{s:{s:s, s:s, s:s, s:s, s:I}}", "error", "code", code, "message", message,
	              "planner", planner, "limit", limit, "retry_after", (json_int_t)retry_s);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	snprintf(seconds, sizeof seconds, "%u", retry_s);
	if (text == NULL ||
	    tly_http_reply_headers(s->http, handle, 429, "application/json", (const uint8_t *)text,
	                           strlen(text),
	                           (const char *const[]){"Retry-After", seconds, NULL}) != TLY_OK)
		srv_note("could not answer a planner request (status 429)");
	free(text);
	json_decref(body);
}

void
srv_reply_error(struct server *s, uint64_t handle, int status, const char *code, const char *field,
                const char *fmt, ...)
{
	char message[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	json_t *error = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (field != NULL)
		json_object_set_new(error, "field", json_string(field));
	reply_json(s, handle, status, json_pack("{s:o}", "error", error));
}

/* 403 before anything is logged or sent: the planner's share of a
 * population's cap would be passed. */
void
srv_reply_share(struct server *s, uint64_t handle, const char *planner, const char *dataset,
                const struct tly_share_refusal *w)
{
	char spent[48], asked[48], allowed[48], share[48], message[600];
	char spent_d[48], asked_d[48], allowed_d[48], share_d[48];
	struct tly_fraction sh = {s->cfg.planner_share_num, s->cfg.planner_share_den};

	/* Exact in the JSON's fields; decimals in the message people read,
	 * never overstating what is left (crypto/frac.h). */
	tly_ledger_fraction_format(spent, sizeof spent, w->spent);
	tly_ledger_fraction_format(asked, sizeof asked, w->asked);
	tly_ledger_fraction_format(allowed, sizeof allowed, w->allowed);
	tly_ledger_fraction_format(share, sizeof share, sh);
	tly_frac_decimal(spent_d, sizeof spent_d, w->spent, TLY_FRAC_PLACES, TLY_FRAC_UP);
	tly_frac_decimal(asked_d, sizeof asked_d, w->asked, TLY_FRAC_PLACES, TLY_FRAC_UP);
	tly_frac_decimal(allowed_d, sizeof allowed_d, w->allowed, TLY_FRAC_PLACES, TLY_FRAC_DOWN);
	tly_frac_decimal(share_d, sizeof share_d, sh, TLY_FRAC_PLACES, TLY_FRAC_DOWN);
	if (w->no_cap)
		snprintf(
		    message, sizeof message,
		    "planner %s already has a query on dataset %s in flight and no trust has yet "
		    "stated that dataset's cap; try again when it has finished",
		    planner, dataset);
	else
		snprintf(
		    message, sizeof message,
		    "planner %s has spent %s %s of population %s at trust %u and asks %s more: "
		    "over its share %s of the cap (%s %s; api.planner_share)",
		    planner, w->unit, spent_d, w->population, w->node, asked_d, share_d, w->unit,
		    allowed_d);
	json_t *error =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "code", "budget", "field",
	              "api.planner_share", "message", message, "planner", planner, "dataset",
	              dataset, "unit", w->unit, "spent", spent, "asked", asked, "share", share);
	if (error != NULL && !w->no_cap) {
		json_object_set_new(error, "population", json_string(w->population));
		json_object_set_new(error, "node", json_integer(w->node));
		json_object_set_new(error, "allowed", json_string(allowed));
	}
	reply_json(s, handle, 403, json_pack("{s:o}", "error", error));
}

/* ---- the API ---- */

static void
status(struct server *s, uint64_t handle)
{
	json_int_t connected = 0;
	for (size_t i = 0; i < s->roster.count; i++)
		connected += tly_hub_connected(s->hub, s->roster.parties[i].id) != 0;
	json_t *body =
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "nodes_registered",
	              (json_int_t)s->roster.count, "nodes_connected", connected, "queued",
	              (json_int_t)s->queued, "released", (json_int_t)s->answered, "refused",
	              (json_int_t)s->refused, "failed", (json_int_t)s->failed);
	if (s->current != NULL)
		json_object_set_new(body, "running", json_string(s->current->qid));
	reply_json(s, handle, 200, body);
}

/* A query must be signed by a listed planner (planners.h): 403 when it is
 * not, and nothing of it is parsed, queued or logged. Nonzero when it is,
 * with the planner's name in name. */
int
srv_authenticate(struct server *s, const struct tly_http_request *req, char *name)
{
	char why[300];
	tly_err rv = tly_planners_check(&s->planners, req->auth, req->method, req->path, req->body,
	                                req->body_len, (uint64_t)time(NULL), name, why, sizeof why);

	if (rv == TLY_OK)
		return 1;
	srv_note("refused a query request: %s", why);
	if (rv == TLY_ERANGE)
		srv_reply_error(s, req->handle, 503, "busy", NULL, "%s", why);
	else
		srv_reply_error(s, req->handle, 403, "unauthenticated", NULL, "%s", why);
	return 0;
}

static void
reply_405(struct server *s, const struct tly_http_request *req, const char *allow)
{
	char message[400];
	snprintf(message, sizeof message, "%s %s: this path takes %s", req->method, req->path,
	         allow);
	json_t *body =
	    json_pack("{s:{s:s, s:s}}", "error", "code", "method_not_allowed", "message", message);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text == NULL ||
	    tly_http_reply_headers(s->http, req->handle, 405, "application/json",
	                           (const uint8_t *)text, strlen(text),
	                           (const char *const[]){"Allow", allow, NULL}) != TLY_OK)
		srv_note("could not answer a planner request (status 405)");
	free(text);
	json_decref(body);
}

static void
releases(struct server *s, uint64_t handle, const struct tly_api_params *p)
{
	char *json = NULL;
	tly_err rv = tly_translog_releases_page(s->log, p->since, p->limit, &json);

	if (rv == TLY_OK)
		srv_answer(s, handle, 200, json);
	else
		srv_reply_error(s, handle, 500, "internal", NULL, "cannot read the log: %s",
		                tly_strerror(rv));
	free(json);
}

/* Seconds until a queue slot frees: about one query's run. */
static uint32_t
queue_retry_s(const struct server *s)
{
	uint64_t ms = s->run_ms_avg > 0 ? s->run_ms_avg : s->cfg.deadline_ms;
	uint64_t sec = (ms + 999) / 1000;
	return (uint32_t)(sec < 1 ? 1 : sec > 600 ? 600 : sec);
}

/* Rate, queue and per-planner queue: nonzero when the query may wait in
 * the queue (and its token is taken), else answered 429. */
static int
admit(struct server *s, uint64_t handle, const char *planner)
{
	size_t i = 0;
	char limit[120];
	uint32_t retry = 0;

	while (i < s->planners.count && strcmp(s->planners.keys[i].name, planner) != 0)
		i++;
	TLY_REQUIRE(i < s->planners.count); /* authenticate found it */
	struct planner_state *ps = &s->per_planner[i];
	if (s->queued >= s->cfg.queue_max) {
		snprintf(limit, sizeof limit, "api.queue_max = %u", s->cfg.queue_max);
		reply_429(s, handle, queue_retry_s(s), "queue_full", planner, limit,
		          "the query queue is full; try again later");
		return 0;
	}
	if (ps->queued >= s->cfg.planner_queue_max) {
		snprintf(limit, sizeof limit, "api.planner_queue_max = %u",
		         s->cfg.planner_queue_max);
		reply_429(s, handle, queue_retry_s(s), "planner_queue_full", planner, limit,
		          "this planner has as many queries waiting as it may; try again later");
		return 0;
	}
	if (!tly_bucket_take(&ps->bucket, s->cfg.planner_rate, s->cfg.planner_burst, srv_now_ms(),
	                     &retry)) {
		snprintf(limit, sizeof limit,
		         "api.planner_rate = %u a minute, api.planner_burst = %u",
		         s->cfg.planner_rate, s->cfg.planner_burst);
		srv_note("planner %s: over its rate (%s): 429", planner, limit);
		reply_429(s, handle, retry, "rate_limited", planner, limit,
		          "this planner is over its query rate; try again later");
		return 0;
	}
	ps->queued++;
	return 1;
}

static struct planner_state *
planner_state(struct server *s, const char *planner)
{
	for (size_t i = 0; i < s->planners.count; i++)
		if (strcmp(s->planners.keys[i].name, planner) == 0)
			return &s->per_planner[i];
	return NULL;
}

static void
post_query(struct server *s, struct tly_http_request *req, const struct tly_api_params *p)
{
	char planner[TLY_PLANNER_NAME_MAX + 1];
	if (!srv_authenticate(s, req, planner) || !admit(s, req->handle, planner))
		return;
	struct job *job = calloc(1, sizeof *job);
	if (job == NULL) {
		planner_state(s, planner)->queued--;
		srv_reply_error(s, req->handle, 500, "internal", NULL, "out of memory");
		return;
	}
	tly_rng_bytes(&s->rng, job->query_id, sizeof job->query_id);
	job->handle = p->async ? 0 : req->handle;
	snprintf(job->planner, sizeof job->planner, "%s", planner);
	job->spec_json = (char *)req->body;
	job->spec_len = req->body_len;
	job->queued_ms = srv_now_ms();
	req->body = NULL;
	if (s->queue_tail != NULL)
		s->queue_tail->next = job;
	else
		s->queue_head = job;
	s->queue_tail = job;
	s->queued++;
	if (p->async) {
		char qid[2 * TLY_QUERY_ID_BYTES + 1], location[64];
		tly_hex(qid, job->query_id, sizeof job->query_id);
		snprintf(location, sizeof location, "/v1/queries/%s", qid);
		json_t *body = json_pack("{s:s, s:s, s:s}", "query_id", qid, "state", "queued",
		                         "location", location);
		char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
		if (text == NULL ||
		    tly_http_reply_headers(
		        s->http, req->handle, 202, "application/json", (const uint8_t *)text,
		        strlen(text), (const char *const[]){"Location", location, NULL}) != TLY_OK)
			srv_note("could not answer a planner request (status 202)");
		free(text);
		json_decref(body);
	}
}

/* GET /v1/queries/{id}: queued (with its place), running, or what it
 * ended with (async queries; the newest RESULTS_MAX). */
static void
query_state(struct server *s, uint64_t handle, const char *qid)
{
	size_t place = 0;
	char hex[2 * TLY_QUERY_ID_BYTES + 1];

	for (struct job *j = s->queue_head; j != NULL; j = j->next, place++) {
		tly_hex(hex, j->query_id, sizeof j->query_id);
		if (strcmp(hex, qid) == 0) {
			reply_json(s, handle, 200,
			           json_pack("{s:s, s:s, s:I}", "query_id", qid, "state", "queued",
			                     "ahead", (json_int_t)place));
			return;
		}
	}
	if (s->current != NULL && strcmp(s->current->qid, qid) == 0) {
		reply_json(s, handle, 200,
		           json_pack("{s:s, s:s}", "query_id", qid, "state", "running"));
		return;
	}
	for (size_t i = 0; i < RESULTS_MAX; i++) {
		const struct result *r = &s->results[i];
		if (r->body == NULL || strcmp(r->qid, qid) != 0)
			continue;
		json_t *result = json_loads(r->body, 0, NULL);
		reply_json(s, handle, 200,
		           json_pack("{s:s, s:s, s:i, s:o}", "query_id", qid, "state", "done",
		                     "status", r->status, "result",
		                     result != NULL ? result : json_null()));
		return;
	}
	srv_reply_error(
	    s, handle, 404, "not_found", "id",
	    "no query %s is queued, running or among the last %d async queries' results "
	    "(GET /v1/releases lists every logged outcome)",
	    qid, RESULTS_MAX);
}

static int
is_query_id(const char *text)
{
	size_t n = strspn(text, "0123456789abcdef");
	return n == 2 * TLY_QUERY_ID_BYTES && text[n] == '\0';
}

void
srv_on_request(struct server *s, struct tly_http_request *req)
{
	static const char queries_prefix[] = "/v1/queries/";
	int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
	char path[TLY_HTTP_PATH_MAX];
	const char *query;
	unsigned allowed = 0;
	const char *allow = NULL;
	int one_query = 0;
	struct tly_api_params p;
	struct tly_field_error perr;

	if (tly_api_split(req->path, path, sizeof path, &query) != TLY_OK) {
		srv_reply_error(s, req->handle, 414, "uri_too_long", NULL,
		                "the request URI is too long");
		return;
	}
	if (srv_web_serve(s, req, path))
		return;
	if (strcmp(path, "/v1/catalogue") == 0 || strcmp(path, "/v1/status") == 0 ||
	    strcmp(path, "/v1/budgets") == 0) {
		allow = "GET";
	} else if (strcmp(path, "/v1/releases") == 0) {
		allow = "GET";
		allowed = TLY_API_SINCE | TLY_API_LIMIT;
	} else if (strcmp(path, "/v1/queries") == 0) {
		allow = "POST";
		allowed = TLY_API_ASYNC;
	} else if (strcmp(path, "/v1/queries/estimate") == 0) {
		allow = "POST";
	} else if (strncmp(path, queries_prefix, sizeof queries_prefix - 1) == 0 &&
	           is_query_id(path + sizeof queries_prefix - 1)) {
		allow = "GET";
		one_query = 1;
	}
	if (allow == NULL) {
		srv_reply_error(
		    s, req->handle, 404, "not_found", NULL,
		    "%s %s: not part of the API (POST /v1/queries, POST /v1/queries/estimate, "
		    "GET /v1/queries/{id}, GET /v1/catalogue, GET /v1/releases, GET /v1/status, "
		    "GET /v1/budgets)",
		    req->method, path);
		return;
	}
	if (!(strcmp(allow, "GET") == 0 ? get : post)) {
		reply_405(s, req, allow);
		return;
	}
	if (tly_api_params_parse(query, allowed, &p, &perr) != TLY_OK) {
		srv_reply_error(s, req->handle, 400, "invalid_request", perr.field, "%s: %s",
		                perr.field, perr.reason);
		return;
	}
	if (one_query) {
		query_state(s, req->handle, path + sizeof queries_prefix - 1);
	} else if (strcmp(path, "/v1/catalogue") == 0) {
		srv_answer(s, req->handle, 200, s->catalogue_json);
	} else if (strcmp(path, "/v1/status") == 0) {
		status(s, req->handle);
	} else if (strcmp(path, "/v1/budgets") == 0) {
		srv_budgets(s, req->handle);
	} else if (strcmp(path, "/v1/releases") == 0) {
		releases(s, req->handle, &p);
	} else if (strcmp(path, "/v1/queries/estimate") == 0) {
		srv_estimate(s, req);
	} else {
		post_query(s, req, &p);
	}
}

struct job *
srv_dequeue(struct server *s)
{
	struct job *job = s->queue_head;
	if (job != NULL) {
		s->queue_head = job->next;
		if (s->queue_head == NULL)
			s->queue_tail = NULL;
		s->queued--;
		struct planner_state *ps = planner_state(s, job->planner);
		if (ps != NULL && ps->queued > 0)
			ps->queued--;
	}
	return job;
}
