#include "kdf.h"

#include <string.h>

#include <sodium.h>

#include "wipe.h"

_Static_assert(TLY_KDF_HASH_BYTES == crypto_auth_hmacsha256_BYTES, "HKDF over HMAC-SHA256");

void
tly_hkdf_extract(uint8_t prk[static TLY_KDF_HASH_BYTES], const uint8_t *salt, size_t salt_len,
                 const uint8_t *ikm, size_t ikm_len)
{
	static const uint8_t zero_salt[TLY_KDF_HASH_BYTES];
	crypto_auth_hmacsha256_state state;

	if (salt_len == 0) {
		salt = zero_salt;
		salt_len = sizeof zero_salt;
	}
	crypto_auth_hmacsha256_init(&state, salt, salt_len);
	crypto_auth_hmacsha256_update(&state, ikm, ikm_len);
	crypto_auth_hmacsha256_final(&state, prk);
	TLY_WIPE_OBJ(state);
}

tly_err
tly_hkdf_expand(uint8_t *out, size_t out_len, const uint8_t prk[static TLY_KDF_HASH_BYTES],
                const uint8_t *info, size_t info_len)
{
	crypto_auth_hmacsha256_state state;
	uint8_t block[TLY_KDF_HASH_BYTES];
	size_t done = 0;

	if (out_len > TLY_KDF_MAX_OUT)
		return TLY_EINVAL;
	/* T(i) = HMAC(prk, T(i-1) || info || i), i = 1..N */
	for (uint8_t counter = 1; done < out_len; counter++) {
		crypto_auth_hmacsha256_init(&state, prk, TLY_KDF_HASH_BYTES);
		if (counter > 1)
			crypto_auth_hmacsha256_update(&state, block, sizeof block);
		if (info_len > 0)
			crypto_auth_hmacsha256_update(&state, info, info_len);
		crypto_auth_hmacsha256_update(&state, &counter, 1);
		crypto_auth_hmacsha256_final(&state, block);
		size_t take = out_len - done < sizeof block ? out_len - done : sizeof block;
		memcpy(out + done, block, take);
		done += take;
	}
	TLY_WIPE_OBJ(state);
	TLY_WIPE_OBJ(block);
	return TLY_OK;
}

tly_err
tly_hkdf(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
         size_t ikm_len, const uint8_t *info, size_t info_len)
{
	uint8_t prk[TLY_KDF_HASH_BYTES];

	if (out_len > TLY_KDF_MAX_OUT)
		return TLY_EINVAL;
	tly_hkdf_extract(prk, salt, salt_len, ikm, ikm_len);
	tly_err rv = tly_hkdf_expand(out, out_len, prk, info, info_len);
	TLY_WIPE_OBJ(prk);
	return rv;
}
