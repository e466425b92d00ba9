#!/bin/sh
# signal.sh - SIGINT and SIGTERM in the middle of `ktask fallocate` and
# `ktask populate --file`, on a real tmpfs, ext4 on a loop device and
# hugetlbfs: the job stops, what it allocated is released, a file it
# created is removed, an extended file gets its size back, and the exit
# code is 130 or 143.  The signal is sent at a known point: the test hook
# KTASK_TEST_PAUSE_AFTER=N makes the job pause after N steps of 64 MiB
# and say so on stderr (tools/signal.c).  Needs root; exits 77 otherwise.
#
#   usage: signal.sh PATH/TO/ktask
set -u
KTASK=$1
. "$(dirname "$0")/lib.sh"
need_root

# interrupt_new FS DIR SIGNAL CODE: a new file of 512 MiB, stopped after
# two steps: removed, and the filesystem as full as before.
interrupt_new() {
	fs=$1 dir=$2 sig=$3 code=$4
	before=$(used "$dir") avail=$(df_avail "$dir")
	WATCH=$dir run_paused "$LIB_TMP/err" 2 "$sig" "$KTASK" --threads 2 \
		fallocate "$dir/new" 512M
	# Stopped in the middle: 128 MiB or more, not all, were allocated.
	[ "$MID" -ge $((before + 131072)) ] && [ "$MID" -lt $((before + 524288)) ] ||
		fail "$fs new file: $MID KiB used when paused, was $before"
	[ "$RC" -eq "$code" ] || fail "$fs new file, SIG$sig: exit $RC, expected $code"
	grep -q "interrupted by SIG$sig; no file created" "$LIB_TMP/err" ||
		fail "$fs new file, SIG$sig: message: $(cat "$LIB_TMP/err")"
	[ -e "$dir/new" ] && fail "$fs new file, SIG$sig: file left behind"
	after=$(used "$dir")
	[ "$after" -eq "$before" ] ||
		fail "$fs new file, SIG$sig: $after KiB used, was $before"
	[ "$(df_avail "$dir")" -eq "$avail" ] ||
		fail "$fs new file: $(df_avail "$dir") KiB free, was $avail"
	ok "$fs: SIG$sig in fallocate of a new file -> $RC, nothing left"
}

# interrupt_old FS DIR: an existing file with data and a hole, extended:
# same size, bytes, data map and allocation afterwards.
interrupt_old() {
	fs=$1 dir=$2
	head -c 1048576 /dev/urandom >"$dir/old"
	truncate -s 3M "$dir/old"
	cp "$dir/old" "$LIB_TMP/old.copy"
	size=$(stat -c %s "$dir/old") alloc=$(allocated "$dir/old")
	run_paused "$LIB_TMP/err" 2 INT "$KTASK" fallocate "$dir/old" 512M
	[ "$RC" -eq 130 ] || fail "$fs old file: exit $RC, expected 130"
	grep -q "interrupted by SIGINT; file left as it was" "$LIB_TMP/err" ||
		fail "$fs old file: message: $(cat "$LIB_TMP/err")"
	[ "$(stat -c %s "$dir/old")" -eq "$size" ] ||
		fail "$fs old file: size $(stat -c %s "$dir/old"), was $size"
	# ext4 may keep one extent tree block: metadata, not data.
	a=$(allocated "$dir/old")
	[ "$a" -ge "$alloc" ] && [ "$a" -le $((alloc + 4096)) ] ||
		fail "$fs old file: $a bytes allocated, was $alloc"
	cmp -s "$dir/old" "$LIB_TMP/old.copy" || fail "$fs old file: bytes changed"
	rm -f "$dir/old"
	ok "$fs: SIGINT in fallocate extending a file -> $RC, file as it was"
}

# interrupt_populate FS DIR: populate --file of a sparse file, stopped:
# every hole it had is a hole again.
interrupt_populate() {
	fs=$1 dir=$2
	truncate -s 512M "$dir/sparse"
	before=$(used "$dir") avail=$(df_avail "$dir")
	WATCH=$dir run_paused "$LIB_TMP/err" 2 TERM "$KTASK" --min-chunk 64M \
		populate --file "$dir/sparse"
	[ "$MID" -ge $((before + 131072)) ] && [ "$MID" -lt $((before + 524288)) ] ||
		fail "$fs populate: $MID KiB used when paused, was $before"
	[ "$RC" -eq 143 ] || fail "$fs populate: exit $RC, expected 143"
	grep -q "interrupted by SIGTERM; nothing left allocated" "$LIB_TMP/err" ||
		fail "$fs populate: message: $(cat "$LIB_TMP/err")"
	[ "$(allocated "$dir/sparse")" -eq 0 ] ||
		fail "$fs populate: $(allocated "$dir/sparse") bytes left allocated"
	[ "$(stat -c %s "$dir/sparse")" -eq 536870912 ] ||
		fail "$fs populate: size changed"
	[ "$(used "$dir")" -eq "$before" ] ||
		fail "$fs populate: $(used "$dir") KiB used, was $before"
	[ "$(df_avail "$dir")" -eq "$avail" ] ||
		fail "$fs populate: $(df_avail "$dir") KiB free, was $avail"
	rm -f "$dir/sparse"
	ok "$fs: SIGTERM in populate --file -> $RC, holes are holes again"
}

if mount_tmpfs "$LIB_TMP/tmpfs" 1g; then
	interrupt_new tmpfs "$LIB_TMP/tmpfs" INT 130
	interrupt_new tmpfs "$LIB_TMP/tmpfs" TERM 143
	interrupt_old tmpfs "$LIB_TMP/tmpfs"
	interrupt_populate tmpfs "$LIB_TMP/tmpfs"
else
	fail "cannot mount a tmpfs"
fi

if mount_ext4 "$LIB_TMP/ext4" 1G; then
	interrupt_new ext4 "$LIB_TMP/ext4" INT 130
	interrupt_old ext4 "$LIB_TMP/ext4"
else
	echo "SKIP: ext4 on a loop device: cannot set one up"
fi

if mount_hugetlbfs "$LIB_TMP/huge" 300 size=600M; then
	interrupt_new hugetlbfs "$LIB_TMP/huge" INT 130
	interrupt_new hugetlbfs "$LIB_TMP/huge" TERM 143
	interrupt_populate hugetlbfs "$LIB_TMP/huge"
else
	echo "SKIP: hugetlbfs: cannot reserve 300 huge pages of 2 MiB"
fi

exit $FAILED
