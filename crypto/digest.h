/*
 * digest.h - SHA-256 (FIPS 180-4) of bytes given in parts, through
 * OpenSSL, for the digest every message signature covers
 * (wire/codec.h tly_msg_digest).
 *
 * Why not tally's BLAKE2b (libsodium) here: the digest of an 80 KB share
 * is on the path of every share signed and verified, and on x86 with the
 * SHA extensions OpenSSL's SHA-256 runs at about 1.6 GB/s against about
 * 0.6 GB/s for libsodium 1.0.18's BLAKE2b (49 us against 132 us for 80 KB
 * on the bench machines, CPU time). Without the SHA extensions OpenSSL's
 * SHA-256 is slower, about 0.4-0.5 GB/s; the rule is in the wire format,
 * so it cannot follow the CPU.
 */
#ifndef TLY_DIGEST_H
#define TLY_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum { TLY_DIGEST_BYTES = 32 };

/* One part of the hashed bytes; data may be NULL when len is 0. */
struct tly_digest_part {
	const void *data;
	size_t len;
};

/* out = SHA-256(parts[0] || ... || parts[count - 1]). TLY_ENOMEM,
 * TLY_ECRYPTO (OpenSSL failed); out is written only on success. */
TLY_MUST tly_err tly_digest_sha256(uint8_t out[static TLY_DIGEST_BYTES],
                                   const struct tly_digest_part *parts, size_t count);

#endif
