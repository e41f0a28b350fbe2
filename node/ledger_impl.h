/*
 * ledger_impl.h - what the ledger's files (ledger.c: file and reserve;
 * ledger_entry.c: fractions, canonical bytes, receipts, rows;
 * ledger_audit.c: verify, show, usage) share. Nothing outside node/ledger*
 * includes it.
 */
#ifndef TLY_NODE_LEDGER_IMPL_H
#define TLY_NODE_LEDGER_IMPL_H

#include <sqlite3.h>

#include "ledger.h"
#include "store/sqlog.h"

struct tly_ledger {
	sqlite3 *db;
	const struct tly_sign_key *key; /* borrowed; NULL for a read-only handle */
	uint32_t node_id;
	uint8_t first_pk[TLY_SIGN_PUBLIC_BYTES]; /* recorded in the file: signs entry 1 */
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];       /* in force when opened (key handovers) */
};

/* The file format (ledger.c), for the key handovers' checks. */
extern const struct tly_sqlog_format tly_ledger_format;

/* The columns of table `entries`, in the order of row_bind and row_read
 * (amount_num .. rho_per_query_den: the TLY_LEDGER_SPEND_RUN_FRACTIONS of
 * tly_ledger_spend_fields). */
#define TLY_LEDGER_COLUMNS                                                                         \
	"seq, kind, time, dataset, query_id, query_hash, mechanism, amount_num, amount_den, "      \
	"epsilon_spent_num, epsilon_spent_den, rho_spent_num, rho_spent_den, "                     \
	"epsilon_total_num, epsilon_total_den, epsilon_per_query_num, epsilon_per_query_den, "     \
	"rho_total_num, rho_total_den, rho_per_query_num, rho_per_query_den, refusal, reason, "    \
	"spec_json, prev_hash, entry_hash, signature, population, epsilon_rho_spent_num, "         \
	"epsilon_rho_spent_den, delta_total_num, delta_total_den, sites, log_size, log_root, "     \
	"log_signature"
enum { TLY_LEDGER_COLUMN_COUNT = 36 };

/* Bind every column of e to parameters 1..TLY_LEDGER_COLUMN_COUNT of an
 * INSERT. SQLite's result code. */
int tly_ledger_row_bind(sqlite3_stmt *st, const struct tly_ledger_entry *e);

/* Read the current row of a SELECT TLY_LEDGER_COLUMNS into e (spec_json
 * borrows the statement's memory until its next step). Checks only types
 * and sizes, so that e is safe to use; verification checks the rest.
 * TLY_EFORMAT with why. */
TLY_MUST tly_err tly_ledger_row_read(sqlite3_stmt *st, struct tly_ledger_entry *e, char *why,
                                     size_t why_len);

/* A signed receipt for charge entry e. TLY_ECRYPTO, TLY_ENOMEM. */
TLY_MUST tly_err tly_ledger_receipt_make(struct tly_ledger_receipt *out,
                                         const struct tly_ledger_entry *e, uint32_t node_id,
                                         const struct tly_sign_key *key);

#endif
