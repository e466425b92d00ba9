// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * peer_serial.c - the baseline: the whole range in the calling thread, the
 * way the code looked before anyone parallelized it.
 */
#include "peer.h"

static void serial_run(size_t n, size_t grain, bench_range_fn fn, void *arg)
{
	(void)grain;
	fn(0, n, arg);
}

static void serial_run_list(struct bench_node *head, size_t n, size_t grain,
			    bench_node_fn fn, void *arg)
{
	(void)n;
	(void)grain;
	for (; head; head = head->next)
		fn(head, arg);
}

const struct bench_peer bench_peer_serial = {
	.name = "serial",
	.run = serial_run,
	.run_list = serial_run_list,
};
