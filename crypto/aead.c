#include "aead.h"

#include <limits.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "ct.h"
#include "wipe.h"

_Static_assert(TLY_AEAD_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(TLY_AEAD_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(TLY_AEAD_NONCE_MAX == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");

enum { GCM_NONCE_BYTES = 12 };

size_t
tly_aead_nonce_bytes(enum tly_aead_alg alg)
{
	switch (alg) {
	case TLY_AEAD_AES256GCM:
		return GCM_NONCE_BYTES;
	case TLY_AEAD_XCHACHA20POLY1305:
		return crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	}
	return 0;
}

/* One GCM pass. encrypt: out = E(in), tag written; decrypt: out = D(in),
 * tag checked (TLY_EAUTH). */
static tly_err
gcm(int encrypt, uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len,
    const uint8_t *nonce, const uint8_t *key, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	tly_err rv = TLY_ECRYPTO;
	int n;

	if (ctx == NULL)
		return TLY_ENOMEM;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_BYTES, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt) != 1)
		goto out;
	if (ad_len > 0 && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!encrypt &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TLY_AEAD_TAG_BYTES, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
		rv = encrypt ? TLY_ECRYPTO : TLY_EAUTH;
		goto out;
	}
	if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TLY_AEAD_TAG_BYTES, tag) != 1)
		goto out;
	rv = TLY_OK;
out:
	EVP_CIPHER_CTX_free(ctx); /* OpenSSL cleanses the key schedule */
	return rv;
}

tly_err
tly_aead_seal(enum tly_aead_alg alg, uint8_t *ct, const uint8_t *pt, size_t pt_len,
              const uint8_t *ad, size_t ad_len, const uint8_t *nonce,
              const uint8_t key[static TLY_AEAD_KEY_BYTES])
{
	if (pt_len > INT_MAX - TLY_AEAD_TAG_BYTES || ad_len > INT_MAX)
		return TLY_EINVAL;
	switch (alg) {
	case TLY_AEAD_AES256GCM:
		return gcm(1, ct, pt, pt_len, ad, ad_len, nonce, key, ct + pt_len);
	case TLY_AEAD_XCHACHA20POLY1305:
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		    ct, ct + pt_len, NULL, pt, pt_len, ad, ad_len, NULL, nonce, key);
		return TLY_OK;
	}
	return TLY_EINVAL;
}

tly_err
tly_aead_open(enum tly_aead_alg alg, uint8_t *pt, const uint8_t *ct, size_t ct_len,
              const uint8_t *ad, size_t ad_len, const uint8_t *nonce,
              const uint8_t key[static TLY_AEAD_KEY_BYTES])
{
	uint8_t tag[TLY_AEAD_TAG_BYTES];
	tly_err rv = TLY_EINVAL;

	if (tly_aead_nonce_bytes(alg) == 0 || ct_len < TLY_AEAD_TAG_BYTES || ct_len > INT_MAX ||
	    ad_len > INT_MAX)
		return TLY_EINVAL;
	size_t pt_len = ct_len - TLY_AEAD_TAG_BYTES;
	memcpy(tag, ct + pt_len, sizeof tag);
	switch (alg) {
	case TLY_AEAD_AES256GCM:
		rv = gcm(0, pt, ct, pt_len, ad, ad_len, nonce, key, tag);
		break;
	case TLY_AEAD_XCHACHA20POLY1305:
		/* libsodium verifies the tag before it decrypts anything. */
		rv = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		         pt, NULL, ct, pt_len, tag, ad, ad_len, nonce, key) == 0
		         ? TLY_OK
		         : TLY_EAUTH;
		break;
	}
	/* Whether the ciphertext authenticates is public: the caller drops the
	 * message and reports the sender. The tags are compared in constant
	 * time (CRYPTO_memcmp, crypto_verify_16); only this verdict leaks. */
	rv = (tly_err)tly_ct_public((uint64_t)rv);
	if (rv != TLY_OK && pt_len > 0)
		TLY_WIPE(pt, pt_len); /* GCM decrypts before the tag is checked */
	return rv;
}
