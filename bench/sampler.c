// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sampler.c - peak runnable threads, seen from inside the process.
 *
 * Every interval the sampler lists /proc/self/task and reads each thread's
 * state.  Threads the application registered (its callers and main) are
 * counted apart from the rest, which are the peer's workers.  The sampler
 * never counts itself.  Sampling misses bursts shorter than the interval,
 * so the peaks are lower bounds.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "sampler.h"

#define SAMPLER_MAX_APP 64

static struct {
	pthread_t thread;
	pid_t self;
	pid_t app[SAMPLER_MAX_APP];
	unsigned int nr_app;		/* atomic until start, then read-only */
	unsigned int interval_us;
	bool stop;			/* atomic */
	unsigned long samples, over;
	struct sampler_result res;
} smp;

pid_t sampler_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

void sampler_add_app_thread(pid_t tid)
{
	/* Callers register at once; each takes its own slot. */
	unsigned int i = __atomic_fetch_add(&smp.nr_app, 1, __ATOMIC_RELAXED);

	if (i < SAMPLER_MAX_APP)
		smp.app[i] = tid;
}

static bool is_app(pid_t tid)
{
	unsigned int i;

	for (i = 0; i < smp.nr_app && i < SAMPLER_MAX_APP; i++)
		if (smp.app[i] == tid)
			return true;
	return false;
}

/* The state letter of thread @tid, or 0 if it is gone. */
static char thread_state(int dirfd, const char *tid)
{
	char path[64], buf[512], *paren;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/stat", tid);
	fd = openat(dirfd, path, O_RDONLY);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = 0;
	/* The name may hold spaces or parentheses: the state follows the last. */
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

static void sample_once(void)
{
	unsigned int workers = 0, all = 0;
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;
	pid_t tid;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		tid = atoi(de->d_name);
		if (tid == smp.self || thread_state(dirfd(dir), de->d_name) != 'R')
			continue;
		all++;
		workers += !is_app(tid);
	}
	closedir(dir);
	if (workers > smp.res.peak_workers)
		smp.res.peak_workers = workers;
	if (all > smp.res.peak_all)
		smp.res.peak_all = all;
	smp.over += workers > bench_opts.cpus;
	smp.samples++;
}

static void *sampler_main(void *unused)
{
	(void)unused;
	smp.self = sampler_gettid();
	while (!__atomic_load_n(&smp.stop, __ATOMIC_RELAXED)) {
		sample_once();
		bench_sleep_us(smp.interval_us);
	}
	return NULL;
}

int sampler_start(unsigned int interval_us)
{
	memset(&smp.res, 0, sizeof(smp.res));
	smp.samples = smp.over = 0;
	smp.interval_us = interval_us;
	smp.stop = false;
	sampler_add_app_thread(sampler_gettid());
	return pthread_create(&smp.thread, NULL, sampler_main, NULL);
}

void sampler_stop(struct sampler_result *res)
{
	__atomic_store_n(&smp.stop, true, __ATOMIC_RELAXED);
	pthread_join(smp.thread, NULL);
	smp.res.samples = smp.samples;
	smp.res.pct_over_cpus = smp.samples ? 100.0 * smp.over / smp.samples : 0;
	*res = smp.res;
	smp.nr_app = 0;
}
