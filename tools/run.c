// SPDX-License-Identifier: MIT
/*
 * run.c - runs a subcommand's task with the command-line options applied
 * and a progress bar.  It sits above progress.c and util.c, which know
 * nothing of it: util.c is the leaf that every part uses, progress.c
 * draws the bar with util.c's clock, and this file ties them to ktask_run().
 */
#include <ktask.h>

#include "tool.h"

/**
 * tool_run() - runs one task with the command-line options applied.
 * @o: the options: --threads, --min-chunk and --serial apply here.
 * @start: the task's first position.
 * @size: its size in task units; @r->unit names them.
 * @granule: chunk sizes are rounded up to a multiple of this (pages).
 * @ctl: the task, with the subcommand's own minimum chunk size.
 * @r: gets the time, the size and what ktask decided.
 *
 * --serial caps the task at one thread, so the thread function runs once
 * over the whole range in the caller: the series' CONFIG_KTASK=n.
 *
 * Return: what ktask_run() returned.
 */
int tool_run(const struct tool_opts *o, void *start, size_t size,
	     size_t granule, struct ktask_ctl *ctl, struct tool_result *r)
{
	size_t min = o->min_chunk ? o->min_chunk : ctl->kc_min_chunk_size;
	double t0;
	int err;

	if (granule > 1)
		min = (min + granule - 1) / granule * granule;
	ctl->kc_min_chunk_size = min ? min : 1;
	ktask_ctl_set_max_threads(ctl, o->serial ? 1 : o->threads);

	progress_start(o, size, r->unit);
	t0 = tool_now();
	err = ktask_run(start, size, ctl);
	r->seconds = tool_now() - t0;
	progress_stop();

	ktask_last_stats(&r->stats);
	r->units = size;
	return err;
}
