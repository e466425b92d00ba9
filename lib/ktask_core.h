/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ktask_core.h - the state of one running task, shared by the core and the
 * home that starts its helpers.
 *
 * Locking legend for the fields below:
 *   [C]  set by the caller before any helper starts, read-only afterwards
 *   [A]  changed only with atomics (see the comment at each use)
 *   [L]  guarded by kt_lock (iterator tasks only)
 *   [W]  owned by the thread running that work item
 */
#ifndef KTASK_CORE_H
#define KTASK_CORE_H

#include "platform.h"

/*
 * One thread's share of a task: the caller's lives in its struct ktask_task,
 * each helper's in the home's helper object.  It records the chunk this
 * thread failed on, if any, so that undo can skip it.
 */
struct ktask_work {
	struct ktask_task *kw_task;		/* [C] */
	size_t kw_first_node;			/* [C] node to claim from first */
	struct ktask_work *kw_next_failed;	/* [A] link in kt_failed */
	size_t kw_fail_node;			/* [W] where the failed chunk */
	size_t kw_fail_offset;			/* [W] starts, in units from */
	size_t kw_fail_size;			/*     kn_start, and its size */
};

struct ktask_task {
	struct ktask_node *kt_nodes;		/* [C] */
	size_t kt_nr_nodes;			/* [C] */
	const struct ktask_ctl *kt_ctl;		/* [C] */
	ktask_iter_func kt_iter;		/* [C] never NULL */
	size_t kt_chunk_size;			/* [C] the largest chunk */
	size_t kt_min_chunk;			/* [C] kc_min_chunk_size */
	size_t kt_guide;			/* [C] 2 x threads: see */
						/*     ktask_next_chunk() */
	bool kt_locked;				/* [C] claim under kt_lock */
	int kt_error;				/* [A] first error, 0 if none */
	struct ktask_work *kt_failed;		/* [A] works whose chunk failed */
	struct ktask_lock kt_lock;
	struct ktask_work kt_caller_work;	/* the caller's own share */
	struct ktask_plat_task kt_plat;		/* the home's per-task state */
};

/* Prepares a work item of @task that starts claiming at node @node. */
void ktask_work_init(struct ktask_task *task, struct ktask_work *kw,
		     size_t node);

/* Runs chunks of kw->kw_task until none is left or the task failed. */
void ktask_work_run(struct ktask_work *kw);

#endif /* KTASK_CORE_H */
