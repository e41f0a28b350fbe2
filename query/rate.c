/* Rates and directly standardised rates with intervals (rate.h). */
#include "query/rate.h"

#include <math.h>

#include "crypto/dp_quantile.h"

double
tly_rate_z(int noisy, enum tly_rate_level level)
{
	static const double z[2][2] = {
	    {1.959963984540054, 2.2414027276049473},  /* 95%: a/2, a/4 */
	    {2.2414027276049473, 2.4977054744123737}, /* 97.5% */
	};
	return z[level == TLY_RATE_LEVEL_975][noisy != 0];
}

double
tly_rate_wilson_lower(double x, double n, double z)
{
	double z2 = z * z;

	if (x <= 0 || n <= 0)
		return 0;
	return (2 * x + z2 - z * sqrt(z2 + 4 * x * (1 - x / n))) / (2 * (n + z2));
}

double
tly_rate_wilson_upper(double x, double n, double z)
{
	double z2 = z * z;

	if (n <= 0 || x >= n)
		return 1;
	return (2 * x + z2 + z * sqrt(z2 + 4 * x * (1 - x / n))) / (2 * (n + z2));
}

double
tly_rate_byars_lower(double o, double z)
{
	double f;

	if (o <= 0)
		return 0;
	f = 1 - 1 / (9 * o) - z / (3 * sqrt(o));
	return f > 0 ? o * f * f * f : 0;
}

double
tly_rate_byars_upper(double o, double z)
{
	double f;

	if (o < 0)
		o = 0;
	f = 1 - 1 / (9 * (o + 1)) + z / (3 * sqrt(o + 1));
	return (o + 1) * f * f * f;
}

tly_err
tly_rate_half_width(const struct tly_noise_params *noise, uint64_t contributors,
                    size_t cells_per_figure, enum tly_rate_level level, int64_t *half_width)
{
	/* a = 1/20 (95%) or 1/40 (97.5%); each cell fails with a / (2 c). */
	uint64_t den = (level == TLY_RATE_LEVEL_95 ? 40 : 80) * (uint64_t)cells_per_figure;
	struct tly_dp_noise total = {.honest = noise->h, .shares = contributors};
	uint64_t k;
	tly_err rv;

	TLY_REQUIRE(cells_per_figure >= 1);
	if (contributors == 0 || contributors < noise->h)
		return TLY_EINVAL;
	if (noise->mechanism == TLY_MECH_NONE) {
		*half_width = 0;
		return TLY_OK;
	}
	total.mechanism = noise->mechanism == TLY_MECH_LAPLACE ? TLY_DP_LAPLACE : TLY_DP_SKELLAM;
	total.num = noise->mechanism == TLY_MECH_LAPLACE ? noise->scale_s : noise->mu_num;
	total.den = noise->mechanism == TLY_MECH_LAPLACE ? noise->scale_t : noise->mu_den;
	if ((rv = tly_dp_noise_quantile(&total, den - 1, den, &k)) != TLY_OK)
		return rv;
	if (k > INT64_MAX / 4)
		return TLY_ERANGE;
	*half_width = (int64_t)k;
	return TLY_OK;
}

static int64_t
at_least_zero(int64_t v)
{
	return v < 0 ? 0 : v;
}

/* The noise box of one (N, R) pair: N in [n_lo, n_hi], R in [r_lo, r_hi]. */
struct box {
	int64_t n, r; /* clamped point */
	int64_t n_lo, n_hi, r_lo, r_hi;
};

static struct box
box_of(const int64_t *pair, int64_t h)
{
	return (struct box){
	    .n = at_least_zero(pair[0]),
	    .r = at_least_zero(pair[1]),
	    .n_lo = at_least_zero(pair[0] - h),
	    .n_hi = at_least_zero(pair[0] + h),
	    .r_lo = at_least_zero(pair[1] - h),
	    .r_hi = at_least_zero(pair[1] + h),
	};
}

static void
set_parts(struct tly_rate_figure *out, const struct box *b)
{
	out->numerator += b->n;
	out->denominator += b->n + b->r;
	out->numerator_lo += b->n_lo;
	out->numerator_hi += b->n_hi;
	out->denominator_lo += b->n_lo + b->r_lo;
	out->denominator_hi += b->n_hi + b->r_hi;
}

static double
clip01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

void
tly_rate_crude(const int64_t cells[static 2], int64_t half_width, double z, uint32_t per,
               struct tly_rate_figure *out)
{
	struct box b = box_of(cells, half_width);
	double lo, hi;

	*out = (struct tly_rate_figure){0};
	set_parts(out, &b);
	/* Wilson's limits rise with N and fall with R: the box's corners. */
	lo = tly_rate_wilson_lower((double)b.n_lo, (double)(b.n_lo + b.r_hi), z);
	hi = tly_rate_wilson_upper((double)b.n_hi, (double)(b.n_hi + b.r_lo), z);
	out->lo = per * clip01(lo);
	out->hi = per * clip01(hi);
	if (b.n + b.r == 0)
		return;
	out->has_value = 1;
	out->value = per * ((double)b.n / (double)(b.n + b.r));
	out->lo = fmin(out->lo, out->value);
	out->hi = fmax(out->hi, out->value);
}

/* Dobson's ingredients at one corner: per band n_k events in d_k. */
struct dobson {
	double dsr, var, events, heaviest; /* heaviest: max w_k / d_k / W */
};

static void
dobson_add(struct dobson *d, size_t k, double n, double pop, double empty_rate)
{
	double w = tly_esp2013_weights[k] / (double)TLY_ESP2013_TOTAL;

	if (pop <= 0) {
		d->dsr += w * empty_rate;
		return;
	}
	d->dsr += w * n / pop;
	d->var += w * w * n / (pop * pop);
	d->events += n;
	d->heaviest = fmax(d->heaviest, w / pop);
}

/* phe_dsr's limits: dsr + sqrt(var / O) (Byar(O) - O); for O = 0 the
 * upper limit puts Byar's upper count in the heaviest band. */
static double
dobson_lower(const struct dobson *d, double z)
{
	if (d->events <= 0)
		return clip01(d->dsr);
	return clip01(d->dsr +
	              sqrt(d->var / d->events) * (tly_rate_byars_lower(d->events, z) - d->events));
}

static double
dobson_upper(const struct dobson *d, double z)
{
	if (d->events <= 0)
		return clip01(d->dsr + tly_rate_byars_upper(0, z) * d->heaviest);
	return clip01(d->dsr +
	              sqrt(d->var / d->events) * (tly_rate_byars_upper(d->events, z) - d->events));
}

void
tly_rate_dsr(const int64_t cells[static 2 * TLY_ESP2013_BANDS], int64_t half_width, double z,
             uint32_t per, struct tly_rate_figure *out)
{
	struct dobson point = {0}, low = {0}, high = {0};

	*out = (struct tly_rate_figure){0};
	for (size_t k = 0; k < TLY_ESP2013_BANDS; k++) {
		struct box b = box_of(&cells[2 * k], half_width);
		set_parts(out, &b);
		out->empty_bands += b.n + b.r == 0;
		dobson_add(&point, k, (double)b.n, (double)(b.n + b.r), 0);
		/* A band that may be empty may hold any rate: 0 low, 1 high. */
		dobson_add(&low, k, (double)b.n_lo, (double)(b.n_lo + b.r_hi), 0);
		dobson_add(&high, k, (double)b.n_hi, (double)(b.n_hi + b.r_lo), 1);
	}
	out->lo = per * dobson_lower(&low, z);
	out->hi = per * dobson_upper(&high, z);
	if (out->denominator == 0)
		return;
	out->has_value = 1;
	out->value = per * clip01(point.dsr);
	out->lo = fmin(out->lo, out->value);
	out->hi = fmax(out->hi, out->value);
}

int
tly_rate_compare(const struct tly_rate_figure *group, const struct tly_rate_figure *ref,
                 enum tly_compare as, double *value, double *lo, double *hi)
{
	if (!group->has_value || !ref->has_value)
		return 0;
	if (as == TLY_COMPARE_DIFFERENCE) {
		*value = group->value - ref->value;
		*lo = group->lo - ref->hi;
		*hi = group->hi - ref->lo;
		return 1;
	}
	if (ref->value <= 0)
		return 0;
	*value = group->value / ref->value;
	*lo = ref->hi > 0 ? group->lo / ref->hi : 0;
	*hi = ref->lo > 0 ? group->hi / ref->lo : INFINITY;
	return 1;
}
