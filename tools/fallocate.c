// SPDX-License-Identifier: MIT
/*
 * fallocate.c - `ktask fallocate FILE LENGTH`: allocate a file's blocks,
 * all or nothing, by the fastest method the filesystem allows.
 *
 * The holes of the file's first LENGTH bytes are allocated, how depends
 * on the filesystem:
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
 * All or nothing, without ever touching what another process wrote:
 *
 *   - A new file is built unnamed (O_TMPFILE) in the target directory,
 *     at its full size, and linked in with linkat(2) only once every
 *     block is allocated.  A failure, SIGKILL included, leaves nothing.
 *     Where the filesystem has no O_TMPFILE it is built under a hidden
 *     random name (created O_EXCL) and renamed into place when complete
 *     (RENAME_NOREPLACE), and removed on failure; only a SIGKILL leaves
 *     that temporary file behind.  --verbose and --json say which ran.
 *   - An existing file is extended with FALLOC_FL_KEEP_SIZE, and its size
 *     is set only when every block is allocated: a killed job never
 *     leaves a file that looks complete.  A failure or SIGINT/SIGTERM
 *     punches what the job allocated and frees what it allocated past the
 *     end, but only while ktask holds an exclusive write lease on the
 *     file (lease.c), which proves no other process can have written
 *     there.  Once another process opens the file the lease breaks, and
 *     every block allocated is kept.  Where no lease can be had (the file
 *     is open elsewhere, another user's, or on a filesystem without
 *     leases) the job runs and a note says that a failure keeps what was
 *     allocated.  Preallocated space the file had is never a hole
 *     (holes.c: FIEMAP), so it is never punched.  tmpfs has no FIEMAP and
 *     needs no list: the undo finds the job's pages after the fact
 *     (fa_shmem_ok()).
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

/*
 * A fallocate(2) step that took less than this doubles the next one, up
 * to FALLOC_STEP_MAX.  Each call has a fixed cost (ext4: the inode lock,
 * the mtime, a new search of the block groups): 13 calls of 64 MiB over a
 * 781 MiB file of 1000 holes took 1.2 ms more CPU than one call, where
 * each allocated its 64 MiB of unwritten extents in under a millisecond.
 * Growing only while a call is that quick keeps a signal answered within
 * a few milliseconds all the same; tmpfs, which clears its pages, stays
 * at 64 MiB a call.
 */
#define FALLOC_STEP_QUICK 0.002	/* seconds */
#define FALLOC_STEP_MAX (1UL << 30)

enum fa_method {
	FA_FALLOCATE,		/* fallocate(2) in one thread */
	FA_POPULATE,	/* hugetlbfs: parallel MADV_POPULATE_WRITE */
	FA_KERNEL,	/* hugetlbfs: the kernel's parallel fallocate */
};

/* The file the job works on, and how a new one comes into being. */
struct fa_file {
	int fd;
	int dfd;		/* a new file's directory, or -1 */
	const char *base;	/* its name there */
	char tmp[64];		/* the temporary name, if O_TMPFILE failed */
	bool created;		/* a new file, unnamed or temporary */
};

struct fa_task {
	struct tool_holes h;
	enum fa_method method;
	size_t step;		/* bytes per system call */
	char *map;		/* FA_POPULATE: the file, mapped shared */
	bool fail;		/* the test hook is armed ... */
	off_t fail_at;		/* ... at this offset */
	bool discard;		/* a new file: a failure drops it whole */
	bool undo;		/* an existing file: leased, holes exact */
	bool shmem;		/* tmpfs, no hole list: see fa_shmem_ok() */
	bool eof_checked;	/* shmem: fa_shmem_eof() ran */
	off_t old_size;		/* the file's size before the job */
	off_t kept;		/* fa_trim() could not: bytes kept past the end */
	atomic_bool punch_failed;	/* some undo could not punch */
	atomic_size_t allocated;	/* bytes this job allocated */
	const char *no_undo;	/* an existing file: why no undo, if not */
	char detail[192];	/* more on the error, for the message */
};

/* The holes in one step: where the first starts, the last ends, and
 * how many bytes they hold. */
struct fa_span {
	off_t start, end;
	off_t bytes;
};

static int fa_span_add(struct tool_holes *h, off_t off, off_t len, void *arg)
{
	struct fa_span *sp = arg;

	(void)h;
	if (!sp->bytes)
		sp->start = off;
	sp->end = off + len;
	sp->bytes += len;
	return 0;
}

/*
 * Allocates [off, off + n), which holds holes and maybe data: one call
 * for the whole span, since fallocate(2) and a write fault leave data as
 * it is.  One call per hole cost 3-8x fallocate(1)'s time on a file with
 * 100k holes.
 */
static int fa_alloc_span(struct fa_task *t, off_t off, off_t n)
{
	int err;

	if (t->method == FA_POPULATE) {
		err = madvise(t->map + off, n, MADV_POPULATE_WRITE) ? -errno : 0;
		/* A hugetlb fault with no page to give: SIGBUS. */
		if (err == -EFAULT || err == -ENOMEM)
			err = -ENOSPC;
	} else {
		err = fallocate(t->h.fd, FALLOC_FL_KEEP_SIZE, off, n) ?
		      -errno : 0;
	}
	return err;
}

static off_t fa_blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (off_t)st.st_blocks * 512;
}

/*
 * shmem: the job has allocated [0, old size) and nothing past it yet, so
 * whatever the file has beyond its size in pages was there before: if
 * nothing, a failure may truncate back (fa_trim()).  Pages are counted
 * whole; a large folio that straddles the end counts as allocated past
 * it, which errs on the side of keeping.
 */
static void fa_shmem_eof(struct fa_task *t)
{
	off_t pg = sysconf(_SC_PAGESIZE);

	t->eof_checked = true;
	if (fa_blocks(t->h.fd) <= (t->old_size + pg - 1) / pg * pg)
		t->h.eof_alloc = false;
}

/*
 * Allocates the holes of [s, e) step by step, a span per step; sets
 * @reached to the end of the last step that completed.
 */
static int fa_alloc(struct fa_task *t, off_t s, off_t e, off_t *reached)
{
	off_t n, before = 0, got, step = (off_t)t->step;
	struct fa_span sp;
	double c0;
	int err;

	for (*reached = s; s < e; s += n) {
		n = e - s < step ? e - s : step;
		/* shmem: a step ends at the old size, to check there. */
		if (t->shmem && s < t->old_size && s + n > t->old_size)
			n = t->old_size - s;
		if (t->shmem && s == t->old_size && !t->eof_checked)
			fa_shmem_eof(t);
		sp = (struct fa_span){ 0 };
		holes_for_each(&t->h, s, s + n, fa_span_add, &sp);
		if (!sp.bytes)
			continue;
		if (t->shmem)
			before = fa_blocks(t->h.fd);
		c0 = tool_now();
		err = fa_alloc_span(t, sp.start, sp.end - sp.start);
		if (!err && t->method == FA_FALLOCATE &&
		    step < (off_t)FALLOC_STEP_MAX &&
		    tool_now() - c0 < FALLOC_STEP_QUICK)
			step *= 2;
		if (err == -EINTR && !tool_stop_signal()) {
			n = 0;	/* not a signal we stop for: again */
			continue;
		}
		if (err)
			return err;
		*reached = s + n;
		/* shmem: what the call added; the list: the holes it filled. */
		got = t->shmem ? fa_blocks(t->h.fd) - before : sp.bytes;
		if (got > 0)
			atomic_fetch_add_explicit(&t->allocated, got,
						  memory_order_relaxed);
		progress_add(sp.bytes);
		err = tool_step_done();
		if (err)
			return err;
	}
	return 0;
}

/*
 * Releases what the job allocated in [s, e): nothing for a new file,
 * which is dropped whole, and on an existing file only while the lease
 * holds (lease.c).
 */
static void fa_punch(struct fa_task *t, off_t s, off_t e)
{
	if (t->discard || !t->undo)
		return;
	/* A step per punch: see lease.c. */
	if (t->shmem ? holes_punch_seek(t->h.fd, s, e) :
		       holes_punch(&t->h, s, e))
		atomic_store(&t->punch_failed, true);
}

/*
 * Allocates the holes of one chunk.  On failure it punches them again, as
 * ktask never undoes the chunk that failed: with a list, its holes; on
 * shmem, up to where it got (the failed call has undone itself).
 */
static int fa_chunk(void *start, void *end, struct fa_task *t)
{
	off_t s = (uintptr_t)start, e = (uintptr_t)end, stop = e, reached;
	int err, injected = 0;

	if (t->fail && t->fail_at >= s && t->fail_at < e) {
		stop = t->fail_at;
		injected = -ENOSPC;
	}
	err = fa_alloc(t, s, stop, &reached);
	if (!err)
		err = injected;
	if (err)
		fa_punch(t, s, t->shmem ? reached : e);
	return err;
}

/* Releases the ranges that completed before another one failed. */
static void fa_undo(void *start, void *end, struct fa_task *t)
{
	fa_punch(t, (uintptr_t)start, (uintptr_t)end);
}

/* Opens @path's directory, for a new file; sets @f->base. */
static int fa_open_dir(const char *path, struct fa_file *f)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	f->base = slash ? slash + 1 : path;
	if (!*f->base || !strcmp(f->base, ".") || !strcmp(f->base, ".."))
		return -EISDIR;
	if (!slash) {
		dir = strdup(".");
	} else if (slash == path) {
		dir = strdup("/");
	} else {
		dir = strndup(path, slash - path);
	}
	if (!dir)
		return -ENOMEM;
	f->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	return f->dfd < 0 ? -errno : 0;
}

/*
 * A new file, not yet visible: unnamed (O_TMPFILE) where the filesystem
 * can, else under a hidden name nobody can guess, created O_EXCL.
 */
static int fa_create(struct fa_file *f)
{
	unsigned long long r;
	int i;

	if (!getenv("KTASK_TEST_NO_TMPFILE")) {
		f->fd = openat(f->dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
			       0666);
		if (f->fd >= 0)
			return 0;
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return -errno;
	}
	for (i = 0; i < 32; i++) {
		if (getentropy(&r, sizeof(r)))
			r = (unsigned long long)tool_now() * 1e9 + i;
		snprintf(f->tmp, sizeof(f->tmp), ".%.24s.ktask-%016llx",
			 f->base, r);
		f->fd = openat(f->dfd, f->tmp, O_RDWR | O_CREAT | O_EXCL |
			       O_NOFOLLOW | O_CLOEXEC, 0666);
		if (f->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	f->tmp[0] = '\0';
	return -errno;
}

/* Gives the complete new file its name; never replaces another. */
static int fa_publish(struct fa_file *f)
{
	char proc[64];

	if (!f->tmp[0]) {
		if (!linkat(f->fd, "", f->dfd, f->base, AT_EMPTY_PATH))
			return 0;
		if (errno != ENOENT && errno != EPERM)
			return -errno;
		/* Without CAP_DAC_READ_SEARCH: through /proc. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
		return linkat(AT_FDCWD, proc, f->dfd, f->base,
			      AT_SYMLINK_FOLLOW) ? -errno : 0;
	}
	if (!renameat2(f->dfd, f->tmp, f->dfd, f->base, RENAME_NOREPLACE)) {
		f->tmp[0] = '\0';
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* No RENAME_NOREPLACE here: a hard link cannot replace either. */
	if (!linkat(f->dfd, f->tmp, f->dfd, f->base, 0)) {
		unlinkat(f->dfd, f->tmp, 0);
		f->tmp[0] = '\0';
		return 0;
	}
	if (errno != EPERM && errno != EOPNOTSUPP)
		return -errno;
	if (renameat(f->dfd, f->tmp, f->dfd, f->base))
		return -errno;
	f->tmp[0] = '\0';
	return 0;
}

/*
 * Opens @path if it exists and is a regular file (-EBADF if it is
 * another kind, not opened: tool_open_regular()), else makes a new file
 * for it that no one sees before fa_publish().
 */
static int fa_open(const char *path, struct fa_file *f)
{
	struct stat st;
	int err;

	f->fd = tool_open_regular(path, O_RDWR, &st);
	if (f->fd >= 0)
		return 0;
	err = f->fd;
	f->fd = -1;
	if (err != -ENOENT)
		return err;
	err = fa_open_dir(path, f);
	if (!err)
		err = fa_create(f);
	f->created = !err;
	return err;
}

static void fa_close(struct fa_file *f)
{
	if (f->tmp[0])
		unlinkat(f->dfd, f->tmp, 0);
	if (f->fd >= 0)
		close(f->fd);
	if (f->dfd >= 0)
		close(f->dfd);
}

/* Picks the method for the filesystem; says what it is in @r->method. */
static void fa_choose(const struct tool_opts *o, struct fa_task *t,
		      const struct tool_fsinfo *fi, bool grows,
		      struct tool_result *r)
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
	} else if (grows) {
		/* A mapping faults only below the size, set at the end. */
		snprintf(r->method, sizeof(r->method), "fallocate(2) in one "
			 "thread: an existing file grows only when complete, "
			 "and a mapping cannot reach past its end");
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
			    off_t len)
{
	off_t alloc = (off_t)st->st_blocks * 512;

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

/*
 * tmpfs needs no list of holes made before the job (200k lseek(2) calls,
 * 0.35-0.5 s, for a file of 100k holes: as long as the allocation), because
 * shmem_fallocate() keeps apart what one call adds (mm/shmem.c, Linux
 * 6.12 and later):
 *
 *   - a page it adds stays !uptodate until someone writes it (write(2),
 *     a write fault: both clear it and mark it uptodate);
 *   - a page fallocated earlier that the call passes over is cleared and
 *     marked uptodate ("lest undo on failure cancel our earlier
 *     guarantee"), as is a written page, and swapped pages are data;
 *   - when the call fails it removes only the !uptodate pages it added
 *     (shmem_undo_range(..., unfalloc)), never one that was written;
 *   - SEEK_HOLE/SEEK_DATA call a !uptodate page a hole
 *     (folio_seek_hole_data()).
 *
 * So once the job's calls have passed over a range, its SEEK_HOLE holes
 * are the pages the job added and no one has written since: the undo
 * punches those (holes_punch_seek()), under the lease as everywhere.
 * Pages it added that memory pressure swapped out are data by then and
 * are kept.  Past the size SEEK_HOLE sees nothing; fa_shmem_eof() tells
 * whether truncating back there would take pages the file had before.
 * It needs [0, size) complete, so a job from an offset that grows a file
 * with pages uses the list.
 */
static bool fa_shmem_ok(const struct fa_task *t, const struct tool_fsinfo *fi,
			const struct stat *st, off_t off, off_t len)
{
	return fi->fs == TOOL_FS_TMPFS && t->method == FA_FALLOCATE &&
	       (off == 0 || len <= st->st_size || !st->st_blocks);
}

/* tmpfs: the whole range is a "hole" to the steps (fallocate(2) leaves
 * pages as they are); past the size, pages are assumed until checked. */
static int fa_shmem_holes(struct fa_task *t, const struct stat *st, off_t len)
{
	t->shmem = true;
	t->h.eof_alloc = st->st_blocks && len > st->st_size;
	return holes_add(&t->h, 0, len);
}

/* FA_POPULATE: maps the file; hugetlbfs reserves the pages here. */
static int fa_map(struct fa_task *t, const struct tool_fsinfo *fi, off_t len)
{
	t->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      t->h.fd, 0);
	if (t->map != MAP_FAILED)
		return 0;
	t->map = NULL;
	if (errno != ENOMEM)
		return -errno;
	snprintf(t->detail, sizeof(t->detail), " (%zu huge pages of %zu KiB "
		 "needed, fewer free: see /proc/sys/vm/nr_hugepages and the "
		 "mount's size=)", t->h.bytes / fi->block, fi->block >> 10);
	return -ENOSPC;
}

/*
 * An existing file: undo rights come with the lease, and only if every
 * preallocated range is known.  Says in @r->sharing what holds.
 */
static void fa_lease(struct fa_task *t, const char *path, int err,
		     struct tool_result *r)
{
	r->undo = "none";
	if (!t->h.bytes) {
		snprintf(r->sharing, sizeof(r->sharing), "existing file, "
			 "nothing to allocate");
		return;
	}
	if (err) {
		t->no_undo = "the job could not have the file to itself";
		snprintf(r->sharing, sizeof(r->sharing), "existing file, no "
			 "lease (%s): a failure keeps what was allocated",
			 tool_lease_why(err));
		tool_note("fallocate", "%s: cannot lease it (%s): if the job "
			  "fails, what it allocated stays allocated", path,
			  tool_lease_why(err));
		return;
	}
	if (t->h.inexact) {
		t->no_undo = "the file had preallocated space this "
			     "filesystem cannot locate";
		snprintf(r->sharing, sizeof(r->sharing), "existing file with "
			 "preallocated space that cannot be located (no "
			 "FIEMAP): a failure keeps what was allocated");
		tool_note("fallocate", "%s: it has preallocated space this "
			  "filesystem cannot locate: if the job fails, what "
			  "it allocated stays allocated", path);
		return;
	}
	t->undo = true;
	r->undo = "lease";
	snprintf(r->sharing, sizeof(r->sharing), "existing file, exclusive "
		 "write lease: undone on failure unless another process "
		 "opens it meanwhile");
}

/* The size, set when every block is there; never shrinks the file. */
static int fa_set_size(int fd, off_t len)
{
	struct stat st;

	/* Mode 0 grows the size atomically, if it is less; no new block. */
	if (!fallocate(fd, 0, len - 1, 1))
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	if (fstat(fd, &st))
		return -errno;
	return st.st_size < len && ftruncate(fd, len) ? -errno : 0;
}

/*
 * Before the size is set: another process that cut the file shorter than
 * it was took blocks the job allocated with it (with no lease, or after
 * the lease broke), and growing the size back would present a hole as
 * the job's result.  Only a size below the old one is certain to say so.
 */
static int fa_still_there(struct fa_task *t, const struct stat *st)
{
	struct stat now;

	if (fstat(t->h.fd, &now))
		return -errno;
	if (now.st_size >= st->st_size)
		return 0;
	snprintf(t->detail, sizeof(t->detail), " (another process truncated "
		 "the file from %lld to %lld bytes during the job: what it "
		 "allocated there is gone)", (long long)st->st_size,
		 (long long)now.st_size);
	return -ESTALE;
}

/*
 * After a failure: frees what the job allocated past the old end, which
 * ext4 does not punch.  Truncating to the size it has frees everything
 * past it, so only if nothing was allocated there before, and under the
 * lease.
 */
static void fa_trim(struct fa_task *t, const struct stat *st, off_t len)
{
	struct stat now;

	if (len <= st->st_size || t->discard || !t->undo)
		return;
	if (t->h.eof_alloc) {
		/* Kept: what the job added there, for the message. */
		t->kept = fa_blocks(t->h.fd) - (off_t)st->st_blocks * 512;
		return;
	}
	if (tool_undo_begin() && (fstat(t->h.fd, &now) ||
				  now.st_size != st->st_size ||
				  ftruncate(t->h.fd, st->st_size)))
		atomic_store(&t->punch_failed, true);
	tool_undo_end();
}

/*
 * Runs the task over [@off, @len).  A new file gets its size first (no
 * one sees it); an existing one only after the last block; neither with
 * --keep-size.  On failure the ranges are punched again (fa_punch()).
 */
static int fa_run(const struct tool_opts *o, struct fa_task *t,
		  const struct stat *st, off_t off, off_t len,
		  const char *path, struct tool_result *r)
{
	bool grows = o->keep_size || (!t->discard && len > st->st_size);
	DEFINE_KTASK_CTL(ctl, fa_chunk, t, FALLOC_MIN_CHUNK);
	struct tool_opts ro = *o;
	struct tool_fsinfo fi;
	double t0 = tool_now(), t1 = t0, t2;
	struct stat cur = *st;
	int err, lease = -EINVAL;

	err = tool_fsinfo(t->h.fd, &fi);
	if (err)
		return err;
	snprintf(r->what, sizeof(r->what), "%s", fi.name);
	fa_choose(o, t, &fi, grows, r);
	if (fi.fs == TOOL_FS_HUGETLBFS && off % (off_t)fi.block)
		return -EXDEV;
	/*
	 * The lease before the scan: a process that wrote into a hole and
	 * closed the file between the two would otherwise find its data
	 * punched by an undo (a review lost it in 37 of 40 runs).  With the
	 * lease held, the file as scanned is the file until the lease
	 * breaks; its status is read again under it.
	 */
	if (!t->discard) {
		tool_test_before_lease();
		lease = tool_lease_take(t->h.fd);
		if (fstat(t->h.fd, &cur))
			return -errno;
		st = &cur;
	}
	t->old_size = st->st_size;
	if (fi.fs == TOOL_FS_HUGETLBFS)
		err = fa_hugetlb_holes(t, st, len);
	else if (fa_shmem_ok(t, &fi, st, off, len))
		err = fa_shmem_holes(t, st, len);
	else
		err = holes_find(&t->h, st, len);
	if (err)
		return err;
	holes_trim(&t->h, off);
	t1 = tool_now();
	if (!t->discard)
		fa_lease(t, path, lease, r);
	t->fail = tool_test_fail_at(&t->fail_at);
	if (t->discard && !o->keep_size && ftruncate(t->h.fd, len))
		return -errno;
	if (t->method == FA_POPULATE && t->h.bytes)
		err = fa_map(t, &fi, len);
	if (!err && !tool_stop_signal()) {
		ktask_ctl_set_undo_func(&ctl, fa_undo);
		ro.serial = t->method != FA_POPULATE;
		err = tool_run(&ro, (void *)(uintptr_t)off, len - off,
			       fi.block, &ctl, r);
	}
	/* A signal after the last chunk still means "do not do it". */
	if (tool_stop_signal()) {
		if (!err)
			fa_punch(t, off, len);
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
	t2 = tool_now();
	if (!err && !t->discard)
		err = fa_still_there(t, st);
	if (err)
		fa_trim(t, st, len);
	else if (!t->discard && !o->keep_size && len > st->st_size)
		err = fa_set_size(t->h.fd, len);
	r->seconds = tool_now() - t0;	/* the whole job, scan included */
	if (t->shmem)
		snprintf(r->phases, sizeof(r->phases), "no hole scan (tmpfs: "
			 "an undo finds the pages the job added), allocation "
			 "%.3f s, size and undo %.3f s", t2 - t0,
			 r->seconds - (t2 - t0));
	else
		snprintf(r->phases, sizeof(r->phases), "hole scan %.3f s (%zu "
			 "holes), allocation %.3f s, size and undo %.3f s",
			 t1 - t0, t->h.nr, t2 - t1, r->seconds - (t2 - t0));
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
	if (err == -EXDEV)
		return "the offset is not a multiple of the huge page size";
	if (err == -ESTALE)
		return "the file changed under the job";
	return strerror(-err);
}

/*
 * Undone under the lease, yet more is allocated than before: what the
 * job allocated past the end, where the file had preallocated space
 * that a truncate back would have released too (fa_trim()).
 */
static void fa_left_kept(const struct fa_task *t, char *buf, size_t len)
{
	char sz[32];

	size_format(t->kept, sz, sizeof(sz));
	snprintf(buf, len, "size and data as they were, but %s the job "
		 "allocated stays allocated: the file had preallocated space "
		 "past its end, which truncating back would release too", sz);
}

/* What a failure left: nothing, the file as it was, or kept blocks. */
static const char *fa_left(const struct fa_task *t, char *buf, size_t len)
{
	char sz[32];

	size_format(atomic_load(&t->allocated), sz, sizeof(sz));
	if (t->discard)
		snprintf(buf, len, "no file created");
	else if (!atomic_load(&t->allocated))
		snprintf(buf, len, "file left as it was");
	else if (tool_lease_broken())
		snprintf(buf, len, "another process opened or truncated the "
			 "file during the job, so the blocks allocated (%s) are "
			 "kept; size unchanged", sz);
	else if (!t->undo)
		snprintf(buf, len, "the blocks allocated (%s) are kept (%s); "
			 "size unchanged", sz, t->no_undo ? t->no_undo :
			 "the job could not have the file to itself");
	else if (t->kept > 0)
		fa_left_kept(t, buf, len);
	else
		snprintf(buf, len, "file left as it was");
	return buf;
}

/* The file @path names: existing and regular, or new and not yet seen. */
static int fa_prepare(struct fa_file *f, const char *path, struct stat *st,
		      struct tool_result *r)
{
	int err = fa_open(path, f);

	if (err) {
		tool_error("fallocate", "%s: %s", path, tool_open_error(err));
		return err;
	}
	if (fstat(f->fd, st)) {
		tool_error("fallocate", "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st->st_mode)) {
		tool_error("fallocate", "%s: not a regular file", path);
		return -EBADF;
	}
	/* O_NONBLOCK was for the open alone (a FIFO, a device). */
	fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK);
	if (!f->created) {
		r->create = "existing";
	} else if (f->tmp[0]) {
		r->create = "rename";
		r->undo = "discard";
		snprintf(r->sharing, sizeof(r->sharing), "new file, built "
			 "as %.40s and renamed into place when complete (no "
			 "O_TMPFILE here)", f->tmp);
	} else {
		r->create = "O_TMPFILE";
		r->undo = "discard";
		snprintf(r->sharing, sizeof(r->sharing), "new file, built "
			 "unnamed (O_TMPFILE) and linked in when complete");
	}
	return 0;
}

/**
 * fallocate_do() - allocates the blocks of [0, @len) of @path, or nothing.
 * @o: the options.
 * @path: the file; created if it does not exist.
 * @len: the length it should have allocated; it grows to at least this.
 * @r: the result.
 *
 * Return: 0, or 1 after printing an error; then a new file does not
 * exist, and an existing one is as it was unless another process opened
 * it meanwhile or it could not be leased (the message says so).
 */
int fallocate_do(const struct tool_opts *o, const char *path, off_t len,
		 struct tool_result *r)
{
	struct fa_task t = { .h.fd = -1 };
	struct fa_file f = { .fd = -1, .dfd = -1 };
	struct stat st;
	char left[192];
	int err;

	r->command = "fallocate";
	r->unit = "bytes";
	if (fa_prepare(&f, path, &st, r)) {
		fa_close(&f);
		return 1;
	}
	t.h.fd = f.fd;
	t.discard = f.created;
	len = fa_round(f.fd, path, len);
	r->bytes = len;
	err = fa_run(o, &t, &st, o->offset, o->offset + len, path, r);
	if (!err && f.created) {
		err = fa_publish(&f);
		if (err == -EEXIST)
			snprintf(t.detail, sizeof(t.detail), " (another "
				 "process created it meanwhile)");
	}
	tool_lease_release();
	if (err)
		tool_error("fallocate", "%s: %s%s; %s", path,
			   fa_reason(&t, err),
			   err == -ECANCELED ? "" : t.detail,
			   fa_left(&t, left, sizeof(left)));
	if (atomic_load(&t.punch_failed))
		tool_error("fallocate", "%s: warning: some blocks could not "
			   "be released again", path);
	fa_close(&f);
	holes_free(&t.h);
	return err ? 1 : 0;
}
/* Opens an existing regular file for --punch-hole, --zero-range, --dig-holes. */
static int fa_open_existing(const char *path, struct stat *st)
{
	int fd = tool_open_regular(path, O_RDWR, st);

	if (fd < 0)
		tool_error("fallocate", "%s: %s", path, tool_open_error(fd));
	return fd < 0 ? -1 : fd;
}

/* A job done in one call, for the report. */
static void fa_result_once(struct tool_result *r, off_t len, const char *how,
			   double t0)
{
	r->seconds = tool_now() - t0;
	r->bytes = r->units = len;
	r->how = how;
	r->one_thread = true;
	r->stats.ks_threads = 1;
	r->stats.ks_chunk_size = len;
	snprintf(r->method, sizeof(r->method), "one fallocate(2) with %s, as "
		 "fallocate(1) does: it changes data by design, so nothing is "
		 "undone", how);
}

/*
 * --punch-hole and --zero-range: one fallocate(2) over the range, as
 * fallocate(1).  Both replace data on purpose; there is nothing to undo.
 */
static int fa_once(const struct tool_opts *o, const char *path, off_t len,
		   struct tool_result *r)
{
	struct stat st;
	double t0 = tool_now();
	int fd, mode;

	r->command = "fallocate";
	r->unit = "bytes";
	fd = fa_open_existing(path, &st);
	if (fd < 0)
		return 1;
	mode = o->falloc_mode == 'p' ?
	       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE :
	       FALLOC_FL_ZERO_RANGE | (o->keep_size ? FALLOC_FL_KEEP_SIZE : 0);
	if (fallocate(fd, mode, o->offset, len)) {
		tool_error("fallocate", "%s: %s", path, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	snprintf(r->what, sizeof(r->what), "%s", o->falloc_mode == 'p' ?
		 "hole punched" : "range zeroed");
	fa_result_once(r, len, o->falloc_mode == 'p' ?
		       "FALLOC_FL_PUNCH_HOLE" : "FALLOC_FL_ZERO_RANGE", t0);
	return 0;
}

#define DIG_BUF (1UL << 20)

struct dig_task {
	int fd;
	off_t blk;
	bool force;		/* --force: dig without a lease */
	atomic_size_t punched;
};

/*
 * Punches [@s, @e), which read as zeroes.  Only under the lease: no other
 * process can have written there since the read.  Once it broke, the
 * job stops (-EAGAIN).
 */
static int dig_punch(struct dig_task *t, off_t s, off_t e)
{
	bool held;
	int err = 0;

	if (s >= e)
		return 0;
	held = tool_undo_begin();
	if (!held && !t->force)
		err = -EAGAIN;
	else if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   s, e - s))
		err = -errno;
	tool_undo_end();
	if (!err)
		atomic_fetch_add(&t->punched, e - s);
	return err;
}

static bool dig_zero(const char *p, size_t n)
{
	return !p[0] && !memcmp(p, p + 1, n - 1);
}

/* Reads [@s, @e), data, and punches its blocks that hold only zeroes. */
static int dig_data(struct dig_task *t, char *buf, off_t s, off_t e)
{
	off_t run = -1, p, b;
	ssize_t n;
	int err;

	for (p = s; p < e; p += n) {
		n = pread(t->fd, buf, e - p < (off_t)DIG_BUF ? (size_t)(e - p) : DIG_BUF,
			  p);
		if (n < 0)
			return -errno;
		if (!n)
			break;
		for (b = 0; b < n; b += t->blk) {
			off_t l = n - b < t->blk ? n - b : t->blk;

			if (dig_zero(buf + b, l)) {
				if (run < 0)
					run = p + b;
			} else if (run >= 0) {
				err = dig_punch(t, run, p + b);
				if (err)
					return err;
				run = -1;
			}
		}
		err = tool_step_done();
		if (err)
			return err;
	}
	return run >= 0 ? dig_punch(t, run, p) : 0;
}

/* One chunk: the data ranges of [start, end), per SEEK_DATA. */
static int dig_chunk(void *start, void *end, struct dig_task *t)
{
	off_t s = (uintptr_t)start, e = (uintptr_t)end, data, hole;
	char *buf = malloc(DIG_BUF);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (s < e && !err) {
		data = lseek(t->fd, s, SEEK_DATA);
		if (data < 0 || data >= e) {
			err = data < 0 && errno != ENXIO ? -errno : 0;
			break;
		}
		hole = lseek(t->fd, data, SEEK_HOLE);
		if (hole < 0 || hole > e)
			hole = e;
		err = dig_data(t, buf, data, hole);
		progress_add(hole - s);
		s = hole;
	}
	free(buf);
	return err;
}

/*
 * --dig-holes: blocks that hold only zeroes become holes, read and punched
 * by ktask's threads in parallel.  Under an exclusive lease only (or with
 * --force): a block that reads as zeroes cannot then be written by another
 * process before it is punched.
 */
static int fa_dig(const struct tool_opts *o, const char *path,
		  struct tool_result *r)
{
	DEFINE_KTASK_CTL(ctl, dig_chunk, NULL, FALLOC_MIN_CHUNK);
	struct dig_task t = { .force = o->force };
	struct stat st;
	double t0 = tool_now();
	off_t end;
	char sz[32];
	int err;

	r->command = "fallocate";
	r->unit = "bytes";
	t.fd = fa_open_existing(path, &st);
	if (t.fd < 0)
		return 1;
	t.blk = st.st_blksize > 0 ? st.st_blksize : 4096;
	end = o->length >= 0 ? o->offset + o->length : st.st_size;
	if (end > st.st_size)
		end = st.st_size;
	err = tool_lease_take(t.fd);
	if (err && !o->force) {
		tool_error("fallocate", "%s: cannot lease it (%s): digging "
			   "holes then would race other writers (--force digs "
			   "anyway)", path, tool_lease_why(err));
		close(t.fd);
		return 1;
	}
	ctl.kc_func_arg = &t;
	err = o->offset < end ? tool_run(o, (void *)(uintptr_t)o->offset,
					 end - o->offset, t.blk, &ctl, r) : 0;
	tool_lease_release();
	close(t.fd);
	size_format(atomic_load(&t.punched), sz, sizeof(sz));
	if (err) {
		tool_error("fallocate", "%s: %s; %s of zeroes made holes so far",
			   path, err == -EAGAIN ? "another process opened the "
			   "file: digging stopped" : err == -EINTR &&
			   tool_stop_signal() ? "interrupted" : strerror(-err),
			   sz);
		return 1;
	}
	r->seconds = tool_now() - t0;
	r->bytes = end > o->offset ? end - o->offset : 0;
	r->moves_data = true;
	r->how = "read, punch zero blocks";
	snprintf(r->what, sizeof(r->what), "scanned, %s of zeroes made holes",
		 sz);
	snprintf(r->method, sizeof(r->method), "pread(2) of the data ranges "
		 "and FALLOC_FL_PUNCH_HOLE of blocks of zeroes, %zu %s, under "
		 "an exclusive lease", r->stats.ks_helpers + 1,
		 tool_plural(r->stats.ks_helpers + 1, "thread", "threads"));
	return 0;
}

/* `ktask fallocate [-o OFFSET] [-n] [-p|-z|-d] FILE [LENGTH]` */
int cmd_fallocate(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("fallocate", o, TOOL_OPT_FALLOC |
				  TOOL_OPT_FORCE, argc, 1, 2);
	struct tool_result r = { 0 };
	size_t len = 0;

	if (ret)
		return ret;
	if (o->force && o->falloc_mode != 'd') {
		tool_error("fallocate", "--force applies to clear, populate "
			   "and fallocate -d only");
		return 2;
	}
	if (argc == 2 && o->length >= 0) {
		tool_error("fallocate", "LENGTH given twice (-l and '%s')",
			   argv[1]);
		return 2;
	}
	if (argc == 2) {
		ret = tool_parse_size("fallocate", argv[1], &len);
		if (ret)
			return ret;
		if ((off_t)len < 0) {
			tool_error("fallocate", "length too large: '%s'",
				   argv[1]);
			return 2;
		}
		o->length = (off_t)len;
	}
	if (o->length < 0 && o->falloc_mode != 'd') {
		tool_error("fallocate", "missing LENGTH (see ktask fallocate "
			   "--help)");
		return 2;
	}
	if (o->length >= 0 && o->offset > (off_t)INT64_MAX - o->length) {
		tool_error("fallocate", "offset + length too large");
		return 2;
	}
	tool_catch_signals();
	if (o->falloc_mode == 'd')
		ret = fa_dig(o, argv[0], &r);
	else if (o->falloc_mode)
		ret = fa_once(o, argv[0], o->length, &r);
	else
		ret = fallocate_do(o, argv[0], o->length, &r);
	if (!ret)
		tool_report(o, &r);
	return tool_exit_code(ret);
}
