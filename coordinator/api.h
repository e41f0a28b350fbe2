/*
 * api.h - the planner API's small rules, apart from the server so that
 * they can be tested alone: query strings, and the per-planner token
 * bucket that rate-limits POST /v1/queries (server.h, docs/PROTOCOL.md
 * "The planner API").
 *
 * Query strings: name=value pairs joined by '&', each name one of the
 * route's (a bit in `allowed`) and given at most once; values are
 * decimal digits only (no sign, no '+', no percent-encoding), of at most
 * 19 digits. since: 0..2^63-1, the last seq the caller has (entries after
 * it are listed); limit: 1..TLY_API_LIMIT_MAX (default
 * TLY_API_LIMIT_DEFAULT); async: 0 or 1. An empty query string, or a
 * trailing '&', is allowed. Every error names the parameter (or "query"
 * for the string as a whole) and the limit.
 *
 * The bucket: a planner may POST `burst` queries at once, and then `rate`
 * per minute; integer arithmetic only (a query costs 60000 units, each
 * millisecond refills `rate` units, the bucket holds burst * 60000), time
 * from the caller (a monotonic clock in the server, anything in tests).
 */
#ifndef TLY_COORDINATOR_API_H
#define TLY_COORDINATOR_API_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

enum {
	TLY_API_LIMIT_DEFAULT = 100,
	TLY_API_LIMIT_MAX = 1000,
	TLY_API_QUERY_MAX = 200, /* bytes of a query string */
};

enum tly_api_param {
	TLY_API_SINCE = 1u << 0,
	TLY_API_LIMIT = 1u << 1,
	TLY_API_ASYNC = 1u << 2,
};

struct tly_api_params {
	unsigned given; /* enum tly_api_param bits */
	uint64_t since; /* default 0 */
	uint32_t limit; /* default TLY_API_LIMIT_DEFAULT */
	int async;      /* default 0 */
};

/* Split a request URI at its '?': the path (without the query string) into
 * path, and *query pointing into uri after the '?' ("" when none).
 * TLY_EINVAL when the path does not fit. */
TLY_MUST tly_err tly_api_split(const char *uri, char *path, size_t path_len, const char **query);

/* Decimal digits only, 1 to 19 of them (below 10^19 < 2^64), and a value
 * at most max: nonzero with *out set, else 0. For query strings and for
 * planner shares (shares.c). */
int tly_api_digits(const char *text, size_t len, uint64_t max, uint64_t *out);

/* Parse a query string (without its '?'), allowing the parameters in
 * `allowed`. TLY_EINVAL with *err naming the parameter ("since", "limit",
 * "async" or "query"; no file, no line). */
TLY_MUST tly_err tly_api_params_parse(const char *query, unsigned allowed,
                                      struct tly_api_params *out, struct tly_field_error *err);

struct tly_bucket {
	uint64_t level;   /* units */
	uint64_t last_ms; /* when level was last brought up to date */
	int started;      /* 0: full at the first take */
};

enum { TLY_BUCKET_UNIT = 60000 }; /* units per query: a minute in ms */

/* Take one query from the bucket at now_ms: 1 when allowed, else 0 with
 * *retry_after_s the whole seconds until one is (at least 1). rate 0
 * means no limit (always 1). rate is per minute, burst >= 1. A clock that
 * goes back is treated as standing still. */
int tly_bucket_take(struct tly_bucket *b, uint32_t rate, uint32_t burst, uint64_t now_ms,
                    uint32_t *retry_after_s);

#endif
