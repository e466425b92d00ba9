// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * topology.c - the CPUs a userland caller may really use.
 *
 * Usable CPUs are the online CPUs in the calling thread's affinity mask,
 * within the CPU quota of its cgroup and every ancestor (cgroup v2 cpu.max,
 * v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded up, at least one.  The
 * affinity mask is read on every call; the quota, which takes a few file
 * reads, at most every QUOTA_REFRESH_MS, so a changed limit is followed
 * without a cost per task.
 *
 * NUMA facts come from libnuma.  For tests, KTASK_TOPOLOGY describes a
 * fake machine ("0:0-3;1:4-7", node:cpulist pairs), and KTASK_CGROUP_FS and
 * KTASK_PROC_CGROUP point the quota reader at a fake cgroup tree.  They
 * are read with secure_getenv(), so a privileged program ignores them.
 *
 * The quota reader's path buffers are static, guarded by the quota lock it
 * runs under: on the stack they were 20 KB of a caller's stack, and a
 * thread with a small stack could not call ktask_run().
 */
#include "topology.h"

#include <fcntl.h>
#include <limits.h>
#include <numa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ktask.h"
#include "fault.h"

#define QUOTA_REFRESH_MS 100

static struct {
	int nr_nodes;
	bool fake;
	bool multi_node;		/* more than one node with CPUs */
	cpu_set_t node_mask[KTASK_MAX_NODES];
	bool node_valid[KTASK_MAX_NODES];
	short cpu_node[CPU_SETSIZE];
	size_t online;
	const char *cgroup_fs;
	const char *proc_cgroup;
	/* The quota cache: value, where it came from, when it was read. */
	pthread_mutex_t quota_lock;
	long quota_milli;		/* [atomic] 0 = no limit */
	long quota_stamp_ms;		/* [atomic] CLOCK_MONOTONIC_COARSE */
	char quota_source[256];		/* [quota_lock] */
	/* The quota reader's buffers. */
	struct {
		char file[4096];	/* /proc/self/cgroup */
		char mount[PATH_MAX];	/* a controller's mount */
		char path[PATH_MAX];	/* a cgroup's path in it */
		char dir[PATH_MAX];	/* walk_up()'s directory */
		char leaf[PATH_MAX];	/* a file in that directory */
		char src[256];		/* where a quota came from */
	} buf;				/* [quota_lock] */
} topo = {
	.quota_lock = PTHREAD_MUTEX_INITIALIZER,
	.quota_stamp_ms = LONG_MIN,
};

static pthread_once_t topo_once = PTHREAD_ONCE_INIT;

/* Parses a CPU list such as "0-3,8,10-11" into @set; false if malformed. */
static bool parse_cpulist(const char *s, const char *end, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (s < end) {
		char *next;
		long lo = strtol(s, &next, 10), hi = lo;

		if (next == s || lo < 0)
			return false;
		s = next;
		if (s < end && *s == '-') {
			hi = strtol(s + 1, &next, 10);
			if (next == s + 1 || hi < lo)
				return false;
			s = next;
		}
		if (hi >= CPU_SETSIZE)
			return false;
		for (long c = lo; c <= hi; c++)
			CPU_SET(c, set);
		if (s < end && *s != ',')
			return false;
		if (s < end)
			s++;
	}
	return true;
}

/* KTASK_TOPOLOGY="0:0-1;1:2-3": a fake machine for tests. */
static bool load_fake(const char *spec)
{
	const char *s = spec;

	while (*s) {
		const char *end = strchr(s, ';');
		char *colon;
		long nid = strtol(s, &colon, 10);

		if (!end)
			end = s + strlen(s);
		if (colon == s || *colon != ':' || nid < 0 ||
		    nid >= KTASK_MAX_NODES ||
		    !parse_cpulist(colon + 1, end, &topo.node_mask[nid]))
			return false;
		topo.node_valid[nid] = true;
		if (nid + 1 > topo.nr_nodes)
			topo.nr_nodes = nid + 1;
		s = *end ? end + 1 : end;
	}
	return topo.nr_nodes > 0;
}

static void load_libnuma(void)
{
	struct bitmask *cpus;
	int max, nid;

	if (numa_available() < 0)
		return;
	max = numa_max_node();
	/* libnuma exits on a failed allocation; the fault skips the call. */
	cpus = ktask_fault_alloc("numa_cpumask") ? NULL :
						  numa_allocate_cpumask();
	if (!cpus)
		return;
	for (nid = 0; nid <= max && nid < KTASK_MAX_NODES; nid++) {
		if (!numa_bitmask_isbitset(numa_nodes_ptr, nid) ||
		    numa_node_to_cpus(nid, cpus))
			continue;
		topo.node_valid[nid] = true;
		topo.nr_nodes = nid + 1;
		for (unsigned int c = 0; c < cpus->size && c < CPU_SETSIZE; c++)
			if (numa_bitmask_isbitset(cpus, c))
				CPU_SET(c, &topo.node_mask[nid]);
	}
	numa_free_cpumask(cpus);
}

static void topo_load(void)
{
	const char *fake = secure_getenv("KTASK_TOPOLOGY");
	int with_cpus = 0;
	long n;

	n = sysconf(_SC_NPROCESSORS_ONLN);
	topo.online = n > 0 ? (size_t)n : 1;
	topo.cgroup_fs = secure_getenv("KTASK_CGROUP_FS");
	if (!topo.cgroup_fs)
		topo.cgroup_fs = "/sys/fs/cgroup";
	topo.proc_cgroup = secure_getenv("KTASK_PROC_CGROUP");
	if (!topo.proc_cgroup)
		topo.proc_cgroup = "/proc/self/cgroup";

	if (fake && *fake) {
		topo.fake = load_fake(fake);
		if (!topo.fake) {
			fprintf(stderr, "ktask: ignoring malformed "
				"KTASK_TOPOLOGY=\"%s\"\n", fake);
			memset(topo.node_mask, 0, sizeof(topo.node_mask));
			memset(topo.node_valid, 0, sizeof(topo.node_valid));
			topo.nr_nodes = 0;
		}
	}
	if (!topo.fake)
		load_libnuma();
	if (!topo.nr_nodes) {
		/* No NUMA support: one node with every CPU. */
		topo.nr_nodes = 1;
		topo.node_valid[0] = true;
		for (size_t c = 0; c < topo.online && c < CPU_SETSIZE; c++)
			CPU_SET(c, &topo.node_mask[0]);
	}
	/* CPUs on no node we know of (a node past KTASK_MAX_NODES): none. */
	for (int c = 0; c < CPU_SETSIZE; c++)
		topo.cpu_node[c] = NUMA_NO_NODE;
	for (int nid = topo.nr_nodes - 1; nid >= 0; nid--) {
		if (!CPU_COUNT(&topo.node_mask[nid]))
			continue;
		with_cpus++;
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &topo.node_mask[nid]))
				topo.cpu_node[c] = (short)nid;
	}
	topo.multi_node = with_cpus > 1;
}

void ktask_topo_init(void)
{
	pthread_once(&topo_once, topo_load);
}

/*
 * Reads a small file into @buf, NUL-terminated; false if it can't.  Plain
 * open() and read(): the quota is re-read on the task path, which must not
 * allocate (fopen() would).  Non-blocking, so that a FIFO does not hang it.
 */
static bool read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return false;
	while (len + 1 < size &&
	       (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return len > 0;
}

/* Quota in thousandths of a CPU from quota/period, 0 for none. */
static long to_milli(long long quota, long long period)
{
	if (quota <= 0 || period <= 0)
		return 0;
	return (long)((quota * 1000 + period - 1) / period);
}

/* cgroup v2: "max 100000" or "50000 100000" in cpu.max. */
static long read_v2(const char *dir)
{
	char *path = topo.buf.leaf, buf[64];
	long long quota, period;

	snprintf(path, sizeof(topo.buf.leaf), "%s/cpu.max", dir);
	if (!read_small(path, buf, sizeof(buf)) ||
	    sscanf(buf, "%lld %lld", &quota, &period) != 2)
		return 0;
	return to_milli(quota, period);
}

/* cgroup v1: cpu.cfs_quota_us (-1 for none) and cpu.cfs_period_us. */
static long read_v1(const char *dir)
{
	char *path = topo.buf.leaf, buf[64];
	long long quota, period;

	snprintf(path, sizeof(topo.buf.leaf), "%s/cpu.cfs_quota_us", dir);
	if (!read_small(path, buf, sizeof(buf)) ||
	    sscanf(buf, "%lld", &quota) != 1)
		return 0;
	snprintf(path, sizeof(topo.buf.leaf), "%s/cpu.cfs_period_us", dir);
	if (!read_small(path, buf, sizeof(buf)) ||
	    sscanf(buf, "%lld", &period) != 1)
		return 0;
	return to_milli(quota, period);
}

/*
 * The smallest quota on the way from @mount/@path up to @mount, with the
 * directory it was found in.  A cgroup path the mount does not show (a
 * namespace boundary) is walked up until it does.
 */
static long walk_up(const char *mount, const char *path,
		    long (*read_quota)(const char *), char *source,
		    size_t source_size)
{
	char *dir = topo.buf.dir;
	size_t root_len = strlen(mount);
	long best = 0, q;
	char *slash;

	if ((size_t)snprintf(dir, sizeof(topo.buf.dir), "%s%s", mount,
			     path) >= sizeof(topo.buf.dir))
		return 0;
	while (strlen(dir) > root_len && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	for (;;) {
		q = read_quota(dir);
		if (q && (!best || q < best)) {
			best = q;
			snprintf(source, source_size, "%s", dir);
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

/* Whether the comma-separated @list names @name. */
static bool has_token(const char *list, size_t len, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p < list + len;) {
		const char *comma = memchr(p, ',', list + len - p);
		size_t l = (comma ? comma : list + len) - p;

		if (l == n && !memcmp(p, name, n))
			return true;
		p += l + 1;
	}
	return false;
}

/* The v1 cpu controller's mount under the cgroup fs, or false. */
static bool v1_cpu_mount(char *out, size_t size)
{
	static const char *const names[] = { "cpu", "cpu,cpuacct",
					     "cpuacct,cpu" };
	char *path = topo.buf.leaf;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(topo.buf.leaf), "%s/%s/cpu.cfs_period_us",
			 topo.cgroup_fs, names[i]);
		if (!access(path, R_OK)) {
			snprintf(out, size, "%s/%s", topo.cgroup_fs, names[i]);
			return true;
		}
	}
	return false;
}

/*
 * The caller's cgroup quota in thousandths of a CPU; 0 for none.  Called
 * with the quota lock held: the buffers are topo.buf.
 */
static long read_quota(char *source, size_t source_size)
{
	char *file = topo.buf.file, *mount = topo.buf.mount;
	char *path = topo.buf.path, *src = topo.buf.src, *line, *next;
	long best = 0, q;

	source[0] = '\0';
	if (!read_small(topo.proc_cgroup, file, sizeof(topo.buf.file)))
		return 0;
	for (line = file; *line; line = next) {
		char *c1, *c2;

		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		c1 = strchr(line, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		snprintf(path, sizeof(topo.buf.path), "%s", c2 + 1);
		if (c2 == c1 + 1 && !strncmp(line, "0:", 2)) {
			/* cgroup v2, mounted at the fs root (not hybrid). */
			snprintf(mount, sizeof(topo.buf.mount),
				 "%s/cgroup.controllers", topo.cgroup_fs);
			if (access(mount, R_OK))
				continue;
			q = walk_up(topo.cgroup_fs, path, read_v2, src,
				    sizeof(topo.buf.src));
		} else if (has_token(c1 + 1, c2 - c1 - 1, "cpu") &&
			   v1_cpu_mount(mount, sizeof(topo.buf.mount))) {
			q = walk_up(mount, path, read_v1, src,
				    sizeof(topo.buf.src));
		} else {
			continue;
		}
		if (q && (!best || q < best)) {
			best = q;
			snprintf(source, source_size, "%s", src);
		}
	}
	return best;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The quota, re-read when the cached value is older than the refresh. */
static long quota_milli(void)
{
	long stamp = __atomic_load_n(&topo.quota_stamp_ms, __ATOMIC_ACQUIRE);
	long now = now_ms();

	if (stamp != LONG_MIN && now - stamp < QUOTA_REFRESH_MS)
		return __atomic_load_n(&topo.quota_milli, __ATOMIC_RELAXED);
	/* One thread refreshes; the others use the value they find. */
	if (pthread_mutex_trylock(&topo.quota_lock)) {
		if (stamp != LONG_MIN)
			return __atomic_load_n(&topo.quota_milli,
					       __ATOMIC_RELAXED);
		pthread_mutex_lock(&topo.quota_lock);
	}
	if (__atomic_load_n(&topo.quota_stamp_ms, __ATOMIC_RELAXED) == stamp) {
		__atomic_store_n(&topo.quota_milli,
				 read_quota(topo.quota_source,
					    sizeof(topo.quota_source)),
				 __ATOMIC_RELAXED);
		/* Release: pairs with the acquire load of the stamp above. */
		__atomic_store_n(&topo.quota_stamp_ms, now, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&topo.quota_lock);
	return __atomic_load_n(&topo.quota_milli, __ATOMIC_RELAXED);
}

void ktask_topo_cpus(struct ktask_cpus *cpus)
{
	size_t quota_cpus;

	ktask_topo_init();
	cpus->kc_online = topo.online;
	if (sched_getaffinity(0, sizeof(cpus->kc_mask), &cpus->kc_mask) ||
	    !CPU_COUNT(&cpus->kc_mask)) {
		CPU_ZERO(&cpus->kc_mask);
		for (size_t c = 0; c < topo.online && c < CPU_SETSIZE; c++)
			CPU_SET(c, &cpus->kc_mask);
	}
	cpus->kc_affinity = CPU_COUNT(&cpus->kc_mask);
	cpus->kc_quota_milli = quota_milli();
	cpus->kc_usable = cpus->kc_affinity;
	if (cpus->kc_quota_milli) {
		quota_cpus = (cpus->kc_quota_milli + 999) / 1000;
		if (quota_cpus < cpus->kc_usable)
			cpus->kc_usable = quota_cpus;
	}
	if (!cpus->kc_usable)
		cpus->kc_usable = 1;
}

int ktask_topo_nr_nodes(void)
{
	ktask_topo_init();
	return topo.nr_nodes;
}

const cpu_set_t *ktask_topo_node_mask(int nid)
{
	return &topo.node_mask[nid];
}

bool ktask_topo_node_valid(int nid)
{
	ktask_topo_init();
	return nid >= 0 && nid < topo.nr_nodes && topo.node_valid[nid];
}

int ktask_topo_current_node(void)
{
	int cpu;

	ktask_topo_init();
	if (!topo.multi_node)
		return NUMA_NO_NODE;
	cpu = sched_getcpu();
	return cpu >= 0 && cpu < CPU_SETSIZE ? topo.cpu_node[cpu] :
					       NUMA_NO_NODE;
}

/*
 * In a fork child: another thread of the parent may have held the quota
 * lock, and it will never let go in the child.  Start the cache afresh.
 */
void ktask_topo_fork_child(void)
{
	pthread_mutex_init(&topo.quota_lock, NULL);
	__atomic_store_n(&topo.quota_stamp_ms, LONG_MIN, __ATOMIC_RELAXED);
}

void ktask_topo_quota_source(char *buf, size_t size)
{
	/* Under the lock that guards it: a refresh may be writing it. */
	pthread_mutex_lock(&topo.quota_lock);
	snprintf(buf, size, "%s", topo.quota_source);
	pthread_mutex_unlock(&topo.quota_lock);
}

bool ktask_topo_is_fake(void)
{
	ktask_topo_init();
	return topo.fake;
}
