// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * plat_kernel.c - the kernel home of the ktask core: who the helpers are,
 * where they run, and at what priority.
 *
 * Helpers come from a pool of work items allocated once at start-up, one
 * per helper the limits allow, so a task allocates nothing to count them.
 * The limits are the series': helpers (the callers are not counted) may
 * use at most 80% of the online CPUs in total and 80% of each node's CPUs,
 * at least one each.  A task that finds them reached runs with fewer
 * helpers, down to none, and its caller does the work: nested and
 * concurrent calls never wait for a helper to become free, so they cannot
 * deadlock on one.
 *
 * What runs a helper depends on the caller:
 *
 * - Built into the kernel, a caller that is a thread of a user process
 *   (current->mm, not PF_KTHREAD) has its helpers run by threads of its
 *   own process: io threads (create_io_thread(), PF_IO_WORKER and
 *   PF_USER_WORKER, named "ktask-helper"), as io_uring's io-wq does.  A
 *   helper thread is a clone of the caller thread that created it, so it
 *   is in the caller's cgroups and cpuset and has its mempolicy and
 *   credentials: its CPU time is the process's (cpu.stat, /proc/PID/stat,
 *   getrusage()), cpu.max throttles it, and the memory and hugetlb cgroups
 *   charge the caller for what it allocates.  The threads stay in a small
 *   per-process cache (struct ktask_proc, keyed by its signal_struct) so that
 *   a fault does not pay a clone, and exit like io-wq's workers: on a
 *   fatal signal (exit_group(), exec's de_thread(), a core dump's
 *   zap_threads()), when the last other thread of the process exits
 *   (ktask_exit_thread()), or after KTASK_IDLE_TIMEOUT idle.  A cached
 *   thread is handed to a caller only if it is still in the caller's
 *   css_set with its credentials and mempolicy; one that is not is retired
 *   and a fresh clone made.  Each task re-applies the caller's CPU mask
 *   (within it, the CPUs of the part's node), so sched_setaffinity() and
 *   cpuset changes between tasks are honoured.  When no thread can be had
 *   (out of memory, a fatal signal), the task has fewer helpers: a kworker
 *   never runs a user caller's work.
 *
 * - Boot-time tasks and kernel-thread callers use unbound workqueues.
 *   Built in, there is one per node, with that node's CPUs, NUMA affinity
 *   scope and strict affinity set by apply_workqueue_attrs(): the workqueue
 *   code then keeps the workers within wq_unbound_cpumask (isolcpus,
 *   nohz_full, workqueue.unbound_cpus=, isolated cpuset partitions) and
 *   updates them across CPU hotplug.  A helper that moves on to another
 *   node's part runs it where it is.  The loadable module cannot set
 *   workqueue attributes (alloc_workqueue_attrs() and
 *   apply_workqueue_attrs() are not exported), so it keeps one unbound
 *   workqueue and moves each helper to its part's node with
 *   set_cpus_allowed_ptr() (ktask_helper_move()), and has no helper
 *   threads of the caller's process (create_io_thread() is not exported;
 *   kernel/README.md).
 *
 * Priority: a caller in SCHED_FIFO or SCHED_RR has its helpers run at its
 * policy and priority (sched_setattr_nocheck()) for the task, restored
 * after.  Other helpers run their chunks at MAX_NICE, so they use CPUs
 * that would be idle and do not crowd out other work.  Such a caller
 * raises the helpers it waits on to its own nice value (ktask_boost()):
 * those still running when it runs out of chunks and starts to wait, and
 * already when it has to wait for kt_lock, which a MAX_NICE helper may
 * hold while a client's iterator runs.  A boost reaches through nested
 * calls: a helper that is itself the caller of an inner task passes it on
 * to that task's helpers.  The thread's own nice value and policy are
 * restored before it goes back to its pool or cache.
 *
 * Lockdep knows that a caller waits for its helpers: each task has a
 * lockdep map, of a class per ktask_ctl definition (&ktask_ctl.kc_key),
 * that the caller acquires and releases before it waits and that each
 * helper holds while it runs chunks, as a workqueue's flush does for its
 * work items.  A thread function that takes a lock the caller holds is then
 * reported as a circular dependency instead of deadlocking silently.
 *
 * Locking legend: [P] ktask_pool.lock, [B] ktask_boost_lock,
 * [O] the task that took the helper from the pool, [H] the helper itself,
 * [K] the process's ktask_proc.kp_lock.
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
#include <uapi/linux/sched/types.h>
#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/mempolicy.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/task_work.h>
#ifdef MODULE
#include <linux/delay.h>
#include <linux/version.h>
/*
 * The module runs a user caller's helpers as vhost tasks of the caller's
 * process where the kernel exports vhost_task_create() with its Linux 6.11
 * signature (Debian's 6.12 does); elsewhere (Linux 6.1) on kworkers.
 */
#if IS_ENABLED(CONFIG_VHOST_TASK) && \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#include <linux/sched/vhost_task.h>
#define KTASK_VHOST 1
#endif
#endif

#include "../lib/ktask_core.h"

/* kpt_boost_nice while the caller has not started waiting. */
#define KTASK_NO_BOOST (MAX_NICE + 1)

/* How long an idle helper thread of a process waits for work. */
#define KTASK_IDLE_TIMEOUT (10 * HZ)

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

struct ktask_uworker;

struct ktask_helper {
	struct work_struct kh_work;
	struct ktask_work kh_kw;	/* [O] the core's record of this share */
	size_t kh_index;		/* [O] the part (kt_nodes index) it starts on */
	struct ktask_task *kh_task;	/* [O] */
	struct task_struct *kh_thread;	/* [B] thread running it, or NULL */
	struct ktask_plat_task *kh_inner; /* [B] innermost task it is the
					 * caller of (a nested call), or NULL */
	int kh_nid;			/* [O] node it is charged to */
	bool kh_moved;			/* [H] affinity changed from kh_mask */
	cpumask_var_t kh_mask;		/* [H] its worker's own CPUs */
	cpumask_var_t kh_want;		/* [H] scratch: where it goes */
	struct ktask_helper *kh_next;	/* [P] free list, [O] task's list
					 * (linked under [B] when nested) */
	struct ktask_uworker *kh_uworker; /* [K] thread of the caller's
					 * process given it, until it is done
					 * or taken back, or NULL */
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
	struct workqueue_struct **node_wq; /* built in: one per node, or NULL */
	int cpuhp_state;
} ktask_pool = {
	.lock = __SPIN_LOCK_UNLOCKED(ktask_pool.lock),
};

/*
 * Whether the current thread belongs to a user process whose threads can
 * run its helpers (always built in; in the module, with vhost tasks).
 */
static bool ktask_user_caller(void)
{
#if defined(MODULE) && !defined(KTASK_VHOST)
	return false;
#else
	return current->mm && !(current->flags & PF_KTHREAD);
#endif
}

/*
 * The module parameter, or the CPUs of the nodes the task names (every
 * online CPU when a part may run anywhere); for a user caller, only those
 * of its CPU mask, since its helpers run where it may run; 1 when
 * ktask_init() failed and there are no helpers.
 */
size_t ktask_plat_max_threads(const struct ktask_node *nodes, size_t nr_nodes)
{
	unsigned int limit = READ_ONCE(max_threads), cpus = 0, cpu;
	nodemask_t seen = NODE_MASK_NONE;
	bool anywhere = false;
	size_t i;

	if (!ktask_pool.node_cpus)
		return 1;
	if (limit)
		return limit;
	for (i = 0; i < nr_nodes; i++) {
		int nid = nodes[i].kn_nid;

		if (!nodes[i].kn_task_size)
			continue;
		if (nid == NUMA_NO_NODE) {
			anywhere = true;
			continue;
		}
		if (!node_isset(nid, seen)) {
			node_set(nid, seen);
			cpus += READ_ONCE(ktask_pool.node_cpus[nid]);
		}
	}
	if (anywhere || !cpus)
		cpus = num_online_cpus();
	if (ktask_user_caller()) {
		limit = 0;
		for_each_cpu_and(cpu, current->cpus_ptr, cpu_online_mask)
			if (anywhere || node_isset(cpu_to_node(cpu), seen))
				limit++;
		cpus = min(cpus, max(limit, 1u));
	}
	return cpus;
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

static bool ktask_rt_policy(int policy)
{
	return policy == SCHED_FIFO || policy == SCHED_RR;
}

#ifdef MODULE
/*
 * Moves the running helper @h to node @nid's active CPUs, or back to its
 * worker's own CPUs for NUMA_NO_NODE or a node with no CPU active.  The
 * module only: built in, the node's workqueue places its workers.
 *
 * A workqueue's unbound pool only decides where a worker starts (on Linux
 * 6.1 within the node's pool CPUs, on 6.12 not even that: the default
 * affinity scope is not strict), and a module cannot apply workqueue
 * attributes, so the helper sets its own affinity, as the series'
 * ktask_node_migrate() did.  That is safe for a worker of an unbound
 * workqueue: its pool is not bound to a CPU (POOL_DISASSOCIATED), so
 * nothing in the workqueue checks which CPU it runs on, and the worker
 * gets its own mask back before it returns to the pool, so the next work
 * item runs where the pool means it to.  CPU hotplug needs nothing more:
 * the scheduler moves a task off a CPU going down, within its mask or, for
 * a kthread whose mask has no CPU left, anywhere; should the workqueue
 * reset the worker's mask meanwhile, the helper merely runs elsewhere for
 * the rest of its task; should the saved mask have no CPU online at the
 * end, the worker gets every CPU, as the scheduler's fallback would.  It
 * ignores wq_unbound_cpumask, which a module cannot read.
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
#endif

/*
 * Places a helper thread of the caller's process: on the CPUs of the
 * caller's current mask, within them on node @nid's active CPUs if it has
 * any there.  The thread is in the caller's cpuset (its css_set was
 * checked), so the caller's mask is one it may have.
 */
static void ktask_helper_place(struct ktask_helper *h, int nid)
{
	const struct cpumask *caller = h->kh_task->kt_plat.kpt_caller->cpus_ptr;

	if (nid == NUMA_NO_NODE ||
	    !cpumask_and(h->kh_want, caller, cpumask_of_node(nid)) ||
	    !cpumask_intersects(h->kh_want, cpu_active_mask))
		cpumask_copy(h->kh_want, caller);
	if (!cpumask_equal(current->cpus_ptr, h->kh_want))
		set_cpus_allowed_ptr(current, h->kh_want);
}

void ktask_plat_work_node(struct ktask_work *kw, int nid)
{
	struct ktask_helper *h = container_of(kw, struct ktask_helper, kh_kw);

	/* Built in, a kworker stays where its node's workqueue put it. */
	if (h->kh_task->kt_plat.kpt_user)
		ktask_helper_place(h, nid);
#ifdef MODULE
	else
		ktask_helper_move(h, nid);
#endif
}

/* What a helper's thread had before it ran a task's chunks. */
struct ktask_sched_save {
	int nice;
	int policy;
	unsigned int rt_prio;
};

/* Sets the current thread to @policy at @prio, or to SCHED_NORMAL at @nice. */
static void ktask_set_sched(int policy, unsigned int prio, int nice)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = policy,
		.sched_priority = prio,
		.sched_nice = nice,
	};

	if (!ktask_rt_policy(policy)) {
		attr.sched_policy = SCHED_NORMAL;
		attr.sched_priority = 0;
	}
	sched_setattr_nocheck(current, &attr);
}

/*
 * The helper @h starts: it gets its caller's class (a real-time policy and
 * priority, or MAX_NICE until the caller boosts it) and its place.
 */
static void ktask_helper_begin(struct ktask_helper *h,
			       struct ktask_sched_save *save)
{
	struct ktask_plat_task *pt = &h->kh_task->kt_plat;
	int nid;

	save->nice = task_nice(current);
	save->policy = current->policy;
	save->rt_prio = current->rt_priority;
	if (ktask_rt_policy(pt->kpt_policy))
		ktask_set_sched(pt->kpt_policy, pt->kpt_rt_prio, save->nice);

	/* Under the boost lock, so that a caller's boost is not undone. */
	spin_lock(&ktask_boost_lock);
	h->kh_thread = current;
	if (!ktask_rt_policy(pt->kpt_policy))
		set_user_nice(current, pt->kpt_boost_nice == KTASK_NO_BOOST ?
				       MAX_NICE : pt->kpt_boost_nice);
	spin_unlock(&ktask_boost_lock);

	h->kh_moved = false;
	nid = h->kh_task->kt_nodes[h->kh_index].kn_nid;
	if (pt->kpt_user)
		ktask_helper_place(h, nid);
#ifdef MODULE
	else if (nid != NUMA_NO_NODE)
		ktask_helper_move(h, nid);
#endif
}

/*
 * Runs helper @h's share of its task and gives its thread back what it
 * had.  Returns the task's home state, for ktask_helper_done(): until then
 * the task and @h stay valid.
 */
static struct ktask_plat_task *ktask_helper_run(struct ktask_helper *h)
{
	struct ktask_plat_task *pt = &h->kh_task->kt_plat;
	struct ktask_sched_save save;

	ktask_helper_begin(h, &save);

	/* The caller waits for this: see ktask_plat_task_init(). */
	lock_map_acquire(&pt->kpt_map);
	ktask_work_run(&h->kh_kw);
	lock_map_release(&pt->kpt_map);

#ifdef MODULE
	if (!pt->kpt_user)
		ktask_helper_move(h, NUMA_NO_NODE);
#endif
	spin_lock(&ktask_boost_lock);
	h->kh_thread = NULL;
	spin_unlock(&ktask_boost_lock);
	if (current->policy != save.policy ||
	    current->rt_priority != save.rt_prio)
		ktask_set_sched(save.policy, save.rt_prio, save.nice);
	else
		set_user_nice(current, save.nice);
	return pt;
}

/*
 * Fully ordered: the caller, once it sees the count reach zero, also sees
 * this helper's claims and failure record.  After this the task (on the
 * caller's stack) and its helper may be gone: touch nothing of them.
 */
static void ktask_helper_done(struct ktask_plat_task *pt)
{
	if (atomic_dec_and_test(&pt->kpt_pending))
		complete(&pt->kpt_done);
}

static void ktask_helper_func(struct work_struct *work)
{
	struct ktask_helper *h = container_of(work, struct ktask_helper,
					      kh_work);

	ktask_helper_done(ktask_helper_run(h));
}

#if !defined(MODULE) || defined(KTASK_VHOST)
/*
 * Helper threads of a user process.
 *
 * struct ktask_proc is the process's cache, in a hash table keyed by the
 * process's signal_struct (shared by its threads, kept across exec).  It
 * is counted (kp_refs) by the callers of running tasks and by its
 * threads, and freed after RCU when the count drops to zero; a thread of
 * the process therefore finds it, or a new one, whenever it looks.  (A
 * field in signal_struct would spare the hash table, but the module
 * cannot have one, and one scheme for both keeps the hooks into the
 * kernel down to do_exit()'s.)
 *
 * Each thread (struct ktask_uworker) is on kp_all while it lives and on
 * kp_idle while it waits for work.  A caller takes a thread off kp_idle
 * and sets its kw_helper (and the helper's kh_uworker) under kp_lock,
 * then wakes it; the thread takes the share under kp_lock (kw_running),
 * and clears kw_helper and goes back on kp_idle under kp_lock once its
 * share is done, before it tells the caller, so that back-to-back tasks
 * find it there.  A thread that exits first takes itself off kp_idle
 * under kp_lock; a helper given to it before that is still run (see
 * ktask_uworker_dying()), so no caller ever waits for a thread that is
 * gone.
 *
 * A caller that has claimed every chunk takes back the helpers whose
 * threads have not taken their share yet (ktask_uworker_cancel()), as it
 * cancels queued work items, instead of waiting for them: an idle thread
 * may be stopped (SIGSTOP, ptrace) or frozen (the cgroup freezer, suspend)
 * in get_signal(), where a wake-up does not reach it, and the caller
 * waits uninterruptibly.  Waiting for such a thread would keep the caller
 * from stopping or freezing in turn: a job-control stop that never
 * completes, a cgroup that never reports frozen, a suspend that fails
 * after freeze_timeout_msecs, and a hung-task report.
 */
struct ktask_proc {
	spinlock_t kp_lock;
	struct list_head kp_all;	/* [K] every helper thread */
	struct list_head kp_idle;	/* [K] those waiting for work */
	struct hlist_node kp_hash;	/* [M] in ktask_procs, RCU */
	struct signal_struct *kp_sig;	/* its process, the hash key */
	unsigned int kp_refs;		/* [M] callers and threads */
	struct rcu_head kp_rcu;
	bool kp_prewarm;		/* [K] a ktask_prewarm() is queued */
};

struct ktask_uworker {
	struct task_struct *kw_thread;	/* set before it is idle */
	struct ktask_proc *kw_proc;
	struct list_head kw_all;	/* [K] */
	struct list_head kw_idle;	/* [K] empty when not idle */
	struct ktask_helper *kw_helper;	/* [K] the share it is to run */
	bool kw_running;		/* [K] it took kw_helper: no taking back */
	bool kw_retire;			/* [K] told to exit */
#ifdef MODULE
	struct vhost_task *kw_vtsk;
	unsigned long kw_idle_since;	/* [K] jiffies */
	struct list_head kw_dead;	/* [D] on ktask_dead, to be stopped */
#endif
};

/*
 * [M] ktask_procs_lock guards the hash table's changes and every kp_refs;
 * it is taken before a kp_lock.  Lookups are under RCU.
 */
static DEFINE_HASHTABLE(ktask_procs, 6);
static DEFINE_SPINLOCK(ktask_procs_lock);

/*
 * The cache of @sig's process, or NULL; under RCU or ktask_procs_lock, not
 * counted.
 */
static struct ktask_proc *ktask_proc_lookup(struct signal_struct *sig)
{
	struct ktask_proc *p;

	hash_for_each_possible_rcu(ktask_procs, p, kp_hash, (unsigned long)sig,
				   lockdep_is_held(&ktask_procs_lock))
		if (p->kp_sig == sig)
			return p;
	return NULL;
}

/* The cache of @sig's process, counted, or NULL; under ktask_procs_lock. */
static struct ktask_proc *ktask_proc_find(struct signal_struct *sig)
{
	struct ktask_proc *p = ktask_proc_lookup(sig);

	if (p)
		p->kp_refs++;
	return p;
}

/* The current process's cache, counted; made if it has none. */
static struct ktask_proc *ktask_proc_get(void)
{
	struct signal_struct *sig = current->signal;
	struct ktask_proc *p, *new;

	spin_lock(&ktask_procs_lock);
	p = ktask_proc_find(sig);
	spin_unlock(&ktask_procs_lock);
	if (p)
		return p;
	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return NULL;
	spin_lock_init(&new->kp_lock);
	INIT_LIST_HEAD(&new->kp_all);
	INIT_LIST_HEAD(&new->kp_idle);
	new->kp_sig = sig;
	new->kp_refs = 1;
	spin_lock(&ktask_procs_lock);
	p = ktask_proc_find(sig);	/* another thread's, meanwhile */
	if (!p)
		hash_add_rcu(ktask_procs, &new->kp_hash, (unsigned long)sig);
	spin_unlock(&ktask_procs_lock);
	if (p) {
		kfree(new);
		return p;
	}
	return new;
}

static void ktask_proc_ref(struct ktask_proc *p)
{
	spin_lock(&ktask_procs_lock);
	p->kp_refs++;
	spin_unlock(&ktask_procs_lock);
}

static void ktask_proc_put(struct ktask_proc *p)
{
	if (!p)
		return;
	spin_lock(&ktask_procs_lock);
	if (--p->kp_refs) {
		p = NULL;
	} else {
		hash_del_rcu(&p->kp_hash);
	}
	spin_unlock(&ktask_procs_lock);
	if (p)
		kfree_rcu(p, kp_rcu);
}

#ifdef MODULE
/*
 * [D] ktask_dead_lock guards ktask_dead and the kw_dead links, and is
 * taken last.  The reaper (a delayed work item) stops the threads that are
 * on ktask_dead (killed or retired) or idle for KTASK_IDLE_TIMEOUT, with
 * vhost_task_stop(), which waits for the thread to exit: a thread cannot
 * stop itself.
 */
static DEFINE_SPINLOCK(ktask_dead_lock);
static LIST_HEAD(ktask_dead);
static void ktask_reap(struct work_struct *work);
static DECLARE_DELAYED_WORK(ktask_reaper, ktask_reap);

/* Hands @w to the reaper to be stopped; it is off kp_idle. */
static void ktask_uworker_bury(struct ktask_uworker *w)
{
	spin_lock(&ktask_dead_lock);
	list_add_tail(&w->kw_dead, &ktask_dead);
	spin_unlock(&ktask_dead_lock);
	mod_delayed_work(system_wq, &ktask_reaper, 0);
}

static void ktask_uworker_wake(struct ktask_uworker *w)
{
	vhost_task_wake(w->kw_vtsk);
}

/* Tells the idle thread @w to exit; it is off kp_idle.  Under kp_lock. */
static void ktask_uworker_retire(struct ktask_uworker *w)
{
	if (!w->kw_retire) {
		w->kw_retire = true;
		ktask_uworker_bury(w);
	}
}
#else
static void ktask_uworker_wake(struct ktask_uworker *w)
{
	wake_up_process(w->kw_thread);
}

/* Tells the idle thread @w to exit; it is off kp_idle.  Under kp_lock. */
static void ktask_uworker_retire(struct ktask_uworker *w)
{
	w->kw_retire = true;
	wake_up_process(w->kw_thread);
}
#endif

/*
 * Whether the idle thread @w may work for the current thread: it must be
 * charged where the caller is (the same css_set: every cgroup, the cpuset
 * included) and act as the caller does (credentials; built in, the
 * mempolicy too: mpol_equal() is not exported).  The CPU mask is not
 * compared: each task applies the caller's.  Under kp_lock.
 */
static bool ktask_uworker_fits(struct ktask_uworker *w)
{
	struct task_struct *t = w->kw_thread;
	bool fits;

	rcu_read_lock();
	fits = rcu_access_pointer(t->cred) == rcu_access_pointer(current->cred);
#ifdef CONFIG_CGROUPS
	fits = fits && task_css_set(t) == task_css_set(current);
#endif
	rcu_read_unlock();
#ifndef MODULE
	if (fits) {
		task_lock(t);
		fits = mpol_equal(t->mempolicy, current->mempolicy);
		task_unlock(t);
	}
#endif
	return fits;
}

/*
 * @w runs its share: it goes back on kp_idle before it tells the caller
 * (the caller may give it the next share at once).
 */
static void ktask_uworker_work(struct ktask_uworker *w, struct ktask_helper *h)
{
	struct ktask_proc *p = w->kw_proc;
	struct ktask_plat_task *pt = ktask_helper_run(h);

	spin_lock(&p->kp_lock);
	w->kw_helper = NULL;
	w->kw_running = false;
	h->kh_uworker = NULL;
#ifdef MODULE
	w->kw_idle_since = jiffies;
#endif
	list_add(&w->kw_idle, &p->kp_idle);
	spin_unlock(&p->kp_lock);
	ktask_helper_done(pt);
}

/*
 * The thread @w takes the share it was given, or finds NULL: its caller
 * took it back meanwhile (ktask_uworker_cancel()).
 */
static struct ktask_helper *ktask_uworker_accept(struct ktask_uworker *w)
{
	struct ktask_helper *h;

	spin_lock(&w->kw_proc->kp_lock);
	h = w->kw_helper;
	if (h)
		w->kw_running = true;
	spin_unlock(&w->kw_proc->kp_lock);
	return h;
}

/*
 * @w is about to exit: off kp_idle, and a share it was given before that
 * is run, since its caller waits for it.  Returns whether it had been
 * retired before (in the module, then on its way to the reaper already):
 * tested and set under one kp_lock, so that exactly one of a retirement
 * and a fatal signal hands it on.
 */
static bool ktask_uworker_dying(struct ktask_uworker *w)
{
	struct ktask_proc *p = w->kw_proc;
	struct ktask_plat_task *pt;
	struct ktask_helper *h;
	bool retired;

	spin_lock(&p->kp_lock);
	list_del_init(&w->kw_idle);
	h = w->kw_helper;
	if (h)
		w->kw_running = true;
	retired = w->kw_retire;
	w->kw_retire = true;
	spin_unlock(&p->kp_lock);
	if (h) {
		pt = ktask_helper_run(h);
		spin_lock(&p->kp_lock);
		w->kw_helper = NULL;
		w->kw_running = false;
		h->kh_uworker = NULL;
		spin_unlock(&p->kp_lock);
		ktask_helper_done(pt);
	}
	return retired;
}

/*
 * The caller of helper @h, having claimed every chunk, takes @h back from
 * the thread of process @p it was given to, if that thread has not taken
 * it yet; the thread is idle again.  Returns whether @h was taken back
 * (it never ran: the caller does not wait for it).
 */
static bool ktask_uworker_cancel(struct ktask_proc *p, struct ktask_helper *h)
{
	struct ktask_uworker *w;
	bool taken = false;

	spin_lock(&p->kp_lock);
	w = h->kh_uworker;
	if (w && w->kw_helper == h && !w->kw_running) {
		w->kw_helper = NULL;
		h->kh_uworker = NULL;
		taken = true;
		/* A vhost task not yet run goes idle itself (first call). */
		if (w->kw_thread && !w->kw_retire && list_empty(&w->kw_idle)) {
#ifdef MODULE
			w->kw_idle_since = jiffies;
#endif
			list_add(&w->kw_idle, &p->kp_idle);
		}
	}
	spin_unlock(&p->kp_lock);
	return taken;
}

#ifdef MODULE
/*
 * The vhost task's function, called with the thread TASK_INTERRUPTIBLE:
 * runs a share if it has one (true: call again), else lets vhost_task_fn()
 * sleep until woken.  vhost_task_fn() handles the signals: a fatal one
 * makes it call ktask_vworker_killed() and exit.
 */
static bool ktask_vworker_fn(void *arg)
{
	struct ktask_uworker *w = arg;
	struct ktask_helper *h;

	if (unlikely(!READ_ONCE(w->kw_thread))) {
		/* Its first call: current is known from now on. */
		spin_lock(&w->kw_proc->kp_lock);
		w->kw_thread = current;
		/* Its share was taken back before it ever ran: it is idle. */
		if (!w->kw_helper && !w->kw_retire &&
		    list_empty(&w->kw_idle)) {
			w->kw_idle_since = jiffies;
			list_add(&w->kw_idle, &w->kw_proc->kp_idle);
		}
		spin_unlock(&w->kw_proc->kp_lock);
		/* A clone of a real-time caller: idle threads are normal ones. */
		if (current->policy != SCHED_NORMAL) {
			ktask_set_sched(SCHED_NORMAL, 0, 0);
			set_current_state(TASK_INTERRUPTIBLE);
		}
	}
	/* Taken under kp_lock, which orders the helper's fields. */
	if (!READ_ONCE(w->kw_helper))
		return false;
	__set_current_state(TASK_RUNNING);
	h = ktask_uworker_accept(w);
	if (h)
		ktask_uworker_work(w, h);
	return true;
}

/*
 * Killed: finish what it was given, and let the reaper free it, unless the
 * reaper has it already (it retired the thread, idle, at the same time).
 */
static void ktask_vworker_killed(void *arg)
{
	struct ktask_uworker *w = arg;

	if (!ktask_uworker_dying(w))
		ktask_uworker_bury(w);
}

/*
 * Stops the threads on ktask_dead, and those idle longer than
 * KTASK_IDLE_TIMEOUT; with @all (unload), every thread.  Runs again while
 * threads are left.
 */
static void ktask_reap_threads(bool all)
{
	struct ktask_uworker *w, *next;
	struct ktask_proc *p;
	LIST_HEAD(stop);
	bool left = false;
	int bkt;

	spin_lock(&ktask_dead_lock);
	list_splice_init(&ktask_dead, &stop);
	spin_unlock(&ktask_dead_lock);
	spin_lock(&ktask_procs_lock);
	hash_for_each(ktask_procs, bkt, p, kp_hash) {
		spin_lock(&p->kp_lock);
		list_for_each_entry_safe(w, next, &p->kp_idle, kw_idle) {
			if (!all && time_before(jiffies, w->kw_idle_since +
						KTASK_IDLE_TIMEOUT)) {
				left = true;
				continue;
			}
			list_del_init(&w->kw_idle);
			w->kw_retire = true;
			list_add_tail(&w->kw_dead, &stop);
		}
		if (!list_empty(&p->kp_all))
			left = true;
		spin_unlock(&p->kp_lock);
	}
	spin_unlock(&ktask_procs_lock);

	list_for_each_entry_safe(w, next, &stop, kw_dead) {
		p = w->kw_proc;
		vhost_task_stop(w->kw_vtsk);	/* waits for it to exit */
		spin_lock(&p->kp_lock);
		list_del(&w->kw_all);
		spin_unlock(&p->kp_lock);
		kfree(w);
		ktask_proc_put(p);
	}
	if (left && !all)
		mod_delayed_work(system_wq, &ktask_reaper, KTASK_IDLE_TIMEOUT);
}

static void ktask_reap(struct work_struct *work)
{
	ktask_reap_threads(false);
}

/* A new thread of the caller's process for @w, started. */
static bool ktask_uworker_create(struct ktask_uworker *w)
{
	w->kw_vtsk = vhost_task_create(ktask_vworker_fn, ktask_vworker_killed,
				       w, "ktask-helper");
	if (IS_ERR(w->kw_vtsk))
		return false;
	ktask_proc_ref(w->kw_proc);
	spin_lock(&w->kw_proc->kp_lock);
	list_add(&w->kw_all, &w->kw_proc->kp_all);
	spin_unlock(&w->kw_proc->kp_lock);
	vhost_task_start(w->kw_vtsk);
	mod_delayed_work(system_wq, &ktask_reaper, KTASK_IDLE_TIMEOUT);
	return true;
}
#else
static void __noreturn ktask_uworker_exit(struct ktask_uworker *w)
{
	struct ktask_proc *p = w->kw_proc;

	ktask_uworker_dying(w);
	spin_lock(&p->kp_lock);
	list_del(&w->kw_all);
	spin_unlock(&p->kp_lock);
	kfree(w);
	ktask_proc_put(p);
	do_exit(0);
}

/* An idle thread that timed out leaves kp_idle, unless given work. */
static bool ktask_uworker_timeout(struct ktask_uworker *w)
{
	struct ktask_proc *p = w->kw_proc;
	bool leave;

	spin_lock(&p->kp_lock);
	leave = !w->kw_helper && !list_empty(&w->kw_idle);
	if (leave)
		list_del_init(&w->kw_idle);
	spin_unlock(&p->kp_lock);
	return leave;
}

/*
 * A helper thread: runs the shares it is given, sleeping in between, and
 * exits on a fatal signal (get_signal() returns true for a user worker
 * instead of exiting for it), when retired, or when idle too long.  Its
 * signals are blocked but for SIGKILL and SIGSTOP (create_io_thread()).
 */
static int ktask_uworker_fn(void *arg)
{
	struct ktask_uworker *w = arg;
	struct ktask_helper *h;
	bool timed_out = false;

	set_task_comm(current, "ktask-helper");
	/* A clone of a real-time caller: idle threads are normal ones. */
	if (current->policy != SCHED_NORMAL)
		ktask_set_sched(SCHED_NORMAL, 0, 0);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		/* Taken under kp_lock, which orders the helper's fields. */
		if (READ_ONCE(w->kw_helper)) {
			__set_current_state(TASK_RUNNING);
			h = ktask_uworker_accept(w);
			if (h)
				ktask_uworker_work(w, h);
			timed_out = false;
			continue;
		}
		if (signal_pending(current)) {
			struct ksignal ksig;

			__set_current_state(TASK_RUNNING);
			if (get_signal(&ksig))
				break;
			continue;
		}
		if (READ_ONCE(w->kw_retire) ||
		    (timed_out && ktask_uworker_timeout(w)))
			break;
		timed_out = !schedule_timeout(KTASK_IDLE_TIMEOUT);
	}
	__set_current_state(TASK_RUNNING);
	ktask_uworker_exit(w);
}

/*
 * A new thread of the caller's process for @w, started: with the share
 * @w->kw_helper, or idle (ktask_prewarm()) when that is NULL.
 */
static bool ktask_uworker_create(struct ktask_uworker *w)
{
	struct task_struct *t;

	t = create_io_thread(ktask_uworker_fn, w, w->kw_helper ?
			     w->kw_helper->kh_nid : NUMA_NO_NODE);
	if (IS_ERR(t))
		return false;
	w->kw_thread = t;
	ktask_proc_ref(w->kw_proc);
	spin_lock(&w->kw_proc->kp_lock);
	list_add(&w->kw_all, &w->kw_proc->kp_all);
	if (!w->kw_helper)
		list_add(&w->kw_idle, &w->kw_proc->kp_idle);
	spin_unlock(&w->kw_proc->kp_lock);
	wake_up_new_task(t);
	return true;
}

struct ktask_prewarm {
	struct callback_head kpw_cb;
	struct ktask_proc *kpw_proc;
	unsigned int kpw_nr;
};

/* Up to @nr idle threads of @p, made by the caller, a thread of @p. */
static void ktask_prewarm_make(struct ktask_proc *p, unsigned int nr)
{
	struct ktask_uworker *w;
	unsigned int i;

	/* Run at exit too (exit_task_work()): then make nothing. */
	for (i = 0; i < nr && !(current->flags & PF_EXITING) &&
	     !fatal_signal_pending(current); i++) {
		w = kzalloc(sizeof(*w), GFP_KERNEL);
		if (!w)
			break;
		w->kw_proc = p;
		INIT_LIST_HEAD(&w->kw_idle);
		if (!ktask_uworker_create(w)) {
			kfree(w);
			break;
		}
	}
}

/* The idle threads of @p that fit the caller. */
static unsigned int ktask_idle_fitting(struct ktask_proc *p)
{
	struct ktask_uworker *w;
	unsigned int idle = 0;

	spin_lock(&p->kp_lock);
	list_for_each_entry(w, &p->kp_idle, kw_idle)
		idle += ktask_uworker_fits(w);
	spin_unlock(&p->kp_lock);
	return idle;
}

/* On the caller's return to user mode: its process's idle threads. */
static void ktask_prewarm_fn(struct callback_head *cb)
{
	struct ktask_prewarm *pw = container_of(cb, struct ktask_prewarm,
						kpw_cb);
	struct ktask_proc *p = pw->kpw_proc;

	ktask_prewarm_make(p, pw->kpw_nr);
	spin_lock(&p->kp_lock);
	p->kp_prewarm = false;
	spin_unlock(&p->kp_lock);
	ktask_proc_put(p);
	kfree(pw);
}

/*
 * Queues the making of up to @nr idle threads of @p for when the caller
 * returns to user mode, where it holds no mm lock; once at a time per
 * process.  A thread that never returns there (an io_uring or vhost
 * worker) gets none.
 */
static void ktask_prewarm_queue(struct ktask_proc *p, unsigned int nr)
{
	struct ktask_prewarm *pw;
	unsigned int idle;

	if (!nr || (current->flags & (PF_USER_WORKER | PF_EXITING)))
		return;
	idle = ktask_idle_fitting(p);
	spin_lock(&p->kp_lock);
	if (p->kp_prewarm || idle >= nr) {
		spin_unlock(&p->kp_lock);
		return;
	}
	p->kp_prewarm = true;
	spin_unlock(&p->kp_lock);
	pw = kmalloc(sizeof(*pw), GFP_KERNEL);
	if (pw) {
		init_task_work(&pw->kpw_cb, ktask_prewarm_fn);
		pw->kpw_proc = p;
		pw->kpw_nr = nr - idle;
		ktask_proc_ref(p);
		if (!task_work_add(current, &pw->kpw_cb, TWA_RESUME))
			return;
		ktask_proc_put(p);
		kfree(pw);
	}
	spin_lock(&p->kp_lock);
	p->kp_prewarm = false;
	spin_unlock(&p->kp_lock);
}

/* The helper threads a task of the caller could use, or 0. */
static unsigned int ktask_prewarm_want(void)
{
	struct ktask_node node = { .kn_task_size = 1, .kn_nid = NUMA_NO_NODE };
	size_t nr;

	if (!ktask_user_caller() ||
	    (current->flags & (PF_USER_WORKER | PF_EXITING)))
		return 0;
	nr = min_t(size_t, ktask_plat_max_threads(&node, 1),
		   READ_ONCE(ktask_pool.max_busy) + 1);
	return nr < 2 ? 0 : nr - 1;
}

void ktask_prewarm(void)
{
	unsigned int nr = ktask_prewarm_want(), idle;
	struct ktask_proc *p;

	might_sleep();
	if (!nr)
		return;
	p = ktask_proc_get();
	if (!p)
		return;
	idle = ktask_idle_fitting(p);
	if (idle < nr)
		ktask_prewarm_make(p, nr - idle);
	ktask_proc_put(p);
}

void ktask_prewarm_later(void)
{
	unsigned int nr = ktask_prewarm_want();
	struct ktask_proc *p;

	if (!nr)
		return;
	p = ktask_proc_get();
	if (!p)
		return;
	ktask_prewarm_queue(p, nr);
	ktask_proc_put(p);
}
#endif

/*
 * Hands helper @h to a thread of process @p: an idle one that fits the
 * caller, else a new clone of the caller.  Idle threads that no longer fit
 * (the caller's cgroup, credentials or mempolicy changed) are retired on
 * the way.  Returns false when no thread could be had.
 */
static bool ktask_uworker_start(struct ktask_proc *p, struct ktask_helper *h,
				bool may_create)
{
	struct ktask_uworker *w, *next;

	spin_lock(&p->kp_lock);
	list_for_each_entry_safe(w, next, &p->kp_idle, kw_idle) {
		list_del_init(&w->kw_idle);
		if (!ktask_uworker_fits(w)) {
			ktask_uworker_retire(w);
			continue;
		}
		/* The thread takes it under kp_lock (ktask_uworker_accept()). */
		h->kh_uworker = w;
		WRITE_ONCE(w->kw_helper, h);
		/* Under kp_lock: the thread cannot exit and be freed before. */
		ktask_uworker_wake(w);
		spin_unlock(&p->kp_lock);
		return true;
	}
	spin_unlock(&p->kp_lock);

	if (!may_create)
		return false;
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return false;
	w->kw_proc = p;
	INIT_LIST_HEAD(&w->kw_idle);
	w->kw_helper = h;
	h->kh_uworker = w;	/* no thread yet: no lock needed */
	if (!ktask_uworker_create(w)) {
		h->kh_uworker = NULL;
		kfree(w);
		return false;
	}
	return true;
}

#ifndef MODULE
/*
 * @tsk is exiting.  If no other thread of its process but helper threads
 * (user workers) is left, the idle helper threads exit too, or the process
 * would wait for their idle timeout.  PF_EXITING is set under siglock
 * (exit_signals()), and this looks at it under siglock, so of two last
 * threads exiting at once the later sees the other exiting.  No helper
 * thread is busy then: a caller waits for its helpers in the kernel.
 */
void ktask_exit_thread(struct task_struct *tsk)
{
	struct ktask_uworker *w, *next;
	struct ktask_proc *p;
	struct task_struct *t;
	bool last = true;

	if (tsk->flags & PF_USER_WORKER)
		return;
	/*
	 * exit_group(), a fatal signal, exec or a core dump sent SIGKILL to
	 * the helper threads already: no walk over the threads, under
	 * siglock, for each of a large process's exiting threads.
	 */
	if ((READ_ONCE(tsk->signal->flags) & SIGNAL_GROUP_EXIT) ||
	    READ_ONCE(tsk->signal->group_exec_task))
		return;
	rcu_read_lock();
	p = ktask_proc_lookup(tsk->signal);
	rcu_read_unlock();
	if (!p)
		return;
	spin_lock_irq(&tsk->sighand->siglock);
	for_each_thread(tsk, t) {
		if (t != tsk && !(t->flags & (PF_EXITING | PF_USER_WORKER))) {
			last = false;
			break;
		}
	}
	spin_unlock_irq(&tsk->sighand->siglock);
	if (!last)
		return;
	/* Freed after RCU only: with no thread left, its lists are empty. */
	rcu_read_lock();
	p = ktask_proc_lookup(tsk->signal);
	if (p) {
		spin_lock(&p->kp_lock);
		list_for_each_entry_safe(w, next, &p->kp_idle, kw_idle) {
			list_del_init(&w->kw_idle);
			ktask_uworker_retire(w);
		}
		spin_unlock(&p->kp_lock);
	}
	rcu_read_unlock();
}
#endif

/* The helper the current helper thread of a process runs, or NULL. */
static struct ktask_helper *ktask_current_uhelper(void)
{
	struct ktask_helper *h = NULL;
	struct ktask_uworker *w;
	struct ktask_proc *p;

	/* The thread itself holds a count on its process's cache. */
	rcu_read_lock();
	p = ktask_proc_lookup(current->signal);
	if (p) {
		spin_lock(&p->kp_lock);
		list_for_each_entry(w, &p->kp_all, kw_all) {
			if (w->kw_thread == current) {
				h = w->kw_helper;
				break;
			}
		}
		spin_unlock(&p->kp_lock);
	}
	rcu_read_unlock();
	return h;
}
#else
struct ktask_proc;

static void ktask_proc_put(struct ktask_proc *p)
{
}
#endif /* !MODULE || KTASK_VHOST */

#ifdef MODULE
/*
 * No client of the module holds mm locks: its KTASK_MM_LOCKED tasks use
 * the idle threads there are, and it makes none ahead.
 */
void ktask_prewarm(void)
{
}

void ktask_prewarm_later(void)
{
}
#endif

/* The ktask helper the current thread is running, or NULL. */
static struct ktask_helper *ktask_current_helper(void)
{
	struct work_struct *work;

#if !defined(MODULE) || defined(KTASK_VHOST)
	if (current->flags & PF_USER_WORKER)
		return ktask_current_uhelper();
#endif
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

/* Gives helper @h back to the pool.  Under ktask_pool.lock. */
static void ktask_put_helper_locked(struct ktask_helper *h)
{
	ktask_pool.nr_busy--;
	ktask_pool.node_busy[h->kh_nid]--;
	h->kh_next = ktask_pool.free;
	ktask_pool.free = h;
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
	pt->kpt_mm_locked = task->kt_ctl->kc_flags & KTASK_MM_LOCKED;
	pt->kpt_boost_nice = KTASK_NO_BOOST;
	pt->kpt_policy = current->policy;
	pt->kpt_rt_prio = current->rt_priority;
	pt->kpt_user = ktask_user_caller();
	pt->kpt_proc = NULL;
#if !defined(MODULE) || defined(KTASK_VHOST)
	if (pt->kpt_user)
		pt->kpt_proc = ktask_proc_get();
#endif

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

/*
 * Starts helper @h: on a thread of the caller's process for a user caller
 * (false if none can be had), else on the workqueue of its node.  Queueing
 * and the handing over in ktask_uworker_start() order the helper's fields
 * before it runs (the PENDING bit is set with a fully ordered atomic).
 */
static bool ktask_helper_start(struct ktask_plat_task *pt,
			       struct ktask_helper *h)
{
#if !defined(MODULE) || defined(KTASK_VHOST)
	if (pt->kpt_user)
		return pt->kpt_proc &&
			ktask_uworker_start(pt->kpt_proc, h,
					    !pt->kpt_mm_locked);
#endif
	if (ktask_pool.node_wq) {
		queue_work_node(h->kh_nid, ktask_pool.node_wq[h->kh_nid],
				&h->kh_work);
		return true;
	}
	queue_work_node(h->kh_nid, ktask_pool.wq, &h->kh_work);
	return true;
}

size_t ktask_plat_start_helpers(struct ktask_task *task, size_t node,
				size_t nr)
{
	struct ktask_plat_task *pt = &task->kt_plat;
	struct ktask_helper *h, *next;
	size_t started = 0, lacked = 0;
	bool failed = false;

	might_sleep();
	for (h = ktask_take_helpers(task, node, nr); h; h = next) {
		next = h->kh_next;
		ktask_work_init(task, &h->kh_kw, h->kh_index);
		h->kh_task = task;
		h->kh_thread = NULL;
		h->kh_inner = NULL;
		h->kh_uworker = NULL;
		atomic_inc(&pt->kpt_pending);
		/*
		 * Only a user caller's start fails: no fitting idle thread
		 * was left and a clone failed (pids.max, RLIMIT_NPROC, a
		 * fatal signal, memory).  The next helpers would need clones
		 * too: give them back without trying, rather than pay a
		 * failing copy_process() (and a pids.events "max", an audit
		 * record of the RLIMIT_NPROC capable() check) for each.
		 * Under KTASK_MM_LOCKED no clone is tried: the idle threads
		 * ran out.
		 */
		if (failed || !ktask_helper_start(pt, h)) {
			failed = true;
			lacked++;
			atomic_dec(&pt->kpt_pending);
			spin_lock(&ktask_pool.lock);
			ktask_put_helper_locked(h);
			spin_unlock(&ktask_pool.lock);
			continue;
		}
		/*
		 * A nested task is on its parent's kh_inner list, where the
		 * outer caller's ktask_boost_locked() walks kpt_helpers and
		 * kh_next under ktask_boost_lock: link it there under the
		 * lock too, or the walk may follow a stale kh_next (the pool's
		 * free list) onto another task's helpers.
		 */
		if (pt->kpt_parent)
			spin_lock(&ktask_boost_lock);
		h->kh_next = pt->kpt_helpers;
		pt->kpt_helpers = h;
		if (pt->kpt_parent)
			spin_unlock(&ktask_boost_lock);
		started++;
	}
#ifndef MODULE
	/* The threads a task under mm locks lacked, for the next one. */
	if (lacked && pt->kpt_mm_locked && pt->kpt_proc)
		ktask_prewarm_queue(pt->kpt_proc, lacked);
#endif
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
	 * not started yet would find nothing: take it off the queue, or back
	 * from the thread of the caller's process it was given to, instead
	 * of waiting for a worker or thread to pick it up (a thread of the
	 * process may be stopped or frozen: see struct ktask_proc).
	 */
	for (h = pt->kpt_helpers; h; h = h->kh_next) {
#if !defined(MODULE) || defined(KTASK_VHOST)
		if (pt->kpt_user) {
			if (ktask_uworker_cancel(pt->kpt_proc, h))
				atomic_dec(&pt->kpt_pending);
			continue;
		}
#endif
		if (cancel_work(&h->kh_work))
			atomic_dec(&pt->kpt_pending);
	}
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
		ktask_put_helper_locked(h);
	}
	spin_unlock(&ktask_pool.lock);
	task->kt_plat.kpt_helpers = NULL;
	ktask_proc_put(pt->kpt_proc);
	pt->kpt_proc = NULL;
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

static void ktask_node_wqs_destroy(void)
{
	int nid;

	for (nid = 0; ktask_pool.node_wq && nid < nr_node_ids; nid++)
		if (ktask_pool.node_wq[nid])
			destroy_workqueue(ktask_pool.node_wq[nid]);
	kfree(ktask_pool.node_wq);
	ktask_pool.node_wq = NULL;
}

#ifdef MODULE
/* alloc_workqueue_attrs() and apply_workqueue_attrs() are not exported. */
static void ktask_node_wqs_init(void)
{
}
#else
/*
 * Built in: a workqueue per node for the helpers of kernel threads, whose
 * workers run on the node's CPUs within wq_unbound_cpumask (on all of
 * wq_unbound_cpumask if none of them is in it), strictly, and follow CPU
 * hotplug as the workqueue code updates them.  Without them (out of
 * memory), every helper goes to the one unbound workqueue.
 */
static void ktask_node_wqs_init(void)
{
	struct workqueue_attrs *attrs = alloc_workqueue_attrs();
	int nid, cpu;

	ktask_pool.node_wq = kcalloc(nr_node_ids, sizeof(*ktask_pool.node_wq),
				     GFP_KERNEL);
	if (!attrs || !ktask_pool.node_wq)
		goto fail;
	attrs->affn_scope = WQ_AFFN_NUMA;
	attrs->affn_strict = true;
	for_each_node(nid) {
		/* Possible CPUs: one that comes online later is in already. */
		cpumask_clear(attrs->cpumask);
		for_each_possible_cpu(cpu)
			if (cpu_to_node(cpu) == nid)
				cpumask_set_cpu(cpu, attrs->cpumask);
		if (cpumask_empty(attrs->cpumask))
			continue;	/* ktask_pick_node() never picks it */
		ktask_pool.node_wq[nid] = alloc_workqueue("ktask_node%d",
							  WQ_UNBOUND, 0, nid);
		if (!ktask_pool.node_wq[nid] ||
		    apply_workqueue_attrs(ktask_pool.node_wq[nid], attrs))
			goto fail;
	}
	free_workqueue_attrs(attrs);
	return;
fail:
	free_workqueue_attrs(attrs);
	ktask_node_wqs_destroy();
	pr_warn("ktask: no per-node workqueues, helpers of kernel threads run anywhere\n");
}
#endif

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
	ktask_node_wqs_init();

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
	ktask_node_wqs_destroy();
	destroy_workqueue(ktask_pool.wq);
err_free:
	ktask_pool_free();
	return ret;
}

static void __exit ktask_exit(void)
{
	/* Modules that use ktask hold a reference: no task runs now. */
#if defined(MODULE) && defined(KTASK_VHOST)
	/*
	 * No thread may be left to run this module's code: stop them all,
	 * also those a fatal signal is taking down meanwhile (they hold their
	 * cache until the reaper stops them), then the reaper.
	 */
	for (;;) {
		ktask_reap_threads(true);
		spin_lock(&ktask_procs_lock);
		if (hash_empty(ktask_procs)) {
			spin_unlock(&ktask_procs_lock);
			break;
		}
		spin_unlock(&ktask_procs_lock);
		msleep(10);
	}
	cancel_delayed_work_sync(&ktask_reaper);
	rcu_barrier();	/* the caches' kfree_rcu() */
#endif
	cpuhp_remove_state_nocalls(ktask_pool.cpuhp_state);
	ktask_node_wqs_destroy();
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
