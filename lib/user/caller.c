// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * caller.c - reading and comparing the per-thread state that a helper must
 * share with the caller of the task it runs (docs/design.md, "A helper
 * runs as its caller").
 *
 * Linux keeps a thread's scheduling policy, its seccomp filters, its
 * no_new_privs bit, its capability sets and its user and group ids (glibc
 * sets the ids in every thread together, a raw system call in one) per
 * thread.  A worker starts with the state of the thread that created it.
 * The pool reads a caller's state with its view of the caller's CPUs
 * (view.c, refresh_view()) and a worker's when it starts a task that is
 * not its own; every read is a handful of system calls, so none of this
 * runs per task on the fast path.
 */
#include "caller.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* As pool.h's KTASK_TLS: the library's thread-local storage model. */
#define KTASK_TLS_MODEL __thread __attribute__((tls_model("initial-exec")))

/* The first version of the kernel's struct sched_attr (48 bytes). */
struct kt_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

bool ktask_sched_read(struct ktask_sched *s)
{
	struct kt_sched_attr attr = { .size = sizeof(attr) };

	if (syscall(SYS_sched_getattr, 0, &attr, sizeof(attr), 0))
		return false;
	s->kss_policy = (int)attr.sched_policy;
	s->kss_prio = (int)attr.sched_priority;
	s->kss_nice = attr.sched_nice;
	s->kss_reset = attr.sched_flags & 1;	/* SCHED_FLAG_RESET_ON_FORK */
	return true;
}

int ktask_sched_apply(pid_t tid, const struct ktask_sched *s)
{
	struct sched_param param = { .sched_priority = s->kss_prio };

	/* The nice value stays: the kernel keeps it across the change. */
	return sched_setscheduler(tid, s->kss_policy, &param) ? errno : 0;
}

bool ktask_sched_rt(int policy)
{
	return policy == SCHED_FIFO || policy == SCHED_RR;
}

bool ktask_sched_same(const struct ktask_sched *a, const struct ktask_sched *b)
{
	return a->kss_policy == b->kss_policy && a->kss_prio == b->kss_prio;
}

bool ktask_sched_grantable(const struct ktask_sched *s,
			   const struct ktask_creds *cr)
{
	struct rlimit rl;

	if (s->kss_policy == SCHED_DEADLINE)
		return false;
	if (!ktask_sched_rt(s->kss_policy))
		return true;
	if (cr->kcr_caps[0][CAP_SYS_NICE / 32] & (1u << CAP_SYS_NICE % 32))
		return true;
	return !getrlimit(RLIMIT_RTPRIO, &rl) &&
	       (rl.rlim_cur == RLIM_INFINITY ||
		rl.rlim_cur >= (rlim_t)s->kss_prio);
}

/*
 * The number after @key (with the newline before it) in the calling
 * thread's /proc/thread-self/status, read in small pieces (a caller may
 * have a small stack); -1 if unknown.
 */
static int status_number(const char *key)
{
	char buf[128];
	size_t matched = 0, keylen = strlen(key);
	int fd, n = -1, c;
	bool in_number = false;
	ssize_t len;

	fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < len; i++) {
			c = buf[i];
			if (in_number) {
				if (c == ' ' || c == '\t')
					continue;
				if (c < '0' || c > '9')
					goto out;
				n = (n < 0 ? 0 : n * 10) + (c - '0');
			} else if (c == key[matched]) {
				in_number = ++matched == keylen;
			} else {
				matched = c == '\n';
			}
		}
	}
out:
	close(fd);
	return n;
}

/*
 * Sandboxes.  Two threads whose seccomp filters number the same may still
 * have different filters, and a Landlock domain cannot be read at all
 * (only the no_new_privs it needs): no reading tells two sandboxes apart.
 * What can be told is where a thread's sandbox comes from.  Filters and
 * domains only ever grow, and a new thread starts with its creator's.
 * So:
 *
 *  - The process's own sandbox, the one it had when the library was loaded
 *    with no other thread yet (inherited at exec, as under a container's
 *    or a service manager's filter, or set up by main() first), is every
 *    later thread's that has the same mode, filter count and no_new_privs:
 *    lineage 0, shared by all such threads and their workers.  A thread
 *    with neither filters nor no_new_privs has no sandbox: lineage 0 too.
 *    A state first read while the process has one thread (main() that
 *    sandboxed itself after the library was loaded, before its first
 *    task and its other threads) becomes the process's own then.
 *  - A thread that sandboxed itself further gets a lineage of its own, a
 *    number no other thread has, the first time its state is read that
 *    way; its workers inherit it, and keep it while their state stays
 *    what they were created with.  Their sandbox is their creator's: they
 *    serve only it (and nested calls on them).
 *
 * Two threads that sandboxed themselves the same way get no shared
 * workers: a cost, not a wrong chunk.
 */
static struct {
	bool known;		/* read with one thread in the process */
	struct ktask_sandbox sb;
} base;

static KTASK_TLS_MODEL struct {
	uint64_t id;
	struct ktask_sandbox sb;	/* the state it was given for */
} tls_lineage;

static uint64_t next_lineage;		/* [A] */

static void sandbox_read(struct ktask_sandbox *sb)
{
	sb->ksb_seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	sb->ksb_filters = sb->ksb_seccomp == 2 ?
			  status_number("\nSeccomp_filters:") : 0;
	sb->ksb_nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

static bool sandbox_same(const struct ktask_sandbox *a,
			 const struct ktask_sandbox *b)
{
	return a->ksb_seccomp == b->ksb_seccomp &&
	       a->ksb_filters == b->ksb_filters && a->ksb_nnp == b->ksb_nnp;
}

/* Whether @sb was read whole: a -1 is what could not be read. */
static bool sandbox_known(const struct ktask_sandbox *sb)
{
	return sb->ksb_seccomp >= 0 && sb->ksb_filters >= 0 &&
	       sb->ksb_nnp >= 0;
}

__attribute__((constructor)) static void creds_base(void)
{
	sandbox_read(&base.sb);
	base.known = sandbox_known(&base.sb) &&
		     status_number("\nThreads:") == 1;
}

static uint64_t creds_lineage(const struct ktask_sandbox *sb)
{
	if ((!sb->ksb_seccomp && !sb->ksb_nnp) ||
	    (base.known && sandbox_same(sb, &base.sb)))
		return 0;
	if (!tls_lineage.id || !sandbox_same(sb, &tls_lineage.sb)) {
		/*
		 * The only thread (so no worker either), as main() after it
		 * sandboxed itself: every thread from now on descends from
		 * this state, which becomes the process's own.  No other
		 * thread reads base meanwhile; the next one started reads it
		 * after pthread_create().
		 */
		if (status_number("\nThreads:") == 1) {
			base.sb = *sb;
			base.known = sandbox_known(sb);
			tls_lineage.id = 0;
			return 0;
		}
		tls_lineage.id = __atomic_add_fetch(&next_lineage, 1,
						    __ATOMIC_RELAXED);
		tls_lineage.sb = *sb;
	}
	return tls_lineage.id;
}

void ktask_creds_inherit(const struct ktask_creds *cr)
{
	tls_lineage.id = cr->kcr_lineage;
	tls_lineage.sb = cr->kcr_sandbox;
}

void ktask_creds_read(struct ktask_creds *cr)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	/* Cleared: Valgrind counts capget() as writing one element only. */
	struct __user_cap_data_struct data[2] = { { 0 } };

	memset(cr, 0, sizeof(*cr));
	sandbox_read(&cr->kcr_sandbox);
	cr->kcr_lineage = creds_lineage(&cr->kcr_sandbox);
	if (!syscall(SYS_capget, &hdr, data)) {
		for (int i = 0; i < 2; i++) {
			cr->kcr_caps[0][i] = data[i].effective;
			cr->kcr_caps[1][i] = data[i].permitted;
			cr->kcr_caps[2][i] = data[i].inheritable;
		}
	} else {
		memset(cr->kcr_caps, 0xff, sizeof(cr->kcr_caps));
	}
	/* Raw system calls: glibc's are the same, but documented per thread. */
	syscall(SYS_getresuid, &cr->kcr_uid[0], &cr->kcr_uid[1],
		&cr->kcr_uid[2]);
	syscall(SYS_getresgid, &cr->kcr_gid[0], &cr->kcr_gid[1],
		&cr->kcr_gid[2]);
}

bool ktask_creds_equal(const struct ktask_creds *a, const struct ktask_creds *b)
{
	return sandbox_same(&a->kcr_sandbox, &b->kcr_sandbox) &&
	       a->kcr_lineage == b->kcr_lineage &&
	       !ktask_creds_rights_changed(a, b);
}

bool ktask_creds_rights_changed(const struct ktask_creds *a,
				const struct ktask_creds *b)
{
	return memcmp(a->kcr_caps, b->kcr_caps, sizeof(a->kcr_caps)) ||
	       memcmp(a->kcr_uid, b->kcr_uid, sizeof(a->kcr_uid)) ||
	       memcmp(a->kcr_gid, b->kcr_gid, sizeof(a->kcr_gid));
}
