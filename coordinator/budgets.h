/*
 * budgets.h - what is left of each trust's privacy budget, for GET
 * /v1/budgets: the newest signed receipt of each node for each population
 * (query/receipt.h carries the population's spend and caps), made into
 * JSON with the exact fractions and decimals for people.
 *
 * Pure: receipts in (already verified, or read from the coordinator's own
 * log), JSON out. Not thread-safe: one table per thread.
 */
#ifndef TLY_COORDINATOR_BUDGETS_H
#define TLY_COORDINATOR_BUDGETS_H

#include <stddef.h>

#include "crypto/error.h"
#include "query/receipt.h"

struct tly_budgets {
	struct tly_ledger_receipt *rows; /* malloc'd; one per (node, population) */
	size_t count, cap;
};

/* Keep r when it is newer (higher seq) than the row of its node and
 * population, or the first of them. TLY_ENOMEM. */
TLY_MUST tly_err tly_budgets_add(struct tly_budgets *b, const struct tly_ledger_receipt *r);

/* The share of the population's cap that r's spend has used, 0..1 (or
 * more, never for a receipt a node signed): by the ledger's rule
 * (query/budget.h), the smaller of (Q + R) / rho_total and, when
 * basic accounting applies (one site a person, R = 0), E / epsilon_total. */
double tly_budgets_used(const struct tly_ledger_receipt *r);

/* {"budgets": [{"node", "population", "dataset", "seq", "time",
 * "epsilon_spent", "epsilon_total", "epsilon_rho_spent", "rho_spent",
 * "rho_total", "delta_total" (exact "num/den"), "sites", "used" and
 * "remaining" (decimals 0..1), "epsilon_spent_decimal",
 * "epsilon_total_decimal", "rho_used_decimal" (Q + R), "rho_total_decimal"},
 * ...]} sorted by population, then node. *json is malloc'd. TLY_ENOMEM. */
TLY_MUST tly_err tly_budgets_json(const struct tly_budgets *b, char **json);

/* Frees the rows; accepts a zeroed struct. */
void tly_budgets_fini(struct tly_budgets *b);

#endif
