// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * cancel.c - now and then a caller runs its task on a thread of its own
 * and cancels that thread (pthread_cancel()) once it is inside a chunk.
 * ktask defers the request until ktask_run() returns: the task must finish
 * and pass its checks there, and the thread must then end cancelled at its
 * next cancellation point.  A thread that ends inside ktask_run(), or not
 * cancelled, is a mismatch; a helper still using the task on a dead
 * thread's stack would show up as a crash or a sanitizer report.
 */
#include "torture.h"

#include <sched.h>

struct tt_victim {
	struct tt_caller *c;
	const struct tt_task *t;
	const char *why;
	int ret;
	int returned;		/* [A] tt_run_task() came back */
	int cancelled;		/* [A] the caller sent the request */
};

static void *tt_victim_main(void *arg)
{
	struct tt_victim *v = arg;
	struct tt_caller *c = v->c;

	/* Undo runs on "the caller": the victim, for this task. */
	c->tc_tid = tt_gettid();
	v->why = tt_run_task(c, v->t, &v->ret);
	__atomic_store_n(&v->returned, 1, __ATOMIC_RELEASE);
	/* A task with no chunk here ends before the request: wait for it. */
	while (!__atomic_load_n(&v->cancelled, __ATOMIC_ACQUIRE))
		sched_yield();
	/* tt_run_task() disabled cancellation for its checks. */
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	pthread_testcancel();
	return NULL;
}

const char *tt_run_cancelled(struct tt_caller *c, const struct tt_task *t,
			     int *ret)
{
	struct tt_victim v = { .c = c, .t = t };
	pid_t tid = c->tc_tid;
	pthread_t thread;
	void *res = NULL;

	__atomic_store_n(&c->tc_victim_in_chunk, 0, __ATOMIC_RELAXED);
	if (pthread_create(&thread, NULL, tt_victim_main, &v))
		return tt_run_task(c, t, ret);
	/* Cancel it in a chunk, or after the task when it has none. */
	while (!__atomic_load_n(&c->tc_victim_in_chunk, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&v.returned, __ATOMIC_ACQUIRE))
		sched_yield();
	pthread_cancel(thread);
	__atomic_store_n(&v.cancelled, 1, __ATOMIC_RELEASE);
	pthread_join(thread, &res);
	c->tc_tid = tid;
	c->tc_cancels++;
	*ret = v.ret;
	if (!__atomic_load_n(&v.returned, __ATOMIC_ACQUIRE))
		return "a cancelled caller ended inside ktask_run()";
	if (res != PTHREAD_CANCELED)
		return "a cancelled caller was not cancelled after ktask_run()";
	return v.why;
}
