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

#include "childtest.h"

#include <ktask.h>

#include "../lib/user/testhooks.h"

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

/* --- ktask_run() from a signal handler inside the pool's locked regions -- */

#define SIG_UNITS 16

static enum ktask_hook_point sig_point;
static int sig_armed, sig_units, sig_other_thread;
/* Volatile: raise() is a leaf function to the compiler. */
static volatile sig_atomic_t sig_handled, sig_ret = -1;

static int sig_chunk(void *start, void *end, void *arg)
{
	(void)arg;
	if (kt_gettid() != caller_tid)
		__atomic_fetch_add(&sig_other_thread, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sig_units, (int)((char *)end - (char *)start),
			   __ATOMIC_RELAXED);
	return 0;
}

/* The handler runs a task that would want helpers, on the caller. */
static void sig_handler(int sig)
{
	DEFINE_KTASK_CTL(ctl, sig_chunk, NULL, 1);

	(void)sig;
	sig_ret = ktask_run((char *)0 + 4096, SIG_UNITS, &ctl);
	sig_handled = 1;
}

/* The caller is inside the region: a signal arrives right there. */
static void signal_in_region(enum ktask_hook_point point)
{
	if (point != sig_point || kt_gettid() != caller_tid || !sig_armed)
		return;
	sig_armed--;
	raise(SIGUSR1);		/* delivered before raise() returns */
}

static int plain_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	return 0;
}

static void body_signal_in_region(enum ktask_hook_point point)
{
	DEFINE_KTASK_CTL(ctl, plain_chunk, NULL, 1);
	struct sigaction sa = { .sa_handler = sig_handler };

	/* Helpers are reserved under pool.lock only with a CPU to spare. */
	CHILD_SKIP_IF(point == KTASK_HOOK_POOL_LOCKED && kt_usable_cpus() < 2,
		      "needs 2 usable CPUs");
	CHECK(!sigaction(SIGUSR1, &sa, NULL));
	caller_tid = kt_gettid();
	sig_point = point;
	/*
	 * pool.lock: when the caller reserves its helpers and when it gives
	 * them back.  The second counts: the caller no longer counts as one
	 * then, so the handler's task finds a CPU for a helper and, but for
	 * the fix, takes pool.lock (with more CPUs, the first too).
	 */
	sig_armed = point == KTASK_HOOK_POOL_LOCKED ? 2 : 1;
	ktask_test_hook_fn = signal_in_region;
	/* The child's first task: pool_init() runs in it. */
	CHECK(ktask_run(NULL, 64, &ctl) == 0);
	CHECK(!sig_armed);
	CHECK(sig_handled);
	CHECK(sig_ret == 0);
	CHECK(sig_units == SIG_UNITS * (point == KTASK_HOOK_POOL_LOCKED ? 2 : 1));
	CHECK(sig_other_thread == 0);	/* inline, in the handler */
	ktask_test_hook_fn = NULL;
	/* The pool works on afterwards, from a handler too. */
	sig_handled = 0;
	sig_units = 0;
	CHECK(raise(SIGUSR1) == 0);
	CHECK(sig_handled && sig_ret == 0);
	CHECK(__atomic_load_n(&sig_units, __ATOMIC_RELAXED) == SIG_UNITS);
	CHECK(kt_pool_works());
}

static void body_signal_under_pool_lock(void)
{
	body_signal_in_region(KTASK_HOOK_POOL_LOCKED);
}

static void body_signal_in_pool_init(void)
{
	body_signal_in_region(KTASK_HOOK_POOL_INIT);
}

/*
 * Without the per-thread region count the handler's call deadlocks on
 * pool.lock (a default mutex its own thread holds) or on pool_once (its
 * own thread is inside it), and the watchdog kills the child.
 */
static void test_signal_handler_under_pool_lock(void **state)
{
	(void)state;
	expect_child_ok(body_signal_under_pool_lock, 30);
}

static void test_signal_handler_in_pool_init(void **state)
{
	(void)state;
	expect_child_ok(body_signal_in_pool_init, 30);
}

/* --- Back-to-back tasks read the signal mask with the view only --------- */

static int mask_reads;

static void count_mask_reads(enum ktask_hook_point point)
{
	if (point == KTASK_HOOK_SIGMASK_READ && kt_gettid() == caller_tid)
		mask_reads++;
}

/*
 * A system call per task made back-to-back tasks 4x slower in a virtual
 * machine: the caller's signal mask is read with its view of CPUs and nice
 * value, at most once per 10 ms, not once per task.  The bound follows the
 * time the tasks took, so a slow machine only makes the check weaker.
 */
static void body_mask_read_with_view(void)
{
	DEFINE_KTASK_CTL(ctl, plain_chunk, NULL, 1);
	double start, ms;
	int i, tasks = 2000;

	CHILD_SKIP_IF(kt_usable_cpus() < 2, "needs 2 usable CPUs");
	ktask_ctl_set_max_threads(&ctl, 2);
	caller_tid = kt_gettid();
	CHECK(ktask_run(NULL, 2, &ctl) == 0);
	ktask_test_hook_fn = count_mask_reads;
	start = kt_now();
	for (i = 0; i < tasks; i++)
		CHECK(ktask_run(NULL, 2, &ctl) == 0);
	ms = (kt_now() - start) * 1000;
	ktask_test_hook_fn = NULL;
	fprintf(stderr, "%d tasks in %.1f ms: %d signal mask reads\n", tasks,
		ms, mask_reads);
	/*
	 * The view is read again once the coarse clock moved 10 ms less its
	 * resolution (at most 5 ms, else the precise clock and 10 ms), so at
	 * most one read per 5 ms: per task would be 2000.
	 */
	CHECK(mask_reads <= ms / 5 + 2);
}

static void test_mask_read_with_view(void **state)
{
	(void)state;
	expect_child_ok(body_mask_read_with_view, 60);
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
		cmocka_unit_test(test_signal_handler_under_pool_lock),
		cmocka_unit_test(test_signal_handler_in_pool_init),
		cmocka_unit_test(test_mask_read_with_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
