/*
 * aead.h - authenticated encryption with associated data.
 *
 * Two algorithms, both with 32-byte keys and 16-byte tags:
 *   TLY_AEAD_AES256GCM          OpenSSL EVP, 12-byte nonce (the default)
 *   TLY_AEAD_XCHACHA20POLY1305  libsodium, 24-byte nonce
 * The default is AES-256-GCM because it measured ~3x faster than
 * XChaCha20-Poly1305 on the project's machines (AES-NI, VAES; see README
 * and bench/bench_crypto.c). With a 12-byte nonce it must never see the
 * same (key, nonce) twice: tally derives a fresh key per (query, round,
 * sender, recipient) with HKDF, so each key seals a handful of messages
 * under counter nonces. Callers that cannot promise that use XChaCha20
 * with random nonces.
 *
 * The protocol binds query id, round, sender and recipient in `ad`.
 * Ciphertext layout: ct || tag (pt_len + TLY_AEAD_TAG_BYTES bytes).
 * On failure, open wipes pt and returns TLY_EAUTH: nothing unauthenticated
 * is ever returned. Thread-safe: no state.
 */
#ifndef TLY_AEAD_H
#define TLY_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum tly_aead_alg {
	TLY_AEAD_AES256GCM = 1,
	TLY_AEAD_XCHACHA20POLY1305 = 2,
};

#define TLY_AEAD_DEFAULT TLY_AEAD_AES256GCM

enum {
	TLY_AEAD_KEY_BYTES = 32,
	TLY_AEAD_TAG_BYTES = 16,
	TLY_AEAD_NONCE_MAX = 24,
};

/* 12 or 24; 0 for an unknown algorithm. */
size_t tly_aead_nonce_bytes(enum tly_aead_alg alg);

/* ct must hold pt_len + TLY_AEAD_TAG_BYTES bytes and must not overlap pt.
 * TLY_EINVAL for an unknown algorithm or a length over INT_MAX. */
TLY_MUST tly_err tly_aead_seal(enum tly_aead_alg alg, uint8_t *ct, const uint8_t *pt, size_t pt_len,
                               const uint8_t *ad, size_t ad_len, const uint8_t *nonce,
                               const uint8_t key[static TLY_AEAD_KEY_BYTES]);

/* pt must hold ct_len - TLY_AEAD_TAG_BYTES bytes. TLY_EAUTH on any
 * mismatch (key, nonce, ad, ciphertext or tag), TLY_EINVAL when ct_len is
 * shorter than a tag. */
TLY_MUST tly_err tly_aead_open(enum tly_aead_alg alg, uint8_t *pt, const uint8_t *ct, size_t ct_len,
                               const uint8_t *ad, size_t ad_len, const uint8_t *nonce,
                               const uint8_t key[static TLY_AEAD_KEY_BYTES]);

#endif
