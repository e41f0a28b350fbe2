/*
 * audit_heads.h - `tally audit verify`'s check of the transparency-log
 * heads the nodes hold against the log (docs/PROTOCOL.md section 5.4):
 *
 *   - every head is signed by the registry's coordinator key;
 *   - a head larger than the log: the log was truncated;
 *   - a head whose root is not the root of the log's first `size` entries,
 *     or two heads of one size that differ (in one ledger or across
 *     ledgers): a fork, or history rewritten;
 *   - a charge that came with a head whose query the log does not hold:
 *     a query outside the log.
 * Each failure prints a FAILED line naming the ledger, the node, the query
 * and the head, and is a failure of the audit (exit 1).
 */
#ifndef TLY_CLI_AUDIT_HEADS_H
#define TLY_CLI_AUDIT_HEADS_H

#include <stdint.h>
#include <stdio.h>

#include "coordinator/translog.h"
#include "node/ledger.h"
#include "wire/party.h"
#include "store/merkle.h"

/* Every head seen so far, across ledgers (for the fork check). */
struct tly_audit_heads {
	size_t count;
	struct tly_audit_head_seen *seen; /* malloc'd */
	struct tly_merkle_tree tree;      /* the log's, built on first use */
	int built;
};

struct tly_audit_head_seen {
	uint64_t size;
	uint8_t root[32];
	uint32_t node_id;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
};

void tly_audit_heads_fini(struct tly_audit_heads *heads);

/*
 * Check ledger's heads (node node_id, file path) against the verified log
 * report: those of its log_heads table (the newest is what the node checks
 * the next head against) and those in its signed entries 1..entries
 * (ledger v3: the head verified for each entry's query; entries as
 * tly_ledger_verify counted them). Returns TLY_OK, or TLY_EAUTH with reason (one line: node, query,
 * head) after printing FAILED lines to out; TLY_EIO, TLY_ENOMEM.
 */
TLY_MUST tly_err tly_audit_check_heads(struct tly_audit_heads *heads, struct tly_ledger *ledger,
                                       const char *path, uint32_t node_id, uint64_t entries,
                                       const struct tly_roster *roster,
                                       const struct tly_translog_report *log, FILE *out,
                                       char *reason, size_t reason_len);

/* Print a note per query that was committed and has no outcome in the log
 * ("committed, no release": the coordinator stopped between sending it and
 * logging how it ended). Returns how many. */
size_t tly_audit_note_unfinished(const struct tly_translog_report *log, const char *path,
                                 FILE *out);

#endif
