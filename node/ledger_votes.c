/* The committee votes a node has given (ledger_votes.h). */
#include "node/ledger_votes.h"

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ledger_impl.h"
#include "store/sqlog.h"

static const char votes_sql[] =
    "CREATE TABLE IF NOT EXISTS member_votes ("
    " query_id BLOB PRIMARY KEY NOT NULL CHECK (length(query_id) = 16),"
    " attempt INTEGER NOT NULL CHECK (attempt >= 0),"
    " set_hash BLOB NOT NULL CHECK (length(set_hash) = 32),"
    " time INTEGER NOT NULL) STRICT;"
    "CREATE TRIGGER IF NOT EXISTS member_votes_no_update BEFORE UPDATE ON member_votes"
    " BEGIN SELECT RAISE(ABORT, 'votes are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS member_votes_no_delete BEFORE DELETE ON member_votes"
    " BEGIN SELECT RAISE(ABORT, 'votes are append-only'); END;";

/* The set hash held for query_id: *found = 0 when none. */
static tly_err
held_vote(struct tly_ledger *l, const uint8_t query_id[TLY_QUERY_ID_BYTES],
          uint8_t set_hash[TLY_HASH_BYTES], int *found)
{
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;

	*found = 0;
	if (sqlite3_prepare_v2(l->db, "SELECT set_hash FROM member_votes WHERE query_id = ?", -1,
	                       &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 1, query_id, TLY_QUERY_ID_BYTES, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) != TLY_HASH_BYTES) {
			rv = TLY_EFORMAT;
			goto out;
		}
		memcpy(set_hash, sqlite3_column_blob(st, 0), TLY_HASH_BYTES);
		*found = 1;
	} else if (step != SQLITE_DONE) {
		goto out;
	}
	rv = TLY_OK;
out:
	sqlite3_finalize(st);
	return rv;
}

tly_err
tly_ledger_vote_record(struct tly_ledger *ledger, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                       uint32_t attempt, const uint8_t set_hash[static TLY_HASH_BYTES])
{
	uint8_t held[TLY_HASH_BYTES];
	time_t now = time(NULL);
	int found = 0;
	tly_err rv;

	TLY_REQUIRE(ledger != NULL && ledger->key != NULL);
	if (sqlite3_exec(ledger->db, votes_sql, NULL, NULL, NULL) != SQLITE_OK)
		return TLY_EIO;
	if ((rv = held_vote(ledger, query_id, held, &found)) != TLY_OK)
		return rv;
	if (found)
		return sodium_memcmp(held, set_hash, TLY_HASH_BYTES) == 0 ? TLY_OK : TLY_EPEER;
	const struct tly_sqlog_value row[] = {
	    tly_sqlog_blob(query_id, TLY_QUERY_ID_BYTES),
	    tly_sqlog_int(attempt),
	    tly_sqlog_blob(set_hash, TLY_HASH_BYTES),
	    tly_sqlog_int(now > 0 ? (uint64_t)now : 0),
	};
	return tly_sqlog_insert(ledger->db,
	                        "INSERT INTO member_votes (query_id, attempt, set_hash, time)"
	                        " VALUES (?, ?, ?, ?)",
	                        row, sizeof row / sizeof row[0]);
}
