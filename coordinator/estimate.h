/*
 * estimate.h - a query's dry run: what its release would print as the 95%
 * half-width of each kind of figure, and what it would cost, before
 * anything is asked, logged or charged (POST /v1/queries/estimate,
 * `tally query --dry-run`; docs/PROTOCOL.md).
 *
 * The half-widths come from the calls coordinator/release.c makes
 * (tly_noise_describe for a total; the 97.5% quantile of the total noise,
 * tly_dp_noise_quantile, for a mean's two parts), so a dry run and the
 * release of the same spec over the same contributors agree, before
 * disclosure control rounds or clips an interval. tests/test_estimate.c
 * holds them to each other.
 *
 * Thread safety: pure functions, no state.
 */
#ifndef TLY_ESTIMATE_H
#define TLY_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "query/noise.h"
#include "query/spec.h"

/* The most figure kinds one measure has (a mean: its sum, its count and
 * the mean itself), and the group size a mean's half-width is stated for. */
enum { TLY_ESTIMATE_FIGURES_MAX = 4, TLY_ESTIMATE_MEAN_GROUP = 100 };

struct tly_estimate_figure {
	const char *figure;  /* "count", "sum" or "mean" (static strings) */
	double half_width95; /* count, sum: the release's ci95 half-width, an
	                      * integer; mean: the most the half-width of the
	                      * mean of a group of group_size can be */
	uint64_t group_size; /* mean only; 0 otherwise */
	int unbounded;       /* mean: 1 when a count's noise can pass
	                      * group_size (no bound; half_width95 is then the
	                      * column's range, max - min) */
};

struct tly_estimate {
	struct tly_noise_info info; /* of the total over `contributors` */
	uint64_t contributors;
	size_t figure_count;
	struct tly_estimate_figure figures[TLY_ESTIMATE_FIGURES_MAX];
};

/*
 * The figures of spec's measure and their 95% half-widths, with the noise
 * p (tly_noise_calibrate's) in a total of `contributors` shares: count,
 * histogram, rate and dsr give "count" (each count cell: a rate's
 * numerator and rest); sum gives "sum"; mean gives "sum" (c C + S' over
 * the 97.5% box), "count" (in rows: floor(k95 / w) of the weighted cell) and
 * "mean" (for a group of TLY_ESTIMATE_MEAN_GROUP). The one place that maps
 * a measure's figures to noise: a new measure adds its figures here.
 * Errors of tly_noise_describe (TLY_EINVAL for contributors < h) and of
 * the quantile, with why. *out is written only on success.
 */
TLY_MUST tly_err tly_estimate_figures(const struct tly_spec *spec, const struct tly_catalogue *cat,
                                      const struct tly_noise_params *p, uint64_t contributors,
                                      struct tly_estimate *out, char *why, size_t why_len);

/*
 * The dry run's answer: {"dry_run": true, "dataset", "protocol",
 * "contributors", "privacy": {"mechanism", "epsilon"|"rho", the exact
 * figure, (epsilon, delta) for rho, "min_honest", "noise_sd"}, "figures":
 * [{"figure", "half_width95", ("group_size")}], "filters", "description",
 * "words"}. spec's protocol is the one the query would run. *out is a new
 * object (json_decref it). TLY_ENOMEM.
 */
TLY_MUST tly_err tly_estimate_json(const struct tly_spec *spec, const struct tly_catalogue *cat,
                                   const struct tly_noise_params *p, const struct tly_estimate *e,
                                   json_t **out);

#endif
