/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * cgroup.h - puts the whole benchmark process in a CPU-limited cgroup.
 */
#ifndef BENCH_CGROUP_H
#define BENCH_CGROUP_H

#include <stddef.h>

/*
 * Creates a child cgroup limited to @quota_us of CPU time per @period_us
 * and moves the process (every thread) into it.  Uses cgroup v2 when its
 * cpu controller can be had, else the v1 cpu controller.  Returns 0, or -1
 * with the reason in @why.
 */
int bench_cgroup_enter(unsigned int quota_us, unsigned int period_us,
		       char *why, size_t why_len);

/* Moves the process back where it was and removes the child cgroup. */
void bench_cgroup_leave(void);

#endif /* BENCH_CGROUP_H */
