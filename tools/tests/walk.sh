#!/bin/sh
# walk.sh - `ktask evict DIR` walks that cannot be redirected, on ext4 (a
# loop device; fincore tells what stayed cached; the swapper also on tmpfs, xfs
# and btrfs): symbolic links and FIFOs
# in the tree are not followed nor opened, a mount point is not crossed
# unless --cross-mounts, and a second process that swaps entries for
# symbolic links and FIFOs, or deletes files, during the walk makes no run
# hang, leave the tree or fail.  Needs root; exits 77 otherwise.
#
#   usage: walk.sh PATH/TO/ktask
set -u
KTASK=$1
. "$(dirname "$0")/lib.sh"
need_root

# cached FILE: pages of FILE in the page cache.
cached() {
	fincore -n -o PAGES "$1"
}

# evict_ok WHAT ARGS...: evict must end (20 s at most) with exit 0.
evict_ok() {
	what=$1
	shift
	timeout -k 2 20 "$KTASK" "$@" >"$LIB_TMP/out" 2>"$LIB_TMP/err"
	rc=$?
	[ $rc -eq 0 ] || fail "$what: exit $rc: $(cat "$LIB_TMP/err")"
}

mount_loop ext4 "$LIB_TMP/ext4" 256M || { echo "SKIP: no ext4 loop device"; exit 77; }
command -v fincore >/dev/null || { echo "SKIP: no fincore"; exit 77; }
d=$LIB_TMP/ext4
mkdir -p "$d/tree/sub" "$d/outside"
for f in a b sub/c; do head -c 1M /dev/urandom >"$d/tree/$f"; done
head -c 1M /dev/urandom >"$d/outside/data"
mkfifo "$d/outside/fifo" "$d/tree/fifo"
ln -s ../outside "$d/tree/link"
ln -s ../outside/data "$d/tree/datalink"
ln -s ../outside/fifo "$d/tree/fifolink"
sync
cat "$d/outside/data" "$d/tree/a" >/dev/null

# --- Links and FIFOs in the tree: skipped, the outside stays cached.
evict_ok "links and FIFOs" --json evict "$d/tree"
[ "$(cached "$d/outside/data")" -gt 0 ] ||
	fail "evict followed a link out of the tree: outside/data was evicted"
[ "$(cached "$d/tree/a")" -eq 0 ] || fail "evict left tree/a cached"
grep -q '"units":3,' "$LIB_TMP/out" || fail "links and FIFOs: $(cat "$LIB_TMP/out")"
grep -q "4 entries not regular files" "$LIB_TMP/err" ||
	fail "links and FIFOs: no summary: $(cat "$LIB_TMP/err")"
ok "evict: symbolic links and FIFOs under DIR are not followed nor opened"

# --- residency counts what fincore counts, a file with two hard links
# once (as vmtouch; it was counted twice); --dry-run evicts nothing.
cat "$d/tree/a" "$d/tree/b" >/dev/null
"$KTASK" evict "$d/tree/sub" >/dev/null
want=$(( $(cached "$d/tree/a") + $(cached "$d/tree/b") + $(cached "$d/tree/sub/c") ))
ln "$d/tree/a" "$d/tree/sub/a2"
"$KTASK" --json residency "$d/tree" >"$LIB_TMP/out" 2>"$LIB_TMP/err"
grep -Eq "\"resident_pages\":$want[,}]" "$LIB_TMP/out" ||
	fail "residency: fincore says $want: $(cat "$LIB_TMP/out")"
grep -q "1 hard link to a file listed already" "$LIB_TMP/err" ||
	fail "residency: hard link: $(cat "$LIB_TMP/err")"
rm -f "$d/tree/sub/a2"
"$KTASK" -v residency "$d/tree" 2>/dev/null | grep -q "tree/a  256/256 pages  100%" ||
	fail "residency -v: $("$KTASK" -v residency "$d/tree" 2>&1)"
"$KTASK" evict --dry-run "$d/tree" >"$LIB_TMP/out" 2>/dev/null
[ "$(cached "$d/tree/a")" -eq 256 ] || fail "evict --dry-run evicted tree/a"
grep -q "tree/sub/c$" "$LIB_TMP/out" || fail "evict --dry-run: $(cat "$LIB_TMP/out")"
ok "residency matches fincore ($want pages); evict --dry-run lists and evicts nothing"

# --- residency of a 64 GiB sparse file within 1 GiB of address space: it
# maps and counts a step at a time (one map of the whole file failed).
# (A sanitizer build, whose shadow memory is terabytes of address space,
# does not start at all there: skipped.)
truncate -s 64G "$d/huge"
if ! (ulimit -v 1048576 && exec "$KTASK" --version) >/dev/null 2>&1; then
	echo "SKIP: ktask does not start within ulimit -v 1 GiB (a sanitizer build)"
elif (ulimit -v 1048576 && exec "$KTASK" --json residency "$d/huge") \
	>"$LIB_TMP/out" 2>"$LIB_TMP/err" &&
	grep -q '"resident_pages":0[,}]' "$LIB_TMP/out"; then
	ok "residency of a 64 GiB sparse file in 1 GiB of address space"
else
	fail "residency of a 64 GiB sparse file, ulimit -v 1 GiB: $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
fi
rm -f "$d/huge"

# --- populate --files of a sparse file larger than `ulimit -v` (1 GiB):
# it maps and faults a window at a time (one map of the whole file failed
# with ENOMEM).  --lock must keep the whole file mapped (munmap unlocks):
# there the limit is said to be too small, before anything is read.
# (1.5 GiB of holes read into the page cache, dropped again after.)
truncate -s 1536M "$d/huge"
if ! (ulimit -v 1048576 && exec "$KTASK" --version) >/dev/null 2>&1; then
	echo "SKIP: ktask does not start within ulimit -v 1 GiB (a sanitizer build)"
else
	if (ulimit -v 1048576 && exec "$KTASK" --json populate --files "$d/huge") \
		>"$LIB_TMP/out" 2>"$LIB_TMP/err" &&
		[ "$(cached "$d/huge")" -ge 389000 ]; then
		# At least 99 %: one run in a dozen found 512 of the 393216
		# pages (one 2 MiB folio) gone by the time fincore looked, on
		# a machine building kernels beside it.
		ok "populate --files of a 1.5 GiB sparse file in 1 GiB of address space ($(cached "$d/huge") of 393216 pages)"
	else
		fail "populate --files of a 1.5 GiB sparse file, ulimit -v 1 GiB: $(cached "$d/huge") pages cached: $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
	fi
	"$KTASK" evict "$d/huge" >/dev/null 2>&1
	(ulimit -v 1048576 && exec "$KTASK" populate --files --lock "$d/huge") \
		>"$LIB_TMP/out" 2>"$LIB_TMP/err"
	rc=$?
	if [ $rc -eq 1 ] && grep -q "address space" "$LIB_TMP/err" &&
		grep -q "ulimit -v" "$LIB_TMP/err" &&
		[ "$(cached "$d/huge")" -eq 0 ]; then
		ok "populate --files --lock says ulimit -v is too small to keep 1.5 GiB mapped; nothing read"
	else
		fail "populate --files --lock, ulimit -v 1 GiB: exit $rc, $(cached "$d/huge") pages cached: $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
	fi
fi
"$KTASK" evict "$d/huge" >/dev/null 2>&1
# SIGINT while populate --files reads stops it after the window it is on,
# exit 130 (it read the whole file and exited 0 before).
run_paused "$LIB_TMP/err" 1 INT "$KTASK" populate --files "$d/huge"
n=$(cached "$d/huge")
if [ $RC -eq 130 ] && [ "$n" -gt 0 ] && [ "$n" -lt 393216 ] &&
	grep -q "interrupted by SIGINT" "$LIB_TMP/err"; then
	ok "populate --files stops on SIGINT: exit 130, $n of 393216 pages read"
else
	fail "populate --files, SIGINT after one window: exit $RC, $n of 393216 pages cached: $(cat "$LIB_TMP/err")"
fi
"$KTASK" evict "$d/huge" >/dev/null 2>&1
rm -f "$d/huge"

# --- Filters: --include, --exclude (files and directories), --max-size,
# --files-from and '-'.
head -c 10 /dev/urandom >"$d/tree/small.log"
"$KTASK" evict --dry-run --include '*.log' "$d/tree" >"$LIB_TMP/out" 2>/dev/null
[ "$(wc -l <"$LIB_TMP/out")" -eq 2 ] && grep -q "small.log$" "$LIB_TMP/out" ||
	fail "--include: $(cat "$LIB_TMP/out")"
"$KTASK" evict --dry-run --exclude sub --exclude 'b' "$d/tree" >"$LIB_TMP/out" 2>/dev/null
[ "$(grep -c tree/ "$LIB_TMP/out")" -eq 2 ] && ! grep -q "sub/c" "$LIB_TMP/out" ||
	fail "--exclude: $(cat "$LIB_TMP/out")"
"$KTASK" evict --dry-run --max-size 4K "$d/tree" >"$LIB_TMP/out" 2>"$LIB_TMP/err"
grep -q "small.log$" "$LIB_TMP/out" && [ "$(grep -c tree/ "$LIB_TMP/out")" -eq 1 ] &&
	grep -q "3 larger than --max-size" "$LIB_TMP/err" ||
	fail "--max-size: $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
printf '%s\n%s\n' "$d/tree/a" "$d/tree/sub" >"$LIB_TMP/list"
"$KTASK" --json evict --files-from "$LIB_TMP/list" >"$LIB_TMP/out" 2>/dev/null
grep -q '"units":2,' "$LIB_TMP/out" || fail "--files-from: $(cat "$LIB_TMP/out")"
"$KTASK" --json evict - <"$LIB_TMP/list" >"$LIB_TMP/out" 2>/dev/null
grep -q '"units":2,' "$LIB_TMP/out" || fail "evict -: $(cat "$LIB_TMP/out")"
rm -f "$d/tree/small.log"
ok "evict: --include, --exclude, --max-size, --files-from and - select the files"

# --- populate --files warms the cache (vmtouch -t); --lock keeps it
# locked until a signal, in the foreground or as a daemon with a pid file.
"$KTASK" evict "$d/tree" >/dev/null 2>&1
"$KTASK" populate --files "$d/tree" >/dev/null 2>&1 || fail "populate --files failed"
[ "$(cached "$d/tree/sub/c")" -eq 256 ] || fail "populate --files: $(cached "$d/tree/sub/c") of 256 pages cached"
"$KTASK" evict "$d/tree" >/dev/null 2>&1
"$KTASK" populate --files --lock "$d/tree" >"$LIB_TMP/out" 2>&1 &
pid=$!
i=0
while ! grep -q "^populate: 3 files" "$LIB_TMP/out" && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
# The sanitizers make mlock(2) a no-op: nothing to check there.
if ldd "$KTASK" 2>/dev/null | grep -Eq "lib[at]san"; then
	echo "  (sanitizer build: mlock is a no-op, VmLck not checked)"
else
	lck=$(awk '/VmLck/ { print $2 }' "/proc/$pid/status")
	[ "${lck:-0}" -ge 3072 ] || fail "populate --lock: VmLck ${lck:-none} KiB"
	"$KTASK" evict "$d/tree" >/dev/null 2>&1
	[ "$(cached "$d/tree/a")" -eq 256 ] || fail "populate --lock: evict dropped locked pages"
fi
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || fail "populate --lock: exit $rc after SIGINT"
"$KTASK" populate --files --lock --daemon --pidfile "$LIB_TMP/pid" "$d/tree" >/dev/null 2>&1 ||
	fail "populate --daemon failed"
dpid=$(cat "$LIB_TMP/pid" 2>/dev/null)
[ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null || fail "populate --daemon: no daemon"
kill -TERM "$dpid" 2>/dev/null
i=0
while [ -e "$LIB_TMP/pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$LIB_TMP/pid" ] && fail "populate --daemon: pid file left after SIGTERM"
ok "populate --files warms the cache; --lock holds it until a signal; --daemon --pidfile"

# --- populate --lock --daemon interrupted during its setup (SIGTERM, or
# Ctrl-C, to the command the user started, while the files are read):
# the daemon must not survive, nor its pid file, nor a success line.
# Before, the command died, and the child (in its own session) went on,
# printed success and died of SIGPIPE, its pid file left behind.
mkdir -p "$d/slow"
truncate -s 1G "$d/slow/holes"
rm -f "$LIB_TMP/pid"
KTASK_TEST_PAUSE_AFTER=1 "$KTASK" --json populate --files --lock --daemon \
	--pidfile "$LIB_TMP/pid" "$d/slow" >"$LIB_TMP/out" 2>"$LIB_TMP/err" &
pid=$!
i=0
while ! grep -q "paused after" "$LIB_TMP/err" && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
child=$(ps -o pid= --ppid $pid | tr -d ' ')
kill -TERM $pid
wait $pid
rc=$?
i=0
while [ -n "$child" ] && kill -0 "$child" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
	fail "populate --daemon, SIGTERM during setup: the daemon $child survived: $(cat "$LIB_TMP/out")"
	kill -KILL "$child"
elif [ $rc -ne 143 ] || [ -e "$LIB_TMP/pid" ] || grep -q '"what"' "$LIB_TMP/out" ||
	[ "$(grep -c '^{' "$LIB_TMP/out")" -ne 1 ]; then
	fail "populate --daemon, SIGTERM during setup: exit $rc, pid file $(cat "$LIB_TMP/pid" 2>/dev/null): $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
else
	ok "populate --daemon: SIGTERM during the setup stops the daemon too (exit 143, no pid file, one JSON error)"
fi
rm -f "$LIB_TMP/pid"
# A pid file that cannot be written is an error before any report: one
# JSON object, the error (there were two: success, then the error).
bad=0
for daemon in --daemon ""; do
	"$KTASK" --json populate --files --lock $daemon --pidfile "$LIB_TMP/no/pid" \
		"$d/tree" >"$LIB_TMP/out" 2>"$LIB_TMP/err"
	rc=$?
	[ $rc -eq 1 ] && [ "$(grep -c '^{' "$LIB_TMP/out")" -eq 1 ] &&
		grep -q '"error":.*no/pid' "$LIB_TMP/out" || {
		bad=1
		fail "populate --lock $daemon, pid file not writable: exit $rc: $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
	}
done
[ $bad -eq 0 ] && ok "populate --lock [--daemon]: a pid file that cannot be written is one JSON error"
"$KTASK" evict "$d/slow" >/dev/null 2>&1
rm -rf "$d/slow"

# --- A file truncated by another process while populate --files runs is
# skipped as one that changed, and the job goes on (MADV_POPULATE_READ
# past the new end failed the whole job with "Bad address", and with
# --lock nothing stayed locked).  One thread, --files-from for the order:
# the victim is cut while a 1 GiB sparse file before it is being read.
mkdir -p "$d/cut"
truncate -s 1G "$d/cut/holes"
printf '%s\n%s\n' "$d/cut/holes" "$d/cut/victim" >"$LIB_TMP/list"
for lock in "" --lock; do
	head -c 16M /dev/urandom >"$d/cut/victim"
	"$KTASK" evict "$d/cut" >/dev/null 2>&1
	"$KTASK" -t 1 --json populate --files $lock --files-from "$LIB_TMP/list" \
		>"$LIB_TMP/out" 2>"$LIB_TMP/err" &
	pid=$!
	i=0
	while [ "$(cached "$d/cut/holes")" -eq 0 ] && [ $i -lt 1000 ]; do
		sleep 0.01; i=$((i + 1))
	done
	truncate -s 4096 "$d/cut/victim"
	if [ -n "$lock" ]; then
		i=0
		while ! grep -q '"command"' "$LIB_TMP/out" && kill -0 $pid 2>/dev/null &&
			[ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		kill -INT $pid 2>/dev/null
	fi
	wait $pid
	rc=$?
	if [ $rc -eq 0 ] && grep -q '"units":1,' "$LIB_TMP/out" &&
		grep -q '"bytes":1073741824,' "$LIB_TMP/out" &&
		grep -q "cut/victim: skipped: cut short" "$LIB_TMP/err" &&
		grep -q "1 changed during the job" "$LIB_TMP/err"; then
		ok "populate --files $lock: a file truncated during the run is skipped, the job goes on"
	else
		fail "populate --files $lock, a file truncated meanwhile: exit $rc: $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
	fi
done
"$KTASK" evict "$d/cut" >/dev/null 2>&1
rm -rf "$d/cut"

# --- More directories than `ulimit -n` (64, soft and hard): 160 of them,
# 4 deep, a file in each.  The walk kept every directory's descriptor and
# raised the soft limit only after it ("3253 files cannot be read" on
# /usr/share with ulimit -n 1024); now those beyond a budget are opened
# again from a kept ancestor.  The counts must be those of a high limit,
# and evict and populate --files must reach every file.
for i in $(seq 1 40); do
	mkdir -p "$d/many/d$i/e/f/g"
	for s in "" /e /e/f /e/f/g; do head -c 8192 /dev/urandom >"$d/many/d$i$s/x"; done
done
"$KTASK" populate --files "$d/many" >/dev/null 2>&1
"$KTASK" evict "$d/many/d1" "$d/many/d2" >/dev/null 2>&1
"$KTASK" --json residency "$d/many" >"$LIB_TMP/want" 2>/dev/null
(ulimit -n 64 && exec "$KTASK" --json residency "$d/many") \
	>"$LIB_TMP/out" 2>"$LIB_TMP/err"
rc=$?
want=$(grep -o '"units":[0-9]*,.*"resident_pages":[0-9]*' "$LIB_TMP/want" | sed 's/"seconds.*"skipped/"skipped/')
got=$(grep -o '"units":[0-9]*,.*"resident_pages":[0-9]*' "$LIB_TMP/out" | sed 's/"seconds.*"skipped/"skipped/')
if [ $rc -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ] &&
	grep -q '"units":160,' "$LIB_TMP/out" && grep -q '"resident_pages":304[,}]' "$LIB_TMP/out"; then
	ok "residency of 160 directories with ulimit -n 64: the counts of a high limit"
else
	fail "residency, 160 directories, ulimit -n 64: exit $rc: $(cat "$LIB_TMP/out" "$LIB_TMP/err"); want $(cat "$LIB_TMP/want")"
fi
(ulimit -n 64 && exec "$KTASK" evict "$d/many") >/dev/null 2>"$LIB_TMP/err"
rc=$?
n=$(fincore -n -o PAGES $(find "$d/many" -type f) | awk '{ s += $1 } END { print s }')
[ $rc -eq 0 ] && [ "$n" -eq 0 ] ||
	fail "evict, 160 directories, ulimit -n 64: exit $rc, $n pages left: $(cat "$LIB_TMP/err")"
(ulimit -n 64 && exec "$KTASK" populate --files "$d/many") >/dev/null 2>"$LIB_TMP/err"
rc=$?
n=$(fincore -n -o PAGES $(find "$d/many" -type f) | awk '{ s += $1 } END { print s }')
if [ $rc -eq 0 ] && [ "$n" -eq 320 ]; then
	ok "evict and populate --files of 160 directories with ulimit -n 64"
else
	fail "populate --files, 160 directories, ulimit -n 64: exit $rc, $n of 320 pages: $(cat "$LIB_TMP/err")"
fi
# ... with 40 descriptors passed on by the parent high up (24-63): the
# budget counted the lowest free number, not what is open, and the walk
# ran out of them ("Bad file descriptor").
(ulimit -n 64 && exec python3 -c '
import os, subprocess, sys
fds = []
for n in range(24, 64):
    fd = os.open("/dev/null", os.O_RDONLY)
    os.dup2(fd, n)
    os.close(fd)
    fds.append(n)
sys.exit(subprocess.call(sys.argv[1:], pass_fds=fds))
' "$KTASK" --json residency "$d/many") >"$LIB_TMP/out" 2>"$LIB_TMP/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '"units":160,' "$LIB_TMP/out" &&
	grep -q '"skipped":0,"pages":320,"resident_pages":320' "$LIB_TMP/out"; then
	ok "residency of 160 directories with ulimit -n 64 and 40 descriptors inherited high up"
else
	fail "residency with inherited descriptors: exit $rc: $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
fi
# ... and more file arguments than it (--files-from): each was kept open.
find "$d/many" -type f >"$LIB_TMP/list"
(ulimit -n 64 && exec "$KTASK" --json residency --files-from "$LIB_TMP/list") \
	>"$LIB_TMP/out" 2>"$LIB_TMP/err"
rc=$?
[ $rc -eq 0 ] && grep -q '"units":160,' "$LIB_TMP/out" ||
	fail "residency --files-from of 160 files, ulimit -n 64: exit $rc: $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
"$KTASK" evict "$d/many" >/dev/null 2>&1
rm -rf "$d/many"

# --- A tree deeper than the descriptor limit lets the walk go (each level
# holds one): a clear error, not "Bad file descriptor" from a dup() that
# failed unchecked.
p="$d/deep"
for i in $(seq 1 120); do p="$p/d"; done
mkdir -p "$p" && echo x >"$p/f"
(ulimit -n 48 && exec "$KTASK" residency "$d/deep") >/dev/null 2>"$LIB_TMP/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "deeper than the open-file limit" "$LIB_TMP/err" &&
	! grep -q "Bad file descriptor" "$LIB_TMP/err"; then
	ok "a tree deeper than ulimit -n allows: a clear error"
else
	fail "deep tree, ulimit -n 48: exit $rc: $(cat "$LIB_TMP/err")"
fi
rm -rf "$d/deep"

# --- A FIFO named as an argument, with a writer blocked in open(2): refused
# without being opened, so the writer stays blocked with its data.
mkfifo "$d/fifo"
( printf data >"$d/fifo" ) 2>/dev/null &
w=$!
sleep 0.2
"$KTASK" evict "$d/fifo" >/dev/null 2>"$LIB_TMP/err"
rc=$?
sleep 0.2
if [ $rc -eq 1 ] && kill -0 $w 2>/dev/null; then
	ok "evict of a FIFO: refused, its blocked writer not let go"
else
	fail "evict of a FIFO: exit $rc, writer $(kill -0 $w 2>/dev/null && echo blocked || echo 'let go'): $(cat "$LIB_TMP/err")"
fi
timeout 5 cat "$d/fifo" >/dev/null
wait $w
rm -f "$d/fifo"

# --- As another user: every unreadable directory and file is named, one
# line each, and nothing is evicted.
if command -v setpriv >/dev/null; then
	chmod 755 "$LIB_TMP" "$d"
	mkdir -p "$d/perm/d1" "$d/perm/d2" "$d/perm/ok"
	for f in d1/x d2/y ok/a ok/secret ok/s2 ok/s3; do head -c 8192 /dev/urandom >"$d/perm/$f"; done
	chmod 755 "$d/perm" "$d/perm/ok"
	chmod 644 "$d/perm/ok/a"
	chmod 700 "$d/perm/d1" "$d/perm/d2"
	chmod 600 "$d/perm/ok/secret" "$d/perm/ok/s2" "$d/perm/ok/s3"
	cat "$d/perm/ok/a" >/dev/null
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$KTASK" evict "$d/perm" >/dev/null 2>"$LIB_TMP/err"
	rc=$?
	[ $rc -eq 1 ] || fail "unreadable: exit $rc"
	for n in perm/d1 perm/d2 perm/ok/secret perm/ok/s2 perm/ok/s3; do
		grep -q "$n: Permission denied" "$LIB_TMP/err" ||
			fail "unreadable: $n not named: $(cat "$LIB_TMP/err")"
	done
	[ "$(cached "$d/perm/ok/a")" -eq 2 ] || fail "unreadable: ok/a was evicted"
	# --json: the one error object counts them all and names the first
	# three (it named one file, the count was on stderr only).
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$KTASK" --json evict "$d/perm" >"$LIB_TMP/out" 2>"$LIB_TMP/err"
	rc=$?
	python3 -c 'import json, sys
text = open(sys.argv[1]).read()
d = json.loads(text)
assert text.count("{") == 1 and d["exit_code"] == 1, d
e = d["error"]
assert e.startswith("5 files or directories cannot be read (") and \
	e.count("Permission denied") == 3 and "and 2 more); nothing evicted" in e, e' \
		"$LIB_TMP/out" || fail "unreadable, --json: exit $rc: $(cat "$LIB_TMP/out")"
	[ "$(grep -c "Permission denied" "$LIB_TMP/err")" -ge 5 ] ||
		fail "unreadable, --json: not all named on stderr: $(cat "$LIB_TMP/err")"
	rm -rf "$d/perm"
	ok "evict: unreadable directories and files are all named; nothing evicted; --json counts them in its error"
fi

# --- Mount points: a tmpfs on a directory and a file bind mount (of a
# file outside the tree, same filesystem): not crossed unless asked.  The
# file bind mount was said to be "replaced by something else" (its inode
# is not the one under it) and never crossed, even with --cross-mounts.
mount_tmpfs "$d/tree/mnt" 16m || fail "cannot mount a tmpfs"
head -c 4096 /dev/urandom >"$d/tree/mnt/m"
: >"$d/tree/bindf"
mount --bind "$d/outside/data" "$d/tree/bindf" && LIB_MOUNTS="$d/tree/bindf $LIB_MOUNTS" ||
	fail "cannot bind-mount a file"
cat "$d/outside/data" >/dev/null
evict_ok "mount point" --json evict "$d/tree"
grep -q '"units":3,' "$LIB_TMP/out" || fail "mount point crossed: $(cat "$LIB_TMP/out")"
grep -q "2 mount points not crossed" "$LIB_TMP/err" && ! grep -q "changed" "$LIB_TMP/err" &&
	grep -q "tree/bindf: skipped: a mount point" "$LIB_TMP/err" ||
	fail "mount point: $(cat "$LIB_TMP/err")"
[ "$(cached "$d/outside/data")" -gt 0 ] || fail "evict crossed the file bind mount"
evict_ok "-x" -x --json evict "$d/tree"
grep -q '"units":3,' "$LIB_TMP/out" || fail "-x: $(cat "$LIB_TMP/out")"
evict_ok "--cross-mounts" --json evict --cross-mounts "$d/tree"
grep -q '"units":5,' "$LIB_TMP/out" && ! grep -q "changed" "$LIB_TMP/err" ||
	fail "--cross-mounts: $(cat "$LIB_TMP/out" "$LIB_TMP/err")"
[ "$(cached "$d/outside/data")" -eq 0 ] || fail "--cross-mounts: the file bind mount was not evicted"
umount "$d/tree/bindf" && LIB_MOUNTS=$(echo "$LIB_MOUNTS" | sed "s|$d/tree/bindf||")
rm -f "$d/tree/bindf"
umount "$d/tree/mnt" && LIB_MOUNTS=$(echo "$LIB_MOUNTS" | sed "s|$d/tree/mnt||")
ok "evict: mount points (a directory, a file bind mount) are crossed only with --cross-mounts"

# --- A second process swaps entries for links and FIFOs, and deletes and
# recreates files, while evict (or residency) walks: every run ends, with
# exit 0, and the outside stays cached.  Bounded: RUNS runs, the swapper
# stops with them.  On ext4 and tmpfs, and on xfs and btrfs where mkfs is
# there.
# race FS DIR RUNS CMD: DIR has outside/data and outside/fifo.
race() {
	fs=$1 d=$2 runs=$3 cmd=$4
	rm -rf "$d/race" "$LIB_TMP/stop"
	mkdir -p "$d/race/d1" "$d/race/d2"
	for i in $(seq 1 40); do
		head -c 8192 /dev/urandom >"$d/race/d1/f$i"
		head -c 8192 /dev/urandom >"$d/race/d2/f$i"
	done
	sync
	(
		n=0
		while [ ! -e "$LIB_TMP/stop" ] && [ $n -lt 20000 ]; do
			n=$((n + 1))
			i=$((n % 40 + 1))
			# a file becomes a FIFO, a link to one, a link out; then back
			mv "$d/race/d1/f$i" "$d/race/d1/.k$i" 2>/dev/null
			mkfifo "$d/race/d1/f$i" 2>/dev/null
			rm -f "$d/race/d1/f$i"
			ln -s ../../outside/fifo "$d/race/d1/f$i" 2>/dev/null
			rm -f "$d/race/d1/f$i"
			mv "$d/race/d1/.k$i" "$d/race/d1/f$i" 2>/dev/null
			# a directory becomes a link out of the tree, then back
			mv "$d/race/d2" "$d/race/.d2" 2>/dev/null
			ln -s ../outside "$d/race/d2" 2>/dev/null
			rm -f "$d/race/d2"
			mv "$d/race/.d2" "$d/race/d2" 2>/dev/null
			# a file vanishes and comes back
			rm -f "$d/race/d1/g$i"
			echo x >"$d/race/d1/g$i"
		done
	) &
	swapper=$!
	hangs=0 fails=0
	for run in $(seq 1 "$runs"); do
		cat "$d/outside/data" >/dev/null
		timeout -k 2 20 "$KTASK" "$cmd" "$d/race" >/dev/null 2>"$LIB_TMP/err"
		rc=$?
		case $rc in
		0) ;;
		124|137) hangs=$((hangs + 1)) ;;
		*) fails=$((fails + 1)); echo "  $fs run $run: exit $rc: $(head -n 3 "$LIB_TMP/err")" ;;
		esac
		[ "$(cached "$d/outside/data")" -gt 0 ] ||
			fail "$fs run $run: $cmd left the tree (outside/data evicted)"
	done
	touch "$LIB_TMP/stop"
	wait $swapper
	[ $hangs -eq 0 ] || fail "$fs: $hangs of $runs $cmd runs hung with a swapper active"
	[ $fails -eq 0 ] || fail "$fs: $fails of $runs $cmd runs failed with a swapper active"
	ok "$fs: $runs $cmd runs with a swapper active: no hang, no failure, never outside"
}

race ext4 "$d" 30 evict
race ext4 "$d" 10 residency
# tmpfs keeps its pages (evict cannot drop them): there only no hang and
# no failure are checked.
if mount_tmpfs "$LIB_TMP/tmpfs" 64m; then
	mkdir -p "$LIB_TMP/tmpfs/outside"
	head -c 1M /dev/urandom >"$LIB_TMP/tmpfs/outside/data"
	mkfifo "$LIB_TMP/tmpfs/outside/fifo"
	race tmpfs "$LIB_TMP/tmpfs" 15 evict
fi
for t in xfs btrfs; do
	if mount_loop $t "$LIB_TMP/$t" 320M; then
		mkdir -p "$LIB_TMP/$t/outside"
		head -c 1M /dev/urandom >"$LIB_TMP/$t/outside/data"
		mkfifo "$LIB_TMP/$t/outside/fifo"
		race $t "$LIB_TMP/$t" 15 evict
	else
		echo "SKIP: $t on a loop device: no mkfs.$t or no loop device"
	fi
done
exit $FAILED
