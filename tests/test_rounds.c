/*
 * coordinator/rounds.c: which protocol a spec that names none gets
 * (protocol = auto), and the degree and threshold a masking query is sent
 * with, which every node then checks (tly_secagg_query_check).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "coordinator/server_impl.h"
#include "protocol/secagg.h"

static struct server srv;

static void
setup(void)
{
	memset(&srv, 0, sizeof srv);
	srv.cfg.protocol = TLY_COORD_PROTOCOL_AUTO;
	srv.cfg.threshold = 2;
	srv.cfg.masking_corrupt_percent = 5;
	srv.cfg.masking_dropout_percent = 5;
}

TestSuite(rounds, .init = setup);

/* The committee holds against t - 1 corrupt trusts in the federation; at
 * 5% corrupt that is n < 40 for t = 2. */
Test(rounds, auto_switches_where_the_corrupt_trusts_reach_t)
{
	cr_assert_eq(srv_masking_from(&srv.cfg), 40);
	cr_assert_eq(srv_protocol_for(&srv, 39), TLY_PROTOCOL_COMMITTEE);
	cr_assert_eq(srv_protocol_for(&srv, 40), TLY_PROTOCOL_SECAGG_PLUS);
	srv.cfg.threshold = 3;
	srv.cfg.masking_corrupt_percent = 7;
	cr_assert_eq(srv_masking_from(&srv.cfg), 43, "ceil(300 / 7)");
	srv.cfg.masking_corrupt_percent = 0;
	cr_assert_eq(srv_masking_from(&srv.cfg), UINT32_MAX, "no corrupt trusts assumed");
	cr_assert_eq(srv_protocol_for(&srv, 100000), TLY_PROTOCOL_COMMITTEE);
	srv.cfg.masking_from = 7;
	cr_assert_eq(srv_protocol_for(&srv, 6), TLY_PROTOCOL_COMMITTEE);
	cr_assert_eq(srv_protocol_for(&srv, 7), TLY_PROTOCOL_SECAGG_PLUS);
	srv.cfg.protocol = TLY_PROTOCOL_SECAGG;
	cr_assert_eq(srv_protocol_for(&srv, 3), TLY_PROTOCOL_SECAGG, "a fixed protocol");
	cr_assert_eq(srv_protocol_for(&srv, 100000), TLY_PROTOCOL_SECAGG);
}

/* A query over n trusts 1..n with this protocol, filled by rounds.c. */
static tly_err
params(uint8_t protocol, uint32_t n, uint32_t *ids, struct tly_query *q)
{
	char why[300];

	memset(q, 0, sizeof *q);
	for (uint32_t i = 0; i < n; i++)
		ids[i] = i + 1;
	q->protocol = protocol;
	q->cells = 1;
	q->min_honest = 2;
	q->min_contributors = 3;
	q->participants = (struct tly_idlist){n, ids};
	q->quorum = 3;
	q->degree = 4;
	tly_err rv = srv_rounds_params(&srv, q, why, sizeof why);
	if (rv != TLY_OK)
		cr_assert(strstr(why, protocol == TLY_PROTOCOL_SECAGG ? "secagg" : "secagg+") !=
		              NULL,
		          "%s", why);
	return rv;
}

/* The rules every node applies (secagg.h): 2 <= t <= k, 2t > k; and on
 * the complete graph the corrupt trusts assumed stay below t (a sparse
 * graph bounds the corrupt neighbours instead: protocol/graph.h). */
static void
check_rules(const struct tly_query *q, uint32_t n)
{
	uint32_t corrupt = (5 * n + 99) / 100;

	cr_assert_eq(q->quorum, 0);
	cr_assert_eq(q->committee.count, 0);
	cr_assert(q->threshold >= 2 && q->threshold <= q->degree, "n %u: t %u k %u", n,
	          q->threshold, q->degree);
	cr_assert_gt(2u * q->threshold, q->degree, "n %u", n);
	uint32_t k = q->degree, limit = k < n - 1 ? 0 : corrupt < k ? corrupt : k - 1;
	cr_assert_gt((uint32_t)q->threshold, limit, "n %u", n);
}

Test(rounds, secagg_is_the_complete_graph_with_2t_above_k_plus_the_corrupt)
{
	static uint32_t ids[1001];
	struct tly_query q;

	for (uint32_t n = 3; n <= 1000; n = n < 10 ? n + 1 : n * 2) {
		cr_assert_eq(params(TLY_PROTOCOL_SECAGG, n, ids, &q), TLY_OK, "n %u", n);
		cr_assert_eq((uint32_t)q.degree, n - 1);
		/* t = floor((A + k) / 2) + 1 (at least 2 already), A = ceil(5% n). */
		cr_assert_eq((uint32_t)q.threshold, ((5 * n + 99) / 100 + n - 1) / 2 + 1, "n %u",
		             n);
		check_rules(&q, n);
	}
	cr_assert_eq(params(TLY_PROTOCOL_SECAGG, 5, ids, &q), TLY_OK);
	cr_assert(q.degree == 4 && q.threshold == 3);
	cr_assert_eq(params(TLY_PROTOCOL_SECAGG, 2, ids, &q), TLY_EINVAL, "n < 3");
	cr_assert_eq(params(TLY_PROTOCOL_SECAGG, 1001, ids, &q), TLY_EINVAL,
	             "beyond TLY_MAX_COMPLETE_PARTIES");
}

Test(rounds, secagg_plus_takes_graph_h_parameters)
{
	static uint32_t ids[10000];
	struct tly_query q;

	for (uint32_t n = 3; n <= 10000; n = n < 10 ? n + 1 : n * 3) {
		cr_assert_eq(params(TLY_PROTOCOL_SECAGG_PLUS, n, ids, &q), TLY_OK, "n %u", n);
		check_rules(&q, n);
	}
	/* n = 3, 4: no graph keeps t live neighbours after 5% dropouts; the
	 * complete graph with SecAgg's threshold is used. */
	cr_assert_eq(params(TLY_PROTOCOL_SECAGG_PLUS, 4, ids, &q), TLY_OK);
	cr_assert(q.degree == 3 && q.threshold == 3, "k %u t %u", q.degree, q.threshold);
	cr_assert_eq(params(TLY_PROTOCOL_SECAGG_PLUS, 10000, ids, &q), TLY_OK);
	cr_assert_lt(q.degree, 200, "sparse at 10^4 trusts: degree %u", q.degree);
	srv.cfg.masking_corrupt_percent = 40;
	srv.cfg.masking_dropout_percent = 30;
	/* gamma + 2 delta >= 1: no sparse graph; the complete one up to 1000. */
	cr_assert_eq(params(TLY_PROTOCOL_SECAGG_PLUS, 100, ids, &q), TLY_OK);
	cr_assert(q.degree == 99 && q.threshold == 70, "k %u t %u", q.degree, q.threshold);
	cr_assert_eq(params(TLY_PROTOCOL_SECAGG_PLUS, 2000, ids, &q), TLY_EINVAL,
	             "no graph, and too many trusts for the complete one");
	q.protocol = TLY_PROTOCOL_COMMITTEE;
	q.degree = 4;
	char why[100];
	cr_assert_eq(srv_rounds_params(&srv, &q, why, sizeof why), TLY_OK, "committee untouched");
	cr_assert_eq(q.degree, 4);
}
