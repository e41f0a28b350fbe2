/*
 * party.h - who takes part: the public roster every party holds (ids and
 * public keys, from the coordinator's registry) and a party's own secret
 * identity.
 *
 * Each node has two long-term keys: Ed25519 for signing every message it
 * sends, and X25519 for the end-to-end encryption of the shares sent to it.
 * The coordinator has an Ed25519 key only. The roster pins all of them.
 */
#ifndef TLY_PARTY_H
#define TLY_PARTY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/kx.h"
#include "crypto/sign.h"

enum {
	/* Retired signing keys a registry may list for one node. */
	TLY_RETIRED_KEYS_MAX = 8,
};

/* A node's signing key is sign_pk. Keys it signed with before a rotation
 * are retired_sign_pk: they verify what the node signed in the past (its
 * ledger's older entries, its receipts in the transparency log) and are
 * never accepted for anything new (a handshake, a message, a receipt). */
struct tly_party {
	uint32_t id; /* 1..TLY_MAX_PARTY_ID */
	uint8_t sign_pk[TLY_SIGN_PUBLIC_BYTES];
	uint8_t kx_pk[TLY_KX_PUBLIC_BYTES];
	uint8_t retired_sign_pk[TLY_RETIRED_KEYS_MAX][TLY_SIGN_PUBLIC_BYTES];
	size_t retired_count;
};

enum tly_party_key {
	TLY_PARTY_KEY_NONE = 0,    /* not a key of this party */
	TLY_PARTY_KEY_CURRENT = 1, /* its sign_pk */
	TLY_PARTY_KEY_RETIRED = 2, /* one of its retired_sign_pk */
};

/* Whether pk is party's signing key, a retired one, or neither (constant
 * time in the key bytes). */
enum tly_party_key tly_party_sign_key(const struct tly_party *party,
                                      const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES]);

struct tly_roster {
	uint8_t coordinator_pk[TLY_SIGN_PUBLIC_BYTES];
	size_t count;
	struct tly_party *parties; /* sorted by id, ids unique */
};

/* Copy coordinator key and parties (any order) into roster, sorted.
 * TLY_EINVAL for an id of 0, above TLY_MAX_PARTY_ID, or repeated;
 * TLY_ENOMEM. */
TLY_MUST tly_err tly_roster_init(struct tly_roster *roster,
                                 const uint8_t coordinator_pk[static TLY_SIGN_PUBLIC_BYTES],
                                 const struct tly_party *parties, size_t count);
void tly_roster_fini(struct tly_roster *roster);

/* The party with this id, or NULL. O(log n). */
const struct tly_party *tly_roster_find(const struct tly_roster *roster, uint32_t id);

/* The Ed25519 key of a sender id (the coordinator for id 0), or NULL. */
const uint8_t *tly_roster_sign_pk(const struct tly_roster *roster, uint32_t id);

/* A party's own keys. Secret parts live in sodium_malloc memory. */
struct tly_identity {
	uint32_t id; /* TLY_PARTY_COORDINATOR for the coordinator */
	struct tly_sign_key *sign;
	uint8_t *kx_sk; /* TLY_KX_SECRET_BYTES, sodium_malloc; NULL for the coordinator */
	uint8_t kx_pk[TLY_KX_PUBLIC_BYTES];
};

/* Fresh random keys (kx keys only when with_kx). TLY_ENOMEM. */
TLY_MUST tly_err tly_identity_generate(struct tly_identity *self, uint32_t id, int with_kx);
/* From stored seeds (Ed25519 seed, X25519 secret or NULL). */
TLY_MUST tly_err tly_identity_load(struct tly_identity *self, uint32_t id,
                                   const uint8_t sign_seed[static TLY_SIGN_SEED_BYTES],
                                   const uint8_t *kx_sk);
void tly_identity_fini(struct tly_identity *self);

/* The public view of an identity, for building rosters. */
void tly_identity_public(const struct tly_identity *self, struct tly_party *out);

#endif
