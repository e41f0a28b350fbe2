/*
 * The federation PKI (`tally pki`): every role's certificate verifies
 * against its CA and carries the profile mbedTLS checks (SAN, EKU,
 * CA:FALSE, key usage), keys are P-256 in files of mode 0600, nothing is
 * ever overwritten, bad names and hosts are refused before any file is
 * written, and a certificate from another CA does not verify. The openssl
 * command is the independent judge; the `tally` binary is run for the
 * command-line side.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cli/pki.h"
#include "cli/pki_impl.h"
#include "coordinator/planners.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "store/keys.h"

enum { PATH = 512, COMMAND = 2048 };

static char dir[] = "/tmp/tally-pki-test-XXXXXX";
static char ca[PATH], why[PATH + 256];

static void path_of(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
path_of(char *out, const char *fmt, ...)
{
	va_list ap;
	int used = snprintf(out, PATH, "%s/", dir);
	va_start(ap, fmt);
	vsnprintf(out + used, PATH - (size_t)used, fmt, ap);
	va_end(ap);
}

static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command (output to DIR/out); its exit status, -1 if it did
 * not exit. */
static int
shell(const char *fmt, ...)
{
	char command[COMMAND], out[PATH];
	va_list ap;
	va_start(ap, fmt);
	int used = vsnprintf(command, sizeof command, fmt, ap);
	va_end(ap);
	path_of(out, "out");
	cr_assert(used > 0 && (size_t)used + strlen(out) + 16 < sizeof command);
	snprintf(command + used, sizeof command - (size_t)used, " >%s 2>&1", out);
	int status = system(command);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The whole of a file as a string (static; the next call replaces it). */
static const char *
slurp(const char *path)
{
	static char text[65536];
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

/* The output of the last shell() call. */
static const char *
output(void)
{
	char out[PATH];
	path_of(out, "out");
	return slurp(out);
}

static int
exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	cr_assert_not_null(mkdtemp(dir));
	path_of(ca, "ca");
	cr_assert_eq(tly_pki_init(ca, 30, NULL, why, sizeof why), TLY_OK, "%s", why);
}

static void
teardown(void)
{
	char command[PATH + 16];
	snprintf(command, sizeof command, "rm -rf %s", dir);
	cr_assert_eq(system(command), 0);
}

TestSuite(pki, .init = setup, .fini = teardown, .timeout = 60);

/* `openssl x509 -noout -text` of a certificate, for strstr. */
static const char *
text_of(const char *cert)
{
	cr_assert_eq(shell("openssl x509 -noout -text -in %s", cert), 0, "%s", output());
	return output();
}

static void
issue(const char *name, enum tly_pki_role role, const char *const *hosts, size_t count)
{
	cr_assert_eq(tly_pki_issue(ca, name, role, hosts, count, NULL, 0, why, sizeof why), TLY_OK,
	             "%s: %s", name, why);
}

Test(pki, ca_profile)
{
	char cert[PATH];
	path_of(cert, "ca/node-ca.crt");
	const char *text = text_of(cert);
	cr_expect(strstr(text, "Version: 3 (0x2)") != NULL);
	cr_expect(strstr(text, "Signature Algorithm: ecdsa-with-SHA256") != NULL);
	cr_expect(strstr(text, "NIST CURVE: P-256") != NULL);
	cr_expect(strstr(text, "Subject: OU = node, CN = tally federation CA") != NULL, "%s", text);
	cr_expect(strstr(text, "Issuer: OU = node, CN = tally federation CA") != NULL);
	cr_expect(strstr(text, "X509v3 Basic Constraints: critical\n                CA:TRUE") !=
	              NULL,
	          "%s", text);
	cr_expect(strstr(text, "X509v3 Key Usage: critical\n                Certificate Sign, "
	                       "CRL Sign\n") != NULL,
	          "%s", text);
	cr_expect(strstr(text, "X509v3 Subject Key Identifier") != NULL);
	cr_expect(strstr(text, "X509v3 Authority Key Identifier") != NULL);
	cr_expect(strstr(text, "Extended Key Usage") == NULL);
	/* Self-signed: it verifies against itself. */
	cr_expect_eq(shell("openssl verify -CAfile %s %s", cert, cert), 0, "%s", output());
}

Test(pki, ca_name_and_days)
{
	char other[PATH], cert[PATH];
	path_of(other, "other");
	cr_assert_eq(tly_pki_init(other, 10, "NHS North ICS analytics CA", why, sizeof why), TLY_OK,
	             "%s", why);
	path_of(cert, "other/planner-ca.crt");
	cr_expect(strstr(text_of(cert), "Subject: OU = planner, CN = NHS North ICS analytics CA") !=
	          NULL);
	/* Valid for 10 days: still valid in 9, not in 11. */
	cr_expect_eq(shell("openssl x509 -noout -checkend %d -in %s", 9 * 86400, cert), 0);
	cr_expect_neq(shell("openssl x509 -noout -checkend %d -in %s", 11 * 86400, cert), 0);
	/* The default is 825 days. */
	path_of(other, "default");
	cr_assert_eq(tly_pki_init(other, 0, NULL, why, sizeof why), TLY_OK, "%s", why);
	path_of(cert, "default/coordinator-ca.crt");
	cr_expect_eq(shell("openssl x509 -noout -checkend %d -in %s", 824 * 86400, cert), 0);
	cr_expect_neq(shell("openssl x509 -noout -checkend %d -in %s", 826 * 86400, cert), 0);
	cr_expect_eq(tly_pki_init(other, TLY_PKI_DAYS_MAX + 1, NULL, why, sizeof why), TLY_EINVAL);
}

Test(pki, serials_are_random_128_bit)
{
	char serial[2][80], other[PATH];
	for (int i = 0; i < 2; i++) {
		char cert[PATH];
		path_of(other, "ca%d", i);
		cr_assert_eq(tly_pki_init(other, 1, NULL, why, sizeof why), TLY_OK, "%s", why);
		path_of(cert, "ca%d/node-ca.crt", i);
		cr_assert_eq(shell("openssl x509 -noout -serial -in %s", cert), 0);
		snprintf(serial[i], sizeof serial[i], "%s", output());
		size_t hex = strspn(serial[i] + 7, "0123456789ABCDEF");
		/* 32 hex digits, fewer only if the top bytes happen to be zero. */
		cr_expect(strncmp(serial[i], "serial=", 7) == 0);
		cr_expect(hex <= 32 && hex >= 24, "%s", serial[i]);
	}
	cr_expect_str_neq(serial[0], serial[1]);
}

Test(pki, every_role_verifies_with_its_purpose)
{
	static const char *const names[] = {"coordinator", "node-1", "planner"};
	static const char *const cas[] = {"coordinator-ca", "node-ca", "planner-ca"};
	char cacert[PATH], cert[PATH];
	issue("coordinator", TLY_PKI_COORDINATOR, NULL, 0);
	issue("node-1", TLY_PKI_NODE, NULL, 0);
	issue("planner", TLY_PKI_PLANNER, NULL, 0);
	for (int i = 0; i < 3; i++) {
		path_of(cert, "ca/%s.crt", names[i]);
		/* One CA per role: a leaf verifies against its own role's CA
		 * and no other (docs/OPERATIONS.md). */
		for (int j = 0; j < 3; j++) {
			path_of(cacert, "ca/%s.crt", cas[j]);
			int verified = shell("openssl verify -CAfile %s %s", cacert, cert);
			if (i == j)
				cr_expect_eq(verified, 0, "%s: %s", names[i], output());
			else
				cr_expect_neq(verified, 0, "%s verifies under %s", names[i],
				              cas[j]);
		}
		path_of(cacert, "ca/%s.crt", cas[i]);
		cr_expect_eq(shell("openssl verify -CAfile %s %s", cacert, cert), 0, "%s: %s",
		             names[i], output());
		cr_expect_eq(shell("openssl verify -purpose sslclient -CAfile %s %s", cacert, cert),
		             0, "%s: %s", names[i], output());
		/* Only the coordinator may serve TLS: a stolen node or planner key
		 * cannot pose as the coordinator. */
		int server = shell("openssl verify -purpose sslserver -CAfile %s %s", cacert, cert);
		if (i == 0)
			cr_expect_eq(server, 0, "%s", output());
		else
			cr_expect_neq(server, 0, "%s passes as a server", names[i]);
	}
	/* The coordinator is good for the names it is dialled by. */
	path_of(cert, "ca/coordinator.crt");
	path_of(cacert, "ca/coordinator-ca.crt");
	cr_expect_eq(shell("openssl verify -CAfile %s -verify_hostname localhost %s", cacert, cert),
	             0, "%s", output());
	cr_expect_eq(shell("openssl verify -CAfile %s -verify_ip 127.0.0.1 %s", cacert, cert), 0,
	             "%s", output());
	cr_expect_neq(
	    shell("openssl verify -CAfile %s -verify_hostname example.org %s", cacert, cert), 0);
}

Test(pki, coordinator_profile)
{
	char cert[PATH];
	issue("coordinator", TLY_PKI_COORDINATOR, NULL, 0);
	path_of(cert, "ca/coordinator.crt");
	const char *text = text_of(cert);
	cr_expect(strstr(text, "Version: 3 (0x2)") != NULL);
	cr_expect(strstr(text, "Issuer: OU = coordinator, CN = tally federation CA") != NULL);
	cr_expect(strstr(text, "Subject: OU = coordinator, CN = coordinator") != NULL, "%s", text);
	cr_expect(strstr(text, "NIST CURVE: P-256") != NULL);
	cr_expect(strstr(text, "Signature Algorithm: ecdsa-with-SHA256") != NULL);
	cr_expect(strstr(text, "X509v3 Basic Constraints: critical\n                CA:FALSE") !=
	              NULL,
	          "%s", text);
	cr_expect(strstr(text, "X509v3 Key Usage: critical\n                Digital Signature, "
	                       "Key Agreement\n") != NULL,
	          "%s", text);
	cr_expect(strstr(text, "X509v3 Extended Key Usage: \n                TLS Web Server "
	                       "Authentication, TLS Web Client Authentication\n") != NULL,
	          "%s", text);
	/* mbedTLS 2.28 matches a dialled address against dNSName only. */
	cr_expect(strstr(text, "DNS:localhost, IP Address:127.0.0.1, DNS:127.0.0.1\n") != NULL,
	          "%s", text);
	cr_expect(strstr(text, "X509v3 Subject Key Identifier") != NULL);
	cr_expect(strstr(text, "X509v3 Authority Key Identifier") != NULL);
}

Test(pki, node_and_planner_profile)
{
	static const char *const names[] = {"node-7", "alice.planner"};
	static const enum tly_pki_role roles[] = {TLY_PKI_NODE, TLY_PKI_PLANNER};
	char cert[PATH], subject[100];
	for (int i = 0; i < 2; i++) {
		issue(names[i], roles[i], NULL, 0);
		path_of(cert, "ca/%s.crt", names[i]);
		const char *text = text_of(cert);
		snprintf(subject, sizeof subject, "Subject: OU = %s, CN = %s",
		         tly_pki_role_name(roles[i]), names[i]);
		cr_expect(strstr(text, subject) != NULL, "%s", text);
		cr_expect(strstr(text, "CA:FALSE") != NULL);
		cr_expect(strstr(text, "Digital Signature, Key Agreement") != NULL);
		cr_expect(strstr(text,
		                 "X509v3 Extended Key Usage: \n                TLS Web Client "
		                 "Authentication\n") != NULL,
		          "%s", text);
		cr_expect(strstr(text, "Server Authentication") == NULL);
		cr_expect(strstr(text, "Subject Alternative Name") == NULL);
	}
}

Test(pki, hosts_become_subject_alt_names)
{
	static const char *const hosts[] = {"tally.example.org", "10.0.0.7", "::1"};
	char cert[PATH], cacert[PATH];
	issue("hub", TLY_PKI_COORDINATOR, hosts, 3);
	path_of(cert, "ca/hub.crt");
	path_of(cacert, "ca/coordinator-ca.crt");
	const char *text = text_of(cert);
	cr_expect(strstr(text, "DNS:tally.example.org, IP Address:10.0.0.7, DNS:10.0.0.7, "
	                       "IP Address:0:0:0:0:0:0:0:1, DNS:::1\n") != NULL,
	          "%s", text);
	cr_expect(strstr(text, "DNS:localhost") == NULL, "explicit hosts replace the defaults");
	cr_expect_eq(shell("openssl verify -CAfile %s -verify_ip 10.0.0.7 %s", cacert, cert), 0);
	cr_expect_eq(
	    shell("openssl verify -CAfile %s -verify_hostname tally.example.org %s", cacert, cert),
	    0);
	/* A node may carry names too (it needs none). */
	issue("node-2", TLY_PKI_NODE, hosts, 1);
	path_of(cert, "ca/node-2.crt");
	cr_expect(strstr(text_of(cert), "DNS:tally.example.org\n") != NULL);
}

Test(pki, keys_are_p256_mode_0600_and_match)
{
	char key[PATH], cert[PATH], pub[2][2048];
	struct stat st;
	issue("node-1", TLY_PKI_NODE, NULL, 0);
	const char *keys[] = {"ca/node-ca", "ca/node-1"};
	for (int i = 0; i < 2; i++) {
		path_of(key, "%s.key", keys[i]);
		path_of(cert, "%s.crt", keys[i]);
		cr_assert_eq(stat(key, &st), 0);
		cr_expect_eq(st.st_mode & 07777, 0600, "%s has mode %o", key, st.st_mode & 07777);
		cr_assert_eq(stat(cert, &st), 0);
		cr_expect_eq(st.st_mode & 0022, 0, "%s is writable by others", cert);
		cr_expect(strstr(slurp(key), "-----BEGIN PRIVATE KEY-----\n") != NULL);
		cr_assert_eq(shell("openssl pkey -noout -text -in %s", key), 0);
		cr_expect(strstr(output(), "NIST CURVE: P-256") != NULL, "%s", output());
		cr_assert_eq(shell("openssl pkey -pubout -in %s", key), 0);
		snprintf(pub[0], sizeof pub[0], "%s", output());
		cr_assert_eq(shell("openssl x509 -noout -pubkey -in %s", cert), 0);
		snprintf(pub[1], sizeof pub[1], "%s", output());
		cr_expect_str_eq(pub[0], pub[1], "%s does not belong to %s", key, cert);
	}
	path_of(key, "ca");
	cr_assert_eq(stat(key, &st), 0);
	cr_expect_eq(st.st_mode & 0077, 0, "a new CA folder is private");
}

Test(pki, leaf_never_outlives_the_ca)
{
	char cert[PATH];
	issue("node-1", TLY_PKI_NODE, NULL, 0); /* 825 days asked, under a 30-day CA */
	path_of(cert, "ca/node-1.crt");
	cr_expect_eq(shell("openssl x509 -noout -checkend %d -in %s", 29 * 86400, cert), 0);
	cr_expect_neq(shell("openssl x509 -noout -checkend %d -in %s", 31 * 86400, cert), 0);
	cr_assert_eq(tly_pki_issue(ca, "short", TLY_PKI_NODE, NULL, 0, NULL, 2, why, sizeof why),
	             TLY_OK, "%s", why);
	path_of(cert, "ca/short.crt");
	cr_expect_eq(shell("openssl x509 -noout -checkend %d -in %s", 86400, cert), 0);
	cr_expect_neq(shell("openssl x509 -noout -checkend %d -in %s", 3 * 86400, cert), 0);
}

Test(pki, refuses_to_overwrite)
{
	char key[PATH], cert[PATH], before[4096];
	path_of(cert, "ca/node-ca.crt");
	snprintf(before, sizeof before, "%s", slurp(cert));
	cr_expect_eq(tly_pki_init(ca, 30, NULL, why, sizeof why), TLY_EIO);
	cr_expect(strstr(why, "refusing to overwrite") != NULL, "%s", why);
	cr_expect_str_eq(slurp(cert), before, "the CA was replaced");

	issue("node-1", TLY_PKI_NODE, NULL, 0);
	path_of(key, "ca/node-1.key");
	snprintf(before, sizeof before, "%s", slurp(key));
	cr_expect_eq(tly_pki_issue(ca, "node-1", TLY_PKI_NODE, NULL, 0, NULL, 0, why, sizeof why),
	             TLY_EIO);
	cr_expect_str_eq(slurp(key), before, "the key was replaced");

	/* A stray certificate alone is enough to stop it, and no key is left. */
	path_of(cert, "ca/node-2.crt");
	FILE *f = fopen(cert, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_expect_eq(tly_pki_issue(ca, "node-2", TLY_PKI_NODE, NULL, 0, NULL, 0, why, sizeof why),
	             TLY_EIO);
	path_of(key, "ca/node-2.key");
	cr_expect(!exists(key));
	/* Nor is a symbolic link followed. */
	path_of(key, "ca/node-3.key");
	path_of(cert, "victim");
	cr_assert_eq(symlink(cert, key), 0);
	cr_expect_eq(tly_pki_issue(ca, "node-3", TLY_PKI_NODE, NULL, 0, NULL, 0, why, sizeof why),
	             TLY_EIO);
	cr_expect(!exists(cert));
	/* A half-made CA folder is not completed either. */
	path_of(key, "half");
	cr_assert_eq(mkdir(key, 0700), 0);
	path_of(key, "half/planner-ca.key");
	f = fopen(key, "w");
	cr_assert_not_null(f);
	fclose(f);
	path_of(key, "half");
	cr_expect_eq(tly_pki_init(key, 30, NULL, why, sizeof why), TLY_EIO);
	path_of(cert, "half/planner-ca.crt");
	cr_expect(!exists(cert));
	path_of(cert, "half/coordinator-ca.crt");
	cr_expect(!exists(cert), "a CA was made beside the half-made one");
}

Test(pki, bad_names_are_refused_before_any_file)
{
	char long_name[TLY_PKI_NAME_MAX + 2], out[PATH], name_path[PATH];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0'; /* 65 characters */
	const char *bad[] = {"../x", "",    long_name, "a/b",         "/etc/x", ".hidden",
	                     "-rf",  "a b", "x\n",     "caf\xc3\xa9", "n*"};
	path_of(out, "out-dir");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_expect(!tly_pki_name_valid(bad[i]), "\"%s\" passes", bad[i]);
		cr_expect_eq(
		    tly_pki_issue(ca, bad[i], TLY_PKI_NODE, NULL, 0, out, 0, why, sizeof why),
		    TLY_EINVAL, "\"%s\"", bad[i]);
		cr_expect(strstr(why, "name") != NULL, "%s", why);
	}
	cr_expect(!exists(out), "a refused name still created the output folder");
	path_of(name_path, "x.key");
	cr_expect(!exists(name_path));
	/* 64 characters and the whole alphabet are fine. */
	long_name[TLY_PKI_NAME_MAX] = '\0';
	cr_expect(tly_pki_name_valid(long_name));
	issue(long_name, TLY_PKI_NODE, NULL, 0);
	issue("Node_9.trust-A", TLY_PKI_NODE, NULL, 0);
	/* The CA's name is a CN, not a file name, but is bounded too. */
	path_of(out, "ca2");
	cr_expect_eq(tly_pki_init(out, 1, "", why, sizeof why), TLY_EINVAL);
	cr_expect_eq(tly_pki_init(out, 1, "tab\there", why, sizeof why), TLY_EINVAL);
	memset(long_name, 'c', TLY_PKI_NAME_MAX + 1);
	long_name[TLY_PKI_NAME_MAX + 1] = '\0';
	cr_expect_eq(tly_pki_init(out, 1, long_name, why, sizeof why), TLY_EINVAL);
	cr_expect(!exists(out));
}

Test(pki, bad_hosts_are_refused)
{
	char long_host[TLY_PKI_HOST_MAX + 2];
	memset(long_host, 'a', sizeof long_host - 1);
	for (size_t i = 60; i < sizeof long_host - 1; i += 61)
		long_host[i] = '.';
	long_host[sizeof long_host - 1] = '\0'; /* 254 characters, labels of 60 */
	const char *bad[] = {
	    "",   "a,b", "DNS:x",  "-lead.example", "trail-.example", "x..y",      ".x",
	    "x.", "a b", "host/x", "*.example.org", long_host,        "1.2.3.4:80"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *hosts[] = {"localhost", bad[i]};
		cr_expect(!tly_pki_host_valid(bad[i]), "\"%s\" passes", bad[i]);
		cr_expect_eq(tly_pki_issue(ca, "hub", TLY_PKI_COORDINATOR, hosts, 2, NULL, 0, why,
		                           sizeof why),
		             TLY_EINVAL, "\"%s\"", bad[i]);
	}
	long_host[TLY_PKI_HOST_MAX] = '\0';
	cr_expect(tly_pki_host_valid(long_host));
	cr_expect(tly_pki_host_valid("fe80::1"));
	cr_expect(tly_pki_host_valid("xn--bcher-kva.example"));
	const char *many[TLY_PKI_HOSTS_MAX + 1];
	for (size_t i = 0; i <= TLY_PKI_HOSTS_MAX; i++)
		many[i] = "localhost";
	cr_expect_eq(tly_pki_issue(ca, "hub", TLY_PKI_COORDINATOR, many, TLY_PKI_HOSTS_MAX + 1,
	                           NULL, 0, why, sizeof why),
	             TLY_EINVAL);
}

Test(pki, another_ca_does_not_verify)
{
	char other[PATH], cacert[PATH], othercert[PATH], leaf[PATH], out[PATH];
	path_of(other, "other");
	path_of(out, "other-leaves");
	cr_assert_eq(tly_pki_init(other, 30, NULL, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(tly_pki_issue(other, "coordinator", TLY_PKI_COORDINATOR, NULL, 0, out, 0, why,
	                           sizeof why),
	             TLY_OK, "%s", why);
	path_of(cacert, "ca/coordinator-ca.crt");
	path_of(othercert, "other/coordinator-ca.crt");
	path_of(leaf, "other-leaves/coordinator.crt");
	cr_expect_eq(shell("openssl verify -CAfile %s %s", othercert, leaf), 0, "%s", output());
	/* Same CN, same profile, different key: refused. */
	cr_expect_neq(shell("openssl verify -CAfile %s %s", cacert, leaf), 0);
	cr_expect(strstr(output(), "unable to get local issuer certificate") != NULL, "%s",
	          output());
}

Test(pki, ca_files_must_belong_together)
{
	char other[PATH], key[PATH], command[3 * PATH];
	path_of(other, "other");
	cr_assert_eq(tly_pki_init(other, 30, NULL, why, sizeof why), TLY_OK, "%s", why);
	path_of(key, "ca/node-ca.key");
	snprintf(command, sizeof command, "cp %s/node-ca.key %s", other, key);
	cr_assert_eq(system(command), 0);
	cr_expect_eq(tly_pki_issue(ca, "node-1", TLY_PKI_NODE, NULL, 0, NULL, 0, why, sizeof why),
	             TLY_ECRYPTO);
	cr_expect(strstr(why, "does not belong") != NULL, "%s", why);
	path_of(key, "ca/node-1.key");
	cr_expect(!exists(key));
	/* A leaf is not a CA. */
	cr_assert_eq(tly_pki_issue(other, "leaf", TLY_PKI_NODE, NULL, 0, NULL, 0, why, sizeof why),
	             TLY_OK, "%s", why);
	snprintf(command, sizeof command,
	         "mkdir %s/fake && cp %s/leaf.crt %s/fake/node-ca.crt && cp %s/leaf.key "
	         "%s/fake/node-ca.key",
	         dir, other, dir, other, dir);
	cr_assert_eq(system(command), 0);
	path_of(other, "fake");
	cr_expect_eq(tly_pki_issue(other, "x", TLY_PKI_NODE, NULL, 0, NULL, 0, why, sizeof why),
	             TLY_ECRYPTO);
	cr_expect(strstr(why, "not a CA") != NULL, "%s", why);
	/* No CA at all. */
	path_of(other, "nowhere");
	cr_expect_eq(tly_pki_issue(other, "x", TLY_PKI_NODE, NULL, 0, NULL, 0, why, sizeof why),
	             TLY_EIO);
}

Test(pki, roles)
{
	enum tly_pki_role role;
	cr_assert_eq(tly_pki_role_parse("coordinator", &role), TLY_OK);
	cr_expect_eq(role, TLY_PKI_COORDINATOR);
	cr_assert_eq(tly_pki_role_parse("node", &role), TLY_OK);
	cr_expect_eq(role, TLY_PKI_NODE);
	cr_assert_eq(tly_pki_role_parse("planner", &role), TLY_OK);
	cr_expect_eq(role, TLY_PKI_PLANNER);
	cr_expect_eq(tly_pki_role_parse("Node", &role), TLY_EINVAL);
	cr_expect_eq(tly_pki_role_parse("", &role), TLY_EINVAL);
	cr_expect_str_eq(tly_pki_role_name(TLY_PKI_PLANNER), "planner");
}

Test(pki, unknown_role_is_misuse, .signal = SIGABRT)
{
	tly_err rv =
	    tly_pki_issue(ca, "x", (enum tly_pki_role)7, NULL, 0, NULL, 0, why, sizeof why);
	cr_assert_fail("returned %d", rv);
}

/* ---- the command ---- */

static char bin[PATH];

/* $TALLY_BIN/tally, else the tally built beside this test
 * (BUILD/tests/test_pki -> BUILD/bin/tally); an absolute path either way,
 * since some commands run from another folder. */
static void
find_bin(void)
{
	char self[PATH], cwd[PATH];
	const char *env = getenv("TALLY_BIN");
	int used;
	if (env != NULL) {
		cr_assert_not_null(getcwd(cwd, sizeof cwd));
		used = snprintf(bin, sizeof bin, "%s%s%s/tally", env[0] == '/' ? "" : cwd,
		                env[0] == '/' ? "" : "/", env);
	} else {
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		cr_assert(n > 0);
		self[n] = '\0';
		for (int up = 0; up < 2; up++)
			*strrchr(self, '/') = '\0';
		used = snprintf(bin, sizeof bin, "%s/bin/tally", self);
	}
	cr_assert(used > 0 && (size_t)used < sizeof bin);
	cr_assert_eq(access(bin, X_OK), 0, "%s is not executable", bin);
}

Test(pki, command_line)
{
	char fresh[PATH], out[PATH], cert[PATH], key[PATH];
	struct stat st;
	find_bin();
	path_of(fresh, "cli-ca");
	path_of(out, "cli-out");
	cr_expect_eq(shell("%s pki init --dir %s --days 20 --name 'Test CA'", bin, fresh), 0, "%s",
	             output());
	cr_expect_eq(shell("%s pki issue --dir %s --name hub --role coordinator --host h.example "
	                   "--host 192.0.2.1 --out %s --days 5",
	                   bin, fresh, out),
	             0, "%s", output());
	cr_expect_eq(shell("%s pki issue --dir %s --name node-1 --role node", bin, fresh), 0, "%s",
	             output());
	path_of(cert, "cli-out/hub.crt");
	path_of(key, "cli-out/hub.key");
	cr_assert_eq(stat(key, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0600);
	const char *text = text_of(cert);
	cr_expect(strstr(text, "Issuer: OU = coordinator, CN = Test CA") != NULL, "%s", text);
	cr_expect(strstr(text, "DNS:h.example, IP Address:192.0.2.1, DNS:192.0.2.1\n") != NULL,
	          "%s", text);
	cr_expect_eq(shell("openssl x509 -noout -checkend %d -in %s", 6 * 86400, cert), 1);
	path_of(cert, "cli-ca/node-ca.crt");
	path_of(key, "cli-ca/node-1.crt");
	cr_expect_eq(shell("openssl verify -CAfile %s %s", cert, key), 0, "%s", output());
	/* Overwriting is an error (exit 1) that says so. */
	cr_expect_eq(shell("%s pki init --dir %s", bin, fresh), 1);
	cr_expect(strstr(output(), "refusing to overwrite") != NULL, "%s", output());
	cr_expect_eq(shell("%s pki issue --dir %s --name node-1 --role node", bin, fresh), 1);
	cr_expect(strstr(output(), "refusing to overwrite") != NULL, "%s", output());
}

Test(pki, command_line_errors_name_the_option)
{
	static const struct {
		const char *args, *option;
	} cases[] = {
	    {"pki init", "--dir"},
	    {"pki init --dir D --days 0", "--days"},
	    {"pki init --dir D --days 3654", "--days"},
	    {"pki init --dir D --days 7x", "--days"},
	    {"pki init --dir D --name ''", "--name"},
	    {"pki init --dir D extra", "extra"},
	    {"pki issue --name n --role node", "--dir"},
	    {"pki issue --dir D --role node", "--name"},
	    {"pki issue --dir D --name n", "--role"},
	    {"pki issue --dir D --name ../x --role node", "--name"},
	    {"pki issue --dir D --name '' --role node", "--name"},
	    {"pki issue --dir D --name n --role boss", "--role"},
	    {"pki issue --dir D --name n --role node --host a,b", "--host"},
	    {"pki issue --dir D --name n --role node --days -1", "--days"},
	    {"pki issue --dir D --name n --role node --bogus", "bogus"},
	    {"pki frobnicate", "frobnicate"},
	    {"pki", "usage"},
	};
	find_bin();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_expect_eq(shell("cd %s && %s %s", dir, bin, cases[i].args), 2, "%s",
		             cases[i].args);
		cr_expect(strstr(output(), cases[i].option) != NULL, "%s: %s", cases[i].args,
		          output());
	}
	char d[PATH];
	path_of(d, "D");
	cr_expect(!exists(d), "a refused command wrote something");
}

Test(pki, command_line_help)
{
	static const char *const commands[] = {"pki --help", "pki init --help", "pki issue --help"};
	find_bin();
	for (size_t i = 0; i < 3; i++) {
		cr_expect_eq(shell("%s %s", bin, commands[i]), 0, "%s", commands[i]);
		cr_expect(strstr(output(), "usage: tally pki") != NULL, "%s", output());
	}
	cr_expect_eq(shell("%s --help", bin), 0);
	cr_expect(strstr(output(), "pki") != NULL);
}

/* Found by tests/fuzz/fuzz_keys.c: a CA certificate whose extensions do
 * not decode was refused as "not a CA" but left OpenSSL's reason queued,
 * so the next OpenSSL failure in the process would have been reported with
 * it. The check now leaves the queue empty on every path. */
Test(pki, damaged_ca_extensions_leave_no_stale_error)
{
	char path[PATH];
	X509 *cert = NULL, *damaged;
	EVP_PKEY *key = NULL;
	BIO *bio;

	path_of(path, "ca/node-ca.crt");
	cr_assert_not_null(bio = BIO_new_file(path, "r"));
	cr_assert_eq(tly_pki_pem_read(bio, path, &cert, NULL, why, sizeof why), TLY_OK, "%s", why);
	BIO_free(bio);
	path_of(path, "ca/node-ca.key");
	cr_assert_not_null(bio = BIO_new_file(path, "r"));
	cr_assert_eq(tly_pki_pem_read(bio, path, NULL, &key, why, sizeof why), TLY_OK, "%s", why);
	BIO_free(bio);
	/* control: the real CA passes and leaves nothing queued */
	cr_assert_eq(tly_pki_ca_check(cert, key, "ca/node-ca", why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(ERR_peek_error(), 0ul);

	/* a second basicConstraints whose value is not DER, re-signed by the
	 * CA's own key and read back from its bytes */
	ASN1_OCTET_STRING *junk = ASN1_OCTET_STRING_new();
	cr_assert(junk != NULL && ASN1_OCTET_STRING_set(junk, (const unsigned char *)"junk", 4));
	X509_EXTENSION *ext = X509_EXTENSION_create_by_NID(NULL, NID_basic_constraints, 1, junk);
	cr_assert_not_null(ext);
	cr_assert_not_null(damaged = X509_dup(cert));
	cr_assert_eq(X509_add_ext(damaged, ext, -1), 1);
	cr_assert(X509_sign(damaged, key, EVP_sha256()) > 0);
	unsigned char *der = NULL;
	int len = i2d_X509(damaged, &der);
	cr_assert(len > 0);
	const unsigned char *p = der;
	X509 *back = d2i_X509(NULL, &p, len);
	cr_assert_not_null(back);
	ERR_clear_error();
	cr_assert_eq(tly_pki_ca_check(back, key, "ca/node-ca", why, sizeof why), TLY_ECRYPTO);
	cr_expect(strstr(why, "ca/node-ca.crt is not a CA certificate") != NULL, "%s", why);
	cr_expect_eq(ERR_peek_error(), 0ul, "a stale OpenSSL error is left queued");
	OPENSSL_free(der);
	X509_free(back);
	X509_free(damaged);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(junk);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* A planner gets a signing key beside its certificate, and the stanza the
 * coordinator's planners file needs: it parses, and it pins that key. */
Test(pki, planner_gets_a_signing_key_and_a_stanza)
{
	char key[PATH], stanza[PATH], why_file[300];
	uint8_t seed[TLY_SIGN_SEED_BYTES], pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_sign_key *sign;
	struct stat st;

	find_bin();
	cr_assert_eq(shell("(%s pki issue --dir %s/ca --name alice --role planner >%s/stanza)", bin,
	                   dir, dir),
	             0, "%s", output());
	cr_expect(strstr(output(), "add the [planner alice] stanza") != NULL, "%s", output());
	path_of(stanza, "stanza");
	struct tly_planners planners;
	cr_assert_eq(
	    tly_planners_parse(&planners, slurp(stanza), "stanza", why_file, sizeof why_file),
	    TLY_OK, "%s: %s", why_file, slurp(stanza));
	cr_assert_eq(planners.count, 1);
	cr_expect_str_eq(planners.keys[0].name, "alice");
	path_of(key, "ca/alice.sign");
	cr_assert_eq(stat(key, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(tly_key_file_read(key, seed, sizeof seed, why_file, sizeof why_file), TLY_OK,
	             "%s", why_file);
	cr_assert_eq(tly_sign_key_alloc(&sign, seed), TLY_OK);
	tly_sign_key_public(sign, pk);
	cr_expect_eq(memcmp(pk, planners.keys[0].sign_pk, sizeof pk), 0,
	             "the stanza pins another key");
	tly_sign_key_free(sign);
	tly_planners_fini(&planners);
	/* Nodes and the coordinator get none. */
	issue("node-9", TLY_PKI_NODE, NULL, 0);
	path_of(key, "ca/node-9.sign");
	cr_expect(!exists(key));
	/* Never overwritten: a second issue for alice fails before any file. */
	cr_expect_eq(shell("%s pki issue --dir %s/ca --name alice --role planner", bin, dir), 1);
}
