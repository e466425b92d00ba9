// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * peer_omp.c - OpenMP behind the benchmark interface.  The same file is
 * built with gcc against libgomp ("gomp") and, where clang and LLVM's libomp
 * are installed, with clang against libomp ("llvm-omp").
 *
 * The loop runs over chunks of @grain with schedule(dynamic, 1): that is how
 * an OpenMP programmer who knows the work may be uneven writes it, and it
 * gives OpenMP the same chunk-level balancing ktask does.  The if() clause
 * keeps a task of one chunk in the calling thread, as ktask does.
 */
#include <omp.h>

#include "peer.h"

#ifndef BENCH_OMP_NAME
#define BENCH_OMP_NAME "gomp"
#endif

static void omp_run(size_t n, size_t grain, bench_range_fn fn, void *arg)
{
	size_t nr, c;

	if (!grain)
		grain = 1;
	nr = (n + grain - 1) / grain;
	/*
	 * BENCH_THREADS plays a program that sets its team to the host's
	 * CPUs (num_threads(), as OMP_NUM_THREADS would); 0 leaves the
	 * runtime's default.
	 */
#pragma omp parallel for schedule(dynamic, 1) if (nr > 1) \
	num_threads(bench_threads() ? (int)bench_threads() : omp_get_max_threads())
	for (c = 0; c < nr; c++) {
		size_t hi = (c + 1) * grain;

		fn(c * grain, hi < n ? hi : n, arg);
	}
}

const struct bench_peer bench_peer_omp = {
	.name = BENCH_OMP_NAME,
	.variant_env = "OMP_WAIT_POLICY",
	.sized = 1,
	.run = omp_run,
	.run_list = NULL,	/* lists go through an array of pointers */
};
