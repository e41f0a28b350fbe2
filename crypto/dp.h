/*
 * dp.h - exact, integer-only samplers of differential-privacy noise.
 *
 * Every sampler draws from the CSPRNG (rng.h) and decides each sample with
 * integer arithmetic only: uniform integers below an integer bound, and
 * comparisons. No floating-point value is computed on any path that decides
 * a sample (Mironov 2012 shows how rounding in floating-point Laplace noise
 * breaks the privacy guarantee). "Exact" below means: if the rng's words are
 * uniform and independent, the output has exactly the stated distribution,
 * with no truncation, rounding or approximation. Most samplers use
 * rejection: their running time is random but has the stated expected
 * value, and each loop ends with probability 1.
 *
 * The algorithms are those of Canonne, Kamath and Steinke, "The Discrete
 * Gaussian for Differential Privacy" (NeurIPS 2020), cited as [CKS20]:
 *   Algorithm 1 - Bernoulli(exp(-gamma)),
 *   Algorithm 2 - discrete Laplace (and, inside it, the geometric),
 *   Algorithm 3 - discrete Gaussian.
 * The distributed-noise shares follow the Polya (negative binomial)
 * decomposition of the discrete Laplace (Goryczka and Xiong 2015; Balle et
 * al. 2020) and the Skellam mechanism (Agarwal, Kairouz and Liu 2021).
 *
 * Parameters are rationals num/den of uint64_t. A zero denominator, a
 * parameter outside the stated domain or a malformed one gives TLY_EINVAL; a
 * well-formed parameter beyond the caps below (which bound memory, running
 * time and the int64_t range of the output) gives TLY_ERANGE. Outputs are
 * written only on success. A NULL rng or out pointer is misuse and aborts.
 * Large rationals are fine: products that do not fit 128 bits go through
 * GMP (only in the discrete Gaussian's acceptance test).
 *
 * Randomness: each call takes the rng's output 32 bytes at a time, uses
 * only the bits a small draw needs, and wipes what it leaves unused when it
 * returns. The same seeded rng and the same sequence of calls give the same
 * outputs.
 *
 * Secrets: a noise value is secret (knowing it undoes the protection). The
 * samplers wipe their random bits and the GMP integers they use; plain
 * integer locals live in registers and on the stack as in any C code (GMP's
 * own scratch space included). The running time of a rejection sampler
 * depends on the value it returns: an observer of a node's timing learns
 * something about its noise. Draw noise before, not while, exchanging
 * messages whose timing a peer can see.
 *
 * Thread safety: none of these functions has state of its own; give each
 * thread its own struct tly_rng.
 */
#ifndef TLY_DP_H
#define TLY_DP_H

#include <stdint.h>

#include "error.h"
#include "rng.h"

/*
 * Caps. TLY_DP_MAX_SCALE bounds t/s for the geometric and discrete Laplace
 * samplers: with t/s <= 2^40 a draw above INT64_MAX has probability below
 * exp(-2^22), and if it ever occurred the sampler would return TLY_ERANGE
 * rather than a wrong value. TLY_DP_POLYA_MAX_SCALE bounds t/s for the
 * negative binomial, whose rejection loop takes about (1 - alpha)^(r - 1) <=
 * t/s + 1 proposals. TLY_DP_POISSON_MAX bounds the Poisson mean, whose
 * sampler costs about 6 lambda uniform draws (about 0.15 s at the cap).
 * TLY_DP_MAX_SHARES bounds h, the number of shares a total is split into.
 */
#define TLY_DP_MAX_SCALE       (UINT64_C(1) << 40)
#define TLY_DP_POLYA_MAX_SCALE UINT64_C(1000000)
#define TLY_DP_POISSON_MAX     UINT64_C(1000000)
#define TLY_DP_MAX_SHARES      (UINT64_C(1) << 32)

/* Bernoulli(num/den): *out = 1 with probability num/den, else 0. One
 * uniform draw. TLY_EINVAL when den == 0 or num > den. */
TLY_MUST tly_err tly_dp_bernoulli(struct tly_rng *rng, uint64_t num, uint64_t den, int *out);

/*
 * Bernoulli(exp(-gamma)) for the rational gamma = num/den >= 0, [CKS20]
 * Algorithm 1: for gamma in [0, 1] the loop K = 1, 2, ... drawing
 * Bernoulli(gamma/K) until the first failure, 1 when K ends odd; for gamma
 * > 1, floor(gamma) draws of Bernoulli(exp(-1)) (stopping at the first 0)
 * and then one of Bernoulli(exp(-(gamma - floor(gamma)))). Expected uniform
 * draws: e^gamma <= e for gamma <= 1, fewer than 4 for any gamma. gamma = 0
 * gives 1 without a draw.
 * TLY_EINVAL when den == 0.
 */
TLY_MUST tly_err tly_dp_bernoulli_exp(struct tly_rng *rng, uint64_t num, uint64_t den, int *out);

/*
 * Geometric: P(*out = k) = (1 - alpha) alpha^k for k >= 0, with alpha =
 * exp(-s/t). The first half of [CKS20] Algorithm 2: X = U + t V with U
 * uniform on [0, t) accepted with probability exp(-U/t) and V ~
 * Geometric(exp(-1)) is Geometric(exp(-1/t)); floor(X / s) is the output.
 * Expected uniform draws: a constant (about 7) whatever s and t.
 * TLY_EINVAL when s == 0 or t == 0; TLY_ERANGE when t/s > TLY_DP_MAX_SCALE.
 */
TLY_MUST tly_err tly_dp_geometric(struct tly_rng *rng, uint64_t s, uint64_t t, uint64_t *out);

/*
 * Discrete Laplace with scale t/s: P(*out = x) = (1 - alpha)/(1 + alpha) *
 * alpha^|x|, alpha = exp(-s/t), on all integers x. [CKS20] Algorithm 2. For
 * epsilon-DP of a query of sensitivity Delta, s/t = epsilon/Delta.
 * Variance 2 alpha/(1 - alpha)^2. Errors as tly_dp_geometric.
 */
TLY_MUST tly_err tly_dp_laplace(struct tly_rng *rng, uint64_t s, uint64_t t, int64_t *out);

/*
 * Discrete Gaussian N_Z(0, sigma^2), sigma^2 = num/den: P(*out = x)
 * proportional to exp(-x^2 / (2 sigma^2)) on all integers x. [CKS20]
 * Algorithm 3: with t = floor(sigma) + 1, propose Y from the discrete
 * Laplace of scale t and accept with probability exp(-(|Y| - sigma^2/t)^2 /
 * (2 sigma^2)) (the exponent is an exact rational, in 128-bit integers when
 * it fits and GMP otherwise). Between 1.3 and 2.3 proposals are expected,
 * whatever sigma. Its variance is slightly below sigma^2: by a relative
 * 2 10^-7 at sigma = 1, and by less than 10^-16 from sigma^2 = 3 on
 * (tly_dp_noise_variance in dp_quantile.h).
 * TLY_EINVAL when num == 0 or den == 0.
 */
TLY_MUST tly_err tly_dp_gauss(struct tly_rng *rng, uint64_t num, uint64_t den, int64_t *out);

/*
 * Polya / negative binomial NB(r, alpha) with r = r_num/r_den in (0, 1] and
 * alpha = exp(-s/t), counting failures: P(*out = k) = Gamma(k + r) /
 * (Gamma(r) k!) (1 - alpha)^r alpha^k. Exact by rejection: propose K ~
 * Geometric(alpha) (tly_dp_geometric) and accept with probability
 * w_K = prod_{j<K} (r + j)/(j + 1), realised as independent
 * Bernoulli((r_num + j r_den)/(r_den (j + 1))) draws stopping at the first
 * failure; accepted K has pmf proportional to w_k alpha^k. The expected
 * number of proposals is (1 - alpha)^(r - 1), which is at most about t/s +
 * 1 (r = 1 is the geometric and needs one); a proposal rejected by its
 * first factor costs only two Bernoulli draws, because K >= 1 and that
 * factor are decided before the rest of K is drawn. Mean
 * r alpha/(1 - alpha), variance r alpha/(1 - alpha)^2.
 * TLY_EINVAL when r_num, r_den, s or t is 0 or r > 1; TLY_ERANGE when
 * t/s > TLY_DP_POLYA_MAX_SCALE.
 */
TLY_MUST tly_err tly_dp_polya(struct tly_rng *rng, uint64_t r_num, uint64_t r_den, uint64_t s,
                              uint64_t t, uint64_t *out);

/*
 * One share of distributed discrete Laplace noise: NB(1/h, alpha) -
 * NB(1/h, alpha), alpha = exp(-s/t). Negative binomials add in r, so the sum
 * of any h independent shares is exactly NB(1, alpha) - NB(1, alpha) =
 * Geometric - Geometric, the discrete Laplace of tly_dp_laplace with the
 * same s/t. With h = the minimum number of honest contributors and s/t =
 * epsilon/Delta, the honest shares alone give epsilon-DP; n >= h shares in
 * total give NB(n/h, alpha) - NB(n/h, alpha) (more noise), whose quantiles
 * and variance are in dp_quantile.h.
 * TLY_EINVAL when s, t or h is 0; TLY_ERANGE when t/s >
 * TLY_DP_POLYA_MAX_SCALE or h > TLY_DP_MAX_SHARES.
 */
TLY_MUST tly_err tly_dp_laplace_share(struct tly_rng *rng, uint64_t s, uint64_t t, uint64_t h,
                                      int64_t *out);

/*
 * Poisson(lambda), lambda = num/den in [0, TLY_DP_POISSON_MAX]. lambda is
 * split into m = ceil(2 lambda) equal parts lambda' = lambda/m <= 1/2, and
 * the output is the sum of m independent Poisson(lambda') draws, each by
 * rejection: propose K with P(K = k) = (1 - lambda') lambda'^k (the number of
 * Bernoulli(lambda') successes before the first failure), accept with
 * probability 1/K! as Bernoulli(1/j) for j = 2..K, stopping at the first
 * failure. At least 82% of proposals are accepted. Cost O(lambda): fewer
 * than 3 uniform draws expected per part, about 6 lambda in all.
 * TLY_EINVAL when den == 0; TLY_ERANGE when lambda > TLY_DP_POISSON_MAX.
 */
TLY_MUST tly_err tly_dp_poisson(struct tly_rng *rng, uint64_t num, uint64_t den, uint64_t *out);

/*
 * Skellam(mu) = Poisson(mu) - Poisson(mu), mu = num/den: symmetric,
 * variance 2 mu, the integer noise of the Skellam mechanism for zCDP.
 * Errors as tly_dp_poisson.
 */
TLY_MUST tly_err tly_dp_skellam(struct tly_rng *rng, uint64_t num, uint64_t den, int64_t *out);

/*
 * One share of distributed Skellam noise: Skellam(mu/h), mu = num/den.
 * Skellam distributions add in mu, so the sum of h independent shares is
 * exactly Skellam(mu) and the sum of n is Skellam(n mu/h).
 * TLY_EINVAL when den or h is 0; TLY_ERANGE when mu/h >
 * TLY_DP_POISSON_MAX, h > TLY_DP_MAX_SHARES, or mu/h in lowest terms has a
 * denominator above 2^64.
 */
TLY_MUST tly_err tly_dp_skellam_share(struct tly_rng *rng, uint64_t num, uint64_t den, uint64_t h,
                                      int64_t *out);

/*
 * One share of distributed discrete Gaussian noise: N_Z(0, sigma^2/h),
 * sigma^2 = num/den, sampled exactly as tly_dp_gauss. Unlike the two share
 * samplers above, the sum of h such shares is not exactly N_Z(0, sigma^2):
 * it is close (the pmfs differ pointwise by about h exp(-pi^2 sigma^2/h),
 * Kairouz, Liu and Steinke 2021), but the privacy accounting of a sum of
 * discrete Gaussians belongs to the protocol layer, not here. dp_quantile.h
 * gives the quantiles and variance of the actual total of n shares.
 * TLY_EINVAL when num, den or h is 0; TLY_ERANGE when h >
 * TLY_DP_MAX_SHARES or sigma^2/h in lowest terms has a denominator above
 * 2^64.
 */
TLY_MUST tly_err tly_dp_gauss_share(struct tly_rng *rng, uint64_t num, uint64_t den, uint64_t h,
                                    int64_t *out);

/*
 * One noise description for the protocol layer: which mechanism, its
 * parameter, and how the noise in a released total is made. The total is
 * the sum of `shares` independent shares, each drawn by the share sampler
 * of the mechanism with h = `honest`, so that any `honest` of them together
 * carry the target noise. honest = shares = 1 is the central mechanism
 * (tly_dp_laplace, tly_dp_gauss, tly_dp_skellam). dp_quantile.h reports on
 * the total; tly_dp_share draws one share.
 */
enum tly_dp_mechanism {
	TLY_DP_LAPLACE = 1, /* num/den = s/t (= epsilon/Delta): alpha = exp(-num/den) */
	TLY_DP_GAUSS,       /* num/den = sigma^2 of the target N_Z(0, sigma^2) */
	TLY_DP_SKELLAM,     /* num/den = mu of the target Skellam(mu) */
};

struct tly_dp_noise {
	enum tly_dp_mechanism mechanism;
	uint64_t num, den;
	uint64_t honest; /* h >= 1 */
	uint64_t shares; /* n >= 1: shares in the released total */
};

/* One share of noise->mechanism with h = noise->honest (noise->shares is
 * not used): tly_dp_laplace_share (tly_dp_laplace when h = 1),
 * tly_dp_gauss_share or tly_dp_skellam_share, with their errors;
 * TLY_EINVAL for an unknown mechanism. */
TLY_MUST tly_err tly_dp_share(struct tly_rng *rng, const struct tly_dp_noise *noise, int64_t *out);

#endif
