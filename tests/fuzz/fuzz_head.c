/*
 * Fuzz the decoders of store/head.h: signed tree heads and the QUERY's log
 * commitment. The first input byte picks:
 *
 *   even: a signed tree head. One that decodes must encode back to exactly
 *         its bytes, and its signature may verify under the harness's
 *         fixed key only for the head the harness signed itself.
 *   odd:  a log commitment. One that decodes must encode back to exactly
 *         its bytes; its head and proofs are then checked as a node would
 *         (signature, inclusion of an arbitrary leaf hash, each
 *         consistency proof against a zero root): none of it may crash.
 *
 * With FUZZ_HEAD_SEEDS=DIR set, the harness writes its seed inputs (a
 * signed head and a commitment with proofs) into DIR and exits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rng.h"
#include "crypto/sign.h"
#include "store/head.h"
#include "store/merkle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct tly_sign_key *key;
static uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
static struct tly_tree_head signed_head;

static void
write_seed(const char *dir, const char *name, uint8_t tag, const uint8_t *bytes, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fputc(tag, f) == EOF || fwrite(bytes, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static void
write_seeds(const char *dir)
{
	static uint8_t leaves[20 * TLY_MERKLE_HASH_BYTES];
	static struct tly_log_commit c;
	static uint8_t out[TLY_COMMIT_MAX_BYTES];
	uint8_t head[TLY_HEAD_BYTES];
	size_t len;

	tly_head_encode(head, &signed_head);
	write_seed(dir, "head", 0, head, sizeof head);
	for (uint8_t i = 0; i < 20; i++)
		tly_merkle_leaf_hash(leaves + i * TLY_MERKLE_HASH_BYTES, &i, 1);
	c.head.size = 20;
	tly_merkle_root(c.head.root, leaves, 20);
	if (tly_head_sign(&c.head, key) != TLY_OK)
		abort();
	c.leaf_index = 19;
	c.consistency_count = 2;
	c.from_size[0] = 7;
	c.from_size[1] = 16;
	if (tly_merkle_inclusion_proof(c.inclusion.hashes, &c.inclusion.count, leaves, 20, 19) ||
	    tly_merkle_consistency_proof(c.consistency[0].hashes, &c.consistency[0].count, leaves,
	                                 7, 20) ||
	    tly_merkle_consistency_proof(c.consistency[1].hashes, &c.consistency[1].count, leaves,
	                                 16, 20) ||
	    tly_log_commit_encode(out, &len, &c))
		abort();
	write_seed(dir, "commit", 1, out, len);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	(void)argc;
	(void)argv;
	memset(seed, 0x42, sizeof seed);
	if (tly_crypto_init() != TLY_OK || tly_sign_key_alloc(&key, seed) != TLY_OK)
		abort();
	tly_sign_key_public(key, pk);
	signed_head.size = 12;
	memset(signed_head.root, 0x77, sizeof signed_head.root);
	if (tly_head_sign(&signed_head, key) != TLY_OK)
		abort();
	const char *dir = getenv("FUZZ_HEAD_SEEDS");
	if (dir != NULL) {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}

static void
fuzz_head(const uint8_t *data, size_t size)
{
	struct tly_tree_head h;
	uint8_t again[TLY_HEAD_BYTES];

	if (tly_head_decode(&h, data, size) != TLY_OK)
		return;
	tly_head_encode(again, &h);
	if (memcmp(again, data, size) != 0)
		abort();
	if (tly_head_verify(&h, pk) == TLY_OK && !tly_head_equal(&h, &signed_head))
		abort(); /* a forgery */
}

static void
fuzz_commit(const uint8_t *data, size_t size)
{
	static struct tly_log_commit c;
	static uint8_t again[TLY_COMMIT_MAX_BYTES];
	uint8_t zero[TLY_MERKLE_HASH_BYTES] = {0};
	size_t len;

	if (tly_log_commit_decode(&c, data, size) != TLY_OK)
		return;
	if (tly_log_commit_encode(again, &len, &c) != TLY_OK || len != size ||
	    memcmp(again, data, size) != 0)
		abort();
	(void)tly_head_verify(&c.head, pk);
	(void)tly_merkle_verify_inclusion(zero, c.leaf_index, c.head.size, c.inclusion.hashes[0],
	                                  c.inclusion.count, c.head.root);
	for (size_t i = 0; i < c.consistency_count; i++)
		(void)tly_merkle_verify_consistency(c.from_size[i], c.head.size, zero, c.head.root,
		                                    c.consistency[i].hashes[0],
		                                    c.consistency[i].count);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0)
		fuzz_head(data + 1, size - 1);
	else
		fuzz_commit(data + 1, size - 1);
	return 0;
}
