/* The privacy accountant: exact sums, the combined cap, and CKS cdp2adp
 * with every logarithm bounded in integer fixed point. See budget.h. */
#include "query/budget.h"

#include <gmp.h>
#include <math.h>
#include <string.h>

#include "wire/messages.h"

/*
 * Fixed point: a value x is held as an mpz near x 2^FRAC_BITS. Logs come
 * from ln(y) = 2 atanh((y - 1)/(y + 1)) on y in [1, 2), where the series
 * argument is at most 1/3: SERIES_TERMS terms leave a tail below 3^-97,
 * under one unit of 2^-128.
 *
 * alpha runs over n / 2^ALPHA_BITS for n in (2^ALPHA_BITS, 2^ALPHA_MAX_BITS].
 */
enum {
	FRAC_BITS = 128,
	SERIES_TERMS = 48,
	ALPHA_BITS = 16,
	ALPHA_MAX_BITS = ALPHA_BITS + 24,
};

static void
set_u64(mpz_t z, uint64_t v)
{
	mpz_import(z, 1, 1, sizeof v, 0, 0, &v);
}

static void
set_fraction(mpq_t q, struct tly_fraction f)
{
	set_u64(mpq_numref(q), f.num);
	set_u64(mpq_denref(q), f.den);
	mpq_canonicalize(q);
}

/* f as a reduced u64 fraction; 0 when it does not fit. */
static int
get_fraction(const mpq_t q, struct tly_fraction *f)
{
	if (mpz_sgn(mpq_numref(q)) < 0 || mpz_sizeinbase(mpq_numref(q), 2) > 64 ||
	    mpz_sizeinbase(mpq_denref(q), 2) > 64)
		return 0;
	f->num = 0;
	f->den = 0;
	mpz_export(&f->num, NULL, 1, sizeof f->num, 0, 0, mpq_numref(q));
	mpz_export(&f->den, NULL, 1, sizeof f->den, 0, 0, mpq_denref(q));
	return 1;
}

/* ---- logarithms, bounded ---- */

/* lo <= 2^FRAC_BITS atanh(u/v) <= hi, for 0 <= u/v <= 1/3. Each term
 * t_j = floor(t_{j-1} u^2 / v^2) is at most 9/8 below its true value
 * (the errors shrink by z^2 <= 1/9 each step), so each summand is at most
 * 3 units low; the tail adds at most 1. */
static void
atanh_bounds(mpz_t lo, mpz_t hi, const mpz_t u, const mpz_t v)
{
	mpz_t t, u2, v2, term;

	mpz_inits(t, u2, v2, term, NULL);
	mpz_mul_2exp(t, u, FRAC_BITS);
	mpz_fdiv_q(t, t, v);
	mpz_mul(u2, u, u);
	mpz_mul(v2, v, v);
	mpz_set_ui(lo, 0);
	for (unsigned long j = 0; j < SERIES_TERMS; j++) {
		mpz_fdiv_q_ui(term, t, 2 * j + 1);
		mpz_add(lo, lo, term);
		mpz_mul(t, t, u2);
		mpz_fdiv_q(t, t, v2);
	}
	mpz_add_ui(hi, lo, 3 * SERIES_TERMS + 1);
	mpz_clears(t, u2, v2, term, NULL);
}

/* lo <= 2^FRAC_BITS ln(p/q) <= hi, for p >= q > 0. */
static void
ln_bounds(mpz_t lo, mpz_t hi, const mpz_t p, const mpz_t q)
{
	mpz_t scaled, u, v, lo2, hi2;
	size_t k;

	mpz_inits(scaled, u, v, lo2, hi2, NULL);
	/* k = floor(log2(p/q)), so that y = p / (q 2^k) is in [1, 2). */
	k = mpz_sizeinbase(p, 2) - mpz_sizeinbase(q, 2);
	mpz_mul_2exp(scaled, q, k);
	if (mpz_cmp(scaled, p) > 0) {
		k--;
		mpz_fdiv_q_2exp(scaled, scaled, 1);
	}
	mpz_sub(u, p, scaled);
	mpz_add(v, p, scaled);
	atanh_bounds(lo, hi, u, v);
	/* ln 2 = 2 atanh(1/3) */
	mpz_set_ui(u, 1);
	mpz_set_ui(v, 3);
	atanh_bounds(lo2, hi2, u, v);
	mpz_addmul_ui(lo, lo2, (unsigned long)k);
	mpz_addmul_ui(hi, hi2, (unsigned long)k);
	mpz_mul_2exp(lo, lo, 1);
	mpz_mul_2exp(hi, hi, 1);
	mpz_clears(scaled, u, v, lo2, hi2, NULL);
}

/* ---- the conversion at one alpha = n / 2^ALPHA_BITS ---- */

/* What does not depend on alpha: the bounds on ln(1/delta), and the
 * fixed-point epsilon, in the direction each use needs. */
struct conversion {
	mpz_t ln_inv_delta_hi;
	mpz_t value; /* epsilon rounded down (rho_cap) or rho rounded up (cdp2adp) */
};

static void
conversion_init(struct conversion *c, struct tly_fraction delta)
{
	mpz_t p, q, lo;

	mpz_inits(p, q, lo, c->ln_inv_delta_hi, c->value, NULL);
	set_u64(p, delta.den);
	set_u64(q, delta.num);
	ln_bounds(lo, c->ln_inv_delta_hi, p, q);
	mpz_clears(p, q, lo, NULL);
}

static void
conversion_fini(struct conversion *c)
{
	mpz_clears(c->ln_inv_delta_hi, c->value, NULL);
}

/* *x = 2^FRAC_BITS f, rounded down (up when `up`). */
static void
fixed(mpz_t x, struct tly_fraction f, int up)
{
	mpz_t den;

	mpz_init(den);
	set_u64(x, f.num);
	set_u64(den, f.den);
	mpz_mul_2exp(x, x, FRAC_BITS);
	if (up)
		mpz_cdiv_q(x, x, den);
	else
		mpz_fdiv_q(x, x, den);
	mpz_clear(den);
}

/*
 * The two alpha-dependent terms of eps(alpha) - rho alpha, bounded above:
 *   *penalty >= (ln(1/delta) - ln alpha) / (alpha - 1) + ln(1 - 1/alpha)
 * where ln(1 - 1/alpha) = -ln(n / (n - 2^ALPHA_BITS)).
 */
static void
penalty_hi(mpz_t penalty, const struct conversion *c, const mpz_t n)
{
	mpz_t grid, gap, lo, hi, x;

	mpz_inits(grid, gap, lo, hi, x, NULL);
	mpz_setbit(grid, ALPHA_BITS);
	mpz_sub(gap, n, grid); /* (alpha - 1) 2^ALPHA_BITS */
	ln_bounds(lo, hi, n, grid);
	mpz_sub(x, c->ln_inv_delta_hi, lo);
	mpz_mul_2exp(x, x, ALPHA_BITS);
	mpz_cdiv_q(penalty, x, gap);
	ln_bounds(lo, hi, n, gap);
	mpz_sub(penalty, penalty, lo);
	mpz_clears(grid, gap, lo, hi, x, NULL);
}

/* A lower bound on the largest rho whose eps(alpha) is at most epsilon:
 * (epsilon - penalty) / alpha, rounded down. */
static void
rho_at(mpz_t rho, const struct conversion *c, const mpz_t n)
{
	penalty_hi(rho, c, n);
	mpz_sub(rho, c->value, rho);
	mpz_mul_2exp(rho, rho, ALPHA_BITS);
	mpz_fdiv_q(rho, rho, n);
}

/* An upper bound on eps(alpha) = rho alpha + penalty, rounded up. */
static void
epsilon_at(mpz_t epsilon, const struct conversion *c, const mpz_t n)
{
	mpz_t x;

	mpz_init(x);
	penalty_hi(epsilon, c, n);
	mpz_mul(x, c->value, n);
	mpz_cdiv_q_2exp(x, x, ALPHA_BITS);
	mpz_add(epsilon, epsilon, x);
	mpz_clear(x);
}

/*
 * The grid point n that maximises rho_at (or minimises epsilon_at), by
 * binary search on the sign of the step to n + 1. Both are unimodal in
 * alpha up to the last bits of the fixed point; any n gives a valid bound,
 * so a search that stops near the optimum only costs tightness.
 */
static void
best_alpha(mpz_t n, const struct conversion *c, int for_rho)
{
	mpz_t lo, hi, mid, next, a, b;

	mpz_inits(lo, hi, mid, next, a, b, NULL);
	mpz_setbit(lo, ALPHA_BITS);
	mpz_add_ui(lo, lo, 1);
	mpz_setbit(hi, ALPHA_MAX_BITS);
	while (mpz_cmp(lo, hi) < 0) {
		mpz_add(mid, lo, hi);
		mpz_fdiv_q_2exp(mid, mid, 1);
		mpz_add_ui(next, mid, 1);
		if (for_rho) {
			rho_at(a, c, mid);
			rho_at(b, c, next);
		} else {
			epsilon_at(b, c, mid);
			epsilon_at(a, c, next);
		}
		if (mpz_cmp(a, b) < 0) /* still improving at mid + 1 */
			mpz_set(lo, next);
		else
			mpz_set(hi, mid);
	}
	mpz_set(n, lo);
	mpz_clears(lo, hi, mid, next, a, b, NULL);
}

/* ---- public ---- */

static int
delta_valid(struct tly_fraction d)
{
	return tly_ledger_fraction_valid(d) && d.num > 0 && d.num < d.den;
}

int
tly_budget_cap_valid(const struct tly_budget_cap *cap)
{
	return tly_ledger_fraction_valid(cap->epsilon_total) && delta_valid(cap->delta_total) &&
	       cap->sites >= 1 && cap->sites <= TLY_BUDGET_SITES_MAX;
}

struct tly_budget_spent
tly_budget_none(void)
{
	struct tly_budget_spent s = {{0, 1}, {0, 1}, {0, 1}};
	return s;
}

tly_err
tly_budget_rho_cap(const struct tly_budget_cap *cap, struct tly_fraction *out)
{
	struct conversion c;
	mpz_t n, rho;
	uint64_t num = UINT64_MAX;
	uint64_t den = TLY_BUDGET_RHO_CAP_DEN;

	if (!tly_budget_cap_valid(cap))
		return TLY_EINVAL;
	conversion_init(&c, cap->delta_total);
	mpz_inits(n, rho, NULL);
	fixed(c.value, cap->epsilon_total, 0);
	best_alpha(n, &c, 1);
	rho_at(rho, &c, n);
	if (mpz_sgn(rho) <= 0)
		mpz_set_ui(rho, 0);
	/* floor(rho 1e9 / (2^FRAC_BITS m)); saturating is rounding down too */
	mpz_mul_ui(rho, rho, TLY_BUDGET_RHO_CAP_DEN);
	mpz_fdiv_q_2exp(rho, rho, FRAC_BITS);
	mpz_fdiv_q_ui(rho, rho, cap->sites);
	if (mpz_sizeinbase(rho, 2) <= 64) {
		num = 0;
		mpz_export(&num, NULL, 1, sizeof num, 0, 0, rho);
	}
	mpz_clears(n, rho, NULL);
	conversion_fini(&c);
	/* reduced by GMP, as every other fraction here */
	mpq_t q;
	mpq_init(q);
	set_fraction(q, (struct tly_fraction){num, den});
	int fits = get_fraction(q, out);
	mpq_clear(q);
	TLY_REQUIRE(fits); /* num and den already fit u64 */
	return TLY_OK;
}

/* *f = q when it fits u64/u64; else q rounded up to a multiple of 2^-k
 * with the largest k whose numerator fits (never down: Q only ever bounds
 * the loss from above). 0 when even the integer part does not fit. */
static int
fraction_up(const mpq_t q, struct tly_fraction *f)
{
	mpz_t scaled;
	size_t k, whole;
	int fits;

	if (get_fraction(q, f))
		return 1;
	mpz_init(scaled);
	mpz_fdiv_q(scaled, mpq_numref(q), mpq_denref(q));
	whole = mpz_sgn(scaled) == 0 ? 0 : mpz_sizeinbase(scaled, 2);
	fits = whole < 64;
	if (fits) {
		k = 63 - whole;
		mpz_mul_2exp(scaled, mpq_numref(q), k);
		mpz_cdiv_q(scaled, scaled, mpq_denref(q));
		fits = mpz_sizeinbase(scaled, 2) <= 64;
		if (fits) {
			mpq_t rounded;
			mpq_init(rounded);
			mpz_set(mpq_numref(rounded), scaled);
			mpz_set_ui(mpq_denref(rounded), 1);
			mpz_mul_2exp(mpq_denref(rounded), mpq_denref(rounded), k);
			mpq_canonicalize(rounded);
			fits = get_fraction(rounded, f);
			mpq_clear(rounded);
		}
	}
	mpz_clear(scaled);
	return fits;
}

tly_err
tly_budget_add(const struct tly_budget_spent *had, uint8_t mechanism, struct tly_fraction amount,
               struct tly_budget_spent *out)
{
	struct tly_budget_spent s = *had;
	mpq_t q, sum;
	int fits;

	if (amount.num == 0 || !tly_ledger_fraction_valid(amount) ||
	    !tly_ledger_fraction_valid(had->epsilon_rho))
		return TLY_EINVAL;
	if (mechanism == TLY_MECH_SKELLAM) {
		if (tly_ledger_fraction_add(s.rho, amount, &s.rho) != TLY_OK)
			return TLY_ERANGE;
		*out = s;
		return TLY_OK;
	}
	if (mechanism != TLY_MECH_LAPLACE)
		return TLY_EINVAL;
	if (tly_ledger_fraction_add(s.epsilon, amount, &s.epsilon) != TLY_OK)
		return TLY_ERANGE;
	/* Q + eps^2/2, exact in GMP, then stored exactly or rounded up */
	mpq_inits(q, sum, NULL);
	set_fraction(q, amount);
	mpq_mul(q, q, q);
	mpz_mul_2exp(mpq_denref(q), mpq_denref(q), 1);
	mpq_canonicalize(q);
	set_fraction(sum, had->epsilon_rho);
	mpq_add(sum, sum, q);
	fits = fraction_up(sum, &s.epsilon_rho);
	mpq_clears(q, sum, NULL);
	if (!fits)
		return TLY_ERANGE;
	*out = s;
	return TLY_OK;
}

/* Nonzero when a + b <= c, exactly. */
static int
sum_at_most(struct tly_fraction a, struct tly_fraction b, struct tly_fraction c)
{
	mpq_t x, y;
	int ok;

	mpq_inits(x, y, NULL);
	set_fraction(x, a);
	set_fraction(y, b);
	mpq_add(x, x, y);
	set_fraction(y, c);
	ok = mpq_cmp(x, y) <= 0;
	mpq_clears(x, y, NULL);
	return ok;
}

enum tly_budget_rule
tly_budget_within(const struct tly_budget_spent *s, const struct tly_budget_cap *cap,
                  struct tly_fraction rho_cap)
{
	if (cap->sites == 1 && s->rho.num == 0 &&
	    tly_ledger_fraction_cmp(s->epsilon, cap->epsilon_total) <= 0)
		return TLY_BUDGET_BASIC;
	if (sum_at_most(s->epsilon_rho, s->rho, rho_cap))
		return TLY_BUDGET_ZCDP;
	return TLY_BUDGET_OVER;
}

/* x / 2^FRAC_BITS as a double, rounded up (x >= 0). */
static double
fixed_up(const mpz_t x)
{
	long exp;
	double d = mpz_get_d_2exp(&exp, x); /* truncated: at most x */

	return nextafter(ldexp(d, (int)(exp - FRAC_BITS)), INFINITY);
}

tly_err
tly_budget_cdp2adp(struct tly_fraction rho, struct tly_fraction delta, double *epsilon)
{
	struct conversion c;
	mpz_t n, eps;

	if (!tly_ledger_fraction_valid(rho) || !delta_valid(delta))
		return TLY_EINVAL;
	if (rho.num == 0) {
		*epsilon = 0;
		return TLY_OK;
	}
	conversion_init(&c, delta);
	mpz_inits(n, eps, NULL);
	fixed(c.value, rho, 1);
	best_alpha(n, &c, 0);
	epsilon_at(eps, &c, n);
	*epsilon = mpz_sgn(eps) > 0 ? fixed_up(eps) : 0;
	mpz_clears(n, eps, NULL);
	conversion_fini(&c);
	return TLY_OK;
}

tly_err
tly_budget_guarantee(const struct tly_budget_spent *s, const struct tly_budget_cap *cap,
                     double *epsilon, double *delta)
{
	struct tly_fraction zcdp;
	double basic, converted;
	mpz_t x;
	tly_err rv;

	if (!tly_budget_cap_valid(cap))
		return TLY_EINVAL;
	if (tly_ledger_fraction_add(s->epsilon_rho, s->rho, &zcdp) != TLY_OK)
		return TLY_ERANGE;
	if ((rv = tly_budget_cdp2adp(zcdp, cap->delta_total, &converted)) != TLY_OK)
		return rv;
	mpz_init(x);
	fixed(x, s->epsilon, 1);
	basic = fixed_up(x);
	mpz_clear(x);
	if (s->rho.num == 0 && basic <= converted) {
		*epsilon = s->epsilon.num == 0 ? 0 : basic;
		*delta = 0;
		return TLY_OK;
	}
	*epsilon = converted;
	*delta = (double)cap->delta_total.num / (double)cap->delta_total.den;
	return TLY_OK;
}
