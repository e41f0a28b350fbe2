/*
 * bench_shamir - Shamir sharing and reconstruction of a 10^6-element vector
 * at (t, n) = (2, 3) and (3, 5), and of 32-byte secrets, against the floors
 * measured in the same run:
 *   memcpy  moving the same bytes (share: the n output vectors, copied
 *           from the secret; reconstruct: the t input vectors, copied into
 *           the output),
 *   rng     tly_rng_field drawing the (t - 1) d coefficients alone.
 * CSV on stdout in the format of timing.h. Runs in a few seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/timing.h"
#include "crypto/field.h"
#include "crypto/rng.h"
#include "crypto/rng_test.h"
#include "crypto/shamir.h"

enum { VECTOR_D = 1000000, REPS = 15, SECRET_BATCH = 200 };

struct vector_case {
	struct tly_rng rng;
	unsigned t, n;
	size_t d;
	uint64_t *secret, *out, *coeffs;
	uint64_t *shares[TLY_SHAMIR_MAX_SHARES];
	uint64_t xs[TLY_SHAMIR_MAX_SHARES];
};

static void *
xmalloc(size_t len)
{
	void *p = malloc(len);

	if (p == NULL) {
		fprintf(stderr, "bench_shamir: out of memory\n");
		exit(1);
	}
	memset(p, 0, len); /* fault the pages in before timing */
	return p;
}

static void
run_share(void *arg)
{
	struct vector_case *vc = arg;

	if (tly_shamir_share(&vc->rng, vc->secret, vc->d, vc->t, vc->n, vc->shares) != TLY_OK)
		exit(1);
	bench_consume(vc->shares[vc->n - 1], vc->d * sizeof(uint64_t));
}

static void
run_reconstruct(void *arg)
{
	struct vector_case *vc = arg;

	if (tly_shamir_reconstruct(vc->xs, (const uint64_t *const *)vc->shares, vc->t, vc->t, vc->d,
	                           vc->out) != TLY_OK)
		exit(1);
	bench_consume(vc->out, vc->d * sizeof(uint64_t));
}

static void
run_memcpy_share(void *arg)
{
	struct vector_case *vc = arg;

	for (unsigned i = 0; i < vc->n; i++)
		memcpy(vc->shares[i], vc->secret, vc->d * sizeof(uint64_t));
	bench_consume(vc->shares[vc->n - 1], vc->d * sizeof(uint64_t));
}

static void
run_memcpy_reconstruct(void *arg)
{
	struct vector_case *vc = arg;

	for (unsigned i = 0; i < vc->t; i++)
		memcpy(vc->out, vc->shares[i], vc->d * sizeof(uint64_t));
	bench_consume(vc->out, vc->d * sizeof(uint64_t));
}

static void
run_rng(void *arg)
{
	struct vector_case *vc = arg;

	tly_rng_field(&vc->rng, vc->coeffs, (size_t)(vc->t - 1) * vc->d);
	bench_consume(vc->coeffs, (size_t)(vc->t - 1) * vc->d * sizeof(uint64_t));
}

static void
bench_vector(unsigned t, unsigned n)
{
	struct vector_case *vc = xmalloc(sizeof *vc);
	char params[64];
	size_t bytes = VECTOR_D * sizeof(uint64_t);

	vc->t = t;
	vc->n = n;
	vc->d = VECTOR_D;
	tly_rng_init_seeded_u64(&vc->rng, 1);
	vc->secret = xmalloc(bytes);
	vc->out = xmalloc(bytes);
	vc->coeffs = xmalloc((t - 1) * bytes);
	tly_rng_field(&vc->rng, vc->secret, vc->d);
	for (unsigned i = 0; i < n; i++) {
		vc->shares[i] = xmalloc(bytes);
		vc->xs[i] = i + 1;
	}
	snprintf(params, sizeof params, "t=%u n=%u d=%d", t, n, VECTOR_D);

	double rng_s = bench_median(run_rng, vc, REPS);
	double copy_share_s = bench_median(run_memcpy_share, vc, REPS);
	double share_s = bench_median(run_share, vc, REPS);
	double copy_rec_s = bench_median(run_memcpy_reconstruct, vc, REPS);
	double rec_s = bench_median(run_reconstruct, vc, REPS);

	if (memcmp(vc->out, vc->secret, bytes) != 0) {
		fprintf(stderr, "bench_shamir: reconstruction mismatch\n");
		exit(1);
	}
	bench_row("shamir", "memcpy_share_bytes", params, copy_share_s * 1e3, "ms", NULL, 0);
	bench_row("shamir", "rng_coefficients", params, rng_s * 1e3, "ms", NULL, 0);
	bench_row("shamir", "rng_field_rate", params, (double)((t - 1) * bytes) / rng_s / 1e9,
	          "GB/s", NULL, 0);
	bench_row("shamir", "share", params, share_s * 1e3, "ms", "memcpy", copy_share_s * 1e3);
	bench_row("shamir", "share", params, share_s * 1e3, "ms", "memcpy+rng",
	          (copy_share_s + rng_s) * 1e3);
	bench_row("shamir", "memcpy_reconstruct_bytes", params, copy_rec_s * 1e3, "ms", NULL, 0);
	bench_row("shamir", "reconstruct", params, rec_s * 1e3, "ms", "memcpy", copy_rec_s * 1e3);

	for (unsigned i = 0; i < n; i++)
		free(vc->shares[i]);
	free(vc->coeffs);
	free(vc->out);
	free(vc->secret);
	tly_rng_fini(&vc->rng);
	free(vc);
}

struct secret_case {
	struct tly_rng rng;
	unsigned t, n;
	uint8_t secret[TLY_SHAMIR_SECRET_BYTES];
	uint8_t *shares[TLY_SHAMIR_MAX_SHARES];
	uint64_t xs[TLY_SHAMIR_MAX_SHARES];
	uint64_t coeffs[TLY_SHAMIR_MAX_SHARES];
};

static void
run_secret_share(void *arg)
{
	struct secret_case *sc = arg;

	for (int i = 0; i < SECRET_BATCH; i++)
		if (tly_shamir_secret_share(&sc->rng, sc->secret, sc->t, sc->n, sc->shares) !=
		    TLY_OK)
			exit(1);
	bench_consume(sc->shares[0], TLY_SHAMIR_SECRET_SHARE_BYTES);
}

static void
run_secret_reconstruct(void *arg)
{
	struct secret_case *sc = arg;
	uint8_t out[TLY_SHAMIR_SECRET_BYTES];

	for (int i = 0; i < SECRET_BATCH; i++)
		if (tly_shamir_secret_reconstruct(sc->xs, (const uint8_t *const *)sc->shares, sc->t,
		                                  sc->t, out) != TLY_OK ||
		    memcmp(out, sc->secret, sizeof out) != 0)
			exit(1);
	bench_consume(out, sizeof out);
}

/* The same with the Lagrange coefficients computed once for the set. */
static void
run_secret_combine(void *arg)
{
	struct secret_case *sc = arg;
	uint8_t out[TLY_SHAMIR_SECRET_BYTES];

	for (int i = 0; i < SECRET_BATCH; i++)
		if (tly_shamir_secret_combine(sc->coeffs, (const uint8_t *const *)sc->shares, sc->t,
		                              out) != TLY_OK ||
		    memcmp(out, sc->secret, sizeof out) != 0)
			exit(1);
	bench_consume(out, sizeof out);
}

static void
bench_secret(unsigned t, unsigned n)
{
	struct secret_case *sc = xmalloc(sizeof *sc);
	char params[64];

	sc->t = t;
	sc->n = n;
	tly_rng_init_seeded_u64(&sc->rng, 2);
	tly_rng_bytes(&sc->rng, sc->secret, sizeof sc->secret);
	for (unsigned i = 0; i < n; i++) {
		sc->shares[i] = xmalloc(TLY_SHAMIR_SECRET_SHARE_BYTES);
		sc->xs[i] = i + 1;
	}
	snprintf(params, sizeof params, "t=%u n=%u", t, n);

	double share_s = bench_median(run_secret_share, sc, REPS);
	double rec_s = bench_median(run_secret_reconstruct, sc, REPS);
	if (tly_shamir_lagrange_at_zero(sc->xs, t, sc->coeffs) != TLY_OK)
		exit(1);
	double combine_s = bench_median(run_secret_combine, sc, REPS);
	bench_row("shamir", "secret32_share", params, SECRET_BATCH / share_s, "secrets/s", NULL, 0);
	bench_row("shamir", "secret32_reconstruct", params, SECRET_BATCH / rec_s, "secrets/s", NULL,
	          0);
	bench_row("shamir", "secret32_reconstruct_cached", params, SECRET_BATCH / combine_s,
	          "secrets/s", NULL, 0);

	for (unsigned i = 0; i < n; i++)
		free(sc->shares[i]);
	tly_rng_fini(&sc->rng);
	free(sc);
}

int
main(void)
{
	if (tly_crypto_init() != TLY_OK) {
		fprintf(stderr, "bench_shamir: tly_crypto_init failed\n");
		return 1;
	}
	bench_header();
	bench_vector(2, 3);
	bench_vector(3, 5);
	bench_secret(2, 3);
	bench_secret(3, 5);
	bench_secret(50, 100);
	return 0;
}
