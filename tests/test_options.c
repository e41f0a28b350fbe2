/* "Did you mean" as the programs print it (net/process.c): every binary
 * and a sample of subcommands, run as processes. A bad option or command
 * gets one line on stderr naming it, the nearest correct one when one is
 * near (query/nearest.c) and none otherwise, nothing on stdout, exit 2. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/daemons.h"
#include "tests/demo.h"

static struct dmn_demo demo;

static void
setup(void)
{
	dmn_demo_init(&demo, "options");
}

static void
teardown(void)
{
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf %s", demo.dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", demo.dir);
}

TestSuite(options, .init = setup, .fini = teardown);

/* Run argv; assert exit 2, an empty stdout and exactly the line `want`
 * (with its newline) on stderr. */
static void
refused(const char *const argv[], const char *want)
{
	char out[300], err[300];
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	dmn_demo_path(&demo, err, sizeof err, "err.txt");
	remove(err);
	int rc = dmn_demo_run_split(&demo, out, err, argv);
	char *said = dmn_slurp_or_empty(err, NULL), *printed = dmn_slurp_or_empty(out, NULL);
	char line[600];
	snprintf(line, sizeof line, "%s\n", want);
	cr_expect_eq(rc, 2, "%s %s: exit %d", argv[0], argv[1], rc);
	cr_expect_str_eq(said, line, "%s %s", argv[0], argv[1]);
	cr_expect_str_empty(printed, "%s %s printed: %s", argv[0], argv[1], printed);
	free(said);
	free(printed);
}

Test(options, every_binary_names_the_option_and_the_nearest)
{
	refused((const char *const[]){"tally-coordinator", "--confg", "x", NULL},
	        "tally-coordinator: unrecognised option '--confg'; did you mean '--config'? (see "
	        "'tally-coordinator --help')");
	refused((const char *const[]){"tally-node", "--cnofig", "x", NULL},
	        "tally-node: unrecognised option '--cnofig'; did you mean '--config'? (see "
	        "'tally-node --help')");
	refused((const char *const[]){"tally", "--hepl", NULL},
	        "tally: unrecognised option '--hepl'; did you mean '--help'? (see 'tally --help')");
}

Test(options, subcommands_name_the_option_and_the_nearest)
{
	refused((const char *const[]){"tally", "demo", "--sevre", "--dir", "x", NULL},
	        "tally demo: unrecognised option '--sevre'; did you mean '--serve'? (see 'tally "
	        "demo --help')");
	refused((const char *const[]){"tally", "query", "--epsilno", "1", NULL},
	        "tally query: unrecognised option '--epsilno'; did you mean '--epsilon'? (see "
	        "'tally query --help')");
	refused((const char *const[]){"tally", "synth", "--peopel", "10", NULL},
	        "tally synth: unrecognised option '--peopel'; did you mean '--people'? (see 'tally "
	        "synth --help')");
	refused((const char *const[]){"tally", "pki", "issue", "--rle", "node", NULL},
	        "tally pki issue: unrecognised option '--rle'; did you mean '--role'? (see 'tally "
	        "pki issue --help')");
	refused((const char *const[]){"tally", "audit", "verify", "--strcit", NULL},
	        "tally audit: unrecognised option '--strcit'; did you mean '--strict'? (see 'tally "
	        "audit --help')");
	refused((const char *const[]){"tally-node", "keygen", "--otu", "d", NULL},
	        "tally-node keygen: unrecognised option '--otu'; did you mean '--out'? (see "
	        "'tally-node keygen --help')");
	refused((const char *const[]){"tally-node", "ledger", "verify", "--confgi", "c", NULL},
	        "tally-node ledger verify: unrecognised option '--confgi'; did you mean "
	        "'--config'? (see 'tally-node ledger verify --help')");
}

Test(options, commands_name_the_nearest)
{
	refused((const char *const[]){"tally", "qeury", NULL},
	        "tally: unknown command 'qeury'; did you mean 'query'? (see 'tally --help')");
	refused((const char *const[]){"tally-node", "imprt", NULL},
	        "tally-node: unknown command 'imprt'; did you mean 'import'? (see 'tally-node "
	        "--help')");
	refused(
	    (const char *const[]){"tally", "pki", "isue", NULL},
	    "tally pki: unknown command 'isue'; did you mean 'issue'? (see 'tally pki --help')");
	refused((const char *const[]){"tally", "audit", "verfy", NULL},
	        "tally audit: unknown command 'verfy'; did you mean 'verify'? (see 'tally audit "
	        "--help')");
	refused((const char *const[]){"tally-node", "ledger", "hadnover", NULL},
	        "tally-node ledger: unknown command 'hadnover'; did you mean 'handover'? (see "
	        "'tally-node ledger --help')");
	refused((const char *const[]){"tally-node", "ledger", "shwo", NULL},
	        "tally-node ledger: unknown command 'shwo'; did you mean 'show'? (see 'tally-node "
	        "ledger --help')");
}

Test(options, nothing_near_gets_no_suggestion)
{
	refused((const char *const[]){"tally-coordinator", "--verbose", NULL},
	        "tally-coordinator: unrecognised option '--verbose' (see 'tally-coordinator "
	        "--help')");
	refused((const char *const[]){"tally", "demo", "--frobnicate", NULL},
	        "tally demo: unrecognised option '--frobnicate' (see 'tally demo --help')");
	refused((const char *const[]){"tally", "launch", NULL},
	        "tally: unknown command 'launch' (see 'tally --help')");
}

Test(options, values_and_prefixes)
{
	refused((const char *const[]){"tally-coordinator", "--config", NULL},
	        "tally-coordinator: option '--config' needs a value (see 'tally-coordinator "
	        "--help')");
	refused((const char *const[]){"tally", "demo", "--keep=yes", NULL},
	        "tally demo: option '--keep' takes no value (see 'tally demo --help')");
	refused((const char *const[]){"tally", "demo", "--s", NULL},
	        "tally demo: option '--s' is ambiguous: --sites, --seed, --serve, --stop, --status "
	        "(see 'tally demo --help')");
	refused((const char *const[]){"tally", "demo", "-serve", NULL},
	        "tally demo: unrecognised option '-serve'; did you mean '--serve'? (see 'tally "
	        "demo --help')");
}
