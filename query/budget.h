/*
 * budget.h - the privacy accountant: one per population (the datasets of a
 * node that describe the same people), combining pure epsilon-DP charges
 * (TLY_MECH_LAPLACE) and rho-zCDP charges (TLY_MECH_SKELLAM) under one
 * (epsilon_total, delta_total) cap. The node's ledger, the receipts, `tally
 * audit verify` and `tally-node ledger show` all decide with these
 * functions, so they cannot disagree (docs/PRIVACY.md, "The accountant").
 *
 * State (exact reduced fractions, struct tly_budget_spent):
 *   epsilon      E = sum of the pure charges' epsilon
 *   epsilon_rho  Q = sum of eps^2/2 over the pure charges (a pure eps-DP
 *                    mechanism is eps^2/2-zCDP: Bun and Steinke 2016, 1.4)
 *   rho          R = sum of the zCDP charges' rho
 *
 * Cap (struct tly_budget_cap): epsilon_total, 0 < delta_total < 1, and
 * sites = m, the population's max_sites_per_person.
 *
 * The rule (tly_budget_within). Let rho_cap = rho*(epsilon_total,
 * delta_total) / m, rounded down, where rho* is the largest rho with
 * cdp2adp(rho, delta_total) <= epsilon_total. The state is within the cap
 * when
 *   (zCDP)   Q + R <= rho_cap, or
 *   (basic)  m = 1, R = 0 and E <= epsilon_total.
 * Each is a valid bound on the whole sequence (adaptive composition: zCDP
 * adds rho; pure DP adds epsilon), so the tighter one holds. With m > 1
 * only zCDP is used: rho adds up across the person's sites, so m sites
 * each within rho_cap stay within rho*, while a site using basic
 * composition and another using zCDP would not (PRIVACY.md shows the
 * counter-example).
 *
 * cdp2adp is Canonne, Kamath and Steinke 2020 (Proposition 12, their
 * cdp2adp.py): eps(rho, delta) = inf over alpha > 1 of
 *   rho alpha + (ln(1/(alpha delta)) + (alpha - 1) ln(1 - 1/alpha)) / (alpha - 1).
 * Any alpha gives a valid bound. Here every log is bounded in 128-bit
 * fixed point with integer series (GMP), rounded in the safe direction,
 * and alpha is searched on a grid of 1/2^16 with exact comparisons: the
 * results are deterministic and never on the unsafe side. No floating
 * point takes part in a decision.
 *
 * Pure module: no I/O, thread-safe.
 */
#ifndef TLY_BUDGET_H
#define TLY_BUDGET_H

#include <stdint.h>

#include "crypto/error.h"
#include "query/receipt.h"

enum {
	TLY_BUDGET_RHO_CAP_DEN = 1000000000, /* rho_cap is a multiple of 1e-9 */
	TLY_BUDGET_SITES_MAX = 1000,
};

struct tly_budget_spent {
	struct tly_fraction epsilon;     /* E */
	struct tly_fraction epsilon_rho; /* Q */
	struct tly_fraction rho;         /* R */
};

struct tly_budget_cap {
	struct tly_fraction epsilon_total; /* reduced, den > 0 */
	struct tly_fraction delta_total;   /* reduced, 0 < delta < 1 */
	uint32_t sites;                    /* 1..TLY_BUDGET_SITES_MAX */
};

/* Nonzero when cap's fields are in their ranges (above). */
int tly_budget_cap_valid(const struct tly_budget_cap *cap);

/* The zero state: every sum 0/1. */
struct tly_budget_spent tly_budget_none(void);

/*
 * *out = rho*(epsilon_total, delta_total) / sites, rounded down to a
 * multiple of 1/TLY_BUDGET_RHO_CAP_DEN and reduced (0/1 when epsilon_total
 * is 0), so that cdp2adp(sites * *out, delta_total) <= epsilon_total.
 * TLY_EINVAL for a cap that is not valid.
 */
TLY_MUST tly_err tly_budget_rho_cap(const struct tly_budget_cap *cap, struct tly_fraction *out);

/*
 * *out = had plus one charge of `amount` (> 0, reduced) under mechanism
 * (TLY_MECH_LAPLACE: E += eps, Q += eps^2/2; TLY_MECH_SKELLAM: R += rho).
 * E and R are exact. Q is exact while its reduced form fits u64/u64 and is
 * otherwise rounded up to the next multiple of 2^-k, k as large as fits
 * (eps^2 doubles the digits of eps: 0.0000000001 squared does not fit);
 * rounding Q up only overstates the loss. TLY_EINVAL for another mechanism
 * or a zero amount, TLY_ERANGE when E or R does not fit u64/u64 (or Q is
 * at least 2^63).
 */
TLY_MUST tly_err tly_budget_add(const struct tly_budget_spent *had, uint8_t mechanism,
                                struct tly_fraction amount, struct tly_budget_spent *out);

/* Which bound holds: 0 none (over the cap), else the rule. */
enum tly_budget_rule {
	TLY_BUDGET_OVER = 0,
	TLY_BUDGET_ZCDP = 1,
	TLY_BUDGET_BASIC = 2,
};

/* The rule above, exactly; rho_cap is tly_budget_rho_cap(cap) (passed in
 * so that a caller checking many states computes it once). BASIC is
 * preferred when both hold. */
enum tly_budget_rule tly_budget_within(const struct tly_budget_spent *spent,
                                       const struct tly_budget_cap *cap,
                                       struct tly_fraction rho_cap);

/*
 * An upper bound on cdp2adp(rho, delta) as a double rounded up (rho >= 0,
 * 0 < delta < 1); 0 for rho = 0. Within 1e-6 of the infimum for the
 * ranges tally uses (tests/test_budget.c). TLY_EINVAL for bad arguments.
 */
TLY_MUST tly_err tly_budget_cdp2adp(struct tly_fraction rho, struct tly_fraction delta,
                                    double *epsilon);

/*
 * The (epsilon, delta) that the state guarantees at this site, rounded up:
 * E (delta 0) when R = 0 and that is smaller, else cdp2adp(Q + R,
 * delta_total). For display (ledger show, audit). TLY_EINVAL, TLY_ERANGE.
 */
TLY_MUST tly_err tly_budget_guarantee(const struct tly_budget_spent *spent,
                                      const struct tly_budget_cap *cap, double *epsilon,
                                      double *delta);

#endif
