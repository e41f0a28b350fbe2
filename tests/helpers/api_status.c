/*
 * api_status - GET /v1/status from a coordinator's planner API and print
 * the JSON body on stdout; tests/test_netns.c runs it inside the
 * coordinator's network namespace (`ip netns exec`), where the API
 * listens, to see how many nodes the coordinator believes are connected.
 *
 *   api_status URL CERT KEY CA
 *
 * URL is https://HOST:PORT; CERT, KEY and CA are the planner's files.
 * Exits 0 when the API answered 200, 1 otherwise (the reason on stderr).
 */
#include <stdio.h>
#include <stdlib.h>

#include "net/transport.h"

int
main(int argc, char **argv)
{
	char url[512], why[512];
	uint8_t *body = NULL;
	size_t len = 0;
	int status = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: api_status URL CERT KEY CA\n");
		return 2;
	}
	struct tly_tls_files tls = {.cert = argv[2], .key = argv[3], .ca = argv[4]};
	snprintf(url, sizeof url, "%s/v1/status", argv[1]);
	if (tly_https_request(url, "GET", &tls, NULL, 0, 10000, &status, &body, &len, why,
	                      sizeof why) != TLY_OK) {
		fprintf(stderr, "api_status: %s\n", why);
		return 1;
	}
	fwrite(body, 1, len, stdout);
	putchar('\n');
	free(body);
	return status == 200 ? 0 : 1;
}
