/*
 * test_feed.c - the public release feed (coordinator/feed.h): `tally audit
 * export`, `tally audit verify --feed`, and GET /public/feed.json, on the
 * logs of real `tally demo` federations (real daemons, queries, receipts
 * and heads).
 *
 *   - an export after three queries verifies (also against the nodes'
 *     ledgers), lists every release up to its head, and is the same bytes
 *     however it is asked for;
 *   - a tampered value, spec, epsilon, trust, name, words, time, planner,
 *     entry or signature fails naming the release and the field;
 *   - a release removed (with or without renumbering), passed off as
 *     another outcome, reordered or duplicated fails against the head; so
 *     does a wrong "releases" count;
 *   - a wrong registry, a wrong witness, malformed JSON and usage errors
 *     are refused with their exit codes and a message naming the field;
 *   - a ledger holding a head (signed by the coordinator) that the feed's
 *     entries do not rebuild fails as a split view;
 *   - the coordinator serves nothing at /public/feed.json by default (404
 *     on the API), and with [api] public_feed serves the exported bytes
 *     without a certificate, 404 elsewhere, 405 to POST, rebuilt after a
 *     new query.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "coordinator/config.h"
#include "coordinator/feed.h"
#include "net/transport.h"
#include "store/keys.h"
#include "tests/daemons.h"
#include "tests/demo.h"
#include "wire/codec.h"
#include "wire/hex.h"
#include "wire/party.h"

static struct dmn_demo demo;

static void
stop_demo(void)
{
	dmn_demo_fini(&demo);
}

static void
path_in(char *out, size_t len, const char *rel)
{
	dmn_demo_path(&demo, out, len, rel);
}

/* The files of the demo run_demo_and_export made. */
static struct {
	char feed[300], registry[300], log[300];
} files;

/* A finished `tally demo` of three sites (three queries), and its feed
 * exported to DIR/feed.json; their paths in `files`. */
static void
run_demo_and_export(void)
{
	char *feed = files.feed;

	dmn_demo_init(&demo, "feed");
	path_in(files.registry, sizeof files.registry, "registry.ini");
	path_in(files.log, sizeof files.log, "coordinator/state/transparency.db");
	cr_assert_eq(dmn_demo_run(&demo, (const char *const[]){"tally", "demo", "--dir", demo.dir,
	                                                       "--sites", "3", "--people", "2000",
	                                                       "--seed", "1", NULL}),
	             0);
	path_in(feed, sizeof files.feed, "feed.json");
	cr_assert_eq(dmn_demo_run(&demo, (const char *const[]){"tally", "audit", "export", "--dir",
	                                                       demo.dir, "--out", feed, NULL}),
	             0);
}

/* Run argv (a tally command) in the demo: exit code, stderr into *err. */
static int
audit(char **err, const char *const argv[])
{
	char out[300], errp[300];
	path_in(out, sizeof out, "audit.out");
	path_in(errp, sizeof errp, "audit.err");
	int code = dmn_demo_run_split(&demo, out, errp, argv);
	*err = dmn_slurp_or_empty(errp, NULL);
	return code;
}

/* `tally audit verify --feed FILE --dir DIR`: exit code; stderr in *err. */
static int
verify_cli(const char *feed, char **err)
{
	return audit(err, (const char *const[]){"tally", "audit", "verify", "--feed", feed, "--dir",
	                                        demo.dir, NULL});
}

/* ---- in-process checks on a mutated feed ---- */

struct keys {
	struct tly_roster roster;
	struct tly_feed_names names;
};

static void
keys_load(struct keys *k)
{
	char why[512];
	const char *registry = files.registry;
	cr_assert_eq(tly_registry_load(&k->roster, registry, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_feed_names_load(&k->names, registry, why, sizeof why), TLY_OK, "%s", why);
}

static void
keys_fini(struct keys *k)
{
	tly_roster_fini(&k->roster);
	tly_feed_names_fini(&k->names);
}

static json_t *
load_feed(void)
{
	char path[300];
	json_error_t error;
	path_in(path, sizeof path, "feed.json");
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
	cr_assert_not_null(doc, "%s", error.text);
	return doc;
}

/* Verify doc as dumped the feed's way: the result, and the report. */
static tly_err
verify_doc(const struct keys *k, const json_t *doc, struct tly_feed_report *report)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
	cr_assert_not_null(text);
	tly_err rv = tly_feed_verify(text, strlen(text), &k->roster, &k->names, report);
	free(text);
	return rv;
}

/* The index of the first release in the feed's entries. */
static size_t
first_release(const json_t *doc)
{
	const json_t *entries = json_object_get(doc, "entries");
	for (size_t i = 0; i < json_array_size(entries); i++)
		if (strcmp(
		        json_string_value(json_object_get(json_array_get(entries, i), "outcome")),
		        "released") == 0)
			return i;
	cr_assert_fail("no release in the feed");
	return 0;
}

/* Apply mutate to a fresh copy of the feed's first release and expect a
 * failure naming that release and, when field is not NULL, the field. */
static void
expect_tamper_fails(const struct keys *k, void (*mutate)(json_t *release), const char *field)
{
	json_t *doc = load_feed();
	size_t at = first_release(doc);
	json_t *release = json_array_get(json_object_get(doc, "entries"), at);
	char name[64];
	struct tly_feed_report report;

	mutate(release);
	tly_err rv = verify_doc(k, doc, &report);
	snprintf(name, sizeof name, "release seq %zu", at + 1);
	cr_assert_eq(rv, TLY_EAUTH, "%s: %s", field, report.reason);
	cr_assert_eq(report.bad_seq, at + 1, "%s", report.reason);
	cr_assert(strstr(report.reason, name) != NULL, "%s", report.reason);
	if (field != NULL)
		cr_assert(strstr(report.reason, field) != NULL, "%s: %s", field, report.reason);
	tly_feed_report_fini(&report);
	json_decref(doc);
}

static void
bump_value(json_t *r)
{
	json_t *cell = json_array_get(json_object_get(json_object_get(r, "release"), "cells"), 0);
	json_t *v = json_object_get(cell, "value");
	json_object_set_new(cell, "value", json_integer(json_integer_value(v) + 1));
}

static void
spec_epsilon(json_t *r)
{
	json_object_set_new(json_object_get(json_object_get(r, "spec"), "privacy"), "epsilon",
	                    json_string("1/10"));
}

static void
privacy_epsilon(json_t *r)
{
	json_object_set_new(json_object_get(r, "privacy"), "epsilon", json_real(0.05));
}

static void
trust_id(json_t *r)
{
	json_object_set_new(json_array_get(json_object_get(r, "trusts"), 0), "id", json_integer(9));
}

static void
trust_name(json_t *r)
{
	json_object_set_new(json_array_get(json_object_get(r, "trusts"), 0), "name",
	                    json_string("Another Trust"));
}

static void
drop_trust(json_t *r)
{
	json_array_remove(json_object_get(r, "trusts"), 0);
}

/* Set one top-level key of the release item to a string. */
static const char *set_key, *set_text;

static void
set_string(json_t *r)
{
	json_object_set_new(r, set_key, json_string(set_text));
}

static void
entry_byte(json_t *r)
{
	char *entry = strdup(json_string_value(json_object_get(r, "entry")));
	entry[40] = entry[40] == 'A' ? 'B' : 'A';
	json_object_set_new(r, "entry", json_string(entry));
	free(entry);
}

static void
signature(json_t *r)
{
	char *sig = strdup(json_string_value(json_object_get(r, "signature")));
	sig[0] = sig[0] == '0' ? '1' : '0';
	json_object_set_new(r, "signature", json_string(sig));
	free(sig);
}

Test(feed, export_verifies_and_is_the_same_bytes, .fini = stop_demo, .timeout = 300)
{
	char again[300], ledger[3][300], *err = NULL;
	const char *feed = files.feed, *registry = files.registry, *log = files.log;
	run_demo_and_export();
	path_in(again, sizeof again, "again.json");
	for (int i = 0; i < 3; i++) {
		char rel[64];
		snprintf(rel, sizeof rel, "site-%d/state/ledger.db", i + 1);
		path_in(ledger[i], sizeof ledger[i], rel);
	}
	cr_assert_eq(verify_cli(files.feed, &err), 0, "%s", err);
	free(err);
	cr_assert_eq(
	    dmn_demo_run(&demo,
	                 (const char *const[]){"tally", "audit", "verify", "--feed", feed,
	                                       "--registry", registry, "--ledger", ledger[0],
	                                       "--ledger", ledger[1], "--ledger", ledger[2], NULL}),
	    0);
	cr_assert_eq(dmn_demo_run(&demo, (const char *const[]){"tally", "audit", "export", "--log",
	                                                       log, "--registry", registry, "--out",
	                                                       again, NULL}),
	             0);
	size_t a_len, b_len;
	char *a = dmn_slurp(feed, &a_len), *b = dmn_slurp(again, &b_len);
	cr_assert(a_len == b_len && memcmp(a, b, a_len) == 0, "two exports differ");
	free(a);
	free(b);
	/* What it lists: the log's first H entries, every release among them
	 * with its trusts (the release's own list), words and privacy. */
	json_t *doc = load_feed();
	json_t *entries = json_object_get(doc, "entries");
	json_int_t size = json_integer_value(json_object_get(json_object_get(doc, "head"), "size"));
	cr_assert_eq((json_int_t)json_array_size(entries), size);
	/* Three queries: two releases under the head, the third in the tail
	 * (its own commit is the head's last entry). */
	cr_assert_eq(json_integer_value(json_object_get(doc, "releases")), 2);
	json_t *tail = json_object_get(doc, "tail");
	cr_assert_eq(json_array_size(tail), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(tail, 0), "seq")), size + 1);
	json_t *r = json_array_get(entries, first_release(doc));
	json_t *trusts = json_object_get(r, "trusts"),
	       *ids = json_object_get(json_object_get(r, "release"), "trusts");
	cr_assert_eq(json_array_size(trusts), json_array_size(ids));
	for (size_t i = 0; i < json_array_size(ids); i++)
		cr_assert_eq(json_integer_value(json_object_get(json_array_get(trusts, i), "id")),
		             json_integer_value(json_array_get(ids, i)));
	cr_assert(strstr(json_string_value(json_object_get(r, "words")), "count of") != NULL);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r, "privacy"), "mechanism")),
	    "laplace");
	cr_assert_not_null(json_object_get(json_object_get(r, "privacy"), "noise_sd"));
	json_decref(doc);
}

Test(feed, tampered_release_fails_naming_it, .fini = stop_demo, .timeout = 300)
{
	struct keys k;
	struct tly_feed_report report;
	run_demo_and_export();
	keys_load(&k);
	json_t *doc = load_feed();
	cr_assert_eq(verify_doc(&k, doc, &report), TLY_OK, "%s", report.reason);
	cr_assert_eq(report.releases,
	             (uint64_t)json_integer_value(json_object_get(doc, "releases")));
	tly_feed_report_fini(&report);
	json_decref(doc);
	expect_tamper_fails(&k, bump_value, "\"release\"");
	expect_tamper_fails(&k, spec_epsilon, "\"spec\"");
	expect_tamper_fails(&k, privacy_epsilon, "\"privacy\"");
	expect_tamper_fails(&k, trust_id, "\"trusts\"");
	expect_tamper_fails(&k, trust_name, "\"trusts\"");
	expect_tamper_fails(&k, drop_trust, "\"trusts\"");
	static const char *const sets[][2] = {
	    {"words", "count of people in dataset \"patients\""},
	    {"time", "2020-01-01T00:00:00Z"},
	    {"planner", "someone-else"},
	    {"query_id", "00000000000000000000000000000000"},
	    {"note", "trust us"},
	};
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
		char field[64];
		set_key = sets[i][0];
		set_text = sets[i][1];
		snprintf(field, sizeof field, "\"%s\"", set_key);
		expect_tamper_fails(&k, set_string, field);
	}
	expect_tamper_fails(&k, entry_byte, NULL);
	expect_tamper_fails(&k, signature, "\"signature\"");
	keys_fini(&k);
	/* The command line: exit 1, naming the release. */
	char bad[300], *err = NULL;
	path_in(bad, sizeof bad, "bad.json");
	doc = load_feed();
	json_t *r = json_array_get(json_object_get(doc, "entries"), first_release(doc));
	bump_value(r);
	cr_assert_eq(json_dump_file(doc, bad, JSON_COMPACT | JSON_REAL_PRECISION(15)), 0);
	json_decref(doc);
	cr_assert_eq(verify_cli(bad, &err), 1, "%s", err);
	cr_assert(strstr(err, "release seq") != NULL && strstr(err, "\"release\"") != NULL, "%s",
	          err);
	free(err);
}

/* Mutate the whole document and expect TLY_EAUTH with reason. */
static void
expect_doc_fails(const struct keys *k, void (*mutate)(json_t *doc), const char *reason)
{
	struct tly_feed_report report;
	json_t *doc = load_feed();
	mutate(doc);
	tly_err rv = verify_doc(k, doc, &report);
	cr_assert_neq(rv, TLY_OK, "%s passed", reason);
	cr_assert(strstr(report.reason, reason) != NULL, "want \"%s\", got: %s", reason,
	          report.reason);
	tly_feed_report_fini(&report);
	json_decref(doc);
}

static void
remove_release(json_t *doc)
{
	json_array_remove(json_object_get(doc, "entries"), first_release(doc));
}

/* Remove the release and renumber what follows (and the count), so that
 * the sequence is whole: only the root can tell. */
static void
remove_and_renumber(json_t *doc)
{
	json_t *entries = json_object_get(doc, "entries");
	size_t at = first_release(doc);
	json_array_remove(entries, at);
	for (size_t i = at; i < json_array_size(entries); i++)
		json_object_set_new(json_array_get(entries, i), "seq",
		                    json_integer((json_int_t)i + 1));
	json_object_set_new(doc, "releases",
	                    json_integer(json_integer_value(json_object_get(doc, "releases")) - 1));
}

/* The release shown as an aborted entry's leaf fields. */
static void
release_as_aborted(json_t *doc)
{
	json_t *entries = json_object_get(doc, "entries");
	size_t at = first_release(doc);
	json_t *r = json_array_get(entries, at);
	json_t *leaf =
	    json_pack("{s:O, s:s, s:O, s:s, s:s}", "seq", json_object_get(r, "seq"), "outcome",
	              "aborted", "query_id", json_object_get(r, "query_id"), "query_hash",
	              "00000000000000000000000000000000"
	              "00000000000000000000000000000000",
	              "entry_hash",
	              "00000000000000000000000000000000"
	              "00000000000000000000000000000000");
	json_array_set_new(entries, at, leaf);
	json_object_set_new(doc, "releases",
	                    json_integer(json_integer_value(json_object_get(doc, "releases")) - 1));
}

static void
swap_first_two(json_t *doc)
{
	json_t *entries = json_object_get(doc, "entries");
	json_t *first = json_incref(json_array_get(entries, 0));
	json_array_remove(entries, 0);
	json_array_insert_new(entries, 1, first);
}

static void
duplicate_release(json_t *doc)
{
	json_t *entries = json_object_get(doc, "entries");
	size_t at = first_release(doc);
	json_array_insert(entries, at + 1, json_array_get(entries, at));
}

static void
wrong_count(json_t *doc)
{
	json_object_set_new(doc, "releases", json_integer(0));
}

static void
smaller_head(json_t *doc)
{
	json_t *entries = json_object_get(doc, "entries");
	json_array_remove(entries, json_array_size(entries) - 1);
	json_object_set_new(json_object_get(doc, "head"), "size",
	                    json_integer((json_int_t)json_array_size(entries)));
}

static void
tail_value(json_t *doc)
{
	json_t *r = json_array_get(json_object_get(doc, "tail"), 0);
	json_t *cell = json_array_get(json_object_get(json_object_get(r, "release"), "cells"), 1);
	json_object_set_new(cell, "value",
	                    json_integer(json_integer_value(json_object_get(cell, "value")) + 5));
}

/* A leaf in the tail (the tail holds releases only). */
static void
tail_leaf(json_t *doc)
{
	json_t *entries = json_object_get(doc, "entries");
	json_t *last = json_deep_copy(json_array_get(entries, json_array_size(entries) - 1));
	json_object_set_new(last, "seq", json_integer((json_int_t)json_array_size(entries) + 1));
	json_array_set_new(json_object_get(doc, "tail"), 0, last);
}

/* The tail's release re-signed by the coordinator's own key with another
 * prev_hash (the last 32 bytes of an entry, coordinator/translog.h): a
 * release that is signed but does not continue the log. */
static void
tail_unchained(json_t *doc)
{
	char key_path[300], why[512];
	struct tly_identity coordinator;
	json_t *r = json_array_get(json_object_get(doc, "tail"), 0);
	const char *b64 = json_string_value(json_object_get(r, "entry"));
	size_t len = 0, cap = strlen(b64);
	uint8_t *bytes = malloc(cap), hash[TLY_HASH_BYTES], sig[TLY_SIGN_BYTES];
	char *text = malloc(2 * cap + 8), sig_hex[2 * TLY_SIGN_BYTES + 1];

	cr_assert(bytes != NULL && text != NULL);
	cr_assert_eq(sodium_base642bin(bytes, cap, b64, cap, NULL, &len, NULL,
	                               sodium_base64_VARIANT_ORIGINAL),
	             0);
	bytes[len - 1] ^= 1;
	tly_hash(hash, "tally/translog/v1", bytes, len);
	cr_assert_geq(sodium_init(), 0);
	path_in(key_path, sizeof key_path, "coordinator/keys/coordinator.sign");
	cr_assert_eq(tly_identity_from_files(&coordinator, 0, key_path, NULL, why, sizeof why),
	             TLY_OK, "%s", why);
	cr_assert_eq(tly_sign(sig, coordinator.sign, hash, sizeof hash), TLY_OK);
	tly_identity_fini(&coordinator);
	sodium_bin2base64(text, 2 * cap + 8, bytes, len, sodium_base64_VARIANT_ORIGINAL);
	tly_hex(sig_hex, sig, sizeof sig);
	json_object_set_new(r, "entry", json_string(text));
	json_object_set_new(r, "signature", json_string(sig_hex));
	free(bytes);
	free(text);
}

static void
witness_node(json_t *doc)
{
	json_t *w = json_object_get(json_object_get(doc, "head"), "witness");
	json_object_set_new(w, "node",
	                    json_integer(json_integer_value(json_object_get(w, "node")) % 3 + 1));
}

Test(feed, missing_moved_or_repeated_release_fails_against_the_head, .fini = stop_demo,
     .timeout = 300)
{
	struct keys k;
	run_demo_and_export();
	keys_load(&k);
	expect_doc_fails(&k, remove_release, "missing, repeated or out of order");
	expect_doc_fails(&k, remove_and_renumber, "\"entry\" is entry");
	expect_doc_fails(&k, release_as_aborted, "do not rebuild the head's root");
	expect_doc_fails(&k, swap_first_two, "missing, repeated or out of order");
	expect_doc_fails(&k, duplicate_release, "missing, repeated or out of order");
	expect_doc_fails(&k, wrong_count, "\"releases\" says 0");
	expect_doc_fails(&k, smaller_head, "the head's signature");
	expect_doc_fails(&k, witness_node, "\"head.witness.receipt\" is not signed by node");
	expect_doc_fails(&k, tail_value, "\"release\" is not what its entry says");
	expect_doc_fails(&k, tail_leaf, "tail[0]: the tail holds releases only");
	expect_doc_fails(&k, tail_unchained, "does not follow entry");
	keys_fini(&k);
	/* The command line on a feed with a release removed: exit 1. */
	char bad[300], *err = NULL;
	path_in(bad, sizeof bad, "missing.json");
	json_t *doc = load_feed();
	remove_and_renumber(doc);
	cr_assert_eq(json_dump_file(doc, bad, JSON_COMPACT | JSON_REAL_PRECISION(15)), 0);
	json_decref(doc);
	cr_assert_eq(verify_cli(bad, &err), 1, "%s", err);
	cr_assert(strstr(err, "\"entry\" is entry") != NULL, "%s", err);
	free(err);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(feed, wrong_registry_malformed_feed_and_usage, .fini = stop_demo, .timeout = 300)
{
	char bad[300], other[300], *err = NULL;
	const char *feed = files.feed, *registry = files.registry;
	run_demo_and_export();
	path_in(bad, sizeof bad, "bad.json");
	path_in(other, sizeof other, "other.ini");
	/* A registry whose coordinator key is node 1's. */
	char *text = dmn_slurp(registry, NULL), *coord = strstr(text, "[coordinator]");
	char *node = strstr(text, "[node 1]");
	cr_assert(coord != NULL && node != NULL);
	char *coord_pk = strstr(coord, "sign_pk = ") + 10,
	     *node_pk = strstr(node, "sign_pk = ") + 10;
	memcpy(coord_pk, node_pk, 64);
	write_text(other, text);
	free(text);
	const char *wrong[] = {"tally", "audit",      "verify", "--feed",
	                       feed,    "--registry", other,    NULL};
	cr_assert_eq(audit(&err, wrong), 1, "%s", err);
	cr_assert(strstr(err, "not the coordinator's") != NULL, "%s", err);
	free(err);
	/* Malformed documents: exit 1, the problem named. */
	static const struct {
		const char *text, *named;
	} cases[] = {
	    {"{\"format\": \"tally-feed/1\", \"head\": ", "not JSON: line 1"},
	    {"[]", "not a JSON object"},
	    {"{\"format\": \"tally-feed/2\"}", "\"format\""},
	    {"{\"format\": \"tally-feed/1\", \"head\": {\"size\": 0}}", "\"head\""},
	    {"{\"format\": \"tally-feed/1\", \"head\": {\"size\": 1, \"root\": \"00\"}}",
	     "\"head\""},
	};
	const char *argv[] = {"tally", "audit",      "verify", "--feed",
	                      bad,     "--registry", registry, NULL};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_text(bad, cases[i].text);
		cr_assert_eq(audit(&err, argv), 1, "%s: %s", cases[i].text, err);
		cr_assert(strstr(err, cases[i].named) != NULL, "%s: %s", cases[i].text, err);
		free(err);
	}
	/* A leaf in upper-case hex is not the leaf the log writes (one form
	 * per value); the message names the key (the verifier once read it
	 * after freeing it: fuzz_feed found that). */
	json_t *leafy = load_feed();
	json_t *leaf = json_array_get(json_object_get(leafy, "entries"), 0);
	char *upper = strdup(json_string_value(json_object_get(leaf, "entry_hash")));
	for (char *p = upper; *p != '\0'; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
	json_object_set_new(leaf, "entry_hash", json_string(upper));
	free(upper);
	cr_assert_eq(json_dump_file(leafy, bad, JSON_COMPACT), 0);
	json_decref(leafy);
	cr_assert_eq(audit(&err, argv), 1, "%s", err);
	cr_assert(strstr(err, "entry 1: unexpected or malformed \"entry_hash\"") != NULL, "%s",
	          err);
	free(err);
	/* An entries array with a broken item names its place. */
	json_t *doc = load_feed();
	json_array_set_new(json_object_get(doc, "entries"), 0, json_string("x"));
	cr_assert_eq(json_dump_file(doc, bad, JSON_COMPACT), 0);
	json_decref(doc);
	cr_assert_eq(audit(&err, argv), 1, "%s", err);
	cr_assert(strstr(err, "entries[0]") != NULL, "%s", err);
	free(err);
	/* A file that is not there: 1; usage errors: 2. */
	const char *none[] = {"tally",      "audit",  "verify", "--feed", "/nonexistent/feed.json",
	                      "--registry", registry, NULL};
	cr_assert_eq(audit(&err, none), 1, "%s", err);
	free(err);
	const char *usage[][8] = {
	    {"tally", "audit", "verify", "--feed", feed, NULL},
	    {"tally", "audit", "verify", "--feed", feed, "--log", feed, NULL},
	    {"tally", "audit", "export", "--log", feed, NULL},
	    {"tally", "audit", "export", "--dir", demo.dir, "--feed", feed, NULL},
	    {"tally", "audit", "explain", "--dir", demo.dir, "--out", feed, NULL},
	};
	for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
		cr_assert_eq(audit(&err, usage[i]), 2, "case %zu: %s", i, err);
		free(err);
	}
}

/* registry.ini with `name = NAME` added under [node 1], into path. */
static void
registry_with_name(const char *path, const char *name)
{
	char line[400];
	const char *registry = files.registry;
	char *text = dmn_slurp(registry, NULL), *node = strstr(text, "[node 1]\n");
	cr_assert_not_null(node);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	size_t head = (size_t)(node - text) + strlen("[node 1]\n");
	snprintf(line, sizeof line, "name = %s\n", name);
	cr_assert(fwrite(text, 1, head, f) == head && fputs(line, f) >= 0 &&
	          fputs(text + head, f) >= 0);
	fclose(f);
	free(text);
}

Test(feed, trusts_are_named_as_the_registry_names_them, .fini = stop_demo, .timeout = 300)
{
	char named[300], out[300], *err = NULL;
	const char *log = files.log, *registry = files.registry;
	run_demo_and_export();
	path_in(named, sizeof named, "named.ini");
	path_in(out, sizeof out, "named.json");
	registry_with_name(named, "Example Hospitals NHS Trust");
	const char *export[] = {"tally",      "audit", "export", "--log", log,
	                        "--registry", named,   "--out",  out,     NULL};
	cr_assert_eq(audit(&err, export), 0, "%s", err);
	free(err);
	json_error_t error;
	json_t *doc = json_load_file(out, 0, &error);
	cr_assert_not_null(doc, "%s", error.text);
	json_t *r = json_array_get(json_object_get(doc, "entries"), first_release(doc));
	json_t *trust = json_array_get(json_object_get(r, "trusts"), 0);
	cr_assert_eq(json_integer_value(json_object_get(trust, "id")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(trust, "name")),
	                 "Example Hospitals NHS Trust");
	cr_assert(
	    json_is_null(json_object_get(json_array_get(json_object_get(r, "trusts"), 1), "name")));
	json_decref(doc);
	const char *good[] = {"tally", "audit", "verify", "--feed", out, "--registry", named, NULL};
	cr_assert_eq(audit(&err, good), 0, "%s", err);
	free(err);
	/* Read with a registry that names nobody, the names do not match. */
	const char *other[] = {"tally", "audit",      "verify", "--feed",
	                       out,     "--registry", registry, NULL};
	cr_assert_eq(audit(&err, other), 1, "%s", err);
	cr_assert(strstr(err, "\"trusts\"") != NULL, "%s", err);
	free(err);
	/* A name too long is refused, naming its line. */
	char longname[260];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	registry_with_name(named, longname);
	cr_assert_eq(audit(&err, export), 1, "%s", err);
	cr_assert(strstr(err, "named.ini:") != NULL &&
	              strstr(err, ": [node 1] name: over 200 bytes") != NULL,
	          "%s", err);
	free(err);
}

/* A head of size 2 (signed with the coordinator's key, as a coordinator
 * showing the trusts another log would) whose root is not the feed's,
 * added to a copy of node 1's ledger. */
static void
forge_split_view(const char *ledger_copy)
{
	char key_path[300], why[512], sql[1024], root_hex[65], sig_hex[129];
	struct tly_identity coordinator;
	struct tly_tree_head head = {.size = 2};

	cr_assert_geq(sodium_init(), 0);
	path_in(key_path, sizeof key_path, "coordinator/keys/coordinator.sign");
	cr_assert_eq(tly_identity_from_files(&coordinator, 0, key_path, NULL, why, sizeof why),
	             TLY_OK, "%s", why);
	memset(head.root, 0x5a, sizeof head.root);
	cr_assert_eq(tly_head_sign(&head, coordinator.sign), TLY_OK);
	tly_identity_fini(&coordinator);
	tly_hex(root_hex, head.root, sizeof head.root);
	tly_hex(sig_hex, head.signature, sizeof head.signature);
	snprintf(sql, sizeof sql,
	         "INSERT INTO log_heads (size, root, signature, query_id, time) VALUES "
	         "(2, x'%s', x'%s', zeroblob(16), 0)",
	         root_hex, sig_hex);
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(ledger_copy, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
}

Test(feed, ledger_head_the_feed_does_not_match_is_a_split_view, .fini = stop_demo, .timeout = 300)
{
	char ledger[300], copy[300], *err = NULL;
	const char *feed = files.feed, *registry = files.registry;
	run_demo_and_export();
	path_in(ledger, sizeof ledger, "site-1/state/ledger.db");
	path_in(copy, sizeof copy, "ledger-copy.db");
	char sql[700];
	sqlite3 *db;
	snprintf(sql, sizeof sql, "VACUUM INTO '%s'", copy);
	cr_assert_eq(sqlite3_open_v2(ledger, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	const char *argv[] = {"tally",      "audit",  "verify",   "--feed", feed,
	                      "--registry", registry, "--ledger", copy,     NULL};
	cr_assert_eq(audit(&err, argv), 0, "%s", err);
	free(err);
	forge_split_view(copy);
	cr_assert_eq(audit(&err, argv), 1, "%s", err);
	cr_assert(strstr(err, "split view") != NULL, "%s", err);
	free(err);
}

/* ---- served by the coordinator ---- */

Test(feed_config, public_feed_key)
{
	static const char base[] = "[coordinator]\nlisten = tcp://127.0.0.1:7400\n"
	                           "api = http://127.0.0.1:7443\nsign_key = c.sign\n"
	                           "registry = r.ini\ncatalogue = c.json\nlog = t.db\n"
	                           "planners = p.ini\n";
	static const char *const refused[] = {"https://0.0.0.0:7480", "tcp://0.0.0.0:7480",
	                                      "http://", "0.0.0.0:7480", "http://a b:1"};
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char text[600];

	cr_assert_eq(tly_coord_config_parse(&cfg, base, "c.conf", "/srv", &err), TLY_OK, "%s",
	             err.reason);
	cr_assert_str_eq(cfg.public_feed, "", "off by default");
	snprintf(text, sizeof text, "%s[api]\npublic_feed = http://0.0.0.0:7480\n", base);
	cr_assert_eq(tly_coord_config_parse(&cfg, text, "c.conf", "/srv", &err), TLY_OK, "%s",
	             err.reason);
	cr_assert_str_eq(cfg.public_feed, "http://0.0.0.0:7480");
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		snprintf(text, sizeof text, "%s[api]\npublic_feed = %s\n", base, refused[i]);
		cr_assert_eq(tly_coord_config_parse(&cfg, text, "c.conf", "/srv", &err), TLY_EINVAL,
		             "%s accepted", refused[i]);
		cr_assert_str_eq(err.field, "api.public_feed", "%s", refused[i]);
		cr_assert(strstr(err.reason, "http://") != NULL, "%s", err.reason);
	}
}

/* `tally query --count --epsilon 0.5` as the demo's planner. */
static void
ask(void)
{
	char conf[300];
	path_in(conf, sizeof conf, "planner.conf");
	cr_assert_eq(
	    dmn_demo_run(&demo, (const char *const[]){"tally", "query", "--config", conf, "--count",
	                                              "--epsilon", "0.5", NULL}),
	    0);
}

/* The port the coordinator's log names for the feed, once it does (at
 * most cap_ms; it writes the line before it takes any request). */
static int
feed_port(const char *log, long cap_ms)
{
	const struct timespec tick = {0, 50 * 1000000L};
	for (long waited = 0; waited <= cap_ms; waited += 50) {
		char *text = dmn_slurp_or_empty(log, NULL);
		const char *at = strstr(text, "/public/feed.json on port ");
		int port = at != NULL ? atoi(at + strlen("/public/feed.json on port ")) : 0;
		free(text);
		if (port > 0)
			return port;
		nanosleep(&tick, NULL);
	}
	cr_assert_fail("the coordinator named no feed port in %s", log);
	return 0;
}

/* A plain-http request to the feed's listener: the status, the body. */
static int
feed_request(int port, const char *method, const char *path, char **body, size_t *len)
{
	char url[200], why[300];
	int status = 0;
	uint8_t *response = NULL;
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	cr_assert_eq(tly_https_request(url, method, NULL, NULL, 0, 30000, &status, &response, len,
	                               why, sizeof why),
	             TLY_OK, "%s", why);
	*body = (char *)response;
	return status;
}

/* How many times the coordinator's log says it built the feed. */
static int
rebuilds(const char *log)
{
	char *text = dmn_slurp_or_empty(log, NULL);
	int n = 0;
	for (const char *at = text; (at = strstr(at, "public feed rebuilt")) != NULL; at++)
		n++;
	free(text);
	return n;
}

/* GET the feed and expect the bytes `tally audit export` writes now. The
 * coordinator may keep a feed up to ten times its build time (a few ms
 * here) after a build; a fresh build is waited for, at most 30 s. */
static void
expect_served_is_exported(int port, const char *name)
{
	const struct timespec tick = {0, 100 * 1000000L};
	char out[300], *served = NULL;
	size_t served_len = 0, exported_len = 0;
	path_in(out, sizeof out, name);
	cr_assert_eq(dmn_demo_run(&demo, (const char *const[]){"tally", "audit", "export", "--dir",
	                                                       demo.dir, "--out", out, NULL}),
	             0);
	char *exported = dmn_slurp(out, &exported_len);
	for (int tries = 0;; tries++) {
		cr_assert_eq(feed_request(port, "GET", "/public/feed.json", &served, &served_len),
		             200, "%s", served);
		if (served_len == exported_len && memcmp(served, exported, served_len) == 0)
			break;
		cr_assert_lt(tries, 300, "served %zu bytes, exported %zu", served_len,
		             exported_len);
		free(served);
		nanosleep(&tick, NULL);
	}
	free(served);
	free(exported);
}

Test(feed_daemon, served_feed_is_the_export_without_auth, .fini = stop_demo, .timeout = 300)
{
	char conf[300], log[300], first[300], *body = NULL, *err = NULL;
	size_t len = 0;
	double ms;
	dmn_demo_init(&demo, "feedsrv");
	dmn_demo_serve(&demo, 3, 2000, 1);
	dmn_demo_wait_connected(&demo, 3, 10000, 600);
	/* Nothing answered yet: no head a trust countersigned, no feed. */
	const char *early[] = {"tally", "audit", "export", "--dir", demo.dir, NULL};
	cr_assert_eq(audit(&err, early), 1, "%s", err);
	cr_assert(strstr(err, "no signed head that a trust has countersigned") != NULL, "%s", err);
	free(err);
	/* Off by default: the API (with the planner's certificate) has no such path. */
	cr_assert_eq(dmn_demo_api_get(&demo, "/public/feed.json", 30000, &ms, NULL), 404);
	ask();
	ask();
	/* On: restart the coordinator with [api] public_feed. */
	dmn_demo_stop(&demo, "coordinator", 30000);
	dmn_demo_conf(&demo, "coordinator", conf, sizeof conf);
	FILE *f = fopen(conf, "a");
	cr_assert_not_null(f);
	fputs("\n[api]\npublic_feed = http://127.0.0.1:0\n", f);
	fclose(f);
	path_in(log, sizeof log, "logs/coordinator-feed.log");
	dmn_demo_start(&demo, "coordinator", log, 0);
	int port = feed_port(log, 30000);
	expect_served_is_exported(port, "first.json");
	cr_assert_eq(feed_request(port, "GET", "/v1/status", &body, &len), 404, "%s", body);
	free(body);
	cr_assert_eq(feed_request(port, "POST", "/public/feed.json", &body, &len), 405, "%s", body);
	cr_assert(strstr(body, "read-only") != NULL, "%s", body);
	free(body);
	/* GETs of an unchanged log: one build, then the kept bytes (20, well
	 * under the listener's 64 connections, closed ones included). */
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(feed_request(port, "GET", "/public/feed.json", &body, &len), 200);
		free(body);
	}
	cr_assert_eq(rebuilds(log), 1);
	/* A new query: the feed is rebuilt, still the export's bytes, and verifies. */
	dmn_demo_wait_connected(&demo, 3, 10000, 600);
	ask();
	ask();
	expect_served_is_exported(port, "second.json");
	char second[300];
	json_error_t error;
	path_in(first, sizeof first, "first.json");
	path_in(second, sizeof second, "second.json");
	json_t *a = json_load_file(first, 0, &error), *b = json_load_file(second, 0, &error);
	cr_assert(a != NULL && b != NULL, "%s", error.text);
	cr_assert_gt(json_integer_value(json_object_get(b, "releases")),
	             json_integer_value(json_object_get(a, "releases")),
	             "the served feed was not rebuilt after two more queries");
	json_decref(a);
	json_decref(b);
	cr_assert_eq(rebuilds(log), 2);
	cr_assert_eq(verify_cli(second, &err), 0, "%s", err);
	free(err);
}
