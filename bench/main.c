// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * main.c - ktask-bench: runs workloads on peers and writes CSV rows.
 *
 *   ktask-bench [-m tiny|quick|full] [-w 1,3,...] [-p ktask,gomp,...]
 *               [-o results.csv] [-c rounds-per-us] [-C] [-l]
 *
 * -C prints this machine's calibration of the unit of work and exits; -c
 * gives it back, so that every process of one run does the same work.
 *
 * Workloads run one after another, and within a workload each peer in
 * turn, with a pause between peers so that one peer's spinning workers have
 * gone to sleep before the next is timed.  bench/run.sh runs each peer in a
 * process of its own, which isolates them completely, and merges the rows.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "work.h"
#include "workloads.h"

const struct bench_workload bench_workloads[] = {
	{ "forkjoin", wl_forkjoin, "back-to-back 2-chunk tasks" },
	{ "periodic", wl_periodic, "a small task every 1 ms" },
	{ "zero", wl_zero, "zero a prefaulted buffer" },
	{ "populate", wl_populate, "first touch of a fresh mapping" },
	{ "uneven", wl_uneven, "unit i costs i: makespan" },
	{ "list", wl_list, "1M-node linked list through an iterator" },
	{ "callers", wl_callers, "8 application threads at once" },
	{ "quota", wl_quota, "inside a 0.5-CPU cgroup" },
	{ "tiny", wl_tiny, "tasks below the minimum chunk" },
};
const size_t bench_nr_workloads =
	sizeof(bench_workloads) / sizeof(bench_workloads[0]);

/* Whether @name or its number @nr is in the comma list @list (NULL: all). */
static int listed(const char *list, const char *name, size_t nr)
{
	char buf[512], *tok, *save;

	if (!list)
		return 1;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, name) || (nr && strtoul(tok, NULL, 10) == nr))
			return 1;
	return 0;
}

/*
 * The peer's name in the results: "gomp", or "gomp-passive" and so on, and
 * "gomp-t16" when BENCH_THREADS=16 told a peer that sizes its own team to
 * start 16 threads (bench_threads()).  That plays a program on a 16-CPU
 * host only if the runtime sees 16 CPUs too (bench/fakecpus.c, loaded by
 * run.sh); where it sees fewer, it knows it is oversubscribed and behaves
 * otherwise, and the label says so: "gomp-t16-unshimmed".
 */
static void peer_label(const struct bench_peer *p, char *buf, size_t len)
{
	const char *v = p->variant_env ? getenv(p->variant_env) : NULL;
	size_t i, n;

	n = snprintf(buf, len, "%s", p->name);
	if (v && *v && n < len)
		n += snprintf(buf + n, len - n, "-%s", v);
	if (p->sized && bench_threads() && n < len)
		n += snprintf(buf + n, len - n, "-t%u", bench_threads());
	if (p->sized && bench_opts.cpus < bench_threads() && n < len)
		snprintf(buf + n, len - n, "-unshimmed");
	for (i = 0; buf[i]; i++)
		buf[i] = isalnum((unsigned char)buf[i]) || buf[i] == '-' ?
			 tolower((unsigned char)buf[i]) : '_';
}

static void usage(void)
{
	size_t i;

	fprintf(stderr, "usage: ktask-bench [-m tiny|quick|full] [-w LIST] "
			"[-p LIST] [-o FILE] [-c CAL] [-C] [-l]\nworkloads:\n");
	for (i = 0; i < bench_nr_workloads; i++)
		fprintf(stderr, "  %zu %-9s %s\n", i + 1,
			bench_workloads[i].name, bench_workloads[i].what);
	fprintf(stderr, "peers:");
	for (i = 0; bench_peers[i]; i++)
		fprintf(stderr, " %s", bench_peers[i]->name);
	fprintf(stderr, "\n");
}

static int parse_mode(const char *s)
{
	if (!strcmp(s, "tiny"))
		bench_opts.mode = BENCH_TINY;
	else if (!strcmp(s, "quick"))
		bench_opts.mode = BENCH_QUICK;
	else if (!strcmp(s, "full"))
		bench_opts.mode = BENCH_FULL;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *wl = NULL, *peers = NULL;
	double calibration = 0;
	char label[64];
	size_t w, p;
	int opt, ran = 0;

	bench_opts.csv = stdout;
	while ((opt = getopt(argc, argv, "m:w:p:o:c:Clh")) != -1) {
		switch (opt) {
		case 'm':
			if (parse_mode(optarg))
				goto bad;
			break;
		case 'w':
			wl = optarg;
			break;
		case 'p':
			peers = optarg;
			break;
		case 'o':
			bench_opts.csv = fopen(optarg, "w");
			if (!bench_opts.csv) {
				perror(optarg);
				return 1;
			}
			break;
		case 'c':
			calibration = strtod(optarg, NULL);
			break;
		case 'C':
			work_calibrate();
			printf("%.6g\n", work_get_calibration());
			return 0;
		case 'l':
			usage();
			return 0;
		default:
			goto bad;
		}
	}
	bench_init_cpus();
	if (calibration > 0)
		work_set_calibration(calibration);
	else
		work_calibrate();
	for (w = 0; w < bench_nr_workloads; w++) {
		if (!listed(wl, bench_workloads[w].name, w + 1))
			continue;
		for (p = 0; bench_peers[p]; p++) {
			if (!listed(peers, bench_peers[p]->name, 0))
				continue;
			/* Let the last peer's idle workers go to sleep. */
			if (ran++)
				bench_sleep_us(BENCH_BY_MODE(20000, 300000,
							     500000));
			peer_label(bench_peers[p], label, sizeof(label));
			fprintf(stderr, "ktask-bench: %s on %s\n",
				bench_workloads[w].name, label);
			bench_workloads[w].run(bench_peers[p], label);
		}
	}
	if (bench_opts.csv != stdout)
		fclose(bench_opts.csv);
	return 0;
bad:
	usage();
	return 2;
}
