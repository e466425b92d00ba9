/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * testutil.h - small helpers shared by the libktask tests: which threads ran
 * chunks, waiting with a deadline, counting the pool's threads.
 */
#ifndef KTASK_TESTUTIL_H
#define KTASK_TESTUTIL_H

#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KT_SANITIZED 1
#else
#define KT_SANITIZED 0
#endif

#define KT_MAX_TIDS 64

#ifndef KT_KEEP_TIMED_CHOICE
/*
 * The tests look at what helpers do, often with short tasks that the
 * library would run on their callers alone once it timed them faster so
 * (lib/user/choice.c): give them helpers every time, unless the test's
 * environment says otherwise.  test_choice and test_diff keep the choice.
 */
__attribute__((constructor)) static void kt_helpers_every_time(void)
{
	setenv("KTASK_ALONE", "0", 0);
}
#endif

static inline pid_t kt_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static inline double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double kt_cpu_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void kt_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

/* The set of threads that ran chunks of a task. */
struct kt_tids {
	pid_t tids[KT_MAX_TIDS];
	int nr;
};

/* Adds the calling thread; returns how many distinct threads there are. */
static inline int kt_tids_add(struct kt_tids *set)
{
	pid_t me = kt_gettid();
	int i, nr;

	for (;;) {
		nr = __atomic_load_n(&set->nr, __ATOMIC_ACQUIRE);
		for (i = 0; i < nr; i++)
			if (__atomic_load_n(&set->tids[i], __ATOMIC_RELAXED) ==
			    me)
				return nr;
		if (nr == KT_MAX_TIDS)
			return nr;
		/* Claim slot nr by bumping the count, then fill it. */
		if (__atomic_compare_exchange_n(&set->nr, &nr, nr + 1, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			__atomic_store_n(&set->tids[nr], me, __ATOMIC_RELEASE);
			return nr + 1;
		}
	}
}

static inline bool kt_tids_has(struct kt_tids *set, pid_t tid)
{
	for (int i = 0; i < set->nr; i++)
		if (set->tids[i] == tid)
			return true;
	return false;
}

/* Waits up to @ms for *@counter to reach @want; returns whether it did. */
static inline bool kt_wait_for(int *counter, int want, long ms)
{
	double end = kt_now() + ms / 1e3;

	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < want) {
		if (kt_now() > end)
			return false;
		sched_yield();
	}
	return true;
}

/*
 * Threads of this process whose name starts with "ktask/" and, if @keep is
 * given, for whose thread id it returns true; -1 if /proc is not there.
 */
static inline int kt_count_pool_threads_if(bool (*keep)(pid_t tid))
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;
	char path[300], comm[32];
	int n = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "ktask/", 6) &&
		    (!keep || keep(atoi(de->d_name))))
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* Threads of this process whose name starts with "ktask/". */
static inline int kt_count_pool_threads(void)
{
	return kt_count_pool_threads_if(NULL);
}

static inline int kt_usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	return CPU_COUNT(&set);
}

/*
 * CPUs that ktask_run() may use from here: the caller's usable CPUs on the
 * NUMA node it runs on (ktask_run() stays on the caller's node).
 */
static inline int kt_node_cpus(void)
{
	int cpu = sched_getcpu(), n = 0, nodes = 0;
	char path[96], list[4096];
	cpu_set_t set, mine;

	if (sched_getaffinity(0, sizeof(mine), &mine))
		return 1;
	for (int nid = 0; nid < 64; nid++) {
		FILE *f;
		char *p;

		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d/cpulist", nid);
		f = fopen(path, "r");
		if (!f)
			continue;
		nodes++;
		CPU_ZERO(&set);
		if (fgets(list, sizeof(list), f))
			for (p = list; *p && *p != '\n';) {
				long lo = strtol(p, &p, 10), hi = lo;

				if (*p == '-')
					hi = strtol(p + 1, &p, 10);
				for (long c = lo; c <= hi && c < CPU_SETSIZE; c++)
					CPU_SET(c, &set);
				if (*p == ',')
					p++;
				else
					break;
			}
		fclose(f);
		if (cpu >= 0 && CPU_ISSET(cpu, &set)) {
			CPU_AND(&set, &set, &mine);
			n = CPU_COUNT(&set);
		}
	}
	return nodes > 1 && n ? n : kt_usable_cpus();
}

#endif /* KTASK_TESTUTIL_H */
