#!/bin/sh
# bench-cache.sh - `ktask populate --files`, `ktask evict` and `ktask
# residency` against vmtouch -t, -e and -v, on a few GiB of files on ext4
# (a loop device with direct I/O, so that a read goes to the disk and not
# to the page cache of the image file):
#
#   small  4096 files of 256 KiB (1 GiB)
#   large  8 files of 256 MiB (2 GiB; vmtouch skips files above 500 MiB
#          unless given -m)
#
# Each pair runs RUNS times, alternating (and which goes first), as whole
# commands, after an untimed setup (evict before a warm-up, warm up before
# an eviction).  The table gives the medians and the ratio vmtouch / ktask
# (above 1, ktask is faster).  Needs root; installs vmtouch if missing.
# BENCH_SETS picks the sets (default "small large") and BENCH_JOBS the
# rows of each (default "warm evict cached evicted"); only the sets
# picked are made.
#
#   usage: [BENCH_NICE=N] [BENCH_SETS="large"] [BENCH_JOBS="evict ..."]
#          tools/bench-cache.sh PATH/TO/ktask [RUNS]
set -u
KTASK=$(realpath "$1")
RUNS=${2:-5}
NICE=${BENCH_NICE:-0}
SETS=${BENCH_SETS:-small large}
JOBS=${BENCH_JOBS:-warm evict cached evicted}
[ "$(id -u)" -eq 0 ] || { echo "bench-cache.sh: needs root" >&2; exit 1; }
command -v vmtouch >/dev/null ||
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq vmtouch >/dev/null ||
	{ echo "bench-cache.sh: no vmtouch" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/ktask-cache.XXXXXX") || exit 1
D=$TMP/ext4
LOOP=""
cleanup() {
	mountpoint -q "$D" && umount "$D"
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 1" INT TERM

usecs() {
	s=$(date +%s%N)
	nice -n "$NICE" "$@" >/dev/null 2>&1 || echo "bench-cache.sh: failed: $*" >&2
	e=$(date +%s%N)
	echo $(((e - s) / 1000))
}

median() {
	sort -n | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# row JOB SETUP VMTOUCH_CMD KTASK_CMD
row() {
	job=$1 setup=$2 pcmd=$3 kcmd=$4
	: >"$TMP/p" && : >"$TMP/k"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		if [ $((i % 2)) -eq 0 ]; then
			eval "$setup"; usecs sh -c "$pcmd" >>"$TMP/p"
			eval "$setup"; usecs sh -c "$kcmd" >>"$TMP/k"
		else
			eval "$setup"; usecs sh -c "$kcmd" >>"$TMP/k"
			eval "$setup"; usecs sh -c "$pcmd" >>"$TMP/p"
		fi
		i=$((i + 1))
	done
	p=$(median <"$TMP/p") k=$(median <"$TMP/k")
	awk -v j="$job" -v p="$p" -v k="$k" 'BEGIN {
		printf "| %s | %.3f s | %.3f s | %.2fx |\n", j, k / 1e6, p / 1e6, p / k }'
}

mkdir -p "$D"
truncate -s 4G "$TMP/ext4.img" && mkfs.ext4 -q -F "$TMP/ext4.img" || exit 1
LOOP=$(losetup --direct-io=on -f --show "$TMP/ext4.img") || exit 1
mount "$LOOP" "$D" || exit 1
mkdir "$D/small" "$D/large"
# make_set NAME COUNT BYTES: COUNT files of BYTES random bytes in $D/NAME,
# if BENCH_SETS picked NAME.
make_set() {
	case " $SETS " in *" $1 "*) ;; *) return 0 ;; esac
	i=0
	while [ $i -lt "$2" ]; do
		head -c "$3" /dev/urandom >"$D/$1/$i"
		i=$((i + 1))
	done
}
make_set small 4096 262144
make_set large 8 268435456
sync

echo "ktask vs vmtouch $(vmtouch -h 2>&1 | sed -n 's/.*vmtouch v\([0-9.]*\).*/\1/p' | head -n 1): $(nproc) CPUs, median of $RUNS runs each, nice $NICE, $(uname -r), ext4 on a loop device (direct I/O)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| job | ktask | vmtouch | vmtouch / ktask |"
echo "|---|---|---|---|"
for set in $SETS; do
	dir=$D/$set
	for job in $JOBS; do
		case $job in
		warm) row "warm $set: populate --files / -t" "vmtouch -qe $dir" \
			"vmtouch -qt $dir" "$KTASK --quiet populate --files $dir" ;;
		evict) row "evict $set: evict / -e" "vmtouch -qt $dir" \
			"vmtouch -qe $dir" "$KTASK --quiet evict $dir" ;;
		cached) row "residency $set, cached: -v residency / -v" \
			"vmtouch -qt $dir" "vmtouch -v $dir" \
			"$KTASK -v residency $dir" ;;
		evicted) row "residency $set, evicted: -v residency / -v" \
			"vmtouch -qe $dir" "vmtouch -v $dir" \
			"$KTASK -v residency $dir" ;;
		esac
	done
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
