# lib.sh - what the ktask command's shell tests share: failing, and real
# filesystems to run on (a small tmpfs, ext4 on a loop device, hugetlbfs
# with huge pages reserved for the test).  Sourced, not run.
#
# Each mount is undone, and /proc/sys/vm/nr_hugepages set back, by
# lib_cleanup, which the scripts run on exit.  What cannot be set up (not
# root, no loop device, no huge pages) is skipped with a message saying
# why; CI runs as root, so there everything runs.

FAILED=0
LIB_MOUNTS=""
LIB_HUGE_OLD=""
LIB_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/ktask-test.XXXXXX") || exit 1

fail() {
	echo "FAIL: $*"
	FAILED=1
}

ok() {
	echo "ok: $*"
}

lib_cleanup() {
	for m in $LIB_MOUNTS; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	[ -n "$LIB_HUGE_OLD" ] && echo "$LIB_HUGE_OLD" >/proc/sys/vm/nr_hugepages
	rm -rf "$LIB_TMP"
}
trap lib_cleanup EXIT
trap "exit 1" INT TERM

need_root() {
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to mount"; exit 77; }
}

# mount_tmpfs DIR SIZE: a tmpfs of SIZE at DIR (created).
mount_tmpfs() {
	mkdir -p "$1" && mount -t tmpfs -o "size=$2" ktask-test "$1" &&
		LIB_MOUNTS="$1 $LIB_MOUNTS"
}

# mount_ext4 DIR SIZE: ext4 in a file of SIZE on a loop device, at DIR.
# Sets LOOPDEV to the device (e.g. loop3).
mount_ext4() {
	command -v mkfs.ext4 >/dev/null || return 1
	truncate -s "$2" "$LIB_TMP/ext4.img" &&
		mkfs.ext4 -q -F "$LIB_TMP/ext4.img" 2>/dev/null &&
		mkdir -p "$1" && mount -o loop "$LIB_TMP/ext4.img" "$1" ||
		return 1
	LIB_MOUNTS="$1 $LIB_MOUNTS"
	LOOPDEV=$(basename "$(findmnt -n -o SOURCE "$1")")
}

# mount_loop TYPE DIR SIZE: a TYPE (ext4, xfs, btrfs) filesystem in a file
# of SIZE on a loop device, at DIR.  Fails when mkfs.TYPE is missing.
mount_loop() {
	command -v "mkfs.$1" >/dev/null || return 1
	img=$LIB_TMP/$1.$(basename "$2").img
	truncate -s "$3" "$img" || return 1
	case $1 in
	ext4) mkfs.ext4 -q -F "$img" ;;
	xfs) mkfs.xfs -q -f "$img" ;;
	btrfs) mkfs.btrfs -q -f "$img" ;;
	*) false ;;
	esac >/dev/null 2>&1 || return 1
	mkdir -p "$2" && mount -o loop "$img" "$2" || return 1
	LIB_MOUNTS="$2 $LIB_MOUNTS"
}

# mount_hugetlbfs DIR PAGES [OPTS]: reserves PAGES more 2 MiB pages and
# mounts hugetlbfs at DIR.  Fails when the pages cannot be had.
mount_hugetlbfs() {
	[ -w /proc/sys/vm/nr_hugepages ] || return 1
	grep -q hugetlbfs /proc/filesystems || return 1
	[ "$(awk '/Hugepagesize/ { print $2 }' /proc/meminfo)" = 2048 ] ||
		return 1
	old=$(cat /proc/sys/vm/nr_hugepages)
	[ -z "$LIB_HUGE_OLD" ] && LIB_HUGE_OLD=$old
	echo $((old + $2)) >/proc/sys/vm/nr_hugepages
	free=$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)
	[ "$free" -ge "$2" ] || return 1
	mkdir -p "$1" && mount -t hugetlbfs ${3:+-o "$3"} ktask-test "$1" ||
		return 1
	LIB_MOUNTS="$1 $LIB_MOUNTS"
}

# KiB used on the filesystem at DIR.  On hugetlbfs, df counts reserved
# pages as used too: there, the KiB of huge pages in use, which the test
# owns (it reserved them).
used() {
	if [ "$(stat -f -c %T "$1")" = hugetlbfs ]; then
		awk '/HugePages_Total/ { t = $2 } /HugePages_Free/ { f = $2 }
		     END { print (t - f) * 2048 }' /proc/meminfo
		return
	fi
	sync -f "$1" 2>/dev/null
	df -k --output=used "$1" | tail -n 1 | tr -d ' '
}

# KiB of FS's size= still free (on hugetlbfs: not allocated or reserved).
df_avail() {
	df -k --output=avail "$1" | tail -n 1 | tr -d ' '
}

# Allocated bytes of FILE.
allocated() {
	echo $(($(stat -c '%b * %B' "$1")))
}

# run_paused FILE_ERR STEPS SIGNAL CMD...: runs CMD in the background with
# the test hook that pauses it after STEPS steps, waits for it to say so,
# sends SIGNAL, and sets RC to its exit code.  If WATCH names a directory,
# MID is set to the KiB used on it while the job was paused.
run_paused() {
	err=$1 steps=$2 sig=$3
	shift 3
	: >"$err"	# truncated before the job starts: no stale line
	KTASK_TEST_PAUSE_AFTER=$steps "$@" >/dev/null 2>>"$err" &
	pid=$!
	i=0
	while ! grep -q "test: paused after $steps steps" "$err" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "  (the job never paused: $(cat "$err"))"
			break
		fi
		sleep 0.1
	done
	MID=""
	[ -n "${WATCH:-}" ] && MID=$(used "$WATCH")
	kill -"$sig" "$pid"
	wait "$pid"
	RC=$?
}
