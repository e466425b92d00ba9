/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * caller.h - the per-thread state a helper must share with the caller of
 * the task it works on: scheduling policy and priority, and the security
 * state (seccomp, no_new_privs, capabilities, user and group ids).
 */
#ifndef KTASK_CALLER_H
#define KTASK_CALLER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif
#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

/* A thread's scheduling terms, as sched_getattr(2) reports them. */
struct ktask_sched {
	int kss_policy;		/* SCHED_*, without SCHED_RESET_ON_FORK */
	int kss_prio;		/* sched_priority: 1-99 for RT policies */
	int kss_nice;		/* nice value: SCHED_OTHER and SCHED_BATCH */
	bool kss_reset;		/* SCHED_RESET_ON_FORK: not inherited */
};

/*
 * What the kernel checks a thread's system calls against, as far as it can
 * be read from inside the process.  Landlock is missing: the kernel offers
 * no query for a thread's domain (see docs/design.md).
 */
struct ktask_sandbox {
	int ksb_seccomp;	/* PR_GET_SECCOMP: 0, or 2 with filters */
	int ksb_filters;	/* Seccomp_filters, when ksb_seccomp is 2 */
	int ksb_nnp;		/* PR_GET_NO_NEW_PRIVS */
};

struct ktask_creds {
	struct ktask_sandbox kcr_sandbox;
	uint64_t kcr_lineage;	/* 0, or whose sandbox (see caller.c) */
	uint32_t kcr_caps[3][2];	/* effective, permitted, inheritable */
	uid_t kcr_uid[3];	/* real, effective, saved */
	gid_t kcr_gid[3];
};

/* Reads the calling thread's terms; false if the kernel would not tell. */
bool ktask_sched_read(struct ktask_sched *s);

/* Gives thread @tid (0: the calling thread) the policy and priority of @s. */
int ktask_sched_apply(pid_t tid, const struct ktask_sched *s);

/* Whether @policy is a real-time one (SCHED_FIFO, SCHED_RR). */
bool ktask_sched_rt(int policy);

/* Whether a and b have the same policy and priority (nice aside). */
bool ktask_sched_same(const struct ktask_sched *a, const struct ktask_sched *b);

/*
 * Whether this process may give another of its threads @s's policy:
 * SCHED_DEADLINE never (its bandwidth is the caller's own), a real-time
 * policy with CAP_SYS_NICE or within RLIMIT_RTPRIO, the others always.
 */
bool ktask_sched_grantable(const struct ktask_sched *s,
			   const struct ktask_creds *cr);

/* Reads the calling thread's security state. */
void ktask_creds_read(struct ktask_creds *cr);

/*
 * In a new worker, before anything else: it has the sandbox of @cr, its
 * creator's state read just before the creation.
 */
void ktask_creds_inherit(const struct ktask_creds *cr);

bool ktask_creds_equal(const struct ktask_creds *a, const struct ktask_creds *b);

/* Whether the ids or capabilities differ: the nice floor may have moved. */
bool ktask_creds_rights_changed(const struct ktask_creds *a,
				const struct ktask_creds *b);

#endif /* KTASK_CALLER_H */
