/*
 * hex.h - lowercase hex, the text encoding of keys, hashes and signatures
 * in key files, registries, HTTP headers and JSON. Pure: no I/O. Here
 * (below query/) so that query/planner.c need not include store/keys.h;
 * store/keys.h includes it, so its callers see no change.
 */
#ifndef TLY_HEX_H
#define TLY_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

/* Lowercase hex of len bytes into out (2*len + 1 bytes). */
void tly_hex(char *out, const uint8_t *bytes, size_t len);
/* Parse exactly 2*len hex digits. TLY_EFORMAT. */
TLY_MUST tly_err tly_unhex(uint8_t *out, size_t len, const char *text, size_t text_len);

#endif
