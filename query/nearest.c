/*
 * nearest.c - the nearest name to a word (nearest.h).
 */
#include "query/nearest.h"

#include <string.h>

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;
	return m < c ? m : c;
}

/* Optimal string alignment over the rows d[i][*] for i <= la; row 0 and
 * column 0 are the distances to the empty prefix. */
size_t
tly_nearest_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[TLY_NEAREST_MAX_LEN + 1][TLY_NEAREST_MAX_LEN + 1];

	if (la > TLY_NEAREST_MAX_LEN || lb > TLY_NEAREST_MAX_LEN)
		return TLY_NEAREST_FAR;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[la][lb];
}

size_t
tly_nearest_threshold(size_t len)
{
	size_t third = len / 3;
	return third < 1 ? 1 : third > 2 ? 2 : third;
}

const char *
tly_nearest(const char *word, const char *const *names, size_t count)
{
	size_t limit = tly_nearest_threshold(strlen(word)), best_distance = TLY_NEAREST_FAR;
	const char *best = NULL;

	for (size_t i = 0; i < count; i++) {
		if (names[i] == NULL)
			continue;
		size_t distance = tly_nearest_distance(word, names[i]);
		if (distance == 0)
			return NULL;
		if (distance <= limit && distance < best_distance) {
			best = names[i];
			best_distance = distance;
		}
	}
	return best;
}
