/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * topology.h - which CPUs a userland caller may use: online CPUs, its
 * affinity mask, its cgroup's CPU quota, and the NUMA nodes they sit on.
 */
#ifndef KTASK_TOPOLOGY_H
#define KTASK_TOPOLOGY_H

#define _GNU_SOURCE
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

#define KTASK_MAX_NODES 64

/* The caller's CPUs, and why there are that many. */
struct ktask_cpus {
	cpu_set_t kc_mask;	/* affinity mask (online CPUs only) */
	size_t kc_affinity;	/* CPUs in it */
	size_t kc_online;	/* online CPUs */
	long kc_quota_milli;	/* cgroup quota in thousandths of a CPU, or 0 */
	size_t kc_usable;	/* min(kc_affinity, quota rounded up), >= 1 */
};

/* Reads the CPU facts once; later calls return at once. */
void ktask_topo_init(void);

/* Fills @cpus for the calling thread. */
void ktask_topo_cpus(struct ktask_cpus *cpus);

/* The nodes' count, a node's CPUs, whether an id names a node. */
int ktask_topo_nr_nodes(void);
const cpu_set_t *ktask_topo_node_mask(int nid);
bool ktask_topo_node_valid(int nid);

/* The node of the CPU the caller runs on, or NUMA_NO_NODE on one node. */
int ktask_topo_current_node(void);

/* Copies the cgroup directory the quota came from, for KTASK_DEBUG. */
void ktask_topo_quota_source(char *buf, size_t size);

/* Resets what a fork child cannot trust (the quota cache's lock). */
void ktask_topo_fork_child(void);

/* Whether the topology is the fake one from KTASK_TOPOLOGY. */
bool ktask_topo_is_fake(void);

#endif /* KTASK_TOPOLOGY_H */
