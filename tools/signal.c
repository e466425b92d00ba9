// SPDX-License-Identifier: MIT
/*
 * signal.c - SIGINT and SIGTERM stop a job cleanly.
 *
 * The jobs that change a file (fallocate, populate --file) promise all or
 * nothing, and a signal must not break that promise.  The signal is only
 * recorded; every thread function calls tool_step_done() after
 * each step, which then fails the chunk with -EINTR.  From there the
 * ordinary error path does the rest: ktask hands out no more chunks, the
 * failed chunk undoes its own part, the undo function releases the chunks
 * that completed, and the command puts the file back and exits with
 * 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as a shell
 * does for a process a signal killed.
 *
 * The signals are blocked in every thread and taken by one thread of the
 * command's own with sigwait(2), which sets an atomic flag.  No handler
 * interrupts a thread in the middle of anything, and no thread can be
 * waiting for a handler that a sanitizer defers until its thread leaves a
 * futex wait (a worker paused by the test hook, the caller waiting for it:
 * a deadlock under ThreadSanitizer).  A step is 64 MiB (1 GiB when the
 * kernel's ktask runs fallocate; fallocate doubles a step that took under
 * 2 ms, up to 1 GiB), so the job stops within one step.
 * A second signal during the undo is ignored: the undo finishes.  The
 * same thread takes the lease signal (lease.c): another process opened a
 * file the job holds a lease on.
 *
 * A test hook makes "a signal in the middle of the job" happen at a known
 * point: with KTASK_TEST_PAUSE_AFTER=N, a thread that has just finished
 * the job's Nth step (or any later one) writes "ktask: test: paused after
 * N steps" to stderr and waits, up to a minute, for a signal (or for the
 * file KTASK_TEST_RESUME names to exist: then it goes on).  Test scripts
 * wait for that line and send the signal, or act and let it go on.  Unset, the hook costs
 * one relaxed load per step.  It is documented for tests only.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define PAUSE_LIMIT_MS 60000

/* Set by the signal thread, read by every thread. */
static atomic_int stop_signal;
static atomic_size_t steps_done;
static size_t pause_after;	/* 0: the hook is off */
static sigset_t stop_set;
static bool signals_no_thread;	/* the fallback handler runs instead */

static void stop(int sig)
{
	int none = 0;

	/* The first signal names the exit code. */
	atomic_compare_exchange_strong(&stop_signal, &none, sig);
}

static void *signal_thread(void *arg)
{
	int sig;

	(void)arg;
	for (;;) {
		if (sigwait(&stop_set, &sig))
			continue;
		if (sig == TOOL_LEASE_SIGNAL)
			tool_lease_broken_now();
		else
			stop(sig);
	}
	return NULL;
}

/**
 * tool_catch_signals() - from now on SIGINT and SIGTERM stop the job.
 *
 * Call it before any other thread is started, so that all inherit the
 * blocked signals.  If the signal thread cannot be started, a handler
 * does its job.  Also arms the test hook from KTASK_TEST_PAUSE_AFTER.
 */
void tool_catch_signals(void)
{
	const char *s = getenv("KTASK_TEST_PAUSE_AFTER");
	static bool caught;
	struct sigaction sa;
	pthread_t thread;

	if (caught)
		return;
	caught = true;
	atomic_store(&steps_done, 0);
	pause_after = s ? strtoul(s, NULL, 10) : 0;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, TOOL_LEASE_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
	if (!pthread_create(&thread, NULL, signal_thread, NULL)) {
		pthread_detach(thread);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* No thread to take the lease signal: tool_lease_take() fails. */
	sigdelset(&stop_set, TOOL_LEASE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &stop_set, NULL);
	signals_no_thread = true;
}

/* The signal that stopped the job, or 0. */
int tool_stop_signal(void)
{
	return atomic_load_explicit(&stop_signal, memory_order_relaxed);
}

/* The test hook: wait for the signal the test is about to send. */
static void pause_for_signal(size_t n)
{
	const char *resume = getenv("KTASK_TEST_RESUME");
	struct timespec ms = { 0, 1000000 };
	char line[64];
	int i, len;

	len = snprintf(line, sizeof(line), "%s: test: paused after %zu steps\n",
		       TOOL_NAME, n);
	if (write(STDERR_FILENO, line, len) < 0)
		return;
	for (i = 0; i < PAUSE_LIMIT_MS && !tool_stop_signal(); i++) {
		if (resume && !access(resume, F_OK))
			break;
		nanosleep(&ms, NULL);
	}
}

/**
 * tool_step_done() - called by thread functions after each step of work.
 *
 * Return: 0 to go on, or -EINTR once SIGINT or SIGTERM has arrived.
 */
int tool_step_done(void)
{
	size_t n;

	if (pause_after) {
		n = atomic_fetch_add_explicit(&steps_done, 1,
					      memory_order_relaxed) + 1;
		if (n >= pause_after && !tool_stop_signal())
			pause_for_signal(pause_after);
	}
	return tool_stop_signal() ? -EINTR : 0;
}

/**
 * tool_exit_code() - the exit code for a job that ended with @err.
 * @err: 0 or 1, what the job returned.
 *
 * Return: 128 + the signal if a signal stopped the job, else @err.
 */
int tool_exit_code(int err)
{
	int sig = tool_stop_signal();

	return sig && err ? 128 + sig : err;
}

/* Whether the signal thread runs, which leases need. */
bool tool_signal_thread(void)
{
	return !signals_no_thread;
}
