/*
 * sign.h - Ed25519 signatures (RFC 8032, pure Ed25519) through libsodium.
 *
 * A node's or coordinator's signing key is long-lived: struct tly_sign_key
 * lives in sodium_malloc memory (guard pages, locked, wiped on free).
 * Verification is strict (libsodium rejects non-canonical encodings and
 * small-order public keys).
 */
#ifndef TLY_SIGN_H
#define TLY_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
	TLY_SIGN_PUBLIC_BYTES = 32,
	TLY_SIGN_SEED_BYTES = 32,
	TLY_SIGN_BYTES = 64,
};

struct tly_sign_key;

/* A key from a 32-byte seed (the RFC 8032 secret key), or a fresh random
 * one when seed is NULL. *out owns sodium_malloc memory; free with
 * tly_sign_key_free. TLY_ENOMEM. */
TLY_MUST tly_err tly_sign_key_alloc(struct tly_sign_key **out,
                                    const uint8_t seed[TLY_SIGN_SEED_BYTES]);
void tly_sign_key_free(struct tly_sign_key *key);

/* Copy out the public key. */
void tly_sign_key_public(const struct tly_sign_key *key, uint8_t pk[static TLY_SIGN_PUBLIC_BYTES]);

/* Copy out the seed (to store the key); the caller wipes it. */
void tly_sign_key_seed(const struct tly_sign_key *key, uint8_t seed[static TLY_SIGN_SEED_BYTES]);

/* sig = Ed25519 signature of msg. */
TLY_MUST tly_err tly_sign(uint8_t sig[static TLY_SIGN_BYTES], const struct tly_sign_key *key,
                          const uint8_t *msg, size_t msg_len);

/* TLY_OK or TLY_EAUTH. */
TLY_MUST tly_err tly_sign_verify(const uint8_t sig[static TLY_SIGN_BYTES], const uint8_t *msg,
                                 size_t msg_len, const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES]);

#endif
