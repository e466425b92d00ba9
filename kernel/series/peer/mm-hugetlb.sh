#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# mm-hugetlb.sh - runs the kernel's mm selftests' hugetlb set
# ("run_vmtests.sh -t hugetlb", tools/testing/selftests/mm) in the series'
# guest and prints its results as one KTAP document.  run.sh builds the
# set statically from the kernel tree and puts it, with run_vmtests.sh and
# its shell helpers, in the directory given as $1; run_vmtests.sh needs
# bash, which run.sh adds as /bin/bash (Debian's bash-static).  The test
# output, which run_vmtests.sh prefixes "# ", is indented instead, so that
# it stays in the serial log without being counted or summed up.
set -u
dir=${1:?usage: mm-hugetlb.sh DIR}
cd "$dir" || exit 1
bash ./run_vmtests.sh -t hugetlb >/tmp/mm-hugetlb.out 2>&1
echo "# run_vmtests.sh -t hugetlb exited $?"
sed -e 's/^TAP version 13$/KTAP version 1/' -e 's/^# /    /' /tmp/mm-hugetlb.out
exit 0
