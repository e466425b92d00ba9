// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * wl_memory.c - the memory workloads the ktask series was written for:
 * zeroing a buffer that is already mapped (3) and the first touch of a
 * fresh anonymous mapping, which makes the kernel allocate and clear every
 * page (4), as QEMU does when it preallocates guest memory.
 *
 * Chunks are at least 2 MiB, so each is worth a thread and page-aligned.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "workloads.h"

#define MEM_GRAIN ((size_t)2 << 20)

static void zero_range(size_t lo, size_t hi, void *arg)
{
	memset((char *)arg + lo, 0, hi - lo);
}

/* Writes one byte per page: the fault does the real work. */
static void touch_range(size_t lo, size_t hi, void *arg)
{
	volatile char *p = arg;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	for (lo -= lo % page; lo < hi; lo += page)
		p[lo] = 1;
}

static void *map(size_t bytes, int flags)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Quick mode stays at 512 MiB: on a VM whose page faults are slow, seven
 * peers times several gigabytes of first touch would take minutes.
 */
static size_t mem_sizes_mib[] = { 1024, 2048, 4096 };

static size_t mem_nr_sizes(void)
{
	return BENCH_BY_MODE(1, 1, 3);
}

static size_t mem_mib(size_t i)
{
	return BENCH_BY_MODE(16, 512, mem_sizes_mib[i]);
}

/* Workload 3: GB/s zeroing a prefaulted buffer of @mib MiB. */
static void zero_size(const struct bench_peer *peer, const char *label,
		      size_t mib)
{
	size_t bytes = mib << 20, reps = BENCH_BY_MODE(1, 5, 9), r;
	double gbs[21], t0;
	char *buf = map(bytes, 0);

	if (!buf) {
		bench_note("zero", label, "mmap failed");
		return;
	}
	/*
	 * Huge pages where the system allows them, only to make the untimed
	 * prefault fast; the timed memset is the same either way.
	 */
	madvise(buf, bytes, MADV_HUGEPAGE);
	memset(buf, 0xa5, bytes);
	peer->run(bytes, MEM_GRAIN, zero_range, buf);	/* warm up */
	for (r = 0; r < reps; r++) {
		t0 = bench_now();
		peer->run(bytes, MEM_GRAIN, zero_range, buf);
		gbs[r] = bytes / (bench_now() - t0) / 1e9;
	}
	bench_report("zero", mib, label, "GB_per_s", gbs, reps);
	munmap(buf, bytes);
}

void wl_zero(const struct bench_peer *peer, const char *label)
{
	size_t i;

	for (i = 0; i < mem_nr_sizes(); i++)
		zero_size(peer, label, mem_mib(i));
}

/* Workload 4: GB/s populating a fresh mapping of @mib MiB. */
static void populate_size(const struct bench_peer *peer, const char *label,
			  size_t mib)
{
	size_t bytes = mib << 20, reps = BENCH_BY_MODE(1, 3, 7), r;
	double gbs[21], t0;
	char *buf;

	for (r = 0; r < reps; r++) {
		buf = map(bytes, 0);
		if (!buf) {
			bench_note("populate", label, "mmap failed");
			return;
		}
		t0 = bench_now();
		peer->run(bytes, MEM_GRAIN, touch_range, buf);
		gbs[r] = bytes / (bench_now() - t0) / 1e9;
		munmap(buf, bytes);
	}
	bench_report("populate", mib, label, "GB_per_s", gbs, reps);
}

void wl_populate(const struct bench_peer *peer, const char *label)
{
	size_t i;

	for (i = 0; i < mem_nr_sizes(); i++)
		populate_size(peer, label, mem_mib(i));
}
