#include "kx.h"

#include <string.h>

#include <sodium.h>

#include "ct.h"
#include "wipe.h"

_Static_assert(TLY_KX_PUBLIC_BYTES == crypto_scalarmult_BYTES, "X25519 public key");
_Static_assert(TLY_KX_SECRET_BYTES == crypto_scalarmult_SCALARBYTES, "X25519 scalar");
_Static_assert(TLY_KX_SHARED_BYTES <= crypto_generichash_BYTES_MAX, "BLAKE2b output");

void
tly_kx_keypair(uint8_t pk[static TLY_KX_PUBLIC_BYTES], uint8_t sk[static TLY_KX_SECRET_BYTES])
{
	randombytes_buf(sk, TLY_KX_SECRET_BYTES);
	/* The base point is never low order: cannot fail. */
	if (crypto_scalarmult_base(pk, sk) != 0)
		tly_misuse("X25519 base-point multiplication failed");
}

tly_err
tly_kx_public(uint8_t pk[static TLY_KX_PUBLIC_BYTES], const uint8_t sk[static TLY_KX_SECRET_BYTES])
{
	if (crypto_scalarmult_base(pk, sk) != 0)
		return TLY_ECRYPTO;
	return TLY_OK;
}

tly_err
tly_kx_x25519(uint8_t out[static TLY_KX_SHARED_BYTES],
              const uint8_t scalar[static TLY_KX_SECRET_BYTES],
              const uint8_t u[static TLY_KX_PUBLIC_BYTES])
{
	uint8_t shared[TLY_KX_SHARED_BYTES];
	tly_err rv = TLY_ELOWORDER;

	/* libsodium returns -1 for a small-order u (its blacklist) and for an
	 * all-zero result; check the result ourselves too, in constant time. */
	/* Both verdicts are public: for a point u of small order the product
	 * is the identity whatever the scalar, and for any other u it never
	 * is, so they depend on the public u alone. */
	int failed = crypto_scalarmult(shared, scalar, u);
	if (tly_ct_public((uint64_t)(failed != 0)))
		goto out;
	if (tly_ct_public((uint64_t)sodium_is_zero(shared, sizeof shared)))
		goto out;
	memcpy(out, shared, sizeof shared);
	rv = TLY_OK;
out:
	TLY_WIPE_OBJ(shared);
	return rv;
}

tly_err
tly_kx_agree(uint8_t out[static TLY_KX_SHARED_BYTES],
             const uint8_t my_sk[static TLY_KX_SECRET_BYTES],
             const uint8_t my_pk[static TLY_KX_PUBLIC_BYTES],
             const uint8_t peer_pk[static TLY_KX_PUBLIC_BYTES], const char *label)
{
	static const uint8_t domain[] = "tally/kx/v1";
	uint8_t shared[TLY_KX_SHARED_BYTES];
	crypto_generichash_state state;
	size_t label_len = label != NULL ? strnlen(label, TLY_KX_LABEL_MAX + 1) : 0;
	tly_err rv;

	if (label_len == 0 || label_len > TLY_KX_LABEL_MAX)
		return TLY_EINVAL;
	rv = tly_kx_x25519(shared, my_sk, peer_pk);
	if (rv != TLY_OK)
		goto out;

	/* Public keys in a fixed order so that both sides hash the same bytes;
	 * the label's length is hashed so that label boundaries are unambiguous. */
	const uint8_t *low = my_pk, *high = peer_pk;
	if (memcmp(my_pk, peer_pk, TLY_KX_PUBLIC_BYTES) > 0) {
		low = peer_pk;
		high = my_pk;
	}
	uint8_t label_byte = (uint8_t)label_len;
	crypto_generichash_init(&state, NULL, 0, TLY_KX_SHARED_BYTES);
	crypto_generichash_update(&state, domain, sizeof domain - 1);
	crypto_generichash_update(&state, shared, sizeof shared);
	crypto_generichash_update(&state, low, TLY_KX_PUBLIC_BYTES);
	crypto_generichash_update(&state, high, TLY_KX_PUBLIC_BYTES);
	crypto_generichash_update(&state, &label_byte, 1);
	crypto_generichash_update(&state, (const uint8_t *)label, label_len);
	crypto_generichash_final(&state, out, TLY_KX_SHARED_BYTES);
	rv = TLY_OK;
out:
	TLY_WIPE_OBJ(shared);
	TLY_WIPE_OBJ(state);
	return rv;
}
