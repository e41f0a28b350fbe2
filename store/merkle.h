/*
 * merkle.h - the Merkle tree of RFC 9162 section 2.1 (Certificate
 * Transparency 2.0; the same tree as RFC 6962): SHA-256, domain-separated
 * leaf and node hashes, inclusion and consistency proofs and their
 * verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2).
 *
 *   leaf hash  = SHA-256(0x00 || leaf bytes)
 *   node hash  = SHA-256(0x01 || left || right)
 *   MTH({})    = SHA-256() (the empty string)
 *   MTH(D[n])  = node hash(MTH(D[0:k]), MTH(D[k:n])), k the largest power
 *                of two below n
 *
 * The functions that build a root or a proof take the leaf hashes (not the
 * leaves): the log stores one hash per entry. They cost O(n) hashes, and a
 * proof is at most TLY_MERKLE_PROOF_MAX hashes (one per level of a tree of
 * up to 2^63 leaves). Pure: no I/O, no allocation; thread-safe.
 */
#ifndef TLY_STORE_MERKLE_H
#define TLY_STORE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

enum {
	TLY_MERKLE_HASH_BYTES = 32,
	TLY_MERKLE_PROOF_MAX = 64, /* hashes in any proof of a tree < 2^63 leaves */
};

/* SHA-256(0x00 || leaf). */
void tly_merkle_leaf_hash(uint8_t out[static TLY_MERKLE_HASH_BYTES], const uint8_t *leaf,
                          size_t len);
/* SHA-256(0x01 || left || right). */
void tly_merkle_node_hash(uint8_t out[static TLY_MERKLE_HASH_BYTES],
                          const uint8_t left[static TLY_MERKLE_HASH_BYTES],
                          const uint8_t right[static TLY_MERKLE_HASH_BYTES]);

/* MTH of the n leaves whose leaf hashes are the n * 32 bytes at leaves
 * (one hash after another). n = 0 gives the empty tree's root; leaves may
 * then be NULL. Proofs given to the verifiers are count * 32 bytes. */
void tly_merkle_root(uint8_t out[static TLY_MERKLE_HASH_BYTES], const uint8_t *leaves, uint64_t n);

/* The audit path of leaf index in the tree of the first n leaves (RFC 6962
 * PATH), from the leaf's sibling upwards, into proof[0..*count).
 * TLY_EINVAL unless index < n < 2^63. */
TLY_MUST tly_err
tly_merkle_inclusion_proof(uint8_t proof[static TLY_MERKLE_PROOF_MAX][TLY_MERKLE_HASH_BYTES],
                           size_t *count, const uint8_t *leaves, uint64_t n, uint64_t index);

/* The consistency proof (RFC 6962 PROOF) from the tree of the first m
 * leaves to the tree of the first n: empty when m = 0 or m = n.
 * TLY_EINVAL unless m <= n < 2^63. */
TLY_MUST tly_err
tly_merkle_consistency_proof(uint8_t proof[static TLY_MERKLE_PROOF_MAX][TLY_MERKLE_HASH_BYTES],
                             size_t *count, const uint8_t *leaves, uint64_t m, uint64_t n);

/*
 * An append-only tree that keeps the hash of every complete perfect
 * subtree (levels[h]: those of 2^h leaves, in order; levels[0] the leaf
 * hashes), so that the root and the proofs of any of its prefixes cost
 * O(log n) hashes, and an append O(1) amortised. 2n hashes of memory.
 * _init/_fini; owned by the caller; one thread at a time.
 */
struct tly_merkle_tree {
	uint8_t *levels[TLY_MERKLE_PROOF_MAX];
	uint64_t count[TLY_MERKLE_PROOF_MAX];
	size_t cap[TLY_MERKLE_PROOF_MAX];
	uint64_t size;
};

void tly_merkle_tree_init(struct tly_merkle_tree *t);
/* Accepts a zeroed tree. */
void tly_merkle_tree_fini(struct tly_merkle_tree *t);
/* Append a leaf hash. TLY_ENOMEM, TLY_ERANGE (2^63 leaves): the tree is
 * then unusable (fini it). */
TLY_MUST tly_err tly_merkle_tree_append(struct tly_merkle_tree *t,
                                        const uint8_t leaf_hash[static TLY_MERKLE_HASH_BYTES]);
/* MTH of the first n <= size leaves (misuse aborts). */
void tly_merkle_tree_root(const struct tly_merkle_tree *t, uint64_t n,
                          uint8_t out[static TLY_MERKLE_HASH_BYTES]);
/* As tly_merkle_inclusion_proof / _consistency_proof over the first n
 * leaves; TLY_EINVAL also when n > size. */
TLY_MUST tly_err
tly_merkle_tree_inclusion(const struct tly_merkle_tree *t,
                          uint8_t proof[static TLY_MERKLE_PROOF_MAX][TLY_MERKLE_HASH_BYTES],
                          size_t *count, uint64_t n, uint64_t index);
TLY_MUST tly_err
tly_merkle_tree_consistency(const struct tly_merkle_tree *t,
                            uint8_t proof[static TLY_MERKLE_PROOF_MAX][TLY_MERKLE_HASH_BYTES],
                            size_t *count, uint64_t m, uint64_t n);

/* RFC 9162 section 2.1.3.2: TLY_OK when proof[0..count) shows that the
 * leaf with this leaf hash is at index in the tree of size leaves with this
 * root; TLY_EAUTH otherwise (index >= size, a path too long or too short,
 * a root that does not match). */
TLY_MUST tly_err tly_merkle_verify_inclusion(const uint8_t leaf_hash[static TLY_MERKLE_HASH_BYTES],
                                             uint64_t index, uint64_t size, const uint8_t *proof,
                                             size_t count,
                                             const uint8_t root[static TLY_MERKLE_HASH_BYTES]);

/* RFC 9162 section 2.1.4.2: TLY_OK when proof[0..count) shows that the tree
 * of size1 leaves with root1 is a prefix of the tree of size2 with root2.
 * size1 = size2 needs an empty proof and equal roots; size1 = 0 an empty
 * proof (every tree extends the empty one). TLY_EAUTH otherwise (size1 >
 * size2 included). */
TLY_MUST tly_err tly_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                               const uint8_t root1[static TLY_MERKLE_HASH_BYTES],
                                               const uint8_t root2[static TLY_MERKLE_HASH_BYTES],
                                               const uint8_t *proof, size_t count);

#endif
