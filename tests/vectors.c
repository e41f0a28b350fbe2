#include "vectors.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_DIR "tests/vectors"

__attribute__((format(printf, 3, 4))) _Noreturn static void
die(const char *path, size_t line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vectors: %s:%zu: ", path, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void *
xrealloc(void *ptr, size_t size)
{
	void *out = realloc(ptr, size == 0 ? 1 : size);

	if (out == NULL) {
		fprintf(stderr, "vectors: out of memory\n");
		abort();
	}
	return out;
}

static char *
xstrndup(const char *s, size_t len)
{
	char *out = xrealloc(NULL, len + 1);

	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* DEFAULT_DIR under the nearest ancestor of the test binary's directory
 * that has one, into found; 0 when there is none. */
static int
find_from_binary(char *found, size_t size)
{
	char exe[4096];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (len <= 0)
		return 0;
	exe[len] = '\0';
	for (char *slash = strrchr(exe, '/'); slash != NULL; slash = strrchr(exe, '/')) {
		*slash = '\0';
		int n = snprintf(found, size, "%s/%s", exe, DEFAULT_DIR);
		if (n > 0 && (size_t)n < size && access(found, R_OK) == 0)
			return 1;
	}
	return 0;
}

const char *
tly_vectors_dir(void)
{
	static char found[4096 + sizeof DEFAULT_DIR + 1];
	const char *dir = getenv("TLY_VECTORS_DIR");

	if (dir != NULL && dir[0] != '\0')
		return dir;
	/* The Makefile runs the binaries from the repository root; someone
	 * running one by hand from elsewhere gets the tree it was built in. */
	if (access(DEFAULT_DIR, R_OK) == 0 || !find_from_binary(found, sizeof found))
		return DEFAULT_DIR;
	return found;
}

int
tly_vectors_slow(void)
{
	const char *slow = getenv("TLY_SLOW_TESTS");

	return slow != NULL && slow[0] != '\0' && strcmp(slow, "0") != 0;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t used = 0;

	if (f == NULL)
		die(path, 0, "cannot open (%s); set TLY_VECTORS_DIR to the vector directory",
		    strerror(errno));
	for (;;) {
		buf = xrealloc(buf, used + 4096 + 1);
		size_t got = fread(buf + used, 1, 4096, f);
		used += got;
		if (got < 4096)
			break;
	}
	if (ferror(f))
		die(path, 0, "read error");
	fclose(f);
	buf[used] = '\0';
	*len = used;
	return buf;
}

static int
is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* The span [*start, *end) without leading and trailing whitespace. */
static void
trim(const char **start, const char **end)
{
	while (*start < *end && isspace((unsigned char)**start))
		(*start)++;
	while (*end > *start && isspace((unsigned char)(*end)[-1]))
		(*end)--;
}

/* Parser state: the block being filled and the comment above it. */
struct parser {
	struct tly_vectors *out;
	struct tly_vector *block; /* NULL between blocks */
	char *title;              /* comment lines seen since the last block */
	size_t line;
};

static void
append_title(struct parser *p, const char *text, size_t len)
{
	const char *start = text + 1, *end = text + len;
	size_t old = p->title == NULL ? 0 : strlen(p->title);

	trim(&start, &end);
	size_t add = (size_t)(end - start);
	if (add == 0)
		return;
	p->title = xrealloc(p->title, old + add + 2);
	if (old > 0)
		p->title[old++] = ' ';
	memcpy(p->title + old, start, add);
	p->title[old + add] = '\0';
}

static void
start_block(struct parser *p)
{
	struct tly_vectors *out = p->out;

	out->blocks = xrealloc(out->blocks, (out->count + 1) * sizeof *out->blocks);
	p->block = &out->blocks[out->count++];
	p->block->path = out->path;
	p->block->line = p->line;
	p->block->title = p->title != NULL ? p->title : xstrndup("", 0);
	p->block->fields = NULL;
	p->block->count = 0;
	p->title = NULL;
}

static void
continue_field(struct parser *p, const char *text, size_t len)
{
	const char *start = text, *end = text + len;

	if (p->block == NULL || p->block->count == 0)
		die(p->out->path, p->line, "continuation line without a field above it");
	trim(&start, &end);
	struct tly_vector_field *field = &p->block->fields[p->block->count - 1];
	if (field->quoted)
		die(p->out->path, p->line, "text cannot continue on the next line");
	size_t old = strlen(field->value), add = (size_t)(end - start);
	field->value = xrealloc(field->value, old + add + 2);
	field->value[old] = ' ';
	memcpy(field->value + old + 1, start, add);
	field->value[old + 1 + add] = '\0';
}

static void
add_field(struct parser *p, const char *text, size_t len)
{
	const char *eq = memchr(text, '=', len);

	if (eq == NULL)
		die(p->out->path, p->line, "expected `name = value`");
	const char *name = text, *name_end = eq, *value = eq + 1, *value_end = text + len;
	trim(&name, &name_end);
	trim(&value, &value_end);
	if (name == name_end)
		die(p->out->path, p->line, "field without a name");
	for (const char *c = name; c < name_end; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			die(p->out->path, p->line, "bad character in a field name");
	if (p->block == NULL)
		start_block(p);
	char *key = xstrndup(name, (size_t)(name_end - name));
	if (tly_vector_has(p->block, key))
		die(p->out->path, p->line, "field %s given twice", key);
	int quoted = value < value_end && *value == '"';
	if (quoted) {
		if (value_end - value < 2 || value_end[-1] != '"')
			die(p->out->path, p->line, "unterminated text");
		value++;
		value_end--;
	}
	struct tly_vector *b = p->block;
	b->fields = xrealloc(b->fields, (b->count + 1) * sizeof *b->fields);
	b->fields[b->count].name = key;
	b->fields[b->count].value = xstrndup(value, (size_t)(value_end - value));
	b->fields[b->count].quoted = quoted;
	b->count++;
}

static void
parse_line(struct parser *p, const char *text, size_t len)
{
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (is_blank(text, len)) {
		/* A title is the comment right above a block: a blank line
		 * ends both the block and any comment before it. */
		p->block = NULL;
		free(p->title);
		p->title = NULL;
	} else if (text[0] == '#') {
		/* A comment inside a block is not its title: keep only those
		 * above it. */
		if (p->block == NULL)
			append_title(p, text, len);
	} else if (text[0] == ' ' || text[0] == '\t') {
		continue_field(p, text, len);
	} else {
		add_field(p, text, len);
	}
}

struct tly_vectors *
tly_vectors_load(const char *name)
{
	const char *dir = tly_vectors_dir();
	struct tly_vectors *out = xrealloc(NULL, sizeof *out);
	size_t len;

	out->path = xrealloc(NULL, strlen(dir) + strlen(name) + 2);
	sprintf(out->path, "%s/%s", dir, name);
	out->blocks = NULL;
	out->count = 0;

	char *text = read_file(out->path, &len);
	struct parser p = {.out = out, .block = NULL, .title = NULL, .line = 0};
	const char *cursor = text, *end = text + len;
	while (cursor < end) {
		const char *nl = memchr(cursor, '\n', (size_t)(end - cursor));
		const char *line_end = nl != NULL ? nl : end;
		p.line++;
		parse_line(&p, cursor, (size_t)(line_end - cursor));
		cursor = line_end + 1;
	}
	free(p.title);
	free(text);
	if (out->count == 0)
		die(out->path, 0, "no test cases");
	return out;
}

void
tly_vectors_free(struct tly_vectors *vectors)
{
	if (vectors == NULL)
		return;
	for (size_t i = 0; i < vectors->count; i++) {
		struct tly_vector *b = &vectors->blocks[i];
		for (size_t j = 0; j < b->count; j++) {
			free(b->fields[j].name);
			free(b->fields[j].value);
		}
		free(b->fields);
		free(b->title);
	}
	free(vectors->blocks);
	free(vectors->path);
	free(vectors);
}

static const struct tly_vector_field *
lookup(const struct tly_vector *v, const char *name)
{
	for (size_t i = 0; i < v->count; i++)
		if (strcmp(v->fields[i].name, name) == 0)
			return &v->fields[i];
	return NULL;
}

int
tly_vector_has(const struct tly_vector *v, const char *name)
{
	return lookup(v, name) != NULL;
}

static const struct tly_vector_field *
need(const struct tly_vector *v, const char *name)
{
	const struct tly_vector_field *field = lookup(v, name);

	if (field == NULL)
		die(v->path, v->line, "block \"%s\" has no field %s", v->title, name);
	return field;
}

/* A field that must not be text: hex or integers. */
static const char *
need_plain(const struct tly_vector *v, const char *name)
{
	const struct tly_vector_field *field = need(v, name);

	if (field->quoted)
		die(v->path, v->line, "field %s is text, not hex or a number", name);
	return field->value;
}

const char *
tly_vector_text(const struct tly_vector *v, const char *name)
{
	return need(v, name)->value;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint8_t *
tly_vector_hex(const struct tly_vector *v, const char *name, size_t *len)
{
	const char *value = need_plain(v, name);
	uint8_t *out = xrealloc(NULL, strlen(value) / 2 + 1);
	size_t n = 0;
	int high = -1;

	for (const char *c = value; *c != '\0'; c++) {
		if (isspace((unsigned char)*c))
			continue;
		int d = hex_digit(*c);
		if (d < 0)
			die(v->path, v->line, "field %s: '%c' is not a hex digit", name, *c);
		if (high < 0) {
			high = d;
		} else {
			out[n++] = (uint8_t)(high << 4 | d);
			high = -1;
		}
	}
	if (high >= 0)
		die(v->path, v->line, "field %s: odd number of hex digits", name);
	*len = n;
	return out;
}

void
tly_vector_hex_fixed(const struct tly_vector *v, const char *name, uint8_t *out, size_t len)
{
	size_t got;
	uint8_t *bytes = tly_vector_hex(v, name, &got);

	if (got != len)
		die(v->path, v->line, "field %s: %zu bytes, expected %zu", name, got, len);
	memcpy(out, bytes, len);
	free(bytes);
}

/* One decimal integer from *cursor, advancing it; 0 at the end. */
static int
next_u64(const struct tly_vector *v, const char *name, const char **cursor, uint64_t *out)
{
	const char *c = *cursor;
	char *end;

	while (isspace((unsigned char)*c))
		c++;
	if (*c == '\0')
		return 0;
	if (!isdigit((unsigned char)*c))
		die(v->path, v->line, "field %s: expected a decimal integer", name);
	errno = 0;
	unsigned long long value = strtoull(c, &end, 10);
	if (errno != 0 || (*end != '\0' && !isspace((unsigned char)*end)))
		die(v->path, v->line, "field %s: bad decimal integer", name);
	*out = (uint64_t)value;
	*cursor = end;
	return 1;
}

uint64_t
tly_vector_u64(const struct tly_vector *v, const char *name)
{
	const char *cursor = need_plain(v, name);
	uint64_t value, extra;

	if (!next_u64(v, name, &cursor, &value) || next_u64(v, name, &cursor, &extra))
		die(v->path, v->line, "field %s: expected one integer", name);
	return value;
}

uint64_t *
tly_vector_u64_list(const struct tly_vector *v, const char *name, size_t *count)
{
	const char *cursor = need_plain(v, name);
	uint64_t *out = NULL, value;
	size_t n = 0;

	while (next_u64(v, name, &cursor, &value)) {
		out = xrealloc(out, (n + 1) * sizeof *out);
		out[n++] = value;
	}
	*count = n;
	return out != NULL ? out : xrealloc(NULL, sizeof *out);
}
