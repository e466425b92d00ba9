// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * wl_compute.c - CPU-bound workloads: uneven work, where balancing decides
 * the makespan (5), and a linked list walked through an iterator (6).
 */
#include <stdlib.h>

#include "harness.h"
#include "work.h"
#include "workloads.h"

struct uneven_arg {
	double base;		/* rounds for unit 0; unit i costs (i + 1)x */
};

static void uneven_range(size_t lo, size_t hi, void *arg)
{
	const struct uneven_arg *u = arg;
	uint64_t x = lo + 1;

	for (; lo < hi; lo++)
		x = work_burn(x, (uint64_t)(u->base * (lo + 1)) + 1);
	work_sink(x);
}

/* Workload 5: @n units whose costs grow linearly, @ms of serial work. */
static void uneven_size(const struct bench_peer *peer, const char *label,
			size_t n, double ms)
{
	struct uneven_arg u;
	size_t reps = BENCH_BY_MODE(1, 5, 9), r;
	double span[21], t0;

	/* Units cost base, 2 base, ..., n base: n (n + 1) / 2 base in all. */
	u.base = (double)work_iters_per_us(ms * 1000) / (n * (n + 1) / 2.0);
	peer->run(n, 1, uneven_range, &u);	/* warm up */
	for (r = 0; r < reps; r++) {
		t0 = bench_now();
		peer->run(n, 1, uneven_range, &u);
		span[r] = (bench_now() - t0) * 1e3;
	}
	bench_report("uneven", n, label, "makespan_ms", span, reps);
}

void wl_uneven(const struct bench_peer *peer, const char *label)
{
	double ms = BENCH_BY_MODE(2, 50, 200);

	uneven_size(peer, label, 256, ms);
	uneven_size(peer, label, 4096, ms);
}

/* Per-node work: about a fifth of a microsecond of CPU. */
static void node_work(struct bench_node *node, void *arg)
{
	const uint64_t *iters = arg;

	node->value = work_burn(node->value, *iters);
}

struct array_arg {
	struct bench_node **nodes;
	uint64_t iters;
};

static void array_range(size_t lo, size_t hi, void *arg)
{
	struct array_arg *a = arg;

	for (; lo < hi; lo++)
		node_work(a->nodes[lo], &a->iters);
}

#define LIST_GRAIN 1024

/* Workload 6: a list of @n separately allocated nodes. */
static void list_size(const struct bench_peer *peer, const char *label,
		      size_t n)
{
	size_t reps = BENCH_BY_MODE(1, 5, 9), r, i;
	struct bench_node *head = NULL, **array = malloc(n * sizeof(*array));
	struct array_arg a = { array, work_iters_per_us(0.2) };
	double ms[21], t0;

	for (i = n; i-- > 0;) {
		array[i] = malloc(sizeof(*array[i]));
		array[i]->value = i;
		array[i]->next = head;
		head = array[i];
	}
	for (r = 0; r <= reps; r++) {
		t0 = bench_now();
		if (peer->run_list)
			peer->run_list(head, n, LIST_GRAIN, node_work,
				       &a.iters);
		else
			peer->run(n, LIST_GRAIN, array_range, &a);
		/* Round 0 warms the peer and the caches up; it is dropped. */
		if (r)
			ms[r - 1] = (bench_now() - t0) * 1e3;
	}
	bench_report("list", n, label, "ms", ms, reps);
	for (i = 0; i < n; i++)
		free(array[i]);
	free(array);
}

void wl_list(const struct bench_peer *peer, const char *label)
{
	list_size(peer, label, BENCH_BY_MODE(10000, 1000000, 1000000));
}
