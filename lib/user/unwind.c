// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * unwind.c - non-local exits: a call that a thread function leaves by
 * siglongjmp() or a C++ exception, and a helper's chunk, which must
 * return.  Locks: pool.h's legend.
 *
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
#include "pool.h"

static void die(const char *msg)
{
	ssize_t ret = write(STDERR_FILENO, msg, strlen(msg));

	(void)ret;
	abort();
}

/* A longjmp or pthread_exit() past a helper's chunk: refused, loudly. */
void ktask_helper_left(void *arg)
{
	(void)arg;
	die("ktask: a thread function on a helper left its chunk by longjmp "
	    "or pthread_exit(); a helper's chunk must return\n");
}

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
	ktask_tls_call = call->kpc_outer_call;
	if (ktask_tls_busy)
		die("ktask: a signal handler left ktask_run() by longjmp from "
		    "inside the pool's locked code; the pool cannot be "
		    "restored\n");
	while ((in = ktask_tls_inside) != call->kpc_outer) {
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
	call->kpc_outer = ktask_tls_inside;
	call->kpc_done = false;
	call->kpc_choice = NULL;
	call->kpc_outer_call = ktask_tls_call;
	ktask_tls_call = call;
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
	ktask_tls_call = call->kpc_outer_call;
	if (call->kpc_choice)
		ktask_choice_done(call);
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
