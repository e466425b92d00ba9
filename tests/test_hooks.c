// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_hooks.c - white-box tests on the test-hooks build of the library
 * (a static copy with KTASK_TEST_HOOKS, lib/user/testhooks.h): a fork in
 * the narrow window between a helper's W_DONE and its count-down, and the
 * nice-value privilege check (the capability, not the user id).
 */
#include "hostutil.h"

#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/resource.h>

#include <cmocka.h>

#include <ktask.h>

#include "../lib/user/testhooks.h"

static void expect_child_ok(void (*body)(void), unsigned int secs)
{
	int st = kt_run_isolated(body, secs);

	if (st == CHILD_SKIP)
		skip();
	if (st > 128)
		fail_msg("child killed by signal %d (%s)", st - 128,
			 strsignal(st - 128));
	assert_int_equal(st, 0);
}

/* --- fork() between W_DONE and helper_done() --------------------------- */

static pid_t caller_tid, done_child;
static int at_window, forked, armed;

/* A helper that finished its share waits here until the caller forked. */
static void hold_in_window(enum ktask_hook_point point)
{
	if (point != KTASK_HOOK_DONE || kt_gettid() == caller_tid ||
	    !__atomic_exchange_n(&armed, 0, __ATOMIC_ACQ_REL))
		return;
	__atomic_store_n(&at_window, 1, __ATOMIC_RELEASE);
	kt_wait_for(&forked, 1, 5000);
}

static struct kt_meet meet;

static int window_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	kt_meet(&meet);
	if (kt_gettid() != caller_tid || done_child)
		return 0;
	/* The helper has stored W_DONE and not yet counted down: fork. */
	if (!kt_wait_for(&at_window, 1, 5000))
		return 0;
	done_child = fork();
	if (done_child == 0) {
		alarm(20);		/* a hang fails the test */
		done_child = -1;
		return 0;
	}
	__atomic_store_n(&forked, 1, __ATOMIC_RELEASE);
	return 0;
}

static void body_fork_in_done_window(void)
{
	DEFINE_KTASK_CTL(ctl, window_chunk, NULL, 1);
	int status;

	CHILD_SKIP_IF(kt_usable_cpus() < 2, "needs 2 usable CPUs");
	caller_tid = kt_gettid();
	meet.want = 2;
	armed = 1;
	ktask_test_hook_fn = hold_in_window;
	/* Two chunks: one each. */
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(NULL, 2, &ctl) == 0);
	if (done_child < 0)	/* the child: its task returned */
		_exit(kt_pool_works() && kt_pool_works() ? 0 : 2);
	CHECK(!meet.timed_out);
	CHECK(at_window);
	CHECK(done_child > 0);
	CHECK(waitpid(done_child, &status, 0) == done_child);
	if (WIFSIGNALED(status))
		fprintf(stderr, "child killed by signal %d\n",
			WTERMSIG(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_fork_between_done_and_count(void **state)
{
	(void)state;
	expect_child_ok(body_fork_in_done_window, 60);
}

/* --- Who may lower a nice value ----------------------------------------- */

static void drop_cap_sys_nice(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	CHECK(!syscall(SYS_capget, &hdr, data));
	data[CAP_SYS_NICE / 32].effective &= ~(1u << CAP_SYS_NICE % 32);
	CHECK(!syscall(SYS_capset, &hdr, data));
}

static void body_nice_floor_is_capability(void)
{
	struct rlimit rl;

	CHILD_SKIP_IF(geteuid() != 0 || ktask_nice_floor() != -20,
		      "needs root with CAP_SYS_NICE, to drop it");
	/*
	 * Root with RLIMIT_NICE 25 may go down to -5 without the capability
	 * (raising the limit needs CAP_SYS_RESOURCE, which a container may
	 * lack: then only the case below).
	 */
	rl.rlim_cur = rl.rlim_max = 25;
	if (!setrlimit(RLIMIT_NICE, &rl)) {
		drop_cap_sys_nice();
		CHECK(geteuid() == 0);
		CHECK(ktask_nice_floor() == -5);
	} else {
		drop_cap_sys_nice();
	}
	/* Root without it and with RLIMIT_NICE 0 (a default container). */
	rl.rlim_cur = rl.rlim_max = 0;
	CHECK(!setrlimit(RLIMIT_NICE, &rl));
	CHECK(geteuid() == 0);
	CHECK(ktask_nice_floor() == 20);
	/* And the kernel agrees: lowering fails. */
	CHECK(!setpriority(PRIO_PROCESS, 0, 3));
	CHECK(setpriority(PRIO_PROCESS, 0, 0) == -1);
}

static void test_nice_floor_tests_capability(void **state)
{
	(void)state;
	expect_child_ok(body_nice_floor_is_capability, 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_between_done_and_count),
		cmocka_unit_test(test_nice_floor_tests_capability),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
