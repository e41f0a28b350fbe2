/* Reading the transparency log back for people and planners: the listing,
 * the releases array of GET /v1/releases, and one query's entry. None of
 * these verify or write. */
#include "translog_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/keys.h"
#include "store/sqlog.h"

/* Step st to its next row and decode its bytes (column 4) into e.
 * SQLITE_ROW with *form TLY_OK or the decoder's error, or SQLite's code. */
static int
next_entry(sqlite3_stmt *st, struct tly_translog_entry *e, tly_err *form)
{
	int rc = sqlite3_step(st);

	memset(e, 0, sizeof *e);
	if (rc != SQLITE_ROW)
		return rc;
	if (sqlite3_column_type(st, 4) != SQLITE_BLOB)
		*form = TLY_EFORMAT;
	else
		*form = tly_translog_entry_decode(e, sqlite3_column_blob(st, 4),
		                                  (size_t)sqlite3_column_bytes(st, 4), NULL, 0);
	return rc;
}

/* ---- show ---- */

/* RFC 4180 field of len bytes: quoted, quotes doubled. */
static void
csv_text(FILE *out, const char *text, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '"')
			fputc('"', out);
		fputc(text[i], out);
	}
	fputc('"', out);
}

static void
show_entry(FILE *out, const struct tly_translog_entry *e, enum tly_translog_format format)
{
	struct tly_translog_spec_summary spec;
	char when[TLY_SQLOG_TIME_BYTES], id[2 * TLY_QUERY_ID_BYTES + 1], privacy[64] = "-";
	const char *dataset = "-", *measure = "-";
	int reason_len = e->reason_len > 200 ? 200 : (int)e->reason_len;

	tly_sqlog_iso_time(when, e->time);
	tly_hex(id, e->query_id, sizeof e->query_id);
	if (e->spec_len > 0 && tly_translog_spec_summary(e->spec, e->spec_len, &spec) == TLY_OK) {
		dataset = spec.dataset;
		measure = spec.measure;
		snprintf(privacy, sizeof privacy, "%s=%" PRIu64 "/%" PRIu64,
		         spec.mechanism == TLY_MECH_LAPLACE ? "epsilon" : "rho", spec.privacy_num,
		         spec.privacy_den);
	}
	if (format == TLY_TRANSLOG_CSV) {
		fprintf(out, "%" PRIu64 ",%s,%s,%s,%s,%s,%s,%s,%" PRIu32 ",%" PRIu32 ",%zu,",
		        e->seq, when, id, tly_translog_outcome_name(e->outcome),
		        tly_spec_protocol_name(e->protocol), dataset, measure, privacy,
		        e->contributors.count, e->dropped.count, e->receipt_count);
		csv_text(out, e->reason, e->reason_len);
		fputc('\n', out);
		return;
	}
	fprintf(out,
	        "%6" PRIu64 "  %-20s  %s  %-8s  %-9s  %-12s  %-9s  %-16s  %5" PRIu32 "  %5" PRIu32
	        "  %5zu  %.*s\n",
	        e->seq, when, id, tly_translog_outcome_name(e->outcome),
	        tly_spec_protocol_name(e->protocol), dataset, measure, privacy,
	        e->contributors.count, e->dropped.count, e->receipt_count, reason_len,
	        e->reason_len ? e->reason : "");
}

tly_err
tly_translog_show(struct tly_translog *log, FILE *out, enum tly_translog_format format)
{
	struct tly_translog_entry e;
	sqlite3_stmt *st = NULL;
	tly_err form = TLY_OK;
	int rc;

	TLY_REQUIRE(log != NULL && out != NULL);
	TLY_REQUIRE(format == TLY_TRANSLOG_TABLE || format == TLY_TRANSLOG_CSV);
	if (sqlite3_prepare_v2(log->db, "SELECT " TLY_TRANSLOG_COLUMNS " FROM entries ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK)
		return TLY_EIO;
	if (format == TLY_TRANSLOG_CSV)
		fprintf(out, "seq,time,query_id,outcome,protocol,dataset,measure,privacy,"
		             "contributors,dropped,receipts,reason\n");
	else
		fprintf(out,
		        "%6s  %-20s  %-32s  %-8s  %-9s  %-12s  %-9s  %-16s  %5s  %5s  %5s  %s\n",
		        "seq", "time (UTC)", "query id", "outcome", "protocol", "dataset",
		        "measure", "privacy", "nodes", "drop", "rcpts", "reason");
	while ((rc = next_entry(st, &e, &form)) == SQLITE_ROW) {
		if (form != TLY_OK)
			fprintf(out, "%6lld  malformed entry\n",
			        (long long)sqlite3_column_int64(st, 0));
		else
			show_entry(out, &e, format);
		tly_translog_entry_fini(&e);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || fflush(out) != 0 || ferror(out))
		return TLY_EIO;
	return TLY_OK;
}

/* ---- releases ---- */

/* "planner": who signed the query, from the spec of an entry that has
 * one (the committed entry); for the dashboard's history. */
static int
set_planner(json_t *item, const struct tly_translog_entry *e)
{
	json_t *spec = e->spec_len > 0 ? json_loadb(e->spec, e->spec_len, 0, NULL) : NULL;
	json_t *planner = json_object_get(spec, "planner");
	int bad = 0;

	if (json_is_string(planner))
		bad = json_object_set(item, "planner", planner);
	json_decref(spec);
	return bad;
}

static tly_err
release_item(const struct tly_translog_entry *e, json_t *array)
{
	char when[TLY_SQLOG_TIME_BYTES], id[2 * TLY_QUERY_ID_BYTES + 1];
	json_t *item = json_object(), *release = NULL;
	int bad = item == NULL;

	tly_sqlog_iso_time(when, e->time);
	tly_hex(id, e->query_id, sizeof e->query_id);
	if (e->release_len > 0 &&
	    (release = json_loadb(e->release, e->release_len, 0, NULL)) == NULL) {
		json_decref(item);
		return TLY_EFORMAT;
	}
	bad |= json_object_set_new(item, "seq", json_integer((json_int_t)e->seq));
	bad |= json_object_set_new(item, "query_id", json_string(id));
	bad |= json_object_set_new(item, "time", json_string(when));
	bad |= json_object_set_new(item, "outcome",
	                           json_string(tly_translog_outcome_name(e->outcome)));
	if (e->outcome != TLY_TRANSLOG_RELEASED)
		bad |= json_object_set_new(
		    item, "reason", json_stringn(e->reason_len ? e->reason : "", e->reason_len));
	bad |= json_object_set_new(item, "release", release != NULL ? release : json_null());
	bad |= set_planner(item, e);
	bad |= json_array_append_new(array, item);
	return bad ? TLY_ENOMEM : TLY_OK;
}

/* Release items for the rows of st into array, at most limit (0: all):
 * *last is the seq of the last one taken, *more says a row lay past the
 * limit. */
static tly_err
take_rows(sqlite3_stmt *st, uint32_t limit, json_t *array, uint64_t *last, int *more)
{
	struct tly_translog_entry e;
	tly_err rv = TLY_OK, form = TLY_OK;
	uint32_t taken = 0;
	int rc = SQLITE_DONE;

	while (rv == TLY_OK && (rc = next_entry(st, &e, &form)) == SQLITE_ROW) {
		if (limit > 0 && taken == limit) {
			*more = 1;
			tly_translog_entry_fini(&e);
			return TLY_OK;
		}
		rv = form != TLY_OK ? form : release_item(&e, array);
		*last = e.seq;
		taken++;
		tly_translog_entry_fini(&e);
	}
	return rv != TLY_OK ? rv : rc == SQLITE_DONE ? TLY_OK : TLY_EIO;
}

/* The entries after seq `after` in log order, as take_rows. */
static tly_err
collect(struct tly_translog *log, sqlite3_int64 after, uint32_t limit, json_t *array,
        uint64_t *last, int *more)
{
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;

	/* One row past the page says whether there is more (LIMIT -1: none). */
	if (sqlite3_prepare_v2(log->db,
	                       "SELECT " TLY_TRANSLOG_COLUMNS
	                       " FROM entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, after) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, limit > 0 ? (sqlite3_int64)limit + 1 : -1) == SQLITE_OK)
		rv = take_rows(st, limit, array, last, more);
	sqlite3_finalize(st);
	return rv;
}

static tly_err
dump(const json_t *value, char **json)
{
	*json = json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(15));
	return *json != NULL ? TLY_OK : TLY_ENOMEM;
}

tly_err
tly_translog_releases(struct tly_translog *log, char **json)
{
	json_t *array = json_array();
	uint64_t last = 0;
	int more = 0;
	tly_err rv = TLY_ENOMEM;

	TLY_REQUIRE(log != NULL && json != NULL);
	if (array != NULL && (rv = collect(log, INT64_MIN, 0, array, &last, &more)) == TLY_OK)
		rv = dump(array, json);
	json_decref(array);
	return rv;
}

tly_err
tly_translog_releases_page(struct tly_translog *log, uint64_t since, uint32_t limit, char **json)
{
	json_t *array = json_array(), *page = NULL;
	uint64_t last = since;
	int more = 0;
	tly_err rv = TLY_ENOMEM;

	TLY_REQUIRE(log != NULL && json != NULL && limit > 0 && since <= INT64_MAX);
	if (array == NULL ||
	    (rv = collect(log, (sqlite3_int64)since, limit, array, &last, &more)) != TLY_OK)
		goto out;
	page = json_pack("{s:O, s:I, s:b}", "releases", array, "next_since", (json_int_t)last,
	                 "more", more);
	rv = page != NULL ? dump(page, json) : TLY_ENOMEM;
out:
	json_decref(page);
	json_decref(array);
	return rv;
}

/* ---- one query ---- */

static char *
copy_text(const char *text, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy != NULL) {
		if (len > 0)
			memcpy(copy, text, len);
		copy[len] = '\0';
	}
	return copy;
}

void
tly_translog_found_fini(struct tly_translog_found *found)
{
	if (found == NULL)
		return;
	free(found->spec_json);
	free(found->release_json);
	memset(found, 0, sizeof *found);
}

static tly_err
fill_found(const struct tly_translog_entry *e, struct tly_translog_found *out)
{
	struct tly_translog_found found;

	memset(&found, 0, sizeof found);
	found.seq = e->seq;
	found.time = e->time;
	found.outcome = e->outcome;
	found.protocol = e->protocol;
	found.threshold = e->threshold;
	found.degree = e->degree;
	found.contributors = e->contributors.count;
	found.dropped = e->dropped.count;
	found.receipts = e->receipt_count;
	if (e->reason_len > 0)
		memcpy(found.reason, e->reason, e->reason_len);
	if ((e->spec_len > 0 && (found.spec_json = copy_text(e->spec, e->spec_len)) == NULL) ||
	    (e->release_len > 0 &&
	     (found.release_json = copy_text(e->release, e->release_len)) == NULL)) {
		tly_translog_found_fini(&found);
		return TLY_ENOMEM;
	}
	*out = found;
	return TLY_OK;
}

tly_err
tly_translog_find(struct tly_translog *log, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                  struct tly_translog_found *out)
{
	struct tly_translog_entry e;
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO, form = TLY_OK;
	int rc;

	TLY_REQUIRE(log != NULL && out != NULL);
	memset(&e, 0, sizeof e);
	if (sqlite3_prepare_v2(log->db,
	                       "SELECT " TLY_TRANSLOG_COLUMNS
	                       " FROM entries WHERE query_id = ? ORDER BY outcome = 4, seq LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 1, query_id, TLY_QUERY_ID_BYTES, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	rc = next_entry(st, &e, &form);
	if (rc == SQLITE_DONE)
		rv = TLY_EINVAL;
	else if (rc != SQLITE_ROW)
		rv = TLY_EIO;
	else if ((rv = form) == TLY_OK)
		rv = fill_found(&e, out);
out:
	tly_translog_entry_fini(&e);
	sqlite3_finalize(st);
	return rv;
}
