// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * watchdog.c - the thread that watches ktask-torture from the side.
 *
 * Every TT_TICK it looks at each caller's progress count (bumped by every
 * chunk and every task).  A caller that is busy but whose count has not
 * moved for --stall seconds is reported, with the task every caller is
 * running and its phase, the state of every thread of the process from
 * /proc, and the stack of every thread from gdb when gdb is there; then
 * the process exits with status 3 rather than hang.
 *
 * It also samples the resident memory (VmRSS) and thread count of the
 * process, so that growth after warm-up can be judged at the end.
 */
#include "torture.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TT_TICK_MS 100
#define TT_SAMPLE_EVERY 5	/* ticks between memory samples */
#define TT_GDB_TIMEOUT 60.0

extern char **environ;

static pthread_t tt_watchdog;
static int tt_watchdog_quit;	/* [A] */

/* Memory and threads: at the end of warm-up, the most after it, the last. */
static struct {
	long rss_warm, rss_max, rss_last;	/* KiB */
	long thr_warm, thr_max, thr_last;
	bool warm;
} tt_growth;

static const char *const tt_phase_name[] = {
	[TT_IDLE] = "idle", [TT_BUILDING] = "building a task",
	[TT_RUNNING] = "in ktask", [TT_CHECKING] = "checking",
	[TT_FORKED] = "waiting for a fork child", [TT_DONE] = "done",
};

/* A "Name:   value kB" line of /proc/self/status, or -1. */
static long tt_status_value(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t len = strlen(name);
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void tt_sample(void)
{
	long rss = tt_status_value("VmRSS");
	long thr = tt_status_value("Threads");

	tt_growth.rss_last = rss;
	tt_growth.thr_last = thr;
	if (tt_now() - tt_start < tt_opt.warmup)
		return;
	if (!tt_growth.warm) {
		tt_growth.warm = true;
		tt_growth.rss_warm = tt_growth.rss_max = rss;
		tt_growth.thr_warm = tt_growth.thr_max = thr;
	}
	if (rss > tt_growth.rss_max)
		tt_growth.rss_max = rss;
	if (thr > tt_growth.thr_max)
		tt_growth.thr_max = thr;
}

/* The first line of /proc/self/task/@tid/@file, without its newline. */
static void tt_task_file(const char *tid, const char *file, char *buf,
			 size_t size)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/%s", tid, file);
	snprintf(buf, size, "?");
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		snprintf(buf, size, "?");
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* One line per thread: name, state, what it waits in, its system call. */
static void tt_report_threads(void)
{
	DIR *dir = opendir("/proc/self/task");
	char comm[64], wchan[64], sc[128], stat[512], *p;
	struct dirent *de;

	if (!dir)
		return;
	fprintf(stderr, "watchdog: threads of process %d (from /proc):\n",
		(int)getpid());
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		tt_task_file(de->d_name, "comm", comm, sizeof(comm));
		tt_task_file(de->d_name, "wchan", wchan, sizeof(wchan));
		tt_task_file(de->d_name, "syscall", sc, sizeof(sc));
		sc[strcspn(sc, " ")] = '\0';
		/* The state follows the name, which is in parentheses. */
		tt_task_file(de->d_name, "stat", stat, sizeof(stat));
		p = strrchr(stat, ')');
		fprintf(stderr, "  tid %s %-16s state %c wchan %s syscall %s\n",
			de->d_name, comm, p && p[1] == ' ' ? p[2] : '?', wchan,
			sc);
	}
	closedir(dir);
}

/*
 * Stack traces of every thread: gdb attaches to this process.  Yama may
 * allow tracing only by ancestors; PR_SET_PTRACER lets the child gdb in.
 */
static void tt_report_stacks(void)
{
	char pid[16];
	char *argv[] = { "gdb", "-batch", "-nx", "-p", pid,
			 "-ex", "thread apply all bt", NULL };
	posix_spawn_file_actions_t fa;
	pid_t child;
	double end;
	int status;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	fprintf(stderr, "watchdog: stacks of every thread (gdb):\n");
	if (posix_spawnp(&child, "gdb", &fa, NULL, argv, environ)) {
		fprintf(stderr, "watchdog: no gdb to take stacks with\n");
		posix_spawn_file_actions_destroy(&fa);
		return;
	}
	posix_spawn_file_actions_destroy(&fa);
	for (end = tt_now() + TT_GDB_TIMEOUT; tt_now() < end;) {
		if (waitpid(child, &status, WNOHANG) == child)
			return;
		usleep(100000);
	}
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	fprintf(stderr, "watchdog: gdb took too long\n");
}

/* Says what every caller does, then how the threads stand; exits 3. */
static void tt_report_stall(unsigned int stuck, double idle)
{
	char desc[512];

	fprintf(stderr, "watchdog: caller %u made no progress for %.1f s "
		"(--stall %.1f)\n", stuck, idle, tt_opt.stall);
	for (unsigned int i = 0; i < tt_opt.callers; i++) {
		struct tt_caller *c = &tt_callers[i];
		int phase = __atomic_load_n(&c->tc_phase, __ATOMIC_RELAXED);
		double since;

		pthread_mutex_lock(&c->tc_lock);
		tt_describe(&c->tc_task, desc, sizeof(desc));
		since = tt_now() - c->tc_task_start;
		pthread_mutex_unlock(&c->tc_lock);
		fprintf(stderr, "  caller %u (tid %d): %s, task of %.1f s, "
			"progress %lu: %s\n", i, (int)c->tc_tid,
			tt_phase_name[phase], since,
			__atomic_load_n(&c->tc_progress, __ATOMIC_RELAXED),
			desc);
	}
	tt_report_threads();
	if (tt_opt.gdb)
		tt_report_stacks();
	fprintf(stderr, "watchdog: giving up: the run is stuck\n");
	fflush(NULL);
	_exit(3);
}

static void *tt_watchdog_main(void *arg)
{
	unsigned long *seen = calloc(tt_opt.callers, sizeof(*seen));
	double *moved = calloc(tt_opt.callers, sizeof(*moved));
	struct timespec tick = { 0, TT_TICK_MS * 1000000L };
	unsigned long n;

	(void)arg;
	for (unsigned int i = 0; seen && moved && i < tt_opt.callers; i++)
		moved[i] = tt_now();
	for (n = 0; seen && moved &&
		    !__atomic_load_n(&tt_watchdog_quit, __ATOMIC_ACQUIRE); n++) {
		double now = tt_now();

		for (unsigned int i = 0; i < tt_opt.callers; i++) {
			struct tt_caller *c = &tt_callers[i];
			unsigned long p = __atomic_load_n(&c->tc_progress,
							  __ATOMIC_RELAXED);
			int phase = __atomic_load_n(&c->tc_phase,
						    __ATOMIC_RELAXED);

			if (p != seen[i] || phase == TT_DONE) {
				seen[i] = p;
				moved[i] = now;
			} else if (now - moved[i] > tt_opt.stall) {
				tt_report_stall(i, now - moved[i]);
			}
		}
		if (n % TT_SAMPLE_EVERY == 0)
			tt_sample();
		nanosleep(&tick, NULL);
	}
	tt_sample();
	free(seen);
	free(moved);
	return NULL;
}

int tt_watchdog_start(void)
{
	return pthread_create(&tt_watchdog, NULL, tt_watchdog_main, NULL);
}

void tt_watchdog_stop(void)
{
	__atomic_store_n(&tt_watchdog_quit, 1, __ATOMIC_RELEASE);
	pthread_join(tt_watchdog, NULL);
}

/*
 * The threads the process may have: main, watchdog, callers, a victim of
 * each caller's cancellation test (cancel.c), and the pool, which never
 * exceeds the usable CPUs less one (ThreadSanitizer adds one of its own).
 */
static long tt_thread_limit(void)
{
	cpu_set_t set;
	long cpus = 1;

	if (!sched_getaffinity(0, sizeof(set), &set))
		cpus = CPU_COUNT(&set);
	return 2 + (long)tt_opt.callers * (tt_opt.cancel ? 2 : 1) +
	       (cpus - 1) + 1;
}

/* Prints the growth figures; returns 1 if they are beyond the limits. */
int tt_growth_verdict(void)
{
	long limit = tt_thread_limit(), grew;
	int bad = 0;

	if (!tt_growth.warm) {
		printf("torture: growth: run shorter than the warm-up, not "
		       "judged\n");
		return 0;
	}
	grew = tt_growth.rss_last - tt_growth.rss_warm;
	printf("torture: growth: RSS %ld KiB after warm-up, %ld KiB at the "
	       "end (%+ld, max %ld, limit +%ld); threads %ld, %ld at the "
	       "end, max %ld (limit %ld)\n", tt_growth.rss_warm,
	       tt_growth.rss_last, grew, tt_growth.rss_max,
	       tt_opt.rss_limit_kib, tt_growth.thr_warm, tt_growth.thr_last,
	       tt_growth.thr_max, limit);
	if (!tt_opt.growth_check)
		return 0;
	if (grew > tt_opt.rss_limit_kib) {
		printf("torture: RSS grew by %ld KiB after warm-up\n", grew);
		bad = 1;
	}
	if (tt_growth.thr_max > limit) {
		printf("torture: %ld threads, more than the %ld possible\n",
		       tt_growth.thr_max, limit);
		bad = 1;
	}
	return bad;
}
