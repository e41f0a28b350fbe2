/*
 * rate.h - rates, prevalence and directly age-standardised rates from the
 * noisy cells of a rate or dsr query (query/spec.h), with intervals that
 * hold both the DP noise and the sampling error. docs/PRIVACY.md, "Rates
 * and standardised rates", derives them; in short:
 *
 * Cells. Per group (rate) or per ESP 2013 band (dsr), two noisy counts: N,
 * the rows in the numerator, and R, the other rows; the denominator is
 * D = N + R. Each row is in exactly one cell, so the noise is a count's.
 *
 * Point estimates. N and R clamped at 0 (a count is never negative, and
 * clamping both keeps N <= D); rate = per N / D. dsr = per sum_k w_k N_k /
 * D_k / sum_k w_k (OHID's phe_dsr), a band with D_k = 0 after noise
 * counting as rate 0 (the figure says how many there were).
 *
 * Intervals, of coverage >= level by a union bound. A share a = 1 - level
 * of failure is split in two halves. The noise half: each of the c cells
 * involved (2 for a rate, 38 for a dsr) is within its own half-width h
 * (P(|noise| <= h) >= 1 - a/(2c), an exact quantile of the released noise,
 * tly_rate_half_width) of the truth, so the true counts lie in the box
 * [N - h, N + h] x [R - h, R + h] (clamped at 0) with probability >= 1 -
 * a/2. The sampling half: the true counts are one draw of the population
 * (a binomial proportion per group or band), whose interval at 1 - a/2 is
 * Wilson's score interval for a rate (as OHID's phe_proportion) and
 * Dobson's for a dsr (Byar's limits for O = sum N_k, scaled by
 * sqrt(Var(DSR)/O), as phe_dsr), with z = Phi^-1(1 - a/4). Lower limits are
 * taken at the box's corner of the smallest rate (N low, R high), upper
 * ones at the largest (N high, R low); Wilson's limits grow with N and fall
 * with R, so for a rate this is the extreme of the box. For a dsr the
 * corner is the extreme of the rate, and of Dobson's limits wherever they
 * are monotone; the coverage is measured (tests/test_rate.c).
 *
 * Comparison of a group with a reference group: each at level 97.5%, so
 * the ratio [lo/ref_hi, hi/ref_lo] or difference [lo - ref_hi, hi -
 * ref_lo] covers with >= 95% (union bound).
 *
 * Floating point throughout: this is post-processing of released figures
 * and costs no privacy. Thread safety: no shared state.
 */
#ifndef TLY_RATE_H
#define TLY_RATE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "query/noise.h"
#include "query/spec.h"

enum tly_rate_level {
	TLY_RATE_LEVEL_95 = 0,  /* a figure's interval */
	TLY_RATE_LEVEL_975 = 1, /* each side of a comparison */
};

/* z of the sampling half: Phi^-1(1 - a/4), a = 1 - level; without noise
 * (mechanism none, tests) the sampling interval takes all of a:
 * Phi^-1(1 - a/2), so a noise-free dsr is exactly phe_dsr's. */
double tly_rate_z(int noisy, enum tly_rate_level level);

/* One group's figure; rates as fractions times per. */
struct tly_rate_figure {
	int has_value;                  /* 0: no one in the denominator after noise */
	double value, lo, hi;           /* lo <= value <= hi within [0, per] */
	int64_t numerator, denominator; /* the noisy parts, clamped at 0 */
	int64_t numerator_lo, numerator_hi, denominator_lo, denominator_hi; /* the noise box */
	size_t empty_bands; /* dsr: bands with D_k = 0 after noise */
};

/* Wilson's score limits for x events in n (0 <= x <= n, n > 0). */
double tly_rate_wilson_lower(double x, double n, double z);
double tly_rate_wilson_upper(double x, double n, double z);
/* Byar's limits for an observed Poisson count o >= 0 (lower 0 at o = 0). */
double tly_rate_byars_lower(double o, double z);
double tly_rate_byars_upper(double o, double z);

/* The noise half-width of one cell for an interval at `level` of a query
 * with `cells_per_figure` cells in each figure (2 for a rate, 38 for a
 * dsr): the smallest h with P(|noise| <= h) >= 1 - a / (2 cells), for the
 * total of `contributors` shares (dp_quantile.h). 0 without noise.
 * Errors of tly_dp_noise_quantile; TLY_EINVAL for contributors < h. */
TLY_MUST tly_err tly_rate_half_width(const struct tly_noise_params *noise, uint64_t contributors,
                                     size_t cells_per_figure, enum tly_rate_level level,
                                     int64_t *half_width);

/* A rate from cells[0] = N, cells[1] = R (noisy), half-width h >= 0. */
void tly_rate_crude(const int64_t cells[static 2], int64_t half_width, double z, uint32_t per,
                    struct tly_rate_figure *out);

/* A dsr (ESP 2013) from cells[2k] = N_k, cells[2k + 1] = R_k. */
void tly_rate_dsr(const int64_t cells[static 2 * TLY_ESP2013_BANDS], int64_t half_width, double z,
                  uint32_t per, struct tly_rate_figure *out);

/* A group's figure against the reference's (both at TLY_RATE_LEVEL_975):
 * 0 when there is no comparison (either has no value, or a ratio to a
 * reference of 0); *hi is INFINITY when a ratio's reference may be 0. */
int tly_rate_compare(const struct tly_rate_figure *group, const struct tly_rate_figure *ref,
                     enum tly_compare as, double *value, double *lo, double *hi);

#endif
