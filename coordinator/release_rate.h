/*
 * release_rate.h - the cells of a rate or dsr release (the figures of
 * query/rate.h in the result JSON of release.h):
 *
 *   {"group": {...}, "value": 71.3, "ci95": [65.2, 77.9], "per": 1000,
 *    "numerator": {"value": 1234, "noise_range": [1229, 1239]},
 *    "denominator": {"value": 17302, "noise_range": [17292, 17312]}}
 *
 * value: per N/D (rate) or the dsr per `per`, rounded to keep three
 * significant digits of the interval's half-width (at most 6 decimals),
 * the interval rounded outwards. numerator and denominator: the noisy
 * counts clamped at 0 (the parts the value is made of: value = per
 * numerator / denominator for a rate; for a dsr the sums over the bands),
 * and noise_range: where the interval assumed the true count to be (each
 * cell within its noise half-width, query/rate.h). A dsr cell adds
 * "standard": "esp2013", and "empty_bands": k when k of its bands had no
 * one after noise (counted as rate 0 in value). A figure with no one in
 * the denominator after noise has "value" null, "ci95" [0, per] or what the
 * noise allows, and a "note". With "compare", every cell has "ratio" or
 * "difference": {"value", "ci95"} against the reference group (which has
 * "reference": true), from both groups' 97.5% intervals (a ratio's upper
 * end is null when the reference's lower limit is 0), or null when there
 * is no comparison.
 *
 * Disclosure control: suppress_below N suppresses a group whose noisy
 * denominator is below N ("value", "ci95", the parts and the comparison
 * null, "suppressed": true); round_to R rounds the parts (values to the
 * nearest multiple, ranges outwards), not the rate, which is a ratio.
 */
#ifndef TLY_COORDINATOR_RELEASE_RATE_H
#define TLY_COORDINATOR_RELEASE_RATE_H

#include <jansson.h>

#include "release.h"

/* The "cells" array of a rate or dsr release. in has passed release.c's
 * checks (cells, noise, contributors). *cells is a new reference. Errors:
 * those of tly_rate_half_width with why, TLY_ENOMEM. */
TLY_MUST tly_err tly_release_rate_cells(const struct tly_release_input *in, json_t **cells,
                                        char *why, size_t why_len);

/* The "measure" object of a rate or dsr release: its canonical form
 * ("op", "numerator" clauses, "per", and "age_column", "standard" for a
 * dsr). NULL on allocation failure. */
json_t *tly_release_rate_measure(const struct tly_spec *spec, const struct tly_catalogue *cat);

#endif
