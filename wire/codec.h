/*
 * codec.h - the canonical wire codec of messages.h: signed envelopes, and
 * one encoder and one decoder per body type.
 *
 * Receiving a message is two steps, cheap before expensive:
 *   tly_msg_open  header, exact length, known type and its round, sender in
 *                 the roster, then the Ed25519 signature. The body is
 *                 borrowed from the input buffer, which must outlive it.
 *   tly_*_decode  the body's exact layout, caps, ordering, and every field
 *                 element < p.
 * A valid signature does not make a body well formed: participants hold
 * valid keys, so every decoder checks everything anyway.
 *
 * Decoders that return lists allocate them only after the exact length has
 * been checked against the count, so a peer's count never sizes an
 * allocation by itself. Vectors of field elements are decoded into arrays
 * the caller sized from the query (never from the peer).
 *
 * Freshness (another query, a finished round, a second message from the
 * same sender) is the state machines' job: they know the round.
 */
#ifndef TLY_CODEC_H
#define TLY_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "wire/buf.h"
#include "wire/messages.h"
#include "wire/outbox.h"
#include "wire/party.h"

/* The header of a message; for sealing, and as decoded by open. */
struct tly_msg_header {
	enum tly_msg_type type;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	uint32_t sender;
	uint32_t recipient;
};

/* A received, authenticated message. Pointers borrow the input buffer. */
struct tly_msg {
	struct tly_msg_header header;
	uint32_t round;
	const uint8_t *raw_header; /* TLY_HEADER_BYTES: the AEAD associated data */
	const uint8_t *body;
	size_t body_len;
	const uint8_t *signature;
};

/* The round of a type (messages.h), or -1 for an unknown type. */
int tly_msg_round(enum tly_msg_type type);

/* Build a signed message: header || body || tly_msg_sign's signature.
 * The round comes from the type. out is reset first. TLY_EINVAL for an
 * unknown type or an oversized body, TLY_ENOMEM, TLY_ECRYPTO. */
TLY_MUST tly_err tly_msg_seal(struct tly_buf *out, const struct tly_msg_header *header,
                              const uint8_t *body, size_t body_len, const struct tly_sign_key *key);

/* Seal a message (tly_msg_seal) and append it to box addressed to `to`;
 * on failure nothing is appended. */
TLY_MUST tly_err tly_msg_seal_to(struct tly_outbox *box, uint32_t to,
                                 const struct tly_msg_header *header, const uint8_t *body,
                                 size_t body_len, const struct tly_sign_key *key);

/* Parse the header and lengths only: no signature check. For routing by
 * a relay, never for acting on a message. TLY_EFORMAT. */
TLY_MUST tly_err tly_msg_peek(const uint8_t *buf, size_t len, struct tly_msg *out);

/* Parse and authenticate (see above). TLY_EFORMAT for any malformation,
 * TLY_EPEER when the sender is not in the roster (or claims to be the
 * coordinator for a type only nodes send, or a node for a type only the
 * coordinator sends), TLY_EAUTH for a bad signature. */
TLY_MUST tly_err tly_msg_open(const uint8_t *buf, size_t len, const struct tly_roster *roster,
                              struct tly_msg *out);

/* The cheap checks on a message for one query, before its signature:
 * header and lengths (tly_msg_peek, TLY_EFORMAT), this query (TLY_EREPLAY
 * otherwise). */
TLY_MUST tly_err tly_msg_peek_for(const uint8_t *msg, size_t len,
                                  const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                  struct tly_msg *out);

/*
 * What a message signature covers (docs/PROTOCOL.md, "Message
 * signatures"): not the message's bytes but their digest
 *
 *   digest = SHA-256( u8 len(D) || D || header || body ),
 *   D = TLY_MSG_SIGNATURE_DOMAIN ("tally/message-signature/v1", 26 bytes),
 *
 * where header is the 36 raw header bytes (they hold body_len, so the
 * split is unambiguous), and signature = Ed25519(sender's key, digest):
 * Ed25519 then hashes 32 bytes, not the whole share, twice to sign and
 * once to verify, and the share is hashed once, by SHA-256 (crypto/digest.h
 * says why SHA-256). TLY_ENOMEM, TLY_ECRYPTO; out is written on success.
 */
TLY_MUST tly_err tly_msg_digest(uint8_t out[static TLY_MSG_DIGEST_BYTES],
                                const uint8_t raw_header[static TLY_HEADER_BYTES],
                                const uint8_t *body, size_t body_len);

/* THE check of a message signature, wherever it is checked: in
 * tly_msg_open, and on every signature forwarded inside another message
 * (KEY_LIST, SIGNATURE_LIST, SET_CERT) through tly_msg_verify_header.
 * TLY_EFORMAT when raw_header's body_len is not body_len, TLY_EAUTH when
 * the signature is not pk's over tly_msg_digest (or its errors). */
TLY_MUST tly_err tly_msg_verify(const uint8_t raw_header[static TLY_HEADER_BYTES],
                                const uint8_t *body, size_t body_len,
                                const uint8_t signature[static TLY_SIGNATURE_BYTES],
                                const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES]);

/* Verify a signature another party made on a message that is not at hand
 * (forwarded signatures): re-create its raw header from `header` and
 * body_len, then tly_msg_verify. TLY_EINVAL for an unknown type or an
 * oversized body, TLY_EAUTH. */
TLY_MUST tly_err tly_msg_verify_header(const struct tly_msg_header *header, const uint8_t *body,
                                       size_t body_len,
                                       const uint8_t signature[static TLY_SIGNATURE_BYTES],
                                       const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES]);

/* The signature tly_msg_seal appends, alone (for tests that forge
 * forwarded signatures). TLY_EINVAL as tly_msg_verify_header, TLY_ECRYPTO. */
TLY_MUST tly_err tly_msg_sign(uint8_t signature[static TLY_SIGNATURE_BYTES],
                              const struct tly_msg_header *header, const uint8_t *body,
                              size_t body_len, const struct tly_sign_key *key);

/* BLAKE2b-256 over a domain label and bytes: the project's hash for
 * everything but message signatures (tly_msg_digest). */
void tly_hash(uint8_t out[static TLY_HASH_BYTES], const char *domain, const uint8_t *data,
              size_t len);

/* ---- id lists: ANNOUNCE, COMPLAINT, SHARE_SET, SURVIVORS ---- */

struct tly_idlist {
	uint32_t count;
	uint32_t *ids; /* strictly increasing */
};

void tly_idlist_fini(struct tly_idlist *list);
/* The hash that SHARE_SUM and CONSISTENCY carry:
 * BLAKE2b-256("tally/set/v1" || query_id || count || ids). */
void tly_idlist_hash(uint8_t out[static TLY_HASH_BYTES],
                     const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                     const struct tly_idlist *list);
/* Position of id in ids[0..count), strictly increasing, or -1 (binary
 * search, O(log count)): the one search of every sorted id array. */
long tly_ids_find(const uint32_t *ids, size_t count, uint32_t id);
/* Position of id in the list, or -1. */
long tly_idlist_find(const struct tly_idlist *list, uint32_t id);
/* Nonzero when id is in the list. */
int tly_idlist_contains(const struct tly_idlist *list, uint32_t id);
/* Nonzero when every id of the list is in the roster. */
int tly_idlist_in_roster(const struct tly_idlist *list, const struct tly_roster *roster);

/* ---- QUERY ---- */

struct tly_query {
	uint8_t query_hash[TLY_HASH_BYTES];
	uint8_t protocol;  /* enum tly_protocol */
	uint8_t mechanism; /* enum tly_mechanism */
	uint16_t quorum;   /* committee: q, votes a set needs; masking: 0 */
	uint32_t cells;
	uint64_t privacy_num, privacy_den;
	uint64_t sensitivity_l1, sensitivity_l2sq;
	uint32_t min_honest;
	uint32_t min_contributors;
	uint16_t threshold;
	uint16_t degree;
	uint32_t deadline_ms;
	struct tly_idlist participants;
	struct tly_idlist committee;
	char *spec_json; /* canonical query JSON, NUL-terminated; NULL when
	                    spec_len is 0. Owned by the struct after decode
	                    (tly_query_fini frees it); borrowed for encode. */
	uint32_t spec_len;
	/* Trailing section: the transparency log's commitment to this query
	 * (store/head.h layout, decoded and checked by the node), or none
	 * (length 0: protocol-level tests only; nodes refuse it). Owned
	 * after decode, borrowed for encode, like spec_json. */
	uint8_t *log_commit;
	uint32_t log_commit_len;
};

void tly_query_fini(struct tly_query *q);
/* A deep copy of src into *out (its own lists, spec and log commitment:
 * fini it with tly_query_fini), for a party that keeps a query it did not
 * decode itself. TLY_ENOMEM, *out untouched. */
TLY_MUST tly_err tly_query_copy(struct tly_query *out, const struct tly_query *src);
/* Appends the body to out. TLY_EINVAL when the query breaks a rule the
 * decoder enforces (so nothing undecodable is ever sent). */
TLY_MUST tly_err tly_query_encode(struct tly_buf *out, const struct tly_query *q);
/* Checks: protocol and mechanism known; 1 <= cells <= TLY_MAX_CELLS;
 * privacy_den > 0 unless mechanism NONE (then both 0); 1 <= participants <=
 * TLY_MAX_PARTIES; committee: 1 <= threshold <= quorum <= degree = committee
 * count <= TLY_MAX_COMMITTEE; masking: no committee, quorum 0,
 * 1 <= threshold <= participants;
 * 1 <= min_honest <= participants; lists increasing, ids in 1..MAX;
 * spec_len <= TLY_QUERY_SPEC_MAX with no NUL byte inside, and when
 * nonzero query_hash = tly_hash("tally/query/v1", spec);
 * log_commit_len <= TLY_QUERY_LOG_MAX (its contents are store/'s). */
TLY_MUST tly_err tly_query_decode(struct tly_query *out, const uint8_t *body, size_t len);

/* Open a QUERY message addressed to `self` (or to all), check the
 * coordinator's signature against the roster and decode it; the protocol
 * modules add their own rules on top. On success *q (fini it) and
 * query_id are written. Errors: those of tly_msg_open and
 * tly_query_decode; TLY_ESTATE when the message is not a QUERY; TLY_EPEER
 * when it is addressed to another party. */
TLY_MUST tly_err tly_query_read(const struct tly_roster *roster, uint32_t self, const uint8_t *msg,
                                size_t len, uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                struct tly_query *q);

/* A protocol's own rules for a decoded query (tly_committee_query_check,
 * tly_secagg_query_check). */
typedef tly_err (*tly_query_check_fn)(const struct tly_query *q, const struct tly_roster *roster);

/* tly_query_read, then `check`: the one reader behind
 * tly_committee_read_query and tly_secagg_read_query (their headers give
 * the contract). On failure nothing is written and nothing is owned. */
TLY_MUST tly_err tly_query_read_checked(const struct tly_roster *roster, uint32_t self,
                                        const uint8_t *msg, size_t len, tly_query_check_fn check,
                                        uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                        struct tly_query *q);

/* ---- small bodies ---- */

TLY_MUST tly_err tly_abort_encode(struct tly_buf *out, uint32_t reason);
TLY_MUST tly_err tly_abort_decode(uint32_t *reason, const uint8_t *body, size_t len);

/* ANNOUNCE and COMPLAINT share this layout: attempt, id list. */
TLY_MUST tly_err tly_attempt_list_encode(struct tly_buf *out, uint32_t attempt,
                                         const struct tly_idlist *list);
TLY_MUST tly_err tly_attempt_list_decode(uint32_t *attempt, struct tly_idlist *list,
                                         const uint8_t *body, size_t len);

/* SHARE_SET and SURVIVORS: an id list alone. */
TLY_MUST tly_err tly_idlist_encode(struct tly_buf *out, const struct tly_idlist *list);
TLY_MUST tly_err tly_idlist_decode(struct tly_idlist *list, const uint8_t *body, size_t len);

/* ---- SHARE: the two forms ---- */

/* The exact body length of a SHARE of `form` for d cells: 8d + 16 whole,
 * TLY_SHARE_SEEDED_BODY_BYTES seeded. */
size_t tly_share_body_bytes(enum tly_share_form form, size_t d);

/*
 * The form of a SHARE body for d cells (1..TLY_MAX_CELLS), and where its
 * ciphertext starts (*cipher: into body; *cipher_len: its length, the
 * plaintext's plus TLY_AEAD_TAG_BYTES). TLY_EFORMAT unless the body is
 * exactly 8d + 16 bytes (whole) or exactly TLY_SHARE_SEEDED_BODY_BYTES with
 * first byte TLY_SHARE_SEEDED (seeded). Outputs written only on success.
 */
TLY_MUST tly_err tly_share_form_decode(enum tly_share_form *form, const uint8_t **cipher,
                                       size_t *cipher_len, const uint8_t *body, size_t len,
                                       size_t d);

/* ---- vectors: SHARE_SUM and MASKED_INPUT ---- */

TLY_MUST tly_err tly_share_sum_encode(struct tly_buf *out, uint32_t attempt,
                                      const uint8_t set_hash[static TLY_HASH_BYTES],
                                      const uint64_t *elements, size_t d);
/* d from the query; elements has room for d. TLY_EFORMAT unless the body is
 * exactly 4 + 32 + 8d bytes; TLY_ERANGE for an element >= p. */
TLY_MUST tly_err tly_share_sum_decode(uint32_t *attempt, uint8_t set_hash[static TLY_HASH_BYTES],
                                      uint64_t *elements, size_t d, const uint8_t *body,
                                      size_t len);

TLY_MUST tly_err tly_vector_encode(struct tly_buf *out, const uint64_t *elements, size_t d);
TLY_MUST tly_err tly_vector_decode(uint64_t *elements, size_t d, const uint8_t *body, size_t len);

/* ---- the agreement on one contributor set (committee) ---- */

/* SET_SIGN: attempt < TLY_MAX_ANNOUNCE_ATTEMPTS and the set's hash; exactly
 * TLY_SET_SIGN_BYTES, else TLY_EFORMAT. */
TLY_MUST tly_err tly_set_sign_encode(struct tly_buf *out, uint32_t attempt,
                                     const uint8_t set_hash[static TLY_HASH_BYTES]);
TLY_MUST tly_err tly_set_sign_decode(uint32_t *attempt, uint8_t set_hash[static TLY_HASH_BYTES],
                                     const uint8_t *body, size_t len);

/* ---- SecAgg bodies ---- */

struct tly_advertise {
	uint8_t mask_pk[TLY_KX_PUBLIC_BYTES];
	uint8_t secret_pk[TLY_KX_PUBLIC_BYTES];
};
TLY_MUST tly_err tly_advertise_encode(struct tly_buf *out, const struct tly_advertise *a);
TLY_MUST tly_err tly_advertise_decode(struct tly_advertise *a, const uint8_t *body, size_t len);

/* KEY_LIST, SIGNATURE_LIST (also SET_CERT's votes) and UNMASK: a count,
 * then that many entries, ids strictly increasing from 1 (the encoders
 * refuse anything else), one layout and one decoder for the three
 * (codec.c). Decode allocates; fini frees (NULL or a zeroed list is fine);
 * tly_unmask_fini also wipes the shares. */
struct tly_key_entry {
	uint32_t id;
	struct tly_advertise keys;
	uint8_t signature[TLY_SIGNATURE_BYTES]; /* over that client's ADVERTISE */
};
struct tly_key_list {
	uint32_t count;
	struct tly_key_entry *entries;
};
struct tly_signature_entry {
	uint32_t id;
	uint8_t signature[TLY_SIGNATURE_BYTES]; /* over that client's CONSISTENCY */
};
struct tly_signature_list {
	uint32_t count;
	struct tly_signature_entry *entries;
};
struct tly_unmask_entry {
	uint32_t id;
	uint8_t kind; /* enum tly_unmask_kind */
	uint8_t share[TLY_SHAMIR_SECRET_SHARE_BYTES];
};
struct tly_unmask {
	uint32_t count;
	struct tly_unmask_entry *entries;
};
void tly_key_list_fini(struct tly_key_list *list);
void tly_signature_list_fini(struct tly_signature_list *list);
void tly_unmask_fini(struct tly_unmask *u);
TLY_MUST tly_err tly_key_list_encode(struct tly_buf *out, const struct tly_key_list *list);
TLY_MUST tly_err tly_signature_list_encode(struct tly_buf *out,
                                           const struct tly_signature_list *list);
TLY_MUST tly_err tly_unmask_encode(struct tly_buf *out, const struct tly_unmask *u);
TLY_MUST tly_err tly_key_list_decode(struct tly_key_list *list, const uint8_t *body, size_t len);
TLY_MUST tly_err tly_signature_list_decode(struct tly_signature_list *list, const uint8_t *body,
                                           size_t len);
TLY_MUST tly_err tly_unmask_decode(struct tly_unmask *u, const uint8_t *body, size_t len);

/* SET_CERT: an announced set and the members' votes for it. The decoder
 * checks the layout only (attempt < TLY_MAX_ANNOUNCE_ATTEMPTS, set and
 * voter ids strictly increasing, 1..TLY_MAX_COMMITTEE votes, exact length);
 * whose votes they are and whether they verify is the member's check
 * (committee.h). Decode allocates: fini. */
struct tly_set_cert {
	uint32_t attempt;
	struct tly_idlist set;
	struct tly_signature_list votes; /* each over that member's SET_SIGN */
};
void tly_set_cert_fini(struct tly_set_cert *cert);
TLY_MUST tly_err tly_set_cert_encode(struct tly_buf *out, const struct tly_set_cert *cert);
TLY_MUST tly_err tly_set_cert_decode(struct tly_set_cert *cert, const uint8_t *body, size_t len);

/* REFUSAL: reason and a one-line text (truncated to TLY_REFUSAL_TEXT_MAX;
 * the decoder refuses NUL bytes, wrong lengths). */
TLY_MUST tly_err tly_refusal_encode(struct tly_buf *out, uint32_t reason, const char *text);
TLY_MUST tly_err tly_refusal_decode(uint32_t *reason, char text[static TLY_REFUSAL_TEXT_MAX + 1],
                                    const uint8_t *body, size_t len);

/* CONSISTENCY: set_hash alone. KEY_SHARE and SHARE: a ciphertext alone,
 * exact length given by the caller (TLY_KEY_SHARE_CIPHER_BYTES, 8d + 16). */
TLY_MUST tly_err tly_fixed_decode(const uint8_t **view, size_t expected, const uint8_t *body,
                                  size_t len);

/* ---- end-to-end encryption of shares (SHARE, KEY_SHARE) ---- */

/*
 * Seal `plain` from one X25519 key pair to a peer's public key under the
 * message header `raw_header` (committee SHARE: the parties' long-term kx
 * keys from the roster; SecAgg KEY_SHARE: the per-query mask keys c_u):
 *   key = HKDF-SHA256(salt "tally/envelope/v1",
 *                     ikm  tly_kx_agree(my_sk, my_pk, peer_pk, "tally/envelope"),
 *                     info the 36 header bytes)
 *   ct  = AES-256-GCM(key, nonce 0, ad = the 36 header bytes, plain)
 * The header carries query id, type, round, sender and recipient, and each
 * (query, type, sender, recipient) sends one message, so each key seals
 * exactly one plaintext and the fixed nonce is never reused. body receives
 * plain_len + TLY_AEAD_TAG_BYTES bytes. raw_header must be the exact 36
 * bytes that will be sent (tly_msg_raw_header, with the final body_len).
 * TLY_ELOWORDER for a bad peer key; TLY_ENOMEM.
 */
TLY_MUST tly_err tly_envelope_seal(struct tly_buf *body,
                                   const uint8_t my_sk[static TLY_KX_SECRET_BYTES],
                                   const uint8_t my_pk[static TLY_KX_PUBLIC_BYTES],
                                   const uint8_t peer_pk[static TLY_KX_PUBLIC_BYTES],
                                   const uint8_t raw_header[static TLY_HEADER_BYTES],
                                   const uint8_t *plain, size_t plain_len);

/* Open an envelope from the peer (the message's sender). plain has room for
 * ct_len - TLY_AEAD_TAG_BYTES; on TLY_EAUTH it is left wiped. */
TLY_MUST tly_err tly_envelope_open(uint8_t *plain, const uint8_t my_sk[static TLY_KX_SECRET_BYTES],
                                   const uint8_t my_pk[static TLY_KX_PUBLIC_BYTES],
                                   const uint8_t peer_pk[static TLY_KX_PUBLIC_BYTES],
                                   const uint8_t raw_header[static TLY_HEADER_BYTES],
                                   const uint8_t *ct, size_t ct_len);

/*
 * The same envelopes from a secret agreed once per pair of key pairs:
 * shared = tly_kx_agree(my_sk, my_pk, peer_pk, "tally/envelope"), which is
 * the same at both ends, so one X25519 serves every envelope between two
 * keys, both ways (SecAgg: u's KEY_SHARE to v and v's to u). The HKDF over
 * each header still gives each message its own key. Byte for byte what
 * tly_envelope_seal and tly_envelope_open make and take. shared is secret:
 * the caller wipes it. TLY_ELOWORDER (agree) for a bad peer key.
 */
TLY_MUST tly_err tly_envelope_agree(uint8_t shared[static TLY_KX_SHARED_BYTES],
                                    const uint8_t my_sk[static TLY_KX_SECRET_BYTES],
                                    const uint8_t my_pk[static TLY_KX_PUBLIC_BYTES],
                                    const uint8_t peer_pk[static TLY_KX_PUBLIC_BYTES]);
TLY_MUST tly_err tly_envelope_seal_agreed(struct tly_buf *body,
                                          const uint8_t shared[static TLY_KX_SHARED_BYTES],
                                          const uint8_t raw_header[static TLY_HEADER_BYTES],
                                          const uint8_t *plain, size_t plain_len);
TLY_MUST tly_err tly_envelope_open_agreed(uint8_t *plain,
                                          const uint8_t shared[static TLY_KX_SHARED_BYTES],
                                          const uint8_t raw_header[static TLY_HEADER_BYTES],
                                          const uint8_t *ct, size_t ct_len);

/* The 36 header bytes a message with this header and body length will
 * carry (to seal an envelope before the message exists). */
void tly_msg_raw_header(uint8_t out[static TLY_HEADER_BYTES], const struct tly_msg_header *header,
                        uint32_t body_len);

#endif
