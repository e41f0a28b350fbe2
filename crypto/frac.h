/*
 * frac.h - exact non-negative rationals of 64-bit integers.
 *
 * The one place where tally reduces, compares, adds and divides the
 * fractions that privacy parameters, budgets and charges are made of (the
 * node's config, the spec, noise calibration, the samplers, the ledgers and
 * the receipts all use it). Integer-only and exact: a result is either the
 * exact value in lowest terms or an error, never rounded. Intermediate
 * products are 128-bit; a result whose lowest terms do not fit u64/u64 gives
 * TLY_ERANGE.
 *
 * Domains: num/den with den > 0 unless a function says otherwise; 0 is 0/1
 * in lowest terms. Inputs need not be reduced; outputs are.
 *
 * Secrets: none. Every value here is a public parameter; the functions
 * branch on their inputs and run in time that depends on them (Euclid's
 * algorithm), so they must not be given secret data.
 *
 * Thread safety: pure functions, no state.
 */
#ifndef TLY_FRAC_H
#define TLY_FRAC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* An exact non-negative rational (den > 0), as budgets and charges are. */
struct tly_fraction {
	uint64_t num;
	uint64_t den; /* > 0; reduced */
};

/* The greatest common divisor (Euclid); gcd(a, 0) = a, gcd(0, 0) = 0. */
uint64_t tly_frac_gcd(uint64_t a, uint64_t b);

/* f in lowest terms: 0/d is 0/1. A zero denominator is left as it is
 * (n/0 becomes 1/0, 0/0 stays 0/0): callers check den first. */
struct tly_fraction tly_frac_reduce(struct tly_fraction f);

/* Nonzero when den > 0 and num/den is in lowest terms. */
int tly_frac_valid(struct tly_fraction f);

/* -1, 0 or 1 as a < b, a == b, a > b; exact. Both denominators must be > 0
 * (misuse aborts). */
int tly_frac_cmp(struct tly_fraction a, struct tly_fraction b);

/* *out = a + b in lowest terms. TLY_EINVAL for a zero denominator,
 * TLY_ERANGE when the reduced sum does not fit u64/u64. */
TLY_MUST tly_err tly_frac_add(struct tly_fraction a, struct tly_fraction b,
                              struct tly_fraction *out);

/* *out = f / h in lowest terms. TLY_EINVAL when f.den or h is 0,
 * TLY_ERANGE when the reduced denominator does not fit 64 bits. */
TLY_MUST tly_err tly_frac_div_u64(struct tly_fraction f, uint64_t h, struct tly_fraction *out);

/* How tly_frac_decimal rounds: a figure spent or charged is shown rounded
 * up, a figure that remains rounded down, so that no decimal a person reads
 * overstates what is left of a budget. */
enum tly_frac_round { TLY_FRAC_DOWN, TLY_FRAC_UP };

/* Decimal places of the figures people read (ledgers, budgets, charges),
 * and the most tly_frac_decimal takes. */
enum { TLY_FRAC_PLACES = 6, TLY_FRAC_PLACES_MAX = 18 };

/* f as a decimal with at most `places` digits after the point, rounded as
 * `round` says, exactly (integer arithmetic), trailing zeros and a bare
 * point dropped: 12200002001001/10^12 at 6 places is "12.200003" up and
 * "12.200002" down, 1/2 is "0.5", 3/1 is "3". Truncated to len, always
 * NUL-terminated. f.den = 0 or places outside 0..TLY_FRAC_PLACES_MAX is
 * misuse (aborts). */
void tly_frac_decimal(char *out, size_t len, struct tly_fraction f, int places,
                      enum tly_frac_round round);

#endif
