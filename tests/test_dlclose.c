// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_dlclose.c - a program that dlopen()s libktask, runs a task with a
 * helper and dlclose()s it must go on living: the idle worker wakes later
 * (its idle timeout, 30 ms here) and must find its code still mapped.
 * Not linked with libktask: KTASK_SO names the library to open.
 */
#include "hostutil.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "childtest.h"

#include <ktask.h>

static struct kt_meet meet;

static void body_dlclose(void)
{
	int (*run)(void *, size_t, struct ktask_ctl *);
	void (*last_stats)(struct ktask_stats *);
	/* Not DEFINE_KTASK_CTL(): it names ktask_iter_range, from the library. */
	struct ktask_ctl ctl = {
		.kc_thread_func = kt_meet_chunk,
		.kc_func_arg = &meet,
		.kc_min_chunk_size = 1,
		.kc_max_threads = 2,
	};
	struct ktask_stats st;
	void *lib;

	CHILD_SKIP_IF(kt_usable_cpus() < 2, "needs 2 usable CPUs");
	setenv("KTASK_IDLE_MS", "30", 1);
	lib = dlopen(KTASK_SO, RTLD_NOW | RTLD_LOCAL);
	CHECK(lib);
	run = (int (*)(void *, size_t, struct ktask_ctl *))dlsym(lib,
								 "ktask_run");
	last_stats = (void (*)(struct ktask_stats *))dlsym(lib,
							    "ktask_last_stats");
	CHECK(run && last_stats);
	meet.want = 2;
	CHECK(run(NULL, 8, &ctl) == 0);
	last_stats(&st);
	CHECK(st.ks_helpers == 1 && !meet.timed_out);
	CHECK(dlclose(lib) == 0);
	/* The worker spins, sleeps, times out and exits meanwhile. */
	kt_sleep_ms(500);
	/* Opened again, the library still works. */
	lib = dlopen(KTASK_SO, RTLD_NOW | RTLD_LOCAL);
	CHECK(lib);
	run = (int (*)(void *, size_t, struct ktask_ctl *))dlsym(lib,
								 "ktask_run");
	memset(&meet, 0, sizeof(meet));
	meet.want = 2;
	CHECK(run(NULL, 8, &ctl) == 0 && !meet.timed_out);
	CHECK(dlclose(lib) == 0);
	kt_sleep_ms(200);
}

static void test_dlclose_with_idle_worker(void **state)
{
	(void)state;
	expect_child_ok(body_dlclose, 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlclose_with_idle_worker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
