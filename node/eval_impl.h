/*
 * eval_impl.h - what eval.c (the SQL, the SQLite store, the cells) and
 * eval_pg.c (the PostgreSQL store) share. Nothing outside node/eval*.c
 * includes it.
 *
 * One SQL builder serves both sources, so that both run the same query:
 * only the dialect differs (parameters ?N or $N::type, MIN/MAX or
 * LEAST/GREATEST, a schema-qualified table, a sum cast back to BIGINT), and
 * one reader of result rows fills the cells for both.
 */
#ifndef TLY_NODE_EVAL_IMPL_H
#define TLY_NODE_EVAL_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "node/eval.h"

enum { TLY_SQL_PARAMS_MAX = TLY_SPEC_WHERE_MAX * TLY_SPEC_IN_MAX + TLY_SPEC_EDGES_MAX + 4 };

struct tly_sql_param {
	int is_text;
	int64_t integer;
	const char *text; /* borrowed from the catalogue's domain, or the caller's */
};

/* SQL text and its parameters, in the dialect of `pg` (0: SQLite). */
struct tly_sql {
	int pg;
	char *text;
	size_t len, cap;
	int failed;
	size_t param_count;
	struct tly_sql_param params[TLY_SQL_PARAMS_MAX];
};

/* ---- the PostgreSQL store (eval_pg.c) ---- */

struct tly_pg_store;
struct tly_pg_rows; /* one statement's result rows */

/* As tly_store_open/begin/end/close, for a dataset whose source is
 * postgresql (eval.h says what each checks). `why` never holds the
 * conninfo's secrets. */
TLY_MUST tly_err tly_pg_store_open(struct tly_pg_store **out, const struct tly_node_dataset *ds,
                                   char *why, size_t why_len);
TLY_MUST tly_err tly_pg_store_begin(struct tly_pg_store *pg, char *why, size_t why_len);
void tly_pg_store_end(struct tly_pg_store *pg);
void tly_pg_store_close(struct tly_pg_store *pg);

/* Run q (its parameters bound, never spliced) and hold its rows in *out,
 * freed with tly_pg_rows_free. TLY_ERANGE when a sum leaves BIGINT;
 * TLY_EINVAL with why otherwise. */
TLY_MUST tly_err tly_pg_query(struct tly_pg_store *pg, const struct tly_sql *q,
                              struct tly_pg_rows **out, char *why, size_t why_len);
size_t tly_pg_rows_count(const struct tly_pg_rows *rows);
/* A value as text, NULL for SQL NULL; as an integer, 0 for NULL. */
const char *tly_pg_rows_text(const struct tly_pg_rows *rows, size_t row, int col);
int64_t tly_pg_rows_int(const struct tly_pg_rows *rows, size_t row, int col);
void tly_pg_rows_free(struct tly_pg_rows *rows);

#endif
