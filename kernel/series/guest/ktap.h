/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ktap.h - what the guest programs share: KTAP results and comments on
 * stdout (run.sh's contract, see its header), a clock, and one-line reads
 * and writes of sysfs and procfs files.  Included by each program, which
 * run.sh builds on its own.
 */
#ifndef KTASK_GUEST_KTAP_H
#define KTASK_GUEST_KTAP_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int test_no;	/* the number of the last result printed */

static inline void result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d ", ok ? "ok" : "not ok", ++test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline void skip(const char *desc, const char *why)
{
	printf("ok %d %s # SKIP %s\n", ++test_no, desc, why);
	fflush(stdout);
}

static inline void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline long read_long(const char *path)
{
	char buf[64];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/*
 * Sets /sys/module/ktask/parameters/max_threads (1: serial, 0: the
 * default) on a kernel with ktask; does nothing without.  0 or -1.
 */
static inline int set_max_threads(int ktask_kernel, int n)
{
	char buf[16];

	if (!ktask_kernel)
		return 0;
	snprintf(buf, sizeof(buf), "%d\n", n);
	return write_str("/sys/module/ktask/parameters/max_threads", buf);
}

#endif /* KTASK_GUEST_KTAP_H */
