/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * fault.h - fault injection in the userland home, part of every build, so
 * that the fallback paths of the library (and of programs using it) can be
 * tried for real rather than only by LD_PRELOAD tricks.
 *
 * KTASK_FAULT_ALLOC names the allocation sites that should fail, separated
 * by commas: "site" fails every time, "site:N" one time in N at random, and
 * "all" or "all:N" stands for every site.  The sites are:
 *
 *   worker        worker.c: the calloc() of a new worker (the task then runs
 *                 with fewer helpers)
 *   numa_cpumask  topology.c: libnuma's CPU mask when the topology is read
 *                 (the machine is then taken as one node)
 *
 * Thread creation has its own switch, KTASK_FAULT_THREAD_CREATE (read in
 * pool.c, tried in worker.c).
 */
#ifndef KTASK_FAULT_H
#define KTASK_FAULT_H

#include <stdbool.h>

/* Whether the allocation at @site should fail this time. */
bool ktask_fault_alloc(const char *site);

#endif /* KTASK_FAULT_H */
