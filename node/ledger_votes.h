/*
 * ledger_votes.h - the committee votes a node has given, kept in its
 * ledger file, so that "a member votes for one contributor set per query"
 * (protocol/committee.h, docs/PROTOCOL.md section 6.4) survives a restart.
 *
 * The member state machine keeps its vote in memory. A member daemon that
 * restarts mid-query would forget it, and a coordinator that re-sends the
 * QUERY and re-relays the shares could then collect a second vote, for
 * another set, from the same honest member: the two-set attack again. So
 * the daemon records each vote here, synced, BEFORE the SET_SIGN leaves,
 * and sends nothing when the query already holds a vote for another set.
 *
 * Table `member_votes` in the ledger's SQLite file, created on first use
 * by a writer (older ledgers gain it):
 *
 *   query_id BLOB[16] PRIMARY KEY, attempt INTEGER, set_hash BLOB[32]
 *   (tly_idlist_hash of the set voted for), time INTEGER (node clock)
 *
 * UPDATE and DELETE are blocked by triggers.
 *
 * Thread safety: as the ledger handle.
 */
#ifndef TLY_NODE_LEDGER_VOTES_H
#define TLY_NODE_LEDGER_VOTES_H

#include <stdint.h>

#include "crypto/error.h"
#include "node/ledger.h"
#include "wire/messages.h"

/*
 * Record this node's vote in query_id for the set whose hash is set_hash,
 * durably. TLY_OK when recorded, or when the same set was already recorded
 * for this query (the same vote again, e.g. after a restart); TLY_EPEER
 * when the query already holds a vote for another set (the caller must not
 * send the new vote). TLY_EIO. Needs a writable handle (misuse otherwise).
 */
TLY_MUST tly_err tly_ledger_vote_record(struct tly_ledger *ledger,
                                        const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                        uint32_t attempt,
                                        const uint8_t set_hash[static TLY_HASH_BYTES]);

#endif
