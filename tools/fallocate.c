// SPDX-License-Identifier: MIT
/*
 * fallocate.c - `ktask fallocate FILE LENGTH`: allocate a file's blocks in
 * parallel ranges, all or nothing.
 *
 * The file is first grown to LENGTH (a sparse size change, no blocks), then
 * each chunk, a byte range of the file, is allocated with fallocate(2).  If
 * any range fails (ENOSPC, EFBIG, ...) the failing chunk releases what it
 * allocated itself, ktask's undo function punches holes in the ranges that
 * completed, the size is set back, a file the command created is removed
 * again, and the error is reported.
 *
 * Only what was a hole before the command is ever allocated or punched:
 * the holes of [0, LENGTH) are listed first (SEEK_HOLE/SEEK_DATA), and an
 * existing file's data is never touched, even when the task fails.
 *
 * Note that fallocate(2) takes the inode lock on ext4, xfs, tmpfs and
 * hugetlbfs, so ranges of one file are allocated one at a time in the
 * kernel: ktask brings little speed here, but the all-or-nothing undo holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "tool.h"

#define FALLOC_MIN_CHUNK (64UL << 20)
#define FALLOC_STEP (64UL << 20)

/* A range [start, end) of the file that held no data before the command. */
struct fa_hole {
	off_t start;
	off_t end;
};

struct fa_task {
	int fd;
	struct fa_hole *holes;	/* sorted, disjoint */
	size_t nr_holes;
	bool fail;		/* the test hook is armed ... */
	off_t fail_at;		/* ... at this offset */
	atomic_bool punch_failed;	/* some undo could not punch */
};

typedef int (*fa_func)(struct fa_task *t, off_t off, off_t len);

static int fa_add_hole(struct fa_task *t, off_t start, off_t end)
{
	struct fa_hole *h;

	if (start >= end)
		return 0;
	if (t->nr_holes && t->holes[t->nr_holes - 1].end == start) {
		t->holes[t->nr_holes - 1].end = end;
		return 0;
	}
	h = realloc(t->holes, (t->nr_holes + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	t->holes = h;
	h[t->nr_holes].start = start;
	h[t->nr_holes++].end = end;
	return 0;
}

/* Lists the holes of [0, @len) in a file that is @size long. */
static int fa_find_holes(struct fa_task *t, off_t size, off_t len)
{
	off_t limit = size < len ? size : len, off = 0, hole, data;
	int err;

	while (off < limit) {
		hole = lseek(t->fd, off, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if (hole >= limit)
			break;
		data = lseek(t->fd, hole, SEEK_DATA);
		if (data < 0 && errno != ENXIO)
			return -errno;
		if (data < 0 || data > limit)
			data = limit;
		err = fa_add_hole(t, hole, data);
		if (err)
			return err;
		off = data;
	}
	/* Past the end of the file everything is new. */
	return fa_add_hole(t, size, len);
}

/* Calls @fn on each part of [@start, @end) that is in a hole. */
static int fa_for_holes(struct fa_task *t, off_t start, off_t end, fa_func fn)
{
	size_t lo = 0, hi = t->nr_holes;
	int err;

	/* The first hole that ends after @start. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->holes[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->nr_holes && t->holes[lo].start < end; lo++) {
		off_t s = t->holes[lo].start > start ? t->holes[lo].start : start;
		off_t e = t->holes[lo].end < end ? t->holes[lo].end : end;

		err = fn(t, s, e - s);
		if (err)
			return err;
	}
	return 0;
}

static int fa_alloc(struct fa_task *t, off_t off, off_t len)
{
	off_t n;

	for (; len; off += n, len -= n) {
		n = len < (off_t)FALLOC_STEP ? len : (off_t)FALLOC_STEP;
		if (fallocate(t->fd, FALLOC_FL_KEEP_SIZE, off, n))
			return -errno;
		progress_add(n);
	}
	return 0;
}

static int fa_punch(struct fa_task *t, off_t off, off_t len)
{
	if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      off, len))
		atomic_store(&t->punch_failed, true);
	return 0;
}

/*
 * Allocates the holes of one chunk.  On failure it punches them again, as
 * ktask never undoes the chunk that failed.
 */
static int fa_chunk(void *start, void *end, struct fa_task *t)
{
	off_t s = (uintptr_t)start, e = (uintptr_t)end, stop = e;
	int err, injected = 0;

	if (t->fail && t->fail_at >= s && t->fail_at < e) {
		stop = t->fail_at;
		injected = -ENOSPC;
	}
	err = fa_for_holes(t, s, stop, fa_alloc);
	if (!err)
		err = injected;
	if (err)
		fa_for_holes(t, s, e, fa_punch);
	return err;
}

/* Releases the ranges that completed before another one failed. */
static void fa_undo(void *start, void *end, struct fa_task *t)
{
	fa_for_holes(t, (uintptr_t)start, (uintptr_t)end, fa_punch);
}

static const char *fa_fs_name(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf))
		return "file";
	switch ((unsigned long)sf.f_type) {
	case TMPFS_MAGIC:
		return "tmpfs";
	case HUGETLBFS_MAGIC:
		return "hugetlbfs";
	case EXT4_SUPER_MAGIC:
		return "ext4";
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	}
	return "file";
}

/* Opens @path, creating it if need be; sets *@created if it did. */
static int fa_open(const char *path, bool *created)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		tool_error("fallocate", "%s: %s", path, strerror(errno));
	return fd;
}

/*
 * Grows the file to @len first, then runs the task over [0, @len); on
 * failure the ranges are punched again and the size is set back.  The
 * size moves first because ext4 does not punch holes past the end of a
 * file: blocks allocated there with FALLOC_FL_KEEP_SIZE could not be
 * undone.  Shrinking the file back frees whatever lies past its old end.
 */
static int fa_run(const struct tool_opts *o, struct fa_task *t,
		  const struct stat *st, off_t len, struct tool_result *r)
{
	DEFINE_KTASK_CTL(ctl, fa_chunk, t, FALLOC_MIN_CHUNK);
	int err;

	ktask_ctl_set_undo_func(&ctl, fa_undo);
	err = fa_find_holes(t, st->st_size, len);
	if (err)
		return err;
	t->fail = tool_test_fail_at(&t->fail_at);
	if (len > st->st_size && ftruncate(t->fd, len))
		return -errno;
	err = tool_run(o, NULL, len, st->st_blksize, &ctl, r);
	if (err && len > st->st_size && ftruncate(t->fd, st->st_size))
		atomic_store(&t->punch_failed, true);
	return err;
}

/**
 * fallocate_do() - allocates the blocks of [0, @len) of @path, or nothing.
 * @o: the options.
 * @path: the file; created if it does not exist.
 * @len: the length it should have allocated; it grows to at least this.
 * @r: the result.
 *
 * Return: 0, or 1 after printing an error; then the file is as it was
 * (removed, if this call created it).
 */
int fallocate_do(const struct tool_opts *o, const char *path, off_t len,
		 struct tool_result *r)
{
	struct fa_task t = { .fd = -1 };
	bool created;
	struct stat st;
	int err;

	r->command = "fallocate";
	r->unit = "bytes";
	r->bytes = len;
	t.fd = fa_open(path, &created);
	if (t.fd < 0)
		return 1;
	snprintf(r->what, sizeof(r->what), "%s", fa_fs_name(t.fd));
	if (fstat(t.fd, &st))
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EBADF;
	else
		err = fa_run(o, &t, &st, len, r);
	if (err) {
		if (created)
			unlink(path);
		tool_error("fallocate", "%s: %s; %s", path,
			   err == -EBADF ? "not a regular file" : strerror(-err),
			   created ? "file removed" : "file left as it was");
	}
	if (atomic_load(&t.punch_failed))
		tool_error("fallocate", "%s: warning: some blocks could not "
			   "be released again", path);
	close(t.fd);
	free(t.holes);
	return err ? 1 : 0;
}

/* `ktask fallocate FILE LENGTH` */
int cmd_fallocate(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("fallocate", o, 0, argc, 2, 2);
	struct tool_result r = { 0 };
	size_t len;

	if (ret)
		return ret;
	ret = tool_parse_size("fallocate", argv[1], &len);
	if (ret)
		return ret;
	if ((off_t)len < 0) {
		tool_error("fallocate", "length too large: '%s'", argv[1]);
		return 2;
	}
	ret = fallocate_do(o, argv[0], (off_t)len, &r);
	if (!ret)
		tool_report(o, &r);
	return ret;
}
