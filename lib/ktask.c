// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ktask.c - the ktask core: check a task, decide threads and chunks, hand
 * out chunks, stop on the first error and undo what completed.
 *
 * This file is compiled unchanged into libktask and into ktask.ko.  It asks
 * its home (lib/platform.h) for helpers and CPU facts and does everything
 * else itself, so the userland tests exercise the code the kernel runs.
 *
 * A task runs like this.  The caller checks the arguments, picks a thread
 * count and a chunk size, asks the home for helpers and then claims chunks
 * itself like any helper.  Range tasks (the default iterator) claim with a
 * compare-and-swap on the node's claimed count; other iterators must be
 * called one at a time, so their tasks claim under kt_lock.  A thread whose
 * chunk fails records the chunk in its work item and stops; the first error
 * is kept.  Once every helper has stopped, the caller undoes the claimed
 * part of each node minus the failed chunks.  Every claimed chunk is run by
 * its claimer, so claimed minus failed is exactly what completed.
 */
#include "ktask_core.h"

#ifndef KTASK_SERIAL
#define KTASK_SERIAL 0
#endif

struct ktask_chunk {
	size_t kch_node;
	size_t kch_offset;
	size_t kch_size;
	void *kch_start;
	void *kch_end;
};

/*
 * Positions of a range task need not point into one object (an index cast
 * to a pointer is one), so they are added as integers: pointer arithmetic
 * past an object is undefined, and UBSan says so for huge offsets.
 */
static void *ktask_pos_add(void *position, size_t size)
{
	return (void *)((uintptr_t)position + size);
}

KTASK_PUBLIC void *ktask_iter_range(void *position, size_t size)
{
	return ktask_pos_add(position, size);
}
KTASK_EXPORT(ktask_iter_range);

static size_t ktask_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/*
 * Rejects bad arguments before anything runs and sums the task's size.
 */
static int ktask_check(const struct ktask_node *nodes, size_t nr_nodes,
		       const struct ktask_ctl *ctl, size_t *total)
{
	bool range;
	size_t i;

	if (!ctl || !ctl->kc_thread_func || !ctl->kc_min_chunk_size ||
	    (ctl->kc_flags & ~KTASK_FLAGS_ALL))
		return -EINVAL;
	if (nr_nodes && !nodes)
		return -EINVAL;
	/* No array of that many nodes fits in the address space. */
	if (nr_nodes > (size_t)-1 / sizeof(*nodes))
		return -EINVAL;

	range = !ctl->kc_iter_func || ctl->kc_iter_func == ktask_iter_range;
	*total = 0;
	for (i = 0; i < nr_nodes; i++) {
		const struct ktask_node *kn = &nodes[i];
		uintptr_t start = (uintptr_t)kn->kn_start;

		if (kn->kn_nid != NUMA_NO_NODE &&
		    !ktask_plat_node_valid(kn->kn_nid))
			return -EINVAL;
		if (range && start + kn->kn_task_size < start)
			return -EINVAL;
		if (*total + kn->kn_task_size < *total)
			return -EINVAL;
		*total += kn->kn_task_size;
	}
	return 0;
}

/*
 * The largest chunk: about a quarter of a thread's share, as in the series,
 * so that a thread that finishes early takes work from the rest; a multiple
 * of the minimum chunk and never below it.  Chunks near the end of a node
 * are smaller (ktask_next_chunk()).  Only for two threads or more: one
 * thread runs each node as one chunk.
 */
static size_t ktask_chunk_size(size_t total, size_t min_chunk,
			       size_t nr_threads)
{
	size_t chunk = (total / nr_threads) >> 2;

	chunk -= chunk % min_chunk;
	return chunk < min_chunk ? min_chunk : chunk;
}

/* Calls the undo function on @size units from @pos; returns the end. */
static void *ktask_undo_span(const struct ktask_ctl *ctl, ktask_iter_func iter,
			     void *pos, size_t size)
{
	void *end;

	if (!size)
		return pos;
	end = iter(pos, size);
	ctl->kc_undo_func(pos, end, ctl->kc_func_arg);
	return end;
}

/*
 * One thread, one chunk per node, in the caller: no lock, no allocation.
 * A failure undoes the nodes before it, unless this is the serial build,
 * which like the series' CONFIG_KTASK=n never undoes.
 */
static int ktask_run_inline(struct ktask_node *nodes, size_t nr_nodes,
			    const struct ktask_ctl *ctl, ktask_iter_func iter)
{
	size_t i, j;
	int err;

	for (i = 0; i < nr_nodes; i++) {
		struct ktask_node *kn = &nodes[i];

		if (!kn->kn_task_size)
			continue;
		err = ctl->kc_thread_func(kn->kn_start,
					  iter(kn->kn_start, kn->kn_task_size),
					  ctl->kc_func_arg);
		if (err == KTASK_RETURN_SUCCESS)
			continue;
		if (ctl->kc_undo_func && !KTASK_SERIAL)
			for (j = 0; j < i; j++)
				ktask_undo_span(ctl, iter, nodes[j].kn_start,
						nodes[j].kn_task_size);
		return err;
	}
	return KTASK_RETURN_SUCCESS;
}

/*
 * The size of the next chunk of a node with @left units unclaimed.  Chunks
 * shrink as the node drains: at most kt_chunk_size (about a quarter of a
 * thread's share of the task), and from the point where fewer than two
 * such chunks per thread are left (about half the task), half a thread's
 * share of what is left, so the last chunks are short and no thread is
 * left with a long one at the end while the others idle.  The first half
 * keeps the series' chunks: streaming work (memset) slows down in small
 * pieces.  Always a multiple of the minimum
 * chunk and never below it, except the node's last chunk, which takes what
 * is left.
 */
static size_t ktask_next_chunk(const struct ktask_task *task, size_t left)
{
	size_t chunk = left / task->kt_guide;

	chunk -= chunk % task->kt_min_chunk;
	if (chunk < task->kt_min_chunk)
		chunk = task->kt_min_chunk;
	if (chunk > task->kt_chunk_size)
		chunk = task->kt_chunk_size;
	return ktask_min(chunk, left);
}

/*
 * Claims a chunk of a range task without a lock.  The claimed count only
 * grows, one compare-and-swap per chunk, so the chunks of a node are handed
 * out in order and what was claimed is always [0, kn_claimed).
 */
static bool ktask_claim_range(struct ktask_task *task, size_t node,
			      struct ktask_chunk *ch)
{
	struct ktask_node *kn = &task->kt_nodes[node];
	size_t claimed = ktask_load_relaxed(&kn->kn_claimed);

	do {
		if (claimed >= kn->kn_task_size)
			return false;
		ch->kch_size = ktask_next_chunk(task,
						kn->kn_task_size - claimed);
		ktask_plat_debug_delay(KTASK_DELAY_CLAIM);
	} while (!ktask_cas(&kn->kn_claimed, &claimed,
			    claimed + ch->kch_size));

	ch->kch_offset = claimed;
	ch->kch_start = ktask_pos_add(kn->kn_start, claimed);
	ch->kch_end = ktask_pos_add(ch->kch_start, ch->kch_size);
	return true;
}

/* Claims a chunk of an iterator task; the caller holds kt_lock. */
static bool ktask_claim_locked(struct ktask_task *task, size_t node,
			       struct ktask_chunk *ch)
{
	struct ktask_node *kn = &task->kt_nodes[node];

	if (kn->kn_claimed >= kn->kn_task_size)
		return false;
	ch->kch_size = ktask_next_chunk(task, kn->kn_task_size - kn->kn_claimed);
	ch->kch_offset = kn->kn_claimed;
	ch->kch_start = kn->kn_position;
	ch->kch_end = task->kt_iter(kn->kn_position, ch->kch_size);
	kn->kn_position = ch->kch_end;
	kn->kn_claimed += ch->kch_size;
	return true;
}

/*
 * Finds the next chunk, starting at node *@node and moving on to the next
 * node with work left when that one is done.  Returns false when the task
 * is finished or has failed.
 */
static bool ktask_claim(struct ktask_task *task, size_t *node,
			struct ktask_chunk *ch)
{
	size_t tries, n = *node;
	bool found = false;

	if (task->kt_locked)
		ktask_lock(&task->kt_lock);
	/* Relaxed: a stale 0 only lets one more chunk run, and it is undone. */
	if (ktask_load_relaxed(&task->kt_error))
		goto out;
	for (tries = 0; tries < task->kt_nr_nodes; tries++) {
		found = task->kt_locked ? ktask_claim_locked(task, n, ch) :
					  ktask_claim_range(task, n, ch);
		if (found)
			break;
		if (++n == task->kt_nr_nodes)
			n = 0;
	}
	*node = ch->kch_node = n;
out:
	if (task->kt_locked)
		ktask_unlock(&task->kt_lock);
	return found;
}

/*
 * Records that @kw's chunk @ch failed with @err.  The first error wins.
 * Iterator tasks set it under kt_lock, so that no chunk is claimed after
 * it; range tasks may start at most one more chunk per thread.
 */
static void ktask_fail(struct ktask_work *kw, const struct ktask_chunk *ch,
		       int err)
{
	struct ktask_task *task = kw->kw_task;
	struct ktask_work *head;
	int none = 0;

	kw->kw_fail_node = ch->kch_node;
	kw->kw_fail_offset = ch->kch_offset;
	kw->kw_fail_size = ch->kch_size;

	if (task->kt_locked)
		ktask_lock(&task->kt_lock);
	ktask_cas(&task->kt_error, &none, err);
	if (task->kt_locked)
		ktask_unlock(&task->kt_lock);
	ktask_plat_debug_delay(KTASK_DELAY_FAIL);

	/*
	 * Push onto the failed list.  Only pushes happen until every helper
	 * has stopped; the caller reads the list after waiting for them.
	 */
	head = ktask_load_relaxed(&task->kt_failed);
	do {
		kw->kw_next_failed = head;
	} while (!ktask_cas(&task->kt_failed, &head, kw));
}

/*
 * Runs chunks until none is left.  A helper that moves on to a part of
 * another node asks its home to move it there first
 * (ktask_plat_work_node()), so that each part's chunks run on that part's
 * node; the caller runs where it is, as in the series.
 */
void ktask_work_run(struct ktask_work *kw)
{
	struct ktask_task *task = kw->kw_task;
	const struct ktask_ctl *ctl = task->kt_ctl;
	size_t node = kw->kw_first_node;
	bool helper = kw != &task->kt_caller_work;
	int nid = task->kt_nodes[node].kn_nid, part_nid;
	struct ktask_chunk ch;
	int err;

	while (ktask_claim(task, &node, &ch)) {
		part_nid = task->kt_nodes[ch.kch_node].kn_nid;
		if (ktask_unlikely(part_nid != nid) && helper) {
			nid = part_nid;
			ktask_plat_work_node(kw, nid);
		}
		err = ktask_plat_call_chunk(kw, helper, ctl, ch.kch_start,
					    ch.kch_end);
		ktask_plat_debug_delay(KTASK_DELAY_CHUNK_DONE);
		if (err != KTASK_RETURN_SUCCESS) {
			ktask_fail(kw, &ch, err);
			return;
		}
	}
}

void ktask_work_init(struct ktask_task *task, struct ktask_work *kw,
		     size_t node)
{
	kw->kw_task = task;
	kw->kw_first_node = node;
	kw->kw_next_failed = NULL;
}

/* Sorts the failed works by node, then by offset (few: one per thread). */
static struct ktask_work *ktask_sort_failed(struct ktask_work *list)
{
	struct ktask_work *sorted = NULL, *kw, **pp;

	while (list) {
		kw = list;
		list = list->kw_next_failed;
		for (pp = &sorted; *pp; pp = &(*pp)->kw_next_failed)
			if ((*pp)->kw_fail_node > kw->kw_fail_node ||
			    ((*pp)->kw_fail_node == kw->kw_fail_node &&
			     (*pp)->kw_fail_offset > kw->kw_fail_offset))
				break;
		kw->kw_next_failed = *pp;
		*pp = kw;
	}
	return sorted;
}

/*
 * Undoes every completed range, node by node in array order and ascending
 * within a node, merging neighbouring chunks and skipping the failed ones.
 * Runs in the caller after every helper stopped.
 */
static void ktask_undo(struct ktask_task *task)
{
	const struct ktask_ctl *ctl = task->kt_ctl;
	struct ktask_work *failed;
	size_t i;

	/* Kept sorted on the task: the home walks it in ktask_plat_task_done(). */
	failed = task->kt_failed = ktask_sort_failed(task->kt_failed);

	for (i = 0; i < task->kt_nr_nodes; i++) {
		struct ktask_node *kn = &task->kt_nodes[i];
		void *pos = kn->kn_start;
		size_t done = 0;

		for (; failed && failed->kw_fail_node == i;
		     failed = failed->kw_next_failed) {
			pos = ktask_undo_span(ctl, task->kt_iter, pos,
					      failed->kw_fail_offset - done);
			pos = task->kt_iter(pos, failed->kw_fail_size);
			done = failed->kw_fail_offset + failed->kw_fail_size;
		}
		ktask_undo_span(ctl, task->kt_iter, pos, kn->kn_claimed - done);
	}
}

/*
 * The node the caller starts on: the one on its own NUMA node if there is
 * one, else the first with work.
 */
static size_t ktask_caller_node(const struct ktask_task *task)
{
	int nid = ktask_plat_current_node();
	size_t i, first = task->kt_nr_nodes;

	for (i = 0; i < task->kt_nr_nodes; i++) {
		if (!task->kt_nodes[i].kn_task_size)
			continue;
		if (task->kt_nodes[i].kn_nid == nid && nid != NUMA_NO_NODE)
			return i;
		if (first == task->kt_nr_nodes)
			first = i;
	}
	return first;
}

/* Node @i's share of the threads; see ktask_start_helpers(). */
static size_t ktask_node_share(const struct ktask_task *task, size_t i,
			       size_t unit, size_t left, size_t busy,
			       size_t *rank)
{
	size_t size = task->kt_nodes[i].kn_task_size;

	if (!size)
		return 0;
	return size / unit + left / busy + ((*rank)++ < left % busy);
}

/*
 * Starts helpers node by node and returns how many started.  Each node gets
 * its share of the threads, rounded down, and the threads left over go one
 * each to the nodes with work, in array order.  unit is rounded up, so the
 * shares never add up to more than the threads.  The caller counts as one
 * of its own node's threads or, when that node's share is none, as one of
 * the last node's that has a share: never as a thread more.
 */
static size_t ktask_start_helpers(struct ktask_task *task,
				  const struct ktask_stats *stats)
{
	size_t threads = stats->ks_threads;
	size_t unit = stats->ks_total_size / threads +
		      !!(stats->ks_total_size % threads);
	size_t caller = task->kt_caller_work.kw_first_node;
	size_t i, n, given = 0, busy = 0, left, rank = 0, got = 0;
	size_t counted = task->kt_nr_nodes, last = task->kt_nr_nodes;

	for (i = 0; i < task->kt_nr_nodes; i++) {
		given += task->kt_nodes[i].kn_task_size / unit;
		busy += task->kt_nodes[i].kn_task_size != 0;
	}
	left = threads - given;
	/* Where the caller counts: its node, else the last with a share. */
	for (i = 0; i < task->kt_nr_nodes; i++) {
		if (!ktask_node_share(task, i, unit, left, busy, &rank))
			continue;
		last = i;
		if (i == caller)
			counted = i;
	}
	if (counted == task->kt_nr_nodes)
		counted = last;
	rank = 0;
	for (i = 0; i < task->kt_nr_nodes; i++) {
		n = ktask_node_share(task, i, unit, left, busy, &rank);
		if (i == counted && n)
			n--;
		if (n)
			got += ktask_plat_start_helpers(task, i, n);
	}
	return got;
}

/*
 * Runs a task on the caller and up to ks_threads - 1 helpers; the first
 * @done units of the first node, up to @pos, are done already (a task
 * that its caller began alone, ktask_run_alone()), and on a failure they
 * are undone with the rest, in order.
 */
static int ktask_run_threads_from(struct ktask_node *nodes, size_t nr_nodes,
				  const struct ktask_ctl *ctl,
				  ktask_iter_func iter,
				  struct ktask_stats *stats, void *pos,
				  size_t done)
{
	struct ktask_task task KTASK_PLAT_TASK_ATTR;
	size_t i;
	int err;

	for (i = 0; i < nr_nodes; i++) {
		nodes[i].kn_position = nodes[i].kn_start;
		nodes[i].kn_claimed = 0;
	}
	if (done) {
		nodes[0].kn_position = pos;
		nodes[0].kn_claimed = done;
	}
	task.kt_nodes = nodes;
	task.kt_nr_nodes = nr_nodes;
	task.kt_ctl = ctl;
	task.kt_iter = iter;
	task.kt_chunk_size = stats->ks_chunk_size;
	task.kt_min_chunk = ctl->kc_min_chunk_size;
	task.kt_guide = 2 * stats->ks_threads;
	task.kt_locked = iter != ktask_iter_range;
	task.kt_error = 0;
	task.kt_failed = NULL;
	ktask_lock_init(&task.kt_lock);
	ktask_work_init(&task, &task.kt_caller_work, ktask_caller_node(&task));
	ktask_plat_task_init(&task);

	stats->ks_helpers = ktask_start_helpers(&task, stats);
	/*
	 * None free: the caller alone, with no chunking to pay for; but the
	 * rest of a task begun alone goes on from where it is, in chunks, so
	 * that an undo still covers the part done before.
	 */
	if (!stats->ks_helpers && !done) {
		ktask_plat_release_helpers(&task);
		ktask_plat_task_done(&task);
		ktask_lock_destroy(&task.kt_lock);
		stats->ks_chunk_size = stats->ks_total_size;
		ktask_plat_note(stats);
		return ktask_run_inline(nodes, nr_nodes, ctl, iter);
	}
	ktask_plat_note(stats);

	ktask_work_run(&task.kt_caller_work);
	ktask_plat_debug_delay(KTASK_DELAY_WAIT);
	ktask_plat_wait_helpers(&task);

	err = ktask_load_acquire(&task.kt_error);
	/* Helpers first: a task run by the undo function may then use them. */
	ktask_plat_release_helpers(&task);
	if (err && ctl->kc_undo_func)
		ktask_undo(&task);
	ktask_plat_task_done(&task);
	ktask_lock_destroy(&task.kt_lock);
	return err;
}

static int ktask_run_threads(struct ktask_node *nodes, size_t nr_nodes,
			     const struct ktask_ctl *ctl, ktask_iter_func iter,
			     struct ktask_stats *stats)
{
	return ktask_run_threads_from(nodes, nr_nodes, ctl, iter, stats,
				      NULL, 0);
}

/*
 * A task of one node that its caller runs faster alone, as the home timed
 * its earlier tasks of the kind (ktask_plat_alone()).  The kind says
 * nothing of this call's input, so the caller runs it in at most
 * KTASK_ALONE_PIECES pieces and asks between them whether the task, at
 * its pace so far, is a long one after all
 * (ktask_plat_alone_overdue()); then the rest gets helpers, and a call
 * of a short kind that happens to be long loses at most a piece.
 */
#define KTASK_ALONE_PIECES 8

static int ktask_run_alone(struct ktask_node *kn, const struct ktask_ctl *ctl,
			   ktask_iter_func iter, struct ktask_stats *stats)
{
	size_t total = kn->kn_task_size, left = total, min = ctl->kc_min_chunk_size;
	size_t piece = total / KTASK_ALONE_PIECES, n;
	struct ktask_stats alone = *stats;
	void *pos = kn->kn_start, *end;
	int err;

	piece -= piece % min;
	if (piece < stats->ks_chunk_size)
		piece = stats->ks_chunk_size;
	alone.ks_threads = 1;
	alone.ks_chunk_size = total;
	ktask_plat_note(&alone);
	for (;;) {
		n = ktask_min(piece, left);
		end = iter(pos, n);
		err = ctl->kc_thread_func(pos, end, ctl->kc_func_arg);
		if (err)
			break;
		pos = end;
		left -= n;
		if (!left)
			return KTASK_RETURN_SUCCESS;
		if (!ktask_plat_alone_overdue(total - left, total))
			continue;
		/*
		 * A long one: helpers for the rest, as planned for it; the
		 * task undoes what the caller did alone too, in order.
		 */
		stats->ks_threads = ktask_min(stats->ks_threads,
					      left / min + !!(left % min));
		if (stats->ks_threads < 2)
			continue;
		stats->ks_chunk_size = ktask_chunk_size(left, min,
							stats->ks_threads);
		return ktask_run_threads_from(kn, 1, ctl, iter, stats, pos,
					      total - left);
	}
	/* As with helpers: the pieces that completed are undone. */
	if (ctl->kc_undo_func)
		ktask_undo_span(ctl, iter, kn->kn_start, total - left);
	return err;
}

static int ktask_run_nodes(struct ktask_node *nodes, size_t nr_nodes,
			   struct ktask_ctl *ctl)
{
	struct ktask_stats stats = { 0 };
	ktask_iter_func iter;
	size_t limit;
	int err;

	ktask_might_sleep();
	err = ktask_check(nodes, nr_nodes, ctl, &stats.ks_total_size);
	if (err)
		return err;
	if (!stats.ks_total_size)
		return KTASK_RETURN_SUCCESS;
	iter = ctl->kc_iter_func ? ctl->kc_iter_func : ktask_iter_range;

	/* The thread count includes the caller.  Count chunks without overflow. */
	stats.ks_threads = stats.ks_total_size / ctl->kc_min_chunk_size +
			   !!(stats.ks_total_size % ctl->kc_min_chunk_size);
	if (stats.ks_threads > 1 && !KTASK_SERIAL) {
		limit = stats.ks_max_threads =
			ktask_plat_max_threads(nodes, nr_nodes);
		if (ctl->kc_max_threads && ctl->kc_max_threads < limit)
			limit = ctl->kc_max_threads;
		stats.ks_threads = ktask_min(stats.ks_threads, limit);
	}
	if (stats.ks_threads <= 1 || KTASK_SERIAL) {
		stats.ks_threads = 1;
		stats.ks_chunk_size = stats.ks_total_size;
		ktask_plat_note(&stats);
		return ktask_run_inline(nodes, nr_nodes, ctl, iter);
	}
	stats.ks_chunk_size = ktask_chunk_size(stats.ks_total_size,
					       ctl->kc_min_chunk_size,
					       stats.ks_threads);
	if (ktask_plat_alone(nodes, nr_nodes, ctl))
		return ktask_run_alone(nodes, ctl, iter, &stats);
	return ktask_run_threads(nodes, nr_nodes, ctl, iter, &stats);
}

KTASK_PUBLIC int ktask_run_numa(struct ktask_node *nodes, size_t nr_nodes,
				struct ktask_ctl *ctl)
{
	int err;

	/*
	 * A task of one part and at most one minimum chunk is one plain call
	 * of the thread function, with nothing of ktask's around it that a
	 * cancellation could leave behind: no need to pay for the hooks.
	 */
	if (nr_nodes == 1 && nodes && ctl && ctl->kc_min_chunk_size &&
	    nodes->kn_task_size <= ctl->kc_min_chunk_size)
		return ktask_run_nodes(nodes, nr_nodes, ctl);
	{
		struct ktask_plat_call call KTASK_PLAT_CALL_ATTR;

		ktask_plat_call_begin(&call);
		err = ktask_run_nodes(nodes, nr_nodes, ctl);
		ktask_plat_call_end(&call);
	}
	return err;
}
KTASK_EXPORT(ktask_run_numa);

KTASK_PUBLIC int ktask_run(void *start, size_t task_size,
			   struct ktask_ctl *ctl)
{
	struct ktask_node node = {
		.kn_start = start,
		.kn_task_size = task_size,
		.kn_nid = NUMA_NO_NODE,
	};

	/* Big enough for helpers: run them on the caller's node. */
	if (ctl && ctl->kc_min_chunk_size && task_size > ctl->kc_min_chunk_size)
		node.kn_nid = ktask_plat_current_node();

	return ktask_run_numa(&node, 1, ctl);
}
KTASK_EXPORT(ktask_run);
