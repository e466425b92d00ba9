// SPDX-License-Identifier: MIT
/*
 * progress.c - a progress bar on stderr for work that takes over a second.
 *
 * Thread functions add what they finished with progress_add(), one relaxed
 * atomic add per step, so the bar costs the workers nearly nothing.  A
 * separate thread wakes every 100 ms and draws; it draws nothing during
 * the first second, so short runs stay silent, and it is never started
 * when stderr is not a terminal or the output is JSON.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define PROGRESS_DELAY 1.0	/* seconds before the bar first appears */
#define PROGRESS_TICK_NS 100000000L
#define PROGRESS_WIDTH 30

static struct {
	atomic_size_t done;	/* units finished so far */
	atomic_bool stop;	/* set by progress_stop() */
	size_t total;
	const char *unit;
	double start;
	bool running;		/* the drawing thread exists */
	bool drawn;		/* something is on the line to erase */
	pthread_t thread;
} bar;

/* Writes "1.00 GiB" for byte tasks and "123" for others. */
static void progress_amount(size_t n, char *buf, size_t len)
{
	if (!strcmp(bar.unit, "bytes"))
		size_format(n, buf, len);
	else
		snprintf(buf, len, "%zu", n);
}

static void progress_draw(void)
{
	size_t done = atomic_load_explicit(&bar.done, memory_order_relaxed);
	double secs = tool_now() - bar.start;
	char d[32], t[32], rate[32], hashes[PROGRESS_WIDTH + 1];
	size_t fill;

	if (done > bar.total)
		done = bar.total;
	fill = bar.total ? done * PROGRESS_WIDTH / bar.total : 0;
	memset(hashes, '#', fill);
	memset(hashes + fill, '.', PROGRESS_WIDTH - fill);
	hashes[PROGRESS_WIDTH] = '\0';
	progress_amount(done, d, sizeof(d));
	progress_amount(bar.total, t, sizeof(t));
	progress_amount((size_t)(done / secs), rate, sizeof(rate));
	fprintf(stderr, "\r[%s] %s / %s  %s%s/s \033[K", hashes, d, t, rate,
		strcmp(bar.unit, "bytes") ? " files" : "");
	bar.drawn = true;
}

static void *progress_thread(void *arg)
{
	struct timespec tick = { 0, PROGRESS_TICK_NS };

	(void)arg;
	while (!atomic_load(&bar.stop)) {
		nanosleep(&tick, NULL);
		if (!atomic_load(&bar.stop) &&
		    tool_now() - bar.start >= PROGRESS_DELAY)
			progress_draw();
	}
	return NULL;
}

/**
 * progress_start() - begins counting a task of @total @unit.
 * @o: the options; --json and --quiet keep the bar off.
 * @total: units in the task.
 * @unit: "bytes" or "files".
 */
void progress_start(const struct tool_opts *o, size_t total, const char *unit)
{
	atomic_store(&bar.done, 0);
	atomic_store(&bar.stop, false);
	bar.total = total;
	bar.unit = unit;
	bar.start = tool_now();
	bar.drawn = false;
	bar.running = false;
	if (o->json || o->quiet || !isatty(STDERR_FILENO))
		return;
	/* No thread, no bar: the work itself does not depend on it. */
	bar.running = !pthread_create(&bar.thread, NULL, progress_thread, NULL);
}

/* Counts @done more units finished; safe from any thread. */
void progress_add(size_t done)
{
	atomic_fetch_add_explicit(&bar.done, done, memory_order_relaxed);
}

/* Stops the bar and erases it, leaving the line clean for the report. */
void progress_stop(void)
{
	if (!bar.running)
		return;
	atomic_store(&bar.stop, true);
	pthread_join(bar.thread, NULL);
	bar.running = false;
	if (bar.drawn)
		fputs("\r\033[K", stderr);
}
