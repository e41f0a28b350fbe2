/*
 * receipt.h - exact fractions and the signed receipt of an answered query.
 *
 * The node's ledger (node/ledger.h) charges privacy spend as reduced
 * fractions and signs a receipt for each answered query; the coordinator
 * carries receipts into its transparency log and auditors check them. All
 * three must agree on every byte, so the layout lives here, below both
 * node/ and coordinator/ (which never include each other).
 */
#ifndef TLY_RECEIPT_H
#define TLY_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "wire/buf.h"
#include "crypto/error.h"
#include "crypto/frac.h"
#include "crypto/sign.h"
#include "wire/messages.h"
#include "wire/party.h"
#include "query/spec.h"

enum { TLY_RECEIPT_VERSION = 3 };

/* Exact rationals, as in the node's config (struct tly_fraction, defined in
 * crypto/frac.h). These three are tly_frac_valid, tly_frac_add and
 * tly_frac_cmp under the names the ledgers use. */

/* Nonzero when den > 0 and num/den is in lowest terms. */
int tly_ledger_fraction_valid(struct tly_fraction f);
/* *out = a + b reduced. TLY_EINVAL for a zero denominator, TLY_ERANGE when
 * the reduced sum does not fit u64/u64. */
TLY_MUST tly_err tly_ledger_fraction_add(struct tly_fraction a, struct tly_fraction b,
                                         struct tly_fraction *out);
/* -1, 0 or 1 as a < b, a == b, a > b. Both denominators must be > 0
 * (misuse aborts). */
int tly_ledger_fraction_cmp(struct tly_fraction a, struct tly_fraction b);

/* A population's caps, from the node's config (struct tly_node_dataset).
 * Each fraction has den > 0; a per-query cap of 0 refuses every query of
 * that mechanism. One (epsilon_total, delta_total) cap covers every
 * mechanism (query/budget.h); rho_total is not configured but derived
 * from it by the ledger: rho*(epsilon_total, delta_total) / sites, rounded
 * down (tly_budget_rho_cap), and recorded so that readers see it. */
struct tly_ledger_budget {
	struct tly_fraction epsilon_total, epsilon_per_query;
	struct tly_fraction rho_total, rho_per_query;
	struct tly_fraction delta_total; /* 0 < delta < 1 */
	uint32_t sites;                  /* max_sites_per_person m, 1..1000 */
};

/* "num/den". */
void tly_ledger_fraction_format(char *out, size_t len, struct tly_fraction f);

/* Nonzero when name (len bytes) is a dataset name: [a-z0-9_], 1..63. */
int tly_ledger_name_valid(const char *name, size_t len);

/* Canonical bytes: a fraction as u64 num, u64 den. */
void tly_ledger_put_fraction(struct tly_buf *b, struct tly_fraction f);

/* The transparency-log head a node verified for a query (store/head.h's
 * struct tly_tree_head, without its version byte), as version 3 of
 * entries and receipts carries it: size u64, root[32], signature[64] (the
 * coordinator's, over "tally/tree-head/v1" || size || root). size 0 with a
 * zero root and signature means "no head" (an entry written by a caller
 * of tly_ledger_reserve that verified none; tally-node always has one). */
enum { TLY_LOG_HEAD_FIELD_BYTES = 8 + 32 + TLY_SIGN_BYTES };
struct tly_log_head_field {
	uint64_t size;
	uint8_t root[32];
	uint8_t signature[TLY_SIGN_BYTES];
};
void tly_ledger_put_log_head(struct tly_buf *b, const struct tly_log_head_field *h);
/* Reads what tly_ledger_put_log_head wrote (check the reader's error). */
void tly_ledger_get_log_head(struct tly_reader *rd, struct tly_log_head_field *h);
/* Nonzero when h is canonical: size >= 1, or size 0 with zero root and
 * signature. */
int tly_ledger_log_head_valid(const struct tly_log_head_field *h);

/*
 * One query's spend as the node's ledger entry (node/ledger.h) and the
 * receipt made from it both carry it: the same fields, written once here
 * and embedded in both (and in the transparency log's receipt references,
 * coordinator/translog.h). TLY_LEDGER_SPEND_MEMBER embeds it so that the
 * fields keep their names (e->seq) and can be copied whole (e->spend), as
 * Linux's struct_group does.
 */
#define TLY_LEDGER_SPEND_FIELDS                                                                    \
	uint64_t seq;                                                                              \
	uint64_t time;                                                                             \
	char dataset[TLY_SPEC_NAME_MAX + 1];                                                       \
	uint8_t query_id[TLY_QUERY_ID_BYTES];                                                      \
	uint8_t query_hash[TLY_HASH_BYTES];                                                        \
	uint8_t mechanism;                                                                         \
	struct tly_fraction amount;                                                                \
	struct tly_fraction epsilon_spent, rho_spent;                                              \
	struct tly_ledger_budget budget;                                                           \
	char population[TLY_SPEC_NAME_MAX + 1];                                                    \
	struct tly_fraction epsilon_rho_spent;                                                     \
	struct tly_log_head_field log_head; /* v3 */
struct tly_ledger_spend {
	TLY_LEDGER_SPEND_FIELDS
};
#define TLY_LEDGER_SPEND_MEMBER                                                                    \
	union {                                                                                    \
		struct tly_ledger_spend spend;                                                     \
		struct {                                                                           \
			TLY_LEDGER_SPEND_FIELDS                                                    \
		};                                                                                 \
	}

/* The spend's first run of bytes in entries and receipts: seq u64, time
 * u64, dataset_len u8 (1..63), dataset, query_id[16], query_hash[32],
 * mechanism u8, then the first TLY_LEDGER_SPEND_RUN_FRACTIONS fractions
 * of tly_ledger_spend_fields. tly_ledger_get_spend reads them back:
 * TLY_EFORMAT for a dataset_len over 63 (the caller checks the rest). */
void tly_ledger_put_spend(struct tly_buf *b, const struct tly_ledger_spend *s);
TLY_MUST tly_err tly_ledger_get_spend(struct tly_reader *rd, struct tly_ledger_spend *s);
/* The accountant's fields that version 2 added to entries and receipts:
 * population_len u8 (1..63), population, epsilon_rho_spent, delta_total
 * (u64 num, u64 den each), sites u32. tly_ledger_get_accountant as
 * tly_ledger_get_spend. */
void tly_ledger_put_accountant(struct tly_buf *b, const struct tly_ledger_spend *s);
TLY_MUST tly_err tly_ledger_get_accountant(struct tly_reader *rd, struct tly_ledger_spend *s);

/* s's fractions: first the TLY_LEDGER_SPEND_RUN_FRACTIONS that entries,
 * receipts and ledger rows keep side by side (amount, epsilon_spent,
 * rho_spent, then the budget's epsilon_total, epsilon_per_query,
 * rho_total, rho_per_query), then delta_total and epsilon_rho_spent: where
 * they are (to fill them), or their values. */
enum { TLY_LEDGER_SPEND_FRACTIONS = 9, TLY_LEDGER_SPEND_RUN_FRACTIONS = 7 };
void tly_ledger_spend_fields(struct tly_ledger_spend *s,
                             struct tly_fraction *out[static TLY_LEDGER_SPEND_FRACTIONS]);
void tly_ledger_spend_fractions(const struct tly_ledger_spend *s,
                                struct tly_fraction out[static TLY_LEDGER_SPEND_FRACTIONS]);

/*
 * The receipt a node hands the coordinator for each answered query, to be
 * carried into the transparency log and checked by `tally audit verify`:
 *
 *   receipt bytes (version 3; integers big-endian):
 *     version u8 = 3, node_id u32 (1..TLY_MAX_PARTY_ID),
 *     the spend, seq .. rho_per_query (tly_ledger_put_spend; mechanism 1
 *       or 2, each fraction reduced with den > 0),
 *     the accountant's fields (tly_ledger_put_accountant; 0 < delta_total
 *       < 1, sites 1..1000)                               [added in v2]
 *     entry_hash[32],
 *     the log head (tly_ledger_put_log_head)              [added in v3]
 *       the coordinator's signed log head that the node verified for
 *       this query before charging it (struct tly_log_head_field; size 0
 *       and zeros only for "no head": tally-node always carries one),
 *     signature[64] = Ed25519(node key, tly_hash("tally/receipt/v1",
 *                     every byte before the signature))
 *
 * The fields repeat the charge entry seq of the node's ledger, so an
 * auditor holding both can match them, and one holding only receipts can
 * still check each against its caps (tly_budget_within). The spent totals
 * are the population's: epsilon_spent E and epsilon_rho_spent Q (sums of
 * eps and eps^2/2 over pure charges), rho_spent R (sum of rho).
 */
enum {
	TLY_RECEIPT_FIXED_BYTES = 1 + 4 + 8 + 8 + 1 + TLY_QUERY_ID_BYTES + TLY_HASH_BYTES + 1 +
	                          7 * 16 + 1 + 2 * 16 + 4 + TLY_HASH_BYTES +
	                          TLY_LOG_HEAD_FIELD_BYTES + TLY_SIGN_BYTES,
	TLY_RECEIPT_MAX_BYTES = TLY_RECEIPT_FIXED_BYTES + 2 * TLY_SPEC_NAME_MAX,
};

struct tly_ledger_receipt {
	uint32_t node_id;
	TLY_LEDGER_SPEND_MEMBER; /* seq .. log_head, as in the entry */
	uint8_t entry_hash[TLY_HASH_BYTES];
	uint8_t signature[TLY_SIGN_BYTES];
};

/* out = tly_hash(domain, the bytes encode(item, b) appends to an empty
 * buffer): how an entry's hash and a receipt's digest are made. TLY_OK, or
 * encode's error (out untouched); the buffer is freed on every path. */
TLY_MUST tly_err tly_ledger_hash_encoded(uint8_t out[static TLY_HASH_BYTES], const char *domain,
                                         tly_err (*encode)(const void *item, struct tly_buf *b),
                                         const void *item);

/* Receipt bytes with signature, appended to out. TLY_EINVAL for a field
 * the decoder would refuse, TLY_ENOMEM. */
TLY_MUST tly_err tly_ledger_receipt_encode(const struct tly_ledger_receipt *receipt,
                                           struct tly_buf *out);
/* Parse exactly len bytes. TLY_EFORMAT for a wrong length or version,
 * trailing bytes, a bad dataset name, node id, seq or mechanism, a log
 * head of size 0 that is not all zeros, or a fraction that is not reduced (or zero where it must
 * not be). Does not check the signature. */
TLY_MUST tly_err tly_ledger_receipt_decode(struct tly_ledger_receipt *out, const uint8_t *buf,
                                           size_t len);
/* TLY_OK when the signature verifies under pk, else TLY_EAUTH (also for a
 * receipt that would not encode). */
TLY_MUST tly_err tly_ledger_receipt_verify(const struct tly_ledger_receipt *receipt,
                                           const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES]);

/* TLY_OK when the signature verifies under the party's sign_pk or one of
 * its retired_sign_pk (wire/party.h): a receipt in the log may predate a
 * key rotation. Only for receipts already logged; a new receipt is checked
 * under sign_pk alone. TLY_EAUTH otherwise. */
TLY_MUST tly_err tly_ledger_receipt_verify_logged(const struct tly_ledger_receipt *receipt,
                                                  const struct tly_party *party);

/* The digest a receipt's signature covers: tly_hash("tally/receipt/v1",
 * every byte before the signature). TLY_EINVAL for a receipt that would not
 * encode. */
TLY_MUST tly_err tly_ledger_receipt_digest(const struct tly_ledger_receipt *r,
                                           uint8_t digest[static TLY_HASH_BYTES]);

#endif
