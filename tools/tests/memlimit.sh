#!/bin/sh
# memlimit.sh - clear and populate refuse, up front, a size beyond the
# memory the process may use, and name the limit: MemAvailable, and the
# memory cgroup's limit (v1 and v2, the nearest and its ancestors).  A real
# memory cgroup where the machine has one (root), and fake cgroup trees
# (KTASK_CGROUP_FS, KTASK_PROC_CGROUP) for the version the machine lacks.
#
#   usage: memlimit.sh PATH/TO/ktask
set -u
KTASK=$1
. "$(dirname "$0")/lib.sh"

# refused WHAT PATTERN CMD...: exit 1, one line naming the limit.
refused() {
	what=$1 pattern=$2
	shift 2
	"$@" >/dev/null 2>"$LIB_TMP/err"
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$(wc -l <"$LIB_TMP/err")" -eq 1 ] &&
	   grep -q -- "$pattern" "$LIB_TMP/err"; then
		ok "$what: $(cat "$LIB_TMP/err")"
	else
		fail "$what: exit $rc: $(cat "$LIB_TMP/err")"
	fi
}

# MemAvailable: 64 TiB is more than any test machine has.
refused "MemAvailable" "MemAvailable in /proc/meminfo" "$KTASK" clear 64T
refused "MemAvailable, populate" "more memory than this process may use" \
	"$KTASK" populate 64T
refused "MemAvailable, populate --read" "more memory than this process may use" \
	"$KTASK" populate --read 64T

# Fake v2 tree: a 64 MiB limit, then a smaller one on the parent.
cg=$LIB_TMP/cg2
mkdir -p "$cg/a/b"
echo "cpu memory pids" >"$cg/cgroup.controllers"
echo 67108864 >"$cg/a/b/memory.max"
echo 1048576 >"$cg/a/b/memory.current"
echo max >"$cg/a/memory.max"
printf 'anon 1048576\nactive_file 0\ninactive_file 0\n' >"$cg/a/b/memory.stat"
echo "0::/a/b" >"$LIB_TMP/self2"
export KTASK_CGROUP_FS=$cg KTASK_PROC_CGROUP=$LIB_TMP/self2
refused "fake v2" "memory cgroup $cg/a/b has a limit of 64 MiB, 1 MiB in use" \
	"$KTASK" clear 128M
"$KTASK" --quiet clear 16M >/dev/null || fail "fake v2: 16M under a 64 MiB limit refused"
echo 33554432 >"$cg/a/memory.max"
refused "fake v2, ancestor" "memory cgroup $cg/a has a limit of 32 MiB" \
	"$KTASK" populate 48M
"$KTASK" --quiet --force clear 48M >/dev/null || fail "fake v2: --force did not go on"

# Fake v1 tree, with page cache that could be reclaimed counted as room.
cg=$LIB_TMP/cg1
mkdir -p "$cg/memory/x"
echo 67108864 >"$cg/memory/x/memory.limit_in_bytes"
echo 50331648 >"$cg/memory/x/memory.usage_in_bytes"
printf 'total_active_file 16777216\ntotal_inactive_file 16777216\n' >"$cg/memory/x/memory.stat"
echo 9223372036854771712 >"$cg/memory/memory.limit_in_bytes"
echo "4:memory:/x" >"$LIB_TMP/self1"
export KTASK_CGROUP_FS=$cg KTASK_PROC_CGROUP=$LIB_TMP/self1
refused "fake v1" "memory cgroup $cg/memory/x has a limit of 64 MiB, 16 MiB in use" \
	"$KTASK" clear 96M
"$KTASK" --quiet clear 32M >/dev/null || fail "fake v1: reclaimable cache not counted as room"
unset KTASK_CGROUP_FS KTASK_PROC_CGROUP

# A real memory cgroup with a 256 MiB limit (room for a sanitizer's own
# memory), v1 or v2, whichever is here.
real_cgroup() {
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: real memory cgroup: needs root"; return; }
	v1=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
	v2=$(awk -F: '$1 == 0 { print $3 }' /proc/self/cgroup)
	if [ -n "$v1" ] && [ -w "/sys/fs/cgroup/memory$v1" ]; then
		dir=/sys/fs/cgroup/memory$v1/ktask-test-$$
		mkdir "$dir" && echo 268435456 >"$dir/memory.limit_in_bytes" || return
		ver=v1
	elif [ -n "$v2" ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		dir=/sys/fs/cgroup$v2/ktask-test-$$
		mkdir "$dir" && echo 268435456 >"$dir/memory.max" || return
		ver=v2
	else
		echo "SKIP: real memory cgroup: no writable memory controller"
		return
	fi
	inside() {
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$dir" "$@"
	}
	refused "real $ver cgroup, clear" "memory cgroup .*ktask-test-$$ has a limit of 256 MiB" \
		inside "$KTASK" clear 1G
	refused "real $ver cgroup, populate" "ktask-test-$$ has a limit of 256 MiB" \
		inside "$KTASK" populate 1G
	inside "$KTASK" --quiet clear 16M >/dev/null || fail "real $ver cgroup: 16M refused"
	# What the check prevents: past the limit, the OOM killer (137).
	inside "$KTASK" --quiet --force clear 1G >/dev/null 2>&1
	rc=$?
	[ "$rc" -ne 0 ] || fail "real $ver cgroup: 1G under a 256 MiB limit succeeded?"
	ok "real $ver cgroup: --force past the limit ends with exit $rc"
	rmdir "$dir"
}
real_cgroup
exit $FAILED
