// SPDX-License-Identifier: MIT
/*
 * evict.c - `ktask evict FILE...|DIR`: drop the page cache of many files
 * in parallel.
 *
 * This is the seed's "evicting a list of inodes", and the reason ktask has
 * iterators: the task is a linked list of files, not an address range.  A
 * position is a list node, ev_iter() walks size nodes forward, and a chunk
 * is the nodes from start up to (not including) end.  Each file is synced
 * with fdatasync(2), which returns at once for a clean file and writes a
 * dirty one back (dirty pages cannot be dropped), then dropped with
 * posix_fadvise(POSIX_FADV_DONTNEED).  Dropping the cache cannot be undone
 * and needs no undo: evicting a file twice is harmless.
 *
 * Every argument is checked before any file is evicted, so a missing file
 * stops the command with nothing done.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#define EVICT_MIN_CHUNK 4	/* files */
#define EVICT_FD_LIMIT 64	/* nftw's open directories */

struct ev_file {
	struct ev_file *next;
	off_t size;
	char path[];
};

struct ev_list {
	struct ev_file *head;
	struct ev_file **tail;
	size_t nr;
	size_t bytes;
};

/* nftw() takes no argument for its callback: the list being built. */
static struct ev_list *ev_walk_list;

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
	memcpy(f->path, path, len);
	*l->tail = f;
	l->tail = &f->next;
	l->nr++;
	l->bytes += size;
	return 0;
}

static void ev_free(struct ev_list *l)
{
	struct ev_file *f, *next;

	for (f = l->head; f; f = next) {
		next = f->next;
		free(f);
	}
}

static int ev_walk_one(const char *path, const struct stat *st, int type,
		       struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_DNR || type == FTW_NS) {
		tool_error("evict", "%s: %s", path, strerror(errno));
		return -1;
	}
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	return ev_add(ev_walk_list, path, st->st_size) ? -1 : 0;
}

/* Adds a file, or every regular file under a directory, to @l. */
static int ev_add_arg(struct ev_list *l, const char *path)
{
	struct stat st;

	if (stat(path, &st)) {
		tool_error("evict", "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		ev_walk_list = l;
		return nftw(path, ev_walk_one, EVICT_FD_LIMIT, FTW_PHYS) ?
		       -1 : 0;
	}
	if (!S_ISREG(st.st_mode)) {
		tool_error("evict", "%s: not a regular file or directory",
			   path);
		return -1;
	}
	if (access(path, R_OK)) {
		tool_error("evict", "%s: %s", path, strerror(errno));
		return -1;
	}
	return ev_add(l, path, st.st_size) ? -1 : 0;
}

static struct ev_file *ev_iter(struct ev_file *f, size_t n)
{
	while (n--)
		f = f->next;
	return f;
}

static int ev_evict(const struct ev_file *f)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = fdatasync(fd) && errno != EINVAL && errno != EROFS ? -errno : 0;
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
			/* The path is gone by the time main reports: say it now. */
			tool_error("evict", "%s: %s", f->path, strerror(-err));
			return err;
		}
		progress_add(1);
	}
	return KTASK_RETURN_SUCCESS;
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
	for (i = 0; i < nr_paths && !err; i++)
		err = ev_add_arg(&l, paths[i]);
	if (!err) {
		ktask_ctl_set_iter_func(&ctl, ev_iter);
		r->bytes = l.bytes;
		err = tool_run(o, l.head, l.nr, 1, &ctl, r);
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
