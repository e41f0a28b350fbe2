/* Exact fractions, dataset names and the receipt a node signs for each
 * answered query: shared by the node's ledger (node/ledger.c), the
 * coordinator's transparency log and the auditor, which must agree on
 * every byte. See node/ledger.h for how receipts are made. */
#include "query/receipt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "query/budget.h"
#include "wire/codec.h"

#define RECEIPT_DOMAIN "tally/receipt/v1"

/* ---- fractions ---- */

int
tly_ledger_fraction_valid(struct tly_fraction f)
{
	return tly_frac_valid(f);
}

tly_err
tly_ledger_fraction_add(struct tly_fraction a, struct tly_fraction b, struct tly_fraction *out)
{
	return tly_frac_add(a, b, out);
}

int
tly_ledger_fraction_cmp(struct tly_fraction a, struct tly_fraction b)
{
	return tly_frac_cmp(a, b);
}

void
tly_ledger_fraction_format(char *out, size_t len, struct tly_fraction f)
{
	snprintf(out, len, "%" PRIu64 "/%" PRIu64, f.num, f.den);
}

/* ---- names ---- */

int
tly_ledger_name_valid(const char *name, size_t len)
{
	if (len < 1 || len > TLY_SPEC_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* ---- canonical bytes ---- */

void
tly_ledger_put_fraction(struct tly_buf *b, struct tly_fraction f)
{
	tly_buf_put_u64(b, f.num);
	tly_buf_put_u64(b, f.den);
}

/* A name as u8 length and bytes (at most TLY_SPEC_NAME_MAX of them). */
static void
put_name(struct tly_buf *b, const char *name)
{
	size_t len = strnlen(name, TLY_SPEC_NAME_MAX);

	tly_buf_put_u8(b, (uint8_t)len);
	tly_buf_put_bytes(b, name, len);
}

void
tly_ledger_put_spend(struct tly_buf *b, const struct tly_ledger_spend *s)
{
	struct tly_fraction fractions[TLY_LEDGER_SPEND_FRACTIONS];

	tly_buf_put_u64(b, s->seq);
	tly_buf_put_u64(b, s->time);
	put_name(b, s->dataset);
	tly_buf_put_bytes(b, s->query_id, sizeof s->query_id);
	tly_buf_put_bytes(b, s->query_hash, sizeof s->query_hash);
	tly_buf_put_u8(b, s->mechanism);
	tly_ledger_spend_fractions(s, fractions);
	for (size_t i = 0; i < TLY_LEDGER_SPEND_RUN_FRACTIONS; i++)
		tly_ledger_put_fraction(b, fractions[i]);
}

void
tly_ledger_put_accountant(struct tly_buf *b, const struct tly_ledger_spend *s)
{
	put_name(b, s->population);
	tly_ledger_put_fraction(b, s->epsilon_rho_spent);
	tly_ledger_put_fraction(b, s->budget.delta_total);
	tly_buf_put_u32(b, s->budget.sites);
}

void
tly_ledger_put_log_head(struct tly_buf *b, const struct tly_log_head_field *h)
{
	tly_buf_put_u64(b, h->size);
	tly_buf_put_bytes(b, h->root, sizeof h->root);
	tly_buf_put_bytes(b, h->signature, sizeof h->signature);
}

void
tly_ledger_get_log_head(struct tly_reader *rd, struct tly_log_head_field *h)
{
	h->size = tly_get_u64(rd);
	tly_get_bytes(rd, h->root, sizeof h->root);
	tly_get_bytes(rd, h->signature, sizeof h->signature);
}

int
tly_ledger_log_head_valid(const struct tly_log_head_field *h)
{
	uint8_t acc = 0;

	if (h->size != 0)
		return 1;
	for (size_t i = 0; i < sizeof h->root; i++)
		acc |= h->root[i];
	for (size_t i = 0; i < sizeof h->signature; i++)
		acc |= h->signature[i];
	return acc == 0;
}

static struct tly_fraction
get_fraction(struct tly_reader *rd)
{
	struct tly_fraction f;

	f.num = tly_get_u64(rd);
	f.den = tly_get_u64(rd);
	return f;
}

/* A name of u8 length, at most TLY_SPEC_NAME_MAX bytes, into out (zeroed
 * by the caller); the names are checked whole by the caller. */
static tly_err
get_name(struct tly_reader *rd, char out[static TLY_SPEC_NAME_MAX + 1])
{
	uint8_t len = tly_get_u8(rd);

	if (len > TLY_SPEC_NAME_MAX)
		return TLY_EFORMAT;
	tly_get_bytes(rd, out, len);
	return strlen(out) == len ? TLY_OK : TLY_EFORMAT;
}

tly_err
tly_ledger_get_spend(struct tly_reader *rd, struct tly_ledger_spend *s)
{
	struct tly_fraction *fractions[TLY_LEDGER_SPEND_FRACTIONS];

	s->seq = tly_get_u64(rd);
	s->time = tly_get_u64(rd);
	if (get_name(rd, s->dataset) != TLY_OK)
		return TLY_EFORMAT;
	tly_get_bytes(rd, s->query_id, sizeof s->query_id);
	tly_get_bytes(rd, s->query_hash, sizeof s->query_hash);
	s->mechanism = tly_get_u8(rd);
	tly_ledger_spend_fields(s, fractions);
	for (size_t i = 0; i < TLY_LEDGER_SPEND_RUN_FRACTIONS; i++)
		*fractions[i] = get_fraction(rd);
	return TLY_OK;
}

tly_err
tly_ledger_get_accountant(struct tly_reader *rd, struct tly_ledger_spend *s)
{
	if (get_name(rd, s->population) != TLY_OK)
		return TLY_EFORMAT;
	s->epsilon_rho_spent = get_fraction(rd);
	s->budget.delta_total = get_fraction(rd);
	s->budget.sites = tly_get_u32(rd);
	return TLY_OK;
}

void
tly_ledger_spend_fields(struct tly_ledger_spend *s,
                        struct tly_fraction *out[static TLY_LEDGER_SPEND_FRACTIONS])
{
	struct tly_fraction *all[TLY_LEDGER_SPEND_FRACTIONS] = {&s->amount,
	                                                        &s->epsilon_spent,
	                                                        &s->rho_spent,
	                                                        &s->budget.epsilon_total,
	                                                        &s->budget.epsilon_per_query,
	                                                        &s->budget.rho_total,
	                                                        &s->budget.rho_per_query,
	                                                        &s->budget.delta_total,
	                                                        &s->epsilon_rho_spent};

	memcpy(out, all, sizeof all);
}

/* Through a copy, so that tly_ledger_spend_fields is the one list. */
void
tly_ledger_spend_fractions(const struct tly_ledger_spend *s,
                           struct tly_fraction out[static TLY_LEDGER_SPEND_FRACTIONS])
{
	struct tly_ledger_spend copy = *s;
	struct tly_fraction *fields[TLY_LEDGER_SPEND_FRACTIONS];

	tly_ledger_spend_fields(&copy, fields);
	for (size_t i = 0; i < TLY_LEDGER_SPEND_FRACTIONS; i++)
		out[i] = *fields[i];
}

/* ---- receipts ---- */

/* Nonzero when name is NUL-terminated in its array and valid. */
static int
name_ok(const char name[static TLY_SPEC_NAME_MAX + 1])
{
	return name[TLY_SPEC_NAME_MAX] == '\0' && tly_ledger_name_valid(name, strlen(name));
}

static int
receipt_fields_valid(const struct tly_ledger_receipt *r)
{
	struct tly_fraction fractions[TLY_LEDGER_SPEND_FRACTIONS];

	tly_ledger_spend_fractions(&r->spend, fractions);
	if (!name_ok(r->population) || r->budget.delta_total.num == 0 ||
	    r->budget.delta_total.num >= r->budget.delta_total.den || r->budget.sites < 1 ||
	    r->budget.sites > TLY_BUDGET_SITES_MAX || !tly_ledger_log_head_valid(&r->log_head))
		return 0;
	if (r->node_id < 1 || r->node_id > TLY_MAX_PARTY_ID || r->seq < 1 ||
	    (r->mechanism != TLY_MECH_LAPLACE && r->mechanism != TLY_MECH_SKELLAM) ||
	    r->amount.num == 0 || !name_ok(r->dataset))
		return 0;
	for (size_t i = 0; i < TLY_LEDGER_SPEND_FRACTIONS; i++)
		if (!tly_ledger_fraction_valid(fractions[i]))
			return 0;
	return 1;
}

tly_err
tly_ledger_hash_encoded(uint8_t out[static TLY_HASH_BYTES], const char *domain,
                        tly_err (*encode)(const void *item, struct tly_buf *b), const void *item)
{
	struct tly_buf bytes;
	tly_err rv;

	tly_buf_init(&bytes);
	rv = encode(item, &bytes);
	if (rv == TLY_OK)
		tly_hash(out, domain, bytes.data, bytes.len);
	tly_buf_fini(&bytes);
	return rv;
}

/* Every receipt byte before the signature (item: the receipt). */
static tly_err
receipt_body(const void *item, struct tly_buf *out)
{
	const struct tly_ledger_receipt *r = item;

	if (!receipt_fields_valid(r))
		return TLY_EINVAL;
	tly_buf_put_u8(out, TLY_RECEIPT_VERSION);
	tly_buf_put_u32(out, r->node_id);
	tly_ledger_put_spend(out, &r->spend);
	tly_ledger_put_accountant(out, &r->spend);
	tly_buf_put_bytes(out, r->entry_hash, sizeof r->entry_hash);
	tly_ledger_put_log_head(out, &r->log_head);
	return out->error;
}

tly_err
tly_ledger_receipt_digest(const struct tly_ledger_receipt *r, uint8_t digest[static TLY_HASH_BYTES])
{
	return tly_ledger_hash_encoded(digest, RECEIPT_DOMAIN, receipt_body, r);
}

tly_err
tly_ledger_receipt_encode(const struct tly_ledger_receipt *r, struct tly_buf *out)
{
	tly_err rv = receipt_body(r, out);

	if (rv != TLY_OK)
		return rv;
	tly_buf_put_bytes(out, r->signature, sizeof r->signature);
	return out->error;
}

tly_err
tly_ledger_receipt_decode(struct tly_ledger_receipt *out, const uint8_t *buf, size_t len)
{
	struct tly_ledger_receipt r;
	struct tly_reader rd;

	if (len < TLY_RECEIPT_FIXED_BYTES + 2 || len > TLY_RECEIPT_MAX_BYTES)
		return TLY_EFORMAT;
	memset(&r, 0, sizeof r);
	tly_reader_init(&rd, buf, len);
	if (tly_get_u8(&rd) != TLY_RECEIPT_VERSION)
		return TLY_EFORMAT;
	r.node_id = tly_get_u32(&rd);
	if (tly_ledger_get_spend(&rd, &r.spend) != TLY_OK ||
	    tly_ledger_get_accountant(&rd, &r.spend) != TLY_OK)
		return TLY_EFORMAT;
	tly_get_bytes(&rd, r.entry_hash, sizeof r.entry_hash);
	tly_ledger_get_log_head(&rd, &r.log_head);
	tly_get_bytes(&rd, r.signature, sizeof r.signature);
	if (tly_reader_done(&rd) != TLY_OK || !receipt_fields_valid(&r))
		return TLY_EFORMAT;
	*out = r;
	return TLY_OK;
}

tly_err
tly_ledger_receipt_verify(const struct tly_ledger_receipt *r,
                          const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	uint8_t digest[TLY_HASH_BYTES];

	if (tly_ledger_receipt_digest(r, digest) != TLY_OK)
		return TLY_EAUTH;
	return tly_sign_verify(r->signature, digest, sizeof digest, pk);
}

tly_err
tly_ledger_receipt_verify_logged(const struct tly_ledger_receipt *r, const struct tly_party *party)
{
	if (tly_ledger_receipt_verify(r, party->sign_pk) == TLY_OK)
		return TLY_OK;
	for (size_t i = 0; i < party->retired_count && i < TLY_RETIRED_KEYS_MAX; i++)
		if (tly_ledger_receipt_verify(r, party->retired_sign_pk[i]) == TLY_OK)
			return TLY_OK;
	return TLY_EAUTH;
}
