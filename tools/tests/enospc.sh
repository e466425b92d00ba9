#!/bin/sh
# enospc.sh - a real ENOSPC: fallocate more than a small tmpfs holds and
# check that nothing is left behind, neither a new file nor a block of an
# existing one (also one with preallocated space, on a second tmpfs).  Needs root to mount; exits 77 (skipped) otherwise.
#
#   usage: enospc.sh PATH/TO/ktask
set -u
KTASK=$1
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to mount a tmpfs"; exit 77; }
MNT=$(mktemp -d "${TMPDIR:-/var/tmp}/ktask-enospc.XXXXXX") || exit 1
if ! mount -t tmpfs -o size=8m ktask-test "$MNT"; then
	rmdir "$MNT"
	echo "SKIP: cannot mount a tmpfs"
	exit 77
fi
trap 'umount "$MNT"; rmdir "$MNT"' EXIT
FAILED=0

fail() {
	echo "FAIL: $*"
	FAILED=1
}

used() {
	df -k --output=used "$MNT" | tail -n 1
}

# A new file: removed again, and the filesystem as empty as before.
before=$(used)
"$KTASK" --threads 2 --min-chunk 1M fallocate "$MNT/new" 16M 2>"$MNT/../err.$$"
rc=$?
err=$(cat "$MNT/../err.$$"); rm -f "$MNT/../err.$$"
[ "$rc" -eq 1 ] || fail "new file: exit $rc, expected 1"
case "$err" in
*"No space left on device; no file created") echo "ok: $err" ;;
*) fail "new file: message '$err'" ;;
esac
[ -e "$MNT/new" ] && fail "new file left behind"
[ "$(used)" -eq "$before" ] || fail "new file: $(used) KiB used, was $before"

# An existing file with data and a hole: same bytes, size and blocks.
head -c 1048576 /dev/urandom >"$MNT/old"
truncate -s 3M "$MNT/old"
cp "$MNT/old" /tmp/ktask-enospc-copy.$$
set -- $(stat -c '%s %b' "$MNT/old")
size=$1 blocks=$2
before=$(used)
"$KTASK" --threads 2 --min-chunk 1M fallocate "$MNT/old" 16M 2>/dev/null
rc=$?
[ "$rc" -eq 1 ] || fail "old file: exit $rc, expected 1"
set -- $(stat -c '%s %b' "$MNT/old")
[ "$1" -eq "$size" ] || fail "old file: size $1, was $size"
[ "$2" -eq "$blocks" ] || fail "old file: $2 blocks, was $blocks"
cmp -s "$MNT/old" /tmp/ktask-enospc-copy.$$ || fail "old file: bytes changed"
rm -f /tmp/ktask-enospc-copy.$$
[ "$(used)" -eq "$before" ] || fail "old file: $(used) KiB used, was $before"

# An existing file with data and preallocated space in it (fallocate
# -n), on a tmpfs big enough for the job's first 64 MiB steps to succeed
# before one fails: the data and the preallocated space stay, what the job
# added goes (it kept everything before: tmpfs cannot say where
# preallocated space is, and the job made a list of holes first).
M2=$MNT.2
if mkdir "$M2" && mount -t tmpfs -o size=160m ktask-test "$M2"; then
	truncate -s 1G "$M2/pre"
	head -c 4096 /dev/urandom | dd of="$M2/pre" bs=1M seek=100 conv=notrunc status=none
	fallocate -n -o 10M -l 20M "$M2/pre"
	set -- $(stat -c '%s %b' "$M2/pre")
	size=$1 blocks=$2
	before=$(df -k --output=used "$M2" | tail -n 1)
	"$KTASK" fallocate "$M2/pre" 1G 2>/dev/null
	rc=$?
	[ "$rc" -eq 1 ] || fail "preallocated: exit $rc, expected 1"
	set -- $(stat -c '%s %b' "$M2/pre")
	[ "$1" -eq "$size" ] || fail "preallocated: size $1, was $size"
	[ "$2" -eq "$blocks" ] || fail "preallocated: $2 blocks, was $blocks"
	after=$(df -k --output=used "$M2" | tail -n 1)
	[ "$after" -eq "$before" ] || fail "preallocated: $after KiB used, was $before"
	umount "$M2"
fi
rmdir "$M2" 2>/dev/null

# Serially too: the one chunk cleans up after itself.
"$KTASK" --serial fallocate "$MNT/serial" 16M 2>/dev/null
[ $? -eq 1 ] && [ ! -e "$MNT/serial" ] || fail "serial: file left or wrong exit"

# And what fits, fits.
"$KTASK" --quiet fallocate "$MNT/fits" 4M >/dev/null || fail "4M does not fit"
[ "$FAILED" -eq 0 ] && echo "ok: ENOSPC leaves nothing behind"
exit $FAILED
