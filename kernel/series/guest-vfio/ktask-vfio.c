// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ktask-vfio.c - measures and checks VFIO type1's pinning of a DMA range
 * (vfio_pin_map_dma, series patch 0014) in the series' VFIO guest: a q35
 * machine with QEMU's emulated VT-d and its edu device (1234:11e8), which
 * this program binds to vfio-pci.  It opens the container and the group,
 * sets the type1 (v2) IOMMU and maps and unmaps buffers with
 * VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA, as a VM's memory is mapped
 * for a device passed through.
 *
 * Built with "gcc -O2 -static" and run as root by run.sh (run_vfio).  It
 * prints KTAP.  KTASK_KERNEL=y|n says whether the kernel has CONFIG_KTASK;
 * KTASK_MM_RATIOS=info prints the speed ratios without judging them;
 * KTASK_VFIO_QUICK=1 skips the timed maps (for checking the undo alone).
 *
 * Speed: a 2 GiB buffer of 4 KiB anonymous pages, the same pre-touched
 * (pinning only, no fault), and 2 MiB transparent huge pages, each mapped
 * REPS times with /sys/module/ktask/parameters/max_threads at 1 and at 0
 * (the default); the ratio of the medians is checked against 1.5x.
 *
 * Undo: a map that fails part way (a page of the range made inaccessible,
 * RLIMIT_MEMLOCK below the range without CAP_IPC_LOCK, or an IOMMU map
 * error injected through 0014's debugfs fault attribute), at positions
 * spread over the range so that every chunk is the failing one in turn,
 * must return the error (EFAULT, ENOMEM, ENOMEM) and leave VmLck (the mm's
 * locked_vm, which type1 charges) as before, no mapping in the container
 * or in the IOMMU (the same range maps again, and a second map of it gives
 * EEXIST) and no page pinned (the system's FOLL_PIN count in /proc/vmstat,
 * nr_foll_pin_acquired - nr_foll_pin_released, is as before, and the
 * buffer's memory comes back to MemFree when it is unmapped).  A map killed by SIGKILL part way leaves nothing
 * behind either.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../guest/ktap.h"

#define KiB (1ul << 10)
#define MiB (1ul << 20)
#define GiB (1ul << 30)
#define PAGE 4096ul
#define HP2M (2 * MiB)
#define BIG (2 * GiB)		/* the timed buffer */
#define UNDO (512 * MiB)	/* the buffer of the undo tests: 4 chunks */
#define NPOS 6			/* failure positions per undo test */
#define REPS 3
#define IOVA 0x100000000ul	/* 4 GiB: clear of the MSI window */
#define LEAK_SLACK (128 * MiB)	/* MemFree noise allowed (pins are counted exactly) */
#define NTESTS 13

#define PARAM "/sys/module/ktask/parameters/max_threads"
#define FAIL_MAP "/sys/kernel/debug/fail_vfio_iommu_map"
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

static int ktask_kernel;
static int judge_ratios = 1;
static int container = -1, group = -1;
static char saved_param[32];

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* A "Key:   N kB" field of a /proc file, in bytes; -1 if absent. */
static long proc_kb(const char *path, const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10) * (long)KiB;
			break;
		}
	fclose(f);
	return v;
}

static long vmlck(void)
{
	return proc_kb("/proc/self/status", "VmLck");
}

static long memfree(void)
{
	return proc_kb("/proc/meminfo", "MemFree");
}

/*
 * Pins held in the whole system: FOLL_PIN pins taken minus released
 * (/proc/vmstat counts both), or LONG_MIN if the kernel does not say.
 */
static long pins_held(void)
{
	char line[128];
	long acq = LONG_MIN, rel = LONG_MIN;
	FILE *f;

	/* fold the per-CPU counter deltas first, or they lag by dozens */
	write_file("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return LONG_MIN;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "nr_foll_pin_acquired ", 21))
			acq = strtol(line + 21, NULL, 10);
		else if (!strncmp(line, "nr_foll_pin_released ", 21))
			rel = strtol(line + 21, NULL, 10);
	}
	fclose(f);
	return acq == LONG_MIN || rel == LONG_MIN ? LONG_MIN : acq - rel;
}

static int set_threads(int n)
{
	char s[16];

	if (!ktask_kernel)
		return 0;
	snprintf(s, sizeof(s), "%d", n);
	return write_file(PARAM, s);
}

/* Binds edu to vfio-pci; returns its IOMMU group number or -1. */
static int bind_edu(void)
{
	char path[PATH_MAX], buf[64], link[PATH_MAX];
	struct dirent *de;
	int grp = -1;
	DIR *d = opendir("/sys/bus/pci/devices");

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		long v, dv;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", de->d_name);
		if (read_file(path, buf, sizeof(buf)))
			continue;
		v = strtol(buf, NULL, 16);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", de->d_name);
		if (read_file(path, buf, sizeof(buf)))
			continue;
		dv = strtol(buf, NULL, 16);
		if (v != EDU_VENDOR || dv != EDU_DEVICE)
			continue;
		diag("edu at %s", de->d_name);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", de->d_name);
		if (write_file(path, "vfio-pci")) {
			diag("cannot write %s", path);
			break;
		}
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", de->d_name);
		write_file(path, de->d_name);
		if (write_file("/sys/bus/pci/drivers_probe", de->d_name))
			diag("drivers_probe %s: %s", de->d_name, strerror(errno));
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0) {
			diag("edu has no driver after the probe");
			break;
		}
		link[n] = 0;
		diag("edu driver %s", strrchr(link, '/') + 1);
		if (strcmp(strrchr(link, '/') + 1, "vfio-pci"))
			break;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0) {
			diag("edu has no IOMMU group");
			break;
		}
		link[n] = 0;
		grp = atoi(strrchr(link, '/') + 1);
		break;
	}
	closedir(d);
	return grp;
}

static int setup(void)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int grp = bind_edu();

	if (grp < 0)
		return -1;
	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0) {
		diag("/dev/vfio/vfio: %s", strerror(errno));
		return -1;
	}
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		diag("no VFIO API %d or no type1v2", VFIO_API_VERSION);
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", grp);
	group = open(path, O_RDWR);
	if (group < 0) {
		diag("%s: %s", path, strerror(errno));
		return -1;
	}
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &st) ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		diag("group %d not viable", grp);
		return -1;
	}
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container)) {
		diag("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
		return -1;
	}
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		diag("VFIO_SET_IOMMU: %s", strerror(errno));
		return -1;
	}
	diag("group %d in a type1v2 container", grp);
	return 0;
}

/* 0 or -errno */
static int map_dma(void *buf, unsigned long iova, size_t size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)buf,
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;
}

/* bytes unmapped, or -errno */
static long unmap_dma(unsigned long iova, size_t size)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u) ? -errno : (long)u.size;
}

enum kind { SMALL, TOUCHED, THP };
static const char *const kind_name[] = {
	"4 KiB pages", "4 KiB pages, touched before", "2 MiB THP"
};

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct touch_arg {
	char *p;
	size_t len;
};

/* As QEMU's prealloc: populate writable, or write a byte per page. */
static void *touch_part(void *arg)
{
	struct touch_arg *t = arg;
	size_t i;

	if (madvise(t->p, t->len, MADV_POPULATE_WRITE))
		for (i = 0; i < t->len; i += PAGE)
			t->p[i] = 1;
	return NULL;
}

/* Touches [p, p + size) with n threads; returns the seconds. */
static double touch(char *p, size_t size, int n)
{
	struct touch_arg args[8];
	pthread_t th[8];
	size_t part = size / n / HP2M * HP2M;
	double t = now();
	int i;

	for (i = 0; i < n; i++) {
		args[i].p = p + i * part;
		args[i].len = i == n - 1 ? size - i * part : part;
		if (i < n - 1)
			pthread_create(&th[i], NULL, touch_part, &args[i]);
	}
	touch_part(&args[n - 1]);
	for (i = 0; i < n - 1; i++)
		pthread_join(th[i], NULL);
	return now() - t;
}

static int touch_threads = 1;
static double touch_time;

/*
 * A 2 MiB-aligned anonymous buffer; its mapping (for munmap) in *base.
 * TOUCHED: populated first by touch_threads threads, in touch_time.
 */
static void *buffer(size_t size, enum kind k, void **base)
{
	char *p = mmap(NULL, size + HP2M, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;
	size_t i;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + HP2M - 1) & ~(HP2M - 1));
	*base = p;
	madvise(a, size, k == THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (k == TOUCHED)
		touch_time = touch(a, size, touch_threads);
	(void)i;
	return a;
}

static void drop(void *base, size_t size)
{
	munmap(base, size + HP2M);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/*
 * One timed map of a fresh buffer, with its checks: the map succeeds,
 * VmLck grows by the size, a second map gives EEXIST, the unmap removes
 * the size and VmLck is back.  Returns the seconds, or -1 (and says why).
 */
static double timed_map(enum kind k, size_t size, long *thp)
{
	void *base, *buf = buffer(size, k, &base);
	long lck0 = vmlck(), lck1, un;
	double t;
	int err;

	if (!buf) {
		diag("mmap of %zu MiB failed", size / MiB);
		return -1;
	}
	t = now();
	err = map_dma(buf, IOVA, size);
	t = now() - t;
	if (err) {
		diag("MAP_DMA of %zu MiB (%s): %s", size / MiB, kind_name[k], strerror(-err));
		drop(base, size);
		return -1;
	}
	lck1 = vmlck();
	if (thp)
		*thp = proc_kb("/proc/meminfo", "AnonHugePages");
	err = map_dma(buf, IOVA, size);
	un = unmap_dma(IOVA, size);
	drop(base, size);
	if (lck1 - lck0 != (long)size || err != -EEXIST || un != (long)size ||
	    vmlck() != lck0) {
		diag("%s: VmLck %ld -> %ld -> %ld kB, second map %s, unmap %ld",
		     kind_name[k], lck0 / (long)KiB, lck1 / (long)KiB,
		     vmlck() / (long)KiB, strerror(-err), un);
		return -1;
	}
	return t;
}

static double last_default_time;
static double med_small[2], med_touched[2], med_touch[2];

static int quick;

static void speed(enum kind k)
{
	double ser[REPS], par[REPS], t4[REPS], s, p;
	char desc[128], why[128];
	long thp = 0, thp_min = LONG_MAX;
	int i, bad = 0;

	if (quick) {
		skip("map and unmap 2 GiB", "KTASK_VFIO_QUICK=1");
		skip("MAP_DMA of 2 GiB max_threads=1 / default >= 1.5x", "KTASK_VFIO_QUICK=1");
		return;
	}

	for (i = 0; i < REPS; i++) {
		/*
		 * Both settings map a buffer touched by 4 threads (as
		 * prealloc-threads=4 would): how it was touched decides how
		 * physically contiguous it is, so how many runs the map has.
		 */
		if (set_threads(1))
			bad = 1;
		touch_threads = 4;
		ser[i] = timed_map(k, BIG, &thp);
		t4[i] = touch_time;
		if (thp < thp_min)
			thp_min = thp;
		set_threads(0);
		par[i] = timed_map(k, BIG, &thp);
		if (thp < thp_min)
			thp_min = thp;
		if (ser[i] < 0 || par[i] < 0)
			bad = 1;
		diag("%s run %d: max_threads=1 %.3f s, default %.3f s",
		     kind_name[k], i + 1, ser[i], par[i]);
	}
	if (k == THP)
		diag("%s: AnonHugePages while mapped at least %ld MiB", kind_name[k],
		     thp_min / (long)MiB);
	snprintf(desc, sizeof(desc),
		 "map and unmap 2 GiB (%s): VmLck +2 GiB, second map EEXIST, VmLck back%s",
		 kind_name[k], k == THP ? ", THP used" : "");
	result(!bad && (k != THP || thp_min >= (long)(BIG * 9 / 10)), "%s", desc);
	s = median(ser, REPS);
	p = median(par, REPS);
	if (k == SMALL) {
		last_default_time = p;
		med_small[0] = s;
		med_small[1] = p;
	}
	if (k == TOUCHED) {
		med_touched[0] = s;
		med_touched[1] = p;
		void *base, *buf = buffer(BIG, SMALL, &base);

		/* one touch with 1 thread, for comparison (no map) */
		med_touch[0] = buf ? touch(buf, BIG, 1) : -1;
		if (buf)
			drop(base, BIG);
		med_touch[1] = median(t4, REPS);
		diag("touching 2 GiB before the map (as QEMU's prealloc): 1 thread %.3f s (once), "
		     "4 threads %.3f s (median)", med_touch[0], med_touch[1]);
		diag("a VM's 2 GiB made ready for DMA: serial kernel, no prealloc %.3f s; "
		     "prealloc-threads=4 + serial pin %.3f s; ktask, no prealloc %.3f s; "
		     "prealloc-threads=4 + ktask pin %.3f s",
		     med_small[0], med_touch[1] + med_touched[0], med_small[1],
		     med_touch[1] + med_touched[1]);
	}
	snprintf(desc, sizeof(desc), "MAP_DMA of 2 GiB (%s) max_threads=1 / default >= 1.5x",
		 kind_name[k]);
	diag("%s: median max_threads=1 %.3f s, default %.3f s, ratio %.2fx (target 1.5x)",
	     kind_name[k], s, p, s / p);
	if (!ktask_kernel) {
		skip(desc, "CONFIG_KTASK=n");
	} else if (bad) {
		result(0, "%s", desc);
	} else if (!judge_ratios) {
		snprintf(why, sizeof(why), "ratio %.2fx not judged (KTASK_MM_RATIOS=info)", s / p);
		skip(desc, why);
	} else {
		result(s / p >= 1.5, "%s (%.2fx)", desc, s / p);
	}
}

/* Drops or raises CAP_IPC_LOCK in the effective set. */
static int ipc_lock_cap(int on)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[0].effective |= 1u << CAP_IPC_LOCK;
	else
		d[0].effective &= ~(1u << CAP_IPC_LOCK);
	return syscall(SYS_capset, &h, d) ? -1 : 0;
}

enum how { HOLE, LIMIT, INJECT };
static const char *const how_name[] = {
	"a PROT_NONE page", "RLIMIT_MEMLOCK", "an injected IOMMU map error"
};

/* Sets up fail_vfio_iommu_map to fail once after space pages, or off. */
static int inject(long space)
{
	char s[32];
	int err = 0;

	if (space < 0)
		return write_file(FAIL_MAP "/probability", "0");
	snprintf(s, sizeof(s), "%ld", space);
	err |= write_file(FAIL_MAP "/verbose", "0");
	err |= write_file(FAIL_MAP "/interval", "1");
	err |= write_file(FAIL_MAP "/space", s);
	err |= write_file(FAIL_MAP "/times", "1");
	err |= write_file(FAIL_MAP "/probability", "100");
	return err;
}

/*
 * The undo after a failure at position pos of a UNDO-byte buffer: a hole
 * (the page at pos made PROT_NONE), a memlock limit that ends at pos, or
 * an injected map error after pos bytes were mapped.  Returns 1 if
 * everything is as before, 0 otherwise (and says what).
 */
static int undo_one(char *buf, enum kind k, enum how how, size_t pos)
{
	long lck0 = vmlck(), lck1, un;
	struct rlimit rl0, rl;
	int by_limit = how == LIMIT;
	int err, again, twice, ok = 1, want = how == HOLE ? -EFAULT : -ENOMEM;

	if (how == INJECT) {
		if (inject(pos / PAGE)) {
			diag("cannot set up %s", FAIL_MAP);
			return 0;
		}
	} else if (by_limit) {
		getrlimit(RLIMIT_MEMLOCK, &rl0);
		rl = rl0;
		rl.rlim_cur = lck0 + pos;
		rl.rlim_max = RLIM_INFINITY;
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || ipc_lock_cap(0)) {
			diag("cannot set RLIMIT_MEMLOCK or drop CAP_IPC_LOCK");
			return 0;
		}
	} else {
		mprotect(buf + pos, PAGE, PROT_NONE);
	}
	err = map_dma(buf, IOVA, UNDO);
	lck1 = vmlck();
	if (how == INJECT) {
		inject(-1);
	} else if (by_limit) {
		ipc_lock_cap(1);
		setrlimit(RLIMIT_MEMLOCK, &rl0);
	} else {
		mprotect(buf + pos, PAGE, PROT_READ | PROT_WRITE);
	}
	again = map_dma(buf, IOVA, UNDO);
	twice = map_dma(buf, IOVA, UNDO);
	un = unmap_dma(IOVA, UNDO);
	if (err != want || lck1 != lck0 || again || twice != -EEXIST ||
	    un != (long)UNDO || vmlck() != lck0) {
		diag("%s at %zu MiB (%s): map %s, VmLck %ld -> %ld kB, map again %s, "
		     "second %s, unmap %ld",
		     how_name[how], pos / MiB, kind_name[k],
		     strerror(-err), lck0 / (long)KiB, lck1 / (long)KiB,
		     strerror(-again), strerror(-twice), un);
		ok = 0;
	}
	return ok;
}

/*
 * One buffer, touched first (so that the maps pin without faulting), fails
 * to map at each position in turn; when it is unmapped at the end, its
 * memory must come back to MemFree: a page left pinned would not.
 */
static void undo(enum kind k, enum how how, int threads)
{
	int i, ok = 1, by_limit = how == LIMIT;
	long free0, free1, pins0 = pins_held(), pins1;
	void *base;
	char *buf;
	size_t pos;
	char desc[192];

	snprintf(desc, sizeof(desc), "a map of 512 MiB (%s) failing at %d positions (%s, "
		 "max_threads=%d): %s, VmLck, mappings and MemFree as before",
		 kind_name[k], NPOS, how_name[how], threads,
		 how == HOLE ? "EFAULT" : "ENOMEM");
	if (how == INJECT && access(FAIL_MAP, F_OK)) {
		skip(desc, "no " FAIL_MAP " (a kernel without 0014 or fault injection)");
		return;
	}
	/*
	 * MemFree is taken after one clean cycle of the same buffer (map,
	 * touch, unmap), so that the per-CPU free lists, which MemFree does
	 * not count, hold what they will hold after the test's cycle too.
	 */
	buf = buffer(UNDO, k, &base);
	if (buf) {
		touch(buf, UNDO, 4);
		drop(base, UNDO);
	}
	free0 = memfree();
	buf = buffer(UNDO, k, &base);
	if (!buf) {
		result(0, "%s", desc);
		return;
	}
	touch(buf, UNDO, 4);

	set_threads(threads);
	for (i = 0; i < NPOS; i++) {
		/* the first page, the middle of each quarter (chunk), the last */
		if (i == 0)
			pos = 0;
		else if (i == NPOS - 1)
			pos = UNDO - PAGE;
		else
			pos = (i - 1) * (UNDO / 4) + UNDO / 8 + (how == HOLE ? 5 * PAGE : 0);
		if (k == THP && by_limit)
			pos &= ~(HP2M - 1);
		ok &= undo_one(buf, k, how, pos);
	}
	set_threads(0);
	drop(base, UNDO);
	free1 = memfree();
	pins1 = pins_held();
	if (pins1 != pins0 || free1 < free0 - (long)LEAK_SLACK) {
		diag("%s, %s: pins held %ld before, %ld after; MemFree %ld MiB before, "
		     "%ld MiB after the buffer was unmapped", kind_name[k], how_name[how],
		     pins0, pins1, free0 / (long)MiB, free1 / (long)MiB);
		ok = 0;
	}
	result(ok, "%s", desc);
}

/* A child maps BIG and is killed part way: nothing is left behind. */
static void killed(void)
{
	long free0, free1, pins0 = pins_held(), pins1;
	double wait_s = last_default_time > 0 ? last_default_time * 0.3 : 2.0;
	int st, again, left = -1;
	pid_t pid;

	/*
	 * MemFree before, after the same cycle as the check after the kill
	 * (a buffer of BIG / 8 mapped and unmapped), so that both are taken
	 * with the per-CPU free lists in the same state.
	 */
	{
		void *base, *buf = buffer(BIG / 8, SMALL, &base);

		if (buf) {
			if (!map_dma(buf, IOVA, BIG / 8))
				unmap_dma(IOVA, BIG / 8);
			drop(base, BIG / 8);
		}
	}
	free0 = memfree();

	pid = fork();
	if (pid == 0) {
		void *base, *buf = buffer(BIG, SMALL, &base);

		_exit(buf ? (map_dma(buf, IOVA, BIG) ? 2 : 3) : 4);
	}
	usleep((useconds_t)(wait_s * 1e6));
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	/* A map that finished before the kill is still in the container. */
	again = -1;
	{
		void *base, *buf = buffer(BIG / 8, SMALL, &base);

		if (buf) {
			again = map_dma(buf, IOVA, BIG / 8);
			if (!again)
				unmap_dma(IOVA, BIG / 8);
			else if (again == -EEXIST)
				left = (int)(unmap_dma(IOVA, BIG) / (long)MiB);
			drop(base, BIG / 8);
		}
	}
	free1 = memfree();
	pins1 = pins_held();
	diag("killed after %.2f s: %s, map again %s, pins held %ld -> %ld, MemFree %ld -> %ld MiB",
	     wait_s, WIFSIGNALED(st) ? "by SIGKILL" : "exited first", strerror(-again),
	     pins0, pins1, free0 / (long)MiB, free1 / (long)MiB);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		result(!again && pins1 == pins0,
		       "a map of 2 GiB killed by SIGKILL part way leaves no mapping and no pinned page");
	else
		skip("a map of 2 GiB killed by SIGKILL part way leaves no mapping and no pinned page",
		     left >= 0 ? "the map finished before the kill" : "the child was not killed");
}

int main(void)
{
	const char *k = getenv("KTASK_KERNEL");
	char desc[128];
	int i;

	ktask_kernel = k && !strcmp(k, "y");
	k = getenv("KTASK_MM_RATIOS");
	judge_ratios = !k || strcmp(k, "info") != 0;
	k = getenv("KTASK_VFIO_QUICK");
	quick = k && !strcmp(k, "1");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n1..%d\n", NTESTS);
	if (ktask_kernel && read_file(PARAM, saved_param, sizeof(saved_param))) {
		diag("no %s", PARAM);
		ktask_kernel = 0;
	}
	diag("ktask-vfio: KTASK_KERNEL=%s, %ld CPUs, MemFree %ld MiB", ktask_kernel ? "y" : "n",
	     sysconf(_SC_NPROCESSORS_ONLN), memfree() / (long)MiB);
	if (setup()) {
		result(0, "edu bound to vfio-pci, group in a type1v2 container");
		for (i = 1; i < NTESTS; i++) {
			snprintf(desc, sizeof(desc), "test %d needs the container", i + 1);
			result(0, "%s", desc);
		}
		return 0;
	}
	result(1, "edu bound to vfio-pci, group in a type1v2 container");
	speed(SMALL);
	speed(TOUCHED);
	speed(THP);
	mount("none", "/sys/kernel/debug", "debugfs", 0, NULL);
	undo(SMALL, HOLE, 0);
	undo(SMALL, LIMIT, 0);
	undo(THP, LIMIT, 0);
	undo(SMALL, INJECT, 0);
	undo(SMALL, HOLE, 1);
	killed();
	if (ktask_kernel)
		write_file(PARAM, saved_param);
	return 0;
}
