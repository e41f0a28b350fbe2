/*
 * server.c - tally-coordinator: opening and closing the server, and the event loop
 *
 * The loop (poll_once) serves the hub's events, the planner API
 * (api_routes.c), starts the next queued job (lifecycle.c), takes a batch of
 * node messages and lets the rounds advance.
 *
 * coordinator/server_impl.h holds the state all four files share.
 */
#include "coordinator/server_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "coordinator/server.h"
#include "net/process.h"
#include "net/signals.h"

/* Set by SIGTERM or SIGINT (net/signals.h), read by the loop. */
static const volatile sig_atomic_t *stopping;

void
srv_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tly_process_vnote("tally-coordinator", fmt, ap);
	va_end(ap);
}

uint64_t
srv_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- sending ---- */

void
srv_send_outbox(struct server *s, struct tly_outbox *box)
{
	for (size_t i = 0; i < box->count; i++) {
		uint32_t to = box->items[i].to;
		if (to == TLY_PARTY_COORDINATOR)
			continue;
		tly_err rv = tly_hub_send(s->hub, to, box->items[i].data, box->items[i].len);
		if (rv != TLY_OK && s->current != NULL)
			srv_note("query %s: cannot reach node %u (%s): counted as dropped",
			         s->current->qid, to, tly_strerror(rv));
	}
	tly_outbox_clear(box);
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
	/* The public feed's guard, when on, holds as many again. */
	rlim_t guards = s->cfg.public_feed[0] != '\0' ? 2 : 1;
	rlim_t need =
	    guards * ((rlim_t)s->cfg.api_max_conns * TLY_GUARD_FDS_PER_CONN + TLY_GUARD_FDS_OWN) +
	    2 * (rlim_t)s->roster.count + TLY_PENDING_MAX + FILES_BASE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		tly_say(why, why_len, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return TLY_EIO;
	}
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		tly_say(why, why_len,
		        "limits.api_max_conns = %" PRIu32 " needs %llu open files, but the hard "
		        "RLIMIT_NOFILE is %llu: lower api_max_conns or raise the hard limit",
		        s->cfg.api_max_conns, (unsigned long long)need,
		        (unsigned long long)rl.rlim_max);
		return TLY_EINVAL;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
		srv_note("open files: limit %llu, need %llu (api_max_conns %" PRIu32 ", %zu nodes)",
		         (unsigned long long)rl.rlim_cur, (unsigned long long)need,
		         s->cfg.api_max_conns, s->roster.count);
		return TLY_OK;
	}
	rlim_t old = rl.rlim_cur;
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		tly_say(why, why_len, "setrlimit(RLIMIT_NOFILE, %llu): %s",
		        (unsigned long long)need, strerror(errno));
		return TLY_EIO;
	}
	srv_note("open files: limit raised from %llu to %llu (api_max_conns %" PRIu32
	         ", %zu nodes)",
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
	srv_note("planner_share %" PRIu64 "/%" PRIu64 ": rebuilt from the log: %zu planner-dataset "
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
		tly_say(why, why_len,
		        "%s: the transparency log does not verify: %s; refusing to start",
		        s->cfg.log, report.reason);
	else
		srv_note("transparency log chain verified: %llu entries in %lld ms",
		         (unsigned long long)report.entries,
		         (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
		             (t1.tv_nsec - t0.tv_nsec) / 1000000);
	tly_translog_report_fini(&report);
	return rv;
}

static tly_err
open_server(struct server *s, const char *config_path, char *why, size_t why_len)
{
	struct tly_field_error cerr;
	struct tly_field_error serr;
	tly_err rv = tly_coord_config_load(&s->cfg, config_path, &cerr);

	if (rv != TLY_OK) {
		tly_field_error_format(&cerr, why, why_len);
		return rv;
	}
	if ((rv = tly_identity_from_files(&s->identity, TLY_PARTY_COORDINATOR, s->cfg.sign_key,
	                                  NULL, why, why_len)) != TLY_OK ||
	    (rv = tly_registry_load(&s->roster, s->cfg.registry, why, why_len)) != TLY_OK ||
	    (rv = tly_planners_load(&s->planners, s->cfg.planners, why, why_len)) != TLY_OK)
		return rv;
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	tly_sign_key_public(s->identity.sign, pk);
	if (memcmp(pk, s->roster.coordinator_pk, sizeof pk) != 0) {
		tly_say(why, why_len, "%s: the registry pins another coordinator key",
		        s->cfg.registry);
		return TLY_EAUTH;
	}
	s->catalogue_json = read_file(s->cfg.catalogue, TLY_SPEC_JSON_MAX);
	if (s->catalogue_json == NULL) {
		tly_say(why, why_len, "%s: cannot read", s->cfg.catalogue);
		return TLY_EIO;
	}
	tly_field_error_init(&serr, s->cfg.catalogue);
	rv =
	    tly_catalogue_parse(&s->catalogue, s->catalogue_json, strlen(s->catalogue_json), &serr);
	if (rv != TLY_OK) {
		tly_field_error_format(&serr, why, why_len);
		return rv;
	}
	/* The log's folder is the coordinator's own state: make it on first run. */
	char state[TLY_COORD_PATH_MAX];
	snprintf(state, sizeof state, "%s", s->cfg.log);
	char *slash = strrchr(state, '/');
	if (slash != NULL && slash != state) {
		*slash = '\0';
		if (mkdir(state, 0700) != 0 && errno != EEXIST) {
			tly_say(why, why_len, "%s: %s", state, strerror(errno));
			return TLY_EIO;
		}
	}
	if ((rv = tly_translog_open(&s->log, s->cfg.log, s->identity.sign, why, why_len)) != TLY_OK)
		return rv;
	if ((rv = verify_log(s, why, why_len)) != TLY_OK ||
	    (rv = open_shares(s, why, why_len)) != TLY_OK ||
	    (rv = srv_web_open(s, why, why_len)) != TLY_OK)
		return rv;
	/* One CA per role: each listener trusts only its own role's CA. */
	struct tly_tls_files node_tls = {
	    .cert = s->cfg.tls_cert, .key = s->cfg.tls_key, .ca = s->cfg.tls_node_ca};
	struct tly_tls_files planner_tls = {
	    .cert = s->cfg.tls_cert, .key = s->cfg.tls_key, .ca = s->cfg.tls_planner_ca};
	int hub_tls = strncmp(s->cfg.listen, "tls+", 4) == 0;
	int api_tls = strncmp(s->cfg.api, "https:", 6) == 0;
	/* The descriptor budget first: refused before any listener opens. */
	if ((rv = raise_files(s, why, why_len)) != TLY_OK ||
	    (rv = tly_hub_open(&s->hub, s->cfg.listen, hub_tls ? &node_tls : NULL, &s->roster, why,
	                       why_len)) != TLY_OK ||
	    (rv = open_api(s, api_tls ? &planner_tls : NULL, why, why_len)) != TLY_OK ||
	    (rv = srv_feed_open(s, why, why_len)) != TLY_OK)
		return rv;
	tly_hub_heartbeat(s->hub, (int)s->cfg.heartbeat_interval_ms, (int)s->cfg.heartbeat_dead_ms);
	tly_rng_init(&s->rng);
	s->windows = calloc(s->roster.count + 1, sizeof *s->windows);
	s->head_sent = calloc(s->roster.count + 1, sizeof *s->head_sent);
	s->per_planner = calloc(s->planners.count + 1, sizeof *s->per_planner);
	return s->windows != NULL && s->head_sent != NULL && s->per_planner != NULL ? TLY_OK
	                                                                            : TLY_ENOMEM;
}

static void
close_server(struct server *s)
{
	struct job *job;
	while ((job = srv_dequeue(s)) != NULL) {
		if (s->http != NULL && job->handle != 0) /* async: nobody waits */
			srv_reply_error(s, job->handle, 503, "busy", NULL,
			                "the coordinator is stopping");
		free(job->spec_json);
		free(job);
	}
	srv_feed_close(s);
	tly_guard_close(s->guard);
	tly_http_close(s->http);
	tly_hub_close(s->hub);
	tly_translog_close(s->log);
	tly_shares_free(s->shares);
	tly_web_fini(&s->web);
	tly_budgets_fini(&s->budgets);
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
		srv_note("%s", line);
	while (tly_http_next(s->http, &req, 0) == TLY_OK) {
		srv_on_request(s, &req);
		free(req.body);
	}
	srv_feed_poll(s);
	if (s->current == NULL) {
		struct job *job = srv_dequeue(s);
		if (job != NULL) {
			srv_start_job(s, job);
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
		srv_on_node_message(s, from, msg, len);
		free(msg);
		timeout = 0;
	}
	if (s->current != NULL)
		srv_advance(s);
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
		srv_note("cannot start the stop watchdog: the stop may take longer than %d ms",
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
		code = tly_process_refused("tally-coordinator", rv, why);
		close_server(s);
		free(s);
		return code;
	}
	stopping = tly_signals_install();
	srv_note("listening for nodes on %s, planners on %s (%zu trusts registered)", s->cfg.listen,
	         s->cfg.api, s->roster.count);
	while (!*stopping)
		poll_once(s);
	start_stop_watchdog();
	if (s->current != NULL) {
		struct tly_outbox box;
		tly_outbox_init(&box);
		if (srv_rounds_abort(s->current, TLY_ABORT_INTERNAL, &box) == TLY_OK)
			srv_send_outbox(s, &box);
		tly_outbox_fini(&box);
		srv_record(s, TLY_TRANSLOG_ABORTED, "the coordinator stopped", NULL, NULL, NULL);
		srv_reply_error(s, s->current->handle, 503, "busy", NULL,
		                "the coordinator is stopping");
		srv_running_free(s->current);
		s->current = NULL;
	}
	srv_note(
	    "stopping after %llu released, %llu refused, %llu failed; %llu messages of flooding "
	    "nodes dropped unread",
	    (unsigned long long)s->answered, (unsigned long long)s->refused,
	    (unsigned long long)s->failed, (unsigned long long)s->flood_dropped);
	close_server(s);
	atomic_store(&stop_done, 1);
	free(s);
	return code;
}
