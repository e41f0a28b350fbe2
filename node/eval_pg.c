/*
 * eval_pg.c - the dataset read from PostgreSQL through libpq, behind
 * struct tly_store (eval.h): the same SQL as SQLite's in PostgreSQL's
 * dialect (eval.c builds it), the same checks, the same cells.
 *
 * The session: default_transaction_read_only on and search_path
 * pg_catalog, pg_temp (the table is always schema-qualified, and no
 * function of another schema can stand in for LEAST or COUNT). Each
 * answer is one transaction, BEGIN ISOLATION LEVEL REPEATABLE READ READ
 * ONLY ... COMMIT: a snapshot, as SQLite's read transaction is. Inside it,
 * before anything is read, the checks run again every time (check_all):
 * the catalogue lookups cost a few round trips, the table is locked in
 * ACCESS SHARE mode (no ALTER or DROP until COMMIT), and one row per
 * person is proved by a unique index on the person id column when there is
 * one, by a count over the table when there is not.
 */
#include "node/eval_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "crypto/wipe.h"
#include "node/pg.h"

/* PostgreSQL's type oids (pg_type.dat): the integer types a column
 * declared integer may have, and boolean for an opt-out column. */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23 };

#define CONNECT_TIMEOUT "10" /* seconds */

struct tly_pg_store {
	PGconn *conn;
	const struct tly_node_dataset *ds;
	char display[512]; /* the conninfo without its secrets */
	char oid[16];      /* the table's, as text, found by check_all */
	int in_read;
};

struct tly_pg_rows {
	PGresult *res;
};

/* "postgresql (DISPLAY): WHAT: libpq's message", the message scrubbed of
 * the conninfo's secrets. */
static tly_err
fail_pg(const struct tly_pg_store *pg, const char *libpq, char *why, size_t why_len,
        const char *what)
{
	char message[400];
	size_t len;

	snprintf(message, sizeof message, "%s", libpq != NULL ? libpq : "");
	len = strlen(message);
	while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' '))
		message[--len] = '\0';
	/* before and after: a message cut short must not keep half a secret */
	tly_pg_scrub(message, pg->ds->conninfo);
	tly_say(why, why_len, "postgresql (%s): %s%s%s", pg->display, what, len ? ": " : "",
	        message);
	if (why != NULL && why_len > 0)
		tly_pg_scrub(why, pg->ds->conninfo);
	return TLY_EINVAL;
}

/* Run sql with text parameters; *res holds a result of status `want`. */
static tly_err
exec(struct tly_pg_store *pg, const char *sql, int count, const char *const *values,
     ExecStatusType want, PGresult **res, char *why, size_t why_len)
{
	PGresult *r = PQexecParams(pg->conn, sql, count, NULL, values, NULL, NULL, 0);

	if (r != NULL && PQresultStatus(r) == want) {
		*res = r;
		return TLY_OK;
	}
	char what[64];
	snprintf(what, sizeof what, "%.40s%s", sql, strlen(sql) > 40 ? "..." : "");
	tly_err rv = fail_pg(pg, r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(pg->conn),
	                     why, why_len, what);
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL && strcmp(state, "22003") == 0)
		rv = TLY_ERANGE; /* numeric_value_out_of_range: a sum past BIGINT */
	PQclear(r);
	return rv;
}

static tly_err
command(struct tly_pg_store *pg, const char *sql, char *why, size_t why_len)
{
	PGresult *res;
	tly_err rv = exec(pg, sql, 0, NULL, PGRES_COMMAND_OK, &res, why, why_len);

	if (rv == TLY_OK)
		PQclear(res);
	return rv;
}

/* (Re)connect and fix the session: read-only, and only pg_catalog on the
 * search path. A server that does not answer is given up after
 * CONNECT_TIMEOUT seconds unless the conninfo sets connect_timeout
 * (libpq's default waits for ever, and the daemon with it). */
static tly_err
connect_session(struct tly_pg_store *pg, char *why, size_t why_len)
{
	static const char *const keywords[] = {"connect_timeout", "dbname", NULL};
	const char *values[] = {CONNECT_TIMEOUT, pg->ds->conninfo, NULL};
	tly_err rv;

	PQfinish(pg->conn);
	/* expand_dbname: the conninfo's own settings override the timeout */
	pg->conn = PQconnectdbParams(keywords, values, 1);
	if (pg->conn == NULL)
		return tly_fail(why, why_len, TLY_ENOMEM, "out of memory connecting");
	if (PQstatus(pg->conn) != CONNECTION_OK)
		return fail_pg(pg, PQerrorMessage(pg->conn), why, why_len, "cannot connect");
	if ((rv = command(pg, "SET default_transaction_read_only = on", why, why_len)) == TLY_OK)
		rv = command(pg, "SET search_path = pg_catalog, pg_temp", why, why_len);
	return rv;
}

/* The table in its schema, and whether the session's role can do more
 * than read it. */
static const char sql_table[] =
    "SELECT c.oid::text, current_user::text, r.rolsuper, pg_has_role(c.relowner, 'USAGE'), "
    "has_any_column_privilege(c.oid, 'INSERT'), has_any_column_privilege(c.oid, 'UPDATE'), "
    "has_table_privilege(c.oid, 'DELETE'), has_table_privilege(c.oid, 'TRUNCATE') "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, pg_roles r "
    "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
    "AND r.rolname = current_user";

/* What the role can do beyond SELECT, the worst first; NULL when nothing. */
static const char *
excess_right(const PGresult *res)
{
	static const char *const rights[] = {"is a superuser",
	                                     "owns the table (or is a member of its owner)",
	                                     "can INSERT into the table",
	                                     "can UPDATE the table",
	                                     "can DELETE from the table",
	                                     "can TRUNCATE the table"};

	for (int i = 0; i < 6; i++)
		if (strcmp(PQgetvalue(res, 0, 2 + i), "t") == 0)
			return rights[i];
	return NULL;
}

static tly_err
check_table(struct tly_pg_store *pg, char *why, size_t why_len)
{
	const struct tly_node_dataset *ds = pg->ds;
	const char *values[] = {ds->pg_schema, ds->table};
	PGresult *res;
	tly_err rv = exec(pg, sql_table, 2, values, PGRES_TUPLES_OK, &res, why, why_len);

	if (rv != TLY_OK)
		return rv;
	if (PQntuples(res) != 1) {
		rv = tly_fail(why, why_len, TLY_EINVAL,
		              "postgresql (%s): no table \"%s\".\"%s\" (names are exact: lower "
		              "case, in schema \"%s\" only; set the dataset's schema if it is "
		              "elsewhere)",
		              pg->display, ds->pg_schema, ds->table, ds->pg_schema);
	} else if (excess_right(res) != NULL) {
		rv = tly_fail(why, why_len, TLY_EINVAL,
		              "postgresql (%s): role \"%s\" %s \"%s\".\"%s\": the node's role "
		              "must be granted SELECT only (docs/OPERATIONS.md, \"Reading from "
		              "PostgreSQL\")",
		              pg->display, PQgetvalue(res, 0, 1), excess_right(res), ds->pg_schema,
		              ds->table);
	} else {
		snprintf(pg->oid, sizeof pg->oid, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return rv;
}

/* The row of `name` in the table's columns (name, type oid, type name,
 * NOT NULL), -1 when there is none. */
static int
find_column(const PGresult *res, const char *name)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), name) == 0)
			return i;
	return -1;
}

static int
type_is(const PGresult *res, int row, int with_bool)
{
	unsigned long oid = strtoul(PQgetvalue(res, row, 1), NULL, 10);

	return oid == OID_INT2 || oid == OID_INT4 || oid == OID_INT8 ||
	       (with_bool && oid == OID_BOOL);
}

/* name exists, and (kind 1: an integer type; 2: integer or boolean). */
static tly_err
check_column(struct tly_pg_store *pg, const PGresult *res, const char *name, const char *role,
             int kind, char *why, size_t why_len)
{
	int row = find_column(res, name);

	if (row < 0)
		return tly_fail(why, why_len, TLY_EINVAL,
		                "postgresql (%s): table \"%s\".\"%s\" has no %s column \"%s\"",
		                pg->display, pg->ds->pg_schema, pg->ds->table, role, name);
	if (kind != 0 && !type_is(res, row, kind == 2))
		return tly_fail(why, why_len, TLY_EINVAL,
		                "postgresql (%s): column \"%s\" is %s: a %s column must be "
		                "smallint, integer or bigint%s (tally reads exact integers)",
		                pg->display, name, PQgetvalue(res, row, 2), role,
		                kind == 2 ? " or boolean" : "");
	return TLY_OK;
}

static const char sql_columns[] =
    "SELECT attname::text, atttypid::text, format_type(atttypid, atttypmod), attnotnull "
    "FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped";

/* Every declared column, the person id and the opt-out column; *not_null
 * is whether the person id column is NOT NULL. */
static tly_err
check_columns(struct tly_pg_store *pg, int *not_null, char *why, size_t why_len)
{
	const struct tly_node_dataset *ds = pg->ds;
	const char *values[] = {pg->oid};
	PGresult *res;
	tly_err rv = exec(pg, sql_columns, 1, values, PGRES_TUPLES_OK, &res, why, why_len);

	if (rv != TLY_OK)
		return rv;
	rv = check_column(pg, res, ds->person_id, "person id", 0, why, why_len);
	if (rv == TLY_OK && ds->opt_out[0] != '\0')
		rv = check_column(pg, res, ds->opt_out, "opt-out", 2, why, why_len);
	for (size_t i = 0; i < ds->schema.column_count && rv == TLY_OK; i++) {
		const struct tly_column *col = &ds->schema.columns[i];
		rv = check_column(pg, res, col->name, "declared",
		                  col->kind == TLY_COLUMN_INTEGER ? 1 : 0, why, why_len);
	}
	if (rv == TLY_OK)
		*not_null = strcmp(PQgetvalue(res, find_column(res, ds->person_id), 3), "t") == 0;
	PQclear(res);
	return rv;
}

/* A unique index on the person id alone: valid, not partial, not on an
 * expression. With NOT NULL it proves one row per person. */
static const char sql_unique[] =
    "SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
    "AND a.attnum = i.indkey[0] WHERE i.indrelid = $1::oid AND i.indisunique "
    "AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
    "AND i.indnkeyatts = 1 AND a.attname = $2 LIMIT 1";

static tly_err
count_duplicates(struct tly_pg_store *pg, int not_null, long long *duplicates, char *why,
                 size_t why_len)
{
	const struct tly_node_dataset *ds = pg->ds;
	const char *values[] = {pg->oid, ds->person_id};
	char sql[256];
	PGresult *res;
	tly_err rv = exec(pg, sql_unique, 2, values, PGRES_TUPLES_OK, &res, why, why_len);

	if (rv != TLY_OK)
		return rv;
	int proved = not_null && PQntuples(res) == 1;
	PQclear(res);
	*duplicates = 0;
	if (proved)
		return TLY_OK;
	snprintf(sql, sizeof sql, "SELECT COUNT(*) - COUNT(DISTINCT \"%s\") FROM \"%s\".\"%s\"",
	         ds->person_id, ds->pg_schema, ds->table);
	rv = exec(pg, sql, 0, NULL, PGRES_TUPLES_OK, &res, why, why_len);
	if (rv == TLY_OK) {
		*duplicates = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	return rv;
}

/* Inside the answer's transaction: the table (and the role's rights on
 * it), locked, its columns, one row per person. */
static tly_err
check_all(struct tly_pg_store *pg, char *why, size_t why_len)
{
	const struct tly_node_dataset *ds = pg->ds;
	char lock[200];
	long long duplicates;
	int not_null = 0;
	tly_err rv = check_table(pg, why, why_len);

	snprintf(lock, sizeof lock, "LOCK TABLE \"%s\".\"%s\" IN ACCESS SHARE MODE", ds->pg_schema,
	         ds->table);
	if (rv == TLY_OK)
		rv = command(pg, lock, why, why_len);
	if (rv == TLY_OK)
		rv = check_columns(pg, &not_null, why, why_len);
	if (rv == TLY_OK)
		rv = count_duplicates(pg, not_null, &duplicates, why, why_len);
	if (rv == TLY_OK && duplicates != 0)
		rv = tly_fail(why, why_len, TLY_EINVAL,
		              "postgresql (%s): \"%s\" is not unique (%lld duplicate rows): the "
		              "node needs one row per person",
		              pg->display, ds->person_id, duplicates);
	return rv;
}

static tly_err
begin_read(struct tly_pg_store *pg, char *why, size_t why_len)
{
	return command(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", why, why_len);
}

tly_err
tly_pg_store_begin(struct tly_pg_store *pg, char *why, size_t why_len)
{
	tly_err rv = TLY_OK;

	TLY_REQUIRE(!pg->in_read);
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK)
		rv = connect_session(pg, why, why_len);
	if (rv == TLY_OK && (rv = begin_read(pg, why, why_len)) != TLY_OK &&
	    PQstatus(pg->conn) != CONNECTION_OK) {
		/* The server restarted since the last answer: once more. */
		if ((rv = connect_session(pg, why, why_len)) == TLY_OK)
			rv = begin_read(pg, why, why_len);
	}
	if (rv != TLY_OK)
		return rv;
	pg->in_read = 1;
	rv = check_all(pg, why, why_len);
	if (rv != TLY_OK)
		tly_pg_store_end(pg);
	return rv;
}

void
tly_pg_store_end(struct tly_pg_store *pg)
{
	if (pg == NULL || !pg->in_read)
		return;
	pg->in_read = 0;
	/* Read-only: COMMIT only ends the snapshot; after an error, ROLLBACK. */
	PGresult *res = PQexec(
	    pg->conn, PQtransactionStatus(pg->conn) == PQTRANS_INERROR ? "ROLLBACK" : "COMMIT");
	PQclear(res);
}

tly_err
tly_pg_store_open(struct tly_pg_store **out, const struct tly_node_dataset *ds, char *why,
                  size_t why_len)
{
	struct tly_pg_store *pg = calloc(1, sizeof *pg);
	tly_err rv;

	if (pg == NULL)
		return TLY_ENOMEM;
	pg->ds = ds;
	tly_pg_conninfo_display(ds->conninfo, pg->display, sizeof pg->display);
	/* a user name or a host that is also the password shows as *** */
	tly_pg_scrub(pg->display, ds->conninfo);
	rv = tly_pg_store_begin(pg, why, why_len);
	if (rv != TLY_OK) {
		tly_pg_store_close(pg);
		return rv;
	}
	tly_pg_store_end(pg);
	*out = pg;
	return TLY_OK;
}

void
tly_pg_store_close(struct tly_pg_store *pg)
{
	if (pg == NULL)
		return;
	tly_pg_store_end(pg);
	PQfinish(pg->conn);
	free(pg);
}

/* ---- statements ---- */

enum { INT_TEXT = 24 }; /* "-9223372036854775808" and a NUL */

tly_err
tly_pg_query(struct tly_pg_store *pg, const struct tly_sql *q, struct tly_pg_rows **out, char *why,
             size_t why_len)
{
	const char *values[TLY_SQL_PARAMS_MAX];
	char(*ints)[INT_TEXT] = calloc(q->param_count ? q->param_count : 1, sizeof *ints);
	struct tly_pg_rows *rows = calloc(1, sizeof *rows);
	tly_err rv = TLY_ENOMEM;

	TLY_REQUIRE(q->pg);
	if (ints == NULL || rows == NULL)
		goto out;
	for (size_t i = 0; i < q->param_count; i++) {
		const struct tly_sql_param *p = &q->params[i];
		snprintf(ints[i], INT_TEXT, "%lld", (long long)p->integer);
		values[i] = p->is_text ? p->text : ints[i];
	}
	rv = exec(pg, q->text, (int)q->param_count, values, PGRES_TUPLES_OK, &rows->res, why,
	          why_len);
	if (rv == TLY_OK) {
		*out = rows;
		rows = NULL;
	}
out:
	free(ints);
	free(rows);
	return rv;
}

size_t
tly_pg_rows_count(const struct tly_pg_rows *rows)
{
	return (size_t)PQntuples(rows->res);
}

const char *
tly_pg_rows_text(const struct tly_pg_rows *rows, size_t row, int col)
{
	if (PQgetisnull(rows->res, (int)row, col))
		return NULL;
	return PQgetvalue(rows->res, (int)row, col);
}

int64_t
tly_pg_rows_int(const struct tly_pg_rows *rows, size_t row, int col)
{
	const char *text = tly_pg_rows_text(rows, row, col);

	/* BIGINT columns only (COUNT, the sums cast back, the bins and
	 * flags): always in range. */
	return text != NULL ? (int64_t)strtoll(text, NULL, 10) : 0;
}

/* The rows are the trust's exact answer: wiped before libpq frees them. */
void
tly_pg_rows_free(struct tly_pg_rows *rows)
{
	if (rows == NULL)
		return;
	for (int r = 0; r < PQntuples(rows->res); r++)
		for (int c = 0; c < PQnfields(rows->res); c++)
			TLY_WIPE(PQgetvalue(rows->res, r, c), (size_t)PQgetlength(rows->res, r, c));
	PQclear(rows->res);
	free(rows);
}
