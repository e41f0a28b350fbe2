/*
 * graph.h - who masks with whom in pairwise masking: the complete graph of
 * SecAgg (Bonawitz et al., CCS'17) or the random Harary graph of SecAgg+
 * (Bell et al., "Secure Single-Server Aggregation with (Poly)Logarithmic
 * Overhead", CCS'20), and the degree k and Shamir threshold t that make
 * SecAgg+ private and correct with stated probabilities.
 *
 * The graph. Nodes are the query's participants (sorted ids). When the
 * degree k is at least n - 1 the graph is complete. Otherwise k is even and
 * the graph is the Harary graph H(k, n) on a ring whose order is a
 * pseudo-random permutation of the participants: each node is joined to
 * the k/2 nodes before it and the k/2 after it on the ring. The
 * permutation is derived from the query id alone, so every party computes
 * the same graph without talking:
 *
 *   prg  = tly_prg (AES-128-CTR) with seed TLY_GRAPH_SEED (a public
 *          constant: the permutation is public, only its independence from
 *          the inputs matters), purpose "harary-permutation", session
 *          query_id || be32(n), length 16 (n - 1) bytes;
 *   ring = [0, 1, ..., n - 1]; for i = n - 1 down to 1: r = the next 16
 *          keystream bytes as a big-endian 128-bit integer, j = r mod
 *          (i + 1), swap ring[i] and ring[j]   (Fisher-Yates);
 *   ring[p] is the index (into the sorted ids) of the node at position p.
 * The modulo bias of each draw is below n / 2^128; the permutation is
 * within statistical distance 2^-100 of uniform for any n here.
 *
 * A uniformly random permutation makes each node's k neighbours a uniform
 * k-subset of the other n - 1 nodes, which is what the parameter analysis
 * below assumes.
 *
 * Parameters (tly_graph_params). Let n be the number of participants, a
 * fraction gamma of them corrupt (colluding with the coordinator) and a
 * fraction delta dropping out over the whole query. Bounds are worst case:
 *   A = min(n - 1, ceil(gamma n))  corrupt clients, none the node itself;
 *   D = min(n - 1, ceil(delta n))  dropouts, none the node itself;
 *   B = min(n, A + D)              clients that are corrupt or gone.
 * For each even k = 2, 4, ... below n - 1 (and at most TLY_GRAPH_MAX_DEGREE)
 * the first k that passes all three tests is chosen:
 *   (1) Connectivity (privacy): the surviving honest nodes stay connected,
 *       else the coordinator learns the sums of the components. Cutting
 *       H(k, n) takes k/2 consecutive removed nodes at two places on the
 *       ring; with B removed nodes placed at random, a union bound over the
 *       n (n - k - 1) / 2 pairs of places gives
 *         P1 <= n (n - k - 1) / 2 * C(B, k) / C(n, k)   (0 when k > B),
 *       and we require P1 <= 2^-(sigma + 1).
 *   (2) Corrupt neighbours (privacy): X ~ Hypergeometric(n - 1, A, k), and
 *       a is the smallest integer with P(X > a) <= 2^-(sigma + 1) / n, so
 *       that by a union bound no node has more than a corrupt neighbours
 *       except with probability 2^-(sigma + 1). The threshold is
 *         t = max(2, floor((a + k) / 2) + 1),  i.e. the least t with 2t > a + k.
 *       Then t > a: the coordinator with a node's corrupt neighbours never
 *       holds t shares of one of its secrets. And 2t > k + a defeats the
 *       malicious coordinator's split view: to learn both the self-mask
 *       seed b_u and the mask key s_u of a node it needs t shares of each
 *       from u's k neighbours, and each honest neighbour reveals only one
 *       kind, so it would need t + t <= (k - a) + 2a. (For the complete
 *       graph this is the t > (n + n_C) / 2 of the malicious setting.)
 *   (3) Dropped neighbours (correctness): Y ~ Hypergeometric(n - 1, D, k),
 *       b the smallest integer with P(Y > b) <= 2^-eta / n; we require
 *       t <= k - b, so that every node keeps t live neighbours to recover
 *       its secrets except with probability 2^-eta.
 * Privacy then fails with probability at most 2^-sigma and the query
 * completes with probability at least 1 - 2^-eta. This is Bell et al.'s
 * argument for the random Harary graph, with the concrete bounds and the
 * "semi-malicious" threshold of Google's open-source SecAgg parameter
 * finder (fcp/secagg/server/graph_parameter_finder.cc), except that the
 * counts A and D are rounded up and the populations exclude the node
 * itself (both more conservative). Since a ~ gamma k and b ~ delta k for
 * large k, a feasible k exists only when gamma + 2 delta <
 * 1, and then k = O(log n + sigma) (the tails are Chernoff-bounded).
 * When no even k < n - 1 passes, the complete graph is used: k = n - 1,
 * a = A and b = D exactly (every node is everyone's neighbour), t as in
 * (2), and t <= n - 1 - D is required.
 *
 * The floating point here (lgamma, exp) only chooses public parameters that
 * the coordinator writes into the QUERY; no party recomputes them, and no
 * secret or noise value depends on it.
 *
 * Ownership: a struct tly_graph owns its arrays (tly_graph_fini).
 * Thread safety: no global state; a graph is read-only after init.
 */
#ifndef TLY_GRAPH_H
#define TLY_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "wire/messages.h"

enum {
	TLY_GRAPH_MAX_DEGREE = 1024,      /* largest sparse degree tried */
	TLY_GRAPH_PARAMS_MAX_N = 1000000, /* largest n tly_graph_params takes */
	TLY_GRAPH_MAX_SIGMA = 256,        /* security parameter cap, bits */
};

/* The public seed of the ring permutation's PRG (32 bytes). */
#define TLY_GRAPH_SEED "tally/graph/harary-permutation/1"

struct tly_graph {
	uint32_t count;  /* n participants */
	uint32_t degree; /* k neighbours per node; n - 1 when complete */
	int complete;
	uint32_t *ids;  /* the participants, strictly increasing */
	uint32_t *pos;  /* pos[i]: ring position of ids[i] (Harary only) */
	uint32_t *ring; /* ring[p]: index into ids of the node at p (Harary only) */
};

/*
 * Build the graph of a query: participants ids[0..count) (strictly
 * increasing, 1 <= count <= TLY_MAX_PARTIES), degree k. k >= count - 1
 * gives the complete graph (degree is then stored as count - 1); otherwise
 * k must be even and >= 2. TLY_EINVAL for a broken rule (g untouched);
 * TLY_ENOMEM; TLY_ECRYPTO if the PRG fails. On success g owns copies.
 */
TLY_MUST tly_err tly_graph_init(struct tly_graph *g,
                                const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                const uint32_t *ids, uint32_t count, uint32_t degree);

/* Free the arrays. Accepts a zeroed struct. */
void tly_graph_fini(struct tly_graph *g);

/* Index of id among the participants, or -1. O(log n). */
long tly_graph_index(const struct tly_graph *g, uint32_t id);

/* Nonzero when a and b are two distinct participants joined by an edge.
 * O(log n). */
int tly_graph_adjacent(const struct tly_graph *g, uint32_t a, uint32_t b);

/*
 * The neighbours of participant id, in increasing order: out (room for
 * g->degree ids) and *count (= g->degree) are written. TLY_EINVAL when id
 * is not a participant.
 */
TLY_MUST tly_err tly_graph_neighbours(const struct tly_graph *g, uint32_t id, uint32_t *out,
                                      uint32_t *count);

/*
 * The degree k and threshold t (above) for n participants, security
 * parameter sigma (privacy fails with probability <= 2^-sigma), correctness
 * parameter eta (the query fails with probability <= 2^-eta), a fraction
 * dropout_rate of dropouts and corrupt_fraction of corrupt clients. Written
 * only on success; *degree is n - 1 for the complete graph.
 * TLY_EINVAL unless 3 <= n <= TLY_GRAPH_PARAMS_MAX_N, 1 <= sigma <=
 * TLY_GRAPH_MAX_SIGMA, 1 <= eta <= TLY_GRAPH_MAX_SIGMA, both rates in [0, 1).
 * TLY_ERANGE when no graph meets the targets (always when
 * corrupt_fraction + 2 dropout_rate >= 1), or only the complete graph does
 * and n > TLY_MAX_COMPLETE_PARTIES (messages.h).
 */
TLY_MUST tly_err tly_graph_params(uint32_t n, unsigned sigma, unsigned eta, double dropout_rate,
                                  double corrupt_fraction, uint16_t *degree, uint16_t *threshold);

#endif
