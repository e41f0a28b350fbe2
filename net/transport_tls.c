/*
 * transport_tls.c - what every part of the transport shares: TLS
 * configurations from PEM files, URL checks, nng error conversion, and
 * the HELLO bytes.
 */
#include "net/transport_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/wipe.h"

enum { PEM_FILE_MAX = 1 << 20 };

uint32_t
tly_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void
tly_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
tly_hello_message(uint8_t out[static TLY_HELLO_SIGNED_BYTES],
                  const uint8_t challenge[static TLY_HELLO_CHALLENGE_BYTES], uint32_t id)
{
	static const char domain[] = "tally/hello/v1";

	_Static_assert(sizeof domain - 1 == TLY_HELLO_DOMAIN_BYTES, "HELLO domain");
	memcpy(out, domain, TLY_HELLO_DOMAIN_BYTES);
	memcpy(out + TLY_HELLO_DOMAIN_BYTES, challenge, TLY_HELLO_CHALLENGE_BYTES);
	tly_be32_put(out + TLY_HELLO_DOMAIN_BYTES + TLY_HELLO_CHALLENGE_BYTES, id);
}

tly_err
tly_nng_err(int rv, const char *what, char *why, size_t why_len)
{
	tly_say(why, why_len, "%s: %s", what, nng_strerror(rv));
	switch (rv) {
	case NNG_ENOMEM:
		return TLY_ENOMEM;
	case NNG_ETIMEDOUT:
		return TLY_ETIMEDOUT;
	default:
		return TLY_EIO;
	}
}

static int
scheme_in(const char *scheme, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(scheme, *list) == 0)
			return 1;
	return 0;
}

tly_err
tly_url_parse(nng_url **out, const char *url, int http, int with_tls, char *why, size_t why_len)
{
	static const char *const plain_streams[] = {"tcp", "tcp4", "tcp6", "ipc", NULL};
	static const char *const tls_streams[] = {"tls+tcp", "tls+tcp4", "tls+tcp6", NULL};
	static const char *const plain_http[] = {"http", NULL};
	static const char *const tls_http[] = {"https", NULL};
	const char *const *allowed;
	nng_url *parsed;
	int rv;

	TLY_REQUIRE(url != NULL);
	if ((rv = nng_url_parse(&parsed, url)) != 0) {
		tly_say(why, why_len, "bad URL %s: %s", url, nng_strerror(rv));
		return rv == NNG_ENOMEM ? TLY_ENOMEM : TLY_EINVAL;
	}
	if (http)
		allowed = with_tls ? tls_http : plain_http;
	else
		allowed = with_tls ? tls_streams : plain_streams;
	if (!scheme_in(parsed->u_scheme, allowed)) {
		tly_say(why, why_len, "URL %s: scheme %s does not fit %s", url, parsed->u_scheme,
		        with_tls ? "a TLS configuration" : "plain transport (no TLS files given)");
		nng_url_free(parsed);
		return TLY_EINVAL;
	}
	*out = parsed;
	return TLY_OK;
}

/* The whole of a PEM file, NUL-terminated; *len its length. */
static tly_err
read_pem(char **out, size_t *len, const char *path, const char *what, char *why, size_t why_len)
{
	struct stat sb;
	tly_err rv = TLY_EIO;
	char *text = NULL;
	size_t size;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		tly_say(why, why_len, "cannot open %s %s: %s", what, path, strerror(errno));
		return TLY_EIO;
	}
	if (fstat(fileno(f), &sb) != 0 || sb.st_size <= 0 || sb.st_size > PEM_FILE_MAX) {
		tly_say(why, why_len, "%s %s: empty, unreadable or over %d bytes", what, path,
		        PEM_FILE_MAX);
		goto out;
	}
	size = (size_t)sb.st_size;
	if ((text = malloc(size + 1)) == NULL) {
		rv = TLY_ENOMEM;
		goto out;
	}
	if (fread(text, 1, size, f) != size) {
		tly_say(why, why_len, "cannot read %s %s", what, path);
		TLY_WIPE(text, size);
		free(text);
		goto out;
	}
	text[size] = '\0';
	*out = text;
	*len = size;
	rv = TLY_OK;
out:
	fclose(f);
	return rv;
}

static tly_err
tls_load(nng_tls_config *cfg, const struct tly_tls_files *files, char *why, size_t why_len)
{
	const char *key_path = files->key != NULL ? files->key : files->cert;
	char *cert = NULL, *key = NULL, *ca = NULL;
	size_t cert_len, key_len = 0, ca_len;
	tly_err rv;
	int nrv;

	if ((rv = read_pem(&cert, &cert_len, files->cert, "certificate", why, why_len)) != TLY_OK ||
	    (rv = read_pem(&key, &key_len, key_path, "private key", why, why_len)) != TLY_OK ||
	    (rv = read_pem(&ca, &ca_len, files->ca, "CA certificate", why, why_len)) != TLY_OK)
		goto out;
	rv = TLY_EIO;
	if ((nrv = nng_tls_config_ca_chain(cfg, ca, NULL)) != 0) {
		tly_say(why, why_len, "CA certificate %s: %s", files->ca, nng_strerror(nrv));
		goto out;
	}
	if ((nrv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		tly_say(why, why_len, "certificate %s with key %s: %s", files->cert, key_path,
		        nng_strerror(nrv));
		goto out;
	}
	rv = TLY_OK;
out:
	if (key != NULL) {
		TLY_WIPE(key, key_len);
		free(key);
	}
	free(cert);
	free(ca);
	return rv;
}

tly_err
tly_tls_config(nng_tls_config **out, nng_tls_mode mode, const struct tly_tls_files *files,
               const char *server_name, char *why, size_t why_len)
{
	nng_tls_config *cfg = NULL;
	tly_err rv;
	int nrv;

	TLY_REQUIRE(files != NULL && files->cert != NULL && files->ca != NULL);
	if ((nrv = nng_tls_config_alloc(&cfg, mode)) != 0)
		return tly_nng_err(nrv, "TLS configuration", why, why_len);
	if ((rv = tls_load(cfg, files, why, why_len)) != TLY_OK)
		goto out;
	if ((nrv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
	    (server_name != NULL && (nrv = nng_tls_config_server_name(cfg, server_name)) != 0)) {
		rv = tly_nng_err(nrv, "TLS configuration", why, why_len);
		goto out;
	}
	*out = cfg;
	cfg = NULL;
out:
	if (cfg != NULL)
		nng_tls_config_free(cfg);
	return rv;
}

/* ep's TLS configuration: a server's, or a client's that checks
 * tls->server_name or else url's host. */
static tly_err
endpoint_tls(struct tly_endpoint *ep, const char *url, const struct tly_tls_files *tls, int listen,
             char *why, size_t why_len)
{
	nng_url *parsed;
	tly_err rv;

	if ((rv = tly_url_parse(&parsed, url, 0, tls != NULL, why, why_len)) != TLY_OK)
		return rv;
	if (tls != NULL && listen)
		rv = tly_tls_config(&ep->tls, NNG_TLS_MODE_SERVER, tls, NULL, why, why_len);
	else if (tls != NULL)
		rv = tly_tls_config(
		    &ep->tls, NNG_TLS_MODE_CLIENT, tls,
		    tls->server_name != NULL ? tls->server_name : parsed->u_hostname, why, why_len);
	nng_url_free(parsed);
	return rv;
}

tly_err
tly_endpoint_open(struct tly_endpoint *ep, const char *url, const struct tly_tls_files *tls,
                  int listen, char *why, size_t why_len)
{
	tly_err rv = endpoint_tls(ep, url, tls, listen, why, why_len);
	int nrv;

	if (rv != TLY_OK)
		return rv;
	nrv = listen ? nng_stream_listener_alloc(&ep->listener, url)
	             : nng_stream_dialer_alloc(&ep->dialer, url);
	if (nrv != 0)
		return tly_nng_err(nrv, url, why, why_len);
	if (tls == NULL)
		return TLY_OK;
	nrv = listen ? nng_stream_listener_set_ptr(ep->listener, NNG_OPT_TLS_CONFIG, ep->tls)
	             : nng_stream_dialer_set_ptr(ep->dialer, NNG_OPT_TLS_CONFIG, ep->tls);
	return nrv != 0 ? tly_nng_err(nrv, "TLS configuration", why, why_len) : TLY_OK;
}
