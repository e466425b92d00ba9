// SPDX-License-Identifier: MIT
/*
 * test_tool.c - checks that the ktask command's subcommands really did
 * their job: memory reads as zero, pages are resident, files have their
 * blocks, a failed fallocate leaves the file exactly as it was, and the
 * page cache is gone per mincore(2).  The subcommands' *_do() functions are
 * called directly, on small sizes, with two threads and small chunks so
 * that several chunks and the undo path really run.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include <cmocka.h>

#include "../tool.h"

#define MiB (1UL << 20)

static char test_dir[4096];

/* Two threads, 1 MiB chunks, no progress bar. */
static struct tool_opts test_opts(void)
{
	struct tool_opts o = { 0 };

	o.threads = 2;
	o.min_chunk = MiB;
	o.quiet = true;
	return o;
}

static void test_size_parse(void **state)
{
	size_t v;

	(void)state;
	assert_int_equal(size_parse("4G", &v), 0);
	assert_int_equal(v, 4UL << 30);
	assert_int_equal(size_parse("512M", &v), 0);
	assert_int_equal(v, 512UL << 20);
	assert_int_equal(size_parse("1GiB", &v), 0);
	assert_int_equal(v, 1UL << 30);
	assert_int_equal(size_parse("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(size_parse("7k", &v), 0);
	assert_int_equal(v, 7168);
	assert_int_equal(size_parse("", &v), -EINVAL);
	assert_int_equal(size_parse("4Q", &v), -EINVAL);
	assert_int_equal(size_parse("-1", &v), -EINVAL);
	assert_int_equal(size_parse("1.5G", &v), -EINVAL);
	assert_int_equal(size_parse("G", &v), -EINVAL);
	assert_int_equal(size_parse("4GG", &v), -EINVAL);
	assert_int_equal(size_parse("16E", &v), -ERANGE);
	assert_int_equal(size_parse("99999999999999999999", &v), -ERANGE);
}

static void test_size_format(void **state)
{
	char buf[32];

	(void)state;
	size_format(512, buf, sizeof(buf));
	assert_string_equal(buf, "512 B");
	size_format(3 * MiB / 2, buf, sizeof(buf));
	assert_string_equal(buf, "1.50 MiB");
	size_format(4UL << 30, buf, sizeof(buf));
	assert_string_equal(buf, "4.00 GiB");
}

/* Names are escaped so that a message stays one line. */
static void test_escape(void **state)
{
	char buf[64];

	(void)state;
	tool_escape("a\nb\tc\\d\x01" "e", buf, sizeof(buf));
	assert_string_equal(buf, "a\\nb\\tc\\\\d\\x01e");
	tool_escape("plain name", buf, sizeof(buf));
	assert_string_equal(buf, "plain name");
	/* UTF-8 stays, a byte that is not UTF-8 is escaped. */
	tool_escape("caf\xc3\xa9 \xff\xc3", buf, sizeof(buf));
	assert_string_equal(buf, "caf\xc3\xa9 \\xff\\xc3");
	/* Too little room: cut at a whole escape, still terminated. */
	tool_escape("ab\n", buf, 4);
	assert_string_equal(buf, "ab");
	assert_string_equal(tool_plural(1, "file", "files"), "file");
	assert_string_equal(tool_plural(0, "file", "files"), "files");
	assert_string_equal(tool_plural(2, "file", "files"), "files");
}

/* The hole list merges neighbours and walks only what lies in holes. */
static int count_part(struct tool_holes *h, off_t off, off_t len, void *arg)
{
	off_t *sum = arg;

	(void)h;
	assert_true(len > 0);
	sum[0] += len;
	sum[1]++;
	(void)off;
	return 0;
}

static void test_holes(void **state)
{
	struct tool_holes h = { .fd = -1 };
	off_t sum[2] = { 0, 0 };

	(void)state;
	assert_int_equal(holes_add(&h, 0, 10), 0);
	assert_int_equal(holes_add(&h, 10, 20), 0);	/* merged */
	assert_int_equal(holes_add(&h, 30, 40), 0);
	assert_int_equal(holes_add(&h, 50, 50), 0);	/* empty: ignored */
	assert_int_equal(h.nr, 2);
	assert_int_equal(h.bytes, 30);
	assert_int_equal(holes_for_each(&h, 5, 35, count_part, sum), 0);
	assert_int_equal(sum[0], 15 + 5);
	assert_int_equal(sum[1], 2);
	sum[0] = sum[1] = 0;
	assert_int_equal(holes_for_each(&h, 20, 30, count_part, sum), 0);
	assert_int_equal(sum[1], 0);
	holes_free(&h);
}

/*
 * Preallocated space is no hole: FIEMAP takes it out of the list, and
 * without FIEMAP (tmpfs, or the test hook) the list is marked inexact.
 */
static void test_holes_prealloc(void **state)
{
	struct tool_holes h = { .fd = -1 };
	char path[4200];
	struct stat st;
	int pass;

	(void)state;
	snprintf(path, sizeof(path), "%s/prealloc", test_dir);
	h.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(h.fd >= 0);
	assert_int_equal(ftruncate(h.fd, 8 * MiB), 0);
	if (fallocate(h.fd, 0, 0, 2 * MiB)) {
		close(h.fd);
		unlink(path);
		skip();
	}
	assert_int_equal(fstat(h.fd, &st), 0);
	for (pass = 0; pass < 2; pass++) {
		if (pass)
			setenv("KTASK_TEST_NO_FIEMAP", "1", 1);
		assert_int_equal(holes_find(&h, &st, 8 * MiB), 0);
		/* Either the 2 MiB are not a hole, or undo is off. */
		assert_true(h.inexact || h.bytes == 6 * MiB);
		if (pass)
			assert_true(h.inexact);
		holes_free(&h);
		h.inexact = false;
	}
	unsetenv("KTASK_TEST_NO_FIEMAP");
	close(h.fd);
	unlink(path);
}

/* The kernel's ktask: /sys/module/ktask without initstate. */
static void test_kernel_ktask(void **state)
{
	char sys[4200], path[4300];

	(void)state;
	snprintf(sys, sizeof(sys), "%s/sys", test_dir);
	setenv("KTASK_TEST_SYSFS", sys, 1);
	assert_false(tool_kernel_ktask());		/* no module at all */
	snprintf(path, sizeof(path), "%s/module/ktask", sys);
	assert_int_equal(mkdir(sys, 0755), 0);
	snprintf(path, sizeof(path), "%s/module", sys);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/module/ktask", sys);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(tool_kernel_ktask());		/* built in */
	snprintf(path, sizeof(path), "%s/module/ktask/initstate", sys);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	assert_false(tool_kernel_ktask());		/* ktask.ko loaded */
	unlink(path);
	snprintf(path, sizeof(path), "%s/module/ktask", sys);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/module", sys);
	rmdir(path);
	rmdir(sys);
	unsetenv("KTASK_TEST_SYSFS");
}

/* Writes @text to the file at @path, made new. */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A fake v2 cgroup with 64 MiB left wins over MemAvailable, and says so. */
static void test_mem_headroom(void **state)
{
	char dir[4200], path[4300], why[700];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/cg", test_dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	write_file(path, "cpu memory\n");
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	write_file(path, "134217728\n");
	snprintf(path, sizeof(path), "%s/memory.current", dir);
	write_file(path, "67108864\n");
	snprintf(path, sizeof(path), "%s/self", test_dir);
	write_file(path, "0::/\n");
	setenv("KTASK_CGROUP_FS", dir, 1);
	setenv("KTASK_PROC_CGROUP", path, 1);
	assert_int_equal(tool_mem_headroom(why, sizeof(why)), 64 * MiB);
	assert_non_null(strstr(why, "limit of 128 MiB, 64 MiB in use"));
	unsetenv("KTASK_CGROUP_FS");
	unsetenv("KTASK_PROC_CGROUP");
	unlink(path);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/memory.current", dir);
	unlink(path);
	rmdir(dir);
}

/* Dirty memory, cleared by several chunks, reads back as zero. */
static void test_clear_zeroes(void **state)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };
	size_t len = 16 * MiB, i;
	unsigned char *buf;

	(void)state;
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(buf, MAP_FAILED);
	memset(buf, 0xa5, len);
	assert_int_equal(clear_buffer(&o, buf, len, tool_page_size(), &r), 0);
	for (i = 0; i < len; i++)
		if (buf[i])
			fail_msg("byte %zu is 0x%x", i, buf[i]);
	assert_int_equal(r.units, len);
	assert_true(r.stats.ks_chunk_size >= MiB);
	munmap(buf, len);
}

/* clear_do() with the anonymous and THP mappings. */
static void test_clear_do(void **state)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };

	(void)state;
	o.size = 8 * MiB;
	assert_int_equal(clear_do(&o, &r), 0);
	o.mem = TOOL_MEM_THP;
	assert_int_equal(clear_do(&o, &r), 0);
	o.serial = true;
	assert_int_equal(clear_do(&o, &r), 0);
	assert_int_equal(r.stats.ks_threads, 1);
}

static size_t resident_pages(void *buf, size_t len)
{
	size_t ps = tool_page_size(), n = (len + ps - 1) / ps, i, count = 0;
	unsigned char *vec = malloc(n);

	assert_non_null(vec);
	assert_int_equal(mincore(buf, len, vec), 0);
	for (i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

/*
 * A fresh private mapping without THP: mincore would count a huge page as
 * resident anyway.
 */
static unsigned char *fresh_map(size_t len)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);

	assert_ptr_not_equal(p, MAP_FAILED);
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static void populate_check(bool touch, bool read, bool lock)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };
	size_t len = 8 * MiB;
	void *buf;

	o.touch = touch;
	o.read = read;
	o.mlock = lock;
	buf = fresh_map(len);
	assert_int_equal(resident_pages(buf, len), 0);
	assert_int_equal(populate_buffer(&o, buf, len, &r), 0);
	assert_int_equal(resident_pages(buf, len), len / tool_page_size());
	munmap(buf, len);
}

static void test_populate_resident(void **state)
{
	(void)state;
	populate_check(false, false, false);
	populate_check(true, false, false);
	populate_check(false, false, true);
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * --touch faults each page once, as a write: a read first would map the
 * zero page and cost a second, copy-on-write fault whose TLB flush stops
 * every other CPU of the process (populate --touch was 3x slower on two
 * CPUs than on one).  The yardstick is a plain store to each page of
 * another region, so that a sanitizer's own faults count on both sides.
 * The bytes already there are kept.
 */
static void test_populate_touch_one_fault(void **state)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };
	size_t len = 16 * MiB, ps = tool_page_size(), i;
	volatile unsigned char *ref;
	unsigned char *buf;
	long before, stores, faults;

	(void)state;
	o.touch = true;
	ref = fresh_map(len);
	buf = fresh_map(len);
	before = minor_faults();
	for (i = 0; i < len; i += ps)
		ref[i] = 1;
	stores = minor_faults() - before;
	buf[len / 2] = 0x5a;
	buf[len - 1] = 0xa5;
	before = minor_faults();
	assert_int_equal(populate_buffer(&o, buf, len, &r), 0);
	faults = minor_faults() - before;
	print_message("faults: %ld for stores, %ld for --touch (%zu pages)\n",
		      stores, faults, len / ps);
	assert_int_equal(resident_pages(buf, len), len / ps);
	assert_true(stores >= (long)(len / ps) - 2);
#ifndef __SANITIZE_THREAD__
	/* TSan runs atomics in its runtime: a load, then the write. */
	assert_true(faults < stores + stores / 4);
#endif
	assert_int_equal(buf[len / 2], 0x5a);
	assert_int_equal(buf[len - 1], 0xa5);
	assert_int_equal(buf[0], 0);
	munmap((void *)ref, len);
	munmap(buf, len);
}

static void test_populate_file(void **state)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };
	char path[4200];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/populate", test_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * MiB), 0);
	close(fd);
	o.file = path;
	assert_int_equal(populate_do(&o, &r), 0);
	assert_int_equal(r.bytes, 4 * MiB);
	/* A size beyond the end of the file is refused, not extended. */
	o.size = 8 * MiB;
	assert_int_equal(populate_do(&o, &r), 1);
	unlink(path);
}

static void file_stat(const char *path, struct stat *st)
{
	assert_int_equal(stat(path, st), 0);
}

/* The file has all its blocks and the length asked for. */
static void test_fallocate_blocks(void **state)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };
	char path[4200];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/falloc", test_dir);
	unlink(path);
	assert_int_equal(fallocate_do(&o, path, 16 * MiB, &r), 0);
	file_stat(path, &st);
	assert_int_equal(st.st_size, 16 * MiB);
	assert_true((size_t)st.st_blocks * 512 >= 16 * MiB);
	/* Not hugetlbfs: one fallocate(2) in one thread is the method. */
	assert_true(r.one_thread);
	assert_int_equal(r.stats.ks_threads, 1);
	assert_non_null(strstr(r.method, "fallocate(2) in one thread"));
	unlink(path);
}

/* An injected ENOSPC on a new file: the file is gone again. */
static void test_fallocate_undo_new(void **state)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };
	char path[4200];
	struct stat st;
	int serial;

	(void)state;
	snprintf(path, sizeof(path), "%s/falloc-new", test_dir);
	setenv("KTASK_TEST_FAIL_AT", "9M", 1);
	for (serial = 0; serial < 2; serial++) {
		o.serial = serial;
		unlink(path);
		assert_int_equal(fallocate_do(&o, path, 16 * MiB, &r), 1);
		assert_int_equal(stat(path, &st), -1);
		assert_int_equal(errno, ENOENT);
	}
	unsetenv("KTASK_TEST_FAIL_AT");
}

/* Writes @len bytes of @c at @off. */
static void write_at(int fd, off_t off, size_t len, int c)
{
	char *buf = malloc(len);

	assert_non_null(buf);
	memset(buf, c, len);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	free(buf);
}

static char *read_all(const char *path, size_t len)
{
	char *buf = malloc(len);
	int fd = open(path, O_RDONLY);

	assert_non_null(buf);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	return buf;
}

/* Writes where @path has data, per SEEK_DATA/SEEK_HOLE, as "a-b,c-d,". */
static void data_map(const char *path, char *map, size_t len)
{
	int fd = open(path, O_RDONLY);
	off_t off = 0, data, hole;
	size_t used = 0;

	assert_true(fd >= 0);
	map[0] = '\0';
	while ((data = lseek(fd, off, SEEK_DATA)) >= 0) {
		hole = lseek(fd, data, SEEK_HOLE);
		assert_true(hole > data);
		used += snprintf(map + used, len - used, "%lld-%lld,",
				 (long long)data, (long long)hole);
		assert_true(used < len);
		off = hole;
	}
	close(fd);
}

/*
 * An injected ENOSPC on a file with data and holes: its size, its bytes
 * and where it has data are exactly what they were, with helpers and
 * serially.  Its block count may grow by one block at most: ext4 keeps an
 * extent tree block that the allocation needed after the punch (metadata,
 * not file data).
 */
static void test_fallocate_undo_existing(void **state)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };
	struct stat before, after;
	char path[4200], *data0, *data1, map0[256], map1[256];
	int fd, serial;

	(void)state;
	snprintf(path, sizeof(path), "%s/falloc-old", test_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	write_at(fd, 0, MiB, 'a');
	write_at(fd, 4 * MiB, MiB, 'b');
	write_at(fd, 6 * MiB - 4096, 4096, 'c');
	assert_int_equal(fsync(fd), 0);
	close(fd);
	file_stat(path, &before);
	data0 = read_all(path, before.st_size);
	data_map(path, map0, sizeof(map0));

	setenv("KTASK_TEST_FAIL_AT", "12M", 1);
	for (serial = 0; serial < 2; serial++) {
		o.serial = serial;
		assert_int_equal(fallocate_do(&o, path, 16 * MiB, &r), 1);
		file_stat(path, &after);
		assert_int_equal(after.st_size, before.st_size);
		assert_true(after.st_blocks >= before.st_blocks &&
			    after.st_blocks <= before.st_blocks +
					       after.st_blksize / 512);
		data_map(path, map1, sizeof(map1));
		assert_string_equal(map0, map1);
		data1 = read_all(path, after.st_size);
		assert_memory_equal(data0, data1, before.st_size);
		free(data1);
	}
	unsetenv("KTASK_TEST_FAIL_AT");

	/* Without a failure, its data survives and its holes get blocks. */
	o.serial = false;
	assert_int_equal(fallocate_do(&o, path, 16 * MiB, &r), 0);
	file_stat(path, &after);
	assert_int_equal(after.st_size, 16 * MiB);
	assert_true((size_t)after.st_blocks * 512 >= 16 * MiB);
	data1 = read_all(path, before.st_size);
	assert_memory_equal(data0, data1, before.st_size);
	free(data0);
	free(data1);
	unlink(path);
}

/* Pages of @path in the page cache, per mincore(2) on a mapping of it. */
static size_t cached_pages(const char *path)
{
	struct stat st;
	size_t n;
	void *p;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	assert_ptr_not_equal(p, MAP_FAILED);
	n = resident_pages(p, st.st_size);
	munmap(p, st.st_size);
	close(fd);
	return n;
}

static void test_evict_drops_cache(void **state)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };
	char dir[4200], path[4300], *paths[1] = { dir };
	size_t i, nr = 12, cached = 0;
	struct statfs sf;
	int fd;

	(void)state;
	o.min_chunk = 2;
	if (statfs(test_dir, &sf) || sf.f_type == TMPFS_MAGIC)
		skip();	/* tmpfs pages are the file: they cannot be dropped */
	snprintf(dir, sizeof(dir), "%s/evict", test_dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), "%s/f%zu", dir, i);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		/* Left dirty on purpose: evict must write it back first. */
		write_at(fd, 0, MiB, 'e');
		close(fd);
		cached += cached_pages(path);
	}
	assert_true(cached > 0);

	assert_int_equal(evict_do(&o, paths, 1, &r), 0);
	assert_int_equal(r.units, nr);
	assert_true(r.stats.ks_threads >= 1);
	for (i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), "%s/f%zu", dir, i);
		assert_int_equal(cached_pages(path), 0);
		unlink(path);
	}
	rmdir(dir);
}

/* A missing file stops evict before anything is done. */
static void test_evict_missing(void **state)
{
	struct tool_opts o = test_opts();
	struct tool_result r = { 0 };
	char *paths[] = { "/nonexistent/ktask-test" };

	(void)state;
	assert_int_equal(evict_do(&o, paths, 1, &r), 1);
}

static int setup_dir(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(test_dir, sizeof(test_dir), "%s/ktask-test.XXXXXX",
		 tmp && *tmp ? tmp : "/var/tmp");
	return mkdtemp(test_dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	return rmdir(test_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_size_format),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_holes_prealloc),
		cmocka_unit_test(test_kernel_ktask),
		cmocka_unit_test(test_mem_headroom),
		cmocka_unit_test(test_clear_zeroes),
		cmocka_unit_test(test_clear_do),
		cmocka_unit_test(test_populate_resident),
		cmocka_unit_test(test_populate_touch_one_fault),
		cmocka_unit_test(test_populate_file),
		cmocka_unit_test(test_fallocate_blocks),
		cmocka_unit_test(test_fallocate_undo_new),
		cmocka_unit_test(test_fallocate_undo_existing),
		cmocka_unit_test(test_evict_drops_cache),
		cmocka_unit_test(test_evict_missing),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
