/* Ed25519: the RFC 8032 vectors through key, sign and verify, then
 * refusal of every single-bit change and of the forgeries strict
 * verification exists to stop. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/digest.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "tests/vectors.h"

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(sign, .init = setup);

static struct tly_sign_key *
make(const uint8_t *seed)
{
	struct tly_sign_key *key = NULL;

	cr_assert_eq(tly_sign_key_alloc(&key, seed), TLY_OK);
	cr_assert_not_null(key);
	return key;
}

Test(sign, rfc8032_vectors)
{
	struct tly_vectors *file = tly_vectors_load("ed25519.txt");

	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		uint8_t seed[TLY_SIGN_SEED_BYTES], pk[TLY_SIGN_PUBLIC_BYTES], sig[TLY_SIGN_BYTES];
		uint8_t got_pk[TLY_SIGN_PUBLIC_BYTES], got_sig[TLY_SIGN_BYTES];
		uint8_t got_seed[TLY_SIGN_SEED_BYTES];
		size_t msg_len;
		tly_vector_hex_fixed(v, "seed", seed, sizeof seed);
		tly_vector_hex_fixed(v, "public", pk, sizeof pk);
		tly_vector_hex_fixed(v, "signature", sig, sizeof sig);
		uint8_t *msg = tly_vector_hex(v, "message", &msg_len);

		struct tly_sign_key *key = make(seed);
		tly_sign_key_public(key, got_pk);
		cr_assert_arr_eq(got_pk, pk, sizeof pk, "%s: public key", v->title);
		tly_sign_key_seed(key, got_seed);
		cr_assert_arr_eq(got_seed, seed, sizeof seed, "%s: seed", v->title);
		cr_assert_eq(tly_sign(got_sig, key, msg, msg_len), TLY_OK);
		cr_assert_arr_eq(got_sig, sig, sizeof sig, "%s: signature", v->title);
		cr_assert_eq(tly_sign_verify(sig, msg, msg_len, pk), TLY_OK, "%s: verify",
		             v->title);

		tly_sign_key_free(key);
		free(msg);
	}
	tly_vectors_free(file);
}

/* Every single-bit change to message, signature or public key of RFC 8032
 * TEST 3 is refused. */
Test(sign, any_flipped_bit_is_refused)
{
	struct tly_vectors *file = tly_vectors_load("ed25519.txt");
	const struct tly_vector *v = &file->blocks[2];
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES], sig[TLY_SIGN_BYTES];
	size_t msg_len;
	tly_vector_hex_fixed(v, "public", pk, sizeof pk);
	tly_vector_hex_fixed(v, "signature", sig, sizeof sig);
	uint8_t *msg = tly_vector_hex(v, "message", &msg_len);
	cr_assert_eq(msg_len, 2, "expected TEST 3, got %s", v->title);
	cr_assert_eq(tly_sign_verify(sig, msg, msg_len, pk), TLY_OK);

	for (size_t bit = 0; bit < 8 * msg_len; bit++) {
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(tly_sign_verify(sig, msg, msg_len, pk), TLY_EAUTH, "message bit %zu",
		             bit);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < 8 * sizeof sig; bit++) {
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(tly_sign_verify(sig, msg, msg_len, pk), TLY_EAUTH, "signature bit %zu",
		             bit);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < 8 * sizeof pk; bit++) {
		pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(tly_sign_verify(sig, msg, msg_len, pk), TLY_EAUTH,
		             "public key bit %zu", bit);
		pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* A longer or shorter message is another message. */
	cr_assert_eq(tly_sign_verify(sig, msg, msg_len - 1, pk), TLY_EAUTH);
	cr_assert_eq(tly_sign_verify(sig, msg, msg_len, pk), TLY_OK);
	free(msg);
	tly_vectors_free(file);
}

/* S + L verifies under a lax verifier (the same point), so accepting it
 * would make signatures malleable: RFC 8032 section 5.1.7 requires
 * 0 <= S < L. */
Test(sign, non_canonical_s_is_refused)
{
	/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
	static const uint8_t order[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
	                                  0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	                                  0,    0,    0,    0,    0,    0,    0,    0,
	                                  0,    0,    0,    0,    0,    0,    0,    0x10};
	struct tly_vectors *file = tly_vectors_load("ed25519.txt");
	const struct tly_vector *v = &file->blocks[0];
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES], sig[TLY_SIGN_BYTES];
	size_t msg_len;
	tly_vector_hex_fixed(v, "public", pk, sizeof pk);
	tly_vector_hex_fixed(v, "signature", sig, sizeof sig);
	uint8_t *msg = tly_vector_hex(v, "message", &msg_len);
	cr_assert_eq(tly_sign_verify(sig, msg, msg_len, pk), TLY_OK);

	unsigned carry = 0;
	for (size_t i = 0; i < 32; i++) {
		unsigned sum = sig[32 + i] + order[i] + carry;
		sig[32 + i] = (uint8_t)sum;
		carry = sum >> 8;
	}
	cr_assert_eq(carry, 0, "S + L does not fit in 32 bytes for %s", v->title);
	cr_assert_eq(tly_sign_verify(sig, msg, msg_len, pk), TLY_EAUTH);
	free(msg);
	tly_vectors_free(file);
}

/* Under the identity as public key, R = identity and S = 0 satisfy the
 * verification equation for every message; a small-order key must be
 * refused outright. */
Test(sign, small_order_public_key_is_refused)
{
	uint8_t identity[TLY_SIGN_PUBLIC_BYTES] = {1};
	uint8_t sig[TLY_SIGN_BYTES] = {1};
	static const uint8_t msg[] = "any message at all";

	cr_assert_eq(tly_sign_verify(sig, msg, sizeof msg - 1, identity), TLY_EAUTH);
}

Test(sign, random_keys_sign_and_verify)
{
	uint8_t pk1[TLY_SIGN_PUBLIC_BYTES], pk2[TLY_SIGN_PUBLIC_BYTES], sig[TLY_SIGN_BYTES];
	uint8_t seed[TLY_SIGN_SEED_BYTES], again_pk[TLY_SIGN_PUBLIC_BYTES];
	static const uint8_t msg[] = "round 2: masked input";

	struct tly_sign_key *k1 = make(NULL), *k2 = make(NULL);
	tly_sign_key_public(k1, pk1);
	tly_sign_key_public(k2, pk2);
	cr_assert(memcmp(pk1, pk2, sizeof pk1) != 0, "two random keys are equal");

	cr_assert_eq(tly_sign(sig, k1, msg, sizeof msg - 1), TLY_OK);
	cr_assert_eq(tly_sign_verify(sig, msg, sizeof msg - 1, pk1), TLY_OK);
	cr_assert_eq(tly_sign_verify(sig, msg, sizeof msg - 1, pk2), TLY_EAUTH);

	/* A stored seed gives back the same key. */
	tly_sign_key_seed(k1, seed);
	struct tly_sign_key *k3 = make(seed);
	tly_sign_key_public(k3, again_pk);
	cr_assert_arr_eq(again_pk, pk1, sizeof pk1);

	tly_sign_key_free(k3);
	tly_sign_key_free(k2);
	tly_sign_key_free(k1);
}

Test(sign, empty_message)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES], sig[TLY_SIGN_BYTES];
	static const uint8_t one[1] = {0};
	struct tly_sign_key *key = make(NULL);

	tly_sign_key_public(key, pk);
	cr_assert_eq(tly_sign(sig, key, NULL, 0), TLY_OK);
	cr_assert_eq(tly_sign_verify(sig, NULL, 0, pk), TLY_OK);
	cr_assert_eq(tly_sign_verify(sig, one, sizeof one, pk), TLY_EAUTH);
	tly_sign_key_free(key);
}

Test(sign, free_accepts_null)
{
	tly_sign_key_free(NULL);
	cr_assert(1, "tly_sign_key_free(NULL) returned");
}

/* crypto/digest.h: SHA-256 of parts is SHA-256 of their concatenation
 * (FIPS 180-2 appendix B.1, "abc", and the empty string), whatever the
 * split, empty and NULL parts included. */
Test(sign, digest_sha256_known_answers)
{
	static const uint8_t abc_digest[TLY_DIGEST_BYTES] = {
	    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	static const uint8_t empty_digest[TLY_DIGEST_BYTES] = {
	    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
	    0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
	    0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	const struct tly_digest_part whole[] = {{"abc", 3}};
	const struct tly_digest_part split[] = {{"a", 1}, {NULL, 0}, {"bc", 2}, {"", 0}};
	uint8_t out[TLY_DIGEST_BYTES];

	cr_assert_eq(tly_digest_sha256(out, whole, 1), TLY_OK);
	cr_assert_arr_eq(out, abc_digest, sizeof out);
	cr_assert_eq(tly_digest_sha256(out, split, 4), TLY_OK);
	cr_assert_arr_eq(out, abc_digest, sizeof out);
	cr_assert_eq(tly_digest_sha256(out, NULL, 0), TLY_OK);
	cr_assert_arr_eq(out, empty_digest, sizeof out);
}
