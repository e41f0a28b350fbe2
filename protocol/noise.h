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
 *   TLY_MECH_SKELLAM  rho-zCDP. Target: Skellam(mu) per cell with mu the
 *                     smallest value on a fixed rational grid that meets the
 *                     Skellam RDP bound (Agarwal, Kairouz, Liu 2021) for
 *                     rho, sensitivity_l1 and sensitivity_l2sq; share per
 *                     cell: Skellam(mu/h) (tly_dp_skellam_share).
 *   TLY_MECH_NONE     no noise (tests and benchmarks; nodes refuse it).
 * The calibration is exact rational arithmetic: no floating point decides
 * a parameter or a sample. Floating point appears only in tly_noise_describe,
 * which reports variance and intervals.
 */
#ifndef TLY_NOISE_H
#define TLY_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "crypto/rng.h"

/* The per-cell share sampler's exact parameters for a query. */
struct tly_noise_params {
	uint8_t mechanism;
	uint64_t h;          /* shares that make up the target */
	uint64_t scale_s;    /* LAPLACE: alpha = exp(-scale_s / scale_t) */
	uint64_t scale_t;
	uint64_t mu_num;     /* SKELLAM: target mu = mu_num / mu_den */
	uint64_t mu_den;
};

/* Calibrate from the query's mechanism, privacy parameter, sensitivities
 * and min_honest. TLY_EINVAL for a zero or malformed parameter; TLY_ERANGE
 * when the noise needed exceeds the samplers' caps (dp.h). */
TLY_MUST tly_err tly_noise_calibrate(const struct tly_query *q, struct tly_noise_params *out);

/*
 * This contributor's input for the round: out[i] = encode(cells[i] + share_i)
 * in F_p, for the query's d cells, share_i drawn independently per cell.
 * TLY_ERANGE when a cell plus its noise leaves the signed field range.
 * The noise values are wiped; out is the caller's (a secret until shared).
 */
TLY_MUST tly_err tly_noise_apply(struct tly_rng *rng, const struct tly_noise_params *params,
    const int64_t *cells, size_t d, uint64_t *out);

/* What a release states about the noise in a total of `contributors`
 * shares (contributors >= h: more noise than the target). */
struct tly_noise_info {
	double variance;         /* exact where a closed form exists */
	double sd;
	int64_t ci95_half_width; /* smallest k with P(|noise| <= k) >= 0.95 */
	double target_variance;  /* the noise guaranteed with h honest shares */
	double dp_epsilon;       /* SKELLAM: (epsilon, delta)-DP implied by rho at */
	double dp_delta;         /*   delta = 1e-6: eps = rho + 2 sqrt(rho ln(1/delta)) */
};

TLY_MUST tly_err tly_noise_describe(const struct tly_noise_params *params, uint64_t contributors,
    struct tly_noise_info *out);

#endif
