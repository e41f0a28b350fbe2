/*
 * keys.h - key files and the registry file, shared by the node, the
 * coordinator and the `tally` command.
 *
 * A key file holds one secret as lowercase hex and a newline, mode 0600:
 * an Ed25519 seed (node.sign, coordinator.sign) or an X25519 secret key
 * (node.kx). Readers refuse files that group or others may read.
 *
 * The registry pins every party's public keys; every node and the
 * coordinator load the same file, distributed out of band:
 *
 *   [coordinator]
 *   sign_pk = <64 hex>
 *
 *   [node 3]
 *   sign_pk = <64 hex>
 *   kx_pk = <64 hex>
 *   name = Example Hospitals NHS Trust     ; optional, for people
 *   retired_sign_pk = <64 hex>             ; optional, repeatable (up to 8)
 *
 * retired_sign_pk: a signing key the node used before a rotation
 * (wire/party.h). It verifies what the node signed before (its ledger's
 * older entries, its receipts in the transparency log), never a handshake
 * or a new message; it must differ from sign_pk and appear once.
 *
 * Errors name the file, the line and the key.
 */
#ifndef TLY_KEYS_H
#define TLY_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "wire/hex.h" /* tly_hex, tly_unhex: the key files' encoding */
#include "wire/party.h"

/* Read exactly len bytes of hex from path. TLY_EIO when unreadable,
 * TLY_EFORMAT when not exactly 2*len hex digits (and an optional newline),
 * TLY_EAUTH when the file is readable by group or others. why says which. */
TLY_MUST tly_err tly_key_file_read(const char *path, uint8_t *out, size_t len, char *why,
                                   size_t why_len);

/* Create path (never overwrite: TLY_EIO if it exists) with mode 0600 and
 * write the bytes as hex, synced. */
TLY_MUST tly_err tly_key_file_write(const char *path, const uint8_t *bytes, size_t len, char *why,
                                    size_t why_len);

/* A party's full identity from its key files (kx_path NULL for the
 * coordinator). */
TLY_MUST tly_err tly_identity_from_files(struct tly_identity *self, uint32_t id,
                                         const char *sign_path, const char *kx_path, char *why,
                                         size_t why_len);

/* Parse registry text (name is used in messages). TLY_EINVAL with why
 * naming "name:line: key: reason"; TLY_ENOMEM. */
TLY_MUST tly_err tly_registry_parse(struct tly_roster *out, const char *text, const char *name,
                                    char *why, size_t why_len);

/* Read and parse a registry file. TLY_EIO when unreadable. */
TLY_MUST tly_err tly_registry_load(struct tly_roster *out, const char *path, char *why,
                                   size_t why_len);

/* Write a roster as registry text to path (replacing it atomically). */
TLY_MUST tly_err tly_registry_write(const struct tly_roster *roster, const char *path, char *why,
                                    size_t why_len);

#endif
