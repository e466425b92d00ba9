/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * peer.h - what every system under test offers the workloads: "run this
 * range function over [0, n) in parallel, in pieces of at least @grain".
 *
 * Each peer (ktask, OpenMP, oneTBB, plain pthreads, serial) is a small
 * adapter behind this interface, so a workload is written once and every
 * peer runs exactly the same work.
 */
#ifndef BENCH_PEER_H
#define BENCH_PEER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Does the work of [lo, hi). */
typedef void (*bench_range_fn)(size_t lo, size_t hi, void *arg);

/* A node of the linked list that workload 6 walks. */
struct bench_node {
	struct bench_node *next;
	unsigned long value;
};

/* Does the work of one list node. */
typedef void (*bench_node_fn)(struct bench_node *node, void *arg);

struct bench_peer {
	const char *name;
	/*
	 * An environment variable that changes how the peer behaves, or
	 * NULL.  When it is set, its value is added to the name in the
	 * results ("gomp-passive"), so runs with different settings stay apart.
	 */
	const char *variant_env;
	/*
	 * Whether the peer starts as many threads as bench_threads() says
	 * when that is set, as a program sized for its host would.
	 */
	int sized;
	/* Runs @fn over [0, n); every call may come from any thread. */
	void (*run)(size_t n, size_t grain, bench_range_fn fn, void *arg);
	/*
	 * Walks the @n nodes from @head, or NULL when the peer has no way to
	 * iterate a list: the workload then gives run() an array of pointers
	 * built beforehand, as a user of that peer would.
	 */
	void (*run_list)(struct bench_node *head, size_t n, size_t grain,
			 bench_node_fn fn, void *arg);
};

extern const struct bench_peer bench_peer_serial;
extern const struct bench_peer bench_peer_pthreads;
extern const struct bench_peer bench_peer_ktask;
extern const struct bench_peer bench_peer_omp;
extern const struct bench_peer bench_peer_tbb;

/*
 * BENCH_THREADS from the environment, or 0: a thread count for the peers
 * that choose their own (OpenMP, TBB), to play a program that sizes its
 * team by the host's CPUs inside a container that has less.
 */
unsigned int bench_threads(void);

/* The peers built into this binary, NULL-terminated. */
extern const struct bench_peer *const bench_peers[];

#ifdef __cplusplus
}
#endif

#endif /* BENCH_PEER_H */
