/* store/keys: key files (hex, mode 0600, exact length, no overwrite) and the
 * registry (sections, keys, ids, missing and repeated entries; errors name
 * the file, the line and the key), written and read back. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/rng.h"
#include "store/keys.h"
#include "wire/messages.h"

static char dir[64];
static char path[128];

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	snprintf(dir, sizeof dir, "/tmp/tally-keys-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/key", dir);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(key_file, .init = setup, .fini = teardown);
TestSuite(registry, .init = setup, .fini = teardown);

static void
put_file(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

#define HEX32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

Test(key_file, write_then_read)
{
	uint8_t in[32], out[32];
	char why[256] = "";
	struct stat st;

	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 5 + 1);
	cr_assert_eq(tly_key_file_write(path, in, sizeof in, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(st.st_size, 65, "64 hex digits and a newline");
	cr_assert_eq(tly_key_file_read(path, out, sizeof out, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_arr_eq(in, out, sizeof in);
}

Test(key_file, write_never_overwrites)
{
	uint8_t key[32] = {1};
	char why[256] = "";

	put_file("old\n", 0600);
	cr_assert_eq(tly_key_file_write(path, key, sizeof key, why, sizeof why), TLY_EIO);
	cr_assert(strstr(why, path) != NULL, "%s", why);
}

Test(key_file, write_too_long_is_einval)
{
	static uint8_t key[130];
	char why[256] = "";

	cr_assert_eq(tly_key_file_write(path, key, 130, why, sizeof why), TLY_EINVAL);
	cr_assert_eq(access(path, F_OK), -1, "nothing was created");
	cr_assert_eq(tly_key_file_write(path, key, 129, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_key_file_read(path, key, 129, why, sizeof why), TLY_OK, "%s", why);
}

Test(key_file, read_without_newline)
{
	uint8_t out[32];
	char why[256] = "";

	put_file(HEX32, 0600);
	cr_assert_eq(tly_key_file_read(path, out, sizeof out, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(out[31], 0x1f);
}

Test(key_file, readable_by_others_is_eauth)
{
	uint8_t out[32];
	char why[256] = "";

	put_file(HEX32 "\n", 0640);
	cr_assert_eq(tly_key_file_read(path, out, sizeof out, why, sizeof why), TLY_EAUTH);
	cr_assert(strstr(why, "chmod 600") != NULL, "%s", why);
	put_file(HEX32 "\n", 0604);
	cr_assert_eq(tly_key_file_read(path, out, sizeof out, why, sizeof why), TLY_EAUTH);
}

Test(key_file, missing_is_eio)
{
	uint8_t out[32];
	char why[256] = "";

	cr_assert_eq(tly_key_file_read(path, out, sizeof out, why, sizeof why), TLY_EIO);
	cr_assert(strstr(why, path) != NULL, "%s", why);
}

/* One digit short, one digit over, two newlines, a non-hex digit. */
Test(key_file, wrong_length_or_digits_is_eformat)
{
	static const char *const bad[] = {
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n", HEX32 "0\n",
	    HEX32 "\n\n", "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", ""};
	uint8_t out[32];
	char why[256] = "";

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put_file(bad[i], 0600);
		cr_assert_eq(tly_key_file_read(path, out, sizeof out, why, sizeof why), TLY_EFORMAT,
		             "case %zu", i);
		cr_assert(strstr(why, "expected 64 hex digits") != NULL, "%s", why);
	}
}

Test(key_file, identity_from_files)
{
	struct tly_identity a, b;
	struct tly_party pa, pb;
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	char why[256] = "", kx_path[160];

	cr_assert_eq(tly_identity_generate(&a, 4, 1), TLY_OK);
	tly_sign_key_seed(a.sign, seed);
	snprintf(kx_path, sizeof kx_path, "%s/kx", dir);
	cr_assert_eq(tly_key_file_write(path, seed, sizeof seed, why, sizeof why), TLY_OK);
	cr_assert_eq(tly_key_file_write(kx_path, a.kx_sk, TLY_KX_SECRET_BYTES, why, sizeof why),
	             TLY_OK);
	cr_assert_eq(tly_identity_from_files(&b, 4, path, kx_path, why, sizeof why), TLY_OK, "%s",
	             why);
	tly_identity_public(&a, &pa);
	tly_identity_public(&b, &pb);
	cr_assert_eq(memcmp(&pa, &pb, sizeof pa), 0);
	tly_identity_fini(&b);
	cr_assert_eq(chmod(kx_path, 0644), 0);
	cr_assert_eq(tly_identity_from_files(&b, 4, path, kx_path, why, sizeof why), TLY_EAUTH);
	cr_assert(strstr(why, kx_path) != NULL, "%s", why);
	cr_assert_eq(tly_identity_from_files(&b, 0, path, NULL, why, sizeof why), TLY_OK, "%s",
	             why);
	cr_assert_null(b.kx_sk);
	tly_identity_fini(&b);
	tly_identity_fini(&a);
}

/* ---- the registry ---- */

#define PK_A    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PK_B    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define COORD   "[coordinator]\nsign_pk = " PK_A "\n"
#define NODE(n) "[node " #n "]\nsign_pk = " PK_A "\nkx_pk = " PK_B "\n"

static tly_err
parse(const char *text, char *why, size_t why_len)
{
	struct tly_roster roster;
	tly_err rv = tly_registry_parse(&roster, text, "reg.ini", why, why_len);

	if (rv == TLY_OK)
		tly_roster_fini(&roster);
	return rv;
}

Test(registry, parses_nodes_and_names)
{
	struct tly_roster roster;
	char why[256] = "";
	const char *text = "; comment\n" COORD "\n" NODE(7) "name = Some NHS Trust\n" NODE(2);

	cr_assert_eq(tly_registry_parse(&roster, text, "reg.ini", why, sizeof why), TLY_OK, "%s",
	             why);
	cr_assert_eq(roster.count, 2);
	cr_assert_eq(roster.parties[0].id, 2);
	cr_assert_eq(roster.parties[1].id, 7);
	cr_assert_eq(roster.coordinator_pk[0], 0xaa);
	cr_assert_eq(roster.parties[1].kx_pk[31], 0xbb);
	tly_roster_fini(&roster);
}

Test(registry, coordinator_only)
{
	char why[256] = "";

	cr_assert_eq(parse(COORD, why, sizeof why), TLY_OK, "%s", why);
}

static void
expect_fail(const char *text, const char *needle)
{
	char why[256] = "";

	cr_assert_eq(parse(text, why, sizeof why), TLY_EINVAL, "accepted: %s", text);
	cr_assert(strstr(why, needle) != NULL, "why \"%s\" lacks \"%s\"", why, needle);
}

Test(registry, bad_inputs_name_the_line_and_key)
{
	expect_fail("", "[coordinator] sign_pk is missing");
	expect_fail(NODE(1), "[coordinator] sign_pk is missing");
	expect_fail(COORD "kx_pk = " PK_B "\n",
	            "reg.ini:3: coordinator.kx_pk: the coordinator has only sign_pk");
	expect_fail(COORD "colour = red\n", "reg.ini:3: coordinator.colour: unknown key");
	expect_fail("[coordinator]\nsign_pk = " PK_A "0\n",
	            "reg.ini:2: coordinator.sign_pk: expected 64 hex digits");
	expect_fail(COORD "[nodes]\nsign_pk = " PK_A "\n", "nodes.sign_pk: unknown section");
	expect_fail(COORD "this is not ini\n", "reg.ini:3: not a [section] or key = value line");
}

Test(registry, node_ids_are_checked)
{
	expect_fail(COORD NODE(0), "node 0.(section): expected [node N], N from 1");
	expect_fail(COORD NODE(01), "expected [node N], N from 1");
	expect_fail(COORD NODE(2x), "expected [node N], N from 1");
	expect_fail(COORD NODE(2147483648), "expected [node N], N from 1");
	expect_fail(COORD NODE(3) NODE(4) NODE(3), "node 3.(section): node listed twice");
}

/* A section repeated right after itself is a second section, not more of
 * the first: inih reports both under one name, and the second's keys used
 * to replace the first's (docs/SECURITY.md). */
Test(registry, node_repeated_right_after_itself)
{
	expect_fail(COORD NODE(3) NODE(3), "reg.ini:7: node 3.(section): node listed twice");
	expect_fail(COORD NODE(4) NODE(3) NODE(3),
	            "reg.ini:10: node 3.(section): node listed twice");
	expect_fail(COORD "[node 5]\nsign_pk = " PK_A "\n[node 5]\nkx_pk = " PK_B "\n",
	            "node 5: needs both sign_pk and kx_pk");
}

/* A key given twice, in one section or in a repeated [coordinator], is
 * refused: the second used to replace the first, so that two readers of
 * one registry (one keeping the first) could pin different keys. */
Test(registry, key_given_twice)
{
	expect_fail(COORD "sign_pk = " PK_B "\n", "reg.ini:3: coordinator.sign_pk: given twice");
	expect_fail(COORD NODE(1) COORD, "reg.ini:7: coordinator.sign_pk: given twice");
	expect_fail(COORD "[node 1]\nsign_pk = " PK_A "\nkx_pk = " PK_B "\nsign_pk = " PK_B "\n",
	            "reg.ini:6: node 1.sign_pk: given twice");
	expect_fail(COORD "[node 1]\nkx_pk = " PK_B "\nsign_pk = " PK_A "\nkx_pk = " PK_A "\n",
	            "reg.ini:6: node 1.kx_pk: given twice");
}

Test(registry, node_id_at_the_maximum)
{
	char why[256] = "";

	cr_assert_eq(parse(COORD NODE(2147483647), why, sizeof why), TLY_OK, "%s", why);
}

Test(registry, node_needs_both_keys)
{
	expect_fail(COORD "[node 1]\nsign_pk = " PK_A "\n", "node 1: needs both sign_pk and kx_pk");
	expect_fail(COORD "[node 1]\nkx_pk = " PK_A "\n" NODE(2), "node 1: needs both");
}

Test(registry, write_then_load)
{
	struct tly_roster a, b;
	char why[256] = "";

	cr_assert_eq(tly_registry_parse(&a, COORD NODE(9) NODE(4), "in", why, sizeof why), TLY_OK);
	cr_assert_eq(tly_registry_write(&a, path, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_registry_load(&b, path, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(b.count, 2);
	cr_assert_arr_eq(a.coordinator_pk, b.coordinator_pk, sizeof a.coordinator_pk);
	cr_assert_eq(memcmp(a.parties, b.parties, 2 * sizeof *a.parties), 0);
	tly_roster_fini(&a);
	tly_roster_fini(&b);
}

Test(registry, load_missing_is_eio)
{
	struct tly_roster roster;
	char why[256] = "";

	cr_assert_eq(tly_registry_load(&roster, path, why, sizeof why), TLY_EIO);
	cr_assert(strstr(why, path) != NULL, "%s", why);
}

/* A file over 1 MiB is refused before it is parsed. */
Test(registry, load_over_a_mebibyte_is_eio)
{
	struct tly_roster roster;
	char why[256] = "";
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(COORD, f);
	for (int i = 0; i < (3 << 20) / 16; i++)
		fputs(";pad..\n", f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(tly_registry_load(&roster, path, why, sizeof why), TLY_EIO);
	cr_assert(strstr(why, "larger than 1 MiB") != NULL, "%s", why);
}

/* retired_sign_pk: a node's signing keys from before a rotation, for
 * verifying what it signed then (wire/party.h). Repeatable, each once,
 * never the key in use, at most TLY_RETIRED_KEYS_MAX, nodes only. */
#define PK_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define PK_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

Test(registry, retired_signing_keys)
{
	struct tly_roster roster;
	char why[256] = "";
	uint8_t c[TLY_SIGN_PUBLIC_BYTES], d[TLY_SIGN_PUBLIC_BYTES], e[TLY_SIGN_PUBLIC_BYTES];

	cr_assert_eq(tly_registry_parse(&roster,
	                                COORD "[node 1]\nretired_sign_pk = " PK_C
	                                      "\nsign_pk = " PK_A "\nkx_pk = " PK_B
	                                      "\nretired_sign_pk = " PK_D "\n" NODE(2),
	                                "reg.ini", why, sizeof why),
	             TLY_OK, "%s", why);
	const struct tly_party *p = tly_roster_find(&roster, 1);
	memset(c, 0xcc, sizeof c);
	memset(d, 0xdd, sizeof d);
	memset(e, 0xee, sizeof e);
	cr_assert_eq(p->retired_count, 2);
	cr_assert_eq(tly_party_sign_key(p, p->sign_pk), TLY_PARTY_KEY_CURRENT);
	cr_assert_eq(tly_party_sign_key(p, c), TLY_PARTY_KEY_RETIRED);
	cr_assert_eq(tly_party_sign_key(p, d), TLY_PARTY_KEY_RETIRED);
	cr_assert_eq(tly_party_sign_key(p, e), TLY_PARTY_KEY_NONE);
	cr_assert_eq(tly_party_sign_key(tly_roster_find(&roster, 2), c), TLY_PARTY_KEY_NONE);
	/* Verify-only: the handshake's key is sign_pk. */
	cr_assert_eq(memcmp(tly_roster_sign_pk(&roster, 1), p->sign_pk, TLY_SIGN_PUBLIC_BYTES), 0);

	/* Written out and read back with its retired keys. */
	struct tly_roster back;
	cr_assert_eq(tly_registry_write(&roster, path, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_registry_load(&back, path, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(memcmp(roster.parties, back.parties, 2 * sizeof *roster.parties), 0);
	tly_roster_fini(&back);
	tly_roster_fini(&roster);
}

Test(registry, retired_signing_keys_bad_inputs)
{
	char text[2048];
	size_t len;

	expect_fail(COORD NODE(1) "retired_sign_pk = " PK_A "\n",
	            "node 1: retired_sign_pk is its sign_pk");
	expect_fail(COORD NODE(1) "retired_sign_pk = " PK_C "\nretired_sign_pk = " PK_C "\n",
	            "reg.ini:7: node 1.retired_sign_pk: given twice");
	expect_fail(COORD NODE(1) "retired_sign_pk = " PK_C "0\n",
	            "node 1.retired_sign_pk: expected 64 hex digits");
	expect_fail(COORD "retired_sign_pk = " PK_C "\n",
	            "coordinator.retired_sign_pk: the coordinator has only sign_pk");
	/* One more than TLY_RETIRED_KEYS_MAX. */
	len = (size_t)snprintf(text, sizeof text, "%s", COORD NODE(1));
	for (int i = 0; i <= TLY_RETIRED_KEYS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "retired_sign_pk = %064x\n",
		                        (unsigned)i + 1);
	expect_fail(text, "more than 8 retired keys");
}
