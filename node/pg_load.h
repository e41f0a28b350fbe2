/*
 * pg_load.h - write tables into PostgreSQL through libpq, for `tally synth
 * --postgres` and `tally-node import --postgres` (one writer for both).
 *
 * A load is one connection and one transaction: tables are created (an
 * existing one refused, or dropped first when the caller says replace)
 * and filled by COPY FROM STDIN in PostgreSQL's text format
 * (PQputCopyData); nothing is visible to anyone until tly_pg_load_commit,
 * and tly_pg_load_free without a commit rolls everything back. Values are
 * never put into SQL text: they travel as COPY data, escaped for its
 * format. Identifiers must be names [a-z][a-z0-9_]* (tly_pg_name_ok, as
 * the node config requires) and are quoted with PQescapeIdentifier too.
 *
 * Error messages (why) never hold the connection string's password: they
 * name the server with tly_pg_conninfo_display and pass libpq's messages
 * through tly_pg_scrub (node/pg.h), as the node's reads do.
 *
 * Not thread-safe: one load per thread.
 */
#ifndef TLY_NODE_PG_LOAD_H
#define TLY_NODE_PG_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "query/spec.h"

enum tly_pg_type {
	TLY_PG_TEXT = 1,
	TLY_PG_BIGINT = 2,
	TLY_PG_FLAG = 3, /* integer NOT NULL DEFAULT 0 (an opt-out column) */
};

enum { TLY_PG_COLUMNS_MAX = TLY_SPEC_COLUMNS_MAX + 2, TLY_PG_CONNINFO_MAX = 1024 };

/* A table: columns[0] is the primary key (text, NOT NULL). Names are
 * borrowed for the call. */
struct tly_pg_layout {
	const char *table;
	size_t column_count; /* 1..TLY_PG_COLUMNS_MAX */
	const char *names[TLY_PG_COLUMNS_MAX];
	enum tly_pg_type types[TLY_PG_COLUMNS_MAX];
};

struct tly_pg_load;

/* 1 when name is [a-z][a-z0-9_]*, at most TLY_SPEC_NAME_MAX bytes. */
int tly_pg_name_ok(const char *name);

/* 1 when conninfo sets a password (so a file holding it must be private). */
int tly_pg_conninfo_has_password(const char *conninfo);

/* Connect and begin a transaction. *out is the caller's on success (free
 * with tly_pg_load_free). TLY_EINVAL for a malformed conninfo, TLY_EIO
 * when the server cannot be reached or refuses; why says which. */
TLY_MUST tly_err tly_pg_load_open(struct tly_pg_load **out, const char *conninfo, char *why,
                                  size_t why_len);

/* Create layout->table (dropping an existing one first when replace) and
 * start COPY into it. TLY_EINVAL when the table exists and !replace
 * (why says so), or for a bad name or layout; TLY_EIO otherwise. After a
 * failure the load is rolled back: only tly_pg_load_free is left. */
TLY_MUST tly_err tly_pg_load_table(struct tly_pg_load *load, const struct tly_pg_layout *layout,
                                   int replace, char *why, size_t why_len);

/* One row of the table being copied: values[i] is column i's text (a
 * bigint in decimal) or NULL for SQL NULL. TLY_EIO (connection lost). */
TLY_MUST tly_err tly_pg_load_row(struct tly_pg_load *load, const char *const *values, char *why,
                                 size_t why_len);

/* End the COPY; *rows is the count the server loaded. TLY_EIO (the
 * server refused a row: a duplicate key, a bad value). */
TLY_MUST tly_err tly_pg_load_end(struct tly_pg_load *load, uint64_t *rows, char *why,
                                 size_t why_len);

/* Commit every table of the load. TLY_EIO. */
TLY_MUST tly_err tly_pg_load_commit(struct tly_pg_load *load, char *why, size_t why_len);

/* Roll back what is not committed, close. Accepts NULL. */
void tly_pg_load_free(struct tly_pg_load *load);

#endif
