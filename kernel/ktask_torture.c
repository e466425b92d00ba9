// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ktask_torture.c - the torture mode of ktask.ko: for secs seconds,
 * threads kthreads run random tasks (ranges and linked lists, one to three
 * parts with NUMA_NO_NODE or online node ids, random minimum chunks and
 * thread limits, nested calls, failures injected at random units with and
 * without undo) and check each against the serial reference, as
 * tests/torture does in userland.  Reports in KTAP when the module loads:
 * one result per kthread.
 *
 *   insmod ktask_torture.ko secs=15 threads=4
 *
 * Each unit is a byte counter: a chunk adds one to each of its units, and
 * a chunk that reaches a failing unit takes back its own part and returns
 * the error; undo takes completed units back to 0.
 */
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "ktask.h"

#define KTT_UNITS 4096
#define KTT_MAX_PARTS 3
#define KTT_MAX_THREADS 16

static unsigned int secs = 15;
module_param(secs, uint, 0444);
MODULE_PARM_DESC(secs, "How long to run, in seconds");
static unsigned int threads = 4;
module_param(threads, uint, 0444);
MODULE_PARM_DESC(threads, "Caller kthreads (at most 16)");

struct ktt_item {
	struct ktt_item *next;
	unsigned int rank;
};

/* One caller's buffers, task and results. */
struct ktt_caller {
	struct completion done;
	u8 *units;
	struct ktt_item *items;
	bool list, nested, undo;
	size_t size;
	unsigned int fail[2];		/* failing units, or size for none */
	int err[2];
	atomic_t returned;		/* bit k: err[k] was returned */
	bool undo_bad;
	unsigned long tasks, failed, mismatches;
	char why[120];
};

static size_t ktt_unit(struct ktt_caller *c, void *pos)
{
	if (c->list)
		return pos ? ((struct ktt_item *)pos)->rank : c->size;
	return (u8 *)pos - c->units;
}

static void *ktt_pos(struct ktt_caller *c, size_t unit)
{
	if (c->list)
		return unit < c->size ? &c->items[unit] : NULL;
	return c->units + unit;
}

static void *ktt_iter(void *pos_, size_t n)
{
	struct ktt_item *pos = pos_;
	while (n--)
		pos = pos->next;
	return pos;
}

static int ktt_leaf(void *start, void *end, void *c_)
{
	struct ktt_caller *c = c_;
	size_t lo = ktt_unit(c, start), hi = ktt_unit(c, end), i, k;

	for (i = lo; i < hi; i++) {
		for (k = 0; k < 2; k++) {
			if (c->fail[k] != i)
				continue;
			while (i-- > lo)
				c->units[i]--;
			atomic_or(1 << k, &c->returned);
			return c->err[k];
		}
		c->units[i]++;
	}
	return KTASK_RETURN_SUCCESS;
}

/* A chunk's own cleanup, as the undo of a nested inner task. */
static void ktt_cleanup(void *start, void *end, void *c_)
{
	struct ktt_caller *c = c_;
	size_t i;

	for (i = ktt_unit(c, start); i < ktt_unit(c, end); i++)
		c->units[i]--;
}

static int ktt_outer(void *start, void *end, void *c_)
{
	struct ktt_caller *c = c_;
	DEFINE_KTASK_CTL(inner, ktt_leaf, c, 1 + get_random_u32() % 16);

	ktask_ctl_set_undo_func(&inner, ktt_cleanup);
	if (c->list)
		ktask_ctl_set_iter_func(&inner, ktt_iter);
	return ktask_run(start, ktt_unit(c, end) - ktt_unit(c, start), &inner);
}

static void ktt_undo(void *start, void *end, void *c_)
{
	struct ktt_caller *c = c_;
	size_t i;

	for (i = ktt_unit(c, start); i < ktt_unit(c, end); i++) {
		if (c->units[i] != 1)
			c->undo_bad = true;
		c->units[i] = 0;
	}
}

/* A random online node or NUMA_NO_NODE. */
static int ktt_random_nid(void)
{
	int nid, n = get_random_u32() % (num_online_nodes() + 1);

	if (!n)
		return NUMA_NO_NODE;
	for_each_online_node(nid)
		if (!--n)
			return nid;
	return NUMA_NO_NODE;
}

static void ktt_make(struct ktt_caller *c, struct ktask_ctl *ctl)
{
	static const int errs[] = { -EIO, -ENOMEM, -EINVAL, 1, INT_MIN };
	size_t i;
	ktask_thread_func fn;

	c->list = get_random_u32() % 3 == 0;
	c->nested = get_random_u32() % 8 == 0;
	c->undo = get_random_u32() % 5 != 0;
	c->size = get_random_u32() % (get_random_u32() % 2 ? 300 : KTT_UNITS);
	c->fail[0] = c->fail[1] = c->size;
	if (c->size && get_random_u32() % 3 == 0)
		for (i = 0; i < 1 + get_random_u32() % 2; i++) {
			c->fail[i] = get_random_u32() % c->size;
			c->err[i] = errs[get_random_u32() % ARRAY_SIZE(errs)];
		}
	atomic_set(&c->returned, 0);
	c->undo_bad = false;
	memset(c->units, 0, c->size);
	for (i = 0; i < c->size; i++)
		c->items[i].next = i + 1 < c->size ? &c->items[i + 1] : NULL;

	fn = c->nested ? ktt_outer : ktt_leaf;
	*ctl = (struct ktask_ctl)KTASK_CTL_INITIALIZER(fn, c,
		1 + get_random_u32() % (get_random_u32() % 2 ? 8 : c->size + 8));
	if (c->list)
		ktask_ctl_set_iter_func(ctl, ktt_iter);
	if (c->undo)
		ktask_ctl_set_undo_func(ctl, ktt_undo);
	ktask_ctl_set_max_threads(ctl, get_random_u32() % 6);
}

static int ktt_run(struct ktt_caller *c, struct ktask_ctl *ctl)
{
	struct ktask_node parts[KTT_MAX_PARTS];
	size_t nr = 1 + get_random_u32() % KTT_MAX_PARTS, k, off = 0, n;

	if (nr == 1 && get_random_u32() % 2)
		return ktask_run(ktt_pos(c, 0), c->size, ctl);
	memset(parts, 0, sizeof(parts));
	for (k = 0; k < nr; k++) {
		n = k + 1 < nr ? get_random_u32() % (c->size - off + 1) :
				 c->size - off;
		parts[k].kn_start = ktt_pos(c, off);
		parts[k].kn_task_size = n;
		parts[k].kn_nid = ktt_random_nid();
		off += n;
	}
	return ktask_run_numa(parts, nr, ctl);
}

/* The serial reference; returns what went wrong, or NULL. */
static const char *ktt_check(struct ktt_caller *c, int ret)
{
	unsigned int returned = atomic_read(&c->returned);
	size_t i, k;

	if (!returned) {
		if (ret)
			return "failed although no chunk failed";
		for (i = 0; i < c->size; i++)
			if (c->units[i] != 1)
				return "a unit was not done exactly once";
		return NULL;
	}
	for (k = 0; k < 2; k++)
		if ((returned & (1 << k)) && c->err[k] == ret)
			break;
	if (k == 2)
		return "returned an error no chunk returned";
	if (c->undo_bad)
		return "undo of a unit not completed once";
	for (i = 0; i < c->size; i++) {
		if (c->units[i] > 1)
			return "a unit was done twice";
		if (c->undo && c->units[i])
			return "a completed unit was not undone";
		if ((i == c->fail[0] || i == c->fail[1]) && c->units[i])
			return "a failing unit counts as done";
	}
	return NULL;
}

static int ktt_thread(void *arg)
{
	struct ktt_caller *c = arg;
	unsigned long end = jiffies + secs * HZ;
	struct ktask_ctl ctl;
	const char *why;
	int ret;

	while (time_before(jiffies, end)) {
		ktt_make(c, &ctl);
		ret = ktt_run(c, &ctl);
		c->tasks++;
		c->failed += ret != 0;
		why = ktt_check(c, ret);
		if (why && !c->mismatches++)
			snprintf(c->why, sizeof(c->why), "%s (%s size %zu, "
				 "returned %d)", why, c->list ? "list" : "range",
				 c->size, ret);
		cond_resched();
	}
	complete(&c->done);
	return 0;
}

static void ktt_free(struct ktt_caller *callers, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		vfree(callers[i].units);
		vfree(callers[i].items);
	}
	kfree(callers);
}

static int __init ktask_torture_init(void)
{
	unsigned int n = clamp(threads, 1u, (unsigned int)KTT_MAX_THREADS), i;
	struct ktt_caller *callers = kcalloc(n, sizeof(*callers), GFP_KERNEL);
	struct task_struct *t;

	if (!callers)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		callers[i].units = vmalloc(KTT_UNITS);
		callers[i].items = vmalloc(array_size(KTT_UNITS,
						      sizeof(struct ktt_item)));
		if (!callers[i].units || !callers[i].items) {
			ktt_free(callers, n);
			return -ENOMEM;
		}
		for (size_t u = 0; u < KTT_UNITS; u++)
			callers[i].items[u].rank = u;
		init_completion(&callers[i].done);
	}
	pr_info("KTAP version 1\n");
	pr_info("1..%u\n", n);
	for (i = 0; i < n; i++) {
		t = kthread_run(ktt_thread, &callers[i], "ktt_caller%u", i);
		if (IS_ERR(t)) {
			callers[i].mismatches = 1;
			snprintf(callers[i].why, sizeof(callers[i].why),
				 "kthread_run failed");
			complete(&callers[i].done);
		}
	}
	for (i = 0; i < n; i++) {
		struct ktt_caller *c = &callers[i];

		wait_for_completion(&c->done);
		pr_info("# caller %u: %lu tasks, %lu failed on purpose, %lu "
			"mismatches%s%s\n", i, c->tasks, c->failed,
			c->mismatches, c->why[0] ? ": " : "", c->why);
		pr_info("%s %u torture_caller_%u\n",
			c->mismatches ? "not ok" : "ok", i + 1, i);
	}
	ktt_free(callers, n);
	return 0;
}

static void __exit ktask_torture_exit(void)
{
}

module_init(ktask_torture_init);
module_exit(ktask_torture_exit);

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("ktask torture: random tasks against a serial reference, in KTAP");
