/* A planner's request signature: see planner.h for the format. */
#include "query/planner.h"

#include <stdio.h>
#include <string.h>

#include "wire/buf.h"
#include "wire/codec.h"
#include "wire/hex.h"

static const char request_domain[] = "tally/request/v1";

int
tly_planner_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > TLY_PLANNER_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
	       len;
}

/* The signed bytes (planner.h) into b; TLY_EINVAL past a cap. */
static tly_err
signed_bytes(struct tly_buf *b, const char *name, const char *method, const char *path,
             uint64_t time, const uint8_t nonce[static TLY_PLANNER_NONCE_BYTES],
             const uint8_t *body, size_t body_len)
{
	size_t name_len = strlen(name), method_len = strlen(method), path_len = strlen(path);
	uint8_t body_hash[TLY_HASH_BYTES];

	if (name_len > TLY_PLANNER_NAME_MAX || method_len > TLY_PLANNER_METHOD_MAX ||
	    path_len > TLY_PLANNER_PATH_MAX)
		return TLY_EINVAL;
	tly_hash(body_hash, "tally/request-body/v1", body, body_len);
	tly_buf_put_bytes(b, request_domain, sizeof request_domain - 1);
	tly_buf_put_u8(b, (uint8_t)name_len);
	tly_buf_put_bytes(b, name, name_len);
	tly_buf_put_u8(b, (uint8_t)method_len);
	tly_buf_put_bytes(b, method, method_len);
	tly_buf_put_u16(b, (uint16_t)path_len);
	tly_buf_put_bytes(b, path, path_len);
	tly_buf_put_u64(b, time);
	tly_buf_put_bytes(b, nonce, TLY_PLANNER_NONCE_BYTES);
	tly_buf_put_bytes(b, body_hash, sizeof body_hash);
	return b->error;
}

tly_err
tly_planner_sign(char out[static TLY_PLANNER_HEADER_MAX], const char *name,
                 const struct tly_sign_key *key, const char *method, const char *path,
                 const uint8_t *body, size_t body_len, uint64_t time,
                 const uint8_t nonce[static TLY_PLANNER_NONCE_BYTES])
{
	char nonce_hex[2 * TLY_PLANNER_NONCE_BYTES + 1], sig_hex[2 * TLY_SIGN_BYTES + 1];
	uint8_t sig[TLY_SIGN_BYTES];
	struct tly_buf b;
	tly_err rv;

	TLY_REQUIRE(name != NULL && key != NULL && method != NULL && path != NULL);
	TLY_REQUIRE(body != NULL || body_len == 0);
	if (!tly_planner_name_valid(name))
		return TLY_EINVAL;
	tly_buf_init(&b);
	if ((rv = signed_bytes(&b, name, method, path, time, nonce, body, body_len)) == TLY_OK)
		rv = tly_sign(sig, key, b.data, b.len);
	tly_buf_fini(&b);
	if (rv != TLY_OK)
		return rv;
	tly_hex(nonce_hex, nonce, TLY_PLANNER_NONCE_BYTES);
	tly_hex(sig_hex, sig, TLY_SIGN_BYTES);
	snprintf(out, TLY_PLANNER_HEADER_MAX, "planner=%s, time=%llu, nonce=%s, sig=%s", name,
	         (unsigned long long)time, nonce_hex, sig_hex);
	return TLY_OK;
}

/* Take `literal` from the front of *text; nonzero when it was there. */
static int
take(const char **text, const char *end, const char *literal)
{
	size_t n = strlen(literal);

	if ((size_t)(end - *text) < n || memcmp(*text, literal, n) != 0)
		return 0;
	*text += n;
	return 1;
}

/* Lowercase hex only: one spelling per value. */
static int
take_hex(const char **text, const char *end, uint8_t *out, size_t len)
{
	if ((size_t)(end - *text) < 2 * len)
		return 0;
	for (size_t i = 0; i < 2 * len; i++) {
		char c = (*text)[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	if (tly_unhex(out, len, *text, 2 * len) != TLY_OK)
		return 0;
	*text += 2 * len;
	return 1;
}

static int
take_name(const char **text, const char *end, char out[static TLY_PLANNER_NAME_MAX + 1])
{
	const char *comma = memchr(*text, ',', (size_t)(end - *text));
	size_t len = comma != NULL ? (size_t)(comma - *text) : 0;

	if (len == 0 || len > TLY_PLANNER_NAME_MAX || memchr(*text, '\0', len) != NULL)
		return 0;
	memcpy(out, *text, len);
	out[len] = '\0';
	*text += len;
	return tly_planner_name_valid(out);
}

/* Decimal u64, no sign, no leading zero (but "0"), no overflow. */
static int
take_time(const char **text, const char *end, uint64_t *out)
{
	const char *p = *text;
	uint64_t v = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		unsigned digit = (unsigned)(*p - '0');
		if (p > *text && **text == '0')
			return 0;
		if (v > (UINT64_MAX - digit) / 10)
			return 0;
		v = v * 10 + digit;
		p++;
	}
	if (p == *text)
		return 0;
	*text = p;
	*out = v;
	return 1;
}

tly_err
tly_planner_auth_parse(struct tly_planner_auth *out, const char *text, size_t len)
{
	struct tly_planner_auth auth;
	const char *end = text + len;

	TLY_REQUIRE(out != NULL && (text != NULL || len == 0));
	if (len == 0 || len >= TLY_PLANNER_HEADER_MAX)
		return TLY_EFORMAT;
	if (!take(&text, end, "planner=") || !take_name(&text, end, auth.name) ||
	    !take(&text, end, ", time=") || !take_time(&text, end, &auth.time) ||
	    !take(&text, end, ", nonce=") ||
	    !take_hex(&text, end, auth.nonce, TLY_PLANNER_NONCE_BYTES) ||
	    !take(&text, end, ", sig=") || !take_hex(&text, end, auth.sig, TLY_SIGN_BYTES) ||
	    text != end)
		return TLY_EFORMAT;
	*out = auth;
	return TLY_OK;
}

tly_err
tly_planner_auth_verify(const struct tly_planner_auth *auth,
                        const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES], const char *method,
                        const char *path, const uint8_t *body, size_t body_len)
{
	struct tly_buf b;
	tly_err rv;

	TLY_REQUIRE(auth != NULL && method != NULL && path != NULL);
	TLY_REQUIRE(body != NULL || body_len == 0);
	tly_buf_init(&b);
	rv = signed_bytes(&b, auth->name, method, path, auth->time, auth->nonce, body, body_len);
	if (rv == TLY_OK)
		rv = tly_sign_verify(auth->sig, b.data, b.len, pk);
	tly_buf_fini(&b);
	return rv;
}
