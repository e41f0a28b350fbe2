#include "stats.h"

#include <math.h>
#include <stdlib.h>

enum { MIN_EXPECTED = 5 };

void
stats_hist_init(struct stats_hist *h, int64_t lo, int64_t hi)
{
	h->lo = lo;
	h->hi = hi;
	h->count = calloc((size_t)(hi - lo + 1), sizeof *h->count);
	if (h->count == NULL)
		abort();
	h->outside = 0;
	h->total = 0;
	h->sum = 0;
	h->sum_sq = 0;
}

void
stats_hist_fini(struct stats_hist *h)
{
	free(h->count);
	h->count = NULL;
}

void
stats_hist_add(struct stats_hist *h, int64_t x)
{
	if (x >= h->lo && x <= h->hi)
		h->count[x - h->lo]++;
	else
		h->outside++;
	h->total++;
	h->sum += (long double)x;
	h->sum_sq += (long double)x * (long double)x;
}

double
stats_hist_mean(const struct stats_hist *h)
{
	return (double)(h->sum / (long double)h->total);
}

double
stats_hist_variance(const struct stats_hist *h)
{
	long double mean = h->sum / (long double)h->total;
	return (double)(h->sum_sq / (long double)h->total - mean * mean);
}

uint64_t
stats_hist_abs_above(const struct stats_hist *h, int64_t k)
{
	uint64_t inside = 0;

	for (int64_t x = -k; x <= k; x++)
		if (x >= h->lo && x <= h->hi)
			inside += h->count[x - h->lo];
	return h->total - inside;
}

double
stats_chi2(const struct stats_hist *h, const double *prob, double *statistic, double *dof)
{
	size_t bins = (size_t)(h->hi - h->lo + 1);
	double n = (double)h->total, chi2 = 0, mass = 0;
	double pending_obs = 0, pending_exp = 0, last_obs = 0, last_exp = 0;
	size_t groups = 0;

	for (size_t i = 0; i < bins; i++)
		mass += prob[i];
	for (size_t i = 0; i <= bins; i++) {
		/* Bin `bins` is the mass outside the window. */
		double expected = i < bins ? n * prob[i] : n * fmax(0, 1 - mass);
		pending_obs += (double)(i < bins ? h->count[i] : h->outside);
		pending_exp += expected;
		if (pending_exp >= MIN_EXPECTED) {
			if (groups > 0)
				chi2 += (last_obs - last_exp) * (last_obs - last_exp) / last_exp;
			last_obs = pending_obs;
			last_exp = pending_exp;
			pending_obs = pending_exp = 0;
			groups++;
		}
	}
	/* What is left over joins the last group. */
	last_obs += pending_obs;
	last_exp += pending_exp;
	if (groups == 0)
		groups = 1;
	if (last_exp > 0)
		chi2 += (last_obs - last_exp) * (last_obs - last_exp) / last_exp;
	else if (last_obs > 0)
		chi2 = INFINITY;
	double df = (double)groups - 1;
	if (statistic != NULL)
		*statistic = chi2;
	if (dof != NULL)
		*dof = df;
	return df > 0 ? stats_chi2_sf(chi2, df) : (chi2 > 0 ? 0 : 1);
}

/* Regularised lower gamma P(a, x) by its series, for x < a + 1. */
static double
gamma_p_series(double a, double x)
{
	double term = 1 / a, sum = term;

	for (int n = 1; n < 100000; n++) {
		term *= x / (a + n);
		sum += term;
		if (fabs(term) < fabs(sum) * 1e-17)
			break;
	}
	return sum * exp(-x + a * log(x) - lgamma(a));
}

/* Regularised upper gamma Q(a, x) by its continued fraction (modified
 * Lentz), for x >= a + 1. */
static double
gamma_q_fraction(double a, double x)
{
	const double tiny = 1e-300;
	double b = x + 1 - a, c = 1 / tiny, d = 1 / b, f = d;

	for (int i = 1; i < 100000; i++) {
		double an = -i * (i - a);
		b += 2;
		d = an * d + b;
		if (fabs(d) < tiny)
			d = tiny;
		c = b + an / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1 / d;
		double delta = d * c;
		f *= delta;
		if (fabs(delta - 1) < 1e-16)
			break;
	}
	return exp(-x + a * log(x) - lgamma(a)) * f;
}

double
stats_chi2_sf(double x, double dof)
{
	double a = dof / 2, half = x / 2;

	if (x <= 0)
		return 1;
	if (isinf(x))
		return 0;
	if (half < a + 1)
		return 1 - gamma_p_series(a, half);
	return gamma_q_fraction(a, half);
}

void
stats_moments(const double *prob, size_t len, int64_t lo, double *mean, double *variance,
              double *fourth)
{
	long double m = 0, v = 0, f = 0;

	for (size_t i = 0; i < len; i++)
		m += (long double)prob[i] * (long double)(lo + (int64_t)i);
	for (size_t i = 0; i < len; i++) {
		long double d = (long double)(lo + (int64_t)i) - m;
		v += (long double)prob[i] * d * d;
		f += (long double)prob[i] * d * d * d * d;
	}
	*mean = (double)m;
	*variance = (double)v;
	*fourth = (double)f;
}

double
stats_mean_err(const struct stats_hist *h, double mean, double variance)
{
	return fabs(stats_hist_mean(h) - mean) / sqrt(variance / (double)h->total);
}

double
stats_variance_err(const struct stats_hist *h, double target, double variance, double fourth)
{
	double se = sqrt((fourth - variance * variance) / (double)h->total);

	return fabs(stats_hist_variance(h) - target) / se;
}

double
stats_proportion_err(double seen, double p, double n)
{
	return fabs(seen - p) / sqrt(p * (1 - p) / n);
}
