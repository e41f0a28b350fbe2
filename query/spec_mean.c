/* A mean's two cells: the centre, the half-range and the count's weight
 * (spec.h, docs/PRIVACY.md "Means"). Integers only, so that every node and
 * the coordinator derive the same encoding on any machine. */
#include "query/spec_impl.h"

#include "crypto/field.h"

/* floor(2^32 / 3^(1/3)) and floor(2^32 / 3^(1/4)): the real optima
 * B' / 3^(1/3) (Laplace) and B' / 3^(1/4) (Skellam) in 32-bit fixed point. */
#define CUBE_ROOT_3_INV   UINT64_C(2977963997)
#define FOURTH_ROOT_3_INV UINT64_C(3263469420)

/* Up to this B' the candidates are compared exactly in 128 bits: the
 * products below stay under 2^124. */
#define EXACT_MAX (UINT64_C(1) << 20)

/* The expected variance of the mean, up to a factor that does not depend
 * on w, times w^2 (so that it is an integer): with R^2 = B'^2/3,
 * Laplace (B' + w)^2 (3w^2 + B'^2), Skellam (B'^2 + w^2)(3w^2 + B'^2). */
static tly_u128
loss_scaled(uint64_t half_range, uint64_t w, uint8_t mechanism)
{
	tly_u128 b = half_range, x = w;
	tly_u128 spread = 3 * x * x + b * b;

	if (mechanism == TLY_MECH_LAPLACE)
		return (b + x) * (b + x) * spread;
	return (b * b + x * x) * spread;
}

/* loss(a) < loss(b), both scaled by their w^2: loss_scaled(a) b^2 <
 * loss_scaled(b) a^2. */
static int
better(uint64_t half_range, uint64_t a, uint64_t b, uint8_t mechanism)
{
	tly_u128 wa = a, wb = b;

	return loss_scaled(half_range, a, mechanism) * wb * wb <
	       loss_scaled(half_range, b, mechanism) * wa * wa;
}

uint64_t
tly_mean_weight(uint64_t half_range, uint8_t mechanism)
{
	uint64_t factor, start, best;

	if (mechanism == TLY_MECH_LAPLACE)
		factor = CUBE_ROOT_3_INV;
	else if (mechanism == TLY_MECH_SKELLAM)
		factor = FOURTH_ROOT_3_INV;
	else
		tly_misuse("tly_mean_weight: a mean needs laplace or skellam");
	/* floor(B' * factor / 2^32) is within 1 of the real optimum w*. */
	start = (uint64_t)(((tly_u128)half_range * factor) >> 32);
	if (half_range > EXACT_MAX)
		return start; /* the loss is flat there: w* rounded down */
	best = start > 1 ? start - 1 : 1;
	/* The loss falls then rises in w, so the best integer is floor(w*)
	 * or ceil(w*), both in [start - 1, start + 2]; ties keep the smaller. */
	for (uint64_t w = best + 1; w <= start + 2; w++)
		if (better(half_range, w, best, mechanism))
			best = w;
	return best;
}

void
tly_mean_encoding_of(const struct tly_column *col, uint8_t mechanism, struct tly_mean_encoding *out)
{
	uint64_t span;

	TLY_REQUIRE(col->kind == TLY_COLUMN_INTEGER && col->min <= col->max);
	/* span = max - min in [0, 2^64 - 1]; c = min + floor(span / 2) is
	 * floor((min + max) / 2) and lies in [min, max], so it is an int64. */
	span = (uint64_t)col->max - (uint64_t)col->min;
	out->centre = (int64_t)((uint64_t)col->min + span / 2);
	out->half_range = span - span / 2; /* = max - c >= c - min */
	out->weight = tly_mean_weight(out->half_range, mechanism);
}

void
tly_spec_mean_encoding(const struct tly_spec *spec, const struct tly_catalogue *cat,
                       struct tly_mean_encoding *out)
{
	TLY_REQUIRE(spec->measure == TLY_MEASURE_MEAN && spec->measure_column >= 0);
	TLY_REQUIRE(spec->dataset >= 0 && (size_t)spec->dataset < cat->dataset_count);
	tly_mean_encoding_of(&cat->datasets[spec->dataset].columns[spec->measure_column],
	                     spec->mechanism, out);
}
