// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * task.c - the random tasks of ktask-torture and their serial reference.
 *
 * A task's units are indexes into its caller's buffers.  A range task's
 * positions are bytes of tc_base; a list task's are items of tc_items,
 * linked in a random order, where a unit is an item's rank in the list.
 * The thread function writes a value that depends only on the task's seed
 * and the unit (what a serial loop would write) and counts the unit done;
 * the undo function takes the value back and counts the unit undone.  A
 * chunk that reaches a failing unit cleans up its own part and returns
 * the unit's error.  Nested tasks do each chunk with an inner ktask_run()
 * whose undo is that cleanup.
 *
 * After the task the buffers must say: on success, every unit done exactly
 * once with the serial value and nothing undone; on failure, an error one
 * of the chunks returned, no unit done twice, no failing unit done, and
 * exactly the completed units undone (if there was an undo function), in
 * ascending merged ranges node by node, on the caller's thread.
 */
#include "torture.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What one run of a task shares with its thread, undo and iterator. */
struct tt_run {
	struct tt_caller *c;
	const struct tt_task *t;
	unsigned int errors_returned;	/* [A] bit k: fail_err[k] returned */
	int in_iter;			/* [A] iterators running now */
	int iter_overlap;		/* [A] times two ran at once */
	/* A fork from a chunk on the caller (fork_in_chunk). */
	pid_t child;			/* [O] its pid; -1 in the child */
	int child_fd;			/* [O] its report pipe */
	/* Undo checks; undo runs only on the caller. */
	int undo_calls;
	size_t undo_node, undo_end;
	bool undo_bad_order, undo_off_caller, undo_not_done;
	int persona_bad;		/* [A] a chunk not run as its caller */
};

int tt_caller_alloc(struct tt_caller *c)
{
	size_t n = tt_opt.max_units + 1;

	c->tc_base = calloc(n, 1);
	c->tc_items = calloc(n, sizeof(*c->tc_items));
	c->tc_done = calloc(n, sizeof(*c->tc_done));
	c->tc_undone = calloc(n, sizeof(*c->tc_undone));
	c->tc_order = calloc(n, sizeof(*c->tc_order));
	c->tc_data = calloc(n, sizeof(*c->tc_data));
	pthread_mutex_init(&c->tc_lock, NULL);
	if (!c->tc_base || !c->tc_items || !c->tc_done || !c->tc_undone ||
	    !c->tc_order || !c->tc_data)
		return -ENOMEM;
	return 0;
}

void tt_caller_free(struct tt_caller *c)
{
	free(c->tc_base);
	free(c->tc_items);
	free(c->tc_done);
	free(c->tc_undone);
	free(c->tc_order);
	free(c->tc_data);
	pthread_mutex_destroy(&c->tc_lock);
}

/* The value a serial loop writes for @unit. */
static uint32_t tt_mix(unsigned int seed, size_t unit)
{
	uint32_t x = seed * 0x9e3779b1u ^ (uint32_t)unit * 0x85ebca6bu;

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return x | 1;	/* never 0, the value of an undone unit */
}

/* A random number on whatever thread runs a chunk. */
static unsigned int tt_thread_rnd(unsigned int n)
{
	static __thread unsigned int seed;

	if (!seed)
		seed = (unsigned int)tt_gettid() * 2654435761u + 1;
	return tt_rnd(&seed, n);
}

static size_t tt_unit_of(struct tt_run *r, void *pos)
{
	if (r->t->list)
		return pos ? ((struct tt_item *)pos)->rank : r->t->size;
	return (size_t)((unsigned char *)pos - r->c->tc_base);
}

static void *tt_position(struct tt_caller *c, const struct tt_task *t,
			 size_t unit)
{
	if (t->list)
		return unit < t->size ? &c->tc_items[c->tc_order[unit]] : NULL;
	return c->tc_base + unit;
}

static int tt_fail_index(const struct tt_task *t, size_t unit)
{
	for (size_t k = 0; k < t->nr_fails; k++)
		if (t->fail_unit[k] == unit)
			return (int)k;
	return -1;
}

/* Takes back units [lo, hi) of a chunk: its own cleanup, or inner undo. */
static void tt_cleanup_units(struct tt_run *r, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		r->c->tc_data[i] = 0;
		__atomic_fetch_sub(&r->c->tc_done[i], 1, __ATOMIC_RELAXED);
	}
}

/* A chunk never returns: the watchdog's self-test. */
static void tt_hang_forever(void)
{
	for (;;)
		sleep(1);
}

/*
 * fork_in_chunk: the caller forks from its first chunk, while a helper may
 * be inside the (slowed) iterator under the task's lock.  The child goes
 * on with the task, which must return there too (tt_run_task()).
 */
static void tt_chunk_fork(struct tt_run *r)
{
	int fds[2];
	pid_t pid;

	if (r->child || tt_gettid() != r->c->tc_tid || !tt_fork_claim() ||
	    pipe(fds))
		return;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		alarm((unsigned int)tt_opt.stall + 5);
		r->child = -1;
		r->child_fd = fds[1];
		return;
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return;
	}
	r->child = pid;
	r->child_fd = fds[0];
}

/* cancel: the victim's chunks reach cancellation points (cancel.c). */
static void tt_chunk_cancel_point(struct tt_run *r)
{
	if (tt_gettid() != r->c->tc_tid)
		return;
	__atomic_store_n(&r->c->tc_victim_in_chunk, 1, __ATOMIC_RELEASE);
	pthread_testcancel();
}

static int tt_leaf(void *start, void *end, struct tt_run *r)
{
	const struct tt_task *t = r->t;
	size_t lo = tt_unit_of(r, start), hi = tt_unit_of(r, end), i;
	int k;

	__atomic_fetch_add(&r->c->tc_progress, 1, __ATOMIC_RELAXED);
	if (t->fork_in_chunk)
		tt_chunk_fork(r);
	if (t->cancel)
		tt_chunk_cancel_point(r);
	if (t->slow && tt_thread_rnd(4) == 0)
		sched_yield();
	if (t->hang && lo == 0)
		tt_hang_forever();
	if (tt_opt.personas && !tt_persona_check(r->c))
		__atomic_store_n(&r->persona_bad, 1, __ATOMIC_RELAXED);
	for (i = lo; i < hi; i++) {
		k = tt_fail_index(t, i);
		if (k >= 0) {
			tt_cleanup_units(r, lo, i);
			__atomic_fetch_or(&r->errors_returned, 1u << k,
					  __ATOMIC_RELAXED);
			return t->fail_err[k];
		}
		r->c->tc_data[i] = tt_mix(t->seed, i);
		__atomic_fetch_add(&r->c->tc_done[i], 1, __ATOMIC_RELAXED);
	}
	return KTASK_RETURN_SUCCESS;
}

static void tt_inner_undo(void *start, void *end, struct tt_run *r)
{
	tt_cleanup_units(r, tt_unit_of(r, start), tt_unit_of(r, end));
}

static struct tt_item *tt_list_iter(struct tt_item *pos, size_t n);

/* A chunk of a nested task: an inner task over the chunk. */
static int tt_outer(void *start, void *end, struct tt_run *r)
{
	size_t n = tt_unit_of(r, end) - tt_unit_of(r, start);
	DEFINE_KTASK_CTL(inner, tt_leaf, r, 1 + tt_thread_rnd(16));

	ktask_ctl_set_undo_func(&inner, tt_inner_undo);
	ktask_ctl_set_max_threads(&inner, tt_thread_rnd(4));
	if (r->t->list)
		ktask_ctl_set_iter_func(&inner, tt_list_iter);
	return ktask_run(start, n, &inner);
}

static size_t tt_node_of(const struct tt_task *t, size_t unit)
{
	size_t k = 0;

	while (k + 1 < t->nr_nodes && unit >= t->node_off[k + 1])
		k++;
	return k;
}

static void tt_undo(void *start, void *end, struct tt_run *r)
{
	size_t lo = tt_unit_of(r, start), hi = tt_unit_of(r, end);
	size_t node = tt_node_of(r->t, lo);
	struct tt_caller *c = r->c;

	if (tt_gettid() != c->tc_tid)
		r->undo_off_caller = true;
	/* Node by node; ascending and merged (never touching) in a node. */
	if (r->undo_calls && (node < r->undo_node ||
			      (node == r->undo_node && lo <= r->undo_end)))
		r->undo_bad_order = true;
	if (hi <= lo || tt_node_of(r->t, hi - 1) != node)
		r->undo_bad_order = true;
	r->undo_node = node;
	r->undo_end = hi;
	r->undo_calls++;
	for (size_t i = lo; i < hi; i++) {
		if (__atomic_load_n(&c->tc_done[i], __ATOMIC_RELAXED) != 1)
			r->undo_not_done = true;
		c->tc_undone[i]++;
		c->tc_data[i] = 0;
	}
}

/* The list iterator. */
static struct tt_item *tt_list_iter(struct tt_item *pos, size_t n)
{
	while (n--)
		pos = pos->next;
	return pos;
}

/*
 * The same walk, for tasks that are not nested: ktask must call it under
 * the task's lock, so two walks never overlap.  Counts the times they do.
 */
static struct tt_item *tt_list_iter_checked(struct tt_item *pos, size_t n)
{
	struct tt_run *r = pos->run;

	if (__atomic_fetch_add(&r->in_iter, 1, __ATOMIC_RELAXED))
		__atomic_fetch_add(&r->iter_overlap, 1, __ATOMIC_RELAXED);
	/* A fork may come now: hold the task's lock a little longer. */
	if (r->t->fork_in_chunk && tt_gettid() != r->c->tc_tid)
		sched_yield();
	pos = tt_list_iter(pos, n);
	__atomic_fetch_sub(&r->in_iter, 1, __ATOMIC_RELAXED);
	return pos;
}

/* Links the caller's items in a random order: rank r is tc_order[r]. */
static void tt_build_list(struct tt_caller *c, const struct tt_task *t,
			  struct tt_run *r)
{
	unsigned int rng = t->seed;
	size_t i, j, tmp;

	for (i = 0; i < t->size; i++)
		c->tc_order[i] = i;
	for (i = t->size; i > 1; i--) {
		j = tt_rnd(&rng, (unsigned int)i);
		tmp = c->tc_order[i - 1];
		c->tc_order[i - 1] = c->tc_order[j];
		c->tc_order[j] = tmp;
	}
	for (i = 0; i < t->size; i++) {
		struct tt_item *it = &c->tc_items[c->tc_order[i]];

		it->rank = i;
		it->run = r;
		it->next = i + 1 < t->size ? &c->tc_items[c->tc_order[i + 1]] :
					     NULL;
	}
}

/* What success must look like: the serial loop's result. */
static const char *tt_check_success(struct tt_run *r, int ret)
{
	struct tt_caller *c = r->c;

	if (ret)
		return "failed although no chunk failed";
	for (size_t i = 0; i < r->t->size; i++) {
		if (c->tc_done[i] != 1)
			return "a unit was not done exactly once";
		if (c->tc_data[i] != tt_mix(r->t->seed, i))
			return "a unit's value differs from the serial one";
	}
	return r->undo_calls ? "undo without failure" : NULL;
}

/* What failure must look like: nothing done twice, completed undone. */
static const char *tt_check_failure(struct tt_run *r, int ret)
{
	const struct tt_task *t = r->t;
	struct tt_caller *c = r->c;
	size_t i;

	for (i = 0; i < t->nr_fails; i++)
		if ((r->errors_returned & (1u << i)) && t->fail_err[i] == ret)
			break;
	if (i == t->nr_fails)
		return "returned an error no chunk returned";
	for (i = 0; i < t->size; i++) {
		int done = c->tc_done[i], undone = c->tc_undone[i];

		if (done < 0 || done > 1)
			return "a unit was done twice (or cleaned up twice)";
		if (undone != (t->with_undo ? done : 0))
			return "undo did not cover exactly the completed units";
		if (c->tc_data[i] != (done && !undone ? tt_mix(t->seed, i) : 0))
			return "a unit's value is half done";
		if (tt_fail_index(t, i) >= 0 && done)
			return "a failing unit counts as done";
	}
	if (r->undo_not_done)
		return "undo of a unit that had not completed";
	if (r->undo_bad_order)
		return "undo ranges out of order or not merged";
	if (r->undo_off_caller)
		return "undo ran off the caller's thread";
	return NULL;
}

static int tt_call(struct tt_caller *c, const struct tt_task *t,
		   struct ktask_ctl *ctl)
{
	struct ktask_node nodes[TT_MAX_NODES];

	if (!t->numa_call)
		return ktask_run(tt_position(c, t, 0), t->size, ctl);
	memset(nodes, 0, sizeof(nodes));
	for (size_t k = 0; k < t->nr_nodes; k++) {
		nodes[k].kn_start = tt_position(c, t, t->node_off[k]);
		nodes[k].kn_task_size = t->node_off[k + 1] - t->node_off[k];
		nodes[k].kn_nid = t->nid[k];
	}
	return ktask_run_numa(nodes, t->nr_nodes, ctl);
}

/*
 * Runs @t and checks it against the serial reference.  Returns NULL if it
 * matched, else what went wrong; the return value in *@ret.  Whether
 * helpers joined goes to the caller's counts.
 */
const char *tt_run_task(struct tt_caller *c, const struct tt_task *t,
			int *ret)
{
	struct tt_run r = { .c = c, .t = t };
	ktask_thread_func fn = t->nested ? (ktask_thread_func)tt_outer :
					   (ktask_thread_func)tt_leaf;
	DEFINE_KTASK_CTL(ctl, fn, &r, t->min_chunk);
	struct ktask_stats st;

	memset(c->tc_done, 0, t->size * sizeof(*c->tc_done));
	memset(c->tc_undone, 0, t->size * sizeof(*c->tc_undone));
	memset(c->tc_data, 0, t->size * sizeof(*c->tc_data));
	if (t->list) {
		tt_build_list(c, t, &r);
		ktask_ctl_set_iter_func(&ctl, t->nested ? tt_list_iter :
							  tt_list_iter_checked);
	}
	if (t->with_undo)
		ktask_ctl_set_undo_func(&ctl, tt_undo);
	ktask_ctl_set_max_threads(&ctl, t->max_threads);
	ktask_ctl_set_flags(&ctl, t->flags);

	*ret = tt_call(c, t, &ctl);
	if (r.child < 0)	/* forked from a chunk: the task returned */
		tt_child(c, r.child_fd);
	if (t->cancel)		/* the checks below are no cancellation points */
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	if (r.child > 0) {
		c->tc_chunk_forks++;
		__atomic_fetch_add(&c->tc_forks, 1, __ATOMIC_RELAXED);
		if (!tt_reap(c, r.child, r.child_fd))
			return "a child forked from a chunk went wrong";
	}

	ktask_last_stats(&st);
	c->tc_helped += t->size && st.ks_helpers > 0;
	if (r.persona_bad)
		return "a chunk ran with another policy or seccomp filter "
		       "than its caller's";
	if (r.iter_overlap)
		return "two iterator calls of one task overlapped";
	return r.errors_returned ? tt_check_failure(&r, *ret) :
				   tt_check_success(&r, *ret);
}
