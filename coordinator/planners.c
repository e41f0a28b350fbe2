/* The planners file and the request check: see planners.h. */
#include "planners.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/keys.h"

enum { LINE_MAX_BYTES = 512 };

struct parse {
	const char *name;
	int line;
	char *why;
	size_t why_len;
	struct tly_planner_key *keys;
	size_t count;
	int have_pk; /* for keys[count - 1] */
};

static tly_err fail(struct parse *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static tly_err
fail(struct parse *p, const char *key, const char *fmt, ...)
{
	char reason[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	snprintf(p->why, p->why_len, "%s:%d: %s: %s", p->name, p->line, key, reason);
	return TLY_EINVAL;
}

/* Trim spaces and tabs at both ends, in place. */
static char *
trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static tly_err
finish_section(struct parse *p)
{
	if (p->count > 0 && !p->have_pk) {
		snprintf(p->why, p->why_len, "%s: [planner %s]: sign_pk is missing", p->name,
		         p->keys[p->count - 1].name);
		return TLY_EINVAL;
	}
	return TLY_OK;
}

static tly_err
start_section(struct parse *p, char *line)
{
	size_t len = strlen(line);

	if (finish_section(p) != TLY_OK)
		return TLY_EINVAL;
	if (line[len - 1] != ']' || strncmp(line, "[planner ", 9) != 0)
		return fail(p, "(section)", "expected [planner NAME]");
	line[len - 1] = '\0';
	const char *name = line + 9;
	if (!tly_planner_name_valid(name))
		return fail(
		    p, "(section)",
		    "planner name: use 1 to %d of A-Z a-z 0-9 . _ -, not starting with . or -",
		    TLY_PLANNER_NAME_MAX);
	for (size_t i = 0; i < p->count; i++)
		if (strcmp(p->keys[i].name, name) == 0)
			return fail(p, "(section)", "planner %s is listed twice", name);
	if (p->count == TLY_PLANNERS_MAX)
		return fail(p, "(section)", "more than %d planners", TLY_PLANNERS_MAX);
	memset(&p->keys[p->count], 0, sizeof p->keys[0]);
	snprintf(p->keys[p->count++].name, sizeof p->keys[0].name, "%s", name);
	p->have_pk = 0;
	return TLY_OK;
}

static tly_err
read_key(struct parse *p, char *line)
{
	char *eq = strchr(line, '='), where[TLY_PLANNER_NAME_MAX + 20];

	if (eq == NULL)
		return fail(p, "(syntax)", "not a [section] or key = value line");
	*eq = '\0';
	char *key = trim(line), *value = trim(eq + 1);
	if (p->count == 0)
		return fail(p, key, "key outside any [planner NAME] section");
	struct tly_planner_key *k = &p->keys[p->count - 1];
	snprintf(where, sizeof where, "planner %s.%s", k->name, key);
	if (strcmp(key, "sign_pk") != 0)
		return fail(p, where, "unknown key (expected sign_pk)");
	if (p->have_pk)
		return fail(p, where, "given twice");
	if (tly_unhex(k->sign_pk, sizeof k->sign_pk, value, strlen(value)) != TLY_OK)
		return fail(p, where, "expected 64 hex digits");
	for (size_t i = 0; i + 1 < p->count; i++)
		if (sodium_memcmp(p->keys[i].sign_pk, k->sign_pk, sizeof k->sign_pk) == 0)
			return fail(p, where, "the same key as planner %s", p->keys[i].name);
	p->have_pk = 1;
	return TLY_OK;
}

static tly_err
parse_line(struct parse *p, char *raw)
{
	char *line = trim(raw);

	if (line[0] == '\0' || line[0] == ';' || line[0] == '#')
		return TLY_OK;
	char *comment = strstr(line, " ;");
	if (comment != NULL) {
		*comment = '\0';
		line = trim(line);
	}
	return line[0] == '[' ? start_section(p, line) : read_key(p, line);
}

tly_err
tly_planners_parse(struct tly_planners *out, const char *text, const char *name, char *why,
                   size_t why_len)
{
	struct parse p = {.name = name, .why = why, .why_len = why_len};
	char line[LINE_MAX_BYTES];
	tly_err rv = TLY_OK;

	TLY_REQUIRE(out != NULL && text != NULL && name != NULL && why != NULL);
	if ((p.keys = calloc(TLY_PLANNERS_MAX, sizeof *p.keys)) == NULL)
		return TLY_ENOMEM;
	for (const char *at = text; rv == TLY_OK && *at != '\0';) {
		size_t len = strcspn(at, "\n");
		p.line++;
		if (len >= sizeof line)
			rv = fail(&p, "(syntax)", "line longer than %d bytes", LINE_MAX_BYTES - 1);
		if (rv != TLY_OK)
			break;
		memcpy(line, at, len);
		line[len] = '\0';
		rv = parse_line(&p, line);
		at += len + (at[len] == '\n');
	}
	if (rv == TLY_OK)
		rv = finish_section(&p);
	struct tly_planner_seen *seen = NULL;
	if (rv == TLY_OK && (seen = calloc(TLY_PLANNERS_SEEN_MAX, sizeof *seen)) == NULL)
		rv = TLY_ENOMEM;
	if (rv != TLY_OK) {
		free(p.keys);
		return rv;
	}
	*out = (struct tly_planners){.count = p.count, .keys = p.keys, .seen = seen};
	return TLY_OK;
}

tly_err
tly_planners_load(struct tly_planners *out, const char *path, char *why, size_t why_len)
{
	FILE *f = fopen(path, "r");
	char *text;
	tly_err rv = TLY_EIO;

	if (f == NULL) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	if ((text = malloc(TLY_PLANNERS_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return TLY_ENOMEM;
	}
	size_t len = fread(text, 1, TLY_PLANNERS_FILE_MAX + 1, f);
	if (ferror(f))
		snprintf(why, why_len, "%s: read error", path);
	else if (len > TLY_PLANNERS_FILE_MAX)
		snprintf(why, why_len, "%s: larger than %d bytes", path, TLY_PLANNERS_FILE_MAX);
	else if (memchr(text, '\0', len) != NULL)
		snprintf(why, why_len, "%s: not a text file (a NUL byte)", path);
	else
		rv = TLY_OK;
	if (rv == TLY_OK) {
		text[len] = '\0';
		rv = tly_planners_parse(out, text, path, why, why_len);
	}
	free(text);
	fclose(f);
	return rv;
}

void
tly_planners_fini(struct tly_planners *planners)
{
	if (planners == NULL)
		return;
	free(planners->keys);
	free(planners->seen);
	memset(planners, 0, sizeof *planners);
}

/* ---- the check ---- */

static const struct tly_planner_key *
find(const struct tly_planners *planners, const char *name, uint32_t *index)
{
	for (size_t i = 0; i < planners->count; i++) {
		if (strcmp(planners->keys[i].name, name) == 0) {
			*index = (uint32_t)i;
			return &planners->keys[i];
		}
	}
	return NULL;
}

/* Forget nonces whose time has left the window (they are refused as stale
 * from now on anyway), then look for this one. */
static int
replayed(struct tly_planners *planners, uint32_t planner, const uint8_t *nonce, uint64_t now)
{
	size_t kept = 0;

	for (size_t i = 0; i < planners->seen_count; i++) {
		struct tly_planner_seen *s = &planners->seen[i];
		if (s->time + TLY_PLANNER_WINDOW_S >= now)
			planners->seen[kept++] = *s;
	}
	planners->seen_count = kept;
	for (size_t i = 0; i < kept; i++)
		if (planners->seen[i].planner == planner &&
		    sodium_memcmp(planners->seen[i].nonce, nonce, TLY_PLANNER_NONCE_BYTES) == 0)
			return 1;
	return 0;
}

static int
fresh(uint64_t time, uint64_t now)
{
	return time <= now ? now - time <= TLY_PLANNER_WINDOW_S
	                   : time - now <= TLY_PLANNER_WINDOW_S;
}

tly_err
tly_planners_check(struct tly_planners *planners, const char *auth, const char *method,
                   const char *path, const uint8_t *body, size_t body_len, uint64_t now, char *name,
                   char *why, size_t why_len)
{
	struct tly_planner_auth a;
	const struct tly_planner_key *key;
	uint32_t index = 0;

	TLY_REQUIRE(planners != NULL && auth != NULL && name != NULL && why != NULL);
	if (auth[0] == '\0') {
		snprintf(why, why_len,
		         "the request is not signed: a planner signs each query "
		         "(" TLY_PLANNER_HEADER
		         " header; set name and sign_key in the planner config)");
		return TLY_EAUTH;
	}
	if (tly_planner_auth_parse(&a, auth, strlen(auth)) != TLY_OK) {
		snprintf(why, why_len, TLY_PLANNER_HEADER " header: malformed");
		return TLY_EAUTH;
	}
	if ((key = find(planners, a.name, &index)) == NULL) {
		snprintf(why, why_len, "planner %s is not in the coordinator's planners file",
		         a.name);
		return TLY_EAUTH;
	}
	if (tly_planner_auth_verify(&a, key->sign_pk, method, path, body, body_len) != TLY_OK) {
		snprintf(why, why_len, "planner %s: the signature does not verify", a.name);
		return TLY_EAUTH;
	}
	if (!fresh(a.time, now)) {
		snprintf(
		    why, why_len,
		    "planner %s: signed at %llu, the coordinator's clock says %llu: more than %d s "
		    "apart (stale, or a clock is wrong)",
		    a.name, (unsigned long long)a.time, (unsigned long long)now,
		    TLY_PLANNER_WINDOW_S);
		return TLY_EREPLAY;
	}
	if (replayed(planners, index, a.nonce, now)) {
		snprintf(why, why_len, "planner %s: this request was replayed (its nonce was seen)",
		         a.name);
		return TLY_EREPLAY;
	}
	if (planners->seen_count == TLY_PLANNERS_SEEN_MAX) {
		snprintf(why, why_len, "too many requests in the last %d s; try again later",
		         TLY_PLANNER_WINDOW_S);
		return TLY_ERANGE;
	}
	struct tly_planner_seen *s = &planners->seen[planners->seen_count++];
	s->time = a.time;
	s->planner = index;
	memcpy(s->nonce, a.nonce, TLY_PLANNER_NONCE_BYTES);
	snprintf(name, TLY_PLANNER_NAME_MAX + 1, "%s", a.name);
	return TLY_OK;
}
