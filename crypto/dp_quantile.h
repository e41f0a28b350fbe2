/*
 * dp_quantile.h - what a release reports about its noise: the variance and
 * the quantiles of the total noise described by a struct tly_dp_noise
 * (dp.h), i.e. the sum of noise->shares independent shares drawn with h =
 * noise->honest:
 *
 *   LAPLACE  NB(n/h, alpha) - NB(n/h, alpha), alpha = exp(-num/den); for
 *            n = h exactly the discrete Laplace, P(|X| >= k) =
 *            2 alpha^k / (1 + alpha) for k >= 1, variance 2 alpha/(1-alpha)^2.
 *            Variance 2 (n/h) alpha/(1 - alpha)^2 in general.
 *   GAUSS    the n-fold convolution of N_Z(0, sigma^2/h), sigma^2 = num/den.
 *            Variance n Var(N_Z(0, sigma^2/h)).
 *   SKELLAM  Skellam(n mu/h), mu = num/den. Variance 2 n mu/h.
 *
 * Nothing here is on a sampling path, so it computes in floating point
 * (long double where it matters): the pmf of the total on a window of
 * integers outside of which its mass is below 10^-30, built from ratios of
 * consecutive probabilities (no lgamma, no cancellation) and convolutions
 * of positive terms, with tails summed from the smallest term up.
 *
 * Quantile: the smallest integer k >= 0 with P(|X| <= k) >= q, for q =
 * q_num/q_den in (0, 1); so [-k, k] is a central interval with coverage at
 * least q (95% for q = 95/100). It is computed as the smallest k with
 * P(|X| > k) <= 1 - q; the tail masses are accurate to a relative 10^-12 or
 * better, so k is the exact answer unless the true P(|X| > k) or P(|X| >
 * k - 1) lies within that of 1 - q. The discrete Laplace (n = h) uses the
 * closed form; a GAUSS total with sigma^2/h >= 8 and n > 1 uses the pmf of
 * N_Z(0, n sigma^2/h), which differs from the exact convolution by less than
 * 10^-30 per point (the difference is of order n exp(-pi^2 sigma^2/h),
 * Kairouz, Liu and Steinke 2021).
 *
 * Variance: exact formulas, returned as double; for GAUSS a sum of the pmf
 * when sigma^2/h < 16 and sigma^2/h itself above (they differ by about
 * 8 pi^2 sigma^4 exp(-2 pi^2 sigma^2), below 10^-130 relative there).
 *
 * Errors: TLY_EINVAL for an unknown mechanism, honest or shares = 0, a zero
 * denominator, num = 0 for LAPLACE and GAUSS, or q outside (0, 1) (q_num =
 * 0 or q_num >= q_den). TLY_ERANGE when the work would pass the caps that
 * keep a call under about a second and 32 MiB: for LAPLACE num/den <
 * 2^-40, or n != h with a window above 2^21 points (about den/num >
 * 2 10^4 for small n/h); for GAUSS a variance of the total above 2^40, or,
 * when sigma^2/h < 8, a total wider than 2^15 points (n sigma^2/h above
 * about 6 10^5); for SKELLAM n mu/h above about 6 10^9. TLY_ENOMEM when
 * an allocation fails. Outputs are written only on success; a NULL pointer
 * is misuse.
 *
 * Thread safety: no state; safe to call from any thread.
 */
#ifndef TLY_DP_QUANTILE_H
#define TLY_DP_QUANTILE_H

#include <stdint.h>

#include "dp.h"
#include "error.h"

TLY_MUST tly_err tly_dp_noise_quantile(const struct tly_dp_noise *noise, uint64_t q_num,
                                       uint64_t q_den, uint64_t *k);

TLY_MUST tly_err tly_dp_noise_variance(const struct tly_dp_noise *noise, double *variance);

/* Variance of NB(r, alpha) (tly_dp_polya), r = r_num/r_den > 0, alpha =
 * exp(-s/t): r alpha/(1 - alpha)^2. TLY_EINVAL when any argument is 0. */
TLY_MUST tly_err tly_dp_polya_variance(uint64_t r_num, uint64_t r_den, uint64_t s, uint64_t t,
                                       double *variance);

#endif
