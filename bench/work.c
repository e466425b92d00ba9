// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * work.c - a unit of pure CPU work and its calibration.
 *
 * The work is a dependent chain of multiplies and shifts: it touches no
 * memory, so it measures the scheduling of a peer and not the memory bus.
 */
#include "harness.h"
#include "work.h"

static double iters_per_us = 100;
static volatile uint64_t sink;

uint64_t work_burn(uint64_t x, uint64_t iters)
{
	while (iters--) {
		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9ull;
		/* An empty asm keeps the loop a loop: no closed form. */
		__asm__ __volatile__("" : "+r"(x));
	}
	return x;
}

void work_sink(uint64_t v)
{
	sink += v;
}

void work_range(size_t lo, size_t hi, void *iters)
{
	const uint64_t *n = iters;
	uint64_t x = lo + 1;

	for (; lo < hi; lo++)
		x = work_burn(x, *n);
	work_sink(x);
}

void work_calibrate(void)
{
	const uint64_t n = 200000;
	double best = 1e9, t;
	int i;

	/*
	 * The fastest of many short runs: on a shared machine some of them
	 * run undisturbed, and that is the machine's speed, not its noise.
	 */
	for (i = 0; i < 100; i++) {
		t = bench_now();
		work_sink(work_burn(i + 1, n));
		t = bench_now() - t;
		if (t < best)
			best = t;
	}
	iters_per_us = n / (best * 1e6);
}

double work_get_calibration(void)
{
	return iters_per_us;
}

void work_set_calibration(double v)
{
	if (v > 0)
		iters_per_us = v;
}

uint64_t work_iters_per_us(double us)
{
	double n = us * iters_per_us;

	return n < 1 ? 1 : (uint64_t)n;
}
