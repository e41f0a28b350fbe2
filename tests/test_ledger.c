/* The node's privacy-budget ledger: exact accounting and refusals, the
 * signed hash chain against raw-SQL tampering, receipts against every
 * single-byte change, the file-format checks, and durability when the
 * process is killed between any two instructions (tests/helpers/
 * ledger_hammer). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/rng.h"
#include "crypto/sign.h"
#include "node/ledger.h"
#include "node/ledger_heads.h"
#include "wire/buf.h"
#include "tests/vectors.h"

static char dir[64];
static char path[128];
static struct tly_sign_key *key;
static uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
static const uint8_t seed[TLY_SIGN_SEED_BYTES] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                                  12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                                  23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const char spec[] = "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"}}";

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	snprintf(dir, sizeof dir, "/tmp/tally-ledger-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/ledger.db", dir);
	cr_assert_eq(tly_sign_key_alloc(&key, seed), TLY_OK);
	tly_sign_key_public(key, pk);
}

static void
remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	char file[400];

	while (d != NULL && (ent = readdir(d)) != NULL) {
		if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
			continue;
		snprintf(file, sizeof file, "%s/%s", dir, ent->d_name);
		unlink(file);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static void
teardown(void)
{
	remove_dir();
	tly_sign_key_free(key);
	key = NULL;
}

TestSuite(ledger, .init = setup, .fini = teardown);

/* (epsilon_total, epsilon_per_query, rho_per_query), delta 1e-6, one site;
 * rho_total is the ledger's to derive. */
#define BUDGET(total, eps_q, rho_q)                                                                \
	{                                                                                          \
		.epsilon_total = total, .epsilon_per_query = eps_q, .rho_per_query = rho_q,        \
		.delta_total = {1, 1000000}, .sites = 1                                            \
	}
#define FR(n, d) ((struct tly_fraction){(n), (d)})

static const struct tly_ledger_budget defaults = {.epsilon_total = {20, 1},
                                                  .epsilon_per_query = {2, 1},
                                                  .rho_per_query = {1, 2},
                                                  .delta_total = {1, 1000000},
                                                  .sites = 1};

static struct tly_ledger *
open_ledger(void)
{
	struct tly_ledger *l = NULL;
	char err[256];

	cr_assert_eq(tly_ledger_open(&l, path, 3, key, err, sizeof err), TLY_OK, "%s", err);
	return l;
}

static struct tly_ledger_charge
charge(const char *dataset, uint64_t n, uint8_t mechanism, uint64_t num, uint64_t den)
{
	struct tly_ledger_charge c = {.dataset = dataset,
	                              .population = dataset,
	                              .mechanism = mechanism,
	                              .amount = {num, den},
	                              .spec_json = spec,
	                              .spec_len = sizeof spec - 1};

	tly_store_be64(c.query_id, 0x7175657279000000u);
	tly_store_be64(c.query_id + 8, n);
	crypto_generichash(c.query_hash, sizeof c.query_hash, c.query_id, sizeof c.query_id, NULL,
	                   0);
	/* The log head the node verified (a stand-in: the ledger records it,
	 * tally audit verify checks it against the log). */
	c.log_head.size = 100 + n;
	memset(c.log_head.root, (int)(n & 0xff) | 1, sizeof c.log_head.root);
	memset(c.log_head.signature, 0x5a, sizeof c.log_head.signature);
	return c;
}

/* Reserve and expect rv; returns the receipt (zeroed on refusal). */
static struct tly_ledger_receipt
reserve(struct tly_ledger *l, const struct tly_ledger_charge *c, const struct tly_ledger_budget *b,
        tly_err want, char *why, size_t why_len)
{
	struct tly_ledger_receipt r;
	char local[512];

	memset(&r, 0, sizeof r);
	if (why == NULL) {
		why = local;
		why_len = sizeof local;
	}
	tly_err got = tly_ledger_reserve(l, c, b, &r, why, why_len);
	cr_assert_eq(got, want, "reserve: got %s, want %s: %s", tly_strerror(got),
	             tly_strerror(want), why);
	return r;
}

static void
assert_spent(struct tly_ledger *l, const char *dataset, struct tly_fraction eps,
             struct tly_fraction rho)
{
	struct tly_budget_spent spent;
	struct tly_fraction e, r;

	cr_assert_eq(tly_ledger_spent(l, dataset, &spent), TLY_OK);
	e = spent.epsilon;
	r = spent.rho;
	cr_assert(e.num == eps.num && e.den == eps.den, "epsilon %" PRIu64 "/%" PRIu64, e.num,
	          e.den);
	cr_assert(r.num == rho.num && r.den == rho.den, "rho %" PRIu64 "/%" PRIu64, r.num, r.den);
}

static void
assert_verifies(uint64_t entries)
{
	struct tly_ledger_report rep;
	tly_err rv = tly_ledger_verify_file(path, pk, &rep);

	cr_assert_eq(rv, TLY_OK, "verify: %s: entry %" PRIu64 ": %s", tly_strerror(rv), rep.bad_seq,
	             rep.reason);
	cr_assert_eq(rep.entries, entries);
	cr_assert_eq(rep.bad_seq, 0);
}

/* ---- fractions ---- */

Test(ledger, fractions_exact)
{
	struct tly_fraction sum;

	cr_assert_eq(
	    tly_ledger_fraction_add((struct tly_fraction){1, 2}, (struct tly_fraction){1, 3}, &sum),
	    TLY_OK);
	cr_assert(sum.num == 5 && sum.den == 6);
	cr_assert_eq(
	    tly_ledger_fraction_add((struct tly_fraction){2, 4}, (struct tly_fraction){0, 7}, &sum),
	    TLY_OK);
	cr_assert(sum.num == 1 && sum.den == 2, "reduced");
	cr_assert_eq(tly_ledger_fraction_add((struct tly_fraction){UINT64_MAX, 1},
	                                     (struct tly_fraction){1, 1}, &sum),
	             TLY_ERANGE);
	cr_assert_eq(tly_ledger_fraction_add((struct tly_fraction){1, UINT64_MAX},
	                                     (struct tly_fraction){1, UINT64_MAX - 1}, &sum),
	             TLY_ERANGE);
	/* A large sum that reduces back into range is exact, not refused. */
	cr_assert_eq(tly_ledger_fraction_add((struct tly_fraction){1, UINT64_MAX - 1},
	                                     (struct tly_fraction){1, UINT64_MAX - 1}, &sum),
	             TLY_OK);
	cr_assert(sum.num == 1 && sum.den == UINT64_MAX / 2);
	cr_assert_eq(
	    tly_ledger_fraction_add((struct tly_fraction){1, 0}, (struct tly_fraction){1, 1}, &sum),
	    TLY_EINVAL);
	/* Cross products past 2^64 still compare exactly. */
	cr_assert_eq(tly_ledger_fraction_cmp((struct tly_fraction){UINT64_MAX - 1, UINT64_MAX},
	                                     (struct tly_fraction){UINT64_MAX - 2, UINT64_MAX - 1}),
	             1);
	cr_assert_eq(
	    tly_ledger_fraction_cmp((struct tly_fraction){3, 9}, (struct tly_fraction){1, 3}), 0);
	cr_assert_eq(tly_ledger_fraction_cmp((struct tly_fraction){0, 5},
	                                     (struct tly_fraction){1, UINT64_MAX}),
	             -1);
	cr_assert(tly_ledger_fraction_valid((struct tly_fraction){0, 1}));
	cr_assert_not(tly_ledger_fraction_valid((struct tly_fraction){0, 2}));
	cr_assert_not(tly_ledger_fraction_valid((struct tly_fraction){2, 4}));
	cr_assert_not(tly_ledger_fraction_valid((struct tly_fraction){1, 0}));
}

/* ---- accounting ---- */

Test(ledger, ten_tenths_make_exactly_one)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_budget b = BUDGET(FR(1, 1), FR(1, 1), FR(1, 1));
	char why[512];

	for (uint64_t i = 1; i <= 10; i++) {
		struct tly_ledger_charge c = charge("patients", i, TLY_MECH_LAPLACE, 1, 10);
		struct tly_ledger_receipt r = reserve(l, &c, &b, TLY_OK, why, sizeof why);
		uint64_t common = i % 10 == 0 ? 10 : i % 5 == 0 ? 5 : i % 2 == 0 ? 2 : 1;
		struct tly_fraction want = {i / common, 10 / common};
		cr_assert(r.epsilon_spent.num == want.num && r.epsilon_spent.den == want.den,
		          "after %" PRIu64 ": %" PRIu64 "/%" PRIu64, i, r.epsilon_spent.num,
		          r.epsilon_spent.den);
		cr_assert_eq(r.seq, i);
		cr_assert(strstr(why, "charged epsilon 0.1") != NULL, "%s", why);
	}
	assert_spent(l, "patients", (struct tly_fraction){1, 1}, (struct tly_fraction){0, 1});

	/* At the cap exactly: one more tenth is refused, naming the numbers. */
	struct tly_ledger_charge c = charge("patients", 11, TLY_MECH_LAPLACE, 1, 10);
	reserve(l, &c, &b, TLY_EBUDGET, why, sizeof why);
	cr_assert(strstr(why, "\"patients\"") && strstr(why, "budget exhausted") &&
	              strstr(why, "spent epsilon 1,") && strstr(why, "cap (1, 1/1000000)") &&
	              strstr(why, "epsilon 0.1 more"),
	          "%s", why);
	assert_spent(l, "patients", (struct tly_fraction){1, 1}, (struct tly_fraction){0, 1});
	tly_ledger_close(l);
	assert_verifies(11);
}

Test(ledger, reserve_up_to_the_cap_then_refuse)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_budget b = BUDGET(FR(7, 2), FR(2, 1), FR(1, 2));
	char why[512];

	/* 2 + 3/2 = 7/2 exactly the total. */
	struct tly_ledger_charge c = charge("patients", 1, TLY_MECH_LAPLACE, 2, 1);
	reserve(l, &c, &b, TLY_OK, NULL, 0);
	c = charge("patients", 2, TLY_MECH_LAPLACE, 3, 2);
	struct tly_ledger_receipt r = reserve(l, &c, &b, TLY_OK, NULL, 0);
	cr_assert(r.epsilon_spent.num == 7 && r.epsilon_spent.den == 2);
	c = charge("patients", 3, TLY_MECH_LAPLACE, 1, 1000000);
	reserve(l, &c, &b, TLY_EBUDGET, why, sizeof why);
	cr_assert(strstr(why, "spent epsilon 3.5,") && strstr(why, "cap (3.5,"), "%s", why);
	/* A refusal costs nothing: the next dataset and rho are untouched. */
	assert_spent(l, "patients", (struct tly_fraction){7, 2}, (struct tly_fraction){0, 1});
	tly_ledger_close(l);
	assert_verifies(3);
}

/* From below the cap to over it in one charge: 9/10 spent, 2/10 more
 * against a total of 1 is refused, leaves the spend at 9/10 and is logged
 * as a refusal; 1/10 more reaches exactly 1 and is charged; then nothing
 * more fits. The accounting is the ledger's own, not only the
 * accountant's (test_budget): a ledger that compared what was spent
 * before the charge with the cap would pass 11/10. */
Test(ledger, a_charge_that_crosses_the_total_is_refused)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_budget b = BUDGET(FR(1, 1), FR(1, 1), FR(1, 2));
	char why[512];

	struct tly_ledger_charge c = charge("patients", 1, TLY_MECH_LAPLACE, 9, 10);
	reserve(l, &c, &b, TLY_OK, NULL, 0);
	c = charge("patients", 2, TLY_MECH_LAPLACE, 2, 10);
	reserve(l, &c, &b, TLY_EBUDGET, why, sizeof why);
	cr_assert(strstr(why, "budget exhausted: spent epsilon 0.9,") != NULL, "%s", why);
	assert_spent(l, "patients", FR(9, 10), FR(0, 1));
	c = charge("patients", 3, TLY_MECH_LAPLACE, 1, 10);
	struct tly_ledger_receipt r = reserve(l, &c, &b, TLY_OK, NULL, 0);
	cr_assert(r.epsilon_spent.num == 1 && r.epsilon_spent.den == 1);
	c = charge("patients", 4, TLY_MECH_LAPLACE, 1, 1000000);
	reserve(l, &c, &b, TLY_EBUDGET, NULL, 0);
	assert_spent(l, "patients", FR(1, 1), FR(0, 1));
	tly_ledger_close(l);
	assert_verifies(4);
}

Test(ledger, per_query_cap)
{
	struct tly_ledger *l = open_ledger();
	char why[512];

	struct tly_ledger_charge c = charge("patients", 1, TLY_MECH_LAPLACE, 201, 100);
	reserve(l, &c, &defaults, TLY_EBUDGET, why, sizeof why);
	cr_assert(strstr(why, "epsilon request 2.01 is over the per-query cap 2") != NULL, "%s",
	          why);
	c = charge("patients", 2, TLY_MECH_SKELLAM, 3, 5);
	reserve(l, &c, &defaults, TLY_EBUDGET, why, sizeof why);
	cr_assert(strstr(why, "rho request 0.6 is over the per-query cap 0.5") != NULL, "%s", why);
	/* Unreduced input is charged reduced: 4/2 = 2 is at the cap. */
	c = charge("patients", 3, TLY_MECH_LAPLACE, 4, 2);
	struct tly_ledger_receipt r = reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	cr_assert(r.amount.num == 2 && r.amount.den == 1);
	assert_spent(l, "patients", (struct tly_fraction){2, 1}, (struct tly_fraction){0, 1});
	tly_ledger_close(l);
	assert_verifies(3);
}

Test(ledger, epsilon_and_rho_share_one_accountant_per_population)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_budget b = BUDGET(FR(1, 1), FR(1, 1), FR(1, 4));
	char why[512];
	uint64_t n = 1;

	/* The cap (1, 1e-6) in zCDP is rho* = 0.024355...: rho 1/50 fits,
	 * then 1/200 more does not; a pure epsilon 1/10 (1/200 in zCDP) fits. */
	struct tly_ledger_charge c = charge("patients", n++, TLY_MECH_SKELLAM, 1, 50);
	reserve(l, &c, &b, TLY_OK, NULL, 0);
	c = charge("patients", n++, TLY_MECH_SKELLAM, 1, 200);
	reserve(l, &c, &b, TLY_EBUDGET, why, sizeof why);
	cr_assert(strstr(why, "rho 0.02;") && strstr(why, "rho 0.005 more"), "%s", why);
	/* Once rho is spent, epsilon counts as eps^2/2 against the same cap:
	 * the old separate epsilon budget would have taken 1 here. */
	c = charge("patients", n++, TLY_MECH_LAPLACE, 1, 1);
	reserve(l, &c, &b, TLY_EBUDGET, NULL, 0);
	c = charge("patients", n++, TLY_MECH_LAPLACE, 1, 20);
	struct tly_ledger_receipt r = reserve(l, &c, &b, TLY_OK, NULL, 0);
	cr_assert(r.rho_spent.num == 1 && r.rho_spent.den == 50);
	cr_assert(r.epsilon_rho_spent.num == 1 && r.epsilon_rho_spent.den == 800);
	struct tly_budget_cap cap = {FR(1, 1), FR(1, 1000000), 1};
	struct tly_fraction rho_total;
	cr_assert_eq(tly_budget_rho_cap(&cap, &rho_total), TLY_OK);
	cr_assert(r.budget.rho_total.num == rho_total.num &&
	              r.budget.rho_total.den == rho_total.den,
	          "the derived zCDP cap is recorded");
	cr_assert_str_eq(r.population, "patients");

	/* A second dataset of the same population shares the accountant ... */
	c = charge("gp_visits", n++, TLY_MECH_SKELLAM, 1, 200);
	c.population = "patients";
	reserve(l, &c, &b, TLY_EBUDGET, why, sizeof why);
	cr_assert(strstr(why, "population \"patients\"") != NULL, "%s", why);
	/* ... while another population has its own. */
	c = charge("gp_visits", n++, TLY_MECH_SKELLAM, 1, 50);
	r = reserve(l, &c, &b, TLY_OK, NULL, 0);
	cr_assert(r.rho_spent.num == 1 && r.rho_spent.den == 50 && r.epsilon_spent.num == 0);
	assert_spent(l, "patients", FR(1, 20), FR(1, 50));
	assert_spent(l, "gp_visits", FR(0, 1), FR(1, 50));
	assert_spent(l, "never_used", FR(0, 1), FR(0, 1));
	tly_ledger_close(l);
	assert_verifies(6);
}

Test(ledger, the_issue_sequence_is_refused_at_the_combined_cap)
{
	/* Old defaults: epsilon 20 and rho 5 were separate; after epsilon
	 * reached 20/20 nine more rho = 0.5 queries were released. Now the
	 * one cap (20, 1e-6) refuses the first rho query. */
	struct tly_ledger *l = open_ledger();
	char why[512];
	uint64_t n = 1;

	for (int i = 0; i < 10; i++) {
		struct tly_ledger_charge c = charge("patients", n++, TLY_MECH_LAPLACE, 2, 1);
		reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	}
	assert_spent(l, "patients", FR(20, 1), FR(0, 1));
	for (int i = 0; i < 9; i++) {
		struct tly_ledger_charge c = charge("patients", n++, TLY_MECH_SKELLAM, 1, 2);
		reserve(l, &c, &defaults, TLY_EBUDGET, why, sizeof why);
	}
	cr_assert(strstr(why, "budget exhausted") != NULL, "%s", why);
	assert_spent(l, "patients", FR(20, 1), FR(0, 1));
	tly_ledger_close(l);
	assert_verifies(19);
}

Test(ledger, two_sites_per_person_halve_the_per_site_cap)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_budget two = defaults;
	uint64_t n = 1;
	int admitted = 0;

	two.sites = 2;
	/* rho* (20, 1e-6) = 4.789: one site admits 9 x 0.5, each of two
	 * sites 4 (2 <= 2.394 < 2.5). */
	for (int i = 0; i < 12; i++) {
		struct tly_ledger_charge c = charge("patients", n++, TLY_MECH_SKELLAM, 1, 2);
		struct tly_ledger_receipt r;
		char why[512];
		if (tly_ledger_reserve(l, &c, &two, &r, why, sizeof why) == TLY_OK)
			admitted++;
	}
	cr_assert_eq(admitted, 4);
	tly_ledger_close(l);
	assert_verifies(12);
}

Test(ledger, same_query_id_never_charged_twice)
{
	struct tly_ledger *l = open_ledger();
	char why[512];

	struct tly_ledger_charge c = charge("patients", 42, TLY_MECH_LAPLACE, 1, 2);
	reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	reserve(l, &c, &defaults, TLY_EREPLAY, why, sizeof why);
	cr_assert(strstr(why, "already charged in ledger entry 1") != NULL, "%s", why);
	/* Not under another mechanism or dataset either. */
	c.mechanism = TLY_MECH_SKELLAM;
	c.dataset = "other";
	reserve(l, &c, &defaults, TLY_EREPLAY, NULL, 0);
	assert_spent(l, "patients", (struct tly_fraction){1, 2}, (struct tly_fraction){0, 1});
	assert_spent(l, "other", (struct tly_fraction){0, 1}, (struct tly_fraction){0, 1});

	/* A query refused for budget may be asked again and is refused again. */
	c = charge("patients", 43, TLY_MECH_LAPLACE, 3, 1);
	reserve(l, &c, &defaults, TLY_EBUDGET, NULL, 0);
	reserve(l, &c, &defaults, TLY_EBUDGET, NULL, 0);
	tly_ledger_close(l);

	struct tly_ledger_report rep;
	cr_assert_eq(tly_ledger_verify_file(path, pk, &rep), TLY_OK, "%s", rep.reason);
	cr_assert_eq(rep.charges, 1);
	cr_assert_eq(rep.refusals, 4);
}

Test(ledger, overflow_is_refused_cleanly)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_budget b = BUDGET(FR(UINT64_MAX, 1), FR(1, 1), FR(1, 1));
	char why[512];

	struct tly_ledger_charge c = charge("patients", 1, TLY_MECH_LAPLACE, 1, UINT64_MAX);
	reserve(l, &c, &b, TLY_OK, NULL, 0);
	c = charge("patients", 2, TLY_MECH_LAPLACE, 1, UINT64_MAX - 1);
	reserve(l, &c, &b, TLY_ERANGE, why, sizeof why);
	cr_assert(strstr(why, "does not fit") != NULL, "%s", why);
	assert_spent(l, "patients", (struct tly_fraction){1, UINT64_MAX},
	             (struct tly_fraction){0, 1});
	/* The ledger goes on: a sum that fits is charged. */
	c = charge("patients", 3, TLY_MECH_LAPLACE, 1, UINT64_MAX);
	reserve(l, &c, &b, TLY_OK, NULL, 0);
	assert_spent(l, "patients", (struct tly_fraction){2, UINT64_MAX},
	             (struct tly_fraction){0, 1});
	/* Caps near 2^64 compare exactly. */
	struct tly_ledger_budget tight = BUDGET(FR(3, UINT64_MAX), FR(1, 1), FR(1, 1));
	c = charge("patients", 4, TLY_MECH_LAPLACE, 1, UINT64_MAX);
	reserve(l, &c, &tight, TLY_OK, NULL, 0);
	c = charge("patients", 5, TLY_MECH_LAPLACE, 1, UINT64_MAX);
	reserve(l, &c, &tight, TLY_EBUDGET, NULL, 0);
	tly_ledger_close(l);
	assert_verifies(5);
}

Test(ledger, malformed_charges_are_refused_unrecorded)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_budget bad_budget = defaults;
	char why[512];
	char long_name[80];

	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	struct tly_ledger_charge cases[8];
	for (size_t i = 0; i < 8; i++)
		cases[i] = charge("patients", i, TLY_MECH_LAPLACE, 1, 10);
	cases[0].dataset = "Patients";
	cases[1].dataset = long_name;
	cases[2].dataset = "";
	cases[3].mechanism = TLY_MECH_NONE;
	cases[4].amount = (struct tly_fraction){0, 1};
	cases[5].amount = (struct tly_fraction){1, 0};
	cases[6].spec_len = 0;
	cases[7].spec_json = "{\"a\":\0}";
	cases[7].spec_len = 7;
	for (size_t i = 0; i < 8; i++) {
		reserve(l, &cases[i], &defaults, TLY_EINVAL, why, sizeof why);
		cr_assert(strncmp(why, "malformed charge", 16) == 0, "%s", why);
	}
	bad_budget.rho_per_query.den = 0;
	struct tly_ledger_charge c = charge("patients", 9, TLY_MECH_LAPLACE, 1, 10);
	reserve(l, &c, &bad_budget, TLY_EINVAL, NULL, 0);
	/* the accountant's fields */
	c.population = "Patients";
	reserve(l, &c, &defaults, TLY_EINVAL, why, sizeof why);
	cr_assert(strstr(why, "population name") != NULL, "%s", why);
	c.population = "patients";
	bad_budget = defaults;
	bad_budget.delta_total = FR(1, 1);
	reserve(l, &c, &bad_budget, TLY_EINVAL, why, sizeof why);
	cr_assert(strstr(why, "delta_total") != NULL, "%s", why);
	bad_budget = defaults;
	bad_budget.sites = 0;
	reserve(l, &c, &bad_budget, TLY_EINVAL, NULL, 0);
	tly_ledger_close(l);
	assert_verifies(0);
}

Test(ledger, reopen_preserves_everything)
{
	struct tly_ledger *l = open_ledger();

	for (uint64_t i = 1; i <= 4; i++) {
		struct tly_ledger_charge c = charge("patients", i, TLY_MECH_LAPLACE, 1, 3);
		reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	}
	tly_ledger_close(l);
	l = open_ledger();
	assert_spent(l, "patients", (struct tly_fraction){4, 3}, (struct tly_fraction){0, 1});
	struct tly_ledger_charge c = charge("patients", 2, TLY_MECH_LAPLACE, 1, 3);
	reserve(l, &c, &defaults, TLY_EREPLAY, NULL, 0);
	c = charge("patients", 5, TLY_MECH_LAPLACE, 2, 3);
	struct tly_ledger_receipt r = reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	cr_assert_eq(r.seq, 6);
	cr_assert(r.epsilon_spent.num == 2 && r.epsilon_spent.den == 1);
	uint8_t recorded[TLY_SIGN_PUBLIC_BYTES];
	tly_ledger_public_key(l, recorded);
	cr_assert_arr_eq(recorded, pk, sizeof pk);
	tly_ledger_close(l);
	assert_verifies(6);
}

/* ---- file format ---- */

static void
raw_sql(const char *file, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	cr_assert_eq(sqlite3_open(file, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg);
	sqlite3_close(db);
}

static sqlite3_int64
raw_int(const char *file, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3_int64 v;

	cr_assert_eq(sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
assert_open_refused(tly_err want, const char *needle)
{
	struct tly_ledger *l = NULL;
	char err[256];

	memset(&err, 0, sizeof err);
	cr_assert_eq(tly_ledger_open(&l, path, 3, key, err, sizeof err), want, "%s", err);
	cr_assert_null(l);
	cr_assert(strstr(err, needle) != NULL, "%s", err);
}

Test(ledger, refuses_files_that_are_not_its_own)
{
	/* Another application's file. */
	raw_sql(path, "PRAGMA application_id = 42; CREATE TABLE t (x);");
	assert_open_refused(TLY_EFORMAT, "application_id 0x0000002a");
	unlink(path);

	/* A trust's data file (no application_id, has tables): refused and
	 * left as it was, journal mode included. */
	raw_sql(path, "CREATE TABLE patients (person_id INTEGER, age INTEGER);"
	              "INSERT INTO patients VALUES (1, 70);");
	assert_open_refused(TLY_EFORMAT, "not a tally ledger");
	cr_assert_eq(raw_int(path, "SELECT count(*) FROM patients"), 1);
	cr_assert_eq(raw_int(path, "SELECT count(*) FROM sqlite_master"), 1);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "delete");
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(path);

	/* Not SQLite at all. */
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < 4096; i++)
		fputc('x', f);
	fclose(f);
	assert_open_refused(TLY_EFORMAT, "not a readable SQLite database");
	unlink(path);

	/* A ledger from a newer tally. */
	tly_ledger_close(open_ledger());
	raw_sql(path, "PRAGMA user_version = 4;");
	assert_open_refused(TLY_EFORMAT, "version 4");
	unlink(path);

	/* A version 2 ledger (no log head in its entries): refused. */
	tly_ledger_close(open_ledger());
	raw_sql(path, "PRAGMA user_version = 2;");
	assert_open_refused(TLY_EFORMAT, "version 2");
	unlink(path);

	/* A version 1 ledger (separate epsilon and rho budgets): refused, not
	 * read with the wrong arithmetic. */
	tly_ledger_close(open_ledger());
	raw_sql(path, "PRAGMA user_version = 1;");
	assert_open_refused(TLY_EFORMAT, "version 1");
}

Test(ledger, refuses_another_key)
{
	struct tly_sign_key *other = NULL;
	struct tly_ledger *l = NULL;
	char err[256];

	tly_ledger_close(open_ledger());
	cr_assert_eq(tly_sign_key_alloc(&other, NULL), TLY_OK);
	cr_assert_eq(tly_ledger_open(&l, path, 3, other, err, sizeof err), TLY_EAUTH);
	cr_assert(strstr(err, "another node signing key") != NULL, "%s", err);
	tly_sign_key_free(other);
}

Test(ledger, file_settings)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_charge c = charge("patients", 1, TLY_MECH_LAPLACE, 1, 2);

	reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	cr_assert_eq(raw_int(path, "PRAGMA application_id"), TLY_LEDGER_APPLICATION_ID);
	cr_assert_eq(raw_int(path, "PRAGMA user_version"), TLY_LEDGER_FORMAT_VERSION);
	tly_ledger_close(l);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* Append-only: the triggers stop an UPDATE or DELETE. */
	cr_assert_neq(sqlite3_exec(db, "UPDATE entries SET amount_num = 0", NULL, NULL, NULL),
	              SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "DELETE FROM entries", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_verifies(1);
}

static void
misuse_cleanup(const char *what)
{
	(void)what;
	remove_dir();
}

Test(ledger, reserve_on_read_only_handle_aborts, .signal = SIGABRT)
{
	struct tly_ledger *l = NULL;
	char err[256];
	struct tly_ledger_receipt r;

	tly_ledger_close(open_ledger());
	cr_assert_eq(tly_ledger_open_readonly(&l, path, err, sizeof err), TLY_OK, "%s", err);
	/* The abort skips teardown: clean up on the way out. */
	tly_set_misuse_handler(misuse_cleanup);
	struct tly_ledger_charge c = charge("patients", 1, TLY_MECH_LAPLACE, 1, 2);
	(void)!tly_ledger_reserve(l, &c, &defaults, &r, NULL, 0);
}

/* ---- the chain against tampering ---- */

/* Twelve entries: charges of both kinds, refusals, two datasets. */
static void
build_chain(void)
{
	struct tly_ledger *l = open_ledger();

	for (uint64_t i = 1; i <= 12; i++) {
		uint8_t mech = i % 3 == 0 ? TLY_MECH_SKELLAM : TLY_MECH_LAPLACE;
		const char *ds = i % 4 == 0 ? "gp_visits" : "patients";
		uint64_t sevenths = i == 10 ? 30 : i == 5 ? 9 : 1; /* 30/7 > 2: refused */
		struct tly_ledger_charge c = charge(ds, i, mech, sevenths, 7);
		struct tly_ledger_receipt r;
		char why[256];
		tly_err rv = tly_ledger_reserve(l, &c, &defaults, &r, why, sizeof why);
		cr_assert(rv == TLY_OK || rv == TLY_EBUDGET, "%s", why);
	}
	tly_ledger_close(l);
	assert_verifies(12);
}

static void
copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char block[4096];
	size_t n;

	cr_assert(in != NULL && out != NULL);
	while ((n = fread(block, 1, sizeof block, in)) > 0)
		cr_assert_eq(fwrite(block, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

Test(ledger, tampering_names_the_first_bad_entry)
{
	static const struct {
		const char *sql;
		uint64_t bad_seq;
		const char *says;
	} cases[] = {
	    {"UPDATE entries SET amount_num = 2 WHERE seq = 5", 5, "entry_hash does not match"},
	    {"UPDATE entries SET entry_hash = zeroblob(32) WHERE seq = 4", 4, "entry_hash"},
	    {"UPDATE entries SET signature = randomblob(64) WHERE seq = 6", 6, "signature"},
	    {"DELETE FROM entries WHERE seq = 3", 3, "entry 3 is missing"},
	    {"UPDATE entries SET seq = 100 WHERE seq = 7; UPDATE entries SET seq = 7 WHERE seq = 8;"
	     "UPDATE entries SET seq = 8 WHERE seq = 100",
	     7, "entry_hash"},
	    {"UPDATE entries SET epsilon_total_num = 1000 WHERE seq = 2", 2, "entry_hash"},
	    {"UPDATE entries SET rho_spent_num = 0 WHERE seq = 9", 9, "entry_hash"},
	    {"UPDATE entries SET spec_json = '{}' WHERE seq = 10", 10, "entry_hash"},
	    {"UPDATE entries SET time = time + 1 WHERE seq = 11", 11, "entry_hash"},
	    {"UPDATE entries SET query_id = zeroblob(15) WHERE seq = 1", 1, "query_id"},
	    {"UPDATE entries SET kind = 2 WHERE seq = 8", 8, "entry_hash"},
	    {"UPDATE entries SET prev_hash = zeroblob(32) WHERE seq = 12", 12, "entry_hash"},
	    {"UPDATE entries SET dataset = 'patients' WHERE seq = 4", 4, "entry_hash"},
	    {"UPDATE entries SET log_size = log_size + 1 WHERE seq = 3", 3, "entry_hash"},
	    {"UPDATE entries SET log_root = zeroblob(32) WHERE seq = 5", 5, "entry_hash"},
	    {"UPDATE entries SET log_signature = randomblob(64) WHERE seq = 6", 6, "entry_hash"},
	    {"UPDATE entries SET log_root = zeroblob(31) WHERE seq = 2", 2, "log_root"},
	};
	char original[160], sql[1024];

	build_chain();
	snprintf(original, sizeof original, "%s/pristine.db", dir);
	copy_file(path, original);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tly_ledger_report rep;
		copy_file(original, path);
		snprintf(sql, sizeof sql,
		         "PRAGMA ignore_check_constraints = ON; DROP TRIGGER entries_no_update;"
		         "DROP TRIGGER entries_no_delete; %s",
		         cases[i].sql);
		raw_sql(path, sql);
		tly_err rv = tly_ledger_verify_file(path, pk, &rep);
		cr_assert_eq(rv, TLY_EAUTH, "case %zu (%s): %s", i, cases[i].sql, tly_strerror(rv));
		cr_assert_eq(rep.bad_seq, cases[i].bad_seq, "case %zu (%s): bad %" PRIu64 ": %s", i,
		             cases[i].sql, rep.bad_seq, rep.reason);
		cr_assert_eq(rep.entries, cases[i].bad_seq - 1);
		cr_assert(strstr(rep.reason, cases[i].says) != NULL, "case %zu: %s", i, rep.reason);
	}
	/* Cutting off the tail leaves a valid, shorter chain: only the
	 * coordinator's receipts can show it (ledger.h says so). */
	copy_file(original, path);
	raw_sql(path, "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 12");
	assert_verifies(11);
	/* Another node's key verifies nothing. */
	struct tly_ledger_report rep;
	uint8_t other[TLY_SIGN_PUBLIC_BYTES];
	memcpy(other, pk, sizeof other);
	other[0] ^= 1;
	copy_file(original, path);
	cr_assert_eq(tly_ledger_verify_file(path, other, &rep), TLY_EAUTH);
	cr_assert_eq(rep.bad_seq, 1);
}

/* What a node holding its own key can do: rewrite entry seq with another
 * prev_hash, hash and sign it again, so that only the link is wrong. */
static void
resign_with_prev_hash(uint64_t seq, const uint8_t prev[TLY_HASH_BYTES])
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_entry e;
	uint8_t hash[TLY_HASH_BYTES], sig[TLY_SIGN_BYTES];
	char hex[3][2 * TLY_SIGN_BYTES + 1], sql[600];

	cr_assert_eq(tly_ledger_entry_get(l, seq, &e), TLY_OK);
	tly_ledger_close(l);
	e.spec_json = spec; /* every charge of build_chain carries it */
	e.spec_len = sizeof spec - 1;
	memcpy(e.prev_hash, prev, TLY_HASH_BYTES);
	cr_assert_eq(tly_ledger_entry_hash(&e, hash), TLY_OK);
	cr_assert_eq(tly_sign(sig, key, hash, sizeof hash), TLY_OK);
	sodium_bin2hex(hex[0], sizeof hex[0], prev, TLY_HASH_BYTES);
	sodium_bin2hex(hex[1], sizeof hex[1], hash, sizeof hash);
	sodium_bin2hex(hex[2], sizeof hex[2], sig, sizeof sig);
	snprintf(sql, sizeof sql,
	         "DROP TRIGGER entries_no_update; UPDATE entries SET prev_hash = X'%s', "
	         "entry_hash = X'%s', signature = X'%s' WHERE seq = %" PRIu64,
	         hex[0], hex[1], hex[2], seq);
	raw_sql(path, sql);
}

/* The chain, not only each entry's seal: an entry re-signed by the node's
 * own key with a wrong prev_hash -- the first, the second, or one spliced
 * onto an older entry (a fork that skips two) -- fails the audit, named. */
Test(ledger, resigned_entry_with_a_wrong_prev_hash_is_named)
{
	static const uint64_t seqs[] = {1, 2, 7};
	char original[160];
	uint8_t prev[TLY_HASH_BYTES];

	build_chain();
	snprintf(original, sizeof original, "%s/pristine.db", dir);
	copy_file(path, original);
	for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
		struct tly_ledger_report rep;
		copy_file(original, path);
		if (seqs[i] == 1) {
			memset(prev, 0xa5, sizeof prev); /* the first links to zeros */
		} else if (seqs[i] == 2) {
			memset(prev, 0, sizeof prev); /* as if it were the first */
		} else {
			struct tly_ledger *l = open_ledger();
			struct tly_ledger_entry older;
			cr_assert_eq(tly_ledger_entry_get(l, seqs[i] - 3, &older), TLY_OK);
			memcpy(prev, older.entry_hash, sizeof prev);
			tly_ledger_close(l);
		}
		resign_with_prev_hash(seqs[i], prev);
		cr_assert_eq(tly_ledger_verify_file(path, pk, &rep), TLY_EAUTH, "entry %" PRIu64,
		             seqs[i]);
		cr_assert_eq(rep.bad_seq, seqs[i], "bad %" PRIu64 ": %s", rep.bad_seq, rep.reason);
		cr_assert_eq(rep.entries, seqs[i] - 1);
		cr_assert(strstr(rep.reason, "prev_hash is not the hash of entry") != NULL, "%s",
		          rep.reason);
	}
}

/* The entry bytes written out again from ledger.h's layout alone, as
 * another implementation would. */
static size_t
independent_entry_bytes(const struct tly_ledger_entry *e, uint8_t *out)
{
	uint8_t *p = out;
	const struct tly_fraction f[] = {e->amount,
	                                 e->epsilon_spent,
	                                 e->rho_spent,
	                                 e->budget.epsilon_total,
	                                 e->budget.epsilon_per_query,
	                                 e->budget.rho_total,
	                                 e->budget.rho_per_query};
	size_t n;

	*p++ = 3;
	*p++ = e->kind;
	tly_store_be64(p, e->seq), p += 8;
	tly_store_be64(p, e->time), p += 8;
	n = strlen(e->dataset);
	*p++ = (uint8_t)n;
	memcpy(p, e->dataset, n), p += n;
	memcpy(p, e->query_id, 16), p += 16;
	memcpy(p, e->query_hash, 32), p += 32;
	*p++ = e->mechanism;
	for (size_t i = 0; i < 7; i++) {
		tly_store_be64(p, f[i].num), p += 8;
		tly_store_be64(p, f[i].den), p += 8;
	}
	*p++ = e->refusal;
	n = strlen(e->reason);
	*p++ = (uint8_t)(n >> 8);
	*p++ = (uint8_t)n;
	memcpy(p, e->reason, n), p += n;
	tly_store_be32(p, (uint32_t)e->spec_len), p += 4;
	memcpy(p, e->spec_json, e->spec_len), p += e->spec_len;
	memcpy(p, e->prev_hash, 32), p += 32;
	n = strlen(e->population);
	*p++ = (uint8_t)n;
	memcpy(p, e->population, n), p += n;
	tly_store_be64(p, e->epsilon_rho_spent.num), p += 8;
	tly_store_be64(p, e->epsilon_rho_spent.den), p += 8;
	tly_store_be64(p, e->budget.delta_total.num), p += 8;
	tly_store_be64(p, e->budget.delta_total.den), p += 8;
	tly_store_be32(p, e->budget.sites), p += 4;
	tly_store_be64(p, e->log_head.size), p += 8;
	memcpy(p, e->log_head.root, 32), p += 32;
	memcpy(p, e->log_head.signature, 64), p += 64;
	return (size_t)(p - out);
}

static void
insert_entry(sqlite3 *db, const struct tly_ledger_entry *e)
{
	sqlite3_stmt *st = NULL;
	const struct tly_fraction f[] = {e->amount,
	                                 e->epsilon_spent,
	                                 e->rho_spent,
	                                 e->budget.epsilon_total,
	                                 e->budget.epsilon_per_query,
	                                 e->budget.rho_total,
	                                 e->budget.rho_per_query};
	int col = 1;

	/* A forger would drop the index that refuses a second charge. */
	cr_assert_eq(
	    sqlite3_exec(db, "DROP INDEX IF EXISTS entries_charged_query", NULL, NULL, NULL),
	    SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(
	                 db,
	                 "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	                 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                 -1, &st, NULL),
	             SQLITE_OK);
	sqlite3_bind_int64(st, col++, (sqlite3_int64)e->seq);
	sqlite3_bind_int64(st, col++, e->kind);
	sqlite3_bind_int64(st, col++, (sqlite3_int64)e->time);
	sqlite3_bind_text(st, col++, e->dataset, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, col++, e->query_id, 16, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, col++, e->query_hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, col++, e->mechanism);
	for (size_t i = 0; i < 7; i++) {
		sqlite3_bind_int64(st, col++, (sqlite3_int64)f[i].num);
		sqlite3_bind_int64(st, col++, (sqlite3_int64)f[i].den);
	}
	sqlite3_bind_int64(st, col++, e->refusal);
	sqlite3_bind_text(st, col++, e->reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, col++, e->spec_json, (int)e->spec_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, col++, e->prev_hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, col++, e->entry_hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, col++, e->signature, 64, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, col++, e->population, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, col++, (sqlite3_int64)e->epsilon_rho_spent.num);
	sqlite3_bind_int64(st, col++, (sqlite3_int64)e->epsilon_rho_spent.den);
	sqlite3_bind_int64(st, col++, (sqlite3_int64)e->budget.delta_total.num);
	sqlite3_bind_int64(st, col++, (sqlite3_int64)e->budget.delta_total.den);
	sqlite3_bind_int64(st, col++, e->budget.sites);
	sqlite3_bind_int64(st, col++, (sqlite3_int64)e->log_head.size);
	sqlite3_bind_blob(st, col++, e->log_head.root, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, col++, e->log_head.signature, 64, SQLITE_TRANSIENT);
	cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

/* Entry seq 13 after build_chain's twelve, sealed with the real key (a
 * node that broke its own rules): the accounting checks must catch what
 * the signature cannot. */
static struct tly_ledger_entry
next_entry(void)
{
	struct tly_ledger_entry e;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	memset(&e, 0, sizeof e);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(
	                 db,
	                 "SELECT entry_hash, epsilon_spent_num, epsilon_spent_den, rho_spent_num,"
	                 " rho_spent_den, epsilon_rho_spent_num, epsilon_rho_spent_den FROM entries"
	                 " WHERE population = 'patients' ORDER BY seq DESC",
	                 -1, &st, NULL),
	             SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	e.epsilon_spent = (struct tly_fraction){(uint64_t)sqlite3_column_int64(st, 1),
	                                        (uint64_t)sqlite3_column_int64(st, 2)};
	e.rho_spent = (struct tly_fraction){(uint64_t)sqlite3_column_int64(st, 3),
	                                    (uint64_t)sqlite3_column_int64(st, 4)};
	e.epsilon_rho_spent = (struct tly_fraction){(uint64_t)sqlite3_column_int64(st, 5),
	                                            (uint64_t)sqlite3_column_int64(st, 6)};
	sqlite3_finalize(st);
	cr_assert_eq(
	    sqlite3_prepare_v2(db, "SELECT entry_hash FROM entries WHERE seq = 12", -1, &st, NULL),
	    SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	memcpy(e.prev_hash, sqlite3_column_blob(st, 0), 32);
	sqlite3_finalize(st);
	sqlite3_close(db);
	e.kind = TLY_LEDGER_CHARGE;
	e.seq = 13;
	e.time = (uint64_t)time(NULL);
	strcpy(e.dataset, "patients");
	strcpy(e.population, "patients");
	memset(e.query_id, 0xab, sizeof e.query_id);
	e.mechanism = TLY_MECH_LAPLACE;
	e.amount = (struct tly_fraction){1, 7};
	cr_assert_eq(tly_ledger_fraction_add(e.epsilon_spent, e.amount, &e.epsilon_spent), TLY_OK);
	cr_assert_eq(tly_ledger_fraction_add(e.epsilon_rho_spent, FR(1, 98), &e.epsilon_rho_spent),
	             TLY_OK);
	e.budget = defaults;
	struct tly_budget_cap cap = {defaults.epsilon_total, defaults.delta_total, 1};
	cr_assert_eq(tly_budget_rho_cap(&cap, &e.budget.rho_total), TLY_OK);
	e.spec_json = spec;
	e.spec_len = sizeof spec - 1;
	return e;
}

static void
seal_insert_verify(struct tly_ledger_entry *e, const char *says)
{
	struct tly_ledger_report rep;
	uint8_t mine[2048];
	struct tly_buf theirs;
	sqlite3 *db = NULL;

	tly_buf_init(&theirs);
	cr_assert_eq(tly_ledger_entry_encode(e, &theirs), TLY_OK);
	size_t n = independent_entry_bytes(e, mine);
	cr_assert_eq(theirs.len, n);
	cr_assert_arr_eq(theirs.data, mine, n, "entry bytes follow the documented layout");
	tly_buf_fini(&theirs);
	cr_assert_eq(tly_ledger_entry_hash(e, e->entry_hash), TLY_OK);
	cr_assert_eq(tly_sign(e->signature, key, e->entry_hash, sizeof e->entry_hash), TLY_OK);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	insert_entry(db, e);
	sqlite3_close(db);
	tly_err rv = tly_ledger_verify_file(path, pk, &rep);
	if (says == NULL) {
		cr_assert_eq(rv, TLY_OK, "%s", rep.reason);
		return;
	}
	cr_assert_eq(rv, TLY_EAUTH);
	cr_assert_eq(rep.bad_seq, 13);
	cr_assert(strstr(rep.reason, says) != NULL, "%s", rep.reason);
}

Test(ledger, signed_but_wrong_accounting_is_caught)
{
	char original[160];
	struct tly_ledger_entry e;

	build_chain();
	snprintf(original, sizeof original, "%s/pristine.db", dir);
	copy_file(path, original);

	/* A correct entry written by hand verifies: the layout is complete. */
	e = next_entry();
	seal_insert_verify(&e, NULL);

	copy_file(original, path);
	e = next_entry();
	e.budget.epsilon_total = (struct tly_fraction){1, 7};
	struct tly_budget_cap small = {e.budget.epsilon_total, e.budget.delta_total, 1};
	cr_assert_eq(tly_budget_rho_cap(&small, &e.budget.rho_total), TLY_OK);
	seal_insert_verify(&e, "spent over its cap");

	/* a rho_total that is not the one the cap gives */
	copy_file(original, path);
	e = next_entry();
	e.budget.rho_total = (struct tly_fraction){5, 1}; /* the old rho budget */
	seal_insert_verify(&e, "rho_total is not the zCDP cap");

	/* an epsilon^2/2 total that is not the sum */
	copy_file(original, path);
	e = next_entry();
	e.epsilon_rho_spent = (struct tly_fraction){0, 1};
	seal_insert_verify(&e, "not the sum");

	copy_file(original, path);
	e = next_entry();
	e.amount = (struct tly_fraction){3, 1};
	e.epsilon_spent.num += 1;
	seal_insert_verify(&e, "per-query cap");

	copy_file(original, path);
	e = next_entry();
	e.epsilon_spent = (struct tly_fraction){0, 1};
	seal_insert_verify(&e, "not the sum");

	copy_file(original, path);
	e = next_entry();
	tly_store_be64(e.query_id, 0x7175657279000000u);
	tly_store_be64(e.query_id + 8, 1);
	seal_insert_verify(&e, "already charged in entry 1");

	copy_file(original, path);
	e = next_entry();
	e.amount = (struct tly_fraction){2, 14};
	seal_insert_verify(&e, "not reduced");

	copy_file(original, path);
	e = next_entry();
	e.kind = TLY_LEDGER_REFUSAL;
	e.refusal = TLY_LEDGER_REFUSED_BUDGET;
	seal_insert_verify(&e, "not the sum"); /* a refusal that charged */
}

/* ---- receipts ---- */

Test(ledger, charge_and_refusal_carry_the_verified_log_head)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_charge c = charge("patients", 9, TLY_MECH_LAPLACE, 1, 2);
	struct tly_ledger_receipt r = reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	struct tly_ledger_entry e;

	cr_assert_eq(tly_ledger_entry_get(l, 1, &e), TLY_OK);
	cr_assert_eq(e.log_head.size, c.log_head.size);
	cr_assert_arr_eq(e.log_head.root, c.log_head.root, 32);
	cr_assert_arr_eq(e.log_head.signature, c.log_head.signature, 64);
	cr_assert_eq(r.log_head.size, c.log_head.size);
	cr_assert_arr_eq(r.log_head.root, c.log_head.root, 32);
	cr_assert_arr_eq(r.log_head.signature, c.log_head.signature, 64);
	/* In the receipt bytes: size, root, signature just before the node's
	 * signature; a size-0 head that is not all zeros does not decode. */
	struct tly_buf bytes;
	struct tly_ledger_receipt back;
	tly_buf_init(&bytes);
	cr_assert_eq(tly_ledger_receipt_encode(&r, &bytes), TLY_OK);
	cr_assert_eq(bytes.len, TLY_RECEIPT_FIXED_BYTES + 2 * strlen("patients"));
	const uint8_t *h = bytes.data + bytes.len - TLY_SIGN_BYTES - TLY_LOG_HEAD_FIELD_BYTES;
	cr_assert_eq(tly_load_be64(h), c.log_head.size);
	cr_assert_arr_eq(h + 8, c.log_head.root, 32);
	cr_assert_arr_eq(h + 40, c.log_head.signature, 64);
	memset(bytes.data + (h - bytes.data), 0, 8);
	cr_assert_eq(tly_ledger_receipt_decode(&back, bytes.data, bytes.len), TLY_EFORMAT);
	tly_buf_fini(&bytes);
	/* The refusal of a replay records the head it came with too. */
	c.log_head.size++;
	reserve(l, &c, &defaults, TLY_EREPLAY, NULL, 0);
	cr_assert_eq(tly_ledger_entry_get(l, 2, &e), TLY_OK);
	cr_assert_eq(e.kind, TLY_LEDGER_REFUSAL);
	cr_assert_eq(e.log_head.size, c.log_head.size);
	/* A head of size 0 must be all zeros (one encoding of "no head"). */
	struct tly_ledger_charge bad = charge("patients", 10, TLY_MECH_LAPLACE, 1, 2);
	bad.log_head.size = 0;
	char why[256];
	cr_assert_eq(tly_ledger_reserve(l, &bad, &defaults, &r, why, sizeof why), TLY_EINVAL);
	tly_ledger_close(l);
	assert_verifies(2);
}

Test(ledger, receipts_verify_and_any_changed_byte_fails)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_charge c = charge("patients", 7, TLY_MECH_SKELLAM, 1, 8);
	struct tly_ledger_receipt r = reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	struct tly_ledger_receipt back;
	struct tly_buf bytes, again;
	uint8_t other[TLY_SIGN_PUBLIC_BYTES];

	tly_ledger_close(l);
	cr_assert_eq(r.node_id, 3);
	cr_assert_eq(r.seq, 1);
	cr_assert_eq(r.mechanism, TLY_MECH_SKELLAM);
	cr_assert(r.rho_spent.num == 1 && r.rho_spent.den == 8);
	cr_assert_arr_eq(r.query_id, c.query_id, sizeof r.query_id);
	cr_assert_eq(tly_ledger_receipt_verify(&r, pk), TLY_OK);
	memcpy(other, pk, sizeof other);
	other[5] ^= 0x10;
	cr_assert_neq(tly_ledger_receipt_verify(&r, other), TLY_OK);

	/* The receipt names the ledger entry it stands for. */
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_prepare_v2(db, "SELECT entry_hash FROM entries WHERE seq = 1", -1, &st, NULL),
	    SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_arr_eq(sqlite3_column_blob(st, 0), r.entry_hash, 32);
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* Round trips both ways. */
	tly_buf_init(&bytes);
	tly_buf_init(&again);
	cr_assert_eq(tly_ledger_receipt_encode(&r, &bytes), TLY_OK);
	cr_assert_eq(bytes.len, TLY_RECEIPT_FIXED_BYTES + 2 * strlen("patients"));
	cr_assert_eq(tly_ledger_receipt_decode(&back, bytes.data, bytes.len), TLY_OK);
	cr_assert_eq(tly_ledger_receipt_verify(&back, pk), TLY_OK);
	cr_assert_eq(tly_ledger_receipt_encode(&back, &again), TLY_OK);
	cr_assert_eq(again.len, bytes.len);
	cr_assert_arr_eq(again.data, bytes.data, bytes.len);

	/* Every byte, three ways each: refused or unverifiable. */
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	uint8_t *copy = malloc(bytes.len + 1);
	cr_assert_not_null(copy);
	for (size_t i = 0; i < bytes.len; i++) {
		for (size_t k = 0; k < sizeof flips; k++) {
			memcpy(copy, bytes.data, bytes.len);
			copy[i] ^= flips[k];
			tly_err rv = tly_ledger_receipt_decode(&back, copy, bytes.len);
			cr_assert(rv != TLY_OK || tly_ledger_receipt_verify(&back, pk) == TLY_EAUTH,
			          "byte %zu ^ 0x%02x accepted", i, flips[k]);
		}
	}
	/* Truncated or extended. */
	memcpy(copy, bytes.data, bytes.len);
	copy[bytes.len] = 0;
	cr_assert_eq(tly_ledger_receipt_decode(&back, copy, bytes.len + 1), TLY_EFORMAT);
	for (size_t n = 0; n < bytes.len; n++)
		cr_assert_eq(tly_ledger_receipt_decode(&back, copy, n), TLY_EFORMAT, "length %zu",
		             n);
	free(copy);
	tly_buf_fini(&bytes);
	tly_buf_fini(&again);
}

/* ---- show and usage ---- */

static char *
show(enum tly_ledger_format format)
{
	struct tly_ledger *l = NULL;
	char err[256];
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(out);
	cr_assert_eq(tly_ledger_open_readonly(&l, path, err, sizeof err), TLY_OK, "%s", err);
	cr_assert_eq(tly_ledger_show(l, out, format), TLY_OK);
	fclose(out);
	tly_ledger_close(l);
	return text;
}

Test(ledger, show_lists_every_entry)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_charge c = charge("patients", 1, TLY_MECH_LAPLACE, 1, 10);

	reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	c = charge("patients", 2, TLY_MECH_SKELLAM, 1, 1);
	reserve(l, &c, &defaults, TLY_EBUDGET, NULL, 0);
	tly_ledger_close(l);

	char *table = show(TLY_LEDGER_TABLE);
	char id[33];
	/* Each entry names the log head verified for its query. */
	cr_assert(strstr(table, "log head") && strstr(table, "101:0101010101010101") &&
	              strstr(table, "102:0303030303030303"),
	          "%s", table);
	c = charge("patients", 1, TLY_MECH_LAPLACE, 1, 10);
	sodium_bin2hex(id, sizeof id, c.query_id, sizeof c.query_id);
	cr_assert(strstr(table, id) != NULL, "%s", table);
	cr_assert(strstr(table, "charge") && strstr(table, "refused") && strstr(table, "laplace") &&
	              strstr(table, "skellam") && strstr(table, " 0.1 ") &&
	              strstr(table, "1/10") == NULL && strstr(table, "per-query cap"),
	          "%s", table);
	char year[8];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(year, sizeof year, "%Y-", &tm);
	cr_assert(strstr(table, year) != NULL && strstr(table, "Z ") != NULL, "%s", table);
	free(table);

	char *csv = show(TLY_LEDGER_CSV);
	cr_assert(strncmp(csv, "seq,time,kind,dataset,query_id,", 31) == 0, "%s", csv);
	cr_assert(strstr(csv, "\n1,") && strstr(csv, "\n2,"), "%s", csv);
	cr_assert(strstr(csv, ",\"dataset \"\"patients\"\": rho request 1 ") != NULL, "%s", csv);
	/* the population, its eps^2/2 total, the zCDP cap and the guarantee
	 * so far: epsilon 1/10 exactly, by basic composition */
	cr_assert(strstr(csv, ",patients,1/200,4789373059/1000000000,\"(0.1000, 0)\",") != NULL,
	          "%s", csv);
	free(csv);
}

Test(ledger, usage_lists_answered_queries_with_their_json)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_usage u;
	static const char other_spec[] = "{\"dataset\":\"gp_visits\"}";

	struct tly_ledger_charge c = charge("patients", 1, TLY_MECH_LAPLACE, 1, 2);
	reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	c = charge("patients", 2, TLY_MECH_LAPLACE, 30, 1);
	reserve(l, &c, &defaults, TLY_EBUDGET, NULL, 0);
	c = charge("gp_visits", 3, TLY_MECH_SKELLAM, 1, 4);
	c.spec_json = other_spec;
	c.spec_len = sizeof other_spec - 1;
	reserve(l, &c, &defaults, TLY_OK, NULL, 0);

	cr_assert_eq(tly_ledger_usage(l, NULL, &u), TLY_OK);
	cr_assert_eq(u.count, 2);
	cr_assert_eq(u.uses[0].entry.seq, 1);
	cr_assert_str_eq(u.uses[0].spec_json, spec);
	cr_assert_eq(u.uses[1].entry.seq, 3);
	cr_assert_str_eq(u.uses[1].entry.dataset, "gp_visits");
	cr_assert_str_eq(u.uses[1].spec_json, other_spec);
	cr_assert_eq(u.uses[1].entry.spec_len, sizeof other_spec - 1);
	cr_assert(u.uses[1].entry.amount.num == 1 && u.uses[1].entry.amount.den == 4);
	cr_assert_arr_eq(u.uses[1].entry.query_id, c.query_id, 16);
	tly_ledger_usage_fini(&u);

	cr_assert_eq(tly_ledger_usage(l, "patients", &u), TLY_OK);
	cr_assert_eq(u.count, 1);
	cr_assert_eq(u.uses[0].entry.seq, 1);
	tly_ledger_usage_fini(&u);
	cr_assert_eq(tly_ledger_usage(l, "Bad Name", &u), TLY_EINVAL);
	tly_ledger_usage_fini(&u);
	tly_ledger_close(l);
}

/* ---- durability under SIGKILL ---- */

static void
helper_path(char *out, size_t len)
{
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	cr_assert(n > 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(out, len, "%s/helpers/ledger_hammer", exe);
	cr_assert_eq(access(out, X_OK), 0, "%s not built (make builds tests/helpers/)", out);
}

/* Complete 32-hex-digit lines of text as ids appended to *ids. */
static void
parse_ids(const char *text, size_t len, uint8_t (**ids)[16], size_t *count)
{
	for (size_t at = 0; at + 33 <= len; at += 33) {
		uint8_t id[16];
		size_t got = 0;
		cr_assert_eq(text[at + 32], '\n', "garbled hammer output");
		cr_assert_eq(sodium_hex2bin(id, sizeof id, text + at, 32, NULL, &got, NULL), 0);
		*ids = realloc(*ids, (*count + 1) * sizeof **ids);
		cr_assert_not_null(*ids);
		memcpy((*ids)[(*count)++], id, 16);
	}
}

static char *
slurp_fd(int fd, size_t *len)
{
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;

	*len = 0;
	do {
		if (*len + 4096 > cap) {
			cap = cap * 2 + 4096;
			text = realloc(text, cap);
			cr_assert_not_null(text);
		}
		n = read(fd, text + *len, cap - *len);
		if (n > 0)
			*len += (size_t)n;
	} while (n > 0 || (n < 0 && errno == EINTR));
	return text;
}

/* Read from fd into text until a newline arrives (or 20 s pass). */
static void
read_first_line(int fd, char **text, size_t *len, size_t *cap)
{
	struct pollfd wait = {.fd = fd, .events = POLLIN};

	while (memchr(*text, '\n', *len) == NULL && poll(&wait, 1, 20000) == 1) {
		if (*len + 4096 > *cap) {
			*cap = *cap * 2 + 4096;
			*text = realloc(*text, *cap);
			cr_assert_not_null(*text);
		}
		ssize_t n = read(fd, *text + *len, *cap - *len);
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
}

/* Start the hammer and SIGKILL it delay_us later, counted from its start or,
 * when after_send, from its first send; return what it printed on stdout. */
static char *
run_and_kill(const char *helper, const char *sent, const char *seed_hex, int after_send,
             uint32_t delay_us, size_t *len)
{
	struct timespec delay = {0, (long)delay_us * 1000};
	int fds[2];
	int status;
	char *first = calloc(1, 1), *rest;
	size_t first_len = 0, first_cap = 1, rest_len;

	cr_assert_not_null(first);
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(helper, helper, path, sent, seed_hex, (char *)NULL);
		perror(helper);
		_exit(127);
	}
	close(fds[1]);
	if (after_send)
		read_first_line(fds[0], &first, &first_len, &first_cap);
	while (nanosleep(&delay, &delay) != 0 && errno == EINTR)
		;
	cr_assert_eq(kill(pid, SIGKILL), 0);
	rest = slurp_fd(fds[0], &rest_len);
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	          "the hammer stopped by itself (status 0x%x): see its stderr", status);
	first = realloc(first, first_len + rest_len + 1);
	cr_assert_not_null(first);
	memcpy(first + first_len, rest, rest_len);
	free(rest);
	*len = first_len + rest_len;
	return first;
}

static int
charged(sqlite3 *db, const uint8_t id[16])
{
	sqlite3_stmt *st = NULL;
	int n;

	cr_assert_eq(
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM entries WHERE query_id = ? AND kind = 1",
	                       -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Under valgrind every start costs a second: fewer kills there. */
static int
under_valgrind(void)
{
	const char *preload = getenv("LD_PRELOAD");

	return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

Test(ledger, durable_under_sigkill, .timeout = 600)
{
	int rounds = tly_vectors_slow() ? 1000 : under_valgrind() ? 10 : 100;
	char helper[600], sent[160], seed_hex[2 * TLY_SIGN_SEED_BYTES + 1];
	uint8_t(*reported)[16] = NULL;
	size_t reported_count = 0;
	uint64_t entries = 0;

	helper_path(helper, sizeof helper);
	snprintf(sent, sizeof sent, "%s/sent", dir);
	sodium_bin2hex(seed_hex, sizeof seed_hex, seed, sizeof seed);
	tly_ledger_close(open_ledger());
	for (int round = 0; round < rounds; round++) {
		size_t out_len, sent_len, before = reported_count;
		unlink(sent);
		/* Odd rounds kill within 0-50 ms of the start (loading, opening,
		 * the first reserves); even rounds 0-50 ms after the first send,
		 * so that kills land at every point of the loop: mid-transaction,
		 * between commit and "send", during the send. */
		char *out = run_and_kill(helper, sent, seed_hex, round % 2 == 0,
		                         randombytes_uniform(50000), &out_len);
		parse_ids(out, out_len, &reported, &reported_count);
		free(out);
		int fd = open(sent, O_RDONLY);
		if (fd >= 0) {
			char *marks = slurp_fd(fd, &sent_len);
			close(fd);
			parse_ids(marks, sent_len, &reported, &reported_count);
			free(marks);
		}

		struct tly_ledger_report rep;
		tly_err rv = tly_ledger_verify_file(path, pk, &rep);
		cr_assert_eq(rv, TLY_OK, "round %d: %s: entry %" PRIu64 ": %s", round,
		             tly_strerror(rv), rep.bad_seq, rep.reason);
		cr_assert_geq(rep.entries, entries, "round %d: entries went back", round);
		entries = rep.entries;

		sqlite3 *db = NULL;
		cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		for (size_t i = before; i < reported_count; i++)
			cr_assert_eq(charged(db, reported[i]), 1,
			             "round %d: a query id was sent but is not charged", round);
		sqlite3_close(db);
	}
	/* The test saw the hammer work, and nothing sent was lost at the end. */
	cr_assert_geq(reported_count, (size_t)rounds / 2, "only %zu sends in %d rounds",
	              reported_count, rounds);
	cr_assert_geq(entries, reported_count / 2);
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (size_t i = 0; i < reported_count; i++)
		cr_assert_eq(charged(db, reported[i]), 1);
	sqlite3_close(db);
	free(reported);
}

Test(ledger, show_states_the_converted_guarantee_rounded_up)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_charge c = charge("patients", 1, TLY_MECH_SKELLAM, 1, 2);

	reserve(l, &c, &defaults, TLY_OK, NULL, 0);
	tly_ledger_close(l);
	/* cdp2adp(0.5, 1e-6) = 5.22153444..., shown rounded up */
	char *csv = show(TLY_LEDGER_CSV);
	cr_assert(strstr(csv, "\"(5.2216, 1e-06)\"") != NULL, "%s", csv);
	free(csv);
}

/* ---- the log heads a node holds (node/ledger_heads.h) ---- */

Test(ledger, log_heads_record_newest_and_refuse_a_fork)
{
	struct tly_ledger *l = open_ledger();
	struct tly_ledger_head newest, *all = NULL;
	struct tly_tree_head h = {.size = 3};
	uint8_t qid[TLY_QUERY_ID_BYTES] = {9};
	size_t count = 0;
	int found = 1;

	cr_assert_eq(tly_ledger_head_newest(l, &newest, &found), TLY_OK);
	cr_assert_eq(found, 0, "a new ledger holds no head");
	memset(h.root, 0x33, sizeof h.root);
	memset(h.signature, 0x44, sizeof h.signature);
	cr_assert_eq(tly_ledger_head_record(l, &h, qid), TLY_OK);
	cr_assert_eq(tly_ledger_head_record(l, &h, qid), TLY_OK, "the same head again");
	h.root[0] ^= 1;
	cr_assert_eq(tly_ledger_head_record(l, &h, qid), TLY_EAUTH, "another root, same size");
	h.root[0] ^= 1;
	h.size = 7;
	h.root[1] = 0x77;
	cr_assert_eq(tly_ledger_head_record(l, &h, qid), TLY_OK);
	cr_assert_eq(tly_ledger_head_newest(l, &newest, &found), TLY_OK);
	cr_assert(found && newest.head.size == 7 && newest.head.root[1] == 0x77);
	cr_assert_arr_eq(newest.query_id, qid, sizeof qid);
	tly_ledger_close(l);
	/* Durable, readable read-only, and append-only. */
	char err[256];
	cr_assert_eq(tly_ledger_open_readonly(&l, path, err, sizeof err), TLY_OK, "%s", err);
	cr_assert_eq(tly_ledger_heads(l, &all, &count), TLY_OK);
	cr_assert_eq(count, 2);
	cr_assert(all[0].head.size == 3 && all[1].head.size == 7);
	cr_assert_eq(all[0].head.signature[0], 0x44);
	free(all);
	tly_ledger_close(l);
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "DELETE FROM log_heads", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "UPDATE log_heads SET size = 8", NULL, NULL, NULL),
	              SQLITE_OK);
	sqlite3_close(db);
}
