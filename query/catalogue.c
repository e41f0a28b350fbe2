/* The catalogue: datasets, their columns and public domains (spec.h). */
#include "query/spec_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every catalogue within the caps dumps to less than the parse limit: per
 * value at most 2 * TLY_SPEC_VALUE_MAX bytes escaped, quotes and a comma. */
_Static_assert((uint64_t)TLY_SPEC_DATASETS_MAX *TLY_SPEC_COLUMNS_MAX *(
                   TLY_SPEC_DOMAIN_MAX *(2 * TLY_SPEC_VALUE_MAX + 3) + 256) +
                       TLY_SPEC_DATASETS_MAX * 256 <
                   TLY_SPEC_CATALOGUE_JSON_MAX,
               "a dumped catalogue parses again");

static void
dataset_fini(struct tly_dataset *ds)
{
	for (size_t i = 0; i < ds->column_count; i++)
		free(ds->columns[i].domain);
	free(ds->columns);
	memset(ds, 0, sizeof *ds);
}

void
tly_catalogue_fini(struct tly_catalogue *cat)
{
	if (cat == NULL)
		return;
	for (size_t i = 0; i < cat->dataset_count; i++)
		dataset_fini(&cat->datasets[i]);
	free(cat->datasets);
	memset(cat, 0, sizeof *cat);
}

/* ---- parsing ---- */

/* A name member (dataset or column): [a-z][a-z0-9_]*, up to 63 bytes. */
static tly_err
parse_name(char name[static TLY_SPEC_NAME_MAX + 1], const json_t *obj, const char *prefix,
           struct tly_field_error *err)
{
	char path[TLY_SPEC_PATH_BYTES], echo[TLY_SPEC_ECHO_BYTES];
	json_t *value;
	tly_err rv = tly_spec_member(obj, prefix, "name", JSON_STRING, 1, &value, err);

	if (rv != TLY_OK)
		return rv;
	if (!tly_spec_name_ok(json_string_value(value), json_string_length(value))) {
		tly_spec_path_key(path, prefix, "name");
		tly_spec_echo(echo, json_string_value(value), json_string_length(value));
		return tly_field_fail(err, 0, path,
		                      "\"%s\" is not a name: [a-z][a-z0-9_]*, at most %d bytes",
		                      echo, TLY_SPEC_NAME_MAX);
	}
	memcpy(name, json_string_value(value), json_string_length(value) + 1);
	return TLY_OK;
}

/* A domain value: a string of 1..63 bytes without control characters, or
 * an integer, which stands for its decimal string. */
static tly_err
domain_value(char out[static TLY_SPEC_VALUE_MAX + 1], const json_t *value, const char *path,
             struct tly_field_error *err)
{
	char echo[TLY_SPEC_ECHO_BYTES];
	const char *s;
	size_t len;

	if (json_is_integer(value)) {
		snprintf(out, TLY_SPEC_VALUE_MAX + 1, "%" PRId64,
		         (int64_t)json_integer_value(value));
		return TLY_OK;
	}
	if (!json_is_string(value))
		return tly_field_fail(err, 0, path, "expected a string or an integer, got %s",
		                      tly_spec_got(value).text);
	s = json_string_value(value);
	len = json_string_length(value);
	tly_spec_echo(echo, s, len);
	if (len == 0 || len > TLY_SPEC_VALUE_MAX)
		return tly_field_fail(err, 0, path, "\"%s\": values are 1 to %d bytes", echo,
		                      TLY_SPEC_VALUE_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return tly_field_fail(err, 0, path, "\"%s\" contains a control character",
			                      echo);
	memcpy(out, s, len + 1);
	return TLY_OK;
}

static tly_err
parse_domain(struct tly_column *col, const json_t *obj, const char *prefix,
             struct tly_field_error *err)
{
	char path[TLY_SPEC_PATH_BYTES], base[TLY_SPEC_PATH_BYTES], echo[TLY_SPEC_ECHO_BYTES];
	json_t *list;
	size_t count;
	tly_err rv = tly_spec_member(obj, prefix, "domain", JSON_ARRAY, 1, &list, err);

	if (rv != TLY_OK)
		return rv;
	tly_spec_path_key(base, prefix, "domain");
	count = json_array_size(list);
	if (count == 0 || count > TLY_SPEC_DOMAIN_MAX)
		return tly_field_fail(err, 0, base, "%zu values; a domain has 1 to %d", count,
		                      TLY_SPEC_DOMAIN_MAX);
	col->domain = calloc(count, sizeof *col->domain);
	if (col->domain == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		tly_spec_path_index(path, base, i);
		rv = domain_value(col->domain[i], json_array_get(list, i), path, err);
		if (rv != TLY_OK)
			return rv;
		if (tly_column_value(col, col->domain[i]) >= 0) {
			tly_spec_echo(echo, col->domain[i], strlen(col->domain[i]));
			return tly_field_fail(err, 0, path, "\"%s\" appears twice", echo);
		}
		col->domain_count = i + 1;
	}
	return TLY_OK;
}

static tly_err
parse_bound(int64_t *out, const json_t *obj, const char *prefix, const char *key,
            struct tly_field_error *err)
{
	char path[TLY_SPEC_PATH_BYTES];
	json_t *value = json_object_get(obj, key);

	tly_spec_path_key(path, prefix, key);
	if (value == NULL)
		return tly_field_fail(err, 0, path, "missing");
	if (!json_is_integer(value))
		return tly_field_fail(err, 0, path, "expected an integer, got %s",
		                      tly_spec_got(value).text);
	*out = (int64_t)json_integer_value(value);
	return TLY_OK;
}

static tly_err
parse_column(struct tly_column *col, const json_t *obj, const char *prefix,
             struct tly_field_error *err)
{
	static const char *const categorical_keys[] = {"name", "type", "domain", NULL};
	static const char *const integer_keys[] = {"name", "type", "min", "max", NULL};
	char path[TLY_SPEC_PATH_BYTES], echo[TLY_SPEC_ECHO_BYTES];
	json_t *type;
	tly_err rv;

	if (!json_is_object(obj))
		return tly_field_fail(err, 0, prefix, "expected an object, got %s",
		                      tly_spec_got(obj).text);
	if ((rv = parse_name(col->name, obj, prefix, err)) != TLY_OK ||
	    (rv = tly_spec_member(obj, prefix, "type", JSON_STRING, 1, &type, err)) != TLY_OK)
		return rv;
	if (strcmp(json_string_value(type), "categorical") == 0) {
		col->kind = TLY_COLUMN_CATEGORICAL;
		if ((rv = tly_spec_only_keys(obj, prefix, categorical_keys, err)) != TLY_OK)
			return rv;
		return parse_domain(col, obj, prefix, err);
	}
	if (strcmp(json_string_value(type), "integer") == 0) {
		col->kind = TLY_COLUMN_INTEGER;
		if ((rv = tly_spec_only_keys(obj, prefix, integer_keys, err)) != TLY_OK ||
		    (rv = parse_bound(&col->min, obj, prefix, "min", err)) != TLY_OK ||
		    (rv = parse_bound(&col->max, obj, prefix, "max", err)) != TLY_OK)
			return rv;
		if (col->min > col->max) {
			tly_spec_path_key(path, prefix, "max");
			return tly_field_fail(err, 0, path, "max %" PRId64 " is below min %" PRId64,
			                      col->max, col->min);
		}
		return TLY_OK;
	}
	tly_spec_path_key(path, prefix, "type");
	tly_spec_echo(echo, json_string_value(type), json_string_length(type));
	return tly_field_fail(err, 0, path, "unknown type \"%s\"; use categorical or integer",
	                      echo);
}

static tly_err
parse_sites(struct tly_dataset *ds, const json_t *obj, const char *prefix,
            struct tly_field_error *err)
{
	char path[TLY_SPEC_PATH_BYTES];
	json_t *value = json_object_get(obj, "max_sites_per_person");
	json_int_t sites;

	ds->max_sites_per_person = 1;
	if (value == NULL)
		return TLY_OK;
	tly_spec_path_key(path, prefix, "max_sites_per_person");
	if (!json_is_integer(value))
		return tly_field_fail(err, 0, path, "expected an integer, got %s",
		                      tly_spec_got(value).text);
	sites = json_integer_value(value);
	if (sites < 1 || sites > TLY_SPEC_SITES_MAX)
		return tly_field_fail(err, 0, path, "%" PRId64 " is outside 1..%d", (int64_t)sites,
		                      TLY_SPEC_SITES_MAX);
	ds->max_sites_per_person = (uint32_t)sites;
	return TLY_OK;
}

static tly_err
parse_dataset(struct tly_dataset *ds, const json_t *obj, const char *prefix,
              struct tly_field_error *err)
{
	static const char *const keys[] = {"name", "max_sites_per_person", "columns", NULL};
	char path[TLY_SPEC_PATH_BYTES], base[TLY_SPEC_PATH_BYTES], echo[TLY_SPEC_ECHO_BYTES];
	json_t *list;
	size_t count;
	tly_err rv;

	if (!json_is_object(obj))
		return tly_field_fail(err, 0, prefix, "expected an object, got %s",
		                      tly_spec_got(obj).text);
	if ((rv = tly_spec_only_keys(obj, prefix, keys, err)) != TLY_OK ||
	    (rv = parse_name(ds->name, obj, prefix, err)) != TLY_OK ||
	    (rv = parse_sites(ds, obj, prefix, err)) != TLY_OK ||
	    (rv = tly_spec_member(obj, prefix, "columns", JSON_ARRAY, 1, &list, err)) != TLY_OK)
		return rv;
	tly_spec_path_key(base, prefix, "columns");
	count = json_array_size(list);
	if (count > TLY_SPEC_COLUMNS_MAX)
		return tly_field_fail(err, 0, base, "%zu columns; the limit is %d", count,
		                      TLY_SPEC_COLUMNS_MAX);
	ds->columns = calloc(count ? count : 1, sizeof *ds->columns);
	if (ds->columns == NULL)
		return TLY_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		struct tly_column *col = &ds->columns[i];
		tly_spec_path_index(path, base, i);
		/* Counted first, so that fini frees a half-parsed domain. */
		ds->column_count = i + 1;
		if ((rv = parse_column(col, json_array_get(list, i), path, err)) != TLY_OK)
			return rv;
		if (tly_dataset_column(ds, col->name) != (int)i) {
			char name_path[TLY_SPEC_PATH_BYTES];
			tly_spec_echo(echo, col->name, strlen(col->name));
			tly_spec_path_key(name_path, path, "name");
			return tly_field_fail(err, 0, name_path, "column \"%s\" appears twice",
			                      echo);
		}
	}
	return TLY_OK;
}

tly_err
tly_catalogue_parse(struct tly_catalogue *out, const char *json, size_t len,
                    struct tly_field_error *err)
{
	static const char *const keys[] = {"datasets", NULL};
	char path[TLY_SPEC_PATH_BYTES], echo[TLY_SPEC_ECHO_BYTES];
	struct tly_catalogue cat = {0};
	json_t *root = NULL, *list;
	size_t count;
	tly_err rv;

	TLY_REQUIRE(out != NULL && (json != NULL || len == 0));
	rv = tly_spec_load(&root, json, len, TLY_SPEC_CATALOGUE_JSON_MAX, "catalogue", err);
	if (rv != TLY_OK)
		goto out;
	if ((rv = tly_spec_only_keys(root, "", keys, err)) != TLY_OK ||
	    (rv = tly_spec_member(root, "", "datasets", JSON_ARRAY, 1, &list, err)) != TLY_OK)
		goto out;
	count = json_array_size(list);
	if (count > TLY_SPEC_DATASETS_MAX) {
		rv = tly_field_fail(err, 0, "datasets", "%zu datasets; the limit is %d", count,
		                    TLY_SPEC_DATASETS_MAX);
		goto out;
	}
	rv = TLY_ENOMEM;
	cat.datasets = calloc(count ? count : 1, sizeof *cat.datasets);
	if (cat.datasets == NULL)
		goto out;
	for (size_t i = 0; i < count; i++) {
		struct tly_dataset *ds = &cat.datasets[i];
		tly_spec_path_index(path, "datasets", i);
		cat.dataset_count = i + 1;
		if ((rv = parse_dataset(ds, json_array_get(list, i), path, err)) != TLY_OK)
			goto out;
		if (tly_catalogue_find(&cat, ds->name) != ds) {
			char name_path[TLY_SPEC_PATH_BYTES];
			tly_spec_echo(echo, ds->name, strlen(ds->name));
			tly_spec_path_key(name_path, path, "name");
			rv =
			    tly_field_fail(err, 0, name_path, "dataset \"%s\" appears twice", echo);
			goto out;
		}
	}
	*out = cat;
	memset(&cat, 0, sizeof cat);
	rv = TLY_OK;
out:
	tly_catalogue_fini(&cat);
	json_decref(root);
	return rv;
}

/* ---- dumping ---- */

static json_t *
dump_column(const struct tly_column *col)
{
	json_t *obj = json_object();
	int bad = obj == NULL;

	if (bad)
		return NULL;
	bad |= json_object_set_new(obj, "name", json_string(col->name));
	if (col->kind == TLY_COLUMN_CATEGORICAL) {
		json_t *domain = json_array();
		bad |= json_object_set_new(obj, "type", json_string("categorical"));
		bad |= json_object_set_new(obj, "domain", domain);
		for (size_t i = 0; i < col->domain_count && !bad; i++)
			bad |= json_array_append_new(domain, json_string(col->domain[i]));
	} else {
		bad |= json_object_set_new(obj, "type", json_string("integer"));
		bad |= json_object_set_new(obj, "min", json_integer((json_int_t)col->min));
		bad |= json_object_set_new(obj, "max", json_integer((json_int_t)col->max));
	}
	if (bad) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *
dump_dataset(const struct tly_dataset *ds)
{
	json_t *obj = json_object(), *columns = json_array();
	int bad = obj == NULL;

	if (bad) {
		json_decref(columns);
		return NULL;
	}
	bad |= json_object_set_new(obj, "name", json_string(ds->name));
	bad |= json_object_set_new(obj, "max_sites_per_person",
	                           json_integer((json_int_t)ds->max_sites_per_person));
	bad |= json_object_set_new(obj, "columns", columns);
	for (size_t i = 0; i < ds->column_count && !bad; i++)
		bad |= json_array_append_new(columns, dump_column(&ds->columns[i]));
	if (bad) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

tly_err
tly_catalogue_dump(const struct tly_catalogue *cat, char **json)
{
	json_t *root = json_object(), *list = json_array();
	size_t len;
	tly_err rv = TLY_ENOMEM;
	int bad = root == NULL;

	TLY_REQUIRE(cat != NULL && json != NULL);
	if (bad) {
		json_decref(list);
		return rv;
	}
	bad |= json_object_set_new(root, "datasets", list);
	for (size_t i = 0; i < cat->dataset_count && !bad; i++)
		bad |= json_array_append_new(list, dump_dataset(&cat->datasets[i]));
	if (!bad)
		rv = tly_spec_dump(root, json, &len);
	json_decref(root);
	return rv;
}

/* ---- look-ups ---- */

const struct tly_dataset *
tly_catalogue_find(const struct tly_catalogue *cat, const char *name)
{
	for (size_t i = 0; i < cat->dataset_count; i++)
		if (strcmp(cat->datasets[i].name, name) == 0)
			return &cat->datasets[i];
	return NULL;
}

int
tly_dataset_column(const struct tly_dataset *ds, const char *name)
{
	for (size_t i = 0; i < ds->column_count; i++)
		if (strcmp(ds->columns[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
tly_column_value(const struct tly_column *col, const char *value)
{
	if (col->kind != TLY_COLUMN_CATEGORICAL)
		return -1;
	for (size_t i = 0; i < col->domain_count; i++)
		if (strcmp(col->domain[i], value) == 0)
			return (int)i;
	return -1;
}
