/*
 * release.h - a finished query's result as the planner sees it (DESIGN.md
 * sections 3 step 6, 5 and 7.3): the noisy cells decoded into groups, each
 * with its 95% interval, the privacy statement, and disclosure control.
 * Everything here is post-processing of the noisy total: it costs no
 * privacy.
 *
 * The JSON (compact, keys in this order):
 *
 *   {"query_id": "<32 hex>", "dataset": "patients",
 *    "measure": {"op": "mean", "column": "wait_weeks"},   (+ "edges" for histograms)
 *    "filters": ["age >= 65", "sex = \"F\""],
 *    "description": "mean of wait_weeks (each value clipped to its declared bounds) in
 *                    dataset \"patients\" where age >= 65 and sex = \"F\", by specialty",
 *    "contributors": 5, "dropped": [4],
 *    "protocol": "committee", "group_by": ["specialty"], "trusts": [1, 2, 3, 5, 6],
 *    "privacy": {"mechanism": "laplace", "epsilon": 0.5, "epsilon_exact": "0.5",
 *                "delta": 0, "min_honest": 2, "noise_sd": 2.828, "ci95_half_width": 6},
 *    "sdc": {"suppress_below": 0, "round_to": 0},
 *    "cells": [{"group": {"sex": "F"}, "value": 1234, "ci95": [1228, 1240]}, ...]}
 *
 * filters: every "where" clause of the query, in words, in the canonical
 * order ([] when none); description: the whole query in one sentence, the
 * measure, the dataset, every filter and the grouping (both from
 * query/spec_words.h, so a release that isolates one person says so).
 *
 * protocol: the one the query ran; group_by: its grouping columns, in
 * order; trusts: the ids of the contributors whose answers (and noise) the
 * totals hold, as the round lists them ("contributors" is their number).
 *
 * privacy: the guarantee, from the query's noise parameters. laplace:
 * "epsilon" (number) and "epsilon_exact" (the charged fraction as an exact
 * string: a terminating decimal such as "0.5" when there is one, else
 * "num/den"), delta 0. skellam (what a query's "gaussian" runs, see
 * query/spec.h): "rho" and "rho_exact" likewise, and the (epsilon,
 * delta)-DP it implies, "epsilon" and "delta" (tly_noise_describe).
 * "none" (tests only): no figures. "noise_sd" and "ci95_half_width" (k)
 * describe the noise actually in each released cell, given the
 * contributors that took part (tly_noise_describe with n contributors):
 * P(|noise| <= k) >= 0.95. noise_sd has 4 significant digits. For a
 * mean they describe each raw cell, S' and W = w C: the count's noise in
 * rows is k / w.
 *
 * cells, in the order of query/spec.h (row-major over group_by, then
 * histogram bins). "group" maps each grouping column to its value; a
 * histogram cell also has "bin": "[e_i, e_{i+1})" (the last bin is closed,
 * "[e, e']", and per spec.h the first and last take values beyond the
 * edges).
 *
 *   count, sum, histogram: "value" = the noisy cell (an integer) and
 *   "ci95" = value -/+ k, both clamped to what the truth can be: a count
 *   is >= 0, a sum has the sign of its column's bounds (min >= 0: >= 0;
 *   max <= 0: <= 0). A cell whose value was moved by the clamp has
 *   "clamped": true (docs/PRIVACY.md, "Negative figures are clamped").
 *
 *   mean (docs/PRIVACY.md "Means"): the cells are S' = the sum of
 *   (clip(x) - c) and W = w C (query/spec.h, tly_spec_mean_encoding), and
 *   the estimates c + S'/Chat with Chat = W/w. Let k be the smallest
 *   half-width with P(|noise| <= k) >= 39/40 (tly_dp_noise_quantile at
 *   97.5%; the same noise in both cells). With probability >= 1 - 1/40 -
 *   1/40 = 0.95 (a union bound: no independence between the two cells is
 *   assumed) the true s' lies in [S' - k, S' + k] and the true count C, an
 *   integer, in [ceil((W - k)/w), floor((W + k)/w)]; a group with a mean
 *   has C >= 1, so C in [cl, cu] with cl >= 1. s'/C is increasing in s'
 *   and monotone in C on that box, so the mean's range is
 *   c + [min((S'-k)/cl, (S'-k)/cu), max((S'+k)/cl, (S'+k)/cu)], clipped to
 *   [lo, hi] (a mean of clipped values lies there): "ci95" covers the true
 *   (clipped) mean with probability >= 0.95 per cell, whatever the data
 *   (tests measure 0.98 or more). "value" = c + S'/Chat clipped to
 *   [lo, hi]. When Chat < 1 there is no estimate: "value" null, "ci95"
 *   [lo, hi], "note" says why. The mean and its interval are rounded to two
 *   significant digits of the interval's half-width (outwards for the
 *   interval), at most 6 decimals.
 *   "count" = {"value": Chat (a real), "ci95": [ceil((W - k95)/w),
 *   floor((W + k95)/w)] at the cell's own 95% half-width k95}; "sum" =
 *   {"value": c Chat + S', the un-centred sum of the clipped values,
 *   "ci95": its range over the 97.5% box (C in [max(cl', 0), cu]),
 *   >= 95%}; both clamped as above, and rounded like the mean.
 *
 * Disclosure control (struct tly_release_sdc; 0 = off):
 *   suppress_below N: a cell whose noisy count is below N is released as
 *   {"group", "value": null, "ci95": null, "suppressed": true} (mean: its
 *   "sum" and "count" are null too; its noisy count is W/w). Applies to count, histogram and mean
 *   cells; a sum has no count and is never suppressed.
 *   round_to R: count, sum and histogram values, and a mean's sum and count,
 *   are rounded to the nearest multiple of R (halves away from zero), and
 *   their interval ends outwards to multiples of R, so the interval still
 *   covers what it covered. A mean is a ratio, not a count: it is computed
 *   from the unrounded cells and not rounded to R.
 *
 * Errors: TLY_EINVAL with why when contributors < h (tly_noise_describe
 * refuses: a total of fewer than h shares may not be released) or the
 * inputs disagree (cells not tly_spec_cells, noise parameters of another
 * mechanism or privacy figure than the spec); TLY_ERANGE from
 * tly_noise_describe when the interval is out of its reach; TLY_ENOMEM.
 *
 * Thread safety: no shared state.
 */
#ifndef TLY_COORDINATOR_RELEASE_H
#define TLY_COORDINATOR_RELEASE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/error.h"
#include "wire/codec.h"
#include "query/noise.h"
#include "query/spec.h"

struct tly_release_sdc {
	uint32_t suppress_below; /* 0 = off */
	uint32_t round_to;       /* 0 or 1 = off */
};

/*
 * The disclosure control that applies to a query: per field, the query's
 * own "sdc" value when it set one (nonzero), else the coordinator's
 * default. The canonical spec writes 0 for "not asked", so a query can
 * tighten or change the default but not switch it off.
 */
struct tly_release_sdc tly_release_sdc_resolve(const struct tly_spec *spec,
                                               struct tly_release_sdc defaults);

/* Everything a release is made from; all borrowed for the call. */
struct tly_release_input {
	const uint8_t *query_id; /* TLY_QUERY_ID_BYTES */
	const struct tly_spec *spec;
	const struct tly_catalogue *cat;
	const struct tly_noise_params *noise; /* tly_noise_calibrate of the QUERY sent */
	const int64_t *cells;                 /* the decoded noisy total */
	size_t d;                             /* = tly_spec_cells(spec, cat) */
	const struct tly_idlist *contributors;
	const struct tly_idlist *dropped; /* may be NULL: none */
	struct tly_release_sdc sdc;       /* as resolved */
};

/* Build the result JSON. On success *out is a new reference (json_decref
 * it). why (may be NULL when why_len is 0) says what went wrong. */
TLY_MUST tly_err tly_release_build(const struct tly_release_input *in, json_t **out, char *why,
                                   size_t why_len);

/* The same, serialised compactly: *json is malloc'd and NUL-terminated. */
TLY_MUST tly_err tly_release_encode(const struct tly_release_input *in, char **json, char *why,
                                    size_t why_len);

/* The "group" object of group g (row-major, query/spec.h): each group_by
 * column's name and value; NULL when jansson cannot allocate. For the
 * release's builders (release.c, release_rate.c). */
json_t *tly_release_group(const struct tly_release_input *in, const struct tly_dataset *ds,
                          size_t g);

/* Exact text of num/den (den > 0): a terminating decimal when there is one
 * ("0.5", "2", "0.125"), else "num/den". out holds at least 48 bytes. */
void tly_release_exact(char *out, size_t len, uint64_t num, uint64_t den);

#endif
