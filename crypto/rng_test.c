#include "rng_test.h"

#include <string.h>

#include "rng_impl.h"
#include "wipe.h"

void
tly_rng_init_seeded(struct tly_rng *rng, const uint8_t seed[static TLY_RNG_KEY_BYTES])
{
	tly_rng_start(rng, seed);
}

void
tly_rng_init_seeded_u64(struct tly_rng *rng, uint64_t n)
{
	uint8_t seed[TLY_RNG_KEY_BYTES] = {0};

	for (int i = 0; i < 8; i++)
		seed[TLY_RNG_KEY_BYTES - 1 - i] = (uint8_t)(n >> (8 * i));
	tly_rng_start(rng, seed);
	TLY_WIPE_OBJ(seed);
}
