/* The coordinator's INI config: a full file, defaults, and every error
 * naming file, line and key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/config.h"
#include "wire/messages.h"
#include "query/noise.h"

static const char good[] = "; the coordinator\n"
                           "[coordinator]\n"
                           "listen = tls+tcp://127.0.0.1:7400   ; nodes dial here\n"
                           "api = https://127.0.0.1:7443        ; planners\n"
                           "tls_cert = pki/coordinator.crt\n"
                           "tls_key = pki/coordinator.key\n"
                           "tls_node_ca = /etc/tally/node-ca.crt\n"
                           "tls_planner_ca = pki/planner-ca.crt\n"
                           "sign_key = keys/coordinator.sign\n"
                           "registry = registry.ini\n"
                           "planners = planners.ini\n"
                           "catalogue = catalogue.json\n"
                           "log = state/transparency.db\n"
                           "[rounds]\n"
                           "protocol = secagg+\n"
                           "committee_size = 5\n"
                           "threshold = 3\n"
                           "deadline_ms = 2500\n"
                           "[policy]\n"
                           "min_contributors = 4\n"
                           "min_honest = 3\n"
                           "mechanisms = laplace\n"
                           "suppress_below = 8\n"
                           "round_to = 5\n";

/* The minimum: required keys only, no TLS. */
static const char minimal[] = "[coordinator]\n"
                              "listen = tcp://127.0.0.1:7400\n"
                              "api = http://127.0.0.1:7443\n"
                              "sign_key = c.sign\n"
                              "registry = r.ini\n"
                              "catalogue = c.json\n"
                              "log = t.db\n"
                              "planners = p.ini\n";

static tly_err
parse(const char *text, struct tly_coord_config *cfg, struct tly_field_error *err)
{
	return tly_coord_config_parse(cfg, text, "coord.conf", "/srv/tally", err);
}

Test(coord_config, full_file)
{
	struct tly_coord_config cfg;
	struct tly_field_error err;

	cr_assert_eq(parse(good, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_str_eq(cfg.listen, "tls+tcp://127.0.0.1:7400", "inline comment stripped");
	cr_assert_str_eq(cfg.api, "https://127.0.0.1:7443");
	cr_assert_str_eq(cfg.tls_cert, "/srv/tally/pki/coordinator.crt", "relative to the config");
	cr_assert_str_eq(cfg.tls_node_ca, "/etc/tally/node-ca.crt", "absolute kept");
	cr_assert_str_eq(cfg.sign_key, "/srv/tally/keys/coordinator.sign");
	cr_assert_str_eq(cfg.registry, "/srv/tally/registry.ini");
	cr_assert_str_eq(cfg.catalogue, "/srv/tally/catalogue.json");
	cr_assert_str_eq(cfg.log, "/srv/tally/state/transparency.db");
	cr_assert_eq(cfg.protocol, TLY_PROTOCOL_SECAGG_PLUS);
	cr_assert_eq(cfg.committee_size, 5);
	cr_assert_eq(cfg.threshold, 3);
	cr_assert_eq(cfg.quorum, 4, "unset: ceil((k + t) / 2)");
	cr_assert_eq(cfg.deadline_ms, 2500);
	cr_assert_eq(cfg.min_contributors, 4);
	cr_assert_eq(cfg.min_honest, 3);
	cr_assert(tly_coord_config_allows(&cfg, TLY_MECH_LAPLACE));
	cr_assert(!tly_coord_config_allows(&cfg, TLY_MECH_SKELLAM));
	cr_assert(!tly_coord_config_allows(&cfg, TLY_MECH_NONE), "never noise-free");
	cr_assert_eq(cfg.suppress_below, 8);
	cr_assert_eq(cfg.round_to, 5);
	cr_assert_str_eq(cfg.file, "coord.conf");
}

Test(coord_config, defaults)
{
	struct tly_coord_config cfg;
	struct tly_field_error err;

	cr_assert_eq(parse(minimal, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.protocol, TLY_COORD_PROTOCOL_AUTO);
	cr_assert_eq(cfg.masking_from, 0, "unset: derived from threshold and the corrupt percent");
	cr_assert_eq(cfg.masking_corrupt_percent, 5);
	cr_assert_eq(cfg.masking_dropout_percent, 5);
	cr_assert_eq(cfg.committee_size, 4);
	cr_assert_eq(cfg.threshold, 2);
	cr_assert_eq(cfg.quorum, 3);
	cr_assert_eq(cfg.deadline_ms, TLY_DEFAULT_DEADLINE_MS);
	cr_assert_eq(cfg.min_contributors, 3);
	cr_assert_eq(cfg.min_honest, 2);
	cr_assert(tly_coord_config_allows(&cfg, TLY_MECH_LAPLACE));
	cr_assert(tly_coord_config_allows(&cfg, TLY_MECH_SKELLAM));
	cr_assert_eq(cfg.suppress_below, 0);
	cr_assert_eq(cfg.round_to, 0);
	cr_assert_str_eq(cfg.tls_cert, "", "TLS files are optional without TLS");
	cr_assert_eq(cfg.max_query_work, TLY_NOISE_DEFAULT_MAX_WORK);
}

Test(coord_config, gaussian_is_skellam_and_round_to_one_is_off)
{
	char text[1024];
	struct tly_coord_config cfg;
	struct tly_field_error err;

	snprintf(text, sizeof text, "%s[policy]\nmechanisms = gaussian\nround_to = 1\n", minimal);
	cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s", err.reason);
	cr_assert(!tly_coord_config_allows(&cfg, TLY_MECH_LAPLACE));
	cr_assert(tly_coord_config_allows(&cfg, TLY_MECH_SKELLAM));
	cr_assert_eq(cfg.round_to, 0);
}

/* Parse minimal + extra (extra starts on line 9) and expect an error at
 * line with key and a reason containing `reason`. */
static void
expect_error(const char *extra, int line, const char *key, const char *reason)
{
	char text[2048];
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char formatted[700];

	snprintf(text, sizeof text, "%s%s", minimal, extra);
	memset(&cfg, 0x5a, sizeof cfg);
	cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL, "accepted: %s", extra);
	cr_assert_eq(cfg.committee_size, 0x5a5a, "out untouched on failure");
	cr_assert_str_eq(err.file, "coord.conf");
	cr_assert_eq(err.line, line, "line %d, expected %d (%s: %s)", err.line, line, err.field,
	             err.reason);
	cr_assert_str_eq(err.field, key, "key %s (%s)", err.field, err.reason);
	cr_assert(strstr(err.reason, reason) != NULL, "reason \"%s\" lacks \"%s\"", err.reason,
	          reason);
	tly_field_error_format(&err, formatted, sizeof formatted);
	if (line > 0) {
		char prefix[64];
		snprintf(prefix, sizeof prefix, "coord.conf:%d: %s: ", line, key);
		cr_assert(strncmp(formatted, prefix, strlen(prefix)) == 0, "%s", formatted);
	}
}

Test(coord_config, unknown_keys_and_sections)
{
	expect_error("[rounds]\nfoo = 1\n", 10, "rounds.foo", "unknown key");
	expect_error("[bogus]\n", 9, "[section]", "unknown section [bogus]");
	expect_error("[policy]\n[bogus]\nx = 1\n", 10, "[section]", "unknown section");
	expect_error("[coordinator]\n", 9, "[section]", "appears twice (first on line 1)");
	expect_error("[rounds]\nthreshold = 2\nthreshold = 2\n", 11, "rounds.threshold",
	             "given twice (first on line 10)");
	expect_error("[rounds]\nlisten = tcp://x:1\n", 10, "rounds.listen", "unknown key");
}

Test(coord_config, key_outside_a_section)
{
	struct tly_coord_config cfg;
	struct tly_field_error err;

	cr_assert_eq(parse("listen = tcp://a:1\n", &cfg, &err), TLY_EINVAL);
	cr_assert_eq(err.line, 1);
	cr_assert_str_eq(err.field, "(top).listen");
	cr_assert(strstr(err.reason, "outside any section") != NULL);
}

Test(coord_config, syntax)
{
	expect_error("[rounds]\nthis is not a key\n", 10, "(syntax)", "not a [section]");
	/* A syntax error before a bad key is the one reported. */
	expect_error("[rounds]\nnonsense\nfoo = 1\n", 10, "(syntax)", "not a [section]");
}

Test(coord_config, bad_values)
{
	expect_error("[rounds]\nprotocol = masked\n", 10, "rounds.protocol",
	             "auto, committee, secagg");
	expect_error("[rounds]\nmasking_from = 2\n", 10, "rounds.masking_from", "3 to 100000");
	expect_error("[rounds]\nmasking_from = 100001\n", 10, "rounds.masking_from", "3 to 100000");
	expect_error("[rounds]\nmasking_corrupt_percent = 50\n", 10,
	             "rounds.masking_corrupt_percent", "0 to 49");
	expect_error("[rounds]\nmasking_dropout_percent = 5.5\n", 10,
	             "rounds.masking_dropout_percent", "0 to 49");
	expect_error("[rounds]\ncommittee_size = 0\n", 10, "rounds.committee_size", "1 to 64");
	expect_error("[rounds]\ncommittee_size = 65\n", 10, "rounds.committee_size", "1 to 64");
	expect_error("[rounds]\nthreshold = -1\n", 10, "rounds.threshold", "1 to 64");
	expect_error("[rounds]\ndeadline_ms = 99\n", 10, "rounds.deadline_ms", "100 to 600000");
	expect_error("[rounds]\ndeadline_ms = 10s\n", 10, "rounds.deadline_ms", "100 to 600000");
	expect_error("[policy]\nmin_contributors = 0\n", 10, "policy.min_contributors",
	             "1 to 1000");
	expect_error("[policy]\nmin_honest = 1001\n", 10, "policy.min_honest", "1 to 1000");
	expect_error("[policy]\nmax_query_work = 0\n", 10, "policy.max_query_work", "work units");
	expect_error("[policy]\nmax_query_work = -5\n", 10, "policy.max_query_work", "work units");
	expect_error("[policy]\nmechanisms = laplace, exponential\n", 10, "policy.mechanisms",
	             "laplace, gaussian or skellam");
	expect_error("[policy]\nmechanisms =\n", 10, "policy.mechanisms", "at least one");
	expect_error("[policy]\nsuppress_below = many\n", 10, "policy.suppress_below", "integer");
	expect_error("[policy]\nround_to = 5.5\n", 10, "policy.round_to", "integer");
}

Test(coord_config, bad_urls_and_paths)
{
	static const char head[] = "[coordinator]\n";
	struct {
		const char *line, *key, *reason;
	} cases[] = {
	    {"listen = 127.0.0.1:7400\n", "coordinator.listen", "URL"},
	    {"listen = tls+tcp://\n", "coordinator.listen", "URL"},
	    {"listen = https://127.0.0.1:1\n", "coordinator.listen", "URL"},
	    {"api = tcp://127.0.0.1:1\n", "coordinator.api", "URL"},
	    {"api = https://a b\n", "coordinator.api", "URL"},
	    {"sign_key =\n", "coordinator.sign_key", "path"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[1024];
		struct tly_coord_config cfg;
		struct tly_field_error err;
		snprintf(text, sizeof text, "%s%s", head, cases[i].line);
		cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL, "%s", cases[i].line);
		cr_assert_eq(err.line, 2, "%s", cases[i].line);
		cr_assert_str_eq(err.field, cases[i].key);
		cr_assert(strstr(err.reason, cases[i].reason) != NULL, "%s", err.reason);
	}

	char *long_path = malloc(TLY_COORD_PATH_MAX + 64);
	cr_assert_not_null(long_path);
	memset(long_path, 'a', TLY_COORD_PATH_MAX);
	long_path[TLY_COORD_PATH_MAX] = '\0';
	char *text = malloc(TLY_COORD_PATH_MAX + 256);
	cr_assert_not_null(text);
	snprintf(text, TLY_COORD_PATH_MAX + 256, "%s[coordinator]\nlog = %s\n", "", long_path);
	struct tly_coord_config cfg;
	struct tly_field_error err;
	cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL);
	cr_assert_eq(err.line, 2, "%d %s %s", err.line, err.field, err.reason);
	cr_assert_str_eq(err.field, "coordinator.log");
	cr_assert(strstr(err.reason, "too long") != NULL, "%s", err.reason);
	free(text);
	free(long_path);
}

Test(coord_config, missing_keys)
{
	static const char *const required[] = {"listen",    "api", "sign_key", "registry",
	                                       "catalogue", "log", "planners"};

	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		char text[1024] = "", key[64];
		const char *line = minimal;
		struct tly_coord_config cfg;
		struct tly_field_error err;
		/* minimal without the line that sets required[i] */
		while (*line != '\0') {
			const char *end = strchr(line, '\n');
			size_t n = (size_t)(end - line) + 1;
			if (strncmp(line, required[i], strlen(required[i])) != 0 ||
			    line[strlen(required[i])] != ' ')
				strncat(text, line, n);
			line += n;
		}
		snprintf(key, sizeof key, "coordinator.%s", required[i]);
		cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL, "%s", required[i]);
		cr_assert_eq(err.line, 0);
		cr_assert_str_eq(err.field, key);
		cr_assert(strstr(err.reason, "required key is missing") != NULL);
	}
}

Test(coord_config, tls_files_required_with_tls)
{
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char text[1024];

	snprintf(
	    text, sizeof text,
	    "[coordinator]\nlisten = tls+tcp://127.0.0.1:7400\napi = http://127.0.0.1:1\n"
	    "sign_key = a\nregistry = b\ncatalogue = c\nlog = d\nplanners = p\ntls_cert = e\n");
	cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL);
	cr_assert_eq(err.line, 0);
	cr_assert_str_eq(err.field, "coordinator.tls_key");
	cr_assert(strstr(err.reason, "uses TLS") != NULL, "%s", err.reason);

	snprintf(text, sizeof text,
	         "[coordinator]\nlisten = tcp://127.0.0.1:7400\napi = https://127.0.0.1:1\n"
	         "sign_key = a\nregistry = b\ncatalogue = c\nlog = d\nplanners = p\n");
	cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL);
	cr_assert_str_eq(err.field, "coordinator.tls_cert");
}

Test(coord_config, rules_between_keys_name_the_later_line)
{
	expect_error("[rounds]\nthreshold = 5\n", 10, "rounds.threshold", "at most committee_size");
	expect_error("[rounds]\nthreshold = 4\ncommittee_size = 3\n", 11, "rounds.committee_size",
	             "at most committee_size");
	/* 2q >= k + t: with k = 4, t = 2 a quorum of 2 would let two sets
	 * each gather q votes with one colluding member. */
	expect_error("[rounds]\ncommittee_size = 4\nthreshold = 2\nquorum = 2\n", 12,
	             "rounds.quorum", "2q >= committee_size k + threshold t");
	expect_error("[rounds]\nquorum = 2\ncommittee_size = 5\n", 11, "rounds.committee_size",
	             "2q >= committee_size k + threshold t");
	expect_error("[rounds]\nquorum = 1\n", 10, "rounds.quorum", "from threshold t");
	expect_error("[rounds]\nquorum = 5\n", 10, "rounds.quorum", "to committee_size k");
	/* t <= k/2 is fine now; q = 3 is the smallest for k = 4, t = 2. */
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char text[1024];
	snprintf(text, sizeof text, "%s[rounds]\ncommittee_size = 4\nthreshold = 2\nquorum = 3\n",
	         minimal);
	cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.quorum, 3);
	expect_error("[policy]\nmin_honest = 4\n", 10, "policy.min_honest",
	             "at most min_contributors");
	/* No graph keeps masking private and live when gamma + 2 delta >= 1. */
	expect_error("[rounds]\nmasking_dropout_percent = 30\nmasking_corrupt_percent = 40\n", 11,
	             "rounds.masking_corrupt_percent", "below 100");
	expect_error("[rounds]\nmasking_corrupt_percent = 40\nmasking_dropout_percent = 30\n", 11,
	             "rounds.masking_dropout_percent", "below 100");
	snprintf(text, sizeof text,
	         "%s[rounds]\nprotocol = auto\nmasking_from = 3\nmasking_corrupt_percent = 39\n"
	         "masking_dropout_percent = 30\n",
	         minimal);
	cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.protocol, TLY_COORD_PROTOCOL_AUTO);
	cr_assert_eq(cfg.masking_from, 3);
	cr_assert_eq(cfg.masking_corrupt_percent, 39);
	expect_error("[policy]\nmin_honest = 2\nmin_contributors = 1\n", 11,
	             "policy.min_contributors", "at most min_contributors");
}

/* The heartbeat (issue 12 section 4): defaults detect a dead node
 * link within 10 s; bounds and the rule between the two keys. */
Test(coord_config, heartbeat_keys)
{
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char text[1024];

	cr_assert_eq(parse(minimal, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.heartbeat_interval_ms, 2000);
	cr_assert_eq(cfg.heartbeat_dead_ms, 6000);
	cr_assert_leq(cfg.heartbeat_dead_ms + cfg.heartbeat_interval_ms, 10000);
	snprintf(text, sizeof text, "%sheartbeat_interval_ms = 500\nheartbeat_dead_ms = 1000\n",
	         minimal);
	cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.heartbeat_interval_ms, 500);
	cr_assert_eq(cfg.heartbeat_dead_ms, 1000);
	static const struct {
		const char *line, *key, *why;
		int at;
	} bad[] = {
	    {"heartbeat_interval_ms = 99\n", "coordinator.heartbeat_interval_ms", "100 to 60000",
	     9},
	    {"heartbeat_interval_ms = 60001\n", "coordinator.heartbeat_interval_ms", "100 to 60000",
	     9},
	    {"heartbeat_dead_ms = 2s\n", "coordinator.heartbeat_dead_ms", "200 to 600000", 9},
	    {"heartbeat_dead_ms = 600001\n", "coordinator.heartbeat_dead_ms", "200 to 600000", 9},
	    /* Default interval 2000: a dead-after of 3999 would cut a healthy
	     * node for one late keepalive. */
	    {"heartbeat_dead_ms = 3999\n", "coordinator.heartbeat_dead_ms", "at least twice", 9},
	    {"heartbeat_dead_ms = 4000\nheartbeat_interval_ms = 2001\n",
	     "coordinator.heartbeat_interval_ms", "at least twice", 10},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "%s%s", minimal, bad[i].line);
		cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL, "accepted %s", bad[i].line);
		cr_assert_str_eq(err.field, bad[i].key, "%s: %s", err.field, err.reason);
		cr_assert(strstr(err.reason, bad[i].why) != NULL, "%s", err.reason);
		cr_assert_eq(err.line, bad[i].at, "%s line %d", bad[i].line, err.line);
	}
}

Test(coord_config, load_from_file)
{
	char dir[] = "/tmp/tly_coord_config_XXXXXX";
	char path[128];
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char formatted[700];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/coordinator.conf", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(good, f);
	fclose(f);
	cr_assert_eq(tly_coord_config_load(&cfg, path, &err), TLY_OK, "%s", err.reason);
	char want[256];
	snprintf(want, sizeof want, "%s/keys/coordinator.sign", dir);
	cr_assert_str_eq(cfg.sign_key, want, "relative to the file's folder");
	cr_assert_str_eq(cfg.file, path);

	f = fopen(path, "a");
	cr_assert_not_null(f);
	fputs("bogus = 1\n", f);
	fclose(f);
	cr_assert_eq(tly_coord_config_load(&cfg, path, &err), TLY_EINVAL);
	tly_field_error_format(&err, formatted, sizeof formatted);
	char prefix[256];
	snprintf(prefix, sizeof prefix, "%s:25: policy.bogus: unknown key", path);
	cr_assert_str_eq(formatted, prefix);

	unlink(path);
	cr_assert_eq(tly_coord_config_load(&cfg, path, &err), TLY_EINVAL);
	cr_assert_str_eq(err.field, "(file)");
	cr_assert(strstr(err.reason, "cannot open") != NULL);
	rmdir(dir);
}

/* One CA per role: the single tls_ca of old configs is refused, naming
 * what replaces it; each listener's CA is required with TLS. */
Test(coord_config, one_ca_per_role)
{
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char text[1024];

	expect_error("tls_ca = ca.crt\n", 9, "coordinator.tls_ca", "tls_node_ca");
	expect_error("tls_ca = ca.crt\n", 9, "coordinator.tls_ca", "tls_planner_ca");
	snprintf(text, sizeof text,
	         "[coordinator]\nlisten = tls+tcp://127.0.0.1:7400\napi = https://127.0.0.1:1\n"
	         "sign_key = a\nregistry = b\ncatalogue = c\nlog = d\nplanners = p\n"
	         "tls_cert = e\ntls_key = f\ntls_node_ca = g\n");
	cr_assert_eq(parse(text, &cfg, &err), TLY_EINVAL);
	cr_assert_str_eq(err.field, "coordinator.tls_planner_ca");
	cr_assert(strstr(err.reason, "uses TLS") != NULL, "%s", err.reason);
	char more[1100];
	snprintf(more, sizeof more, "%stls_planner_ca = h\n", text);
	cr_assert_eq(parse(more, &cfg, &err), TLY_OK, "%s", err.reason);
	cr_assert_str_eq(cfg.tls_node_ca, "/srv/tally/g");
	cr_assert_str_eq(cfg.tls_planner_ca, "/srv/tally/h");
	cr_assert_str_eq(cfg.planners, "/srv/tally/p");
}

/* [api]: the planner API's limits (issue 12 section 3). */
Test(coord_config, api_limits)
{
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char text[1024];

	cr_assert_eq(parse(minimal, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.planner_rate, 0, "no rate limit by default");
	cr_assert_eq(cfg.planner_burst, 10);
	cr_assert_eq(cfg.queue_max, 64);
	cr_assert_eq(cfg.planner_queue_max, 64, "unset: queue_max");
	snprintf(
	    text, sizeof text,
	    "%s[api]\nplanner_rate = 60\nplanner_burst = 5\nqueue_max = 8\nplanner_queue_max = 2\n",
	    minimal);
	cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.planner_rate, 60);
	cr_assert_eq(cfg.planner_burst, 5);
	cr_assert_eq(cfg.queue_max, 8);
	cr_assert_eq(cfg.planner_queue_max, 2);
	snprintf(text, sizeof text, "%s[api]\nqueue_max = 8\n", minimal);
	cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.planner_queue_max, 8, "unset: queue_max");
	expect_error("[api]\nplanner_rate = 60001\n", 10, "api.planner_rate",
	             "0 (no limit) to 60000");
	expect_error("[api]\nplanner_rate = -1\n", 10, "api.planner_rate", "0 (no limit) to 60000");
	expect_error("[api]\nplanner_burst = 0\n", 10, "api.planner_burst", "from 1 to 10000");
	expect_error("[api]\nqueue_max = 0\n", 10, "api.queue_max", "from 1 to 4096");
	expect_error("[api]\nqueue_max = 4097\n", 10, "api.queue_max", "from 1 to 4096");
	expect_error("[api]\nplanner_queue_max = x\n", 10, "api.planner_queue_max",
	             "from 1 to 4096");
	expect_error("[api]\nplanner_queue_max = 65\n", 10, "api.planner_queue_max",
	             "at most queue_max");
	expect_error("[api]\nplanner_queue_max = 4\nqueue_max = 2\n", 11, "api.queue_max",
	             "at most queue_max");
	expect_error("[api]\nrate = 4\n", 10, "api.rate", "unknown");
}

/* [api] planner_share (issue 12 section 3): default 1 (off), a fraction
 * or a decimal, 0 < share <= 1, errors naming api.planner_share and its
 * line. */
Test(coord_config, planner_share)
{
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char text[1024];

	cr_assert_eq(parse(minimal, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert(cfg.planner_share_num == 1 && cfg.planner_share_den == 1, "default: 1");
	const char *shares[][3] = {{"1/4", "1", "4"},
	                           {"0.25", "1", "4"},
	                           {"2/6", "1", "3"},
	                           {"1", "1", "1"},
	                           {"0.5", "1", "2"}};
	for (size_t i = 0; i < sizeof shares / sizeof shares[0]; i++) {
		snprintf(text, sizeof text, "%s[api]\nplanner_share = %s\n", minimal, shares[i][0]);
		cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
		cr_assert_eq(cfg.planner_share_num, strtoull(shares[i][1], NULL, 10), "%s",
		             shares[i][0]);
		cr_assert_eq(cfg.planner_share_den, strtoull(shares[i][2], NULL, 10), "%s",
		             shares[i][0]);
	}
	const char *bad[] = {"0", "0/4", "5/4", "1.5", "-1/4", "x", "1/0", "0.0000000001", "25%"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "[api]\nplanner_share = %s\n", bad[i]);
		expect_error(text, 10, "api.planner_share", "above 0 and at most 1");
	}
}

/* [limits]: the API listener's limits (issue 12 §1). */
Test(coord_config, limits_defaults_values_and_errors)
{
	struct tly_coord_config cfg;
	struct tly_field_error err;
	char text[1024];

	cr_assert_eq(parse(minimal, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.api_max_conns, 256);
	cr_assert_eq(cfg.handshake_timeout_ms, 5000);
	cr_assert_eq(cfg.idle_timeout_ms, 300000);
	snprintf(text, sizeof text,
	         "%s[limits]\napi_max_conns = 1000\nhandshake_timeout_ms = 100\n"
	         "idle_timeout_ms = 1000\n",
	         minimal);
	cr_assert_eq(parse(text, &cfg, &err), TLY_OK, "%s: %s", err.field, err.reason);
	cr_assert_eq(cfg.api_max_conns, 1000);
	cr_assert_eq(cfg.handshake_timeout_ms, 100);
	cr_assert_eq(cfg.idle_timeout_ms, 1000);
	expect_error("[limits]\napi_max_conns = 0\n", 10, "limits.api_max_conns",
	             "from 1 to 100000");
	expect_error("[limits]\napi_max_conns = 100001\n", 10, "limits.api_max_conns",
	             "1 to 100000");
	expect_error("[limits]\napi_max_conns = many\n", 10, "limits.api_max_conns",
	             "whole number");
	expect_error("[limits]\nhandshake_timeout_ms = 99\n", 10, "limits.handshake_timeout_ms",
	             "from 100 to 600000");
	expect_error("[limits]\nhandshake_timeout_ms = 600001\n", 10, "limits.handshake_timeout_ms",
	             "from 100 to 600000");
	expect_error("[limits]\nidle_timeout_ms = 999\n", 10, "limits.idle_timeout_ms",
	             "from 1000 to 86400000");
	expect_error("[limits]\nidle_timeout_ms = 86400001\n", 10, "limits.idle_timeout_ms",
	             "from 1000 to 86400000");
	expect_error("[limits]\nmax_conns = 5\n", 10, "limits.max_conns", "unknown key");
}
