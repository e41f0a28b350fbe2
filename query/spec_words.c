/* A query in plain words, every filter included (spec_words.h). */
#include "query/spec_words.h"
#include "query/spec_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string; any failure is remembered and reported at the end. */
struct words {
	FILE *f;
	char *text;
	size_t len;
	int bad; /* TLY_EFORMAT seen */
};

static tly_err
words_open(struct words *w)
{
	memset(w, 0, sizeof *w);
	w->f = open_memstream(&w->text, &w->len);
	return w->f != NULL ? TLY_OK : TLY_ENOMEM;
}

/* Close; on success *out takes the text. */
static tly_err
words_close(struct words *w, char **out)
{
	int failed = fclose(w->f) != 0;
	tly_err rv = w->bad ? TLY_EFORMAT : failed ? TLY_ENOMEM : TLY_OK;

	if (rv == TLY_OK)
		*out = w->text;
	else
		free(w->text);
	return rv;
}

/* A name as the catalogue allows it: [a-z][a-z0-9_]*, 1..TLY_SPEC_NAME_MAX. */
static const char *
identifier(struct words *w, const json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || !tly_spec_name_ok(s, strlen(s))) {
		w->bad = 1;
		return "?";
	}
	return s;
}

/* An integer bare; a string JSON-quoted, so that quotes, backslashes and
 * control characters come out escaped. */
static void
value(struct words *w, const json_t *v)
{
	if (json_is_integer(v)) {
		fprintf(w->f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	}
	char *quoted = json_is_string(v) ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
	if (quoted == NULL) {
		w->bad = 1;
		return;
	}
	fputs(quoted, w->f);
	free(quoted);
}

/* The canonical operator, checked against tly_spec_op_name. */
static int
where_op(const json_t *v, enum tly_where_op *op)
{
	const char *s = json_string_value(v);

	for (int i = TLY_WHERE_EQ; s != NULL && i <= TLY_WHERE_IN; i++) {
		if (strcmp(s, tly_spec_op_name((enum tly_where_op)i)) == 0) {
			*op = (enum tly_where_op)i;
			return 1;
		}
	}
	return 0;
}

static void
filter(struct words *w, const json_t *clause)
{
	const json_t *v = json_object_get(clause, "value");
	enum tly_where_op op;

	if (!where_op(json_object_get(clause, "op"), &op)) {
		w->bad = 1;
		return;
	}
	fprintf(w->f, "%s %s ", identifier(w, json_object_get(clause, "column")),
	        tly_spec_op_name(op));
	if (op != TLY_WHERE_IN) {
		value(w, v);
		return;
	}
	if (json_array_size(v) == 0)
		w->bad = 1;
	fputc('(', w->f);
	for (size_t i = 0; i < json_array_size(v); i++) {
		if (i > 0)
			fputs(", ", w->f);
		value(w, json_array_get(v, i));
	}
	fputc(')', w->f);
}

tly_err
tly_spec_words_filter(const json_t *clause, char **text)
{
	struct words w;
	tly_err rv = words_open(&w);

	if (rv != TLY_OK)
		return rv;
	if (!json_is_object(clause))
		w.bad = 1;
	else
		filter(&w, clause);
	return words_close(&w, text);
}

tly_err
tly_spec_words_filters(const json_t *spec, json_t **filters)
{
	const json_t *where = json_object_get(spec, "where");
	json_t *list = json_array();
	tly_err rv = list != NULL ? TLY_OK : TLY_ENOMEM;

	if (rv == TLY_OK && where != NULL && !json_is_array(where))
		rv = TLY_EFORMAT;
	for (size_t i = 0; rv == TLY_OK && i < json_array_size(where); i++) {
		char *text;
		rv = tly_spec_words_filter(json_array_get(where, i), &text);
		if (rv != TLY_OK)
			break;
		if (json_array_append_new(list, json_string(text)) != 0)
			rv = TLY_ENOMEM;
		free(text);
	}
	if (rv != TLY_OK) {
		json_decref(list);
		return rv;
	}
	*filters = list;
	return TLY_OK;
}

/* "rate per 1000 of people with has_diabetes = \"1\"", and for a dsr
 * ", directly age-standardised by age to the European Standard Population
 * 2013". */
static void
rate(struct words *w, const json_t *m, int dsr)
{
	const json_t *numerator = json_object_get(m, "numerator");
	const json_t *per = json_object_get(m, "per");
	const char *standard;

	if (!json_is_integer(per) || json_array_size(numerator) == 0)
		w->bad = 1;
	fprintf(w->f, "rate per %" JSON_INTEGER_FORMAT " of people with ", json_integer_value(per));
	for (size_t i = 0; i < json_array_size(numerator); i++) {
		const json_t *clause = json_array_get(numerator, i);
		fputs(i > 0 ? " and " : "", w->f);
		if (!json_is_object(clause))
			w->bad = 1;
		else
			filter(w, clause);
	}
	if (!dsr)
		return;
	standard = json_string_value(json_object_get(m, "standard"));
	if (standard == NULL || strcmp(standard, "esp2013") != 0)
		w->bad = 1;
	fprintf(w->f, ", directly age-standardised by %s to the European Standard Population 2013",
	        identifier(w, json_object_get(m, "age_column")));
}

/* "count of people", "mean of wait_weeks (...)", "histogram of x with
 * bin edges 0, 1, 2", a rate. */
static void
measure(struct words *w, const json_t *m)
{
	const char *op = json_string_value(json_object_get(m, "op"));
	const json_t *edges = json_object_get(m, "edges");

	if (op == NULL) {
		w->bad = 1;
		return;
	}
	if (strcmp(op, tly_spec_measure_name(TLY_MEASURE_RATE)) == 0 ||
	    strcmp(op, tly_spec_measure_name(TLY_MEASURE_DSR)) == 0) {
		rate(w, m, strcmp(op, tly_spec_measure_name(TLY_MEASURE_DSR)) == 0);
		return;
	}
	if (strcmp(op, tly_spec_measure_name(TLY_MEASURE_COUNT)) == 0) {
		fputs("count of people", w->f);
		return;
	}
	if (strcmp(op, tly_spec_measure_name(TLY_MEASURE_SUM)) != 0 &&
	    strcmp(op, tly_spec_measure_name(TLY_MEASURE_MEAN)) != 0 &&
	    strcmp(op, tly_spec_measure_name(TLY_MEASURE_HISTOGRAM)) != 0) {
		w->bad = 1;
		return;
	}
	fprintf(w->f, "%s of %s", op, identifier(w, json_object_get(m, "column")));
	if (strcmp(op, tly_spec_measure_name(TLY_MEASURE_HISTOGRAM)) != 0) {
		fputs(" (each value clipped to its declared bounds)", w->f);
		return;
	}
	if (json_array_size(edges) < 2)
		w->bad = 1;
	fputs(" with bin edges ", w->f);
	for (size_t i = 0; i < json_array_size(edges); i++) {
		const json_t *e = json_array_get(edges, i);
		if (!json_is_integer(e))
			w->bad = 1;
		fprintf(w->f, "%s%" JSON_INTEGER_FORMAT, i > 0 ? ", " : "", json_integer_value(e));
	}
}

static void
group_by(struct words *w, const json_t *columns)
{
	size_t n = json_array_size(columns);

	if (columns != NULL && !json_is_array(columns))
		w->bad = 1;
	for (size_t i = 0; i < n; i++)
		fprintf(w->f, "%s%s",
		        i == 0      ? ", by "
		        : i + 1 < n ? ", "
		                    : " and ",
		        identifier(w, json_array_get(columns, i)));
}

/* ", each compared with imd_decile = \"10\" as a ratio". */
static void
compare(struct words *w, const json_t *c)
{
	const char *as = json_string_value(json_object_get(c, "as"));
	const json_t *to = json_object_get(c, "to"), *v;
	const char *key;
	int first = 1;

	if (c == NULL)
		return;
	if (as == NULL || (strcmp(as, "ratio") != 0 && strcmp(as, "difference") != 0) ||
	    json_object_size(to) == 0) {
		w->bad = 1;
		return;
	}
	fputs(", each compared with ", w->f);
	json_object_foreach((json_t *)to, key, v)
	{
		if (!tly_spec_name_ok(key, strlen(key)))
			w->bad = 1;
		fprintf(w->f, "%s%s = ", first ? "" : " and ", w->bad ? "?" : key);
		value(w, v);
		first = 0;
	}
	fprintf(w->f, " as a %s", as);
}

tly_err
tly_spec_words_sentence(const json_t *spec, char **sentence)
{
	const json_t *where = json_object_get(spec, "where");
	struct words w;
	tly_err rv = words_open(&w);

	if (rv != TLY_OK)
		return rv;
	if (!json_is_object(spec) || (where != NULL && !json_is_array(where)))
		w.bad = 1;
	measure(&w, json_object_get(spec, "measure"));
	fprintf(w.f, " in dataset \"%s\"", identifier(&w, json_object_get(spec, "dataset")));
	if (json_array_size(where) == 0)
		fputs(", with no filter", w.f);
	for (size_t i = 0; i < json_array_size(where); i++) {
		const json_t *clause = json_array_get(where, i);
		fputs(i == 0 ? " where " : " and ", w.f);
		if (!json_is_object(clause))
			w.bad = 1;
		else
			filter(&w, clause);
	}
	group_by(&w, json_object_get(spec, "group_by"));
	compare(&w, json_object_get(spec, "compare"));
	return words_close(&w, sentence);
}
