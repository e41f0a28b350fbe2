#include "dp.h"

#include <gmp.h>

#include "frac.h"
#include "wipe.h"

/* Everything here is integer arithmetic: uniform integers from the rng and
 * comparisons. The 128-bit type holds the products of two 64-bit parameters. */
__extension__ typedef unsigned __int128 u128;

_Static_assert(sizeof(unsigned long) == sizeof(uint64_t), "GMP's _ui functions take uint64_t");
_Static_assert(sizeof(mp_limb_t) == sizeof(uint64_t), "GMP limbs are 64-bit words");

/* floor(sqrt(x)), digit by digit. */
static uint64_t
isqrt(uint64_t x)
{
	uint64_t root = 0;

	for (uint64_t bit = UINT64_C(1) << 62; bit != 0; bit >>= 2) {
		if (x >= root + bit) {
			x -= root + bit;
			root = (root >> 1) + bit;
		} else {
			root >>= 1;
		}
	}
	return root;
}

/*
 * The random bits of one call. The rng's cost is mostly per call, not per
 * byte, so its output is taken 32 bytes at a time, and a small uniform draw
 * uses only the bits it needs (a bit left over when a draw wants more is
 * dropped, which keeps the rest uniform and independent). The pool is
 * wiped before the public function returns: no unused randomness outlives
 * the call.
 */
enum { POOL_WORDS = 4 };

struct pool {
	struct tly_rng *rng;
	uint64_t word[POOL_WORDS];
	unsigned words; /* unused entries at the end of word[] */
	uint64_t bits;  /* unused random bits, the low `nbits` of them */
	unsigned nbits;
};

static struct pool
pool_start(struct tly_rng *rng)
{
	struct pool pool = {.rng = rng};
	return pool;
}

static void
pool_wipe(struct pool *pool)
{
	TLY_WIPE(pool, sizeof *pool);
}

static uint64_t
pool_word(struct pool *pool)
{
	if (pool->words == 0) {
		tly_rng_bytes(pool->rng, pool->word, sizeof pool->word);
		pool->words = POOL_WORDS;
	}
	return pool->word[POOL_WORDS - pool->words--];
}

/* n uniform bits, 1 <= n <= 32. */
static uint64_t
pool_bits(struct pool *pool, unsigned n)
{
	if (pool->nbits < n) {
		pool->bits = pool_word(pool);
		pool->nbits = 64;
	}
	uint64_t out = pool->bits & ((UINT64_C(1) << n) - 1);
	pool->bits >>= n;
	pool->nbits -= n;
	return out;
}

/* Uniform on [0, bound), bound > 0: rejection on the smallest covering
 * power of two, fewer than two tries expected. */
static uint64_t
uniform64(struct pool *pool, uint64_t bound)
{
	if (bound == 1)
		return 0;
	unsigned n = 64 - (unsigned)__builtin_clzll(bound - 1);
	if (n <= 32) {
		for (;;) {
			uint64_t candidate = pool_bits(pool, n);
			if (candidate < bound)
				return candidate;
		}
	}
	uint64_t mask = UINT64_MAX >> (64 - n);
	for (;;) {
		uint64_t candidate = pool_word(pool) & mask;
		if (candidate < bound)
			return candidate;
	}
}

/* The same for 0 < bound < 2^128. */
static u128
uniform(struct pool *pool, u128 bound)
{
	if (bound <= UINT64_MAX)
		return uniform64(pool, (uint64_t)bound);
	uint64_t top = (uint64_t)((bound - 1) >> 64);
	uint64_t mask = top == 0 ? 0 : UINT64_MAX >> __builtin_clzll(top);
	for (;;) {
		uint64_t high = pool_word(pool) & mask;
		u128 candidate = ((u128)high << 64) | pool_word(pool);
		if (candidate < bound)
			return candidate;
	}
}

/* Bernoulli(num/den), 0 <= num <= den, den > 0. The two certain cases cost
 * no draw. */
static int
bernoulli(struct pool *pool, u128 num, u128 den)
{
	if (num == 0)
		return 0;
	if (num == den)
		return 1;
	return uniform(pool, den) < num;
}

/* Bernoulli(num/(den k)), num <= den. When den k does not fit 128 bits it is
 * the product of Bernoulli(1/k) and Bernoulli(num/den), independent. */
static int
bernoulli_scaled(struct pool *pool, u128 num, u128 den, uint64_t k)
{
	u128 bound;

	if (num == 0)
		return 0;
	if (den <= UINT64_MAX) {
		uint64_t small;
		if (!__builtin_mul_overflow((uint64_t)den, k, &small))
			return uniform64(pool, small) < num;
	}
	if (!__builtin_mul_overflow(den, (u128)k, &bound))
		return uniform(pool, bound) < num;
	return uniform64(pool, k) == 0 && uniform(pool, den) < num;
}

/* [CKS20] Algorithm 1 for gamma = num/den in [0, 1]: K counts the
 * Bernoulli(gamma/K) successes plus one; P(K odd) = exp(-gamma). */
static int
bernoulli_exp_unit(struct pool *pool, u128 num, u128 den)
{
	uint64_t k = 1;

	while (bernoulli_scaled(pool, num, den, k))
		k++;
	return (int)(k & 1);
}

static int
bernoulli_exp_one(struct pool *pool)
{
	return bernoulli_exp_unit(pool, 1, 1);
}

/* [CKS20] Algorithm 1 for any gamma = num/den >= 0: exp(-gamma) =
 * exp(-1)^floor(gamma) exp(-frac(gamma)), stopping at the first failure. */
static int
bernoulli_exp(struct pool *pool, u128 num, u128 den)
{
	for (u128 whole = num / den; whole > 0; whole--)
		if (!bernoulli_exp_one(pool))
			return 0;
	return bernoulli_exp_unit(pool, num % den, den);
}

/*
 * GMP integers of the discrete Gaussian's acceptance test. They hold values
 * derived from a noise candidate, so they are allocated once at a size that
 * no later operation outgrows (GMP would free the old limbs unwiped on a
 * reallocation) and wiped before they are freed.
 */
static void
wipe_mpz(mpz_t z)
{
	TLY_WIPE(z->_mp_d, (size_t)z->_mp_alloc * sizeof(mp_limb_t));
	mpz_clear(z);
}

/* out uniform on [0, bound), bound > 0, out allocated to bound's size. */
static void
uniform_mpz(struct pool *pool, mpz_t out, const mpz_t bound)
{
	size_t limbs = mpz_size(bound);
	mp_limb_t top = mpz_getlimbn(bound, (mp_size_t)limbs - 1);
	mp_limb_t mask = ~(mp_limb_t)0 >> __builtin_clzl(top);

	do {
		mp_limb_t *words = mpz_limbs_write(out, (mp_size_t)limbs);
		for (size_t i = 0; i < limbs; i++)
			words[i] = pool_word(pool);
		words[limbs - 1] &= mask;
		mpz_limbs_finish(out, (mp_size_t)limbs);
	} while (mpz_cmp(out, bound) >= 0);
}

/* bernoulli_exp for GMP num >= 0, den > 0. */
static int
bernoulli_exp_mpz(struct pool *pool, const mpz_t num, const mpz_t den)
{
	mpz_t whole, frac, bound, draw;
	mp_bitcnt_t bits = mpz_sizeinbase(num, 2) + mpz_sizeinbase(den, 2) + 2 * GMP_NUMB_BITS;
	int result = 1;

	mpz_init2(whole, bits);
	mpz_init2(frac, bits);
	mpz_init2(bound, bits);
	mpz_init2(draw, bits);
	mpz_tdiv_qr(whole, frac, num, den);
	while (result && mpz_sgn(whole) > 0) {
		result = bernoulli_exp_one(pool);
		mpz_sub_ui(whole, whole, 1);
	}
	if (result && mpz_sgn(frac) > 0) {
		/* Algorithm 1's K loop on frac/den, as in bernoulli_exp_unit. */
		uint64_t k = 1;
		for (;; k++) {
			mpz_mul_ui(bound, den, k);
			uniform_mpz(pool, draw, bound);
			if (mpz_cmp(draw, frac) >= 0)
				break;
		}
		result = (int)(k & 1);
	}
	wipe_mpz(draw);
	wipe_mpz(bound);
	wipe_mpz(frac);
	wipe_mpz(whole);
	return result;
}

/*
 * The discrete Gaussian's acceptance test for a candidate of absolute value
 * y: Bernoulli(exp(-gamma)) with gamma = (y - sigma^2/t)^2 / (2 sigma^2) =
 * (y d t - n)^2 / (2 n d t^2) for sigma^2 = n/d. In 128-bit integers when
 * both sides fit, in GMP otherwise.
 */
static int
gauss_accept(struct pool *pool, uint64_t y, uint64_t n, uint64_t d, uint64_t t)
{
	u128 dt = (u128)d * t; /* t <= 2^32 + 1: fits */
	u128 ydt, gap, gap_sq, denom;

	if (!__builtin_mul_overflow(dt, (u128)y, &ydt)) {
		gap = ydt > n ? ydt - n : n - ydt;
		if (gap <= UINT64_MAX && !__builtin_mul_overflow(2 * (u128)n * t, dt, &denom)) {
			gap_sq = gap * gap;
			return bernoulli_exp(pool, gap_sq, denom);
		}
	}

	mpz_t a, a_sq, b;
	int result;
	mpz_init2(a, 4 * GMP_NUMB_BITS);
	mpz_init2(a_sq, 8 * GMP_NUMB_BITS);
	mpz_init2(b, 8 * GMP_NUMB_BITS);
	mpz_set_ui(a, y);
	mpz_mul_ui(a, a, d);
	mpz_mul_ui(a, a, t);
	mpz_sub_ui(a, a, n);
	mpz_mul(a_sq, a, a);
	mpz_set_ui(b, n);
	mpz_mul_ui(b, b, d);
	mpz_mul_ui(b, b, t);
	mpz_mul_ui(b, b, t);
	mpz_mul_2exp(b, b, 1);
	result = bernoulli_exp_mpz(pool, a_sq, b);
	wipe_mpz(b);
	wipe_mpz(a_sq);
	wipe_mpz(a);
	return result;
}

/* The first half of [CKS20] Algorithm 2: floor((U + t V)/s). Parameters
 * checked by the caller (t/s <= TLY_DP_MAX_SCALE). */
static tly_err
geometric(struct pool *pool, uint64_t s, uint64_t t, uint64_t *out)
{
	uint64_t u, v = 0;

	/* U uniform on [0, t) given Bernoulli(exp(-U/t)) = 1. */
	do {
		u = uniform64(pool, t);
	} while (!bernoulli_exp_unit(pool, u, t));
	/* V ~ Geometric(exp(-1)); U + t V ~ Geometric(exp(-1/t)). */
	while (bernoulli_exp_one(pool))
		v++;
	u128 y = ((u128)u + (u128)t * v) / s;
	/* Probability below exp(-2^22) under the scale cap. */
	if (y > INT64_MAX)
		return TLY_ERANGE;
	*out = (uint64_t)y;
	return TLY_OK;
}

/* [CKS20] Algorithm 2: a random sign on the geometric, rejecting "-0". */
static tly_err
laplace(struct pool *pool, uint64_t s, uint64_t t, int64_t *out)
{
	for (;;) {
		uint64_t magnitude;
		tly_err rv = geometric(pool, s, t, &magnitude);
		if (rv != TLY_OK)
			return rv;
		int negative = (int)pool_bits(pool, 1);
		if (negative && magnitude == 0)
			continue;
		*out = negative ? -(int64_t)magnitude : (int64_t)magnitude;
		return TLY_OK;
	}
}

/* [CKS20] Algorithm 3 for sigma^2 = n/d in lowest terms, n, d > 0. */
static tly_err
gauss(struct pool *pool, uint64_t n, uint64_t d, int64_t *out)
{
	uint64_t t = isqrt(n / d) + 1; /* floor(sigma) + 1 <= 2^32 + 1 */

	for (;;) {
		int64_t candidate;
		tly_err rv = laplace(pool, 1, t, &candidate);
		if (rv != TLY_OK)
			return rv;
		uint64_t magnitude =
		    candidate < 0 ? (uint64_t)0 - (uint64_t)candidate : (uint64_t)candidate;
		if (gauss_accept(pool, magnitude, n, d, t)) {
			*out = candidate;
			return TLY_OK;
		}
	}
}

/*
 * NB(a/b, exp(-s/t)) for 0 < a <= b: proposals K ~ Geometric(alpha)
 * accepted with probability w_K = prod_{j<K} (a + j b)/(b (j + 1)), factor
 * by factor. The proposal is drawn in steps so that most rejections are
 * cheap: Bernoulli(alpha) decides K >= 1, the first factor (a/b) is tested
 * next, and only then is K - 1 ~ Geometric(alpha) drawn (the geometric is
 * memoryless). Each round returns k with probability (1 - alpha) w_k
 * alpha^k, as the plain rejection sampler does.
 */
static tly_err
polya(struct pool *pool, uint64_t a, uint64_t b, uint64_t s, uint64_t t, uint64_t *out)
{
	for (;;) {
		uint64_t rest, j = 1;
		if (!bernoulli_exp(pool, s, t)) {
			*out = 0;
			return TLY_OK;
		}
		if (!bernoulli(pool, a, b))
			continue;
		tly_err rv = geometric(pool, s, t, &rest);
		if (rv != TLY_OK)
			return rv;
		if (rest == INT64_MAX)
			return TLY_ERANGE; /* as in geometric: never in practice */
		uint64_t proposal = rest + 1;
		while (j < proposal && bernoulli(pool, (u128)a + (u128)j * b, (u128)b * (j + 1)))
			j++;
		if (j == proposal) {
			*out = proposal;
			return TLY_OK;
		}
	}
}

/* Poisson(num/den) for num/den <= 1/2: K ~ Geometric(num/den) accepted
 * with probability 1/K!. */
static uint64_t
poisson_part(struct pool *pool, u128 num, u128 den)
{
	for (;;) {
		uint64_t k = 0, j = 2;
		while (bernoulli(pool, num, den))
			k++;
		while (j <= k && uniform64(pool, j) == 0)
			j++;
		if (j > k)
			return k;
	}
}

/* Poisson(num/den), num/den <= TLY_DP_POISSON_MAX, as the sum of
 * ceil(2 num/den) parts. */
static tly_err
poisson(struct pool *pool, uint64_t num, uint64_t den, uint64_t *out)
{
	u128 parts = ((u128)2 * num + den - 1) / den;
	u128 part_den = parts * den;
	uint64_t total = 0;

	for (u128 i = 0; i < parts; i++)
		total += poisson_part(pool, num, part_den);
	if (total > INT64_MAX)
		return TLY_ERANGE; /* beyond any probability that matters */
	*out = total;
	return TLY_OK;
}

static tly_err
check_scale(uint64_t s, uint64_t t, uint64_t max_scale)
{
	if (s == 0 || t == 0)
		return TLY_EINVAL;
	if (t > (u128)s * max_scale)
		return TLY_ERANGE;
	return TLY_OK;
}

static tly_err
check_poisson(uint64_t num, uint64_t den)
{
	if (den == 0)
		return TLY_EINVAL;
	if (num > (u128)den * TLY_DP_POISSON_MAX)
		return TLY_ERANGE;
	return TLY_OK;
}

tly_err
tly_dp_bernoulli(struct tly_rng *rng, uint64_t num, uint64_t den, int *out)
{
	TLY_REQUIRE(rng != NULL && out != NULL);
	if (den == 0 || num > den)
		return TLY_EINVAL;
	struct pool pool = pool_start(rng);
	*out = bernoulli(&pool, num, den);
	pool_wipe(&pool);
	return TLY_OK;
}

tly_err
tly_dp_bernoulli_exp(struct tly_rng *rng, uint64_t num, uint64_t den, int *out)
{
	TLY_REQUIRE(rng != NULL && out != NULL);
	if (den == 0)
		return TLY_EINVAL;
	struct pool pool = pool_start(rng);
	*out = bernoulli_exp(&pool, num, den);
	pool_wipe(&pool);
	return TLY_OK;
}

/* The geometric (into magnitude) or, when value is not NULL, the discrete
 * Laplace of scale t/s: [CKS20] Algorithm 2, the checks both share. */
static tly_err
two_sided(struct tly_rng *rng, uint64_t s, uint64_t t, uint64_t *magnitude, int64_t *value)
{
	tly_err rv = check_scale(s, t, TLY_DP_MAX_SCALE);
	if (rv != TLY_OK)
		return rv;
	struct pool pool = pool_start(rng);
	rv = value != NULL ? laplace(&pool, s, t, value) : geometric(&pool, s, t, magnitude);
	pool_wipe(&pool);
	return rv;
}

tly_err
tly_dp_geometric(struct tly_rng *rng, uint64_t s, uint64_t t, uint64_t *out)
{
	TLY_REQUIRE(rng != NULL && out != NULL);
	return two_sided(rng, s, t, out, NULL);
}

tly_err
tly_dp_laplace(struct tly_rng *rng, uint64_t s, uint64_t t, int64_t *out)
{
	TLY_REQUIRE(rng != NULL && out != NULL);
	return two_sided(rng, s, t, NULL, out);
}

tly_err
tly_dp_gauss(struct tly_rng *rng, uint64_t num, uint64_t den, int64_t *out)
{
	TLY_REQUIRE(rng != NULL && out != NULL);
	if (num == 0 || den == 0)
		return TLY_EINVAL;
	struct tly_fraction param = tly_frac_reduce((struct tly_fraction){num, den});
	struct pool pool = pool_start(rng);
	tly_err rv = gauss(&pool, param.num, param.den, out);
	pool_wipe(&pool);
	return rv;
}

tly_err
tly_dp_polya(struct tly_rng *rng, uint64_t r_num, uint64_t r_den, uint64_t s, uint64_t t,
             uint64_t *out)
{
	TLY_REQUIRE(rng != NULL && out != NULL);
	if (r_num == 0 || r_den == 0 || r_num > r_den)
		return TLY_EINVAL;
	tly_err rv = check_scale(s, t, TLY_DP_POLYA_MAX_SCALE);
	if (rv != TLY_OK)
		return rv;
	/* In lowest terms r = 1 is a/a, whose factors cost no draw. */
	struct tly_fraction r = tly_frac_reduce((struct tly_fraction){r_num, r_den});
	struct pool pool = pool_start(rng);
	rv = polya(&pool, r.num, r.den, s, t, out);
	pool_wipe(&pool);
	return rv;
}

tly_err
tly_dp_laplace_share(struct tly_rng *rng, uint64_t s, uint64_t t, uint64_t h, int64_t *out)
{
	uint64_t plus, minus;

	TLY_REQUIRE(rng != NULL && out != NULL);
	if (h == 0)
		return TLY_EINVAL;
	tly_err rv = check_scale(s, t, TLY_DP_POLYA_MAX_SCALE);
	if (rv != TLY_OK)
		return rv;
	if (h > TLY_DP_MAX_SHARES)
		return TLY_ERANGE;
	struct pool pool = pool_start(rng);
	if ((rv = polya(&pool, 1, h, s, t, &plus)) == TLY_OK &&
	    (rv = polya(&pool, 1, h, s, t, &minus)) == TLY_OK)
		*out = (int64_t)plus - (int64_t)minus;
	pool_wipe(&pool);
	return rv;
}

tly_err
tly_dp_poisson(struct tly_rng *rng, uint64_t num, uint64_t den, uint64_t *out)
{
	TLY_REQUIRE(rng != NULL && out != NULL);
	tly_err rv = check_poisson(num, den);
	if (rv != TLY_OK)
		return rv;
	struct pool pool = pool_start(rng);
	rv = poisson(&pool, num, den, out);
	pool_wipe(&pool);
	return rv;
}

/* Skellam(num/den) for a parameter that check_poisson accepts. */
static tly_err
skellam(struct tly_rng *rng, uint64_t num, uint64_t den, int64_t *out)
{
	uint64_t plus, minus;
	struct pool pool = pool_start(rng);
	tly_err rv;

	if ((rv = poisson(&pool, num, den, &plus)) == TLY_OK &&
	    (rv = poisson(&pool, num, den, &minus)) == TLY_OK)
		*out = (int64_t)plus - (int64_t)minus;
	pool_wipe(&pool);
	return rv;
}

tly_err
tly_dp_skellam(struct tly_rng *rng, uint64_t num, uint64_t den, int64_t *out)
{
	TLY_REQUIRE(rng != NULL && out != NULL);
	tly_err rv = check_poisson(num, den);
	if (rv != TLY_OK)
		return rv;
	return skellam(rng, num, den, out);
}

tly_err
tly_dp_skellam_share(struct tly_rng *rng, uint64_t num, uint64_t den, uint64_t h, int64_t *out)
{
	struct tly_fraction share;

	TLY_REQUIRE(rng != NULL && out != NULL);
	if (den == 0 || h == 0)
		return TLY_EINVAL;
	if (h > TLY_DP_MAX_SHARES)
		return TLY_ERANGE;
	tly_err rv = tly_frac_div_u64((struct tly_fraction){num, den}, h, &share);
	if (rv == TLY_OK)
		rv = check_poisson(share.num, share.den);
	if (rv != TLY_OK)
		return rv;
	return skellam(rng, share.num, share.den, out);
}

tly_err
tly_dp_gauss_share(struct tly_rng *rng, uint64_t num, uint64_t den, uint64_t h, int64_t *out)
{
	struct tly_fraction share;

	TLY_REQUIRE(rng != NULL && out != NULL);
	if (num == 0 || den == 0 || h == 0)
		return TLY_EINVAL;
	if (h > TLY_DP_MAX_SHARES)
		return TLY_ERANGE;
	tly_err rv = tly_frac_div_u64((struct tly_fraction){num, den}, h, &share);
	if (rv != TLY_OK)
		return rv;
	struct pool pool = pool_start(rng);
	rv = gauss(&pool, share.num, share.den, out);
	pool_wipe(&pool);
	return rv;
}

tly_err
tly_dp_share(struct tly_rng *rng, const struct tly_dp_noise *noise, int64_t *out)
{
	TLY_REQUIRE(noise != NULL);
	switch (noise->mechanism) {
	case TLY_DP_LAPLACE:
		if (noise->honest == 1)
			return tly_dp_laplace(rng, noise->num, noise->den, out);
		return tly_dp_laplace_share(rng, noise->num, noise->den, noise->honest, out);
	case TLY_DP_GAUSS:
		return tly_dp_gauss_share(rng, noise->num, noise->den, noise->honest, out);
	case TLY_DP_SKELLAM:
		return tly_dp_skellam_share(rng, noise->num, noise->den, noise->honest, out);
	}
	return TLY_EINVAL;
}
