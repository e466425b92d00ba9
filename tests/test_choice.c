// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_choice.c - a thread's short tasks run on the caller alone when that
 * was timed faster, and get helpers again (lib/user/choice.c):
 *
 *   - a task of two stores, back to back, runs alone nearly always, with a
 *     try of helpers now and then;
 *   - a task whose chunks take 50 us (longer than any hand-off) gets its
 *     helper every time;
 *   - both kinds interleaved keep their own records;
 *   - a kind learned short whose tasks turn long gets helpers at once;
 *   - short tasks inside a long task's chunks (nested calls) do not change
 *     the long task's record, and the thread's records are whole after;
 *   - "test_choice off" (ctest runs it with KTASK_ALONE=0): every task of
 *     two stores is planned for two threads.
 *
 * Under a sanitizer the tests only run it: a task with helpers then takes
 * longer than the 10 us below which the choice is made.
 *
 * Whether two stores are faster alone is not a guess: a caller alone makes
 * no pool lock, no atomic operation on a worker's lines and no wait, so on
 * any machine, loaded or not, it ends first.
 */
#define KT_KEEP_TIMED_CHOICE
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include <ktask.h>

#define TASKS 2000

static bool off;

static int two_stores(void *start, void *end, void *arg)
{
	for (char *p = start; p < (char *)end; p++)
		*p = 1;
	(void)arg;
	return KTASK_RETURN_SUCCESS;
}

/* Busy for @us microseconds per chunk: longer than any hand-off. */
static int busy_chunk(void *start, void *end, void *arg)
{
	double until = kt_now() + 50e-6;

	(void)start;
	(void)end;
	(void)arg;
	while (kt_now() < until)
		;
	return KTASK_RETURN_SUCCESS;
}

static bool skip_one_cpu(void)
{
	if (kt_node_cpus() >= 2)
		return false;
	fprintf(stderr, "skipped: needs 2 usable CPUs on this node\n");
	return true;
}

struct counts {
	int alone, helped;
};

static void run_counted(struct ktask_ctl *ctl, void *start, size_t size,
			struct counts *c)
{
	struct ktask_stats st;

	assert_int_equal(ktask_run(start, size, ctl), 0);
	ktask_last_stats(&st);
	assert_int_equal(st.ks_total_size, size);
	if (st.ks_threads == 1)
		c->alone++;
	else if (st.ks_helpers)
		c->helped++;
}

static void test_short_task_alone(void **state)
{
	char units[2];
	DEFINE_KTASK_CTL(ctl, two_stores, NULL, 1);
	struct counts c = { 0 };

	(void)state;
	if (skip_one_cpu())
		skip();
	ktask_ctl_set_max_threads(&ctl, 2);
	for (int i = 0; i < TASKS; i++)
		run_counted(&ctl, units, 2, &c);
	fprintf(stderr, "%d tasks of 2 stores: %d alone, %d with a helper\n",
		TASKS, c.alone, c.helped);
	assert_int_equal(units[0] + units[1], 2);
	if (off) {
		assert_int_equal(c.alone, 0);
		return;
	}
	/*
	 * Tries of helpers after 8, 16, ... 1024 alone: about 8 of them.  A
	 * sanitizer makes a task with helpers last longer than a short one
	 * (10 us), and such a task always gets them.
	 */
	if (KT_SANITIZED)
		return;
	assert_true(c.alone >= TASKS * 9 / 10);
	assert_true(c.helped >= 2);
}

static void test_long_task_helped(void **state)
{
	DEFINE_KTASK_CTL(ctl, busy_chunk, NULL, 1);
	struct counts c = { 0 };

	(void)state;
	if (skip_one_cpu())
		skip();
	ktask_ctl_set_max_threads(&ctl, 2);
	for (int i = 0; i < 200; i++)
		run_counted(&ctl, (void *)4096, 2, &c);
	fprintf(stderr, "200 tasks of 2 x 50 us: %d alone, %d with a helper\n",
		c.alone, c.helped);
	assert_int_equal(c.alone, 0);
}

/* The two kinds interleaved: each keeps its own timing. */
static void test_kinds_apart(void **state)
{
	char units[2];
	DEFINE_KTASK_CTL(tiny, two_stores, NULL, 1);
	DEFINE_KTASK_CTL(slow, busy_chunk, NULL, 1);
	struct counts ct = { 0 }, cs = { 0 };

	(void)state;
	if (skip_one_cpu() || off)
		skip();
	ktask_ctl_set_max_threads(&tiny, 2);
	ktask_ctl_set_max_threads(&slow, 2);
	for (int i = 0; i < TASKS; i++) {
		run_counted(&tiny, units, 2, &ct);
		if (!(i % 10))
			run_counted(&slow, (void *)4096, 2, &cs);
	}
	fprintf(stderr, "interleaved: tiny %d alone, slow %d alone\n",
		ct.alone, cs.alone);
	assert_int_equal(cs.alone, 0);
	if (!KT_SANITIZED)
		assert_true(ct.alone >= TASKS * 9 / 10);
}

/*
 * A kind learned short whose tasks turn long (a cache went cold, the data
 * grew): the first long task may run alone, at twice its time with a
 * helper; the next ones get their helper.  The estimate used to move by a
 * quarter at a time, so 6 or 7 of 30 such tasks of 2 x 2 ms ran alone.
 */
static int maybe_slow(void *start, void *end, void *arg)
{
	if (*(const bool *)arg) {
		struct timespec ts = { 0, 2000000 };

		while (nanosleep(&ts, &ts))
			;
		return KTASK_RETURN_SUCCESS;
	}
	return two_stores(start, end, NULL);
}

static void test_short_kind_turns_long(void **state)
{
	char units[2];
	bool slow = false;
	DEFINE_KTASK_CTL(ctl, maybe_slow, &slow, 1);
	struct counts c = { 0 }, l = { 0 };

	(void)state;
	if (skip_one_cpu() || off)
		skip();
	ktask_ctl_set_max_threads(&ctl, 2);
	for (int i = 0; i < 300; i++)
		run_counted(&ctl, units, 2, &c);
	slow = true;
	for (int i = 0; i < 30; i++)
		run_counted(&ctl, units, 2, &l);
	fprintf(stderr, "short kind: %d of 300 alone; turned long: %d of 30 "
		"alone\n", c.alone, l.alone);
	assert_true(l.alone <= 2);
}

/*
 * A long task whose chunks each run short tasks.  The thread's last stats
 * are an inner task's once one ran, so the outer task's are read in the
 * caller's first chunk, before that.
 */
static struct counts nested_counts;
static int nested_short, outer_alone;
static pid_t outer_caller;
static bool outer_seen;

static int chunk_with_short_tasks(void *start, void *end, void *arg)
{
	char units[2];
	DEFINE_KTASK_CTL(ctl, two_stores, NULL, 1);

	(void)arg;
	if (kt_gettid() == outer_caller && !outer_seen) {
		struct ktask_stats st;

		ktask_last_stats(&st);
		outer_seen = true;
		outer_alone += st.ks_threads == 1;
	}
	ktask_ctl_set_max_threads(&ctl, 2);
	for (char *p = start; p < (char *)end; p++)
		for (int i = 0; i < 50; i++) {
			struct ktask_stats st;

			assert_int_equal(ktask_run(units, 2, &ctl), 0);
			ktask_last_stats(&st);
			__atomic_fetch_add(&nested_short, 1, __ATOMIC_RELAXED);
			if (st.ks_threads == 1)
				__atomic_fetch_add(&nested_counts.alone, 1,
						   __ATOMIC_RELAXED);
		}
	return busy_chunk(start, end, arg);
}

static void test_nested(void **state)
{
	DEFINE_KTASK_CTL(ctl, chunk_with_short_tasks, NULL, 1);

	(void)state;
	if (skip_one_cpu() || off)
		skip();
	ktask_ctl_set_max_threads(&ctl, 2);
	outer_caller = kt_gettid();
	for (int i = 0; i < 40; i++) {
		outer_seen = false;
		assert_int_equal(ktask_run((void *)4096, 2, &ctl), 0);
	}
	fprintf(stderr, "nested: %d of 40 outer tasks alone; %d of %d inner "
		"tasks alone\n", outer_alone, nested_counts.alone,
		nested_short);
	assert_int_equal(outer_alone, 0);
	/* The calls' records came back: a short task runs alone again. */
	test_short_task_alone(state);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_task_alone),
		cmocka_unit_test(test_long_task_helped),
		cmocka_unit_test(test_kinds_apart),
		cmocka_unit_test(test_short_kind_turns_long),
		cmocka_unit_test(test_nested),
	};

	off = argc > 1 && !strcmp(argv[1], "off");
	return cmocka_run_group_tests_name(off ? "choice_off" : "choice",
					   tests, NULL, NULL);
}
