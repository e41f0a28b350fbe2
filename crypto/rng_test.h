/*
 * rng_test.h - deterministic seeding of a struct tly_rng, for tests and
 * benchmarks only.
 *
 * The same seed gives the same stream, so statistical tests run at fixed
 * seeds and reproduce. This function lives in its own object file
 * (rng_test.c); the daemons never call it, so the static linker never pulls
 * it in, and `make check-no-test-rng` proves that with nm. No
 * configuration, flag or environment variable reaches it.
 */
#ifndef TLY_RNG_TEST_H
#define TLY_RNG_TEST_H

#include "rng.h"

void tly_rng_init_seeded(struct tly_rng *rng, const uint8_t seed[static TLY_RNG_KEY_BYTES]);

/* The same, from a small integer: seed = 0...0 || be64(n). */
void tly_rng_init_seeded_u64(struct tly_rng *rng, uint64_t n);

#endif
