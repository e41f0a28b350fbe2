/*
 * translog.h - the coordinator's transparency log (DESIGN.md section 6):
 * one signed, hash-chained entry when a query is committed (before any node
 * sees it) and one per query outcome, carrying the nodes' signed ledger
 * receipts, and a Merkle tree over the entries (RFC 9162, store/merkle.h)
 * whose signed heads the nodes keep, so that an auditor holding the registry can check
 * what was released, at what privacy cost, and that no node's budget was
 * passed, without trusting the coordinator.
 *
 * Modelled on the node's ledger (node/ledger.h): the coordinator's own
 * SQLite file, WAL, synchronous=FULL (tly_translog_append returns after
 * the commit is fsynced), PRAGMA application_id = TLY_TRANSLOG_APPLICATION_ID
 * and user_version = TLY_TRANSLOG_FORMAT_VERSION; a file with another
 * application_id, another version, or tables but no application_id is
 * refused unchanged. Table `entries` has one row per entry; UPDATE and
 * DELETE on it are blocked by triggers (an honest mistake is stopped; a
 * deliberate edit is caught by verification).
 *
 *   entry bytes (version 2; integers big-endian):
 *     version          u8   2 (= TLY_TRANSLOG_FORMAT_VERSION)
 *     seq              u64  1, 2, 3, ... with no gaps
 *     time             u64  the coordinator's clock, UTC seconds since 1970
 *     query_id         16 bytes
 *     query_hash       32 bytes  = tly_hash("tally/query/v1", spec) when
 *                                  spec_len > 0
 *     protocol         u8   enum tly_protocol
 *     threshold        u16  as in the QUERY: committee t, or the masking
 *     degree           u16  protocols' Shamir threshold; committee k, or
 *                           SecAgg+ neighbours (0 when none was sent)
 *     outcome          u8   1 released, 2 aborted, 3 refused, 4 committed
 *                           (the query is about to be sent: appended
 *                           before any QUERY leaves the coordinator; its
 *                           outcome follows in a later entry, or never
 *                           when the coordinator stopped in between)
 *     reason_len       u16  0..TLY_TRANSLOG_REASON_MAX, then reason (UTF-8,
 *                           no NUL): why it was aborted or refused
 *     spec_len         u32  0..TLY_SPEC_JSON_MAX, then the canonical query
 *                           JSON (query/spec.h); 0 only for a query
 *                           refused before it had one
 *     release_len      u32  0..TLY_TRANSLOG_RELEASE_MAX, then the release
 *                           JSON (coordinator/release.h); > 0 exactly when
 *                           released
 *     contributor_count u32, contributors[count] u32 (strictly increasing)
 *     dropped_count    u32, dropped[count] u32 (strictly increasing,
 *                           disjoint from the contributors)
 *     receipt_count    u32  0..TLY_MAX_PARTIES, then per receipt:
 *                           receipt_len u16, receipt bytes exactly as the
 *                           node sent them (node/ledger.h layout), in
 *                           strictly increasing node_id order
 *     prev_hash        32 bytes: entry_hash of seq - 1; zeros for seq 1
 *
 *   entry_hash = tly_hash("tally/translog/v1", entry bytes)
 *   signature  = Ed25519(coordinator key, entry_hash)
 *   Merkle leaf = tly_log_leaf_hash(seq, outcome, query_id, query_hash,
 *                 entry_hash), the leaf layout of store/head.h, at leaf
 *                 index seq - 1 (store/merkle.h); a signed tree head of
 *                 size s (store/head.h) commits to entries 1..s.
 *
 * Per query id: at most one "committed" entry, and at most one outcome
 * entry (released, aborted, refused), which comes after the committed one
 * when there is one (a query refused before it was sent has none). Format
 * version 2 (version 1 had no committed entries and no Merkle tree; such a
 * file is refused: start a new log).
 *
 * The table stores each entry's fields in columns for queries (seq, time,
 * query_id, outcome, ...) and the full entry bytes in column `bytes`;
 * verification recomputes everything from the bytes and checks the columns
 * agree with them.
 *
 * Thread safety: a handle is used by one thread at a time; appends from
 * several handles or processes serialise on SQLite's write lock.
 *
 * Receipts are decoded and checked with query/receipt.h, the one
 * definition of their layout for node and coordinator.
 */
#ifndef TLY_COORDINATOR_TRANSLOG_H
#define TLY_COORDINATOR_TRANSLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/error.h"
#include "crypto/sign.h"
#include "query/receipt.h"
#include "wire/codec.h"
#include "wire/messages.h"
#include "wire/party.h"

enum {
	TLY_TRANSLOG_APPLICATION_ID = 0x544c5452, /* "TLTR" */
	TLY_TRANSLOG_FORMAT_VERSION = 2,
	TLY_TRANSLOG_REASON_MAX = 1023,
	TLY_TRANSLOG_RELEASE_MAX = 1 << 26,
	TLY_TRANSLOG_BUSY_MS = 5000,
};

enum tly_translog_outcome {
	TLY_TRANSLOG_RELEASED = 1,
	TLY_TRANSLOG_ABORTED = 2,
	TLY_TRANSLOG_REFUSED = 3,
	TLY_TRANSLOG_COMMITTED = 4, /* sent to the nodes; the outcome comes later */
};

/* A receipt as the node sent it (bytes borrowed). */
struct tly_translog_receipt {
	const uint8_t *bytes;
	size_t len;
};

/* One query's outcome, to append. Pointers are borrowed for the call. */
struct tly_translog_record {
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	uint8_t query_hash[TLY_HASH_BYTES];
	uint8_t protocol;      /* enum tly_protocol */
	uint16_t threshold;    /* the QUERY's threshold and degree */
	uint16_t degree;       /*   (0 when none was sent) */
	uint8_t outcome;       /* enum tly_translog_outcome */
	const char *reason;    /* NUL-terminated, may be NULL or "" */
	const char *spec_json; /* canonical spec, or NULL */
	size_t spec_len;
	const char *release_json; /* released: the release; else NULL */
	size_t release_len;
	const struct tly_idlist *contributors; /* may be NULL: none */
	const struct tly_idlist *dropped;      /* may be NULL: none */
	const struct tly_translog_receipt *receipts;
	size_t receipt_count;
};

struct tly_translog;

/*
 * Open (creating if absent) the log at path for appending, as
 * store/sqlog.h opens a writer: the file checks, the recorded key, and
 * TLY_EFORMAT, TLY_EAUTH and TLY_EIO with why naming the file and the
 * cause. key is borrowed and must outlive the handle. On success *out
 * owns the handle (close it); on failure *out is untouched. TLY_ENOMEM.
 */
TLY_MUST tly_err tly_translog_open(struct tly_translog **out, const char *path,
                                   const struct tly_sign_key *key, char *why, size_t why_len);
/* Open an existing log read-only (a reader, store/sqlog.h) for verify,
 * show and releases. Errors as above. */
TLY_MUST tly_err tly_translog_open_readonly(struct tly_translog **out, const char *path, char *why,
                                            size_t why_len);
/* Accepts NULL. */
void tly_translog_close(struct tly_translog *log);

/*
 * Append one signed entry, on the coordinator's clock, and return after
 * the commit is synced; *seq (may be NULL) receives its number.
 * Checks before writing (TLY_EINVAL, with why): outcome known, reason and
 * JSON within their caps and free of NUL bytes, release present exactly
 * when released, spec present unless refused, query_hash matching the
 * spec, id lists strictly increasing, in 1..TLY_MAX_PARTY_ID and disjoint,
 * at most TLY_MAX_PARTIES receipts, each one that tly_ledger_receipt_decode
 * accepts, for this query id and hash, at most one per node (they are
 * stored sorted by node id). TLY_EREPLAY: the query id is already in the
 * log. TLY_EIO (nothing committed), TLY_ECRYPTO, TLY_ENOMEM. Receipt
 * signatures are not checked here (the auditor does, with the registry).
 */
TLY_MUST tly_err tly_translog_append(struct tly_translog *log,
                                     const struct tly_translog_record *record, uint64_t *seq,
                                     char *why, size_t why_len);

struct tly_log_commit;

/*
 * Commit a query before it is sent: append record (outcome
 * TLY_TRANSLOG_COMMITTED, with the canonical spec) as above, then sign the
 * tree head of the log as it now stands and build the QUERY's log
 * commitment into *out: that head, the entry's leaf index and inclusion
 * proof, and a consistency proof from each size in from_sizes that lies in
 * 1..size-1 (others are ignored, duplicates merged; at most the
 * TLY_COMMIT_CONSISTENCY_MAX largest are kept). Errors as append, and
 * TLY_ECRYPTO when signing fails. The entry is durable once this returns
 * TLY_OK; on TLY_ECRYPTO it may be in the log without a commitment sent.
 */
TLY_MUST tly_err tly_translog_commit(struct tly_translog *log,
                                     const struct tly_translog_record *record,
                                     const uint64_t *from_sizes, size_t from_count,
                                     struct tly_log_commit *out, char *why, size_t why_len);

/* The sizes of the heads of the newest committed entries (each committed
 * entry's seq is the size of the head sent with it), newest first, at most
 * max of them, into sizes[0..*count). TLY_EIO. */
TLY_MUST tly_err tly_translog_recent_heads(struct tly_translog *log, uint64_t *sizes, size_t max,
                                           size_t *count);

/* ---- audit ---- */

/* One receipt as found in the log, for cross-checking node ledgers. */
struct tly_translog_receipt_ref {
	uint64_t log_seq; /* the log entry that carries it */
	uint32_t node_id;
	TLY_LEDGER_SPEND_MEMBER; /* the receipt's: seq is the node's ledger entry */
	uint8_t entry_hash[TLY_HASH_BYTES];
};

/* A release as found in the log, for matching node ledgers' charges:
 * a node charged for a released query must be a contributor, or its
 * receipt must be in the entry (dropped after answering). */
struct tly_translog_release_ref {
	uint64_t log_seq;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_idlist contributors; /* malloc'd copy */
	struct tly_idlist dropped;      /* malloc'd copy */
};

/* A query as the log holds it: its committed entry and its outcome entry
 * (0 when absent). */
struct tly_translog_query_ref {
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	uint64_t committed_seq;
	uint64_t outcome_seq;
	uint8_t outcome; /* enum tly_translog_outcome; 0 when none yet */
};

struct tly_translog_report {
	uint64_t entries;  /* entries that verified, from seq 1 */
	uint64_t released; /* of which released */
	uint64_t aborted;
	uint64_t refused;
	uint64_t committed; /* committed entries */
	/* The Merkle leaf hashes of the entries that verified, 32 bytes each
	 * (malloc'd; fini frees it): heads are checked against them. */
	uint8_t *leaves;
	/* Every query of the entries that verified, in log order of its first
	 * entry (malloc'd; fini frees it). */
	size_t query_ref_count;
	struct tly_translog_query_ref *query_refs;
	uint64_t receipts; /* receipts in the entries that verified */
	uint8_t head_hash[TLY_HASH_BYTES];
	uint64_t bad_seq; /* first entry that failed; 0 when all verified */
	char reason[384]; /* why; "" when all verified */
	/* Every receipt of the entries that verified, in log order (malloc'd;
	 * tly_translog_report_fini frees it). */
	size_t receipt_ref_count;
	struct tly_translog_receipt_ref *receipt_refs;
	/* Every release of the entries that verified, in log order (malloc'd,
	 * with its lists; tly_translog_report_fini frees them). */
	size_t release_ref_count;
	struct tly_translog_release_ref *release_refs;
};

void tly_translog_report_fini(struct tly_translog_report *report);

/*
 * Walk the whole log. Per entry: the row well formed and its columns equal
 * to its bytes; seq contiguous from 1; entry_hash recomputed; the
 * signature under the registry's coordinator key; prev_hash; the entry's
 * own rules (those of append, and for a release: its JSON's query_id and
 * contributor count match the entry, every contributor has a receipt);
 * the query id not logged before. Per receipt: decodes; its signature
 * verifies under its node's key in the registry (a node missing from the
 * registry fails); for a release, its node is a contributor or dropped
 * (aborted and refused entries may carry receipts without lists); its query id and
 * hash, dataset and privacy amount and mechanism are the entry's spec's;
 * its amount is within its per-query cap and its spent total within its
 * total cap. Across entries, per node: no ledger seq appears in two
 * receipts; per node and dataset, ordered by ledger seq, the spent totals
 * never decrease, grow by at least the later receipt's amount, and by
 * exactly that (the other mechanism's total unchanged) when the two
 * receipts are consecutive ledger entries (receipts may be logged out of
 * ledger order when queries overlap: the check is on ledger order).
 *
 * TLY_OK when all verified; TLY_EAUTH when an entry failed
 * (report->bad_seq and reason name the first one, in log order); TLY_EIO,
 * TLY_ENOMEM. The report is filled in every case (fini it).
 *
 * The chain cannot show that its tail was cut off: compare report->entries
 * and head_hash with a copy kept elsewhere.
 */
TLY_MUST tly_err tly_translog_verify(struct tly_translog *log, const struct tly_roster *registry,
                                     struct tly_translog_report *report);
/* The chain only, as the coordinator checks it at every start: each
 * entry's sequence, columns, hash, signature under the registry's
 * coordinator key and prev_hash link, as tly_translog_verify checks them,
 * but none of the rules between entries or the receipts (the nodes' keys,
 * budgets and heads: `tally audit verify`). About one signature check an
 * entry, where the whole audit costs milliseconds an entry with receipts.
 * The report is filled as by tly_translog_verify. Returns as it does. */
TLY_MUST tly_err tly_translog_verify_chain(struct tly_translog *log,
                                           const struct tly_roster *registry,
                                           struct tly_translog_report *report);
/* The same on a read-only open of path (TLY_EFORMAT, TLY_EIO as open). */
TLY_MUST tly_err tly_translog_verify_file(const char *path, const struct tly_roster *registry,
                                          struct tly_translog_report *report);

enum tly_translog_format {
	TLY_TRANSLOG_TABLE = 1, /* aligned columns for people */
	TLY_TRANSLOG_CSV = 2,   /* RFC 4180, with a header row */
};

/* Print every entry (seq, time in ISO-8601 UTC, query id, outcome,
 * protocol, dataset and privacy from the spec, contributors, dropped,
 * receipts, reason). Does not verify. TLY_EIO when SQLite or the stream
 * fails. */
TLY_MUST tly_err tly_translog_show(struct tly_translog *log, FILE *out,
                                   enum tly_translog_format format);

/* The receipts of the log's outcome entries with seq > *since into b
 * (coordinator/budgets.h keeps the newest per node and population), and
 * *since the last seq read: GET /v1/budgets reads each entry once, however
 * often it is asked. Does not verify (the coordinator's own log). TLY_EIO,
 * TLY_EFORMAT, TLY_ENOMEM, with why. */
struct tly_budgets;
TLY_MUST tly_err tly_translog_budgets(struct tly_translog *log, struct tly_budgets *b,
                                      uint64_t *since, char *why, size_t why_len);

/* The JSON array for GET /v1/releases: one object per entry in log order,
 * {"seq", "query_id" (hex), "time" (ISO-8601 UTC), "outcome" ("released",
 * "aborted", "refused"), "reason" (when not released), "release" (the
 * release JSON, for released entries; null otherwise)}. *json is malloc'd
 * and NUL-terminated. Does not verify. TLY_EIO, TLY_EFORMAT (a stored
 * release that is not JSON), TLY_ENOMEM. */
TLY_MUST tly_err tly_translog_releases(struct tly_translog *log, char **json);

/* One page of them, for GET /v1/releases?since=&limit=: the entries with
 * seq > since in log order, at most limit (1..; the API caps it at
 * TLY_API_LIMIT_MAX), as {"releases": [...as above...], "next_since": the
 * last seq listed (since when none), "more": whether entries follow}.
 * Memory is bounded by the page, not the log. Errors as above. */
TLY_MUST tly_err tly_translog_releases_page(struct tly_translog *log, uint64_t since,
                                            uint32_t limit, char **json);

/* One query's entry, for `tally audit explain`. */
struct tly_translog_found {
	uint64_t seq;
	uint64_t time;
	uint8_t outcome;  /* enum tly_translog_outcome */
	uint8_t protocol; /* enum tly_protocol */
	uint16_t threshold, degree;
	uint32_t contributors, dropped; /* counts */
	size_t receipts;
	char reason[TLY_TRANSLOG_REASON_MAX + 1];
	char *spec_json;    /* malloc'd, NUL-terminated; NULL when none */
	char *release_json; /* malloc'd, NUL-terminated; NULL unless released */
};

/* The entry of this query id: its outcome entry, or its committed entry
 * when it has no outcome (the coordinator stopped first). On success *out owns its strings
 * (tly_translog_found_fini). TLY_EINVAL when the query is not in the log,
 * TLY_EFORMAT for an entry that does not decode, TLY_EIO, TLY_ENOMEM.
 * Does not verify. */
TLY_MUST tly_err tly_translog_find(struct tly_translog *log,
                                   const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                   struct tly_translog_found *out);
/* Accepts a zeroed struct. */
void tly_translog_found_fini(struct tly_translog_found *found);

struct tly_shares;
/* Replay every entry into sh (coordinator/shares.h), in log order:
 * committed entries as in flight, outcomes with their receipts. Does not
 * verify. TLY_EFORMAT (with why naming the entry) for an entry, spec or
 * receipt that does not decode, TLY_EIO, TLY_ENOMEM, TLY_ERANGE. */
TLY_MUST tly_err tly_translog_load_shares(struct tly_translog *log, struct tly_shares *sh,
                                          char *why, size_t why_len);

/* "released", "aborted", "refused", or "?". */
const char *tly_translog_outcome_name(uint8_t outcome);

#endif
