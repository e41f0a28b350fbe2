/*
 * ini.h - reading INI text with inih: the one line reader, path rule and
 * number readers that the node's config, the coordinator's config and the
 * registry share.
 *
 * inih (Debian's build) gives its handlers no line numbers: the reader here
 * counts them, so that every error can name its line. inih calls the
 * handler right after reading a key's line, so `line` is the key's. It
 * also reports two headers of one name in a row as one section: `sections`
 * counts the header lines, so that a parser can tell them apart.
 *
 * In store/ because it reads files on disk (the configs and the registry);
 * node/ and coordinator/ may not include each other.
 *
 * Thread safety: tly_ini_parse sets inih's process-wide options; parse from
 * one thread at a time.
 */
#ifndef TLY_STORE_INI_H
#define TLY_STORE_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ini.h>

#include "crypto/error.h"

struct tly_ini_source {
	const char *text; /* in-memory text, or NULL to read `file` */
	FILE *file;
	int line;      /* of the line last read, from 1 */
	int sections;  /* section header lines read so far */
	bool mid_line; /* the last read ended inside a line */
	/* Called with each new line (not with the rest of a long one), or NULL. */
	void (*on_line)(void *arg, const char *line);
	void *arg;
};

/* Parse src with inih, one key a line (no continuation lines), lines up to
 * 8192 bytes. Returns ini_parse_stream's result: 0, the first bad line, or
 * below 0 when the text cannot be read. */
int tly_ini_parse(struct tly_ini_source *src, ini_handler handler, void *user);

/* The parse result of inih as an error on "(syntax)" in err (a line's, or
 * the file's when it cannot be read); nothing when line is 0. */
void tly_ini_syntax(struct tly_field_error *err, int line);

/* Open path into src->file and its folder into dir ("." when none, "/" for
 * the root). On failure TLY_EINVAL, and err names the file, "(file)" and
 * why. The caller closes src->file. */
TLY_MUST tly_err tly_ini_open(struct tly_ini_source *src, const char *path, char *dir,
                              size_t dir_len, struct tly_field_error *err);

/* value when it is absolute, else dir/value, into dst (len bytes). false,
 * dst emptied, when value is empty or the path does not fit. */
bool tly_ini_path(char *dst, size_t len, const char *dir, const char *value);

/* A decimal integer from min to max (digits only, no sign, no spaces). */
bool tly_ini_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out);
bool tly_ini_u64(const char *text, uint64_t min, uint64_t *out);

/* Split list at its commas into items trimmed of spaces, in place, and call
 * fn for each; false as soon as fn returns false. */
bool tly_ini_each_item(char *list, bool (*fn)(void *arg, const char *item), void *arg);

#endif
