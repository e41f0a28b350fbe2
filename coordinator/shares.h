/*
 * shares.h - one planner cannot starve the others (issue 12 section 3):
 * each planner may spend at most a share s = a/b ([api] planner_share,
 * 0 < s <= 1) of each population's cap at each trust. Pure accounting:
 * no I/O, exact integer fractions, no floating point.
 *
 * Units are the node's (query/budget.h): a planner's queries on a
 * population add up to a state (E, Q, R) exactly as the node's ledger
 * adds them, and the state is within the planner's share when it is
 * within the cap scaled by s, by the same rule as the node's:
 *   (zCDP)   Q + R <= s * rho_cap, or
 *   (basic)  m = 1, R = 0 and E <= s * epsilon_total,
 * decided as tly_budget_within(state * (1/s), cap, rho_cap), which is the
 * same inequalities multiplied through by b/a (exact).
 *
 * Caps and populations are learned from the nodes' signed receipts: each
 * receipt names its node, dataset, population and that population's cap
 * (the newest receipt per node and dataset wins). A planner's spend on a
 * dataset is the sum of the privacy amounts of its committed queries on
 * it (every node charges the same amount), whatever their outcome,
 * except a query refused with no receipt at all (no node charged it); a
 * query committed but not finished is counted as spent (in flight), and
 * so is one whose outcome never came (the coordinator stopped): the
 * coordinator cannot know whether a node charged it, so it assumes so.
 * At node n, the planner's spend on population p is its spend on every
 * dataset that n's receipts map to p.
 *
 * A dataset that no receipt has described yet has no known cap: then a
 * planner may have at most one query on it in flight, so that a burst of
 * queries cannot pass before the first receipt states the cap.
 *
 * Names are copied; nothing is borrowed past a call. Not thread-safe:
 * one handle per thread.
 */
#ifndef TLY_COORDINATOR_SHARES_H
#define TLY_COORDINATOR_SHARES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "query/receipt.h"

/* What a query asks of the budget. Strings are borrowed for the call. */
struct tly_share_ask {
	const char *planner; /* "" for a query logged without one */
	const char *dataset;
	uint8_t mechanism;          /* TLY_MECH_LAPLACE (epsilon) or TLY_MECH_SKELLAM (rho) */
	struct tly_fraction amount; /* > 0, reduced */
};

/* Why an ask was refused: the first population over the share. */
struct tly_share_refusal {
	int no_cap;    /* 1: no receipt has stated this dataset's cap yet, and
	                  the planner already has a query on it in flight */
	uint32_t node; /* the trust whose cap it passes (0 when no_cap) */
	char population[TLY_SPEC_NAME_MAX + 1];
	const char *unit;            /* "epsilon" (basic rule) or "rho" (zCDP) */
	struct tly_fraction spent;   /* the planner's spend so far, in unit */
	struct tly_fraction asked;   /* what the query adds, in unit */
	struct tly_fraction allowed; /* share * cap, in unit (rounded down) */
};

struct tly_shares;

/* Nonzero when share is reduced and 0 < share <= 1. */
int tly_shares_valid(struct tly_fraction share);

/* Parse a share: "a/b" (integers, b > 0) or a plain decimal ("0.25", "1",
 * at most 9 digits after the point), reduced; 0 < share <= 1. TLY_EINVAL
 * otherwise (and *out untouched). */
TLY_MUST tly_err tly_shares_parse(const char *text, struct tly_fraction *out);

/* A new, empty accountant for this share. TLY_EINVAL (share not valid),
 * TLY_ENOMEM. */
TLY_MUST tly_err tly_shares_alloc(struct tly_shares **out, struct tly_fraction share);
/* Accepts NULL. */
void tly_shares_free(struct tly_shares *sh);

/* A query was committed (it is about to be sent): in flight until its
 * outcome. TLY_EINVAL for a bad ask, TLY_ENOMEM. */
TLY_MUST tly_err tly_shares_commit(struct tly_shares *sh,
                                   const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                   const struct tly_share_ask *ask);

/* A query's outcome (enum tly_translog_outcome: 1 released, 2 aborted,
 * 3 refused) with the decoded receipts it carries (count may be 0): the
 * receipts' caps are learned, and its in-flight amount becomes spent (or
 * is dropped: refused with no receipt). An outcome of a query that was
 * never committed only teaches caps. A spend whose sum with the
 * planner's does not fit u64/u64 stays in flight: still counted, and the
 * planner's asks on that population are then refused (a sum too large to
 * represent is over the share). TLY_ENOMEM. */
TLY_MUST tly_err tly_shares_outcome(struct tly_shares *sh,
                                    const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                    uint8_t outcome, const struct tly_ledger_receipt *receipts,
                                    size_t count);

/*
 * May this query be sent? TLY_OK when the planner's spend plus the ask
 * stays within its share of every known cap of the dataset's population
 * (exactly at the share is admitted). TLY_EBUDGET when not, with *why
 * filled in (may be NULL); TLY_EINVAL for a bad ask. A sum too large to
 * represent is over the share (TLY_EBUDGET). Changes nothing.
 */
TLY_MUST tly_err tly_shares_check(const struct tly_shares *sh, const struct tly_share_ask *ask,
                                  struct tly_share_refusal *why);

/* Counts, for tests and logs: planner-dataset spends, queries in flight,
 * node-dataset caps known. */
void tly_shares_counts(const struct tly_shares *sh, size_t *spends, size_t *in_flight,
                       size_t *caps);

#endif
