/*
 * ledger_heads.h - the transparency-log heads a node was shown, kept in
 * its ledger file (docs/PROTOCOL.md section 5.4).
 *
 * Table `log_heads` in the ledger's SQLite file, created on first use by a
 * writer (older ledgers gain it; a read-only open of a ledger without it
 * sees no heads):
 *
 *   size INTEGER PRIMARY KEY (the head's size), root BLOB[32],
 *   signature BLOB[64] (the coordinator's, store/head.h), query_id
 *   BLOB[16] (the query whose QUERY carried the head; the charge, if any,
 *   is the ledger entry of that query id), time INTEGER (node clock)
 *
 * UPDATE and DELETE are blocked by triggers. Rows are written (synced,
 * like the entries) before the charge of the query they came with. The
 * heads are the coordinator's signed statements, so a node cannot forge
 * one; `tally audit verify` checks every one against the log.
 *
 * Thread safety: as the ledger handle.
 */
#ifndef TLY_NODE_LEDGER_HEADS_H
#define TLY_NODE_LEDGER_HEADS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "node/ledger.h"
#include "store/head.h"

/* A head as the ledger holds it. */
struct tly_ledger_head {
	struct tly_tree_head head;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	uint64_t time;
};

/* The newest head (largest size). *found = 0 when none. TLY_EIO. */
TLY_MUST tly_err tly_ledger_head_newest(struct tly_ledger *ledger, struct tly_ledger_head *out,
                                        int *found);

/* Record a head that came with query_id, durably. A head of the same size
 * already held: TLY_OK when it is the same head, TLY_EAUTH (a fork)
 * otherwise. TLY_EIO. */
TLY_MUST tly_err tly_ledger_head_record(struct tly_ledger *ledger, const struct tly_tree_head *head,
                                        const uint8_t query_id[static TLY_QUERY_ID_BYTES]);

/* Every head, by increasing size, into a malloc'd array (*out, NULL when
 * none; the caller frees it). TLY_EIO, TLY_EFORMAT (a row of the wrong
 * shape), TLY_ENOMEM. */
TLY_MUST tly_err tly_ledger_heads(struct tly_ledger *ledger, struct tly_ledger_head **out,
                                  size_t *count);

#endif
