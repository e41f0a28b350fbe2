/*
 * merkle.c - RFC 9162 section 2.1 Merkle trees: hashes, proofs (RFC 6962
 * sections 2.1.1 and 2.1.2, PATH and SUBPROOF) and their verification
 * (RFC 9162 sections 2.1.3.2 and 2.1.4.2), step names as in the RFC.
 */
#include "store/merkle.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define HASH TLY_MERKLE_HASH_BYTES

_Static_assert(HASH == crypto_hash_sha256_BYTES, "SHA-256 output");

static const uint64_t SIZE_LIMIT = (uint64_t)1 << 63;

void
tly_merkle_leaf_hash(uint8_t out[static HASH], const uint8_t *leaf, size_t len)
{
	crypto_hash_sha256_state st;
	const uint8_t prefix = 0x00;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	crypto_hash_sha256_update(&st, leaf, len);
	crypto_hash_sha256_final(&st, out);
}

void
tly_merkle_node_hash(uint8_t out[static HASH], const uint8_t left[static HASH],
                     const uint8_t right[static HASH])
{
	uint8_t buf[1 + 2 * HASH];

	buf[0] = 0x01;
	memcpy(buf + 1, left, HASH);
	memcpy(buf + 1 + HASH, right, HASH);
	crypto_hash_sha256(out, buf, sizeof buf);
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t
split(uint64_t n)
{
	uint64_t k = 1;
	while (k << 1 < n)
		k <<= 1;
	return k;
}

/* Where subtree hashes come from: a flat array of leaf hashes, or a tree
 * that caches every complete perfect subtree. */
struct source {
	const uint8_t *leaves;
	const struct tly_merkle_tree *tree;
	uint64_t size; /* how many leaves there are (a flat array: UINT64_MAX) */
};

static struct source
flat(const uint8_t *leaves)
{
	return (struct source){leaves, NULL, UINT64_MAX};
}

static struct source
cached(const struct tly_merkle_tree *t)
{
	return (struct source){t->levels[0], t, t->size};
}

static int
perfect_in_tree(const struct source *src, uint64_t start, uint64_t n, unsigned *height)
{
	unsigned h = 0;

	if (src->tree == NULL || (n & (n - 1)) != 0 || start % n != 0)
		return 0;
	while (((uint64_t)1 << h) < n)
		h++;
	*height = h;
	return start / n < src->tree->count[h];
}

/* MTH of leaves [start, start + n), n >= 1. */
static void
range_hash(const struct source *src, uint64_t start, uint64_t n, uint8_t out[static HASH])
{
	uint8_t left[HASH], right[HASH];
	unsigned h;

	if (perfect_in_tree(src, start, n, &h)) {
		memcpy(out, src->tree->levels[h] + (start / n) * HASH, HASH);
		return;
	}
	if (n == 1) {
		memcpy(out, src->leaves + start * HASH, HASH);
		return;
	}
	uint64_t k = split(n);
	range_hash(src, start, k, left);
	range_hash(src, start + k, n - k, right);
	tly_merkle_node_hash(out, left, right);
}

/* MTH of the first n leaves; the empty tree's is SHA-256(""). */
static void
root(const struct source *src, uint64_t n, uint8_t out[static HASH])
{
	if (n == 0)
		crypto_hash_sha256(out, NULL, 0);
	else
		range_hash(src, 0, n, out);
}

void
tly_merkle_root(uint8_t out[static HASH], const uint8_t *leaves, uint64_t n)
{
	struct source src = flat(leaves);

	root(&src, n, out);
}

/* RFC 6962 PATH(m, D[start:start+n]) (kind INCLUSION: m is a leaf's
 * index) and SUBPROOF(m, D[start:start+n], whole) (kind CONSISTENCY: m
 * leaves), appended after the hashes below them. The two recurse alike,
 * into the half that holds leaf m (the first m leaves) and then the other
 * half's MTH; they differ at the bottom: PATH stops at one leaf, SUBPROOF
 * where m = n, with MTH(D[start:start+n]) unless whole. */
enum proof_kind { INCLUSION, CONSISTENCY };

static void
walk(const struct source *src, enum proof_kind kind, uint8_t proof[][HASH], size_t *count,
     uint64_t start, uint64_t n, uint64_t m, int whole)
{
	if (kind == INCLUSION ? n <= 1 : m == n) {
		if (kind == CONSISTENCY && !whole)
			range_hash(src, start, n, proof[(*count)++]);
		return;
	}
	uint64_t k = split(n);
	if (kind == INCLUSION ? m < k : m <= k) {
		walk(src, kind, proof, count, start, k, m, whole);
		range_hash(src, start + k, n - k, proof[(*count)++]);
	} else {
		walk(src, kind, proof, count, start + k, n - k, m - k, 0);
		range_hash(src, start, k, proof[(*count)++]);
	}
}

/* An inclusion proof of leaf m in the first n leaves (m < n), or a
 * consistency proof between the first m and n leaves (m <= n). */
static tly_err
prove(struct source src, enum proof_kind kind, uint8_t proof[static TLY_MERKLE_PROOF_MAX][HASH],
      size_t *count, uint64_t m, uint64_t n)
{
	if ((kind == INCLUSION ? m >= n : m > n) || n >= SIZE_LIMIT || n > src.size)
		return TLY_EINVAL;
	*count = 0;
	if (kind == INCLUSION || (m > 0 && m < n))
		walk(&src, kind, proof, count, 0, n, m, 1);
	return TLY_OK;
}

tly_err
tly_merkle_inclusion_proof(uint8_t proof[static TLY_MERKLE_PROOF_MAX][HASH], size_t *count,
                           const uint8_t *leaves, uint64_t n, uint64_t index)
{
	return prove(flat(leaves), INCLUSION, proof, count, index, n);
}

tly_err
tly_merkle_consistency_proof(uint8_t proof[static TLY_MERKLE_PROOF_MAX][HASH], size_t *count,
                             const uint8_t *leaves, uint64_t m, uint64_t n)
{
	return prove(flat(leaves), CONSISTENCY, proof, count, m, n);
}

/* ---- the cached tree ---- */

void
tly_merkle_tree_init(struct tly_merkle_tree *t)
{
	memset(t, 0, sizeof *t);
}

void
tly_merkle_tree_fini(struct tly_merkle_tree *t)
{
	if (t == NULL)
		return;
	for (unsigned h = 0; h < TLY_MERKLE_PROOF_MAX; h++)
		free(t->levels[h]);
	memset(t, 0, sizeof *t);
}

static tly_err
push(struct tly_merkle_tree *t, unsigned h, const uint8_t hash[static HASH])
{
	if (t->count[h] == t->cap[h]) {
		size_t cap = t->cap[h] > 0 ? 2 * t->cap[h] : 16;
		uint8_t *grown = realloc(t->levels[h], cap * HASH);
		if (grown == NULL)
			return TLY_ENOMEM;
		t->levels[h] = grown;
		t->cap[h] = cap;
	}
	memcpy(t->levels[h] + t->count[h]++ * HASH, hash, HASH);
	return TLY_OK;
}

tly_err
tly_merkle_tree_append(struct tly_merkle_tree *t, const uint8_t leaf_hash[static HASH])
{
	uint8_t node[HASH];
	tly_err rv;

	if (t->size + 1 >= SIZE_LIMIT)
		return TLY_ERANGE;
	if ((rv = push(t, 0, leaf_hash)) != TLY_OK)
		return rv;
	/* Each completed pair of perfect subtrees makes the next level's. */
	for (unsigned h = 0; h + 1 < TLY_MERKLE_PROOF_MAX && t->count[h] % 2 == 0; h++) {
		const uint8_t *pair = t->levels[h] + (t->count[h] - 2) * HASH;
		tly_merkle_node_hash(node, pair, pair + HASH);
		if ((rv = push(t, h + 1, node)) != TLY_OK)
			return rv;
	}
	t->size++;
	return TLY_OK;
}

void
tly_merkle_tree_root(const struct tly_merkle_tree *t, uint64_t n, uint8_t out[static HASH])
{
	struct source src = cached(t);

	TLY_REQUIRE(n <= t->size);
	root(&src, n, out);
}

tly_err
tly_merkle_tree_inclusion(const struct tly_merkle_tree *t,
                          uint8_t proof[static TLY_MERKLE_PROOF_MAX][HASH], size_t *count,
                          uint64_t n, uint64_t index)
{
	return prove(cached(t), INCLUSION, proof, count, index, n);
}

tly_err
tly_merkle_tree_consistency(const struct tly_merkle_tree *t,
                            uint8_t proof[static TLY_MERKLE_PROOF_MAX][HASH], size_t *count,
                            uint64_t m, uint64_t n)
{
	return prove(cached(t), CONSISTENCY, proof, count, m, n);
}

/* Right-shift fn and sn together until LSB(fn) is set or fn is 0. */
static void
shift_to_set(uint64_t *fn, uint64_t *sn)
{
	while (*fn != 0 && (*fn & 1) == 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

tly_err
tly_merkle_verify_inclusion(const uint8_t leaf_hash[static HASH], uint64_t index, uint64_t size,
                            const uint8_t *proof, size_t count, const uint8_t root[static HASH])
{
	uint8_t r[HASH];

	/* Step 1. */
	if (index >= size || count > TLY_MERKLE_PROOF_MAX)
		return TLY_EAUTH;
	/* Step 2. */
	uint64_t fn = index, sn = size - 1;
	memcpy(r, leaf_hash, HASH);
	/* Step 3. */
	for (size_t i = 0; i < count; i++) {
		if (sn == 0)
			return TLY_EAUTH;
		if ((fn & 1) != 0 || fn == sn) {
			tly_merkle_node_hash(r, proof + i * HASH, r);
			shift_to_set(&fn, &sn);
		} else {
			tly_merkle_node_hash(r, r, proof + i * HASH);
		}
		fn >>= 1;
		sn >>= 1;
	}
	/* Step 4. */
	return sn == 0 && sodium_memcmp(r, root, HASH) == 0 ? TLY_OK : TLY_EAUTH;
}

/* Steps 2 to 7 of RFC 9162 section 2.1.4.2, for 0 < size1 < size2 and a
 * non-empty proof. */
static tly_err
consistency_walk(uint64_t size1, uint64_t size2, const uint8_t root1[static HASH],
                 const uint8_t root2[static HASH], const uint8_t *proof, size_t count)
{
	uint8_t fr[HASH], sr[HASH];
	size_t next = 0;

	/* Step 2: a first tree of 2^i leaves is a node of the second. */
	int prepend = (size1 & (size1 - 1)) == 0;
	/* Steps 3 and 4. */
	uint64_t fn = size1 - 1, sn = size2 - 1;
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	/* Step 5. */
	memcpy(fr, prepend ? root1 : proof + HASH * next++, HASH);
	memcpy(sr, fr, HASH);
	/* Step 6. */
	for (; next < count; next++) {
		if (sn == 0)
			return TLY_EAUTH;
		if ((fn & 1) != 0 || fn == sn) {
			tly_merkle_node_hash(fr, proof + next * HASH, fr);
			tly_merkle_node_hash(sr, proof + next * HASH, sr);
			shift_to_set(&fn, &sn);
		} else {
			tly_merkle_node_hash(sr, sr, proof + next * HASH);
		}
		fn >>= 1;
		sn >>= 1;
	}
	/* Step 7. */
	if (sn != 0 || sodium_memcmp(fr, root1, HASH) != 0 || sodium_memcmp(sr, root2, HASH) != 0)
		return TLY_EAUTH;
	return TLY_OK;
}

tly_err
tly_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[static HASH],
                              const uint8_t root2[static HASH], const uint8_t *proof, size_t count)
{
	if (size1 > size2 || count > TLY_MERKLE_PROOF_MAX)
		return TLY_EAUTH;
	if (size1 == size2)
		return count == 0 && sodium_memcmp(root1, root2, HASH) == 0 ? TLY_OK : TLY_EAUTH;
	if (size1 == 0)
		return count == 0 ? TLY_OK : TLY_EAUTH;
	/* Step 1. */
	if (count == 0)
		return TLY_EAUTH;
	return consistency_walk(size1, size2, root1, root2, proof, count);
}
