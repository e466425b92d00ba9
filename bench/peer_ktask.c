// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * peer_ktask.c - ktask behind the benchmark interface.
 *
 * Index ranges become ktask's default byte-range task starting at a fixed
 * nonzero base, so they are claimed lock-free like any address range; the
 * list walk uses an iterator, which is how a ktask client walks non-array
 * work.  The minimum chunk is the workload's grain.
 */
#include <stdint.h>

#include <ktask.h>

#include "peer.h"

/* Any nonzero base works: the thread function only uses differences. */
#define KT_BASE ((uintptr_t)4096)

struct kt_range {
	bench_range_fn fn;
	void *arg;
};

static int kt_range_chunk(void *start, void *end, struct kt_range *r)
{
	r->fn((uintptr_t)start - KT_BASE, (uintptr_t)end - KT_BASE, r->arg);
	return KTASK_RETURN_SUCCESS;
}

static void kt_run(size_t n, size_t grain, bench_range_fn fn, void *arg)
{
	struct kt_range r = { fn, arg };
	DEFINE_KTASK_CTL(ctl, kt_range_chunk, &r, grain ? grain : 1);

	ktask_run((void *)KT_BASE, n, &ctl);
}

struct kt_list {
	bench_node_fn fn;
	void *arg;
};

/* The iterator: @size nodes on from @pos (NULL past the last node). */
static struct bench_node *kt_list_iter(struct bench_node *pos, size_t size)
{
	while (size-- && pos)
		pos = pos->next;
	return pos;
}

static int kt_list_chunk(struct bench_node *start, struct bench_node *end,
			 struct kt_list *l)
{
	for (; start != end; start = start->next)
		l->fn(start, l->arg);
	return KTASK_RETURN_SUCCESS;
}

static void kt_run_list(struct bench_node *head, size_t n, size_t grain,
			bench_node_fn fn, void *arg)
{
	struct kt_list l = { fn, arg };
	DEFINE_KTASK_CTL(ctl, kt_list_chunk, &l, grain ? grain : 1);

	ktask_ctl_set_iter_func(&ctl, kt_list_iter);
	ktask_run(head, n, &ctl);
}

const struct bench_peer bench_peer_ktask = {
	.name = "ktask",
	.run = kt_run,
	.run_list = kt_run_list,
};
