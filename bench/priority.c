// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * priority.c - what KTASK_BACKGROUND buys: a CPU hog's time next to a big
 * ktask task whose helpers run at the caller's priority, or at nice 19.
 *
 * The series measured this in the kernel with a stress-ng job: alone
 * 43.04 s, next to ktask with nice-19 helpers 43.58 s, with normal-priority
 * helpers 75.86 s.  Here the hog is one spinning thread per usable CPU
 * doing a fixed amount of work; next to it, tasks of pure computation run
 * back to back until the hog is done.  The hog's wall time is the figure:
 * background helpers should cost it little, normal ones a lot.
 *
 *   usage: priority [hog-seconds]     (default 2: the hog's time alone)
 */
#define _GNU_SOURCE
#include <ktask.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Work the optimizer cannot remove: a little LCG per unit. */
static unsigned long spin(unsigned long n)
{
	unsigned long x = n;

	while (n--)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

static volatile unsigned long sink;
static unsigned long hog_units;
static int hog_running;

static void *hog_thread(void *arg)
{
	(void)arg;
	sink += spin(hog_units);
	return NULL;
}

/* The hog: one thread per CPU, each with the same work; its wall time. */
static double run_hog(int threads)
{
	pthread_t t[256];
	double t0 = now();

	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, hog_thread, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	return now() - t0;
}

static int compute_chunk(void *start, void *end, void *arg)
{
	(void)arg;
	sink += spin((char *)end - (char *)start);
	return KTASK_RETURN_SUCCESS;
}

struct competitor {
	unsigned int flags;
	unsigned long tasks;
};

/* Big ktask tasks back to back while the hog runs. */
static void *ktask_thread(void *arg)
{
	struct competitor *c = arg;
	DEFINE_KTASK_CTL(ctl, compute_chunk, NULL, 1 << 20);

	ktask_ctl_set_flags(&ctl, c->flags);
	while (__atomic_load_n(&hog_running, __ATOMIC_ACQUIRE)) {
		ktask_run(NULL, 64 << 20, &ctl);
		c->tasks++;
	}
	return NULL;
}

static double hog_next_to(int threads, unsigned int flags,
			  unsigned long *tasks)
{
	struct competitor c = { .flags = flags };
	pthread_t t;
	double took;

	__atomic_store_n(&hog_running, 1, __ATOMIC_RELEASE);
	pthread_create(&t, NULL, ktask_thread, &c);
	took = run_hog(threads);
	__atomic_store_n(&hog_running, 0, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	*tasks = c.tasks;
	return took;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	double want = argc > 1 ? atof(argv[1]) : 2.0, alone[3], bg[3], fg[3];
	unsigned long bg_tasks = 0, fg_tasks = 0, n;
	cpu_set_t set;
	int threads = 2;
	double t;

	if (!sched_getaffinity(0, sizeof(set), &set))
		threads = CPU_COUNT(&set);
	if (threads > 256)
		threads = 256;
	/* Size the hog's work to take about @want seconds alone. */
	hog_units = 1 << 24;
	t = run_hog(threads);
	hog_units = (unsigned long)(hog_units * want / t);

	for (int r = 0; r < 3; r++) {
		alone[r] = run_hog(threads);
		bg[r] = hog_next_to(threads, KTASK_BACKGROUND, &n);
		bg_tasks += n;
		fg[r] = hog_next_to(threads, 0, &n);
		fg_tasks += n;
	}
	qsort(alone, 3, sizeof(double), cmp);
	qsort(bg, 3, sizeof(double), cmp);
	qsort(fg, 3, sizeof(double), cmp);
	printf("priority: CPU hog of %d threads, median of 3 runs\n", threads);
	printf("%-40s %8s %8s %s\n", "hog runs", "seconds", "x alone",
	       "ktask tasks done meanwhile");
	printf("%-40s %8.2f %8.2f\n", "alone", alone[1], 1.0);
	printf("%-40s %8.2f %8.2f %lu\n",
	       "next to ktask, KTASK_BACKGROUND helpers", bg[1],
	       bg[1] / alone[1], bg_tasks / 3);
	printf("%-40s %8.2f %8.2f %lu\n", "next to ktask, normal helpers",
	       fg[1], fg[1] / alone[1], fg_tasks / 3);
	return 0;
}
