/*
 * prg.h - keyed pseudo-random generator for mask vectors.
 *
 * A mask is expanded from a 32-byte seed (for instance an X25519-agreed
 * secret) and a context. The context is bound into the key derivation:
 *
 *   okm = HKDF-SHA256(salt = "tally/prg/v1" (12 bytes), ikm = seed,
 *                     info = alg(1) || len(purpose)(1) || purpose ||
 *                            len(session)(2, BE) || session || length(8, BE),
 *                     48 bytes)
 *   AES-128-CTR: key = okm[0:16], initial counter block = okm[16:32]
 *   ChaCha20:    key = okm[0:32], nonce = okm[32:44], block counter from 0
 *
 * (alg is the enum value below: 1 or 2.)
 *
 * so that two masks for different sessions, purposes, algorithms or vector
 * lengths are independent even under the same seed, and a mask cannot be
 * lengthened: a generator keyed for `length` elements refuses to produce
 * more (TLY_ERANGE).
 *
 * Algorithms: AES-128-CTR through OpenSSL's EVP (AES-NI/VAES where the CPU
 * has them) and ChaCha20 (IETF, 96-bit nonce) through libsodium. The
 * default is AES-128-CTR: on the project's machines it gives ~4x the
 * keystream rate of libsodium's ChaCha20 (bench/bench_crypto.c measures
 * both in every run; see README).
 *
 * Field elements are drawn without modulo bias: each 64-bit keystream word
 * (little-endian) is masked to 61 bits and rejected when it equals p.
 *
 * Thread safety: a struct tly_prg belongs to one thread.
 */
#ifndef TLY_PRG_H
#define TLY_PRG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum tly_prg_alg {
	TLY_PRG_AES128CTR = 1,
	TLY_PRG_CHACHA20 = 2,
};

#define TLY_PRG_DEFAULT TLY_PRG_AES128CTR

enum {
	TLY_PRG_SEED_BYTES = 32,
	TLY_PRG_PURPOSE_MAX = 64,
	TLY_PRG_SESSION_MAX = 256,
};

struct tly_prg_context {
	const char *purpose;    /* e.g. "pairwise-mask"; 1..TLY_PRG_PURPOSE_MAX bytes */
	const uint8_t *session; /* e.g. query id || round; may be NULL if session_len 0 */
	size_t session_len;     /* <= TLY_PRG_SESSION_MAX */
	uint64_t length;        /* elements (field) or bytes (raw) this key may produce */
};

struct tly_prg;

/*
 * Derive a generator. On success *out owns a heap object to be released
 * with tly_prg_free; on failure *out is untouched. TLY_EINVAL for a bad
 * algorithm or context; TLY_ENOMEM; TLY_ECRYPTO if OpenSSL fails.
 */
TLY_MUST tly_err tly_prg_alloc(struct tly_prg **out, enum tly_prg_alg alg,
                               const uint8_t seed[static TLY_PRG_SEED_BYTES],
                               const struct tly_prg_context *ctx);

/* Wipe and free. Accepts NULL. */
void tly_prg_free(struct tly_prg *prg);

/* Raw keystream bytes (counted against length in bytes). */
TLY_MUST tly_err tly_prg_bytes(struct tly_prg *prg, uint8_t *out, size_t len);

/* out[i] = next uniform element of F_p (counted against length in elements). */
TLY_MUST tly_err tly_prg_field(struct tly_prg *prg, uint64_t *out, size_t d);

/* acc[i] = acc[i] + mask[i]: the mask is never stored whole. */
TLY_MUST tly_err tly_prg_field_add(struct tly_prg *prg, uint64_t *acc, size_t d);

/* acc[i] = acc[i] - mask[i]. */
TLY_MUST tly_err tly_prg_field_sub(struct tly_prg *prg, uint64_t *acc, size_t d);

/*
 * The raw primitives under the generator, for known-answer tests:
 *   AES-128-CTR: key 16 bytes, iv the 16-byte initial counter block
 *                (incremented as one 128-bit big-endian integer), counter 0;
 *   ChaCha20:    key 32 bytes, iv the 12-byte nonce, counter the initial
 *                32-bit block counter (RFC 8439).
 * out = in XOR keystream; out may equal in. TLY_EINVAL for a bad algorithm
 * or a nonzero counter with AES.
 */
TLY_MUST tly_err tly_prg_stream_xor(enum tly_prg_alg alg, uint8_t *out, const uint8_t *in,
                                    size_t len, const uint8_t *key, const uint8_t *iv,
                                    uint32_t counter);

/* Name of an algorithm, e.g. "aes128ctr"; "unknown" otherwise. */
const char *tly_prg_alg_name(enum tly_prg_alg alg);

#endif
