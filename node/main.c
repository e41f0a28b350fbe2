/*
 * tally-node - a trust node.
 *
 * Exit codes: 0 success; 2 invalid usage, config or input; 3 refused by
 * policy or budget; 1 any other failure (files, data, crypto).
 */
#include <errno.h>
#include <getopt.h>
#include <gmp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crypto/wipe.h"
#include "node/daemon.h"
#include "node/import.h"
#include "node/pg_load.h"
#include "node/node.h"
#include "node/pg.h"
#include "store/keys.h"
#include "net/process.h"

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_REFUSED = 3 };

static const char usage_main[] =
    "usage: tally-node --config FILE\n"
    "       tally-node COMMAND [OPTIONS]\n"
    "\n"
    "A trust node: keeps the trust's data, its privacy budget and its ledger.\n"
    "With --config it runs as a daemon: it dials the coordinator over mutual TLS,\n"
    "answers queries it allows and serves on committees. One line per event on\n"
    "stderr; SIGTERM or SIGINT stops it cleanly.\n"
    "\n"
    "Commands:\n"
    "  keygen        create this node's signing and key-agreement keys\n"
    "  check         load a config, its keys, registry, ledger and datasets\n"
    "  import        load a CSV extract into SQLite or PostgreSQL, checked\n"
    "  explain       show what a query would run and cost, without answering\n"
    "  answer        answer one signed QUERY message (offline, no network)\n"
    "  ledger        show, verify or hand over (key rotation) the privacy-budget ledger\n"
    "  usage-report  which answered queries a person's row contributed to\n"
    "\n"
    "Run `tally-node COMMAND --help` for a command's options.\n";

static void
out_of_options(const char *usage, int argc)
{
	if (optind != argc) {
		fprintf(stderr, "tally-node: unexpected argument\n%s", usage);
		exit(EXIT_USAGE);
	}
}

/* "tally-node keygen" from "usage: tally-node keygen --out DIR" (its
 * first two words), and "tally-node ledger verify" when the command's
 * word (argv[0]: "verify") is not the usage's second word ("ledger"). */
static void
command_of(const char *usage, const char *word, char *out, size_t len)
{
	const char *start = usage + strlen("usage: ");
	const char *second = strchr(start, ' ') + 1, *end = strpbrk(second, " \n");
	size_t second_len = (size_t)(end - second);

	if (strlen(word) == second_len && strncmp(second, word, second_len) == 0)
		snprintf(out, len, "%.*s", (int)(end - start), start);
	else
		snprintf(out, len, "%.*s %s", (int)(end - start), start, word);
}

/* An option getopt_long refused: one line naming it (net/process.h), exit 2. */
static void
bad_option(const struct option *longs, const char *usage, int argc, char **argv)
{
	char command[96];

	command_of(usage, argv[0], command, sizeof command);
	exit(tly_process_bad_option(command, longs, argc, argv));
}

/* getopt_long over a command's options; `letters` maps to *targets. */
struct opt {
	const char *name;
	const char **target;
	int flag; /* no argument: *target becomes "1" */
};

static void
parse_options(int argc, char **argv, const struct opt *opts, const char *usage)
{
	struct option longs[16];
	size_t n = 0;

	for (; opts[n].name != NULL; n++)
		longs[n] = (struct option){
		    opts[n].name, opts[n].flag ? no_argument : required_argument, NULL, (int)n + 1};
	longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
	longs[n] = (struct option){NULL, 0, NULL, 0};
	int c;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			exit(0);
		}
		if (c < 1 || (size_t)c > n - 1)
			bad_option(longs, usage, argc, argv);
		*opts[c - 1].target = opts[c - 1].flag ? "1" : optarg;
	}
	out_of_options(usage, argc);
}

static void
require(const char *value, const char *option, const char *usage)
{
	if (value == NULL) {
		fprintf(stderr, "tally-node: %s is required\n%s", option, usage);
		exit(EXIT_USAGE);
	}
}

static int
exit_for(tly_err rv)
{
	switch (rv) {
	case TLY_OK:
		return 0;
	case TLY_EBUDGET:
	case TLY_EREPLAY:
	case TLY_EPEER:
		return EXIT_REFUSED;
	case TLY_EINVAL:
	case TLY_EFORMAT:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}

/* ---- keygen ---- */

static const char usage_keygen[] =
    "usage: tally-node keygen --out DIR\n"
    "\n"
    "Create DIR/node.sign (Ed25519 seed) and DIR/node.kx (X25519 secret), mode 0600,\n"
    "never overwriting, and print the public keys for the registry.\n";

static int
cmd_keygen(int argc, char **argv)
{
	const char *dir = NULL;
	struct opt opts[] = {{"out", &dir, 0}, {NULL, NULL, 0}};
	struct tly_identity id;
	char path[4200], why[512], hex[65];
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	struct tly_party pub;

	parse_options(argc, argv, opts, usage_keygen);
	require(dir, "--out DIR", usage_keygen);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "tally-node keygen: %s: %s\n", dir, strerror(errno));
		return EXIT_FAIL;
	}
	if (tly_identity_generate(&id, 1, 1) != TLY_OK) {
		fprintf(stderr, "tally-node keygen: cannot generate keys\n");
		return EXIT_FAIL;
	}
	tly_sign_key_seed(id.sign, seed);
	int rc = 0;
	snprintf(path, sizeof path, "%s/node.sign", dir);
	if (tly_key_file_write(path, seed, sizeof seed, why, sizeof why) != TLY_OK)
		rc = EXIT_FAIL;
	snprintf(path, sizeof path, "%s/node.kx", dir);
	if (rc == 0 &&
	    tly_key_file_write(path, id.kx_sk, TLY_KX_SECRET_BYTES, why, sizeof why) != TLY_OK)
		rc = EXIT_FAIL;
	if (rc == 0) {
		tly_identity_public(&id, &pub);
		tly_hex(hex, pub.sign_pk, sizeof pub.sign_pk);
		printf("sign_pk = %s\n", hex);
		tly_hex(hex, pub.kx_pk, sizeof pub.kx_pk);
		printf("kx_pk = %s\n", hex);
	} else {
		fprintf(stderr, "tally-node keygen: %s\n", why);
	}
	TLY_WIPE_OBJ(seed);
	tly_identity_fini(&id);
	return rc;
}

/* ---- check ---- */

static const char usage_check[] =
    "usage: tally-node check --config FILE\n"
    "\n"
    "Load the config, keys, registry and ledger, open every dataset read-only and\n"
    "check its table (declared columns, opt-out column, one row per person).\n";

static int
cmd_check(int argc, char **argv)
{
	const char *config = NULL;
	struct opt opts[] = {{"config", &config, 0}, {NULL, NULL, 0}};
	struct tly_node node;
	struct tly_store *store;
	char why[600];

	parse_options(argc, argv, opts, usage_check);
	require(config, "--config FILE", usage_check);
	tly_err rv = tly_node_open(&node, config, why, sizeof why);
	if (rv != TLY_OK) {
		fprintf(stderr, "tally-node: %s\n", why);
		return exit_for(rv);
	}
	for (size_t i = 0; i < node.config.dataset_count && rv == TLY_OK; i++) {
		const char *name = node.config.datasets[i].schema.name;
		rv = tly_node_store(&node, name, &store, why, sizeof why);
		if (rv == TLY_OK)
			printf("dataset %s: ok (%zu columns)\n", name,
			       node.config.datasets[i].schema.column_count);
		else
			fprintf(stderr, "tally-node: dataset %s: %s\n", name, why);
	}
	if (rv == TLY_OK)
		printf("node %u: config, keys, registry and ledger ok\n", node.config.id);
	tly_node_close(&node);
	return rv == TLY_OK ? 0 : EXIT_FAIL;
}

/* ---- import ---- */

static const char usage_import[] =
    "usage: tally-node import --config FILE --dataset NAME --csv FILE --out DB\n"
    "       tally-node import --config FILE --dataset NAME --csv FILE --postgres CONNINFO\n"
    "                         [--table T] [--replace]\n"
    "\n"
    "Load a CSV extract (header row; RFC 4180 quoting) into a new SQLite file DB,\n"
    "or into a new PostgreSQL table, checking every row against the dataset's\n"
    "declared schema (declared columns, integers, categorical domains, one row\n"
    "per person, opt-out 0, 1 or empty). Bad rows are reported with their line\n"
    "numbers and nothing is written; DB is never overwritten.\n"
    "\n"
    "  --out DB             the new SQLite file\n"
    "  --postgres CONNINFO  a libpq connection string (\"host=/run/postgresql\n"
    "                       dbname=warehouse user=tally_load\" or a postgresql://\n"
    "                       URI; a password is better kept in ~/.pgpass or\n"
    "                       PGPASSFILE). The table gets typed columns (integer\n"
    "                       columns bigint, categorical text), a primary key on\n"
    "                       the person id, and is loaded by COPY in one\n"
    "                       transaction: all rows or none. Messages never show\n"
    "                       the password.\n"
    "  --table T            the table to create (default: the dataset's table)\n"
    "  --replace            drop an existing table T first, in the same\n"
    "                       transaction (without it an existing table is refused)\n";

/* Load the node's config; on failure say where and why on stderr. */
static int
load_config(struct tly_node_config *cfg, const char *path)
{
	struct tly_field_error err;
	char why[600];

	if (tly_node_config_load(cfg, path, &err) == TLY_OK)
		return 1;
	tly_field_error_format(&err, why, sizeof why);
	fprintf(stderr, "tally-node: %s\n", why);
	return 0;
}

static void
print_import_problems(const struct tly_import_report *report, const char *csv)
{
	if (report->error[0] != '\0')
		fprintf(stderr, "tally-node import: %s\n", report->error);
	for (size_t i = 0; i < report->described; i++)
		fprintf(stderr, "%s:%llu: %s\n", csv, (unsigned long long)report->problems[i].line,
		        report->problems[i].reason);
	if (report->bad_rows > report->described)
		fprintf(stderr, "... and %llu more bad rows\n",
		        (unsigned long long)(report->bad_rows - report->described));
	if (report->bad_rows > 0)
		fprintf(stderr, "tally-node import: %llu of %llu rows refused; nothing written\n",
		        (unsigned long long)report->bad_rows, (unsigned long long)report->rows);
}

struct import_args {
	const char *config, *dataset, *csv, *out, *postgres, *table, *replace;
};

static void
import_args(int argc, char **argv, struct import_args *a)
{
	struct opt opts[] = {{"config", &a->config, 0},     {"dataset", &a->dataset, 0},
	                     {"csv", &a->csv, 0},           {"out", &a->out, 0},
	                     {"postgres", &a->postgres, 0}, {"table", &a->table, 0},
	                     {"replace", &a->replace, 1},   {NULL, NULL, 0}};

	parse_options(argc, argv, opts, usage_import);
	require(a->config, "--config FILE", usage_import);
	require(a->dataset, "--dataset NAME", usage_import);
	require(a->csv, "--csv FILE", usage_import);
	if ((a->out == NULL) == (a->postgres == NULL) ||
	    (a->postgres == NULL && (a->table != NULL || a->replace != NULL))) {
		fprintf(stderr, "tally-node import: %s\n%s",
		        a->out == NULL && a->postgres == NULL
		            ? "--out DB or --postgres CONNINFO is required"
		        : a->postgres == NULL ? "--table and --replace go with --postgres"
		                              : "--out and --postgres: one or the other",
		        usage_import);
		exit(EXIT_USAGE);
	}
}

static int
cmd_import(int argc, char **argv)
{
	struct import_args a = {0};
	struct tly_node_config cfg;
	struct tly_import_report report;
	char where[TLY_CONFIG_PATH_MAX + TLY_PG_CONNINFO_MAX], server[TLY_PG_CONNINFO_MAX];
	tly_err rv;

	import_args(argc, argv, &a);
	if (!load_config(&cfg, a.config))
		return EXIT_USAGE;
	const struct tly_node_dataset *ds = tly_node_config_dataset(&cfg, a.dataset);
	if (ds == NULL) {
		fprintf(stderr, "tally-node: %s declares no dataset \"%s\"\n", a.config, a.dataset);
		tly_node_config_fini(&cfg);
		return EXIT_USAGE;
	}
	if (a.postgres != NULL) {
		rv = tly_import_csv_postgres(ds, a.csv, a.postgres, a.table, a.replace != NULL,
		                             &report);
		tly_pg_conninfo_display(a.postgres, server, sizeof server);
		tly_pg_scrub(server, a.postgres);
		snprintf(where, sizeof where, "table %s at PostgreSQL (%s)",
		         a.table != NULL ? a.table : ds->table, server);
	} else {
		rv = tly_import_csv(ds, a.csv, a.out, &report);
		snprintf(where, sizeof where, "%s", a.out);
	}
	if (rv == TLY_OK)
		printf("imported %llu rows into %s\n", (unsigned long long)report.rows, where);
	else
		print_import_problems(&report, a.csv);
	tly_node_config_fini(&cfg);
	return rv == TLY_OK ? 0 : rv == TLY_EINVAL ? EXIT_USAGE : EXIT_FAIL;
}

/* ---- explain ---- */

static const char usage_explain[] =
    "usage: tally-node explain --config FILE --spec QUERY.json\n"
    "\n"
    "Parse a query against this node's catalogue and print its cells, its\n"
    "sensitivity, the SQL the node would run (values as bound parameters) and\n"
    "what it would charge; then the population's budget as the ledger stands,\n"
    "in each unit the ledger charges, as exact fractions and in decimal:\n"
    "  epsilon   total (epsilon_total), spent (E) and remaining, under basic\n"
    "            composition (pure epsilon charges, max_sites_per_person 1)\n"
    "  zcdp      total (the rho cap derived from epsilon_total, delta_total and\n"
    "            max_sites_per_person), spent (rho plus epsilon^2/2 of each pure\n"
    "            charge) and remaining\n"
    "and whether the charge is allowed: \"allowed yes\", or \"allowed no\" with\n"
    "the reason (local policy, the per-query cap, or the population's budget),\n"
    "decided by the ledger's own rule. Reads no data and charges nothing.\n"
    "\n"
    "Exit codes: 0 allowed; 3 not allowed; 2 invalid usage, config or query;\n"
    "1 the ledger cannot be read.\n";

static char *
read_text(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *text = f != NULL ? malloc(max + 1) : NULL;
	if (text == NULL) {
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	*len = fread(text, 1, max + 1, f);
	fclose(f);
	if (*len > max) {
		free(text);
		errno = EFBIG;
		return NULL;
	}
	text[*len] = '\0';
	return text;
}

/* An exact non-negative rational as a decimal for people, with at most
 * TLY_FRAC_PLACES places, rounded up (what is spent) or down (a total or
 * what remains), as crypto/frac.h's tly_frac_decimal, for sums that may
 * pass 64 bits. */
static void
rational_text(char *out, size_t len, const mpq_t q, enum tly_frac_round round)
{
	mpz_t scaled, whole, digits;
	unsigned long scale = 1;
	int places = TLY_FRAC_PLACES;

	for (int i = 0; i < places; i++)
		scale *= 10;
	mpz_inits(scaled, whole, digits, NULL);
	mpz_mul_ui(scaled, mpq_numref(q), scale);
	if (round == TLY_FRAC_UP)
		mpz_cdiv_q(scaled, scaled, mpq_denref(q));
	else
		mpz_fdiv_q(scaled, scaled, mpq_denref(q));
	mpz_fdiv_qr_ui(whole, digits, scaled, scale);
	unsigned long d = mpz_get_ui(digits);
	while (places > 0 && d % 10 == 0) {
		d /= 10;
		places--;
	}
	if (places == 0)
		gmp_snprintf(out, len, "%Zd", whole);
	else
		gmp_snprintf(out, len, "%Zd.%0*lu", whole, places, d);
	mpz_clears(scaled, whole, digits, NULL);
}

static void
set_rational(mpq_t q, struct tly_fraction f)
{
	mpz_set_ui(mpq_numref(q), 0);
	mpz_set_ui(mpq_denref(q), 1);
	mpz_import(mpq_numref(q), 1, 1, sizeof f.num, 0, 0, &f.num);
	mpz_import(mpq_denref(q), 1, 1, sizeof f.den, 0, 0, &f.den);
	mpq_canonicalize(q);
}

/* One unit's line: total, spent (the sum of parts) and what remains
 * (total - spent, never below 0), computed exactly and shown as decimals
 * that never overstate what remains: spent rounded up, total and
 * remaining rounded down. */
static void
print_unit(const char *unit, struct tly_fraction total, const struct tly_fraction *parts,
           size_t part_count, const char *rule)
{
	mpq_t cap, spent, part, left;
	char text[3][160];

	mpq_inits(cap, spent, part, left, NULL);
	set_rational(cap, total);
	for (size_t i = 0; i < part_count; i++) {
		set_rational(part, parts[i]);
		mpq_add(spent, spent, part);
	}
	mpq_sub(left, cap, spent);
	if (mpq_sgn(left) < 0)
		mpq_set_ui(left, 0, 1);
	rational_text(text[0], sizeof text[0], cap, TLY_FRAC_DOWN);
	rational_text(text[1], sizeof text[1], spent, TLY_FRAC_UP);
	rational_text(text[2], sizeof text[2], left, TLY_FRAC_DOWN);
	printf("%-12s total %s, spent %s, remaining %s%s\n", unit, text[0], text[1], text[2], rule);
	mpq_clears(cap, spent, part, left, NULL);
}

/* What the population has spent, from the ledger read-only; a node that
 * has no ledger yet has spent nothing. */
static int
read_spent(const char *path, const char *population, struct tly_budget_spent *spent)
{
	struct tly_ledger *ledger = NULL;
	char lerr[256];
	struct stat st;

	*spent = tly_budget_none();
	if (stat(path, &st) != 0 && errno == ENOENT)
		return 0;
	if (tly_ledger_open_readonly(&ledger, path, lerr, sizeof lerr) != TLY_OK) {
		fprintf(stderr, "tally-node: %s\n", lerr);
		return EXIT_FAIL;
	}
	tly_err rv = tly_ledger_spent(ledger, population, spent);
	tly_ledger_close(ledger);
	if (rv != TLY_OK) {
		fprintf(stderr,
		        "tally-node: %s: cannot read what population \"%s\" has spent: %s\n", path,
		        population, tly_strerror(rv));
		return EXIT_FAIL;
	}
	return 0;
}

/* The ledger's rule for this charge (node/ledger.c decide()): the
 * per-query cap, then the population's totals with the charge within its
 * cap (tly_budget_within). 1 when it fits, else 0 with why. */
static int
charge_fits(const struct tly_node_dataset *ds, const struct tly_spec *spec,
            const struct tly_budget_spent *spent, const struct tly_budget_cap *cap,
            struct tly_fraction rho_cap, char *why, size_t why_len)
{
	int eps = spec->mechanism == TLY_MECH_LAPLACE;
	struct tly_fraction amount = {spec->privacy_num, spec->privacy_den};
	struct tly_fraction per_query = eps ? ds->epsilon_per_query : ds->rho_per_query;
	struct tly_budget_spent next;
	char limit[48];

	tly_frac_decimal(limit, sizeof limit, per_query, TLY_FRAC_PLACES, TLY_FRAC_DOWN);
	if (tly_ledger_fraction_cmp(amount, per_query) > 0) {
		snprintf(why, why_len, "dataset \"%s\": over the per-query cap (%s_per_query %s)",
		         ds->schema.name, eps ? "epsilon" : "rho", limit);
		return 0;
	}
	if (tly_budget_add(spent, spec->mechanism, amount, &next) != TLY_OK) {
		snprintf(why, why_len,
		         "population \"%s\": the spend would not fit exact 64-bit "
		         "fractions",
		         ds->population);
		return 0;
	}
	if (tly_budget_within(&next, cap, rho_cap) == TLY_BUDGET_OVER) {
		char asked[48];
		tly_frac_decimal(asked, sizeof asked, amount, TLY_FRAC_PLACES, TLY_FRAC_UP);
		tly_frac_decimal(limit, sizeof limit, ds->epsilon_total, TLY_FRAC_PLACES,
		                 TLY_FRAC_DOWN);
		snprintf(why, why_len,
		         "population \"%s\": budget exhausted: %s %s more does not "
		         "fit what remains of epsilon_total %s, nor of its zCDP cap",
		         ds->population, eps ? "epsilon" : "rho", asked, limit);
		return 0;
	}
	return 1;
}

/* The budget lines and the verdict; the exit code. */
static int
explain_budget(const struct tly_node_config *cfg, const struct tly_node_dataset *ds,
               const struct tly_spec *spec)
{
	struct tly_budget_cap cap = {ds->epsilon_total, ds->delta_total,
	                             ds->schema.max_sites_per_person};
	struct tly_budget_spent spent;
	struct tly_fraction rho_cap;
	char why[400];

	int rc = read_spent(cfg->ledger, ds->population, &spent);
	if (rc != 0)
		return rc;
	if (tly_budget_rho_cap(&cap, &rho_cap) != TLY_OK) {
		fprintf(stderr,
		        "tally-node: dataset \"%s\": delta_total or max_sites_per_person out "
		        "of range\n",
		        ds->schema.name);
		return EXIT_USAGE;
	}
	int basic = cap.sites == 1 && spent.rho.num == 0;
	print_unit("epsilon", ds->epsilon_total, &spent.epsilon, 1,
	           basic ? " (basic composition)" : " (not used: zCDP decides)");
	const struct tly_fraction zcdp[] = {spent.epsilon_rho, spent.rho};
	print_unit("zcdp", rho_cap, zcdp, 2, " (rho)");
	printf("             (spent rounded up, total and remaining down: never overstated)\n");
	if (!(cfg->measures & (1u << spec->measure))) {
		printf("allowed      no (local policy: measure not allowed)\n");
		return EXIT_REFUSED;
	}
	if (spec->mechanism == TLY_MECH_NONE) {
		printf("allowed      yes (noise-free test query: nothing charged)\n");
		return 0;
	}
	if (!charge_fits(ds, spec, &spent, &cap, rho_cap, why, sizeof why)) {
		printf("allowed      no (%s)\n", why);
		return EXIT_REFUSED;
	}
	printf("allowed      yes\n");
	return 0;
}

/* What the query is and costs, before its budget (explain_budget). */
static void
print_explanation(const struct tly_node_dataset *ds, const struct tly_spec *spec,
                  const struct tly_catalogue *cat, uint64_t l1, uint64_t l2sq)
{
	char cap_eps[48], cap_delta[48], charge[48], shown[512];
	const char *source = ds->path;

	/* a conninfo is shown without its password (node/pg.h) */
	if (ds->source == TLY_SOURCE_POSTGRESQL) {
		tly_pg_conninfo_display(ds->conninfo, shown, sizeof shown);
		tly_pg_scrub(shown, ds->conninfo);
		source = shown;
	}
	printf("dataset      %s (%s%s)\n", ds->schema.name,
	       ds->source == TLY_SOURCE_POSTGRESQL ? "postgresql: " : "", source);
	printf("cells        %zu (%zu groups x %zu)\n", tly_spec_cells(spec, cat),
	       tly_spec_groups(spec, cat), tly_spec_cells_per_group(spec));
	printf("sensitivity  L1 %llu, L2^2 %llu (max %u sites per person)\n",
	       (unsigned long long)l1, (unsigned long long)l2sq, ds->schema.max_sites_per_person);
	tly_frac_decimal(charge, sizeof charge,
	                 (struct tly_fraction){spec->privacy_num, spec->privacy_den},
	                 TLY_FRAC_PLACES, TLY_FRAC_UP);
	printf("charge       %s %s\n", spec->mechanism == TLY_MECH_LAPLACE ? "epsilon" : "rho",
	       charge);
	/* delta is far below 10^-6: shown in full, as the config has it */
	tly_frac_decimal(cap_eps, sizeof cap_eps, ds->epsilon_total, TLY_FRAC_PLACES,
	                 TLY_FRAC_DOWN);
	tly_ledger_fraction_format(cap_delta, sizeof cap_delta, ds->delta_total);
	printf("budget       population %s: one cap (epsilon %s, delta %s), every mechanism\n",
	       ds->population, cap_eps, cap_delta);
}

static int
cmd_explain(int argc, char **argv)
{
	const char *config = NULL, *spec_path = NULL;
	struct opt opts[] = {{"config", &config, 0}, {"spec", &spec_path, 0}, {NULL, NULL, 0}};
	struct tly_node_config cfg;
	struct tly_catalogue cat;
	struct tly_spec spec;
	struct tly_field_error serr;
	char why[600], *sql = NULL;
	size_t len;
	uint64_t l1, l2sq;

	parse_options(argc, argv, opts, usage_explain);
	require(config, "--config FILE", usage_explain);
	require(spec_path, "--spec QUERY.json", usage_explain);
	if (!load_config(&cfg, config))
		return EXIT_USAGE;
	char *json = read_text(spec_path, TLY_SPEC_JSON_MAX, &len);
	if (json == NULL) {
		fprintf(stderr, "tally-node: %s: %s\n", spec_path, strerror(errno));
		tly_node_config_fini(&cfg);
		return EXIT_USAGE;
	}
	int rc = EXIT_USAGE;
	if (tly_node_config_catalogue(&cfg, &cat) != TLY_OK)
		goto out_json;
	tly_field_error_init(&serr, spec_path);
	if (tly_spec_parse(&spec, &cat, json, len, &serr) != TLY_OK) {
		tly_field_error_format(&serr, why, sizeof why);
		fprintf(stderr, "tally-node: %s\n", why);
		goto out_cat;
	}
	const struct tly_node_dataset *ds = &cfg.datasets[spec.dataset];
	if (tly_spec_sensitivity(&spec, &cat, &l1, &l2sq) != TLY_OK ||
	    tly_eval_sql(ds, &spec, &sql) != TLY_OK) {
		fprintf(stderr, "tally-node: cannot size this query\n");
		goto out_spec;
	}
	print_explanation(ds, &spec, &cat, l1, l2sq);
	printf("sql          %s\n", sql);
	fflush(stdout);
	rc = explain_budget(&cfg, ds, &spec);
out_spec:
	free(sql);
	tly_spec_fini(&spec);
out_cat:
	tly_catalogue_fini(&cat);
out_json:
	free(json);
	tly_node_config_fini(&cfg);
	return rc;
}

/* ---- answer ---- */

static const char usage_answer[] =
    "usage: tally-node answer --config FILE --query MSG --out DIR\n"
    "\n"
    "Answer one signed QUERY message (committee protocol) exactly as the daemon\n"
    "would: verify it against the registry, check it and local policy, record the\n"
    "spend in the ledger (durably, before anything is derived from data), then\n"
    "evaluate, add this node's noise share and write the k sealed SHARE messages\n"
    "to DIR/share-N.msg and the signed receipt to DIR/receipt.bin.\n";

static int
write_bytes(const char *path, const uint8_t *bytes, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(bytes, 1, len, f) == len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok;
}

static volatile sig_atomic_t answer_stopping;

static void
on_answer_signal(int sig)
{
	(void)sig;
	answer_stopping = 1;
}

static int
cmd_answer(int argc, char **argv)
{
	const char *config = NULL, *query = NULL, *dir = NULL;
	struct opt opts[] = {
	    {"config", &config, 0}, {"query", &query, 0}, {"out", &dir, 0}, {NULL, NULL, 0}};
	struct tly_node node;
	struct tly_outbox box;
	struct tly_ledger_receipt receipt;
	struct tly_buf rbuf;
	char why[600], path[4200];
	size_t len;

	parse_options(argc, argv, opts, usage_answer);
	require(config, "--config FILE", usage_answer);
	require(query, "--query MSG", usage_answer);
	require(dir, "--out DIR", usage_answer);
	uint8_t *msg = (uint8_t *)read_text(query, TLY_MAX_MESSAGE_BYTES, &len);
	if (msg == NULL) {
		fprintf(stderr, "tally-node: %s: %s\n", query, strerror(errno));
		return EXIT_USAGE;
	}
	tly_err rv = tly_node_open(&node, config, why, sizeof why);
	if (rv != TLY_OK) {
		fprintf(stderr, "tally-node: %s\n", why);
		free(msg);
		return exit_for(rv);
	}
	/* SIGTERM abandons the noise (the charge stands): the command ends
	 * within one cell's work (issue 12 section 2). */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_answer_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	node.stopping = &answer_stopping;
	tly_outbox_init(&box);
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	rv = tly_node_read_query(&node, msg, len, query_id, &q, why, sizeof why);
	if (rv == TLY_OK) {
		rv = tly_node_answer(&node, query_id, &q, &box, &receipt, why, sizeof why);
		tly_query_fini(&q);
	}
	fprintf(stderr, "tally-node: node %u: %s\n", node.config.id, why);
	if (node.local_note[0] != '\0')
		fprintf(stderr, "tally-node: node %u: %s\n", node.config.id, node.local_note);
	if (rv == TLY_OK && mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "tally-node: %s: %s\n", dir, strerror(errno));
		rv = TLY_EIO;
	}
	for (size_t i = 0; rv == TLY_OK && i < box.count; i++) {
		snprintf(path, sizeof path, "%s/share-%zu.msg", dir, i + 1);
		if (!write_bytes(path, box.items[i].data, box.items[i].len))
			rv = TLY_EIO;
	}
	tly_buf_init(&rbuf);
	if (rv == TLY_OK && receipt.node_id != 0) {
		snprintf(path, sizeof path, "%s/receipt.bin", dir);
		if (tly_ledger_receipt_encode(&receipt, &rbuf) != TLY_OK ||
		    !write_bytes(path, rbuf.data, rbuf.len))
			rv = TLY_EIO;
	}
	if (rv == TLY_EIO)
		fprintf(stderr, "tally-node: cannot write to %s\n", dir);
	tly_buf_fini(&rbuf);
	tly_outbox_fini(&box);
	tly_node_close(&node);
	free(msg);
	return exit_for(rv);
}

/* ---- ledger ---- */

static const char usage_ledger[] =
    "usage: tally-node ledger show --config FILE [--format table|csv]\n"
    "       tally-node ledger verify --config FILE\n"
    "       tally-node ledger handover --config FILE --new-sign-key FILE\n"
    "\n"
    "show:     every entry (charges and refusals) with running totals\n"
    "verify:   the hash chain, every signature under the node key in force for\n"
    "          it (ending with this node's key), and every total recomputed\n"
    "          exactly against the caps; names the first bad entry and exits 1\n"
    "          after any tampering\n"
    "handover: rotate the node's signing key: record, signed by the config's\n"
    "          sign_key and by the new key, that the new key signs from the next\n"
    "          entry on; prints the registry lines to send to every party. Then\n"
    "          point sign_key at the new file and restart the node\n";

static int
open_ledger(const char *config, struct tly_ledger **ledger, uint8_t pk[TLY_SIGN_PUBLIC_BYTES])
{
	struct tly_node_config cfg;
	struct tly_identity id;
	char why[600];

	if (!load_config(&cfg, config))
		return EXIT_USAGE;
	/* The public key comes from the node's own key file, not from the
	 * ledger file being checked. */
	tly_err rv = tly_identity_from_files(&id, cfg.id, cfg.sign_key, NULL, why, sizeof why);
	if (rv == TLY_OK) {
		tly_sign_key_public(id.sign, pk);
		tly_identity_fini(&id);
		rv = tly_ledger_open_readonly(ledger, cfg.ledger, why, sizeof why);
	}
	if (rv != TLY_OK)
		fprintf(stderr, "tally-node: %s\n", why);
	tly_node_config_fini(&cfg);
	return rv == TLY_OK ? 0 : EXIT_FAIL;
}

/* The registry lines after a handover, for people. */
static void
print_handover(const char *path, uint32_t id, const struct tly_sign_key *old_key,
               const struct tly_ledger_key *k)
{
	char old_hex[65], new_hex[65];
	uint8_t old_pk[TLY_SIGN_PUBLIC_BYTES];

	tly_sign_key_public(old_key, old_pk);
	tly_hex(old_hex, old_pk, sizeof old_pk);
	tly_hex(new_hex, k->pk, sizeof k->pk);
	printf("ledger %s: node key handed over; the new key signs from entry %llu on\n"
	       "\n"
	       "In the registry, send to every party and restart them:\n"
	       "[node %u]\n"
	       "sign_pk = %s\n"
	       "retired_sign_pk = %s\n"
	       "(keep the node's kx_pk, name and any retired_sign_pk lines it has)\n"
	       "\n"
	       "In this node's config: sign_key = the new key file; then restart the node.\n",
	       path, (unsigned long long)k->from_seq, id, new_hex, old_hex);
}

/* tally-node ledger handover: the ledger must verify under the config's
 * key first; a broken chain is not handed on. */
static int
ledger_handover(const char *config, const char *new_path)
{
	struct tly_node_config cfg;
	struct tly_identity old_id, new_id;
	struct tly_ledger *ledger = NULL;
	struct tly_ledger_report report;
	struct tly_ledger_key k;
	uint8_t old_pk[TLY_SIGN_PUBLIC_BYTES];
	char why[600];
	tly_err rv;

	if (!load_config(&cfg, config))
		return EXIT_USAGE;
	memset(&new_id, 0, sizeof new_id);
	rv = tly_identity_from_files(&old_id, cfg.id, cfg.sign_key, NULL, why, sizeof why);
	if (rv == TLY_OK && (rv = tly_identity_from_files(&new_id, cfg.id, new_path, NULL, why,
	                                                  sizeof why)) != TLY_OK)
		tly_identity_fini(&old_id);
	if (rv != TLY_OK) {
		fprintf(stderr, "tally-node ledger handover: %s\n", why);
		tly_node_config_fini(&cfg);
		return exit_for(rv);
	}
	tly_sign_key_public(old_id.sign, old_pk);
	if ((rv = tly_ledger_open(&ledger, cfg.ledger, cfg.id, old_id.sign, why, sizeof why)) ==
	        TLY_OK &&
	    (rv = tly_ledger_verify(ledger, old_pk, &report)) != TLY_OK)
		tly_say(why, sizeof why,
		        "%s: the ledger does not verify (entry %llu: %s): not handed over",
		        cfg.ledger, (unsigned long long)report.bad_seq, report.reason);
	if (rv == TLY_OK &&
	    (rv = tly_ledger_handover(ledger, new_id.sign, &k, why, sizeof why)) == TLY_OK)
		print_handover(cfg.ledger, cfg.id, old_id.sign, &k);
	else
		fprintf(stderr, "tally-node ledger handover: %s\n", why);
	tly_ledger_close(ledger);
	tly_identity_fini(&new_id);
	tly_identity_fini(&old_id);
	tly_node_config_fini(&cfg);
	return rv == TLY_OK ? 0 : rv == TLY_EINVAL ? EXIT_USAGE : EXIT_FAIL;
}

static int
cmd_ledger(int argc, char **argv)
{
	static const char *const names[] = {"show", "verify", "handover"};
	const char *config = NULL, *format = NULL, *new_key = NULL;
	struct opt opts[] = {{"config", &config, 0},
	                     {"format", &format, 0},
	                     {"new-sign-key", &new_key, 0},
	                     {NULL, NULL, 0}};
	struct tly_ledger *ledger;
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	size_t which = 0;

	while (argc >= 2 && which < 3 && strcmp(argv[1], names[which]) != 0)
		which++;
	if (argc < 2 || which == 3) {
		if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
			fputs(usage_ledger, stdout);
			return 0;
		}
		if (argc >= 2)
			return tly_process_unknown("tally-node ledger", argv[1], names, 3);
		fputs(usage_ledger, stderr);
		return EXIT_USAGE;
	}
	int show = which == 0;
	parse_options(argc - 1, argv + 1, opts, usage_ledger);
	require(config, "--config FILE", usage_ledger);
	if ((format != NULL && !show) || (new_key != NULL && which != 2)) {
		fprintf(stderr, "tally-node ledger %s: --%s is not an option of it\n%s",
		        names[which], format != NULL && !show ? "format" : "new-sign-key",
		        usage_ledger);
		return EXIT_USAGE;
	}
	if (which == 2) {
		require(new_key, "--new-sign-key FILE", usage_ledger);
		return ledger_handover(config, new_key);
	}
	if (format == NULL)
		format = "table";
	if (strcmp(format, "table") != 0 && strcmp(format, "csv") != 0) {
		fprintf(stderr, "tally-node: --format: \"%s\" is not table or csv\n", format);
		return EXIT_USAGE;
	}
	int rc = open_ledger(config, &ledger, pk);
	if (rc != 0)
		return rc;
	if (show) {
		rc = tly_ledger_show(ledger, stdout,
		                     strcmp(format, "csv") == 0 ? TLY_LEDGER_CSV
		                                                : TLY_LEDGER_TABLE) == TLY_OK
		         ? 0
		         : EXIT_FAIL;
	} else {
		struct tly_ledger_report report;
		tly_err rv = tly_ledger_verify(ledger, pk, &report);
		if (rv == TLY_OK) {
			char head[65];
			tly_hex(head, report.head_hash, sizeof report.head_hash);
			printf("ledger ok: %llu entries (%llu charges, %llu refusals), head %s\n",
			       (unsigned long long)report.entries,
			       (unsigned long long)report.charges,
			       (unsigned long long)report.refusals, head);
		} else {
			fprintf(stderr, "ledger BAD at entry %llu: %s\n",
			        (unsigned long long)report.bad_seq, report.reason);
			rc = EXIT_FAIL;
		}
	}
	tly_ledger_close(ledger);
	return rc;
}

/* ---- usage-report ---- */

static const char usage_usage[] =
    "usage: tally-node usage-report --config FILE --person ID [--dataset NAME]\n"
    "\n"
    "List the answered queries that this person's row contributed to, with the\n"
    "date, the privacy charged and the question asked. Each logged query's\n"
    "filters are re-applied to the person's row as the data stands now.\n"
    "\n"
    "An ID that no row of the data holds (in --dataset, or in any dataset of\n"
    "this node) is answered \"no such person\", exit code 2.\n";

/* Whether person is in the data: in dataset, or in any of the node's
 * datasets when dataset is NULL. 0 when known, EXIT_USAGE after saying
 * "no such person" (or naming an unknown dataset), EXIT_FAIL when the data
 * cannot be read. Says nothing else: not how many rows there are nor what
 * the ledger holds. */
static int
person_known(struct tly_node *node, const char *dataset, const char *person)
{
	char why[600];
	int exists = 0, searched = 0;

	for (size_t i = 0; i < node->config.dataset_count && !exists; i++) {
		const char *name = node->config.datasets[i].schema.name;
		struct tly_store *store;
		if (dataset != NULL && strcmp(dataset, name) != 0)
			continue;
		searched++;
		if (tly_node_store(node, name, &store, why, sizeof why) != TLY_OK ||
		    tly_eval_person_exists(store, person, &exists, why, sizeof why) != TLY_OK) {
			fprintf(stderr, "tally-node: %s\n", why);
			return EXIT_FAIL;
		}
	}
	if (exists)
		return 0;
	if (searched == 0)
		fprintf(stderr, "tally-node: --dataset: no dataset \"%s\" in this node's config\n",
		        dataset);
	else if (dataset != NULL)
		fprintf(stderr, "tally-node: no such person: \"%s\" in dataset \"%s\"\n", person,
		        dataset);
	else
		fprintf(stderr, "tally-node: no such person: \"%s\" in any dataset of this node\n",
		        person);
	return EXIT_USAGE;
}

/* One answered query that used the person's row, on one line; its charge
 * as a decimal rounded up (crypto/frac.h). */
static void
print_use(const struct tly_ledger_use *u)
{
	char qid[2 * TLY_QUERY_ID_BYTES + 1], when[32], amount[48];
	time_t t = (time_t)u->entry.time;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	tly_hex(qid, u->entry.query_id, sizeof u->entry.query_id);
	tly_frac_decimal(amount, sizeof amount, u->entry.amount, TLY_FRAC_PLACES, TLY_FRAC_UP);
	printf("  %s  query %s  %s %s  %s\n", when, qid,
	       u->entry.mechanism == TLY_MECH_LAPLACE ? "epsilon" : "rho", amount, u->spec_json);
}

/* The report's lines, after the person is known. Returns the exit code. */
static int
report_uses(struct tly_node *node, const struct tly_ledger_usage *usage, const char *person)
{
	size_t used = 0;
	char why[600];
	int rc = 0;

	printf("person %s\n", person);
	for (size_t i = 0; i < usage->count && rc == 0; i++) {
		const struct tly_ledger_use *u = &usage->uses[i];
		struct tly_spec spec;
		struct tly_field_error serr;
		struct tly_store *store;
		int contributed = 0;
		if (tly_spec_parse(&spec, &node->catalogue, u->spec_json, u->entry.spec_len,
		                   &serr) != TLY_OK) {
			printf(
			    "  entry %llu: query no longer parses against this config (%s: %s)\n",
			    (unsigned long long)u->entry.seq, serr.field, serr.reason);
			continue;
		}
		if (tly_node_store(node, u->entry.dataset, &store, why, sizeof why) != TLY_OK ||
		    tly_eval_person(store, &spec, person, &contributed, why, sizeof why) !=
		        TLY_OK) {
			fprintf(stderr, "tally-node: %s\n", why);
			rc = EXIT_FAIL;
		}
		if (contributed) {
			print_use(u);
			used++;
		}
		tly_spec_fini(&spec);
	}
	printf("%zu of %zu answered queries used this person's row\n", used, usage->count);
	return rc;
}

static int
cmd_usage(int argc, char **argv)
{
	const char *config = NULL, *person = NULL, *dataset = NULL;
	struct opt opts[] = {{"config", &config, 0},
	                     {"person", &person, 0},
	                     {"dataset", &dataset, 0},
	                     {NULL, NULL, 0}};
	struct tly_ledger *ledger;
	struct tly_ledger_usage usage;
	struct tly_node node;
	struct tly_field_error cerr;
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];

	parse_options(argc, argv, opts, usage_usage);
	require(config, "--config FILE", usage_usage);
	require(person, "--person ID", usage_usage);
	int rc = open_ledger(config, &ledger, pk);
	if (rc != 0)
		return rc;
	/* The node's config and catalogue, for the stores. */
	memset(&node, 0, sizeof node);
	if (tly_node_config_load(&node.config, config, &cerr) != TLY_OK ||
	    tly_node_config_catalogue(&node.config, &node.catalogue) != TLY_OK) {
		fprintf(stderr, "tally-node: cannot read the node's config\n");
		rc = EXIT_FAIL;
	} else if ((rc = person_known(&node, dataset, person)) != 0) {
		/* said, and nothing of the ledger read */
	} else if (tly_ledger_usage(ledger, dataset, &usage) != TLY_OK) {
		fprintf(stderr, "tally-node: cannot read the ledger's answered queries\n");
		rc = EXIT_FAIL;
	} else {
		rc = report_uses(&node, &usage, person);
		tly_ledger_usage_fini(&usage);
	}
	tly_ledger_close(ledger);
	tly_node_close(&node);
	return rc;
}

static const struct tly_command commands[] = {
    {"keygen", cmd_keygen},      {"check", cmd_check},   {"import", cmd_import},
    {"explain", cmd_explain},    {"answer", cmd_answer}, {"ledger", cmd_ledger},
    {"usage-report", cmd_usage},
};

/* The daemon's options, `--config FILE` or `--help`: the config file, or
 * NULL after printing the help (*rc 0) or naming a bad option (*rc 2). */
static const char *
daemon_options(int argc, char **argv, int *rc)
{
	static const struct option options[] = {{"config", required_argument, NULL, 'c'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *config = NULL;
	int c;

	*rc = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_main, stdout);
			*rc = 0;
			return NULL;
		}
		if (c != 'c') {
			*rc = tly_process_bad_option("tally-node", options, argc, argv);
			return NULL;
		}
		config = optarg;
	}
	if (config == NULL || optind != argc)
		fputs(usage_main, stderr);
	return optind == argc ? config : NULL;
}

int
main(int argc, char **argv)
{
	opterr = 0; /* tly_process_bad_option says what was wrong, once */
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	/* Shares and messages are tens of kilobytes to megabytes, allocated and
	 * freed per query: keep them on the heap rather than mmap and unmap
	 * them each time (bench_protocol measured 2x on the committee round). */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	if (tly_crypto_init() != TLY_OK) {
		fprintf(stderr, "tally-node: cannot initialise libsodium/OpenSSL\n");
		return EXIT_FAIL;
	}
	if (argv[1][0] == '-') {
		int rc;
		const char *config = daemon_options(argc, argv, &rc);
		return config != NULL ? tly_node_daemon(config) : rc;
	}
	return tly_process_command("tally-node", commands, sizeof commands / sizeof commands[0],
	                           usage_main, argc, argv);
}
