#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pg_load.h"

/* ---- CSV records ---- */

static int
put_char(char **storage, size_t *cap, size_t *len, int c)
{
	if (*len + 1 >= *cap) {
		if (*cap >= TLY_CSV_RECORD_MAX)
			return -1;
		size_t grown_cap = *cap ? *cap * 2 : 4096;
		char *grown = realloc(*storage, grown_cap);
		if (grown == NULL)
			return -1;
		*storage = grown;
		*cap = grown_cap;
	}
	(*storage)[(*len)++] = (char)c;
	return 0;
}

int
tly_csv_read(FILE *in, char **storage, size_t *storage_cap, char *fields[TLY_CSV_FIELDS_MAX],
             size_t *field_count, uint64_t *line)
{
	size_t len = 0, starts[TLY_CSV_FIELDS_MAX], count = 0;
	int c = getc(in), quoted = 0, after_quote = 0;

	if (c == EOF)
		return 0;
	starts[count++] = 0;
	for (;; c = getc(in)) {
		if (quoted) {
			if (c == EOF)
				return -1; /* unterminated quote */
			if (c == '"') {
				int next = getc(in);
				if (next == '"') {
					if (put_char(storage, storage_cap, &len, '"') < 0)
						return -1;
					continue;
				}
				ungetc(next, in);
				quoted = 0;
				after_quote = 1;
				continue;
			}
			if (c == '\n')
				(*line)++;
			if (put_char(storage, storage_cap, &len, c) < 0)
				return -1;
			continue;
		}
		if (c == '\r') {
			int next = getc(in);
			if (next != '\n')
				return -1; /* a lone CR */
			c = '\n';
		}
		if (c == EOF || c == '\n') {
			(*line)++;
			break;
		}
		if (c == ',') {
			if (put_char(storage, storage_cap, &len, '\0') < 0 ||
			    count == TLY_CSV_FIELDS_MAX)
				return -1;
			starts[count++] = len;
			after_quote = 0;
			continue;
		}
		if (after_quote)
			return -1; /* text after a closing quote */
		if (c == '"') {
			if (len != starts[count - 1])
				return -1; /* a quote inside an unquoted field */
			quoted = 1;
			continue;
		}
		if (put_char(storage, storage_cap, &len, c) < 0)
			return -1;
	}
	if (put_char(storage, storage_cap, &len, '\0') < 0)
		return -1;
	for (size_t i = 0; i < count; i++)
		fields[i] = *storage + starts[i];
	*field_count = count;
	return 1;
}

/* ---- the import ---- */

/* Person ids seen so far (the PostgreSQL load checks one row per person
 * itself, to name the CSV line; SQLite's primary key does it there). An
 * open-addressing set of copies, kept at most half full. */
struct seen {
	char **slots;
	size_t cap, count;
};

struct import {
	const struct tly_node_dataset *ds;
	struct tly_import_report *report;
	/* header position of: person id, each declared column, opt-out (-1 if none) */
	int person_pos;
	int column_pos[TLY_SPEC_COLUMNS_MAX];
	int opt_out_pos;
	size_t header_count;
	/* the checked row: person, declared columns, opt-out ("0"/"1"); NULL = SQL NULL */
	const char *values[TLY_PG_COLUMNS_MAX];
	int64_t integers[TLY_SPEC_COLUMNS_MAX];
	char decimals[TLY_SPEC_COLUMNS_MAX][24];
	/* the sink: a SQLite file, or a PostgreSQL load */
	sqlite3 *db;
	sqlite3_stmt *insert;
	struct tly_pg_load *pg;
	const char *pg_table;
	int pg_replace;
	struct seen seen;
};

static void
problem(struct import *im, uint64_t line, const char *fmt, ...)
{
	struct tly_import_report *r = im->report;
	va_list ap;

	r->bad_rows++;
	if (r->described == TLY_IMPORT_REPORT_MAX)
		return;
	r->problems[r->described].line = line;
	va_start(ap, fmt);
	vsnprintf(r->problems[r->described].reason, sizeof r->problems[0].reason, fmt, ap);
	va_end(ap);
	r->described++;
}

static tly_err
fail(struct import *im, tly_err rv, const char *fmt, ...)
{
	va_list ap;

	if (im->report->error[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(im->report->error, sizeof im->report->error, fmt, ap);
		va_end(ap);
	}
	return rv;
}

static tly_err
map_header(struct import *im, char **fields, size_t count)
{
	const struct tly_dataset *schema = &im->ds->schema;

	im->person_pos = im->opt_out_pos = -1;
	for (size_t c = 0; c < schema->column_count; c++)
		im->column_pos[c] = -1;
	for (size_t i = 0; i < count; i++) {
		const char *name = fields[i];
		int col = tly_dataset_column(schema, name);
		int *slot = strcmp(name, im->ds->person_id) == 0 ? &im->person_pos
		            : im->ds->opt_out[0] != '\0' && strcmp(name, im->ds->opt_out) == 0
		                ? &im->opt_out_pos
		            : col >= 0 ? &im->column_pos[col]
		                       : NULL;
		if (slot == NULL)
			return fail(im, TLY_EINVAL,
			            "header: column \"%.60s\" is not declared for dataset %s", name,
			            schema->name);
		if (*slot >= 0)
			return fail(im, TLY_EINVAL, "header: column \"%.60s\" appears twice", name);
		*slot = (int)i;
	}
	if (im->person_pos < 0)
		return fail(im, TLY_EINVAL, "header: the person id column \"%s\" is missing",
		            im->ds->person_id);
	if (im->ds->opt_out[0] != '\0' && im->opt_out_pos < 0)
		return fail(im, TLY_EINVAL, "header: the opt-out column \"%s\" is missing",
		            im->ds->opt_out);
	for (size_t c = 0; c < schema->column_count; c++)
		if (im->column_pos[c] < 0)
			return fail(im, TLY_EINVAL, "header: declared column \"%s\" is missing",
			            schema->columns[c].name);
	im->header_count = count;
	return TLY_OK;
}

static tly_err
create_table(struct import *im)
{
	const struct tly_dataset *schema = &im->ds->schema;
	char sql[8192];
	size_t n = 0;

	n += (size_t)snprintf(sql + n, sizeof sql - n,
	                      "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN; "
	                      "CREATE TABLE \"%s\" (\"%s\" TEXT PRIMARY KEY NOT NULL",
	                      im->ds->table, im->ds->person_id);
	for (size_t c = 0; c < schema->column_count && n < sizeof sql; c++)
		n += (size_t)snprintf(
		    sql + n, sizeof sql - n, ", \"%s\" %s", schema->columns[c].name,
		    schema->columns[c].kind == TLY_COLUMN_INTEGER ? "INTEGER" : "TEXT");
	if (im->ds->opt_out[0] != '\0' && n < sizeof sql)
		n += (size_t)snprintf(sql + n, sizeof sql - n,
		                      ", \"%s\" INTEGER NOT NULL DEFAULT 0", im->ds->opt_out);
	if (n < sizeof sql)
		n += (size_t)snprintf(sql + n, sizeof sql - n, ")");
	if (n >= sizeof sql || sqlite3_exec(im->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(im, TLY_EIO, "creating the table: %s", sqlite3_errmsg(im->db));

	/* INSERT INTO t VALUES (person, columns..., opt_out) */
	n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO \"%s\" VALUES (?", im->ds->table);
	size_t params = schema->column_count + (im->ds->opt_out[0] != '\0');
	for (size_t i = 0; i < params && n < sizeof sql; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, ", ?");
	if (n < sizeof sql)
		n += (size_t)snprintf(sql + n, sizeof sql - n, ")");
	if (n >= sizeof sql || sqlite3_prepare_v2(im->db, sql, -1, &im->insert, NULL) != SQLITE_OK)
		return fail(im, TLY_EIO, "preparing the insert: %s", sqlite3_errmsg(im->db));
	return TLY_OK;
}

static int
parse_integer(const char *text, int64_t *out)
{
	char *end;

	if (text[0] == '\0' || (text[0] != '-' && (text[0] < '0' || text[0] > '9')))
		return 0;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	*out = v;
	return 1;
}

/* Check one row into im->values; 0 when it is bad (reported). */
static int
check_row(struct import *im, char **fields, size_t count, uint64_t line)
{
	const struct tly_dataset *schema = &im->ds->schema;

	if (count != im->header_count) {
		problem(im, line, "%zu fields where the header has %zu", count, im->header_count);
		return 0;
	}
	im->values[0] = fields[im->person_pos];
	if (im->values[0][0] == '\0') {
		problem(im, line, "empty %s", im->ds->person_id);
		return 0;
	}
	for (size_t c = 0; c < schema->column_count; c++) {
		const struct tly_column *col = &schema->columns[c];
		const char *text = fields[im->column_pos[c]];
		im->values[c + 1] = text[0] == '\0' ? NULL : text;
		if (text[0] == '\0')
			continue;
		if (col->kind == TLY_COLUMN_INTEGER) {
			if (!parse_integer(text, &im->integers[c])) {
				problem(im, line, "%s: \"%.40s\" is not an integer", col->name,
				        text);
				return 0;
			}
			snprintf(im->decimals[c], sizeof im->decimals[c], "%lld",
			         (long long)im->integers[c]);
			im->values[c + 1] = im->decimals[c];
		} else if (tly_column_value(col, text) < 0) {
			problem(im, line, "%s: \"%.40s\" is not in the declared domain", col->name,
			        text);
			return 0;
		}
	}
	if (im->opt_out_pos >= 0) {
		const char *text = fields[im->opt_out_pos];
		if (text[0] != '\0' && strcmp(text, "0") != 0 && strcmp(text, "1") != 0) {
			problem(im, line, "%s: \"%.40s\" must be 0, 1 or empty", im->ds->opt_out,
			        text);
			return 0;
		}
		im->values[schema->column_count + 1] = text[0] == '1' ? "1" : "0";
	}
	return 1;
}

/* ---- the SQLite sink ---- */

static tly_err
sqlite_put(struct import *im, uint64_t line)
{
	const struct tly_dataset *schema = &im->ds->schema;
	sqlite3_stmt *st = im->insert;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, im->values[0], -1, SQLITE_TRANSIENT);
	for (size_t c = 0; c < schema->column_count; c++) {
		int param = (int)c + 2;
		if (im->values[c + 1] == NULL)
			sqlite3_bind_null(st, param);
		else if (schema->columns[c].kind == TLY_COLUMN_INTEGER)
			sqlite3_bind_int64(st, param, im->integers[c]);
		else
			sqlite3_bind_text(st, param, im->values[c + 1], -1, SQLITE_TRANSIENT);
	}
	if (im->opt_out_pos >= 0)
		sqlite3_bind_int(st, (int)schema->column_count + 2,
		                 im->values[schema->column_count + 1][0] == '1');
	int rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		problem(im, line, "%s \"%.40s\" appears more than once", im->ds->person_id,
		        im->values[0]);
	else if (rc != SQLITE_DONE)
		return fail(im, TLY_EIO, "line %llu: %s", (unsigned long long)line,
		            sqlite3_errmsg(im->db));
	return TLY_OK;
}

/* ---- the PostgreSQL sink ---- */

static uint64_t
hash_id(const char *id)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */
	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * UINT64_C(0x100000001b3);
	return h;
}

static size_t
seen_slot(char **slots, size_t cap, const char *id)
{
	size_t i = (size_t)(hash_id(id) & (cap - 1));
	while (slots[i] != NULL && strcmp(slots[i], id) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

static int
seen_grow(struct seen *set)
{
	size_t cap = set->cap ? set->cap * 2 : 1024;
	char **slots = calloc(cap, sizeof *slots);
	if (slots == NULL)
		return 0;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slots[i] != NULL)
			slots[seen_slot(slots, cap, set->slots[i])] = set->slots[i];
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 1;
}

/* 1 when id is new (and now remembered), 0 when seen before, -1 no memory. */
static int
seen_add(struct seen *set, const char *id)
{
	if (2 * (set->count + 1) > set->cap && !seen_grow(set))
		return -1;
	size_t i = seen_slot(set->slots, set->cap, id);
	if (set->slots[i] != NULL)
		return 0;
	if ((set->slots[i] = strdup(id)) == NULL)
		return -1;
	set->count++;
	return 1;
}

static void
seen_fini(struct seen *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
}

static tly_err
pg_create(struct import *im)
{
	const struct tly_dataset *schema = &im->ds->schema;
	struct tly_pg_layout layout = {.table = im->pg_table, .column_count = 1};
	char why[sizeof im->report->error];

	layout.names[0] = im->ds->person_id;
	layout.types[0] = TLY_PG_TEXT;
	for (size_t c = 0; c < schema->column_count; c++) {
		layout.names[layout.column_count] = schema->columns[c].name;
		layout.types[layout.column_count++] =
		    schema->columns[c].kind == TLY_COLUMN_INTEGER ? TLY_PG_BIGINT : TLY_PG_TEXT;
	}
	if (im->ds->opt_out[0] != '\0') {
		layout.names[layout.column_count] = im->ds->opt_out;
		layout.types[layout.column_count++] = TLY_PG_FLAG;
	}
	tly_err rv = tly_pg_load_table(im->pg, &layout, im->pg_replace, why, sizeof why);
	if (rv == TLY_EINVAL && !im->pg_replace)
		return fail(im, rv, "%s (--replace drops it first)", why);
	return rv == TLY_OK ? rv : fail(im, rv, "%s", why);
}

static tly_err
pg_put(struct import *im, uint64_t line)
{
	char why[sizeof im->report->error];
	int fresh = seen_add(&im->seen, im->values[0]);

	if (fresh < 0)
		return fail(im, TLY_ENOMEM, "out of memory");
	if (fresh == 0) {
		problem(im, line, "%s \"%.40s\" appears more than once", im->ds->person_id,
		        im->values[0]);
		return TLY_OK;
	}
	if (im->report->bad_rows > 0)
		return TLY_OK; /* nothing will be committed: stop sending */
	tly_err rv = tly_pg_load_row(im->pg, im->values, why, sizeof why);
	return rv == TLY_OK ? rv : fail(im, rv, "line %llu: %s", (unsigned long long)line, why);
}

static tly_err
read_rows(struct import *im, FILE *in)
{
	char *storage = NULL, *fields[TLY_CSV_FIELDS_MAX];
	size_t cap = 0, count;
	uint64_t line = 0, start;
	tly_err rv = TLY_OK;
	int got;

	got = tly_csv_read(in, &storage, &cap, fields, &count, &line);
	if (got <= 0) {
		rv = fail(im, TLY_EINVAL,
		          got == 0 ? "the file is empty" : "line 1: malformed header");
		goto out;
	}
	rv = map_header(im, fields, count);
	if (rv == TLY_OK)
		rv = im->pg != NULL ? pg_create(im) : create_table(im);
	while (rv == TLY_OK) {
		start = line + 1;
		got = tly_csv_read(in, &storage, &cap, fields, &count, &line);
		if (got == 0)
			break;
		im->report->rows++;
		if (got < 0) {
			/* The reader cannot resynchronise inside a broken quote. */
			problem(im, start, "malformed CSV record (quotes, or over %d bytes)",
			        TLY_CSV_RECORD_MAX);
			break;
		}
		if (count == 1 && fields[0][0] == '\0') {
			im->report->rows--; /* a blank line */
			continue;
		}
		if (check_row(im, fields, count, start))
			rv = im->pg != NULL ? pg_put(im, start) : sqlite_put(im, start);
	}
	if (rv == TLY_OK && ferror(in))
		rv = fail(im, TLY_EIO, "reading the CSV: %s", strerror(errno));
	if (rv == TLY_OK && im->report->bad_rows > 0)
		rv = TLY_EINVAL;
out:
	free(storage);
	return rv;
}

static tly_err
sync_path(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return TLY_EIO;
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? TLY_OK : TLY_EIO;
}

/* Make the new directory entry durable too. */
static tly_err
sync_dir(const char *path)
{
	char dir[TLY_CONFIG_PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return sync_path(dir);
}

tly_err
tly_import_csv(const struct tly_node_dataset *ds, const char *csv_path, const char *out_path,
               struct tly_import_report *report)
{
	struct import im;
	char temp[TLY_CONFIG_PATH_MAX + 32];
	FILE *in = NULL;
	tly_err rv;

	memset(report, 0, sizeof *report);
	memset(&im, 0, sizeof im);
	im.ds = ds;
	im.report = report;
	if (access(out_path, F_OK) == 0)
		return fail(&im, TLY_EINVAL, "%s already exists: not overwriting it", out_path);
	in = fopen(csv_path, "r");
	if (in == NULL)
		return fail(&im, TLY_EIO, "%s: %s", csv_path, strerror(errno));
	snprintf(temp, sizeof temp, "%s.import-%ld", out_path, (long)getpid());
	unlink(temp);
	if (sqlite3_open_v2(temp, &im.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rv =
		    fail(&im, TLY_EIO, "%s: %s", temp, im.db ? sqlite3_errmsg(im.db) : "no memory");
		goto out;
	}
	rv = read_rows(&im, in);
	sqlite3_finalize(im.insert);
	im.insert = NULL;
	if (rv == TLY_OK && sqlite3_exec(im.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rv = fail(&im, TLY_EIO, "commit: %s", sqlite3_errmsg(im.db));
out:
	if (im.db != NULL && sqlite3_close(im.db) != SQLITE_OK && rv == TLY_OK)
		rv = fail(&im, TLY_EIO, "closing %s", temp);
	fclose(in);
	if (rv == TLY_OK && sync_path(temp) != TLY_OK)
		rv = fail(&im, TLY_EIO, "syncing %s: %s", temp, strerror(errno));
	/* link() refuses to replace an existing file, unlike rename(). */
	if (rv == TLY_OK && link(temp, out_path) != 0)
		rv = fail(&im, TLY_EIO, "placing %s: %s", out_path, strerror(errno));
	unlink(temp);
	if (rv == TLY_OK)
		rv = sync_dir(out_path);
	return rv;
}

/* Open the CSV and the PostgreSQL load, for tly_import_csv_postgres. */
static tly_err
pg_open(struct import *im, const char *csv_path, const char *conninfo, FILE **in)
{
	char why[sizeof im->report->error];

	if (!tly_pg_name_ok(im->pg_table))
		return fail(im, TLY_EINVAL,
		            "table \"%.63s\": names are [a-z][a-z0-9_]*, 1-63 bytes", im->pg_table);
	*in = fopen(csv_path, "r");
	if (*in == NULL)
		return fail(im, TLY_EIO, "%s: %s", csv_path, strerror(errno));
	tly_err rv = tly_pg_load_open(&im->pg, conninfo, why, sizeof why);
	return rv == TLY_OK ? rv : fail(im, rv, "%s", why);
}

tly_err
tly_import_csv_postgres(const struct tly_node_dataset *ds, const char *csv_path,
                        const char *conninfo, const char *table, int replace,
                        struct tly_import_report *report)
{
	struct import im;
	char why[sizeof report->error];
	FILE *in = NULL;
	uint64_t loaded = 0;
	tly_err rv;

	memset(report, 0, sizeof *report);
	memset(&im, 0, sizeof im);
	im.ds = ds;
	im.report = report;
	im.pg_table = table != NULL ? table : ds->table;
	im.pg_replace = replace;
	if ((rv = pg_open(&im, csv_path, conninfo, &in)) != TLY_OK ||
	    (rv = read_rows(&im, in)) != TLY_OK)
		goto out;
	if ((rv = tly_pg_load_end(im.pg, &loaded, why, sizeof why)) != TLY_OK) {
		rv = fail(&im, rv, "%s", why);
		goto out;
	}
	if (loaded != report->rows) {
		rv = fail(&im, TLY_EIO, "the server loaded %llu rows of %llu",
		          (unsigned long long)loaded, (unsigned long long)report->rows);
		goto out;
	}
	if ((rv = tly_pg_load_commit(im.pg, why, sizeof why)) != TLY_OK)
		rv = fail(&im, rv, "%s", why);
out:
	tly_pg_load_free(im.pg); /* rolls back unless committed */
	seen_fini(&im.seen);
	if (in != NULL)
		fclose(in);
	return rv;
}
