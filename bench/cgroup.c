// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * cgroup.c - a 0.5-CPU cgroup for workload 8, made by hand.
 *
 * On a pure cgroup v2 system the child gets "cpu.max"; the cpu controller
 * must be enabled in the parent's cgroup.subtree_control, which is tried.
 * Hybrid systems often keep the cpu controller on a v1 hierarchy, where the
 * same limit is cpu.cfs_quota_us over cpu.cfs_period_us.  Either way the
 * kernel enforces it the same way (CFS bandwidth control).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"

static char parent[512], child[600];

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[700];
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	if (!f)
		return -1;
	err = fputs(val, f) < 0;
	err |= fclose(f) != 0;
	return err ? -1 : 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return 0;
}

/* Whether the comma-separated controller list @list names "cpu". */
static int has_cpu(const char *list)
{
	size_t n;

	for (; *list; list += n + !!list[n]) {
		n = strcspn(list, ",");
		if (n == 3 && !strncmp(list, "cpu", 3))
			return 1;
	}
	return 0;
}

/*
 * Our cgroup path in the v2 hierarchy (the "0::" line of /proc/self/cgroup)
 * or in the v1 hierarchy that holds the cpu controller.
 */
static int own_path(int v2, char *out, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "r");
	int found = -1;

	if (!f)
		return -1;
	while (found && fgets(line, sizeof(line), f)) {
		char *ctl = strchr(line, ':'), *path;

		if (!ctl || !(path = strchr(ctl + 1, ':')))
			continue;
		*path++ = 0;
		path[strcspn(path, "\n")] = 0;
		ctl++;
		if (v2 ? !strcmp(line, "0") && !*ctl : has_cpu(ctl)) {
			snprintf(out, len, "%s", path);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

static int try_v2(unsigned int quota, unsigned int period)
{
	const char *roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	char path[512], file[600], buf[512], val[64];
	unsigned int i;

	if (own_path(1, path, sizeof(path)))
		return -1;
	for (i = 0; i < 2; i++) {
		snprintf(parent, sizeof(parent), "%s%s", roots[i],
			 strcmp(path, "/") ? path : "");
		snprintf(file, sizeof(file), "%s/cgroup.controllers", parent);
		if (read_file(file, buf, sizeof(buf)))
			continue;
		if (!strstr(buf, "cpu"))
			return -1;	/* the cpu controller lives in v1 */
		snprintf(file, sizeof(file), "%s/cgroup.subtree_control",
			 parent);
		if (read_file(file, buf, sizeof(buf)) || !strstr(buf, "cpu"))
			write_file(parent, "cgroup.subtree_control", "+cpu");
		snprintf(child, sizeof(child), "%s/ktask-bench-%d", parent,
			 getpid());
		if (mkdir(child, 0755) && errno != EEXIST)
			return -1;
		snprintf(val, sizeof(val), "%u %u", quota, period);
		if (write_file(child, "cpu.max", val))
			goto fail;
		snprintf(val, sizeof(val), "%d", getpid());
		if (write_file(child, "cgroup.procs", val))
			goto fail;
		return 0;
	}
	return -1;
fail:
	rmdir(child);
	return -1;
}

static int try_v1(unsigned int quota, unsigned int period)
{
	const char *mounts[] = { "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct" };
	char path[512], val[64];
	unsigned int i;

	if (own_path(0, path, sizeof(path)))
		return -1;
	for (i = 0; i < 2; i++) {
		snprintf(parent, sizeof(parent), "%s%s", mounts[i],
			 strcmp(path, "/") ? path : "");
		snprintf(child, sizeof(child), "%s/ktask-bench-%d", parent,
			 getpid());
		if (mkdir(child, 0755) && errno != EEXIST)
			continue;
		snprintf(val, sizeof(val), "%u", period);
		if (write_file(child, "cpu.cfs_period_us", val))
			goto fail;
		snprintf(val, sizeof(val), "%u", quota);
		if (write_file(child, "cpu.cfs_quota_us", val))
			goto fail;
		snprintf(val, sizeof(val), "%d", getpid());
		if (write_file(child, "cgroup.procs", val))
			goto fail;
		return 0;
fail:
		rmdir(child);
	}
	return -1;
}

int bench_cgroup_enter(unsigned int quota_us, unsigned int period_us,
		       char *why, size_t why_len)
{
	if (!try_v2(quota_us, period_us) || !try_v1(quota_us, period_us))
		return 0;
	snprintf(why, why_len,
		 "no writable cgroup with a cpu controller (v2 cpu.max or v1 "
		 "cpu.cfs_quota_us); needs root and a cgroup mount: %s",
		 strerror(errno));
	child[0] = 0;
	return -1;
}

void bench_cgroup_leave(void)
{
	char val[32];

	if (!child[0])
		return;
	snprintf(val, sizeof(val), "%d", getpid());
	write_file(parent, "cgroup.procs", val);
	rmdir(child);
	child[0] = 0;
}
