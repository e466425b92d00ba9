// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * wl_latency.c - the workloads about the cost of a call rather than of the
 * work in it: back-to-back fork-join (1), a small task every millisecond
 * (2) and tasks below the minimum chunk (9).
 *
 * CPU time is that of the whole process, so what idle workers burn while
 * spinning between calls is charged to the peer that owns them.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "work.h"
#include "workloads.h"

/* Almost no work: one store per unit. */
static void store_range(size_t lo, size_t hi, void *arg)
{
	size_t *slots = arg;

	for (; lo < hi; lo++)
		slots[lo] = hi;
}

/* Workload 1: back-to-back calls of a 2-chunk task of @n stores. */
static void forkjoin_size(const struct bench_peer *peer, const char *label,
			  size_t n)
{
	size_t reps = BENCH_BY_MODE(1, 5, 11), calls, r, i;
	size_t *slots = calloc(n, sizeof(*slots));
	double *lat, *cpu, c0, t0;

	/* Warm up (start whatever threads the peer keeps) and time it. */
	t0 = bench_now();
	for (i = 0; i < 100; i++)
		peer->run(n, n / 2, store_range, slots);
	calls = bench_calls((bench_now() - t0) / 100, 100, 100000);
	lat = malloc(calls * reps * sizeof(*lat));
	cpu = malloc(reps * sizeof(*cpu));
	for (r = 0; r < reps; r++) {
		c0 = bench_cpu();
		for (i = 0; i < calls; i++) {
			t0 = bench_now();
			peer->run(n, n / 2, store_range, slots);
			lat[r * calls + i] = (bench_now() - t0) * 1e9;
		}
		cpu[r] = (bench_cpu() - c0) / calls * 1e9;
	}
	bench_report("forkjoin", n, label, "latency_ns", lat, calls * reps);
	bench_report("forkjoin", n, label, "cpu_ns_per_call", cpu, reps);
	free(lat);
	free(cpu);
	free(slots);
}

void wl_forkjoin(const struct bench_peer *peer, const char *label)
{
	forkjoin_size(peer, label, 2);
	forkjoin_size(peer, label, 1024);
}

#define PERIODIC_UNITS 64

/* Workload 2: a task of @us microseconds of work, once per millisecond. */
static void periodic_size(const struct bench_peer *peer, const char *label,
			  double us)
{
	size_t periods = BENCH_BY_MODE(20, 200, 1000);
	size_t reps = BENCH_BY_MODE(1, 3, 7), r, i;
	double *lat = malloc(periods * reps * sizeof(*lat));
	double *cpu = malloc(reps * sizeof(*cpu));
	uint64_t iters = work_iters_per_us(us / PERIODIC_UNITS);	/* per unit */
	struct timespec next;
	double c0, t0;

	for (i = 0; i < 20; i++)
		peer->run(PERIODIC_UNITS, PERIODIC_UNITS / 2, work_range, &iters);
	for (r = 0; r < reps; r++) {
		clock_gettime(CLOCK_MONOTONIC, &next);
		c0 = bench_cpu();
		for (i = 0; i < periods; i++) {
			next.tv_nsec += 1000000;
			if (next.tv_nsec >= 1000000000) {
				next.tv_nsec -= 1000000000;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
					NULL);
			t0 = bench_now();
			peer->run(PERIODIC_UNITS, PERIODIC_UNITS / 2,
				  work_range, &iters);
			lat[r * periods + i] = (bench_now() - t0) * 1e6;
		}
		/* CPU per period: the task's own work plus any idle burn. */
		cpu[r] = (bench_cpu() - c0) / periods * 1e6;
	}
	bench_report("periodic", us, label, "latency_us", lat, periods * reps);
	bench_report("periodic", us, label, "cpu_us_per_period", cpu, reps);
	free(lat);
	free(cpu);
}

void wl_periodic(const struct bench_peer *peer, const char *label)
{
	periodic_size(peer, label, 20);
	periodic_size(peer, label, 200);
}

/* Called through a volatile pointer, so the direct call is a real call. */
static void (*volatile direct_fn)(size_t, size_t, void *) = store_range;

/* Workload 9: @n units with a minimum chunk above @n: no parallelism. */
static void tiny_size(const struct bench_peer *peer, const char *label,
		      size_t n)
{
	size_t reps = BENCH_BY_MODE(1, 11, 21), calls, r, i;
	double *call = malloc(reps * sizeof(*call));
	double *over = malloc(reps * sizeof(*over));
	size_t slots[64];
	double t0, direct;

	t0 = bench_now();
	for (i = 0; i < 1000; i++)
		peer->run(n, 64, store_range, slots);
	/* A quarter of the budget: each repetition times two loops. */
	calls = bench_calls((bench_now() - t0) / 1000 * 4, 1000, 10000000);

	for (r = 0; r < reps; r++) {
		/* Pair each peer sample with a direct sample taken just before. */
		t0 = bench_now();
		for (i = 0; i < calls; i++)
			direct_fn(0, n, slots);
		direct = (bench_now() - t0) / calls * 1e9;
		t0 = bench_now();
		for (i = 0; i < calls; i++)
			peer->run(n, 64, store_range, slots);
		call[r] = (bench_now() - t0) / calls * 1e9;
		over[r] = call[r] - direct;
	}
	bench_report("tiny", n, label, "call_ns", call, reps);
	bench_report("tiny", n, label, "overhead_ns", over, reps);
	free(call);
	free(over);
}

void wl_tiny(const struct bench_peer *peer, const char *label)
{
	tiny_size(peer, label, 1);
	tiny_size(peer, label, 32);
}
