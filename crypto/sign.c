#include "sign.h"

#include <string.h>

#include <sodium.h>

#include "wipe.h"

_Static_assert(TLY_SIGN_PUBLIC_BYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key");
_Static_assert(TLY_SIGN_SEED_BYTES == crypto_sign_SEEDBYTES, "Ed25519 seed");
_Static_assert(TLY_SIGN_BYTES == crypto_sign_BYTES, "Ed25519 signature");

struct tly_sign_key {
	uint8_t secret[crypto_sign_SECRETKEYBYTES]; /* seed || public key */
	uint8_t public[crypto_sign_PUBLICKEYBYTES];
};

tly_err
tly_sign_key_alloc(struct tly_sign_key **out, const uint8_t seed[TLY_SIGN_SEED_BYTES])
{
	uint8_t fresh[TLY_SIGN_SEED_BYTES];
	struct tly_sign_key *key = sodium_malloc(sizeof *key);

	if (key == NULL)
		return TLY_ENOMEM;
	if (seed == NULL) {
		randombytes_buf(fresh, sizeof fresh);
		seed = fresh;
	}
	crypto_sign_seed_keypair(key->public, key->secret, seed);
	TLY_WIPE_OBJ(fresh);
	*out = key;
	return TLY_OK;
}

void
tly_sign_key_free(struct tly_sign_key *key)
{
	/* sodium_free wipes before it unmaps. */
	sodium_free(key);
}

void
tly_sign_key_public(const struct tly_sign_key *key, uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	memcpy(pk, key->public, TLY_SIGN_PUBLIC_BYTES);
}

void
tly_sign_key_seed(const struct tly_sign_key *key, uint8_t seed[static TLY_SIGN_SEED_BYTES])
{
	if (crypto_sign_ed25519_sk_to_seed(seed, key->secret) != 0)
		tly_misuse("Ed25519 seed extraction");
}

tly_err
tly_sign(uint8_t sig[static TLY_SIGN_BYTES], const struct tly_sign_key *key, const uint8_t *msg,
         size_t msg_len)
{
	if (crypto_sign_detached(sig, NULL, msg, msg_len, key->secret) != 0)
		return TLY_ECRYPTO;
	return TLY_OK;
}

tly_err
tly_sign_verify(const uint8_t sig[static TLY_SIGN_BYTES], const uint8_t *msg, size_t msg_len,
                const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	if (crypto_sign_verify_detached(sig, msg, msg_len, pk) != 0)
		return TLY_EAUTH;
	return TLY_OK;
}
