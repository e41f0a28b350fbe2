/*
 * web.h - the dashboard's static files (web/ in the source tree), as the
 * coordinator serves them on its API listener: GET / is index.html, GET
 * /web/NAME is the file NAME.
 *
 * No path from a request ever reaches the file system. At start the
 * coordinator reads the folder once: every regular file whose name passes
 * tly_web_name_valid (at most TLY_WEB_FILES_MAX of them, each at most
 * TLY_WEB_FILE_MAX bytes) is read into memory, and a request is answered
 * only with one of those, found by comparing its whole path with
 * "/web/" + name. "..", "%2e%2e", "/etc/passwd", "//", NUL and every other
 * spelling are simply not in the list. Sub-folders are not served.
 *
 * The answer's headers (tly_web_headers) forbid inline script and style,
 * framing and content sniffing.
 */
#ifndef TLY_COORDINATOR_WEB_H
#define TLY_COORDINATOR_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

enum {
	TLY_WEB_FILES_MAX = 64,
	TLY_WEB_FILE_MAX = 1 << 20, /* bytes of one file */
	TLY_WEB_NAME_MAX = 64,      /* bytes of a file name */
};

struct tly_web_file {
	char name[TLY_WEB_NAME_MAX + 1];
	const char *type; /* Content-Type, static */
	uint8_t *data;    /* malloc'd */
	size_t len;
};

struct tly_web {
	struct tly_web_file files[TLY_WEB_FILES_MAX];
	size_t count;
};

/* Nonzero when name is a file the dashboard may serve: 1 to
 * TLY_WEB_NAME_MAX bytes of [a-z0-9_-] with one '.', not first, followed
 * by one of the known extensions (html, css, js, mjs, svg, png, ico,
 * json, txt). */
int tly_web_name_valid(const char *name);

/* The Content-Type for a valid name's extension. */
const char *tly_web_type(const char *name);

/* Read the files of folder root (see above) into *w. TLY_EIO when root
 * cannot be read or has no index.html, TLY_ERANGE for too many or too big
 * files, TLY_ENOMEM; why says which. Files whose names are not valid are
 * skipped. On failure *w is left empty (tly_web_fini is still allowed). */
TLY_MUST tly_err tly_web_load(struct tly_web *w, const char *root, char *why, size_t why_len);
/* Frees the files; accepts a zeroed struct. */
void tly_web_fini(struct tly_web *w);

/* The file a request path (without its query string) names, or NULL:
 * "/" is index.html, "/web/NAME" is NAME when loaded. */
const struct tly_web_file *tly_web_find(const struct tly_web *w, const char *path);

/* The headers every static answer carries, as name, value pairs ending
 * with NULL (for tly_http_reply_headers). */
extern const char *const tly_web_headers[];

#endif
