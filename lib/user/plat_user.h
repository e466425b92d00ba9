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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct ktask_lock {
	pthread_mutex_t kl_mutex;
};

static inline void ktask_lock_init(struct ktask_lock *l)
{
	pthread_mutex_init(&l->kl_mutex, NULL);
}

static inline void ktask_lock_destroy(struct ktask_lock *l)
{
	pthread_mutex_destroy(&l->kl_mutex);
}

static inline void ktask_lock(struct ktask_lock *l)
{
	pthread_mutex_lock(&l->kl_mutex);
}

static inline void ktask_unlock(struct ktask_lock *l)
{
	pthread_mutex_unlock(&l->kl_mutex);
}

struct ktask_worker;

/*
 * What the pool keeps per task.  kpt_pending counts the helpers that may
 * still run chunks; its top bit says the caller sleeps on it (a futex).
 */
struct ktask_plat_task {
	struct ktask_worker *kpt_helpers;	/* owned by the caller */
	uint32_t kpt_pending;			/* atomic, futex word */
	int kpt_caller_nice;			/* the caller's nice value */
	int kpt_nice;				/* the helpers' */
	cpu_set_t kpt_mask;			/* where the caller may run */
};

#endif /* KTASK_PLAT_USER_H */
