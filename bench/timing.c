#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double
bench_now(void)
{
	return seconds(CLOCK_MONOTONIC);
}

double
bench_cpu(void)
{
	return seconds(CLOCK_PROCESS_CPUTIME_ID);
}

int
bench_quick(void)
{
	const char *env = getenv("TALLY_BENCH_QUICK");
	return env != NULL && env[0] != '\0' && strcmp(env, "0") != 0;
}

long
bench_pick(long full, long quick)
{
	return bench_quick() ? quick : full;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double
bench_median(void (*fn)(void *arg), void *arg, int reps)
{
	double times[64];

	if (reps < 1 || bench_quick())
		reps = 1;
	if (reps > 64)
		reps = 64;
	fn(arg);
	for (int i = 0; i < reps; i++) {
		double start = bench_now();
		fn(arg);
		times[i] = bench_now() - start;
	}
	qsort(times, (size_t)reps, sizeof times[0], compare_double);
	return times[reps / 2];
}

static int header_printed;

void
bench_header(void)
{
	if (header_printed)
		return;
	header_printed = 1;
	printf("bench,measure,params,value,unit,baseline,baseline_value,ratio\n");
}

void
bench_row(const char *bench, const char *measure, const char *params, double value,
          const char *unit, const char *baseline, double baseline_value)
{
	bench_header();
	if (baseline != NULL && baseline_value > 0)
		printf("%s,%s,%s,%.6g,%s,%s,%.6g,%.3f\n", bench, measure, params, value, unit,
		       baseline, baseline_value, value / baseline_value);
	else
		printf("%s,%s,%s,%.6g,%s,,,\n", bench, measure, params, value, unit);
	fflush(stdout);
}

static volatile unsigned char sink;

void
bench_consume(const void *p, size_t len)
{
	const unsigned char *bytes = p;
	unsigned char x = 0;

	for (size_t i = 0; i < len; i += 4096)
		x ^= bytes[i];
	sink ^= x;
}
