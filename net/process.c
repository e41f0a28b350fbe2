/*
 * process.c - the daemons' event lines and failed starts (process.h).
 */
#include "net/process.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "query/nearest.h"

enum { NAMES_MAX = 64 };

void
tly_process_vnote(const char *who, const char *fmt, va_list ap)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s %s: ", when, who);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
}

int
tly_process_refused(const char *program, tly_err rv, const char *why)
{
	fprintf(stderr, "%s: %s\n", program, why);
	return rv == TLY_EINVAL ? 2 : 1;
}

int
tly_process_command(const char *program, const struct tly_command *commands, size_t count,
                    const char *usage, int argc, char **argv)
{
	const char *names[NAMES_MAX];

	(void)usage;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			optind = 1;
			return commands[i].run(argc - 1, argv + 1);
		}
		if (i < NAMES_MAX)
			names[i] = commands[i].name;
	}
	return tly_process_unknown(program, argv[1], names, count < NAMES_MAX ? count : NAMES_MAX);
}

/* " did you mean 'PREFIX NAME'?" into out when a name is near word, else "". */
static void
suggestion(char *out, size_t len, const char *prefix, const char *word, const char *const *names,
           size_t count)
{
	const char *near = tly_nearest(word, names, count);

	out[0] = '\0';
	if (near != NULL)
		snprintf(out, len, "; did you mean '%s%s'?", prefix, near);
}

int
tly_process_unknown(const char *program, const char *word, const char *const *names, size_t count)
{
	char hint[TLY_NEAREST_MAX_LEN + 40];

	suggestion(hint, sizeof hint, "", word, names, count);
	fprintf(stderr, "%s: unknown command '%.80s'%s (see '%s --help')\n", program, word, hint,
	        program);
	return 2;
}

static size_t
long_names(const struct option *options, const char **names)
{
	size_t n = 0;

	for (; options[n].name != NULL && n < NAMES_MAX; n++)
		names[n] = options[n].name;
	return n;
}

/* The option of `options` that name is, or the only one it begins; NULL
 * otherwise, with the number of options it begins in *prefixed. */
static const struct option *
find_option(const struct option *options, const char *name, size_t *prefixed)
{
	const struct option *found = NULL;

	*prefixed = 0;
	for (const struct option *o = options; o->name != NULL; o++) {
		if (strcmp(o->name, name) == 0)
			return o;
		if (strncmp(o->name, name, strlen(name)) == 0) {
			found = o;
			(*prefixed)++;
		}
	}
	return *prefixed == 1 ? found : NULL;
}

/* "option '--NAME' is ambiguous: --A, --B" for the options name begins. */
static void
ambiguous(char *out, size_t len, const struct option *options, const char *name)
{
	size_t used = (size_t)snprintf(out, len, "option '--%s' is ambiguous:", name);
	const char *separator = " ";

	for (const struct option *o = options; o->name != NULL && used < len; o++) {
		if (strncmp(o->name, name, strlen(name)) != 0)
			continue;
		used += (size_t)snprintf(out + used, len - used, "%s--%s", separator, o->name);
		separator = ", ";
	}
}

/* What was wrong with "--WORD" or "--WORD=VALUE" (arg without its dashes). */
static void
long_error(char *out, size_t len, const struct option *options, const char *arg)
{
	const char *names[NAMES_MAX], *eq = strchr(arg, '=');
	char name[TLY_NEAREST_MAX_LEN + 1], hint[TLY_NEAREST_MAX_LEN + 40];
	size_t prefixed, count = long_names(options, names);

	snprintf(name, sizeof name, "%.*s", (int)(eq != NULL ? (size_t)(eq - arg) : strlen(arg)),
	         arg);
	const struct option *o = find_option(options, name, &prefixed);
	if (o != NULL && o->has_arg == required_argument && eq == NULL)
		snprintf(out, len, "option '--%s' needs a value", o->name);
	else if (o != NULL && o->has_arg == no_argument && eq != NULL)
		snprintf(out, len, "option '--%s' takes no value", o->name);
	else if (o == NULL && prefixed > 1)
		ambiguous(out, len, options, name);
	else {
		suggestion(hint, sizeof hint, "--", name, names, count);
		snprintf(out, len, "unrecognised option '--%.80s'%s", name, hint);
	}
}

/* What was wrong with "-X..." (no short options are defined): a single
 * dash before a long option's name is pointed at the long option. */
static void
short_error(char *out, size_t len, const struct option *options, const char *arg)
{
	const char *names[NAMES_MAX];
	char hint[TLY_NEAREST_MAX_LEN + 40] = "";
	size_t prefixed, count = long_names(options, names);

	if (strlen(arg) > 2) {
		const struct option *o = find_option(options, arg + 1, &prefixed);
		if (o != NULL && strcmp(o->name, arg + 1) == 0)
			snprintf(hint, sizeof hint, "; did you mean '--%s'?", o->name);
		else
			suggestion(hint, sizeof hint, "--", arg + 1, names, count);
	}
	snprintf(out, len, "unrecognised option '%.80s'%s", arg, hint);
}

void
tly_process_option_error(char *out, size_t len, const struct option *options, int argc, char **argv)
{
	const char *arg = optind >= 1 && optind <= argc ? argv[optind - 1] : "";

	/* A short option inside a word ("-config") leaves optind on the word. */
	if (optind < argc && argv[optind][0] == '-' && argv[optind][1] != '-' && optopt > 0 &&
	    strchr(argv[optind] + 1, optopt) != NULL)
		arg = argv[optind];
	if (strncmp(arg, "--", 2) == 0)
		long_error(out, len, options, arg + 2);
	else
		short_error(out, len, options, arg);
}

int
tly_process_bad_option(const char *program, const struct option *options, int argc, char **argv)
{
	char message[400];

	tly_process_option_error(message, sizeof message, options, argc, argv);
	fprintf(stderr, "%s: %s (see '%s --help')\n", program, message, program);
	return 2;
}
