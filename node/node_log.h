/*
 * node_log.h - a node answers only a query that the coordinator's
 * transparency log already commits to (docs/PROTOCOL.md section 5.4).
 *
 * tly_node_check_log takes a QUERY that passed its signature check and,
 * before any spec, policy or budget check (and so before any charge):
 *   1. decodes the QUERY's log commitment (refused when there is none);
 *   2. verifies the head's signature under the registry's coordinator key;
 *   3. rebuilds the leaf of the query's "committed" entry from this query
 *      id and query hash and the entry hash given, and verifies its
 *      inclusion proof in the head (RFC 9162 section 2.1.3.2);
 *   4. against the newest head the node holds (none: the first head is
 *      taken as it is): a smaller head is a rollback, a head of the same
 *      size with another root a fork, and a larger one must come with a
 *      consistency proof from the held size that verifies (RFC 9162
 *      section 2.1.4.2), else it is refused as a fork;
 *   5. records the head in the ledger file, durably (node/ledger_heads.h).
 * Any failure: TLY_EAUTH with why naming the check and both heads, and
 * nothing recorded or charged. TLY_EIO, TLY_ENOMEM.
 *
 * On TLY_OK, when verified is not NULL, *verified is the head that was
 * verified, for the charge to carry into the signed ledger entry and the
 * receipt (struct tly_ledger_charge.log_head); it is untouched otherwise.
 */
#ifndef TLY_NODE_NODE_LOG_H
#define TLY_NODE_NODE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "wire/codec.h"

TLY_MUST tly_err tly_node_check_log(struct tly_node *node,
                                    const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                    const struct tly_query *q, struct tly_log_head_field *verified,
                                    char *why, size_t why_len);

#endif
