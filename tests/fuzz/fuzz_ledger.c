/*
 * Fuzz what the node's ledger and its receipts decode (node/ledger_impl.h,
 * node/ledger_entry.c, query/receipt.h). The first input byte picks:
 *
 *   even: receipt bytes, as a node sends them and the transparency log
 *         carries them. One that decodes must encode back to exactly its
 *         bytes, and its signature may verify under the harness's fixed
 *         key only if it is one of the receipts the harness itself signed
 *         (anything else would be a forgery).
 *   odd:  one row of table `entries`, as a damaged or edited ledger file
 *         holds it: 36 typed values (NULL, integer, real, text, blob) bound
 *         to `SELECT ?1, ..., ?36` on an in-memory SQLite and read with
 *         tly_ledger_row_read. A refusal names the column; a row that is
 *         read has fields within their sizes, encodes whenever its lengths
 *         allow, and its signature may verify only for an entry the harness
 *         signed.
 *
 * With FUZZ_LEDGER_SEEDS=DIR set, the harness writes its seed inputs (valid
 * receipts and rows signed by the fixed key) into DIR and exits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "crypto/rng.h"
#include "crypto/sign.h"
#include "node/ledger_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { KNOWN = 4 };

static sqlite3 *db;
static sqlite3_stmt *select_row;
static struct tly_sign_key *key;
static uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
/* What the harness signed: entry hashes and receipt digests. */
static uint8_t known_entry[KNOWN][TLY_HASH_BYTES];
static uint8_t known_receipt[KNOWN][TLY_HASH_BYTES];

static const char *const columns[TLY_LEDGER_COLUMN_COUNT] = {"seq",
                                                             "kind",
                                                             "time",
                                                             "dataset",
                                                             "query_id",
                                                             "query_hash",
                                                             "mechanism",
                                                             "amount_num",
                                                             "amount_den",
                                                             "epsilon_spent_num",
                                                             "epsilon_spent_den",
                                                             "rho_spent_num",
                                                             "rho_spent_den",
                                                             "epsilon_total_num",
                                                             "epsilon_total_den",
                                                             "epsilon_per_query_num",
                                                             "epsilon_per_query_den",
                                                             "rho_total_num",
                                                             "rho_total_den",
                                                             "rho_per_query_num",
                                                             "rho_per_query_den",
                                                             "refusal",
                                                             "reason",
                                                             "spec_json",
                                                             "prev_hash",
                                                             "entry_hash",
                                                             "signature",
                                                             "population",
                                                             "epsilon_rho_spent_num",
                                                             "epsilon_rho_spent_den",
                                                             "delta_total_num",
                                                             "delta_total_den",
                                                             "sites",
                                                             "log_size",
                                                             "log_root",
                                                             "log_signature"};

static const char spec0[] = "{\"dataset\":\"patients\",\"measure\":{\"op\":\"count\"},"
                            "\"privacy\":{\"epsilon\":0.5,\"mechanism\":\"laplace\"}}";

/* A valid entry: a charge (i even) or a refusal, signed by the fixed key. */
static void
make_entry(struct tly_ledger_entry *e, unsigned i)
{
	memset(e, 0, sizeof *e);
	e->seq = i + 1;
	e->kind = i % 2 == 0 ? TLY_LEDGER_CHARGE : TLY_LEDGER_REFUSAL;
	e->time = 1790000000u + i;
	snprintf(e->dataset, sizeof e->dataset, "%s", i < 2 ? "patients" : "a_b9");
	memset(e->query_id, 0x11 * (int)(i + 1), sizeof e->query_id);
	memset(e->query_hash, 0x22 + (int)i, sizeof e->query_hash);
	e->mechanism = i < 2 ? TLY_MECH_LAPLACE : TLY_MECH_SKELLAM;
	e->amount = (struct tly_fraction){1, 2};
	e->epsilon_spent = (struct tly_fraction){i < 2 ? 1 : 0, i < 2 ? 2 : 1};
	e->rho_spent = (struct tly_fraction){i < 2 ? 0 : 1, i < 2 ? 1 : 2};
	e->budget.epsilon_total = (struct tly_fraction){20, 1};
	e->budget.epsilon_per_query = (struct tly_fraction){2, 1};
	e->budget.rho_total = (struct tly_fraction){5, 3};
	e->budget.rho_per_query = (struct tly_fraction){1, 1};
	e->budget.delta_total = (struct tly_fraction){1, 1000000};
	e->budget.sites = 1 + i;
	snprintf(e->population, sizeof e->population, "%s", i < 2 ? "patients" : "people");
	e->epsilon_rho_spent = (struct tly_fraction){i < 2 ? 1 : 0, i < 2 ? 8 : 1};
	e->refusal =
	    e->kind == TLY_LEDGER_CHARGE ? TLY_LEDGER_REFUSED_NONE : TLY_LEDGER_REFUSED_BUDGET;
	if (e->kind == TLY_LEDGER_REFUSAL)
		snprintf(e->reason, sizeof e->reason, "spent 39/2 + 1/2 > 20/1");
	e->spec_json = spec0;
	e->spec_len = strlen(spec0);
	memset(e->prev_hash, (int)i, sizeof e->prev_hash);
	if (i != 3) { /* entry 4: no log head (all zero) */
		e->log_head.size = 7 + i;
		memset(e->log_head.root, 0x33 + (int)i, sizeof e->log_head.root);
		memset(e->log_head.signature, 0x44 + (int)i, sizeof e->log_head.signature);
	}
	if (tly_ledger_entry_hash(e, e->entry_hash) != TLY_OK ||
	    tly_sign(e->signature, key, e->entry_hash, sizeof e->entry_hash) != TLY_OK)
		abort();
}

/* ---- the row encoding: per column a type byte, then its value ---- */

enum { V_NULL, V_INT, V_REAL, V_TEXT, V_BLOB, V_TYPES };

static void
put_int(FILE *f, uint64_t v)
{
	fputc(V_INT, f);
	for (int s = 56; s >= 0; s -= 8)
		fputc((int)(v >> s) & 0xff, f);
}

static void
put_bytes(FILE *f, int type, const void *p, size_t n)
{
	fputc(type, f);
	fputc((int)(n >> 8) & 0xff, f);
	fputc((int)n & 0xff, f);
	fwrite(p, 1, n, f);
}

static void
put_fraction(FILE *f, struct tly_fraction x)
{
	put_int(f, x.num);
	put_int(f, x.den);
}

static void
write_row(FILE *f, const struct tly_ledger_entry *e)
{
	fputc(1, f); /* odd: a row */
	put_int(f, e->seq);
	put_int(f, e->kind);
	put_int(f, e->time);
	put_bytes(f, V_TEXT, e->dataset, strlen(e->dataset));
	put_bytes(f, V_BLOB, e->query_id, sizeof e->query_id);
	put_bytes(f, V_BLOB, e->query_hash, sizeof e->query_hash);
	put_int(f, e->mechanism);
	put_fraction(f, e->amount);
	put_fraction(f, e->epsilon_spent);
	put_fraction(f, e->rho_spent);
	put_fraction(f, e->budget.epsilon_total);
	put_fraction(f, e->budget.epsilon_per_query);
	put_fraction(f, e->budget.rho_total);
	put_fraction(f, e->budget.rho_per_query);
	put_int(f, e->refusal);
	put_bytes(f, V_TEXT, e->reason, strlen(e->reason));
	put_bytes(f, V_TEXT, e->spec_json, e->spec_len);
	put_bytes(f, V_BLOB, e->prev_hash, sizeof e->prev_hash);
	put_bytes(f, V_BLOB, e->entry_hash, sizeof e->entry_hash);
	put_bytes(f, V_BLOB, e->signature, sizeof e->signature);
	put_bytes(f, V_TEXT, e->population, strlen(e->population));
	put_fraction(f, e->epsilon_rho_spent);
	put_fraction(f, e->budget.delta_total);
	put_int(f, e->budget.sites);
	put_int(f, e->log_head.size);
	put_bytes(f, V_BLOB, e->log_head.root, sizeof e->log_head.root);
	put_bytes(f, V_BLOB, e->log_head.signature, sizeof e->log_head.signature);
}

static void
write_seeds(const char *dir)
{
	char path[4096];

	for (unsigned i = 0; i < KNOWN; i++) {
		struct tly_ledger_entry e;
		make_entry(&e, i);
		snprintf(path, sizeof path, "%s/row_%s_%u", dir,
		         e.kind == TLY_LEDGER_CHARGE ? "charge" : "refusal", i);
		FILE *f = fopen(path, "wb");
		if (f == NULL)
			abort();
		write_row(f, &e);
		fclose(f);
		if (e.kind != TLY_LEDGER_CHARGE)
			continue;
		struct tly_ledger_receipt r;
		struct tly_buf b;
		tly_buf_init(&b);
		if (tly_ledger_receipt_make(&r, &e, 3 + i, key) != TLY_OK ||
		    tly_ledger_receipt_encode(&r, &b) != TLY_OK)
			abort();
		/* Negative control: the seed verifies, and with one byte of its
		 * signature flipped it no longer does. */
		struct tly_ledger_receipt back;
		if (tly_ledger_receipt_decode(&back, b.data, b.len) != TLY_OK ||
		    tly_ledger_receipt_verify(&back, pk) != TLY_OK)
			abort();
		back.signature[7] ^= 1;
		if (tly_ledger_receipt_verify(&back, pk) == TLY_OK)
			abort();
		snprintf(path, sizeof path, "%s/receipt_%u", dir, i);
		if ((f = fopen(path, "wb")) == NULL)
			abort();
		fputc(0, f); /* even: a receipt */
		fwrite(b.data, 1, b.len, f);
		fclose(f);
		tly_buf_fini(&b);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	char sql[32 + 4 * TLY_LEDGER_COLUMN_COUNT] = "SELECT ?1";

	(void)argc, (void)argv;
	memset(seed, 0x5a, sizeof seed);
	if (tly_crypto_init() != TLY_OK || tly_sign_key_alloc(&key, seed) != TLY_OK)
		abort();
	tly_sign_key_public(key, pk);
	for (unsigned i = 0; i < KNOWN; i++) {
		struct tly_ledger_entry e;
		struct tly_ledger_receipt r;
		make_entry(&e, i);
		memcpy(known_entry[i], e.entry_hash, TLY_HASH_BYTES);
		if (tly_ledger_receipt_make(&r, &e, 3 + i, key) != TLY_OK ||
		    tly_ledger_receipt_digest(&r, known_receipt[i]) != TLY_OK)
			abort();
	}
	for (int i = 2; i <= TLY_LEDGER_COLUMN_COUNT; i++)
		snprintf(sql + strlen(sql), sizeof sql - strlen(sql), ", ?%d", i);
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &select_row, NULL) != SQLITE_OK)
		abort();
	const char *dir = getenv("FUZZ_LEDGER_SEEDS");
	if (dir != NULL) {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}

static int
known(uint8_t set[KNOWN][TLY_HASH_BYTES], const uint8_t hash[TLY_HASH_BYTES])
{
	for (unsigned i = 0; i < KNOWN; i++)
		if (memcmp(set[i], hash, TLY_HASH_BYTES) == 0)
			return 1;
	return 0;
}

static void
receipt(const uint8_t *data, size_t size)
{
	struct tly_ledger_receipt r;
	struct tly_buf again;
	uint8_t digest[TLY_HASH_BYTES];

	if (tly_ledger_receipt_decode(&r, data, size) != TLY_OK)
		return;
	tly_buf_init(&again);
	if (tly_ledger_receipt_encode(&r, &again) != TLY_OK || again.len != size ||
	    memcmp(again.data, data, size) != 0)
		abort(); /* the encoding is canonical */
	tly_buf_fini(&again);
	if (tly_ledger_receipt_digest(&r, digest) != TLY_OK)
		abort(); /* a decoded receipt always has a digest */
	if (tly_ledger_receipt_verify(&r, pk) == TLY_OK && !known(known_receipt, digest))
		abort(); /* a forgery verified */
}

/* Bind column i from the input; returns the bytes used, 0 at the end. */
static size_t
bind_value(int i, const uint8_t *p, size_t n)
{
	if (n < 1)
		return 0;
	switch (p[0] % V_TYPES) {
	case V_NULL:
		sqlite3_bind_null(select_row, i);
		return 1;
	case V_INT:
	case V_REAL: {
		uint64_t v = 0;
		if (n < 9)
			return 0;
		for (int k = 1; k <= 8; k++)
			v = v << 8 | p[k];
		if (p[0] % V_TYPES == V_INT) {
			sqlite3_bind_int64(select_row, i, (sqlite3_int64)v);
		} else {
			double d;
			memcpy(&d, &v, sizeof d);
			sqlite3_bind_double(select_row, i, d);
		}
		return 9;
	}
	default: {
		size_t len;
		if (n < 3)
			return 0;
		len = (size_t)p[1] << 8 | p[2];
		if (len > n - 3)
			len = n - 3;
		if (p[0] % V_TYPES == V_TEXT)
			sqlite3_bind_text(select_row, i, (const char *)p + 3, (int)len,
			                  SQLITE_STATIC);
		else
			sqlite3_bind_blob(select_row, i, p + 3, (int)len, SQLITE_STATIC);
		return 3 + len;
	}
	}
}

static void
row(const uint8_t *data, size_t size)
{
	struct tly_ledger_entry e;
	char why[128];
	size_t off = 0;
	tly_err rv;

	sqlite3_reset(select_row);
	sqlite3_clear_bindings(select_row); /* missing values are NULL */
	for (int i = 1; i <= TLY_LEDGER_COLUMN_COUNT; i++) {
		size_t used = bind_value(i, data + off, size - off);
		if (used == 0)
			break;
		off += used;
	}
	if (sqlite3_step(select_row) != SQLITE_ROW)
		abort();
	why[0] = '\0';
	rv = tly_ledger_row_read(select_row, &e, why, sizeof why);
	if (rv != TLY_OK) {
		const char *prefix = "column ";
		size_t plen = strlen(prefix);
		int named = 0;
		if (rv != TLY_EFORMAT || strncmp(why, prefix, plen) != 0)
			abort();
		for (int i = 0; i < TLY_LEDGER_COLUMN_COUNT; i++) {
			size_t clen = strlen(columns[i]);
			if (strncmp(why + plen, columns[i], clen) == 0 && why[plen + clen] == ' ')
				named = 1;
		}
		if (!named)
			abort(); /* a refusal names the column */
		return;
	}
	if (strlen(e.dataset) > TLY_SPEC_NAME_MAX || strlen(e.population) > TLY_SPEC_NAME_MAX ||
	    strlen(e.reason) > TLY_LEDGER_REASON_MAX || e.spec_len > TLY_LEDGER_SPEC_MAX ||
	    (e.spec_len > 0 && e.spec_json == NULL) ||
	    (e.spec_json != NULL && strlen(e.spec_json) != e.spec_len))
		abort();
	uint8_t hash[TLY_HASH_BYTES];
	tly_err hv = tly_ledger_entry_hash(&e, hash);
	if ((hv == TLY_OK) != (e.dataset[0] != '\0' && e.population[0] != '\0' && e.spec_len > 0))
		abort(); /* encodes exactly when its lengths allow */
	if (tly_sign_verify(e.signature, e.entry_hash, sizeof e.entry_hash, pk) == TLY_OK &&
	    !known(known_entry, e.entry_hash))
		abort(); /* a forgery verified */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	if (data[0] % 2 == 0)
		receipt(data + 1, size - 1);
	else
		row(data + 1, size - 1);
	return 0;
}
