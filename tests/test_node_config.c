/* The node's INI config: a full file, defaults, and every error naming
 * file, line and key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "node/config.h"
#include "query/noise.h"

static const char good[] = "; a trust node\n"
                           "[node]\n"
                           "id = 3\n"
                           "coordinator = tls+tcp://127.0.0.1:7400\n"
                           "sign_key = keys/node.sign\n"
                           "kx_key = /etc/tally/node.kx\n"
                           "ledger = state/ledger.db\n"
                           "registry = ../registry.ini\n"
                           "committee = no\n"
                           "\n"
                           "[policy]\n"
                           "measures = count, mean\n"
                           "min_contributors = 5\n"
                           "\n"
                           "[dataset patients]\n"
                           "path = data/site3.db\n"
                           "table = patients\n"
                           "person_id = person_id\n"
                           "opt_out = opted_out\n"
                           "max_sites_per_person = 2\n"
                           "epsilon_total = 10.5\n"
                           "rho_per_query = 0.25\n"
                           "column.age = integer 0 110\n"
                           "column.sex = categorical F, M\n"
                           "column.band = categorical 0-17,18-39,40-64,65-79,80+\n";

static tly_err
parse(const char *text, struct tly_node_config *cfg, struct tly_field_error *err)
{
	return tly_node_config_parse(cfg, text, "node.conf", "/srv/tally", err);
}

Test(node_config, full_file_with_defaults)
{
	struct tly_node_config cfg;
	struct tly_field_error err;
	cr_assert_eq(parse(good, &cfg, &err), TLY_OK, "%s", err.reason);
	cr_assert_eq(cfg.id, 3);
	cr_assert_str_eq(cfg.sign_key, "/srv/tally/keys/node.sign", "relative to the config");
	cr_assert_str_eq(cfg.kx_key, "/etc/tally/node.kx", "absolute kept");
	cr_assert_str_eq(cfg.registry, "/srv/tally/../registry.ini");
	cr_assert_eq(cfg.committee, 0);
	cr_assert_eq(cfg.measures, TLY_ALLOW_COUNT | TLY_ALLOW_MEAN);
	cr_assert_eq(cfg.min_contributors, 5);
	cr_assert_eq(cfg.allow_noise_free, 0, "default off");
	cr_assert_eq(cfg.heartbeat_interval_ms, 2000, "default");
	cr_assert_eq(cfg.heartbeat_dead_ms, 6000, "default");
	cr_assert_eq(cfg.dataset_count, 1);
	const struct tly_node_dataset *ds = tly_node_config_dataset(&cfg, "patients");
	cr_assert_not_null(ds);
	cr_assert_str_eq(ds->path, "/srv/tally/data/site3.db");
	cr_assert_eq(ds->schema.max_sites_per_person, 2);
	cr_assert_eq(ds->epsilon_total.num, 21);
	cr_assert_eq(ds->epsilon_total.den, 2);
	cr_assert_eq(ds->epsilon_per_query.num, 2, "default per-query epsilon 2");
	cr_assert(ds->delta_total.num == 1 && ds->delta_total.den == 1000000, "default delta 1e-6");
	cr_assert_str_eq(ds->population, "patients", "default: its own population");
	cr_assert_eq(cfg.max_min_honest, 10, "default h cap");
	cr_assert_eq(cfg.max_query_work, TLY_NOISE_DEFAULT_MAX_WORK, "default work limit");
	cr_assert_eq(ds->rho_per_query.num, 1);
	cr_assert_eq(ds->rho_per_query.den, 4);
	cr_assert_eq(ds->schema.column_count, 3);
	cr_assert_eq(ds->schema.columns[0].kind, TLY_COLUMN_INTEGER);
	cr_assert_eq(ds->schema.columns[0].max, 110);
	cr_assert_eq(ds->schema.columns[1].domain_count, 2);
	cr_assert_str_eq(ds->schema.columns[1].domain[1], "M", "items are trimmed");
	cr_assert_str_eq(ds->schema.columns[2].domain[4], "80+");

	struct tly_catalogue cat;
	cr_assert_eq(tly_node_config_catalogue(&cfg, &cat), TLY_OK);
	cr_assert_eq(cat.dataset_count, 1);
	cr_assert_str_eq(cat.datasets[0].columns[2].domain[0], "0-17");
	tly_catalogue_fini(&cat);
	tly_node_config_fini(&cfg);
}

Test(node_config, columns_key_limits_what_queries_see)
{
	char text[4096];
	struct tly_node_config cfg;
	struct tly_field_error err;
	snprintf(text, sizeof text, "%scolumns = sex, age\n", good);
	cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s", err.reason);
	cr_assert_eq(cfg.datasets[0].schema.column_count, 2);
	cr_assert_str_eq(cfg.datasets[0].schema.columns[0].name, "age", "declared order kept");
	cr_assert_str_eq(cfg.datasets[0].schema.columns[1].name, "sex");
	tly_node_config_fini(&cfg);

	snprintf(text, sizeof text, "%scolumns = sex, weight\n", good);
	cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL);
	cr_assert(strstr(err.reason, "weight") != NULL, "%s", err.reason);
}

/* A prefix no line of `good` starts with: the replacement is appended. */
#define APPEND "(append at the end)"

/* Replace the line starting with `prefix` (or append to the end when absent)
 * and expect an error on `line` naming `key`. */
static void
expect_error(const char *prefix, const char *replacement, int line, const char *key,
             const char *reason_part)
{
	char text[4096] = "";
	const char *at = strstr(good, prefix);
	if (at != NULL) {
		const char *end = strchr(at, '\n') + 1;
		snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good), good, replacement, end);
	} else {
		snprintf(text, sizeof text, "%s%s", good, replacement);
	}
	struct tly_node_config cfg;
	struct tly_field_error err;
	char message[600];
	cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL, "accepted: %s", replacement);
	tly_field_error_format(&err, message, sizeof message);
	cr_assert_eq(err.line, line, "%s", message);
	cr_assert_str_eq(err.field, key, "%s", message);
	cr_assert(strstr(err.reason, reason_part) != NULL, "%s", message);
	cr_assert(strstr(message, "node.conf:") == message, "%s", message);
}

Test(node_config, errors_name_file_line_and_key)
{
	expect_error("id = 3", "id = zero\n", 3, "node.id", "integer");
	expect_error("id = 3", "id = 0\n", 3, "node.id", "integer");
	expect_error("committee = no", "committee = perhaps\n", 9, "node.committee", "yes or no");
	expect_error("committee = no", "colour = blue\n", 9, "node.colour", "unknown key");
	expect_error("measures", "measures = count, median\n", 12, "policy.measures", "median");
	expect_error("min_contributors", "min_contributors = -1\n", 13, "policy.min_contributors",
	             "integer");
	expect_error("epsilon_total", "epsilon_total = 1e-3\n", 21,
	             "dataset patients.epsilon_total", "decimal");
	expect_error("epsilon_total", "epsilon_total = 0\n", 21, "dataset patients.epsilon_total",
	             "positive");
	expect_error("rho_per_query", "rho_per_query = .5\n", 22, "dataset patients.rho_per_query",
	             "decimal");
	expect_error("column.age", "column.age = integer 110 0\n", 23,
	             "dataset patients.column.age", "MIN <= MAX");
	expect_error("column.age", "column.age = real 0 1\n", 23, "dataset patients.column.age",
	             "expected");
	expect_error("column.sex", "column.sex = categorical F,F\n", 24,
	             "dataset patients.column.sex", "twice");
	expect_error("column.sex", "column.Sex = categorical F,M\n", 24,
	             "dataset patients.column.Sex", "column names");
	expect_error("table = patients", "table = patients; DROP TABLE x\n", 17,
	             "dataset patients.table", "names are");
	expect_error(APPEND, "column.age = integer 0 5\n", 26, "dataset patients.column.age",
	             "twice");
	expect_error(APPEND, "[dataset patients]\npath = x.db\n", 27, "[dataset patients]",
	             "twice");
	expect_error(APPEND, "[nodes]\nid = 4\n", 27, "[nodes]", "unknown section");
	/* A key given twice: refused, not last-one-wins (a stray budget line). */
	expect_error(APPEND, "epsilon_total = 200\n", 26, "dataset patients.epsilon_total",
	             "twice");
	expect_error("committee = no", "committee = no\nid = 4\n", 10, "node.id", "twice");
	expect_error(APPEND, "this is not ini\n", 26, "(syntax)", "not a");
	expect_error("id = 3", "", 0, "node.id", "missing");
	expect_error("path = data/site3.db", "", 0, "dataset patients.path", "missing");
}

/* inih reads a line longer than its first buffer (200 bytes) in parts:
 * still one line, so the errors after it name their own line. */
Test(node_config, a_long_line_is_one_line)
{
	char long_line[600];

	memset(long_line, 'x', sizeof long_line);
	long_line[0] = ';';
	snprintf(long_line + 500, sizeof long_line - 500, "\ncolour = blue\n");
	expect_error(APPEND, long_line, 27, "dataset patients.colour", "unknown key");
}

/* The heartbeat (issue 12 section 4): bounds, and dead-after at least
 * twice the interval (checked after reading: line 0). */
Test(node_config, heartbeat_keys)
{
	expect_error("committee = no", "heartbeat_interval_ms = 99\n", 9,
	             "node.heartbeat_interval_ms", "100 to 60000");
	expect_error("committee = no", "heartbeat_dead_ms = forever\n", 9, "node.heartbeat_dead_ms",
	             "200 to 600000");
	expect_error("committee = no", "heartbeat_dead_ms = 3999\n", 0, "node.heartbeat_dead_ms",
	             "at least twice heartbeat_interval_ms (2000)");
}

Test(node_config, one_cap_per_population_and_the_h_cap)
{
	expect_error("rho_per_query", "rho_total = 5\n", 22, "dataset patients.rho_total",
	             "was removed");
	expect_error("epsilon_total", "delta_total = 1\n", 21, "dataset patients.delta_total",
	             "below 1");
	expect_error("epsilon_total", "delta_total = 0\n", 21, "dataset patients.delta_total",
	             "positive");
	expect_error("epsilon_total", "population = Patients\n", 21, "dataset patients.population",
	             "names are");
	expect_error("min_contributors", "max_min_honest = 0\n", 13, "policy.max_min_honest",
	             "integer");
	expect_error("min_contributors", "max_query_work = 0\n", 13, "policy.max_query_work",
	             "work units");
	expect_error("min_contributors", "max_query_work = 1e9\n", 13, "policy.max_query_work",
	             "integer");
	/* two datasets of one population must agree on its cap */
	expect_error(
	    APPEND,
	    "[dataset visits]\npath = v.db\ntable = v\nperson_id = p\npopulation = patients\n"
	    "max_sites_per_person = 2\nepsilon_total = 10\ncolumn.age = integer 0 1\n",
	    0, "dataset visits.epsilon_total", "same population \"patients\"");

	char text[4096];
	struct tly_node_config cfg;
	struct tly_field_error err;
	const char *split = strstr(good, "min_contributors = 5\n");
	snprintf(
	    text, sizeof text,
	    "%.*smax_min_honest = 4\n%s[dataset visits]\npath = v.db\ntable = v\nperson_id = p\n"
	    "population = patients\nmax_sites_per_person = 2\nepsilon_total = 10.5\n"
	    "column.age = integer 0 1\n"
	    "[dataset other]\npath = o.db\ntable = o\nperson_id = p\ncolumn.age = integer 0 1\n",
	    (int)(split - good), good, split);
	cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.max_min_honest, 4);
	cr_assert_str_eq(tly_node_config_dataset(&cfg, "visits")->population, "patients");
	cr_assert_str_eq(tly_node_config_dataset(&cfg, "other")->population, "other");
	tly_node_config_fini(&cfg);
}

Test(node_config, fractions_are_exact)
{
	struct tly_fraction f;
	cr_assert_eq(tly_fraction_parse("0.1", &f), TLY_OK);
	cr_assert_eq(f.num, 1);
	cr_assert_eq(f.den, 10);
	cr_assert_eq(tly_fraction_parse("2.50", &f), TLY_OK);
	cr_assert_eq(f.num, 5);
	cr_assert_eq(f.den, 2);
	cr_assert_eq(tly_fraction_parse("20", &f), TLY_OK);
	cr_assert_eq(f.den, 1);
	cr_assert_eq(tly_fraction_parse("0.00000000000000001", &f), TLY_OK, "18 digits");
	cr_assert_eq(f.den, 100000000000000000ull);
	cr_assert_eq(tly_fraction_parse("0.000000000000000001", &f), TLY_EINVAL, "19 digits");
	const char *bad[] = {"",     ".",     "1.",  "-1", "1e3",
	                     "0x10", "1.2.3", "nan", "1 ", "1234567890123456789"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(tly_fraction_parse(bad[i], &f), TLY_EINVAL, "\"%s\"", bad[i]);
}

Test(node_config, missing_file)
{
	struct tly_node_config cfg;
	struct tly_field_error err;
	cr_assert_eq(tly_node_config_load(&cfg, "/nonexistent/node.conf", &err), TLY_EINVAL);
	cr_assert(strstr(err.reason, "cannot open") != NULL);
}
