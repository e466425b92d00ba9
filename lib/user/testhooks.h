/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * testhooks.h - internals the white-box tests reach by linking a static
 * copy of the library, and the pause points of the test-hooks build.
 *
 * A build with KTASK_TEST_HOOKS defined (tests/CMakeLists.txt builds one,
 * never installed) calls ktask_test_hook_fn, when a test set it, at the
 * points below, so that a test can hold a thread in a narrow window (and,
 * say, fork there).  Other builds compile the calls away.
 */
#ifndef KTASK_TESTHOOKS_H
#define KTASK_TESTHOOKS_H

enum ktask_hook_point {
	KTASK_HOOK_DONE,	/* a helper stored W_DONE, not yet counted down */
	KTASK_HOOK_POOL_LOCKED,	/* a thread just took pool.lock */
	KTASK_HOOK_POOL_INIT,	/* inside pool_init(), under pool_once */
	KTASK_HOOK_SIGMASK_READ, /* a caller read its signal mask */
};

#ifdef KTASK_TEST_HOOKS
extern void (*ktask_test_hook_fn)(enum ktask_hook_point point);
#define ktask_test_hook(point)						\
	do {								\
		if (ktask_test_hook_fn)					\
			ktask_test_hook_fn(point);			\
	} while (0)
/* Successful affinity changes of workers, for tests that count them. */
extern unsigned long ktask_test_affinity_calls;
#define ktask_test_count_affinity()					\
	__atomic_fetch_add(&ktask_test_affinity_calls, 1, __ATOMIC_RELAXED)
/* Futex wake-ups of sleeping workers by their assigners. */
extern unsigned long ktask_test_wake_calls;
#define ktask_test_count_wake()						\
	__atomic_fetch_add(&ktask_test_wake_calls, 1, __ATOMIC_RELAXED)
#else
#define ktask_test_hook(point) do { } while (0)
#define ktask_test_count_affinity() do { } while (0)
#define ktask_test_count_wake() do { } while (0)
#endif

/* view.c: the lowest nice value this thread may set (capability, rlimit). */
int ktask_nice_floor(void);

#endif /* KTASK_TESTHOOKS_H */
