/* The ledger's exact fractions, canonical entry and receipt bytes, and the
 * mapping between entries and rows of table `entries`. */
#include "ledger_impl.h"

#include <gmp.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "wire/codec.h"

#define ENTRY_DOMAIN "tally/ledger/v1"

_Static_assert(TLY_SPEC_NAME_MAX <= UINT8_MAX, "dataset_len is a u8");
_Static_assert(TLY_LEDGER_REASON_MAX <= UINT16_MAX, "reason_len is a u16");
_Static_assert((uint64_t)TLY_LEDGER_SPEC_MAX <= UINT32_MAX, "spec_len is a u32");

tly_err
tly_ledger_entry_encode(const struct tly_ledger_entry *e, struct tly_buf *out)
{
	size_t dataset_len = strlen(e->dataset);
	size_t reason_len = strlen(e->reason);
	size_t population_len = strlen(e->population);

	if (dataset_len < 1 || dataset_len > TLY_SPEC_NAME_MAX || population_len < 1 ||
	    population_len > TLY_SPEC_NAME_MAX || reason_len > TLY_LEDGER_REASON_MAX ||
	    e->spec_len < 1 || e->spec_len > TLY_LEDGER_SPEC_MAX ||
	    !tly_ledger_log_head_valid(&e->log_head))
		return TLY_EINVAL;
	tly_buf_put_u8(out, TLY_LEDGER_FORMAT_VERSION);
	tly_buf_put_u8(out, e->kind);
	tly_ledger_put_spend(out, &e->spend);
	tly_buf_put_u8(out, e->refusal);
	tly_buf_put_u16(out, (uint16_t)reason_len);
	tly_buf_put_bytes(out, e->reason, reason_len);
	tly_buf_put_u32(out, (uint32_t)e->spec_len);
	tly_buf_put_bytes(out, e->spec_json, e->spec_len);
	tly_buf_put_bytes(out, e->prev_hash, sizeof e->prev_hash);
	tly_ledger_put_accountant(out, &e->spend);
	tly_ledger_put_log_head(out, &e->log_head);
	return out->error;
}

static tly_err
encode_entry(const void *item, struct tly_buf *out)
{
	return tly_ledger_entry_encode(item, out);
}

tly_err
tly_ledger_entry_hash(const struct tly_ledger_entry *e, uint8_t out[static TLY_HASH_BYTES])
{
	return tly_ledger_hash_encoded(out, ENTRY_DOMAIN, encode_entry, e);
}

tly_err
tly_ledger_receipt_make(struct tly_ledger_receipt *out, const struct tly_ledger_entry *e,
                        uint32_t node_id, const struct tly_sign_key *key)
{
	struct tly_ledger_receipt r;
	uint8_t digest[TLY_HASH_BYTES];
	tly_err rv;

	memset(&r, 0, sizeof r);
	r.node_id = node_id;
	r.spend = e->spend;
	memcpy(r.entry_hash, e->entry_hash, sizeof r.entry_hash);
	rv = tly_ledger_receipt_digest(&r, digest);
	if (rv == TLY_EINVAL)
		rv = TLY_ECRYPTO; /* a charge entry always makes a valid receipt */
	if (rv == TLY_OK)
		rv = tly_sign(r.signature, key, digest, sizeof digest);
	if (rv == TLY_OK)
		*out = r;
	return rv;
}

/* ---- rows ---- */

static int
bind_u64(sqlite3_stmt *st, int *col, uint64_t v)
{
	return sqlite3_bind_int64(st, (*col)++, (sqlite3_int64)v);
}

static int
bind_fraction(sqlite3_stmt *st, int *col, struct tly_fraction f)
{
	int rc = bind_u64(st, col, f.num);
	return rc != SQLITE_OK ? rc : bind_u64(st, col, f.den);
}

static int
bind_blob(sqlite3_stmt *st, int *col, const void *p, size_t n)
{
	return sqlite3_bind_blob(st, (*col)++, p, (int)n, SQLITE_TRANSIENT);
}

int
tly_ledger_row_bind(sqlite3_stmt *st, const struct tly_ledger_entry *e)
{
	struct tly_fraction fractions[TLY_LEDGER_SPEND_FRACTIONS];
	int col = 1, rc = SQLITE_OK;

	tly_ledger_spend_fractions(&e->spend, fractions);
	rc = rc ? rc : bind_u64(st, &col, e->seq);
	rc = rc ? rc : bind_u64(st, &col, e->kind);
	rc = rc ? rc : bind_u64(st, &col, e->time);
	rc = rc ? rc : sqlite3_bind_text(st, col++, e->dataset, -1, SQLITE_TRANSIENT);
	rc = rc ? rc : bind_blob(st, &col, e->query_id, sizeof e->query_id);
	rc = rc ? rc : bind_blob(st, &col, e->query_hash, sizeof e->query_hash);
	rc = rc ? rc : bind_u64(st, &col, e->mechanism);
	for (size_t i = 0; i < TLY_LEDGER_SPEND_RUN_FRACTIONS; i++)
		rc = rc ? rc : bind_fraction(st, &col, fractions[i]);
	rc = rc ? rc : bind_u64(st, &col, e->refusal);
	rc = rc ? rc : sqlite3_bind_text(st, col++, e->reason, -1, SQLITE_TRANSIENT);
	rc = rc ? rc
	        : sqlite3_bind_text(st, col++, e->spec_json, (int)e->spec_len, SQLITE_TRANSIENT);
	rc = rc ? rc : bind_blob(st, &col, e->prev_hash, sizeof e->prev_hash);
	rc = rc ? rc : bind_blob(st, &col, e->entry_hash, sizeof e->entry_hash);
	rc = rc ? rc : bind_blob(st, &col, e->signature, sizeof e->signature);
	rc = rc ? rc : sqlite3_bind_text(st, col++, e->population, -1, SQLITE_TRANSIENT);
	rc = rc ? rc : bind_fraction(st, &col, e->epsilon_rho_spent);
	rc = rc ? rc : bind_fraction(st, &col, e->budget.delta_total);
	rc = rc ? rc : bind_u64(st, &col, e->budget.sites);
	rc = rc ? rc : bind_u64(st, &col, e->log_head.size);
	rc = rc ? rc : bind_blob(st, &col, e->log_head.root, sizeof e->log_head.root);
	rc = rc ? rc : bind_blob(st, &col, e->log_head.signature, sizeof e->log_head.signature);
	return rc;
}

/* Cursor over the columns of one row, recording the first problem. */
struct row {
	sqlite3_stmt *st;
	int col;
	const char *bad; /* name of the first bad column, or NULL */
};

static const char *const column_names[TLY_LEDGER_COLUMN_COUNT] = {"seq",
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

static uint64_t
read_u64(struct row *row)
{
	int col = row->col++;

	if (sqlite3_column_type(row->st, col) != SQLITE_INTEGER) {
		row->bad = row->bad ? row->bad : column_names[col];
		return 0;
	}
	return (uint64_t)sqlite3_column_int64(row->st, col);
}

/* read_u64, with the column named bad when above max. */
static uint64_t
read_upto(struct row *row, uint64_t max)
{
	uint64_t v = read_u64(row);

	if (v > max)
		row->bad = row->bad ? row->bad : column_names[row->col - 1];
	return v;
}

static uint8_t
read_u8(struct row *row)
{
	return (uint8_t)read_upto(row, UINT8_MAX);
}

static uint32_t
read_u32(struct row *row)
{
	return (uint32_t)read_upto(row, UINT32_MAX);
}

static struct tly_fraction
read_fraction(struct row *row)
{
	struct tly_fraction f;

	f.num = read_u64(row);
	f.den = read_u64(row);
	return f;
}

static void
read_blob(struct row *row, void *out, size_t n)
{
	int col = row->col++;
	const void *p = sqlite3_column_blob(row->st, col);

	if (sqlite3_column_type(row->st, col) != SQLITE_BLOB ||
	    (size_t)sqlite3_column_bytes(row->st, col) != n || p == NULL) {
		row->bad = row->bad ? row->bad : column_names[col];
		memset(out, 0, n);
		return;
	}
	memcpy(out, p, n);
}

/* Text of at most max bytes and no NUL; *len its length. */
static const char *
read_text(struct row *row, size_t max, size_t *len)
{
	int col = row->col++;
	const char *p = (const char *)sqlite3_column_text(row->st, col);
	size_t n = (size_t)sqlite3_column_bytes(row->st, col);

	*len = 0;
	if (sqlite3_column_type(row->st, col) != SQLITE_TEXT || p == NULL || n > max ||
	    strlen(p) != n) {
		row->bad = row->bad ? row->bad : column_names[col];
		return "";
	}
	*len = n;
	return p;
}

tly_err
tly_ledger_row_read(sqlite3_stmt *st, struct tly_ledger_entry *e, char *why, size_t why_len)
{
	struct tly_fraction *fractions[TLY_LEDGER_SPEND_FRACTIONS];
	struct row row = {st, 0, NULL};
	const char *text;
	size_t len;

	memset(e, 0, sizeof *e);
	e->seq = read_u64(&row);
	e->kind = read_u8(&row);
	e->time = read_u64(&row);
	text = read_text(&row, TLY_SPEC_NAME_MAX, &len);
	memcpy(e->dataset, text, len);
	read_blob(&row, e->query_id, sizeof e->query_id);
	read_blob(&row, e->query_hash, sizeof e->query_hash);
	e->mechanism = read_u8(&row);
	tly_ledger_spend_fields(&e->spend, fractions);
	for (size_t i = 0; i < TLY_LEDGER_SPEND_RUN_FRACTIONS; i++)
		*fractions[i] = read_fraction(&row);
	e->refusal = read_u8(&row);
	text = read_text(&row, TLY_LEDGER_REASON_MAX, &len);
	memcpy(e->reason, text, len);
	e->spec_json = read_text(&row, TLY_LEDGER_SPEC_MAX, &e->spec_len);
	read_blob(&row, e->prev_hash, sizeof e->prev_hash);
	read_blob(&row, e->entry_hash, sizeof e->entry_hash);
	read_blob(&row, e->signature, sizeof e->signature);
	text = read_text(&row, TLY_SPEC_NAME_MAX, &len);
	memcpy(e->population, text, len);
	e->epsilon_rho_spent = read_fraction(&row);
	e->budget.delta_total = read_fraction(&row);
	e->budget.sites = read_u32(&row);
	e->log_head.size = read_u64(&row);
	read_blob(&row, e->log_head.root, sizeof e->log_head.root);
	read_blob(&row, e->log_head.signature, sizeof e->log_head.signature);
	if (row.bad == NULL)
		return TLY_OK;
	if (why_len > 0)
		snprintf(why, why_len, "column %s has the wrong type or size", row.bad);
	return TLY_EFORMAT;
}
