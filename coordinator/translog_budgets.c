/* The newest receipt of each node and population in the transparency log,
 * for GET /v1/budgets (coordinator/budgets.h). Read only; does not verify
 * (the coordinator's own log, opened with its own key). */
#include "translog_impl.h"

#include <stdio.h>
#include <string.h>

#include "coordinator/budgets.h"
#include "query/receipt.h"

static tly_err
add_receipts(struct tly_budgets *b, const struct tly_translog_entry *e)
{
	struct tly_ledger_receipt r;
	tly_err rv = TLY_OK;

	for (size_t i = 0; i < e->receipt_count && rv == TLY_OK; i++) {
		rv = tly_ledger_receipt_decode(&r, e->receipts[i].bytes, e->receipts[i].len);
		if (rv == TLY_OK)
			rv = tly_budgets_add(b, &r);
	}
	return rv;
}

tly_err
tly_translog_budgets(struct tly_translog *log, struct tly_budgets *b, uint64_t *since, char *why,
                     size_t why_len)
{
	struct tly_translog_entry e;
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_OK;
	int rc;

	if (sqlite3_prepare_v2(log->db, "SELECT bytes, seq FROM entries WHERE seq > ? ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, (sqlite3_int64)*since) != SQLITE_OK) {
		sqlite3_finalize(st);
		return tly_fail(why, why_len, TLY_EIO, "cannot read the transparency log: %s",
		                sqlite3_errmsg(log->db));
	}
	while (rv == TLY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&e, 0, sizeof e);
		rv = sqlite3_column_type(st, 0) != SQLITE_BLOB
		         ? TLY_EFORMAT
		         : tly_translog_entry_decode(&e, sqlite3_column_blob(st, 0),
		                                     (size_t)sqlite3_column_bytes(st, 0), NULL, 0);
		if (rv == TLY_OK && e.outcome != TLY_TRANSLOG_COMMITTED)
			rv = add_receipts(b, &e);
		if (rv == TLY_OK)
			*since = (uint64_t)sqlite3_column_int64(st, 1);
		if (rv != TLY_OK)
			tly_say(why, why_len, "transparency log entry %lld: %s",
			        (long long)sqlite3_column_int64(st, 1), tly_strerror(rv));
		tly_translog_entry_fini(&e);
	}
	if (rv == TLY_OK && rc != SQLITE_DONE)
		rv = tly_fail(why, why_len, TLY_EIO, "cannot read the transparency log: %s",
		              sqlite3_errmsg(log->db));
	sqlite3_finalize(st);
	return rv;
}
