/*
 * The masking graph (protocol/graph.h): Harary graph structure (degree,
 * symmetry, k-connectivity and the cut that breaks it), the complete-graph
 * fallback, determinism from the query id, the ring permutation's
 * uniformity (suite graph_stats), and the SecAgg+ parameter search: the
 * chosen (k, t) meet the three conditions (rechecked here with a
 * hypergeometric recurrence in long double, not lgamma), k - 2 does not,
 * and k grows with n, sigma, eta, the dropout rate and the corrupt
 * fraction like log n.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/valgrind.h>

#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "protocol/graph.h"
#include "stats.h"

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(graph, .init = setup);
TestSuite(graph_stats, .init = setup);

/* Participant ids with gaps: 7, 18, 29, ... */
static uint32_t *
make_ids(uint32_t n)
{
	uint32_t *ids = malloc((n + 1) * sizeof *ids);

	cr_assert_not_null(ids);
	for (uint32_t i = 0; i < n; i++)
		ids[i] = 7 + 11 * i;
	return ids;
}

static void
query_id_of(uint64_t seed, uint8_t qid[TLY_QUERY_ID_BYTES])
{
	struct tly_rng rng;

	tly_rng_init_seeded_u64(&rng, seed);
	tly_rng_bytes(&rng, qid, TLY_QUERY_ID_BYTES);
	tly_rng_fini(&rng);
}

static void
build(struct tly_graph *g, uint32_t n, uint32_t k, uint64_t seed)
{
	uint8_t qid[TLY_QUERY_ID_BYTES];
	uint32_t *ids = make_ids(n);

	query_id_of(seed, qid);
	cr_assert_eq(tly_graph_init(g, qid, ids, n, k), TLY_OK, "n=%u k=%u", n, k);
	free(ids);
}

/* ---- structure ---- */

static void
check_structure(uint32_t n, uint32_t k)
{
	struct tly_graph g;
	uint32_t *out = malloc(n * sizeof *out), count;

	cr_assert_not_null(out);
	build(&g, n, k, n * 1000 + k);
	uint32_t degree = k >= n - 1 ? n - 1 : k;
	cr_assert_eq(g.degree, degree);
	cr_assert_eq(g.complete, k >= n - 1);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t a = g.ids[i];
		cr_assert_eq(tly_graph_neighbours(&g, a, out, &count), TLY_OK);
		cr_assert_eq(count, degree, "n=%u k=%u node %u", n, k, a);
		for (uint32_t j = 0; j < count; j++) {
			cr_assert_neq(out[j], a, "self loop");
			cr_assert(j == 0 || out[j] > out[j - 1], "neighbours sorted, distinct");
			cr_assert(tly_graph_adjacent(&g, a, out[j]));
			cr_assert(tly_graph_adjacent(&g, out[j], a), "symmetric");
		}
		if (n <= 200) { /* exactly those */
			uint32_t adjacent = 0;
			for (uint32_t b = 0; b < n; b++)
				adjacent += (uint32_t)tly_graph_adjacent(&g, a, g.ids[b]);
			cr_assert_eq(adjacent, degree);
		}
		cr_assert(!tly_graph_adjacent(&g, a, a));
		cr_assert(!tly_graph_adjacent(&g, a, 1)); /* not a participant */
	}
	cr_assert_eq(tly_graph_neighbours(&g, 1, out, &count), TLY_EINVAL);
	tly_graph_fini(&g);
	free(out);
}

Test(graph, degree_and_symmetry)
{
	static const uint32_t cases[][2] = {{5, 2},    {10, 4},  {11, 6},    {12, 10},
	                                    {100, 20}, {101, 2}, {1000, 16}, {1000, 40}};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_structure(cases[i][0], cases[i][1]);
}

Test(graph, complete_when_the_degree_reaches_n_minus_one)
{
	check_structure(3, 2);
	check_structure(8, 7);
	check_structure(8, 100); /* any degree past n - 1 */
	check_structure(1, 0);
	check_structure(2, 1);
	struct tly_graph g;
	build(&g, 9, 8, 1);
	cr_assert(g.complete);
	cr_assert_null(g.ring);
	tly_graph_fini(&g);
}

/* Connected after removing the nodes marked in `gone`? */
static int
connected(const struct tly_graph *g, const uint8_t *gone)
{
	uint32_t n = g->count, *stack = malloc(n * sizeof *stack), top = 0, seen_count = 0;
	uint32_t *nb = malloc(n * sizeof *nb), count, alive = 0;
	uint8_t *seen = calloc(n, 1);

	cr_assert(stack && nb && seen);
	for (uint32_t i = 0; i < n; i++)
		alive += !gone[i];
	for (uint32_t i = 0; i < n && top == 0; i++)
		if (!gone[i]) {
			stack[top++] = i;
			seen[i] = 1;
		}
	while (top > 0) {
		uint32_t i = stack[--top];
		seen_count++;
		cr_assert_eq(tly_graph_neighbours(g, g->ids[i], nb, &count), TLY_OK);
		for (uint32_t j = 0; j < count; j++) {
			long k = tly_graph_index(g, nb[j]);
			if (!gone[k] && !seen[k]) {
				seen[k] = 1;
				stack[top++] = (uint32_t)k;
			}
		}
	}
	free(stack);
	free(nb);
	free(seen);
	return seen_count == alive;
}

/* H(k, n) is k-connected: k - 1 removals never cut it, and k/2 consecutive
 * ring positions at two places do. */
Test(graph, k_connected_and_no_more)
{
	static const uint32_t cases[][2] = {{20, 4}, {50, 6}, {200, 10}};
	struct tly_rng rng;

	tly_rng_init_seeded_u64(&rng, 5);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint32_t n = cases[c][0], k = cases[c][1];
		struct tly_graph g;
		uint8_t *gone = calloc(n, 1);
		cr_assert_not_null(gone);
		build(&g, n, k, 77 + c);
		cr_assert(connected(&g, gone));
		for (int trial = 0; trial < 200; trial++) {
			memset(gone, 0, n);
			for (uint32_t removed = 0; removed < k - 1;) {
				uint32_t i = (uint32_t)tly_rng_uniform(&rng, n);
				removed += !gone[i];
				gone[i] = 1;
			}
			cr_assert(connected(&g, gone), "n=%u k=%u trial %d", n, k, trial);
		}
		/* the cut: positions [0, k/2) and [n/2, n/2 + k/2) */
		memset(gone, 0, n);
		for (uint32_t p = 0; p < k / 2; p++) {
			gone[g.ring[p]] = 1;
			gone[g.ring[n / 2 + p]] = 1;
		}
		cr_assert(!connected(&g, gone), "n=%u k=%u", n, k);
		tly_graph_fini(&g);
		free(gone);
	}
	tly_rng_fini(&rng);
}

Test(graph, same_query_id_same_graph)
{
	struct tly_graph a, b, c;

	build(&a, 300, 12, 42);
	build(&b, 300, 12, 42);
	build(&c, 300, 12, 43);
	cr_assert_eq(memcmp(a.pos, b.pos, 300 * sizeof *a.pos), 0);
	cr_assert_eq(memcmp(a.ring, b.ring, 300 * sizeof *a.ring), 0);
	cr_assert_neq(memcmp(a.pos, c.pos, 300 * sizeof *a.pos), 0);
	/* the ring is a permutation */
	uint8_t *hit = calloc(300, 1);
	cr_assert_not_null(hit);
	for (uint32_t p = 0; p < 300; p++) {
		cr_assert_lt(a.ring[p], 300);
		cr_assert(!hit[a.ring[p]]);
		hit[a.ring[p]] = 1;
		cr_assert_eq(a.pos[a.ring[p]], p);
	}
	free(hit);
	/* the degree does not change the ring */
	struct tly_graph d;
	build(&d, 300, 20, 42);
	cr_assert_eq(memcmp(a.ring, d.ring, 300 * sizeof *a.ring), 0);
	tly_graph_fini(&a);
	tly_graph_fini(&b);
	tly_graph_fini(&c);
	tly_graph_fini(&d);
}

Test(graph, init_rules)
{
	uint8_t qid[TLY_QUERY_ID_BYTES] = {1};
	uint32_t *ids = make_ids(TLY_MAX_PARTIES + 1);
	struct tly_graph g;

	memset(&g, 0, sizeof g);
	cr_assert_eq(tly_graph_init(&g, qid, ids, 10, 3), TLY_EINVAL); /* odd */
	cr_assert_eq(tly_graph_init(&g, qid, ids, 10, 0), TLY_EINVAL);
	cr_assert_eq(tly_graph_init(&g, qid, ids, 0, 2), TLY_EINVAL);
	cr_assert_eq(tly_graph_init(&g, qid, ids, TLY_MAX_PARTIES + 1, 2), TLY_EINVAL);
	uint32_t swap = ids[3];
	ids[3] = ids[4];
	ids[4] = swap;
	cr_assert_eq(tly_graph_init(&g, qid, ids, 10, 2), TLY_EINVAL); /* not increasing */
	ids[4] = ids[3];
	cr_assert_eq(tly_graph_init(&g, qid, ids, 10, 2), TLY_EINVAL); /* repeated */
	ids[3] = swap;
	ids[4] = swap + 11;
	ids[0] = 0;
	cr_assert_eq(tly_graph_init(&g, qid, ids, 10, 2), TLY_EINVAL); /* id 0 */
	cr_assert_null(g.ids);
	tly_graph_fini(&g);
	tly_graph_fini(NULL);
	free(ids);
}

enum { SHUFFLE_N = 8, SHUFFLE_IDS = 8000 };

/* The p-value of "every node is equally likely at every position". */
static double
uniform_positions(uint64_t hits[SHUFFLE_N][SHUFFLE_N])
{
	double statistic = 0, e = (double)SHUFFLE_IDS / SHUFFLE_N;

	for (uint32_t i = 0; i < SHUFFLE_N; i++)
		for (uint32_t p = 0; p < SHUFFLE_N; p++)
			statistic += ((double)hits[i][p] - e) * ((double)hits[i][p] - e) / e;
	/* Each id adds a permutation matrix, whose cells have covariance
	 * Pi / (N - 1) with Pi the projection onto the (N - 1)^2 dimensions
	 * that keep row and column sums: so the statistic is N / (N - 1) times
	 * a chi-square with (N - 1)^2 degrees of freedom. */
	return stats_chi2_sf(statistic * (SHUFFLE_N - 1) / SHUFFLE_N,
	                     (SHUFFLE_N - 1) * (SHUFFLE_N - 1));
}

/* Over many query ids, a given node's ring position is uniform; the same
 * test rejects the classic biased shuffle (swap with any index). */
Test(graph_stats, ring_position_is_uniform)
{
	uint64_t hits[SHUFFLE_N][SHUFFLE_N] = {{0}}, biased[SHUFFLE_N][SHUFFLE_N] = {{0}};
	struct tly_rng rng;

	for (uint64_t seed = 0; seed < SHUFFLE_IDS; seed++) {
		struct tly_graph g;
		build(&g, SHUFFLE_N, 2, 1000000 + seed);
		for (uint32_t i = 0; i < SHUFFLE_N; i++)
			hits[i][g.pos[i]]++;
		tly_graph_fini(&g);
	}
	double p = uniform_positions(hits);
	cr_assert_gt(p, 1e-4, "p = %g", p);

	tly_rng_init_seeded_u64(&rng, 9);
	for (uint64_t seed = 0; seed < SHUFFLE_IDS; seed++) {
		uint32_t ring[SHUFFLE_N];
		for (uint32_t i = 0; i < SHUFFLE_N; i++)
			ring[i] = i;
		for (uint32_t i = 0; i < SHUFFLE_N; i++) {
			uint32_t j = (uint32_t)tly_rng_uniform(&rng, SHUFFLE_N), swap = ring[i];
			ring[i] = ring[j];
			ring[j] = swap;
		}
		for (uint32_t position = 0; position < SHUFFLE_N; position++)
			biased[ring[position]][position]++;
	}
	cr_assert_lt(uniform_positions(biased), 1e-6);
	tly_rng_fini(&rng);
}

/* ---- parameters ---- */

/* P(X > x) for X ~ Hypergeometric(population, marked, draws), by the pmf
 * recurrence in long double from the smallest support point. */
static long double
upper_tail(uint32_t population, uint32_t marked, uint32_t draws, int64_t x)
{
	int64_t lo = (int64_t)draws - (int64_t)(population - marked);
	if (lo < 0)
		lo = 0;
	int64_t hi = marked < draws ? marked : draws;
	long double pmf = 1;

	/* pmf(lo) = C(marked, lo) C(population - marked, draws - lo) / C(population, draws) */
	for (int64_t i = 0; i < (int64_t)draws; i++)
		pmf /= (long double)(population - i);
	for (int64_t i = 0; i < (int64_t)draws; i++)
		pmf *= (long double)(i + 1);
	for (int64_t i = 0; i < lo; i++)
		pmf *= (long double)(marked - i) / (long double)(i + 1);
	for (int64_t i = 0; i < (int64_t)draws - lo; i++)
		pmf *= (long double)(population - marked - i) / (long double)(i + 1);
	long double tail = 0;
	for (int64_t v = lo; v <= hi; v++) {
		if (v > x)
			tail += pmf;
		int64_t unmarked_left = (int64_t)population - marked - draws + v + 1;
		pmf *= (long double)((int64_t)marked - v) * (long double)((int64_t)draws - v) /
		       ((long double)(v + 1) * (long double)unmarked_left);
	}
	return tail;
}

static long double
log_choose(uint32_t n, uint32_t k)
{
	return lgammal((long double)n + 1) - lgammal((long double)k + 1) -
	       lgammal((long double)(n - k) + 1);
}

struct model {
	uint32_t n, corrupt, dropped;
	unsigned sigma, eta;
};

static struct model
model_of(uint32_t n, unsigned sigma, unsigned eta, double delta, double gamma)
{
	struct model m = {n, (uint32_t)ceil(gamma * n), (uint32_t)ceil(delta * n), sigma, eta};
	if (m.corrupt > n - 1)
		m.corrupt = n - 1;
	if (m.dropped > n - 1)
		m.dropped = n - 1;
	return m;
}

/* (k, t) meets conditions (1)-(3) of graph.h. */
static int
meets(const struct model *m, uint32_t k, uint32_t t)
{
	long double privacy = powl(2.0L, -(long double)(m->sigma + 1));
	uint32_t bad = m->corrupt + m->dropped;

	if (bad > m->n)
		bad = m->n;
	if (t < 2 || t > k)
		return 0;
	if (k < m->n - 1 && k <= bad) {
		long double log_p1 = logl((long double)m->n * (m->n - k - 1) / 2) +
		                     log_choose(bad, k) - log_choose(m->n, k);
		if (log_p1 > logl(privacy))
			return 0;
	}
	/* the corrupt neighbours a may be at most 2t - k - 1 */
	if (2 * (int64_t)t - k - 1 < 0 ||
	    upper_tail(m->n - 1, m->corrupt, k, 2 * (int64_t)t - k - 1) > privacy / m->n * 1.0001L)
		return 0;
	if (upper_tail(m->n - 1, m->dropped, k, (int64_t)k - t) >
	    powl(2.0L, -(long double)m->eta) / m->n * 1.0001L)
		return 0;
	return 1;
}

static void
check_params(uint32_t n, unsigned sigma, unsigned eta, double delta, double gamma)
{
	struct model m = model_of(n, sigma, eta, delta, gamma);
	uint16_t k, t;

	cr_assert_eq(tly_graph_params(n, sigma, eta, delta, gamma, &k, &t), TLY_OK,
	             "n=%u delta=%g gamma=%g", n, delta, gamma);
	cr_assert(2u * t > k && t <= k && t >= 2, "n=%u: k=%u t=%u", n, k, t);
	cr_assert(k == n - 1 || (k % 2 == 0 && k < n - 1));
	cr_assert(meets(&m, k, t), "n=%u delta=%g gamma=%g: k=%u t=%u fails", n, delta, gamma, k,
	          t);
	/* no smaller even degree works with any threshold */
	uint32_t below = k == n - 1 ? (n - 2) & ~1u : (uint32_t)k - 2;
	for (uint32_t smaller = below; smaller >= 2 && smaller + 6 > below; smaller -= 2)
		for (uint32_t any = 2; any <= smaller; any++)
			cr_assert(!meets(&m, smaller, any),
			          "n=%u delta=%g gamma=%g: k=%u t=%u would do (chose k=%u t=%u)", n,
			          delta, gamma, smaller, any, k, t);
}

Test(graph, params_meet_the_conditions)
{
	/* The reference model below uses logl/powl; valgrind runs x87 long
	 * double at 64-bit precision, and the model then disagrees with the
	 * (double) implementation at the rounding edges. Not a memory check. */
	if (RUNNING_ON_VALGRIND)
		cr_skip_test("valgrind emulates long double at double precision");
	static const double rates[][2] = {{0, 0},      {0.05, 0.05}, {0.1, 0.1},
	                                  {0.05, 0.2}, {0.3, 0},     {0.01, 0.33}};
	static const uint32_t ns[] = {5, 10, 30, 100, 300, 1000, 2000};

	for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++)
		for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
			uint16_t k, t;
			if (tly_graph_params(ns[i], 40, 20, rates[r][0], rates[r][1], &k, &t) ==
			    TLY_ERANGE)
				continue; /* small n at high rates: checked below */
			check_params(ns[i], 40, 20, rates[r][0], rates[r][1]);
		}
}

Test(graph, params_grow_like_log_n)
{
	uint16_t k[7], t[7];
	uint32_t n = 100;

	for (int i = 0; i < 5; i++, n *= 10)
		cr_assert_eq(tly_graph_params(n, 40, 20, 0.05, 0.05, &k[i], &t[i]), TLY_OK);
	/* 10^2 .. 10^6: strictly growing, the last decade adding less than an
	 * early one did, and 10^6 within twice the degree of 10^3 */
	for (int i = 1; i < 5; i++)
		cr_assert_gt(k[i], k[i - 1], "decade %d: %u <= %u", i, k[i], k[i - 1]);
	cr_assert_lt(k[4] - k[3], k[2] - k[1]);
	cr_assert_lt(k[4], 2 * k[2]);
	cr_assert_lt(k[4], 1000000 / 1000); /* sparse: a thousandth of n */
	/* and k / log2 n stays within a constant band */
	double lo = 1e9, hi = 0;
	n = 1000;
	for (int i = 2; i < 5; i++, n *= 10) {
		double ratio = k[i] / log2((double)n);
		lo = ratio < lo ? ratio : lo;
		hi = ratio > hi ? ratio : hi;
	}
	cr_assert_lt(hi / lo, 1.5, "k/log n from %g to %g", lo, hi);
}

Test(graph, params_monotone_in_targets_and_rates)
{
	static const uint32_t ns[] = {50, 500, 5000};

	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		uint16_t k0, t0, k1, t1;
		cr_assert_eq(tly_graph_params(ns[i], 40, 20, 0.05, 0.05, &k0, &t0), TLY_OK);
		cr_assert_eq(tly_graph_params(ns[i], 80, 20, 0.05, 0.05, &k1, &t1), TLY_OK);
		cr_assert_geq(k1, k0, "sigma");
		cr_assert_eq(tly_graph_params(ns[i], 40, 40, 0.05, 0.05, &k1, &t1), TLY_OK);
		cr_assert_geq(k1, k0, "eta");
		cr_assert_eq(tly_graph_params(ns[i], 40, 20, 0.15, 0.05, &k1, &t1), TLY_OK);
		cr_assert_geq(k1, k0, "dropouts");
		cr_assert_eq(tly_graph_params(ns[i], 40, 20, 0.05, 0.15, &k1, &t1), TLY_OK);
		cr_assert_geq(k1, k0, "corruption");
		cr_assert_geq(t1, t0, "corruption raises the threshold");
	}
	/* no adversary and no dropouts: a cycle will do */
	uint16_t k, t;
	cr_assert_eq(tly_graph_params(1000, 40, 20, 0, 0, &k, &t), TLY_OK);
	cr_assert_eq(k, 2);
	cr_assert_eq(t, 2);
}

Test(graph, params_small_n_and_refusals)
{
	uint16_t k = 0, t = 0;

	/* n = 5 at 5%: one corrupt, one dropout: only the complete graph */
	cr_assert_eq(tly_graph_params(5, 40, 20, 0.05, 0.05, &k, &t), TLY_OK);
	cr_assert_eq(k, 4);
	cr_assert_eq(t, 3);
	check_params(5, 40, 20, 0.05, 0.05);
	/* n = 3 cannot lose a node and keep 2t > k */
	k = t = 0;
	cr_assert_eq(tly_graph_params(3, 40, 20, 0.05, 0.05, &k, &t), TLY_ERANGE);
	cr_assert_eq(k, 0);
	cr_assert_eq(tly_graph_params(3, 40, 20, 0, 0, &k, &t), TLY_OK);
	cr_assert_eq(k, 2);
	/* gamma + 2 delta >= 1 is never feasible */
	cr_assert_eq(tly_graph_params(100000, 40, 20, 0.3, 0.4, &k, &t), TLY_ERANGE);
	cr_assert_eq(tly_graph_params(100, 40, 20, 0.45, 0.1, &k, &t), TLY_ERANGE);
	cr_assert_eq(tly_graph_params(2, 40, 20, 0, 0, &k, &t), TLY_EINVAL);
	cr_assert_eq(tly_graph_params(TLY_GRAPH_PARAMS_MAX_N + 1, 40, 20, 0, 0, &k, &t),
	             TLY_EINVAL);
	cr_assert_eq(tly_graph_params(100, 0, 20, 0, 0, &k, &t), TLY_EINVAL);
	cr_assert_eq(tly_graph_params(100, 40, 0, 0, 0, &k, &t), TLY_EINVAL);
	cr_assert_eq(tly_graph_params(100, 40, 20, 1.0, 0, &k, &t), TLY_EINVAL);
	cr_assert_eq(tly_graph_params(100, 40, 20, 0, -0.1, &k, &t), TLY_EINVAL);
	cr_assert_eq(tly_graph_params(100, 40, 20, NAN, 0, &k, &t), TLY_EINVAL);
}
