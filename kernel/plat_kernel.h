/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * plat_kernel.h - the kernel home of the ktask core: kernel atomics, a
 * mutex for iterator tasks, and per-task helper bookkeeping for
 * kernel/plat_kernel.c (helpers on unbound workqueues, or threads of the
 * caller's process).
 *
 * The atomics map to the kernel's own primitives rather than GCC's
 * __atomic builtins.  They then follow the Linux kernel memory model, are
 * seen by KCSAN and KASAN instrumentation, and never turn into libatomic
 * calls (which a module cannot link) on architectures without native
 * operations of that size.  try_cmpxchg() has the core's ktask_cas()
 * contract: on failure it stores the value it found in *oldp.  It is fully
 * ordered on success and unordered on failure; the core only retries with
 * the value on failure, so it needs no ordering there.
 */
#ifndef KTASK_PLAT_KERNEL_H
#define KTASK_PLAT_KERNEL_H

#include <linux/atomic.h>
#include <linux/compiler.h>
#include <linux/completion.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#ifdef KTASK_DEBUG_YIELD
#include <linux/delay.h>
#include <linux/random.h>
#include <linux/sched.h>
#endif

/* Everything the module defines is kernel-internal unless exported. */
#define KTASK_PUBLIC
#define KTASK_EXPORT(sym) EXPORT_SYMBOL_GPL(sym)

#define ktask_unlikely(x) unlikely(x)

#define ktask_load_relaxed(p) READ_ONCE(*(p))
#define ktask_load_acquire(p) smp_load_acquire(p)
#define ktask_store_release(p, v) smp_store_release((p), (v))
#define ktask_cas(p, oldp, new) try_cmpxchg((p), (oldp), (new))

/*
 * Iterator tasks call the client's iterator under this lock, and an
 * iterator may take a while (walking a list), so it is a mutex: threads
 * that wait for it sleep instead of spinning, and may be preempted.
 */
struct ktask_lock {
	struct mutex kl_mutex;
};

static inline void ktask_lock_init(struct ktask_lock *l)
{
	mutex_init(&l->kl_mutex);
}

static inline void ktask_lock_destroy(struct ktask_lock *l)
{
	mutex_destroy(&l->kl_mutex);
}

void ktask_lock_slow(struct ktask_lock *l);

/* Sleeping on the lock first raises the helpers (kernel/plat_kernel.c). */
static inline void ktask_lock(struct ktask_lock *l)
{
	if (!mutex_trylock(&l->kl_mutex))
		ktask_lock_slow(l);
}

static inline void ktask_unlock(struct ktask_lock *l)
{
	mutex_unlock(&l->kl_mutex);
}

struct ktask_helper;
struct ktask_proc;

/*
 * What the kernel home keeps per task, on the caller's stack.
 *
 * kpt_pending counts the helpers still to finish plus one for the caller,
 * who drops its own count when it starts waiting; whoever drops the last
 * completes kpt_done.  ktask_boost_lock (kernel/plat_kernel.c) guards
 * kpt_boost_nice and the helpers' running threads, so that the caller can
 * raise the priority of helpers that are still running.  A task started
 * from a helper's thread function (a nested call) is linked to that helper
 * (kpt_parent), and the tasks a helper is the caller of form a stack
 * through kpt_outer, innermost first.  kpt_user is set when the caller is
 * a thread of a user process (built in only): its helpers are threads of
 * that process, kept in kpt_proc, or there are none (no kworker runs work
 * that its cgroups would not be charged for).  Other callers' helpers run
 * on the workqueues.  kpt_policy and
 * kpt_rt_prio are the caller's scheduling class at the start: a real-time
 * caller's helpers run at its policy and priority.
 */
struct ktask_plat_task {
	struct ktask_helper *kpt_helpers;	/* the caller's; linked under
						 * ktask_boost_lock when nested */
	atomic_t kpt_pending;
	struct completion kpt_done;
	struct task_struct *kpt_caller;
	struct ktask_proc *kpt_proc;		/* the caller's process, or NULL */
	bool kpt_user;				/* helpers must be kpt_proc's */
	bool kpt_background;			/* KTASK_BACKGROUND */
	bool kpt_mm_locked;			/* KTASK_MM_LOCKED: no clone */
	int kpt_policy;				/* the caller's, at the start */
	unsigned int kpt_rt_prio;		/* for SCHED_FIFO, SCHED_RR */
	int kpt_boost_nice;			/* or KTASK_NO_BOOST */
	struct ktask_helper *kpt_parent;	/* helper calling, or NULL */
	struct ktask_plat_task *kpt_outer;	/* its previous inner task */
	struct lockdep_map kpt_map;		/* "the caller waits" */
};

/* Every caller may sleep: a call in atomic context is caught on entry. */
#define ktask_might_sleep() might_sleep()

#ifdef KTASK_DEBUG_YIELD
/*
 * make KTASK_DEBUG_YIELD=1: a slow thread at the core's race windows
 * (lib/platform.h).  Every point is in process context, sometimes under
 * the task's mutex, so sleeping is allowed: usually nothing, sometimes a
 * reschedule, now and then a busy wait of up to 50 microseconds.
 */
#define KTASK_PLAT_DEBUG_DELAY_INLINE
static inline void ktask_plat_debug_delay(int point)
{
	u32 r = get_random_u32();

	if (r % 4 == 0)
		cond_resched();
	else if (r % 32 == 1)
		udelay(r / 32 % 50);
}
#endif

#endif /* KTASK_PLAT_KERNEL_H */
