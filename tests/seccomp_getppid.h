/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * seccomp_getppid.h - the seccomp filters the tests give a sandboxed
 * thread: one system call (usually getppid()) fails with EPERM, everything
 * else is allowed.  Used by test_caller and the torture run's "filtered"
 * persona.
 */
#ifndef KTASK_TESTS_SECCOMP_GETPPID_H
#define KTASK_TESTS_SECCOMP_GETPPID_H

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Installs a filter in this thread (and threads it creates) under which
 * system call @nr fails with EPERM.
 */
static inline bool kt_filter_deny(long nr)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(code) / sizeof(code[0]),
		.filter = code,
	};

	return !syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* The tests' usual filter: getppid() fails with EPERM. */
static inline bool kt_filter_getppid(void)
{
	return kt_filter_deny(SYS_getppid);
}

#endif /* KTASK_TESTS_SECCOMP_GETPPID_H */
