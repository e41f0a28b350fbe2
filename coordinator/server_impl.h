/*
 * server_impl.h - private to the coordinator's server: the state shared by
 * server.c (open, close, the loop), api_routes.c (the planner API and the
 * job queue), lifecycle.c (a query's life) and misdeeds.c (misbehaving
 * nodes). Not for use outside those four files; coordinator/server.h is the
 * public interface. Functions that cross files carry the srv_ prefix.
 */
#ifndef TLY_COORDINATOR_SERVER_IMPL_H
#define TLY_COORDINATOR_SERVER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "coordinator/api.h"
#include "coordinator/budgets.h"
#include "coordinator/config.h"
#include "coordinator/feed.h"
#include "coordinator/planners.h"
#include "coordinator/release.h"
#include "coordinator/shares.h"
#include "coordinator/translog.h"
#include "coordinator/web.h"
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

enum { POLL_MS = 20, RECEIPTS_MAX = TLY_MAX_SERVED_PARTIES, ROWS_CAP = 1000000000 };

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
	MISDEED_MALFORMED,    /* no valid header, or another sender's */
	MISDEED_UNVERIFIED,   /* a signature that does not verify */
	MISDEED_OTHER_QUERY,  /* for a query that is not the running one */
	MISDEED_LAYOUT,       /* wrong length or layout (TLY_EFORMAT) */
	MISDEED_RANGE,        /* an element >= p (TLY_ERANGE) */
	MISDEED_REPLAY,       /* a replay or a second message (TLY_EREPLAY) */
	MISDEED_NOT_ALLOWED,  /* a message it may not send (TLY_EPEER, TLY_EAUTH) */
	MISDEED_OUT_OF_ROUND, /* not valid in this round, or after the end */
	MISDEED_COMPLAINED,   /* named in a member's complaint */
	MISDEED_FLOOD,        /* disconnected for flooding */
	MISDEED_KINDS
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

/* ---- state ---- */

struct job {
	uint64_t handle;                      /* the planner's HTTP request; 0 when async */
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
	struct tly_committee_coord *coord; /* committee queries (rounds.c) */
	struct tly_secagg_server *masking; /* secagg and secagg+ queries */
	uint64_t deadline;
	uint32_t *shares_from; /* per participant index: first-round messages taken
	                          (SHAREs relayed, or its ADVERTISE) */
	struct tly_buf receipts[RECEIPTS_MAX];
	uint32_t receipt_from[RECEIPTS_MAX];
	size_t receipt_count;
	struct refusal *refusals;
	size_t refusal_count;
	struct misdeed misdeeds[MISDEEDS_MAX];
	size_t misdeed_count;
	uint64_t misdeeds_lost; /* beyond MISDEEDS_MAX pairs */
	uint8_t *log_commit;    /* the QUERY's log section (malloc'd) */
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
	struct peer_window *windows;       /* by roster index */
	uint64_t *head_sent;               /* by roster index: the last log head size sent */
	uint64_t flood_dropped;            /* messages dropped unread at disconnections */
	struct planner_state *per_planner; /* by index into planners.keys */
	struct result results[RESULTS_MAX];
	size_t results_next;                        /* the ring's next slot */
	char async_qid[2 * TLY_QUERY_ID_BYTES + 1]; /* the job started last, when async */
	uint64_t run_ms_avg;                        /* how long a query takes, for Retry-After */
	struct tly_shares *shares;  /* per-planner shares; NULL when planner_share = 1 */
	struct tly_web web;         /* the dashboard's files; count 0 when off */
	struct tly_budgets budgets; /* GET /v1/budgets: the log read up to budgets_seq */
	uint64_t budgets_seq;
	/* The public feed (api_feed.c): NULL listener when public_feed is unset;
	 * the feed built last (malloc'd) and the log size it was built from. */
	struct tly_http *feed_http;
	struct tly_guard *feed_guard;
	struct tly_feed_names feed_names;
	char *feed_json;
	size_t feed_len;
	uint64_t feed_log_size;
	uint64_t feed_next_ms; /* no rebuild before this (srv_now_ms) */
};

/* server.c: logging, time, sending */
void srv_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t srv_now_ms(void);
void srv_send_outbox(struct server *s, struct tly_outbox *box);

/* api_routes.c: replies, the request router, the queue */
void srv_answer(struct server *s, uint64_t handle, int status, const char *text);
void srv_reply_error(struct server *s, uint64_t handle, int status, const char *code,
                     const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void srv_reply_share(struct server *s, uint64_t handle, const char *planner, const char *dataset,
                     const struct tly_share_refusal *w);
void srv_on_request(struct server *s, struct tly_http_request *req);
struct job *srv_dequeue(struct server *s);
/* Nonzero when the request is signed by a listed planner (its name in
 * name); else answered 403 (or 503) and 0. */
int srv_authenticate(struct server *s, const struct tly_http_request *req, char *name);

/* lifecycle.c: the noise q needs within the samplers' caps and its work
 * within max_query_work (query/noise.h), as every query is held to before
 * it is sent: TLY_EINVAL with why naming epsilon or rho. */
/* How many registered trusts are connected now (lifecycle.c). */
uint32_t srv_connected_trusts(const struct server *s);
tly_err srv_check_cost(const struct server *s, const struct tly_query *q, char *why,
                       size_t why_len);

/* api_feed.c: the public feed's listener (nothing when public_feed is
 * unset), its requests (each poll), and closing it. */
tly_err srv_feed_open(struct server *s, char *why, size_t why_len);
void srv_feed_poll(struct server *s);
void srv_feed_close(struct server *s);

/* api_estimate.c: POST /v1/queries/estimate, the dry run: answered at
 * once; nothing queued, logged, charged or sent. */
void srv_estimate(struct server *s, const struct tly_http_request *req);

/* api_web.c: the dashboard's files and GET /v1/budgets */
TLY_MUST tly_err srv_web_open(struct server *s, char *why, size_t why_len);
/* Nonzero when the request was the dashboard's (a path outside /v1),
 * and answered. */
int srv_web_serve(struct server *s, const struct tly_http_request *req, const char *path);
void srv_budgets(struct server *s, uint64_t handle);

/* misdeeds.c */
void srv_misdeed_note(struct server *s, uint32_t node, enum misdeed_kind kind);
void srv_refused_from(struct server *s, uint32_t node, enum misdeed_kind kind);
enum misdeed_kind srv_misdeed_of(tly_err rv);
void srv_misdeed_summary(const struct running *r, const struct tly_idlist *contributors, char *out,
                         size_t len);

/* rounds.c: the running query's rounds, whichever protocol */
enum srv_rounds {
	SRV_ROUNDS_FIRST, /* collecting the nodes' first answers (shares, keys) */
	SRV_ROUNDS_LATER, /* a later round */
	SRV_ROUNDS_DONE,  /* the total is known */
	SRV_ROUNDS_ABORTED,
};

/* The total and who made it, for either protocol; srv_result_fini. */
struct srv_result {
	size_t d;
	int64_t *cells;
	struct tly_idlist contributors, dropped;
	uint32_t recovered; /* masking: dropped clients whose mask keys were rebuilt */
};

struct tly_secagg_server;
/* The protocol for a spec that names none: [rounds] protocol, or by the
 * number of trusts (masking_from) when it is auto. */
uint8_t srv_protocol_for(const struct server *s, uint32_t trusts);
/* The n from which auto picks secagg+ (rounds.c says why). */
uint32_t srv_masking_from(const struct tly_coord_config *cfg);
/* A masking query's degree and threshold, from its participants and the
 * [rounds] masking_* keys (nothing for committee): TLY_EINVAL with why. */
tly_err srv_rounds_params(const struct server *s, struct tly_query *q, char *why, size_t why_len);
tly_err srv_rounds_start(struct server *s, struct running *r, struct tly_outbox *box);
void srv_rounds_free(struct running *r);
tly_err srv_rounds_receive(struct running *r, const uint8_t *msg, size_t len,
                           struct tly_outbox *box);
tly_err srv_rounds_close(struct running *r, struct tly_outbox *box);
tly_err srv_rounds_abort(struct running *r, uint32_t reason, struct tly_outbox *box);
int srv_rounds_phase(const struct running *r);
enum srv_rounds srv_rounds_state(const struct running *r);
uint32_t srv_rounds_abort_reason(const struct running *r);
/* Whether a message of this type is a node's first answer, and how many
 * of them a node sends (k SHAREs, or one ADVERTISE). */
int srv_rounds_first_message(const struct running *r, uint8_t type);
uint32_t srv_rounds_first_count(const struct running *r);
tly_err srv_rounds_result(const struct running *r, struct srv_result *out);
void srv_result_fini(struct srv_result *res);

/* lifecycle.c */
void srv_running_free(struct running *r);
void srv_record(struct server *s, uint8_t outcome, const char *reason, const char *release_json,
                const struct tly_idlist *contributors, const struct tly_idlist *dropped);
void srv_start_job(struct server *s, struct job *job);
void srv_on_node_message(struct server *s, uint32_t from, uint8_t *msg, size_t len);
void srv_advance(struct server *s);

#endif
