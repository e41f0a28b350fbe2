/*
 * audit_dp.h - `tally audit dp`: an empirical check that the noise tally
 * adds is as private as it claims (issue 17 section 1; docs/PRIVACY.md,
 * "The empirical audit").
 *
 * For each mechanism (count, sum, mean, histogram, rate; each with the
 * Laplace and with the Skellam noise) the auditor runs the real code path
 * on a pair of neighbouring datasets, D and D' = D plus one person:
 *   - two SQLite files written to a fresh temporary folder, read by the
 *     node's own evaluation (node/eval.h: tly_store_open, tly_eval);
 *   - `nodes` trusts, of which `honest` draw their noise share as a node
 *     does (query/noise.h: tly_noise_calibrate of the QUERY's numbers, then
 *     tly_noise_apply, which encodes cells plus share into the field); the
 *     others are the colluders the guarantee allows, whose noise the
 *     adversary knows and subtracts, so they add their exact cells. The
 *     differing person is at an honest trust;
 *   - the sum in the field and its centred decoding, as the coordinator
 *     reconstructs it (the committee's Shamir sharing is linear and exact,
 *     so it is left out: it cannot change the total);
 *   - the release (coordinator/release.h: tly_release_build), whose cell
 *     "value" is the output audited: clamped, rounded, a mean or a rate.
 *     tly_release_build is a pure function of the noisy cells; the value
 *     of the audited cell depends only on that cell (a mean's or a rate's
 *     on its two), so each worker remembers the values it has computed.
 * It draws `draws` outputs under D and as many under D', picks a
 * distinguishing event on the first half (query/dpaudit.h) and bounds
 * epsilon from below on the held-out half.
 *
 * Claims. Laplace: epsilon. Skellam (the "gaussian" of a query): rho-zCDP,
 * converted to the (epsilon, delta)-DP it implies at the audited delta by
 * Canonne, Kamath and Steinke's cdp2adp (query/budget.h, as the node's
 * accountant and every release do); the bound is then ln((p - delta)/q).
 * A mechanism is flagged when its epsilon lower bound exceeds the claim.
 *
 * Thread safety: tly_audit_dp_run starts its own threads; one call at a
 * time per process is not required, but each call uses `threads` cores.
 */
#ifndef TLY_CLI_AUDIT_DP_H
#define TLY_CLI_AUDIT_DP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/error.h"
#include "crypto/rng.h"
#include "query/dpaudit.h"
#include "query/noise.h"

enum {
	TLY_AUDIT_DP_MECHANISMS = 10,   /* 5 measures x 2 noises */
	TLY_AUDIT_DP_NAME_MAX = 32,     /* "histogram-skellam" and room */
	TLY_AUDIT_DP_MAX_NODES = 64,    /* trusts in one audit */
	TLY_AUDIT_DP_MAX_THREADS = 64,  /* workers */
	TLY_AUDIT_DP_DEFAULT_SEED = 17, /* --seed's default: runs reproduce */
	TLY_AUDIT_DP_BLOCK = 1 << 14,   /* draws per rng stream */
	TLY_AUDIT_DP_NUMBER_MAX = 24,   /* decimal text of epsilon, rho */
};
#define TLY_AUDIT_DP_DEFAULT_DRAWS      UINT64_C(1000000)
#define TLY_AUDIT_DP_DEFAULT_CONFIDENCE 0.95
#define TLY_AUDIT_DP_DEFAULT_DELTA      1e-6
/* Phi(4): each one-sided bound of the "4 sigma" figure. */
#define TLY_AUDIT_DP_LEVEL_4SIGMA 0.99996832875816688

/* The mechanisms, in the order an audit of "all" runs them:
 * "count-laplace", "sum-laplace", ..., "rate-skellam". */
extern const char *const tly_audit_dp_mechanisms[TLY_AUDIT_DP_MECHANISMS];

enum tly_audit_dp_fault {
	TLY_AUDIT_DP_FAULT_NONE = 0,
	/* Negative control: the release carries the cells plus the first
	 * honest trust's share alone (the other honest shares are left out),
	 * a total with 1/h of the noise the claim needs. */
	TLY_AUDIT_DP_FAULT_SHARE_ALONE,
};

/*
 * A replacement for the honest trusts' noise path, for tests only (the
 * tally program never sets one): noisy[i] = cells[i] + a share, for the d
 * cells, from the calibrated params. reachable, when not NULL, says
 * whether the total noise value v can occur at all; the auditor then
 * adds Mironov's support events ("the output minus D's noise-free value
 * is a noise value the sampler cannot produce", and the same for D'), for
 * integer figures (count, sum, histogram) and one honest trust.
 */
struct tly_audit_dp_sampler {
	tly_err (*draw)(struct tly_rng *rng, const struct tly_noise_params *params,
	                const int64_t *cells, size_t d, int64_t *noisy, void *arg);
	int (*reachable)(const struct tly_noise_params *params, int64_t v, void *arg);
	void *arg;
};

struct tly_audit_dp_options {
	uint64_t draws;                          /* per dataset, >= 2: half choose, half held out */
	char epsilon[TLY_AUDIT_DP_NUMBER_MAX];   /* claimed epsilon (laplace), decimal */
	char calibrate[TLY_AUDIT_DP_NUMBER_MAX]; /* "" = the claim; else the noise is
	                                            calibrated to this epsilon (or rho),
	                                            a negative control */
	char rho[TLY_AUDIT_DP_NUMBER_MAX];       /* claimed rho (skellam), decimal */
	double delta;                            /* skellam's audited delta, in (0, 1) */
	double confidence;                       /* joint, in (0, 1) */
	uint64_t seed;
	int seeded;                         /* 0: streams keyed from the operating system */
	unsigned threads;                   /* 1..TLY_AUDIT_DP_MAX_THREADS */
	uint32_t nodes;                     /* trusts, 1..TLY_AUDIT_DP_MAX_NODES */
	uint32_t honest;                    /* h, 1..nodes */
	char column[TLY_AUDIT_DP_NAME_MAX]; /* sum, mean: "visits" (0..5), "age" (0..100)
	                                       or "cost" (0..100000) */
	enum tly_audit_dp_fault fault;
	const struct tly_audit_dp_sampler *sampler; /* NULL: the real one */
	FILE *progress;                             /* NULL: silent */
};

/* The defaults: 10^6 draws, epsilon 1, rho 0.1, delta 10^-6, confidence
 * 0.95, seed 17, 2 threads, 3 trusts of which 2 honest, column visits, no
 * fault, the real sampler, no progress. */
void tly_audit_dp_defaults(struct tly_audit_dp_options *o);

struct tly_audit_dp_result {
	char mechanism[TLY_AUDIT_DP_NAME_MAX];
	int skellam;
	double epsilon_claimed; /* laplace: the claim; skellam: cdp2adp(rho, delta) */
	double rho;             /* skellam's claim; 0 for laplace */
	double delta;           /* 0 for laplace */
	double noise_sd;        /* of the audited total (the honest shares) */
	uint64_t draws;         /* per dataset */
	double truth[2];        /* the audited value without noise, under D and D' */
	struct tly_dpaudit_event event;
	struct tly_dpaudit_finding finding;        /* at the options' confidence */
	struct tly_dpaudit_finding finding_4sigma; /* each bound at Phi(4) */
	int flagged;                               /* finding.epsilon_lb > epsilon_claimed */
	double seconds;                            /* wall time of the draws */
};

/*
 * Audit one mechanism (a name of tly_audit_dp_mechanisms). TLY_EINVAL with
 * why naming the bad option (an unknown mechanism, a claim the query
 * language refuses, draws < 2, ...); TLY_EIO when the temporary data
 * cannot be written; errors of the node's evaluation and the samplers,
 * with why. The temporary folder is removed before it returns.
 */
TLY_MUST tly_err tly_audit_dp_run(const struct tly_audit_dp_options *o, const char *mechanism,
                                  struct tly_audit_dp_result *out, char *why, size_t why_len);

/* `tally audit dp ...` (argv[0] is "dp"); exit 0 when no mechanism is
 * flagged, 1 when one is or the audit fails, 2 on invalid usage. */
int tly_audit_dp_command(int argc, char **argv);

#endif
