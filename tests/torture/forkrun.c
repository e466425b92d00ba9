// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * forkrun.c - now and then a caller forks the whole process, and the
 * child, which has only that caller's thread and a fresh ktask pool, runs
 * random tasks too and reports to the parent through a pipe.
 *
 * At most one fork every TT_FORK_GAP seconds across all callers, so that
 * forks stay occasional whatever the number of callers.  The child never
 * takes a lock another thread of the parent might have held at the fork
 * (it does not publish its task for the watchdog, and it writes with
 * write(), not stdio), and an alarm ends it should it hang.
 */
#include "torture.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TT_FORK_GAP 0.5
#define TT_CHILD_TASKS 20

/* What the child tells its parent. */
struct tt_child_report {
	unsigned long tasks, failed, mismatches;
	char why[200];
};

static double tt_last_fork;	/* [A] as bits of a double, see below */

/* Claims the right to fork now; false if another caller forked lately. */
bool tt_fork_claim(void)
{
	double now = tt_now(), last;

	__atomic_load(&tt_last_fork, &last, __ATOMIC_RELAXED);
	if (now - last < TT_FORK_GAP)
		return false;
	return __atomic_compare_exchange(&tt_last_fork, &last, &now, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/*
 * The child: random tasks, then a report through @fd.  A child forked from
 * a chunk (task.c) comes here once its task returned, unchecked: the
 * chunks its helpers had claimed stayed in the parent.
 */
void tt_child(struct tt_caller *c, int fd)
{
	struct tt_child_report rep;
	struct tt_task t;
	const char *why;
	int ret;

	memset(&rep, 0, sizeof(rep));
	alarm((unsigned int)tt_opt.stall + 5);
	c->tc_tid = tt_gettid();
	c->tc_rng ^= (unsigned int)getpid() * 2654435761u;
	for (int i = 0; i < TT_CHILD_TASKS; i++) {
		tt_make_task(c, &t);
		t.hang = false;
		why = tt_run_task(c, &t, &ret);
		rep.tasks++;
		rep.failed += ret != 0;
		if (why && !rep.mismatches++) {
			int n = snprintf(rep.why, sizeof(rep.why), "%s: ", why);

			tt_describe(&t, rep.why + n, sizeof(rep.why) - n);
		}
	}
	if (write(fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(2);
	_exit(rep.mismatches ? 1 : 0);
}

/* Reads the child's report and its exit; false if it went wrong. */
bool tt_reap(struct tt_caller *c, pid_t pid, int fd)
{
	struct tt_child_report rep;
	ssize_t n;
	int status;

	memset(&rep, 0, sizeof(rep));
	do
		n = read(fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n == sizeof(rep) && WIFEXITED(status) && !WEXITSTATUS(status))
		return true;
	if (rep.why[0])
		fprintf(stderr, "torture: caller %u: fork child %d: %s\n",
			c->tc_id, (int)pid, rep.why);
	if (WIFSIGNALED(status))
		fprintf(stderr, "torture: caller %u: fork child %d killed by "
			"signal %d\n", c->tc_id, (int)pid, WTERMSIG(status));
	else
		fprintf(stderr, "torture: caller %u: fork child %d exited %d "
			"after %lu tasks\n", c->tc_id, (int)pid,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1, rep.tasks);
	return false;
}

/*
 * Forks now and then.  Returns false only when a child forked now found a
 * mismatch or died; the caller counts it.
 */
bool tt_fork_check(struct tt_caller *c)
{
	int fds[2];
	pid_t pid;

	if (!tt_opt.fork || tt_rnd(&c->tc_rng, 64) || !tt_fork_claim())
		return true;
	if (pipe(fds))
		return true;
	__atomic_store_n(&c->tc_phase, TT_FORKED, __ATOMIC_RELAXED);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		tt_child(c, fds[1]);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return true;
	}
	__atomic_fetch_add(&c->tc_forks, 1, __ATOMIC_RELAXED);
	return tt_reap(c, pid, fds[0]);
}
