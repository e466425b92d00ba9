// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * peer_pthreads.c - the hand-rolled split: start one thread per CPU, give
 * each an equal part, join them.  This is what QEMU's memory preallocation
 * does, and what most C programmers write first.  The caller only waits.
 */
#include <pthread.h>
#include <stdbool.h>

#include "harness.h"
#include "peer.h"

#define PT_MAX_THREADS 256

struct pt_part {
	size_t lo, hi;
	bench_range_fn fn;
	void *arg;
};

static void *pt_main(void *p)
{
	struct pt_part *part = p;

	part->fn(part->lo, part->hi, part->arg);
	return NULL;
}

static void pt_run(size_t n, size_t grain, bench_range_fn fn, void *arg)
{
	struct pt_part parts[PT_MAX_THREADS];
	pthread_t threads[PT_MAX_THREADS];
	bool started[PT_MAX_THREADS];
	size_t nr = bench_opts.cpus, i;

	if (grain && nr > (n + grain - 1) / grain)
		nr = (n + grain - 1) / grain;
	if (nr > PT_MAX_THREADS)
		nr = PT_MAX_THREADS;
	/* Not worth a thread: even a naive split would not start one. */
	if (nr <= 1) {
		fn(0, n, arg);
		return;
	}
	for (i = 0; i < nr; i++) {
		parts[i] = (struct pt_part){ n * i / nr, n * (i + 1) / nr,
					     fn, arg };
		started[i] = !pthread_create(&threads[i], NULL, pt_main,
					     &parts[i]);
		if (!started[i])
			pt_main(&parts[i]);	/* no thread: do it here */
	}
	for (i = 0; i < nr; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
}

const struct bench_peer bench_peer_pthreads = {
	.name = "pthreads",
	.run = pt_run,
	.run_list = NULL,
};
