/*
 * `tally audit` (cli/audit.h): a federation built with the real APIs
 * (tests/federation.h: node ledgers, receipts, releases, the transparency
 * log) verifies; tampering with a ledger row or a log entry, a ledger cut
 * short, a ledger rewritten by its own key and a ledger from an unknown key
 * are each named by file, entry and reason; the --dir layout; explain; the
 * command line's exit codes.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli/audit.h"
#include "federation.h"
#include "store/keys.h"
#include "store/head.h"

static const uint32_t contributors[] = {1, 2, 3};
static const uint32_t dropped[] = {4};

/* Three released queries (node 4 dropped from each), one aborted. */
static void
build(struct fed *f)
{
	struct fed_query q;
	struct tly_buf receipts[2];
	char why[256];

	fed_init(f, 4);
	for (int i = 0; i < 3; i++) {
		fed_query(f, &q, i == 0 ? "1" : "0.5");
		fed_release(f, &q, contributors, 3, dropped, 1);
		fed_query_fini(&q);
	}
	fed_query(f, &q, "0.25");
	const uint32_t charged[] = {1, 2};
	for (int i = 0; i < 2; i++) {
		tly_buf_init(&receipts[i]);
		fed_charge(f, charged[i], &q, &receipts[i]);
	}
	cr_assert_eq(fed_append(f, &q, TLY_TRANSLOG_ABORTED, NULL, charged, 2, NULL, 0, receipts, 2,
	                        why, sizeof why),
	             TLY_OK, "%s", why);
	for (int i = 0; i < 2; i++)
		tly_buf_fini(&receipts[i]);
	fed_query_fini(&q);
	fed_close(f);
}

/* Audit the log with every ledger; the report goes to *text. */
static tly_err
audit(struct fed *f, struct tly_audit_finding *finding, char **text)
{
	const char *ledgers[FED_MAX_NODES];
	size_t len;
	FILE *out = open_memstream(text, &len);
	tly_err rv;

	for (unsigned n = 1; n <= f->nodes; n++)
		ledgers[n - 1] = f->ledger_path[n];
	struct tly_audit_files files = {f->log_path, f->registry_path, f->nodes, ledgers, 1};
	cr_assert_not_null(out);
	rv = tly_audit_verify(&files, out, finding);
	fclose(out);
	return rv;
}

static void
expect_finding(struct fed *f, tly_err expected, const char *file, uint64_t seq, const char *reason)
{
	struct tly_audit_finding finding;
	char *text = NULL;
	tly_err rv = audit(f, &finding, &text);

	cr_assert_eq(rv, expected, "audit gave %s:\n%s", tly_strerror(rv), text);
	cr_assert_str_eq(finding.file, file, "%s", text);
	cr_assert_eq(finding.seq, seq, "seq %llu: %s", (unsigned long long)finding.seq,
	             finding.reason);
	cr_assert(strstr(finding.reason, reason) != NULL, "reason \"%s\" lacks \"%s\"",
	          finding.reason, reason);
	cr_assert(strstr(text, "audit: FAILED: ") != NULL, "%s", text);
	char line[TLY_AUDIT_PATH_MAX + 600];
	tly_audit_finding_format(&finding, line, sizeof line);
	cr_assert(strncmp(line, file, strlen(file)) == 0 && strstr(text, line) != NULL,
	          "the summary names the finding: %s", text);
	free(text);
}

Test(audit, good_federation)
{
	struct fed f;
	struct tly_audit_finding finding;
	char *text = NULL;

	build(&f);
	cr_assert_eq(audit(&f, &finding, &text), TLY_OK, "%s", text);
	cr_assert(strstr(text, "OK: 4 entries (3 released, 1 aborted, 0 refused), 14 receipts") !=
	              NULL,
	          "%s", text);
	cr_assert(strstr(text, "(node 1): OK: 4 entries (4 charges, 0 refusals); 4 receipts in "
	                       "the log match it") != NULL,
	          "%s", text);
	cr_assert(strstr(text, "(node 4): OK: 3 entries (3 charges, 0 refusals); 3 receipts") !=
	              NULL,
	          "%s", text);
	cr_assert(strstr(text, "audit: OK: the log (4 entries) and 4 ledgers verified; 14 "
	                       "receipts matched their ledgers") != NULL,
	          "%s", text);
	cr_assert_str_eq(finding.file, "");
	free(text);
	fed_fini(&f);
}

Test(audit, charge_without_a_receipt_is_a_note)
{
	struct fed f;
	struct fed_query q;
	struct tly_buf receipt;
	struct tly_audit_finding finding;
	char *text = NULL;

	build(&f);
	char err[256];
	cr_assert_eq(
	    tly_ledger_open(&f.ledger[2], f.ledger_path[2], 2, f.node[2].sign, err, sizeof err),
	    TLY_OK);
	fed_query(&f, &q, "1");
	tly_buf_init(&receipt);
	fed_charge(&f, 2, &q, &receipt); /* never reached the coordinator */
	fed_close(&f);
	cr_assert_eq(audit(&f, &finding, &text), TLY_OK, "%s", text);
	cr_assert(strstr(text, "note: 1 charges have no receipt in the log") != NULL, "%s", text);
	free(text);
	tly_buf_fini(&receipt);
	fed_query_fini(&q);
	fed_fini(&f);
}

Test(audit, tampered_ledger_row)
{
	struct fed f;

	build(&f);
	fed_sql(f.ledger_path[2],
	        "DROP TRIGGER entries_no_update;"
	        "UPDATE entries SET amount_num = 1, amount_den = 10 WHERE seq = 2;");
	expect_finding(&f, TLY_EAUTH, f.ledger_path[2], 2, "entry 2: entry_hash does not match");
	fed_fini(&f);
}

Test(audit, tampered_log_entry)
{
	struct fed f;

	build(&f);
	fed_sql(f.log_path, "DROP TRIGGER entries_no_update;"
	                    "UPDATE entries SET time = time + 1 WHERE seq = 3;");
	expect_finding(&f, TLY_EAUTH, f.log_path, 3, "entry 3: its columns disagree");
	fed_fini(&f);
}

Test(audit, deleted_log_entry)
{
	struct fed f;

	build(&f);
	fed_sql(f.log_path, "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 1;");
	expect_finding(&f, TLY_EAUTH, f.log_path, 1, "entry 1: missing (the next entry is 2)");
	fed_fini(&f);
}

Test(audit, ledger_cut_short)
{
	struct fed f;

	build(&f);
	/* The chain of entries 1..3 still verifies on its own; the log's
	 * receipt for entry 4 shows the cut. */
	fed_sql(f.ledger_path[1],
	        "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 4;");
	expect_finding(&f, TLY_EAUTH, f.ledger_path[1], 4,
	               "entry 4 is missing, yet log entry 4 carries node 1's receipt for it");
	fed_fini(&f);
}

Test(audit, ledger_rewritten_with_its_own_key)
{
	struct fed f;
	struct fed_query q;
	struct tly_buf receipt;
	char err[256];

	build(&f);
	/* Node 3 starts a new ledger with its key: a valid chain, another
	 * history. */
	remove(f.ledger_path[3]);
	cr_assert_eq(
	    tly_ledger_open(&f.ledger[3], f.ledger_path[3], 3, f.node[3].sign, err, sizeof err),
	    TLY_OK);
	fed_query(&f, &q, "1");
	tly_buf_init(&receipt);
	fed_charge(&f, 3, &q, &receipt);
	fed_close(&f);
	expect_finding(&f, TLY_EAUTH, f.ledger_path[3], 1,
	               "entry 1 does not match node 3's receipt in log entry 1 (query_id differs)");
	tly_buf_fini(&receipt);
	fed_query_fini(&q);
	fed_fini(&f);
}

Test(audit, ledger_of_an_unknown_key)
{
	struct fed f;
	struct tly_identity stranger;
	struct tly_ledger *ledger;
	char err[256];
	struct fed_query q;
	struct tly_buf receipt;

	build(&f);
	remove(f.ledger_path[4]);
	cr_assert_eq(tly_identity_generate(&stranger, 4, 0), TLY_OK);
	cr_assert_eq(tly_ledger_open(&ledger, f.ledger_path[4], 4, stranger.sign, err, sizeof err),
	             TLY_OK);
	f.ledger[4] = ledger;
	fed_query(&f, &q, "1");
	tly_buf_init(&receipt);
	fed_charge(&f, 4, &q, &receipt);
	fed_close(&f);
	expect_finding(&f, TLY_EAUTH, f.ledger_path[4], 0, "a key of no node in the registry");
	tly_buf_fini(&receipt);
	fed_query_fini(&q);
	tly_identity_fini(&stranger);
	fed_fini(&f);
}

/* ---- a node's signing key rotated (wire/party.h retired keys, the
 * ledger's key handovers) ---- */

/* Node 2's ledger handed over to each key of `to` in turn (after build's
 * four entries); keys[] receives them. */
static void
hand_over_node_2(struct fed *f, struct tly_sign_key *keys[], size_t count)
{
	const struct tly_sign_key *current = f->node[2].sign;
	struct tly_ledger *l = NULL;
	struct tly_ledger_key k;
	char err[256];

	for (size_t i = 0; i < count; i++) {
		cr_assert_eq(tly_sign_key_alloc(&keys[i], NULL), TLY_OK);
		cr_assert_eq(tly_ledger_open(&l, f->ledger_path[2], 2, current, err, sizeof err),
		             TLY_OK, "%s", err);
		cr_assert_eq(tly_ledger_handover(l, keys[i], &k, err, sizeof err), TLY_OK, "%s",
		             err);
		cr_assert_eq(k.from_seq, 5);
		tly_ledger_close(l);
		current = keys[i];
	}
}

/* The registry with node 2's sign_pk set to `key` (NULL: unchanged) and
 * its retired keys to retired[0 .. count). */
static void
registry_for_node_2(struct fed *f, const struct tly_sign_key *key,
                    const struct tly_sign_key *const retired[], size_t count)
{
	struct tly_roster roster;
	char why[256];

	cr_assert_eq(tly_registry_load(&roster, f->registry_path, why, sizeof why), TLY_OK, "%s",
	             why);
	struct tly_party *p = (struct tly_party *)tly_roster_find(&roster, 2);
	if (key != NULL)
		tly_sign_key_public(key, p->sign_pk);
	p->retired_count = count;
	for (size_t i = 0; i < count; i++)
		tly_sign_key_public(retired[i], p->retired_sign_pk[i]);
	cr_assert_eq(tly_registry_write(&roster, f->registry_path, why, sizeof why), TLY_OK, "%s",
	             why);
	tly_roster_fini(&roster);
}

static void
free_keys(struct tly_sign_key *keys[], size_t count)
{
	for (size_t i = 0; i < count; i++)
		tly_sign_key_free(keys[i]);
}

/* The rotation done right: ledger handed over, registry's sign_pk the new
 * key and the old one retired. The log's receipts signed by the old key
 * and the ledger's older entries verify. */
Test(audit, a_rotated_node_key_verifies_with_its_retired_key)
{
	struct fed f;
	struct tly_sign_key *keys[1];
	struct tly_audit_finding finding;
	char *text = NULL;

	build(&f);
	hand_over_node_2(&f, keys, 1);
	registry_for_node_2(&f, keys[0], (const struct tly_sign_key *const[]){f.node[2].sign}, 1);
	cr_assert_eq(audit(&f, &finding, &text), TLY_OK, "%s", text);
	cr_assert(strstr(text, "(node 2): OK: 4 entries") != NULL, "%s", text);
	cr_assert(strstr(text, "the node key was handed over before entry 5") != NULL, "%s", text);
	free(text);
	free_keys(keys, 1);
	fed_fini(&f);
}

/* Negative control of the above: without the retired key, the old
 * receipts in the log do not verify. */
Test(audit, a_rotated_node_key_without_its_retired_key_fails)
{
	struct fed f;
	struct tly_sign_key *keys[1];

	build(&f);
	hand_over_node_2(&f, keys, 1);
	registry_for_node_2(&f, keys[0], NULL, 0);
	expect_finding(&f, TLY_EAUTH, f.log_path, 1,
	               "the receipt of node 2 (ledger entry 1) does not verify under that node's "
	               "registry keys");
	free_keys(keys, 1);
	fed_fini(&f);
}

/* The registry moved on but the ledger was not handed over: it is still
 * signed by a key the registry retired. */
Test(audit, a_ledger_still_on_a_retired_key_fails)
{
	struct fed f;
	struct tly_sign_key *other = NULL;

	build(&f);
	cr_assert_eq(tly_sign_key_alloc(&other, NULL), TLY_OK);
	registry_for_node_2(&f, other, (const struct tly_sign_key *const[]){f.node[2].sign}, 1);
	expect_finding(&f, TLY_EAUTH, f.ledger_path[2], 0,
	               "signed with its retired key and has no key handover");
	tly_sign_key_free(other);
	fed_fini(&f);
}

/* Two handovers, the middle key never listed in the registry: the ledger
 * passed through a key that was not the node's. */
Test(audit, a_ledger_key_the_registry_never_listed_fails)
{
	struct fed f;
	struct tly_sign_key *keys[2];

	build(&f);
	hand_over_node_2(&f, keys, 2);
	registry_for_node_2(&f, keys[1], (const struct tly_sign_key *const[]){f.node[2].sign}, 1);
	expect_finding(&f, TLY_EAUTH, f.ledger_path[2], 5,
	               "with a key the registry lists neither as its sign_pk nor as a "
	               "retired_sign_pk");
	free_keys(keys, 2);
	fed_fini(&f);
}

Test(audit, unreadable_files)
{
	struct fed f;

	build(&f);
	remove(f.registry_path);
	expect_finding(&f, TLY_EIO, f.registry_path, 0, "registry.ini");
	fed_fini(&f);

	build(&f);
	FILE *junk = fopen(f.ledger_path[2], "w");
	cr_assert_not_null(junk);
	fputs("not a database, just text long enough to be read as a header by SQLite......"
	      "................................................................................",
	      junk);
	fclose(junk);
	expect_finding(&f, TLY_EFORMAT, f.ledger_path[2], 0, "not a readable SQLite database");
	fed_fini(&f);
}

/* ---- --dir ---- */

Test(audit, dir_layout)
{
	struct fed f;
	struct tly_audit_layout layout;
	char why[256], path[256];

	build(&f);
	snprintf(path, sizeof path, "%s/site-9", f.dir);
	cr_assert_eq(mkdir(path, 0700), 0, "a site that never answered");
	snprintf(path, sizeof path, "%s/site-x", f.dir);
	cr_assert_eq(mkdir(path, 0700), 0, "not a site");
	cr_assert_eq(tly_audit_layout(f.dir, &layout, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_str_eq(layout.log, f.log_path);
	cr_assert_str_eq(layout.registry, f.registry_path);
	cr_assert_eq(layout.ledger_count, 4);
	for (unsigned n = 1; n <= 4; n++)
		cr_assert_str_eq(layout.ledgers[n - 1], f.ledger_path[n]);
	cr_assert_eq(layout.missing_count, 1);
	tly_audit_layout_fini(&layout);

	/* The configs, when they load, say where the files are. */
	snprintf(path, sizeof path, "%s/coordinator/coordinator.conf", f.dir);
	FILE *conf = fopen(path, "w");
	cr_assert_not_null(conf);
	fprintf(conf, "[coordinator]\nlisten = tcp://127.0.0.1:1\napi = http://127.0.0.1:2\n"
	              "sign_key = keys/c.sign\nregistry = ../registry.ini\n"
	              "catalogue = ../catalogue.json\nlog = state/../state/transparency.db\n"
	              "planners = ../planners.ini\n");
	fclose(conf);
	snprintf(path, sizeof path, "%s/site-2/node.conf", f.dir);
	conf = fopen(path, "w");
	cr_assert_not_null(conf);
	fprintf(conf, "[node]\nid = 2\ncoordinator = tcp://127.0.0.1:1\nsign_key = keys/n.sign\n"
	              "kx_key = keys/n.kx\nledger = ../site-2/state/ledger.db\n");
	fclose(conf);
	cr_assert_eq(tly_audit_layout(f.dir, &layout, why, sizeof why), TLY_OK, "%s", why);
	snprintf(path, sizeof path, "%s/coordinator/state/../state/transparency.db", f.dir);
	cr_assert_str_eq(layout.log, path);
	snprintf(path, sizeof path, "%s/coordinator/../registry.ini", f.dir);
	cr_assert_str_eq(layout.registry, path);
	snprintf(path, sizeof path, "%s/site-2/../site-2/state/ledger.db", f.dir);
	cr_assert_str_eq(layout.ledgers[1], path);
	tly_audit_layout_fini(&layout);

	snprintf(path, sizeof path, "%s/absent", f.dir);
	cr_assert_eq(tly_audit_layout(path, &layout, why, sizeof why), TLY_EIO);
	cr_assert(strstr(why, "cannot read") != NULL, "%s", why);
	fed_fini(&f);
}

/* ---- explain ---- */

static char *
query_id_of(struct fed *f, uint64_t seq, uint8_t id[static TLY_QUERY_ID_BYTES])
{
	struct tly_translog *log;
	char err[320];
	char *json = NULL;

	cr_assert_eq(tly_translog_open_readonly(&log, f->log_path, err, sizeof err), TLY_OK);
	cr_assert_eq(tly_translog_releases(log, &json), TLY_OK);
	tly_translog_close(log);
	json_t *array = json_loads(json, 0, NULL);
	const char *p =
	    json_string_value(json_object_get(json_array_get(array, seq - 1), "query_id"));
	cr_assert_not_null(p);
	cr_assert_eq(tly_unhex(id, TLY_QUERY_ID_BYTES, p, strlen(p)), TLY_OK);
	json_decref(array);
	char *hex = malloc(2 * TLY_QUERY_ID_BYTES + 1);
	cr_assert_not_null(hex);
	tly_hex(hex, id, TLY_QUERY_ID_BYTES);
	free(json);
	return hex;
}

Test(audit, explain)
{
	struct fed f;
	uint8_t id[TLY_QUERY_ID_BYTES];
	char why[256], *text = NULL, *hex;
	size_t len;

	build(&f);
	hex = query_id_of(&f, 1, id);
	FILE *out = open_memstream(&text, &len);
	cr_assert_eq(tly_audit_explain(f.log_path, id, out, why, sizeof why), TLY_OK, "%s", why);
	fclose(out);
	static const char *const says[] = {
	    "(log entry 1, released",
	    "asked for the count of people in dataset \"patients\", with no filter, by sex.\n"
	    "  Filters: none",
	    "\n  2 cells, each released",
	    "Asked by planner \"alice\": the name whose key signed the request",
	    "3 trusts contributed",
	    "Dropped (not in the totals): node 4.",
	    "epsilon-differential privacy with epsilon = 1 ",
	    "e^1 = 2.72",
	    "at least h = 2 of the contributing trusts were honest",
	    "fewer than t = 2 of the k = 3 committee members colluded",
	    "(4 receipts;",
	    "standard deviation",
	    "contains\n  the exact, un-noised total with probability at least 95%",
	};
	cr_assert(strstr(text, hex) != NULL, "%s", text);
	for (size_t i = 0; i < sizeof says / sizeof says[0]; i++)
		cr_assert(strstr(text, says[i]) != NULL, "missing \"%s\" in:\n%s", says[i], text);
	free(text);
	free(hex);

	hex = query_id_of(&f, 4, id);
	out = open_memstream(&text, &len);
	cr_assert_eq(tly_audit_explain(f.log_path, id, out, why, sizeof why), TLY_EINVAL);
	fclose(out);
	cr_assert(strstr(why, "was aborted (log entry 4): nothing was released (too few "
	                      "contributors)") != NULL,
	          "%s", why);
	free(text);
	free(hex);

	id[0] ^= 1;
	out = open_memstream(&text, &len);
	cr_assert_eq(tly_audit_explain(f.log_path, id, out, why, sizeof why), TLY_EINVAL);
	fclose(out);
	cr_assert(strstr(why, "is not in the log") != NULL, "%s", why);
	free(text);
	fed_fini(&f);
}

/* ---- the command line ---- */

static int
run(int argc, const char **argv)
{
	return tly_audit_command(argc, (char **)argv);
}

Test(audit_command, exit_codes, .init = cr_redirect_stdout)
{
	struct fed f;
	uint8_t id[TLY_QUERY_ID_BYTES];
	char *hex;

	cr_redirect_stderr();
	build(&f);
	const char *dir[] = {"audit", "verify", "--dir", f.dir};
	cr_assert_eq(run(4, dir), 0);
	const char *files[] = {"audit",      "verify",        "--log",    f.log_path,
	                       "--registry", f.registry_path, "--ledger", f.ledger_path[1],
	                       "--ledger",   f.ledger_path[2]};
	cr_assert_eq(run(10, files), 0);
	hex = query_id_of(&f, 2, id);
	const char *explain[] = {"audit", "explain", "--dir", f.dir, hex};
	cr_assert_eq(run(5, explain), 0);
	const char *explain_log[] = {"audit", "explain", hex, "--log", f.log_path};
	cr_assert_eq(run(5, explain_log), 0, "options after the id");

	const char *help[] = {"audit", "verify", "--help"};
	cr_assert_eq(run(3, help), 0);
	const char *help2[] = {"audit", "explain", "--help"};
	cr_assert_eq(run(3, help2), 0);
	const char *help3[] = {"audit", "--help"};
	cr_assert_eq(run(2, help3), 0);

	const char *usage[][6] = {
	    {"audit"},
	    {"audit", "frobnicate"},
	    {"audit", "verify"},
	    {"audit", "verify", "--log", "x"},
	    {"audit", "verify", "--dir", "x", "--log", "y"},
	    {"audit", "verify", "--dir", "x", "extra"},
	    {"audit", "verify", "--bogus"},
	    {"audit", "explain", "--dir", "x"},
	    {"audit", "explain", "--dir", "x", "not-hex"},
	    {"audit", "explain", "--dir", "x", "--log", "y"},
	};
	for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
		int argc = 0;
		while (argc < 6 && usage[i][argc] != NULL)
			argc++;
		cr_assert_eq(run(argc, usage[i]), 2, "usage case %zu", i);
	}

	fed_sql(f.ledger_path[3], "DROP TRIGGER entries_no_update;"
	                          "UPDATE entries SET time = 1 WHERE seq = 1;");
	cr_assert_eq(run(4, dir), 1, "tampered");
	const char *absent[] = {"audit", "verify", "--dir", "/nonexistent/tally"};
	cr_assert_eq(run(4, absent), 1);
	id[0] ^= 1;
	char other[2 * TLY_QUERY_ID_BYTES + 1];
	tly_hex(other, id, sizeof id);
	const char *unknown[] = {"audit", "explain", "--log", f.log_path, other};
	cr_assert_eq(run(5, unknown), 1);
	free(hex);
	fed_fini(&f);
}

/* Found by tests/fuzz/fuzz_result.c: explain printed a group_by entry that
 * is not a string through "%s" with NULL ("(null)", undefined behaviour).
 * The log entry is not verified before explain reads it. */
static char *
explain_text(const char *release, const char *spec)
{
	struct tly_translog_found found;
	uint8_t id[TLY_QUERY_ID_BYTES];
	char *text = NULL, why[256];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(out);
	memset(&found, 0, sizeof found);
	memset(id, 0xab, sizeof id);
	found.outcome = TLY_TRANSLOG_RELEASED;
	found.release_json = strdup(release);
	found.spec_json = strdup(spec);
	cr_assert_eq(tly_audit_explain_found(&found, id, "log.db", out, why, sizeof why), TLY_OK,
	             "%s", why);
	fclose(out);
	tly_translog_found_fini(&found);
	return text;
}

static const char explain_release[] =
    "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"contributors\":3,"
    "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":0.5,\"epsilon_exact\":\"1/2\"},"
    "\"cells\":[]}";

Test(audit, explain_group_by_not_a_string)
{
	char *good =
	    explain_text(explain_release,
	                 "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"where\":[],"
	                 "\"group_by\":[\"age_band\",\"sex\"]}");
	char *bad =
	    explain_text(explain_release,
	                 "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"where\":[],"
	                 "\"group_by\":[7,\"sex\",null]}");

	/* control: names print as they are */
	cr_assert(strstr(good, "\"patients\", with no filter, by age_band and sex.") != NULL, "%s",
	          good);
	cr_assert(strstr(bad, "spec cannot be put into words") != NULL, "%s", bad);
	cr_assert(strstr(bad, "(null)") == NULL, "%s", bad);
	free(good);
	free(bad);
}

/* A query that narrows down to one person (one age, one condition) reads
 * as such: every filter, in words, from the signed spec. */
Test(audit, explain_names_every_filter)
{
	char *text =
	    explain_text(explain_release,
	                 "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},"
	                 "\"where\":[{\"column\":\"age\",\"op\":\"=\",\"value\":67},"
	                 "{\"column\":\"ethnicity\",\"op\":\"in\",\"value\":[\"mixed\",\"other\"]},"
	                 "{\"column\":\"has_diabetes\",\"op\":\"=\",\"value\":\"1\"}],"
	                 "\"group_by\":[\"has_diabetes\"],\"planner\":\"ignored by the words\"}");
	static const char *const says[] = {
	    "asked for the count of people in dataset \"patients\" where age = 67 and ethnicity "
	    "in (\"mixed\", \"other\") and has_diabetes = \"1\", by has_diabetes.\n",
	    "  Filters, every one as the trusts applied it:\n"
	    "    age = 67\n"
	    "    ethnicity in (\"mixed\", \"other\")\n"
	    "    has_diabetes = \"1\"\n",
	};
	for (size_t i = 0; i < sizeof says / sizeof says[0]; i++)
		cr_assert(strstr(text, says[i]) != NULL, "missing \"%s\" in:\n%s", says[i], text);
	free(text);
}

Test(audit, explain_refuses_json_that_is_not_an_object)
{
	struct tly_translog_found found;
	uint8_t id[TLY_QUERY_ID_BYTES] = {0};
	char *text = NULL, why[256] = "";
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	memset(&found, 0, sizeof found);
	found.outcome = TLY_TRANSLOG_RELEASED;
	found.release_json = strdup("[1,2]");
	found.spec_json = strdup("{}");
	cr_assert_eq(tly_audit_explain_found(&found, id, "log.db", out, why, sizeof why),
	             TLY_EFORMAT);
	cr_assert(strstr(why, "log.db: entry 0: unreadable JSON") != NULL, "%s", why);
	fclose(out);
	free(text);
	tly_translog_found_fini(&found);
}

/* The log head a node verified is in its signed ledger entry and in its
 * receipt (ledger and receipt v3); the audit checks both against the log.
 * bad_root: the head's root is not the log's (re-signed with the
 * coordinator's key, so only the root check can catch it). in_log: the
 * receipt is carried into the log (else only the ledger holds the head). */
static void
build_with_head(struct fed *f, int bad_root, int in_log)
{
	struct fed_query q;
	struct tly_translog_record rec;
	struct tly_log_commit *c = calloc(1, sizeof *c);
	struct tly_buf receipt;
	char why[256];

	cr_assert_not_null(c);
	fed_init(f, 3);
	fed_query(f, &q, "0.5");
	memset(&rec, 0, sizeof rec);
	memcpy(rec.query_id, q.id, sizeof rec.query_id);
	memcpy(rec.query_hash, q.hash, sizeof rec.query_hash);
	rec.protocol = TLY_PROTOCOL_COMMITTEE;
	rec.threshold = 2;
	rec.degree = 3;
	rec.outcome = TLY_TRANSLOG_COMMITTED;
	rec.spec_json = q.canonical;
	rec.spec_len = q.canonical_len;
	cr_assert_eq(tly_translog_commit(f->log, &rec, NULL, 0, c, why, sizeof why), TLY_OK, "%s",
	             why);
	if (bad_root) {
		c->head.root[5] ^= 0x40;
		cr_assert_eq(tly_head_sign(&c->head, f->coordinator.sign), TLY_OK);
	}
	struct tly_log_head_field head = {.size = c->head.size};
	memcpy(head.root, c->head.root, sizeof head.root);
	memcpy(head.signature, c->head.signature, sizeof head.signature);
	tly_buf_init(&receipt);
	fed_charge_with_head(f, 1, &q, &head, &receipt);
	cr_assert_eq(fed_append(f, &q, TLY_TRANSLOG_ABORTED, NULL, NULL, 0, NULL, 0, &receipt,
	                        in_log ? 1 : 0, why, sizeof why),
	             TLY_OK, "%s", why);
	tly_buf_fini(&receipt);
	fed_query_fini(&q);
	free(c);
	fed_close(f);
}

Test(audit, log_heads_in_entries_and_receipts_are_checked)
{
	struct fed f;
	struct tly_audit_finding finding;
	char *text = NULL;

	/* The true head, in the ledger entry and the receipt: verifies. */
	build_with_head(&f, 0, 1);
	cr_assert_eq(audit(&f, &finding, &text), TLY_OK, "%s", text);
	free(text);
	fed_fini(&f);
	/* A receipt in the log with a head the log does not contain. */
	build_with_head(&f, 1, 1);
	expect_finding(&f, TLY_EAUTH, f.log_path, 2,
	               "the receipt of node 1: fork: the log's first 1 entries have another root");
	fed_fini(&f);
	/* The same head only in the node's signed ledger entry. */
	build_with_head(&f, 1, 0);
	expect_finding(&f, TLY_EAUTH, f.ledger_path[1], 0, "log head of size 1 (root");
	text = NULL;
	cr_assert_eq(audit(&f, &finding, &text), TLY_EAUTH);
	cr_assert(strstr(finding.reason, "node 1, query ") != NULL &&
	              strstr(finding.reason, "fork: the log's first 1 entries have another root"),
	          "%s", finding.reason);
	free(text);
	fed_fini(&f);
}

/* A masking round's t and k as every node checked them on the QUERY:
 * 2 <= t <= k and 2t > k. A log that claims otherwise fails the audit. */
Test(audit, masking_threshold_rule)
{
	static const struct {
		uint16_t t, k;
		int ok;
	} cases[] = {{3, 4, 1}, {2, 2, 1}, {2, 4, 0}, {1, 1, 0}, {5, 4, 0}};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fed f;
		struct fed_query q;
		uint32_t all[] = {1, 2, 3};
		char *text = NULL;
		struct tly_audit_finding finding;

		fed_init(&f, 3);
		f.protocol = TLY_PROTOCOL_SECAGG_PLUS;
		f.threshold = cases[i].t;
		f.degree = cases[i].k;
		fed_query(&f, &q, "1");
		fed_release(&f, &q, all, 3, NULL, 0);
		tly_err rv = audit(&f, &finding, &text);
		if (cases[i].ok)
			cr_assert_eq(rv, TLY_OK, "t %u k %u: %s", cases[i].t, cases[i].k, text);
		else
			cr_assert(rv != TLY_OK &&
			              strstr(finding.reason, "masking threshold") != NULL,
			          "t %u k %u: %s", cases[i].t, cases[i].k, text);
		free(text);
		fed_query_fini(&q);
		fed_fini(&f);
	}
}

/* Issue 15: a charged figure that is no terminating decimal reads as a
 * decimal rounded up, its exact fraction beside it. */
Test(audit, explain_gives_a_decimal_for_a_fraction)
{
	char *text = explain_text(
	    "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"contributors\":3,"
	    "\"privacy\":{\"mechanism\":\"laplace\",\"epsilon\":0.333,\"epsilon_exact\":\"1/3\"},"
	    "\"cells\":[]}",
	    "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"where\":[]}");

	cr_assert(strstr(text, "with epsilon = 0.333334 (rounded up; exactly 1/3) (what every "
	                       "trust\n") != NULL,
	          "%s", text);
	free(text);
}
