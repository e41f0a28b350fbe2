/*
 * tally - the planner's and auditor's command.
 *
 * Exit codes (DESIGN.md section 7.1): 0 success; 2 invalid usage or query;
 * 3 refused by policy or budget; 4 too few contributors or deadline missed;
 * 5 connection or authentication failure.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/audit.h"
#include "cli/pki.h"
#include "cli/demo.h"
#include "cli/query.h"
#include "cli/synth.h"
#include "crypto/rng.h"
#include "net/process.h"

enum { EXIT_USAGE = 2 };

static const char usage_main[] =
    "usage: tally COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  audit     verify the log and node ledgers; explain a release; audit the noise (dp)\n"
    "  demo      run a federation of synthetic trusts on this machine\n"
    "  pki       certificate authority and TLS certificates (init, issue)\n"
    "  query     ask the federation a question (the planner's command)\n"
    "  synth     write seeded synthetic trusts (SQLite or PostgreSQL, configs)\n"
    "\n"
    "Run `tally COMMAND --help` for a command's options.\n";

static const char usage_synth[] =
    "usage: tally synth --sites N --people M --seed S --out DIR [--coordinator URL]\n"
    "                   [--postgres CONNINFO] [--quiet]\n"
    "\n"
    "Write N synthetic trusts with M people in all (sites differ in size) under DIR:\n"
    "site-K/patients.db, site-K/node.conf, catalogue.json, queries/*.json and\n"
    "truth.json (the demo queries' exact answers, for tests and the demo only).\n"
    "The same N, M and S always give the same data.\n"
    "\n"
    "  --sites N          number of trusts, 1..1000 (default 5)\n"
    "  --people M         people across all trusts (default 100000)\n"
    "  --seed S           generator seed (default 1)\n"
    "  --out DIR          output folder (required; must not hold site-1 yet)\n"
    "  --coordinator URL  written into node configs (default tls+tcp://127.0.0.1:7400)\n"
    "  --postgres CONNINFO\n"
    "                     write each site's rows into PostgreSQL instead of\n"
    "                     site-K/patients.db: table siteK_patients (the same rows\n"
    "                     for the same N, M and S; integer columns bigint,\n"
    "                     categorical ones text; primary key person_id), all\n"
    "                     sites in one transaction, existing tables refused.\n"
    "                     CONNINFO is a libpq connection string or postgresql://\n"
    "                     URI; node.conf names source = postgresql, conninfo and\n"
    "                     table (mode 0600 if CONNINFO holds a password, which\n"
    "                     messages never show)\n"
    "  --quiet            no progress lines\n";

/* Parse a decimal u64 option or exit with a usage error naming it. */
static uint64_t
number(const char *option, const char *text, uint64_t max)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || text[0] == '\0' || text[0] == '-' || v > max) {
		fprintf(stderr, "tally: %s: \"%s\" is not a number from 0 to %llu\n", option, text,
		        (unsigned long long)max);
		exit(EXIT_USAGE);
	}
	return v;
}

static int
cmd_synth(int argc, char **argv)
{
	static const struct option options[] = {{"sites", required_argument, NULL, 'n'},
	                                        {"people", required_argument, NULL, 'm'},
	                                        {"seed", required_argument, NULL, 's'},
	                                        {"out", required_argument, NULL, 'o'},
	                                        {"coordinator", required_argument, NULL, 'c'},
	                                        {"quiet", no_argument, NULL, 'q'},
	                                        {"postgres", required_argument, NULL, 'p'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	struct tly_synth_options opt = {.sites = 5, .people = 100000, .seed = 1};
	char why[512];
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'n':
			opt.sites = (unsigned)number("--sites", optarg, 1000);
			break;
		case 'm':
			opt.people = number("--people", optarg, UINT64_C(100000000));
			break;
		case 's':
			opt.seed = number("--seed", optarg, UINT64_MAX);
			break;
		case 'o':
			opt.out_dir = optarg;
			break;
		case 'c':
			opt.coordinator = optarg;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'p':
			opt.postgres = optarg;
			break;
		case 'h':
			fputs(usage_synth, stdout);
			return 0;
		default:
			return tly_process_bad_option("tally synth", options, argc, argv);
		}
	}
	if (opt.out_dir == NULL || optind != argc) {
		fprintf(stderr, "tally synth: %s\n%s",
		        opt.out_dir == NULL ? "--out DIR is required" : "unexpected argument",
		        usage_synth);
		return EXIT_USAGE;
	}
	tly_err rv = tly_synth(&opt, why, sizeof why);
	if (rv != TLY_OK) {
		fprintf(stderr, "tally synth: %s\n", why);
		return rv == TLY_EINVAL ? EXIT_USAGE : 1;
	}
	if (!opt.quiet)
		fprintf(stderr, "synth: wrote %u sites, %llu people, to %s\n", opt.sites,
		        (unsigned long long)opt.people, opt.out_dir);
	return 0;
}

static const struct tly_command commands[] = {
    {"audit", tly_audit_command}, {"demo", tly_demo_main}, {"pki", tly_pki_command},
    {"query", tly_query_main},    {"synth", cmd_synth},
};

/* tally's own options, before any command: only --help. */
static int
main_options(int argc, char **argv)
{
	static const struct option options[] = {{"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};

	if (getopt_long(argc, argv, "h", options, NULL) == 'h') {
		fputs(usage_main, stdout);
		return 0;
	}
	return tly_process_bad_option("tally", options, argc, argv);
}

int
main(int argc, char **argv)
{
	opterr = 0; /* tly_process_bad_option says what was wrong, once */
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (argv[1][0] == '-')
		return main_options(argc, argv);
	if (tly_crypto_init() != TLY_OK) {
		fprintf(stderr, "tally: cannot initialise libsodium/OpenSSL\n");
		return 1;
	}
	return tly_process_command("tally", commands, sizeof commands / sizeof commands[0],
	                           usage_main, argc, argv);
}
