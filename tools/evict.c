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
 * evicted.  Each unreadable file or directory is named, and then nothing
 * is evicted.  The soft RLIMIT_NOFILE is raised to the hard one before
 * the walk; the descriptors of directories, and then of files, are kept
 * while they fit, and what does not is opened again when needed (a
 * directory from its parent, checked: see ev_dir_reopen()), so that no
 * number of directories or files is too many.
 *
 * Walks that cannot be redirected: a directory is read through a
 * descriptor, and every entry is opened relative to it (openat) with
 * O_NOFOLLOW | O_NONBLOCK | O_NOCTTY (O_DIRECTORY for a directory), so
 * that an entry another user swaps for a symbolic link, a FIFO or a
 * device is never followed, never blocks and never becomes a terminal.
 * After the open, fstat() must show a regular file (a directory) with the
 * inode number the listing gave.  The walk stays on the mount of each
 * argument unless --cross-mounts is given (-x, --one-file-system say the
 * default; vmtouch crosses unless -F).  A file that vanished or changed
 * between the listing and the open is skipped with a warning, as vmtouch
 * does, and a summary says what was skipped.  Symbolic links named on the
 * command line are followed; those met in a walk are not.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dirent.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

/* The command whose walk this is, for its messages (evict_do() sets it). */
static const char *ev_cmd = "evict";

#define EVICT_MIN_CHUNK 4	/* files */
#define EV_NAMED 3		/* unreadable files named in the summary */

#define EV_OPEN (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
#define OVERLAYFS_MAGIC 0x794c7630

struct ev_file {
	struct ev_file *next;
	off_t size;
	size_t cached;		/* residency: pages in the page cache */
	void *map;		/* populate --files --lock: locked mapping */
	ino_t ino;		/* as listed; 0: not known */
	dev_t dev;		/* the check's fstat() */
	bool linked;		/* it has other hard links */
	int dir;		/* its directory in ev_list.dirs, -1: an argument */
	int fd;			/* opened by the check, or -1 */
	bool skip;		/* vanished or changed: not evicted */
	unsigned int name;	/* offset of the name in path */
	char path[];
};

/*
 * A directory of the walk: its files are opened relative to it.  Its
 * descriptor is kept while the budget of descriptors lasts (fd >= 0);
 * beyond it the directory is opened again when needed, from its parent,
 * by name, O_NOFOLLOW, and must be on the mount and have the device and
 * inode the walk saw (ev_dir_reopen()).
 */
struct ev_dir {
	int fd;			/* kept open, or -1 */
	int parent;		/* its index in ev_list.dirs, -1: an argument */
	char *name;		/* in the parent; an argument: its path */
	dev_t dev;
	ino_t ino;
	unsigned long long mnt;	/* its mount: see ev_mount() */
	bool ino_ok;		/* readdir's d_ino is the inode (not overlayfs) */
};

/* What a walk skipped, for the summary. */
struct ev_skipped {
	atomic_size_t vanished;	/* gone between the listing and the open */
	atomic_size_t changed;	/* no longer the regular file listed */
	atomic_size_t mounts;	/* mount points not crossed */
	size_t special;		/* FIFOs, sockets, devices, symlinks */
	size_t filtered;	/* --include, --exclude */
	size_t links;		/* hard links to a file listed already */
	atomic_size_t large;	/* --max-size */
};

struct ev_list {
	struct ev_file *head;
	struct ev_file **tail;
	size_t nr;
	size_t bytes;
	struct ev_dir *dirs;
	size_t nr_dirs, cap_dirs;
	size_t budget;		/* descriptors the walk may still keep */
	size_t arg_fds;		/* of them, kept for file arguments */
	bool cross;		/* --cross-mounts */
	const struct tool_opts *o;	/* the filters */
	int mode;		/* 0: evict, 'n': --dry-run, 'r': residency,
			 * 't': populate --files */
	bool failed;		/* something unreadable was named */
	struct ev_skipped sk;
	atomic_size_t unreadable;	/* named by ev_unreadable() */
	char named[EV_NAMED][400];	/* the first of them, for the summary */
};

/*
 * Names something that cannot be read: a file, a directory, an argument.
 * Each is one line on stderr; ev_unreadable_summary() then counts them in
 * one error.  With --json only that summary is an error (the JSON error
 * object is the first error): it carries the count and the first names,
 * where before the object named the first file alone.
 */
static void ev_unreadable(struct ev_list *l, const char *path,
			  const char *why)
{
	size_t i = atomic_fetch_add(&l->unreadable, 1);

	if (i < EV_NAMED)
		snprintf(l->named[i], sizeof(l->named[i]), "%s: %s", path,
			 why);
	if (l->o->json)
		tool_note(ev_cmd, "%s: %s", path, why);
	else
		tool_error(ev_cmd, "%s: %s", path, why);
}

/* One error for all that cannot be read, the first few named. */
static void ev_unreadable_summary(const struct ev_list *l)
{
	size_t n = atomic_load(&l->unreadable), i;
	char names[3 * 420], *p = names;

	/* Said already, one a line; --json needs the one error. */
	if (!n || (n == 1 && !l->o->json))
		return;
	for (i = 0; i < n && i < EV_NAMED; i++)
		p += snprintf(p, names + sizeof(names) - p, "%s%s",
			      i ? ", " : "", l->named[i]);
	if (n > EV_NAMED)
		snprintf(p, names + sizeof(names) - p, " and %zu more",
			 n - EV_NAMED);
	tool_error(ev_cmd, "%zu %s cannot be read (%s); nothing %s", n,
		   tool_plural(n, "file or directory", "files or directories"),
		   names, l->mode == 'r' ? "counted" : l->mode == 't' ?
		   "read" : "evicted");
}

static struct ev_file *ev_add(struct ev_list *l, const char *path, int dir,
			      ino_t ino, size_t name)
{
	size_t len = strlen(path) + 1;
	struct ev_file *f = malloc(sizeof(*f) + len);

	if (!f) {
		tool_error(ev_cmd, "out of memory");
		return NULL;
	}
	f->next = NULL;
	f->size = -1;
	f->cached = 0;
	f->map = NULL;
	f->ino = ino;
	f->dev = 0;
	f->linked = false;
	f->dir = dir;
	f->fd = -1;
	f->skip = false;
	f->name = name;
	memcpy(f->path, path, len);
	*l->tail = f;
	l->tail = &f->next;
	l->nr++;
	return f;
}

static void ev_free(struct ev_list *l)
{
	struct ev_file *f, *next;
	size_t i;

	for (f = l->head; f; f = next) {
		next = f->next;
		if (f->fd >= 0)
			close(f->fd);
		if (f->map)
			munmap(f->map, f->size);
		free(f);
	}
	for (i = 0; i < l->nr_dirs; i++) {
		if (l->dirs[i].fd >= 0)
			close(l->dirs[i].fd);
		free(l->dirs[i].name);
	}
	free(l->dirs);
}

/*
 * Lists @fd, an open directory on mount @mnt, @name in directory @parent,
 * for the files in it; keeps the descriptor while the budget lasts (the
 * caller closes it after the walk otherwise).  Return: its index, or -1.
 */
static int ev_keep_dir(struct ev_list *l, int fd, const struct stat *st,
		       unsigned long long mnt, int parent, const char *name)
{
	struct statfs sf;
	struct ev_dir *d;

	if (l->nr_dirs == l->cap_dirs) {
		size_t cap = l->cap_dirs ? 2 * l->cap_dirs : 64;

		d = realloc(l->dirs, cap * sizeof(*d));
		if (!d)
			return -1;
		l->dirs = d;
		l->cap_dirs = cap;
	}
	d = &l->dirs[l->nr_dirs];
	d->name = strdup(name);
	if (!d->name)
		return -1;
	d->fd = l->budget ? fd : -1;
	l->budget -= !!l->budget;
	d->parent = parent;
	d->dev = st->st_dev;
	d->ino = st->st_ino;
	d->mnt = mnt;
	d->ino_ok = fstatfs(fd, &sf) || sf.f_type != OVERLAYFS_MAGIC;
	return (int)l->nr_dirs++;
}

/* The mount a descriptor is on: its mount id, or its device. */
static unsigned long long ev_mount(int fd, const struct stat *st)
{
	struct statx sx;

	if (!statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) &&
	    (sx.stx_mask & STATX_MNT_ID))
		return sx.stx_mnt_id;
	return st->st_dev;
}

/*
 * fstat() of @fd that also gives its mount (as ev_mount()) in the same
 * statx(2) call: the check does it for every file, and a second call per
 * file would cost what evict gained over vmtouch.  Fills what the walk
 * uses: mode, inode, device, size, links.
 */
static int ev_fstat(int fd, struct stat *st, unsigned long long *mnt)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID,
		  &sx)) {
		if (errno != ENOSYS || fstat(fd, st))
			return -1;
		*mnt = st->st_dev;
		return 0;
	}
	memset(st, 0, sizeof(*st));
	st->st_mode = sx.stx_mode;
	st->st_ino = sx.stx_ino;
	st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	st->st_size = sx.stx_size;
	st->st_nlink = sx.stx_nlink;
	*mnt = sx.stx_mask & STATX_MNT_ID ? sx.stx_mnt_id : st->st_dev;
	return 0;
}

/* Warns about one file skipped; the summary counts them. */
static void ev_skip(const char *path, const char *why, atomic_size_t *count)
{
	tool_note(ev_cmd, "%s: skipped: %s", path, why);
	atomic_fetch_add(count, 1);
}

static int ev_walk(struct ev_list *l, int dfd, const char *path,
		   unsigned long long mnt, int parent, const char *name);

/* Whether the walk takes @name: --exclude (files, directories), then
 * --include (files only). */
static bool ev_wanted(const struct ev_list *l, const char *name, bool dir)
{
	const struct tool_opts *o = l->o;
	int i;

	for (i = 0; i < o->nr_exclude; i++)
		if (!fnmatch(o->exclude[i], name, 0))
			return false;
	if (dir || !o->nr_include)
		return true;
	for (i = 0; i < o->nr_include; i++)
		if (!fnmatch(o->include[i], name, 0))
			return true;
	return false;
}

/*
 * An entry of a directory that is itself a directory: opened without
 * following a link, checked, and walked unless it is another mount.
 */
static int ev_walk_sub(struct ev_list *l, int dfd, const char *child,
		       const char *name, ino_t ino, bool ino_ok,
		       unsigned long long mnt, int parent)
{
	struct stat st;
	int fd = openat(dfd, name, EV_OPEN | O_DIRECTORY);

	if (fd < 0) {
		if (errno == ENOENT)
			ev_skip(child, "vanished", &l->sk.vanished);
		else if (errno == ELOOP || errno == ENOTDIR)
			ev_skip(child, "no longer a directory",
				&l->sk.changed);
		else {
			ev_unreadable(l, child, strerror(errno));
			l->failed = true;
		}
		return 0;
	}
	if (fstat(fd, &st) || !S_ISDIR(st.st_mode)) {
		ev_skip(child, "replaced during the walk", &l->sk.changed);
		close(fd);
		return 0;
	}
	/* A mount point: the listing gave the inode under the mount. */
	if (ev_mount(fd, &st) != mnt) {
		if (l->cross)
			return ev_walk(l, fd, child, ev_mount(fd, &st),
				       parent, name);
		ev_skip(child, "a mount point (--cross-mounts crosses it)",
			&l->sk.mounts);
		close(fd);
		return 0;
	}
	if (ino && ino_ok && st.st_ino != ino) {
		ev_skip(child, "replaced during the walk", &l->sk.changed);
		close(fd);
		return 0;
	}
	return ev_walk(l, fd, child, mnt, parent, name);
}

/* A subdirectory listed, walked once its directory has been read. */
struct ev_sub {
	char *name;
	ino_t ino;
};

/*
 * Adds every regular file under the directory open at @dfd (which this
 * takes over), @name in directory @parent, without following symbolic
 * links.  The entry's type says what it is; its inode number is checked
 * when the file is opened.  The directory is read to its end before its
 * subdirectories are walked: its files are listed together (a thread
 * that opens a directory again does it once for them) and a level of the
 * walk holds one descriptor, not two.  Every unreadable directory is
 * named; the walk goes on, and nothing is evicted.
 */
static int ev_walk(struct ev_list *l, int dfd, const char *path,
		   unsigned long long mnt, int parent, const char *name)
{
	struct ev_sub *subs = NULL, *v;
	size_t nr_subs = 0, cap_subs = 0, i;
	struct stat st;
	struct dirent *e;
	char *child;
	int dir, type, dup_fd, err = 0;
	DIR *d;

	if (fstat(dfd, &st) ||
	    (dir = ev_keep_dir(l, dfd, &st, mnt, parent, name)) < 0) {
		close(dfd);
		return -ENOMEM;
	}
	dup_fd = dup(dfd);
	d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		/* Each level of the walk holds a descriptor. */
		ev_unreadable(l, path, errno == EMFILE ? "too many open files: "
			      "the tree is deeper than the open-file limit "
			      "(ulimit -n) lets the walk go" : strerror(errno));
		if (dup_fd >= 0)
			close(dup_fd);
		l->failed = true;
		goto out;
	}
	while (!err && (errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		type = e->d_type;
		if (type == DT_UNKNOWN) {
			if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW))
				type = DT_WHT;	/* vanished: skipped below */
			else
				type = S_ISREG(st.st_mode) ? DT_REG :
				       S_ISDIR(st.st_mode) ? DT_DIR : DT_LNK;
		}
		if ((type == DT_REG || type == DT_DIR) &&
		    !ev_wanted(l, e->d_name, type == DT_DIR)) {
			l->sk.filtered++;
			continue;
		}
		if (type == DT_DIR) {
			if (nr_subs == cap_subs) {
				cap_subs = cap_subs ? 2 * cap_subs : 16;
				v = realloc(subs, cap_subs * sizeof(*v));
				if (!v) {
					err = -ENOMEM;
					break;
				}
				subs = v;
			}
			subs[nr_subs].ino = e->d_ino;
			subs[nr_subs].name = strdup(e->d_name);
			if (!subs[nr_subs++].name)
				err = -ENOMEM;
			continue;
		}
		if (type != DT_REG && type != DT_WHT) {
			l->sk.special++;
			continue;
		}
		if (asprintf(&child, "%s/%s", path, e->d_name) < 0) {
			err = -ENOMEM;
			break;
		}
		if (type == DT_WHT)
			ev_skip(child, "vanished", &l->sk.vanished);
		else if (!ev_add(l, child, dir, e->d_ino,
				 strlen(child) - strlen(e->d_name)))
			err = -ENOMEM;
		free(child);
	}
	if (!err && errno) {
		ev_unreadable(l, path, strerror(errno));
		l->failed = true;
	}
	closedir(d);
	for (i = 0; i < nr_subs; i++) {
		if (!err && subs[i].name) {
			if (asprintf(&child, "%s/%s", path, subs[i].name) < 0) {
				err = -ENOMEM;
			} else {
				err = ev_walk_sub(l, dfd, child, subs[i].name,
						  subs[i].ino,
						  l->dirs[dir].ino_ok, mnt,
						  dir);
				free(child);
			}
		}
		free(subs[i].name);
	}
	free(subs);
out:
	if (l->dirs[dir].fd < 0)
		close(dfd);
	return err;
}

/*
 * The file of the O_PATH descriptor @pfd (closed here) opened to read:
 * the same inode, whatever its name is now, so nothing to check again.
 * Without /proc, an error: a name opened again could be another file.
 */
static int ev_reopen(int pfd)
{
	int fd = tool_reopen(pfd, O_RDONLY | O_NONBLOCK);

	close(pfd);
	return fd;
}

/* Adds a file, or every regular file under a directory, to @l. */
static int ev_add_arg(struct ev_list *l, const char *path)
{
	struct ev_file *f;
	struct stat st;
	int fd, err;

	/*
	 * The argument itself may be a symbolic link: the user named it.
	 * Opened with O_PATH, and for real only once it is a directory or
	 * a regular file (ev_open()).
	 */
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ev_unreadable(l, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
		fd = ev_reopen(fd);
		if (fd < 0) {
			ev_unreadable(l, path, strerror(-fd));
			return -1;
		}
	}
	if (S_ISDIR(st.st_mode)) {
		err = ev_walk(l, fd, path, ev_mount(fd, &st), -1, path);
		return err || l->failed ? -1 : 0;
	}
	if (!S_ISREG(st.st_mode)) {
		ev_unreadable(l, path, "not a regular file or directory");
		close(fd);
		return -1;
	}
	f = ev_add(l, path, -1, st.st_ino, 0);
	if (!f) {
		close(fd);
		return -1;
	}
	/* The one the check would open, while the budget lasts. */
	if (l->budget) {
		f->fd = fd;
		l->budget--;
		l->arg_fds++;
	} else {
		close(fd);
	}
	return 0;
}

static struct ev_file *ev_iter(struct ev_file *f, size_t n)
{
	while (n--)
		f = f->next;
	return f;
}

/*
 * Opens directory @i of the walk again, its descriptor not kept: from its
 * parent (kept, or opened again the same way), by name, with O_NOFOLLOW |
 * O_DIRECTORY, as the walk opened it; an argument by its path, as the
 * user named it.  It must be the directory the walk read: same mount,
 * device and inode.  Return: a descriptor to close; -ESTALE when it is
 * not; or another negative errno (-ENOENT: it vanished).
 */
static int ev_dir_reopen(const struct ev_list *l, int i)
{
	const struct ev_dir *d = &l->dirs[i];
	unsigned long long mnt;
	struct stat st;
	int pfd, fd, err;

	if (d->parent < 0) {
		fd = open(d->name, O_RDONLY | O_DIRECTORY | O_NONBLOCK |
			  O_NOCTTY | O_CLOEXEC);
	} else {
		pfd = l->dirs[d->parent].fd;
		if (pfd < 0 && (pfd = ev_dir_reopen(l, d->parent)) < 0)
			return pfd;
		fd = openat(pfd, d->name, EV_OPEN | O_DIRECTORY);
		err = errno;
		if (l->dirs[d->parent].fd < 0)
			close(pfd);
		errno = err;
	}
	if (fd < 0)
		return errno == ELOOP || errno == ENOTDIR ? -ESTALE : -errno;
	if (ev_fstat(fd, &st, &mnt)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISDIR(st.st_mode) || st.st_dev != d->dev || mnt != d->mnt ||
	    (d->ino_ok && st.st_ino != d->ino)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/*
 * The directory a thread opened again last, for the next files: a
 * directory's files are listed together, and a chunk takes them in order.
 * ev_dir_drop() closes it at the end of each chunk.
 */
static __thread int ev_dc_dir = -1, ev_dc_fd = -1;

static void ev_dir_drop(void)
{
	if (ev_dc_fd >= 0)
		close(ev_dc_fd);
	ev_dc_dir = ev_dc_fd = -1;
}

/* The descriptor of directory @i: kept, or opened again (not to close). */
static int ev_dir_fd(const struct ev_list *l, int i)
{
	int fd;

	if (l->dirs[i].fd >= 0)
		return l->dirs[i].fd;
	if (ev_dc_dir == i)
		return ev_dc_fd;
	ev_dir_drop();
	fd = ev_dir_reopen(l, i);
	if (fd >= 0) {
		ev_dc_dir = i;
		ev_dc_fd = fd;
	}
	return fd;
}

/*
 * Opens @f without following anything the walk did not: relative to its
 * directory, O_NOFOLLOW.  A file on another mount than its directory is
 * a mount point (a file bind mount): the listing gave the inode under it,
 * so it is not compared; without --cross-mounts the file is not taken.
 * Return: the descriptor; -ESTALE when it is no longer the regular file
 * listed; -EXDEV for a mount point not crossed; or another negative errno.
 */
static int ev_open(const struct ev_list *l, struct ev_file *f,
		   struct stat *st)
{
	const struct ev_dir *d = f->dir >= 0 ? &l->dirs[f->dir] : NULL;
	unsigned long long mnt;
	bool mount = false;
	int fd, err;

	/*
	 * A name given by the user is followed, so it may lead anywhere,
	 * to a device whose open alone acts (a watchdog, a tape): O_PATH
	 * first, and opened for real once checked (ev_reopen()).  A file of
	 * the walk is opened at once, O_NOFOLLOW and O_NONBLOCK, and then
	 * checked: what another user can put in its place there is a FIFO of
	 * their own (no symbolic link is followed; a device cannot be made
	 * without CAP_MKNOD, nor hard-linked from /dev, another filesystem),
	 * whose open never blocks and is refused.  The O_PATH way costs two
	 * system calls more a file: evict of 5000 small files took 1.33x as
	 * long (67 ms against 50).
	 */
	if (d) {
		fd = ev_dir_fd(l, f->dir);
		if (fd < 0)
			return fd;	/* its directory vanished, changed */
		fd = openat(fd, f->path + f->name, EV_OPEN);
	} else
		fd = open(f->path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ESTALE : -errno;
	if (ev_fstat(fd, st, &mnt)) {
		err = -errno;
		close(fd);
		return err;
	}
	mount = d && mnt != d->mnt;
	if (mount && !l->cross) {
		close(fd);
		return -EXDEV;
	}
	/* Across a mount only what the check saw (f->dev set) is known. */
	if (!S_ISREG(st->st_mode) ||
	    (f->ino && (!d || d->ino_ok) && (!mount || f->dev) &&
	     st->st_ino != f->ino) ||
	    (mount && f->dev && st->st_dev != f->dev)) {
		close(fd);
		return -ESTALE;
	}
	return d ? fd : ev_reopen(fd);
}

/* Says why @f is skipped, or names it as unreadable: 1 if it was. */
static int ev_open_failed(struct ev_list *l, struct ev_file *f, int err)
{
	f->skip = true;
	if (err == -ENOENT) {
		ev_skip(f->path, "vanished", &l->sk.vanished);
		return 0;
	}
	if (err == -ESTALE) {
		ev_skip(f->path, "replaced by something else than the "
			"regular file listed", &l->sk.changed);
		return 0;
	}
	if (err == -EXDEV) {
		ev_skip(f->path, "a mount point (--cross-mounts crosses it)",
			&l->sk.mounts);
		return 0;
	}
	ev_unreadable(l, f->path, strerror(-err));
	return 1;
}

/*
 * The descriptor to work on @f with: the one the check left open, or a new
 * one.  Return: it; or -1 with *@ret set to what the job on @f returns
 * (0 for a file skipped, empty, vanished or replaced; a negative errno).
 */
static int ev_take_fd(struct ev_list *l, struct ev_file *f, int *ret)
{
	struct stat st;
	int fd = f->fd;

	f->fd = -1;
	*ret = 0;
	if (f->skip || f->size <= 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd >= 0)
		return fd;
	fd = ev_open(l, f, &st);
	if (fd == -ENOENT || fd == -ESTALE || fd == -EXDEV)
		*ret = ev_open_failed(l, f, fd);
	else if (fd < 0)
		*ret = fd;
	return fd < 0 ? -1 : fd;
}

static int ev_evict(struct ev_list *l, struct ev_file *f)
{
	int fd, err;

	fd = ev_take_fd(l, f, &err);
	if (fd < 0)
		return err;
	err = sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
			      SYNC_FILE_RANGE_WRITE |
			      SYNC_FILE_RANGE_WAIT_AFTER) &&
	      errno != EINVAL && errno != ESPIPE ? -errno : 0;
	if (!err)
		err = -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	return err;
}

/*
 * residency and populate --files map a file this much at a time (less when
 * the address space left is smaller); populate --files --lock maps each
 * file whole, since unmapping a page unlocks it.
 */
#define EV_WINDOW (256UL << 20)
#define EV_WINDOW_MIN (2UL << 20)

/*
 * Maps [@off, @off + *@n) of @fd shared and read-only.  A window the
 * address space has no room for (ENOMEM: `ulimit -v`) is halved, down to
 * EV_WINDOW_MIN, and *@n says what was mapped.  Return: the mapping, or
 * MAP_FAILED with errno set.
 */
static void *ev_map_window(int fd, off_t off, size_t *n)
{
	void *map;

	for (;;) {
		map = mmap(NULL, *n, PROT_READ, MAP_SHARED, fd, off);
		if (map != MAP_FAILED || errno != ENOMEM ||
		    *n <= EV_WINDOW_MIN)
			return map;
		*n = *n / 2 < EV_WINDOW_MIN ? EV_WINDOW_MIN : *n / 2;
	}
}

/* The size of the window at @off of a file of @size, at most @max. */
static size_t ev_window(off_t size, off_t off, size_t max)
{
	return size - off < (off_t)max ? (size_t)(size - off) : max;
}

/*
 * residency: counts @f's pages in the page cache with mincore(2) on a
 * shared read-only mapping, which faults nothing in.  A window at a time:
 * one map of a 16 TiB sparse file, and a byte per page of it, was 4 GiB
 * of vector and more address space than `ulimit -v` may give.
 */
static int ev_resident(struct ev_list *l, struct ev_file *f)
{
	size_t ps = tool_page_size(), i, n, max = EV_WINDOW;
	unsigned char *vec;
	off_t off;
	void *map;
	int fd, err = 0;

	fd = ev_take_fd(l, f, &err);
	if (fd < 0)
		return err;
	vec = malloc(EV_WINDOW / ps);
	for (off = 0; vec && off < f->size && !err; off += n) {
		n = ev_window(f->size, off, max);
		map = ev_map_window(fd, off, &n);
		if (map == MAP_FAILED) {
			err = -errno;
			break;
		}
		max = n;	/* no bigger window for the rest of the file */
		if (mincore(map, n, vec))
			err = -errno;
		for (i = 0; !err && i < (n + ps - 1) / ps; i++)
			f->cached += vec[i] & 1;
		munmap(map, n);
	}
	if (!vec)
		err = -ENOMEM;
	free(vec);
	close(fd);
	return err;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* Set once the kernel turned MADV_POPULATE_READ down: read from then on. */
static atomic_bool ev_no_populate;

/* Reads [@off, @off + @len) of @fd into the page cache. */
static int ev_read_through(int fd, off_t off, size_t len)
{
	static __thread char buf[1 << 16];
	off_t end = off + (off_t)len;
	ssize_t n;

	for (; off < end; off += n) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0)
			return -errno;
		if (!n)
			break;
	}
	return 0;
}

/* Faults in the window @p of @n bytes at @off of @fd, read-only. */
static int ev_fault_window(int fd, void *p, off_t off, size_t n)
{
	if (!atomic_load_explicit(&ev_no_populate, memory_order_relaxed) &&
	    !madvise(p, n, MADV_POPULATE_READ))
		return 0;
	if (!atomic_load_explicit(&ev_no_populate, memory_order_relaxed) &&
	    errno != EINVAL)
		return -errno;
	/* An older kernel: the advice itself is unknown. */
	atomic_store(&ev_no_populate, true);
	return ev_read_through(fd, off, n);
}

/*
 * Whether @f, open at @fd, is shorter than the check saw: another process
 * truncated it during the run.  MADV_POPULATE_READ (and mlock(2)) of the
 * pages past the new end then fail with EFAULT (ENOMEM), and the file is
 * skipped as one that changed during the job; any other failure, or the
 * same errno on a file of the same size, stays an error.
 */
static bool ev_cut_short(int fd, const struct ev_file *f)
{
	struct stat st;

	return !fstat(fd, &st) && st.st_size < f->size;
}

/*
 * populate --files: brings @f into the page cache through a shared
 * read-only mapping (MADV_POPULATE_READ: a file cut short meanwhile is an
 * EFAULT, not a SIGBUS: see ev_cut_short()), a window at a time, so that
 * a file larger than the address space `ulimit -v` leaves is read too.
 * With --lock the file is mapped whole and stays mapped, since munmap(2)
 * would unlock it; it is faulted and locked a window at a time.
 * evict_do() checked that the address space holds every file.  SIGINT
 * and SIGTERM stop the job after the window they arrive in (the signal
 * thread takes them: before, a 6 GiB file was read to its end, 9.5 s,
 * and the command exited 0).
 */
static int ev_touch(struct ev_list *l, struct ev_file *f)
{
	bool lock = l->o->lock;
	size_t n, max = EV_WINDOW;
	char *map = NULL, *p;
	off_t off;
	int fd, err, locked;

	fd = ev_take_fd(l, f, &err);
	if (fd < 0)
		return err;
	if (lock) {
		map = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			err = -errno;
			tool_error(ev_cmd, "%s: cannot map it whole to keep it "
				   "locked: %s%s", f->path, strerror(-err),
				   err == -ENOMEM ? " (--lock holds every file "
				   "mapped: address space, see ulimit -v, or "
				   "the number of mappings, vm.max_map_count)" :
				   "");
			close(fd);
			return -ECANCELED;	/* said */
		}
	}
	for (off = 0; !err && off < f->size; off += n) {
		n = ev_window(f->size, off, max);
		p = lock ? map + off : ev_map_window(fd, off, &n);
		if (p == MAP_FAILED) {
			err = -errno;
			break;
		}
		max = n;
		err = ev_fault_window(fd, p, off, n);
		locked = !err && lock && mlock(p, n) ? -errno : 0;
		if (locked)
			err = locked;
		if ((err == -EFAULT || err == -ENOMEM) && ev_cut_short(fd, f)) {
			/* Not the file listed any more: as ev_open() would. */
			f->skip = true;
			ev_skip(f->path, "cut short by another process during "
				"the run", &l->sk.changed);
			err = 0;
			if (!lock)
				munmap(p, n);
			break;
		}
		if (locked) {
			tool_error(ev_cmd, "%s: mlock: %s%s", f->path,
				   strerror(-err), err == -ENOMEM ||
				   err == -EPERM ? " (see ulimit -l)" : "");
			err = -ECANCELED;
		}
		if (!lock)
			munmap(p, n);
		/* SIGINT, SIGTERM: taken by the signal thread, seen here. */
		if (!err)
			err = tool_step_done();
	}
	if (lock && !err && !f->skip)
		f->map = map;
	else if (map)
		munmap(map, f->size);	/* unlocks what was locked */
	close(fd);
	return err;
}

static int ev_chunk(struct ev_file *start, struct ev_file *end,
		    struct ev_list *l)
{
	struct ev_file *f;
	int err;

	for (f = start; f != end; f = f->next) {
		err = l->mode == 'r' ? ev_resident(l, f) :
		      l->mode == 't' ? ev_touch(l, f) : ev_evict(l, f);
		if (err) {
			/* Named here: main no longer has the path. */
			if (err != -ECANCELED && err != -EINTR) /* said */
				tool_error(ev_cmd, "%s: %s", f->path,
					   strerror(-err));
			ev_dir_drop();
			return err;
		}
		progress_add(1);
	}
	ev_dir_drop();
	return KTASK_RETURN_SUCCESS;
}

/*
 * The permission check: opening the file for reading is the real test.
 * When the process may hold every file open at once, the check keeps the
 * descriptor for the eviction; otherwise it closes it again.
 */
struct ev_check {
	struct ev_list *l;
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
		if (f->fd >= 0) {	/* an argument, opened already */
			fd = f->fd;
			f->fd = -1;
			if (fstat(fd, &st)) {
				close(fd);
				fd = -errno;
			}
		} else {
			fd = ev_open(c->l, f, &st);
		}
		if (fd < 0) {
			if (ev_open_failed(c->l, f, fd))
				atomic_fetch_add(&c->denied, 1);
			continue;
		}
		if (c->l->o->max_size && st.st_size > c->l->o->max_size) {
			f->skip = true;
			atomic_fetch_add(&c->l->sk.large, 1);
			close(fd);
			continue;
		}
		f->size = st.st_size;
		f->ino = st.st_ino;	/* a reopen must find the same */
		f->dev = st.st_dev;
		f->linked = st.st_nlink > 1;
		atomic_fetch_add_explicit(&c->bytes, st.st_size,
					  memory_order_relaxed);
		if (c->keep && st.st_size)
			f->fd = fd;
		else
			close(fd);
	}
	ev_dir_drop();
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
 * How many descriptors the process has open: the entries of /proc/self/fd
 * but the one reading it.  Not the lowest free number: descriptors a
 * parent passed on may sit anywhere below the limit (ktask started by a
 * program that passes it 28 of 64 high up ran out of them).  Without /proc
 * the lowest free number, which counts every one below it.
 */
static size_t ev_fds_open(void)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	int fd;

	if (!d) {
		fd = open("/", O_PATH | O_CLOEXEC);
		if (fd < 0)
			return SIZE_MAX / 2;
		close(fd);
		return (size_t)fd + 1;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n ? n - 1 : 0;
}

/*
 * The descriptors a job may keep open: directories of the walk, file
 * arguments, and the files the check opened.  Before the walk the soft
 * RLIMIT_NOFILE is raised to the hard limit (it was raised only for the
 * check, after a walk that kept a descriptor per directory: a tree of
 * more directories than `ulimit -n` failed).  Kept back, beyond what is
 * open already: a level of the walk holds one descriptor, each thread a
 * directory it opened again and a file, ktask and stdio theirs.
 */
static size_t ev_fds_budget(void)
{
	struct rlimit rl, want;
	size_t lim, reserve, used;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	want = rl;
	want.rlim_cur = rl.rlim_max;
	if (rl.rlim_cur < rl.rlim_max && !setrlimit(RLIMIT_NOFILE, &want))
		rl = want;
	lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX ?
	      INT_MAX : (size_t)rl.rlim_cur;
	reserve = lim / 2 < 256 ? lim / 2 : 256;
	used = ev_fds_open();
	return lim > reserve + used ? lim - reserve - used : 0;
}

static int ev_check(const struct tool_opts *o, struct ev_list *l)
{
	DEFINE_KTASK_CTL(ctl, ev_check_chunk, NULL, EVICT_MIN_CHUNK);
	/* The arguments' descriptors are the files' already. */
	struct ev_check c = { .l = l, .keep = l->nr - l->arg_fds <=
						l->budget };
	size_t n;

	if (c.keep)
		ev_fds_reserve(l->nr - l->arg_fds);
	ctl.kc_func_arg = &c;
	ktask_ctl_set_iter_func(&ctl, ev_iter);
	ktask_ctl_set_max_threads(&ctl, o->serial ? 1 : o->threads);
	ktask_run(l->head, l->nr, &ctl);
	l->bytes = atomic_load(&c.bytes);
	n = atomic_load(&c.denied);
	return n ? -1 : 0;
}

static int ev_cmp_inode(const void *a, const void *b)
{
	const struct ev_file *x = *(struct ev_file *const *)a;
	const struct ev_file *y = *(struct ev_file *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x < y ? -1 : x > y;	/* the first listed stays */
}

/*
 * A file with several hard links is one file: listed once, counted once
 * (residency counted the pages of each link, vmtouch counts the inode
 * once).  The later links are skipped, and said so in the summary.
 */
static int ev_dedup(struct ev_list *l)
{
	struct ev_file *f, **v;
	size_t n = 0, i;

	for (f = l->head; f; f = f->next)
		n += !f->skip && f->linked;
	if (n < 2)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v) {
		tool_error(ev_cmd, "out of memory");
		return -1;
	}
	n = 0;
	for (f = l->head; f; f = f->next)
		if (!f->skip && f->linked)
			v[n++] = f;
	qsort(v, n, sizeof(*v), ev_cmp_inode);
	for (i = 1; i < n; i++) {
		if (v[i]->dev != v[i - 1]->dev || v[i]->ino != v[i - 1]->ino)
			continue;
		v[i]->skip = true;
		l->sk.links++;
		l->bytes -= v[i]->size;
		if (v[i]->fd >= 0)
			close(v[i]->fd);
		v[i]->fd = -1;
	}
	free(v);
	return 0;
}

/*
 * populate --files --lock keeps every file mapped whole (munmap(2) would
 * unlock it), so their sizes must fit in the address space `ulimit -v`
 * leaves.  Checked before anything is read, as vmtouch -l does not (it
 * fails part way, on the first file that does not fit).  Return: 0, or -1
 * after saying how much is needed.
 */
static int ev_lock_room(const struct ev_list *l)
{
	size_t ps = tool_page_size(), need = 0, used = 0, left;
	const struct ev_file *f;
	struct rlimit rl;
	FILE *statm;

	if (getrlimit(RLIMIT_AS, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	for (f = l->head; f; f = f->next)
		if (!f->skip && f->size > 0)
			need += ((size_t)f->size + ps - 1) / ps * ps;
	statm = fopen("/proc/self/statm", "re");
	if (statm) {
		if (fscanf(statm, "%zu", &used) != 1)
			used = 0;
		fclose(statm);
	}
	used *= ps;
	left = rl.rlim_cur > used ? rl.rlim_cur - used : 0;
	if (need <= left)
		return 0;
	tool_error(ev_cmd, "--lock keeps every file mapped whole while it is "
		   "locked (unmapping unlocks it): the files need %zu MiB of "
		   "address space, and ulimit -v leaves %zu MiB; nothing read",
		   (need + (1 << 20) - 1) >> 20, left >> 20);
	return -1;
}

/*
 * populate --daemon: where the child says it is ready (its exit status, a
 * byte), or -1; and the parent's pid, to tell that it is gone.
 */
static int ev_ready_fd = -1;
static pid_t ev_parent;

/* Says @status to the waiting parent.  Return: 0, or -1 if it is gone. */
static int ev_ready(char status)
{
	int ret = 0;

	if (ev_ready_fd < 0)
		return 0;
	/* SIGPIPE is ignored in the child: a parent gone is EPIPE here. */
	if (write(ev_ready_fd, &status, 1) != 1)
		ret = -1;
	close(ev_ready_fd);
	ev_ready_fd = -1;
	return ret;
}

/*
 * populate --files --lock: writes the pid file, reports, then keeps the
 * files locked until SIGINT or SIGTERM.  Everything that can fail comes
 * before the report, so that a run prints one result: success or an error
 * (with --json, one object).  A daemon reports only while its parent still
 * waits for it (a parent gone is a setup interrupted: it removes its pid
 * file and exits 1 rather than stay unseen), and then tells the parent.
 */
static int ev_hold(const struct tool_opts *o, struct tool_result *r)
{
	struct timespec tick = { 0, 100000000 };
	char line[32];
	int fd, n;

	if (o->pidfile) {
		fd = open(o->pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
			  O_CLOEXEC, 0644);
		n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
		if (fd < 0 || write(fd, line, n) != n) {
			tool_error("populate", "%s: %s", o->pidfile,
				   strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(o->pidfile);
			}
			return -EIO;
		}
		close(fd);
	}
	if (tool_stop_signal() || (o->daemon && getppid() != ev_parent)) {
		if (!tool_stop_signal())
			tool_error("populate", "the command that started the "
				   "daemon is gone; not staying");
		if (o->pidfile)
			unlink(o->pidfile);
		return -EINTR;
	}
	tool_report(o, r);
	r->reported = true;
	fflush(stdout);
	if (o->daemon) {
		if (ev_ready(0)) {
			/* Killed between the check and now: reported, but
			 * no one waits for the daemon. */
			tool_error("populate", "the command that started the "
				   "daemon is gone; not staying");
			if (o->pidfile)
				unlink(o->pidfile);
			return -EPIPE;
		}
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	}
	while (!tool_stop_signal())
		nanosleep(&tick, NULL);
	if (o->pidfile)
		unlink(o->pidfile);
	return 0;
}

/* The parent of a daemon: the child it waits for, and a signal it passed. */
static pid_t ev_child;
static volatile sig_atomic_t ev_passed;

static void ev_pass_signal(int sig)
{
	ev_passed = sig;
	kill(ev_child, sig);
}

/*
 * The parent of a daemon waits for the child's status and exits with it.
 * SIGINT and SIGTERM (Ctrl-C while the files are read) are passed to the
 * child, which is in a session of its own and would not get them: it
 * stops, removes its pid file and exits, and the parent exits with its
 * status, or 128 + the signal: no daemon outlives a setup the user
 * interrupted.  (Before, the parent died, and the child reported success
 * and then died of SIGPIPE, its pid file left behind.)
 */
static void __attribute__((noreturn)) ev_wait_child(int fd)
{
	struct sigaction sa = { .sa_handler = ev_pass_signal };
	char status = 1;
	sigset_t set;
	ssize_t n;
	int ws;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);	/* no SA_RESTART: read() returns */
	sigaction(SIGTERM, &sa, NULL);
	while ((n = read(fd, &status, 1)) < 0 && errno == EINTR)
		;
	/* The daemon is set up: a signal from now on is the parent's. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* A failure is printed by the child after it says so: wait for it. */
	if (n != 1 || status || ev_passed) {
		while (waitpid(ev_child, &ws, 0) < 0 && errno == EINTR)
			;
		status = WIFEXITED(ws) ? WEXITSTATUS(ws) :
			 WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 1;
		if (ev_passed && !status)
			status = 128 + ev_passed;
	}
	_exit((unsigned char)status);
}

/*
 * populate --daemon: forks before any thread exists (locks are not
 * inherited); the parent waits until the child has locked the files and
 * exits with its status.
 */
static int ev_daemonize(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	ev_parent = getpid();
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid) {
		close(p[1]);
		ev_child = pid;
		ev_wait_child(p[0]);
	}
	close(p[0]);
	ev_ready_fd = p[1];
	signal(SIGPIPE, SIG_IGN);
	setsid();
	return 0;
}

/* `ktask populate --files [--lock [--daemon] [--pidfile FILE]] PATH...` */
int populate_files(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("populate", o, TOOL_OPT_POP | TOOL_OPT_EVICT,
				  argc, o->files_from ? 0 : 1, -1);
	struct tool_result r = { 0 };

	if (ret)
		return ret;
	if (!o->files || o->file || o->read || o->write || o->mlock ||
	    o->touch || ((o->daemon || o->pidfile) && !o->lock) ||
	    o->evict_mode) {
		tool_error("populate", "--files takes --lock, and --lock "
			   "--daemon and --pidfile; not --file, --read, "
			   "--write, --mlock, --touch or --dry-run");
		return 2;
	}
	if (o->daemon && (ret = ev_daemonize())) {
		tool_error("populate", "cannot start a daemon: %s",
			   strerror(-ret));
		return 1;
	}
	tool_catch_signals();
	o->evict_mode = 't';
	ret = evict_do(o, argv, argc, &r);
	if (ret && !r.reported && tool_stop_signal())
		tool_error("populate", "interrupted by %s; what was read "
			   "stays in the page cache%s",
			   tool_stop_signal() == SIGINT ? "SIGINT" : "SIGTERM",
			   o->lock ? ", unlocked" : "");
	ev_ready(ret ? tool_exit_code(ret) : 0);
	if (!ret && !r.reported)
		tool_report(o, &r);
	/* Reported, then failed: the report stays the one JSON object. */
	if (ret && r.reported)
		o->json = false;
	return r.reported ? ret : tool_exit_code(ret);
}

/* --files-from FILE, or '-': a path a line, each as an argument. */
static int ev_files_from(struct ev_list *l, const char *file)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "re") : stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int err = 0;

	if (!f) {
		ev_unreadable(l, file, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n)
			err |= ev_add_arg(l, line);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return err;
}

/* residency --verbose: each file's cached pages, as vmtouch -v. */
static void ev_print_resident(struct ev_list *l)
{
	size_t ps = tool_page_size(), pages;
	struct ev_file *f;
	char name[4096];

	for (f = l->head; f; f = f->next) {
		if (f->skip)
			continue;
		pages = f->size > 0 ? ((size_t)f->size + ps - 1) / ps : 0;
		tool_escape(f->path, name, sizeof(name));
		printf("%s  %zu/%zu pages  %.0f%%\n", name, f->cached, pages,
		       pages ? 100.0 * f->cached / pages : 100.0);
	}
}

/* --dry-run: the files that would be evicted, one a line, escaped. */
static void ev_list_files(struct ev_list *l, const struct tool_opts *o,
			  struct tool_result *r)
{
	struct ev_file *f;
	char name[4096];

	for (f = l->head; f; f = f->next) {
		if (f->skip || o->json)
			continue;
		tool_escape(f->path, name, sizeof(name));
		printf("%s\n", name);
	}
	r->bytes = l->bytes;
	r->how = "dry run";
	snprintf(r->what, sizeof(r->what), "page cache, dry run: nothing "
		 "evicted");
	snprintf(r->method, sizeof(r->method), "--dry-run: every file found "
		 "and opened, none evicted");
}

/* Says what was skipped, in one line. */
static void ev_summary(struct ev_list *l)
{
	size_t v = atomic_load(&l->sk.vanished), c = atomic_load(&l->sk.changed);
	size_t m = atomic_load(&l->sk.mounts);
	char line[256];
	int n = 0;

	line[0] = '\0';
	if (l->sk.links)
		n += snprintf(line + n, sizeof(line) - n, ", %zu hard %s to a "
			      "file listed already", l->sk.links,
			      tool_plural(l->sk.links, "link", "links"));
	if (v)
		n += snprintf(line + n, sizeof(line) - n, ", %zu vanished", v);
	if (c)
		n += snprintf(line + n, sizeof(line) - n, ", %zu changed "
			      "during the job", c);
	if (m)
		n += snprintf(line + n, sizeof(line) - n, ", %zu mount %s not "
			      "crossed", m, tool_plural(m, "point", "points"));
	if (l->sk.filtered)
		n += snprintf(line + n, sizeof(line) - n, ", %zu left out by "
			      "--include/--exclude", l->sk.filtered);
	if (atomic_load(&l->sk.large))
		n += snprintf(line + n, sizeof(line) - n, ", %zu larger than "
			      "--max-size", atomic_load(&l->sk.large));
	if (l->sk.special)
		n += snprintf(line + n, sizeof(line) - n, ", %zu %s not "
			      "regular files", l->sk.special,
			      tool_plural(l->sk.special, "entry", "entries"));
	if (n)
		tool_note(ev_cmd, "skipped%s", line + 1);
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
	struct ev_list l = { .tail = &l.head, .cross = o->cross_mounts,
			     .mode = o->evict_mode, .o = o,
			     .budget = ev_fds_budget() };
	DEFINE_KTASK_CTL(ctl, ev_chunk, &l, EVICT_MIN_CHUNK);
	double t0 = tool_now(), t1, t2;
	struct ev_file *f;
	size_t bytes;
	int i, err = 0;

	ev_cmd = l.mode == 'r' ? "residency" : l.mode == 't' ? "populate" :
		 "evict";
	r->command = "evict";
	r->unit = "files";
	snprintf(r->what, sizeof(r->what), "page cache");
	/* Every argument is looked at, so that all problems are named. */
	for (i = 0; i < nr_paths; i++)
		err |= strcmp(paths[i], "-") ? ev_add_arg(&l, paths[i]) :
		       ev_files_from(&l, "-");
	if (o->files_from)
		err |= ev_files_from(&l, o->files_from);
	t1 = tool_now();
	/* Even after a failure, so that every unreadable file is named. */
	if (l.nr)
		err |= ev_check(o, &l);
	ev_unreadable_summary(&l);
	if (!err)
		err = ev_dedup(&l);
	if (!err && l.mode == 't' && o->lock)
		err = ev_lock_room(&l);
	t2 = tool_now();
	if (!err && l.mode == 'n') {
		ev_list_files(&l, o, r);
	} else if (!err) {
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
	ev_summary(&l);
	r->units = l.nr;
	bytes = 0;
	for (f = l.head; f; f = f->next) {
		if (f->skip) {
			r->skipped++, r->units--;
			continue;
		}
		bytes += f->size > 0 ? (size_t)f->size : 0;
		r->pages += f->size > 0 ? ((size_t)f->size +
					   tool_page_size() - 1) /
					  tool_page_size() : 0;
		r->resident += f->cached;
	}
	/* Less what was skipped during the run (a file cut short). */
	if (r->bytes > bytes)
		r->bytes = bytes;
	if (!err && l.mode == 't') {
		if (o->lock && !r->units) {
			tool_error("populate", "every file was skipped: nothing "
				   "to hold");
			err = -ECANCELED;
		}
	}
	if (!err && l.mode == 't') {
		r->command = "populate";
		r->how = "MADV_POPULATE_READ, shared map";
		r->moves_data = true;
		snprintf(r->what, sizeof(r->what), "page cache%s",
			 o->lock ? ", locked" : "");
		snprintf(r->method, sizeof(r->method), "MADV_POPULATE_READ of "
			 "a shared read-only mapping of each file%s, %zu %s",
			 o->lock ? ", mlock(2)" : "", r->stats.ks_helpers + 1,
			 tool_plural(r->stats.ks_helpers + 1, "thread",
				     "threads"));
		if (o->lock)
			err = ev_hold(o, r);
	}
	if (!err && l.mode == 'r') {
		r->command = "residency";
		snprintf(r->method, sizeof(r->method), "mincore(2) of a "
			 "shared read-only mapping of each file, %zu %s",
			 r->stats.ks_helpers + 1,
			 tool_plural(r->stats.ks_helpers + 1, "thread",
				     "threads"));
		if (o->verbose && !o->json)
			ev_print_resident(&l);
	}
	r->seconds = tool_now() - t0;	/* the walk and the check too */
	snprintf(r->phases, sizeof(r->phases), "walk %.3f s, open and check "
		 "%.3f s, %s %.3f s", t1 - t0, t2 - t1, l.mode == 'r' ?
		 "mincore" : l.mode == 't' ? "populate" : l.mode == 'n' ?
		 "listing" : "eviction", r->seconds - (t2 - t0));
	ev_free(&l);
	return err ? 1 : 0;
}

/* `ktask evict FILE...|DIR...` */
int cmd_evict(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("evict", o, TOOL_OPT_EVICT, argc,
				  o->files_from ? 0 : 1, -1);
	struct tool_result r = { 0 };

	if (ret)
		return ret;
	ret = evict_do(o, argv, argc, &r);
	if (!ret)
		tool_report(o, &r);
	return ret;
}

/* `ktask residency FILE...|DIR...`: evict's walk, counting cached pages. */
int cmd_residency(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("residency", o, TOOL_OPT_EVICT, argc,
				  o->files_from ? 0 : 1, -1);
	struct tool_result r = { 0 };

	if (ret)
		return ret;
	if (o->evict_mode == 'n') {
		tool_error("residency", "--dry-run applies to evict only");
		return 2;
	}
	o->evict_mode = 'r';
	ret = evict_do(o, argv, argc, &r);
	if (!ret)
		tool_report(o, &r);
	return ret;
}
