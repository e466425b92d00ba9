// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * main.c - ktask-torture: many callers run random ktask tasks for as long
 * as asked, each checked against a serial reference (task.c), with
 * occasional forks (forkrun.c) and a watchdog (watchdog.c).  Whatever
 * fault injection the environment turns on (KTASK_FAULT_THREAD_CREATE,
 * KTASK_FAULT_ALLOC) or the build has (KTASK_DEBUG_YIELD) applies.
 *
 * Prints the counts at the end and exits 1 on any mismatch or growth
 * beyond the limits, 3 if the watchdog found the run stuck, 2 on bad use.
 */
#include "torture.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TT_SANITIZED 1
#else
#define TT_SANITIZED 0
#endif

struct tt_options tt_opt = {
	.duration = 10,
	.callers = 16,
	.stall = 30,
	.max_units = 4096,
	.fork = true,
	.cancel = true,
	.nested = true,
	.personas = true,
	.growth_check = !TT_SANITIZED,
	.rss_limit_kib = 8192,
	.gdb = true,
};

struct tt_caller *tt_callers;
int tt_stop;
double tt_start;

double tt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

pid_t tt_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

unsigned int tt_rnd(unsigned int *state, unsigned int n)
{
	/* xorshift32: cheap, and any thread may keep its own state. */
	unsigned int x = *state ? *state : 0x2545f491u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return n ? x % n : x;
}

static void tt_publish(struct tt_caller *c, const struct tt_task *t)
{
	pthread_mutex_lock(&c->tc_lock);
	c->tc_task = *t;
	c->tc_task_start = tt_now();
	pthread_mutex_unlock(&c->tc_lock);
}

static void tt_report_mismatch(struct tt_caller *c, const struct tt_task *t,
			       const char *why, int ret)
{
	char desc[512];

	tt_describe(t, desc, sizeof(desc));
	fprintf(stderr, "torture: MISMATCH caller %u task %lu (seed %u): %s "
		"(returned %d): %s\n", c->tc_id, c->tc_tasks, tt_opt.seed,
		why, ret, desc);
}

static void *tt_caller_main(void *arg)
{
	struct tt_caller *c = arg;
	struct tt_task t;
	const char *why;
	int ret;

	c->tc_tid = tt_gettid();
	if (tt_opt.personas)
		tt_persona_take(c);
	while (!__atomic_load_n(&tt_stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(&c->tc_phase, TT_BUILDING, __ATOMIC_RELAXED);
		tt_make_task(c, &t);
		tt_publish(c, &t);
		__atomic_store_n(&c->tc_phase, TT_RUNNING, __ATOMIC_RELAXED);
		why = t.cancel ? tt_run_cancelled(c, &t, &ret) :
				 tt_run_task(c, &t, &ret);
		__atomic_store_n(&c->tc_phase, TT_CHECKING, __ATOMIC_RELAXED);
		c->tc_failed += ret != 0;
		c->tc_nested += t.nested;
		c->tc_lists += t.list;
		if (why) {
			__atomic_fetch_add(&c->tc_mismatches, 1,
					   __ATOMIC_RELAXED);
			tt_report_mismatch(c, &t, why, ret);
		}
		c->tc_tasks++;
		__atomic_fetch_add(&c->tc_progress, 1, __ATOMIC_RELAXED);
		if (!tt_fork_check(c))
			__atomic_fetch_add(&c->tc_mismatches, 1,
					   __ATOMIC_RELAXED);
		tt_persona_pause(c);
	}
	__atomic_store_n(&c->tc_phase, TT_DONE, __ATOMIC_RELAXED);
	return NULL;
}

static void tt_usage(FILE *f)
{
	fprintf(f,
"usage: ktask-torture [options]\n"
"  -d, --duration SECONDS   how long to run (10)\n"
"  -c, --callers N          caller threads (16)\n"
"  -s, --stall SECONDS      report a caller without progress this long (30)\n"
"  -S, --seed N             random seed (from the clock)\n"
"  -u, --max-units N        largest task, in units (4096, at most 32768)\n"
"      --no-fork            never fork (nor fork from a chunk)\n"
"      --no-cancel          never cancel a caller in the middle of a task\n"
"      --no-nested          no nested ktask_run() calls\n"
"      --no-personas        every caller SCHED_OTHER and unfiltered\n"
"      --no-growth-check    report memory and thread growth, do not judge it\n"
"      --rss-limit KIB      allowed RSS growth after warm-up (8192)\n"
"      --warmup SECONDS     warm-up before growth is measured (duration/4)\n"
"      --no-gdb             no gdb stack traces on a stall\n"
"      --hang               watchdog self-test: one chunk never returns\n"
"      --expect-helpers none|some  fail unless no task had helpers, or\n"
"                           some did (some: only with two usable CPUs)\n"
"  -v, --verbose            print the settings first\n");
}

static const struct option tt_longopts[] = {
	{ "duration", required_argument, NULL, 'd' },
	{ "callers", required_argument, NULL, 'c' },
	{ "stall", required_argument, NULL, 's' },
	{ "seed", required_argument, NULL, 'S' },
	{ "max-units", required_argument, NULL, 'u' },
	{ "no-fork", no_argument, NULL, 'F' },
	{ "no-cancel", no_argument, NULL, 'C' },
	{ "no-nested", no_argument, NULL, 'N' },
	{ "no-personas", no_argument, NULL, 'P' },
	{ "no-growth-check", no_argument, NULL, 'G' },
	{ "rss-limit", required_argument, NULL, 'R' },
	{ "warmup", required_argument, NULL, 'W' },
	{ "no-gdb", no_argument, NULL, 'B' },
	{ "hang", no_argument, NULL, 'H' },
	{ "expect-helpers", required_argument, NULL, 'E' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int tt_parse(int argc, char **argv)
{
	bool seeded = false;
	int o;

	tt_opt.warmup = -1;
	while ((o = getopt_long(argc, argv, "d:c:s:S:u:vh", tt_longopts,
				NULL)) != -1) {
		switch (o) {
		case 'd': tt_opt.duration = atof(optarg); break;
		case 'c': tt_opt.callers = (unsigned int)atoi(optarg); break;
		case 's': tt_opt.stall = atof(optarg); break;
		case 'S':
			tt_opt.seed = (unsigned int)strtoul(optarg, NULL, 0);
			seeded = true;
			break;
		case 'u': tt_opt.max_units = strtoul(optarg, NULL, 0); break;
		case 'F': tt_opt.fork = false; break;
		case 'C': tt_opt.cancel = false; break;
		case 'N': tt_opt.nested = false; break;
		case 'P': tt_opt.personas = false; break;
		case 'G': tt_opt.growth_check = false; break;
		case 'R': tt_opt.rss_limit_kib = atol(optarg); break;
		case 'W': tt_opt.warmup = atof(optarg); break;
		case 'B': tt_opt.gdb = false; break;
		case 'H': tt_opt.hang = true; break;
		case 'E':
			if (strcmp(optarg, "none") && strcmp(optarg, "some"))
				return -1;
			tt_opt.expect_helpers = strcmp(optarg, "none") ? 1 : -1;
			break;
		case 'v': tt_opt.verbose = true; break;
		case 'h': tt_usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc || tt_opt.callers < 1 || tt_opt.callers > 1024 ||
	    tt_opt.max_units > TT_MAX_UNITS || tt_opt.stall <= 0)
		return -1;
	if (!seeded)
		tt_opt.seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	if (tt_opt.warmup < 0)
		tt_opt.warmup = tt_opt.duration / 4;
	return 0;
}

/* Checks --expect-helpers; returns 1 if the helpers were not as said. */
static unsigned long tt_helpers_verdict(unsigned long helped)
{
	cpu_set_t set;

	if (tt_opt.expect_helpers < 0 && helped) {
		printf("torture: %lu tasks had helpers, none expected\n",
		       helped);
		return 1;
	}
	if (tt_opt.expect_helpers > 0 && !helped &&
	    !sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 1) {
		printf("torture: no task had helpers, some expected\n");
		return 1;
	}
	return 0;
}

/* Adds up the callers' counts, prints them; returns the mismatches. */
static unsigned long tt_summary(unsigned long *all)
{
	unsigned long tasks = 0, failed = 0, helped = 0, nested = 0;
	unsigned long lists = 0, forks = 0, bad = 0, chunk_forks = 0;
	unsigned long cancels = 0;
	unsigned int personas[TT_NR_PERSONAS] = { 0 };

	for (unsigned int i = 0; i < tt_opt.callers; i++) {
		struct tt_caller *c = &tt_callers[i];

		tasks += c->tc_tasks;
		failed += c->tc_failed;
		helped += c->tc_helped;
		nested += c->tc_nested;
		lists += c->tc_lists;
		forks += c->tc_forks;
		chunk_forks += c->tc_chunk_forks;
		cancels += c->tc_cancels;
		bad += c->tc_mismatches;
		personas[c->tc_persona]++;
	}
	printf("torture: %lu tasks (%lu with helpers, %lu nested, %lu "
	       "lists), %lu failed on purpose, %lu forks (%lu from a chunk), "
	       "%lu callers cancelled, %lu mismatches (seed %u, %u callers, "
	       "%.0f s)\n", tasks, helped, nested, lists, failed, forks,
	       chunk_forks, cancels, bad, tt_opt.seed, tt_opt.callers,
	       tt_now() - tt_start);
	if (tt_opt.personas) {
		printf("torture: callers");
		for (int p = 0; p < TT_NR_PERSONAS; p++)
			printf(" %u %s%s", personas[p], tt_persona_name(p),
			       p + 1 < TT_NR_PERSONAS ? "," : "\n");
	}
	*all = tasks;
	return bad + tt_helpers_verdict(helped);
}

int main(int argc, char **argv)
{
	unsigned long bad, tasks;
	int growth;

	if (tt_parse(argc, argv)) {
		tt_usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (tt_opt.verbose)
		printf("torture: seed %u, %u callers, %.1f s, stall %.1f s\n",
		       tt_opt.seed, tt_opt.callers, tt_opt.duration,
		       tt_opt.stall);
	tt_probe_nids();
	tt_callers = calloc(tt_opt.callers, sizeof(*tt_callers));
	if (!tt_callers)
		return 2;
	for (unsigned int i = 0; i < tt_opt.callers; i++) {
		tt_callers[i].tc_id = i;
		tt_callers[i].tc_rng = tt_opt.seed * 2654435761u + i + 1;
		if (tt_caller_alloc(&tt_callers[i])) {
			fprintf(stderr, "torture: out of memory\n");
			return 2;
		}
	}
	tt_start = tt_now();
	if (tt_watchdog_start())
		return 2;
	for (unsigned int i = 0; i < tt_opt.callers; i++)
		if (pthread_create(&tt_callers[i].tc_thread, NULL,
				   tt_caller_main, &tt_callers[i]))
			return 2;
	while (tt_now() - tt_start < tt_opt.duration)
		usleep(50000);
	__atomic_store_n(&tt_stop, 1, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < tt_opt.callers; i++)
		pthread_join(tt_callers[i].tc_thread, NULL);
	tt_watchdog_stop();

	bad = tt_summary(&tasks);
	growth = tt_growth_verdict();
	for (unsigned int i = 0; i < tt_opt.callers; i++)
		tt_caller_free(&tt_callers[i]);
	free(tt_callers);
	/* Every task is a check, and so is the growth verdict. */
	printf("%lu passed, %lu failed\n", tasks - bad + (growth == 0),
	       bad + (growth != 0));
	return bad || growth ? 1 : 0;
}
