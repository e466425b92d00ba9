/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * childcheck.h - CHECK() for tests that run in a child process: a failed
 * check says where and ends the child with status 1.  C and C++.
 */
#ifndef KTASK_TESTS_CHILDCHECK_H
#define KTASK_TESTS_CHILDCHECK_H

#include <stdio.h>
#include <unistd.h>

/* In a child: a failed check ends it with status 1, and says where. */
#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: check failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			_exit(1);					\
		}							\
	} while (0)

#endif /* KTASK_TESTS_CHILDCHECK_H */
