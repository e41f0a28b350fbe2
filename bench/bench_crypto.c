/*
 * bench_crypto - the crypto core against its floors, as CSV on stdout.
 *
 *   PRG mask expansion into a field vector (tly_prg_field_add), beside the
 *   raw keystream of the same primitive driven the same way (16 KiB chunks);
 *   field-vector add beside memcpy of the same vector; AEAD seal throughput;
 *   X25519 and Ed25519 operations per second; Ed25519 on an 80 KB committee
 *   share (d = 10^4) signed and verified whole (the rule before issue 16)
 *   against via its message digest (tly_msg_digest, then Ed25519 over 32
 *   bytes: what tly_msg_seal and tly_msg_verify do), ratio digest / whole.
 *
 * Targets (issue "Foundation"): expansion >= 0.8 of raw keystream; field
 * add >= 0.5 of memcpy bandwidth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "bench/timing.h"
#include "crypto/aead.h"
#include "crypto/field.h"
#include "crypto/kx.h"
#include "crypto/prg.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "wire/codec.h"

enum { D = 1000000, CHUNK = 16384, REPS = 9 };

static uint8_t seed[TLY_PRG_SEED_BYTES];
static uint64_t *vec_a, *vec_b;
static uint8_t *bytes_a, *bytes_b;
static uint8_t chunk[CHUNK];
static const uint8_t zeros[CHUNK];

static void
die(const char *what)
{
	fprintf(stderr, "bench_crypto: %s\n", what);
	exit(1);
}

/* Raw keystream: D * 8 bytes through the primitive, 16 KiB at a time. */
static void
raw_aes(void *arg)
{
	(void)arg;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int written;
	if (ctx == NULL || EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, seed, seed + 16) != 1)
		die("EVP init");
	for (size_t done = 0; done < (size_t)D * 8; done += CHUNK)
		if (EVP_EncryptUpdate(ctx, chunk, &written, zeros, CHUNK) != 1)
			die("EVP update");
	bench_consume(chunk, sizeof chunk);
	EVP_CIPHER_CTX_free(ctx);
}

static void
raw_chacha(void *arg)
{
	(void)arg;
	uint32_t block = 0;
	for (size_t done = 0; done < (size_t)D * 8; done += CHUNK) {
		crypto_stream_chacha20_ietf_xor_ic(chunk, zeros, CHUNK, seed, block, seed);
		block += CHUNK / 64;
	}
	bench_consume(chunk, sizeof chunk);
}

struct expansion {
	enum tly_prg_alg alg;
	int add; /* tly_prg_field_add instead of tly_prg_field */
};

static void
expand(void *arg)
{
	const struct expansion *e = arg;
	struct tly_prg_context ctx = {.purpose = "bench", .length = D};
	struct tly_prg *prg;
	if (tly_prg_alloc(&prg, e->alg, seed, &ctx) != TLY_OK)
		die("prg alloc");
	if ((e->add ? tly_prg_field_add(prg, vec_a, D) : tly_prg_field(prg, vec_a, D)) != TLY_OK)
		die("prg expand");
	tly_prg_free(prg);
	bench_consume(vec_a, (size_t)D * 8);
}

/* Field add and memcpy over `elements` words of big_a/big_b. */
static uint64_t *big_a, *big_b;
static size_t elements;

static void
field_add(void *arg)
{
	(void)arg;
	tly_field_vec_add(big_a, big_b, elements);
	bench_consume(big_a, elements * 8);
}

static void
copy(void *arg)
{
	(void)arg;
	memcpy(big_a, big_b, elements * 8);
	bench_consume(big_a, elements * 8);
}

static void
seal(void *arg)
{
	enum tly_aead_alg alg = *(enum tly_aead_alg *)arg;
	uint8_t nonce[TLY_AEAD_NONCE_MAX] = {0};
	if (tly_aead_seal(alg, bytes_a, bytes_b, (size_t)D * 8 - TLY_AEAD_TAG_BYTES, NULL, 0, nonce,
	                  seed) != TLY_OK)
		die("seal");
	bench_consume(bytes_a, (size_t)D * 8);
}

enum { OPS = 2000 };
static uint8_t kx_sk[32], kx_pk[32], peer_pk[32], sig[64];
static struct tly_sign_key *sign_key;

static void
x25519(void *arg)
{
	(void)arg;
	uint8_t out[32];
	for (int i = 0; i < OPS; i++)
		if (tly_kx_agree(out, kx_sk, kx_pk, peer_pk, "bench") != TLY_OK)
			die("kx");
	bench_consume(out, sizeof out);
}

static void
sign(void *arg)
{
	(void)arg;
	for (int i = 0; i < OPS; i++)
		if (tly_sign(sig, sign_key, seed, sizeof seed) != TLY_OK)
			die("sign");
}

static void
verify(void *arg)
{
	(void)arg;
	uint8_t pk[32];
	tly_sign_key_public(sign_key, pk);
	for (int i = 0; i < OPS; i++)
		if (tly_sign_verify(sig, seed, sizeof seed, pk) != TLY_OK)
			die("verify");
}

/* A committee SHARE at d = 10^4: header || AEAD(8d bytes) || signature. */
enum { SHARE_D = 10000, SHARE_OPS = 200 };
enum {
	SHARE_BODY = 8 * SHARE_D + TLY_AEAD_TAG_BYTES,
	SHARE_SIGNED = TLY_HEADER_BYTES + SHARE_BODY
};
static uint8_t *share;

static void
share_init(void)
{
	struct tly_msg_header header = {.type = TLY_MSG_SHARE, .sender = 1, .recipient = 2};

	share = malloc(SHARE_SIGNED);
	if (share == NULL)
		die("out of memory");
	tly_msg_raw_header(share, &header, SHARE_BODY);
	memcpy(share + TLY_HEADER_BYTES, bytes_b, SHARE_BODY);
}

static void
sign_share(void *arg)
{
	int via_digest = *(int *)arg;
	uint8_t digest[TLY_MSG_DIGEST_BYTES];

	for (int i = 0; i < SHARE_OPS; i++) {
		tly_err rv;
		if (via_digest) {
			rv = tly_msg_digest(digest, share, share + TLY_HEADER_BYTES, SHARE_BODY);
			if (rv == TLY_OK)
				rv = tly_sign(sig, sign_key, digest, sizeof digest);
		} else {
			rv = tly_sign(sig, sign_key, share, SHARE_SIGNED);
		}
		if (rv != TLY_OK)
			die("sign share");
	}
}

static void
verify_share(void *arg)
{
	int via_digest = *(int *)arg;
	uint8_t pk[32];

	tly_sign_key_public(sign_key, pk);
	for (int i = 0; i < SHARE_OPS; i++) {
		tly_err rv = via_digest ? tly_msg_verify(share, share + TLY_HEADER_BYTES,
		                                         SHARE_BODY, sig, pk)
		                        : tly_sign_verify(sig, share, SHARE_SIGNED, pk);
		if (rv != TLY_OK)
			die("verify share");
	}
}

/* Signing and verifying a share whole and via its digest, in one run. */
static void
share_rows(void)
{
	static const char *const names[2][2] = {
	    {"ed25519_sign_share_whole", "ed25519_sign_share_digest"},
	    {"ed25519_verify_share_whole", "ed25519_verify_share_digest"}};
	char params[64];

	share_init();
	snprintf(params, sizeof params, "bytes=%d", SHARE_SIGNED);
	for (int op = 0; op < 2; op++) {
		double us[2];
		for (int via_digest = 0; via_digest <= 1; via_digest++) {
			/* verify needs the signature of the same rule */
			sign_share(&via_digest);
			us[via_digest] =
			    bench_median(op == 0 ? sign_share : verify_share, &via_digest, 5) /
			    SHARE_OPS * 1e6;
		}
		bench_row("crypto", names[op][0], params, us[0], "us", NULL, 0);
		bench_row("crypto", names[op][1], params, us[1], "us", names[op][0], us[0]);
	}
	free(share);
}

static double
gbps(double seconds)
{
	return (double)D * 8 / seconds / 1e9;
}

int
main(void)
{
	struct tly_rng rng;
	char params[64];

	if (tly_crypto_init() != TLY_OK)
		die("crypto init");
	tly_rng_init(&rng);
	tly_rng_bytes(&rng, seed, sizeof seed);
	vec_a = calloc(D, 8);
	vec_b = calloc(D, 8);
	bytes_a = malloc((size_t)D * 8);
	bytes_b = malloc((size_t)D * 8);
	if (vec_a == NULL || vec_b == NULL || bytes_a == NULL || bytes_b == NULL)
		die("out of memory");
	tly_rng_field(&rng, vec_b, D);
	tly_rng_bytes(&rng, bytes_b, (size_t)D * 8);

	snprintf(params, sizeof params, "d=%d", D);
	static const struct {
		enum tly_prg_alg alg;
		void (*raw)(void *);
	} prgs[] = {{TLY_PRG_AES128CTR, raw_aes}, {TLY_PRG_CHACHA20, raw_chacha}};
	double expanded[2];
	for (size_t i = 0; i < 2; i++) {
		char name[64], base[64];
		const char *alg = tly_prg_alg_name(prgs[i].alg);
		double raw = gbps(bench_median(prgs[i].raw, NULL, REPS));
		snprintf(base, sizeof base, "keystream_%s", alg);
		bench_row("crypto", base, params, raw, "GB/s", NULL, 0);
		for (int add = 0; add <= 1; add++) {
			struct expansion e = {prgs[i].alg, add};
			double rate = gbps(bench_median(expand, &e, REPS));
			snprintf(name, sizeof name, "mask_%s_%s", add ? "add" : "expand", alg);
			bench_row("crypto", name, params, rate, "GB/s", base, raw);
			expanded[i] = rate;
		}
	}
	bench_row("crypto", "mask_add_aes128ctr_vs_chacha20", params, expanded[0], "GB/s",
	          "mask_add_chacha20", expanded[1]);

	/* 10^6 elements stay in L3; 10^7 (80 MB a vector) come from DRAM. */
	static const size_t sizes[] = {1000000, 10000000};
	for (size_t i = 0; i < (size_t)bench_pick(2, 1); i++) {
		elements = sizes[i];
		big_a = calloc(elements, 8);
		big_b = calloc(elements, 8);
		if (big_a == NULL || big_b == NULL)
			die("out of memory");
		tly_rng_field(&rng, big_b, elements);
		snprintf(params, sizeof params, "d=%zu", elements);
		double mem = gbps(bench_median(copy, NULL, REPS)) * (double)elements / D;
		double add = gbps(bench_median(field_add, NULL, REPS)) * (double)elements / D;
		bench_row("crypto", "memcpy", params, mem, "GB/s", NULL, 0);
		bench_row("crypto", "field_vec_add", params, add, "GB/s", "memcpy", mem);
		free(big_a);
		free(big_b);
	}

	snprintf(params, sizeof params, "d=%d", D);
	enum tly_aead_alg aead = TLY_AEAD_AES256GCM;
	double gcm = gbps(bench_median(seal, &aead, REPS));
	aead = TLY_AEAD_XCHACHA20POLY1305;
	double xcc = gbps(bench_median(seal, &aead, REPS));
	bench_row("crypto", "aead_seal_xchacha20poly1305", params, xcc, "GB/s", NULL, 0);
	bench_row("crypto", "aead_seal_aes256gcm", params, gcm, "GB/s",
	          "aead_seal_xchacha20poly1305", xcc);

	tly_kx_keypair(kx_pk, kx_sk);
	uint8_t peer_sk[32];
	tly_kx_keypair(peer_pk, peer_sk);
	if (tly_sign_key_alloc(&sign_key, NULL) != TLY_OK)
		die("sign key");
	snprintf(params, sizeof params, "ops=%d", OPS);
	bench_row("crypto", "kx_agree", params, OPS / bench_median(x25519, NULL, 5), "ops/s", NULL,
	          0);
	bench_row("crypto", "ed25519_sign", params, OPS / bench_median(sign, NULL, 5), "ops/s",
	          NULL, 0);
	bench_row("crypto", "ed25519_verify", params, OPS / bench_median(verify, NULL, 5), "ops/s",
	          NULL, 0);
	share_rows();

	tly_sign_key_free(sign_key);
	tly_rng_fini(&rng);
	free(vec_a);
	free(vec_b);
	free(bytes_a);
	free(bytes_b);
	return 0;
}
