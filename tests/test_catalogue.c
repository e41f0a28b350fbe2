/* query/catalogue: parsing the catalogue JSON (names, types, domains,
 * bounds, max_sites_per_person, the caps, unknown and repeated entries;
 * every error names its field), the canonical dump and the look-ups. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/spec.h"

#define DS(cols) "{\"datasets\":[{\"name\":\"patients\",\"columns\":[" cols "]}]}"
#define SEX      "{\"name\":\"sex\",\"type\":\"categorical\",\"domain\":[\"F\",\"M\"]}"
#define AGE      "{\"name\":\"age\",\"type\":\"integer\",\"min\":0,\"max\":110}"

static tly_err
parse(struct tly_catalogue *cat, const char *json, struct tly_field_error *err)
{
	return tly_catalogue_parse(cat, json, strlen(json), err);
}

static void
expect_error(const char *json, const char *field, const char *reason)
{
	struct tly_catalogue cat = {0};
	struct tly_field_error err;

	memset(&err, 0, sizeof err);
	cr_assert_eq(parse(&cat, json, &err), TLY_EINVAL, "accepted: %s", json);
	cr_assert_str_eq(err.field, field, "reason: %s", err.reason);
	cr_assert(strstr(err.reason, reason) != NULL, "reason \"%s\" lacks \"%s\"", err.reason,
	          reason);
	cr_assert_eq(cat.dataset_count, 0, "*out untouched on failure");
	cr_assert_null(cat.datasets);
}

Test(catalogue, parses_and_finds)
{
	struct tly_catalogue cat;
	struct tly_field_error err;

	cr_assert_eq(parse(&cat, DS(SEX "," AGE), &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cat.dataset_count, 1);
	const struct tly_dataset *ds = tly_catalogue_find(&cat, "patients");
	cr_assert_not_null(ds);
	cr_assert_null(tly_catalogue_find(&cat, "patient"));
	cr_assert_eq(ds->max_sites_per_person, 1, "the default");
	cr_assert_eq(tly_dataset_column(ds, "age"), 1);
	cr_assert_eq(tly_dataset_column(ds, "ages"), -1);
	const struct tly_column *sex = &ds->columns[0], *age = &ds->columns[1];
	cr_assert_eq(sex->kind, TLY_COLUMN_CATEGORICAL);
	cr_assert_eq(tly_column_value(sex, "M"), 1);
	cr_assert_eq(tly_column_value(sex, "X"), -1);
	cr_assert_eq(age->kind, TLY_COLUMN_INTEGER);
	cr_assert_eq(age->min, 0);
	cr_assert_eq(age->max, 110);
	cr_assert_eq(tly_column_value(age, "0"), -1, "integer columns have no domain");
	tly_catalogue_fini(&cat);
	cr_assert_null(cat.datasets);
	tly_catalogue_fini(NULL);
}

Test(catalogue, empty_catalogue_and_dataset)
{
	struct tly_catalogue cat;
	struct tly_field_error err;

	cr_assert_eq(parse(&cat, "{\"datasets\":[]}", &err), TLY_OK);
	cr_assert_eq(cat.dataset_count, 0);
	tly_catalogue_fini(&cat);
	cr_assert_eq(parse(&cat, DS(""), &err), TLY_OK);
	cr_assert_eq(cat.datasets[0].column_count, 0);
	tly_catalogue_fini(&cat);
}

/* Integer domain values are kept as their decimal strings; min == max is
 * allowed; the dump is canonical and parses back to the same dump. */
Test(catalogue, dump_round_trip)
{
	static const char *in =
	    "{\"datasets\":[{\"columns\":[{\"type\":\"categorical\",\"name\":"
	    "\"code\",\"domain\":[3,-7,\"x\"]},{\"name\":\"n\",\"type\":\"integer\","
	    "\"min\":-5,\"max\":-5}],\"name\":\"d\",\"max_sites_per_person\":2}]}";
	static const char *want =
	    "{\"datasets\":[{\"columns\":[{\"domain\":[\"3\",\"-7\",\"x\"],"
	    "\"name\":\"code\",\"type\":\"categorical\"},{\"max\":-5,\"min\":-5,"
	    "\"name\":\"n\",\"type\":\"integer\"}],\"max_sites_per_person\":2,"
	    "\"name\":\"d\"}]}";
	struct tly_catalogue cat, again;
	struct tly_field_error err;
	char *json = NULL, *json2 = NULL;

	cr_assert_eq(parse(&cat, in, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(tly_catalogue_dump(&cat, &json), TLY_OK);
	cr_assert_str_eq(json, want);
	cr_assert_eq(parse(&again, json, &err), TLY_OK);
	cr_assert_eq(tly_catalogue_dump(&again, &json2), TLY_OK);
	cr_assert_str_eq(json, json2);
	free(json);
	free(json2);
	tly_catalogue_fini(&cat);
	tly_catalogue_fini(&again);
}

Test(catalogue, top_level_errors)
{
	expect_error("[]", "$", "must be an object");
	expect_error("{", "$", "not valid JSON");
	expect_error("{}", "datasets", "missing");
	expect_error("{\"datasets\":[],\"extra\":1}", "extra", "");
	expect_error("{\"datasets\":{}}", "datasets", "expected");
	expect_error("{\"datasets\":[7]}", "datasets[0]", "expected an object");
}

Test(catalogue, name_errors)
{
	expect_error("{\"datasets\":[{\"name\":\"Patients\",\"columns\":[]}]}", "datasets[0].name",
	             "is not a name");
	expect_error("{\"datasets\":[{\"name\":\"\",\"columns\":[]}]}", "datasets[0].name",
	             "is not a name");
	expect_error(DS("{\"name\":\"9lives\",\"type\":\"integer\",\"min\":0,\"max\":1}"),
	             "datasets[0].columns[0].name", "is not a name");
	expect_error(DS(AGE "," AGE), "datasets[0].columns[1].name",
	             "column \"age\" appears twice");
	expect_error(
	    "{\"datasets\":[{\"name\":\"d\",\"columns\":[]},{\"name\":\"d\",\"columns\":[]}]}",
	    "datasets[1].name", "dataset \"d\" appears twice");
}

/* A name of exactly TLY_SPEC_NAME_MAX bytes is fine; one more is not. */
Test(catalogue, name_length_boundary)
{
	char json[512], name[TLY_SPEC_NAME_MAX + 2];
	struct tly_catalogue cat;
	struct tly_field_error err;

	memset(name, 'a', TLY_SPEC_NAME_MAX);
	name[TLY_SPEC_NAME_MAX] = '\0';
	snprintf(json, sizeof json, "{\"datasets\":[{\"name\":\"%s\",\"columns\":[]}]}", name);
	cr_assert_eq(parse(&cat, json, &err), TLY_OK, "%s", err.reason);
	tly_catalogue_fini(&cat);
	strcat(name, "a");
	snprintf(json, sizeof json, "{\"datasets\":[{\"name\":\"%s\",\"columns\":[]}]}", name);
	expect_error(json, "datasets[0].name", "at most 63 bytes");
}

Test(catalogue, column_errors)
{
	expect_error(DS("{\"name\":\"a\",\"type\":\"float\"}"), "datasets[0].columns[0].type",
	             "unknown type \"float\"");
	expect_error(DS("{\"name\":\"a\",\"type\":\"integer\",\"min\":0}"),
	             "datasets[0].columns[0].max", "missing");
	expect_error(DS("{\"name\":\"a\",\"type\":\"integer\",\"min\":0.5,\"max\":1}"),
	             "datasets[0].columns[0].min", "expected an integer");
	expect_error(DS("{\"name\":\"a\",\"type\":\"integer\",\"min\":2,\"max\":1}"),
	             "datasets[0].columns[0].max", "max 1 is below min 2");
	expect_error(DS("{\"name\":\"a\",\"type\":\"integer\",\"min\":0,\"max\":1,\"domain\":[1]}"),
	             "datasets[0].columns[0].domain", "");
	expect_error(DS("{\"name\":\"a\",\"type\":\"categorical\",\"domain\":[\"x\"],\"min\":0}"),
	             "datasets[0].columns[0].min", "");
	expect_error(DS("3"), "datasets[0].columns[0]", "expected an object");
}

Test(catalogue, domain_errors)
{
	expect_error(DS("{\"name\":\"a\",\"type\":\"categorical\",\"domain\":[]}"),
	             "datasets[0].columns[0].domain", "0 values; a domain has 1 to 256");
	expect_error(DS("{\"name\":\"a\",\"type\":\"categorical\",\"domain\":[\"x\",\"y\",\"x\"]}"),
	             "datasets[0].columns[0].domain[2]", "\"x\" appears twice");
	expect_error(DS("{\"name\":\"a\",\"type\":\"categorical\",\"domain\":[\"1\",1]}"),
	             "datasets[0].columns[0].domain[1]", "\"1\" appears twice");
	expect_error(DS("{\"name\":\"a\",\"type\":\"categorical\",\"domain\":[\"\"]}"),
	             "datasets[0].columns[0].domain[0]", "values are 1 to 63 bytes");
	expect_error(DS("{\"name\":\"a\",\"type\":\"categorical\",\"domain\":[\"a\\tb\"]}"),
	             "datasets[0].columns[0].domain[0]", "control character");
	expect_error(DS("{\"name\":\"a\",\"type\":\"categorical\",\"domain\":[true]}"),
	             "datasets[0].columns[0].domain[0]", "expected a string or an integer");
}

/* 256 values pass and 257 do not; a 63-byte value passes and 64 does not. */
static char *
domain_json(size_t count, size_t value_len)
{
	size_t cap = 256 + count * (value_len + 16);
	char *json = malloc(cap), *p = json;

	cr_assert_not_null(json);
	p += sprintf(p, "{\"datasets\":[{\"name\":\"d\",\"columns\":[{\"name\":\"c\",\"type\":"
	                "\"categorical\",\"domain\":[");
	for (size_t i = 0; i < count; i++)
		p += sprintf(p, "%s\"%0*zu\"", i ? "," : "", (int)value_len, i);
	strcpy(p, "]}]}]}");
	return json;
}

Test(catalogue, domain_boundaries)
{
	struct tly_catalogue cat;
	struct tly_field_error err;
	char *json = domain_json(TLY_SPEC_DOMAIN_MAX, TLY_SPEC_VALUE_MAX);

	cr_assert_eq(parse(&cat, json, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cat.datasets[0].columns[0].domain_count, TLY_SPEC_DOMAIN_MAX);
	tly_catalogue_fini(&cat);
	free(json);
	json = domain_json(TLY_SPEC_DOMAIN_MAX + 1, 4);
	expect_error(json, "datasets[0].columns[0].domain", "257 values; a domain has 1 to 256");
	free(json);
	json = domain_json(1, TLY_SPEC_VALUE_MAX + 1);
	expect_error(json, "datasets[0].columns[0].domain[0]", "values are 1 to 63 bytes");
	free(json);
}

Test(catalogue, sites_bounds)
{
	struct tly_catalogue cat;
	struct tly_field_error err;
	char json[256];

	snprintf(json, sizeof json,
	         "{\"datasets\":[{\"name\":\"d\",\"max_sites_per_person\":%d,\"columns\":[]}]}",
	         TLY_SPEC_SITES_MAX);
	cr_assert_eq(parse(&cat, json, &err), TLY_OK, "%s", err.reason);
	cr_assert_eq(cat.datasets[0].max_sites_per_person, TLY_SPEC_SITES_MAX);
	tly_catalogue_fini(&cat);
	snprintf(json, sizeof json,
	         "{\"datasets\":[{\"name\":\"d\",\"max_sites_per_person\":%d,\"columns\":[]}]}",
	         TLY_SPEC_SITES_MAX + 1);
	expect_error(json, "datasets[0].max_sites_per_person", "is outside 1..");
	expect_error("{\"datasets\":[{\"name\":\"d\",\"max_sites_per_person\":0,\"columns\":[]}]}",
	             "datasets[0].max_sites_per_person", "0 is outside 1..");
	expect_error(
	    "{\"datasets\":[{\"name\":\"d\",\"max_sites_per_person\":\"2\",\"columns\":[]}]}",
	    "datasets[0].max_sites_per_person", "expected an integer");
}

/* TLY_SPEC_DATASETS_MAX datasets pass, one more does not; the same for
 * TLY_SPEC_COLUMNS_MAX columns. */
Test(catalogue, count_caps)
{
	struct tly_catalogue cat;
	struct tly_field_error err;
	char json[8192], *p;

	for (int n = TLY_SPEC_DATASETS_MAX; n <= TLY_SPEC_DATASETS_MAX + 1; n++) {
		p = json + sprintf(json, "{\"datasets\":[");
		for (int i = 0; i < n; i++)
			p += sprintf(p, "%s{\"name\":\"d%d\",\"columns\":[]}", i ? "," : "", i);
		strcpy(p, "]}");
		if (n == TLY_SPEC_DATASETS_MAX) {
			cr_assert_eq(parse(&cat, json, &err), TLY_OK, "%s", err.reason);
			tly_catalogue_fini(&cat);
		} else {
			expect_error(json, "datasets", "17 datasets; the limit is 16");
		}
	}
	for (int n = TLY_SPEC_COLUMNS_MAX; n <= TLY_SPEC_COLUMNS_MAX + 1; n++) {
		p = json + sprintf(json, "{\"datasets\":[{\"name\":\"d\",\"columns\":[");
		for (int i = 0; i < n; i++)
			p += sprintf(
			    p, "%s{\"name\":\"c%d\",\"type\":\"integer\",\"min\":0,\"max\":1}",
			    i ? "," : "", i);
		strcpy(p, "]}]}");
		if (n == TLY_SPEC_COLUMNS_MAX) {
			cr_assert_eq(parse(&cat, json, &err), TLY_OK, "%s", err.reason);
			tly_catalogue_fini(&cat);
		} else {
			expect_error(json, "datasets[0].columns", "65 columns; the limit is 64");
		}
	}
}
