/*
 * planner.h - who asked: a planner's signature over one API request.
 *
 * TLS tells the coordinator only that a client holds a certificate from
 * the planners' CA (nng 1.5 cannot show which one). A query must name the
 * planner who asked, so every POST to the API carries a header
 *
 *   Tally-Signature: planner=NAME, time=T, nonce=N, sig=S
 *
 * exactly so spelt (one space after each comma, nothing else): NAME the
 * planner's name (tly_planner_name_valid), T the signer's clock in Unix
 * seconds (decimal, no sign, no leading zero), N 16 random bytes as 32
 * lowercase hex digits, S 64 bytes as 128 lowercase hex digits:
 *
 *   S = Ed25519(planner key, "tally/request/v1"
 *               || u8 len || NAME || u8 len || METHOD || u16 len || PATH
 *               || u64 T || N || tly_hash("tally/request-body/v1", BODY))
 *
 * (integers big-endian, PATH the request URI as sent, BODY the request
 * body). The coordinator holds each planner's public key in its planners
 * file (coordinator/planners.h) and refuses, with 403, a request that is
 * unsigned, from an unknown name, badly signed, outside the freshness
 * window or replayed; docs/PROTOCOL.md has the whole exchange.
 *
 * Pure: no I/O, no clock (callers pass the time).
 */
#ifndef TLY_PLANNER_H
#define TLY_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/sign.h"

enum {
	TLY_PLANNER_NAME_MAX = 64, /* as a certificate's CN (cli/pki.h) */
	TLY_PLANNER_NONCE_BYTES = 16,
	TLY_PLANNER_WINDOW_S = 300, /* |coordinator clock - T| at most this */
	/* The longest header value, with its NUL. */
	TLY_PLANNER_HEADER_MAX = 8 + TLY_PLANNER_NAME_MAX + 7 + 20 + 8 +
	                         2 * TLY_PLANNER_NONCE_BYTES + 6 + 2 * TLY_SIGN_BYTES + 1,
	TLY_PLANNER_METHOD_MAX = 255,
	TLY_PLANNER_PATH_MAX = 65535,
};

/* The HTTP header that carries it. */
#define TLY_PLANNER_HEADER "Tally-Signature"

/* A parsed header value. */
struct tly_planner_auth {
	char name[TLY_PLANNER_NAME_MAX + 1];
	uint64_t time;
	uint8_t nonce[TLY_PLANNER_NONCE_BYTES];
	uint8_t sig[TLY_SIGN_BYTES];
};

/* Nonzero when name is 1 to TLY_PLANNER_NAME_MAX of [A-Za-z0-9._-], not
 * starting with '.' or '-' (the rule of tly_pki_name_valid). */
int tly_planner_name_valid(const char *name);

/* Sign a request and write the header value (NUL-terminated) into out.
 * TLY_EINVAL for a bad name, or a method or path over its cap. */
TLY_MUST tly_err tly_planner_sign(char out[static TLY_PLANNER_HEADER_MAX], const char *name,
                                  const struct tly_sign_key *key, const char *method,
                                  const char *path, const uint8_t *body, size_t body_len,
                                  uint64_t time,
                                  const uint8_t nonce[static TLY_PLANNER_NONCE_BYTES]);

/* Parse len bytes of header value (untrusted). TLY_EFORMAT for anything
 * but the one spelling above; *out is written only on success. */
TLY_MUST tly_err tly_planner_auth_parse(struct tly_planner_auth *out, const char *text, size_t len);

/* Check auth's signature over this request with the planner's key.
 * TLY_EAUTH when it does not verify, TLY_EINVAL for a method or path over
 * its cap. Freshness and replays are the caller's (it has the clock). */
TLY_MUST tly_err tly_planner_auth_verify(const struct tly_planner_auth *auth,
                                         const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES],
                                         const char *method, const char *path, const uint8_t *body,
                                         size_t body_len);

#endif
