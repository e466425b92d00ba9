/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ktask.h - parallelize a large CPU-intensive task.
 *
 * A client describes a task by a start position, a size in task-specific
 * units and a minimum chunk size, and gives a thread function that does the
 * work of one chunk [start, end).  ktask splits the task into chunks, picks a
 * number of threads, starts them and balances the chunks among them.  An
 * iterator lets the task be something other than an address range, and an
 * undo function lets a failed task roll back the chunks that completed.
 * Names and meanings follow the ktask series (2017-2018).
 */
#ifndef KTASK_H
#define KTASK_H

#ifndef __KERNEL__
/*
 * The same header serves userland programs (libktask), kernel modules
 * (ktask.ko) and, through kernel/series/gen-core.sh, which keeps only its
 * __KERNEL__ side, the kernel tree's <linux/ktask.h>.
 */
#endif

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/numa.h>
#else
#include <stddef.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef NUMA_NO_NODE
/**
 * define NUMA_NO_NODE - a &struct ktask_node whose part may run on any node.
 */
#define NUMA_NO_NODE (-1)
#endif

/**
 * define KTASK_MEM_CHUNK - a suggested minimum chunk for memory work, in
 * bytes (128 MiB): enough work to be worth a thread, as in the series.
 */
#define KTASK_MEM_CHUNK (1ul << 27)

#ifdef __KERNEL__
/* The same in base pages and in PMD-sized pages, for page-unit tasks. */
#define KTASK_PTE_MINCHUNK (KTASK_MEM_CHUNK / PAGE_SIZE)
#define KTASK_PMD_MINCHUNK (KTASK_MEM_CHUNK / PMD_SIZE)
#endif

/**
 * define KTASK_RETURN_SUCCESS - what a thread function returns when its chunk
 * succeeded.  Any other value is a client-specific error: it stops the task
 * and is returned unchanged by ktask_run() or ktask_run_numa().
 */
#define KTASK_RETURN_SUCCESS 0

/**
 * typedef ktask_thread_func - does the work of one chunk.
 * @start: first position of the chunk.
 * @end: position just past the chunk, as the iterator computed it.
 * @arg: the task's &ktask_ctl.kc_func_arg.
 *
 * Called once per chunk, possibly many times by one thread and from several
 * threads at once on disjoint chunks.  If it fails part way, cleaning up the
 * part of its own chunk that it did is its job: the undo function is never
 * called on a failed chunk.
 *
 * Return: %KTASK_RETURN_SUCCESS, or a nonzero client-specific error.
 */
typedef int (*ktask_thread_func)(void *start, void *end, void *arg);

/**
 * typedef ktask_undo_func - rolls back a range of chunks that completed.
 * @start: first position of the range.
 * @end: position just past the range.
 * @arg: the task's &ktask_ctl.kc_func_arg.
 *
 * Called only after a task failed, from the thread that called ktask_run()
 * or ktask_run_numa(), once per maximal run of completed chunks, in
 * ascending order within a node and node by node in array order.  It must
 * always succeed.
 */
typedef void (*ktask_undo_func)(void *start, void *end, void *arg);

/*
 * ktask_iter_func - advances a position through the task: returns the
 * position @size units after @position.  (A plain comment: kernel-doc
 * cannot parse a typedef of a function that returns a pointer.)
 */
typedef void *(*ktask_iter_func)(void *position, size_t size);

/**
 * struct ktask_node - the part of a task to be done on one NUMA node.
 * @kn_start: first position of the part.
 * @kn_task_size: size of the part, in task-specific units.
 * @kn_nid: NUMA node whose CPUs should do this part, or %NUMA_NO_NODE.
 * @kn_position: private: next position to hand out (iterator tasks).
 * @kn_claimed: private: units handed out so far.
 *
 * The fields after @kn_nid belong to ktask while a call that was given the
 * node runs; the client need not initialise them.
 */
struct ktask_node {
	void *kn_start;
	size_t kn_task_size;
	int kn_nid;

	/* Private fields below: ktask's own, do not touch. */
	void *kn_position;
	size_t kn_claimed;
};

/**
 * struct ktask_ctl - how to run a task.
 * @kc_thread_func: does one chunk.  Required.
 * @kc_undo_func: rolls back completed chunks after a failure, or NULL.
 * @kc_func_arg: passed as @arg to both functions.
 * @kc_min_chunk_size: the least work worth giving a thread, in task units;
 *                     it must be at least 1.
 * @kc_iter_func: advances positions; NULL means ktask_iter_range().
 * @kc_max_threads: the most threads to use, the caller included; 0 means
 *                  the default (the usable CPUs of the nodes named, or
 *                  ktask's max_threads setting).
 * @kc_flags: %KTASK_BACKGROUND (and in the kernel %KTASK_MM_LOCKED), or 0.
 *            An extension of the series.
 * @kc_key: kernel only, private: the lockdep class of "the caller waits
 *          for its helpers", one per place the ctl is defined; set by the
 *          macros below (NULL: a class shared by every such ctl).
 *
 * Set it up with KTASK_CTL_INITIALIZER() or DEFINE_KTASK_CTL() and the
 * ktask_ctl_set_*() helpers, so that fields added later get their defaults.
 */
struct ktask_ctl {
	ktask_thread_func kc_thread_func;
	ktask_undo_func kc_undo_func;
	void *kc_func_arg;
	size_t kc_min_chunk_size;
	ktask_iter_func kc_iter_func;
	size_t kc_max_threads;
	unsigned int kc_flags;
#ifdef __KERNEL__
	struct lock_class_key *kc_key;
#endif
};

/**
 * define KTASK_BACKGROUND - a &ktask_ctl.kc_flags bit for helpers at MAX_NICE
 *
 * The helpers run at the lowest priority (nice 19, MAX_NICE) throughout,
 * so that a big task uses only CPU time that nothing else wants.  The
 * caller keeps its own priority.  Without it, helpers run at the caller's
 * priority while it waits for them (see ktask_run()).
 */
#define KTASK_BACKGROUND 0x1u

#ifdef __KERNEL__
/**
 * define KTASK_MM_LOCKED - a &ktask_ctl.kc_flags bit: the caller holds mm locks
 *
 * The caller holds its mm's mmap_lock or a VMA lock, as in a page fault,
 * or a lock that is taken under mmap_lock, such as the i_rwsem of a file
 * that mmap() locks (hugetlbfs).  A user caller's helpers are threads of
 * its process, and making one (copy_process()) takes
 * cgroup_threadgroup_rwsem, which a migration to another cpuset holds
 * while it waits for mmap_lock (mpol_rebind_mm()).  So such a task makes
 * no thread: it uses the idle helper threads its process has, and the
 * ones it lacked are made when the caller next returns to user mode.  See
 * ktask_prewarm() for having them ready.
 */
#define KTASK_MM_LOCKED 0x2u

/* Every flag this version knows; others get -EINVAL. */
#define KTASK_FLAGS_ALL (KTASK_BACKGROUND | KTASK_MM_LOCKED)
#else
/* Every flag this version knows; others get -EINVAL. */
#define KTASK_FLAGS_ALL KTASK_BACKGROUND
#endif

#ifdef __KERNEL__
#ifdef CONFIG_LOCKDEP
/*
 * One lockdep class per place a ktask_ctl is defined, as INIT_WORK() has
 * one per work item: the statement expression makes a static key there.
 * So the initializer belongs in a function, not at file scope.
 */
#define KTASK_CTL_KEY_INIT						\
	({ static struct lock_class_key __ktask_key; &__ktask_key; })
#else
#define KTASK_CTL_KEY_INIT NULL
#endif

/**
 * define KTASK_CTL_INITIALIZER - the initial value of a &struct ktask_ctl.
 * @thread_func: the thread function, a &ktask_thread_func.
 * @func_arg: its @arg.
 * @min_chunk_size: the minimum chunk size, in task units.
 *
 * No undo function, the range iterator, and the default thread limit.
 * The functions given here and to the setters below must have the exact
 * types &ktask_thread_func, &ktask_undo_func and &ktask_iter_func (taking
 * void pointers, which they convert themselves): with control-flow
 * integrity a call through a pointer of another type traps, so nothing
 * here casts them.
 */
#define KTASK_CTL_INITIALIZER(thread_func, func_arg, min_chunk_size)	\
	{								\
		.kc_thread_func = (thread_func),			\
		.kc_undo_func = NULL,					\
		.kc_func_arg = (func_arg),				\
		.kc_min_chunk_size = (min_chunk_size),			\
		.kc_iter_func = ktask_iter_range,			\
		.kc_max_threads = 0,					\
		.kc_flags = 0,						\
		.kc_key = KTASK_CTL_KEY_INIT				\
	}

/**
 * define DEFINE_KTASK_CTL - declares and initialises a &struct ktask_ctl.
 * @ctl_name: the variable's name.
 * @thread_func: the thread function, a &ktask_thread_func.
 * @func_arg: its @arg.
 * @min_chunk_size: the minimum chunk size, in task units.
 */
#define DEFINE_KTASK_CTL(ctl_name, thread_func, func_arg, min_chunk_size) \
	struct ktask_ctl ctl_name =					  \
		KTASK_CTL_INITIALIZER(thread_func, func_arg, min_chunk_size)

/**
 * ktask_ctl_set_iter_func() - sets a task's iterator.
 * @ctl: the &struct ktask_ctl.
 * @iter_func: the iterator.
 */
static inline void ktask_ctl_set_iter_func(struct ktask_ctl *ctl,
					   ktask_iter_func iter_func)
{
	ctl->kc_iter_func = iter_func;
}

/**
 * ktask_ctl_set_undo_func() - sets a task's undo function.
 * @ctl: the &struct ktask_ctl.
 * @undo_func: the undo function.
 */
static inline void ktask_ctl_set_undo_func(struct ktask_ctl *ctl,
					   ktask_undo_func undo_func)
{
	ctl->kc_undo_func = undo_func;
}
#else /* !__KERNEL__ */
/**
 * define KTASK_CTL_INITIALIZER - the initial value of a &struct ktask_ctl.
 * @thread_func: the thread function; cast, so it may take its real types.
 *
 * Like the series, the casts here and in the setters let a function such
 * as int f(struct page *, struct page *, struct foo *) be called through
 * &ktask_thread_func.  That works on the ABIs Linux runs on, but is not
 * strictly portable C, and control-flow integrity checks
 * (-fsanitize=cfi-icall) trap on it.  The kernel's variant has no casts:
 * there the functions must have the exact types.
 * @func_arg: its @arg.
 * @min_chunk_size: the minimum chunk size, in task units.
 *
 * No undo function, the range iterator, and the default thread limit.
 */
#define KTASK_CTL_INITIALIZER(thread_func, func_arg, min_chunk_size)	\
	{								\
		(ktask_thread_func)(thread_func),			\
		NULL,							\
		(func_arg),						\
		(min_chunk_size),					\
		ktask_iter_range,					\
		0,							\
		0							\
	}

/**
 * define DEFINE_KTASK_CTL - declares and initialises a &struct ktask_ctl.
 * @ctl_name: the variable's name.
 * @thread_func: the thread function.
 * @func_arg: its @arg.
 * @min_chunk_size: the minimum chunk size, in task units.
 */
#define DEFINE_KTASK_CTL(ctl_name, thread_func, func_arg, min_chunk_size) \
	struct ktask_ctl ctl_name =					  \
		KTASK_CTL_INITIALIZER(thread_func, func_arg, min_chunk_size)

/**
 * define ktask_ctl_set_iter_func - sets a task's iterator.
 * @ctl: the &struct ktask_ctl.
 * @iter_func: the iterator; cast, so it may take its real types.
 */
#define ktask_ctl_set_iter_func(ctl, iter_func)				\
	((ctl)->kc_iter_func = (ktask_iter_func)(iter_func))

/**
 * define ktask_ctl_set_undo_func - sets a task's undo function.
 * @ctl: the &struct ktask_ctl.
 * @undo_func: the undo function; cast, so it may take its real types.
 */
#define ktask_ctl_set_undo_func(ctl, undo_func)				\
	((ctl)->kc_undo_func = (ktask_undo_func)(undo_func))

#endif /* __KERNEL__ */

/**
 * ktask_ctl_set_max_threads() - caps the threads a task may use.
 * @ctl: the &struct ktask_ctl.
 * @max_threads: the most threads, the caller included; 0 for the default.
 */
static inline void ktask_ctl_set_max_threads(struct ktask_ctl *ctl,
					     size_t max_threads)
{
	ctl->kc_max_threads = max_threads;
}

/**
 * ktask_ctl_set_flags() - sets a task's flags.
 * @ctl: the &struct ktask_ctl.
 * @flags: %KTASK_BACKGROUND, %KTASK_MM_LOCKED (kernel), or 0.
 */
static inline void ktask_ctl_set_flags(struct ktask_ctl *ctl,
				       unsigned int flags)
{
	ctl->kc_flags = flags;
}

#ifndef __KERNEL__
/*
 * KTASK_FALLBACK selects the inline code further down instead of the
 * library's functions.  Nothing defines it in a normal build;
 * tests/test_fallback does, and kernel/series/gen-core.sh turns it into
 * !CONFIG_KTASK in the kernel tree's <linux/ktask.h>.
 */
#endif
#ifndef KTASK_FALLBACK
/**
 * ktask_iter_range() - the default iterator, for tasks that are byte ranges.
 * @position: a position in the task, taken as an address.
 * @size: how many bytes to advance.
 *
 * A task whose iterator is ktask_iter_range() is claimed without a lock.
 *
 * Return: (char *)@position + @size.
 */
void *ktask_iter_range(void *position, size_t size);

#ifdef __KERNEL__
/**
 * ktask_run() - runs a task on the caller's NUMA node and waits for it.
 * @start: the task's first position.
 * @task_size: its size, in task units.
 * @ctl: how to run it.
 *
 * The caller runs chunks too.  A task that fits one thread runs entirely in
 * the caller, with no hand-off and no allocation.  On the first nonzero
 * return of the thread function no more chunks are handed out, the chunks
 * already running finish, and the undo function (if any) is called on every
 * completed range before ktask_run() returns.
 *
 * Where helpers run: on the CPUs of the node they work for, not within
 * the caller's CPU mask or cgroup, as in the series; they start at
 * MAX_NICE and the caller raises those it waits on to its own nice value,
 * when it has run out of chunks or has to wait for the lock of an
 * iterator task, and through nested calls (not with %KTASK_BACKGROUND).  A thread function must not
 * take a lock that the caller holds while it calls ktask_run(): the
 * caller waits for the helper, and lockdep reports it.
 *
 * Context: process context; may sleep (it checks with might_sleep() on
 * every call, so do not call it under a spinlock or with interrupts or
 * preemption off).  The thread, undo and iterator functions run in
 * process context too, in the caller or in helpers (unbound workqueue
 * workers); the iterator runs under a mutex.
 *
 * Return: 0 on success (a task of size 0 succeeds without calling anything),
 * -EINVAL for a NULL @ctl or thread function, a zero minimum chunk size,
 * unknown flags or a range that wraps the address space (nothing is run
 * then), or the first error a thread function returned.
 */
#else
/**
 * ktask_run() - runs a task on the caller's NUMA node and waits for it.
 * @start: the task's first position.
 * @task_size: its size, in task units.
 * @ctl: how to run it.
 *
 * The caller runs chunks too.  A task that fits one thread runs entirely in
 * the caller, with no hand-off and no allocation.  On the first nonzero
 * return of the thread function no more chunks are handed out, the chunks
 * already running finish, and the undo function (if any) is called on every
 * completed range before ktask_run() returns.
 *
 * Where helpers run: within the caller's CPU affinity mask, at the
 * caller's nice value (nice 19 with %KTASK_BACKGROUND).  In the kernel
 * (ktask.ko): see the kernel's variant of this comment.
 *
 * Context: may sleep.  The thread, undo and iterator functions run in the
 * caller or in helper threads; the iterator runs under a mutex.
 *
 * Return: 0 on success (a task of size 0 succeeds without calling anything),
 * -EINVAL for a NULL @ctl or thread function, a zero minimum chunk size,
 * unknown flags or a range that wraps the address space (nothing is run
 * then), or the first error a thread function returned.
 */
#endif
int ktask_run(void *start, size_t task_size, struct ktask_ctl *ctl);

/**
 * ktask_run_numa() - runs a task that the client split by NUMA node.
 * @nodes: the parts of the task, one &struct ktask_node each.
 * @nr_nodes: how many parts.
 * @ctl: how to run it.
 *
 * Like ktask_run(), over every part.  Threads are spread over the nodes in
 * proportion to their work, each helper on its node's CPUs (those the
 * caller may use, where the home honours the caller's mask); a thread
 * whose node has no work left moves on to another node that has some, and
 * a helper that does runs that node's chunks on that node's CPUs
 * (anywhere again for a %NUMA_NO_NODE part).  The caller runs where it is.
 * A node with no CPU online gets no helper of its own: others or the
 * caller do its part.  Undo after a failure covers exactly the completed ranges,
 * node by node in array order.
 *
 * Context: as ktask_run(): process context, may sleep.
 *
 * Return: as for ktask_run(); also -EINVAL for NULL @nodes with @nr_nodes
 * above 0, an @nr_nodes no array could hold, an invalid node id (even on an
 * empty part), or sizes whose sum overflows.
 */
int ktask_run_numa(struct ktask_node *nodes, size_t nr_nodes,
		   struct ktask_ctl *ctl);

#ifdef __KERNEL__
/**
 * ktask_boot_init() - sets ktask up in a kernel that has it built in.
 *
 * Called once from kernel_init_freeable(), after the CPUs are up and before
 * page_alloc_init_late(), whose deferred struct page init is a client.
 */
void ktask_boot_init(void);

struct task_struct;

/**
 * ktask_exit_thread() - a thread of a process is exiting.
 * @tsk: the exiting thread (current), past exit_signals().
 *
 * Called from do_exit().  When the last thread of a process that is not a
 * ktask helper exits, the process's idle helper threads are told to exit
 * too, so that the process ends at once rather than after their idle
 * timeout.
 */
void ktask_exit_thread(struct task_struct *tsk);

/**
 * ktask_prewarm() - makes the helper threads of a KTASK_MM_LOCKED task.
 *
 * Such a task makes no helper thread itself.  Called before its locks are
 * taken, this makes the calling process's idle helper threads, as many as
 * a task of its could use, unless they are there; they exit after their
 * idle timeout as others do.  Does nothing for a kernel thread.
 *
 * Context: process context; no lock held that mmap_lock is taken outside
 * of (it takes cgroup_threadgroup_rwsem).
 */
void ktask_prewarm(void);

/**
 * ktask_prewarm_later() - ktask_prewarm() when the caller returns to user mode.
 *
 * For a caller that holds such locks, as hugetlbfs's mmap() of a gigantic
 * page mapping does, so that its first fault has helpers: the threads are
 * made by task_work as the caller leaves the kernel.
 */
void ktask_prewarm_later(void);
#endif

#else /* KTASK_FALLBACK */
/*
 * A kernel built with CONFIG_KTASK=n: the same calls, without threads.  As
 * in the series, the thread function runs once over each part's whole
 * range, in the caller, parts in array order; the first error stops the
 * task and is returned, and nothing is ever undone (a client that needs
 * undo after a failure must do it itself).  The arguments are checked as
 * the core checks them, except that node ids are only checked for range.
 */
#ifndef __KERNEL__
#include <errno.h>
#include <stdint.h>
#endif

static inline void *ktask_iter_range(void *position, size_t size)
{
	return (char *)position + size;
}

static inline int ktask_run_numa(struct ktask_node *nodes, size_t nr_nodes,
				 struct ktask_ctl *ctl)
{
	ktask_iter_func iter;
	size_t i, total = 0;
	int err;

	if (!ctl || !ctl->kc_thread_func || !ctl->kc_min_chunk_size ||
	    (ctl->kc_flags & ~KTASK_FLAGS_ALL) || (nr_nodes && !nodes) ||
	    nr_nodes > (size_t)-1 / sizeof(*nodes))
		return -EINVAL;
	iter = ctl->kc_iter_func ? ctl->kc_iter_func : ktask_iter_range;
	for (i = 0; i < nr_nodes; i++) {
		uintptr_t start = (uintptr_t)nodes[i].kn_start;
		size_t size = nodes[i].kn_task_size;

		if (nodes[i].kn_nid < NUMA_NO_NODE ||
#ifdef __KERNEL__
		    nodes[i].kn_nid >= MAX_NUMNODES ||
#endif
		    (iter == ktask_iter_range && start + size < start) ||
		    total + size < total)
			return -EINVAL;
		total += size;
	}
	for (i = 0; i < nr_nodes; i++) {
		if (!nodes[i].kn_task_size)
			continue;
		err = ctl->kc_thread_func(nodes[i].kn_start,
					  iter(nodes[i].kn_start,
					       nodes[i].kn_task_size),
					  ctl->kc_func_arg);
		if (err != KTASK_RETURN_SUCCESS)
			return err;
	}
	return KTASK_RETURN_SUCCESS;
}

static inline int ktask_run(void *start, size_t task_size,
			    struct ktask_ctl *ctl)
{
	struct ktask_node node = {
		.kn_start = start,
		.kn_task_size = task_size,
		.kn_nid = NUMA_NO_NODE,
	};

	return ktask_run_numa(&node, 1, ctl);
}

#ifdef __KERNEL__
struct task_struct;

static inline void ktask_boot_init(void)
{
}

static inline void ktask_exit_thread(struct task_struct *tsk)
{
}

static inline void ktask_prewarm(void)
{
}

static inline void ktask_prewarm_later(void)
{
}
#endif
#endif /* KTASK_FALLBACK */

/*
 * Extensions.  They add to the series' interface without changing what any
 * of it means.
 */

/**
 * struct ktask_stats - what ktask decided for a task.
 * @ks_threads: threads the task was planned for, the caller included
 *              (1 for a task that ran inline, also a short one that
 *              userland's ktask timed faster alone: KTASK_ALONE in
 *              ktask(3)).
 * @ks_helpers: helper threads started for the task; fewer than
 *              @ks_threads - 1 when the helper limit was reached or a
 *              thread could not be started.  A helper that found every
 *              chunk taken when it woke up counts too.
 * @ks_chunk_size: units per chunk (the whole task when it ran inline).
 * @ks_max_threads: the default limit in force: usable CPUs (only those of
 *                  the nodes named, for node-placed work and for
 *                  ktask_run() on a machine with several nodes), or the
 *                  max_threads setting; 0 for a task too small for more
 *                  than one thread.
 * @ks_total_size: units in the task, over all nodes.
 */
struct ktask_stats {
	size_t ks_threads;
	size_t ks_helpers;
	size_t ks_chunk_size;
	size_t ks_max_threads;
	size_t ks_total_size;
};

#ifndef __KERNEL__

/**
 * ktask_last_stats() - tells what ktask decided for the calling thread's
 * most recent task that passed argument checks and had work.
 * @stats: filled in; all zero if this thread ran no such task yet.
 *
 * A task started from inside a thread function (a nested call) is the most
 * recent one on that thread once it returns.
 */
void ktask_last_stats(struct ktask_stats *stats);

/**
 * ktask_thread_changed() - tells ktask that the calling thread changed
 * something of itself that its helpers take or are compared on.
 *
 * A helper runs a caller's chunks with the caller's CPUs, nice value,
 * scheduling policy and signal mask, and only if it has the caller's
 * security state (seccomp filters, no_new_privs, capabilities, ids).
 * ktask reads these at most every 10 ms, so a change is otherwise seen
 * within 10 ms.  A thread that sandboxes itself (seccomp, Landlock,
 * dropped capabilities) and then calls ktask_run() at once should call this
 * in between: its next task reads its state anew.  Async-signal-safe.
 */
void ktask_thread_changed(void);
#endif /* !__KERNEL__ */

#ifdef __cplusplus
}
#endif

#endif /* KTASK_H */
