// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fault.c - injected faults for tests: failing allocation sites
 * (KTASK_FAULT_ALLOC, see fault.h) and, in debug-yield builds, random
 * delays at the core's race windows.
 *
 * The settings are read from the environment once, with secure_getenv(),
 * so that a set-user-ID or otherwise privileged program ignores them.  Random choices use a
 * per-thread seed, so that threads do not contend on one.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../platform.h"
#include "fault.h"

#define FAULT_SPEC_MAX 256

static char fault_spec[FAULT_SPEC_MAX];
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

static void fault_init(void)
{
	/* secure_getenv(): a privileged program cannot be made to fail. */
	const char *s = secure_getenv("KTASK_FAULT_ALLOC");

	if (s)
		snprintf(fault_spec, sizeof(fault_spec), "%s", s);
}

/* A random number for this thread, seeded from its stack address. */
static unsigned int fault_random(void)
{
	static __thread unsigned int seed;

	if (!seed)
		seed = (unsigned int)(uintptr_t)&seed ^
		       (unsigned int)time(NULL) ^ 0x9e3779b9u;
	return (unsigned int)rand_r(&seed);
}

/*
 * The "one in N" of @site in the spec: 1 for "site" alone, N for "site:N",
 * 0 when the spec does not name it.
 */
static unsigned long fault_rate(const char *site)
{
	size_t len = strlen(site);
	const char *p = fault_spec;

	while (*p) {
		size_t n = strcspn(p, ",:");
		bool match = (n == len && !strncmp(p, site, len)) ||
			     (n == 3 && !strncmp(p, "all", 3));
		unsigned long rate = 1;

		if (p[n] == ':')
			rate = strtoul(p + n + 1, NULL, 10);
		if (match)
			return rate ? rate : 1;
		p += n + strcspn(p + n, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

bool ktask_fault_alloc(const char *site)
{
	unsigned long rate;

	pthread_once(&fault_once, fault_init);
	if (!fault_spec[0])
		return false;
	rate = fault_rate(site);
	return rate && (rate == 1 || fault_random() % rate == 0);
}

#ifdef KTASK_DEBUG_YIELD
/*
 * A slow thread at @point: usually nothing, sometimes a yield, now and then
 * a sleep of up to 200 microseconds, which is long next to a chunk of the
 * torture test and so lets other threads overtake this one.
 */
void ktask_plat_debug_delay(enum ktask_delay_point point)
{
	unsigned int r = fault_random();
	struct timespec ts = { 0, 0 };

	(void)point;
	if (r % 4 == 0) {
		sched_yield();
	} else if (r % 32 == 1) {
		ts.tv_nsec = (long)(r / 32 % 200) * 1000;
		nanosleep(&ts, NULL);
	}
}
#endif
