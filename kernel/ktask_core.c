// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ktask_core.c - compiles the portable core, lib/ktask.c, into ktask.ko.
 *
 * The core is included rather than copied, so the module runs exactly the
 * code the userland tests exercise.  Its quoted includes resolve next to
 * lib/ktask.c, and lib/platform.h picks "plat_kernel.h" under __KERNEL__,
 * which Kbuild's -I$(src) finds in this directory.
 */
#include "../lib/ktask.c"
