// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fakecpus_check.c - what the CPU counting calls say, for the fakecpus
 * shim's test (bench/CMakeLists.txt) and by hand:
 *
 *   [LD_PRELOAD=libktask-bench-fakecpus.so BENCH_FAKE_CPUS=16] \
 *	ktask-fakecpus-check [MASK_CPUS SYSTEM_CPUS]
 *
 * prints the count each call gives and, given the expected counts (from
 * the affinity mask and from the system's CPUs online), exits 1 if any
 * call disagrees or if binding the thread to the last CPU of the mask
 * fails.  Built with OpenMP where there is one, it asks the runtime too.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int bad;

static void check(const char *what, long got, long want)
{
	printf("%-24s %ld\n", what, got);
	if (want && got != want) {
		fprintf(stderr, "fakecpus-check: %s: %ld, expected %ld\n",
			what, got, want);
		bad = 1;
	}
}

int main(int argc, char **argv)
{
	long mask = argc > 2 ? atol(argv[1]) : 0;
	long sys = argc > 2 ? atol(argv[2]) : 0;
	cpu_set_t set, one;
	long n;
	int last = -1, i;

	if (sched_getaffinity(0, sizeof(set), &set))
		return perror("sched_getaffinity"), 1;
	check("sched_getaffinity", CPU_COUNT(&set), mask);
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			last = i;
	if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set))
		return fprintf(stderr, "pthread_getaffinity_np failed\n"), 1;
	check("pthread_getaffinity_np", CPU_COUNT(&set), mask);
	CPU_ZERO(&set);
	n = syscall(SYS_sched_getaffinity, 0, sizeof(set), &set);
	if (n <= 0)
		return perror("syscall(sched_getaffinity)"), 1;
	check("syscall(getaffinity)", CPU_COUNT(&set), mask);
	check("sysconf(ONLN)", sysconf(_SC_NPROCESSORS_ONLN), sys);
	check("sysconf(CONF)", sysconf(_SC_NPROCESSORS_CONF), 0);
	check("get_nprocs", get_nprocs(), sys);
#ifdef _OPENMP
	check("omp_get_num_procs", omp_get_num_procs(), mask);
#endif
	/* The runtimes may bind a thread to any CPU they were shown. */
	CPU_ZERO(&one);
	CPU_SET(last, &one);
	if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one)) {
		fprintf(stderr, "fakecpus-check: binding to CPU %d failed\n",
			last);
		bad = 1;
	} else {
		printf("%-24s %d (now on CPU %d)\n", "bound to CPU", last,
		       sched_getcpu());
	}
	return bad;
}
