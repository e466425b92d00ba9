// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * make.c - builds the random tasks of ktask-torture and describes them.
 *
 * The mix leans towards small tasks, where the decisions (inline or not,
 * how many helpers, which node) change most from one task to the next,
 * with enough large ones that helpers join and chunks get balanced.  Node
 * ids are the ones ktask accepts, found by probing at start.
 */
#include "torture.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

static int tt_nids[TT_MAX_NIDS];
static unsigned int tt_nr_nids;

static int tt_noop(void *start, void *end, void *arg)
{
	(void)start;
	(void)end;
	(void)arg;
	return 0;
}

/* Finds the node ids ktask accepts: an empty part on each says. */
void tt_probe_nids(void)
{
	static char byte;
	DEFINE_KTASK_CTL(ctl, tt_noop, NULL, 1);
	int nid;

	for (nid = 0; nid < 64 && tt_nr_nids < TT_MAX_NIDS; nid++) {
		struct ktask_node kn = { &byte, 0, nid, NULL, 0 };

		if (ktask_run_numa(&kn, 1, &ctl) == 0)
			tt_nids[tt_nr_nids++] = nid;
	}
}

static const int tt_errors[] = {
	-EIO, -ENOSPC, -ENOMEM, -EINVAL, -1, 1, 7, INT_MIN, INT_MAX, -4095,
};

/* Sizes: a few empty, many small, some up to max_units. */
static size_t tt_random_size(unsigned int *rng)
{
	unsigned int max = (unsigned int)tt_opt.max_units;

	switch (tt_rnd(rng, 16)) {
	case 0:
		return 0;
	case 1: case 2: case 3: case 4:
		return tt_rnd(rng, 16 < max ? 16 : max + 1);
	case 5: case 6: case 7: case 8: case 9:
		return tt_rnd(rng, 300 < max ? 300 : max + 1);
	default:
		return tt_rnd(rng, max + 1);
	}
}

static size_t tt_random_max_threads(unsigned int *rng)
{
	static const size_t choice[] = { 0, 0, 0, 1, 2, 3, 4, 64, SIZE_MAX };

	return choice[tt_rnd(rng, sizeof(choice) / sizeof(choice[0]))];
}

static void tt_random_nodes(unsigned int *rng, struct tt_task *t)
{
	t->nr_nodes = 1 + tt_rnd(rng, TT_MAX_NODES);
	t->node_off[0] = 0;
	for (size_t k = 1; k < t->nr_nodes; k++)
		t->node_off[k] = t->node_off[k - 1] +
			tt_rnd(rng, (unsigned int)(t->size - t->node_off[k - 1] + 1));
	t->node_off[t->nr_nodes] = t->size;
	for (size_t k = 0; k < t->nr_nodes; k++)
		t->nid[k] = tt_nr_nids && tt_rnd(rng, 2) ?
			    tt_nids[tt_rnd(rng, tt_nr_nids)] : NUMA_NO_NODE;
	t->numa_call = t->nr_nodes > 1 || tt_rnd(rng, 2);
}

void tt_make_task(struct tt_caller *c, struct tt_task *t)
{
	unsigned int *rng = &c->tc_rng;
	size_t k;

	memset(t, 0, sizeof(*t));
	t->seed = tt_rnd(rng, UINT_MAX);
	t->size = tt_random_size(rng);
	t->list = tt_rnd(rng, 3) == 0;
	t->nested = tt_opt.nested && tt_rnd(rng, 8) == 0;
	tt_random_nodes(rng, t);
	switch (tt_rnd(rng, 3)) {
	case 0:
		t->min_chunk = 1 + tt_rnd(rng, 8);
		break;
	case 1:
		t->min_chunk = 1 + tt_rnd(rng, 256);
		break;
	default:
		t->min_chunk = 1 + tt_rnd(rng, (unsigned int)t->size + 8);
	}
	t->max_threads = tt_random_max_threads(rng);
	t->flags = tt_rnd(rng, 8) == 0 ? KTASK_BACKGROUND : 0;
	t->with_undo = tt_rnd(rng, 5) != 0;
	t->slow = tt_rnd(rng, 4) == 0;
	if (t->size && tt_rnd(rng, 3) == 0) {
		t->nr_fails = 1 + tt_rnd(rng, TT_MAX_FAILS);
		for (k = 0; k < t->nr_fails; k++) {
			t->fail_unit[k] = tt_rnd(rng, (unsigned int)t->size);
			t->fail_err[k] = tt_errors[tt_rnd(rng,
				sizeof(tt_errors) / sizeof(tt_errors[0]))];
		}
	}
	/* A list task's caller forks from a chunk; a task is cancelled. */
	t->fork_in_chunk = tt_opt.fork && t->list && !t->nested &&
			   tt_rnd(rng, 8) == 0;
	t->cancel = tt_opt.cancel && !t->fork_in_chunk && tt_rnd(rng, 32) == 0;
	/*
	 * A task of one part and at most one minimum chunk is a plain call of
	 * the thread function, whose cancellation points act (ktask(3),
	 * "Cancellation"): only other tasks are cancelled in a chunk.
	 */
	if (t->nr_nodes == 1 && t->size <= t->min_chunk)
		t->cancel = false;
	/* --hang: the third task of caller 0 never finishes. */
	if (tt_opt.hang && c->tc_id == 0 && c->tc_tasks == 2) {
		t->hang = true;
		t->size = t->size < 64 ? 64 : t->size;
		t->nr_fails = 0;
		t->nested = false;
		t->cancel = false;
		tt_random_nodes(rng, t);
	}
}

void tt_describe(const struct tt_task *t, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s %s size %zu, %zu nodes (",
			 t->nested ? "nested" : "flat",
			 t->list ? "list" : "range", t->size, t->nr_nodes);

	for (size_t k = 0; k < t->nr_nodes && n > 0 && (size_t)n < size; k++)
		n += snprintf(buf + n, size - n, "%s%zu@%d", k ? " " : "",
			      t->node_off[k + 1] - t->node_off[k], t->nid[k]);
	if (n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - n, "), min_chunk %zu, "
			      "max_threads %zu, flags %#x, undo %s, %s, %s",
			      t->min_chunk, t->max_threads, t->flags,
			      t->with_undo ? "yes" : "no",
			      t->numa_call ? "ktask_run_numa" : "ktask_run",
			      t->slow ? "slow" : "fast");
	for (size_t k = 0; k < t->nr_fails && n > 0 && (size_t)n < size; k++)
		n += snprintf(buf + n, size - n, ", unit %zu fails %d",
			      t->fail_unit[k], t->fail_err[k]);
	if (t->fork_in_chunk && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - n, ", forks from a chunk");
	if (t->cancel && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - n, ", caller cancelled");
	if (t->hang && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - n, ", hangs on purpose");
}

