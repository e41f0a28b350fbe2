/* The planner API's query strings and rate limit: see api.h. */
#include "api.h"

#include <stdio.h>
#include <string.h>

tly_err
tly_api_split(const char *uri, char *path, size_t path_len, const char **query)
{
	const char *mark = strchr(uri, '?');
	size_t n = mark != NULL ? (size_t)(mark - uri) : strlen(uri);

	TLY_REQUIRE(uri != NULL && path != NULL && query != NULL);
	if (n >= path_len)
		return TLY_EINVAL;
	memcpy(path, uri, n);
	path[n] = '\0';
	*query = mark != NULL ? mark + 1 : uri + n;
	return TLY_OK;
}

static const struct {
	const char *name;
	unsigned bit;
	uint64_t min, max;
} params[] = {
    {"since", TLY_API_SINCE, 0, INT64_MAX},
    {"limit", TLY_API_LIMIT, 1, TLY_API_LIMIT_MAX},
    {"async", TLY_API_ASYNC, 0, 1},
};

static tly_err
fail(struct tly_field_error *err, const char *field, const char *reason)
{
	return tly_field_fail(err, 0, field, "%s", reason);
}

int
tly_api_digits(const char *text, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(text[i] - '0');
	}
	if (v > max)
		return 0;
	*out = v;
	return 1;
}

static void
store(struct tly_api_params *out, unsigned bit, uint64_t v)
{
	if (bit == TLY_API_SINCE)
		out->since = v;
	else if (bit == TLY_API_LIMIT)
		out->limit = (uint32_t)v;
	else
		out->async = (int)v;
	out->given |= bit;
}

/* One name=value pair of len bytes. */
static tly_err
one_pair(const char *pair, size_t len, unsigned allowed, struct tly_api_params *out,
         struct tly_field_error *err)
{
	const char *eq = memchr(pair, '=', len);
	size_t name_len = eq != NULL ? (size_t)(eq - pair) : len;
	char reason[160];
	uint64_t v;

	for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
		if (strlen(params[i].name) != name_len ||
		    memcmp(pair, params[i].name, name_len) != 0)
			continue;
		if (!(allowed & params[i].bit))
			return fail(err, params[i].name, "not a parameter of this path");
		if (out->given & params[i].bit)
			return fail(err, params[i].name, "given twice");
		snprintf(reason, sizeof reason, "must be a decimal integer from %llu to %llu",
		         (unsigned long long)params[i].min, (unsigned long long)params[i].max);
		if (eq == NULL || !tly_api_digits(eq + 1, len - name_len - 1, UINT64_MAX, &v) ||
		    v < params[i].min || v > params[i].max)
			return fail(err, params[i].name, reason);
		store(out, params[i].bit, v);
		return TLY_OK;
	}
	return fail(err, "query", "an unknown parameter (this API takes since, limit and async)");
}

tly_err
tly_api_params_parse(const char *query, unsigned allowed, struct tly_api_params *out,
                     struct tly_field_error *err)
{
	size_t len;

	TLY_REQUIRE(query != NULL && out != NULL && err != NULL);
	memset(err, 0, sizeof *err);
	*out = (struct tly_api_params){.limit = TLY_API_LIMIT_DEFAULT};
	len = strlen(query);
	if (len > TLY_API_QUERY_MAX)
		return fail(err, "query", "the query string is over 200 bytes");
	while (len > 0) {
		const char *amp = memchr(query, '&', len);
		size_t n = amp != NULL ? (size_t)(amp - query) : len;
		if (n == 0)
			return fail(err, "query", "an empty parameter (\"&&\" or a leading \"&\")");
		tly_err rv = one_pair(query, n, allowed, out, err);
		if (rv != TLY_OK)
			return rv;
		query += n;
		len -= n;
		if (len > 0) { /* the '&' */
			query++;
			len--;
		}
	}
	return TLY_OK;
}

int
tly_bucket_take(struct tly_bucket *b, uint32_t rate, uint32_t burst, uint64_t now_ms,
                uint32_t *retry_after_s)
{
	uint64_t cap = (uint64_t)(burst > 0 ? burst : 1) * TLY_BUCKET_UNIT;

	TLY_REQUIRE(b != NULL && retry_after_s != NULL);
	*retry_after_s = 0;
	if (rate == 0)
		return 1;
	if (!b->started) {
		b->started = 1;
		b->level = cap;
		b->last_ms = now_ms;
	}
	if (now_ms > b->last_ms) {
		uint64_t elapsed = now_ms - b->last_ms;
		/* Past cap / rate ms the bucket is full anyway: no overflow. */
		b->level = elapsed >= cap / rate + 1 ? cap : b->level + elapsed * rate;
		if (b->level > cap)
			b->level = cap;
		b->last_ms = now_ms;
	}
	if (b->level >= TLY_BUCKET_UNIT) {
		b->level -= TLY_BUCKET_UNIT;
		return 1;
	}
	uint64_t missing_ms = (TLY_BUCKET_UNIT - b->level + rate - 1) / rate;
	uint64_t s = (missing_ms + 999) / 1000;
	*retry_after_s = (uint32_t)(s > 0 ? s : 1);
	return 0;
}
