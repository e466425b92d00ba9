// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_noalloc.c - a task allocates nothing once the pool is warm, and a
 * task that runs inline takes no lock and hands nothing off.
 *
 * The test program defines malloc() and friends and pthread_mutex_lock()
 * itself, counting calls before passing them on; the shared library's calls
 * land here too.  Sanitizer builds, which intercept these themselves, leave
 * this test out.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>

#include <cmocka.h>

#include <ktask.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

static int counting;
static int allocs, locks;

static void count(int *what)
{
	if (__atomic_load_n(&counting, __ATOMIC_RELAXED))
		__atomic_fetch_add(what, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
	count(&allocs);
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	count(&allocs);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	count(&allocs);
	return __libc_realloc(p, size);
}

int posix_memalign(void **p, size_t align, size_t size)
{
	count(&allocs);
	*p = __libc_memalign(align, size);
	return *p ? 0 : ENOMEM;
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	static int (*real)(pthread_mutex_t *);

	if (!real)
		real = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT,
							 "pthread_mutex_lock");
	count(&locks);
	return real(m);
}

static unsigned char buf[1 << 16];
static struct kt_tids tids;

static int touch(unsigned char *start, unsigned char *end, void *arg)
{
	(void)arg;
	kt_tids_add(&tids);
	for (unsigned char *p = start; p < end; p++)
		(*p)++;
	return 0;
}

static void test_threaded_tasks_allocate_nothing(void **state)
{
	DEFINE_KTASK_CTL(ctl, touch, NULL, 64);
	struct ktask_stats st;
	int with_helpers = 0;

	(void)state;
	/* Warm up: start the pool and every thread's first-use state. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), 0);
	/* Long enough to span re-reads of the cgroup quota (every 100 ms). */
	double end = kt_now() + 0.35;
	int n = 0;

	__atomic_store_n(&counting, 1, __ATOMIC_RELAXED);
	for (n = 0; n < 1000 || kt_now() < end; n++) {
		assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), 0);
		ktask_last_stats(&st);
		with_helpers += st.ks_helpers > 0;
	}
	__atomic_store_n(&counting, 0, __ATOMIC_RELAXED);
	assert_int_equal(allocs, 0);
	if (kt_usable_cpus() >= 2)
		assert_int_equal(with_helpers, n);
}

static void test_inline_task_no_lock_no_handoff(void **state)
{
	DEFINE_KTASK_CTL(ctl, touch, NULL, sizeof(buf));

	(void)state;
	memset(&tids, 0, sizeof(tids));
	allocs = locks = 0;
	__atomic_store_n(&counting, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), 0);
	__atomic_store_n(&counting, 0, __ATOMIC_RELAXED);
	assert_int_equal(allocs, 0);
	assert_int_equal(locks, 0);
	assert_int_equal(tids.nr, 1);
	assert_int_equal(tids.tids[0], kt_gettid());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threaded_tasks_allocate_nothing),
		cmocka_unit_test(test_inline_task_no_lock_no_handoff),
	};

	return cmocka_run_group_tests_name("noalloc", tests, NULL, NULL);
}
