// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pool.c - the pool's state and its start: the one struct ktask_pool of
 * the process, the settings read once from the environment, and the fork
 * handlers' registration (fork.c).  pool.h says which file holds what of
 * the pool, and holds the lock legend ([P], [O], [S], [A]) of them all.
 */
#include "pool.h"

#define DEFAULT_IDLE_MS 2000

struct ktask_pool ktask_pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
bool ktask_pool_ready;		/* [A] pool_init() has run */

#ifdef KTASK_TEST_HOOKS
void (*ktask_test_hook_fn)(enum ktask_hook_point point);
unsigned long ktask_test_affinity_calls;
unsigned long ktask_test_wake_calls;
#endif

/*
 * Regions of the pool that a signal handler's ktask_run() must not enter
 * on the thread it interrupted: with pool.lock held, inside pool_once or
 * a fork handler, reading the view (the quota cache's lock).  A call made
 * by a handler that interrupted one of them finds ktask_tls_busy set and runs
 * inline, in the handler, touching no lock (ktask_plat_max_threads()).
 * The compiler fences keep the count's updates around the region's code;
 * only this thread and its signal handlers read it.
 */
KTASK_TLS unsigned int ktask_tls_busy;

/*
 * Reads a decimal number from the environment; @unset if unset or
 * malformed.
 * Every setting is read with secure_getenv(): a set-user-ID or otherwise
 * privileged program ignores them all, hooks for tests included.
 */
static unsigned long env_number(const char *name, unsigned long unset)
{
	const char *s = secure_getenv(name);
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return unset;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end)
		return unset;
	return v;
}

static void pool_init(void)
{
	/* 0: a worker exits as soon as its spin after a task ends. */
	unsigned long ms = env_number("KTASK_IDLE_MS", DEFAULT_IDLE_MS);
	const char *fault = secure_getenv("KTASK_FAULT_THREAD_CREATE");

	ktask_pool.env_max_threads = env_number("KTASK_MAX_THREADS", 0);
	/* 0 or off: short tasks always get helpers (choice.c). */
	const char *alone = secure_getenv("KTASK_ALONE");

	ktask_pool.timed_choice = !alone || ktask_env_on(alone);
	/* "always", or N to fail one thread creation in N at random. */
	if (fault && !strcmp(fault, "always"))
		ktask_pool.fail_create = 1;
	else
		ktask_pool.fail_create =
			env_number("KTASK_FAULT_THREAD_CREATE", 0);
	ktask_pool.idle_ms = ms > INT_MAX ? INT_MAX : ms;
	ktask_pool_view_clock();
	sigfillset(&ktask_pool.all);
	/* Between tasks workers run on their callers' CPUs (handoff.c). */
	CPU_ZERO(&ktask_pool.mask);
	ktask_topo_init();
	ktask_test_hook(KTASK_HOOK_POOL_INIT);
	pthread_atfork(ktask_pool_fork_prepare, ktask_pool_fork_parent,
		       ktask_pool_fork_child);
	__atomic_store_n(&ktask_pool_ready, true, __ATOMIC_RELEASE);
}

/* Initializes the pool once, as a region a signal handler's call avoids. */
void ktask_pool_init_once(void)
{
	busy_enter();
	pthread_once(&pool_once, pool_init);
	busy_exit();
}
