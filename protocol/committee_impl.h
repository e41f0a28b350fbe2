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

/* The PRG purpose of seeded shares (crypto/prg.h): no other tally
 * generator uses it. */
#define TLY_COMMITTEE_SEED_PURPOSE "committee-seeded-share"

/*
 * share[0..d) = the seeded share `seed` stands for: the first d field
 * elements of the PRG (TLY_PRG_DEFAULT) keyed by seed, purpose
 * TLY_COMMITTEE_SEED_PURPOSE, session query_id || sender u32 || member u32
 * (big-endian), length d. The node that draws the seed and the member it
 * is sealed to call this alike. On failure share is wiped. TLY_ENOMEM,
 * TLY_ECRYPTO.
 */
TLY_MUST tly_err tly_committee_seed_expand(const uint8_t seed[static TLY_SHARE_SEED_BYTES],
                                           const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                           uint32_t sender, uint32_t member, uint64_t *share,
                                           size_t d);

#endif
