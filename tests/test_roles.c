/*
 * Roles that hold, against real processes and real certificates: a
 * federation set up with `tally demo --serve` (one CA per role, the
 * planner's signing key in the coordinator's planners file), then every
 * cross-role attempt, each refused with exit 5 or 403:
 *   - a node's certificate, and the coordinator's, on the planner API;
 *   - a planner's certificate on the node listener, in a tally-node that
 *     also holds node 1's signing keys (node 1 never registers);
 *   - a planner certificate from the right CA with a request that is
 *     unsigned, signed by an unknown planner or the wrong key, stale,
 *     replayed, or whose body was changed after signing;
 * and the honest planner, whose name the QUERY, the log entry's spec, the
 * nodes' log lines and `tally audit explain` all carry.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/sign.h"
#include "store/keys.h"
#include "query/planner.h"
#include "net/transport.h"
#include "tests/daemons.h"
#include "tests/demo.h"

enum { SITES = 5, WAIT_S = 60 }; /* one may stop and leave a committee of k = 4 */

static struct dmn_demo demo;

/* Everything the last dmn_demo_run printed (stdout and stderr), malloc'd. */
static char *
output(void)
{
	char log[300];
	dmn_demo_path(&demo, log, sizeof log, "out.txt");
	return dmn_slurp_or_empty(log, NULL);
}

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
	dmn_demo_init(&demo, "roles");
	dmn_demo_serve(&demo, SITES, 4000, 7);
}

static void
teardown(void)
{
	dmn_demo_fini(&demo);
}

TestSuite(roles, .init = setup, .fini = teardown, .timeout = 240);

/* `tally query --count --epsilon 0.5` with these credentials (paths under
 * DIR); planner and sign_key NULL send no signature. */
static int
query_as(const char *cert, const char *key, const char *planner, const char *sign_key)
{
	char c[300], k[300], ca[300], s[300];
	const char *argv[24] = {"tally",   "query",     "--api", demo.api,    "--cert",
	                        c,         "--key",     k,       "--ca",      ca,
	                        "--count", "--epsilon", "0.5",   "--timeout", "60000"};
	size_t n = 15;
	dmn_demo_path(&demo, c, sizeof c, cert);
	dmn_demo_path(&demo, k, sizeof k, key);
	dmn_demo_path(&demo, ca, sizeof ca, "pki/coordinator-ca.crt");
	if (planner != NULL) {
		dmn_demo_path(&demo, s, sizeof s, sign_key);
		argv[n++] = "--planner";
		argv[n++] = planner;
		argv[n++] = "--sign-key";
		argv[n++] = s;
	}
	argv[n] = NULL;
	return dmn_demo_run(&demo, argv);
}

/* How many releases the coordinator has made, from GET /v1/status with
 * the planner's credentials. */
static long
status_field(const char *field)
{
	double ms;
	json_t *json = NULL;
	cr_assert_eq(dmn_demo_api_get(&demo, "/v1/status", 30000, &ms, &json), 200);
	cr_assert_not_null(json);
	long value = (long)json_integer_value(json_object_get(json, field));
	json_decref(json);
	return value;
}

Test(roles, node_and_coordinator_certificates_fail_on_the_api)
{
	/* With the planner's own signing key, so that only the certificate
	 * is wrong: TLS itself refuses them (exit 5). */
	cr_expect_eq(query_as("site-1/pki/node-1.crt", "site-1/pki/node-1.key", "planner",
	                      "pki/planner.sign"),
	             5, "a node's certificate was accepted on the API: %s", output());
	cr_expect_eq(query_as("coordinator/pki/coordinator.crt", "coordinator/pki/coordinator.key",
	                      "planner", "pki/planner.sign"),
	             5, "the coordinator's certificate was accepted on the API: %s", output());
	/* Control: the planner's certificate with the same key is released. */
	cr_expect_eq(query_as("pki/planner.crt", "pki/planner.key", "planner", "pki/planner.sign"),
	             0, "%s", output());
	cr_expect_eq(status_field("released"), 1);
}

/* ---- signed requests ---- */

struct api_call {
	char url[300];
	struct tly_tls_files tls;
	struct dmn_tls_paths paths;
};

static void
api_init(struct api_call *a)
{
	snprintf(a->url, sizeof a->url, "%s/v1/queries", demo.api);
	dmn_planner_tls(demo.dir, &a->paths);
	a->tls =
	    (struct tly_tls_files){.cert = a->paths.cert, .key = a->paths.key, .ca = a->paths.ca};
}

/* POST body with this header (NULL: none); the HTTP status, and the
 * error code of a refusal in code. */
static int
post(const struct api_call *a, const char *auth, const char *body, char *code, size_t code_len)
{
	char why[300];
	uint8_t *response = NULL;
	size_t len;
	int status;
	cr_assert_eq(tly_https_request_signed(a->url, "POST", &a->tls, auth, (const uint8_t *)body,
	                                      strlen(body), 60000, &status, &response, &len, why,
	                                      sizeof why),
	             TLY_OK, "%s", why);
	json_t *json = json_loadb((const char *)response, len, 0, NULL);
	const char *c = json_string_value(json_object_get(json_object_get(json, "error"), "code"));
	snprintf(code, code_len, "%s", c != NULL ? c : "");
	json_decref(json);
	free(response);
	return status;
}

static struct tly_sign_key *
key_from(const char *rel)
{
	char path[300], why[300];
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	struct tly_sign_key *key;
	dmn_demo_path(&demo, path, sizeof path, rel);
	cr_assert_eq(tly_key_file_read(path, seed, sizeof seed, why, sizeof why), TLY_OK, "%s",
	             why);
	cr_assert_eq(tly_sign_key_alloc(&key, seed), TLY_OK);
	sodium_memzero(seed, sizeof seed);
	return key;
}

static void
sign(char out[TLY_PLANNER_HEADER_MAX], const char *name, const struct tly_sign_key *key,
     const char *body, uint64_t time)
{
	uint8_t nonce[TLY_PLANNER_NONCE_BYTES];
	randombytes_buf(nonce, sizeof nonce);
	cr_assert_eq(tly_planner_sign(out, name, key, "POST", "/v1/queries", (const uint8_t *)body,
	                              strlen(body), time, nonce),
	             TLY_OK);
}

static const char count_query[] = "{\"dataset\": \"patients\", \"measure\": {\"op\": \"count\"},"
                                  " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 0.5}}";

Test(roles, unsigned_unknown_stale_and_replayed_requests_are_403)
{
	struct api_call a;
	char auth[TLY_PLANNER_HEADER_MAX], code[64];
	uint64_t now = (uint64_t)time(NULL);
	struct tly_sign_key *planner = key_from("pki/planner.sign"), *stranger;
	cr_assert_eq(tly_sign_key_alloc(&stranger, NULL), TLY_OK);
	api_init(&a);

	/* Unsigned, with the planner's certificate from the planners' CA. */
	cr_expect_eq(post(&a, NULL, count_query, code, sizeof code), 403);
	cr_expect_str_eq(code, "unauthenticated");
	/* A name the planners file does not list. */
	sign(auth, "mallory", stranger, count_query, now);
	cr_expect_eq(post(&a, auth, count_query, code, sizeof code), 403);
	/* A listed name, another key. */
	sign(auth, "planner", stranger, count_query, now);
	cr_expect_eq(post(&a, auth, count_query, code, sizeof code), 403);
	/* Malformed. */
	cr_expect_eq(post(&a, "planner=planner, time=1", count_query, code, sizeof code), 403);
	/* An hour old, and an hour ahead. */
	sign(auth, "planner", planner, count_query, now - 3600);
	cr_expect_eq(post(&a, auth, count_query, code, sizeof code), 403);
	sign(auth, "planner", planner, count_query, now + 3600);
	cr_expect_eq(post(&a, auth, count_query, code, sizeof code), 403);
	/* Signed, then the body changed (epsilon 2 for 0.5). */
	sign(auth, "planner", planner, count_query, now);
	static const char changed[] = "{\"dataset\": \"patients\", \"measure\": {\"op\": "
	                              "\"count\"}, \"privacy\": {\"mechanism\": \"laplace\", "
	                              "\"epsilon\": 2}}";
	cr_expect_eq(post(&a, auth, changed, code, sizeof code), 403);
	cr_expect_eq(status_field("released"), 0, "a refused request was answered");
	/* Control: the same signature on its own body is released, once; the
	 * very same bytes again are a replay. */
	cr_expect_eq(post(&a, auth, count_query, code, sizeof code), 200, "%s", code);
	cr_expect_eq(post(&a, auth, count_query, code, sizeof code), 403);
	cr_expect_str_eq(code, "unauthenticated");
	cr_expect_eq(status_field("released"), 1);
	/* A query that names another planner than the one who signed it. */
	char other[sizeof count_query + 40];
	snprintf(other, sizeof other, "%.*s, \"planner\": \"alice\"}", (int)strlen(count_query) - 1,
	         count_query);
	sign(auth, "planner", planner, other, now);
	cr_expect_eq(post(&a, auth, other, code, sizeof code), 400);
	cr_expect_str_eq(code, "invalid_query");
	/* `tally query` with no signing key: exit 5, saying why. */
	cr_expect_eq(query_as("pki/planner.crt", "pki/planner.key", NULL, NULL), 5, "%s", output());
	char *said = output();
	cr_expect(strstr(said, "not signed") != NULL, "%s", said);
	free(said);
	cr_expect_eq(status_field("released"), 1);
	tly_sign_key_free(planner);
	tly_sign_key_free(stranger);
}

/* ---- the node listener ---- */

/* A tally-node on config, its stderr in log. */
static pid_t
spawn_node(const char *config, const char *log)
{
	char program[1200];
	snprintf(program, sizeof program, "%s/tally-node", demo.bin);
	return dmn_spawn_split(
	    program, (const char *const[]){"tally-node", "--config", config, NULL}, NULL, log);
}

static size_t
count_of(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* A tally-node with node 1's config (keys, ledger, registry) but the
 * certificate and key at cert and key (relative to site-1/), in node 1's
 * place: refused on every dial, never welcomed, node 1 never registers. */
static void
impostor_refused(const char *name, const char *cert, const char *key)
{
	char real[300], conf[300], log[300], line[400], rel[200];
	dmn_demo_path(&demo, real, sizeof real, "site-1/node.conf");
	snprintf(rel, sizeof rel, "site-1/%s.conf", name);
	dmn_demo_path(&demo, conf, sizeof conf, rel);
	FILE *in = fopen(real, "r"), *out = fopen(conf, "w");
	cr_assert(in != NULL && out != NULL);
	while (fgets(line, sizeof line, in) != NULL) {
		if (strncmp(line, "tls_cert", 8) == 0)
			fprintf(out, "tls_cert = %s\n", cert);
		else if (strncmp(line, "tls_key", 7) == 0)
			fprintf(out, "tls_key = %s\n", key);
		else
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
	snprintf(rel, sizeof rel, "logs/%s.log", name);
	dmn_demo_path(&demo, log, sizeof log, rel);
	pid_t impostor = spawn_node(conf, log);

	/* Wait until it has tried twice, or was let in. */
	char *text = NULL;
	for (int i = 0; i < WAIT_S * 10; i++) {
		free(text);
		text = dmn_slurp_or_empty(log, NULL);
		if (strstr(text, "connected to the coordinator at") != NULL ||
		    count_of(text, "the coordinator at") >= 2)
			break;
		dmn_pause_ms(100);
	}
	cr_expect(strstr(text, "connected to the coordinator at") == NULL,
	          "%s was welcomed as node 1:\n%s", name, text);
	cr_expect_geq(count_of(text, "the coordinator at"), 2, "%s: no refusal seen:\n%s", name,
	              text);
	cr_expect_eq(status_field("nodes_connected"), SITES - 1, "%s registered as node 1", name);
	free(text);
	kill(impostor, SIGTERM);
	waitpid(impostor, NULL, 0);
}

/* The third attack of issue 10: a tally-node holding the planner's TLS
 * certificate and node 1's signing keys, in node 1's place; and the same
 * with the coordinator's certificate. */
Test(roles, planner_certificate_fails_on_the_node_listener)
{
	char log[300];
	dmn_demo_stop(&demo, "node-1", WAIT_S * 1000);
	for (int i = 0; i < WAIT_S * 10 && status_field("nodes_connected") != SITES - 1; i++)
		dmn_pause_ms(100);
	cr_assert_eq(status_field("nodes_connected"), SITES - 1);

	impostor_refused("planner-impostor", "../pki/planner.crt", "../pki/planner.key");
	impostor_refused("coordinator-impostor", "../coordinator/pki/coordinator.crt",
	                 "../coordinator/pki/coordinator.key");
	/* Queries go on without node 1. */
	char api_conf[300];
	dmn_demo_path(&demo, api_conf, sizeof api_conf, "planner.conf");
	dmn_demo_path(&demo, log, sizeof log, "answer.json");
	cr_expect_eq(
	    dmn_demo_run_to(&demo, log,
	                    (const char *const[]){"tally", "query", "--config", api_conf, "--count",
	                                          "--epsilon", "0.5", "--format", "json", NULL}),
	    0);
	json_t *answer = json_load_file(log, 0, NULL);
	cr_expect_eq(json_integer_value(json_object_get(answer, "contributors")), SITES - 1);
	json_decref(answer);
	/* Control: node 1's own certificate is welcomed again. */
	char conf[300];
	dmn_demo_path(&demo, conf, sizeof conf, "site-1/node.conf");
	dmn_demo_path(&demo, log, sizeof log, "logs/node-1-again.log");
	pid_t again = spawn_node(conf, log);
	for (int i = 0; i < WAIT_S * 10 && status_field("nodes_connected") != SITES; i++)
		dmn_pause_ms(100);
	cr_expect_eq(status_field("nodes_connected"), SITES, "node 1's own certificate failed");
	kill(again, SIGTERM);
	waitpid(again, NULL, 0);
}

/* ---- who asked ---- */

Test(roles, the_planner_is_named_in_query_log_and_explain)
{
	char conf[300], log[300];
	dmn_demo_path(&demo, conf, sizeof conf, "planner.conf");
	dmn_demo_path(&demo, log, sizeof log, "answer.json");
	cr_assert_eq(dmn_demo_run_to(&demo, log,
	                             (const char *const[]){"tally", "query", "--config", conf,
	                                                   "--count", "--by", "sex", "--epsilon",
	                                                   "0.5", "--format", "json", NULL}),
	             0);
	json_t *answer = json_load_file(log, 0, NULL);
	const char *qid = json_string_value(json_object_get(answer, "query_id"));
	cr_assert_not_null(qid);
	char id[64];
	snprintf(id, sizeof id, "%s", qid);
	json_decref(answer);

	/* The nodes saw the name in the QUERY they answered. */
	char node_log[300], want[200];
	dmn_demo_path(&demo, node_log, sizeof node_log, "logs/node-2.log");
	char *text = dmn_slurp_or_empty(node_log, NULL);
	snprintf(want, sizeof want, "query %s: asked by planner planner", id);
	cr_expect(strstr(text, want) != NULL, "%s", text);
	free(text);

	/* The log entry's spec names it, and explain says so. */
	(void)dmn_demo_run(
	    &demo, (const char *const[]){"tally", "demo", "--stop", "--dir", demo.dir, NULL});
	cr_assert_eq(dmn_demo_run(&demo, (const char *const[]){"tally", "audit", "explain", "--dir",
	                                                       demo.dir, id, NULL}),
	             0, "%s", output());
	text = output();
	cr_expect(strstr(text, "Asked by planner \"planner\"") != NULL, "%s", text);
	free(text);
	cr_expect_eq(dmn_demo_run(&demo, (const char *const[]){"tally", "audit", "verify", "--dir",
	                                                       demo.dir, NULL}),
	             0, "%s", output());
}
