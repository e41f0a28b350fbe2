/*
 * Fuzz the planner API's request URIs (coordinator/api.h): split at '?',
 * then the query string with each set of allowed parameters. None may
 * crash; a refusal names one parameter and says why; what parses is in
 * range, and printing it back and parsing again gives the same values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const char *query, unsigned allowed)
{
	struct tly_api_params p, again;
	struct tly_field_error err;
	char back[128];

	if (tly_api_params_parse(query, allowed, &p, &err) != TLY_OK) {
		if (err.field[0] == '\0' || err.reason[0] == '\0')
			abort();
		return;
	}
	if ((p.given & ~allowed) != 0 || p.limit < 1 || p.limit > TLY_API_LIMIT_MAX ||
	    p.since > INT64_MAX || (p.async != 0 && p.async != 1))
		abort();
	snprintf(back, sizeof back, "since=%llu&limit=%u&async=%d", (unsigned long long)p.since,
	         p.limit, p.async);
	if (tly_api_params_parse(back, TLY_API_SINCE | TLY_API_LIMIT | TLY_API_ASYNC, &again,
	                         &err) != TLY_OK ||
	    again.since != p.since || again.limit != p.limit || again.async != p.async)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char uri[512], path[256];
	const char *query;

	if (size == 0 || size >= sizeof uri)
		return 0;
	unsigned allowed = data[0] & 7u;
	memcpy(uri, data + 1, size - 1);
	uri[size - 1] = '\0';
	if (tly_api_split(uri, path, sizeof path, &query) != TLY_OK)
		return 0;
	if (strchr(path, '?') != NULL || query < uri || query > uri + strlen(uri))
		abort();
	check(query, allowed);
	return 0;
}
