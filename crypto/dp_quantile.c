#include "dp_quantile.h"

#include <math.h>
#include <stdlib.h>

/*
 * Windows: a pmf is kept where its weight, relative to the mode's, is at
 * least NEGLIGIBLE; every family here decays at least geometrically beyond
 * that, so the mass left out is below 10^-30.
 */
#define NEGLIGIBLE     1e-40L
#define NEGLIGIBLE_LOG 92.1L /* -log(NEGLIGIBLE) */

enum {
	MAX_WINDOW = 1 << 21,      /* points of a one-sided pmf (two double arrays) */
	MAX_CONVOLUTION = 1 << 15, /* points of a convolved Gaussian total */
};

/* A GAUSS total of shares with sigma^2/h at least this is taken as one
 * N_Z(0, n sigma^2/h); a variance at least GAUSS_PLAIN_VARIANCE is reported
 * as sigma^2. */
#define GAUSS_SHORTCUT       8.0L
#define GAUSS_PLAIN_VARIANCE 16.0L
#define GAUSS_MAX_VARIANCE   1099511627776.0L /* 2^40 */

__extension__ typedef unsigned __int128 u128;

static long double
ratio(uint64_t num, uint64_t den)
{
	return (long double)num / (long double)den;
}

static tly_err
check_noise(const struct tly_dp_noise *noise)
{
	if (noise->honest == 0 || noise->shares == 0 || noise->den == 0)
		return TLY_EINVAL;
	switch (noise->mechanism) {
	case TLY_DP_LAPLACE:
		if (noise->num == 0)
			return TLY_EINVAL;
		if (noise->den > (u128)noise->num * TLY_DP_MAX_SCALE)
			return TLY_ERANGE;
		return TLY_OK;
	case TLY_DP_GAUSS:
		return noise->num == 0 ? TLY_EINVAL : TLY_OK;
	case TLY_DP_SKELLAM:
		return TLY_OK;
	}
	return TLY_EINVAL;
}

/* Discrete Laplace with rate = s/t: log P(|X| > k) = log(2/(1 + alpha)) -
 * (k + 1) rate. The smallest k with that <= log_target. */
static uint64_t
laplace_quantile(long double rate, long double log_target)
{
	long double base = logl(2.0L) - log1pl(expl(-rate));
	long double estimate = (base - log_target) / rate - 1;
	uint64_t k = estimate <= 0 ? 0 : (uint64_t)ceill(estimate);

	/* Fix the rounding of the estimate, one step at a time. */
	while (k > 0 && base - (long double)k * rate <= log_target)
		k--;
	while (base - (long double)(k + 1) * rate > log_target)
		k++;
	return k;
}

static long double
gauss_weight(uint64_t x, long double variance)
{
	long double lx = (long double)x;
	return expl(-lx * lx / (2 * variance));
}

static uint64_t
gauss_last(long double variance)
{
	return (uint64_t)ceill(sqrtl(2 * variance * NEGLIGIBLE_LOG)) + 1;
}

/* N_Z(0, variance), weights computed on the fly, two passes from the far
 * end: the normalising sum, then the tail. */
static tly_err
gauss_quantile(long double variance, long double target, uint64_t *k)
{
	if (variance > GAUSS_MAX_VARIANCE)
		return TLY_ERANGE;
	uint64_t last = gauss_last(variance);
	long double total = 0, tail = 0;
	uint64_t best = last;

	for (uint64_t x = last; x >= 1; x--)
		total += 2 * gauss_weight(x, variance);
	total += 1;
	for (uint64_t x = last; x >= 1; x--) {
		tail += 2 * gauss_weight(x, variance); /* P(|X| >= x) */
		if (tail > target * total)
			break;
		best = x - 1;
	}
	*k = best;
	return TLY_OK;
}

static double
gauss_variance(long double variance)
{
	if (variance >= GAUSS_PLAIN_VARIANCE)
		return (double)variance;
	long double total = 0, moment = 0;
	for (uint64_t x = gauss_last(variance); x >= 1; x--) {
		long double w = gauss_weight(x, variance);
		total += 2 * w;
		moment += 2 * w * (long double)x * (long double)x;
	}
	return (double)(moment / (total + 1));
}

/*
 * A symmetric pmf on [-half, half]: p[half + x] = P(X = x).
 */
struct symmetric {
	double *p;
	size_t half;
};

static tly_err
symmetric_gauss(struct symmetric *out, long double variance)
{
	size_t half = (size_t)gauss_last(variance);
	double *p = calloc(2 * half + 1, sizeof *p);
	long double total = 1;

	if (p == NULL)
		return TLY_ENOMEM;
	for (size_t x = half; x >= 1; x--)
		total += 2 * gauss_weight(x, variance);
	for (size_t x = 0; x <= half; x++)
		p[half + x] = p[half - x] = (double)(gauss_weight(x, variance) / total);
	out->p = p;
	out->half = half;
	return TLY_OK;
}

/* out = a * b (convolution), trimmed to the window where the pmf is at
 * least NEGLIGIBLE times its value at 0, and renormalised. */
static tly_err
convolve(struct symmetric *out, const struct symmetric *a, const struct symmetric *b)
{
	size_t half = a->half + b->half;
	if (2 * half + 1 > MAX_CONVOLUTION)
		return TLY_ERANGE;
	/* Sums of positive terms: double keeps a relative 10^-13 here. */
	double *sum = calloc(2 * half + 1, sizeof *sum);
	if (sum == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i <= 2 * a->half; i++)
		for (size_t j = 0; j <= 2 * b->half; j++)
			sum[i + j] += a->p[i] * b->p[j];

	size_t keep = half;
	while (keep > 0 && sum[half + keep] < NEGLIGIBLE * sum[half])
		keep--;
	long double total = 0;
	for (size_t i = half - keep; i <= half + keep; i++)
		total += (long double)sum[i];
	double *p = malloc((2 * keep + 1) * sizeof *p);
	if (p == NULL) {
		free(sum);
		return TLY_ENOMEM;
	}
	for (size_t i = 0; i <= 2 * keep; i++)
		p[i] = (double)((long double)sum[half - keep + i] / total);
	free(sum);
	out->p = p;
	out->half = keep;
	return TLY_OK;
}

/* *acc = *acc * b, freeing the old *acc. */
static tly_err
convolve_into(struct symmetric *acc, const struct symmetric *b)
{
	struct symmetric product;
	tly_err rv = convolve(&product, acc, b);

	if (rv != TLY_OK)
		return rv;
	free(acc->p);
	*acc = product;
	return TLY_OK;
}

/* The n-fold convolution of share by binary powering; share is consumed. */
static tly_err
convolve_power(struct symmetric *out, struct symmetric *share, uint64_t n)
{
	struct symmetric result = {NULL, 0};
	tly_err rv = TLY_ENOMEM;

	result.p = malloc(sizeof *result.p);
	if (result.p == NULL)
		goto out;
	result.p[0] = 1;
	for (;;) {
		if ((n & 1) && (rv = convolve_into(&result, share)) != TLY_OK)
			goto out;
		n >>= 1;
		if (n == 0)
			break;
		if ((rv = convolve_into(share, share)) != TLY_OK)
			goto out;
	}
	*out = result;
	result.p = NULL;
	rv = TLY_OK;
out:
	free(result.p);
	free(share->p);
	share->p = NULL;
	return rv;
}

static uint64_t
symmetric_quantile(const struct symmetric *pmf, long double target)
{
	long double tail = 0;
	uint64_t best = pmf->half;

	for (size_t x = pmf->half; x >= 1; x--) {
		tail += 2 * (long double)pmf->p[pmf->half + x];
		if (tail > target)
			break;
		best = x - 1;
	}
	return best;
}

/* A GAUSS total: n shares of N_Z(0, sigma^2/h). */
static tly_err
gauss_total_quantile(const struct tly_dp_noise *noise, long double target, uint64_t *k)
{
	long double share_variance = ratio(noise->num, noise->den) / (long double)noise->honest;
	struct symmetric share, total;
	tly_err rv;

	if (noise->shares == 1)
		return gauss_quantile(share_variance, target, k);
	if (share_variance >= GAUSS_SHORTCUT)
		return gauss_quantile(share_variance * (long double)noise->shares, target, k);
	/* Refuse at once what the powering would refuse late: its last
	 * products are about 1.5 times as wide as the total. */
	uint64_t reach = gauss_last(share_variance * (long double)noise->shares);
	if (reach > MAX_CONVOLUTION / 3)
		return TLY_ERANGE;
	if ((rv = symmetric_gauss(&share, share_variance)) != TLY_OK)
		return rv;
	if ((rv = convolve_power(&total, &share, noise->shares)) != TLY_OK)
		return rv;
	*k = symmetric_quantile(&total, target);
	free(total.p);
	return TLY_OK;
}

/*
 * A pmf on [first, first + len) of a nonnegative integer variable, built
 * outward from its mode with the ratio step(k) = P(k + 1)/P(k).
 */
struct counts {
	long double r, alpha; /* NB(r, alpha) */
	long double mu;       /* or Poisson(mu) when r == 0 */
};

static long double
step(const struct counts *c, uint64_t k)
{
	long double next = (long double)k + 1;
	if (c->r > 0)
		return ((long double)k + c->r) / next * c->alpha;
	return c->mu / next;
}

struct window {
	uint64_t first;
	size_t len;
	double *p, *survival; /* survival[i] = P(X >= first + i) */
};

/* The window's ends: where the weight drops below NEGLIGIBLE. */
static tly_err
window_bounds(const struct counts *c, uint64_t mode, uint64_t *first, uint64_t *last)
{
	long double w = 1;
	uint64_t k = mode;

	while (w >= NEGLIGIBLE) {
		if (k - mode >= MAX_WINDOW)
			return TLY_ERANGE;
		w *= step(c, k);
		k++;
	}
	*last = k;
	for (w = 1, k = mode; k > 0 && w >= NEGLIGIBLE; k--) {
		if (*last - k >= MAX_WINDOW)
			return TLY_ERANGE;
		w /= step(c, k - 1);
	}
	*first = k;
	return TLY_OK;
}

static tly_err
window_build(struct window *out, const struct counts *c, long double mode_estimate)
{
	uint64_t first, last;

	if (mode_estimate > 0x1p62L)
		return TLY_ERANGE;
	uint64_t mode = (uint64_t)mode_estimate;
	tly_err rv = window_bounds(c, mode, &first, &last);
	if (rv != TLY_OK)
		return rv;
	size_t len = (size_t)(last - first + 1);
	double *p = malloc(len * sizeof *p);
	double *survival = malloc(len * sizeof *survival);
	if (p == NULL || survival == NULL) {
		free(p);
		free(survival);
		return TLY_ENOMEM;
	}
	/* Weights relative to the mode, by running products in long double. */
	size_t at = (size_t)(mode - first);
	long double w = 1;
	p[at] = 1;
	for (size_t i = at; i + 1 < len; i++) {
		w *= step(c, first + i);
		p[i + 1] = (double)w;
	}
	w = 1;
	for (size_t i = at; i > 0; i--) {
		w /= step(c, first + i - 1);
		p[i - 1] = (double)w;
	}
	long double total = 0, tail = 0;
	for (size_t i = len; i-- > 0;)
		total += (long double)p[i];
	for (size_t i = len; i-- > 0;) {
		tail += (long double)p[i];
		p[i] = (double)((long double)p[i] / total);
		survival[i] = (double)(tail / total);
	}
	out->first = first;
	out->len = len;
	out->p = p;
	out->survival = survival;
	return TLY_OK;
}

/* X = A - A' for A, A' independent with the window's pmf:
 * P(|X| > k) = 2 P(A > A' + k) = 2 sum_j P(A' = j) P(A >= j + k + 1). */
static long double
difference_tail(const struct window *win, size_t k)
{
	long double sum = 0;

	for (size_t j = 0; j + k + 1 < win->len; j++)
		sum += (long double)win->p[j] * win->survival[j + k + 1];
	return 2 * sum;
}

static uint64_t
difference_quantile(const struct window *win, long double target)
{
	size_t low = 0, high = win->len; /* the tail at len is 0 */

	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (difference_tail(win, mid) <= target)
			high = mid;
		else
			low = mid + 1;
	}
	return low;
}

static tly_err
counts_difference_quantile(const struct counts *c, long double mode, long double target,
                           uint64_t *k)
{
	struct window win;
	tly_err rv = window_build(&win, c, mode);

	if (rv != TLY_OK)
		return rv;
	*k = difference_quantile(&win, target);
	free(win.p);
	free(win.survival);
	return TLY_OK;
}

/* A LAPLACE total: NB(n/h, alpha) - NB(n/h, alpha). */
static tly_err
laplace_total_quantile(const struct tly_dp_noise *noise, long double target, uint64_t *k)
{
	long double rate = ratio(noise->num, noise->den);

	if (noise->shares == noise->honest) {
		*k = laplace_quantile(rate, logl(target));
		return TLY_OK;
	}
	struct counts c = {.r = ratio(noise->shares, noise->honest), .alpha = expl(-rate)};
	long double mode = c.r <= 1 ? 0 : floorl((c.r - 1) * c.alpha / -expm1l(-rate));
	return counts_difference_quantile(&c, mode, target, k);
}

/* A SKELLAM total: Poisson(n mu/h) - Poisson(n mu/h). */
static tly_err
skellam_total_quantile(const struct tly_dp_noise *noise, long double target, uint64_t *k)
{
	if (noise->num == 0) {
		*k = 0;
		return TLY_OK;
	}
	long double shares = ratio(noise->shares, noise->honest);
	struct counts c = {.mu = ratio(noise->num, noise->den) * shares};
	return counts_difference_quantile(&c, floorl(c.mu), target, k);
}

tly_err
tly_dp_noise_quantile(const struct tly_dp_noise *noise, uint64_t q_num, uint64_t q_den, uint64_t *k)
{
	TLY_REQUIRE(noise != NULL && k != NULL);
	tly_err rv = check_noise(noise);
	if (rv != TLY_OK)
		return rv;
	if (q_num == 0 || q_num >= q_den)
		return TLY_EINVAL;
	long double target = ratio(q_den - q_num, q_den); /* 1 - q, exactly rounded */

	switch (noise->mechanism) {
	case TLY_DP_LAPLACE:
		return laplace_total_quantile(noise, target, k);
	case TLY_DP_GAUSS:
		return gauss_total_quantile(noise, target, k);
	case TLY_DP_SKELLAM:
		return skellam_total_quantile(noise, target, k);
	}
	return TLY_EINVAL;
}

tly_err
tly_dp_noise_variance(const struct tly_dp_noise *noise, double *variance)
{
	TLY_REQUIRE(noise != NULL && variance != NULL);
	tly_err rv = check_noise(noise);
	if (rv != TLY_OK)
		return rv;
	long double shares = ratio(noise->shares, noise->honest);
	long double param = ratio(noise->num, noise->den);

	switch (noise->mechanism) {
	case TLY_DP_LAPLACE: {
		long double gap = -expm1l(-param); /* 1 - alpha */
		*variance = (double)(2 * shares * expl(-param) / (gap * gap));
		return TLY_OK;
	}
	case TLY_DP_GAUSS:
		*variance =
		    (double)noise->shares * gauss_variance(param / (long double)noise->honest);
		return TLY_OK;
	case TLY_DP_SKELLAM:
		*variance = (double)(2 * param * shares);
		return TLY_OK;
	}
	return TLY_EINVAL;
}

tly_err
tly_dp_polya_variance(uint64_t r_num, uint64_t r_den, uint64_t s, uint64_t t, double *variance)
{
	TLY_REQUIRE(variance != NULL);
	if (r_num == 0 || r_den == 0 || s == 0 || t == 0)
		return TLY_EINVAL;
	long double rate = ratio(s, t), gap = -expm1l(-rate);
	*variance = (double)(ratio(r_num, r_den) * expl(-rate) / (gap * gap));
	return TLY_OK;
}
