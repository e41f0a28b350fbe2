/*
 * pki.h - the federation's certificate authority and its certificates
 * (`tally pki init/issue`, DESIGN.md section 7.1).
 *
 * The certificates are what net/transport.c hands to nng 1.5.2 over
 * mbedTLS 2.28 for mutual TLS, so the profile is the one mbedTLS checks
 * (it is built with X509_CHECK_KEY_USAGE and X509_CHECK_EXTENDED_KEY_USAGE):
 *
 *   every key       ECDSA P-256 (named curve), PEM PKCS#8, file mode 0600,
 *                   never encrypted (the files are the protection)
 *   every cert      X.509 v3, SHA-256 signature, random positive 128-bit
 *                   serial, notBefore one hour back (clock skew between
 *                   trusts), subject and authority key identifiers
 *   CAs             one per role, so that each role's credentials work only
 *                   in that role: DIR/coordinator-ca.*, DIR/node-ca.*,
 *                   DIR/planner-ca.*; subject CN=NAME (default "tally
 *                   federation CA"), OU=ROLE,
 *                   basicConstraints critical CA:TRUE,
 *                   keyUsage critical keyCertSign, cRLSign. The
 *                   coordinator's node listener trusts only node-ca, its
 *                   API only planner-ca; nodes and planners trust only
 *                   coordinator-ca (docs/OPERATIONS.md).
 *   leaf            subject CN=NAME, OU=ROLE; issuer the role's CA;
 *                   basicConstraints critical CA:FALSE,
 *                   keyUsage critical digitalSignature, keyAgreement,
 *                   extendedKeyUsage serverAuth, clientAuth (coordinator:
 *                   it serves nodes and the HTTPS API) or clientAuth only
 *                   (node, planner: they only dial, and without serverAuth
 *                   a stolen node or planner key cannot pose as the
 *                   coordinator to anyone),
 *                   subjectAltName from the hosts: a name gives DNS:NAME,
 *                   an IP literal IP:ADDR and also DNS:ADDR (a dialler that
 *                   sets NNG_OPT_TLS_SERVER_NAME to an address is matched
 *                   by mbedTLS 2.28 against dNSName entries only). A
 *                   coordinator with no hosts gets localhost and 127.0.0.1.
 *                   The leaf never outlives the CA: its notAfter is cut to
 *                   the CA's.
 *
 * Files are created with O_CREAT | O_EXCL, so nothing is ever overwritten;
 * a failure part-way removes what this call created. Directories that do
 * not exist yet are created (one level) with mode 0700.
 *
 * Errors: TLY_EINVAL for a bad argument (why names it), TLY_EIO for files
 * (one that exists already included), TLY_ECRYPTO when OpenSSL fails or the
 * CA files do not belong together. `why` gets a one-line message on
 * failure; it never carries key material. Calls may run in parallel from
 * different threads (OpenSSL's error queue is per thread).
 *
 * The command itself, `tally pki`, is in pki_command.c.
 */
#ifndef TLY_CLI_PKI_H
#define TLY_CLI_PKI_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

enum {
	TLY_PKI_NAME_MAX = 64,  /* leaf names and the CA's CN (ub-common-name) */
	TLY_PKI_HOST_MAX = 253, /* a DNS name in SAN */
	TLY_PKI_HOSTS_MAX = 32, /* SAN entries asked for per leaf */
	TLY_PKI_DAYS_DEFAULT = 825,
	TLY_PKI_DAYS_MAX = 3653, /* ten years */
	TLY_PKI_SERIAL_BYTES = 16,
};

enum tly_pki_role {
	TLY_PKI_COORDINATOR,
	TLY_PKI_NODE,
	TLY_PKI_PLANNER,
};

/*
 * Create the three CAs, dir/ROLE-ca.key and dir/ROLE-ca.crt for ROLE
 * coordinator, node and planner, each valid for `days` days (1 to
 * TLY_PKI_DAYS_MAX; 0 means TLY_PKI_DAYS_DEFAULT), with subject CN=name
 * (NULL means "tally federation CA"; 1 to TLY_PKI_NAME_MAX printable
 * ASCII characters), OU=ROLE. Refuses if any of the six files exists; a
 * failure part-way leaves none of them.
 */
TLY_MUST tly_err tly_pki_init(const char *dir, unsigned days, const char *name, char *why,
                              size_t why_len);

/*
 * Issue out_dir/NAME.key and out_dir/NAME.crt, signed by the role's CA
 * (dir/ROLE-ca.key),
 * for `role`, valid for `days` days (as above, cut to the CA's expiry).
 * name must pass tly_pki_name_valid; hosts (host_count of them, at most
 * TLY_PKI_HOSTS_MAX, each passing tly_pki_host_valid) become the
 * subjectAltName; out_dir NULL means dir. hosts is borrowed. Refuses if
 * either output file exists.
 */
TLY_MUST tly_err tly_pki_issue(const char *dir, const char *name, enum tly_pki_role role,
                               const char *const *hosts, size_t host_count, const char *out_dir,
                               unsigned days, char *why, size_t why_len);

/*
 * A planner's request-signing key (query/planner.h): a fresh Ed25519
 * seed written to out_dir/NAME.sign (mode 0600, never overwriting), its
 * public key into pk, for the coordinator's planners file. TLY_EINVAL for
 * a bad name, TLY_EIO for the file.
 */
TLY_MUST tly_err tly_pki_planner_key(const char *out_dir, const char *name, uint8_t pk[static 32],
                                     char *why, size_t why_len);

/* Nonzero when name is 1 to TLY_PKI_NAME_MAX of [A-Za-z0-9._-] and does
 * not start with '.' or '-' (it becomes a file name and a command-line
 * argument). */
int tly_pki_name_valid(const char *name);

/* Nonzero when name will do as the CA's CN: 1 to TLY_PKI_NAME_MAX
 * printable ASCII characters. */
int tly_pki_ca_name_valid(const char *name);

/* Nonzero when host is an IPv4 or IPv6 literal, or a DNS name: labels of
 * 1 to 63 letters, digits and hyphens (no hyphen at either end), joined
 * by dots, TLY_PKI_HOST_MAX characters at most. */
int tly_pki_host_valid(const char *host);

/* "coordinator", "node", "planner"; the leaf's OU. */
const char *tly_pki_role_name(enum tly_pki_role role);

/* The role named text. TLY_EINVAL for anything else. */
TLY_MUST tly_err tly_pki_role_parse(const char *text, enum tly_pki_role *role);

/*
 * `tally pki ...`: argv[0] is "pki", argv[1] the subcommand (init, issue,
 * --help). Prints to stdout/stderr and returns the exit code: 0, 2 for
 * usage errors (the message names the option), 1 for anything else.
 */
int tly_pki_command(int argc, char **argv);

#endif
