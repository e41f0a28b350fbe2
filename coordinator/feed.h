/*
 * feed.h - the public release feed (docs/FEED.md): one JSON document that
 * lists every release of the transparency log up to a signed log head, in
 * a form anyone can check offline against that head with the registry.
 *
 *   {"format": "tally-feed/1",
 *    "head": {"size": H, "root": "<64 hex>", "signature": "<128 hex>",
 *             "witness": {"node": N, "log_seq": S, "receipt": "<hex>"}},
 *    "releases": R,
 *    "entries": [ one item per log entry 1..H, in seq order ],
 *    "tail": [ release items for entries H+1, H+2, ... while they are
 *              releases ]}
 *
 * The head is the newest tree head (store/head.h) that a node verified and
 * signed back in its receipt (query/receipt.h): "witness" is that receipt,
 * from log entry S, so the head carries the coordinator's signature and a
 * trust's. The coordinator signs heads only for the queries it sends, so
 * the newest release (whose commit the head covers) is after H: "tail"
 * carries the releases that follow entry H directly, each entry chained to
 * the one before by its prev_hash (translog.h) and signed by the
 * coordinator, but under no head yet (docs/FEED.md, "Lag"); it stops at
 * the first entry that is not a release.
 *
 * An entry that is not a release is its Merkle leaf's fields:
 *   {"seq", "outcome" ("committed", "aborted", "refused"), "query_id",
 *    "query_hash", "entry_hash"} (hex), so that its leaf hash is rebuilt
 *   and its outcome is bound: a release cannot pass as another outcome.
 * A release is what the planners' result said, and the entry itself:
 *   {"seq", "outcome": "released", "time" (ISO-8601 UTC), "query_id",
 *    "planner" (when the query names one: GET /v1/releases shows it),
 *    "spec" (the canonical query, as the log holds it), "words" (the
 *    query in one sentence, query/spec_words.h), "privacy" (the release's,
 *    with "noise": the distribution of the released noise), "trusts"
 *    ([{"id", "name"}]: the contributors, named as the registry names
 *    them, null when it does not), "release" (the release JSON as the log
 *    holds it: the noisy values), "entry" (the entry's bytes, base64) and
 *    "signature" (the coordinator's over its entry_hash, hex)}.
 *
 * Every field of a release item is a function of its entry's bytes and
 * the registry: the verifier decodes the bytes, rebuilds the item and
 * compares it, so a changed value, spec, epsilon or trust fails naming the
 * release and the field. The leaves of items 1..H give the root of the
 * head: a release dropped, duplicated, moved or passed off as another
 * outcome changes the root or the sequence.
 *
 * The JSON is compact, its keys in the order above, reals with 15
 * significant digits (as the log writes them): the same log gives the
 * same bytes, served (GET /public/feed.json) or exported (`tally audit
 * export`). Thread safety: none needed beyond the log handle's.
 */
#ifndef TLY_COORDINATOR_FEED_H
#define TLY_COORDINATOR_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "store/head.h"
#include "wire/party.h"

#define TLY_FEED_FORMAT "tally-feed/1"

enum {
	TLY_FEED_MAX_BYTES = 1 << 28, /* a feed (and a file verify reads) */
	TLY_FEED_NAME_MAX = 200,      /* a trust's name in the registry */
};

/* The trusts' names: the optional `name` of each [node N] of a registry
 * file (docs/man/tally-registry.5), which tly_registry_load skips. */
struct tly_feed_name {
	uint32_t id;
	char name[TLY_FEED_NAME_MAX + 1];
};
struct tly_feed_names {
	size_t count;
	struct tly_feed_name *rows; /* malloc'd */
};

/* Read them from the registry at path. TLY_EIO when it cannot be read,
 * TLY_EINVAL for a name over TLY_FEED_NAME_MAX bytes (why names the file
 * and the line: "PATH:LINE: [node N] name: ..."), TLY_ENOMEM. *out is written on success (fini it).
 */
TLY_MUST tly_err tly_feed_names_load(struct tly_feed_names *out, const char *path, char *why,
                                     size_t why_len);
/* Accepts a zeroed struct. */
void tly_feed_names_fini(struct tly_feed_names *names);

struct tly_translog;

/*
 * The feed of log (a read-only or writing handle) into *json (malloc'd,
 * NUL-terminated, *len bytes). registry's keys choose the head: the newest
 * witnessed head whose signatures verify and whose root is the log's.
 * TLY_EINVAL with why when the log holds no such head yet (no query
 * answered), TLY_EFORMAT with why naming the entry that does not decode,
 * TLY_ERANGE past TLY_FEED_MAX_BYTES, TLY_EIO, TLY_ENOMEM.
 */
TLY_MUST tly_err tly_feed_export(struct tly_translog *log, const struct tly_roster *registry,
                                 const struct tly_feed_names *names, char **json, size_t *len,
                                 char *why, size_t why_len);

/* The number of entries in log now (what a cached feed was built from:
 * the coordinator rebuilds its feed only when this grows). TLY_EIO. */
TLY_MUST tly_err tly_feed_log_size(struct tly_translog *log, uint64_t *size);

struct tly_feed_report {
	struct tly_tree_head head; /* as the feed states it, once read */
	uint32_t witness;          /* the node whose receipt carries it */
	uint64_t entries;          /* items of "entries" that verified, from seq 1 */
	uint64_t releases;         /* of which releases */
	uint64_t tail;             /* releases of "tail" that verified */
	uint8_t *leaves;           /* the leaf hashes of both, 32 bytes each (malloc'd) */
	uint64_t bad_seq;          /* the first bad item; 0: not one item */
	char reason[512];          /* why; "" when all verified */
};
void tly_feed_report_fini(struct tly_feed_report *report);

/*
 * Verify a feed (len bytes of JSON): its format, every item (a release
 * rebuilt from its entry bytes and compared field by field, its entry
 * hash and signature; a leaf's fields), the sequence 1..H, the root of
 * the leaves against the head, the head's signature under the registry's
 * coordinator key, the witness receipt (its node's key in registry, the
 * same head), then the tail (each release the entry after the one before:
 * its prev_hash). TLY_OK; TLY_EAUTH when a check fails and TLY_EFORMAT when
 * the document is not a feed (report->reason names the field, bad_seq the
 * release or entry); TLY_ENOMEM. The report is filled in every case.
 */
TLY_MUST tly_err tly_feed_verify(const char *json, size_t len, const struct tly_roster *registry,
                                 const struct tly_feed_names *names,
                                 struct tly_feed_report *report);

#endif
