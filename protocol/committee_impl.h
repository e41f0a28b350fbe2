/*
 * committee_impl.h - helpers shared by the committee state machines
 * (committee.c, committee_member.c, committee_coord.c). Not for other
 * folders.
 */
#ifndef TLY_COMMITTEE_IMPL_H
#define TLY_COMMITTEE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "committee.h"

/*
 * Whether `signature` is member `voter`'s SET_SIGN vote for (attempt,
 * set_hash) in this query: the signed bytes are rebuilt exactly as the
 * member sealed them (header: SET_SIGN, query_id, sender voter, recipient
 * the coordinator; body: attempt, set_hash) and checked against the
 * voter's pinned key. TLY_EPEER when voter is not in the roster, TLY_EAUTH
 * for a bad signature.
 */
TLY_MUST tly_err tly_committee_vote_verify(const struct tly_roster *roster,
                                           const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                           uint32_t voter, uint32_t attempt,
                                           const uint8_t set_hash[static TLY_HASH_BYTES],
                                           const uint8_t signature[static TLY_SIGNATURE_BYTES]);

/* Byte length of a SHARE body for d cells: the sealed d elements. */
static inline size_t
tly_committee_share_bytes(size_t d)
{
	return d * TLY_FIELD_ELEMENT_BYTES + TLY_AEAD_TAG_BYTES;
}

#endif
