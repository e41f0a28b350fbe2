/*
 * dpaudit.h - the statistics of an empirical differential-privacy audit
 * (`tally audit dp`, cli/audit_dp.h): Clopper-Pearson bounds from exact
 * beta quantiles, and the lower bound on epsilon that a distinguishing
 * event proves, in the manner of Jagielski, Ullman and Oprea 2020
 * ("Auditing Differentially Private Machine Learning") and Nasr et al.
 * 2023 ("Tight Auditing of Differentially Private Machine Learning").
 *
 * The argument. A mechanism M is (epsilon, delta)-DP when, for neighbouring
 * datasets D and D' and every set E of outputs, P[M(D) in E] <= e^epsilon
 * P[M(D') in E] + delta (and with D, D' swapped). Draw n outputs under each;
 * if p_lo is a lower confidence bound on P[M(D) in E] and q_hi an upper one
 * on P[M(D') in E], then epsilon >= ln((p_lo - delta) / q_hi) holds at the
 * joint confidence of the two bounds. Each bound here is one-sided at level
 * (1 + C)/2, so that both hold together with probability >= C (a union
 * bound). E must not depend on the draws that the bounds use: the caller
 * picks it on a first half of the draws (tly_dpaudit_choose) and evaluates
 * it on the other half (tly_dpaudit_evaluate).
 *
 * Events: thresholds on the released value (a real; null releases sort
 * below everything), {y >= t} or {y <= t}, in either direction (D in the
 * numerator or D'), and any extra events the caller counts itself (the
 * auditor's support event: an output that one dataset cannot produce,
 * Mironov 2012).
 *
 * Floating point throughout: this measures a mechanism, it decides nothing
 * about any release. Accuracy: the incomplete beta's prefactor is computed
 * in Loader's form (Stirling's error and the deviance term, no difference
 * of large lgammas), so I_x(a, b) keeps about 1e-12 relative accuracy for
 * shape parameters up to 10^7 (tests/test_audit_dp.c checks it against
 * exact binomial sums and closed forms).
 *
 * Thread safety: no state.
 */
#ifndef TLY_QUERY_DPAUDIT_H
#define TLY_QUERY_DPAUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

/* The regularised incomplete beta function I_x(a, b), a > 0, b > 0,
 * 0 <= x <= 1 (a continued fraction, Lentz's method; the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) keeps it in its fast region). NaN for
 * arguments outside the domain. */
double tly_dpaudit_beta_cdf(double a, double b, double x);

/* Its inverse in x: the x in [0, 1] with I_x(a, b) = p, 0 <= p <= 1, by
 * bisection to a relative width of 1e-15 (I is increasing in x). NaN for
 * arguments outside the domain. */
double tly_dpaudit_beta_quantile(double a, double b, double p);

/* One-sided Clopper-Pearson bounds on a binomial proportion from k
 * successes in n trials, at level `level` in (0, 1): the lower bound
 * Beta^-1(1 - level; k, n - k + 1) (0 when k = 0) and the upper
 * Beta^-1(level; k + 1, n - k) (1 when k = n). k <= n, n >= 1. */
double tly_dpaudit_cp_lower(uint64_t k, uint64_t n, double level);
double tly_dpaudit_cp_upper(uint64_t k, uint64_t n, double level);

/* ln((p_lo - delta) / q_hi) with each bound at `level`, clamped at 0 (a
 * lower bound on epsilon is never negative): the epsilon that counts k_p of
 * n under one dataset and k_q of n under the other prove at that level. */
double tly_dpaudit_epsilon_lb(uint64_t k_p, uint64_t k_q, uint64_t n, double delta, double level);

/* The point estimate ln((k_p/n - delta) / (k_q/n)); +inf when k_q = 0 and
 * k_p/n > delta, -inf when k_p/n <= delta. */
double tly_dpaudit_epsilon_hat(uint64_t k_p, uint64_t k_q, uint64_t n, double delta);

/*
 * The draws of one audit, as histograms over the distinct released values
 * (values[] strictly increasing; -INFINITY stands for a null release):
 * count[h][s][i] is how many of half h's draws (0: the first, used to
 * choose the event; 1: the held-out second) under dataset s (0: D, 1: D')
 * released values[i]. n[h] is the draws per dataset in half h. extra[e]
 * counts extra events the same way (extra_count of them, at most
 * TLY_DPAUDIT_EXTRA_MAX).
 */
enum { TLY_DPAUDIT_EXTRA_MAX = 4 };
struct tly_dpaudit_draws {
	size_t value_count;
	const double *values;
	const uint64_t *count[2][2];
	uint64_t n[2];
	size_t extra_count;
	uint64_t extra[TLY_DPAUDIT_EXTRA_MAX][2][2];
};

enum tly_dpaudit_kind {
	TLY_DPAUDIT_AT_LEAST = 1, /* y >= threshold */
	TLY_DPAUDIT_AT_MOST,      /* y <= threshold */
	TLY_DPAUDIT_EXTRA,        /* draws->extra[extra] */
};

/* A distinguishing event and the direction of the ratio: numerator 0 reads
 * P_D(E) / P_D'(E), 1 reads P_D'(E) / P_D(E). */
struct tly_dpaudit_event {
	enum tly_dpaudit_kind kind;
	double threshold; /* AT_LEAST, AT_MOST */
	size_t extra;     /* EXTRA */
	int numerator;
};

/* The event and direction with the largest epsilon lower bound on the
 * first half (half 0): Wilson score bounds at a Bonferroni-adjusted level,
 * 1 - (1 - level) / (the number of candidates scored), so that an event
 * with few draws must beat the others by more than chance does (the
 * choice needs no exactness, only independence from half 1).
 * TLY_EINVAL when n[0] is 0 or there is no value. */
TLY_MUST tly_err tly_dpaudit_choose(const struct tly_dpaudit_draws *draws, double delta,
                                    double level, struct tly_dpaudit_event *out);

/* What the held-out half says about an event. */
struct tly_dpaudit_finding {
	uint64_t k_p, k_q, n; /* held-out counts in E: numerator's, other's; draws each */
	double epsilon_hat;   /* tly_dpaudit_epsilon_hat */
	double epsilon_lb;    /* tly_dpaudit_epsilon_lb at level */
};

/* Count half 1's draws in the event and bound epsilon at `level` (each
 * one-sided bound; the joint confidence is 2 level - 1). TLY_EINVAL when
 * n[1] is 0 or the event names an extra event that is not there. */
TLY_MUST tly_err tly_dpaudit_evaluate(const struct tly_dpaudit_draws *draws,
                                      const struct tly_dpaudit_event *event, double delta,
                                      double level, struct tly_dpaudit_finding *out);

#endif
