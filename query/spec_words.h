/*
 * spec_words.h - a query in plain words, with every filter, for the people
 * who read results: `tally audit explain`, the release JSON ("filters",
 * "description") and the first line of `tally query --format csv`. A query
 * that narrows down to one person must read as what it is, not as "the
 * count over dataset patients".
 *
 * The input is a query's JSON object as tly_spec_canonical writes it (what
 * the transparency log holds and every node hashed). Only "dataset",
 * "measure", "where", "group_by" and "compare" are read, so keys added to the
 * canonical form later change nothing here. Nothing is trusted: a log may
 * have been tampered with, so names must be identifiers ([a-z][a-z0-9_]*,
 * at most TLY_SPEC_NAME_MAX), operators and measures must be the canonical
 * ones (tly_spec_op_name, tly_spec_measure_name), and string values are
 * written JSON-quoted (escapes included), so no value can break a line, a
 * CSV field or a sentence.
 *
 * One filter reads "column op value": `age >= 65`, `sex = "F"`,
 * `ethnicity in ("Asian", "Black")`; integers bare, strings quoted.
 *
 * The sentence: the measure, the dataset, every filter, the grouping:
 *   count of people in dataset "patients" where age >= 65 and
 *   has_diabetes = "1", by age_band and sex
 *   mean of wait_weeks (each value clipped to its declared bounds) in
 *   dataset "patients", with no filter, by specialty
 *   histogram of ae_attendances_12m with bin edges 0, 1, 2, 5, 10 in
 *   dataset "patients" where sex = "F"
 *   rate per 100000 of people with has_diabetes = "1", directly
 *   age-standardised by age to the European Standard Population 2013 in
 *   dataset "patients", with no filter, by imd_decile, each compared with
 *   imd_decile = "10" as a ratio
 * (one line; wrapped here only). A rate's numerator reads as filters do;
 * "compare" is read when present.
 *
 * Errors: TLY_EFORMAT when the object is not shaped like a query (a field
 * missing or of the wrong type, an unknown operator or measure, a name
 * that is not an identifier); TLY_ENOMEM. Outputs are written only on
 * success.
 *
 * Thread safety: no shared state.
 */
#ifndef TLY_SPEC_WORDS_H
#define TLY_SPEC_WORDS_H

#include <jansson.h>

#include "query/spec.h"

/* One "where" clause ({"column", "op", "value"}) in words. *text is
 * malloc'd, NUL-terminated. */
TLY_MUST tly_err tly_spec_words_filter(const json_t *clause, char **text);

/* Every filter of spec, in its order: *filters is a new JSON array of
 * strings (json_decref it), empty when there is no filter. */
TLY_MUST tly_err tly_spec_words_filters(const json_t *spec, json_t **filters);

/* The whole query in one sentence. *sentence is malloc'd. */
TLY_MUST tly_err tly_spec_words_sentence(const json_t *spec, char **sentence);

#endif
