/*
 * query.h - `tally query`: a planner's question to the coordinator's HTTPS
 * API, and the answer printed for people (table) or tools (csv, json).
 *
 * The planner config (INI) names the API and the planner's certificate:
 *
 *   [planner]
 *   api = https://127.0.0.1:7443
 *   tls_cert = pki/planner.crt      ; paths relative to this file
 *   tls_key = pki/planner.key
 *   tls_ca = pki/ca.crt
 *   timeout_ms = 120000
 *
 * Flags override it (--api, --cert, --key, --ca). The question comes from
 * --spec FILE (the JSON of DESIGN.md section 7.2) or from short flags:
 *   --count | --sum COL | --mean COL | --histogram COL --edges 0,1,5,10
 *   --where "COL OP VALUE" (repeatable; OP one of = != < <= > >= in, with
 *           comma-separated values for in)
 *   --by COL[,COL]  --epsilon E | --rho R  --dataset NAME (default patients)
 *   --suppress-below N --round-to R --protocol committee|secagg|secagg+
 *
 * Exit codes (DESIGN.md section 7.1): 0 released; 2 invalid usage or query
 * (the message names the field); 3 refused by policy or budget (naming the
 * node); 4 too few contributors or a deadline missed; 5 connection or
 * authentication failure.
 */
#ifndef TLY_CLI_QUERY_H
#define TLY_CLI_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/error.h"

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

/* The command itself; returns the exit code. */
int tly_query_main(int argc, char **argv);

#endif
