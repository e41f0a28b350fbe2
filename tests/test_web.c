/*
 * test_web.c - the dashboard's static files (coordinator/web.h) and the
 * budgets table behind GET /v1/budgets (coordinator/budgets.h):
 *
 *   - the name rule and the lookup: "/", "/web/NAME" of a loaded file,
 *     and nothing else ("..", "%2e%2e", absolute paths, "//", sub-folders,
 *     long names, NUL cut names);
 *   - loading a folder skips what may not be served (dot files, upper
 *     case, sub-folders, symlinks, unknown extensions) and refuses a
 *     folder without index.html or with a file over the cap;
 *   - the budgets table keeps the newest receipt per node and
 *     population, and its "used" follows the ledger's rule;
 *   - a real coordinator (`tally demo --serve`): GET / and /web/app.js
 *     serve the files, every traversal spelling is a 404 that leaks
 *     nothing, and GET /v1/budgets reports the spend of a query just
 *     answered at every trust.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/query.h"
#include "coordinator/budgets.h"
#include "coordinator/web.h"
#include "net/transport.h"
#include "query/planner.h"
#include "wire/codec.h"
#include "wire/hex.h"
#include "tests/daemons.h"
#include "tests/demo.h"

static char why[600];

/* ---- names and lookup ---- */

Test(web, name_rule)
{
	const char *good[] = {"index.html", "app.js",    "style.css",
	                      "blake2b.js", "a-b_c.mjs", "logo.svg"};
	const char *bad[] = {"",           ".",      "..",     ".env",       "index",
	                     "Index.html", "a/b.js", "a.b.js", "app.js.bak", "x.exe",
	                     "%2e%2e",     "app.JS", "..html", ".html",      "a b.js"};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_assert(tly_web_name_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert(!tly_web_name_valid(bad[i]), "%s", bad[i]);
	char name[TLY_WEB_NAME_MAX + 2];
	memset(name, 'a', sizeof name);
	memcpy(name + TLY_WEB_NAME_MAX - 3, ".js", 4);
	cr_assert(tly_web_name_valid(name));
	memset(name, 'a', sizeof name);
	memcpy(name + TLY_WEB_NAME_MAX - 2, ".js", 4);
	cr_assert(!tly_web_name_valid(name), "over TLY_WEB_NAME_MAX");
	cr_assert_str_eq(tly_web_type("app.js"), "text/javascript; charset=utf-8");
	cr_assert_str_eq(tly_web_type("index.html"), "text/html; charset=utf-8");
	cr_assert_str_eq(tly_web_type("style.css"), "text/css; charset=utf-8");
}

static void
put(const char *dir, const char *name, const char *text)
{
	char path[400];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void
folder(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/tally-web-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	put(dir, "index.html", "<!doctype html>");
	put(dir, "app.js", "export {};");
	put(dir, ".secret.js", "no");
	put(dir, "Upper.js", "no");
	put(dir, "notes.bak", "no");
	char sub[400];
	snprintf(sub, sizeof sub, "%s/sub.js", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	put(sub, "inner.js", "no");
	snprintf(sub, sizeof sub, "%s/link.js", dir);
	cr_assert_eq(symlink("/etc/passwd", sub), 0);
}

static void
remove_folder(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(web, load_serves_only_the_list)
{
	char dir[64];
	struct tly_web w;
	folder(dir, sizeof dir);
	/* A symlink among the files is refused, not followed. */
	cr_assert_neq(tly_web_load(&w, dir, why, sizeof why), TLY_OK);
	cr_assert_eq(w.count, 0);
	char link[300];
	snprintf(link, sizeof link, "%s/link.js", dir);
	cr_assert_eq(unlink(link), 0);
	cr_assert_eq(tly_web_load(&w, dir, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_eq(w.count, 2, "index.html and app.js only, not %zu", w.count);
	const struct tly_web_file *f = tly_web_find(&w, "/");
	cr_assert_not_null(f);
	cr_assert_str_eq(f->name, "index.html");
	cr_assert_eq(f->len, strlen("<!doctype html>"));
	cr_assert_not_null(tly_web_find(&w, "/web/app.js"));
	cr_assert_not_null(tly_web_find(&w, "/web/index.html"));
	const char *refused[] = {"/web/",
	                         "/web/../index.html",
	                         "/web/%2e%2e/index.html",
	                         "/web/%2E%2E%2Fapp.js",
	                         "/web//app.js",
	                         "/web/./app.js",
	                         "/web/sub.js/inner.js",
	                         "/web/.secret.js",
	                         "/web/Upper.js",
	                         "/web/notes.bak",
	                         "/web/app.js/",
	                         "/web/app.js/..",
	                         "//web/app.js",
	                         "/app.js",
	                         "/index.html",
	                         "/etc/passwd",
	                         "/web/etc/passwd",
	                         "/web//etc/passwd",
	                         "web/app.js",
	                         "",
	                         "/WEB/app.js",
	                         "/web\\app.js"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		cr_assert_null(tly_web_find(&w, refused[i]), "%s", refused[i]);
	char longpath[5000];
	memset(longpath, 'a', sizeof longpath);
	memcpy(longpath, "/web/", 5);
	memcpy(longpath + sizeof longpath - 4, ".js", 4);
	cr_assert_null(tly_web_find(&w, longpath));
	tly_web_fini(&w);
	remove_folder(dir);
}

Test(web, load_refuses_missing_index_and_big_files)
{
	char dir[64];
	struct tly_web w;
	snprintf(dir, sizeof dir, "/tmp/tally-web-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	put(dir, "app.js", "x");
	cr_assert_eq(tly_web_load(&w, dir, why, sizeof why), TLY_EIO);
	cr_assert(strstr(why, "index.html") != NULL, "%s", why);
	put(dir, "index.html", "x");
	char *big = malloc(TLY_WEB_FILE_MAX + 2);
	memset(big, 'x', TLY_WEB_FILE_MAX + 1);
	big[TLY_WEB_FILE_MAX + 1] = '\0';
	put(dir, "big.js", big);
	free(big);
	cr_assert_eq(tly_web_load(&w, dir, why, sizeof why), TLY_ERANGE);
	cr_assert_eq(w.count, 0);
	cr_assert_eq(tly_web_load(&w, "/nonexistent/tally-web", why, sizeof why), TLY_EIO);
	tly_web_fini(&w);
	remove_folder(dir);
}

Test(web, headers)
{
	int csp = 0, nosniff = 0, cache = 0;
	for (size_t i = 0; tly_web_headers[i] != NULL; i += 2) {
		cr_assert_not_null(tly_web_headers[i + 1]);
		if (strcmp(tly_web_headers[i], "Content-Security-Policy") == 0)
			csp = strstr(tly_web_headers[i + 1], "default-src 'self'") != NULL &&
			      strstr(tly_web_headers[i + 1], "frame-ancestors 'none'") != NULL &&
			      strstr(tly_web_headers[i + 1], "unsafe-inline") == NULL;
		nosniff |= strcmp(tly_web_headers[i], "X-Content-Type-Options") == 0 &&
		           strcmp(tly_web_headers[i + 1], "nosniff") == 0;
		cache |= strcmp(tly_web_headers[i], "Cache-Control") == 0;
	}
	cr_assert(csp && nosniff && cache);
}

/* ---- the page's BLAKE2b vectors ---- */

/* tests/browser/tly_hash_vectors.json, which tests/browser/blake2b.test.mjs
 * holds web/blake2b.js to, is what wire/codec.c's tly_hash computes. */
Test(web, tly_hash_vectors_are_the_c_ones)
{
	json_error_t jerr;
	json_t *root = json_load_file("tests/browser/tly_hash_vectors.json", 0, &jerr);
	json_t *list = json_object_get(root, "vectors"), *v;
	uint8_t data[1000], out[TLY_HASH_BYTES];
	char hex[2 * TLY_HASH_BYTES + 1];
	size_t i;

	cr_assert_not_null(root, "run from the source tree: %s", jerr.text);
	cr_assert_geq(json_array_size(list), 30);
	for (i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	json_array_foreach(list, i, v)
	{
		size_t len = (size_t)json_integer_value(json_object_get(v, "length"));
		cr_assert_leq(len, sizeof data);
		tly_hash(out, json_string_value(json_object_get(v, "domain")), data, len);
		tly_hex(hex, out, sizeof out);
		cr_assert_str_eq(hex, json_string_value(json_object_get(v, "hash")), "vector %zu",
		                 i);
	}
	json_decref(root);
}

/* The "request" vector: tly_planner_sign's header for fixed inputs, which
 * the page's signedBytes must reproduce (blake2b.test.mjs). */
Test(web, request_vector_is_the_c_one)
{
	json_t *root = json_load_file("tests/browser/tly_hash_vectors.json", 0, NULL);
	json_t *rq = json_object_get(root, "request");
	const char *body = json_string_value(json_object_get(rq, "body"));
	uint8_t seed[TLY_SIGN_SEED_BYTES], nonce[TLY_PLANNER_NONCE_BYTES];
	struct tly_sign_key *key;
	char header[TLY_PLANNER_HEADER_MAX];

	cr_assert_not_null(body);
	cr_assert_eq(
	    tly_unhex(seed, sizeof seed, json_string_value(json_object_get(rq, "seed")), 64),
	    TLY_OK);
	cr_assert_eq(
	    tly_unhex(nonce, sizeof nonce, json_string_value(json_object_get(rq, "nonce")), 32),
	    TLY_OK);
	cr_assert_geq(sodium_init(), 0);
	cr_assert_eq(tly_sign_key_alloc(&key, seed), TLY_OK);
	cr_assert_eq(tly_planner_sign(header, json_string_value(json_object_get(rq, "name")), key,
	                              json_string_value(json_object_get(rq, "method")),
	                              json_string_value(json_object_get(rq, "path")),
	                              (const uint8_t *)body, strlen(body),
	                              (uint64_t)json_integer_value(json_object_get(rq, "time")),
	                              nonce),
	             TLY_OK);
	cr_assert_str_eq(header, json_string_value(json_object_get(rq, "header")));
	tly_sign_key_free(key);
	json_decref(root);
}

/* ---- budgets ---- */

static struct tly_ledger_receipt
receipt(uint32_t node, const char *population, uint64_t seq, uint64_t eps_spent_num)
{
	struct tly_ledger_receipt r;
	memset(&r, 0, sizeof r);
	r.node_id = node;
	r.seq = seq;
	snprintf(r.population, sizeof r.population, "%s", population);
	snprintf(r.dataset, sizeof r.dataset, "%s", population);
	r.epsilon_spent = (struct tly_fraction){eps_spent_num, 2};
	r.epsilon_rho_spent = (struct tly_fraction){eps_spent_num * eps_spent_num, 8};
	r.rho_spent = (struct tly_fraction){0, 1};
	r.budget.epsilon_total = (struct tly_fraction){10, 1};
	r.budget.rho_total = (struct tly_fraction){5, 1};
	r.budget.delta_total = (struct tly_fraction){1, 1000000};
	r.budget.sites = 1;
	return r;
}

Test(budgets, newest_per_node_and_population)
{
	struct tly_budgets b = {0};
	struct tly_ledger_receipt rs[] = {
	    receipt(1, "patients", 1, 1), receipt(2, "patients", 1, 1),
	    receipt(1, "patients", 3, 3), receipt(1, "patients", 2, 2), receipt(1, "gp", 1, 1)};
	for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
		cr_assert_eq(tly_budgets_add(&b, &rs[i]), TLY_OK);
	cr_assert_eq(b.count, 3);
	char *text = NULL;
	cr_assert_eq(tly_budgets_json(&b, &text), TLY_OK);
	json_t *root = json_loads(text, 0, NULL), *list = json_object_get(root, "budgets");
	cr_assert_eq(json_array_size(list), 3, "%s", text);
	/* Sorted by population, then node: gp/1, patients/1, patients/2. */
	json_t *p1 = json_array_get(list, 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "population")),
	                 "gp");
	cr_assert_eq(json_integer_value(json_object_get(p1, "node")), 1);
	cr_assert_eq(json_integer_value(json_object_get(p1, "seq")), 3, "%s", text);
	cr_assert_str_eq(json_string_value(json_object_get(p1, "epsilon_spent")), "3/2");
	cr_assert_str_eq(json_string_value(json_object_get(p1, "epsilon_total")), "10/1");
	/* Basic rule: E / eps_total = 1.5 / 10 (below (Q + R) / rho = 9/8 / 5). */
	cr_assert_float_eq(json_real_value(json_object_get(p1, "used")), 0.15, 1e-9, "%s", text);
	cr_assert_float_eq(json_real_value(json_object_get(p1, "remaining")), 0.85, 1e-9);
	cr_assert_float_eq(json_real_value(json_object_get(p1, "epsilon_spent_decimal")), 1.5,
	                   1e-9);
	free(text);
	json_decref(root);
	tly_budgets_fini(&b);
}

Test(budgets, used_by_the_ledger_rule)
{
	struct tly_ledger_receipt r = receipt(1, "p", 1, 3);
	cr_assert_float_eq(tly_budgets_used(&r), 0.15, 1e-12); /* basic: 1.5 / 10 */
	r.budget.sites = 2; /* basic no longer applies: (9/8 + 0) / 5 */
	cr_assert_float_eq(tly_budgets_used(&r), 0.225, 1e-12);
	r.budget.sites = 1;
	r.rho_spent = (struct tly_fraction){1, 1}; /* nor with zCDP spent */
	cr_assert_float_eq(tly_budgets_used(&r), (9.0 / 8 + 1) / 5, 1e-12);
}

/* ---- a real coordinator ---- */

static struct dmn_demo demo;

static int
get(const char *rel, char **body)
{
	char url[6000];
	struct dmn_tls_paths paths;
	struct tly_tls_files tls = {paths.cert, paths.key, paths.ca, NULL};
	uint8_t *response = NULL;
	size_t len = 0;
	int status = -1;

	dmn_planner_tls(demo.dir, &paths);
	snprintf(url, sizeof url, "%s%s", demo.api, rel);
	cr_assert_eq(tly_https_request(url, "GET", &tls, NULL, 0, 60000, &status, &response, &len,
	                               why, sizeof why),
	             TLY_OK, "GET %.80s: %s", rel, why);
	if (body != NULL)
		*body = (char *)response;
	else
		free(response);
	return status;
}

/* POST / (the dashboard takes GET only): the status. */
static int
post_root(void)
{
	char url[300];
	struct dmn_tls_paths paths;
	struct tly_tls_files tls = {paths.cert, paths.key, paths.ca, NULL};
	uint8_t *response = NULL;
	size_t len = 0;
	int status = -1;

	dmn_planner_tls(demo.dir, &paths);
	snprintf(url, sizeof url, "%s/", demo.api);
	cr_assert_eq(tly_https_request(url, "POST", &tls, (const uint8_t *)"{}", 2, 60000, &status,
	                               &response, &len, why, sizeof why),
	             TLY_OK, "POST /: %s", why);
	free(response);
	return status;
}

/* A web_root that is set but cannot be served refuses the start, naming
 * the key (an unset one only leaves the dashboard off). */
static void
refused_without_its_files(void)
{
	char conf[300], broken[320], err[300], cmd[1000];

	dmn_demo_stop(&demo, "coordinator", 30000);
	dmn_demo_conf(&demo, "coordinator", conf, sizeof conf);
	snprintf(broken, sizeof broken, "%s.broken", conf);
	snprintf(cmd, sizeof cmd, "sed 's|^web_root = .*|web_root = /nonexistent/web|' %s > %s",
	         conf, broken);
	cr_assert_eq(system(cmd), 0);
	dmn_demo_path(&demo, err, sizeof err, "logs/broken.err");
	pid_t pid = dmn_demo_spawn(
	    &demo, NULL, err, (const char *const[]){"tally-coordinator", "--config", broken, NULL});
	int code = dmn_wait_or_kill(pid, 60000);
	char *text = dmn_slurp(err, NULL);
	cr_assert_eq(code, 1, "exit %d: %s", code, text);
	cr_assert(strstr(text, "[coordinator] web_root: /nonexistent/web") != NULL, "%s", text);
	free(text);
}

static void
stop_demo(void)
{
	dmn_demo_fini(&demo);
}

Test(web_daemon, serves_files_refuses_traversal_reports_budgets, .fini = stop_demo, .timeout = 300)
{
	char *body = NULL, path[300];
	dmn_demo_init(&demo, "web");
	dmn_demo_serve(&demo, 3, 3000, 1);
	dmn_demo_wait_connected(&demo, 3, 10000, 600);
	cr_assert_eq(get("/", &body), 200);
	cr_assert(strstr(body, "<!doctype html>") != NULL, "%.200s", body);
	free(body);
	cr_assert_eq(post_root(), 405);
	cr_assert_eq(get("/web/app.js", &body), 200);
	cr_assert(strstr(body, "import") != NULL, "%.200s", body);
	free(body);
	char longpath[3000];
	memset(longpath, 'a', sizeof longpath);
	memcpy(longpath, "/web/", 5);
	memcpy(longpath + sizeof longpath - 4, ".js", 4);
	const char *refused[] = {"/web/../coordinator/coordinator.conf",
	                         "/web/%2e%2e/%2e%2e/pki/planner.key",
	                         "/web/..%2f..%2fpki%2fplanner.key",
	                         "/web//etc/passwd",
	                         "/web/%2fetc%2fpasswd",
	                         "/web/index.html%00.png",
	                         "/web/",
	                         "/index.html",
	                         "/etc/passwd",
	                         longpath};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		int status = get(refused[i], &body);
		cr_assert(status == 404 || status == 414 || status == 400, "%.80s: %d", refused[i],
		          status);
		cr_assert(strstr(body, "root:") == NULL && strstr(body, "PRIVATE") == NULL &&
		              strstr(body, "<!doctype") == NULL,
		          "%.80s leaked: %.200s", refused[i], body);
		free(body);
	}
	/* GET /v1/budgets: empty, then every trust's spend after one query. */
	cr_assert_eq(get("/v1/budgets", &body), 200);
	cr_assert_str_eq(body, "{\"budgets\":[]}");
	free(body);
	const char *argv[] = {"tally",   "query",     "--config", path,
	                      "--count", "--epsilon", "0.5",      NULL};
	dmn_demo_path(&demo, path, sizeof path, "planner.conf");
	cr_assert_eq(dmn_demo_run(&demo, argv), 0);
	cr_assert_eq(get("/v1/budgets", &body), 200);
	json_t *root = json_loads(body, 0, NULL), *list = json_object_get(root, "budgets");
	cr_assert_eq(json_array_size(list), 3, "%s", body);
	for (size_t i = 0; i < 3; i++) {
		json_t *row = json_array_get(list, i);
		cr_assert_eq(json_integer_value(json_object_get(row, "node")), (json_int_t)i + 1);
		cr_assert_str_eq(json_string_value(json_object_get(row, "epsilon_spent")), "1/2",
		                 "%s", body);
		cr_assert_float_eq(json_real_value(json_object_get(row, "epsilon_spent_decimal")),
		                   0.5, 1e-9);
	}
	json_decref(root);
	free(body);
	/* Asked again after a second query: read on from where it stopped. */
	cr_assert_eq(dmn_demo_run(&demo, argv), 0);
	cr_assert_eq(get("/v1/budgets", &body), 200);
	root = json_loads(body, 0, NULL);
	list = json_object_get(root, "budgets");
	cr_assert_eq(json_array_size(list), 3, "%s", body);
	for (size_t i = 0; i < 3; i++)
		cr_assert_str_eq(
		    json_string_value(json_object_get(json_array_get(list, i), "epsilon_spent")),
		    "1/1", "%s", body);
	json_decref(root);
	free(body);
	refused_without_its_files();
}
