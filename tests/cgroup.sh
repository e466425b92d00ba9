#!/bin/sh
# cgroup.sh - a real CPU quota: makes a cgroup limited to half a CPU
# (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us), runs a program inside it that
# checks ktask plans one thread there, and removes the cgroup.  Exits 77
# (skipped) where no cgroup can be made (not root, no cpu controller).
#
#   usage: cgroup.sh TEST_TOPO
set -u
prog=$1
fs=/sys/fs/cgroup
name=ktask-test-$$

skip() { echo "cgroup: skipped: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root"
if [ -f "$fs/cgroup.controllers" ]; then
	grep -qw cpu "$fs/cgroup.controllers" || skip "no cpu controller (v2)"
	grep -qw cpu "$fs/cgroup.subtree_control" ||
		echo +cpu >"$fs/cgroup.subtree_control" 2>/dev/null ||
		skip "cannot enable the cpu controller (v2)"
	cg=$fs/$name
	mkdir "$cg" 2>/dev/null || skip "cannot create $cg"
	echo "50000 100000" >"$cg/cpu.max" || { rmdir "$cg"; skip "cannot set cpu.max"; }
	kind="v2 cpu.max 50000 100000"
else
	cg=""
	for m in cpu cpu,cpuacct cpuacct,cpu; do
		[ -f "$fs/$m/cpu.cfs_quota_us" ] && { cg=$fs/$m/$name; break; }
	done
	[ -n "$cg" ] || skip "no cgroup v1 cpu controller under $fs"
	mkdir "$cg" 2>/dev/null || skip "cannot create $cg"
	echo 100000 >"$cg/cpu.cfs_period_us" && echo 50000 >"$cg/cpu.cfs_quota_us" ||
		{ rmdir "$cg"; skip "cannot set the quota"; }
	kind="v1 cpu.cfs_quota_us 50000 / cpu.cfs_period_us 100000"
fi

echo "cgroup: $cg ($kind)"
# The child moves itself in, then becomes the test.
KTASK_DEBUG=1 sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" expect 1' sh "$cg" "$prog"
rc=$?
rmdir "$cg" 2>/dev/null || sleep 1; rmdir "$cg" 2>/dev/null
exit $rc
