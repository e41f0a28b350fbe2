/* The privacy accountant (query/budget.h): cdp2adp known answers, the
 * rounded-down zCDP cap and its soundness, the combined rule, the issue's
 * sequence (epsilon spent to 20/20, then rho queries), the crossing
 * charge, and m sites. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "query/budget.h"

#define F(n, d) ((struct tly_fraction){(n), (d)})

static const struct tly_fraction one_in_a_million = {1, 1000000};

/* CKS cdp2adp.py in long double: the alpha minimising eps(alpha) solves
 * (alpha - 1)^2 rho = ln(1/delta) - ln(alpha), found by bisection. An
 * independent reference for the fixed-point code. */
static double
reference(double rho, double delta)
{
	long double L = logl(1 / (long double)delta), lo = 1 + 1e-12L, hi = 1e9L, a = 2;

	for (int i = 0; i < 400; i++) {
		a = (lo + hi) / 2;
		if ((a - 1) * (a - 1) * rho < L - logl(a))
			lo = a;
		else
			hi = a;
	}
	/* cdp2adp.py searches epsilon in [0, ...): never below 0 */
	return (double)fmaxl(0, a * rho + (L - logl(a)) / (a - 1) + log1pl(-1 / a));
}

static double
cdp2adp(struct tly_fraction rho, struct tly_fraction delta)
{
	double eps = -1;

	cr_assert_eq(tly_budget_cdp2adp(rho, delta, &eps), TLY_OK);
	return eps;
}

Test(budget, cdp2adp_known_answers_at_delta_1e6)
{
	/* The issue's table, to 3 decimals (and 4 for 0.1829). */
	const struct {
		struct tly_fraction rho;
		const char *three, *four;
	} known[] = {
	    {F(1, 1000), "0.183", "0.1829"}, {F(1, 2), "5.222", NULL}, {F(1, 1), "7.766", NULL}};
	char text[32];

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		double eps = cdp2adp(known[i].rho, one_in_a_million);
		double ref = reference((double)known[i].rho.num / (double)known[i].rho.den, 1e-6);
		snprintf(text, sizeof text, "%.3f", eps);
		cr_expect_str_eq(text, known[i].three, "rho %lu/%lu", known[i].rho.num,
		                 known[i].rho.den);
		if (known[i].four != NULL) {
			snprintf(text, sizeof text, "%.4f", eps);
			cr_expect_str_eq(text, known[i].four);
		}
		/* an upper bound on the infimum, and a tight one */
		cr_expect_geq(eps, ref - 1e-12, "%.12f below the reference %.12f", eps, ref);
		cr_expect_leq(eps, ref + 1e-6, "%.12f loose against %.12f", eps, ref);
	}
	/* and the old formula is gone: rho + 2 sqrt(rho ln(1/delta)) = 5.755 at 0.5 */
	cr_expect_lt(cdp2adp(F(1, 2), one_in_a_million), 5.3);
	cr_expect_eq(cdp2adp(F(0, 1), one_in_a_million), 0.0);
}

Test(budget, cdp2adp_tracks_the_reference_over_a_range)
{
	const struct tly_fraction rhos[] = {F(1, 1000000), F(1, 100), F(1, 10),
	                                    F(3, 1),       F(20, 1),  F(1000, 1)};
	const struct tly_fraction deltas[] = {F(1, 1000), F(1, 1000000), F(1, 1000000000)};

	for (size_t i = 0; i < sizeof rhos / sizeof rhos[0]; i++)
		for (size_t j = 0; j < sizeof deltas / sizeof deltas[0]; j++) {
			double eps = cdp2adp(rhos[i], deltas[j]);
			double ref = reference((double)rhos[i].num / (double)rhos[i].den,
			                       (double)deltas[j].num / (double)deltas[j].den);
			cr_expect_geq(eps, ref - 1e-12 * (1 + ref), "rho %lu/%lu delta 1/%lu",
			              rhos[i].num, rhos[i].den, deltas[j].den);
			cr_expect_leq(eps, ref + 1e-6 * (1 + ref), "rho %lu/%lu delta 1/%lu",
			              rhos[i].num, rhos[i].den, deltas[j].den);
		}
}

static struct tly_fraction
rho_cap(struct tly_fraction eps, struct tly_fraction delta, uint32_t sites)
{
	struct tly_budget_cap cap = {eps, delta, sites};
	struct tly_fraction out = {0, 0};

	cr_assert_eq(tly_budget_rho_cap(&cap, &out), TLY_OK);
	cr_assert(tly_ledger_fraction_valid(out));
	return out;
}

Test(budget, rho_cap_is_rounded_down_and_sound)
{
	const struct tly_fraction epsilons[] = {F(1, 100), F(1, 1), F(10, 1), F(20, 1), F(200, 1)};
	const uint32_t sites[] = {1, 2, 3};

	for (size_t i = 0; i < sizeof epsilons / sizeof epsilons[0]; i++)
		for (size_t k = 0; k < sizeof sites / sizeof sites[0]; k++) {
			struct tly_fraction cap = rho_cap(epsilons[i], one_in_a_million, sites[k]);
			double eps = (double)epsilons[i].num / (double)epsilons[i].den;
			double total = sites[k] * (double)cap.num / (double)cap.den;
			/* sound: m sites at the cap stay within epsilon, by the
			 * fixed-point bound and by the reference */
			cr_expect_leq(reference(total, 1e-6), eps + 1e-12, "eps %g m %u", eps,
			              sites[k]);
			/* tight: one more 1e-6 of rho per site would not be */
			cr_expect_gt(reference(total + 1e-5 * sites[k], 1e-6), eps, "eps %g m %u",
			             eps, sites[k]);
			cr_expect_eq(TLY_BUDGET_RHO_CAP_DEN % cap.den, 0);
		}
	/* The default cap: rho* (20, 1e-6) = 4.78937... */
	struct tly_fraction cap = rho_cap(F(20, 1), one_in_a_million, 1);
	cr_expect(fabs((double)cap.num / (double)cap.den - 4.789373) < 1e-5, "%lu/%lu", cap.num,
	          cap.den);
	cr_expect_eq(rho_cap(F(0, 1), one_in_a_million, 1).num, 0);
}

Test(budget, rho_cap_divides_by_the_sites)
{
	struct tly_fraction one = rho_cap(F(20, 1), one_in_a_million, 1);
	struct tly_fraction two = rho_cap(F(20, 1), one_in_a_million, 2);
	double a = (double)one.num / (double)one.den, b = (double)two.num / (double)two.den;

	cr_expect(b <= a / 2 && b > a / 2 - 2e-9, "%.9f vs %.9f", a, b);
}

Test(budget, bad_caps_refused)
{
	struct tly_fraction out;
	const struct tly_budget_cap bad[] = {
	    {F(20, 1), F(0, 1), 1},
	    {F(20, 1), F(1, 1), 1},
	    {F(20, 1), F(2, 1), 1},
	    {F(20, 1), F(2, 4), 1},
	    {F(20, 0), F(1, 2), 1},
	    {F(20, 1), F(1, 2), 0},
	    {F(20, 1), F(1, 2), TLY_BUDGET_SITES_MAX + 1},
	};
	double eps;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_eq(tly_budget_rho_cap(&bad[i], &out), TLY_EINVAL, "cap %zu", i);
	cr_expect_eq(tly_budget_cdp2adp(F(1, 1), F(1, 1), &eps), TLY_EINVAL);
	cr_expect_eq(tly_budget_cdp2adp(F(2, 2), F(1, 2), &eps), TLY_EINVAL);
}

static struct tly_budget_spent
charge(struct tly_budget_spent s, uint8_t mechanism, struct tly_fraction amount)
{
	struct tly_budget_spent out;

	cr_assert_eq(tly_budget_add(&s, mechanism, amount, &out), TLY_OK);
	return out;
}

Test(budget, add_counts_pure_epsilon_as_its_square_over_two)
{
	struct tly_budget_spent s = charge(tly_budget_none(), TLY_MECH_LAPLACE, F(1, 2));
	s = charge(s, TLY_MECH_LAPLACE, F(3, 10));
	s = charge(s, TLY_MECH_SKELLAM, F(1, 4));
	cr_expect(s.epsilon.num == 4 && s.epsilon.den == 5);
	/* 1/8 + 9/200 = 34/200 = 17/100 */
	cr_expect(s.epsilon_rho.num == 17 && s.epsilon_rho.den == 100, "%lu/%lu", s.epsilon_rho.num,
	          s.epsilon_rho.den);
	cr_expect(s.rho.num == 1 && s.rho.den == 4);
	struct tly_budget_spent out;
	cr_expect_eq(tly_budget_add(&s, 3, F(1, 1), &out), TLY_EINVAL);
	cr_expect_eq(tly_budget_add(&s, TLY_MECH_LAPLACE, F(0, 1), &out), TLY_EINVAL);
	/* eps = 2^-33: Q + 2^-67 does not fit u64/u64 and is rounded up */
	cr_assert_eq(tly_budget_add(&s, TLY_MECH_LAPLACE, F(1, 1ULL << 33), &out), TLY_OK);
	cr_expect_gt(tly_ledger_fraction_cmp(out.epsilon_rho, F(17, 100)), 0, "rounded up");
	cr_expect_lt(
	    tly_ledger_fraction_cmp(out.epsilon_rho, F(17 * (1ULL << 55) + 2, 100ULL << 55)), 0,
	    "by little: %lu/%lu", out.epsilon_rho.num, out.epsilon_rho.den);
	/* E itself stays exact: past u64 it is refused */
	s.epsilon = F(UINT64_MAX, 1);
	cr_expect_eq(tly_budget_add(&s, TLY_MECH_LAPLACE, F(1, 1), &out), TLY_ERANGE);
}

/* Admit charges while within the cap, as the ledger does; how many. */
static int
admitted(struct tly_budget_spent *s, const struct tly_budget_cap *cap, uint8_t mechanism,
         struct tly_fraction amount, int tries)
{
	struct tly_fraction rho = {0, 1};
	int n = 0;

	cr_assert_eq(tly_budget_rho_cap(cap, &rho), TLY_OK);
	for (int i = 0; i < tries; i++) {
		struct tly_budget_spent next = charge(*s, mechanism, amount);
		if (tly_budget_within(&next, cap, rho) == TLY_BUDGET_OVER)
			continue;
		*s = next;
		n++;
	}
	return n;
}

Test(budget, issue_sequence_epsilon_20_then_rho_is_refused)
{
	/* The old defaults spent epsilon to 20/20 and then released nine
	 * rho = 0.5 queries. One cap (20, 1e-6): the ten epsilon = 2 queries
	 * pass by basic composition, and then nothing of rho. */
	struct tly_budget_cap cap = {F(20, 1), one_in_a_million, 1};
	struct tly_budget_spent s = tly_budget_none();

	cr_expect_eq(admitted(&s, &cap, TLY_MECH_LAPLACE, F(2, 1), 12), 10);
	cr_expect(s.epsilon.num == 20 && s.epsilon.den == 1);
	cr_expect_eq(admitted(&s, &cap, TLY_MECH_SKELLAM, F(1, 2), 9), 0);
	cr_expect_eq(admitted(&s, &cap, TLY_MECH_SKELLAM, F(1, 1000000), 1), 0);
}

Test(budget, rho_alone_stops_at_the_converted_cap)
{
	struct tly_budget_cap cap = {F(20, 1), one_in_a_million, 1};
	struct tly_budget_spent s = tly_budget_none();
	double eps, delta;

	/* rho* = 4.789...: nine queries of 0.5 (4.5), not ten */
	cr_expect_eq(admitted(&s, &cap, TLY_MECH_SKELLAM, F(1, 2), 12), 9);
	cr_assert_eq(tly_budget_guarantee(&s, &cap, &eps, &delta), TLY_OK);
	cr_expect(eps <= 20 && eps > 19, "%.6f", eps);
	cr_expect_eq(delta, 1e-6);
	/* then a pure query counts as eps^2/2: 2 would add 2 (over), 0.5 adds 1/8 */
	cr_expect_eq(admitted(&s, &cap, TLY_MECH_LAPLACE, F(2, 1), 1), 0);
	cr_expect_eq(admitted(&s, &cap, TLY_MECH_LAPLACE, F(1, 2), 1), 1);
}

Test(budget, the_charge_that_crosses_the_cap_is_refused)
{
	/* 9/10 spent, 2/10 more against a total of 1 */
	struct tly_budget_cap cap = {F(1, 1), one_in_a_million, 1};
	struct tly_budget_spent s = charge(tly_budget_none(), TLY_MECH_LAPLACE, F(9, 10));
	struct tly_fraction rho;

	cr_assert_eq(tly_budget_rho_cap(&cap, &rho), TLY_OK);
	cr_expect_eq(tly_budget_within(&s, &cap, rho), TLY_BUDGET_BASIC);
	struct tly_budget_spent next = charge(s, TLY_MECH_LAPLACE, F(1, 5));
	cr_expect_eq(tly_budget_within(&next, &cap, rho), TLY_BUDGET_OVER);
	next = charge(s, TLY_MECH_LAPLACE, F(1, 10));
	cr_expect_eq(tly_budget_within(&next, &cap, rho), TLY_BUDGET_BASIC, "exactly 1/1 is in");
	/* the same for rho: cap 0.02435..., 0.02 spent, 0.005 more crosses */
	s = charge(tly_budget_none(), TLY_MECH_SKELLAM, F(1, 50));
	cr_expect_eq(tly_budget_within(&s, &cap, rho), TLY_BUDGET_ZCDP);
	next = charge(s, TLY_MECH_SKELLAM, F(1, 200));
	cr_expect_eq(tly_budget_within(&next, &cap, rho), TLY_BUDGET_OVER);
}

Test(budget, two_sites_per_person_halve_the_cap)
{
	/* m = 2: zCDP only, at rho* / 2 per site; pure queries too */
	struct tly_budget_cap one = {F(20, 1), one_in_a_million, 1};
	struct tly_budget_cap two = {F(20, 1), one_in_a_million, 2};
	struct tly_budget_spent s = tly_budget_none();

	cr_expect_eq(admitted(&s, &two, TLY_MECH_SKELLAM, F(1, 2), 12), 4);
	s = tly_budget_none();
	cr_expect_eq(admitted(&s, &one, TLY_MECH_SKELLAM, F(1, 2), 12), 9);
	/* pure epsilon 2 counts 2 each against rho* / 2 = 2.39: one query, not ten */
	s = tly_budget_none();
	cr_expect_eq(admitted(&s, &two, TLY_MECH_LAPLACE, F(2, 1), 12), 1);
	s = tly_budget_none();
	cr_expect_eq(admitted(&s, &one, TLY_MECH_LAPLACE, F(2, 1), 12), 10);
}
