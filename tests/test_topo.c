// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_topo.c - the right CPUs: cgroup quotas (a fake cgroup tree), NUMA
 * node placement (the machine's nodes where it has several, as in the QEMU
 * guest, else a fake two-node machine), on entry and after a helper moves
 * to another node's part, the caller's affinity, helper priority.
 *
 * usage: test_topo            the suite; sets up its own fake machine
 *        test_topo expect N   exit 0 iff a big task plans N threads
 *                             (for runs under taskset, cgroups and mpirun)
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <ktask.h>

static char fake_root[] = "/tmp/ktask-cgroup-XXXXXX";

static void write_file(const char *rel, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fake_root, rel);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

static void make_dir(const char *rel)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", fake_root, rel);
	mkdir(path, 0755);
}

static int nop_chunk(void *start, void *end, void *arg)
{
	(void)start, (void)end, (void)arg;
	return 0;
}

/* Runs @ctl on 64 units anywhere: not bound to the caller's node. */
static int run_anywhere(struct ktask_ctl *ctl)
{
	struct ktask_node node = {
		.kn_start = NULL, .kn_task_size = 64, .kn_nid = NUMA_NO_NODE,
	};

	return ktask_run_numa(&node, 1, ctl);
}

/* The default thread limit a big task that may run anywhere sees now. */
static size_t max_threads_now(void)
{
	DEFINE_KTASK_CTL(ctl, nop_chunk, NULL, 1);
	struct ktask_stats st;

	if (run_anywhere(&ctl))
		return 0;
	ktask_last_stats(&st);
	return st.ks_max_threads;
}

/* The same, after the quota cache (100 ms) has surely expired. */
static size_t max_threads_later(void)
{
	kt_sleep_ms(250);
	return max_threads_now();
}

/* --- cgroup quotas, on a fake tree ----------------------------------------- */

static void test_quota_v2_and_ancestors(void **state)
{
	size_t cpus = kt_usable_cpus();

	(void)state;
	write_file("fs/cgroup.controllers", "cpu memory\n");
	make_dir("fs/app");
	make_dir("fs/app/job");
	write_file("proc-cgroup", "0::/app/job\n");
	write_file("fs/app/cpu.max", "max 100000\n");
	write_file("fs/app/job/cpu.max", "max 100000\n");
	assert_int_equal(max_threads_later(), cpus);

	/* 0.5 CPU on the job: rounded up, one thread. */
	write_file("fs/app/job/cpu.max", "50000 100000\n");
	assert_int_equal(max_threads_later(), 1);

	/* 1.5 CPUs: two, where there are two. */
	write_file("fs/app/job/cpu.max", "150000 100000\n");
	assert_int_equal(max_threads_later(), cpus < 2 ? cpus : 2);

	/* An ancestor's smaller quota wins. */
	write_file("fs/app/cpu.max", "20000 100000\n");
	assert_int_equal(max_threads_later(), 1);

	/* A path the mount does not show is walked up (namespaces). */
	write_file("proc-cgroup", "0::/app/job/not-visible-here\n");
	assert_int_equal(max_threads_later(), 1);

	write_file("fs/app/cpu.max", "max 100000\n");
	write_file("fs/app/job/cpu.max", "max 100000\n");
	assert_int_equal(max_threads_later(), cpus);
}

static void test_quota_v1(void **state)
{
	size_t cpus = kt_usable_cpus();
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/fs/cgroup.controllers", fake_root);
	unlink(path);
	make_dir("fs/cpu,cpuacct");
	make_dir("fs/cpu,cpuacct/svc");
	write_file("fs/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
	write_file("fs/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
	write_file("fs/cpu,cpuacct/svc/cpu.cfs_quota_us", "50000\n");
	write_file("fs/cpu,cpuacct/svc/cpu.cfs_period_us", "100000\n");
	write_file("proc-cgroup", "12:memory:/other\n4:cpu,cpuacct:/svc\n"
				  "0::/\n");
	assert_int_equal(max_threads_later(), 1);

	write_file("fs/cpu,cpuacct/svc/cpu.cfs_quota_us", "-1\n");
	assert_int_equal(max_threads_later(), cpus);
}

/* --- NUMA placement, on a fake machine: node 0 = CPU 0, node 1 = the rest */

struct placement {
	pid_t caller;
	int helper_chunks;
	int helper_masks[4];	/* bit c set: the helper could run on CPU c */
	int nr_masks;
	struct kt_tids tids;
	int nice_seen;
	int want;		/* threads to wait for in each chunk */
};

/* A helper's CPUs as a bit mask of CPUs 0..30. */
static int my_cpus(void)
{
	cpu_set_t set;
	int bits = 0;

	if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set))
		return -1;
	for (int c = 0; c < 31; c++)
		if (CPU_ISSET(c, &set))
			bits |= 1 << c;
	return bits;
}

static bool real_numa;	/* a machine with nodes: test on those */

/* Bits of the CPUs in a sysfs cpulist such as "0-1,4". */
static int cpulist_bits(const char *path)
{
	char buf[256], *p = buf;
	FILE *f = fopen(path, "r");
	int bits = 0;

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	while (*p >= '0' && *p <= '9') {
		long lo = strtol(p, &p, 10), hi = lo;

		if (*p == '-')
			hi = strtol(p + 1, &p, 10);
		for (long c = lo; c <= hi && c < 31; c++)
			bits |= 1 << c;
		if (*p == ',')
			p++;
	}
	return bits;
}

/*
 * A node's CPUs as bits: the real node's on a NUMA machine, else the fake
 * machine's (node 0 = CPU 0, node 1 = the rest).
 */
static int node_bits(int nid)
{
	char path[80];
	int n = kt_usable_cpus() < 31 ? kt_usable_cpus() : 31;

	if (real_numa) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d/cpulist", nid);
		return cpulist_bits(path);
	}
	return nid == 0 ? 1 : ((1 << n) - 1) & ~1;
}

static int node1_bits(void)
{
	return node_bits(1);
}

static int placement_chunk(void *start, void *end, struct placement *p)
{
	(void)start, (void)end;
	kt_tids_add(&p->tids);
	if (kt_gettid() != p->caller) {
		int n = __atomic_fetch_add(&p->nr_masks, 1, __ATOMIC_RELAXED);

		if (n < 4)
			p->helper_masks[n] = my_cpus();
		errno = 0;
		p->nice_seen = getpriority(PRIO_PROCESS, 0);
	}
	/* Hold on until the threads are in, so the helper surely runs. */
	kt_wait_for(&p->tids.nr, p->want, 3000);
	return 0;
}

static void test_numa_helpers_on_their_node(void **state)
{
	struct placement p = { .caller = kt_gettid() };
	DEFINE_KTASK_CTL(ctl, placement_chunk, &p, 1);
	struct ktask_node nodes[2] = {
		{ .kn_start = NULL, .kn_task_size = 64, .kn_nid = 1 },
		{ .kn_start = NULL, .kn_task_size = 0, .kn_nid = 0 },
	};
	struct ktask_stats st;

	(void)state;
	if (kt_usable_cpus() < 2)
		skip();
	/* All the work is on node 1: as many threads as it has CPUs. */
	p.want = __builtin_popcount(node1_bits()) > 1 ? 2 : 1;
	assert_int_equal(ktask_run_numa(nodes, 2, &ctl), 0);
	ktask_last_stats(&st);
	assert_int_equal(st.ks_max_threads, __builtin_popcount(node1_bits()));
	for (int i = 0; i < p.nr_masks && i < 4; i++)
		assert_int_equal(p.helper_masks[i], node1_bits());

	/*
	 * Work on both nodes: threads in proportion, the caller counting on
	 * its own node; every helper runs on its node's CPUs only.
	 */
	memset(&p, 0, sizeof(p));
	p.caller = kt_gettid();
	p.want = 2;
	nodes[1].kn_task_size = 64;
	assert_int_equal(ktask_run_numa(nodes, 2, &ctl), 0);
	ktask_last_stats(&st);
	/* Threads for the CPUs of nodes 0 and 1, all of them on 2 nodes. */
	assert_int_equal(st.ks_helpers,
			 __builtin_popcount(node_bits(0) | node_bits(1)) - 1);
	assert_true(p.tids.nr >= 2);
	assert_true(p.nr_masks >= 1);
	for (int i = 0; i < p.nr_masks && i < 4; i++)
		assert_true(p.helper_masks[i] == node_bits(0) ||
			    p.helper_masks[i] == node_bits(1));
}

/*
 * Uneven parts, one per node: a small one on each node but the last, a big
 * one on the last.  The caller starts on the last node, so the helpers of
 * the small parts finish early and move on to the big part: each helper
 * chunk must run on its part's node, after a move as on entry.
 */
#define MOVE_MAX_PARTS 8
#define MOVE_SMALL 64		/* units in a small part: one chunk */

struct move {
	pid_t caller;
	unsigned int run;		/* which run this is, for last_part */
	int nr_parts;
	int nid[MOVE_MAX_PARTS];
	int node_cpus[MOVE_MAX_PARTS];	/* node_bits(), read by the caller */
	uintptr_t end[MOVE_MAX_PARTS];	/* where each part ends */
	int helper_chunks[MOVE_MAX_PARTS];
	int off_node[MOVE_MAX_PARTS];	/* helper chunks off their node */
	int moved;			/* helper chunks after a move */
	int bad_cpu;			/* for the message */
};

/* The part of this thread's previous chunk in run @run, or -1. */
static __thread struct { unsigned int run; int part; } last_part;

static int move_chunk(void *start, void *end, struct move *m)
{
	int part = 0, cpu = sched_getcpu();

	(void)end;
	while ((uintptr_t)start >= m->end[part])
		part++;
	if (kt_gettid() != m->caller) {
		__atomic_fetch_add(&m->helper_chunks[part], 1, __ATOMIC_RELAXED);
		if (cpu < 0 || cpu >= 31 || !(m->node_cpus[part] & 1 << cpu)) {
			__atomic_fetch_add(&m->off_node[part], 1,
					   __ATOMIC_RELAXED);
			m->bad_cpu = cpu;
		}
		if (last_part.run == m->run && last_part.part != part &&
		    last_part.part >= 0)
			__atomic_fetch_add(&m->moved, 1, __ATOMIC_RELAXED);
		last_part.run = m->run;
		last_part.part = part;
	}
	kt_sleep_ms(2);
	return 0;
}

/* How many nodes with CPUs: this machine's, or the fake machine's two. */
static int nr_cpu_nodes(void)
{
	int n = 0;

	if (!real_numa)
		return 2;
	while (n < MOVE_MAX_PARTS && node_bits(n))
		n++;
	return n;
}

static void test_helpers_follow_their_part(void **state)
{
	static unsigned int runs;
	struct move m;
	DEFINE_KTASK_CTL(ctl, move_chunk, &m, MOVE_SMALL);
	struct ktask_node nodes[MOVE_MAX_PARTS];
	int nr = nr_cpu_nodes(), moved = 0, attempts;
	cpu_set_t all, last;

	(void)state;
	if (kt_usable_cpus() < 2 || nr < 2)
		skip();
	if (sched_getaffinity(0, sizeof(all), &all))
		fail();
	CPU_ZERO(&last);
	for (int c = 0; c < 31; c++)
		if (node_bits(nr - 1) & 1 << c)
			CPU_SET(c, &last);
	for (attempts = 0; attempts < 20 && moved < 3; attempts++) {
		uintptr_t pos = 0;

		memset(&m, 0, sizeof(m));
		m.caller = kt_gettid();
		m.run = ++runs;
		m.nr_parts = nr;
		for (int i = 0; i < nr; i++) {
			size_t size = i < nr - 1 ? MOVE_SMALL :
						   MOVE_SMALL * 8 * nr;

			m.nid[i] = i;
			m.node_cpus[i] = node_bits(i);
			nodes[i] = (struct ktask_node){
				.kn_start = (void *)pos, .kn_task_size = size,
				.kn_nid = i,
			};
			pos += size;
			m.end[i] = pos;
		}
		/*
		 * Start on the last node.  Pinned there for the call itself,
		 * the helpers would stay on the caller's CPUs (they honour its
		 * mask), so only move there: the caller's node is read when
		 * the task starts and the scheduler rarely moves a thread that
		 * just ran.  A run where it did is still checked, and tried
		 * again for a move.
		 */
		sched_setaffinity(0, sizeof(last), &last);
		sched_yield();
		sched_setaffinity(0, sizeof(all), &all);
		assert_int_equal(ktask_run_numa(nodes, nr, &ctl), 0);
		for (int i = 0; i < nr; i++) {
			if (m.off_node[i])
				print_message("part %d (node %d): %d of %d helper "
					      "chunks off the node, e.g. on CPU %d\n",
					      i, i, m.off_node[i],
					      m.helper_chunks[i], m.bad_cpu);
			assert_int_equal(m.off_node[i], 0);
		}
		moved += m.moved;
	}
	print_message("%d helper chunks after a move, in %d runs\n", moved,
		      attempts);
	assert_true(moved > 0);
}

/*
 * The caller counts as one of the threads even when its own node's part is
 * too small for a share: a task never has more threads than it planned.
 */
static void test_caller_counts_once(void **state)
{
	DEFINE_KTASK_CTL(ctl, nop_chunk, NULL, 1);
	struct ktask_node nodes[3];
	struct ktask_stats st;

	(void)state;
	ktask_ctl_set_max_threads(&ctl, 2);
	for (int i = 0; i < 50; i++) {
		int cpu = sched_getcpu();
		int mine = real_numa ? (node_bits(0) & (1 << cpu) ? 0 : 1) :
				       (cpu == 0 ? 0 : 1);

		nodes[0] = (struct ktask_node){ .kn_task_size = 100,
						.kn_nid = !mine };
		nodes[1] = (struct ktask_node){ .kn_task_size = 100,
						.kn_nid = !mine };
		nodes[2] = (struct ktask_node){ .kn_task_size = 1,
						.kn_nid = mine };
		assert_int_equal(ktask_run_numa(nodes, 3, &ctl), 0);
		ktask_last_stats(&st);
		assert_true(st.ks_threads <= 2);
		assert_true(st.ks_helpers + 1 <= st.ks_threads);
	}
}

static void test_numa_invalid_node(void **state)
{
	DEFINE_KTASK_CTL(ctl, nop_chunk, NULL, 1);
	struct ktask_node nodes[2] = {
		{ .kn_start = NULL, .kn_task_size = 64, .kn_nid = 1 },
		{ .kn_start = NULL, .kn_task_size = 64, .kn_nid = 2 },
	};

	(void)state;
	/* The fake machine has nodes 0 and 1 only, the guests 2 or 4. */
	nodes[1].kn_nid = nr_cpu_nodes();
	assert_int_equal(ktask_run_numa(nodes, 2, &ctl), -EINVAL);
	nodes[1].kn_nid = NUMA_NO_NODE;
	assert_int_equal(ktask_run_numa(nodes, 2, &ctl), 0);
}

/* With three CPUs or more: helpers never leave the caller's CPUs. */
static void *confined_caller(void *arg)
{
	struct placement *p = arg;
	DEFINE_KTASK_CTL(ctl, placement_chunk, p, 1);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CPU_SET(1, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return NULL;
	p->caller = kt_gettid();
	run_anywhere(&ctl);
	return NULL;
}

static void test_helpers_confined_to_caller_cpus(void **state)
{
	struct placement p = { .want = 2 };
	pthread_t t;

	(void)state;
	if (kt_usable_cpus() < 3) {
		print_message("needs 3 CPUs (runs in the QEMU guest)\n");
		skip();
	}
	pthread_create(&t, NULL, confined_caller, &p);
	pthread_join(t, NULL);
	assert_true(p.nr_masks >= 1);
	assert_int_equal(p.helper_masks[0] & ~3, 0);
}

/* --- Helper priority --------------------------------------------------------- */

static void *nice_caller(void *arg)
{
	struct placement *p = arg;
	DEFINE_KTASK_CTL(ctl, placement_chunk, p, 1);

	/* Nice values are per thread on Linux; this one runs at 5. */
	if (setpriority(PRIO_PROCESS, 0, 5))
		return NULL;
	p->caller = kt_gettid();
	ktask_ctl_set_flags(&ctl, (unsigned int)p->helper_masks[3]);
	run_anywhere(&ctl);
	return NULL;
}

static int run_nice_task(unsigned int flags)
{
	struct placement p = { 0 };
	pthread_t t;

	p.helper_masks[3] = (int)flags;	/* passes the flags in */
	p.want = 2;
	p.nice_seen = -100;
	pthread_create(&t, NULL, nice_caller, &p);
	pthread_join(t, NULL);
	return p.nr_masks ? p.nice_seen : -100;
}

static void test_helper_priority(void **state)
{
	DEFINE_KTASK_CTL(bad, nop_chunk, NULL, 1);

	(void)state;
	if (kt_usable_cpus() < 2)
		skip();
	/* By default helpers run at the caller's nice value. */
	assert_int_equal(run_nice_task(0), 5);
	/* In the background, at the lowest priority. */
	assert_int_equal(run_nice_task(KTASK_BACKGROUND), 19);
	/* Back at the caller's (lowering a nice value needs root). */
	if (geteuid() == 0)
		assert_int_equal(run_nice_task(0), 5);
	/* Unknown flags are refused before anything runs. */
	ktask_ctl_set_flags(&bad, 0x80);
	assert_int_equal(ktask_run(NULL, 64, &bad), -EINVAL);
}

/* --- Entry points ------------------------------------------------------------ */

/* For scripts: exit 0 iff the default limit is @want threads. */
static int expect(size_t want)
{
	size_t got = max_threads_now();

	printf("ktask: %zu usable CPUs here (want %zu)\n", got, want);
	return got == want ? 0 : 1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quota_v2_and_ancestors),
		cmocka_unit_test(test_quota_v1),
		cmocka_unit_test(test_numa_helpers_on_their_node),
		cmocka_unit_test(test_helpers_follow_their_part),
		cmocka_unit_test(test_caller_counts_once),
		cmocka_unit_test(test_numa_invalid_node),
		cmocka_unit_test(test_helpers_confined_to_caller_cpus),
		cmocka_unit_test(test_helper_priority),
	};
	char path[600];
	int ret;

	if (argc > 2 && !strcmp(argv[1], "expect"))
		return expect(strtoul(argv[2], NULL, 10));

	/* A fake machine, set up before the library first looks. */
	if (!mkdtemp(fake_root))
		return 1;
	make_dir("fs");
	write_file("proc-cgroup", "0::/\n");
	snprintf(path, sizeof(path), "%s/fs", fake_root);
	setenv("KTASK_CGROUP_FS", path, 1);
	snprintf(path, sizeof(path), "%s/proc-cgroup", fake_root);
	setenv("KTASK_PROC_CGROUP", path, 1);
	real_numa = !access("/sys/devices/system/node/node1", F_OK);
	if (!real_numa && kt_usable_cpus() >= 2) {
		snprintf(path, sizeof(path), "0:0;1:1-%d", kt_usable_cpus() - 1);
		setenv("KTASK_TOPOLOGY", path, 1);
	}
	printf("topology: %s\n", real_numa ? "this machine's NUMA nodes" :
		getenv("KTASK_TOPOLOGY") ? getenv("KTASK_TOPOLOGY") : "one node");

	ret = cmocka_run_group_tests_name("topology", tests, NULL, NULL);
	snprintf(path, sizeof(path), "rm -rf '%s'", fake_root);
	if (system(path))
		fprintf(stderr, "could not remove %s\n", fake_root);
	return ret;
}
