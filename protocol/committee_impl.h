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

/* Position of id in a strictly increasing list, or -1. O(log count). */
long tly_committee_find(const struct tly_idlist *list, uint32_t id);



/*
 * The cheap checks on a message, before its signature: header and lengths
 * (tly_msg_peek, TLY_EFORMAT), this query (TLY_EREPLAY otherwise).
 */
TLY_MUST tly_err tly_committee_peek(const uint8_t *msg, size_t len,
    const uint8_t query_id[static TLY_QUERY_ID_BYTES], struct tly_msg *out);

/* Byte length of a SHARE body for d cells: the sealed d elements. */
static inline size_t
tly_committee_share_bytes(size_t d)
{
	return d * TLY_FIELD_ELEMENT_BYTES + TLY_AEAD_TAG_BYTES;
}

#endif
