// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_leave_cxx.cc - C++ exceptions thrown by thread functions.  One
 * thrown in the caller's chunk propagates out of ktask_run() after the
 * task's helpers finished their chunks, with the pool's state restored
 * (cancellation, caller count, fork); one thrown in a helper's chunk is
 * rethrown in the caller after every helper stopped (a library built
 * without C++ ends the process through std::terminate() instead, loudly,
 * as documented).  Each case runs in a child process under an alarm.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>

#include <ktask.h>

#include "childcheck.h"

static pid_t gettid_now()
{
	return (pid_t)syscall(SYS_gettid);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

static int usable_cpus()
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
}

static pid_t caller_tid;
static std::atomic<int> arrived, helper_finished, landed, late_chunks;

/* Both threads in a chunk at once, or 5 s passed. */
static void meet()
{
	arrived++;
	for (int i = 0; i < 5000 && arrived.load() < 2; i++)
		sleep_ms(1);
}

static int throw_on_caller(void *, void *, void *)
{
	if (landed.load())
		late_chunks++;
	meet();
	if (gettid_now() == caller_tid)
		throw std::runtime_error("from the caller's chunk");
	sleep_ms(100);
	helper_finished = 1;
	return 0;
}

static std::atomic<int> meet2_tids[2];
static std::atomic<int> meet2_nr;

static int meet_chunk(void *, void *, void *)
{
	int me = gettid_now(), n = meet2_nr.load();

	if (!(n > 0 && meet2_tids[0] == me) && !(n > 1 && meet2_tids[1] == me)) {
		int i = meet2_nr++;

		if (i < 2)
			meet2_tids[i] = me;
	}
	for (int i = 0; i < 5000 && meet2_nr.load() < 2; i++)
		sleep_ms(1);
	return 0;
}

/* Whether a task gets a helper that really runs chunks. */
static bool pool_works()
{
	DEFINE_KTASK_CTL(ctl, meet_chunk, NULL, 1);

	meet2_nr = 0;
	meet2_tids[0] = meet2_tids[1] = 0;
	return !ktask_run(NULL, 8, &ctl) && meet2_nr.load() >= 2;
}

static __attribute__((noinline)) void scribble_stack()
{
	volatile char junk[16384];

	memset((char *)junk, 0xa5, sizeof(junk));
}

static int body_throw_in_caller_chunk()
{
	DEFINE_KTASK_CTL(ctl, throw_on_caller, NULL, 1);
	bool caught = false;
	int old, status;
	pid_t pid;

	if (usable_cpus() < 2)
		return 77;
	caller_tid = gettid_now();
	ktask_ctl_set_max_threads(&ctl, 2);
	try {
		ktask_run(NULL, 64, &ctl);
	} catch (const std::runtime_error &e) {
		caught = !strcmp(e.what(), "from the caller's chunk");
	}
	landed = 1;
	CHECK(caught);
	CHECK(arrived.load() >= 2);
	/* The helper finished before the exception left ktask_run(). */
	CHECK(helper_finished.load());
	scribble_stack();
	sleep_ms(50);
	CHECK(late_chunks.load() == 0);
	CHECK(!pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
	CHECK(old == PTHREAD_CANCEL_ENABLE);
	CHECK(pool_works());
	CHECK(pool_works());
	pid = fork();
	if (pid == 0) {
		alarm(20);
		_exit(pool_works() ? 0 : 2);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return 0;
}

static int inner_throw(void *, void *, void *)
{
	if (gettid_now() == caller_tid)
		throw 42;
	return 0;
}

static int outer_nests(void *, void *, void *)
{
	DEFINE_KTASK_CTL(ctl, inner_throw, NULL, 1);

	meet();		/* the caller gets a chunk */
	if (gettid_now() == caller_tid)
		ktask_run(NULL, 16, &ctl);
	return 0;
}

static int body_throw_through_nested_calls()
{
	DEFINE_KTASK_CTL(ctl, outer_nests, NULL, 1);
	int got = 0, old;

	if (usable_cpus() < 2)
		return 77;
	caller_tid = gettid_now();
	ktask_ctl_set_max_threads(&ctl, 2);
	try {
		ktask_run(NULL, 64, &ctl);
	} catch (int v) {
		got = v;
	}
	CHECK(got == 42);
	scribble_stack();
	CHECK(!pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
	CHECK(old == PTHREAD_CANCEL_ENABLE);
	CHECK(pool_works());
	return 0;
}

static std::atomic<int> caller_finished, chunks_after_throw, thrown;

static int throw_on_helper(void *, void *, void *)
{
	if (thrown.load())
		chunks_after_throw++;
	meet();
	if (gettid_now() != caller_tid) {
		thrown = 1;
		throw std::runtime_error("from a helper's chunk");
	}
	/* The caller is mid-chunk when its helper throws. */
	sleep_ms(100);
	caller_finished = 1;
	return 0;
}

static int body_throw_in_helper_chunk()
{
	DEFINE_KTASK_CTL(ctl, throw_on_helper, NULL, 1);
	bool caught = false;
	int old;

	if (usable_cpus() < 2)
		return 77;
	caller_tid = gettid_now();
	ktask_ctl_set_max_threads(&ctl, 2);
	try {
		ktask_run(NULL, 64, &ctl);
	} catch (const std::runtime_error &e) {
		caught = !strcmp(e.what(), "from a helper's chunk");
	}
	CHECK(caught);
	CHECK(arrived.load() >= 2);
	CHECK(caller_finished.load());
	/* Dispatch stopped: each thread may have begun one more chunk. */
	CHECK(chunks_after_throw.load() <= 2);
	CHECK(!pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
	CHECK(old == PTHREAD_CANCEL_ENABLE);
	CHECK(pool_works());
	CHECK(pool_works());
	return 0;
}

#ifdef KTASK_CXX
/* A nested call on a helper: its helper's exception crosses both. */
static int inner_throw_on_helper(void *, void *, void *)
{
	if (gettid_now() != caller_tid)
		throw 7;
	return 0;
}

static int outer_runs_nested(void *, void *, void *)
{
	DEFINE_KTASK_CTL(ctl, inner_throw_on_helper, NULL, 1);

	meet();
	if (gettid_now() != caller_tid)
		ktask_run(NULL, 16, &ctl);	/* inline on a full machine */
	return 0;
}

static int body_throw_on_helper_through_nested_call()
{
	DEFINE_KTASK_CTL(ctl, outer_runs_nested, NULL, 1);
	int got = 0;

	if (usable_cpus() < 2)
		return 77;
	caller_tid = gettid_now();
	ktask_ctl_set_max_threads(&ctl, 2);
	try {
		ktask_run(NULL, 64, &ctl);
	} catch (int v) {
		got = v;
	}
	CHECK(got == 7);
	CHECK(pool_works());
	return 0;
}
#endif

/* Runs @body in a child; returns its status, or 128 + the signal. */
static int run_child(int (*body)(), unsigned int secs)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		alarm(secs);
		_exit(body());
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) :
				     WEXITSTATUS(status);
}

static int failures;

static void expect(const char *name, int (*body)(), int want)
{
	int st = run_child(body, 60);

	if (st == 77) {
		printf("skip %s\n", name);
		return;
	}
	printf("%s %s (status %d, want %d)\n", st == want ? "ok" : "FAIL",
	       name, st, want);
	failures += st != want;
}

int main()
{
	expect("throw_in_caller_chunk", body_throw_in_caller_chunk, 0);
	expect("throw_through_nested_calls", body_throw_through_nested_calls, 0);
#ifdef KTASK_CXX
	/* The library rethrows a helper's exception in the caller. */
	expect("throw_in_helper_chunk", body_throw_in_helper_chunk, 0);
	expect("throw_on_helper_through_nested_call",
	       body_throw_on_helper_through_nested_call, 0);
#else
	/* Built without C++: no handler on the helper, std::terminate(). */
	expect("throw_in_helper_chunk_terminates", body_throw_in_helper_chunk,
	       128 + SIGABRT);
#endif
	return failures ? 1 : 0;
}
