/* The statistics of an empirical DP audit: see dpaudit.h. */
#include "dpaudit.h"

#include <math.h>

enum { BETA_MAX_TERMS = 1000000, QUANTILE_MAX_STEPS = 2000 };

/* The continued fraction of I_x(a, b) (modified Lentz), for x below
 * (a + 1)/(a + b + 2), where it converges in O(sqrt(max(a, b))) terms. */
static double
beta_fraction(double a, double b, double x)
{
	const double tiny = 1e-300, eps = 1e-16;
	double c = 1, d = 1 - (a + b) * x / (a + 1), h;

	d = 1 / (fabs(d) < tiny ? tiny : d);
	h = d;
	for (int m = 1; m <= BETA_MAX_TERMS; m++) {
		double dm = m, step;
		double even = dm * (b - dm) * x / ((a - 1 + 2 * dm) * (a + 2 * dm));
		double odd = -(a + dm) * (a + b + dm) * x / ((a + 2 * dm) * (a + 1 + 2 * dm));

		d = 1 + even * d;
		c = 1 + even / c;
		d = 1 / (fabs(d) < tiny ? tiny : d);
		c = fabs(c) < tiny ? tiny : c;
		h *= d * c;
		d = 1 + odd * d;
		c = 1 + odd / c;
		d = 1 / (fabs(d) < tiny ? tiny : d);
		c = fabs(c) < tiny ? tiny : c;
		step = d * c;
		h *= step;
		if (fabs(step - 1) < eps)
			break;
	}
	return h;
}

/* Stirling's error, lgamma(z + 1) - ((z + 1/2) ln z - z + ln(2 pi)/2):
 * directly for small z, by its asymptotic series from 15 on (Loader 2000,
 * "Fast and accurate computation of binomial probabilities"). */
static double
stirling_error(double z)
{
	const double half_log_2pi = 0.918938533204672741780329736406;
	double r, r2;

	if (z < 15)
		return lgamma(z + 1) - (z + 0.5) * log(z) + z - half_log_2pi;
	r = 1 / z;
	r2 = r * r;
	return r *
	       (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188))));
}

/* Loader's deviance term x ln(x / m) + m - x, without cancellation when x
 * is near m. */
static double
deviance(double x, double m)
{
	if (fabs(x - m) < 0.1 * (x + m)) {
		double v = (x - m) / (x + m), sum = (x - m) * v, term = 2 * x * v;
		for (int j = 1; j < 1000; j++) {
			double next;
			term *= v * v;
			next = sum + term / (2 * j + 1);
			if (next == sum)
				break;
			sum = next;
		}
		return sum;
	}
	return x * log(x / m) + m - x;
}

/* x^a (1 - x)^b / B(a, b), in Loader's form: every large term cancelled
 * analytically, so it keeps nearly full precision for a, b up to 10^8
 * (lgamma(a + b) - lgamma(a) - lgamma(b) would lose 8 digits there). */
static double
beta_front(double a, double b, double x)
{
	const double two_pi = 6.283185307179586476925286766559;
	double n = a + b;
	double log_front = -deviance(a, n * x) - deviance(b, n * (1 - x)) + stirling_error(n) -
	                   stirling_error(a) - stirling_error(b);

	return a * b / n * sqrt(n / (two_pi * a * b)) * exp(log_front);
}

double
tly_dpaudit_beta_cdf(double a, double b, double x)
{
	if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1))
		return NAN;
	if (x == 0 || x == 1)
		return x;
	if (x < (a + 1) / (a + b + 2))
		return beta_front(a, b, x) * beta_fraction(a, b, x) / a;
	return 1 - beta_front(a, b, x) * beta_fraction(b, a, 1 - x) / b;
}

double
tly_dpaudit_beta_quantile(double a, double b, double p)
{
	double lo = 0, hi = 1;

	if (!(a > 0) || !(b > 0) || !(p >= 0) || !(p <= 1))
		return NAN;
	if (p == 0 || p == 1)
		return p;
	for (int i = 0; i < QUANTILE_MAX_STEPS && hi - lo > 1e-15 * hi; i++) {
		double mid = lo + (hi - lo) / 2;
		if (mid <= lo || mid >= hi)
			break;
		if (tly_dpaudit_beta_cdf(a, b, mid) < p)
			lo = mid;
		else
			hi = mid;
	}
	return lo + (hi - lo) / 2;
}

double
tly_dpaudit_cp_lower(uint64_t k, uint64_t n, double level)
{
	if (k == 0 || k > n)
		return k == 0 ? 0 : NAN;
	return tly_dpaudit_beta_quantile((double)k, (double)(n - k + 1), 1 - level);
}

double
tly_dpaudit_cp_upper(uint64_t k, uint64_t n, double level)
{
	if (k >= n)
		return k == n ? 1 : NAN;
	return tly_dpaudit_beta_quantile((double)(k + 1), (double)(n - k), level);
}

double
tly_dpaudit_epsilon_lb(uint64_t k_p, uint64_t k_q, uint64_t n, double delta, double level)
{
	double p_lo = tly_dpaudit_cp_lower(k_p, n, level) - delta;
	double q_hi = tly_dpaudit_cp_upper(k_q, n, level);

	if (!(p_lo > 0) || !(q_hi > 0))
		return 0;
	return fmax(0, log(p_lo / q_hi));
}

double
tly_dpaudit_epsilon_hat(uint64_t k_p, uint64_t k_q, uint64_t n, double delta)
{
	double p = (double)k_p / (double)n - delta, q = (double)k_q / (double)n;

	if (!(p > 0))
		return -INFINITY;
	return q > 0 ? log(p / q) : INFINITY;
}

/* ---- choosing the event on the first half ---- */

/* z with Phi(z) = level, by bisection on erfc (level in [0.5, 1)). */
static double
normal_quantile(double level)
{
	double lo = 0, hi = 40;

	for (int i = 0; i < 200; i++) {
		double mid = (lo + hi) / 2;
		if (0.5 * erfc(-mid / sqrt(2)) < level)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

/* Wilson's score bound on k/n at z: side -1 lower, +1 upper. */
static double
wilson(uint64_t k, uint64_t n, double z, int side)
{
	double dn = (double)n, p = (double)k / dn, z2 = z * z;
	double centre = p + z2 / (2 * dn);
	double spread = z * sqrt(p * (1 - p) / dn + z2 / (4 * dn * dn));

	return (centre + side * spread) / (1 + z2 / dn);
}

/* The selection score of counts k_p, k_q of n: the approximate bound. */
static double
score(uint64_t k_p, uint64_t k_q, uint64_t n, double delta, double z)
{
	double p_lo = wilson(k_p, n, z, -1) - delta, q_hi = wilson(k_q, n, z, 1);

	return p_lo > 0 && q_hi > 0 ? log(p_lo / q_hi) : -INFINITY;
}

struct pick {
	struct tly_dpaudit_event event;
	double best;
	int found;
};

/* Consider event e with counts k[0] under D and k[1] under D', both ways. */
static void
consider(struct pick *pick, struct tly_dpaudit_event e, const uint64_t k[2], uint64_t n,
         double delta, double z)
{
	for (int numerator = 0; numerator < 2; numerator++) {
		double s = score(k[numerator], k[1 - numerator], n, delta, z);
		if (!pick->found || s > pick->best) {
			e.numerator = numerator;
			pick->event = e;
			pick->best = s;
			pick->found = 1;
		}
	}
}

tly_err
tly_dpaudit_choose(const struct tly_dpaudit_draws *draws, double delta, double level,
                   struct tly_dpaudit_event *out)
{
	const size_t m = draws->value_count;
	const uint64_t n = draws->n[0];
	struct pick pick = {.found = 0};
	uint64_t below[2] = {0, 0}, total[2] = {0, 0};
	/* Bonferroni over the 4 m + 2 extra candidates scored: without it the
	 * best of many scores favours a rare event that looks good by chance
	 * on the first half and falls back on the second. */
	double candidates = 4.0 * (double)m + 2.0 * (double)draws->extra_count;
	double z = normal_quantile(1 - (1 - level) / candidates);

	if (n == 0 || m == 0 || draws->extra_count > TLY_DPAUDIT_EXTRA_MAX)
		return TLY_EINVAL;
	for (size_t i = 0; i < m; i++)
		for (int s = 0; s < 2; s++)
			total[s] += draws->count[0][s][i];
	for (size_t i = 0; i < m; i++) {
		uint64_t at_least[2], at_most[2];
		for (int s = 0; s < 2; s++) {
			at_least[s] = total[s] - below[s];
			below[s] += draws->count[0][s][i];
			at_most[s] = below[s];
		}
		consider(&pick,
		         (struct tly_dpaudit_event){TLY_DPAUDIT_AT_LEAST, draws->values[i], 0, 0},
		         at_least, n, delta, z);
		consider(&pick,
		         (struct tly_dpaudit_event){TLY_DPAUDIT_AT_MOST, draws->values[i], 0, 0},
		         at_most, n, delta, z);
	}
	for (size_t e = 0; e < draws->extra_count; e++)
		consider(&pick, (struct tly_dpaudit_event){TLY_DPAUDIT_EXTRA, 0, e, 0},
		         draws->extra[e][0], n, delta, z);
	*out = pick.event;
	return TLY_OK;
}

/* ---- evaluating it on the held-out half ---- */

tly_err
tly_dpaudit_evaluate(const struct tly_dpaudit_draws *draws, const struct tly_dpaudit_event *event,
                     double delta, double level, struct tly_dpaudit_finding *out)
{
	uint64_t k[2] = {0, 0}, n = draws->n[1];

	if (n == 0 || (event->kind == TLY_DPAUDIT_EXTRA && event->extra >= draws->extra_count) ||
	    event->numerator < 0 || event->numerator > 1)
		return TLY_EINVAL;
	for (int s = 0; s < 2; s++) {
		if (event->kind == TLY_DPAUDIT_EXTRA) {
			k[s] = draws->extra[event->extra][1][s];
			continue;
		}
		for (size_t i = 0; i < draws->value_count; i++) {
			double v = draws->values[i];
			int in = event->kind == TLY_DPAUDIT_AT_LEAST ? v >= event->threshold
			                                             : v <= event->threshold;
			if (in)
				k[s] += draws->count[1][s][i];
		}
	}
	out->n = n;
	out->k_p = k[event->numerator];
	out->k_q = k[1 - event->numerator];
	out->epsilon_hat = tly_dpaudit_epsilon_hat(out->k_p, out->k_q, n, delta);
	out->epsilon_lb = tly_dpaudit_epsilon_lb(out->k_p, out->k_q, n, delta, level);
	return TLY_OK;
}
