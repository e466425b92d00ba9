// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * env_probe.c - ktask-env-probe, for test_host's environment test: runs
 * two tasks and prints what the library made of its environment, on one
 * line: whether the process is privileged (AT_SECURE), whether node 7 is
 * valid (a fake topology), the thread limit (KTASK_MAX_THREADS, a fake
 * cgroup quota) and the helpers a two-thread task got (fault injection).
 * Linked with the static library, so a set-user-ID copy needs no library
 * path.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <time.h>

#include <ktask.h>

static int arrived;

#ifdef __SANITIZE_ADDRESS__
/* A set-user-ID process cannot be ptraced: no leak check (LeakSanitizer). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

/* Waits up to 2 s for the second thread, so that a helper joins. */
static int meet_chunk(void *start, void *end, void *arg)
{
	struct timespec t0, t;

	(void)start, (void)end, (void)arg;
	__atomic_fetch_add(&arrived, 1, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (__atomic_load_n(&arrived, __ATOMIC_RELAXED) < 2 &&
		 t.tv_sec - t0.tv_sec < 2);
	return 0;
}

int main(void)
{
	DEFINE_KTASK_CTL(ctl, meet_chunk, NULL, 1);
	struct ktask_node node = { .kn_start = NULL, .kn_task_size = 1,
				   .kn_nid = 7 };
	struct ktask_stats st;
	int nid7;

	nid7 = ktask_run_numa(&node, 1, &ctl);
	ktask_ctl_set_max_threads(&ctl, 2);
	if (ktask_run(NULL, 2, &ctl))
		return 1;
	ktask_last_stats(&st);
	printf("secure=%lu nid7=%d max=%zu helpers=%zu\n", getauxval(AT_SECURE),
	       nid7, st.ks_max_threads, st.ks_helpers);
	return 0;
}
