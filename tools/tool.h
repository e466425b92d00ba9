/* SPDX-License-Identifier: MIT */
/*
 * tool.h - what the parts of the ktask command share: the parsed options,
 * the result of one run, and the helpers every subcommand uses.
 *
 * Each subcommand has a *_do() function that does the whole job from
 * options to result, so that `ktask demo` and the tests can call it
 * without going through the command line, and a cmd_*() function that
 * parses its arguments, calls *_do() and prints the result.
 */
#ifndef KTASK_TOOL_H
#define KTASK_TOOL_H

#include <ktask.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TOOL_NAME "ktask"

/* What `ktask clear` maps. */
enum tool_mem {
	TOOL_MEM_ANON,
	TOOL_MEM_THP,
	TOOL_MEM_HUGETLB,
};

/* Options from the command line; zero means "not given". */
struct tool_opts {
	size_t size;		/* bytes to work on */
	size_t min_chunk;	/* --min-chunk, in the task's units */
	size_t threads;		/* --threads: kc_max_threads */
	bool serial;		/* --serial: one thread, no ktask helpers */
	bool json;		/* --json: one JSON object on stdout */
	bool quiet;		/* no progress bar, even on a terminal */
	bool mlock;		/* populate --mlock */
	bool read;		/* populate --read: MADV_POPULATE_READ */
	bool touch;		/* populate --touch: touch pages, no madvise */
	enum tool_mem mem;	/* clear --thp / --hugetlb */
	const char *file;	/* populate --file */
	unsigned int given;	/* TOOL_OPT_* bits of subcommand options */
};

/* Options that only some subcommands take, for checking. */
#define TOOL_OPT_MEM	0x1	/* --thp, --hugetlb: clear */
#define TOOL_OPT_POP	0x2	/* --mlock, --read, --touch, --file: populate */

int tool_check_opts(const char *cmd, const struct tool_opts *o,
		    unsigned int allowed, int argc, int min_args, int max_args);

/* What one run did, for the report and the demo table. */
struct tool_result {
	const char *command;	/* "clear", ... */
	char what[64];		/* e.g. "anonymous", "tmpfs" */
	size_t units;		/* task size in task units */
	const char *unit;	/* "bytes" or "files" */
	size_t bytes;		/* bytes the task covered */
	double seconds;		/* wall time of ktask_run() alone */
	struct ktask_stats stats;
};

/* util.c */
void tool_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
double tool_now(void);
int tool_run(const struct tool_opts *o, void *start, size_t size,
	     size_t granule, struct ktask_ctl *ctl, struct tool_result *r);
void tool_report(const struct tool_opts *o, const struct tool_result *r);
size_t tool_page_size(void);
int tool_test_fail_at(off_t *offset);
int tool_parse_size(const char *cmd, const char *s, size_t *size);

/* size.c */
int size_parse(const char *s, size_t *size);
void size_format(size_t bytes, char *buf, size_t len);

/* progress.c */
void progress_start(const struct tool_opts *o, size_t total,
		    const char *unit);
void progress_add(size_t done);
void progress_stop(void);

/* The subcommands. */
int clear_buffer(const struct tool_opts *o, void *buf, size_t len,
		 size_t granule, struct tool_result *r);
int clear_do(const struct tool_opts *o, struct tool_result *r);
int cmd_clear(struct tool_opts *o, int argc, char **argv);

int populate_buffer(const struct tool_opts *o, void *buf, size_t len,
		    struct tool_result *r);
int populate_do(const struct tool_opts *o, struct tool_result *r);
int cmd_populate(struct tool_opts *o, int argc, char **argv);

int fallocate_do(const struct tool_opts *o, const char *path, off_t len,
		 struct tool_result *r);
int cmd_fallocate(struct tool_opts *o, int argc, char **argv);

int evict_do(const struct tool_opts *o, char **paths, int nr_paths,
	     struct tool_result *r);
int cmd_evict(struct tool_opts *o, int argc, char **argv);

int cmd_demo(struct tool_opts *o, int argc, char **argv);

#endif /* KTASK_TOOL_H */
