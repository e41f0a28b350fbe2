/* The keyed PRG: known answers for its two primitives (RFC 8439 ChaCha20,
 * SP 800-38A AES-128-CTR) and for its whole derivation (vectors computed
 * with Python and the openssl CLI), then the properties the masking
 * protocol relies on, and the uniformity of its field elements. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/field.h"
#include "crypto/kdf.h"
#include "crypto/prg.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "tests/stats.h"
#include "tests/vectors.h"

static const enum tly_prg_alg algs[] = {TLY_PRG_AES128CTR, TLY_PRG_CHACHA20};
enum { ALG_COUNT = sizeof algs / sizeof algs[0] };

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(prg, .init = setup);
TestSuite(prg_stats, .init = setup);

static struct tly_prg_context
context(const char *purpose, const uint8_t *session, size_t session_len, uint64_t length)
{
	struct tly_prg_context ctx = {
	    .purpose = purpose,
	    .session = session,
	    .session_len = session_len,
	    .length = length,
	};
	return ctx;
}

static struct tly_prg *
make(enum tly_prg_alg alg, const uint8_t seed[TLY_PRG_SEED_BYTES],
     const struct tly_prg_context *ctx)
{
	struct tly_prg *prg = NULL;

	cr_assert_eq(tly_prg_alloc(&prg, alg, seed, ctx), TLY_OK, "%s", tly_prg_alg_name(alg));
	cr_assert_not_null(prg);
	return prg;
}

/* The first d elements of the generator for (alg, seed, ctx). */
static void
draw(enum tly_prg_alg alg, const uint8_t seed[TLY_PRG_SEED_BYTES],
     const struct tly_prg_context *ctx, uint64_t *out, size_t d)
{
	struct tly_prg *prg = make(alg, seed, ctx);

	cr_assert_eq(tly_prg_field(prg, out, d), TLY_OK);
	tly_prg_free(prg);
}

static enum tly_prg_alg
alg_named(const char *name)
{
	for (size_t i = 0; i < ALG_COUNT; i++)
		if (strcmp(tly_prg_alg_name(algs[i]), name) == 0)
			return algs[i];
	cr_assert_fail("no algorithm is called %s", name);
	return algs[0];
}

Test(prg, chacha20_rfc8439)
{
	struct tly_vectors *file = tly_vectors_load("chacha20.txt");

	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		uint8_t key[32], nonce[12];
		size_t pt_len, ct_len;
		tly_vector_hex_fixed(v, "key", key, sizeof key);
		tly_vector_hex_fixed(v, "nonce", nonce, sizeof nonce);
		uint64_t counter = tly_vector_u64(v, "counter");
		cr_assert_leq(counter, UINT32_MAX);
		uint8_t *pt = tly_vector_hex(v, "plaintext", &pt_len);
		uint8_t *ct = tly_vector_hex(v, "ciphertext", &ct_len);
		cr_assert_eq(pt_len, ct_len);
		uint8_t *out = malloc(ct_len + 1);

		cr_assert_eq(tly_prg_stream_xor(TLY_PRG_CHACHA20, out, pt, pt_len, key, nonce,
		                                (uint32_t)counter),
		             TLY_OK);
		cr_assert_arr_eq(out, ct, ct_len, "%s", v->title);
		/* Decryption, in place. */
		cr_assert_eq(tly_prg_stream_xor(TLY_PRG_CHACHA20, out, out, ct_len, key, nonce,
		                                (uint32_t)counter),
		             TLY_OK);
		cr_assert_arr_eq(out, pt, pt_len, "%s: in place", v->title);

		free(out);
		free(ct);
		free(pt);
	}
	tly_vectors_free(file);
}

Test(prg, aes128ctr_sp800_38a)
{
	struct tly_vectors *file = tly_vectors_load("aes128ctr.txt");

	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		uint8_t key[16], iv[16];
		size_t in_len, out_len;
		tly_vector_hex_fixed(v, "key", key, sizeof key);
		tly_vector_hex_fixed(v, "iv", iv, sizeof iv);
		uint8_t *in = tly_vector_hex(v, "input", &in_len);
		uint8_t *want = tly_vector_hex(v, "output", &out_len);
		cr_assert_eq(in_len, out_len);
		uint8_t *out = malloc(out_len + 1);

		cr_assert_eq(tly_prg_stream_xor(TLY_PRG_AES128CTR, out, in, in_len, key, iv, 0),
		             TLY_OK);
		cr_assert_arr_eq(out, want, out_len, "%s", v->title);
		memcpy(out, in, in_len);
		cr_assert_eq(tly_prg_stream_xor(TLY_PRG_AES128CTR, out, out, in_len, key, iv, 0),
		             TLY_OK);
		cr_assert_arr_eq(out, want, out_len, "%s: in place", v->title);

		free(out);
		free(want);
		free(in);
	}
	tly_vectors_free(file);
}

Test(prg, stream_xor_rejects_bad_arguments)
{
	uint8_t key[32] = {0}, iv[16] = {0}, in[16] = {0}, out[16];

	memset(out, 0xaa, sizeof out);
	cr_assert_eq(tly_prg_stream_xor((enum tly_prg_alg)0, out, in, sizeof in, key, iv, 0),
	             TLY_EINVAL);
	cr_assert_eq(tly_prg_stream_xor((enum tly_prg_alg)3, out, in, sizeof in, key, iv, 0),
	             TLY_EINVAL);
	/* AES-CTR takes its counter inside the 16-byte block. */
	cr_assert_eq(tly_prg_stream_xor(TLY_PRG_AES128CTR, out, in, sizeof in, key, iv, 1),
	             TLY_EINVAL);
	for (size_t i = 0; i < sizeof out; i++)
		cr_assert_eq(out[i], 0xaa);
}

Test(prg, algorithm_names)
{
	cr_assert_str_eq(tly_prg_alg_name(TLY_PRG_AES128CTR), "aes128ctr");
	cr_assert_str_eq(tly_prg_alg_name(TLY_PRG_CHACHA20), "chacha20");
	cr_assert_str_eq(tly_prg_alg_name((enum tly_prg_alg)0), "unknown");
	cr_assert_str_eq(tly_prg_alg_name((enum tly_prg_alg)99), "unknown");
	cr_assert_eq(TLY_PRG_DEFAULT, TLY_PRG_AES128CTR);
}

/* One prg.txt case: the HKDF step and the keystream against Python and
 * openssl, then the generator as a whole. */
static void
check_derivation(const struct tly_vector *v)
{
	static const uint8_t salt[] = "tally/prg/v1";
	enum tly_prg_alg alg = alg_named(tly_vector_text(v, "alg"));
	uint8_t seed[TLY_PRG_SEED_BYTES], okm[48], got_okm[48];
	size_t session_len, info_len, stream_len, count;
	tly_vector_hex_fixed(v, "seed", seed, sizeof seed);
	tly_vector_hex_fixed(v, "okm", okm, sizeof okm);
	uint8_t *session = tly_vector_hex(v, "session", &session_len);
	uint8_t *info = tly_vector_hex(v, "info", &info_len);
	uint8_t *stream = tly_vector_hex(v, "keystream", &stream_len);
	uint64_t *field = tly_vector_u64_list(v, "field", &count);
	uint64_t length = tly_vector_u64(v, "length");
	cr_assert_eq(count, length);
	cr_assert_eq(stream_len, 8 * length);

	cr_assert_eq(tly_hkdf(got_okm, sizeof got_okm, salt, sizeof salt - 1, seed, sizeof seed,
	                      info, info_len),
	             TLY_OK);
	cr_assert_arr_eq(got_okm, okm, sizeof okm, "%s: okm", v->title);

	uint8_t *got = calloc(stream_len, 1);
	const uint8_t *iv = alg == TLY_PRG_AES128CTR ? okm + 16 : okm + 32;
	cr_assert_eq(tly_prg_stream_xor(alg, got, got, stream_len, okm, iv, 0), TLY_OK);
	cr_assert_arr_eq(got, stream, stream_len, "%s: keystream", v->title);

	struct tly_prg_context ctx = context(tly_vector_text(v, "purpose"),
	                                     session_len > 0 ? session : NULL, session_len, length);
	uint64_t *elements = calloc(count, sizeof *elements);
	draw(alg, seed, &ctx, elements, count);
	cr_assert_arr_eq(elements, field, count * sizeof *field, "%s: field", v->title);

	struct tly_prg *prg = make(alg, seed, &ctx);
	memset(got, 0, stream_len);
	cr_assert_eq(tly_prg_bytes(prg, got, (size_t)length), TLY_OK);
	cr_assert_arr_eq(got, stream, (size_t)length, "%s: bytes", v->title);
	tly_prg_free(prg);

	free(elements);
	free(got);
	free(field);
	free(stream);
	free(info);
	free(session);
}

Test(prg, derivation_vectors)
{
	struct tly_vectors *file = tly_vectors_load("prg.txt");

	for (size_t i = 0; i < file->count; i++)
		check_derivation(&file->blocks[i]);
	tly_vectors_free(file);
}

enum { PROBE = 64 };

static const uint8_t session_a[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2};

Test(prg, same_seed_and_context_same_stream)
{
	uint8_t seed[TLY_PRG_SEED_BYTES];
	uint64_t a[PROBE], b[PROBE];

	memset(seed, 0x11, sizeof seed);
	struct tly_prg_context ctx = context("pairwise-mask", session_a, sizeof session_a, PROBE);
	for (size_t i = 0; i < ALG_COUNT; i++) {
		draw(algs[i], seed, &ctx, a, PROBE);
		draw(algs[i], seed, &ctx, b, PROBE);
		cr_assert_arr_eq(a, b, sizeof a);
	}
}

/* No element of the first PROBE agrees between the two streams: that
 * happens by chance with probability about PROBE / 2^61. */
static void
assert_unrelated(const uint64_t *a, const uint64_t *b, const char *what)
{
	for (size_t i = 0; i < PROBE; i++)
		cr_assert_neq(a[i], b[i], "%s: element %zu repeats", what, i);
}

Test(prg, any_change_of_context_changes_the_stream)
{
	uint8_t seed[TLY_PRG_SEED_BYTES], other_seed[TLY_PRG_SEED_BYTES];
	uint8_t session_b[sizeof session_a];
	uint64_t base[PROBE + 1], other[PROBE + 1];

	memset(seed, 0x11, sizeof seed);
	memcpy(other_seed, seed, sizeof seed);
	other_seed[31] ^= 0x80;
	memcpy(session_b, session_a, sizeof session_a);
	session_b[sizeof session_b - 1] ^= 1;

	for (size_t i = 0; i < ALG_COUNT; i++) {
		enum tly_prg_alg alg = algs[i];
		struct tly_prg_context ctx =
		    context("pairwise-mask", session_a, sizeof session_a, PROBE);
		draw(alg, seed, &ctx, base, PROBE);

		draw(alg, other_seed, &ctx, other, PROBE);
		assert_unrelated(base, other, "seed");

		ctx.purpose = "self-mask";
		draw(alg, seed, &ctx, other, PROBE);
		assert_unrelated(base, other, "purpose");
		ctx.purpose = "pairwise-mask2";
		draw(alg, seed, &ctx, other, PROBE);
		assert_unrelated(base, other, "purpose extended");
		ctx.purpose = "pairwise-mask";

		ctx.session = session_b;
		draw(alg, seed, &ctx, other, PROBE);
		assert_unrelated(base, other, "session");
		ctx.session = session_a;
		ctx.session_len = sizeof session_a - 1;
		draw(alg, seed, &ctx, other, PROBE);
		assert_unrelated(base, other, "session length");
		ctx.session_len = sizeof session_a;

		/* A longer mask is not an extension of the shorter one. */
		ctx.length = PROBE + 1;
		draw(alg, seed, &ctx, other, PROBE + 1);
		assert_unrelated(base, other, "length");
		ctx.length = PROBE;

		enum tly_prg_alg other_alg = algs[(i + 1) % ALG_COUNT];
		draw(other_alg, seed, &ctx, other, PROBE);
		assert_unrelated(base, other, "algorithm");
	}
}

Test(prg, field_elements_are_below_p)
{
	enum { D = 200000 };
	uint8_t seed[TLY_PRG_SEED_BYTES];
	uint64_t *v = malloc(D * sizeof *v);

	memset(seed, 0x22, sizeof seed);
	struct tly_prg_context ctx = context("range", NULL, 0, D);
	for (size_t i = 0; i < ALG_COUNT; i++) {
		draw(algs[i], seed, &ctx, v, D);
		for (size_t j = 0; j < D; j++)
			cr_assert_lt(v[j], TLY_FIELD_P, "element %zu", j);
		cr_assert_eq(tly_field_vec_check(v, D), TLY_OK);
	}
	free(v);
}

Test(prg, add_then_sub_restores_the_vector)
{
	enum { D = 1000 };
	uint8_t seed[TLY_PRG_SEED_BYTES];
	uint64_t orig[D], acc[D], mask[D];
	struct tly_rng rng;

	memset(seed, 0x33, sizeof seed);
	tly_rng_init_seeded_u64(&rng, 33);
	tly_rng_field(&rng, orig, D);
	tly_rng_fini(&rng);
	struct tly_prg_context ctx = context("pairwise-mask", session_a, sizeof session_a, D);

	for (size_t i = 0; i < ALG_COUNT; i++) {
		draw(algs[i], seed, &ctx, mask, D);
		memcpy(acc, orig, sizeof acc);

		struct tly_prg *prg = make(algs[i], seed, &ctx);
		cr_assert_eq(tly_prg_field_add(prg, acc, D), TLY_OK);
		tly_prg_free(prg);
		for (size_t j = 0; j < D; j++)
			cr_assert_eq(acc[j], tly_field_add(orig[j], mask[j]), "add, element %zu",
			             j);

		prg = make(algs[i], seed, &ctx);
		cr_assert_eq(tly_prg_field_sub(prg, acc, D), TLY_OK);
		tly_prg_free(prg);
		cr_assert_arr_eq(acc, orig, sizeof acc, "%s", tly_prg_alg_name(algs[i]));
	}
}

Test(prg, requests_beyond_length_are_refused)
{
	enum { LEN = 10 };
	uint8_t seed[TLY_PRG_SEED_BYTES], bytes[LEN + 1];
	uint64_t v[LEN + 1], acc[LEN + 1];

	memset(seed, 0x44, sizeof seed);
	struct tly_prg_context ctx = context("bounded", NULL, 0, LEN);
	for (size_t i = 0; i < ALG_COUNT; i++) {
		struct tly_prg *prg = make(algs[i], seed, &ctx);
		memset(v, 0xaa, sizeof v);
		cr_assert_eq(tly_prg_field(prg, v, LEN + 1), TLY_ERANGE);
		for (size_t j = 0; j < LEN + 1; j++)
			cr_assert_eq(v[j], UINT64_C(0xaaaaaaaaaaaaaaaa), "written on failure");
		cr_assert_eq(tly_prg_field(prg, v, 4), TLY_OK);
		cr_assert_eq(tly_prg_field(prg, v, LEN - 4), TLY_OK);
		cr_assert_eq(tly_prg_field(prg, v, 1), TLY_ERANGE);
		tly_prg_free(prg);

		/* add and sub count against the same budget, and leave the
		 * accumulator alone when refused. */
		prg = make(algs[i], seed, &ctx);
		memset(acc, 0, sizeof acc);
		cr_assert_eq(tly_prg_field_add(prg, acc, LEN - 1), TLY_OK);
		memcpy(v, acc, sizeof v);
		cr_assert_eq(tly_prg_field_sub(prg, acc, 2), TLY_ERANGE);
		cr_assert_eq(tly_prg_field_add(prg, acc, 2), TLY_ERANGE);
		cr_assert_arr_eq(acc, v, sizeof acc);
		cr_assert_eq(tly_prg_field_sub(prg, acc, 1), TLY_OK);
		cr_assert_eq(tly_prg_field(prg, v, 1), TLY_ERANGE);
		tly_prg_free(prg);

		/* Raw bytes count in bytes. */
		prg = make(algs[i], seed, &ctx);
		memset(bytes, 0xaa, sizeof bytes);
		cr_assert_eq(tly_prg_bytes(prg, bytes, LEN + 1), TLY_ERANGE);
		for (size_t j = 0; j < sizeof bytes; j++)
			cr_assert_eq(bytes[j], 0xaa, "written on failure");
		cr_assert_eq(tly_prg_bytes(prg, bytes, 3), TLY_OK);
		cr_assert_eq(tly_prg_bytes(prg, bytes, LEN - 3), TLY_OK);
		cr_assert_eq(tly_prg_bytes(prg, bytes, 1), TLY_ERANGE);
		tly_prg_free(prg);
	}
}

/* The pieces 1 + 7 + 1000 + rest straddle every internal buffer edge a
 * byte-, word- or block-oriented implementation could have. */
static const size_t pieces[] = {1, 7, 1000};
enum { PIECES = sizeof pieces / sizeof pieces[0], TOTAL = 5000 };

typedef tly_err (*field_op)(struct tly_prg *, uint64_t *, size_t);

static void
check_pieces(enum tly_prg_alg alg, field_op op, const char *name)
{
	static uint64_t whole[TOTAL], split[TOTAL];
	uint8_t seed[TLY_PRG_SEED_BYTES];
	size_t at = 0;

	memset(seed, 0x55, sizeof seed);
	for (size_t i = 0; i < TOTAL; i++)
		whole[i] = split[i] = (uint64_t)i * 7919;
	struct tly_prg_context ctx = context("pieces", session_a, sizeof session_a, TOTAL);

	struct tly_prg *prg = make(alg, seed, &ctx);
	cr_assert_eq(op(prg, whole, TOTAL), TLY_OK);
	tly_prg_free(prg);

	prg = make(alg, seed, &ctx);
	for (size_t i = 0; i < PIECES; i++) {
		cr_assert_eq(op(prg, split + at, pieces[i]), TLY_OK);
		at += pieces[i];
	}
	cr_assert_eq(op(prg, split + at, TOTAL - at), TLY_OK);
	tly_prg_free(prg);
	cr_assert_arr_eq(split, whole, sizeof whole, "%s, %s", tly_prg_alg_name(alg), name);
}

Test(prg, streaming_in_pieces_equals_one_call)
{
	static uint8_t whole[TOTAL], split[TOTAL];
	uint8_t seed[TLY_PRG_SEED_BYTES];

	memset(seed, 0x55, sizeof seed);
	for (size_t i = 0; i < ALG_COUNT; i++) {
		check_pieces(algs[i], tly_prg_field, "field");
		check_pieces(algs[i], tly_prg_field_add, "field_add");
		check_pieces(algs[i], tly_prg_field_sub, "field_sub");

		struct tly_prg_context ctx = context("pieces", NULL, 0, TOTAL);
		struct tly_prg *prg = make(algs[i], seed, &ctx);
		cr_assert_eq(tly_prg_bytes(prg, whole, TOTAL), TLY_OK);
		tly_prg_free(prg);
		prg = make(algs[i], seed, &ctx);
		size_t at = 0;
		for (size_t j = 0; j < PIECES; j++) {
			cr_assert_eq(tly_prg_bytes(prg, split + at, pieces[j]), TLY_OK);
			at += pieces[j];
		}
		cr_assert_eq(tly_prg_bytes(prg, split + at, TOTAL - at), TLY_OK);
		tly_prg_free(prg);
		cr_assert_arr_eq(split, whole, sizeof whole, "%s, bytes",
		                 tly_prg_alg_name(algs[i]));
	}
}

/* tly_prg_alloc refuses ctx and leaves *out alone; the boundary values
 * themselves are accepted. */
static void
assert_refused(enum tly_prg_alg alg, const struct tly_prg_context *ctx, const char *what)
{
	uint8_t seed[TLY_PRG_SEED_BYTES] = {0};
	struct tly_prg *sentinel = (struct tly_prg *)&sentinel;
	struct tly_prg *prg = sentinel;

	cr_assert_eq(tly_prg_alloc(&prg, alg, seed, ctx), TLY_EINVAL, "%s", what);
	cr_assert_eq(prg, sentinel, "%s: *out written on failure", what);
}

Test(prg, invalid_contexts_are_refused)
{
	char purpose_max[TLY_PRG_PURPOSE_MAX + 1], purpose_long[TLY_PRG_PURPOSE_MAX + 2];
	static uint8_t session[TLY_PRG_SESSION_MAX + 1];
	uint8_t seed[TLY_PRG_SEED_BYTES] = {0};

	memset(purpose_max, 'p', TLY_PRG_PURPOSE_MAX);
	purpose_max[TLY_PRG_PURPOSE_MAX] = '\0';
	memset(purpose_long, 'p', TLY_PRG_PURPOSE_MAX + 1);
	purpose_long[TLY_PRG_PURPOSE_MAX + 1] = '\0';

	for (size_t i = 0; i < ALG_COUNT; i++) {
		enum tly_prg_alg alg = algs[i];
		struct tly_prg_context ctx = context(NULL, NULL, 0, 8);
		assert_refused(alg, &ctx, "NULL purpose");
		ctx.purpose = "";
		assert_refused(alg, &ctx, "empty purpose");
		ctx.purpose = purpose_long;
		assert_refused(alg, &ctx, "purpose of 65 bytes");
		ctx.purpose = "ok";
		ctx.session = session;
		ctx.session_len = TLY_PRG_SESSION_MAX + 1;
		assert_refused(alg, &ctx, "session of 257 bytes");

		ctx.purpose = purpose_max;
		ctx.session_len = TLY_PRG_SESSION_MAX;
		tly_prg_free(make(alg, seed, &ctx));
		ctx.purpose = "x";
		ctx.session = NULL;
		ctx.session_len = 0;
		tly_prg_free(make(alg, seed, &ctx));
	}
	struct tly_prg_context ctx = context("ok", NULL, 0, 8);
	assert_refused((enum tly_prg_alg)0, &ctx, "algorithm 0");
	assert_refused((enum tly_prg_alg)3, &ctx, "algorithm 3");
}

Test(prg, free_accepts_null)
{
	tly_prg_free(NULL);
	cr_assert(1, "tly_prg_free(NULL) returned");
}

/*
 * Uniformity of the top 4 bits of the 61-bit elements: Pearson's
 * chi-square (15 degrees of freedom) against the exact distribution, in
 * which bucket 15 holds one value fewer than the others since
 * p = 2^61 - 1. Seeds are fixed, so the outcome is reproducible.
 */
enum { TOP_BITS = 4, BUCKETS = 1 << TOP_BITS, DRAWS = 1000000 };
static const double fit_p = 1e-3, power_p = 1e-9;

static double
top_bits_p_value(const uint64_t *v, size_t n, double *statistic)
{
	const double width = (double)(UINT64_C(1) << (TLY_FIELD_BITS - TOP_BITS));
	double prob[BUCKETS], dof;
	struct stats_hist h;

	for (size_t b = 0; b < BUCKETS; b++)
		prob[b] = (b + 1 < BUCKETS ? width : width - 1) / (double)TLY_FIELD_P;
	stats_hist_init(&h, 0, BUCKETS - 1);
	for (size_t i = 0; i < n; i++)
		stats_hist_add(&h, (int64_t)(v[i] >> (TLY_FIELD_BITS - TOP_BITS)));
	double p = stats_chi2(&h, prob, statistic, &dof);
	stats_hist_fini(&h);
	return p;
}

Test(prg_stats, top_bits_are_uniform)
{
	uint8_t seed[TLY_PRG_SEED_BYTES];
	uint64_t *v = malloc(DRAWS * sizeof *v);
	double chi2;

	memset(seed, 0x66, sizeof seed);
	struct tly_prg_context ctx = context("stats", session_a, sizeof session_a, DRAWS);
	for (size_t i = 0; i < ALG_COUNT; i++) {
		draw(algs[i], seed, &ctx, v, DRAWS);
		double p = top_bits_p_value(v, DRAWS, &chi2);
		cr_assert_gt(p, fit_p, "%s: chi2 = %g, p = %g", tly_prg_alg_name(algs[i]), chi2, p);

		/* The same test catches a wrong parameter: elements masked to
		 * 60 bits instead of 61 leave the upper half empty. */
		for (size_t j = 0; j < DRAWS; j++)
			v[j] >>= 1;
		p = top_bits_p_value(v, DRAWS, &chi2);
		cr_assert_lt(p, power_p, "%s: 60-bit elements pass, chi2 = %g, p = %g",
		             tly_prg_alg_name(algs[i]), chi2, p);
	}
	free(v);
}
