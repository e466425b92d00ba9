/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * platform.h - what the ktask core needs from the place it runs in.
 *
 * The core (lib/ktask.c) is one portable file compiled into both libktask
 * and ktask.ko.  Everything that differs between userland and the kernel
 * sits behind this interface: atomics, how helpers are found and started,
 * how the caller waits for them, and the facts about CPUs and nodes.
 *
 * A home provides a header (lib/user/plat_user.h or kernel/plat_kernel.h)
 * that defines:
 *
 *   struct ktask_plat_task  per-task state of the home (helpers, waiting)
 *   ktask_load_acquire(p), ktask_load_relaxed(p), ktask_store_release(p, v),
 *   ktask_cas(p, oldp, new)    atomics with the orders their names say
 *   ktask_unlikely(x)
 *   errno values EINVAL
 *
 * and implements the functions declared below.
 */
#ifndef KTASK_PLATFORM_H
#define KTASK_PLATFORM_H

#ifdef __KERNEL__
#include "plat_kernel.h"
#else
/*
 * Each home's build puts its platform header on the include path
 * (CMakeLists.txt: lib/user/; kernel/Kbuild: kernel/; the kernel tree:
 * kernel/ktask/), so the core does not know where its homes live.
 */
#include "plat_user.h"
#endif

#include "ktask.h"

/*
 * ktask_might_sleep(): at the entry of ktask_run*(), a home whose callers
 * must be allowed to sleep checks that they are (the kernel's might_sleep()),
 * on every call and not only on those that start helpers.
 */
#ifndef ktask_might_sleep
#define ktask_might_sleep() do { } while (0)
#endif

struct ktask_task;
struct ktask_work;

/*
 * The most threads a task over @nodes may use by default, the caller
 * included: the usable CPUs for those nodes (every usable CPU if one of them
 * is NUMA_NO_NODE), within any limit the environment sets.
 */
size_t ktask_plat_max_threads(const struct ktask_node *nodes, size_t nr_nodes);

/* Whether @nid names a NUMA node that work can be placed on. */
bool ktask_plat_node_valid(int nid);

/* The caller's NUMA node, or NUMA_NO_NODE where there is only one. */
int ktask_plat_current_node(void);

/* Prepares the home's per-task state before any helper is started. */
void ktask_plat_task_init(struct ktask_task *task);

/*
 * Finds and starts up to @nr helpers for @task's node number @node (an
 * index into kt_nodes), running on that node's CPUs where it names one.  For
 * each, the home calls ktask_work_init(task, kw, node) on the helper's work
 * item before the helper may run, and the helper then calls ktask_work_run()
 * on it.  Returns how many were started (0 when none is free); never blocks
 * waiting for one.
 */
size_t ktask_plat_start_helpers(struct ktask_task *task, size_t node,
				size_t nr);

/*
 * Waits until every helper started for @task has returned from
 * ktask_work_run(), or will never enter it.  The helpers' work items stay
 * valid until ktask_plat_release_helpers().
 */
void ktask_plat_wait_helpers(struct ktask_task *task);

/*
 * Called on a helper (never on the caller) before it runs a chunk of a part
 * whose kn_nid differs from the part it ran its last chunk of: @nid is the
 * new part's node, or NUMA_NO_NODE.  The home moves the helper to that
 * node's CPUs, or lets it run anywhere again for NUMA_NO_NODE.  A helper
 * starts on part kw_first_node and is placed for it by the home before it
 * calls ktask_work_run(); this is only for the moves after that, so a
 * helper that stays on its node pays one comparison per chunk.
 */
void ktask_plat_work_node(struct ktask_work *kw, int nid);

/*
 * Gives @task's helpers back to the home, for other tasks to use; called
 * after ktask_plat_wait_helpers() and before undo, so that a task run from
 * the undo function finds them free.  The work items on kt_failed must stay
 * readable until ktask_plat_task_done().
 */
void ktask_plat_release_helpers(struct ktask_task *task);

/*
 * The task is over (undo included): the home may reuse the work items of
 * helpers whose chunk failed.
 */
void ktask_plat_task_done(struct ktask_task *task);

/*
 * Bracket each ktask_run_numa() call on the calling thread, with a record
 * on the caller's stack that the home defines (struct ktask_plat_call)
 * and KTASK_PLAT_CALL_ATTR attributes.  A home that needs nothing there
 * leaves KTASK_PLAT_CALL_HOOKS undefined.  Userland defers thread
 * cancellation there, and abandons the call's task safely when the caller
 * leaves it by siglongjmp() or a C++ exception.
 */
#ifndef KTASK_PLAT_CALL_HOOKS
struct ktask_plat_call {
	char kpc_unused;
};

#define KTASK_PLAT_CALL_ATTR

static inline void ktask_plat_call_begin(struct ktask_plat_call *call)
{
	(void)call;
}

static inline void ktask_plat_call_end(struct ktask_plat_call *call)
{
	(void)call;
}
#endif

/*
 * ktask_plat_call_chunk(): how the core calls @ctl's thread function on a
 * chunk of @kw's task; @helper says whether a helper or the caller runs it.
 * Userland runs a helper's chunk under a C++ catch-all when it can.
 */
#ifndef ktask_plat_call_chunk
#define ktask_plat_call_chunk(kw, helper, ctl, start, end)		\
	((ctl)->kc_thread_func((start), (end), (ctl)->kc_func_arg))
#endif

/*
 * ktask_plat_alone(): whether a task that could have helpers runs faster
 * on its caller alone, as the home knows from timing the thread's earlier
 * tasks of the kind (userland: choice.c); the core then runs it inline.
 * Called on the caller's thread with the nodes checked.  A home without
 * such knowledge leaves it false.
 */
#ifndef ktask_plat_alone
#define ktask_plat_alone(nodes, nr_nodes, ctl) false
#endif

/*
 * ktask_plat_alone_overdue(): between the pieces of a task that
 * ktask_plat_alone() chose to run alone, with @done of @total units
 * done: whether at this pace it is a long task after all, which should
 * get helpers for the rest.
 */
#ifndef ktask_plat_alone_overdue
#define ktask_plat_alone_overdue(done, total) false
#endif

/*
 * Attributes of the task record on the caller's stack: userland's cleanup
 * abandons a task that a C++ exception unwinds, in the frame that holds
 * it, before that frame is gone.
 */
#ifndef KTASK_PLAT_TASK_ATTR
#define KTASK_PLAT_TASK_ATTR
#endif

/*
 * Notes what was decided for a task that passed the argument checks
 * (statistics, debugging output); called on the caller's thread.
 */
void ktask_plat_note(const struct ktask_stats *stats);

/*
 * Debug-yield builds (KTASK_DEBUG_YIELD defined) call this at the points of
 * the core where a slow thread widens a race window: between reading and
 * claiming a chunk, after a chunk, between setting the first error and
 * recording the failed chunk, and before the caller waits.  A home may
 * yield or sleep a little there, at random.  Other builds compile the calls
 * away.  A home may define it inline, and then defines
 * KTASK_PLAT_DEBUG_DELAY_INLINE.
 */
enum ktask_delay_point {
	KTASK_DELAY_CLAIM,
	KTASK_DELAY_CHUNK_DONE,
	KTASK_DELAY_FAIL,
	KTASK_DELAY_WAIT,
};

#ifndef KTASK_DEBUG_YIELD
#define ktask_plat_debug_delay(point) do { } while (0)
#elif !defined(KTASK_PLAT_DEBUG_DELAY_INLINE)
void ktask_plat_debug_delay(enum ktask_delay_point point);
#endif

#endif /* KTASK_PLATFORM_H */
