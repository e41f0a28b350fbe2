/*
 * nearest.h - "did you mean": the name of a list nearest to a word that is
 * not in it, by Damerau-Levenshtein distance (optimal string alignment:
 * insertions, deletions, substitutions and transpositions of two adjacent
 * characters, each costing 1). Used for unknown options, commands,
 * columns and datasets. Pure: no allocation, no I/O; thread-safe.
 */
#ifndef TLY_QUERY_NEAREST_H
#define TLY_QUERY_NEAREST_H

#include <stddef.h>

/* Words longer than this are never near anything (their distance is
 * TLY_NEAREST_FAR). */
enum { TLY_NEAREST_MAX_LEN = 64, TLY_NEAREST_FAR = 1000 };

/* The distance between a and b (both NUL-terminated, compared byte by
 * byte, case-sensitive), or TLY_NEAREST_FAR when either is longer than
 * TLY_NEAREST_MAX_LEN. */
size_t tly_nearest_distance(const char *a, const char *b);

/* The largest distance at which a name is offered for a word of len
 * characters: 1 up to 5 characters, then 2 (a third of the length,
 * rounded down, at least 1, at most 2). */
size_t tly_nearest_threshold(size_t len);

/* The name of names[0..count) nearest to word, the first of equals, or
 * NULL when none is within tly_nearest_threshold(strlen(word)) or word
 * itself is one of them. NULL entries of names are skipped. The result
 * points into names. */
const char *tly_nearest(const char *word, const char *const *names, size_t count);

#endif
