// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_caller.c - a helper runs as its caller: scheduling policy and
 * priority, nice value after a privilege drop, seccomp filters (two
 * threads with one filter each, not the same), no_new_privs and Landlock,
 * the age of a caller's view, and the CPUs workers wait on
 * between tasks.  Each test runs in a child of its own (hostutil.h); it
 * links the test-hooks build, which counts workers' affinity changes.
 */
#include "hostutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "childtest.h"
#include "seccomp_getppid.h"

#include <ktask.h>

#include "../lib/user/testhooks.h"

/* Runs @fn(@arg) in a new thread and waits for it. */
static void in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	CHECK(!pthread_create(&t, NULL, fn, arg));
	CHECK(!pthread_join(t, NULL));
}

/*
 * What the chunks of a task saw: the thread's policy, priority and nice
 * value on helpers, and how many chunks ran there.  With a &struct kt_meet
 * as @arg, the caller waits for a helper (a nice-19 one, on a busy
 * machine, may take a while to run); else each chunk takes 0.2 ms, so
 * that a helper that is woken has work to find.
 */
static pid_t caller_tid;
static int seen_helper_chunks;		/* [A] */
static int seen_bad;			/* [A] helper chunks not as wanted */
static int want_policy, want_prio, want_nice;

static void spin_us(long us)
{
	double end = kt_now() + us * 1e-6;

	while (kt_now() < end)
		;
}

static int policy_chunk(void *start, void *end, void *arg)
{
	struct sched_param sp;
	int policy;

	(void)start, (void)end;
	if (arg)
		kt_meet(arg);
	else
		spin_us(200);
	if (kt_gettid() == caller_tid)
		return 0;
	__atomic_fetch_add(&seen_helper_chunks, 1, __ATOMIC_RELAXED);
	policy = sched_getscheduler(0);
	if (sched_getparam(0, &sp) || policy != want_policy ||
	    sp.sched_priority != want_prio ||
	    (want_nice != 99 && getpriority(PRIO_PROCESS, 0) != want_nice)) {
		if (__atomic_fetch_add(&seen_bad, 1, __ATOMIC_RELAXED) < 3)
			fprintf(stderr, "helper chunk at policy %d prio %d "
				"nice %d\n", policy, sp.sched_priority,
				getpriority(PRIO_PROCESS, 0));
	}
	return 0;
}

/* @tasks tasks from this thread, their helpers checked against want_*. */
static void policy_tasks(int tasks, unsigned int flags)
{
	caller_tid = kt_gettid();
	for (int i = 0; i < tasks; i++) {
		struct kt_meet m = { .want = 2 };
		DEFINE_KTASK_CTL(ctl, policy_chunk, &m, 1);

		ctl.kc_flags = flags;
		CHECK(!ktask_run(NULL, 16, &ctl) && !m.timed_out);
	}
}

/* Pool threads ("ktask/N") whose policy is not SCHED_OTHER. */
static bool policy_not_other(pid_t tid)
{
	return sched_getscheduler(tid) != SCHED_OTHER;
}

static int pool_threads_not_other(void)
{
	int n = kt_count_pool_threads_if(policy_not_other);

	CHECK(n >= 0);
	return n;
}

/* Sets this thread's policy; false if not allowed here. */
static bool set_policy(int policy, int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	return !sched_setscheduler(0, policy, &sp);
}

struct creator {
	int policy, prio;
};

/* A thread of another policy whose task creates the worker. */
static void *creator_thread(void *arg)
{
	struct creator *c = arg;
	struct kt_meet m = { .want = 2 };
	DEFINE_KTASK_CTL(ctl, kt_meet_chunk, &m, 1);

	if (!set_policy(c->policy, c->prio))
		return NULL;
	CHECK(!ktask_run(NULL, 8, &ctl) && !m.timed_out);
	return NULL;
}

/*
 * After a SCHED_IDLE, SCHED_BATCH or SCHED_FIFO thread's task created the
 * worker, a normal caller's helper chunks run SCHED_OTHER at its nice
 * value, and its KTASK_BACKGROUND ones SCHED_OTHER at nice 19.
 */
static void creator_then_normal(int policy, int prio)
{
	struct creator c = { policy, prio };

	need_two_cpus();
	in_thread(creator_thread, &c);
	CHECK(kt_count_pool_threads() >= 1);
	want_policy = SCHED_OTHER;
	want_prio = 0;
	want_nice = 0;
	policy_tasks(10, 0);
	CHECK(seen_helper_chunks > 0);
	CHECK(seen_bad == 0);
	want_nice = 19;
	seen_helper_chunks = 0;
	policy_tasks(10, KTASK_BACKGROUND);
	CHECK(seen_helper_chunks > 0);
	CHECK(seen_bad == 0);
}

static void body_idle_creator(void)
{
	creator_then_normal(SCHED_IDLE, 0);
}

static void body_batch_creator(void)
{
	creator_then_normal(SCHED_BATCH, 0);
}

static void body_fifo_creator(void)
{
	CHILD_SKIP_IF(!set_policy(SCHED_FIFO, 5) ||
		      !set_policy(SCHED_OTHER, 0), "may not set SCHED_FIFO");
	creator_then_normal(SCHED_FIFO, 5);
}

static void test_idle_creator(void **state)
{
	(void)state;
	expect_child_ok(body_idle_creator, 60);
}

static void test_batch_creator(void **state)
{
	(void)state;
	expect_child_ok(body_batch_creator, 60);
}

static void test_fifo_creator(void **state)
{
	(void)state;
	expect_child_ok(body_fifo_creator, 60);
}

/*
 * A SCHED_FIFO caller's helpers run SCHED_FIFO at its priority, and run
 * chunks: over 20 tasks, at least 5 had a helper chunk (the helper is
 * set real-time before it is woken, so it does not wait behind the caller
 * on the caller's CPU), and no worker waits at SCHED_FIFO afterwards.
 * Then a normal caller's helpers are normal again.
 */
static void *fifo_caller(void *arg)
{
	int *tasks_with_helper = arg, before;
	DEFINE_KTASK_CTL(ctl, policy_chunk, NULL, 1);

	if (!set_policy(SCHED_FIFO, 10))
		return NULL;
	caller_tid = kt_gettid();
	want_policy = SCHED_FIFO;
	want_prio = 10;
	want_nice = 99;
	for (int i = 0; i < 20; i++) {
		before = __atomic_load_n(&seen_helper_chunks, __ATOMIC_RELAXED);
		CHECK(!ktask_run(NULL, 16, &ctl));
		*tasks_with_helper += seen_helper_chunks > before;
	}
	return NULL;
}

static void body_fifo_caller(void)
{
	int with_helper = 0;

	need_two_cpus();
	CHILD_SKIP_IF(!set_policy(SCHED_FIFO, 10) ||
		      !set_policy(SCHED_OTHER, 0), "may not set SCHED_FIFO");
	/* Warm: the worker exists and waits, as in a long-running program. */
	CHECK(kt_pool_works());
	in_thread(fifo_caller, &with_helper);
	fprintf(stderr, "FIFO caller: %d of 20 tasks had a helper chunk\n",
		with_helper);
	CHECK(seen_bad == 0);
	CHECK(with_helper >= 5);
	/* No worker waits at a real-time priority. */
	kt_sleep_ms(20);
	CHECK(pool_threads_not_other() == 0);
	seen_helper_chunks = 0;
	want_policy = SCHED_OTHER;
	want_prio = 0;
	want_nice = 0;
	policy_tasks(10, 0);
	CHECK(seen_helper_chunks > 0);
	CHECK(seen_bad == 0);
}

static void test_fifo_caller(void **state)
{
	(void)state;
	expect_child_ok(body_fifo_caller, 60);
}

/* Drops one capability from this thread's effective and permitted sets. */
static bool drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return false;
	data[cap / 32].effective &= ~(1u << cap % 32);
	data[cap / 32].permitted &= ~(1u << cap % 32);
	return !syscall(SYS_capset, &hdr, data);
}

/*
 * A SCHED_FIFO caller in a process that may not give a thread that
 * policy (no CAP_SYS_NICE, RLIMIT_RTPRIO 0) runs its chunks alone: no
 * helper at a lower priority holds it up.
 */
static void *fifo_unprivileged(void *arg)
{
	struct rlimit rl = { 0, 0 };
	struct ktask_stats st;
	DEFINE_KTASK_CTL(ctl, policy_chunk, NULL, 1);

	(void)arg;
	if (!set_policy(SCHED_FIFO, 10))
		return NULL;
	CHECK(!setrlimit(RLIMIT_RTPRIO, &rl));
	CHECK(drop_cap(CAP_SYS_NICE));
	caller_tid = kt_gettid();
	for (int i = 0; i < 10; i++) {
		CHECK(!ktask_run(NULL, 16, &ctl));
		ktask_last_stats(&st);
		CHECK(st.ks_helpers == 0);
	}
	CHECK(seen_helper_chunks == 0);
	return NULL;
}

static void body_fifo_unprivileged(void)
{
	need_two_cpus();
	CHILD_SKIP_IF(!set_policy(SCHED_FIFO, 10) ||
		      !set_policy(SCHED_OTHER, 0), "may not set SCHED_FIFO");
	CHECK(kt_pool_works());
	in_thread(fifo_unprivileged, NULL);
}

static void test_fifo_unprivileged(void **state)
{
	(void)state;
	expect_child_ok(body_fifo_unprivileged, 60);
}

/* --- Privilege drop: the nice floor follows the credentials ------------- */

/*
 * A root daemon's worker went to nice 19 for a background task; after the
 * daemon dropped to nobody, a new worker serves its normal tasks (a
 * thread without CAP_SYS_NICE cannot lower its nice value), and again
 * after a background task raised that one.
 */
static void body_privilege_drop(void)
{
	need_two_cpus();
	CHILD_SKIP_IF(geteuid() != 0, "needs root");
	want_policy = SCHED_OTHER;
	want_prio = 0;
	want_nice = 19;
	policy_tasks(5, KTASK_BACKGROUND);
	CHECK(seen_helper_chunks > 0);
	CHECK(!setresgid(65534, 65534, 65534));
	CHECK(!setresuid(65534, 65534, 65534));
	kt_sleep_ms(12);	/* the caller's view is read again */
	for (int round = 0; round < 2; round++) {
		seen_helper_chunks = 0;
		want_nice = 0;
		policy_tasks(10, 0);
		CHECK(seen_helper_chunks > 0);
		CHECK(seen_bad == 0);
		seen_helper_chunks = 0;
		want_nice = 19;
		policy_tasks(5, KTASK_BACKGROUND);
		CHECK(seen_helper_chunks > 0);
		CHECK(seen_bad == 0);
		kt_sleep_ms(12);
	}
}

static void test_privilege_drop(void **state)
{
	(void)state;
	expect_child_ok(body_privilege_drop, 60);
}

/* --- Seccomp and no_new_privs ------------------------------------------- */

static int sandboxed_chunks, free_chunks;	/* [A] units */
static int helper_chunks;			/* [A] */

/*
 * Counts units (16 a task) by whether getppid() was refused.  The caller
 * waits for a helper at the &struct kt_meet @arg.
 */
static int ppid_chunk(void *start, void *end, void *arg)
{
	int units = (int)((char *)end - (char *)start);

	kt_meet(arg);
	if (kt_gettid() != caller_tid)
		__atomic_fetch_add(&helper_chunks, 1, __ATOMIC_RELAXED);
	if (syscall(SYS_getppid) < 0 && errno == EPERM)
		__atomic_fetch_add(&sandboxed_chunks, units, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&free_chunks, units, __ATOMIC_RELAXED);
	return 0;
}

/*
 * @tasks tasks of 16 units of @fn from this thread (the caller the chunks
 * tell from their helpers), each waiting at a &struct kt_meet for a
 * helper to join.
 */
static void met_tasks(ktask_thread_func fn, int tasks)
{
	caller_tid = kt_gettid();
	for (int i = 0; i < tasks; i++) {
		struct kt_meet m = { .want = 2 };
		DEFINE_KTASK_CTL(ctl, fn, &m, 1);

		CHECK(!ktask_run(NULL, 16, &ctl) && !m.timed_out);
	}
}

static void ppid_tasks(int tasks)
{
	sandboxed_chunks = free_chunks = helper_chunks = 0;
	met_tasks(ppid_chunk, tasks);
}

enum sandbox { BY_FILTER, BY_NNP, BY_FILTER_TOLD };

/* A thread that sandboxes itself after a task, then runs tasks. */
static void *sandboxed_caller(void *arg)
{
	enum sandbox how = *(enum sandbox *)arg;

	/* A task before: its view must be read again after the change. */
	ppid_tasks(1);
	if (how == BY_NNP)
		CHECK(!prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	else
		CHECK(kt_filter_getppid());
	if (how == BY_FILTER_TOLD)
		ktask_thread_changed();	/* instead of waiting out the view */
	else
		kt_sleep_ms(12);
	ppid_tasks(10);
	return NULL;
}

static bool nnp_on_helpers;			/* [A] */

static int nnp_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end;
	kt_meet(arg);
	if (kt_gettid() != caller_tid) {
		__atomic_fetch_add(&helper_chunks, 1, __ATOMIC_RELAXED);
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			__atomic_store_n(&nnp_on_helpers, false,
					 __ATOMIC_RELAXED);
	}
	return 0;
}

/*
 * A caller whose seccomp filter workers that existed before lack: its
 * chunks never run without the filter, and a helper (created from it)
 * still runs some.
 */
static void body_filtered_caller(void)
{
	enum sandbox how = BY_FILTER;

	need_two_cpus();
	CHECK(kt_pool_works());
	in_thread(sandboxed_caller, &how);
	CHECK(free_chunks == 0);
	CHECK(sandboxed_chunks == 160);
	CHECK(helper_chunks > 0);
	/* This thread's chunks run unfiltered again, with helpers. */
	ppid_tasks(10);
	CHECK(sandboxed_chunks == 0);
	CHECK(helper_chunks > 0);
}

static void test_filtered_caller(void **state)
{
	(void)state;
	expect_child_ok(body_filtered_caller, 60);
}

/*
 * A caller that sandboxes itself and says so with ktask_thread_changed()
 * runs its very next task sandboxed, with no wait for its view to age.
 */
static void body_filtered_told(void)
{
	enum sandbox how = BY_FILTER_TOLD;

	need_two_cpus();
	CHECK(kt_pool_works());
	in_thread(sandboxed_caller, &how);
	CHECK(free_chunks == 0);
	CHECK(sandboxed_chunks == 160);
	CHECK(helper_chunks > 0);
}

static void test_filtered_told(void **state)
{
	(void)state;
	expect_child_ok(body_filtered_told, 60);
}

/* The same with no_new_privs, which Landlock requires of most callers. */
static void *nnp_caller(void *arg)
{
	(void)arg;
	ppid_tasks(1);
	CHECK(!prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	kt_sleep_ms(12);
	helper_chunks = 0;
	nnp_on_helpers = true;
	met_tasks(nnp_chunk, 10);
	return NULL;
}

static void body_nnp_caller(void)
{
	need_two_cpus();
	CHECK(kt_pool_works());
	in_thread(nnp_caller, NULL);
	CHECK(nnp_on_helpers);
	CHECK(helper_chunks > 0);
}

static void test_nnp_caller(void **state)
{
	(void)state;
	expect_child_ok(body_nnp_caller, 60);
}

/* A sandboxed thread creates the worker; then a free caller's tasks. */
static void *filtered_creator(void *arg)
{
	(void)arg;
	CHECK(kt_filter_getppid());
	ppid_tasks(3);
	CHECK(free_chunks == 0);
	CHECK(helper_chunks > 0);
	return NULL;
}

static void body_filtered_creator(void)
{
	need_two_cpus();
	in_thread(filtered_creator, NULL);
	ppid_tasks(10);
	CHECK(sandboxed_chunks == 0);
	CHECK(free_chunks == 160);
	CHECK(helper_chunks > 0);
}

static void test_filtered_creator(void **state)
{
	(void)state;
	expect_child_ok(body_filtered_creator, 60);
}

/*
 * Two threads sandboxed alike to any reading: one filter each, but not the
 * same one.  The first creates the worker; the second's chunks must never
 * run under the first's filter (they did, on every helper chunk, when
 * workers were matched by the filter count).
 */
static int uid_refused, uid_allowed;	/* [A] units */

static int uid_chunk(void *start, void *end, void *arg)
{
	int units = (int)((char *)end - (char *)start);

	kt_meet(arg);
	if (kt_gettid() != caller_tid)
		__atomic_fetch_add(&helper_chunks, 1, __ATOMIC_RELAXED);
	if (syscall(SYS_getuid) < 0 && errno == EPERM)
		__atomic_fetch_add(&uid_refused, units, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&uid_allowed, units, __ATOMIC_RELAXED);
	if (syscall(SYS_getppid) < 0 && errno == EPERM)
		__atomic_fetch_add(&sandboxed_chunks, units, __ATOMIC_RELAXED);
	return 0;
}

static void *filter_and_run(void *arg)
{
	long nr = *(long *)arg;

	CHECK(kt_filter_deny(nr));
	ktask_thread_changed();
	uid_refused = uid_allowed = sandboxed_chunks = helper_chunks = 0;
	met_tasks(uid_chunk, 10);
	return NULL;
}

static void body_two_filters(void)
{
	long ppid = SYS_getppid, uid = SYS_getuid;

	need_two_cpus();
	CHECK(kt_pool_works());
	in_thread(filter_and_run, &ppid);
	CHECK(sandboxed_chunks == 160 && uid_refused == 0);
	CHECK(helper_chunks > 0);
	in_thread(filter_and_run, &uid);
	fprintf(stderr, "second filter: %d of 160 units under it, %d under "
		"the first; %d helper chunks\n", uid_refused, sandboxed_chunks,
		helper_chunks);
	CHECK(uid_refused == 160 && uid_allowed == 0);
	CHECK(sandboxed_chunks == 0);
	CHECK(helper_chunks > 0);
}

static void test_two_filters(void **state)
{
	(void)state;
	expect_child_ok(body_two_filters, 60);
}

/*
 * main() sandboxes itself (no_new_privs) after the library was loaded and
 * before its first task and its other threads: that is the process's own
 * sandbox, and a thread started later, which inherits it, shares the
 * worker main's task started rather than replacing it with its own.
 */
static pid_t first_helper;		/* [A] */
static int other_helper_chunks;		/* [A] */

static int tid_chunk(void *start, void *end, void *arg)
{
	pid_t tid = kt_gettid(), none = 0;

	(void)start, (void)end;
	kt_meet(arg);
	if (tid == caller_tid)
		return 0;
	__atomic_fetch_add(&helper_chunks, 1, __ATOMIC_RELAXED);
	if (!__atomic_compare_exchange_n(&first_helper, &none, tid, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED) &&
	    none != tid)
		__atomic_fetch_add(&other_helper_chunks, 1, __ATOMIC_RELAXED);
	return 0;
}

static void *tid_tasks(void *arg)
{
	(void)arg;
	met_tasks(tid_chunk, 10);
	return NULL;
}

/* The threads of this process, from /proc/self/status; -1 if unknown. */
static int process_threads(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static void body_main_sandboxed_first(void)
{
	need_two_cpus();
	CHILD_SKIP_IF(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1,
		      "no_new_privs from the start");
	/* ThreadSanitizer keeps a thread of its own in every process. */
	CHILD_SKIP_IF(process_threads() != 1, "another thread runs already");
	CHECK(!prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	tid_tasks(NULL);
	CHECK(helper_chunks > 0 && other_helper_chunks == 0);
	helper_chunks = 0;
	in_thread(tid_tasks, NULL);
	fprintf(stderr, "a later thread: %d helper chunks, %d on another "
		"worker than main's\n", helper_chunks, other_helper_chunks);
	CHECK(helper_chunks > 0);
	CHECK(other_helper_chunks == 0);
}

static void test_main_sandboxed_first(void **state)
{
	(void)state;
	expect_child_ok(body_main_sandboxed_first, 60);
}

/*
 * The same with Landlock, which cannot be read at all: a thread restricts
 * itself (no file may be read) and creates the worker; another thread
 * with no_new_privs only, as unlike it as that, must read files in every
 * chunk.  Both have no_new_privs and no filter: the same to any reading.
 */
static int open_failed, open_ok;	/* [A] */

static int open_chunk(void *start, void *end, void *arg)
{
	int fd;

	(void)start, (void)end;
	kt_meet(arg);
	if (kt_gettid() != caller_tid)
		__atomic_fetch_add(&helper_chunks, 1, __ATOMIC_RELAXED);
	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		__atomic_fetch_add(&open_failed, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&open_ok, 1, __ATOMIC_RELAXED);
		close(fd);
	}
	return 0;
}

static void open_tasks(void)
{
	open_failed = open_ok = helper_chunks = 0;
	met_tasks(open_chunk, 10);
}

/* No file may be read: a ruleset that handles reading and allows none. */
static bool landlock_no_reads(void)
{
	struct landlock_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE,
	};
	long fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = !prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) &&
	     !syscall(SYS_landlock_restrict_self, (int)fd, 0);
	close((int)fd);
	return ok;
}

static bool landlocked;

static void *landlocked_creator(void *arg)
{
	(void)arg;
	landlocked = landlock_no_reads();
	if (!landlocked)
		return NULL;
	ktask_thread_changed();
	open_tasks();
	CHECK(open_ok == 0 && open_failed > 0);
	CHECK(helper_chunks > 0);
	return NULL;
}

static void *nnp_reader(void *arg)
{
	(void)arg;
	CHECK(!prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	ktask_thread_changed();
	open_tasks();
	return NULL;
}

static void body_landlock_apart(void)
{
	need_two_cpus();
	CHILD_SKIP_IF(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1,
		      "no_new_privs from the start: a domain cannot be seen");
	CHECK(kt_pool_works());
	in_thread(landlocked_creator, NULL);
	CHILD_SKIP_IF(!landlocked, "Landlock is not enabled in this kernel");
	in_thread(nnp_reader, NULL);
	fprintf(stderr, "no_new_privs only: %d chunks read, %d refused; %d "
		"helper chunks\n", open_ok, open_failed, helper_chunks);
	CHECK(open_failed == 0 && open_ok > 0);
	CHECK(helper_chunks > 0);
}

static void test_landlock_apart(void **state)
{
	(void)state;
	expect_child_ok(body_landlock_apart, 60);
}

/* --- The view is at most 10 ms old -------------------------------------- */

static int stale_nice;
static int stale_misses, stale_helper_chunks;	/* [A] */

static int nice_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end;
	kt_meet(arg);
	if (kt_gettid() == caller_tid)
		return 0;
	__atomic_fetch_add(&stale_helper_chunks, 1, __ATOMIC_RELAXED);
	if (getpriority(PRIO_PROCESS, 0) != stale_nice)
		__atomic_fetch_add(&stale_misses, 1, __ATOMIC_RELAXED);
	return 0;
}

static void add_ns(struct timespec *ts, long ns)
{
	ts->tv_nsec += ns;
	while (ts->tv_nsec >= 1000000000L) {
		ts->tv_nsec -= 1000000000L;
		ts->tv_sec++;
	}
}

/*
 * The caller renices itself right after a task and runs the next task 10
 * ms after the change: its helper runs at the new value.
 */
static void body_view_age(void)
{
	struct timespec t0;

	need_two_cpus();
	CHILD_SKIP_IF(setpriority(PRIO_PROCESS, 0, 0), "may not renice");
	caller_tid = kt_gettid();
	for (int i = 0; i < 40; i++) {
		struct kt_meet m = { .want = 2 };
		DEFINE_KTASK_CTL(ctl, nice_chunk, &m, 1);

		CHECK(!ktask_run(NULL, 2, &ctl));
		stale_nice = i % 2 ? 0 : 3;
		CHECK(!setpriority(PRIO_PROCESS, 0, stale_nice));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		add_ns(&t0, 10000000L);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t0,
				       NULL) == EINTR)
			;
		memset(&m, 0, sizeof(m));
		m.want = 2;
		CHECK(!ktask_run(NULL, 2, &ctl));
	}
	fprintf(stderr, "view age: %d of %d helper chunks at an old nice\n",
		stale_misses, stale_helper_chunks);
	CHECK(stale_helper_chunks >= 40);
	CHECK(stale_misses == 0);
}

static void test_view_age(void **state)
{
	(void)state;
	expect_child_ok(body_view_age, 60);
}

/* --- Where workers wait between tasks ----------------------------------- */

static int tiny_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	spin_us(5);
	return 0;
}

static int tasks_with_helpers;

static void *wide_caller(void *arg)
{
	DEFINE_KTASK_CTL(ctl, tiny_chunk, NULL, 1);
	struct ktask_stats st;
	cpu_set_t *mask = arg;

	CHECK(!sched_setaffinity(0, sizeof(*mask), mask));
	for (int i = 0; i < 2000; i++) {
		CHECK(!ktask_run(NULL, 8, &ctl));
		ktask_last_stats(&st);
		tasks_with_helpers += st.ks_helpers > 0;
	}
	return NULL;
}

/*
 * The main thread is pinned to one CPU; a thread allowed on two (the first
 * two, on one node on the machines here) runs 2000 tasks.  Workers wait on
 * the callers' CPUs, not the main thread's: a few affinity changes in all,
 * not two per task.
 */
static void body_callers_mask(void)
{
	cpu_set_t all, one, two;
	unsigned long calls;
	int n = 0;

	need_two_cpus();
	CHECK(!sched_getaffinity(0, sizeof(all), &all));
	CPU_ZERO(&one);
	CPU_ZERO(&two);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &all)) {
			if (!n++)
				CPU_SET(c, &one);
			CPU_SET(c, &two);
		}
	CHECK(!sched_setaffinity(0, sizeof(one), &one));
	in_thread(wide_caller, &two);
	calls = __atomic_load_n(&ktask_test_affinity_calls, __ATOMIC_RELAXED);
	fprintf(stderr, "2000 tasks, %d with helpers: %lu affinity changes\n",
		tasks_with_helpers, calls);
	CHECK(tasks_with_helpers > 0);
	CHECK(calls <= 10);
}

static void test_callers_mask(void **state)
{
	(void)state;
	expect_child_ok(body_callers_mask, 120);
}

/*
 * Bursts of tasks of two units, 20 us apart, after a pause: the helper
 * sleeps after the pause, so the first task wakes it, and the caller
 * finishes that task before the helper looks (the helper is cancelled).
 * The helper must spin on after a cancelled assignment as after a task,
 * not sleep again, or every task of the burst costs its caller a futex
 * wake-up (a system call, microseconds in a virtual machine) and the
 * helper, woken late, finds the task over again (a helper that happens to
 * find one under way gets out of that, so there are four bursts).  A
 * worker also sleeps when its caller is preempted for longer than its spin
 * (0.1 ms), so a busy machine makes a few wake-ups: a tenth of the tasks
 * is the bound (one per burst here, 16-1870 without the fix).
 */
static int store_chunk(void *start, void *end, void *arg)
{
	(void)arg;
	for (char *p = start; p < (char *)end; p++)
		*p = 1;
	return KTASK_RETURN_SUCCESS;
}

static void body_back_to_back_spins(void)
{
	char units[2];
	DEFINE_KTASK_CTL(ctl, store_chunk, NULL, 1);
	unsigned long wakes;
	int i, helped = 0;
	struct ktask_stats st;

	need_two_cpus();
	ktask_ctl_set_max_threads(&ctl, 2);
	for (i = 0; i < 100; i++)	/* start the worker */
		CHECK(!ktask_run(units, 2, &ctl));
	wakes = __atomic_load_n(&ktask_test_wake_calls, __ATOMIC_RELAXED);
	for (i = 0; i < 2000; i++) {
		struct timespec t0, t;

		if (!(i % 500))
			kt_sleep_ms(20);	/* it spins 0.1 ms, then sleeps */
		CHECK(!ktask_run(units, 2, &ctl));
		ktask_last_stats(&st);
		helped += st.ks_helpers > 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do	/* the caller's own work between tasks */
			clock_gettime(CLOCK_MONOTONIC, &t);
		while ((t.tv_sec - t0.tv_sec) * 1000000000L +
		       t.tv_nsec - t0.tv_nsec < 20000);
	}
	wakes = __atomic_load_n(&ktask_test_wake_calls, __ATOMIC_RELAXED) -
		wakes;
	fprintf(stderr, "2000 tasks 20 us apart, %d with a helper: %lu "
		"wake-ups\n", helped, wakes);
	CHECK(helped > 1000);
	CHECK(wakes < 200);
}

static void test_back_to_back_spins(void **state)
{
	(void)state;
	expect_child_ok(body_back_to_back_spins, 120);
}

/*
 * A periodic caller on two CPUs, in a process whose other caller may use
 * them all: when its helper steps aside between tasks (off the CPU the
 * caller ran on), it does so among the caller's two CPUs, not elsewhere.
 * Needs three CPUs, and a rhythm regular enough for the helper to step
 * aside at all (5 ms).
 */
static pid_t aside_helper;		/* [A] */

static int aside_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end;
	kt_meet(arg);
	if (kt_gettid() != caller_tid)
		__atomic_store_n(&aside_helper, kt_gettid(), __ATOMIC_RELAXED);
	return 0;
}

static void *periodic_caller(void *arg)
{
	cpu_set_t *two = arg, now;
	struct timespec next;
	int outside = 0, looked = 0;

	CHECK(!sched_setaffinity(0, sizeof(*two), two));
	caller_tid = kt_gettid();
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int i = 0; i < 60; i++) {
		struct kt_meet m = { .want = 2 };
		DEFINE_KTASK_CTL(ctl, aside_chunk, &m, 1);
		int cpu = sched_getcpu();
		pid_t helper;

		CHECK(!ktask_run(NULL, 2, &ctl) && !m.timed_out);
		add_ns(&next, 5000000L);
		kt_sleep_ms(2);
		helper = __atomic_load_n(&aside_helper, __ATOMIC_RELAXED);
		/* Aside: off the caller's CPU, and not on every other. */
		if (i >= 10 && helper && cpu >= 0 &&
		    !sched_getaffinity(helper, sizeof(now), &now) &&
		    !CPU_ISSET(cpu, &now)) {
			cpu_set_t and;

			looked++;
			CPU_AND(&and, &now, two);
			outside += !CPU_EQUAL(&and, &now);
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
	}
	fprintf(stderr, "periodic caller: helper aside in %d gaps, outside "
		"the caller's CPUs in %d\n", looked, outside);
	CHILD_SKIP_IF(!looked, "the helper never stepped aside here");
	CHECK(outside == 0);
	return NULL;
}

static void body_aside_within(void)
{
	cpu_set_t all, two;
	int n = 0;

	CHILD_SKIP_IF(kt_usable_cpus() < 3, "needs 3 usable CPUs");
	CHECK(kt_pool_works());		/* the pool's mask: every CPU */
	CHECK(!sched_getaffinity(0, sizeof(all), &all));
	CPU_ZERO(&two);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &all)) {
			CPU_SET(c, &two);
			n++;
		}
	in_thread(periodic_caller, &two);
}

static void test_aside_within(void **state)
{
	(void)state;
	expect_child_ok(body_aside_within, 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_creator),
		cmocka_unit_test(test_batch_creator),
		cmocka_unit_test(test_fifo_creator),
		cmocka_unit_test(test_fifo_caller),
		cmocka_unit_test(test_fifo_unprivileged),
		cmocka_unit_test(test_privilege_drop),
		cmocka_unit_test(test_filtered_caller),
		cmocka_unit_test(test_filtered_told),
		cmocka_unit_test(test_nnp_caller),
		cmocka_unit_test(test_filtered_creator),
		cmocka_unit_test(test_two_filters),
		cmocka_unit_test(test_landlock_apart),
		cmocka_unit_test(test_main_sandboxed_first),
		cmocka_unit_test(test_view_age),
		cmocka_unit_test(test_callers_mask),
		cmocka_unit_test(test_back_to_back_spins),
		cmocka_unit_test(test_aside_within),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
