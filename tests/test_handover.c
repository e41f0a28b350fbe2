/* Rotating a node's signing key without losing its ledger (node/ledger.h,
 * store/sqlog.h "key handovers"): the handover and its checks, each
 * attack on it named by verification, handles that keep a retired key, and
 * ledgers written before handovers existed. The registry's retired keys
 * are in test_keys.c; the rotation on real daemons in test_rotation.c. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/sign.h"
#include "node/ledger.h"
#include "store/sqlog.h"
#include "wire/buf.h"

static char dir[64];
static char path[128];
static struct tly_sign_key *keys[3]; /* old, new, a thief's */
static uint8_t pks[3][TLY_SIGN_PUBLIC_BYTES];
static const char spec[] = "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"}}";
static const struct tly_ledger_budget budget = {.epsilon_total = {20, 1},
                                                .epsilon_per_query = {2, 1},
                                                .rho_per_query = {1, 2},
                                                .delta_total = {1, 1000000},
                                                .sites = 1};
/* The ledger's file format, as node/ledger.c declares it (for forging
 * handovers with the right domain). */
static const struct tly_sqlog_format format = {
    .noun = "ledger", .application_id = TLY_LEDGER_APPLICATION_ID, .handovers = 1};

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	/* mkdtemp's template: six X's that it replaces with a unique name. */
	snprintf(dir, sizeof dir, "/tmp/tally-handover-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/ledger.db", dir);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(tly_sign_key_alloc(&keys[i], NULL), TLY_OK);
		tly_sign_key_public(keys[i], pks[i]);
	}
}

static void
teardown(void)
{
	char file[200];
	static const char *const suffixes[] = {"", "-wal", "-shm", ".copy"};

	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
		unlink(file);
	}
	rmdir(dir);
	for (int i = 0; i < 3; i++)
		tly_sign_key_free(keys[i]);
}

TestSuite(handover, .init = setup, .fini = teardown);

static struct tly_ledger *
open_with(int k)
{
	struct tly_ledger *l = NULL;
	char err[256];

	cr_assert_eq(tly_ledger_open(&l, path, 3, keys[k], err, sizeof err), TLY_OK, "%s", err);
	return l;
}

static struct tly_ledger_receipt last_receipt;

static tly_err
reserve(struct tly_ledger *l, uint64_t n, char *why, size_t why_len)
{
	struct tly_ledger_charge c = {.dataset = "patients",
	                              .population = "patients",
	                              .mechanism = TLY_MECH_LAPLACE,
	                              .amount = {1, 10},
	                              .spec_json = spec,
	                              .spec_len = sizeof spec - 1};
	tly_store_be64(c.query_id, 0x68616e646f766572u);
	tly_store_be64(c.query_id + 8, n);
	crypto_generichash(c.query_hash, sizeof c.query_hash, c.query_id, sizeof c.query_id, NULL,
	                   0);
	return tly_ledger_reserve(l, &c, &budget, &last_receipt, why, why_len);
}

static void
charge(struct tly_ledger *l, uint64_t n)
{
	char why[400];
	cr_assert_eq(reserve(l, n, why, sizeof why), TLY_OK, "%s", why);
}

static void
hand_over(struct tly_ledger *l, int to, uint64_t from_seq)
{
	struct tly_ledger_key k;
	char why[256];

	cr_assert_eq(tly_ledger_handover(l, keys[to], &k, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(k.from_seq, from_seq);
	cr_assert_eq(memcmp(k.pk, pks[to], sizeof k.pk), 0);
}

/* Two charges under the old key, the handover, one under the new. */
static void
rotated_ledger(void)
{
	struct tly_ledger *l = open_with(0);
	charge(l, 1);
	charge(l, 2);
	hand_over(l, 1, 3);
	tly_ledger_close(l);
	l = open_with(1);
	charge(l, 3);
	tly_ledger_close(l);
}

static void
raw_sql(const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql, err);
	sqlite3_close(db);
}

static void
verify_fails(int k, uint64_t bad_seq, const char *reason)
{
	struct tly_ledger_report rep;

	cr_assert_eq(tly_ledger_verify_file(path, pks[k], &rep), TLY_EAUTH, "it verified");
	cr_assert_eq(rep.bad_seq, bad_seq, "bad_seq %" PRIu64 ": %s", rep.bad_seq, rep.reason);
	cr_assert(strstr(rep.reason, reason) != NULL, "%s", rep.reason);
}

Test(handover, the_ledger_verifies_across_a_rotation)
{
	struct tly_ledger_report rep;

	rotated_ledger();
	cr_assert_eq(tly_ledger_verify_file(path, pks[1], &rep), TLY_OK, "%s", rep.reason);
	cr_assert_eq(rep.entries, 3);
	cr_assert_eq(rep.charges, 3);
	cr_assert_eq(rep.key_count, 2);
	cr_assert_eq(rep.keys[0].from_seq, 1);
	cr_assert_eq(memcmp(rep.keys[0].pk, pks[0], TLY_SIGN_PUBLIC_BYTES), 0);
	cr_assert_eq(rep.keys[1].from_seq, 3);
	cr_assert_eq(memcmp(rep.keys[1].pk, pks[1], TLY_SIGN_PUBLIC_BYTES), 0);
	/* The budget is kept: the totals run on across the rotation. */
	struct tly_ledger *l = open_with(1);
	struct tly_budget_spent spent;
	cr_assert_eq(tly_ledger_spent(l, "patients", &spent), TLY_OK);
	cr_assert_eq(spent.epsilon.num, 3);
	cr_assert_eq(spent.epsilon.den, 10);
	tly_ledger_close(l);
	/* The old key is not the node key any more. */
	verify_fails(0, 1, "is not this node key");
}

Test(handover, a_retired_key_can_neither_open_nor_write)
{
	struct tly_ledger *l = open_with(0), *other = NULL;
	struct tly_ledger_key k;
	char why[400];

	charge(l, 1);
	hand_over(l, 1, 2);
	/* A process that opened the ledger before the handover (a node still
	 * running with the old key) is refused at its next charge... */
	cr_assert_eq(reserve(l, 2, why, sizeof why), TLY_EAUTH);
	cr_assert(strstr(why, "handed over to another key") != NULL, "%s", why);
	/* ... and cannot hand the ledger over again. */
	cr_assert_eq(tly_ledger_handover(l, keys[2], &k, why, sizeof why), TLY_EAUTH);
	cr_assert(strstr(why, "signed with another key") != NULL, "%s", why);
	tly_ledger_close(l);
	/* A new open with the old key is refused. */
	cr_assert_eq(tly_ledger_open(&other, path, 3, keys[0], why, sizeof why), TLY_EAUTH);
	cr_assert(strstr(why, "another node signing key") != NULL, "%s", why);
	/* Nothing was written by the refused charge. */
	struct tly_ledger_report rep;
	cr_assert_eq(tly_ledger_verify_file(path, pks[1], &rep), TLY_OK, "%s", rep.reason);
	cr_assert_eq(rep.entries, 1);
}

Test(handover, to_the_same_key_is_refused)
{
	struct tly_ledger *l = open_with(0);
	struct tly_ledger_key k;
	char why[256];

	cr_assert_eq(tly_ledger_handover(l, keys[0], &k, why, sizeof why), TLY_EINVAL);
	cr_assert(strstr(why, "the new key is the key in use") != NULL, "%s", why);
	tly_ledger_close(l);
}

/* Two rotations before any entry, the last one pending (no entry signed by
 * its key yet): both apply, in order. */
Test(handover, handovers_before_any_entry_and_at_the_end)
{
	struct tly_ledger_report rep;
	struct tly_ledger *l = open_with(0);

	hand_over(l, 1, 1);
	tly_ledger_close(l);
	l = open_with(1);
	hand_over(l, 2, 1);
	tly_ledger_close(l);
	cr_assert_eq(tly_ledger_verify_file(path, pks[2], &rep), TLY_OK, "%s", rep.reason);
	cr_assert_eq(rep.entries, 0);
	cr_assert_eq(rep.key_count, 3);
	l = open_with(2);
	charge(l, 1);
	tly_ledger_close(l);
	cr_assert_eq(tly_ledger_verify_file(path, pks[2], &rep), TLY_OK, "%s", rep.reason);
	cr_assert_eq(rep.entries, 1);
	verify_fails(1, 1, "is not this node key");
}

/* A handover row written by hand: `from` hands over to `to` at from_seq
 * with prev_hash, signed by the keys in signers (NULL: a zero signature). */
static void
forge(int from, int to, uint64_t from_seq, const uint8_t prev_hash[32],
      const struct tly_sign_key *old_signer, const struct tly_sign_key *new_signer)
{
	struct tly_sqlog_handover h = {.from_seq = from_seq, .time = 1};
	uint8_t message[TLY_SQLOG_HANDOVER_MESSAGE_BYTES];
	char hex[5][129], sql[1200];

	memcpy(h.prev_hash, prev_hash, 32);
	memcpy(h.old_pk, pks[from], 32);
	memcpy(h.new_pk, pks[to], 32);
	tly_sqlog_handover_message(message, &format, &h);
	if (old_signer != NULL)
		cr_assert_eq(tly_sign(h.old_signature, old_signer, message, sizeof message),
		             TLY_OK);
	if (new_signer != NULL)
		cr_assert_eq(tly_sign(h.new_signature, new_signer, message, sizeof message),
		             TLY_OK);
	sodium_bin2hex(hex[0], sizeof hex[0], h.prev_hash, 32);
	sodium_bin2hex(hex[1], sizeof hex[1], h.old_pk, 32);
	sodium_bin2hex(hex[2], sizeof hex[2], h.new_pk, 32);
	sodium_bin2hex(hex[3], sizeof hex[3], h.old_signature, 64);
	sodium_bin2hex(hex[4], sizeof hex[4], h.new_signature, 64);
	snprintf(sql, sizeof sql,
	         "INSERT INTO key_handovers (from_seq, time, prev_hash, old_pk, new_pk, "
	         "old_signature, new_signature) VALUES (%" PRIu64
	         ", 1, X'%s', X'%s', X'%s', X'%s', X'%s')",
	         from_seq, hex[0], hex[1], hex[2], hex[3], hex[4]);
	raw_sql(sql);
}

static void
entry_hash(uint64_t seq, uint8_t out[32])
{
	struct tly_ledger *l = NULL;
	struct tly_ledger_entry e;
	char why[200];

	cr_assert_eq(tly_ledger_open_readonly(&l, path, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_ledger_entry_get(l, seq, &e), TLY_OK);
	memcpy(out, e.entry_hash, 32);
	tly_ledger_close(l);
}

/* A thief who stole the old key after the rotation writes a handover
 * from it to the thief's key: the chain does not end on the node key, and
 * a verifier who took the thief's key for the node's is told the
 * handover's old key was no longer in force. */
Test(handover, a_stolen_retired_key_cannot_take_the_ledger)
{
	uint8_t head[32];

	rotated_ledger();
	entry_hash(3, head);
	forge(0, 2, 4, head, keys[0], keys[2]);
	verify_fails(1, 1, "is not this node key");
	verify_fails(2, 4, "its old key is not the key in force");
}

/* One entry under the old key, then a handover to key 2 signed by
 * old_signer and new_signer (NULL: a zero signature). */
static void
one_entry_and_a_handover_to_key_2(const struct tly_sign_key *old_signer,
                                  const struct tly_sign_key *new_signer)
{
	uint8_t head[32];
	struct tly_ledger *l = open_with(0);

	charge(l, 1);
	tly_ledger_close(l);
	entry_hash(1, head);
	forge(0, 2, 2, head, old_signer, new_signer);
}

/* Someone with a key of their own but not the node's (the old key's
 * signature missing) cannot hand the ledger to it. Mutant 42 removes this
 * check. */
Test(handover, a_handover_without_the_old_keys_signature_is_refused)
{
	one_entry_and_a_handover_to_key_2(NULL, keys[2]);
	verify_fails(2, 2, "the old key's signature does not verify");
}

/* The new key must sign too: a handover to a key nobody holds (or to
 * another node's key) is refused. */
Test(handover, a_handover_without_the_new_keys_signature_is_refused)
{
	one_entry_and_a_handover_to_key_2(keys[0], NULL);
	verify_fails(2, 2, "the new key's signature does not verify");
}

/* Two entries under the old key and a handover, signed by both keys,
 * that links to entry 1 and names from_seq. */
static void
two_entries_and_a_handover_linked_to_entry_1(uint64_t from_seq)
{
	uint8_t head[32];
	struct tly_ledger *l = open_with(0);

	charge(l, 1);
	charge(l, 2);
	tly_ledger_close(l);
	entry_hash(1, head);
	forge(0, 1, from_seq, head, keys[0], keys[1]);
}

/* Moved: the signed record names entry 2, the row entry 3 (the old key
 * would keep entry 2). Both the place and the signature catch it. */
Test(handover, a_handover_moved_to_another_entry_is_refused)
{
	two_entries_and_a_handover_linked_to_entry_1(2);
	raw_sql("DROP TRIGGER key_handovers_no_update; UPDATE key_handovers SET from_seq = 3");
	verify_fails(1, 3, "prev_hash is not the hash of the entry before it");
}

/* A handover signed by both keys but linked to another entry than the
 * one before it (a fork of the chain at the rotation). */
Test(handover, a_handover_linked_to_the_wrong_entry_is_refused)
{
	two_entries_and_a_handover_linked_to_entry_1(3);
	verify_fails(1, 3, "prev_hash is not the hash of the entry before it");
}

/* A handover for an entry that does not exist yet (from_seq past the
 * next one) is refused rather than left pending. */
Test(handover, a_handover_past_the_end_is_refused)
{
	uint8_t zeros[32] = {0};

	tly_ledger_close(open_with(0));
	forge(0, 1, 5, zeros, keys[0], keys[1]);
	verify_fails(1, 5, "past the ledger's end");
}

/* Deleting the handover (the file edited by hand): the new key's entries
 * belong to no key of the chain. And an entry after the handover signed
 * with the old key is named. */
Test(handover, removing_the_handover_or_signing_after_it_with_the_old_key_fails)
{
	rotated_ledger();
	raw_sql("DROP TRIGGER key_handovers_no_delete; DELETE FROM key_handovers");
	verify_fails(1, 1, "is not this node key");
	verify_fails(0, 3, "signature does not verify under the node key in force");
}

/* A ledger written before handovers existed has no key_handovers table:
 * it is read as it was, and its writer adds the table at open. */
Test(handover, a_ledger_from_before_handovers)
{
	struct tly_ledger_report rep;
	struct tly_ledger *l = open_with(0);

	charge(l, 1);
	tly_ledger_close(l);
	raw_sql("DROP TABLE key_handovers");
	cr_assert_eq(tly_ledger_verify_file(path, pks[0], &rep), TLY_OK, "%s", rep.reason);
	cr_assert_eq(rep.key_count, 1);
	l = open_with(0);
	hand_over(l, 1, 2);
	tly_ledger_close(l);
	cr_assert_eq(tly_ledger_verify_file(path, pks[1], &rep), TLY_OK, "%s", rep.reason);
	cr_assert_eq(rep.key_count, 2);
}

/* Handovers are append-only like the entries. */
Test(handover, handovers_are_append_only)
{
	sqlite3 *db = NULL;
	struct tly_ledger *l = open_with(0);

	hand_over(l, 1, 1);
	tly_ledger_close(l);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "UPDATE key_handovers SET time = 2", NULL, NULL, NULL),
	              SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "DELETE FROM key_handovers", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The signed bytes: domain, application id, from_seq, time, prev_hash,
 * old and new key, in that order (store/sqlog.h). */
Test(handover, message_layout)
{
	struct tly_sqlog_handover h = {.from_seq = 0x0102030405060708u,
	                               .time = 0x1112131415161718u};
	uint8_t m[TLY_SQLOG_HANDOVER_MESSAGE_BYTES];

	memset(h.prev_hash, 0xaa, 32);
	memset(h.old_pk, 0xbb, 32);
	memset(h.new_pk, 0xcc, 32);
	tly_sqlog_handover_message(m, &format, &h);
	cr_assert_eq(memcmp(m, "tally-key-handover-v1", 22), 0);
	cr_assert_eq(tly_load_be32(m + 22), (uint32_t)TLY_LEDGER_APPLICATION_ID);
	cr_assert_eq(tly_load_be64(m + 26), h.from_seq);
	cr_assert_eq(tly_load_be64(m + 34), h.time);
	cr_assert_eq(m[42], 0xaa);
	cr_assert_eq(m[74], 0xbb);
	cr_assert_eq(m[106], 0xcc);
	cr_assert_eq(m[sizeof m - 1], 0xcc);
}

/* At most TLY_LEDGER_KEYS_MAX keys per ledger (a registry lists at most
 * TLY_RETIRED_KEYS_MAX retired ones): the handover past that is named. */
Test(handover, more_handovers_than_a_registry_can_list_are_refused)
{
	struct tly_ledger *l = open_with(0);

	/* Back and forth between keys 0 and 1: each handover is sound. */
	for (int i = 0; i < TLY_LEDGER_KEYS_MAX; i++) {
		hand_over(l, 1 - i % 2, 1);
		tly_ledger_close(l);
		l = open_with(1 - i % 2);
	}
	tly_ledger_close(l);
	verify_fails(TLY_LEDGER_KEYS_MAX % 2 == 1 ? 1 : 0, 1, "more than 8 key handovers");
}

/* A row the CHECKs would have stopped (the table rebuilt without them):
 * named, not read past. */
Test(handover, a_malformed_handover_row_is_named)
{
	tly_ledger_close(open_with(0));
	raw_sql(
	    "DROP TABLE key_handovers;"
	    "CREATE TABLE key_handovers (id INTEGER PRIMARY KEY, from_seq INTEGER, time INTEGER,"
	    " prev_hash BLOB, old_pk BLOB, new_pk BLOB, old_signature BLOB,"
	    " new_signature BLOB);"
	    "INSERT INTO key_handovers VALUES (1, 1, 1, zeroblob(32), zeroblob(31), zeroblob(32),"
	    " zeroblob(64), zeroblob(64))");
	verify_fails(0, 1, "a key handover is malformed");
	struct tly_ledger *l = NULL;
	char why[256];
	/* The writer reads the key in force from the last new_pk (zeros here):
	 * not its key, refused. */
	cr_assert_eq(tly_ledger_open(&l, path, 3, keys[0], why, sizeof why), TLY_EAUTH, "%s", why);
	cr_assert(strstr(why, "another node signing key") != NULL, "%s", why);
}

/* A receipt in the log signed before a rotation verifies under the node's
 * retired key (query/receipt.h, tly_ledger_receipt_verify_logged: the
 * log's audit and the public feed's witness), and under no other. */
Test(handover, a_logged_receipt_verifies_under_a_retired_key)
{
	struct tly_ledger *l = open_with(0);
	struct tly_party node = {.id = 3};

	charge(l, 1);
	tly_ledger_close(l);
	memcpy(node.sign_pk, pks[1], TLY_SIGN_PUBLIC_BYTES);
	cr_assert_eq(tly_ledger_receipt_verify_logged(&last_receipt, &node), TLY_EAUTH);
	memcpy(node.retired_sign_pk[0], pks[2], TLY_SIGN_PUBLIC_BYTES);
	memcpy(node.retired_sign_pk[1], pks[0], TLY_SIGN_PUBLIC_BYTES);
	node.retired_count = 2;
	cr_assert_eq(tly_ledger_receipt_verify_logged(&last_receipt, &node), TLY_OK);
	node.retired_count = 1;
	cr_assert_eq(tly_ledger_receipt_verify_logged(&last_receipt, &node), TLY_EAUTH);
	memcpy(node.sign_pk, pks[0], TLY_SIGN_PUBLIC_BYTES);
	cr_assert_eq(tly_ledger_receipt_verify_logged(&last_receipt, &node), TLY_OK);
}
