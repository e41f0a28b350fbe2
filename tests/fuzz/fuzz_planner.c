/*
 * Fuzz what a planner or an operator hands the coordinator about who asks:
 * the Tally-Signature header value (query/planner.h) and the planners
 * file (coordinator/planners.h), and the whole request check over both.
 * The first input byte picks one. None may crash or leak; a header that
 * parses must be the one spelling of what it parsed to (canonical), and
 * every refusal must say why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/planners.h"
#include "store/keys.h"
#include "query/planner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parsed header printed back must give the bytes it came from. */
static void
header(const char *text, size_t len)
{
	struct tly_planner_auth auth;
	char nonce[2 * TLY_PLANNER_NONCE_BYTES + 1], sig[2 * TLY_SIGN_BYTES + 1];
	char back[TLY_PLANNER_HEADER_MAX + 1];
	static const uint8_t pk[TLY_SIGN_PUBLIC_BYTES] = {1};

	if (tly_planner_auth_parse(&auth, text, len) != TLY_OK)
		return;
	tly_hex(nonce, auth.nonce, sizeof auth.nonce);
	tly_hex(sig, auth.sig, sizeof auth.sig);
	int n = snprintf(back, sizeof back, "planner=%s, time=%llu, nonce=%s, sig=%s", auth.name,
	                 (unsigned long long)auth.time, nonce, sig);
	if (n < 0 || (size_t)n != len || memcmp(back, text, len) != 0)
		abort();
	if (tly_planner_auth_verify(&auth, pk, "POST", "/v1/queries", (const uint8_t *)text, len) ==
	    TLY_OK)
		abort(); /* a random signature under a fixed key */
}

static void
planners_file(const char *text)
{
	struct tly_planners planners;
	char why[300] = "";

	if (tly_planners_parse(&planners, text, "fuzz.ini", why, sizeof why) == TLY_OK)
		tly_planners_fini(&planners);
	else if (why[0] == '\0')
		abort();
}

/* The whole check: a planners file of one planner, then the input as the
 * header, twice (the second is a replay if the first passed). */
static void
check(const char *text)
{
	static const char file[] =
	    "[planner fuzz]\nsign_pk = "
	    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\n";
	struct tly_planners planners;
	char why[300], name[TLY_PLANNER_NAME_MAX + 1];

	if (tly_planners_parse(&planners, file, "fuzz.ini", why, sizeof why) != TLY_OK)
		abort();
	for (int i = 0; i < 2; i++) {
		why[0] = '\0';
		if (tly_planners_check(&planners, text, "POST", "/v1/queries", NULL, 0, 1800000000u,
		                       name, why, sizeof why) != TLY_OK &&
		    why[0] == '\0')
			abort();
	}
	tly_planners_fini(&planners);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	char *text = malloc(size);
	if (text == NULL)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		header((const char *)data + 1, size - 1);
		break;
	case 1:
		planners_file(text);
		break;
	default:
		check(text);
		break;
	}
	free(text);
	return 0;
}
