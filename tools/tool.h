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
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
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
	bool write;		/* populate --write: dirty every page */
	bool verbose;		/* --verbose: say which method and why */
	bool force;		/* --force: skip the memory limit check */
	enum tool_mem mem;	/* clear --thp / --hugetlb */
	const char *file;	/* populate --file */
	bool cross_mounts;	/* evict --cross-mounts */
	int evict_mode;		/* 'n': evict --dry-run; 'r': residency */
	off_t max_size;		/* evict --max-size: larger files skipped */
	const char *include[16];	/* --include PATTERN: only these files */
	const char *exclude[16];	/* --exclude PATTERN: not these */
	int nr_include, nr_exclude;
	const char *files_from;	/* --files-from FILE ("-": stdin) */
	bool files;		/* populate --files PATH...: the page cache */
	bool lock;		/* populate --files --lock: stay resident */
	bool daemon;		/* ... in the background */
	const char *pidfile;	/* ... writing its pid here */
	off_t offset;		/* fallocate --offset */
	off_t length;		/* fallocate --length, or -1 */
	bool keep_size;		/* fallocate --keep-size */
	int falloc_mode;	/* 'p' punch, 'z' zero, 'd' dig, or 0 */
	unsigned int given;	/* TOOL_OPT_* bits of subcommand options */
};

/* Options that only some subcommands take, for checking. */
#define TOOL_OPT_MEM	0x1	/* --thp, --hugetlb: clear */
#define TOOL_OPT_POP	0x2	/* --mlock, --read, --touch, --file, --write */
#define TOOL_OPT_FORCE	0x4	/* --force: clear, populate */
#define TOOL_OPT_EVICT	0x8	/* -x, --cross-mounts: evict */
#define TOOL_OPT_FALLOC	0x10	/* -o, -n, -p, -z, -d, -l: fallocate */

int tool_check_opts(const char *cmd, const struct tool_opts *o,
		    unsigned int allowed, int argc, int min_args, int max_args);

/* What one run did, for the report and the demo table. */
struct tool_result {
	const char *command;	/* "clear", ... */
	char what[64];		/* e.g. "anonymous", "tmpfs" */
	size_t units;		/* task size in task units */
	const char *unit;	/* "bytes" or "files" */
	size_t bytes;		/* bytes the task covered */
	bool moves_data;	/* a rate in GB/s means something */
	bool kernel_ktask;	/* the running kernel has ktask built in */
	char method[160];	/* how the job was done, and why */
	const char *how;	/* the method in a few words, for the demo */
	bool one_thread;	/* the method is serial whatever the options */
	double seconds;		/* wall time of ktask_run() alone */
	const char *create;	/* fallocate: "O_TMPFILE", "rename", "existing" */
	const char *undo;	/* "discard", "lease", "none" on failure */
	char sharing[192];	/* the same in a sentence, for --verbose */
	size_t skipped;		/* evict: files that vanished or changed */
	size_t pages;		/* evict, residency: pages of the files */
	size_t resident;	/* residency: of them in the page cache */
	bool reported;		/* populate --lock: printed before the wait */
	char phases[160];	/* --verbose: where the time went */
	struct ktask_stats stats;
};

/* util.c (and run.c: tool_run()) */
void tool_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tool_note(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *tool_first_error(void);
void tool_json_string(FILE *f, const char *s);
void tool_escape(const char *s, char *buf, size_t len);
double tool_now(void);
int tool_run(const struct tool_opts *o, void *start, size_t size,
	     size_t granule, struct ktask_ctl *ctl, struct tool_result *r);
void tool_report(const struct tool_opts *o, const struct tool_result *r);
size_t tool_page_size(void);
int tool_test_fail_at(off_t *offset);
void tool_test_before_lease(void);
void tool_test_in_undo(void);
int tool_parse_size(const char *cmd, const char *s, size_t *size);
const char *tool_plural(size_t n, const char *one, const char *many);
int tool_open_regular(const char *path, int flags, struct stat *st);
const char *tool_open_error(int err);
int tool_reopen(int fd, int flags);

/* signal.c: SIGINT and SIGTERM stop a job, which is then undone. */
void tool_catch_signals(void);
int tool_stop_signal(void);
int tool_step_done(void);
int tool_exit_code(int err);
bool tool_signal_thread(void);

/* lease.c: undo on an existing file only while no one else has it open. */
#define TOOL_LEASE_SIGNAL (SIGRTMIN + 2)
int tool_lease_take(int fd);
void tool_lease_broken_now(void);
bool tool_lease_broken(void);
bool tool_undo_begin(void);
void tool_undo_end(void);
void tool_lease_release(void);
const char *tool_lease_why(int err);

/* holes.c: the holes of a file, which are all a job may allocate or undo. */
struct tool_hole {
	off_t start;
	off_t end;
};

struct tool_holes {
	int fd;
	struct tool_hole *v;	/* sorted, disjoint */
	size_t nr;
	size_t cap;		/* room in v */
	size_t bytes;		/* their total length */
	bool inexact;		/* preallocated space somewhere unknown */
	bool eof_alloc;		/* blocks were allocated past the end */
};

typedef int (*tool_hole_fn)(struct tool_holes *h, off_t off, off_t len,
			    void *arg);
struct stat;
int holes_find(struct tool_holes *h, const struct stat *st, off_t len);
int holes_add(struct tool_holes *h, off_t start, off_t end);
int holes_for_each(struct tool_holes *h, off_t start, off_t end,
		   tool_hole_fn fn, void *arg);
int holes_punch(struct tool_holes *h, off_t start, off_t end);
int holes_punch_seek(int fd, off_t start, off_t end);
void holes_trim(struct tool_holes *h, off_t start);
void holes_free(struct tool_holes *h);

/* fsinfo.c: what kind of filesystem a file is on. */
enum tool_fs {
	TOOL_FS_OTHER,
	TOOL_FS_TMPFS,
	TOOL_FS_HUGETLBFS,
	TOOL_FS_RAMFS,
	TOOL_FS_EXT4,
	TOOL_FS_XFS,
	TOOL_FS_BTRFS,
};

struct tool_fsinfo {
	enum tool_fs fs;
	const char *name;	/* "tmpfs", ... or "file" */
	size_t block;		/* its block size; the huge page size */
	size_t avail;		/* bytes free for an unprivileged user */
	bool memory;		/* its pages are memory: tmpfs, hugetlbfs */
};

int tool_fsinfo(int fd, struct tool_fsinfo *fi);
bool tool_kernel_ktask(void);

/* memlimit.c: refuse what the process may not use. */
int tool_check_memory(const char *cmd, const struct tool_opts *o,
		      size_t bytes);
size_t tool_mem_headroom(char *why, size_t why_len);

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
int cmd_residency(struct tool_opts *o, int argc, char **argv);
int populate_files(struct tool_opts *o, int argc, char **argv);

int cmd_demo(struct tool_opts *o, int argc, char **argv);

#endif /* KTASK_TOOL_H */
