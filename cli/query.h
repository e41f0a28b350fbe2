/*
 * query.h - `tally query`: a planner's question to the coordinator's HTTPS
 * API, and the answer printed for people (table) or tools (csv, json).
 *
 * The planner config (INI) names the API and the planner's certificate:
 *
 *   [planner]
 *   api = https://127.0.0.1:7443
 *   name = planner                  ; as in the coordinator's planners file
 *   sign_key = pki/planner.sign     ; signs each query (query/planner.h)
 *   tls_cert = pki/planner.crt      ; paths relative to this file; from the
 *   tls_key = pki/planner.key       ; planners' CA
 *   tls_ca = pki/coordinator-ca.crt ; the coordinator's CA, the only one trusted
 *   timeout_ms = 120000
 *
 * Flags override it (--api, --cert, --key, --ca, --planner, --sign-key).
 * name and sign_key go together; with neither, the query goes unsigned
 * and a coordinator refuses it (403, exit 5). The question comes from
 * --spec FILE (the JSON of DESIGN.md section 7.2) or from short flags:
 *   --count | --sum COL | --mean COL | --histogram COL --edges 0,1,5,10
 *   --where "COL OP VALUE" (repeatable; OP one of = != < <= > >= in, with
 *           comma-separated values for in)
 *   --by COL[,COL]  --epsilon E | --rho R  --dataset NAME (default patients)
 *   --suppress-below N --round-to R --protocol committee|secagg|secagg+
 *
 * --dry-run asks POST /v1/queries/estimate instead: the cost and each
 * figure's expected 95% half-width, nothing charged (exit 0; a refused
 * query exits as a real one would).
 *
 * Exit codes (DESIGN.md section 7.1): 0 released; 2 invalid usage or query
 * (the message names the field); 3 refused by policy or budget (naming the
 * node); 4 too few contributors or a deadline missed; 5 connection or
 * authentication failure (TLS refused, or the coordinator's 403
 * "unauthenticated": an unsigned, unknown, stale or replayed request).
 */
#ifndef TLY_CLI_QUERY_H
#define TLY_CLI_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "crypto/error.h"
#include "query/planner.h"

/* Build the query JSON from short flags (argv after `tally query`), or
 * return NULL with why set. The caller frees the result. Exposed for
 * tests. */
char *tly_query_from_flags(int argc, char **argv, char *why, size_t why_len);

/* Print the API's answer (status, response body of len bytes) to out as
 * format ("table", "csv" or "json"), or its error to err; returns the exit
 * code. Internal: the tail of tly_query_main, exposed for
 * tests/fuzz/fuzz_result.c. */
int tly_query_answer(FILE *out, FILE *err, int status, const uint8_t *response, size_t len,
                     const char *format);

/* A dry run's answer (coordinator/estimate.h) for people (csv 0: its
 * words, then one line a figure) or tools (csv 1: '#' comment lines, then
 * "figure,half_width95,group_size" rows). Members missing or of the wrong
 * type print as "?". cli/query_estimate.c. */
void tly_query_print_estimate(FILE *out, json_t *estimate, int csv);

/* A planner's Tally-Signature header value for one request (protocol/
 * planner.h): signed now, with a fresh nonce, by the Ed25519 seed in the
 * key file sign_key. TLY_EIO/TLY_EFORMAT/TLY_EAUTH for the key file (why
 * names it), TLY_EINVAL for a bad name. */
TLY_MUST tly_err tly_query_sign(char out[static TLY_PLANNER_HEADER_MAX], const char *name,
                                const char *sign_key, const char *method, const char *path,
                                const uint8_t *body, size_t len, char *why, size_t why_len);

/* The command itself; returns the exit code. */
int tly_query_main(int argc, char **argv);

#endif
