/* Reading INI text with inih (ini.h). */
#include "store/ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool
is_header(const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	return *line == '[';
}

/* The next line of in-memory text, at most num - 1 bytes of it. */
static char *
text_line(struct tly_ini_source *src, char *str, int num)
{
	size_t i = 0;

	if (*src->text == '\0' || num < 2)
		return NULL;
	while (i < (size_t)num - 1 && src->text[i] != '\0') {
		str[i] = src->text[i];
		if (src->text[i++] == '\n')
			break;
	}
	str[i] = '\0';
	src->text += i;
	return str;
}

/* The first part of a line was read: count it, and show it to on_line. */
static void
new_line(struct tly_ini_source *src, const char *str)
{
	src->line++;
	src->sections += is_header(str);
	if (src->on_line != NULL)
		src->on_line(src->arg, str);
}

static char *
read_line(char *str, int num, void *stream)
{
	struct tly_ini_source *src = stream;
	char *got = src->file != NULL ? fgets(str, num, src->file) : text_line(src, str, num);

	/* inih reads a line longer than its buffer in several calls. */
	if (got != NULL && !src->mid_line)
		new_line(src, str);
	if (got != NULL)
		src->mid_line = strchr(str, '\n') == NULL;
	return got;
}

int
tly_ini_parse(struct tly_ini_source *src, ini_handler handler, void *user)
{
	ini_allow_multiline = false;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = 8192;
	return ini_parse_stream(read_line, src, handler, user);
}

void
tly_ini_syntax(struct tly_field_error *err, int line)
{
	if (line != 0)
		(void)tly_field_fail(err, line > 0 ? line : 0, "(syntax)", "%s",
		                     line > 0 ? "not a [section] or key = value line"
		                              : "cannot be read");
}

/* The folder of path into dir: "." when it names none, "/" for the root. */
static void
folder_of(const char *path, char *dir, size_t dir_len)
{
	char *slash;

	snprintf(dir, dir_len, "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, dir_len, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

tly_err
tly_ini_open(struct tly_ini_source *src, const char *path, char *dir, size_t dir_len,
             struct tly_field_error *err)
{
	if ((src->file = fopen(path, "r")) == NULL) {
		tly_field_error_init(err, path);
		return tly_field_fail(err, 0, "(file)", "cannot open: %s", strerror(errno));
	}
	folder_of(path, dir, dir_len);
	return TLY_OK;
}

bool
tly_ini_path(char *dst, size_t len, const char *dir, const char *value)
{
	size_t dir_len = strlen(dir);
	const char *sep = dir_len > 0 && dir[dir_len - 1] == '/' ? "" : "/";
	int n = value[0] == '/' ? snprintf(dst, len, "%s", value)
	                        : snprintf(dst, len, "%s%s%s", dir, sep, value);

	if (value[0] == '\0' || n < 0 || (size_t)n >= len) {
		dst[0] = '\0';
		return false;
	}
	return true;
}

bool
tly_ini_u64(const char *text, uint64_t min, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		return false;
	*out = (uint64_t)v;
	return true;
}

bool
tly_ini_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (!tly_ini_u64(text, min, &v) || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* item without the spaces around it (cut in place). */
static char *
trim(char *item)
{
	while (isspace((unsigned char)*item))
		item++;
	char *end = item + strlen(item);
	while (end > item && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return item;
}

bool
tly_ini_each_item(char *list, bool (*fn)(void *arg, const char *item), void *arg)
{
	for (char *save = NULL, *item = strtok_r(list, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		if (!fn(arg, trim(item)))
			return false;
	}
	return true;
}
