/*
 * test_api.c - the planner API's query strings and per-planner token
 * bucket (coordinator/api.h), alone; the daemon's answers are in
 * tests/test_api_daemon.c. The bucket's clock is the test's: no sleeping.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "coordinator/api.h"

static const unsigned ALL = TLY_API_SINCE | TLY_API_LIMIT | TLY_API_ASYNC;

static void
refused(const char *query, unsigned allowed, const char *field)
{
	struct tly_api_params p;
	struct tly_field_error err;

	cr_assert_eq(tly_api_params_parse(query, allowed, &p, &err), TLY_EINVAL, "%s", query);
	cr_assert_str_eq(err.field, field, "%s: %s (%s)", query, err.field, err.reason);
	cr_assert_neq(err.reason[0], '\0');
}

Test(api, split)
{
	char path[16];
	const char *q;

	cr_assert_eq(tly_api_split("/v1/releases?since=3&limit=2", path, sizeof path, &q), TLY_OK);
	cr_assert_str_eq(path, "/v1/releases");
	cr_assert_str_eq(q, "since=3&limit=2");
	cr_assert_eq(tly_api_split("/v1/status", path, sizeof path, &q), TLY_OK);
	cr_assert_str_eq(path, "/v1/status");
	cr_assert_str_eq(q, "");
	cr_assert_eq(tly_api_split("/v1/status?", path, sizeof path, &q), TLY_OK);
	cr_assert_str_eq(q, "");
	cr_assert_eq(tly_api_split("/v1/a-very-long-path", path, sizeof path, &q), TLY_EINVAL);
}

Test(api, params_defaults_and_values)
{
	struct tly_api_params p;
	struct tly_field_error err;

	cr_assert_eq(tly_api_params_parse("", ALL, &p, &err), TLY_OK);
	cr_assert_eq(p.given, 0);
	cr_assert_eq(p.since, 0);
	cr_assert_eq(p.limit, TLY_API_LIMIT_DEFAULT);
	cr_assert_eq(p.async, 0);
	cr_assert_eq(
	    tly_api_params_parse("limit=1000&since=9223372036854775807&async=1&", ALL, &p, &err),
	    TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(p.limit, 1000);
	cr_assert_eq(p.since, 9223372036854775807ull);
	cr_assert_eq(p.async, 1);
	cr_assert_eq(p.given, ALL);
	cr_assert_eq(tly_api_params_parse("limit=1", TLY_API_LIMIT, &p, &err), TLY_OK);
	cr_assert_eq(p.limit, 1);
}

Test(api, params_refused_naming_the_parameter)
{
	refused("since=abc", ALL, "since");
	refused("since=", ALL, "since");
	refused("since", ALL, "since");
	refused("since=-1", ALL, "since");
	refused("since=+1", ALL, "since");
	refused("since=9223372036854775808", ALL, "since");
	refused("since=99999999999999999999", ALL, "since");
	refused("limit=-1", ALL, "limit");
	refused("limit=0", ALL, "limit");
	refused("limit=1001", ALL, "limit");
	refused("limit=1000000000", ALL, "limit");
	refused("limit=1%30", ALL, "limit");
	refused("async=2", ALL, "async");
	refused("limit=5&limit=5", ALL, "limit");
	refused("async=1", TLY_API_SINCE | TLY_API_LIMIT, "async");
	refused("since=1", TLY_API_ASYNC, "since");
	refused("foo=1", ALL, "query");
	refused("sinc=1", ALL, "query");
	refused("&since=1", ALL, "query");
	refused("since=1&&limit=2", ALL, "query");
	char big[TLY_API_QUERY_MAX + 10];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	refused(big, ALL, "query");
}

Test(api, bucket_burst_then_rate)
{
	struct tly_bucket b = {0};
	uint32_t retry;

	/* 60 a minute (one a second), bursts of 3. */
	for (int i = 0; i < 3; i++)
		cr_assert(tly_bucket_take(&b, 60, 3, 1000, &retry), "burst %d", i);
	cr_assert_not(tly_bucket_take(&b, 60, 3, 1000, &retry));
	cr_assert_eq(retry, 1);
	cr_assert_not(tly_bucket_take(&b, 60, 3, 1999, &retry));
	cr_assert_eq(retry, 1);
	cr_assert(tly_bucket_take(&b, 60, 3, 2000, &retry), "one more after a second");
	cr_assert_not(tly_bucket_take(&b, 60, 3, 2000, &retry));
	/* A long pause refills to the burst, not beyond. */
	for (int i = 0; i < 3; i++)
		cr_assert(tly_bucket_take(&b, 60, 3, 1000000000000ull, &retry));
	cr_assert_not(tly_bucket_take(&b, 60, 3, 1000000000000ull, &retry));
	/* A clock that goes back refills nothing. */
	cr_assert_not(tly_bucket_take(&b, 60, 3, 5, &retry));
}

Test(api, bucket_retry_after_rounds_up)
{
	struct tly_bucket b = {0};
	uint32_t retry;

	/* 2 a minute: 30 s per query. */
	cr_assert(tly_bucket_take(&b, 2, 1, 0, &retry));
	cr_assert_not(tly_bucket_take(&b, 2, 1, 0, &retry));
	cr_assert_eq(retry, 30);
	cr_assert_not(tly_bucket_take(&b, 2, 1, 29001, &retry));
	cr_assert_eq(retry, 1);
	cr_assert(tly_bucket_take(&b, 2, 1, 30000, &retry));
	/* rate 0: no limit. */
	struct tly_bucket free_bucket = {0};
	for (int i = 0; i < 1000; i++)
		cr_assert(tly_bucket_take(&free_bucket, 0, 1, 0, &retry));
	/* The largest rate and burst do not overflow. */
	struct tly_bucket big = {0};
	cr_assert(tly_bucket_take(&big, UINT32_MAX, UINT32_MAX, 0, &retry));
	cr_assert(tly_bucket_take(&big, UINT32_MAX, UINT32_MAX, UINT64_MAX, &retry));
}
