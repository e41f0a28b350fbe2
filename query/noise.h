/*
 * noise.h - distributed differential-privacy noise for one query: each
 * contributor's share, calibrated so that the total carries at least the
 * target noise whenever at least h = min_honest contributors are honest,
 * and the public description of the noise in a released total.
 *
 * Mechanisms (messages.h, enum tly_mechanism):
 *   TLY_MECH_LAPLACE  epsilon-DP. Target: discrete Laplace with
 *                     alpha = exp(-epsilon / sensitivity_l1) per cell.
 *                     Share per cell: NB(1/h, alpha) - NB(1/h, alpha)
 *                     (tly_dp_laplace_share); any h shares sum to the target.
 *   TLY_MECH_SKELLAM  rho-zCDP. Target: Skellam(mu) = Poisson(mu) -
 *                     Poisson(mu) per cell (variance 2 mu), with mu the
 *                     smallest multiple of 1/TLY_NOISE_MU_GRID that meets the
 *                     Skellam RDP bound (Agarwal, Kairouz, Liu 2021, below)
 *                     for rho, sensitivity_l1 and sensitivity_l2sq; share
 *                     per cell: Skellam(mu/h) (tly_dp_skellam_share).
 *   TLY_MECH_NONE     no noise (tests and benchmarks; nodes refuse it).
 * The calibration is exact rational arithmetic: no floating point decides
 * a parameter or a sample. Floating point appears only in tly_noise_describe,
 * which reports variance and intervals.
 *
 * Skellam calibration. For an integer query with L1 sensitivity D1 and
 * squared L2 sensitivity D2 (= sensitivity_l2sq), adding Skellam(mu) noise
 * to every cell is (alpha, eps(alpha))-RDP for every alpha > 1 with
 *   eps(alpha) <= alpha D2/(4 mu)
 *                 + min(((2 alpha - 1) D2 + 6 D1)/(16 mu^2), 3 D1/(4 mu)),
 * which is the paper's RDP bound (its Theorem 3.5, as implemented in the
 * authors' accounting code) for noise of variance 2 mu: the paper's mu is
 * the variance. rho-zCDP means eps(alpha) <= rho alpha for
 * all alpha > 1; with u = 1/alpha in (0, 1) that is, after multiplying by
 * 16 mu^2,
 *   4 mu D2 + min(F(u), G(u)) <= 16 mu^2 rho   for all u in [0, 1],
 *   F(u) = 2 D2 + (6 D1 - D2) u,   G(u) = 12 D1 mu u.
 * min(F, G) is the minimum of two linear functions, so its largest value on
 * [0, 1] is at u = 0 (where it is 0), at u = 1 (alpha -> 1) or where F = G;
 * tly_noise_calibrate tests exactly those points in GMP integers, which is
 * the weakest condition the theorem allows (no slack is given away by
 * bounding the two branches separately). The left side falls as mu grows,
 * so a binary search finds the smallest grid point. docs/PRIVACY.md,
 * "Calibration", has the derivation and the numbers.
 *
 * Thread safety: no state; one struct tly_rng per thread.
 */
#ifndef TLY_NOISE_H
#define TLY_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "wire/codec.h"
#include "crypto/rng.h"

/* The Skellam target mu is a multiple of 1/TLY_NOISE_MU_GRID. */
enum { TLY_NOISE_MU_GRID = 1000 };

/* The per-cell share sampler's exact parameters for a query. Fractions are
 * in lowest terms. */
struct tly_noise_params {
	uint8_t mechanism;
	uint64_t h;       /* shares that make up the target */
	uint64_t scale_s; /* LAPLACE: alpha = exp(-scale_s / scale_t) */
	uint64_t scale_t;
	uint64_t mu_num; /* SKELLAM: target mu = mu_num / mu_den */
	uint64_t mu_den;
	uint64_t privacy_num; /* the guarantee: epsilon (LAPLACE) or rho */
	uint64_t privacy_den; /*   (SKELLAM) of the query; 0/0 for NONE */
};

/*
 * Calibrate from the query's mechanism, privacy parameter, sensitivities
 * and min_honest. LAPLACE: scale_s/scale_t = epsilon/sensitivity_l1 in
 * lowest terms. SKELLAM: the smallest mu on the grid (above). NONE: only
 * mechanism and h are set, the rest is 0.
 * TLY_EINVAL for an unknown mechanism, min_honest = 0, and, with noise,
 * privacy_num = 0, privacy_den = 0 or a sensitivity of 0 (sensitivity_l1
 * for LAPLACE, both for SKELLAM). TLY_ERANGE when the noise needed passes
 * the samplers' caps (dp.h): scale_t/scale_s > TLY_DP_POLYA_MAX_SCALE or
 * scale_t past 2^64; mu/h > TLY_DP_POISSON_MAX. *out is written only on
 * success.
 */
TLY_MUST tly_err tly_noise_calibrate(const struct tly_query *q, struct tly_noise_params *out);

/*
 * This contributor's input for the round: out[i] = encode(cells[i] + share_i)
 * in F_p, for the query's d cells, share_i drawn independently per cell.
 * TLY_EINVAL or TLY_ERANGE for params that tly_noise_calibrate would not
 * produce (checked before anything is drawn); TLY_ERANGE when a cell plus
 * its noise leaves the signed field range [-TLY_FIELD_HALF, TLY_FIELD_HALF].
 * On any failure all d elements of out are wiped to zeros. The noise values are wiped; out is the
 * caller's (a secret until shared). cells and out must not overlap. NULL
 * pointers (with d > 0) are misuse.
 * Cost (one core, -O2): about 0.4 us a cell for LAPLACE at epsilon/Delta = 1,
 * h = 3, growing about linearly with Delta/epsilon (3 us at 1/10); 0.2 us
 * for SKELLAM at rho = 1/2, D1 = D2 = 1, h = 3, growing with mu/h (3.5 us
 * at rho = 1/100). Almost all of it is in the crypto/dp.c samplers.
 */
TLY_MUST tly_err tly_noise_apply(struct tly_rng *rng, const struct tly_noise_params *params,
                                 const int64_t *cells, size_t d, uint64_t *out);

/* tly_noise_apply that can be abandoned: stop(arg) is asked before each
 * cell (and so between two cells at most one cell's work passes, which
 * tly_noise_work bounds), and a nonzero answer ends the draw with
 * TLY_ETIMEDOUT, out wiped as on any failure. stop NULL: never stops. */
TLY_MUST tly_err tly_noise_apply_until(struct tly_rng *rng, const struct tly_noise_params *params,
                                       const int64_t *cells, size_t d, uint64_t *out,
                                       int (*stop)(void *arg), void *arg);

/*
 * Cost: an upper bound on the expected work of drawing a query's noise, in
 * work units, one unit being one uniform draw of crypto/dp.c (a uniform
 * integer below a bound, or a Bernoulli; each takes fewer than two rng
 * words on average) or one turn of a sampler loop. Derived from the
 * samplers' algorithms (dp.h), every real rounded up, in integers only;
 * node and coordinator use this one function, so they agree on which
 * queries are too costly.
 *
 * Bounds used, with alpha = exp(-s/t), r = 1/h, x = ceil((s + t)/s):
 *  - 1/(1 - alpha) <= 1 + t/s <= x, because 1 - e^-y >= y/(1 + y);
 *  - Bernoulli(exp(-gamma)): fewer than 4 draws for any gamma (dp.h);
 *  - geometric: at most e tries of (1 uniform + at most e draws) for U,
 *    then 1/(1 - 1/e) calls of at most e draws for V: below
 *    TLY_NOISE_WORK_GEOMETRIC = 15 (Wald's identity);
 *  - LAPLACE (every h, h = 1 included: tly_noise_apply draws
 *    tly_dp_laplace_share): two NB(1/h, alpha) draws (tly_dp_polya).
 *    Proposals: (1 - alpha)^(r - 1) <= x^(1 - r) <= ceil(x / floor(x^r)).
 *    Each costs Bernoulli(alpha) (4), the first factor (1) and, with
 *    probability at most r, a geometric (ceil(15/h)); the product loop
 *    turns for factor j only while K > j and the factors before it all
 *    succeeded, so over a proposal it costs at most sum_j alpha^j w_j =
 *    (1 - alpha)^-r (the negative binomial series), and over all the
 *    proposals at most 1/(1 - alpha) <= x. Per NB draw: proposals
 *    (5 + ceil(15/h)) + x; per cell twice that;
 *  - SKELLAM: two Poisson(mu/h) draws of m = ceil(2 mu/h) parts each,
 *    each part at most 1/0.82 tries of at most 3 draws: below 4
 *    (TLY_NOISE_WORK_POISSON_PART); per cell 8 m;
 *  - every cell adds TLY_NOISE_WORK_CELL = 128 for what is not a draw
 *    (the rng's calls, the field encoding): measured, about 1.5 us a cell
 *    at the smallest scales; a NONE cell costs only that.
 * The query's work is cells times the cell's work, saturating at
 * UINT64_MAX. bench/bench_dp.c ("cost" rows) compares it with measured
 * time: 5 to 15 ns a unit from epsilon 1 to 10^-6 (1 ns for h = 1, whose
 * loop turns draw nothing; docs/SECURITY.md). At
 * epsilon = 10^-6, Delta = 1, h = 3 a cell costs 2,200,150 units (60,000
 * cells: 1.3 10^11, 30 minutes or more on one core).
 */
enum {
	TLY_NOISE_WORK_GEOMETRIC = 15,
	TLY_NOISE_WORK_POLYA_STEP = 5,
	TLY_NOISE_WORK_POISSON_PART = 4,
	TLY_NOISE_WORK_CELL = 128,
};

/* Default of the node's and the coordinator's max_query_work: about 5 to
 * 15 s of one core (at epsilon = 1, h = 3 every query up to TLY_MAX_CELLS;
 * at epsilon = 10^-6, h = 3: 454 cells). */
#define TLY_NOISE_DEFAULT_MAX_WORK UINT64_C(1000000000)

/* The work bound above for params (as tly_noise_calibrate makes them) and
 * `cells` cells. TLY_EINVAL or TLY_ERANGE for params that calibrate would
 * not produce. *out is written only on success. */
TLY_MUST tly_err tly_noise_work(const struct tly_noise_params *params, uint64_t cells,
                                uint64_t *out);

/* tly_noise_calibrate(q, params), then tly_noise_work(params, q->cells,
 * work): what a node and the coordinator check before a query is charged
 * or sent. Errors of the two. */
TLY_MUST tly_err tly_noise_cost(const struct tly_query *q, struct tly_noise_params *params,
                                uint64_t *work);
enum { TLY_NOISE_WHY_BYTES = 160 }; /* room for tly_noise_cost_why's words */
/* tly_noise_cost with the words a daemon puts to its refusal: on TLY_OK
 * *work is the query's work (the caller holds it to its max_query_work);
 * otherwise why, without prefix or advice (each daemon adds its own),
 * says "the noise this <epsilon|rho> needs passes the samplers' limits
 * (noise scale above TLY_DP_POLYA_MAX_SCALE, query/noise.h)" for
 * TLY_ERANGE, "the noise cannot be calibrated: <tly_strerror>" for any
 * other error. */
TLY_MUST tly_err tly_noise_cost_why(const struct tly_query *q, uint64_t *work, char *why,
                                    size_t why_len);

/*
 * What a release states about the noise in a total of `contributors`
 * shares. contributors >= h: a total of fewer than h shares carries less
 * than the target noise, nothing may be released from it, and describe
 * refuses it with TLY_EINVAL (so does contributors = 0). With more than h
 * shares the noise is larger than the target: variance, sd and
 * ci95_half_width describe that noise, while the privacy figures stay
 * those of the target (what holds with only h honest shares).
 */
struct tly_noise_info {
	double variance; /* of the total noise, closed form */
	double sd;
	int64_t ci95_half_width; /* smallest k with P(|noise| <= k) >= 0.95 */
	double target_variance;  /* the noise guaranteed with h honest shares */
	double dp_epsilon;       /* LAPLACE: epsilon, delta = 0. SKELLAM: */
	double dp_delta;         /*   (epsilon, delta)-DP implied by rho at delta =
	                          *   1e-6: CKS cdp2adp (query/budget.h),
	                          *   rounded up */
};

/*
 * Fill *out for params and contributors; NONE gives all zeros. TLY_EINVAL
 * for contributors = 0 or < h, or params that tly_noise_calibrate would not
 * produce (including privacy_den = 0 with noise); TLY_ERANGE or TLY_ENOMEM
 * when the quantile is out of dp_quantile.h's reach (LAPLACE with
 * contributors != h and scale_t/scale_s above about 2 10^4). *out is
 * written only on success.
 */
TLY_MUST tly_err tly_noise_describe(const struct tly_noise_params *params, uint64_t contributors,
                                    struct tly_noise_info *out);

#endif
