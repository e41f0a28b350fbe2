/*
 * The query spec and catalogue (query/spec.h), against the synthetic
 * `patients` table of DESIGN.md section 7.4 (person_id is not exposed):
 * every DESIGN example parses; every refusal names its field; names and
 * values that look like SQL are unknown columns or plain values; canonical
 * forms agree exactly when meanings do; privacy amounts become the exact
 * fractions their decimals say; cells, groups, sensitivity and cell bounds
 * follow the contract, max_sites_per_person included; the catalogue round
 * trips.
 *
 * JSON is written with ' for " (J() swaps them back) to keep it readable;
 * a real apostrophe is written \u0027.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/field.h"
#include "wire/codec.h"
#include "query/spec.h"

static const char catalogue_json[] =
    "{'datasets': [{'name': 'patients', 'max_sites_per_person': 1, 'columns': ["
    " {'name': 'age', 'type': 'integer', 'min': 0, 'max': 110},"
    " {'name': 'age_band', 'type': 'categorical',"
    "  'domain': ['0-17', '18-39', '40-64', '65-79', '80+']},"
    " {'name': 'sex', 'type': 'categorical', 'domain': ['F', 'M']},"
    " {'name': 'imd_decile', 'type': 'categorical',"
    "  'domain': ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']},"
    " {'name': 'ethnicity', 'type': 'categorical',"
    "  'domain': ['Asian', 'Black', 'Mixed', 'White', 'Other', 'Not stated']},"
    " {'name': 'has_diabetes', 'type': 'categorical', 'domain': ['0', '1']},"
    " {'name': 'has_copd', 'type': 'categorical', 'domain': ['0', '1']},"
    " {'name': 'has_hypertension', 'type': 'categorical', 'domain': ['0', '1']},"
    " {'name': 'bmi', 'type': 'integer', 'min': 10, 'max': 80},"
    " {'name': 'specialty', 'type': 'categorical', 'domain': ['General Surgery',"
    "  'Urology', 'Trauma \\u0026 Orthopaedics', 'ENT', 'Ophthalmology', 'Oral Surgery',"
    "  'General Medicine', 'Gastroenterology', 'Cardiology', 'Dermatology',"
    "  'Respiratory Medicine', 'Gynaecology']},"
    " {'name': 'wait_weeks', 'type': 'integer', 'min': 0, 'max': 104},"
    " {'name': 'ae_attendances_12m', 'type': 'integer', 'min': 0, 'max': 50}]},"
    " {'name': 'extremes', 'columns': ["
    "  {'name': 'big', 'type': 'integer', 'min': -9223372036854775808,"
    "   'max': 9223372036854775807},"
    "  {'name': 'neg', 'type': 'integer', 'min': -7, 'max': -3},"
    "  {'name': 'zero', 'type': 'integer', 'min': 0, 'max': 0},"
    "  {'name': 'odd', 'type': 'categorical',"
    "   'domain': ['x\\u0027); DROP TABLE patients; --', 'a\\\\b', 'quote\\'d', 7, -1]}]}]}";

/* Column indices in `patients`. */
enum { AGE, AGE_BAND, SEX, IMD, ETHNICITY, DIABETES, COPD, HYPERTENSION, BMI, SPECIALTY, WAIT, AE };

/* The query of DESIGN.md section 7.2. */
static const char design_query[] = "{'dataset': 'patients', 'measure': {'op': 'count'},"
                                   " 'where': [{'column': 'has_diabetes', 'op': '=', 'value': 1},"
                                   "           {'column': 'age', 'op': '>=', 'value': 65}],"
                                   " 'group_by': ['age_band', 'sex'],"
                                   " 'privacy': {'mechanism': 'laplace', 'epsilon': 0.5},"
                                   " 'sdc': {'suppress_below': 8, 'round_to': 5}}";

static struct tly_catalogue cat;

static char jbuf[3][1 << 17];

/* s with every ' turned into ", in one of three rotating buffers. */
static const char *
J(const char *s)
{
	static int next;
	char *out = jbuf[next++ % 3];
	size_t n = strlen(s);

	cr_assert(n < sizeof jbuf[0]);
	for (size_t i = 0; i <= n; i++)
		out[i] = s[i] == '\'' ? '"' : s[i];
	return out;
}

static void
setup(void)
{
	struct tly_field_error err;
	const char *json = J(catalogue_json);

	cr_assert_eq(tly_catalogue_parse(&cat, json, strlen(json), &err), TLY_OK, "%s: %s",
	             err.field, err.reason);
}

static void
teardown(void)
{
	tly_catalogue_fini(&cat);
}

TestSuite(spec, .init = setup, .fini = teardown);
TestSuite(catalogue, .init = setup, .fini = teardown);

static void
parse_ok(struct tly_spec *spec, const char *query)
{
	struct tly_field_error err;
	const char *json = J(query);

	cr_assert_eq(tly_spec_parse(spec, &cat, json, strlen(json), &err), TLY_OK, "%s\n  %s: %s",
	             json, err.field, err.reason);
}

static char *
canonical_of(const char *query)
{
	struct tly_spec spec;
	char *out;

	parse_ok(&spec, query);
	cr_assert_eq(tly_spec_canonical(&spec, &cat, &out), TLY_OK);
	tly_spec_fini(&spec);
	return out;
}

/* The query is refused with TLY_EINVAL, naming field, the reason holding
 * `reason`; the output is left alone. */
static void
parse_bad(const char *query, const char *field, const char *reason)
{
	struct tly_field_error err;
	struct tly_spec spec;
	const char *json = J(query);

	memset(&spec, 0xa5, sizeof spec);
	memset(&err, 0, sizeof err);
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, strlen(json), &err), TLY_EINVAL,
	             "accepted: %s", json);
	cr_expect_str_eq(err.field, field, "%s\n  reason: %s", json, err.reason);
	cr_expect(strstr(err.reason, reason) != NULL, "%s\n  reason \"%s\" lacks \"%s\"", json,
	          err.reason, reason);
	for (size_t i = 0; i < sizeof spec; i++)
		cr_assert_eq(((unsigned char *)&spec)[i], 0xa5, "output written on failure");
}

/* ---- catalogue ---- */

Test(catalogue, parsed)
{
	const struct tly_dataset *ds = tly_catalogue_find(&cat, "patients");
	const struct tly_dataset *ex = tly_catalogue_find(&cat, "extremes");

	cr_assert_eq(cat.dataset_count, 2);
	cr_assert(ds == &cat.datasets[0] && ex == &cat.datasets[1]);
	cr_assert_null(tly_catalogue_find(&cat, "person"));
	cr_assert_eq(ds->max_sites_per_person, 1);
	cr_assert_eq(ex->max_sites_per_person, 1, "the default");
	cr_assert_eq(ds->column_count, 12);
	cr_assert_eq(tly_dataset_column(ds, "person_id"), -1);
	cr_assert_eq(tly_dataset_column(ds, "wait_weeks"), WAIT);
	cr_assert_eq(ds->columns[AGE].kind, TLY_COLUMN_INTEGER);
	cr_assert(ds->columns[AGE].min == 0 && ds->columns[AGE].max == 110);
	cr_assert_eq(ds->columns[SPECIALTY].domain_count, 12);
	cr_assert_eq(tly_column_value(&ds->columns[SPECIALTY], "Trauma & Orthopaedics"), 2);
	cr_assert_eq(tly_column_value(&ds->columns[SEX], "f"), -1);
	cr_assert_eq(tly_column_value(&ds->columns[AGE], "1"), -1, "not categorical");
	cr_assert_eq(ex->columns[0].min, INT64_MIN);
	cr_assert_eq(ex->columns[0].max, INT64_MAX);
	cr_assert_str_eq(ex->columns[3].domain[0], "x'); DROP TABLE patients; --");
	cr_assert_str_eq(ex->columns[3].domain[1], "a\\b");
	cr_assert_str_eq(ex->columns[3].domain[2], "quote\"d");
	cr_assert_str_eq(ex->columns[3].domain[3], "7", "integers are their decimal strings");
	cr_assert_str_eq(ex->columns[3].domain[4], "-1");
}

Test(catalogue, round_trip)
{
	struct tly_catalogue again;
	struct tly_field_error err;
	char *first, *second;

	cr_assert_eq(tly_catalogue_dump(&cat, &first), TLY_OK);
	cr_assert_eq(tly_catalogue_parse(&again, first, strlen(first), &err), TLY_OK, "%s: %s",
	             err.field, err.reason);
	cr_assert_eq(tly_catalogue_dump(&again, &second), TLY_OK);
	cr_assert_str_eq(first, second);
	cr_assert_eq(again.dataset_count, cat.dataset_count);
	for (size_t d = 0; d < cat.dataset_count; d++) {
		const struct tly_dataset *a = &cat.datasets[d], *b = &again.datasets[d];
		cr_assert_str_eq(a->name, b->name);
		cr_assert_eq(a->max_sites_per_person, b->max_sites_per_person);
		cr_assert_eq(a->column_count, b->column_count);
		for (size_t c = 0; c < a->column_count; c++) {
			const struct tly_column *x = &a->columns[c], *y = &b->columns[c];
			cr_assert_str_eq(x->name, y->name);
			cr_assert_eq(x->kind, y->kind);
			cr_assert_eq(x->domain_count, y->domain_count);
			for (size_t v = 0; v < x->domain_count; v++)
				cr_assert_str_eq(x->domain[v], y->domain[v]);
			if (x->kind == TLY_COLUMN_INTEGER)
				cr_assert(x->min == y->min && x->max == y->max);
		}
	}
	/* Sorted keys, compact, declared domain order. */
	cr_assert(strncmp(first,
	                  J("{'datasets':[{'columns':[{'max':110,'min':0,'name':'age',"
	                    "'type':'integer'},{'domain':['0-17','18-39'"),
	                  60) == 0,
	          "%s", first);
	cr_assert(strstr(first, J("'max_sites_per_person':1,'name':'extremes'")) != NULL);
	free(first);
	free(second);
	tly_catalogue_fini(&again);
	tly_catalogue_fini(&again);
	tly_catalogue_fini(NULL);
}

static void
catalogue_bad(const char *text, const char *field, const char *reason)
{
	struct tly_catalogue out;
	struct tly_field_error err;
	const char *json = J(text);

	memset(&out, 0xa5, sizeof out);
	memset(&err, 0, sizeof err);
	cr_assert_eq(tly_catalogue_parse(&out, json, strlen(json), &err), TLY_EINVAL,
	             "accepted: %s", json);
	cr_expect_str_eq(err.field, field, "%s\n  reason: %s", json, err.reason);
	cr_expect(strstr(err.reason, reason) != NULL, "%s\n  reason \"%s\" lacks \"%s\"", json,
	          err.reason, reason);
	for (size_t i = 0; i < sizeof out; i++)
		cr_assert_eq(((unsigned char *)&out)[i], 0xa5, "output written on failure");
}

#define DS(columns) "{'datasets': [{'name': 'd', 'columns': [" columns "]}]}"
#define SEXCOL      "{'name': 'sex', 'type': 'categorical', 'domain': ['F', 'M']}"

Test(catalogue, refusals)
{
	catalogue_bad("[]", "$", "must be an object");
	catalogue_bad("{'datasets': []", "$", "not valid JSON");
	catalogue_bad("{}", "datasets", "missing");
	catalogue_bad("{'datasets': {}}", "datasets", "expected an array, got an object");
	catalogue_bad("{'datasets': [], 'extra': 1}", "extra", "unknown key");
	catalogue_bad("{'datasets': [], 'datasets': []}", "$", "duplicate");
	catalogue_bad("{'datasets': [1]}", "datasets[0]", "expected an object");
	catalogue_bad("{'datasets': [{'columns': []}]}", "datasets[0].name", "missing");
	catalogue_bad("{'datasets': [{'name': 'Patients', 'columns': []}]}", "datasets[0].name",
	              "\"Patients\" is not a name");
	catalogue_bad("{'datasets': [{'name': '1st', 'columns': []}]}", "datasets[0].name",
	              "not a name");
	catalogue_bad("{'datasets': [{'name': 'p', 'columns': []}, {'name': 'p', 'columns': []}]}",
	              "datasets[1].name", "appears twice");
	catalogue_bad("{'datasets': [{'name': 'p'}]}", "datasets[0].columns", "missing");
	catalogue_bad("{'datasets': [{'name': 'p', 'max_sites_per_person': 0, 'columns': []}]}",
	              "datasets[0].max_sites_per_person", "outside 1..1000");
	catalogue_bad("{'datasets': [{'name': 'p', 'max_sites_per_person': 1.5, 'columns': []}]}",
	              "datasets[0].max_sites_per_person", "expected an integer");
	catalogue_bad(DS("{'name': 'age; DROP TABLE patients', 'type': 'integer', 'min': 0, "
	                 "'max': 1}"),
	              "datasets[0].columns[0].name", "\"age; DROP TABLE patients\" is not a name");
	catalogue_bad(DS("{'name': '\\u00e2ge', 'type': 'integer', 'min': 0, 'max': 1}"),
	              "datasets[0].columns[0].name", "\"\\xc3\\xa2ge\" is not a name");
	catalogue_bad(
	    DS("{'name': 'a234567890123456789012345678901234567890123456789012345678901234',"
	       " 'type': 'integer', 'min': 0, 'max': 1}"),
	    "datasets[0].columns[0].name", "not a name");
	catalogue_bad(DS(SEXCOL "," SEXCOL), "datasets[0].columns[1].name", "appears twice");
	catalogue_bad(DS("{'name': 'x', 'type': 'text'}"), "datasets[0].columns[0].type",
	              "unknown type \"text\"");
	catalogue_bad(DS("{'name': 'x', 'type': 'categorical', 'domain': []}"),
	              "datasets[0].columns[0].domain", "0 values");
	catalogue_bad(DS("{'name': 'x', 'type': 'categorical', 'domain': ['a', 'b', 'a']}"),
	              "datasets[0].columns[0].domain[2]", "\"a\" appears twice");
	catalogue_bad(DS("{'name': 'x', 'type': 'categorical', 'domain': ['1', 1]}"),
	              "datasets[0].columns[0].domain[1]", "\"1\" appears twice");
	catalogue_bad(DS("{'name': 'x', 'type': 'categorical', 'domain': ['']}"),
	              "datasets[0].columns[0].domain[0]", "1 to 63 bytes");
	catalogue_bad(DS("{'name': 'x', 'type': 'categorical', 'domain': ['a\\tb']}"),
	              "datasets[0].columns[0].domain[0]", "control character");
	catalogue_bad(DS("{'name': 'x', 'type': 'categorical', 'domain': [true]}"),
	              "datasets[0].columns[0].domain[0]", "got true");
	catalogue_bad(DS("{'name': 'x', 'type': 'categorical', 'domain': ['a'], 'min': 0}"),
	              "datasets[0].columns[0].min", "unknown key");
	catalogue_bad(DS("{'name': 'x', 'type': 'integer', 'min': 5, 'max': 4}"),
	              "datasets[0].columns[0].max", "below min");
	catalogue_bad(DS("{'name': 'x', 'type': 'integer', 'min': 0}"),
	              "datasets[0].columns[0].max", "missing");
	catalogue_bad(DS("{'name': 'x', 'type': 'integer', 'min': 0, 'max': 1e3}"),
	              "datasets[0].columns[0].max",
	              "expected an integer, got the real number 1000.0");
	catalogue_bad(DS("{'name': 'x', 'type': 'integer', 'min': 0, 'max': 9223372036854775808}"),
	              "$", "too big integer");
}

Test(catalogue, caps)
{
	char *json = malloc(TLY_SPEC_CATALOGUE_JSON_MAX + 2);
	struct tly_field_error err;
	struct tly_catalogue out;
	size_t n = 0;

	cr_assert_not_null(json);
	/* 257 values in a domain. */
	n = (size_t)sprintf(json, "{\"datasets\":[{\"name\":\"d\",\"columns\":[{\"name\":\"x\","
	                          "\"type\":\"categorical\",\"domain\":[");
	for (int i = 0; i < TLY_SPEC_DOMAIN_MAX + 1; i++)
		n += (size_t)sprintf(json + n, "%s\"v%d\"", i ? "," : "", i);
	n += (size_t)sprintf(json + n, "]}]}]}");
	cr_assert_eq(tly_catalogue_parse(&out, json, n, &err), TLY_EINVAL);
	cr_assert_str_eq(err.field, "datasets[0].columns[0].domain");
	/* 65 columns. */
	n = (size_t)sprintf(json, "{\"datasets\":[{\"name\":\"d\",\"columns\":[");
	for (int i = 0; i < TLY_SPEC_COLUMNS_MAX + 1; i++)
		n += (size_t)sprintf(json + n,
		                     "%s{\"name\":\"c%d\",\"type\":\"integer\","
		                     "\"min\":0,\"max\":1}",
		                     i ? "," : "", i);
	n += (size_t)sprintf(json + n, "]}]}");
	cr_assert_eq(tly_catalogue_parse(&out, json, n, &err), TLY_EINVAL);
	cr_assert_str_eq(err.field, "datasets[0].columns");
	/* 17 datasets. */
	n = (size_t)sprintf(json, "{\"datasets\":[");
	for (int i = 0; i < TLY_SPEC_DATASETS_MAX + 1; i++)
		n += (size_t)sprintf(json + n, "%s{\"name\":\"d%d\",\"columns\":[]}", i ? "," : "",
		                     i);
	n += (size_t)sprintf(json + n, "]}");
	cr_assert_eq(tly_catalogue_parse(&out, json, n, &err), TLY_EINVAL);
	cr_assert_str_eq(err.field, "datasets");
	/* Over the byte limit: refused unread (the bytes are spaces). */
	memset(json, ' ', TLY_SPEC_CATALOGUE_JSON_MAX + 1);
	memcpy(json, "{\"datasets\":[]}", 15);
	cr_assert_eq(tly_catalogue_parse(&out, json, TLY_SPEC_CATALOGUE_JSON_MAX + 1, &err),
	             TLY_EINVAL);
	cr_assert_str_eq(err.field, "$");
	cr_assert(strstr(err.reason, "limit") != NULL);
	cr_assert_eq(tly_catalogue_parse(&out, json, 4096, NULL), TLY_OK, "spaces are fine");
	cr_assert_eq(out.dataset_count, 0);
	tly_catalogue_fini(&out);
	free(json);
}

/* ---- the DESIGN examples ---- */

Test(spec, design_example)
{
	struct tly_spec spec;

	parse_ok(&spec, design_query);
	cr_assert_eq(spec.dataset, 0);
	cr_assert_eq(spec.measure, TLY_MEASURE_COUNT);
	cr_assert_eq(spec.measure_column, -1);
	cr_assert_eq(spec.edge_count, 0);
	/* Sorted by column: age (0) before has_diabetes (5). */
	cr_assert_eq(spec.where_count, 2);
	cr_assert_eq(spec.where[0].column, AGE);
	cr_assert_eq(spec.where[0].op, TLY_WHERE_GE);
	cr_assert_eq(spec.where[0].value_count, 1);
	cr_assert_eq(spec.where[0].int_values[0], 65);
	cr_assert_null(spec.where[0].domain_values);
	cr_assert_eq(spec.where[1].column, DIABETES);
	cr_assert_eq(spec.where[1].op, TLY_WHERE_EQ);
	cr_assert_eq(spec.where[1].domain_values[0], 1, "integer 1 is the value \"1\"");
	cr_assert_null(spec.where[1].int_values);
	cr_assert_eq(spec.group_by_count, 2);
	cr_assert(spec.group_by[0] == AGE_BAND && spec.group_by[1] == SEX);
	cr_assert_eq(spec.mechanism, TLY_MECH_LAPLACE);
	cr_assert(spec.privacy_num == 1 && spec.privacy_den == 2);
	cr_assert(spec.suppress_below == 8 && spec.round_to == 5);
	cr_assert_eq(spec.protocol, TLY_PROTOCOL_COMMITTEE);
	cr_assert_eq(spec.protocol_given, 0, "no \"protocol\": the coordinator may choose");
	tly_spec_fini(&spec);
	tly_spec_fini(&spec);
	tly_spec_fini(NULL);
}

/* The canonical form is part of the contract (its hash is signed): pin it. */
Test(spec, design_canonical_bytes)
{
	struct tly_spec spec;
	uint8_t hash[TLY_HASH_BYTES], expect[TLY_HASH_BYTES];
	const char *golden = J("{'dataset':'patients',"
	                       "'domains':{'age_band':['0-17','18-39','40-64','65-79','80+'],"
	                       "'sex':['F','M']},'group_by':['age_band','sex'],"
	                       "'measure':{'op':'count'},"
	                       "'privacy':{'epsilon':'1/2','mechanism':'laplace'},"
	                       "'protocol':'committee','sdc':{'round_to':5,'suppress_below':8},"
	                       "'where':[{'column':'age','op':'>=','value':65},"
	                       "{'column':'has_diabetes','op':'=','value':'1'}]}");
	char *text = canonical_of(design_query);

	cr_assert_str_eq(text, golden);
	parse_ok(&spec, design_query);
	cr_assert_eq(tly_spec_hash(&spec, &cat, hash), TLY_OK);
	tly_hash(expect, "tally/query/v1", (const uint8_t *)golden, strlen(golden));
	cr_assert_arr_eq(hash, expect, TLY_HASH_BYTES);
	tly_spec_fini(&spec);
	free(text);
}

static const char *const accepted[] = {
    "{'dataset': 'patients', 'measure': {'op': 'count'},"
    " 'where': [{'column': 'sex', 'op': 'in', 'value': ['F', 'M']}],"
    " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
    "{'dataset': 'patients', 'measure': {'op': 'sum', 'column': 'wait_weeks'},"
    " 'group_by': ['specialty'], 'privacy': {'mechanism': 'gaussian', 'rho': 0.1},"
    " 'protocol': 'secagg'}",
    "{'dataset': 'patients', 'measure': {'op': 'mean', 'column': 'bmi'},"
    " 'where': [{'column': 'has_copd', 'op': '!=', 'value': '0'}],"
    " 'group_by': ['imd_decile', 'ethnicity'],"
    " 'privacy': {'mechanism': 'skellam', 'rho': '1/3'}, 'protocol': 'secagg+'}",
    "{'dataset': 'patients',"
    " 'measure': {'op': 'histogram', 'column': 'ae_attendances_12m',"
    "             'edges': [0, 1, 2, 5, 10, 50]},"
    " 'where': [{'column': 'age', 'op': '<', 'value': 18}, {'column': 'age', 'op': '>', 'value': "
    "4},"
    "           {'column': 'bmi', 'op': '<=', 'value': 80}],"
    " 'privacy': {'mechanism': 'laplace', 'epsilon': 2}, 'sdc': {'round_to': 5}}",
    "{'dataset': 'patients', 'measure': {'op': 'count'}, 'where': [], 'group_by': [],"
    " 'privacy': {'mechanism': 'laplace', 'epsilon': 1000}, 'sdc': {}}",
    "{'dataset': 'extremes', 'measure': {'op': 'sum', 'column': 'neg'},"
    " 'where': [{'column': 'odd', 'op': 'in', 'value': [-1, 'a\\\\b', 7, 'quote\\'d']},"
    "           {'column': 'big', 'op': '>=', 'value': -9223372036854775808}],"
    " 'group_by': ['odd'], 'privacy': {'mechanism': 'laplace', 'epsilon': 1e-19}}",
};

/* Every example parses, and its canonical form parses to the same
 * canonical form. */
Test(spec, examples_and_fixed_point)
{
	const char *all[sizeof accepted / sizeof *accepted + 1];

	all[0] = design_query;
	memcpy(all + 1, accepted, sizeof accepted);
	for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
		char *first = canonical_of(all[i]), *second;
		struct tly_spec spec;
		struct tly_field_error err;
		cr_assert_eq(tly_spec_parse(&spec, &cat, first, strlen(first), &err), TLY_OK,
		             "%s\n  %s: %s", first, err.field, err.reason);
		cr_assert_eq(tly_spec_canonical(&spec, &cat, &second), TLY_OK);
		cr_assert_str_eq(first, second);
		tly_spec_fini(&spec);
		free(first);
		free(second);
	}
}

Test(spec, example_details)
{
	struct tly_spec spec;

	parse_ok(&spec, accepted[0]);
	cr_assert_eq(spec.where[0].op, TLY_WHERE_IN);
	cr_assert_eq(spec.where[0].value_count, 2);
	cr_assert(spec.privacy_num == 1 && spec.privacy_den == 1);
	tly_spec_fini(&spec);

	parse_ok(&spec, accepted[1]);
	cr_assert_eq(spec.measure, TLY_MEASURE_SUM);
	cr_assert_eq(spec.measure_column, WAIT);
	cr_assert_eq(spec.mechanism, TLY_MECH_SKELLAM);
	cr_assert(spec.privacy_num == 1 && spec.privacy_den == 10);
	cr_assert_eq(spec.protocol, TLY_PROTOCOL_SECAGG);
	cr_assert_eq(spec.protocol_given, 1);
	tly_spec_fini(&spec);

	parse_ok(&spec, accepted[2]);
	cr_assert_eq(spec.where[0].op, TLY_WHERE_NE);
	cr_assert(spec.privacy_num == 1 && spec.privacy_den == 3);
	cr_assert_eq(spec.protocol, TLY_PROTOCOL_SECAGG_PLUS);
	tly_spec_fini(&spec);

	parse_ok(&spec, accepted[3]);
	cr_assert_eq(spec.edge_count, 6);
	cr_assert(spec.edges[0] == 0 && spec.edges[5] == 50);
	cr_assert_eq(spec.where_count, 3);
	cr_assert(spec.where[0].column == AGE && spec.where[0].op == TLY_WHERE_LT);
	cr_assert(spec.where[1].column == AGE && spec.where[1].op == TLY_WHERE_GT);
	cr_assert(spec.suppress_below == 0 && spec.round_to == 5);
	tly_spec_fini(&spec);

	/* An `in` list in domain order: 'a\b' (1), 'quote"d' (2), 7 (3), -1 (4). */
	parse_ok(&spec, accepted[5]);
	cr_assert_eq(spec.dataset, 1);
	cr_assert_eq(spec.where[1].value_count, 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(spec.where[1].domain_values[i], i + 1);
	cr_assert(spec.privacy_num == 1 && spec.privacy_den == UINT64_C(10000000000000000000));
	tly_spec_fini(&spec);
}

/* ---- refusals, each naming its field ---- */

/* A count query with extra members x. */
#define Q(x)                                                                                       \
	"{'dataset': 'patients', 'measure': {'op': 'count'},"                                      \
	" 'privacy': {'mechanism': 'laplace', 'epsilon': 0.5}" x "}"
/* A query with measure m. */
#define QM(m)                                                                                      \
	"{'dataset': 'patients', 'measure': " m                                                    \
	", 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}"
/* A query with privacy p. */
#define QP(p)     "{'dataset': 'patients', 'measure': {'op': 'count'}, 'privacy': " p "}"
#define W(clause) Q(", 'where': [" clause "]")

Test(spec, refusals_document)
{
	parse_bad("", "$", "not valid JSON");
	parse_bad("[]", "$", "must be an object");
	parse_bad("{'dataset': 'patients'", "$", "not valid JSON");
	parse_bad(Q(", 'dataset': 'patients'"), "$", "duplicate object key");
	parse_bad(Q(", 'foo': 1"), "foo", "unknown key");
	parse_bad(Q(", 'Dataset': 1"), "Dataset", "unknown key");
	parse_bad(Q(", '': 1"), "\"\"", "unknown key");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 1, '': 2}"), "privacy.\"\"",
	          "unknown key");
	parse_bad(Q(", 'a\\u0000b': 1"), "$", "not valid JSON");
	parse_bad(Q(", 'evil\\n\\u0001key': 1"), "evil\\x0a\\x01key", "unknown key");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': NaN}"), "$", "not valid JSON");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': Infinity}"), "$", "not valid JSON");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 1e400}"), "$", "overflow");
	parse_bad("{'measure': {'op': 'count'}, 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
	          "dataset", "missing");
	parse_bad("{'dataset': 'patients', 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
	          "measure", "missing");
	parse_bad("{'dataset': 'patients', 'measure': {'op': 'count'}}", "privacy", "missing");
	parse_bad("{'dataset': 'people', 'measure': {'op': 'count'}}", "dataset",
	          "unknown dataset \"people\"");
	parse_bad("{'dataset': ['patients']}", "dataset", "expected a string, got an array");
	parse_bad("{'dataset': 'patients; DROP TABLE patients'}", "dataset",
	          "unknown dataset \"patients; DROP TABLE patients\"");
}

Test(spec, refusals_measure)
{
	parse_bad(QM("'count'"), "measure", "expected an object, got the string \"count\"");
	parse_bad(QM("{}"), "measure.op", "missing");
	parse_bad(QM("{'op': 'median', 'column': 'bmi'}"), "measure.op", "unknown op \"median\"");
	parse_bad(QM("{'op': 'count', 'column': 'bmi'}"), "measure.column", "unknown key");
	parse_bad(QM("{'op': 'sum'}"), "measure.column", "missing");
	parse_bad(QM("{'op': 'sum', 'column': 7}"), "measure.column", "got the integer 7");
	parse_bad(QM("{'op': 'sum', 'column': 'wait'}"), "measure.column",
	          "unknown column \"wait\" in dataset \"patients\"");
	parse_bad(QM("{'op': 'mean', 'column': 'sex'}"), "measure.column",
	          "\"sex\" is categorical; mean needs an integer column");
	parse_bad(QM("{'op': 'mean', 'column': 'bmi', 'edges': [10, 80]}"), "measure.edges",
	          "unknown key");
	parse_bad(QM("{'op': 'histogram', 'column': 'bmi'}"), "measure.edges", "missing");
	parse_bad(QM("{'op': 'histogram', 'column': 'bmi', 'edges': [20]}"), "measure.edges",
	          "1 edges");
	parse_bad(QM("{'op': 'histogram', 'column': 'bmi', 'edges': [20, 30, 30]}"),
	          "measure.edges[2]", "30 is not above the edge before it (30)");
	parse_bad(QM("{'op': 'histogram', 'column': 'bmi', 'edges': [30, 20]}"), "measure.edges[1]",
	          "not above");
	parse_bad(QM("{'op': 'histogram', 'column': 'bmi', 'edges': [5, 20]}"), "measure.edges[0]",
	          "5 is outside the bounds of \"bmi\" [10, 80]");
	parse_bad(QM("{'op': 'histogram', 'column': 'bmi', 'edges': [10, 81]}"), "measure.edges[1]",
	          "outside the bounds");
	parse_bad(QM("{'op': 'histogram', 'column': 'bmi', 'edges': [10, 20.5]}"),
	          "measure.edges[1]",
	          "expected an integer for column \"bmi\", got the real number 20.5");
	parse_bad(QM("{'op': 'histogram', 'column': 'bmi', 'edges': [10, 20.0]}"),
	          "measure.edges[1]", "got the real number 20.0");
	parse_bad(QM("{'op': 'histogram', 'column': 'bmi', 'edges': '10,20'}"), "measure.edges",
	          "expected an array");
}

Test(spec, refusals_histogram_caps)
{
	char edges[2048], query[4096];
	size_t n = 0;

	for (int i = 0; i <= TLY_SPEC_EDGES_MAX; i++)
		n += (size_t)snprintf(edges + n, sizeof edges - n, "%s%d", i ? ", " : "", i);
	snprintf(query, sizeof query, QM("{'op': 'histogram', 'column': 'age', 'edges': [%s]}"),
	         edges);
	parse_bad(query, "measure.edges", "102 edges");
	/* 101 edges (100 bins) on 6 x 12 x 10 x 5 groups: 360000 cells. */
	edges[n - 5] = '\0';
	snprintf(
	    query, sizeof query,
	    "{'dataset': 'patients', 'measure': {'op': 'histogram', 'column': 'age',"
	    " 'edges': [%s]}, 'group_by': ['ethnicity', 'specialty', 'imd_decile', 'age_band'],"
	    " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
	    edges);
	parse_bad(query, "group_by", "360000 cells; the limit is 100000");
}

Test(spec, refusals_where)
{
	parse_bad(Q(", 'where': {'column': 'sex'}"), "where", "expected an array, got an object");
	parse_bad(W("'sex = F'"), "where[0]", "expected an object, got the string \"sex = F\"");
	parse_bad(W("{'op': '=', 'value': 'F'}"), "where[0].column", "missing");
	parse_bad(W("{'column': 'sex', 'value': 'F'}"), "where[0].op", "missing");
	parse_bad(W("{'column': 'sex', 'op': '='}"), "where[0].value", "missing");
	parse_bad(W("{'column': 'sex', 'op': '=', 'value': 'F', 'or': 1}"), "where[0].or",
	          "unknown key");
	parse_bad(W("{'column': 'sex', 'op': '==', 'value': 'F'}"), "where[0].op",
	          "unknown operator \"==\"");
	parse_bad(W("{'column': 'sex', 'op': 'like', 'value': 'F%'}"), "where[0].op",
	          "unknown operator \"like\"");
	parse_bad(W("{'column': 'sex', 'op': '=', 'value': 'F'}, {'column': 'sex', 'op': '<',"
	            " 'value': 'M'}"),
	          "where[1].op", "\"<\" needs an integer column; \"sex\" is categorical");
	parse_bad(W("{'column': 'imd_decile', 'op': '>=', 'value': 5}"), "where[0].op",
	          "\">=\" needs an integer column");
	parse_bad(W("{'column': 'sex', 'op': '=', 'value': 'X'}"), "where[0].value",
	          "\"X\" is not in the domain of column \"sex\"");
	parse_bad(W("{'column': 'sex', 'op': '=', 'value': 'f'}"), "where[0].value",
	          "not in the domain");
	parse_bad(W("{'column': 'sex', 'op': '=', 'value': true}"), "where[0].value",
	          "expected a string or an integer for column \"sex\", got true");
	parse_bad(W("{'column': 'has_diabetes', 'op': '=', 'value': 1.0}"), "where[0].value",
	          "got the real number 1.0");
	parse_bad(W("{'column': 'has_diabetes', 'op': '=', 'value': 2}"), "where[0].value",
	          "\"2\" is not in the domain of column \"has_diabetes\"");
	parse_bad(W("{'column': 'age', 'op': '>=', 'value': '65'}"), "where[0].value",
	          "expected an integer for column \"age\", got the string \"65\"");
	parse_bad(W("{'column': 'age', 'op': '>=', 'value': 65.5}"), "where[0].value",
	          "got the real number 65.5");
	parse_bad(W("{'column': 'age', 'op': '>=', 'value': 111}"), "where[0].value",
	          "111 is outside the bounds of \"age\" [0, 110]");
	parse_bad(W("{'column': 'age', 'op': '<', 'value': -1}"), "where[0].value",
	          "-1 is outside the bounds");
	parse_bad(W("{'column': 'age', 'op': '=', 'value': null}"), "where[0].value", "got null");
	parse_bad(W("{'column': 'sex', 'op': '=', 'value': ['F']}"), "where[0].value",
	          "\"=\" takes one value; use \"in\" for a list");
	parse_bad(W("{'column': 'sex', 'op': 'in', 'value': 'F'}"), "where[0].value",
	          "\"in\" needs an array, got the string \"F\"");
	parse_bad(W("{'column': 'sex', 'op': 'in', 'value': []}"), "where[0].value",
	          "0 values; \"in\" takes 1 to 64");
	parse_bad(W("{'column': 'sex', 'op': 'in', 'value': ['F', 'Q']}"), "where[0].value[1]",
	          "\"Q\" is not in the domain");
	parse_bad(W("{'column': 'age', 'op': 'in', 'value': [1, 2, 300]}"), "where[0].value[2]",
	          "300 is outside the bounds");
	parse_bad(W("{'column': 'age', 'op': 'in', 'value': [1, [2]]}"), "where[0].value[1]",
	          "got an array");
}

Test(spec, refusals_where_caps)
{
	char list[4096], query[8192];
	size_t n = 0;

	for (int i = 0; i < TLY_SPEC_IN_MAX + 1; i++)
		n += (size_t)snprintf(list + n, sizeof list - n, "%s%d", i ? ", " : "", i);
	snprintf(query, sizeof query, W("{'column': 'age', 'op': 'in', 'value': [%s]}"), list);
	parse_bad(query, "where[0].value", "65 values; \"in\" takes 1 to 64");
	n = 0;
	for (int i = 0; i < TLY_SPEC_WHERE_MAX + 1; i++)
		n += (size_t)snprintf(list + n, sizeof list - n,
		                      "%s{'column': 'age', 'op': '!=', 'value': %d}", i ? ", " : "",
		                      i);
	snprintf(query, sizeof query, W("%s"), list);
	parse_bad(query, "where", "17 conditions; the limit is 16");
}

Test(spec, refusals_group_by)
{
	parse_bad(Q(", 'group_by': 'sex'"), "group_by",
	          "expected an array, got the string \"sex\"");
	parse_bad(Q(", 'group_by': [['sex']]"), "group_by[0]", "expected a column name");
	parse_bad(Q(", 'group_by': ['age']"), "group_by[0]",
	          "column \"age\" is an integer; group by categorical columns only");
	parse_bad(Q(", 'group_by': ['sex', 'age_band', 'sex']"), "group_by[2]",
	          "column \"sex\" appears twice");
	parse_bad(Q(", 'group_by': ['sex', 'gender']"), "group_by[1]", "unknown column \"gender\"");
	parse_bad(Q(", 'group_by': ['sex', 'age_band', 'imd_decile', 'has_copd', 'has_diabetes']"),
	          "group_by", "5 columns; the limit is 4");
	parse_bad(Q(", 'group_by': ['person_id']"), "group_by[0]", "unknown column \"person_id\"");
}

/* "domains" pins the cell layout: a query built against a catalogue that
 * lists a grouping domain otherwise is refused, naming the column. */
Test(spec, domains_bind_the_cell_layout)
{
	struct tly_spec spec;
	const char *same = J(Q(", 'group_by': ['sex'], 'domains': {'sex': ['F', 'M']}"));
	const char *empty = J(Q(", 'domains': {}"));

	cr_assert_eq(tly_spec_parse(&spec, &cat, same, strlen(same), NULL), TLY_OK);
	tly_spec_fini(&spec);
	cr_assert_eq(tly_spec_parse(&spec, &cat, empty, strlen(empty), NULL), TLY_OK);
	tly_spec_fini(&spec);
	parse_bad(
	    Q(", 'group_by': ['sex'], 'domains': {'sex': ['M', 'F']}"), "domains.sex",
	    "value 0 is the string \"M\" but this catalogue's domain of \"sex\" has \"F\" there");
	parse_bad(Q(", 'group_by': ['sex'], 'domains': {'sex': ['F']}"), "domains.sex",
	          "1 values but this catalogue's domain of \"sex\" has 2");
	parse_bad(Q(", 'group_by': ['sex'], 'domains': {'sex': ['F', 'M', 'X']}"), "domains.sex",
	          "3 values but this catalogue's domain of \"sex\" has 2");
	parse_bad(Q(", 'group_by': ['sex'], 'domains': {'sex': ['F', 1]}"), "domains.sex",
	          "value 1 is the integer 1");
	parse_bad(Q(", 'group_by': ['sex'], 'domains': {'sex': 'F,M'}"), "domains.sex",
	          "expected an array of values");
	parse_bad(Q(", 'group_by': ['sex', 'age_band'], 'domains': {'sex': ['F', 'M']}"),
	          "domains.age_band", "missing");
	parse_bad(Q(", 'group_by': ['sex'], 'domains': {'sex': ['F', 'M'], 'age_band': []}"),
	          "domains.age_band", "\"age_band\" is not a grouping column of this query");
	parse_bad(Q(", 'domains': {'nonesuch': []}"), "domains.nonesuch",
	          "\"nonesuch\" is not a grouping column");
	parse_bad(Q(", 'domains': ['sex']"), "domains", "expected an object");
}

/* The case that motivated "domains": a node whose catalogue lists sex as
 * M,F gets the canonical query of a coordinator whose catalogue says F,M.
 * Without the domains the same bytes would parse and every sex cell would
 * be read as the other sex. */
Test(spec, canonical_query_refused_by_a_catalogue_in_another_order)
{
	struct tly_catalogue other;
	struct tly_field_error err;
	struct tly_spec spec;
	char *swapped = strdup(J(catalogue_json)), *at, *canonical = canonical_of(design_query);

	cr_assert_not_null(swapped);
	at = strstr(swapped, "\"F\", \"M\"");
	cr_assert_not_null(at, "the test catalogue lists sex as F, M");
	memcpy(at, "\"M\", \"F\"", 8);
	cr_assert_eq(tly_catalogue_parse(&other, swapped, strlen(swapped), &err), TLY_OK);
	cr_assert_eq(tly_spec_parse(&spec, &other, canonical, strlen(canonical), &err), TLY_EINVAL);
	cr_assert_str_eq(err.field, "domains.sex");
	/* The same catalogue accepts its own canonical form. */
	cr_assert_eq(tly_spec_parse(&spec, &cat, canonical, strlen(canonical), &err), TLY_OK);
	tly_spec_fini(&spec);
	tly_catalogue_fini(&other);
	free(swapped);
	free(canonical);
}

Test(spec, refusals_privacy)
{
	parse_bad(QP("'laplace'"), "privacy", "expected an object");
	parse_bad(QP("{'epsilon': 1}"), "privacy.mechanism", "missing");
	parse_bad(QP("{'mechanism': 'exponential', 'epsilon': 1}"), "privacy.mechanism",
	          "unknown mechanism \"exponential\"");
	parse_bad(QP("{'mechanism': 'none', 'epsilon': 1}"), "privacy.mechanism",
	          "unknown mechanism \"none\"");
	parse_bad(QP("{'mechanism': 'laplace'}"), "privacy.epsilon", "missing");
	parse_bad(QP("{'mechanism': 'gaussian'}"), "privacy.rho", "missing");
	parse_bad(QP("{'mechanism': 'laplace', 'rho': 0.1}"), "privacy.rho",
	          "laplace takes epsilon, not rho");
	parse_bad(QP("{'mechanism': 'gaussian', 'epsilon': 1}"), "privacy.epsilon",
	          "gaussian takes rho, not epsilon");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 1, 'delta': 0}"), "privacy.delta",
	          "unknown key");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 0}"), "privacy.epsilon",
	          "must be above 0, got 0");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 0.0}"), "privacy.epsilon",
	          "must be above 0");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': -0.0}"), "privacy.epsilon",
	          "must be above 0");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': -0.5}"), "privacy.epsilon",
	          "must be above 0, got -0.5");
	parse_bad(QP("{'mechanism': 'skellam', 'rho': -3}"), "privacy.rho", "must be above 0");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 1001}"), "privacy.epsilon",
	          "1001/1 is above the limit of 1000");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 1000.5}"), "privacy.epsilon",
	          "above the limit of 1000");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 1e308}"), "privacy.epsilon",
	          "above the limit");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 9223372036854775807}"), "privacy.epsilon",
	          "above the limit");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': '2001/2'}"), "privacy.epsilon",
	          "2001/2 is above the limit");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 0.30000000000000004}"), "privacy.epsilon",
	          "more than 15 significant digits");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 0.1234567890123456}"), "privacy.epsilon",
	          "more than 15 significant digits");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 1e-20}"), "privacy.epsilon", "too small");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 5e-324}"), "privacy.epsilon",
	          "too small");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': 1e-400}"), "privacy.epsilon",
	          "must be above 0");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': '0.5'}"), "privacy.epsilon",
	          "\"0.5\" is not a fraction");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': '1/0'}"), "privacy.epsilon",
	          "not a fraction");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': '0/5'}"), "privacy.epsilon",
	          "must be above 0");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': '01/2'}"), "privacy.epsilon",
	          "not a fraction");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': '-1/2'}"), "privacy.epsilon",
	          "not a fraction");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': '1/2 '}"), "privacy.epsilon",
	          "not a fraction");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': '1/18446744073709551616'}"),
	          "privacy.epsilon", "not a fraction");
	parse_bad(QP("{'mechanism': 'laplace', 'epsilon': true}"), "privacy.epsilon",
	          "expected a number, got true");
}

Test(spec, refusals_sdc_and_protocol)
{
	parse_bad(Q(", 'sdc': []"), "sdc", "expected an object");
	parse_bad(Q(", 'sdc': {'suppress_below': -1}"), "sdc.suppress_below",
	          "-1 is outside 0..4294967295");
	parse_bad(Q(", 'sdc': {'round_to': 4294967296}"), "sdc.round_to", "outside");
	parse_bad(Q(", 'sdc': {'round_to': 5.0}"), "sdc.round_to", "expected an integer");
	parse_bad(Q(", 'sdc': {'round_to': '5'}"), "sdc.round_to", "expected an integer");
	parse_bad(Q(", 'sdc': {'round': 5}"), "sdc.round", "unknown key");
	parse_bad(Q(", 'protocol': 'prio'"), "protocol", "unknown protocol \"prio\"");
	parse_bad(Q(", 'protocol': 'SecAgg'"), "protocol", "unknown protocol");
	parse_bad(Q(", 'protocol': 1"), "protocol", "expected a string, got the integer 1");
}

Test(spec, null_error_report)
{
	struct tly_spec spec;
	const char *json = J(Q(", 'foo': 1"));

	cr_assert_eq(tly_spec_parse(&spec, &cat, json, strlen(json), NULL), TLY_EINVAL);
	json = J(Q(""));
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, strlen(json), NULL), TLY_OK);
	tly_spec_fini(&spec);
}

/* ---- injection: names are looked up, values are data ---- */

Test(spec, injection)
{
	struct tly_spec spec;

	parse_bad(W("{'column': 'age; DROP TABLE patients', 'op': '=', 'value': 1}"),
	          "where[0].column", "unknown column \"age; DROP TABLE patients\" in dataset");
	parse_bad(W("{'column': 'age\\' OR 1=1 --', 'op': '=', 'value': 1}"), "where[0].column",
	          "unknown column \"age\\\" OR 1=1 --\"");
	parse_bad(W("{'column': 'sex\\u0027', 'op': '=', 'value': 'F'}"), "where[0].column",
	          "unknown column \"sex'\"");
	parse_bad(W("{'column': '\\u00e2ge', 'op': '=', 'value': 1}"), "where[0].column",
	          "unknown column \"\\xc3\\xa2ge\"");
	parse_bad(W("{'column': 'AGE', 'op': '=', 'value': 1}"), "where[0].column",
	          "unknown column \"AGE\"");
	parse_bad(W("{'column': 'age ', 'op': '=', 'value': 1}"), "where[0].column",
	          "unknown column");
	parse_bad(W("{'column': 'patients.age', 'op': '=', 'value': 1}"), "where[0].column",
	          "unknown column");
	parse_bad(W("{'column': '*', 'op': '=', 'value': 1}"), "where[0].column", "unknown column");
	parse_bad(Q(", 'group_by': ['sex) UNION SELECT person_id FROM patients --']"),
	          "group_by[0]", "unknown column");
	parse_bad(QM("{'op': 'sum', 'column': 'person_id'}"), "measure.column",
	          "unknown column \"person_id\"");
	parse_bad(
	    W("{'column': 'sex', 'op': '=', 'value': 'F\\u0027 OR \\u00271\\u0027=\\u00271'}"),
	    "where[0].value", "\"F' OR '1'='1\" is not in the domain");
	/* A long value is cut in the echo, and the reason stays in bounds. */
	parse_bad(W("{'column': 'sex', 'op': '=', 'value': "
	            "'\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\u0009\\u000a"
	            "\\u000b\\u000c\\u000d\\u000e\\u000f\\u0010'}"),
	          "where[0].value",
	          "\"\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09\\x0a\\x0b...\"");
	parse_bad(W("{'column': 'sex', 'op': 'in', 'value': ['F', 'M; DELETE FROM patients']}"),
	          "where[0].value[1]", "is not in the domain");
	/* A declared value that looks like SQL is just a value. */
	parse_ok(&spec, "{'dataset': 'extremes', 'measure': {'op': 'count'},"
	                " 'where': [{'column': 'odd', 'op': '=',"
	                "            'value': 'x\\u0027); DROP TABLE patients; --'}],"
	                " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}");
	cr_assert_eq(spec.where[0].domain_values[0], 0);
	tly_spec_fini(&spec);
}

/* ---- canonical form ---- */

static void
same_canonical(const char *a, const char *b)
{
	char *x = canonical_of(a), *y = canonical_of(b);

	cr_assert_str_eq(x, y, "\n  %s\n  %s", J(a), J(b));
	free(x);
	free(y);
}

static void
different_hash(const char *a, const char *b)
{
	struct tly_spec x, y;
	uint8_t hx[TLY_HASH_BYTES], hy[TLY_HASH_BYTES];

	parse_ok(&x, a);
	parse_ok(&y, b);
	cr_assert_eq(tly_spec_hash(&x, &cat, hx), TLY_OK);
	cr_assert_eq(tly_spec_hash(&y, &cat, hy), TLY_OK);
	cr_assert(memcmp(hx, hy, sizeof hx) != 0, "\n  %s\n  %s", J(a), J(b));
	tly_spec_fini(&x);
	tly_spec_fini(&y);
}

Test(spec, canonical_invariances)
{
	/* Key order and white space. */
	same_canonical(
	    design_query,
	    "{'sdc':{'round_to':5,'suppress_below':8},'privacy':{'epsilon':0.5,"
	    "'mechanism':'laplace'},'group_by':['age_band','sex'],'where':[{'value':65,'op':'>=',"
	    "'column':'age'},{'op':'=','column':'has_diabetes','value':'1'}],"
	    "'measure':{'op':'count'},'dataset':'patients','protocol':'committee'}");
	/* Privacy amounts: 0.5, 0.50, 5e-1, '1/2', '2/4'; gaussian is skellam. */
	same_canonical(Q(""), QP("{'mechanism': 'laplace', 'epsilon': 0.50}"));
	same_canonical(Q(""), QP("{'mechanism': 'laplace', 'epsilon': 5e-1}"));
	same_canonical(Q(""), QP("{'mechanism': 'laplace', 'epsilon': '2/4'}"));
	same_canonical(QP("{'mechanism': 'laplace', 'epsilon': 2}"),
	               QP("{'mechanism': 'laplace', 'epsilon': 2.0}"));
	same_canonical(QP("{'mechanism': 'gaussian', 'rho': 0.1}"),
	               QP("{'mechanism': 'skellam', 'rho': '1/10'}"));
	/* `in` order and repeats; one value is `=`; 1 is '1'. */
	same_canonical(W("{'column': 'imd_decile', 'op': 'in', 'value': [3, '1', 10, 1]}"),
	               W("{'column': 'imd_decile', 'op': 'in', 'value': ['1', '3', '10']}"));
	same_canonical(W("{'column': 'age', 'op': 'in', 'value': [70, 65, 70]}"),
	               W("{'column': 'age', 'op': 'in', 'value': [65, 70]}"));
	same_canonical(W("{'column': 'sex', 'op': 'in', 'value': ['M', 'M']}"),
	               W("{'column': 'sex', 'op': '=', 'value': 'M'}"));
	/* Clause order and repeated clauses of a conjunction. */
	same_canonical(W("{'column': 'sex', 'op': '=', 'value': 'F'}, {'column': 'age', 'op': '>',"
	                 " 'value': 3}, {'column': 'sex', 'op': '=', 'value': 'F'}"),
	               W("{'column': 'age', 'op': '>', 'value': 3}, {'column': 'sex', 'op': '=', "
	                 "'value': 'F'}"));
	/* Defaults spelt out or left out. */
	same_canonical(Q(""),
	               Q(", 'where': [], 'group_by': [], 'sdc': {}, 'protocol': 'committee'"));
	same_canonical(Q(""), Q(", 'sdc': {'suppress_below': 0, 'round_to': 1}"));
	/* Unicode escapes are the characters they stand for. */
	same_canonical(Q(""), "{'d\\u0061taset': 'p\\u0061tients', 'measure': {'op': 'count'},"
	                      " 'privacy': {'mechanism': 'laplace', 'epsilon': 0.5}}");
}

Test(spec, canonical_differences)
{
	different_hash(Q(""), QP("{'mechanism': 'laplace', 'epsilon': 0.51}"));
	different_hash(Q(""), QP("{'mechanism': 'laplace', 'epsilon': 0.500000000000001}"));
	different_hash(QP("{'mechanism': 'laplace', 'epsilon': 0.1}"),
	               QP("{'mechanism': 'gaussian', 'rho': 0.1}"));
	different_hash(Q(""), Q(", 'protocol': 'secagg'"));
	different_hash(Q(", 'protocol': 'secagg'"), Q(", 'protocol': 'secagg+'"));
	different_hash(Q(""), Q(", 'sdc': {'round_to': 5}"));
	different_hash(Q(""), Q(", 'sdc': {'suppress_below': 5}"));
	different_hash(Q(", 'group_by': ['sex', 'age_band']"),
	               Q(", 'group_by': ['age_band', 'sex']"));
	different_hash(W("{'column': 'age', 'op': '>', 'value': 64}"),
	               W("{'column': 'age', 'op': '>=', 'value': 64}"));
	different_hash(W("{'column': 'sex', 'op': '=', 'value': 'F'}"),
	               W("{'column': 'sex', 'op': '!=', 'value': 'F'}"));
	different_hash(QM("{'op': 'sum', 'column': 'bmi'}"), QM("{'op': 'mean', 'column': 'bmi'}"));
	different_hash(QM("{'op': 'histogram', 'column': 'bmi', 'edges': [10, 20, 80]}"),
	               QM("{'op': 'histogram', 'column': 'bmi', 'edges': [10, 21, 80]}"));
	different_hash(Q(""), "{'dataset': 'extremes', 'measure': {'op': 'count'},"
	                      " 'privacy': {'mechanism': 'laplace', 'epsilon': 0.5}}");
}

/* ---- exact privacy fractions ---- */

static void
fraction_is(const char *amount, uint64_t num, uint64_t den)
{
	char query[512];
	struct tly_spec spec;

	snprintf(query, sizeof query, QP("{'mechanism': 'laplace', 'epsilon': %s}"), amount);
	parse_ok(&spec, query);
	cr_expect(spec.privacy_num == num && spec.privacy_den == den,
	          "%s: got %llu/%llu, expected %llu/%llu", amount,
	          (unsigned long long)spec.privacy_num, (unsigned long long)spec.privacy_den,
	          (unsigned long long)num, (unsigned long long)den);
	tly_spec_fini(&spec);
}

Test(spec, privacy_fractions)
{
	fraction_is("0.1", 1, 10);
	fraction_is("0.5", 1, 2);
	fraction_is("0.25", 1, 4);
	fraction_is("1", 1, 1);
	fraction_is("1.0", 1, 1);
	fraction_is("2.5", 5, 2);
	fraction_is("0.3", 3, 10);
	fraction_is("1e-5", 1, 100000);
	fraction_is("0.000125", 1, 8000);
	fraction_is("1000", 1000, 1);
	fraction_is("999.999999999999", 999999999999999, 1000000000000);
	fraction_is("0.333333333333333", 333333333333333, 1000000000000000);
	fraction_is("1.5e2", 150, 1);
	fraction_is("1e-19", 1, UINT64_C(10000000000000000000));
	fraction_is("'1/3'", 1, 3);
	fraction_is("'6/4'", 3, 2);
	fraction_is("'1000/1'", 1000, 1);
	fraction_is("'18446744073709551615/18446744073709551615'", 1, 1);
}

/* ---- size limit ---- */

Test(spec, over_long_json)
{
	static char json[TLY_SPEC_JSON_MAX + 2];
	const char *q = J(Q(""));
	struct tly_field_error err;
	struct tly_spec spec;

	memset(json, ' ', sizeof json);
	memcpy(json, q, strlen(q));
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, TLY_SPEC_JSON_MAX, &err), TLY_OK, "%s: %s",
	             err.field, err.reason);
	tly_spec_fini(&spec);
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, TLY_SPEC_JSON_MAX + 1, &err), TLY_EINVAL);
	cr_assert_str_eq(err.field, "$");
	cr_assert(strstr(err.reason, "65537 bytes; the limit is 65536") != NULL, "%s", err.reason);
	/* Refused unread: a length past the limit is never dereferenced. */
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, SIZE_MAX, &err), TLY_EINVAL);
	cr_assert_str_eq(err.field, "$");
}

/* ---- the answer's shape ---- */

static void
shape_is(const char *query, size_t groups, size_t per_group)
{
	struct tly_spec spec;

	parse_ok(&spec, query);
	cr_expect_eq(tly_spec_groups(&spec, &cat), groups, "%s", J(query));
	cr_expect_eq(tly_spec_cells_per_group(&spec), per_group, "%s", J(query));
	cr_expect_eq(tly_spec_cells(&spec, &cat), groups * per_group, "%s", J(query));
	tly_spec_fini(&spec);
}

Test(spec, cells)
{
	shape_is(Q(""), 1, 1);
	shape_is(design_query, 5 * 2, 1);
	shape_is(accepted[1], 12, 1);
	shape_is(accepted[2], 10 * 6, 2);
	shape_is(accepted[3], 1, 5);
	shape_is(accepted[5], 5, 1);
	shape_is(QM("{'op': 'histogram', 'column': 'age', 'edges': [0, 110]}"), 1, 1);
}

Test(spec, group_values)
{
	struct tly_spec spec;
	int values[TLY_SPEC_GROUP_BY_MAX];

	/* age_band (5) x sex (2): the first column varies slowest. */
	parse_ok(&spec, design_query);
	for (size_t g = 0; g < 10; g++) {
		tly_spec_group_values(&spec, &cat, g, values);
		cr_assert_eq(values[0], (int)(g / 2));
		cr_assert_eq(values[1], (int)(g % 2));
		cr_assert(values[2] == -1 && values[3] == -1);
	}
	tly_spec_fini(&spec);

	parse_ok(&spec, Q(", 'group_by': ['ethnicity', 'specialty', 'imd_decile', 'age_band']"));
	cr_assert_eq(tly_spec_groups(&spec, &cat), 6 * 12 * 10 * 5);
	/* g = ((e * 12 + s) * 10 + i) * 5 + a */
	tly_spec_group_values(&spec, &cat, ((4 * 12 + 11) * 10 + 7) * 5 + 3, values);
	cr_assert(values[0] == 4 && values[1] == 11 && values[2] == 7 && values[3] == 3);
	tly_spec_group_values(&spec, &cat, 6 * 12 * 10 * 5 - 1, values);
	cr_assert(values[0] == 5 && values[1] == 11 && values[2] == 9 && values[3] == 4);
	tly_spec_fini(&spec);

	parse_ok(&spec, Q(""));
	tly_spec_group_values(&spec, &cat, 0, values);
	for (int i = 0; i < TLY_SPEC_GROUP_BY_MAX; i++)
		cr_assert_eq(values[i], -1);
	tly_spec_fini(&spec);
}

Test(spec, group_values_past_the_end, .signal = SIGABRT)
{
	struct tly_spec spec;
	int values[TLY_SPEC_GROUP_BY_MAX];

	parse_ok(&spec, design_query);
	tly_spec_group_values(&spec, &cat, 10, values);
}

Test(spec, parse_misuse, .signal = SIGABRT)
{
	struct tly_field_error err;

	(void)!tly_spec_parse(NULL, &cat, "{}", 2, &err);
}

static void
sensitivity_is(const char *query, uint32_t sites, uint64_t l1, uint64_t l2sq)
{
	struct tly_spec spec;
	uint64_t got1 = 0, got2 = 0;

	parse_ok(&spec, query);
	cat.datasets[spec.dataset].max_sites_per_person = sites;
	cr_assert_eq(tly_spec_sensitivity(&spec, &cat, &got1, &got2), TLY_OK, "%s", J(query));
	cr_expect(got1 == l1 && got2 == l2sq, "%s, m = %u: got %llu, %llu", J(query), sites,
	          (unsigned long long)got1, (unsigned long long)got2);
	tly_spec_fini(&spec);
}

#define HIST                                                                                       \
	QM("{'op': 'histogram', 'column': 'ae_attendances_12m', 'edges': [0, 1, 2, 5, 10, 50]}")
#define SUM_WAIT QM("{'op': 'sum', 'column': 'wait_weeks'}")
#define MEAN_BMI QM("{'op': 'mean', 'column': 'bmi'}")

Test(spec, sensitivity)
{
	sensitivity_is(design_query, 1, 1, 1);
	sensitivity_is(HIST, 1, 1, 1);
	sensitivity_is(SUM_WAIT, 1, 104, 104 * 104);
	/* mean of bmi [10, 80]: c = 45, B' = 35, Laplace w = 24 (mean_weight). */
	sensitivity_is(MEAN_BMI, 1, 35 + 24, 35 * 35 + 24 * 24);
	/* A person at up to 3 sites. */
	sensitivity_is(design_query, 3, 3, 9);
	sensitivity_is(HIST, 3, 3, 9);
	sensitivity_is(SUM_WAIT, 3, 312, 9 * 104 * 104);
	sensitivity_is(MEAN_BMI, 3, 3 * 59, 9 * (35 * 35 + 24 * 24));
	/* Skellam: w = 27. */
	sensitivity_is("{'dataset': 'patients', 'measure': {'op': 'mean', 'column': 'bmi'},"
	               " 'privacy': {'mechanism': 'gaussian', 'rho': 1}}",
	               2, 2 * (35 + 27), 4 * (35 * 35 + 27 * 27));
	/* B is the larger magnitude: [-7, -3] gives 7, [0, 0] gives 0. */
	sensitivity_is("{'dataset': 'extremes', 'measure': {'op': 'sum', 'column': 'neg'},"
	               " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
	               2, 14, 4 * 49);
	sensitivity_is("{'dataset': 'extremes', 'measure': {'op': 'mean', 'column': 'zero'},"
	               " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
	               1, 1, 1);
	/* mean over [-7, -3]: c = -5, B' = 2; Laplace w = 1, Skellam w = 2. */
	sensitivity_is("{'dataset': 'extremes', 'measure': {'op': 'mean', 'column': 'neg'},"
	               " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
	               1, 3, 5);
	sensitivity_is("{'dataset': 'extremes', 'measure': {'op': 'mean', 'column': 'neg'},"
	               " 'privacy': {'mechanism': 'gaussian', 'rho': 1}}",
	               1, 4, 8);
}

/* The encoding of a mean over [lo, hi]. */
static void
encoding_is(int64_t lo, int64_t hi, uint8_t mechanism, int64_t centre, uint64_t half_range,
            uint64_t weight)
{
	struct tly_column col = {.kind = TLY_COLUMN_INTEGER, .min = lo, .max = hi};
	struct tly_mean_encoding enc;

	tly_mean_encoding_of(&col, mechanism, &enc);
	cr_expect(enc.centre == centre && enc.half_range == half_range && enc.weight == weight,
	          "[%lld, %lld]: c %lld, B' %llu, w %llu", (long long)lo, (long long)hi,
	          (long long)enc.centre, (unsigned long long)enc.half_range,
	          (unsigned long long)enc.weight);
}

Test(spec, mean_encoding)
{
	/* c = floor((lo + hi) / 2), B' = max(hi - c, c - lo). */
	encoding_is(10, 80, TLY_MECH_LAPLACE, 45, 35, 24);
	encoding_is(10, 80, TLY_MECH_SKELLAM, 45, 35, 27);
	encoding_is(0, 104, TLY_MECH_LAPLACE, 52, 52, 36);
	encoding_is(0, 104, TLY_MECH_SKELLAM, 52, 52, 40);
	/* lo < 0 < hi, odd widths: floor, not toward zero. */
	encoding_is(-3, 4, TLY_MECH_LAPLACE, 0, 4, 3);
	encoding_is(-4, 3, TLY_MECH_LAPLACE, -1, 4, 3);
	encoding_is(-7, -3, TLY_MECH_LAPLACE, -5, 2, 1);
	encoding_is(0, 1, TLY_MECH_SKELLAM, 0, 1, 1);
	/* lo = hi: nothing to sum, the count alone (w = 1). */
	encoding_is(5, 5, TLY_MECH_LAPLACE, 5, 0, 1);
	encoding_is(-5, -5, TLY_MECH_SKELLAM, -5, 0, 1);
	/* The whole int64 range: c = -1, B' = 2^63. */
	encoding_is(INT64_MIN, INT64_MAX, TLY_MECH_LAPLACE, -1, UINT64_C(1) << 63,
	            UINT64_C(2977963997) << 31);
}

/*
 * w by hand. Laplace minimises (B' + w)^2 (3w^2 + B'^2) / w^2, Skellam
 * (B'^2 + w^2)(3w^2 + B'^2) / w^2 (spec.h), over integers w >= 1.
 *   B' = 35, Laplace: w* = 35 / 3^(1/3) = 24.27; 59^2 * 2953 / 576 =
 *     17845.8 at 24 < 60^2 * 3100 / 625 = 17856 at 25: w = 24.
 *   B' = 35, Skellam: w* = 35 / 3^(1/4) = 26.59; 1901 * 3253 / 676 =
 *     9147.7 at 26 > 1954 * 3412 / 729 = 9145.4 at 27: w = 27.
 *   B' = 2, Laplace: w* = 1.39; 9 * 7 = 63 at 1 < 16 * 16 / 4 = 64 at 2: 1.
 *   B' = 2, Skellam: w* = 1.52; 5 * 7 = 35 at 1 > 8 * 16 / 4 = 32 at 2: 2.
 *   B' = 1: w* < 1, so w = 1 for both; B' = 0 gives 1.
 */
Test(spec, mean_weight)
{
	cr_expect_eq(tly_mean_weight(35, TLY_MECH_LAPLACE), 24);
	cr_expect_eq(tly_mean_weight(35, TLY_MECH_SKELLAM), 27);
	cr_expect_eq(tly_mean_weight(2, TLY_MECH_LAPLACE), 1);
	cr_expect_eq(tly_mean_weight(2, TLY_MECH_SKELLAM), 2);
	cr_expect_eq(tly_mean_weight(1, TLY_MECH_LAPLACE), 1);
	cr_expect_eq(tly_mean_weight(1, TLY_MECH_SKELLAM), 1);
	cr_expect_eq(tly_mean_weight(0, TLY_MECH_LAPLACE), 1);
	cr_expect_eq(tly_mean_weight(0, TLY_MECH_SKELLAM), 1);
	/* Every B' up to 2000 against a direct search in doubles (the
	 * relative gap between neighbours is far above double rounding). */
	for (uint64_t b = 0; b <= 2000; b++)
		for (int m = 0; m < 2; m++) {
			uint8_t mech = m == 0 ? TLY_MECH_LAPLACE : TLY_MECH_SKELLAM;
			uint64_t best = 1;
			double bd = (double)b, best_loss = INFINITY;
			for (uint64_t w = 1; w <= b + 2; w++) {
				double x = (double)w;
				double spread = (3 * x * x + bd * bd) / (x * x);
				double loss =
				    (m == 0 ? (bd + x) * (bd + x) : bd * bd + x * x) * spread;
				if (loss < best_loss * (1 - 1e-12)) {
					best_loss = loss;
					best = w;
				}
			}
			cr_expect_eq(tly_mean_weight(b, mech), best, "B' %llu, %s",
			             (unsigned long long)b, m == 0 ? "laplace" : "skellam");
		}
	/* Above 2^20: the real optimum rounded down. */
	cr_expect_eq(tly_mean_weight(UINT64_C(1) << 40, TLY_MECH_LAPLACE), UINT64_C(2977963997)
	                                                                       << 8);
}

Test(spec, mean_weight_needs_a_mechanism, .signal = SIGABRT)
{
	(void)tly_mean_weight(10, TLY_MECH_NONE);
}

Test(spec, sensitivity_overflow)
{
	struct tly_spec spec;
	uint64_t l1 = 11, l2sq = 22;

	/* B = 2^63: L1 fits, L2^2 does not. */
	parse_ok(&spec, "{'dataset': 'extremes', 'measure': {'op': 'sum', 'column': 'big'},"
	                " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}");
	cr_assert_eq(tly_spec_sensitivity(&spec, &cat, &l1, &l2sq), TLY_ERANGE);
	cr_assert(l1 == 11 && l2sq == 22, "outputs written on failure");
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 1), UINT64_C(1) << 63);
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 2), UINT64_MAX, "saturates");
	tly_spec_fini(&spec);
	parse_ok(&spec, "{'dataset': 'extremes', 'measure': {'op': 'mean', 'column': 'big'},"
	                " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}");
	cr_assert_eq(tly_spec_sensitivity(&spec, &cat, &l1, &l2sq), TLY_ERANGE);
	tly_spec_fini(&spec);
	/* Counts never overflow, whatever the sites. */
	sensitivity_is("{'dataset': 'extremes', 'measure': {'op': 'count'},"
	               " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
	               UINT32_MAX, UINT32_MAX, (uint64_t)UINT32_MAX * UINT32_MAX);
}

Test(spec, cell_bound)
{
	struct tly_spec spec;

	parse_ok(&spec, design_query);
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 5000), 5000);
	tly_spec_fini(&spec);
	parse_ok(&spec, HIST);
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 5000), 5000);
	tly_spec_fini(&spec);
	parse_ok(&spec, SUM_WAIT);
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 5000), 5000 * 104);
	tly_spec_fini(&spec);
	/* mean of bmi: the centred sum within B' = 35 a row, the count cell
	 * within w = 24. */
	parse_ok(&spec, MEAN_BMI);
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 5000), 5000 * 35);
	/* At the bound: n sites of rows_cap rows fit exactly when n * rows_cap
	 * * max(B', w) <= the field's half. */
	uint64_t per_site = tly_spec_cell_bound(&spec, &cat, 1000000000);
	cr_assert_eq(per_site, UINT64_C(35000000000));
	cr_assert_eq(tly_field_sum_fits(TLY_FIELD_HALF / per_site, per_site), TLY_OK);
	cr_assert_eq(tly_field_sum_fits(TLY_FIELD_HALF / per_site + 1, per_site), TLY_ERANGE);
	tly_spec_fini(&spec);
	/* A mean of a column that is always 0 still counts. */
	parse_ok(&spec, "{'dataset': 'extremes', 'measure': {'op': 'mean', 'column': 'zero'},"
	                " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}");
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 5000), 5000);
	tly_spec_fini(&spec);
	/* [-7, -3] under Skellam: B' = 2 = w. */
	parse_ok(&spec, "{'dataset': 'extremes', 'measure': {'op': 'mean', 'column': 'neg'},"
	                " 'privacy': {'mechanism': 'gaussian', 'rho': 1}}");
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 5000), 10000);
	tly_spec_fini(&spec);
	parse_ok(&spec, "{'dataset': 'extremes', 'measure': {'op': 'sum', 'column': 'zero'},"
	                " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}");
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 5000), 0);
	tly_spec_fini(&spec);
}

Test(spec, names)
{
	cr_assert_str_eq(tly_spec_mechanism_name(TLY_MECH_SKELLAM), "skellam");
	cr_assert_str_eq(tly_spec_mechanism_name(TLY_MECH_LAPLACE), "laplace");
	cr_assert_str_eq(tly_spec_mechanism_name(9), "?");
	cr_assert_str_eq(tly_spec_protocol_name(TLY_PROTOCOL_SECAGG_PLUS), "secagg+");
	cr_assert_str_eq(tly_spec_protocol_name(0), "?");
	cr_assert_str_eq(tly_spec_measure_name(TLY_MEASURE_HISTOGRAM), "histogram");
	cr_assert_str_eq(tly_spec_op_name(TLY_WHERE_NE), "!=");
	cr_assert_str_eq(tly_spec_op_name(TLY_WHERE_IN), "in");
}

/* Two catalogues that list the same columns in another order give the
 * same canonical form (nodes' configs need not agree on column order). */
Test(spec, canonical_ignores_column_order)
{
	static const char *const catalogues[] = {
	    "{'datasets': [{'name': 'p', 'columns': [{'name': 'zone', 'type': 'categorical',"
	    " 'domain': ['n', 's']}, {'name': 'age', 'type': 'integer', 'min': 0, 'max': 9}]}]}",
	    "{'datasets': [{'name': 'p', 'columns': [{'name': 'age', 'type': 'integer', 'min': 0,"
	    " 'max': 9}, {'name': 'zone', 'type': 'categorical', 'domain': ['n', 's']}]}]}",
	};
	const char *query = "{'dataset': 'p', 'measure': {'op': 'count'},"
	                    " 'where': [{'column': 'zone', 'op': '=', 'value': 's'},"
	                    "           {'column': 'age', 'op': '<', 'value': 5}],"
	                    " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}";
	char *canonical[2];

	for (int i = 0; i < 2; i++) {
		struct tly_catalogue other;
		struct tly_spec spec;
		struct tly_field_error err;
		const char *json = J(catalogues[i]);
		cr_assert_eq(tly_catalogue_parse(&other, json, strlen(json), &err), TLY_OK);
		json = J(query);
		cr_assert_eq(tly_spec_parse(&spec, &other, json, strlen(json), &err), TLY_OK);
		cr_assert_eq(tly_spec_canonical(&spec, &other, &canonical[i]), TLY_OK);
		cr_assert_str_eq(other.datasets[0].columns[spec.where[0].column].name, "age");
		tly_spec_fini(&spec);
		tly_catalogue_fini(&other);
	}
	cr_assert_str_eq(canonical[0], canonical[1]);
	free(canonical[0]);
	free(canonical[1]);
}

/* Who asked: "planner" is part of the query, so of its canonical bytes and
 * hash (the coordinator sets it from the request's signature). */
Test(spec, planner_is_named_and_hashed)
{
	struct tly_spec spec, without;
	uint8_t hash[TLY_HASH_BYTES], hash_without[TLY_HASH_BYTES];

	parse_ok(&spec, Q(", 'planner': 'ics-north.analyst_2'"));
	cr_expect_str_eq(spec.planner, "ics-north.analyst_2");
	char *canonical = canonical_of(Q(", 'planner': 'ics-north.analyst_2'"));
	cr_expect(strstr(canonical, J("'planner':'ics-north.analyst_2'")) != NULL, "%s", canonical);
	/* It parses back to itself. */
	struct tly_spec again;
	parse_ok(&again, canonical);
	cr_expect_str_eq(again.planner, spec.planner);
	tly_spec_fini(&again);
	free(canonical);
	/* Without one, none is written; with one, the hash differs. */
	parse_ok(&without, Q(""));
	cr_expect_str_eq(without.planner, "");
	canonical = canonical_of(Q(""));
	cr_expect(strstr(canonical, "planner") == NULL, "%s", canonical);
	free(canonical);
	cr_assert_eq(tly_spec_hash(&spec, &cat, hash), TLY_OK);
	cr_assert_eq(tly_spec_hash(&without, &cat, hash_without), TLY_OK);
	cr_expect_neq(memcmp(hash, hash_without, sizeof hash), 0);
	tly_spec_fini(&spec);
	tly_spec_fini(&without);

	parse_bad(Q(", 'planner': ''"), "planner", "not a planner name");
	parse_bad(Q(", 'planner': 'a b'"), "planner", "not a planner name");
	parse_bad(Q(", 'planner': '.x'"), "planner", "not a planner name");
	parse_bad(Q(", 'planner': 'a\\u00e9b'"), "planner", "not a planner name");
	parse_bad(Q(", 'planner': 7"), "planner", "expected a string");
}

/* ---- rates, dsr and comparisons ---- */

#define RATE(extra)                                                                                \
	"{'dataset': 'patients', 'measure': {'op': 'rate', 'numerator': "                          \
	"[{'column': 'has_diabetes', 'op': '=', 'value': 1}]" extra "},"                           \
	" 'group_by': ['imd_decile'], 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}"
#define DSR(extra)                                                                                 \
	"{'dataset': 'patients', 'measure': {'op': 'dsr', 'numerator': "                           \
	"[{'column': 'has_diabetes', 'op': '=', 'value': 1}], 'age_column': 'age'" extra "},"      \
	" 'group_by': ['imd_decile'], 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}"

Test(spec, rate_and_dsr_shape_and_canonical_form)
{
	struct tly_spec spec;
	uint64_t l1, l2sq;
	char *canon;

	parse_ok(&spec, RATE(""));
	cr_assert_eq(spec.measure, TLY_MEASURE_RATE);
	cr_assert_eq(spec.per, 1000, "a rate is per 1000 by default");
	cr_assert_eq(spec.numerator_count, 1);
	cr_assert_eq(spec.measure_column, -1);
	cr_assert_eq(tly_spec_cells(&spec, &cat), 20, "numerator and the rest, per decile");
	cr_assert_eq(tly_spec_sensitivity(&spec, &cat, &l1, &l2sq), TLY_OK);
	cr_assert(l1 == 1 && l2sq == 1, "each row in one cell: L1 %llu", (unsigned long long)l1);
	tly_spec_fini(&spec);

	parse_ok(&spec, DSR(""));
	cr_assert_eq(spec.per, 100000);
	cr_assert_eq(spec.measure_column, AGE);
	cr_assert_eq(spec.standard, TLY_STANDARD_ESP2013);
	cr_assert_eq(tly_spec_cells(&spec, &cat), 10 * 2 * 19);
	cr_assert_eq(tly_spec_sensitivity(&spec, &cat, &l1, &l2sq), TLY_OK);
	cr_assert(l1 == 1 && l2sq == 1);
	cr_assert_eq(tly_spec_cell_bound(&spec, &cat, 5000), 5000);
	tly_spec_fini(&spec);

	/* Defaults spelt out, numerator normalised as `where`: a query that
	 * means the same is the same. */
	canon = canonical_of(RATE(", 'per': 1000"));
	char *other = canonical_of(
	    "{'dataset': 'patients', 'measure': {'op': 'rate', 'numerator': "
	    "[{'column': 'has_diabetes', 'op': 'in', 'value': ['1']},"
	    " {'column': 'has_diabetes', 'op': '=', 'value': '1'}]},"
	    " 'group_by': ['imd_decile'], 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}");
	cr_assert_str_eq(canon, other);
	cr_assert(strstr(canon, J("'measure':{'numerator':[{'column':'has_diabetes','op':'=',"
	                          "'value':'1'}],'op':'rate','per':1000}")) != NULL,
	          "%s", canon);
	cr_assert(strstr(canon, "compare") == NULL, "no compare unless asked: %s", canon);
	free(other);
	free(canon);
	canon = canonical_of(DSR(", 'per': 1000, 'standard': 'esp2013'"));
	cr_assert(strstr(canon, J("'age_column':'age'")) != NULL, "%s", canon);
	cr_assert(strstr(canon, J("'standard':'esp2013'")) != NULL, "%s", canon);
	struct tly_spec again;
	parse_ok(&again, canon);
	free(canon);
	tly_spec_fini(&again);
}

Test(spec, compare_groups)
{
	struct tly_spec spec;
	char *canon;
	const char *q = "{'dataset': 'patients', 'measure': {'op': 'rate', 'numerator': "
	                "[{'column': 'has_diabetes', 'op': '=', 'value': 1}]},"
	                " 'group_by': ['imd_decile', 'sex'],"
	                " 'compare': {'to': {'sex': 'F', 'imd_decile': 10}, 'as': 'difference'},"
	                " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}";

	parse_ok(&spec, q);
	cr_assert_eq(spec.compare, TLY_COMPARE_DIFFERENCE);
	cr_assert_eq(spec.compare_to[0], 9);
	cr_assert_eq(spec.compare_to[1], 0);
	tly_spec_fini(&spec);
	canon = canonical_of(q);
	cr_assert(strstr(canon, J("'compare':{'as':'difference','to':{'imd_decile':'10',"
	                          "'sex':'F'}}")) != NULL,
	          "%s", canon);
	free(canon);
}

Test(spec, refusals_rate)
{
	parse_bad(RATE(", 'per': 50"), "measure.per",
	          "expected 1, 100, 1000, 10000 or 100000, got the integer 50");
	parse_bad(RATE(", 'per': '1000'"), "measure.per", "got the string");
	parse_bad("{'dataset': 'patients', 'measure': {'op': 'rate', 'numerator': []},"
	          " 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
	          "measure.numerator", "0 conditions; a numerator takes 1 to 16");
	parse_bad(QM("{'op': 'rate'}"), "measure.numerator", "missing");
	parse_bad(
	    QM("{'op': 'rate', 'numerator': [{'column': 'diabetes', 'op': '=', 'value': 1}]}"),
	    "measure.numerator[0].column", "unknown column \"diabetes\"");
	parse_bad(QM("{'op': 'rate', 'numerator': [{'column': 'has_diabetes', 'op': '=', 'value': "
	             "2}]}"),
	          "measure.numerator[0].value", "\"2\" is not in the domain of column");
	parse_bad(QM("{'op': 'rate', 'column': 'age', 'numerator': [{'column': 'has_diabetes', "
	             "'op': '=', 'value': 1}]}"),
	          "measure.column", "unknown key");
	parse_bad(QM("{'op': 'dsr', 'numerator': [{'column': 'has_diabetes', 'op': '=', "
	             "'value': 1}]}"),
	          "measure.age_column", "missing: dsr needs the integer age column");
	parse_bad(DSR(", 'standard': 'esp1976'"), "measure.standard",
	          "unknown standard \"esp1976\"; use esp2013");
	parse_bad(QM("{'op': 'dsr', 'age_column': 'sex', 'numerator': [{'column': "
	             "'has_diabetes', 'op': '=', 'value': 1}]}"),
	          "measure.age_column", "\"sex\" is not an integer column of ages");
	parse_bad(QM("{'op': 'ratio'}"), "measure.op",
	          "use count, sum, mean, histogram, rate or dsr");
}

Test(spec, refusals_compare)
{
	parse_bad(Q(", 'group_by': ['sex'], 'compare': {'to': {'sex': 'F'}, 'as': 'ratio'}"),
	          "compare", "only a rate or a dsr compares groups");
	parse_bad("{'dataset': 'patients', 'measure': {'op': 'rate', 'numerator': "
	          "[{'column': 'has_diabetes', 'op': '=', 'value': 1}]}, 'compare': {'to': {},"
	          " 'as': 'ratio'}, 'privacy': {'mechanism': 'laplace', 'epsilon': 1}}",
	          "compare", "needs group_by");
	const char *head = "{'dataset': 'patients', 'measure': {'op': 'rate', 'numerator': "
	                   "[{'column': 'has_diabetes', 'op': '=', 'value': 1}]},"
	                   " 'group_by': ['imd_decile'], 'privacy': {'mechanism': 'laplace', "
	                   "'epsilon': 1}, 'compare': ";
	char q[1024];
	snprintf(q, sizeof q, "%s{'to': {'sex': 'F'}, 'as': 'ratio'}}", head);
	parse_bad(q, "compare.to.sex", "\"sex\" is not a grouping column of this query");
	snprintf(q, sizeof q, "%s{'to': {'imd_decile': '11'}, 'as': 'ratio'}}", head);
	parse_bad(q, "compare.to.imd_decile", "\"11\" is not in the domain");
	snprintf(q, sizeof q, "%s{'to': {'imd_decile': 1}, 'as': 'odds'}}", head);
	parse_bad(q, "compare.as", "expected \"ratio\" or \"difference\"");
	snprintf(q, sizeof q, "%s{'to': {'imd_decile': 1}}}", head);
	parse_bad(q, "compare.as", "missing");
	snprintf(q, sizeof q, "%s{'to': {}, 'as': 'ratio'}}", head);
	parse_bad(q, "compare.to", "give a value for each of the 1 grouping columns");
}

/* An unknown column or dataset names the nearest known one when one is
 * near (query/nearest.h), and none otherwise. */
Test(spec, unknown_names_suggest_the_nearest)
{
	parse_bad(Q(", 'group_by': ['sxe']"), "group_by[0]",
	          "unknown column \"sxe\" in dataset \"patients\"; did you mean \"sex\"?");
	parse_bad(QM("{'op': 'sum', 'column': 'agee'}"), "measure.column",
	          "unknown column \"agee\" in dataset \"patients\"; did you mean \"age\"?");
	parse_bad("{'dataset': 'patinets', 'measure': {'op': 'count'}}", "dataset",
	          "unknown dataset \"patinets\"; did you mean \"patients\"?");
	struct tly_field_error err;
	struct tly_spec spec;
	const char *json = J(Q(", 'group_by': ['gender']"));
	cr_assert_eq(tly_spec_parse(&spec, &cat, json, strlen(json), &err), TLY_EINVAL);
	cr_assert_null(strstr(err.reason, "did you mean"), "%s", err.reason);
}
