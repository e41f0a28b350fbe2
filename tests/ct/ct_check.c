/*
 * ct_check - constant-time check of tally's secret-handling code (ctgrind).
 *
 * Run under valgrind memcheck by scripts/ctgrind.sh (`make ctgrind`). Every
 * secret (keys, seeds, shares, field vectors holding secret values, Shamir
 * secrets and coefficients, AEAD keys and plaintexts, X25519 scalars,
 * Ed25519 seeds, noise values) is marked undefined with
 * VALGRIND_MAKE_MEM_UNDEFINED before the code under test runs. memcheck
 * then reports every conditional branch and every memory address that
 * depends on a secret, since both are uses of undefined values; arithmetic
 * and conditional moves only propagate undefinedness. Outputs that are
 * public by design (ciphertexts, public keys, signatures, released totals,
 * error codes) are declassified here with VALGRIND_MAKE_MEM_DEFINED, each
 * with the reason; the library declassifies its own public bits with
 * tly_ct_public (crypto/ct.h).
 *
 * Modes (argv[1]):
 *   check    every real check; each must give 0 memcheck errors.
 *   control  deliberately leaky functions (a branch on a secret byte, a
 *            table lookup indexed by a secret, an early-exit memcmp on a
 *            secret); each must give at least one error, or the check
 *            above could pass without checking anything.
 *   report   the rejection samplers of crypto/dp.c, whose running time
 *            depends on the noise they return (dp.h): errors are counted
 *            and listed, never fatal.
 * Each check also verifies its result on declassified copies, so that a
 * check that silently did nothing would fail.
 *
 * Exit: 0 when the mode's expectation holds, 1 when not, 2 when not run
 * under valgrind (then nothing would be checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <valgrind/memcheck.h>

#include "crypto/aead.h"
#include "crypto/dp.h"
#include "crypto/field.h"
#include "crypto/kdf.h"
#include "crypto/kx.h"
#include "crypto/prg.h"
#include "crypto/rng.h"
#include "crypto/shamir.h"
#include "crypto/sign.h"
#include "query/noise.h"
#include "protocol/secagg_impl.h"

#define SECRET(ptr, len) ((void)VALGRIND_MAKE_MEM_UNDEFINED((ptr), (len)))
#define PUBLIC(ptr, len) ((void)VALGRIND_MAKE_MEM_DEFINED((ptr), (len)))
#define P                TLY_FIELD_P

enum { D = 2500 }; /* > 2 PRG chunks of 1024 words, odd tail for the SIMD loops */

static int failures;

static void
expect(int ok, const char *check, const char *what)
{
	if (!ok) {
		fprintf(stderr, "ct_check: %s: wrong result: %s\n", check, what);
		failures++;
	}
}

/* Public test data: splitmix64. */
static uint64_t mix_state = UINT64_C(0x7a11ec7);

static uint64_t
mix(void)
{
	uint64_t z = (mix_state += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void
fill_elements(uint64_t *v, size_t d)
{
	for (size_t i = 0; i < d; i++)
		v[i] = mix() % P;
	v[0] = 0; /* the edges of the range */
	v[1] = P - 1;
	v[2] = TLY_FIELD_HALF;
	v[3] = TLY_FIELD_HALF + 1;
}

static void
fill_bytes(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)mix();
}

/* memcmp of a declassified copy: tests compare results only this way. */
static int
same(const void *secret, const void *expected, size_t n)
{
	uint8_t *copy = malloc(n);
	int eq;

	if (copy == NULL)
		abort();
	memcpy(copy, secret, n);
	PUBLIC(copy, n);
	eq = memcmp(copy, expected, n) == 0;
	free(copy);
	return eq;
}

/* An rng whose key and buffer are secret (the bits it draws are). */
static void
secret_rng(struct tly_rng *rng)
{
	tly_rng_init(rng);
	SECRET(rng->key, sizeof rng->key);
	SECRET(rng->buffer, sizeof rng->buffer);
}

/* ---- crypto/field ---- */

static void
check_field_vectors(void)
{
	static uint64_t a[D], b[D], pa[D], pb[D], acc[D], want[D];
	uint64_t pc = UINT64_C(0x123456789abcdef) % P, c = pc, dot = 0, s;

	fill_elements(pa, D);
	fill_elements(pb, D);
	for (size_t i = 0; i < D; i++) { /* expected values, from public copies */
		want[i] = tly_field_mul(pc, tly_field_add(pa[i], tly_field_mul(pc, pb[i])));
		dot = tly_field_add(dot, tly_field_mul(pa[i], pb[i]));
	}
	memcpy(a, pa, sizeof a);
	memcpy(b, pb, sizeof b);
	SECRET(a, sizeof a); /* shares or masked inputs */
	SECRET(b, sizeof b);
	SECRET(&c, sizeof c);

	memcpy(acc, a, sizeof acc);
	tly_field_vec_add(acc, b, D);
	tly_field_vec_sub(acc, b, D);
	expect(same(acc, pa, sizeof acc), "field", "vec_add then vec_sub");
	for (size_t i = 0; i < D; i++)
		acc[i] = tly_field_neg(tly_field_neg(acc[i]));
	expect(same(acc, pa, sizeof acc), "field", "neg twice");

	tly_field_vec_axpy(acc, c, b, D); /* a + c b */
	tly_field_vec_scale(acc, c, D);   /* c (a + c b) */
	expect(same(acc, want, sizeof acc), "field", "axpy then scale");
	s = tly_field_vec_dot(a, b, D);
	expect(same(&s, &dot, sizeof s), "field", "vec_dot");

	expect(tly_field_vec_check(a, D) == TLY_OK, "field", "vec_check of elements");
	a[7] = P; /* out of range: the error, not the secrets, is public */
	SECRET(a, sizeof a);
	expect(tly_field_vec_check(a, D) == TLY_ERANGE, "field", "vec_check of p");
}

static void
check_field_signed(void)
{
	static int64_t v[D], back[D];
	static uint64_t enc[D];
	static uint8_t wire[8 * D];
	static uint64_t loaded[D];
	size_t bad = 0;

	for (size_t i = 0; i < D; i++)
		v[i] = (int64_t)(mix() % (2 * TLY_FIELD_HALF + 1)) - (int64_t)TLY_FIELD_HALF;
	v[0] = 0;
	v[1] = -1;
	v[2] = (int64_t)TLY_FIELD_HALF;
	v[3] = -(int64_t)TLY_FIELD_HALF;
	SECRET(v, sizeof v); /* counts plus noise: secret until released */

	expect(tly_field_vec_encode_signed(enc, v, D, &bad) == TLY_OK, "field", "encode");
	expect(tly_field_vec_decode_signed(back, enc, D, &bad) == TLY_OK, "field", "decode");
	PUBLIC(v, sizeof v);
	expect(same(back, v, sizeof back), "field", "encode then decode");
	SECRET(v, sizeof v);

	for (size_t i = 0; i < 64; i++) {
		uint64_t one;
		int64_t want = v[i];
		PUBLIC(&want, sizeof want); /* the expected value only */
		expect(tly_field_encode_signed(v[i], &one) == TLY_OK, "field", "encode_signed");
		int64_t x = tly_field_decode_signed(one);
		expect(same(&x, &want, sizeof x), "field", "decode_signed");
	}

	/* Out of range: the error and its index are public. */
	v[5] = (int64_t)TLY_FIELD_HALF + 1;
	SECRET(v, sizeof v);
	expect(tly_field_vec_encode_signed(enc, v, D, &bad) == TLY_ERANGE && bad == 5, "field",
	       "encode of HALF + 1");
	v[5] = INT64_MIN;
	SECRET(v, sizeof v);
	expect(tly_field_vec_encode_signed(enc, v, D, &bad) == TLY_ERANGE && bad == 5, "field",
	       "encode of INT64_MIN");

	/* Wire form: a share after decryption is secret. */
	for (size_t i = 0; i < D; i++)
		enc[i] = mix() % P;
	SECRET(enc, sizeof enc);
	tly_field_vec_store(wire, enc, D);
	expect(tly_field_vec_load(loaded, wire, D) == TLY_OK, "field", "vec_load");
	PUBLIC(enc, sizeof enc);
	expect(same(loaded, enc, sizeof loaded), "field", "store then load");
	memset(wire + 8 * 1500, 0x1f, 1);
	memset(wire + 8 * 1500 + 1, 0xff, 7); /* exactly p */
	SECRET(wire, sizeof wire);
	expect(tly_field_vec_load(loaded, wire, D) == TLY_ERANGE, "field", "vec_load of p");
	expect(tly_field_vec_decode_signed(back, (uint64_t[]){1, P, 2}, 3, &bad) == TLY_ERANGE &&
	           bad == 1,
	       "field", "decode of p");
}

/* ---- crypto/rng, crypto/prg ---- */

static void
check_rng(void)
{
	static uint64_t v[D];
	struct tly_rng rng;
	uint64_t bad = 0;

	secret_rng(&rng);
	tly_rng_field(&rng, v, D);
	for (size_t i = 0; i < D; i++)
		bad |= v[i] >= P;
	PUBLIC(&bad, sizeof bad); /* the test's own check, not the library's */
	expect(bad == 0, "rng", "tly_rng_field below p");
	tly_rng_fini(&rng);
}

static void
check_prg_alg(enum tly_prg_alg alg)
{
	static uint64_t stored[D], acc[D], plain[D], zero[D];
	static const uint8_t session[20] = "query-id-and-round";
	uint8_t seed[TLY_PRG_SEED_BYTES];
	uint8_t bytes[300];
	struct tly_prg *prg;
	struct tly_prg_context ctx = {
	    .purpose = "pairwise-mask",
	    .session = session,
	    .session_len = sizeof session,
	    .length = D,
	};
	const char *name = tly_prg_alg_name(alg);

	fill_bytes(seed, sizeof seed);
	SECRET(seed, sizeof seed); /* an X25519-agreed secret */

	expect(tly_prg_alloc(&prg, alg, seed, &ctx) == TLY_OK, name, "alloc");
	expect(tly_prg_field(prg, stored, 7) == TLY_OK, name, "field (7)");
	expect(tly_prg_field(prg, stored + 7, D - 7) == TLY_OK, name, "field (rest)");
	tly_prg_free(prg);

	fill_elements(acc, D);
	memcpy(plain, acc, sizeof plain);
	SECRET(acc, sizeof acc); /* a secret input vector being masked */
	expect(tly_prg_alloc(&prg, alg, seed, &ctx) == TLY_OK, name, "alloc");
	expect(tly_prg_field_add(prg, acc, D) == TLY_OK, name, "field_add");
	tly_prg_free(prg);
	expect(tly_prg_alloc(&prg, alg, seed, &ctx) == TLY_OK, name, "alloc");
	expect(tly_prg_field_sub(prg, acc, D) == TLY_OK, name, "field_sub");
	tly_prg_free(prg);
	expect(same(acc, plain, sizeof acc), name, "add then sub of one mask");

	memset(zero, 0, sizeof zero);
	expect(tly_prg_alloc(&prg, alg, seed, &ctx) == TLY_OK, name, "alloc");
	expect(tly_prg_field_add(prg, zero, D) == TLY_OK, name, "field_add to zero");
	tly_prg_free(prg);
	PUBLIC(stored, sizeof stored);
	expect(same(zero, stored, sizeof zero), name, "expand equals add to zero");

	ctx.length = sizeof bytes;
	expect(tly_prg_alloc(&prg, alg, seed, &ctx) == TLY_OK, name, "alloc bytes");
	expect(tly_prg_bytes(prg, bytes, sizeof bytes) == TLY_OK, name, "bytes");
	tly_prg_free(prg);
}

static void
check_prg(void)
{
	check_prg_alg(TLY_PRG_AES128CTR);
	check_prg_alg(TLY_PRG_CHACHA20);
}

/* ---- crypto/shamir ---- */

static void
check_shamir_vector(void)
{
	enum { N = 5, T = 3, DS = 700 };
	static uint64_t secret[DS], share_mem[N][DS], out[DS];
	uint64_t *shares[N];
	const uint64_t *used[N];
	uint64_t xs[N] = {4, 2, 5, 1, 3};
	struct tly_rng rng;

	for (unsigned i = 0; i < N; i++)
		shares[i] = share_mem[i];
	fill_elements(secret, DS);
	uint64_t expected[DS];
	memcpy(expected, secret, sizeof expected);
	SECRET(secret, sizeof secret);
	secret_rng(&rng); /* the polynomial coefficients are secret */
	expect(tly_shamir_share(&rng, secret, DS, T, N, shares) == TLY_OK, "shamir", "share");
	tly_rng_fini(&rng);

	for (unsigned i = 0; i < N; i++)
		used[i] = share_mem[xs[i] - 1];
	expect(tly_shamir_reconstruct(xs, used, N, T, DS, out) == TLY_OK, "shamir", "reconstruct");
	expect(same(out, expected, sizeof out), "shamir", "reconstruct gives the secret");

	/* A share word >= p: the error is public, the other words are not. */
	share_mem[xs[1] - 1][DS / 2] = P;
	SECRET(share_mem, sizeof share_mem);
	expect(tly_shamir_reconstruct(xs, used, N, T, DS, out) == TLY_ERANGE, "shamir",
	       "reconstruct of p");
}

static void
check_shamir_secret(void)
{
	enum { N = 5, T = 3 };
	static uint8_t share_mem[N][TLY_SHAMIR_SECRET_SHARE_BYTES];
	uint8_t *shares[N];
	const uint8_t *used[N];
	uint64_t xs[N] = {3, 5, 1, 2, 4};
	uint8_t secret[TLY_SHAMIR_SECRET_BYTES], expected[sizeof secret], out[sizeof secret];
	struct tly_rng rng;

	for (unsigned i = 0; i < N; i++)
		shares[i] = share_mem[i];
	fill_bytes(secret, sizeof secret);
	memcpy(expected, secret, sizeof secret);
	SECRET(secret, sizeof secret); /* a PRG seed or an X25519 secret key */
	secret_rng(&rng);
	expect(tly_shamir_secret_share(&rng, secret, T, N, shares) == TLY_OK, "shamir32", "share");
	tly_rng_fini(&rng);

	for (unsigned i = 0; i < N; i++)
		used[i] = share_mem[xs[i] - 1];
	for (unsigned i = 0; i < N; i++)
		expect(tly_secagg_share_valid(share_mem[i]) != 0, "shamir32", "share_valid");
	expect(tly_shamir_secret_reconstruct(xs, used, N, T, out) == TLY_OK, "shamir32",
	       "reconstruct");
	expect(same(out, expected, sizeof out), "shamir32", "reconstruct gives the secret");

	/* Corrupt shares: both errors are public. */
	uint8_t saved[TLY_SHAMIR_SECRET_SHARE_BYTES];
	memcpy(saved, share_mem[xs[0] - 1], sizeof saved);
	share_mem[xs[0] - 1][8] ^= 0x01; /* a wider chunk: TLY_EFORMAT */
	SECRET(share_mem, sizeof share_mem);
	expect(tly_shamir_secret_reconstruct(xs, used, N, T, out) == TLY_EFORMAT, "shamir32",
	       "reconstruct of a corrupt share");
	memset(share_mem[xs[0] - 1] + 16, 0xff, 8); /* a word >= p: TLY_ERANGE */
	SECRET(share_mem, sizeof share_mem);
	expect(tly_secagg_share_valid(share_mem[xs[0] - 1]) == 0, "shamir32", "share_valid of p");
	expect(tly_shamir_secret_reconstruct(xs, used, N, T, out) == TLY_ERANGE, "shamir32",
	       "reconstruct of p");
	memcpy(share_mem[xs[0] - 1], saved, sizeof saved);
}

/* ---- crypto/kdf, kx, aead, sign; libsodium's compare ---- */

static void
check_kdf(void)
{
	uint8_t ikm[32], out[100], again[100];
	static const uint8_t salt[] = "salt", info[] = "info";

	fill_bytes(ikm, sizeof ikm);
	SECRET(ikm, sizeof ikm);
	expect(tly_hkdf(out, sizeof out, salt, 4, ikm, sizeof ikm, info, 4) == TLY_OK, "kdf",
	       "hkdf");
	uint8_t prk[TLY_KDF_HASH_BYTES];
	tly_hkdf_extract(prk, salt, 4, ikm, sizeof ikm);
	expect(tly_hkdf_expand(again, sizeof again, prk, info, 4) == TLY_OK, "kdf", "expand");
	PUBLIC(again, sizeof again); /* for the comparison only */
	expect(same(out, again, sizeof out), "kdf", "extract-expand equals hkdf");
}

static void
check_kx(void)
{
	uint8_t sk_a[TLY_KX_SECRET_BYTES], sk_b[TLY_KX_SECRET_BYTES];
	uint8_t pk_a[TLY_KX_PUBLIC_BYTES], pk_b[TLY_KX_PUBLIC_BYTES];
	uint8_t k_ab[TLY_KX_SHARED_BYTES], k_ba[TLY_KX_SHARED_BYTES];
	static const uint8_t low_order[TLY_KX_PUBLIC_BYTES] = {0}; /* the identity */

	fill_bytes(sk_a, sizeof sk_a);
	fill_bytes(sk_b, sizeof sk_b);
	SECRET(sk_a, sizeof sk_a);
	SECRET(sk_b, sizeof sk_b);
	expect(tly_kx_public(pk_a, sk_a) == TLY_OK, "kx", "public a");
	expect(tly_kx_public(pk_b, sk_b) == TLY_OK, "kx", "public b");
	PUBLIC(pk_a, sizeof pk_a); /* public keys are published */
	PUBLIC(pk_b, sizeof pk_b);
	expect(tly_kx_agree(k_ab, sk_a, pk_a, pk_b, "ct") == TLY_OK, "kx", "agree a");
	expect(tly_kx_agree(k_ba, sk_b, pk_b, pk_a, "ct") == TLY_OK, "kx", "agree b");
	PUBLIC(k_ba, sizeof k_ba);
	expect(same(k_ab, k_ba, sizeof k_ab), "kx", "both sides agree");
	expect(tly_kx_agree(k_ab, sk_a, pk_a, low_order, "ct") == TLY_ELOWORDER, "kx",
	       "low-order peer key refused");
}

static void
check_aead_alg(enum tly_aead_alg alg, const char *name)
{
	uint8_t key[TLY_AEAD_KEY_BYTES], nonce[TLY_AEAD_NONCE_MAX] = {1, 2, 3};
	uint8_t pt[1000], expected[sizeof pt], ct[sizeof pt + TLY_AEAD_TAG_BYTES], back[sizeof pt];
	static const uint8_t ad[] = "query|round|sender|recipient";

	fill_bytes(key, sizeof key);
	fill_bytes(pt, sizeof pt);
	memcpy(expected, pt, sizeof pt);
	SECRET(key, sizeof key);
	SECRET(pt, sizeof pt); /* a share on its way to a committee member */
	expect(tly_aead_seal(alg, ct, pt, sizeof pt, ad, sizeof ad, nonce, key) == TLY_OK, name,
	       "seal");
	PUBLIC(ct, sizeof ct); /* the ciphertext and tag go on the wire */
	expect(tly_aead_open(alg, back, ct, sizeof ct, ad, sizeof ad, nonce, key) == TLY_OK, name,
	       "open");
	expect(same(back, expected, sizeof back), name, "open gives the plaintext");
	ct[sizeof pt + 3] ^= 0x40; /* a forged tag: that it fails is public */
	expect(tly_aead_open(alg, back, ct, sizeof ct, ad, sizeof ad, nonce, key) == TLY_EAUTH,
	       name, "forged tag refused");
	ct[sizeof pt + 3] ^= 0x40;
	ct[10] ^= 0x01; /* a forged ciphertext */
	expect(tly_aead_open(alg, back, ct, sizeof ct, ad, sizeof ad, nonce, key) == TLY_EAUTH,
	       name, "forged ciphertext refused");
}

static void
check_aead(void)
{
	check_aead_alg(TLY_AEAD_AES256GCM, "aes256gcm");
	check_aead_alg(TLY_AEAD_XCHACHA20POLY1305, "xchacha20poly1305");
}

static void
check_sign(void)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES], back[TLY_SIGN_SEED_BYTES], expected[sizeof seed];
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES], sig[TLY_SIGN_BYTES];
	static const uint8_t msg[] = "ledger entry 42";
	struct tly_sign_key *key;

	fill_bytes(seed, sizeof seed);
	memcpy(expected, seed, sizeof seed);
	SECRET(seed, sizeof seed);
	expect(tly_sign_key_alloc(&key, seed) == TLY_OK, "sign", "key_alloc");
	tly_sign_key_public(key, pk);
	PUBLIC(pk, sizeof pk); /* published in the registry */
	expect(tly_sign(sig, key, msg, sizeof msg) == TLY_OK, "sign", "sign");
	PUBLIC(sig, sizeof sig); /* signatures are published */
	tly_sign_key_seed(key, back);
	expect(same(back, expected, sizeof back), "sign", "seed round trip");
	tly_sign_key_free(key);
	expect(tly_sign_verify(sig, msg, sizeof msg, pk) == TLY_OK, "sign", "verify");
}

/* sodium_memcmp is the constant-time compare every module uses. */
static void
check_compare(void)
{
	uint8_t a[64], b[64];

	fill_bytes(a, sizeof a);
	memcpy(b, a, sizeof b);
	SECRET(a, sizeof a);
	SECRET(b, sizeof b);
	int eq = sodium_memcmp(a, b, sizeof a);
	PUBLIC(&eq, sizeof eq); /* whether two hashes or keys match is public */
	expect(eq == 0, "compare", "equal");
	b[63] ^= 1;
	SECRET(b, sizeof b);
	eq = sodium_memcmp(a, b, sizeof a);
	PUBLIC(&eq, sizeof eq);
	expect(eq != 0, "compare", "different");
	int zero = sodium_is_zero(a, sizeof a);
	PUBLIC(&zero, sizeof zero);
	expect(zero == 0, "compare", "is_zero");
}

/* ---- protocol: SecAgg masking of a secret input ---- */

static void
check_secagg_mask(void)
{
	static uint64_t acc[D], expected[D];
	uint8_t seed[32], query_id[TLY_QUERY_ID_BYTES] = {7};

	fill_elements(acc, D);
	memcpy(expected, acc, sizeof acc);
	fill_bytes(seed, sizeof seed);
	SECRET(acc, sizeof acc);   /* a node's counts */
	SECRET(seed, sizeof seed); /* its self-mask seed */
	expect(tly_secagg_mask(acc, D, seed, "self-mask", query_id, 1) == TLY_OK, "secagg", "mask");
	expect(tly_secagg_mask(acc, D, seed, "self-mask", query_id, -1) == TLY_OK, "secagg",
	       "unmask");
	expect(same(acc, expected, sizeof acc), "secagg", "mask then unmask");
}

/* ---- negative controls: each must be caught ---- */

static volatile unsigned sink;

__attribute__((noinline)) static void
leak_branch(const uint8_t *secret)
{
	if (secret[0] & 1) /* a branch on a secret bit */
		sink++;
	else
		sink += 2;
}

__attribute__((noinline)) static void
leak_index(const uint8_t *secret)
{
	static volatile const uint8_t table[256] = {1, 2, 3};

	sink += table[secret[1]]; /* a lookup indexed by a secret byte */
}

__attribute__((noinline)) static void
leak_memcmp(const uint8_t *secret)
{
	static const uint8_t guess[32] = {0};

	sink += (unsigned)(memcmp(secret, guess, 32) == 0); /* early-exit compare */
}

/* ---- report: the rejection samplers ---- */

static void
report_dp(void)
{
	struct tly_rng rng;
	int64_t x = 0;
	uint64_t u = 0;
	int bit = 0;

	secret_rng(&rng);
	for (int i = 0; i < 20; i++) {
		expect(tly_dp_bernoulli_exp(&rng, 3, 2, &bit) == TLY_OK, "dp", "bernoulli_exp");
		expect(tly_dp_geometric(&rng, 1, 10, &u) == TLY_OK, "dp", "geometric");
		expect(tly_dp_laplace(&rng, 1, 2, &x) == TLY_OK, "dp", "laplace");
		expect(tly_dp_gauss(&rng, 25, 1, &x) == TLY_OK, "dp", "gauss");
		expect(tly_dp_polya(&rng, 1, 3, 1, 2, &u) == TLY_OK, "dp", "polya");
		expect(tly_dp_laplace_share(&rng, 1, 2, 3, &x) == TLY_OK, "dp", "laplace_share");
		expect(tly_dp_poisson(&rng, 3, 1, &u) == TLY_OK, "dp", "poisson");
		expect(tly_dp_skellam_share(&rng, 10, 1, 3, &x) == TLY_OK, "dp", "skellam_share");
		expect(tly_dp_gauss_share(&rng, 100, 1, 3, &x) == TLY_OK, "dp", "gauss_share");
	}
	/* sigma^2 with a large denominator: the GMP acceptance test */
	expect(tly_dp_gauss(&rng, UINT64_C(0xFFFFFFFFFFFFFFF1), UINT64_C(0xFFFFFFFFFFFFFF), &x) ==
	           TLY_OK,
	       "dp", "gauss (GMP)");
	tly_rng_fini(&rng);
}

/* The node's noisy input, as secagg.c makes it: counts (secret) plus one
 * noise share per cell, encoded into the field. */
static void
report_noise_apply(void)
{
	enum { CELLS = 16 };
	int64_t cells[CELLS];
	uint64_t out[CELLS];
	struct tly_rng rng;
	const struct tly_noise_params laplace = {
	    .mechanism = TLY_MECH_LAPLACE,
	    .h = 3,
	    .scale_s = 1,
	    .scale_t = 2,
	    .privacy_num = 1,
	    .privacy_den = 2,
	};
	const struct tly_noise_params skellam = {
	    .mechanism = TLY_MECH_SKELLAM,
	    .h = 3,
	    .mu_num = 10,
	    .mu_den = 1,
	    .privacy_num = 1,
	    .privacy_den = 20,
	};

	for (size_t i = 0; i < CELLS; i++)
		cells[i] = (int64_t)(mix() % 1000);
	SECRET(cells, sizeof cells);
	secret_rng(&rng);
	expect(tly_noise_apply(&rng, &laplace, cells, CELLS, out) == TLY_OK, "noise", "laplace");
	expect(tly_noise_apply(&rng, &skellam, cells, CELLS, out) == TLY_OK, "noise", "skellam");
	tly_rng_fini(&rng);
}

/* ---- driver ---- */

struct check {
	const char *name;
	void (*run)(void);
};

static void control_branch(void);
static void control_index(void);
static void control_memcmp(void);

static const struct check checks[] = {
    {"field_vectors", check_field_vectors},
    {"field_signed_and_wire", check_field_signed},
    {"rng_field", check_rng},
    {"prg_aes128ctr_chacha20", check_prg},
    {"shamir_vector", check_shamir_vector},
    {"shamir_secret32", check_shamir_secret},
    {"kdf_hkdf", check_kdf},
    {"kx_x25519", check_kx},
    {"aead_gcm_xchacha", check_aead},
    {"sign_ed25519", check_sign},
    {"sodium_memcmp", check_compare},
    {"secagg_mask", check_secagg_mask},
};

static const struct check controls[] = {
    {"control_branch", control_branch},
    {"control_index", control_index},
    {"control_memcmp", control_memcmp},
};

static const struct check reports[] = {
    {"dp_samplers", report_dp},
    {"noise_apply", report_noise_apply},
};

static uint8_t control_secret[32];

static void
control_branch(void)
{
	leak_branch(control_secret);
}

static void
control_index(void)
{
	leak_index(control_secret);
}

static void
control_memcmp(void)
{
	leak_memcmp(control_secret);
}

static unsigned
run(const struct check *list, size_t count, const char *mode)
{
	unsigned bad = 0;

	for (size_t i = 0; i < count; i++) {
		int before_failures = failures;
		unsigned before = (unsigned)VALGRIND_COUNT_ERRORS;
		fill_bytes(control_secret, sizeof control_secret);
		SECRET(control_secret, sizeof control_secret);
		list[i].run();
		unsigned errors = (unsigned)VALGRIND_COUNT_ERRORS - before;
		int ok = strcmp(mode, "control") == 0 ? errors > 0
		         : strcmp(mode, "check") == 0 ? errors == 0
		                                      : 1;
		ok = ok && failures == before_failures;
		printf("ct_check: %-8s %-24s %6u memcheck errors  %s\n", mode, list[i].name, errors,
		       ok ? "ok" : "FAIL");
		bad += !ok;
	}
	return bad;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "check";
	unsigned bad;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!RUNNING_ON_VALGRIND) {
		fprintf(stderr, "ct_check: run me under valgrind (scripts/ctgrind.sh): "
		                "outside it nothing is checked\n");
		return 2;
	}
	if (tly_crypto_init() != TLY_OK) {
		fprintf(stderr, "ct_check: crypto init failed\n");
		return 1;
	}
	if (strcmp(mode, "check") == 0)
		bad = run(checks, sizeof checks / sizeof checks[0], mode);
	else if (strcmp(mode, "control") == 0)
		bad = run(controls, sizeof controls / sizeof controls[0], mode);
	else if (strcmp(mode, "report") == 0)
		bad = run(reports, sizeof reports / sizeof reports[0], mode);
	else {
		fprintf(stderr, "usage: ct_check check|control|report\n");
		return 2;
	}
	return bad == 0 ? 0 : 1;
}
