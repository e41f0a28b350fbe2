/*
 * server.h - `tally-coordinator --config FILE`: the coordinator daemon.
 *
 * One thread runs everything: the planner API (HTTPS, net/transport.h),
 * the hub the nodes dial into, the rounds of the running query and the
 * transparency log. Scheduling is a queue: queries run one at a time, in
 * the order they arrived (at most api.queue_max waiting, and
 * api.planner_queue_max of one planner's; each planner rate-limited by a
 * token bucket; past any limit 429 with Retry-After).
 * A second planner therefore waits for the first and can never receive a
 * mixed result: every message a node sends names its query id, and
 * messages for any query but the running one are dropped and logged.
 *
 * API (JSON; docs/PROTOCOL.md 9.1 has every status and field):
 *   POST /v1/queries   a query (DESIGN.md section 7.2) -> the release
 *                      (section 7.3), or {"error": {"code", "field",
 *                      "message"}} with 400 invalid_query, 403 refused or
 *                      budget (naming the node), 409 too_few, 504 deadline,
 *                      429 (queue_full, planner_queue_full, rate_limited),
 *                      503 busy, 500 internal
 *   POST /v1/queries?async=1   202 {"query_id", "state", "location"}
 *   GET /v1/queries/ID queued (ahead n), running, or done with the status
 *                      and body the blocking POST would have had
 *   GET /v1/catalogue  the datasets and columns queries may use
 *   GET /v1/releases   ?since=SEQ&limit=N (default 0, 100; N <= 1000):
 *                      {"releases", "next_since", "more"}
 *   GET /v1/status     nodes connected, queries queued, the running query
 *
 * The protocol is committee sharing (protocol/committee.h). The committee
 * is k of the connected participants, drawn at random per query. A round
 * ends at its deadline, or earlier once every participant has delivered or
 * refused. The coordinator never writes a node's answer or the un-noised
 * total anywhere: it never has either.
 *
 * One line per event goes to stderr; SIGTERM and SIGINT stop it cleanly
 * (the running query is aborted and logged, waiting planners get 503).
 */
#ifndef TLY_COORDINATOR_SERVER_H
#define TLY_COORDINATOR_SERVER_H

/* Run until a signal asks it to stop; returns the process exit code (0
 * after a clean stop, 2 for configuration errors, 1 otherwise). */
int tly_coordinator_run(const char *config_path);

#endif
