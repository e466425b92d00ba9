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
#
# Left out, with the reason (a stub in its place exits with kselftest's
# skip code, 4, so that run_vmtests.sh reports "ok N name # SKIP"):
#   hugetlb_fault_after_madv  10000 rounds of two new threads racing
#                             madvise() against faults: still running
#                             after 7 minutes in the TCG guest on
#                             Debian's 6.12.118 (a plain 6.12)
#   charge_reserved_hugetlb.sh, hugetlb_reparenting_test.sh
#                             background writers outlive a timeout and
#                             keep the output open; past 75 s under TCG
set -u
dir=${1:?usage: mm-hugetlb.sh DIR}
cd "$dir" || exit 1

skip() {
	[ -e "$1" ] || return 0
	printf '#!/bin/sh\necho "SKIP: %s"\nexit 4\n' "$2" >"$1"
	chmod +x "$1"
}
skip hugetlb_fault_after_madv "10000 racing rounds: longer than 7 minutes under TCG"
# bound NAME SECONDS: NAME runs at most that long and then counts as
# skipped (exit 4, judged against plain 6.12 like any skip: a test that
# passes there and times out here is a regression).
bound() {
	[ -e "$1" ] || return 0
	mv "$1" "$1.real"
	cat >"$1" <<BOUND
#!/bin/sh
timeout $2 "./$1.real" "\$@"
rc=\$?
# GNU timeout says 124; busybox's returns the killed test's 128 + SIGTERM.
case \$rc in 124|143) ;; *) exit \$rc ;; esac
echo "SKIP: $1: longer than $2 s under TCG"
exit 4
BOUND
	chmod +x "$1"
}
for t in hugepage-shm hugepage-mremap hugetlb-madvise thuge-gen; do
	bound "$t" 75
done
# The two cgroup scripts start writers in the background that outlive a
# timeout and keep the output pipe open: on plain 6.12 in the TCG guest
# charge_reserved_hugetlb.sh ran past 75 s and held the set past run.sh's
# 600 s.  guest/ktask-cgroup.c checks hugetlb charging to the caller's group.
skip charge_reserved_hugetlb.sh "background writers outlive a timeout; longer than 75 s under TCG"
skip hugetlb_reparenting_test.sh "as charge_reserved_hugetlb.sh, in the same cgroup set-up"
# Streamed, so that a test that hangs until run.sh's timeout still leaves
# the results before it on the console.
bash ./run_vmtests.sh -t hugetlb 2>&1 |
	awk '{ sub(/^TAP version 13$/, "KTAP version 1"); sub(/^# /, "    "); print; fflush() }'
exit 0
