/*
 * eval.h - a query evaluated on the trust's own data: the full cell vector.
 *
 * The node opens its dataset's SQLite file read-only (it never writes the
 * trust's data), checks that the table and every declared column exist and
 * that person ids are unique (one row per person is what the sensitivity
 * assumes), and checks again whenever the file changes (tly_store_begin),
 * then answers parsed specs with one parameterised statement:
 *
 *   SELECT <group columns>, <aggregate> FROM "<table>"
 *   WHERE (<opt_out> IS NULL OR <opt_out> = 0) AND <conditions>
 *   GROUP BY <group columns>
 *
 * Identifiers come from the node's config (validated [a-z][a-z0-9_]*),
 * never from the query; every value is a bound parameter. Opted-out rows are
 * excluded before anything else. Sums are clipped to the column's declared
 * bounds inside SQL (MIN(MAX(col, lo), hi)). Rows whose grouping value is
 * outside the public domain, or NULL, are left out and counted in
 * struct tly_eval_stats so the operator can see them; they never change the
 * shape of the answer. Every cell of the declared domains is returned,
 * empty ones as 0.
 *
 * A dataset whose source is postgresql (config.h) is read through libpq
 * behind the same functions (eval_pg.c): the same statement in
 * PostgreSQL's dialect (LEAST/GREATEST, $N::bigint and $N::text
 * parameters, "schema"."table", sums cast back to BIGINT), the same cells
 * and stats, the same checks plus the role's (SELECT only) and the column
 * types (integer columns smallint, integer or bigint), run again at every
 * tly_store_begin inside a REPEATABLE READ READ ONLY transaction that
 * holds the table in ACCESS SHARE mode until tly_store_end. Its messages
 * show the conninfo without its password (pg.h).
 *
 * Thread safety: one struct tly_store per thread.
 */
#ifndef TLY_NODE_EVAL_H
#define TLY_NODE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "query/spec.h"

struct tly_store;

struct tly_eval_stats {
	uint64_t rows_matched;   /* rows that passed the filters (not opted out) */
	uint64_t rows_unmatched; /* of those, rows left out: grouping value outside
	                            its domain or NULL, or NULL measure */
};

/* Open ds's data read-only and check it (table, columns, opt-out column,
 * unique person ids). On failure `why` says what is wrong, for the trust's
 * operator: it may quote figures read from the data (a duplicate count), so
 * it must never be sent off the node. TLY_EINVAL, TLY_ENOMEM. *out is the
 * caller's, freed with tly_store_close. */
TLY_MUST tly_err tly_store_open(struct tly_store **out, const struct tly_node_dataset *ds,
                                char *why, size_t why_len);
void tly_store_close(struct tly_store *st);

/*
 * Start reading for one answer: a read transaction, so the data cannot
 * change until tly_store_end (a writer waits, or under WAL writes past this
 * snapshot). If the data changed since it last passed the checks of
 * tly_store_open -- another file at the path (reopened), another size or
 * modification time (to the nanosecond), or another SQLite data_version (a
 * commit by any other connection) -- the checks run again, under the same
 * lock, so what tly_eval reads next is exactly what was checked. On
 * failure no transaction is left open, why is as for tly_store_open
 * (never to be sent), and a later call checks afresh. TLY_EINVAL.
 * Calling it twice without tly_store_end aborts.
 */
TLY_MUST tly_err tly_store_begin(struct tly_store *st, char *why, size_t why_len);
/* End the read begun by tly_store_begin; nothing when none is open. */
void tly_store_end(struct tly_store *st);

/* The SQL text the node runs for spec (for operators, tests and
 * `tally-node explain`). *sql is malloc'd. spec must have been parsed
 * against a catalogue whose dataset is ds->schema. */
TLY_MUST tly_err tly_eval_sql(const struct tly_node_dataset *ds, const struct tly_spec *spec,
                              char **sql);

/* Evaluate: cells (d = tly_spec_cells) receives the exact, noise-free
 * answer. A secret of the trust's: the caller adds noise and shares it, and
 * wipes it. cat is the catalogue spec was parsed against (the node's own).
 * TLY_EINVAL with `why` when SQLite fails; TLY_ERANGE when a cell would
 * overflow int64. */
TLY_MUST tly_err tly_eval(struct tly_store *st, const struct tly_spec *spec,
                          const struct tly_catalogue *cat, int64_t *cells, size_t d,
                          struct tly_eval_stats *stats, char *why, size_t why_len);

/* Per-person usage: 1 in *contributed when the row of person_id passes
 * spec's filters (and has a usable measure value), 0 when it does not or
 * does not exist or is opted out. */
TLY_MUST tly_err tly_eval_person(struct tly_store *st, const struct tly_spec *spec,
                                 const char *person_id, int *contributed, char *why,
                                 size_t why_len);

/* 1 in *exists when the data holds a row with this person id, opted out
 * or not (what `tally-node usage-report` tells an operator, who can read
 * the data anyway); 0 otherwise. TLY_EINVAL with `why` when SQLite fails. */
TLY_MUST tly_err tly_eval_person_exists(struct tly_store *st, const char *person_id, int *exists,
                                        char *why, size_t why_len);

#endif
