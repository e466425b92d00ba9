// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_leave.c - thread functions that do not return: a SIGSEGV handler
 * that siglongjmp()s out of the caller's chunk (the task is abandoned
 * safely: helpers finish and are waited for before the caller's stack is
 * given up, and the pool works on, fork() included), out of a helper's
 * chunk back into that chunk (the documented way on a helper), a caller's
 * chunk that leaves by pthread_exit() (abandoned like a jump), and a
 * helper's chunk that leaves by pthread_exit() (refused: abort(), not a
 * caller that waits forever).  The C++ exception cases are in
 * test_leave_cxx.cc.
 */
#include "hostutil.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include <ktask.h>

static void expect_child_status(void (*body)(void), unsigned int secs,
				int want)
{
	int st = kt_run_isolated(body, secs);

	if (st == CHILD_SKIP)
		skip();
	if (st != want && st > 128)
		fail_msg("child killed by signal %d (%s)", st - 128,
			 strsignal(st - 128));
	assert_int_equal(st, want);
}

static void expect_child_ok(void (*body)(void), unsigned int secs)
{
	expect_child_status(body, secs, 0);
}

/* A page that faults, and a buffer per thread to jump back to. */
static char *guard;
static __thread sigjmp_buf jump;
static __thread volatile sig_atomic_t jump_set;

static void segv_handler(int sig)
{
	(void)sig;
	if (!jump_set)
		_exit(3);	/* a fault on a thread with nowhere to go */
	jump_set = 0;
	siglongjmp(jump, 1);
}

static void setup_guard(void)
{
	struct sigaction sa = { .sa_handler = segv_handler };

	guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		     0);
	CHECK(guard != MAP_FAILED);
	CHECK(!sigaction(SIGSEGV, &sa, NULL));
}

/* --- siglongjmp() out of the caller's chunk ------------------------------ */

static pid_t caller_tid;
static struct kt_meet meet;
static int helper_finished, landed, late_chunks;

static int leave_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	if (__atomic_load_n(&landed, __ATOMIC_ACQUIRE))
		__atomic_fetch_add(&late_chunks, 1, __ATOMIC_RELAXED);
	kt_meet(&meet);
	if (kt_gettid() == caller_tid) {
		(void)*(volatile char *)guard;	/* leaves ktask_run() */
		return 0;
	}
	/* The helper is mid-chunk when its caller leaves. */
	kt_sleep_ms(100);
	__atomic_store_n(&helper_finished, 1, __ATOMIC_RELEASE);
	return 0;
}

/* Overwrites the stack where the abandoned call's frames were. */
static __attribute__((noinline)) void scribble_stack(void)
{
	volatile char junk[16384];

	memset((char *)junk, 0xa5, sizeof(junk));
}

static void body_longjmp_out_of_caller_chunk(void)
{
	DEFINE_KTASK_CTL(ctl, leave_chunk, NULL, 1);
	int old, status;
	pid_t pid;

	CHILD_SKIP_IF(kt_usable_cpus() < 2, "needs 2 usable CPUs");
	setup_guard();
	caller_tid = kt_gettid();
	meet.want = 2;
	ktask_ctl_set_max_threads(&ctl, 2);
	if (!sigsetjmp(jump, 1)) {
		jump_set = 1;
		ktask_run(NULL, 64, &ctl);
		CHECK(!"ktask_run() returned");
	}
	__atomic_store_n(&landed, 1, __ATOMIC_RELEASE);
	CHECK(!meet.timed_out);
	/* The helper finished its chunk before the caller's stack was gone. */
	CHECK(__atomic_load_n(&helper_finished, __ATOMIC_ACQUIRE));
	scribble_stack();
	kt_sleep_ms(50);
	/* No chunk of the abandoned task ran after the caller left. */
	CHECK(__atomic_load_n(&late_chunks, __ATOMIC_RELAXED) == 0);
	/* Cancellation is as it was before the call. */
	CHECK(!pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
	CHECK(old == PTHREAD_CANCEL_ENABLE);
	/* The caller no longer counts: its next tasks get helpers. */
	CHECK(kt_pool_works());
	CHECK(kt_pool_works());
	/* fork() walks the thread's tasks: none is left of the dead call. */
	pid = fork();
	if (pid == 0) {
		alarm(20);
		_exit(kt_pool_works() ? 0 : 2);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Without the abandon the helper goes on with a task whose stack is
 * reused (a crash, a fault with nowhere to jump, or chunks after the
 * caller left), cancellation stays disabled, the caller count leaks (no
 * helper ever again) and fork() spins on the dead task's lock.
 */
static void test_longjmp_out_of_caller_chunk(void **state)
{
	(void)state;
	expect_child_ok(body_longjmp_out_of_caller_chunk, 60);
}

/* A nested call left by the same jump: both tasks are abandoned. */
static int inner_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	if (kt_gettid() == caller_tid)
		(void)*(volatile char *)guard;
	return 0;
}

static int outer_chunk(void *start, void *end, void *arg)
{
	DEFINE_KTASK_CTL(ctl, inner_chunk, NULL, 1);

	(void)start, (void)end, (void)arg;
	kt_meet(&meet);		/* the caller gets a chunk */
	if (kt_gettid() == caller_tid)
		ktask_run(NULL, 16, &ctl);
	return 0;
}

static void body_longjmp_out_of_nested_calls(void)
{
	DEFINE_KTASK_CTL(ctl, outer_chunk, NULL, 1);
	int old;

	CHILD_SKIP_IF(kt_usable_cpus() < 2, "needs 2 usable CPUs");
	setup_guard();
	caller_tid = kt_gettid();
	meet.want = 2;
	ktask_ctl_set_max_threads(&ctl, 2);
	if (!sigsetjmp(jump, 1)) {
		jump_set = 1;
		ktask_run(NULL, 64, &ctl);
		CHECK(!"ktask_run() returned");
	}
	CHECK(!meet.timed_out);
	scribble_stack();
	CHECK(!pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
	CHECK(old == PTHREAD_CANCEL_ENABLE);
	CHECK(kt_pool_works());
}

static void test_longjmp_out_of_nested_calls(void **state)
{
	(void)state;
	expect_child_ok(body_longjmp_out_of_nested_calls, 60);
}

/* --- pthread_exit() from the caller's chunk ----------------------------- */

static int exit_on_caller(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	if (__atomic_load_n(&landed, __ATOMIC_ACQUIRE))
		__atomic_fetch_add(&late_chunks, 1, __ATOMIC_RELAXED);
	kt_meet(&meet);
	if (kt_gettid() == caller_tid)
		pthread_exit(NULL);
	kt_sleep_ms(100);
	__atomic_store_n(&helper_finished, 1, __ATOMIC_RELEASE);
	return 0;
}

static void *exiting_caller(void *arg)
{
	DEFINE_KTASK_CTL(ctl, exit_on_caller, NULL, 1);

	(void)arg;
	caller_tid = kt_gettid();
	ktask_ctl_set_max_threads(&ctl, 2);
	ktask_run(NULL, 64, &ctl);
	return (void *)1;	/* never */
}

static void body_pthread_exit_in_caller_chunk(void)
{
	pthread_t t;
	void *ret;

	CHILD_SKIP_IF(kt_usable_cpus() < 2, "needs 2 usable CPUs");
	meet.want = 2;
	CHECK(!pthread_create(&t, NULL, exiting_caller, NULL));
	CHECK(!pthread_join(t, &ret));
	__atomic_store_n(&landed, 1, __ATOMIC_RELEASE);
	CHECK(ret == NULL);
	CHECK(!meet.timed_out);
	CHECK(__atomic_load_n(&helper_finished, __ATOMIC_ACQUIRE));
	kt_sleep_ms(50);
	CHECK(__atomic_load_n(&late_chunks, __ATOMIC_RELAXED) == 0);
	/* The exited thread no longer counts as a caller. */
	CHECK(kt_pool_works());
}

static void test_pthread_exit_in_caller_chunk(void **state)
{
	(void)state;
	expect_child_ok(body_pthread_exit_in_caller_chunk, 60);
}

/* --- A fault in a helper's chunk, caught inside the chunk --------------- */

static int recovered, recovered_on_helper;

static int recover_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	kt_meet(&meet);
	if (!sigsetjmp(jump, 1)) {
		jump_set = 1;
		(void)*(volatile char *)guard;
		CHECK(!"no fault");
	}
	__atomic_fetch_add(&recovered, 1, __ATOMIC_RELAXED);
	if (kt_gettid() != caller_tid)
		__atomic_fetch_add(&recovered_on_helper, 1, __ATOMIC_RELAXED);
	return -EFAULT;
}

static void body_fault_caught_in_helper_chunk(void)
{
	DEFINE_KTASK_CTL(ctl, recover_chunk, NULL, 1);

	CHILD_SKIP_IF(kt_usable_cpus() < 2, "needs 2 usable CPUs");
	setup_guard();
	caller_tid = kt_gettid();
	meet.want = 2;
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(NULL, 64, &ctl) == -EFAULT);
	CHECK(!meet.timed_out);
	CHECK(recovered == 2);
	CHECK(recovered_on_helper == 1);
	CHECK(kt_pool_works());
}

static void test_fault_caught_in_helper_chunk(void **state)
{
	(void)state;
	expect_child_ok(body_fault_caught_in_helper_chunk, 60);
}

/* --- A helper's chunk that never returns: refused ------------------------ */

static int exit_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	kt_meet(&meet);
	if (kt_gettid() != caller_tid)
		pthread_exit(NULL);
	return 0;
}

static void body_pthread_exit_on_helper(void)
{
	DEFINE_KTASK_CTL(ctl, exit_chunk, NULL, 1);

	CHILD_SKIP_IF(kt_usable_cpus() < 2, "needs 2 usable CPUs");
	caller_tid = kt_gettid();
	meet.want = 2;
	ktask_ctl_set_max_threads(&ctl, 2);
	ktask_run(NULL, 64, &ctl);
	_exit(4);	/* the caller must not get here */
}

/* The process aborts with a message instead of waiting for the helper. */
static void test_pthread_exit_on_helper_aborts(void **state)
{
	(void)state;
	expect_child_status(body_pthread_exit_on_helper, 30, 128 + SIGABRT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longjmp_out_of_caller_chunk),
		cmocka_unit_test(test_longjmp_out_of_nested_calls),
		cmocka_unit_test(test_pthread_exit_in_caller_chunk),
		cmocka_unit_test(test_fault_caught_in_helper_chunk),
		cmocka_unit_test(test_pthread_exit_on_helper_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
