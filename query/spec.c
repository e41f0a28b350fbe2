/* The planner's query: parsing, validation and normalisation (spec.h). */
#include "query/spec_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/nearest.h"

struct parse {
	const struct tly_catalogue *cat;
	const struct tly_dataset *ds;
	struct tly_spec *spec;
	struct tly_field_error *err;
};

void
tly_spec_fini(struct tly_spec *spec)
{
	if (spec == NULL)
		return;
	for (size_t i = 0; i < spec->where_count; i++) {
		free(spec->where[i].int_values);
		free(spec->where[i].domain_values);
	}
	free(spec->where);
	for (size_t i = 0; i < spec->numerator_count; i++) {
		free(spec->numerator[i].int_values);
		free(spec->numerator[i].domain_values);
	}
	free(spec->numerator);
	free(spec->edges);
	memset(spec, 0, sizeof *spec);
}

/* ---- columns and values ---- */

/* "; did you mean \"NAME\"?" into out when a column of ds (ds != NULL) or
 * a dataset of cat is near word, else "". */
static void
near_name(char *out, size_t len, const char *word, const struct tly_dataset *ds,
          const struct tly_catalogue *cat)
{
	const char *names[TLY_SPEC_COLUMNS_MAX + TLY_SPEC_DATASETS_MAX];
	size_t count = 0;

	for (size_t i = 0; ds != NULL && i < ds->column_count && count < TLY_SPEC_COLUMNS_MAX; i++)
		names[count++] = ds->columns[i].name;
	for (size_t i = 0; ds == NULL && i < cat->dataset_count && i < TLY_SPEC_DATASETS_MAX; i++)
		names[count++] = cat->datasets[i].name;
	const char *near = tly_nearest(word, names, count);
	out[0] = '\0';
	if (near != NULL)
		snprintf(out, len, "; did you mean \"%s\"?", near);
}

/* Resolve a column name (value at path) in the query's dataset. */
static tly_err
column_ref(struct parse *p, const json_t *value, const char *path, int *out)
{
	char echo[TLY_SPEC_ECHO_BYTES];
	int index;

	if (!json_is_string(value))
		return tly_field_fail(p->err, 0, path, "expected a column name, got %s",
		                      tly_spec_got(value).text);
	index = tly_dataset_column(p->ds, json_string_value(value));
	if (index < 0) {
		char hint[TLY_SPEC_NAME_MAX + 24];
		tly_spec_echo(echo, json_string_value(value), json_string_length(value));
		near_name(hint, sizeof hint, json_string_value(value), p->ds, p->cat);
		return tly_field_fail(p->err, 0, path, "unknown column \"%s\" in dataset \"%s\"%s",
		                      echo, p->ds->name, hint);
	}
	*out = index;
	return TLY_OK;
}

static tly_err
integer_value(struct parse *p, const struct tly_column *col, const json_t *value, const char *path,
              int64_t *out)
{
	int64_t v;

	if (!json_is_integer(value))
		return tly_field_fail(p->err, 0, path,
		                      "expected an integer for column \"%s\", got %s", col->name,
		                      tly_spec_got(value).text);
	v = (int64_t)json_integer_value(value);
	if (v < col->min || v > col->max)
		return tly_field_fail(p->err, 0, path,
		                      "%" PRId64 " is outside the bounds of \"%s\" [%" PRId64
		                      ", %" PRId64 "]",
		                      v, col->name, col->min, col->max);
	*out = v;
	return TLY_OK;
}

/* A categorical value: a string, or an integer standing for its decimal
 * string, that must be in the column's domain. */
static tly_err
domain_value(struct parse *p, const struct tly_column *col, const json_t *value, const char *path,
             int *out)
{
	char digits[24], echo[TLY_SPEC_ECHO_BYTES];
	const char *text;
	size_t len;
	int index;

	if (json_is_integer(value)) {
		snprintf(digits, sizeof digits, "%" PRId64, (int64_t)json_integer_value(value));
		text = digits;
		len = strlen(digits);
	} else if (json_is_string(value)) {
		text = json_string_value(value);
		len = json_string_length(value);
	} else {
		return tly_field_fail(p->err, 0, path,
		                      "expected a string or an integer for column \"%s\", got %s",
		                      col->name, tly_spec_got(value).text);
	}
	index = tly_column_value(col, text);
	if (index < 0) {
		tly_spec_echo(echo, text, len);
		return tly_field_fail(p->err, 0, path,
		                      "\"%s\" is not in the domain of column \"%s\"", echo,
		                      col->name);
	}
	*out = index;
	return TLY_OK;
}

/* ---- dataset and measure ---- */

/* A string member of the query, and its value echoed for an error that
 * names it. */
struct name {
	json_t *value; /* NULL when optional and absent */
	char echo[TLY_SPEC_ECHO_BYTES];
};

static tly_err
name_member(struct parse *p, const json_t *root, const char *key, int required, struct name *name)
{
	tly_err rv = tly_spec_member(root, "", key, JSON_STRING, required, &name->value, p->err);

	if (rv == TLY_OK && name->value != NULL)
		tly_spec_echo(name->echo, json_string_value(name->value),
		              json_string_length(name->value));
	return rv;
}

static tly_err
parse_dataset(struct parse *p, const json_t *root)
{
	struct name name;
	tly_err rv = name_member(p, root, "dataset", 1, &name);

	if (rv != TLY_OK)
		return rv;
	p->ds = tly_catalogue_find(p->cat, json_string_value(name.value));
	if (p->ds == NULL) {
		char hint[TLY_SPEC_NAME_MAX + 24];
		near_name(hint, sizeof hint, json_string_value(name.value), NULL, p->cat);
		return tly_field_fail(p->err, 0, "dataset", "unknown dataset \"%s\"%s", name.echo,
		                      hint);
	}
	p->spec->dataset = (int)(p->ds - p->cat->datasets);
	return TLY_OK;
}

static tly_err
parse_edges(struct parse *p, const json_t *measure, const struct tly_column *col)
{
	char path[TLY_SPEC_PATH_BYTES];
	json_t *list;
	size_t count;
	tly_err rv = tly_spec_member(measure, "measure", "edges", JSON_ARRAY, 1, &list, p->err);

	if (rv != TLY_OK)
		return rv;
	count = json_array_size(list);
	if (count < 2 || count > TLY_SPEC_EDGES_MAX)
		return tly_field_fail(p->err, 0, "measure.edges",
		                      "%zu edges; a histogram has 2 to %d", count,
		                      TLY_SPEC_EDGES_MAX);
	p->spec->edges = calloc(count, sizeof *p->spec->edges);
	if (p->spec->edges == NULL)
		return TLY_ENOMEM;
	p->spec->edge_count = count;
	for (size_t i = 0; i < count; i++) {
		int64_t *edge = &p->spec->edges[i];
		tly_spec_path_index(path, "measure.edges", i);
		if ((rv = integer_value(p, col, json_array_get(list, i), path, edge)) != TLY_OK)
			return rv;
		if (i > 0 && *edge <= edge[-1])
			return tly_field_fail(p->err, 0, path,
			                      "%" PRId64
			                      " is not above the edge before it (%" PRId64 ")",
			                      *edge, edge[-1]);
	}
	return TLY_OK;
}

static tly_err parse_rate(struct parse *p, const json_t *measure);

static tly_err
parse_measure(struct parse *p, const json_t *root)
{
	static const char *const keys[][6] = {
	    [TLY_MEASURE_COUNT] = {"op", NULL},
	    [TLY_MEASURE_SUM] = {"op", "column", NULL},
	    [TLY_MEASURE_MEAN] = {"op", "column", NULL},
	    [TLY_MEASURE_HISTOGRAM] = {"op", "column", "edges", NULL},
	    [TLY_MEASURE_RATE] = {"op", "numerator", "per", NULL},
	    [TLY_MEASURE_DSR] = {"op", "numerator", "per", "age_column", "standard", NULL},
	};
	char echo[TLY_SPEC_ECHO_BYTES];
	const struct tly_column *col;
	json_t *measure, *op, *column;
	enum tly_measure m;
	tly_err rv;

	if ((rv = tly_spec_member(root, "", "measure", JSON_OBJECT, 1, &measure, p->err)) !=
	        TLY_OK ||
	    (rv = tly_spec_member(measure, "measure", "op", JSON_STRING, 1, &op, p->err)) != TLY_OK)
		return rv;
	for (m = TLY_MEASURE_COUNT; m <= TLY_MEASURE_DSR; m++)
		if (strcmp(json_string_value(op), tly_spec_measure_name(m)) == 0)
			break;
	if (m > TLY_MEASURE_DSR) {
		tly_spec_echo(echo, json_string_value(op), json_string_length(op));
		return tly_field_fail(
		    p->err, 0, "measure.op",
		    "unknown op \"%s\"; use count, sum, mean, histogram, rate or dsr", echo);
	}
	p->spec->measure = m;
	p->spec->measure_column = -1;
	if ((rv = tly_spec_only_keys(measure, "measure", keys[m], p->err)) != TLY_OK ||
	    m == TLY_MEASURE_COUNT)
		return rv;
	if (m == TLY_MEASURE_RATE || m == TLY_MEASURE_DSR)
		return parse_rate(p, measure);
	column = json_object_get(measure, "column");
	if (column == NULL)
		return tly_field_fail(p->err, 0, "measure.column", "missing: %s needs a column",
		                      tly_spec_measure_name(m));
	if ((rv = column_ref(p, column, "measure.column", &p->spec->measure_column)) != TLY_OK)
		return rv;
	col = &p->ds->columns[p->spec->measure_column];
	if (col->kind != TLY_COLUMN_INTEGER)
		return tly_field_fail(p->err, 0, "measure.column",
		                      "column \"%s\" is categorical; %s needs an integer column",
		                      col->name, tly_spec_measure_name(m));
	if (m == TLY_MEASURE_HISTOGRAM)
		return parse_edges(p, measure, col);
	return TLY_OK;
}

/* ---- where ---- */

static int
compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int
compare_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Sort an `in` list, drop repeats; one value left is plain equality. */
static void
normalise_values(struct tly_where *w)
{
	size_t kept = 0;

	if (w->int_values != NULL) {
		qsort(w->int_values, w->value_count, sizeof *w->int_values, compare_i64);
		for (size_t i = 0; i < w->value_count; i++)
			if (kept == 0 || w->int_values[i] != w->int_values[kept - 1])
				w->int_values[kept++] = w->int_values[i];
	} else {
		qsort(w->domain_values, w->value_count, sizeof *w->domain_values, compare_int);
		for (size_t i = 0; i < w->value_count; i++)
			if (kept == 0 || w->domain_values[i] != w->domain_values[kept - 1])
				w->domain_values[kept++] = w->domain_values[i];
	}
	w->value_count = kept;
	if (w->op == TLY_WHERE_IN && kept == 1)
		w->op = TLY_WHERE_EQ;
}

static tly_err
parse_op(struct parse *p, const json_t *clause, const char *prefix, const struct tly_column *col,
         enum tly_where_op *out)
{
	char path[TLY_SPEC_PATH_BYTES], echo[TLY_SPEC_ECHO_BYTES];
	enum tly_where_op op;
	json_t *value;
	tly_err rv = tly_spec_member(clause, prefix, "op", JSON_STRING, 1, &value, p->err);

	if (rv != TLY_OK)
		return rv;
	tly_spec_path_key(path, prefix, "op");
	for (op = TLY_WHERE_EQ; op <= TLY_WHERE_IN; op++)
		if (strcmp(json_string_value(value), tly_spec_op_name(op)) == 0)
			break;
	if (op > TLY_WHERE_IN) {
		tly_spec_echo(echo, json_string_value(value), json_string_length(value));
		return tly_field_fail(p->err, 0, path,
		                      "unknown operator \"%s\"; use =, !=, <, <=, >, >= or in",
		                      echo);
	}
	if (col->kind == TLY_COLUMN_CATEGORICAL && op >= TLY_WHERE_LT && op <= TLY_WHERE_GE)
		return tly_field_fail(
		    p->err, 0, path,
		    "\"%s\" needs an integer column; \"%s\" is categorical (use =, != or in)",
		    tly_spec_op_name(op), col->name);
	*out = op;
	return TLY_OK;
}

static tly_err
parse_values(struct parse *p, struct tly_where *w, const json_t *clause, const char *prefix)
{
	const struct tly_column *col = &p->ds->columns[w->column];
	char path[TLY_SPEC_PATH_BYTES], base[TLY_SPEC_PATH_BYTES];
	const json_t *value = json_object_get(clause, "value");
	size_t count = 1;
	tly_err rv;

	tly_spec_path_key(base, prefix, "value");
	if (value == NULL)
		return tly_field_fail(p->err, 0, base, "missing");
	if (w->op == TLY_WHERE_IN) {
		if (!json_is_array(value))
			return tly_field_fail(p->err, 0, base, "\"in\" needs an array, got %s",
			                      tly_spec_got(value).text);
		count = json_array_size(value);
		if (count == 0 || count > TLY_SPEC_IN_MAX)
			return tly_field_fail(p->err, 0, base, "%zu values; \"in\" takes 1 to %d",
			                      count, TLY_SPEC_IN_MAX);
	} else if (json_is_array(value)) {
		return tly_field_fail(p->err, 0, base,
		                      "\"%s\" takes one value; use \"in\" for a list",
		                      tly_spec_op_name(w->op));
	}
	if (col->kind == TLY_COLUMN_INTEGER)
		w->int_values = calloc(count, sizeof *w->int_values);
	else
		w->domain_values = calloc(count, sizeof *w->domain_values);
	if (w->int_values == NULL && w->domain_values == NULL)
		return TLY_ENOMEM;
	w->value_count = count;
	for (size_t i = 0; i < count; i++) {
		const json_t *item = w->op == TLY_WHERE_IN ? json_array_get(value, i) : value;
		if (w->op == TLY_WHERE_IN)
			tly_spec_path_index(path, base, i);
		else
			memcpy(path, base, sizeof path);
		if (col->kind == TLY_COLUMN_INTEGER)
			rv = integer_value(p, col, item, path, &w->int_values[i]);
		else
			rv = domain_value(p, col, item, path, &w->domain_values[i]);
		if (rv != TLY_OK)
			return rv;
	}
	normalise_values(w);
	return TLY_OK;
}

static tly_err
parse_clause(struct parse *p, struct tly_where *w, const json_t *clause, const char *prefix)
{
	static const char *const keys[] = {"column", "op", "value", NULL};
	char path[TLY_SPEC_PATH_BYTES];
	const json_t *column;
	tly_err rv;

	if (!json_is_object(clause))
		return tly_field_fail(p->err, 0, prefix, "expected an object, got %s",
		                      tly_spec_got(clause).text);
	if ((rv = tly_spec_only_keys(clause, prefix, keys, p->err)) != TLY_OK)
		return rv;
	tly_spec_path_key(path, prefix, "column");
	column = json_object_get(clause, "column");
	if (column == NULL)
		return tly_field_fail(p->err, 0, path, "missing");
	if ((rv = column_ref(p, column, path, &w->column)) != TLY_OK ||
	    (rv = parse_op(p, clause, prefix, &p->ds->columns[w->column], &w->op)) != TLY_OK)
		return rv;
	return parse_values(p, w, clause, prefix);
}

/* Order of clauses in the canonical form: column name (not index, so that
 * catalogues listing the columns in another order agree), op, values. */
static int
compare_where(const struct tly_dataset *ds, const struct tly_where *a, const struct tly_where *b)
{
	if (a->column != b->column)
		return strcmp(ds->columns[a->column].name, ds->columns[b->column].name);
	if (a->op != b->op)
		return a->op < b->op ? -1 : 1;
	if (a->value_count != b->value_count)
		return a->value_count < b->value_count ? -1 : 1;
	for (size_t i = 0; i < a->value_count; i++) {
		int c = a->int_values != NULL
		            ? compare_i64(&a->int_values[i], &b->int_values[i])
		            : compare_int(&a->domain_values[i], &b->domain_values[i]);
		if (c != 0)
			return c;
	}
	return 0;
}

/* The clauses are a conjunction: sort them and drop exact repeats. */
static void
normalise_clauses(const struct tly_dataset *ds, struct tly_where *where, size_t *count)
{
	size_t kept = 0;

	for (size_t i = 1; i < *count; i++) {
		struct tly_where moving = where[i];
		size_t j = i;
		for (; j > 0 && compare_where(ds, &where[j - 1], &moving) > 0; j--)
			where[j] = where[j - 1];
		where[j] = moving;
	}
	for (size_t i = 0; i < *count; i++) {
		if (kept > 0 && compare_where(ds, &where[kept - 1], &where[i]) == 0) {
			free(where[i].int_values);
			free(where[i].domain_values);
			continue;
		}
		where[kept++] = where[i];
	}
	*count = kept;
}

/* The array at root's key, of at most max `items`; *list NULL when absent. */
static tly_err
bounded_list(struct parse *p, const json_t *root, const char *key, size_t max, const char *items,
             json_t **list, size_t *count)
{
	tly_err rv = tly_spec_member(root, "", key, JSON_ARRAY, 0, list, p->err);

	if (rv != TLY_OK || *list == NULL)
		return rv;
	*count = json_array_size(*list);
	if (*count > max)
		return tly_field_fail(p->err, 0, key, "%zu %s; the limit is %zu", *count, items,
		                      max);
	return TLY_OK;
}

static tly_err
parse_where(struct parse *p, const json_t *root)
{
	char path[TLY_SPEC_PATH_BYTES];
	json_t *list = NULL;
	size_t count = 0;
	tly_err rv =
	    bounded_list(p, root, "where", TLY_SPEC_WHERE_MAX, "conditions", &list, &count);

	if (rv != TLY_OK || list == NULL)
		return rv;
	p->spec->where = calloc(count ? count : 1, sizeof *p->spec->where);
	if (p->spec->where == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		tly_spec_path_index(path, "where", i);
		p->spec->where_count = i + 1;
		rv = parse_clause(p, &p->spec->where[i], json_array_get(list, i), path);
		if (rv != TLY_OK)
			return rv;
	}
	normalise_clauses(p->ds, p->spec->where, &p->spec->where_count);
	return TLY_OK;
}

/* ---- rate and dsr ---- */

/* measure.numerator: 1..TLY_SPEC_WHERE_MAX clauses, as "where". */
static tly_err
parse_numerator(struct parse *p, const json_t *measure)
{
	char path[TLY_SPEC_PATH_BYTES];
	json_t *list;
	size_t count;
	tly_err rv = tly_spec_member(measure, "measure", "numerator", JSON_ARRAY, 1, &list, p->err);

	if (rv != TLY_OK)
		return rv;
	count = json_array_size(list);
	if (count == 0 || count > TLY_SPEC_WHERE_MAX)
		return tly_field_fail(p->err, 0, "measure.numerator",
		                      "%zu conditions; a numerator takes 1 to %d", count,
		                      TLY_SPEC_WHERE_MAX);
	p->spec->numerator = calloc(count, sizeof *p->spec->numerator);
	if (p->spec->numerator == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		tly_spec_path_index(path, "measure.numerator", i);
		p->spec->numerator_count = i + 1;
		rv = parse_clause(p, &p->spec->numerator[i], json_array_get(list, i), path);
		if (rv != TLY_OK)
			return rv;
	}
	normalise_clauses(p->ds, p->spec->numerator, &p->spec->numerator_count);
	return TLY_OK;
}

/* measure.per: 1, 100, 1000, 10000 or 100000 (default given). */
static tly_err
parse_per(struct parse *p, const json_t *measure, uint32_t fallback)
{
	const json_t *value = json_object_get(measure, "per");
	json_int_t v;

	p->spec->per = fallback;
	if (value == NULL)
		return TLY_OK;
	v = json_is_integer(value) ? json_integer_value(value) : 0;
	if (v != 1 && v != 100 && v != 1000 && v != 10000 && v != 100000)
		return tly_field_fail(p->err, 0, "measure.per",
		                      "expected 1, 100, 1000, 10000 or 100000, got %s",
		                      tly_spec_got(value).text);
	p->spec->per = (uint32_t)v;
	return TLY_OK;
}

/* dsr: measure.age_column (integer, min >= 0) and measure.standard. */
static tly_err
parse_standard(struct parse *p, const json_t *measure)
{
	char echo[TLY_SPEC_ECHO_BYTES];
	const json_t *column = json_object_get(measure, "age_column");
	const struct tly_column *col;
	json_t *standard;
	tly_err rv;

	if (column == NULL)
		return tly_field_fail(p->err, 0, "measure.age_column",
		                      "missing: dsr needs the integer age column");
	if ((rv = column_ref(p, column, "measure.age_column", &p->spec->measure_column)) != TLY_OK)
		return rv;
	col = &p->ds->columns[p->spec->measure_column];
	if (col->kind != TLY_COLUMN_INTEGER || col->min < 0)
		return tly_field_fail(p->err, 0, "measure.age_column",
		                      "column \"%s\" is not an integer column of ages (min >= 0)",
		                      col->name);
	rv = tly_spec_member(measure, "measure", "standard", JSON_STRING, 0, &standard, p->err);
	if (rv != TLY_OK)
		return rv;
	p->spec->standard = TLY_STANDARD_ESP2013;
	if (standard != NULL && strcmp(json_string_value(standard), "esp2013") != 0) {
		tly_spec_echo(echo, json_string_value(standard), json_string_length(standard));
		return tly_field_fail(p->err, 0, "measure.standard",
		                      "unknown standard \"%s\"; use esp2013", echo);
	}
	return TLY_OK;
}

static tly_err
parse_rate(struct parse *p, const json_t *measure)
{
	int dsr = p->spec->measure == TLY_MEASURE_DSR;
	tly_err rv = parse_numerator(p, measure);

	if (rv == TLY_OK)
		rv = parse_per(p, measure, dsr ? 100000 : 1000);
	if (rv == TLY_OK && dsr)
		rv = parse_standard(p, measure);
	return rv;
}

/* compare.to: a value for each grouping column, and no other key. */
static tly_err
parse_compare_to(struct parse *p, const json_t *compare)
{
	char path[TLY_SPEC_PATH_BYTES], echo[TLY_SPEC_ECHO_BYTES];
	const char *key;
	json_t *to, *value;
	tly_err rv = tly_spec_member(compare, "compare", "to", JSON_OBJECT, 1, &to, p->err);

	if (rv != TLY_OK)
		return rv;
	json_object_foreach(to, key, value)
	{
		int column = tly_dataset_column(p->ds, key);
		size_t g = 0;
		while (g < p->spec->group_by_count && p->spec->group_by[g] != column)
			g++;
		tly_spec_path_key(path, "compare.to", key);
		if (column < 0 || g == p->spec->group_by_count) {
			tly_spec_echo(echo, key, strlen(key));
			return tly_field_fail(
			    p->err, 0, path, "\"%s\" is not a grouping column of this query", echo);
		}
		rv = domain_value(p, &p->ds->columns[column], value, path, &p->spec->compare_to[g]);
		if (rv != TLY_OK)
			return rv;
	}
	if (json_object_size(to) != p->spec->group_by_count)
		return tly_field_fail(p->err, 0, "compare.to",
		                      "give a value for each of the %zu grouping columns",
		                      p->spec->group_by_count);
	return TLY_OK;
}

static tly_err
parse_compare(struct parse *p, const json_t *root)
{
	static const char *const keys[] = {"to", "as", NULL};
	json_t *compare, *as;
	tly_err rv = tly_spec_member(root, "", "compare", JSON_OBJECT, 0, &compare, p->err);

	if (rv != TLY_OK || compare == NULL)
		return rv;
	if (p->spec->measure != TLY_MEASURE_RATE && p->spec->measure != TLY_MEASURE_DSR)
		return tly_field_fail(p->err, 0, "compare", "only a rate or a dsr compares groups");
	if (p->spec->group_by_count == 0)
		return tly_field_fail(p->err, 0, "compare", "needs group_by: groups to compare");
	if ((rv = tly_spec_only_keys(compare, "compare", keys, p->err)) != TLY_OK ||
	    (rv = parse_compare_to(p, compare)) != TLY_OK ||
	    (rv = tly_spec_member(compare, "compare", "as", JSON_STRING, 1, &as, p->err)) != TLY_OK)
		return rv;
	if (strcmp(json_string_value(as), "ratio") == 0)
		p->spec->compare = TLY_COMPARE_RATIO;
	else if (strcmp(json_string_value(as), "difference") == 0)
		p->spec->compare = TLY_COMPARE_DIFFERENCE;
	else
		return tly_field_fail(p->err, 0, "compare.as",
		                      "expected \"ratio\" or \"difference\", got %s",
		                      tly_spec_got(as).text);
	return TLY_OK;
}

/* ---- group_by ---- */

/* group_by[i]: a categorical column, not named before it. */
static tly_err
group_column(struct parse *p, const json_t *value, size_t i)
{
	char path[TLY_SPEC_PATH_BYTES];
	int column;
	tly_err rv;

	tly_spec_path_index(path, "group_by", i);
	if ((rv = column_ref(p, value, path, &column)) != TLY_OK)
		return rv;
	if (p->ds->columns[column].kind != TLY_COLUMN_CATEGORICAL)
		return tly_field_fail(
		    p->err, 0, path,
		    "column \"%s\" is an integer; group by categorical columns only",
		    p->ds->columns[column].name);
	for (size_t j = 0; j < i; j++)
		if (p->spec->group_by[j] == column)
			return tly_field_fail(p->err, 0, path, "column \"%s\" appears twice",
			                      p->ds->columns[column].name);
	p->spec->group_by[i] = column;
	p->spec->group_by_count = i + 1;
	return TLY_OK;
}

static tly_err
parse_group_by(struct parse *p, const json_t *root)
{
	json_t *list = NULL;
	size_t count = 0;
	tly_err rv =
	    bounded_list(p, root, "group_by", TLY_SPEC_GROUP_BY_MAX, "columns", &list, &count);

	for (size_t i = 0; rv == TLY_OK && list != NULL && i < count; i++)
		rv = group_column(p, json_array_get(list, i), i);
	return rv;
}

/*
 * "domains": the grouping columns' value lists, in the order that lays out
 * the cells. Planners may leave it out; the canonical form always carries
 * it, so a QUERY binds the cell layout it was built with, and a node or an
 * auditor whose catalogue lists a grouping domain differently (other
 * values, or the same values in another order) refuses instead of
 * misreading every cell.
 */
static tly_err
parse_domains(struct parse *p, const json_t *root)
{
	char path[TLY_SPEC_PATH_BYTES], echo[TLY_SPEC_ECHO_BYTES];
	const char *key;
	json_t *obj, *list;
	tly_err rv = tly_spec_member(root, "", "domains", JSON_OBJECT, 0, &obj, p->err);

	if (rv != TLY_OK || obj == NULL)
		return rv;
	json_object_foreach(obj, key, list)
	{
		int column = tly_dataset_column(p->ds, key);
		size_t g = 0;

		tly_spec_path_key(path, "domains", key);
		while (g < p->spec->group_by_count && p->spec->group_by[g] != column)
			g++;
		if (column < 0 || g == p->spec->group_by_count) {
			tly_spec_echo(echo, key, strlen(key));
			return tly_field_fail(
			    p->err, 0, path, "\"%s\" is not a grouping column of this query", echo);
		}
	}
	for (size_t g = 0; g < p->spec->group_by_count; g++) {
		const struct tly_column *col = &p->ds->columns[p->spec->group_by[g]];
		size_t count;

		tly_spec_path_key(path, "domains", col->name);
		list = json_object_get(obj, col->name);
		if (list == NULL)
			return tly_field_fail(
			    p->err, 0, path,
			    "missing: \"domains\" must list every grouping column");
		if (!json_is_array(list))
			return tly_field_fail(p->err, 0, path,
			                      "expected an array of values, got %s",
			                      tly_spec_got(list).text);
		count = json_array_size(list);
		for (size_t i = 0; i < count && i < col->domain_count; i++) {
			const json_t *v = json_array_get(list, i);
			if (!json_is_string(v) || strcmp(json_string_value(v), col->domain[i]) != 0)
				return tly_field_fail(p->err, 0, path,
				                      "value %zu is %s but this catalogue's domain "
				                      "of \"%s\" has \"%s\" there; "
				                      "the query was built with another catalogue",
				                      i, tly_spec_got(v).text, col->name,
				                      col->domain[i]);
		}
		if (count != col->domain_count)
			return tly_field_fail(
			    p->err, 0, path,
			    "%zu values but this catalogue's domain of \"%s\" has "
			    "%zu; the query was "
			    "built with another catalogue",
			    count, col->name, col->domain_count);
	}
	return TLY_OK;
}

/* Too many cells: the grouping columns' domains times the cells per group. */
static tly_err
check_cells(struct parse *p)
{
	uint64_t cells = tly_spec_cells_per_group(p->spec);

	/* At most 256^4 groups of 100 cells: no overflow in 64 bits. */
	for (size_t i = 0; i < p->spec->group_by_count; i++)
		cells *= p->ds->columns[p->spec->group_by[i]].domain_count;
	if (cells > TLY_SPEC_CELLS_MAX)
		return tly_field_fail(p->err, 0, p->spec->group_by_count ? "group_by" : "measure",
		                      "the answer would have %" PRIu64 " cells; the limit is %d",
		                      cells, TLY_SPEC_CELLS_MAX);
	return TLY_OK;
}

/* ---- sdc and protocol ---- */

static tly_err
parse_u32(struct parse *p, const json_t *obj, const char *key, uint32_t *out)
{
	char path[TLY_SPEC_PATH_BYTES];
	const json_t *value = json_object_get(obj, key);
	json_int_t v;

	if (value == NULL)
		return TLY_OK;
	tly_spec_path_key(path, "sdc", key);
	if (!json_is_integer(value))
		return tly_field_fail(p->err, 0, path, "expected an integer, got %s",
		                      tly_spec_got(value).text);
	v = json_integer_value(value);
	if (v < 0 || (uint64_t)v > UINT32_MAX)
		return tly_field_fail(p->err, 0, path, "%" PRId64 " is outside 0..%" PRIu32,
		                      (int64_t)v, UINT32_MAX);
	*out = (uint32_t)v;
	return TLY_OK;
}

static tly_err
parse_sdc(struct parse *p, const json_t *root)
{
	static const char *const keys[] = {"suppress_below", "round_to", NULL};
	json_t *sdc;
	tly_err rv = tly_spec_member(root, "", "sdc", JSON_OBJECT, 0, &sdc, p->err);

	if (rv != TLY_OK || sdc == NULL)
		return rv;
	if ((rv = tly_spec_only_keys(sdc, "sdc", keys, p->err)) != TLY_OK ||
	    (rv = parse_u32(p, sdc, "suppress_below", &p->spec->suppress_below)) != TLY_OK ||
	    (rv = parse_u32(p, sdc, "round_to", &p->spec->round_to)) != TLY_OK)
		return rv;
	/* Rounding to the nearest 1 changes nothing. */
	if (p->spec->round_to == 1)
		p->spec->round_to = 0;
	return TLY_OK;
}

static tly_err
parse_protocol(struct parse *p, const json_t *root)
{
	struct name name;
	tly_err rv = name_member(p, root, "protocol", 0, &name);

	p->spec->protocol = TLY_PROTOCOL_COMMITTEE;
	if (rv != TLY_OK || name.value == NULL)
		return rv;
	for (uint8_t proto = TLY_PROTOCOL_COMMITTEE; proto <= TLY_PROTOCOL_SECAGG_PLUS; proto++) {
		if (strcmp(json_string_value(name.value), tly_spec_protocol_name(proto)) == 0) {
			p->spec->protocol = proto;
			p->spec->protocol_given = 1;
			return TLY_OK;
		}
	}
	return tly_field_fail(p->err, 0, "protocol",
	                      "unknown protocol \"%s\"; use committee, secagg or secagg+",
	                      name.echo);
}

static tly_err
parse_planner(struct parse *p, const json_t *root)
{
	struct name name;
	tly_err rv = name_member(p, root, "planner", 0, &name);

	if (rv != TLY_OK || name.value == NULL)
		return rv;
	if (strlen(json_string_value(name.value)) == json_string_length(name.value) &&
	    tly_planner_name_valid(json_string_value(name.value))) {
		snprintf(p->spec->planner, sizeof p->spec->planner, "%s",
		         json_string_value(name.value));
		return TLY_OK;
	}
	return tly_field_fail(p->err, 0, "planner",
	                      "\"%s\" is not a planner name (1 to %d of A-Z a-z 0-9 . _ -)",
	                      name.echo, TLY_PLANNER_NAME_MAX);
}

/* ---- the whole query ---- */

tly_err
tly_spec_parse(struct tly_spec *out, const struct tly_catalogue *cat, const char *json, size_t len,
               struct tly_field_error *err)
{
	static const char *const keys[] = {"dataset", "measure", "where", "group_by",
	                                   "domains", "privacy", "sdc",   "protocol",
	                                   "planner", "compare", NULL};
	struct tly_spec spec = {0};
	struct parse p = {.cat = cat, .spec = &spec, .err = err};
	json_t *root = NULL;
	char *canonical = NULL;
	tly_err rv;

	TLY_REQUIRE(out != NULL && cat != NULL && (json != NULL || len == 0));
	rv = tly_spec_load(&root, json, len, TLY_SPEC_JSON_MAX, "query", err);
	if (rv != TLY_OK)
		goto out;
	if ((rv = tly_spec_only_keys(root, "", keys, err)) != TLY_OK ||
	    (rv = parse_dataset(&p, root)) != TLY_OK || (rv = parse_measure(&p, root)) != TLY_OK ||
	    (rv = parse_where(&p, root)) != TLY_OK || (rv = parse_group_by(&p, root)) != TLY_OK ||
	    (rv = parse_domains(&p, root)) != TLY_OK || (rv = parse_compare(&p, root)) != TLY_OK ||
	    (rv = tly_spec_parse_privacy(&spec, root, err)) != TLY_OK ||
	    (rv = parse_sdc(&p, root)) != TLY_OK || (rv = parse_protocol(&p, root)) != TLY_OK ||
	    (rv = parse_planner(&p, root)) != TLY_OK || (rv = check_cells(&p)) != TLY_OK)
		goto out;
	/* Normalising can lengthen a query a little (1 -> "1", 0.5 -> "1/2",
	 * defaults spelt out); the canonical form must parse too. */
	if ((rv = tly_spec_canonical(&spec, cat, &canonical)) != TLY_OK)
		goto out;
	if (strlen(canonical) > TLY_SPEC_JSON_MAX) {
		rv = tly_field_fail(err, 0, "$",
		                    "the query's canonical form is %zu bytes; the limit is %d",
		                    strlen(canonical), TLY_SPEC_JSON_MAX);
		goto out;
	}
	*out = spec;
	memset(&spec, 0, sizeof spec);
	rv = TLY_OK;
out:
	free(canonical);
	tly_spec_fini(&spec);
	json_decref(root);
	return rv;
}
