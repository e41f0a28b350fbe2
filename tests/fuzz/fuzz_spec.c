/*
 * Fuzz the query and catalogue parsers (query/spec.h). Every input is
 * read both as a query against a fixed catalogue (the synthetic patients
 * table) and as a catalogue. An accepted query must have a canonical form
 * that parses back to the same canonical bytes, a hash, a shape within the
 * caps and group values inside their domains; an accepted catalogue must
 * dump to bytes that parse and dump again identically. A refusal must name
 * a field and give a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char catalogue_json[] =
    "{\"datasets\": [{\"name\": \"patients\", \"max_sites_per_person\": 3, \"columns\": ["
    "{\"name\": \"age\", \"type\": \"integer\", \"min\": 0, \"max\": 110},"
    "{\"name\": \"age_band\", \"type\": \"categorical\","
    " \"domain\": [\"0-17\", \"18-39\", \"40-64\", \"65-79\", \"80+\"]},"
    "{\"name\": \"sex\", \"type\": \"categorical\", \"domain\": [\"F\", \"M\"]},"
    "{\"name\": \"imd_decile\", \"type\": \"categorical\","
    " \"domain\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]},"
    "{\"name\": \"ethnicity\", \"type\": \"categorical\","
    " \"domain\": [\"Asian\", \"Black\", \"Mixed\", \"White\", \"Other\", \"Not stated\"]},"
    "{\"name\": \"has_diabetes\", \"type\": \"categorical\", \"domain\": [\"0\", \"1\"]},"
    "{\"name\": \"bmi\", \"type\": \"integer\", \"min\": 10, \"max\": 80},"
    "{\"name\": \"specialty\", \"type\": \"categorical\", \"domain\": [\"General Surgery\","
    " \"Urology\", \"Trauma & Orthopaedics\", \"ENT\", \"Ophthalmology\", \"Cardiology\"]},"
    "{\"name\": \"wait_weeks\", \"type\": \"integer\", \"min\": 0, \"max\": 104},"
    "{\"name\": \"ae_attendances_12m\", \"type\": \"integer\", \"min\": 0, \"max\": 50}]},"
    "{\"name\": \"extremes\", \"columns\": ["
    "{\"name\": \"big\", \"type\": \"integer\", \"min\": -9223372036854775808,"
    " \"max\": 9223372036854775807},"
    "{\"name\": \"odd\", \"type\": \"categorical\","
    " \"domain\": [\"a\\\\b\", \"q\\\"d\", \"-1\", \"x'); DROP TABLE t; --\"]}]}]}";

static void
check_error(const struct tly_field_error *err)
{
	if (memchr(err->field, '\0', sizeof err->field) == NULL || err->field[0] == '\0' ||
	    memchr(err->reason, '\0', sizeof err->reason) == NULL || err->reason[0] == '\0')
		abort();
}

static void
check_shape(const struct tly_spec *spec, const struct tly_catalogue *cat)
{
	const struct tly_dataset *ds = &cat->datasets[spec->dataset];
	size_t groups = tly_spec_groups(spec, cat), cells = tly_spec_cells(spec, cat);
	int values[TLY_SPEC_GROUP_BY_MAX];
	uint64_t l1, l2sq;

	if (groups == 0 || cells == 0 || cells > TLY_SPEC_CELLS_MAX)
		abort();
	tly_spec_group_values(spec, cat, groups - 1, values);
	for (size_t i = 0; i < spec->group_by_count; i++)
		if (values[i] < 0 ||
		    (size_t)values[i] >= ds->columns[spec->group_by[i]].domain_count)
			abort();
	if (tly_spec_sensitivity(spec, cat, &l1, &l2sq) == TLY_OK && (l1 == 0 || l2sq == 0) &&
	    spec->measure != TLY_MEASURE_SUM)
		abort();
	(void)tly_spec_cell_bound(spec, cat, 1000);
	if (spec->privacy_num == 0 || spec->privacy_den == 0)
		abort();
}

static void
fuzz_query(const struct tly_catalogue *cat, const uint8_t *data, size_t size)
{
	struct tly_spec spec, again;
	struct tly_field_error err;
	uint8_t hash[TLY_HASH_BYTES];
	char *first, *second;

	if (tly_spec_parse(&spec, cat, (const char *)data, size, &err) != TLY_OK) {
		check_error(&err);
		return;
	}
	check_shape(&spec, cat);
	if (tly_spec_canonical(&spec, cat, &first) != TLY_OK ||
	    tly_spec_hash(&spec, cat, hash) != TLY_OK)
		abort();
	if (strlen(first) > TLY_SPEC_JSON_MAX)
		abort();
	if (tly_spec_parse(&again, cat, first, strlen(first), &err) != TLY_OK)
		abort();
	if (tly_spec_canonical(&again, cat, &second) != TLY_OK || strcmp(first, second) != 0)
		abort();
	free(first);
	free(second);
	tly_spec_fini(&again);
	tly_spec_fini(&spec);
}

static void
fuzz_catalogue(const uint8_t *data, size_t size)
{
	struct tly_catalogue cat, again;
	struct tly_field_error err;
	char *first, *second;

	if (tly_catalogue_parse(&cat, (const char *)data, size, &err) != TLY_OK) {
		check_error(&err);
		return;
	}
	if (tly_catalogue_dump(&cat, &first) != TLY_OK)
		abort();
	if (tly_catalogue_parse(&again, first, strlen(first), &err) != TLY_OK)
		abort();
	if (tly_catalogue_dump(&again, &second) != TLY_OK || strcmp(first, second) != 0)
		abort();
	free(first);
	free(second);
	tly_catalogue_fini(&again);
	tly_catalogue_fini(&cat);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tly_catalogue cat;
	static int ready;

	if (!ready) {
		struct tly_field_error err;
		if (tly_catalogue_parse(&cat, catalogue_json, strlen(catalogue_json), &err) !=
		    TLY_OK)
			abort();
		ready = 1;
	}
	fuzz_query(&cat, data, size);
	fuzz_catalogue(data, size);
	return 0;
}
