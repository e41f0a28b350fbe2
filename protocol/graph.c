/*
 * graph.c - the complete and random Harary graphs of pairwise masking, and
 * the SecAgg+ parameter search (graph.h has the formulas).
 */
#include "protocol/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire/buf.h"
#include "wire/codec.h"
#include "crypto/field.h"
#include "crypto/prg.h"
#include "crypto/wipe.h"

_Static_assert(sizeof(TLY_GRAPH_SEED) - 1 == TLY_PRG_SEED_BYTES, "the graph seed is a PRG seed");
_Static_assert(TLY_MAX_COMPLETE_PARTIES - 1 <= UINT16_MAX,
               "a complete graph's degree fits the QUERY");
_Static_assert((int)TLY_GRAPH_MAX_DEGREE <= (int)TLY_MAX_NEIGHBOURS,
               "a sparse degree fits the list caps");

enum { DRAW_BYTES = 16 };

/* ---- the graph ---- */

static int
ids_increasing(const uint32_t *ids, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		if (ids[i] == 0 || (i > 0 && ids[i] <= ids[i - 1]))
			return 0;
	return 1;
}

/* Fisher-Yates over ring[0..n) with 128-bit draws from the query's PRG. */
static tly_err
shuffle(uint32_t *ring, uint32_t n, const uint8_t query_id[static TLY_QUERY_ID_BYTES])
{
	static const uint8_t seed[] = TLY_GRAPH_SEED;
	uint8_t session[TLY_QUERY_ID_BYTES + 4];
	struct tly_prg *prg = NULL;
	uint8_t draw[DRAW_BYTES];
	tly_err rv;

	for (uint32_t p = 0; p < n; p++)
		ring[p] = p;
	if (n < 2)
		return TLY_OK;
	memcpy(session, query_id, TLY_QUERY_ID_BYTES);
	tly_store_be32(session + TLY_QUERY_ID_BYTES, n);
	struct tly_prg_context ctx = {
	    .purpose = "harary-permutation",
	    .session = session,
	    .session_len = sizeof session,
	    .length = (uint64_t)(n - 1) * DRAW_BYTES,
	};
	rv = tly_prg_alloc(&prg, TLY_PRG_AES128CTR, seed, &ctx);
	if (rv != TLY_OK)
		return rv;
	for (uint32_t i = n - 1; i > 0; i--) {
		rv = tly_prg_bytes(prg, draw, sizeof draw);
		if (rv != TLY_OK)
			break;
		tly_u128 r = ((tly_u128)tly_load_be64(draw) << 64) | tly_load_be64(draw + 8);
		uint32_t j = (uint32_t)(r % ((tly_u128)i + 1));
		uint32_t swap = ring[i];
		ring[i] = ring[j];
		ring[j] = swap;
	}
	tly_prg_free(prg);
	return rv;
}

tly_err
tly_graph_init(struct tly_graph *g, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
               const uint32_t *ids, uint32_t count, uint32_t degree)
{
	struct tly_graph graph;
	tly_err rv = TLY_EINVAL;

	memset(&graph, 0, sizeof graph);
	if (count < 1 || count > TLY_MAX_PARTIES || !ids_increasing(ids, count))
		return rv;
	graph.count = count;
	graph.complete = degree >= count - 1;
	graph.degree = graph.complete ? count - 1 : degree;
	if (!graph.complete && (degree < 2 || degree % 2 != 0))
		return rv;

	rv = TLY_ENOMEM;
	graph.ids = malloc(count * sizeof *graph.ids);
	if (graph.ids == NULL)
		goto out;
	memcpy(graph.ids, ids, count * sizeof *ids);
	if (!graph.complete) {
		graph.pos = malloc(count * sizeof *graph.pos);
		graph.ring = malloc(count * sizeof *graph.ring);
		if (graph.pos == NULL || graph.ring == NULL)
			goto out;
		rv = shuffle(graph.ring, count, query_id);
		if (rv != TLY_OK)
			goto out;
		for (uint32_t p = 0; p < count; p++)
			graph.pos[graph.ring[p]] = p;
	}
	*g = graph;
	return TLY_OK;
out:
	tly_graph_fini(&graph);
	return rv;
}

void
tly_graph_fini(struct tly_graph *g)
{
	if (g == NULL)
		return;
	free(g->ids);
	free(g->pos);
	free(g->ring);
	memset(g, 0, sizeof *g);
}

long
tly_graph_index(const struct tly_graph *g, uint32_t id)
{
	return tly_ids_find(g->ids, g->count, id);
}

/* Distance of two ring positions around the ring. */
static uint32_t
ring_distance(uint32_t n, uint32_t p, uint32_t q)
{
	uint32_t gap = p > q ? p - q : q - p;
	return gap < n - gap ? gap : n - gap;
}

int
tly_graph_adjacent(const struct tly_graph *g, uint32_t a, uint32_t b)
{
	long ia = tly_graph_index(g, a), ib = tly_graph_index(g, b);

	if (ia < 0 || ib < 0 || ia == ib)
		return 0;
	if (g->complete)
		return 1;
	return ring_distance(g->count, g->pos[ia], g->pos[ib]) <= g->degree / 2;
}

static int
compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

tly_err
tly_graph_neighbours(const struct tly_graph *g, uint32_t id, uint32_t *out, uint32_t *count)
{
	long index = tly_graph_index(g, id);
	uint32_t written = 0;

	if (index < 0)
		return TLY_EINVAL;
	if (g->complete) {
		for (uint32_t i = 0; i < g->count; i++)
			if (i != (uint32_t)index)
				out[written++] = g->ids[i];
		*count = written;
		return TLY_OK;
	}
	uint32_t n = g->count, p = g->pos[index];
	for (uint32_t step = 1; step <= g->degree / 2; step++) {
		out[written++] = g->ids[g->ring[(p + step) % n]];
		out[written++] = g->ids[g->ring[(p + n - step) % n]];
	}
	qsort(out, written, sizeof *out, compare_u32);
	*count = written;
	return TLY_OK;
}

/* ---- parameters (Bell et al., CCS'20; see graph.h) ---- */

static double
log_choose(double n, double k)
{
	return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

/*
 * The least x with P(X > x) <= bound for X ~ Hypergeometric(population,
 * marked, draws): the tail is summed from the top down, term by term, so
 * tiny tails keep their precision. O(draws).
 */
static uint32_t
hypergeometric_quantile(uint32_t population, uint32_t marked, uint32_t draws, double bound)
{
	uint32_t top = marked < draws ? marked : draws;
	uint32_t bottom = draws > population - marked ? draws - (population - marked) : 0;
	double log_total = log_choose(population, draws);
	double tail = 0;

	for (uint32_t x = top; x > bottom; x--) {
		tail += exp(log_choose(marked, x) + log_choose(population - marked, draws - x) -
		            log_total);
		if (tail > bound)
			return x;
	}
	return bottom;
}

/* Condition (1): log of the union bound on cutting the honest survivors. */
static double
log_disconnect(uint32_t n, uint32_t k, uint32_t bad)
{
	if (k > bad)
		return -HUGE_VAL;
	return log((double)n) + log((double)(n - k - 1)) - log(2.0) + log_choose(bad, k) -
	       log_choose(n, k);
}

/* The threshold for degree k, or 0 when k fails (2) or (3). */
static uint32_t
threshold_for(uint32_t n, uint32_t k, uint32_t corrupt, uint32_t dropped, double privacy_tail,
              double failure_tail)
{
	uint32_t a = hypergeometric_quantile(n - 1, corrupt, k, privacy_tail);
	uint32_t b = hypergeometric_quantile(n - 1, dropped, k, failure_tail);
	uint32_t t = (a + k) / 2 + 1;

	if (t < 2)
		t = 2;
	return t + b <= k ? t : 0;
}

static uint32_t
worst_count(double rate, uint32_t n)
{
	double count = ceil(rate * n);
	return count >= n - 1 ? n - 1 : (uint32_t)count;
}

tly_err
tly_graph_params(uint32_t n, unsigned sigma, unsigned eta, double dropout_rate,
                 double corrupt_fraction, uint16_t *degree, uint16_t *threshold)
{
	if (n < 3 || n > TLY_GRAPH_PARAMS_MAX_N || sigma < 1 || sigma > TLY_GRAPH_MAX_SIGMA ||
	    eta < 1 || eta > TLY_GRAPH_MAX_SIGMA || !(dropout_rate >= 0 && dropout_rate < 1) ||
	    !(corrupt_fraction >= 0 && corrupt_fraction < 1))
		return TLY_EINVAL;
	if (corrupt_fraction + 2 * dropout_rate >= 1)
		return TLY_ERANGE;

	uint32_t corrupt = worst_count(corrupt_fraction, n);
	uint32_t dropped = worst_count(dropout_rate, n);
	uint32_t bad = corrupt + dropped > n ? n : corrupt + dropped;
	double log_privacy = -((double)sigma + 1) * log(2.0);
	double privacy_tail = exp(log_privacy - log((double)n));
	double failure_tail = exp(-(double)eta * log(2.0) - log((double)n));

	for (uint32_t k = 2; k < n - 1 && k <= TLY_GRAPH_MAX_DEGREE; k += 2) {
		if (log_disconnect(n, k, bad) > log_privacy)
			continue;
		uint32_t t = threshold_for(n, k, corrupt, dropped, privacy_tail, failure_tail);
		if (t != 0) {
			*degree = (uint16_t)k;
			*threshold = (uint16_t)t;
			return TLY_OK;
		}
	}
	if (n > TLY_MAX_COMPLETE_PARTIES)
		return TLY_ERANGE;
	uint32_t t = threshold_for(n, n - 1, corrupt, dropped, privacy_tail, failure_tail);
	if (t == 0)
		return TLY_ERANGE;
	*degree = (uint16_t)(n - 1);
	*threshold = (uint16_t)t;
	return TLY_OK;
}
