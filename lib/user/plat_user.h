/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * plat_user.h - the userland home of the ktask core: GCC atomics, pthread
 * mutexes, and a futex-backed count of helpers still working on a task.
 */
#ifndef KTASK_PLAT_USER_H
#define KTASK_PLAT_USER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caller.h"

/* Marks the library's exported definitions; everything else is hidden. */
#define KTASK_PUBLIC __attribute__((visibility("default")))
#define KTASK_EXPORT(sym) _Static_assert(1, #sym)

#define ktask_unlikely(x) __builtin_expect(!!(x), 0)

#define ktask_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ktask_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ktask_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* Full compare-and-swap: acquire and release on success, acquire on failure. */
#define ktask_cas(p, oldp, new)						\
	__atomic_compare_exchange_n((p), (oldp), (new), false,		\
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

/*
 * kl_owner names the thread holding the lock, so that a fork handler can
 * tell a lock the forking thread holds itself from one it must wait for.
 */
struct ktask_lock {
	pthread_mutex_t kl_mutex;
	pthread_t kl_owner;		/* atomic: holder, 0 when free */
};

static inline void ktask_lock_init(struct ktask_lock *l)
{
	pthread_mutex_init(&l->kl_mutex, NULL);
	l->kl_owner = 0;
}

static inline void ktask_lock_destroy(struct ktask_lock *l)
{
	pthread_mutex_destroy(&l->kl_mutex);
}

static inline void ktask_lock(struct ktask_lock *l)
{
	pthread_mutex_lock(&l->kl_mutex);
	__atomic_store_n(&l->kl_owner, pthread_self(), __ATOMIC_RELAXED);
}

static inline void ktask_unlock(struct ktask_lock *l)
{
	__atomic_store_n(&l->kl_owner, (pthread_t)0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l->kl_mutex);
}

/*
 * A whole ktask_run_numa() call runs with the calling thread's
 * cancellation disabled: a helper may still be using the task, which lives
 * on the caller's stack.  A request made meanwhile acts at the caller's
 * first cancellation point after the call.  (No system call: glibc keeps
 * the state in the thread's descriptor.)
 *
 * A caller that leaves the call from inside a thread function, by
 * siglongjmp() out of a signal handler or by a C++ exception, abandons
 * the task: dispatch stops, its helpers finish their chunks and are waited
 * for, the pool's records are restored, and only then is the caller's
 * stack given up (unwind.c, call_abandon()).  A siglongjmp() is caught by a
 * glibc cleanup buffer (glibc runs those that a longjmp passes), an
 * exception by the cleanup attribute (the library is built with
 * -fexceptions).
 */
#define KTASK_PLAT_CALL_HOOKS 1

struct ktask_inside;
struct ktask_task;

struct ktask_plat_call {
#ifdef __GLIBC__
	struct _pthread_cleanup_buffer kpc_cleanup;
#endif
	struct ktask_inside *kpc_outer;	/* the thread's tasks at entry */
	struct ktask_plat_call *kpc_outer_call;	/* the thread's call then */
	struct ktask_choice *kpc_choice;	/* the kind of task timed
						 * (choice.c), or NULL */
	int64_t kpc_t0;			/* when its timing began */
	uint32_t kpc_choice_gen;	/* kpc_choice's kind then */
	bool kpc_alone;			/* run without helpers, by choice */
	int kpc_cancel;			/* cancellation state at entry */
	bool kpc_done;			/* ended or abandoned */
};

void ktask_plat_call_begin(struct ktask_plat_call *call);
void ktask_plat_call_end(struct ktask_plat_call *call);
void ktask_plat_call_unwind(struct ktask_plat_call *call);

#define KTASK_PLAT_CALL_ATTR __attribute__((cleanup(ktask_plat_call_unwind)))

/*
 * An exception resumes unwinding in each frame's own cleanup code, with
 * the frames below it gone: the task is abandoned in the frame that holds
 * it (ktask_run_threads()), the call's state in ktask_run_numa()'s.
 */
void ktask_plat_task_unwind(struct ktask_task *task);

#define KTASK_PLAT_TASK_ATTR __attribute__((cleanup(ktask_plat_task_unwind)))

/*
 * A helper's chunk runs under a C++ catch-all where the library has one
 * (unwind.c); the caller's runs plainly, an exception unwinding the call.
 */
struct ktask_node;
struct ktask_ctl;
bool ktask_plat_alone(const struct ktask_node *nodes, size_t nr_nodes,
		      const struct ktask_ctl *ctl);
#define ktask_plat_alone ktask_plat_alone
bool ktask_plat_alone_overdue(size_t done, size_t total);
#define ktask_plat_alone_overdue ktask_plat_alone_overdue

struct ktask_work;
int ktask_plat_helper_chunk(struct ktask_work *kw, void *start, void *end);

#define ktask_plat_call_chunk(kw, helper, ctl, start, end)		\
	((helper) ? ktask_plat_helper_chunk((kw), (start), (end)) :	\
	 (ctl)->kc_thread_func((start), (end), (ctl)->kc_func_arg))

struct ktask_worker;
struct ktask_task;

/*
 * One task a thread is working on, caller or helper: the thread's tasks
 * form a stack in thread-local storage, which the fork handlers walk.
 */
struct ktask_inside {
	struct ktask_task *ki_task;
	struct ktask_inside *ki_outer;
	bool ki_caller;
	bool ki_locked;		/* kt_lock taken by the fork handler */
	bool ki_released;	/* the caller's: helpers given back, in undo */
};

/*
 * What the pool keeps per task.  kpt_pending counts the helpers that may
 * still run chunks; its top bit says the caller sleeps on it (a futex).
 */
struct ktask_plat_task {
	struct ktask_worker *kpt_helpers;	/* owned by the caller */
	uint32_t kpt_pending;			/* atomic, futex word */
	int kpt_caller_nice;			/* the caller's nice value */
	int kpt_nice;				/* the helpers' */
	bool kpt_have_sigmask;			/* kpt_sigmask was read */
	bool kpt_over;				/* ktask_plat_task_done() ran */
	void *kpt_exc;				/* atomic: a helper's exception
						 * (std::exception_ptr *) */
	int kpt_cpu;				/* the caller's CPU then, or -1 */
	int kpt_floor;				/* lowest nice it may set */
	bool kpt_grant;				/* its policy may be given on */
	struct ktask_sched kpt_sched;		/* the caller's policy */
	struct ktask_creds kpt_creds;		/* and security state */
	struct ktask_inside kpt_inside;		/* the caller's entry */
	cpu_set_t kpt_mask;			/* where the caller may run */
	sigset_t kpt_sigmask;			/* the caller's signal mask */
};

#endif /* KTASK_PLAT_USER_H */
