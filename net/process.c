/*
 * process.c - the daemons' event lines and failed starts (process.h).
 */
#include "net/process.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

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
	for (size_t i = 0; i < count; i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			optind = 1;
			return commands[i].run(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "%s: unknown command \"%s\"\n%s", program, argv[1], usage);
	return 2;
}
