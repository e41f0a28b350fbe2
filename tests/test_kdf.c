/* HKDF-SHA256: the RFC 5869 vectors through all three entry points, the
 * output-length limit, and the properties the callers rely on. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/rng.h"
#include "tests/vectors.h"

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(kdf, .init = setup);

Test(kdf, rfc5869_vectors)
{
	struct tly_vectors *file = tly_vectors_load("hkdf_sha256.txt");

	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		size_t ikm_len, salt_len, info_len, okm_len;
		uint8_t *ikm = tly_vector_hex(v, "ikm", &ikm_len);
		uint8_t *salt = tly_vector_hex(v, "salt", &salt_len);
		uint8_t *info = tly_vector_hex(v, "info", &info_len);
		uint8_t *okm = tly_vector_hex(v, "okm", &okm_len);
		uint8_t prk[TLY_KDF_HASH_BYTES], got_prk[TLY_KDF_HASH_BYTES];
		tly_vector_hex_fixed(v, "prk", prk, sizeof prk);
		cr_assert_eq(tly_vector_u64(v, "length"), okm_len);
		uint8_t *out = malloc(okm_len);

		/* An empty salt goes in as NULL, as a caller without one would. */
		const uint8_t *salt_arg = salt_len > 0 ? salt : NULL;
		tly_hkdf_extract(got_prk, salt_arg, salt_len, ikm, ikm_len);
		cr_assert_arr_eq(got_prk, prk, sizeof prk, "%s: prk", v->title);

		memset(out, 0, okm_len);
		cr_assert_eq(tly_hkdf_expand(out, okm_len, prk, info, info_len), TLY_OK);
		cr_assert_arr_eq(out, okm, okm_len, "%s: expand", v->title);

		memset(out, 0, okm_len);
		cr_assert_eq(
		    tly_hkdf(out, okm_len, salt_arg, salt_len, ikm, ikm_len, info, info_len),
		    TLY_OK);
		cr_assert_arr_eq(out, okm, okm_len, "%s: extract and expand", v->title);

		free(out);
		free(okm);
		free(info);
		free(salt);
		free(ikm);
	}
	tly_vectors_free(file);
}

/* RFC 5869 section 2.2: a missing salt is HashLen zero bytes. */
Test(kdf, missing_salt_is_hashlen_zeros)
{
	uint8_t ikm[22], zeros[TLY_KDF_HASH_BYTES] = {0};
	uint8_t a[TLY_KDF_HASH_BYTES], b[TLY_KDF_HASH_BYTES];

	memset(ikm, 0x0b, sizeof ikm);
	tly_hkdf_extract(a, NULL, 0, ikm, sizeof ikm);
	tly_hkdf_extract(b, zeros, sizeof zeros, ikm, sizeof ikm);
	cr_assert_arr_eq(a, b, sizeof a);
}

Test(kdf, expand_refuses_more_than_255_blocks)
{
	uint8_t prk[TLY_KDF_HASH_BYTES], ikm[32];
	static uint8_t out[TLY_KDF_MAX_OUT + 1];

	memset(prk, 0x42, sizeof prk);
	memset(ikm, 0x17, sizeof ikm);
	cr_assert_eq(tly_hkdf_expand(out, TLY_KDF_MAX_OUT, prk, NULL, 0), TLY_OK);
	cr_assert_eq(tly_hkdf(out, TLY_KDF_MAX_OUT, NULL, 0, ikm, sizeof ikm, NULL, 0), TLY_OK);

	/* On failure the output is not written. */
	memset(out, 0xaa, sizeof out);
	cr_assert_eq(tly_hkdf_expand(out, TLY_KDF_MAX_OUT + 1, prk, NULL, 0), TLY_EINVAL);
	cr_assert_eq(tly_hkdf(out, TLY_KDF_MAX_OUT + 1, NULL, 0, ikm, sizeof ikm, NULL, 0),
	             TLY_EINVAL);
	cr_assert_eq(tly_hkdf_expand(out, SIZE_MAX, prk, NULL, 0), TLY_EINVAL);
	for (size_t i = 0; i < sizeof out; i++)
		cr_assert_eq(out[i], 0xaa, "byte %zu written on failure", i);
}

/* HKDF-Expand output of length n is a prefix of any longer output, so a
 * caller may ask for key || iv in one call or in pieces. */
Test(kdf, shorter_outputs_are_prefixes)
{
	uint8_t prk[TLY_KDF_HASH_BYTES], full[200], part[200];
	static const uint8_t info[] = "tally/test";

	memset(prk, 0x5c, sizeof prk);
	cr_assert_eq(tly_hkdf_expand(full, sizeof full, prk, info, sizeof info - 1), TLY_OK);
	for (size_t n = 1; n <= sizeof part; n++) {
		memset(part, 0, sizeof part);
		cr_assert_eq(tly_hkdf_expand(part, n, prk, info, sizeof info - 1), TLY_OK);
		cr_assert_arr_eq(part, full, n, "length %zu", n);
	}
}

Test(kdf, every_input_changes_the_output)
{
	uint8_t ikm[32], salt[16], info[16], base[64], out[64];

	memset(ikm, 1, sizeof ikm);
	memset(salt, 2, sizeof salt);
	memset(info, 3, sizeof info);
	cr_assert_eq(
	    tly_hkdf(base, sizeof base, salt, sizeof salt, ikm, sizeof ikm, info, sizeof info),
	    TLY_OK);

	ikm[31] ^= 1;
	cr_assert_eq(
	    tly_hkdf(out, sizeof out, salt, sizeof salt, ikm, sizeof ikm, info, sizeof info),
	    TLY_OK);
	cr_assert(memcmp(out, base, sizeof out) != 0, "ikm not bound");
	ikm[31] ^= 1;

	salt[0] ^= 1;
	cr_assert_eq(
	    tly_hkdf(out, sizeof out, salt, sizeof salt, ikm, sizeof ikm, info, sizeof info),
	    TLY_OK);
	cr_assert(memcmp(out, base, sizeof out) != 0, "salt not bound");
	salt[0] ^= 1;

	cr_assert_eq(
	    tly_hkdf(out, sizeof out, salt, sizeof salt, ikm, sizeof ikm, info, sizeof info - 1),
	    TLY_OK);
	cr_assert(memcmp(out, base, sizeof out) != 0, "info length not bound");

	cr_assert_eq(
	    tly_hkdf(out, sizeof out, salt, sizeof salt, ikm, sizeof ikm, info, sizeof info),
	    TLY_OK);
	cr_assert_arr_eq(out, base, sizeof out, "not deterministic");
}
