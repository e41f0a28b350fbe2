#include "eval.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <sqlite3.h>

#include "node/eval_impl.h"

enum { BUSY_TIMEOUT_MS = 5000 };

/* What identifies the data a check passed on: the file at the path (device
 * and inode, taken before the connection opened it, so a file renamed over
 * the path is noticed and reopened), its size and modification time to the
 * nanosecond, and SQLite's data_version (which moves whenever another
 * connection commits, also in WAL mode where the main file may not change). */
struct marker {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int64_t data_version;
};

struct tly_store {
	struct tly_pg_store *pg; /* source = postgresql: everything below unused */
	sqlite3 *db;
	const struct tly_node_dataset *ds;
	struct marker checked; /* valid when is_checked */
	int is_checked;
	int in_read; /* inside tly_store_begin .. tly_store_end */
};

/* ---- SQL text and its parameters (struct tly_sql: eval_impl.h) ---- */

static void
append(struct tly_sql *q, const char *fmt, ...)
{
	va_list ap;

	if (q->failed)
		return;
	for (;;) {
		size_t room = q->cap - q->len;
		va_start(ap, fmt);
		int n = vsnprintf(q->text != NULL ? q->text + q->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			q->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			q->len += (size_t)n;
			return;
		}
		size_t cap = q->cap ? q->cap * 2 : 512;
		while (cap - q->len <= (size_t)n)
			cap *= 2;
		char *grown = realloc(q->text, cap);
		if (grown == NULL) {
			q->failed = 1;
			return;
		}
		q->text = grown;
		q->cap = cap;
	}
}

static void
param_int(struct tly_sql *q, int64_t v)
{
	if (q->param_count == TLY_SQL_PARAMS_MAX) {
		q->failed = 1;
		return;
	}
	q->params[q->param_count++] = (struct tly_sql_param){.integer = v};
	/* PostgreSQL: typed, so that a parameter never takes a narrower
	 * column's type (a bound beyond int4 against an int4 column) */
	if (q->pg)
		append(q, "$%zu::bigint", q->param_count);
	else
		append(q, "?");
}

static void
param_text(struct tly_sql *q, const char *v)
{
	if (q->param_count == TLY_SQL_PARAMS_MAX) {
		q->failed = 1;
		return;
	}
	q->params[q->param_count++] = (struct tly_sql_param){.is_text = 1, .text = v};
	if (q->pg)
		append(q, "$%zu::text", q->param_count);
	else
		append(q, "?");
}

/* The dialects' differences, each in one place. */
static const char *
fn_min(const struct tly_sql *q)
{
	return q->pg ? "LEAST" : "MIN";
}

static const char *
fn_max(const struct tly_sql *q)
{
	return q->pg ? "GREATEST" : "MAX";
}

static const char *
truth(const struct tly_sql *q)
{
	return q->pg ? "TRUE" : "1";
}

/* SQLite sums integers as integers (an error past int64); PostgreSQL sums
 * BIGINT as NUMERIC, cast back so that the same overflow is an error. */
static void
sum_open(struct tly_sql *q)
{
	append(q, q->pg ? "CAST(SUM(" : "SUM(");
}

static void
sum_close(struct tly_sql *q)
{
	append(q, q->pg ? ") AS BIGINT)" : ")");
}

/* The table: PostgreSQL's qualified by its schema, so that no other
 * schema on a search path can stand in for it. */
static void
table_ref(struct tly_sql *q, const struct tly_node_dataset *ds)
{
	if (q->pg)
		append(q, "\"%s\".\"%s\"", ds->pg_schema, ds->table);
	else
		append(q, "\"%s\"", ds->table);
}

/* A column reference: categorical columns compare as text, so that a
 * domain value "1" matches an INTEGER 1 stored by SQLite. */
static void
column_ref(struct tly_sql *q, const struct tly_column *col)
{
	if (col->kind == TLY_COLUMN_CATEGORICAL)
		append(q, "CAST(\"%s\" AS TEXT)", col->name);
	else
		append(q, "\"%s\"", col->name);
}

static void
condition(struct tly_sql *q, const struct tly_dataset *schema, const struct tly_where *w)
{
	const struct tly_column *col = &schema->columns[w->column];

	append(q, " AND ");
	column_ref(q, col);
	/* the spec's own spelling is SQL's ("in" is IN: keywords ignore case) */
	append(q, " %s ", tly_spec_op_name(w->op));
	if (w->op == TLY_WHERE_IN)
		append(q, "(");
	for (size_t i = 0; i < w->value_count; i++) {
		if (i > 0)
			append(q, ", ");
		if (col->kind == TLY_COLUMN_CATEGORICAL)
			param_text(q, col->domain[w->domain_values[i]]);
		else
			param_int(q, w->int_values[i]);
	}
	if (w->op == TLY_WHERE_IN)
		append(q, ")");
}

/* FROM ... WHERE: opt-outs first, then the query's conditions. */
static void
from_where(struct tly_sql *q, const struct tly_node_dataset *ds, const struct tly_spec *spec)
{
	const struct tly_dataset *schema = &ds->schema;

	append(q, " FROM ");
	table_ref(q, ds);
	append(q, " WHERE ");
	/* PostgreSQL's opt-out column may be boolean: compared as an integer */
	if (ds->opt_out[0] != '\0')
		append(q,
		       q->pg ? "COALESCE(CAST(\"%s\" AS INTEGER), 0) = 0"
		             : "COALESCE(\"%s\", 0) = 0",
		       ds->opt_out);
	else
		append(q, "%s", truth(q));
	if (spec->measure_column >= 0)
		append(q, " AND \"%s\" IS NOT NULL", schema->columns[spec->measure_column].name);
	for (size_t i = 0; i < spec->where_count; i++)
		condition(q, schema, &spec->where[i]);
}

/* The measure clipped to its declared bounds: MIN(MAX(x, min), max). */
static void
clipped(struct tly_sql *q, const struct tly_column *measure)
{
	append(q, "%s(%s(\"%s\", ", fn_min(q), fn_max(q), measure->name);
	param_int(q, measure->min);
	append(q, "), ");
	param_int(q, measure->max);
	append(q, ")");
}

/* A mean's centred sum, SUM(clip(x) - c), and the row count (the caller
 * weights it): query/spec.h, tly_spec_mean_encoding. */
static void
mean_select(struct tly_sql *q, const struct tly_column *measure, const struct tly_spec *spec)
{
	struct tly_mean_encoding enc;

	tly_mean_encoding_of(measure, spec->mechanism, &enc);
	sum_open(q);
	clipped(q, measure);
	append(q, " - ");
	param_int(q, enc.centre);
	sum_close(q);
	append(q, ", COUNT(*)");
}

/* rate, dsr: the ESP band (dsr) and whether the row is in the numerator
 * (1) or not (0): a NULL in a numerator column is "not". The age is
 * clipped to the column's declared bounds, as a sum clips, then banded. */
static void
rate_columns(struct tly_sql *q, const struct tly_dataset *schema, const struct tly_spec *spec)
{
	if (spec->measure == TLY_MEASURE_DSR) {
		const struct tly_column *age = &schema->columns[spec->measure_column];
		append(q, "%s(%s(%s(CAST(\"%s\" AS INTEGER), ", fn_min(q), fn_min(q), fn_max(q),
		       age->name);
		param_int(q, age->min);
		append(q, "), ");
		param_int(q, age->max);
		append(q, ") / %d, %d) AS band, ", TLY_ESP2013_BAND_YEARS, TLY_ESP2013_BANDS - 1);
	}
	append(q, "CASE WHEN %s", truth(q));
	for (size_t i = 0; i < spec->numerator_count; i++)
		condition(q, schema, &spec->numerator[i]);
	append(q, " THEN 1 ELSE 0 END AS hit, COUNT(*)");
}

/* Result columns a rate or dsr groups by after the grouping columns:
 * the band (dsr) and the numerator flag. */
static size_t
rate_groupings(const struct tly_spec *spec)
{
	return spec->measure == TLY_MEASURE_DSR ? 2 : spec->measure == TLY_MEASURE_RATE ? 1 : 0;
}

static void
build_select(struct tly_sql *q, const struct tly_node_dataset *ds, const struct tly_spec *spec)
{
	const struct tly_dataset *schema = &ds->schema;
	const struct tly_column *measure =
	    spec->measure_column >= 0 ? &schema->columns[spec->measure_column] : NULL;

	append(q, "SELECT ");
	for (size_t g = 0; g < spec->group_by_count; g++) {
		column_ref(q, &schema->columns[spec->group_by[g]]);
		append(q, ", ");
	}
	switch (spec->measure) {
	case TLY_MEASURE_COUNT:
		append(q, "COUNT(*)");
		break;
	case TLY_MEASURE_SUM:
		sum_open(q);
		clipped(q, measure);
		sum_close(q);
		append(q, ", COUNT(*)");
		break;
	case TLY_MEASURE_MEAN:
		mean_select(q, measure, spec);
		break;
	case TLY_MEASURE_HISTOGRAM:
		/* Bins [e0,e1), ..., [e(b-1), eb]; values outside the edges
		 * fall in the first or last bin. */
		append(q, "CASE");
		for (size_t e = 1; e + 1 < spec->edge_count; e++) {
			append(q, " WHEN \"%s\" < ", measure->name);
			param_int(q, spec->edges[e]);
			append(q, " THEN %zu", e - 1);
		}
		append(q, " ELSE %zu END AS bin, COUNT(*)", spec->edge_count - 2);
		break;
	case TLY_MEASURE_RATE:
	case TLY_MEASURE_DSR:
		rate_columns(q, schema, spec);
		break;
	}
	from_where(q, ds, spec);
	if (spec->group_by_count > 0 || spec->measure >= TLY_MEASURE_HISTOGRAM) {
		append(q, " GROUP BY ");
		for (size_t g = 0; g < spec->group_by_count; g++)
			append(q, "%s%zu", g > 0 ? ", " : "", g + 1);
		if (spec->measure == TLY_MEASURE_HISTOGRAM)
			append(q, "%sbin", spec->group_by_count > 0 ? ", " : "");
		/* By position: a data column may be called "band" or "hit". */
		for (size_t c = 0; c < rate_groupings(spec); c++)
			append(q, "%s%zu", spec->group_by_count + c > 0 ? ", " : "",
			       spec->group_by_count + c + 1);
	}
}

static void
sql_fini(struct tly_sql *q)
{
	free(q->text);
	memset(q, 0, sizeof *q);
}

tly_err
tly_eval_sql(const struct tly_node_dataset *ds, const struct tly_spec *spec, char **out)
{
	struct tly_sql q;

	memset(&q, 0, sizeof q);
	q.pg = ds->source == TLY_SOURCE_POSTGRESQL;
	build_select(&q, ds, spec);
	if (q.failed) {
		sql_fini(&q);
		return TLY_ENOMEM;
	}
	*out = q.text;
	return TLY_OK;
}

/* ---- running it ---- */

static tly_err
prepare(struct tly_store *st, struct tly_sql *q, sqlite3_stmt **stmt, char *why, size_t why_len)
{
	if (q->failed) {
		tly_say(why, why_len, "out of memory building SQL");
		return TLY_ENOMEM;
	}
	if (sqlite3_prepare_v2(st->db, q->text, -1, stmt, NULL) != SQLITE_OK) {
		tly_say(why, why_len, "%s: %s", st->ds->path, sqlite3_errmsg(st->db));
		return TLY_EINVAL;
	}
	for (size_t i = 0; i < q->param_count; i++) {
		const struct tly_sql_param *p = &q->params[i];
		int rc = p->is_text
		             ? sqlite3_bind_text(*stmt, (int)i + 1, p->text, -1, SQLITE_STATIC)
		             : sqlite3_bind_int64(*stmt, (int)i + 1, p->integer);
		if (rc != SQLITE_OK) {
			tly_say(why, why_len, "binding parameter %zu: %s", i + 1,
			        sqlite3_errmsg(st->db));
			sqlite3_finalize(*stmt);
			*stmt = NULL;
			return TLY_EINVAL;
		}
	}
	return TLY_OK;
}

/* A result row of either source: a stepped SQLite statement, or row
 * `index` of PostgreSQL's rows. */
struct result_row {
	sqlite3_stmt *stmt;
	const struct tly_pg_rows *pg;
	size_t index;
};

static int64_t
col_int(const struct result_row *r, int col)
{
	return r->stmt != NULL ? sqlite3_column_int64(r->stmt, col)
	                       : tly_pg_rows_int(r->pg, r->index, col);
}

/* NULL for SQL NULL. */
static const char *
col_text(const struct result_row *r, int col)
{
	return r->stmt != NULL ? (const char *)sqlite3_column_text(r->stmt, col)
	                       : tly_pg_rows_text(r->pg, r->index, col);
}

/* The cell index of a result row, or -1 when a grouping value is NULL or
 * outside its domain. */
static long
row_group(const struct result_row *r, const struct tly_spec *spec, const struct tly_dataset *schema)
{
	long group = 0;

	for (size_t g = 0; g < spec->group_by_count; g++) {
		const struct tly_column *col = &schema->columns[spec->group_by[g]];
		const char *text = col_text(r, (int)g);
		int value = text != NULL ? tly_column_value(col, text) : -1;
		if (value < 0)
			return -1;
		group = group * (long)col->domain_count + value;
	}
	return group;
}

static tly_err
add_cell(int64_t *cell, int64_t value)
{
	if (__builtin_add_overflow(*cell, value, cell))
		return TLY_ERANGE;
	return TLY_OK;
}

/* A mean's count cell: *cell += weight * rows. */
static tly_err
add_weighted(int64_t *cell, int64_t rows, int64_t weight)
{
	int64_t value;

	if (__builtin_mul_overflow(rows, weight, &value))
		return TLY_ERANGE;
	return add_cell(cell, value);
}

/* The weight of a mean's count cell (1 for other measures); TLY_ERANGE
 * when a range so wide that clip(x) - c could leave int64 (such a query
 * is refused before this, by tly_spec_sensitivity). */
static tly_err
count_weight(const struct tly_store *st, const struct tly_spec *spec, int64_t *weight)
{
	struct tly_mean_encoding enc;

	*weight = 1;
	if (spec->measure != TLY_MEASURE_MEAN)
		return TLY_OK;
	tly_mean_encoding_of(&st->ds->schema.columns[spec->measure_column], spec->mechanism, &enc);
	if (enc.half_range > INT64_MAX || enc.weight > INT64_MAX)
		return TLY_ERANGE;
	*weight = (int64_t)enc.weight;
	return TLY_OK;
}

/* The result column holding the row count: the last one. */
static int
rows_column(const struct tly_spec *spec)
{
	int value_col = (int)spec->group_by_count;

	switch (spec->measure) {
	case TLY_MEASURE_COUNT:
		return value_col;
	case TLY_MEASURE_DSR: /* band, hit, count */
		return value_col + 2;
	default: /* sum or bin or hit, then count */
		return value_col + 1;
	}
}

/* A histogram, rate or dsr row: its cell within the group, -1 when out
 * of range. A histogram's is its bin; a rate's and a dsr's (numerator,
 * rest) per band, spec.h. */
static long
row_cell(const struct result_row *r, const struct tly_spec *spec, size_t per_group)
{
	int col = (int)spec->group_by_count;
	int64_t band = 0, hit;

	if (spec->measure == TLY_MEASURE_HISTOGRAM) {
		int64_t bin = col_int(r, col);
		return bin < 0 || (size_t)bin >= per_group ? -1 : (long)bin;
	}
	if (spec->measure == TLY_MEASURE_DSR)
		band = col_int(r, col++);
	hit = col_int(r, col);
	if (band < 0 || band >= TLY_ESP2013_BANDS || (hit != 0 && hit != 1))
		return -1;
	return (long)(2 * band + (hit ? 0 : 1));
}

/* One result row of group cells `cell` (per_group of them) holding rows
 * rows: added into its cell; a row out of range counts as unmatched. */
static tly_err
add_row(const struct result_row *r, const struct tly_spec *spec, int64_t *cell, size_t per_group,
        int64_t rows, int64_t weight, struct tly_eval_stats *stats)
{
	int value_col = (int)spec->group_by_count;
	tly_err rv = TLY_OK;

	switch (spec->measure) {
	case TLY_MEASURE_COUNT:
		rv = add_cell(&cell[0], rows);
		break;
	case TLY_MEASURE_SUM:
		rv = add_cell(&cell[0], col_int(r, value_col));
		break;
	case TLY_MEASURE_MEAN:
		rv = add_cell(&cell[0], col_int(r, value_col));
		if (rv == TLY_OK)
			rv = add_weighted(&cell[1], rows, weight);
		break;
	case TLY_MEASURE_HISTOGRAM:
	case TLY_MEASURE_RATE:
	case TLY_MEASURE_DSR: {
		long at = row_cell(r, spec, per_group);
		if (at < 0)
			stats->rows_unmatched += (uint64_t)rows;
		else
			rv = add_cell(&cell[at], rows);
		break;
	}
	}
	return rv;
}

/* What the rows of one answer are added into. */
struct tally {
	const struct tly_spec *spec;
	const struct tly_dataset *schema;
	int64_t *cells;
	size_t per_group;
	int64_t weight;
	struct tly_eval_stats *stats;
};

/* One result row into its cell; TLY_ERANGE when a cell overflows. */
static tly_err
take_row(const struct tally *t, const struct result_row *r)
{
	long group = row_group(r, t->spec, t->schema);
	/* The row count is the last column: COUNT(*) alone, or after the
	 * sum, the bin, or a rate's band and flag. */
	int64_t rows = col_int(r, rows_column(t->spec));

	t->stats->rows_matched += (uint64_t)rows;
	if (group < 0) {
		t->stats->rows_unmatched += (uint64_t)rows;
		return TLY_OK;
	}
	return add_row(r, t->spec, &t->cells[(size_t)group * t->per_group], t->per_group, rows,
	               t->weight, t->stats);
}

static tly_err
run_sqlite(struct tly_store *st, struct tly_sql *q, const struct tally *t, char *why,
           size_t why_len)
{
	struct result_row r = {0};
	tly_err rv = prepare(st, q, &r.stmt, why, why_len);
	int rc;

	if (rv != TLY_OK)
		return rv;
	while ((rc = sqlite3_step(r.stmt)) == SQLITE_ROW) {
		if ((rv = take_row(t, &r)) != TLY_OK) {
			tly_say(why, why_len, "a cell overflows 64 bits");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		/* SQLite reports "integer overflow" from SUM here. */
		tly_say(why, why_len, "%s: %s", st->ds->path, sqlite3_errmsg(st->db));
		rv = rc == SQLITE_ERROR && strstr(sqlite3_errmsg(st->db), "overflow") ? TLY_ERANGE
		                                                                      : TLY_EINVAL;
	}
out:
	sqlite3_finalize(r.stmt);
	return rv;
}

static tly_err
run_pg(struct tly_store *st, const struct tly_sql *q, const struct tally *t, char *why,
       size_t why_len)
{
	struct result_row r = {0};
	struct tly_pg_rows *rows;
	tly_err rv = tly_pg_query(st->pg, q, &rows, why, why_len);

	if (rv != TLY_OK)
		return rv;
	r.pg = rows;
	for (; r.index < tly_pg_rows_count(rows) && rv == TLY_OK; r.index++)
		rv = take_row(t, &r);
	if (rv != TLY_OK)
		tly_say(why, why_len, "a cell overflows 64 bits");
	tly_pg_rows_free(rows);
	return rv;
}

tly_err
tly_eval(struct tly_store *st, const struct tly_spec *spec, const struct tly_catalogue *cat,
         int64_t *cells, size_t d, struct tly_eval_stats *stats, char *why, size_t why_len)
{
	struct tally t = {spec, &st->ds->schema, cells, tly_spec_cells_per_group(spec), 1, stats};
	struct tly_sql q;
	tly_err rv;

	if (d != tly_spec_cells(spec, cat)) {
		tly_say(why, why_len, "cell vector of %zu for a query of %zu cells", d,
		        tly_spec_cells(spec, cat));
		return TLY_EINVAL;
	}
	memset(&q, 0, sizeof q);
	memset(stats, 0, sizeof *stats);
	memset(cells, 0, d * sizeof *cells);
	if ((rv = count_weight(st, spec, &t.weight)) != TLY_OK) {
		tly_say(why, why_len, "the mean's column range is too wide");
		return rv;
	}
	q.pg = st->pg != NULL;
	build_select(&q, st->ds, spec);
	if (q.failed)
		rv = tly_fail(why, why_len, TLY_ENOMEM, "out of memory building SQL");
	else if (st->pg != NULL)
		rv = run_pg(st, &q, &t, why, why_len);
	else
		rv = run_sqlite(st, &q, &t, why, why_len);
	sql_fini(&q);
	return rv;
}

/* Run q (then freed) and set *found to whether it returns a row. */
static tly_err
any_row(struct tly_store *st, struct tly_sql *q, int *found, char *why, size_t why_len)
{
	sqlite3_stmt *stmt = NULL;
	struct tly_pg_rows *rows;
	tly_err rv;

	if (st->pg != NULL) {
		rv = q->failed ? tly_fail(why, why_len, TLY_ENOMEM, "out of memory building SQL")
		               : tly_pg_query(st->pg, q, &rows, why, why_len);
		if (rv == TLY_OK) {
			*found = tly_pg_rows_count(rows) > 0;
			tly_pg_rows_free(rows);
		}
		sql_fini(q);
		return rv;
	}
	rv = prepare(st, q, &stmt, why, why_len);
	if (rv == TLY_OK) {
		int rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
			*found = rc == SQLITE_ROW;
		} else {
			tly_say(why, why_len, "%s: %s", st->ds->path, sqlite3_errmsg(st->db));
			rv = TLY_EINVAL;
		}
	}
	sqlite3_finalize(stmt);
	sql_fini(q);
	return rv;
}

tly_err
tly_eval_person(struct tly_store *st, const struct tly_spec *spec, const char *person_id,
                int *contributed, char *why, size_t why_len)
{
	struct tly_sql q;

	memset(&q, 0, sizeof q);
	q.pg = st->pg != NULL;
	append(&q, "SELECT 1");
	from_where(&q, st->ds, spec);
	append(&q, " AND CAST(\"%s\" AS TEXT) = ", st->ds->person_id);
	param_text(&q, person_id);
	append(&q, " LIMIT 1");
	return any_row(st, &q, contributed, why, why_len);
}

/* The person's row, opted out or not: only whether it exists. */
tly_err
tly_eval_person_exists(struct tly_store *st, const char *person_id, int *exists, char *why,
                       size_t why_len)
{
	struct tly_sql q;

	memset(&q, 0, sizeof q);
	q.pg = st->pg != NULL;
	append(&q, "SELECT 1 FROM ");
	table_ref(&q, st->ds);
	append(&q, " WHERE CAST(\"%s\" AS TEXT) = ", st->ds->person_id);
	param_text(&q, person_id);
	append(&q, " LIMIT 1");
	return any_row(st, &q, exists, why, why_len);
}

/* ---- opening and checking the data ---- */

static int
has_column(sqlite3 *db, const char *table, const char *column)
{
	sqlite3_stmt *stmt;
	int found = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &stmt,
	                       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, column, -1, SQLITE_STATIC);
	found = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_finalize(stmt);
	return found;
}

static tly_err
check_schema(struct tly_store *st, char *why, size_t why_len)
{
	const struct tly_node_dataset *ds = st->ds;
	sqlite3_stmt *stmt;
	char sql[256];

	if (!has_column(st->db, ds->table, ds->person_id)) {
		tly_say(why, why_len,
		        "%s: table \"%s\" has no person id column \"%s\" (or no such table)",
		        ds->path, ds->table, ds->person_id);
		return TLY_EINVAL;
	}
	if (ds->opt_out[0] != '\0' && !has_column(st->db, ds->table, ds->opt_out)) {
		tly_say(why, why_len, "%s: table \"%s\" has no opt-out column \"%s\"", ds->path,
		        ds->table, ds->opt_out);
		return TLY_EINVAL;
	}
	for (size_t i = 0; i < ds->schema.column_count; i++) {
		if (!has_column(st->db, ds->table, ds->schema.columns[i].name)) {
			tly_say(why, why_len,
			        "%s: table \"%s\" has no column \"%s\" declared in the config",
			        ds->path, ds->table, ds->schema.columns[i].name);
			return TLY_EINVAL;
		}
	}
	/* One row per person: the privacy unit the sensitivity assumes. */
	snprintf(sql, sizeof sql, "SELECT COUNT(*) - COUNT(DISTINCT \"%s\") FROM \"%s\"",
	         ds->person_id, ds->table);
	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		tly_say(why, why_len, "%s: %s", ds->path, sqlite3_errmsg(st->db));
		return TLY_EINVAL;
	}
	int64_t duplicates = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
	sqlite3_finalize(stmt);
	if (duplicates != 0) {
		tly_say(
		    why, why_len,
		    "%s: \"%s\" is not unique (%lld duplicate rows): the node needs one row per "
		    "person",
		    ds->path, ds->person_id, (long long)duplicates);
		return TLY_EINVAL;
	}
	return TLY_OK;
}

/* Open (or reopen) the connection. *identity receives the file's device
 * and inode as they were just before the open: if the path is replaced in
 * between, the connection holds the newer file and the next begin reopens
 * once more, never the other way round. */
static tly_err
open_connection(struct tly_store *st, struct stat *identity, char *why, size_t why_len)
{
	const struct tly_node_dataset *ds = st->ds;

	sqlite3_close(st->db);
	st->db = NULL;
	st->is_checked = 0;
	if (stat(ds->path, identity) != 0) {
		tly_say(why, why_len, "%s: cannot open read-only: no such file or not readable",
		        ds->path);
		return TLY_EINVAL;
	}
	if (sqlite3_open_v2(ds->path, &st->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		tly_say(why, why_len, "%s: cannot open read-only: %s", ds->path,
		        st->db ? sqlite3_errmsg(st->db) : "out of memory");
		return TLY_EINVAL;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	if (sqlite3_exec(st->db, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK) {
		tly_say(why, why_len, "%s: %s", ds->path, sqlite3_errmsg(st->db));
		return TLY_EINVAL;
	}
	return TLY_OK;
}

static int
exec_int(sqlite3 *db, const char *sql, int64_t *value)
{
	sqlite3_stmt *stmt;
	int ok;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return 0;
	ok = sqlite3_step(stmt) == SQLITE_ROW;
	if (ok)
		*value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return ok;
}

/* Take the read lock (a deferred transaction starts reading at its first
 * statement) and read the change marker under it. */
static tly_err
lock_and_mark(struct tly_store *st, struct marker *now, char *why, size_t why_len)
{
	struct stat sb;
	int64_t tables;

	if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	st->in_read = 1;
	if (!exec_int(st->db, "SELECT COUNT(*) FROM sqlite_schema", &tables) ||
	    !exec_int(st->db, "PRAGMA data_version", &now->data_version))
		goto fail;
	if (stat(st->ds->path, &sb) != 0) {
		tly_say(why, why_len, "%s: the file went away", st->ds->path);
		return TLY_EINVAL;
	}
	now->size = sb.st_size;
	now->mtime = sb.st_mtim;
	return TLY_OK;
fail:
	tly_say(why, why_len, "%s: cannot read: %s", st->ds->path, sqlite3_errmsg(st->db));
	return TLY_EINVAL;
}

static int
same_marker(const struct marker *a, const struct marker *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->data_version == b->data_version;
}

tly_err
tly_store_begin(struct tly_store *st, char *why, size_t why_len)
{
	struct marker now = st->checked;
	struct stat identity;
	tly_err rv;

	if (st->pg != NULL)
		return tly_pg_store_begin(st->pg, why, why_len);
	TLY_REQUIRE(!st->in_read);
	if (stat(st->ds->path, &identity) != 0 || st->db == NULL || !st->is_checked ||
	    identity.st_dev != st->checked.dev || identity.st_ino != st->checked.ino) {
		rv = open_connection(st, &identity, why, why_len);
		if (rv != TLY_OK)
			return rv;
	}
	now.dev = identity.st_dev;
	now.ino = identity.st_ino;
	rv = lock_and_mark(st, &now, why, why_len);
	if (rv == TLY_OK && !(st->is_checked && same_marker(&now, &st->checked))) {
		/* Changed (or never checked): check again, under the same
		 * lock as the answer that follows. */
		st->is_checked = 0;
		rv = check_schema(st, why, why_len);
		if (rv == TLY_OK) {
			st->checked = now;
			st->is_checked = 1;
		}
	}
	if (rv != TLY_OK)
		tly_store_end(st);
	return rv;
}

void
tly_store_end(struct tly_store *st)
{
	if (st != NULL && st->pg != NULL)
		tly_pg_store_end(st->pg);
	if (st == NULL || !st->in_read)
		return;
	/* A read-only transaction: COMMIT only releases the lock. */
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_read = 0;
}

tly_err
tly_store_open(struct tly_store **out, const struct tly_node_dataset *ds, char *why, size_t why_len)
{
	struct tly_store *st = calloc(1, sizeof *st);
	tly_err rv;

	if (st == NULL)
		return TLY_ENOMEM;
	st->ds = ds;
	if (ds->source == TLY_SOURCE_POSTGRESQL) {
		rv = tly_pg_store_open(&st->pg, ds, why, why_len);
		if (rv != TLY_OK) {
			free(st);
			return rv;
		}
		*out = st;
		return TLY_OK;
	}
	rv = tly_store_begin(st, why, why_len);
	if (rv != TLY_OK) {
		tly_store_close(st);
		return rv;
	}
	tly_store_end(st);
	*out = st;
	return TLY_OK;
}

void
tly_store_close(struct tly_store *st)
{
	if (st == NULL)
		return;
	tly_store_end(st);
	tly_pg_store_close(st->pg);
	sqlite3_close(st->db);
	free(st);
}
