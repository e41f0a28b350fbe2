/* A finished query's result JSON: see release.h for the fields, the
 * intervals and the disclosure control. */
#include "release.h"
#include "release_rate.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/dp_quantile.h"
#include "store/keys.h"
#include "query/spec_words.h"

/* The mean's interval combines two intervals of coverage 1 - 1/40 each. */
enum { MEAN_Q_NUM = 39, MEAN_Q_DEN = 40, MEAN_MAX_DECIMALS = 6 };

struct build {
	const struct tly_release_input *in;
	const struct tly_dataset *ds;
	const struct tly_column *column; /* sum, mean, histogram; NULL for count */
	struct tly_noise_info info;      /* 95% for the contributors that took part */
	int64_t k975;                    /* mean: 97.5% half-width of each cell's noise */
	struct tly_mean_encoding enc;    /* mean: centre, half-range, count weight */
	int nomem;                       /* a jansson allocation failed */
	char *why;
	size_t why_len;
};

static tly_err
refuse(struct build *b, tly_err rv, const char *fmt, ...)
{
	va_list ap;

	if (b->why_len > 0) {
		va_start(ap, fmt);
		vsnprintf(b->why, b->why_len, fmt, ap);
		va_end(ap);
	}
	return rv;
}

/* obj[key] = value (stolen), noting any failure. */
static void
set(struct build *b, json_t *obj, const char *key, json_t *value)
{
	if (obj == NULL || value == NULL || json_object_set_new(obj, key, value) != 0) {
		json_decref(value);
		b->nomem = 1;
	}
}

static void
append(struct build *b, json_t *array, json_t *value)
{
	if (array == NULL || value == NULL || json_array_append_new(array, value) != 0) {
		json_decref(value);
		b->nomem = 1;
	}
}

/* ---- numbers ---- */

struct tly_release_sdc
tly_release_sdc_resolve(const struct tly_spec *spec, struct tly_release_sdc defaults)
{
	struct tly_release_sdc sdc = defaults;

	if (spec->suppress_below != 0)
		sdc.suppress_below = spec->suppress_below;
	if (spec->round_to > 1)
		sdc.round_to = spec->round_to;
	if (sdc.round_to == 1)
		sdc.round_to = 0;
	return sdc;
}

void
tly_release_exact(char *out, size_t len, uint64_t num, uint64_t den)
{
	char digits[32];
	uint64_t rest = num % den;
	size_t n = 0;

	TLY_REQUIRE(den != 0);
	/* Long division; a terminating decimal of a u64 fraction has at most
	 * 64 digits after the point, and we stop at 20 (or on overflow). */
	while (rest != 0 && n < 20 && rest <= UINT64_MAX / 10) {
		rest *= 10;
		digits[n++] = (char)('0' + rest / den);
		rest %= den;
	}
	digits[n] = '\0';
	if (rest != 0)
		snprintf(out, len, "%" PRIu64 "/%" PRIu64, num, den);
	else if (n == 0)
		snprintf(out, len, "%" PRIu64, num / den);
	else
		snprintf(out, len, "%" PRIu64 ".%s", num / den, digits);
}

/* v rounded to the nearest multiple of r (r >= 2), halves away from 0.
 * |v| stays far below 2^62 (field values), so nothing overflows. */
static int64_t
round_nearest(int64_t v, int64_t r)
{
	int64_t m = v >= 0 ? (v + r / 2) / r : -((-v + r / 2) / r);
	return m * r;
}

static int64_t
round_down(int64_t v, int64_t r)
{
	int64_t q = v / r;
	return (q - (v % r != 0 && v < 0)) * r;
}

static int64_t
round_up(int64_t v, int64_t r)
{
	int64_t q = v / r;
	return (q + (v % r != 0 && v > 0)) * r;
}

/* Significant digits for a real: round(x, digits) in decimal places. */
static double
round_places(double x, int places, int direction)
{
	double scale = pow(10, places);
	double y = x * scale;

	y = direction < 0 ? floor(y) : direction > 0 ? ceil(y) : round(y);
	return y / scale;
}

static double
round_significant(double x, int digits)
{
	if (x == 0 || !isfinite(x))
		return x;
	return round_places(x, digits - 1 - (int)floor(log10(fabs(x))), 0);
}

/* Decimal places that keep two significant digits of the half-width. */
static int
mean_places(double half_width)
{
	int places;

	if (!(half_width > 0) || !isfinite(half_width))
		return MEAN_MAX_DECIMALS;
	places = 1 - (int)floor(log10(half_width));
	return places < 0 ? 0 : places > MEAN_MAX_DECIMALS ? MEAN_MAX_DECIMALS : places;
}

/* ---- the header fields ---- */

static json_t *
exact_string(uint64_t num, uint64_t den)
{
	char text[48];

	tly_release_exact(text, sizeof text, num, den);
	return json_string(text);
}

static json_t *
privacy_json(struct build *b)
{
	const struct tly_noise_params *p = b->in->noise;
	json_t *o = json_object();
	double figure = p->privacy_den != 0 ? (double)p->privacy_num / (double)p->privacy_den : 0;

	set(b, o, "mechanism", json_string(tly_spec_mechanism_name(p->mechanism)));
	if (p->mechanism == TLY_MECH_LAPLACE) {
		set(b, o, "epsilon", json_real(figure));
		set(b, o, "epsilon_exact", exact_string(p->privacy_num, p->privacy_den));
		set(b, o, "delta", json_integer(0));
	} else if (p->mechanism == TLY_MECH_SKELLAM) {
		set(b, o, "rho", json_real(figure));
		set(b, o, "rho_exact", exact_string(p->privacy_num, p->privacy_den));
		set(b, o, "epsilon", json_real(b->info.dp_epsilon));
		set(b, o, "delta", json_real(b->info.dp_delta));
	}
	set(b, o, "min_honest", json_integer((json_int_t)p->h));
	set(b, o, "noise_sd", json_real(round_significant(b->info.sd, 4)));
	set(b, o, "ci95_half_width", json_integer(b->info.ci95_half_width));
	return o;
}

static json_t *
measure_json(struct build *b)
{
	const struct tly_spec *spec = b->in->spec;
	json_t *o, *edges;

	if (spec->measure == TLY_MEASURE_RATE || spec->measure == TLY_MEASURE_DSR)
		return tly_release_rate_measure(spec, b->in->cat);
	o = json_object();
	set(b, o, "op", json_string(tly_spec_measure_name(spec->measure)));
	if (b->column != NULL)
		set(b, o, "column", json_string(b->column->name));
	if (spec->measure == TLY_MEASURE_HISTOGRAM) {
		edges = json_array();
		for (size_t i = 0; i < spec->edge_count; i++)
			append(b, edges, json_integer(spec->edges[i]));
		set(b, o, "edges", edges);
	}
	return o;
}

/* "filters" and "description": every filter of the query in words, from
 * its canonical form, as the log holds it (query/spec_words.h). */
static void
words_json(struct build *b, json_t *o)
{
	char *canonical = NULL, *sentence = NULL;
	json_t *spec = NULL, *filters = NULL;

	/* A canonical form always has words: a failure is out of memory. */
	if (tly_spec_canonical(b->in->spec, b->in->cat, &canonical) != TLY_OK ||
	    (spec = json_loads(canonical, 0, NULL)) == NULL ||
	    tly_spec_words_filters(spec, &filters) != TLY_OK ||
	    tly_spec_words_sentence(spec, &sentence) != TLY_OK) {
		b->nomem = 1;
	} else {
		set(b, o, "filters", filters);
		filters = NULL;
		set(b, o, "description", json_string(sentence));
	}
	json_decref(filters);
	json_decref(spec);
	free(sentence);
	free(canonical);
}

static json_t *
ids_json(struct build *b, const struct tly_idlist *list)
{
	json_t *a = json_array();

	for (uint32_t i = 0; list != NULL && i < list->count; i++)
		append(b, a, json_integer(list->ids[i]));
	return a;
}

json_t *
tly_release_group(const struct tly_release_input *in, const struct tly_dataset *ds, size_t g)
{
	const struct tly_spec *spec = in->spec;
	int values[TLY_SPEC_GROUP_BY_MAX];
	json_t *o = json_object();

	tly_spec_group_values(spec, in->cat, g, values);
	for (size_t i = 0; o != NULL && i < spec->group_by_count; i++) {
		const struct tly_column *col = &ds->columns[spec->group_by[i]];
		if (json_object_set_new(o, col->name, json_string(col->domain[values[i]])) != 0) {
			json_decref(o);
			o = NULL; /* the caller's set or append counts it as nomem */
		}
	}
	return o;
}

static json_t *
group_json(struct build *b, size_t g)
{
	return tly_release_group(b->in, b->ds, g);
}

/* "protocol", "group_by" and "trusts" (the contributors' ids): what
 * `tally query`'s table and CSV show people beside the filters. */
static void
people_json(struct build *b, json_t *o)
{
	const struct tly_spec *spec = b->in->spec;
	json_t *by = json_array();

	set(b, o, "protocol", json_string(tly_spec_protocol_name(spec->protocol)));
	for (size_t i = 0; i < spec->group_by_count; i++)
		append(b, by, json_string(b->ds->columns[spec->group_by[i]].name));
	set(b, o, "group_by", by);
	set(b, o, "trusts", ids_json(b, b->in->contributors));
}

/* ---- integer cells: count, sum, histogram, and a mean's parts ---- */

enum figure_kind { FIGURE_COUNT, FIGURE_SUM };

static json_t *
pair(struct build *b, json_t *lo, json_t *hi)
{
	json_t *a = json_array();

	append(b, a, lo);
	append(b, a, hi);
	return a;
}

/* The sign the truth of a figure must have: +1 (>= 0: a count, or a sum
 * of a column with min >= 0), -1 (<= 0: a sum of a column with max <= 0),
 * 0 (either). */
static int
figure_sign(const struct build *b, enum figure_kind kind)
{
	if (kind == FIGURE_COUNT || b->column->min >= 0)
		return 1;
	return b->column->max <= 0 ? -1 : 0;
}

/* Clamp value and its interval [*lo, *hi] alike to the side the truth
 * lies on (release.h): 1 when the value itself moved. */
static int
clamp_integer(int sign, int64_t *value, int64_t *lo, int64_t *hi)
{
	int64_t v = *value;

	if (sign > 0) {
		*value = v < 0 ? 0 : v;
		*lo = *lo < 0 ? 0 : *lo;
		*hi = *hi < 0 ? 0 : *hi;
	} else if (sign < 0) {
		*value = v > 0 ? 0 : v;
		*lo = *lo > 0 ? 0 : *lo;
		*hi = *hi > 0 ? 0 : *hi;
	}
	return *value != v;
}

/* value and ci95 of one noisy integer, clamped and rounded (release.h). */
static void
put_figure(struct build *b, json_t *o, int64_t value, enum figure_kind kind)
{
	int64_t k = b->info.ci95_half_width, r = b->in->sdc.round_to;
	int64_t lo = value - k, hi = value + k;
	int clamped = clamp_integer(figure_sign(b, kind), &value, &lo, &hi);

	if (r > 1) {
		value = round_nearest(value, r);
		lo = round_down(lo, r);
		hi = round_up(hi, r);
	}
	set(b, o, "value", json_integer(value));
	set(b, o, "ci95", pair(b, json_integer(lo), json_integer(hi)));
	if (clamped)
		set(b, o, "clamped", json_true());
}

static int
suppressed(const struct build *b, int64_t count)
{
	return b->in->sdc.suppress_below != 0 && count < (int64_t)b->in->sdc.suppress_below;
}

static void
put_suppressed(struct build *b, json_t *o)
{
	set(b, o, "value", json_null());
	set(b, o, "ci95", json_null());
	set(b, o, "suppressed", json_true());
}

static json_t *
integer_cell(struct build *b, json_t *group, int64_t value)
{
	json_t *o = json_object();
	enum figure_kind kind = b->in->spec->measure == TLY_MEASURE_SUM ? FIGURE_SUM : FIGURE_COUNT;

	set(b, o, "group", group);
	if (kind == FIGURE_COUNT && suppressed(b, value))
		put_suppressed(b, o);
	else
		put_figure(b, o, value, kind);
	return o;
}

static json_t *
bin_label(const struct tly_spec *spec, size_t i)
{
	char label[64];
	int last = i + 2 == spec->edge_count;

	snprintf(label, sizeof label, "[%" PRId64 ", %" PRId64 "%c", spec->edges[i],
	         spec->edges[i + 1], last ? ']' : ')');
	return json_string(label);
}

/* ---- mean cells ---- */

/* The interval of s/c over s in [s_lo, s_hi], c in [c_lo, c_hi], c_lo >= 1:
 * s/c is increasing in s, and monotone in c for a fixed s, so the extremes
 * sit at the corners. */
static void
ratio_range(double s_lo, double s_hi, double c_lo, double c_hi, double *lo, double *hi)
{
	*lo = fmin(s_lo / c_lo, s_lo / c_hi);
	*hi = fmax(s_hi / c_lo, s_hi / c_hi);
}

/* x moved to the side of 0 that sign (figure_sign) allows. */
static double
clamp_real(double x, int sign)
{
	return sign > 0 ? fmax(x, 0) : sign < 0 ? fmin(x, 0) : x;
}

/* A real figure's value and interval, clamped alike to the truth's sign,
 * then rounded: to multiples of round_to (interval outwards) when set,
 * else to two significant digits of the half-width. */
static void
put_real(struct build *b, json_t *o, double value, double lo, double hi, int sign)
{
	double r = (double)b->in->sdc.round_to;
	int places = mean_places((hi - lo) / 2);
	int clamped = clamp_real(value, sign) != value;

	value = clamp_real(value, sign);
	lo = clamp_real(lo, sign);
	hi = clamp_real(hi, sign);
	if (r > 1) {
		value = round(value / r) * r;
		lo = floor(lo / r) * r;
		hi = ceil(hi / r) * r;
	} else {
		value = round_places(value, places, 0);
		lo = round_places(lo, places, -1);
		hi = round_places(hi, places, 1);
	}
	set(b, o, "value", json_real(value));
	set(b, o, "ci95", pair(b, json_real(lo), json_real(hi)));
	if (clamped)
		set(b, o, "clamped", json_true());
}

/* The true count lies in [*lo, *hi] when the noise of the count cell w C
 * is within k: C is an integer in [(wC - k)/w, (wC + k)/w]. */
static void
count_range(const struct build *b, int64_t weighted, int64_t k, double *lo, double *hi)
{
	double w = (double)b->enc.weight;

	*lo = ceil(((double)weighted - (double)k) / w);
	*hi = floor(((double)weighted + (double)k) / w);
}

/* "count": w C / w, its 95% interval from the cell's k95. */
static json_t *
mean_count(struct build *b, int64_t weighted)
{
	json_t *o = json_object();
	double lo, hi;

	count_range(b, weighted, b->info.ci95_half_width, &lo, &hi);
	put_real(b, o, (double)weighted / (double)b->enc.weight, lo, hi, 1);
	return o;
}

/* "sum": the un-centred sum c C + S' of the clipped values; its interval
 * is its range over the 97.5% box of (S', C) (release.h), so >= 95%. */
static json_t *
mean_sum(struct build *b, int64_t centred, int64_t weighted)
{
	double c = (double)b->enc.centre, c_lo, c_hi;
	double count = (double)weighted / (double)b->enc.weight;
	json_t *o = json_object();

	count_range(b, weighted, b->k975, &c_lo, &c_hi);
	c_lo = fmax(c_lo, 0);
	c_hi = fmax(c_hi, c_lo);
	put_real(b, o, c * count + (double)centred,
	         (double)centred - (double)b->k975 + fmin(c * c_lo, c * c_hi),
	         (double)centred + (double)b->k975 + fmax(c * c_lo, c * c_hi),
	         figure_sign(b, FIGURE_SUM));
	return o;
}

/* value = c + S'/C and its interval over the 97.5% box of (S', C),
 * C >= 1, clipped to the column's bounds (release.h). */
static void
mean_value(struct build *b, json_t *o, int64_t centred, int64_t weighted)
{
	double lo_bound = (double)b->column->min, hi_bound = (double)b->column->max;
	double c = (double)b->enc.centre, c_lo, c_hi, lo, hi, mean;
	int places;

	count_range(b, weighted, b->k975, &c_lo, &c_hi);
	c_lo = fmax(c_lo, 1);
	c_hi = fmax(c_hi, c_lo);
	ratio_range((double)centred - (double)b->k975, (double)centred + (double)b->k975, c_lo,
	            c_hi, &lo, &hi);
	lo = fmin(fmax(c + lo, lo_bound), hi_bound);
	hi = fmin(fmax(c + hi, lo_bound), hi_bound);
	mean = c + (double)centred * (double)b->enc.weight / (double)weighted;
	mean = fmin(fmax(mean, lo_bound), hi_bound);
	places = mean_places((hi - lo) / 2);
	set(b, o, "value", json_real(round_places(mean, places, 0)));
	set(b, o, "ci95",
	    pair(b, json_real(round_places(lo, places, -1)),
	         json_real(round_places(hi, places, 1))));
}

/* A mean's cells: the centred sum S' and the weighted count w C
 * (query/spec.h, tly_spec_mean_encoding). */
static json_t *
mean_cell(struct build *b, json_t *group, int64_t centred, int64_t weighted)
{
	json_t *o = json_object();
	int64_t w = (int64_t)b->enc.weight;

	set(b, o, "group", group);
	/* Suppressed when the noisy count w C / w is below N >= 1: as N is
	 * an integer, exactly when the quotient rounded toward 0 is. */
	if (b->in->sdc.suppress_below != 0 && weighted / w < (int64_t)b->in->sdc.suppress_below) {
		put_suppressed(b, o);
		set(b, o, "sum", json_null());
		set(b, o, "count", json_null());
		return o;
	}
	if (weighted < w) {
		set(b, o, "value", json_null());
		set(b, o, "ci95",
		    pair(b, json_real((double)b->column->min), json_real((double)b->column->max)));
		set(b, o, "note", json_string("the noisy count is below 1: no mean can be given"));
	} else {
		mean_value(b, o, centred, weighted);
	}
	set(b, o, "sum", mean_sum(b, centred, weighted));
	set(b, o, "count", mean_count(b, weighted));
	return o;
}

/* ---- the whole release ---- */

static json_t *
cells_json(struct build *b)
{
	const struct tly_spec *spec = b->in->spec;
	const int64_t *cells = b->in->cells;
	size_t groups = tly_spec_groups(spec, b->in->cat);
	size_t per = tly_spec_cells_per_group(spec);
	json_t *a = json_array();

	for (size_t g = 0; g < groups && !b->nomem; g++) {
		const int64_t *cell = &cells[g * per];
		if (spec->measure == TLY_MEASURE_MEAN) {
			append(b, a, mean_cell(b, group_json(b, g), cell[0], cell[1]));
			continue;
		}
		for (size_t i = 0; i < per; i++) {
			json_t *group = group_json(b, g);
			if (spec->measure == TLY_MEASURE_HISTOGRAM)
				set(b, group, "bin", bin_label(spec, i));
			append(b, a, integer_cell(b, group, cell[i]));
		}
	}
	return a;
}

/* Inputs agree with each other, and the noise is describable for the
 * contributors: fills b->info (and b->k975, b->enc for means). */
static tly_err
prepare(struct build *b)
{
	const struct tly_release_input *in = b->in;
	const struct tly_spec *spec = in->spec;
	const struct tly_noise_params *p = in->noise;
	uint64_t n = in->contributors->count;
	tly_err rv;

	if (in->d != tly_spec_cells(spec, in->cat))
		return refuse(b, TLY_EINVAL, "%zu cells given, the query has %zu", in->d,
		              tly_spec_cells(spec, in->cat));
	if (p->mechanism != TLY_MECH_NONE &&
	    (p->mechanism != spec->mechanism || p->privacy_num != spec->privacy_num ||
	     p->privacy_den != spec->privacy_den))
		return refuse(b, TLY_EINVAL,
		              "the noise parameters are not those of the query's privacy figure");
	if (n < p->h || n == 0)
		return refuse(b, TLY_EINVAL,
		              "%" PRIu64 " contributors, below min_honest h = %" PRIu64
		              ": a total of fewer than h noise shares may not be released",
		              n, p->h);
	if ((rv = tly_noise_describe(p, n, &b->info)) != TLY_OK)
		return refuse(b, rv, "cannot describe the noise of %" PRIu64 " contributors: %s", n,
		              tly_strerror(rv));
	if (spec->measure == TLY_MEASURE_MEAN)
		tly_spec_mean_encoding(spec, in->cat, &b->enc);
	if (spec->measure == TLY_MEASURE_MEAN && p->mechanism != TLY_MECH_NONE) {
		struct tly_dp_noise total = {.honest = p->h, .shares = n};
		uint64_t k;
		total.mechanism =
		    p->mechanism == TLY_MECH_LAPLACE ? TLY_DP_LAPLACE : TLY_DP_SKELLAM;
		total.num = p->mechanism == TLY_MECH_LAPLACE ? p->scale_s : p->mu_num;
		total.den = p->mechanism == TLY_MECH_LAPLACE ? p->scale_t : p->mu_den;
		if ((rv = tly_dp_noise_quantile(&total, MEAN_Q_NUM, MEAN_Q_DEN, &k)) != TLY_OK ||
		    k > INT64_MAX)
			return refuse(b, rv != TLY_OK ? rv : TLY_ERANGE,
			              "cannot compute the mean's interval: %s", tly_strerror(rv));
		b->k975 = (int64_t)k;
	}
	return TLY_OK;
}

tly_err
tly_release_build(const struct tly_release_input *in, json_t **out, char *why, size_t why_len)
{
	struct build b = {.in = in, .why = why, .why_len = why_len};
	const struct tly_spec *spec;
	char id[2 * TLY_QUERY_ID_BYTES + 1];
	json_t *o, *rate_cells = NULL;
	tly_err rv;

	TLY_REQUIRE(in != NULL && out != NULL && (why != NULL || why_len == 0));
	TLY_REQUIRE(in->query_id != NULL && in->spec != NULL && in->cat != NULL &&
	            in->noise != NULL && in->contributors != NULL &&
	            (in->cells != NULL || in->d == 0));
	spec = in->spec;
	TLY_REQUIRE(spec->dataset >= 0 && (size_t)spec->dataset < in->cat->dataset_count);
	if (why_len > 0)
		why[0] = '\0';
	b.ds = &in->cat->datasets[spec->dataset];
	b.column = spec->measure_column >= 0 ? &b.ds->columns[spec->measure_column] : NULL;
	if ((rv = prepare(&b)) != TLY_OK)
		return rv;
	if ((spec->measure == TLY_MEASURE_RATE || spec->measure == TLY_MEASURE_DSR) &&
	    (rv = tly_release_rate_cells(in, &rate_cells, why, why_len)) != TLY_OK)
		return rv;

	o = json_object();
	tly_hex(id, in->query_id, TLY_QUERY_ID_BYTES);
	set(&b, o, "query_id", json_string(id));
	set(&b, o, "dataset", json_string(b.ds->name));
	set(&b, o, "measure", measure_json(&b));
	words_json(&b, o);
	set(&b, o, "contributors", json_integer(in->contributors->count));
	set(&b, o, "dropped", ids_json(&b, in->dropped));
	people_json(&b, o);
	set(&b, o, "privacy", privacy_json(&b));
	json_t *sdc = json_object();
	set(&b, sdc, "suppress_below", json_integer(in->sdc.suppress_below));
	set(&b, sdc, "round_to", json_integer(in->sdc.round_to > 1 ? in->sdc.round_to : 0));
	set(&b, o, "sdc", sdc);
	set(&b, o, "cells", rate_cells != NULL ? rate_cells : cells_json(&b));
	if (b.nomem) {
		json_decref(o);
		return refuse(&b, TLY_ENOMEM, "out of memory");
	}
	*out = o;
	return TLY_OK;
}

tly_err
tly_release_encode(const struct tly_release_input *in, char **json, char *why, size_t why_len)
{
	json_t *o = NULL;
	char *text;
	tly_err rv;

	TLY_REQUIRE(json != NULL);
	if ((rv = tly_release_build(in, &o, why, why_len)) != TLY_OK)
		return rv;
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(o);
	if (text == NULL) {
		if (why_len > 0)
			snprintf(why, why_len, "out of memory");
		return TLY_ENOMEM;
	}
	*json = text;
	return TLY_OK;
}
