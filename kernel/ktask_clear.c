// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ktask_clear.c - the seed's own client: clearing a large allocation with
 * ktask, timed against clearing it in one thread.
 *
 * The kernel cannot hand a module a gigantic physically contiguous region
 * on demand, so the region is vmalloc'ed (backed by ordinary pages), as
 * large as the kernel allows up to the "mib" parameter.  It is cleared
 * three times: serially, with ktask_run() from the caller's node, and with
 * ktask_run_numa() over one half per node (each half allocated on its
 * node), and each time checked to be all zero.  Results are printed in
 * KTAP, timings as diagnostic lines.
 */
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "ktask.h"

static unsigned int mib = 512;
module_param(mib, uint, 0444);
MODULE_PARM_DESC(mib, "Size to clear, in MiB (less if vmalloc fails)");

static unsigned int chunk_mib = 16;
module_param(chunk_mib, uint, 0444);
MODULE_PARM_DESC(chunk_mib, "Minimum chunk, in MiB");

#define CLEAR_STEP (1UL << 20)

/* Clears [start, end), rescheduling between megabytes. */
static int clear_func(void *start_, void *end_, void *arg)
{
	u8 *start = start_;
	u8 *end = end_;
	size_t n;

	while (start < end) {
		n = min_t(size_t, end - start, CLEAR_STEP);
		memset(start, 0, n);
		start += n;
		cond_resched();
	}
	return KTASK_RETURN_SUCCESS;
}

/* Allocates up to *@size bytes on @nid, halving until it works. */
static void *clear_alloc(size_t *size, int nid)
{
	void *p;

	for (; *size >= CLEAR_STEP; *size /= 2) {
		p = vmalloc_node(*size, nid);
		if (p)
			return p;
	}
	return NULL;
}

static unsigned int clear_nr, clear_failed;

static void clear_report(bool ok, const char *name, size_t size, s64 ns,
			 s64 serial_ns)
{
	clear_nr++;
	clear_failed += !ok;
	pr_info("%sok %u %s\n", ok ? "" : "not ", clear_nr, name);
	if (serial_ns)
		pr_info("# %s: %zu MiB in %lld ms (%lld.%02lld x serial)\n",
			name, size >> 20, div_s64(ns, NSEC_PER_MSEC),
			div64_s64(serial_ns, ns),
			div64_s64(serial_ns * 100, ns) % 100);
	else
		pr_info("# %s: %zu MiB in %lld ms\n", name, size >> 20,
			div_s64(ns, NSEC_PER_MSEC));
}

/* Dirties @buf, clears it with @run, checks it; returns the time in ns. */
static s64 clear_timed(u8 *buf, size_t size, bool *ok,
		       int (*run)(u8 *buf, size_t size))
{
	ktime_t t0;
	int err;

	memset(buf, 0xa5, size);
	t0 = ktime_get();
	err = run(buf, size);
	*ok = !err && !memchr_inv(buf, 0, size);
	return ktime_to_ns(ktime_sub(ktime_get(), t0)) ?: 1;
}

static int clear_serial(u8 *buf, size_t size)
{
	return clear_func(buf, buf + size, NULL);
}

static int clear_ktask(u8 *buf, size_t size)
{
	DEFINE_KTASK_CTL(ctl, clear_func, NULL, (size_t)chunk_mib << 20);

	return ktask_run(buf, size, &ctl);
}

/* Clears one half per node, each allocated on its node. */
static void clear_numa(size_t size, s64 serial_ns, size_t serial_size)
{
	DEFINE_KTASK_CTL(ctl, clear_func, NULL, (size_t)chunk_mib << 20);
	struct ktask_node nodes[2];
	size_t half = size / 2;
	bool ok = true;
	ktime_t t0;
	int i, nid = first_online_node;

	if (num_online_nodes() < 2) {
		pr_info("ok %u clear_numa # SKIP one node\n", ++clear_nr);
		return;
	}
	for (i = 0; i < 2; i++, nid = next_online_node(nid)) {
		nodes[i].kn_task_size = half;
		nodes[i].kn_start = clear_alloc(&nodes[i].kn_task_size, nid);
		nodes[i].kn_nid = nid;
		ok &= nodes[i].kn_start && nodes[i].kn_task_size == half;
	}
	if (ok) {
		for (i = 0; i < 2; i++)
			memset(nodes[i].kn_start, 0xa5, half);
		t0 = ktime_get();
		ok = !ktask_run_numa(nodes, 2, &ctl);
		serial_ns = div64_u64((u64)serial_ns * size, serial_size);
		for (i = 0; i < 2; i++)
			ok &= !memchr_inv(nodes[i].kn_start, 0, half);
		clear_report(ok, "clear_numa", size,
			     ktime_to_ns(ktime_sub(ktime_get(), t0)) ?: 1,
			     serial_ns);
	} else {
		clear_report(false, "clear_numa", 0, 1, 0);
	}
	for (i = 0; i < 2; i++)
		vfree(nodes[i].kn_start);
}

static int __init ktask_clear_init(void)
{
	size_t size = (size_t)mib << 20;
	s64 serial_ns, ns;
	bool ok;
	u8 *buf;

	pr_info("KTAP version 1\n");
	pr_info("1..3\n");
	buf = clear_alloc(&size, NUMA_NO_NODE);
	if (!buf) {
		pr_info("not ok 1 clear_serial\n");
		pr_info("# could not vmalloc even 1 MiB\n");
		return -ENOMEM;
	}
	serial_ns = clear_timed(buf, size, &ok, clear_serial);
	clear_report(ok, "clear_serial", size, serial_ns, 0);
	ns = clear_timed(buf, size, &ok, clear_ktask);
	clear_report(ok, "clear_ktask", size, ns, serial_ns);
	vfree(buf);

	clear_numa(size, serial_ns, size);
	pr_info("# ktask_clear: pass:%u fail:%u\n", clear_nr - clear_failed,
		clear_failed);
	return 0;
}

static void __exit ktask_clear_exit(void)
{
}

module_init(ktask_clear_init);
module_exit(ktask_clear_exit);

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("ktask client: clear a large allocation, serial vs parallel");
