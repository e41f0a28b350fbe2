/*
 * kdf.h - HKDF-SHA256 (RFC 5869), the one key-derivation function of tally.
 *
 * Built on libsodium's HMAC-SHA256 (libsodium 1.0.18 has no HKDF of its
 * own). Every derived key in tally binds its purpose and session through
 * `info`: see prg.h and kx.h for the layouts they use.
 */
#ifndef TLY_KDF_H
#define TLY_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
	TLY_KDF_HASH_BYTES = 32,
	TLY_KDF_MAX_OUT = 255 * TLY_KDF_HASH_BYTES, /* RFC 5869 limit */
};

/* HKDF-Extract: prk = HMAC(salt, ikm). salt may be NULL with salt_len 0
 * (then a string of 32 zero bytes is used, as the RFC says). */
void tly_hkdf_extract(uint8_t prk[static TLY_KDF_HASH_BYTES], const uint8_t *salt, size_t salt_len,
                      const uint8_t *ikm, size_t ikm_len);

/* HKDF-Expand. TLY_EINVAL when out_len > TLY_KDF_MAX_OUT. */
TLY_MUST tly_err tly_hkdf_expand(uint8_t *out, size_t out_len,
                                 const uint8_t prk[static TLY_KDF_HASH_BYTES], const uint8_t *info,
                                 size_t info_len);

/* Extract then expand; the intermediate prk is wiped. */
TLY_MUST tly_err tly_hkdf(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                          const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len);

#endif
