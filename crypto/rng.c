#include "rng.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "ct.h"
#include "field.h"
#include "rng_impl.h"
#include "wipe.h"

_Static_assert(TLY_RNG_KEY_BYTES == crypto_stream_chacha20_KEYBYTES,
               "the rng key is a ChaCha20 key");
_Static_assert(TLY_RNG_BUFFER_BYTES > TLY_RNG_KEY_BYTES, "buffer holds the next key");

/* Generate a fresh block: the first 32 bytes replace the key at once, the
 * rest become output. The nonce can stay zero because no key is used twice. */
static void
refill(struct tly_rng *rng)
{
	static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];

	crypto_stream_chacha20(rng->buffer, sizeof rng->buffer, nonce, rng->key);
	memcpy(rng->key, rng->buffer, TLY_RNG_KEY_BYTES);
	TLY_WIPE(rng->buffer, TLY_RNG_KEY_BYTES);
	rng->available = TLY_RNG_BUFFER_BYTES - TLY_RNG_KEY_BYTES;
}

void
tly_rng_start(struct tly_rng *rng, const uint8_t key[static TLY_RNG_KEY_BYTES])
{
	memcpy(rng->key, key, TLY_RNG_KEY_BYTES);
	rng->available = 0;
	rng->initialised = 1;
}

void
tly_rng_init(struct tly_rng *rng)
{
	uint8_t key[TLY_RNG_KEY_BYTES];

	randombytes_buf(key, sizeof key);
	tly_rng_start(rng, key);
	TLY_WIPE_OBJ(key);
}

void
tly_rng_fini(struct tly_rng *rng)
{
	if (rng == NULL)
		return;
	TLY_WIPE(rng, sizeof *rng);
}

void
tly_rng_bytes(struct tly_rng *rng, void *out, size_t len)
{
	uint8_t *dst = out;

	TLY_REQUIRE(rng->initialised);
	while (len > 0) {
		if (rng->available == 0)
			refill(rng);
		size_t take = len < rng->available ? len : rng->available;
		uint8_t *src = rng->buffer + TLY_RNG_BUFFER_BYTES - rng->available;
		memcpy(dst, src, take);
		TLY_WIPE(src, take);
		rng->available -= take;
		dst += take;
		len -= take;
	}
}

uint64_t
tly_rng_u64(struct tly_rng *rng)
{
	uint8_t bytes[8];
	uint64_t word = 0;

	tly_rng_bytes(rng, bytes, sizeof bytes);
	for (int i = 0; i < 8; i++)
		word = (word << 8) | bytes[i];
	TLY_WIPE_OBJ(bytes);
	return word;
}

uint64_t
tly_rng_uniform(struct tly_rng *rng, uint64_t bound)
{
	TLY_REQUIRE(bound > 0);
	if (bound == 1)
		return 0;
	/* mask = 2^k - 1 for the smallest k with 2^k >= bound. */
	uint64_t mask = UINT64_MAX >> __builtin_clzll(bound - 1);
	for (;;) {
		uint64_t candidate = tly_rng_u64(rng) & mask;
		if (candidate < bound)
			return candidate;
	}
}

/*
 * Rejection of a word equal to p is the one place where the values drawn
 * decide control flow. It happens with probability 2^-61 per word, and a
 * rejected word is discarded: the accepted words are i.i.d. uniform on
 * [0, p) whichever positions were rejected, so the positions (all that the
 * time taken reveals) say nothing about the output. Each block is therefore
 * checked branch-free and only its one-bit verdict is made public
 * (crypto/ct.h); words are examined one by one only in a block that holds
 * a rejected word.
 */
void
tly_rng_field(struct tly_rng *rng, uint64_t *out, size_t d)
{
	uint64_t chunk[128];
	size_t filled = 0;

	while (filled < d) {
		size_t want = d - filled < 128 ? d - filled : 128;
		uint64_t hit = 0;

		tly_rng_bytes(rng, chunk, want * sizeof chunk[0]);
		for (size_t i = 0; i < want; i++) {
			uint64_t x = chunk[i] & TLY_FIELD_P;
			hit |= x + 1; /* bit 61 set iff x == p */
			out[filled + i] = x;
		}
		if (!tly_ct_public(hit >> TLY_FIELD_BITS)) {
			filled += want;
			continue;
		}
		for (size_t i = 0; i < want; i++) { /* probability about 2^-54 */
			uint64_t x = chunk[i] & TLY_FIELD_P;
			if (!tly_ct_public(x == TLY_FIELD_P))
				out[filled++] = x;
		}
	}
	TLY_WIPE_OBJ(chunk);
}

int
tly_rng_bit(struct tly_rng *rng)
{
	uint8_t byte;

	tly_rng_bytes(rng, &byte, 1);
	return byte & 1;
}

tly_err
tly_crypto_init(void)
{
	if (sodium_init() < 0)
		return TLY_ECRYPTO;
	if (OPENSSL_init_crypto(0, NULL) != 1)
		return TLY_ECRYPTO;
	return TLY_OK;
}
