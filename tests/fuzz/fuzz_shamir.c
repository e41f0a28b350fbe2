/*
 * Fuzz Shamir reconstruction with shares and indices from the wire.
 *
 * Input: t (1 byte), count (1 byte), flags (1 byte: bit 0 = indices are
 * 8 bytes, else 2), count big-endian indices, then share bytes. The share
 * bytes are read twice: as count vectors of d elements (d = what fits, at
 * most MAX_D), loaded with tly_field_vec_load like a real receiver, and as
 * count 32-byte-secret shares of TLY_SHAMIR_SECRET_SHARE_BYTES (cycled when
 * the input is short).
 *
 * Checks besides "never crash": errors are the documented ones in the
 * documented order, out stays untouched (secret path) or zeroed (vector
 * path) on failure, raw unchecked words give the same answer as loaded
 * ones or TLY_ERANGE, and whatever reconstructs, re-shared at the same
 * indices, reconstructs to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/field.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "crypto/shamir.h"

enum { MAX_COUNT = 255, MAX_D = 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	unsigned t;
	size_t count;
	uint64_t xs[MAX_COUNT];
	const uint8_t *rest;
	size_t rest_len;
};

static int
parse(const uint8_t *data, size_t size, struct input *in)
{
	size_t width, max_count;

	if (size < 3)
		return -1;
	in->t = data[0];
	width = (data[2] & 1) ? 8 : 2;
	max_count = (size - 3) / width;
	in->count = data[1] < max_count ? data[1] : max_count;
	for (size_t i = 0; i < in->count; i++) {
		uint64_t x = 0;
		for (size_t b = 0; b < width; b++)
			x = (x << 8) | data[3 + i * width + b];
		in->xs[i] = x;
	}
	in->rest = data + 3 + in->count * width;
	in->rest_len = size - 3 - in->count * width;
	return 0;
}

/* The errors that (t, count, xs) alone must give, or TLY_OK. */
static tly_err
expected_set_error(const struct input *in)
{
	if (in->t < 1 || in->t > TLY_SHAMIR_MAX_SHARES)
		return TLY_EINVAL;
	if (in->count < in->t)
		return TLY_ETOOFEW;
	for (size_t i = 0; i < in->count; i++)
		if (in->xs[i] == 0 || in->xs[i] > TLY_SHAMIR_MAX_SHARES)
			return TLY_ERANGE;
	for (size_t i = 0; i < in->count; i++)
		for (size_t j = i + 1; j < in->count; j++)
			if (in->xs[i] == in->xs[j])
				return TLY_EDUP;
	return TLY_OK;
}

static unsigned
largest_index(const uint64_t *xs, unsigned t)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < t; i++)
		n = xs[i] > n ? xs[i] : n;
	return (unsigned)n;
}

/* Re-share secret at t-of-n, n the largest index used, and reconstruct
 * from the same indices: must give secret back. */
static void
vector_reshare(const struct input *in, const uint64_t *secret, size_t d)
{
	unsigned n = largest_index(in->xs, in->t);
	uint64_t **shares = calloc(n, sizeof *shares);
	const uint64_t *picked[MAX_COUNT];
	uint64_t back[MAX_D];
	struct tly_rng rng;

	if (shares == NULL)
		abort();
	for (unsigned i = 0; i < n; i++)
		if ((shares[i] = malloc(MAX_D * sizeof(uint64_t))) == NULL)
			abort();
	tly_rng_init_seeded_u64(&rng, d);
	if (tly_shamir_share(&rng, secret, d, in->t, n, shares) != TLY_OK)
		abort();
	for (unsigned i = 0; i < in->t; i++)
		picked[i] = shares[in->xs[i] - 1];
	if (tly_shamir_reconstruct(in->xs, picked, in->t, in->t, d, back) != TLY_OK ||
	    memcmp(back, secret, d * sizeof *back) != 0)
		abort();
	for (unsigned i = 0; i < n; i++)
		free(shares[i]);
	free(shares);
	tly_rng_fini(&rng);
}

static void
fuzz_vector(const struct input *in, tly_err set_error)
{
	size_t per_share = in->count > 0 ? in->rest_len / (in->count * 8) : 0;
	size_t d = per_share < MAX_D ? per_share : MAX_D;
	uint64_t loaded[MAX_COUNT][MAX_D], raw[MAX_COUNT][MAX_D];
	const uint64_t *loaded_rows[MAX_COUNT], *raw_rows[MAX_COUNT];
	uint64_t out[MAX_D], out_raw[MAX_D];
	int all_loaded = 1;
	tly_err rv, rv_raw;

	for (size_t i = 0; i < in->count; i++) {
		const uint8_t *bytes = in->rest + i * d * 8;
		if (tly_field_vec_load(loaded[i], bytes, d) != TLY_OK)
			all_loaded = 0;
		for (size_t k = 0; k < d; k++) {
			raw[i][k] = 0;
			for (size_t b = 0; b < 8; b++)
				raw[i][k] = (raw[i][k] << 8) | bytes[8 * k + b];
		}
		loaded_rows[i] = loaded[i];
		raw_rows[i] = raw[i];
	}

	memset(out_raw, 0xee, sizeof out_raw);
	rv_raw = tly_shamir_reconstruct(in->xs, raw_rows, in->count, in->t, d, out_raw);
	if (set_error != TLY_OK) {
		if (rv_raw != set_error || out_raw[0] != UINT64_C(0xeeeeeeeeeeeeeeee))
			abort();
		return;
	}
	if (rv_raw == TLY_ERANGE) {
		for (size_t k = 0; k < d; k++)
			if (out_raw[k] != 0)
				abort();
	} else if (rv_raw != TLY_OK) {
		abort();
	}
	if (!all_loaded)
		return; /* a real receiver stops at the failed load */
	rv = tly_shamir_reconstruct(in->xs, loaded_rows, in->count, in->t, d, out);
	if (rv != TLY_OK || rv_raw != TLY_OK || memcmp(out, out_raw, d * sizeof *out) != 0)
		abort();
	if (tly_field_vec_check(out, d) != TLY_OK)
		abort();
	vector_reshare(in, out, d);
}

static void
secret_reshare(const struct input *in, const uint8_t secret[TLY_SHAMIR_SECRET_BYTES])
{
	unsigned n = largest_index(in->xs, in->t);
	uint8_t(*bytes)[TLY_SHAMIR_SECRET_SHARE_BYTES] = malloc(n * sizeof *bytes);
	uint8_t **shares = calloc(n, sizeof *shares);
	const uint8_t *picked[MAX_COUNT];
	uint8_t back[TLY_SHAMIR_SECRET_BYTES];
	struct tly_rng rng;

	if (bytes == NULL || shares == NULL)
		abort();
	for (unsigned i = 0; i < n; i++)
		shares[i] = bytes[i];
	tly_rng_init_seeded_u64(&rng, n);
	if (tly_shamir_secret_share(&rng, secret, in->t, n, shares) != TLY_OK)
		abort();
	for (unsigned i = 0; i < in->t; i++)
		picked[i] = shares[in->xs[i] - 1];
	if (tly_shamir_secret_reconstruct(in->xs, picked, in->t, in->t, back) != TLY_OK ||
	    memcmp(back, secret, sizeof back) != 0)
		abort();
	free(shares);
	free(bytes);
	tly_rng_fini(&rng);
}

static void
fuzz_secret(const struct input *in, tly_err set_error)
{
	static uint8_t bytes[MAX_COUNT][TLY_SHAMIR_SECRET_SHARE_BYTES];
	const uint8_t *rows[MAX_COUNT];
	uint8_t out[TLY_SHAMIR_SECRET_BYTES], untouched[TLY_SHAMIR_SECRET_BYTES];
	tly_err rv;

	for (size_t i = 0; i < in->count; i++) {
		for (size_t b = 0; b < TLY_SHAMIR_SECRET_SHARE_BYTES; b++) {
			size_t at = i * TLY_SHAMIR_SECRET_SHARE_BYTES + b;
			bytes[i][b] = in->rest_len > 0 ? in->rest[at % in->rest_len] : 0;
		}
		rows[i] = bytes[i];
	}
	memset(out, 0xee, sizeof out);
	memcpy(untouched, out, sizeof out);
	rv = tly_shamir_secret_reconstruct(in->xs, rows, in->count, in->t, out);
	if (set_error != TLY_OK) {
		if (rv != set_error)
			abort();
	} else if (rv != TLY_OK && rv != TLY_ERANGE && rv != TLY_EFORMAT) {
		abort();
	}
	if (rv != TLY_OK) {
		if (memcmp(out, untouched, sizeof out) != 0)
			abort();
		return;
	}
	secret_reshare(in, out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct input in;

	if (!initialised) {
		if (tly_crypto_init() != TLY_OK)
			abort();
		initialised = 1;
	}
	if (parse(data, size, &in) != 0)
		return 0;
	tly_err set_error = expected_set_error(&in);
	fuzz_vector(&in, set_error);
	fuzz_secret(&in, set_error);
	return 0;
}
