// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hugetlb-share.c - checks in the guest that hugetlbfs fallocate(2) (patch
 * 0011) never takes away what another task could see, keeps every
 * reservation and count exact after a failure, converges under signals and
 * allocates on the caller's node: the cases of issue 18, part 1.
 *
 * Built with "gcc -O2 -static -pthread" and run as root by run.sh, on the
 * CONFIG_KTASK=y and =n kernels (KTASK_KERNEL=y|n); prints KTAP.  Every
 * check holds for the serial code of 6.12 as well, except that a failed
 * call leaves nothing behind (6.12 kept the pages it had added before an
 * ENOSPC), which the count checks assert.
 *
 * 1. Data: a task writes to a page of the file through a MAP_NORESERVE
 *    shared mapping while another's fallocate() runs into ENOSPC; the
 *    write must survive.  With the default thread count and with
 *    max_threads=1.
 * 2. Reservations: a shared mapping's reservations survive a failed
 *    fallocate() of its file: Free, Rsvd and Surp are as before, a mapping
 *    that needs more than is left fails, and the first mapping's pages
 *    can all be touched (no SIGBUS).
 * 3. A subpool with size= and min_size=: statfs and the pool counts are
 *    as before after an ENOSPC, and right after a success.
 * 4. Surplus pages (overcommit): Surp, Total and Free as before.
 * 5. Faults racing a successful fallocate() on a reserved shared mapping:
 *    the counts are exact, every page reads what was written or zero.
 * 6. EINTR: a retry loop under a 20 ms SIGALRM interval timer completes a
 *    512 MiB fallocate() within a bounded number of tries.
 * 7. Node: on a 2-node guest, a caller bound to node 0's CPUs gets its
 *    pages from node 0 under the default and the local policy and under
 *    MPOL_BIND to both nodes; from node 1 under MPOL_BIND and
 *    MPOL_PREFERRED to node 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"

#define MiB (1ul << 20)
#define HP (2 * MiB)
#define NTESTS 16

#define RUN_2M "/dev/hugepages"
#define OWN_2M "/tmp/hugetlb-share-2m"
#define SUB_MNT "/tmp/hugetlb-share-sub"
#define HUGETLBFS_MAGIC 0x958458f6
#define PARAM "/sys/module/ktask/parameters/max_threads"
#define HP_DIR "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define NODE_DIR "/sys/devices/system/node/node%d/"
#define OVERCOMMIT "/proc/sys/vm/nr_overcommit_hugepages"

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_LOCAL 4

static char mnt[64];
static int ktask_kernel;

static int write_long(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", v);
	return write_str(path, buf);
}

static void set_threads(int n)
{
	if (ktask_kernel)
		write_long(PARAM, n);
}

/* The 2 MiB pool as /proc/meminfo tells it (the default huge page size). */
struct pool {
	long total, free, rsvd, surp;
};

static struct pool pool_now(void)
{
	struct pool p = { -1, -1, -1, -1 };
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return p;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Total: %ld", &p.total);
		sscanf(line, "HugePages_Free: %ld", &p.free);
		sscanf(line, "HugePages_Rsvd: %ld", &p.rsvd);
		sscanf(line, "HugePages_Surp: %ld", &p.surp);
	}
	fclose(f);
	return p;
}

static int pool_eq(struct pool a, struct pool b)
{
	return a.total == b.total && a.free == b.free && a.rsvd == b.rsvd &&
	       a.surp == b.surp;
}

static void pool_diag(const char *what, struct pool p)
{
	diag("%s: HugePages_Total %ld, Free %ld, Rsvd %ld, Surp %ld", what,
	     p.total, p.free, p.rsvd, p.surp);
}

/* Free pages nobody has reserved. */
static long avail(void)
{
	struct pool p = pool_now();

	return p.free - p.rsvd;
}

static long file_pages(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	return st.st_blocks * 512 / HP;
}

static int open_new(const char *dir, const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink(path);		/* gone with the last close or unmap */
	return fd;
}

/*
 * A filler file that takes all available pages but @leave; fallocate()
 * of a new file, which fills it or fails with nothing left.  -1 on error.
 */
static int fill_pool(long leave)
{
	long n = avail() - leave;
	int fd = open_new(mnt, "filler");

	if (fd < 0 || n < 0)
		return -1;
	if (n && fallocate(fd, 0, 0, n * HP)) {
		diag("filler of %ld pages: %s", n, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------------ */
/* 1. Data: a write during a failing fallocate() survives. */

struct writer {
	int fd;
	long start_free;
	volatile int falloc_done;
	volatile int wrote_during;
	char *map;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	double t0 = now();

	/*
	 * Wait until the call is under way: pages leave the pool (staged or
	 * added) or the file shows some.  Then write at offset 0.
	 */
	while (!w->falloc_done && now() - t0 < 20) {
		if (pool_now().free <= w->start_free - 2 ||
		    file_pages(w->fd) > 0)
			break;
		usleep(100);
	}
	w->wrote_during = !w->falloc_done;
	w->map[0] = 'X';
	w->wrote_during &= !w->falloc_done;
	return NULL;
}

static void data_kept(int threads)
{
	const char *desc = "a page written through a shared mapping during a failing fallocate() keeps its data";
	int attempt, ok = 0, tried = 0;

	if (threads == 1 && !ktask_kernel) {
		skip(desc, "KTASK=n kernel: serial already (the test before)");
		return;
	}
	set_threads(threads);
	for (attempt = 0; attempt < 3 && !tried; attempt++) {
		struct pool before = pool_now();
		long n = avail();
		struct writer w = { 0 };
		pthread_t t;
		int ret, err;

		w.fd = open_new(mnt, "data");
		w.start_free = before.free;
		if (w.fd < 0 || ftruncate(w.fd, (n + 1) * HP)) {
			diag("setup: %s", strerror(errno));
			break;
		}
		w.map = mmap(NULL, HP, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_NORESERVE, w.fd, 0);
		if (w.map == MAP_FAILED) {
			diag("mmap: %s", strerror(errno));
			close(w.fd);
			break;
		}
		pthread_create(&t, NULL, writer_thread, &w);
		ret = fallocate(w.fd, 0, 0, (n + 1) * HP);
		err = errno;
		w.falloc_done = 1;
		pthread_join(t, NULL);
		diag("max_threads=%d, %ld pages with %ld available: %s; the write came %s the call; reads '%c'; file holds %ld pages",
		     threads, n + 1, n, ret ? strerror(err) : "success",
		     w.wrote_during ? "during" : "after", w.map[0] ? w.map[0] : '0',
		     file_pages(w.fd));
		tried = w.wrote_during;
		ok = ret == -1 && err == ENOSPC && w.map[0] == 'X' &&
		     file_pages(w.fd) == 1;
		munmap(w.map, HP);
		close(w.fd);
		if (!pool_eq(pool_now(), before)) {
			pool_diag("before", before);
			pool_diag("after", pool_now());
			ok = 0;
		}
		if (!ok)
			break;
	}
	set_threads(0);
	if (!tried)
		diag("the write never came while the call ran");
	result(ok && tried, "%s (max_threads=%d)", desc, threads);
}

/* ------------------------------------------------------------------ */
/* 2. Reservations of a shared mapping survive a failed fallocate(). */

/* Touches every page of [p, p + n pages) in a child: 0 if no signal. */
static int touch_in_child(char *p, long n, char c)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		long i;

		for (i = 0; i < n; i++)
			p[i * HP] = c;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status)) {
		diag("the child touching %ld pages died of signal %d (%s)", n,
		     WTERMSIG(status), strsignal(WTERMSIG(status)));
		return -1;
	}
	return WEXITSTATUS(status) ? -1 : 0;
}

static void reservations_kept(void)
{
	struct pool start = pool_now(), before, after;
	int filler, fd, ret, err, ok_counts, ok_c, ok_a;
	char *a, *c;

	filler = fill_pool(10);
	fd = open_new(mnt, "resv");
	if (filler < 0 || fd < 0) {
		result(0, "reservations: setup");
		result(0, "reservations: setup");
		result(0, "reservations: setup");
		return;
	}
	a = mmap(NULL, 5 * HP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	before = pool_now();
	pool_diag("a pool of 10 available, A mapped 5 pages shared", before);

	ret = fallocate(fd, 0, 0, 20 * HP);
	err = errno;
	after = pool_now();
	diag("B: fallocate of 20 pages: %s; file holds %ld pages",
	     ret ? strerror(err) : "success", file_pages(fd));
	pool_diag("after", after);
	ok_counts = a != MAP_FAILED && ret == -1 && err == ENOSPC &&
		    pool_eq(before, after) && file_pages(fd) == 0;
	result(ok_counts, "a failed fallocate() over a shared mapping's reservations leaves Free, Rsvd and Surp as before");

	c = mmap(NULL, 10 * HP, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	diag("C: mmap of 10 anonymous huge pages: %s",
	     c == MAP_FAILED ? strerror(errno) : "success");
	ok_c = c == MAP_FAILED;
	if (c != MAP_FAILED)
		memset(c, 'c', 10 * HP);	/* C uses its pages, as in the issue */
	result(ok_c, "then a mapping that needs more pages than are left fails");

	ok_a = a != MAP_FAILED && touch_in_child(a, 5, 'a') == 0;
	result(ok_a, "and A can touch all its reserved pages (no SIGBUS)");

	if (c != MAP_FAILED)
		munmap(c, 10 * HP);
	if (a != MAP_FAILED)
		munmap(a, 5 * HP);
	close(fd);
	close(filler);
	if (!pool_eq(pool_now(), start)) {
		pool_diag("at the start", start);
		pool_diag("at the end", pool_now());
	}
}

/* ------------------------------------------------------------------ */
/* 3. Subpool counts (size=, min_size=). */

struct counts {
	struct pool pool;
	long blocks, bfree;
};

static struct counts counts_now(void)
{
	struct counts c = { pool_now(), -1, -1 };
	struct statfs sf;

	if (!statfs(SUB_MNT, &sf)) {
		c.blocks = sf.f_blocks;
		c.bfree = sf.f_bfree;
	}
	return c;
}

static int counts_eq(struct counts a, struct counts b)
{
	return pool_eq(a.pool, b.pool) && a.blocks == b.blocks &&
	       a.bfree == b.bfree;
}

static void counts_diag(const char *what, struct counts c)
{
	diag("%s: Total %ld, Free %ld, Rsvd %ld, Surp %ld; statfs blocks %ld, free %ld",
	     what, c.pool.total, c.pool.free, c.pool.rsvd, c.pool.surp,
	     c.blocks, c.bfree);
}

static void subpool(void)
{
	const char *desc = "subpool (size=20 pages, min_size=8): a failed fallocate() leaves statfs and the pool as before; a good one counts right";
	struct counts before, after, done;
	struct pool start = pool_now();
	int fd, ret, err, ok = 1;
	char *a;

	mkdir(SUB_MNT, 0755);
	if (mount("none", SUB_MNT, "hugetlbfs", 0,
		  "pagesize=2M,size=40M,min_size=16M")) {
		result(0, "%s: mount: %s", desc, strerror(errno));
		return;
	}
	fd = open_new(SUB_MNT, "sub");
	a = mmap(NULL, 3 * HP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd < 0 || a == MAP_FAILED)
		ok = 0;
	before = counts_now();
	counts_diag("3 pages mapped shared", before);

	/* 3 reserved, 5 from the minimum, 12 more: 21 > 20 fails. */
	ret = fallocate(fd, 0, 0, 25 * HP);
	err = errno;
	after = counts_now();
	diag("fallocate of 25 pages: %s", ret ? strerror(err) : "success");
	counts_diag("after", after);
	if (ret != -1 || err != ENOSPC || !counts_eq(before, after) ||
	    file_pages(fd) != 0)
		ok = 0;

	/* 10 pages: 3 reserved ones, 7 more (5 of the minimum). */
	ret = fallocate(fd, 0, 0, 10 * HP);
	done = counts_now();
	diag("fallocate of 10 pages: %s", ret ? strerror(errno) : "success");
	counts_diag("after", done);
	if (ret || file_pages(fd) != 10 || done.bfree != before.bfree - 7 ||
	    done.pool.free != before.pool.free - 10 ||
	    done.pool.rsvd != before.pool.rsvd - 8)
		ok = 0;
	if (a != MAP_FAILED)
		ok &= touch_in_child(a, 3, 's') == 0;
	if (a != MAP_FAILED)
		munmap(a, 3 * HP);
	close(fd);
	if (umount(SUB_MNT))
		ok = 0;
	if (!pool_eq(pool_now(), start)) {
		pool_diag("before the mount", start);
		pool_diag("after the unmount", pool_now());
		ok = 0;
	}
	result(ok, "%s", desc);
}

/* ------------------------------------------------------------------ */
/* 4. Surplus pages. */

static void surplus(void)
{
	const char *desc = "surplus pages (overcommit 3): a failed fallocate() gives them back, Total, Free, Rsvd and Surp as before";
	long old = read_long(OVERCOMMIT);
	struct pool before, after;
	int filler, fd, ret, err, ok;

	filler = fill_pool(2);
	fd = open_new(mnt, "surplus");
	if (old < 0 || filler < 0 || fd < 0 || write_long(OVERCOMMIT, 3)) {
		result(0, "%s: setup", desc);
		goto out;
	}
	before = pool_now();
	ret = fallocate(fd, 0, 0, 10 * HP);
	err = errno;
	after = pool_now();
	diag("fallocate of 10 pages with 2 available and 3 to overcommit: %s",
	     ret ? strerror(err) : "success");
	pool_diag("before", before);
	pool_diag("after", after);
	ok = ret == -1 && err == ENOSPC && pool_eq(before, after) &&
	     file_pages(fd) == 0;
	result(ok, "%s", desc);
out:
	if (old >= 0)
		write_long(OVERCOMMIT, old);
	if (fd >= 0)
		close(fd);
	if (filler >= 0)
		close(filler);
}

/* ------------------------------------------------------------------ */
/* 5. Faults racing a good fallocate() on a reserved shared mapping. */

#define RACE_PAGES 64

struct racer {
	char *map;
	volatile int stop;
};

static void *race_thread(void *arg)
{
	struct racer *r = arg;
	long i;

	/* Write the odd pages from the end, while fallocate() fills. */
	for (i = RACE_PAGES - 1; i >= 0 && !r->stop; i--)
		if (i % 2)
			r->map[i * HP + 1] = 'f';
	return NULL;
}

static void fault_race(void)
{
	struct pool start = pool_now(), before, after;
	struct racer r = { 0 };
	int fd, ret, ok = 1;
	pthread_t t;
	long i;

	fd = open_new(mnt, "race");
	r.map = mmap(NULL, RACE_PAGES * HP, PROT_READ | PROT_WRITE,
		     MAP_SHARED, fd, 0);
	if (fd < 0 || r.map == MAP_FAILED) {
		result(0, "faults racing fallocate(): setup");
		return;
	}
	before = pool_now();
	pthread_create(&t, NULL, race_thread, &r);
	ret = fallocate(fd, 0, 0, RACE_PAGES * HP);
	pthread_join(t, NULL);
	after = pool_now();
	pool_diag("mapped 64 pages shared", before);
	pool_diag("after fallocate and the faults", after);
	if (ret || file_pages(fd) != RACE_PAGES ||
	    after.free != before.free - RACE_PAGES ||
	    after.rsvd != before.rsvd - RACE_PAGES ||
	    after.surp != before.surp)
		ok = 0;
	for (i = 0; i < RACE_PAGES; i++)
		if (r.map[i * HP] != 0 ||
		    r.map[i * HP + 1] != (i % 2 ? 'f' : 0))
			ok = 0;
	munmap(r.map, RACE_PAGES * HP);
	close(fd);
	if (!pool_eq(pool_now(), start))
		ok = 0;
	result(ok, "faults racing a good fallocate() on a reserved shared mapping: counts exact, pages hold what was written or zero");
}

/* ------------------------------------------------------------------ */
/* 6. EINTR: retries converge. */

static void on_alarm(int sig)
{
	(void)sig;
}

static void eintr_converges(void)
{
	const long pages = 256, max_tries = 2000;
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
	struct sigaction sa;
	long tries = 0, eintr = 0;
	double t0;
	int fd, ret = -1, err = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	fd = open_new(mnt, "eintr");
	t0 = now();
	setitimer(ITIMER_REAL, &it, NULL);
	while (tries < max_tries && now() - t0 < 120) {
		tries++;
		ret = fallocate(fd, 0, 0, pages * HP);
		err = errno;
		if (!ret || err != EINTR)
			break;
		eintr++;
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
	diag("512 MiB under a 20 ms SIGALRM timer: %s after %ld tries (%ld EINTR), %.2f s; file holds %ld pages",
	     ret ? strerror(err) : "done", tries, eintr, now() - t0,
	     file_pages(fd));
	result(!ret && file_pages(fd) == pages,
	       "a retry-on-EINTR loop under a 20 ms interval timer completes a 512 MiB fallocate() (at most %ld tries)",
	       max_tries);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* 7. Node. */

static long node_free(int node)
{
	char path[128];

	snprintf(path, sizeof(path),
		 NODE_DIR "hugepages/hugepages-2048kB/free_hugepages", node);
	return read_long(path);
}

/* Binds the calling thread to the CPUs of @node. */
static int bind_to_node_cpus(int node)
{
	char path[96], list[256], *s;
	cpu_set_t set;
	FILE *f;

	snprintf(path, sizeof(path), NODE_DIR "cpulist", node);
	f = fopen(path, "r");
	if (!f || !fgets(list, sizeof(list), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	CPU_ZERO(&set);
	for (s = strtok(list, ",\n"); s; s = strtok(NULL, ",\n")) {
		int a, b;

		if (sscanf(s, "%d-%d", &a, &b) == 2) {
			for (; a <= b; a++)
				CPU_SET(a, &set);
		} else if (sscanf(s, "%d", &a) == 1) {
			CPU_SET(a, &set);
		}
	}
	return sched_setaffinity(0, sizeof(set), &set);
}

static void node_case(const char *name, int mode, unsigned long mask,
		      int want)
{
	const long pages = 64;
	long b0 = node_free(0), b1 = node_free(1), a0, a1;
	int fd, ret, ok;

	if (syscall(SYS_set_mempolicy, mode, mode == MPOL_DEFAULT ||
		    mode == MPOL_LOCAL ? NULL : &mask, 64)) {
		result(0, "node, %s: set_mempolicy: %s", name, strerror(errno));
		return;
	}
	fd = open_new(mnt, "node");
	ret = fallocate(fd, 0, 0, pages * HP);
	a0 = node_free(0);
	a1 = node_free(1);
	syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 64);
	diag("node, %s: %s; node 0 gave %ld pages, node 1 %ld", name,
	     ret ? strerror(errno) : "success", b0 - a0, b1 - a1);
	ok = !ret && (want == 0 ? b0 - a0 == pages && b1 == a1 :
				   b1 - a1 == pages && b0 == a0);
	result(ok, "caller on node 0's CPUs, %s: its %ld pages come from node %d",
	       name, pages, want);
	close(fd);
}

static void nodes(void)
{
	static const char *const names[] = {
		"default policy", "MPOL_LOCAL", "MPOL_BIND to nodes 0 and 1",
		"MPOL_BIND to node 1", "MPOL_PREFERRED node 1",
	};
	cpu_set_t old;
	int i;

	if (node_free(1) < 0 || node_free(0) < 64 || node_free(1) < 64 ||
	    sched_getaffinity(0, sizeof(old), &old) || bind_to_node_cpus(0)) {
		for (i = 0; i < 5; i++)
			skip(names[i], "needs 2 nodes with 64 free 2 MiB pages each");
		return;
	}
	node_case(names[0], MPOL_DEFAULT, 0, 0);
	node_case(names[1], MPOL_LOCAL, 0, 0);
	node_case(names[2], MPOL_BIND, 3, 0);
	node_case(names[3], MPOL_BIND, 2, 1);
	node_case(names[4], MPOL_PREFERRED, 2, 1);
	sched_setaffinity(0, sizeof(old), &old);
}

/* ------------------------------------------------------------------ */

static int find_mount(void)
{
	struct statfs sf;

	if (!statfs(RUN_2M, &sf) && (unsigned long)sf.f_type == HUGETLBFS_MAGIC &&
	    (unsigned long)sf.f_bsize == HP) {
		snprintf(mnt, sizeof(mnt), "%s", RUN_2M);
		return 1;
	}
	snprintf(mnt, sizeof(mnt), "%s", OWN_2M);
	mkdir(OWN_2M, 0755);
	return !mount("none", OWN_2M, "hugetlbfs", 0, "pagesize=2M");
}

int main(void)
{
	const char *k = getenv("KTASK_KERNEL");
	struct pool start;
	int mounted, has_param;

	ktask_kernel = !k || strcmp(k, "n") != 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n1..%d\n", NTESTS);
	diag("hugetlb-share: KTASK_KERNEL=%s", ktask_kernel ? "y" : "n");
	mounted = find_mount();
	has_param = access(PARAM, W_OK) == 0;
	start = pool_now();
	pool_diag("at the start", start);
	result(mounted && avail() >= 260 && start.surp == 0 &&
	       has_param == ktask_kernel,
	       "hugetlbfs mounted, 260 free 2 MiB pages, max_threads %s",
	       ktask_kernel ? "present" : "absent");

	data_kept(0);
	data_kept(1);
	reservations_kept();
	subpool();
	surplus();
	fault_race();
	eintr_converges();
	nodes();

	pool_diag("at the end", pool_now());
	result(pool_eq(pool_now(), start),
	       "the pool counts at the end are those at the start");
	return 0;
}
