/*
 * kx.h - X25519 key agreement (RFC 7748) with a bound, hashed output.
 *
 * tly_kx_agree returns
 *
 *   BLAKE2b-256( "tally/kx/v1" || X25519(sk, peer) || pk_low || pk_high ||
 *               len(label) (one byte) || label )
 *
 * where pk_low and pk_high are the two public keys in lexicographic order,
 * so both sides get the same key, and a key agreed for one purpose is
 * useless for another. A peer public key of small order (the all-zero
 * shared secret) is refused with TLY_ELOWORDER.
 *
 * Secret keys are 32 bytes; callers keep long-lived ones in sodium_malloc
 * memory. Thread-safe: no state.
 */
#ifndef TLY_KX_H
#define TLY_KX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
	TLY_KX_PUBLIC_BYTES = 32,
	TLY_KX_SECRET_BYTES = 32,
	TLY_KX_SHARED_BYTES = 32,
	TLY_KX_LABEL_MAX = 64,
};

/* A fresh key pair from the system CSPRNG. */
void tly_kx_keypair(uint8_t pk[static TLY_KX_PUBLIC_BYTES], uint8_t sk[static TLY_KX_SECRET_BYTES]);

/* The public key of sk. */
TLY_MUST tly_err tly_kx_public(uint8_t pk[static TLY_KX_PUBLIC_BYTES],
                               const uint8_t sk[static TLY_KX_SECRET_BYTES]);

/* Raw X25519 (the RFC 7748 function): out = X25519(scalar, u).
 * TLY_ELOWORDER when the result is all zero; out is then untouched. */
TLY_MUST tly_err tly_kx_x25519(uint8_t out[static TLY_KX_SHARED_BYTES],
                               const uint8_t scalar[static TLY_KX_SECRET_BYTES],
                               const uint8_t u[static TLY_KX_PUBLIC_BYTES]);

/* The hashed, bound agreement above. label: 1..TLY_KX_LABEL_MAX bytes
 * (TLY_EINVAL otherwise). TLY_ELOWORDER for a low-order peer key. */
TLY_MUST tly_err tly_kx_agree(uint8_t out[static TLY_KX_SHARED_BYTES],
                              const uint8_t my_sk[static TLY_KX_SECRET_BYTES],
                              const uint8_t my_pk[static TLY_KX_PUBLIC_BYTES],
                              const uint8_t peer_pk[static TLY_KX_PUBLIC_BYTES], const char *label);

#endif
