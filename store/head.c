/*
 * head.c - signed tree heads and the QUERY's log commitment: canonical
 * codecs (layouts in head.h) and the head signature.
 */
#include "store/head.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wire/buf.h"

#define HASH TLY_MERKLE_HASH_BYTES

static const char head_domain[] = "tally/tree-head/v1";
enum {
	HEAD_DOMAIN_BYTES = sizeof head_domain - 1,
	HEAD_SIGNED_BYTES = HEAD_DOMAIN_BYTES + 8 + HASH
};

static void
signed_bytes(uint8_t out[static HEAD_SIGNED_BYTES], const struct tly_tree_head *head)
{
	memcpy(out, head_domain, HEAD_DOMAIN_BYTES);
	tly_store_be64(out + HEAD_DOMAIN_BYTES, head->size);
	memcpy(out + HEAD_DOMAIN_BYTES + 8, head->root, HASH);
}

tly_err
tly_head_sign(struct tly_tree_head *head, const struct tly_sign_key *key)
{
	uint8_t msg[HEAD_SIGNED_BYTES];

	if (head->size == 0)
		return TLY_EINVAL;
	signed_bytes(msg, head);
	return tly_sign(head->signature, key, msg, sizeof msg) == TLY_OK ? TLY_OK : TLY_ECRYPTO;
}

tly_err
tly_head_verify(const struct tly_tree_head *head, const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	uint8_t msg[HEAD_SIGNED_BYTES];

	if (head->size == 0)
		return TLY_EAUTH;
	signed_bytes(msg, head);
	return tly_sign_verify(head->signature, msg, sizeof msg, pk) == TLY_OK ? TLY_OK : TLY_EAUTH;
}

void
tly_head_encode(uint8_t out[static TLY_HEAD_BYTES], const struct tly_tree_head *head)
{
	out[0] = TLY_HEAD_VERSION;
	tly_store_be64(out + 1, head->size);
	memcpy(out + 9, head->root, HASH);
	memcpy(out + 9 + HASH, head->signature, TLY_SIGN_BYTES);
}

tly_err
tly_head_decode(struct tly_tree_head *out, const uint8_t *bytes, size_t len)
{
	if (len != TLY_HEAD_BYTES || bytes[0] != TLY_HEAD_VERSION)
		return TLY_EFORMAT;
	uint64_t size = tly_load_be64(bytes + 1);
	if (size == 0)
		return TLY_EFORMAT;
	out->size = size;
	memcpy(out->root, bytes + 9, HASH);
	memcpy(out->signature, bytes + 9 + HASH, TLY_SIGN_BYTES);
	return TLY_OK;
}

int
tly_head_equal(const struct tly_tree_head *a, const struct tly_tree_head *b)
{
	return a->size == b->size && sodium_memcmp(a->root, b->root, HASH) == 0 &&
	       sodium_memcmp(a->signature, b->signature, TLY_SIGN_BYTES) == 0;
}

static void
put_proof(struct tly_buf *b, const struct tly_merkle_proof *p)
{
	tly_buf_put_u8(b, (uint8_t)p->count);
	for (size_t i = 0; i < p->count; i++)
		tly_buf_put_bytes(b, p->hashes[i], HASH);
}

/* The rules the decoder enforces, for the encoder. */
static int
commit_valid(const struct tly_log_commit *c)
{
	if (c->head.size == 0 || c->leaf_index >= c->head.size ||
	    c->inclusion.count > TLY_MERKLE_PROOF_MAX ||
	    c->consistency_count > TLY_COMMIT_CONSISTENCY_MAX)
		return 0;
	for (size_t i = 0; i < c->consistency_count; i++) {
		uint64_t from = c->from_size[i];
		if (from == 0 || from >= c->head.size || (i > 0 && from <= c->from_size[i - 1]) ||
		    c->consistency[i].count == 0 || c->consistency[i].count > TLY_MERKLE_PROOF_MAX)
			return 0;
	}
	return 1;
}

tly_err
tly_log_commit_encode(uint8_t *out, size_t *len, const struct tly_log_commit *c)
{
	struct tly_buf b;
	uint8_t head[TLY_HEAD_BYTES];
	size_t n;

	if (!commit_valid(c))
		return TLY_EINVAL;
	tly_buf_init(&b);
	tly_head_encode(head, &c->head);
	tly_buf_put_u8(&b, TLY_COMMIT_VERSION);
	tly_buf_put_bytes(&b, head, sizeof head);
	tly_buf_put_u64(&b, c->leaf_index);
	tly_buf_put_bytes(&b, c->entry_hash, sizeof c->entry_hash);
	put_proof(&b, &c->inclusion);
	tly_buf_put_u8(&b, (uint8_t)c->consistency_count);
	for (size_t i = 0; i < c->consistency_count; i++) {
		tly_buf_put_u64(&b, c->from_size[i]);
		put_proof(&b, &c->consistency[i]);
	}
	tly_err rv = b.error;
	if (rv == TLY_OK) {
		n = b.len;
		memcpy(out, b.data, n);
		*len = n;
	}
	tly_buf_fini(&b);
	return rv;
}

static void
get_proof(struct tly_reader *r, struct tly_merkle_proof *p)
{
	p->count = tly_get_u8(r);
	if (p->count > TLY_MERKLE_PROOF_MAX) {
		r->failed = 1;
		return;
	}
	for (size_t i = 0; i < p->count; i++)
		tly_get_bytes(r, p->hashes[i], HASH);
}

tly_err
tly_log_commit_decode(struct tly_log_commit *out, const uint8_t *bytes, size_t len)
{
	struct tly_reader r;
	struct tly_log_commit *c;

	if (len > TLY_COMMIT_MAX_BYTES || len < 1 + TLY_HEAD_BYTES)
		return TLY_EFORMAT;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return TLY_ENOMEM;
	tly_reader_init(&r, bytes, len);
	tly_err rv = TLY_EFORMAT;
	if (tly_get_u8(&r) != TLY_COMMIT_VERSION ||
	    tly_head_decode(&c->head, tly_get_view(&r, TLY_HEAD_BYTES), TLY_HEAD_BYTES) != TLY_OK)
		goto out;
	c->leaf_index = tly_get_u64(&r);
	tly_get_bytes(&r, c->entry_hash, sizeof c->entry_hash);
	get_proof(&r, &c->inclusion);
	c->consistency_count = tly_get_u8(&r);
	if (c->consistency_count > TLY_COMMIT_CONSISTENCY_MAX)
		goto out;
	for (size_t i = 0; i < c->consistency_count && !r.failed; i++) {
		c->from_size[i] = tly_get_u64(&r);
		get_proof(&r, &c->consistency[i]);
	}
	if (tly_reader_done(&r) != TLY_OK || !commit_valid(c))
		goto out;
	memcpy(out, c, sizeof *c);
	rv = TLY_OK;
out:
	free(c);
	return rv;
}

void
tly_log_leaf_hash(uint8_t out[static HASH], uint64_t seq, uint8_t outcome,
                  const uint8_t query_id[static 16], const uint8_t query_hash[static 32],
                  const uint8_t entry_hash[static 32])
{
	uint8_t leaf[TLY_LOG_LEAF_BYTES];

	leaf[0] = TLY_LOG_LEAF_VERSION;
	tly_store_be64(leaf + 1, seq);
	leaf[9] = outcome;
	memcpy(leaf + 10, query_id, 16);
	memcpy(leaf + 26, query_hash, 32);
	memcpy(leaf + 58, entry_hash, 32);
	tly_merkle_leaf_hash(out, leaf, sizeof leaf);
}

const struct tly_merkle_proof *
tly_log_commit_consistency(const struct tly_log_commit *c, uint64_t from_size)
{
	for (size_t i = 0; i < c->consistency_count; i++)
		if (c->from_size[i] == from_size)
			return &c->consistency[i];
	return NULL;
}
