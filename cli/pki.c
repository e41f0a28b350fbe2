#include "pki.h"
#include "pki_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/sign.h"
#include "crypto/wipe.h"
#include "store/keys.h"
#include "query/planner.h"

enum {
	PATH_BYTES = 4096,
	BACKDATE_SECONDS = 3600,
	LABEL_MAX = 63,
};

static const char default_ca_name[] = "tally federation CA";
static const char *const role_names[] = {"coordinator", "node", "planner"};
/* One CA per role (pki.h): DIR/<this>.key and DIR/<this>.crt. */
static const char *const ca_bases[] = {"coordinator-ca", "node-ca", "planner-ca"};
static const char *const coordinator_hosts[] = {"localhost", "127.0.0.1"};

/* TLY_ECRYPTO with OpenSSL's first queued reason (error strings carry no
 * key material), clearing the queue for the next call. */
static tly_err
openssl_failed(const char *what, char *why, size_t why_len)
{
	char reason[256] = "no reason given";
	unsigned long code = ERR_get_error();
	if (code != 0)
		ERR_error_string_n(code, reason, sizeof reason);
	ERR_clear_error();
	tly_say(why, why_len, "%s: %s", what, reason);
	return TLY_ECRYPTO;
}

/* ---- names, hosts, roles ---- */

int
tly_pki_name_valid(const char *name)
{
	/* One rule for leaf names and planner names: a planner's name is its
	 * certificate's CN. */
	return tly_planner_name_valid(name);
}
_Static_assert((int)TLY_PKI_NAME_MAX == (int)TLY_PLANNER_NAME_MAX, "one name rule");

int
tly_pki_ca_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > TLY_PKI_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return 0;
	return 1;
}

static int
is_ip(const char *host)
{
	unsigned char addr[16];
	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static int
label_valid(const char *label, size_t len)
{
	if (len == 0 || len > LABEL_MAX || label[0] == '-' || label[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = label[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return 0;
	}
	return 1;
}

int
tly_pki_host_valid(const char *host)
{
	size_t len = strlen(host);
	if (is_ip(host))
		return 1;
	if (len == 0 || len > TLY_PKI_HOST_MAX)
		return 0;
	for (const char *label = host;;) {
		const char *dot = strchr(label, '.');
		size_t label_len = dot != NULL ? (size_t)(dot - label) : strlen(label);
		if (!label_valid(label, label_len))
			return 0;
		if (dot == NULL)
			return 1;
		label = dot + 1;
	}
}

const char *
tly_pki_role_name(enum tly_pki_role role)
{
	TLY_REQUIRE((unsigned)role < sizeof role_names / sizeof role_names[0]);
	return role_names[role];
}

tly_err
tly_pki_role_parse(const char *text, enum tly_pki_role *role)
{
	for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
		if (strcmp(text, role_names[i]) == 0) {
			*role = (enum tly_pki_role)i;
			return TLY_OK;
		}
	}
	return TLY_EINVAL;
}

/* ---- files ---- */

static tly_err
join(char *out, const char *dir, const char *name, const char *suffix, char *why, size_t why_len)
{
	int n = snprintf(out, PATH_BYTES, "%s/%s%s", dir, name, suffix);
	if (n < 0 || n >= PATH_BYTES) {
		tly_say(why, why_len, "path too long: %s/%s%s", dir, name, suffix);
		return TLY_EINVAL;
	}
	return TLY_OK;
}

static tly_err
make_dir(const char *path, char *why, size_t why_len)
{
	struct stat st;
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		tly_say(why, why_len, "%s: not a directory", path);
		return TLY_EIO;
	}
	return TLY_OK;
}

static tly_err
refuse_existing(const char *path, char *why, size_t why_len)
{
	struct stat st;
	if (lstat(path, &st) == 0 || errno != ENOENT) {
		tly_say(why, why_len, "%s exists; refusing to overwrite it", path);
		return TLY_EIO;
	}
	return TLY_OK;
}

/* Write a new file, never replacing one: secret files get exactly 0600,
 * others 0644 less the umask. On failure the file is gone again. */
static tly_err
write_new(const char *path, const char *data, size_t len, int secret, char *why, size_t why_len)
{
	mode_t mode = secret ? 0600 : 0644;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			tly_say(why, why_len, "%s exists; refusing to overwrite it", path);
		else
			tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		data += n;
		len -= (size_t)n;
	}
	if ((secret && fchmod(fd, mode) != 0) || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return TLY_OK;
fail:
	tly_say(why, why_len, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(path);
	return TLY_EIO;
}

/* The PEM that was written into bio (ok: the encoder said so) to a new
 * file at path; frees bio. `what` is said when there is no PEM. */
static tly_err
write_pem(const char *path, BIO *bio, int ok, int secret, const char *what, char *why,
          size_t why_len)
{
	tly_err rv;
	char *pem;
	long len;

	if (bio == NULL || !ok || (len = BIO_get_mem_data(bio, &pem)) <= 0)
		rv = openssl_failed(what, why, why_len);
	else
		rv = write_new(path, pem, (size_t)len, secret, why, why_len);
	BIO_free(bio);
	return rv;
}

/* PEM of the key through a secure-memory BIO, which is wiped on free. */
static tly_err
write_key(const char *path, EVP_PKEY *key, char *why, size_t why_len)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	int ok = bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1;

	return write_pem(path, bio, ok, 1, "cannot encode the private key", why, why_len);
}

static tly_err
write_cert(const char *path, X509 *cert, char *why, size_t why_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ok = bio != NULL && PEM_write_bio_X509(bio, cert) == 1;

	return write_pem(path, bio, ok, 0, "cannot encode the certificate", why, why_len);
}

/* key_path then cert_path; if the certificate cannot be written the key
 * goes too, so a failure leaves neither. */
static tly_err
write_pair(const char *key_path, EVP_PKEY *key, const char *cert_path, X509 *cert, char *why,
           size_t why_len)
{
	tly_err rv = write_key(key_path, key, why, why_len);
	if (rv != TLY_OK)
		return rv;
	rv = write_cert(cert_path, cert, why, why_len);
	if (rv != TLY_OK)
		unlink(key_path);
	return rv;
}

/* Never prompt on the terminal for a passphrase: tally's keys have none. */
static int
no_passphrase(char *buf, int size, int rwflag, void *user)
{
	(void)buf, (void)size, (void)rwflag, (void)user;
	return -1;
}

tly_err
tly_pki_pem_read(BIO *bio, const char *label, X509 **cert, EVP_PKEY **key, char *why,
                 size_t why_len)
{
	tly_err rv = TLY_OK;

	if (cert != NULL && (*cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) == NULL)
		rv = openssl_failed(label, why, why_len);
	if (key != NULL && (*key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL)
		rv = openssl_failed(label, why, why_len);
	return rv;
}

/* dir/file as a certificate (key NULL) or a private key (cert NULL). */
static tly_err
read_pem(const char *dir, const char *file, X509 **cert, EVP_PKEY **key, char *why, size_t why_len)
{
	char path[PATH_BYTES];
	tly_err rv;
	BIO *bio;

	if (join(path, dir, file, "", why, why_len) != TLY_OK)
		return TLY_EINVAL;
	if ((bio = BIO_new_file(path, "r")) == NULL) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		ERR_clear_error();
		return TLY_EIO;
	}
	rv = tly_pki_pem_read(bio, path, cert, key, why, why_len);
	BIO_free(bio);
	return rv;
}

tly_err
tly_pki_ca_check(X509 *cert, EVP_PKEY *key, const char *base, char *why, size_t why_len)
{
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		tly_say(why, why_len, "%s.key does not belong to %s.crt", base, base);
		return TLY_ECRYPTO;
	}
	/* Either check queues OpenSSL's reason for a certificate it cannot
	 * read (X509_check_ca: "invalid certificate" for damaged extensions);
	 * drop it, as openssl_failed does, so that a later failure is not
	 * reported with this stale reason. */
	if (X509_check_ca(cert) == 0) {
		ERR_clear_error();
		tly_say(why, why_len, "%s.crt is not a CA certificate", base);
		return TLY_ECRYPTO;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		ERR_clear_error();
		tly_say(why, why_len, "%s.crt has expired", base);
		return TLY_ECRYPTO;
	}
	return TLY_OK;
}

/* The CA's certificate and key, checked to belong together, to be a CA
 * and to be still valid. */
static tly_err
read_ca(const char *dir, enum tly_pki_role role, X509 **cert_out, EVP_PKEY **key_out, char *why,
        size_t why_len)
{
	char crt_file[32], key_file[32], base[PATH_BYTES];
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	tly_err rv;

	snprintf(crt_file, sizeof crt_file, "%s.crt", ca_bases[role]);
	snprintf(key_file, sizeof key_file, "%s.key", ca_bases[role]);
	if ((rv = join(base, dir, ca_bases[role], "", why, why_len)) != TLY_OK ||
	    (rv = read_pem(dir, crt_file, &cert, NULL, why, why_len)) != TLY_OK ||
	    (rv = read_pem(dir, key_file, NULL, &key, why, why_len)) != TLY_OK ||
	    (rv = tly_pki_ca_check(cert, key, base, why, why_len)) != TLY_OK)
		goto out;
	*cert_out = cert;
	*key_out = key;
	cert = NULL;
	key = NULL;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return rv;
}

/* ---- certificates ---- */

static tly_err
new_key(EVP_PKEY **out, char *why, size_t why_len)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL)
		return openssl_failed("cannot generate a P-256 key", why, why_len);
	*out = key;
	return TLY_OK;
}

/* A uniformly random positive serial of TLY_PKI_SERIAL_BYTES bytes (DER
 * adds a zero byte when the top bit is set: 17 octets at most of the 20
 * RFC 5280 allows). */
static tly_err
set_serial(X509 *cert, char *why, size_t why_len)
{
	unsigned char bytes[TLY_PKI_SERIAL_BYTES];
	BIGNUM *number = NULL;
	ASN1_INTEGER *serial = NULL;
	tly_err rv = TLY_ECRYPTO;

	if (RAND_bytes(bytes, sizeof bytes) != 1 ||
	    (number = BN_bin2bn(bytes, sizeof bytes, NULL)) == NULL ||
	    (serial = BN_to_ASN1_INTEGER(number, NULL)) == NULL ||
	    X509_set_serialNumber(cert, serial) != 1) {
		rv = openssl_failed("cannot set the serial number", why, why_len);
		goto out;
	}
	rv = TLY_OK;
out:
	ASN1_INTEGER_free(serial);
	BN_free(number);
	return rv;
}

/* notBefore an hour ago, notAfter `days` from now but never after the
 * issuer's (when there is a separate issuer). */
static tly_err
set_validity(X509 *cert, unsigned days, const X509 *issuer, char *why, size_t why_len)
{
	if (X509_gmtime_adj(X509_getm_notBefore(cert), -BACKDATE_SECONDS) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) == NULL)
		return openssl_failed("cannot set the validity", why, why_len);
	if (issuer == NULL)
		return TLY_OK;
	const ASN1_TIME *limit = X509_get0_notAfter(issuer);
	int order = ASN1_TIME_compare(X509_get0_notAfter(cert), limit);
	if (order == -2 || (order > 0 && X509_set1_notAfter(cert, limit) != 1))
		return openssl_failed("cannot set the validity", why, why_len);
	return TLY_OK;
}

static tly_err
set_subject(X509 *cert, const char *common_name, const char *unit, char *why, size_t why_len)
{
	X509_NAME *subject = X509_get_subject_name(cert);
	if (unit != NULL &&
	    X509_NAME_add_entry_by_NID(subject, NID_organizationalUnitName, MBSTRING_ASC,
	                               (const unsigned char *)unit, -1, -1, 0) != 1)
		return openssl_failed("cannot set the subject", why, why_len);
	if (X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_ASC,
	                               (const unsigned char *)common_name, -1, -1, 0) != 1)
		return openssl_failed("cannot set the subject", why, why_len);
	return TLY_OK;
}

/* One extension in OpenSSL's config syntax ("critical,CA:TRUE"); values
 * here are constants, never user input. */
static tly_err
add_ext(X509 *cert, X509 *issuer, int nid, const char *value, char *why, size_t why_len)
{
	X509V3_CTX ctx;
	memset(&ctx, 0, sizeof ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	int ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	if (!ok) {
		char what[96];
		tly_say(what, sizeof what, "cannot add %s", OBJ_nid2sn(nid));
		return openssl_failed(what, why, why_len);
	}
	return TLY_OK;
}

static tly_err
push_name(GENERAL_NAMES *names, int type, const char *value)
{
	GENERAL_NAME *name = a2i_GENERAL_NAME(NULL, NULL, NULL, type, value, 0);
	if (name == NULL)
		return TLY_ECRYPTO;
	if (sk_GENERAL_NAME_push(names, name) <= 0) {
		GENERAL_NAME_free(name);
		return TLY_ECRYPTO;
	}
	return TLY_OK;
}

/* subjectAltName built from GENERAL_NAMEs, not from a config string, so
 * no host can smuggle in a second entry. IP literals also go in as DNS
 * names: mbedTLS 2.28 compares the host it dialled with dNSName only. */
static tly_err
add_san(X509 *cert, const char *const *hosts, size_t count, char *why, size_t why_len)
{
	tly_err rv = TLY_ECRYPTO;
	GENERAL_NAMES *names = GENERAL_NAMES_new();

	if (names == NULL)
		goto fail;
	for (size_t i = 0; i < count; i++) {
		if (is_ip(hosts[i]) && push_name(names, GEN_IPADD, hosts[i]) != TLY_OK)
			goto fail;
		if (push_name(names, GEN_DNS, hosts[i]) != TLY_OK)
			goto fail;
	}
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1)
		goto fail;
	rv = TLY_OK;
	goto out;
fail:
	rv = openssl_failed("cannot add subjectAltName", why, why_len);
out:
	GENERAL_NAMES_free(names);
	return rv;
}

/* The parts every certificate shares: version, serial, validity, key. */
static tly_err
start_cert(X509 *cert, EVP_PKEY *key, unsigned days, const X509 *issuer, char *why, size_t why_len)
{
	tly_err rv;

	if (X509_set_version(cert, X509_VERSION_3) != 1 || X509_set_pubkey(cert, key) != 1)
		return openssl_failed("cannot start a certificate", why, why_len);
	if ((rv = set_serial(cert, why, why_len)) != TLY_OK)
		return rv;
	return set_validity(cert, days, issuer, why, why_len);
}

static tly_err
sign(X509 *cert, EVP_PKEY *issuer_key, char *why, size_t why_len)
{
	if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0)
		return openssl_failed("cannot sign the certificate", why, why_len);
	return TLY_OK;
}

/* Who a certificate is for. */
struct subject {
	const char *name;
	enum tly_pki_role role;
	const char *const *hosts; /* subjectAltName, none when host_count is 0 */
	size_t host_count;
	unsigned days;
};

/* An extension in OpenSSL's config syntax ("critical,CA:TRUE"). */
struct ext {
	int nid;
	const char *value;
};

/* The subject's name and role, and the issuer's name. */
static tly_err
name_cert(X509 *cert, const struct subject *subject, X509 *issuer, char *why, size_t why_len)
{
	/* OU names the role: three CAs, three distinct subjects. */
	tly_err rv =
	    set_subject(cert, subject->name, tly_pki_role_name(subject->role), why, why_len);

	if (rv == TLY_OK && X509_set_issuer_name(cert, X509_get_subject_name(issuer)) != 1)
		rv = openssl_failed("cannot set the issuer", why, why_len);
	return rv;
}

/* A certificate for `key` and `subject`, issued by `issuer` (self-signed
 * when NULL: `issuer_key` is then `key`), with `exts` in that order, then
 * the subject's hosts, then the signature. */
static tly_err
make_cert(X509 **out, EVP_PKEY *key, const struct subject *subject, X509 *issuer,
          EVP_PKEY *issuer_key, const struct ext *exts, size_t ext_count, char *why, size_t why_len)
{
	X509 *cert = X509_new();
	X509 *signer = issuer != NULL ? issuer : cert;
	tly_err rv = cert == NULL ? openssl_failed("cannot start a certificate", why, why_len)
	                          : start_cert(cert, key, subject->days, issuer, why, why_len);

	if (rv == TLY_OK)
		rv = name_cert(cert, subject, signer, why, why_len);
	for (size_t i = 0; i < ext_count && rv == TLY_OK; i++)
		rv = add_ext(cert, signer, exts[i].nid, exts[i].value, why, why_len);
	if (rv == TLY_OK && subject->host_count > 0)
		rv = add_san(cert, subject->hosts, subject->host_count, why, why_len);
	if (rv == TLY_OK)
		rv = sign(cert, issuer_key, why, why_len);
	if (rv == TLY_OK) {
		*out = cert;
		cert = NULL;
	}
	X509_free(cert);
	return rv;
}

static tly_err
make_ca(X509 **out, EVP_PKEY *key, unsigned days, const char *name, enum tly_pki_role role,
        char *why, size_t why_len)
{
	static const struct ext exts[] = {
	    {NID_basic_constraints, "critical,CA:TRUE"},
	    {NID_key_usage, "critical,keyCertSign,cRLSign"},
	    {NID_subject_key_identifier, "hash"},
	    {NID_authority_key_identifier, "keyid:always"},
	};
	const struct subject ca = {.name = name, .role = role, .days = days};

	return make_cert(out, key, &ca, NULL, key, exts, sizeof exts / sizeof exts[0], why,
	                 why_len);
}

static tly_err
make_leaf(X509 **out, EVP_PKEY *key, const struct subject *leaf, X509 *ca, EVP_PKEY *ca_key,
          char *why, size_t why_len)
{
	const struct ext exts[] = {
	    {NID_basic_constraints, "critical,CA:FALSE"},
	    {NID_key_usage, "critical,digitalSignature,keyAgreement"},
	    {NID_ext_key_usage,
	     leaf->role == TLY_PKI_COORDINATOR ? "serverAuth,clientAuth" : "clientAuth"},
	    {NID_subject_key_identifier, "hash"},
	    {NID_authority_key_identifier, "keyid:always"},
	};

	return make_cert(out, key, leaf, ca, ca_key, exts, sizeof exts / sizeof exts[0], why,
	                 why_len);
}

/* ---- the API ---- */

static tly_err
check_days(unsigned *days, char *why, size_t why_len)
{
	if (*days == 0)
		*days = TLY_PKI_DAYS_DEFAULT;
	if (*days > TLY_PKI_DAYS_MAX) {
		tly_say(why, why_len, "days: %u is more than %d", *days, TLY_PKI_DAYS_MAX);
		return TLY_EINVAL;
	}
	return TLY_OK;
}

/* One role's CA: base.key and base.crt. */
static tly_err
init_one(const char *key_path, const char *cert_path, unsigned days, const char *name,
         enum tly_pki_role role, char *why, size_t why_len)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	tly_err rv;

	if ((rv = new_key(&key, why, why_len)) != TLY_OK ||
	    (rv = make_ca(&cert, key, days, name, role, why, why_len)) != TLY_OK)
		goto out;
	rv = write_pair(key_path, key, cert_path, cert, why, why_len);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rv;
}

tly_err
tly_pki_init(const char *dir, unsigned days, const char *name, char *why, size_t why_len)
{
	char key_path[3][PATH_BYTES], cert_path[3][PATH_BYTES];
	tly_err rv;
	int role;

	TLY_REQUIRE(dir != NULL && why != NULL);
	if (name == NULL)
		name = default_ca_name;
	if (!tly_pki_ca_name_valid(name)) {
		tly_say(why, why_len, "CA name \"%s\": use 1 to %d printable ASCII characters",
		        name, TLY_PKI_NAME_MAX);
		return TLY_EINVAL;
	}
	if ((rv = check_days(&days, why, why_len)) != TLY_OK)
		return rv;
	for (role = 0; role < 3; role++)
		if ((rv = join(key_path[role], dir, ca_bases[role], ".key", why, why_len)) !=
		        TLY_OK ||
		    (rv = join(cert_path[role], dir, ca_bases[role], ".crt", why, why_len)) !=
		        TLY_OK)
			return rv;
	if ((rv = make_dir(dir, why, why_len)) != TLY_OK)
		return rv;
	for (role = 0; role < 3; role++)
		if ((rv = refuse_existing(key_path[role], why, why_len)) != TLY_OK ||
		    (rv = refuse_existing(cert_path[role], why, why_len)) != TLY_OK)
			return rv;
	for (role = 0; role < 3 && rv == TLY_OK; role++)
		rv = init_one(key_path[role], cert_path[role], days, name, (enum tly_pki_role)role,
		              why, why_len);
	/* A failure part-way leaves none of the CAs this call made. */
	for (int made = role - 1; rv != TLY_OK && made-- > 0;) {
		unlink(key_path[made]);
		unlink(cert_path[made]);
	}
	return rv;
}

static tly_err
check_leaf(const struct subject *leaf, char *why, size_t why_len)
{
	if (!tly_pki_name_valid(leaf->name)) {
		tly_say(why, why_len,
		        "name \"%s\": use 1 to %d of A-Z a-z 0-9 . _ -, not starting with . or -",
		        leaf->name, TLY_PKI_NAME_MAX);
		return TLY_EINVAL;
	}
	if (leaf->host_count > TLY_PKI_HOSTS_MAX) {
		tly_say(why, why_len, "host: %zu hosts, at most %d", leaf->host_count,
		        TLY_PKI_HOSTS_MAX);
		return TLY_EINVAL;
	}
	for (size_t i = 0; i < leaf->host_count; i++) {
		if (!tly_pki_host_valid(leaf->hosts[i])) {
			tly_say(why, why_len, "host \"%s\": not an IP address or DNS name",
			        leaf->hosts[i]);
			return TLY_EINVAL;
		}
	}
	return TLY_OK;
}

tly_err
tly_pki_issue(const char *dir, const char *name, enum tly_pki_role role, const char *const *hosts,
              size_t host_count, const char *out_dir, unsigned days, char *why, size_t why_len)
{
	char key_path[PATH_BYTES], cert_path[PATH_BYTES];
	struct subject leaf = {name, role, hosts, host_count, days};
	EVP_PKEY *key = NULL, *ca_key = NULL;
	X509 *cert = NULL, *ca = NULL;
	tly_err rv;

	TLY_REQUIRE(dir != NULL && name != NULL && why != NULL);
	TLY_REQUIRE(hosts != NULL || host_count == 0);
	TLY_REQUIRE((unsigned)role < sizeof role_names / sizeof role_names[0]);
	if (out_dir == NULL)
		out_dir = dir;
	if (role == TLY_PKI_COORDINATOR && host_count == 0) {
		leaf.hosts = coordinator_hosts;
		leaf.host_count = sizeof coordinator_hosts / sizeof coordinator_hosts[0];
	}
	if ((rv = check_leaf(&leaf, why, why_len)) != TLY_OK ||
	    (rv = check_days(&leaf.days, why, why_len)) != TLY_OK ||
	    (rv = join(key_path, out_dir, name, ".key", why, why_len)) != TLY_OK ||
	    (rv = join(cert_path, out_dir, name, ".crt", why, why_len)) != TLY_OK ||
	    (rv = read_ca(dir, role, &ca, &ca_key, why, why_len)) != TLY_OK)
		return rv;
	if ((rv = make_dir(out_dir, why, why_len)) != TLY_OK ||
	    (rv = refuse_existing(key_path, why, why_len)) != TLY_OK ||
	    (rv = refuse_existing(cert_path, why, why_len)) != TLY_OK ||
	    (rv = new_key(&key, why, why_len)) != TLY_OK ||
	    (rv = make_leaf(&cert, key, &leaf, ca, ca_key, why, why_len)) != TLY_OK)
		goto out;
	rv = write_pair(key_path, key, cert_path, cert, why, why_len);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rv;
}

tly_err
tly_pki_planner_key(const char *out_dir, const char *name, uint8_t pk[static 32], char *why,
                    size_t why_len)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	struct tly_sign_key *key = NULL;
	char path[PATH_BYTES];
	tly_err rv;

	_Static_assert(TLY_SIGN_PUBLIC_BYTES == 32, "pk[32]");
	TLY_REQUIRE(out_dir != NULL && name != NULL && why != NULL);
	if (!tly_pki_name_valid(name)) {
		tly_say(why, why_len, "name \"%s\": not a planner name", name);
		return TLY_EINVAL;
	}
	if ((rv = join(path, out_dir, name, ".sign", why, why_len)) != TLY_OK ||
	    (rv = make_dir(out_dir, why, why_len)) != TLY_OK)
		return rv;
	if ((rv = tly_sign_key_alloc(&key, NULL)) != TLY_OK) {
		tly_say(why, why_len, "cannot make a signing key: %s", tly_strerror(rv));
		return rv;
	}
	tly_sign_key_seed(key, seed);
	rv = tly_key_file_write(path, seed, sizeof seed, why, why_len);
	if (rv == TLY_OK)
		tly_sign_key_public(key, pk);
	TLY_WIPE_OBJ(seed);
	tly_sign_key_free(key);
	return rv;
}
