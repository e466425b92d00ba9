// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * plat_kernel.c - the kernel home of the ktask core: helpers are work items
 * on an unbound workqueue, queued on the CPUs of the node they work for.
 *
 * Work items are allocated once, when the module loads, one per helper the
 * limits allow, so a task allocates nothing while it runs.  The limits are
 * the series': helpers (the callers are not counted) may use at most 80% of
 * the online CPUs in total and 80% of each node's CPUs, at least one each.
 * A task that finds them reached runs with fewer helpers, down to none,
 * and its caller does the work: nested and concurrent calls never wait for
 * a helper to become free, so they cannot deadlock on one.
 *
 * Helpers run their chunks at MAX_NICE, so they use CPUs that would be idle
 * and do not crowd out other work.  When the caller has run out of chunks
 * and starts to wait, it raises the helpers that are still running to its
 * own nice value, so the task is not held up behind lower-priority work.
 * The workqueue's own pool attributes (apply_workqueue_attrs()) are not
 * exported to modules, hence the per-item set_user_nice(); the worker's
 * nice value is restored before it goes back to its pool.
 *
 * Locking legend: [P] ktask_pool.lock, [T] the task's kpt_lock,
 * [O] the task that took the helper from the pool.
 * CPU hotplug is not followed: the limits are those at load time.
 */
#include <linux/cpumask.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/topology.h>
#include <linux/workqueue.h>

#include "../lib/ktask_core.h"

/* kpt_boost_nice while the caller has not started waiting. */
#define KTASK_NO_BOOST (MAX_NICE + 1)

static unsigned int max_threads;
module_param(max_threads, uint, 0644);
MODULE_PARM_DESC(max_threads,
		 "Default thread limit per task, caller included (0: online CPUs)");

struct ktask_helper {
	struct work_struct kh_work;
	struct ktask_work kh_kw;	/* [O] the core's record of this share */
	size_t kh_index;		/* [O] the part (kt_nodes index) it starts on */
	struct ktask_task *kh_task;	/* [O] */
	struct task_struct *kh_thread;	/* [T] worker running it, or NULL */
	int kh_nid;			/* [O] node it runs on and is charged to */
	struct ktask_helper *kh_next;	/* [P] free list, [O] task's list */
};

static struct {
	spinlock_t lock;
	struct ktask_helper *free;	/* [P] */
	unsigned int nr_busy;		/* [P] helpers taken by tasks */
	unsigned int max_busy;		/* set at load */
	unsigned int *node_busy;	/* [P] per node */
	unsigned int *node_max;		/* set at load */
	struct ktask_helper *helpers;	/* every helper, max_busy of them */
	struct workqueue_struct *wq;
} ktask_pool = {
	.lock = __SPIN_LOCK_UNLOCKED(ktask_pool.lock),
};

/*
 * The module parameter, or the online CPUs of the nodes the task names
 * (every online CPU when a part may run anywhere).
 */
size_t ktask_plat_max_threads(const struct ktask_node *nodes, size_t nr_nodes)
{
	unsigned int limit = READ_ONCE(max_threads), cpus = 0;
	nodemask_t seen = NODE_MASK_NONE;
	size_t i;

	if (limit)
		return limit;
	for (i = 0; i < nr_nodes; i++) {
		int nid = nodes[i].kn_nid;

		if (!nodes[i].kn_task_size)
			continue;
		if (nid == NUMA_NO_NODE)
			return num_online_cpus();
		if (!node_isset(nid, seen)) {
			node_set(nid, seen);
			cpus += nr_cpus_node(nid);
		}
	}
	return cpus ? cpus : num_online_cpus();
}

bool ktask_plat_node_valid(int nid)
{
	return nid >= 0 && nid < nr_node_ids && node_online(nid);
}

int ktask_plat_current_node(void)
{
	return num_online_nodes() > 1 ? numa_node_id() : NUMA_NO_NODE;
}

void ktask_plat_note(const struct ktask_stats *stats)
{
	pr_debug("ktask: %zu units, %zu threads (%zu helpers), chunk %zu\n",
		 stats->ks_total_size, stats->ks_threads, stats->ks_helpers,
		 stats->ks_chunk_size);
}

static void ktask_helper_func(struct work_struct *work)
{
	struct ktask_helper *h = container_of(work, struct ktask_helper,
					      kh_work);
	struct ktask_plat_task *pt = &h->kh_task->kt_plat;
	int pool_nice = task_nice(current);

	/* Under kpt_lock, so that a caller's boost is not undone by this. */
	spin_lock(&pt->kpt_lock);
	h->kh_thread = current;
	set_user_nice(current, pt->kpt_boost_nice == KTASK_NO_BOOST ?
			       MAX_NICE : pt->kpt_boost_nice);
	spin_unlock(&pt->kpt_lock);

	ktask_work_run(&h->kh_kw);

	spin_lock(&pt->kpt_lock);
	h->kh_thread = NULL;
	spin_unlock(&pt->kpt_lock);
	set_user_nice(current, pool_nice);

	/*
	 * Fully ordered: the caller, once it sees the count reach zero, also
	 * sees this helper's claims and failure record.  After this the task
	 * (on the caller's stack) may be gone: touch nothing of it.
	 */
	if (atomic_dec_and_test(&pt->kpt_pending))
		complete(&pt->kpt_done);
}

/*
 * Picks the node a helper that starts on part @part runs on, or -1 when no
 * node it may use has room.  A part bound to a node uses that node; a part
 * that may run anywhere prefers the caller's node, then any other.
 */
static int ktask_pick_node(const struct ktask_node *part, int caller_nid)
{
	int nid = part->kn_nid;

	if (nid != NUMA_NO_NODE)
		return ktask_pool.node_busy[nid] < ktask_pool.node_max[nid] ?
		       nid : -1;
	if (ktask_pool.node_busy[caller_nid] < ktask_pool.node_max[caller_nid])
		return caller_nid;
	for_each_online_node(nid)
		if (ktask_pool.node_busy[nid] < ktask_pool.node_max[nid])
			return nid;
	return -1;
}

/* Takes up to @nr helpers for part @node from the pool, within the limits. */
static struct ktask_helper *ktask_take_helpers(struct ktask_task *task,
					       size_t node, size_t nr)
{
	struct ktask_helper *h, *taken = NULL;
	int nid, caller_nid = numa_node_id();
	size_t i;

	spin_lock(&ktask_pool.lock);
	for (i = 0; i < nr && ktask_pool.free; i++) {
		if (ktask_pool.nr_busy >= ktask_pool.max_busy)
			break;
		nid = ktask_pick_node(&task->kt_nodes[node], caller_nid);
		if (nid < 0)
			break;
		h = ktask_pool.free;
		ktask_pool.free = h->kh_next;
		ktask_pool.nr_busy++;
		ktask_pool.node_busy[nid]++;
		h->kh_nid = nid;
		h->kh_index = node;
		h->kh_next = taken;
		taken = h;
	}
	spin_unlock(&ktask_pool.lock);
	return taken;
}

void ktask_plat_task_init(struct ktask_task *task)
{
	struct ktask_plat_task *pt = &task->kt_plat;

	pt->kpt_helpers = NULL;
	/* One count for the caller, dropped when it starts to wait. */
	atomic_set(&pt->kpt_pending, 1);
	init_completion(&pt->kpt_done);
	spin_lock_init(&pt->kpt_lock);
	pt->kpt_boost_nice = KTASK_NO_BOOST;
}

size_t ktask_plat_start_helpers(struct ktask_task *task, size_t node,
				size_t nr)
{
	struct ktask_plat_task *pt = &task->kt_plat;
	struct ktask_helper *h, *next;
	size_t started = 0;

	might_sleep();
	for (h = ktask_take_helpers(task, node, nr); h; h = next) {
		next = h->kh_next;
		ktask_work_init(task, &h->kh_kw, h->kh_index);
		h->kh_task = task;
		h->kh_thread = NULL;
		h->kh_next = pt->kpt_helpers;
		pt->kpt_helpers = h;
		atomic_inc(&pt->kpt_pending);
		/*
		 * Queueing orders the stores above before the work runs
		 * (the PENDING bit is set with a fully ordered atomic).
		 */
		queue_work_node(h->kh_nid, ktask_pool.wq, &h->kh_work);
		started++;
	}
	return started;
}

/* Raises the helpers still running to the caller's priority. */
static void ktask_boost_helpers(struct ktask_plat_task *pt)
{
	int nice = task_nice(current);
	struct ktask_helper *h;

	if (nice >= MAX_NICE)
		return;
	spin_lock(&pt->kpt_lock);
	pt->kpt_boost_nice = nice;
	for (h = pt->kpt_helpers; h; h = h->kh_next)
		if (h->kh_thread)
			set_user_nice(h->kh_thread, nice);
	spin_unlock(&pt->kpt_lock);
}

void ktask_plat_wait_helpers(struct ktask_task *task)
{
	struct ktask_plat_task *pt = &task->kt_plat;
	struct ktask_helper *h;

	if (!pt->kpt_helpers)
		return;
	/*
	 * The caller claims chunks until none is left, so a helper that has
	 * not started yet would find nothing: take it off the queue instead
	 * of waiting for a worker to pick it up.
	 */
	for (h = pt->kpt_helpers; h; h = h->kh_next)
		if (cancel_work(&h->kh_work))
			atomic_dec(&pt->kpt_pending);
	/* Fully ordered; pairs with atomic_dec_and_test() in the helpers. */
	if (atomic_dec_and_test(&pt->kpt_pending))
		return;
	/* Background tasks leave their helpers at MAX_NICE throughout. */
	if (!(task->kt_ctl->kc_flags & KTASK_BACKGROUND))
		ktask_boost_helpers(pt);
	wait_for_completion(&pt->kpt_done);
}

/*
 * The failed helpers' work items stay on the task's failed list until undo
 * is over, so the kernel home keeps every helper until ktask_plat_task_done().
 */
void ktask_plat_release_helpers(struct ktask_task *task)
{
}

void ktask_plat_task_done(struct ktask_task *task)
{
	struct ktask_helper *h, *next;

	spin_lock(&ktask_pool.lock);
	for (h = task->kt_plat.kpt_helpers; h; h = next) {
		next = h->kh_next;
		ktask_pool.nr_busy--;
		ktask_pool.node_busy[h->kh_nid]--;
		h->kh_next = ktask_pool.free;
		ktask_pool.free = h;
	}
	spin_unlock(&ktask_pool.lock);
	task->kt_plat.kpt_helpers = NULL;
}

static void ktask_pool_free(void)
{
	kfree(ktask_pool.helpers);
	kfree(ktask_pool.node_max);
	kfree(ktask_pool.node_busy);
}

static int __init ktask_init(void)
{
	unsigned int i;
	int nid;

	ktask_pool.max_busy = max(1u, num_online_cpus() * 4 / 5);
	ktask_pool.node_busy = kcalloc(nr_node_ids, sizeof(unsigned int),
				       GFP_KERNEL);
	ktask_pool.node_max = kcalloc(nr_node_ids, sizeof(unsigned int),
				      GFP_KERNEL);
	ktask_pool.helpers = kcalloc(ktask_pool.max_busy,
				     sizeof(struct ktask_helper), GFP_KERNEL);
	if (!ktask_pool.node_busy || !ktask_pool.node_max ||
	    !ktask_pool.helpers)
		goto err_free;

	for_each_online_node(nid)
		ktask_pool.node_max[nid] = max(1u, nr_cpus_node(nid) * 4 / 5);
	for (i = 0; i < ktask_pool.max_busy; i++) {
		struct ktask_helper *h = &ktask_pool.helpers[i];

		INIT_WORK(&h->kh_work, ktask_helper_func);
		h->kh_next = ktask_pool.free;
		ktask_pool.free = h;
	}

	ktask_pool.wq = alloc_workqueue("ktask", WQ_UNBOUND, 0);
	if (!ktask_pool.wq)
		goto err_free;
	pr_info("ktask: %u helpers at most, %u online nodes\n",
		ktask_pool.max_busy, num_online_nodes());
	return 0;

err_free:
	ktask_pool_free();
	return -ENOMEM;
}

static void __exit ktask_exit(void)
{
	/* Modules that use ktask hold a reference: no task runs now. */
	destroy_workqueue(ktask_pool.wq);
	ktask_pool_free();
}

module_init(ktask_init);
module_exit(ktask_exit);

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("ktask: parallelize a large CPU-intensive task");
MODULE_VERSION("0.1.0");
