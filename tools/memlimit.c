// SPDX-License-Identifier: MIT
/*
 * memlimit.c - refuse, up front, a job bigger than the memory the process
 * may use.
 *
 * clear and populate map with MAP_NORESERVE, so the kernel does not
 * refuse a mapping that cannot be backed: the job would fault its way
 * into the OOM killer instead (exit 137 in a memory cgroup, and outside
 * one, the global OOM killer picking some process).  So before mapping,
 * the job's size is compared with the least of:
 *
 *   - MemAvailable in /proc/meminfo, the kernel's estimate of what can be
 *     allocated without swapping;
 *   - for the process's memory cgroup and each of its ancestors, the limit
 *     less what is charged, plus the page cache it could reclaim: cgroup
 *     v2 memory.max, memory.current and memory.stat's active_file and
 *     inactive_file; v1 memory.limit_in_bytes, memory.usage_in_bytes and
 *     total_active_file, total_inactive_file.
 *
 * --force skips the check.  As in libktask, KTASK_CGROUP_FS and
 * KTASK_PROC_CGROUP point the reader at a fake cgroup tree for tests.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

#define NO_LIMIT SIZE_MAX

/* Reads the first number of @dir/@name; false if absent or "max". */
static bool read_number(const char *dir, const char *name, size_t *v)
{
	char path[PATH_MAX], buf[64];
	unsigned long long n;
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%llu", &n) == 1;
	fclose(f);
	if (ok)
		*v = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
	return ok;
}

/* Sums the values of @keys in the "key value" file @dir/@name. */
static size_t read_stat_sum(const char *dir, const char *name,
			    const char *const keys[2])
{
	char path[PATH_MAX], line[256], key[128];
	unsigned long long v;
	size_t sum = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %llu", key, &v) == 2 &&
		    (!strcmp(key, keys[0]) || !strcmp(key, keys[1])))
			sum += v;
	fclose(f);
	return sum;
}

struct memcg {
	const char *limit;	/* memory.max or memory.limit_in_bytes */
	const char *usage;
	const char *keys[2];	/* reclaimable page cache in memory.stat */
};

static const struct memcg memcg_v2 = {
	"memory.max", "memory.current", { "active_file", "inactive_file" },
};
static const struct memcg memcg_v1 = {
	"memory.limit_in_bytes", "memory.usage_in_bytes",
	{ "total_active_file", "total_inactive_file" },
};

/* v1 reports "no limit" as a huge page-aligned number. */
#define V1_UNLIMITED (1ULL << 60)

/*
 * The least headroom of @mount/@path and its ancestors up to @mount; the
 * directory it comes from goes to @why.
 */
static size_t walk_up(const char *mount, const char *path,
		      const struct memcg *cg, char *why, size_t why_len)
{
	char dir[PATH_MAX], *slash;
	size_t root_len = strlen(mount), best = NO_LIMIT;
	size_t limit, usage, cache, room;

	if ((size_t)snprintf(dir, sizeof(dir), "%s%s", mount, path) >=
	    sizeof(dir))
		return NO_LIMIT;
	while (strlen(dir) > root_len && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	for (;;) {
		if (read_number(dir, cg->limit, &limit) &&
		    limit < V1_UNLIMITED) {
			if (!read_number(dir, cg->usage, &usage))
				usage = 0;
			cache = read_stat_sum(dir, "memory.stat", cg->keys);
			usage = usage > cache ? usage - cache : 0;
			room = limit > usage ? limit - usage : 0;
			if (room < best) {
				best = room;
				snprintf(why, why_len, "the memory cgroup %s "
					 "has a limit of %zu MiB, %zu MiB in "
					 "use", dir, limit >> 20, usage >> 20);
			}
		}
		if (strlen(dir) <= root_len)
			break;
		slash = strrchr(dir + root_len, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return best;
}

/* Whether @file (cgroup.controllers) lists "memory". */
static bool lists_memory(const char *file)
{
	char buf[512], *tok, *save;
	FILE *f = fopen(file, "r");
	bool found = false;

	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f))
		for (tok = strtok_r(buf, " \n", &save); tok && !found;
		     tok = strtok_r(NULL, " \n", &save))
			found = !strcmp(tok, "memory");
	fclose(f);
	return found;
}

/* The least headroom over the process's memory cgroups, v1 and v2. */
static size_t cgroup_headroom(char *why, size_t why_len)
{
	const char *fs = getenv("KTASK_CGROUP_FS");
	const char *self = getenv("KTASK_PROC_CGROUP");
	char line[4096], mount[PATH_MAX], file[PATH_MAX + 32], w[512];
	size_t best = NO_LIMIT, room;
	FILE *f;

	fs = fs ? fs : "/sys/fs/cgroup";
	f = fopen(self ? self : "/proc/self/cgroup", "r");
	if (!f)
		return NO_LIMIT;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') :
							 NULL;
		const struct memcg *cg;

		if (!c2)
			continue;
		c2[strcspn(c2, "\n")] = '\0';
		if (c2 == c1 + 1) {
			/* v2: at the root, or at unified/ in a hybrid. */
			cg = &memcg_v2;
			snprintf(mount, sizeof(mount), "%s", fs);
			snprintf(file, sizeof(file), "%s/cgroup.controllers",
				 mount);
			if (!lists_memory(file)) {
				snprintf(mount, sizeof(mount), "%s/unified",
					 fs);
				snprintf(file, sizeof(file),
					 "%s/cgroup.controllers", mount);
				if (!lists_memory(file))
					continue;
			}
		} else {
			*c2 = '\0';
			if (!strstr(c1 + 1, "memory"))
				continue;
			cg = &memcg_v1;
			snprintf(mount, sizeof(mount), "%s/memory", fs);
		}
		room = walk_up(mount, c2 + 1, cg, w, sizeof(w));
		if (room < best) {
			best = room;
			snprintf(why, why_len, "%s", w);
		}
	}
	fclose(f);
	return best;
}

/* MemAvailable from /proc/meminfo in bytes; NO_LIMIT if unknown. */
static size_t mem_available(void)
{
	char line[128];
	unsigned long long kb;
	size_t v = NO_LIMIT;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return NO_LIMIT;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			v = kb << 10;
	fclose(f);
	return v;
}

/**
 * tool_mem_headroom() - the memory this process may still use.
 * @why: gets which limit that is, in words.
 * @why_len: room in @why.
 *
 * Return: bytes, or SIZE_MAX when nothing is known.
 */
size_t tool_mem_headroom(char *why, size_t why_len)
{
	size_t avail = mem_available(), cg;
	char w[600];

	snprintf(why, why_len, "MemAvailable in /proc/meminfo is %zu MiB",
		 avail >> 20);
	cg = cgroup_headroom(w, sizeof(w));
	if (cg < avail) {
		snprintf(why, why_len, "%s", w);
		return cg;
	}
	return avail;
}

/**
 * tool_check_memory() - refuses a job that needs more memory than is left.
 * @cmd: the subcommand, for the message.
 * @o: the options (--force).
 * @bytes: the memory the job will fault in.
 *
 * Return: 0 to go on, or 1 after printing why not.
 */
int tool_check_memory(const char *cmd, const struct tool_opts *o,
		      size_t bytes)
{
	char why[700], sz[32], room_s[32];
	size_t room;

	if (o->force)
		return 0;
	room = tool_mem_headroom(why, sizeof(why));
	if (bytes <= room)
		return 0;
	size_format(bytes, sz, sizeof(sz));
	size_format(room, room_s, sizeof(room_s));
	tool_error(cmd, "%s is more memory than this process may use (%s "
		   "left: %s); --force tries anyway, at the risk of the OOM "
		   "killer", sz, room_s, why);
	return 1;
}
