#!/bin/sh
# bench-sparse.sh - `ktask fallocate` of an existing sparse file against
# util-linux `fallocate -l` on the same layout, on tmpfs, ext4, xfs and
# btrfs (loop devices; xfs and btrfs when their mkfs is installed).
#
# Layouts, each 781 MiB:
#   holes100k  100 000 times 4 KiB of data then a 4 KiB hole
#   holes1k    1000 times 4 KiB of data then a 796 KiB hole
#   sparse     one hole (truncate -s)
#
# The data is written from the end backwards, into a file already at its
# size: written forwards, xfs preallocates past the end as the file grows
# and fills the holes (9 were left of 100 000).  Before every run the file
# is made again (untimed); the two commands
# alternate, and which goes first too.  The table gives the medians of
# RUNS runs each and the ratio fallocate(1) / ktask (above 1, ktask is
# faster), plus ktask's own phases from --verbose in the last run.  Needs
# root.
#
#   usage: [BENCH_NICE=N] [BENCH_LAYOUTS="holes100k ..."]
#          tools/bench-sparse.sh PATH/TO/ktask [RUNS] [FS...]
set -u
KTASK=$(realpath "$1")
RUNS=${2:-5}
shift $(($# >= 2 ? 2 : $#))
FSES=${*:-tmpfs ext4 xfs btrfs}
NICE=${BENCH_NICE:-0}
LAYOUTS=${BENCH_LAYOUTS:-holes100k holes1k sparse}
[ "$(id -u)" -eq 0 ] || { echo "bench-sparse.sh: needs root" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/ktask-sparse.XXXXXX") || exit 1
MOUNTS=""
cleanup() {
	for m in $MOUNTS; do umount "$m"; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 1" INT TERM

SIZE=$((800000 * 1024))

# layout FILE KIND: makes FILE with that layout (see the top).
layout() {
	rm -f "$1"
	case $2 in
	holes100k) step=8192 n=100000 ;;
	holes1k) step=819200 n=1000 ;;
	sparse) truncate -s "$SIZE" "$1"; return ;;
	esac
	perl -e 'my ($f, $step, $n, $size) = @ARGV;
		open(my $h, "+>", $f) or die "$f: $!";
		my $d = "x" x 4096;
		truncate($h, $size) or die;
		for (my $i = $n - 1; $i >= 0; $i--) {
			sysseek($h, $i * $step, 0); syswrite($h, $d) == 4096 or die;
		}
		close($h) or die;' \
		"$1" "$step" "$n" "$SIZE"
}

# Microseconds a command takes, as a whole.
usecs() {
	s=$(date +%s%N)
	nice -n "$NICE" "$@" >/dev/null 2>"$TMP/err" ||
		echo "bench-sparse.sh: failed: $* ($(cat "$TMP/err"))" >&2
	e=$(date +%s%N)
	echo $(((e - s) / 1000))
}

median() {
	sort -n | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# row FS DIR KIND
row() {
	f=$2/f
	: >"$TMP/p" && : >"$TMP/k"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		if [ $((i % 2)) -eq 0 ]; then
			layout "$f" "$3"; sync -f "$2"
			usecs fallocate -l "$SIZE" "$f" >>"$TMP/p"
			layout "$f" "$3"; sync -f "$2"
			usecs "$KTASK" --quiet fallocate "$f" "$SIZE" >>"$TMP/k"
		else
			layout "$f" "$3"; sync -f "$2"
			usecs "$KTASK" --quiet fallocate "$f" "$SIZE" >>"$TMP/k"
			layout "$f" "$3"; sync -f "$2"
			usecs fallocate -l "$SIZE" "$f" >>"$TMP/p"
		fi
		i=$((i + 1))
	done
	layout "$f" "$3"; sync -f "$2"
	phases=$(nice -n "$NICE" "$KTASK" -v --quiet fallocate "$f" "$SIZE" 2>&1 |
		sed -n 's/^ *phases: //p')
	rm -f "$f"
	p=$(median <"$TMP/p") k=$(median <"$TMP/k")
	awk -v fs="$1" -v l="$3" -v p="$p" -v k="$k" -v ph="$phases" 'BEGIN {
		printf "| %s | %s | %.3f s | %.3f s | %.2fx | %s |\n", fs, l,
		       k / 1e6, p / 1e6, p / k, ph }'
}

echo "ktask fallocate vs fallocate -l on sparse files: $(nproc) CPUs, median of $RUNS runs each, nice $NICE, $(uname -r), $("$KTASK" --version 2>/dev/null)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| filesystem | layout | ktask | fallocate -l | fallocate / ktask | ktask phases (-v, last run) |"
echo "|---|---|---|---|---|---|"
for fs in $FSES; do
	d=$TMP/$fs
	mkdir -p "$d"
	if [ "$fs" = tmpfs ]; then
		mount -t tmpfs -o size=2g ktask-bench "$d" || continue
	else
		command -v "mkfs.$fs" >/dev/null || {
			echo "| $fs | skipped: no mkfs.$fs | | | | |"; continue; }
		truncate -s 3G "$TMP/$fs.img" || continue
		case $fs in
		ext4) mkfs.ext4 -q -F "$TMP/$fs.img" ;;
		*) "mkfs.$fs" -q -f "$TMP/$fs.img" ;;
		esac >/dev/null 2>&1 || continue
		mount -o loop "$TMP/$fs.img" "$d" || continue
	fi
	MOUNTS="$d $MOUNTS"
	for kind in $LAYOUTS; do
		row "$fs" "$d" "$kind"
	done
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
