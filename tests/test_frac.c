/* crypto/frac: exact fractions. Boundary and overflow cases, and a property
 * test of every function against 128-bit reference arithmetic. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>

#include "crypto/frac.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"

__extension__ typedef unsigned __int128 u128;

#define F(n, d) ((struct tly_fraction){(n), (d)})
#define MAX     UINT64_MAX

static struct tly_rng rng;

static void
setup(void)
{
	tly_rng_init_seeded_u64(&rng, 13);
}

TestSuite(frac, .init = setup);

static u128
ref_gcd(u128 a, u128 b)
{
	while (b != 0) {
		u128 r = a % b;
		a = b;
		b = r;
	}
	return a;
}

static uint64_t
word(void)
{
	uint64_t w;
	tly_rng_bytes(&rng, &w, sizeof w);
	return w;
}

/* A 64-bit value of a random bit length, so that small values, values
 * with common factors and values near 2^64 all come up. */
static uint64_t
draw(void)
{
	unsigned bits = (unsigned)(word() % 64) + 1;
	uint64_t v = word();
	return bits == 64 ? v : v & ((UINT64_C(1) << bits) - 1);
}

static uint64_t
draw_nonzero(void)
{
	uint64_t v;
	do
		v = draw();
	while (v == 0);
	return v;
}

static void
assert_eq(struct tly_fraction got, uint64_t num, uint64_t den)
{
	cr_assert(got.num == num && got.den == den, "got %lu/%lu, want %lu/%lu",
	          (unsigned long)got.num, (unsigned long)got.den, (unsigned long)num,
	          (unsigned long)den);
}

Test(frac, gcd_edges)
{
	cr_assert_eq(tly_frac_gcd(0, 0), 0);
	cr_assert_eq(tly_frac_gcd(7, 0), 7);
	cr_assert_eq(tly_frac_gcd(0, 7), 7);
	cr_assert_eq(tly_frac_gcd(MAX, MAX), MAX);
	cr_assert_eq(tly_frac_gcd(MAX, MAX - 1), 1);
	cr_assert_eq(tly_frac_gcd(UINT64_C(1) << 63, UINT64_C(3) << 40), UINT64_C(1) << 40);
}

Test(frac, reduce_edges)
{
	assert_eq(tly_frac_reduce(F(0, 5)), 0, 1);
	assert_eq(tly_frac_reduce(F(6, 4)), 3, 2);
	assert_eq(tly_frac_reduce(F(MAX, MAX)), 1, 1);
	assert_eq(tly_frac_reduce(F(3, 1)), 3, 1);
	/* A zero denominator is left for the caller to refuse. */
	assert_eq(tly_frac_reduce(F(0, 0)), 0, 0);
	assert_eq(tly_frac_reduce(F(5, 0)), 1, 0);
}

Test(frac, valid)
{
	cr_assert(tly_frac_valid(F(0, 1)));
	cr_assert(tly_frac_valid(F(3, 2)));
	cr_assert(tly_frac_valid(F(MAX, MAX - 1)));
	cr_assert(!tly_frac_valid(F(0, 2)), "0 is 0/1 in lowest terms");
	cr_assert(!tly_frac_valid(F(6, 4)));
	cr_assert(!tly_frac_valid(F(1, 0)));
	cr_assert(!tly_frac_valid(F(0, 0)));
}

Test(frac, cmp_edges)
{
	cr_assert_eq(tly_frac_cmp(F(1, 2), F(2, 4)), 0);
	cr_assert_eq(tly_frac_cmp(F(0, 1), F(0, 7)), 0);
	cr_assert_eq(tly_frac_cmp(F(1, 3), F(1, 2)), -1);
	cr_assert_eq(tly_frac_cmp(F(MAX, 1), F(MAX - 1, 1)), 1);
	/* Cross products of 2^128 - 2^65 + 1 and 2^128 - 2^64: u64 would wrap. */
	cr_assert_eq(tly_frac_cmp(F(MAX, MAX - 1), F(MAX - 1, MAX - 2)), -1);
	cr_assert_eq(tly_frac_cmp(F(MAX - 1, MAX), F(MAX - 2, MAX - 1)), 1);
}

Test(frac, cmp_zero_denominator_is_misuse, .signal = SIGABRT)
{
	(void)tly_frac_cmp(F(1, 0), F(1, 1));
}

Test(frac, add_edges)
{
	struct tly_fraction out = F(9, 9);

	cr_assert_eq(tly_frac_add(F(1, 0), F(1, 1), &out), TLY_EINVAL);
	cr_assert_eq(tly_frac_add(F(1, 1), F(0, 0), &out), TLY_EINVAL);
	assert_eq(out, 9, 9); /* written only on success */
	cr_assert_eq(tly_frac_add(F(0, 3), F(0, 5), &out), TLY_OK);
	assert_eq(out, 0, 1);
	cr_assert_eq(tly_frac_add(F(1, 6), F(1, 3), &out), TLY_OK);
	assert_eq(out, 1, 2);
	cr_assert_eq(tly_frac_add(F(2, 4), F(3, 6), &out), TLY_OK, "unreduced inputs");
	assert_eq(out, 1, 1);
	/* The largest integer sum that fits, and one past it. */
	cr_assert_eq(tly_frac_add(F(MAX - 1, 1), F(1, 1), &out), TLY_OK);
	assert_eq(out, MAX, 1);
	cr_assert_eq(tly_frac_add(F(MAX, 1), F(1, 1), &out), TLY_ERANGE);
	/* Denominators whose product passes 2^64. */
	cr_assert_eq(tly_frac_add(F(1, MAX), F(1, MAX - 1), &out), TLY_ERANGE);
	/* A sum whose cross products pass 2^64 but that reduces into range. */
	cr_assert_eq(tly_frac_add(F(MAX - 1, MAX), F(1, MAX), &out), TLY_OK);
	assert_eq(out, 1, 1);
	/* t passes 2^128 (both cross products near 2^128): refused, not wrapped. */
	cr_assert_eq(tly_frac_add(F(MAX, MAX - 1), F(MAX, MAX - 2), &out), TLY_ERANGE);
	assert_eq(out, 1, 1);
}

Test(frac, div_edges)
{
	struct tly_fraction out = F(9, 9);

	cr_assert_eq(tly_frac_div_u64(F(1, 0), 2, &out), TLY_EINVAL);
	cr_assert_eq(tly_frac_div_u64(F(1, 2), 0, &out), TLY_EINVAL);
	assert_eq(out, 9, 9);
	cr_assert_eq(tly_frac_div_u64(F(0, 7), 5, &out), TLY_OK);
	assert_eq(out, 0, 1);
	cr_assert_eq(tly_frac_div_u64(F(6, 4), 9, &out), TLY_OK);
	assert_eq(out, 1, 6);
	cr_assert_eq(tly_frac_div_u64(F(1, UINT64_C(1) << 32), UINT64_C(1) << 32, &out),
	             TLY_ERANGE);
	/* 3 2^62 / 3 over 2^63 / 2: the unreduced denominator passes 2^64. */
	cr_assert_eq(
	    tly_frac_div_u64(F(UINT64_C(3) << 62, UINT64_C(1) << 63), UINT64_C(3) << 1, &out),
	    TLY_OK);
	assert_eq(out, 1, 4);
	cr_assert_eq(tly_frac_div_u64(F(MAX, 1), MAX, &out), TLY_OK);
	assert_eq(out, 1, 1);
}

/* The reference: 128-bit arithmetic on inputs small enough that the
 * unreduced results cannot overflow it, reduced at the end. */
static int
ref_reduce(u128 num, u128 den, struct tly_fraction *out)
{
	u128 g = ref_gcd(num, den);
	num /= g;
	den /= g;
	if (num > MAX || den > MAX)
		return 0;
	*out = F((uint64_t)num, (uint64_t)den);
	return 1;
}

Test(frac, property_against_u128)
{
	for (int i = 0; i < 100000; i++) {
		struct tly_fraction a = F(draw(), draw_nonzero()), b = F(draw(), draw_nonzero());
		struct tly_fraction got, want;
		uint64_t h = draw_nonzero();

		u128 g = ref_gcd(a.num, a.den);
		cr_assert_eq(tly_frac_gcd(a.num, a.den), (uint64_t)g);
		cr_assert(ref_reduce(a.num, a.den, &want));
		cr_assert(tly_frac_reduce(a).num == want.num && tly_frac_reduce(a).den == want.den);
		cr_assert_eq(tly_frac_valid(a), g == 1);

		u128 l = (u128)a.num * b.den, r = (u128)b.num * a.den;
		cr_assert_eq(tly_frac_cmp(a, b), (l > r) - (l < r));

		/* a.num/2 and b.num/2 keep the cross-product sum below 2^128. */
		a.num >>= 1;
		b.num >>= 1;
		int fits = ref_reduce((u128)a.num * b.den + (u128)b.num * a.den,
		                      (u128)a.den * b.den, &want);
		tly_err rv = tly_frac_add(a, b, &got);
		cr_assert_eq(rv, fits ? TLY_OK : TLY_ERANGE, "%d", i);
		if (fits)
			cr_assert(got.num == want.num && got.den == want.den, "add %d", i);

		fits = ref_reduce(a.num, (u128)a.den * h, &want);
		rv = tly_frac_div_u64(a, h, &got);
		cr_assert_eq(rv, fits ? TLY_OK : TLY_ERANGE, "div %d", i);
		if (fits)
			cr_assert(got.num == want.num && got.den == want.den, "div %d", i);
	}
}

/* Decimals for people: spent rounds up, remaining down, trailing zeros go. */
Test(frac, decimal_rounds_as_told)
{
	static const struct {
		uint64_t num, den;
		int places;
		const char *down, *up;
	} cases[] = {
	    {12200002001001u, 1000000000000u, 6, "12.200002", "12.200003"},
	    {1, 2, 6, "0.5", "0.5"},
	    {3, 1, 6, "3", "3"},
	    {0, 1, 6, "0", "0"},
	    {1, 3, 6, "0.333333", "0.333334"},
	    {2, 3, 0, "0", "1"},
	    {999999999, 1000000000, 6, "0.999999", "1"},
	    {1, 10000000, 6, "0", "0.000001"},
	    {MAX, 1, 6, "18446744073709551615", "18446744073709551615"},
	    {MAX, MAX - 1, 18, "1", "1.000000000000000001"},
	};
	char text[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tly_fraction f = F(cases[i].num, cases[i].den);
		tly_frac_decimal(text, sizeof text, f, cases[i].places, TLY_FRAC_DOWN);
		cr_assert_str_eq(text, cases[i].down, "case %zu down", i);
		tly_frac_decimal(text, sizeof text, f, cases[i].places, TLY_FRAC_UP);
		cr_assert_str_eq(text, cases[i].up, "case %zu up", i);
	}
}

Test(frac, decimal_bad_places_is_misuse, .signal = SIGABRT)
{
	char text[64];
	tly_frac_decimal(text, sizeof text, F(1, 2), TLY_FRAC_PLACES_MAX + 1, TLY_FRAC_UP);
}
