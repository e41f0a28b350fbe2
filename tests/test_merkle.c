/*
 * test_merkle.c - store/merkle.h and store/head.h: RFC 9162 / RFC 6962
 * known answers (tests/vectors/merkle_rfc6962.txt, from
 * transparency-dev/merkle), every proof of every tree up to 64 leaves
 * verifying, every flipped bit and every wrong size failing, and the
 * canonical codecs of signed heads and log commitments.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rng.h"
#include "store/head.h"
#include "store/merkle.h"
#include "vectors.h"

#define HASH TLY_MERKLE_HASH_BYTES

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(head, .init = setup);

static const char *
kind(const struct tly_vector *v)
{
	return tly_vector_text(v, "kind");
}

/* The proof field as an array of hashes (malloc'd). */
static uint8_t (*proof_of(const struct tly_vector *v, size_t *count))[HASH]
{
	size_t len;
	uint8_t *bytes = tly_vector_hex(v, "proof", &len);
	cr_assert_eq(len % HASH, 0, "%s: proof length", v->title);
	*count = len / HASH;
	return (uint8_t(*)[HASH])bytes;
}

/* The eight leaf inputs of the file, hashed, in order. */
static void
vector_leaves(const struct tly_vectors *file, uint8_t leaves[8][HASH])
{
	size_t n = 0;
	for (size_t i = 0; i < file->count && n < 8; i++) {
		const struct tly_vector *v = &file->blocks[i];
		if (strcmp(kind(v), "leaf") != 0 || tly_vector_u64(v, "index") != n)
			continue;
		size_t len;
		uint8_t *in = tly_vector_hex(v, "input", &len);
		tly_merkle_leaf_hash(leaves[n++], in, len);
		free(in);
	}
	cr_assert_eq(n, 8, "eight leaves in the file");
}

Test(merkle, rfc_hashes_and_roots)
{
	struct tly_vectors *file = tly_vectors_load("merkle_rfc6962.txt");
	uint8_t leaves[8][HASH], got[HASH], want[HASH];
	size_t roots = 0;

	vector_leaves(file, leaves);
	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		if (strcmp(kind(v), "leaf") == 0) {
			size_t len;
			uint8_t *in = tly_vector_hex(v, "input", &len);
			tly_vector_hex_fixed(v, "hash", want, HASH);
			tly_merkle_leaf_hash(got, in, len);
			cr_assert_arr_eq(got, want, HASH, "%s", v->title);
			free(in);
		} else if (strcmp(kind(v), "node") == 0) {
			size_t l_len, r_len;
			uint8_t *l = tly_vector_hex(v, "left", &l_len),
			        *r = tly_vector_hex(v, "right", &r_len);
			uint8_t buf_l[HASH] = {0}, buf_r[HASH] = {0};
			/* The RFC example hashes short strings as children: feed
			 * SHA-256(0x01 || l || r) through the 32-byte API only
			 * when they are 32 bytes; otherwise check it by hand. */
			tly_vector_hex_fixed(v, "hash", want, HASH);
			if (l_len == HASH && r_len == HASH) {
				memcpy(buf_l, l, HASH);
				memcpy(buf_r, r, HASH);
				tly_merkle_node_hash(got, buf_l, buf_r);
				cr_assert_arr_eq(got, want, HASH, "%s", v->title);
			}
			free(l);
			free(r);
		} else if (strcmp(kind(v), "root") == 0) {
			uint64_t n = tly_vector_u64(v, "size");
			tly_vector_hex_fixed(v, "root", want, HASH);
			tly_merkle_root(got, leaves[0], n);
			cr_assert_arr_eq(got, want, HASH, "%s", v->title);
			roots++;
		}
	}
	cr_assert_eq(roots, 9, "roots of sizes 0..8");
	tly_vectors_free(file);
}

Test(merkle, rfc_inclusion_and_consistency_proofs)
{
	struct tly_vectors *file = tly_vectors_load("merkle_rfc6962.txt");
	uint8_t leaves[8][HASH], built[TLY_MERKLE_PROOF_MAX][HASH];
	size_t checked = 0, built_count;

	vector_leaves(file, leaves);
	for (size_t i = 0; i < file->count; i++) {
		const struct tly_vector *v = &file->blocks[i];
		size_t count;
		uint8_t a[HASH], b[HASH];
		if (strcmp(kind(v), "inclusion") == 0) {
			uint64_t index = tly_vector_u64(v, "index"),
			         size = tly_vector_u64(v, "size");
			uint8_t(*proof)[HASH] = proof_of(v, &count);
			tly_vector_hex_fixed(v, "leaf_hash", a, HASH);
			tly_vector_hex_fixed(v, "root", b, HASH);
			cr_assert_eq(
			    tly_merkle_verify_inclusion(a, index, size, proof[0], count, b), TLY_OK,
			    "%s", v->title);
			cr_assert_eq(
			    tly_merkle_inclusion_proof(built, &built_count, leaves[0], size, index),
			    TLY_OK);
			cr_assert_eq(built_count, count, "%s", v->title);
			cr_assert_arr_eq(built, proof, count * HASH, "%s: built proof", v->title);
			free(proof);
			checked++;
		} else if (strcmp(kind(v), "consistency") == 0) {
			uint64_t s1 = tly_vector_u64(v, "size1"), s2 = tly_vector_u64(v, "size2");
			uint8_t(*proof)[HASH] = proof_of(v, &count);
			tly_vector_hex_fixed(v, "root1", a, HASH);
			tly_vector_hex_fixed(v, "root2", b, HASH);
			cr_assert_eq(tly_merkle_verify_consistency(s1, s2, a, b, proof[0], count),
			             TLY_OK, "%s", v->title);
			cr_assert_eq(
			    tly_merkle_consistency_proof(built, &built_count, leaves[0], s1, s2),
			    TLY_OK);
			cr_assert_eq(built_count, count, "%s", v->title);
			cr_assert_arr_eq(built, proof, count * HASH, "%s: built proof", v->title);
			free(proof);
			checked++;
		}
	}
	cr_assert_eq(checked, 10);
	tly_vectors_free(file);
}

enum { PROPERTY_MAX = 64 };

static void
property_leaves(uint8_t leaves[PROPERTY_MAX][HASH])
{
	for (uint32_t i = 0; i < PROPERTY_MAX; i++) {
		uint8_t in[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
		                 (uint8_t)i};
		tly_merkle_leaf_hash(leaves[i], in, sizeof in);
	}
}

/* Every inclusion proof of every tree of 1..64 leaves verifies; flipping
 * any bit of it, or asking for another index or size, fails. */
Test(merkle, every_inclusion_proof_verifies_and_every_flipped_bit_fails)
{
	uint8_t leaves[PROPERTY_MAX][HASH], root[HASH], proof[TLY_MERKLE_PROOF_MAX][HASH];
	size_t count;

	property_leaves(leaves);
	for (uint64_t n = 1; n <= PROPERTY_MAX; n++) {
		tly_merkle_root(root, leaves[0], n);
		for (uint64_t m = 0; m < n; m++) {
			cr_assert_eq(tly_merkle_inclusion_proof(proof, &count, leaves[0], n, m),
			             TLY_OK);
			cr_assert_eq(
			    tly_merkle_verify_inclusion(leaves[m], m, n, proof[0], count, root),
			    TLY_OK, "n %lu m %lu", (unsigned long)n, (unsigned long)m);
			for (size_t bit = 0; bit < count * HASH * 8; bit += (n > 16 ? 37 : 1)) {
				proof[bit / 256][(bit / 8) % HASH] ^= (uint8_t)(1u << (bit % 8));
				cr_assert_eq(tly_merkle_verify_inclusion(leaves[m], m, n, proof[0],
				                                         count, root),
				             TLY_EAUTH);
				proof[bit / 256][(bit / 8) % HASH] ^= (uint8_t)(1u << (bit % 8));
			}
			/* (The same path can fit another size with the same
			 * shape: the signed head binds the size to the root.) */
			cr_assert_neq(
			    tly_merkle_verify_inclusion(leaves[m], m, m, proof[0], count, root),
			    TLY_OK);
			if (n > 1)
				cr_assert_neq(tly_merkle_verify_inclusion(leaves[m], (m + 1) % n, n,
				                                          proof[0], count, root),
				              TLY_OK);
			cr_assert_neq(
			    tly_merkle_verify_inclusion(leaves[m], m, n, proof[0],
			                                count + 1 > 64 ? count : count + 1, root),
			    TLY_OK);
			if (count > 0)
				cr_assert_neq(tly_merkle_verify_inclusion(leaves[m], m, n, proof[0],
				                                          count - 1, root),
				              TLY_OK);
		}
	}
}

/* Every consistency proof between trees of 0..64 leaves verifies; every
 * flipped bit, swapped roots or sizes fail. */
Test(merkle, every_consistency_proof_verifies_and_every_flipped_bit_fails)
{
	uint8_t leaves[PROPERTY_MAX][HASH], roots[PROPERTY_MAX + 1][HASH];
	uint8_t proof[TLY_MERKLE_PROOF_MAX][HASH];
	size_t count;

	property_leaves(leaves);
	for (uint64_t n = 0; n <= PROPERTY_MAX; n++)
		tly_merkle_root(roots[n], leaves[0], n);
	for (uint64_t n = 1; n <= PROPERTY_MAX; n++)
		for (uint64_t m = 0; m <= n; m++) {
			cr_assert_eq(tly_merkle_consistency_proof(proof, &count, leaves[0], m, n),
			             TLY_OK);
			cr_assert_eq(tly_merkle_verify_consistency(m, n, roots[m], roots[n],
			                                           proof[0], count),
			             TLY_OK, "m %lu n %lu", (unsigned long)m, (unsigned long)n);
			if (m == 0)
				continue;
			for (size_t bit = 0; bit < count * HASH * 8; bit += (n > 16 ? 29 : 1)) {
				proof[bit / 256][(bit / 8) % HASH] ^= (uint8_t)(1u << (bit % 8));
				cr_assert_eq(tly_merkle_verify_consistency(m, n, roots[m], roots[n],
				                                           proof[0], count),
				             TLY_EAUTH);
				proof[bit / 256][(bit / 8) % HASH] ^= (uint8_t)(1u << (bit % 8));
			}
			for (size_t bit = 0; bit < HASH * 8; bit += 7) {
				uint8_t bad[HASH];
				memcpy(bad, roots[m], HASH);
				bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				cr_assert_eq(tly_merkle_verify_consistency(m, n, bad, roots[n],
				                                           proof[0], count),
				             TLY_EAUTH);
				memcpy(bad, roots[n], HASH);
				bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				cr_assert_eq(tly_merkle_verify_consistency(m, n, roots[m], bad,
				                                           proof[0], count),
				             TLY_EAUTH);
			}
			if (m < n) {
				cr_assert_eq(tly_merkle_verify_consistency(n, m, roots[n], roots[m],
				                                           proof[0], count),
				             TLY_EAUTH, "rollback");
				if (m + 1 < n)
					cr_assert_eq(
					    tly_merkle_verify_consistency(
					        m + 1, n, roots[m + 1], roots[n], proof[0], count),
					    TLY_EAUTH);
			}
		}
}

/* The cached tree gives the same roots and proofs as the flat leaves, for
 * every prefix of every size up to 64. */
Test(merkle, cached_tree_matches_the_flat_leaves)
{
	uint8_t leaves[PROPERTY_MAX][HASH], a[HASH], b[HASH];
	uint8_t pa[TLY_MERKLE_PROOF_MAX][HASH], pb[TLY_MERKLE_PROOF_MAX][HASH];
	size_t ca, cb;
	struct tly_merkle_tree t;

	property_leaves(leaves);
	tly_merkle_tree_init(&t);
	for (uint64_t size = 1; size <= PROPERTY_MAX; size++) {
		cr_assert_eq(tly_merkle_tree_append(&t, leaves[size - 1]), TLY_OK);
		cr_assert_eq(t.size, size);
		for (uint64_t n = 0; n <= size; n++) {
			tly_merkle_root(a, leaves[0], n);
			tly_merkle_tree_root(&t, n, b);
			cr_assert_arr_eq(a, b, HASH, "root %lu of %lu", (unsigned long)n,
			                 (unsigned long)size);
			for (uint64_t m = 0; m < n; m++) {
				cr_assert_eq(tly_merkle_inclusion_proof(pa, &ca, leaves[0], n, m),
				             TLY_OK);
				cr_assert_eq(tly_merkle_tree_inclusion(&t, pb, &cb, n, m), TLY_OK);
				cr_assert_eq(ca, cb);
				cr_assert_arr_eq(pa, pb, ca * HASH);
				cr_assert_eq(tly_merkle_consistency_proof(pa, &ca, leaves[0], m, n),
				             TLY_OK);
				cr_assert_eq(tly_merkle_tree_consistency(&t, pb, &cb, m, n),
				             TLY_OK);
				cr_assert_eq(ca, cb);
				cr_assert_arr_eq(pa, pb, ca * HASH);
			}
		}
		cr_assert_eq(tly_merkle_tree_inclusion(&t, pb, &cb, size + 1, 0), TLY_EINVAL);
	}
	tly_merkle_tree_fini(&t);
}

Test(merkle, a_fork_is_not_consistent)
{
	uint8_t leaves[8][HASH], other[8][HASH], proof[TLY_MERKLE_PROOF_MAX][HASH];
	uint8_t r5[HASH], r8[HASH], fork8[HASH];
	size_t count;

	for (int i = 0; i < 8; i++) {
		uint8_t in = (uint8_t)i;
		tly_merkle_leaf_hash(leaves[i], &in, 1);
		memcpy(other[i], leaves[i], HASH);
	}
	other[3][0] ^= 1; /* the same size, another entry in the middle */
	tly_merkle_root(r5, leaves[0], 5);
	tly_merkle_root(r8, leaves[0], 8);
	tly_merkle_root(fork8, other[0], 8);
	cr_assert_eq(tly_merkle_consistency_proof(proof, &count, other[0], 5, 8), TLY_OK);
	cr_assert_eq(tly_merkle_verify_consistency(5, 8, r5, fork8, proof[0], count), TLY_EAUTH);
	cr_assert_eq(tly_merkle_consistency_proof(proof, &count, leaves[0], 5, 8), TLY_OK);
	cr_assert_eq(tly_merkle_verify_consistency(5, 8, r5, r8, proof[0], count), TLY_OK);
	cr_assert_eq(tly_merkle_verify_consistency(8, 8, r8, fork8, NULL, 0), TLY_EAUTH);
}

Test(merkle, proof_arguments_out_of_range)
{
	uint8_t leaves[2][HASH] = {{0}}, proof[TLY_MERKLE_PROOF_MAX][HASH];
	size_t count;

	cr_assert_eq(tly_merkle_inclusion_proof(proof, &count, leaves[0], 2, 2), TLY_EINVAL);
	cr_assert_eq(tly_merkle_inclusion_proof(proof, &count, leaves[0], 0, 0), TLY_EINVAL);
	cr_assert_eq(tly_merkle_consistency_proof(proof, &count, leaves[0], 3, 2), TLY_EINVAL);
	cr_assert_eq(tly_merkle_verify_inclusion(leaves[0], 0, 0, proof[0], 0, leaves[0]),
	             TLY_EAUTH);
}

/* ---- signed heads and log commitments ---- */

static struct tly_sign_key *
test_key(uint8_t fill)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	struct tly_sign_key *key;
	memset(seed, fill, sizeof seed);
	cr_assert_eq(tly_sign_key_alloc(&key, seed), TLY_OK);
	return key;
}

Test(head, sign_verify_round_trip_and_every_flipped_bit)
{
	struct tly_sign_key *key = test_key(7), *other = test_key(8);
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES], other_pk[TLY_SIGN_PUBLIC_BYTES];
	uint8_t bytes[TLY_HEAD_BYTES], again[TLY_HEAD_BYTES];
	struct tly_tree_head head = {.size = 13}, back;

	tly_sign_key_public(key, pk);
	tly_sign_key_public(other, other_pk);
	memset(head.root, 0xab, sizeof head.root);
	cr_assert_eq(tly_head_sign(&head, key), TLY_OK);
	cr_assert_eq(tly_head_verify(&head, pk), TLY_OK);
	cr_assert_eq(tly_head_verify(&head, other_pk), TLY_EAUTH);
	tly_head_encode(bytes, &head);
	cr_assert_eq(tly_head_decode(&back, bytes, sizeof bytes), TLY_OK);
	cr_assert(tly_head_equal(&head, &back));
	tly_head_encode(again, &back);
	cr_assert_arr_eq(again, bytes, sizeof bytes);
	for (size_t bit = 8; bit < 8 * sizeof bytes; bit++) {
		bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (tly_head_decode(&back, bytes, sizeof bytes) == TLY_OK)
			cr_assert_eq(tly_head_verify(&back, pk), TLY_EAUTH, "bit %zu", bit);
		bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	struct tly_tree_head zero = {.size = 0};
	cr_assert_eq(tly_head_sign(&zero, key), TLY_EINVAL);
	tly_sign_key_free(key);
	tly_sign_key_free(other);
}

Test(head, decode_refuses_bad_version_length_and_size_zero)
{
	uint8_t bytes[TLY_HEAD_BYTES + 1] = {TLY_HEAD_VERSION, 0, 0, 0, 0, 0, 0, 0, 1};
	struct tly_tree_head h;

	cr_assert_eq(tly_head_decode(&h, bytes, TLY_HEAD_BYTES), TLY_OK);
	cr_assert_eq(tly_head_decode(&h, bytes, TLY_HEAD_BYTES + 1), TLY_EFORMAT);
	cr_assert_eq(tly_head_decode(&h, bytes, TLY_HEAD_BYTES - 1), TLY_EFORMAT);
	bytes[8] = 0;
	cr_assert_eq(tly_head_decode(&h, bytes, TLY_HEAD_BYTES), TLY_EFORMAT, "size 0");
	bytes[8] = 1;
	bytes[0] = 2;
	cr_assert_eq(tly_head_decode(&h, bytes, TLY_HEAD_BYTES), TLY_EFORMAT, "version");
}

static struct tly_log_commit *
sample_commit(void)
{
	static uint8_t leaves[PROPERTY_MAX][HASH];
	struct tly_log_commit *c = calloc(1, sizeof *c);
	property_leaves(leaves);
	c->head.size = 40;
	tly_merkle_root(c->head.root, leaves[0], 40);
	memset(c->head.signature, 0x5a, TLY_SIGN_BYTES);
	c->leaf_index = 39;
	cr_assert_eq(
	    tly_merkle_inclusion_proof(c->inclusion.hashes, &c->inclusion.count, leaves[0], 40, 39),
	    TLY_OK);
	c->consistency_count = 2;
	c->from_size[0] = 3;
	c->from_size[1] = 33;
	cr_assert_eq(tly_merkle_consistency_proof(c->consistency[0].hashes,
	                                          &c->consistency[0].count, leaves[0], 3, 40),
	             TLY_OK);
	cr_assert_eq(tly_merkle_consistency_proof(c->consistency[1].hashes,
	                                          &c->consistency[1].count, leaves[0], 33, 40),
	             TLY_OK);
	return c;
}

Test(head, log_commit_round_trip_is_canonical)
{
	struct tly_log_commit *c = sample_commit(), *back = calloc(1, sizeof *back);
	uint8_t *bytes = malloc(TLY_COMMIT_MAX_BYTES), *again = malloc(TLY_COMMIT_MAX_BYTES);
	size_t len, len2;

	cr_assert_eq(tly_log_commit_encode(bytes, &len, c), TLY_OK);
	cr_assert_eq(tly_log_commit_decode(back, bytes, len), TLY_OK);
	cr_assert_eq(tly_log_commit_encode(again, &len2, back), TLY_OK);
	cr_assert_eq(len2, len);
	cr_assert_arr_eq(again, bytes, len);
	cr_assert_not_null(tly_log_commit_consistency(back, 33));
	cr_assert_null(tly_log_commit_consistency(back, 34));
	/* Every truncation and one trailing byte are refused. */
	for (size_t cut = 0; cut < len; cut++)
		cr_assert_eq(tly_log_commit_decode(back, bytes, cut), TLY_EFORMAT, "cut %zu", cut);
	bytes[len] = 0;
	cr_assert_eq(tly_log_commit_decode(back, bytes, len + 1), TLY_EFORMAT);
	free(bytes);
	free(again);
	free(back);
	free(c);
}

/* The leaf binds every field: each one changed gives another hash. */
Test(head, log_leaf_binds_its_fields)
{
	uint8_t id[16] = {1}, qh[32] = {2}, eh[32] = {3}, base[HASH], other[HASH];

	tly_log_leaf_hash(base, 7, TLY_LOG_OUTCOME_COMMITTED, id, qh, eh);
	tly_log_leaf_hash(other, 8, TLY_LOG_OUTCOME_COMMITTED, id, qh, eh);
	cr_assert_arr_neq(base, other, HASH);
	tly_log_leaf_hash(other, 7, 1, id, qh, eh);
	cr_assert_arr_neq(base, other, HASH);
	id[15] = 1;
	tly_log_leaf_hash(other, 7, TLY_LOG_OUTCOME_COMMITTED, id, qh, eh);
	cr_assert_arr_neq(base, other, HASH);
	id[15] = 0;
	qh[31] = 1;
	tly_log_leaf_hash(other, 7, TLY_LOG_OUTCOME_COMMITTED, id, qh, eh);
	cr_assert_arr_neq(base, other, HASH);
	qh[31] = 0;
	eh[31] = 1;
	tly_log_leaf_hash(other, 7, TLY_LOG_OUTCOME_COMMITTED, id, qh, eh);
	cr_assert_arr_neq(base, other, HASH);
	eh[31] = 0;
	tly_log_leaf_hash(other, 7, TLY_LOG_OUTCOME_COMMITTED, id, qh, eh);
	cr_assert_arr_eq(base, other, HASH);
}

Test(head, log_commit_refuses_out_of_range_fields)
{
	struct tly_log_commit *c = sample_commit(), *back = calloc(1, sizeof *back);
	uint8_t *bytes = malloc(TLY_COMMIT_MAX_BYTES);
	size_t len;

	c->leaf_index = 40; /* not below the size */
	cr_assert_eq(tly_log_commit_encode(bytes, &len, c), TLY_EINVAL);
	c->leaf_index = 39;
	c->from_size[1] = 3; /* not increasing */
	cr_assert_eq(tly_log_commit_encode(bytes, &len, c), TLY_EINVAL);
	c->from_size[1] = 40; /* not below the size */
	cr_assert_eq(tly_log_commit_encode(bytes, &len, c), TLY_EINVAL);
	c->from_size[1] = 33;
	cr_assert_eq(tly_log_commit_encode(bytes, &len, c), TLY_OK);
	bytes[0] = 2; /* version */
	cr_assert_eq(tly_log_commit_decode(back, bytes, len), TLY_EFORMAT);
	bytes[0] = TLY_COMMIT_VERSION;
	/* leaf_index (after version and head) set to the size: refused. */
	bytes[1 + TLY_HEAD_BYTES + 7] = 40;
	cr_assert_eq(tly_log_commit_decode(back, bytes, len), TLY_EFORMAT);
	bytes[1 + TLY_HEAD_BYTES + 7] = 39;
	/* An inclusion count over 64. */
	bytes[1 + TLY_HEAD_BYTES + 8 + 32] = 65;
	cr_assert_eq(tly_log_commit_decode(back, bytes, len), TLY_EFORMAT);
	free(bytes);
	free(back);
	free(c);
}
