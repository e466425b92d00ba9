// SPDX-License-Identifier: MIT
/*
 * util.c - what every subcommand does the same way: run a task through
 * ktask with the command-line options applied, time it, report it, and
 * print errors as one line on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

/**
 * tool_error() - prints "ktask: CMD: message" as one line on stderr.
 * @cmd: the subcommand, or NULL for the command as a whole.
 * @fmt: printf format of the message, without a trailing newline.
 */
void tool_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", TOOL_NAME);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Seconds on the monotonic clock. */
double tool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

size_t tool_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}

/**
 * tool_test_fail_at() - the tests' failure injection hook.
 * @offset: set to the byte offset from KTASK_TEST_FAIL_AT.
 *
 * The tests set KTASK_TEST_FAIL_AT=<offset> to make the chunk of a
 * fallocate task that holds that offset fail with ENOSPC part way, which
 * no filesystem does on demand.  It is not documented for users.
 *
 * Return: 1 if the hook is set to a valid offset, else 0.
 */
int tool_test_fail_at(off_t *offset)
{
	const char *s = getenv("KTASK_TEST_FAIL_AT");
	size_t v;

	if (!s || size_parse(s, &v) || (off_t)v < 0)
		return 0;
	*offset = (off_t)v;
	return 1;
}

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

static void tool_report_json(const struct tool_result *r)
{
	printf("{\"command\":\"%s\",\"what\":\"%s\",\"units\":%zu,"
	       "\"unit\":\"%s\",\"bytes\":%zu,\"seconds\":%.6f,"
	       "\"gb_per_s\":%.3f,\"threads\":%zu,\"helpers\":%zu,"
	       "\"chunk\":%zu}\n",
	       r->command, r->what, r->units, r->unit, r->bytes, r->seconds,
	       r->seconds > 0 ? r->bytes / r->seconds / 1e9 : 0.0,
	       r->stats.ks_threads, r->stats.ks_helpers,
	       r->stats.ks_chunk_size);
}

/**
 * tool_report() - prints what a run did: one line, or one JSON object.
 * @o: the options (--json).
 * @r: the result.
 */
void tool_report(const struct tool_opts *o, const struct tool_result *r)
{
	char sz[32], chunk[32];
	double secs = r->seconds > 0 ? r->seconds : 1e-9;

	if (o->json) {
		tool_report_json(r);
		return;
	}
	size_format(r->bytes, sz, sizeof(sz));
	if (!strcmp(r->unit, "bytes")) {
		size_format(r->stats.ks_chunk_size, chunk, sizeof(chunk));
		printf("%s: %s %s in %.3f s (%.2f GB/s)", r->command, sz,
		       r->what, r->seconds, r->bytes / secs / 1e9);
	} else {
		snprintf(chunk, sizeof(chunk), "%zu %s",
			 r->stats.ks_chunk_size, r->unit);
		printf("%s: %zu %s (%s) in %.3f s (%.0f %s/s)", r->command,
		       r->units, r->unit, sz, r->seconds, r->units / secs,
		       r->unit);
	}
	printf(", %zu thread%s, chunk %s\n", r->stats.ks_helpers + 1,
	       r->stats.ks_helpers ? "s" : "", chunk);
}

/**
 * tool_check_opts() - refuses options and arguments a subcommand doesn't take.
 * @cmd: the subcommand.
 * @o: the options.
 * @allowed: the TOOL_OPT_* bits the subcommand takes.
 * @argc: its positional arguments.
 * @min_args: the fewest it takes.
 * @max_args: the most it takes, or -1 for no limit.
 *
 * Return: 0, or 2 (the usage error exit code) after printing why.
 */
int tool_check_opts(const char *cmd, const struct tool_opts *o,
		    unsigned int allowed, int argc, int min_args, int max_args)
{
	if (o->given & ~allowed & TOOL_OPT_MEM) {
		tool_error(cmd, "--thp and --hugetlb apply to clear only");
		return 2;
	}
	if (o->given & ~allowed & TOOL_OPT_POP) {
		tool_error(cmd, "--mlock, --read, --touch and --file apply to "
			   "populate only");
		return 2;
	}
	if (argc < min_args) {
		tool_error(cmd, "missing argument (see ktask --help)");
		return 2;
	}
	if (max_args >= 0 && argc > max_args) {
		tool_error(cmd, "too many arguments (see ktask --help)");
		return 2;
	}
	return 0;
}

/**
 * tool_parse_size() - reads a size argument, refusing 0 and bad text.
 * @cmd: the subcommand, for the error.
 * @s: the text.
 * @size: set on success.
 *
 * Return: 0, or 2 (the usage error exit code) after printing why.
 */
int tool_parse_size(const char *cmd, const char *s, size_t *size)
{
	int err = size_parse(s, size);

	if (err == -ERANGE) {
		tool_error(cmd, "size too large: '%s'", s);
		return 2;
	}
	if (err || !*size) {
		tool_error(cmd, "invalid size '%s' (examples: 4096, 512M, 4G)",
			   s);
		return 2;
	}
	return 0;
}
