/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * sampler.h - counts the process's runnable threads from a thread of its
 * own, by reading the state letter of every /proc/self/task/<tid>/stat.
 */
#ifndef BENCH_SAMPLER_H
#define BENCH_SAMPLER_H

#include <sys/types.h>

struct sampler_result {
	unsigned int peak_workers;	/* runnable threads the app didn't make */
	unsigned int peak_all;		/* runnable threads, the app's too */
	double pct_over_cpus;		/* samples with more workers than CPUs */
	unsigned long samples;
};

/* Says that @tid is one of the application's own threads, not a worker. */
void sampler_add_app_thread(pid_t tid);

/* Starts sampling every @interval_us; the calling thread counts as app. */
int sampler_start(unsigned int interval_us);

/* Stops sampling and tells what it saw. */
void sampler_stop(struct sampler_result *res);

pid_t sampler_gettid(void);

#endif /* BENCH_SAMPLER_H */
