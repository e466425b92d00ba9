#!/bin/sh
# fs.sh - the ktask command on real filesystems: what it does to a file on
# tmpfs, ext4 (a loop device) and hugetlbfs, and that a full filesystem
# leaves nothing behind.  Needs root; exits 77 otherwise.
#
#   usage: fs.sh PATH/TO/ktask
set -u
KTASK=$1
. "$(dirname "$0")/lib.sh"
need_root

# expect_fail WHAT PATTERN CMD...: exit 1 and PATTERN on stderr.
expect_fail() {
	what=$1 pattern=$2
	shift 2
	"$@" >"$LIB_TMP/out" 2>"$LIB_TMP/err"
	rc=$?
	if [ "$rc" -ne 1 ] || ! grep -q -- "$pattern" "$LIB_TMP/err"; then
		fail "$what: exit $rc: $(cat "$LIB_TMP/err")"
	else
		ok "$what: $(head -n 1 "$LIB_TMP/err")"
	fi
}

# json_get FILE KEY: a value of the JSON object in FILE.
json_get() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# --- A full tmpfs: populate --file says ENOSPC and leaves nothing.
full_tmpfs() {
	d=$LIB_TMP/small
	truncate -s 16M "$d/sparse"
	head -c 1048576 /dev/urandom >"$d/data"
	truncate -s 16M "$d/data"
	cp "$d/data" "$LIB_TMP/data.copy"
	data_alloc=$(allocated "$d/data")
	before=$(used "$d")
	# Refused up front; then, with --force, by the kernel part way
	# (MADV_POPULATE_WRITE, and touching: SIGBUS); both undone.
	for opts in "" "--force" "--force --touch"; do
		for f in sparse data; do
			expect_fail "tmpfs full, populate $opts $f" \
				"No space left on device" \
				"$KTASK" --min-chunk 2M $opts populate --file "$d/$f"
		done
		[ "$(allocated "$d/sparse")" -eq 0 ] ||
			fail "populate $opts: $(allocated "$d/sparse") bytes left in the sparse file"
		[ "$(allocated "$d/data")" -eq "$data_alloc" ] ||
			fail "populate $opts: data file has $(allocated "$d/data") bytes, had $data_alloc"
		cmp -s "$d/data" "$LIB_TMP/data.copy" || fail "populate $opts: data changed"
		[ "$(used "$d")" -eq "$before" ] ||
			fail "populate $opts: $(used "$d") KiB used, was $before"
	done
	# What fits is allocated.
	truncate -s 2M "$d/fits"
	"$KTASK" --quiet populate --file "$d/fits" >/dev/null ||
		fail "populate of a file that fits failed"
	[ "$(allocated "$d/fits")" -eq 2097152 ] || fail "populate did not allocate the holes on tmpfs"
	rm -f "$d/sparse" "$d/data" "$d/fits"
}

# --- ext4: populate --file writes nothing unless --write; evict sends no
# flush for clean files and writes back dirty ones.
ext4_populate() {
	d=$LIB_TMP/ext4
	mount -o remount,noatime "$d"
	truncate -s 64M "$d/sparse"
	head -c 16777216 /dev/urandom >"$d/data"
	sync
	mtime=$(stat -c %Y.%y "$d/data")
	# Out of the cache first, so that the count below is populate's doing.
	"$KTASK" evict "$d/data" >/dev/null || fail "ext4: evict of the data file failed"
	if command -v fincore >/dev/null; then
		pages=$(fincore -n -o PAGES "$d/data")
		[ "$pages" -lt 64 ] || fail "ext4: evict left $pages of 4096 pages cached"
	fi
	writes=$(awk '{ print $7 }' "/sys/block/$LOOPDEV/stat")
	"$KTASK" --json populate --file "$d/sparse" >"$LIB_TMP/json" ||
		fail "ext4 populate of a sparse file failed"
	"$KTASK" populate --file "$d/data" >/dev/null ||
		fail "ext4 populate of a data file failed"
	case $(json_get "$LIB_TMP/json" method) in
	*"nothing written"*) ok "ext4 populate: $(json_get "$LIB_TMP/json" method)" ;;
	*) fail "ext4 populate method: $(cat "$LIB_TMP/json")" ;;
	esac
	[ "$(allocated "$d/sparse")" -eq 0 ] ||
		fail "ext4 populate allocated $(allocated "$d/sparse") bytes of a sparse file"
	[ "$(stat -c %Y.%y "$d/data")" = "$mtime" ] || fail "ext4 populate changed the mtime"
	sync
	[ "$(awk '{ print $7 }' "/sys/block/$LOOPDEV/stat")" -eq "$writes" ] ||
		fail "ext4 populate: the device was written to"
	if command -v fincore >/dev/null; then
		# A few may go again at once: a test beside this one that
		# reserves huge pages makes the kernel reclaim clean cache
		# (seen: 4090 of 4096 under ctest -j2).
		pages=$(fincore -n -o PAGES "$d/data")
		[ "$pages" -ge 4032 ] || fail "ext4 populate: $pages of 4096 pages cached"
	fi
	ok "ext4 populate: holes stay holes, data cached, nothing written"
	# --write does what it says: every hole gets blocks.
	"$KTASK" populate --write --file "$d/sparse" >/dev/null ||
		fail "ext4 populate --write failed"
	[ "$(allocated "$d/sparse")" -ge 67108864 ] || fail "ext4 populate --write allocated nothing"
	rm -f "$d/sparse" "$d/data"
}

flushes() {
	awk '{ print $15 }' "/sys/block/$LOOPDEV/stat"
}

ext4_evict() {
	d=$LIB_TMP/ext4/evict
	mkdir -p "$d/clean" "$d/dirty"
	i=0
	while [ $i -lt 200 ]; do
		head -c 65536 /dev/zero >"$d/clean/$i"
		i=$((i + 1))
	done
	sync
	cat "$d/clean/"* >/dev/null
	f0=$(flushes)
	"$KTASK" --min-chunk 8 evict "$d/clean" >/dev/null || fail "evict of clean files failed"
	f1=$(flushes)
	[ "$f1" -eq "$f0" ] || fail "evict of 200 clean files sent $((f1 - f0)) flushes"
	ok "evict of 200 clean files: no device flush"
	if command -v fincore >/dev/null; then
		pages=$(fincore -n -o PAGES "$d/clean/"* | awk '{ s += $1 } END { print s }')
		[ "$pages" -eq 0 ] || fail "evict: $pages clean pages still cached"
		i=0
		while [ $i -lt 20 ]; do
			head -c 262144 /dev/urandom >"$d/dirty/$i"
			i=$((i + 1))
		done
		"$KTASK" evict "$d/dirty" >/dev/null || fail "evict of dirty files failed"
		pages=$(fincore -n -o PAGES "$d/dirty/"* | awk '{ s += $1 } END { print s }')
		[ "$pages" -eq 0 ] || fail "evict: $pages dirty pages still cached"
		ok "evict of dirty files: written back and dropped"
	fi
	# Permissions: one file nobody may read; all are named before any
	# is evicted, so the readable ones stay cached.
	if command -v setpriv >/dev/null && command -v fincore >/dev/null; then
		chmod 755 "$LIB_TMP" "$LIB_TMP/ext4" "$d"
		mkdir "$d/perm"
		head -c 65536 /dev/zero >"$d/perm/a"
		head -c 65536 /dev/zero >"$d/perm/secret
name"
		head -c 65536 /dev/zero >"$d/perm/z"
		chmod 644 "$d/perm/a" "$d/perm/z"
		chmod 600 "$d/perm/secret
name"
		cat "$d/perm/a" "$d/perm/z" >/dev/null
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$KTASK" evict "$d/perm" >/dev/null 2>"$LIB_TMP/err"
		rc=$?
		[ "$rc" -eq 1 ] || fail "evict of an unreadable file: exit $rc"
		[ "$(wc -l <"$LIB_TMP/err")" -eq 1 ] &&
			grep -q 'secret\\nname: Permission denied' "$LIB_TMP/err" ||
			fail "evict of an unreadable file: message: $(cat "$LIB_TMP/err")"
		pages=$(fincore -n -o PAGES "$d/perm/a" "$d/perm/z" | awk '{ s += $1 } END { print s }')
		[ "$pages" -eq 32 ] || fail "evict evicted readable files ($pages of 32 pages left) although one was not"
		ok "evict: an unreadable file is named (escaped, one line), nothing evicted"
	fi
	rm -rf "$d"
}

# --- hugetlbfs: the parallel method, rounding, ENOSPC, the kernel's ktask.
hugetlbfs() {
	d=$LIB_TMP/huge
	"$KTASK" --json --min-chunk 2M fallocate "$d/f" 64M >"$LIB_TMP/json" ||
		fail "hugetlbfs fallocate failed"
	case $(json_get "$LIB_TMP/json" method) in
	"MADV_POPULATE_WRITE of a shared mapping"*) ok "hugetlbfs fallocate: $(json_get "$LIB_TMP/json" method)" ;;
	*) fail "hugetlbfs fallocate method: $(cat "$LIB_TMP/json")" ;;
	esac
	[ "$(allocated "$d/f")" -eq 67108864 ] || fail "hugetlbfs fallocate: $(allocated "$d/f") bytes allocated"
	if [ "$(nproc)" -ge 2 ]; then
		[ "$(json_get "$LIB_TMP/json" threads)" -ge 2 ] || fail "hugetlbfs fallocate ran in one thread"
	fi
	rm -f "$d/f"
	"$KTASK" --json --serial fallocate "$d/f" 8M >"$LIB_TMP/json" || fail "hugetlbfs --serial failed"
	case $(json_get "$LIB_TMP/json" method) in
	"fallocate(2) in one thread"*) ok "hugetlbfs --serial: one fallocate(2)" ;;
	*) fail "hugetlbfs --serial method: $(cat "$LIB_TMP/json")" ;;
	esac
	rm -f "$d/f"

	"$KTASK" fallocate "$d/odd" 3M >/dev/null 2>"$LIB_TMP/err" || fail "hugetlbfs 3M failed"
	grep -q "length 3.00 MiB rounded up to 4.00 MiB: hugetlbfs files hold whole 2048 KiB pages" \
		"$LIB_TMP/err" || fail "hugetlbfs 3M: no note: $(cat "$LIB_TMP/err")"
	[ "$(stat -c %s "$d/odd")" -eq 4194304 ] || fail "hugetlbfs 3M: size $(stat -c %s "$d/odd")"
	rm -f "$d/odd"
	ok "hugetlbfs: 3M rounded up to 4M, and said so"

	# populate --read allocates on hugetlbfs (no zero page), and says so.
	truncate -s 8M "$d/p"
	"$KTASK" --json populate --read --file "$d/p" >"$LIB_TMP/json" ||
		fail "hugetlbfs populate --read failed"
	[ "$(allocated "$d/p")" -eq 8388608 ] || fail "hugetlbfs populate --read: $(allocated "$d/p") bytes"
	json_get "$LIB_TMP/json" method | grep -q "allocates the holes" ||
		fail "hugetlbfs populate --read method: $(cat "$LIB_TMP/json")"
	rm -f "$d/p"
	ok "hugetlbfs populate --read: allocates the holes, and says so"

	# The kernel's ktask: /sys/module/ktask without initstate.
	mkdir -p "$LIB_TMP/sys/module/ktask"
	KTASK_TEST_SYSFS=$LIB_TMP/sys "$KTASK" --json fallocate "$d/k" 8M >"$LIB_TMP/json" ||
		fail "hugetlbfs fallocate with the kernel's ktask failed"
	[ "$(json_get "$LIB_TMP/json" kernel_ktask)" = True ] &&
		json_get "$LIB_TMP/json" method | grep -q "kernel's ktask" ||
		fail "kernel ktask not reported: $(cat "$LIB_TMP/json")"
	[ "$(allocated "$d/k")" -eq 8388608 ] || fail "kernel-ktask method allocated $(allocated "$d/k")"
	rm -f "$d/k"
	touch "$LIB_TMP/sys/module/ktask/initstate"
	KTASK_TEST_SYSFS=$LIB_TMP/sys "$KTASK" --json fallocate "$d/k" 8M >"$LIB_TMP/json"
	[ "$(json_get "$LIB_TMP/json" kernel_ktask)" = False ] ||
		fail "a loadable ktask.ko taken for the kernel's: $(cat "$LIB_TMP/json")"
	rm -f "$d/k"
	ok "hugetlbfs: the kernel's ktask detected (no initstate), a module is not"
}

hugetlbfs_full() {
	d=$LIB_TMP/hsmall
	avail=$(df_avail "$d")
	expect_fail "hugetlbfs full, fallocate" "No space left on device" \
		"$KTASK" --min-chunk 2M fallocate "$d/f" 64M
	[ -e "$d/f" ] && fail "hugetlbfs full: file left behind"
	truncate -s 64M "$d/sparse"
	for opts in "" "--read" "--force" "--force --touch"; do
		expect_fail "hugetlbfs full, populate $opts" "No space left on device" \
			"$KTASK" --min-chunk 2M $opts populate --file "$d/sparse"
		[ "$(allocated "$d/sparse")" -eq 0 ] ||
			fail "hugetlbfs populate $opts: $(allocated "$d/sparse") bytes left"
		[ "$(df_avail "$d")" -eq "$avail" ] ||
			fail "hugetlbfs populate $opts: $(df_avail "$d") KiB free, was $avail"
	done
	rm -f "$d/sparse"
}

if mount_tmpfs "$LIB_TMP/small" 8m; then
	full_tmpfs
else
	fail "cannot mount a tmpfs"
fi
if mount_ext4 "$LIB_TMP/ext4" 256M; then
	ext4_populate
	ext4_evict
else
	echo "SKIP: ext4 on a loop device: cannot set one up"
fi
if mount_hugetlbfs "$LIB_TMP/huge" 64 size=128M &&
   mount_hugetlbfs "$LIB_TMP/hsmall" 0 size=32M; then
	hugetlbfs
	hugetlbfs_full
else
	echo "SKIP: hugetlbfs: cannot reserve 64 huge pages of 2 MiB"
fi
exit $FAILED
