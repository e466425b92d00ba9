/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * hostutil.h - for the tests of libktask inside a host program: each test
 * body runs in a child process of its own, under an alarm, and reports
 * through its exit status; threads meet in a chunk with a deadline.
 */
#ifndef KTASK_HOSTUTIL_H
#define KTASK_HOSTUTIL_H

#include "testutil.h"

#include <signal.h>
#include <ktask.h>
#include <sys/wait.h>

#include "childcheck.h"

#define CHILD_SKIP 77

/* In a child: the test does not apply here. */
#define CHILD_SKIP_IF(cond, why)					\
	do {								\
		if (cond) {						\
			fprintf(stderr, "skipped: %s\n", why);		\
			_exit(CHILD_SKIP);				\
		}							\
	} while (0)

/*
 * Runs @body in a child with a watchdog of @secs seconds (SIGALRM kills
 * it); returns its exit status, 128 + the signal that killed it, or
 * CHILD_SKIP.
 */
static inline int kt_run_isolated(void (*body)(void), unsigned int secs)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		alarm(secs);
		body();
		_exit(0);
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* A chunk waits here until @want threads have come, or 5 s passed. */
struct kt_meet {
	struct kt_tids tids;
	int want;
	bool timed_out;
};

static inline void kt_meet(struct kt_meet *m)
{
	double end = kt_now() + 5;

	kt_tids_add(&m->tids);
	while (__atomic_load_n(&m->tids.nr, __ATOMIC_ACQUIRE) < m->want) {
		if (kt_now() > end) {
			__atomic_store_n(&m->timed_out, true, __ATOMIC_RELAXED);
			return;
		}
		sched_yield();
	}
}

/* A thread function whose chunks all meet at the &struct kt_meet @arg. */
static inline int kt_meet_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end;
	kt_meet(arg);
	return 0;
}

/* Whether a task gets a helper that really runs chunks. */
static inline bool kt_pool_works(void)
{
	struct kt_meet m = { .want = 2 };
	DEFINE_KTASK_CTL(ctl, kt_meet_chunk, &m, 1);

	return !ktask_run(NULL, 8, &ctl) && !m.timed_out && m.tids.nr == 2;
}

/* Waits up to @ms for *@flag to become nonzero. */
static inline bool kt_wait_flag(int *flag, long ms)
{
	return kt_wait_for(flag, 1, ms);
}

#endif /* KTASK_HOSTUTIL_H */
