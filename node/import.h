/*
 * import.h - load a trust's CSV extract into a new SQLite file or a new
 * PostgreSQL table, checked against the dataset's declared schema
 * (`tally-node import`).
 *
 * The CSV (RFC 4180: quoted fields, "" escapes, CRLF or LF) must have a
 * header naming the person id column, every declared column and the opt-out
 * column if one is configured, in any order; unknown header names are
 * errors. Each row is checked: person id present and unique, integer
 * columns are integers (empty means NULL), categorical values are in the
 * declared domain (empty means NULL), opt-out is 0, 1 or empty.
 *
 * Nothing half-imported is ever left behind: rows go into a temporary file
 * beside the output, which is synced and renamed into place only when every
 * row is good. An existing output file is never overwritten.
 */
#ifndef TLY_NODE_IMPORT_H
#define TLY_NODE_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

enum { TLY_IMPORT_REPORT_MAX = 20 }; /* bad rows described individually */

struct tly_import_report {
	uint64_t rows;     /* data rows read */
	uint64_t bad_rows; /* rows refused */
	size_t described;  /* entries in problems[] */
	struct {
		uint64_t line; /* 1-based line of the CSV where the row starts */
		char reason[200];
	} problems[TLY_IMPORT_REPORT_MAX];
	char error[256]; /* a failure that is not about one row (file, header, disk) */
};

/* Import csv_path into a new SQLite file out_path (table ds->table).
 * TLY_OK when every row was good and the file is in place; TLY_EINVAL when
 * the header or some rows are bad (see report; out_path does not exist
 * afterwards); TLY_EIO for file-system and SQLite failures. */
TLY_MUST tly_err tly_import_csv(const struct tly_node_dataset *ds, const char *csv_path,
                                const char *out_path, struct tly_import_report *report);

/* The same checks, into a new PostgreSQL table through libpq (node/pg_load.h):
 * `table` (NULL: ds->table) is created with typed columns (person id text,
 * integer columns bigint, categorical text, opt-out integer NOT NULL
 * DEFAULT 0) and a primary key on the person id, filled by COPY, and
 * committed only when every row is good: one transaction, all or nothing.
 * An existing table is refused unless replace (it is then dropped in the
 * same transaction, so a failed load leaves it as it was). One row per
 * person is checked here, to name the CSV line of a duplicate. report->error
 * names the server without its password. TLY_OK; TLY_EINVAL (bad rows or
 * header, an existing table, a bad name or connection string); TLY_EIO
 * (the file, the server); TLY_ENOMEM. */
TLY_MUST tly_err tly_import_csv_postgres(const struct tly_node_dataset *ds, const char *csv_path,
                                         const char *conninfo, const char *table, int replace,
                                         struct tly_import_report *report);

/* The CSV record reader, exposed for tests and fuzzing. Reads one record
 * into fields (each NUL-terminated, pointing into *storage, which is
 * malloc'd and grown as needed); *line advances by the lines consumed.
 * Returns 1 with a record, 0 at end of input, -1 on a malformed record
 * (unterminated quote, quote inside an unquoted field, over the caps). */
enum { TLY_CSV_FIELDS_MAX = 256, TLY_CSV_RECORD_MAX = 1 << 20 };
int tly_csv_read(FILE *in, char **storage, size_t *storage_cap, char *fields[TLY_CSV_FIELDS_MAX],
                 size_t *field_count, uint64_t *line);

#endif
