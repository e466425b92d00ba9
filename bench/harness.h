/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * harness.h - the one timing harness every benchmark uses: clocks, medians
 * over repetitions, and the CSV rows the driver merges into tables and plots.
 *
 * Every figure is a median over repetitions, because the machines this runs
 * on are shared and noisy: a median ignores the odd slow run that a mean
 * would smear over the result.
 */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stddef.h>
#include <stdio.h>

/* How long a run takes: tiny proves it works, quick is the default. */
enum bench_mode {
	BENCH_TINY,
	BENCH_QUICK,
	BENCH_FULL,
};

struct bench_opts {
	enum bench_mode mode;
	FILE *csv;		/* rows go here, header written once */
	unsigned int cpus;	/* CPUs this process may use */
};

extern struct bench_opts bench_opts;

/* Picks a number by mode, so each workload states its sizes in one line. */
#define BENCH_BY_MODE(tiny, quick, full)				\
	(bench_opts.mode == BENCH_TINY ? (tiny) :			\
	 bench_opts.mode == BENCH_QUICK ? (quick) : (full))

/* Wall-clock seconds from a monotonic clock. */
double bench_now(void);

/* User plus system CPU seconds of the whole process, every thread. */
double bench_cpu(void);

/*
 * How many calls of something that took @probe_s seconds fit in the
 * current mode's time budget for one repetition, within [lo, hi].  Slow
 * peers then get fewer calls instead of making the run take minutes.
 */
size_t bench_calls(double probe_s, size_t lo, size_t hi);

/* Sleeps @us microseconds. */
void bench_sleep_us(unsigned int us);

/* Sorts @v in place and returns its median. */
double bench_median(double *v, size_t n);

/*
 * Writes one CSV row: the median of @v (sorted in place), its min and max
 * and the number of samples.  @size is the workload's size parameter in the
 * workload's own unit.
 */
void bench_report(const char *workload, double size, const char *peer,
		  const char *metric, double *v, size_t n);

/* Writes a note row, for a workload that was skipped and why. */
void bench_note(const char *workload, const char *peer, const char *note);

/* Fills bench_opts.cpus from the affinity mask. */
void bench_init_cpus(void);

#endif /* BENCH_HARNESS_H */
