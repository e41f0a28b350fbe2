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

/* Run fn(arg) once to warm up, then `reps` times; the median seconds. */
double bench_median(void (*fn)(void *arg), void *arg, int reps);

void bench_header(void);
void bench_row(const char *bench, const char *measure, const char *params, double value,
               const char *unit, const char *baseline, double baseline_value);

/* Keep a computed value alive so the compiler cannot drop the work. */
void bench_consume(const void *p, size_t len);

#endif
