// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * peers.c - the list of peers this binary was built with.  OpenMP and oneTBB
 * are optional: a build without them simply has fewer peers.
 */
#include <stdlib.h>

#include "peer.h"

unsigned int bench_threads(void)
{
	const char *v = getenv("BENCH_THREADS");

	return v ? (unsigned int)strtoul(v, NULL, 10) : 0;
}

const struct bench_peer *const bench_peers[] = {
	&bench_peer_serial,
	&bench_peer_pthreads,
	&bench_peer_ktask,
#ifdef BENCH_HAVE_OMP
	&bench_peer_omp,
#endif
#ifdef BENCH_HAVE_TBB
	&bench_peer_tbb,
#endif
	NULL,
};
