/*
 * Fuzz the API guard's TLS record scan (net/guard.h), which reads
 * bytes from any client on the API port. Properties: the stream fed in
 * any split gives the same answer as fed whole; once done (1) it stays
 * done; a refusal (-1) comes only from a bad header; the scan never reads
 * past what it is given (ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tly_guard_scan whole = {0}, split = {0};
	int expect, got = 0;
	size_t at = 0, step;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 7 + 1; /* the first byte picks the split */
	data++;
	size--;
	expect = tly_guard_scan_feed(&whole, data, size);
	while (at < size) {
		size_t n = size - at < step ? size - at : step;
		uint8_t *copy = malloc(n); /* exact size: ASan sees any overread */
		if (copy == NULL)
			return 0;
		memcpy(copy, data + at, n);
		got = tly_guard_scan_feed(&split, copy, n);
		free(copy);
		at += n;
		if (got != 0)
			break;
	}
	if (got != expect)
		abort();
	if (got == 1 && tly_guard_scan_feed(&split, (const uint8_t *)"", 0) != 1)
		abort();
	return 0;
}
