#include "query.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ini.h>
#include <jansson.h>

#include <sodium.h>

#include "crypto/frac.h"
#include "crypto/wipe.h"
#include "store/keys.h"
#include "query/planner.h"
#include "net/process.h"
#include "net/transport.h"

enum {
	EXIT_USAGE = 2,
	EXIT_REFUSED = 3,
	EXIT_TOO_FEW = 4,
	EXIT_CONNECT = 5,
	WHERE_MAX = 16,
};

static const char usage[] =
    "usage: tally query [--config PLANNER.conf] (--spec FILE | QUESTION FLAGS)\n"
    "                   [--format table|csv|json] [--dry-run]\n"
    "\n"
    "Ask the federation a question through the coordinator's HTTPS API and print\n"
    "the released answer with its 95% intervals.\n"
    "\n"
    "  --config FILE       planner config: [planner] api, name, sign_key, tls_cert,\n"
    "                      tls_key, tls_ca\n"
    "  --api URL           override the API URL (https://HOST:PORT)\n"
    "  --cert/--key/--ca F override the planner certificate, key and CA (the\n"
    "                      coordinator's CA, coordinator-ca.crt)\n"
    "  --planner NAME      override the planner's name, and\n"
    "  --sign-key FILE     the key that signs the query (from tally pki issue)\n"
    "  --timeout MS        give up after MS milliseconds (default 120000)\n"
    "  --spec FILE         the query as JSON (see DESIGN.md section 7.2)\n"
    "  --format F          table (default), csv or json\n"
    "  --dry-run           ask nothing: print what the query would cost and the\n"
    "                      expected 95% half-width of each figure (POST\n"
    "                      /v1/queries/estimate); nothing is charged or logged\n"
    "\n"
    "Question flags, instead of --spec:\n"
    "  --dataset NAME      default patients\n"
    "  --count | --sum COL | --mean COL | --histogram COL --edges E0,E1,...\n"
    "  --rate \"COL OP VALUE\"    a rate: the rows matching it (repeatable: all of\n"
    "                      them) over all rows kept by --where, per group; with\n"
    "  --per N             1, 100, 1000 (default), 10000 or 100000, and\n"
    "  --standardise esp2013 --age-column COL   directly age-standardised to the\n"
    "                      European Standard Population 2013 (default per 100000)\n"
    "  --compare-to \"COL=VALUE[,COL=VALUE]\" [--compare ratio|difference]\n"
    "                      each group's rate against this group's\n"
    "  --where \"COL OP VALUE\"   OP: = != < <= > >= in (in takes V1,V2,...); repeatable\n"
    "  --by COL[,COL]      group by categorical columns\n"
    "  --epsilon E | --rho R   privacy: discrete Laplace (epsilon) or zCDP (rho)\n"
    "  --suppress-below N  --round-to R   disclosure control (costs no privacy)\n"
    "  --protocol P        committee, secagg or secagg+ (default: the coordinator's\n"
    "                      choice, by the number of trusts)\n"
    "\n"
    "Exit codes: 0 released; 2 invalid usage or query; 3 refused by policy or\n"
    "budget; 4 too few contributors, deadline missed, or the round aborted on\n"
    "inconsistent share-sums (nothing released); 5 connection or\n"
    "authentication failure.\n";

/* ---- the question from flags ---- */

struct flags {
	const char *config, *spec, *format, *api, *cert, *key, *ca, *dataset, *planner, *sign_key;
	const char *measure, *column, *edges, *by, *epsilon, *rho, *suppress, *round_to;
	const char *protocol;
	const char *where[WHERE_MAX];
	size_t where_count;
	const char *rate[WHERE_MAX]; /* --rate: the numerator's conditions */
	size_t rate_count;
	const char *per, *standard, *age_column, *compare_to, *compare;
	long timeout_ms;
	int timeout_given; /* --timeout overrides the planner config's */
	int dry_run;       /* POST /v1/queries/estimate instead */
};

enum {
	OPT_CONFIG = 1000,
	OPT_SPEC,
	OPT_FORMAT,
	OPT_API,
	OPT_CERT,
	OPT_KEY,
	OPT_CA,
	OPT_TIMEOUT,
	OPT_DATASET,
	OPT_COUNT,
	OPT_SUM,
	OPT_MEAN,
	OPT_HISTOGRAM,
	OPT_EDGES,
	OPT_WHERE,
	OPT_BY,
	OPT_EPSILON,
	OPT_RHO,
	OPT_SUPPRESS,
	OPT_ROUND,
	OPT_PROTOCOL,
	OPT_HELP,
	OPT_PLANNER,
	OPT_SIGN_KEY,
	OPT_DRY_RUN,
	OPT_RATE,
	OPT_PER,
	OPT_STANDARDISE,
	OPT_AGE_COLUMN,
	OPT_COMPARE_TO,
	OPT_COMPARE,
};

static const struct option options[] = {{"config", required_argument, NULL, OPT_CONFIG},
                                        {"spec", required_argument, NULL, OPT_SPEC},
                                        {"format", required_argument, NULL, OPT_FORMAT},
                                        {"api", required_argument, NULL, OPT_API},
                                        {"cert", required_argument, NULL, OPT_CERT},
                                        {"key", required_argument, NULL, OPT_KEY},
                                        {"ca", required_argument, NULL, OPT_CA},
                                        {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                        {"dataset", required_argument, NULL, OPT_DATASET},
                                        {"count", no_argument, NULL, OPT_COUNT},
                                        {"sum", required_argument, NULL, OPT_SUM},
                                        {"mean", required_argument, NULL, OPT_MEAN},
                                        {"histogram", required_argument, NULL, OPT_HISTOGRAM},
                                        {"edges", required_argument, NULL, OPT_EDGES},
                                        {"where", required_argument, NULL, OPT_WHERE},
                                        {"by", required_argument, NULL, OPT_BY},
                                        {"epsilon", required_argument, NULL, OPT_EPSILON},
                                        {"rho", required_argument, NULL, OPT_RHO},
                                        {"suppress-below", required_argument, NULL, OPT_SUPPRESS},
                                        {"round-to", required_argument, NULL, OPT_ROUND},
                                        {"protocol", required_argument, NULL, OPT_PROTOCOL},
                                        {"help", no_argument, NULL, OPT_HELP},
                                        {"planner", required_argument, NULL, OPT_PLANNER},
                                        {"sign-key", required_argument, NULL, OPT_SIGN_KEY},
                                        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                                        {"rate", required_argument, NULL, OPT_RATE},
                                        {"per", required_argument, NULL, OPT_PER},
                                        {"standardise", required_argument, NULL, OPT_STANDARDISE},
                                        {"standardize", required_argument, NULL, OPT_STANDARDISE},
                                        {"age-column", required_argument, NULL, OPT_AGE_COLUMN},
                                        {"compare-to", required_argument, NULL, OPT_COMPARE_TO},
                                        {"compare", required_argument, NULL, OPT_COMPARE},
                                        {"group-by", required_argument, NULL, OPT_BY},
                                        {NULL, 0, NULL, 0}};

/* The flags that say where and how to ask: 1 when c is one of them. */
static int
connection_flag(int c, struct flags *f)
{
	switch (c) {
	case OPT_CONFIG:
		f->config = optarg;
		return 1;
	case OPT_SPEC:
		f->spec = optarg;
		return 1;
	case OPT_FORMAT:
		f->format = optarg;
		return 1;
	case OPT_API:
		f->api = optarg;
		return 1;
	case OPT_CERT:
		f->cert = optarg;
		return 1;
	case OPT_KEY:
		f->key = optarg;
		return 1;
	case OPT_CA:
		f->ca = optarg;
		return 1;
	case OPT_PLANNER:
		f->planner = optarg;
		return 1;
	case OPT_SIGN_KEY:
		f->sign_key = optarg;
		return 1;
	case OPT_TIMEOUT:
		f->timeout_ms = strtol(optarg, NULL, 10);
		f->timeout_given = 1;
		return 1;
	case OPT_DRY_RUN:
		f->dry_run = 1;
		return 1;
	default:
		return 0;
	}
}

/* The flags that shape the question (measure, filters, privacy): 1 when c
 * is one of them, EXIT_USAGE (why set) when its value is refused. */
static int
measure_flag(int c, struct flags *f, char *why, size_t why_len)
{
	switch (c) {
	case OPT_DATASET:
		f->dataset = optarg;
		return 1;
	case OPT_COUNT:
		f->measure = "count";
		return 1;
	case OPT_SUM:
	case OPT_MEAN:
	case OPT_HISTOGRAM:
		f->measure = c == OPT_SUM ? "sum" : c == OPT_MEAN ? "mean" : "histogram";
		f->column = optarg;
		return 1;
	case OPT_EDGES:
		f->edges = optarg;
		return 1;
	case OPT_WHERE:
		if (f->where_count == WHERE_MAX) {
			tly_say(why, why_len, "--where: at most %d conditions", WHERE_MAX);
			return EXIT_USAGE;
		}
		f->where[f->where_count++] = optarg;
		return 1;
	case OPT_BY:
		f->by = optarg;
		return 1;
	case OPT_EPSILON:
		f->epsilon = optarg;
		return 1;
	case OPT_RHO:
		f->rho = optarg;
		return 1;
	case OPT_SUPPRESS:
		f->suppress = optarg;
		return 1;
	case OPT_ROUND:
		f->round_to = optarg;
		return 1;
	case OPT_PROTOCOL:
		f->protocol = optarg;
		return 1;
	default:
		return 0;
	}
}

/* The flags of a rate or dsr: 1 when c is one of them, EXIT_USAGE (why
 * set) when its value is refused. */
static int
rate_flag(int c, struct flags *f, char *why, size_t why_len)
{
	switch (c) {
	case OPT_RATE:
		if (f->rate_count == WHERE_MAX) {
			tly_say(why, why_len, "--rate: at most %d conditions", WHERE_MAX);
			return EXIT_USAGE;
		}
		f->rate[f->rate_count++] = optarg;
		f->measure = f->standard != NULL ? "dsr" : "rate";
		return 1;
	case OPT_PER:
		f->per = optarg;
		return 1;
	case OPT_STANDARDISE:
		f->standard = optarg;
		if (f->rate_count > 0)
			f->measure = "dsr";
		return 1;
	case OPT_AGE_COLUMN:
		f->age_column = optarg;
		return 1;
	case OPT_COMPARE_TO:
		f->compare_to = optarg;
		return 1;
	case OPT_COMPARE:
		f->compare = optarg;
		return 1;
	default:
		return 0;
	}
}

/* 0 on success; EXIT_USAGE with why set otherwise; -1 for --help. */
static int
parse_flags(int argc, char **argv, struct flags *f, char *why, size_t why_len)
{
	int c, rv;

	memset(f, 0, sizeof *f);
	f->format = "table";
	f->dataset = "patients";
	f->timeout_ms = 120000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_HELP)
			return -1;
		if (connection_flag(c, f))
			continue;
		if ((rv = measure_flag(c, f, why, why_len)) == 0)
			rv = rate_flag(c, f, why, why_len);
		if (rv == EXIT_USAGE)
			return EXIT_USAGE;
		if (rv == 0) {
			char message[400];
			tly_process_option_error(message, sizeof message, options, argc, argv);
			tly_say(why, why_len, "%s (see 'tally query --help')", message);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		tly_say(why, why_len, "unexpected argument \"%s\"", argv[optind]);
		return EXIT_USAGE;
	}
	if (strcmp(f->format, "table") != 0 && strcmp(f->format, "csv") != 0 &&
	    strcmp(f->format, "json") != 0) {
		tly_say(why, why_len, "--format: \"%s\" is not table, csv or json", f->format);
		return EXIT_USAGE;
	}
	if (f->timeout_ms <= 0) {
		tly_say(why, why_len, "--timeout: a positive number of milliseconds");
		return EXIT_USAGE;
	}
	return 0;
}

/* An integer if the whole text is one, else a string. */
static json_t *
scalar(const char *text)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (*text != '\0' && *end == '\0' && errno == 0)
		return json_integer(v);
	return json_string(text);
}

static json_t *
list_of(const char *text, int integers)
{
	json_t *list = json_array();
	char *copy = strdup(text), *save = NULL;
	if (copy == NULL || list == NULL) {
		free(copy);
		json_decref(list);
		return NULL;
	}
	for (char *item = strtok_r(copy, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ')
			item++;
		json_array_append_new(list, integers ? scalar(item) : json_string(item));
	}
	free(copy);
	return list;
}

static json_t *
condition(const char *text, char *why, size_t why_len)
{
	static const char *const ops[] = {"<=", ">=", "!=", "=", "<", ">", " in "};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		const char *at = strstr(text, ops[i]);
		if (at == NULL)
			continue;
		char column[128];
		size_t n = (size_t)(at - text);
		while (n > 0 && text[n - 1] == ' ')
			n--;
		if (n == 0 || n >= sizeof column)
			break;
		memcpy(column, text, n);
		column[n] = '\0';
		const char *value = at + strlen(ops[i]);
		while (*value == ' ')
			value++;
		const char *op = strcmp(ops[i], " in ") == 0 ? "in" : ops[i];
		json_t *v = strcmp(op, "in") == 0 ? list_of(value, 1) : scalar(value);
		return json_pack("{s:s, s:s, s:o}", "column", column, "op", op, "value", v);
	}
	tly_say(why, why_len,
	        "--where \"%s\": expected \"COLUMN OP VALUE\" with OP one of = != < <= "
	        "> >= in",
	        text);
	return NULL;
}

/* The measure of --rate: {"op": "rate" or "dsr", "numerator", "per",
 * "age_column", "standard"}; NULL after saying why. */
static json_t *
rate_measure(const struct flags *f, char *why, size_t why_len)
{
	json_t *m = json_pack("{s:s}", "op", f->measure), *numerator = json_array();

	json_object_set_new(m, "numerator", numerator);
	for (size_t i = 0; i < f->rate_count; i++) {
		json_t *cond = condition(f->rate[i], why, why_len);
		if (cond == NULL) {
			json_decref(m);
			return NULL;
		}
		json_array_append_new(numerator, cond);
	}
	if (f->per != NULL)
		json_object_set_new(m, "per", scalar(f->per));
	if (strcmp(f->measure, "dsr") == 0) {
		json_object_set_new(m, "standard", json_string(f->standard));
		json_object_set_new(m, "age_column",
		                    json_string(f->age_column != NULL ? f->age_column : "age"));
	}
	return m;
}

/* "compare": {"to": {COL: VALUE, ...}, "as"} from --compare-to and
 * --compare; NULL after saying why. */
static json_t *
compare_object(const struct flags *f, char *why, size_t why_len)
{
	json_t *to = json_object();
	char *copy = strdup(f->compare_to), *save = NULL;

	for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (eq == NULL || eq == item) {
			tly_say(why, why_len, "--compare-to \"%s\": expected COL=VALUE[,COL=VALUE]",
			        f->compare_to);
			free(copy);
			json_decref(to);
			return NULL;
		}
		*eq = '\0';
		json_object_set_new(to, item, json_string(eq + 1));
	}
	free(copy);
	return json_pack("{s:o, s:s}", "to", to, "as", f->compare ? f->compare : "ratio");
}

/* The measure of the flags (a new reference), and the query's "compare"
 * set in q when asked; NULL after saying why. */
static json_t *
measure_object(const struct flags *f, json_t *q, char *why, size_t why_len)
{
	json_t *compare, *measure;

	if (f->rate_count == 0) {
		const char *rate_only = f->per != NULL          ? "--per"
		                        : f->standard != NULL   ? "--standardise"
		                        : f->age_column != NULL ? "--age-column"
		                        : f->compare_to != NULL ? "--compare-to"
		                        : f->compare != NULL    ? "--compare"
		                                                : NULL;
		if (rate_only != NULL) {
			tly_say(why, why_len, "%s needs --rate COLUMN=VALUE", rate_only);
			return NULL;
		}
		return json_pack("{s:s}", "op", f->measure);
	}
	measure = rate_measure(f, why, why_len);
	if (measure == NULL || f->compare_to == NULL)
		return measure;
	compare = compare_object(f, why, why_len);
	if (compare == NULL) {
		json_decref(measure);
		return NULL;
	}
	json_object_set_new(q, "compare", compare);
	return measure;
}

static char *
build_json(const struct flags *f, char *why, size_t why_len)
{
	if (f->measure == NULL) {
		tly_say(why, why_len,
		        "give --spec FILE, or a measure: --count, --sum COL, --mean COL, "
		        "--histogram COL or --rate COL=VALUE");
		return NULL;
	}
	if ((f->epsilon == NULL) == (f->rho == NULL)) {
		tly_say(why, why_len, "give exactly one of --epsilon E or --rho R");
		return NULL;
	}
	json_t *q = json_object(), *measure = measure_object(f, q, why, why_len);
	if (measure == NULL) {
		json_decref(q);
		return NULL;
	}
	json_object_set_new(q, "dataset", json_string(f->dataset));
	if (f->column != NULL)
		json_object_set_new(measure, "column", json_string(f->column));
	if (strcmp(f->measure, "histogram") == 0) {
		if (f->edges == NULL) {
			tly_say(why, why_len, "--histogram needs --edges E0,E1,...");
			json_decref(measure);
			json_decref(q);
			return NULL;
		}
		json_object_set_new(measure, "edges", list_of(f->edges, 1));
	}
	json_object_set_new(q, "measure", measure);
	if (f->where_count > 0) {
		json_t *where = json_array();
		for (size_t i = 0; i < f->where_count; i++) {
			json_t *cond = condition(f->where[i], why, why_len);
			if (cond == NULL) {
				json_decref(where);
				json_decref(q);
				return NULL;
			}
			json_array_append_new(where, cond);
		}
		json_object_set_new(q, "where", where);
	}
	if (f->by != NULL)
		json_object_set_new(q, "group_by", list_of(f->by, 0));
	const char *amount = f->epsilon != NULL ? f->epsilon : f->rho;
	char *end;
	double value = strtod(amount, &end);
	if (*end != '\0' || end == amount) {
		tly_say(why, why_len, "--%s: \"%s\" is not a number",
		        f->epsilon ? "epsilon" : "rho", amount);
		json_decref(q);
		return NULL;
	}
	json_object_set_new(q, "privacy",
	                    json_pack("{s:s, s:f}", "mechanism",
	                              f->epsilon ? "laplace" : "gaussian",
	                              f->epsilon ? "epsilon" : "rho", value));
	if (f->suppress != NULL || f->round_to != NULL) {
		json_t *sdc = json_object();
		if (f->suppress != NULL)
			json_object_set_new(sdc, "suppress_below", scalar(f->suppress));
		if (f->round_to != NULL)
			json_object_set_new(sdc, "round_to", scalar(f->round_to));
		json_object_set_new(q, "sdc", sdc);
	}
	if (f->protocol != NULL)
		json_object_set_new(q, "protocol", json_string(f->protocol));
	char *text = json_dumps(q, JSON_COMPACT);
	json_decref(q);
	if (text == NULL)
		tly_say(why, why_len, "out of memory");
	return text;
}

char *
tly_query_from_flags(int argc, char **argv, char *why, size_t why_len)
{
	struct flags f;
	if (parse_flags(argc, argv, &f, why, why_len) != 0)
		return NULL;
	return build_json(&f, why, why_len);
}

/* ---- the planner config ---- */

struct planner {
	char api[512], cert[4096], key[4096], ca[4096];
	char name[TLY_PLANNER_NAME_MAX + 1], sign_key[4096];
	long timeout_ms;
	char dir[4096];
	char error[300];
};

static int
planner_key(void *user, const char *section, const char *key, const char *value)
{
	struct planner *p = user;
	char *target = NULL;
	size_t size = 0;

	if (strcmp(section, "planner") != 0) {
		snprintf(p->error, sizeof p->error, "unknown section [%s]", section);
		return 0;
	}
	if (strcmp(key, "api") == 0) {
		snprintf(p->api, sizeof p->api, "%s", value);
		return 1;
	}
	if (strcmp(key, "timeout_ms") == 0) {
		char *end;
		errno = 0;
		p->timeout_ms = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || p->timeout_ms <= 0 ||
		    p->timeout_ms > INT_MAX) {
			snprintf(p->error, sizeof p->error,
			         "planner.timeout_ms: \"%.40s\" is not a number of milliseconds, "
			         "1 to %d",
			         value, INT_MAX);
			return 0;
		}
		return 1;
	}
	if (strcmp(key, "name") == 0) {
		if (!tly_planner_name_valid(value)) {
			snprintf(p->error, sizeof p->error,
			         "planner.name: use 1 to %d of A-Z a-z 0-9 . _ -",
			         TLY_PLANNER_NAME_MAX);
			return 0;
		}
		snprintf(p->name, sizeof p->name, "%s", value);
		return 1;
	}
	if (strcmp(key, "tls_cert") == 0)
		target = p->cert, size = sizeof p->cert;
	else if (strcmp(key, "tls_key") == 0)
		target = p->key, size = sizeof p->key;
	else if (strcmp(key, "tls_ca") == 0)
		target = p->ca, size = sizeof p->ca;
	else if (strcmp(key, "sign_key") == 0)
		target = p->sign_key, size = sizeof p->sign_key;
	if (target == NULL) {
		snprintf(p->error, sizeof p->error, "planner.%s: unknown key", key);
		return 0;
	}
	int n = value[0] == '/' ? snprintf(target, size, "%s", value)
	                        : snprintf(target, size, "%s/%s", p->dir, value);
	if (n < 0 || (size_t)n >= size) {
		snprintf(p->error, sizeof p->error, "planner.%s: path too long", key);
		return 0;
	}
	return 1;
}

static int
load_planner(const char *path, struct planner *p, char *why, size_t why_len)
{
	memset(p, 0, sizeof *p);
	snprintf(p->dir, sizeof p->dir, "%s", path);
	char *slash = strrchr(p->dir, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		snprintf(p->dir, sizeof p->dir, ".");
	int line = ini_parse(path, planner_key, p);
	if (line < 0) {
		tly_say(why, why_len, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (line > 0) {
		tly_say(why, why_len, "%s:%d: %s", path, line, p->error[0] ? p->error : "bad line");
		return -1;
	}
	return 0;
}

/* ---- printing the answer ---- */

static void
print_value(FILE *out, json_t *v)
{
	if (json_is_integer(v))
		fprintf(out, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		fprintf(out, "%.2f", json_real_value(v));
	else if (json_is_null(v) || v == NULL)
		fprintf(out, "suppressed");
	else if (json_is_string(v))
		fprintf(out, "%s", json_string_value(v));
}

static void
print_group(FILE *out, json_t *group, const char *sep, int width)
{
	const char *key;
	json_t *value;
	int first = 1;
	json_object_foreach(group, key, value)
	{
		fprintf(out, "%s", first ? "" : sep);
		if (width > 0)
			fprintf(out, "%-*s", width,
			        json_is_string(value) ? json_string_value(value) : "?");
		else
			fprintf(out, "%s", json_is_string(value) ? json_string_value(value) : "?");
		first = 0;
	}
	(void)key;
}

/* A string member for printing: "?" when absent or not a string (never
 * NULL through "%s"). */
static const char *
text_of(json_t *v)
{
	const char *s = json_string_value(v);
	return s != NULL ? s : "?";
}

/* The release's "description" (every filter, in words) on one line:
 * control characters, which a coordinator's JSON could carry, become '?'
 * so that the line cannot be broken. */
static void
print_description(FILE *out, const char *prefix, json_t *result)
{
	const char *text = json_string_value(json_object_get(result, "description"));

	fputs(prefix, out);
	if (text == NULL)
		text = "(the coordinator sent no description of the query)";
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
	fputc('\n', out);
}

/* A string from the release, on one line (control characters as '?'). */
static void
put_line(FILE *out, const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

/* The strings of a JSON array, joined by sep ("(none)" when empty). */
static void
put_list(FILE *out, json_t *list, const char *sep)
{
	size_t i;
	json_t *v;

	if (json_array_size(list) == 0)
		fputs("(none)", out);
	json_array_foreach(list, i, v)
	{
		fputs(i > 0 ? sep : "", out);
		if (json_is_integer(v))
			fprintf(out, "%lld", (long long)json_integer_value(v));
		else
			put_line(out, text_of(v));
	}
}

/* An exact figure ("0.5", "1/3") as a decimal for people, rounded up (a
 * cost: crypto/frac.h); as it is when it is not "num/den". */
static void
put_cost(FILE *out, const char *exact)
{
	unsigned long long num, den;
	char end, text[48];

	if (sscanf(exact, "%llu/%llu%c", &num, &den, &end) == 2 && den != 0) {
		tly_frac_decimal(text, sizeof text, (struct tly_fraction){num, den},
		                 TLY_FRAC_PLACES, TLY_FRAC_UP);
		fprintf(out, "%s (rounded up; exactly %s)", text, exact);
	} else {
		put_line(out, exact);
	}
}

static void
put_privacy(FILE *out, json_t *privacy)
{
	json_t *rho = json_object_get(privacy, "rho_exact");

	if (rho != NULL) {
		fputs("rho ", out);
		put_cost(out, text_of(rho));
		fprintf(out, " at each trust (zCDP, Skellam noise; epsilon %.3g at delta %.0e)",
		        json_number_value(json_object_get(privacy, "epsilon")),
		        json_number_value(json_object_get(privacy, "delta")));
	} else if (json_object_get(privacy, "epsilon_exact") != NULL) {
		fputs("epsilon ", out);
		put_cost(out, text_of(json_object_get(privacy, "epsilon_exact")));
		fputs(" at each trust (discrete Laplace noise, delta 0)", out);
	} else {
		put_line(out, text_of(json_object_get(privacy, "mechanism")));
	}
}

/* What was asked and who answered, one "name: value" line each, as fmt
 * formats the name: the query id, the question (when with_question), its
 * filters and grouping, the privacy cost, the protocol, the trusts that
 * took part and the noise. */
static void
print_facts(FILE *out, json_t *result, const char *prefix, const char *fmt, int with_question)
{
	json_t *privacy = json_object_get(result, "privacy"), *dropped;
	const char *names[] = {"query id",     "question", "filters", "grouped by",
	                       "privacy cost", "protocol", "trusts",  "noise"};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (i == 1 && !with_question)
			continue;
		fputs(prefix, out);
		fprintf(out, fmt, names[i]);
		switch (i) {
		case 0:
			put_line(out, text_of(json_object_get(result, "query_id")));
			break;
		case 1:
			print_description(out, "", result);
			continue;
		case 2:
			put_list(out, json_object_get(result, "filters"), ", ");
			break;
		case 3:
			put_list(out, json_object_get(result, "group_by"), ", ");
			break;
		case 4:
			put_privacy(out, privacy);
			break;
		case 5:
			put_line(out, text_of(json_object_get(result, "protocol")));
			break;
		case 6:
			fprintf(
			    out, "%lld took part: ",
			    (long long)json_integer_value(json_object_get(result, "contributors")));
			put_list(out, json_object_get(result, "trusts"), ", ");
			if (json_array_size(dropped = json_object_get(result, "dropped")) > 0) {
				fputs(" (dropped: ", out);
				put_list(out, dropped, ", ");
				fputs(")", out);
			}
			break;
		default:
			fprintf(out, "sd %.2f, 95%% half-width %lld",
			        json_number_value(json_object_get(privacy, "noise_sd")),
			        (long long)json_integer_value(
			            json_object_get(privacy, "ci95_half_width")));
		}
		fputc('\n', out);
	}
}

/* ---- the extra columns of a rate or dsr ---- */

/* "ratio" or "difference" when the release compares groups, "" for a
 * rate without comparison, NULL when the release is not a rate. */
static const char *
rate_kind(json_t *result)
{
	const char *op =
	    json_string_value(json_object_get(json_object_get(result, "measure"), "op"));
	json_t *first = json_array_get(json_object_get(result, "cells"), 0);

	if (op == NULL || (strcmp(op, "rate") != 0 && strcmp(op, "dsr") != 0))
		return NULL;
	if (json_object_get(first, "ratio") != NULL)
		return "ratio";
	return json_object_get(first, "difference") != NULL ? "difference" : "";
}

static void
rate_header(FILE *out, json_t *result, int csv)
{
	const char *kind = rate_kind(result);

	if (kind == NULL)
		return;
	if (!csv)
		return;
	fputs(",numerator,denominator", out);
	if (kind[0] != '\0')
		fprintf(out, ",%s,%s_low,%s_high", kind, kind, kind);
}

/* The parts, and the comparison, of one cell; empty fields when null. */
static void
rate_row(FILE *out, json_t *result, json_t *cell, int csv)
{
	const char *kind = rate_kind(result);
	json_t *n = json_object_get(json_object_get(cell, "numerator"), "value");
	json_t *d = json_object_get(json_object_get(cell, "denominator"), "value");

	if (kind == NULL)
		return;
	json_t *parts[2] = {n, d};
	for (size_t i = 0; i < 2; i++) {
		fputs(csv ? "," : i == 0 ? "  numerator " : " of ", out);
		if (json_is_integer(parts[i]))
			fprintf(out, "%lld", (long long)json_integer_value(parts[i]));
		else if (!csv)
			fputs("-", out);
	}
	if (kind[0] == '\0')
		return;
	json_t *c = json_object_get(cell, kind), *ci = json_object_get(c, "ci95");
	fputs(csv ? "," : "  ", out);
	if (!csv && json_is_object(c))
		fprintf(out, "%s ", kind);
	if (json_is_number(json_object_get(c, "value")))
		fprintf(out, "%.3f", json_number_value(json_object_get(c, "value")));
	else if (json_object_get(cell, "reference") == json_true())
		fputs(csv ? "" : "(reference)", out);
	for (size_t i = 0; i < 2 && json_is_object(c); i++) {
		json_t *end = json_array_get(ci, i);
		fputs(csv ? "," : i == 0 ? " [" : ", ", out);
		if (json_is_number(end))
			fprintf(out, "%.3f", json_number_value(end));
		else
			fputs(csv ? "" : "inf", out);
	}
	if (!csv && json_is_object(c))
		fputs("]", out);
	else if (csv && !json_is_object(c))
		fputs(",,", out);
}

static void
print_table(FILE *out, json_t *result)
{
	json_t *cells = json_object_get(result, "cells");
	json_t *first = json_array_get(cells, 0);
	const char *key;
	json_t *v;
	size_t i;

	print_facts(out, result, "", "%-14s", 1);
	fprintf(out, "\n");

	json_object_foreach(json_object_get(first, "group"), key, v) fprintf(out, "%-20s", key);
	fprintf(out, "%14s  %s", "value", "95% interval");
	rate_header(out, result, 0);
	fprintf(out, "\n");
	json_array_foreach(cells, i, v)
	{
		print_group(out, json_object_get(v, "group"), "", 20);
		json_t *value = json_object_get(v, "value"), *ci = json_object_get(v, "ci95");
		char text[64] = "";
		FILE *mem = fmemopen(text, sizeof text, "w");
		if (mem != NULL) {
			print_value(mem, value);
			fclose(mem);
		}
		fprintf(out, "%14s", text);
		if (json_array_size(ci) == 2 && !json_is_null(value)) {
			fprintf(out, "  [");
			print_value(out, json_array_get(ci, 0));
			fprintf(out, ", ");
			print_value(out, json_array_get(ci, 1));
			fprintf(out, "]");
		}
		rate_row(out, result, v, 0);
		fprintf(out, "\n");
	}
}

static void
print_csv(FILE *out, json_t *result)
{
	json_t *cells = json_object_get(result, "cells"), *first = json_array_get(cells, 0), *v;
	const char *key;
	size_t i;

	/* Comment lines first: what was asked, with every filter, then each
	 * fact of the table's header as "# name: value" (a reader skips lines
	 * that start with '#': pandas comment='#', R comment.char). */
	print_description(out, "# ", result);
	print_facts(out, result, "# ", "%s: ", 0);
	json_object_foreach(json_object_get(first, "group"), key, v) fprintf(out, "%s,", key);
	fprintf(out, "value,ci95_low,ci95_high");
	rate_header(out, result, 1);
	fprintf(out, "\n");
	json_array_foreach(cells, i, v)
	{
		json_t *group = json_object_get(v, "group");
		if (json_object_size(group) > 0) {
			print_group(out, group, ",", 0);
			fprintf(out, ",");
		}
		json_t *value = json_object_get(v, "value"), *ci = json_object_get(v, "ci95");
		if (json_is_null(value)) {
			fprintf(out, ",,");
		} else {
			print_value(out, value);
			fprintf(out, ",");
			print_value(out, json_array_get(ci, 0));
			fprintf(out, ",");
			print_value(out, json_array_get(ci, 1));
		}
		rate_row(out, result, v, 1);
		fprintf(out, "\n");
	}
}

/* The exit code for an error JSON from the API. */
static int
report_error(FILE *err, int status, json_t *body)
{
	json_t *error = json_object_get(body, "error");
	const char *code = json_string_value(json_object_get(error, "code"));
	const char *field = json_string_value(json_object_get(error, "field"));
	const char *message = json_string_value(json_object_get(error, "message"));

	json_int_t retry = json_integer_value(json_object_get(error, "retry_after"));

	fprintf(err, "tally query: %s%s%s%s\n", field ? field : "", field ? ": " : "",
	        message ? message : "the coordinator refused the query", code ? "" : "");
	if (status == 429 && retry > 0) /* queue full or over the planner's rate */
		fprintf(err,
		        "tally query: the coordinator asks to wait %lld s before asking again\n",
		        (long long)retry);
	if (code == NULL)
		return status >= 500 ? 1 : EXIT_USAGE;
	if (strcmp(code, "invalid_query") == 0 || strcmp(code, "invalid_request") == 0)
		return EXIT_USAGE;
	/* The coordinator does not know who asked: an authentication failure. */
	if (strcmp(code, "unauthenticated") == 0)
		return EXIT_CONNECT;
	if (strcmp(code, "refused") == 0 || strcmp(code, "budget") == 0)
		return EXIT_REFUSED;
	/* inconsistent: the round aborted because the share-sums did not lie
	 * on one polynomial (a node equivocated or a member lied); nothing was
	 * released, as when too few answered. */
	if (strcmp(code, "too_few") == 0 || strcmp(code, "deadline") == 0 ||
	    strcmp(code, "inconsistent") == 0)
		return EXIT_TOO_FEW;
	return 1;
}

int
tly_query_answer(FILE *out, FILE *err, int status, const uint8_t *response, size_t len,
                 const char *format)
{
	json_error_t jerr;
	json_t *body = json_loadb((const char *)response, len, 0, &jerr);
	int rc;

	if (body == NULL) {
		fprintf(err, "tally query: the API answered %d with no JSON\n", status);
		return 1;
	}
	if (status != 200) {
		rc = report_error(err, status, body);
	} else if (strcmp(format, "json") == 0) {
		fwrite(response, 1, len, out);
		fputc('\n', out);
		rc = 0;
	} else if (json_is_true(json_object_get(body, "dry_run"))) {
		tly_query_print_estimate(out, body, strcmp(format, "csv") == 0);
		rc = 0;
	} else {
		(strcmp(format, "csv") == 0 ? print_csv : print_table)(out, body);
		rc = 0;
	}
	json_decref(body);
	return rc;
}

tly_err
tly_query_sign(char out[static TLY_PLANNER_HEADER_MAX], const char *name, const char *sign_key,
               const char *method, const char *path, const uint8_t *body, size_t len, char *why,
               size_t why_len)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES], nonce[TLY_PLANNER_NONCE_BYTES];
	struct tly_sign_key *key = NULL;
	tly_err rv = tly_key_file_read(sign_key, seed, sizeof seed, why, why_len);

	if (rv == TLY_OK && (rv = tly_sign_key_alloc(&key, seed)) != TLY_OK)
		tly_say(why, why_len, "%s: %s", sign_key, tly_strerror(rv));
	TLY_WIPE_OBJ(seed);
	if (rv != TLY_OK)
		return rv;
	randombytes_buf(nonce, sizeof nonce);
	rv = tly_planner_sign(out, name, key, method, path, body, len, (uint64_t)time(NULL), nonce);
	if (rv != TLY_OK)
		tly_say(why, why_len, "cannot sign the request as %s: %s", name, tly_strerror(rv));
	tly_sign_key_free(key);
	return rv;
}

/* Both or neither of the planner's name and signing key; with neither the
 * request goes unsigned (and a coordinator answers 403). */
static int
check_identity(const struct planner *p, char *why, size_t why_len)
{
	if ((p->name[0] == '\0') == (p->sign_key[0] == '\0'))
		return 0;
	tly_say(why, why_len,
	        "%s is missing (%s is set): give both, in the planner config "
	        "(planner.name, planner.sign_key) or as --planner and --sign-key",
	        p->name[0] == '\0' ? "planner.name" : "planner.sign_key",
	        p->name[0] == '\0' ? "sign_key" : "name");
	return EXIT_USAGE;
}

/* Step 2: the planner from its config, then the flags over it. Returns 0,
 * or EXIT_USAGE after saying why. */
static int
settle_planner(const struct flags *f, struct planner *p)
{
	char why[600];

	memset(p, 0, sizeof *p);
	if (f->config != NULL && load_planner(f->config, p, why, sizeof why) != 0) {
		fprintf(stderr, "tally query: %s\n", why);
		return EXIT_USAGE;
	}
	/* After load_planner, which clears p: the flag wins over the config. */
	if (f->timeout_given || p->timeout_ms <= 0)
		p->timeout_ms = f->timeout_ms;
	if (f->api)
		snprintf(p->api, sizeof p->api, "%s", f->api);
	if (f->cert)
		snprintf(p->cert, sizeof p->cert, "%s", f->cert);
	if (f->key)
		snprintf(p->key, sizeof p->key, "%s", f->key);
	if (f->ca)
		snprintf(p->ca, sizeof p->ca, "%s", f->ca);
	if (f->planner)
		snprintf(p->name, sizeof p->name, "%s", f->planner);
	if (f->sign_key)
		snprintf(p->sign_key, sizeof p->sign_key, "%s", f->sign_key);
	if (check_identity(p, why, sizeof why) != 0) {
		fprintf(stderr, "tally query: %s\n", why);
		return EXIT_USAGE;
	}
	if (p->api[0] == '\0') {
		fprintf(stderr,
		        "tally query: no API URL: give --config PLANNER.conf or --api URL\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* Step 3: the query's JSON, read from --spec FILE or built from the flags
 * (malloc'd, its length in *len). NULL after saying why. */
static char *
query_body(const struct flags *f, size_t *len)
{
	char why[600], *json;

	if (f->spec != NULL) {
		FILE *in = fopen(f->spec, "r");
		json = in != NULL ? malloc(TLY_HTTP_BODY_MAX + 1) : NULL;
		if (json == NULL) {
			fprintf(stderr, "tally query: %s: %s\n", f->spec, strerror(errno));
			if (in != NULL)
				fclose(in);
			return NULL;
		}
		*len = fread(json, 1, TLY_HTTP_BODY_MAX, in);
		json[*len] = '\0';
		fclose(in);
	} else {
		json = build_json(f, why, sizeof why);
		if (json == NULL) {
			fprintf(stderr, "tally query: %s\n", why);
			return NULL;
		}
		*len = strlen(json);
	}
	return json;
}

/* Step 4: POST the query to path (/v1/queries, or /v1/queries/estimate
 * for a dry run), signed when the planner has a name, and the answer
 * printed. Frees json. Returns the exit code. */
static int
post_query(const struct planner *p, const char *path, const char *format, char *json, size_t len)
{
	char url[700], why[600];
	snprintf(url, sizeof url, "%s%s", p->api, path);
	struct tly_tls_files tls = {.cert = p->cert, .key = p->key, .ca = p->ca};
	int status = 0;
	uint8_t *response = NULL;
	size_t response_len = 0;
	char auth[TLY_PLANNER_HEADER_MAX];
	if (p->name[0] != '\0' &&
	    tly_query_sign(auth, p->name, p->sign_key, "POST", path, (const uint8_t *)json, len,
	                   why, sizeof why) != TLY_OK) {
		fprintf(stderr, "tally query: %s\n", why);
		free(json);
		return EXIT_USAGE;
	}
	tly_err rv =
	    tly_https_request_signed(url, "POST", strncmp(url, "https:", 6) == 0 ? &tls : NULL,
	                             p->name[0] != '\0' ? auth : NULL, (const uint8_t *)json, len,
	                             (int)(p->timeout_ms > 0 ? p->timeout_ms : 120000), &status,
	                             &response, &response_len, why, sizeof why);
	free(json);
	if (rv != TLY_OK) {
		fprintf(stderr, "tally query: %s: %s\n", p->api, why);
		return rv == TLY_ETIMEDOUT ? EXIT_TOO_FEW : EXIT_CONNECT;
	}
	int rc = tly_query_answer(stdout, stderr, status, response, response_len, format);
	free(response);
	return rc;
}

int
tly_query_main(int argc, char **argv)
{
	struct flags f;
	struct planner p;
	char why[600], *json;
	size_t len;

	/* Step 1 */
	int rc = parse_flags(argc, argv, &f, why, sizeof why);
	if (rc == -1) {
		fputs(usage, stdout);
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "tally query: %s\n", why);
		return EXIT_USAGE;
	}
	/* Step 2 */
	if (settle_planner(&f, &p) != 0)
		return EXIT_USAGE;
	/* Step 3 */
	json = query_body(&f, &len);
	if (json == NULL)
		return EXIT_USAGE;
	/* Step 4 */
	return post_query(&p, f.dry_run ? "/v1/queries/estimate" : "/v1/queries", f.format, json,
	                  len);
}
