/*
 * rounds.c - the running query's rounds, whichever protocol runs them:
 * committee sharing (protocol/committee.h) or pairwise masking, SecAgg and
 * SecAgg+ (protocol/secagg.h). lifecycle.c drives a query through these
 * functions alone, so that receipts, refusals, deadlines, the log and the
 * release are the same for every protocol.
 */
#include "coordinator/server_impl.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/graph.h"
#include "protocol/secagg.h"

/* SecAgg+'s graph: privacy fails with probability at most 2^-SIGMA, the
 * query with probability at most 2^-ETA (protocol/graph.h). */
enum { MASKING_SIGMA = 40, MASKING_ETA = 20 };

static int
masking(const struct running *r)
{
	return r->query.protocol != TLY_PROTOCOL_COMMITTEE;
}

/*
 * protocol = auto. The committee keeps a trust's numbers from a coordinator
 * colluding with at most t - 1 trusts: the coordinator picks the committee,
 * so that bound is on the whole federation, not on the committee. With a
 * fraction gamma of the trusts assumed corrupt (masking_corrupt_percent),
 * it holds only while gamma n < t, i.e. n < t / gamma; SecAgg+ holds
 * against gamma n corrupt trusts at any n (protocol/graph.h). So the
 * committee below n = ceil(t / gamma) and SecAgg+ from there, unless
 * masking_from says otherwise. The cost of that choice is measured in
 * docs/BENCHMARKS.md (the scale sweep).
 */
uint32_t
srv_masking_from(const struct tly_coord_config *cfg)
{
	if (cfg->masking_from != 0)
		return cfg->masking_from;
	if (cfg->masking_corrupt_percent == 0)
		return UINT32_MAX;
	return (100u * cfg->threshold + cfg->masking_corrupt_percent - 1) /
	       cfg->masking_corrupt_percent;
}

uint8_t
srv_protocol_for(const struct server *s, uint32_t trusts)
{
	if (s->cfg.protocol != TLY_COORD_PROTOCOL_AUTO)
		return s->cfg.protocol;
	return trusts >= srv_masking_from(&s->cfg) ? TLY_PROTOCOL_SECAGG_PLUS
	                                           : TLY_PROTOCOL_COMMITTEE;
}

/* SecAgg's complete graph: k = n - 1 and the least t with 2t > k + A, A the
 * corrupt clients assumed (rounded up), as protocol/graph.h's rule (2). */
static tly_err
complete_params(const struct server *s, struct tly_query *q, char *why, size_t why_len)
{
	uint32_t n = q->participants.count, k = n - 1;
	uint32_t a = (s->cfg.masking_corrupt_percent * n + 99) / 100;
	uint32_t t = (a + k) / 2 + 1;

	if (t < 2)
		t = 2;
	if (n < 3 || n > TLY_MAX_COMPLETE_PARTIES || t > k)
		return tly_fail(
		    why, why_len, TLY_EINVAL,
		    "secagg cannot run over %u trusts with %u%% assumed corrupt (it needs "
		    "3 to %u trusts and a threshold t <= n - 1)",
		    n, (unsigned)s->cfg.masking_corrupt_percent,
		    (unsigned)TLY_MAX_COMPLETE_PARTIES);
	q->degree = (uint16_t)k;
	q->threshold = (uint16_t)t;
	return TLY_OK;
}

tly_err
srv_rounds_params(const struct server *s, struct tly_query *q, char *why, size_t why_len)
{
	if (q->protocol == TLY_PROTOCOL_COMMITTEE)
		return TLY_OK;
	q->committee = (struct tly_idlist){0, NULL};
	q->quorum = 0;
	if (q->protocol == TLY_PROTOCOL_SECAGG)
		return complete_params(s, q, why, why_len);
	uint32_t n = q->participants.count;
	tly_err rv = n < 3 ? TLY_EINVAL
	                   : tly_graph_params(n, MASKING_SIGMA, MASKING_ETA,
	                                      s->cfg.masking_dropout_percent / 100.0,
	                                      s->cfg.masking_corrupt_percent / 100.0, &q->degree,
	                                      &q->threshold);
	/* Few trusts (n <= 4 at 5%): no graph also keeps every node t live
	 * neighbours after the dropouts assumed. The complete graph with
	 * SecAgg's threshold keeps the privacy rule (2t > k + A); it only
	 * tolerates fewer dropouts. */
	if (rv == TLY_ERANGE && n <= TLY_MAX_COMPLETE_PARTIES)
		return complete_params(s, q, why, why_len);
	if (rv != TLY_OK)
		return tly_fail(
		    why, why_len, TLY_EINVAL,
		    "secagg+ has no graph for %u trusts with %u%% assumed corrupt and %u%% "
		    "dropping out (protocol/graph.h)",
		    n, (unsigned)s->cfg.masking_corrupt_percent,
		    (unsigned)s->cfg.masking_dropout_percent);
	return TLY_OK;
}

tly_err
srv_rounds_start(struct server *s, struct running *r, struct tly_outbox *box)
{
	if (masking(r))
		return tly_secagg_server_alloc(&r->masking, &s->identity, &s->roster, &r->query,
		                               r->query_id, box);
	return tly_committee_coord_alloc(&r->coord, &s->identity, &s->roster, &r->query,
	                                 r->query_id, box);
}

void
srv_rounds_free(struct running *r)
{
	tly_committee_coord_free(r->coord);
	tly_secagg_server_free(r->masking);
	r->coord = NULL;
	r->masking = NULL;
}

tly_err
srv_rounds_receive(struct running *r, const uint8_t *msg, size_t len, struct tly_outbox *box)
{
	if (masking(r))
		return tly_secagg_server_receive(r->masking, msg, len, box);
	return tly_committee_coord_receive(r->coord, msg, len, box);
}

tly_err
srv_rounds_close(struct running *r, struct tly_outbox *box)
{
	if (masking(r))
		return tly_secagg_server_close_round(r->masking, box);
	return tly_committee_coord_close_round(r->coord, box);
}

tly_err
srv_rounds_abort(struct running *r, uint32_t reason, struct tly_outbox *box)
{
	if (masking(r))
		return tly_secagg_server_abort(r->masking, reason, box);
	return tly_committee_coord_abort(r->coord, reason, box);
}

int
srv_rounds_phase(const struct running *r)
{
	return masking(r) ? (int)tly_secagg_server_phase(r->masking)
	                  : (int)tly_committee_coord_phase(r->coord);
}

enum srv_rounds
srv_rounds_state(const struct running *r)
{
	int phase = srv_rounds_phase(r);

	if (masking(r))
		return phase == TLY_SECAGG_DONE          ? SRV_ROUNDS_DONE
		       : phase == TLY_SECAGG_ABORTED     ? SRV_ROUNDS_ABORTED
		       : phase == TLY_SECAGG_ADVERTISING ? SRV_ROUNDS_FIRST
		                                         : SRV_ROUNDS_LATER;
	return phase == TLY_COMMITTEE_DONE      ? SRV_ROUNDS_DONE
	       : phase == TLY_COMMITTEE_ABORTED ? SRV_ROUNDS_ABORTED
	       : phase == TLY_COMMITTEE_SHARING ? SRV_ROUNDS_FIRST
	                                        : SRV_ROUNDS_LATER;
}

uint32_t
srv_rounds_abort_reason(const struct running *r)
{
	return masking(r) ? tly_secagg_server_abort_reason(r->masking)
	                  : tly_committee_coord_abort_reason(r->coord);
}

int
srv_rounds_first_message(const struct running *r, uint8_t type)
{
	return type == (masking(r) ? TLY_MSG_ADVERTISE : TLY_MSG_SHARE);
}

uint32_t
srv_rounds_first_count(const struct running *r)
{
	return masking(r) ? 1 : r->query.committee.count;
}

/* Move a result's cells and lists into out; the source keeps none. */
static void
take(struct srv_result *out, size_t d, int64_t **cells, struct tly_idlist *contributors,
     struct tly_idlist *dropped)
{
	out->d = d;
	out->cells = *cells;
	out->contributors = *contributors;
	out->dropped = *dropped;
	*cells = NULL;
	*contributors = *dropped = (struct tly_idlist){0, NULL};
}

static tly_err
masking_result(const struct running *r, struct srv_result *out)
{
	struct tly_secagg_result res;
	tly_err rv = tly_secagg_server_result(r->masking, &res);

	if (rv != TLY_OK)
		return rv;
	take(out, res.d, &res.cells, &res.contributors, &res.dropped);
	out->recovered = res.recovered.count;
	tly_secagg_result_fini(&res);
	return TLY_OK;
}

tly_err
srv_rounds_result(const struct running *r, struct srv_result *out)
{
	struct tly_committee_result res;

	memset(out, 0, sizeof *out);
	if (masking(r))
		return masking_result(r, out);
	tly_err rv = tly_committee_coord_result(r->coord, &res);
	if (rv != TLY_OK)
		return rv;
	take(out, res.d, &res.cells, &res.contributors, &res.dropped);
	tly_committee_result_fini(&res);
	return TLY_OK;
}

void
srv_result_fini(struct srv_result *res)
{
	free(res->cells);
	tly_idlist_fini(&res->contributors);
	tly_idlist_fini(&res->dropped);
	memset(res, 0, sizeof *res);
}
