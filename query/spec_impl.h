/*
 * spec_impl.h - helpers shared by catalogue.c, spec.c and spec_shape.c:
 * loading bounded JSON, reporting errors that name their field, echoing
 * untrusted text safely, and dumping canonical JSON. Not for other folders.
 */
#ifndef TLY_SPEC_IMPL_H
#define TLY_SPEC_IMPL_H

#include <jansson.h>
#include <stddef.h>

#include "query/spec.h"

enum {
	/* An echo of untrusted text in an error: at most this many bytes
	 * (NUL included), quotes and escapes counted, "..." when cut. */
	TLY_SPEC_ECHO_BYTES = 48,
	/* A JSON path built by the parsers; fits struct tly_field_error. */
	TLY_SPEC_PATH_BYTES = sizeof(((struct tly_field_error *)0)->field),
};

/* Printable ASCII copy of len bytes of s for an error message: '"' and '\'
 * escaped, other bytes as \xNN, cut with "..." to TLY_SPEC_ECHO_BYTES. */
void tly_spec_echo(char out[static TLY_SPEC_ECHO_BYTES], const char *s, size_t len);

/* What a JSON value is, for "expected X, got Y" reasons: "the string
 * \"65\"" (echoed), "the integer 7", "the real number 20.0", "true",
 * "null", "an array", "an object". Returned by value, so that
 * tly_spec_got(v).text can be a printf argument. */
struct tly_spec_got {
	char text[TLY_SPEC_ECHO_BYTES + 32];
};
struct tly_spec_got tly_spec_got(const json_t *value);

/* path = prefix "." key (prefix "" gives key alone); key is echoed. */
void tly_spec_path_key(char path[static TLY_SPEC_PATH_BYTES], const char *prefix, const char *key);
/* path = prefix "[" index "]". */
void tly_spec_path_index(char path[static TLY_SPEC_PATH_BYTES], const char *prefix, size_t index);

/* Names of datasets and columns: [a-z][a-z0-9_]*, 1..TLY_SPEC_NAME_MAX. */
int tly_spec_name_ok(const char *s, size_t len);

/* json_loadb with duplicate keys refused, after refusing len > max unread.
 * On failure err names "$" and *root is untouched. */
TLY_MUST tly_err tly_spec_load(json_t **root, const char *json, size_t len, size_t max,
                               const char *what, struct tly_field_error *err);

/* Refuse any key of obj that is not in allowed (NULL-terminated). */
TLY_MUST tly_err tly_spec_only_keys(const json_t *obj, const char *prefix,
                                    const char *const *allowed, struct tly_field_error *err);

/* Fetch obj[key] as an object, array or string: TLY_EINVAL naming
 * prefix.key when absent (and required) or of another JSON type. *out is
 * NULL for an absent optional key. */
TLY_MUST tly_err tly_spec_member(const json_t *obj, const char *prefix, const char *key,
                                 json_type type, int required, json_t **out,
                                 struct tly_field_error *err);

/* The "privacy" member of a query into spec->mechanism and
 * spec->privacy_num/den (spec_privacy.c). */
TLY_MUST tly_err tly_spec_parse_privacy(struct tly_spec *spec, const json_t *root,
                                        struct tly_field_error *err);

/* Canonical bytes: sorted keys, compact, NUL-terminated, malloc'd (not
 * jansson's allocator). TLY_ENOMEM. */
TLY_MUST tly_err tly_spec_dump(const json_t *root, char **out, size_t *len);

#endif
