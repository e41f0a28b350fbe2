/* Rotating a node's keys and certificate on a served federation of real
 * daemons, as docs/OPERATIONS.md ("Rotating keys and certificates") says:
 * a new TLS certificate and key-agreement key for node 2, the registry
 * updated, every daemon restarted; a query is answered and node 2's ledger
 * and every log still verify. A signing key replaced in the registry: a
 * process still using the old key is refused at the handshake. And the
 * whole signing-key rotation: the ledger handed over to the new key, the
 * old one retired in the registry, the ledger and the log verifying. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/daemons.h"
#include "tests/demo.h"

static struct dmn_demo demo;

static void
setup(void)
{
	dmn_demo_init(&demo, "rotation");
	dmn_demo_serve(&demo, 3, 3000, 1);
}

static void
teardown(void)
{
	dmn_demo_fini(&demo);
}

TestSuite(rotation, .init = setup, .fini = teardown, .timeout = 600);

static int
run(const char *const argv[])
{
	return dmn_demo_run(&demo, argv);
}

static void
ask(void)
{
	char conf[300];
	snprintf(conf, sizeof conf, "%s/planner.conf", demo.dir);
	cr_assert_eq(run((const char *const[]){"tally", "query", "--config", conf, "--count",
	                                       "--by", "sex", "--epsilon", "0.1", NULL}),
	             0, "the query failed");
}

/* The value of `key = ` after "[node 2]" in a registry or keygen output
 * text, 64 hex digits, into out[65]. */
static void
value_of(const char *text, const char *key, char *out)
{
	char needle[32];
	snprintf(needle, sizeof needle, "%s = ", key);
	const char *at = strstr(text, needle);
	cr_assert_not_null(at, "no %s in:\n%s", key, text);
	snprintf(out, 65, "%.64s", at + strlen(needle));
}

/* node 2's [node 2] stanza of DIR/registry.ini onwards, malloc'd. */
static char *
node_2_stanza(void)
{
	char path[300];
	dmn_demo_path(&demo, path, sizeof path, "registry.ini");
	char *text = dmn_slurp(path, NULL), *stanza = strstr(text, "[node 2]");
	cr_assert_not_null(stanza);
	char *copy = strdup(stanza);
	free(text);
	return copy;
}

/* `tally-node keygen --out DIR/site-2/keys-new`: the new public keys. */
static void
keygen(char sign_pk[65], char kx_pk[65])
{
	char keys[300], out[300];
	dmn_demo_path(&demo, keys, sizeof keys, "site-2/keys-new");
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	cr_assert_eq(run((const char *const[]){"tally-node", "keygen", "--out", keys, NULL}), 0);
	char *text = dmn_slurp(out, NULL);
	value_of(text, "sign_pk", sign_pk);
	value_of(text, "kx_pk", kx_pk);
	free(text);
}

static void
restart(const char *name)
{
	cr_assert_eq(
	    run((const char *const[]){"tally", "demo", "--restart", name, "--dir", demo.dir, NULL}),
	    0, "tally demo --restart %s failed", name);
}

/* After a rotation and a second query: node 2's ledger (2 entries) and
 * the whole federation's audit pass. */
static void
verify_node_2_and_the_log(void)
{
	char conf[300], out[300];
	dmn_demo_path(&demo, conf, sizeof conf, "site-2/node.conf");
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	cr_assert_eq(
	    run((const char *const[]){"tally-node", "ledger", "verify", "--config", conf, NULL}),
	    0);
	cr_assert(dmn_file_has(out, "ledger ok: 2 entries"));
	cr_assert_eq(
	    run((const char *const[]){"tally", "audit", "verify", "--dir", demo.dir, NULL}), 0,
	    "tally audit verify failed after the rotation");
}

Test(rotation, certificate_and_kx_key)
{
	char sign_pk[65], kx_pk[65], old_kx[65], path[300], ca[300], out_dir[300];
	ask();
	char *stanza = node_2_stanza();
	value_of(stanza, "kx_pk", old_kx);
	free(stanza);

	/* The trust: a new key pair (only its kx half is used here) and a
	 * certificate from the node CA; the ICS: the registry. */
	keygen(sign_pk, kx_pk);
	dmn_demo_path(&demo, ca, sizeof ca, "pki");
	dmn_demo_path(&demo, out_dir, sizeof out_dir, "site-2/pki-new");
	cr_assert_eq(run((const char *const[]){"tally", "pki", "issue", "--dir", ca, "--name",
	                                       "node-2", "--role", "node", "--out", out_dir, NULL}),
	             0);
	dmn_demo_path(&demo, path, sizeof path, "registry.ini");
	dmn_edit_file(path, old_kx, kx_pk);
	dmn_demo_path(&demo, path, sizeof path, "site-2/node.conf");
	dmn_edit_file(path, "kx_key = keys/node.kx", "kx_key = keys-new/node.kx");
	dmn_edit_file(path, "tls_cert = pki/node-2.crt", "tls_cert = pki-new/node-2.crt");
	dmn_edit_file(path, "tls_key = pki/node-2.key", "tls_key = pki-new/node-2.key");

	/* Every daemon reads the registry at start: restart them all. */
	restart("coordinator");
	restart("node-1");
	restart("node-2");
	restart("node-3");
	ask();
	verify_node_2_and_the_log();
}

Test(rotation, an_old_signing_key_is_refused_at_the_handshake)
{
	char sign_pk[65], kx_pk[65], old_sign[65], path[300], old_registry[300], log[300];
	char *stanza = node_2_stanza();
	value_of(stanza, "sign_pk", old_sign);
	free(stanza);

	/* The impostor keeps node 2's old keys and the old registry. */
	dmn_demo_path(&demo, path, sizeof path, "registry.ini");
	dmn_demo_path(&demo, old_registry, sizeof old_registry, "registry-old.ini");
	char *text = dmn_slurp(path, NULL);
	FILE *f = fopen(old_registry, "w");
	cr_assert(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0);
	free(text);
	dmn_demo_stop(&demo, "node-2", 10000);
	dmn_demo_path(&demo, path, sizeof path, "site-2/node.conf");
	dmn_edit_file(path, "registry = ../registry.ini", "registry = ../registry-old.ini");

	/* The ICS replaces node 2's signing key and restarts the coordinator. */
	keygen(sign_pk, kx_pk);
	dmn_demo_path(&demo, path, sizeof path, "registry.ini");
	dmn_edit_file(path, old_sign, sign_pk);
	restart("coordinator");

	dmn_demo_path(&demo, log, sizeof log, "logs/node-2.log");
	dmn_demo_start(&demo, "node-2", log, 1);
	dmn_demo_path(&demo, path, sizeof path, "logs/coordinator.log");
	dmn_wait_for_line(path, "refused: HELLO signature for node 2 does not verify", 60000);
	cr_assert_eq(dmn_demo_connected(&demo, 20000), 2, "the old key was let in");
	cr_assert_eq(dmn_count_in(path, "node 2 connected"), 1, "node 2 connected after restart");
}

/* A registry copy without node 2's retired_sign_pk line: the auditor
 * who was never told of the rotation. */
static void
registry_without_retired(const char *retired_line, char *out, size_t len)
{
	char path[300];
	dmn_demo_path(&demo, path, sizeof path, "registry.ini");
	dmn_demo_path(&demo, out, len, "registry-unretired.ini");
	char *text = dmn_slurp(path, NULL);
	FILE *f = fopen(out, "w");
	cr_assert(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0);
	free(text);
	dmn_edit_file(out, retired_line, "");
}

/* The whole rotation of docs/OPERATIONS.md §8: node 2 stopped, its ledger
 * handed over to a new signing key, the registry's sign_pk replaced and the
 * old key kept as retired_sign_pk, every daemon restarted. A query is
 * answered under the new key, and node 2's ledger and the log (old
 * receipts and new) verify. Negative control: the same audit against a
 * registry that does not list the retired key fails. */
Test(rotation, signing_key_with_ledger_handover)
{
	char sign_pk[65], kx_pk[65], old_sign[65], path[300], conf[300], out[300], log[300];
	char retired[100], unretired[300], ledger[300], tlog[300];
	ask();
	char *stanza = node_2_stanza();
	value_of(stanza, "sign_pk", old_sign);
	free(stanza);

	keygen(sign_pk, kx_pk);
	dmn_demo_stop(&demo, "node-2", 10000);
	dmn_demo_path(&demo, conf, sizeof conf, "site-2/node.conf");
	dmn_demo_path(&demo, path, sizeof path, "site-2/keys-new/node.sign");
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	cr_assert_eq(run((const char *const[]){"tally-node", "ledger", "handover", "--config", conf,
	                                       "--new-sign-key", path, NULL}),
	             0, "the handover failed");
	snprintf(retired, sizeof retired, "retired_sign_pk = %s", old_sign);
	cr_assert(dmn_file_has(out, retired), "the handover does not print the retired key");
	cr_assert(dmn_file_has(out, "signs from entry 2 on"));

	/* A second handover from the old key is refused: it is no longer in force. */
	cr_assert_neq(run((const char *const[]){"tally-node", "ledger", "handover", "--config",
	                                        conf, "--new-sign-key", path, NULL}),
	              0, "a retired key handed the ledger over again");
	cr_assert(dmn_file_has(out, "another node signing key"));

	dmn_edit_file(conf, "sign_key = keys/node.sign", "sign_key = keys-new/node.sign");
	dmn_demo_path(&demo, path, sizeof path, "registry.ini");
	char replaced[200];
	snprintf(replaced, sizeof replaced, "sign_pk = %s\n%s", sign_pk, retired);
	dmn_edit_file(path, old_sign, sign_pk);
	snprintf(retired, sizeof retired, "sign_pk = %s", sign_pk);
	dmn_edit_file(path, retired, replaced);
	restart("coordinator");
	restart("node-1");
	restart("node-3");
	dmn_demo_path(&demo, log, sizeof log, "logs/node-2.log");
	dmn_demo_start(&demo, "node-2", log, 1);
	dmn_demo_wait_connected(&demo, 3, 20000, 600);
	/* The public feed across the rotation, before any receipt under the
	 * new key: node 2's receipts in it are signed with the key now
	 * retired. */
	char feed[300];
	dmn_demo_path(&demo, feed, sizeof feed, "feed.json");
	cr_assert_eq(run((const char *const[]){"tally", "audit", "export", "--dir", demo.dir,
	                                       "--out", feed, NULL}),
	             0, "no feed after the rotation");
	cr_assert_eq(run((const char *const[]){"tally", "audit", "verify", "--feed", feed, "--dir",
	                                       demo.dir, NULL}),
	             0, "the feed does not verify after the rotation");
	ask();
	verify_node_2_and_the_log();
	cr_assert(dmn_file_has(out, "handed over before entry 2"));

	snprintf(retired, sizeof retired, "retired_sign_pk = %s\n", old_sign);
	registry_without_retired(retired, unretired, sizeof unretired);
	dmn_demo_path(&demo, ledger, sizeof ledger, "site-2/state/ledger.db");
	dmn_demo_path(&demo, tlog, sizeof tlog, "coordinator/state/transparency.db");
	cr_assert_eq(run((const char *const[]){"tally", "audit", "verify", "--log", tlog,
	                                       "--registry", unretired, "--ledger", ledger, NULL}),
	             1, "the audit passed without the retired key in the registry");
	cr_assert(dmn_file_has(out, "registry keys (sign_pk and retired_sign_pk)"));
}

/* `tally-node ledger handover` refuses, with exit 2 or 1 and a line that
 * names the problem, and writes nothing: no new key given, a key file
 * that is not there, an option of another subcommand, the key in use as
 * the new one, and a ledger that does not verify. */
Test(rotation, handover_refuses_bad_input)
{
	char conf[300], out[300], err[300], path[300], ledger[300];
	dmn_demo_path(&demo, conf, sizeof conf, "site-2/node.conf");
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	dmn_demo_path(&demo, err, sizeof err, "err.txt");
	ask();
	dmn_demo_stop(&demo, "node-2", 10000);
	static const struct {
		const char *new_key; /* NULL: not given */
		const char *extra;   /* an extra option, or NULL */
		int code;
		const char *says;
	} cases[] = {
	    {NULL, NULL, 2, "--new-sign-key FILE is required"},
	    {"site-2/keys/none.sign", NULL, 1, "none.sign"},
	    {"site-2/keys/node.sign", "--format", 2, "--format is not an option of it"},
	    {"site-2/keys/node.sign", NULL, 2, "the new key is the key in use"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *argv[10] = {"tally-node", "ledger", "handover", "--config", conf};
		int n = 5;
		if (cases[i].new_key != NULL) {
			dmn_demo_path(&demo, path, sizeof path, cases[i].new_key);
			argv[n++] = "--new-sign-key";
			argv[n++] = path;
		}
		if (cases[i].extra != NULL) {
			argv[n++] = cases[i].extra;
			argv[n++] = "csv";
		}
		int rc = dmn_demo_run_split(&demo, out, err, argv);
		cr_expect_eq(rc, cases[i].code, "case %zu: exit %d", i, rc);
		cr_expect(dmn_file_has(err, cases[i].says), "case %zu: no \"%s\"", i,
		          cases[i].says);
	}
	/* A ledger that does not verify is not handed on. */
	char sign_pk[65], kx_pk[65];
	keygen(sign_pk, kx_pk);
	dmn_demo_path(&demo, ledger, sizeof ledger, "site-2/state/ledger.db");
	char sql[400];
	snprintf(sql, sizeof sql,
	         "sqlite3 %s 'DROP TRIGGER entries_no_update; UPDATE entries SET amount_num = 2'",
	         ledger);
	cr_assert_eq(system(sql), 0);
	dmn_demo_path(&demo, path, sizeof path, "site-2/keys-new/node.sign");
	cr_expect_eq(
	    dmn_demo_run_split(&demo, out, err,
	                       (const char *const[]){"tally-node", "ledger", "handover", "--config",
	                                             conf, "--new-sign-key", path, NULL}),
	    1);
	cr_expect(dmn_file_has(err, "the ledger does not verify (entry 1"), "no verify failure");
	cr_expect(dmn_file_has(err, "not handed over"));
	snprintf(sql, sizeof sql, "test \"$(sqlite3 %s 'SELECT count(*) FROM key_handovers')\" = 0",
	         ledger);
	cr_expect_eq(system(sql), 0, "a handover was written");
}
