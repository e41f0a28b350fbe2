/*
 * pki_impl.h - what cli/pki.c reads from PEM, exposed for its tests and
 * tests/fuzz/fuzz_keys.c. Nothing else includes it (it brings in
 * OpenSSL's types).
 *
 * tally never reads a peer's subject, CN or SAN: TLS (nng + mbedTLS)
 * checks the peer's chain to its role's CA and, on clients, the server
 * name; a node is identified by its signed HELLO against the registry
 * (net/transport.h), a planner by its request signature against the
 * coordinator's planners file (query/planner.h).
 * The only certificates tally itself parses are the CA's, here.
 */
#ifndef TLY_CLI_PKI_IMPL_H
#define TLY_CLI_PKI_IMPL_H

#include <stddef.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/error.h"

/* One PEM certificate (into *cert unless cert is NULL), then one PEM
 * private key (into *key unless key is NULL) from bio; a passphrase is
 * never asked for. TLY_ECRYPTO with "label: OpenSSL's reason" in why;
 * what was read before the failure is still returned (free it). */
TLY_MUST tly_err tly_pki_pem_read(BIO *bio, const char *label, X509 **cert, EVP_PKEY **key,
                                  char *why, size_t why_len);

/* A CA's certificate and key (read from base.crt and base.key, named in
 * why): the key must belong to the certificate, which must be a CA and
 * not expired. TLY_ECRYPTO with why. */
TLY_MUST tly_err tly_pki_ca_check(X509 *cert, EVP_PKEY *key, const char *base, char *why,
                                  size_t why_len);

#endif
