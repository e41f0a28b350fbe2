/*
 * noise.c - calibration, shares and description of a query's distributed
 * noise (noise.h has the contract and the Skellam derivation).
 *
 * Calibration decides parameters that every node must agree on bit for bit,
 * so it is integer-only: 64/128-bit for the Laplace scale, GMP for the
 * Skellam condition, whose terms reach about 2^320. Nothing in it is secret.
 * The noise values drawn in tly_noise_apply are; they are wiped.
 */
#include "query/noise.h"

#include <math.h>
#include <string.h>

#include <gmp.h>

#include "crypto/ct.h"
#include "crypto/dp.h"
#include "crypto/dp_quantile.h"
#include "query/budget.h"
#include "crypto/field.h"
#include "crypto/frac.h"
#include "crypto/wipe.h"

_Static_assert(sizeof(unsigned long) == sizeof(uint64_t), "GMP's _ui functions take uint64_t");

/* The delta at which a rho-zCDP release states (epsilon, delta), by CKS
 * cdp2adp (query/budget.h). */
#define ZCDP_DELTA 1e-6
static const struct tly_fraction ZCDP_DELTA_FRACTION = {1, 1000000};

/* ci95: the 95% central interval. */
enum { CI_NUM = 95, CI_DEN = 100 };

/* ---- calibration ---- */

/* epsilon/Delta = (num/den)/delta in lowest terms. */
static tly_err
laplace_scale(uint64_t num, uint64_t den, uint64_t delta, uint64_t *s, uint64_t *t)
{
	struct tly_fraction scale;
	tly_err rv = tly_frac_div_u64((struct tly_fraction){num, den}, delta, &scale);
	if (rv != TLY_OK)
		return rv;
	*s = scale.num;
	*t = scale.den;
	return TLY_OK;
}

/* The inputs of the Skellam condition, as GMP integers. */
struct skellam_bound {
	mpz_t rho_num, rho_den, l1, l2sq;
	mpz_t a, b;                   /* mu = a/b */
	mpz_t lhs, rhs, reach, cross; /* scratch */
};

static void
bound_init(struct skellam_bound *bd, const struct tly_query *q)
{
	mpz_inits(bd->rho_num, bd->rho_den, bd->l1, bd->l2sq, bd->a, bd->b, bd->lhs, bd->rhs,
	          bd->reach, bd->cross, NULL);
	mpz_set_ui(bd->rho_num, q->privacy_num);
	mpz_set_ui(bd->rho_den, q->privacy_den);
	mpz_set_ui(bd->l1, q->sensitivity_l1);
	mpz_set_ui(bd->l2sq, q->sensitivity_l2sq);
	mpz_set_ui(bd->b, TLY_NOISE_MU_GRID);
}

static void
bound_clear(struct skellam_bound *bd)
{
	mpz_clears(bd->rho_num, bd->rho_den, bd->l1, bd->l2sq, bd->a, bd->b, bd->lhs, bd->rhs,
	           bd->reach, bd->cross, NULL);
}

/*
 * Does mu = m/GRID satisfy 4 mu D2 + min(F(u), G(u)) <= 16 mu^2 rho at
 * u = 0, 1 and the crossing point (noise.h)? With mu = a/b and rho = r/s,
 * times b^2 s:
 *   reach = 16 a^2 r - 4 a b D2 s                   (must be >= 0: u = 0)
 *   u = 1:   s min(b^2 (D2 + 6 D1), 12 D1 a b) <= reach
 *   F = G at u* = 2 b D2 / cross, cross = 12 D1 a + (D2 - 6 D1) b; when
 *   0 < u* < 1:   s 12 D1 a b 2 b D2 <= reach cross.
 */
static int
skellam_ok(struct skellam_bound *bd, uint64_t m)
{
	mpz_set_ui(bd->a, m);
	/* reach = 16 a^2 r - 4 a b D2 s */
	mpz_mul(bd->reach, bd->a, bd->a);
	mpz_mul(bd->reach, bd->reach, bd->rho_num);
	mpz_mul_2exp(bd->reach, bd->reach, 4);
	mpz_mul(bd->lhs, bd->a, bd->b);
	mpz_mul(bd->lhs, bd->lhs, bd->l2sq);
	mpz_mul(bd->lhs, bd->lhs, bd->rho_den);
	mpz_mul_2exp(bd->lhs, bd->lhs, 2);
	mpz_sub(bd->reach, bd->reach, bd->lhs);
	if (mpz_sgn(bd->reach) < 0)
		return 0;

	/* u = 1: F(1) b^2 = b^2 (D2 + 6 D1), G(1) b^2 = 12 D1 a b. */
	mpz_mul_ui(bd->lhs, bd->l1, 6);
	mpz_add(bd->lhs, bd->lhs, bd->l2sq);
	mpz_mul(bd->lhs, bd->lhs, bd->b);
	mpz_mul(bd->lhs, bd->lhs, bd->b);
	mpz_mul(bd->rhs, bd->l1, bd->a);
	mpz_mul(bd->rhs, bd->rhs, bd->b);
	mpz_mul_ui(bd->rhs, bd->rhs, 12);
	if (mpz_cmp(bd->rhs, bd->lhs) < 0)
		mpz_swap(bd->lhs, bd->rhs);
	mpz_mul(bd->lhs, bd->lhs, bd->rho_den);
	if (mpz_cmp(bd->lhs, bd->reach) > 0)
		return 0;

	/* cross = 12 D1 a + (D2 - 6 D1) b; u* in (0, 1) iff cross > 2 b D2. */
	mpz_mul(bd->cross, bd->l1, bd->a);
	mpz_mul_ui(bd->cross, bd->cross, 12);
	mpz_addmul(bd->cross, bd->l2sq, bd->b);
	mpz_mul_ui(bd->lhs, bd->l1, 6);
	mpz_submul(bd->cross, bd->lhs, bd->b);
	mpz_mul(bd->lhs, bd->b, bd->l2sq);
	mpz_mul_2exp(bd->lhs, bd->lhs, 1);
	if (mpz_cmp(bd->cross, bd->lhs) <= 0)
		return 1;
	/* G(u*) b^2 s = 24 D1 D2 a b^2 s <= reach cross */
	mpz_mul(bd->lhs, bd->l1, bd->l2sq);
	mpz_mul(bd->lhs, bd->lhs, bd->a);
	mpz_mul(bd->lhs, bd->lhs, bd->b);
	mpz_mul(bd->lhs, bd->lhs, bd->b);
	mpz_mul(bd->lhs, bd->lhs, bd->rho_den);
	mpz_mul_ui(bd->lhs, bd->lhs, 24);
	mpz_mul(bd->rhs, bd->reach, bd->cross);
	return mpz_cmp(bd->lhs, bd->rhs) <= 0;
}

/* The smallest m in [1, max_m] with skellam_ok(m), or TLY_ERANGE. The
 * condition is monotone in m: every term of eps(alpha) falls as mu grows. */
static tly_err
skellam_search(const struct tly_query *q, uint64_t max_m, uint64_t *m)
{
	struct skellam_bound bd;
	tly_err rv = TLY_ERANGE;
	uint64_t low = 1, high = max_m;

	bound_init(&bd, q);
	if (!skellam_ok(&bd, high))
		goto out;
	while (low < high) {
		uint64_t mid = low + (high - low) / 2;
		if (skellam_ok(&bd, mid))
			high = mid;
		else
			low = mid + 1;
	}
	*m = low;
	rv = TLY_OK;
out:
	bound_clear(&bd);
	return rv;
}

static tly_err
skellam_calibrate(const struct tly_query *q, struct tly_noise_params *p)
{
	uint64_t max_m, m;

	if (q->sensitivity_l1 == 0 || q->sensitivity_l2sq == 0)
		return TLY_EINVAL;
	/* mu/h <= TLY_DP_POISSON_MAX: h < 2^32, so max_m < 2^63. */
	max_m = (uint64_t)q->min_honest * TLY_DP_POISSON_MAX * TLY_NOISE_MU_GRID;
	tly_err rv = skellam_search(q, max_m, &m);
	if (rv != TLY_OK)
		return rv;
	struct tly_fraction mu = tly_frac_reduce((struct tly_fraction){m, TLY_NOISE_MU_GRID});
	p->mu_num = mu.num;
	p->mu_den = mu.den;
	return TLY_OK;
}

_Static_assert((tly_u128)UINT32_MAX *TLY_DP_POISSON_MAX *TLY_NOISE_MU_GRID < UINT64_MAX,
               "the Skellam search range fits 64 bits");

static tly_err
laplace_calibrate(const struct tly_query *q, struct tly_noise_params *p)
{
	if (q->sensitivity_l1 == 0)
		return TLY_EINVAL;
	tly_err rv = laplace_scale(q->privacy_num, q->privacy_den, q->sensitivity_l1, &p->scale_s,
	                           &p->scale_t);
	if (rv != TLY_OK)
		return rv;
	if (p->scale_t > (tly_u128)p->scale_s * TLY_DP_POLYA_MAX_SCALE)
		return TLY_ERANGE;
	return TLY_OK;
}

tly_err
tly_noise_calibrate(const struct tly_query *q, struct tly_noise_params *out)
{
	struct tly_noise_params p = {0};
	tly_err rv;

	TLY_REQUIRE(q != NULL && out != NULL);
	if (q->min_honest == 0)
		return TLY_EINVAL;
	p.mechanism = q->mechanism;
	p.h = q->min_honest;
	switch (q->mechanism) {
	case TLY_MECH_NONE:
		*out = p;
		return TLY_OK;
	case TLY_MECH_LAPLACE:
	case TLY_MECH_SKELLAM:
		break;
	default:
		return TLY_EINVAL;
	}
	if (q->privacy_num == 0 || q->privacy_den == 0)
		return TLY_EINVAL;
	struct tly_fraction privacy =
	    tly_frac_reduce((struct tly_fraction){q->privacy_num, q->privacy_den});
	p.privacy_num = privacy.num;
	p.privacy_den = privacy.den;
	if (q->mechanism == TLY_MECH_LAPLACE)
		rv = laplace_calibrate(q, &p);
	else
		rv = skellam_calibrate(q, &p);
	if (rv == TLY_OK)
		*out = p;
	return rv;
}

/* ---- shares ---- */

/* What one cell's draw needs, checked once before the loop. For SKELLAM,
 * num/den is the share's mu/h in lowest terms. */
struct share {
	uint8_t mechanism;
	uint64_t h, num, den;
};

static tly_err
share_prepare(const struct tly_noise_params *p, struct share *out)
{
	out->mechanism = p->mechanism;
	out->h = p->h;
	switch (p->mechanism) {
	case TLY_MECH_NONE:
		return TLY_OK;
	case TLY_MECH_LAPLACE:
		if (p->h == 0 || p->scale_s == 0 || p->scale_t == 0)
			return TLY_EINVAL;
		if (p->h > TLY_DP_MAX_SHARES ||
		    p->scale_t > (tly_u128)p->scale_s * TLY_DP_POLYA_MAX_SCALE)
			return TLY_ERANGE;
		out->num = p->scale_s;
		out->den = p->scale_t;
		return TLY_OK;
	case TLY_MECH_SKELLAM:
		break;
	default:
		return TLY_EINVAL;
	}
	if (p->h == 0 || p->mu_num == 0 || p->mu_den == 0)
		return TLY_EINVAL;
	if (p->h > TLY_DP_MAX_SHARES)
		return TLY_ERANGE;
	struct tly_fraction mu_share;
	tly_err rv = tly_frac_div_u64((struct tly_fraction){p->mu_num, p->mu_den}, p->h, &mu_share);
	if (rv != TLY_OK)
		return rv;
	if (mu_share.num > (tly_u128)mu_share.den * TLY_DP_POISSON_MAX)
		return TLY_ERANGE;
	out->num = mu_share.num;
	out->den = mu_share.den;
	return TLY_OK;
}

static tly_err
draw(struct tly_rng *rng, const struct share *share, int64_t *noise)
{
	switch (share->mechanism) {
	case TLY_MECH_LAPLACE:
		return tly_dp_laplace_share(rng, share->num, share->den, share->h, noise);
	case TLY_MECH_SKELLAM:
		return tly_dp_skellam(rng, share->num, share->den, noise);
	}
	*noise = 0;
	return TLY_OK;
}

tly_err
tly_noise_apply(struct tly_rng *rng, const struct tly_noise_params *params, const int64_t *cells,
                size_t d, uint64_t *out)
{
	return tly_noise_apply_until(rng, params, cells, d, out, NULL, NULL);
}

tly_err
tly_noise_apply_until(struct tly_rng *rng, const struct tly_noise_params *params,
                      const int64_t *cells, size_t d, uint64_t *out, int (*stop)(void *arg),
                      void *arg)
{
	struct share share;
	int64_t noise = 0, noisy = 0;
	tly_err rv;

	TLY_REQUIRE(rng != NULL && params != NULL);
	TLY_REQUIRE(d == 0 || (cells != NULL && out != NULL));
	if ((rv = share_prepare(params, &share)) != TLY_OK)
		goto out;
	for (size_t i = 0; i < d; i++) {
		if (stop != NULL && stop(arg)) {
			rv = TLY_ETIMEDOUT;
			goto out;
		}
		if ((rv = draw(rng, &share, &noise)) != TLY_OK)
			goto out;
		/* Whether count + noise overflows is public: the query fails.
		 * The sum itself is secret (crypto/ct.h). */
		if (tly_ct_public((uint64_t)__builtin_add_overflow(cells[i], noise, &noisy))) {
			rv = TLY_ERANGE;
			goto out;
		}
		if ((rv = tly_field_encode_signed(noisy, &out[i])) != TLY_OK)
			goto out;
	}
	rv = TLY_OK;
out:
	if (rv != TLY_OK && d > 0)
		TLY_WIPE(out, d * sizeof *out);
	TLY_WIPE_OBJ(noise);
	TLY_WIPE_OBJ(noisy);
	return rv;
}

/* ---- cost ---- */

/* a * b, or UINT64_MAX when it does not fit. */
static uint64_t
sat_mul(uint64_t a, uint64_t b)
{
	uint64_t out;
	return __builtin_mul_overflow(a, b, &out) ? UINT64_MAX : out;
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	uint64_t out;
	return __builtin_add_overflow(a, b, &out) ? UINT64_MAX : out;
}

/* floor(x^(1/h)) for x >= 1, h >= 1: the largest r with r^h <= x. */
static uint64_t
int_root(uint64_t x, uint64_t h)
{
	uint64_t lo = 1, hi = x;

	if (h == 1)
		return x;
	if (h >= 64)
		return 1; /* 2^h > x */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2, power = 1;
		for (uint64_t i = 0; i < h && power <= x; i++)
			power = sat_mul(power, mid);
		if (power <= x)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Work of one cell's LAPLACE share, s/t = epsilon/Delta (noise.h). */
static uint64_t
laplace_cell_work(uint64_t s, uint64_t t, uint64_t h)
{
	/* x = ceil((s + t)/s) >= 1/(1 - alpha). */
	tly_u128 x128 = ((tly_u128)s + t + s - 1) / s;
	uint64_t x = x128 > UINT64_MAX ? UINT64_MAX : (uint64_t)x128;

	/* proposals <= x^(1 - 1/h) <= ceil(x / floor(x^(1/h))). */
	uint64_t root = int_root(x, h);
	uint64_t proposals = x / root + (x % root != 0);
	uint64_t per_proposal = TLY_NOISE_WORK_POLYA_STEP + (TLY_NOISE_WORK_GEOMETRIC + h - 1) / h;
	uint64_t polya = sat_add(sat_mul(proposals, per_proposal), x);
	return sat_add(sat_mul(2, polya), TLY_NOISE_WORK_CELL);
}

/* Work of one cell's SKELLAM share of Poisson(num/den) twice. */
static uint64_t
skellam_cell_work(uint64_t num, uint64_t den)
{
	tly_u128 parts = ((tly_u128)2 * num + den - 1) / den;
	uint64_t p = parts > UINT64_MAX ? UINT64_MAX : (uint64_t)parts;
	return sat_add(sat_mul(2 * TLY_NOISE_WORK_POISSON_PART, p), TLY_NOISE_WORK_CELL);
}

tly_err
tly_noise_work(const struct tly_noise_params *params, uint64_t cells, uint64_t *out)
{
	struct share share;
	uint64_t cell;

	TLY_REQUIRE(params != NULL && out != NULL);
	tly_err rv = share_prepare(params, &share);
	if (rv != TLY_OK)
		return rv;
	switch (share.mechanism) {
	case TLY_MECH_LAPLACE:
		cell = laplace_cell_work(share.num, share.den, share.h);
		break;
	case TLY_MECH_SKELLAM:
		cell = skellam_cell_work(share.num, share.den);
		break;
	default:
		cell = TLY_NOISE_WORK_CELL;
		break;
	}
	*out = sat_mul(cell, cells);
	return TLY_OK;
}

tly_err
tly_noise_cost(const struct tly_query *q, struct tly_noise_params *params, uint64_t *work)
{
	TLY_REQUIRE(q != NULL && params != NULL && work != NULL);
	tly_err rv = tly_noise_calibrate(q, params);
	if (rv == TLY_OK)
		rv = tly_noise_work(params, q->cells, work);
	return rv;
}

tly_err
tly_noise_cost_why(const struct tly_query *q, uint64_t *work, char *why, size_t why_len)
{
	struct tly_noise_params params;
	tly_err rv = tly_noise_cost(q, &params, work);

	if (rv == TLY_ERANGE)
		tly_say(
		    why, why_len,
		    "the noise this %s needs passes the samplers' limits (noise scale above %llu, "
		    "query/noise.h)",
		    q->mechanism == TLY_MECH_SKELLAM ? "rho" : "epsilon",
		    (unsigned long long)TLY_DP_POLYA_MAX_SCALE);
	else if (rv != TLY_OK)
		tly_say(why, why_len, "the noise cannot be calibrated: %s", tly_strerror(rv));
	return rv;
}

/* ---- description ---- */

static double
ratio(uint64_t num, uint64_t den)
{
	return (double)((long double)num / (long double)den);
}

/* The crypto/dp view of the total of `shares` shares. */
static struct tly_dp_noise
dp_noise(const struct tly_noise_params *p, uint64_t shares)
{
	struct tly_dp_noise noise = {.honest = p->h, .shares = shares};

	if (p->mechanism == TLY_MECH_LAPLACE) {
		noise.mechanism = TLY_DP_LAPLACE;
		noise.num = p->scale_s;
		noise.den = p->scale_t;
	} else {
		noise.mechanism = TLY_DP_SKELLAM;
		noise.num = p->mu_num;
		noise.den = p->mu_den;
	}
	return noise;
}

/* (epsilon, delta) of the guarantee. The zCDP conversion is CKS cdp2adp
 * (query/budget.h), an upper bound rounded up to a double, so the figure
 * stated is never below the true one. */
static void
describe_privacy(const struct tly_noise_params *p, struct tly_noise_info *info)
{
	double privacy = ratio(p->privacy_num, p->privacy_den);

	if (p->mechanism == TLY_MECH_LAPLACE) {
		info->dp_epsilon = privacy;
		info->dp_delta = 0;
		return;
	}
	struct tly_fraction rho = {p->privacy_num, p->privacy_den};
	double epsilon = INFINITY;

	/* privacy_num/den is reduced by calibrate; a conversion that fails
	 * would leave infinity: a refusal to state less than the truth */
	if (tly_budget_cdp2adp(rho, ZCDP_DELTA_FRACTION, &epsilon) != TLY_OK)
		epsilon = INFINITY;
	info->dp_epsilon = epsilon;
	info->dp_delta = ZCDP_DELTA;
}

tly_err
tly_noise_describe(const struct tly_noise_params *params, uint64_t contributors,
                   struct tly_noise_info *out)
{
	struct tly_noise_info info = {0};
	struct share share;
	uint64_t k;
	tly_err rv;

	TLY_REQUIRE(params != NULL && out != NULL);
	if ((rv = share_prepare(params, &share)) != TLY_OK)
		return rv;
	if (contributors == 0)
		return TLY_EINVAL;
	if (params->mechanism == TLY_MECH_NONE) {
		*out = info;
		return TLY_OK;
	}
	if (contributors < params->h || params->privacy_num == 0 || params->privacy_den == 0)
		return TLY_EINVAL;
	struct tly_dp_noise total = dp_noise(params, contributors);
	struct tly_dp_noise target = dp_noise(params, params->h);
	if ((rv = tly_dp_noise_variance(&total, &info.variance)) != TLY_OK ||
	    (rv = tly_dp_noise_variance(&target, &info.target_variance)) != TLY_OK ||
	    (rv = tly_dp_noise_quantile(&total, CI_NUM, CI_DEN, &k)) != TLY_OK)
		return rv;
	if (k > INT64_MAX)
		return TLY_ERANGE;
	info.ci95_half_width = (int64_t)k;
	info.sd = sqrt(info.variance);
	describe_privacy(params, &info);
	*out = info;
	return TLY_OK;
}
