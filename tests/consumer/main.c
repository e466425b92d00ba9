// SPDX-License-Identifier: MIT
/* A program built against an installed libktask, as a user would. */
#include <ktask.h>
#include <stdio.h>

static int add(char *start, char *end, long *sum)
{
	__atomic_fetch_add(sum, end - start, __ATOMIC_RELAXED);
	return KTASK_RETURN_SUCCESS;
}

int main(void)
{
	long sum = 0;
	DEFINE_KTASK_CTL(ctl, add, &sum, 1000);
	int err = ktask_run(NULL, 1000000, &ctl);

	printf("%ld\n", sum);
	return err || sum != 1000000;
}
