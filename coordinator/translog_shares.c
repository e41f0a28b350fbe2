/* Rebuilding the per-planner shares (coordinator/shares.h) from the
 * transparency log at start: each committed entry's spec names its
 * planner, dataset and privacy amount; each outcome entry carries the
 * nodes' receipts, which state the caps. Read only; does not verify (the
 * coordinator's own log, opened with its own key). */
#include "translog_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coordinator/shares.h"
#include "query/receipt.h"

/* The planner named in canonical spec JSON, "" when none. */
static void
spec_planner(const char *spec, size_t len, char out[static TLY_PLANNER_NAME_MAX + 1])
{
	json_t *root = json_loadb(spec, len, 0, NULL);
	const char *name = json_string_value(json_object_get(root, "planner"));

	snprintf(out, TLY_PLANNER_NAME_MAX + 1, "%s",
	         name != NULL && strlen(name) <= TLY_PLANNER_NAME_MAX ? name : "");
	json_decref(root);
}

static tly_err
load_committed(struct tly_shares *sh, const struct tly_translog_entry *e)
{
	struct tly_translog_spec_summary sum;
	char planner[TLY_PLANNER_NAME_MAX + 1];

	if (tly_translog_spec_summary(e->spec, e->spec_len, &sum) != TLY_OK)
		return TLY_EFORMAT;
	spec_planner(e->spec, e->spec_len, planner);
	struct tly_share_ask ask = {
	    planner, sum.dataset, sum.mechanism, {sum.privacy_num, sum.privacy_den}};
	return tly_shares_commit(sh, e->query_id, &ask);
}

static tly_err
load_outcome(struct tly_shares *sh, const struct tly_translog_entry *e)
{
	struct tly_ledger_receipt *receipts = NULL;
	tly_err rv = TLY_OK;

	if (e->receipt_count > 0 && (receipts = calloc(e->receipt_count, sizeof *receipts)) == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i < e->receipt_count && rv == TLY_OK; i++)
		rv = tly_ledger_receipt_decode(&receipts[i], e->receipts[i].bytes,
		                               e->receipts[i].len);
	if (rv == TLY_OK)
		rv = tly_shares_outcome(sh, e->query_id, e->outcome, receipts, e->receipt_count);
	free(receipts);
	return rv;
}

tly_err
tly_translog_load_shares(struct tly_translog *log, struct tly_shares *sh, char *why, size_t why_len)
{
	struct tly_translog_entry e;
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_OK;
	int rc;

	if (sqlite3_prepare_v2(log->db, "SELECT bytes, seq FROM entries ORDER BY seq", -1, &st,
	                       NULL) != SQLITE_OK) {
		snprintf(why, why_len, "cannot read the transparency log: %s",
		         sqlite3_errmsg(log->db));
		return TLY_EIO;
	}
	while (rv == TLY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&e, 0, sizeof e);
		rv = sqlite3_column_type(st, 0) != SQLITE_BLOB
		         ? TLY_EFORMAT
		         : tly_translog_entry_decode(&e, sqlite3_column_blob(st, 0),
		                                     (size_t)sqlite3_column_bytes(st, 0), NULL, 0);
		if (rv == TLY_OK)
			rv = e.outcome == TLY_TRANSLOG_COMMITTED ? load_committed(sh, &e)
			                                         : load_outcome(sh, &e);
		if (rv != TLY_OK)
			snprintf(
			    why, why_len,
			    "transparency log entry %lld: cannot count its planner's share: %s",
			    (long long)sqlite3_column_int64(st, 1), tly_strerror(rv));
		tly_translog_entry_fini(&e);
	}
	if (rv == TLY_OK && rc != SQLITE_DONE) {
		snprintf(why, why_len, "cannot read the transparency log: %s",
		         sqlite3_errmsg(log->db));
		rv = TLY_EIO;
	}
	sqlite3_finalize(st);
	return rv;
}
