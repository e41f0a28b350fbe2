/*
 * tally-coordinator - the coordinator daemon (coordinator/server.h).
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "coordinator/server.h"
#include "crypto/rng.h"
#include "net/process.h"

static const char usage[] =
    "usage: tally-coordinator --config FILE\n"
    "\n"
    "Run the coordinator: accept planners' queries on the HTTPS API, run the\n"
    "rounds with the trust nodes that dial in over mutual TLS, release noisy\n"
    "totals with their 95% intervals, and append every outcome with the nodes'\n"
    "signed receipts to the transparency log. One line per event on stderr;\n"
    "SIGTERM or SIGINT stops it cleanly.\n";

/* `--config FILE` or `--help`: the config file, or NULL after printing
 * the help (*rc 0), naming a bad option or printing the usage (*rc 2). */
static const char *
options_of(int argc, char **argv, int *rc)
{
	static const struct option options[] = {{"config", required_argument, NULL, 'c'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *config = NULL;
	int c;

	*rc = 2;
	opterr = 0; /* tly_process_bad_option says what was wrong, once */
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			*rc = 0;
			return NULL;
		}
		if (c != 'c') {
			*rc = tly_process_bad_option("tally-coordinator", options, argc, argv);
			return NULL;
		}
		config = optarg;
	}
	if (config == NULL || optind != argc) {
		fputs(usage, stderr);
		return NULL;
	}
	return config;
}

int
main(int argc, char **argv)
{
	int rc;
	const char *config = options_of(argc, argv, &rc);

	if (config == NULL)
		return rc;
	/* Shares and messages are tens of kilobytes to megabytes, allocated and
	 * freed per query: keep them on the heap rather than mmap and unmap
	 * them each time (bench_protocol measured 2x on the committee round). */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	if (tly_crypto_init() != TLY_OK) {
		fprintf(stderr, "tally-coordinator: cannot initialise libsodium/OpenSSL\n");
		return 1;
	}
	return tly_coordinator_run(config);
}
