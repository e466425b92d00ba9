// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * handoff.c - the caller's side of a task's helpers: the task's records,
 * reserving idle workers that fit it or starting new ones within the
 * helper limit, waking them, waiting for them, and taking them back
 * before undo.  pool.h has the worker's state machine and the lock legend.
 */
#include "pool.h"

/* The calling thread's tasks (pool.h). */
KTASK_TLS unsigned int ktask_tls_tasks;
KTASK_TLS struct ktask_inside *ktask_tls_inside;

void ktask_plat_task_init(struct ktask_task *task)
{
	struct ktask_plat_task *pt = &task->kt_plat;

	pt->kpt_helpers = NULL;
	pt->kpt_pending = 0;
	pt->kpt_mask = ktask_tls_cpus.kc_mask;
	pt->kpt_caller_nice = ktask_tls_nice;
	pt->kpt_nice = task->kt_ctl->kc_flags & KTASK_BACKGROUND ?
		       19 : pt->kpt_caller_nice;
	pt->kpt_have_sigmask = false;
	pt->kpt_over = false;
	pt->kpt_exc = NULL;
	pt->kpt_cpu = -1;
	pt->kpt_sched = ktask_tls_sched;
	pt->kpt_creds = ktask_tls_creds;
	pt->kpt_floor = ktask_tls_floor;
	pt->kpt_grant = ktask_tls_grant;
	pt->kpt_inside.ki_task = task;
	pt->kpt_inside.ki_caller = true;
	pt->kpt_inside.ki_locked = false;
	pt->kpt_inside.ki_released = false;
	pt->kpt_inside.ki_outer = ktask_tls_inside;
	ktask_tls_inside = &pt->kpt_inside;
	__atomic_fetch_add(&ktask_pool.nr_callers, 1, __ATOMIC_RELAXED);
	ktask_tls_tasks++;
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

	for (pp = &ktask_pool.idle; *pp; pp = &(*pp)->w_next) {
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

	for (pp = &ktask_pool.idle; *pp; pp = &(*pp)->w_next)
		if (!(*pp)->w_held)
			return take_off(pp);
	return NULL;
}

/* Hands @w its assignment and wakes it if it sleeps. */
static void worker_assign(struct ktask_worker *w)
{
	uint32_t old;

	/* Only the task that owns @w writes it; the worker only reads it. */
	__atomic_store_n(&w->w_assigns, w->w_assigns + 1, __ATOMIC_RELAXED);
	/* Release: pairs with the acquire in worker_called(), worker.c. */
	old = __atomic_exchange_n(&w->w_state, W_ASSIGNED, __ATOMIC_ACQ_REL);

	if (old & W_SLEEPING) {
		ktask_test_count_wake();
		futex_wake(&w->w_state);
	}
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

	CPU_OR(&both, &ktask_pool.mask, mask);
	if (CPU_EQUAL(&both, &ktask_pool.mask))
		return;
	ktask_pool.mask = both;
	/* Release: pairs with the acquire in worker_pool_mask(), worker.c. */
	__atomic_store_n(&ktask_pool.mask_gen, ktask_pool.mask_gen + 1,
			 __ATOMIC_RELEASE);
}

/*
 * Before waking @w, the task's policy if the worker has another: the
 * scheduler then wakes it as what it will be, a real-time helper on a CPU
 * where it runs at once rather than behind its real-time caller, a normal
 * one not as a SCHED_IDLE thread that a busy machine never runs.  One
 * system call when the policy changes.  If it fails, worker_enter()
 * (worker.c) tries
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

	nr = ktask_pool.nr_busy < limit ? (nr < limit - ktask_pool.nr_busy ?
				     nr : limit - ktask_pool.nr_busy) : 0;
	while (got < nr && (w = take_idle(pt))) {
		w->w_next = *taken;
		*taken = w;
		got++;
	}
	room = ktask_pool.nr_workers < limit ?
	       limit - ktask_pool.nr_workers : 0;
	while (got + room < nr && (w = take_unfit())) {
		w->w_next = *unfit;
		*unfit = w;
		ktask_pool.nr_workers--;
		room++;
	}
	*nr_new = nr - got < room ? nr - got : room;
	nr = got + *nr_new;
	ktask_pool.nr_busy += nr;
	ktask_pool.nr_workers += *nr_new;
	*first_id = ktask_pool.next_id;
	ktask_pool.next_id += *nr_new;
	*gen = ktask_pool.gen;
	return nr;
}

size_t ktask_plat_start_helpers(struct ktask_task *task, size_t node,
				size_t nr)
{
	struct ktask_plat_task *pt = &task->kt_plat;
	unsigned int callers = __atomic_load_n(&ktask_pool.nr_callers,
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
	limit = ktask_tls_cpus.kc_usable > callers ?
		ktask_tls_cpus.kc_usable - callers : 0;
	/*
	 * A SCHED_DEADLINE caller, or a real-time one whose policy the
	 * process may not give another thread, runs its chunks alone: a
	 * helper at a lower priority would hold up the caller that waits
	 * for it.
	 */
	if (!limit || !pt->kpt_grant) {
		ktask_choice_forget();
		return 0;
	}
	/*
	 * The mask the helpers' chunks run with, and the CPU the helpers
	 * should keep off between periodic tasks; read once per task.
	 */
	if (!pt->kpt_have_sigmask) {
		pt->kpt_sigmask = ktask_tls_sigmask;
		pt->kpt_have_sigmask = true;
		pt->kpt_cpu = sched_getcpu();
	}
	pool_lock();
	/* pool.mask only grows: a caller adds its mask once per reading. */
	if (!ktask_tls_mask_added) {
		pool_mask_add(&pt->kpt_mask);
		ktask_tls_mask_added = true;
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
		w = ktask_worker_create(first_id++, gen, task, node);
		if (!w)
			break;
		w->w_next = mine;
		mine = w;
	}
	pt->kpt_helpers = mine;
	if (!mine)
		ktask_choice_forget();
	if (i <= nr) {
		/* Fewer threads than hoped: run with the ones there are. */
		size_t missing = nr - i + 1;

		__atomic_fetch_sub(&pt->kpt_pending, missing, __ATOMIC_ACQ_REL);
		pool_lock();
		ktask_pool.nr_busy -= missing;
		ktask_pool.nr_workers -= missing;
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
	 * fork.c, fork_child_tasks()); chunks they claimed are not done in
	 * the child.
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
		/* Acquire: pairs with helper_done()'s release (worker.c). */
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

	__atomic_fetch_sub(&ktask_pool.nr_callers, 1, __ATOMIC_RELAXED);
	ktask_tls_tasks--;
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
		w->w_next = ktask_pool.idle;
		ktask_pool.idle = w;
		n++;
	}
	task->kt_plat.kpt_helpers = NULL;
	ktask_pool.nr_busy -= n;
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

	ktask_tls_inside = task->kt_plat.kpt_inside.ki_outer;
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
