/*
 * rng.h - the cryptographically secure random source of every sampler,
 * share and key in tally.
 *
 * A struct tly_rng is a fast-key-erasure generator (as in OpenBSD's
 * arc4random and Bernstein's "fast-key-erasure RNGs"): ChaCha20 under a
 * 32-byte key fills a buffer whose first 32 bytes become the next key, and
 * every byte is wiped from the buffer as it is handed out. A compromise of
 * the state therefore reveals nothing already returned.
 *
 * tly_rng_init keys it from the operating system (libsodium's
 * randombytes_buf, i.e. getrandom). The deterministic mode used by tests
 * and benchmarks lives apart, in rng_test.h: nothing in the daemons links
 * it, so no configuration can switch it on.
 *
 * Thread safety: one struct tly_rng per thread; none is shared.
 */
#ifndef TLY_RNG_H
#define TLY_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
	TLY_RNG_KEY_BYTES = 32,
	TLY_RNG_BUFFER_BYTES = 1024,
};

struct tly_rng {
	uint8_t key[TLY_RNG_KEY_BYTES];
	uint8_t buffer[TLY_RNG_BUFFER_BYTES];
	size_t available; /* unread bytes at the end of buffer */
	int initialised;
};

/* Key rng from the operating system's CSPRNG. Cannot fail once
 * sodium_init has succeeded (tly_crypto_init does that). */
void tly_rng_init(struct tly_rng *rng);

/* Wipe the whole state. Accepts zeroed memory. */
void tly_rng_fini(struct tly_rng *rng);

/* Fill out with len random bytes. */
void tly_rng_bytes(struct tly_rng *rng, void *out, size_t len);

/* A uniform 64-bit word. */
uint64_t tly_rng_u64(struct tly_rng *rng);

/* Uniform on [0, bound) without modulo bias (rejection on the smallest
 * covering power of two: fewer than 2 words expected). bound > 0. */
uint64_t tly_rng_uniform(struct tly_rng *rng, uint64_t bound);

/* d elements uniform on F_p (p = 2^61 - 1, see field.h), without bias:
 * each is a 61-bit word, rejected if it equals p. For bulk secret
 * randomness (Shamir coefficients); masks use the keyed PRG instead. */
void tly_rng_field(struct tly_rng *rng, uint64_t *out, size_t d);

/* One fair bit. */
int tly_rng_bit(struct tly_rng *rng);

/* sodium_init and the checks that libsodium and OpenSSL are usable.
 * Call once per process before anything else in crypto/. */
TLY_MUST tly_err tly_crypto_init(void);

#endif
