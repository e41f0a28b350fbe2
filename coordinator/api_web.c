/*
 * api_web.c - the dashboard on the API listener: its static files
 * (coordinator/web.h, loaded once at start) and GET /v1/budgets (the
 * newest receipt of each trust and population, coordinator/budgets.h).
 *
 * coordinator/server_impl.h holds the state the server's files share.
 */
#include "coordinator/server_impl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* BINDIR/../share/tally/web, where `make install` puts the files. */
static int
installed_root(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;

	if (n <= 0)
		return 0;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return 0;
	*slash = '\0';
	n = snprintf(out, len, "%s/../share/tally/web", exe);
	return n > 0 && (size_t)n < len && access(out, R_OK) == 0;
}

tly_err
srv_web_open(struct server *s, char *why, size_t why_len)
{
	char root[TLY_COORD_PATH_MAX + 32], inner[300];
	tly_err rv;

	if (s->cfg.web_root[0] != '\0')
		snprintf(root, sizeof root, "%s", s->cfg.web_root);
	else if (!installed_root(root, sizeof root)) {
		srv_note("no dashboard: [coordinator] web_root is not set and no installed files "
		         "were found");
		return TLY_OK;
	}
	if ((rv = tly_web_load(&s->web, root, inner, sizeof inner)) != TLY_OK) {
		if (s->cfg.web_root[0] == '\0') {
			srv_note("no dashboard: %s", inner);
			return TLY_OK;
		}
		/* Asked for, and broken: refuse to start. */
		tly_say(why, why_len, "%s: [coordinator] web_root: %s", s->cfg.file, inner);
		return rv;
	}
	srv_note("dashboard: %zu files from %s", s->web.count, root);
	return TLY_OK;
}

int
srv_web_serve(struct server *s, const struct tly_http_request *req, const char *path)
{
	const struct tly_web_file *f;

	if (strcmp(path, "/") != 0 && strncmp(path, "/web/", 5) != 0)
		return 0;
	if (strcmp(req->method, "GET") != 0) {
		if (tly_http_reply_headers(s->http, req->handle, 405, "text/plain; charset=utf-8",
		                           (const uint8_t *)"GET only\n", 9,
		                           (const char *const[]){"Allow", "GET", NULL}) != TLY_OK)
			srv_note("could not answer a dashboard request (status 405)");
		return 1;
	}
	if ((f = tly_web_find(&s->web, path)) == NULL) {
		srv_reply_error(s, req->handle, 404, "not_found", NULL, "%s",
		                s->web.count == 0 ? "this coordinator serves no dashboard "
		                                    "([coordinator] web_root, docs/OPERATIONS.md)"
		                                  : "no such file of the dashboard");
		return 1;
	}
	if (tly_http_reply_headers(s->http, req->handle, 200, f->type, f->data, f->len,
	                           tly_web_headers) != TLY_OK)
		srv_note("could not answer a dashboard request (status 200)");
	return 1;
}

/* The log is read from where the last request stopped: an entry's
 * receipts are decoded once, and a failed read leaves what was read. */
void
srv_budgets(struct server *s, uint64_t handle)
{
	char why[300] = "", *json = NULL;
	tly_err rv = tly_translog_budgets(s->log, &s->budgets, &s->budgets_seq, why, sizeof why);

	if (rv == TLY_OK)
		rv = tly_budgets_json(&s->budgets, &json);
	if (rv == TLY_OK)
		srv_answer(s, handle, 200, json);
	else
		srv_reply_error(s, handle, 500, "internal", NULL, "cannot read the budgets: %s %s",
		                tly_strerror(rv), why);
	free(json);
}
