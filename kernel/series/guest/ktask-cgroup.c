// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ktask-cgroup.c - shows in the series' guest that the helpers of a user
 * process's task belong to the process: threads of it, in its cgroups, on
 * its CPUs, at its scheduling class, and gone when it is.
 *
 * Built with "gcc -O2 -static" and run as root in the guest by run.sh; it
 * prints KTAP.  The job is what issue 18 names: a fault on a 1 GiB
 * hugetlbfs page (the fault clears it with a ktask task) plus fallocate(2)
 * of 512 MiB on 2 MiB hugetlbfs, run by a child process in a cgroup v2
 * group with the cpu, cpuset and hugetlb controllers.  Figures:
 *
 *  - share: the group's cpu.stat usage against itself plus the CPU time of
 *    every other thread of the machine over the job; the job's rusage
 *    (wait4()) likewise;
 *  - cpu.max 0.5 CPU: the busy CPUs of the whole machine over the job;
 *  - cpuset.cpus: where the job's threads ran (the processor field of
 *    /proc/PID/task/TID/stat, sampled while they run);
 *  - SCHED_FIFO: the policy and priority of running helper threads;
 *  - exec, exit_group, the last thread's exit, SIGKILL mid-fault and a core
 *    dump of a process with helper threads;
 *  - the speed-ups of issue 10 in a group with no limit (judged with
 *    KTASK_MM_RATIOS=check only, as ktask-mm does).
 *
 * KTASK_KERNEL=n: the checks that need helpers are skipped; the rest hold
 * for a kernel without ktask too.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"

#define MiB (1ul << 20)
#define GiB (1ul << 30)
#define FALLOC_LEN (512 * MiB)
#define NTESTS 16
#define REPS 3

#define CG_ROOT "/sys/fs/cgroup"
#define CG "/sys/fs/cgroup/ktask-job"
#define FILE_1G "/dev/hugepages1G/ktask-cgroup-1g"
#define FILE_2M "/dev/hugepages/ktask-cgroup-falloc"
#define HP_1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"
#define HELPER_COMM "ktask-helper"

static int ktask_kernel;
static int judge_ratios;
static int ncpus;

/* The value of "key N" in a flat keyed file (cpu.stat), or -1. */
static long long read_key(const char *path, const char *key)
{
	char line[128];
	long long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ' ')
			v = strtoll(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/*
 * CPU time of every thread of the machine but this program's (which
 * measures, and reading /proc costs): /proc/PID/task/TID/stat's utime
 * plus stime, which the kernel scales to the thread's precise runtime, the
 * clock cpu.stat uses.  (/proc/stat's CPU lines count ticks, and a TCG
 * guest on a busy host loses many: a serial job of 36 s of cpu.stat showed
 * 13 s there.)  Kept per thread, so that the time of threads that exist at
 * both ends of a job is compared, plus that of threads born meanwhile.
 */
#define MAX_THREADS 4096

struct cpu_snap {
	int n;
	int tid[MAX_THREADS];
	long long ticks[MAX_THREADS];
};

static long long thread_ticks(const char *pid, const char *tid)
{
	char path[600], buf[1024], *p;
	unsigned long long ut, st;
	int fd, n, field;

	snprintf(path, sizeof(path), "/proc/%s/task/%s/stat", pid, tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	/* After the comm: field 3 is the state; utime is 14, stime 15. */
	for (field = 2; p && field < 14; field++) {
		p = strchr(p + 1, ' ');
	}
	if (!p || sscanf(p, "%llu %llu", &ut, &st) != 2)
		return -1;
	return ut + st;
}

static void cpu_snap(struct cpu_snap *s)
{
	DIR *procs = opendir("/proc"), *tasks;
	struct dirent *d, *t;
	char path[300];
	long long v;

	s->n = 0;
	while (procs && (d = readdir(procs))) {
		/* Not this program: it measures, and reading /proc costs. */
		if (d->d_name[0] < '0' || d->d_name[0] > '9' ||
		    atoi(d->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", d->d_name);
		tasks = opendir(path);
		while (tasks && (t = readdir(tasks))) {
			if (t->d_name[0] == '.' || s->n == MAX_THREADS)
				continue;
			v = thread_ticks(d->d_name, t->d_name);
			if (v < 0)
				continue;
			s->tid[s->n] = atoi(t->d_name);
			s->ticks[s->n++] = v;
		}
		if (tasks)
			closedir(tasks);
	}
	if (procs)
		closedir(procs);
}

/* Seconds the threads alive at @b ran since @a (new ones: all of it). */
static double cpu_delta(const struct cpu_snap *a, const struct cpu_snap *b)
{
	long long sum = 0;
	int i, j;

	for (i = 0; i < b->n; i++) {
		long long before = 0;

		for (j = 0; j < a->n; j++) {
			if (a->tid[j] == b->tid[i]) {
				before = a->ticks[j];
				break;
			}
		}
		if (b->ticks[i] > before)
			sum += b->ticks[i] - before;
	}
	return (double)sum / sysconf(_SC_CLK_TCK);
}

static double cg_usage(void)
{
	return read_key(CG "/cpu.stat", "usage_usec") / 1e6;
}

/* cgroup v2 with the cpu, cpuset and hugetlb controllers, and our group. */
static int cg_setup(void)
{
	struct stat st;

	mkdir(CG_ROOT, 0755);
	if (stat(CG_ROOT "/cgroup.controllers", &st) &&
	    mount("none", CG_ROOT, "cgroup2", 0, NULL)) {
		diag("mount cgroup2: %s", strerror(errno));
		return -1;
	}
	if (write_str(CG_ROOT "/cgroup.subtree_control", "+cpu +cpuset +hugetlb")) {
		diag("enabling cpu, cpuset, hugetlb: %s", strerror(errno));
		return -1;
	}
	if (mkdir(CG, 0755) && errno != EEXIST) {
		diag("mkdir " CG ": %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* What a job child reports back, in shared memory. */
struct job_report {
	int ok;			/* every step worked, contents checked */
	int helpers;		/* ktask-helper threads it saw after the fault */
	long hugetlb_charged;	/* the group's hugetlb.2MB.current after fallocate */
	double fault_s, falloc_s;
	char why[96];
};

static int count_helpers(pid_t pid)
{
	char path[300], comm[32];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", pid,
			 d->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, HELPER_COMM, strlen(HELPER_COMM)))
			n++;
		if (f)
			fclose(f);
	}
	closedir(dir);
	return n;
}

/* Faults the 1 GiB page of FILE_1G and checks it reads zero. */
static int fault_1g(struct job_report *r)
{
	double t0;
	char *p;
	int fd = open(FILE_1G, O_RDWR | O_CREAT | O_TRUNC, 0600), ok = 1;
	size_t i;

	if (fd < 0 || ftruncate(fd, GiB)) {
		snprintf(r->why, sizeof(r->why), "1 GiB file: %s", strerror(errno));
		return -1;
	}
	p = mmap(NULL, GiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(r->why, sizeof(r->why), "mmap 1 GiB: %s", strerror(errno));
		unlink(FILE_1G);
		return -1;
	}
	t0 = now();
	p[GiB / 2] = 1;		/* the fault clears the whole page */
	r->fault_s = now() - t0;
	for (i = 0; i < GiB; i += 4096 * 61)
		if (p[i] != (i == GiB / 2))
			ok = 0;
	munmap(p, GiB);
	unlink(FILE_1G);
	if (!ok)
		snprintf(r->why, sizeof(r->why), "1 GiB page not zero");
	return ok ? 0 : -1;
}

static int falloc_512m(struct job_report *r)
{
	double t0;
	int fd = open(FILE_2M, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0) {
		snprintf(r->why, sizeof(r->why), "open: %s", strerror(errno));
		return -1;
	}
	t0 = now();
	if (fallocate(fd, 0, 0, FALLOC_LEN)) {
		snprintf(r->why, sizeof(r->why), "fallocate: %s", strerror(errno));
		close(fd);
		unlink(FILE_2M);
		return -1;
	}
	r->falloc_s = now() - t0;
	r->hugetlb_charged = read_long(CG "/hugetlb.2MB.current");
	close(fd);
	unlink(FILE_2M);
	return 0;
}

enum job_end {
	END_RETURN,		/* exit(0) from main */
	END_EXEC,		/* execve() busybox true */
	END_PAUSE,		/* wait to be killed */
	END_THREAD_EXIT,	/* the only user thread calls exit(2) */
	END_ABORT,		/* abort(), dumping core */
};

/*
 * The job, in a child: join the group, optionally become SCHED_FIFO 10,
 * fault the 1 GiB page, fallocate 512 MiB (unless @fault_only), count the
 * helper threads, then end as @end says.  @ready, if not -1, gets a byte
 * once the helpers exist.
 */
static pid_t job_start(struct job_report *r, int fault_only, int fifo,
		       enum job_end end, int ready)
{
	pid_t pid = fork();
	struct sched_param sp = { .sched_priority = 10 };

	if (pid)
		return pid;
	memset(r, 0, sizeof(*r));
	if (write_str(CG "/cgroup.procs", "0")) {
		snprintf(r->why, sizeof(r->why), "joining the group: %s",
			 strerror(errno));
		_exit(1);
	}
	if (fifo && sched_setscheduler(0, SCHED_FIFO, &sp)) {
		snprintf(r->why, sizeof(r->why), "SCHED_FIFO: %s", strerror(errno));
		_exit(1);
	}
	if (fault_1g(r) || (!fault_only && falloc_512m(r)))
		_exit(1);
	r->helpers = count_helpers(getpid());
	r->ok = 1;
	if (ready >= 0 && write(ready, "r", 1) != 1)
		_exit(1);
	switch (end) {
	case END_EXEC:
		execl("/bin/busybox", "true", (char *)NULL);
		_exit(2);
	case END_PAUSE:
		for (;;)
			pause();
	case END_THREAD_EXIT:
		syscall(SYS_exit, 0);
		_exit(3);
	case END_ABORT:
		abort();
	default:
		exit(0);
	}
}

/* Where and how the job's threads ran, sampled from outside. */
struct sampler {
	pthread_t thread;
	pid_t pid;
	volatile int stop;
	unsigned long cpus;		/* CPUs any running job thread was on */
	unsigned long helper_cpus;	/* ... a running helper thread */
	int helper_samples;
	int helper_other_class;		/* running helpers not SCHED_FIFO 10 */
};

/* Reads state, processor, rt_priority and policy of one thread. */
static int thread_stat(pid_t pid, const char *tid, char *comm, char *state,
		       int *cpu, int *prio, int *policy)
{
	char path[300], buf[1024], *p, *e;
	int fd, n, field;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strchr(buf, '(');
	e = strrchr(buf, ')');
	if (!p || !e || e - p > 31)
		return -1;
	memcpy(comm, p + 1, e - p - 1);
	comm[e - p - 1] = 0;
	*state = e[2];
	/* Field 3 is the state; processor 39, rt_priority 40, policy 41. */
	p = e + 2;
	for (field = 3; field < 39 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%d %d %d", cpu, prio, policy) != 3)
		return -1;
	return 0;
}

static void *sampler_fn(void *arg)
{
	struct sampler *s = arg;
	char path[300], cgpath[64], comm[32], state;
	int cpu, prio, policy, joined = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", s->pid);
	/* The job moves itself into the group first: sample it there only. */
	snprintf(cgpath, sizeof(cgpath), "/proc/%d/cgroup", s->pid);
	while (!s->stop && !joined) {
		FILE *f = fopen(cgpath, "r");
		char line[256] = "";

		if (!f)
			return NULL;
		joined = fgets(line, sizeof(line), f) &&
			 strstr(line, CG + strlen("/sys/fs/cgroup"));
		fclose(f);
		if (!joined)
			usleep(500);
	}
	while (!s->stop) {
		dir = opendir(path);
		if (!dir)
			break;
		while ((d = readdir(dir))) {
			if (d->d_name[0] == '.' ||
			    thread_stat(s->pid, d->d_name, comm, &state, &cpu,
					&prio, &policy) || state != 'R')
				continue;
			s->cpus |= 1ul << cpu;
			if (strcmp(comm, HELPER_COMM))
				continue;
			s->helper_cpus |= 1ul << cpu;
			s->helper_samples++;
			if (policy != SCHED_FIFO || prio != 10)
				s->helper_other_class++;
		}
		closedir(dir);
		usleep(2000);
	}
	return NULL;
}

struct job_figures {
	double wall, busy, cg, rusage, others;
	int status;
};

static struct cpu_snap snap_a, snap_b;

/*
 * Runs a whole job (fault plus fallocate, exit) and measures it: wall
 * time, busy time of the machine, the group's usage and the job's rusage.
 * With @s, samples where its threads run meanwhile, at SCHED_FIFO 20 so
 * that a SCHED_FIFO job does not starve the sampler.
 */
static int job_measure(struct job_report *r, int fifo, struct sampler *s,
		       struct job_figures *f)
{
	struct sched_param sp = { .sched_priority = 20 };
	double cg0, t0;
	struct rusage ru;
	pid_t pid;

	if (s)
		sched_setscheduler(0, SCHED_FIFO, &sp);
	cpu_snap(&snap_a);
	cg0 = cg_usage();
	t0 = now();
	pid = job_start(r, 0, fifo, END_RETURN, -1);
	if (pid < 0)
		return -1;
	if (s) {
		s->pid = pid;
		s->stop = 0;
		pthread_create(&s->thread, NULL, sampler_fn, s);
	}
	if (wait4(pid, &f->status, 0, &ru) != pid)
		return -1;
	f->wall = now() - t0;
	f->cg = cg_usage() - cg0;
	cpu_snap(&snap_b);
	f->rusage = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	/* Every other thread's time (kworkers too), then the whole machine's. */
	f->others = cpu_delta(&snap_a, &snap_b);
	f->busy = f->others + f->rusage;
	if (s) {
		s->stop = 1;
		pthread_join(s->thread, NULL);
		sp.sched_priority = 0;
		sched_setscheduler(0, SCHED_OTHER, &sp);
	}
	diag("job: wall %.3f s, busy CPUs %.3f s (the job's rusage %.3f s, all "
	     "other threads %.3f s), group usage %.3f s; fault %.3f s, "
	     "fallocate %.3f s, %d helper threads; %s", f->wall, f->busy,
	     f->rusage, f->others, f->cg, r->fault_s, r->falloc_s, r->helpers,
	     r->ok ? "ok" : r->why);
	return WIFEXITED(f->status) && !WEXITSTATUS(f->status) && r->ok ? 0 : -1;
}

/* The share of the busy time that the group and the job's rusage hold. */
static void test_share(struct job_report *r)
{
	struct job_figures f;
	int ok = !job_measure(r, 0, NULL, &f) && f.busy > 0 && f.cg > 0;

	/* The group's time against itself plus every other thread's. */
	result(ok && f.cg >= 0.9 * (f.cg + f.others),
	       "group_holds_busy_time: cpu.stat %.3f s of %.3f s busy (%.0f %%)",
	       f.cg, f.cg + f.others,
	       f.cg + f.others > 0 ? 100 * f.cg / (f.cg + f.others) : 0);
	result(ok && f.rusage >= 0.9 * f.busy,
	       "rusage_holds_busy_time: wait4() %.3f s of %.3f s busy (%.0f %%)",
	       f.rusage, f.busy, f.busy > 0 ? 100 * f.rusage / f.busy : 0);
	if (!ktask_kernel)
		skip("helpers_are_threads_of_the_job", "KTASK=n kernel");
	else
		result(ok && r->helpers > 0,
		       "helpers_are_threads_of_the_job: %d %s threads",
		       r->helpers, HELPER_COMM);
	/* Without ktask (0011's serial path too) the group is charged anyway. */
	result(ok && r->hugetlb_charged == (long)FALLOC_LEN,
	       "hugetlb_charged_to_the_group: hugetlb.2MB.current %ld of %lu",
	       r->hugetlb_charged, FALLOC_LEN);
}

static void test_cpu_max(struct job_report *r)
{
	struct job_figures f;
	int ok;

	if (write_str(CG "/cpu.max", "50000 100000")) {
		result(0, "cpu_max_half_cpu: cannot set cpu.max: %s",
		       strerror(errno));
		return;
	}
	ok = !job_measure(r, 0, NULL, &f) && f.wall > 0;
	write_str(CG "/cpu.max", "max 100000");
	result(ok && f.busy / f.wall <= 0.6,
	       "cpu_max_half_cpu: the machine spent %.2f CPUs (%.3f s busy in %.3f s)",
	       f.wall > 0 ? f.busy / f.wall : 0, f.busy, f.wall);
}

static void test_cpuset(struct job_report *r)
{
	struct sampler s = { 0 };
	struct job_figures f;
	const char *cpus = ncpus >= 4 ? "2-3" : "1";
	unsigned long want = ncpus >= 4 ? 0xc : 0x2;
	int ok;

	if (write_str(CG "/cpuset.cpus", cpus)) {
		result(0, "cpuset_confines_helpers: cannot set cpuset.cpus: %s",
		       strerror(errno));
		return;
	}
	ok = !job_measure(r, 0, &s, &f);
	write_str(CG "/cpuset.cpus", "");
	diag("cpuset.cpus %s: job threads ran on CPU mask %#lx, helpers on %#lx (%d samples)",
	     cpus, s.cpus, s.helper_cpus, s.helper_samples);
	if (!ktask_kernel) {
		result(ok && !(s.cpus & ~want),
		       "cpuset_confines_helpers: the job ran on %#lx within %#lx",
		       s.cpus, want);
		return;
	}
	result(ok && !(s.cpus & ~want) && s.helper_samples > 0,
	       "cpuset_confines_helpers: job on %#lx, helpers on %#lx, within %#lx",
	       s.cpus, s.helper_cpus, want);
}

static void test_fifo(struct job_report *r)
{
	struct sampler s = { 0 };
	struct job_figures f;
	int ok = !job_measure(r, 1, &s, &f);

	if (!ktask_kernel) {
		skip("helpers_at_callers_fifo_priority", "KTASK=n kernel");
		return;
	}
	/*
	 * A helper is runnable for a moment as a normal thread, between its
	 * wake-up and taking the caller's class, and after giving it back:
	 * nine samples in ten must show SCHED_FIFO 10 (none does without it).
	 */
	result(ok && s.helper_samples > 0 &&
	       s.helper_other_class * 10 <= s.helper_samples,
	       "helpers_at_callers_fifo_priority: %d of %d running helper samples "
	       "not SCHED_FIFO 10", s.helper_other_class, s.helper_samples);
}

/* A job that ends as @end; returns its wait status and how long it took. */
static int job_end(struct job_report *r, enum job_end end, int sig,
		   double *after_ready)
{
	int fds[2], status = -1;
	double t0 = 0;
	char c;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = job_start(r, 1, 0, end, fds[1]);
	close(fds[1]);
	if (read(fds[0], &c, 1) == 1) {
		t0 = now();
		if (sig)
			kill(pid, sig);
	}
	close(fds[0]);
	waitpid(pid, &status, 0);
	*after_ready = t0 ? now() - t0 : -1;
	return status;
}

static void test_ends(struct job_report *r)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	const char *core = "/tmp/ktask-core";
	double t;
	int st;

	st = job_end(r, END_EXEC, 0, &t);
	result(WIFEXITED(st) && !WEXITSTATUS(st) && r->ok && t >= 0 && t < 5,
	       "exec_with_helper_threads: status %#x after %.3f s, %d helpers",
	       st, t, r->helpers);
	st = job_end(r, END_PAUSE, SIGKILL, &t);
	result(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && r->ok && t < 5,
	       "sigkill_with_helper_threads: status %#x after %.3f s", st, t);
	/* The idle helpers' timeout is 10 s: the process must not wait for it. */
	st = job_end(r, END_THREAD_EXIT, 0, &t);
	result(WIFEXITED(st) && !WEXITSTATUS(st) && r->ok && t < 5,
	       "last_thread_exit_ends_helpers: status %#x after %.3f s", st, t);

	/* The default pattern, "core", writes to the job's directory. */
	setrlimit(RLIMIT_CORE, &unlimited);
	if (write_str("/proc/sys/kernel/core_pattern", core))
		core = "core";
	unlink(core);
	st = job_end(r, END_ABORT, 0, &t);
	result(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && WCOREDUMP(st) &&
	       access(core, F_OK) == 0 && t < 30,
	       "core_dump_with_helper_threads: status %#x after %.3f s, %s %s",
	       st, t, core, access(core, F_OK) ? "missing" : "written");
	unlink(core);
}

/* SIGKILL while the 1 GiB fault runs: the process dies, the page comes back. */
static void test_kill_mid_fault(struct job_report *r)
{
	long free0 = read_long(HP_1G), free1 = -2;
	int status = -1, i;
	pid_t pid = job_start(r, 1, 0, END_RETURN, -1);

	usleep(30000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* The file goes with the killed child's last reference only if unlinked. */
	unlink(FILE_1G);
	for (i = 0; i < 50 && (free1 = read_long(HP_1G)) != free0; i++)
		usleep(100000);
	result(WIFSIGNALED(status) && free1 == free0,
	       "sigkill_mid_fault: status %#x, free 1 GiB pages %ld then %ld",
	       status, free0, free1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Issue 10's speed-ups, with the job in the group and no limit on it. */
static void test_speed(struct job_report *r)
{
	double fs[REPS], fd[REPS], as[REPS], ad[REPS], xf, xa;
	struct job_figures f;
	int i, ok = 1;

	if (!ktask_kernel) {
		skip("speedups_in_a_group", "KTASK=n kernel: no ratio");
		return;
	}
	for (i = 0; i < REPS; i++) {
		ok &= !set_max_threads(ktask_kernel, 1) && !job_measure(r, 0, NULL, &f);
		fs[i] = r->fault_s;
		as[i] = r->falloc_s;
		ok &= !set_max_threads(ktask_kernel, 0) && !job_measure(r, 0, NULL, &f);
		fd[i] = r->fault_s;
		ad[i] = r->falloc_s;
	}
	set_max_threads(ktask_kernel, 0);
	qsort(fs, REPS, sizeof(double), cmp_double);
	qsort(fd, REPS, sizeof(double), cmp_double);
	qsort(as, REPS, sizeof(double), cmp_double);
	qsort(ad, REPS, sizeof(double), cmp_double);
	xf = fd[REPS / 2] > 0 ? fs[REPS / 2] / fd[REPS / 2] : 0;
	xa = ad[REPS / 2] > 0 ? as[REPS / 2] / ad[REPS / 2] : 0;
	diag("in the group, medians of %d: fault %.3f s serial, %.3f s default (%.2fx); "
	     "fallocate %.3f s, %.3f s (%.2fx)", REPS, fs[REPS / 2],
	     fd[REPS / 2], xf, as[REPS / 2], ad[REPS / 2], xa);
	if (!judge_ratios) {
		char why[96];

		snprintf(why, sizeof(why), "fault %.2fx, fallocate %.2fx not judged "
			 "(KTASK_MM_RATIOS=info)", xf, xa);
		skip("speedups_in_a_group", why);
		return;
	}
	result(ok && xf >= 1.6 && xa >= 1.5,
	       "speedups_in_a_group: fault %.2fx >= 1.6x, fallocate %.2fx >= 1.5x",
	       xf, xa);
}

int main(void)
{
	struct job_report *r;
	const char *k = getenv("KTASK_KERNEL"), *ratios = getenv("KTASK_MM_RATIOS");
	double load[3] = { 0 };

	ktask_kernel = !k || strcmp(k, "n");
	judge_ratios = ratios && !strcmp(ratios, "check");
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n1..%d\n", NTESTS);
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED || cg_setup()) {
		while (test_no < NTESTS)
			result(0, "cgroup_setup");
		return 0;
	}
	result(1, "cgroup_setup: cgroup2 with cpu, cpuset, hugetlb at " CG);
	getloadavg(load, 3);
	diag("%d CPUs, guest load %.2f", ncpus, load[0]);

	test_share(r);		/* 4 results */
	test_cpu_max(r);
	test_cpuset(r);
	test_fifo(r);
	test_ends(r);		/* 4 */
	test_kill_mid_fault(r);
	test_speed(r);
	/* 2 more: the group is removed and the pools are whole again. */
	result(!rmdir(CG), "cgroup_removed");
	result(read_long(HP_1G) >= 1, "pages_back: %ld free 1 GiB pages",
	       read_long(HP_1G));
	return 0;
}
