/* JSON plumbing for the catalogue and query parsers (spec_impl.h). */
#include "query/spec_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
tly_spec_echo(char out[static TLY_SPEC_ECHO_BYTES], const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	/* Room for the longest escape (\xNN) and "..." after it, and the NUL. */
	const size_t room = TLY_SPEC_ECHO_BYTES - 1 - 3;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[4];
		size_t esc_len = 0;

		if (c == '"' || c == '\\') {
			esc[esc_len++] = '\\';
			esc[esc_len++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			esc[esc_len++] = (char)c;
		} else {
			esc[esc_len++] = '\\';
			esc[esc_len++] = 'x';
			esc[esc_len++] = hex[c >> 4];
			esc[esc_len++] = hex[c & 15];
		}
		if (n + esc_len > room) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		memcpy(out + n, esc, esc_len);
		n += esc_len;
	}
	out[n] = '\0';
}

/* The shortest %g form that reads back as v (no exponent for moderate
 * magnitudes), with a ".0" when it would otherwise look like an integer. */
static void
real_text(char *out, size_t cap, double v)
{
	int moderate = (v > -1e15 && v < -1e-4) || (v > 1e-4 && v < 1e15);

	for (int digits = 1; digits <= 17; digits++) {
		snprintf(out, cap, "%.*g", digits, v);
		if (strtod(out, NULL) == v && (!moderate || strpbrk(out, "eE") == NULL))
			break;
	}
	if (strpbrk(out, ".,eEni") == NULL && strlen(out) + 3 <= cap)
		strcat(out, ".0");
}

/* What a JSON value is when its value need not be shown. */
static const char *
kind_text(const json_t *value)
{
	static const char *const kinds[] = {[JSON_OBJECT] = "an object",
	                                    [JSON_ARRAY] = "an array",
	                                    [JSON_TRUE] = "true",
	                                    [JSON_FALSE] = "false"};
	size_t type = (size_t)json_typeof(value);

	return type < sizeof kinds / sizeof kinds[0] && kinds[type] != NULL ? kinds[type] : "null";
}

struct tly_spec_got
tly_spec_got(const json_t *value)
{
	struct tly_spec_got got;
	char echo[TLY_SPEC_ECHO_BYTES], number[32];

	if (json_is_string(value)) {
		tly_spec_echo(echo, json_string_value(value), json_string_length(value));
		snprintf(got.text, sizeof got.text, "the string \"%s\"", echo);
	} else if (json_is_integer(value)) {
		snprintf(got.text, sizeof got.text, "the integer %" PRId64,
		         (int64_t)json_integer_value(value));
	} else if (json_is_real(value)) {
		real_text(number, sizeof number, json_real_value(value));
		snprintf(got.text, sizeof got.text, "the real number %s", number);
	} else {
		snprintf(got.text, sizeof got.text, "%s", kind_text(value));
	}
	return got;
}

void
tly_spec_path_key(char path[static TLY_SPEC_PATH_BYTES], const char *prefix, const char *key)
{
	char echo[TLY_SPEC_ECHO_BYTES];

	/* An empty key still names something: write it as "". */
	tly_spec_echo(echo, key, strlen(key));
	snprintf(path, TLY_SPEC_PATH_BYTES, "%s%s%s", prefix, prefix[0] ? "." : "",
	         key[0] ? echo : "\"\"");
}

void
tly_spec_path_index(char path[static TLY_SPEC_PATH_BYTES], const char *prefix, size_t index)
{
	snprintf(path, TLY_SPEC_PATH_BYTES, "%s[%zu]", prefix, index);
}

int
tly_spec_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > TLY_SPEC_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

tly_err
tly_spec_load(json_t **root, const char *json, size_t len, size_t max, const char *what,
              struct tly_field_error *err)
{
	json_error_t jerr;
	char echo[TLY_SPEC_ECHO_BYTES];
	json_t *doc;

	if (len > max)
		return tly_field_fail(err, 0, "$", "%s JSON is %zu bytes; the limit is %zu", what,
		                      len, max);
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		/* jansson's text can quote the offending token: echo it. */
		tly_spec_echo(echo, jerr.text, strnlen(jerr.text, sizeof jerr.text));
		return tly_field_fail(err, 0, "$", "not valid JSON at line %d, column %d: %s",
		                      jerr.line, jerr.column, echo);
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		return tly_field_fail(err, 0, "$", "%s JSON must be an object", what);
	}
	*root = doc;
	return TLY_OK;
}

tly_err
tly_spec_only_keys(const json_t *obj, const char *prefix, const char *const *allowed,
                   struct tly_field_error *err)
{
	const char *key;
	json_t *value;
	char path[TLY_SPEC_PATH_BYTES];

	/* The iteration macro wants a non-const object; it does not modify it. */
	json_object_foreach((json_t *)obj, key, value)
	{
		size_t i = 0;
		while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
			i++;
		if (allowed[i] == NULL) {
			tly_spec_path_key(path, prefix, key);
			return tly_field_fail(err, 0, path, "unknown key");
		}
	}
	return TLY_OK;
}

tly_err
tly_spec_member(const json_t *obj, const char *prefix, const char *key, json_type type,
                int required, json_t **out, struct tly_field_error *err)
{
	static const char *const expected[] = {
	    [JSON_OBJECT] = "an object",
	    [JSON_ARRAY] = "an array",
	    [JSON_STRING] = "a string",
	};
	char path[TLY_SPEC_PATH_BYTES];
	json_t *value = json_object_get(obj, key);

	TLY_REQUIRE(type == JSON_OBJECT || type == JSON_ARRAY || type == JSON_STRING);
	tly_spec_path_key(path, prefix, key);
	if (value == NULL) {
		if (required)
			return tly_field_fail(err, 0, path, "missing");
		*out = NULL;
		return TLY_OK;
	}
	if (json_typeof(value) != type)
		return tly_field_fail(err, 0, path, "expected %s, got %s", expected[type],
		                      tly_spec_got(value).text);
	*out = value;
	return TLY_OK;
}

tly_err
tly_spec_dump(const json_t *root, char **out, size_t *len)
{
	const size_t flags = JSON_SORT_KEYS | JSON_COMPACT;
	size_t need = json_dumpb(root, NULL, 0, flags);
	char *text;

	if (need == 0)
		return TLY_ENOMEM;
	text = malloc(need + 1);
	if (text == NULL)
		return TLY_ENOMEM;
	if (json_dumpb(root, text, need, flags) != need) {
		free(text);
		return TLY_ENOMEM;
	}
	text[need] = '\0';
	*out = text;
	*len = need;
	return TLY_OK;
}
