/*
 * process.c - the daemons' event lines and failed starts (process.h).
 */
#include "net/process.h"

#include <stdio.h>
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
