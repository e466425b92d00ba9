// SPDX-License-Identifier: MIT
/*
 * holes.c - the holes of a file: the only ranges a job may allocate, and
 * so the only ranges it may release again when it is undone.
 *
 * The holes of [0, LENGTH) are listed once, before the job, with
 * SEEK_HOLE/SEEK_DATA; everything past the end of the file is a hole.
 * A filesystem without SEEK_HOLE support reports the whole file as data,
 * which errs on the safe side: its data is never released.
 *
 * SEEK_HOLE calls preallocated (unwritten) space a hole, on tmpfs, ext4,
 * xfs and btrfs alike, yet it is the file's: `fallocate -l 100M` reserved
 * it and a failed job must not release it.  So where FIEMAP works, the
 * holes are what lies between the extents it lists (written, unwritten,
 * delayed allocation, and those past the end of the file).  Where there is no FIEMAP (tmpfs), the file's block
 * count tells whether any space is allocated outside its data; if some
 * is, where cannot be told, and the list is marked inexact: the caller
 * then undoes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "tool.h"

/* Adds [@start, @end) to the list, merging it with the last hole. */
int holes_add(struct tool_holes *h, off_t start, off_t end)
{
	struct tool_hole *v;

	if (start >= end)
		return 0;
	h->bytes += end - start;
	if (h->nr && h->v[h->nr - 1].end == start) {
		h->v[h->nr - 1].end = end;
		return 0;
	}
	if (h->nr == h->cap) {
		/* Doubling: a file with 100k holes is not 100k copies. */
		size_t cap = h->cap ? h->cap * 2 : 16;

		v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	v = h->v;
	v[h->nr].start = start;
	v[h->nr++].end = end;
	return 0;
}

/* Lists the SEEK_HOLE holes of [@off, @limit) into @h. */
static int holes_seek(struct tool_holes *h, off_t off, off_t limit)
{
	off_t hole, data;
	int err;

	while (off < limit) {
		hole = lseek(h->fd, off, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if (hole >= limit)
			break;
		data = lseek(h->fd, hole, SEEK_DATA);
		if (data < 0 && errno != ENXIO)
			return -errno;
		if (data < 0 || data > limit)
			data = limit;
		err = holes_add(h, hole, data);
		if (err)
			return err;
		off = data;
	}
	return 0;
}

#define FIEMAP_BATCH 512

/*
 * Copies to @out what of the holes from in[*@i] on lies between @from (the
 * end of the previous extent) and the extent [@start, @end).
 */
static int holes_cut(struct tool_holes *out, const struct tool_hole *in,
		     size_t nr, size_t *i, off_t from, off_t start, off_t end)
{
	int err;

	for (; *i < nr && in[*i].start < end; ++*i) {
		off_t s = in[*i].start > from ? in[*i].start : from;

		err = holes_add(out, s, in[*i].end < start ? in[*i].end :
				start);
		if (err)
			return err;
		if (in[*i].end > end)
			return 0;	/* the rest may meet the next extent */
	}
	return 0;
}

/*
 * Removes every extent FIEMAP lists from the holes in @h; sets
 * @h->eof_alloc if blocks lie past @size.  -EOPNOTSUPP without FIEMAP.
 */
static int holes_fiemap(struct tool_holes *h, off_t size)
{
	struct fiemap *fm;
	struct tool_holes out = { .fd = h->fd };
	struct tool_hole *in = h->v;
	size_t i = 0, nr = h->nr, k;
	off_t pos = 0;	/* the end of the last extent */
	off_t eof = size;
	struct statfs sfs;
	bool last = false;
	int err = 0;

	/*
	 * The block that holds the last byte ends past the size without
	 * being space preallocated there: a file of 5000 bytes on ext4 has
	 * an extent to 8192.  Mistaken for preallocation, it made a failed
	 * grow keep all it had allocated past the end (fa_trim()).
	 */
	if (!fstatfs(h->fd, &sfs) && sfs.f_bsize > 0)
		eof = (size + (off_t)sfs.f_bsize - 1) / (off_t)sfs.f_bsize *
		      (off_t)sfs.f_bsize;

	fm = calloc(1, sizeof(*fm) + FIEMAP_BATCH * sizeof(fm->fm_extents[0]));
	if (!fm)
		return -ENOMEM;
	while (!last && !err) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = pos;
		fm->fm_length = FIEMAP_MAX_OFFSET - pos;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(h->fd, FS_IOC_FIEMAP, fm)) {
			err = errno == ENOTTY ? -EOPNOTSUPP : -errno;
			break;
		}
		if (!fm->fm_mapped_extents)
			break;
		for (k = 0; k < fm->fm_mapped_extents && !err; k++) {
			struct fiemap_extent *e = &fm->fm_extents[k];
			off_t s = e->fe_logical, end = s + e->fe_length;

			if (end > eof)
				h->eof_alloc = true;
			last = e->fe_flags & FIEMAP_EXTENT_LAST;
			err = holes_cut(&out, in, nr, &i, pos, s, end);
			pos = end;
		}
	}
	free(fm);
	if (err) {
		holes_free(&out);
		return err;
	}
	/* What is left of the holes, past the last extent. */
	for (; i < nr && !err; i++)
		err = holes_add(&out, in[i].start > pos ? in[i].start : pos,
				in[i].end);
	if (err) {
		holes_free(&out);
		return err;
	}
	out.eof_alloc = h->eof_alloc;
	holes_free(h);
	*h = out;
	return 0;
}

/*
 * No FIEMAP: blocks beyond what SEEK_DATA calls data are preallocated
 * somewhere.  @h holds the holes of [0, min(@size, @len)).
 */
static int holes_check_blocks(struct tool_holes *h, const struct stat *st,
			      off_t len)
{
	off_t blk = st->st_blksize > 0 ? st->st_blksize : 4096;
	off_t data = (st->st_size + blk - 1) / blk * blk, sz = st->st_size;
	struct tool_holes rest = { .fd = h->fd };
	size_t i;
	int err;

	for (i = 0; i < h->nr && h->v[i].start < sz; i++)
		data -= (h->v[i].end < sz ? h->v[i].end : sz) - h->v[i].start;
	if (len < sz) {
		err = holes_seek(&rest, len, sz);
		if (err)
			return err;
		data -= rest.bytes;
		holes_free(&rest);
	}
	if ((off_t)st->st_blocks * 512 > data)
		h->inexact = true;
	return 0;
}

/**
 * holes_find() - lists the holes of [0, @len) of @h->fd.
 * @h: the list, empty, with its fd set.
 * @st: the file's status now.
 * @len: how far the job goes.
 *
 * Preallocated space is not a hole; see the top of this file.  Sets
 * @h->inexact when some cannot be located, and @h->eof_alloc when
 * blocks lie past the end of the file.
 *
 * Return: 0 or a negative errno.
 */
int holes_find(struct tool_holes *h, const struct stat *st, off_t len)
{
	off_t size = st->st_size;
	int err = -EOPNOTSUPP;

	/*
	 * FIEMAP lists data, unwritten and delayed-allocation extents alike:
	 * the holes are what lies between them.  Without it, SEEK_HOLE and
	 * the block count.  (Both on a file with 100k holes: a scan of 1.6 s
	 * on ext4, against 0.1 s for FIEMAP alone.)
	 */
	if (!getenv("KTASK_TEST_NO_FIEMAP")) {
		err = holes_add(h, 0, len);
		if (!err)
			err = holes_fiemap(h, size);
		if (err == -EOPNOTSUPP)
			holes_free(h);
	}
	if (err != -EOPNOTSUPP)
		return err;
	err = holes_seek(h, 0, size < len ? size : len);
	if (!err)
		err = holes_add(h, size > len ? len : size, len);
	if (!err)
		err = holes_check_blocks(h, st, len);
	return err;
}

/**
 * holes_for_each() - calls @fn on each part of [@start, @end) in a hole.
 * @h: the holes.
 * @start: first byte.
 * @end: byte after the last.
 * @fn: gets each part; a nonzero return stops the walk.
 * @arg: passed to @fn.
 *
 * Return: 0, or what @fn returned.
 */
int holes_for_each(struct tool_holes *h, off_t start, off_t end,
		   tool_hole_fn fn, void *arg)
{
	size_t lo = 0, hi = h->nr;
	int err;

	/* The first hole that ends after @start. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->v[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < h->nr && h->v[lo].start < end; lo++) {
		off_t s = h->v[lo].start > start ? h->v[lo].start : start;
		off_t e = h->v[lo].end < end ? h->v[lo].end : end;

		err = fn(h, s, e - s, arg);
		if (err)
			return err;
	}
	return 0;
}

/*
 * One punch, as an undo step of lease.c: only while the lease holds.
 * Returns 1 when it does not (stop), else 0 with a failure in @failed.
 * EFBIG: past the filesystem's largest file, where no block can be.
 */
static int punch_step(int fd, off_t off, off_t len, int *failed)
{
	int stop = 0;

	if (!tool_undo_begin())
		stop = 1;
	else if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   off, len) && errno != EFBIG)
		*failed = -errno;
	tool_undo_end();
	if (!stop)
		tool_test_in_undo();
	return stop;
}

static int punch_one(struct tool_holes *h, off_t off, off_t len, void *arg)
{
	return punch_step(h->fd, off, len, arg);
}

/**
 * holes_punch() - releases whatever was allocated in the holes of a range.
 * @h: the holes.
 * @start: first byte.
 * @end: byte after the last.
 *
 * Data the file had before the job is never touched.  Each hole is an
 * undo step of its own (lease.c): the walk stops where the lease is
 * found broken.
 *
 * Return: 0, or the negative errno of a punch that failed.
 */
int holes_punch(struct tool_holes *h, off_t start, off_t end)
{
	int failed = 0;

	holes_for_each(h, start, end, punch_one, &failed);
	return failed;
}

/**
 * holes_punch_seek() - punches what SEEK_HOLE calls holes in [@start, @end).
 * @fd: the file.
 * @start: first byte.
 * @end: byte after the last; what lies past the file's size is left.
 *
 * On tmpfs these are the pages no one has written and no fallocate(2)
 * has passed over since they were allocated: fallocate.c's undo there,
 * which needs no list made before the job (see fa_shmem_ok()).  Each
 * punch is an undo step of its own (lease.c), as in holes_punch().
 *
 * Return: 0, or the negative errno of the first seek or punch that failed.
 */
int holes_punch_seek(int fd, off_t start, off_t end)
{
	struct stat st;
	off_t hole, data;
	int err;

	/* SEEK_HOLE finds a hole at the end of the file: not past it. */
	if (fstat(fd, &st))
		return -errno;
	if (end > st.st_size)
		end = st.st_size;
	while (start < end) {
		hole = lseek(fd, start, SEEK_HOLE);
		if (hole < 0)
			return errno == ENXIO ? 0 : -errno;
		if (hole >= end)
			break;
		data = lseek(fd, hole, SEEK_DATA);
		if (data < 0 && errno != ENXIO)
			return -errno;
		if (data < 0 || data > end)
			data = end;
		err = 0;
		if (punch_step(fd, hole, data - hole, &err) || err)
			return err;
		start = data;
	}
	return 0;
}

/**
 * holes_trim() - drops what of the holes lies before @start.
 * @h: the holes.
 * @start: the first byte a job works on (fallocate --offset).
 */
void holes_trim(struct tool_holes *h, off_t start)
{
	size_t i = 0, k;

	while (i < h->nr && h->v[i].end <= start)
		h->bytes -= h->v[i].end - h->v[i].start, i++;
	if (i < h->nr && h->v[i].start < start) {
		h->bytes -= start - h->v[i].start;
		h->v[i].start = start;
	}
	for (k = 0; i + k < h->nr; k++)
		h->v[k] = h->v[i + k];
	h->nr = k;
}

void holes_free(struct tool_holes *h)
{
	free(h->v);
	h->v = NULL;
	h->nr = 0;
	h->cap = 0;
	h->bytes = 0;
}
