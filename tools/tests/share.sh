#!/bin/sh
# share.sh - the ktask command among other processes, on tmpfs, ext4, xfs
# and btrfs (loop devices; xfs and btrfs when their mkfs is installed):
#
#   - a second process writes into a file during `fallocate` or `populate
#     --file`, then SIGINT/SIGTERM: what it wrote survives (the lease
#     broke, so nothing is undone);
#   - a write just before the lease (test hook) survives an undo, and so
#     does one by a process that opens the file during the undo, also when
#     the job is stopped then for longer than lease-break-time;
#   - a file with preallocated space and a failure: that space stays; a
#     file whose size is not a multiple of the block size has none;
#   - SIGKILL of a job on a new file leaves no file, and of a job on an
#     existing file leaves its size as it was;
#   - the temporary-name fallback (no O_TMPFILE) leaves nothing on failure;
#   - no lease to be had: a note, and what was allocated is kept;
#   - populate --file on a read-only mount, and of a FIFO; a FIFO with a
#     blocked writer is refused without being opened;
#   - a file cut short by another process during a job: an error.
# Needs root; exits 77 otherwise.
#
#   usage: share.sh PATH/TO/ktask
set -u
KTASK=$1
. "$(dirname "$0")/lib.sh"
need_root

MiB=1048576
MARK=ktask-share-marker

# mark FILE MIB: another process writes the marker at MIB MiB, as a
# database would: in place, then fsync.
mark() {
	printf %s "$MARK" | dd of="$1" bs=1M seek="$2" conv=notrunc,fsync \
		status=none 2>>"$LIB_TMP/dd.err"
}

# marked FILE MIB: whether the marker reads back there.
marked() {
	[ "$(dd if="$1" bs=1M skip="$2" count=1 status=none | head -c ${#MARK})" = "$MARK" ]
}

# A writer during fallocate of an existing sparse file, then SIGINT.
writer_fallocate() {
	fs=$1 d=$2
	truncate -s 512M "$d/img"
	: >"$LIB_TMP/dd.err"
	# The writer opens the file while the job is paused: it must not
	# wait for the lease (45 s) but get the file at once.
	(
		i=0
		while ! grep -q "paused after 2" "$LIB_TMP/err" 2>/dev/null &&
			[ $i -lt 600 ]; do
			sleep 0.1; i=$((i + 1))
		done
		t0=$(date +%s)
		mark "$d/img" 400
		echo $(($(date +%s) - t0)) >"$LIB_TMP/dd.secs"
		touch "$LIB_TMP/dd.done"
	) &
	writer=$!
	rm -f "$LIB_TMP/dd.done"
	# Send the signal only once the marker is written.
	KTASK_TEST_PAUSE_AFTER=2 "$KTASK" --threads 2 fallocate "$d/img" 512M \
		>/dev/null 2>"$LIB_TMP/err" &
	pid=$!
	i=0
	while [ ! -e "$LIB_TMP/dd.done" ] && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -INT $pid
	wait $pid
	rc=$?
	wait $writer
	[ $rc -eq 130 ] || fail "$fs writer: exit $rc, expected 130"
	marked "$d/img" 400 || fail "$fs writer: the marker written at 400M is gone"
	[ "$(stat -c %s "$d/img")" -eq $((512 * MiB)) ] ||
		fail "$fs writer: size $(stat -c %s "$d/img")"
	grep -q "another process opened or truncated the file" "$LIB_TMP/err" ||
		fail "$fs writer: message: $(cat "$LIB_TMP/err")"
	[ "$(cat "$LIB_TMP/dd.secs")" -lt 10 ] ||
		fail "$fs writer: the writer waited $(cat "$LIB_TMP/dd.secs") s for the file"
	rm -f "$d/img"
	ok "$fs: a writer during fallocate, then SIGINT: its marker survives"
}

# The same for populate --file (tmpfs: it allocates the holes).
writer_populate() {
	fs=$1 d=$2
	truncate -s 512M "$d/img"
	: >"$LIB_TMP/err"
	rm -f "$LIB_TMP/dd.done"
	KTASK_TEST_PAUSE_AFTER=2 "$KTASK" --min-chunk 64M populate \
		--file "$d/img" >/dev/null 2>"$LIB_TMP/err" &
	pid=$!
	i=0
	while ! grep -q "paused after 2" "$LIB_TMP/err" && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
	mark "$d/img" 400
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc -eq 143 ] || fail "$fs populate writer: exit $rc, expected 143"
	marked "$d/img" 400 || fail "$fs populate writer: the marker is gone"
	grep -q "another process opened the file" "$LIB_TMP/err" ||
		fail "$fs populate writer: message: $(cat "$LIB_TMP/err")"
	rm -f "$d/img"
	ok "$fs: a writer during populate --file, then SIGTERM: its marker survives"
}

# wait_line PATTERN: until the job's stderr has it (60 s at most).
wait_line() {
	i=0
	while ! grep -q "$1" "$LIB_TMP/err" 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
}

# Another process writes into a hole and closes the file after ktask
# opened it, just before the lease (the test hook waits there): the job
# fails, and its undo must keep that data.  The holes were listed before
# the lease, and the undo punched it (37 of 40 runs in a review, with no
# hook).
before_lease() {
	fs=$1 d=$2
	truncate -s 64M "$d/bl"
	: >"$LIB_TMP/err"
	KTASK_TEST_BEFORE_LEASE_MS=1500 KTASK_TEST_FAIL_AT=40M "$KTASK" 		--min-chunk 8M fallocate "$d/bl" 64M >/dev/null 2>"$LIB_TMP/err" &
	pid=$!
	wait_line "before the lease"
	mark "$d/bl" 10
	wait $pid
	rc=$?
	[ $rc -eq 1 ] || fail "$fs before the lease: exit $rc: $(cat "$LIB_TMP/err")"
	marked "$d/bl" 10 || fail "$fs before the lease: the marker was punched"
	[ "$(stat -c %s "$d/bl")" -eq $((64 * MiB)) ] || fail "$fs before the lease: size"
	rm -f "$d/bl"
	[ "$fs" = tmpfs ] || { ok "$fs: a write just before the lease survives a failed fallocate"; return; }
	# populate --file allocates holes on tmpfs: the same, with SIGTERM.
	truncate -s 64M "$d/bl"
	: >"$LIB_TMP/err"
	KTASK_TEST_BEFORE_LEASE_MS=1500 KTASK_TEST_PAUSE_AFTER=1 "$KTASK" 		--min-chunk 8M populate --file "$d/bl" >/dev/null 2>"$LIB_TMP/err" &
	pid=$!
	wait_line "before the lease"
	mark "$d/bl" 10
	wait_line "paused after"
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc -eq 143 ] || fail "$fs populate before the lease: exit $rc: $(cat "$LIB_TMP/err")"
	marked "$d/bl" 10 || fail "$fs populate before the lease: the marker was punched"
	rm -f "$d/bl"
	ok "$fs: a write just before the lease survives a failed fallocate and populate --file"
}

# Another process opens the file during the undo (the test hook pauses
# it after its first punch): it gets the file at once, and the undo
# punches nothing more, so what it writes stays.  The undo used to hold
# off the lease break for all of its punches: the opener waited for
# lease-break-time (1 s here), the kernel took the lease back, the opener
# wrote, and the rest of the undo punched that.  Then the same with the
# job stopped (SIGSTOP) during the pause, so that no signal is handled
# before the undo goes on: it must ask the kernel (F_GETLEASE).
undo_and_opener() {
	fs=$1 d=$2 lbt=/proc/sys/fs/lease-break-time
	old=$(cat $lbt)
	echo 1 >$lbt || { echo "SKIP: $fs: cannot set $lbt"; return; }
	for how in open stop; do
		# Many holes: the undo is many steps.
		truncate -s 256M "$d/rv"
		i=0
		while [ $i -lt 256 ]; do
			printf x | dd of="$d/rv" bs=1M seek=$i conv=notrunc status=none
			i=$((i + 2))
		done
		: >"$LIB_TMP/err"
		KTASK_TEST_PAUSE_UNDO_MS=2500 KTASK_TEST_FAIL_AT=250M \
			"$KTASK" --threads 1 fallocate "$d/rv" 256M \
			>/dev/null 2>"$LIB_TMP/err" &
		pid=$!
		wait_line "paused in the undo"
		[ $how = stop ] && kill -STOP $pid
		t0=$(date +%s%N)
		mark "$d/rv" 255
		t1=$(date +%s%N)
		[ $how = stop ] && kill -CONT $pid
		wait $pid
		rc=$?
		[ $rc -eq 1 ] || fail "$fs opener during the undo ($how): exit $rc: $(cat "$LIB_TMP/err")"
		marked "$d/rv" 255 || fail "$fs opener during the undo ($how): the marker was punched"
		[ $how = stop ] || [ $(((t1 - t0) / 1000000)) -lt 900 ] ||
			fail "$fs opener during the undo: it waited $(((t1 - t0) / 1000000)) ms"
		rm -f "$d/rv"
	done
	echo "$old" >$lbt
	ok "$fs: a process opening the file during an undo gets it at once and keeps what it writes, also when the job was stopped"
}

# A file of 5000 bytes grows and fails: on ext4 its last block ends past
# the size, which was taken for space preallocated there, so the undo
# kept everything it had allocated past the end ("the file had
# preallocated space past its end"), a full filesystem after a real
# ENOSPC.  It must be as it was.
unaligned_grow() {
	fs=$1 d=$2
	head -c 5000 /dev/urandom >"$d/un"
	sync
	before=$(allocated "$d/un")
	sum=$(md5sum <"$d/un")
	KTASK_TEST_FAIL_AT=48M "$KTASK" --min-chunk 8M fallocate "$d/un" 64M \
		>/dev/null 2>"$LIB_TMP/err"
	rc=$?
	[ $rc -eq 1 ] || fail "$fs unaligned: exit $rc: $(cat "$LIB_TMP/err")"
	[ "$(allocated "$d/un")" -le "$before" ] ||
		fail "$fs unaligned: $(allocated "$d/un") bytes allocated, $before before: $(cat "$LIB_TMP/err")"
	[ "$(stat -c %s "$d/un")" -eq 5000 ] || fail "$fs unaligned: size $(stat -c %s "$d/un")"
	[ "$(md5sum <"$d/un")" = "$sum" ] || fail "$fs unaligned: data changed"
	grep -q "file left as it was" "$LIB_TMP/err" ||
		fail "$fs unaligned: message: $(cat "$LIB_TMP/err")"
	rm -f "$d/un"
	ok "$fs: a failed grow of a file of 5000 bytes leaves it as it was"
}

# Another process cuts the file short during a job that has no lease
# (or whose lease it broke): the blocks the job allocated past the cut
# went with it, and setting the size back would present a hole as the
# result.  The job fails and says why.
truncated_meanwhile() {
	fs=$1 d=$2
	truncate -s 32M "$d/tm"
	: >"$LIB_TMP/err"
	rm -f "$LIB_TMP/resume"
	KTASK_TEST_NO_LEASE=1 KTASK_TEST_PAUSE_AFTER=1 KTASK_TEST_RESUME="$LIB_TMP/resume" \
		"$KTASK" --threads 1 fallocate "$d/tm" 64M >/dev/null 2>"$LIB_TMP/err" &
	pid=$!
	wait_line "paused after"
	truncate -s 0 "$d/tm"
	touch "$LIB_TMP/resume"
	wait $pid
	rc=$?
	[ $rc -eq 1 ] || fail "$fs truncated meanwhile: exit $rc: $(cat "$LIB_TMP/err")"
	grep -q "the file changed under the job (another process truncated" "$LIB_TMP/err" ||
		fail "$fs truncated meanwhile: message: $(cat "$LIB_TMP/err")"
	[ "$(stat -c %s "$d/tm")" -eq 0 ] || fail "$fs truncated meanwhile: size $(stat -c %s "$d/tm")"
	rm -f "$d/tm" "$LIB_TMP/resume"
	ok "$fs: a file cut short by another process during the job: an error, not a hole"
}

# A FIFO with a writer blocked in open(2): refused, and never opened, so
# the writer stays blocked with its data rather than being let go into
# a reader that closes at once.
fifo_untouched() {
	fs=$1 d=$2
	mkfifo "$d/ff"
	( printf data >"$d/ff" ) 2>/dev/null &
	w=$!
	sleep 0.2
	for cmd in "fallocate $d/ff 1M" "populate --file $d/ff"; do
		# shellcheck disable=SC2086
		timeout -k 5 20 "$KTASK" $cmd >/dev/null 2>"$LIB_TMP/err"
		rc=$?
		[ $rc -eq 1 ] && grep -q "not a regular file" "$LIB_TMP/err" ||
			fail "$fs FIFO ($cmd): exit $rc: $(cat "$LIB_TMP/err")"
	done
	sleep 0.2
	kill -0 $w 2>/dev/null || fail "$fs FIFO: the blocked writer was let go"
	[ "$(cat "$d/ff")" = data ] || fail "$fs FIFO: the writer's data is lost"
	wait $w
	rm -f "$d/ff"
	ok "$fs: a FIFO with a blocked writer is refused without being opened"
}

# fallocate -l 100M, then a job that fails at 150M: the 100M stay.
preallocated() {
	fs=$1 d=$2
	fallocate -l 100M "$d/pre" || { echo "SKIP: $fs: no fallocate(1)"; return; }
	KTASK_TEST_FAIL_AT=150M "$KTASK" --min-chunk 64M fallocate "$d/pre" 200M \
		>/dev/null 2>"$LIB_TMP/err"
	rc=$?
	[ $rc -eq 1 ] || fail "$fs preallocated: exit $rc"
	a=$(allocated "$d/pre")
	[ "$a" -ge $((100 * MiB)) ] ||
		fail "$fs preallocated: $a bytes allocated, was 100 MiB"
	# ... and what the job added is released (tmpfs kept all 150M once).
	[ "$a" -le $((101 * MiB)) ] ||
		fail "$fs preallocated: $a bytes allocated after the failure, was 100 MiB"
	[ "$(stat -c %s "$d/pre")" -eq $((100 * MiB)) ] ||
		fail "$fs preallocated: size $(stat -c %s "$d/pre")"
	rm -f "$d/pre"
	ok "$fs: preallocated 100M, failure at 150M: $((a / MiB)) MiB stay allocated"
}

# A file with data and preallocated space inside its size and past it,
# grown by a job that fails past the old end: the data, both
# preallocations and the size stay.  What the job allocated past the end
# stays too where the filesystem cannot punch there (ext4) or not tell
# it from the old preallocation (tmpfs): then the message says so instead
# of "file left as it was" (which it said with 78 MiB kept on ext4).
# Then the same without the space past the end: exactly as before, on
# tmpfs too, where the undo finds the job's pages after the fact
# (fallocate.c: fa_shmem_ok()).
prealloc_eof() {
	fs=$1 d=$2
	truncate -s 64M "$d/pe"
	mark "$d/pe" 10
	fallocate -n -o 20M -l 8M "$d/pe" &&
		fallocate -n -o 100M -l 8M "$d/pe" || { echo "SKIP: $fs: fallocate -n"; return; }
	before=$(allocated "$d/pe")
	KTASK_TEST_FAIL_AT=150M "$KTASK" --min-chunk 64M fallocate "$d/pe" 200M \
		>/dev/null 2>"$LIB_TMP/err"
	rc=$?
	a=$(allocated "$d/pe")
	[ $rc -eq 1 ] || fail "$fs prealloc+eof: exit $rc"
	marked "$d/pe" 10 || fail "$fs prealloc+eof: the data at 10M is gone"
	[ "$(stat -c %s "$d/pe")" -eq $((64 * MiB)) ] ||
		fail "$fs prealloc+eof: size $(stat -c %s "$d/pe")"
	[ "$a" -ge "$before" ] ||
		fail "$fs prealloc+eof: $a bytes allocated, $before before: preallocation released"
	if [ "$a" -gt "$before" ]; then
		grep -q "stays allocated: the file had preallocated space past its end" \
			"$LIB_TMP/err" || fail "$fs prealloc+eof: $((a - before)) bytes more allocated: $(cat "$LIB_TMP/err")"
	else
		grep -q "file left as it was" "$LIB_TMP/err" ||
			fail "$fs prealloc+eof: $(cat "$LIB_TMP/err")"
	fi
	rm -f "$d/pe"
	truncate -s 64M "$d/pe"
	mark "$d/pe" 10
	before=$(allocated "$d/pe")
	KTASK_TEST_FAIL_AT=150M "$KTASK" --min-chunk 64M fallocate "$d/pe" 200M \
		>/dev/null 2>"$LIB_TMP/err"
	a=$(allocated "$d/pe")
	marked "$d/pe" 10 || fail "$fs data+eof: the data at 10M is gone"
	[ "$a" -eq "$before" ] ||
		fail "$fs data+eof: $a bytes allocated after the failure, $before before"
	rm -f "$d/pe"
	ok "$fs: data and preallocation in and past the size, failure past the end: as before"
}

# SIGKILL in the middle: no new file; an existing one keeps its size.
killed() {
	fs=$1 d=$2
	before=$(used "$d")
	run_paused "$LIB_TMP/err" 2 KILL "$KTASK" fallocate "$d/new" 512M
	[ -e "$d/new" ] && fail "$fs SIGKILL: the new file exists ($(stat -c %s "$d/new") bytes)"
	[ "$(ls -A "$d" | grep -c ktask)" -eq 0 ] || fail "$fs SIGKILL: $(ls -A "$d")"
	after=$(used "$d")
	[ "$after" -le $((before + 1024)) ] ||
		fail "$fs SIGKILL: $after KiB used, was $before"
	truncate -s 1M "$d/old"
	run_paused "$LIB_TMP/err" 2 KILL "$KTASK" fallocate "$d/old" 512M
	[ "$(stat -c %s "$d/old")" -eq $MiB ] ||
		fail "$fs SIGKILL: the existing file looks complete: $(stat -c %s "$d/old") bytes"
	rm -f "$d/old"
	ok "$fs: SIGKILL leaves no new file, and an old one its size"
}

# No O_TMPFILE: a hidden temporary name, renamed into place; on failure
# nothing is left, on success the file is there and --json says how.
fallback() {
	fs=$1 d=$2
	mkdir "$d/fb"
	KTASK_TEST_NO_TMPFILE=1 KTASK_TEST_FAIL_AT=3M "$KTASK" --min-chunk 1M \
		fallocate "$d/fb/f" 8M >/dev/null 2>"$LIB_TMP/err"
	[ $? -eq 1 ] || fail "$fs fallback: the failure did not fail"
	[ -z "$(ls -A "$d/fb")" ] || fail "$fs fallback: left $(ls -A "$d/fb")"
	KTASK_TEST_NO_TMPFILE=1 "$KTASK" --json fallocate "$d/fb/f" 8M \
		>"$LIB_TMP/json" 2>"$LIB_TMP/err" || fail "$fs fallback failed: $(cat "$LIB_TMP/err")"
	grep -q '"create":"rename"' "$LIB_TMP/json" || fail "$fs fallback: $(cat "$LIB_TMP/json")"
	[ "$(ls -A "$d/fb")" = f ] || fail "$fs fallback: $(ls -A "$d/fb")"
	[ "$(allocated "$d/fb/f")" -ge $((8 * MiB)) ] || fail "$fs fallback: not allocated"
	"$KTASK" --json fallocate "$d/fb/g" 8M >"$LIB_TMP/json" 2>/dev/null
	grep -q '"create":"O_TMPFILE"' "$LIB_TMP/json" || fail "$fs: $(cat "$LIB_TMP/json")"
	rm -rf "$d/fb"
	ok "$fs: O_TMPFILE, and the temporary-name fallback, leave nothing on failure"
}

# No lease: the file is open elsewhere (or KTASK_TEST_NO_LEASE): a note,
# and a failure keeps what was allocated.
no_lease() {
	fs=$1 d=$2
	truncate -s 16M "$d/open"
	exec 3<"$d/open"
	KTASK_TEST_FAIL_AT=9M "$KTASK" --min-chunk 4M fallocate "$d/open" 16M \
		>/dev/null 2>"$LIB_TMP/err"
	rc=$?
	exec 3<&-
	[ $rc -eq 1 ] || fail "$fs no lease: exit $rc"
	grep -q "cannot lease it (it is open in another process)" "$LIB_TMP/err" ||
		fail "$fs no lease: $(cat "$LIB_TMP/err")"
	grep -q "are kept" "$LIB_TMP/err" || fail "$fs no lease: $(cat "$LIB_TMP/err")"
	[ "$(allocated "$d/open")" -ge $((8 * MiB)) ] ||
		fail "$fs no lease: $(allocated "$d/open") bytes allocated"
	[ "$(stat -c %s "$d/open")" -eq $((16 * MiB)) ] || fail "$fs no lease: size"
	rm -f "$d/open"
	ok "$fs: no lease (open elsewhere): noted, allocation kept"
}

# populate --file opens read-only where it only reads; a FIFO is refused.
readonly_and_fifo() {
	fs=$1 d=$2
	head -c 4M /dev/urandom >"$d/ro"
	mount -o remount,ro "$d" || { echo "SKIP: $fs: cannot remount ro"; return; }
	"$KTASK" --quiet populate --file "$d/ro" >/dev/null 2>"$LIB_TMP/err" ||
		fail "$fs read-only: populate --file failed: $(cat "$LIB_TMP/err")"
	mount -o remount,rw "$d"
	rm -f "$d/ro"
	mkfifo "$d/fifo"
	timeout -k 5 20 "$KTASK" populate --read --file "$d/fifo" >/dev/null 2>"$LIB_TMP/err"
	rc=$?
	[ $rc -eq 1 ] && grep -q "not a regular file" "$LIB_TMP/err" ||
		fail "$fs FIFO: exit $rc: $(cat "$LIB_TMP/err")"
	rm -f "$d/fifo"
	ok "$fs: populate --file on a read-only mount, and a FIFO refused"
}

on_fs() {
	writer_fallocate "$@"
	before_lease "$@"
	[ "$1" != tmpfs ] && undo_and_opener "$@"
	[ "$1" = tmpfs ] && writer_populate "$@"
	unaligned_grow "$@"
	truncated_meanwhile "$@"
	[ "$1" = tmpfs ] && fifo_untouched "$@"
	preallocated "$@"
	prealloc_eof "$@"
	killed "$@"
	fallback "$@"
	no_lease "$@"
	[ "$1" != tmpfs ] && readonly_and_fifo "$@"
}

if mount_tmpfs "$LIB_TMP/tmpfs" 1g; then
	on_fs tmpfs "$LIB_TMP/tmpfs"
else
	fail "cannot mount a tmpfs"
fi
for t in ext4 xfs btrfs; do
	if mount_loop $t "$LIB_TMP/$t" 1G; then
		on_fs $t "$LIB_TMP/$t"
	else
		echo "SKIP: $t on a loop device: no mkfs.$t or no loop device"
	fi
done
exit $FAILED
