/*
 * bench_ledger - what a node's signing-key rotation costs its ledger
 * (node/ledger.h, store/sqlog.h "key handovers"), each against the same
 * ledger without a handover, in the same run:
 *
 *   charge   one tly_ledger_reserve (BEGIN IMMEDIATE, the key-in-force
 *            check, the decision, sign, insert, fsynced COMMIT) on a
 *            ledger of N entries whose key was handed over at entry N/2,
 *            against one that never was;
 *   verify   tly_ledger_verify of the whole chain (every signature and
 *            total), the handover checked where it stands, against the
 *            same chain under one key;
 *   check    the key-in-force check every charge now runs
 *            (tly_sqlog_current_key), against one charge;
 *   handover tly_ledger_handover itself (two signatures, one fsynced
 *            insert) and the reopen with the new key, against one charge.
 *
 * N = 10^4 (100 in the short pass); medians of 7 runs (charges: of 64),
 * two rounds alternating the sides, the lower median of each.
 * The files live in a temporary folder (mkdtemp's template: six X's it
 * replaces with a unique name) on the same disk as /tmp.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bench/timing.h"
#include "crypto/sign.h"
#include "node/ledger.h"
#include "store/sqlog.h"
#include "wire/buf.h"

static char dir[64];
static const char spec[] = "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"}}";
static const struct tly_ledger_budget budget = {.epsilon_total = {1000000, 1},
                                                .epsilon_per_query = {1, 1},
                                                .rho_per_query = {1, 1},
                                                .delta_total = {1, 1000000},
                                                .sites = 1};

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench_ledger: %s failed\n", what);
		exit(1);
	}
}

struct ledger_run {
	struct tly_ledger *l;
	uint64_t next; /* the next query number */
	struct tly_ledger_report report;
};

static void
charge_one(void *arg)
{
	struct ledger_run *r = arg;
	struct tly_ledger_charge c = {.dataset = "patients",
	                              .population = "patients",
	                              .mechanism = TLY_MECH_LAPLACE,
	                              .amount = {1, 100},
	                              .spec_json = spec,
	                              .spec_len = sizeof spec - 1};
	struct tly_ledger_receipt receipt;
	char why[400];

	tly_store_be64(c.query_id, 0x62656e63686c6467u);
	tly_store_be64(c.query_id + 8, r->next++);
	crypto_generichash(c.query_hash, sizeof c.query_hash, c.query_id, sizeof c.query_id, NULL,
	                   0);
	check(tly_ledger_reserve(r->l, &c, &budget, &receipt, why, sizeof why) == TLY_OK, why);
}

static void
verify_all(void *arg)
{
	struct ledger_run *r = arg;
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];

	tly_ledger_public_key(r->l, pk);
	check(tly_ledger_verify(r->l, pk, &r->report) == TLY_OK, r->report.reason);
}

/* A ledger of n entries at DIR/name; handed over from keys[0] to keys[1]
 * after n/2 when rotated. The handle is left open with the key in force. */
static void
make_ledger(struct ledger_run *r, const char *name, long n, struct tly_sign_key *keys[2],
            int rotated)
{
	char path[128], why[256];
	struct tly_ledger_key k;

	snprintf(path, sizeof path, "%s/%s.db", dir, name);
	memset(r, 0, sizeof *r);
	r->next = 1;
	check(tly_ledger_open(&r->l, path, 1, keys[0], why, sizeof why) == TLY_OK, why);
	for (long i = 0; i < n; i++) {
		if (rotated && i == n / 2) {
			check(tly_ledger_handover(r->l, keys[1], &k, why, sizeof why) == TLY_OK,
			      why);
			tly_ledger_close(r->l);
			check(tly_ledger_open(&r->l, path, 1, keys[1], why, sizeof why) == TLY_OK,
			      why);
		}
		charge_one(r);
	}
}

static void
remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	char file[400];

	while (d != NULL && (ent = readdir(d)) != NULL) {
		if (ent->d_name[0] == '.')
			continue;
		snprintf(file, sizeof file, "%s/%s", dir, ent->d_name);
		unlink(file);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

struct key_check {
	sqlite3 *db;
	uint8_t first[TLY_SIGN_PUBLIC_BYTES];
};

static void
key_in_force(void *arg)
{
	struct key_check *k = arg;
	uint8_t current[TLY_SIGN_PUBLIC_BYTES];

	check(tly_sqlog_current_key(k->db, k->first, current) == TLY_OK, "key in force");
	bench_consume(current, sizeof current);
}

struct handover_run {
	struct ledger_run *r;
	struct tly_sign_key *keys[2];
	int from; /* the key in force: keys[from] */
	char path[128];
};

/* One handover, back and forth between two keys; the handle reopened with
 * the new key (outside the timing would need two clocks: the reopen is
 * part of a rotation's cost anyway). */
static void
hand_over(void *arg)
{
	struct handover_run *h = arg;
	struct tly_ledger_key k;
	char why[256];

	check(tly_ledger_handover(h->r->l, h->keys[1 - h->from], &k, why, sizeof why) == TLY_OK,
	      why);
	h->from = 1 - h->from;
	tly_ledger_close(h->r->l);
	check(tly_ledger_open(&h->r->l, h->path, 1, h->keys[h->from], why, sizeof why) == TLY_OK,
	      why);
}

int
main(void)
{
	struct tly_sign_key *keys[2];
	struct ledger_run plain, rotated;
	long n = bench_pick(10000, 100);
	char params[64];

	check(tly_crypto_init() == TLY_OK, "crypto init");
	snprintf(dir, sizeof dir, "/tmp/tally-bench-ledger-XXXXXX");
	check(mkdtemp(dir) != NULL, "mkdtemp");
	for (int i = 0; i < 2; i++)
		check(tly_sign_key_alloc(&keys[i], NULL) == TLY_OK, "key");
	make_ledger(&plain, "plain", n, keys, 0);
	make_ledger(&rotated, "rotated", n, keys, 1);
	bench_header();
	snprintf(params, sizeof params, "entries=%ld", n);

	double plain_charge = 0, rotated_charge = 0, plain_verify = 0, rotated_verify = 0;
	/* Two rounds, the sides alternating, the lower median of each side:
	 * a burst of load on a shared machine falls on both. */
	for (int round = 0; round < 2; round++) {
		double a = bench_median(charge_one, &plain, (int)bench_pick(64, 1));
		double b = bench_median(charge_one, &rotated, (int)bench_pick(64, 1));
		double c = bench_median(verify_all, &plain, (int)bench_pick(7, 1));
		double d = bench_median(verify_all, &rotated, (int)bench_pick(7, 1));
		plain_charge = round == 0 || a < plain_charge ? a : plain_charge;
		rotated_charge = round == 0 || b < rotated_charge ? b : rotated_charge;
		plain_verify = round == 0 || c < plain_verify ? c : plain_verify;
		rotated_verify = round == 0 || d < rotated_verify ? d : rotated_verify;
	}
	bench_row("ledger", "charge_after_handover", params, rotated_charge * 1e3, "ms",
	          "charge_one_key", plain_charge * 1e3);

	check(rotated.report.key_count == 2 && plain.report.key_count == 1, "key counts");
	bench_row("ledger", "verify_with_handover", params, rotated_verify * 1e3, "ms",
	          "verify_one_key", plain_verify * 1e3);

	struct key_check k;
	char path[128];
	snprintf(path, sizeof path, "%s/rotated.db", dir);
	tly_sign_key_public(keys[0], k.first);
	check(sqlite3_open_v2(path, &k.db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "open");
	double check_s = bench_median(key_in_force, &k, (int)bench_pick(1001, 1));
	sqlite3_close(k.db);
	bench_row("ledger", "key_in_force_check", params, check_s * 1e3, "ms", "charge_one_key",
	          plain_charge * 1e3);

	struct handover_run h = {.r = &rotated, .keys = {keys[0], keys[1]}, .from = 1};
	snprintf(h.path, sizeof h.path, "%s/rotated.db", dir);
	double handover = bench_median(hand_over, &h, (int)bench_pick(7, 1));
	bench_row("ledger", "handover_and_reopen", params, handover * 1e3, "ms", "charge_one_key",
	          plain_charge * 1e3);

	tly_ledger_close(plain.l);
	tly_ledger_close(rotated.l);
	for (int i = 0; i < 2; i++)
		tly_sign_key_free(keys[i]);
	remove_dir();
	return 0;
}
