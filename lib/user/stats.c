// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * stats.c - what was decided for a task: ktask_last_stats() reads the
 * calling thread's last record, and KTASK_DEBUG=1 tells it on stderr.
 */
#include "pool.h"

static KTASK_TLS struct ktask_stats tls_stats;

/*
 * Whether a setting's value (KTASK_DEBUG, KTASK_ALONE) means on: anything
 * but the words for off; NULL (unset) is off.
 */
bool ktask_env_on(const char *s)
{
	static const char *const off[] = { "", "0", "false", "no", "off", "n",
					   "f" };

	if (!s)
		return false;
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (!strcasecmp(s, off[i]))
			return false;
	return true;
}

/* KTASK_DEBUG=1: tell on stderr what was decided for each task. */
static bool debug_enabled(void)
{
	static int debug = -1;
	int d = __atomic_load_n(&debug, __ATOMIC_RELAXED);

	if (d < 0) {
		d = ktask_env_on(secure_getenv("KTASK_DEBUG"));
		__atomic_store_n(&debug, d, __ATOMIC_RELAXED);
	}
	return d;
}

/*
 * One line on stderr per task.  Formatted here and written with one
 * write(2), not stdio: a signal handler's ktask_run() may interrupt this
 * thread inside fprintf(), or the program's own, and stdio's lock on
 * stderr would then be held by the very thread that waits for it.
 */
static void debug_note(const struct ktask_stats *stats)
{
	const struct ktask_cpus *cpus = &ktask_tls_cpus;
	char quota[320] = "none", source[256], line[1024];
	int n;

	if (stats->ks_threads == 1 && !stats->ks_max_threads) {
		n = snprintf(line, sizeof(line), "ktask: %zu units: inline, "
			     "one chunk per node (no more than one minimum "
			     "chunk, or serial build)\n", stats->ks_total_size);
	} else {
		if (cpus->kc_quota_milli) {
			ktask_topo_quota_source(source, sizeof(source));
			snprintf(quota, sizeof(quota), "%ld.%03ld CPUs from %s",
				 cpus->kc_quota_milli / 1000,
				 cpus->kc_quota_milli % 1000, source);
		}
		n = snprintf(line, sizeof(line), "ktask: %zu units: usable "
			"CPUs %zu (online %zu, affinity %zu, cgroup quota %s%s), "
			"max threads %zu%s; threads %zu, helpers started %zu, "
			"chunk %zu%s\n",
			stats->ks_total_size, cpus->kc_usable, cpus->kc_online,
			cpus->kc_affinity, quota,
			ktask_topo_is_fake() ? ", fake topology" : "",
			stats->ks_max_threads,
			ktask_pool.env_max_threads ? " (KTASK_MAX_THREADS)" : "",
			stats->ks_threads, stats->ks_helpers,
			stats->ks_chunk_size,
			stats->ks_threads > 1 ? "" :
			ktask_tls_call && ktask_tls_call->kpc_choice &&
			ktask_tls_call->kpc_alone ?
			" (inline: a short task run alone by the timed choice, "
			"KTASK_ALONE)" : " (inline)");
	}
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* Best effort, as stdio's would be: a lost line is not an error. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void ktask_plat_note(const struct ktask_stats *stats)
{
	/* The interrupted call's record stays whole: it may be writing it. */
	if (ktask_tls_busy)
		return;
	busy_enter();
	tls_stats = *stats;
	/* In the region too: it takes the quota cache's lock. */
	if (ktask_unlikely(debug_enabled())) {
		int64_t t = mono_ns();

		debug_note(stats);
		/* The report is not the task's: keep it out of its time. */
		if (ktask_tls_call && ktask_tls_call->kpc_choice)
			ktask_tls_call->kpc_t0 += mono_ns() - t;
	}
	busy_exit();
}

KTASK_PUBLIC void ktask_last_stats(struct ktask_stats *stats)
{
	*stats = tls_stats;
}
