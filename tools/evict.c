// SPDX-License-Identifier: MIT
/*
 * evict.c - `ktask evict FILE...|DIR`: drop the page cache of many files
 * in parallel.
 *
 * This is the seed's "evicting a list of inodes", and the reason ktask has
 * iterators: the task is a linked list of files, not an address range.  A
 * position is a list node, ev_iter() walks size nodes forward, and a chunk
 * is the nodes from start up to (not including) end.
 *
 * Each file's dirty pages are written back with sync_file_range(2)
 * (WAIT_BEFORE | WRITE | WAIT_AFTER), since dirty pages cannot be dropped,
 * and then the cache is dropped with posix_fadvise(POSIX_FADV_DONTNEED).
 * Not fdatasync(2): on ext4 that sends a cache flush to the device even for
 * a clean file, one per file.  sync_file_range() writes only what is dirty
 * and flushes nothing; evict promises to drop the cache, not durability.
 * Empty files hold no cache and are not opened.  Dropping the cache cannot
 * be undone and needs no undo: evicting a file twice is harmless.
 *
 * All or nothing for permissions: every argument is found and every
 * file is opened for reading (in parallel, with ktask) before any file is
 * evicted.  Each unreadable or missing file is named, and then nothing is
 * evicted.  The descriptors are kept for the eviction when the process
 * may hold them all (the soft RLIMIT_NOFILE is raised to the hard one),
 * else each file is opened again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#define EVICT_MIN_CHUNK 4	/* files */

struct ev_file {
	struct ev_file *next;
	off_t size;
	int fd;			/* opened by the check, or -1 */
	char path[];
};

struct ev_list {
	struct ev_file *head;
	struct ev_file **tail;
	size_t nr;
	size_t bytes;
};

static int ev_add(struct ev_list *l, const char *path, off_t size)
{
	size_t len = strlen(path) + 1;
	struct ev_file *f = malloc(sizeof(*f) + len);

	if (!f) {
		tool_error("evict", "out of memory");
		return -ENOMEM;
	}
	f->next = NULL;
	f->size = size;
	f->fd = -1;
	memcpy(f->path, path, len);
	*l->tail = f;
	l->tail = &f->next;
	l->nr++;
	return 0;
}

static void ev_free(struct ev_list *l)
{
	struct ev_file *f, *next;

	for (f = l->head; f; f = next) {
		next = f->next;
		if (f->fd >= 0)
			close(f->fd);
		free(f);
	}
}

/*
 * Adds every regular file under @path, without following symbolic links.
 * The directory entry's type says what an entry is, so most files cost
 * no stat here: their size comes with the permission check, in parallel.
 * Every unreadable directory is named; the walk goes on, and the caller
 * evicts nothing.
 */
static int ev_walk(struct ev_list *l, const char *path, bool *failed)
{
	DIR *d = opendir(path);
	struct dirent *e;
	struct stat st;
	char *child;
	int type, err = 0;

	if (!d) {
		tool_error("evict", "%s: %s", path, strerror(errno));
		*failed = true;
		return 0;
	}
	while (!err && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (asprintf(&child, "%s/%s", path, e->d_name) < 0) {
			err = -ENOMEM;
			break;
		}
		type = e->d_type;
		if (type == DT_UNKNOWN) {
			if (lstat(child, &st)) {
				tool_error("evict", "%s: %s", child,
					   strerror(errno));
				*failed = true;
			}
			type = S_ISREG(st.st_mode) ? DT_REG :
			       S_ISDIR(st.st_mode) ? DT_DIR : DT_UNKNOWN;
		}
		if (type == DT_REG)
			err = ev_add(l, child, -1);
		else if (type == DT_DIR)
			err = ev_walk(l, child, failed);
		free(child);
	}
	closedir(d);
	return err;
}

/* Adds a file, or every regular file under a directory, to @l. */
static int ev_add_arg(struct ev_list *l, const char *path)
{
	bool failed = false;
	struct stat st;

	if (stat(path, &st)) {
		tool_error("evict", "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return ev_walk(l, path, &failed) || failed ? -1 : 0;
	if (!S_ISREG(st.st_mode)) {
		tool_error("evict", "%s: not a regular file or directory",
			   path);
		return -1;
	}
	return ev_add(l, path, -1) ? -1 : 0;
}

static struct ev_file *ev_iter(struct ev_file *f, size_t n)
{
	while (n--)
		f = f->next;
	return f;
}

static int ev_evict(struct ev_file *f)
{
	int fd = f->fd, err;

	f->fd = -1;
	if (!f->size)
		return 0;
	if (fd < 0)
		fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
			      SYNC_FILE_RANGE_WRITE |
			      SYNC_FILE_RANGE_WAIT_AFTER) &&
	      errno != EINVAL && errno != ESPIPE ? -errno : 0;
	if (!err)
		err = -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	return err;
}

static int ev_chunk(struct ev_file *start, struct ev_file *end, void *arg)
{
	struct ev_file *f;
	int err;

	(void)arg;
	for (f = start; f != end; f = f->next) {
		err = ev_evict(f);
		if (err) {
			/* Named here: main no longer has the path. */
			tool_error("evict", "%s: %s", f->path, strerror(-err));
			return err;
		}
		progress_add(1);
	}
	return KTASK_RETURN_SUCCESS;
}

/*
 * The permission check: opening the file for reading is the real test.
 * When the process may hold every file open at once, the check keeps the
 * descriptor for the eviction; otherwise it closes it again.
 */
struct ev_check {
	atomic_size_t denied;
	atomic_size_t bytes;	/* the files' sizes, for the report */
	bool keep;
};

static int ev_check_chunk(struct ev_file *start, struct ev_file *end,
			  struct ev_check *c)
{
	struct ev_file *f;
	struct stat st;
	int fd;

	for (f = start; f != end; f = f->next) {
		fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st)) {
			tool_error("evict", "%s: %s", f->path,
				   strerror(errno));
			atomic_fetch_add(&c->denied, 1);
			if (fd >= 0)
				close(fd);
			continue;
		}
		f->size = st.st_size;
		atomic_fetch_add_explicit(&c->bytes, st.st_size,
					  memory_order_relaxed);
		if (c->keep && st.st_size)
			f->fd = fd;
		else
			close(fd);
	}
	return KTASK_RETURN_SUCCESS;
}

/*
 * Grows the descriptor table to hold @nr more at once.  In a process with
 * threads each growth of the table waits for an RCU grace period, and
 * opening 5000 files from two threads grew it seven times: 70 ms, more
 * than the whole eviction.  Taking the highest descriptor once pays one.
 */
static void ev_fds_reserve(size_t nr)
{
	int fd = open("/", O_PATH | O_CLOEXEC);

	if (fd < 0)
		return;
	if (nr < INT_MAX - 64 - (size_t)fd &&
	    dup3(fd, fd + 64 + (int)nr, O_CLOEXEC) >= 0)
		close(fd + 64 + (int)nr);
	close(fd);
}

/*
 * Whether @nr more descriptors fit, raising the soft limit if need be;
 * if so, the table is grown for them.
 */
static bool ev_fds_fit(size_t nr)
{
	struct rlimit rl;
	bool fit;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return false;
	if (rl.rlim_cur < nr + 256 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	fit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= nr + 256;
	if (fit)
		ev_fds_reserve(nr);
	return fit;
}

static int ev_check(const struct tool_opts *o, struct ev_list *l)
{
	DEFINE_KTASK_CTL(ctl, ev_check_chunk, NULL, EVICT_MIN_CHUNK);
	struct ev_check c = { .keep = ev_fds_fit(l->nr) };
	size_t n;

	ctl.kc_func_arg = &c;
	ktask_ctl_set_iter_func(&ctl, ev_iter);
	ktask_ctl_set_max_threads(&ctl, o->serial ? 1 : o->threads);
	ktask_run(l->head, l->nr, &ctl);
	l->bytes = atomic_load(&c.bytes);
	n = atomic_load(&c.denied);
	if (n > 1)
		tool_error("evict", "%zu files cannot be read; nothing "
			   "evicted", n);
	return n ? -1 : 0;
}

/**
 * evict_do() - drops the page cache of files and of files under directories.
 * @o: the options; --min-chunk counts files.
 * @paths: files and directories.
 * @nr_paths: how many.
 * @r: the result.
 *
 * Return: 0, or 1 after printing an error.
 */
int evict_do(const struct tool_opts *o, char **paths, int nr_paths,
	     struct tool_result *r)
{
	struct ev_list l = { .tail = &l.head };
	DEFINE_KTASK_CTL(ctl, ev_chunk, NULL, EVICT_MIN_CHUNK);
	int i, err = 0;

	r->command = "evict";
	r->unit = "files";
	snprintf(r->what, sizeof(r->what), "page cache");
	/* Every argument is looked at, so that all problems are named. */
	for (i = 0; i < nr_paths; i++)
		err |= ev_add_arg(&l, paths[i]);
	if (!err && l.nr)
		err = ev_check(o, &l);
	if (!err) {
		ktask_ctl_set_iter_func(&ctl, ev_iter);
		r->bytes = l.bytes;
		err = tool_run(o, l.head, l.nr, 1, &ctl, r);
		r->how = "sync_file_range+fadvise";
		snprintf(r->method, sizeof(r->method), "sync_file_range(2) of "
			 "dirty pages, POSIX_FADV_DONTNEED, %zu %s; every "
			 "file opened first", r->stats.ks_helpers + 1,
			 tool_plural(r->stats.ks_helpers + 1, "thread",
				     "threads"));
	}
	ev_free(&l);
	return err ? 1 : 0;
}

/* `ktask evict FILE...|DIR...` */
int cmd_evict(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("evict", o, 0, argc, 1, -1);
	struct tool_result r = { 0 };

	if (ret)
		return ret;
	ret = evict_do(o, argv, argc, &r);
	if (!ret)
		tool_report(o, &r);
	return ret;
}
