#include "frac.h"

#include <inttypes.h>
#include <stdio.h>

/* Products of two 64-bit values. */
__extension__ typedef unsigned __int128 u128;

uint64_t
tly_frac_gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t r = a % b;
		a = b;
		b = r;
	}
	return a;
}

struct tly_fraction
tly_frac_reduce(struct tly_fraction f)
{
	uint64_t g = tly_frac_gcd(f.num, f.den);

	if (g > 1) {
		f.num /= g;
		f.den /= g;
	}
	return f;
}

int
tly_frac_valid(struct tly_fraction f)
{
	return f.den != 0 && tly_frac_gcd(f.num, f.den) == 1;
}

int
tly_frac_cmp(struct tly_fraction a, struct tly_fraction b)
{
	TLY_REQUIRE(a.den != 0 && b.den != 0);
	u128 left = (u128)a.num * b.den, right = (u128)b.num * a.den;
	return (left > right) - (left < right);
}

/*
 * Knuth, TAOCP vol. 2, 4.5.1: with a = u/u', b = v/v' reduced and
 * d1 = gcd(u', v'), t = u (v'/d1) + v (u'/d1) and d2 = gcd(t, d1), the sum
 * in lowest terms is (t/d2) / ((u'/d1)(v'/d2)). Each product is below
 * 2^128. Their sum t may wrap only when the denominator does not fit:
 * t >= 2^128 needs one product >= 2^127, say u (v'/d1), so v'/d1 > 2^63;
 * then a denominator below 2^64 needs u'/d1 = 1, so the other product is
 * v < 2^64 and u (v'/d1) < (2^64 - 1)^2 leaves t < 2^128. So a wrapped t
 * always ends in TLY_ERANGE from the denominator check.
 */
tly_err
tly_frac_add(struct tly_fraction a, struct tly_fraction b, struct tly_fraction *out)
{
	if (a.den == 0 || b.den == 0)
		return TLY_EINVAL;
	a = tly_frac_reduce(a);
	b = tly_frac_reduce(b);
	uint64_t d1 = tly_frac_gcd(a.den, b.den);
	u128 x = (u128)a.num * (b.den / d1), y = (u128)b.num * (a.den / d1);
	u128 t = x + y; /* may wrap: see above */
	uint64_t d2 = tly_frac_gcd((uint64_t)(t % d1), d1);
	u128 num = t / d2, den = (u128)(a.den / d1) * (b.den / d2);
	if (num > UINT64_MAX || den > UINT64_MAX)
		return TLY_ERANGE;
	*out = (struct tly_fraction){(uint64_t)num, (uint64_t)den};
	return TLY_OK;
}

/* num/(den h) is in lowest terms once num shares no factor with den
 * nor with h. */
tly_err
tly_frac_div_u64(struct tly_fraction f, uint64_t h, struct tly_fraction *out)
{
	if (f.den == 0 || h == 0)
		return TLY_EINVAL;
	uint64_t common = tly_frac_gcd(f.num, h);
	f.num /= common;
	h /= common;
	f = tly_frac_reduce(f);
	u128 den = (u128)f.den * h;
	if (den > UINT64_MAX)
		return TLY_ERANGE;
	*out = (struct tly_fraction){f.num, (uint64_t)den};
	return TLY_OK;
}

/* The digits after the point: floor or ceiling of rest 10^places / den,
 * exact in 128 bits (rest < den < 2^64, 10^places < 2^60). */
static uint64_t
decimal_digits(uint64_t rest, uint64_t den, uint64_t scale, enum tly_frac_round round)
{
	u128 scaled = (u128)rest * scale;
	uint64_t digits = (uint64_t)(scaled / den);

	if (round == TLY_FRAC_UP && scaled % den != 0)
		digits++;
	return digits;
}

void
tly_frac_decimal(char *out, size_t len, struct tly_fraction f, int places,
                 enum tly_frac_round round)
{
	uint64_t scale = 1;

	TLY_REQUIRE(f.den != 0 && places >= 0 && places <= TLY_FRAC_PLACES_MAX);
	for (int i = 0; i < places; i++)
		scale *= 10;
	uint64_t whole = f.num / f.den;
	uint64_t digits = decimal_digits(f.num % f.den, f.den, scale, round);
	if (digits == scale) { /* rounded up to the next whole: f.den >= 2 */
		whole++;
		digits = 0;
	}
	while (places > 0 && digits % 10 == 0) {
		digits /= 10;
		places--;
	}
	if (places == 0)
		snprintf(out, len, "%" PRIu64, whole);
	else
		snprintf(out, len, "%" PRIu64 ".%0*" PRIu64, whole, places, digits);
}
