// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * wake_probe.c - ktask-wake-probe: where the time of a small periodic task
 * goes.  It runs a 2-chunk task of about 20 us every 1 ms, records which
 * thread ran each chunk, on which CPU and when, and prints medians: how
 * often a helper ran a chunk, how often on the caller's own CPU, and how
 * long the caller still waited after the helper's chunk ended.
 *
 * docs/benchmarks.md ("Findings") quotes it.  Run it against another
 * build of libktask with LD_LIBRARY_PATH to compare pool settings.
 *
 *   ktask-wake-probe [calls]      (default 1000)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ktask.h>

#include "harness.h"
#include "work.h"

/* The task is two units at a fixed nonzero base, one chunk each. */
#define PROBE_BASE ((uintptr_t)4096)

struct probe_chunk {
	double start, end;	/* us after the call began */
	int cpu;
	int by_helper;
};

static pid_t caller_tid;
static double call_start;
static uint64_t chunk_iters;
static struct probe_chunk chunks[2];

static double us_now(void)
{
	return bench_now() * 1e6;
}

static int probe_chunk_fn(void *start, void *end, void *arg)
{
	struct probe_chunk *c = &chunks[(uintptr_t)start - PROBE_BASE];

	(void)end;
	(void)arg;
	c->start = us_now() - call_start;
	work_sink(work_burn(1, chunk_iters));
	c->end = us_now() - call_start;
	c->cpu = sched_getcpu();
	c->by_helper = (pid_t)syscall(SYS_gettid) != caller_tid;
	return KTASK_RETURN_SUCCESS;
}

struct probe_stats {
	double *lat_caller, *lat_helper, *tail;
	size_t n_caller, n_helper, same_cpu;
};

static void probe_print(struct probe_stats *st, size_t calls)
{
	printf("a helper ran a chunk in %zu of %zu calls, on the "
	       "caller's CPU in %zu of those\n", st->n_helper, calls,
	       st->same_cpu);
	printf("latency when the caller ran both chunks: median %.1f us\n",
	       bench_median(st->lat_caller, st->n_caller));
	printf("latency when a helper ran one: median %.1f us\n",
	       bench_median(st->lat_helper, st->n_helper));
	printf("from the end of the helper's chunk to the return of "
	       "ktask_run(): median %.1f us\n",
	       bench_median(st->tail, st->n_helper));
}

int main(int argc, char **argv)
{
	size_t calls = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000, i;
	DEFINE_KTASK_CTL(ctl, probe_chunk_fn, NULL, 1);
	struct probe_stats st = { 0 };
	double lat;

	if (!calls)
		calls = 1;
	work_calibrate();
	chunk_iters = work_iters_per_us(10);
	caller_tid = (pid_t)syscall(SYS_gettid);
	st.lat_caller = calloc(calls, sizeof(double));
	st.lat_helper = calloc(calls, sizeof(double));
	st.tail = calloc(calls, sizeof(double));
	for (i = 0; i < calls; i++) {
		bench_sleep_us(1000);
		call_start = us_now();
		ktask_run((void *)PROBE_BASE, 2, &ctl);
		lat = us_now() - call_start;
		if (!chunks[1].by_helper && !chunks[0].by_helper) {
			st.lat_caller[st.n_caller++] = lat;
			continue;
		}
		/* The chunk the helper ran; the caller ran the other one. */
		struct probe_chunk *h = chunks[1].by_helper ? &chunks[1] :
							      &chunks[0];
		struct probe_chunk *c = h == &chunks[1] ? &chunks[0] :
							  &chunks[1];

		st.same_cpu += h->cpu == c->cpu;
		st.tail[st.n_helper] = lat - h->end;
		st.lat_helper[st.n_helper++] = lat;
	}
	probe_print(&st, calls);
	return 0;
}
