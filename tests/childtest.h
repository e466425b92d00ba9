/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * childtest.h - the cmocka side of hostutil.h: a test whose body runs in a
 * child of its own passes, is skipped or fails by the child's exit status.
 * Include after <cmocka.h>.
 */
#ifndef KTASK_CHILDTEST_H
#define KTASK_CHILDTEST_H

#include <string.h>

#include "hostutil.h"

/* Runs @body in a child under a @secs watchdog; judges its status. */
static inline void expect_child_ok(void (*body)(void), unsigned int secs)
{
	int st = kt_run_isolated(body, secs);

	if (st == CHILD_SKIP)
		skip();
	if (st > 128)
		fail_msg("child killed by signal %d (%s)", st - 128,
			 strsignal(st - 128));
	assert_int_equal(st, 0);
}

/* In a child: skips the test on a machine with one usable CPU. */
static inline void need_two_cpus(void)
{
	CHILD_SKIP_IF(kt_usable_cpus() < 2, "needs 2 usable CPUs");
}

#endif /* KTASK_CHILDTEST_H */
