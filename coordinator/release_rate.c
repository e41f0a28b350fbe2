/* The cells of a rate or dsr release (release_rate.h). */
#include "release_rate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/rate.h"

enum { RATE_MAX_DECIMALS = 6 };

struct rate_build {
	const struct tly_release_input *in;
	const struct tly_dataset *ds;
	size_t groups, per_group;
	struct tly_rate_figure *figures; /* at 95%, one per group */
	struct tly_rate_figure *sides;   /* at 97.5%, for "compare"; else NULL */
	int nomem;
};

static void
put(struct rate_build *b, json_t *obj, const char *key, json_t *value)
{
	if (obj == NULL || value == NULL || json_object_set_new(obj, key, value) != 0) {
		json_decref(value);
		b->nomem = 1;
	}
}

static json_t *
pair(struct rate_build *b, json_t *lo, json_t *hi)
{
	json_t *a = json_array();

	if (a == NULL || lo == NULL || hi == NULL || json_array_append_new(a, lo) != 0 ||
	    json_array_append_new(a, hi) != 0) {
		b->nomem = 1;
		json_decref(a);
		return NULL;
	}
	return a;
}

/* ---- numbers ---- */

/* Decimal places keeping three significant digits of a half-width. */
static int
places_for(double half_width)
{
	int places;

	if (!(half_width > 0) || !isfinite(half_width))
		return RATE_MAX_DECIMALS;
	places = 2 - (int)floor(log10(half_width));
	return places < 0 ? 0 : places > RATE_MAX_DECIMALS ? RATE_MAX_DECIMALS : places;
}

static json_t *
rounded(double x, int places, int direction)
{
	double scale = pow(10, places), y = x * scale;

	if (!isfinite(x))
		return json_null();
	y = direction < 0 ? floor(y) : direction > 0 ? ceil(y) : round(y);
	return json_real(y / scale);
}

/* value and ci95 of one figure (lo <= value <= hi). */
static void
put_interval(struct rate_build *b, json_t *o, int has_value, double value, double lo, double hi)
{
	int places = places_for((hi - lo) / 2);

	put(b, o, "value", has_value ? rounded(value, places, 0) : json_null());
	put(b, o, "ci95", pair(b, rounded(lo, places, -1), rounded(hi, places, 1)));
}

static int64_t
round_to(int64_t v, int64_t r, int direction)
{
	int64_t down;

	if (r < 2) /* before the division: r is 0 when round_to is off */
		return v;
	down = v / r * r;
	if (direction < 0 || v == down)
		return down;
	if (direction > 0)
		return down + r;
	return v - down >= r - (v - down) ? down + r : down;
}

/* A part: {"value", "noise_range"}, rounded to round_to (release.h). */
static json_t *
part(struct rate_build *b, int64_t value, int64_t lo, int64_t hi)
{
	int64_t r = b->in->sdc.round_to;
	json_t *o = json_object();

	put(b, o, "value", json_integer(round_to(value, r, 0)));
	put(b, o, "noise_range",
	    pair(b, json_integer(round_to(lo, r, -1)), json_integer(round_to(hi, r, 1))));
	return o;
}

/* ---- one cell ---- */

/* The reference group's index (row-major, spec.h). */
static size_t
reference_group(const struct rate_build *b)
{
	const struct tly_spec *spec = b->in->spec;
	size_t g = 0;

	for (size_t i = 0; i < spec->group_by_count; i++)
		g = g * b->ds->columns[spec->group_by[i]].domain_count +
		    (size_t)spec->compare_to[i];
	return g;
}

static int
is_suppressed(const struct rate_build *b, size_t g)
{
	uint32_t below = b->in->sdc.suppress_below;
	return below != 0 && b->figures[g].denominator < (int64_t)below;
}

static void
put_comparison(struct rate_build *b, json_t *o, size_t g)
{
	const char *key = b->in->spec->compare == TLY_COMPARE_RATIO ? "ratio" : "difference";
	size_t ref = reference_group(b);
	double value, lo, hi;
	json_t *c;

	if (g == ref)
		put(b, o, "reference", json_true());
	if (is_suppressed(b, g) || is_suppressed(b, ref) ||
	    !tly_rate_compare(&b->sides[g], &b->sides[ref], b->in->spec->compare, &value, &lo,
	                      &hi)) {
		put(b, o, key, json_null());
		return;
	}
	c = json_object();
	put_interval(b, c, 1, value, lo, isfinite(hi) ? hi : value);
	if (!isfinite(hi))
		json_array_set_new(json_object_get(c, "ci95"), 1, json_null());
	put(b, o, key, c);
}

static json_t *
rate_cell(struct rate_build *b, size_t g)
{
	const struct tly_rate_figure *f = &b->figures[g];
	json_t *o = json_object();

	put(b, o, "group", tly_release_group(b->in, b->ds, g));
	if (is_suppressed(b, g)) {
		put(b, o, "value", json_null());
		put(b, o, "ci95", json_null());
		put(b, o, "suppressed", json_true());
	} else {
		put_interval(b, o, f->has_value, f->value, f->lo, f->hi);
		put(b, o, "per", json_integer(b->in->spec->per));
		put(b, o, "numerator", part(b, f->numerator, f->numerator_lo, f->numerator_hi));
		put(b, o, "denominator",
		    part(b, f->denominator, f->denominator_lo, f->denominator_hi));
		if (!f->has_value)
			put(b, o, "note",
			    json_string("no one is left in the denominator after noise: no rate "
			                "can be given"));
	}
	if (b->in->spec->measure == TLY_MEASURE_DSR) {
		put(b, o, "standard", json_string("esp2013"));
		if (f->empty_bands > 0 && !is_suppressed(b, g))
			put(b, o, "empty_bands", json_integer((json_int_t)f->empty_bands));
	}
	if (b->sides != NULL)
		put_comparison(b, o, g);
	return o;
}

/* ---- all cells ---- */

static void
figure(const struct rate_build *b, size_t g, int64_t half_width, enum tly_rate_level level,
       struct tly_rate_figure *out)
{
	const int64_t *cells = &b->in->cells[g * b->per_group];
	double z = tly_rate_z(b->in->noise->mechanism != TLY_MECH_NONE, level);

	if (b->in->spec->measure == TLY_MEASURE_DSR)
		tly_rate_dsr(cells, half_width, z, b->in->spec->per, out);
	else
		tly_rate_crude(cells, half_width, z, b->in->spec->per, out);
}

/* Every group's figure at 95%, and at 97.5% when comparing. */
static tly_err
figures(struct rate_build *b, char *why, size_t why_len)
{
	const struct tly_release_input *in = b->in;
	int64_t h95, h975 = 0;
	tly_err rv;

	rv = tly_rate_half_width(in->noise, in->contributors->count, b->per_group,
	                         TLY_RATE_LEVEL_95, &h95);
	if (rv == TLY_OK && in->spec->compare != TLY_COMPARE_NONE)
		rv = tly_rate_half_width(in->noise, in->contributors->count, b->per_group,
		                         TLY_RATE_LEVEL_975, &h975);
	if (rv != TLY_OK) {
		tly_say(why, why_len, "cannot compute the rate's interval: %s", tly_strerror(rv));
		return rv;
	}
	b->figures = calloc(b->groups, sizeof *b->figures);
	if (in->spec->compare != TLY_COMPARE_NONE)
		b->sides = calloc(b->groups, sizeof *b->sides);
	if (b->figures == NULL || (in->spec->compare != TLY_COMPARE_NONE && b->sides == NULL)) {
		tly_say(why, why_len, "out of memory");
		return TLY_ENOMEM;
	}
	for (size_t g = 0; g < b->groups; g++) {
		figure(b, g, h95, TLY_RATE_LEVEL_95, &b->figures[g]);
		if (b->sides != NULL)
			figure(b, g, h975, TLY_RATE_LEVEL_975, &b->sides[g]);
	}
	return TLY_OK;
}

tly_err
tly_release_rate_cells(const struct tly_release_input *in, json_t **cells, char *why,
                       size_t why_len)
{
	struct rate_build b = {.in = in};
	json_t *a = NULL;
	tly_err rv;

	TLY_REQUIRE(in->spec->measure == TLY_MEASURE_RATE || in->spec->measure == TLY_MEASURE_DSR);
	b.ds = &in->cat->datasets[in->spec->dataset];
	b.groups = tly_spec_groups(in->spec, in->cat);
	b.per_group = tly_spec_cells_per_group(in->spec);
	if ((rv = figures(&b, why, why_len)) != TLY_OK)
		goto out;
	a = json_array();
	for (size_t g = 0; a != NULL && g < b.groups && !b.nomem; g++)
		if (json_array_append_new(a, rate_cell(&b, g)) != 0)
			b.nomem = 1;
	if (a == NULL || b.nomem) {
		tly_say(why, why_len, "out of memory");
		rv = TLY_ENOMEM;
		goto out;
	}
	*cells = a;
	a = NULL;
	rv = TLY_OK;
out:
	json_decref(a);
	free(b.sides);
	free(b.figures);
	return rv;
}

json_t *
tly_release_rate_measure(const struct tly_spec *spec, const struct tly_catalogue *cat)
{
	char *canonical = NULL;
	json_t *root = NULL, *measure = NULL;

	if (tly_spec_canonical(spec, cat, &canonical) == TLY_OK &&
	    (root = json_loads(canonical, 0, NULL)) != NULL)
		measure = json_incref(json_object_get(root, "measure"));
	json_decref(root);
	free(canonical);
	return measure;
}
