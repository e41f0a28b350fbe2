/* The per-planner share (coordinator/shares.h): parsing the config value,
 * exact boundaries (exactly at the share admitted, one unit over refused)
 * under both rules of query/budget.h, queries in flight, datasets of
 * one population, the cap unknown until a receipt states it, and a
 * refusal that charged nothing. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "coordinator/shares.h"
#include "coordinator/translog.h"
#include "query/budget.h"
#include "store/keys.h"

#define F(n, d) ((struct tly_fraction){(n), (d)})

static const struct tly_fraction delta = {1, 1000000};

static void
qid(uint8_t out[16], unsigned n)
{
	memset(out, 0, 16);
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
}

/* A receipt stating a population's cap (epsilon_total, sites). */
static struct tly_ledger_receipt
receipt(uint32_t node, const char *dataset, const char *population, struct tly_fraction eps_total,
        uint32_t sites)
{
	struct tly_ledger_receipt r;
	struct tly_budget_cap cap = {eps_total, delta, sites};

	memset(&r, 0, sizeof r);
	r.node_id = node;
	strcpy(r.dataset, dataset);
	strcpy(r.population, population);
	r.budget.epsilon_total = eps_total;
	r.budget.delta_total = delta;
	r.budget.sites = sites;
	cr_assert_eq(tly_budget_rho_cap(&cap, &r.budget.rho_total), TLY_OK);
	return r;
}

static struct tly_shares *
accountant(struct tly_fraction share)
{
	struct tly_shares *sh = NULL;
	cr_assert_eq(tly_shares_alloc(&sh, share), TLY_OK);
	return sh;
}

/* Commit and finish one query with these receipts. */
static void
run(struct tly_shares *sh, unsigned n, const struct tly_share_ask *ask, uint8_t outcome,
    const struct tly_ledger_receipt *receipts, size_t count)
{
	uint8_t id[16];
	qid(id, n);
	cr_assert_eq(tly_shares_commit(sh, id, ask), TLY_OK);
	cr_assert_eq(tly_shares_outcome(sh, id, outcome, receipts, count), TLY_OK);
}

static tly_err
check(struct tly_shares *sh, const char *planner, const char *dataset, uint8_t mech,
      struct tly_fraction amount, struct tly_share_refusal *why)
{
	struct tly_share_ask ask = {planner, dataset, mech, amount};
	return tly_shares_check(sh, &ask, why);
}

Test(shares, parse)
{
	struct tly_fraction f = {7, 7};
	cr_assert_eq(tly_shares_parse("1/4", &f), TLY_OK);
	cr_assert(f.num == 1 && f.den == 4);
	cr_assert_eq(tly_shares_parse("2/4", &f), TLY_OK);
	cr_assert(f.num == 1 && f.den == 2);
	cr_assert_eq(tly_shares_parse("0.25", &f), TLY_OK);
	cr_assert(f.num == 1 && f.den == 4);
	cr_assert_eq(tly_shares_parse("1", &f), TLY_OK);
	cr_assert(f.num == 1 && f.den == 1);
	cr_assert_eq(tly_shares_parse("1.0", &f), TLY_OK);
	cr_assert(f.num == 1 && f.den == 1);
	cr_assert_eq(tly_shares_parse("3/3", &f), TLY_OK);
	cr_assert(f.num == 1 && f.den == 1);
	cr_assert_eq(tly_shares_parse("0.000000001", &f), TLY_OK);
	cr_assert(f.num == 1 && f.den == 1000000000);
	const char *bad[] = {"0",
	                     "0/1",
	                     "0.0",
	                     "5/4",
	                     "1.5",
	                     "2",
	                     "-1",
	                     "-1/2",
	                     "abc",
	                     "1/0",
	                     "",
	                     "/",
	                     "1/",
	                     "/2",
	                     ".5",
	                     "0.",
	                     "0.1234567891",
	                     "1/4x",
	                     " 1/4",
	                     "1e-3",
	                     "0x1/2",
	                     "1/2/3",
	                     "99999999999999999999/1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		f = F(7, 7);
		cr_assert_eq(tly_shares_parse(bad[i], &f), TLY_EINVAL, "\"%s\" accepted", bad[i]);
		cr_assert(f.num == 7 && f.den == 7, "\"%s\" changed out", bad[i]);
	}
	cr_assert(!tly_shares_valid(F(0, 1)) && !tly_shares_valid(F(3, 2)) &&
	          !tly_shares_valid(F(2, 4)) && !tly_shares_valid(F(1, 0)));
	struct tly_shares *sh = NULL;
	cr_assert_eq(tly_shares_alloc(&sh, F(3, 2)), TLY_EINVAL);
	cr_assert_null(sh);
}

/* Pure epsilon, m = 1 (the basic rule): cap 20, share 1/2, so 10 each.
 * 9 spent, then exactly 1 more is admitted; 1 + 10^-9 is refused. */
Test(shares, epsilon_boundary)
{
	struct tly_shares *sh = accountant(F(1, 2));
	struct tly_ledger_receipt rs[2] = {receipt(1, "patients", "people", F(20, 1), 1),
	                                   receipt(2, "patients", "people", F(20, 1), 1)};
	struct tly_share_ask nine = {"alice", "patients", TLY_MECH_LAPLACE, F(9, 1)};
	struct tly_share_refusal why;

	run(sh, 1, &nine, TLY_TRANSLOG_RELEASED, rs, 2);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(1, 1), NULL), TLY_OK);
	cr_assert_eq(
	    check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(1000000001, 1000000000), &why),
	    TLY_EBUDGET);
	cr_assert_eq(why.no_cap, 0);
	cr_assert_str_eq(why.unit, "epsilon");
	cr_assert_str_eq(why.population, "people");
	cr_assert_eq(why.node, 1);
	cr_assert(why.spent.num == 9 && why.spent.den == 1);
	cr_assert(why.asked.num == 1000000001 && why.asked.den == 1000000000);
	cr_assert(why.allowed.num == 10 && why.allowed.den == 1);
	/* Another planner has its own share. */
	cr_assert_eq(check(sh, "bob", "patients", TLY_MECH_LAPLACE, F(10, 1), NULL), TLY_OK);
	cr_assert_eq(check(sh, "bob", "patients", TLY_MECH_LAPLACE, F(11, 1), NULL), TLY_EBUDGET);
	/* Spend the last unit: nothing is left. */
	struct tly_share_ask one = {"alice", "patients", TLY_MECH_LAPLACE, F(1, 1)};
	run(sh, 2, &one, TLY_TRANSLOG_RELEASED, rs, 2);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(1, 1000000000), NULL),
	             TLY_EBUDGET);
	tly_shares_free(sh);
}

/* zCDP (m = 2, only the rho rule): share 1/4 of rho_cap; exactly that
 * is admitted, plus the smallest fraction more is refused; a pure query
 * counts eps^2/2. */
Test(shares, rho_boundary)
{
	struct tly_shares *sh = accountant(F(1, 4));
	struct tly_ledger_receipt r = receipt(3, "visits", "people", F(2, 1), 2);
	struct tly_fraction quarter, more;
	struct tly_share_refusal why;
	uint8_t id[16];

	/* rho_cap is k/10^9: a quarter of it is exact. */
	quarter = F(r.budget.rho_total.num, r.budget.rho_total.den * 4);
	uint64_t g = quarter.num, b = quarter.den;
	while (b != 0) {
		uint64_t t = g % b;
		g = b;
		b = t;
	}
	quarter = F(quarter.num / g, quarter.den / g);
	cr_assert_eq(tly_shares_outcome(sh, (qid(id, 99), id), TLY_TRANSLOG_RELEASED, &r, 1),
	             TLY_OK);
	cr_assert_eq(check(sh, "alice", "visits", TLY_MECH_SKELLAM, quarter, NULL), TLY_OK);
	cr_assert_eq(tly_ledger_fraction_add(quarter, F(1, 1000000000000ull), &more), TLY_OK);
	cr_assert_eq(check(sh, "alice", "visits", TLY_MECH_SKELLAM, more, &why), TLY_EBUDGET);
	cr_assert_str_eq(why.unit, "rho");
	cr_assert(why.allowed.num == quarter.num && why.allowed.den == quarter.den);
	/* Laplace epsilon e costs e^2/2 in rho: e = 1/10 costs 1/200. */
	struct tly_share_ask pure = {"alice", "visits", TLY_MECH_LAPLACE, F(1, 10)};
	run(sh, 1, &pure, TLY_TRANSLOG_RELEASED, &r, 1);
	cr_assert_eq(check(sh, "alice", "visits", TLY_MECH_SKELLAM, quarter, &why), TLY_EBUDGET);
	cr_assert(why.spent.num == 1 && why.spent.den == 200);
	tly_shares_free(sh);
}

/* A query committed and not finished is spent: the next one cannot race
 * past the share. */
Test(shares, in_flight_counts)
{
	struct tly_shares *sh = accountant(F(1, 2));
	struct tly_ledger_receipt r = receipt(1, "patients", "people", F(20, 1), 1);
	struct tly_share_ask six = {"alice", "patients", TLY_MECH_LAPLACE, F(6, 1)};
	uint8_t id[16];
	size_t spends, flights, caps;

	run(sh, 1, &six, TLY_TRANSLOG_RELEASED, &r, 1);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(4, 1), NULL), TLY_OK);
	struct tly_share_ask three = {"alice", "patients", TLY_MECH_LAPLACE, F(3, 1)};
	cr_assert_eq(tly_shares_commit(sh, (qid(id, 2), id), &three), TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(1, 1), NULL), TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(2, 1), NULL), TLY_EBUDGET);
	tly_shares_counts(sh, &spends, &flights, &caps);
	cr_assert(spends == 1 && flights == 1 && caps == 1);
	/* Aborted after sending: still counted (a node may have charged). */
	cr_assert_eq(tly_shares_outcome(sh, id, TLY_TRANSLOG_ABORTED, NULL, 0), TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(2, 1), NULL), TLY_EBUDGET);
	tly_shares_counts(sh, &spends, &flights, &caps);
	cr_assert(flights == 0);
	tly_shares_free(sh);
}

/* Refused by every node with no receipt: nothing was charged, nothing is
 * counted. */
Test(shares, refused_without_receipts_is_free)
{
	struct tly_shares *sh = accountant(F(1, 2));
	struct tly_ledger_receipt r = receipt(1, "patients", "people", F(20, 1), 1);
	struct tly_share_ask ten = {"alice", "patients", TLY_MECH_LAPLACE, F(10, 1)};

	cr_assert_eq(tly_shares_outcome(sh, (uint8_t[16]){0xff}, TLY_TRANSLOG_REFUSED, &r, 1),
	             TLY_OK);
	run(sh, 1, &ten, TLY_TRANSLOG_REFUSED, NULL, 0);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(10, 1), NULL), TLY_OK);
	/* Refused by one node, charged by another (its receipt): counted. */
	run(sh, 2, &ten, TLY_TRANSLOG_REFUSED, &r, 1);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(1, 1000), NULL),
	             TLY_EBUDGET);
	tly_shares_free(sh);
}

/* No receipt has stated the cap yet: one query per planner and dataset
 * in flight, no more. */
Test(shares, no_cap_one_in_flight)
{
	struct tly_shares *sh = accountant(F(1, 2));
	struct tly_share_ask ask = {"alice", "patients", TLY_MECH_LAPLACE, F(1, 1)};
	struct tly_share_refusal why;
	uint8_t id[16];

	cr_assert_eq(tly_shares_check(sh, &ask, NULL), TLY_OK);
	cr_assert_eq(tly_shares_commit(sh, (qid(id, 1), id), &ask), TLY_OK);
	cr_assert_eq(tly_shares_check(sh, &ask, &why), TLY_EBUDGET);
	cr_assert_eq(why.no_cap, 1);
	cr_assert_eq(check(sh, "bob", "patients", TLY_MECH_LAPLACE, F(1, 1), NULL), TLY_OK);
	cr_assert_eq(check(sh, "alice", "visits", TLY_MECH_LAPLACE, F(1, 1), NULL), TLY_OK);
	/* Its receipt states the cap (20): now the share decides. */
	struct tly_ledger_receipt r = receipt(1, "patients", "people", F(20, 1), 1);
	cr_assert_eq(tly_shares_outcome(sh, id, TLY_TRANSLOG_RELEASED, &r, 1), TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(9, 1), NULL), TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(91, 10), NULL),
	             TLY_EBUDGET);
	tly_shares_free(sh);
}

/* Two datasets of one population at a node share its cap; at a node that
 * keeps them apart they do not. */
Test(shares, population_of_datasets)
{
	struct tly_shares *sh = accountant(F(1, 2));
	struct tly_ledger_receipt joint[2] = {receipt(1, "patients", "people", F(20, 1), 1),
	                                      receipt(1, "visits", "people", F(20, 1), 1)};
	struct tly_ledger_receipt apart = receipt(2, "visits", "visitors", F(20, 1), 1);
	struct tly_share_ask eight = {"alice", "patients", TLY_MECH_LAPLACE, F(8, 1)};
	struct tly_share_refusal why;

	run(sh, 1, &eight, TLY_TRANSLOG_RELEASED, joint, 2);
	cr_assert_eq(tly_shares_outcome(sh, (uint8_t[16]){0xee}, TLY_TRANSLOG_RELEASED, &apart, 1),
	             TLY_OK);
	cr_assert_eq(check(sh, "alice", "visits", TLY_MECH_LAPLACE, F(2, 1), NULL), TLY_OK);
	cr_assert_eq(check(sh, "alice", "visits", TLY_MECH_LAPLACE, F(3, 1), &why), TLY_EBUDGET);
	cr_assert_eq(why.node, 1);
	cr_assert_str_eq(why.population, "people");
	tly_shares_free(sh);
}

/* Share 1 is the cap itself; sums too large to represent are over. */
Test(shares, whole_cap_and_overflow)
{
	struct tly_shares *sh = accountant(F(1, 1));
	struct tly_ledger_receipt r = receipt(1, "patients", "people", F(20, 1), 1);
	struct tly_share_ask big = {"alice", "patients", TLY_MECH_LAPLACE,
	                            F(1, 18446744073709551557ull)};

	cr_assert_eq(tly_shares_outcome(sh, (uint8_t[16]){1}, TLY_TRANSLOG_RELEASED, &r, 1),
	             TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(20, 1), NULL), TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(21, 1), NULL), TLY_EBUDGET);
	run(sh, 2, &big, TLY_TRANSLOG_RELEASED, &r, 1);
	cr_assert_eq(
	    check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(1, 18446744073709551533ull), NULL),
	    TLY_EBUDGET);
	/* Such a query finished anyway (committed before): it stays counted,
	 * in flight, and the planner stays refused there. */
	struct tly_share_ask odd = {"alice", "patients", TLY_MECH_LAPLACE,
	                            F(1, 18446744073709551533ull)};
	size_t spends, flights, caps;
	run(sh, 3, &odd, TLY_TRANSLOG_RELEASED, &r, 1);
	tly_shares_counts(sh, &spends, &flights, &caps);
	cr_assert_eq(flights, 1);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(1, 1), NULL), TLY_EBUDGET);
	cr_assert_eq(check(sh, "bob", "patients", TLY_MECH_LAPLACE, F(1, 1), NULL), TLY_OK);
	tly_shares_free(sh);
}

/* A state whose scaling by 1/share does not fit u64/u64 is refused (the
 * safe side), though its value (about 1 of 20/3) is within the share. */
Test(shares, unscalable_state_is_over)
{
	struct tly_shares *sh = accountant(F(1, 3));
	struct tly_ledger_receipt r = receipt(1, "patients", "people", F(20, 1), 1);

	cr_assert_eq(tly_shares_outcome(sh, (uint8_t[16]){1}, TLY_TRANSLOG_RELEASED, &r, 1),
	             TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(1, 1), NULL), TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE,
	                   F(6148914691236517206ull, 6148914691236517207ull), NULL),
	             TLY_EBUDGET);
	tly_shares_free(sh);
}

Test(shares, bad_asks)
{
	struct tly_shares *sh = accountant(F(1, 2));
	struct tly_share_ask ask = {"alice", "patients", TLY_MECH_LAPLACE, F(0, 1)};
	uint8_t id[16] = {0};

	cr_assert_eq(tly_shares_check(sh, &ask, NULL), TLY_EINVAL);
	ask.amount = F(2, 4);
	cr_assert_eq(tly_shares_commit(sh, id, &ask), TLY_EINVAL);
	ask.amount = F(1, 2);
	ask.mechanism = TLY_MECH_NONE;
	cr_assert_eq(tly_shares_check(sh, &ask, NULL), TLY_EINVAL);
	ask.mechanism = TLY_MECH_LAPLACE;
	ask.dataset = "Bad Name";
	cr_assert_eq(tly_shares_check(sh, &ask, NULL), TLY_EINVAL);
	tly_shares_free(sh);
	tly_shares_free(NULL);
}

/* ---- rebuilt from a real transparency log (tly_translog_load_shares) ---- */

/* Append query n by planner on patients, epsilon amount: its committed
 * entry, then (outcome != 0) its outcome with receipts from nodes 1..k. */
static void
log_query(struct tly_translog *log, const char *planner, const char *eps, uint8_t outcome,
          uint32_t k)
{
	struct tly_translog_record rec;
	struct tly_translog_receipt receipts[4];
	struct tly_buf bufs[4];
	uint32_t ids[4];
	struct tly_idlist contributors = {k, ids};
	char spec[300], why[300];
	uint64_t num, den;

	cr_assert_eq(sscanf(eps, "%" SCNu64 "/%" SCNu64, &num, &den), 2);
	memset(&rec, 0, sizeof rec);
	snprintf(spec, sizeof spec,
	         "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},\"planner\":\"%s\","
	         "\"privacy\":{\"epsilon\":\"%s\",\"mechanism\":\"laplace\"}}",
	         planner, eps);
	randombytes_buf(rec.query_id, sizeof rec.query_id);
	tly_hash(rec.query_hash, "tally/query/v1", (const uint8_t *)spec, strlen(spec));
	rec.protocol = TLY_PROTOCOL_COMMITTEE;
	rec.outcome = TLY_TRANSLOG_COMMITTED;
	rec.spec_json = spec;
	rec.spec_len = strlen(spec);
	cr_assert_eq(tly_translog_append(log, &rec, NULL, why, sizeof why), TLY_OK, "%s", why);
	if (outcome == 0)
		return;
	for (uint32_t n = 0; n < k; n++) {
		struct tly_ledger_receipt r = receipt(n + 1, "patients", "people", F(20, 1), 1);
		static uint64_t seq;
		r.seq = ++seq;
		memcpy(r.query_id, rec.query_id, 16);
		memcpy(r.query_hash, rec.query_hash, 32);
		r.mechanism = TLY_MECH_LAPLACE;
		r.amount = r.epsilon_spent = F(num, den);
		r.epsilon_rho_spent = F(1, 2);
		r.rho_spent = F(0, 1);
		r.budget.epsilon_per_query = F(20, 1);
		r.budget.rho_per_query = F(1, 2);
		ids[n] = n + 1;
		tly_buf_init(&bufs[n]);
		cr_assert_eq(tly_ledger_receipt_encode(&r, &bufs[n]), TLY_OK);
		receipts[n] = (struct tly_translog_receipt){bufs[n].data, bufs[n].len};
	}
	rec.outcome = outcome;
	rec.reason = outcome == TLY_TRANSLOG_RELEASED ? "" : "test";
	rec.release_json = outcome == TLY_TRANSLOG_RELEASED ? "{}" : NULL;
	rec.release_len = rec.release_json != NULL ? 2 : 0;
	rec.contributors = outcome == TLY_TRANSLOG_RELEASED ? &contributors : NULL;
	rec.receipts = receipts;
	rec.receipt_count = k;
	cr_assert_eq(tly_translog_append(log, &rec, NULL, why, sizeof why), TLY_OK, "%s", why);
	for (uint32_t n = 0; n < k; n++)
		tly_buf_fini(&bufs[n]);
}

/* The spend a restarted coordinator rebuilds is the one it had: released
 * (receipts state the cap), refused by all with no receipt (free), and
 * committed without an outcome (counted). A planner not in any planners
 * file is just another name. */
Test(shares, rebuilt_from_the_log)
{
	char dir[] = "/tmp/tally-shares-XXXXXX", path[300], why[300], cmd[320];
	struct tly_sign_key *key = NULL;
	struct tly_translog *log = NULL;
	char terr[320];
	struct tly_share_refusal w;
	size_t spends, flights, caps;

	cr_assert_eq(tly_crypto_init(), TLY_OK);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(tly_sign_key_alloc(&key, NULL), TLY_OK);
	snprintf(path, sizeof path, "%s/transparency.db", dir);
	cr_assert_eq(tly_translog_open(&log, path, key, terr, sizeof terr), TLY_OK, "%s", terr);
	log_query(log, "alice", "3/1", TLY_TRANSLOG_RELEASED, 3);
	log_query(log, "alice", "4/1", TLY_TRANSLOG_REFUSED, 0);
	log_query(log, "alice", "5/1", TLY_TRANSLOG_ABORTED, 2);
	log_query(log, "alice", "1/1", 0, 0);
	log_query(log, "gone", "9/1", TLY_TRANSLOG_RELEASED, 3);

	struct tly_shares *sh = accountant(F(1, 2));
	cr_assert_eq(tly_translog_load_shares(log, sh, why, sizeof why), TLY_OK, "%s", why);
	tly_shares_counts(sh, &spends, &flights, &caps);
	cr_assert_eq(spends, 2);
	cr_assert_eq(flights, 1);
	cr_assert_eq(caps, 3);
	/* alice: 3 + 5 + 1 in flight = 9 of her 10. */
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(1, 1), NULL), TLY_OK);
	cr_assert_eq(check(sh, "alice", "patients", TLY_MECH_LAPLACE, F(11, 10), &w), TLY_EBUDGET);
	cr_assert(w.spent.num == 9 && w.spent.den == 1, "spent %" PRIu64 "/%" PRIu64, w.spent.num,
	          w.spent.den);
	cr_assert_eq(check(sh, "gone", "patients", TLY_MECH_LAPLACE, F(1, 1), NULL), TLY_OK);
	cr_assert_eq(check(sh, "gone", "patients", TLY_MECH_LAPLACE, F(2, 1), NULL), TLY_EBUDGET);
	cr_assert_eq(check(sh, "carol", "patients", TLY_MECH_LAPLACE, F(10, 1), NULL), TLY_OK);
	tly_shares_free(sh);
	tly_translog_close(log);
	tly_sign_key_free(key);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
