// SPDX-License-Identifier: MIT
/*
 * fsinfo.c - what kind of filesystem a file is on, which decides how a
 * job is done (see docs/command.md), and whether the kernel has ktask
 * built in.
 *
 * The kernel-tree ktask series parallelizes hugetlbfs_fallocate() inside
 * the kernel: then one fallocate(2) call is already parallel.  ktask is
 * not a loadable module there, so /sys/module/ktask exists but has no
 * initstate file (only loadable modules have one); the out-of-tree
 * ktask.ko, which has one, does not change fallocate(2).  For tests,
 * KTASK_TEST_SYSFS names another directory to look in instead of /sys.
 */
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "tool.h"

static const struct {
	unsigned long magic;
	enum tool_fs fs;
	const char *name;
	bool memory;
} tool_fs_table[] = {
	{ TMPFS_MAGIC, TOOL_FS_TMPFS, "tmpfs", true },
	{ HUGETLBFS_MAGIC, TOOL_FS_HUGETLBFS, "hugetlbfs", true },
	{ RAMFS_MAGIC, TOOL_FS_RAMFS, "ramfs", true },
	{ EXT4_SUPER_MAGIC, TOOL_FS_EXT4, "ext4", false },
	{ XFS_SUPER_MAGIC, TOOL_FS_XFS, "xfs", false },
	{ BTRFS_SUPER_MAGIC, TOOL_FS_BTRFS, "btrfs", false },
};

/* Bytes of free huge pages of size @size, from sysfs; -1 if unknown. */
static size_t huge_pages_free(size_t size)
{
	char path[128];
	unsigned long n;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/"
		 "hugepages-%zukB/free_hugepages", size >> 10);
	f = fopen(path, "r");
	if (!f)
		return (size_t)-1;
	ok = fscanf(f, "%lu", &n) == 1;
	fclose(f);
	return ok ? n * size : (size_t)-1;
}

/**
 * tool_fsinfo() - describes the filesystem @fd is on.
 * @fd: an open file.
 * @fi: filled in; "file" and TOOL_FS_OTHER for filesystems not listed.
 *
 * Return: 0, or a negative errno from fstatfs(2).
 */
int tool_fsinfo(int fd, struct tool_fsinfo *fi)
{
	struct statfs sf;
	size_t i;

	fi->fs = TOOL_FS_OTHER;
	fi->name = "file";
	fi->memory = false;
	if (fstatfs(fd, &sf))
		return -errno;
	fi->block = sf.f_bsize;
	fi->avail = (size_t)sf.f_bavail * sf.f_bsize;
	for (i = 0; i < sizeof(tool_fs_table) / sizeof(tool_fs_table[0]); i++)
		if ((unsigned long)sf.f_type == tool_fs_table[i].magic) {
			fi->fs = tool_fs_table[i].fs;
			fi->name = tool_fs_table[i].name;
			fi->memory = tool_fs_table[i].memory;
		}
	/* A tmpfs without a size limit reports no blocks at all. */
	if (fi->fs == TOOL_FS_TMPFS && !sf.f_blocks)
		fi->avail = (size_t)-1;
	/* hugetlbfs: free huge pages, and the mount's size= if it has one. */
	if (fi->fs == TOOL_FS_HUGETLBFS) {
		size_t pool = huge_pages_free(fi->block);

		if (sf.f_blocks == (fsblkcnt_t)-1 || !sf.f_blocks ||
		    pool < fi->avail)
			fi->avail = pool;
	}
	return 0;
}

/* Whether the running kernel has ktask built in (the kernel series). */
bool tool_kernel_ktask(void)
{
	const char *sys = getenv("KTASK_TEST_SYSFS");
	char path[4096];
	struct stat st;

	if (!sys || !*sys)
		sys = "/sys";
	snprintf(path, sizeof(path), "%s/module/ktask", sys);
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return false;
	snprintf(path, sizeof(path), "%s/module/ktask/initstate", sys);
	return access(path, F_OK) != 0;
}
