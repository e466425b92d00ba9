// SPDX-License-Identifier: MIT
/*
 * clear.c - `ktask clear`: allocate a region and zero it in parallel.
 *
 * This is the seed's own example, clear_gigantic_page, in userland: the
 * region is anonymous memory, transparent huge pages or hugetlb pages, and
 * each chunk is zeroed by memset, which also faults the pages in (for
 * hugetlb that fault is the kernel clearing a whole huge page).  The
 * result is then read back in parallel, untimed, to prove it is all zero.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "tool.h"

/* Enough work to be worth a thread; also the unit of memset calls. */
#define CLEAR_MIN_CHUNK (16UL << 20)
#define CLEAR_STEP (64UL << 20)
#define THP_SIZE (2UL << 20)

/* A mapping and the aligned region inside it that is cleared. */
struct clear_map {
	void *base;
	size_t map_len;
	char *buf;
	size_t len;
	size_t granule;
};

static int clear_chunk(char *start, char *end, void *arg)
{
	size_t n;

	(void)arg;
	for (; start < end; start += n) {
		n = (size_t)(end - start) < CLEAR_STEP ? (size_t)(end - start) :
							CLEAR_STEP;
		memset(start, 0, n);
		progress_add(n);
	}
	return KTASK_RETURN_SUCCESS;
}

static int verify_chunk(const char *start, const char *end, void *arg)
{
	static const uint64_t zero[512];
	size_t n;

	(void)arg;
	for (; start < end; start += n) {
		n = (size_t)(end - start) < sizeof(zero) ?
			(size_t)(end - start) : sizeof(zero);
		if (memcmp(start, zero, n))
			return -EIO;
	}
	return KTASK_RETURN_SUCCESS;
}

/**
 * clear_buffer() - zeroes @len bytes at @buf with ktask and times it.
 * @o: the options.
 * @buf: the region, page aligned.
 * @len: its length.
 * @granule: its page size; chunks are multiples of it.
 * @r: the result.
 *
 * Return: 0, or the error ktask_run() returned.
 */
int clear_buffer(const struct tool_opts *o, void *buf, size_t len,
		 size_t granule, struct tool_result *r)
{
	DEFINE_KTASK_CTL(ctl, clear_chunk, NULL, CLEAR_MIN_CHUNK);

	r->unit = "bytes";
	r->bytes = len;
	return tool_run(o, buf, len, granule, &ctl, r);
}

/* Reads one "Key:   123 kB" line of /proc/meminfo; -1 if absent. */
static long meminfo_value(const char *key)
{
	char line[128];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			sscanf(line + klen + 1, "%ld", &v);
			break;
		}
	fclose(f);
	return v;
}

static int clear_map_hugetlb(struct clear_map *m)
{
	long kb = meminfo_value("Hugepagesize");

	m->granule = kb > 0 ? (size_t)kb << 10 : THP_SIZE;
	m->len = (m->len + m->granule - 1) / m->granule * m->granule;
	m->map_len = m->len;
	m->base = mmap(NULL, m->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (m->base != MAP_FAILED)
		return 0;
	if (errno == ENOMEM)
		tool_error("clear", "not enough hugetlb pages: %zu needed, "
			   "%ld free (reserve them in /proc/sys/vm/nr_hugepages)",
			   m->len / m->granule, meminfo_value("HugePages_Free"));
	else
		tool_error("clear", "hugetlb mapping: %s", strerror(errno));
	return -1;
}

/* Maps 2 MiB more than asked, so that the region can start on a THP. */
static int clear_map_thp(struct clear_map *m)
{
	uintptr_t p;

	m->granule = THP_SIZE;
	m->map_len = m->len + THP_SIZE;
	m->base = mmap(NULL, m->map_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->base == MAP_FAILED) {
		tool_error("clear", "mmap: %s", strerror(errno));
		return -1;
	}
	p = ((uintptr_t)m->base + THP_SIZE - 1) & ~(THP_SIZE - 1);
	m->buf = (char *)p;
	if (madvise(m->buf, m->len, MADV_HUGEPAGE)) {
		tool_error("clear", "transparent huge pages are not available: "
			   "madvise: %s", strerror(errno));
		munmap(m->base, m->map_len);
		return -1;
	}
	return 0;
}

static int clear_map(const struct tool_opts *o, struct clear_map *m)
{
	m->len = o->size;
	if (o->mem == TOOL_MEM_HUGETLB) {
		if (clear_map_hugetlb(m))
			return -1;
		m->buf = m->base;
		return 0;
	}
	if (o->mem == TOOL_MEM_THP)
		return clear_map_thp(m);
	m->granule = tool_page_size();
	m->map_len = m->len;
	m->base = mmap(NULL, m->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->base == MAP_FAILED) {
		tool_error("clear", "mmap: %s", strerror(errno));
		return -1;
	}
	m->buf = m->base;
	return 0;
}

static const char *const clear_kinds[] = {
	[TOOL_MEM_ANON] = "anonymous",
	[TOOL_MEM_THP] = "transparent huge pages",
	[TOOL_MEM_HUGETLB] = "hugetlb",
};

/**
 * clear_do() - maps a region as the options say, clears it, checks it.
 * @o: the options; @o->size is the region's size.
 * @r: the result.
 *
 * Return: 0, or 1 after printing an error.
 */
int clear_do(const struct tool_opts *o, struct tool_result *r)
{
	DEFINE_KTASK_CTL(verify, verify_chunk, NULL, CLEAR_MIN_CHUNK);
	struct clear_map m;
	int err;

	r->command = "clear";
	r->moves_data = true;
	snprintf(r->what, sizeof(r->what), "%s", clear_kinds[o->mem]);
	/* hugetlb pages are a pool of their own, checked by mmap. */
	if (o->mem != TOOL_MEM_HUGETLB &&
	    tool_check_memory("clear", o, o->size))
		return 1;
	if (clear_map(o, &m))
		return 1;
	err = clear_buffer(o, m.buf, m.len, m.granule, r);
	r->how = "memset";
	snprintf(r->method, sizeof(r->method), "memset, %zu %s",
		 r->stats.ks_helpers + 1,
		 tool_plural(r->stats.ks_helpers + 1, "thread", "threads"));
	if (err) {
		tool_error("clear", "%s", strerror(err < 0 ? -err : err));
	} else if (ktask_run(m.buf, m.len, &verify)) {
		tool_error("clear", "memory did not read back as zero");
		err = -EIO;
	}
	munmap(m.base, m.map_len);
	return err ? 1 : 0;
}

/* `ktask clear [SIZE]`: SIZE defaults to 1 GiB. */
int cmd_clear(struct tool_opts *o, int argc, char **argv)
{
	int ret = tool_check_opts("clear", o, TOOL_OPT_MEM | TOOL_OPT_FORCE,
				  argc, 0, 1);
	struct tool_result r = { 0 };

	if (ret)
		return ret;
	o->size = 1UL << 30;
	if (argc && (ret = tool_parse_size("clear", argv[0], &o->size)))
		return ret;
	ret = clear_do(o, &r);
	if (!ret)
		tool_report(o, &r);
	return ret;
}
