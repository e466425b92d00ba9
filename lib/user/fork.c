// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fork.c - the pool's fork handlers (pool.c registers them): a fork
 * leaves the tasks' locks and the pool whole in the parent, and gives the
 * child, which has only the forking thread, an empty pool of a new
 * generation.  Locks: pool.h's legend.
 */
#include "pool.h"

/*
 * Before a fork: wait until no other thread holds the lock of a task the
 * forking thread works on (a helper inside the iterator), and hold it, so
 * that the child finds the lock free and the iterator's state whole.  The
 * forking thread may hold one itself (an iterator that forks): skip that.
 */
void ktask_pool_fork_prepare(void)
{
	struct ktask_inside *in;

	for (in = ktask_tls_inside; in; in = in->ki_outer) {
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

void ktask_pool_fork_parent(void)
{
	struct ktask_inside *in;

	pool_unlock();
	for (in = ktask_tls_inside; in; in = in->ki_outer) {
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

	for (in = ktask_tls_inside; in; in = in->ki_outer) {
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
void ktask_pool_fork_child(void)
{
	struct ktask_worker *w;

	pthread_mutex_init(&ktask_pool.lock, NULL);
	/*
	 * An idle worker with a held work item is still read by an undo (the
	 * forking thread's, from its undo function): ktask_plat_task_done()
	 * frees it once no item is held (never, for another thread's undo).
	 */
	while ((w = ktask_pool.idle)) {
		ktask_pool.idle = w->w_next;
		if (!w->w_held)
			free(w);
	}
	ktask_pool.nr_workers = 0;
	ktask_pool.nr_busy = 0;
	ktask_pool.next_id = 0;
	/* Only the forking thread's own tasks, if any, run in the child. */
	ktask_pool.nr_callers = ktask_tls_tasks;
	ktask_pool.gen++;
	fork_child_tasks();
	ktask_topo_fork_child();
	busy_exit();	/* ktask_pool_fork_prepare()'s pool_lock() */
}
