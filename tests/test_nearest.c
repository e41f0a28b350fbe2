/* query/nearest.c: Damerau-Levenshtein distance and "did you mean". */
#include <criterion/criterion.h>
#include <string.h>

#include "query/nearest.h"

struct known {
	const char *a, *b;
	size_t distance;
};

/* Known answers: the optimal string alignment distance, worked by hand. */
static const struct known known[] = {
    {"", "", 0},
    {"", "abc", 3},
    {"abc", "", 3},
    {"config", "config", 0},
    {"confg", "config", 1},
    {"config", "confg", 1},
    {"cnofig", "config", 1},
    {"sevre", "serve", 1},
    {"kitten", "sitting", 3},
    {"ca", "abc", 3},
    {"abcdef", "badcfe", 3},
    {"age", "agee", 1},
    {"people", "peopel", 1},
    {"seed", "sites", 3},
    {"flaw", "lawn", 2},
};

Test(nearest, known_distances)
{
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		cr_expect_eq(tly_nearest_distance(known[i].a, known[i].b), known[i].distance,
		             "d(\"%s\", \"%s\") = %zu, expected %zu", known[i].a, known[i].b,
		             tly_nearest_distance(known[i].a, known[i].b), known[i].distance);
}

/* A transposition of two adjacent characters costs 1, not 2 (the plain
 * Levenshtein distance), anywhere in the word. */
Test(nearest, transpositions_cost_one)
{
	cr_assert_eq(tly_nearest_distance("ab", "ba"), 1);
	cr_assert_eq(tly_nearest_distance("protocol", "rpotocol"), 1);
	cr_assert_eq(tly_nearest_distance("protocol", "rpotoclo"), 2);
	cr_assert_eq(tly_nearest_distance("protocol", "protocl"), 1);
	cr_assert_eq(tly_nearest_distance("protocol", "protocOl"), 1);
}

Test(nearest, symmetric)
{
	static const char *const words[] = {"", "a", "config", "confg", "sevre", "serve", "zebra"};
	for (size_t i = 0; i < 7; i++)
		for (size_t j = 0; j < 7; j++)
			cr_assert_eq(tly_nearest_distance(words[i], words[j]),
			             tly_nearest_distance(words[j], words[i]));
}

Test(nearest, too_long_is_far)
{
	char long_word[TLY_NEAREST_MAX_LEN + 2];
	memset(long_word, 'a', sizeof long_word - 1);
	long_word[sizeof long_word - 1] = '\0';
	cr_assert_eq(tly_nearest_distance(long_word, "a"), TLY_NEAREST_FAR);
	long_word[TLY_NEAREST_MAX_LEN] = '\0';
	cr_assert_eq(tly_nearest_distance(long_word, long_word), 0);
}

Test(nearest, thresholds)
{
	cr_assert_eq(tly_nearest_threshold(0), 1);
	cr_assert_eq(tly_nearest_threshold(2), 1);
	cr_assert_eq(tly_nearest_threshold(5), 1);
	cr_assert_eq(tly_nearest_threshold(6), 2);
	cr_assert_eq(tly_nearest_threshold(40), 2);
}

static const char *const options[] = {"config", "format", "sites",    "seed", "serve",
                                      "stop",   "people", "protocol", "help"};
enum { OPTIONS = sizeof options / sizeof options[0] };

Test(nearest, suggests_the_nearest)
{
	cr_assert_str_eq(tly_nearest("confg", options, OPTIONS), "config");
	cr_assert_str_eq(tly_nearest("sevre", options, OPTIONS), "serve");
	cr_assert_str_eq(tly_nearest("peopel", options, OPTIONS), "people");
	cr_assert_str_eq(tly_nearest("protcool", options, OPTIONS), "protocol");
	cr_assert_str_eq(tly_nearest("hlep", options, OPTIONS), "help");
}

/* The nearest name wins whatever its place ("sied" is 2 from "sites",
 * listed first, and 1 from "seed"); ties go to the first listed. */
Test(nearest, nearest_wins_over_first)
{
	cr_assert_str_eq(tly_nearest("sied", options, OPTIONS), "seed");
	static const char *const tied[] = {"abcx", "abcy"};
	cr_assert_str_eq(tly_nearest("abcz", tied, 2), "abcx");
}

Test(nearest, nothing_far_is_offered)
{
	cr_assert_null(tly_nearest("verbose", options, OPTIONS));
	cr_assert_null(tly_nearest("xyz", options, OPTIONS));
	/* "formt" is 1 from "format": offered; "frmt" is 2 at length 4: not. */
	cr_assert_str_eq(tly_nearest("formt", options, OPTIONS), "format");
	cr_assert_null(tly_nearest("frmt", options, OPTIONS));
	/* Length 6: 2 edits are offered ("cnfog" is 5 long: not). */
	cr_assert_str_eq(tly_nearest("cnofgi", options, OPTIONS), "config");
	cr_assert_null(tly_nearest("", options, OPTIONS));
}

Test(nearest, an_exact_name_or_none_gives_null)
{
	cr_assert_null(tly_nearest("config", options, OPTIONS));
	cr_assert_null(tly_nearest("confg", NULL, 0));
	static const char *const holes[] = {NULL, "config", NULL};
	cr_assert_str_eq(tly_nearest("confg", holes, 3), "config");
}
