// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ktask_test.c - the ktask selftests, run in the kernel when the module
 * loads, reported in KTAP on the console.
 *
 * The scenarios are those of the userland unit tests: ranges covered
 * exactly once, tasks too small to split, an iterator over a linked list,
 * errors, undo of exactly the completed ranges, bad arguments, parts on
 * several NUMA nodes (each helper chunk on its part's node, also after the
 * helper moved to another part), nested and concurrent calls, where
 * helpers run (a kernel thread's within the workqueues' unbound CPUs; a
 * user process's as its own threads, where ktask can make them), a
 * real-time caller's class passed on, and, opt-in, a lockdep report for a
 * thread function that takes the caller's lock.
 * They pass with any max_threads, which the harness passes on.  The Debian
 * kernel has no KUnit, so the module prints the KTAP lines itself.
 *
 * A task's units are bytes of a counter array: a thread function adds one
 * to each unit of its chunk, an undo function takes it back.  Every check
 * then reads the array.
 */
#include <linux/completion.h>
#include <linux/debug_locks.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <uapi/linux/sched/types.h>
#include <linux/string.h>
#include <linux/topology.h>
#include <linux/version.h>
#include <linux/vmalloc.h>

#include "ktask.h"

#define KT_UNITS 100003

/*
 * ktask.ko's max_threads, which the harness passes on: the tests expect
 * helpers only where the limit allows more than one thread.
 */
static unsigned int max_threads;
module_param(max_threads, uint, 0444);
MODULE_PARM_DESC(max_threads, "ktask.ko's max_threads parameter (0: default)");

static char *wq_cpumask;
module_param(wq_cpumask, charp, 0444);
MODULE_PARM_DESC(wq_cpumask,
		 "The workqueues' unbound CPUs as /sys/devices/virtual/workqueue/"
		 "cpumask shows them (hex): helpers of kernel threads must run "
		 "there (built-in ktask only; default: every CPU)");

static bool lockdep_splat;
module_param(lockdep_splat, bool, 0444);
MODULE_PARM_DESC(lockdep_splat,
		 "Also run lockdep_caller_lock, which makes lockdep report a "
		 "circular dependency on purpose (and turns lockdep off)");

static bool bench_prio;
module_param(bench_prio, bool, 0444);
MODULE_PARM_DESC(bench_prio,
		 "Instead of the tests: the latency of an iterator task next to "
		 "a CPU hog on every CPU (prints figures, judges nothing)");

/* Whether tasks may have helpers at all. */
static bool kt_parallel(void)
{
	return max_threads != 1;
}

/* Fails the calling test, saying what was expected, where. */
#define KT_EXPECT(cond)							\
	do {								\
		if (!(cond)) {						\
			pr_info("# %s:%d: expected %s\n", __func__,	\
				__LINE__, #cond);			\
			return false;					\
		}							\
	} while (0)

/* What one test's thread, undo and iterator functions share. */
struct kt_state {
	u8 *units;			/* counters, or NULL for list tasks */
	size_t nr_units;
	atomic_t calls;			/* thread function calls */
	atomic_t helper_calls;		/* ... not from the caller */
	atomic_t undo_calls;
	atomic_t bad_undo;		/* undo of a unit not completed */
	atomic_t in_iter;		/* iterators running now */
	atomic_t iter_overlap;		/* times two ran at once */
	struct task_struct *caller;
	void *last_undo_end;		/* undo runs in the caller only */
	bool undo_order_ok;
	void *fail_a, *fail_b;		/* units whose chunks fail */
	int err_a, err_b;
	unsigned int delay_us;		/* slow chunks, so helpers join */
	bool wait_helper;		/* the caller's first chunk waits (2 s
					 * at most) until a helper ran one */
	void *part_end[2];		/* NUMA test: where parts end */
	int part_nid[2];
	atomic_t local_chunks[2];	/* chunks run on their part's node */
	atomic_t part_chunks[2];
};

static void kt_state_init(struct kt_state *s, u8 *units, size_t nr)
{
	memset(s, 0, sizeof(*s));
	s->units = units;
	s->nr_units = nr;
	s->caller = current;
	s->undo_order_ok = true;
	if (units)
		memset(units, 0, nr);
}

static void kt_count_call(struct kt_state *s)
{
	int i;

	atomic_inc(&s->calls);
	if (current != s->caller)
		atomic_inc(&s->helper_calls);
	else if (READ_ONCE(s->wait_helper)) {
		for (i = 0; i < 2000 && !atomic_read(&s->helper_calls); i++)
			msleep(1);
		WRITE_ONCE(s->wait_helper, false);
	}
	if (s->delay_us)
		usleep_range(s->delay_us, s->delay_us + 50);
}

/* Whether the chunk [start, end) holds a failing unit; its error if so. */
static int kt_chunk_error(struct kt_state *s, void *start, void *end)
{
	if (s->fail_a && s->fail_a >= start && s->fail_a < end)
		return s->err_a;
	if (s->fail_b && s->fail_b >= start && s->fail_b < end)
		return s->err_b;
	return KTASK_RETURN_SUCCESS;
}

static int kt_range_func(void *start_, void *end_, void *s_)
{
	u8 *start = start_;
	u8 *end = end_;
	struct kt_state *s = s_;
	int err = kt_chunk_error(s, start, end);
	u8 *p;

	kt_count_call(s);
	if (err)
		return err;
	for (p = start; p < end; p++)
		(*p)++;
	return KTASK_RETURN_SUCCESS;
}

static void kt_range_undo(void *start_, void *end_, void *s_)
{
	u8 *start = start_;
	u8 *end = end_;
	struct kt_state *s = s_;
	u8 *p;

	atomic_inc(&s->undo_calls);
	if (current != s->caller || (void *)start < s->last_undo_end)
		s->undo_order_ok = false;
	s->last_undo_end = end;
	for (p = start; p < end; p++) {
		if (*p != 1)
			atomic_inc(&s->bad_undo);
		*p = 0;
	}
}

/* Counts the units whose counter is not @want. */
static size_t kt_units_not(const struct kt_state *s, u8 want)
{
	size_t i, n = 0;

	for (i = 0; i < s->nr_units; i++)
		n += s->units[i] != want;
	return n;
}

static u8 *kt_units;

static bool test_range_each_unit_once(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 64);
	int i;

	for (i = 0; i < 20; i++) {
		kt_state_init(&s, kt_units, KT_UNITS - i * 997);
		KT_EXPECT(ktask_run(kt_units, s.nr_units, &ctl) == 0);
		KT_EXPECT(kt_units_not(&s, 1) == 0);
		KT_EXPECT(kt_parallel() ? atomic_read(&s.calls) > 1 :
					  atomic_read(&s.calls) == 1);
	}
	return true;
}

static bool test_helpers_join(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 16);

	kt_state_init(&s, kt_units, 4096);
	s.delay_us = 500;
	s.wait_helper = kt_parallel();
	KT_EXPECT(ktask_run(kt_units, s.nr_units, &ctl) == 0);
	KT_EXPECT(kt_units_not(&s, 1) == 0);
	pr_info("# %d of %d chunks ran in helpers\n",
		atomic_read(&s.helper_calls), atomic_read(&s.calls));
	if (kt_parallel())
		KT_EXPECT(atomic_read(&s.helper_calls) > 0);
	else
		KT_EXPECT(atomic_read(&s.helper_calls) == 0);
	return true;
}

static bool test_size_zero(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 1);

	kt_state_init(&s, kt_units, 16);
	KT_EXPECT(ktask_run(kt_units, 0, &ctl) == 0);
	KT_EXPECT(atomic_read(&s.calls) == 0);
	return true;
}

static bool test_small_task_inline(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 1000);

	kt_state_init(&s, kt_units, 999);
	KT_EXPECT(ktask_run(kt_units, s.nr_units, &ctl) == 0);
	KT_EXPECT(atomic_read(&s.calls) == 1);
	KT_EXPECT(atomic_read(&s.helper_calls) == 0);
	KT_EXPECT(kt_units_not(&s, 1) == 0);
	return true;
}

static bool test_max_threads_one(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 1);

	ktask_ctl_set_max_threads(&ctl, 1);
	kt_state_init(&s, kt_units, KT_UNITS);
	KT_EXPECT(ktask_run(kt_units, s.nr_units, &ctl) == 0);
	KT_EXPECT(atomic_read(&s.calls) == 1);
	KT_EXPECT(kt_units_not(&s, 1) == 0);
	return true;
}

static void *kt_same_iter(void *pos, size_t size)
{
	return pos;
}

static bool test_bad_arguments(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 1);
	struct ktask_ctl no_func = KTASK_CTL_INITIALIZER(NULL, &s, 1);
	struct ktask_ctl no_chunk = KTASK_CTL_INITIALIZER(kt_range_func, &s, 0);
	struct ktask_node bad_nid = { kt_units, 10, nr_node_ids + 5 };
	struct ktask_node neg_nid = { kt_units, 10, -5 };
	struct ktask_node big[2] = {
		{ kt_units, SIZE_MAX, NUMA_NO_NODE },
		{ kt_units, 2, NUMA_NO_NODE },
	};

	kt_state_init(&s, kt_units, 16);
	KT_EXPECT(ktask_run(kt_units, 10, NULL) == -EINVAL);
	KT_EXPECT(ktask_run(kt_units, 10, &no_func) == -EINVAL);
	KT_EXPECT(ktask_run(kt_units, 10, &no_chunk) == -EINVAL);
	KT_EXPECT(ktask_run((void *)(ULONG_MAX - 10), 100, &ctl) == -EINVAL);
	KT_EXPECT(ktask_run_numa(NULL, 1, &ctl) == -EINVAL);
	KT_EXPECT(ktask_run_numa(&bad_nid, 1, &ctl) == -EINVAL);
	KT_EXPECT(ktask_run_numa(&neg_nid, 1, &ctl) == -EINVAL);
	/* Sizes whose sum overflows, with an iterator that is not a range. */
	ktask_ctl_set_iter_func(&ctl, kt_same_iter);
	KT_EXPECT(ktask_run_numa(big, 2, &ctl) == -EINVAL);
	KT_EXPECT(atomic_read(&s.calls) == 0);
	KT_EXPECT(ktask_run_numa(NULL, 0, &ctl) == 0);
	return true;
}

static bool test_error_returned(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 64);

	kt_state_init(&s, kt_units, KT_UNITS);
	s.fail_a = kt_units + KT_UNITS / 2;
	s.err_a = -ENOSPC;
	KT_EXPECT(ktask_run(kt_units, s.nr_units, &ctl) == -ENOSPC);
	/* A positive, client-specific code passes through unchanged too. */
	kt_state_init(&s, kt_units, KT_UNITS);
	s.fail_a = kt_units;
	s.err_a = 42;
	KT_EXPECT(ktask_run(kt_units, s.nr_units, &ctl) == 42);
	return true;
}

/* One failing run with undo; checks that exactly what completed is undone. */
static bool kt_check_undo(struct kt_state *s, int ret)
{
	KT_EXPECT(ret == s->err_a || (s->fail_b && ret == s->err_b));
	KT_EXPECT(atomic_read(&s->bad_undo) == 0);
	KT_EXPECT(kt_units_not(s, 0) == 0);
	KT_EXPECT(s->undo_order_ok);
	return true;
}

static bool test_undo_completed_ranges(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 128);
	int i, ret;

	ktask_ctl_set_undo_func(&ctl, kt_range_undo);
	for (i = 0; i < 30; i++) {
		kt_state_init(&s, kt_units, KT_UNITS);
		s.fail_a = kt_units + (i == 0 ? 0 : i == 1 ? KT_UNITS - 1 :
				       get_random_u32() % KT_UNITS);
		s.err_a = -EIO;
		if (i >= 15) {
			s.fail_b = kt_units + get_random_u32() % KT_UNITS;
			s.err_b = -ENOMEM;
		}
		ret = ktask_run(kt_units, s.nr_units, &ctl);
		if (!kt_check_undo(&s, ret))
			return false;
	}
	return true;
}

static bool test_undo_inline(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, KT_UNITS);
	struct ktask_node nodes[3] = {
		{ kt_units, 100, NUMA_NO_NODE },
		{ kt_units + 100, 100, NUMA_NO_NODE },
		{ kt_units + 200, 100, NUMA_NO_NODE },
	};

	/* One thread: each part is one chunk; parts 0 and 1 are undone. */
	ktask_ctl_set_undo_func(&ctl, kt_range_undo);
	kt_state_init(&s, kt_units, 300);
	s.fail_a = kt_units + 250;
	s.err_a = -EIO;
	KT_EXPECT(ktask_run_numa(nodes, 3, &ctl) == -EIO);
	KT_EXPECT(atomic_read(&s.undo_calls) == 2);
	return kt_check_undo(&s, -EIO);
}

/* A linked list whose order differs from the array it lives in. */
struct kt_item {
	struct kt_item *next;
	u8 hits;
};

#define KT_ITEMS 5000

static struct kt_item *kt_items;

static struct kt_item *kt_list_build(void)
{
	unsigned int i, step = 2003;	/* coprime with KT_ITEMS */

	for (i = 0; i < KT_ITEMS; i++) {
		kt_items[(i * step) % KT_ITEMS].next =
			i + 1 < KT_ITEMS ?
			&kt_items[((i + 1) * step) % KT_ITEMS] : NULL;
		kt_items[i].hits = 0;
	}
	return &kt_items[0];
}

static struct kt_state *kt_list_state;

static void *kt_list_iter(void *pos_, size_t size)
{
	struct kt_item *pos = pos_;
	struct kt_state *s = kt_list_state;

	if (atomic_inc_return(&s->in_iter) > 1)
		atomic_inc(&s->iter_overlap);
	while (size--)
		pos = pos->next;
	atomic_dec(&s->in_iter);
	return pos;
}

static int kt_list_func(void *start_, void *end_, void *s_)
{
	struct kt_item *start = start_;
	struct kt_item *end = end_;
	struct kt_state *s = s_;
	struct kt_item *it;
	int err = KTASK_RETURN_SUCCESS;

	kt_count_call(s);
	for (it = start; it != end; it = it->next)
		if ((void *)it == s->fail_a)
			err = s->err_a;
	if (err)
		return err;
	for (it = start; it != end; it = it->next)
		it->hits++;
	return KTASK_RETURN_SUCCESS;
}

static void kt_list_undo(void *start_, void *end_, void *s_)
{
	struct kt_item *start = start_;
	struct kt_item *end = end_;
	struct kt_state *s = s_;
	struct kt_item *it;

	atomic_inc(&s->undo_calls);
	if (current != s->caller)
		s->undo_order_ok = false;
	for (it = start; it != end; it = it->next) {
		if (it->hits != 1)
			atomic_inc(&s->bad_undo);
		it->hits = 0;
	}
}

static size_t kt_items_not(u8 want)
{
	size_t i, n = 0;

	for (i = 0; i < KT_ITEMS; i++)
		n += kt_items[i].hits != want;
	return n;
}

static bool test_list_iterator(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_list_func, &s, 16);
	struct kt_item *head;

	ktask_ctl_set_iter_func(&ctl, kt_list_iter);
	kt_state_init(&s, NULL, 0);
	kt_list_state = &s;
	head = kt_list_build();
	KT_EXPECT(ktask_run(head, KT_ITEMS, &ctl) == 0);
	KT_EXPECT(kt_items_not(1) == 0);
	KT_EXPECT(atomic_read(&s.iter_overlap) == 0);
	KT_EXPECT(kt_parallel() ? atomic_read(&s.calls) > 1 :
				  atomic_read(&s.calls) == 1);
	return true;
}

static bool test_list_undo(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_list_func, &s, 16);
	struct kt_item *head;
	int i;

	ktask_ctl_set_iter_func(&ctl, kt_list_iter);
	ktask_ctl_set_undo_func(&ctl, kt_list_undo);
	for (i = 0; i < 10; i++) {
		kt_state_init(&s, NULL, 0);
		kt_list_state = &s;
		head = kt_list_build();
		s.fail_a = &kt_items[get_random_u32() % KT_ITEMS];
		s.err_a = -EFAULT;
		KT_EXPECT(ktask_run(head, KT_ITEMS, &ctl) == -EFAULT);
		KT_EXPECT(atomic_read(&s.bad_undo) == 0);
		KT_EXPECT(kt_items_not(0) == 0);
		KT_EXPECT(s.undo_order_ok);
	}
	return true;
}

static int kt_numa_func(void *start_, void *end_, void *s_)
{
	u8 *start = start_;
	u8 *end = end_;
	struct kt_state *s = s_;
	int part = (void *)start >= s->part_end[0];

	if (current != s->caller) {
		atomic_inc(&s->part_chunks[part]);
		if (cpu_to_node(raw_smp_processor_id()) == s->part_nid[part])
			atomic_inc(&s->local_chunks[part]);
	}
	return kt_range_func(start, end, s);
}

/* The first two online nodes, or false if there are fewer. */
static bool kt_two_nodes(int nid[2])
{
	nid[0] = first_online_node;
	nid[1] = next_online_node(nid[0]);
	return nid[1] < MAX_NUMNODES;
}

/* Every helper chunk of both parts ran on its part's node. */
static bool test_numa_nodes(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_numa_func, &s, 8);
	struct ktask_node nodes[2];
	int i;

	kt_state_init(&s, kt_units, 2048);
	kt_two_nodes(s.part_nid);
	s.part_end[0] = kt_units + 1024;
	s.delay_us = 300;
	s.wait_helper = kt_parallel();
	for (i = 0; i < 2; i++) {
		nodes[i].kn_start = kt_units + i * 1024;
		nodes[i].kn_task_size = 1024;
		nodes[i].kn_nid = s.part_nid[i];
	}
	KT_EXPECT(ktask_run_numa(nodes, 2, &ctl) == 0);
	KT_EXPECT(kt_units_not(&s, 1) == 0);
	for (i = 0; i < 2; i++) {
		pr_info("# part on node %d: %d of %d helper chunks ran there\n",
			s.part_nid[i], atomic_read(&s.local_chunks[i]),
			atomic_read(&s.part_chunks[i]));
		KT_EXPECT(atomic_read(&s.local_chunks[i]) ==
			  atomic_read(&s.part_chunks[i]));
	}
	if (kt_parallel())
		KT_EXPECT(atomic_read(&s.part_chunks[0]) +
			  atomic_read(&s.part_chunks[1]) > 0);
	return true;
}

/*
 * Uneven parts, one per online node: one chunk on each node but the last,
 * a big part on the last, and the caller pinned to the last node.  The
 * helpers of the small parts finish first and move on to the big part;
 * every helper chunk must run on its part's node, after a move as on
 * entry.  Threads that start on the big part wait in their first chunk
 * (2 s at most) for a helper to move there, so that one surely does.
 */
#define KT_MOVE_PARTS 8
#define KT_MOVE_SMALL 64
#define KT_MOVE_THREADS 32

struct kt_move {
	struct ktask_node parts[KT_MOVE_PARTS];
	int nr;
	struct task_struct *caller;
	spinlock_t lock;
	struct {
		struct task_struct *thread;
		int part;
	} last[KT_MOVE_THREADS];	/* each thread's previous part */
	atomic_t helper_chunks, off_node, moved;
	int bad_cpu, bad_part;
	bool gave_up;
	struct completion done;
	bool ok;
};

/* The part of @thread's previous chunk (-1: none), now set to @part. */
static int kt_move_last(struct kt_move *m, int part)
{
	int i, prev = -1;

	spin_lock(&m->lock);
	for (i = 0; i < KT_MOVE_THREADS; i++) {
		if (m->last[i].thread == current || !m->last[i].thread) {
			prev = m->last[i].thread ? m->last[i].part : -1;
			m->last[i].thread = current;
			m->last[i].part = part;
			break;
		}
	}
	spin_unlock(&m->lock);
	return prev;
}

static int kt_move_func(void *start_, void *end, void *m_)
{
	u8 *start = start_;
	struct kt_move *m = m_;
	int part = 0, cpu = raw_smp_processor_id(), prev, i;

	while (part + 1 < m->nr && (void *)start >=
	       m->parts[part].kn_start + m->parts[part].kn_task_size)
		part++;
	prev = kt_move_last(m, part);
	if (current != m->caller) {
		atomic_inc(&m->helper_chunks);
		if (cpu_to_node(cpu) != m->parts[part].kn_nid) {
			atomic_inc(&m->off_node);
			m->bad_cpu = cpu;
			m->bad_part = part;
		}
		if (prev >= 0 && prev != part)
			atomic_inc(&m->moved);
	}
	if (part == m->nr - 1 && prev < 0 && kt_parallel() &&
	    !READ_ONCE(m->gave_up)) {
		for (i = 0; i < 2000 && !atomic_read(&m->moved); i++)
			msleep(1);
		if (!atomic_read(&m->moved))
			WRITE_ONCE(m->gave_up, true);
	}
	usleep_range(200, 300);
	return KTASK_RETURN_SUCCESS;
}

static int kt_move_thread(void *arg)
{
	struct kt_move *m = arg;
	DEFINE_KTASK_CTL(ctl, kt_move_func, m, KT_MOVE_SMALL);

	m->ok = ktask_run_numa(m->parts, m->nr, &ctl) == 0;
	complete(&m->done);
	return 0;
}

static bool test_numa_placement_after_move(void)
{
	struct kt_move *m = kzalloc(sizeof(*m), GFP_KERNEL);
	struct task_struct *t;
	size_t pos = 0;
	int nid, last = NUMA_NO_NODE;
	bool ok = false;

	KT_EXPECT(m);
	spin_lock_init(&m->lock);
	init_completion(&m->done);
	for_each_online_node(nid) {
		if (!nr_cpus_node(nid) || m->nr == KT_MOVE_PARTS)
			continue;
		m->parts[m->nr].kn_nid = nid;
		last = nid;
		m->nr++;
	}
	for (nid = 0; nid < m->nr; nid++) {
		size_t size = nid < m->nr - 1 ? KT_MOVE_SMALL :
						KT_MOVE_SMALL * 16;

		m->parts[nid].kn_start = kt_units + pos;
		m->parts[nid].kn_task_size = size;
		pos += size;
	}
	t = kthread_create(kt_move_thread, m, "kt_move");
	if (IS_ERR(t))
		goto out;
	m->caller = t;
	set_cpus_allowed_ptr(t, cpumask_of_node(last));
	wake_up_process(t);
	wait_for_completion(&m->done);

	pr_info("# %d parts, caller on node %d: %d helper chunks, %d after a "
		"move, %d off their part's node\n", m->nr, last,
		atomic_read(&m->helper_chunks), atomic_read(&m->moved),
		atomic_read(&m->off_node));
	if (atomic_read(&m->off_node))
		pr_info("# e.g. a chunk of part %d (node %d) on CPU %d (node "
			"%d)\n", m->bad_part, m->parts[m->bad_part].kn_nid,
			m->bad_cpu, cpu_to_node(m->bad_cpu));
	ok = m->ok && !atomic_read(&m->off_node) &&
	     (kt_parallel() ? atomic_read(&m->moved) > 0 :
			      !atomic_read(&m->helper_chunks));
out:
	kfree(m);
	KT_EXPECT(ok);
	return true;
}

static bool test_numa_undo_order(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 16);
	struct ktask_node nodes[3];
	int nid[2], i, ret;

	kt_two_nodes(nid);
	ktask_ctl_set_undo_func(&ctl, kt_range_undo);
	for (i = 0; i < 3; i++) {
		nodes[i].kn_start = kt_units + i * 3000;
		nodes[i].kn_task_size = 3000;
		nodes[i].kn_nid = i < 2 ? nid[i] : NUMA_NO_NODE;
	}
	for (i = 0; i < 10; i++) {
		kt_state_init(&s, kt_units, 9000);
		s.fail_a = kt_units + 3000 + get_random_u32() % 3000;
		s.err_a = -EIO;
		ret = ktask_run_numa(nodes, 3, &ctl);
		if (!kt_check_undo(&s, ret))
			return false;
	}
	return true;
}

static int kt_nested_func(void *start_, void *end_, void *s_)
{
	u8 *start = start_;
	u8 *end = end_;
	struct kt_state *s = s_;
	DEFINE_KTASK_CTL(inner, kt_range_func, s, 32);

	return ktask_run(start, end - start, &inner);
}

static bool test_nested_run(void)
{
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_nested_func, &s, 2048);

	kt_state_init(&s, kt_units, 32768);
	KT_EXPECT(ktask_run(kt_units, s.nr_units, &ctl) == 0);
	KT_EXPECT(kt_units_not(&s, 1) == 0);
	return true;
}

#define KT_CALLERS 4

struct kt_caller {
	struct completion done;
	u8 *units;
	bool ok;
};

static int kt_caller_thread(void *arg)
{
	struct kt_caller *c = arg;
	struct kt_state s;
	DEFINE_KTASK_CTL(ctl, kt_range_func, &s, 256);
	int i;

	c->ok = true;
	for (i = 0; i < 20 && c->ok; i++) {
		kt_state_init(&s, c->units, 20000);
		if (ktask_run(c->units, s.nr_units, &ctl) ||
		    kt_units_not(&s, 1))
			c->ok = false;
	}
	complete(&c->done);
	return 0;
}

static bool test_concurrent_callers(void)
{
	static struct kt_caller callers[KT_CALLERS];
	struct task_struct *t;
	int i, started;
	bool ok = true;

	for (started = 0; started < KT_CALLERS; started++) {
		init_completion(&callers[started].done);
		callers[started].units = kt_units + started * 20000;
		t = kthread_run(kt_caller_thread, &callers[started],
				"kt_caller%d", started);
		if (IS_ERR(t)) {
			pr_info("# kthread_run failed: %ld\n", PTR_ERR(t));
			ok = false;
			break;
		}
	}
	/* Those that started use kt_units: wait for them in any case. */
	for (i = 0; i < started; i++) {
		wait_for_completion(&callers[i].done);
		ok &= callers[i].ok;
	}
	KT_EXPECT(ok);
	return true;
}

/*
 * The boost through kt_lock: a helper that runs the iterator of a list task
 * (holding kt_lock, at MAX_NICE) waits there, 2 s at most, until it runs
 * at a better nice value.  The caller, whose first chunk waits until the
 * helper is in the iterator, then sleeps on kt_lock for its next chunk and
 * must raise the helper first: it has not run out of chunks, so the boost
 * when it starts to wait cannot be what does it.  (Fails by design in a
 * ktask.ko built with KTASK_NO_LOCK_BOOST=1.)
 */
struct kt_boost {
	struct task_struct *caller;
	atomic_t in_iter;		/* a helper waits in the iterator */
	bool boosted;			/* it saw a better nice value */
	bool waited;			/* the wait happened, once */
};

static struct kt_boost *kt_boost_state;

static void *kt_boost_iter(void *pos_, size_t size)
{
	struct kt_item *pos = pos_;
	struct kt_boost *b = kt_boost_state;
	int i;

	if (current != b->caller && !b->waited) {
		b->waited = true;
		atomic_set(&b->in_iter, 1);
		for (i = 0; i < 2000 && task_nice(current) >= MAX_NICE; i++)
			msleep(1);
		b->boosted = task_nice(current) < MAX_NICE;
	}
	while (size--)
		pos = pos->next;
	return pos;
}

static int kt_boost_func(void *start, void *end, void *b_)
{
	struct kt_boost *b = b_;
	int i;

	if (current == b->caller)
		for (i = 0; i < 2000 && !atomic_read(&b->in_iter); i++)
			msleep(1);
	return KTASK_RETURN_SUCCESS;
}

static bool test_boost_through_lock(void)
{
	struct kt_boost b = { .caller = current };
	DEFINE_KTASK_CTL(ctl, kt_boost_func, &b, 16);

	KT_EXPECT(task_nice(current) < MAX_NICE);
	ktask_ctl_set_iter_func(&ctl, kt_boost_iter);
	kt_boost_state = &b;
	KT_EXPECT(ktask_run(kt_list_build(), KT_ITEMS, &ctl) == 0);
	pr_info("# a helper %s in the iterator, %s\n",
		b.waited ? "waited" : "never waited",
		b.boosted ? "boosted" : "not boosted");
	if (kt_parallel())
		KT_EXPECT(b.waited && b.boosted);
	else
		KT_EXPECT(!b.waited);
	return true;
}

/*
 * The boost through a nested call: the outer task's helper runs a chunk
 * that calls ktask_run_numa() (NUMA_NO_NODE, so the inner helper may use
 * another node), and the inner helper waits, 2 s at most, for a better
 * nice value.  The outer helper is at MAX_NICE, so its own boost does
 * nothing: only the outer caller's, passed on when it starts to wait, can
 * raise the inner helper.
 */
struct kt_nest {
	struct task_struct *caller;	/* the outer caller */
	struct task_struct *inner_caller;
	atomic_t inner_helpers;
	atomic_t inner_caller_done;	/* its own inner chunks are done */
	bool boosted;
};

static int kt_nest_inner(void *start, void *end, void *n_)
{
	struct kt_nest *n = n_;
	int i;

	if (current != n->inner_caller) {
		atomic_inc(&n->inner_helpers);
		for (i = 0; i < 2000 && task_nice(current) >= MAX_NICE; i++)
			msleep(1);
		if (task_nice(current) < MAX_NICE)
			n->boosted = true;
	} else {
		/* Leave the other chunk to an inner helper. */
		for (i = 0; i < 2000 && !atomic_read(&n->inner_helpers); i++)
			msleep(1);
		atomic_set(&n->inner_caller_done, 1);
	}
	return KTASK_RETURN_SUCCESS;
}

static int kt_nest_outer(void *start, void *end, void *n_)
{
	struct kt_nest *n = n_;
	DEFINE_KTASK_CTL(inner, kt_nest_inner, n, 1);
	struct ktask_node part = { start, 2, NUMA_NO_NODE };

	int i;

	if (current == n->caller) {
		/*
		 * Leave the other chunk to the outer helper, and let it start
		 * waiting for its inner helper (boosting it to its own
		 * MAX_NICE, which does nothing) before this caller waits.
		 */
		for (i = 0; i < 2000 && !atomic_read(&n->inner_caller_done); i++)
			msleep(1);
		msleep(20);
		return KTASK_RETURN_SUCCESS;
	}
	WRITE_ONCE(n->inner_caller, current);
	return ktask_run_numa(&part, 1, &inner);
}

static bool test_boost_nested(void)
{
	struct kt_nest n = { .caller = current };
	DEFINE_KTASK_CTL(ctl, kt_nest_outer, &n, 1);
	struct ktask_node part = { kt_units, 2, NUMA_NO_NODE };

	KT_EXPECT(task_nice(current) < MAX_NICE);
	if (!kt_parallel())
		return true;	/* no helper, so no nesting to boost through */
	ktask_ctl_set_max_threads(&ctl, 2);
	KT_EXPECT(ktask_run_numa(&part, 1, &ctl) == 0);
	pr_info("# %d inner helper chunks, %s\n",
		atomic_read(&n.inner_helpers),
		n.boosted ? "boosted" : "not boosted");
	/* With 4 CPUs the limits leave room for an outer and an inner helper. */
	if (num_online_cpus() >= 4)
		KT_EXPECT(atomic_read(&n.inner_helpers) > 0);
	if (atomic_read(&n.inner_helpers))
		KT_EXPECT(n.boosted);
	return true;
}

/*
 * Opt-in (lockdep_splat=1), on a kernel with lockdep: a thread function
 * that takes a mutex the caller holds.  First the helpers take it with no
 * one holding it (lockdep learns "the helpers take it"), then the caller
 * holds it while it runs a task of the same ktask_ctl definition, which
 * closes the cycle: lockdep must report it (and then turns itself off,
 * hence opt-in), where a real run could deadlock.  Nothing waits on the
 * mutex here, so the test itself cannot hang.
 */
static DEFINE_MUTEX(kt_dep_mutex);

static int kt_dep_func(void *start_, void *end_, void *s_)
{
	u8 *start = start_;
	u8 *end = end_;
	struct kt_state *s = s_;
	if (s->fail_a) {	/* phase 1: take it */
		mutex_lock(&kt_dep_mutex);
		mutex_unlock(&kt_dep_mutex);
	}
	return kt_range_func(start, end, s);
}

static int kt_dep_run(struct kt_state *s)
{
	DEFINE_KTASK_CTL(ctl, kt_dep_func, s, 16);

	return ktask_run(kt_units, s->nr_units, &ctl);
}

static bool test_lockdep_caller_lock(void)
{
	struct kt_state s;
	int ret;

	kt_state_init(&s, kt_units, 4096);
	s.delay_us = 300;
	s.fail_a = kt_units + KT_UNITS;	/* a marker, never in a chunk */
	KT_EXPECT(kt_dep_run(&s) == 0);
	KT_EXPECT(atomic_read(&s.helper_calls) > 0);
	KT_EXPECT(debug_locks);

	kt_state_init(&s, kt_units, 4096);
	mutex_lock(&kt_dep_mutex);
	ret = kt_dep_run(&s);
	mutex_unlock(&kt_dep_mutex);
	KT_EXPECT(ret == 0);
	pr_info("# lockdep %s\n", debug_locks ? "reported nothing" :
		"reported the cycle (and is off now)");
	KT_EXPECT(!debug_locks);
	return true;
}

/*
 * Where helpers run and what they are.  A built-in ktask runs the helpers
 * of a kernel thread on per-node workqueues that keep within the
 * workqueues' unbound CPUs (workqueue.unbound_cpus=, isolcpus, ...), and
 * the helpers of a user process's thread as threads of that process; a
 * real-time caller's helpers run at its policy and priority.  kt_where
 * records, for every chunk a helper ran, its CPU and what it was.
 */
struct kt_where {
	struct task_struct *caller;
	cpumask_var_t cpus;		/* CPUs helper chunks ran on */
	atomic_t helper_chunks;
	atomic_t wq_chunks;		/* ... by a workqueue worker */
	atomic_t own_chunks;		/* ... by a thread of the caller's process */
	atomic_t rt_chunks;		/* ... at the caller's policy and priority */
	bool wait_helper;
	struct completion done;
	int err;
};

static int kt_where_func(void *start, void *end, void *arg)
{
	struct kt_where *w = arg;
	int i;

	if (current != w->caller) {
		cpumask_set_cpu(raw_smp_processor_id(), w->cpus);
		atomic_inc(&w->helper_chunks);
		if (current->flags & PF_WQ_WORKER)
			atomic_inc(&w->wq_chunks);
		if (same_thread_group(current, w->caller) &&
		    !(current->flags & PF_KTHREAD))
			atomic_inc(&w->own_chunks);
		if (current->policy == w->caller->policy &&
		    current->rt_priority == w->caller->rt_priority)
			atomic_inc(&w->rt_chunks);
	} else if (READ_ONCE(w->wait_helper)) {
		/* Let a helper run one, 2 s at most. */
		for (i = 0; i < 2000 && !atomic_read(&w->helper_chunks); i++)
			msleep(1);
		WRITE_ONCE(w->wait_helper, false);
	}
	usleep_range(100, 150);
	return KTASK_RETURN_SUCCESS;
}

/* A task over a part on each online node with CPUs, on kt_units. */
static int kt_where_run(struct kt_where *w)
{
	struct ktask_node parts[4];
	DEFINE_KTASK_CTL(ctl, kt_where_func, w, 16);
	int nid, nr = 0;

	for_each_online_node(nid) {
		if (!nr_cpus_node(nid) || nr == ARRAY_SIZE(parts))
			continue;
		parts[nr].kn_start = kt_units + nr * 4096;
		parts[nr].kn_task_size = 4096;
		parts[nr].kn_nid = nid;
		nr++;
	}
	w->caller = current;
	/* Once a helper ran, later tasks need not wait for one. */
	w->wait_helper = kt_parallel() && !atomic_read(&w->helper_chunks);
	return ktask_run_numa(parts, nr, &ctl);
}

static int kt_where_thread(void *arg)
{
	struct kt_where *w = arg;
	int i;

	for (i = 0; i < 10 && !w->err; i++)
		w->err = kt_where_run(w);
	complete(&w->done);
	return 0;
}

static struct kt_where *kt_where_alloc(void)
{
	struct kt_where *w = kzalloc(sizeof(*w), GFP_KERNEL);

	if (w && !zalloc_cpumask_var(&w->cpus, GFP_KERNEL)) {
		kfree(w);
		return NULL;
	}
	if (w)
		init_completion(&w->done);
	return w;
}

static void kt_where_free(struct kt_where *w)
{
	free_cpumask_var(w->cpus);
	kfree(w);
}

/* Runs kt_where_thread() in a kthread, which @setup may change first. */
static int kt_where_kthread(struct kt_where *w,
			    void (*setup)(struct task_struct *t))
{
	struct task_struct *t = kthread_create(kt_where_thread, w, "kt_where");

	if (IS_ERR(t))
		return PTR_ERR(t);
	if (setup)
		setup(t);
	wake_up_process(t);
	wait_for_completion(&w->done);
	return 0;
}

/*
 * A kernel thread's helpers run on the workqueues' unbound CPUs (the
 * wq_cpumask parameter) only.  The loadable module moves its kworkers with
 * set_cpus_allowed_ptr() and knows nothing of that mask: it passes only
 * when the mask has every CPU.
 */
static bool test_helpers_in_wq_cpumask(void)
{
	struct kt_where *w = kt_where_alloc();
	cpumask_var_t allowed;
	bool ok;

	KT_EXPECT(w);
	if (!zalloc_cpumask_var(&allowed, GFP_KERNEL)) {
		kt_where_free(w);
		KT_EXPECT(false);
	}
	cpumask_copy(allowed, cpu_possible_mask);
	if (wq_cpumask && cpumask_parse(wq_cpumask, allowed))
		pr_info("# wq_cpumask=%s: not a CPU mask\n", wq_cpumask);
	ok = !kt_where_kthread(w, NULL) && !w->err;
	pr_info("# %d helper chunks (%d by kworkers) on CPUs %*pbl; "
		"workqueue CPUs %*pbl\n", atomic_read(&w->helper_chunks),
		atomic_read(&w->wq_chunks), cpumask_pr_args(w->cpus),
		cpumask_pr_args(allowed));
	ok = ok && cpumask_subset(w->cpus, allowed) &&
	     (!kt_parallel() || atomic_read(&w->helper_chunks) > 0);
	free_cpumask_var(allowed);
	kt_where_free(w);
	KT_EXPECT(ok);
	return true;
}

/*
 * Built in, the helpers of a thread of a user process (insmod, which runs
 * this) are threads of that process, and a kernel thread's are kworkers.
 */
static bool test_helpers_in_caller_process(void)
{
	struct kt_where *user = kt_where_alloc(), *kthr = kt_where_alloc();
	bool ok;
	int i;

	ok = user && kthr;
	for (i = 0; ok && i < 10 && !user->err; i++)
		user->err = kt_where_run(user);
	ok = ok && !user->err && !kt_where_kthread(kthr, NULL) && !kthr->err;
	if (user && kthr)
		pr_info("# user caller: %d helper chunks, %d by its own "
			"threads; kthread caller: %d, %d by kworkers\n",
			atomic_read(&user->helper_chunks),
			atomic_read(&user->own_chunks),
			atomic_read(&kthr->helper_chunks),
			atomic_read(&kthr->wq_chunks));
	ok = ok && atomic_read(&user->own_chunks) ==
		   atomic_read(&user->helper_chunks) &&
	     atomic_read(&kthr->wq_chunks) ==
		   atomic_read(&kthr->helper_chunks) &&
	     (!kt_parallel() || (atomic_read(&user->helper_chunks) > 0 &&
				 atomic_read(&kthr->helper_chunks) > 0));
	if (user)
		kt_where_free(user);
	if (kthr)
		kt_where_free(kthr);
	KT_EXPECT(ok);
	return true;
}

static void kt_set_fifo(struct task_struct *t)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = SCHED_FIFO,
		.sched_priority = 7,
	};

	sched_setattr_nocheck(t, &attr);
}

/*
 * A SCHED_FIFO caller's helpers run every chunk at its policy and
 * priority, in a kernel thread and (built in) in insmod's process; the
 * caller gets its own class back unchanged.
 */
static bool test_helpers_rt_policy(void)
{
	struct kt_where *kthr = kt_where_alloc(), *user = kt_where_alloc();
	struct sched_attr normal = { .size = sizeof(normal),
				     .sched_policy = SCHED_NORMAL };
	int policy = current->policy, nice = task_nice(current);
	bool ok;

	ok = kthr && user && !kt_where_kthread(kthr, kt_set_fifo) && !kthr->err;
	if (ok) {
		kt_set_fifo(current);
		user->err = kt_where_run(user);
		normal.sched_nice = nice;
		sched_setattr_nocheck(current, &normal);
		ok = !user->err && current->policy == policy;
	}
	if (kthr && user)
		pr_info("# SCHED_FIFO 7 callers: kthread %d of %d helper "
			"chunks at its class, user %d of %d\n",
			atomic_read(&kthr->rt_chunks),
			atomic_read(&kthr->helper_chunks),
			atomic_read(&user->rt_chunks),
			atomic_read(&user->helper_chunks));
	ok = ok && atomic_read(&kthr->rt_chunks) ==
		   atomic_read(&kthr->helper_chunks) &&
	     atomic_read(&user->rt_chunks) ==
		   atomic_read(&user->helper_chunks) &&
	     (!kt_parallel() || atomic_read(&kthr->helper_chunks) > 0);
	if (kthr)
		kt_where_free(kthr);
	if (user)
		kt_where_free(user);
	KT_EXPECT(ok);
	return true;
}

struct kt_case {
	const char *name;
	bool (*run)(void);
	bool needs_two_nodes;
	bool lockdep_splat;	/* opt-in, needs lockdep and helpers */
	const char *skip_builtin; /* why it does not apply built in */
	const char *skip_kworkers; /* why not where all helpers are kworkers */
};

/*
 * Whether ktask runs a user caller's helpers as threads of its process:
 * built in, and ktask.ko where it can use vhost tasks (as its
 * kernel/plat_kernel.c decides).
 */
#if IS_BUILTIN(CONFIG_KTASK) || (IS_ENABLED(CONFIG_VHOST_TASK) && \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0))
#define KT_OWN_THREADS true
#else
#define KT_OWN_THREADS false
#endif

static const struct kt_case kt_cases[] = {
	{ "range_each_unit_once", test_range_each_unit_once },
	{ "helpers_join", test_helpers_join },
	{ "size_zero", test_size_zero },
	{ "small_task_inline", test_small_task_inline },
	{ "max_threads_one", test_max_threads_one },
	{ "bad_arguments", test_bad_arguments },
	{ "error_returned", test_error_returned },
	{ "undo_completed_ranges", test_undo_completed_ranges },
	{ "undo_inline", test_undo_inline },
	{ "list_iterator", test_list_iterator },
	{ "list_undo", test_list_undo },
	{ "numa_nodes", test_numa_nodes, true },
	{ "numa_undo_order", test_numa_undo_order, true },
	{ "numa_placement_after_move", test_numa_placement_after_move, true,
	  false, "a kworker helper stays on its node's workqueue" },
	{ "nested_run", test_nested_run },
	{ "concurrent_callers", test_concurrent_callers },
	{ "boost_through_lock", test_boost_through_lock },
	{ "boost_nested", test_boost_nested },
	{ "helpers_in_wq_cpumask", test_helpers_in_wq_cpumask },
	{ "helpers_in_caller_process", test_helpers_in_caller_process, false,
	  false, NULL, "this ktask.ko runs every helper on a kworker" },
	{ "helpers_rt_policy", test_helpers_rt_policy },
	/* Last: it turns lockdep off. */
	{ "lockdep_caller_lock", test_lockdep_caller_lock, false, true },
};

/*
 * bench_prio=1: a caller at nice 0 runs a task over a list whose iterator
 * is slow (it runs under kt_lock), while a nice-0 kthread spins on every
 * CPU.  MAX_NICE helpers that hold kt_lock get little CPU next to the
 * hogs; the figure is the caller's latency, median of the runs.  Run it
 * once with ktask.ko as built and once built with KTASK_NO_LOCK_BOOST=1.
 */
#define KT_BENCH_RUNS 21
#define KT_BENCH_ITEMS 800

static bool kt_hog_stop;

/*
 * CPU work that takes the same instructions whatever the clock: udelay()
 * is unreliable under TCG, whose TSC need not match its calibration.
 */
static noinline void kt_spin(unsigned int n)
{
	volatile unsigned int x = 0;

	while (n--)
		x += n;
}

static int kt_hog(void *arg)
{
	while (!READ_ONCE(kt_hog_stop)) {
		kt_spin(100000);
		cond_resched();
	}
	return 0;
}

static void *kt_slow_iter(void *pos_, size_t size)
{
	struct kt_item *pos = pos_;
	kt_spin(50000);
	while (size--)
		pos = pos->next;
	return pos;
}

static atomic_t kt_slow_calls;

static int kt_slow_func(void *start, void *end, void *arg)
{
	atomic_inc(&kt_slow_calls);
	kt_spin(50000);
	return KTASK_RETURN_SUCCESS;
}

static int kt_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void kt_bench_prio(void)
{
	struct task_struct **hogs;
	u64 ns[2][KT_BENCH_RUNS];
	unsigned int cpu, i, h, n = 0;
	int pass, err = 0;

	hogs = kcalloc(nr_cpu_ids, sizeof(*hogs), GFP_KERNEL);
	if (!hogs)
		return;
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			WRITE_ONCE(kt_hog_stop, false);
			for_each_online_cpu(cpu) {
				hogs[n] = kthread_create(kt_hog, NULL, "kt_hog%u",
							 cpu);
				if (IS_ERR(hogs[n]))
					continue;
				kthread_bind(hogs[n], cpu);
				wake_up_process(hogs[n++]);
			}
		}
		for (i = 0; i < KT_BENCH_RUNS; i++) {
			DEFINE_KTASK_CTL(ctl, kt_slow_func, NULL, 4);
			struct kt_item *head;
			u64 t0;

			ktask_ctl_set_iter_func(&ctl, kt_slow_iter);
			head = kt_list_build();
			t0 = ktime_get_ns();
			err |= ktask_run(head, KT_BENCH_ITEMS, &ctl);
			ns[pass][i] = ktime_get_ns() - t0;
		}
		sort(ns[pass], KT_BENCH_RUNS, sizeof(u64), kt_cmp_u64, NULL);
	}
	WRITE_ONCE(kt_hog_stop, true);
	for (h = 0; h < n; h++)
		kthread_stop(hogs[h]);
	kfree(hogs);
	pr_info("# bench_prio: iterator task of %d items, caller at nice %d, "
		"%d runs: alone median %llu us, max %llu us; next to %u CPU "
		"hogs median %llu us, p90 %llu us, max %llu us; %d chunks, "
		"error %d\n", KT_BENCH_ITEMS, task_nice(current), KT_BENCH_RUNS,
		ns[0][KT_BENCH_RUNS / 2] / 1000,
		ns[0][KT_BENCH_RUNS - 1] / 1000, n,
		ns[1][KT_BENCH_RUNS / 2] / 1000,
		ns[1][KT_BENCH_RUNS * 9 / 10] / 1000,
		ns[1][KT_BENCH_RUNS - 1] / 1000,
		atomic_read(&kt_slow_calls), err);
}

static int __init ktask_test_init(void)
{
	unsigned int i, passed = 0, failed = 0, skipped = 0;
	int nid[2];

	kt_units = vmalloc(KT_UNITS);
	kt_items = vmalloc(array_size(KT_ITEMS, sizeof(*kt_items)));
	if (!kt_units || !kt_items) {
		vfree(kt_units);
		vfree(kt_items);
		return -ENOMEM;
	}

	if (bench_prio) {
		kt_bench_prio();
		goto out;
	}
	pr_info("KTAP version 1\n");
	pr_info("1..%zu\n", ARRAY_SIZE(kt_cases));
	for (i = 0; i < ARRAY_SIZE(kt_cases); i++) {
		const struct kt_case *c = &kt_cases[i];

		const char *skip = NULL;

		if (c->needs_two_nodes && !kt_two_nodes(nid))
			skip = "fewer than two online nodes";
		else if (c->lockdep_splat && !lockdep_splat)
			skip = "opt-in: lockdep_splat=1";
		else if (c->lockdep_splat && !IS_ENABLED(CONFIG_PROVE_LOCKING))
			skip = "no lockdep (CONFIG_PROVE_LOCKING) in this kernel";
		else if (c->lockdep_splat && !kt_parallel())
			skip = "needs helpers (max_threads is 1)";
		else if (IS_BUILTIN(CONFIG_KTASK) && c->skip_builtin)
			skip = c->skip_builtin;
		else if (!KT_OWN_THREADS && c->skip_kworkers)
			skip = c->skip_kworkers;
		if (skip) {
			pr_info("ok %u %s # SKIP %s\n", i + 1, c->name, skip);
			skipped++;
		} else if (c->run()) {
			pr_info("ok %u %s\n", i + 1, c->name);
			passed++;
		} else {
			pr_info("not ok %u %s\n", i + 1, c->name);
			failed++;
		}
	}
	pr_info("# ktask_test: pass:%u fail:%u skip:%u total:%zu\n", passed,
		failed, skipped, ARRAY_SIZE(kt_cases));
out:
	vfree(kt_items);
	vfree(kt_units);
	return 0;
}

static void __exit ktask_test_exit(void)
{
}

module_init(ktask_test_init);
module_exit(ktask_test_exit);

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("ktask selftests, reported in KTAP");
