/*
 * Fuzz the field decoders: the wire form of a vector (tly_field_vec_load)
 * and the centred decoding of whatever it accepts. Every accepted vector
 * must store back to the same bytes (canonical encoding) and decode to
 * values inside [-HALF, HALF] that encode back to the same elements.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/field.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t d = size / TLY_FIELD_ELEMENT_BYTES;
	uint64_t *v = malloc(d * sizeof *v + 1);
	uint8_t *back = malloc(size + 1);
	int64_t *values = malloc(d * sizeof *values + 1);

	if (v == NULL || back == NULL || values == NULL)
		abort();
	if (tly_field_vec_load(v, data, d) == TLY_OK) {
		tly_field_vec_store(back, v, d);
		if (memcmp(back, data, d * TLY_FIELD_ELEMENT_BYTES) != 0)
			abort();
		if (tly_field_vec_check(v, d) != TLY_OK)
			abort();
		size_t bad;
		if (tly_field_vec_decode_signed(values, v, d, &bad) != TLY_OK)
			abort();
		uint64_t again;
		for (size_t i = 0; i < d; i++)
			if (tly_field_encode_signed(values[i], &again) != TLY_OK || again != v[i])
				abort();
	}
	free(v);
	free(back);
	free(values);
	return 0;
}
