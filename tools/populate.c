// SPDX-License-Identifier: MIT
/*
 * populate.c - `ktask populate`: prefault a region, optionally mlock it.
 *
 * This is what a VM or a database does before it starts serving: fault in
 * all of its memory up front, as QEMU's memory preallocation does, so that
 * no request pays for a page fault later.  The region is anonymous memory
 * or a shared mapping of a file.  Each chunk uses MADV_POPULATE_WRITE or
 * _READ (Linux 5.14); on an older kernel, or with --touch, it touches one
 * byte of every page instead.  With --mlock each chunk is also locked.
 *
 * A file is only written to when the user says so.  Its data ranges are
 * read-faulted, which fills the page cache and dirties nothing.  Its holes
 * (holes.c) are:
 *   - allocated (write-faulted: zero pages, the content does not change)
 *     on tmpfs and hugetlbfs, whose pages are memory: that is what a VM
 *     backed by such a file wants;
 *   - left holes on a disk filesystem, where allocating them would write
 *     zeroes back to the disk.
 * --read never allocates (except on hugetlbfs, which has no zero page:
 * any fault there allocates); --write write-faults every page, which
 * marks them all dirty: a disk file is then written back in full and its
 * mtime changes.  Holes that were allocated are punched again if the job
 * fails (ENOSPC) or SIGINT or SIGTERM stops it, under the same rule as
 * fallocate: only while ktask holds an exclusive write lease on the file
 * (lease.c), and never preallocated space (holes.c).  Without a lease, or
 * once another process opens the file, what was allocated is kept.
 *
 * The file is opened O_RDONLY, O_NONBLOCK (a FIFO does not block the
 * open) and checked to be regular; it is reopened for writing through
 * /proc/self/fd, the same inode, only when the job writes or allocates.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

enum pop_mode {
	POP_READ,	/* read-fault everything */
	POP_WRITE,	/* write-fault everything */
	POP_ALLOC,	/* write-fault the holes, read-fault the data */
};

struct pop_task {
	const struct tool_opts *o;
	enum pop_mode mode;
	char *map;
	bool file;
	struct tool_holes h;	/* a file's holes, to undo */
	bool undo;		/* leased and exact: failures are undone */
	atomic_bool punch_failed;
};

/* Set once the kernel turned MADV_POPULATE_* down: touch from then on. */
static atomic_bool populate_no_madvise;

/* A touch that hits a page the file cannot have (ENOSPC) is SIGBUS. */
static __thread sigjmp_buf pop_jmp;
static __thread volatile sig_atomic_t pop_jmp_armed;

static void pop_sigbus(int sig)
{
	if (pop_jmp_armed)
		siglongjmp(pop_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Faults in each page of [p, p + n) by touching one byte of it.  libktask's
 * workers block signals, and a SIGBUS that is blocked kills the process,
 * so SIGBUS is unblocked here for the time of the touching.
 */
static int populate_touch(char *p, size_t n, bool write)
{
	size_t ps = tool_page_size(), i;
	sigset_t bus, old;
	int err = 0;

	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	pthread_sigmask(SIG_UNBLOCK, &bus, &old);
	if (sigsetjmp(pop_jmp, 0)) {
		err = -ENOSPC;
		goto out;
	}
	pop_jmp_armed = 1;
	for (i = 0; i < n; i += ps) {
		volatile char *v = p + i;

		/*
		 * An atomic or of 0 keeps the byte and is a write access from
		 * the start: one write fault.  "*v = *v" would read first,
		 * map the zero page, then take a copy-on-write fault whose TLB
		 * flush interrupts every other CPU the task runs on: three
		 * times one thread's time on two CPUs.
		 */
		if (write)
			__atomic_fetch_or(v, 0, __ATOMIC_RELAXED);
		else
			(void)*v;
	}
out:
	pop_jmp_armed = 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

/*
 * A fault a file mapping could not serve: no page for it (SIGBUS, and
 * EFAULT from the advice), or the file cut shorter than the mapping by
 * another process meanwhile, which is not a full filesystem.
 */
static int pop_fault(const struct pop_task *t, const char *p, size_t n)
{
	struct stat st;

	if (!fstat(t->h.fd, &st) && st.st_size < (p - t->map) + (off_t)n)
		return -ESTALE;
	return -ENOSPC;
}

static int populate_step(const struct pop_task *t, char *p, size_t n,
			 bool write)
{
	int advice = write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
	int err = 0;

	if (t->o->touch || atomic_load_explicit(&populate_no_madvise,
						memory_order_relaxed)) {
		err = populate_touch(p, n, write);
		if (err == -ENOSPC && t->file)
			err = pop_fault(t, p, n);
	} else if (madvise(p, n, advice)) {
		err = -errno;
		if (err == -EINVAL) {
			/* An older kernel: the advice itself is unknown. */
			atomic_store(&populate_no_madvise, true);
			err = populate_touch(p, n, write);
			if (err == -ENOSPC && t->file)
				err = pop_fault(t, p, n);
		} else if (t->file && (err == -EFAULT || err == -ENOMEM)) {
			/* A page the file could not get: SIGBUS. */
			err = pop_fault(t, p, n);
		}
	}
	if (!err && t->o->mlock && mlock(p, n))
		err = -errno;
	return err;
}

/* Releases the holes of [@s, @e) again, while the lease holds. */
static void pop_punch(struct pop_task *t, off_t s, off_t e)
{
	if (!t->file || !t->undo)
		return;
	/* A step per punch: see lease.c. */
	if (holes_punch(&t->h, s, e))
		atomic_store(&t->punch_failed, true);
}

/* Populates [@s, @e) of the region in steps, checking for signals. */
static int populate_steps(struct pop_task *t, off_t s, off_t e, bool write)
{
	size_t n;
	int err;

	for (; s < e; s += n) {
		n = (size_t)(e - s) < POPULATE_STEP ? (size_t)(e - s) :
						     POPULATE_STEP;
		err = populate_step(t, t->map + s, n, write);
		if (err)
			return err;
		progress_add(n);
		err = tool_step_done();
		if (err)
			return err;
	}
	return 0;
}

/* POP_ALLOC walks data and holes in turn: where the last hole ended. */
struct pop_cursor {
	struct pop_task *t;
	off_t pos;
};

static int pop_hole(struct tool_holes *h, off_t off, off_t len, void *arg)
{
	struct pop_cursor *c = arg;
	int err;

	(void)h;
	err = populate_steps(c->t, c->pos, off, false);
	if (!err)
		err = populate_steps(c->t, off, off + len, true);
	c->pos = off + len;
	return err;
}

static int populate_chunk(char *start, char *end, struct pop_task *t)
{
	off_t s = start - t->map, e = end - t->map;
	struct pop_cursor c = { t, s };
	int err;

	if (t->mode == POP_ALLOC) {
		err = holes_for_each(&t->h, s, e, pop_hole, &c);
		if (!err)
			err = populate_steps(t, c.pos, e, false);
	} else {
		err = populate_steps(t, s, e, t->mode == POP_WRITE);
	}
	/* ktask does not undo the chunk that failed: do it here. */
	if (err)
		pop_punch(t, s, e);
	if (err && t->o->mlock)
		munlock(start, end - start);
	return err;
}

/* After a failure, the completed chunks are unlocked and their holes
 * released again. */
static void populate_undo(char *start, char *end, struct pop_task *t)
{
	if (t->o->mlock)
		munlock(start, end - start);
	pop_punch(t, start - t->map, end - t->map);
}

static int populate_run(struct pop_task *t, size_t len, size_t granule,
			struct tool_result *r)
{
	DEFINE_KTASK_CTL(ctl, populate_chunk, t, POPULATE_MIN_CHUNK);
	struct sigaction sa, old;
	int err;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pop_sigbus;
	sigemptyset(&sa.sa_mask);
	if (t->o->touch)
		sigaction(SIGBUS, &sa, &old);
	ktask_ctl_set_undo_func(&ctl, populate_undo);
	r->unit = "bytes";
	r->bytes = len;
	err = tool_run(t->o, t->map, len, granule, &ctl, r);
	if (t->o->touch)
		sigaction(SIGBUS, &old, NULL);
	return err;
}

/**
 * populate_buffer() - prefaults @len bytes of memory at @buf with ktask.
 * @o: the options (--read, --touch, --mlock).
 * @buf: the region, page aligned, anonymous (not a file mapping).
 * @len: its length.
 * @r: the result.
 *
 * Return: 0, or the negative errno of the first chunk that failed.
 */
int populate_buffer(const struct tool_opts *o, void *buf, size_t len,
		    struct tool_result *r)
{
	struct pop_task t = { .o = o, .map = buf };

	t.mode = o->read ? POP_READ : POP_WRITE;
	return populate_run(&t, len, tool_page_size(), r);
}

/* Picks how a file is populated; says so in @r->method (filled later). */
static int pop_file_mode(const struct tool_opts *o, struct pop_task *t,
			 const struct tool_fsinfo *fi)
{
	if (o->read && o->write) {
		tool_error("populate", "--read and --write contradict each "
			   "other");
		return 2;
	}
	if (o->write)
		t->mode = POP_WRITE;
	else if (o->read)
		t->mode = POP_READ;
	else
		t->mode = fi->memory ? POP_ALLOC : POP_READ;
	/* hugetlbfs has no zero page: a read fault allocates too. */
	if (fi->fs == TOOL_FS_HUGETLBFS && t->mode == POP_READ)
		t->mode = POP_ALLOC;
	return 0;
}

/* The holes the job may allocate, per holes.c or, on hugetlbfs, blocks. */
static int pop_file_holes(struct pop_task *t, const struct tool_fsinfo *fi,
			  const struct stat *st, size_t len)
{
	off_t alloc = (off_t)st->st_blocks * 512;

	if (t->mode == POP_READ)
		return 0;
	if (fi->fs != TOOL_FS_HUGETLBFS)
		return holes_find(&t->h, st, len);
	if (alloc && alloc < st->st_size) {
		tool_error("populate", "%s: hugetlbfs cannot say which of the "
			   "file's pages are allocated, and some are, so "
			   "ktask could not undo exactly what it adds",
			   t->o->file);
		return -ECANCELED;
	}
	return alloc ? 0 : holes_add(&t->h, 0, len);
}

/*
 * Reopens the file for writing: the same inode through /proc/self/fd, so
 * that a name swapped meanwhile changes nothing.
 */
static int pop_reopen_rw(struct pop_task *t, const struct stat *st)
{
	struct stat now;
	int fd = tool_reopen(t->h.fd, O_RDWR | O_NONBLOCK);

	if (fd < 0)
		return fd;
	if (fstat(fd, &now) || now.st_dev != st->st_dev ||
	    now.st_ino != st->st_ino) {
		close(fd);
		return -ESTALE;
	}
	close(t->h.fd);
	t->h.fd = fd;
	return 0;
}

/* Undo rights come with the lease (lease.c), as for fallocate. */
static void pop_lease(struct pop_task *t)
{
	int err;

	if (t->mode == POP_READ || !t->h.bytes)
		return;
	tool_test_before_lease();
	err = tool_lease_take(t->h.fd);
	if (err) {
		tool_note("populate", "%s: cannot lease it (%s): if the job "
			  "fails, the holes it allocated stay allocated",
			  t->o->file, tool_lease_why(err));
	} else if (t->h.inexact) {
		tool_note("populate", "%s: it has preallocated space this "
			  "filesystem cannot locate: if the job fails, the "
			  "holes it allocated stay allocated", t->o->file);
	} else {
		t->undo = true;
	}
}

/*
 * Under the lease: the holes again.  A process that wrote into one and
 * closed the file between the first scan and the lease would otherwise
 * see its data punched by an undo; from the lease on, no one can.
 */
static int pop_rescan(struct pop_task *t, const struct tool_fsinfo *fi,
		      size_t len)
{
	struct stat st;
	int err;

	if (fstat(t->h.fd, &st))
		return -errno;
	if ((size_t)st.st_size < len)
		return -ESTALE;
	holes_free(&t->h);
	t->h.inexact = t->h.eof_alloc = false;
	err = pop_file_holes(t, fi, &st, len);
	if (!err && t->h.inexact) {
		tool_note("populate", "%s: it has preallocated space this "
			  "filesystem cannot locate: if the job fails, the "
			  "holes it allocated stay allocated", t->o->file);
		t->undo = false;
	}
	return err;
}

/* Opens --file read-only, if it is a regular file (tool_open_regular()). */
static int pop_open_ro(const char *path, struct stat *st)
{
	int fd = tool_open_regular(path, O_RDONLY, st);

	if (fd < 0)
		tool_error("populate", "%s: %s", path, tool_open_error(fd));
	return fd < 0 ? -1 : fd;
}

/* Opens --file, checks it and the room for its holes, and maps it. */
static int pop_open_file(struct pop_task *t, size_t *len)
{
	const struct tool_opts *o = t->o;
	struct tool_fsinfo fi;
	struct stat st;
	int err = 1;

	t->h.fd = pop_open_ro(o->file, &st);
	if (t->h.fd < 0)
		return 1;
	if (tool_fsinfo(t->h.fd, &fi)) {
		tool_error("populate", "%s: %s", o->file, strerror(errno));
	} else if (!st.st_size) {
		tool_error("populate", "%s: file is empty", o->file);
	} else if (o->size > (size_t)st.st_size) {
		tool_error("populate", "%s: file is shorter than the size "
			   "asked for; populate does not extend files", o->file);
	} else if (!(err = pop_file_mode(o, t, &fi))) {
		*len = o->size ? o->size : (size_t)st.st_size;
		err = pop_file_holes(t, &fi, &st, *len);
		if (err && err != -ECANCELED)
			tool_error("populate", "%s: %s", o->file,
				   strerror(-err));
		err = err ? 1 : 0;
	}
	if (err)
		return err;
	/* Holes that stay holes need no write: map read-only. */
	if (t->mode == POP_ALLOC && !t->h.bytes)
		t->mode = POP_READ;
	if (t->mode != POP_READ && (err = pop_reopen_rw(t, &st))) {
		tool_error("populate", "%s: %s%s", o->file, strerror(-err),
			   fi.fs == TOOL_FS_HUGETLBFS ? " (on hugetlbfs even "
			   "a read allocates, which needs write access)" :
			   (err == -EACCES || err == -EPERM || err == -EROFS) &&
			   !o->read ? " (allocating its holes needs write "
			   "access; --read only reads what is there)" : "");
		return 1;
	}
	if (fi.memory && t->h.bytes > fi.avail && !o->force) {
		tool_error("populate", "%s: No space left on device: its holes "
			   "need %zu MiB, %s has %zu MiB free; nothing done "
			   "(--force tries anyway)",
			   o->file, t->h.bytes >> 20, fi.name, fi.avail >> 20);
		return 1;
	}
	if (fi.fs == TOOL_FS_TMPFS && tool_check_memory("populate", o,
							t->h.bytes))
		return 1;
	pop_lease(t);
	if (t->undo && (err = pop_rescan(t, &fi, *len))) {
		tool_error("populate", "%s: %s", o->file, err == -ESTALE ?
			   "the file was cut shorter during the setup; "
			   "nothing done" : strerror(-err));
		return 1;
	}
	/*
	 * No reservation on hugetlbfs: a punched hole gives back the pages
	 * that were allocated, but not the reservation of pages that never
	 * were (only truncation does), and the file keeps its size.  The
	 * room was checked above; a page taken meanwhile fails as ENOSPC.
	 */
	t->map = mmap(NULL, *len, PROT_READ | (t->mode == POP_READ ? 0 :
					       PROT_WRITE),
		      MAP_SHARED | (fi.fs == TOOL_FS_HUGETLBFS ?
				    MAP_NORESERVE : 0), t->h.fd, 0);
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		tool_error("populate", "%s: %s", o->file,
			   errno == ENOMEM && fi.fs == TOOL_FS_HUGETLBFS ?
			   "No space left on device: not enough free huge "
			   "pages; nothing done" : strerror(errno));
		return 1;
	}
	return 0;
}

static const char *const pop_modes[] = {
	[POP_READ] = "read-faults every page (nothing written or allocated)",
	[POP_WRITE] = "write-faults every page (--write: all dirtied)",
	[POP_ALLOC] = "allocates the holes, read-faults the data",
};

static void pop_describe(const struct pop_task *t, struct tool_result *r)
{
	size_t n = r->stats.ks_helpers + 1;

	snprintf(r->what, sizeof(r->what), "%s%s%s",
		 t->file ? "file mapping" : "anonymous",
		 t->mode == POP_READ ? ", read" : t->mode == POP_WRITE ?
		 ", write" : ", allocate", t->o->mlock ? ", mlocked" : "");
	snprintf(r->method, sizeof(r->method), "%s %s, %zu %s",
		 t->o->touch ? "touching one byte per page:" :
		 "MADV_POPULATE_*:", pop_modes[t->mode], n,
		 tool_plural(n, "thread", "threads"));
	r->moves_data = t->file || t->mode != POP_READ;
	r->how = t->o->touch ? "touch each page" :
		 t->mode == POP_READ ? "MADV_POPULATE_READ" :
		 t->mode == POP_WRITE ? "MADV_POPULATE_WRITE" :
		 "MADV_POPULATE_WRITE holes";
}

/* Says why a job failed, and what was left of it. */
static void pop_report_error(const struct pop_task *t, int err)
{
	const char *what = !t->file ? "" :
			   t->mode == POP_READ || !t->h.bytes ?
			   "; nothing left allocated" :
			   !t->undo ? "; the holes allocated are kept (the job "
			   "could not have the file to itself)" :
			   tool_lease_broken() ? "; another process opened the "
			   "file during the job, so the holes allocated are "
			   "kept" : "; nothing left allocated";
	int sig = tool_stop_signal();

	if (err == -EINTR && sig)
		tool_error("populate", "interrupted by %s%s",
			   sig == SIGINT ? "SIGINT" : "SIGTERM", what);
	else if (err == -ESTALE)
		tool_error("populate", "%s: another process cut the file "
			   "shorter during the job%s", t->o->file, what);
	else
		tool_error("populate", "%s%s%s", strerror(-err),
			   t->o->mlock && (err == -ENOMEM || err == -EPERM) ?
			   " (mlock: see ulimit -l)" : "", what);
	if (atomic_load(&t->punch_failed))
		tool_error("populate", "warning: some allocated pages could "
			   "not be released again");
}

/**
 * populate_do() - maps the region the options describe and prefaults it.
 * @o: the options.
 * @r: the result.
 *
 * Return: 0, or 1 after printing an error (2 for contradicting options);
 * a file is then as it was.
 */
int populate_do(const struct tool_opts *o, struct tool_result *r)
{
	struct pop_task t = { .o = o, .h.fd = -1 };
	size_t len = o->size;
	double t0, t1;
	int err;

	r->command = "populate";
	t.file = o->file;
	t0 = tool_now();
	if (t.file) {
		err = pop_open_file(&t, &len);
	} else {
		t.mode = o->read ? POP_READ : POP_WRITE;
		/* Even --read, which maps the zero page, needs page tables:
		 * 64 TiB of it would take 128 GiB of them. */
		err = tool_check_memory("populate", o, len);
		if (!err) {
			t.map = mmap(NULL, len, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS |
				     MAP_NORESERVE, -1, 0);
			if (t.map == MAP_FAILED) {
				t.map = NULL;
				tool_error("populate", "mmap: %s",
					   strerror(errno));
				err = 1;
			}
		}
	}
	t1 = tool_now();
	if (!err && !tool_stop_signal())
		err = populate_run(&t, len, tool_page_size(), r);
	if (t.file) {
		/* The whole job: the open and the hole scan too. */
		r->seconds = tool_now() - t0;
		snprintf(r->phases, sizeof(r->phases), "open, hole scan and "
			 "map %.3f s (%zu holes), populate %.3f s", t1 - t0,
			 t.h.nr, r->seconds - (t1 - t0));
	}
	if (err <= 0 && tool_stop_signal())
		err = -EINTR;	/* after the last chunk: still "undo" */
	/* A signal after the last chunk: everything is undone here. */
	if (err == -EINTR && tool_stop_signal() && t.file && t.map)
		pop_punch(&t, 0, len);
	if (err < 0)
		pop_report_error(&t, err);
	pop_describe(&t, r);
	if (t.map)
		munmap(t.map, len);
	if (t.file)
		tool_lease_release();
	if (t.h.fd >= 0)
		close(t.h.fd);
	holes_free(&t.h);
	return err < 0 ? 1 : err;
}

/* `ktask populate [SIZE]`: SIZE defaults to 1 GiB, or the file's size. */
int cmd_populate(struct tool_opts *o, int argc, char **argv)
{
	int ret;
	struct tool_result r = { 0 };

	if (o->files || o->lock || o->daemon || o->pidfile)
		return populate_files(o, argc, argv);
	ret = tool_check_opts("populate", o, TOOL_OPT_POP | TOOL_OPT_FORCE,
			      argc, 0, 1);
	if (ret)
		return ret;
	o->size = o->file ? 0 : 1UL << 30;
	if (argc && (ret = tool_parse_size("populate", argv[0], &o->size)))
		return ret;
	if (o->file)
		tool_catch_signals();
	ret = populate_do(o, &r);
	if (!ret)
		tool_report(o, &r);
	return tool_exit_code(ret);
}
