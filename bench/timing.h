/*
 * timing.h - what every benchmark program shares: a monotonic clock, the
 * median of repeated runs, and one CSV row format.
 *
 * Every bench program prints rows of
 *   bench,measure,params,value,unit,baseline,baseline_value,ratio
 * where `baseline` names a floor measured in the same run (raw keystream,
 * memcpy, ...) and ratio = value / baseline_value, so that figures from a
 * shared, noisy machine are read as ratios. Rows without a baseline leave
 * the last three fields empty.
 */
#ifndef TLY_BENCH_TIMING_H
#define TLY_BENCH_TIMING_H

#include <stddef.h>

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);
/* This process's CPU seconds, all threads (CLOCK_PROCESS_CPUTIME_ID). */
double bench_cpu(void);

/*
 * The short pass (`make bench-quick`, run by `make test` so that a
 * benchmark cannot rot unnoticed): nonzero when TALLY_BENCH_QUICK is set
 * and not "0". Every program then runs every measurement it has, at its
 * smallest sizes and with one repetition, and prints its rows as usual;
 * the figures are not for reading.
 */
int bench_quick(void);

/* `full` in a full run, `quick` in the short pass. */
long bench_pick(long full, long quick);

/* Run fn(arg) once to warm up, then `reps` times (once in the short
 * pass); the median seconds. */
double bench_median(void (*fn)(void *arg), void *arg, int reps);

void bench_header(void);
void bench_row(const char *bench, const char *measure, const char *params, double value,
               const char *unit, const char *baseline, double baseline_value);

/* Keep a computed value alive so the compiler cannot drop the work. */
void bench_consume(const void *p, size_t len);

#endif
