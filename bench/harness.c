// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * harness.c - clocks, medians and CSV output for the benchmarks.
 *
 * CPU time comes from CLOCK_PROCESS_CPUTIME_ID: it sums every thread of the
 * process, so a peer whose idle workers spin is charged for that spinning.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

struct bench_opts bench_opts = {
	.mode = BENCH_QUICK,
	.cpus = 1,
};

static int header_done;

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double bench_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

size_t bench_calls(double probe_s, size_t lo, size_t hi)
{
	double budget = BENCH_BY_MODE(0.002, 0.04, 0.2);
	double n = probe_s > 0 ? budget / probe_s : (double)hi;

	return n < lo ? lo : n > hi ? hi : (size_t)n;
}

void bench_sleep_us(unsigned int us)
{
	struct timespec ts = {
		.tv_sec = us / 1000000,
		.tv_nsec = (long)(us % 1000000) * 1000,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void header(void)
{
	if (header_done++)
		return;
	fprintf(bench_opts.csv,
		"workload,size,peer,metric,median,min,max,samples,cpus\n");
}

void bench_report(const char *workload, double size, const char *peer,
		  const char *metric, double *v, size_t n)
{
	double med = bench_median(v, n);

	header();
	fprintf(bench_opts.csv, "%s,%g,%s,%s,%.6g,%.6g,%.6g,%zu,%u\n",
		workload, size, peer, metric, med, n ? v[0] : 0,
		n ? v[n - 1] : 0, n, bench_opts.cpus);
	fflush(bench_opts.csv);
}

void bench_note(const char *workload, const char *peer, const char *note)
{
	header();
	/* A note is a row with no samples; commas would break the format. */
	fprintf(bench_opts.csv, "%s,0,%s,note:", workload, peer);
	for (; *note; note++)
		fputc(*note == ',' || *note == '\n' ? ';' : *note,
		      bench_opts.csv);
	fprintf(bench_opts.csv, ",0,0,0,0,%u\n", bench_opts.cpus);
	fflush(bench_opts.csv);
}

void bench_init_cpus(void)
{
	cpu_set_t set;

	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set))
		bench_opts.cpus = CPU_COUNT(&set);
}
