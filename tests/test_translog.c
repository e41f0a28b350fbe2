/*
 * The coordinator's transparency log (coordinator/translog.h): appends and
 * their refusals, verification of a good log, and every kind of tampering
 * named by its first bad entry: a flipped byte (with and without a
 * recomputed hash), a signature, deleted and reordered rows through raw
 * SQL, receipts with a bad signature, from the wrong key, over their caps
 * or inconsistent with each other, releases that disagree with their
 * entry. Federations are built with the real node ledgers
 * (tests/federation.h).
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coordinator/translog.h"
#include "coordinator/translog_impl.h"
#include "federation.h"
#include "store/keys.h"
#include "query/budget.h"
#include "store/head.h"

static const uint32_t one_two_three[] = {1, 2, 3};
static const uint32_t four[] = {4};

/* Verify the federation's log with its registry. */
static tly_err
verify(struct fed *f, struct tly_translog_report *report)
{
	tly_err rv = tly_translog_verify_file(f->log_path, &f->roster, report);
	return rv;
}

static void
expect_bad(struct fed *f, uint64_t seq, const char *reason)
{
	struct tly_translog_report report;

	cr_assert_eq(verify(f, &report), TLY_EAUTH, "verified: expected entry %llu to fail",
	             (unsigned long long)seq);
	cr_assert_eq(report.bad_seq, seq, "bad entry %llu, expected %llu: %s",
	             (unsigned long long)report.bad_seq, (unsigned long long)seq, report.reason);
	cr_assert(strstr(report.reason, reason) != NULL, "reason \"%s\" lacks \"%s\"",
	          report.reason, reason);
	cr_assert_eq(report.entries, seq - 1, "entries before the bad one verified");
	tly_translog_report_fini(&report);
}

/* Three released queries and one aborted: entries 1..4. */
static void
four_entries(struct fed *f)
{
	struct fed_query q;
	struct tly_buf receipts[2];
	char why[256];

	for (int i = 0; i < 3; i++) {
		fed_query(f, &q, i == 1 ? "0.25" : "1");
		fed_release(f, &q, one_two_three, 3, four, 1);
		fed_query_fini(&q);
	}
	fed_query(f, &q, "0.5");
	for (uint32_t n = 1; n <= 2; n++) {
		tly_buf_init(&receipts[n - 1]);
		fed_charge(f, n, &q, &receipts[n - 1]);
	}
	const uint32_t charged[] = {1, 2};
	cr_assert_eq(fed_append(f, &q, TLY_TRANSLOG_ABORTED, NULL, charged, 2, NULL, 0, receipts, 2,
	                        why, sizeof why),
	             TLY_OK, "%s", why);
	tly_buf_fini(&receipts[0]);
	tly_buf_fini(&receipts[1]);
	fed_query_fini(&q);
}

/* Raw access to one row's blob column. */
static void
edit_blob(const char *path, const char *column, uint64_t seq,
          void (*edit)(uint8_t *blob, size_t len, void *arg), void *arg)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[160];
	uint8_t *copy;
	size_t len;

	fed_sql(path, "DROP TRIGGER IF EXISTS entries_no_update");
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	snprintf(sql, sizeof sql, "SELECT %s FROM entries WHERE seq = %llu", column,
	         (unsigned long long)seq);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	len = (size_t)sqlite3_column_bytes(st, 0);
	copy = malloc(len);
	cr_assert_not_null(copy);
	memcpy(copy, sqlite3_column_blob(st, 0), len);
	sqlite3_finalize(st);
	edit(copy, len, arg);
	snprintf(sql, sizeof sql, "UPDATE entries SET %s = ? WHERE seq = %llu", column,
	         (unsigned long long)seq);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_bind_blob(st, 1, copy, (int)len, SQLITE_TRANSIENT), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(copy);
}

static void
flip(uint8_t *blob, size_t len, void *arg)
{
	size_t offset = *(size_t *)arg;
	cr_assert_lt(offset, len);
	blob[offset] ^= 0x01;
}

/* ---- good logs ---- */

Test(translog, good_log_verifies)
{
	struct fed f;
	struct tly_translog_report report;
	struct fed_query q;

	fed_init(&f, 4);
	four_entries(&f);
	/* A query refused before it had a canonical form: no spec, no receipts. */
	struct tly_translog_record record;
	memset(&record, 0, sizeof record);
	randombytes_buf(record.query_id, sizeof record.query_id);
	record.outcome = TLY_TRANSLOG_REFUSED;
	record.reason = "measure.column: unknown column \"agee\"";
	char why[256];
	uint64_t seq = 0;
	cr_assert_eq(tly_translog_append(f.log, &record, &seq, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(seq, 5);

	cr_assert_eq(verify(&f, &report), TLY_OK, "%llu: %s", (unsigned long long)report.bad_seq,
	             report.reason);
	cr_assert_eq(report.entries, 5);
	cr_assert_eq(report.released, 3);
	cr_assert_eq(report.aborted, 1);
	cr_assert_eq(report.refused, 1);
	cr_assert_eq(report.receipts, 3 * 4 + 2);
	cr_assert_eq(report.receipt_ref_count, 14);
	cr_assert_eq(report.bad_seq, 0);
	cr_assert_str_eq(report.reason, "");
	/* Node 1's receipts: its ledger entries 1, 2, 3, 4, in log entries 1..4. */
	uint64_t expected = 1;
	for (size_t i = 0; i < report.receipt_ref_count; i++) {
		const struct tly_translog_receipt_ref *ref = &report.receipt_refs[i];
		if (ref->node_id != 1)
			continue;
		cr_assert_eq(ref->seq, expected);
		cr_assert_eq(ref->log_seq, expected);
		expected++;
	}
	cr_assert_eq(expected, 5);
	tly_translog_report_fini(&report);

	/* And it goes on verifying as it grows. */
	fed_query(&f, &q, "2");
	fed_release(&f, &q, one_two_three, 3, NULL, 0);
	fed_query_fini(&q);
	cr_assert_eq(verify(&f, &report), TLY_OK, "%s", report.reason);
	cr_assert_eq(report.entries, 6);
	tly_translog_report_fini(&report);
	fed_fini(&f);
}

Test(translog, receipts_logged_out_of_ledger_order)
{
	struct fed f;
	struct fed_query a, b;
	struct tly_buf ra[3], rb[3];
	struct tly_translog_report report;
	char why[256], *release;

	fed_init(&f, 3);
	fed_query(&f, &a, "1");
	fed_query(&f, &b, "0.5");
	/* Every node charges a, then b; b finishes first. */
	for (uint32_t n = 1; n <= 3; n++) {
		tly_buf_init(&ra[n - 1]);
		tly_buf_init(&rb[n - 1]);
		fed_charge(&f, n, &a, &ra[n - 1]);
		fed_charge(&f, n, &b, &rb[n - 1]);
	}
	release = fed_release_json(&f, &b, one_two_three, 3, NULL, 0);
	cr_assert_eq(fed_append(&f, &b, TLY_TRANSLOG_RELEASED, release, one_two_three, 3, NULL, 0,
	                        rb, 3, why, sizeof why),
	             TLY_OK, "%s", why);
	free(release);
	release = fed_release_json(&f, &a, one_two_three, 3, NULL, 0);
	cr_assert_eq(fed_append(&f, &a, TLY_TRANSLOG_RELEASED, release, one_two_three, 3, NULL, 0,
	                        ra, 3, why, sizeof why),
	             TLY_OK, "%s", why);
	free(release);
	cr_assert_eq(verify(&f, &report), TLY_OK, "%s", report.reason);
	tly_translog_report_fini(&report);
	for (int i = 0; i < 3; i++) {
		tly_buf_fini(&ra[i]);
		tly_buf_fini(&rb[i]);
	}
	fed_query_fini(&a);
	fed_query_fini(&b);
	fed_fini(&f);
}

Test(translog, aborted_with_receipts_but_no_lists)
{
	struct fed f;
	struct fed_query q;
	struct tly_buf receipts[2];
	struct tly_translog_report report;
	char why[256];

	fed_init(&f, 3);
	fed_query(&f, &q, "1");
	for (uint32_t n = 1; n <= 2; n++) {
		tly_buf_init(&receipts[n - 1]);
		fed_charge(&f, n, &q, &receipts[n - 1]);
	}
	/* A coordinator that aborts before it knows the contributor set. */
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_ABORTED, NULL, NULL, 0, NULL, 0, receipts, 2,
	                        why, sizeof why),
	             TLY_OK, "%s", why);
	cr_assert_eq(verify(&f, &report), TLY_OK, "%s", report.reason);
	cr_assert_eq(report.receipts, 2);
	tly_translog_report_fini(&report);
	tly_buf_fini(&receipts[0]);
	tly_buf_fini(&receipts[1]);
	fed_query_fini(&q);
	fed_fini(&f);
}

/* ---- append's refusals ---- */

Test(translog, append_refusals)
{
	struct fed f;
	struct fed_query q, other;
	struct tly_buf r1, r1_again, r_other;
	char why[256], *release;

	fed_init(&f, 3);
	fed_query(&f, &q, "1");
	fed_query(&f, &other, "1");
	tly_buf_init(&r1);
	tly_buf_init(&r1_again);
	tly_buf_init(&r_other);
	fed_charge(&f, 1, &q, &r1);
	fed_charge(&f, 2, &other, &r_other);
	release = fed_release_json(&f, &q, one_two_three, 3, NULL, 0);

	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_ABORTED, release, one_two_three, 3, NULL, 0,
	                        NULL, 0, why, sizeof why),
	             TLY_EINVAL, "a release for an aborted query");
	cr_assert(strstr(why, "release") != NULL, "%s", why);
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, NULL, one_two_three, 3, NULL, 0,
	                        NULL, 0, why, sizeof why),
	             TLY_EINVAL, "released without a release");
	cr_assert_eq(fed_append(&f, &q, 9, NULL, NULL, 0, NULL, 0, NULL, 0, why, sizeof why),
	             TLY_EINVAL, "unknown outcome");
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, release, one_two_three, 3,
	                        one_two_three, 1, NULL, 0, why, sizeof why),
	             TLY_EINVAL, "node 1 contributed and was dropped");
	const uint32_t unordered[] = {2, 1};
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, release, unordered, 2, NULL, 0, NULL,
	                        0, why, sizeof why),
	             TLY_EINVAL, "contributors not increasing");
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, release, one_two_three, 3, NULL, 0,
	                        &r_other, 1, why, sizeof why),
	             TLY_EINVAL, "a receipt for another query");
	cr_assert(strstr(why, "another query") != NULL, "%s", why);
	struct tly_buf twice[2] = {r1, r1};
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, release, one_two_three, 3, NULL, 0,
	                        twice, 2, why, sizeof why),
	             TLY_EINVAL, "two receipts from one node");
	tly_buf_put_bytes(&r1_again, r1.data, r1.len - 1);
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, release, one_two_three, 3, NULL, 0,
	                        &r1_again, 1, why, sizeof why),
	             TLY_EINVAL, "a truncated receipt");
	cr_assert(strstr(why, "malformed") != NULL, "%s", why);
	q.hash[0] ^= 1;
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_ABORTED, NULL, NULL, 0, NULL, 0, NULL, 0, why,
	                        sizeof why),
	             TLY_EINVAL, "query_hash of another spec");
	q.hash[0] ^= 1;

	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, release, one_two_three, 3, NULL, 0,
	                        &r1, 1, why, sizeof why),
	             TLY_OK, "%s", why);
	cr_assert_eq(f.last_seq, 1);
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_ABORTED, NULL, NULL, 0, NULL, 0, NULL, 0, why,
	                        sizeof why),
	             TLY_EREPLAY, "one outcome per query");

	/* The refused appends wrote nothing; the release lacks receipts of 2
	 * and 3, which verify reports. */
	expect_bad(&f, 1, "contributor 2 has no receipt");
	free(release);
	tly_buf_fini(&r1);
	tly_buf_fini(&r1_again);
	tly_buf_fini(&r_other);
	fed_query_fini(&q);
	fed_query_fini(&other);
	fed_fini(&f);
}

/* ---- tampering with stored entries ---- */

Test(translog, flipped_entry_byte)
{
	struct fed f;
	size_t offset = 60; /* inside the query hash */

	fed_init(&f, 4);
	four_entries(&f);
	fed_close(&f);
	edit_blob(f.log_path, "bytes", 2, flip, &offset);
	expect_bad(&f, 2, "entry_hash does not match its bytes");
	fed_fini(&f);
}

static void
flip_in_last_receipt(uint8_t *blob, size_t len, void *arg)
{
	(void)arg;
	blob[len - TLY_HASH_BYTES - 10] ^= 0x80; /* the last receipt's signature */
}

Test(translog, flipped_receipt_byte_in_the_log)
{
	struct fed f;

	fed_init(&f, 4);
	four_entries(&f);
	fed_close(&f);
	edit_blob(f.log_path, "bytes", 3, flip_in_last_receipt, NULL);
	expect_bad(&f, 3, "entry_hash does not match its bytes");
	fed_fini(&f);
}

/* Flip a byte and recompute the entry hash: only the key can sign it. */
static void
rehash(uint8_t *blob, size_t len, void *arg)
{
	(void)len;
	memcpy(blob, arg, TLY_HASH_BYTES);
}

Test(translog, flipped_byte_with_a_recomputed_hash)
{
	struct fed f;
	size_t offset = 30;
	uint8_t hash[TLY_HASH_BYTES];

	fed_init(&f, 4);
	four_entries(&f);
	fed_close(&f);
	edit_blob(f.log_path, "bytes", 3, flip, &offset);
	sqlite3 *db;
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_open_v2(f.log_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_prepare_v2(db, "SELECT bytes FROM entries WHERE seq = 3", -1, &st, NULL),
	    SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	tly_translog_hash(hash, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	edit_blob(f.log_path, "entry_hash", 3, rehash, hash);
	expect_bad(&f, 3, "signature does not verify under the coordinator's registry key");
	fed_fini(&f);
}

/* The signed bytes of entry seq, read raw. */
static void
read_bytes(const char *path, uint64_t seq, uint8_t **bytes, size_t *len)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[80];

	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof sql, "SELECT bytes FROM entries WHERE seq = %llu",
	         (unsigned long long)seq);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	*len = (size_t)sqlite3_column_bytes(st, 0);
	*bytes = malloc(*len);
	cr_assert_not_null(*bytes);
	memcpy(*bytes, sqlite3_column_blob(st, 0), *len);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
put_blob(uint8_t *blob, size_t len, void *arg)
{
	memcpy(blob, arg, len);
}

/* What a coordinator holding its own key can do: rewrite entry seq with
 * prev_hash (the entry's last TLY_HASH_BYTES), then hash and sign it again,
 * so that its hash and signature are good and only the link is wrong. */
static void
resign_with_prev_hash(struct fed *f, uint64_t seq, const uint8_t prev[TLY_HASH_BYTES])
{
	uint8_t *bytes, hash[TLY_HASH_BYTES], sig[TLY_SIGN_BYTES];
	size_t len;

	read_bytes(f->log_path, seq, &bytes, &len);
	cr_assert_gt(len, TLY_HASH_BYTES);
	memcpy(bytes + len - TLY_HASH_BYTES, prev, TLY_HASH_BYTES);
	tly_translog_hash(hash, bytes, len);
	cr_assert_eq(tly_sign(sig, f->coordinator.sign, hash, sizeof hash), TLY_OK);
	edit_blob(f->log_path, "bytes", seq, put_blob, bytes);
	edit_blob(f->log_path, "entry_hash", seq, put_blob, hash);
	edit_blob(f->log_path, "signature", seq, put_blob, sig);
	free(bytes);
}

/* The chain, not only each entry's seal: an entry re-signed with a wrong
 * prev_hash -- the first, the second, or a later one spliced onto an older
 * entry (a fork that skips one) -- fails the audit, which names it. */
Test(translog, resigned_entry_with_a_wrong_prev_hash)
{
	static const uint64_t seqs[] = {1, 2, 3, 4};
	uint8_t prev[TLY_HASH_BYTES];

	for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
		struct fed f;
		uint8_t *bytes;
		size_t len;

		fed_init(&f, 4);
		four_entries(&f);
		fed_close(&f);
		if (seqs[i] == 1) {
			memset(prev, 0xa5, sizeof prev); /* the first links to nothing: zeros */
		} else if (seqs[i] == 2) {
			memset(prev, 0, sizeof prev); /* as if it were the first */
		} else {
			/* a splice: linked to the entry before its predecessor */
			read_bytes(f.log_path, seqs[i] - 2, &bytes, &len);
			tly_translog_hash(prev, bytes, len);
			free(bytes);
		}
		resign_with_prev_hash(&f, seqs[i], prev);
		expect_bad(&f, seqs[i], "prev_hash is not the hash of entry");
		fed_fini(&f);
	}
}

Test(translog, flipped_signature)
{
	struct fed f;
	size_t offset = 5;

	fed_init(&f, 4);
	four_entries(&f);
	fed_close(&f);
	edit_blob(f.log_path, "signature", 4, flip, &offset);
	expect_bad(&f, 4, "signature does not verify");
	fed_fini(&f);
}

Test(translog, deleted_row)
{
	struct fed f;

	fed_init(&f, 4);
	four_entries(&f);
	fed_close(&f);
	fed_sql(f.log_path, "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 2");
	expect_bad(&f, 2, "missing (the next entry is 3)");
	fed_fini(&f);
}

Test(translog, reordered_rows)
{
	struct fed f;

	fed_init(&f, 4);
	four_entries(&f);
	fed_close(&f);
	fed_sql(f.log_path, "DROP TRIGGER entries_no_update;"
	                    "UPDATE entries SET seq = 100 WHERE seq = 2;"
	                    "UPDATE entries SET seq = 2 WHERE seq = 3;"
	                    "UPDATE entries SET seq = 3 WHERE seq = 100;");
	expect_bad(&f, 2, "its columns disagree with its signed bytes");
	fed_fini(&f);
}

Test(translog, edited_outcome_column)
{
	struct fed f;

	fed_init(&f, 4);
	four_entries(&f);
	fed_close(&f);
	fed_sql(f.log_path, "DROP TRIGGER entries_no_update;"
	                    "UPDATE entries SET outcome = 2 WHERE seq = 1;");
	expect_bad(&f, 1, "columns disagree");
	fed_fini(&f);
}

Test(translog, triggers_stop_honest_edits)
{
	struct fed f;
	sqlite3 *db;

	fed_init(&f, 4);
	four_entries(&f);
	fed_close(&f);
	cr_assert_eq(sqlite3_open_v2(f.log_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "UPDATE entries SET time = 0", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "DELETE FROM entries", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct tly_translog_report report;
	cr_assert_eq(verify(&f, &report), TLY_OK, "%s", report.reason);
	tly_translog_report_fini(&report);
	fed_fini(&f);
}

Test(translog, wrong_coordinator_key_in_the_registry)
{
	struct fed f;
	struct tly_translog_report report;

	fed_init(&f, 4);
	four_entries(&f);
	f.roster.coordinator_pk[0] ^= 1;
	cr_assert_eq(verify(&f, &report), TLY_EAUTH);
	cr_assert_eq(report.bad_seq, 1);
	cr_assert(strstr(report.reason, "coordinator's registry key") != NULL, "%s", report.reason);
	tly_translog_report_fini(&report);
	fed_fini(&f);
}

/* ---- receipts the coordinator logged (and signed) ---- */

/* Entry 2 of a log carries receipts from nodes 1, 2, 3, the one of
 * `node` replaced by `bad`. */
static void
log_with_receipt(struct fed *f, const struct fed_query *q, uint32_t node, struct tly_buf *bad)
{
	struct tly_buf receipts[3];
	char why[256], *release;

	for (uint32_t n = 1; n <= 3; n++) {
		tly_buf_init(&receipts[n - 1]);
		if (n == node)
			tly_buf_put_bytes(&receipts[n - 1], bad->data, bad->len);
		else
			fed_charge(f, n, q, &receipts[n - 1]);
	}
	release = fed_release_json(f, q, one_two_three, 3, NULL, 0);
	cr_assert_eq(fed_append(f, q, TLY_TRANSLOG_RELEASED, release, one_two_three, 3, NULL, 0,
	                        receipts, 3, why, sizeof why),
	             TLY_OK, "%s", why);
	free(release);
	for (int i = 0; i < 3; i++)
		tly_buf_fini(&receipts[i]);
}

Test(translog, receipt_with_a_bad_signature)
{
	struct fed f;
	struct fed_query first, q;
	struct tly_buf receipt;

	fed_init(&f, 3);
	fed_query(&f, &first, "1");
	fed_release(&f, &first, one_two_three, 3, NULL, 0);
	fed_query(&f, &q, "1");
	tly_buf_init(&receipt);
	fed_charge(&f, 2, &q, &receipt);
	receipt.data[receipt.len - 1] ^= 1;
	log_with_receipt(&f, &q, 2, &receipt);
	expect_bad(&f, 2,
	           "the receipt of node 2 (ledger entry 2) does not verify under that node's "
	           "registry key");
	tly_buf_fini(&receipt);
	fed_query_fini(&first);
	fed_query_fini(&q);
	fed_fini(&f);
}

Test(translog, receipt_from_the_wrong_node_key)
{
	struct fed f;
	struct fed_query first, q;
	struct tly_buf receipt;
	struct tly_identity impostor;
	struct tly_ledger *forged;
	char lerr[256];
	char path[160];

	fed_init(&f, 3);
	fed_query(&f, &first, "1");
	fed_release(&f, &first, one_two_three, 3, NULL, 0);
	fed_query(&f, &q, "1");
	/* A ledger that claims to be node 2's, kept with another key. */
	cr_assert_eq(tly_identity_generate(&impostor, 2, 0), TLY_OK);
	snprintf(path, sizeof path, "%s/impostor.db", f.dir);
	cr_assert_eq(tly_ledger_open(&forged, path, 2, impostor.sign, lerr, sizeof lerr), TLY_OK);
	struct tly_ledger *real = f.ledger[2];
	f.ledger[2] = forged;
	tly_buf_init(&receipt);
	fed_charge(&f, 2, &q, &receipt);
	f.ledger[2] = real;
	tly_ledger_close(forged);
	log_with_receipt(&f, &q, 2, &receipt);
	expect_bad(&f, 2,
	           "the receipt of node 2 (ledger entry 1) does not verify under that "
	           "node's registry key");
	tly_identity_fini(&impostor);
	tly_buf_fini(&receipt);
	fed_query_fini(&first);
	fed_query_fini(&q);
	fed_fini(&f);
}

/* When den != 0, forge() writes this rho_total instead of the cap's. */
static struct tly_fraction forced_rho_total;

/* A receipt of node 1 for q, forged with node 1's own key. */
static void
forge(struct fed *f, const struct fed_query *q, uint64_t seq, struct tly_fraction amount,
      struct tly_fraction spent, struct tly_fraction per_query, struct tly_fraction total,
      struct tly_buf *out)
{
	struct tly_ledger_receipt r;

	memset(&r, 0, sizeof r);
	r.node_id = 1;
	r.seq = seq;
	r.time = 1700000000;
	snprintf(r.dataset, sizeof r.dataset, "patients");
	memcpy(r.query_id, q->id, sizeof r.query_id);
	memcpy(r.query_hash, q->hash, sizeof r.query_hash);
	r.mechanism = TLY_MECH_LAPLACE;
	r.amount = amount;
	r.epsilon_spent = spent;
	r.rho_spent = (struct tly_fraction){0, 1};
	r.budget.epsilon_total = total;
	r.budget.epsilon_per_query = per_query;
	r.budget.rho_per_query = (struct tly_fraction){1, 2};
	r.budget.delta_total = (struct tly_fraction){1, 1000000};
	r.budget.sites = 1;
	struct tly_budget_cap cap = {total, r.budget.delta_total, 1};
	cr_assert_eq(tly_budget_rho_cap(&cap, &r.budget.rho_total), TLY_OK);
	if (forced_rho_total.den != 0)
		r.budget.rho_total = forced_rho_total;
	snprintf(r.population, sizeof r.population, "patients");
	/* as if every charge had been epsilon 1: Q = E/2 */
	r.epsilon_rho_spent = spent.num % 2 == 0 ? (struct tly_fraction){spent.num / 2, spent.den}
	                                         : (struct tly_fraction){spent.num, 2 * spent.den};
	randombytes_buf(r.entry_hash, sizeof r.entry_hash);
	fed_forge_receipt(&r, f->node[1].sign, out);
}

static void
expect_forged_bad(struct tly_fraction amount, struct tly_fraction spent,
                  struct tly_fraction per_query, struct tly_fraction total, uint64_t seq,
                  const char *reason)
{
	struct fed f;
	struct fed_query q;
	struct tly_buf receipt;

	fed_init(&f, 3);
	fed_query(&f, &q, "1");
	fed_release(&f, &q, one_two_three, 3, NULL, 0); /* node 1's ledger entry 1 */
	fed_query_fini(&q);
	fed_query(&f, &q, "1");
	tly_buf_init(&receipt);
	forge(&f, &q, seq, amount, spent, per_query, total, &receipt);
	log_with_receipt(&f, &q, 1, &receipt);
	expect_bad(&f, 2, reason);
	tly_buf_fini(&receipt);
	fed_query_fini(&q);
	fed_fini(&f);
}

Test(translog, receipt_over_its_per_query_cap)
{
	expect_forged_bad((struct tly_fraction){1, 1}, (struct tly_fraction){2, 1},
	                  (struct tly_fraction){1, 2}, (struct tly_fraction){20, 1}, 2,
	                  "epsilon 1/1 is over its per-query cap 1/2");
}

Test(translog, receipt_over_its_budget)
{
	expect_forged_bad((struct tly_fraction){1, 1}, (struct tly_fraction){21, 1},
	                  (struct tly_fraction){2, 1}, (struct tly_fraction){20, 1}, 2,
	                  "population \"patients\" spent epsilon 21/1 and rho 0/1, over its cap");
}

Test(translog, receipt_with_a_rho_cap_of_its_own)
{
	/* The old separate rho budget (5) in place of the cap's zCDP
	 * equivalent: the receipt would let rho run past (20, 1e-6). */
	forced_rho_total = (struct tly_fraction){5, 1};
	expect_forged_bad((struct tly_fraction){1, 1}, (struct tly_fraction){2, 1},
	                  (struct tly_fraction){2, 1}, (struct tly_fraction){20, 1}, 2,
	                  "rho_total is not the zCDP cap");
}

Test(translog, receipt_that_does_not_add_up)
{
	/* Ledger entry 1 left spent 1; entry 2 charges 1 and must say 2. */
	expect_forged_bad(
	    (struct tly_fraction){1, 1}, (struct tly_fraction){3, 2}, (struct tly_fraction){2, 1},
	    (struct tly_fraction){20, 1}, 2,
	    "the totals at ledger entry 2 (log entry 2) are not ledger entry 1's plus its epsilon "
	    "charge");
}

Test(translog, receipt_whose_spend_went_backwards)
{
	/* With entries between them, at least 1 + 1. */
	expect_forged_bad((struct tly_fraction){1, 1}, (struct tly_fraction){3, 2},
	                  (struct tly_fraction){2, 1}, (struct tly_fraction){20, 1}, 7,
	                  "are below ledger entry 1's plus its epsilon charge");
}

Test(translog, ledger_entry_receipted_twice)
{
	expect_forged_bad((struct tly_fraction){1, 1}, (struct tly_fraction){1, 1},
	                  (struct tly_fraction){2, 1}, (struct tly_fraction){20, 1}, 1,
	                  "node 1: its ledger entry 1 was already receipted in log entry 1");
}

Test(translog, receipt_at_another_price)
{
	expect_forged_bad((struct tly_fraction){1, 2}, (struct tly_fraction){3, 2},
	                  (struct tly_fraction){2, 1}, (struct tly_fraction){20, 1}, 2,
	                  "charges epsilon 1/2 on \"patients\", not the query's epsilon 1/1");
}

Test(translog, receipt_from_a_node_outside_the_query)
{
	struct fed f;
	struct fed_query q;
	struct tly_buf receipts[4];
	char why[256], *release;

	fed_init(&f, 4);
	fed_query(&f, &q, "1");
	for (uint32_t n = 1; n <= 4; n++) {
		tly_buf_init(&receipts[n - 1]);
		fed_charge(&f, n, &q, &receipts[n - 1]);
	}
	release = fed_release_json(&f, &q, one_two_three, 3, NULL, 0);
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, release, one_two_three, 3, NULL, 0,
	                        receipts, 4, why, sizeof why),
	             TLY_OK, "%s", why);
	expect_bad(&f, 1, "a receipt from node 4, which took no part");
	free(release);
	for (int i = 0; i < 4; i++)
		tly_buf_fini(&receipts[i]);
	fed_query_fini(&q);
	fed_fini(&f);
}

Test(translog, node_missing_from_the_registry)
{
	struct fed f;
	struct fed_query q;

	fed_init(&f, 4);
	fed_query(&f, &q, "1");
	const uint32_t with_four[] = {1, 2, 4};
	fed_release(&f, &q, with_four, 3, NULL, 0);
	f.roster.count = 3; /* forget node 4 (the roster is sorted by id) */
	expect_bad(&f, 1, "a receipt from node 4, which is not in the registry");
	f.roster.count = 4;
	fed_query_fini(&q);
	fed_fini(&f);
}

/* ---- releases that disagree with their entry ---- */

static void
expect_release_bad(void (*edit)(json_t *release), const char *reason)
{
	struct fed f;
	struct fed_query q;
	struct tly_buf receipts[3];
	char why[256], *release, *edited;
	json_t *root;

	fed_init(&f, 3);
	fed_query(&f, &q, "1");
	for (uint32_t n = 1; n <= 3; n++) {
		tly_buf_init(&receipts[n - 1]);
		fed_charge(&f, n, &q, &receipts[n - 1]);
	}
	release = fed_release_json(&f, &q, one_two_three, 3, NULL, 0);
	root = json_loads(release, 0, NULL);
	cr_assert_not_null(root);
	edit(root);
	edited = json_dumps(root, JSON_COMPACT);
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_RELEASED, edited, one_two_three, 3, NULL, 0,
	                        receipts, 3, why, sizeof why),
	             TLY_OK, "%s", why);
	expect_bad(&f, 1, reason);
	json_decref(root);
	free(edited);
	free(release);
	for (int i = 0; i < 3; i++)
		tly_buf_fini(&receipts[i]);
	fed_query_fini(&q);
	fed_fini(&f);
}

static void
more_contributors(json_t *release)
{
	json_object_set_new(release, "contributors", json_integer(5));
}

static void
smaller_epsilon(json_t *release)
{
	json_t *privacy = json_object_get(release, "privacy");
	json_object_set_new(privacy, "epsilon_exact", json_string("0.1"));
}

static void
other_query(json_t *release)
{
	json_object_set_new(release, "query_id", json_string("00000000000000000000000000000000"));
}

Test(translog, release_that_disagrees_with_its_entry)
{
	expect_release_bad(more_contributors, "contributor count is not the entry's (3)");
	expect_release_bad(smaller_epsilon, "another privacy figure than the query's epsilon 1");
	expect_release_bad(other_query, "names another query");
}

/* ---- files ---- */

Test(translog, open_refusals)
{
	struct fed f;
	struct tly_translog *log = NULL;
	char err[320];
	struct tly_translog_report report;

	fed_init(&f, 2);
	cr_assert_eq(tly_translog_open_readonly(&log, f.ledger_path[1], err, sizeof err),
	             TLY_EFORMAT, "a ledger is not a log");
	cr_assert(strstr(err, "not a tally transparency log") != NULL, "%s", err);
	cr_assert_null(log);
	cr_assert_eq(tly_translog_open(&log, f.log_path, f.node[1].sign, err, sizeof err),
	             TLY_EAUTH, "another key");
	cr_assert(strstr(err, "another coordinator signing key") != NULL);
	char path[160];
	snprintf(path, sizeof path, "%s/absent.db", f.dir);
	cr_assert_eq(tly_translog_verify_file(path, &f.roster, &report), TLY_EIO);
	cr_assert(strstr(report.reason, "cannot open") != NULL, "%s", report.reason);
	tly_translog_report_fini(&report);
	fed_fini(&f);
}

/* ---- listings ---- */

Test(translog, show_releases_find)
{
	struct fed f;
	char *text = NULL, *json = NULL;
	size_t len = 0;
	FILE *out;
	struct tly_translog *log;
	char err[320];
	uint8_t id[TLY_QUERY_ID_BYTES];

	fed_init(&f, 4);
	four_entries(&f);
	cr_assert_eq(tly_translog_open_readonly(&log, f.log_path, err, sizeof err), TLY_OK);

	out = open_memstream(&text, &len);
	cr_assert_eq(tly_translog_show(log, out, TLY_TRANSLOG_CSV), TLY_OK);
	fclose(out);
	cr_assert(strncmp(text, "seq,time,query_id,outcome,", 26) == 0, "%s", text);
	size_t lines = 0;
	for (char *p = text; *p != '\0'; p++)
		lines += *p == '\n';
	cr_assert_eq(lines, 5, "header and four entries");
	cr_assert(strstr(text, ",aborted,committee,patients,count,epsilon=1/2,2,0,2,\"too few "
	                       "contributors\"") != NULL,
	          "%s", text);
	free(text);
	out = open_memstream(&text, &len);
	cr_assert_eq(tly_translog_show(log, out, TLY_TRANSLOG_TABLE), TLY_OK);
	fclose(out);
	cr_assert(strstr(text, "released") != NULL && strstr(text, "epsilon=1/4") != NULL);
	free(text);

	cr_assert_eq(tly_translog_releases(log, &json), TLY_OK);
	json_t *array = json_loads(json, 0, NULL);
	cr_assert(json_is_array(array) && json_array_size(array) == 4, "%s", json);
	json_t *first = json_array_get(array, 0), *last = json_array_get(array, 3);
	cr_assert_str_eq(json_string_value(json_object_get(first, "outcome")), "released");
	cr_assert(json_is_object(json_object_get(first, "release")));
	cr_assert_eq(
	    json_integer_value(json_object_get(json_object_get(first, "release"), "contributors")),
	    3);
	cr_assert_str_eq(json_string_value(json_object_get(last, "outcome")), "aborted");
	cr_assert(json_is_null(json_object_get(last, "release")));
	cr_assert_str_eq(json_string_value(json_object_get(last, "reason")),
	                 "too few contributors");

	const char *hex = json_string_value(json_object_get(first, "query_id"));
	struct tly_translog_found found;
	cr_assert_eq(tly_unhex(id, sizeof id, hex, strlen(hex)), TLY_OK);
	cr_assert_eq(tly_translog_find(log, id, &found), TLY_OK);
	cr_assert_eq(found.seq, 1);
	cr_assert_eq(found.outcome, TLY_TRANSLOG_RELEASED);
	cr_assert_eq(found.protocol, TLY_PROTOCOL_COMMITTEE);
	cr_assert_eq(found.threshold, 2);
	cr_assert_eq(found.degree, 3);
	cr_assert_eq(found.contributors, 3);
	cr_assert_eq(found.dropped, 1);
	cr_assert_eq(found.receipts, 4);
	cr_assert(strstr(found.spec_json, "\"dataset\":\"patients\"") != NULL, "%s",
	          found.spec_json);
	cr_assert(strstr(found.release_json, hex) != NULL);
	tly_translog_found_fini(&found);
	hex = json_string_value(json_object_get(last, "query_id"));
	cr_assert_eq(tly_unhex(id, sizeof id, hex, strlen(hex)), TLY_OK);
	cr_assert_eq(tly_translog_find(log, id, &found), TLY_OK);
	cr_assert_eq(found.outcome, TLY_TRANSLOG_ABORTED);
	cr_assert_null(found.release_json);
	cr_assert_str_eq(found.reason, "too few contributors");
	tly_translog_found_fini(&found);
	id[0] ^= 1;
	cr_assert_eq(tly_translog_find(log, id, &found), TLY_EINVAL, "unknown query");
	json_decref(array);
	free(json);
	tly_translog_close(log);
	fed_fini(&f);
}

/* ---- the canonical bytes ---- */

Test(translog, entry_bytes_round_trip_and_refuse_malformations)
{
	struct fed f;
	sqlite3 *db;
	sqlite3_stmt *st;
	struct tly_translog_entry e;
	struct tly_buf again;
	char why[128];

	fed_init(&f, 4);
	four_entries(&f);
	cr_assert_eq(sqlite3_open_v2(f.log_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_prepare_v2(db, "SELECT bytes FROM entries ORDER BY seq", -1, &st, NULL),
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const uint8_t *bytes = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		cr_assert_eq(tly_translog_entry_decode(&e, bytes, len, why, sizeof why), TLY_OK,
		             "%s", why);
		tly_buf_init(&again);
		cr_assert_eq(tly_translog_entry_encode(&e, &again), TLY_OK);
		cr_assert_eq(again.len, len);
		cr_assert_arr_eq(again.data, bytes, len, "encode(decode(b)) == b");
		cr_assert_eq(e.threshold, 2);
		cr_assert_eq(e.degree, 3);
		tly_translog_entry_fini(&e);
		tly_buf_fini(&again);

		uint8_t *copy = malloc(len + 1);
		cr_assert_not_null(copy);
		memcpy(copy, bytes, len);
		copy[len] = 0;
		cr_assert_eq(tly_translog_entry_decode(&e, copy, len + 1, why, sizeof why),
		             TLY_EFORMAT, "trailing byte");
		cr_assert(strstr(why, "trailing") != NULL, "%s", why);
		cr_assert_eq(tly_translog_entry_decode(&e, copy, len - 1, why, sizeof why),
		             TLY_EFORMAT, "truncated");
		copy[0] = TLY_TRANSLOG_FORMAT_VERSION + 1;
		cr_assert_eq(tly_translog_entry_decode(&e, copy, len, why, sizeof why), TLY_EFORMAT,
		             "another version");
		free(copy);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	fed_fini(&f);
}

/* ---- the Merkle tree and committed queries (docs/PROTOCOL.md 5.4) ---- */

static void
commit_record(struct tly_translog_record *rec, const struct fed_query *q)
{
	memset(rec, 0, sizeof *rec);
	memcpy(rec->query_id, q->id, sizeof rec->query_id);
	memcpy(rec->query_hash, q->hash, sizeof rec->query_hash);
	rec->protocol = TLY_PROTOCOL_COMMITTEE;
	rec->threshold = 2;
	rec->degree = 3;
	rec->outcome = TLY_TRANSLOG_COMMITTED;
	rec->spec_json = q->canonical;
	rec->spec_len = q->canonical_len;
}

/* Each commitment verifies as a node checks it: the head's signature, the
 * leaf rebuilt from the query, and consistency with every earlier head;
 * the audit's leaves give the same roots. */
Test(translog, commitments_verify_as_a_node_checks_them)
{
	struct fed f;
	struct fed_query q[5];
	struct tly_translog_record rec;
	struct tly_log_commit *c = calloc(1, sizeof *c);
	struct tly_tree_head heads[5];
	uint64_t sizes[8];
	size_t n;
	char why[256];

	fed_init(&f, 4);
	for (int i = 0; i < 5; i++) {
		fed_query(&f, &q[i], "0.5");
		commit_record(&rec, &q[i]);
		cr_assert_eq(tly_translog_recent_heads(f.log, sizes, 8, &n), TLY_OK);
		cr_assert_eq(n, (size_t)i);
		cr_assert_eq(tly_translog_commit(f.log, &rec, sizes, n, c, why, sizeof why), TLY_OK,
		             "%s", why);
		heads[i] = c->head;
		cr_assert_eq(tly_head_verify(&c->head, f.roster.coordinator_pk), TLY_OK);
		uint8_t leaf[32];
		tly_log_leaf_hash(leaf, c->leaf_index + 1, TLY_LOG_OUTCOME_COMMITTED, q[i].id,
		                  q[i].hash, c->entry_hash);
		cr_assert_eq(tly_merkle_verify_inclusion(leaf, c->leaf_index, c->head.size,
		                                         c->inclusion.hashes[0], c->inclusion.count,
		                                         c->head.root),
		             TLY_OK);
		cr_assert_eq(c->consistency_count, (size_t)i, "a proof from every earlier head");
		for (size_t k = 0; k < c->consistency_count; k++) {
			const struct tly_tree_head *old = &heads[k];
			const struct tly_merkle_proof *p = tly_log_commit_consistency(c, old->size);
			cr_assert_not_null(p);
			cr_assert_eq(tly_merkle_verify_consistency(old->size, c->head.size,
			                                           old->root, c->head.root,
			                                           p->hashes[0], p->count),
			             TLY_OK);
		}
		/* Odd queries get their outcome; even ones stay committed. */
		if (i % 2 == 1)
			fed_release(&f, &q[i], one_two_three, 3, NULL, 0);
	}
	struct tly_translog_report report;
	cr_assert_eq(verify(&f, &report), TLY_OK, "%s", report.reason);
	cr_assert_eq(report.committed, 5);
	cr_assert_eq(report.released, 2);
	cr_assert_eq(report.query_ref_count, 5);
	size_t open = 0;
	for (size_t i = 0; i < report.query_ref_count; i++)
		open += report.query_refs[i].outcome == 0;
	cr_assert_eq(open, 3, "three committed queries with no outcome");
	for (int i = 0; i < 5; i++) {
		uint8_t root[32];
		tly_merkle_root(root, report.leaves, heads[i].size);
		cr_assert_arr_eq(root, heads[i].root, 32, "head %d is a head of the log", i);
	}
	tly_translog_report_fini(&report);
	for (int i = 0; i < 5; i++)
		fed_query_fini(&q[i]);
	free(c);
	fed_fini(&f);
}

/* One committed entry and one outcome per query: a second commit, an
 * outcome after an outcome, and a committed entry carrying lists are
 * refused at append, and a commit after the outcome is refused even with
 * the file's unique index dropped. */
Test(translog, committed_entries_follow_their_rules)
{
	struct fed f;
	struct fed_query q;
	struct tly_translog_record rec;
	struct tly_log_commit *c = calloc(1, sizeof *c);
	char why[256];

	fed_init(&f, 4);
	fed_query(&f, &q, "0.5");
	commit_record(&rec, &q);
	cr_assert_eq(tly_translog_commit(f.log, &rec, NULL, 0, c, why, sizeof why), TLY_OK, "%s",
	             why);
	cr_assert_eq(tly_translog_append(f.log, &rec, NULL, why, sizeof why), TLY_EREPLAY, "%s",
	             why);
	fed_release(&f, &q, one_two_three, 3, NULL, 0);
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_ABORTED, NULL, NULL, 0, NULL, 0, NULL, 0, why,
	                        sizeof why),
	             TLY_EREPLAY, "%s", why);
	struct fed_query other;
	fed_query(&f, &other, "0.5");
	commit_record(&rec, &other);
	struct tly_idlist some = {3, (uint32_t *)one_two_three};
	rec.contributors = &some;
	cr_assert_eq(tly_translog_append(f.log, &rec, NULL, why, sizeof why), TLY_EINVAL);
	cr_assert(strstr(why, "committed") != NULL, "%s", why);
	/* A committed entry that comes after its query's outcome. */
	fed_sql(f.log_path, "DROP INDEX entries_query; DROP TRIGGER entries_no_update");
	fed_close(&f);
	struct tly_translog *log;
	char err[320];
	cr_assert_eq(tly_translog_open(&log, f.log_path, f.coordinator.sign, err, sizeof err),
	             TLY_OK, "%s", err);
	commit_record(&rec, &q);
	rec.contributors = NULL;
	cr_assert_eq(tly_translog_append(log, &rec, NULL, why, sizeof why), TLY_EREPLAY, "%s", why);
	tly_translog_close(log);
	fed_query_fini(&q);
	fed_query_fini(&other);
	free(c);
	fed_fini(&f);
}

/* A receipt carries the log head its node verified before the charge
 * (receipt v3): the audit checks it is the coordinator's and a head of
 * this log. Negative controls: a head the log does not contain (re-signed
 * by the coordinator's key, so only the root check catches it), and one
 * not signed by the coordinator. */
static tly_err
receipt_head_case(int mutation, char *reason, size_t reason_len)
{
	struct fed f;
	struct fed_query q;
	struct tly_translog_record rec;
	struct tly_translog_report report;
	struct tly_log_commit *c = calloc(1, sizeof *c);
	struct tly_buf receipt;
	char why[256];

	cr_assert_not_null(c);
	fed_init(&f, 3);
	fed_query(&f, &q, "0.5");
	commit_record(&rec, &q);
	cr_assert_eq(tly_translog_commit(f.log, &rec, NULL, 0, c, why, sizeof why), TLY_OK, "%s",
	             why);
	if (mutation == 1) {
		c->head.root[0] ^= 1;
		cr_assert_eq(tly_head_sign(&c->head, f.coordinator.sign), TLY_OK);
	} else if (mutation == 2) {
		cr_assert_eq(tly_head_sign(&c->head, f.node[1].sign), TLY_OK);
	}
	struct tly_log_head_field head = {.size = c->head.size};
	memcpy(head.root, c->head.root, sizeof head.root);
	memcpy(head.signature, c->head.signature, sizeof head.signature);
	tly_buf_init(&receipt);
	fed_charge_with_head(&f, 1, &q, &head, &receipt);
	cr_assert_eq(fed_append(&f, &q, TLY_TRANSLOG_ABORTED, NULL, NULL, 0, NULL, 0, &receipt, 1,
	                        why, sizeof why),
	             TLY_OK, "%s", why);
	tly_err rv = tly_translog_verify(f.log, &f.roster, &report);
	snprintf(reason, reason_len, "%s", report.reason);
	tly_translog_report_fini(&report);
	tly_buf_fini(&receipt);
	fed_query_fini(&q);
	free(c);
	fed_fini(&f);
	return rv;
}

Test(translog, receipt_log_heads_are_checked_against_the_log)
{
	char reason[400];

	cr_assert_eq(receipt_head_case(0, reason, sizeof reason), TLY_OK, "%s", reason);
	cr_assert_eq(receipt_head_case(1, reason, sizeof reason), TLY_EAUTH);
	cr_assert(strstr(reason, "entry 2: the receipt of node 1: fork") != NULL, "%s", reason);
	cr_assert_eq(receipt_head_case(2, reason, sizeof reason), TLY_EAUTH);
	cr_assert(strstr(reason, "not signed by the coordinator") != NULL, "%s", reason);
}
