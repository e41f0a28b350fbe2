/*
 * Fuzz every wire decoder. The first input byte picks the decoder, the rest
 * is its input. Each accepted input must re-encode to exactly the same
 * bytes (the codec is canonical): encode(decode(b)) == b.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same(const struct tly_buf *b, const uint8_t *data, size_t size)
{
	if (b->error != TLY_OK || b->len != size || (size > 0 && memcmp(b->data, data, size) != 0))
		abort();
}

static void
fuzz_envelope(const uint8_t *data, size_t size)
{
	static struct tly_roster roster;
	static int ready;
	struct tly_msg msg;

	if (!ready) {
		/* A roster of one node whose key no input knows: open must
		 * refuse everything, after peek has accepted what it may. */
		struct tly_party party = {.id = 1};
		uint8_t pk[TLY_SIGN_PUBLIC_BYTES] = {0};
		if (tly_roster_init(&roster, pk, &party, 1) != TLY_OK)
			abort();
		ready = 1;
	}
	if (tly_msg_peek(data, size, &msg) == TLY_OK) {
		if (msg.body_len + TLY_HEADER_BYTES + TLY_SIGNATURE_BYTES != size)
			abort();
		if (tly_msg_round(msg.header.type) < 0)
			abort();
	}
	if (tly_msg_open(data, size, &roster, &msg) == TLY_OK)
		abort();
}

static void
fuzz_query(const uint8_t *data, size_t size, struct tly_buf *b)
{
	struct tly_query q;
	if (tly_query_decode(&q, data, size) != TLY_OK)
		return;
	if (tly_query_encode(b, &q) != TLY_OK)
		abort();
	same(b, data, size);
	tly_query_fini(&q);
}

static void
fuzz_lists(int which, const uint8_t *data, size_t size, struct tly_buf *b)
{
	struct tly_idlist list;
	uint32_t attempt;
	if (which == 0 && tly_idlist_decode(&list, data, size) == TLY_OK) {
		if (tly_idlist_encode(b, &list) != TLY_OK)
			abort();
		same(b, data, size);
		tly_idlist_fini(&list);
	}
	if (which == 1 && tly_attempt_list_decode(&attempt, &list, data, size) == TLY_OK) {
		if (tly_attempt_list_encode(b, attempt, &list) != TLY_OK)
			abort();
		same(b, data, size);
		tly_idlist_fini(&list);
	}
}

static void
fuzz_secagg_lists(int which, const uint8_t *data, size_t size, struct tly_buf *b)
{
	struct tly_key_list keys;
	struct tly_signature_list sigs;
	struct tly_unmask unmask;
	struct tly_advertise adv;
	if (which == 0 && tly_key_list_decode(&keys, data, size) == TLY_OK) {
		if (tly_key_list_encode(b, &keys) != TLY_OK)
			abort();
		same(b, data, size);
		tly_key_list_fini(&keys);
	}
	if (which == 1 && tly_signature_list_decode(&sigs, data, size) == TLY_OK) {
		if (tly_signature_list_encode(b, &sigs) != TLY_OK)
			abort();
		same(b, data, size);
		tly_signature_list_fini(&sigs);
	}
	if (which == 2 && tly_unmask_decode(&unmask, data, size) == TLY_OK) {
		if (tly_unmask_encode(b, &unmask) != TLY_OK)
			abort();
		same(b, data, size);
		tly_unmask_fini(&unmask);
	}
	if (which == 3 && tly_advertise_decode(&adv, data, size) == TLY_OK) {
		if (tly_advertise_encode(b, &adv) != TLY_OK)
			abort();
		same(b, data, size);
	}
}

static void
fuzz_vectors(int which, const uint8_t *data, size_t size, struct tly_buf *b)
{
	/* d is the query's, not the input's: try the one that fits. */
	size_t fixed = which == 0 ? 0 : 4 + TLY_HASH_BYTES;
	if (size < fixed)
		return;
	size_t d = (size - fixed) / TLY_FIELD_ELEMENT_BYTES;
	uint64_t *v = malloc(d * sizeof *v + 1);
	uint8_t hash[TLY_HASH_BYTES];
	uint32_t attempt;
	uint32_t reason;
	if (v == NULL)
		abort();
	if (which == 0 && tly_vector_decode(v, d, data, size) == TLY_OK) {
		if (tly_vector_encode(b, v, d) != TLY_OK)
			abort();
		same(b, data, size);
	}
	if (which == 1 && tly_share_sum_decode(&attempt, hash, v, d, data, size) == TLY_OK) {
		if (tly_share_sum_encode(b, attempt, hash, v, d) != TLY_OK)
			abort();
		same(b, data, size);
	}
	if (which == 2 && tly_abort_decode(&reason, data, size) == TLY_OK) {
		if (tly_abort_encode(b, reason) != TLY_OK)
			abort();
		same(b, data, size);
	}
	free(v);
}

/* The agreement: SET_SIGN and SET_CERT. */
static void
fuzz_agreement(int which, const uint8_t *data, size_t size, struct tly_buf *b)
{
	uint8_t hash[TLY_HASH_BYTES];
	uint32_t attempt;
	struct tly_set_cert cert;
	if (which == 0 && tly_set_sign_decode(&attempt, hash, data, size) == TLY_OK) {
		if (tly_set_sign_encode(b, attempt, hash) != TLY_OK)
			abort();
		same(b, data, size);
	}
	if (which == 1 && tly_set_cert_decode(&cert, data, size) == TLY_OK) {
		if (cert.votes.count == 0 || cert.votes.count > TLY_MAX_COMMITTEE)
			abort();
		if (tly_set_cert_encode(b, &cert) != TLY_OK)
			abort();
		same(b, data, size);
		tly_set_cert_fini(&cert);
	}
}

/* SHARE's two forms: a body that decodes is exactly its form's length,
 * and its ciphertext lies inside it where the form says. */
static void
fuzz_share_form(const uint8_t *data, size_t size)
{
	/* d is the query's: the one a whole share of this size would have,
	 * and a small one, under which 49 bytes is a seeded share. */
	size_t ds[2] = {size > TLY_AEAD_TAG_BYTES ? (size - TLY_AEAD_TAG_BYTES) / 8 : 0, 3};
	for (size_t i = 0; i < 2; i++) {
		enum tly_share_form form;
		const uint8_t *cipher;
		size_t cipher_len;
		if (tly_share_form_decode(&form, &cipher, &cipher_len, data, size, ds[i]) != TLY_OK)
			continue;
		if (tly_share_body_bytes(form, ds[i]) != size)
			abort();
		size_t skip = form == TLY_SHARE_SEEDED ? 1 : 0;
		if (cipher != data + skip || cipher_len != size - skip)
			abort();
		if (form == TLY_SHARE_SEEDED &&
		    (data[0] != TLY_SHARE_SEEDED ||
		     cipher_len != TLY_SHARE_SEED_BYTES + TLY_AEAD_TAG_BYTES))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tly_buf b;

	if (size < 1)
		return 0;
	tly_buf_init(&b);
	uint8_t selector = data[0];
	data++;
	size--;
	switch (selector % 14) {
	case 0:
		fuzz_envelope(data, size);
		break;
	case 1:
		fuzz_query(data, size, &b);
		break;
	case 2:
	case 3:
		fuzz_lists(selector % 14 - 2, data, size, &b);
		break;
	case 4:
	case 5:
	case 6:
	case 7:
		fuzz_secagg_lists(selector % 14 - 4, data, size, &b);
		break;
	case 13:
		fuzz_share_form(data, size);
		break;
	case 11:
	case 12:
		fuzz_agreement(selector % 14 - 11, data, size, &b);
		break;
	default:
		fuzz_vectors(selector % 14 - 8, data, size, &b);
		break;
	}
	tly_buf_fini(&b);
	return 0;
}
