// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * view.c - the calling thread's view of itself, and what a task of it may
 * use.  A caller's CPUs (topology.c), nice value, scheduling policy and
 * security state (caller.c) and signal mask are read into thread-local
 * records at most every VIEW_REFRESH_MS; a task copies them
 * (ktask_plat_task_init(), handoff.c) and its helpers take them on
 * (worker.c, worker_enter()).  Locks: pool.h's legend.
 */
#include "pool.h"

/*
 * The calling thread's view of its CPUs, nice value, scheduling policy,
 * security state and signal mask.  System calls
 * cost microseconds in some virtual machines, more than a small task's
 * whole fork and join (reading the signal mask for each task made
 * back-to-back tasks 4x slower), so the view is read again only when it
 * may be VIEW_REFRESH_MS old: a change is followed within that time, on
 * the precise clock (ktask_pool_view_clock()).
 */
#define VIEW_REFRESH_MS 10

/* The view (pool.h says what each record holds). */
KTASK_TLS struct ktask_cpus ktask_tls_cpus;
KTASK_TLS int ktask_tls_nice;
KTASK_TLS sigset_t ktask_tls_sigmask;
KTASK_TLS int64_t ktask_tls_view_ms;
KTASK_TLS struct ktask_sched ktask_tls_sched;
KTASK_TLS struct ktask_creds ktask_tls_creds;
KTASK_TLS int ktask_tls_floor;
KTASK_TLS bool ktask_tls_grant;
KTASK_TLS bool ktask_tls_mask_added;
static KTASK_TLS bool tls_have_creds;	/* ktask_tls_creds were read once */

/*
 * The lowest nice value this thread may set: any with CAP_SYS_NICE in its
 * effective set (being root is not enough: a container's root often lacks
 * it), else down to the RLIMIT_NICE ceiling, 20 - rlim_cur.
 */
int ktask_nice_floor(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	struct rlimit rl;
	long floor;

	if (!syscall(SYS_capget, &hdr, data) &&
	    (data[CAP_SYS_NICE / 32].effective & (1u << CAP_SYS_NICE % 32)))
		return -20;
	if (getrlimit(RLIMIT_NICE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 40)
		return rl.rlim_cur == RLIM_INFINITY ? -20 : 20;
	floor = 20 - (long)rl.rlim_cur;
	return floor < -20 ? -20 : (int)floor;
}

/*
 * The clock of the callers' views: CLOCK_MONOTONIC (vDSO, no system call
 * on most machines; about 20 ns).  CLOCK_MONOTONIC_COARSE costs less but
 * is not bounded by its resolution: on the project's VM (a tick of 4 ms)
 * it lagged the precise clock by up to 7.5 ms, more than the tick in 55 of
 * 300 wake-ups from a 10 ms sleep, where the host had delayed the guest's
 * tick; a view 10 ms old then looked 3 ms old, and test_view_age saw
 * helper chunks at a nice value changed 10 ms before (2-7 of 80, on the
 * idle VM).  So "within VIEW_REFRESH_MS" holds only with the precise clock.
 */
void ktask_pool_view_clock(void)
{
	ktask_pool.view_clock = CLOCK_MONOTONIC;
	ktask_pool.view_refresh_ms = VIEW_REFRESH_MS;
}

/*
 * Reads the caller's CPUs, nice value, policy and security state if its
 * view is stale.  The nice floor is read again when its capabilities or
 * ids changed (a daemon that dropped its privileges).
 */
static void refresh_view(void)
{
	int64_t now = view_ms();
	struct ktask_creds creds;

	if (ktask_tls_view_ms &&
	    now - ktask_tls_view_ms < ktask_pool.view_refresh_ms)
		return;
	ktask_topo_cpus(&ktask_tls_cpus);
	ktask_tls_mask_added = false;
	if (!ktask_sched_read(&ktask_tls_sched)) {
		ktask_tls_sched.kss_policy = SCHED_OTHER;
		ktask_tls_sched.kss_prio = 0;
		ktask_tls_sched.kss_nice = thread_nice(0);
	}
	ktask_tls_nice = ktask_tls_sched.kss_nice;
	ktask_creds_read(&creds);
	if (!tls_have_creds ||
	    ktask_creds_rights_changed(&creds, &ktask_tls_creds))
		ktask_tls_floor = ktask_nice_floor();
	ktask_tls_creds = creds;
	tls_have_creds = true;
	ktask_tls_grant = ktask_sched_grantable(&ktask_tls_sched, &creds);
	pthread_sigmask(SIG_BLOCK, NULL, &ktask_tls_sigmask);
	ktask_test_hook(KTASK_HOOK_SIGMASK_READ);
	ktask_tls_view_ms = now;
}

/*
 * Usable CPUs for a task over @nodes: the caller's usable CPUs, or only
 * those on the nodes named when no node is NUMA_NO_NODE.
 */
size_t ktask_plat_max_threads(const struct ktask_node *nodes, size_t nr_nodes)
{
	struct ktask_cpus *cpus = &ktask_tls_cpus;
	size_t n = 0, i;
	cpu_set_t on_nodes;

	/*
	 * A signal handler's call on a thread the signal caught inside the
	 * pool: one thread, inline, with no lock (not even pool_once's).
	 */
	if (ktask_tls_busy)
		return 1;
	pool_start();
	busy_enter();
	refresh_view();
	busy_exit();
	CPU_ZERO(&on_nodes);
	for (i = 0; i < nr_nodes; i++) {
		if (!nodes[i].kn_task_size)
			continue;
		if (nodes[i].kn_nid == NUMA_NO_NODE)
			break;
		CPU_OR(&on_nodes, &on_nodes,
		       ktask_topo_node_mask(nodes[i].kn_nid));
	}
	if (i == nr_nodes) {
		CPU_AND(&on_nodes, &on_nodes, &cpus->kc_mask);
		n = CPU_COUNT(&on_nodes);
	}
	if (!n || n > cpus->kc_usable)
		n = cpus->kc_usable;
	if (ktask_pool.env_max_threads && ktask_pool.env_max_threads < n)
		n = ktask_pool.env_max_threads;
	return n;
}

/*
 * Node checks need the topology, which pool_init() (pool.c) loads.  A signal
 * handler that interrupted pool_init() itself cannot have it: a named node
 * is then refused.
 */
bool ktask_plat_node_valid(int nid)
{
	if (ktask_tls_busy &&
	    !__atomic_load_n(&ktask_pool_ready, __ATOMIC_ACQUIRE))
		return false;
	pool_start();
	return ktask_topo_node_valid(nid);
}

int ktask_plat_current_node(void)
{
	if (ktask_tls_busy &&
	    !__atomic_load_n(&ktask_pool_ready, __ATOMIC_ACQUIRE))
		return NUMA_NO_NODE;
	pool_start();
	return ktask_topo_current_node();
}

/* The next task of this thread reads its view (refresh_view()) anew. */
KTASK_PUBLIC void ktask_thread_changed(void)
{
	ktask_tls_view_ms = 0;
}
