/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pool.h - the userland home of the ktask core: a process-wide pool of
 * helper threads, the counterpart of the kernel's unbound workqueue.  What
 * its files share: the worker, the pool's state, the calling thread's
 * records, the helpers of the hot paths, and the one lock legend they all
 * point to.  Internal: nothing here leaves the library.
 *
 * Workers are started lazily, the first time a task wants a helper and no
 * idle one exists, and never beyond the helper limit: usable CPUs minus the
 * caller, for all tasks of the process together.  A task that finds the
 * limit reached runs with fewer helpers, down to none.
 *
 * The files, by concern:
 *
 *   pool.c     the pool's state and its start: settings from the
 *              environment, the fork handlers' registration
 *   view.c     the calling thread's view of itself (CPUs, nice value,
 *              policy, security state, signal mask) and the number of
 *              threads a task may use; beside topology.c and caller.c
 *   handoff.c  the caller's side: a task's records, reserving idle
 *              workers or starting new ones, waking them, waiting for them
 *              and taking them back
 *   worker.c   a worker's life: its rhythm, spin, nap, stepping aside and
 *              retiring; entering a task, running its share and settling
 *              after it; its birth
 *   unwind.c   a call left by siglongjmp() or a C++ exception, and a
 *              helper's chunk under a C++ catch-all
 *   fork.c     the fork handlers
 *   stats.c    ktask_last_stats() and KTASK_DEBUG's report
 *
 * A worker's life is a small state machine in one futex word, w_state:
 *
 *   IDLE --(caller takes it, under pool.lock)--> ASSIGNED
 *   ASSIGNED --(worker)--> RUNNING --(worker)--> DONE
 *   ASSIGNED --(caller, when it finished every chunk first)--> CANCELLED
 *   DONE, CANCELLED --(caller, before undo)--> IDLE
 *
 * The ASSIGNED->RUNNING and ASSIGNED->CANCELLED steps are compare-and-swaps,
 * so exactly one side wins a race between a waking worker and a caller that
 * no longer needs it.  W_SLEEPING is or-ed in by a worker that is about to
 * sleep on the word; whoever assigns it then wakes it.  Between tasks a
 * worker spins briefly (back-to-back tasks are then cheap), then sleeps,
 * and after an idle timeout it exits.
 *
 * A worker has two work items.  One that failed stays on its task's failed
 * list until undo is over, yet the worker goes back to the pool before
 * undo (a task run by the undo function may need it) and works on its
 * other item meanwhile; a worker with both items held is not handed out.
 *
 * Locking legend, for every file of the pool: [P] pool.lock (pool_lock()),
 * [O] the task that owns the worker, [S] the worker's w_sched_lock (see
 * worker.c, worker_sched()), [A] atomics only.  "Its own" marks what only
 * the worker's thread touches.  "pool" in comments is ktask_pool, the one
 * instance of struct ktask_pool (pool.c).
 */
#ifndef KTASK_POOL_H
#define KTASK_POOL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "../ktask_core.h"
#include "caller.h"
#include "fault.h"
#include "testhooks.h"
#include "topology.h"

#ifdef __GLIBC__
/* glibc's cleanup buffers, the ones longjmp() and pthread_exit() run. */
extern void _pthread_cleanup_push(struct _pthread_cleanup_buffer *buffer,
				  void (*routine)(void *), void *arg);
extern void _pthread_cleanup_pop(struct _pthread_cleanup_buffer *buffer,
				 int execute);
#endif

/* What follows is the pool's own: hidden, like its definitions. */
#pragma GCC visibility push(hidden)

enum {
	W_IDLE = 0,
	W_ASSIGNED,
	W_RUNNING,
	W_DONE,
	W_CANCELLED,
	W_STATE_MASK = 0xff,
	W_SLEEPING = 0x100,
};

/* The caller sleeps on kpt_pending with this bit set. */
#define P_WAITER 0x80000000u

/*
 * Spinning before sleeping: 0.1 ms for a worker, 4096 pauses (0.1-0.2 ms
 * on current x86 CPUs) for a caller waiting for its helpers.  Every
 * SPIN_YIELD_EVERY pauses a spinner yields its CPU, so that a woken helper
 * that landed on its caller's CPU (the scheduler's habit for a futex wake)
 * does not keep the caller off it while it spins, and the other way round.
 */
#define WORKER_SPIN_NS 100000LL
#define CALLER_SPINS 4096
#define SPIN_YIELD_EVERY 128

/* A work item of a worker, and the way back from it to the worker. */
struct ktask_slot {
	struct ktask_work s_work;
	struct ktask_worker *s_worker;
};

/* A worker's record of a periodic caller (worker.c, "Periodic callers"). */
struct ktask_rhythm {
	int64_t r_last;		/* when the worker last saw an assignment */
	int64_t r_period;	/* smoothed interval between them, or 0 */
	int64_t r_dev;		/* smoothed deviation from r_period */
	int64_t r_late;		/* smoothed lateness of timed wake-ups */
	unsigned int r_regular;	/* intervals in a row close to r_period */
	unsigned int r_seen;	/* w_assigns when it last looked */
	int r_cpu;		/* the last caller's CPU then, or -1 */
};

struct ktask_worker {
	struct ktask_slot w_slots[2];	/* the core's records of its shares */
	struct ktask_work *w_kw;	/* [O] the current task's, in w_slots */
	unsigned int w_held;		/* [P] bit per slot: failed, in undo */
	struct ktask_inside w_inside;	/* [O] its entry while it works */
	bool w_blocked;			/* its own: every signal blocked */
	sigset_t w_sigmask;		/* its own: its mask unless w_blocked */
	uint32_t w_state;		/* [A] W_*, futex word */
	bool w_idle;			/* [P] on pool.idle */
	struct ktask_worker *w_next;	/* [P] pool.idle link while idle,
					 * [O] task's helper list while busy */
	unsigned int w_id;
	unsigned int w_gen;		/* pool.gen when it was started */
	int w_nice;			/* [P] while idle, [O] while busy;
					 * also its own thread's, atomic,
					 * after a task (worker.c) */
	cpu_set_t w_mask;		/* the worker's own: its affinity */
	cpu_set_t w_base;		/* its own: w_mask before it stepped
					 * aside, while w_aside */
	bool w_aside;			/* its own: off a caller's CPU */
	pthread_mutex_t w_sched_lock;	/* [S] below: worker.c */
	struct ktask_sched w_sched;	/* [S] its policy and priority */
	int w_policy;			/* [A] copies of those, for a look */
	int w_prio;			/* without the lock */
	pid_t w_tid;			/* [A] its thread id, 0 at first */
	struct ktask_creds w_creds;	/* [O] while busy, [P] while idle:
					 * its security state (caller.h) */
	int64_t w_creds_ms;		/* its own: when it read w_creds */
	bool w_dismissed;		/* [A] replaced: the thread exits */
	cpu_set_t w_pool_mask;		/* its own: its copy of pool.mask */
	unsigned int w_pool_gen;	/* pool.mask_gen of that copy */
	unsigned int w_assigns;		/* [O] assignments, cancelled too */
	struct ktask_rhythm w_rhythm;	/* the worker's own */
};

/* The process's pool, one for all tasks. */
struct ktask_pool {
	pthread_mutex_t lock;
	struct ktask_worker *idle;	/* [P] most recently used first */
	unsigned int nr_workers;	/* [P] threads alive */
	unsigned int nr_busy;		/* [P] workers owned by tasks */
	unsigned int next_id;		/* [P] */
	unsigned int gen;		/* [P] bumped in a fork child */
	unsigned int nr_callers;	/* [A] threads running a task that
					 * may have helpers */
	/*
	 * Workers' affinity between tasks, [P]: the CPUs of every caller that
	 * asked for helpers (handoff.c, pool_mask_add()).
	 */
	cpu_set_t mask;
	/* Settings, read once from the environment. */
	size_t env_max_threads;		/* KTASK_MAX_THREADS, 0 if unset */
	bool timed_choice;		/* KTASK_ALONE: choice.c on */
	unsigned int idle_ms;		/* KTASK_IDLE_MS */
	unsigned long fail_create;	/* KTASK_FAULT_THREAD_CREATE */
	clockid_t view_clock;		/* the clock of callers' views */
	int64_t view_refresh_ms;	/* and their age that is stale */
	unsigned int mask_gen;		/* [A] bumped when mask grows */
	sigset_t all;			/* every signal: a worker's mask */
};

extern struct ktask_pool ktask_pool;	/* pool.c */
extern bool ktask_pool_ready;		/* [A] pool_init() has run (pool.c) */
void ktask_pool_init_once(void);

/*
 * The calling thread's records, in the initial-exec model: a read is one
 * load off the thread pointer, no call.  The view (view.c) is read again
 * when it may be VIEW_REFRESH_MS old; a task copies it (handoff.c,
 * ktask_plat_task_init()).
 */
#define KTASK_TLS __thread __attribute__((tls_model("initial-exec")))
/* view.c: the view, read together at ktask_tls_view_ms */
extern KTASK_TLS struct ktask_cpus ktask_tls_cpus;	/* its CPUs */
extern KTASK_TLS int ktask_tls_nice;		/* its nice value */
extern KTASK_TLS sigset_t ktask_tls_sigmask;	/* its signal mask */
extern KTASK_TLS int64_t ktask_tls_view_ms;	/* when they were read */
extern KTASK_TLS struct ktask_sched ktask_tls_sched;	/* its policy */
extern KTASK_TLS struct ktask_creds ktask_tls_creds;	/* security state */
extern KTASK_TLS int ktask_tls_floor;		/* the nice floor for those */
extern KTASK_TLS bool ktask_tls_grant;		/* policy may be given on */
extern KTASK_TLS bool ktask_tls_mask_added;	/* its CPUs are in pool.mask */
/* handoff.c */
extern KTASK_TLS unsigned int ktask_tls_tasks;	/* its tasks in nr_callers */
extern KTASK_TLS struct ktask_inside *ktask_tls_inside;	/* tasks it works on */

/*
 * Regions of the pool that a signal handler's ktask_run() must not enter
 * on the thread it interrupted: with pool.lock held, inside pool_once or
 * a fork handler, reading the view (the quota cache's lock).  A call made
 * by a handler that interrupted one of them finds ktask_tls_busy set and
 * runs inline, in the handler, touching no lock (view.c,
 * ktask_plat_max_threads()).
 * The compiler fences keep the count's updates around the region's code;
 * only this thread and its signal handlers read it.
 */
extern KTASK_TLS unsigned int ktask_tls_busy;	/* pool.c */

static inline void busy_enter(void)
{
	ktask_tls_busy++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static inline void busy_exit(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	ktask_tls_busy--;
}

static inline void pool_lock(void)
{
	busy_enter();
	pthread_mutex_lock(&ktask_pool.lock);
	ktask_test_hook(KTASK_HOOK_POOL_LOCKED);
}

static inline void pool_unlock(void)
{
	pthread_mutex_unlock(&ktask_pool.lock);
	busy_exit();
}

/* Starts the pool once, as a region a signal handler's call avoids. */
static inline void pool_start(void)
{
	if (!__atomic_load_n(&ktask_pool_ready, __ATOMIC_ACQUIRE))
		ktask_pool_init_once();
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* One step of a spin: a pause, and now and then a yield. */
static inline void spin_pause(int i)
{
	if (i % SPIN_YIELD_EVERY)
		cpu_relax();
	else
		sched_yield();
}

static inline int futex_wait(uint32_t *word, uint32_t val,
			     const struct timespec *ts)
{
	if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, ts, NULL, 0))
		return errno;
	return 0;
}

static inline void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Whether @w's thread was left behind in the parent by a fork. */
static inline bool worker_stale(const struct ktask_worker *w)
{
	return w->w_gen != __atomic_load_n(&ktask_pool.gen, __ATOMIC_RELAXED);
}

/* This thread's real nice value (Linux: per thread). */
static inline int thread_nice(int fallback)
{
	int nice;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	return errno ? fallback : nice;
}

/* Never 0; 64 bits, so that a 32-bit build does not wrap after 25 days. */
static inline int64_t view_ms(void)
{
	struct timespec ts;

	clock_gettime(ktask_pool.view_clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

static inline int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Notes the worker's policy and priority, for itself and for others. */
static inline void worker_sched_note(struct ktask_worker *w,
			      const struct ktask_sched *s)
{
	w->w_sched.kss_policy = s->kss_policy;
	w->w_sched.kss_prio = s->kss_prio;
	__atomic_store_n(&w->w_policy, s->kss_policy, __ATOMIC_RELAXED);
	__atomic_store_n(&w->w_prio, s->kss_prio, __ATOMIC_RELAXED);
}

/* view.c */
void ktask_pool_view_clock(void);

/* fork.c */
void ktask_pool_fork_prepare(void);
void ktask_pool_fork_parent(void);
void ktask_pool_fork_child(void);

/* worker.c */
struct ktask_worker *ktask_worker_create(unsigned int id, unsigned int gen,
					 struct ktask_task *task, size_t node);

/* unwind.c */
void ktask_helper_left(void *arg);

/* stats.c: whether a setting's value means on (NULL: off) */
bool ktask_env_on(const char *s);

/*
 * choice.c: ktask_plat_alone() decides and starts timing a task, which
 * ktask_choice_done() ends when the call ends; ktask_tls_call is the
 * thread's innermost call.
 */
extern KTASK_TLS struct ktask_plat_call *ktask_tls_call;
void ktask_choice_done(struct ktask_plat_call *call);

/* A task timed as one with helpers got none: its time says nothing. */
static inline void ktask_choice_forget(void)
{
	if (ktask_tls_call)
		ktask_tls_call->kpc_choice = NULL;
}

#ifdef KTASK_CXX
/* chunk_cxx.cc: a helper's chunk under a catch-all, and its exception */
int ktask_cxx_call(int (*func)(void *, void *, void *), void *start,
		   void *end, void *arg, void **slot);
void ktask_cxx_drop(void *exc);
void ktask_cxx_rethrow(void *exc) __attribute__((noreturn));
#endif

#ifdef KTASK_CXX
/* Takes a helper's exception off @task, if one was kept. */
static inline void *task_exception(struct ktask_task *task)
{
	/* Acquire: pairs with the compare-and-swap in ktask_cxx_call(). */
	return __atomic_exchange_n(&task->kt_plat.kpt_exc, NULL,
				   __ATOMIC_ACQUIRE);
}
#endif

#pragma GCC visibility pop

#endif /* KTASK_POOL_H */
