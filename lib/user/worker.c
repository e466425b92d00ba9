// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * worker.c - a worker's life: waiting for a task (its rhythm, spin, nap,
 * stepping aside from a periodic caller's CPU, retiring after the idle
 * time), entering a task as its caller would run it, running its share,
 * settling after it, and its birth.  pool.h has the worker's state
 * machine and the lock legend.
 *
 * A chunk runs with its caller's signal mask (as of the caller's view, see
 * view.c, refresh_view()), so that faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL)
 * reach the program's handlers on a helper as on the caller, and a process a
 * thread function starts inherits the caller's mask.  An idle worker blocks
 * every signal: it keeps the last task's mask only while it spins after that
 * task, so that back-to-back tasks of one caller cost no system call for it.
 *
 * A helper also runs under its caller's scheduling policy and only for a
 * caller of its own security state (caller.c, worker_enter()).
 */
#include "pool.h"

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

/* Notes an assignment the worker has not noted yet; false if none came. */
static bool rhythm_note(struct ktask_worker *w)
{
	if (!rhythm_pending(w))
		return false;
	w->w_rhythm.r_seen = __atomic_load_n(&w->w_assigns, __ATOMIC_RELAXED);
	rhythm_arrival(&w->w_rhythm, mono_ns());
	return true;
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
	/* Acquire: pairs with the release in handoff.c's worker_assign(). */
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
		pthread_sigmask(SIG_SETMASK, &ktask_pool.all, NULL);
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
		left = when ? when - mono_ns() : ktask_pool.idle_ms * 1000000LL;
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
	struct ktask_worker **pp = &ktask_pool.idle;
	bool idle;

	pool_lock();
	/* Not while an undo still reads its failed work item. */
	idle = w->w_idle && !w->w_held;
	if (idle) {
		while (*pp != w)
			pp = &(*pp)->w_next;
		*pp = w->w_next;
		ktask_pool.nr_workers--;
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
 * after each assignment, then sleeps.
 */
static bool worker_wait(struct ktask_worker *w)
{
	struct ktask_rhythm *r = &w->w_rhythm;
	int64_t from, until;
	bool spun = false;

	for (;;) {
		/*
		 * A cancelled assignment (the caller did every chunk before
		 * the worker looked) starts the spin again too: a caller that
		 * calls back to back comes again at once, and a worker that
		 * slept instead would cost it a futex wake-up per task, after
		 * which it wakes too late and is cancelled again.
		 */
		if (rhythm_note(w))
			spun = false;
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
					 ktask_pool.idle_ms * 1000000LL)
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

/* Sets the worker's CPUs to @mask unless they already are. */
static void worker_bind(struct ktask_worker *w, const cpu_set_t *mask)
{
	if (!CPU_COUNT(mask) || (!w->w_aside && CPU_EQUAL(mask, &w->w_mask)))
		return;
	if (!pthread_setaffinity_np(pthread_self(), sizeof(*mask), mask)) {
		ktask_test_count_affinity();
		w->w_mask = *mask;
		w->w_aside = false;
		ktask_tls_view_ms = 0;	/* a nested call reads its CPUs anew */
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
 * it.  A worker taken for a caller of another state was at the limit of the
 * pool (handoff.c's take_unfit() replaces such ones), or its own state is
 * stale: then it reads its own again, which is cheap beside the task it
 * refuses.
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
 * task, and by the caller that takes it, before waking it (handoff.c,
 * worker_give_policy()); and read back by the worker after the count down
 * (worker_settle()), when the next caller may already be setting it.  [S],
 * w_sched_lock, orders those last two; while the worker works on a task
 * nobody else changes it, and the caller's change before the wake-up is
 * ordered by the assignment's release and acquire, so the worker needs no
 * lock here.
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
 * thread may not lower was ruled out by take_idle() (handoff.c), unless
 * this worker
 * was created by the caller with it.
 */
static bool worker_enter(struct ktask_worker *w, struct ktask_task *task)
{
	struct ktask_plat_task *pt = &task->kt_plat;

	if (!worker_creds_match(w, &pt->kpt_creds) ||
	    !worker_sched(w, &pt->kpt_sched))
		return false;
	/* A nested call reads the CPUs and nice value this task gives. */
	ktask_tls_view_ms = 0;
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

	_pthread_cleanup_push(&guard, ktask_helper_left, NULL);
#endif
	w->w_inside.ki_task = task;
	w->w_inside.ki_caller = false;
	w->w_inside.ki_outer = ktask_tls_inside;
	ktask_tls_inside = &w->w_inside;
	worker_sigmask(w, &task->kt_plat.kpt_sigmask);
	ktask_work_run(w->w_kw);
	ktask_tls_inside = w->w_inside.ki_outer;
#ifdef __GLIBC__
	_pthread_cleanup_pop(&guard, 0);
#endif
}

/* The worker's copy of pool.mask, copied again when the pool's grew. */
static const cpu_set_t *worker_pool_mask(struct ktask_worker *w)
{
	/* Acquire: pairs with the release in pool_mask_add(), handoff.c. */
	if (__atomic_load_n(&ktask_pool.mask_gen, __ATOMIC_ACQUIRE) !=
	    w->w_pool_gen) {
		pool_lock();
		w->w_pool_mask = ktask_pool.mask;
		w->w_pool_gen = ktask_pool.mask_gen;
		pool_unlock();
	}
	return &w->w_pool_mask;
}

/*
 * A security state that a thread function gave the worker's thread
 * becomes the worker's own, for handoff.c's take_idle() too (rare: a
 * thread function that sandboxes its own thread).
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
	if (ms - w->w_creds_ms >= ktask_pool.view_refresh_ms) {
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

	/* Its creator's sandbox, read just before pthread_create(). */
	ktask_creds_inherit(&w->w_creds);
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

/*
 * Fault injection, part of every build so that a program's fallback paths
 * can be tried for real: KTASK_FAULT_THREAD_CREATE makes thread creation
 * fail, always or one time in N.
 */
static bool fault_create(void)
{
	static __thread unsigned int seed;

	if (!ktask_pool.fail_create)
		return false;
	if (!seed)
		seed = (unsigned int)(uintptr_t)&seed ^ (unsigned int)time(NULL);
	return ktask_pool.fail_create == 1 ||
	       rand_r(&seed) % ktask_pool.fail_create == 0;
}

/*
 * Starts a new worker thread, already assigned; NULL if that failed.  It
 * inherits the caller's CPUs, nice value, policy and security state, read
 * here as they are now, not as cached.
 */
struct ktask_worker *ktask_worker_create(unsigned int id, unsigned int gen,
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
	pthread_sigmask(SIG_SETMASK, &ktask_pool.all, &old);
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
