// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fakecpus.c - an LD_PRELOAD shim that makes a process believe it may run
 * on BENCH_FAKE_CPUS=N CPUs (0..N-1), for workload 8's "-t16" peers.
 *
 * Why: a program in a container on a 16-CPU host, limited to half a CPU by
 * a cgroup quota, still sees 16 CPUs in its affinity mask.  The runtimes
 * size themselves by that mask, and also decide from it whether to spin:
 * libgomp throttles its spin-wait (GOMP_SPINCOUNT 300000 down to about 100
 * spins) only when it manages more threads than the CPUs of the mask it
 * read at start-up, and LLVM's libomp zeroes its blocktime and yields only
 * when its threads outnumber its available procs.  Starting 16 threads on
 * this 2-CPU machine is therefore not what happens on the big host: here
 * the runtimes see they are oversubscribed and go quiet.  Under this shim
 * they do not.
 *
 * What: with BENCH_FAKE_CPUS unset (or 0) every call passes straight
 * through.  With N set, the calls the runtimes count CPUs with report CPUs
 * 0..N-1: sched_getaffinity() (oneTBB), pthread_getaffinity_np() (libgomp),
 * sysconf(_SC_NPROCESSORS_ONLN/CONF) and __sysconf() (all three),
 * get_nprocs() and get_nprocs_conf(), and syscall(SYS_sched_getaffinity),
 * through which libomp reads its mask.  Binding calls (sched_setaffinity,
 * pthread_setaffinity_np, pthread_attr_setaffinity_np and
 * syscall(SYS_sched_setaffinity)) fold each CPU i onto the i % R-th of the
 * R CPUs really allowed, so that a runtime binding a thread to CPU 12 runs
 * it on a real CPU instead of failing.
 *
 * LLVM's libomp works out its topology by binding a thread to each CPU in
 * turn and reading its APIC id, then from /proc/cpuinfo; neither can show
 * 16 CPUs here, and libomp stops on an assertion when the count it finds
 * differs from its mask's.  So when faking, the shim sets
 * KMP_TOPOLOGY_METHOD=flat (one core per CPU) unless it is set already;
 * that changes what libomp would bind to, not how it waits.
 *
 * Limits: a direct system call instruction, /proc/cpuinfo and
 * /sys/devices/system/cpu are not covered (hwloc and libomp's cpuinfo
 * topology method read them), and glibc's calls inside itself are not
 * interposable.  Every thread of the process and every pid asked about
 * gets the fake mask.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static pthread_once_t once = PTHREAD_ONCE_INIT;
static long fake;			/* N, 0: pass through */
static int nreal, real[CPU_SETSIZE];	/* the CPUs really allowed */

static long (*real_syscall)(long, ...);
static long (*real_sysconf)(int);
static int (*real_get_nprocs)(void);
static int (*real_get_nprocs_conf)(void);
static int (*real_sched_getaffinity)(pid_t, size_t, cpu_set_t *);
static int (*real_sched_setaffinity)(pid_t, size_t, const cpu_set_t *);
static int (*real_pthread_getaffinity_np)(pthread_t, size_t, cpu_set_t *);
static int (*real_pthread_setaffinity_np)(pthread_t, size_t,
					  const cpu_set_t *);
static int (*real_pthread_attr_setaffinity_np)(pthread_attr_t *, size_t,
					       const cpu_set_t *);

static void init(void)
{
	const char *v = getenv("BENCH_FAKE_CPUS");
	cpu_set_t set;
	int i;

	real_syscall = dlsym(RTLD_NEXT, "syscall");
	real_sysconf = dlsym(RTLD_NEXT, "sysconf");
	real_get_nprocs = dlsym(RTLD_NEXT, "get_nprocs");
	real_get_nprocs_conf = dlsym(RTLD_NEXT, "get_nprocs_conf");
	real_sched_getaffinity = dlsym(RTLD_NEXT, "sched_getaffinity");
	real_sched_setaffinity = dlsym(RTLD_NEXT, "sched_setaffinity");
	real_pthread_getaffinity_np = dlsym(RTLD_NEXT, "pthread_getaffinity_np");
	real_pthread_setaffinity_np = dlsym(RTLD_NEXT, "pthread_setaffinity_np");
	real_pthread_attr_setaffinity_np =
		dlsym(RTLD_NEXT, "pthread_attr_setaffinity_np");

	if (real_sched_getaffinity &&
	    !real_sched_getaffinity(0, sizeof(set), &set))
		for (i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				real[nreal++] = i;
	if (!nreal)
		real[nreal++] = 0;
	if (v)
		fake = strtol(v, NULL, 10);
	if (fake < 0 || fake > CPU_SETSIZE)
		fake = 0;
}

static long faking(void)
{
	pthread_once(&once, init);
	return fake;
}

/* Before main(), so that libomp's first read of its settings sees it. */
__attribute__((constructor)) static void start(void)
{
	if (faking())
		setenv("KMP_TOPOLOGY_METHOD", "flat", 0);
}

/*
 * Fills @set of @size bytes with CPUs 0..N-1.  Returns the bytes the kernel
 * would have written (a whole number of longs), or -EINVAL where it would
 * refuse a mask too small for its CPUs.
 */
static long fill(size_t size, void *set)
{
	size_t need = (fake + 8 * sizeof(long) - 1) / (8 * sizeof(long)) *
		      sizeof(long);
	long i;

	if (size < need || size % sizeof(long))
		return -EINVAL;
	memset(set, 0, size);
	for (i = 0; i < fake; i++)
		((unsigned char *)set)[i / 8] |= 1u << (i % 8);
	return need;
}

/* Folds the @size bytes of @in onto the real CPUs, into @out. */
static void fold(size_t size, const void *in, cpu_set_t *out)
{
	const unsigned char *b = in;
	size_t i;

	CPU_ZERO(out);
	for (i = 0; i < size * 8; i++)
		if (b[i / 8] & (1u << (i % 8)))
			CPU_SET(real[i % nreal], out);
}

EXPORT long syscall(long nr, ...)
{
	long a[6], ret;
	cpu_set_t set;
	va_list ap;
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (faking() && nr == SYS_sched_getaffinity) {
		ret = fill(a[1], (void *)a[2]);
		if (ret < 0) {
			errno = -ret;
			return -1;
		}
		return ret;
	}
	if (fake && nr == SYS_sched_setaffinity) {
		fold(a[1], (const void *)a[2], &set);
		return real_syscall(nr, a[0], (long)sizeof(set), (long)&set);
	}
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

EXPORT long sysconf(int name)
{
	if (faking() && (name == _SC_NPROCESSORS_ONLN ||
			 name == _SC_NPROCESSORS_CONF))
		return fake;
	return real_sysconf(name);
}

/* What glibc's headers turn some sysconf() calls into. */
EXPORT long __sysconf(int name)
{
	return sysconf(name);
}

EXPORT int get_nprocs(void)
{
	return faking() ? (int)fake : real_get_nprocs();
}

EXPORT int get_nprocs_conf(void)
{
	return faking() ? (int)fake : real_get_nprocs_conf();
}

EXPORT int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set)
{
	long ret;

	if (!faking())
		return real_sched_getaffinity(pid, size, set);
	/* glibc's wrapper clears what the kernel did not write: fill() did. */
	ret = fill(size, set);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

EXPORT int pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set)
{
	long ret;

	if (!faking())
		return real_pthread_getaffinity_np(t, size, set);
	ret = fill(size, set);
	return ret < 0 ? (int)-ret : 0;
}

EXPORT int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
	cpu_set_t f;

	if (!faking())
		return real_sched_setaffinity(pid, size, set);
	fold(size, set, &f);
	return real_sched_setaffinity(pid, sizeof(f), &f);
}

EXPORT int pthread_setaffinity_np(pthread_t t, size_t size,
				  const cpu_set_t *set)
{
	cpu_set_t f;

	if (!faking())
		return real_pthread_setaffinity_np(t, size, set);
	fold(size, set, &f);
	return real_pthread_setaffinity_np(t, sizeof(f), &f);
}

EXPORT int pthread_attr_setaffinity_np(pthread_attr_t *attr, size_t size,
				       const cpu_set_t *set)
{
	cpu_set_t f;

	if (!faking())
		return real_pthread_attr_setaffinity_np(attr, size, set);
	fold(size, set, &f);
	return real_pthread_attr_setaffinity_np(attr, sizeof(f), &f);
}
