#include "shamir.h"

#include <string.h>

#include "ct.h"
#include "wipe.h"

/*
 * The inner loops are element-wise and branch-free so that GCC vectorises
 * them (the Makefile builds this file with -O3). Products use
 * 32 x 32 -> 64-bit pieces (vpmuludq) rather than a 128-bit product, which
 * no x86 vector unit has. target_clones picks the widest unit the CPU has:
 * as in field.c, plus an x86-64-v4 (AVX-512) clone, which makes
 * reconstruction about 3x faster than AVX2 and runs it at memcpy speed
 * (bench/bench_shamir.c).
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

#define LOW32 UINT64_C(0xFFFFFFFF)
#define LOW29 UINT64_C(0x1FFFFFFF)

enum {
	/* Sharing works on blocks of elements whose coefficients fit in this
	 * many words (32 KiB: L1-resident), at most MAX_WIDTH elements. */
	COEFF_WORDS = 4096,
	MAX_WIDTH = 512,
	/* Bits of the bitmap of indices seen by reconstruct. */
	SEEN_WORDS = (TLY_SHAMIR_MAX_SHARES + 1 + 63) / 64,
};

_Static_assert(TLY_SHAMIR_MAX_SHARES - 1 <= COEFF_WORDS, "a block holds at least one element");
_Static_assert(TLY_SHAMIR_MAX_SHARES < (1 << 11), "mul_small_add needs x < 2^11");

/* s < 2^63 -> s mod p. */
static inline uint64_t
fold(uint64_t s)
{
	uint64_t r = (s & TLY_FIELD_P) + (s >> TLY_FIELD_BITS); /* < 2^61 + 4 < 2p */
	uint64_t t = r - TLY_FIELD_P;
	return t + (TLY_FIELD_P & (uint64_t)(-(int64_t)(t >> 63)));
}

/*
 * a * x + b mod p, for a, b < p and 1 <= x < 2^11 (a share index). With
 * a = ah 2^32 + al: al x < 2^43, and ah x = m < 2^40 contributes
 * m 2^32 = (m >> 29) 2^61 + (m mod 2^29) 2^32 == (m >> 29) + (m mod 2^29) 2^32.
 * The sum stays below 2^63.
 */
static inline uint64_t
mul_small_add(uint64_t a, uint32_t x, uint64_t b)
{
	/* 32-bit operands, so that the products are vpmuludq */
	uint64_t low = (uint64_t)(uint32_t)a * x;
	uint64_t m = (uint64_t)(uint32_t)(a >> 32) * x;
	return fold(low + (m >> 29) + ((m & LOW29) << 32) + b);
}

/*
 * a * b mod p for a, b < p, in 32-bit pieces: with a = a1 2^32 + a0 and
 * b = b1 2^32 + b0 (a1, b1 < 2^29), 2^64 == 8 and 2^61 == 1 give
 * a b == 8 a1 b1 + (mid >> 29) + (mid mod 2^29) 2^32 + a0 b0,
 * mid = a1 b0 + a0 b1 < 2^62, and a0 b0 < 2^64 folds to (lo & p) + (lo >> 61).
 * The sum stays below 2^63. Inputs >= p give a wrong but defined result.
 */
static inline uint64_t
mul_pieces(uint64_t a, uint64_t b)
{
	uint64_t a0 = a & LOW32, a1 = a >> 32;
	uint64_t b0 = b & LOW32, b1 = b >> 32;
	uint64_t mid = a1 * b0 + a0 * b1;
	uint64_t low = a0 * b0;
	return fold(((a1 * b1) << 3) + (mid >> 29) + ((mid & LOW29) << 32) + (low & TLY_FIELD_P) +
	            (low >> TLY_FIELD_BITS));
}

/* out[k] = acc[k] * x + addend[k] */
VECTOR_CLONES static void
horner_first(uint64_t *restrict out, const uint64_t *restrict acc, uint32_t x,
             const uint64_t *restrict addend, size_t width)
{
	for (size_t k = 0; k < width; k++)
		out[k] = mul_small_add(acc[k], x, addend[k]);
}

/* out[k] = out[k] * x + addend[k] */
VECTOR_CLONES static void
horner_step(uint64_t *restrict out, uint32_t x, const uint64_t *restrict addend, size_t width)
{
	for (size_t k = 0; k < width; k++)
		out[k] = mul_small_add(out[k], x, addend[k]);
}

/*
 * out[k] = f_k(x) for the block's polynomials f_k = secret[k] +
 * sum_c coeffs[(c - 1) width + k] X^c, 1 <= c < t (Horner from the top).
 * out is the destination share itself: it stays in L1 across the t - 1
 * passes, and each share is written to memory once.
 */
static void
evaluate(uint64_t *restrict out, const uint64_t *restrict secret, const uint64_t *restrict coeffs,
         size_t width, unsigned t, uint32_t x)
{
	if (t == 1) {
		memcpy(out, secret, width * sizeof *out);
		return;
	}
	const uint64_t *top = coeffs + (size_t)(t - 2) * width;
	const uint64_t *below = t >= 3 ? top - width : secret;
	horner_first(out, top, x, below, width);
	for (unsigned c = t - 2; c >= 1; c--)
		horner_step(out, x, c >= 2 ? coeffs + (size_t)(c - 2) * width : secret, width);
}

static int
valid_threshold(unsigned t, unsigned n)
{
	return t >= 1 && t <= n && n <= TLY_SHAMIR_MAX_SHARES;
}

tly_err
tly_shamir_share(struct tly_rng *rng, const uint64_t *secret, size_t d, unsigned t, unsigned n,
                 uint64_t *const *shares)
{
	uint64_t coeffs[COEFF_WORDS];
	size_t width, used = 0;

	if (!valid_threshold(t, n))
		return TLY_EINVAL;
	width = t == 1 ? MAX_WIDTH : COEFF_WORDS / (t - 1);
	width = width < MAX_WIDTH ? width : MAX_WIDTH;

	for (size_t offset = 0; offset < d; offset += width) {
		size_t w = d - offset < width ? d - offset : width;
		TLY_REQUIRE(tly_field_vec_check(secret + offset, w) == TLY_OK);
		tly_rng_field(rng, coeffs, (size_t)(t - 1) * w);
		used = (size_t)(t - 1) * w > used ? (size_t)(t - 1) * w : used;
		for (unsigned i = 0; i < n; i++)
			evaluate(shares[i] + offset, secret + offset, coeffs, w, t, i + 1);
	}
	TLY_WIPE(coeffs, used * sizeof coeffs[0]);
	return TLY_OK;
}

/* Range first (every index), then distinctness: the order the header
 * promises. */
static tly_err
check_points(const uint64_t *xs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (xs[i] == 0 || xs[i] >= TLY_FIELD_P)
			return TLY_ERANGE;
	for (size_t i = 0; i < count; i++)
		for (size_t j = i + 1; j < count; j++)
			if (xs[i] == xs[j])
				return TLY_EDUP;
	return TLY_OK;
}

/*
 * coeffs[i] = prod_{j != i} x_j / (x_j - x_i) = all / den[i], with
 * all = prod_j x_j and den[i] = x_i prod_{j != i} (x_j - x_i), for distinct
 * non-zero points (so that no factor vanishes). The count inversions share
 * one (Montgomery's trick): prefix[i] = den[0] ... den[i-1], the product of
 * all den inverted once, then peeled from the top.
 */
static void
lagrange(const uint64_t *xs, size_t count, uint64_t *coeffs)
{
	uint64_t den[TLY_SHAMIR_MAX_SHARES], prefix[TLY_SHAMIR_MAX_SHARES];
	uint64_t all = 1, running = 1, inverse;

	for (size_t i = 0; i < count; i++) {
		den[i] = xs[i];
		for (size_t j = 0; j < count; j++)
			if (j != i)
				den[i] = tly_field_mul(den[i], tly_field_sub(xs[j], xs[i]));
		all = tly_field_mul(all, xs[i]);
		prefix[i] = running;
		running = tly_field_mul(running, den[i]);
	}
	TLY_REQUIRE(tly_field_inv(running, &inverse) == TLY_OK);
	inverse = tly_field_mul(inverse, all); /* all / (den[0] ... den[count-1]) */
	for (size_t i = count; i-- > 0;) {
		coeffs[i] = tly_field_mul(inverse, prefix[i]);
		inverse = tly_field_mul(inverse, den[i]);
	}
}

tly_err
tly_shamir_lagrange_at_zero(const uint64_t *xs, size_t count, uint64_t *coeffs)
{
	tly_err rv;

	if (count < 1 || count > TLY_SHAMIR_MAX_SHARES)
		return TLY_EINVAL;
	if ((rv = check_points(xs, count)) != TLY_OK)
		return rv;
	lagrange(xs, count, coeffs);
	return TLY_OK;
}

/*
 * out[k] = c * v[k] (first) or out[k] += c * v[k]; returns non-zero when
 * some v[k] >= p. first is the same for every k: -O3 unswitches the loop
 * into one branch-free loop each, which it vectorises.
 */
VECTOR_CLONES static uint64_t
combine(uint64_t *restrict out, uint64_t c, const uint64_t *restrict v, size_t width, int first)
{
	uint64_t bad = 0;

	for (size_t k = 0; k < width; k++) {
		bad |= v[k] >= TLY_FIELD_P;
		uint64_t term = mul_pieces(c, v[k]);
		out[k] = first ? term : tly_field_add(out[k], term);
	}
	return bad;
}

tly_err
tly_shamir_combine(const uint64_t *coeffs, const uint64_t *const *shares, size_t count, size_t d,
                   uint64_t *out)
{
	uint64_t bad = 0;

	for (size_t i = 0; i < count; i++)
		TLY_REQUIRE(coeffs[i] < TLY_FIELD_P);
	if (count == 0) {
		if (d > 0)
			memset(out, 0, d * sizeof *out);
		return TLY_OK;
	}
	/* Block by block, so that out's block stays in L1 while each share
	 * streams past once. */
	for (size_t offset = 0; offset < d; offset += MAX_WIDTH) {
		size_t w = d - offset < MAX_WIDTH ? d - offset : MAX_WIDTH;
		bad |= combine(out + offset, coeffs[0], shares[0] + offset, w, 1);
		for (size_t i = 1; i < count; i++)
			bad |= combine(out + offset, coeffs[i], shares[i] + offset, w, 0);
	}
	/* Whether some share element was out of range is public: the caller
	 * reports the share as corrupt. The elements themselves are not. */
	if (tly_ct_public(bad)) {
		TLY_WIPE(out, d * sizeof *out);
		return TLY_ERANGE;
	}
	return TLY_OK;
}

/* The checks of tly_shamir_reconstruct on (t, count, indices), in the order
 * that its header promises. */
static tly_err
check_set(const uint64_t *xs, size_t count, unsigned t)
{
	uint64_t seen[SEEN_WORDS] = {0};

	if (t < 1 || t > TLY_SHAMIR_MAX_SHARES)
		return TLY_EINVAL;
	if (count < t)
		return TLY_ETOOFEW;
	for (size_t i = 0; i < count; i++)
		if (xs[i] == 0 || xs[i] > TLY_SHAMIR_MAX_SHARES)
			return TLY_ERANGE;
	for (size_t i = 0; i < count; i++) {
		uint64_t bit = UINT64_C(1) << (xs[i] % 64);
		if (seen[xs[i] / 64] & bit)
			return TLY_EDUP;
		seen[xs[i] / 64] |= bit;
	}
	return TLY_OK;
}

tly_err
tly_shamir_reconstruct(const uint64_t *xs, const uint64_t *const *shares, size_t count, unsigned t,
                       size_t d, uint64_t *out)
{
	uint64_t lambdas[TLY_SHAMIR_MAX_SHARES];
	tly_err rv;

	if ((rv = check_set(xs, count, t)) != TLY_OK)
		return rv;
	lagrange(xs, t, lambdas);
	return tly_shamir_combine(lambdas, shares, t, d, out);
}

/* Big-endian chunk c of the secret: bytes [7c, min(7c + 7, 32)). */
static uint64_t
chunk_load(const uint8_t *secret, unsigned c)
{
	size_t start = (size_t)c * TLY_SHAMIR_CHUNK_BYTES;
	size_t end = start + TLY_SHAMIR_CHUNK_BYTES;
	uint64_t value = 0;

	end = end < TLY_SHAMIR_SECRET_BYTES ? end : TLY_SHAMIR_SECRET_BYTES;
	for (size_t b = start; b < end; b++)
		value = (value << 8) | secret[b];
	return value;
}

static unsigned
chunk_bits(unsigned c)
{
	size_t start = (size_t)c * TLY_SHAMIR_CHUNK_BYTES;
	size_t left = TLY_SHAMIR_SECRET_BYTES - start;
	return 8 * (unsigned)(left < TLY_SHAMIR_CHUNK_BYTES ? left : TLY_SHAMIR_CHUNK_BYTES);
}

static void
chunk_store(uint8_t *secret, unsigned c, uint64_t value)
{
	size_t start = (size_t)c * TLY_SHAMIR_CHUNK_BYTES;

	for (size_t b = start + chunk_bits(c) / 8; b > start; b--) {
		secret[b - 1] = (uint8_t)value;
		value >>= 8;
	}
}

static void
store_be64(uint8_t *out, uint64_t x)
{
	for (int b = 7; b >= 0; b--) {
		out[b] = (uint8_t)x;
		x >>= 8;
	}
}

static uint64_t
load_be64(const uint8_t *in)
{
	uint64_t x = 0;

	for (int b = 0; b < 8; b++)
		x = (x << 8) | in[b];
	return x;
}

/* values[i] = f(i + 1) for i < n, f = constant + sum_c coeffs[c - 1] X^c:
 * Horner over the coefficients, vectorised across the n points. */
VECTOR_CLONES static void
evaluate_points(uint64_t *restrict values, uint64_t constant, const uint64_t *restrict coeffs,
                unsigned t, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		values[i] = t >= 2 ? coeffs[t - 2] : constant;
	for (unsigned c = t - 1; c >= 1; c--) {
		uint64_t addend = c >= 2 ? coeffs[c - 2] : constant;
		for (unsigned i = 0; i < n; i++)
			values[i] = mul_small_add(values[i], i + 1, addend);
	}
}

tly_err
tly_shamir_secret_share(struct tly_rng *rng, const uint8_t secret[static TLY_SHAMIR_SECRET_BYTES],
                        unsigned t, unsigned n, uint8_t *const *shares)
{
	uint64_t coeffs[TLY_SHAMIR_MAX_SHARES - 1];
	uint64_t values[TLY_SHAMIR_MAX_SHARES];
	uint64_t chunk;

	if (!valid_threshold(t, n))
		return TLY_EINVAL;
	for (unsigned c = 0; c < TLY_SHAMIR_SECRET_CHUNKS; c++) {
		chunk = chunk_load(secret, c);
		tly_rng_field(rng, coeffs, t - 1);
		evaluate_points(values, chunk, coeffs, t, n);
		for (unsigned i = 0; i < n; i++)
			store_be64(shares[i] + (size_t)c * TLY_FIELD_ELEMENT_BYTES, values[i]);
	}
	TLY_WIPE(coeffs, (size_t)(t - 1) * sizeof coeffs[0]);
	TLY_WIPE(values, (size_t)n * sizeof values[0]);
	TLY_WIPE_OBJ(chunk);
	return TLY_OK;
}

tly_err
tly_shamir_secret_combine(const uint64_t *coeffs, const uint8_t *const *shares, size_t count,
                          uint8_t out[static TLY_SHAMIR_SECRET_BYTES])
{
	uint64_t chunks[TLY_SHAMIR_SECRET_CHUNKS] = {0};
	uint64_t word = 0, wide = 0, bad = 0;
	tly_err rv = TLY_ERANGE;

	for (size_t i = 0; i < count; i++)
		TLY_REQUIRE(coeffs[i] < TLY_FIELD_P);
	/* No branch on the share words (secret): a word >= p is only noted,
	 * and the chunks it spoils are thrown away below. */
	for (unsigned c = 0; c < TLY_SHAMIR_SECRET_CHUNKS; c++) {
		for (size_t i = 0; i < count; i++) {
			word = load_be64(shares[i] + (size_t)c * TLY_FIELD_ELEMENT_BYTES);
			bad |= (word >= TLY_FIELD_P);
			chunks[c] =
			    tly_field_add(chunks[c], tly_field_mul(coeffs[i], word & TLY_FIELD_P));
		}
		/* Honest shares give chunk < 2^bits; anything wider is
		 * corruption. Checked for all chunks, without branching on
		 * which one. */
		wide |= chunks[c] >> chunk_bits(c);
	}
	/* Which of the two corruptions (if any) occurred is public: the caller
	 * reports it. */
	if (tly_ct_public(bad))
		goto out;
	rv = TLY_EFORMAT;
	if (tly_ct_public(wide != 0))
		goto out;
	for (unsigned c = 0; c < TLY_SHAMIR_SECRET_CHUNKS; c++)
		chunk_store(out, c, chunks[c]);
	rv = TLY_OK;
out:
	TLY_WIPE_OBJ(chunks);
	TLY_WIPE_OBJ(word);
	TLY_WIPE_OBJ(wide);
	TLY_WIPE_OBJ(bad);
	return rv;
}

tly_err
tly_shamir_secret_reconstruct(const uint64_t *xs, const uint8_t *const *shares, size_t count,
                              unsigned t, uint8_t out[static TLY_SHAMIR_SECRET_BYTES])
{
	uint64_t lambdas[TLY_SHAMIR_MAX_SHARES];
	tly_err rv;

	if ((rv = check_set(xs, count, t)) != TLY_OK)
		return rv;
	lagrange(xs, t, lambdas);
	return tly_shamir_secret_combine(lambdas, shares, t, out);
}
