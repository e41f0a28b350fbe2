#include "digest.h"

#include <openssl/evp.h>

tly_err
tly_digest_sha256(uint8_t out[static TLY_DIGEST_BYTES], const struct tly_digest_part *parts,
                  size_t count)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int out_len = 0;
	tly_err rv = TLY_ECRYPTO;

	if (ctx == NULL)
		return TLY_ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	for (size_t i = 0; i < count; i++)
		if (parts[i].len > 0 && EVP_DigestUpdate(ctx, parts[i].data, parts[i].len) != 1)
			goto out;
	if (EVP_DigestFinal_ex(ctx, out, &out_len) != 1 || out_len != TLY_DIGEST_BYTES)
		goto out;
	rv = TLY_OK;
out:
	EVP_MD_CTX_free(ctx);
	return rv;
}
