/*
 * test_ledger_votes.c - one committee vote per query, across restarts
 * (node/ledger_votes.h): the record is durable, a second set is refused,
 * the same set again is accepted, and the table is append-only.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/sign.h"
#include "node/ledger.h"
#include "node/ledger_votes.h"

static char dir[64];
static char path[128];
static struct tly_sign_key *key;
static const uint8_t seed[TLY_SIGN_SEED_BYTES] = {7};

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	snprintf(dir, sizeof dir, "/tmp/tally-votes-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/ledger.db", dir);
	cr_assert_eq(tly_sign_key_alloc(&key, seed), TLY_OK);
}

static void
teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	char file[400];

	while (d != NULL && (ent = readdir(d)) != NULL) {
		if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
			snprintf(file, sizeof file, "%s/%s", dir, ent->d_name);
			unlink(file);
		}
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
	tly_sign_key_free(key);
	key = NULL;
}

TestSuite(ledger_votes, .init = setup, .fini = teardown);

static struct tly_ledger *
open_ledger(void)
{
	struct tly_ledger *l = NULL;
	char err[256];

	cr_assert_eq(tly_ledger_open(&l, path, 3, key, err, sizeof err), TLY_OK, "%s", err);
	return l;
}

/* The two-set attack across a restart: the member voted for S, restarts
 * (a new handle on the same file), and is asked to vote for S'. */
Test(ledger_votes, one_vote_per_query_survives_a_restart)
{
	uint8_t qid[TLY_QUERY_ID_BYTES] = {1, 2, 3}, other_qid[TLY_QUERY_ID_BYTES] = {9};
	uint8_t s[TLY_HASH_BYTES], s2[TLY_HASH_BYTES];
	struct tly_ledger *l = open_ledger();

	memset(s, 0x5a, sizeof s);
	memcpy(s2, s, sizeof s2);
	s2[31] ^= 1;
	cr_assert_eq(tly_ledger_vote_record(l, qid, 0, s), TLY_OK);
	cr_assert_eq(tly_ledger_vote_record(l, qid, 0, s), TLY_OK, "the same vote again");
	cr_assert_eq(tly_ledger_vote_record(l, qid, 1, s2), TLY_EPEER, "a second set");
	tly_ledger_close(l);

	l = open_ledger(); /* the restart */
	cr_assert_eq(tly_ledger_vote_record(l, qid, 1, s2), TLY_EPEER,
	             "a restarted member voted for a second set");
	cr_assert_eq(tly_ledger_vote_record(l, qid, 0, s), TLY_OK);
	cr_assert_eq(tly_ledger_vote_record(l, other_qid, 0, s2), TLY_OK, "another query");
	tly_ledger_close(l);

	/* Append-only: an operator's honest mistake is stopped. */
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "DELETE FROM member_votes", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "UPDATE member_votes SET attempt = 2", NULL, NULL, NULL),
	              SQLITE_OK);
	sqlite3_close(db);
}

/* The ledger's own entries are untouched by votes: it still verifies. */
Test(ledger_votes, votes_leave_the_ledger_verifiable)
{
	uint8_t qid[TLY_QUERY_ID_BYTES] = {4}, s[TLY_HASH_BYTES] = {0};
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_ledger_report report;
	struct tly_ledger *l = open_ledger();

	cr_assert_eq(tly_ledger_vote_record(l, qid, 0, s), TLY_OK);
	tly_ledger_public_key(l, pk);
	cr_assert_eq(tly_ledger_verify(l, pk, &report), TLY_OK, "%s", report.reason);
	tly_ledger_close(l);
}
