/* A small signed federation on disk for log and audit tests (federation.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "federation.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coordinator/release.h"
#include "wire/codec.h"
#include "store/keys.h"
#include "query/noise.h"

static const char catalogue[] =
    "{\"datasets\": [{\"name\": \"patients\", \"columns\": ["
    "{\"name\": \"sex\", \"type\": \"categorical\", \"domain\": [\"F\", \"M\"]}]}]}";

static void
make_dir(const char *fmt, ...)
{
	char path[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof path, fmt, ap);
	va_end(ap);
	cr_assert_eq(mkdir(path, 0700), 0, "mkdir %s", path);
}

void
fed_init(struct fed *f, unsigned nodes)
{
	struct tly_party parties[FED_MAX_NODES];
	struct tly_party coordinator;
	struct tly_field_error serr;
	char lerr[256];
	char terr[320];
	char why[256];

	cr_assert(nodes >= 1 && nodes <= FED_MAX_NODES);
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	memset(f, 0, sizeof *f);
	f->nodes = nodes;
	snprintf(f->dir, sizeof f->dir, "/tmp/tly_fed_XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	make_dir("%s/coordinator", f->dir);
	make_dir("%s/coordinator/state", f->dir);
	cr_assert_eq(tly_identity_generate(&f->coordinator, TLY_PARTY_COORDINATOR, 0), TLY_OK);
	tly_identity_public(&f->coordinator, &coordinator);
	for (uint32_t n = 1; n <= nodes; n++) {
		cr_assert_eq(tly_identity_generate(&f->node[n], n, 1), TLY_OK);
		tly_identity_public(&f->node[n], &parties[n - 1]);
		make_dir("%s/site-%u", f->dir, n);
		make_dir("%s/site-%u/state", f->dir, n);
		snprintf(f->ledger_path[n], sizeof f->ledger_path[n], "%s/site-%u/state/ledger.db",
		         f->dir, n);
		cr_assert_eq(tly_ledger_open(&f->ledger[n], f->ledger_path[n], n, f->node[n].sign,
		                             lerr, sizeof lerr),
		             TLY_OK, "%s", lerr);
	}
	cr_assert_eq(tly_roster_init(&f->roster, coordinator.sign_pk, parties, nodes), TLY_OK);
	snprintf(f->registry_path, sizeof f->registry_path, "%s/registry.ini", f->dir);
	cr_assert_eq(tly_registry_write(&f->roster, f->registry_path, why, sizeof why), TLY_OK,
	             "%s", why);
	snprintf(f->log_path, sizeof f->log_path, "%s/coordinator/state/transparency.db", f->dir);
	cr_assert_eq(
	    tly_translog_open(&f->log, f->log_path, f->coordinator.sign, terr, sizeof terr), TLY_OK,
	    "%s", terr);
	cr_assert_eq(tly_catalogue_parse(&f->cat, catalogue, strlen(catalogue), &serr), TLY_OK);
}

void
fed_close(struct fed *f)
{
	tly_translog_close(f->log);
	f->log = NULL;
	for (unsigned n = 1; n <= f->nodes; n++) {
		tly_ledger_close(f->ledger[n]);
		f->ledger[n] = NULL;
	}
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
fed_fini(struct fed *f)
{
	fed_close(f);
	tly_catalogue_fini(&f->cat);
	tly_roster_fini(&f->roster);
	tly_identity_fini(&f->coordinator);
	for (unsigned n = 1; n <= f->nodes; n++)
		tly_identity_fini(&f->node[n]);
	nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
fed_query(struct fed *f, struct fed_query *q, const char *epsilon)
{
	char json[256];
	struct tly_field_error err;

	memset(q, 0, sizeof *q);
	snprintf(
	    json, sizeof json,
	    "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"}, \"group_by\": [\"sex\"],"
	    " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": %s}, \"planner\": \"alice\"}",
	    epsilon);
	cr_assert_eq(tly_spec_parse(&q->spec, &f->cat, json, strlen(json), &err), TLY_OK, "%s: %s",
	             err.field, err.reason);
	cr_assert_eq(tly_spec_canonical(&q->spec, &f->cat, &q->canonical), TLY_OK);
	q->canonical_len = strlen(q->canonical);
	cr_assert_eq(tly_spec_hash(&q->spec, &f->cat, q->hash), TLY_OK);
	randombytes_buf(q->id, sizeof q->id);
}

void
fed_query_fini(struct fed_query *q)
{
	tly_spec_fini(&q->spec);
	free(q->canonical);
	memset(q, 0, sizeof *q);
}

void
fed_charge(struct fed *f, uint32_t n, const struct fed_query *q, struct tly_buf *out)
{
	fed_charge_with_head(f, n, q, NULL, out);
}

void
fed_charge_with_head(struct fed *f, uint32_t n, const struct fed_query *q,
                     const struct tly_log_head_field *head, struct tly_buf *out)
{
	struct tly_ledger_budget budget = {.epsilon_total = {20, 1},
	                                   .epsilon_per_query = {2, 1},
	                                   .rho_per_query = {1, 2},
	                                   .delta_total = {1, 1000000},
	                                   .sites = 1};
	struct tly_ledger_charge charge = {.dataset = "patients",
	                                   .population = "patients",
	                                   .mechanism = q->spec.mechanism,
	                                   .amount = {q->spec.privacy_num, q->spec.privacy_den},
	                                   .spec_json = q->canonical,
	                                   .spec_len = q->canonical_len};
	struct tly_ledger_receipt receipt;
	char why[256];

	memcpy(charge.query_id, q->id, sizeof charge.query_id);
	memcpy(charge.query_hash, q->hash, sizeof charge.query_hash);
	if (head != NULL)
		charge.log_head = *head;
	cr_assert_eq(tly_ledger_reserve(f->ledger[n], &charge, &budget, &receipt, why, sizeof why),
	             TLY_OK, "%s", why);
	cr_assert_eq(tly_ledger_receipt_encode(&receipt, out), TLY_OK);
}

char *
fed_release_json(struct fed *f, const struct fed_query *q, const uint32_t *contributors,
                 uint32_t contributor_count, const uint32_t *dropped, uint32_t dropped_count)
{
	struct tly_query sent;
	struct tly_noise_params noise;
	uint64_t l1, l2sq;
	int64_t cells[2] = {0, 0};
	uint32_t ids[FED_MAX_NODES], dropped_ids[FED_MAX_NODES];
	struct tly_idlist list = {contributor_count, ids};
	struct tly_idlist dropped_list = {dropped_count, dropped_ids};
	char why[256], *json = NULL;

	for (uint32_t i = 0; i < contributor_count; i++)
		ids[i] = contributors[i];
	for (uint32_t i = 0; i < dropped_count; i++)
		dropped_ids[i] = dropped[i];
	cr_assert_eq(tly_spec_sensitivity(&q->spec, &f->cat, &l1, &l2sq), TLY_OK);
	memset(&sent, 0, sizeof sent);
	sent.mechanism = q->spec.mechanism;
	sent.privacy_num = q->spec.privacy_num;
	sent.privacy_den = q->spec.privacy_den;
	sent.sensitivity_l1 = l1;
	sent.sensitivity_l2sq = l2sq;
	sent.min_honest = 2;
	cr_assert_eq(tly_noise_calibrate(&sent, &noise), TLY_OK);
	struct tly_release_input in = {.query_id = q->id,
	                               .spec = &q->spec,
	                               .cat = &f->cat,
	                               .noise = &noise,
	                               .cells = cells,
	                               .d = 2,
	                               .contributors = &list,
	                               .dropped = &dropped_list};
	cr_assert_eq(tly_release_encode(&in, &json, why, sizeof why), TLY_OK, "%s", why);
	return json;
}

tly_err
fed_append(struct fed *f, const struct fed_query *q, uint8_t outcome, const char *release_json,
           const uint32_t *contributors, uint32_t contributor_count, const uint32_t *dropped,
           uint32_t dropped_count, struct tly_buf *receipts, size_t receipt_count, char *why,
           size_t why_len)
{
	uint32_t c_ids[FED_MAX_NODES], d_ids[FED_MAX_NODES];
	struct tly_idlist c = {contributor_count, c_ids}, d = {dropped_count, d_ids};
	struct tly_translog_receipt r[FED_MAX_NODES + 2];
	struct tly_translog_record record;

	cr_assert(receipt_count <= FED_MAX_NODES + 2);
	for (uint32_t i = 0; i < contributor_count; i++)
		c_ids[i] = contributors[i];
	for (uint32_t i = 0; i < dropped_count; i++)
		d_ids[i] = dropped[i];
	for (size_t i = 0; i < receipt_count; i++)
		r[i] = (struct tly_translog_receipt){receipts[i].data, receipts[i].len};
	memset(&record, 0, sizeof record);
	memcpy(record.query_id, q->id, sizeof record.query_id);
	memcpy(record.query_hash, q->hash, sizeof record.query_hash);
	record.protocol = f->protocol != 0 ? f->protocol : TLY_PROTOCOL_COMMITTEE;
	record.threshold = f->protocol != 0 ? f->threshold : 2;
	record.degree = f->protocol != 0 ? f->degree : 3;
	record.outcome = outcome;
	record.reason = outcome == TLY_TRANSLOG_RELEASED ? "" : "too few contributors";
	record.spec_json = q->canonical;
	record.spec_len = q->canonical_len;
	record.release_json = release_json;
	record.release_len = release_json != NULL ? strlen(release_json) : 0;
	record.contributors = &c;
	record.dropped = &d;
	record.receipts = r;
	record.receipt_count = receipt_count;
	return tly_translog_append(f->log, &record, &f->last_seq, why, why_len);
}

uint64_t
fed_release(struct fed *f, const struct fed_query *q, const uint32_t *contributors,
            uint32_t contributor_count, const uint32_t *dropped, uint32_t dropped_count)
{
	struct tly_buf receipts[2 * FED_MAX_NODES];
	size_t count = 0;
	char why[256], *release;
	tly_err rv;

	for (uint32_t i = 0; i < contributor_count; i++) {
		tly_buf_init(&receipts[count]);
		fed_charge(f, contributors[i], q, &receipts[count++]);
	}
	for (uint32_t i = 0; i < dropped_count; i++) {
		tly_buf_init(&receipts[count]);
		fed_charge(f, dropped[i], q, &receipts[count++]);
	}
	release = fed_release_json(f, q, contributors, contributor_count, dropped, dropped_count);
	rv = fed_append(f, q, TLY_TRANSLOG_RELEASED, release, contributors, contributor_count,
	                dropped, dropped_count, receipts, count, why, sizeof why);
	cr_assert_eq(rv, TLY_OK, "%s", why);
	free(release);
	for (size_t i = 0; i < count; i++)
		tly_buf_fini(&receipts[i]);
	return f->last_seq;
}

void
fed_forge_receipt(struct tly_ledger_receipt *r, const struct tly_sign_key *key, struct tly_buf *out)
{
	uint8_t digest[TLY_HASH_BYTES];
	size_t start = out->len;

	memset(r->signature, 0, sizeof r->signature);
	cr_assert_eq(tly_ledger_receipt_encode(r, out), TLY_OK);
	tly_hash(digest, "tally/receipt/v1", out->data + start, out->len - start - TLY_SIGN_BYTES);
	cr_assert_eq(tly_sign(r->signature, key, digest, sizeof digest), TLY_OK);
	memcpy(out->data + out->len - TLY_SIGN_BYTES, r->signature, TLY_SIGN_BYTES);
}

void
fed_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	char *message = NULL;

	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &message), SQLITE_OK, "%s: %s", sql,
	             message ? message : "");
	sqlite3_close(db);
}
