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
 * and do not crowd out other work.  A caller raises the helpers it waits on
 * to its own nice value (ktask_boost()): those still running when it runs
 * out of chunks and starts to wait, and already when it has to wait for
 * kt_lock, which a MAX_NICE helper may hold while a client's iterator runs.
 * A boost reaches through nested calls: a helper that is itself the caller
 * of an inner task passes it on to that task's helpers.  The workqueue's
 * own pool attributes (apply_workqueue_attrs()) are not exported to
 * modules, hence the per-item set_user_nice(); the worker's nice value is
 * restored before it goes back to its pool.
 *
 * Placement: a helper runs on the CPUs of the node of the part it works
 * on, also after it moves on to another node's part (ktask_helper_move()),
 * and where its worker runs for NUMA_NO_NODE parts.  The limits follow CPU
 * hotplug (a cpuhp state); a node with no online CPU gets no helper of its
 * own.
 *
 * Lockdep knows that a caller waits for its helpers: each task has a
 * lockdep map, of a class per ktask_ctl definition (&ktask_ctl.kc_key),
 * that the caller acquires and releases before it waits and that each
 * helper holds while it runs chunks, as a workqueue's flush does for its
 * work items.  A thread function that takes a lock the caller holds is then
 * reported as a circular dependency instead of deadlocking silently.
 *
 * Locking legend: [P] ktask_pool.lock, [B] ktask_boost_lock,
 * [O] the task that took the helper from the pool, [H] the helper itself.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/lockdep.h>
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

/* For tests (CONFIG_KTASK_TEST): ktask_init() fails as if kcalloc() had. */
static bool fail_init;
#if IS_ENABLED(CONFIG_KTASK_TEST)
module_param(fail_init, bool, 0);
MODULE_PARM_DESC(fail_init, "Fail ktask_init(), for tests");
#endif

struct ktask_helper {
	struct work_struct kh_work;
	struct ktask_work kh_kw;	/* [O] the core's record of this share */
	size_t kh_index;		/* [O] the part (kt_nodes index) it starts on */
	struct ktask_task *kh_task;	/* [O] */
	struct task_struct *kh_thread;	/* [B] worker running it, or NULL */
	struct ktask_plat_task *kh_inner; /* [B] innermost task it is the
					 * caller of (a nested call), or NULL */
	int kh_nid;			/* [O] node it is charged to */
	bool kh_moved;			/* [H] affinity changed from kh_mask */
	cpumask_var_t kh_mask;		/* [H] its worker's own CPUs */
	cpumask_var_t kh_want;		/* [H] scratch: where it goes */
	struct ktask_helper *kh_next;	/* [P] free list, [O] task's list */
};

/* Guards every helper's kh_thread and kh_inner, and every kpt_boost_nice. */
static DEFINE_SPINLOCK(ktask_boost_lock);

/* The lockdep class of tasks whose ktask_ctl was not set up by the macros. */
static struct lock_class_key ktask_default_key;

static struct {
	spinlock_t lock;
	struct ktask_helper *free;	/* [P] */
	unsigned int nr_busy;		/* [P] helpers taken by tasks */
	unsigned int max_busy;		/* [P] 80% of the online CPUs */
	unsigned int nr_helpers;	/* for the possible CPUs, set at load */
	unsigned int *node_busy;	/* [P] per node */
	unsigned int *node_max;		/* [P] 80% of its online CPUs */
	unsigned int *node_cpus;	/* [P] its online CPUs */
	struct ktask_helper *helpers;	/* every helper, nr_helpers of them */
	struct workqueue_struct *wq;
	int cpuhp_state;
} ktask_pool = {
	.lock = __SPIN_LOCK_UNLOCKED(ktask_pool.lock),
};

/*
 * The module parameter, or the online CPUs of the nodes the task names
 * (every online CPU when a part may run anywhere); 1 when ktask_init()
 * failed and there are no helpers.
 */
size_t ktask_plat_max_threads(const struct ktask_node *nodes, size_t nr_nodes)
{
	unsigned int limit = READ_ONCE(max_threads), cpus = 0;
	nodemask_t seen = NODE_MASK_NONE;
	size_t i;

	if (!ktask_pool.node_cpus)
		return 1;
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
			cpus += READ_ONCE(ktask_pool.node_cpus[nid]);
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

/*
 * Moves the running helper @h to node @nid's active CPUs, or back to its
 * worker's own CPUs for NUMA_NO_NODE or a node with no CPU active.
 *
 * A workqueue's unbound pool only decides where a worker starts (on Linux
 * 6.1 within the node's pool CPUs, on 6.12 not even that: the default
 * affinity scope is not strict), so the helper sets its own affinity, as
 * the series' ktask_node_migrate() did.  That is safe for a worker of an
 * unbound workqueue: its pool is not bound to a CPU (POOL_DISASSOCIATED),
 * so nothing in the workqueue checks which CPU it runs on, and the worker
 * gets its own mask back before it returns to the pool, so the next work
 * item runs where the pool means it to.  CPU hotplug needs nothing more:
 * the scheduler moves a task off a CPU going down, within its mask or, for
 * a kthread whose mask has no CPU left, anywhere; should the workqueue
 * reset the worker's mask meanwhile, the helper merely runs elsewhere for
 * the rest of its task; should the saved mask have no CPU online at the
 * end, the worker gets every CPU, as the scheduler's fallback would.
 * Sleeps; never called with a lock held.
 */
static void ktask_helper_move(struct ktask_helper *h, int nid)
{
	/* Only active CPUs: none that is on its way down. */
	if (nid != NUMA_NO_NODE && READ_ONCE(ktask_pool.node_cpus[nid]) &&
	    cpumask_and(h->kh_want, cpumask_of_node(nid), cpu_active_mask)) {
		if (cpumask_subset(current->cpus_ptr, h->kh_want))
			return;	/* already there: its pool's node */
		if (!h->kh_moved)
			cpumask_copy(h->kh_mask, current->cpus_ptr);
		if (!set_cpus_allowed_ptr(current, h->kh_want)) {
			h->kh_moved = true;
			return;
		}
	}
	/* Anywhere its worker may run. */
	if (h->kh_moved) {
		if (set_cpus_allowed_ptr(current, h->kh_mask))
			set_cpus_allowed_ptr(current, cpu_possible_mask);
		h->kh_moved = false;
	}
}

void ktask_plat_work_node(struct ktask_work *kw, int nid)
{
	ktask_helper_move(container_of(kw, struct ktask_helper, kh_kw), nid);
}

static void ktask_helper_func(struct work_struct *work)
{
	struct ktask_helper *h = container_of(work, struct ktask_helper,
					      kh_work);
	struct ktask_task *task = h->kh_task;
	struct ktask_plat_task *pt = &task->kt_plat;
	int pool_nice = task_nice(current), nid;

	/* Under the boost lock, so that a caller's boost is not undone. */
	spin_lock(&ktask_boost_lock);
	h->kh_thread = current;
	set_user_nice(current, pt->kpt_boost_nice == KTASK_NO_BOOST ?
			       MAX_NICE : pt->kpt_boost_nice);
	spin_unlock(&ktask_boost_lock);

	h->kh_moved = false;
	nid = task->kt_nodes[h->kh_index].kn_nid;
	if (nid != NUMA_NO_NODE)
		ktask_helper_move(h, nid);

	/* The caller waits for this: see ktask_plat_task_init(). */
	lock_map_acquire(&pt->kpt_map);
	ktask_work_run(&h->kh_kw);
	lock_map_release(&pt->kpt_map);

	ktask_helper_move(h, NUMA_NO_NODE);
	spin_lock(&ktask_boost_lock);
	h->kh_thread = NULL;
	spin_unlock(&ktask_boost_lock);
	set_user_nice(current, pool_nice);

	/*
	 * Fully ordered: the caller, once it sees the count reach zero, also
	 * sees this helper's claims and failure record.  After this the task
	 * (on the caller's stack) may be gone: touch nothing of it.
	 */
	if (atomic_dec_and_test(&pt->kpt_pending))
		complete(&pt->kpt_done);
}

/* The ktask helper the current thread is running, or NULL. */
static struct ktask_helper *ktask_current_helper(void)
{
	struct work_struct *work;

	if (!(current->flags & PF_WQ_WORKER))
		return NULL;
	work = current_work();
	if (!work || work->func != ktask_helper_func)
		return NULL;
	return container_of(work, struct ktask_helper, kh_work);
}

/*
 * Picks the node a helper that starts on part @part runs on, or -1 when no
 * node it may use has room.  A part bound to a node with CPUs online uses
 * that node; a part that may run anywhere, or whose node has none online,
 * prefers the caller's node, then any other.
 */
static int ktask_pick_node(const struct ktask_node *part, int caller_nid)
{
	int nid = part->kn_nid;

	if (nid != NUMA_NO_NODE && ktask_pool.node_cpus[nid])
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
	struct ktask_helper *parent = ktask_current_helper();
	struct lock_class_key *key = task->kt_ctl->kc_key;

	pt->kpt_helpers = NULL;
	/* One count for the caller, dropped when it starts to wait. */
	atomic_set(&pt->kpt_pending, 1);
	init_completion(&pt->kpt_done);
	pt->kpt_caller = current;
	pt->kpt_background = task->kt_ctl->kc_flags & KTASK_BACKGROUND;
	pt->kpt_boost_nice = KTASK_NO_BOOST;

	/*
	 * The caller waits for its helpers, which hold kpt_map while they
	 * run chunks: tell lockdep now, on every task that may have helpers,
	 * so that a lock held here and taken by a thread function is reported
	 * even when no helper is free this time.
	 */
	lockdep_init_map(&pt->kpt_map, "ktask_wait", key ? key :
			 &ktask_default_key, 0);
	lock_map_acquire(&pt->kpt_map);
	lock_map_release(&pt->kpt_map);

	/* A nested call from a helper: its caller's boosts must reach here. */
	pt->kpt_parent = parent;
	pt->kpt_outer = NULL;
	if (parent) {
		spin_lock(&ktask_boost_lock);
		pt->kpt_outer = parent->kh_inner;
		parent->kh_inner = pt;
		if (parent->kh_task->kt_plat.kpt_boost_nice != KTASK_NO_BOOST &&
		    !pt->kpt_background)
			pt->kpt_boost_nice =
				parent->kh_task->kt_plat.kpt_boost_nice;
		spin_unlock(&ktask_boost_lock);
	}
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
		h->kh_inner = NULL;
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

/*
 * Raises @pt's helpers, and the helpers of any task one of them is the
 * caller of (nested calls), to @nice, and those that start later too.
 * Only raises; background tasks' helpers stay at MAX_NICE.  Called with
 * ktask_boost_lock held; the depth is that of the nesting.
 */
static void ktask_boost_locked(struct ktask_plat_task *pt, int nice)
{
	struct ktask_plat_task *inner;
	struct ktask_helper *h;

	if (pt->kpt_background)
		return;
	if (pt->kpt_boost_nice > nice)
		pt->kpt_boost_nice = nice;
	for (h = pt->kpt_helpers; h; h = h->kh_next) {
		if (!h->kh_thread)
			continue;
		if (task_nice(h->kh_thread) > nice)
			set_user_nice(h->kh_thread, nice);
		for (inner = h->kh_inner; inner; inner = inner->kpt_outer)
			ktask_boost_locked(inner, nice);
	}
}

/* Raises the helpers @pt's caller waits on to the caller's priority. */
static void ktask_boost(struct ktask_plat_task *pt)
{
	int nice = task_nice(current);

	if (nice >= MAX_NICE || pt->kpt_background)
		return;
	spin_lock(&ktask_boost_lock);
	ktask_boost_locked(pt, nice);
	spin_unlock(&ktask_boost_lock);
}

/*
 * kt_lock is taken: a MAX_NICE helper may hold it while a client's
 * iterator runs.  The caller raises its helpers before it sleeps on the
 * lock, so that it does not wait behind other work (a mutex passes no
 * nice value on to its owner).  Helpers that wait for it are boosted
 * already or have no one to boost.
 */
void ktask_lock_slow(struct ktask_lock *l)
{
#ifndef KTASK_NO_LOCK_BOOST
	struct ktask_task *task = container_of(l, struct ktask_task, kt_lock);

	if (task->kt_plat.kpt_caller == current)
		ktask_boost(&task->kt_plat);
#endif
	mutex_lock(&l->kl_mutex);
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
	ktask_boost(pt);
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
	struct ktask_plat_task *pt = &task->kt_plat;
	struct ktask_helper *h, *next;

	if (pt->kpt_parent) {
		spin_lock(&ktask_boost_lock);
		pt->kpt_parent->kh_inner = pt->kpt_outer;
		spin_unlock(&ktask_boost_lock);
	}

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
	unsigned int i;

	for (i = 0; ktask_pool.helpers && i < ktask_pool.nr_helpers; i++) {
		free_cpumask_var(ktask_pool.helpers[i].kh_mask);
		free_cpumask_var(ktask_pool.helpers[i].kh_want);
	}
	kfree(ktask_pool.helpers);
	kfree(ktask_pool.node_cpus);
	kfree(ktask_pool.node_max);
	kfree(ktask_pool.node_busy);
	/* Built in, ktask lives on without a pool: leave nothing dangling. */
	ktask_pool.free = NULL;
	ktask_pool.helpers = NULL;
	ktask_pool.nr_helpers = 0;
	ktask_pool.node_cpus = NULL;
	ktask_pool.node_max = NULL;
	ktask_pool.node_busy = NULL;
}

/*
 * Sets the limits from the online CPUs, leaving out @dying (a CPU on its
 * way down, still in cpu_online_mask; nr_cpu_ids for none).  Helpers taken
 * before stay taken: a lowered limit only stops new ones.
 */
static void ktask_set_limits(unsigned int dying)
{
	unsigned int cpu, online = 0;
	int nid;

	spin_lock(&ktask_pool.lock);
	for_each_node(nid)
		ktask_pool.node_cpus[nid] = 0;
	for_each_online_cpu(cpu) {
		if (cpu == dying)
			continue;
		online++;
		ktask_pool.node_cpus[cpu_to_node(cpu)]++;
	}
	ktask_pool.max_busy = clamp(online * 4 / 5, 1u, ktask_pool.nr_helpers);
	for_each_node(nid)
		ktask_pool.node_max[nid] = ktask_pool.node_cpus[nid] ?
			max(1u, ktask_pool.node_cpus[nid] * 4 / 5) : 0;
	spin_unlock(&ktask_pool.lock);
}

static int ktask_cpu_online(unsigned int cpu)
{
	ktask_set_limits(nr_cpu_ids);
	return 0;
}

static int ktask_cpu_offline(unsigned int cpu)
{
	ktask_set_limits(cpu);
	return 0;
}

/*
 * The limits now, for the hotplug test: "helpers N node0 N ..." per node
 * with CPUs possible.  Read-only.
 */
static int ktask_limits_get(char *buf, const struct kernel_param *kp)
{
	int nid, len;

	spin_lock(&ktask_pool.lock);
	len = sysfs_emit(buf, "helpers %u", ktask_pool.max_busy);
	for_each_online_node(nid)
		if (ktask_pool.node_max)	/* NULL: ktask_init() failed */
			len += sysfs_emit_at(buf, len, " node%d %u", nid,
					     ktask_pool.node_max[nid]);
	spin_unlock(&ktask_pool.lock);
	return len + sysfs_emit_at(buf, len, "\n");
}

static const struct kernel_param_ops ktask_limits_ops = {
	.get = ktask_limits_get,
};
module_param_cb(limits, &ktask_limits_ops, NULL, 0444);
MODULE_PARM_DESC(limits, "Helper limits now, in total and per node (read-only)");

static int __init ktask_init(void)
{
	unsigned int i;
	int ret = -ENOMEM;

	/* Enough helpers for every possible CPU: hotplug may add some. */
	ktask_pool.nr_helpers = max(1u, num_possible_cpus() * 4 / 5);
	ktask_pool.node_busy = kcalloc(nr_node_ids, sizeof(unsigned int),
				       GFP_KERNEL);
	ktask_pool.node_max = kcalloc(nr_node_ids, sizeof(unsigned int),
				      GFP_KERNEL);
	ktask_pool.node_cpus = fail_init ? NULL :
		kcalloc(nr_node_ids, sizeof(unsigned int), GFP_KERNEL);
	ktask_pool.helpers = kcalloc(ktask_pool.nr_helpers,
				     sizeof(struct ktask_helper), GFP_KERNEL);
	if (!ktask_pool.node_busy || !ktask_pool.node_max ||
	    !ktask_pool.node_cpus || !ktask_pool.helpers)
		goto err_free;

	for (i = 0; i < ktask_pool.nr_helpers; i++) {
		struct ktask_helper *h = &ktask_pool.helpers[i];

		if (!zalloc_cpumask_var(&h->kh_mask, GFP_KERNEL) ||
		    !zalloc_cpumask_var(&h->kh_want, GFP_KERNEL))
			goto err_free;
		INIT_WORK(&h->kh_work, ktask_helper_func);
		h->kh_next = ktask_pool.free;
		ktask_pool.free = h;
	}

	ktask_pool.wq = alloc_workqueue("ktask", WQ_UNBOUND, 0);
	if (!ktask_pool.wq)
		goto err_free;

	/* Limits and the hotplug callbacks with no CPU coming or going between. */
	cpus_read_lock();
	ktask_set_limits(nr_cpu_ids);
	ret = cpuhp_setup_state_nocalls_cpuslocked(CPUHP_AP_ONLINE_DYN,
						   "ktask:online",
						   ktask_cpu_online,
						   ktask_cpu_offline);
	cpus_read_unlock();
	if (ret < 0)
		goto err_wq;
	ktask_pool.cpuhp_state = ret;

	pr_info("ktask: %u helpers at most, %u online nodes\n",
		ktask_pool.max_busy, num_online_nodes());
	return 0;

err_wq:
	destroy_workqueue(ktask_pool.wq);
err_free:
	ktask_pool_free();
	return ret;
}

static void __exit ktask_exit(void)
{
	/* Modules that use ktask hold a reference: no task runs now. */
	cpuhp_remove_state_nocalls(ktask_pool.cpuhp_state);
	destroy_workqueue(ktask_pool.wq);
	ktask_pool_free();
}

#ifdef MODULE
module_init(ktask_init);
#else
/*
 * Built into the kernel (kernel/series): kernel_init_freeable() calls this
 * once the CPUs are up and before its boot-time clients, as it calls
 * padata_init().  Should it fail, every task runs in its caller.
 */
void __init ktask_boot_init(void)
{
	if (ktask_init())
		pr_err("ktask: no helpers, tasks run in their callers\n");
}
#endif
module_exit(ktask_exit);

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("ktask: parallelize a large CPU-intensive task");
MODULE_VERSION("0.1.0");
