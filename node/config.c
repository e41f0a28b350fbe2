#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/frac.h"
#include "crypto/wipe.h"
#include "node/pg.h"
#include "query/noise.h"
#include "net/transport.h"
#include "store/ini.h"

struct parse {
	struct tly_node_config *cfg;
	struct tly_ini_source *src; /* NULL after the reading: errors name no line */
	struct tly_field_error *err;
	const char *dir;
	struct tly_node_dataset *dataset; /* of the current [dataset NAME] section */
	char current_section[96];
	int current_section_number;                   /* src->sections when it started */
	char *allowed_columns[TLY_SPEC_DATASETS_MAX]; /* "columns" lists, per dataset */
	bool seen_conninfo[TLY_SPEC_DATASETS_MAX];
	bool seen_id, seen_coordinator, seen_sign_key, seen_kx_key, seen_ledger;
	char section_keys[2048]; /* "\nkey\n..." of the current section */
};

static void
fail(struct parse *p, const char *section, const char *key, const char *fmt, ...)
{
	char where[sizeof p->err->field], reason[sizeof p->err->reason];
	va_list ap;

	if (p->err->reason[0] != '\0')
		return; /* keep the first error */
	if (key != NULL)
		snprintf(where, sizeof where, "%s.%s", section, key);
	else
		snprintf(where, sizeof where, "[%s]", section);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	(void)tly_field_fail(p->err, p->src != NULL ? p->src->line : 0, where, "%s", reason);
}

/* ---- values ---- */

static bool
valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > TLY_SPEC_NAME_MAX || !islower((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_')
			return false;
	return true;
}

tly_err
tly_fraction_parse(const char *text, struct tly_fraction *out)
{
	uint64_t num = 0, den = 1;
	int digits = 0, point = 0;
	const char *p = text;

	if (!isdigit((unsigned char)*p))
		return TLY_EINVAL; /* "", ".5", "-1", "+1" */
	for (; *p != '\0'; p++) {
		if (*p == '.' && !point) {
			point = 1;
			continue;
		}
		if (!isdigit((unsigned char)*p) || ++digits > 18)
			return TLY_EINVAL;
		num = num * 10 + (uint64_t)(*p - '0');
		if (point)
			den *= 10;
	}
	if (digits == 0 || p[-1] == '.')
		return TLY_EINVAL;
	*out = tly_frac_reduce((struct tly_fraction){num, den});
	return TLY_OK;
}

static bool
parse_i64(const char *text, int64_t *out)
{
	char *end;

	if (text[0] != '-' && !isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool
parse_bool(const char *text, int *out)
{
	if (strcmp(text, "yes") == 0 || strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
		*out = 1;
	else if (strcmp(text, "no") == 0 || strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
		*out = 0;
	else
		return false;
	return true;
}

static bool
copy_path(struct parse *p, char *dst, const char *value)
{
	return tly_ini_path(dst, TLY_CONFIG_PATH_MAX, p->dir, value);
}

/* What a list item's reader needs: the parse, and what the item goes into. */
struct item {
	struct parse *p;
	void *into;
};

/* Split "a, b ,c" into trimmed items; calls fn for each. */
static bool
for_each_item(char *list, bool (*fn)(void *, const char *), struct parse *p, void *into)
{
	struct item ctx = {p, into};

	return tly_ini_each_item(list, fn, &ctx);
}

/* ---- [node] ---- */

static void
node_key(struct parse *p, const char *key, const char *value)
{
	struct tly_node_config *cfg = p->cfg;
	const char *bad = NULL;

	if (strcmp(key, "id") == 0) {
		p->seen_id = tly_ini_u32(value, 1, 0x7fffffff, &cfg->id);
		bad = p->seen_id ? NULL : "must be an integer from 1 to 2147483647";
	} else if (strcmp(key, "coordinator") == 0) {
		p->seen_coordinator = value[0] != '\0' && strlen(value) < sizeof cfg->coordinator;
		if (p->seen_coordinator)
			snprintf(cfg->coordinator, sizeof cfg->coordinator, "%s", value);
		bad = p->seen_coordinator ? NULL : "must be a URL such as tls+tcp://host:port";
	} else if (strcmp(key, "tls_cert") == 0) {
		bad = copy_path(p, cfg->tls_cert, value) ? NULL : "bad path";
	} else if (strcmp(key, "tls_key") == 0) {
		bad = copy_path(p, cfg->tls_key, value) ? NULL : "bad path";
	} else if (strcmp(key, "tls_ca") == 0) {
		bad = copy_path(p, cfg->tls_ca, value) ? NULL : "bad path";
	} else if (strcmp(key, "sign_key") == 0) {
		p->seen_sign_key = copy_path(p, cfg->sign_key, value);
		bad = p->seen_sign_key ? NULL : "bad path";
	} else if (strcmp(key, "kx_key") == 0) {
		p->seen_kx_key = copy_path(p, cfg->kx_key, value);
		bad = p->seen_kx_key ? NULL : "bad path";
	} else if (strcmp(key, "registry") == 0) {
		bad = copy_path(p, cfg->registry, value) ? NULL : "bad path";
	} else if (strcmp(key, "ledger") == 0) {
		p->seen_ledger = copy_path(p, cfg->ledger, value);
		bad = p->seen_ledger ? NULL : "bad path";
	} else if (strcmp(key, "committee") == 0) {
		bad = parse_bool(value, &cfg->committee) ? NULL : "must be yes or no";
	} else if (strcmp(key, "heartbeat_interval_ms") == 0) {
		bad = tly_ini_u32(value, 100, 60000, &cfg->heartbeat_interval_ms)
		          ? NULL
		          : "must be an integer from 100 to 60000 (milliseconds)";
	} else if (strcmp(key, "heartbeat_dead_ms") == 0) {
		bad = tly_ini_u32(value, 200, 600000, &cfg->heartbeat_dead_ms)
		          ? NULL
		          : "must be an integer from 200 to 600000 (milliseconds)";
	} else {
		bad = "unknown key";
	}
	if (bad != NULL)
		fail(p, "node", key, "%s", bad);
}

/* ---- [policy] ---- */

static bool
add_measure(void *arg, const char *name)
{
	struct parse *p = ((struct item *)arg)->p;
	unsigned *mask = ((struct item *)arg)->into;
	static const struct {
		const char *name;
		unsigned bit;
	} measures[] = {{"count", TLY_ALLOW_COUNT}, {"sum", TLY_ALLOW_SUM},
	                {"mean", TLY_ALLOW_MEAN},   {"histogram", TLY_ALLOW_HISTOGRAM},
	                {"rate", TLY_ALLOW_RATE},   {"dsr", TLY_ALLOW_DSR}};
	for (size_t i = 0; i < sizeof measures / sizeof measures[0]; i++) {
		if (strcmp(name, measures[i].name) == 0) {
			*mask |= measures[i].bit;
			return true;
		}
	}
	fail(p, "policy", "measures",
	     "unknown measure \"%.40s\" (count, sum, mean, histogram, rate, dsr)", name);
	return false;
}

static void
policy_key(struct parse *p, const char *key, const char *value)
{
	struct tly_node_config *cfg = p->cfg;

	if (strcmp(key, "measures") == 0) {
		char list[512];
		unsigned mask = 0;
		snprintf(list, sizeof list, "%s", value);
		if (for_each_item(list, add_measure, p, &mask))
			cfg->measures = mask;
	} else if (strcmp(key, "min_contributors") == 0) {
		if (!tly_ini_u32(value, 1, 1000, &cfg->min_contributors))
			fail(p, "policy", key, "must be an integer from 1 to 1000");
	} else if (strcmp(key, "max_min_honest") == 0) {
		if (!tly_ini_u32(value, 1, 1000, &cfg->max_min_honest))
			fail(p, "policy", key, "must be an integer from 1 to 1000");
	} else if (strcmp(key, "max_query_work") == 0) {
		if (!tly_ini_u64(value, 1, &cfg->max_query_work))
			fail(p, "policy", key,
			     "must be an integer from 1 to 18446744073709551615 (work units, "
			     "query/noise.h)");
	} else if (strcmp(key, "allow_noise_free") == 0) {
		if (!parse_bool(value, &cfg->allow_noise_free))
			fail(p, "policy", key, "must be yes or no");
	} else {
		fail(p, "policy", key, "unknown key");
	}
}

/* ---- [dataset NAME] ---- */

static bool
add_domain_value(void *arg, const char *value)
{
	struct parse *p = ((struct item *)arg)->p;
	struct tly_column *col = ((struct item *)arg)->into;
	char key[TLY_SPEC_NAME_MAX + 8];

	snprintf(key, sizeof key, "column.%s", col->name);

	if (value[0] == '\0' || strlen(value) > TLY_SPEC_VALUE_MAX) {
		fail(p, p->current_section, key, "empty or over-long value in the domain");
		return false;
	}
	for (size_t i = 0; i < col->domain_count; i++) {
		if (strcmp(col->domain[i], value) == 0) {
			fail(p, p->current_section, key, "\"%.63s\" appears twice", value);
			return false;
		}
	}
	if (col->domain_count == TLY_SPEC_DOMAIN_MAX) {
		fail(p, p->current_section, key, "more than %d values", TLY_SPEC_DOMAIN_MAX);
		return false;
	}
	snprintf(col->domain[col->domain_count++], TLY_SPEC_VALUE_MAX + 1, "%s", value);
	return true;
}

/* A new column may be declared: a valid name, not declared before, room. */
static bool
column_allowed(struct parse *p, const char *key, const char *name)
{
	struct tly_dataset *schema = &p->dataset->schema;

	if (!valid_name(name))
		fail(p, p->current_section, key, "column names are [a-z][a-z0-9_]*, 1-63 bytes");
	else if (tly_dataset_column(schema, name) >= 0)
		fail(p, p->current_section, key, "column declared twice");
	else if (schema->column_count == TLY_SPEC_COLUMNS_MAX)
		fail(p, p->current_section, key, "more than %d columns", TLY_SPEC_COLUMNS_MAX);
	else
		return true;
	return false;
}

/* "integer MIN MAX" (after "integer "), MIN <= MAX. */
static bool
integer_column(struct parse *p, const char *key, const char *bounds, struct tly_column *col)
{
	char lo[32], hi[32], extra[2];

	col->kind = TLY_COLUMN_INTEGER;
	if (sscanf(bounds, "%31s %31s %1s", lo, hi, extra) != 2 || !parse_i64(lo, &col->min) ||
	    !parse_i64(hi, &col->max) || col->min > col->max) {
		fail(p, p->current_section, key,
		     "expected \"integer MIN MAX\" with integers MIN <= MAX");
		return false;
	}
	return true;
}

/* "categorical V1,V2,..." (after "categorical "): at least one value. */
static bool
categorical_column(struct parse *p, const char *key, const char *values, struct tly_column *col)
{
	char rest[4096];

	col->kind = TLY_COLUMN_CATEGORICAL;
	col->domain = calloc(TLY_SPEC_DOMAIN_MAX, sizeof *col->domain);
	if (col->domain == NULL) {
		fail(p, p->current_section, key, "out of memory");
		return false;
	}
	snprintf(rest, sizeof rest, "%s", values);
	if (!for_each_item(rest, add_domain_value, p, col) || col->domain_count == 0) {
		fail(p, p->current_section, key, "expected \"categorical V1,V2,...\"");
		return false;
	}
	return true;
}

static bool
read_column(struct parse *p, const char *key, const char *value, struct tly_column *col)
{
	if (strncmp(value, "integer ", 8) == 0)
		return integer_column(p, key, value + 8, col);
	if (strncmp(value, "categorical ", 12) == 0)
		return categorical_column(p, key, value + 12, col);
	fail(p, p->current_section, key,
	     "expected \"integer MIN MAX\" or \"categorical V1,V2,...\"");
	return false;
}

static void
column_key(struct parse *p, const char *key, const char *name, const char *value)
{
	struct tly_dataset *schema = &p->dataset->schema;
	struct tly_column col;

	if (!column_allowed(p, key, name))
		return;
	memset(&col, 0, sizeof col);
	snprintf(col.name, sizeof col.name, "%s", name);
	struct tly_column *grown =
	    read_column(p, key, value, &col)
	        ? realloc(schema->columns, (schema->column_count + 1) * sizeof *grown)
	        : NULL;
	if (grown == NULL) {
		free(col.domain);
		/* After a bad value its own error stays: fail keeps the first. */
		fail(p, p->current_section, key, "out of memory");
		return;
	}
	schema->columns = grown;
	schema->columns[schema->column_count++] = col;
}

static bool
fraction_key(struct parse *p, const char *key, const char *value, struct tly_fraction *out)
{
	if (tly_fraction_parse(value, out) != TLY_OK || out->num == 0) {
		fail(p, p->current_section, key,
		     "must be a positive plain decimal such as 20 or 0.5 (at most 18 digits)");
		return false;
	}
	return true;
}

/* source, conninfo, schema: where the rows are (false: not one of these). */
static bool
source_key(struct parse *p, const char *key, const char *value)
{
	struct tly_node_dataset *ds = p->dataset;

	if (strcmp(key, "source") == 0) {
		if (strcmp(value, "sqlite") == 0 || strcmp(value, "postgresql") == 0)
			ds->source = value[0] == 's' ? TLY_SOURCE_SQLITE : TLY_SOURCE_POSTGRESQL;
		else
			fail(p, p->current_section, key, "must be sqlite or postgresql");
	} else if (strcmp(key, "conninfo") == 0) {
		/* Never quoted in an error: it may hold a password. */
		if (strlen(value) >= sizeof ds->conninfo)
			fail(p, p->current_section, key, "longer than %d bytes",
			     TLY_CONFIG_CONNINFO_MAX - 1);
		else
			snprintf(ds->conninfo, sizeof ds->conninfo, "%s", value);
		p->seen_conninfo[ds - p->cfg->datasets] = true;
	} else if (strcmp(key, "schema") == 0) {
		if (!valid_name(value))
			fail(p, p->current_section, key, "names are [a-z][a-z0-9_]*, 1-63 bytes");
		else
			snprintf(ds->pg_schema, sizeof ds->pg_schema, "%s", value);
	} else {
		return false;
	}
	return true;
}

static void
dataset_key(struct parse *p, const char *key, const char *value)
{
	struct tly_node_dataset *ds = p->dataset;
	size_t index = (size_t)(ds - p->cfg->datasets);

	if (source_key(p, key, value)) {
		return;
	} else if (strcmp(key, "path") == 0) {
		if (!copy_path(p, ds->path, value))
			fail(p, p->current_section, key, "bad path");
	} else if (strcmp(key, "table") == 0 || strcmp(key, "person_id") == 0 ||
	           strcmp(key, "opt_out") == 0) {
		char *dst = key[0] == 't' ? ds->table : key[0] == 'p' ? ds->person_id : ds->opt_out;
		if (!valid_name(value))
			fail(p, p->current_section, key, "names are [a-z][a-z0-9_]*, 1-63 bytes");
		else
			snprintf(dst, TLY_SPEC_NAME_MAX + 1, "%s", value);
	} else if (strcmp(key, "max_sites_per_person") == 0) {
		if (!tly_ini_u32(value, 1, 1000, &ds->schema.max_sites_per_person))
			fail(p, p->current_section, key, "must be an integer from 1 to 1000");
	} else if (strcmp(key, "epsilon_total") == 0) {
		(void)fraction_key(p, key, value, &ds->epsilon_total);
	} else if (strcmp(key, "epsilon_per_query") == 0) {
		(void)fraction_key(p, key, value, &ds->epsilon_per_query);
	} else if (strcmp(key, "delta_total") == 0) {
		if (fraction_key(p, key, value, &ds->delta_total) &&
		    ds->delta_total.num >= ds->delta_total.den)
			fail(p, p->current_section, key, "must be below 1, such as 0.000001");
	} else if (strcmp(key, "population") == 0) {
		if (!valid_name(value))
			fail(p, p->current_section, key, "names are [a-z][a-z0-9_]*, 1-63 bytes");
		else
			snprintf(ds->population, sizeof ds->population, "%s", value);
	} else if (strcmp(key, "rho_total") == 0) {
		fail(p, p->current_section, key,
		     "was removed: epsilon and rho now share one (epsilon_total, delta_total) cap "
		     "per population (docs/PRIVACY.md); delete this line");
	} else if (strcmp(key, "rho_per_query") == 0) {
		(void)fraction_key(p, key, value, &ds->rho_per_query);
	} else if (strncmp(key, "column.", 7) == 0) {
		column_key(p, key, key + 7, value);
	} else if (strcmp(key, "columns") == 0) {
		free(p->allowed_columns[index]);
		p->allowed_columns[index] = strdup(value);
		if (p->allowed_columns[index] == NULL)
			fail(p, p->current_section, key, "out of memory");
	} else {
		fail(p, p->current_section, key, "unknown key");
	}
}

static bool
start_dataset(struct parse *p, const char *section)
{
	struct tly_node_config *cfg = p->cfg;
	const char *name = section + 8;

	if (!valid_name(name)) {
		fail(p, section, NULL, "dataset names are [a-z][a-z0-9_]*, 1-63 bytes");
		return false;
	}
	if (tly_node_config_dataset(cfg, name) != NULL) {
		fail(p, section, NULL, "dataset declared twice");
		return false;
	}
	if (cfg->dataset_count == TLY_SPEC_DATASETS_MAX) {
		fail(p, section, NULL, "more than %d datasets", TLY_SPEC_DATASETS_MAX);
		return false;
	}
	struct tly_node_dataset *ds = &cfg->datasets[cfg->dataset_count++];
	memset(ds, 0, sizeof *ds);
	snprintf(ds->schema.name, sizeof ds->schema.name, "%s", name);
	ds->schema.max_sites_per_person = 1;
	snprintf(ds->population, sizeof ds->population, "%s", name);
	ds->epsilon_total = (struct tly_fraction){20, 1};
	ds->delta_total = (struct tly_fraction){1, 1000000};
	ds->epsilon_per_query = (struct tly_fraction){2, 1};
	ds->rho_per_query = (struct tly_fraction){1, 2};
	p->dataset = ds;
	return true;
}

/* A key given twice in one section is refused, as the coordinator's
 * config does: the last one silently winning would let a stray line
 * (epsilon_total = 200 below the reviewed 20) change the budget unseen.
 * column.NAME keys have their own check (declare_column). */
static bool
first_time(struct parse *p, const char *key)
{
	char needle[TLY_SPEC_NAME_MAX + 40];
	size_t used = strlen(p->section_keys);

	if (strncmp(key, "column.", 7) == 0 || strlen(key) > TLY_SPEC_NAME_MAX + 32)
		return true;
	snprintf(needle, sizeof needle, "\n%s\n", key);
	if (strstr(p->section_keys, needle) != NULL) {
		fail(p, p->current_section, key, "given twice in this section");
		return false;
	}
	if (used + strlen(key) + 1 < sizeof p->section_keys)
		snprintf(p->section_keys + used, sizeof p->section_keys - used, "%s\n", key);
	return true;
}

static int
handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;

	if (p->err->reason[0] != '\0')
		return 1;
	/* A new section starts at every header line, even one that repeats a
	 * name (so that a dataset declared twice is caught). */
	if (strcmp(section, p->current_section) != 0 ||
	    p->src->sections != p->current_section_number) {
		p->current_section_number = p->src->sections;
		snprintf(p->current_section, sizeof p->current_section, "%s", section);
		p->dataset = NULL;
		snprintf(p->section_keys, sizeof p->section_keys, "\n");
		if (strncmp(section, "dataset ", 8) == 0 && !start_dataset(p, section))
			return 1;
	}
	if (!first_time(p, key))
		return 1;
	if (strcmp(section, "node") == 0)
		node_key(p, key, value);
	else if (strcmp(section, "policy") == 0)
		policy_key(p, key, value);
	else if (p->dataset != NULL)
		dataset_key(p, key, value);
	else
		fail(p, section[0] ? section : "(top)", NULL,
		     "unknown section (expected [node], [policy] or [dataset NAME])");
	return 1;
}

/* ---- after parsing: required keys, the allowed-columns filter ---- */

static void
free_schema(struct tly_dataset *schema)
{
	for (size_t i = 0; i < schema->column_count; i++)
		free(schema->columns[i].domain);
	free(schema->columns);
	schema->columns = NULL;
	schema->column_count = 0;
}

static bool
keep_column(void *arg, const char *name)
{
	struct parse *p = ((struct item *)arg)->p;
	struct tly_dataset *schema = ((struct item *)arg)->into;
	int index = tly_dataset_column(schema, name);

	if (index < 0) {
		fail(p, p->current_section, "columns", "\"%.63s\" is not a declared column", name);
		return false;
	}
	schema->columns[index].name[TLY_SPEC_NAME_MAX] = 1; /* mark: kept */
	return true;
}

static void
filter_columns(struct parse *p, struct tly_node_dataset *ds, char *list)
{
	struct tly_dataset *schema = &ds->schema;
	size_t kept = 0;

	snprintf(p->current_section, sizeof p->current_section, "dataset %s", schema->name);
	p->src = NULL;
	if (!for_each_item(list, keep_column, p, schema))
		return;
	for (size_t i = 0; i < schema->column_count; i++) {
		if (schema->columns[i].name[TLY_SPEC_NAME_MAX] == 1) {
			schema->columns[i].name[TLY_SPEC_NAME_MAX] = '\0';
			schema->columns[kept++] = schema->columns[i];
		} else {
			free(schema->columns[i].domain);
		}
	}
	schema->column_count = kept;
}

static bool
same_fraction(struct tly_fraction a, struct tly_fraction b)
{
	return a.num == b.num && a.den == b.den;
}

/* The datasets of one population share one accountant, so they must agree
 * on its cap. */
static void
check_populations(struct parse *p)
{
	struct tly_node_config *cfg = p->cfg;

	for (size_t i = 0; i < cfg->dataset_count; i++) {
		const struct tly_node_dataset *ds = &cfg->datasets[i];
		for (size_t j = 0; j < i; j++) {
			const struct tly_node_dataset *first = &cfg->datasets[j];
			const char *key =
			    !same_fraction(ds->epsilon_total, first->epsilon_total)
			        ? "epsilon_total"
			    : !same_fraction(ds->delta_total, first->delta_total) ? "delta_total"
			    : ds->schema.max_sites_per_person != first->schema.max_sites_per_person
			        ? "max_sites_per_person"
			        : NULL;
			if (strcmp(ds->population, first->population) != 0 || key == NULL)
				continue;
			snprintf(p->current_section, sizeof p->current_section, "dataset %s",
			         ds->schema.name);
			fail(p, p->current_section, key,
			     "differs from dataset %s's, in the same population \"%s\" (one "
			     "accountant, one cap)",
			     first->schema.name, ds->population);
			return;
		}
	}
}

/* The keys of the dataset's source: path for sqlite; conninfo (parsed by
 * libpq, never quoted) and no path for postgresql. False after a failure. */
static bool
check_source(struct parse *p, const char *section, struct tly_node_dataset *ds, bool conninfo)
{
	char why[sizeof p->err->reason];

	if (ds->source == TLY_SOURCE_SQLITE) {
		const char *stray = conninfo ? "conninfo" : ds->pg_schema[0] ? "schema" : NULL;
		if (stray != NULL)
			fail(p, section, stray,
			     "is for source = postgresql (this dataset's source is "
			     "sqlite)");
		else if (ds->path[0] == '\0')
			fail(p, section, "path", "required key is missing");
		return stray == NULL && ds->path[0] != '\0';
	}
	if (ds->pg_schema[0] == '\0')
		snprintf(ds->pg_schema, sizeof ds->pg_schema, "public");
	if (ds->path[0] != '\0')
		fail(p, section, "path",
		     "is for source = sqlite: a postgresql dataset names its "
		     "database with conninfo");
	else if (!conninfo)
		fail(p, section, "conninfo",
		     "required key is missing (source = postgresql): libpq's connection string, "
		     "such as service=tally_trust3");
	else if (tly_pg_conninfo_check(ds->conninfo, why, sizeof why) != TLY_OK)
		fail(p, section, "conninfo", "%s", why);
	else
		return true;
	return false;
}

/* A dataset's required keys and a column; then its "columns" filter. */
static void
check_dataset(struct parse *p, struct tly_node_dataset *ds, char *allowed_columns, bool conninfo)
{
	char section[96];
	const char *missing = ds->table[0] == '\0'       ? "table"
	                      : ds->person_id[0] == '\0' ? "person_id"
	                                                 : NULL;

	snprintf(section, sizeof section, "dataset %s", ds->schema.name);
	if (!check_source(p, section, ds, conninfo))
		return;
	if (missing != NULL)
		fail(p, section, missing, "required key is missing");
	else if (ds->schema.column_count == 0)
		fail(p, section, "column.NAME", "a dataset must declare at least one column");
	else if (allowed_columns != NULL)
		filter_columns(p, ds, allowed_columns);
}

static void
check_required(struct parse *p)
{
	struct tly_node_config *cfg = p->cfg;
	const char *missing = !p->seen_id            ? "id"
	                      : !p->seen_coordinator ? "coordinator"
	                      : !p->seen_sign_key    ? "sign_key"
	                      : !p->seen_kx_key      ? "kx_key"
	                      : !p->seen_ledger      ? "ledger"
	                                             : NULL;
	p->src = NULL;
	if (missing != NULL) {
		fail(p, "node", missing, "required key is missing");
		return;
	}
	if (cfg->heartbeat_dead_ms < 2u * cfg->heartbeat_interval_ms) {
		fail(p, "node", "heartbeat_dead_ms",
		     "must be at least twice heartbeat_interval_ms (%u), so that one late "
		     "keepalive does not cut a healthy link",
		     (unsigned)cfg->heartbeat_interval_ms);
		return;
	}
	for (size_t i = 0; i < cfg->dataset_count; i++)
		check_dataset(p, &cfg->datasets[i], p->allowed_columns[i], p->seen_conninfo[i]);
	check_populations(p);
}

static void
set_defaults(struct tly_node_config *cfg, const char *name)
{
	snprintf(cfg->file, sizeof cfg->file, "%s", name);
	cfg->committee = 1;
	cfg->heartbeat_interval_ms = TLY_HEARTBEAT_INTERVAL_MS;
	cfg->heartbeat_dead_ms = TLY_HEARTBEAT_DEAD_MS;
	cfg->measures = TLY_ALLOW_COUNT | TLY_ALLOW_SUM | TLY_ALLOW_MEAN | TLY_ALLOW_HISTOGRAM |
	                TLY_ALLOW_RATE | TLY_ALLOW_DSR;
	cfg->min_contributors = 3;
	cfg->max_min_honest = 10;
	cfg->max_query_work = TLY_NOISE_DEFAULT_MAX_WORK;
}

static tly_err
parse_source(struct tly_node_config *out, struct tly_ini_source *src, const char *name,
             const char *dir, struct tly_field_error *err)
{
	struct tly_node_config *cfg = calloc(1, sizeof *cfg);
	struct parse p;
	tly_err rv = TLY_ENOMEM;

	tly_field_error_init(err, name);
	if (cfg == NULL)
		return rv;
	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	p.src = src;
	p.err = err;
	p.dir = dir;
	set_defaults(cfg, name);
	cfg->datasets = calloc(TLY_SPEC_DATASETS_MAX, sizeof *cfg->datasets);
	if (cfg->datasets == NULL)
		goto out;

	int line = tly_ini_parse(src, handler, &p);
	if (err->reason[0] == '\0')
		tly_ini_syntax(err, line);
	if (err->reason[0] == '\0')
		check_required(&p);
	rv = err->reason[0] == '\0' ? TLY_OK : TLY_EINVAL;
out:
	for (size_t i = 0; i < TLY_SPEC_DATASETS_MAX; i++)
		free(p.allowed_columns[i]);
	if (rv == TLY_OK)
		*out = *cfg;
	else
		tly_node_config_fini(cfg);
	free(cfg);
	return rv;
}

tly_err
tly_node_config_parse(struct tly_node_config *out, const char *text, const char *name,
                      const char *dir, struct tly_field_error *err)
{
	struct tly_ini_source src = {.text = text};
	return parse_source(out, &src, name, dir, err);
}

tly_err
tly_node_config_load(struct tly_node_config *out, const char *path, struct tly_field_error *err)
{
	struct tly_ini_source src = {0};
	char dir[TLY_CONFIG_PATH_MAX];

	if (tly_ini_open(&src, path, dir, sizeof dir, err) != TLY_OK)
		return TLY_EINVAL;
	tly_err rv = parse_source(out, &src, path, dir, err);
	fclose(src.file);
	return rv;
}

void
tly_node_config_fini(struct tly_node_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; cfg->datasets != NULL && i < cfg->dataset_count; i++) {
		free_schema(&cfg->datasets[i].schema);
		TLY_WIPE_OBJ(cfg->datasets[i].conninfo); /* it may hold a password */
	}
	free(cfg->datasets);
	memset(cfg, 0, sizeof *cfg);
}

const struct tly_node_dataset *
tly_node_config_dataset(const struct tly_node_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->dataset_count; i++)
		if (strcmp(cfg->datasets[i].schema.name, name) == 0)
			return &cfg->datasets[i];
	return NULL;
}

tly_err
tly_node_config_catalogue(const struct tly_node_config *cfg, struct tly_catalogue *out)
{
	struct tly_catalogue cat = {0};

	cat.datasets = calloc(cfg->dataset_count ? cfg->dataset_count : 1, sizeof *cat.datasets);
	if (cat.datasets == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i < cfg->dataset_count; i++) {
		const struct tly_dataset *src = &cfg->datasets[i].schema;
		struct tly_dataset *dst = &cat.datasets[cat.dataset_count++];
		*dst = *src;
		dst->columns = calloc(src->column_count, sizeof *dst->columns);
		dst->column_count = 0;
		if (dst->columns == NULL)
			goto nomem;
		for (size_t c = 0; c < src->column_count; c++) {
			struct tly_column *col = &dst->columns[dst->column_count++];
			*col = src->columns[c];
			col->domain = NULL;
			if (src->columns[c].kind != TLY_COLUMN_CATEGORICAL)
				continue;
			col->domain = calloc(col->domain_count, sizeof *col->domain);
			if (col->domain == NULL)
				goto nomem;
			memcpy(col->domain, src->columns[c].domain,
			       col->domain_count * sizeof *col->domain);
		}
	}
	*out = cat;
	return TLY_OK;
nomem:
	tly_catalogue_fini(&cat);
	return TLY_ENOMEM;
}
