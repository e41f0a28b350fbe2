/*
 * feed_impl.h - what the feed's writer (translog_feed.c) and its verifier
 * (translog_feed_verify.c) share: one function per item, so that the
 * verifier rebuilds each item from its entry bytes exactly as the writer
 * made it. Nothing outside coordinator/translog_feed*.c includes it.
 */
#ifndef TLY_COORDINATOR_FEED_IMPL_H
#define TLY_COORDINATOR_FEED_IMPL_H

#include <jansson.h>

#include "feed.h"
#include "translog_impl.h"

/* How the feed is dumped (feed.h: compact, reals as the log writes them). */
#define TLY_FEED_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* The item of a released entry e, whose entry_hash is hash and whose
 * coordinator signature is signature, over its bytes[0..len) (feed.h).
 * *out is a new object. TLY_EFORMAT with why when its spec or release is
 * not a JSON object or the spec cannot be put in words; TLY_ENOMEM. */
TLY_MUST tly_err tly_feed_release_item(const struct tly_translog_entry *e, const uint8_t *bytes,
                                       size_t len, const uint8_t signature[static TLY_SIGN_BYTES],
                                       const struct tly_feed_names *names, json_t **out, char *why,
                                       size_t why_len);

/* The item of an entry that is not a release: its leaf's fields. */
TLY_MUST tly_err tly_feed_leaf_item(uint64_t seq, uint8_t outcome,
                                    const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                    const uint8_t query_hash[static TLY_HASH_BYTES],
                                    const uint8_t entry_hash[static TLY_HASH_BYTES], json_t **out);

#endif
