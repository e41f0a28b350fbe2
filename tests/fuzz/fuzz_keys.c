/*
 * Fuzz key files and certificates: what store/keys.c and cli/pki.c read.
 * The first input byte picks:
 *
 *   0: tly_unhex: accepted exactly when the text is 2*len hex digits, and
 *      then tly_hex gives the text back in lowercase.
 *   1: tly_key_file_read on a real file descriptor (a memfd, reopened by
 *      its /proc path: no disk): an Ed25519 seed is accepted exactly when
 *      the file is 64 hex digits and an optional newline and no one else
 *      may read it; a file group or others may read is refused with
 *      TLY_EAUTH whatever it holds. Every refusal says why.
 *   2: the CA's PEM certificate and key (cli/pki_impl.h), "cert\0key": what
 *      `tally pki issue` reads before it signs anything. A refusal says
 *      why; an accepted pair is a CA whose key matches.
 *   3: the names `tally pki` takes (leaf names, CA names, SAN hosts,
 *      roles): whatever is accepted has the documented shape.
 *
 * tally parses no peer identity from certificates (see cli/pki_impl.h):
 * nodes are identified by the signed HELLO (fuzz_transport).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cli/pki.h"
#include "cli/pki_impl.h"
#include "crypto/sign.h"
#include "store/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int memfd = -1;
static char memfd_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	memfd = memfd_create("fuzz_keys", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
	return 0;
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
all_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_hex((char)p[i]))
			return 0;
	return 1;
}

static void
unhex(const uint8_t *data, size_t size)
{
	uint8_t out[64];
	char back[129];

	if (size < 1)
		return;
	size_t len = data[0] % (sizeof out + 1);
	const char *text = (const char *)data + 1;
	size_t n = size - 1;
	tly_err rv = tly_unhex(out, len, text, n);
	int want = n == 2 * len && all_hex(data + 1, n);
	if ((rv == TLY_OK) != want || (rv != TLY_OK && rv != TLY_EFORMAT))
		abort();
	if (rv != TLY_OK)
		return;
	tly_hex(back, out, len);
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (back[i] != c)
			abort();
	}
}

static void
key_file(const uint8_t *data, size_t size)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	char why[256];

	if (size < 1)
		return;
	mode_t mode = data[0] % 2 == 0 ? 0600 : (data[0] & 2 ? 0640 : 0604);
	size_t n = size - 1;
	if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data + 1, n, 0) != (ssize_t)n ||
	    fchmod(memfd, mode) != 0)
		abort();
	why[0] = '\0';
	tly_err rv = tly_key_file_read(memfd_path, seed, sizeof seed, why, sizeof why);
	size_t body = n > 0 && data[n] == '\n' ? n - 1 : n;
	int good = body == 2 * TLY_SIGN_SEED_BYTES && all_hex(data + 1, body);
	if (mode != 0600) {
		if (rv != TLY_EAUTH)
			abort(); /* never read a secret others could read */
	} else if ((rv == TLY_OK) != good || (rv != TLY_OK && rv != TLY_EFORMAT)) {
		abort();
	}
	if (rv != TLY_OK && why[0] == '\0')
		abort();
}

static void
pem(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t cert_len = nul != NULL ? (size_t)(nul - data) : size;
	const uint8_t *key_pem = nul != NULL ? nul + 1 : data + size;
	size_t key_len = size - cert_len - (nul != NULL);
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char why[512];
	BIO *cb = BIO_new_mem_buf(data, (int)cert_len),
	    *kb = BIO_new_mem_buf(key_pem, (int)key_len);
	tly_err rv;

	if (cb == NULL || kb == NULL)
		abort();
	why[0] = '\0';
	rv = tly_pki_pem_read(cb, "ca.crt", &cert, NULL, why, sizeof why);
	if (rv == TLY_OK)
		rv = tly_pki_pem_read(kb, "ca.key", NULL, &key, why, sizeof why);
	if (rv == TLY_OK && (cert == NULL || key == NULL))
		abort();
	if (rv == TLY_OK) {
		rv = tly_pki_ca_check(cert, key, "pki", why, sizeof why);
		if (rv == TLY_OK &&
		    (X509_check_ca(cert) == 0 || X509_check_private_key(cert, key) != 1))
			abort();
	}
	if (rv != TLY_OK && (rv != TLY_ECRYPTO || why[0] == '\0'))
		abort(); /* every refusal says why */
	if (ERR_peek_error() != 0)
		abort(); /* the error queue is left clean for the next call */
	X509_free(cert);
	EVP_PKEY_free(key);
	BIO_free(cb);
	BIO_free(kb);
}

static int
label_ok(const char *p, size_t n)
{
	if (n < 1 || n > 63 || p[0] == '-' || p[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
			return 0;
	return 1;
}

static void
names(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	enum tly_pki_role role;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	size_t len = strlen(s);
	if (tly_pki_name_valid(s)) {
		if (len < 1 || len > TLY_PKI_NAME_MAX || s[0] == '.' || s[0] == '-' ||
		    strspn(s,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
		        len)
			abort();
		/* a leaf name becomes a file name under the PKI directory */
		if (strchr(s, '/') != NULL || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
			abort();
	}
	if (tly_pki_ca_name_valid(s)) {
		if (len < 1 || len > TLY_PKI_NAME_MAX)
			abort();
		for (size_t i = 0; i < len; i++)
			if (s[i] < 0x20 || s[i] > 0x7e)
				abort();
	}
	if (tly_pki_host_valid(s)) {
		unsigned char addr[16];
		int ip = inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
		if (!ip) {
			if (len < 1 || len > TLY_PKI_HOST_MAX)
				abort();
			for (const char *label = s;;) {
				const char *dot = strchr(label, '.');
				size_t n = dot != NULL ? (size_t)(dot - label) : strlen(label);
				if (!label_ok(label, n))
					abort();
				if (dot == NULL)
					break;
				label = dot + 1;
			}
		}
	}
	if (tly_pki_role_parse(s, &role) == TLY_OK && strcmp(tly_pki_role_name(role), s) != 0)
		abort();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	switch (data[0] % 4) {
	case 0:
		unhex(data + 1, size - 1);
		break;
	case 1:
		key_file(data + 1, size - 1);
		break;
	case 2:
		pem(data + 1, size - 1);
		break;
	default:
		names(data + 1, size - 1);
		break;
	}
	return 0;
}
