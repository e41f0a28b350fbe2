/*
 * Fuzz the words for a query (query/spec_words.h), which `tally audit
 * explain` applies to spec JSON read from a log that may have been
 * tampered with. Any JSON: the words are refused or come out as one line
 * with no control character (so no value can break the CSV's comment line
 * or the explanation). A query the parser accepts against a fixed
 * catalogue: its canonical form always has words, with one filter per
 * clause.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/spec.h"
#include "query/spec_words.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char catalogue_json[] =
    "{\"datasets\": [{\"name\": \"patients\", \"columns\": ["
    "{\"name\": \"age\", \"type\": \"integer\", \"min\": 0, \"max\": 110},"
    "{\"name\": \"age_band\", \"type\": \"categorical\","
    " \"domain\": [\"0-17\", \"18-39\", \"40-64\", \"65-79\", \"80+\"]},"
    "{\"name\": \"sex\", \"type\": \"categorical\", \"domain\": [\"F\", \"M\"]},"
    "{\"name\": \"has_diabetes\", \"type\": \"categorical\", \"domain\": [\"0\", \"1\"]},"
    "{\"name\": \"odd\", \"type\": \"categorical\","
    " \"domain\": [\"a\\\\b\", \"q\\\"d\", \"-1\", \"x'); DROP TABLE t; --\", \"\\u00e9\"]},"
    "{\"name\": \"wait_weeks\", \"type\": \"integer\", \"min\": 0, \"max\": 104}]}]}";

static void
one_line(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
		if (*p < 0x20)
			abort();
}

/* Words for any JSON: refused, or one clean line each. */
static void
any(const json_t *spec, int must_succeed)
{
	char *sentence;
	json_t *filters;
	tly_err rv = tly_spec_words_sentence(spec, &sentence);

	if (rv == TLY_OK) {
		one_line(sentence);
		free(sentence);
	} else if (rv != TLY_EFORMAT || must_succeed) {
		abort();
	}
	rv = tly_spec_words_filters(spec, &filters);
	if (rv == TLY_OK) {
		if (must_succeed &&
		    json_array_size(filters) != json_array_size(json_object_get(spec, "where")))
			abort();
		for (size_t i = 0; i < json_array_size(filters); i++)
			one_line(json_string_value(json_array_get(filters, i)));
		json_decref(filters);
	} else if (rv != TLY_EFORMAT || must_succeed) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tly_catalogue cat;
	static int ready;
	struct tly_spec spec;
	char *canonical;

	if (!ready) {
		if (tly_catalogue_parse(&cat, catalogue_json, strlen(catalogue_json), NULL) !=
		    TLY_OK)
			abort();
		ready = 1;
	}
	json_t *raw = json_loadb((const char *)data, size, 0, NULL);
	if (raw != NULL)
		any(raw, 0);
	json_decref(raw);
	if (tly_spec_parse(&spec, &cat, (const char *)data, size, NULL) != TLY_OK)
		return 0;
	if (tly_spec_canonical(&spec, &cat, &canonical) != TLY_OK)
		abort();
	json_t *obj = json_loads(canonical, 0, NULL);
	if (obj == NULL)
		abort();
	any(obj, 1);
	json_decref(obj);
	free(canonical);
	tly_spec_fini(&spec);
	return 0;
}
