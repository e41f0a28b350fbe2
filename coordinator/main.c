/*
 * tally-coordinator - the coordinator daemon (coordinator/server.h).
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "coordinator/server.h"
#include "crypto/rng.h"

static const char usage[] =
    "usage: tally-coordinator --config FILE\n"
    "\n"
    "Run the coordinator: accept planners' queries on the HTTPS API, run the\n"
    "rounds with the trust nodes that dial in over mutual TLS, release noisy\n"
    "totals with their 95% intervals, and append every outcome with the nodes'\n"
    "signed receipts to the transparency log. One line per event on stderr;\n"
    "SIGTERM or SIGINT stops it cleanly.\n";

int
main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--config") != 0) {
		fputs(usage, stderr);
		return 2;
	}
	/* Shares and messages are tens of kilobytes to megabytes, allocated and
	 * freed per query: keep them on the heap rather than mmap and unmap
	 * them each time (bench_protocol measured 2x on the committee round). */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	if (tly_crypto_init() != TLY_OK) {
		fprintf(stderr, "tally-coordinator: cannot initialise libsodium/OpenSSL\n");
		return 1;
	}
	return tly_coordinator_run(argv[2]);
}
