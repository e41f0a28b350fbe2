/*
 * Who asked: the planner's request signature (query/planner.h) and the
 * coordinator's planners file and request check (coordinator/planners.h).
 * The process-level attempts are in tests/test_roles.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "coordinator/planners.h"
#include "crypto/rng.h"
#include "store/keys.h"
#include "query/planner.h"

static const char body[] = "{\"dataset\": \"patients\"}";
static const uint8_t nonce[TLY_PLANNER_NONCE_BYTES] = {1, 2, 3};
enum { NOW = 1800000000 };

static struct tly_sign_key *
fresh_key(uint8_t pk[TLY_SIGN_PUBLIC_BYTES])
{
	struct tly_sign_key *key;
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	cr_assert_eq(tly_sign_key_alloc(&key, NULL), TLY_OK);
	tly_sign_key_public(key, pk);
	return key;
}

static void
signed_header(char out[TLY_PLANNER_HEADER_MAX], const char *name, const struct tly_sign_key *key,
              uint64_t time, const uint8_t *n)
{
	cr_assert_eq(tly_planner_sign(out, name, key, "POST", "/v1/queries", (const uint8_t *)body,
	                              strlen(body), time, n),
	             TLY_OK);
}

Test(planner, sign_parse_verify_round_trip)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES], other_pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_sign_key *key = fresh_key(pk), *other = fresh_key(other_pk);
	struct tly_planner_auth auth;
	char header[TLY_PLANNER_HEADER_MAX];

	signed_header(header, "alice.planner", key, NOW, nonce);
	cr_assert(strncmp(header, "planner=alice.planner, time=1800000000, nonce=010203", 52) == 0,
	          "%s", header);
	cr_assert_eq(tly_planner_auth_parse(&auth, header, strlen(header)), TLY_OK);
	cr_expect_str_eq(auth.name, "alice.planner");
	cr_expect_eq(auth.time, NOW);
	cr_expect_eq(memcmp(auth.nonce, nonce, sizeof nonce), 0);
	cr_expect_eq(tly_planner_auth_verify(&auth, pk, "POST", "/v1/queries",
	                                     (const uint8_t *)body, strlen(body)),
	             TLY_OK);
	/* Every signed part matters: key, method, path, body, name, time, nonce. */
	cr_expect_eq(tly_planner_auth_verify(&auth, other_pk, "POST", "/v1/queries",
	                                     (const uint8_t *)body, strlen(body)),
	             TLY_EAUTH);
	cr_expect_eq(tly_planner_auth_verify(&auth, pk, "GET", "/v1/queries", (const uint8_t *)body,
	                                     strlen(body)),
	             TLY_EAUTH);
	cr_expect_eq(tly_planner_auth_verify(&auth, pk, "POST", "/v1/queries?x",
	                                     (const uint8_t *)body, strlen(body)),
	             TLY_EAUTH);
	cr_expect_eq(tly_planner_auth_verify(&auth, pk, "POST", "/v1/queries",
	                                     (const uint8_t *)body, strlen(body) - 1),
	             TLY_EAUTH);
	struct tly_planner_auth changed = auth;
	changed.time++;
	cr_expect_eq(tly_planner_auth_verify(&changed, pk, "POST", "/v1/queries",
	                                     (const uint8_t *)body, strlen(body)),
	             TLY_EAUTH);
	changed = auth;
	changed.nonce[15] ^= 1;
	cr_expect_eq(tly_planner_auth_verify(&changed, pk, "POST", "/v1/queries",
	                                     (const uint8_t *)body, strlen(body)),
	             TLY_EAUTH);
	changed = auth;
	changed.name[0] = 'b';
	cr_expect_eq(tly_planner_auth_verify(&changed, pk, "POST", "/v1/queries",
	                                     (const uint8_t *)body, strlen(body)),
	             TLY_EAUTH);
	tly_sign_key_free(key);
	tly_sign_key_free(other);
}

Test(planner, one_spelling_only)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_sign_key *key = fresh_key(pk);
	struct tly_planner_auth auth;
	char header[TLY_PLANNER_HEADER_MAX], bad[TLY_PLANNER_HEADER_MAX + 8];

	signed_header(header, "alice", key, 5, nonce);
	cr_assert_eq(tly_planner_auth_parse(&auth, header, strlen(header)), TLY_OK);
	/* Trailing bytes, a missing byte, upper-case hex, a leading zero, a
	 * sign, another separator, an empty or bad name: all refused. */
	snprintf(bad, sizeof bad, "%s ", header);
	cr_expect_eq(tly_planner_auth_parse(&auth, bad, strlen(bad)), TLY_EFORMAT);
	cr_expect_eq(tly_planner_auth_parse(&auth, header, strlen(header) - 1), TLY_EFORMAT);
	snprintf(bad, sizeof bad, "%s", header);
	bad[strlen(bad) - 1] = 'A';
	cr_expect_eq(tly_planner_auth_parse(&auth, bad, strlen(bad)), TLY_EFORMAT);
	const char *time_at = strstr(header, "time=5");
	cr_assert_not_null(time_at);
	snprintf(bad, sizeof bad, "%.*stime=05%s", (int)(time_at - header), header, time_at + 6);
	cr_expect_eq(tly_planner_auth_parse(&auth, bad, strlen(bad)), TLY_EFORMAT);
	snprintf(bad, sizeof bad, "%.*stime=+5%s", (int)(time_at - header), header, time_at + 6);
	cr_expect_eq(tly_planner_auth_parse(&auth, bad, strlen(bad)), TLY_EFORMAT);
	snprintf(bad, sizeof bad, "%.*stime=18446744073709551616%s", (int)(time_at - header),
	         header, time_at + 6);
	cr_expect_eq(tly_planner_auth_parse(&auth, bad, strlen(bad)), TLY_EFORMAT);
	snprintf(bad, sizeof bad, "planner=alice,time=5%s", time_at + 6);
	cr_expect_eq(tly_planner_auth_parse(&auth, bad, strlen(bad)), TLY_EFORMAT);
	snprintf(bad, sizeof bad, "planner=, time=5%s", time_at + 6);
	cr_expect_eq(tly_planner_auth_parse(&auth, bad, strlen(bad)), TLY_EFORMAT);
	snprintf(bad, sizeof bad, "planner=-alice, time=5%s", time_at + 6);
	cr_expect_eq(tly_planner_auth_parse(&auth, bad, strlen(bad)), TLY_EFORMAT);
	cr_expect_eq(tly_planner_auth_parse(&auth, "", 0), TLY_EFORMAT);
	/* A name the signer may not use is refused before signing. */
	cr_expect_eq(tly_planner_sign(header, "al ice", key, "POST", "/", NULL, 0, 1, nonce),
	             TLY_EINVAL);
	tly_sign_key_free(key);
}

Test(planner, names)
{
	cr_expect(tly_planner_name_valid("planner"));
	cr_expect(tly_planner_name_valid("ics-north.analyst_2"));
	cr_expect(!tly_planner_name_valid(""));
	cr_expect(!tly_planner_name_valid(".hidden"));
	cr_expect(!tly_planner_name_valid("a b"));
	cr_expect(!tly_planner_name_valid("a,b"));
	char long_name[TLY_PLANNER_NAME_MAX + 2];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	cr_expect(!tly_planner_name_valid(long_name));
	long_name[TLY_PLANNER_NAME_MAX] = '\0';
	cr_expect(tly_planner_name_valid(long_name));
}

/* ---- the planners file ---- */

static void
file_of(char *out, size_t len, const uint8_t pk[TLY_SIGN_PUBLIC_BYTES], const char *name)
{
	char hex[65];
	tly_hex(hex, pk, TLY_SIGN_PUBLIC_BYTES);
	snprintf(out, len, "; who may ask\n[planner %s]\nsign_pk = %s ; theirs\n", name, hex);
}

static void
expect_refused(const char *text, const char *says)
{
	struct tly_planners planners;
	char why[300] = "";
	cr_expect_eq(tly_planners_parse(&planners, text, "planners.ini", why, sizeof why),
	             TLY_EINVAL, "accepted: %s", text);
	cr_expect(strstr(why, says) != NULL, "\"%s\" lacks \"%s\"", why, says);
}

Test(planners, file_errors_name_file_line_and_key)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_sign_key *key = fresh_key(pk);
	char good[300], text[800];
	file_of(good, sizeof good, pk, "alice");

	struct tly_planners planners;
	char why[300];
	cr_assert_eq(tly_planners_parse(&planners, good, "planners.ini", why, sizeof why), TLY_OK,
	             "%s", why);
	cr_expect_eq(planners.count, 1);
	cr_expect_str_eq(planners.keys[0].name, "alice");
	cr_expect_eq(memcmp(planners.keys[0].sign_pk, pk, sizeof pk), 0);
	tly_planners_fini(&planners);

	snprintf(text, sizeof text, "%s%s", good, good);
	expect_refused(text, "planners.ini:5: (section): planner alice is listed twice");
	snprintf(text, sizeof text, "%s[planner bob]\nsign_pk = %s", good, strstr(good, "= ") + 2);
	expect_refused(text, "planners.ini:5: planner bob.sign_pk: the same key as planner alice");
	snprintf(text, sizeof text, "%ssign_pk = %s", good, strstr(good, "= ") + 2);
	expect_refused(text, "planners.ini:4: planner alice.sign_pk: given twice");
	snprintf(text, sizeof text, "%skx_pk = 00\n", good);
	expect_refused(text, "planners.ini:4: planner alice.kx_pk: unknown key");
	expect_refused("[planner alice]\nsign_pk = 1234\n",
	               "planners.ini:2: planner alice.sign_pk: "
	               "expected 64 hex digits");
	expect_refused("[node 1]\n", "planners.ini:1: (section): expected [planner NAME]");
	expect_refused("[planner a b]\n", "planners.ini:1: (section): planner name");
	expect_refused("sign_pk = 00\n", "key outside any [planner NAME] section");
	expect_refused("[planner alice]\n", "planners.ini: [planner alice]: sign_pk is missing");
	expect_refused("[planner alice]\nnonsense\n", "planners.ini:2: (syntax)");
	tly_sign_key_free(key);
}

/* ---- the check ---- */

struct fixture {
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_sign_key *key;
	struct tly_planners planners;
};

static void
fixture_init(struct fixture *f)
{
	char text[300], why[300];
	f->key = fresh_key(f->pk);
	file_of(text, sizeof text, f->pk, "alice");
	cr_assert_eq(tly_planners_parse(&f->planners, text, "p.ini", why, sizeof why), TLY_OK);
}

static tly_err
check_at(struct fixture *f, const char *header, uint64_t now, char *name, char *why)
{
	return tly_planners_check(&f->planners, header, "POST", "/v1/queries",
	                          (const uint8_t *)body, strlen(body), now, name, why, 300);
}

Test(planners, check_refuses_unsigned_unknown_forged_stale_and_replayed)
{
	struct fixture f;
	char header[TLY_PLANNER_HEADER_MAX], name[TLY_PLANNER_NAME_MAX + 1] = "", why[300];
	uint8_t stranger_pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_sign_key *stranger = fresh_key(stranger_pk);
	fixture_init(&f);

	cr_expect_eq(check_at(&f, "", NOW, name, why), TLY_EAUTH);
	cr_expect(strstr(why, "not signed") != NULL, "%s", why);
	cr_expect_eq(check_at(&f, "planner=alice", NOW, name, why), TLY_EAUTH);
	cr_expect(strstr(why, "malformed") != NULL, "%s", why);
	signed_header(header, "mallory", stranger, NOW, nonce);
	cr_expect_eq(check_at(&f, header, NOW, name, why), TLY_EAUTH);
	cr_expect(strstr(why, "mallory is not in") != NULL, "%s", why);
	signed_header(header, "alice", stranger, NOW, nonce);
	cr_expect_eq(check_at(&f, header, NOW, name, why), TLY_EAUTH);
	cr_expect(strstr(why, "does not verify") != NULL, "%s", why);
	/* The window: TLY_PLANNER_WINDOW_S either way, and not one second more. */
	signed_header(header, "alice", f.key, NOW - TLY_PLANNER_WINDOW_S - 1, nonce);
	cr_expect_eq(check_at(&f, header, NOW, name, why), TLY_EREPLAY);
	cr_expect(strstr(why, "apart") != NULL, "%s", why);
	signed_header(header, "alice", f.key, NOW + TLY_PLANNER_WINDOW_S + 1, nonce);
	cr_expect_eq(check_at(&f, header, NOW, name, why), TLY_EREPLAY);
	cr_expect_str_eq(name, "", "name written on failure");
	signed_header(header, "alice", f.key, NOW + TLY_PLANNER_WINDOW_S, nonce);
	cr_expect_eq(check_at(&f, header, NOW, name, why), TLY_OK, "%s", why);
	cr_expect_str_eq(name, "alice");
	/* Replayed: refused however often, while its time is in the window. */
	cr_expect_eq(check_at(&f, header, NOW, name, why), TLY_EREPLAY);
	cr_expect(strstr(why, "replayed") != NULL, "%s", why);
	cr_expect_eq(check_at(&f, header, NOW + 2 * TLY_PLANNER_WINDOW_S, name, why), TLY_EREPLAY);
	/* A fresh nonce from the same planner is fine. */
	uint8_t other_nonce[TLY_PLANNER_NONCE_BYTES] = {9};
	signed_header(header, "alice", f.key, NOW, other_nonce);
	cr_expect_eq(check_at(&f, header, NOW, name, why), TLY_OK, "%s", why);
	tly_sign_key_free(stranger);
	tly_sign_key_free(f.key);
	tly_planners_fini(&f.planners);
}

/* The replay cache holds at most TLY_PLANNERS_SEEN_MAX requests of one
 * window: a full cache refuses (never forgets a live nonce), and nonces
 * leave it once their time has left the window. */
Test(planners, replay_cache_is_bounded_and_forgets_only_the_stale)
{
	struct fixture f;
	char header[TLY_PLANNER_HEADER_MAX], name[TLY_PLANNER_NAME_MAX + 1], why[300];
	uint8_t n[TLY_PLANNER_NONCE_BYTES] = {0};
	fixture_init(&f);

	for (uint32_t i = 0; i < TLY_PLANNERS_SEEN_MAX; i++) {
		memcpy(n, &i, sizeof i);
		signed_header(header, "alice", f.key, NOW, n);
		cr_assert_eq(check_at(&f, header, NOW, name, why), TLY_OK, "%u: %s", i, why);
	}
	uint32_t last = TLY_PLANNERS_SEEN_MAX;
	memcpy(n, &last, sizeof last);
	signed_header(header, "alice", f.key, NOW, n);
	cr_expect_eq(check_at(&f, header, NOW, name, why), TLY_ERANGE);
	cr_expect(strstr(why, "try again later") != NULL, "%s", why);
	/* The same request once the others have gone stale. */
	signed_header(header, "alice", f.key, NOW + TLY_PLANNER_WINDOW_S + 1, n);
	cr_expect_eq(check_at(&f, header, NOW + TLY_PLANNER_WINDOW_S + 1, name, why), TLY_OK, "%s",
	             why);
	cr_expect_eq(f.planners.seen_count, 1);
	tly_sign_key_free(f.key);
	tly_planners_fini(&f.planners);
}

/* Ownership: fini accepts a zeroed struct and clears what it freed. */
Test(planners, fini_accepts_zeroed)
{
	struct tly_planners planners;
	memset(&planners, 0, sizeof planners);
	tly_planners_fini(&planners);
	tly_planners_fini(NULL);
	cr_expect_eq(planners.count, 0);
}
