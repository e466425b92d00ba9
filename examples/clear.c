// SPDX-License-Identifier: MIT
/*
 * clear.c - the seed's example: clear a large buffer in parallel.
 *
 * The loop that used to clear the whole buffer moves into a thread function
 * that clears [start, end); where the loop was, ktask_run() is called with
 * the start of the buffer, its size and the thread function.
 *
 *   usage: clear [MiB]      (default 1024)
 */
#include <ktask.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static int clear_chunk(void *start, void *end, void *arg)
{
	(void)arg;
	memset(start, 0, (char *)end - (char *)start);
	return KTASK_RETURN_SUCCESS;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoull(argv[1], NULL, 0) : 1024;
	size_t size = mib << 20;
	/* Chunks of at least 2 MiB: enough work to be worth a thread. */
	DEFINE_KTASK_CTL(ctl, clear_chunk, NULL, 2 << 20);
	struct ktask_stats stats;
	double t0, serial, parallel;
	char *buf;
	int err;

	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		perror("clear: mmap");
		return 1;
	}
	memset(buf, 0xa5, size);

	t0 = now();
	clear_chunk(buf, buf + size, NULL);
	serial = now() - t0;

	memset(buf, 0xa5, size);
	t0 = now();
	err = ktask_run(buf, size, &ctl);
	parallel = now() - t0;
	if (err) {
		fprintf(stderr, "clear: ktask_run: error %d\n", err);
		return 1;
	}
	ktask_last_stats(&stats);
	for (size_t i = 0; i < size; i += 4096)
		if (buf[i]) {
			fprintf(stderr, "clear: byte %zu not cleared\n", i);
			return 1;
		}
	printf("cleared %zu MiB: serial %.3f s (%.2f GB/s), ktask %.3f s "
	       "(%.2f GB/s) with %zu threads, speedup %.2fx\n",
	       mib, serial, size / serial / 1e9, parallel,
	       size / parallel / 1e9, stats.ks_helpers + 1, serial / parallel);
	munmap(buf, size);
	return 0;
}
