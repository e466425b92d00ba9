// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_host.c - libktask inside a real program: signals, fork, thread
 * cancellation, small stacks, nice values, undo, KTASK_DEBUG and the
 * environment of a privileged program (docs/design.md, "Inside a host
 * program").
 *
 * Every test body runs in a child process of its own under an alarm, so a
 * crash or a hang fails that test alone.  Tests that need a helper next to
 * the caller make their chunks meet (with a deadline) and skip on one CPU.
 *
 * usage: test_host                 the tests
 *        test_host --debug-probe   one task, for the KTASK_DEBUG test
 *        test_host --debug-signal-probe   tasks in a signal handler, the same
 */
#include "hostutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cmocka.h>

#include "childtest.h"

#include <ktask.h>

static pid_t caller_tid;

static bool on_helper(void)
{
	return kt_gettid() != caller_tid;
}

/* --- Synchronous signals: a chunk runs with its caller's signal mask ----- */

#define NPAGES 16

static char *lazy;
static size_t page;
static int faults_helper, faults_caller;

/* The lazy-mapping pattern: make the touched page writable and go on. */
static void lazy_segv(int sig, siginfo_t *si, void *uc)
{
	char *a = (char *)((uintptr_t)si->si_addr & ~(uintptr_t)(page - 1));

	(void)uc;
	if (a < lazy || a >= lazy + NPAGES * page) {
		signal(sig, SIG_DFL);
		return;
	}
	mprotect(a, page, PROT_READ | PROT_WRITE);
	__atomic_fetch_add(on_helper() ? &faults_helper : &faults_caller, 1,
			   __ATOMIC_RELAXED);
}

static struct kt_meet segv_meet;

static int touch_pages(void *s_, void *e_, void *arg)
{
	uintptr_t start = (uintptr_t)s_, end = (uintptr_t)e_;

	(void)arg;
	kt_meet(&segv_meet);
	for (uintptr_t i = start; i < end; i++)
		((volatile char *)lazy)[i * page] = 1;
	return 0;
}

static void body_segv_on_helper(void)
{
	struct sigaction sa = { .sa_sigaction = lazy_segv,
				.sa_flags = SA_SIGINFO };
	DEFINE_KTASK_CTL(ctl, touch_pages, NULL, 1);

	need_two_cpus();
	page = (size_t)sysconf(_SC_PAGESIZE);
	lazy = mmap(NULL, NPAGES * page, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(lazy != MAP_FAILED);
	sigaction(SIGSEGV, &sa, NULL);
	caller_tid = kt_gettid();
	segv_meet.want = 2;
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(NULL, NPAGES, &ctl) == 0);
	CHECK(!segv_meet.timed_out);
	for (int i = 0; i < NPAGES; i++)
		CHECK(lazy[i * page] == 1);
	/* Both threads took faults and their handler ran. */
	CHECK(faults_helper > 0);
	CHECK(faults_caller > 0);
}

static void test_segv_handler_on_helper(void **state)
{
	(void)state;
	expect_child_ok(body_segv_on_helper, 30);
}

/*
 * SIGBUS (a mapping past the end of its file), SIGFPE (an integer division
 * by zero) and SIGILL (an undefined instruction): the handler jumps back
 * into the chunk, on whichever thread faulted.
 */
static __thread sigjmp_buf fault_jmp;
static int caught[2][NSIG];	/* [on helper][signal] */
static char *bus_map;
static volatile int divisor;		/* always 0 */
static __thread volatile int quotient;

static void jump_back(int sig)
{
	__atomic_fetch_add(&caught[on_helper()][sig], 1, __ATOMIC_RELAXED);
	siglongjmp(fault_jmp, 1);
}

__attribute__((no_sanitize("undefined")))
static int divide(int x)
{
	return x / divisor;
}

static void raise_fault(int sig)
{
	if (sig == SIGBUS)
		(void)*(volatile char *)bus_map;	/* a read: no race */
	else if (sig == SIGFPE)
		quotient = divide(1000);
	else
		__builtin_trap();
}

static struct kt_meet fault_meet;

/* One fault, caught: the handler jumps back here. */
__attribute__((noinline))
static void fault_once(int sig)
{
	if (!sigsetjmp(fault_jmp, 1))
		raise_fault(sig);
}

static int fault_units(void *s_, void *e_, void *arg)
{
	static const int sigs[] = { SIGBUS, SIGFPE, SIGILL };
	uintptr_t start = (uintptr_t)s_, end = (uintptr_t)e_;

	(void)arg;
	kt_meet(&fault_meet);
	for (uintptr_t i = start; i < end; i++)
		fault_once(sigs[i % 3]);
	return 0;
}

static void body_fault_signals_on_helper(void)
{
	DEFINE_KTASK_CTL(ctl, fault_units, NULL, 1);
	int fd;

	need_two_cpus();
#if !defined(__x86_64__) && !defined(__i386__)
	CHILD_SKIP_IF(1, "SIGFPE on division by zero is x86's");
#endif
	fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	CHECK(fd >= 0);
	bus_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(bus_map != MAP_FAILED);
	signal(SIGBUS, jump_back);
	signal(SIGFPE, jump_back);
	signal(SIGILL, jump_back);
	caller_tid = kt_gettid();
	fault_meet.want = 2;
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(NULL, 48, &ctl) == 0);
	CHECK(!fault_meet.timed_out);
	/* Every unit faulted once and was caught; the helper's too. */
	CHECK(caught[0][SIGBUS] + caught[1][SIGBUS] == 16);
	CHECK(caught[0][SIGFPE] + caught[1][SIGFPE] == 16);
	CHECK(caught[0][SIGILL] + caught[1][SIGILL] == 16);
	CHECK(caught[1][SIGBUS] + caught[1][SIGFPE] + caught[1][SIGILL] > 0);
}

static void test_fault_signals_on_helper(void **state)
{
	(void)state;
	expect_child_ok(body_fault_signals_on_helper, 30);
}

/* The mask a chunk runs with, and the one a child of a chunk inherits. */
static sigset_t caller_mask;
static int mask_wrong, child_mask_wrong, mask_seen_on_helper;
static struct kt_meet mask_meet;

static bool same_mask(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == 32 || sig == 33)	/* glibc's own, never blocked */
			continue;
		if (sigismember(a, sig) != sigismember(b, sig))
			return false;
	}
	return true;
}

static int mask_chunk(void *start, void *end, void *arg)
{
	sigset_t now;
	pid_t pid;
	int status;

	(void)start, (void)end, (void)arg;
	kt_meet(&mask_meet);
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	if (!same_mask(&now, &caller_mask))
		__atomic_fetch_add(&mask_wrong, 1, __ATOMIC_RELAXED);
	if (!on_helper() ||
	    __atomic_fetch_add(&mask_seen_on_helper, 1, __ATOMIC_RELAXED))
		return 0;
	/* A process started from a chunk on a helper. */
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_BLOCK, NULL, &now);
		_exit(same_mask(&now, &caller_mask) ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status))
		__atomic_fetch_add(&child_mask_wrong, 1, __ATOMIC_RELAXED);
	return 0;
}

static void body_chunk_has_caller_mask(void)
{
	DEFINE_KTASK_CTL(ctl, mask_chunk, NULL, 1);
	sigset_t block;

	need_two_cpus();
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_SETMASK, &block, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, &caller_mask);
	caller_tid = kt_gettid();
	mask_meet.want = 2;
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(NULL, 8, &ctl) == 0);
	CHECK(!mask_meet.timed_out);
	CHECK(mask_seen_on_helper > 0);
	CHECK(mask_wrong == 0);
	CHECK(child_mask_wrong == 0);
}

static void test_chunk_runs_with_caller_mask(void **state)
{
	(void)state;
	expect_child_ok(body_chunk_has_caller_mask, 30);
}

/* --- fork() at every window --------------------------------------------- */

struct item {
	struct item *next;
	int done;
};

#define NITEMS 64

static struct item items[NITEMS];
static int helper_in_iter, forking, caller_in_chunk;
static pid_t iter_child;

/*
 * The first time a helper walks the list, it stays in the iterator (under
 * the task's lock) until the caller is about to fork, and a while longer.
 */
static void *slow_iter(void *pos, size_t n)
{
	struct item *it = pos;

	if (on_helper() && __atomic_load_n(&caller_in_chunk, __ATOMIC_ACQUIRE) &&
	    !__atomic_exchange_n(&helper_in_iter, 1, __ATOMIC_ACQ_REL)) {
		kt_wait_flag(&forking, 5000);
		kt_sleep_ms(200);
	}
	while (n--)
		it = it->next;
	return it;
}

static int item_chunk(struct item *start, struct item *end, void *arg)
{
	(void)arg;
	for (struct item *it = start; it != end; it = it->next)
		__atomic_fetch_add(&it->done, 1, __ATOMIC_RELAXED);
	/* The helper leaves chunks for the caller to take first. */
	if (on_helper())
		kt_wait_flag(&caller_in_chunk, 5000);
	if (on_helper() || iter_child)
		return 0;
	__atomic_store_n(&caller_in_chunk, 1, __ATOMIC_RELEASE);
	/* The caller forks while the helper holds the task's lock. */
	if (!kt_wait_flag(&helper_in_iter, 5000))
		return 0;
	__atomic_store_n(&forking, 1, __ATOMIC_RELEASE);
	iter_child = fork();
	if (iter_child == 0) {
		alarm(20);		/* a hang fails the test */
		iter_child = -1;	/* the child: its task must return */
	}
	return 0;
}

static void body_fork_while_helper_in_iterator(void)
{
	DEFINE_KTASK_CTL(ctl, item_chunk, NULL, 1);
	int status;

	need_two_cpus();
	for (int i = 0; i < NITEMS; i++)
		items[i].next = i + 1 < NITEMS ? &items[i + 1] : NULL;
	caller_tid = kt_gettid();
	ktask_ctl_set_iter_func(&ctl, slow_iter);
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(items, NITEMS, &ctl) == 0);
	if (iter_child < 0)	/* the child, after its task returned */
		_exit(kt_pool_works() && kt_pool_works() ? 0 : 2);
	CHECK(helper_in_iter);
	CHECK(iter_child > 0);
	for (int i = 0; i < NITEMS; i++)
		CHECK(items[i].done == 1);
	CHECK(waitpid(iter_child, &status, 0) == iter_child);
	if (WIFSIGNALED(status))
		fprintf(stderr, "child killed by signal %d\n",
			WTERMSIG(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_fork_while_helper_in_iterator(void **state)
{
	(void)state;
	expect_child_ok(body_fork_while_helper_in_iterator, 60);
}

/*
 * A thread function on a helper forks: the child, whose only thread is
 * that worker, finishes its share and exits with status 0 when the chunk
 * returns, instead of idling forever.
 */
static int helper_forked;
static pid_t helper_child;
static struct kt_meet hf_meet;
static int hf_done[16];

static int helper_fork_chunk(void *s_, void *e_, void *arg)
{
	uintptr_t start = (uintptr_t)s_, end = (uintptr_t)e_;

	(void)arg;
	kt_meet(&hf_meet);
	for (uintptr_t i = start; i < end; i++)
		__atomic_fetch_add(&hf_done[i], 1, __ATOMIC_RELAXED);
	if (on_helper() && !__atomic_exchange_n(&helper_forked, 1,
						 __ATOMIC_ACQ_REL)) {
		pid_t pid = fork();

		if (pid == 0) {
			alarm(20);
			return 0;
		}
		__atomic_store_n(&helper_child, pid, __ATOMIC_RELEASE);
	}
	return 0;
}

static void body_fork_on_helper(void)
{
	DEFINE_KTASK_CTL(ctl, helper_fork_chunk, NULL, 1);
	int status;

	need_two_cpus();
	caller_tid = kt_gettid();
	hf_meet.want = 2;
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(NULL, 16, &ctl) == 0);
	CHECK(!hf_meet.timed_out);
	CHECK(helper_child > 0);
	for (int i = 0; i < 16; i++)
		CHECK(hf_done[i] == 1);
	CHECK(waitpid(helper_child, &status, 0) == helper_child);
	if (WIFSIGNALED(status))
		fprintf(stderr, "child killed by signal %d\n",
			WTERMSIG(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(kt_pool_works());
}

static void test_fork_in_thread_function_on_helper(void **state)
{
	(void)state;
	expect_child_ok(body_fork_on_helper, 60);
}

/* --- pthread_cancel() of a caller ----------------------------------------- */

static int cancel_asked, cancel_sent, cancel_returned, cancel_result;
static int cancel_done[32];
static struct kt_meet cancel_meet;

static int cancel_chunk(void *s_, void *e_, void *arg)
{
	uintptr_t start = (uintptr_t)s_, end = (uintptr_t)e_;

	(void)arg;
	kt_meet(&cancel_meet);
	if (!on_helper() && !__atomic_exchange_n(&cancel_asked, 1,
						  __ATOMIC_ACQ_REL)) {
		kt_wait_flag(&cancel_sent, 5000);
		/* Cancellation points: cancellation must not act here. */
		pthread_testcancel();
		kt_sleep_ms(1);
	} else if (on_helper()) {
		/* The helper goes on working after the request. */
		kt_wait_flag(&cancel_sent, 5000);
		sched_yield();
	}
	for (uintptr_t i = start; i < end; i++)
		__atomic_fetch_add(&cancel_done[i], 1, __ATOMIC_RELAXED);
	return 0;
}

__attribute__((noinline))
static int cancel_task(void)
{
	DEFINE_KTASK_CTL(ctl, cancel_chunk, NULL, 1);

	ktask_ctl_set_max_threads(&ctl, 2);
	return ktask_run(NULL, 32, &ctl);
}

/*
 * The task runs in a frame of its own: the thread ends (unwinds) from a
 * frame without stack buffers, which AddressSanitizer would find still
 * poisoned when the thread exits.
 */
static void *cancel_victim(void *arg)
{
	(void)arg;
	caller_tid = kt_gettid();
	cancel_result = cancel_task();
	__atomic_store_n(&cancel_returned, 1, __ATOMIC_RELEASE);
	pthread_testcancel();	/* here the request acts */
	return NULL;
}

static void body_cancel_caller(void)
{
	pthread_t t;
	void *ret;

	need_two_cpus();
	cancel_meet.want = 2;
	CHECK(!pthread_create(&t, NULL, cancel_victim, NULL));
	CHECK(kt_wait_flag(&cancel_asked, 10000));
	CHECK(!pthread_cancel(t));
	__atomic_store_n(&cancel_sent, 1, __ATOMIC_RELEASE);
	CHECK(!pthread_join(t, &ret));
	CHECK(ret == PTHREAD_CANCELED);
	CHECK(cancel_returned);
	CHECK(cancel_result == 0);
	CHECK(!cancel_meet.timed_out);
	for (int i = 0; i < 32; i++)
		CHECK(cancel_done[i] == 1);
	CHECK(kt_pool_works());
}

static void test_cancel_deferred_until_return(void **state)
{
	(void)state;
	expect_child_ok(body_cancel_caller, 60);
}

/* --- Small stacks ------------------------------------------------------- */

#define SMALL_STACK (20 * 1024)
#define PAINT 0xa5

static char *stack_lo;
static uintptr_t sp_at_call, sp_in_chunk;
static size_t deepest;
static struct kt_meet stack_meet;
static int stack_result = -1;

static int stack_chunk(void *start, void *end, void *arg)
{
	char here;

	(void)start, (void)end, (void)arg;
	if (!on_helper())
		sp_in_chunk = (uintptr_t)&here;
	kt_meet(&stack_meet);
	return 0;
}

/* Paints the unused stack below this frame, byte by byte. */
__attribute__((noinline, no_sanitize_address))
static void paint_below(uintptr_t top)
{
	for (volatile char *p = stack_lo; (uintptr_t)p < top; p++)
		*p = (char)PAINT;
}

__attribute__((noinline, no_sanitize_address))
static size_t painted_from_bottom(void)
{
	volatile char *p = stack_lo;

	while (*p == (char)PAINT)
		p++;
	return (size_t)(p - stack_lo);
}

static void *small_stack_thread(void *arg)
{
	DEFINE_KTASK_CTL(ctl, stack_chunk, NULL, 1);
	char here;
	size_t size;
	pthread_attr_t attr;

	(void)arg;
	pthread_getattr_np(pthread_self(), &attr);
	pthread_attr_getstack(&attr, (void **)&stack_lo, &size);
	pthread_attr_destroy(&attr);
	caller_tid = kt_gettid();
	/* Leave 512 bytes for this frame's red zone and the calls below. */
	paint_below((uintptr_t)&here - 512);
	sp_at_call = (uintptr_t)&here;
	ktask_ctl_set_max_threads(&ctl, 2);
	/* The process's first task: setup, quota read, a new worker. */
	stack_result = ktask_run(NULL, 8, &ctl);
	deepest = (uintptr_t)&here - (uintptr_t)stack_lo -
		  painted_from_bottom();
	return NULL;
}

static void body_small_stack(void)
{
	pthread_attr_t attr;
	pthread_t t;

	need_two_cpus();
	CHILD_SKIP_IF(sysconf(_SC_THREAD_STACK_MIN) > SMALL_STACK,
		      "the system's least stack is above 20 KiB");
	stack_meet.want = 2;
	pthread_attr_init(&attr);
	CHECK(!pthread_attr_setstacksize(&attr, SMALL_STACK));
	CHECK(!pthread_create(&t, &attr, small_stack_thread, NULL));
	CHECK(!pthread_join(t, NULL));
	CHECK(stack_result == 0);
	CHECK(!stack_meet.timed_out);
	fprintf(stderr, "small stack: ktask_run to the thread function %zu bytes, "
	       "deepest use %zu of %d bytes\n",
	       (size_t)(sp_at_call - sp_in_chunk), deepest, SMALL_STACK);
	/* ktask's own frames between the call and the thread function. */
	if (!KT_SANITIZED)
		CHECK(sp_at_call - sp_in_chunk < 2048);
}

static void test_small_stack_caller(void **state)
{
	(void)state;
	expect_child_ok(body_small_stack, 30);
}

/* --- Nice values -------------------------------------------------------- */

static int helper_nice = 100;
static struct kt_meet nice_meet;
static int renice_to;

static int nice_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	kt_meet(&nice_meet);
	if (on_helper()) {
		int unset = 100;

		/* The value the helper had when it took its first chunk. */
		if (__atomic_compare_exchange_n(&helper_nice, &unset,
						getpriority(PRIO_PROCESS, 0),
						false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED) && renice_to)
			setpriority(PRIO_PROCESS, 0, renice_to);
	}
	return 0;
}

/* Runs a two-thread task on the calling thread; the helper's nice value. */
static int helper_nice_of_task(void)
{
	DEFINE_KTASK_CTL(ctl, nice_chunk, NULL, 1);

	memset(&nice_meet, 0, sizeof(nice_meet));
	nice_meet.want = 2;
	helper_nice = 100;
	caller_tid = kt_gettid();
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(NULL, 8, &ctl) == 0);
	CHECK(!nice_meet.timed_out);
	return helper_nice;
}

static void need_lower_nice(void)
{
	bool can;

	setpriority(PRIO_PROCESS, 0, 1);
	can = !setpriority(PRIO_PROCESS, 0, 0);
	CHILD_SKIP_IF(!can, "cannot lower a nice value here (CAP_SYS_NICE)");
}

static void *fresh_caller(void *arg)
{
	*(int *)arg = helper_nice_of_task();
	return NULL;
}

static int nice_in_fresh_thread(void)
{
	pthread_t t;
	int nice;

	CHECK(!pthread_create(&t, NULL, fresh_caller, &nice));
	CHECK(!pthread_join(t, NULL));
	return nice;
}

/*
 * A worker started while its caller's view of its nice value is a few
 * milliseconds old inherits the real value: the pool must record that one.
 */
static void body_new_worker_nice_recorded(void)
{
	DEFINE_KTASK_CTL(prime, nice_chunk, NULL, 1);

	need_two_cpus();
	need_lower_nice();
	/* Reads this thread's view (nice 0) without starting a helper. */
	ktask_ctl_set_max_threads(&prime, 1);
	nice_meet.want = 1;
	CHECK(ktask_run(NULL, 8, &prime) == 0);
	CHECK(!setpriority(PRIO_PROCESS, 0, 5));
	helper_nice_of_task();		/* starts the worker at nice 5 */
	CHECK(!setpriority(PRIO_PROCESS, 0, 0));
	/* A caller at nice 0 with a fresh view: its helper runs at 0. */
	CHECK(nice_in_fresh_thread() == 0);
}

static void test_new_worker_nice_recorded(void **state)
{
	(void)state;
	expect_child_ok(body_new_worker_nice_recorded, 30);
}

/* A thread function that renices its helper does not leak the value. */
static void body_renice_in_chunk(void)
{
	need_two_cpus();
	need_lower_nice();
	renice_to = 7;
	CHECK(nice_in_fresh_thread() == 0);
	renice_to = 0;
	CHECK(nice_in_fresh_thread() == 0);
}

static void test_renice_in_chunk_not_leaked(void **state)
{
	(void)state;
	expect_child_ok(body_renice_in_chunk, 30);
}

/*
 * Nor its signal mask, CPUs or scheduling policy: a thread function that
 * changes them on a helper leaves the next task on that worker as its
 * own caller asked (found by review: the pool compared against what it
 * had last set, not what the thread had).
 */
static struct kt_meet leak_meet;
static bool leak_perturb;
static pid_t leak_helper;		/* the helper that ran a chunk */
static int leak_bad;			/* what the helper found, bit per kind */
static int leak_caller_cpu;		/* [A] the caller's CPU in its chunk */
static int leak_pinned;			/* the CPU the helper pinned itself to */
static int leak_cpu_checks;		/* tasks whose CPUs could be judged */

/*
 * The helper pins itself to its caller's CPU.  A worker that stepped aside
 * from a periodic caller (worker.c) runs on the caller's CPUs less that one,
 * never on that one alone, so a mask of just the caller's CPU in the next
 * task is the pin left over, when the caller is still on that CPU.
 */
static int leak_chunk(void *start, void *end, void *arg)
{
	struct sched_param sp = { 0 };
	cpu_set_t one, now;
	sigset_t set;
	int cpu;

	(void)start, (void)end, (void)arg;
	if (!on_helper())
		__atomic_store_n(&leak_caller_cpu, sched_getcpu(),
				 __ATOMIC_RELEASE);
	kt_meet(&leak_meet);
	if (!on_helper())
		return 0;
	__atomic_store_n(&leak_helper, kt_gettid(), __ATOMIC_RELAXED);
	cpu = __atomic_load_n(&leak_caller_cpu, __ATOMIC_ACQUIRE);
	if (leak_perturb) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		leak_pinned = sched_setaffinity(0, sizeof(one), &one) ? -1 : cpu;
		pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
		return 0;
	}
	pthread_sigmask(SIG_BLOCK, NULL, &set);
	if (sigismember(&set, SIGUSR1))
		leak_bad |= 1;
	if (leak_pinned >= 0 && cpu == leak_pinned &&
	    !sched_getaffinity(0, sizeof(now), &now)) {
		leak_cpu_checks++;
		if (CPU_COUNT(&now) == 1 && CPU_ISSET(cpu, &now))
			leak_bad |= 2;
	}
	if (sched_getscheduler(0) != SCHED_OTHER)
		leak_bad |= 4;
	return 0;
}

static pid_t leak_task(bool perturb)
{
	DEFINE_KTASK_CTL(ctl, leak_chunk, NULL, 1);

	memset(&leak_meet, 0, sizeof(leak_meet));
	leak_meet.want = 2;
	leak_perturb = perturb;
	leak_helper = 0;
	leak_caller_cpu = -1;
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(!ktask_run(NULL, 2, &ctl) && !leak_meet.timed_out);
	return leak_helper;
}

static void body_thread_state_not_leaked(void)
{
	int i, same = 0;
	pid_t first;

	need_two_cpus();
	caller_tid = kt_gettid();
	for (i = 0; i < 50; i++) {
		leak_bad = 0;
		leak_pinned = -1;
		first = leak_task(true);
		/* Back to back: the worker did not sleep in between. */
		same += leak_task(false) == first;
		if (leak_bad)
			fprintf(stderr, "leaked into the next task: %s%s%s\n",
				leak_bad & 1 ? "signal mask " : "",
				leak_bad & 2 ? "CPUs " : "",
				leak_bad & 4 ? "policy" : "");
		CHECK(!leak_bad);
	}
	/* The checks above ran on the worker that was changed. */
	CHECK(same >= 25);
	CHECK(leak_cpu_checks >= 10);
}

static void test_thread_state_not_leaked(void **state)
{
	(void)state;
	expect_child_ok(body_thread_state_not_leaked, 30);
}

/* --- Undo runs after the helpers went back --------------------------------- */

static struct kt_meet undo_meet, inner_meet;
static int undo_failed, undo_inner_bad, undo_calls;
static bool fail_on_helper;
static int undo_done[64], undo_undone[64];

static int inner_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	kt_meet(&inner_meet);
	return 0;
}

/* The rollback is big: it runs a task of its own, which wants a helper. */
static void undo_with_task(void *s_, void *e_, void *arg)
{
	uintptr_t start = (uintptr_t)s_, end = (uintptr_t)e_;
	DEFINE_KTASK_CTL(inner, inner_chunk, NULL, 1);
	struct ktask_stats st;

	(void)arg;
	memset(&inner_meet, 0, sizeof(inner_meet));
	inner_meet.want = 2;
	if (ktask_run(NULL, 8, &inner))
		undo_inner_bad++;
	ktask_last_stats(&st);
	if (st.ks_helpers < 1 || inner_meet.timed_out)
		undo_inner_bad++;
	undo_calls++;
	for (uintptr_t i = start; i < end; i++)
		undo_undone[i]++;
}

static int failing_chunk(void *s_, void *e_, void *arg)
{
	uintptr_t start = (uintptr_t)s_, end = (uintptr_t)e_;

	(void)arg;
	kt_meet(&undo_meet);
	if (on_helper() == fail_on_helper &&
	    !__atomic_exchange_n(&undo_failed, 1, __ATOMIC_ACQ_REL))
		return -EIO;
	for (uintptr_t i = start; i < end; i++)
		__atomic_fetch_add(&undo_done[i], 1, __ATOMIC_RELAXED);
	return 0;
}

static void undo_gets_helpers(bool on_the_helper)
{
	DEFINE_KTASK_CTL(ctl, failing_chunk, NULL, 1);

	need_two_cpus();
	fail_on_helper = on_the_helper;
	caller_tid = kt_gettid();
	undo_meet.want = 2;
	ktask_ctl_set_undo_func(&ctl, undo_with_task);
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(NULL, 64, &ctl) == -EIO);
	CHECK(!undo_meet.timed_out);
	CHECK(undo_calls > 0);
	CHECK(undo_inner_bad == 0);
	for (int i = 0; i < 64; i++)
		CHECK(undo_done[i] == undo_undone[i] && undo_done[i] <= 1);
	/* Helpers are still handed out, and the held work item came back. */
	CHECK(kt_pool_works());
	CHECK(kt_pool_works());
}

static void body_undo_fail_on_helper(void)
{
	undo_gets_helpers(true);
}

static void body_undo_fail_on_caller(void)
{
	undo_gets_helpers(false);
}

/*
 * The undo function forks while a helper's failed chunk is held for it:
 * in the child, undo goes on reading that record, the task returns the
 * error, and the pool works.
 */
static int undo_fork_done[64], undo_fork_undone[64], undo_forked;
static pid_t undo_child;

static int fail_on_helper_chunk(void *s_, void *e_, void *arg)
{
	uintptr_t start = (uintptr_t)s_, end = (uintptr_t)e_;

	(void)arg;
	kt_meet(&undo_meet);
	if (on_helper() && !__atomic_exchange_n(&undo_failed, 1,
						 __ATOMIC_ACQ_REL))
		return -EIO;
	for (uintptr_t i = start; i < end; i++)
		__atomic_fetch_add(&undo_fork_done[i], 1, __ATOMIC_RELAXED);
	return 0;
}

static void forking_undo(void *s_, void *e_, void *arg)
{
	uintptr_t start = (uintptr_t)s_, end = (uintptr_t)e_;

	(void)arg;
	if (!undo_forked++) {
		undo_child = fork();
		if (undo_child == 0) {
			alarm(20);
			undo_child = -1;
		}
	}
	for (uintptr_t i = start; i < end; i++)
		undo_fork_undone[i]++;
}

static void body_fork_in_undo(void)
{
	DEFINE_KTASK_CTL(ctl, fail_on_helper_chunk, NULL, 1);
	int status;

	need_two_cpus();
	caller_tid = kt_gettid();
	undo_meet.want = 2;
	ktask_ctl_set_undo_func(&ctl, forking_undo);
	ktask_ctl_set_max_threads(&ctl, 2);
	CHECK(ktask_run(NULL, 64, &ctl) == -EIO);
	CHECK(undo_forked > 0);
	for (int i = 0; i < 64; i++)
		CHECK(undo_fork_done[i] == undo_fork_undone[i]);
	CHECK(kt_pool_works());
	if (undo_child < 0)
		_exit(kt_pool_works() ? 0 : 2);
	CHECK(waitpid(undo_child, &status, 0) == undo_child);
	if (WIFSIGNALED(status))
		fprintf(stderr, "child killed by signal %d\n",
			WTERMSIG(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_fork_in_undo(void **state)
{
	(void)state;
	expect_child_ok(body_fork_in_undo, 60);
}

static void test_undo_task_gets_helpers(void **state)
{
	(void)state;
	expect_child_ok(body_undo_fail_on_helper, 30);
	expect_child_ok(body_undo_fail_on_caller, 30);
}

/* --- KTASK_DEBUG: the usual words for off ----------------------------------- */

static char self_exe[4096];

/* Runs "test_host --debug-probe" with KTASK_DEBUG=@value; its stderr. */
static bool debug_output(const char *value)
{
	int fds[2], status;
	char buf[256];
	ssize_t n, total = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		if (value)
			setenv("KTASK_DEBUG", value, 1);
		else
			unsetenv("KTASK_DEBUG");
		execl(self_exe, self_exe, "--debug-probe", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf, sizeof(buf))) > 0)
		total += n;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return total > 0;
}

static void test_debug_off_spellings(void **state)
{
	static const char *const off[] = { "0", "false", "no", "off", "FALSE",
					   "Off", "NO", "" };
	static const char *const on[] = { "1", "yes", "true", "on" };

	(void)state;
	assert_false(debug_output(NULL));
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (debug_output(off[i]))
			fail_msg("KTASK_DEBUG=\"%s\" turned debugging on",
				 off[i]);
	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++)
		if (!debug_output(on[i]))
			fail_msg("KTASK_DEBUG=\"%s\" did not", on[i]);
}

/*
 * KTASK_DEBUG and a signal handler's ktask_run(): the handler's task
 * interrupts the thread's own debug line, or the program's fprintf() to
 * stderr.  The line used to go through stdio, whose lock on stderr the
 * interrupted thread held: the handler's call waited for it forever (5 of
 * 5 runs of this probe).  The probe runs 1.5 s of tiny tasks with a
 * handler's task every 300 us, and must end.
 */
/* [A]: the handler runs on helpers too, in their chunks. */
static int handler_tasks;

static int empty_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	return KTASK_RETURN_SUCCESS;
}

static void debug_handler(int sig)
{
	DEFINE_KTASK_CTL(ctl, empty_chunk, NULL, 1);
	int saved = errno;	/* as a handler must */

	(void)sig;
	if (!ktask_run(NULL, 64, &ctl))
		__atomic_fetch_add(&handler_tasks, 1, __ATOMIC_RELAXED);
	errno = saved;
}

static int debug_signal_probe(void)
{
	DEFINE_KTASK_CTL(ctl, empty_chunk, NULL, 1);
	struct sigaction sa = { .sa_handler = debug_handler };
	struct itimerval it = { { 0, 300 }, { 0, 300 } };
	double until;
	long tasks = 0;
	int n;

	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		return 2;
	until = kt_now() + 1.5;
	while (kt_now() < until) {
		if (ktask_run(NULL, 128, &ctl))
			return 1;
		if (!(++tasks % 64))
			fprintf(stderr, "the program's own line\n");
	}
	it.it_value.tv_usec = it.it_interval.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	n = __atomic_load_n(&handler_tasks, __ATOMIC_RELAXED);
	printf("%ld tasks, %d in the handler\n", tasks, n);
	return n > 0 ? 0 : 3;
}

static void test_debug_in_signal_handler(void **state)
{
	int status = 0;
	pid_t pid, got = 0;
	double until;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		setenv("KTASK_DEBUG", "1", 1);
		/*
		 * ktask_run() is not async-signal-safe (ktask(3)): the probe
		 * calls it in a handler knowingly, as the programs this test
		 * stands for do.  ThreadSanitizer would count every such call.
		 */
		setenv("TSAN_OPTIONS", "die_after_fork=0 report_signal_unsafe=0",
		       1);
		execl(self_exe, self_exe, "--debug-signal-probe", (char *)NULL);
		_exit(127);
	}
	/* A hang fails the test. */
	until = kt_now() + 30;
	while (!(got = waitpid(pid, &status, WNOHANG)) && kt_now() < until)
		kt_sleep_ms(20);
	if (!got) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("the probe hung: a handler's task waited for a lock "
			 "its own thread held");
	}
	assert_int_equal(got, pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("the probe %s %d", WIFEXITED(status) ? "exited" :
			 "was killed by signal", WIFEXITED(status) ?
			 WEXITSTATUS(status) : WTERMSIG(status));
}

/* --- The environment of a privileged program ---------------------------- */

struct probe {
	unsigned long secure;
	int nid7;
	size_t max, helpers;
	bool stderr_output;
};

/* Runs ktask-env-probe at @path with the NULL-ended settings @env. */
static void run_probe(const char *path, const char *const *env,
		      struct probe *p)
{
	int out[2], err[2], status;
	char buf[512], junk[256];
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		for (; *env; env += 2)
			setenv(env[0], env[1], 1);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	n = read(out[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	p->stderr_output = read(err[0], junk, sizeof(junk)) > 0;
	while (read(err[0], junk, sizeof(junk)) > 0)
		;
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("%s: status %#x, output \"%s\"", path, status, buf);
	if (sscanf(buf, "secure=%lu nid7=%d max=%zu helpers=%zu", &p->secure,
		   &p->nid7, &p->max, &p->helpers) != 4)
		fail_msg("%s: unexpected output \"%s\"", path, buf);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A set-user-ID copy of the probe, owned by nobody (65534). */
static void setuid_copy(const char *dir, char *copy, size_t size)
{
	char cmd[8400];

	snprintf(copy, size, "%s/probe", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", KTASK_ENV_PROBE, copy);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(chown(copy, 65534, 65534), 0);
	assert_int_equal(chmod(copy, 04755), 0);
}

/*
 * Test hooks and settings in the environment: a plain run follows them
 * (so the probe can tell), a set-user-ID copy ignores every one of them.
 */
static void test_env_ignored_when_setuid(void **state)
{
	char dir[] = "/tmp/ktask-env-XXXXXX", cg[4200], proc[4200];
	char copy[4200], cmd[4300];
	struct probe plain, secure, plain_f, secure_f;
	const char *hooks[] = {
		"KTASK_TOPOLOGY", "0:0;7:1", "KTASK_CGROUP_FS", cg,
		"KTASK_PROC_CGROUP", proc, "KTASK_DEBUG", "1", NULL };
	const char *faults[] = {
		"KTASK_FAULT_THREAD_CREATE", "always",
		"KTASK_FAULT_ALLOC", "worker", NULL };

	(void)state;
	if (geteuid() != 0 || kt_usable_cpus() < 2) {
		print_message("needs root (to make a set-user-ID copy) and "
			      "2 usable CPUs\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	/* A fake cgroup v2 tree whose root allows one CPU. */
	snprintf(cg, sizeof(cg), "%s/cgroup", dir);
	snprintf(proc, sizeof(proc), "%s/proc-cgroup", dir);
	assert_int_equal(mkdir(cg, 0755), 0);
	write_file(cg, "cgroup.controllers", "cpu\n");
	write_file(cg, "cpu.max", "100000 100000\n");
	write_file(dir, "proc-cgroup", "0::/\n");
	setuid_copy(dir, copy, sizeof(copy));

	run_probe(KTASK_ENV_PROBE, hooks, &plain);
	run_probe(copy, hooks, &secure);
	run_probe(KTASK_ENV_PROBE, faults, &plain_f);
	run_probe(copy, faults, &secure_f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	if (!secure.secure) {
		print_message("the set-user-ID copy did not run privileged "
			      "(a nosuid /tmp?)\n");
		skip();
	}
	/* The plain run follows the hooks: that is what is ignored below. */
	assert_int_equal(plain.secure, 0);
	assert_int_equal(plain.nid7, 0);
	assert_int_equal(plain.max, 1);
	assert_true(plain.stderr_output);
	assert_int_equal(plain_f.helpers, 0);
	/* The privileged copy: real topology, no quota, no debug, no faults. */
	assert_int_equal(secure.nid7, -EINVAL);
	assert_int_equal(secure.max, kt_usable_cpus());
	assert_false(secure.stderr_output);
	assert_int_equal(secure_f.helpers, 1);
}

/* A FIFO where the quota reader looks does not hang a task. */
static void body_fifo_as_proc_cgroup(void)
{
	char dir[] = "/tmp/ktask-fifo-XXXXXX", fifo[64];
	struct kt_meet m = { .want = 1 };
	DEFINE_KTASK_CTL(ctl, kt_meet_chunk, &m, 1);

	CHECK(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/cgroup", dir);
	CHECK(!mkfifo(fifo, 0600));
	setenv("KTASK_PROC_CGROUP", fifo, 1);
	CHECK(ktask_run(NULL, 8, &ctl) == 0);
	unlink(fifo);
	rmdir(dir);
}

static void test_fifo_in_quota_path(void **state)
{
	(void)state;
	expect_child_ok(body_fifo_as_proc_cgroup, 20);
}

static int debug_probe(void)
{
	struct kt_meet m = { .want = 1 };
	DEFINE_KTASK_CTL(ctl, kt_meet_chunk, &m, 1);

	return ktask_run(NULL, 8, &ctl) ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segv_handler_on_helper),
		cmocka_unit_test(test_fault_signals_on_helper),
		cmocka_unit_test(test_chunk_runs_with_caller_mask),
		cmocka_unit_test(test_fork_while_helper_in_iterator),
		cmocka_unit_test(test_fork_in_thread_function_on_helper),
		cmocka_unit_test(test_cancel_deferred_until_return),
		cmocka_unit_test(test_small_stack_caller),
		cmocka_unit_test(test_new_worker_nice_recorded),
		cmocka_unit_test(test_renice_in_chunk_not_leaked),
		cmocka_unit_test(test_thread_state_not_leaked),
		cmocka_unit_test(test_undo_task_gets_helpers),
		cmocka_unit_test(test_fork_in_undo),
		cmocka_unit_test(test_debug_off_spellings),
		cmocka_unit_test(test_debug_in_signal_handler),
		cmocka_unit_test(test_env_ignored_when_setuid),
		cmocka_unit_test(test_fifo_in_quota_path),
	};
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "--debug-probe"))
		return debug_probe();
	if (argc > 1 && !strcmp(argv[1], "--debug-signal-probe"))
		return debug_signal_probe();
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	return cmocka_run_group_tests(tests, NULL, NULL);
}
