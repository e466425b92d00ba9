// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pool.c - the userland home of the ktask core: a process-wide pool of
 * helper threads, the counterpart of the kernel's unbound workqueue.
 *
 * Workers are started lazily, the first time a task wants a helper and no
 * idle one exists, and never beyond the helper limit: usable CPUs minus the
 * caller, for all tasks of the process together.  A task that finds the
 * limit reached runs with fewer helpers, down to none.
 *
 * A worker's life is a small state machine in one futex word, w_state:
 *
 *   IDLE --(caller takes it, under pool.lock)--> ASSIGNED
 *   ASSIGNED --(worker)--> RUNNING --(worker)--> DONE
 *   ASSIGNED --(caller, when it finished every chunk first)--> CANCELLED
 *   DONE, CANCELLED --(caller, after undo)--> IDLE
 *
 * The ASSIGNED->RUNNING and ASSIGNED->CANCELLED steps are compare-and-swaps,
 * so exactly one side wins a race between a waking worker and a caller that
 * no longer needs it.  W_SLEEPING is or-ed in by a worker that is about to
 * sleep on the word; whoever assigns it then wakes it.  Between tasks a
 * worker spins briefly (back-to-back tasks are then cheap), then sleeps,
 * and after an idle timeout it exits.
 *
 * A worker has two work items.  One that failed stays on its task's failed
 * list until undo is over, yet the worker goes back to the pool before
 * undo (a task run by the undo function may need it) and works on its
 * other item meanwhile; a worker with both items held is not handed out.
 *
 * A chunk runs with its caller's signal mask (as of the caller's view, see
 * refresh_view()), so that faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL) reach
 * the program's handlers on a helper as on the caller, and a process a
 * thread function starts inherits the caller's
 * mask.  An idle worker blocks every signal: it keeps the last task's mask
 * only while it spins after that task, so that back-to-back tasks of one
 * caller cost no system call for it.
 *
 * A helper also runs under its caller's scheduling policy and only for a
 * caller of its own security state (caller.c, worker_enter()).
 *
 * Locking legend: [P] pool.lock, [O] the task that owns the worker,
 * [S] the worker's w_sched_lock (see worker_sched()), [A] atomics only.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "../ktask_core.h"
#include "caller.h"
#include "fault.h"
#include "testhooks.h"
#include "topology.h"

enum {
	W_IDLE = 0,
	W_ASSIGNED,
	W_RUNNING,
	W_DONE,
	W_CANCELLED,
	W_STATE_MASK = 0xff,
	W_SLEEPING = 0x100,
};

/* The caller sleeps on kpt_pending with this bit set. */
#define P_WAITER 0x80000000u

/*
 * Spinning before sleeping: 0.1 ms for a worker, 4096 pauses (0.1-0.2 ms
 * on current x86 CPUs) for a caller waiting for its helpers.  Every
 * SPIN_YIELD_EVERY pauses a spinner yields its CPU, so that a woken helper
 * that landed on its caller's CPU (the scheduler's habit for a futex wake)
 * does not keep the caller off it while it spins, and the other way round.
 */
#define WORKER_SPIN_NS 100000LL
#define CALLER_SPINS 4096
#define SPIN_YIELD_EVERY 128

#define DEFAULT_IDLE_MS 2000

/* A work item of a worker, and the way back from it to the worker. */
struct ktask_slot {
	struct ktask_work s_work;
	struct ktask_worker *s_worker;
};

/*
 * Periodic callers.  A program that runs a small task every millisecond
 * (a frame, a control loop, an audio buffer) meets a sleeping helper each
 * time, and a futex wake-up costs 10-20 us in some virtual machines: more
 * than the task.  Spinning through the gap, as OpenMP runtimes do, burns a
 * CPU.  Instead each worker learns the rhythm of its own assignments and,
 * once the last RHYTHM_REGULAR intervals agreed, sleeps until just before
 * the next one is due and spins only through a window around it: the
 * smoothed deviation twice over plus RHYTHM_SLACK_NS, at most a tenth of
 * the period.  A window that passes without a task stops the predicting
 * until the rhythm is regular again, so an irregular caller costs at most
 * one window per miss.  Periods outside [RHYTHM_MIN_NS, RHYTHM_MAX_NS] are
 * left to the plain spin-then-sleep.  All of it is the worker's own state.
 *
 * A worker that waits for a periodic caller also steps aside from the CPU
 * that caller last ran on (worker_step_aside()): both sleep between tasks,
 * and both timers fire on the CPU where they slept.  Woken together on one
 * CPU, the caller finds it busy with the spinning helper or takes it from
 * the helper, and does the whole task itself while the helper waits for
 * the CPU: on two CPUs in the normal scheduling class a helper ran a chunk
 * in one call out of ten.
 */
#define RHYTHM_MIN_NS 250000LL
#define RHYTHM_MAX_NS 100000000LL
#define RHYTHM_SLACK_NS 10000LL
#define RHYTHM_REGULAR 3

struct ktask_rhythm {
	int64_t r_last;		/* when the worker last saw an assignment */
	int64_t r_period;	/* smoothed interval between them, or 0 */
	int64_t r_dev;		/* smoothed deviation from r_period */
	int64_t r_late;		/* smoothed lateness of timed wake-ups */
	unsigned int r_regular;	/* intervals in a row close to r_period */
	unsigned int r_seen;	/* w_assigns when it last looked */
	int r_cpu;		/* the last caller's CPU then, or -1 */
};

struct ktask_worker {
	struct ktask_slot w_slots[2];	/* the core's records of its shares */
	struct ktask_work *w_kw;	/* [O] the current task's, in w_slots */
	unsigned int w_held;		/* [P] bit per slot: failed, in undo */
	struct ktask_inside w_inside;	/* [O] its entry while it works */
	bool w_blocked;			/* its own: every signal blocked */
	sigset_t w_sigmask;		/* its own: its mask unless w_blocked */
	uint32_t w_state;		/* [A] W_*, futex word */
	bool w_idle;			/* [P] on pool.idle */
	struct ktask_worker *w_next;	/* [P] pool.idle link while idle,
					 * [O] task's helper list while busy */
	unsigned int w_id;
	unsigned int w_gen;		/* pool.gen when it was started */
	int w_nice;			/* [P] while idle, [O] while busy;
					 * also its own thread's, atomic,
					 * after a task (worker_main()) */
	cpu_set_t w_mask;		/* the worker's own: its affinity */
	cpu_set_t w_base;		/* its own: w_mask before it stepped
					 * aside, while w_aside */
	bool w_aside;			/* its own: off a caller's CPU */
	pthread_mutex_t w_sched_lock;	/* [S] below; see worker_sched() */
	struct ktask_sched w_sched;	/* [S] its policy and priority */
	int w_policy;			/* [A] copies of those, for a look */
	int w_prio;			/* without the lock */
	pid_t w_tid;			/* [A] its thread id, 0 at first */
	struct ktask_creds w_creds;	/* [O] while busy, [P] while idle:
					 * its security state (caller.h) */
	int64_t w_creds_ms;		/* its own: when it read w_creds */
	bool w_dismissed;		/* [A] replaced: the thread exits */
	cpu_set_t w_pool_mask;		/* its own: its copy of pool.mask */
	unsigned int w_pool_gen;	/* pool.mask_gen of that copy */
	unsigned int w_assigns;		/* [O] assignments, cancelled too */
	struct ktask_rhythm w_rhythm;	/* the worker's own */
};

static struct {
	pthread_mutex_t lock;
	struct ktask_worker *idle;	/* [P] most recently used first */
	unsigned int nr_workers;	/* [P] threads alive */
	unsigned int nr_busy;		/* [P] workers owned by tasks */
	unsigned int next_id;		/* [P] */
	unsigned int gen;		/* [P] bumped in a fork child */
	unsigned int nr_callers;	/* [A] threads running a task that
					 * may have helpers */
	/*
	 * Workers' affinity between tasks, [P]: the CPUs of every caller that
	 * asked for helpers (pool_mask_add()).
	 */
	cpu_set_t mask;
	/* Settings, read once from the environment. */
	size_t env_max_threads;		/* KTASK_MAX_THREADS, 0 if unset */
	unsigned int idle_ms;		/* KTASK_IDLE_MS */
	unsigned long fail_create;	/* KTASK_FAULT_THREAD_CREATE */
	clockid_t view_clock;		/* the clock of callers' views */
	int64_t view_refresh_ms;	/* and their age that is stale */
	unsigned int mask_gen;		/* [A] bumped when mask grows */
	sigset_t all;			/* every signal: a worker's mask */
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static bool pool_ready;		/* [A] pool_init() has run */

#ifdef KTASK_TEST_HOOKS
void (*ktask_test_hook_fn)(enum ktask_hook_point point);
unsigned long ktask_test_affinity_calls;
#endif

/*
 * The calling thread's last decision, and its view of its CPUs, nice
 * value, scheduling policy, security state and signal mask.  System calls
 * cost microseconds in some virtual machines, more than a small task's
 * whole fork and join (reading the signal mask for each task made
 * back-to-back tasks 4x slower), so the view is read again only when it
 * may be VIEW_REFRESH_MS old: a change is followed within that time,
 * measured on a clock whose resolution is accounted for (pool_view_clock()).
 */
#define VIEW_REFRESH_MS 10

#define KTASK_TLS static __thread __attribute__((tls_model("initial-exec")))
KTASK_TLS struct ktask_stats tls_stats;
KTASK_TLS struct ktask_cpus tls_cpus;
KTASK_TLS int tls_nice;
KTASK_TLS sigset_t tls_sigmask;	/* the thread's signal mask */
KTASK_TLS unsigned int tls_tasks;	/* this thread's tasks in pool.nr_callers */
KTASK_TLS int64_t tls_view_ms;	/* when tls_cpus and tls_nice were read */
KTASK_TLS struct ktask_sched tls_sched;	/* and its policy */
KTASK_TLS struct ktask_creds tls_creds;	/* and security state */
KTASK_TLS int tls_floor;		/* and the nice floor, for those */
KTASK_TLS bool tls_grant;		/* its policy may be given on */
KTASK_TLS bool tls_have_creds;		/* tls_creds were read once */
KTASK_TLS bool tls_mask_added;		/* tls_cpus' mask is in pool.mask */
KTASK_TLS struct ktask_inside *tls_inside;	/* the tasks it works on */

/*
 * Regions of the pool that a signal handler's ktask_run() must not enter
 * on the thread it interrupted: with pool.lock held, inside pool_once or
 * a fork handler, reading the view (the quota cache's lock).  A call made
 * by a handler that interrupted one of them finds tls_busy set and runs
 * inline, in the handler, touching no lock (ktask_plat_max_threads()).
 * The compiler fences keep the count's updates around the region's code;
 * only this thread and its signal handlers read it.
 */
KTASK_TLS unsigned int tls_busy;

static void busy_enter(void)
{
	tls_busy++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static void busy_exit(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	tls_busy--;
}

static void pool_lock(void)
{
	busy_enter();
	pthread_mutex_lock(&pool.lock);
	ktask_test_hook(KTASK_HOOK_POOL_LOCKED);
}

static void pool_unlock(void)
{
	pthread_mutex_unlock(&pool.lock);
	busy_exit();
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* One step of a spin: a pause, and now and then a yield. */
static void spin_pause(int i)
{
	if (i % SPIN_YIELD_EVERY)
		cpu_relax();
	else
		sched_yield();
}

static int futex_wait(uint32_t *word, uint32_t val, const struct timespec *ts)
{
	if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, ts, NULL, 0))
		return errno;
	return 0;
}

static void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/*
 * Reads a decimal number from the environment; @unset if unset or
 * malformed.
 * Every setting is read with secure_getenv(): a set-user-ID or otherwise
 * privileged program ignores them all, hooks for tests included.
 */
static unsigned long env_number(const char *name, unsigned long unset)
{
	const char *s = secure_getenv(name);
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return unset;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end)
		return unset;
	return v;
}

/*
 * Before a fork: wait until no other thread holds the lock of a task the
 * forking thread works on (a helper inside the iterator), and hold it, so
 * that the child finds the lock free and the iterator's state whole.  The
 * forking thread may hold one itself (an iterator that forks): skip that.
 */
static void pool_fork_prepare(void)
{
	struct ktask_inside *in;

	for (in = tls_inside; in; in = in->ki_outer) {
		struct ktask_lock *l = &in->ki_task->kt_lock;

		if (!in->ki_task->kt_locked ||
		    __atomic_load_n(&l->kl_owner, __ATOMIC_RELAXED) ==
		    pthread_self())
			continue;
		ktask_lock(l);
		in->ki_locked = true;
	}
	pool_lock();
}

static void pool_fork_parent(void)
{
	struct ktask_inside *in;

	pool_unlock();
	for (in = tls_inside; in; in = in->ki_outer) {
		if (in->ki_locked)
			ktask_unlock(&in->ki_task->kt_lock);
		in->ki_locked = false;
	}
}

/*
 * In the child, the forking thread's tasks: their locks start free (they
 * were taken in the prepare handler, by a thread of another id), and a task
 * it is the caller of waits for no helper, since every helper stayed in
 * the parent, whether it was working, or done but not yet counted down.
 */
static void fork_child_tasks(void)
{
	struct ktask_inside *in;

	for (in = tls_inside; in; in = in->ki_outer) {
		struct ktask_task *task = in->ki_task;

		if (in->ki_locked)
			ktask_lock_init(&task->kt_lock);
		in->ki_locked = false;
		if (in->ki_caller)
			task->kt_plat.kpt_pending = 0;
	}
}

/*
 * The child has only the thread that forked: no worker survives.  Free the
 * idle ones' memory and start again with an empty pool of a new generation.
 * Busy workers belong to tasks; a task of the forking thread itself (a
 * fork from a thread function) finds its helpers of the old generation and
 * neither waits for them nor gives them back (see worker_stale()); those
 * of other threads' tasks are lost with the threads.  A fork from a thread
 * function on a helper leaves a child whose only thread is that worker:
 * it finishes its share and then ends the child with _exit(0), as a fork
 * child should (exit() would flush the parent's stdio buffers again).
 */
static void pool_fork_child(void)
{
	struct ktask_worker *w;

	pthread_mutex_init(&pool.lock, NULL);
	/*
	 * An idle worker with a held work item is still read by an undo (the
	 * forking thread's, from its undo function): ktask_plat_task_done()
	 * frees it once no item is held (never, for another thread's undo).
	 */
	while ((w = pool.idle)) {
		pool.idle = w->w_next;
		if (!w->w_held)
			free(w);
	}
	pool.nr_workers = 0;
	pool.nr_busy = 0;
	pool.next_id = 0;
	/* Only the forking thread's own tasks, if any, run in the child. */
	pool.nr_callers = tls_tasks;
	pool.gen++;
	fork_child_tasks();
	ktask_topo_fork_child();
	busy_exit();	/* pool_fork_prepare()'s pool_lock() */
}

/* Whether @w's thread was left behind in the parent by a fork. */
static bool worker_stale(const struct ktask_worker *w)
{
	return w->w_gen != __atomic_load_n(&pool.gen, __ATOMIC_RELAXED);
}

/*
 * The lowest nice value this thread may set: any with CAP_SYS_NICE in its
 * effective set (being root is not enough: a container's root often lacks
 * it), else down to the RLIMIT_NICE ceiling, 20 - rlim_cur.
 */
int ktask_nice_floor(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	struct rlimit rl;
	long floor;

	if (!syscall(SYS_capget, &hdr, data) &&
	    (data[CAP_SYS_NICE / 32].effective & (1u << CAP_SYS_NICE % 32)))
		return -20;
	if (getrlimit(RLIMIT_NICE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 40)
		return rl.rlim_cur == RLIM_INFINITY ? -20 : 20;
	floor = 20 - (long)rl.rlim_cur;
	return floor < -20 ? -20 : (int)floor;
}

/* This thread's real nice value (Linux: per thread). */
static int thread_nice(int fallback)
{
	int nice;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	return errno ? fallback : nice;
}

/*
 * The clock of the callers' views.  CLOCK_MONOTONIC_COARSE costs no system
 * call and lags real time by up to its resolution (a scheduler tick, 1-10
 * ms); two reads of it in whole milliseconds differ by more than the real
 * time between them minus that resolution minus one.  So a view is stale
 * once the coarse clock moved VIEW_REFRESH_MS minus the resolution, which
 * keeps "within VIEW_REFRESH_MS" true; with a tick coarser than half of
 * that, the precise clock instead (vDSO, no system call either on most
 * machines).
 */
static void pool_view_clock(void)
{
	struct timespec res;
	int64_t res_ms = VIEW_REFRESH_MS;

	if (!clock_getres(CLOCK_MONOTONIC_COARSE, &res))
		res_ms = ((int64_t)res.tv_sec * 1000000000LL + res.tv_nsec +
			  999999) / 1000000;
	if (res_ms <= VIEW_REFRESH_MS / 2) {
		pool.view_clock = CLOCK_MONOTONIC_COARSE;
		pool.view_refresh_ms = VIEW_REFRESH_MS - res_ms;
	} else {
		pool.view_clock = CLOCK_MONOTONIC;
		pool.view_refresh_ms = VIEW_REFRESH_MS;
	}
}

/* Never 0; 64 bits, so that a 32-bit build does not wrap after 25 days. */
static int64_t view_ms(void)
{
	struct timespec ts;

	clock_gettime(pool.view_clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

static void pool_init(void)
{
	/* 0: a worker exits as soon as its spin after a task ends. */
	unsigned long ms = env_number("KTASK_IDLE_MS", DEFAULT_IDLE_MS);
	const char *fault = secure_getenv("KTASK_FAULT_THREAD_CREATE");

	pool.env_max_threads = env_number("KTASK_MAX_THREADS", 0);
	/* "always", or N to fail one thread creation in N at random. */
	if (fault && !strcmp(fault, "always"))
		pool.fail_create = 1;
	else
		pool.fail_create = env_number("KTASK_FAULT_THREAD_CREATE", 0);
	pool.idle_ms = ms > INT_MAX ? INT_MAX : ms;
	pool_view_clock();
	sigfillset(&pool.all);
	/* Between tasks workers run on their callers' CPUs (pool_mask_add()). */
	CPU_ZERO(&pool.mask);
	ktask_topo_init();
	ktask_test_hook(KTASK_HOOK_POOL_INIT);
	pthread_atfork(pool_fork_prepare, pool_fork_parent, pool_fork_child);
	__atomic_store_n(&pool_ready, true, __ATOMIC_RELEASE);
}

/* Initializes the pool once, as a region a signal handler's call avoids. */
static void pool_start(void)
{
	if (__atomic_load_n(&pool_ready, __ATOMIC_ACQUIRE))
		return;
	busy_enter();
	pthread_once(&pool_once, pool_init);
	busy_exit();
}

/*
 * Reads the caller's CPUs, nice value, policy and security state if its
 * view is stale.  The nice floor is read again when its capabilities or
 * ids changed (a daemon that dropped its privileges).
 */
static void refresh_view(void)
{
	int64_t now = view_ms();
	struct ktask_creds creds;

	if (tls_view_ms && now - tls_view_ms < pool.view_refresh_ms)
		return;
	ktask_topo_cpus(&tls_cpus);
	tls_mask_added = false;
	if (!ktask_sched_read(&tls_sched)) {
		tls_sched.kss_policy = SCHED_OTHER;
		tls_sched.kss_prio = 0;
		tls_sched.kss_nice = thread_nice(0);
	}
	tls_nice = tls_sched.kss_nice;
	ktask_creds_read(&creds);
	if (!tls_have_creds || ktask_creds_rights_changed(&creds, &tls_creds))
		tls_floor = ktask_nice_floor();
	tls_creds = creds;
	tls_have_creds = true;
	tls_grant = ktask_sched_grantable(&tls_sched, &creds);
	pthread_sigmask(SIG_BLOCK, NULL, &tls_sigmask);
	ktask_test_hook(KTASK_HOOK_SIGMASK_READ);
	tls_view_ms = now;
}

/*
 * Usable CPUs for a task over @nodes: the caller's usable CPUs, or only
 * those on the nodes named when no node is NUMA_NO_NODE.
 */
size_t ktask_plat_max_threads(const struct ktask_node *nodes, size_t nr_nodes)
{
	struct ktask_cpus *cpus = &tls_cpus;
	size_t n = 0, i;
	cpu_set_t on_nodes;

	/*
	 * A signal handler's call on a thread the signal caught inside the
	 * pool: one thread, inline, with no lock (not even pool_once's).
	 */
	if (tls_busy)
		return 1;
	pool_start();
	busy_enter();
	refresh_view();
	busy_exit();
	CPU_ZERO(&on_nodes);
	for (i = 0; i < nr_nodes; i++) {
		if (!nodes[i].kn_task_size)
			continue;
		if (nodes[i].kn_nid == NUMA_NO_NODE)
			break;
		CPU_OR(&on_nodes, &on_nodes,
		       ktask_topo_node_mask(nodes[i].kn_nid));
	}
	if (i == nr_nodes) {
		CPU_AND(&on_nodes, &on_nodes, &cpus->kc_mask);
		n = CPU_COUNT(&on_nodes);
	}
	if (!n || n > cpus->kc_usable)
		n = cpus->kc_usable;
	if (pool.env_max_threads && pool.env_max_threads < n)
		n = pool.env_max_threads;
	return n;
}

/*
 * Node checks need the topology, which pool_init() loads.  A signal
 * handler that interrupted pool_init() itself cannot have it: a named node
 * is then refused.
 */
bool ktask_plat_node_valid(int nid)
{
	if (tls_busy && !__atomic_load_n(&pool_ready, __ATOMIC_ACQUIRE))
		return false;
	pool_start();
	return ktask_topo_node_valid(nid);
}

int ktask_plat_current_node(void)
{
	if (tls_busy && !__atomic_load_n(&pool_ready, __ATOMIC_ACQUIRE))
		return NUMA_NO_NODE;
	pool_start();
	return ktask_topo_current_node();
}

/* Whether a KTASK_DEBUG value means on: anything but the words for off. */
static bool debug_value_on(const char *s)
{
	static const char *const off[] = { "", "0", "false", "no", "off", "n",
					   "f" };

	if (!s)
		return false;
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (!strcasecmp(s, off[i]))
			return false;
	return true;
}

/* KTASK_DEBUG=1: tell on stderr what was decided for each task. */
static bool debug_enabled(void)
{
	static int debug = -1;
	int d = __atomic_load_n(&debug, __ATOMIC_RELAXED);

	if (d < 0) {
		d = debug_value_on(secure_getenv("KTASK_DEBUG"));
		__atomic_store_n(&debug, d, __ATOMIC_RELAXED);
	}
	return d;
}

static void debug_note(const struct ktask_stats *stats)
{
	const struct ktask_cpus *cpus = &tls_cpus;
	char quota[320] = "none", source[256];

	if (stats->ks_threads == 1 && !stats->ks_max_threads) {
		fprintf(stderr, "ktask: %zu units: inline, one chunk per node "
			"(no more than one minimum chunk, or serial build)\n",
			stats->ks_total_size);
		return;
	}
	if (cpus->kc_quota_milli) {
		ktask_topo_quota_source(source, sizeof(source));
		snprintf(quota, sizeof(quota), "%ld.%03ld CPUs from %s",
			 cpus->kc_quota_milli / 1000,
			 cpus->kc_quota_milli % 1000, source);
	}
	fprintf(stderr, "ktask: %zu units: usable CPUs %zu (online %zu, "
		"affinity %zu, cgroup quota %s%s), max threads %zu%s; "
		"threads %zu, helpers started %zu, chunk %zu%s\n",
		stats->ks_total_size, cpus->kc_usable, cpus->kc_online,
		cpus->kc_affinity, quota,
		ktask_topo_is_fake() ? ", fake topology" : "",
		stats->ks_max_threads,
		pool.env_max_threads ? " (KTASK_MAX_THREADS)" : "",
		stats->ks_threads, stats->ks_helpers, stats->ks_chunk_size,
		stats->ks_threads == 1 ? " (inline)" : "");
}

void ktask_plat_note(const struct ktask_stats *stats)
{
	/* The interrupted call's record stays whole: it may be writing it. */
	if (tls_busy)
		return;
	busy_enter();
	tls_stats = *stats;
	busy_exit();
	if (ktask_unlikely(debug_enabled()))
		debug_note(stats);
}

KTASK_PUBLIC void ktask_last_stats(struct ktask_stats *stats)
{
	*stats = tls_stats;
}

/* The next task of this thread reads its view (refresh_view()) anew. */
KTASK_PUBLIC void ktask_thread_changed(void)
{
	tls_view_ms = 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

/* Notes that the worker saw an assignment at @now. */
static void rhythm_arrival(struct ktask_rhythm *r, int64_t now)
{
	int64_t gap = now - r->r_last, err;

	r->r_last = now;
	if (gap <= 0 || gap > RHYTHM_MAX_NS) {
		r->r_period = 0;
		r->r_regular = 0;
		return;
	}
	if (!r->r_period) {
		r->r_period = gap;
		r->r_dev = gap / 8;
		r->r_regular = 0;
		return;
	}
	err = abs64(gap - r->r_period);
	r->r_regular = err <= r->r_period / 8 + RHYTHM_SLACK_NS ?
		       r->r_regular + 1 : 0;
	r->r_period += (gap - r->r_period) / 4;
	r->r_dev += (err - r->r_dev) / 4;
}

/*
 * Whether an assignment came that the worker has not noted yet (a
 * cancelled one counts: it is part of the caller's rhythm).
 */
static bool rhythm_pending(const struct ktask_worker *w)
{
	return __atomic_load_n(&w->w_assigns, __ATOMIC_RELAXED) !=
	       w->w_rhythm.r_seen;
}

/* Notes an assignment the worker has not noted yet, if one came. */
static void rhythm_note(struct ktask_worker *w)
{
	if (!rhythm_pending(w))
		return;
	w->w_rhythm.r_seen = __atomic_load_n(&w->w_assigns, __ATOMIC_RELAXED);
	rhythm_arrival(&w->w_rhythm, mono_ns());
}

/*
 * When the next assignment is due, if the rhythm is regular: spin from
 * *@from to *@until.  *@from is earlier by the usual lateness of a timed
 * wake-up.
 */
static bool rhythm_window(const struct ktask_rhythm *r, int64_t now,
			  int64_t *from, int64_t *until)
{
	int64_t next = r->r_last + r->r_period, window;

	if (r->r_regular < RHYTHM_REGULAR || r->r_period < RHYTHM_MIN_NS)
		return false;
	window = 2 * r->r_dev + RHYTHM_SLACK_NS;
	if (window > r->r_period / 10)
		window = r->r_period / 10;
	if (now > next + window)
		return false;
	*from = next - window - r->r_late;
	*until = next + window;
	return true;
}

/* Whether the worker has something to look at: an assignment, new or not. */
static bool worker_called(const struct ktask_worker *w)
{
	/* Acquire: pairs with the release in worker_assign(). */
	return ktask_load_acquire(&w->w_state) == W_ASSIGNED ||
	       rhythm_pending(w);
}

/*
 * Sleeps on w_state until @when (0: for the idle time) unless called
 * first.  Returns ETIMEDOUT when it slept to the end, else 0.  The worker
 * comes back with W_SLEEPING cleared, so that an assigner that finds it
 * spinning afterwards makes no system call.
 */
static int worker_nap(struct ktask_worker *w, int64_t when)
{
	struct ktask_rhythm *r = &w->w_rhythm;
	int64_t left, late;
	struct timespec ts;
	bool timed_out = false;
	int err = 0;
	uint32_t s;

	/* Asleep, a worker takes no signal: they are the program's. */
	if (!w->w_blocked) {
		pthread_sigmask(SIG_SETMASK, &pool.all, NULL);
		w->w_blocked = true;
	}
	for (;;) {
		/*
		 * Decide on the value the worker then sleeps on: a check of
		 * an earlier load would let it set W_SLEEPING on a word that
		 * was assigned meanwhile (the assigner saw no W_SLEEPING and
		 * woke no one) and sleep through its own task.
		 */
		s = ktask_load_acquire(&w->w_state);
		if (s == W_ASSIGNED || rhythm_pending(w))
			goto awake;
		if (!(s & W_SLEEPING)) {
			/* Fails if the word changed: look again. */
			if (!ktask_cas(&w->w_state, &s, s | W_SLEEPING))
				continue;
			s |= W_SLEEPING;
		}
		left = when ? when - mono_ns() : pool.idle_ms * 1000000LL;
		if (left <= 0)
			break;
		ts.tv_sec = left / 1000000000LL;
		ts.tv_nsec = left % 1000000000LL;
		if (futex_wait(&w->w_state, s, &ts) == ETIMEDOUT) {
			timed_out = true;
			break;
		}
	}
	err = ETIMEDOUT;
	if (when && timed_out) {
		/* How late timers fire here, to set the next alarm earlier. */
		late = mono_ns() - when;
		late = late < 0 ? 0 : late > 100000 ? 100000 : late;
		r->r_late += (late - r->r_late) / 4;
	}
awake:
	for (;;) {
		s = ktask_load_acquire(&w->w_state);
		if (!(s & W_SLEEPING) ||
		    ktask_cas(&w->w_state, &s, s & ~W_SLEEPING))
			return err;
	}
}

/* Spins until @until unless called first; true if called. */
static bool worker_spin_until(struct ktask_worker *w, int64_t until)
{
	int i;

	for (i = 1;; i++) {
		if (worker_called(w))
			return true;
		if (!(i % 32) && mono_ns() >= until)
			return false;
		spin_pause(i);
	}
}

/* Takes an idle worker off the pool for good; false if a task took it. */
static bool worker_retire(struct ktask_worker *w)
{
	struct ktask_worker **pp = &pool.idle;
	bool idle;

	pool_lock();
	/* Not while an undo still reads its failed work item. */
	idle = w->w_idle && !w->w_held;
	if (idle) {
		while (*pp != w)
			pp = &(*pp)->w_next;
		*pp = w->w_next;
		pool.nr_workers--;
	}
	pool_unlock();
	return idle;
}

/*
 * Before waiting for a periodic caller: keep off the CPU it last ran on,
 * among the CPUs the worker has now (see "Periodic callers" above).  One
 * system call when the caller changes CPU, none while it stays.
 */
static void worker_step_aside(struct ktask_worker *w)
{
	const cpu_set_t *base = w->w_aside ? &w->w_base : &w->w_mask;
	int cpu = w->w_rhythm.r_cpu;
	cpu_set_t mask;

	if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, base) ||
	    CPU_COUNT(base) < 2)
		return;
	mask = *base;
	CPU_CLR(cpu, &mask);
	if (CPU_EQUAL(&mask, &w->w_mask))
		return;
	if (!pthread_setaffinity_np(pthread_self(), sizeof(mask), &mask)) {
		ktask_test_count_affinity();
		w->w_base = *base;
		w->w_mask = mask;
		w->w_aside = true;
	}
}

/* Notes the worker's policy and priority, for itself and for others. */
static void worker_sched_note(struct ktask_worker *w,
			      const struct ktask_sched *s)
{
	w->w_sched.kss_policy = s->kss_policy;
	w->w_sched.kss_prio = s->kss_prio;
	__atomic_store_n(&w->w_policy, s->kss_policy, __ATOMIC_RELAXED);
	__atomic_store_n(&w->w_prio, s->kss_prio, __ATOMIC_RELAXED);
}

/*
 * Before a worker sleeps for its idle time: one that a real-time caller
 * set up and then did not need (it did every chunk itself) goes back to
 * SCHED_OTHER too.  Idle, under [S]: a caller may be setting it up again.
 */
static void worker_leave_rt(struct ktask_worker *w)
{
	static const struct ktask_sched other = { .kss_policy = SCHED_OTHER };

	if (!ktask_sched_rt(__atomic_load_n(&w->w_policy, __ATOMIC_RELAXED)))
		return;
	pthread_mutex_lock(&w->w_sched_lock);
	if (ktask_sched_rt(w->w_sched.kss_policy) &&
	    !ktask_sched_apply(0, &other))
		worker_sched_note(w, &other);
	pthread_mutex_unlock(&w->w_sched_lock);
}

/*
 * Waits for an assignment; false once the worker retired after idling.
 * A worker whose assignments come in a regular rhythm sleeps until the next
 * is due and spins through a window around it; otherwise it spins a little
 * after each task, then sleeps.
 */
static bool worker_wait(struct ktask_worker *w)
{
	struct ktask_rhythm *r = &w->w_rhythm;
	int64_t from, until;
	bool spun = false;

	for (;;) {
		rhythm_note(w);
		/* Acquire: pairs with the release in worker_assign(). */
		if (ktask_load_acquire(&w->w_state) == W_ASSIGNED)
			return true;
		if (rhythm_window(r, mono_ns(), &from, &until)) {
			worker_step_aside(w);
			if (!worker_nap(w, from) || worker_spin_until(w, until))
				continue;
			r->r_regular = 0;	/* a miss: plain waiting */
		} else if (!spun) {
			spun = true;
			if (worker_spin_until(w, mono_ns() + WORKER_SPIN_NS))
				continue;
		}
		worker_leave_rt(w);
		if (!worker_nap(w, 0) || mono_ns() - r->r_last <
					 pool.idle_ms * 1000000LL)
			continue;
		/* Idle for the whole idle time: retire, unless just taken. */
		if (worker_retire(w))
			return false;
	}
}


/*
 * The last helper to finish wakes the caller if it sleeps.  The caller may
 * see the count reach zero and return before futex_wake() runs: the wake
 * then lands on a stack word that is gone or reused, which is at worst a
 * spurious wake-up, and every futex_wait() here checks its word again.
 */
static void helper_done(struct ktask_task *task)
{
	/* Release: the caller's acquire load then sees this helper's work. */
	uint32_t old = __atomic_fetch_sub(&task->kt_plat.kpt_pending, 1,
					  __ATOMIC_ACQ_REL);

	if (old == (P_WAITER | 1))
		futex_wake(&task->kt_plat.kpt_pending);
}

/*
 * Leaving a call abruptly.  A thread function that leaves by siglongjmp()
 * out of a signal handler, or by a C++ exception, leaves ktask_run() with
 * it, while helpers still work on the task on the caller's stack.  The
 * caller's frames are still whole when glibc runs the cleanup buffer that
 * the longjmp passes (or the unwinder runs the cleanup attribute), and
 * there the task is abandoned: no chunk is handed out any more, helpers
 * finish the chunk they run and are waited for, the pool takes them back,
 * and the thread's records (its tasks, the caller count, cancellation)
 * are restored.  Nothing is undone: the caller left without an error to
 * undo for.  A helper cannot leave that way: a handler on a helper has no
 * place to jump to on that thread but inside the thread function (a jump
 * to another thread's buffer is undefined), and an exception finds no
 * handler there (std::terminate()).
 */
#ifdef __GLIBC__
/* glibc's cleanup buffers, the ones longjmp() and pthread_exit() run. */
extern void _pthread_cleanup_push(struct _pthread_cleanup_buffer *buffer,
				  void (*routine)(void *), void *arg);
extern void _pthread_cleanup_pop(struct _pthread_cleanup_buffer *buffer,
				 int execute);
#endif

static void die(const char *msg)
{
	ssize_t ret = write(STDERR_FILENO, msg, strlen(msg));

	(void)ret;
	abort();
}

/* A longjmp or pthread_exit() past a helper's chunk: refused, loudly. */
static void helper_left(void *arg)
{
	(void)arg;
	die("ktask: a thread function on a helper left its chunk by longjmp "
	    "or pthread_exit(); a helper's chunk must return\n");
}

#ifdef KTASK_CXX
/* chunk_cxx.cc */
int ktask_cxx_call(int (*func)(void *, void *, void *), void *start,
		   void *end, void *arg, void **slot);
void ktask_cxx_drop(void *exc);
void ktask_cxx_rethrow(void *exc) __attribute__((noreturn));
#endif

/*
 * A helper's chunk: under a C++ catch-all that keeps an exception for the
 * caller to rethrow (ktask_plat_release_helpers()), where the library was
 * built with C++.
 */
int ktask_plat_helper_chunk(struct ktask_work *kw, void *start, void *end)
{
	const struct ktask_ctl *ctl = kw->kw_task->kt_ctl;

#ifdef KTASK_CXX
	return ktask_cxx_call(ctl->kc_thread_func, start, end,
			      ctl->kc_func_arg, &kw->kw_task->kt_plat.kpt_exc);
#else
	return ctl->kc_thread_func(start, end, ctl->kc_func_arg);
#endif
}

#ifdef KTASK_CXX
/* Takes a helper's exception off @task, if one was kept. */
static void *task_exception(struct ktask_task *task)
{
	/* Acquire: pairs with the compare-and-swap in ktask_cxx_call(). */
	return __atomic_exchange_n(&task->kt_plat.kpt_exc, NULL,
				   __ATOMIC_ACQUIRE);
}
#endif

/* The caller leaves @task, its innermost one, abruptly. */
static void task_abandon(struct ktask_task *task)
{
	struct ktask_inside *in = &task->kt_plat.kpt_inside;
	struct ktask_lock *l = &task->kt_lock;
	int none = 0;

	if (!in->ki_released) {
		/* Left from inside the iterator, under the task's lock. */
		if (task->kt_locked &&
		    __atomic_load_n(&l->kl_owner, __ATOMIC_RELAXED) ==
		    pthread_self())
			ktask_unlock(l);
		/* No chunk is handed out any more (ktask_claim()). */
		ktask_cas(&task->kt_error, &none, -ECANCELED);
		ktask_plat_wait_helpers(task);
#ifdef KTASK_CXX
		/* The caller's own exit wins over a helper's exception. */
		void *exc = task_exception(task);

		if (exc)
			ktask_cxx_drop(exc);
#endif
		ktask_plat_release_helpers(task);
	}
	ktask_plat_task_done(task);
	ktask_lock_destroy(l);
}

static void call_abandon(struct ktask_plat_call *call)
{
	struct ktask_inside *in;

	if (call->kpc_done)
		return;
	call->kpc_done = true;
	if (tls_busy)
		die("ktask: a signal handler left ktask_run() by longjmp from "
		    "inside the pool's locked code; the pool cannot be "
		    "restored\n");
	while ((in = tls_inside) != call->kpc_outer) {
		if (!in || !in->ki_caller)
			die("ktask: a call's task records are lost\n");
		task_abandon(in->ki_task);
	}
	if (call->kpc_cancel != PTHREAD_CANCEL_DISABLE)
		pthread_setcancelstate(call->kpc_cancel, NULL);
}

#ifdef __GLIBC__
static void call_longjmp(void *arg)
{
	call_abandon(arg);
}
#endif

void ktask_plat_call_begin(struct ktask_plat_call *call)
{
	call->kpc_cancel = PTHREAD_CANCEL_ENABLE;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &call->kpc_cancel);
	call->kpc_outer = tls_inside;
	call->kpc_done = false;
#ifdef __GLIBC__
	_pthread_cleanup_push(&call->kpc_cleanup, call_longjmp, call);
#endif
}

void ktask_plat_call_end(struct ktask_plat_call *call)
{
#ifdef __GLIBC__
	_pthread_cleanup_pop(&call->kpc_cleanup, 0);
#endif
	call->kpc_done = true;
	if (call->kpc_cancel != PTHREAD_CANCEL_DISABLE)
		pthread_setcancelstate(call->kpc_cancel, NULL);
}

/* While an exception unwinds the frame that holds @task: abandon it. */
void ktask_plat_task_unwind(struct ktask_task *task)
{
	if (!task->kt_plat.kpt_over)
		task_abandon(task);
}

/*
 * The cleanup attribute's: after ktask_plat_call_end() nothing; while an
 * exception unwinds the call, the state of the call (its tasks were
 * abandoned in their own frames).
 */
void ktask_plat_call_unwind(struct ktask_plat_call *call)
{
	if (call->kpc_done)
		return;
#ifdef __GLIBC__
	_pthread_cleanup_pop(&call->kpc_cleanup, 0);
#endif
	call_abandon(call);
}

/* Sets the worker's CPUs to @mask unless they already are. */
static void worker_bind(struct ktask_worker *w, const cpu_set_t *mask)
{
	if (!CPU_COUNT(mask) || (!w->w_aside && CPU_EQUAL(mask, &w->w_mask)))
		return;
	if (!pthread_setaffinity_np(pthread_self(), sizeof(*mask), mask)) {
		ktask_test_count_affinity();
		w->w_mask = *mask;
		w->w_aside = false;
		tls_view_ms = 0;	/* a nested call reads its CPUs anew */
	}
}

/*
 * Whether the worker may stay where it is for a task that wants @mask: it
 * has, or it stepped aside from it to CPUs other than @cpu's (the task's
 * caller's).  Keeping the narrower mask saves a system call per task.
 */
static bool worker_placed(const struct ktask_worker *w, const cpu_set_t *mask,
			  int cpu)
{
	if (!w->w_aside)
		return CPU_EQUAL(mask, &w->w_mask);
	return CPU_EQUAL(mask, &w->w_base) &&
	       (cpu < 0 || !CPU_ISSET(cpu, &w->w_mask));
}

/*
 * Runs @w where the caller of @task may run, and on node @nid's CPUs among
 * those unless @nid is NUMA_NO_NODE or the caller may use none of them.
 * worker_bind() makes no system call when the mask does not change.
 */
static void worker_place(struct ktask_worker *w, struct ktask_task *task,
			 int nid)
{
	cpu_set_t want = task->kt_plat.kpt_mask;

	if (nid != NUMA_NO_NODE) {
		cpu_set_t node;

		CPU_AND(&node, &want, ktask_topo_node_mask(nid));
		if (CPU_COUNT(&node))
			want = node;
	}
	if (!worker_placed(w, &want, task->kt_plat.kpt_cpu))
		worker_bind(w, &want);
}

/* The core moves a helper to a part of node @nid: follow it there. */
void ktask_plat_work_node(struct ktask_work *kw, int nid)
{
	struct ktask_slot *slot = (struct ktask_slot *)
		((char *)kw - offsetof(struct ktask_slot, s_work));

	worker_place(slot->s_worker, kw->kw_task, nid);
}

/*
 * Whether the worker's security state is the caller's, as the caller saw
 * it.  A worker taken for a caller of another state was at the limit of
 * the pool (take_unfit() replaces such ones), or its own state is stale:
 * then it reads its own again, which is cheap beside the task it refuses.
 */
static bool worker_creds_match(struct ktask_worker *w,
			       const struct ktask_creds *caller)
{
	if (ktask_creds_equal(&w->w_creds, caller))
		return true;
	ktask_creds_read(&w->w_creds);
	w->w_creds_ms = view_ms();
	return ktask_creds_equal(&w->w_creds, caller);
}

/*
 * Gives the worker the policy and priority of @want unless it has them
 * (its caller may have set them before waking it); false if it may not.
 *
 * A worker's policy is changed by the worker itself while it works on a
 * task, and by the caller that takes it, before waking it
 * (worker_give_policy()); and read back by the worker after the count
 * down (worker_settle()), when the next caller may already be setting
 * it.  [S], w_sched_lock, orders those last two; while the worker works on
 * a task nobody else changes it, and the caller's change before the
 * wake-up is ordered by the assignment's release and acquire, so the
 * worker needs no lock here.
 */
static bool worker_sched(struct ktask_worker *w, const struct ktask_sched *want)
{
	if (ktask_sched_same(&w->w_sched, want))
		return true;
	if (ktask_sched_apply(0, want))
		return false;
	worker_sched_note(w, want);
	return true;
}

/*
 * After a task at a real-time policy, before the caller may reuse the
 * worker: back to SCHED_OTHER, so that no worker spins or waits at a
 * real-time priority (one system call, for real-time callers only).  Other
 * policies stay until a task wants another one.
 */
static void worker_idle_policy(struct ktask_worker *w)
{
	static const struct ktask_sched other = { .kss_policy = SCHED_OTHER };

	if (ktask_sched_rt(w->w_sched.kss_policy))
		worker_sched(w, &other);
}


/*
 * Before working on @task: refuse it unless the worker has its caller's
 * security state and can take its policy (the caller then runs the
 * chunks); run only where the caller may, on the node's CPUs for
 * node-placed work, at the task's policy and priority.  A nice value the
 * thread may not lower was ruled out by take_idle(), unless this worker
 * was created by the caller with it.
 */
static bool worker_enter(struct ktask_worker *w, struct ktask_task *task)
{
	struct ktask_plat_task *pt = &task->kt_plat;

	if (!worker_creds_match(w, &pt->kpt_creds) ||
	    !worker_sched(w, &pt->kpt_sched))
		return false;
	/* A nested call reads the CPUs and nice value this task gives. */
	tls_view_ms = 0;
	worker_place(w, task, task->kt_nodes[w->w_kw->kw_first_node].kn_nid);
	if (w->w_nice != task->kt_plat.kpt_nice &&
	    !setpriority(PRIO_PROCESS, 0, task->kt_plat.kpt_nice))
		w->w_nice = task->kt_plat.kpt_nice;
	return true;
}

/*
 * Gives the worker its task's signal mask unless it has it already (the
 * kernel's mask is the first _NSIG / 8 bytes; glibc leaves the rest alone).
 */
static void worker_sigmask(struct ktask_worker *w, const sigset_t *mask)
{
	if (!w->w_blocked && !memcmp(&w->w_sigmask, mask, (NSIG - 1) / 8))
		return;
	pthread_sigmask(SIG_SETMASK, mask, NULL);
	w->w_sigmask = *mask;
	w->w_blocked = false;
}

/*
 * Runs the worker's share of @task with the caller's signal mask, as one of
 * the thread's tasks (for the fork handlers).
 */
static void worker_run(struct ktask_worker *w, struct ktask_task *task)
{
#ifdef __GLIBC__
	struct _pthread_cleanup_buffer guard;

	_pthread_cleanup_push(&guard, helper_left, NULL);
#endif
	w->w_inside.ki_task = task;
	w->w_inside.ki_caller = false;
	w->w_inside.ki_outer = tls_inside;
	tls_inside = &w->w_inside;
	worker_sigmask(w, &task->kt_plat.kpt_sigmask);
	ktask_work_run(w->w_kw);
	tls_inside = w->w_inside.ki_outer;
#ifdef __GLIBC__
	_pthread_cleanup_pop(&guard, 0);
#endif
}

/* The worker's copy of pool.mask, copied again when the pool's grew. */
static const cpu_set_t *worker_pool_mask(struct ktask_worker *w)
{
	/* Acquire: pairs with the release in pool_mask_add(). */
	if (__atomic_load_n(&pool.mask_gen, __ATOMIC_ACQUIRE) != w->w_pool_gen) {
		pool_lock();
		w->w_pool_mask = pool.mask;
		w->w_pool_gen = pool.mask_gen;
		pool_unlock();
	}
	return &w->w_pool_mask;
}

/*
 * A security state that a thread function gave the worker's thread
 * becomes the worker's own, for take_idle() too (rare: a thread function
 * that sandboxes its own thread).
 */
static void worker_adopt_creds(struct ktask_worker *w,
			       const struct ktask_creds *creds)
{
	pool_lock();
	w->w_creds = *creds;
	pool_unlock();
}

/*
 * After a task: what the thread function may have changed of its thread
 * and the next task must not inherit.  The nice value, policy and
 * priority are read back (one sched_getattr()) for the next
 * worker_enter(); the signal mask is read back so that worker_sigmask()
 * sets the next task's for real; CPUs it moved the thread to go back to
 * the pool's.  The security state is read again when it is as old as a
 * caller's view may be.  Three system calls, after the count down, off the
 * caller's wait; the next worker_enter() runs after them.
 */
static void worker_settle(struct ktask_worker *w)
{
	cpu_set_t mask;
	struct ktask_sched now;
	struct ktask_creds creds;
	bool read;
	int64_t ms;

	/*
	 * A policy a thread function set stays until the next task wants
	 * another (a real-time one too: rare, and a caller may be setting
	 * this worker's policy for its task right now).
	 */
	pthread_mutex_lock(&w->w_sched_lock);
	read = ktask_sched_read(&now);
	if (read && !ktask_sched_same(&now, &w->w_sched))
		worker_sched_note(w, &now);
	pthread_mutex_unlock(&w->w_sched_lock);
	__atomic_store_n(&w->w_nice, read ? now.kss_nice :
			 thread_nice(w->w_nice), __ATOMIC_RELAXED);
	if (!w->w_blocked)
		pthread_sigmask(SIG_BLOCK, NULL, &w->w_sigmask);
	if (!pthread_getaffinity_np(pthread_self(), sizeof(mask), &mask) &&
	    !CPU_EQUAL(&mask, &w->w_mask)) {
		w->w_mask = mask;
		w->w_aside = false;
		worker_bind(w, worker_pool_mask(w));
	}
	ms = view_ms();
	if (ms - w->w_creds_ms >= pool.view_refresh_ms) {
		w->w_creds_ms = ms;
		ktask_creds_read(&creds);
		if (!ktask_creds_equal(&creds, &w->w_creds))
			worker_adopt_creds(w, &creds);
	}
}

static void *worker_main(void *arg)
{
	struct ktask_worker *w = arg;
	struct ktask_task *task;
	char name[16];
	uint32_t s;

	snprintf(name, sizeof(name), "ktask/%u", w->w_id);
	pthread_setname_np(pthread_self(), name);
	/*
	 * Timed naps before a task is due (worker_nap()) want their timer to
	 * fire on time, not up to the default 50 us late.
	 */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	/* For a real-time caller that sets its policy before waking it. */
	__atomic_store_n(&w->w_tid, (pid_t)syscall(SYS_gettid),
			 __ATOMIC_RELAXED);

	/* Nobody can know a worker's thread id to cancel it; still. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	while (worker_wait(w)) {
		s = W_ASSIGNED;
		if (!ktask_cas(&w->w_state, &s, W_RUNNING))
			continue;	/* cancelled: the caller did it all */
		/* Ordered by the compare-and-swap's acquire. */
		if (__atomic_load_n(&w->w_dismissed, __ATOMIC_RELAXED))
			break;		/* replaced by a fresh worker */
		task = w->w_kw->kw_task;
		w->w_rhythm.r_cpu = task->kt_plat.kpt_cpu;
		if (worker_enter(w, task))
			worker_run(w, task);
		worker_idle_policy(w);
		/*
		 * Back to the pool's own CPUs, before anyone may reuse w; or
		 * still aside from them, off the caller's CPU.  A worker that
		 * waits for a periodic caller stays among that caller's CPUs
		 * and steps aside within them (worker_step_aside()).
		 */
		if (w->w_rhythm.r_regular < RHYTHM_REGULAR &&
		    !worker_placed(w, worker_pool_mask(w), -1))
			worker_bind(w, worker_pool_mask(w));
		/* DONE before helper_done(): the caller may reuse w after it. */
		ktask_store_release(&w->w_state, W_DONE);
		ktask_test_hook(KTASK_HOOK_DONE);
		helper_done(task);
		/* In a child forked by a thread function on this helper. */
		if (worker_stale(w))
			_exit(0);
		worker_settle(w);
	}
	free(w);
	return NULL;
}

/* Hands @w its assignment and wakes it if it sleeps. */
static void worker_assign(struct ktask_worker *w)
{
	uint32_t old;

	/* Only the task that owns @w writes it; the worker only reads it. */
	__atomic_store_n(&w->w_assigns, w->w_assigns + 1, __ATOMIC_RELAXED);
	/* Release: pairs with the acquire in worker_called(). */
	old = __atomic_exchange_n(&w->w_state, W_ASSIGNED, __ATOMIC_ACQ_REL);

	if (old & W_SLEEPING)
		futex_wake(&w->w_state);
}

/*
 * Fault injection, part of every build so that a program's fallback paths
 * can be tried for real: KTASK_FAULT_THREAD_CREATE makes thread creation
 * fail, always or one time in N.
 */
static bool fault_create(void)
{
	static __thread unsigned int seed;

	if (!pool.fail_create)
		return false;
	if (!seed)
		seed = (unsigned int)(uintptr_t)&seed ^ (unsigned int)time(NULL);
	return pool.fail_create == 1 || rand_r(&seed) % pool.fail_create == 0;
}

/*
 * Starts a new worker thread, already assigned; NULL if that failed.  It
 * inherits the caller's CPUs, nice value, policy and security state, read
 * here as they are now, not as cached.
 */
static struct ktask_worker *worker_create(unsigned int id, unsigned int gen,
					  struct ktask_task *task,
					  size_t node)
{
	struct ktask_worker *w = ktask_fault_alloc("worker") ? NULL :
				 calloc(1, sizeof(*w));
	struct ktask_sched now;
	sigset_t old;
	pthread_attr_t attr;
	pthread_t thread;
	int err;

	if (!w || fault_create()) {
		free(w);
		return NULL;
	}
	w->w_id = id;
	w->w_gen = gen;
	w->w_state = W_ASSIGNED;
	w->w_blocked = true;
	w->w_slots[0].s_worker = w->w_slots[1].s_worker = w;
	w->w_kw = &w->w_slots[0].s_work;
	if (ktask_sched_read(&now)) {
		w->w_nice = now.kss_nice;
	} else {
		w->w_nice = thread_nice(task->kt_plat.kpt_caller_nice);
		now.kss_policy = -1;	/* unknown: worker_enter() sets it */
		now.kss_prio = 0;
		now.kss_reset = false;
	}
	if (now.kss_reset) {	/* SCHED_RESET_ON_FORK: what it gets */
		if (ktask_sched_rt(now.kss_policy) ||
		    now.kss_policy == SCHED_DEADLINE) {
			now.kss_policy = SCHED_OTHER;
			now.kss_prio = 0;
		}
		if (w->w_nice < 0)
			w->w_nice = 0;
	}
	pthread_mutex_init(&w->w_sched_lock, NULL);
	worker_sched_note(w, &now);
	ktask_creds_read(&w->w_creds);
	w->w_creds_ms = view_ms();
	w->w_pool_gen = ~0u;
	w->w_assigns = 1;
	w->w_rhythm.r_cpu = -1;
	if (pthread_getaffinity_np(pthread_self(), sizeof(w->w_mask),
				   &w->w_mask))
		CPU_ZERO(&w->w_mask);
	ktask_work_init(task, w->w_kw, node);

	/* Between tasks workers take no signals: they are the program's. */
	pthread_sigmask(SIG_SETMASK, &pool.all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		free(w);
		return NULL;
	}
	return w;
}

void ktask_plat_task_init(struct ktask_task *task)
{
	struct ktask_plat_task *pt = &task->kt_plat;

	pt->kpt_helpers = NULL;
	pt->kpt_pending = 0;
	pt->kpt_mask = tls_cpus.kc_mask;
	pt->kpt_caller_nice = tls_nice;
	pt->kpt_nice = task->kt_ctl->kc_flags & KTASK_BACKGROUND ?
		       19 : pt->kpt_caller_nice;
	pt->kpt_have_sigmask = false;
	pt->kpt_over = false;
	pt->kpt_exc = NULL;
	pt->kpt_cpu = -1;
	pt->kpt_sched = tls_sched;
	pt->kpt_creds = tls_creds;
	pt->kpt_floor = tls_floor;
	pt->kpt_grant = tls_grant;
	pt->kpt_inside.ki_task = task;
	pt->kpt_inside.ki_caller = true;
	pt->kpt_inside.ki_locked = false;
	pt->kpt_inside.ki_released = false;
	pt->kpt_inside.ki_outer = tls_inside;
	tls_inside = &pt->kpt_inside;
	__atomic_fetch_add(&pool.nr_callers, 1, __ATOMIC_RELAXED);
	tls_tasks++;
}

/*
 * Whether idle worker @w can run a task of @pt as its caller would: it has
 * the caller's security state, and can reach the task's nice value and
 * policy.  A thread without CAP_SYS_NICE (or room in RLIMIT_NICE) can
 * raise its nice value but never lower it again, and cannot leave
 * SCHED_IDLE either.  Called with pool.lock held.
 */
static bool worker_fits(const struct ktask_worker *w,
			const struct ktask_plat_task *pt)
{
	int n = __atomic_load_n(&w->w_nice, __ATOMIC_RELAXED);

	if (!ktask_creds_equal(&w->w_creds, &pt->kpt_creds))
		return false;
	if (n > pt->kpt_nice && pt->kpt_nice < pt->kpt_floor)
		return false;
	return __atomic_load_n(&w->w_policy, __ATOMIC_RELAXED) != SCHED_IDLE ||
	       pt->kpt_sched.kss_policy == SCHED_IDLE || n >= pt->kpt_floor;
}

/* Takes @pp's worker off pool.idle.  Called with pool.lock held. */
static struct ktask_worker *take_off(struct ktask_worker **pp)
{
	struct ktask_worker *w = *pp;

	*pp = w->w_next;
	w->w_idle = false;
	return w;
}

/*
 * Takes an idle worker that fits a task of @pt off pool.idle: one already
 * at the task's nice value, else the least nice one.  A worker whose two
 * work items are both held by undos is skipped.  Called with pool.lock
 * held.
 */
static struct ktask_worker *take_idle(const struct ktask_plat_task *pt)
{
	struct ktask_worker **pp, **best = NULL, *w;
	int n, best_nice = 0, nice = pt->kpt_nice;

	for (pp = &pool.idle; *pp; pp = &(*pp)->w_next) {
		if ((*pp)->w_held == 3 || !worker_fits(*pp, pt))
			continue;
		n = __atomic_load_n(&(*pp)->w_nice, __ATOMIC_RELAXED);
		if (!best || n < best_nice || n == nice) {
			best = pp;
			best_nice = n;
		}
		if (n == nice)
			break;
	}
	if (!best)
		return NULL;
	w = take_off(best);
	w->w_kw = &w->w_slots[w->w_held & 1].s_work;
	return w;
}

/*
 * Takes an idle worker that no undo reads off pool.idle, to make room for
 * a fresh one (which inherits everything from its creator) when the pool
 * is at its limit and no idle worker fits the task.  Called with pool.lock
 * held, after take_idle() found none.
 */
static struct ktask_worker *take_unfit(void)
{
	struct ktask_worker **pp;

	for (pp = &pool.idle; *pp; pp = &(*pp)->w_next)
		if (!(*pp)->w_held)
			return take_off(pp);
	return NULL;
}

/* Tells a worker taken by take_unfit() to end its thread. */
static void worker_dismiss(struct ktask_worker *w)
{
	/* Ordered before the wake-up by worker_assign()'s release. */
	__atomic_store_n(&w->w_dismissed, true, __ATOMIC_RELAXED);
	worker_assign(w);
}

/*
 * Adds a caller's CPUs to pool.mask, where workers wait between tasks, so
 * that a worker returning there after a task makes no system call for the
 * next task of the same caller.  Called with pool.lock held.
 */
static void pool_mask_add(const cpu_set_t *mask)
{
	cpu_set_t both;

	CPU_OR(&both, &pool.mask, mask);
	if (CPU_EQUAL(&both, &pool.mask))
		return;
	pool.mask = both;
	/* Release: pairs with the acquire in worker_pool_mask(). */
	__atomic_store_n(&pool.mask_gen, pool.mask_gen + 1, __ATOMIC_RELEASE);
}

/*
 * Before waking @w, the task's policy if the worker has another: the
 * scheduler then wakes it as what it will be, a real-time helper on a CPU
 * where it runs at once rather than behind its real-time caller, a normal
 * one not as a SCHED_IDLE thread that a busy machine never runs.  One
 * system call when the policy changes.  If it fails, worker_enter() tries
 * again and refuses the task.
 */
static void worker_give_policy(struct ktask_worker *w,
			       const struct ktask_sched *want)
{
	struct ktask_sched have = {
		.kss_policy = __atomic_load_n(&w->w_policy, __ATOMIC_RELAXED),
		.kss_prio = __atomic_load_n(&w->w_prio, __ATOMIC_RELAXED),
	};
	pid_t tid = __atomic_load_n(&w->w_tid, __ATOMIC_RELAXED);

	if (!tid || ktask_sched_same(&have, want))
		return;
	/* Seen by the worker after the assignment's release and acquire. */
	pthread_mutex_lock(&w->w_sched_lock);
	if (!ktask_sched_same(&w->w_sched, want) &&
	    !ktask_sched_apply(tid, want))
		worker_sched_note(w, want);
	pthread_mutex_unlock(&w->w_sched_lock);
}

/*
 * Reserves up to @nr helpers for a task of @pt under pool.lock: idle
 * workers that fit it first, then new threads while there are fewer
 * workers than the limit; at the limit, idle workers that do not fit go
 * (*@unfit, to dismiss) to make room for new ones.  The new threads are
 * counted in pool.nr_workers now and started by the caller; returns how
 * many.
 */
static size_t reserve_helpers(size_t nr, size_t limit,
			      const struct ktask_plat_task *pt,
			      struct ktask_worker **taken,
			      struct ktask_worker **unfit, size_t *nr_new,
			      unsigned int *first_id, unsigned int *gen)
{
	size_t got = 0, room;
	struct ktask_worker *w;

	nr = pool.nr_busy < limit ? (nr < limit - pool.nr_busy ?
				     nr : limit - pool.nr_busy) : 0;
	while (got < nr && (w = take_idle(pt))) {
		w->w_next = *taken;
		*taken = w;
		got++;
	}
	room = pool.nr_workers < limit ? limit - pool.nr_workers : 0;
	while (got + room < nr && (w = take_unfit())) {
		w->w_next = *unfit;
		*unfit = w;
		pool.nr_workers--;
		room++;
	}
	*nr_new = nr - got < room ? nr - got : room;
	nr = got + *nr_new;
	pool.nr_busy += nr;
	pool.nr_workers += *nr_new;
	*first_id = pool.next_id;
	pool.next_id += *nr_new;
	*gen = pool.gen;
	return nr;
}

size_t ktask_plat_start_helpers(struct ktask_task *task, size_t node,
				size_t nr)
{
	struct ktask_plat_task *pt = &task->kt_plat;
	unsigned int callers = __atomic_load_n(&pool.nr_callers,
					       __ATOMIC_RELAXED);
	size_t limit, i, nr_new;
	struct ktask_worker *w, *taken = NULL, *unfit = NULL;
	struct ktask_worker *mine = pt->kpt_helpers;
	unsigned int first_id, gen;

	/*
	 * Callers run chunks too: helpers and the callers of every task now
	 * running stay within the usable CPUs.  Eight callers on two CPUs get
	 * no helper, which would only take CPU time from another caller.
	 */
	limit = tls_cpus.kc_usable > callers ? tls_cpus.kc_usable - callers : 0;
	/*
	 * A SCHED_DEADLINE caller, or a real-time one whose policy the
	 * process may not give another thread, runs its chunks alone: a
	 * helper at a lower priority would hold up the caller that waits
	 * for it.
	 */
	if (!limit || !pt->kpt_grant)
		return 0;
	/*
	 * The mask the helpers' chunks run with, and the CPU the helpers
	 * should keep off between periodic tasks; read once per task.
	 */
	if (!pt->kpt_have_sigmask) {
		pt->kpt_sigmask = tls_sigmask;
		pt->kpt_have_sigmask = true;
		pt->kpt_cpu = sched_getcpu();
	}
	pool_lock();
	/* pool.mask only grows: a caller adds its mask once per reading. */
	if (!tls_mask_added) {
		pool_mask_add(&pt->kpt_mask);
		tls_mask_added = true;
	}
	nr = reserve_helpers(nr, limit, pt, &taken, &unfit, &nr_new,
			     &first_id, &gen);
	pool_unlock();
	while ((w = unfit)) {
		unfit = w->w_next;
		worker_dismiss(w);
	}

	/* Count them all before any may finish and count down. */
	__atomic_fetch_add(&pt->kpt_pending, nr, __ATOMIC_RELAXED);
	for (i = 1; (w = taken); i++) {
		taken = w->w_next;
		ktask_work_init(task, w->w_kw, node);
		w->w_next = mine;
		mine = w;
		worker_give_policy(w, &pt->kpt_sched);
		worker_assign(w);
	}
	for (; i <= nr; i++) {
		w = worker_create(first_id++, gen, task, node);
		if (!w)
			break;
		w->w_next = mine;
		mine = w;
	}
	pt->kpt_helpers = mine;
	if (i <= nr) {
		/* Fewer threads than hoped: run with the ones there are. */
		size_t missing = nr - i + 1;

		__atomic_fetch_sub(&pt->kpt_pending, missing, __ATOMIC_ACQ_REL);
		pool_lock();
		pool.nr_busy -= missing;
		pool.nr_workers -= missing;
		pool_unlock();
		nr -= missing;
	}
	return nr;
}

void ktask_plat_wait_helpers(struct ktask_task *task)
{
	struct ktask_plat_task *pt = &task->kt_plat;
	struct ktask_worker *w;
	uint32_t v;
	int i;

	/*
	 * Every chunk is claimed by now.  Helpers that have not woken up yet
	 * need not: cancel them rather than wait for their wake-up.  In a
	 * fork child, helpers left in the parent are no longer counted (see
	 * fork_child_tasks()); chunks they claimed are not done in the child.
	 */
	for (w = pt->kpt_helpers; w; w = w->w_next) {
		uint32_t s = W_ASSIGNED;

		if (worker_stale(w))
			continue;
		if (ktask_cas(&w->w_state, &s, W_CANCELLED)) {
			__atomic_fetch_sub(&pt->kpt_pending, 1,
					   __ATOMIC_RELAXED);
		}
	}
	for (i = 1; i <= CALLER_SPINS; i++) {
		/* Acquire: pairs with the release in helper_done(). */
		if (!(ktask_load_acquire(&pt->kpt_pending) & ~P_WAITER))
			return;
		spin_pause(i);
	}
	for (;;) {
		v = ktask_load_acquire(&pt->kpt_pending);
		if (!(v & ~P_WAITER))
			return;
		if (!(v & P_WAITER) &&
		    !ktask_cas(&pt->kpt_pending, &v, v | P_WAITER))
			continue;
		futex_wait(&pt->kpt_pending, v | P_WAITER, NULL);
	}
}

/* Whether @kw is on @task's failed list (a few items: one per thread). */
static bool work_failed(const struct ktask_task *task,
			const struct ktask_work *kw)
{
	const struct ktask_work *f;

	for (f = task->kt_failed; f; f = f->kw_next_failed)
		if (f == kw)
			return true;
	return false;
}

/*
 * Before undo: the caller stops counting as one, and every helper goes
 * back to the pool.  A helper whose work item failed keeps that item held
 * (undo reads it) and works on its other one meanwhile.
 */
void ktask_plat_release_helpers(struct ktask_task *task)
{
	struct ktask_worker *w, *next;
	size_t n = 0;

	__atomic_fetch_sub(&pool.nr_callers, 1, __ATOMIC_RELAXED);
	tls_tasks--;
	/* Off the thread's tasks in ktask_plat_task_done(), after undo. */
	task->kt_plat.kpt_inside.ki_released = true;
	if (!task->kt_plat.kpt_helpers)
		return;
	pool_lock();
	for (w = task->kt_plat.kpt_helpers; w; w = next) {
		next = w->w_next;
		if (work_failed(task, w->w_kw))
			w->w_held |= 1u << (w->w_kw != &w->w_slots[0].s_work);
		if (worker_stale(w)) {
			/* Its thread stayed in the parent. */
			if (!w->w_held)
				free(w);
			continue;
		}
		/* Back to IDLE, keeping W_SLEEPING so an assigner wakes it. */
		__atomic_fetch_and(&w->w_state, W_SLEEPING, __ATOMIC_RELEASE);
		w->w_idle = true;
		w->w_next = pool.idle;
		pool.idle = w;
		n++;
	}
	task->kt_plat.kpt_helpers = NULL;
	pool.nr_busy -= n;
	pool_unlock();
#ifdef KTASK_CXX
	/*
	 * Every helper stopped and went back: a helper's exception goes on
	 * in the caller, which abandons the task (ktask_plat_task_unwind();
	 * nothing is undone, as for an exception of the caller's own).
	 */
	void *exc = task_exception(task);

	if (exc)
		ktask_cxx_rethrow(exc);
#endif
}

/* After undo: the failed helpers' work items are free again. */
void ktask_plat_task_done(struct ktask_task *task)
{
	struct ktask_work *kw, *next;

	tls_inside = task->kt_plat.kpt_inside.ki_outer;
	task->kt_plat.kpt_over = true;
	if (!task->kt_failed)
		return;
	pool_lock();
	for (kw = task->kt_failed; kw; kw = next) {
		struct ktask_slot *slot;
		struct ktask_worker *w;

		next = kw->kw_next_failed;
		if (kw == &task->kt_caller_work)
			continue;
		slot = (struct ktask_slot *)((char *)kw -
					     offsetof(struct ktask_slot, s_work));
		w = slot->s_worker;
		w->w_held &= ~(1u << (slot - w->w_slots));
		if (worker_stale(w) && !w->w_held)
			free(w);
	}
	pool_unlock();
}
