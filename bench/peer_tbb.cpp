// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * peer_tbb.cpp - oneTBB behind the benchmark interface: parallel_for over a
 * blocked_range with the default (auto) partitioner, and parallel_for_each
 * over the list through a forward iterator, as a TBB user would write them.
 * This is the only C++ in the benchmarks; it exists because TBB is C++.
 */
#include <cstddef>
#include <iterator>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_for_each.h>
#include <oneapi/tbb/task_arena.h>

#include "peer.h"

namespace {

void tbb_loop(size_t n, size_t grain, bench_range_fn fn, void *arg)
{
	tbb::parallel_for(tbb::blocked_range<size_t>(0, n, grain ? grain : 1),
			  [=](const tbb::blocked_range<size_t> &r) {
				  fn(r.begin(), r.end(), arg);
			  });
}

/*
 * BENCH_THREADS plays a program that sizes its arena by the host's CPUs;
 * otherwise TBB's default arena, which follows the affinity mask.
 */
void tbb_run(size_t n, size_t grain, bench_range_fn fn, void *arg)
{
	if (!bench_threads()) {
		tbb_loop(n, grain, fn, arg);
		return;
	}
	/*
	 * On a host with that many CPUs TBB would allow that many workers;
	 * here its default limit follows the affinity mask, so lift it.
	 */
	static tbb::global_control allow(
		tbb::global_control::max_allowed_parallelism, bench_threads());
	static tbb::task_arena sized((int)bench_threads());

	sized.execute([=] { tbb_loop(n, grain, fn, arg); });
}

/* A forward iterator over the C list, for parallel_for_each. */
struct node_iter {
	using iterator_category = std::forward_iterator_tag;
	using value_type = bench_node;
	using difference_type = std::ptrdiff_t;
	using pointer = bench_node *;
	using reference = bench_node &;

	bench_node *n;

	reference operator*() const { return *n; }
	pointer operator->() const { return n; }
	node_iter &operator++() { n = n->next; return *this; }
	node_iter operator++(int) { node_iter t = *this; n = n->next; return t; }
	bool operator==(const node_iter &o) const { return n == o.n; }
	bool operator!=(const node_iter &o) const { return n != o.n; }
};

void tbb_run_list(bench_node *head, size_t n, size_t grain, bench_node_fn fn,
		  void *arg)
{
	(void)n;
	(void)grain;	/* parallel_for_each picks its own batching */
	tbb::parallel_for_each(node_iter{head}, node_iter{nullptr},
			       [=](bench_node &node) { fn(&node, arg); });
}

} // namespace

extern "C" const struct bench_peer bench_peer_tbb = {
	"tbb", nullptr, 1, tbb_run, tbb_run_list,
};
