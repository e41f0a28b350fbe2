/*
 * planners.h - who may ask: the planners file the coordinator loads, and
 * the check of each API request's signature (query/planner.h).
 *
 * The file (INI, named by `planners` in the coordinator config) lists
 * each planner's name and Ed25519 public key:
 *
 *   [planner alice]
 *   sign_pk = <64 hex>                ; from `tally pki issue --role planner`
 *
 * Names follow tly_planner_name_valid; a name or a key listed twice, an
 * unknown key or section, or a section without sign_pk is refused, with
 * an error naming the file, the line and the key. A file that lists no
 * planner is allowed (then no query is accepted).
 *
 * Requests are checked in this order: a Tally-Signature header in its one
 * spelling, a listed name, a signature that verifies over the method,
 * path and body, a time within TLY_PLANNER_WINDOW_S of the coordinator's
 * clock, and a nonce not seen before from that planner within the window
 * (the replay cache forgets a nonce once its time has left the window, so
 * it stays bounded: at most TLY_PLANNERS_SEEN_MAX requests per window).
 *
 * Thread safety: one thread at a time (the coordinator's loop).
 */
#ifndef TLY_COORDINATOR_PLANNERS_H
#define TLY_COORDINATOR_PLANNERS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/sign.h"
#include "query/planner.h"

enum {
	TLY_PLANNERS_MAX = 1024,
	TLY_PLANNERS_SEEN_MAX = 8192,    /* accepted requests remembered per window */
	TLY_PLANNERS_FILE_MAX = 1 << 20, /* bytes */
};

struct tly_planner_key {
	char name[TLY_PLANNER_NAME_MAX + 1];
	uint8_t sign_pk[TLY_SIGN_PUBLIC_BYTES];
};

struct tly_planner_seen {
	uint64_t time;
	uint32_t planner; /* index into keys */
	uint8_t nonce[TLY_PLANNER_NONCE_BYTES];
};

struct tly_planners {
	size_t count;
	struct tly_planner_key *keys; /* malloc'd */
	size_t seen_count;
	struct tly_planner_seen *seen; /* malloc'd, TLY_PLANNERS_SEEN_MAX */
};

/* Parse planners-file text (name is used in messages). TLY_EINVAL with why
 * as "name:line: key: reason"; TLY_ENOMEM. On failure *out is untouched. */
TLY_MUST tly_err tly_planners_parse(struct tly_planners *out, const char *text, const char *name,
                                    char *why, size_t why_len);

/* Read and parse a planners file. TLY_EIO when it cannot be read. */
TLY_MUST tly_err tly_planners_load(struct tly_planners *out, const char *path, char *why,
                                   size_t why_len);

/* Frees; accepts a zeroed struct. */
void tly_planners_fini(struct tly_planners *planners);

/*
 * Authenticate one request: auth is its Tally-Signature header value ("" when
 * absent), now the coordinator's clock in Unix seconds. On success name
 * (TLY_PLANNER_NAME_MAX + 1 bytes) gets the planner's name and the nonce is
 * remembered. Errors, each with why for the planner (no secrets):
 * TLY_EAUTH unsigned, malformed, unknown planner or bad signature;
 * TLY_EREPLAY outside the window or replayed; TLY_ERANGE when the replay
 * cache is full of requests still inside the window (try again later).
 */
TLY_MUST tly_err tly_planners_check(struct tly_planners *planners, const char *auth,
                                    const char *method, const char *path, const uint8_t *body,
                                    size_t body_len, uint64_t now, char *name, char *why,
                                    size_t why_len);

#endif
