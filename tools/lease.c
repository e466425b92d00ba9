// SPDX-License-Identifier: MIT
/*
 * lease.c - the right to undo: an exclusive write lease on an existing file.
 *
 * Undoing a job on an existing file means punching the holes it filled
 * and setting the size back.  That is only safe while no other process
 * can have written there.  An exclusive write lease (F_SETLEASE F_WRLCK)
 * proves it: the kernel grants one only when no other descriptor of the
 * file is open anywhere, and any later open(2) or truncate(2) by another
 * process breaks it, which the kernel tells the holder with a signal
 * before the opener gets its descriptor.
 *
 * The lease signal (TOOL_LEASE_SIGNAL, blocked in every thread) is taken
 * by the command's signal thread (signal.c), which calls
 * tool_lease_broken_now().  That marks the lease broken under the write
 * side of undo_lock and only then gives the lease up, so the other
 * process waits for no more than an undo step already under way (it
 * would otherwise wait /proc/sys/fs/lease-break-time, 45 s).  Each undo
 * step runs between tool_undo_begin() and tool_undo_end(), under the
 * read side: either it runs before the other process can open the file,
 * or it sees the lease broken and touches nothing.  From the break on,
 * every block the job allocated is kept.
 *
 * A step is one punch (one hole, or one piece of a file with no list) or
 * one truncate, so the other process waits for one system call at most,
 * and each step asks the kernel first whether the lease still holds
 * (F_GETLEASE): a job stopped (SIGSTOP, a freezer) for longer than
 * lease-break-time loses its lease to the kernel, with no signal handled
 * yet.  What remains is a stop of that length between that question and
 * the punch that follows it.
 *
 * undo_lock orders the break against undo steps; lease_fd and lease_state
 * are written under its write side, or before any other thread runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "tool.h"

enum {
	LEASE_NONE,	/* no lease: no undo on an existing file */
	LEASE_HELD,	/* held: undo is allowed */
	LEASE_BROKEN,	/* another process opened the file: keep all */
};

static pthread_rwlock_t undo_lock = PTHREAD_RWLOCK_INITIALIZER;
static int lease_fd = -1;
static atomic_int lease_state;

/**
 * tool_lease_take() - takes an exclusive write lease on @fd.
 * @fd: the job's only descriptor of the file, opened for writing.
 *
 * Starts the signal thread first (tool_catch_signals()), which takes the
 * lease signal.
 *
 * Return: 0, or the negative errno: -EAGAIN when the file is open
 * elsewhere, -EACCES when this user may not lease it (not the owner, no
 * CAP_LEASE), -EINVAL when the filesystem grants no leases.
 */
int tool_lease_take(int fd)
{
	tool_catch_signals();
	/* Test hook: a filesystem that grants no leases (NFS, FUSE, ...). */
	if (getenv("KTASK_TEST_NO_LEASE") || !tool_signal_thread())
		return -EINVAL;
	if (fcntl(fd, F_SETSIG, TOOL_LEASE_SIGNAL) ||
	    fcntl(fd, F_SETLEASE, F_WRLCK))
		return -errno;
	pthread_rwlock_wrlock(&undo_lock);
	lease_fd = fd;
	atomic_store(&lease_state, LEASE_HELD);
	pthread_rwlock_unlock(&undo_lock);
	return 0;
}

/* Called by the signal thread when the lease signal arrives. */
void tool_lease_broken_now(void)
{
	pthread_rwlock_wrlock(&undo_lock);
	if (atomic_load(&lease_state) == LEASE_HELD) {
		atomic_store(&lease_state, LEASE_BROKEN);
		fcntl(lease_fd, F_SETLEASE, F_UNLCK);
	}
	pthread_rwlock_unlock(&undo_lock);
}

/* Whether another process opened the file while the lease was held. */
bool tool_lease_broken(void)
{
	return atomic_load(&lease_state) == LEASE_BROKEN;
}

/**
 * tool_undo_begin() - starts one undo step on the leased file.
 *
 * Return: true if the lease still holds: the step may punch and truncate
 * until tool_undo_end(), which must be called either way.
 */
bool tool_undo_begin(void)
{
	pthread_rwlock_rdlock(&undo_lock);
	/*
	 * And the kernel's word for it: once a break has begun, F_GETLEASE
	 * gives the type the lease is going to (F_UNLCK), and after
	 * lease-break-time the lease is gone.  The signal thread may not
	 * have run yet (the process was stopped, or is just now resumed);
	 * the opener may already be writing.
	 */
	return atomic_load(&lease_state) == LEASE_HELD &&
	       fcntl(lease_fd, F_GETLEASE) == F_WRLCK;
}

void tool_undo_end(void)
{
	pthread_rwlock_unlock(&undo_lock);
}

/*
 * Gives the lease up, if it is still held: the job is over.  Whether it
 * broke stays known, for the message.
 */
void tool_lease_release(void)
{
	pthread_rwlock_wrlock(&undo_lock);
	if (atomic_load(&lease_state) == LEASE_HELD) {
		fcntl(lease_fd, F_SETLEASE, F_UNLCK);
		atomic_store(&lease_state, LEASE_NONE);
	}
	lease_fd = -1;
	pthread_rwlock_unlock(&undo_lock);
}

/* Why a lease could not be had, for the note. */
const char *tool_lease_why(int err)
{
	switch (err) {
	case -EAGAIN:
		return "it is open in another process";
	case -EACCES:
	case -EPERM:
		return "only its owner (or CAP_LEASE) may lease it";
	default:
		return "the filesystem grants no file leases";
	}
}
