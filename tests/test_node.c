/*
 * The trust node through its own command, `tally-node`, on synthetic
 * trusts: a coordinator and committee members run in this process (the
 * protocol state machines), while every node answer is a real tally-node
 * process reading a real SQLite file and writing a real ledger.
 *
 * Checked: a full committee round reconstructs the truth within the noise;
 * replays and tampered or inconsistent QUERYs are refused and cost nothing;
 * the budget is enforced at the cap with exit code 3; the ledger verifies
 * and shows every decision; the per-person usage report; and processes
 * killed at random points never leave a ledger that under-counts.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "cli/synth.h"
#include "log_fixture.h"
#include "crypto/rng.h"
#include "node/ledger.h"
#include "node/node.h"
#include "protocol/committee.h"
#include "protocol/secagg.h"
#include "store/keys.h"
#include "query/noise.h"
#include "query/spec.h"
#include "store/head.h"
#include "tests/daemons.h"

extern char **environ;

enum { SITES = 3 };

static char dir[] = "/tmp/tally-node-test-XXXXXX";
static char bin[1024];
static struct tly_identity coordinator, nodes[SITES];
static struct tly_roster roster;
static struct tly_catalogue catalogue;

/* tally-node's step 1 (tly_node_read_query) and its answer from the
 * decoded query, from one QUERY message. */
static tly_err
answer_msg(struct tly_node *node, const uint8_t *msg, size_t len, struct tly_outbox *out,
           struct tly_ledger_receipt *receipt, char *why, size_t why_len)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	tly_err rv = tly_node_read_query(node, msg, len, query_id, &q, why, why_len);

	if (rv != TLY_OK)
		return rv;
	rv = tly_node_answer(node, query_id, &q, out, receipt, why, why_len);
	tly_query_fini(&q);
	return rv;
}

/* A member's state from the QUERY message, read once. */
static tly_err
member_from_msg(struct tly_committee_member **out, const struct tly_identity *self,
                const uint8_t *msg, size_t len)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	tly_err rv = tly_committee_read_query(&roster, self->id, msg, len, query_id, &q);

	if (rv != TLY_OK)
		return rv;
	rv = tly_committee_member_alloc(out, self, &roster, query_id, &q);
	tly_query_fini(&q);
	return rv;
}

static void path_of(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
path_of(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int used = snprintf(out, len, "%s/", dir);
	va_start(ap, fmt);
	vsnprintf(out + used, len - (size_t)used, fmt, ap);
	va_end(ap);
}

/* Run a program from build/bin with output to DIR/log; its exit code. */
static int
run(const char *const argv[])
{
	char program[1200], log[300];
	posix_spawn_file_actions_t actions;
	pid_t pid;
	int status;

	snprintf(program, sizeof program, "%s/%s", bin, argv[0]);
	path_of(log, sizeof log, "log");
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	cr_assert_eq(posix_spawn(&pid, program, &actions, NULL, (char *const *)argv, environ), 0,
	             "cannot run %s", program);
	posix_spawn_file_actions_destroy(&actions);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void
setup(void)
{
	char why[600], path[300], keys[300];
	struct tly_party parties[SITES];
	uint8_t cpk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_field_error err;

	cr_assert_eq(tly_crypto_init(), TLY_OK);
	const char *env = getenv("TALLY_BIN");
	snprintf(bin, sizeof bin, "%s", env != NULL ? env : "build/bin");
	cr_assert_not_null(mkdtemp(dir));
	struct tly_synth_options opt = {
	    .sites = SITES, .people = 6000, .seed = 11, .out_dir = dir, .quiet = 1};
	cr_assert_eq(tly_synth(&opt, why, sizeof why), TLY_OK, "%s", why);
	for (int i = 0; i < SITES; i++) {
		path_of(keys, sizeof keys, "site-%d/keys", i + 1);
		cr_assert_eq(
		    run((const char *const[]){"tally-node", "keygen", "--out", keys, NULL}), 0);
		char sign[400], kx[400];
		snprintf(sign, sizeof sign, "%s/node.sign", keys);
		snprintf(kx, sizeof kx, "%s/node.kx", keys);
		cr_assert_eq(
		    tly_identity_from_files(&nodes[i], (uint32_t)i + 1, sign, kx, why, sizeof why),
		    TLY_OK, "%s", why);
		tly_identity_public(&nodes[i], &parties[i]);
	}
	cr_assert_eq(tly_identity_generate(&coordinator, TLY_PARTY_COORDINATOR, 0), TLY_OK);
	tly_sign_key_public(coordinator.sign, cpk);
	cr_assert_eq(tly_roster_init(&roster, cpk, parties, SITES), TLY_OK);
	path_of(path, sizeof path, "registry.ini");
	cr_assert_eq(tly_registry_write(&roster, path, why, sizeof why), TLY_OK, "%s", why);
	const char *cat = tly_synth_catalogue();
	cr_assert_eq(tly_catalogue_parse(&catalogue, cat, strlen(cat), &err), TLY_OK, "%s",
	             err.reason);
}

static void
teardown(void)
{
	char cmd[300];
	tly_catalogue_fini(&catalogue);
	tly_roster_fini(&roster);
	tly_identity_fini(&coordinator);
	for (int i = 0; i < SITES; i++)
		tly_identity_fini(&nodes[i]);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(node, .init = setup, .fini = teardown, .timeout = 120);

/* The coordinator's side of a query: spec JSON -> QUERY fields. */
static void
make_query(struct tly_query *q, const char *json, char **canonical, uint32_t *ids,
           uint32_t *members)
{
	struct tly_spec spec;
	struct tly_field_error err;
	uint64_t l1, l2sq;

	cr_assert_eq(tly_spec_parse(&spec, &catalogue, json, strlen(json), &err), TLY_OK, "%s: %s",
	             err.field, err.reason);
	cr_assert_eq(tly_spec_canonical(&spec, &catalogue, canonical), TLY_OK);
	cr_assert_eq(tly_spec_sensitivity(&spec, &catalogue, &l1, &l2sq), TLY_OK);
	memset(q, 0, sizeof *q);
	cr_assert_eq(tly_spec_hash(&spec, &catalogue, q->query_hash), TLY_OK);
	q->protocol = TLY_PROTOCOL_COMMITTEE;
	q->mechanism = spec.mechanism;
	q->cells = (uint32_t)tly_spec_cells(&spec, &catalogue);
	q->privacy_num = spec.privacy_num;
	q->privacy_den = spec.privacy_den;
	q->sensitivity_l1 = l1;
	q->sensitivity_l2sq = l2sq;
	q->min_honest = 2;
	q->min_contributors = 3;
	q->threshold = 2;
	q->degree = SITES;
	q->quorum = 3;
	q->deadline_ms = 5000;
	for (uint32_t i = 0; i < SITES; i++)
		ids[i] = members[i] = i + 1;
	q->participants = (struct tly_idlist){SITES, ids};
	q->committee = (struct tly_idlist){SITES, members};
	q->spec_json = *canonical;
	q->spec_len = (uint32_t)strlen(*canonical);
	tly_spec_fini(&spec);
}

/* The transparency log the test coordinator commits each query to. */
static struct test_log query_log;
/* The signed head the last QUERY start_query wrote carries. */
static struct tly_tree_head last_head;

/* Start a query at the coordinator and write its QUERY message to a file. */
static struct tly_committee_coord *
start_query(const struct tly_query *q, const char *msg_path, uint8_t query_id[16])
{
	struct tly_committee_coord *coord;
	struct tly_outbox box;
	struct tly_rng rng;
	struct tly_query logged = *q;

	tly_rng_init(&rng);
	tly_rng_bytes(&rng, query_id, TLY_QUERY_ID_BYTES);
	test_log_commit(&query_log, coordinator.sign, query_id, &logged);
	struct tly_log_commit *c = malloc(sizeof *c);
	cr_assert_not_null(c);
	cr_assert_eq(tly_log_commit_decode(c, logged.log_commit, logged.log_commit_len), TLY_OK);
	last_head = c->head;
	free(c);
	tly_outbox_init(&box);
	cr_assert_eq(
	    tly_committee_coord_alloc(&coord, &coordinator, &roster, &logged, query_id, &box),
	    TLY_OK);
	free(logged.log_commit);
	cr_assert_geq(box.count, 1);
	FILE *f = fopen(msg_path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(box.items[0].data, 1, box.items[0].len, f), box.items[0].len);
	fclose(f);
	tly_outbox_fini(&box);
	return coord;
}

static int
answer(int site, const char *msg_path, const char *out)
{
	char conf[300];
	path_of(conf, sizeof conf, "site-%d/node.conf", site);
	return run((const char *const[]){"tally-node", "answer", "--config", conf, "--query",
	                                 msg_path, "--out", out, NULL});
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	uint8_t *data = malloc(TLY_MAX_MESSAGE_BYTES);
	cr_assert_not_null(data);
	*len = fread(data, 1, TLY_MAX_MESSAGE_BYTES, f);
	fclose(f);
	return data;
}

static long
truth_cell(const char *query_name, size_t index)
{
	char path[300];
	size_t len;
	path_of(path, sizeof path, "truth.json");
	char *text = (char *)slurp(path, &len);
	cr_assert_not_null(text);
	text[len] = '\0';
	const char *p = strstr(text, query_name);
	cr_assert_not_null(p);
	for (size_t i = 0; i <= index; i++) {
		p = strstr(p, "\"value\": ");
		cr_assert_not_null(p);
		p += 9;
	}
	long v = strtol(p, NULL, 10);
	free(text);
	return v;
}

static const char diabetes_json[] =
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
    " \"where\": [{\"column\": \"has_diabetes\", \"op\": \"=\", \"value\": 1}],"
    " \"group_by\": [\"age_band\", \"sex\"],"
    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 2}}";

/* The receipt a site wrote to out verifies under the node's key and, like
 * the signed ledger entry, carries the head the QUERY came with (verified
 * before the charge); a changed receipt does not verify. */
static void
check_receipt(int site, const char *out, const uint8_t qid[16])
{
	char receipt_path[400], db_path[300];
	size_t rlen;
	struct tly_ledger_receipt receipt;
	struct tly_ledger *l = NULL;
	char lerr[256];
	struct tly_ledger_entry entry;

	snprintf(receipt_path, sizeof receipt_path, "%s/receipt.bin", out);
	uint8_t *rbytes = slurp(receipt_path, &rlen);
	cr_assert_not_null(rbytes);
	cr_assert_eq(tly_ledger_receipt_decode(&receipt, rbytes, rlen), TLY_OK);
	cr_assert_eq(tly_ledger_receipt_verify(&receipt, roster.parties[site - 1].sign_pk), TLY_OK);
	cr_assert_arr_eq(receipt.query_id, qid, 16);
	cr_assert_eq(receipt.log_head.size, last_head.size);
	cr_assert_arr_eq(receipt.log_head.root, last_head.root, 32);
	cr_assert_arr_eq(receipt.log_head.signature, last_head.signature, 64);
	path_of(db_path, sizeof db_path, "site-%d/state/ledger.db", site);
	cr_assert_eq(tly_ledger_open_readonly(&l, db_path, lerr, sizeof lerr), TLY_OK, "%s", lerr);
	cr_assert_eq(tly_ledger_entry_get(l, receipt.seq, &entry), TLY_OK);
	cr_assert_eq(entry.log_head.size, last_head.size);
	cr_assert_arr_eq(entry.log_head.root, last_head.root, 32);
	tly_ledger_close(l);
	rbytes[rlen / 2] ^= 1;
	if (tly_ledger_receipt_decode(&receipt, rbytes, rlen) == TLY_OK)
		cr_assert_neq(tly_ledger_receipt_verify(&receipt, roster.parties[site - 1].sign_pk),
		              TLY_OK, "a changed receipt still verifies");
	free(rbytes);
}

/* tally-node answers the QUERY at msg_path for this site; its shares go to
 * the coordinator, whose messages land in box. */
static void
answer_site(int site, const char *msg_path, const uint8_t qid[16],
            struct tly_committee_coord *coord, struct tly_outbox *box)
{
	char out[300];

	path_of(out, sizeof out, "out-%d", site);
	cr_assert_eq(answer(site, msg_path, out), 0, "site %d refused", site);
	for (int k = 1; k <= SITES; k++) {
		char share[400];
		size_t slen;
		snprintf(share, sizeof share, "%s/share-%d.msg", out, k);
		uint8_t *bytes = slurp(share, &slen);
		cr_assert_not_null(bytes, "%s missing", share);
		cr_assert_eq(tly_committee_coord_receive(coord, bytes, slen, box), TLY_OK);
		free(bytes);
	}
	check_receipt(site, out, qid);
}

/* Relay the shares to the members, announce, collect the votes, send the
 * certificate, collect share-sums. */
static void
relay_rounds(struct tly_committee_coord *coord, struct tly_committee_member *m[SITES],
             struct tly_outbox *box)
{
	for (int rounds = 0; rounds < 5; rounds++) {
		struct tly_outbox next;
		tly_outbox_init(&next);
		for (size_t i = 0; i < box->count; i++) {
			uint32_t to = box->items[i].to;
			tly_err rv = TLY_OK;
			if (to >= 1 && to <= SITES)
				rv = tly_committee_member_receive(m[to - 1], box->items[i].data,
				                                  box->items[i].len, &next);
			else if (to == TLY_PARTY_COORDINATOR)
				rv = tly_committee_coord_receive(coord, box->items[i].data,
				                                 box->items[i].len, &next);
			/* Share-sums after the total is known are normal. */
			cr_assert(rv == TLY_OK || rv == TLY_ESTATE, "round %d: %s", rounds,
			          tly_strerror(rv));
		}
		tly_outbox_fini(box);
		*box = next;
		if (rounds == 0)
			cr_assert_eq(tly_committee_coord_close_round(coord, box), TLY_OK);
	}
}

/* Every site contributed, and each cell is within the noise of the truth. */
static void
check_result(struct tly_committee_coord *coord)
{
	struct tly_committee_result result;

	cr_assert_eq(tly_committee_coord_result(coord, &result), TLY_OK);
	cr_assert_eq(result.contributors.count, SITES);
	cr_assert_eq(result.d, 10);
	/* Noise: alpha = e^-2 per cell, 3 shares of NB(1/2): sd about 0.74;
	 * 8 is more than ten standard deviations. */
	for (size_t c = 0; c < result.d; c++) {
		long truth = truth_cell("diabetes_by_age_sex.json", c);
		cr_assert_leq(labs(result.cells[c] - truth), 8, "cell %zu: %lld vs truth %ld", c,
		              (long long)result.cells[c], truth);
	}
	tly_committee_result_fini(&result);
}

Test(node, committee_round_through_tally_node_matches_truth)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];
	struct tly_committee_member *m[SITES];
	struct tly_outbox box;
	size_t len;

	make_query(&q, diabetes_json, &canonical, ids, members);
	path_of(msg_path, sizeof msg_path, "query.msg");
	struct tly_committee_coord *coord = start_query(&q, msg_path, qid);
	uint8_t *query_msg = slurp(msg_path, &len);
	for (int i = 0; i < SITES; i++)
		cr_assert_eq(member_from_msg(&m[i], &nodes[i], query_msg, len), TLY_OK);
	tly_outbox_init(&box);
	for (int site = 1; site <= SITES; site++)
		answer_site(site, msg_path, qid, coord, &box);
	relay_rounds(coord, m, &box);
	check_result(coord);
	tly_outbox_fini(&box);
	for (int i = 0; i < SITES; i++)
		tly_committee_member_free(m[i]);
	tly_committee_coord_free(coord);
	free(query_msg);

	/* The same QUERY again: a replay, refused with exit 3, charged once. */
	path_of(out, sizeof out, "out-again");
	cr_assert_eq(answer(1, msg_path, out), 3);
	char conf[300];
	path_of(conf, sizeof conf, "site-1/node.conf");
	cr_assert_eq(
	    run((const char *const[]){"tally-node", "ledger", "verify", "--config", conf, NULL}),
	    0);
	free(canonical);
}

Test(node, refuses_tampered_and_inconsistent_queries_without_charging)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], conf[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];
	size_t len;

	make_query(&q, diabetes_json, &canonical, ids, members);
	path_of(msg_path, sizeof msg_path, "query.msg");
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	uint8_t *msg = slurp(msg_path, &len);
	msg[len - 70] ^= 0x01; /* inside the log section: the signature no longer holds */
	FILE *f = fopen(msg_path, "wb");
	fwrite(msg, 1, len, f);
	fclose(f);
	free(msg);
	path_of(out, sizeof out, "out-tampered");
	int rc = answer(1, msg_path, out);
	cr_assert(rc != 0, "tampered QUERY answered");

	/* Cells that disagree with the spec: the node recomputes and refuses. */
	q.cells = 5;
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(1, msg_path, out), 2);
	q.cells = 10;
	q.sensitivity_l1 = 2;
	q.sensitivity_l2sq = 4;
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(1, msg_path, out), 2);
	/* Local policy: fewer contributors than the node requires (3). */
	q.sensitivity_l1 = q.sensitivity_l2sq = 1;
	q.min_contributors = 2;
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(1, msg_path, out), 3);
	cr_assert_eq(access(out, F_OK), -1, "no output for refused queries");

	/* Nothing was charged: no charge entries in the ledger. */
	path_of(conf, sizeof conf, "site-1/state/ledger.db");
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open_v2(conf, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM entries WHERE kind = 1", -1, &st, NULL) ==
	        SQLITE_OK) {
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
		cr_assert_eq(sqlite3_column_int(st, 0), 0, "a refused query was charged");
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	free(canonical);
}

Test(node, budget_is_enforced_at_the_cap_and_the_ledger_shows_it)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], conf[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];

	/* epsilon 2 per query against a total of 20: ten answers, then no more. */
	make_query(&q, diabetes_json, &canonical, ids, members);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-budget");
	for (int i = 0; i < 10; i++) {
		tly_committee_coord_free(start_query(&q, msg_path, qid));
		cr_assert_eq(answer(2, msg_path, out), 0, "answer %d of 10", i + 1);
	}
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(2, msg_path, out), 3, "over the total budget");
	path_of(conf, sizeof conf, "site-2/node.conf");
	cr_assert_eq(
	    run((const char *const[]){"tally-node", "ledger", "verify", "--config", conf, NULL}),
	    0);
	cr_assert_eq(run((const char *const[]){"tally-node", "ledger", "show", "--config", conf,
	                                       "--format", "csv", NULL}),
	             0);
	/* Tampering with the ledger file is caught. */
	char db_path[300];
	sqlite3 *db;
	path_of(db_path, sizeof db_path, "site-2/state/ledger.db");
	cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
	                          "DROP TRIGGER IF EXISTS entries_no_update;"
	                          "UPDATE entries SET amount_num = 1 WHERE seq = 3",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	cr_assert_eq(
	    run((const char *const[]){"tally-node", "ledger", "verify", "--config", conf, NULL}),
	    1);
	free(canonical);
}

/* ---- the order of charge and read, watched from inside SQLite ---- */

/* Every SQLite connection this process opens from here on (the node's
 * data store among them) reports each statement it starts; the one whose
 * text is the node's evaluation SQL for the watched query is the node
 * reading rows. At that moment a connection of our own counts the charges
 * the ledger holds, committed, for the query; with watch.fail set, the
 * read is interrupted, so the evaluation fails after the charge. */
static struct {
	char *eval_sql;   /* tly_eval_sql of the watched spec */
	char ledger[300]; /* the node's ledger file */
	uint8_t qid[TLY_QUERY_ID_BYTES];
	int fail;             /* interrupt the read */
	int reads;            /* times the evaluation started */
	long charged_at_read; /* committed charges for qid then; -1 none */
} watch;

static long
committed_charges(const char *ledger, const uint8_t qid[TLY_QUERY_ID_BYTES])
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long n = -1;

	if (sqlite3_open_v2(ledger, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM entries WHERE kind = 1 AND query_id = ?",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_blob(st, 1, qid, TLY_QUERY_ID_BYTES, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = (long)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

static int
on_statement(unsigned type, void *db, void *stmt, void *text)
{
	(void)stmt;
	if (type != SQLITE_TRACE_STMT || watch.eval_sql == NULL ||
	    strcmp((const char *)text, watch.eval_sql) != 0)
		return 0;
	watch.reads++;
	watch.charged_at_read = committed_charges(watch.ledger, watch.qid);
	if (watch.fail)
		sqlite3_interrupt(db);
	return 0;
}

static int
watch_connection(sqlite3 *db, const char **err, const struct sqlite3_api_routines *api)
{
	(void)err;
	(void)api;
	return sqlite3_trace_v2(db, SQLITE_TRACE_STMT, on_statement, db);
}

/* Site 1's node, opened in this process with every SQLite connection
 * from here on watched (watch_connection); watched_node_close undoes it. */
static void
watched_node_open(struct tly_node *node)
{
	char conf[300], why[600];

	cr_assert_eq(sqlite3_auto_extension((void (*)(void))watch_connection), SQLITE_OK);
	path_of(conf, sizeof conf, "site-1/node.conf");
	cr_assert_eq(tly_node_open(node, conf, why, sizeof why), TLY_OK, "%s", why);
	path_of(watch.ledger, sizeof watch.ledger, "site-1/state/ledger.db");
}

static void
watched_node_close(struct tly_node *node)
{
	tly_node_close(node);
	sqlite3_reset_auto_extension();
	free(watch.eval_sql);
	watch.eval_sql = NULL;
}

/* Answer a fresh QUERY for spec json in the in-process node, watching for
 * its evaluation; the outcome, with out's messages counted in *shares. */
static tly_err
watched_answer(struct tly_node *node, const char *json, size_t *shares, char *why, size_t why_len)
{
	struct tly_query q;
	struct tly_spec spec;
	struct tly_field_error serr;
	struct tly_outbox out;
	struct tly_ledger_receipt receipt;
	char *canonical, msg_path[300];
	uint32_t ids[SITES], members[SITES];
	size_t len;

	make_query(&q, json, &canonical, ids, members);
	cr_assert_eq(tly_spec_parse(&spec, &node->catalogue, canonical, strlen(canonical), &serr),
	             TLY_OK, "%s", serr.reason);
	free(watch.eval_sql);
	cr_assert_eq(tly_eval_sql(&node->config.datasets[spec.dataset], &spec, &watch.eval_sql),
	             TLY_OK);
	tly_spec_fini(&spec);
	path_of(msg_path, sizeof msg_path, "watched.msg");
	tly_committee_coord_free(start_query(&q, msg_path, watch.qid));
	uint8_t *msg = slurp(msg_path, &len);
	cr_assert_not_null(msg);
	watch.reads = 0;
	watch.charged_at_read = -1;
	tly_outbox_init(&out);
	tly_err rv = answer_msg(node, msg, len, &out, &receipt, why, why_len);
	*shares = out.count;
	tly_outbox_fini(&out);
	free(msg);
	free(canonical);
	return rv;
}

/* Step 4 before step 5: the charge is committed to the ledger before the
 * node reads a single row for the answer -- also when the read then fails
 * (the charge stands) -- and a query refused for budget never reads the
 * data at all. Seen from SQLite itself, not from the node's own account. */
Test(node, the_charge_is_durable_before_any_row_is_read)
{
	struct tly_node node;
	char why[600];
	size_t shares;

	watched_node_open(&node);

	/* An answer: one read, and the charge was already there. */
	cr_assert_eq(watched_answer(&node, diabetes_json, &shares, why, sizeof why), TLY_OK, "%s",
	             why);
	cr_assert_eq(watch.reads, 1, "the evaluation ran once");
	cr_assert_eq(watch.charged_at_read, 1, "charged before the first row was read");
	cr_assert_eq(shares, SITES);

	/* The read fails after the charge: the charge stands, nothing sent. */
	watch.fail = 1;
	tly_err rv = watched_answer(&node, diabetes_json, &shares, why, sizeof why);
	watch.fail = 0;
	cr_assert_eq(rv, TLY_EINVAL, "%s", why);
	cr_assert_str_eq(why, TLY_NODE_EVAL_FAILED);
	cr_assert_eq(watch.reads, 1);
	cr_assert_eq(watch.charged_at_read, 1, "charged before the read that failed");
	cr_assert_eq(committed_charges(watch.ledger, watch.qid), 1, "and it stays charged");
	cr_assert_eq(shares, 0);

	/* Spend the rest (epsilon 2 each, 20 in all), then a refusal for
	 * budget: the data is never read, nothing is charged or sent. */
	for (int i = 2; i < 10; i++)
		cr_assert_eq(watched_answer(&node, diabetes_json, &shares, why, sizeof why), TLY_OK,
		             "answer %d: %s", i + 1, why);
	cr_assert_eq(watched_answer(&node, diabetes_json, &shares, why, sizeof why), TLY_EBUDGET,
	             "%s", why);
	cr_assert_eq(watch.reads, 0, "a query refused for budget read the data");
	cr_assert_eq(committed_charges(watch.ledger, watch.qid), 0);
	cr_assert_eq(shares, 0);

	watched_node_close(&node);
}

/* A node that is on the committee but not among the query's participants
 * (a coordinator asking it for data it did not select it to give) refuses
 * before the charge: nothing charged, no row read, nothing sent. The
 * node's own minimum is lowered to the query's two participants so that
 * only the participant check stands in the way. */
Test(node, a_query_this_node_is_not_in_is_refused_before_the_charge)
{
	struct tly_node node;
	struct tly_query q;
	struct tly_outbox out;
	struct tly_ledger_receipt receipt;
	char *canonical, msg_path[300], why[600];
	uint32_t ids[SITES], members[SITES];
	size_t len;

	watched_node_open(&node);
	node.config.min_contributors = 2;

	make_query(&q, diabetes_json, &canonical, ids, members);
	struct tly_spec spec;
	struct tly_field_error serr;
	cr_assert_eq(tly_spec_parse(&spec, &node.catalogue, canonical, strlen(canonical), &serr),
	             TLY_OK);
	cr_assert_eq(tly_eval_sql(&node.config.datasets[spec.dataset], &spec, &watch.eval_sql),
	             TLY_OK);
	tly_spec_fini(&spec);
	/* Participants 2 and 3; the committee is still 1, 2, 3. */
	q.participants = (struct tly_idlist){2, ids + 1};
	q.min_contributors = 2;
	path_of(msg_path, sizeof msg_path, "not-in.msg");
	tly_committee_coord_free(start_query(&q, msg_path, watch.qid));
	uint8_t *msg = slurp(msg_path, &len);
	cr_assert_not_null(msg);
	watch.reads = 0;
	tly_outbox_init(&out);
	tly_err rv = answer_msg(&node, msg, len, &out, &receipt, why, sizeof why);
	cr_assert_eq(rv, TLY_EPEER, "%s: %s", tly_strerror(rv), why);
	cr_assert(strstr(why, "not a participant") != NULL, "%s", why);
	cr_assert_eq(watch.reads, 0, "a node outside the query read its data");
	cr_assert_eq(committed_charges(watch.ledger, watch.qid), 0, "and charged it");
	cr_assert_eq(out.count, 0);
	tly_outbox_fini(&out);
	free(msg);
	free(canonical);
	watched_node_close(&node);
}

/* The QUERY's numbers are the node's own reading of its spec: a QUERY that
 * names another mechanism than its spec (Laplace noise for a Gaussian
 * spec) is refused before the charge, reading nothing. (A noise-free
 * QUERY cannot be built here: the coordinator's side refuses it.) */
Test(node, a_query_whose_mechanism_is_not_its_specs_is_refused_before_the_charge)
{
	static const char gaussian_json[] =
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
	    " \"group_by\": [\"sex\"], \"privacy\": {\"mechanism\": \"gaussian\", \"rho\": 0.5}}";
	static const uint8_t others[] = {TLY_MECH_LAPLACE};
	struct tly_node node;
	char msg_path[300], why[600];

	watched_node_open(&node);
	for (size_t i = 0; i < sizeof others; i++) {
		struct tly_query q;
		struct tly_outbox out;
		struct tly_ledger_receipt receipt;
		char *canonical;
		uint32_t ids[SITES], members[SITES];
		size_t len;

		make_query(&q, gaussian_json, &canonical, ids, members);
		q.mechanism = others[i];
		path_of(msg_path, sizeof msg_path, "mechanism.msg");
		tly_committee_coord_free(start_query(&q, msg_path, watch.qid));
		uint8_t *msg = slurp(msg_path, &len);
		cr_assert_not_null(msg);
		watch.reads = 0;
		tly_outbox_init(&out);
		tly_err rv = answer_msg(&node, msg, len, &out, &receipt, why, sizeof why);
		cr_assert_neq(rv, TLY_OK, "mechanism %u for a Gaussian spec answered", others[i]);
		cr_assert_eq(committed_charges(watch.ledger, watch.qid), 0, "mechanism %u: charged",
		             others[i]);
		cr_assert_eq(out.count, 0);
		tly_outbox_fini(&out);
		free(msg);
		free(canonical);
	}
	cr_assert_eq(watch.reads, 0, "a refused query read the data");
	watched_node_close(&node);
}

/* Set "max_min_honest = N" in a site's node.conf (synth writes 10). */
static void
set_h_cap(int site, const char *value)
{
	char conf[300], cmd[800];

	path_of(conf, sizeof conf, "site-%d/node.conf", site);
	snprintf(cmd, sizeof cmd, "sed -i 's/^max_min_honest = .*/max_min_honest = %s/' %s", value,
	         conf);
	cr_assert_eq(system(cmd), 0);
}

/* The node caps h: a coordinator that raises min_honest would shrink each
 * node's noise share to 1/h of the target. Refused before any charge. */
Test(node, min_honest_above_the_node_cap_is_refused_without_charging)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], log[300], db_path[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];
	size_t len;

	set_h_cap(3, "2");
	make_query(&q, diabetes_json, &canonical, ids, members);
	q.min_honest = 3;
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-h");
	path_of(log, sizeof log, "log");
	truncate(log, 0);
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(3, msg_path, out), 3, "h = 3 over the cap 2");
	cr_assert_eq(access(out, F_OK), -1, "no output for a refused query");
	char *text = (char *)slurp(log, &len);
	text[len] = '\0';
	cr_assert(strstr(text, "min_honest 3") && strstr(text, "max_min_honest 2"), "%s", text);
	free(text);
	/* nothing charged, not even a refusal entry: a policy refusal */
	path_of(db_path, sizeof db_path, "site-3/state/ledger.db");
	sqlite3 *db;
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM entries", -1, &st, NULL),
	             SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(st, 0), 0, "a refused query was charged");
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* at the cap it is answered (and charged) */
	q.min_honest = 2;
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(3, msg_path, out), 0, "h = 2 at the cap");
	free(canonical);
}

Test(node, usage_report_names_the_queries_a_person_was_in)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], conf[300], db_path[300], log[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];
	char diabetic[64] = "", other[64] = "";
	sqlite3 *db;
	sqlite3_stmt *st;

	make_query(&q, diabetes_json, &canonical, ids, members);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-usage");
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(3, msg_path, out), 0);

	path_of(db_path, sizeof db_path, "site-3/patients.db");
	cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_prepare_v2(db,
	                       "SELECT person_id, has_diabetes FROM patients WHERE opted_out = 0 "
	                       "ORDER BY has_diabetes DESC",
	                       -1, &st, NULL),
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char *target = sqlite3_column_int(st, 1) ? diabetic : other;
		if (target[0] == '\0')
			snprintf(target, 64, "%s", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	cr_assert(diabetic[0] && other[0]);

	path_of(conf, sizeof conf, "site-3/node.conf");
	path_of(log, sizeof log, "log");
	truncate(log, 0);
	cr_assert_eq(run((const char *const[]){"tally-node", "usage-report", "--config", conf,
	                                       "--person", diabetic, NULL}),
	             0);
	size_t len;
	char *text = (char *)slurp(log, &len);
	text[len] = '\0';
	cr_assert(strstr(text, "1 of 1 answered queries used") != NULL, "%s", text);
	free(text);
	truncate(log, 0);
	cr_assert_eq(run((const char *const[]){"tally-node", "usage-report", "--config", conf,
	                                       "--person", other, NULL}),
	             0);
	text = (char *)slurp(log, &len);
	text[len] = '\0';
	cr_assert(strstr(text, "0 of 1 answered queries used") != NULL, "%s", text);
	free(text);
	free(canonical);
}

/* The report's text for one usage-report run: its exit code in *rc. */
static char *
usage_report(const char *conf, const char *person, const char *dataset, int *rc)
{
	char log[300];
	size_t len;

	path_of(log, sizeof log, "log");
	truncate(log, 0);
	if (dataset != NULL)
		*rc = run((const char *const[]){"tally-node", "usage-report", "--config", conf,
		                                "--person", person, "--dataset", dataset, NULL});
	else
		*rc = run((const char *const[]){"tally-node", "usage-report", "--config", conf,
		                                "--person", person, NULL});
	char *text = (char *)slurp(log, &len);
	text[len] = '\0';
	return text;
}

/* Issue 15: an id no row holds is "no such person" (exit 2, the id and
 * the dataset named, nothing of the ledger said), while a known person,
 * opted out or not, is reported with the charge as a decimal. */
Test(node, usage_report_for_an_unknown_person_says_so)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], conf[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];
	int rc;

	make_query(&q, diabetes_json, &canonical, ids, members);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-usage");
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(3, msg_path, out), 0);
	path_of(conf, sizeof conf, "site-3/node.conf");

	char *text = usage_report(conf, "no-such-id-42", NULL, &rc);
	cr_assert_eq(rc, 2, "%s", text);
	cr_assert_str_eq(text,
	                 "tally-node: no such person: \"no-such-id-42\" in any dataset of this "
	                 "node\n");
	free(text);
	text = usage_report(conf, "no-such-id-42", "patients", &rc);
	cr_assert_eq(rc, 2, "%s", text);
	cr_assert_str_eq(text, "tally-node: no such person: \"no-such-id-42\" in dataset "
	                       "\"patients\"\n");
	free(text);
	text = usage_report(conf, "no-such-id-42", "nosuch", &rc);
	cr_assert_eq(rc, 2, "%s", text);
	cr_assert(strstr(text, "no dataset \"nosuch\"") != NULL, "%s", text);
	free(text);

	/* Known people: one opted out (its row exists), one with diabetes. */
	char opted[64] = "", diabetic[64] = "", db_path[300];
	sqlite3 *db;
	sqlite3_stmt *st;
	path_of(db_path, sizeof db_path, "site-3/patients.db");
	cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db,
	                                "SELECT person_id, opted_out FROM patients WHERE "
	                                "opted_out = 1 OR has_diabetes = 1",
	                                -1, &st, NULL),
	             SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char *target = sqlite3_column_int(st, 1) ? opted : diabetic;
		if (target[0] == '\0')
			snprintf(target, 64, "%s", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	cr_assert(opted[0] && diabetic[0]);
	text = usage_report(conf, opted, "patients", &rc);
	cr_assert_eq(rc, 0, "%s", text);
	cr_assert(strstr(text, "0 of 1 answered queries used") != NULL, "%s", text);
	free(text);
	text = usage_report(conf, diabetic, NULL, &rc);
	cr_assert_eq(rc, 0, "%s", text);
	cr_assert(strstr(text, "  epsilon 2  {") != NULL, "%s", text);
	cr_assert(strstr(text, "1 of 1 answered queries used") != NULL, "%s", text);
	free(text);
	free(canonical);
}

/* A node killed at random points while answering: the ledger always
 * verifies, and every answer whose receipt reached the disk is charged. */
Test(node, killed_answers_never_undercount_the_ledger)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], conf[300], program[1200];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];
	struct timespec seed_time;
	int kills = 0, completed = 0;

	clock_gettime(CLOCK_MONOTONIC, &seed_time);
	srand((unsigned)seed_time.tv_nsec);
	/* A small epsilon so that the budget lasts through every attempt. */
	const char *json = "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
	                   " \"group_by\": [\"sex\"],"
	                   " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 0.01}}";
	make_query(&q, json, &canonical, ids, members);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(conf, sizeof conf, "site-1/node.conf");
	snprintf(program, sizeof program, "%s/tally-node", bin);
	/* One whole answer first, so that the ledger exists. */
	path_of(out, sizeof out, "kill-first");
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(answer(1, msg_path, out), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Kill anywhere in 1.3 times a whole answer: before, during and after
	 * the ledger commit and the writing of shares. */
	long window_us =
	    ((t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000) * 13 / 10;
	int shares_seen = 0;
	/* At least 40 attempts, and on until 10 kills have landed mid-answer
	 * (at most 400): under load one answer's time says little about the
	 * next, so a kill that came after the answer finished shrinks the
	 * window by a quarter, and the count does not hang on the machine. */
	for (int attempt = 0; attempt < 400 && (attempt < 40 || kills < 10 || shares_seen < 1);
	     attempt++) {
		path_of(out, sizeof out, "kill-%d", attempt);
		tly_committee_coord_free(start_query(&q, msg_path, qid));
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, 1);
			dup2(null, 2);
			execl(program, "tally-node", "answer", "--config", conf, "--query",
			      msg_path, "--out", out, (char *)NULL);
			_exit(127);
		}
		long wait_us = rand() % (window_us + 1);
		struct timespec pause = {wait_us / 1000000, (wait_us % 1000000) * 1000};
		nanosleep(&pause, NULL);
		int status;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (WIFSIGNALED(status))
			kills++;
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			completed++;
		if (!WIFSIGNALED(status) && window_us > 1000)
			window_us = window_us * 3 / 4;

		/* The chain verifies after every kill... */
		cr_assert_eq(run((const char *const[]){"tally-node", "ledger", "verify", "--config",
		                                       conf, NULL}),
		             0, "ledger broken after attempt %d", attempt);
		/* ...and if shares may have left (any share file exists), the
		 * query is charged. */
		char share[400];
		snprintf(share, sizeof share, "%s/share-1.msg", out);
		if (access(share, F_OK) == 0) {
			shares_seen++;
			char db_path[300];
			sqlite3 *db;
			sqlite3_stmt *st;
			path_of(db_path, sizeof db_path, "site-1/state/ledger.db");
			cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL),
			             SQLITE_OK);
			cr_assert_eq(
			    sqlite3_prepare_v2(db,
			                       "SELECT COUNT(*) FROM entries WHERE kind = 1 AND "
			                       "query_id = ?",
			                       -1, &st, NULL),
			    SQLITE_OK);
			sqlite3_bind_blob(st, 1, qid, 16, SQLITE_STATIC);
			cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
			cr_assert_eq(sqlite3_column_int(st, 0), 1,
			             "shares written for a query the ledger does not charge");
			sqlite3_finalize(st);
			sqlite3_close(db);
		}
	}
	cr_log_info("%d kills, %d completed answers, %d with shares on disk (window %ld us)", kills,
	            completed, shares_seen, window_us);
	cr_assert_geq(kills, 10, "too few kills landed mid-answer (%d)", kills);
	cr_assert_geq(shares_seen, 1, "no attempt got as far as writing shares");
	free(canonical);
}

static int
charges_in(const char *ledger_db)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;
	cr_assert_eq(sqlite3_open_v2(ledger_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM entries WHERE kind = 1", -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
data_sql(int site, const char *sql)
{
	char path[300];
	sqlite3 *db;
	path_of(path, sizeof path, "site-%d/patients.db", site);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* A fresh query id for q, the QUERY message in memory. */
static uint8_t *
query_message(const struct tly_query *q, size_t *len)
{
	char msg_path[300];
	uint8_t qid[16];
	path_of(msg_path, sizeof msg_path, "query.msg");
	tly_committee_coord_free(start_query(q, msg_path, qid));
	return slurp(msg_path, len);
}

/* What a refusal carries to the coordinator (and into its public log) is
 * the same whatever the data holds: no digit at all, so no count. */
static void
assert_data_free(const char *why)
{
	cr_assert_str_eq(why, TLY_NODE_DATA_REFUSED);
	for (const char *p = why; *p != '\0'; p++)
		cr_assert(*p < '0' || *p > '9', "a figure in the refusal: %s", why);
}

/* One row per person is checked again when the data file changes under a
 * running node (another connection inserts duplicates): the next query is
 * refused before the charge, with a text that carries nothing read from
 * the data; the count stays in the trust's own note. Fixed again, the node
 * answers again. */
Test(node, data_changes_are_rechecked_and_refusals_carry_no_data)
{
	struct tly_node node;
	struct tly_query q;
	struct tly_outbox box;
	struct tly_ledger_receipt receipt;
	char *canonical, conf[300], ledger[300], why[600];
	uint32_t ids[SITES], members[SITES];
	uint8_t *msg;
	size_t len;

	make_query(&q, diabetes_json, &canonical, ids, members);
	path_of(conf, sizeof conf, "site-3/node.conf");
	path_of(ledger, sizeof ledger, "site-3/state/ledger.db");
	cr_assert_eq(tly_node_open(&node, conf, why, sizeof why), TLY_OK, "%s", why);
	tly_outbox_init(&box);
	msg = query_message(&q, &len);
	cr_assert_eq(answer_msg(&node, msg, len, &box, &receipt, why, sizeof why), TLY_OK, "%s",
	             why);
	free(msg);
	tly_outbox_clear(&box);
	cr_assert_eq(charges_in(ledger), 1);

	/* Seven people twice, written by another connection while the node
	 * holds its store open (the table loses tally synth's UNIQUE first,
	 * as a trust's own export might not have one). */
	data_sql(3, "BEGIN; CREATE TABLE copy AS SELECT * FROM patients; DROP TABLE patients;"
	            " ALTER TABLE copy RENAME TO patients;"
	            " INSERT INTO patients SELECT * FROM patients ORDER BY person_id LIMIT 7;"
	            " COMMIT");
	msg = query_message(&q, &len);
	cr_assert_eq(answer_msg(&node, msg, len, &box, &receipt, why, sizeof why), TLY_EINVAL,
	             "a changed file with duplicates was not checked again: %s", why);
	free(msg);
	assert_data_free(why);
	cr_assert(strstr(node.local_note, "7 duplicate") != NULL, "%s", node.local_note);
	cr_assert_eq(box.count, 0, "shares after a refusal");
	cr_assert_eq(charges_in(ledger), 1, "a refusal for bad data was charged");

	/* A node that starts on the bad file says the same. */
	tly_node_close(&node);
	cr_assert_eq(tly_node_open(&node, conf, why, sizeof why), TLY_OK, "%s", why);
	msg = query_message(&q, &len);
	cr_assert_eq(answer_msg(&node, msg, len, &box, &receipt, why, sizeof why), TLY_EINVAL);
	free(msg);
	assert_data_free(why);

	/* Fixed: one row per person again, and the node answers. */
	data_sql(3, "DELETE FROM patients WHERE rowid NOT IN "
	            "(SELECT MIN(rowid) FROM patients GROUP BY person_id)");
	msg = query_message(&q, &len);
	cr_assert_eq(answer_msg(&node, msg, len, &box, &receipt, why, sizeof why), TLY_OK, "%s",
	             why);
	free(msg);
	cr_assert_eq(charges_in(ledger), 2);
	tly_outbox_fini(&box);
	tly_node_close(&node);
}

/* Write the QUERY for q, with q's own log section (or none), to msg_path. */
static void
seal_raw(const struct tly_query *q, const char *msg_path, const uint8_t query_id[16])
{
	struct tly_buf body, msg;
	struct tly_msg_header h = {
	    .type = TLY_MSG_QUERY, .sender = TLY_PARTY_COORDINATOR, .recipient = TLY_PARTY_ALL};

	tly_buf_init(&body);
	tly_buf_init(&msg);
	cr_assert_eq(tly_query_encode(&body, q), TLY_OK);
	memcpy(h.query_id, query_id, 16);
	cr_assert_eq(tly_msg_seal(&msg, &h, body.data, body.len, coordinator.sign), TLY_OK);
	FILE *f = fopen(msg_path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(msg.data, 1, msg.len, f), msg.len);
	fclose(f);
	tly_buf_fini(&body);
	tly_buf_fini(&msg);
}

static uint64_t
ledger_entries(int site)
{
	char db_path[300];
	struct tly_ledger *l;
	char err[256];
	struct tly_ledger_report report;
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];

	path_of(db_path, sizeof db_path, "site-%d/state/ledger.db", site);
	cr_assert_eq(tly_ledger_open_readonly(&l, db_path, err, sizeof err), TLY_OK, "%s", err);
	tly_ledger_public_key(l, pk);
	cr_assert_eq(tly_ledger_verify(l, pk, &report), TLY_OK, "%s", report.reason);
	tly_ledger_close(l);
	return report.entries;
}

/* docs/PROTOCOL.md 5.4, steps 1-4: no log section, a head not signed by
 * the coordinator, a head without the query, a fork and a rollback are
 * each refused with nothing charged; the log's next honest head is
 * answered. */
Test(node, refuses_queries_outside_the_log_forks_and_rollbacks)
{
	struct tly_query q;
	struct test_log forked = {0};
	char *canonical, msg_path[300], out[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16], other[16];

	make_query(&q, diabetes_json, &canonical, ids, members);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-log");
	tly_committee_coord_free(start_query(&q, msg_path, qid)); /* the log: size 1 */
	cr_assert_eq(answer(1, msg_path, out), 0);
	cr_assert_eq(ledger_entries(1), 1);
	path_of(out, sizeof out, "out-refused");

	/* 1. No log section. */
	randombytes_buf(qid, sizeof qid);
	seal_raw(&q, msg_path, qid);
	cr_assert_neq(answer(1, msg_path, out), 0, "a QUERY outside the log answered");
	/* 2. A head signed by another key (node 1's). */
	struct test_log stranger = {0};
	test_log_commit(&stranger, nodes[0].sign, qid, &q);
	seal_raw(&q, msg_path, qid);
	free(q.log_commit);
	cr_assert_neq(answer(1, msg_path, out), 0, "a head signed by a node answered");
	/* 3. A head that holds another query, not this one. */
	randombytes_buf(other, sizeof other);
	test_log_commit(&query_log, coordinator.sign, other, &q); /* the log: size 2 */
	seal_raw(&q, msg_path, qid);
	free(q.log_commit);
	cr_assert_neq(answer(1, msg_path, out), 0, "a head without the query answered");
	/* 4. A fork: another log of size 3 (its first entry differs). */
	test_log_commit(&forked, coordinator.sign, other, &q);
	free(q.log_commit);
	test_log_commit(&forked, coordinator.sign, other, &q);
	free(q.log_commit);
	test_log_commit(&forked, coordinator.sign, qid, &q);
	seal_raw(&q, msg_path, qid);
	free(q.log_commit);
	cr_assert_neq(answer(1, msg_path, out), 0, "a forked head answered");
	cr_assert_eq(ledger_entries(1), 1, "a refused QUERY was charged or recorded");
	cr_assert_eq(access(out, F_OK), -1, "no output for refused queries");

	/* The honest log goes on: size 3 holds this query, consistent with 1. */
	test_log_commit(&query_log, coordinator.sign, qid, &q);
	seal_raw(&q, msg_path, qid);
	free(q.log_commit);
	path_of(out, sizeof out, "out-honest");
	cr_assert_eq(answer(1, msg_path, out), 0, "the honest next head refused");
	path_of(out, sizeof out, "out-rollback");
	cr_assert_eq(ledger_entries(1), 2);
	/* 5. A rollback: a head of size 2 (older than the 3 held). */
	struct test_log older = {0};
	test_log_commit(&older, coordinator.sign, other, &q);
	free(q.log_commit);
	randombytes_buf(qid, sizeof qid);
	test_log_commit(&older, coordinator.sign, qid, &q);
	seal_raw(&q, msg_path, qid);
	free(q.log_commit);
	cr_assert_neq(answer(1, msg_path, out), 0, "a rollback answered");
	cr_assert_eq(ledger_entries(1), 2);
	test_log_fini(&stranger);
	test_log_fini(&forked);
	test_log_fini(&older);
	free(canonical);
}

/* Issue 12 section 2. */

static void
set_policy(int site, const char *key, const char *value)
{
	char conf[300], cmd[900];

	path_of(conf, sizeof conf, "site-%d/node.conf", site);
	snprintf(cmd, sizeof cmd, "sed -i '/^%s = /d; s/^\\[policy\\]$/[policy]\\n%s = %s/' %s",
	         key, key, value, conf);
	cr_assert_eq(system(cmd), 0);
}

static char *
read_log(void)
{
	char log[300];
	size_t len;
	path_of(log, sizeof log, "log");
	char *text = (char *)slurp(log, &len);
	cr_assert_not_null(text);
	text[len] = '\0';
	return text;
}

/* An epsilon whose noise passes the samplers' caps (t/s > 10^6): on main
 * before issue 12 the node charged it and then failed in tly_noise_apply
 * ("value out of range"). Now it is refused with nothing in the ledger. */
Test(node, epsilon_past_the_samplers_caps_is_refused_before_the_charge)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], log[300], db_path[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];
	static const char tiny[] =
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
	    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 0.000000001}}";

	make_query(&q, tiny, &canonical, ids, members);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-tiny");
	path_of(log, sizeof log, "log");
	truncate(log, 0);
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(1, msg_path, out), 2, "an epsilon past the caps is a bad query");
	cr_assert_eq(access(out, F_OK), -1, "no output for a refused query");
	char *text = read_log();
	cr_assert(strstr(text, "samplers' limits") && strstr(text, "1000000") &&
	              strstr(text, "nothing was charged"),
	          "%s", text);
	free(text);
	path_of(db_path, sizeof db_path, "site-1/state/ledger.db");
	cr_assert_eq(charges_in(db_path), 0, "charged, then failed for range");
	free(canonical);
}

/* max_query_work: a query whose noise costs more work units than the
 * node's limit is refused (exit 3) naming the limit, and nothing is
 * charged; at a limit equal to its cost it is answered. */
Test(node, query_over_max_query_work_is_refused_before_the_charge)
{
	struct tly_query q;
	struct tly_noise_params params;
	char *canonical, msg_path[300], out[300], log[300], db_path[300], value[32];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];
	uint64_t work;

	make_query(&q, diabetes_json, &canonical, ids, members);
	cr_assert_eq(tly_noise_cost(&q, &params, &work), TLY_OK);
	cr_assert_gt(work, 1);
	snprintf(value, sizeof value, "%llu", (unsigned long long)(work - 1));
	set_policy(2, "max_query_work", value);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-work");
	path_of(log, sizeof log, "log");
	truncate(log, 0);
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(2, msg_path, out), 3, "over max_query_work is refused");
	cr_assert_eq(access(out, F_OK), -1, "no output for a refused query");
	char *text = read_log();
	char expect[160];
	snprintf(expect, sizeof expect, "cost %llu work units, above this node's max_query_work %s",
	         (unsigned long long)work, value);
	cr_assert(strstr(text, expect) && strstr(text, "nothing was charged"), "%s", text);
	free(text);
	path_of(db_path, sizeof db_path, "site-2/state/ledger.db");
	cr_assert_eq(charges_in(db_path), 0, "a query over the work limit was charged");
	snprintf(value, sizeof value, "%llu", (unsigned long long)work);
	set_policy(2, "max_query_work", value);
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(2, msg_path, out), 0, "at the limit it is answered");
	cr_assert_eq(charges_in(db_path), 1);
	free(canonical);
}

/* A query whose noise takes about a minute: a 1000-cell histogram at
 * epsilon 10^-6 (2,026,156 work units a cell at h = 2), allowed by a
 * raised max_query_work. */
static void
slow_query(struct tly_query *q, char **canonical, uint32_t *ids, uint32_t *members,
           uint32_t deadline_ms)
{
	char json[1200];
	size_t used = (size_t)snprintf(
	    json, sizeof json,
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"histogram\", \"column\": \"age\","
	    " \"edges\": [");
	for (int i = 0; i <= 100; i++)
		used += (size_t)snprintf(json + used, sizeof json - used, "%s%d", i ? ", " : "", i);
	snprintf(json + used, sizeof json - used,
	         "]}, \"group_by\": [\"age_band\", \"sex\"],"
	         " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 0.000001}}");
	make_query(q, json, canonical, ids, members);
	cr_assert_eq(q->cells, 1000);
	q->deadline_ms = deadline_ms;
}

/* charges_in for a ledger that another process may be creating: 0 until
 * its table exists. */
static int
charges_so_far(const char *ledger_db)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = 0;
	if (sqlite3_open_v2(ledger_db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM entries WHERE kind = 1", -1, &st, NULL) ==
	        SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

static pid_t
spawn_answer(int site, const char *msg_path, const char *out)
{
	char program[1200], conf[300], log[300];
	posix_spawn_file_actions_t actions;
	pid_t pid;

	snprintf(program, sizeof program, "%s/tally-node", bin);
	path_of(conf, sizeof conf, "site-%d/node.conf", site);
	path_of(log, sizeof log, "log");
	const char *const argv[] = {"tally-node", "answer", "--config", conf, "--query",
	                            msg_path,     "--out",  out,        NULL};
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	cr_assert_eq(posix_spawn(&pid, program, &actions, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&actions);
	return pid;
}

static double
seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The round's deadline (300 ms) stops the node's noise: it gives up long
 * before the minute the draw would take, and the charge stands. */
Test(node, the_round_deadline_stops_the_noise_and_the_charge_stands)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], log[300], db_path[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];

	set_policy(1, "max_query_work", "100000000000000");
	slow_query(&q, &canonical, ids, members, 300);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-deadline");
	path_of(log, sizeof log, "log");
	truncate(log, 0);
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	double start = seconds_now();
	cr_assert_eq(answer(1, msg_path, out), 1, "abandoned at the deadline");
	double took = seconds_now() - start;
	cr_log_info("answer with a 300 ms deadline ended after %.3f s", took);
	/* The whole draw takes about a minute unloaded: a node that ignored
	 * the deadline could not end within 20 s. */
	cr_assert_lt(took, 20.0, "took %.1f s", took);
	char *text = read_log();
	cr_assert(strstr(text, "the round's deadline passed") && strstr(text, "charge stands"),
	          "%s", text);
	free(text);
	path_of(db_path, sizeof db_path, "site-1/state/ledger.db");
	cr_assert_eq(charges_in(db_path), 1, "the abandoned query stays charged");
	free(canonical);
}

/* SIGTERM mid-noise: the node ends within one cell's work (about 60 ms
 * here unloaded), the charge standing. */
Test(node, sigterm_mid_noise_ends_the_node_within_a_second)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], log[300], db_path[300];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];
	int status;

	set_policy(2, "max_query_work", "100000000000000");
	slow_query(&q, &canonical, ids, members, 600000);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-term");
	path_of(log, sizeof log, "log");
	path_of(db_path, sizeof db_path, "site-2/state/ledger.db");
	truncate(log, 0);
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	pid_t pid = spawn_answer(2, msg_path, out);
	/* The event: the charge is durable, so the noise is being drawn. */
	while (charges_so_far(db_path) < 1) {
		cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "ended before its charge");
		dmn_pause_ms(10);
	}
	dmn_pause_ms(200); /* well into the noise */
	double start = seconds_now();
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	double took = seconds_now() - start;
	cr_log_info("tally-node answer ended %.3f s after SIGTERM", took);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
	cr_assert_lt(took, 1.0, "took %.3f s", took);
	char *text = read_log();
	cr_assert(strstr(text, "the node is stopping") && strstr(text, "charge stands"), "%s",
	          text);
	free(text);
	cr_assert_eq(charges_in(db_path), 1, "the abandoned query stays charged");
	free(canonical);
}

/* Issue 12 section 6: a tampered ledger is noticed when the node opens it:
 * `tally-node check` (and the daemon, and every command that opens the
 * node) refuses, naming the entry. */
Test(node, check_refuses_a_tampered_ledger_naming_the_entry)
{
	struct tly_query q;
	char *canonical, msg_path[300], out[300], conf[300], db_path[300], cmd[700];
	uint32_t ids[SITES], members[SITES];
	uint8_t qid[16];

	make_query(&q, diabetes_json, &canonical, ids, members);
	path_of(msg_path, sizeof msg_path, "query.msg");
	path_of(out, sizeof out, "out-tamper");
	tly_committee_coord_free(start_query(&q, msg_path, qid));
	cr_assert_eq(answer(3, msg_path, out), 0);
	path_of(conf, sizeof conf, "site-3/node.conf");
	const char *const check[] = {"tally-node", "check", "--config", conf, NULL};
	cr_assert_eq(run(check), 0, "an honest ledger passes");
	/* Lower the recorded spend of entry 1. */
	path_of(db_path, sizeof db_path, "site-3/state/ledger.db");
	snprintf(cmd, sizeof cmd,
	         "sqlite3 %s 'DROP TRIGGER IF EXISTS entries_no_update; "
	         "UPDATE entries SET amount_num = 1, amount_den = 1000 WHERE seq = 1'",
	         db_path);
	cr_assert_eq(system(cmd), 0);
	char log[300];
	path_of(log, sizeof log, "log");
	truncate(log, 0);
	cr_assert_neq(run(check), 0, "a tampered ledger passes check");
	char *text = read_log();
	cr_assert(strstr(text, "does not verify, at entry 1") && strstr(text, "refusing to start"),
	          "%s", text);
	free(text);
	free(canonical);
}

/* ---- pairwise masking (tly_node_answer_masked) ---- */

static const char diabetes_secagg_json[] =
    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
    " \"where\": [{\"column\": \"has_diabetes\", \"op\": \"=\", \"value\": 1}],"
    " \"group_by\": [\"age_band\", \"sex\"], \"protocol\": \"secagg\","
    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 2}}";

/* A SecAgg QUERY (complete graph over the three sites: k = 2, t = 2) for
 * spec json, committed to the test log and signed by a real server; its
 * protocol field set to `protocol` afterwards when nonzero (a coordinator
 * whose QUERY does not match its spec). The message, malloc'd. */
static uint8_t *
masking_query(const char *json, uint8_t protocol, size_t *len)
{
	struct tly_query q;
	struct tly_secagg_server *srv = NULL;
	struct tly_outbox box;
	char *canonical;
	uint32_t ids[SITES], members[SITES];

	make_query(&q, json, &canonical, ids, members);
	q.protocol = protocol != 0 ? protocol : TLY_PROTOCOL_SECAGG;
	q.committee = (struct tly_idlist){0, NULL};
	q.quorum = 0;
	q.degree = SITES - 1;
	q.threshold = 2;
	randombytes_buf(watch.qid, TLY_QUERY_ID_BYTES);
	test_log_commit(&query_log, coordinator.sign, watch.qid, &q);
	tly_outbox_init(&box);
	if (q.protocol == TLY_PROTOCOL_COMMITTEE) {
		struct tly_committee_coord *coord;
		q.committee = (struct tly_idlist){SITES, members};
		q.degree = SITES;
		q.quorum = 3;
		cr_assert_eq(
		    tly_committee_coord_alloc(&coord, &coordinator, &roster, &q, watch.qid, &box),
		    TLY_OK);
		tly_committee_coord_free(coord);
	} else {
		cr_assert_eq(
		    tly_secagg_server_alloc(&srv, &coordinator, &roster, &q, watch.qid, &box),
		    TLY_OK);
		tly_secagg_server_free(srv);
	}
	free(q.log_commit);
	free(canonical);
	uint8_t *msg = malloc(box.items[0].len);
	cr_assert_not_null(msg);
	memcpy(msg, box.items[0].data, box.items[0].len);
	*len = box.items[0].len;
	tly_outbox_fini(&box);
	return msg;
}

/* Read a QUERY and answer it through the masking entry point (or, with
 * committee set, through tly_node_answer); *client as it returned. */
static tly_err
answer_masked_msg(struct tly_node *node, const uint8_t *msg, size_t len, int committee,
                  struct tly_secagg_client **client, struct tly_outbox *out, char *why,
                  size_t why_len)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	struct tly_ledger_receipt receipt;
	tly_err rv = tly_node_read_query(node, msg, len, query_id, &q, why, why_len);

	*client = NULL;
	if (rv != TLY_OK)
		return rv;
	if (committee)
		rv = tly_node_answer(node, query_id, &q, out, &receipt, why, why_len);
	else
		rv =
		    tly_node_answer_masked(node, query_id, &q, client, out, &receipt, why, why_len);
	tly_query_fini(&q);
	return rv;
}

/* The same steps as a committee answer: charged durably before the data is
 * read, then the client made and its keys advertised (one ADVERTISE). */
Test(node, a_masking_query_is_charged_before_its_keys_leave)
{
	struct tly_node node;
	struct tly_secagg_client *client;
	struct tly_outbox out;
	char why[600];
	size_t len;

	watched_node_open(&node);
	uint8_t *msg = masking_query(diabetes_secagg_json, 0, &len);
	struct tly_spec spec;
	struct tly_field_error serr;
	cr_assert_eq(tly_spec_parse(&spec, &node.catalogue, diabetes_secagg_json,
	                            strlen(diabetes_secagg_json), &serr),
	             TLY_OK);
	cr_assert_eq(tly_eval_sql(&node.config.datasets[spec.dataset], &spec, &watch.eval_sql),
	             TLY_OK);
	tly_spec_fini(&spec);
	watch.reads = 0;
	watch.charged_at_read = -1;
	tly_outbox_init(&out);
	tly_err rv = answer_masked_msg(&node, msg, len, 0, &client, &out, why, sizeof why);
	cr_assert_eq(rv, TLY_OK, "%s: %s", tly_strerror(rv), why);
	cr_assert_not_null(client);
	cr_assert_eq(tly_secagg_client_phase(client), TLY_SECAGG_CLIENT_KEYS);
	cr_assert_eq(out.count, 1);
	struct tly_msg m;
	cr_assert_eq(tly_msg_peek(out.items[0].data, out.items[0].len, &m), TLY_OK);
	cr_assert_eq(m.header.type, TLY_MSG_ADVERTISE);
	cr_assert_eq(watch.reads, 1, "the evaluation ran once");
	cr_assert_eq(watch.charged_at_read, 1, "charged before the first row was read");
	cr_assert_eq(committed_charges(watch.ledger, watch.qid), 1);
	tly_secagg_client_free(client);
	tly_outbox_fini(&out);
	free(msg);
	watched_node_close(&node);
}

/* A QUERY answered through the other protocol's entry point, or whose
 * protocol is not its spec's, is refused before the charge, reading
 * nothing and sending nothing. */
Test(node, a_query_whose_protocol_is_not_its_specs_is_refused_before_the_charge)
{
	static const struct {
		const char *json;
		uint8_t protocol;
		int committee_entry;
	} cases[] = {
	    {diabetes_secagg_json, 0, 1},               /* masking QUERY, committee entry */
	    {diabetes_json, TLY_PROTOCOL_COMMITTEE, 0}, /* committee QUERY, masking entry */
	    {diabetes_json, TLY_PROTOCOL_SECAGG, 0},    /* spec: committee; QUERY: secagg */
	    {diabetes_secagg_json, TLY_PROTOCOL_SECAGG_PLUS, 0}, /* spec: secagg */
	};
	struct tly_node node;
	char why[600];

	watched_node_open(&node);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tly_secagg_client *client;
		struct tly_outbox out;
		size_t len;
		uint8_t *msg = masking_query(cases[i].json, cases[i].protocol, &len);
		watch.reads = 0;
		tly_outbox_init(&out);
		tly_err rv = answer_masked_msg(&node, msg, len, cases[i].committee_entry, &client,
		                               &out, why, sizeof why);
		cr_assert_neq(rv, TLY_OK, "case %zu answered", i);
		cr_assert_null(client, "case %zu", i);
		cr_assert_eq(out.count, 0, "case %zu", i);
		cr_assert_eq(watch.reads, 0, "case %zu read the data", i);
		cr_assert_eq(committed_charges(watch.ledger, watch.qid), 0, "case %zu charged", i);
		tly_outbox_fini(&out);
		free(msg);
	}
	watched_node_close(&node);
}
