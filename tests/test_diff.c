// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_diff.c - randomized differential test of ktask against a serial
 * reference.
 *
 * Each round builds a random task: a byte range or a linked list, split
 * over one to three nodes, with a random size, minimum chunk and thread
 * limit, and sometimes failures injected at chosen units.  The serial
 * reference says what must hold afterwards: on success every unit done
 * exactly once and nothing undone; on failure the first error returned, no
 * failed unit done, and exactly the completed units undone, in ascending,
 * merged ranges, node by node, from the calling thread.
 *
 * usage: test_diff [rounds [seed]]     (default 10000 rounds, seed from time)
 */
#define KT_KEEP_TIMED_CHOICE	/* short tasks may run alone: same results */
#include "testutil.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>

#include <cmocka.h>

#include <ktask.h>

#define MAX_UNITS 4096
#define MAX_NODES 3
#define MAX_FAILS 3

struct item {
	struct item *next;
	size_t index;
};

struct round {
	/* The task. */
	bool list;
	size_t size;
	size_t nr_nodes;
	size_t node_off[MAX_NODES + 1];	/* node k is [off[k], off[k+1]) */
	size_t nr_fails;
	size_t fail_unit[MAX_FAILS];
	int fail_err[MAX_FAILS];
	bool jitter;

	/* What happened. */
	int done[MAX_UNITS];
	int undone[MAX_UNITS];
	unsigned int errors_returned;	/* bit k: fail_err[k] was returned */
	size_t undo_node, undo_end;
	int undo_calls;
	bool undo_bad_order;
	bool undo_off_caller;
	pid_t caller;
};

static unsigned char bytes[MAX_UNITS];
static struct item items[MAX_UNITS];
static unsigned int rng_state;

static unsigned int rnd(unsigned int n)
{
	return n ? (unsigned int)rand_r(&rng_state) % n : 0;
}

static struct item *list_iter(struct item *pos, size_t n)
{
	while (n--)
		pos = pos->next;
	return pos;
}

static size_t unit_of(struct round *r, void *pos)
{
	if (r->list)
		return pos ? ((struct item *)pos)->index : r->size;
	return (unsigned char *)pos - bytes;
}

static int fail_index(struct round *r, size_t unit)
{
	for (size_t k = 0; k < r->nr_fails; k++)
		if (r->fail_unit[k] == unit)
			return (int)k;
	return -1;
}

/*
 * Does a chunk unit by unit.  At a failing unit it takes back what it did
 * in this chunk (a chunk's own partial work is its own to clean up).
 */
static int chunk(void *start, void *end, struct round *r)
{
	size_t lo = unit_of(r, start), hi = unit_of(r, end), i;
	int k;

	if (r->jitter && rnd(4) == 0)
		sched_yield();
	for (i = lo; i < hi; i++) {
		k = fail_index(r, i);
		if (k >= 0) {
			while (i-- > lo)
				__atomic_fetch_sub(&r->done[i], 1,
						   __ATOMIC_RELAXED);
			__atomic_fetch_or(&r->errors_returned, 1u << k,
					  __ATOMIC_RELAXED);
			return r->fail_err[k];
		}
		__atomic_fetch_add(&r->done[i], 1, __ATOMIC_RELAXED);
	}
	return KTASK_RETURN_SUCCESS;
}

static size_t node_of(struct round *r, size_t unit)
{
	size_t k = 0;

	while (k + 1 < r->nr_nodes && unit >= r->node_off[k + 1])
		k++;
	return k;
}

static void undo(void *start, void *end, struct round *r)
{
	size_t lo = unit_of(r, start), hi = unit_of(r, end);
	size_t node = node_of(r, lo);

	if (kt_gettid() != r->caller)
		r->undo_off_caller = true;
	/* Node by node; within a node ascending and merged (never touching). */
	if (r->undo_calls && (node < r->undo_node ||
			      (node == r->undo_node && lo <= r->undo_end)))
		r->undo_bad_order = true;
	if (hi <= lo || node_of(r, hi - 1) != node)
		r->undo_bad_order = true;
	r->undo_node = node;
	r->undo_end = hi;
	r->undo_calls++;
	for (size_t i = lo; i < hi; i++)
		r->undone[i]++;
}

static void *position(struct round *r, size_t unit)
{
	if (r->list)
		return unit < r->size ? (void *)&items[unit] : NULL;
	return bytes + unit;
}

static void make_round(struct round *r)
{
	static const int errs[] = { -EIO, -ENOSPC, -ENOMEM, 7, -1, 1000 };

	memset(r, 0, sizeof(*r));
	r->list = rnd(2);
	/* Mostly small tasks, some near the limit, a few empty. */
	switch (rnd(4)) {
	case 0:
		r->size = rnd(16);
		break;
	case 1:
		r->size = rnd(256);
		break;
	default:
		r->size = rnd(MAX_UNITS + 1);
	}
	r->nr_nodes = 1 + rnd(MAX_NODES);
	r->node_off[0] = 0;
	for (size_t k = 1; k < r->nr_nodes; k++)
		r->node_off[k] = r->node_off[k - 1] +
				 rnd(r->size - r->node_off[k - 1] + 1);
	r->node_off[r->nr_nodes] = r->size;
	if (r->size && rnd(3) == 0) {
		r->nr_fails = 1 + rnd(MAX_FAILS);
		for (size_t k = 0; k < r->nr_fails; k++) {
			r->fail_unit[k] = rnd(r->size);
			r->fail_err[k] = errs[(k + rnd(6)) % 6];
		}
	}
	r->jitter = rnd(2);
	r->caller = kt_gettid();
	for (size_t i = 0; i < r->size; i++)
		items[i].next = i + 1 < r->size ? &items[i + 1] : NULL;
}

/* Checks a round against the serial reference; returns a reason or NULL. */
static const char *check_round(struct round *r, int ret, bool with_undo)
{
	size_t i;

	if (!r->errors_returned) {
		/* The serial reference: each unit once, in one pass. */
		if (ret)
			return "failed although no chunk failed";
		for (i = 0; i < r->size; i++)
			if (r->done[i] != 1)
				return "a unit was not done exactly once";
		return r->undo_calls ? "undo without failure" : NULL;
	}
	/* The returned error is one a chunk really returned. */
	for (i = 0; i < r->nr_fails; i++)
		if ((r->errors_returned & (1u << i)) && r->fail_err[i] == ret)
			break;
	if (i == r->nr_fails)
		return "returned an error no chunk returned";
	if (r->nr_fails == 1 && ret != r->fail_err[0])
		return "not the first error";
	for (i = 0; i < r->size; i++) {
		if (r->done[i] > 1 || r->done[i] < 0)
			return "a unit was done twice";
		if (r->undone[i] != (with_undo ? r->done[i] : 0))
			return "undo did not cover exactly the completed units";
		if (fail_index(r, i) >= 0 && r->done[i])
			return "a failed unit counts as done";
	}
	if (r->undo_bad_order)
		return "undo ranges out of order or not merged";
	if (r->undo_off_caller)
		return "undo ran off the caller's thread";
	return NULL;
}

static int run_round(struct round *r, struct ktask_ctl *ctl)
{
	struct ktask_node nodes[MAX_NODES];

	if (r->nr_nodes == 1 && rnd(2))
		return ktask_run(position(r, 0), r->size, ctl);
	for (size_t k = 0; k < r->nr_nodes; k++) {
		nodes[k].kn_start = position(r, r->node_off[k]);
		nodes[k].kn_task_size = r->node_off[k + 1] - r->node_off[k];
		nodes[k].kn_nid = rnd(2) ? NUMA_NO_NODE : 0;
	}
	return ktask_run_numa(nodes, r->nr_nodes, ctl);
}

static unsigned long rounds = 10000;
static unsigned int seed;

static void test_random_tasks(void **state)
{
	static struct round r;
	unsigned long failed = 0, with_errors = 0, threaded = 0;
	struct ktask_stats st;

	(void)state;
	rng_state = seed;
	for (size_t i = 0; i < MAX_UNITS; i++)
		items[i].index = i;
	for (unsigned long n = 0; n < rounds; n++) {
		DEFINE_KTASK_CTL(ctl, chunk, &r, 1);
		bool with_undo = rnd(5) != 0;
		const char *why;
		int ret;

		make_round(&r);
		ctl.kc_min_chunk_size = 1 + rnd(rnd(2) ? 8 : r.size + 8);
		ktask_ctl_set_max_threads(&ctl, rnd(5));
		if (r.list)
			ktask_ctl_set_iter_func(&ctl, list_iter);
		if (with_undo)
			ktask_ctl_set_undo_func(&ctl, undo);

		memset(&st, 0, sizeof(st));
		ret = run_round(&r, &ctl);
		ktask_last_stats(&st);
		threaded += r.size && st.ks_helpers > 0;
		with_errors += ret != 0;
		why = check_round(&r, ret, with_undo);
		if (why) {
			failed++;
			print_error("round %lu (seed %u): %s: %s size %zu "
				    "nodes %zu min_chunk %zu max_threads %zu "
				    "ret %d\n", n, seed, why,
				    r.list ? "list" : "range", r.size,
				    r.nr_nodes, ctl.kc_min_chunk_size,
				    ctl.kc_max_threads, ret);
		}
	}
	print_message("%lu random tasks (%lu with helpers, %lu failed on "
		      "purpose), seed %u: %lu mismatches\n", rounds, threaded,
		      with_errors, seed, failed);
	assert_int_equal(failed, 0);
	/* The test means little unless helpers really took part. */
	if (kt_usable_cpus() >= 2)
		assert_true(threaded > rounds / 4);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_tasks),
	};

	if (argc > 1)
		rounds = strtoul(argv[1], NULL, 0);
	seed = argc > 2 ? (unsigned int)strtoul(argv[2], NULL, 0) :
			  (unsigned int)time(NULL);
	return cmocka_run_group_tests_name("differential", tests, NULL, NULL);
}
