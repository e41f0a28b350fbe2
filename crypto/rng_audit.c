#include "rng_audit.h"

#include <sodium.h>

#include "rng_impl.h"
#include "wipe.h"

void
tly_rng_init_audit(struct tly_rng *rng, uint64_t seed, uint64_t stream)
{
	static const char label[] = "tally/audit-dp/rng/v1";
	uint8_t input[sizeof label - 1 + 16], key[TLY_RNG_KEY_BYTES];

	for (size_t i = 0; i < sizeof label - 1; i++)
		input[i] = (uint8_t)label[i];
	for (int i = 0; i < 8; i++) {
		input[sizeof label - 1 + (size_t)i] = (uint8_t)(seed >> (56 - 8 * i));
		input[sizeof label - 1 + 8 + (size_t)i] = (uint8_t)(stream >> (56 - 8 * i));
	}
	crypto_generichash(key, sizeof key, input, sizeof input, NULL, 0);
	tly_rng_start(rng, key);
	TLY_WIPE_OBJ(key);
}
