// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_serial.c - the serial build (the series' CONFIG_KTASK=n): the thread
 * function runs once over the whole range in the caller, once per node for
 * ktask_run_numa() stopping at the first error, and undo is never called.
 *
 * Built twice: against the serial library (KTASK_SERIAL=1), and as
 * test_fallback with KTASK_FALLBACK defined and no library, which tests the
 * inline code that include/ktask.h gives a kernel built with CONFIG_KTASK=n
 * (kernel/series).
 */
#include "testutil.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>

#include <cmocka.h>

#include <ktask.h>

struct calls {
	int nr;
	void *start[8], *end[8];
	pid_t tid[8];
	void *fail_at;
	int undo_calls;
};

static int record(void *start, void *end, struct calls *c)
{
	if (c->nr < 8) {
		c->start[c->nr] = start;
		c->end[c->nr] = end;
		c->tid[c->nr] = kt_gettid();
	}
	c->nr++;
	return start == c->fail_at ? -EIO : 0;
}

static void undo(void *start, void *end, struct calls *c)
{
	(void)start, (void)end;
	c->undo_calls++;
}

static void test_run_once_over_whole_range(void **state)
{
	struct calls c = { 0 };
	DEFINE_KTASK_CTL(ctl, record, &c, 1);
	static char buf[1 << 20];

	(void)state;
	assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), 0);
	assert_int_equal(c.nr, 1);
	assert_ptr_equal(c.start[0], buf);
	assert_ptr_equal(c.end[0], buf + sizeof(buf));
	assert_int_equal(c.tid[0], kt_gettid());
}

static void test_numa_once_per_node_stops_at_error(void **state)
{
	struct calls c = { 0 };
	DEFINE_KTASK_CTL(ctl, record, &c, 1);
	static char buf[300];
	struct ktask_node nodes[3] = {
		{ .kn_start = buf, .kn_task_size = 100, .kn_nid = NUMA_NO_NODE },
		{ .kn_start = buf + 100, .kn_task_size = 100, .kn_nid = 0 },
		{ .kn_start = buf + 200, .kn_task_size = 100, .kn_nid = 0 },
	};

	(void)state;
	assert_int_equal(ktask_run_numa(nodes, 3, &ctl), 0);
	assert_int_equal(c.nr, 3);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(c.start[i], buf + 100 * i);
		assert_ptr_equal(c.end[i], buf + 100 * (i + 1));
	}

	memset(&c, 0, sizeof(c));
	c.fail_at = buf + 100;
	ktask_ctl_set_undo_func(&ctl, undo);
	assert_int_equal(ktask_run_numa(nodes, 3, &ctl), -EIO);
	assert_int_equal(c.nr, 2);
	assert_int_equal(c.undo_calls, 0);
}

static void test_arguments_still_checked(void **state)
{
	struct calls c = { 0 };
	DEFINE_KTASK_CTL(ctl, record, &c, 0);

	(void)state;
	assert_int_equal(ktask_run(NULL, 10, &ctl), -EINVAL);
	assert_int_equal(ktask_run(NULL, 10, NULL), -EINVAL);
	ctl.kc_min_chunk_size = 1;
	assert_int_equal(ktask_run(NULL, 0, &ctl), 0);
	assert_int_equal(c.nr, 0);
}

#ifndef KTASK_FALLBACK
static void test_no_threads_started(void **state)
{
	struct calls c = { 0 };
	DEFINE_KTASK_CTL(ctl, record, &c, 1);
	struct ktask_stats st;
	static char buf[1 << 20];

	(void)state;
	assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), 0);
	assert_int_equal(c.nr, 1);
	ktask_last_stats(&st);
	assert_int_equal(st.ks_threads, 1);
	assert_int_equal(st.ks_helpers, 0);
	assert_int_equal(kt_count_pool_threads(), 0);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_once_over_whole_range),
		cmocka_unit_test(test_numa_once_per_node_stops_at_error),
		cmocka_unit_test(test_arguments_still_checked),
#ifndef KTASK_FALLBACK
		cmocka_unit_test(test_no_threads_started),
#endif
	};

	return cmocka_run_group_tests_name("serial", tests, NULL, NULL);
}
