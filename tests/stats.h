/*
 * stats.h - goodness of fit for the statistical tests of samplers: a
 * histogram of integer draws, Pearson's chi-square against an exact pmf
 * (with the p-value from the regularised incomplete gamma function), and
 * the moments of a pmf for mean and variance checks.
 *
 * Linked into every test binary; no dependency beyond libm.
 */
#ifndef TLY_TESTS_STATS_H
#define TLY_TESTS_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Counts of draws in [lo, hi], and of those outside, with their moments. */
struct stats_hist {
	int64_t lo, hi;
	uint64_t *count; /* hi - lo + 1 bins */
	uint64_t outside;
	uint64_t total;
	long double sum, sum_sq;
};

/* Aborts on allocation failure (tests only). */
void stats_hist_init(struct stats_hist *h, int64_t lo, int64_t hi);
void stats_hist_fini(struct stats_hist *h);
void stats_hist_add(struct stats_hist *h, int64_t x);
double stats_hist_mean(const struct stats_hist *h);
double stats_hist_variance(const struct stats_hist *h); /* with 1/N */
/* Draws with |x| > k (k inside the window on both sides). */
uint64_t stats_hist_abs_above(const struct stats_hist *h, int64_t k);

/*
 * Pearson's chi-square of h against prob[i] = P(X = lo + i) on the same
 * window; the mass outside it, 1 - sum(prob), is one more bin. Adjacent
 * bins are pooled, left to right, until each expects at least 5 draws.
 * Returns the upper-tail p-value; *statistic and *dof when not NULL.
 */
double stats_chi2(const struct stats_hist *h, const double *prob, double *statistic, double *dof);

/* P(chi2(dof) > x) = Q(dof/2, x/2). */
double stats_chi2_sf(double x, double dof);

/* Mean, variance and fourth central moment of prob[i] = P(X = lo + i). */
void stats_moments(const double *prob, size_t len, int64_t lo, double *mean, double *variance,
                   double *fourth);

/*
 * Errors in standard errors, for the mean, variance and coverage checks
 * that follow a chi-square: |sample mean - mean| over sqrt(variance / N);
 * |sample variance - target| over sqrt((fourth - variance^2) / N), from the
 * pmf's variance and fourth central moment (stats_moments); and
 * |seen - p| over sqrt(p (1 - p) / n) for a proportion seen of n draws.
 */
double stats_mean_err(const struct stats_hist *h, double mean, double variance);
double stats_variance_err(const struct stats_hist *h, double target, double variance,
                          double fourth);
double stats_proportion_err(double seen, double p, double n);

#endif
