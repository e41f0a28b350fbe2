/* A dry run's answer printed for people or tools: see cli/query.h. */
#include "cli/query.h"

#include <stdio.h>
#include <string.h>

/* A string member on one line: "?" when absent or not a string, control
 * characters (which a coordinator's JSON could carry) as '?'. */
static void
put_text(FILE *out, json_t *v)
{
	const char *text = json_string_value(v);

	if (text == NULL)
		text = "?";
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

/* A number as the release prints it: an integer bare, else 3 significant
 * digits; "?" when not a number. */
static void
put_number(FILE *out, json_t *v)
{
	double x = json_number_value(v);

	if (!json_is_number(v))
		fputs("?", out);
	else if (x == (double)(long long)x)
		fprintf(out, "%lld", (long long)x);
	else
		fprintf(out, "%.3g", x);
}

static void
print_csv(FILE *out, json_t *estimate)
{
	size_t i;
	json_t *f;

	fputs("# dry run: nothing was asked, charged or logged\n# ", out);
	put_text(out, json_object_get(estimate, "words"));
	fputs("\nfigure,half_width95,group_size\n", out);
	json_array_foreach(json_object_get(estimate, "figures"), i, f)
	{
		put_text(out, json_object_get(f, "figure"));
		fputc(',', out);
		put_number(out, json_object_get(f, "half_width95"));
		fputc(',', out);
		if (json_is_integer(json_object_get(f, "group_size")))
			put_number(out, json_object_get(f, "group_size"));
		fputc('\n', out);
	}
}

static void
print_table(FILE *out, json_t *estimate)
{
	size_t i;
	json_t *f;

	fputs("dry run: nothing was asked, charged or logged\n", out);
	put_text(out, json_object_get(estimate, "words"));
	fputs("\n\nfigure                        95% half-width (+/-)\n", out);
	json_array_foreach(json_object_get(estimate, "figures"), i, f)
	{
		char name[64];
		json_t *group = json_object_get(f, "group_size");
		const char *figure = json_string_value(json_object_get(f, "figure"));
		if (json_is_integer(group))
			snprintf(name, sizeof name, "%s (group of %lld)", figure ? figure : "?",
			         (long long)json_integer_value(group));
		else
			snprintf(name, sizeof name, "%s", figure ? figure : "?");
		for (char *c = name; *c != '\0'; c++)
			*c = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
		fprintf(out, "%-30s", name);
		put_number(out, json_object_get(f, "half_width95"));
		fputc('\n', out);
	}
}

void
tly_query_print_estimate(FILE *out, json_t *estimate, int csv)
{
	(csv ? print_csv : print_table)(out, estimate);
}
