/*
 * pki_command.c - `tally pki init/issue`: options in, cli/pki.c's API out.
 */
#include "pki.h"

#include "net/process.h"
#include "store/keys.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_USAGE = 2, WHY_BYTES = 4300 };

static const char usage_pki[] =
    "usage: tally pki init --dir DIR [--days N] [--name CA_NAME]\n"
    "       tally pki issue --dir DIR --name NAME --role coordinator|node|planner\n"
    "                       [--host H ...] [--out OUTDIR] [--days N]\n"
    "\n"
    "The federation's certificate authorities (ECDSA P-256), one per role, and the\n"
    "TLS certificates they sign for the coordinator, the nodes and planners.\n"
    "Run `tally pki init --help` or `tally pki issue --help` for details.\n";

static const char usage_init[] =
    "usage: tally pki init --dir DIR [--days N] [--name CA_NAME]\n"
    "\n"
    "Create one certificate authority per role: DIR/coordinator-ca, DIR/node-ca and\n"
    "DIR/planner-ca (.key mode 0600, .crt). The coordinator's node listener trusts\n"
    "only node-ca, its API only planner-ca; nodes and planners trust only\n"
    "coordinator-ca. So a certificate works only in its own role. Never overwrites\n"
    "a file.\n"
    "\n"
    "  --dir DIR       where the CA lives (created if missing, mode 0700)\n"
    "  --days N        validity, 1..3653 days (default 825)\n"
    "  --name CA_NAME  the CA's common name (default \"tally federation CA\")\n";

static const char usage_issue[] =
    "usage: tally pki issue --dir DIR --name NAME --role coordinator|node|planner\n"
    "                       [--host H ...] [--out OUTDIR] [--days N]\n"
    "\n"
    "Create OUTDIR/NAME.key (mode 0600) and OUTDIR/NAME.crt signed by the role's CA\n"
    "(DIR/ROLE-ca.key). A coordinator's certificate serves TLS and authenticates as\n"
    "a client; a node's or a planner's only authenticates as a client. A planner\n"
    "also gets OUTDIR/NAME.sign (mode 0600), the Ed25519 key that signs its queries;\n"
    "its public half is printed as a [planner NAME] stanza for the coordinator's\n"
    "planners file. Never overwrites a file.\n"
    "\n"
    "  --dir DIR      the CA's folder (from `tally pki init`)\n"
    "  --name NAME    the certificate's CN and file name: 1 to 64 of A-Z a-z 0-9 . _ -\n"
    "                 (not starting with . or -)\n"
    "  --role ROLE    coordinator, node or planner (the certificate's OU)\n"
    "  --host H       a DNS name or IP address the holder serves (repeatable, up to 32;\n"
    "                 a coordinator defaults to localhost and 127.0.0.1)\n"
    "  --out OUTDIR   where to write (default DIR; created if missing, mode 0700)\n"
    "  --days N       validity, 1..3653 days (default 825, never past the CA's)\n";

/* Parse --days or exit with a usage error naming it. */
static unsigned
parse_days(const char *command, const char *text)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || text[0] < '0' || text[0] > '9' || v == 0 ||
	    v > TLY_PKI_DAYS_MAX) {
		fprintf(stderr, "tally pki %s: --days: \"%s\" is not a number from 1 to %d\n",
		        command, text, TLY_PKI_DAYS_MAX);
		exit(EXIT_USAGE);
	}
	return (unsigned)v;
}

/* A usage error; the whole usage follows when usage is not NULL (a
 * missing option), not after a bad value, whose message says enough. */
static int
usage_error(const char *command, const char *message, const char *usage)
{
	fprintf(stderr, "tally pki %s: %s\n%s", command, message, usage != NULL ? usage : "");
	return EXIT_USAGE;
}

static int
unexpected(const char *command, const char *argument, const char *usage)
{
	fprintf(stderr, "tally pki %s: unexpected argument \"%s\"\n%s", command, argument, usage);
	return EXIT_USAGE;
}

static int
report(const char *command, tly_err rv, const char *why)
{
	if (rv == TLY_OK)
		return 0;
	fprintf(stderr, "tally pki %s: %s\n", command, why);
	return rv == TLY_EINVAL ? EXIT_USAGE : 1;
}

static int
cmd_init(int argc, char **argv)
{
	static const struct option options[] = {{"dir", required_argument, NULL, 'd'},
	                                        {"days", required_argument, NULL, 'n'},
	                                        {"name", required_argument, NULL, 'c'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *dir = NULL, *name = NULL;
	unsigned days = TLY_PKI_DAYS_DEFAULT;
	char why[WHY_BYTES];
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			days = parse_days("init", optarg);
			break;
		case 'c':
			name = optarg;
			break;
		case 'h':
			fputs(usage_init, stdout);
			return 0;
		default:
			return tly_process_bad_option("tally pki init", options, argc, argv);
		}
	}
	if (optind != argc)
		return unexpected("init", argv[optind], usage_init);
	if (dir == NULL)
		return usage_error("init", "--dir DIR is required", usage_init);
	if (name != NULL && !tly_pki_ca_name_valid(name))
		return usage_error("init", "--name: use 1 to 64 printable ASCII characters", NULL);
	tly_err rv = tly_pki_init(dir, days, name, why, sizeof why);
	if (rv == TLY_OK)
		fprintf(stderr,
		        "pki: wrote %s/coordinator-ca, %s/node-ca and %s/planner-ca (.key, .crt)\n",
		        dir, dir, dir);
	return report("init", rv, why);
}

struct issue_args {
	const char *dir, *name, *role, *out;
	const char *hosts[TLY_PKI_HOSTS_MAX];
	size_t host_count;
	unsigned days;
};

/* Checks that name the option; the API checks again. */
static int
check_issue(const struct issue_args *args, enum tly_pki_role *role)
{
	char message[160];

	if (args->dir == NULL || args->name == NULL || args->role == NULL)
		return usage_error("issue",
		                   args->dir == NULL    ? "--dir DIR is required"
		                   : args->name == NULL ? "--name NAME is required"
		                                        : "--role ROLE is required",
		                   usage_issue);
	if (!tly_pki_name_valid(args->name)) {
		snprintf(
		    message, sizeof message,
		    "--name \"%.64s\": use 1 to 64 of A-Z a-z 0-9 . _ -, not starting with . or -",
		    args->name);
		return usage_error("issue", message, NULL);
	}
	if (tly_pki_role_parse(args->role, role) != TLY_OK) {
		snprintf(message, sizeof message,
		         "--role \"%.64s\": use coordinator, node or planner", args->role);
		return usage_error("issue", message, NULL);
	}
	for (size_t i = 0; i < args->host_count; i++) {
		if (!tly_pki_host_valid(args->hosts[i])) {
			snprintf(message, sizeof message,
			         "--host \"%.64s\": not an IP address or DNS name", args->hosts[i]);
			return usage_error("issue", message, NULL);
		}
	}
	return 0;
}

/* The planner's signing key, and its public half as a planners-file
 * stanza on stdout (for the coordinator's operator). */
static tly_err
planner_key(const char *out, const char *name, char *why, size_t why_len)
{
	uint8_t pk[32];
	char hex[65];
	tly_err rv = tly_pki_planner_key(out, name, pk, why, why_len);

	if (rv != TLY_OK)
		return rv;
	tly_hex(hex, pk, sizeof pk);
	printf("[planner %s]\nsign_pk = %s\n", name, hex);
	fprintf(stderr,
	        "pki: wrote %s/%s.sign (the key that signs %s's queries); add the [planner %s] "
	        "stanza above to the coordinator's planners file\n",
	        out, name, name, name);
	return TLY_OK;
}

static int
cmd_issue(int argc, char **argv)
{
	static const struct option options[] = {
	    {"dir", required_argument, NULL, 'd'},  {"name", required_argument, NULL, 'c'},
	    {"role", required_argument, NULL, 'r'}, {"host", required_argument, NULL, 'H'},
	    {"out", required_argument, NULL, 'o'},  {"days", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
	struct issue_args args = {.days = TLY_PKI_DAYS_DEFAULT};
	enum tly_pki_role role;
	char why[WHY_BYTES];
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			args.dir = optarg;
			break;
		case 'c':
			args.name = optarg;
			break;
		case 'r':
			args.role = optarg;
			break;
		case 'H':
			if (args.host_count == TLY_PKI_HOSTS_MAX)
				return usage_error("issue", "--host: at most 32 hosts", NULL);
			args.hosts[args.host_count++] = optarg;
			break;
		case 'o':
			args.out = optarg;
			break;
		case 'n':
			args.days = parse_days("issue", optarg);
			break;
		case 'h':
			fputs(usage_issue, stdout);
			return 0;
		default:
			return tly_process_bad_option("tally pki issue", options, argc, argv);
		}
	}
	if (optind != argc)
		return unexpected("issue", argv[optind], usage_issue);
	int status = check_issue(&args, &role);
	if (status != 0)
		return status;
	tly_err rv = tly_pki_issue(args.dir, args.name, role, args.hosts, args.host_count, args.out,
	                           args.days, why, sizeof why);
	const char *out = args.out != NULL ? args.out : args.dir;
	if (rv == TLY_OK)
		fprintf(stderr, "pki: wrote %s/%s.key and %s/%s.crt (%s)\n", out, args.name, out,
		        args.name, args.role);
	if (rv == TLY_OK && role == TLY_PKI_PLANNER)
		rv = planner_key(out, args.name, why, sizeof why);
	return report("issue", rv, why);
}

int
tly_pki_command(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_pki, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	optind = 1;
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "issue") == 0)
		return cmd_issue(argc - 1, argv + 1);
	static const char *const names[] = {"init", "issue"};
	return tly_process_unknown("tally pki", argv[1], names, 2);
}
