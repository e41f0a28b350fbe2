/* A parsed query's canonical form and hash, and the shape of its answer:
 * cells, groups, sensitivity (spec.h). */
#include "query/spec_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/codec.h"

const char *
tly_spec_mechanism_name(uint8_t mechanism)
{
	switch (mechanism) {
	case TLY_MECH_NONE:
		return "none";
	case TLY_MECH_LAPLACE:
		return "laplace";
	case TLY_MECH_SKELLAM:
		return "skellam";
	}
	return "?";
}

const char *
tly_spec_protocol_name(uint8_t protocol)
{
	switch (protocol) {
	case TLY_PROTOCOL_COMMITTEE:
		return "committee";
	case TLY_PROTOCOL_SECAGG:
		return "secagg";
	case TLY_PROTOCOL_SECAGG_PLUS:
		return "secagg+";
	}
	return "?";
}

const char *
tly_spec_measure_name(enum tly_measure measure)
{
	switch (measure) {
	case TLY_MEASURE_COUNT:
		return "count";
	case TLY_MEASURE_SUM:
		return "sum";
	case TLY_MEASURE_MEAN:
		return "mean";
	case TLY_MEASURE_HISTOGRAM:
		return "histogram";
	case TLY_MEASURE_RATE:
		return "rate";
	case TLY_MEASURE_DSR:
		return "dsr";
	}
	return "?";
}

/* Eurostat 2013, 0-4 ... 85-89, 90+ (spec.h). */
const uint32_t tly_esp2013_weights[TLY_ESP2013_BANDS] = {
    5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
    7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
};

const char *
tly_spec_op_name(enum tly_where_op op)
{
	switch (op) {
	case TLY_WHERE_EQ:
		return "=";
	case TLY_WHERE_NE:
		return "!=";
	case TLY_WHERE_LT:
		return "<";
	case TLY_WHERE_LE:
		return "<=";
	case TLY_WHERE_GT:
		return ">";
	case TLY_WHERE_GE:
		return ">=";
	case TLY_WHERE_IN:
		return "in";
	}
	return "?";
}

/* ---- canonical form ---- */

static const struct tly_dataset *
dataset_of(const struct tly_spec *spec, const struct tly_catalogue *cat)
{
	TLY_REQUIRE(spec->dataset >= 0 && (size_t)spec->dataset < cat->dataset_count);
	return &cat->datasets[spec->dataset];
}

static json_t *canon_clause(const struct tly_dataset *ds, const struct tly_where *w);

/* A rate's or dsr's own keys; nonzero on allocation failure. */
static int
canon_rate(const struct tly_spec *spec, const struct tly_dataset *ds, json_t *obj)
{
	json_t *numerator = json_array();
	int bad = json_object_set_new(obj, "numerator", numerator);

	for (size_t i = 0; i < spec->numerator_count && !bad; i++)
		bad |= json_array_append_new(numerator, canon_clause(ds, &spec->numerator[i]));
	bad |= json_object_set_new(obj, "per", json_integer(spec->per));
	if (spec->measure == TLY_MEASURE_DSR) {
		bad |= json_object_set_new(obj, "age_column",
		                           json_string(ds->columns[spec->measure_column].name));
		bad |= json_object_set_new(obj, "standard", json_string("esp2013"));
	}
	return bad;
}

static json_t *
canon_measure(const struct tly_spec *spec, const struct tly_dataset *ds)
{
	json_t *obj = json_object(), *edges;
	int bad = obj == NULL;

	if (bad)
		return NULL;
	bad |= json_object_set_new(obj, "op", json_string(tly_spec_measure_name(spec->measure)));
	if (spec->measure == TLY_MEASURE_RATE || spec->measure == TLY_MEASURE_DSR)
		bad |= canon_rate(spec, ds, obj);
	else if (spec->measure != TLY_MEASURE_COUNT)
		bad |= json_object_set_new(obj, "column",
		                           json_string(ds->columns[spec->measure_column].name));
	if (spec->measure == TLY_MEASURE_HISTOGRAM) {
		bad |= json_object_set_new(obj, "edges", edges = json_array());
		for (size_t i = 0; i < spec->edge_count && !bad; i++)
			bad |= json_array_append_new(edges, json_integer(spec->edges[i]));
	}
	if (bad) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *
canon_value(const struct tly_column *col, const struct tly_where *w, size_t i)
{
	if (col->kind == TLY_COLUMN_INTEGER)
		return json_integer(w->int_values[i]);
	return json_string(col->domain[w->domain_values[i]]);
}

static json_t *
canon_clause(const struct tly_dataset *ds, const struct tly_where *w)
{
	const struct tly_column *col = &ds->columns[w->column];
	json_t *obj = json_object(), *values;
	int bad = obj == NULL;

	if (bad)
		return NULL;
	bad |= json_object_set_new(obj, "column", json_string(col->name));
	bad |= json_object_set_new(obj, "op", json_string(tly_spec_op_name(w->op)));
	if (w->op == TLY_WHERE_IN) {
		bad |= json_object_set_new(obj, "value", values = json_array());
		for (size_t i = 0; i < w->value_count && !bad; i++)
			bad |= json_array_append_new(values, canon_value(col, w, i));
	} else {
		bad |= json_object_set_new(obj, "value", canon_value(col, w, 0));
	}
	if (bad) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *
canon_privacy(const struct tly_spec *spec)
{
	char fraction[48];
	json_t *obj = json_object();
	int bad = obj == NULL;

	if (bad)
		return NULL;
	snprintf(fraction, sizeof fraction, "%" PRIu64 "/%" PRIu64, spec->privacy_num,
	         spec->privacy_den);
	bad |= json_object_set_new(obj, "mechanism",
	                           json_string(tly_spec_mechanism_name(spec->mechanism)));
	bad |= json_object_set_new(obj, spec->mechanism == TLY_MECH_LAPLACE ? "epsilon" : "rho",
	                           json_string(fraction));
	if (bad) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* Adds "where", "group_by" and "domains" (each grouping column's values in
 * the order that lays out the cells) to root; nonzero on allocation
 * failure. */
static int
canon_lists(const struct tly_spec *spec, const struct tly_dataset *ds, json_t *root)
{
	json_t *where = json_array(), *group_by = json_array(), *domains = json_object();
	int bad = 0;

	bad |= json_object_set_new(root, "where", where);
	bad |= json_object_set_new(root, "group_by", group_by);
	bad |= json_object_set_new(root, "domains", domains);
	for (size_t i = 0; i < spec->where_count && !bad; i++)
		bad |= json_array_append_new(where, canon_clause(ds, &spec->where[i]));
	for (size_t i = 0; i < spec->group_by_count && !bad; i++) {
		const struct tly_column *col = &ds->columns[spec->group_by[i]];
		json_t *values = json_array();
		bad |= json_array_append_new(group_by, json_string(col->name));
		bad |= json_object_set_new(domains, col->name, values);
		for (size_t v = 0; v < col->domain_count && !bad; v++)
			bad |= json_array_append_new(values, json_string(col->domain[v]));
	}
	return bad;
}

/* "compare": {"as", "to": {column: value}}, only when asked. */
static json_t *
canon_compare(const struct tly_spec *spec, const struct tly_dataset *ds)
{
	json_t *obj = json_object(), *to = json_object();
	int bad = obj == NULL || to == NULL;

	bad |= json_object_set_new(
	    obj, "as", json_string(spec->compare == TLY_COMPARE_RATIO ? "ratio" : "difference"));
	bad |= json_object_set_new(obj, "to", to);
	for (size_t i = 0; i < spec->group_by_count && !bad; i++) {
		const struct tly_column *col = &ds->columns[spec->group_by[i]];
		bad |= json_object_set_new(to, col->name,
		                           json_string(col->domain[spec->compare_to[i]]));
	}
	if (bad) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

tly_err
tly_spec_canonical(const struct tly_spec *spec, const struct tly_catalogue *cat, char **json)
{
	const struct tly_dataset *ds = dataset_of(spec, cat);
	json_t *root = json_object();
	size_t len;
	tly_err rv = TLY_ENOMEM;
	int bad = root == NULL;

	TLY_REQUIRE(json != NULL);
	if (bad)
		return rv;
	bad |= json_object_set_new(root, "dataset", json_string(ds->name));
	bad |= json_object_set_new(root, "measure", canon_measure(spec, ds));
	bad |= json_object_set_new(root, "privacy", canon_privacy(spec));
	bad |= json_object_set_new(root, "sdc",
	                           json_pack("{s:I,s:I}", "suppress_below",
	                                     (json_int_t)spec->suppress_below, "round_to",
	                                     (json_int_t)spec->round_to));
	bad |= json_object_set_new(root, "protocol",
	                           json_string(tly_spec_protocol_name(spec->protocol)));
	if (spec->planner[0] != '\0')
		bad |= json_object_set_new(root, "planner", json_string(spec->planner));
	if (spec->compare != TLY_COMPARE_NONE)
		bad |= json_object_set_new(root, "compare", canon_compare(spec, ds));
	if (!bad && canon_lists(spec, ds, root) == 0)
		rv = tly_spec_dump(root, json, &len);
	json_decref(root);
	return rv;
}

tly_err
tly_spec_hash(const struct tly_spec *spec, const struct tly_catalogue *cat,
              uint8_t out[static TLY_HASH_BYTES])
{
	char *json;
	tly_err rv = tly_spec_canonical(spec, cat, &json);

	if (rv != TLY_OK)
		return rv;
	tly_hash(out, "tally/query/v1", (const uint8_t *)json, strlen(json));
	free(json);
	return TLY_OK;
}

/* ---- the answer's shape ---- */

size_t
tly_spec_groups(const struct tly_spec *spec, const struct tly_catalogue *cat)
{
	const struct tly_dataset *ds = dataset_of(spec, cat);
	size_t groups = 1;

	for (size_t i = 0; i < spec->group_by_count; i++)
		groups *= ds->columns[spec->group_by[i]].domain_count;
	return groups;
}

size_t
tly_spec_cells_per_group(const struct tly_spec *spec)
{
	switch (spec->measure) {
	case TLY_MEASURE_COUNT:
	case TLY_MEASURE_SUM:
		return 1;
	case TLY_MEASURE_MEAN:
	case TLY_MEASURE_RATE:
		return 2;
	case TLY_MEASURE_HISTOGRAM:
		TLY_REQUIRE(spec->edge_count >= 2);
		return spec->edge_count - 1;
	case TLY_MEASURE_DSR:
		return 2 * TLY_ESP2013_BANDS;
	}
	tly_misuse("tly_spec_cells_per_group: unknown measure");
}

size_t
tly_spec_cells(const struct tly_spec *spec, const struct tly_catalogue *cat)
{
	return tly_spec_groups(spec, cat) * tly_spec_cells_per_group(spec);
}

void
tly_spec_group_values(const struct tly_spec *spec, const struct tly_catalogue *cat, size_t g,
                      int values[static TLY_SPEC_GROUP_BY_MAX])
{
	const struct tly_dataset *ds = dataset_of(spec, cat);

	TLY_REQUIRE(g < tly_spec_groups(spec, cat));
	for (size_t i = spec->group_by_count; i < TLY_SPEC_GROUP_BY_MAX; i++)
		values[i] = -1;
	/* Row-major: the last grouping column varies fastest. */
	for (size_t i = spec->group_by_count; i-- > 0;) {
		size_t count = ds->columns[spec->group_by[i]].domain_count;
		values[i] = (int)(g % count);
		g /= count;
	}
}

/* |v| as unsigned, INT64_MIN included. */
static uint64_t
magnitude(int64_t v)
{
	return v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
}

/* B = max(|min|, |max|) of the measure column; 0 for count. */
static uint64_t
value_bound(const struct tly_spec *spec, const struct tly_catalogue *cat)
{
	const struct tly_column *col;
	uint64_t lo, hi;

	if (spec->measure_column < 0 || spec->measure == TLY_MEASURE_DSR)
		return 0;
	col = &dataset_of(spec, cat)->columns[spec->measure_column];
	lo = magnitude(col->min);
	hi = magnitude(col->max);
	return lo > hi ? lo : hi;
}

/* *out = a * b; 0 on overflow. */
static int
mul(uint64_t a, uint64_t b, uint64_t *out)
{
	if (a != 0 && b > UINT64_MAX / a)
		return 0;
	*out = a * b;
	return 1;
}

/* One site's L1 and L2^2 for a mean: B' + w and B'^2 + w^2
 * (tly_spec_mean_encoding); 0 on overflow. */
static int
mean_sensitivity(const struct tly_spec *spec, const struct tly_catalogue *cat, uint64_t *l1,
                 uint64_t *l2sq)
{
	struct tly_mean_encoding enc;
	uint64_t b2, w2;

	tly_spec_mean_encoding(spec, cat, &enc);
	/* B' <= 2^63 and w <= max(B', 1): only a range near 2^64 overflows. */
	if (enc.half_range > UINT64_MAX - enc.weight || !mul(enc.half_range, enc.half_range, &b2) ||
	    !mul(enc.weight, enc.weight, &w2) || b2 > UINT64_MAX - w2)
		return 0;
	*l1 = enc.half_range + enc.weight;
	*l2sq = b2 + w2;
	return 1;
}

tly_err
tly_spec_sensitivity(const struct tly_spec *spec, const struct tly_catalogue *cat, uint64_t *l1,
                     uint64_t *l2sq)
{
	uint64_t sites = dataset_of(spec, cat)->max_sites_per_person;
	uint64_t bound = value_bound(spec, cat), per_site_l1, per_site_l2sq, sum1, sum2;

	TLY_REQUIRE(sites >= 1);
	switch (spec->measure) {
	case TLY_MEASURE_COUNT:
	case TLY_MEASURE_HISTOGRAM:
	case TLY_MEASURE_RATE: /* each row in one cell, as a histogram */
	case TLY_MEASURE_DSR:
		per_site_l1 = 1;
		per_site_l2sq = 1;
		break;
	case TLY_MEASURE_SUM:
		per_site_l1 = bound;
		if (!mul(bound, bound, &per_site_l2sq))
			return TLY_ERANGE;
		break;
	case TLY_MEASURE_MEAN:
		if (!mean_sensitivity(spec, cat, &per_site_l1, &per_site_l2sq))
			return TLY_ERANGE;
		break;
	default:
		tly_misuse("tly_spec_sensitivity: unknown measure");
	}
	/* Every site moves the same cells the same way: L1 adds up over m
	 * sites, L2^2 grows with m^2. */
	if (!mul(sites, per_site_l1, &sum1) || !mul(sites * sites, per_site_l2sq, &sum2))
		return TLY_ERANGE;
	*l1 = sum1;
	*l2sq = sum2;
	return TLY_OK;
}

uint64_t
tly_spec_cell_bound(const struct tly_spec *spec, const struct tly_catalogue *cat, uint64_t rows_cap)
{
	uint64_t bound = value_bound(spec, cat), out;

	switch (spec->measure) {
	case TLY_MEASURE_COUNT:
	case TLY_MEASURE_HISTOGRAM:
	case TLY_MEASURE_RATE:
	case TLY_MEASURE_DSR:
		return rows_cap;
	case TLY_MEASURE_SUM:
		break;
	case TLY_MEASURE_MEAN: {
		/* The centred sum cell within rows_cap * B', the count cell
		 * within rows_cap * w. */
		struct tly_mean_encoding enc;
		tly_spec_mean_encoding(spec, cat, &enc);
		bound = enc.half_range > enc.weight ? enc.half_range : enc.weight;
		break;
	}
	default:
		tly_misuse("tly_spec_cell_bound: unknown measure");
	}
	return mul(rows_cap, bound, &out) ? out : UINT64_MAX;
}
