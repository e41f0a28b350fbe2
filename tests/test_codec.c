/* The wire codec: signed envelopes and every body type. Round trips both
 * ways (decode(encode(x)) == x and encode(decode(b)) == b), and every
 * malformation the decoders must refuse. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/digest.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "wire/codec.h"
#include "wire/hex.h"
#include "wire/outbox.h"

static struct tly_identity coordinator, alice, bob;
static struct tly_roster roster;
static const uint8_t qid[TLY_QUERY_ID_BYTES] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                9, 10, 11, 12, 13, 14, 15, 16};

static void
setup(void)
{
	struct tly_party parties[2];
	uint8_t cpk[TLY_SIGN_PUBLIC_BYTES];

	cr_assert_eq(tly_crypto_init(), TLY_OK);
	cr_assert_eq(tly_identity_generate(&coordinator, TLY_PARTY_COORDINATOR, 0), TLY_OK);
	cr_assert_eq(tly_identity_generate(&alice, 7, 1), TLY_OK);
	cr_assert_eq(tly_identity_generate(&bob, 9, 1), TLY_OK);
	tly_identity_public(&bob, &parties[0]);
	tly_identity_public(&alice, &parties[1]);
	tly_sign_key_public(coordinator.sign, cpk);
	cr_assert_eq(tly_roster_init(&roster, cpk, parties, 2), TLY_OK);
}

static void
teardown(void)
{
	tly_roster_fini(&roster);
	tly_identity_fini(&coordinator);
	tly_identity_fini(&alice);
	tly_identity_fini(&bob);
}

TestSuite(codec, .init = setup, .fini = teardown);

static void
seal(struct tly_buf *out, enum tly_msg_type type, const struct tly_identity *from, uint32_t to,
     const uint8_t *body, size_t len)
{
	struct tly_msg_header h = {.type = type, .sender = from->id, .recipient = to};
	memcpy(h.query_id, qid, sizeof qid);
	tly_buf_init(out);
	cr_assert_eq(tly_msg_seal(out, &h, body, len, from->sign), TLY_OK);
}

Test(codec, roster_sorted_and_searchable)
{
	cr_assert_eq(roster.parties[0].id, 7);
	cr_assert_not_null(tly_roster_find(&roster, 9));
	cr_assert_null(tly_roster_find(&roster, 8));
	cr_assert_not_null(tly_roster_sign_pk(&roster, TLY_PARTY_COORDINATOR));
	struct tly_roster bad;
	struct tly_party dup[2];
	tly_identity_public(&alice, &dup[0]);
	tly_identity_public(&alice, &dup[1]);
	cr_assert_eq(tly_roster_init(&bad, roster.coordinator_pk, dup, 2), TLY_EINVAL);
	dup[1].id = 0;
	cr_assert_eq(tly_roster_init(&bad, roster.coordinator_pk, dup, 2), TLY_EINVAL);
}

Test(codec, seal_open_round_trip)
{
	struct tly_buf m;
	struct tly_msg msg;
	uint8_t body[32] = {42};
	seal(&m, TLY_MSG_CONSISTENCY, &alice, TLY_PARTY_COORDINATOR, body, sizeof body);
	cr_assert_eq(m.len, TLY_HEADER_BYTES + sizeof body + TLY_SIGNATURE_BYTES);
	cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_OK);
	cr_assert_eq(msg.header.type, TLY_MSG_CONSISTENCY);
	cr_assert_eq(msg.round, TLY_ROUND_CONSISTENCY);
	cr_assert_eq(msg.header.sender, 7);
	cr_assert_eq(msg.header.recipient, TLY_PARTY_COORDINATOR);
	cr_assert_arr_eq(msg.header.query_id, qid, sizeof qid);
	cr_assert_eq(msg.body_len, sizeof body);
	cr_assert_arr_eq(msg.body, body, sizeof body);
	tly_buf_fini(&m);
}

Test(codec, every_flipped_bit_is_refused)
{
	struct tly_buf m;
	struct tly_msg msg;
	uint8_t body[64] = {0};
	seal(&m, TLY_MSG_ADVERTISE, &alice, TLY_PARTY_COORDINATOR, body, sizeof body);
	for (size_t i = 0; i < m.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			m.data[i] ^= (uint8_t)(1 << bit);
			tly_err rv = tly_msg_open(m.data, m.len, &roster, &msg);
			cr_assert_neq(rv, TLY_OK, "flip at byte %zu bit %d accepted", i, bit);
			m.data[i] ^= (uint8_t)(1 << bit);
		}
	}
	cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_OK);
	tly_buf_fini(&m);
}

/* The signature is checked for every message type, not only the one the
 * test above seals: for each type, a message signed by its real sender
 * opens, and the same message is refused with TLY_EAUTH when any bit of its
 * signature is flipped, when another registered party signed it, and when
 * the coordinator signed a node's message or a node the coordinator's. */
Test(codec, forged_signatures_are_refused_for_every_message_type)
{
	const uint8_t body[4] = {0, 0, 0, 1};
	struct tly_msg msg;
	int types = 0;

	for (unsigned t = 0; t < 256; t++) {
		if (tly_msg_round((enum tly_msg_type)t) < 0)
			continue;
		types++;
		struct tly_buf m;
		/* Find the type's real sender: the coordinator or a node. */
		seal(&m, (enum tly_msg_type)t, &coordinator, 7, body, sizeof body);
		int from_coordinator = tly_msg_open(m.data, m.len, &roster, &msg) == TLY_OK;
		tly_buf_fini(&m);
		const struct tly_identity *real = from_coordinator ? &coordinator : &alice;
		const struct tly_identity *other = from_coordinator ? &alice : &bob;
		uint32_t to = from_coordinator ? 7 : TLY_PARTY_COORDINATOR;

		seal(&m, (enum tly_msg_type)t, real, to, body, sizeof body);
		cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_OK, "type %u", t);
		for (size_t i = m.len - TLY_SIGNATURE_BYTES; i < m.len; i++)
			for (int bit = 0; bit < 8; bit++) {
				m.data[i] ^= (uint8_t)(1 << bit);
				cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_EAUTH,
				             "type %u: signature byte %zu bit %d flipped, accepted",
				             t, i, bit);
				m.data[i] ^= (uint8_t)(1 << bit);
			}
		/* The body changed under a valid signature. */
		m.data[TLY_HEADER_BYTES] ^= 1;
		cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_EAUTH, "type %u", t);
		tly_buf_fini(&m);

		/* Another key's signature under the real sender's id. */
		struct tly_msg_header h = {
		    .type = (enum tly_msg_type)t, .sender = real->id, .recipient = to};
		memcpy(h.query_id, qid, sizeof qid);
		tly_buf_init(&m);
		cr_assert_eq(tly_msg_seal(&m, &h, body, sizeof body, other->sign), TLY_OK);
		cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_EAUTH,
		             "type %u signed by another party's key, accepted", t);
		tly_buf_fini(&m);
		/* The other role's key under the real sender's id. */
		tly_buf_init(&m);
		cr_assert_eq(tly_msg_seal(&m, &h, body, sizeof body,
		                          from_coordinator ? alice.sign : coordinator.sign),
		             TLY_OK);
		cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_EAUTH,
		             "type %u signed by the other role's key, accepted", t);
		tly_buf_fini(&m);
	}
	/* messages.h's 19 types: committee, SecAgg and the agreement round. */
	cr_assert_eq(types, 19, "%d message types", types);
}

Test(codec, header_malformations)
{
	struct tly_buf m;
	struct tly_msg msg;
	uint8_t body[4] = {0, 0, 0, 1};
	seal(&m, TLY_MSG_ABORT, &coordinator, TLY_PARTY_ALL, body, sizeof body);
	uint8_t *copy = malloc(m.len + 1);
	cr_assert_not_null(copy);

	/* Each is refused before the signature: TLY_EFORMAT. */
	struct {
		size_t offset;
		uint8_t value;
	} edits[] = {{0, 2}, {1, 99}, {1, 0}, {2, 1}, {3, 1}, {23, 0}, {35, 5}, {35, 3}};
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		memcpy(copy, m.data, m.len);
		copy[edits[i].offset] = edits[i].value;
		cr_assert_eq(tly_msg_open(copy, m.len, &roster, &msg), TLY_EFORMAT, "edit %zu", i);
	}
	/* Truncated anywhere, or one trailing byte. */
	for (size_t len = 0; len < m.len; len++)
		cr_assert_eq(tly_msg_open(m.data, len, &roster, &msg), TLY_EFORMAT);
	memcpy(copy, m.data, m.len);
	copy[m.len] = 0;
	cr_assert_eq(tly_msg_open(copy, m.len + 1, &roster, &msg), TLY_EFORMAT);
	free(copy);
	tly_buf_fini(&m);
}

Test(codec, senders_must_match_the_type)
{
	struct tly_buf m;
	struct tly_msg msg;
	uint8_t body[4] = {0};
	/* A node may not send a coordinator's type... */
	seal(&m, TLY_MSG_ABORT, &alice, TLY_PARTY_ALL, body, sizeof body);
	cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_EPEER);
	tly_buf_fini(&m);
	/* ...nor the coordinator a node's. */
	uint8_t hash[32] = {0};
	seal(&m, TLY_MSG_CONSISTENCY, &coordinator, TLY_PARTY_COORDINATOR, hash, sizeof hash);
	cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_EPEER);
	tly_buf_fini(&m);
	/* A sender outside the roster. */
	struct tly_identity stranger;
	cr_assert_eq(tly_identity_generate(&stranger, 8, 1), TLY_OK);
	seal(&m, TLY_MSG_CONSISTENCY, &stranger, TLY_PARTY_COORDINATOR, hash, sizeof hash);
	cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_EPEER);
	tly_buf_fini(&m);
	/* Someone in the roster signing as another member. */
	stranger.id = 9;
	seal(&m, TLY_MSG_CONSISTENCY, &stranger, TLY_PARTY_COORDINATOR, hash, sizeof hash);
	cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_EAUTH);
	tly_buf_fini(&m);
	tly_identity_fini(&stranger);
}

Test(codec, oversized_bodies_refused_before_signing)
{
	struct tly_buf m;
	struct tly_msg_header h = {.type = TLY_MSG_CONSISTENCY, .sender = 7};
	uint8_t body[33] = {0};
	tly_buf_init(&m);
	cr_assert_eq(tly_msg_seal(&m, &h, body, sizeof body, alice.sign), TLY_EINVAL);
	h.type = (enum tly_msg_type)77;
	cr_assert_eq(tly_msg_seal(&m, &h, body, 32, alice.sign), TLY_EINVAL);
	tly_buf_fini(&m);
}

/* ---- what a message signature covers (wire/codec.h tly_msg_digest) ---- */

enum { KAT_MAX_BYTES = TLY_SIGNATURE_BYTES };

/* A fixed SET_SIGN from party 7 to the coordinator: query id 01..10,
 * attempt 1, set hash 00..1f. */
static const char kat_header_hex[] =
    "011000000102030405060708090a0b0c0d0e0f1000000004000000070000000000000024";
static const char kat_body_hex[] =
    "00000001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/*
 * Made outside tally, with Python's hashlib and the openssl command line:
 *   D = b"tally/message-signature/v1"
 *   digest = hashlib.sha256(bytes([len(D)]) + D + header + body).hexdigest()
 * and the signature by the Ed25519 key whose RFC 8032 seed is 32 bytes of
 * 0x11 (DER 302e020100300506032b657004220420 || seed, `openssl pkey
 * -inform DER`), over the 32 digest bytes:
 *   openssl pkeyutl -sign -inkey key.pem -rawin -in digest.bin
 * Ed25519 is deterministic, so the signature is a known answer too.
 */
static const char kat_digest_hex[] =
    "f897e948681ae9d6cd8e1abcf0d51365ac71ffc2b336bf4b89412a2af4205ee9";
static const char kat_signature_hex[] =
    "c56c991425bc07cc6abe344c8bfb1f2dadb2bf6608dccd4bdd05df958f0db093"
    "e5103e66060144e119d16639819fe68136f11404f26f522d819305121545dc03";

static void
kat_message(struct tly_msg_header *h, struct tly_buf *body)
{
	uint8_t set_hash[TLY_HASH_BYTES];

	for (size_t i = 0; i < sizeof set_hash; i++)
		set_hash[i] = (uint8_t)i;
	*h = (struct tly_msg_header){.type = TLY_MSG_SET_SIGN, .sender = 7};
	memcpy(h->query_id, qid, sizeof qid);
	tly_buf_init(body);
	cr_assert_eq(tly_set_sign_encode(body, 1, set_hash), TLY_OK);
}

static void
assert_hex(const uint8_t *bytes, size_t len, const char *want)
{
	char got[2 * KAT_MAX_BYTES + 1];

	cr_assert_leq(len, KAT_MAX_BYTES);
	tly_hex(got, bytes, len);
	cr_assert_str_eq(got, want);
}

Test(codec, message_digest_and_signature_known_answers)
{
	struct tly_msg_header h;
	struct tly_buf body, m;
	struct tly_sign_key *key;
	uint8_t raw[TLY_HEADER_BYTES], digest[TLY_HASH_BYTES], sig[TLY_SIGNATURE_BYTES];
	uint8_t seed[TLY_SIGN_SEED_BYTES], pk[TLY_SIGN_PUBLIC_BYTES];

	kat_message(&h, &body);
	tly_msg_raw_header(raw, &h, (uint32_t)body.len);
	assert_hex(raw, sizeof raw, kat_header_hex);
	assert_hex(body.data, body.len, kat_body_hex);
	cr_assert_eq(tly_msg_digest(digest, raw, body.data, body.len), TLY_OK);
	assert_hex(digest, sizeof digest, kat_digest_hex);

	memset(seed, 0x11, sizeof seed);
	cr_assert_eq(tly_sign_key_alloc(&key, seed), TLY_OK);
	tly_sign_key_public(key, pk);
	cr_assert_eq(tly_msg_sign(sig, &h, body.data, body.len, key), TLY_OK);
	assert_hex(sig, sizeof sig, kat_signature_hex);
	/* The sealed message is header || body || that signature. */
	tly_buf_init(&m);
	cr_assert_eq(tly_msg_seal(&m, &h, body.data, body.len, key), TLY_OK);
	cr_assert_eq(m.len, sizeof raw + body.len + sizeof sig);
	cr_assert_arr_eq(m.data, raw, sizeof raw);
	cr_assert_arr_eq(m.data + sizeof raw, body.data, body.len);
	cr_assert_arr_eq(m.data + sizeof raw + body.len, sig, sizeof sig);
	cr_assert_eq(tly_msg_verify(raw, body.data, body.len, sig, pk), TLY_OK);
	cr_assert_eq(tly_msg_verify_header(&h, body.data, body.len, sig, pk), TLY_OK);
	tly_buf_fini(&m);
	tly_buf_fini(&body);
	tly_sign_key_free(key);
}

/* How a wrong signer might sign: SHA-256 under a domain (the rule, when
 * the domain is TLY_MSG_SIGNATURE_DOMAIN), SHA-256 without any domain,
 * BLAKE2b-256 under a domain (tly_hash: how tally hashes what else it
 * signs), or the whole bytes (the rule before issue 16). */
enum signer { SHA256_DOMAIN, SHA256_BARE, BLAKE2B_DOMAIN, WHOLE_BYTES };

/* A SET_SIGN from alice, signed by `how`. */
static void
seal_under(struct tly_buf *m, enum signer how, const char *domain)
{
	struct tly_msg_header h;
	struct tly_buf body;
	uint8_t digest[TLY_MSG_DIGEST_BYTES], domain_len = (uint8_t)strlen(domain);

	kat_message(&h, &body);
	h.sender = alice.id;
	h.recipient = TLY_PARTY_COORDINATOR;
	tly_buf_init(m);
	cr_assert_eq(tly_msg_seal(m, &h, body.data, body.len, alice.sign), TLY_OK);
	size_t signed_len = m->len - TLY_SIGNATURE_BYTES;
	const struct tly_digest_part parts[] = {
	    {&domain_len, 1}, {domain, domain_len}, {m->data, signed_len}};
	uint8_t *sig = m->data + signed_len;
	if (how == WHOLE_BYTES) {
		cr_assert_eq(tly_sign(sig, alice.sign, m->data, signed_len), TLY_OK);
		tly_buf_fini(&body);
		return;
	}
	if (how == SHA256_DOMAIN)
		cr_assert_eq(tly_digest_sha256(digest, parts, 3), TLY_OK);
	if (how == SHA256_BARE)
		cr_assert_eq(tly_digest_sha256(digest, parts + 2, 1), TLY_OK);
	if (how == BLAKE2B_DOMAIN)
		tly_hash(digest, domain, m->data, signed_len);
	cr_assert_eq(tly_sign(sig, alice.sign, digest, sizeof digest), TLY_OK);
	tly_buf_fini(&body);
}

/* Only a signature over the message-signature digest opens: not one over
 * the whole bytes (the rule before), nor over a digest under another
 * domain or another hash, whether another thing tally signs or another
 * version. */
Test(codec, only_the_message_digest_is_accepted)
{
	static const struct {
		enum signer how;
		const char *domain;
	} wrong[] = {
	    {WHOLE_BYTES, ""},
	    {SHA256_BARE, ""},
	    {SHA256_DOMAIN, ""},
	    {SHA256_DOMAIN, "tally/message-signature/v2"},
	    {SHA256_DOMAIN, "tally/ledger/v1"},
	    {SHA256_DOMAIN, "tally/receipt/v1"},
	    {SHA256_DOMAIN, "tally/translog/v1"},
	    {BLAKE2B_DOMAIN, TLY_MSG_SIGNATURE_DOMAIN},
	    {BLAKE2B_DOMAIN, "tally/ledger/v1"},
	    {BLAKE2B_DOMAIN, "tally/receipt/v1"},
	};
	const uint8_t *pk = tly_roster_sign_pk(&roster, alice.id);
	struct tly_buf m;
	struct tly_msg msg;

	seal_under(&m, SHA256_DOMAIN, TLY_MSG_SIGNATURE_DOMAIN);
	cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_OK);
	tly_buf_fini(&m);

	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		seal_under(&m, wrong[i].how, wrong[i].domain);
		cr_assert_eq(tly_msg_open(m.data, m.len, &roster, &msg), TLY_EAUTH,
		             "signer %d, domain \"%s\"", (int)wrong[i].how, wrong[i].domain);
		cr_assert_eq(tly_msg_verify(m.data, m.data + TLY_HEADER_BYTES,
		                            m.len - TLY_HEADER_BYTES - TLY_SIGNATURE_BYTES,
		                            m.data + m.len - TLY_SIGNATURE_BYTES, pk),
		             TLY_EAUTH);
		tly_buf_fini(&m);
	}
}

/* The forwarded path (votes in SET_CERT, keys in KEY_LIST, consistency
 * signatures in SIGNATURE_LIST) re-creates the header: every bit of the
 * body and the signature, and every header field, is covered. */
Test(codec, forwarded_signatures_cover_header_body_and_signature)
{
	const uint8_t *pk = tly_roster_sign_pk(&roster, alice.id);
	struct tly_msg_header h;
	struct tly_buf body;
	uint8_t sig[TLY_SIGNATURE_BYTES];

	kat_message(&h, &body);
	h.sender = alice.id;
	cr_assert_eq(tly_msg_sign(sig, &h, body.data, body.len, alice.sign), TLY_OK);
	cr_assert_eq(tly_msg_verify_header(&h, body.data, body.len, sig, pk), TLY_OK);
	for (size_t i = 0; i < 8 * body.len; i++) {
		body.data[i / 8] ^= (uint8_t)(1 << (i % 8));
		cr_assert_eq(tly_msg_verify_header(&h, body.data, body.len, sig, pk), TLY_EAUTH,
		             "body bit %zu", i);
		body.data[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	for (size_t i = 0; i < 8 * sizeof sig; i++) {
		sig[i / 8] ^= (uint8_t)(1 << (i % 8));
		cr_assert_eq(tly_msg_verify_header(&h, body.data, body.len, sig, pk), TLY_EAUTH,
		             "signature bit %zu", i);
		sig[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	struct tly_msg_header changed[4] = {h, h, h, h};
	changed[0].type = TLY_MSG_CONSISTENCY;
	changed[1].sender = bob.id;
	changed[2].recipient = 3;
	changed[3].query_id[15] ^= 1;
	for (size_t i = 0; i < 4; i++)
		cr_assert_neq(tly_msg_verify_header(&changed[i], body.data, body.len, sig, pk),
		              TLY_OK, "header change %zu", i);
	/* A body one byte shorter than the header says: refused before hashing. */
	uint8_t raw[TLY_HEADER_BYTES];
	tly_msg_raw_header(raw, &h, (uint32_t)body.len);
	cr_assert_eq(tly_msg_verify(raw, body.data, body.len - 1, sig, pk), TLY_EFORMAT);
	cr_assert_eq(tly_msg_verify(raw, body.data, body.len, sig, pk), TLY_OK);
	tly_buf_fini(&body);
}

static struct tly_query
sample_query(uint32_t *participants, uint32_t n, uint32_t *committee, uint32_t k)
{
	struct tly_query q;
	memset(&q, 0, sizeof q);
	memset(q.query_hash, 0xab, sizeof q.query_hash);
	q.protocol = TLY_PROTOCOL_COMMITTEE;
	q.mechanism = TLY_MECH_LAPLACE;
	q.cells = 12;
	q.privacy_num = 1;
	q.privacy_den = 2;
	q.sensitivity_l1 = 1;
	q.sensitivity_l2sq = 1;
	q.min_honest = 2;
	q.min_contributors = 3;
	q.threshold = 2;
	q.quorum = (uint16_t)((k + 2 + 1) / 2);
	q.degree = (uint16_t)k;
	q.deadline_ms = 5000;
	q.participants.count = n;
	q.participants.ids = participants;
	q.committee.count = k;
	q.committee.ids = committee;
	return q;
}

Test(codec, query_round_trips_both_ways)
{
	uint32_t participants[4] = {1, 2, 5, 9}, committee[3] = {1, 2, 5};
	struct tly_query q = sample_query(participants, 4, committee, 3), back;
	struct tly_buf body, again;
	tly_buf_init(&body);
	tly_buf_init(&again);
	cr_assert_eq(tly_query_encode(&body, &q), TLY_OK);
	cr_assert_eq(body.len, TLY_QUERY_FIXED_BYTES + 4 * 4 + 3 * 4 + 4);
	cr_assert_eq(tly_query_decode(&back, body.data, body.len), TLY_OK);
	cr_assert_null(back.spec_json, "no spec sent, none decoded");
	cr_assert_eq(back.cells, 12);
	cr_assert_eq(back.privacy_den, 2);
	cr_assert_eq(back.participants.count, 4);
	cr_assert_arr_eq(back.participants.ids, participants, sizeof participants);
	cr_assert_arr_eq(back.committee.ids, committee, sizeof committee);
	cr_assert_eq(tly_query_encode(&again, &back), TLY_OK);
	cr_assert_eq(again.len, body.len);
	cr_assert_arr_eq(again.data, body.data, body.len);
	tly_query_fini(&back);
	tly_buf_fini(&body);
	tly_buf_fini(&again);
}

/* Encode a query, patch one field of the body, and expect TLY_EFORMAT. */
static void
expect_query_refused(size_t offset, const uint8_t *bytes, size_t n, const char *what)
{
	uint32_t participants[4] = {1, 2, 5, 9}, committee[3] = {1, 2, 5};
	struct tly_query q = sample_query(participants, 4, committee, 3), back;
	struct tly_buf body;
	tly_buf_init(&body);
	cr_assert_eq(tly_query_encode(&body, &q), TLY_OK);
	memcpy(body.data + offset, bytes, n);
	cr_assert_eq(tly_query_decode(&back, body.data, body.len), TLY_EFORMAT, "%s", what);
	tly_buf_fini(&body);
}

Test(codec, query_malformations)
{
	const uint8_t zero4[4] = {0}, big4[4] = {0, 0x0f, 0x42, 0x41}, nine = 9, ff = 0xff;
	expect_query_refused(32, &nine, 1, "unknown protocol");
	expect_query_refused(33, &nine, 1, "unknown mechanism");
	expect_query_refused(34, (const uint8_t[2]){0, 1}, 2, "quorum below t");
	expect_query_refused(34, (const uint8_t[2]){0, 4}, 2, "quorum above k");
	expect_query_refused(36, zero4, 4, "zero cells");
	expect_query_refused(36, big4, 4, "cells over the cap");
	expect_query_refused(48, (const uint8_t[8]){0}, 8, "zero denominator");
	expect_query_refused(72, zero4, 4, "min_honest 0");
	expect_query_refused(80, (const uint8_t[2]){0, 4}, 2, "threshold above k");
	expect_query_refused(82, (const uint8_t[2]){0, 2}, 2, "degree != committee size");
	/* participants: count at 88, ids at 92.. */
	expect_query_refused(88, (const uint8_t[4]){0, 0, 0, 5}, 4, "count past the data");
	expect_query_refused(96, (const uint8_t[4]){0, 0, 0, 1}, 4, "ids not increasing");
	expect_query_refused(92, zero4, 4, "id 0");
	expect_query_refused(92, &ff, 1, "id above the maximum");

	uint32_t participants[4] = {1, 2, 5, 9}, committee[3] = {1, 2, 5};
	struct tly_query q = sample_query(participants, 4, committee, 3), back;
	struct tly_buf body;
	tly_buf_init(&body);
	q.protocol = TLY_PROTOCOL_SECAGG;
	cr_assert_eq(tly_query_encode(&body, &q), TLY_EINVAL, "masking with a committee");
	q.committee.count = 0;
	q.degree = 0;
	cr_assert_eq(tly_query_encode(&body, &q), TLY_EINVAL, "masking with a quorum");
	q.quorum = 0;
	cr_assert_eq(tly_query_encode(&body, &q), TLY_OK);
	cr_assert_eq(tly_query_decode(&back, body.data, body.len - 1), TLY_EFORMAT, "truncated");
	tly_buf_put_u8(&body, 0);
	cr_assert_eq(tly_query_decode(&back, body.data, body.len), TLY_EFORMAT, "trailing byte");
	tly_buf_fini(&body);
}

Test(codec, query_carries_the_spec_its_hash_names)
{
	uint32_t participants[3] = {1, 2, 3}, committee[3] = {1, 2, 3};
	struct tly_query q = sample_query(participants, 3, committee, 3), back;
	struct tly_buf body;
	char spec[] = "{\"dataset\":\"patients\"}";
	q.spec_json = spec;
	q.spec_len = (uint32_t)strlen(spec);
	tly_buf_init(&body);
	cr_assert_eq(tly_query_encode(&body, &q), TLY_EINVAL, "hash does not name the spec");
	tly_hash(q.query_hash, "tally/query/v1", (const uint8_t *)spec, strlen(spec));
	tly_buf_reset(&body);
	cr_assert_eq(tly_query_encode(&body, &q), TLY_OK);
	cr_assert_eq(tly_query_decode(&back, body.data, body.len), TLY_OK);
	cr_assert_str_eq(back.spec_json, spec);
	cr_assert_eq(back.spec_len, strlen(spec));
	tly_query_fini(&back);
	/* A changed byte of the spec no longer matches the signed hash. */
	body.data[body.len - 3] ^= 1;
	cr_assert_eq(tly_query_decode(&back, body.data, body.len), TLY_EFORMAT);
	/* A length past the bytes. */
	body.data[body.len - strlen(spec) - 1] += 1;
	cr_assert_eq(tly_query_decode(&back, body.data, body.len), TLY_EFORMAT);
	tly_buf_fini(&body);
}

/* A copy is deep: it encodes to the same bytes and owns every buffer, so
 * it outlives the original (ASan sees a shared or missing buffer). */
Test(codec, query_copy_is_deep_and_encodes_the_same)
{
	uint32_t participants[3] = {1, 2, 3}, committee[3] = {1, 2, 3};
	struct tly_query q = sample_query(participants, 3, committee, 3), back, copy;
	struct tly_buf body, again;
	char spec[] = "{\"dataset\":\"patients\"}";
	uint8_t commit[5] = {1, 2, 3, 4, 5};
	q.spec_json = spec;
	q.spec_len = (uint32_t)strlen(spec);
	q.log_commit = commit;
	q.log_commit_len = sizeof commit;
	tly_hash(q.query_hash, "tally/query/v1", (const uint8_t *)spec, strlen(spec));
	tly_buf_init(&body);
	tly_buf_init(&again);
	cr_assert_eq(tly_query_encode(&body, &q), TLY_OK);
	cr_assert_eq(tly_query_decode(&back, body.data, body.len), TLY_OK);
	cr_assert_eq(tly_query_copy(&copy, &back), TLY_OK);
	cr_assert_neq(copy.participants.ids, back.participants.ids);
	cr_assert_neq(copy.committee.ids, back.committee.ids);
	cr_assert_neq(copy.spec_json, back.spec_json);
	cr_assert_neq(copy.log_commit, back.log_commit);
	tly_query_fini(&back);
	cr_assert_str_eq(copy.spec_json, spec);
	cr_assert_eq(tly_query_encode(&again, &copy), TLY_OK);
	cr_assert_eq(again.len, body.len);
	cr_assert_arr_eq(again.data, body.data, body.len);
	tly_query_fini(&copy);
	tly_buf_fini(&body);
	tly_buf_fini(&again);
}

Test(codec, id_lists_and_attempts)
{
	uint32_t ids[3] = {3, 4, 100};
	struct tly_idlist list = {3, ids}, back;
	struct tly_buf b;
	uint32_t attempt;
	tly_buf_init(&b);
	cr_assert_eq(tly_attempt_list_encode(&b, 2, &list), TLY_OK);
	cr_assert_eq(tly_attempt_list_decode(&attempt, &back, b.data, b.len), TLY_OK);
	cr_assert_eq(attempt, 2);
	cr_assert_arr_eq(back.ids, ids, sizeof ids);
	cr_assert(tly_idlist_contains(&back, 100));
	cr_assert(!tly_idlist_contains(&back, 5));
	tly_idlist_fini(&back);

	b.data[3] = TLY_MAX_ANNOUNCE_ATTEMPTS;
	cr_assert_eq(tly_attempt_list_decode(&attempt, &back, b.data, b.len), TLY_EFORMAT);
	tly_buf_reset(&b);
	cr_assert_eq(tly_attempt_list_encode(&b, TLY_MAX_ANNOUNCE_ATTEMPTS, &list), TLY_EINVAL);

	tly_buf_reset(&b);
	cr_assert_eq(tly_idlist_encode(&b, &list), TLY_OK);
	b.data[11] = 3; /* second id equals the first */
	cr_assert_eq(tly_idlist_decode(&back, b.data, b.len), TLY_EFORMAT);
	b.data[3] = 0xff; /* a count the bytes cannot hold */
	cr_assert_eq(tly_idlist_decode(&back, b.data, b.len), TLY_EFORMAT);

	uint8_t h1[32], h2[32], h3[32];
	uint8_t other[16] = {0};
	tly_idlist_hash(h1, qid, &list);
	tly_idlist_hash(h2, other, &list);
	list.count = 2;
	tly_idlist_hash(h3, qid, &list);
	cr_assert(memcmp(h1, h2, 32) != 0, "hash binds the query");
	cr_assert(memcmp(h1, h3, 32) != 0, "hash binds the members");
	tly_buf_fini(&b);
}

Test(codec, vectors_and_share_sums)
{
	uint64_t v[5] = {0, 1, TLY_FIELD_P - 1, 12345, 1ull << 60}, back[5];
	uint8_t hash[32], hash_back[32];
	uint32_t attempt;
	struct tly_buf b;
	memset(hash, 7, sizeof hash);
	tly_buf_init(&b);
	cr_assert_eq(tly_share_sum_encode(&b, 1, hash, v, 5), TLY_OK);
	cr_assert_eq(b.len, 4 + 32 + 40);
	cr_assert_eq(tly_share_sum_decode(&attempt, hash_back, back, 5, b.data, b.len), TLY_OK);
	cr_assert_arr_eq(back, v, sizeof v);
	cr_assert_arr_eq(hash_back, hash, 32);
	cr_assert_eq(tly_share_sum_decode(&attempt, hash_back, back, 4, b.data, b.len), TLY_EFORMAT,
	             "length from the query, not the peer");
	b.data[4 + 32 + 16] = 0x20; /* element 2 >= p */
	cr_assert_eq(tly_share_sum_decode(&attempt, hash_back, back, 5, b.data, b.len), TLY_ERANGE);

	tly_buf_reset(&b);
	v[3] = TLY_FIELD_P;
	cr_assert_eq(tly_vector_encode(&b, v, 5), TLY_EINVAL, "never send an element >= p");
	tly_buf_fini(&b);
}

Test(codec, secagg_lists_round_trip_both_ways)
{
	struct tly_key_entry keys[2];
	struct tly_signature_entry sigs[2];
	struct tly_unmask_entry shares[2];
	memset(keys, 0x11, sizeof keys);
	memset(sigs, 0x22, sizeof sigs);
	memset(shares, 0x33, sizeof shares);
	keys[0].id = sigs[0].id = shares[0].id = 2;
	keys[1].id = sigs[1].id = shares[1].id = 5;
	shares[0].kind = TLY_UNMASK_SELF_SEED;
	shares[1].kind = TLY_UNMASK_MASK_KEY;

	struct tly_key_list kl = {2, keys}, kl_back;
	struct tly_signature_list sl = {2, sigs}, sl_back;
	struct tly_unmask um = {2, shares}, um_back;
	struct tly_buf b, again;
	tly_buf_init(&b);
	tly_buf_init(&again);

	cr_assert_eq(tly_key_list_encode(&b, &kl), TLY_OK);
	cr_assert_eq(tly_key_list_decode(&kl_back, b.data, b.len), TLY_OK);
	cr_assert_eq(memcmp(kl_back.entries, keys, sizeof keys), 0);
	cr_assert_eq(tly_key_list_encode(&again, &kl_back), TLY_OK);
	cr_assert_arr_eq(again.data, b.data, b.len);
	tly_key_list_fini(&kl_back);

	tly_buf_reset(&b);
	tly_buf_reset(&again);
	cr_assert_eq(tly_signature_list_encode(&b, &sl), TLY_OK);
	cr_assert_eq(tly_signature_list_decode(&sl_back, b.data, b.len), TLY_OK);
	cr_assert_eq(tly_signature_list_encode(&again, &sl_back), TLY_OK);
	cr_assert_arr_eq(again.data, b.data, b.len);
	tly_signature_list_fini(&sl_back);

	tly_buf_reset(&b);
	tly_buf_reset(&again);
	cr_assert_eq(tly_unmask_encode(&b, &um), TLY_OK);
	cr_assert_eq(tly_unmask_decode(&um_back, b.data, b.len), TLY_OK);
	cr_assert_eq(um_back.entries[1].kind, TLY_UNMASK_MASK_KEY);
	cr_assert_eq(tly_unmask_encode(&again, &um_back), TLY_OK);
	cr_assert_arr_eq(again.data, b.data, b.len);
	tly_unmask_fini(&um_back);

	b.data[4 + 4] = 3; /* unknown kind */
	cr_assert_eq(tly_unmask_decode(&um_back, b.data, b.len), TLY_EFORMAT);
	b.data[4 + 4] = 1;
	b.data[4 + 5] = 1; /* reserved */
	cr_assert_eq(tly_unmask_decode(&um_back, b.data, b.len), TLY_EFORMAT);
	b.data[4 + 5] = 0;
	cr_assert_eq(tly_unmask_decode(&um_back, b.data, b.len - 1), TLY_EFORMAT);
	tly_unmask_fini(&um_back);

	keys[1].id = 2;
	tly_buf_reset(&b);
	cr_assert_eq(tly_key_list_encode(&b, &kl), TLY_EINVAL, "ids must increase");
	tly_buf_fini(&b);
	tly_buf_fini(&again);
}

Test(codec, envelopes_bind_keys_and_header)
{
	struct tly_msg_header h = {.type = TLY_MSG_SHARE, .sender = 7, .recipient = 9};
	uint8_t raw[TLY_HEADER_BYTES], plain[24] = "a secret share vector!!", out[24];
	struct tly_buf body;
	memcpy(h.query_id, qid, sizeof qid);
	tly_msg_raw_header(raw, &h, sizeof plain + TLY_AEAD_TAG_BYTES);
	tly_buf_init(&body);
	cr_assert_eq(
	    tly_envelope_seal(&body, alice.kx_sk, alice.kx_pk, bob.kx_pk, raw, plain, sizeof plain),
	    TLY_OK);
	cr_assert_eq(body.len, sizeof plain + TLY_AEAD_TAG_BYTES);
	cr_assert_eq(
	    tly_envelope_open(out, bob.kx_sk, bob.kx_pk, alice.kx_pk, raw, body.data, body.len),
	    TLY_OK);
	cr_assert_arr_eq(out, plain, sizeof plain);

	/* Another recipient in the header, another key pair, a flipped byte. */
	raw[31] ^= 1;
	cr_assert_eq(
	    tly_envelope_open(out, bob.kx_sk, bob.kx_pk, alice.kx_pk, raw, body.data, body.len),
	    TLY_EAUTH);
	for (size_t i = 0; i < sizeof out; i++)
		cr_assert_eq(out[i], 0, "plaintext wiped after failure");
	raw[31] ^= 1;
	cr_assert_eq(
	    tly_envelope_open(out, alice.kx_sk, alice.kx_pk, bob.kx_pk, raw, body.data, body.len),
	    TLY_OK, "the agreement is symmetric: sender can open what it sealed");
	body.data[3] ^= 0x40;
	cr_assert_eq(
	    tly_envelope_open(out, bob.kx_sk, bob.kx_pk, alice.kx_pk, raw, body.data, body.len),
	    TLY_EAUTH);
	cr_assert_eq(tly_envelope_open(out, bob.kx_sk, bob.kx_pk, alice.kx_pk, raw, body.data, 15),
	             TLY_EFORMAT);
	tly_buf_fini(&body);
}

/* The agreed-secret envelopes are byte for byte the others, both ways. */
Test(codec, agreed_envelopes_are_the_same_bytes)
{
	struct tly_msg_header h = {.type = TLY_MSG_KEY_SHARE, .sender = 7, .recipient = 9};
	uint8_t raw[TLY_HEADER_BYTES], plain[20] = "a key share, agreed", out[20];
	uint8_t at_alice[TLY_KX_SHARED_BYTES], at_bob[TLY_KX_SHARED_BYTES];
	struct tly_buf once, agreed;

	memcpy(h.query_id, qid, sizeof qid);
	tly_msg_raw_header(raw, &h, sizeof plain + TLY_AEAD_TAG_BYTES);
	cr_assert_eq(tly_envelope_agree(at_alice, alice.kx_sk, alice.kx_pk, bob.kx_pk), TLY_OK);
	cr_assert_eq(tly_envelope_agree(at_bob, bob.kx_sk, bob.kx_pk, alice.kx_pk), TLY_OK);
	cr_assert_arr_eq(at_alice, at_bob, sizeof at_bob);
	tly_buf_init(&once);
	tly_buf_init(&agreed);
	cr_assert_eq(
	    tly_envelope_seal(&once, alice.kx_sk, alice.kx_pk, bob.kx_pk, raw, plain, sizeof plain),
	    TLY_OK);
	cr_assert_eq(tly_envelope_seal_agreed(&agreed, at_alice, raw, plain, sizeof plain), TLY_OK);
	cr_assert_eq(agreed.len, once.len);
	cr_assert_arr_eq(agreed.data, once.data, once.len);
	cr_assert_eq(tly_envelope_open_agreed(out, at_bob, raw, once.data, once.len), TLY_OK);
	cr_assert_arr_eq(out, plain, sizeof plain);
	raw[31] ^= 1; /* another recipient: another key */
	cr_assert_eq(tly_envelope_open_agreed(out, at_bob, raw, once.data, once.len), TLY_EAUTH);
	tly_buf_fini(&once);
	tly_buf_fini(&agreed);
}

/* Participant lists take TLY_MAX_PARTIES ids and no more; a client's own
 * lists take a neighbourhood and itself (TLY_MAX_NEIGHBOURS + 1), whatever
 * TLY_MAX_PARTIES is. */
Test(codec, party_and_neighbourhood_caps)
{
	uint32_t n = TLY_MAX_PARTIES + 1;
	struct tly_idlist list = {n, calloc(n, sizeof(uint32_t))}, got;
	struct tly_key_list keys = {TLY_MAX_NEIGHBOURS + 2, NULL};
	struct tly_buf body;

	cr_assert_not_null(list.ids);
	for (uint32_t i = 0; i < n; i++)
		list.ids[i] = i + 1;
	tly_buf_init(&body);
	cr_assert_eq(tly_idlist_encode(&body, &list), TLY_EINVAL);
	list.count = TLY_MAX_PARTIES;
	cr_assert_eq(tly_idlist_encode(&body, &list), TLY_OK);
	cr_assert_eq(tly_idlist_decode(&got, body.data, body.len), TLY_OK);
	cr_assert_eq(got.count, TLY_MAX_PARTIES);
	tly_idlist_fini(&got);
	/* one id more, declared and present: refused */
	tly_buf_put_u32(&body, n);
	tly_store_be32(body.data, n);
	cr_assert_eq(tly_idlist_decode(&got, body.data, body.len), TLY_EFORMAT);
	tly_buf_fini(&body);

	keys.entries = calloc(keys.count, sizeof *keys.entries);
	cr_assert_not_null(keys.entries);
	for (uint32_t i = 0; i < keys.count; i++)
		keys.entries[i].id = i + 1;
	tly_buf_init(&body);
	cr_assert_eq(tly_key_list_encode(&body, &keys), TLY_EINVAL);
	keys.count--;
	tly_buf_fini(&body);
	tly_buf_init(&body);
	cr_assert_eq(tly_key_list_encode(&body, &keys), TLY_OK);
	struct tly_key_list back;
	cr_assert_eq(tly_key_list_decode(&back, body.data, body.len), TLY_OK);
	cr_assert_eq(back.count, TLY_MAX_NEIGHBOURS + 1);
	tly_key_list_fini(&back);
	/* a longer list, well formed but for its count: refused */
	uint8_t entry[TLY_KEY_ENTRY_BYTES];
	memcpy(entry, body.data + 4, sizeof entry);
	tly_store_be32(body.data, TLY_MAX_NEIGHBOURS + 2);
	tly_buf_put_bytes(&body, entry, sizeof entry);
	tly_store_be32(body.data + body.len - TLY_KEY_ENTRY_BYTES, TLY_MAX_NEIGHBOURS + 2);
	cr_assert_eq(tly_key_list_decode(&back, body.data, body.len), TLY_EFORMAT);
	tly_buf_fini(&body);
	free(keys.entries);
	free(list.ids);
}

Test(codec, buffers_record_the_first_failure)
{
	struct tly_reader r;
	uint8_t bytes[3] = {1, 2, 3};
	tly_reader_init(&r, bytes, 3);
	cr_assert_eq(tly_get_u16(&r), 0x0102);
	cr_assert_eq(tly_get_u32(&r), 0, "past the end reads zero");
	cr_assert_eq(tly_get_u8(&r), 0, "and stays failed");
	cr_assert_eq(tly_reader_done(&r), TLY_EFORMAT);
	tly_reader_init(&r, bytes, 3);
	(void)tly_get_u8(&r);
	cr_assert_eq(tly_reader_done(&r), TLY_EFORMAT, "bytes left over");

	struct tly_outbox box;
	struct tly_buf b;
	tly_outbox_init(&box);
	tly_buf_init(&b);
	for (int i = 0; i < 1000; i++)
		tly_buf_put_u64(&b, (uint64_t)i);
	cr_assert_eq(b.len, 8000);
	cr_assert_eq(tly_outbox_push(&box, 3, &b), TLY_OK);
	cr_assert_null(b.data, "the outbox took the storage");
	cr_assert_eq(box.count, 1);
	cr_assert_eq(box.items[0].len, 8000);
	cr_assert_eq(tly_load_be64(box.items[0].data + 8 * 999), 999);
	tly_outbox_fini(&box);
}

/* Found by fuzz_codec under UBSan: an empty vector encoded into an empty
 * buffer computed NULL + 0 in tly_buf_extend (undefined behaviour; `make
 * asan` and `make ubsan` run this test with -fsanitize=undefined). */
Test(codec, empty_vector_into_empty_buffer)
{
	struct tly_buf b;

	tly_buf_init(&b);
	cr_assert_eq(tly_vector_encode(&b, NULL, 0), TLY_OK);
	cr_assert_eq(b.len, 0);
	cr_assert_null(tly_buf_extend(&b, 0));
	cr_assert_eq(b.error, TLY_OK);
	tly_buf_put_bytes(&b, NULL, 0);
	cr_assert_eq(b.error, TLY_OK);
	tly_buf_put_u8(&b, 7);
	cr_assert(b.len == 1 && b.data[0] == 7);
	tly_buf_fini(&b);
}

Test(codec, set_sign_exact_length)
{
	uint8_t hash[TLY_HASH_BYTES], back_hash[TLY_HASH_BYTES];
	uint32_t attempt;
	struct tly_buf body;

	memset(hash, 0xab, sizeof hash);
	tly_buf_init(&body);
	cr_assert_eq(tly_set_sign_encode(&body, TLY_MAX_ANNOUNCE_ATTEMPTS, hash), TLY_EINVAL);
	cr_assert_eq(tly_set_sign_encode(&body, 2, hash), TLY_OK);
	cr_assert_eq(body.len, TLY_SET_SIGN_BYTES);
	cr_assert_eq(tly_set_sign_decode(&attempt, back_hash, body.data, body.len), TLY_OK);
	cr_assert_eq(attempt, 2);
	cr_assert_arr_eq(back_hash, hash, TLY_HASH_BYTES);
	cr_assert_eq(tly_set_sign_decode(&attempt, back_hash, body.data, body.len - 1), TLY_EFORMAT,
	             "truncated");
	tly_buf_put_u8(&body, 0);
	cr_assert_eq(tly_set_sign_decode(&attempt, back_hash, body.data, body.len), TLY_EFORMAT,
	             "trailing byte");
	body.data[3] = TLY_MAX_ANNOUNCE_ATTEMPTS;
	cr_assert_eq(tly_set_sign_decode(&attempt, back_hash, body.data, TLY_SET_SIGN_BYTES),
	             TLY_EFORMAT, "attempt out of range");
	tly_buf_fini(&body);
}

/* A SET_CERT body: attempt 1, set {2, 5, 7}, votes by `voters`. */
static void
cert_body(struct tly_buf *body, const uint32_t *voters, uint32_t count)
{
	uint32_t set_ids[3] = {2, 5, 7};
	struct tly_signature_entry entries[TLY_MAX_COMMITTEE + 1];

	memset(entries, 0, sizeof entries);
	for (uint32_t i = 0; i < count; i++) {
		entries[i].id = voters[i];
		memset(entries[i].signature, (int)i + 1, TLY_SIGNATURE_BYTES);
	}
	tly_buf_put_u32(body, 1);
	tly_buf_put_u32(body, 3);
	for (int i = 0; i < 3; i++)
		tly_buf_put_u32(body, set_ids[i]);
	tly_buf_put_u32(body, count);
	for (uint32_t i = 0; i < count; i++) {
		tly_buf_put_u32(body, entries[i].id);
		tly_buf_put_bytes(body, entries[i].signature, TLY_SIGNATURE_BYTES);
	}
}

Test(codec, set_cert_round_trips_and_refuses_malformations)
{
	uint32_t voters[3] = {1, 3, 4};
	struct tly_set_cert cert, again;
	struct tly_buf body, back;

	tly_buf_init(&body);
	tly_buf_init(&back);
	cert_body(&body, voters, 3);
	cr_assert_eq(tly_set_cert_decode(&cert, body.data, body.len), TLY_OK);
	cr_assert_eq(cert.attempt, 1);
	cr_assert_eq(cert.set.count, 3);
	cr_assert_eq(cert.set.ids[1], 5);
	cr_assert_eq(cert.votes.count, 3);
	cr_assert_eq(cert.votes.entries[2].id, 4);
	cr_assert_eq(cert.votes.entries[2].signature[0], 3);
	/* encode(decode(b)) == b */
	cr_assert_eq(tly_set_cert_encode(&back, &cert), TLY_OK);
	cr_assert_eq(back.len, body.len);
	cr_assert_arr_eq(back.data, body.data, body.len);
	cr_assert_eq(tly_set_cert_decode(&again, back.data, back.len), TLY_OK);
	tly_set_cert_fini(&again);

	/* Truncated anywhere, or a trailing byte. */
	for (size_t cut = 0; cut < body.len; cut++)
		cr_assert_eq(tly_set_cert_decode(&again, body.data, cut), TLY_EFORMAT, "cut %zu",
		             cut);
	tly_buf_put_u8(&body, 0);
	cr_assert_eq(tly_set_cert_decode(&again, body.data, body.len), TLY_EFORMAT, "trailing");

	/* Voters out of order, or the same voter twice. */
	uint32_t unsorted[3] = {3, 1, 4}, twice[3] = {1, 3, 3};
	tly_buf_reset(&body);
	cert_body(&body, unsorted, 3);
	cr_assert_eq(tly_set_cert_decode(&again, body.data, body.len), TLY_EFORMAT, "unsorted");
	tly_buf_reset(&body);
	cert_body(&body, twice, 3);
	cr_assert_eq(tly_set_cert_decode(&again, body.data, body.len), TLY_EFORMAT, "duplicate");
	/* No votes, or more than a committee. */
	tly_buf_reset(&body);
	cert_body(&body, voters, 0);
	cr_assert_eq(tly_set_cert_decode(&again, body.data, body.len), TLY_EFORMAT, "no votes");
	uint32_t many[TLY_MAX_COMMITTEE + 1];
	for (uint32_t i = 0; i <= TLY_MAX_COMMITTEE; i++)
		many[i] = i + 1;
	tly_buf_reset(&body);
	cert_body(&body, many, TLY_MAX_COMMITTEE + 1);
	cr_assert_eq(tly_set_cert_decode(&again, body.data, body.len), TLY_EFORMAT, "over cap");
	/* The set's own rules: attempt range, ids increasing. */
	tly_buf_reset(&body);
	cert_body(&body, voters, 3);
	body.data[3] = TLY_MAX_ANNOUNCE_ATTEMPTS;
	cr_assert_eq(tly_set_cert_decode(&again, body.data, body.len), TLY_EFORMAT, "attempt");
	body.data[3] = 1;
	body.data[15] = 9; /* set {2, 9, 7} */
	cr_assert_eq(tly_set_cert_decode(&again, body.data, body.len), TLY_EFORMAT, "set order");
	/* The encoder refuses what the decoder would. */
	cert.votes.count = 0;
	tly_buf_reset(&back);
	cr_assert_eq(tly_set_cert_encode(&back, &cert), TLY_EINVAL);
	cert.votes.count = 3;
	cert.votes.entries[1].id = 1;
	cr_assert_eq(tly_set_cert_encode(&back, &cert), TLY_EINVAL);
	tly_set_cert_fini(&cert);
	tly_buf_fini(&back);
	tly_buf_fini(&body);
}

/* SHARE's two forms: exactly 8d + 16 bytes is whole, exactly 49 bytes with
 * first byte TLY_SHARE_SEEDED is seeded; every other length and form byte
 * is refused, and nothing is written then. */
Test(codec, share_forms_exact_lengths)
{
	uint8_t body[8 * 7 + TLY_AEAD_TAG_BYTES + 1] = {TLY_SHARE_SEEDED};
	const uint8_t *cipher = NULL;
	size_t cipher_len = 0;
	enum tly_share_form form = 0;

	cr_assert_eq(tly_share_body_bytes(TLY_SHARE_WHOLE, 7), 8 * 7 + TLY_AEAD_TAG_BYTES);
	cr_assert_eq(tly_share_body_bytes(TLY_SHARE_SEEDED, 7), 49);
	cr_assert_eq(tly_share_form_decode(&form, &cipher, &cipher_len, body, 49, 7), TLY_OK);
	cr_assert_eq(form, TLY_SHARE_SEEDED);
	cr_assert_eq(cipher, body + 1);
	cr_assert_eq(cipher_len, TLY_SHARE_SEED_BYTES + TLY_AEAD_TAG_BYTES);
	cr_assert_eq(tly_share_form_decode(&form, &cipher, &cipher_len, body, 72, 7), TLY_OK);
	cr_assert_eq(form, TLY_SHARE_WHOLE);
	cr_assert_eq(cipher, body);
	cr_assert_eq(cipher_len, 72);
	/* d = 4: a whole share is 48 bytes, one short of a seeded one. */
	cr_assert_eq(tly_share_form_decode(&form, &cipher, &cipher_len, body, 48, 4), TLY_OK);
	cr_assert_eq(form, TLY_SHARE_WHOLE);

	form = 0;
	cipher = NULL;
	cipher_len = 0;
	for (size_t len = 0; len < sizeof body; len++) {
		if (len == 49 || len == 72)
			continue;
		cr_assert_eq(tly_share_form_decode(&form, &cipher, &cipher_len, body, len, 7),
		             TLY_EFORMAT, "length %zu", len);
	}
	for (unsigned byte = 0; byte < 256; byte++) {
		if (byte == TLY_SHARE_SEEDED)
			continue;
		body[0] = (uint8_t)byte;
		cr_assert_eq(tly_share_form_decode(&form, &cipher, &cipher_len, body, 49, 7),
		             TLY_EFORMAT, "form byte %u", byte);
	}
	body[0] = TLY_SHARE_SEEDED;
	cr_assert_eq(tly_share_form_decode(&form, &cipher, &cipher_len, body, 49, 0), TLY_EFORMAT);
	cr_assert_eq(
	    tly_share_form_decode(&form, &cipher, &cipher_len, body, 49, (size_t)TLY_MAX_CELLS + 1),
	    TLY_EFORMAT);
	cr_assert_eq(form, 0, "nothing written on failure");
	cr_assert_null(cipher);
	cr_assert_eq(cipher_len, 0);
}
