// SPDX-License-Identifier: MIT
/*
 * demo.c - `ktask demo`: every subcommand, serially and with ktask, on a
 * size that suits a small machine, as a table of times and speedups.
 *
 * The sizes are built in (1 GiB of memory, a 1 GiB file on /dev/shm, 64
 * files of 4 MiB under $TMPDIR), so that the demo fits a 2-CPU machine with
 * a few GiB free and finishes in seconds.  Each case runs DEMO_RUNS times
 * each way, alternating, and the best time counts, which evens out the
 * noise of a shared machine.  Everything the demo creates is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#define DEMO_RUNS 3
#define DEMO_MEM (1UL << 30)
#define DEMO_FILE (1UL << 30)
#define DEMO_NR_FILES 64
#define DEMO_FILE_SIZE (4UL << 20)

struct demo_ctx {
	char file[4096];	/* the fallocate demo's file */
	char dir[4096];		/* the evict demo's directory */
	char *paths[1];		/* evict_do()'s argument: dir */
};

struct demo_case {
	const char *name;
	int (*run)(struct demo_ctx *d, const struct tool_opts *o,
		   struct tool_result *r);
};

/*
 * Clears transparent huge pages: the seed's huge page clearing, and 4 KiB
 * faults cost so much on some virtual machines that they would swamp the
 * demo's time with page fault overhead.
 */
static int demo_clear(struct demo_ctx *d, const struct tool_opts *o,
		      struct tool_result *r)
{
	struct tool_opts co = *o;

	(void)d;
	co.mem = TOOL_MEM_THP;
	return clear_do(&co, r);
}

static int demo_populate(struct demo_ctx *d, const struct tool_opts *o,
			 struct tool_result *r)
{
	(void)d;
	return populate_do(o, r);
}

static int demo_fallocate(struct demo_ctx *d, const struct tool_opts *o,
			  struct tool_result *r)
{
	int err = fallocate_do(o, d->file, DEMO_FILE, r);

	unlink(d->file);
	return err;
}

/* Reads a file through, so that its pages are in the page cache. */
static int demo_cache_file(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return n < 0 ? -1 : 0;
}

static int demo_evict(struct demo_ctx *d, const struct tool_opts *o,
		      struct tool_result *r)
{
	struct tool_opts eo = *o;
	char path[4200];
	int i;

	for (i = 0; i < DEMO_NR_FILES; i++) {
		snprintf(path, sizeof(path), "%s/f%02d", d->dir, i);
		if (demo_cache_file(path)) {
			tool_error("demo", "%s: %s", path, strerror(errno));
			return 1;
		}
	}
	/* --min-chunk is in bytes for the other cases: files here. */
	eo.min_chunk = 0;
	return evict_do(&eo, d->paths, 1, r);
}

/* Writes the evict demo's files and syncs them, so they are clean. */
static int demo_make_files(struct demo_ctx *d)
{
	static char buf[DEMO_FILE_SIZE];
	char path[4200];
	int i, fd;

	memset(buf, 'k', sizeof(buf));
	for (i = 0; i < DEMO_NR_FILES; i++) {
		snprintf(path, sizeof(path), "%s/f%02d", d->dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf)) {
			tool_error("demo", "%s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	sync();
	return 0;
}

static void demo_remove_files(struct demo_ctx *d)
{
	char path[4200];
	int i;

	for (i = 0; i < DEMO_NR_FILES; i++) {
		snprintf(path, sizeof(path), "%s/f%02d", d->dir, i);
		unlink(path);
	}
	rmdir(d->dir);
}

static int demo_setup(struct demo_ctx *d)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (!tmp || !*tmp)
		tmp = "/var/tmp";
	snprintf(d->file, sizeof(d->file), "%s/ktask-demo.%d",
		 stat("/dev/shm", &st) || access("/dev/shm", W_OK) ?
		 tmp : "/dev/shm", (int)getpid());
	snprintf(d->dir, sizeof(d->dir), "%s/ktask-demo.XXXXXX", tmp);
	if (!mkdtemp(d->dir)) {
		tool_error("demo", "%s: %s", d->dir, strerror(errno));
		return -1;
	}
	d->paths[0] = d->dir;
	if (demo_make_files(d)) {
		demo_remove_files(d);
		return -1;
	}
	return 0;
}

/* Runs a case serially and with ktask; keeps the best time of each. */
static int demo_run_case(struct demo_ctx *d, const struct demo_case *c,
			 const struct tool_opts *base,
			 struct tool_result best[2])
{
	struct tool_opts o = *base;
	struct tool_result r;
	int run, way;

	for (run = 0; run < DEMO_RUNS; run++)
		for (way = 0; way < 2; way++) {
			memset(&r, 0, sizeof(r));
			o.serial = !way;
			if (c->run(d, &o, &r))
				return -1;
			if (!run || r.seconds < best[way].seconds)
				best[way] = r;
		}
	return 0;
}

static void demo_print_row(const struct tool_opts *o,
			   const struct tool_result res[2], bool last)
{
	const struct tool_result *s = &res[0], *k = &res[1];
	double speedup = k->seconds > 0 ? s->seconds / k->seconds : 0;
	char size[32], what[64];

	if (o->json) {
		printf("{\"command\":\"%s\",\"what\":\"%s\",\"units\":%zu,"
		       "\"unit\":\"%s\",\"bytes\":%zu,\"serial_seconds\":%.6f,"
		       "\"ktask_seconds\":%.6f,\"threads\":%zu,"
		       "\"speedup\":%.3f}%s\n", k->command, k->what, k->units,
		       k->unit, k->bytes, s->seconds, k->seconds,
		       k->stats.ks_helpers + 1, speedup, last ? "" : ",");
		return;
	}
	size_format(k->bytes, size, sizeof(size));
	if (strcmp(k->unit, "bytes"))
		snprintf(what, sizeof(what), "%zu files, %s", k->units,
			 k->what);
	else
		snprintf(what, sizeof(what), "%s", k->what);
	printf("%-10s %10s  %-22s %8.3f s %8.3f s %7zu %7.2fx\n", k->command,
	       size, what, s->seconds, k->seconds, k->stats.ks_helpers + 1,
	       speedup);
}

static const struct demo_case demo_cases[] = {
	{ "clear", demo_clear },
	{ "populate", demo_populate },
	{ "fallocate", demo_fallocate },
	{ "evict", demo_evict },
};
#define DEMO_NR_CASES (sizeof(demo_cases) / sizeof(demo_cases[0]))

static void demo_header(const struct tool_opts *o)
{
	if (o->json) {
		printf("{\"command\":\"demo\",\"runs\":%d,\"results\":[\n",
		       DEMO_RUNS);
		return;
	}
	printf("ktask demo: %ld CPUs online, best of %d runs each way\n\n",
	       sysconf(_SC_NPROCESSORS_ONLN), DEMO_RUNS);
	printf("%-10s %10s  %-22s %10s %10s %7s %8s\n", "command", "size",
	       "what", "serial", "ktask", "threads", "speedup");
}

/* `ktask demo`: takes --threads, --min-chunk and --json. */
int cmd_demo(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("demo", o, 0, argc, 0, 0);
	struct tool_result res[DEMO_NR_CASES][2];
	struct demo_ctx d;
	size_t i;

	(void)argv;
	if (ret)
		return ret;
	if (o->serial) {
		tool_error("demo", "--serial makes no sense here: the demo "
			   "runs both ways");
		return 2;
	}
	o->quiet = true;
	o->size = DEMO_MEM;
	if (demo_setup(&d))
		return 1;
	for (i = 0; i < DEMO_NR_CASES && !ret; i++)
		ret = demo_run_case(&d, &demo_cases[i], o, res[i]) ? 1 : 0;
	demo_remove_files(&d);
	if (ret)
		return ret;
	demo_header(o);
	for (i = 0; i < DEMO_NR_CASES; i++)
		demo_print_row(o, res[i], i + 1 == DEMO_NR_CASES);
	if (o->json)
		printf("]}\n");
	return 0;
}
