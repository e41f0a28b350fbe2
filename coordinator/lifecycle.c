/*
 * lifecycle.c - a query's life: spec to query, launch, rounds, release, log
 *
 * start_job turns a queued job into the running query (spec_to_query),
 * then launches it (launch: parties, checks, the planner's share, the
 * commit to the transparency log, the QUERY sent). The node messages drive
 * the rounds; advance ends them at their deadline; finish records the
 * outcome in the log and answers the planner.
 *
 * coordinator/server_impl.h holds the state all four files share.
 */
#include "coordinator/server_impl.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		srv_note("TALLY_TEST_CRASH_AT=%s: killing this process (a test)", step);
		raise(SIGKILL);
	}
}

/* ---- the running query ---- */

void
srv_running_free(struct running *r)
{
	if (r == NULL)
		return;
	srv_rounds_free(r);
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

/* ---- per-planner shares (coordinator/shares.h) ---- */

static struct tly_share_ask
share_ask(const struct running *r, const struct tly_catalogue *cat)
{
	return (struct tly_share_ask){r->spec.planner,
	                              cat->datasets[r->spec.dataset].name,
	                              r->spec.mechanism,
	                              {r->spec.privacy_num, r->spec.privacy_den}};
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
		srv_note("query %s: its planner's share could not be updated (it stays counted in "
		         "flight)",
		         r->qid);
	free(receipts);
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
		srv_reply_error(s, r->handle, 500, "internal", NULL,
		                "the planner's share cannot be "
		                "checked: %s",
		                tly_strerror(rv));
		return 0;
	}
	srv_note("query %s: planner %s over its share of dataset %s: refused, nothing logged or "
	         "sent",
	         r->qid, ask.planner, ask.dataset);
	srv_reply_share(s, r->handle, ask.planner, ask.dataset, &w);
	s->refused++;
	return 0;
}

/* A log entry's fields that name the running query, the rest zero. */
static void
start_record(struct tly_translog_record *rec, const struct running *r, uint8_t outcome)
{
	memset(rec, 0, sizeof *rec);
	memcpy(rec->query_id, r->query_id, TLY_QUERY_ID_BYTES);
	memcpy(rec->query_hash, r->query.query_hash, TLY_HASH_BYTES);
	rec->protocol = r->query.protocol;
	rec->threshold = r->query.threshold;
	rec->degree = r->query.degree;
	rec->outcome = outcome;
}

/* Record the outcome in the transparency log; a failure to log is loud. */
void
srv_record(struct server *s, uint8_t outcome, const char *reason, const char *release_json,
           const struct tly_idlist *contributors, const struct tly_idlist *dropped)
{
	struct running *r = s->current;
	struct tly_translog_record rec;
	struct tly_translog_receipt receipts[RECEIPTS_MAX];
	char why[300], summary[TLY_TRANSLOG_REASON_MAX + 1], full[TLY_TRANSLOG_REASON_MAX + 1];

	for (size_t i = 0; i < r->receipt_count; i++)
		receipts[i] =
		    (struct tly_translog_receipt){r->receipts[i].data, r->receipts[i].len};
	start_record(&rec, r, outcome);
	/* The reason, then who misbehaved and how: signed with the entry. */
	srv_misdeed_summary(r, outcome == TLY_TRANSLOG_RELEASED ? contributors : NULL, summary,
	                    sizeof summary);
	if (summary[0] != '\0') {
		srv_note("query %s: misbehaviour: %s", r->qid, summary);
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
		srv_note("query %s: COULD NOT WRITE THE TRANSPARENCY LOG: %s", r->qid, why);
	shares_outcome(s, outcome);
}

static void
finish_released(struct server *s)
{
	struct running *r = s->current;
	struct srv_result result;
	struct tly_noise_params noise;
	char why[300], *json = NULL;

	if (srv_rounds_result(r, &result) != TLY_OK) {
		srv_reply_error(s, r->handle, 500, "internal", NULL, "the total could not be read");
		return;
	}
	struct tly_release_sdc defaults = {s->cfg.suppress_below, s->cfg.round_to};
	struct tly_release_input in = {.query_id = r->query_id,
	                               .spec = &r->spec,
	                               .cat = &s->catalogue,
	                               .noise = &noise,
	                               .cells = result.cells,
	                               .d = result.d,
	                               .contributors = &result.contributors,
	                               .dropped = &result.dropped,
	                               .sdc = tly_release_sdc_resolve(&r->spec, defaults)};
	tly_err rv = tly_noise_calibrate(&r->query, &noise);
	if (rv == TLY_OK)
		rv = tly_release_encode(&in, &json, why, sizeof why);
	if (rv != TLY_OK) {
		srv_note("query %s: cannot release: %s", r->qid, why);
		srv_record(s, TLY_TRANSLOG_ABORTED, why, NULL, &result.contributors,
		           &result.dropped);
		srv_reply_error(s, r->handle, 500, "internal", NULL, "cannot release: %s", why);
		s->failed++;
	} else {
		crash_point("released");
		/* Logged before the planner sees it: nothing is released unlogged. */
		srv_record(s, TLY_TRANSLOG_RELEASED, "", json, &result.contributors,
		           &result.dropped);
		srv_answer(s, r->handle, 200, json);
		srv_note("query %s: released (%u contributors, %u dropped%s)", r->qid,
		         result.contributors.count, result.dropped.count,
		         result.recovered > 0 ? ", their masks removed" : "");
		s->answered++;
	}
	free(json);
	srv_result_fini(&result);
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
		srv_record(s, TLY_TRANSLOG_REFUSED, reason, NULL, NULL, NULL);
		srv_reply_error(s, r->handle, 403, budget ? "budget" : "refused", NULL,
		                "%s (%zu of %u trusts refused)", reason, r->refusal_count,
		                r->query.participants.count);
		srv_note("query %s: %s", r->qid, reason);
		s->refused++;
		return;
	}
	srv_record(s, TLY_TRANSLOG_ABORTED, why, NULL, NULL, NULL);
	int deadline = strstr(why, "deadline") != NULL;
	srv_reply_error(s, r->handle, deadline ? 504 : 409, deadline ? "deadline" : "too_few", NULL,
	                "%s", why);
	srv_note("query %s: aborted: %s", r->qid, why);
	s->failed++;
}

/* The share-sums are not on one polynomial (committee), or a secret
 * rebuilt from the unmasking shares does not match (masking): nothing is
 * released. */
static void
finish_inconsistent(struct server *s)
{
	struct running *r = s->current;
	const char *why =
	    r->query.protocol == TLY_PROTOCOL_COMMITTEE
	        ? "inconsistent share-sums: a contributor equivocated or a member lied"
	        : "inconsistent unmasking shares: a client sent a wrong share, or a secret did not "
	          "match its public key";

	srv_record(s, TLY_TRANSLOG_ABORTED, why, NULL, NULL, NULL);
	srv_reply_error(s, r->handle, 409, "inconsistent", NULL, "%s; nothing was released", why);
	srv_note("query %s: aborted: %s", r->qid, why);
	s->failed++;
}

static void
finish(struct server *s)
{
	struct running *r = s->current;

	if (srv_rounds_state(r) == SRV_ROUNDS_DONE)
		finish_released(s);
	else if (srv_rounds_abort_reason(r) == TLY_ABORT_INCONSISTENT)
		finish_inconsistent(s);
	else if (r->query.protocol == TLY_PROTOCOL_COMMITTEE)
		finish_failed(s, "too few contributors or committee answers before the deadline");
	else
		finish_failed(s, "too few contributors answered a round of masking before its "
		                 "deadline");
	/* A running mean (weight 1/4) of how long queries take. */
	uint64_t took = srv_now_ms() - r->started_ms;
	s->run_ms_avg = s->run_ms_avg == 0 ? took : (3 * s->run_ms_avg + took) / 4;
	srv_running_free(r);
	s->current = NULL;
}

/* Pick the participants (every connected node of the registry) and a
 * committee of k of them at random. */
static tly_err
choose_parties(struct server *s, struct running *r, char *why, size_t why_len)
{
	uint32_t n = 0, k = r->query.protocol == TLY_PROTOCOL_COMMITTEE ? s->cfg.committee_size : 0;

	r->participants = calloc(s->roster.count + 1, sizeof *r->participants);
	r->committee = calloc(k + 1, sizeof *r->committee);
	r->shares_from = calloc(s->roster.count + 1, sizeof *r->shares_from);
	if (r->participants == NULL || r->committee == NULL || r->shares_from == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i < s->roster.count; i++)
		if (tly_hub_connected(s->hub, s->roster.parties[i].id))
			r->participants[n++] = s->roster.parties[i].id;
	if (n < s->cfg.min_contributors || n < k) {
		tly_say(why, why_len, "only %u of %zu trusts are connected; the query needs %u", n,
		        s->roster.count, s->cfg.min_contributors > k ? s->cfg.min_contributors : k);
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
		srv_reply_error(s, job->handle, 400, "invalid_query", "planner",
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
		const struct tly_party *p =
		    tly_roster_find(&s->roster, r->query.participants.ids[i]);
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
	start_record(&rec, r, TLY_TRANSLOG_COMMITTED);
	rec.spec_json = r->canonical;
	rec.spec_len = strlen(r->canonical);
	size_t n = head_sizes(s, r, sizes);
	if ((rv = tly_translog_commit(s->log, &rec, sizes, n, c, why, why_len)) != TLY_OK ||
	    (rv = tly_log_commit_encode(r->log_commit, &len, c)) != TLY_OK)
		goto out;
	r->query.log_commit = r->log_commit;
	r->query.log_commit_len = (uint32_t)len;
	for (uint32_t i = 0; i < r->query.participants.count; i++) {
		const struct tly_party *p =
		    tly_roster_find(&s->roster, r->query.participants.ids[i]);
		if (p != NULL)
			s->head_sent[p - s->roster.parties] = c->head.size;
	}
	srv_note("query %s: committed to the transparency log (head size %" PRIu64 ")", r->qid,
	         c->head.size);
	struct tly_share_ask ask = share_ask(r, &s->catalogue);
	if (s->shares != NULL && tly_shares_commit(s->shares, r->query_id, &ask) != TLY_OK)
		srv_note("query %s: its planner's share could not count it in flight", r->qid);
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
tly_err
srv_check_cost(const struct server *s, const struct tly_query *q, char *why, size_t why_len)
{
	const char *name = q->mechanism == TLY_MECH_SKELLAM ? "rho" : "epsilon";
	char what[TLY_NOISE_WHY_BYTES];
	uint64_t work;

	tly_err rv = tly_noise_cost_why(q, &work, what, sizeof what);
	if (rv == TLY_ERANGE)
		return tly_fail(why, why_len, TLY_EINVAL, "%s: %s: raise %s", name, what, name);
	if (rv != TLY_OK)
		return tly_fail(why, why_len, TLY_EINVAL, "%s: %s", name, what);
	if (work > s->cfg.max_query_work)
		return tly_fail(
		    why, why_len, TLY_EINVAL,
		    "the query's noise would cost %llu work units, above this "
		    "coordinator's max_query_work %llu: ask for fewer cells or a larger %s",
		    (unsigned long long)work, (unsigned long long)s->cfg.max_query_work, name);
	return TLY_OK;
}

/* Spec to query, step 2: the QUERY's parameters, from the spec and this
 * coordinator's configuration. */
static void
fill_query(struct server *s, struct running *r, uint64_t l1, uint64_t l2sq)
{
	struct tly_query *q = &r->query;

	q->protocol = r->spec.protocol;
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
}

/* The registered trusts connected now (server_impl.h). */
uint32_t
srv_connected_trusts(const struct server *s)
{
	uint32_t n = 0;
	for (size_t i = 0; i < s->roster.count; i++)
		n += tly_hub_connected(s->hub, s->roster.parties[i].id) != 0;
	return n;
}

/*
 * Spec to query: the job's spec parsed against the catalogue, the planner's
 * queue place released, and the QUERY filled (step 1: parse and claim;
 * step 2: canonical form, hash, sensitivity, parameters). Returns the
 * running query, not yet current, or NULL after answering the planner
 * with the error. Nothing is logged, sent or charged here.
 */
static struct running *
spec_to_query(struct server *s, const struct job *job)
{
	struct running *r = calloc(1, sizeof *r);
	struct tly_field_error serr;
	uint64_t l1, l2sq;
	tly_err rv;

	if (r == NULL) {
		srv_reply_error(s, job->handle, 500, "internal", NULL, "out of memory");
		return NULL;
	}
	/* Step 1 */
	r->handle = job->handle;
	r->started_ms = srv_now_ms();
	if (job->handle == 0)
		tly_hex(s->async_qid, job->query_id, sizeof job->query_id);
	rv = tly_spec_parse(&r->spec, &s->catalogue, job->spec_json, job->spec_len, &serr);
	if (rv != TLY_OK) {
		srv_reply_error(s, job->handle, 400, "invalid_query", serr.field, "%s",
		                serr.reason);
		free(r);
		return NULL;
	}
	if (!claim_planner(s, job, &r->spec)) {
		srv_running_free(r);
		return NULL;
	}
	/* A spec that names no protocol gets this coordinator's choice, in
	 * its canonical form and so in the QUERY and the log. */
	if (!r->spec.protocol_given)
		r->spec.protocol = srv_protocol_for(s, srv_connected_trusts(s));
	/* Step 2 */
	memcpy(r->query_id, job->query_id, sizeof r->query_id);
	tly_hex(r->qid, r->query_id, sizeof r->query_id);
	if (tly_spec_canonical(&r->spec, &s->catalogue, &r->canonical) != TLY_OK ||
	    tly_spec_hash(&r->spec, &s->catalogue, r->query.query_hash) != TLY_OK ||
	    tly_spec_sensitivity(&r->spec, &s->catalogue, &l1, &l2sq) != TLY_OK) {
		srv_reply_error(s, job->handle, 400, "invalid_query", NULL,
		                "the query's sensitivity or shape cannot be computed");
		srv_running_free(r);
		return NULL;
	}
	fill_query(s, r, l1, l2sq);
	return r;
}

/* Launch, step 1: the parties, and the checks that can refuse the query
 * before anything is logged or sent. */
static tly_err
launch_checks(struct server *s, struct running *r, char *why, size_t why_len)
{
	struct tly_query *q = &r->query;

	tly_err rv = choose_parties(s, r, why, why_len);
	if (rv == TLY_OK)
		rv = srv_rounds_params(s, q, why, why_len);
	if (rv == TLY_OK &&
	    tly_field_sum_fits(q->participants.count,
	                       tly_spec_cell_bound(&r->spec, &s->catalogue, ROWS_CAP)) != TLY_OK) {
		tly_say(why, why_len, "the total could overflow the field: narrow the query");
		rv = TLY_EINVAL;
	}
	if (rv == TLY_OK)
		rv = srv_check_cost(s, q, why, why_len);
	return rv;
}

/* Launch, a refusal after step 1 or 3: its outcome logged, the planner
 * answered, the query dropped. */
static void
launch_refused(struct server *s, struct running *r, tly_err rv, const char *why)
{
	int status = rv == TLY_ETOOFEW ? 409 : rv == TLY_EINVAL ? 400 : 500;
	srv_record(s, rv == TLY_ETOOFEW ? TLY_TRANSLOG_ABORTED : TLY_TRANSLOG_REFUSED, why, NULL,
	           NULL, NULL);
	srv_reply_error(s, r->handle, status,
	                rv == TLY_ETOOFEW  ? "too_few"
	                : rv == TLY_EINVAL ? "invalid_query"
	                                   : "internal",
	                NULL, "%s", why);
	srv_note("query %s: not started: %s", r->qid, why);
	srv_running_free(r);
	s->current = NULL;
}

/* Launch, step 4: the started query named on stderr. The members are named
 * so that operators (and the kill -9 fault runs, tests/helpers/faults.c)
 * can tell who holds this query's shares. */
static void
note_started(const struct running *r)
{
	const struct tly_query *q = &r->query;
	char members[512] = ""; /* a long committee is cut short */

	if (q->protocol != TLY_PROTOCOL_COMMITTEE) {
		srv_note("query %s: asked by planner %s; started with %u trusts, pairwise masking "
		         "(%s: %u neighbours each, t = %u)",
		         r->qid, r->spec.planner, q->participants.count,
		         tly_spec_protocol_name(q->protocol), q->degree, q->threshold);
		return;
	}
	for (uint32_t i = 0, used = 0; i < q->committee.count && used < sizeof members; i++) {
		int n = snprintf(members + used, sizeof members - used, "%s%u", i ? " " : "",
		                 q->committee.ids[i]);
		used += n > 0 ? (uint32_t)n : 0;
	}
	srv_note(
	    "query %s: asked by planner %s; started with %u trusts, committee of %u (t = %u): %s",
	    r->qid, r->spec.planner, q->participants.count, q->committee.count, q->threshold,
	    members);
}

/*
 * Launch: the query from spec_to_query becomes the current one. Step 1:
 * parties and checks; step 2: the planner's share (before anything is
 * logged or sent: no entry, no node charged); step 3: the commit to the
 * transparency log, then the coordinator's round state and the QUERY;
 * step 4: sent, and the round's deadline set. A failure answers the
 * planner and leaves no query current.
 */
static void
launch(struct server *s, struct running *r)
{
	struct tly_outbox box;
	char why[400] = "";

	/* Step 1 */
	s->current = r;
	tly_err rv = launch_checks(s, r, why, sizeof why);
	/* Step 2 */
	if (rv == TLY_OK && !share_allows(s, r)) {
		srv_running_free(r);
		s->current = NULL;
		return;
	}
	/* Step 3 */
	tly_outbox_init(&box);
	if (rv == TLY_OK && commit_query(s, r, why, sizeof why) != TLY_OK) {
		srv_note("query %s: COULD NOT COMMIT TO THE TRANSPARENCY LOG: %s", r->qid, why);
		/* Its outcome, so that a committed entry the commit left behind
		 * does not read as a crash ("committed, no release"). */
		srv_record(s, TLY_TRANSLOG_ABORTED, why, NULL, NULL, NULL);
		srv_reply_error(s, r->handle, 500, "internal", NULL,
		                "the query could not be logged, so it was not sent");
		tly_outbox_fini(&box);
		srv_running_free(r);
		s->current = NULL;
		return;
	}
	if (rv == TLY_OK) {
		rv = srv_rounds_start(s, r, &box);
		if (rv != TLY_OK)
			tly_say(why, sizeof why, "the query breaks a protocol rule: %s",
			        tly_strerror(rv));
	}
	if (rv != TLY_OK) {
		tly_outbox_fini(&box);
		launch_refused(s, r, rv, why);
		return;
	}
	/* Step 4 */
	note_started(r);
	srv_send_outbox(s, &box);
	tly_outbox_fini(&box);
	r->deadline = srv_now_ms() + s->cfg.deadline_ms;
}

/* Turn a job into the running query (spec to query, then launch), or
 * answer it with an error. */
void
srv_start_job(struct server *s, struct job *job)
{
	struct running *r = spec_to_query(s, job);
	if (r != NULL)
		launch(s, r);
}

/* Every participant has delivered all its shares or refused: the sharing
 * round can close before its deadline. */
static int
sharing_complete(const struct server *s)
{
	const struct running *r = s->current;
	uint32_t done = 0;
	for (uint32_t i = 0; i < r->query.participants.count; i++)
		if (r->shares_from[i] >= srv_rounds_first_count(r))
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
			srv_note("query %s: node %u sent a second receipt: ignored", r->qid, from);
			return;
		}
	}

	if (party == NULL || r->receipt_count == RECEIPTS_MAX ||
	    tly_ledger_receipt_decode(&receipt, m->body, m->body_len) != TLY_OK ||
	    tly_ledger_receipt_verify(&receipt, party->sign_pk) != TLY_OK ||
	    receipt.node_id != from ||
	    memcmp(receipt.query_id, r->query_id, TLY_QUERY_ID_BYTES) != 0 ||
	    memcmp(receipt.query_hash, r->query.query_hash, TLY_HASH_BYTES) != 0) {
		srv_note("query %s: node %u sent a receipt that does not verify: ignored", r->qid,
		         from);
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
		srv_note("query %s: node %u sent a malformed refusal", r->qid, from);
		return;
	}
	struct refusal *grown = realloc(r->refusals, (r->refusal_count + 1) * sizeof *grown);
	if (grown == NULL)
		return;
	r->refusals = grown;
	r->refusals[r->refusal_count++] = f;
	srv_note("query %s: node %u refused: %s", r->qid, from, f.text);
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
		srv_note("query %s: member %u complains about node %u (attempt %u): its share is "
		         "missing or unusable",
		         s->current->qid, member, named.ids[i], attempt);
		srv_misdeed_note(s, named.ids[i], MISDEED_COMPLAINED);
	}
	tly_idlist_fini(&named);
}

void
srv_on_node_message(struct server *s, uint32_t from, uint8_t *msg, size_t len)
{
	struct running *r = s->current;
	struct tly_msg m;
	struct tly_outbox box;

	/* Route on the header; the state machine verifies what it takes, and
	 * receipts and refusals are verified here. Verifying twice would cost
	 * an Ed25519 check over every 80 KB share. */
	if (tly_msg_peek(msg, len, &m) != TLY_OK || m.header.sender != from) {
		srv_refused_from(s, from, MISDEED_MALFORMED);
		return;
	}
	/* Messages for other queries are dropped on the header alone, before
	 * any signature is checked: a flood of them costs a comparison each. */
	if (r == NULL || memcmp(m.header.query_id, r->query_id, TLY_QUERY_ID_BYTES) != 0) {
		srv_refused_from(s, from, MISDEED_OTHER_QUERY);
		return;
	}
	if ((m.header.type == TLY_MSG_RECEIPT || m.header.type == TLY_MSG_REFUSAL) &&
	    tly_msg_open(msg, len, &s->roster, &m) != TLY_OK) {
		srv_refused_from(s, from, MISDEED_UNVERIFIED);
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
	int phase = srv_rounds_phase(r);
	tly_err rv = srv_rounds_receive(r, msg, len, &box);
	/* A round that closed on this message (masking closes a round when
	 * its last expected message arrives) gets its own deadline. */
	if (srv_rounds_phase(r) != phase)
		r->deadline = srv_now_ms() + s->cfg.deadline_ms;
	if (rv == TLY_OK && srv_rounds_first_message(r, m.header.type)) {
		long i = participant_index(r, from);
		if (i >= 0)
			r->shares_from[i]++;
	} else if (rv == TLY_OK && m.header.type == TLY_MSG_COMPLAINT) {
		on_complaint(s, from, &m);
	} else if (rv != TLY_OK && rv != TLY_ETOOFEW &&
	           !(rv == TLY_EAUTH && srv_rounds_abort_reason(r) == TLY_ABORT_INCONSISTENT) &&
	           !(rv == TLY_EREPLAY && m.header.type == TLY_MSG_COMPLAINT)) {
		/* ETOOFEW and the inconsistency abort judge the query, not this
		 * message, which was accepted; a complaint about an attempt that
		 * was re-announced meanwhile is an honest member's, only stale. */
		srv_refused_from(s, from, srv_misdeed_of(rv));
	}
	srv_send_outbox(s, &box);
	tly_outbox_fini(&box);
}

void
srv_advance(struct server *s)
{
	struct running *r = s->current;
	enum srv_rounds state = srv_rounds_state(r);

	if (state == SRV_ROUNDS_DONE || state == SRV_ROUNDS_ABORTED) {
		finish(s);
		return;
	}
	int early = state == SRV_ROUNDS_FIRST && sharing_complete(s);
	if (early)
		crash_point("shared");
	if (!early && srv_now_ms() < r->deadline)
		return;
	struct tly_outbox box;
	tly_outbox_init(&box);
	tly_err rv = srv_rounds_close(r, &box);
	srv_send_outbox(s, &box);
	tly_outbox_fini(&box);
	r->deadline = srv_now_ms() + s->cfg.deadline_ms;
	if (rv != TLY_OK || srv_rounds_state(r) == SRV_ROUNDS_ABORTED)
		finish(s);
}
