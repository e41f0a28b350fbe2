/*
 * shamir.h - t-of-n Shamir secret sharing over F_p (p = 2^61 - 1, field.h),
 * for vectors of field elements and for 32-byte secrets.
 *
 * Each element s of a secret vector gets its own random polynomial
 * f(X) = s + a_1 X + ... + a_{t-1} X^{t-1}, with the a_c drawn uniformly
 * from F_p by the caller's struct tly_rng. Share i (i = 1..n) holds f(i):
 * the evaluation points are the public indices 1..n, never 0. Any t shares
 * determine f and so s; any t - 1 shares are jointly uniform on F_p^(t-1)
 * whatever s is, so they reveal nothing. t = 1 gives no secrecy at all:
 * every share is the secret.
 *
 * Shamir gives no integrity. A wrong or tampered share reconstructs to a
 * wrong value without any error (the vector path cannot tell); a holder of
 * one share can shift the result by any amount it likes. Bind shares to
 * their sender with the AEAD/signature layers above this one. The 32-byte
 * path catches most random corruption as a side effect of its encoding
 * (TLY_EFORMAT), not all, and never a deliberate one.
 *
 * Indices are uint64_t field elements because Lagrange works on elements;
 * tly_shamir_reconstruct accepts only the indices tly_shamir_share hands
 * out, 1..TLY_SHAMIR_MAX_SHARES.
 *
 * Ownership: every buffer belongs to the caller; nothing here allocates.
 * Vectors must not overlap each other (restrict semantics).
 *
 * Thread safety: no global state; calls on distinct buffers (and distinct
 * struct tly_rng) may run concurrently.
 */
#ifndef TLY_SHAMIR_H
#define TLY_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "field.h"
#include "rng.h"

enum {
	/* Largest n (and so t, and the number of shares any call takes). */
	TLY_SHAMIR_MAX_SHARES = 1024,

	/* 32-byte secrets: cut into big-endian 56-bit chunks (the last one
	 * holds the remaining 32 bits), each shared as one field element. */
	TLY_SHAMIR_SECRET_BYTES = 32,
	TLY_SHAMIR_CHUNK_BYTES = 7,
	TLY_SHAMIR_SECRET_CHUNKS = 5,
	/* A share: the 5 chunk shares as big-endian 8-byte words, each < p. */
	TLY_SHAMIR_SECRET_SHARE_BYTES = TLY_SHAMIR_SECRET_CHUNKS * TLY_FIELD_ELEMENT_BYTES,
};

_Static_assert(TLY_SHAMIR_SECRET_CHUNKS *TLY_SHAMIR_CHUNK_BYTES >= TLY_SHAMIR_SECRET_BYTES,
               "the chunks cover the secret");
_Static_assert((TLY_SHAMIR_SECRET_CHUNKS - 1) * TLY_SHAMIR_CHUNK_BYTES < TLY_SHAMIR_SECRET_BYTES,
               "no chunk is empty");
_Static_assert(8 * TLY_SHAMIR_CHUNK_BYTES < TLY_FIELD_BITS, "every chunk value is below p");
_Static_assert(TLY_SHAMIR_SECRET_SHARE_BYTES == 40, "wire size of a secret share");

/*
 * Share the d-element vector secret (each element < p, misuse otherwise)
 * t-of-n: shares[i] (n caller arrays of d elements) receives the share at
 * index i + 1. Draws (t - 1) * d elements from rng.
 *
 * Errors: TLY_EINVAL unless 1 <= t <= n <= TLY_SHAMIR_MAX_SHARES; nothing
 * is written or drawn then. d = 0 is allowed and does nothing.
 * The coefficients are wiped before return; the shares are secrets of the
 * caller's (wipe them when done).
 *
 * Cost: n (t - 1) d multiply-adds by the small indices, vectorised, and
 * (t - 1) d draws from rng (ChaCha20), which dominate: at (2, 3) sharing
 * takes about 1.2x the time of drawing the coefficients alone.
 */
TLY_MUST tly_err tly_shamir_share(struct tly_rng *rng, const uint64_t *secret, size_t d, unsigned t,
                                  unsigned n, uint64_t *const *shares);

/*
 * The Lagrange coefficients that take the values of a polynomial of degree
 * < count at the distinct points xs[0..count) to its value at 0:
 * coeffs[i] = prod_{j != i} xs[j] / (xs[j] - xs[i]). O(count^2).
 *
 * Errors: TLY_EINVAL unless 1 <= count <= TLY_SHAMIR_MAX_SHARES;
 * TLY_ERANGE when some xs[i] is 0 or >= p; TLY_EDUP when two are equal.
 * coeffs (count elements) is written only on success. Indices and
 * coefficients are public: the time taken depends on them.
 */
TLY_MUST tly_err tly_shamir_lagrange_at_zero(const uint64_t *xs, size_t count, uint64_t *coeffs);

/*
 * out[k] = sum_i coeffs[i] * shares[i][k] over i < count, for k < d: the
 * reconstruction step once coefficients are known. Callers that
 * reconstruct several vectors from the same contributor set compute the
 * coefficients once and call this directly. coeffs[i] < p (misuse
 * otherwise: they come from tly_shamir_lagrange_at_zero).
 *
 * Errors: TLY_ERANGE when a share element is >= p (checked in the same
 * pass, so each share is read once). Then out is wiped to zeros: it may
 * have held partial sums of secret data. count = 0 gives the zero vector.
 */
TLY_MUST tly_err tly_shamir_combine(const uint64_t *coeffs, const uint64_t *const *shares,
                                    size_t count, size_t d, uint64_t *out);

/*
 * Reconstruct a d-element secret vector from count shares: shares[i] holds
 * the share at index xs[i]. All count indices are validated; the first t
 * shares are the ones used, and the others are not read. (Any t shares give
 * the same answer when all are honest, and more than t would cost more
 * without detecting anything, since nothing is compared; callers pick which
 * t to pass first.)
 *
 * Cost: O(t^2) for the coefficients, then t d multiply-adds, vectorised
 * (about memcpy speed with AVX-512).
 *
 * Errors, in this order: TLY_EINVAL unless 1 <= t <= TLY_SHAMIR_MAX_SHARES;
 * TLY_ETOOFEW when count < t; TLY_ERANGE when an index is outside
 * 1..TLY_SHAMIR_MAX_SHARES; TLY_EDUP when an index repeats. Nothing is
 * written then. TLY_ERANGE when an element of a used share is >= p, with
 * out wiped to zeros as in tly_shamir_combine.
 */
TLY_MUST tly_err tly_shamir_reconstruct(const uint64_t *xs, const uint64_t *const *shares,
                                        size_t count, unsigned t, size_t d, uint64_t *out);

/*
 * Share a 32-byte secret t-of-n: shares[i] (n caller buffers of
 * TLY_SHAMIR_SECRET_SHARE_BYTES) receives the share at index i + 1.
 * Errors: TLY_EINVAL as tly_shamir_share. Every intermediate is wiped.
 */
TLY_MUST tly_err tly_shamir_secret_share(struct tly_rng *rng,
                                         const uint8_t secret[static TLY_SHAMIR_SECRET_BYTES],
                                         unsigned t, unsigned n, uint8_t *const *shares);

/*
 * The 32-byte counterpart of tly_shamir_combine: out = the secret whose
 * chunks are sum_i coeffs[i] * (chunk of shares[i]), i < count. Callers
 * that reconstruct many secrets from one set of indices (SecAgg unmasking)
 * compute the coefficients once with tly_shamir_lagrange_at_zero.
 * coeffs[i] < p (misuse otherwise).
 *
 * Errors: TLY_ERANGE when a share word is >= p; TLY_EFORMAT when the
 * chunks come out wider than any secret's (see below). out is written
 * only on success; every intermediate is wiped on every path.
 */
TLY_MUST tly_err tly_shamir_secret_combine(const uint64_t *coeffs, const uint8_t *const *shares,
                                           size_t count,
                                           uint8_t out[static TLY_SHAMIR_SECRET_BYTES]);

/*
 * Reconstruct a 32-byte secret from count shares (as
 * tly_shamir_reconstruct: indices xs[i], the first t used; shares may come
 * straight from the wire).
 *
 * Errors: those of tly_shamir_reconstruct (a share word >= p is
 * TLY_ERANGE), and TLY_EFORMAT when the chunks reconstruct to values that
 * no 32-byte secret encodes to: at least one share is corrupt or belongs to
 * another sharing. out is written only on success; every intermediate is
 * wiped on every path.
 */
TLY_MUST tly_err tly_shamir_secret_reconstruct(const uint64_t *xs, const uint8_t *const *shares,
                                               size_t count, unsigned t,
                                               uint8_t out[static TLY_SHAMIR_SECRET_BYTES]);

#endif
