// SPDX-License-Identifier: MIT
/*
 * populate.c - `ktask populate`: prefault a region, optionally mlock it.
 *
 * This is what a VM or a database does before it starts serving: fault in
 * all of its memory up front, as QEMU's memory preallocation does, so that
 * no request pays for a page fault later.  The region is anonymous memory
 * or a shared mapping of a file (tmpfs, hugetlbfs, or a disk file, whose
 * page cache it warms).  Each chunk uses MADV_POPULATE_WRITE, or _READ with
 * --read (Linux 5.14); on an older kernel, or with --touch, it touches one
 * byte of every page instead.  With --mlock each chunk is also locked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define POPULATE_MIN_CHUNK (16UL << 20)
#define POPULATE_STEP (64UL << 20)

/* Set once the kernel turned MADV_POPULATE_* down: touch from then on. */
static atomic_bool populate_no_madvise;

/* Faults in each page of [p, p + n) by touching one byte of it. */
static void populate_touch(const struct tool_opts *o, char *p, size_t n)
{
	size_t ps = tool_page_size(), i;

	for (i = 0; i < n; i += ps) {
		volatile char *v = p + i;

		if (o->read)
			(void)*v;
		else
			*v = *v;
	}
}

static int populate_step(const struct tool_opts *o, char *p, size_t n)
{
	int advice = o->read ? MADV_POPULATE_READ : MADV_POPULATE_WRITE;

	if (o->touch || atomic_load_explicit(&populate_no_madvise,
					     memory_order_relaxed)) {
		populate_touch(o, p, n);
	} else if (madvise(p, n, advice)) {
		if (errno != EINVAL)
			return -errno;
		/* An older kernel: the advice itself is unknown. */
		atomic_store(&populate_no_madvise, true);
		populate_touch(o, p, n);
	}
	if (o->mlock && mlock(p, n))
		return -errno;
	return 0;
}

static int populate_chunk(char *start, char *end,
			  const struct tool_opts *o)
{
	size_t n;
	int err;

	for (; start < end; start += n) {
		n = (size_t)(end - start) < POPULATE_STEP ?
			(size_t)(end - start) : POPULATE_STEP;
		err = populate_step(o, start, n);
		if (err)
			return err;
		progress_add(n);
	}
	return KTASK_RETURN_SUCCESS;
}

/* After a failure, the completed chunks are unlocked again. */
static void populate_undo(char *start, char *end, const struct tool_opts *o)
{
	if (o->mlock)
		munlock(start, end - start);
}

/**
 * populate_buffer() - prefaults @len bytes at @buf with ktask and times it.
 * @o: the options (--read, --touch, --mlock).
 * @buf: the region, page aligned.
 * @len: its length.
 * @r: the result.
 *
 * Return: 0, or the negative errno of the first chunk that failed.
 */
int populate_buffer(const struct tool_opts *o, void *buf, size_t len,
		    struct tool_result *r)
{
	DEFINE_KTASK_CTL(ctl, populate_chunk, (void *)o, POPULATE_MIN_CHUNK);

	ktask_ctl_set_undo_func(&ctl, populate_undo);
	r->unit = "bytes";
	r->bytes = len;
	return tool_run(o, buf, len, tool_page_size(), &ctl, r);
}

/* Opens and maps --file; the whole file unless a size was given. */
static void *populate_map_file(const struct tool_opts *o, size_t *len)
{
	struct stat st;
	void *p = MAP_FAILED;
	int fd = open(o->file, o->read ? O_RDONLY : O_RDWR);

	if (fd < 0) {
		tool_error("populate", "%s: %s", o->file, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st)) {
		tool_error("populate", "%s: %s", o->file, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		tool_error("populate", "%s: not a regular file", o->file);
	} else if (!st.st_size) {
		tool_error("populate", "%s: file is empty", o->file);
	} else if (o->size > (size_t)st.st_size) {
		tool_error("populate", "%s: file is shorter than the size "
			   "asked for; populate does not extend files", o->file);
	} else {
		*len = o->size ? o->size : (size_t)st.st_size;
		p = mmap(NULL, *len, PROT_READ | (o->read ? 0 : PROT_WRITE),
			 MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			tool_error("populate", "%s: mmap: %s", o->file,
				   strerror(errno));
	}
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/**
 * populate_do() - maps the region the options describe and prefaults it.
 * @o: the options.
 * @r: the result.
 *
 * Return: 0, or 1 after printing an error.
 */
int populate_do(const struct tool_opts *o, struct tool_result *r)
{
	size_t len = o->size;
	void *buf;
	int err;

	r->command = "populate";
	snprintf(r->what, sizeof(r->what), "%s%s%s",
		 o->file ? "file mapping" : "anonymous",
		 o->read ? ", read" : ", write", o->mlock ? ", mlocked" : "");
	if (o->file) {
		buf = populate_map_file(o, &len);
		if (!buf)
			return 1;
	} else {
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (buf == MAP_FAILED) {
			tool_error("populate", "mmap: %s", strerror(errno));
			return 1;
		}
	}
	err = populate_buffer(o, buf, len, r);
	if (err)
		tool_error("populate", "%s%s", strerror(err < 0 ? -err : err),
			   o->mlock && (err == -ENOMEM || err == -EPERM) ?
			   " (mlock: see ulimit -l)" : "");
	munmap(buf, len);
	return err ? 1 : 0;
}

/* `ktask populate [SIZE]`: SIZE defaults to 1 GiB, or the file's size. */
int cmd_populate(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("populate", o, TOOL_OPT_POP, argc, 0, 1);
	struct tool_result r = { 0 };

	if (ret)
		return ret;
	o->size = o->file ? 0 : 1UL << 30;
	if (argc && (ret = tool_parse_size("populate", argv[0], &o->size)))
		return ret;
	ret = populate_do(o, &r);
	if (!ret)
		tool_report(o, &r);
	return ret;
}
