// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_api.c - one test per rule of the ktask API, in userland.
 *
 * Tests that need two threads to overlap make each chunk wait (with a
 * deadline) until the threads they expect have arrived, so they do not
 * depend on how fast the pool wakes up.  On a one-CPU machine they skip.
 *
 * usage: test_api [group]   groups: all (default), env, idle, nothreads
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <ktask.h>

/* --- A byte-range task that counts how often each unit was done. ------ */

struct counted {
	unsigned char *base;
	size_t size;
	int *done;		/* per unit, atomically incremented */
	int *undone;		/* per unit, by the undo function */
	int chunks;		/* chunks run */
	pid_t undo_tid;		/* the thread undo ran on */
	size_t last_undo_end;	/* to check undo order */
	int undo_calls;
	bool undo_out_of_order;
	bool nodes_adjacent;	/* undo may end where the next node starts */
	struct kt_tids tids;
	size_t fail_unit;	/* the chunk holding this unit fails */
	int fail_err;
	size_t min_chunk_seen, max_chunk_seen;
};

static struct counted *counted_new(size_t size)
{
	struct counted *c = calloc(1, sizeof(*c));

	c->size = size;
	c->base = calloc(size ? size : 1, 1);
	c->done = calloc(size ? size : 1, sizeof(int));
	c->undone = calloc(size ? size : 1, sizeof(int));
	c->fail_unit = SIZE_MAX;
	c->min_chunk_seen = SIZE_MAX;
	return c;
}

static void counted_free(struct counted *c)
{
	free(c->base);
	free(c->done);
	free(c->undone);
	free(c);
}

static void note_chunk_size(struct counted *c, size_t n)
{
	size_t v = __atomic_load_n(&c->min_chunk_seen, __ATOMIC_RELAXED);

	while (n < v && !__atomic_compare_exchange_n(&c->min_chunk_seen, &v, n,
						     false, __ATOMIC_RELAXED,
						     __ATOMIC_RELAXED))
		;
	v = __atomic_load_n(&c->max_chunk_seen, __ATOMIC_RELAXED);
	while (n > v && !__atomic_compare_exchange_n(&c->max_chunk_seen, &v, n,
						     false, __ATOMIC_RELAXED,
						     __ATOMIC_RELAXED))
		;
}

static int counted_chunk(unsigned char *start, unsigned char *end,
			 struct counted *c)
{
	size_t lo = start - c->base, hi = end - c->base;

	__atomic_fetch_add(&c->chunks, 1, __ATOMIC_RELAXED);
	kt_tids_add(&c->tids);
	note_chunk_size(c, hi - lo);
	if (c->fail_unit >= lo && c->fail_unit < hi)
		return c->fail_err;
	for (size_t i = lo; i < hi; i++)
		__atomic_fetch_add(&c->done[i], 1, __ATOMIC_RELAXED);
	return KTASK_RETURN_SUCCESS;
}

static void counted_undo(unsigned char *start, unsigned char *end,
			 struct counted *c)
{
	size_t lo = start - c->base, hi = end - c->base;

	c->undo_tid = kt_gettid();
	/*
	 * Ascending and merged: each range starts past the last one's end
	 * (or at it, for the first range of the next node).
	 */
	if (c->undo_calls && (lo < c->last_undo_end ||
			      (lo == c->last_undo_end && !c->nodes_adjacent)))
		c->undo_out_of_order = true;
	c->last_undo_end = hi;
	c->undo_calls++;
	for (size_t i = lo; i < hi; i++)
		c->undone[i]++;
}

static void assert_each_done(struct counted *c, int want)
{
	for (size_t i = 0; i < c->size; i++)
		if (c->done[i] != want)
			fail_msg("unit %zu done %d times, want %d", i,
				 c->done[i], want);
}

/* After a failure: every completed unit undone once, nothing else. */
static void assert_undo_exact(struct counted *c)
{
	for (size_t i = 0; i < c->size; i++) {
		if (c->done[i] > 1)
			fail_msg("unit %zu done %d times", i, c->done[i]);
		if (c->undone[i] != c->done[i])
			fail_msg("unit %zu done %d undone %d", i, c->done[i],
				 c->undone[i]);
	}
	assert_false(c->undo_out_of_order);
}

static bool need_two_cpus(void)
{
	return kt_usable_cpus() >= 2;
}

#define SKIP_UNLESS_TWO_CPUS()						\
	do {								\
		if (!need_two_cpus()) {					\
			print_message("needs 2 usable CPUs\n");		\
			skip();						\
		}							\
	} while (0)

/* --- Arguments ----------------------------------------------------------- */

static int calls;

static int count_call(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	__atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
	return 0;
}

static void test_invalid_args(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_call, NULL, 1);
	struct ktask_ctl no_func = ctl, no_chunk = ctl;
	struct ktask_node nodes[2] = {
		{ .kn_start = (void *)0x1000, .kn_task_size = 10, .kn_nid = NUMA_NO_NODE },
		{ .kn_start = (void *)0x2000, .kn_task_size = 10, .kn_nid = 0 },
	};
	char buf[16];

	(void)state;
	calls = 0;
	no_func.kc_thread_func = NULL;
	no_chunk.kc_min_chunk_size = 0;

	assert_int_equal(ktask_run(buf, sizeof(buf), NULL), -EINVAL);
	assert_int_equal(ktask_run(buf, sizeof(buf), &no_func), -EINVAL);
	assert_int_equal(ktask_run(buf, sizeof(buf), &no_chunk), -EINVAL);
	assert_int_equal(ktask_run_numa(NULL, 1, &ctl), -EINVAL);
	/* A range that wraps the address space. */
	assert_int_equal(ktask_run((void *)(UINTPTR_MAX - 4), 10, &ctl),
			 -EINVAL);
	/* Bad node ids, before any work runs: node 0 is fine, 1 is not. */
	nodes[1].kn_nid = -2;
	assert_int_equal(ktask_run_numa(nodes, 2, &ctl), -EINVAL);
	nodes[1].kn_nid = 1 << 20;
	assert_int_equal(ktask_run_numa(nodes, 2, &ctl), -EINVAL);
	/* Sizes whose sum overflows. */
	nodes[1].kn_nid = 0;
	nodes[0].kn_start = NULL;
	nodes[0].kn_task_size = SIZE_MAX / 2 + 1;
	nodes[1].kn_start = NULL;
	nodes[1].kn_task_size = SIZE_MAX / 2 + 1;
	assert_int_equal(ktask_run_numa(nodes, 2, &ctl), -EINVAL);
	assert_int_equal(calls, 0);
}

static void test_zero_size(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_call, NULL, 1);
	struct ktask_node nodes[2] = {
		{ .kn_start = NULL, .kn_task_size = 0, .kn_nid = NUMA_NO_NODE },
		{ .kn_start = NULL, .kn_task_size = 0, .kn_nid = NUMA_NO_NODE },
	};

	(void)state;
	calls = 0;
	assert_int_equal(ktask_run(NULL, 0, &ctl), 0);
	assert_int_equal(ktask_run_numa(nodes, 2, &ctl), 0);
	assert_int_equal(ktask_run_numa(NULL, 0, &ctl), 0);
	assert_int_equal(calls, 0);
}

/* --- Threads and chunks -------------------------------------------------- */

static void test_small_task_inline(void **state)
{
	struct counted *c = counted_new(100);
	DEFINE_KTASK_CTL(ctl, counted_chunk, c, 100);
	struct ktask_stats st;

	(void)state;
	assert_int_equal(ktask_run(c->base, c->size, &ctl), 0);
	assert_int_equal(c->chunks, 1);
	assert_int_equal(c->tids.nr, 1);
	assert_int_equal(c->tids.tids[0], kt_gettid());
	assert_int_equal(c->min_chunk_seen, 100);
	ktask_last_stats(&st);
	assert_int_equal(st.ks_threads, 1);
	assert_int_equal(st.ks_helpers, 0);
	assert_int_equal(st.ks_chunk_size, 100);
	assert_each_done(c, 1);
	counted_free(c);
}

/* Runs a task of @size units and @min_chunk; returns the planned threads. */
static size_t planned_threads(size_t size, size_t min_chunk, size_t max)
{
	struct counted *c = counted_new(size);
	DEFINE_KTASK_CTL(ctl, counted_chunk, c, min_chunk);
	struct ktask_stats st;

	ktask_ctl_set_max_threads(&ctl, max);
	assert_int_equal(ktask_run(c->base, size, &ctl), 0);
	assert_each_done(c, 1);
	counted_free(c);
	ktask_last_stats(&st);
	assert_int_equal(st.ks_total_size, size);
	return st.ks_threads;
}

static void test_thread_count(void **state)
{
	/* ktask_run() uses the CPUs of the caller's node. */
	size_t cpus = kt_node_cpus();

	(void)state;
	/* min(ceil(size / min_chunk), usable CPUs, max_threads) */
	assert_int_equal(planned_threads(1000, 1000, 0), 1);
	assert_int_equal(planned_threads(1001, 1000, 0), cpus < 2 ? cpus : 2);
	assert_int_equal(planned_threads(100000, 1, 0), cpus);
	assert_int_equal(planned_threads(100000, 1, 1), 1);
	assert_int_equal(planned_threads(100000, 1, 1000), cpus);
	if (cpus >= 2)
		assert_int_equal(planned_threads(100000, 1, 2), 2);
}

struct affinity_arg {
	size_t threads;
};

static void *run_on_one_cpu(void *p)
{
	struct affinity_arg *a = p;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(sched_getcpu(), &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return NULL;
	a->threads = planned_threads(100000, 1, 0);
	return NULL;
}

static void test_thread_count_follows_affinity(void **state)
{
	struct affinity_arg a = { 0 };
	pthread_t t;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	pthread_create(&t, NULL, run_on_one_cpu, &a);
	pthread_join(t, NULL);
	assert_int_equal(a.threads, 1);
}

/* Records each chunk's length at its first unit. */
struct chunk_log {
	unsigned char *base;
	size_t *len;
};

static int log_chunk(unsigned char *start, unsigned char *end,
		     struct chunk_log *log)
{
	log->len[start - log->base] = end - start;
	return KTASK_RETURN_SUCCESS;
}

/*
 * Walks the chunks of a task of @size units in order: they tile it, never
 * grow, are multiples of @min (all but the last) and at most @max.
 * Returns how many there were, and the smallest one before the last.
 */
static size_t check_chunk_walk(const struct chunk_log *log, size_t size,
			       size_t min, size_t max, size_t *smallest)
{
	size_t at = 0, prev = max, n = 0;

	*smallest = max;
	while (at < size) {
		size_t len = log->len[at];

		assert_true(len > 0 && len <= prev);
		if (at + len < size) {
			assert_int_equal(len % min, 0);
			if (len < *smallest)
				*smallest = len;
		}
		prev = len;
		at += len;
		n++;
	}
	assert_int_equal(at, size);
	return n;
}

static void test_chunk_size(void **state)
{
	struct counted *c = counted_new(100000);
	DEFINE_KTASK_CTL(ctl, counted_chunk, c, 7);
	struct chunk_log log = { malloc(100000), calloc(100000, sizeof(size_t)) };
	DEFINE_KTASK_CTL(logged, log_chunk, &log, 7);
	struct ktask_stats st;
	size_t want, smallest, n;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	ktask_ctl_set_max_threads(&ctl, 2);
	assert_int_equal(ktask_run(c->base, c->size, &ctl), 0);
	assert_each_done(c, 1);
	/*
	 * At most about four chunks per thread, rounded down to the minimum
	 * chunk; smaller towards the end, down to the minimum.
	 */
	want = (100000 / 2) >> 2;
	want -= want % 7;
	ktask_last_stats(&st);
	assert_int_equal(st.ks_threads, 2);
	assert_int_equal(st.ks_chunk_size, want);
	assert_int_equal(c->max_chunk_seen, want);
	assert_true((size_t)c->chunks > (100000 + want - 1) / want);
	counted_free(c);

	/* The chunks in order: full-size first, then shrinking to 7. */
	ktask_ctl_set_max_threads(&logged, 2);
	assert_int_equal(ktask_run(log.base, 100000, &logged), 0);
	n = check_chunk_walk(&log, 100000, 7, want, &smallest);
	assert_int_equal(log.len[0], want);
	assert_int_equal(smallest, 7);
	/* Geometric shrinking: a few dozen chunks, not thousands. */
	assert_true(n < 100);
	free(log.len);
	free(log.base);

	/* Never below the minimum chunk. */
	c = counted_new(10);
	ctl.kc_func_arg = c;
	ctl.kc_min_chunk_size = 4;
	assert_int_equal(ktask_run(c->base, c->size, &ctl), 0);
	ktask_last_stats(&st);
	assert_int_equal(st.ks_chunk_size, 4);
	assert_int_equal(c->max_chunk_seen, 4);
	assert_int_equal(c->min_chunk_seen, 2);	/* the tail */
	assert_each_done(c, 1);
	counted_free(c);
}

/* Each chunk waits until @want threads joined, so all must take part. */
struct meet {
	struct kt_tids tids;
	int want;
	int chunks;
	bool timed_out;
};

static int meet_chunk(void *start, void *end, struct meet *m)
{
	(void)start, (void)end;
	__atomic_fetch_add(&m->chunks, 1, __ATOMIC_RELAXED);
	kt_tids_add(&m->tids);
	if (!kt_wait_for(&m->tids.nr, m->want, 5000))
		m->timed_out = true;
	return 0;
}

static void test_caller_and_helper_work(void **state)
{
	struct meet m = { .want = 2 };
	DEFINE_KTASK_CTL(ctl, meet_chunk, &m, 1);
	struct ktask_stats st;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	ktask_ctl_set_max_threads(&ctl, 2);
	assert_int_equal(ktask_run(NULL, 16, &ctl), 0);
	assert_false(m.timed_out);
	assert_int_equal(m.tids.nr, 2);
	assert_true(kt_tids_has(&m.tids, kt_gettid()));
	ktask_last_stats(&st);
	assert_int_equal(st.ks_helpers, 1);
}

/* One slow chunk: the other thread must take the rest. */
struct uneven {
	int chunks_by_slow_thread, chunks_total;
	struct kt_tids tids;
	pid_t slow_tid;
};

static int uneven_chunk(void *start, void *end, struct uneven *u)
{
	(void)end;
	kt_tids_add(&u->tids);
	__atomic_fetch_add(&u->chunks_total, 1, __ATOMIC_RELAXED);
	if ((uintptr_t)start == 0) {
		__atomic_store_n(&u->slow_tid, kt_gettid(), __ATOMIC_RELEASE);
		kt_wait_for(&u->tids.nr, 2, 5000);
		kt_sleep_ms(300);
	} else {
		if (kt_gettid() == __atomic_load_n(&u->slow_tid,
						   __ATOMIC_ACQUIRE))
			__atomic_fetch_add(&u->chunks_by_slow_thread, 1,
					   __ATOMIC_RELAXED);
		kt_wait_for(&u->tids.nr, 2, 5000);
	}
	return 0;
}

/*
 * The chunk count the documented rule gives for one node: chunks of at most
 * @max, and of half a thread's share of what is left once that is smaller,
 * in multiples of @min and never below it.
 */
static int rule_chunks(size_t left, size_t min, size_t max, size_t threads)
{
	int n = 0;

	while (left) {
		size_t chunk = left / (2 * threads) / min * min;

		chunk = chunk < min ? min : chunk > max ? max : chunk;
		left -= chunk < left ? chunk : left;
		n++;
	}
	return n;
}

static void test_dynamic_balance(void **state)
{
	struct uneven u = { 0 };
	DEFINE_KTASK_CTL(ctl, uneven_chunk, &u, 1);

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	ktask_ctl_set_max_threads(&ctl, 2);
	/* 400 units, 2 threads: chunks of 50, then shrinking to 1. */
	assert_int_equal(ktask_run(NULL, 400, &ctl), 0);
	assert_int_equal(u.chunks_total, rule_chunks(400, 1, 50, 2));
	assert_true(u.chunks_total > 8);
	assert_int_equal(u.tids.nr, 2);
	/* The thread stuck in chunk 0 did none of the others. */
	assert_int_equal(u.chunks_by_slow_thread, 0);
}

/* --- Iterators ------------------------------------------------------------ */

struct item {
	struct item *next;
	size_t index;
	int done, undone;
};

struct list_task {
	struct item *items;
	size_t nr;
	size_t fail_index;
	int fail_err;
	size_t last_undo_end;
	int undo_calls;
	bool undo_out_of_order;
	pid_t undo_tid;
	int chunks;
	bool slow;
};

static struct item *list_iter(struct item *pos, size_t n)
{
	while (n--)
		pos = pos->next;
	return pos;
}

static int list_chunk(struct item *start, struct item *end,
		      struct list_task *lt)
{
	struct item *it;

	__atomic_fetch_add(&lt->chunks, 1, __ATOMIC_RELAXED);
	for (it = start; it != end; it = it->next)
		if (it->index == lt->fail_index)
			return lt->fail_err;
	if (lt->slow)
		kt_sleep_ms(2);
	for (it = start; it != end; it = it->next)
		it->done++;
	return 0;
}

static void list_undo(struct item *start, struct item *end,
		      struct list_task *lt)
{
	size_t lo = start->index, hi = end ? end->index : lt->nr;

	lt->undo_tid = kt_gettid();
	if (lt->undo_calls && lo <= lt->last_undo_end)
		lt->undo_out_of_order = true;
	lt->last_undo_end = hi;
	lt->undo_calls++;
	for (struct item *it = start; it != end; it = it->next)
		it->undone++;
}

static struct list_task *list_new(size_t nr)
{
	struct list_task *lt = calloc(1, sizeof(*lt));

	lt->items = calloc(nr, sizeof(struct item));
	lt->nr = nr;
	lt->fail_index = SIZE_MAX;
	for (size_t i = 0; i < nr; i++) {
		lt->items[i].index = i;
		lt->items[i].next = i + 1 < nr ? &lt->items[i + 1] : NULL;
	}
	return lt;
}

static void list_free(struct list_task *lt)
{
	free(lt->items);
	free(lt);
}

static void test_list_iterator(void **state)
{
	struct list_task *lt = list_new(10000);
	DEFINE_KTASK_CTL(ctl, list_chunk, lt, 10);

	(void)state;
	ktask_ctl_set_iter_func(&ctl, list_iter);
	assert_int_equal(ktask_run(lt->items, lt->nr, &ctl), 0);
	for (size_t i = 0; i < lt->nr; i++)
		assert_int_equal(lt->items[i].done, 1);
	list_free(lt);
}

static void test_list_failure_undo(void **state)
{
	struct list_task *lt = list_new(5000);
	DEFINE_KTASK_CTL(ctl, list_chunk, lt, 10);
	int undone = 0;

	(void)state;
	ktask_ctl_set_iter_func(&ctl, list_iter);
	ktask_ctl_set_undo_func(&ctl, list_undo);
	lt->fail_index = 3333;
	lt->fail_err = -ENOSPC;
	assert_int_equal(ktask_run(lt->items, lt->nr, &ctl), -ENOSPC);
	for (size_t i = 0; i < lt->nr; i++) {
		assert_true(lt->items[i].done <= 1);
		assert_int_equal(lt->items[i].undone, lt->items[i].done);
		undone += lt->items[i].undone;
	}
	assert_int_equal(lt->items[3333].done, 0);
	assert_false(lt->undo_out_of_order);
	if (undone)
		assert_int_equal(lt->undo_tid, kt_gettid());
	list_free(lt);
}

static void test_failure_stops_dispatch(void **state)
{
	struct list_task *lt = list_new(10000);
	DEFINE_KTASK_CTL(ctl, list_chunk, lt, 10);
	struct ktask_stats st;

	(void)state;
	/* Eight chunks; the first fails at once, the others take 2 ms each. */
	ktask_ctl_set_iter_func(&ctl, list_iter);
	ktask_ctl_set_max_threads(&ctl, 2);
	lt->slow = true;
	lt->fail_index = 0;
	lt->fail_err = 42;	/* positive errors pass through too */
	assert_int_equal(ktask_run(lt->items, lt->nr, &ctl), 42);
	ktask_last_stats(&st);
	/* The failed chunk, and at most one in flight per other thread. */
	assert_int_equal(st.ks_threads, 2);
	assert_true(lt->chunks <= 3);
	list_free(lt);
}

/* --- Errors and undo ----------------------------------------------------- */

static void test_range_failure_undo(void **state)
{
	(void)state;
	for (size_t fail = 0; fail < 100000; fail += 7919) {
		struct counted *c = counted_new(100000);
		DEFINE_KTASK_CTL(ctl, counted_chunk, c, 100);

		ktask_ctl_set_undo_func(&ctl, counted_undo);
		c->fail_unit = fail;
		c->fail_err = -EIO;
		assert_int_equal(ktask_run(c->base, c->size, &ctl), -EIO);
		assert_undo_exact(c);
		assert_int_equal(c->done[fail], 0);
		if (c->undo_calls)
			assert_int_equal(c->undo_tid, kt_gettid());
		counted_free(c);
	}
}

static void test_failure_without_undo(void **state)
{
	struct counted *c = counted_new(10000);
	DEFINE_KTASK_CTL(ctl, counted_chunk, c, 10);

	(void)state;
	c->fail_unit = 5000;
	c->fail_err = -7;
	assert_int_equal(ktask_run(c->base, c->size, &ctl), -7);
	assert_int_equal(c->undo_calls, 0);
	counted_free(c);
}

/* Two chunks fail, one clearly after the other: the first error wins. */
struct two_errors {
	int first_returned;
};

static int two_errors_chunk(void *start, void *end, struct two_errors *t)
{
	(void)end;
	if ((uintptr_t)start == 0) {
		__atomic_store_n(&t->first_returned, 1, __ATOMIC_RELEASE);
		return -5;
	}
	if ((uintptr_t)start == 1) {
		kt_wait_for(&t->first_returned, 1, 5000);
		kt_sleep_ms(50);
		return -7;
	}
	return 0;
}

static void test_first_error_wins(void **state)
{
	struct two_errors t = { 0 };
	DEFINE_KTASK_CTL(ctl, two_errors_chunk, &t, 1);

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	ktask_ctl_set_max_threads(&ctl, 2);
	/* 2 units, min chunk 1: two threads, one unit each. */
	assert_int_equal(ktask_run(NULL, 2, &ctl), -5);
}

static void test_numa_nodes(void **state)
{
	struct counted *c = counted_new(30000);
	DEFINE_KTASK_CTL(ctl, counted_chunk, c, 50);
	struct ktask_node nodes[3] = {
		{ .kn_start = c->base, .kn_task_size = 10000, .kn_nid = NUMA_NO_NODE },
		{ .kn_start = c->base + 10000, .kn_task_size = 0, .kn_nid = 0 },
		{ .kn_start = c->base + 10000, .kn_task_size = 20000, .kn_nid = 0 },
	};

	(void)state;
	assert_int_equal(ktask_run_numa(nodes, 3, &ctl), 0);
	assert_each_done(c, 1);
	counted_free(c);

	/* A failure in the last node: undo runs node by node, ascending. */
	c = counted_new(30000);
	ctl.kc_func_arg = c;
	ktask_ctl_set_undo_func(&ctl, counted_undo);
	nodes[0].kn_start = c->base;
	nodes[1].kn_start = nodes[2].kn_start = c->base + 10000;
	c->fail_unit = 25000;
	c->fail_err = -ENOMEM;
	c->nodes_adjacent = true;
	assert_int_equal(ktask_run_numa(nodes, 3, &ctl), -ENOMEM);
	assert_undo_exact(c);
	counted_free(c);
}

static void test_numa_inline_failure_undoes_earlier_nodes(void **state)
{
	struct counted *c = counted_new(300);
	DEFINE_KTASK_CTL(ctl, counted_chunk, c, 1000);
	struct ktask_node nodes[3] = {
		{ .kn_start = c->base, .kn_task_size = 100, .kn_nid = NUMA_NO_NODE },
		{ .kn_start = c->base + 100, .kn_task_size = 100, .kn_nid = NUMA_NO_NODE },
		{ .kn_start = c->base + 200, .kn_task_size = 100, .kn_nid = NUMA_NO_NODE },
	};

	(void)state;
	/* One thread, one chunk per node; node 2 fails. */
	ktask_ctl_set_undo_func(&ctl, counted_undo);
	c->fail_unit = 250;
	c->fail_err = -EIO;
	c->nodes_adjacent = true;
	assert_int_equal(ktask_run_numa(nodes, 3, &ctl), -EIO);
	assert_int_equal(c->chunks, 3);
	assert_undo_exact(c);
	assert_int_equal(c->undone[0], 1);
	assert_int_equal(c->undone[199], 1);
	assert_int_equal(c->undone[200], 0);
	counted_free(c);
}

/* --- Many callers, nesting, the pool's limit ----------------------------- */

static __thread bool is_caller;
static int helpers_now, helpers_peak;

static int busy_chunk(unsigned char *start, unsigned char *end,
		      struct counted *c)
{
	bool helper = !is_caller;
	int now;

	if (helper) {
		now = __atomic_add_fetch(&helpers_now, 1, __ATOMIC_RELAXED);
		int peak = __atomic_load_n(&helpers_peak, __ATOMIC_RELAXED);

		while (now > peak &&
		       !__atomic_compare_exchange_n(&helpers_peak, &peak, now,
						    false, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED))
			;
	}
	counted_chunk(start, end, c);
	if (helper)
		__atomic_sub_fetch(&helpers_now, 1, __ATOMIC_RELAXED);
	return 0;
}

static int caller_errors;

/* Whether every unit was done exactly once (off the cmocka thread). */
static bool each_done_once(struct counted *c)
{
	for (size_t i = 0; i < c->size; i++)
		if (c->done[i] != 1)
			return false;
	return true;
}

static void *caller_thread(void *p)
{
	(void)p;
	is_caller = true;
	for (int i = 0; i < 100; i++) {
		struct counted *c = counted_new(20000);
		DEFINE_KTASK_CTL(ctl, busy_chunk, c, 100);

		if (ktask_run(c->base, c->size, &ctl) || !each_done_once(c))
			__atomic_fetch_add(&caller_errors, 1, __ATOMIC_RELAXED);
		counted_free(c);
	}
	return NULL;
}

static void test_concurrent_callers_share_limit(void **state)
{
	pthread_t t[8];

	(void)state;
	helpers_peak = 0;
	caller_errors = 0;
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, caller_thread, NULL);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(caller_errors, 0);
	/* Helpers in flight never exceed the usable CPUs, less the caller. */
	assert_true(helpers_peak <= kt_usable_cpus() - 1);
	assert_true(kt_count_pool_threads() <= kt_usable_cpus() - 1);
}

static int nested_chunk(unsigned char *start, unsigned char *end,
			struct counted *c)
{
	DEFINE_KTASK_CTL(inner, counted_chunk, c, 16);

	return ktask_run(start, end - start, &inner);
}

static void *nested_caller(void *p)
{
	(void)p;
	for (int i = 0; i < 50; i++) {
		struct counted *c = counted_new(8192);
		DEFINE_KTASK_CTL(outer, nested_chunk, c, 512);

		if (ktask_run(c->base, c->size, &outer) || !each_done_once(c))
			__atomic_fetch_add(&caller_errors, 1, __ATOMIC_RELAXED);
		counted_free(c);
	}
	return NULL;
}

static void test_nested_calls(void **state)
{
	pthread_t t[4];

	(void)state;
	caller_errors = 0;
	alarm(60);	/* a deadlock fails the test instead of hanging */
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, nested_caller, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	alarm(0);
	assert_int_equal(caller_errors, 0);
}

static void test_workers_named(void **state)
{
	struct meet m = { .want = 2 };
	DEFINE_KTASK_CTL(ctl, meet_chunk, &m, 1);

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	assert_int_equal(ktask_run(NULL, 8, &ctl), 0);
	assert_false(m.timed_out);
	assert_true(kt_count_pool_threads() >= 1);
}

/* --- Process events ---------------------------------------------------------- */

static int run_child(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Whether a task got a helper that really ran chunks. */
static bool pool_works(void)
{
	struct meet m = { .want = 2 };
	DEFINE_KTASK_CTL(ctl, meet_chunk, &m, 1);

	return !ktask_run(NULL, 8, &ctl) && !m.timed_out && m.tids.nr == 2;
}

static void child_uses_pool(void)
{
	if (!pool_works())
		_exit(1);
}

/*
 * A thread function that forks (with a helper of its task still working):
 * the child's task must not wait for the helper it does not have, and its
 * pool must work afterwards.
 */
static pid_t forked_child, fork_caller;

static int forking_chunk(void *start, void *end, struct meet *m)
{
	meet_chunk(start, end, m);
	/* On the caller's thread, once both threads are at work. */
	if (kt_gettid() == fork_caller && !forked_child) {
		pid_t pid = fork();

		if (pid == 0) {
			alarm(20);	/* a hang fails the test */
			return 0;
		}
		forked_child = pid;
	}
	return 0;
}

static void test_fork_inside_thread_function(void **state)
{
	struct meet m = { .want = 2 };
	DEFINE_KTASK_CTL(ctl, forking_chunk, &m, 1);
	int status;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	forked_child = 0;
	fork_caller = kt_gettid();
	ktask_ctl_set_max_threads(&ctl, 2);
	assert_int_equal(ktask_run(NULL, 8, &ctl), 0);
	if (!forked_child)	/* the child: its task returned, now a new one */
		_exit(pool_works() && pool_works() ? 0 : 1);
	assert_int_equal(waitpid(forked_child, &status, 0), forked_child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(pool_works());
}

/* Another thread keeps running tasks while the test forks. */
static int busy_stop;

static void *busy_caller(void *arg)
{
	DEFINE_KTASK_CTL(ctl, count_call, NULL, 1);

	(void)arg;
	while (!__atomic_load_n(&busy_stop, __ATOMIC_RELAXED))
		ktask_run(NULL, 64, &ctl);
	return NULL;
}

/*
 * The child has only the forking thread: tasks other threads were running
 * in the parent must not count against the child's helper limit.
 */
static void test_fork_while_others_run_tasks(void **state)
{
	pthread_t t;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
#ifdef __SANITIZE_THREAD__
	print_message("TSan may deadlock a child forked while threads run\n");
	skip();
#endif
	busy_stop = 0;
	pthread_create(&t, NULL, busy_caller, NULL);
	kt_sleep_ms(20);
	for (int i = 0; i < 5; i++)
		assert_int_equal(run_child(child_uses_pool), 0);
	__atomic_store_n(&busy_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
}

static void test_fork_child_gets_fresh_pool(void **state)
{
	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	assert_true(pool_works());	/* the parent's pool is running now */
	assert_int_equal(run_child(child_uses_pool), 0);
	assert_true(pool_works());	/* and the parent's still works */
}

/* Run with KTASK_FAULT_THREAD_CREATE=always: no worker can start. */
static void test_thread_create_failure_runs_inline(void **state)
{
	struct counted *c = counted_new(100000);
	DEFINE_KTASK_CTL(ctl, counted_chunk, c, 10);
	struct ktask_stats st;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	assert_int_equal(ktask_run(c->base, c->size, &ctl), 0);
	assert_each_done(c, 1);
	assert_int_equal(c->tids.nr, 1);
	ktask_last_stats(&st);
	assert_true(st.ks_threads >= 2);
	assert_int_equal(st.ks_helpers, 0);
	assert_int_equal(kt_count_pool_threads(), 0);
	counted_free(c);
}

/* --- Groups run with a special environment (see tests/CMakeLists.txt) ---- */

static void test_env_max_threads(void **state)
{
	struct counted *c = counted_new(100000);
	DEFINE_KTASK_CTL(ctl, counted_chunk, c, 1);
	struct ktask_stats st;
	const char *env = getenv("KTASK_MAX_THREADS");

	(void)state;
	assert_non_null(env);
	/* The environment caps even an explicit, larger kc_max_threads. */
	ktask_ctl_set_max_threads(&ctl, 64);
	assert_int_equal(ktask_run(c->base, c->size, &ctl), 0);
	ktask_last_stats(&st);
	assert_int_equal(st.ks_threads, strtoul(env, NULL, 10));
	assert_int_equal(st.ks_max_threads, strtoul(env, NULL, 10));
	assert_int_equal(c->tids.nr, 1);
	assert_each_done(c, 1);
	counted_free(c);
}

static void test_idle_workers_sleep_then_exit(void **state)
{
	struct meet m = { .want = 2 };
	DEFINE_KTASK_CTL(ctl, meet_chunk, &m, 1);
	long idle_ms = strtol(getenv("KTASK_IDLE_MS"), NULL, 10);
	double cpu0, cpu1;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	assert_int_equal(ktask_run(NULL, 8, &ctl), 0);
	assert_false(m.timed_out);
	assert_true(kt_count_pool_threads() >= 1);

	/* Past the short spin, an idle worker burns no CPU... */
	kt_sleep_ms(50);
	cpu0 = kt_cpu_time();
	kt_sleep_ms(idle_ms / 2);
	cpu1 = kt_cpu_time();
	print_message("idle CPU over %ld ms: %.3f ms\n", idle_ms / 2,
		      (cpu1 - cpu0) * 1e3);
	assert_true(cpu1 - cpu0 < 0.02 * idle_ms / 2 / 1e3 + 0.002);
	assert_true(kt_count_pool_threads() >= 1);

	/* ...and exits once the idle timeout passed. */
	kt_sleep_ms(idle_ms);
	assert_int_equal(kt_count_pool_threads(), 0);

	/* The pool starts again on demand. */
	memset(&m, 0, sizeof(m));
	m.want = 2;
	assert_int_equal(ktask_run(NULL, 8, &ctl), 0);
	assert_false(m.timed_out);
}

/*
 * A periodic caller teaches its helper a rhythm (it then naps until the
 * next task is due and spins around it).  When the tasks stop, the helper
 * spins through one window at most and then burns no CPU, and it still
 * exits after the idle time.
 */
static void test_periodic_then_idle(void **state)
{
	struct meet m;
	DEFINE_KTASK_CTL(ctl, meet_chunk, &m, 1);
	long idle_ms = strtol(getenv("KTASK_IDLE_MS"), NULL, 10);
	double cpu0, cpu1;
	int i;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	for (i = 0; i < 40; i++) {
		memset(&m, 0, sizeof(m));
		m.want = 2;
		assert_int_equal(ktask_run(NULL, 8, &ctl), 0);
		assert_false(m.timed_out);
		kt_sleep_ms(2);
	}
	cpu0 = kt_cpu_time();
	kt_sleep_ms(idle_ms / 2);
	cpu1 = kt_cpu_time();
	print_message("CPU over %ld ms after a 2 ms rhythm stopped: %.3f ms\n",
		      idle_ms / 2, (cpu1 - cpu0) * 1e3);
	/* One window is at most a tenth of the 2 ms period. */
	assert_true(cpu1 - cpu0 < 0.02 * idle_ms / 2 / 1e3 + 0.002);
	kt_sleep_ms(idle_ms);
	assert_int_equal(kt_count_pool_threads(), 0);
}

/*
 * A periodic caller's helper keeps off the caller's CPU between tasks
 * (worker.c, "Periodic callers"): both sleep between tasks, and woken on one
 * CPU, the caller would do the whole task while the helper waited for the
 * CPU.  Seen from the helper's chunk: its CPUs exclude the one the caller
 * runs on, in most calls once the rhythm is learnt (the caller may move).
 */
struct aside {
	struct meet m;
	pid_t caller;
	int caller_cpu;
	bool helper_off;	/* a helper's chunk had the caller's CPU off */
};

static int aside_chunk(void *start, void *end, struct aside *a)
{
	cpu_set_t mask;

	if (kt_gettid() == a->caller) {
		__atomic_store_n(&a->caller_cpu, sched_getcpu(),
				 __ATOMIC_RELEASE);
	} else if (!pthread_getaffinity_np(pthread_self(), sizeof(mask),
					   &mask)) {
		/* Read after the meet: the caller's CPU is known by then. */
		int cpu;

		meet_chunk(start, end, &a->m);
		cpu = __atomic_load_n(&a->caller_cpu, __ATOMIC_ACQUIRE);
		a->helper_off = cpu >= 0 && !CPU_ISSET(cpu, &mask);
		return 0;
	}
	return meet_chunk(start, end, &a->m);
}

static void test_periodic_helper_steps_aside(void **state)
{
	struct aside a;
	DEFINE_KTASK_CTL(ctl, aside_chunk, &a, 1);
	struct timespec next;
	int i, off = 0, nr = 0;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	ktask_ctl_set_max_threads(&ctl, 2);
	clock_gettime(CLOCK_MONOTONIC, &next);
	/* 5 ms: the rhythm holds with up to 0.6 ms of jitter. */
	for (i = 0; i < 60; i++) {
		memset(&a, 0, sizeof(a));
		a.m.want = 2;
		a.caller = kt_gettid();
		a.caller_cpu = -1;
		assert_int_equal(ktask_run(NULL, 2, &ctl), 0);
		assert_false(a.m.timed_out);
		if (i >= 10) {
			nr++;
			off += a.helper_off;
		}
		next.tv_nsec += 5000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	print_message("the helper kept off the caller's CPU in %d of %d "
		      "calls\n", off, nr);
	assert_true(off >= nr / 3);
}

/*
 * KTASK_IDLE_MS=0: a worker exits as soon as its short spin after a task
 * ends (it used to mean the default, 2 s), and the pool still starts again
 * on demand.
 */
static void test_idle_zero_exits_at_once(void **state)
{
	struct meet m;
	DEFINE_KTASK_CTL(ctl, meet_chunk, &m, 1);
	int round, ms;

	(void)state;
	SKIP_UNLESS_TWO_CPUS();
	for (round = 0; round < 2; round++) {
		memset(&m, 0, sizeof(m));
		m.want = 2;
		assert_int_equal(ktask_run(NULL, 8, &ctl), 0);
		assert_false(m.timed_out);
		for (ms = 0; ms < 1000 && kt_count_pool_threads(); ms += 10)
			kt_sleep_ms(10);
		print_message("the pool was empty %d ms after the task\n", ms);
		assert_true(ms < 1000);
	}
}

int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "all";
	const struct CMUnitTest all[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_zero_size),
		cmocka_unit_test(test_small_task_inline),
		cmocka_unit_test(test_thread_count),
		cmocka_unit_test(test_thread_count_follows_affinity),
		cmocka_unit_test(test_chunk_size),
		cmocka_unit_test(test_caller_and_helper_work),
		cmocka_unit_test(test_dynamic_balance),
		cmocka_unit_test(test_list_iterator),
		cmocka_unit_test(test_list_failure_undo),
		cmocka_unit_test(test_failure_stops_dispatch),
		cmocka_unit_test(test_range_failure_undo),
		cmocka_unit_test(test_failure_without_undo),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_numa_nodes),
		cmocka_unit_test(test_numa_inline_failure_undoes_earlier_nodes),
		cmocka_unit_test(test_concurrent_callers_share_limit),
		cmocka_unit_test(test_nested_calls),
		cmocka_unit_test(test_workers_named),
		cmocka_unit_test(test_fork_child_gets_fresh_pool),
		cmocka_unit_test(test_fork_inside_thread_function),
		cmocka_unit_test(test_fork_while_others_run_tasks),
	};
	const struct CMUnitTest env[] = {
		cmocka_unit_test(test_env_max_threads),
	};
	const struct CMUnitTest idle[] = {
		cmocka_unit_test(test_idle_workers_sleep_then_exit),
		cmocka_unit_test(test_periodic_then_idle),
		cmocka_unit_test(test_periodic_helper_steps_aside),
	};
	const struct CMUnitTest idle0[] = {
		cmocka_unit_test(test_idle_zero_exits_at_once),
	};
	const struct CMUnitTest nothreads[] = {
		cmocka_unit_test(test_thread_create_failure_runs_inline),
	};

	if (!strcmp(group, "env"))
		return cmocka_run_group_tests_name("env", env, NULL, NULL);
	if (!strcmp(group, "nothreads"))
		return cmocka_run_group_tests_name("nothreads", nothreads, NULL,
						   NULL);
	if (!strcmp(group, "idle0"))
		return cmocka_run_group_tests_name("idle0", idle0, NULL, NULL);
	if (!strcmp(group, "idle"))
		return cmocka_run_group_tests_name("idle", idle, NULL, NULL);
	return cmocka_run_group_tests_name("api", all, NULL, NULL);
}
