// SPDX-License-Identifier: MIT
/*
 * demo.c - `ktask demo`: every subcommand, serially and with ktask, on a
 * size that suits a small machine, as a table of times and speedups.
 *
 * The sizes are built in (1 GiB of memory, a 1 GiB file on /dev/shm, 64
 * files of 4 MiB under $TMPDIR, each in a directory of its own made by
 * mkdtemp(3)), so that the demo fits a 2-CPU machine with
 * a few GiB free and finishes in seconds; a hugetlbfs row is added when a
 * hugetlbfs mount has 1 GiB of free huge pages.  Each case runs DEMO_RUNS
 * times each way, alternating, and the best time counts, which evens out
 * the noise of a shared machine.  Everything the demo creates is removed.
 *
 * Where ktask's method for a job is the serial one (fallocate on tmpfs:
 * one fallocate(2) in one thread is fastest), both ways run the same code:
 * the row then shows the best of all runs in both columns and 1.00x, and
 * its method column says so, rather than print noise as a speedup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#define DEMO_RUNS 5
#define DEMO_MEM (1UL << 30)
#define DEMO_FILE (1UL << 30)
#define DEMO_NR_FILES 64
#define DEMO_FILE_SIZE (4UL << 20)

struct demo_ctx {
	char file[4200];	/* the fallocate demo's file */
	char huge[4200];	/* the hugetlbfs demo's file, or "" */
	char filedir[4096];	/* their private directories (mkdtemp) */
	char hugedir[4096];
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

static int demo_hugetlbfs(struct demo_ctx *d, const struct tool_opts *o,
			  struct tool_result *r)
{
	int err = fallocate_do(o, d->huge, DEMO_FILE, r);

	unlink(d->huge);
	return err;
}

/*
 * A hugetlbfs mount where the demo may allocate 1 GiB: writable, and with
 * that many huge pages free, in the pool and under the mount's size=.
 */
static void demo_find_hugetlbfs(struct demo_ctx *d)
{
	char dev[256], dir[1024], type[64];
	struct tool_fsinfo fi;
	int fd;
	FILE *f = fopen("/proc/mounts", "r");

	d->huge[0] = d->hugedir[0] = '\0';
	if (!f)
		return;
	while (fscanf(f, "%255s %1023s %63s %*[^\n]", dev, dir, type) == 3) {
		if (strcmp(type, "hugetlbfs") || access(dir, W_OK))
			continue;
		fd = open(dir, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			continue;
		if (tool_fsinfo(fd, &fi) || fi.avail < DEMO_FILE) {
			close(fd);
			continue;
		}
		close(fd);
		snprintf(d->hugedir, sizeof(d->hugedir),
			 "%s/ktask-demo.XXXXXX", dir);
		if (!mkdtemp(d->hugedir)) {
			d->hugedir[0] = '\0';
			continue;
		}
		snprintf(d->huge, sizeof(d->huge), "%s/f", d->hugedir);
		break;
	}
	fclose(f);
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
	rmdir(d->filedir);
	if (d->hugedir[0])
		rmdir(d->hugedir);
}

static int demo_setup(struct demo_ctx *d)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (!tmp || !*tmp)
		tmp = "/var/tmp";
	/*
	 * Private directories nobody can guess nor plant a link in: a
	 * predictable name in /dev/shm let another user point it elsewhere.
	 */
	snprintf(d->filedir, sizeof(d->filedir), "%s/ktask-demo.XXXXXX",
		 stat("/dev/shm", &st) || access("/dev/shm", W_OK) ?
		 tmp : "/dev/shm");
	snprintf(d->dir, sizeof(d->dir), "%s/ktask-demo.XXXXXX", tmp);
	if (!mkdtemp(d->filedir)) {
		tool_error("demo", "%s: %s", d->filedir, strerror(errno));
		return -1;
	}
	if (!mkdtemp(d->dir)) {
		tool_error("demo", "%s: %s", d->dir, strerror(errno));
		rmdir(d->filedir);
		return -1;
	}
	snprintf(d->file, sizeof(d->file), "%s/f", d->filedir);
	d->paths[0] = d->dir;
	demo_find_hugetlbfs(d);
	if (demo_make_files(d)) {
		demo_remove_files(d);
		return -1;
	}
	return 0;
}

/*
 * Runs a case serially and with ktask; keeps the best time of each.  When
 * ktask's method is the serial one, both ways ran the same code: the best
 * of all runs stands for both.
 */
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
	if (best[1].one_thread) {
		way = best[0].seconds < best[1].seconds ? 0 : 1;
		best[0].seconds = best[1].seconds = best[way].seconds;
	}
	return 0;
}

static void demo_print_row(const struct tool_opts *o,
			   const struct tool_result res[2], bool last)
{
	const struct tool_result *s = &res[0], *k = &res[1];
	double speedup = k->seconds > 0 ? s->seconds / k->seconds : 0;
	char size[32], what[64], how[80];

	snprintf(how, sizeof(how), "%s%s", k->how ? k->how : "",
		 k->one_thread ? " (same both ways: fastest here)" : "");
	if (o->json) {
		printf("{\"command\":\"%s\",\"what\":\"%s\",\"units\":%zu,"
		       "\"unit\":\"%s\",\"bytes\":%zu,\"serial_seconds\":%.6f,"
		       "\"ktask_seconds\":%.6f,\"threads\":%zu,"
		       "\"speedup\":%.3f,\"method\":", k->command, k->what,
		       k->units, k->unit, k->bytes, s->seconds, k->seconds,
		       k->stats.ks_helpers + 1, speedup);
		tool_json_string(stdout, k->method);
		printf(",\"same_method\":%s}%s\n",
		       k->one_thread ? "true" : "false", last ? "" : ",");
		return;
	}
	size_format(k->bytes, size, sizeof(size));
	if (strcmp(k->unit, "bytes"))
		snprintf(what, sizeof(what), "%zu %s, %s", k->units,
			 tool_plural(k->units, "file", "files"), k->what);
	else
		snprintf(what, sizeof(what), "%s", k->what);
	printf("%-10s %10s  %-22s %8.3f s %8.3f s %7zu %7.2fx  %s\n",
	       k->command, size, what, s->seconds, k->seconds,
	       k->stats.ks_helpers + 1, speedup, how);
}

static const struct demo_case demo_cases[] = {
	{ "clear", demo_clear },
	{ "populate", demo_populate },
	{ "fallocate", demo_fallocate },
	{ "evict", demo_evict },
	{ "fallocate", demo_hugetlbfs },	/* with a hugetlbfs mount */
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
	printf("%-10s %10s  %-22s %10s %10s %7s %8s  %s\n", "command",
	       "size", "what", "serial", "ktask", "threads", "speedup",
	       "method (ktask)");
}

/* `ktask demo`: takes --threads, --min-chunk and --json. */
int cmd_demo(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("demo", o, 0, argc, 0, 0);
	struct tool_result res[DEMO_NR_CASES][2];
	struct demo_ctx d;
	size_t i, nr;

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
	nr = d.huge[0] ? DEMO_NR_CASES : DEMO_NR_CASES - 1;
	for (i = 0; i < nr && !ret; i++)
		ret = demo_run_case(&d, &demo_cases[i], o, res[i]) ? 1 : 0;
	demo_remove_files(&d);
	if (ret)
		return ret;
	demo_header(o);
	for (i = 0; i < nr; i++)
		demo_print_row(o, res[i], i + 1 == nr);
	if (o->json)
		printf("]}\n");
	else if (!d.huge[0])
		printf("\n(no hugetlbfs row: no writable hugetlbfs mount with "
		       "1 GiB of free huge pages)\n");
	return 0;
}
