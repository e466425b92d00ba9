// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ktask-stop.c - shows in the series' guest that a task of a user process
 * does not wait for a helper thread of the process that is stopped.
 *
 * A user process's helpers are threads of it that wait, idle, for the next
 * task.  Such a thread may be stopped (a ptrace stop, SIGSTOP's group
 * stop) or frozen (the cgroup freezer, suspend) in get_signal(), where a
 * wake-up does not reach it.  A thread of the process that starts a task
 * then must not wait for the share it handed to it: it would sleep in D
 * state until the thread is let go, and a stop or freeze of the process
 * would never complete.
 *
 * A child process fallocates 128 MiB of 2 MiB hugetlbfs pages (a ktask
 * task: it leaves idle helper threads behind); this program stops each of
 * them with PTRACE_SEIZE and PTRACE_INTERRUPT, and the child fallocates
 * another 128 MiB, which must finish within TIMEOUT seconds while they
 * are stopped.  They are let go after, and the child must then exit.
 *
 * Built with "gcc -O2 -static" and run as root in the guest by run.sh; it
 * prints KTAP.  KTASK_KERNEL=n: skipped (no helper threads).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"

#define MiB (1ul << 20)
#define LEN (128 * MiB)
#define FILE_A "/dev/hugepages/ktask-stop-a"
#define FILE_B "/dev/hugepages/ktask-stop-b"
#define PARAM "/sys/module/ktask/parameters/max_threads"
#define FREE_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
#define HELPER_COMM "ktask-helper"
#define MAX_HELPERS 64
#define TIMEOUT 30	/* seconds; the fallocate itself takes about one */

/* The child: two fallocates, told when to do the second; reports each. */
static void child(int from_parent, int to_parent)
{
	char c;
	int fd, ok;

	fd = open(FILE_A, O_CREAT | O_RDWR | O_TRUNC, 0600);
	ok = fd >= 0 && !fallocate(fd, 0, 0, LEN);
	c = ok ? 'a' : 'A';
	if (write(to_parent, &c, 1) != 1 || read(from_parent, &c, 1) != 1)
		_exit(2);
	fd = open(FILE_B, O_CREAT | O_RDWR | O_TRUNC, 0600);
	ok = fd >= 0 && !fallocate(fd, 0, 0, LEN);
	c = ok ? 'b' : 'B';
	if (write(to_parent, &c, 1) != 1 || read(from_parent, &c, 1) != 1)
		_exit(2);
	_exit(0);
}

/* The helper threads of process @pid, up to MAX_HELPERS. */
static int helper_tids(pid_t pid, pid_t *tids)
{
	char path[300], comm[32];
	struct dirent *d;
	int n = 0, fd;
	ssize_t len;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir)) && n < MAX_HELPERS) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", pid,
			 d->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (len <= 0)
			continue;
		comm[len] = 0;
		comm[strcspn(comm, "\n")] = 0;
		if (!strcmp(comm, HELPER_COMM))
			tids[n++] = atoi(d->d_name);
	}
	if (dir)
		closedir(dir);
	return n;
}

/* A byte from @fd within @secs seconds, or -1. */
static int read_within(int fd, int secs)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, secs * 1000) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c;
}

int main(void)
{
	const char *k = getenv("KTASK_KERNEL");
	int to_child[2], from_child[2], i, n = 0, stopped = 0, st, c;
	pid_t pid, r, tids[MAX_HELPERS];
	long old_max = read_long(PARAM);
	double t0, t;

	printf("KTAP version 1\n1..3\n");
	fflush(stdout);
	if (!k || (strcmp(k, "y") && strcmp(k, "perf"))) {
		skip("helper threads are stopped", "no ktask");
		skip("a task finishes while its helper threads are stopped",
		     "no ktask");
		skip("the process exits once they are let go", "no ktask");
		return 0;
	}
	if (read_long(FREE_2M) < (long)(2 * LEN / (2 * MiB)))
		diag("only %ld free 2 MiB pages", read_long(FREE_2M));
	write_str(PARAM, "0\n");	/* the default: helpers on every CPU */

	if (pipe(to_child) || pipe(from_child))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		close(to_child[1]);
		close(from_child[0]);
		child(to_child[0], from_child[1]);
	}
	close(to_child[0]);
	close(from_child[1]);

	/* Stop the helper threads the first task left idle. */
	c = read_within(from_child[0], TIMEOUT);
	if (c == 'a') {
		n = helper_tids(pid, tids);
		for (i = 0; i < n; i++) {
			if (ptrace(PTRACE_SEIZE, tids[i], 0, 0) ||
			    ptrace(PTRACE_INTERRUPT, tids[i], 0, 0)) {
				diag("ptrace %d: %s", tids[i], strerror(errno));
				tids[i] = 0;
				continue;
			}
			if (waitpid(tids[i], &st, __WALL) == tids[i] &&
			    WIFSTOPPED(st))
				stopped++;
		}
	} else {
		diag("first fallocate: %s", c < 0 ? "no answer" : "failed");
	}
	result(n > 0 && stopped == n, "helper threads are stopped (%d of %d)",
	       stopped, n);

	/* The second task must not wait for them. */
	t0 = now();
	if (write(to_child[1], "g", 1) != 1)
		return 1;
	c = read_within(from_child[0], TIMEOUT);
	t = now() - t0;
	result(c == 'b', "a task finishes while its helper threads are stopped (%.2f s%s)",
	       t, c < 0 ? ", no answer" : c == 'B' ? ", failed" : "");

	/* Let them go; a caller that waited for them finishes now. */
	for (i = 0; i < n; i++)
		if (tids[i])
			ptrace(PTRACE_DETACH, tids[i], 0, 0);
	if (c < 0)
		c = read_within(from_child[0], TIMEOUT);
	if (write(to_child[1], "x", 1) != 1)
		diag("the child is gone");
	t0 = now();
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now() - t0 < TIMEOUT)
		usleep(10000);
	if (r != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	result(r == pid && WIFEXITED(st) && !WEXITSTATUS(st),
	       "the process exits once they are let go");

	unlink(FILE_A);
	unlink(FILE_B);
	if (old_max >= 0) {
		char buf[24];

		snprintf(buf, sizeof(buf), "%ld\n", old_max);
		write_str(PARAM, buf);
	}
	return 0;
}
