/*
 * pg.h - a PostgreSQL connection string (libpq's conninfo) handled so that
 * its secret never leaves the node's memory.
 *
 * A dataset with `source = postgresql` names its database with `conninfo`,
 * in libpq's conventions: key=value pairs ("service=tally_trust3",
 * "host=/run/postgresql dbname=warehouse user=tally_reader"), a
 * postgresql:// URI, or nothing at all (libpq then reads PGHOST, PGUSER, ...
 * and ~/.pg_service.conf). libpq allows a password in it (password=,
 * sslpassword=, or user:password@ in a URI); docs/OPERATIONS.md says to
 * prefer ~/.pgpass or a service file. Wherever the node shows a conninfo
 * (errors, `tally-node check`, `explain`) it shows tly_pg_conninfo_display's
 * rebuild without the secrets, and every message of libpq's that it passes
 * on goes through tly_pg_scrub first.
 *
 * Pure functions of their arguments: no connection is made. Thread-safe.
 */
#ifndef TLY_NODE_PG_H
#define TLY_NODE_PG_H

#include <stddef.h>

#include "crypto/error.h"

/* TLY_OK when libpq can parse conninfo. Otherwise TLY_EINVAL, and why says
 * what libpq objected to with every quoted word that is not one of libpq's
 * option names elided (it could be a piece of a password). TLY_ENOMEM. */
TLY_MUST tly_err tly_pg_conninfo_check(const char *conninfo, char *why, size_t why_len);

/* conninfo as key='value' pairs, every option it sets except password and
 * sslpassword, into out (truncated, NUL-terminated); "(no options: libpq's
 * environment and service file)" when it sets none, and "(unparseable)"
 * when libpq cannot parse it. */
void tly_pg_conninfo_display(const char *conninfo, char *out, size_t len);

/* Replace in text (NUL-terminated, changed in place) every occurrence of
 * conninfo's password and sslpassword values with "***". For libpq's own
 * messages (PQerrorMessage), which may quote a value of the conninfo. */
void tly_pg_scrub(char *text, const char *conninfo);

#endif
