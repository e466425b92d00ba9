// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * wl_callers.c - workload 7: eight application threads run tasks at once.
 *
 * This is where a process-wide limit matters: a peer that gives every
 * caller its own team puts several times more runnable threads than CPUs
 * on the machine, and they then fight for the CPUs.  A sampler thread
 * watches how many of the peer's worker threads are runnable.
 */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "sampler.h"
#include "work.h"
#include "workloads.h"

#define CALLERS 8
#define CALLER_UNITS 64

struct caller {
	pthread_t thread;
	const struct bench_peer *peer;
	size_t tasks;
	uint64_t iters;			/* per unit */
	pthread_barrier_t *ready;	/* callers registered with the sampler */
	pthread_barrier_t *go;		/* the clock and the sampler run */
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	size_t i;

	sampler_add_app_thread(sampler_gettid());
	pthread_barrier_wait(c->ready);
	pthread_barrier_wait(c->go);
	for (i = 0; i < c->tasks; i++)
		c->peer->run(CALLER_UNITS, CALLER_UNITS / 8, work_range,
			     &c->iters);
	return NULL;
}

/* Runs @tasks tasks of @us microseconds in each caller; tasks per second. */
static double callers_once(const struct bench_peer *peer, double us,
			   size_t tasks, struct sampler_result *res)
{
	struct caller c[CALLERS];
	pthread_barrier_t ready, go;
	double t0;
	int i;

	pthread_barrier_init(&ready, NULL, CALLERS + 1);
	pthread_barrier_init(&go, NULL, CALLERS + 1);
	for (i = 0; i < CALLERS; i++) {
		c[i] = (struct caller){ .peer = peer, .tasks = tasks,
			.iters = work_iters_per_us(us / CALLER_UNITS),
			.ready = &ready, .go = &go };
		pthread_create(&c[i].thread, NULL, caller_main, &c[i]);
	}
	/*
	 * The sampler must know every caller before it starts, and the clock
	 * must start before any caller does.
	 */
	pthread_barrier_wait(&ready);
	sampler_start(1000);
	t0 = bench_now();
	pthread_barrier_wait(&go);
	for (i = 0; i < CALLERS; i++)
		pthread_join(c[i].thread, NULL);
	t0 = bench_now() - t0;
	sampler_stop(res);
	pthread_barrier_destroy(&ready);
	pthread_barrier_destroy(&go);
	return CALLERS * tasks / t0;
}

static void callers_size(const struct bench_peer *peer, const char *label,
			 double us)
{
	/* Each caller does about 25 ms (quick) of work per repetition. */
	size_t tasks = BENCH_BY_MODE(5, 25000 / us, 100000 / us);
	size_t reps = BENCH_BY_MODE(1, 5, 9), r;
	double tput[21], peak_w[21], peak_a[21], over[21];
	struct sampler_result res;

	for (r = 0; r < reps; r++) {
		tput[r] = callers_once(peer, us, tasks, &res);
		peak_w[r] = res.peak_workers;
		peak_a[r] = res.peak_all;
		over[r] = res.pct_over_cpus;
	}
	bench_report("callers", us, label, "tasks_per_s", tput, reps);
	/* Peaks are reported as their maximum over the runs, in the max column. */
	bench_report("callers", us, label, "peak_runnable_workers", peak_w, reps);
	bench_report("callers", us, label, "peak_runnable_all", peak_a, reps);
	bench_report("callers", us, label, "pct_samples_workers_over_cpus",
		     over, reps);
}

void wl_callers(const struct bench_peer *peer, const char *label)
{
	callers_size(peer, label, 100);
	callers_size(peer, label, 1000);
}
