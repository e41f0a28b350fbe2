/*
 * api_estimate.c - POST /v1/queries/estimate, the dry run (issue 15):
 * the same signed request and body as POST /v1/queries, held to the same
 * checks (signature, spec, planner, cost), answered at once with what the
 * release would print as each figure's 95% half-width and what the query
 * would charge (coordinator/estimate.h). Nothing is queued, logged,
 * charged or sent: this file touches neither the log, the queue, the
 * planners' shares nor the hub (beyond counting connected nodes).
 */
#include "coordinator/server_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/estimate.h"
#include "crypto/field.h"

/* The QUERY's noise parameters as spec_to_query and launch would set them
 * for `trusts` participants, held to the same checks. TLY_EINVAL with why. */
static tly_err
fill(const struct server *s, struct tly_spec *spec, uint32_t trusts, struct tly_query *q, char *why,
     size_t why_len)
{
	uint64_t l1, l2sq;

	if (!spec->protocol_given)
		spec->protocol = srv_protocol_for(s, trusts);
	if (tly_spec_sensitivity(spec, &s->catalogue, &l1, &l2sq) != TLY_OK)
		return tly_fail(why, why_len, TLY_EINVAL,
		                "the query's sensitivity or shape cannot be computed");
	memset(q, 0, sizeof *q);
	q->protocol = spec->protocol;
	q->mechanism = spec->mechanism;
	q->cells = (uint32_t)tly_spec_cells(spec, &s->catalogue);
	q->privacy_num = spec->privacy_num;
	q->privacy_den = spec->privacy_den;
	q->sensitivity_l1 = l1;
	q->sensitivity_l2sq = l2sq;
	q->min_honest = s->cfg.min_honest;
	if (tly_field_sum_fits(trusts, tly_spec_cell_bound(spec, &s->catalogue, ROWS_CAP)) !=
	    TLY_OK)
		return tly_fail(why, why_len, TLY_EINVAL,
		                "the total could overflow the field: narrow the query");
	return srv_check_cost(s, q, why, why_len);
}

/* The answer: the estimate's JSON with who would be asked. */
static void
answer(struct server *s, uint64_t handle, const struct tly_spec *spec,
       const struct tly_noise_params *noise, const struct tly_estimate *e, uint32_t connected)
{
	json_t *body = NULL;
	char *text = NULL;

	if (tly_estimate_json(spec, &s->catalogue, noise, e, &body) == TLY_OK) {
		json_object_set_new(body, "registered", json_integer((json_int_t)s->roster.count));
		json_object_set_new(body, "connected", json_integer(connected));
		text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
	}
	if (text != NULL)
		srv_answer(s, handle, 200, text);
	else
		srv_reply_error(s, handle, 500, "internal", NULL, "out of memory");
	free(text);
	json_decref(body);
}

/* After the spec parsed: the estimate for the trusts that would be asked
 * (every registered one when too few are connected now to run it). */
static void
estimate_spec(struct server *s, uint64_t handle, struct tly_spec *spec)
{
	struct tly_query q;
	struct tly_noise_params noise;
	struct tly_estimate e;
	char why[400];
	uint32_t connected = srv_connected_trusts(s), trusts = connected;

	if (trusts < s->cfg.min_contributors)
		trusts = (uint32_t)s->roster.count;
	if (fill(s, spec, trusts, &q, why, sizeof why) != TLY_OK ||
	    tly_noise_calibrate(&q, &noise) != TLY_OK) {
		srv_reply_error(s, handle, 400, "invalid_query", NULL, "%s", why);
		return;
	}
	if (tly_estimate_figures(spec, &s->catalogue, &noise, trusts, &e, why, sizeof why) !=
	    TLY_OK) {
		srv_reply_error(s, handle, 409, "too_few", NULL,
		                "%u trusts are registered; the query needs at least min_honest "
		                "= %u: %s",
		                (unsigned)s->roster.count, (unsigned)s->cfg.min_honest, why);
		return;
	}
	answer(s, handle, spec, &noise, &e, connected);
}

void
srv_estimate(struct server *s, const struct tly_http_request *req)
{
	char planner[TLY_PLANNER_NAME_MAX + 1];
	struct tly_spec spec;
	struct tly_field_error serr;
	const char *body = req->body != NULL ? (const char *)req->body : "";

	if (!srv_authenticate(s, req, planner))
		return;
	if (tly_spec_parse(&spec, &s->catalogue, body, req->body_len, &serr) != TLY_OK) {
		srv_reply_error(s, req->handle, 400, "invalid_query", serr.field, "%s",
		                serr.reason);
		return;
	}
	if (spec.planner[0] != '\0' && strcmp(spec.planner, planner) != 0)
		srv_reply_error(s, req->handle, 400, "invalid_query", "planner",
		                "the query names planner %s but was signed by %s", spec.planner,
		                planner);
	else
		estimate_spec(s, req->handle, &spec);
	srv_note("planner %s: a dry run, nothing charged", planner);
	tly_spec_fini(&spec);
}
