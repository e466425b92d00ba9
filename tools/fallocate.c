// SPDX-License-Identifier: MIT
/*
 * fallocate.c - `ktask fallocate FILE LENGTH`: allocate a file's blocks,
 * all or nothing, by the fastest method the filesystem allows.
 *
 * The file is first grown to LENGTH (a sparse size change, no blocks),
 * then its holes are allocated.  How depends on the filesystem:
 *
 *   - tmpfs, ext4, xfs and the rest: fallocate(2) in one thread.  These
 *     take the inode lock for fallocate, so ranges of one file are
 *     allocated one at a time anyway, and threads only add overhead
 *     (measured: 0.81x on tmpfs with two).
 *   - hugetlbfs: the file is mapped MAP_SHARED and ktask's threads fault
 *     its huge pages in with MADV_POPULATE_WRITE, each on its own range.
 *     A hugetlb fault takes a lock per page index only, so the clearing
 *     of the pages, which is the work, runs in parallel.
 *   - hugetlbfs on a kernel with ktask built in (the kernel series): one
 *     fallocate(2) per hole, which the kernel already runs in parallel.
 *
 * If any range fails (ENOSPC, EFBIG, ...), or SIGINT or SIGTERM arrives,
 * the failing chunk releases what it allocated itself, ktask's undo
 * function punches holes in the ranges that completed, the size is set
 * back, a file the command created is removed again, and the error is
 * reported.  Only what was a hole before the command is ever allocated or
 * punched (holes.c): an existing file's data is never touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define FALLOC_MIN_CHUNK (64UL << 20)
#define FALLOC_STEP (64UL << 20)
#define FALLOC_KERNEL_STEP (1UL << 30)

enum fa_method {
	FA_FALLOCATE,		/* fallocate(2) in one thread */
	FA_POPULATE,	/* hugetlbfs: parallel MADV_POPULATE_WRITE */
	FA_KERNEL,	/* hugetlbfs: the kernel's parallel fallocate */
};

struct fa_task {
	struct tool_holes h;
	enum fa_method method;
	size_t step;		/* bytes per system call */
	char *map;		/* FA_POPULATE: the file, mapped shared */
	bool fail;		/* the test hook is armed ... */
	off_t fail_at;		/* ... at this offset */
	atomic_bool punch_failed;	/* some undo could not punch */
	char detail[192];	/* more on the error, for the message */
};

/* Allocates [off, off + len), a part of a hole, step by step. */
static int fa_alloc(struct tool_holes *h, off_t off, off_t len, void *arg)
{
	struct fa_task *t = arg;
	off_t n;
	int err;

	for (; len; off += n, len -= n) {
		n = len < (off_t)t->step ? len : (off_t)t->step;
		if (t->method == FA_POPULATE) {
			err = madvise(t->map + off, n, MADV_POPULATE_WRITE) ?
			      -errno : 0;
			/* A hugetlb fault with no page to give: SIGBUS. */
			if (err == -EFAULT || err == -ENOMEM)
				err = -ENOSPC;
		} else {
			err = fallocate(h->fd, FALLOC_FL_KEEP_SIZE, off, n) ?
			      -errno : 0;
		}
		if (err == -EINTR && !tool_stop_signal()) {
			n = 0;	/* not a signal we stop for: again */
			continue;
		}
		if (err)
			return err;
		progress_add(n);
		err = tool_step_done();
		if (err)
			return err;
	}
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
	err = holes_for_each(&t->h, s, stop, fa_alloc, t);
	if (!err)
		err = injected;
	if (err && holes_punch(&t->h, s, e))
		atomic_store(&t->punch_failed, true);
	return err;
}

/* Releases the ranges that completed before another one failed. */
static void fa_undo(void *start, void *end, struct fa_task *t)
{
	if (holes_punch(&t->h, (uintptr_t)start, (uintptr_t)end))
		atomic_store(&t->punch_failed, true);
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

/* Picks the method for the filesystem; says what it is in @r->method. */
static void fa_choose(const struct tool_opts *o, struct fa_task *t,
		      const struct tool_fsinfo *fi, struct tool_result *r)
{
	t->step = FALLOC_STEP;
	t->method = FA_FALLOCATE;
	r->how = "fallocate(2)";
	r->one_thread = true;
	r->kernel_ktask = tool_kernel_ktask();
	if (fi->fs != TOOL_FS_HUGETLBFS) {
		snprintf(r->method, sizeof(r->method), "fallocate(2) in one "
			 "thread: %s allocates one range of a file at a time "
			 "(inode lock), so threads would only add overhead",
			 fi->name);
	} else if (o->serial) {
		snprintf(r->method, sizeof(r->method),
			 "fallocate(2) in one thread (--serial)");
	} else if (r->kernel_ktask) {
		t->method = FA_KERNEL;
		r->how = "fallocate(2), parallel in kernel";
		t->step = FALLOC_KERNEL_STEP;
		snprintf(r->method, sizeof(r->method), "fallocate(2): the "
			 "kernel's ktask clears the huge pages in parallel");
	} else {
		t->method = FA_POPULATE;
		r->how = "MADV_POPULATE_WRITE, shared map";
		r->one_thread = false;
		/* The thread count goes in once the run has decided it. */
	}
	r->moves_data = fi->memory;
}

/*
 * hugetlbfs has no SEEK_HOLE: holes.c would call the whole file data.
 * A file with no page allocated is one hole, and one with every page is
 * all data; one in between is refused, since what this command allocated
 * could not be told from what was there.
 */
static int fa_hugetlb_holes(struct fa_task *t, const struct stat *st,
			    off_t len, const char *path)
{
	off_t alloc = (off_t)st->st_blocks * 512;

	(void)path;
	if (alloc && alloc < st->st_size) {
		snprintf(t->detail, sizeof(t->detail), "hugetlbfs cannot say "
			 "which of the file's pages are allocated, and some "
			 "are, so ktask could not undo exactly what it adds "
			 "(use fallocate(1))");
		return -ECANCELED;
	}
	if (alloc)
		return holes_add(&t->h, st->st_size, len);
	return holes_add(&t->h, 0, len);
}

/* FA_POPULATE: maps the file; hugetlbfs reserves the pages here. */
static int fa_map(struct fa_task *t, const struct tool_fsinfo *fi, off_t len,
		  const char *path)
{
	t->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      t->h.fd, 0);
	if (t->map != MAP_FAILED)
		return 0;
	t->map = NULL;
	if (errno != ENOMEM)
		return -errno;
	(void)path;
	snprintf(t->detail, sizeof(t->detail), " (%zu huge pages of %zu KiB "
		 "needed, fewer free: see /proc/sys/vm/nr_hugepages and the "
		 "mount's size=)", t->h.bytes / fi->block, fi->block >> 10);
	return -ENOSPC;
}

/*
 * Grows the file to @len first, then runs the task over [0, @len); on
 * failure the ranges are punched again and the size is set back.  The
 * size moves first because ext4 does not punch holes past the end of a
 * file: blocks allocated there with FALLOC_FL_KEEP_SIZE could not be
 * undone.  Shrinking the file back frees whatever lies past its old end.
 */
static int fa_run(const struct tool_opts *o, struct fa_task *t,
		  const struct stat *st, off_t len, const char *path,
		  struct tool_result *r)
{
	DEFINE_KTASK_CTL(ctl, fa_chunk, t, FALLOC_MIN_CHUNK);
	struct tool_opts ro = *o;
	struct tool_fsinfo fi;
	int err;

	err = tool_fsinfo(t->h.fd, &fi);
	if (err)
		return err;
	snprintf(r->what, sizeof(r->what), "%s", fi.name);
	fa_choose(o, t, &fi, r);
	if (fi.fs == TOOL_FS_HUGETLBFS)
		err = fa_hugetlb_holes(t, st, len, path);
	else
		err = holes_find(&t->h, st->st_size, len);
	if (err)
		return err;
	t->fail = tool_test_fail_at(&t->fail_at);
	if (len > st->st_size && ftruncate(t->h.fd, len))
		return -errno;
	if (t->method == FA_POPULATE && t->h.bytes)
		err = fa_map(t, &fi, len, path);
	if (!err && !tool_stop_signal()) {
		ktask_ctl_set_undo_func(&ctl, fa_undo);
		ro.serial = t->method != FA_POPULATE;
		err = tool_run(&ro, NULL, len, fi.block, &ctl, r);
	}
	/* A signal after the last chunk still means "do not do it". */
	if (tool_stop_signal()) {
		if (!err && holes_punch(&t->h, 0, len))
			atomic_store(&t->punch_failed, true);
		err = -EINTR;
	}
	if (t->map)
		munmap(t->map, len);
	if (t->method == FA_POPULATE)
		snprintf(r->method, sizeof(r->method), "MADV_POPULATE_WRITE "
			 "of a shared mapping, %zu %s: hugetlbfs clears each "
			 "huge page in the thread that faults it",
			 r->stats.ks_helpers + 1,
			 tool_plural(r->stats.ks_helpers + 1, "thread",
				     "threads"));
	if (err && len > st->st_size && ftruncate(t->h.fd, st->st_size))
		atomic_store(&t->punch_failed, true);
	return err;
}

/* hugetlbfs sizes are whole huge pages: rounds @len up, and says so. */
static off_t fa_round(int fd, const char *path, off_t len)
{
	struct tool_fsinfo fi;
	off_t up;
	char a[32], b[32];

	if (tool_fsinfo(fd, &fi) || fi.fs != TOOL_FS_HUGETLBFS ||
	    !(len % (off_t)fi.block))
		return len;
	up = (len + fi.block - 1) / fi.block * fi.block;
	size_format(len, a, sizeof(a));
	size_format(up, b, sizeof(b));
	tool_note("fallocate", "%s: length %s rounded up to %s: hugetlbfs "
		  "files hold whole %zu KiB pages", path, a, b,
		  fi.block >> 10);
	return up;
}

static const char *fa_reason(const struct fa_task *t, int err)
{
	static char buf[64];

	if (err == -ECANCELED)
		return t->detail;
	if (err == -EINTR && tool_stop_signal()) {
		snprintf(buf, sizeof(buf), "interrupted by %s",
			 tool_stop_signal() == SIGINT ? "SIGINT" : "SIGTERM");
		return buf;
	}
	if (err == -EBADF)
		return "not a regular file";
	return strerror(-err);
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
	struct fa_task t = { .h.fd = -1 };
	bool created;
	struct stat st;
	int err;

	r->command = "fallocate";
	r->unit = "bytes";
	t.h.fd = fa_open(path, &created);
	if (t.h.fd < 0)
		return 1;
	len = fa_round(t.h.fd, path, len);
	r->bytes = len;
	if (fstat(t.h.fd, &st))
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EBADF;
	else
		err = fa_run(o, &t, &st, len, path, r);
	if (err) {
		if (created)
			unlink(path);
		tool_error("fallocate", "%s: %s%s; %s", path,
			   fa_reason(&t, err),
			   err == -ECANCELED ? "" : t.detail,
			   created ? "file removed" : "file left as it was");
	}
	if (atomic_load(&t.punch_failed))
		tool_error("fallocate", "%s: warning: some blocks could not "
			   "be released again", path);
	close(t.h.fd);
	holes_free(&t.h);
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
	tool_catch_signals();
	ret = fallocate_do(o, argv[0], (off_t)len, &r);
	if (!ret)
		tool_report(o, &r);
	return tool_exit_code(ret);
}
