/* X25519: the RFC 7748 vectors, refusal of every low-order peer key, and
 * the bound agreement (tly_kx_agree) against independently computed
 * answers. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kx.h"
#include "crypto/rng.h"
#include "tests/vectors.h"

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(kx, .init = setup);

Test(kx, x25519_rfc7748)
{
	struct tly_vectors *file = tly_vectors_load("x25519.txt");

	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		uint8_t scalar[32], u[32], want[32], out[32];
		tly_vector_hex_fixed(v, "scalar", scalar, sizeof scalar);
		tly_vector_hex_fixed(v, "u", u, sizeof u);
		tly_vector_hex_fixed(v, "out", want, sizeof want);
		cr_assert_eq(tly_kx_x25519(out, scalar, u), TLY_OK, "%s", v->title);
		cr_assert_arr_eq(out, want, sizeof out, "%s", v->title);
	}
	tly_vectors_free(file);
}

Test(kx, x25519_rfc7748_iterated)
{
	struct tly_vectors *file = tly_vectors_load("x25519_iterated.txt");
	size_t ran = 0;

	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		uint64_t iterations = tly_vector_u64(v, "iterations");
		if (iterations > 1000 && !tly_vectors_slow())
			continue;
		uint8_t k[32], u[32], want[32], next[32];
		tly_vector_hex_fixed(v, "start", k, sizeof k);
		tly_vector_hex_fixed(v, "out", want, sizeof want);
		memcpy(u, k, sizeof u);
		for (uint64_t n = 0; n < iterations; n++) {
			cr_assert_eq(tly_kx_x25519(next, k, u), TLY_OK);
			memcpy(u, k, sizeof u);
			memcpy(k, next, sizeof k);
		}
		cr_assert_arr_eq(k, want, sizeof k, "%s", v->title);
		ran++;
	}
	cr_assert_geq(ran, 2);
	tly_vectors_free(file);
}

Test(kx, diffie_hellman_rfc7748)
{
	struct tly_vectors *file = tly_vectors_load("x25519_dh.txt");

	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		uint8_t a_sk[32], a_pk[32], b_sk[32], b_pk[32], shared[32], pk[32], out[32];
		tly_vector_hex_fixed(v, "alice_secret", a_sk, sizeof a_sk);
		tly_vector_hex_fixed(v, "alice_public", a_pk, sizeof a_pk);
		tly_vector_hex_fixed(v, "bob_secret", b_sk, sizeof b_sk);
		tly_vector_hex_fixed(v, "bob_public", b_pk, sizeof b_pk);
		tly_vector_hex_fixed(v, "shared", shared, sizeof shared);

		cr_assert_eq(tly_kx_public(pk, a_sk), TLY_OK);
		cr_assert_arr_eq(pk, a_pk, sizeof pk, "Alice's public key");
		cr_assert_eq(tly_kx_public(pk, b_sk), TLY_OK);
		cr_assert_arr_eq(pk, b_pk, sizeof pk, "Bob's public key");
		cr_assert_eq(tly_kx_x25519(out, a_sk, b_pk), TLY_OK);
		cr_assert_arr_eq(out, shared, sizeof out, "Alice's side");
		cr_assert_eq(tly_kx_x25519(out, b_sk, a_pk), TLY_OK);
		cr_assert_arr_eq(out, shared, sizeof out, "Bob's side");
	}
	tly_vectors_free(file);
}

Test(kx, low_order_points_are_refused)
{
	struct tly_vectors *file = tly_vectors_load("x25519_low_order.txt");
	uint8_t sk[32], pk[32];

	tly_kx_keypair(pk, sk);
	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		uint8_t u[32], out[32], untouched[32];
		tly_vector_hex_fixed(v, "u", u, sizeof u);
		memset(untouched, 0xaa, sizeof untouched);

		memcpy(out, untouched, sizeof out);
		cr_assert_eq(tly_kx_x25519(out, sk, u), TLY_ELOWORDER, "x25519: %s", v->title);
		cr_assert_arr_eq(out, untouched, sizeof out, "x25519 wrote: %s", v->title);

		cr_assert_eq(tly_kx_agree(out, sk, pk, u, "pairwise-mask"), TLY_ELOWORDER,
		             "agree: %s", v->title);
		cr_assert_arr_eq(out, untouched, sizeof out, "agree wrote: %s", v->title);
	}
	tly_vectors_free(file);
}

Test(kx, agree_matches_independent_vectors)
{
	struct tly_vectors *file = tly_vectors_load("kx_agree.txt");

	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		uint8_t a_sk[32], a_pk[32], b_sk[32], b_pk[32], want[32], out[32];
		tly_vector_hex_fixed(v, "alice_secret", a_sk, sizeof a_sk);
		tly_vector_hex_fixed(v, "alice_public", a_pk, sizeof a_pk);
		tly_vector_hex_fixed(v, "bob_secret", b_sk, sizeof b_sk);
		tly_vector_hex_fixed(v, "bob_public", b_pk, sizeof b_pk);
		tly_vector_hex_fixed(v, "out", want, sizeof want);
		const char *label = tly_vector_text(v, "label");

		cr_assert_eq(tly_kx_agree(out, a_sk, a_pk, b_pk, label), TLY_OK);
		cr_assert_arr_eq(out, want, sizeof out, "%s: Alice's side", v->title);
		cr_assert_eq(tly_kx_agree(out, b_sk, b_pk, a_pk, label), TLY_OK);
		cr_assert_arr_eq(out, want, sizeof out, "%s: Bob's side", v->title);
	}
	tly_vectors_free(file);
}

Test(kx, agree_is_symmetric_and_label_bound)
{
	uint8_t a_sk[32], a_pk[32], b_sk[32], b_pk[32], c_sk[32], c_pk[32];
	uint8_t ab[32], ba[32], other[32], raw[32];

	tly_kx_keypair(a_pk, a_sk);
	tly_kx_keypair(b_pk, b_sk);
	tly_kx_keypair(c_pk, c_sk);
	cr_assert(memcmp(a_pk, b_pk, sizeof a_pk) != 0, "two fresh key pairs are equal");

	cr_assert_eq(tly_kx_agree(ab, a_sk, a_pk, b_pk, "pairwise-mask"), TLY_OK);
	cr_assert_eq(tly_kx_agree(ba, b_sk, b_pk, a_pk, "pairwise-mask"), TLY_OK);
	cr_assert_arr_eq(ab, ba, sizeof ab, "the two sides disagree");

	cr_assert_eq(tly_kx_agree(other, a_sk, a_pk, b_pk, "pairwise-mask2"), TLY_OK);
	cr_assert(memcmp(other, ab, sizeof ab) != 0, "label not bound");
	cr_assert_eq(tly_kx_agree(other, a_sk, a_pk, b_pk, "share-encryption"), TLY_OK);
	cr_assert(memcmp(other, ab, sizeof ab) != 0, "label not bound");
	cr_assert_eq(tly_kx_agree(other, a_sk, a_pk, c_pk, "pairwise-mask"), TLY_OK);
	cr_assert(memcmp(other, ab, sizeof ab) != 0, "peer not bound");

	/* The agreed key is a hash, never the raw X25519 output. */
	cr_assert_eq(tly_kx_x25519(raw, a_sk, b_pk), TLY_OK);
	cr_assert(memcmp(raw, ab, sizeof ab) != 0);
}

Test(kx, agree_label_length)
{
	uint8_t a_sk[32], a_pk[32], b_sk[32], b_pk[32], out[32], untouched[32];
	char label_max[TLY_KX_LABEL_MAX + 1], label_long[TLY_KX_LABEL_MAX + 2];

	tly_kx_keypair(a_pk, a_sk);
	tly_kx_keypair(b_pk, b_sk);
	memset(label_max, 'l', TLY_KX_LABEL_MAX);
	label_max[TLY_KX_LABEL_MAX] = '\0';
	memset(label_long, 'l', TLY_KX_LABEL_MAX + 1);
	label_long[TLY_KX_LABEL_MAX + 1] = '\0';
	memset(untouched, 0xaa, sizeof untouched);

	cr_assert_eq(tly_kx_agree(out, a_sk, a_pk, b_pk, label_max), TLY_OK);
	cr_assert_eq(tly_kx_agree(out, a_sk, a_pk, b_pk, "l"), TLY_OK);
	memcpy(out, untouched, sizeof out);
	cr_assert_eq(tly_kx_agree(out, a_sk, a_pk, b_pk, ""), TLY_EINVAL);
	cr_assert_eq(tly_kx_agree(out, a_sk, a_pk, b_pk, label_long), TLY_EINVAL);
	cr_assert_arr_eq(out, untouched, sizeof out, "written on failure");
}

Test(kx, keypair_is_consistent_and_fresh)
{
	uint8_t pk1[32], sk1[32], pk2[32], sk2[32], derived[32];

	tly_kx_keypair(pk1, sk1);
	tly_kx_keypair(pk2, sk2);
	cr_assert_eq(tly_kx_public(derived, sk1), TLY_OK);
	cr_assert_arr_eq(derived, pk1, sizeof pk1);
	cr_assert(memcmp(sk1, sk2, sizeof sk1) != 0);
	cr_assert(memcmp(pk1, pk2, sizeof pk1) != 0);
}
