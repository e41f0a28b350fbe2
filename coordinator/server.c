#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <jansson.h>

#include "coordinator/api.h"
#include "coordinator/config.h"
#include "coordinator/planners.h"
#include "coordinator/release.h"
#include "coordinator/shares.h"
#include "coordinator/translog.h"
#include "crypto/dp.h"
#include "crypto/rng.h"
#include "query/receipt.h"
#include "protocol/committee.h"
#include "net/guard.h"
#include "store/keys.h"
#include "query/noise.h"
#include "query/spec.h"
#include "net/transport.h"
#include "store/head.h"

enum { POLL_MS = 20, RECEIPTS_MAX = TLY_MAX_PARTIES, ROWS_CAP = 1000000000 };

/* Hostile peers. A poll takes at most MESSAGES_PER_POLL node messages
 * before it serves the API and the deadlines again, so a flooding node
 * delays others by one batch, not by its whole backlog. A node that sends
 * more than FLOOD_REFUSED_MAX refused messages in one FLOOD_WINDOW_MS
 * window (an honest node sends a handful per query, none refused) is
 * disconnected, its unread messages dropped, and held off for
 * FLOOD_HOLD_MS. Each kind of misbehaviour is logged once per node and
 * query (or window) and counted, and the counts are named in the query's
 * transparency log entry (MISDEEDS_MAX node-kind pairs). */
enum {
	MESSAGES_PER_POLL = 512,
	FLOOD_WINDOW_MS = 1000,
	FLOOD_REFUSED_MAX = 1000,
	FLOOD_HOLD_MS = 5000,
	MISDEEDS_MAX = 32,
};

enum misdeed_kind {
	MISDEED_MALFORMED,   /* no valid header, or another sender's */
	MISDEED_UNVERIFIED,  /* a signature that does not verify */
	MISDEED_OTHER_QUERY, /* for a query that is not the running one */
	MISDEED_LAYOUT,      /* wrong length or layout (TLY_EFORMAT) */
	MISDEED_RANGE,       /* an element >= p (TLY_ERANGE) */
	MISDEED_REPLAY,      /* a replay or a second message (TLY_EREPLAY) */
	MISDEED_NOT_ALLOWED, /* a message it may not send (TLY_EPEER, TLY_EAUTH) */
	MISDEED_OUT_OF_ROUND, /* not valid in this round, or after the end */
	MISDEED_COMPLAINED,  /* named in a member's complaint */
	MISDEED_FLOOD,       /* disconnected for flooding */
	MISDEED_KINDS
};

static const char *const misdeed_names[MISDEED_KINDS] = {
	[MISDEED_MALFORMED] = "malformed or misattributed messages",
	[MISDEED_UNVERIFIED] = "messages whose signature does not verify",
	[MISDEED_OTHER_QUERY] = "messages for a query that is not running (replayed, late or "
				"foreign)",
	[MISDEED_LAYOUT] = "messages of the wrong length or layout",
	[MISDEED_RANGE] = "messages with a field element >= p",
	[MISDEED_REPLAY] = "replayed or duplicate messages",
	[MISDEED_NOT_ALLOWED] = "messages it may not send (wrong role, set or key)",
	[MISDEED_OUT_OF_ROUND] = "messages out of round (late or early)",
	[MISDEED_COMPLAINED] = "complaints against it by a member (share missing, unopenable or "
			       "with an element >= p)",
	[MISDEED_FLOOD] = "disconnections for flooding",
};

struct misdeed {
	uint32_t node;
	uint32_t kind;
	uint64_t count;
};

/* Per roster index: refused messages in the current flood window. */
struct peer_window {
	uint64_t start;
	uint64_t refused;
	uint64_t idle_refused; /* while no query ran, or for other queries */
};

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note(const char *fmt, ...)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s tally-coordinator: ", when);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* Fault injection for the kill -9 tests (tests/test_faults.c): with
 * TALLY_TEST_CRASH_AT set to a step's name, the coordinator kills itself
 * with SIGKILL at that step, exactly as `kill -9` would: "committed"
 * (the query is in the log, nothing sent), "shared" (every node has
 * charged and sent its shares), "released" (the total is computed, its
 * outcome not yet logged). Unset in every real deployment. */
static void
crash_point(const char *step)
{
	const char *at = getenv("TALLY_TEST_CRASH_AT");
	if (at != NULL && strcmp(at, step) == 0) {
		note("TALLY_TEST_CRASH_AT=%s: killing this process (a test)", step);
		raise(SIGKILL);
	}
}

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- state ---- */

struct job {
	uint64_t handle; /* the planner's HTTP request; 0 when async */
	uint8_t query_id[TLY_QUERY_ID_BYTES]; /* drawn when it is queued */
	char *spec_json;
	size_t spec_len;
	char planner[TLY_PLANNER_NAME_MAX + 1]; /* who signed it (planners.h) */
	uint64_t queued_ms;
	struct job *next;
};

/* What an async query (POST /v1/queries?async=1) ended with, for GET
 * /v1/queries/{id}: the newest RESULTS_MAX are kept (a ring). */
enum { RESULTS_MAX = 256 };

struct result {
	char qid[2 * TLY_QUERY_ID_BYTES + 1];
	int status;
	char *body; /* malloc'd JSON: the release, or {"error": ...} */
};

/* Per planner (index into the planners file): its rate bucket and how
 * many of its queries wait. */
struct planner_state {
	struct tly_bucket bucket;
	uint32_t queued;
};

struct refusal {
	uint32_t node;
	uint32_t reason;
	char text[TLY_REFUSAL_TEXT_MAX + 1];
};

/* The running query. */
struct running {
	uint64_t handle;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	char qid[2 * TLY_QUERY_ID_BYTES + 1];
	struct tly_spec spec;
	char *canonical;
	struct tly_query query;
	uint32_t *participants, *committee;
	struct tly_committee_coord *coord;
	uint64_t deadline;
	uint32_t *shares_from; /* per participant index: SHAREs relayed */
	struct tly_buf receipts[RECEIPTS_MAX];
	uint32_t receipt_from[RECEIPTS_MAX];
	size_t receipt_count;
	struct refusal *refusals;
	size_t refusal_count;
	struct misdeed misdeeds[MISDEEDS_MAX];
	size_t misdeed_count;
	uint64_t misdeeds_lost; /* beyond MISDEEDS_MAX pairs */
	uint8_t *log_commit; /* the QUERY's log section (malloc'd) */
	uint64_t started_ms;
};

struct server {
	struct tly_coord_config cfg;
	struct tly_identity identity;
	struct tly_roster roster;
	struct tly_planners planners;
	struct tly_catalogue catalogue;
	char *catalogue_json;
	struct tly_translog *log;
	struct tly_hub *hub;
	struct tly_http *http;
	struct tly_guard *guard; /* the API's public listener, in front of http */
	struct tly_rng rng;
	struct job *queue_head, *queue_tail;
	size_t queued;
	struct running *current;
	uint64_t answered, refused, failed;
	struct peer_window *windows; /* by roster index */
	uint64_t *head_sent;         /* by roster index: the last log head size sent */
	uint64_t flood_dropped;      /* messages dropped unread at disconnections */
	struct planner_state *per_planner; /* by index into planners.keys */
	struct result results[RESULTS_MAX];
	size_t results_next;                 /* the ring's next slot */
	char async_qid[2 * TLY_QUERY_ID_BYTES + 1]; /* the job started last, when async */
	uint64_t run_ms_avg;                 /* how long a query takes, for Retry-After */
	struct tly_shares *shares; /* per-planner shares; NULL when planner_share = 1 */
};

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
static void
answer(struct server *s, uint64_t handle, int status, const char *text)
{
	if (handle == 0) {
		char *copy = strdup(text);
		if (copy != NULL)
			keep_result(s, status, copy);
		return;
	}
	if (tly_http_reply(s->http, handle, status, "application/json", (const uint8_t *)text,
		strlen(text)) != TLY_OK)
		note("could not answer a planner request (status %d)", status);
}

static void
reply_json(struct server *s, uint64_t handle, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	if (text != NULL)
		answer(s, handle, status, text);
	else
		note("could not answer a planner request (status %d)", status);
	free(text);
	json_decref(body);
}

/* 429 with Retry-After (also in the body, for clients that lose headers). */
static void
reply_429(struct server *s, uint64_t handle, uint32_t retry_s, const char *code,
    const char *planner, const char *limit, const char *message)
{
	char seconds[16];
	json_t *body = json_pack("{s:{s:s, s:s, s:s, s:s, s:I}}", "error", "code", code, "message",
	    message, "planner", planner, "limit", limit, "retry_after", (json_int_t)retry_s);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	snprintf(seconds, sizeof seconds, "%u", retry_s);
	if (text == NULL ||
	    tly_http_reply_headers(s->http, handle, 429, "application/json", (const uint8_t *)text,
		strlen(text), (const char *const[]){"Retry-After", seconds, NULL}) != TLY_OK)
		note("could not answer a planner request (status 429)");
	free(text);
	json_decref(body);
}

static void
reply_error(struct server *s, uint64_t handle, int status, const char *code, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
reply_error(struct server *s, uint64_t handle, int status, const char *code, const char *field,
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

/* ---- sending ---- */

static void
send_outbox(struct server *s, struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++) {
		uint32_t to = box->items[i].to;
		if (to == TLY_PARTY_COORDINATOR)
			continue;
		tly_err rv = tly_hub_send(s->hub, to, box->items[i].data, box->items[i].len);
		if (rv != TLY_OK && s->current != NULL)
			note("query %s: cannot reach node %u (%s): counted as dropped", s->current->qid,
			    to, tly_strerror(rv));
	}
	tly_outbox_clear(box);
}

/* ---- the running query ---- */

static void
running_free(struct running *r)
{
	if (r == NULL)
		return;
	tly_committee_coord_free(r->coord);
	tly_spec_fini(&r->spec);
	free(r->canonical);
	free(r->participants);
	free(r->committee);
	free(r->shares_from);
	for (size_t i = 0; i < r->receipt_count; i++)
		tly_buf_fini(&r->receipts[i]);
	free(r->refusals);
	free(r->log_commit);
	free(r);
}

/* ---- misbehaving nodes ---- */

static void
misdeed_note(struct server *s, uint32_t node, enum misdeed_kind kind)
{
	struct running *r = s->current;
	struct misdeed *m = NULL;

	for (size_t i = 0; r != NULL && i < r->misdeed_count && m == NULL; i++)
		if (r->misdeeds[i].node == node && r->misdeeds[i].kind == kind)
			m = &r->misdeeds[i];
	if (r != NULL && m == NULL && r->misdeed_count < MISDEEDS_MAX) {
		m = &r->misdeeds[r->misdeed_count++];
		*m = (struct misdeed){node, kind, 0};
	} else if (r != NULL && m == NULL) {
		r->misdeeds_lost++;
		return;
	}
	if (m != NULL && m->count++ == 0)
		note("query %s: node %u: %s (logged once; counted in the log entry)", r->qid, node,
		    misdeed_names[kind]);
}

static struct peer_window *
window_of(struct server *s, uint32_t node)
{
	const struct tly_party *party = tly_roster_find(&s->roster, node);

	if (party == NULL || s->windows == NULL)
		return NULL;
	struct peer_window *w = &s->windows[party - s->roster.parties];
	uint64_t now = now_ms();
	if (now - w->start >= FLOOD_WINDOW_MS) {
		if (w->idle_refused > 1)
			note("node %u: %llu messages for no running query in the last window", node,
			    (unsigned long long)w->idle_refused);
		w->start = now;
		w->refused = w->idle_refused = 0;
	}
	return w;
}

/* A message from `node` was refused: count it against the node, name it
 * in the running query, and cut off a node that floods. */
static void
refused_from(struct server *s, uint32_t node, enum misdeed_kind kind)
{
	struct peer_window *w = window_of(s, node);

	if (s->current != NULL && kind != MISDEED_OTHER_QUERY) {
		misdeed_note(s, node, kind);
	} else if (w != NULL && w->idle_refused++ == 0) {
		note("node %u: dropped a message for a query that is not running (more are "
		     "counted per window)", node);
		if (s->current != NULL)
			misdeed_note(s, node, kind);
	} else if (s->current != NULL) {
		misdeed_note(s, node, kind);
	}
	if (w == NULL || ++w->refused <= FLOOD_REFUSED_MAX)
		return;
	char why[120];
	snprintf(why, sizeof why, "over %d refused messages in %d ms", FLOOD_REFUSED_MAX,
	    FLOOD_WINDOW_MS);
	size_t dropped = tly_hub_disconnect(s->hub, node, FLOOD_HOLD_MS, why);
	s->flood_dropped += dropped;
	note("node %u: disconnected for flooding (%s); %zu queued messages dropped unread; held "
	     "off for %d ms",
	    node, why, dropped, FLOOD_HOLD_MS);
	if (s->current != NULL)
		misdeed_note(s, node, MISDEED_FLOOD);
	w->refused = 0;
}

static enum misdeed_kind
misdeed_of(tly_err rv)
{
	switch (rv) {
	case TLY_EFORMAT:
		return MISDEED_LAYOUT;
	case TLY_ERANGE:
		return MISDEED_RANGE;
	case TLY_EREPLAY:
		return MISDEED_REPLAY;
	case TLY_ESTATE:
		return MISDEED_OUT_OF_ROUND;
	case TLY_EAUTH:
		return MISDEED_UNVERIFIED;
	default:
		return MISDEED_NOT_ALLOWED;
	}
}

/* The query's misbehaviour for its log entry: every (node, kind) count,
 * and why each participant outside the total is out. */
static void
misdeed_summary(const struct running *r, const struct tly_idlist *contributors, char *out,
    size_t len)
{
	size_t used = 0;

	out[0] = '\0';
#define APPEND(...)                                                                     \
	do {                                                                            \
		if (used < len) {                                                       \
			int n = snprintf(out + used, len - used, __VA_ARGS__);          \
			used += n > 0 ? (size_t)n : 0;                                  \
		}                                                                       \
	} while (0)
	for (size_t i = 0; i < r->misdeed_count; i++)
		APPEND("%snode %u: %llu %s", used ? "; " : "", r->misdeeds[i].node,
		    (unsigned long long)r->misdeeds[i].count, misdeed_names[r->misdeeds[i].kind]);
	if (r->misdeeds_lost > 0)
		APPEND("%s%llu more", used ? "; " : "", (unsigned long long)r->misdeeds_lost);
	for (uint32_t i = 0; i < r->query.participants.count && r->shares_from != NULL; i++) {
		uint32_t id = r->participants[i];
		if (contributors != NULL && tly_idlist_contains(contributors, id))
			continue;
		if (r->shares_from[i] < r->query.committee.count)
			APPEND("%snode %u: %u of %u shares before the deadline", used ? "; " : "",
			    id, r->shares_from[i], r->query.committee.count);
		else if (contributors != NULL)
			APPEND("%snode %u: left out after a complaint", used ? "; " : "", id);
	}
#undef APPEND
	if (used >= len && len > 4)
		memcpy(out + len - 4, "...", 4);
}

/* ---- per-planner shares (coordinator/shares.h) ---- */

static struct tly_share_ask
share_ask(const struct running *r, const struct tly_catalogue *cat)
{
	return (struct tly_share_ask){r->spec.planner, cat->datasets[r->spec.dataset].name,
	    r->spec.mechanism, {r->spec.privacy_num, r->spec.privacy_den}};
}

/* The outcome's receipts teach caps; its amount moves from in flight to
 * spent. The receipts were verified when they came (on_receipt). */
static void
shares_outcome(struct server *s, uint8_t outcome)
{
	struct running *r = s->current;
	struct tly_ledger_receipt *receipts;
	size_t n = 0;

	if (s->shares == NULL)
		return;
	/* On the heap: up to RECEIPTS_MAX of them would be 0.6 MB of stack. */
	receipts = calloc(r->receipt_count + 1, sizeof *receipts);
	for (size_t i = 0; receipts != NULL && i < r->receipt_count; i++)
		if (tly_ledger_receipt_decode(&receipts[n], r->receipts[i].data,
			r->receipts[i].len) == TLY_OK)
			n++;
	if (receipts == NULL ||
	    tly_shares_outcome(s->shares, r->query_id, outcome, receipts, n) != TLY_OK)
		note("query %s: its planner's share could not be updated (it stays counted in "
		     "flight)", r->qid);
	free(receipts);
}

/* 403 before anything is logged or sent: the planner's share of a
 * population's cap would be passed. */
static void
reply_share(struct server *s, uint64_t handle, const char *planner, const char *dataset,
    const struct tly_share_refusal *w)
{
	char spent[48], asked[48], allowed[48], share[48], message[600];
	struct tly_fraction sh = {s->cfg.planner_share_num, s->cfg.planner_share_den};

	tly_ledger_fraction_format(spent, sizeof spent, w->spent);
	tly_ledger_fraction_format(asked, sizeof asked, w->asked);
	tly_ledger_fraction_format(allowed, sizeof allowed, w->allowed);
	tly_ledger_fraction_format(share, sizeof share, sh);
	if (w->no_cap)
		snprintf(message, sizeof message,
		    "planner %s already has a query on dataset %s in flight and no trust has yet "
		    "stated that dataset's cap; try again when it has finished",
		    planner, dataset);
	else
		snprintf(message, sizeof message,
		    "planner %s has spent %s %s of population %s at trust %u and asks %s more: "
		    "over its share %s of the cap (%s %s; api.planner_share)",
		    planner, w->unit, spent, w->population, w->node, asked, share, w->unit,
		    allowed);
	json_t *error = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "code", "budget",
	    "field", "api.planner_share", "message", message, "planner", planner, "dataset",
	    dataset, "unit", w->unit, "spent", spent, "asked", asked, "share", share);
	if (error != NULL && !w->no_cap) {
		json_object_set_new(error, "population", json_string(w->population));
		json_object_set_new(error, "node", json_integer(w->node));
		json_object_set_new(error, "allowed", json_string(allowed));
	}
	reply_json(s, handle, 403, json_pack("{s:o}", "error", error));
}

/* Nonzero when the planner's share allows the query; else it is answered. */
static int
share_allows(struct server *s, const struct running *r)
{
	struct tly_share_refusal w;
	struct tly_share_ask ask = share_ask(r, &s->catalogue);

	if (s->shares == NULL)
		return 1;
	tly_err rv = tly_shares_check(s->shares, &ask, &w);
	if (rv == TLY_OK)
		return 1;
	if (rv != TLY_EBUDGET) {
		reply_error(s, r->handle, 500, "internal", NULL, "the planner's share cannot be "
		    "checked: %s", tly_strerror(rv));
		return 0;
	}
	note("query %s: planner %s over its share of dataset %s: refused, nothing logged or "
	     "sent", r->qid, ask.planner, ask.dataset);
	reply_share(s, r->handle, ask.planner, ask.dataset, &w);
	s->refused++;
	return 0;
}

/* Record the outcome in the transparency log; a failure to log is loud. */
static void
record(struct server *s, uint8_t outcome, const char *reason, const char *release_json,
    const struct tly_idlist *contributors, const struct tly_idlist *dropped)
{
	struct running *r = s->current;
	struct tly_translog_record rec;
	struct tly_translog_receipt receipts[RECEIPTS_MAX];
	char why[300], summary[TLY_TRANSLOG_REASON_MAX + 1], full[TLY_TRANSLOG_REASON_MAX + 1];

	for (size_t i = 0; i < r->receipt_count; i++)
		receipts[i] = (struct tly_translog_receipt){r->receipts[i].data, r->receipts[i].len};
	memset(&rec, 0, sizeof rec);
	memcpy(rec.query_id, r->query_id, TLY_QUERY_ID_BYTES);
	memcpy(rec.query_hash, r->query.query_hash, TLY_HASH_BYTES);
	rec.protocol = r->query.protocol;
	rec.threshold = r->query.threshold;
	rec.degree = r->query.degree;
	rec.outcome = outcome;
	/* The reason, then who misbehaved and how: signed with the entry. */
	misdeed_summary(r, outcome == TLY_TRANSLOG_RELEASED ? contributors : NULL, summary,
	    sizeof summary);
	if (summary[0] != '\0') {
		note("query %s: misbehaviour: %s", r->qid, summary);
		/* Truncated to the log's limit, with "..." saying so. */
		int n = snprintf(full, sizeof full, "%s%s%s", reason, reason[0] != '\0' ? "; " : "",
		    summary);
		if (n < 0 || (size_t)n > TLY_TRANSLOG_REASON_MAX)
			memcpy(full + TLY_TRANSLOG_REASON_MAX - 3, "...", 4);
		reason = full;
	}
	rec.reason = reason;
	rec.spec_json = r->canonical;
	rec.spec_len = r->canonical != NULL ? strlen(r->canonical) : 0;
	rec.release_json = release_json;
	rec.release_len = release_json != NULL ? strlen(release_json) : 0;
	rec.contributors = contributors;
	rec.dropped = dropped;
	rec.receipts = receipts;
	rec.receipt_count = r->receipt_count;
	if (tly_translog_append(s->log, &rec, NULL, why, sizeof why) != TLY_OK)
		note("query %s: COULD NOT WRITE THE TRANSPARENCY LOG: %s", r->qid, why);
	shares_outcome(s, outcome);
}

static void
finish_released(struct server *s)
{
	struct running *r = s->current;
	struct tly_committee_result result;
	struct tly_noise_params noise;
	char why[300], *json = NULL;

	if (tly_committee_coord_result(r->coord, &result) != TLY_OK) {
		reply_error(s, r->handle, 500, "internal", NULL, "the total could not be read");
		return;
	}
	struct tly_release_sdc defaults = {s->cfg.suppress_below, s->cfg.round_to};
	struct tly_release_input in = {.query_id = r->query_id, .spec = &r->spec,
	    .cat = &s->catalogue, .noise = &noise, .cells = result.cells, .d = result.d,
	    .contributors = &result.contributors, .dropped = &result.dropped,
	    .sdc = tly_release_sdc_resolve(&r->spec, defaults)};
	tly_err rv = tly_noise_calibrate(&r->query, &noise);
	if (rv == TLY_OK)
		rv = tly_release_encode(&in, &json, why, sizeof why);
	if (rv != TLY_OK) {
		note("query %s: cannot release: %s", r->qid, why);
		record(s, TLY_TRANSLOG_ABORTED, why, NULL, &result.contributors, &result.dropped);
		reply_error(s, r->handle, 500, "internal", NULL, "cannot release: %s", why);
		s->failed++;
	} else {
		crash_point("released");
		/* Logged before the planner sees it: nothing is released unlogged. */
		record(s, TLY_TRANSLOG_RELEASED, "", json, &result.contributors, &result.dropped);
		answer(s, r->handle, 200, json);
		note("query %s: released (%u contributors, %u dropped)", r->qid,
		    result.contributors.count, result.dropped.count);
		s->answered++;
	}
	free(json);
	tly_committee_result_fini(&result);
}

static void
finish_failed(struct server *s, const char *why)
{
	struct running *r = s->current;

	/* Refusals decide the answer when they are what left too few. */
	if (r->refusal_count > 0) {
		const struct refusal *f = &r->refusals[0];
		int budget = strstr(f->text, "budget") != NULL || strstr(f->text, "cap") != NULL;
		char reason[800];
		snprintf(reason, sizeof reason, "refused by node %u: %s", f->node, f->text);
		record(s, TLY_TRANSLOG_REFUSED, reason, NULL, NULL, NULL);
		reply_error(s, r->handle, 403, budget ? "budget" : "refused", NULL,
		    "%s (%zu of %u trusts refused)", reason, r->refusal_count,
		    r->query.participants.count);
		note("query %s: %s", r->qid, reason);
		s->refused++;
		return;
	}
	record(s, TLY_TRANSLOG_ABORTED, why, NULL, NULL, NULL);
	int deadline = strstr(why, "deadline") != NULL;
	reply_error(s, r->handle, deadline ? 504 : 409, deadline ? "deadline" : "too_few", NULL,
	    "%s", why);
	note("query %s: aborted: %s", r->qid, why);
	s->failed++;
}

/* The share-sums are not on one polynomial: nothing is released. */
static void
finish_inconsistent(struct server *s)
{
	struct running *r = s->current;
	const char *why = "inconsistent share-sums: a contributor equivocated or a member lied";

	record(s, TLY_TRANSLOG_ABORTED, why, NULL, NULL, NULL);
	reply_error(s, r->handle, 409, "inconsistent", NULL, "%s; nothing was released", why);
	note("query %s: aborted: %s", r->qid, why);
	s->failed++;
}

static void
finish(struct server *s)
{
	struct running *r = s->current;
	enum tly_committee_phase phase = tly_committee_coord_phase(r->coord);

	if (phase == TLY_COMMITTEE_DONE)
		finish_released(s);
	else if (tly_committee_coord_abort_reason(r->coord) == TLY_ABORT_INCONSISTENT)
		finish_inconsistent(s);
	else
		finish_failed(s, "too few contributors or committee answers before the deadline");
	/* A running mean (weight 1/4) of how long queries take. */
	uint64_t took = now_ms() - r->started_ms;
	s->run_ms_avg = s->run_ms_avg == 0 ? took : (3 * s->run_ms_avg + took) / 4;
	running_free(r);
	s->current = NULL;
}

/* Pick the participants (every connected node of the registry) and a
 * committee of k of them at random. */
static tly_err
choose_parties(struct server *s, struct running *r, char *why, size_t why_len)
{
	uint32_t n = 0, k = s->cfg.committee_size;

	r->participants = calloc(s->roster.count + 1, sizeof *r->participants);
	r->committee = calloc(k + 1, sizeof *r->committee);
	r->shares_from = calloc(s->roster.count + 1, sizeof *r->shares_from);
	if (r->participants == NULL || r->committee == NULL || r->shares_from == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i < s->roster.count; i++)
		if (tly_hub_connected(s->hub, s->roster.parties[i].id))
			r->participants[n++] = s->roster.parties[i].id;
	if (n < s->cfg.min_contributors || n < k) {
		say(why, why_len, "only %u of %zu trusts are connected; the query needs %u",
		    n, s->roster.count, s->cfg.min_contributors > k ? s->cfg.min_contributors : k);
		return TLY_ETOOFEW;
	}
	/* k distinct participants, by a partial Fisher-Yates shuffle of a copy,
	 * then sorted (the committee list is increasing). */
	uint32_t *pool = malloc(n * sizeof *pool);
	if (pool == NULL)
		return TLY_ENOMEM;
	memcpy(pool, r->participants, n * sizeof *pool);
	for (uint32_t i = 0; i < k; i++) {
		uint32_t j = i + (uint32_t)tly_rng_uniform(&s->rng, n - i);
		uint32_t t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
	}
	for (uint32_t i = 0; i < k; i++) {
		uint32_t v = pool[i], at = i;
		while (at > 0 && r->committee[at - 1] > v) {
			r->committee[at] = r->committee[at - 1];
			at--;
		}
		r->committee[at] = v;
	}
	free(pool);
	r->query.participants = (struct tly_idlist){n, r->participants};
	r->query.committee = (struct tly_idlist){k, r->committee};
	return TLY_OK;
}

/* Who asked goes into the spec, so into the QUERY, its hash and the log:
 * the name the request was signed with. A "planner" the JSON names itself
 * must be that one. Zero (and the planner answered) when it is not. */
static int
claim_planner(struct server *s, const struct job *job, struct tly_spec *spec)
{
	if (spec->planner[0] != '\0' && strcmp(spec->planner, job->planner) != 0) {
		reply_error(s, job->handle, 400, "invalid_query", "planner",
		    "the query names planner %s but was signed by %s", spec->planner,
		    job->planner);
		return 0;
	}
	snprintf(spec->planner, sizeof spec->planner, "%s", job->planner);
	return 1;
}

/* The head sizes the participants may hold: the heads of the newest
 * committed queries, and the last head sent to each participant. */
enum { RECENT_HEADS = 16 };

static size_t
head_sizes(struct server *s, const struct running *r, uint64_t *sizes)
{
	size_t n = 0;

	if (tly_translog_recent_heads(s->log, sizes, RECENT_HEADS, &n) != TLY_OK)
		n = 0;
	for (uint32_t i = 0; i < r->query.participants.count; i++) {
		const struct tly_party *p = tly_roster_find(&s->roster, r->query.participants.ids[i]);
		if (p != NULL && s->head_sent[p - s->roster.parties] != 0)
			sizes[n++] = s->head_sent[p - s->roster.parties];
	}
	return n;
}

/* No query outside the log: append its "committed" entry and attach the
 * signed head, inclusion and consistency proofs to the QUERY, before any
 * byte of it leaves (docs/PROTOCOL.md section 5.4). */
static tly_err
commit_query(struct server *s, struct running *r, char *why, size_t why_len)
{
	struct tly_translog_record rec;
	struct tly_log_commit *c = calloc(1, sizeof *c);
	uint64_t *sizes = calloc(RECENT_HEADS + r->query.participants.count + 1, sizeof *sizes);
	size_t len = 0;
	tly_err rv = TLY_ENOMEM;

	r->log_commit = malloc(TLY_COMMIT_MAX_BYTES);
	if (c == NULL || sizes == NULL || r->log_commit == NULL)
		goto out;
	memset(&rec, 0, sizeof rec);
	memcpy(rec.query_id, r->query_id, TLY_QUERY_ID_BYTES);
	memcpy(rec.query_hash, r->query.query_hash, TLY_HASH_BYTES);
	rec.protocol = r->query.protocol;
	rec.threshold = r->query.threshold;
	rec.degree = r->query.degree;
	rec.outcome = TLY_TRANSLOG_COMMITTED;
	rec.spec_json = r->canonical;
	rec.spec_len = strlen(r->canonical);
	size_t n = head_sizes(s, r, sizes);
	if ((rv = tly_translog_commit(s->log, &rec, sizes, n, c, why, why_len)) != TLY_OK ||
	    (rv = tly_log_commit_encode(r->log_commit, &len, c)) != TLY_OK)
		goto out;
	r->query.log_commit = r->log_commit;
	r->query.log_commit_len = (uint32_t)len;
	for (uint32_t i = 0; i < r->query.participants.count; i++) {
		const struct tly_party *p = tly_roster_find(&s->roster, r->query.participants.ids[i]);
		if (p != NULL)
			s->head_sent[p - s->roster.parties] = c->head.size;
	}
	note("query %s: committed to the transparency log (head size %" PRIu64 ")", r->qid,
	    c->head.size);
	struct tly_share_ask ask = share_ask(r, &s->catalogue);
	if (s->shares != NULL && tly_shares_commit(s->shares, r->query_id, &ask) != TLY_OK)
		note("query %s: its planner's share could not count it in flight", r->qid);
	crash_point("committed");
out:
	free(sizes);
	free(c);
	return rv;
}

/*
 * Issue 12 section 2: the noise the query needs must be within the
 * samplers' caps and its work (query/noise.h, tly_noise_cost) within
 * max_query_work, before the query is sent. The nodes apply the same rule
 * before they charge anything.
 */
static tly_err
check_cost(struct server *s, const struct tly_query *q, char *why, size_t why_len)
{
	struct tly_noise_params params;
	uint64_t work;
	const char *name = q->mechanism == TLY_MECH_SKELLAM ? "rho" : "epsilon";

	tly_err rv = tly_noise_cost(q, &params, &work);
	if (rv == TLY_ERANGE) {
		say(why, why_len,
		    "%s: the noise this %s needs passes the samplers' limits (noise scale above "
		    "%llu, query/noise.h): raise %s",
		    name, name, (unsigned long long)TLY_DP_POLYA_MAX_SCALE, name);
		return TLY_EINVAL;
	}
	if (rv != TLY_OK) {
		say(why, why_len, "%s: the noise cannot be calibrated: %s", name, tly_strerror(rv));
		return TLY_EINVAL;
	}
	if (work > s->cfg.max_query_work) {
		say(why, why_len,
		    "the query's noise would cost %llu work units, above this coordinator's "
		    "max_query_work %llu: ask for fewer cells or a larger %s",
		    (unsigned long long)work, (unsigned long long)s->cfg.max_query_work, name);
		return TLY_EINVAL;
	}
	return TLY_OK;
}

/* Turn a job into the running query, or answer it with an error. */
static void
start_job(struct server *s, struct job *job)
{
	struct running *r = calloc(1, sizeof *r);
	struct tly_spec_error serr;
	struct tly_outbox box;
	uint64_t l1, l2sq;
	char why[400] = "";
	tly_err rv;

	if (r == NULL) {
		reply_error(s, job->handle, 500, "internal", NULL, "out of memory");
		return;
	}
	r->handle = job->handle;
	r->started_ms = now_ms();
	if (job->handle == 0)
		tly_hex(s->async_qid, job->query_id, sizeof job->query_id);
	rv = tly_spec_parse(&r->spec, &s->catalogue, job->spec_json, job->spec_len, &serr);
	if (rv != TLY_OK) {
		reply_error(s, job->handle, 400, "invalid_query", serr.field, "%s", serr.reason);
		free(r);
		return;
	}
	if (!claim_planner(s, job, &r->spec)) {
		running_free(r);
		return;
	}
	memcpy(r->query_id, job->query_id, sizeof r->query_id);
	tly_hex(r->qid, r->query_id, sizeof r->query_id);
	struct tly_query *q = &r->query;
	if (tly_spec_canonical(&r->spec, &s->catalogue, &r->canonical) != TLY_OK ||
	    tly_spec_hash(&r->spec, &s->catalogue, q->query_hash) != TLY_OK ||
	    tly_spec_sensitivity(&r->spec, &s->catalogue, &l1, &l2sq) != TLY_OK) {
		reply_error(s, job->handle, 400, "invalid_query", NULL,
		    "the query's sensitivity or shape cannot be computed");
		running_free(r);
		return;
	}
	q->protocol = TLY_PROTOCOL_COMMITTEE;
	q->mechanism = r->spec.mechanism;
	q->cells = (uint32_t)tly_spec_cells(&r->spec, &s->catalogue);
	q->privacy_num = r->spec.privacy_num;
	q->privacy_den = r->spec.privacy_den;
	q->sensitivity_l1 = l1;
	q->sensitivity_l2sq = l2sq;
	q->min_honest = s->cfg.min_honest;
	q->min_contributors = s->cfg.min_contributors;
	q->threshold = s->cfg.threshold;
	q->quorum = s->cfg.quorum;
	q->degree = s->cfg.committee_size;
	q->deadline_ms = s->cfg.deadline_ms;
	q->spec_json = r->canonical;
	q->spec_len = (uint32_t)strlen(r->canonical);
	s->current = r;
	rv = choose_parties(s, r, why, sizeof why);
	if (rv == TLY_OK && r->spec.protocol != TLY_PROTOCOL_COMMITTEE) {
		say(why, sizeof why,
		    "this coordinator runs committee sharing; pairwise masking is not served yet");
		rv = TLY_EINVAL;
	}
	if (rv == TLY_OK &&
	    tly_field_sum_fits(q->participants.count,
		tly_spec_cell_bound(&r->spec, &s->catalogue, ROWS_CAP)) != TLY_OK) {
		say(why, sizeof why, "the total could overflow the field: narrow the query");
		rv = TLY_EINVAL;
	}
	if (rv == TLY_OK)
		rv = check_cost(s, q, why, sizeof why);
	/* Before anything is logged or sent: no entry, no node charged. */
	if (rv == TLY_OK && !share_allows(s, r)) {
		running_free(r);
		s->current = NULL;
		return;
	}
	tly_outbox_init(&box);
	if (rv == TLY_OK && commit_query(s, r, why, sizeof why) != TLY_OK) {
		note("query %s: COULD NOT COMMIT TO THE TRANSPARENCY LOG: %s", r->qid, why);
		/* Its outcome, so that a committed entry the commit left behind
		 * does not read as a crash ("committed, no release"). */
		record(s, TLY_TRANSLOG_ABORTED, why, NULL, NULL, NULL);
		reply_error(s, job->handle, 500, "internal", NULL,
		    "the query could not be logged, so it was not sent");
		tly_outbox_fini(&box);
		running_free(r);
		s->current = NULL;
		return;
	}
	if (rv == TLY_OK) {
		rv = tly_committee_coord_alloc(&r->coord, &s->identity, &s->roster, q, r->query_id,
		    &box);
		if (rv != TLY_OK)
			say(why, sizeof why, "the query breaks a protocol rule: %s",
			    tly_strerror(rv));
	}
	if (rv != TLY_OK) {
		int status = rv == TLY_ETOOFEW ? 409 : rv == TLY_EINVAL ? 400 : 500;
		record(s, rv == TLY_ETOOFEW ? TLY_TRANSLOG_ABORTED : TLY_TRANSLOG_REFUSED, why, NULL, NULL,
		    NULL);
		reply_error(s, job->handle, status,
		    rv == TLY_ETOOFEW ? "too_few" : rv == TLY_EINVAL ? "invalid_query" : "internal",
		    NULL, "%s", why);
		note("query %s: not started: %s", r->qid, why);
		tly_outbox_fini(&box);
		running_free(r);
		s->current = NULL;
		return;
	}
	/* The members are named so that operators (and the kill -9 fault
	 * runs, tests/helpers/faults.c) can tell who holds this query's shares. */
	char members[512] = ""; /* a long committee is cut short */
	for (uint32_t i = 0, used = 0; i < q->committee.count && used < sizeof members; i++) {
		int n = snprintf(members + used, sizeof members - used, "%s%u", i ? " " : "",
		    q->committee.ids[i]);
		used += n > 0 ? (uint32_t)n : 0;
	}
	note("query %s: asked by planner %s; started with %u trusts, committee of %u (t = %u): %s",
	    r->qid, r->spec.planner, q->participants.count, q->committee.count, q->threshold,
	    members);
	send_outbox(s, &box);
	tly_outbox_fini(&box);
	r->deadline = now_ms() + s->cfg.deadline_ms;
}

/* Every participant has delivered all its shares or refused: the sharing
 * round can close before its deadline. */
static int
sharing_complete(const struct server *s)
{
	const struct running *r = s->current;
	uint32_t done = 0;
	for (uint32_t i = 0; i < r->query.participants.count; i++)
		if (r->shares_from[i] >= r->query.committee.count)
			done++;
	return done + r->refusal_count >= r->query.participants.count;
}

static long
participant_index(const struct running *r, uint32_t id)
{
	for (uint32_t i = 0; i < r->query.participants.count; i++)
		if (r->participants[i] == id)
			return (long)i;
	return -1;
}

static void
on_receipt(struct server *s, uint32_t from, const struct tly_msg *m)
{
	struct running *r = s->current;
	struct tly_ledger_receipt receipt;
	const struct tly_party *party = tly_roster_find(&s->roster, from);

	for (size_t i = 0; i < r->receipt_count; i++) {
		if (r->receipt_from[i] == from) {
			note("query %s: node %u sent a second receipt: ignored", r->qid, from);
			return;
		}
	}

	if (party == NULL || r->receipt_count == RECEIPTS_MAX ||
	    tly_ledger_receipt_decode(&receipt, m->body, m->body_len) != TLY_OK ||
	    tly_ledger_receipt_verify(&receipt, party->sign_pk) != TLY_OK ||
	    receipt.node_id != from ||
	    memcmp(receipt.query_id, r->query_id, TLY_QUERY_ID_BYTES) != 0 ||
	    memcmp(receipt.query_hash, r->query.query_hash, TLY_HASH_BYTES) != 0) {
		note("query %s: node %u sent a receipt that does not verify: ignored", r->qid, from);
		return;
	}
	tly_buf_init(&r->receipts[r->receipt_count]);
	tly_buf_put_bytes(&r->receipts[r->receipt_count], m->body, m->body_len);
	r->receipt_from[r->receipt_count++] = from;
}

/* A node that holds a log head no QUERY proved from (it fell more than
 * RECENT_HEADS behind, or this coordinator restarted and forgot what it
 * had sent) names its size in its refusal (store/head.h,
 * TLY_REFUSAL_NO_PROOF): the next QUERY to it proves from that size. A
 * hint only: the node checks the proof. */
static void
held_head_hint(struct server *s, uint32_t from, const char *text)
{
	const struct tly_party *p = tly_roster_find(&s->roster, from);
	const char *at = strstr(text, TLY_REFUSAL_NO_PROOF);
	uint64_t size = 0;

	if (p == NULL || at == NULL)
		return;
	for (at += strlen(TLY_REFUSAL_NO_PROOF); *at >= '0' && *at <= '9'; at++) {
		if (size > (UINT64_MAX - 9) / 10)
			return;
		size = size * 10 + (uint64_t)(*at - '0');
	}
	if (*at == ')' && size > 0)
		s->head_sent[p - s->roster.parties] = size;
}

static void
on_refusal(struct server *s, uint32_t from, const struct tly_msg *m)
{
	struct running *r = s->current;
	struct refusal f = {.node = from};

	if (tly_refusal_decode(&f.reason, f.text, m->body, m->body_len) != TLY_OK) {
		note("query %s: node %u sent a malformed refusal", r->qid, from);
		return;
	}
	struct refusal *grown = realloc(r->refusals, (r->refusal_count + 1) * sizeof *grown);
	if (grown == NULL)
		return;
	r->refusals = grown;
	r->refusals[r->refusal_count++] = f;
	note("query %s: node %u refused: %s", r->qid, from, f.text);
	held_head_hint(s, from, f.text);
}

/* A member's complaint, accepted (so verified): name the nodes in it. */
static void
on_complaint(struct server *s, uint32_t member, const struct tly_msg *m)
{
	struct tly_idlist named = {0};
	uint32_t attempt;

	if (tly_attempt_list_decode(&attempt, &named, m->body, m->body_len) != TLY_OK)
		return;
	for (uint32_t i = 0; i < named.count; i++) {
		note("query %s: member %u complains about node %u (attempt %u): its share is "
		     "missing or unusable",
		    s->current->qid, member, named.ids[i], attempt);
		misdeed_note(s, named.ids[i], MISDEED_COMPLAINED);
	}
	tly_idlist_fini(&named);
}

static void
on_node_message(struct server *s, uint32_t from, uint8_t *msg, size_t len)
{
	struct running *r = s->current;
	struct tly_msg m;
	struct tly_outbox box;

	/* Route on the header; the state machine verifies what it takes, and
	 * receipts and refusals are verified here. Verifying twice would cost
	 * an Ed25519 check over every 80 KB share. */
	if (tly_msg_peek(msg, len, &m) != TLY_OK || m.header.sender != from) {
		refused_from(s, from, MISDEED_MALFORMED);
		return;
	}
	/* Messages for other queries are dropped on the header alone, before
	 * any signature is checked: a flood of them costs a comparison each. */
	if (r == NULL || memcmp(m.header.query_id, r->query_id, TLY_QUERY_ID_BYTES) != 0) {
		refused_from(s, from, MISDEED_OTHER_QUERY);
		return;
	}
	if ((m.header.type == TLY_MSG_RECEIPT || m.header.type == TLY_MSG_REFUSAL) &&
	    tly_msg_open(msg, len, &s->roster, &m) != TLY_OK) {
		refused_from(s, from, MISDEED_UNVERIFIED);
		return;
	}
	if (m.header.type == TLY_MSG_RECEIPT) {
		on_receipt(s, from, &m);
		return;
	}
	if (m.header.type == TLY_MSG_REFUSAL) {
		on_refusal(s, from, &m);
		return;
	}
	tly_outbox_init(&box);
	tly_err rv = tly_committee_coord_receive(r->coord, msg, len, &box);
	if (rv == TLY_OK && m.header.type == TLY_MSG_SHARE) {
		long i = participant_index(r, from);
		if (i >= 0)
			r->shares_from[i]++;
	} else if (rv == TLY_OK && m.header.type == TLY_MSG_COMPLAINT) {
		on_complaint(s, from, &m);
	} else if (rv != TLY_OK && rv != TLY_ETOOFEW &&
		   !(rv == TLY_EAUTH && tly_committee_coord_abort_reason(r->coord) ==
					    TLY_ABORT_INCONSISTENT) &&
		   !(rv == TLY_EREPLAY && m.header.type == TLY_MSG_COMPLAINT)) {
		/* ETOOFEW and the inconsistency abort judge the query, not this
		 * message, which was accepted; a complaint about an attempt that
		 * was re-announced meanwhile is an honest member's, only stale. */
		refused_from(s, from, misdeed_of(rv));
	}
	send_outbox(s, &box);
	tly_outbox_fini(&box);
}

static void
advance(struct server *s)
{
	struct running *r = s->current;
	enum tly_committee_phase phase = tly_committee_coord_phase(r->coord);

	if (phase == TLY_COMMITTEE_DONE || phase == TLY_COMMITTEE_ABORTED) {
		finish(s);
		return;
	}
	int early = phase == TLY_COMMITTEE_SHARING && sharing_complete(s);
	if (early)
		crash_point("shared");
	if (!early && now_ms() < r->deadline)
		return;
	struct tly_outbox box;
	tly_outbox_init(&box);
	tly_err rv = tly_committee_coord_close_round(r->coord, &box);
	send_outbox(s, &box);
	tly_outbox_fini(&box);
	r->deadline = now_ms() + s->cfg.deadline_ms;
	if (rv != TLY_OK || tly_committee_coord_phase(r->coord) == TLY_COMMITTEE_ABORTED)
		finish(s);
}

/* ---- the API ---- */

static void
status(struct server *s, uint64_t handle)
{
	json_int_t connected = 0;
	for (size_t i = 0; i < s->roster.count; i++)
		connected += tly_hub_connected(s->hub, s->roster.parties[i].id) != 0;
	json_t *body = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "nodes_registered",
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
static int
authenticate(struct server *s, const struct tly_http_request *req, char *name)
{
	char why[300];
	tly_err rv = tly_planners_check(&s->planners, req->auth, req->method, req->path,
	    req->body, req->body_len, (uint64_t)time(NULL), name, why, sizeof why);

	if (rv == TLY_OK)
		return 1;
	note("refused a query request: %s", why);
	if (rv == TLY_ERANGE)
		reply_error(s, req->handle, 503, "busy", NULL, "%s", why);
	else
		reply_error(s, req->handle, 403, "unauthenticated", NULL, "%s", why);
	return 0;
}

static void
reply_405(struct server *s, const struct tly_http_request *req, const char *allow)
{
	char message[400];
	snprintf(message, sizeof message, "%s %s: this path takes %s", req->method, req->path,
	    allow);
	json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", "method_not_allowed",
	    "message", message);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text == NULL ||
	    tly_http_reply_headers(s->http, req->handle, 405, "application/json",
		(const uint8_t *)text, strlen(text), (const char *const[]){"Allow", allow, NULL}) !=
		TLY_OK)
		note("could not answer a planner request (status 405)");
	free(text);
	json_decref(body);
}

static void
releases(struct server *s, uint64_t handle, const struct tly_api_params *p)
{
	char *json = NULL;
	tly_err rv = tly_translog_releases_page(s->log, p->since, p->limit, &json);

	if (rv == TLY_OK)
		answer(s, handle, 200, json);
	else
		reply_error(s, handle, 500, "internal", NULL, "cannot read the log: %s",
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
		snprintf(limit, sizeof limit, "api.planner_queue_max = %u", s->cfg.planner_queue_max);
		reply_429(s, handle, queue_retry_s(s), "planner_queue_full", planner, limit,
		    "this planner has as many queries waiting as it may; try again later");
		return 0;
	}
	if (!tly_bucket_take(&ps->bucket, s->cfg.planner_rate, s->cfg.planner_burst, now_ms(),
		&retry)) {
		snprintf(limit, sizeof limit, "api.planner_rate = %u a minute, api.planner_burst = %u",
		    s->cfg.planner_rate, s->cfg.planner_burst);
		note("planner %s: over its rate (%s): 429", planner, limit);
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
	if (!authenticate(s, req, planner) || !admit(s, req->handle, planner))
		return;
	struct job *job = calloc(1, sizeof *job);
	if (job == NULL) {
		planner_state(s, planner)->queued--;
		reply_error(s, req->handle, 500, "internal", NULL, "out of memory");
		return;
	}
	tly_rng_bytes(&s->rng, job->query_id, sizeof job->query_id);
	job->handle = p->async ? 0 : req->handle;
	snprintf(job->planner, sizeof job->planner, "%s", planner);
	job->spec_json = (char *)req->body;
	job->spec_len = req->body_len;
	job->queued_ms = now_ms();
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
		    tly_http_reply_headers(s->http, req->handle, 202, "application/json",
			(const uint8_t *)text, strlen(text),
			(const char *const[]){"Location", location, NULL}) != TLY_OK)
			note("could not answer a planner request (status 202)");
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
			reply_json(s, handle, 200, json_pack("{s:s, s:s, s:I}", "query_id", qid,
			    "state", "queued", "ahead", (json_int_t)place));
			return;
		}
	}
	if (s->current != NULL && strcmp(s->current->qid, qid) == 0) {
		reply_json(s, handle, 200, json_pack("{s:s, s:s}", "query_id", qid, "state",
		    "running"));
		return;
	}
	for (size_t i = 0; i < RESULTS_MAX; i++) {
		const struct result *r = &s->results[i];
		if (r->body == NULL || strcmp(r->qid, qid) != 0)
			continue;
		json_t *result = json_loads(r->body, 0, NULL);
		reply_json(s, handle, 200, json_pack("{s:s, s:s, s:i, s:o}", "query_id", qid, "state",
		    "done", "status", r->status, "result", result != NULL ? result : json_null()));
		return;
	}
	reply_error(s, handle, 404, "not_found", "id",
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

static void
on_request(struct server *s, struct tly_http_request *req)
{
	static const char queries_prefix[] = "/v1/queries/";
	int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
	char path[TLY_HTTP_PATH_MAX];
	const char *query;
	unsigned allowed = 0;
	const char *allow = NULL;
	int one_query = 0;
	struct tly_api_params p;
	struct tly_api_error perr;

	if (tly_api_split(req->path, path, sizeof path, &query) != TLY_OK) {
		reply_error(s, req->handle, 414, "uri_too_long", NULL, "the request URI is too long");
		return;
	}
	if (strcmp(path, "/v1/catalogue") == 0 || strcmp(path, "/v1/status") == 0) {
		allow = "GET";
	} else if (strcmp(path, "/v1/releases") == 0) {
		allow = "GET";
		allowed = TLY_API_SINCE | TLY_API_LIMIT;
	} else if (strcmp(path, "/v1/queries") == 0) {
		allow = "POST";
		allowed = TLY_API_ASYNC;
	} else if (strncmp(path, queries_prefix, sizeof queries_prefix - 1) == 0 &&
		   is_query_id(path + sizeof queries_prefix - 1)) {
		allow = "GET";
		one_query = 1;
	}
	if (allow == NULL) {
		reply_error(s, req->handle, 404, "not_found", NULL,
		    "%s %s: not part of the API (POST /v1/queries, GET /v1/queries/{id}, "
		    "GET /v1/catalogue, GET /v1/releases, GET /v1/status)",
		    req->method, path);
		return;
	}
	if (!(strcmp(allow, "GET") == 0 ? get : post)) {
		reply_405(s, req, allow);
		return;
	}
	if (tly_api_params_parse(query, allowed, &p, &perr) != TLY_OK) {
		reply_error(s, req->handle, 400, "invalid_request", perr.field, "%s: %s", perr.field,
		    perr.reason);
		return;
	}
	if (one_query) {
		query_state(s, req->handle, path + sizeof queries_prefix - 1);
	} else if (strcmp(path, "/v1/catalogue") == 0) {
		answer(s, req->handle, 200, s->catalogue_json);
	} else if (strcmp(path, "/v1/status") == 0) {
		status(s, req->handle);
	} else if (strcmp(path, "/v1/releases") == 0) {
		releases(s, req->handle, &p);
	} else {
		post_query(s, req, &p);
	}
}

static struct job *
dequeue(struct server *s)
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

/* ---- setup and the loop ---- */

static char *
read_file(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	char *text = f != NULL ? malloc(max + 1) : NULL;
	if (text != NULL) {
		size_t len = fread(text, 1, max, f);
		text[len] = '\0';
	}
	if (f != NULL)
		fclose(f);
	return text;
}

/*
 * Descriptors: the API may hold TLY_GUARD_FDS_PER_CONN per connection, up
 * to [limits] api_max_conns; node links get their own share (each node's
 * link, the hub's connections awaiting HELLO, a reconnecting node's second
 * link), and FILES_BASE covers the rest (the log, SQLite, nng's own). The
 * soft RLIMIT_NOFILE is raised to that need, and start-up fails when the
 * hard limit is lower: the API then could take what node links need.
 */
enum { FILES_BASE = 128 };

static tly_err
raise_files(struct server *s, char *why, size_t why_len)
{
	rlim_t need = (rlim_t)s->cfg.api_max_conns * TLY_GUARD_FDS_PER_CONN + TLY_GUARD_FDS_OWN +
	              2 * (rlim_t)s->roster.count + TLY_PENDING_MAX + FILES_BASE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		say(why, why_len, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return TLY_EIO;
	}
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		say(why, why_len,
		    "limits.api_max_conns = %" PRIu32 " needs %llu open files, but the hard "
		    "RLIMIT_NOFILE is %llu: lower api_max_conns or raise the hard limit",
		    s->cfg.api_max_conns, (unsigned long long)need, (unsigned long long)rl.rlim_max);
		return TLY_EINVAL;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
		note("open files: limit %llu, need %llu (api_max_conns %" PRIu32 ", %zu nodes)",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need,
		    s->cfg.api_max_conns, s->roster.count);
		return TLY_OK;
	}
	rlim_t old = rl.rlim_cur;
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		say(why, why_len, "setrlimit(RLIMIT_NOFILE, %llu): %s", (unsigned long long)need,
		    strerror(errno));
		return TLY_EIO;
	}
	note("open files: limit raised from %llu to %llu (api_max_conns %" PRIu32 ", %zu nodes)",
	    (unsigned long long)old, (unsigned long long)need, s->cfg.api_max_conns,
	    s->roster.count);
	return TLY_OK;
}

/* The API: nng's HTTP server on a loopback port of its own, behind the
 * guard on the configured address (net/guard.h: nng 1.5's server
 * has no connection limit, handshake deadline or idle timeout). */
static tly_err
open_api(struct server *s, const struct tly_tls_files *tls, char *why, size_t why_len)
{
	struct tly_guard_limits lim = {.max_conns = s->cfg.api_max_conns,
	    .handshake_ms = s->cfg.handshake_timeout_ms,
	    .idle_ms = s->cfg.idle_timeout_ms,
	    .tls = tls != NULL};
	const char *inner = tls != NULL ? "https://127.0.0.1:0" : "http://127.0.0.1:0";
	tly_err rv = tly_http_open(&s->http, inner, tls, why, why_len);

	if (rv != TLY_OK)
		return rv;
	return tly_guard_open(&s->guard, s->cfg.api, tly_http_port(s->http), &lim, why, why_len);
}

/* Each planner's spend, rebuilt from the log before any query is taken
 * (only when planner_share < 1). */
static tly_err
open_shares(struct server *s, char *why, size_t why_len)
{
	struct tly_fraction share = {s->cfg.planner_share_num, s->cfg.planner_share_den};
	size_t spends, flights, caps;
	tly_err rv;

	if (share.num == share.den)
		return TLY_OK;
	if ((rv = tly_shares_alloc(&s->shares, share)) != TLY_OK ||
	    (rv = tly_translog_load_shares(s->log, s->shares, why, why_len)) != TLY_OK)
		return rv;
	tly_shares_counts(s->shares, &spends, &flights, &caps);
	note("planner_share %" PRIu64 "/%" PRIu64 ": rebuilt from the log: %zu planner-dataset "
	     "spends, %zu queries without an outcome (counted as spent), %zu trust caps",
	    share.num, share.den, spends, flights, caps);
	return TLY_OK;
}

/* Issue 12 section 6: a broken chain or a bad signature is noticed at
 * start, before any listener opens, as the node does with its ledger
 * (node/node.c), naming the first bad entry. The chain only (sequence,
 * hash, signature, prev_hash): the whole audit, receipts and budgets,
 * cost milliseconds an entry and held a restarted coordinator off the air
 * for 84 s at 4,000 entries of 20 receipts each (`make soak`'s heartbeat
 * recipe); it is `tally audit verify`'s job. */
static tly_err
verify_log(struct server *s, char *why, size_t why_len)
{
	struct tly_translog_report report;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	tly_err rv = tly_translog_verify_chain(s->log, &s->roster, &report);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* report.reason names the entry ("entry N: what is wrong"). */
	if (rv != TLY_OK)
		say(why, why_len, "%s: the transparency log does not verify: %s; refusing to start",
		    s->cfg.log, report.reason);
	else
		note("transparency log chain verified: %llu entries in %lld ms",
		    (unsigned long long)report.entries,
		    (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	tly_translog_report_fini(&report);
	return rv;
}

static tly_err
open_server(struct server *s, const char *config_path, char *why, size_t why_len)
{
	struct tly_coord_config_error cerr;
	struct tly_spec_error serr;
	tly_err rv = tly_coord_config_load(&s->cfg, config_path, &cerr);

	if (rv != TLY_OK) {
		tly_coord_config_error_format(&cerr, why, why_len);
		return rv;
	}
	if ((rv = tly_identity_from_files(&s->identity, TLY_PARTY_COORDINATOR, s->cfg.sign_key, NULL,
		 why, why_len)) != TLY_OK ||
	    (rv = tly_registry_load(&s->roster, s->cfg.registry, why, why_len)) != TLY_OK ||
	    (rv = tly_planners_load(&s->planners, s->cfg.planners, why, why_len)) != TLY_OK)
		return rv;
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	tly_sign_key_public(s->identity.sign, pk);
	if (memcmp(pk, s->roster.coordinator_pk, sizeof pk) != 0) {
		say(why, why_len, "%s: the registry pins another coordinator key",
		    s->cfg.registry);
		return TLY_EAUTH;
	}
	s->catalogue_json = read_file(s->cfg.catalogue, TLY_SPEC_JSON_MAX);
	if (s->catalogue_json == NULL) {
		say(why, why_len, "%s: cannot read", s->cfg.catalogue);
		return TLY_EIO;
	}
	rv = tly_catalogue_parse(&s->catalogue, s->catalogue_json, strlen(s->catalogue_json), &serr);
	if (rv != TLY_OK) {
		say(why, why_len, "%s: %s: %s", s->cfg.catalogue, serr.field, serr.reason);
		return rv;
	}
	/* The log's folder is the coordinator's own state: make it on first run. */
	char state[TLY_COORD_PATH_MAX];
	snprintf(state, sizeof state, "%s", s->cfg.log);
	char *slash = strrchr(state, '/');
	if (slash != NULL && slash != state) {
		*slash = '\0';
		if (mkdir(state, 0700) != 0 && errno != EEXIST) {
			say(why, why_len, "%s: %s", state, strerror(errno));
			return TLY_EIO;
		}
	}
	struct tly_translog_error lerr;
	if ((rv = tly_translog_open(&s->log, s->cfg.log, s->identity.sign, &lerr)) != TLY_OK) {
		say(why, why_len, "%s", lerr.message);
		return rv;
	}
	if ((rv = verify_log(s, why, why_len)) != TLY_OK ||
	    (rv = open_shares(s, why, why_len)) != TLY_OK)
		return rv;
	/* One CA per role: each listener trusts only its own role's CA. */
	struct tly_tls_files node_tls = {.cert = s->cfg.tls_cert, .key = s->cfg.tls_key,
	    .ca = s->cfg.tls_node_ca};
	struct tly_tls_files planner_tls = {.cert = s->cfg.tls_cert, .key = s->cfg.tls_key,
	    .ca = s->cfg.tls_planner_ca};
	int hub_tls = strncmp(s->cfg.listen, "tls+", 4) == 0;
	int api_tls = strncmp(s->cfg.api, "https:", 6) == 0;
	/* The descriptor budget first: refused before any listener opens. */
	if ((rv = raise_files(s, why, why_len)) != TLY_OK ||
	    (rv = tly_hub_open(&s->hub, s->cfg.listen, hub_tls ? &node_tls : NULL, &s->roster, why,
		 why_len)) != TLY_OK ||
	    (rv = open_api(s, api_tls ? &planner_tls : NULL, why, why_len)) != TLY_OK)
		return rv;
	tly_hub_heartbeat(
	    s->hub, (int)s->cfg.heartbeat_interval_ms, (int)s->cfg.heartbeat_dead_ms);
	tly_rng_init(&s->rng);
	s->windows = calloc(s->roster.count + 1, sizeof *s->windows);
	s->head_sent = calloc(s->roster.count + 1, sizeof *s->head_sent);
	s->per_planner = calloc(s->planners.count + 1, sizeof *s->per_planner);
	return s->windows != NULL && s->head_sent != NULL && s->per_planner != NULL ? TLY_OK :
	                                                                            TLY_ENOMEM;
}

static void
close_server(struct server *s)
{
	struct job *job;
	while ((job = dequeue(s)) != NULL) {
		if (s->http != NULL && job->handle != 0) /* async: nobody waits */
			reply_error(s, job->handle, 503, "busy", NULL, "the coordinator is stopping");
		free(job->spec_json);
		free(job);
	}
	tly_guard_close(s->guard);
	tly_http_close(s->http);
	tly_hub_close(s->hub);
	tly_translog_close(s->log);
	tly_shares_free(s->shares);
	tly_catalogue_fini(&s->catalogue);
	free(s->catalogue_json);
	tly_roster_fini(&s->roster);
	tly_planners_fini(&s->planners);
	tly_identity_fini(&s->identity);
	tly_rng_fini(&s->rng);
	free(s->windows);
	free(s->head_sent);
	free(s->per_planner);
	for (size_t i = 0; i < RESULTS_MAX; i++)
		free(s->results[i].body);
}

static void
poll_once(struct server *s)
{
	struct tly_http_request req;
	char line[400];
	uint32_t from;
	uint8_t *msg;
	size_t len;

	while (tly_hub_event(s->hub, line, sizeof line) == TLY_OK)
		note("%s", line);
	while (tly_http_next(s->http, &req, 0) == TLY_OK) {
		on_request(s, &req);
		free(req.body);
	}
	if (s->current == NULL) {
		struct job *job = dequeue(s);
		if (job != NULL) {
			start_job(s, job);
			free(job->spec_json);
			free(job);
		}
	}
	/* Take the messages waiting, up to a batch, then let the rounds move
	 * on and the API be served. */
	int timeout = POLL_MS;
	for (int taken = 0; taken < MESSAGES_PER_POLL &&
	     tly_hub_recv(s->hub, &from, &msg, &len, timeout) == TLY_OK;
	     taken++) {
		on_node_message(s, from, msg, len);
		free(msg);
		timeout = 0;
	}
	if (s->current != NULL)
		advance(s);
}

/*
 * Issue 12 section 2: SIGTERM stops the coordinator within 1 s whatever it
 * is doing. The clean stop (abort the round, log its outcome, answer the
 * waiting planners, close the listeners and the log) usually takes tens of
 * milliseconds, but closing nng's HTTP server can wait seconds for a
 * planner's connection (and, seen once on a loaded machine, did not return).
 * So once the loop has stopped, a watchdog ends the process STOP_GRACE_MS
 * later unless the clean stop has finished by then (then main returns as
 * usual, and sanitizers' exit checks run). Nothing is lost: every log entry
 * was committed and synced when it was appended, as after kill -9
 * (tests/test_faults.c).
 */
enum { STOP_GRACE_MS = 500 };

static atomic_int stop_done;

static void *
stop_watchdog(void *arg)
{
	static const char line[] = "tally-coordinator: the clean stop took longer than "
				   "500 ms: exiting now (the log is synced)\n";
	struct timespec grace = {STOP_GRACE_MS / 1000, (STOP_GRACE_MS % 1000) * 1000000L};

	(void)arg;
	while (nanosleep(&grace, &grace) != 0 && errno == EINTR)
		;
	if (atomic_load(&stop_done))
		return NULL;
	if (write(STDERR_FILENO, line, sizeof line - 1) < 0) {
		/* nothing more to say */
	}
	_exit(0);
}

static void
start_stop_watchdog(void)
{
	pthread_t thread;
	pthread_attr_t attr;

	if (pthread_attr_init(&attr) != 0)
		return;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, stop_watchdog, NULL) != 0)
		note("cannot start the stop watchdog: the stop may take longer than %d ms",
		    STOP_GRACE_MS);
	pthread_attr_destroy(&attr);
}

int
tly_coordinator_run(const char *config_path)
{
	struct server *s = calloc(1, sizeof *s);
	char why[600];
	int code = 0;

	if (s == NULL)
		return 1;
	tly_err rv = open_server(s, config_path, why, sizeof why);
	if (rv != TLY_OK) {
		fprintf(stderr, "tally-coordinator: %s\n", why);
		close_server(s);
		free(s);
		return rv == TLY_EINVAL ? 2 : 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	note("listening for nodes on %s, planners on %s (%zu trusts registered)", s->cfg.listen,
	    s->cfg.api, s->roster.count);
	while (!stopping)
		poll_once(s);
	start_stop_watchdog();
	if (s->current != NULL) {
		struct tly_outbox box;
		tly_outbox_init(&box);
		if (tly_committee_coord_abort(s->current->coord, TLY_ABORT_INTERNAL, &box) == TLY_OK)
			send_outbox(s, &box);
		tly_outbox_fini(&box);
		record(s, TLY_TRANSLOG_ABORTED, "the coordinator stopped", NULL, NULL, NULL);
		reply_error(s, s->current->handle, 503, "busy", NULL, "the coordinator is stopping");
		running_free(s->current);
		s->current = NULL;
	}
	note("stopping after %llu released, %llu refused, %llu failed; %llu messages of flooding "
	     "nodes dropped unread",
	    (unsigned long long)s->answered, (unsigned long long)s->refused,
	    (unsigned long long)s->failed, (unsigned long long)s->flood_dropped);
	close_server(s);
	atomic_store(&stop_done, 1);
	free(s);
	return code;
}
