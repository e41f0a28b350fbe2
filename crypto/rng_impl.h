/* rng_impl.h - internals of rng.c shared with rng_test.c only. */
#ifndef TLY_RNG_IMPL_H
#define TLY_RNG_IMPL_H

#include "rng.h"

/* Start rng from key (copied; the caller wipes its copy). */
void tly_rng_start(struct tly_rng *rng, const uint8_t key[static TLY_RNG_KEY_BYTES]);

#endif
