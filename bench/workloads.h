/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * workloads.h - the nine workloads.  Each runs one peer at the sizes of the
 * current mode and writes its rows through the harness.  @label is the
 * peer's name in the results (it carries any environment variant).
 */
#ifndef BENCH_WORKLOADS_H
#define BENCH_WORKLOADS_H

#include "peer.h"

typedef void (*bench_workload_fn)(const struct bench_peer *peer,
				  const char *label);

struct bench_workload {
	const char *name;
	bench_workload_fn run;
	const char *what;
};

/* In order: workload number i is bench_workloads[i - 1]. */
extern const struct bench_workload bench_workloads[];
extern const size_t bench_nr_workloads;

void wl_forkjoin(const struct bench_peer *peer, const char *label);
void wl_periodic(const struct bench_peer *peer, const char *label);
void wl_zero(const struct bench_peer *peer, const char *label);
void wl_populate(const struct bench_peer *peer, const char *label);
void wl_uneven(const struct bench_peer *peer, const char *label);
void wl_list(const struct bench_peer *peer, const char *label);
void wl_callers(const struct bench_peer *peer, const char *label);
void wl_quota(const struct bench_peer *peer, const char *label);
void wl_tiny(const struct bench_peer *peer, const char *label);

#endif /* BENCH_WORKLOADS_H */
