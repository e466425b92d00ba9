// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * persona.c - callers that are not alike.  Each caller thread takes, at
 * its start and at random, a scheduling policy (SCHED_OTHER, SCHED_BATCH,
 * SCHED_IDLE, or SCHED_FIFO with a 1 ms pause after each task, so that
 * real-time callers do not take a shared machine's CPUs) or a seccomp
 * filter that makes getppid() fail with EPERM.  Every chunk checks that it
 * runs as its caller: under the caller's policy, and filtered exactly when
 * the caller is (docs/torture.md).
 */
#include "torture.h"
#include "../seccomp_getppid.h"

#include <errno.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

static const char *const tt_persona_names[TT_NR_PERSONAS] = {
	"normal", "batch", "idle", "fifo", "filtered",
};

const char *tt_persona_name(int p)
{
	return p >= 0 && p < TT_NR_PERSONAS ? tt_persona_names[p] : "?";
}

/* getppid() fails with EPERM in this thread and threads it creates. */
static bool tt_filter_getppid(void)
{
	/* Without CAP_SYS_ADMIN, no_new_privs first (then it differs too). */
	if (kt_filter_getppid())
		return true;
	return !prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) && kt_filter_getppid();
}

void tt_persona_take(struct tt_caller *c)
{
	struct sched_param sp = { 0 };
	int p = (int)tt_rnd(&c->tc_rng, TT_NR_PERSONAS);

	c->tc_persona = TT_PLAIN;
	c->tc_policy = SCHED_OTHER;
	switch (p) {
	case TT_BATCH:
	case TT_SCHED_IDLE:
	case TT_FIFO:
		c->tc_policy = p == TT_BATCH ? SCHED_BATCH :
			       p == TT_SCHED_IDLE ? SCHED_IDLE : SCHED_FIFO;
		sp.sched_priority = p == TT_FIFO ? 1 : 0;
		if (sched_setscheduler(0, c->tc_policy, &sp)) {
			c->tc_policy = SCHED_OTHER;
			return;
		}
		break;
	case TT_FILTERED:
		if (!tt_filter_getppid())
			return;
		break;
	default:
		return;
	}
	c->tc_persona = p;
}

bool tt_persona_check(const struct tt_caller *c)
{
	int policy = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
	long ppid = syscall(SYS_getppid);

	if (policy != c->tc_policy)
		return false;
	if (c->tc_persona == TT_FILTERED)
		return ppid < 0 && errno == EPERM;
	return ppid >= 0;
}

void tt_persona_pause(const struct tt_caller *c)
{
	struct timespec ms = { 0, 1000000 };

	if (c->tc_persona == TT_FIFO)
		nanosleep(&ms, NULL);
}
