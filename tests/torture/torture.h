/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * torture.h - what the parts of ktask-torture share: options, the caller
 * threads and what each publishes for the watchdog, and the random task.
 *
 * Locking legend: [A] atomics only, [M] the caller's tc_lock (written by
 * the caller, read by the watchdog), [O] the caller's own thread.
 */
#ifndef KTASK_TORTURE_H
#define KTASK_TORTURE_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ktask.h>

#define TT_MAX_UNITS 32768
#define TT_MAX_NODES 4
#define TT_MAX_FAILS 4
#define TT_MAX_NIDS 8

struct tt_options {
	double duration;	/* seconds */
	unsigned int callers;
	double stall;		/* seconds without progress before reporting */
	unsigned int seed;
	size_t max_units;
	bool fork;
	bool cancel;		/* cancel callers in the middle of a task */
	bool nested;
	bool personas;		/* callers of other policies, a filter */
	bool hang;		/* watchdog self-test: one chunk never returns */
	bool growth_check;	/* fail on RSS or thread growth */
	long rss_limit_kib;	/* allowed RSS growth after warm-up */
	double warmup;		/* seconds */
	bool gdb;		/* stack traces through gdb on a stall */
	bool verbose;
	int expect_helpers;	/* -1 none may join, 1 some must, 0 any */
};

extern struct tt_options tt_opt;

/* One item of a linked-list task; its rank is its position in the list. */
struct tt_item {
	struct tt_item *next;
	size_t rank;
	void *run;	/* the run the item belongs to, for the iterator */
};

/* A random task, as the caller built it. */
struct tt_task {
	unsigned int seed;
	size_t size;
	bool list;
	bool nested;
	bool numa_call;		/* ktask_run_numa() rather than ktask_run() */
	bool with_undo;
	bool slow;		/* chunks yield now and then */
	bool hang;		/* one chunk never returns (--hang) */
	bool fork_in_chunk;	/* the caller forks from a chunk (list task) */
	bool cancel;		/* run on a thread cancelled mid-task */
	size_t nr_nodes;
	size_t node_off[TT_MAX_NODES + 1];	/* node k: [off[k], off[k+1]) */
	int nid[TT_MAX_NODES];
	size_t min_chunk;
	size_t max_threads;
	unsigned int flags;
	size_t nr_fails;
	size_t fail_unit[TT_MAX_FAILS];
	int fail_err[TT_MAX_FAILS];
};

/* Where a caller is, for the watchdog's report. */
enum tt_phase {
	TT_IDLE,
	TT_BUILDING,
	TT_RUNNING,
	TT_CHECKING,
	TT_FORKED,
	TT_DONE,
};

struct tt_caller {
	unsigned int tc_id;
	pthread_t tc_thread;
	pid_t tc_tid;				/* [O] set once at start */
	unsigned int tc_rng;			/* [O] */
	/* Buffers reused by every task of this caller. */
	unsigned char *tc_base;			/* range positions */
	struct tt_item *tc_items;		/* list positions */
	int *tc_done;				/* [A] per unit */
	int *tc_undone;				/* per unit, caller only */
	size_t *tc_order;			/* list order scratch */
	uint32_t *tc_data;			/* per unit result */
	/* Published for the watchdog. */
	unsigned long tc_progress;		/* [A] chunks and tasks */
	int tc_phase;				/* [A] enum tt_phase */
	pthread_mutex_t tc_lock;
	struct tt_task tc_task;			/* [M] current task */
	double tc_task_start;			/* [M] */
	/* Counts. */
	unsigned long tc_tasks, tc_failed, tc_helped, tc_nested, tc_lists;
	unsigned long tc_forks, tc_mismatches;	/* [A] */
	unsigned long tc_chunk_forks, tc_cancels;
	int tc_victim_in_chunk;			/* [A] see cancel.c */
	int tc_persona;				/* [O] set once: enum below */
	int tc_policy;				/* [O] its policy, SCHED_* */
};

/* persona.c: what a caller is, chosen at its start (docs/torture.md). */
enum tt_persona {
	TT_PLAIN, TT_BATCH, TT_SCHED_IDLE, TT_FIFO, TT_FILTERED, TT_NR_PERSONAS
};
void tt_persona_take(struct tt_caller *c);
bool tt_persona_check(const struct tt_caller *c);
void tt_persona_pause(const struct tt_caller *c);
const char *tt_persona_name(int p);

/* Globals: the callers, and whether they should stop. */
extern struct tt_caller *tt_callers;
extern int tt_stop;				/* [A] */
extern double tt_start;

double tt_now(void);
pid_t tt_gettid(void);
unsigned int tt_rnd(unsigned int *state, unsigned int n);

/* task.c */
void tt_probe_nids(void);
int tt_caller_alloc(struct tt_caller *c);
void tt_caller_free(struct tt_caller *c);
void tt_make_task(struct tt_caller *c, struct tt_task *t);
const char *tt_run_task(struct tt_caller *c, const struct tt_task *t,
			int *ret);
void tt_describe(const struct tt_task *t, char *buf, size_t size);

/* forkrun.c */
bool tt_fork_check(struct tt_caller *c);
bool tt_fork_claim(void);
void tt_child(struct tt_caller *c, int fd) __attribute__((noreturn));
bool tt_reap(struct tt_caller *c, pid_t pid, int fd);

/* cancel.c */
const char *tt_run_cancelled(struct tt_caller *c, const struct tt_task *t,
			     int *ret);

/* watchdog.c */
int tt_watchdog_start(void);
void tt_watchdog_stop(void);
int tt_growth_verdict(void);

#endif /* KTASK_TORTURE_H */
