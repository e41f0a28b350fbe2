/*
 * ledger.h - the trust node's privacy-budget ledger (DESIGN.md sections 3
 * step 3, 5 and 6): the place where the promise to patients is kept.
 *
 * For every query the node records the spend durably *before* any byte
 * derived from data leaves it: tly_ledger_reserve returns TLY_OK only after
 * the entry is committed (one SQLite transaction, WAL, synchronous=FULL, so
 * the commit has been fsynced). A query that would pass its population's
 * one (epsilon, delta) cap or its per-query cap, or a query id already
 * charged, is refused with a reason, whatever the coordinator says.
 * Refusals are recorded too, in the same chain, and cost nothing.
 *
 * Accounting is query/budget.h's, one accountant per population (the
 * datasets that describe the same people): epsilon (pure DP,
 * TLY_MECH_LAPLACE) and rho (zCDP, TLY_MECH_SKELLAM) are reduced fractions
 * of u64, summed exactly (E, Q = sum eps^2/2, R) and admitted while
 * Q + R <= rho_total = rho*(epsilon_total, delta_total) / sites, or, with
 * sites = 1 and no rho charged, while E <= epsilon_total; a sum whose
 * reduced form does not fit u64/u64 is refused (TLY_ERANGE), never rounded.
 *
 * Storage: the node's own SQLite file (never a trust's data file), with
 * PRAGMA application_id = TLY_LEDGER_APPLICATION_ID and user_version =
 * TLY_LEDGER_FORMAT_VERSION. A file with another application_id, a newer
 * version, or tables but no application_id is refused unchanged. The table
 * `entries` has one row per entry, columns named as the fields below; u64
 * values are stored in SQLite's signed INTEGER by two's-complement
 * reinterpretation. UPDATE and DELETE on it are blocked by triggers (an
 * honest mistake is stopped; a deliberate edit is caught by verification).
 *
 * Every entry is hash-chained and signed with the node's Ed25519 key:
 *
 *   entry bytes (version 3; integers big-endian):
 *     version          u8   3
 *     kind             u8   1 = charge, 2 = refusal
 *   from seq to rho_per_query as receipts have them (tly_ledger_put_spend):
 *     seq              u64  1, 2, 3, ... with no gaps
 *     time             u64  the node's clock, UTC seconds since 1970
 *     dataset_len      u8   1..63, then dataset bytes ([a-z0-9_])
 *     query_id         16 bytes
 *     query_hash       32 bytes
 *     mechanism        u8   1 = laplace (epsilon), 2 = skellam (rho)
 *     amount           u64 num, u64 den    requested epsilon or rho
 *     epsilon_spent    u64 num, u64 den    population's E after this entry
 *     rho_spent        u64 num, u64 den    population's R after this entry
 *     epsilon_total    u64 num, u64 den    caps in force for this entry
 *     epsilon_per_query, rho_total, rho_per_query  (same; rho_total is
 *                                          derived: the zCDP cap per site)
 *     refusal          u8   0 for a charge, enum tly_ledger_refusal
 *     reason_len       u16  0..TLY_LEDGER_REASON_MAX, then reason (UTF-8)
 *     spec_len         u32  1..TLY_LEDGER_SPEC_MAX, then the canonical
 *                           query JSON (for the per-person usage report)
 *     prev_hash        32 bytes: entry_hash of seq - 1; zeros for seq 1
 *   added in version 2 (tly_ledger_put_accountant):
 *     population_len   u8   1..63, then population bytes ([a-z0-9_])
 *     epsilon_rho_spent u64 num, u64 den   population's Q after this entry
 *     delta_total      u64 num, u64 den    0 < delta < 1
 *     sites            u32  max_sites_per_person, 1..1000
 *   added in version 3 (tly_ledger_put_log_head):
 *     log_size         u64  the coordinator's signed transparency-log head
 *     log_root         32   that the node verified for this query before
 *     log_signature    64   the entry (node_log.h), charge or refusal; all
 *                           zero when the caller verified none
 *
 *   entry_hash = tly_hash("tally/ledger/v1", entry bytes)   (BLAKE2b-256
 *                of u8 len("tally/ledger/v1") || "tally/ledger/v1" || bytes)
 *   signature  = Ed25519(node key, entry_hash)              (32-byte message)
 *
 * The node key: the key recorded when the file was created signs the
 * first entries. A rotation (tly_ledger_handover) records, in the
 * key_handovers table beside the entries (store/sqlog.h), a handover signed
 * by the old key and the new one: from entry from_seq on, the new key
 * signs. Verification follows the chain of keys; a handle opened with a
 * key that is no longer in force refuses to write (TLY_EAUTH).
 *
 * Every fraction has den > 0 and gcd(num, den) = 1 (0 is 0/1); amount > 0.
 * A charge adds to its population's totals as tly_budget_add does; a
 * refusal leaves them unchanged. A charge's amount is at most its
 * per-query cap and its totals are within the cap (tly_budget_within).
 *
 * Thread safety: a handle is used by one thread at a time. Several handles,
 * in one process or several, may share a file: reserve runs in a
 * BEGIN IMMEDIATE transaction and waits up to TLY_LEDGER_BUSY_MS for the
 * lock.
 *
 * Secrets: none are stored. The signing key is the caller's, borrowed.
 */
#ifndef TLY_NODE_LEDGER_H
#define TLY_NODE_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/error.h"
#include "crypto/sign.h"
#include "node/config.h"
#include "query/budget.h"
#include "wire/buf.h"
#include "wire/messages.h"
#include "query/receipt.h"
#include "query/spec.h"
#include "wire/party.h"

enum {
	TLY_LEDGER_APPLICATION_ID = 0x544c4c47, /* "TLLG" */
	TLY_LEDGER_FORMAT_VERSION = 3,
	TLY_LEDGER_REASON_MAX = 511,
	TLY_LEDGER_SPEC_MAX = TLY_SPEC_JSON_MAX,
	TLY_LEDGER_BUSY_MS = 5000,
};

enum tly_ledger_kind {
	TLY_LEDGER_CHARGE = 1,
	TLY_LEDGER_REFUSAL = 2,
};

/* Why a refusal was recorded. Values are part of the signed format. */
enum tly_ledger_refusal {
	TLY_LEDGER_REFUSED_NONE = 0,      /* a charge */
	TLY_LEDGER_REFUSED_PER_QUERY = 1, /* amount over the per-query cap */
	TLY_LEDGER_REFUSED_BUDGET = 2,    /* spent + amount over the total cap */
	TLY_LEDGER_REFUSED_REPLAY = 3,    /* query id already charged */
	TLY_LEDGER_REFUSED_OVERFLOW = 4,  /* spent + amount does not fit u64/u64 */
};

/* What one query asks to spend. Pointers are borrowed for the call. */
struct tly_ledger_charge {
	const char *dataset;    /* [a-z0-9_], 1..TLY_SPEC_NAME_MAX bytes */
	const char *population; /* the same form: whose accountant pays */
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	uint8_t query_hash[TLY_HASH_BYTES];
	uint8_t mechanism;          /* TLY_MECH_LAPLACE or TLY_MECH_SKELLAM */
	struct tly_fraction amount; /* epsilon or rho; > 0, den > 0 (reduced here) */
	const char *spec_json;      /* canonical query JSON (tly_spec_canonical) */
	size_t spec_len;            /* 1..TLY_LEDGER_SPEC_MAX bytes, no NUL byte */
	/* The log head verified for this query (tly_node_check_log), recorded
	 * in the entry and the receipt; all zero for none. */
	struct tly_log_head_field log_head;
};

/* One entry, as stored and signed (layout above). */
struct tly_ledger_entry {
	uint8_t kind;            /* enum tly_ledger_kind */
	TLY_LEDGER_SPEND_MEMBER; /* seq .. log_head, as in its receipt */
	uint8_t refusal;         /* enum tly_ledger_refusal */
	char reason[TLY_LEDGER_REASON_MAX + 1];
	const char *spec_json; /* borrowed: whoever filled the entry owns it */
	size_t spec_len;
	uint8_t prev_hash[TLY_HASH_BYTES];
	uint8_t entry_hash[TLY_HASH_BYTES];
	uint8_t signature[TLY_SIGN_BYTES];
};

/* The entry bytes above, appended to out (check out->error). TLY_EINVAL
 * when a length is outside its range. */
TLY_MUST tly_err tly_ledger_entry_encode(const struct tly_ledger_entry *entry, struct tly_buf *out);
/* entry_hash of the entry's fields (its own entry_hash is ignored).
 * TLY_EINVAL as encode, TLY_ENOMEM. */
TLY_MUST tly_err tly_ledger_entry_hash(const struct tly_ledger_entry *entry,
                                       uint8_t out[static TLY_HASH_BYTES]);

/* ---- the ledger file ---- */

struct tly_ledger;

/*
 * Open (creating if absent) the ledger at path for reserving, as
 * store/sqlog.h opens a writer: the file checks, the recorded key, and
 * TLY_EFORMAT, TLY_EAUTH and TLY_EIO with why naming the file and the
 * cause. node_id (1..TLY_MAX_PARTY_ID) goes into receipts; key is borrowed
 * and must outlive the handle. On success *out owns the handle (close
 * it); on failure *out is untouched. TLY_ENOMEM.
 */
TLY_MUST tly_err tly_ledger_open(struct tly_ledger **out, const char *path, uint32_t node_id,
                                 const struct tly_sign_key *key, char *why, size_t why_len);
/* Open an existing ledger read-only (a reader, store/sqlog.h) for verify,
 * show and usage; reserve on it is misuse. Errors as above. */
TLY_MUST tly_err tly_ledger_open_readonly(struct tly_ledger **out, const char *path, char *why,
                                          size_t why_len);
/* Accepts NULL. */
void tly_ledger_close(struct tly_ledger *ledger);

/* The public key recorded in the file. */
void tly_ledger_public_key(const struct tly_ledger *ledger,
                           uint8_t pk[static TLY_SIGN_PUBLIC_BYTES]);

/*
 * Decide on and record one query's spend, on the node's clock.
 *
 * Returns TLY_OK when the charge is committed and synced: *receipt is the
 * signed receipt, and the caller may now send what the query derives.
 * budget->rho_total is ignored: the ledger derives it from epsilon_total,
 * delta_total and sites (tly_budget_rho_cap) and records it.
 * Refusals, each recorded as a signed refusal entry before returning:
 *   TLY_EREPLAY  query id already charged (never charged or answered twice)
 *   TLY_EBUDGET  amount over the per-query cap, or the population's totals
 *                with the charge outside its cap (tly_budget_within)
 *   TLY_ERANGE   spent + amount does not fit u64/u64
 * Not recorded: TLY_EINVAL for a malformed charge or budget (bad dataset
 * or population name, mechanism other than laplace/skellam, zero amount or
 * denominator, delta not in (0, 1), sites not in 1..1000, spec outside its
 * bounds), TLY_EIO when SQLite fails (nothing is
 * committed: the caller must not send), TLY_ECRYPTO, TLY_ENOMEM.
 *
 * When why_len > 0, why receives one line describing the outcome (NUL-
 * terminated, truncated to fit); a refusal's names the dataset, the cap,
 * the amount already spent and the request. *receipt is written only on
 * TLY_OK.
 */
TLY_MUST tly_err tly_ledger_reserve(struct tly_ledger *ledger,
                                    const struct tly_ledger_charge *charge,
                                    const struct tly_ledger_budget *budget,
                                    struct tly_ledger_receipt *receipt, char *why, size_t why_len);

/* What one population has spent so far (every sum 0/1 for a population
 * never charged). TLY_EINVAL for a bad name, TLY_EFORMAT, TLY_EIO. */
TLY_MUST tly_err tly_ledger_spent(struct tly_ledger *ledger, const char *population,
                                  struct tly_budget_spent *spent);

/* ---- audit ---- */

enum {
	/* The node keys one ledger may follow: the first and one per handover
	 * (a registry lists at most TLY_RETIRED_KEYS_MAX retired keys). */
	TLY_LEDGER_KEYS_MAX = 1 + TLY_RETIRED_KEYS_MAX,
};

struct tly_ledger_key {
	uint64_t from_seq; /* the first entry it signs */
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
};

struct tly_ledger_report {
	uint64_t entries;                  /* entries that verified, from seq 1 */
	uint64_t charges;                  /* of which charges */
	uint64_t refusals;                 /* of which refusals */
	uint8_t head_hash[TLY_HASH_BYTES]; /* entry_hash of the last good one */
	uint64_t bad_seq;                  /* first entry that failed; 0 when all verified */
	char reason[320];                  /* why it failed; "" when all verified */
	/* The node keys in the order they signed: keys[0] the recorded one
	 * (from entry 1), then one per verified handover; the last is the key
	 * in force. */
	size_t key_count;
	struct tly_ledger_key keys[TLY_LEDGER_KEYS_MAX];
};

/*
 * Walk the whole chain: every row well formed, seq contiguous from 1,
 * every entry_hash recomputed, every signature under the node key in force
 * for it (the recorded key, then each key handover's new key from its
 * from_seq on, each handover checked: in place, linked to the entry
 * before, signed by the old key and the new; at most TLY_LEDGER_KEYS_MAX
 * keys), the key in force at the end equal to pk, every prev_hash,
 * every population's totals recomputed exactly and within the caps stored
 * in its entry (rho_total recomputed from them), no query id charged twice. TLY_OK when all
 * verified; TLY_EAUTH when an entry failed (report->bad_seq and report->reason name the first one);
 * TLY_EIO, TLY_ENOMEM. The report is filled in every case.
 *
 * The chain cannot show that its tail was cut off: compare report->entries
 * and head_hash with the latest receipt the coordinator logged.
 */
TLY_MUST tly_err tly_ledger_verify(struct tly_ledger *ledger,
                                   const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES],
                                   struct tly_ledger_report *report);
/* Hand the ledger over from the key the handle was opened with (which
 * must be the key in force: TLY_EAUTH) to new_key, effective from the next
 * entry; *out the record. After it this handle, and any other opened with
 * the old key, refuses to reserve (TLY_EAUTH); reopen with new_key. why
 * names the cause on failure. */
TLY_MUST tly_err tly_ledger_handover(struct tly_ledger *ledger, const struct tly_sign_key *new_key,
                                     struct tly_ledger_key *out, char *why, size_t why_len);

/* The same on a read-only open of path (TLY_EFORMAT, TLY_EIO as open). */
TLY_MUST tly_err tly_ledger_verify_file(const char *path,
                                        const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES],
                                        struct tly_ledger_report *report);

/* The entry with this seq, as stored (for an auditor matching receipts
 * against the ledger after tly_ledger_verify): every field but the spec,
 * which is left NULL with spec_len 0. TLY_EINVAL when there is no such
 * entry, TLY_EFORMAT for a malformed row, TLY_EIO. */
TLY_MUST tly_err tly_ledger_entry_get(struct tly_ledger *ledger, uint64_t seq,
                                      struct tly_ledger_entry *out);

enum tly_ledger_format {
	TLY_LEDGER_TABLE = 1, /* aligned columns for people */
	TLY_LEDGER_CSV = 2,   /* RFC 4180, with a header row */
};

/* Print every entry (seq, time in ISO-8601 UTC, kind, dataset, query id in
 * hex, mechanism, amount, spent totals, refusal reason) for `tally-node
 * ledger show`. Does not verify: run tly_ledger_verify for that. The
 * table shows the amount and spent totals as decimals rounded up
 * (crypto/frac.h: never understating what was spent); the CSV keeps them
 * exact ("num/den"), for tools. TLY_EIO when SQLite or the stream fails. */
TLY_MUST tly_err tly_ledger_show(struct tly_ledger *ledger, FILE *out,
                                 enum tly_ledger_format format);

/* The charges of a dataset (or of all when dataset is NULL) with the
 * query JSON each answered, for the per-person usage report: each charge
 * entry as read (struct tly_ledger_entry above), its JSON copied. */
struct tly_ledger_use {
	struct tly_ledger_entry entry; /* entry.spec_json is spec_json below */
	char *spec_json;               /* malloc'd, NUL-terminated; owned by the list */
};

struct tly_ledger_usage {
	size_t count;
	struct tly_ledger_use *uses; /* in seq order */
};

/* On success *out owns its memory (tly_ledger_usage_fini); on failure it
 * is empty. TLY_EINVAL for a bad dataset name, TLY_EIO, TLY_ENOMEM. */
TLY_MUST tly_err tly_ledger_usage(struct tly_ledger *ledger, const char *dataset,
                                  struct tly_ledger_usage *out);
/* Accepts a zeroed list. */
void tly_ledger_usage_fini(struct tly_ledger_usage *usage);

#endif
