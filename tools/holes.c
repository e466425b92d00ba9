// SPDX-License-Identifier: MIT
/*
 * holes.c - the holes of a file: the only ranges a job may allocate, and
 * so the only ranges it may release again when it is undone.
 *
 * The holes of [0, LENGTH) are listed once, before the job, with
 * SEEK_HOLE/SEEK_DATA; everything past the end of the file is a hole.
 * A filesystem without SEEK_HOLE support reports the whole file as data,
 * which errs on the safe side: its data is never released.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
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
	v = realloc(h->v, (h->nr + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	v[h->nr].start = start;
	v[h->nr++].end = end;
	return 0;
}

/**
 * holes_find() - lists the holes of [0, @len) of @h->fd.
 * @h: the list, empty, with its fd set.
 * @size: the file's size now.
 * @len: how far the job goes.
 *
 * Return: 0 or a negative errno.
 */
int holes_find(struct tool_holes *h, off_t size, off_t len)
{
	off_t limit = size < len ? size : len, off = 0, hole, data;
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
	return holes_add(h, size > len ? len : size, len);
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

static int punch_one(struct tool_holes *h, off_t off, off_t len, void *arg)
{
	int *failed = arg;

	if (fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      off, len))
		*failed = -errno;
	return 0;
}

/**
 * holes_punch() - releases whatever was allocated in the holes of a range.
 * @h: the holes.
 * @start: first byte.
 * @end: byte after the last.
 *
 * Data the file had before the job is never touched.
 *
 * Return: 0, or the negative errno of a punch that failed.
 */
int holes_punch(struct tool_holes *h, off_t start, off_t end)
{
	int failed = 0;

	holes_for_each(h, start, end, punch_one, &failed);
	return failed;
}

void holes_free(struct tool_holes *h)
{
	free(h->v);
	h->v = NULL;
	h->nr = 0;
	h->bytes = 0;
}
