/* AEAD: the XChaCha20-Poly1305 draft vector and the GCM spec's AES-256
 * cases through seal and open, then for both algorithms: every tampering
 * is refused, the plaintext buffer is wiped on refusal, and lengths are
 * checked before anything is read. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "tests/vectors.h"

static const enum tly_aead_alg algs[] = {TLY_AEAD_AES256GCM, TLY_AEAD_XCHACHA20POLY1305};
enum { ALG_COUNT = sizeof algs / sizeof algs[0] };

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(aead, .init = setup);

static const char *
name_of(enum tly_aead_alg alg)
{
	return alg == TLY_AEAD_AES256GCM ? "AES-256-GCM" : "XChaCha20-Poly1305";
}

static void
check_vectors(enum tly_aead_alg alg, const char *file_name)
{
	struct tly_vectors *file = tly_vectors_load(file_name);
	size_t nonce_len = tly_aead_nonce_bytes(alg);

	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		uint8_t key[TLY_AEAD_KEY_BYTES], nonce[TLY_AEAD_NONCE_MAX];
		uint8_t tag[TLY_AEAD_TAG_BYTES];
		size_t ad_len, pt_len, ct_len;
		tly_vector_hex_fixed(v, "key", key, sizeof key);
		tly_vector_hex_fixed(v, "nonce", nonce, nonce_len);
		tly_vector_hex_fixed(v, "tag", tag, sizeof tag);
		uint8_t *ad = tly_vector_hex(v, "ad", &ad_len);
		uint8_t *pt = tly_vector_hex(v, "plaintext", &pt_len);
		uint8_t *ct = tly_vector_hex(v, "ciphertext", &ct_len);
		cr_assert_eq(pt_len, ct_len);
		size_t sealed_len = ct_len + TLY_AEAD_TAG_BYTES;
		uint8_t *sealed = malloc(sealed_len);
		uint8_t *opened = malloc(pt_len + 1);
		const uint8_t *ad_arg = ad_len > 0 ? ad : NULL;

		cr_assert_eq(tly_aead_seal(alg, sealed, pt, pt_len, ad_arg, ad_len, nonce, key),
		             TLY_OK, "%s", v->title);
		cr_assert_arr_eq(sealed, ct, ct_len, "%s: ciphertext", v->title);
		cr_assert_arr_eq(sealed + ct_len, tag, sizeof tag, "%s: tag", v->title);
		cr_assert_eq(
		    tly_aead_open(alg, opened, sealed, sealed_len, ad_arg, ad_len, nonce, key),
		    TLY_OK, "%s: open", v->title);
		cr_assert_arr_eq(opened, pt, pt_len, "%s: plaintext", v->title);

		free(opened);
		free(sealed);
		free(ct);
		free(pt);
		free(ad);
	}
	tly_vectors_free(file);
}

Test(aead, xchacha20poly1305_draft_vector)
{
	check_vectors(TLY_AEAD_XCHACHA20POLY1305, "xchacha20poly1305.txt");
}

Test(aead, aes256gcm_spec_vectors)
{
	check_vectors(TLY_AEAD_AES256GCM, "aes256gcm.txt");
}

Test(aead, nonce_sizes)
{
	cr_assert_eq(tly_aead_nonce_bytes(TLY_AEAD_AES256GCM), 12);
	cr_assert_eq(tly_aead_nonce_bytes(TLY_AEAD_XCHACHA20POLY1305), 24);
	cr_assert_eq(tly_aead_nonce_bytes((enum tly_aead_alg)0), 0);
	cr_assert_eq(tly_aead_nonce_bytes((enum tly_aead_alg)3), 0);
	cr_assert_eq(TLY_AEAD_DEFAULT, TLY_AEAD_AES256GCM);
}

/* A short sealed message under fixed key, nonce and ad, for the tampering
 * tests below. */
enum { MSG = 21, SEALED = MSG + TLY_AEAD_TAG_BYTES };

struct fixture {
	uint8_t key[TLY_AEAD_KEY_BYTES];
	uint8_t nonce[TLY_AEAD_NONCE_MAX];
	uint8_t ad[13];
	uint8_t pt[MSG];
	uint8_t sealed[SEALED];
};

static void
seal_fixture(enum tly_aead_alg alg, struct fixture *f)
{
	struct tly_rng rng;

	tly_rng_init_seeded_u64(&rng, (uint64_t)alg);
	tly_rng_bytes(&rng, f->key, sizeof f->key);
	tly_rng_bytes(&rng, f->nonce, sizeof f->nonce);
	tly_rng_bytes(&rng, f->ad, sizeof f->ad);
	tly_rng_bytes(&rng, f->pt, sizeof f->pt);
	tly_rng_fini(&rng);
	cr_assert_eq(
	    tly_aead_seal(alg, f->sealed, f->pt, MSG, f->ad, sizeof f->ad, f->nonce, f->key),
	    TLY_OK);
}

/* open must refuse, and leave the plaintext buffer all zero. */
static void
assert_refused(enum tly_aead_alg alg, const uint8_t *sealed, size_t sealed_len, const uint8_t *ad,
               size_t ad_len, const uint8_t *nonce, const uint8_t *key, const char *what,
               size_t index)
{
	uint8_t pt[SEALED + 1];

	memset(pt, 0xaa, sizeof pt);
	cr_assert_eq(tly_aead_open(alg, pt, sealed, sealed_len, ad, ad_len, nonce, key), TLY_EAUTH,
	             "%s: %s %zu accepted", name_of(alg), what, index);
	for (size_t i = 0; i < sealed_len - TLY_AEAD_TAG_BYTES; i++)
		cr_assert_eq(pt[i], 0, "%s: %s %zu: plaintext byte %zu not wiped", name_of(alg),
		             what, index, i);
}

Test(aead, every_ciphertext_and_tag_bit_is_authenticated)
{
	for (size_t a = 0; a < ALG_COUNT; a++) {
		struct fixture f;
		seal_fixture(algs[a], &f);
		for (size_t bit = 0; bit < 8 * SEALED; bit++) {
			f.sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_refused(algs[a], f.sealed, SEALED, f.ad, sizeof f.ad, f.nonce, f.key,
			               bit / 8 < MSG ? "ciphertext bit" : "tag bit", bit);
			f.sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		uint8_t pt[MSG];
		cr_assert_eq(
		    tly_aead_open(algs[a], pt, f.sealed, SEALED, f.ad, sizeof f.ad, f.nonce, f.key),
		    TLY_OK);
		cr_assert_arr_eq(pt, f.pt, MSG);
	}
}

Test(aead, wrong_ad_key_or_nonce_is_refused)
{
	for (size_t a = 0; a < ALG_COUNT; a++) {
		enum tly_aead_alg alg = algs[a];
		size_t nonce_len = tly_aead_nonce_bytes(alg);
		struct fixture f;
		seal_fixture(alg, &f);

		for (size_t i = 0; i < sizeof f.ad; i++) {
			f.ad[i] ^= 0x01;
			assert_refused(alg, f.sealed, SEALED, f.ad, sizeof f.ad, f.nonce, f.key,
			               "ad byte", i);
			f.ad[i] ^= 0x01;
		}
		assert_refused(alg, f.sealed, SEALED, f.ad, sizeof f.ad - 1, f.nonce, f.key,
		               "ad shortened to", sizeof f.ad - 1);
		assert_refused(alg, f.sealed, SEALED, NULL, 0, f.nonce, f.key, "ad dropped", 0);

		for (size_t i = 0; i < sizeof f.key; i++) {
			f.key[i] ^= 0x80;
			assert_refused(alg, f.sealed, SEALED, f.ad, sizeof f.ad, f.nonce, f.key,
			               "key byte", i);
			f.key[i] ^= 0x80;
		}
		for (size_t i = 0; i < nonce_len; i++) {
			f.nonce[i] ^= 0x01;
			assert_refused(alg, f.sealed, SEALED, f.ad, sizeof f.ad, f.nonce, f.key,
			               "nonce byte", i);
			f.nonce[i] ^= 0x01;
		}
	}
}

Test(aead, truncated_ciphertext)
{
	for (size_t a = 0; a < ALG_COUNT; a++) {
		enum tly_aead_alg alg = algs[a];
		struct fixture f;
		uint8_t pt[SEALED];
		seal_fixture(alg, &f);

		/* Shorter than a tag: not even a candidate. */
		for (size_t len = 0; len < TLY_AEAD_TAG_BYTES; len++)
			cr_assert_eq(tly_aead_open(alg, pt, f.sealed, len, f.ad, sizeof f.ad,
			                           f.nonce, f.key),
			             TLY_EINVAL, "%s: length %zu", name_of(alg), len);
		/* Long enough, but cut: the tag no longer matches. */
		for (size_t len = TLY_AEAD_TAG_BYTES; len < SEALED; len++)
			assert_refused(alg, f.sealed, len, f.ad, sizeof f.ad, f.nonce, f.key,
			               "truncated to", len);
	}
}

Test(aead, round_trips_of_every_small_length)
{
	enum { MAX = 300 };
	static uint8_t pt[MAX], sealed[MAX + TLY_AEAD_TAG_BYTES], opened[MAX + 1];
	uint8_t key[TLY_AEAD_KEY_BYTES], nonce[TLY_AEAD_NONCE_MAX], ad[40];
	struct tly_rng rng;

	tly_rng_init_seeded_u64(&rng, 99);
	tly_rng_bytes(&rng, pt, sizeof pt);
	tly_rng_bytes(&rng, key, sizeof key);
	tly_rng_bytes(&rng, nonce, sizeof nonce);
	tly_rng_bytes(&rng, ad, sizeof ad);
	tly_rng_fini(&rng);

	for (size_t a = 0; a < ALG_COUNT; a++) {
		for (size_t len = 0; len <= MAX; len++) {
			size_t ad_len = len % (sizeof ad + 1);
			const uint8_t *ad_arg = ad_len > 0 ? ad : NULL;
			cr_assert_eq(
			    tly_aead_seal(algs[a], sealed, pt, len, ad_arg, ad_len, nonce, key),
			    TLY_OK);
			cr_assert(len < 8 || memcmp(sealed, pt, len) != 0, "not encrypted");
			cr_assert_eq(tly_aead_open(algs[a], opened, sealed,
			                           len + TLY_AEAD_TAG_BYTES, ad_arg, ad_len, nonce,
			                           key),
			             TLY_OK, "%s: length %zu", name_of(algs[a]), len);
			cr_assert_arr_eq(opened, pt, len);
		}
	}
}

/* The same key and plaintext under the two algorithms give unrelated
 * ciphertexts: neither silently falls back to the other. */
Test(aead, algorithms_differ)
{
	struct fixture f1, f2;
	seal_fixture(TLY_AEAD_AES256GCM, &f1);
	memcpy(&f2, &f1, sizeof f2);
	cr_assert_eq(tly_aead_seal(TLY_AEAD_XCHACHA20POLY1305, f2.sealed, f1.pt, MSG, f1.ad,
	                           sizeof f1.ad, f1.nonce, f1.key),
	             TLY_OK);
	cr_assert(memcmp(f1.sealed, f2.sealed, SEALED) != 0);
	assert_refused(TLY_AEAD_XCHACHA20POLY1305, f1.sealed, SEALED, f1.ad, sizeof f1.ad, f1.nonce,
	               f1.key, "AES-GCM message under XChaCha", 0);
}

Test(aead, bad_arguments_are_refused_before_use)
{
	uint8_t key[TLY_AEAD_KEY_BYTES] = {0}, nonce[TLY_AEAD_NONCE_MAX] = {0};
	uint8_t pt[16] = {0}, ct[16 + TLY_AEAD_TAG_BYTES], untouched[sizeof ct];

	memset(untouched, 0xaa, sizeof untouched);
	memcpy(ct, untouched, sizeof ct);
	cr_assert_eq(tly_aead_seal((enum tly_aead_alg)0, ct, pt, sizeof pt, NULL, 0, nonce, key),
	             TLY_EINVAL);
	cr_assert_eq(tly_aead_seal((enum tly_aead_alg)3, ct, pt, sizeof pt, NULL, 0, nonce, key),
	             TLY_EINVAL);
	cr_assert_arr_eq(ct, untouched, sizeof ct, "ct written on failure");
	cr_assert_eq(tly_aead_open((enum tly_aead_alg)0, pt, ct, sizeof ct, NULL, 0, nonce, key),
	             TLY_EINVAL);

	/* The length is checked before any byte is read: the buffers are far
	 * shorter than the length claimed. */
	for (size_t a = 0; a < ALG_COUNT; a++)
		cr_assert_eq(
		    tly_aead_seal(algs[a], ct, pt, (size_t)INT_MAX + 1, NULL, 0, nonce, key),
		    TLY_EINVAL, "%s", name_of(algs[a]));
	cr_assert_arr_eq(ct, untouched, sizeof ct, "ct written on failure");
}
