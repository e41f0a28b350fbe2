#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "crypto/wipe.h"

static int
is_secret(const char *keyword)
{
	return strcmp(keyword, "password") == 0 || strcmp(keyword, "sslpassword") == 0;
}

/* Free a parse of a conninfo, wiping its values (a password among them). */
static void
options_free(PQconninfoOption *options)
{
	for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
		if (o->val != NULL)
			TLY_WIPE(o->val, strlen(o->val));
	PQconninfoFree(options);
}

static int
is_keyword(const char *word, size_t len)
{
	PQconninfoOption *defaults = PQconndefaults();
	int found = 0;

	for (PQconninfoOption *o = defaults; o != NULL && o->keyword != NULL && !found; o++)
		found = strlen(o->keyword) == len && strncmp(o->keyword, word, len) == 0;
	options_free(defaults);
	return found;
}

/* libpq's parse error with each "quoted" word that is not an option name
 * (nor "=") replaced by "...". */
static void
elide_quoted(const char *message, char *out, size_t len)
{
	size_t at = 0;

	for (const char *p = message; *p != '\0' && *p != '\n' && at + 4 < len; p++) {
		const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
		if (end == NULL) {
			out[at++] = *p;
			continue;
		}
		size_t word = (size_t)(end - p - 1);
		int keep = (word == 1 && p[1] == '=') || is_keyword(p + 1, word);
		int n = snprintf(out + at, len - at, "\"%.*s\"", keep ? (int)word : 3,
		                 keep ? p + 1 : "...");
		at += n > 0 && (size_t)n < len - at ? (size_t)n : 0;
		p = end;
	}
	out[at] = '\0';
}

tly_err
tly_pg_conninfo_check(const char *conninfo, char *why, size_t why_len)
{
	char *message = NULL, elided[256];
	PQconninfoOption *options = PQconninfoParse(conninfo, &message);

	if (options != NULL) {
		options_free(options);
		return TLY_OK;
	}
	if (message == NULL)
		return tly_fail(why, why_len, TLY_ENOMEM, "out of memory");
	elide_quoted(message, elided, sizeof elided);
	TLY_WIPE(message, strlen(message));
	PQfreemem(message);
	return tly_fail(why, why_len, TLY_EINVAL,
	                "not a libpq connection string (%s); write key=value pairs such as "
	                "\"service=tally_trust3\", or a postgresql:// URI",
	                elided);
}

/* value, single-quoted when it is empty or holds a space, a quote or a
 * backslash (libpq's own quoting), into out at *at. */
static int
put_value(char *out, size_t len, size_t *at, const char *value)
{
	int quote = value[0] == '\0' || strpbrk(value, " '\\\t") != NULL;
	const char *v = value;

	if (quote && *at + 1 < len)
		out[(*at)++] = '\'';
	for (; *v != '\0' && *at + 2 < len; v++) {
		if (quote && (*v == '\'' || *v == '\\'))
			out[(*at)++] = '\\';
		out[(*at)++] = *v;
	}
	int whole = *v == '\0' && (!quote || *at + 1 < len);
	if (quote && *at + 1 < len)
		out[(*at)++] = '\'';
	out[*at] = '\0';
	return whole;
}

void
tly_pg_conninfo_display(const char *conninfo, char *out, size_t len)
{
	PQconninfoOption *options = PQconninfoParse(conninfo, NULL);
	size_t at = 0;

	if (len == 0)
		return;
	out[0] = '\0';
	if (options == NULL) {
		snprintf(out, len, "(unparseable)");
		return;
	}
	int shown = 0, cut = 0;
	for (PQconninfoOption *o = options; o->keyword != NULL && !cut; o++) {
		if (o->val == NULL || is_secret(o->keyword))
			continue;
		shown = 1;
		int n = snprintf(out + at, len - at, "%s%s=", at > 0 ? " " : "", o->keyword);
		cut = n < 0 || (size_t)n >= len - at;
		if (!cut) {
			at += (size_t)n;
			cut = !put_value(out, len, &at, o->val);
		}
	}
	if (!shown)
		snprintf(out, len, "(no options: libpq's environment and service file)");
	else if (cut && len > 4) /* cut short: say so, not end mid-value */
		memcpy(out + len - 4, "...", 4);
	options_free(options);
}

/* Every occurrence of secret in text: "***", or as many stars as it has
 * characters when it is shorter (text never grows). */
static void
scrub_one(char *text, const char *secret)
{
	size_t n = strlen(secret), stars = n < 3 ? n : 3;
	char *at;

	if (n == 0)
		return;
	while ((at = strstr(text, secret)) != NULL) {
		memset(at, '*', stars);
		memmove(at + stars, at + n, strlen(at + n) + 1);
		text = at + stars;
	}
}

void
tly_pg_scrub(char *text, const char *conninfo)
{
	PQconninfoOption *options = PQconninfoParse(conninfo, NULL);

	for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
		if (o->val != NULL && is_secret(o->keyword))
			scrub_one(text, o->val);
	options_free(options);
}
