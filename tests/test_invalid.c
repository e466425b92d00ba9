// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_invalid.c - every invalid or odd input of docs/invalid-input.md,
 * tried for real, so that the table says what the library does.
 *
 * Each test names its table row.  A rejected call must return -EINVAL and
 * call nothing; an accepted odd one must give the documented result.  A
 * thread function that never dereferences its positions lets addresses be
 * anything.
 */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>

#include <cmocka.h>

#include <ktask.h>

/* What the functions of one call saw. */
struct seen {
	int calls;		/* [atomic] thread function calls */
	int undo_calls;
	size_t units;		/* [atomic] units over all chunks */
	int ret;		/* what the thread function returns */
	uintptr_t fail_at;	/* the chunk holding this position fails */
};

static struct seen seen;

static void seen_reset(int ret)
{
	memset(&seen, 0, sizeof(seen));
	seen.ret = ret;
	seen.fail_at = UINTPTR_MAX;
}

/* Counts and never dereferences: positions may be any address. */
static int count_chunk(void *start, void *end, struct seen *s)
{
	__atomic_fetch_add(&s->calls, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->units, (size_t)((char *)end - (char *)start),
			   __ATOMIC_RELAXED);
	if (s->fail_at == UINTPTR_MAX)
		return s->ret;
	return (uintptr_t)start <= s->fail_at && s->fail_at < (uintptr_t)end ?
	       s->ret : 0;
}

static void count_undo(void *start, void *end, struct seen *s)
{
	(void)start;
	(void)end;
	s->undo_calls++;
}

/* Like ktask_iter_range(), but not it: ktask then cannot check wrapping. */
static void *plain_iter(void *pos, size_t size)
{
	return (void *)((uintptr_t)pos + size);
}

static char buf[4096];

#define EXPECT_REJECTED(call)						\
	do {								\
		seen_reset(0);						\
		assert_int_equal((call), -EINVAL);			\
		assert_int_equal(seen.calls, 0);			\
		assert_int_equal(seen.undo_calls, 0);			\
	} while (0)

/* Row: ctl NULL, thread function NULL, min chunk 0, unknown flags. */
static void test_bad_ctl(void **state)
{
	DEFINE_KTASK_CTL(ok, count_chunk, &seen, 1);
	struct ktask_ctl no_func = KTASK_CTL_INITIALIZER(NULL, &seen, 1);
	struct ktask_ctl no_chunk = KTASK_CTL_INITIALIZER(count_chunk, &seen, 0);
	struct ktask_ctl flags = ok;
	static const unsigned int bad_flags[] = { 0x2, 0x80000000u, ~0u };

	(void)state;
	EXPECT_REJECTED(ktask_run(buf, 10, NULL));
	EXPECT_REJECTED(ktask_run(buf, 10, &no_func));
	EXPECT_REJECTED(ktask_run(buf, 10, &no_chunk));
	EXPECT_REJECTED(ktask_run(buf, 0, &no_chunk));
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		ktask_ctl_set_flags(&flags, bad_flags[i]);
		EXPECT_REJECTED(ktask_run(buf, 10, &flags));
	}
}

/* Row: size 0 (with any start, even NULL) succeeds and calls nothing. */
static void test_size_zero(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);

	(void)state;
	seen_reset(0);
	assert_int_equal(ktask_run(NULL, 0, &ctl), 0);
	assert_int_equal(ktask_run((void *)UINTPTR_MAX, 0, &ctl), 0);
	assert_int_equal(seen.calls, 0);
}

/* Row: a NULL start with a size is just a position: it runs. */
static void test_null_start(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);

	(void)state;
	seen_reset(0);
	assert_int_equal(ktask_run(NULL, 1000, &ctl), 0);
	assert_int_equal(seen.units, 1000);
}

/* Row: a range that wraps the address space, or ends exactly at its top. */
static void test_range_wraps(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);
	void *top = (void *)(UINTPTR_MAX - 10);

	(void)state;
	EXPECT_REJECTED(ktask_run(buf, SIZE_MAX, &ctl));
	EXPECT_REJECTED(ktask_run(top, 100, &ctl));
	EXPECT_REJECTED(ktask_run(top, 11, &ctl));
	seen_reset(0);
	assert_int_equal(ktask_run(top, 10, &ctl), 0);
	assert_int_equal(seen.units, 10);
}

/*
 * Row: a huge size with an iterator of its own is accepted: the iterator
 * says what positions are.  The chunks then add up to exactly SIZE_MAX.
 */
static void test_huge_size_iterator(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);

	(void)state;
	ktask_ctl_set_iter_func(&ctl, plain_iter);
	seen_reset(0);
	assert_int_equal(ktask_run(NULL, SIZE_MAX, &ctl), 0);
	assert_true(seen.units == SIZE_MAX);
	assert_true(seen.calls >= 1);
}

/* Row: min chunk SIZE_MAX: one chunk, in the caller. */
static void test_huge_min_chunk(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, SIZE_MAX);

	(void)state;
	seen_reset(0);
	assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), 0);
	assert_int_equal(seen.calls, 1);
}

/* Row: max_threads SIZE_MAX is no cap beyond the usable CPUs. */
static void test_huge_max_threads(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);
	struct ktask_stats st;

	(void)state;
	ktask_ctl_set_max_threads(&ctl, SIZE_MAX);
	seen_reset(0);
	assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), 0);
	assert_int_equal(seen.units, sizeof(buf));
	ktask_last_stats(&st);
	assert_true(st.ks_threads <= st.ks_max_threads);
	assert_true(st.ks_threads >= 1);
}

/* Rows: nodes NULL with nr_nodes above 0; nr_nodes 0; nr_nodes huge. */
static void test_bad_node_array(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);
	struct ktask_node kn = { buf, 10, NUMA_NO_NODE, NULL, 0 };

	(void)state;
	EXPECT_REJECTED(ktask_run_numa(NULL, 1, &ctl));
	EXPECT_REJECTED(ktask_run_numa(NULL, SIZE_MAX, &ctl));
	EXPECT_REJECTED(ktask_run_numa(&kn, SIZE_MAX, &ctl));
	EXPECT_REJECTED(ktask_run_numa(&kn, SIZE_MAX / sizeof(kn) + 1, &ctl));
	seen_reset(0);
	assert_int_equal(ktask_run_numa(NULL, 0, &ctl), 0);
	assert_int_equal(ktask_run_numa(&kn, 0, &ctl), 0);
	assert_int_equal(seen.calls, 0);
}

/* Row: node ids that name no node, even on an empty part. */
static void test_bad_nids(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);
	static const int bad[] = { -2, INT_MIN, 64, 4096, INT_MAX };
	struct ktask_node kn[2] = {
		{ buf, 10, NUMA_NO_NODE, NULL, 0 },
		{ buf + 10, 10, NUMA_NO_NODE, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kn[1].kn_nid = bad[i];
		kn[1].kn_task_size = 10;
		EXPECT_REJECTED(ktask_run_numa(kn, 2, &ctl));
		kn[1].kn_task_size = 0;
		EXPECT_REJECTED(ktask_run_numa(kn, 2, &ctl));
	}
}

/* Row: node sizes whose sum overflows. */
static void test_sizes_overflow(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);
	struct ktask_node kn[2] = {
		{ NULL, SIZE_MAX, NUMA_NO_NODE, NULL, 0 },
		{ NULL, 2, NUMA_NO_NODE, NULL, 0 },
	};

	(void)state;
	ktask_ctl_set_iter_func(&ctl, plain_iter);
	EXPECT_REJECTED(ktask_run_numa(kn, 2, &ctl));
}

/* Row: garbage in the private node fields does not matter. */
static void test_private_garbage(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);
	struct ktask_node kn = { buf, sizeof(buf), NUMA_NO_NODE,
				 (void *)0xdead, SIZE_MAX };

	(void)state;
	seen_reset(0);
	assert_int_equal(ktask_run_numa(&kn, 1, &ctl), 0);
	assert_int_equal(seen.units, sizeof(buf));
}

/* Row: a NULL iterator means the range iterator. */
static void test_null_iterator(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 1);

	(void)state;
	ctl.kc_iter_func = NULL;
	seen_reset(0);
	assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), 0);
	assert_int_equal(seen.units, sizeof(buf));
	EXPECT_REJECTED(ktask_run((void *)(UINTPTR_MAX - 10), 100, &ctl));
}

/*
 * Row: odd return values pass through unchanged, on the inline path and
 * with helpers, and completed chunks are undone.
 */
static void test_odd_returns(void **state)
{
	static const int odd[] = { INT_MIN, INT_MAX, -1, 1, 42, -EINVAL,
				   -4096 };
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 16);

	(void)state;
	ktask_ctl_set_undo_func(&ctl, count_undo);
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		seen_reset(odd[i]);
		seen.fail_at = (uintptr_t)buf + sizeof(buf) - 1;
		assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), odd[i]);
		assert_true(seen.undo_calls <= 1);
		/* Inline: one chunk, which fails; nothing to undo. */
		seen_reset(odd[i]);
		assert_int_equal(ktask_run(buf, 16, &ctl), odd[i]);
		assert_int_equal(seen.calls, 1);
		assert_int_equal(seen.undo_calls, 0);
	}
}

/* Row: a failure without an undo function returns the error, no undo. */
static void test_fail_without_undo(void **state)
{
	DEFINE_KTASK_CTL(ctl, count_chunk, &seen, 16);

	(void)state;
	seen_reset(-EIO);
	seen.fail_at = (uintptr_t)buf + 100;
	assert_int_equal(ktask_run(buf, sizeof(buf), &ctl), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_ctl),
		cmocka_unit_test(test_size_zero),
		cmocka_unit_test(test_null_start),
		cmocka_unit_test(test_range_wraps),
		cmocka_unit_test(test_huge_size_iterator),
		cmocka_unit_test(test_huge_min_chunk),
		cmocka_unit_test(test_huge_max_threads),
		cmocka_unit_test(test_bad_node_array),
		cmocka_unit_test(test_bad_nids),
		cmocka_unit_test(test_sizes_overflow),
		cmocka_unit_test(test_private_garbage),
		cmocka_unit_test(test_null_iterator),
		cmocka_unit_test(test_odd_returns),
		cmocka_unit_test(test_fail_without_undo),
	};

	return cmocka_run_group_tests_name("invalid", tests, NULL, NULL);
}
