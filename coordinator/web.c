/* The dashboard's static files: see web.h. */
#include "coordinator/web.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
};

const char *const tly_web_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options",
    "nosniff",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    "Cache-Control",
    "no-cache",
    NULL,
};

static const char *
type_of(const char *ext)
{
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(types[i].ext, ext) == 0)
			return types[i].type;
	return NULL;
}

int
tly_web_name_valid(const char *name)
{
	size_t len = strlen(name), stem = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-");

	if (len == 0 || len > TLY_WEB_NAME_MAX || stem == 0 || name[stem] != '.')
		return 0;
	return type_of(name + stem + 1) != NULL;
}

const char *
tly_web_type(const char *name)
{
	const char *dot = strchr(name, '.');
	const char *type = dot != NULL ? type_of(dot + 1) : NULL;

	TLY_REQUIRE(type != NULL);
	return type;
}

/* Read root/name (a regular file of at most TLY_WEB_FILE_MAX bytes) into
 * f; a folder is skipped (TLY_OK, f->data NULL); a symlink or anything
 * else is refused. */
static tly_err
read_one(struct tly_web_file *f, const char *root, const char *name, char *why, size_t why_len)
{
	char path[4200];
	struct stat st;
	tly_err rv = TLY_EIO;
	int fd;

	snprintf(path, sizeof path, "%s/%s", root, name);
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return TLY_OK;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) != 0) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > TLY_WEB_FILE_MAX) {
		tly_say(why, why_len, "%s: not a regular file of at most %d bytes", path,
		        TLY_WEB_FILE_MAX);
		rv = TLY_ERANGE;
		goto out;
	}
	f->len = (size_t)st.st_size;
	if ((f->data = malloc(f->len + 1)) == NULL) {
		rv = TLY_ENOMEM;
		goto out;
	}
	if (read(fd, f->data, f->len) != (ssize_t)f->len) {
		tly_say(why, why_len, "%s: short read", path);
		goto out;
	}
	snprintf(f->name, sizeof f->name, "%s", name);
	f->type = tly_web_type(name);
	rv = TLY_OK;
out:
	if (fd >= 0)
		close(fd);
	return rv;
}

static tly_err
read_all(struct tly_web *w, DIR *dir, const char *root, char *why, size_t why_len)
{
	struct dirent *d;
	tly_err rv = TLY_OK;

	while (rv == TLY_OK && (d = readdir(dir)) != NULL) {
		if (!tly_web_name_valid(d->d_name))
			continue;
		if (w->count == TLY_WEB_FILES_MAX)
			return tly_fail(why, why_len, TLY_ERANGE, "%s: more than %d files to serve",
			                root, TLY_WEB_FILES_MAX);
		rv = read_one(&w->files[w->count], root, d->d_name, why, why_len);
		if (rv == TLY_OK && w->files[w->count].data != NULL)
			w->count++;
	}
	if (rv == TLY_OK && tly_web_find(w, "/") == NULL)
		return tly_fail(why, why_len, TLY_EIO, "%s: no index.html", root);
	return rv;
}

tly_err
tly_web_load(struct tly_web *w, const char *root, char *why, size_t why_len)
{
	DIR *dir;
	tly_err rv;

	TLY_REQUIRE(w != NULL && root != NULL);
	memset(w, 0, sizeof *w);
	if ((dir = opendir(root)) == NULL)
		return tly_fail(why, why_len, TLY_EIO, "%s: %s", root, strerror(errno));
	rv = read_all(w, dir, root, why, why_len);
	closedir(dir);
	if (rv != TLY_OK)
		tly_web_fini(w);
	return rv;
}

void
tly_web_fini(struct tly_web *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < TLY_WEB_FILES_MAX; i++)
		free(w->files[i].data);
	memset(w, 0, sizeof *w);
}

const struct tly_web_file *
tly_web_find(const struct tly_web *w, const char *path)
{
	static const char prefix[] = "/web/";
	const char *name = NULL;

	if (strcmp(path, "/") == 0)
		name = "index.html";
	else if (strncmp(path, prefix, sizeof prefix - 1) == 0)
		name = path + sizeof prefix - 1;
	for (size_t i = 0; name != NULL && i < w->count; i++)
		if (strcmp(w->files[i].name, name) == 0)
			return &w->files[i];
	return NULL;
}
