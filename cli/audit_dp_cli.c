/* The command line of `tally audit dp` (audit_dp.h): options, the table on
 * stdout, the JSON file and the gnuplot figure. */
#include "audit_dp.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "net/process.h"

enum { EXIT_CLEAN = 0, EXIT_FLAGGED = 1, EXIT_USAGE_DP = 2, TLY_AUDIT_DP_PATH_MAX = 4200 };

static const char usage_dp[] =
    "usage: tally audit dp [--mechanism M] [--draws N] [--epsilon E] [--rho R]\n"
    "                      [--delta D] [--calibrate X] [--fault share-alone]\n"
    "                      [--nodes N] [--honest H] [--column C] [--confidence C]\n"
    "                      [--seed S | --no-seed] [--threads T] [--json FILE]\n"
    "                      [--plot PREFIX]\n"
    "\n"
    "An empirical check of the privacy claim: the real evaluation, noise shares,\n"
    "sum and release run on two datasets that differ in one person; from the\n"
    "released values a distinguishing event is chosen on half the draws and a\n"
    "lower bound on epsilon (Clopper-Pearson) is taken on the other half. A\n"
    "mechanism whose lower bound exceeds its claim is FLAGGED (exit 1).\n"
    "\n"
    "  --mechanism M    all (default); a measure: count, sum, mean, histogram,\n"
    "                   rate; a noise: laplace, skellam; or one of them, e.g.\n"
    "                   count-laplace, rate-skellam\n"
    "  --draws N        outputs per dataset (default 1000000)\n"
    "  --epsilon E      the claimed epsilon of the laplace mechanisms (default 1)\n"
    "  --rho R          the claimed rho of the skellam mechanisms (default 0.1),\n"
    "                   audited as the (epsilon, delta) cdp2adp gives\n"
    "  --delta D        the skellam audit's delta (default 0.000001)\n"
    "  --calibrate X    negative control: draw the noise for epsilon (or rho) X\n"
    "                   but audit against the claim\n"
    "  --fault F        negative control: share-alone releases one noise share\n"
    "  --nodes N        trusts (default 3)\n"
    "  --honest H       trusts drawing noise, the query's min_honest (default 2)\n"
    "  --column C       sum and mean: visits (0..5, default), age (0..100) or\n"
    "                   cost (0..100000)\n"
    "  --confidence C   of the lower bound, both one-sided bounds together\n"
    "                   (default 0.95); a 4-sigma bound is reported beside it\n"
    "  --seed S         the draws' seed (default 17): a run repeats exactly\n"
    "  --no-seed        draw from the operating system's randomness instead\n"
    "  --threads T      worker threads (default 2)\n"
    "  --json FILE      write the results as JSON\n"
    "  --plot PREFIX    write PREFIX.dat, PREFIX.png and PREFIX.svg (gnuplot)\n"
    "  --help           this text\n";

/* "tally audit dp: MESSAGE (see 'tally audit dp --help')" on stderr, as
 * tly_process_bad_option says it; returns the usage exit code. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int
usage_error(const char *fmt, ...)
{
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	fprintf(stderr, "tally audit dp: %s (see 'tally audit dp --help')\n", message);
	return EXIT_USAGE_DP;
}

struct cli {
	struct tly_audit_dp_options o;
	const char *mechanism;
	const char *json;
	const char *plot;
};

static int
parse_u64(const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_real(const char *text, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !(v > lo) || !(v < hi))
		return -1;
	*out = v;
	return 0;
}

/* A privacy figure kept as its text (the query language reads it). */
static int
copy_figure(char *out, size_t len, const char *text, const char *option)
{
	double v;

	if (strlen(text) >= len || parse_real(text, 0, 1001, &v) != 0)
		return usage_error("%s: \"%.40s\" is not a number in (0, 1000]", option, text);
	snprintf(out, len, "%s", text);
	return -1;
}

enum {
	OPT_MECHANISM = 256,
	OPT_DRAWS,
	OPT_EPSILON,
	OPT_RHO,
	OPT_DELTA,
	OPT_CALIBRATE,
	OPT_FAULT,
	OPT_NODES,
	OPT_HONEST,
	OPT_COLUMN,
	OPT_CONFIDENCE,
	OPT_SEED,
	OPT_NO_SEED,
	OPT_THREADS,
	OPT_JSON,
	OPT_PLOT,
	OPT_HELP,
};

static const struct option long_options[] = {
    {"mechanism", required_argument, NULL, OPT_MECHANISM},
    {"draws", required_argument, NULL, OPT_DRAWS},
    {"epsilon", required_argument, NULL, OPT_EPSILON},
    {"rho", required_argument, NULL, OPT_RHO},
    {"delta", required_argument, NULL, OPT_DELTA},
    {"calibrate", required_argument, NULL, OPT_CALIBRATE},
    {"fault", required_argument, NULL, OPT_FAULT},
    {"nodes", required_argument, NULL, OPT_NODES},
    {"honest", required_argument, NULL, OPT_HONEST},
    {"column", required_argument, NULL, OPT_COLUMN},
    {"confidence", required_argument, NULL, OPT_CONFIDENCE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"no-seed", no_argument, NULL, OPT_NO_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"json", required_argument, NULL, OPT_JSON},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int
parse_count(const char *arg, const char *option, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (parse_u64(arg, lo, hi, out) != 0)
		return usage_error("%s: \"%.40s\" is not a whole number from %" PRIu64
		                   " to %" PRIu64,
		                   option, arg, lo, hi);
	return -1;
}

/* One option's value into c: an exit code on error, else -1. */
static int
parse_value(struct cli *c, int opt, const char *arg)
{
	uint64_t v = 0;
	int rc = -1;

	switch (opt) {
	case OPT_DRAWS:
		rc = parse_count(arg, "--draws", 2, UINT64_C(1) << 40, &c->o.draws);
		break;
	case OPT_NODES:
	case OPT_HONEST:
		rc = parse_count(arg, opt == OPT_NODES ? "--nodes" : "--honest", 1,
		                 TLY_AUDIT_DP_MAX_NODES, &v);
		*(opt == OPT_NODES ? &c->o.nodes : &c->o.honest) = (uint32_t)v;
		break;
	case OPT_THREADS:
		rc = parse_count(arg, "--threads", 1, TLY_AUDIT_DP_MAX_THREADS, &v);
		c->o.threads = (unsigned)v;
		break;
	case OPT_SEED:
		rc = parse_count(arg, "--seed", 0, UINT64_MAX, &c->o.seed);
		c->o.seeded = 1;
		break;
	case OPT_DELTA:
		if (parse_real(arg, 0, 1, &c->o.delta) != 0)
			rc = usage_error(
			    "--delta: \"%.40s\" is not a number strictly between 0 and 1", arg);
		break;
	case OPT_CONFIDENCE:
		if (parse_real(arg, 0, 1, &c->o.confidence) != 0)
			rc = usage_error(
			    "--confidence: \"%.40s\" is not a number strictly between 0 and 1",
			    arg);
		break;
	default:
		rc = usage_error("unexpected option");
	}
	return rc;
}

/* One option into c: an exit code to stop with, or -1. */
static int
parse_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_MECHANISM:
		c->mechanism = arg;
		return -1;
	case OPT_EPSILON:
		return copy_figure(c->o.epsilon, sizeof c->o.epsilon, arg, "--epsilon");
	case OPT_RHO:
		return copy_figure(c->o.rho, sizeof c->o.rho, arg, "--rho");
	case OPT_CALIBRATE:
		return copy_figure(c->o.calibrate, sizeof c->o.calibrate, arg, "--calibrate");
	case OPT_FAULT:
		if (strcmp(arg, "share-alone") == 0)
			c->o.fault = TLY_AUDIT_DP_FAULT_SHARE_ALONE;
		else if (strcmp(arg, "none") == 0)
			c->o.fault = TLY_AUDIT_DP_FAULT_NONE;
		else
			return usage_error("--fault: \"%.40s\" is not share-alone or none", arg);
		return -1;
	case OPT_COLUMN:
		if (strcmp(arg, "visits") != 0 && strcmp(arg, "age") != 0 &&
		    strcmp(arg, "cost") != 0)
			return usage_error("--column: \"%.40s\" is not visits, age or cost", arg);
		snprintf(c->o.column, sizeof c->o.column, "%s", arg);
		return -1;
	case OPT_NO_SEED:
		c->o.seeded = 0;
		return -1;
	case OPT_JSON:
		c->json = arg;
		return -1;
	case OPT_PLOT:
		c->plot = arg;
		return -1;
	case OPT_HELP:
		fputs(usage_dp, stdout);
		return EXIT_CLEAN;
	default:
		return parse_value(c, opt, arg);
	}
}

static int
parse(struct cli *c, int argc, char **argv)
{
	int opt, rc;

	tly_audit_dp_defaults(&c->o);
	c->mechanism = "all";
	c->json = c->plot = NULL;
	c->o.progress = stderr;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return tly_process_bad_option("tally audit dp", long_options, argc, argv);
		if ((rc = parse_option(c, opt, optarg)) >= 0)
			return rc;
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (c->o.honest > c->o.nodes)
		return usage_error("--honest %u: more than --nodes %u", c->o.honest, c->o.nodes);
	return -1;
}

/* Does mechanism name `name` fall under the selection `pick`? */
static int
selected(const char *name, const char *pick)
{
	size_t n = strlen(pick);
	const char *dash = strchr(name, '-');

	if (strcmp(pick, "all") == 0 || strcmp(pick, name) == 0)
		return 1;
	if (dash != NULL && (size_t)(dash - name) == n && strncmp(name, pick, n) == 0)
		return 1;
	return dash != NULL && strcmp(dash + 1, pick) == 0;
}

/* ---- output ---- */

static json_t *
real_or_null(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static const char *
event_words(const struct tly_dpaudit_event *e, char *out, size_t len)
{
	if (e->kind == TLY_DPAUDIT_EXTRA)
		snprintf(out, len, "outside the noise's support around %s", e->extra ? "D'" : "D");
	else
		snprintf(out, len, "value %s %.10g",
		         e->kind == TLY_DPAUDIT_AT_LEAST ? ">=" : "<=", e->threshold);
	return out;
}

static json_t *
result_json(const struct tly_audit_dp_result *r, const struct tly_audit_dp_options *o)
{
	char words[96];
	json_t *j = json_pack(
	    "{s:s, s:s, s:f, s:I, s:I, s:s, s:I, s:I, s:f}", "mechanism", r->mechanism, "noise",
	    r->skellam ? "skellam" : "laplace", "epsilon_claimed", r->epsilon_claimed, "nodes",
	    (json_int_t)o->nodes, "honest", (json_int_t)o->honest, "fault",
	    o->fault == TLY_AUDIT_DP_FAULT_SHARE_ALONE ? "share-alone" : "none", "draws",
	    (json_int_t)r->draws, "held_out", (json_int_t)r->finding.n, "noise_sd", r->noise_sd);

	if (j == NULL)
		return NULL;
	if (r->skellam) {
		json_object_set_new(j, "rho", json_real(r->rho));
		json_object_set_new(j, "delta", json_real(r->delta));
		json_object_set_new(j, "conversion",
		                    json_string("cdp2adp (Canonne, Kamath, Steinke)"));
	}
	if (o->calibrate[0] != '\0')
		json_object_set_new(j, "calibrated_to", json_string(o->calibrate));
	json_object_set_new(
	    j, "truth", json_pack("[o, o]", real_or_null(r->truth[0]), real_or_null(r->truth[1])));
	json_object_set_new(
	    j, "event",
	    json_pack("{s:s, s:s, s:o}", "words", event_words(&r->event, words, sizeof words),
	              "numerator", r->event.numerator ? "D'" : "D", "threshold",
	              r->event.kind == TLY_DPAUDIT_EXTRA ? json_null()
	                                                 : real_or_null(r->event.threshold)));
	json_object_set_new(j, "counts",
	                    json_pack("{s:I, s:I}", "numerator", (json_int_t)r->finding.k_p,
	                              "other", (json_int_t)r->finding.k_q));
	json_object_set_new(j, "epsilon_hat", real_or_null(r->finding.epsilon_hat));
	json_object_set_new(j, "epsilon_lb", real_or_null(r->finding.epsilon_lb));
	json_object_set_new(j, "confidence", json_real(o->confidence));
	json_object_set_new(j, "epsilon_lb_4sigma", real_or_null(r->finding_4sigma.epsilon_lb));
	json_object_set_new(j, "confidence_4sigma", json_real(2 * TLY_AUDIT_DP_LEVEL_4SIGMA - 1));
	json_object_set_new(j, "flagged", json_boolean(r->flagged));
	json_object_set_new(j, "seconds", json_real(r->seconds));
	return j;
}

static int
write_json(const char *path, json_t *results, const struct tly_audit_dp_options *o)
{
	json_t *doc = json_pack("{s:s, s:o, s:O}", "tool", "tally audit dp", "seed",
	                        o->seeded ? json_integer((json_int_t)o->seed) : json_null(),
	                        "results", results);

	if (doc == NULL ||
	    json_dump_file(doc, path, JSON_INDENT(2) | JSON_REAL_PRECISION(8)) != 0) {
		fprintf(stderr, "tally audit dp: --json %s: cannot write the file\n", path);
		json_decref(doc);
		return -1;
	}
	json_decref(doc);
	return 0;
}

/* PREFIX.dat (one row per mechanism) and the gnuplot figure, PREFIX.png
 * and PREFIX.svg (gnuplot reads its script on a pipe: no shell). */
static int
write_plot(const char *prefix, const struct tly_audit_dp_result *r, size_t count)
{
	char path[TLY_AUDIT_DP_PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s.dat", prefix);
	if (strchr(prefix, '\'') != NULL || (f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "tally audit dp: --plot: cannot write %s\n", path);
		return -1;
	}
	fprintf(f, "# index mechanism claimed epsilon_hat epsilon_lb epsilon_lb_4sigma\n");
	for (size_t i = 0; i < count; i++)
		fprintf(f, "%zu %s %.6f %.6f %.6f %.6f\n", i, r[i].mechanism, r[i].epsilon_claimed,
		        isfinite(r[i].finding.epsilon_hat) ? r[i].finding.epsilon_hat : NAN,
		        r[i].finding.epsilon_lb, r[i].finding_4sigma.epsilon_lb);
	fclose(f);
	if ((f = popen("gnuplot", "w")) == NULL)
		return -1;
	for (int svg = 0; svg < 2; svg++)
		fprintf(
		    f,
		    "set terminal %s size 900,500\nset output '%s.%s'\n"
		    "set title 'tally audit dp: empirical lower bounds beside the claims'\n"
		    "set ylabel 'epsilon'\nset yrange [0:*]\nset xrange [-0.5:%zu.5]\n"
		    "set xtics rotate by -30\nset key bottom right box opaque\nset grid ytics\n"
		    "plot '%s' using 1:3:xtic(2) with points pt 5 ps 1.5 title 'claimed epsilon', "
		    "'' using 1:4 with points pt 7 title 'point estimate', "
		    "'' using 1:5 with points pt 9 ps 1.5 title 'lower bound', "
		    "'' using 1:6 with points pt 11 title 'lower bound at 4 sigma'\n",
		    svg ? "svg" : "pngcairo", prefix, svg ? "svg" : "png", count - 1, path);
	if (pclose(f) != 0) {
		fprintf(stderr, "tally audit dp: --plot: gnuplot failed (is it installed?)\n");
		return -1;
	}
	return 0;
}

static void
print_row(const struct tly_audit_dp_result *r, const struct tly_audit_dp_options *o)
{
	printf("%-18s %8.4f %9.4f %9.4f %9.4f %10" PRIu64 " %8.1f  %s\n", r->mechanism,
	       r->epsilon_claimed, r->finding.epsilon_hat, r->finding.epsilon_lb,
	       r->finding_4sigma.epsilon_lb, r->draws, r->seconds, r->flagged ? "FLAGGED" : "ok");
	(void)o;
	fflush(stdout);
}

/* Run every selected mechanism; an exit code. */
static int
run_all(const struct cli *c, struct tly_audit_dp_result *results, size_t *count)
{
	char why[512];
	int flagged = 0;

	*count = 0;
	printf("%-18s %8s %9s %9s %9s %10s %8s  %s\n", "mechanism", "claimed", "eps_hat", "eps_lb",
	       "eps_lb_4s", "draws", "seconds", "verdict");
	for (size_t m = 0; m < TLY_AUDIT_DP_MECHANISMS; m++) {
		struct tly_audit_dp_result *r = &results[*count];
		if (!selected(tly_audit_dp_mechanisms[m], c->mechanism))
			continue;
		if (tly_audit_dp_run(&c->o, tly_audit_dp_mechanisms[m], r, why, sizeof why) !=
		    TLY_OK) {
			fprintf(stderr, "tally audit dp: %s: %s\n", tly_audit_dp_mechanisms[m],
			        why);
			return EXIT_FLAGGED;
		}
		print_row(r, &c->o);
		flagged |= r->flagged;
		++*count;
	}
	return flagged ? EXIT_FLAGGED : EXIT_CLEAN;
}

static int
write_outputs(const struct cli *c, const struct tly_audit_dp_result *results, size_t count)
{
	json_t *list = json_array();
	int rc = 0;

	for (size_t i = 0; list != NULL && i < count; i++)
		json_array_append_new(list, result_json(&results[i], &c->o));
	if (c->json != NULL && (list == NULL || write_json(c->json, list, &c->o) != 0))
		rc = -1;
	json_decref(list);
	if (c->plot != NULL && write_plot(c->plot, results, count) != 0)
		rc = -1;
	return rc;
}

int
tly_audit_dp_command(int argc, char **argv)
{
	struct tly_audit_dp_result results[TLY_AUDIT_DP_MECHANISMS];
	struct cli c;
	size_t count, m = 0;
	int rc;

	if ((rc = parse(&c, argc, argv)) >= 0)
		return rc;
	while (m < TLY_AUDIT_DP_MECHANISMS && !selected(tly_audit_dp_mechanisms[m], c.mechanism))
		m++;
	if (m == TLY_AUDIT_DP_MECHANISMS)
		return usage_error(
		    "--mechanism: \"%.40s\" names no mechanism (all, count, sum, "
		    "mean, histogram, rate, laplace, skellam, or e.g. count-laplace)",
		    c.mechanism);
	rc = run_all(&c, results, &count);
	if (count > 0 && write_outputs(&c, results, count) != 0)
		rc = EXIT_FLAGGED;
	return rc;
}
