#include "pg_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "crypto/wipe.h"
#include "node/pg.h"

struct tly_pg_load {
	PGconn *conn;
	char server[256]; /* the conninfo without its password, for messages */
	char *conninfo;   /* a copy, to scrub libpq's messages with; wiped */
	char *table;      /* quoted name of the table being copied, PQfreemem */
	char *key;        /* quoted name of its primary key, PQfreemem */
	size_t column_count;
	int copying;
	char *line; /* one COPY row being built */
	size_t line_cap;
};

int
tly_pg_name_ok(const char *name)
{
	size_t len = strlen(name);
	return len >= 1 && len <= TLY_SPEC_NAME_MAX && name[0] >= 'a' && name[0] <= 'z' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

/* ---- connection strings ---- */

int
tly_pg_conninfo_has_password(const char *conninfo)
{
	char *err = NULL;
	PQconninfoOption *options = PQconninfoParse(conninfo, &err);
	int found = 0;

	PQfreemem(err);
	for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
			found = 1;
	PQconninfoFree(options);
	return found;
}

/* ---- statements ---- */

/* libpq's messages end in a newline; drop it for one-line reports. */
static tly_err
pg_fail(struct tly_pg_load *load, const char *what, const char *message, char *why, size_t why_len)
{
	tly_err rv = tly_fail(why, why_len, TLY_EIO, "PostgreSQL (%s): %s: %.*s", load->server,
	                      what, (int)strcspn(message, "\n"), message);

	/* libpq's message, or the shown conninfo, may hold a value that is
	 * also the password (a user name): scrubbed as the node's reads are. */
	if (why != NULL && why_len > 0)
		tly_pg_scrub(why, load->conninfo);
	return rv;
}

static tly_err
run(struct tly_pg_load *load, const char *sql, ExecStatusType want, const char *what, char *why,
    size_t why_len)
{
	PGresult *res = PQexec(load->conn, sql);
	tly_err rv = TLY_OK;

	if (PQresultStatus(res) != want)
		rv = pg_fail(load, what,
		             res ? PQresultErrorMessage(res) : PQerrorMessage(load->conn), why,
		             why_len);
	PQclear(res);
	return rv;
}

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* NOTICEs ("table does not exist, skipping") are not news */
}

tly_err
tly_pg_load_open(struct tly_pg_load **out, const char *conninfo, char *why, size_t why_len)
{
	struct tly_pg_load *load = calloc(1, sizeof *load);
	tly_err rv = TLY_ENOMEM;

	if (load == NULL)
		return tly_fail(why, why_len, rv, "out of memory");
	if ((rv = tly_pg_conninfo_check(conninfo, why, why_len)) != TLY_OK)
		goto out;
	rv = TLY_ENOMEM;
	if ((load->conninfo = strdup(conninfo)) == NULL) {
		tly_say(why, why_len, "out of memory");
		goto out;
	}
	tly_pg_conninfo_display(conninfo, load->server, sizeof load->server);
	load->conn = PQconnectdb(conninfo);
	if (load->conn == NULL || PQstatus(load->conn) != CONNECTION_OK) {
		rv = pg_fail(load, "connecting",
		             load->conn ? PQerrorMessage(load->conn) : "out of memory", why,
		             why_len);
		goto out;
	}
	PQsetNoticeProcessor(load->conn, quiet, NULL);
	if ((rv = run(load, "BEGIN", PGRES_COMMAND_OK, "BEGIN", why, why_len)) != TLY_OK)
		goto out;
	*out = load;
	load = NULL;
out:
	tly_pg_load_free(load);
	return rv;
}

/* ---- one table ---- */

static tly_err
check_layout(const struct tly_pg_layout *layout, char *why, size_t why_len)
{
	if (layout->column_count < 1 || layout->column_count > TLY_PG_COLUMNS_MAX ||
	    layout->types[0] != TLY_PG_TEXT)
		return tly_fail(why, why_len, TLY_EINVAL,
		                "a table needs a text key and at most %d columns",
		                TLY_PG_COLUMNS_MAX);
	if (!tly_pg_name_ok(layout->table))
		return tly_fail(why, why_len, TLY_EINVAL,
		                "table \"%.63s\": names are [a-z][a-z0-9_]*, 1-63 bytes",
		                layout->table);
	for (size_t i = 0; i < layout->column_count; i++)
		if (!tly_pg_name_ok(layout->names[i]))
			return tly_fail(why, why_len, TLY_EINVAL,
			                "column \"%.63s\": names are [a-z][a-z0-9_]*, 1-63 bytes",
			                layout->names[i]);
	return TLY_OK;
}

/* Append to a statement of at most cap bytes; 0 when it did not fit. */
static int
append(char *sql, size_t cap, size_t *n, const char *a, const char *b)
{
	int w = snprintf(sql + *n, cap - *n, "%s%s", a, b);
	if (w < 0 || (size_t)w >= cap - *n)
		return 0;
	*n += (size_t)w;
	return 1;
}

static const char *
type_sql(enum tly_pg_type type)
{
	return type == TLY_PG_BIGINT ? " bigint"
	       : type == TLY_PG_FLAG ? " integer NOT NULL DEFAULT 0"
	                             : " text";
}

/* CREATE TABLE and COPY statements. The key is NOT NULL now and becomes
 * the primary key after the rows are in (faster than checking each). */
static tly_err
statements(struct tly_pg_load *load, const struct tly_pg_layout *layout, char *create, char *copy,
           size_t cap, char *why, size_t why_len)
{
	size_t cn = 0, pn = 0;
	int ok = append(create, cap, &cn, "CREATE TABLE ", load->table) &&
	         append(create, cap, &cn, " (", "") &&
	         append(copy, cap, &pn, "COPY ", load->table) && append(copy, cap, &pn, " (", "");

	for (size_t i = 0; ok && i < layout->column_count; i++) {
		char *quoted =
		    PQescapeIdentifier(load->conn, layout->names[i], strlen(layout->names[i]));
		const char *sep = i ? ", " : "";
		ok = quoted != NULL && append(create, cap, &cn, sep, quoted) &&
		     append(create, cap, &cn, type_sql(layout->types[i]), i ? "" : " NOT NULL") &&
		     append(copy, cap, &pn, sep, quoted);
		PQfreemem(quoted);
	}
	ok = ok && append(create, cap, &cn, ")", "") && append(copy, cap, &pn, ") FROM STDIN", "");
	return ok ? TLY_OK
	          : tly_fail(why, why_len, TLY_EINVAL, "the table's statements are too long");
}

static tly_err
create(struct tly_pg_load *load, const char *sql, const char *table, char *why, size_t why_len)
{
	PGresult *res = PQexec(load->conn, sql);
	tly_err rv = TLY_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		if (state != NULL && strcmp(state, "42P07") == 0) /* duplicate_table */
			rv = tly_fail(
			    why, why_len, TLY_EINVAL,
			    "PostgreSQL (%s): table \"%s\" already exists: not replacing it",
			    load->server, table);
		else
			rv = pg_fail(load, "CREATE TABLE",
			             res ? PQresultErrorMessage(res) : PQerrorMessage(load->conn),
			             why, why_len);
	}
	PQclear(res);
	return rv;
}

static tly_err
quote_names(struct tly_pg_load *load, const struct tly_pg_layout *layout, char *why, size_t why_len)
{
	PQfreemem(load->table);
	PQfreemem(load->key);
	load->table = PQescapeIdentifier(load->conn, layout->table, strlen(layout->table));
	load->key = PQescapeIdentifier(load->conn, layout->names[0], strlen(layout->names[0]));
	if (load->table == NULL || load->key == NULL)
		return pg_fail(load, "quoting names", PQerrorMessage(load->conn), why, why_len);
	return TLY_OK;
}

tly_err
tly_pg_load_table(struct tly_pg_load *load, const struct tly_pg_layout *layout, int replace,
                  char *why, size_t why_len)
{
	enum { STATEMENT_MAX = 16384 };
	char *create_sql = NULL, *copy_sql = NULL, drop[200];
	tly_err rv;

	if (load->copying)
		abort(); /* misuse: tly_pg_load_end first */
	if ((rv = check_layout(layout, why, why_len)) != TLY_OK ||
	    (rv = quote_names(load, layout, why, why_len)) != TLY_OK)
		return rv;
	rv = tly_fail(why, why_len, TLY_ENOMEM, "out of memory");
	create_sql = malloc(STATEMENT_MAX);
	copy_sql = malloc(STATEMENT_MAX);
	if (create_sql == NULL || copy_sql == NULL)
		goto out;
	if ((rv = statements(load, layout, create_sql, copy_sql, STATEMENT_MAX, why, why_len)) !=
	    TLY_OK)
		goto out;
	snprintf(drop, sizeof drop, "DROP TABLE IF EXISTS %s", load->table);
	if (replace &&
	    (rv = run(load, drop, PGRES_COMMAND_OK, "DROP TABLE", why, why_len)) != TLY_OK)
		goto out;
	if ((rv = create(load, create_sql, layout->table, why, why_len)) != TLY_OK ||
	    (rv = run(load, copy_sql, PGRES_COPY_IN, "COPY", why, why_len)) != TLY_OK)
		goto out;
	load->copying = 1;
	load->column_count = layout->column_count;
out:
	free(create_sql);
	free(copy_sql);
	return rv;
}

/* ---- rows ---- */

static int
grow(struct tly_pg_load *load, size_t need)
{
	if (need <= load->line_cap)
		return 1;
	size_t cap = load->line_cap ? load->line_cap : 4096;
	while (cap < need)
		cap *= 2;
	char *line = realloc(load->line, cap);
	if (line == NULL)
		return 0;
	load->line = line;
	load->line_cap = cap;
	return 1;
}

/* COPY's text format: tab between columns, \N for NULL, and backslash,
 * tab, newline and carriage return escaped. Worst case 2 bytes a byte. */
static size_t
put_value(char *out, const char *value)
{
	size_t n = 0;

	if (value == NULL) {
		out[n++] = '\\';
		out[n++] = 'N';
		return n;
	}
	for (const char *c = value; *c != '\0'; c++) {
		char escaped = *c == '\\'   ? '\\'
		               : *c == '\t' ? 't'
		               : *c == '\n' ? 'n'
		               : *c == '\r' ? 'r'
		                            : 0;
		if (escaped) {
			out[n++] = '\\';
			out[n++] = escaped;
		} else {
			out[n++] = *c;
		}
	}
	return n;
}

tly_err
tly_pg_load_row(struct tly_pg_load *load, const char *const *values, char *why, size_t why_len)
{
	size_t need = 1, n = 0;

	if (!load->copying)
		abort(); /* misuse: tly_pg_load_table first */
	for (size_t i = 0; i < load->column_count; i++)
		need += 2 * (values[i] ? strlen(values[i]) : 1) + 1;
	if (!grow(load, need))
		return tly_fail(why, why_len, TLY_ENOMEM, "out of memory");
	for (size_t i = 0; i < load->column_count; i++) {
		if (i)
			load->line[n++] = '\t';
		n += put_value(load->line + n, values[i]);
	}
	load->line[n++] = '\n';
	if (PQputCopyData(load->conn, load->line, (int)n) != 1)
		return pg_fail(load, "COPY", PQerrorMessage(load->conn), why, why_len);
	return TLY_OK;
}

tly_err
tly_pg_load_end(struct tly_pg_load *load, uint64_t *rows, char *why, size_t why_len)
{
	char sql[300];
	PGresult *res;
	tly_err rv = TLY_OK;
	uint64_t loaded = 0;

	if (!load->copying)
		abort(); /* misuse: tly_pg_load_table first */
	load->copying = 0;
	if (PQputCopyEnd(load->conn, NULL) != 1)
		return pg_fail(load, "COPY", PQerrorMessage(load->conn), why, why_len);
	while ((res = PQgetResult(load->conn)) != NULL) {
		if (rv == TLY_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
			rv = pg_fail(load, "COPY", PQresultErrorMessage(res), why, why_len);
		else if (rv == TLY_OK)
			loaded = strtoull(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	snprintf(sql, sizeof sql, "ALTER TABLE %s ADD PRIMARY KEY (%s)", load->table, load->key);
	if (rv == TLY_OK && (rv = run(load, sql, PGRES_COMMAND_OK, "adding the primary key", why,
	                              why_len)) == TLY_OK)
		*rows = loaded;
	return rv;
}

tly_err
tly_pg_load_commit(struct tly_pg_load *load, char *why, size_t why_len)
{
	if (load->copying)
		abort(); /* misuse: tly_pg_load_end first */
	return run(load, "COMMIT", PGRES_COMMAND_OK, "COMMIT", why, why_len);
}

void
tly_pg_load_free(struct tly_pg_load *load)
{
	PGresult *res;

	if (load == NULL)
		return;
	if (load->conn != NULL && PQstatus(load->conn) == CONNECTION_OK) {
		if (load->copying && PQputCopyEnd(load->conn, "load abandoned") == 1)
			while ((res = PQgetResult(load->conn)) != NULL)
				PQclear(res);
		/* After a COMMIT this is a no-op warning, silenced by quiet(). */
		PQclear(PQexec(load->conn, "ROLLBACK"));
	}
	PQfinish(load->conn);
	PQfreemem(load->table);
	PQfreemem(load->key);
	free(load->line);
	if (load->conninfo != NULL)
		TLY_WIPE(load->conninfo, strlen(load->conninfo));
	free(load->conninfo);
	free(load);
}
