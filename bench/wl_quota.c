// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * wl_quota.c - workload 8: the same rounds of work inside a cgroup limited
 * to half a CPU.
 *
 * Each round is a serial part in the caller (a quarter of the parallel
 * work, as real programs have between parallel regions) and then a
 * parallel task.  Under a quota, every cycle a worker spends spinning in the
 * serial part is taken from the quota the real work needed, and a peer that
 * starts one thread per CPU has its threads throttled together.  The
 * rounds also run unconfined first, for comparison.
 */
#include <stdio.h>

#include "cgroup.h"
#include "harness.h"
#include "work.h"
#include "workloads.h"

#define QUOTA_UNITS 64

/* Runs @rounds rounds with a task of @us; returns wall ms, sets cpu ms. */
static double quota_rounds(const struct bench_peer *peer, double us,
			   size_t rounds, double *cpu_ms)
{
	uint64_t iters = work_iters_per_us(us / QUOTA_UNITS);
	uint64_t serial = work_iters_per_us(us / 4);
	double t0 = bench_now(), c0 = bench_cpu();
	size_t i;

	for (i = 0; i < rounds; i++) {
		work_sink(work_burn(i, serial));
		peer->run(QUOTA_UNITS, QUOTA_UNITS / 8, work_range, &iters);
	}
	*cpu_ms = (bench_cpu() - c0) * 1e3;
	return (bench_now() - t0) * 1e3;
}

static void quota_size(const struct bench_peer *peer, const char *label,
		       double us, int confined)
{
	size_t rounds = BENCH_BY_MODE(5, 40, 100);
	size_t reps = BENCH_BY_MODE(1, 3, 7), r;
	double wall[21], cpu[21];
	const char *w = confined ? "wall_ms" : "wall_ms_unconfined";
	const char *c = confined ? "cpu_ms" : "cpu_ms_unconfined";

	quota_rounds(peer, us, 2, &cpu[0]);	/* warm up */
	for (r = 0; r < reps; r++)
		wall[r] = quota_rounds(peer, us, rounds, &cpu[r]);
	bench_report("quota", us, label, w, wall, reps);
	bench_report("quota", us, label, c, cpu, reps);
}

void wl_quota(const struct bench_peer *peer, const char *label)
{
	double sizes[] = { 2000, 200 };
	size_t nr = BENCH_BY_MODE(1, 1, 2), i;
	char why[256];

	for (i = 0; i < nr; i++)
		quota_size(peer, label, sizes[i], 0);
	if (bench_cgroup_enter(50000, 100000, why, sizeof(why))) {
		bench_note("quota", label, why);
		fprintf(stderr, "quota: skipped: %s\n", why);
		return;
	}
	for (i = 0; i < nr; i++)
		quota_size(peer, label, sizes[i], 1);
	bench_cgroup_leave();
}
