#include "prg.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "ct.h"
#include "field.h"
#include "kdf.h"
#include "wipe.h"

/*
 * Keystream is made a chunk at a time into a buffer inside the generator
 * and consumed from there: 16 KiB keeps the chunk in L1/L2 between the
 * cipher writing it and the field loop reading it (LIMITS.md measured
 * chunked expansion 8-12% faster than two passes over the whole vector).
 */
enum {
	CHUNK_BYTES = 8192,
	CHUNK_WORDS = CHUNK_BYTES / 8,
	OKM_BYTES = 48,
	AES_KEY_BYTES = 16,
	AES_IV_BYTES = 16,
	CHACHA_BLOCK_BYTES = 64,
};

_Static_assert(CHUNK_BYTES % CHACHA_BLOCK_BYTES == 0, "whole ChaCha20 blocks per chunk");
_Static_assert(crypto_stream_chacha20_ietf_KEYBYTES + crypto_stream_chacha20_ietf_NONCEBYTES <=
                   OKM_BYTES,
               "ChaCha20 key and nonce fit in the derived bytes");

enum unit { UNIT_NONE, UNIT_BYTES, UNIT_ELEMENTS };

struct tly_prg {
	enum tly_prg_alg alg;
	enum unit unit;      /* fixed by the first call */
	uint64_t remaining;  /* of `length`, in `unit` */
	EVP_CIPHER_CTX *aes; /* AES-128-CTR state (key schedule, counter) */
	uint8_t chacha_key[crypto_stream_chacha20_ietf_KEYBYTES];
	uint8_t chacha_nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
	uint64_t chacha_block; /* next 64-byte block counter, < 2^32 */
	size_t pos;            /* next unread byte of chunk */
	uint8_t chunk[CHUNK_BYTES];
};

static const uint8_t zeros[CHUNK_BYTES];

const char *
tly_prg_alg_name(enum tly_prg_alg alg)
{
	switch (alg) {
	case TLY_PRG_AES128CTR:
		return "aes128ctr";
	case TLY_PRG_CHACHA20:
		return "chacha20";
	}
	return "unknown";
}

static tly_err
derive(uint8_t okm[static OKM_BYTES], enum tly_prg_alg alg, const uint8_t *seed,
       const struct tly_prg_context *ctx)
{
	static const uint8_t salt[] = "tally/prg/v1";
	uint8_t info[1 + 1 + TLY_PRG_PURPOSE_MAX + 2 + TLY_PRG_SESSION_MAX + 8];
	size_t purpose_len, n = 0;

	if (ctx == NULL || ctx->purpose == NULL)
		return TLY_EINVAL;
	purpose_len = strnlen(ctx->purpose, TLY_PRG_PURPOSE_MAX + 1);
	if (purpose_len == 0 || purpose_len > TLY_PRG_PURPOSE_MAX ||
	    ctx->session_len > TLY_PRG_SESSION_MAX ||
	    (ctx->session == NULL && ctx->session_len > 0))
		return TLY_EINVAL;

	info[n++] = (uint8_t)alg;
	info[n++] = (uint8_t)purpose_len;
	memcpy(info + n, ctx->purpose, purpose_len);
	n += purpose_len;
	info[n++] = (uint8_t)(ctx->session_len >> 8);
	info[n++] = (uint8_t)ctx->session_len;
	if (ctx->session_len > 0)
		memcpy(info + n, ctx->session, ctx->session_len);
	n += ctx->session_len;
	for (int shift = 56; shift >= 0; shift -= 8)
		info[n++] = (uint8_t)(ctx->length >> shift);
	return tly_hkdf(okm, OKM_BYTES, salt, sizeof salt - 1, seed, TLY_PRG_SEED_BYTES, info, n);
}

tly_err
tly_prg_alloc(struct tly_prg **out, enum tly_prg_alg alg,
              const uint8_t seed[static TLY_PRG_SEED_BYTES], const struct tly_prg_context *ctx)
{
	uint8_t okm[OKM_BYTES];
	struct tly_prg *prg = NULL;
	tly_err rv = TLY_EINVAL;

	if (alg != TLY_PRG_AES128CTR && alg != TLY_PRG_CHACHA20)
		goto out;
	rv = derive(okm, alg, seed, ctx);
	if (rv != TLY_OK)
		goto out;
	rv = TLY_ENOMEM;
	prg = calloc(1, sizeof *prg);
	if (prg == NULL)
		goto out;
	prg->alg = alg;
	prg->remaining = ctx->length;
	prg->pos = CHUNK_BYTES; /* empty */
	if (alg == TLY_PRG_AES128CTR) {
		prg->aes = EVP_CIPHER_CTX_new();
		if (prg->aes == NULL)
			goto out;
		rv = TLY_ECRYPTO;
		/* The initial counter block is derived from the seed only so that
		 * no IV has to be managed; CTR mode's security does not rest on
		 * its secrecy (the key does that), and OpenSSL's CTR loop branches
		 * on the counter when its low 32 bits wrap. It is public for
		 * the constant-time check (crypto/ct.h); the key stays secret. */
		TLY_CT_DECLASSIFY(okm + AES_KEY_BYTES, AES_IV_BYTES);
		if (EVP_EncryptInit_ex(prg->aes, EVP_aes_128_ctr(), NULL, okm,
		                       okm + AES_KEY_BYTES) != 1)
			goto out;
	} else {
		memcpy(prg->chacha_key, okm, sizeof prg->chacha_key);
		memcpy(prg->chacha_nonce, okm + sizeof prg->chacha_key, sizeof prg->chacha_nonce);
	}
	*out = prg;
	prg = NULL;
	rv = TLY_OK;
out:
	tly_prg_free(prg);
	TLY_WIPE_OBJ(okm);
	return rv;
}

void
tly_prg_free(struct tly_prg *prg)
{
	if (prg == NULL)
		return;
	EVP_CIPHER_CTX_free(prg->aes); /* cleanses the key schedule */
	TLY_WIPE(prg, sizeof *prg);
	free(prg);
}

/* Make the next chunk of keystream. */
static tly_err
refill(struct tly_prg *prg)
{
	int written = 0;

	if (prg->alg == TLY_PRG_AES128CTR) {
		if (EVP_EncryptUpdate(prg->aes, prg->chunk, &written, zeros, CHUNK_BYTES) != 1 ||
		    written != CHUNK_BYTES)
			return TLY_ECRYPTO;
	} else {
		/* The IETF block counter is 32 bits: 256 GiB per key. */
		if (prg->chacha_block + CHUNK_BYTES / CHACHA_BLOCK_BYTES > (uint64_t)UINT32_MAX + 1)
			return TLY_ERANGE;
		crypto_stream_chacha20_ietf_xor_ic(prg->chunk, zeros, CHUNK_BYTES,
		                                   prg->chacha_nonce, (uint32_t)prg->chacha_block,
		                                   prg->chacha_key);
		prg->chacha_block += CHUNK_BYTES / CHACHA_BLOCK_BYTES;
	}
	prg->pos = 0;
	return TLY_OK;
}

/* Charge `count` units against the key's length. */
static tly_err
charge(struct tly_prg *prg, enum unit unit, uint64_t count)
{
	if (prg->unit != UNIT_NONE && prg->unit != unit)
		return TLY_EINVAL;
	if (count > prg->remaining)
		return TLY_ERANGE;
	prg->unit = unit;
	prg->remaining -= count;
	return TLY_OK;
}

tly_err
tly_prg_bytes(struct tly_prg *prg, uint8_t *out, size_t len)
{
	tly_err rv = charge(prg, UNIT_BYTES, len);

	while (rv == TLY_OK && len > 0) {
		if (prg->pos == CHUNK_BYTES && (rv = refill(prg)) != TLY_OK)
			break;
		size_t take = CHUNK_BYTES - prg->pos < len ? CHUNK_BYTES - prg->pos : len;
		memcpy(out, prg->chunk + prg->pos, take);
		prg->pos += take;
		out += take;
		len -= take;
	}
	return rv;
}

static inline uint64_t
load_le64(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof x);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

enum op { OP_STORE, OP_ADD, OP_SUB };

/*
 * Apply `words` keystream words to v in one pass, each masked to 61 bits.
 * Returns nonzero when some masked word equals p and must be rejected
 * (probability about words * 2^-61). A word equal to p acts as 0 under
 * tly_field_add and tly_field_sub, so the caller can undo the pass exactly
 * by applying the inverse operation to the same words.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
static uint64_t
apply(enum op op, uint64_t *restrict v, const uint8_t *restrict bytes, size_t words)
{
	uint64_t hit = 0;

	/* op is the same for every word: -O3 unswitches the loop into one
	 * branch-free loop per op, which it vectorises. */
	for (size_t i = 0; i < words; i++) {
		uint64_t x = load_le64(bytes + 8 * i) & TLY_FIELD_P;
		hit |= x + 1; /* bit 61 set iff x == p */
		v[i] = op == OP_STORE ? x
		       : op == OP_ADD ? tly_field_add(v[i], x)
		                      : tly_field_sub(v[i], x);
	}
	return hit >> TLY_FIELD_BITS;
}

static enum op
inverse(enum op op)
{
	return op == OP_ADD ? OP_SUB : op == OP_SUB ? OP_ADD : OP_STORE;
}

static tly_err
expand(struct tly_prg *prg, enum op op, uint64_t *v, size_t d)
{
	tly_err rv = charge(prg, UNIT_ELEMENTS, d);
	size_t done = 0;

	while (rv == TLY_OK && done < d) {
		if (prg->pos + 8 > CHUNK_BYTES && (rv = refill(prg)) != TLY_OK)
			break;
		const uint8_t *bytes = prg->chunk + prg->pos;
		size_t words = (CHUNK_BYTES - prg->pos) / 8;
		if (words > d - done)
			words = d - done;
		/*
		 * The one branch on keystream: whether a run holds a word equal
		 * to p, probability below 2^-51 per run of at most 1024 words.
		 * A rejected word is discarded and the accepted ones are i.i.d.
		 * uniform on [0, p) whatever the rejected positions were, so the
		 * positions (all that the time taken reveals) say nothing about
		 * the mask, and by the PRF security of the cipher nothing about
		 * the seed. A branch-free alternative would have to compact the
		 * run (a secret-dependent shift of every later word): slower on
		 * every call to hide an event that almost never happens. So this
		 * bit, and in the rare path each word's rejection, are public
		 * (crypto/ct.h).
		 */
		if (tly_ct_public(apply(op, v + done, bytes, words)) == 0) {
			done += words;
			prg->pos += 8 * words;
			continue;
		}
		/* Rare: undo the run, then go one word at a time, skipping p. */
		(void)apply(inverse(op), v + done, bytes, words);
		uint64_t x = load_le64(bytes) & TLY_FIELD_P;
		prg->pos += 8;
		if (!tly_ct_public(x == TLY_FIELD_P)) {
			(void)apply(op, v + done, bytes, 1);
			done++;
		}
	}
	return rv;
}

tly_err
tly_prg_field(struct tly_prg *prg, uint64_t *out, size_t d)
{
	return expand(prg, OP_STORE, out, d);
}

tly_err
tly_prg_field_add(struct tly_prg *prg, uint64_t *acc, size_t d)
{
	return expand(prg, OP_ADD, acc, d);
}

tly_err
tly_prg_field_sub(struct tly_prg *prg, uint64_t *acc, size_t d)
{
	return expand(prg, OP_SUB, acc, d);
}

tly_err
tly_prg_stream_xor(enum tly_prg_alg alg, uint8_t *out, const uint8_t *in, size_t len,
                   const uint8_t *key, const uint8_t *iv, uint32_t counter)
{
	EVP_CIPHER_CTX *ctx;
	tly_err rv = TLY_ECRYPTO;
	int written;

	switch (alg) {
	case TLY_PRG_CHACHA20:
		if ((uint64_t)counter + (len + CHACHA_BLOCK_BYTES - 1) / CHACHA_BLOCK_BYTES >
		    (uint64_t)UINT32_MAX + 1)
			return TLY_ERANGE;
		crypto_stream_chacha20_ietf_xor_ic(out, in, len, iv, counter, key);
		return TLY_OK;
	case TLY_PRG_AES128CTR:
		if (counter != 0 || len > INT32_MAX)
			return TLY_EINVAL;
		ctx = EVP_CIPHER_CTX_new();
		if (ctx == NULL)
			return TLY_ENOMEM;
		if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, key, iv) == 1 &&
		    EVP_EncryptUpdate(ctx, out, &written, in, (int)len) == 1 &&
		    (size_t)written == len)
			rv = TLY_OK;
		EVP_CIPHER_CTX_free(ctx);
		return rv;
	}
	return TLY_EINVAL;
}
