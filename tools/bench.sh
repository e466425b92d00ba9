#!/bin/sh
# bench.sh - the ktask command against the tools a sysadmin has, in the
# same run: util-linux fallocate(1), vmtouch -e, and one thread doing a
# memset or a touch loop (ktask --serial).  Each pair runs RUNS times,
# alternating, as whole commands (what a user waits for); the table gives
# the median of each and the ratio (theirs / ktask: above 1, ktask is
# faster).  Needs root (tmpfs, an ext4 loop device, hugetlbfs with huge
# pages reserved and given back after); installs vmtouch if missing.
#
# On a machine shared with other work, BENCH_NICE=-20 runs both sides at
# that nice value, so that other processes do not take the CPUs ktask's
# threads need; both sides get the same.
#
#   usage: [BENCH_NICE=N] tools/bench.sh PATH/TO/ktask [RUNS]  (default 5)
set -u
KTASK=$(realpath "$1")
RUNS=${2:-5}
NICE=${BENCH_NICE:-0}
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: needs root" >&2; exit 1; }
command -v vmtouch >/dev/null ||
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq vmtouch >/dev/null ||
	echo "bench.sh: no vmtouch: the evict row is skipped" >&2
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/ktask-bench.XXXXXX") || exit 1
MOUNTS=""
HUGE_OLD=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
	for m in $MOUNTS; do umount "$m"; done
	echo "$HUGE_OLD" >/proc/sys/vm/nr_hugepages
	rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 1" INT TERM

# Microseconds a command takes, as a whole.
usecs() {
	s=$(date +%s%N)
	nice -n "$NICE" "$@" >/dev/null 2>&1 || echo "bench.sh: failed: $*" >&2
	e=$(date +%s%N)
	echo $(((e - s) / 1000))
}

median() {
	sort -n | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# row JOB PEER_NAME SETUP PEER_CMD KTASK_CMD: SETUP runs before each run
# (untimed), e.g. to remove the file or warm the cache.
row() {
	job=$1 peer=$2 setup=$3 pcmd=$4 kcmd=$5
	: >"$TMP/p" && : >"$TMP/k"
	i=0
	# Alternating, and which goes first too, so that neither always
	# follows the setup (a sync, a cache warm-up) or the other.
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
	eval "$setup"
	p=$(median <"$TMP/p") k=$(median <"$TMP/k")
	awk -v j="$job" -v n="$peer" -v p="$p" -v k="$k" 'BEGIN {
		printf "| %s | %.3f s | %s %.3f s | %.2fx |\n", j, k / 1e6, n,
		       p / 1e6, p / k }'
}

# jrow JOB SETUP ARGS...: the job's own time from --json ("seconds": the
# allocation alone, without process start and mapping), --serial (one
# fallocate(2), what fallocate(1) does) against ktask's method.
jrow() {
	job=$1 setup=$2
	shift 2
	: >"$TMP/p" && : >"$TMP/k"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		eval "$setup"
		nice -n "$NICE" "$KTASK" --json --serial "$@" | jsecs >>"$TMP/p"
		eval "$setup"
		nice -n "$NICE" "$KTASK" --json "$@" | jsecs >>"$TMP/k"
		i=$((i + 1))
	done
	eval "$setup"
	p=$(median <"$TMP/p") k=$(median <"$TMP/k")
	awk -v j="$job" -v p="$p" -v k="$k" 'BEGIN {
		printf "| %s | %.3f s | --serial %.3f s | %.2fx |\n", j, k, p, p / k }'
}

jsecs() {
	sed -E 's/.*"seconds":([0-9.]+).*/\1/'
}

mkdir -p "$TMP/tmpfs" "$TMP/ext4" "$TMP/huge"
mount -t tmpfs -o size=2g ktask-bench "$TMP/tmpfs" && MOUNTS="$TMP/tmpfs $MOUNTS"
truncate -s 3G "$TMP/ext4.img" && mkfs.ext4 -q -F "$TMP/ext4.img" &&
	mount -o loop "$TMP/ext4.img" "$TMP/ext4" && MOUNTS="$TMP/ext4 $MOUNTS"
echo $((HUGE_OLD + 520)) >/proc/sys/vm/nr_hugepages
huge=no
if [ "$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)" -ge 520 ] &&
   mount -t hugetlbfs ktask-bench "$TMP/huge"; then
	MOUNTS="$TMP/huge $MOUNTS"
	huge=yes
	# The first use of huge pages in a VM costs the host's faults: once
	# untimed, so that both sides find the pages ready.
	fallocate -l 1G "$TMP/huge/warm" && rm -f "$TMP/huge/warm"
fi

echo "ktask command vs peers: $(nproc) CPUs, median of $RUNS runs each, nice $NICE, $(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| job | ktask | peer | peer / ktask |"
echo "|---|---|---|---|"
if [ "$huge" = yes ]; then
	row "fallocate 1G hugetlbfs (2 MiB pages)" "fallocate -l" "rm -f $TMP/huge/f" \
		"fallocate -l 1G $TMP/huge/f" "$KTASK fallocate $TMP/huge/f 1G"
	jrow "fallocate 1G hugetlbfs, job time" "rm -f $TMP/huge/f" \
		fallocate "$TMP/huge/f" 1G
else
	echo "| fallocate 1G hugetlbfs | skipped: 520 huge pages not available | | |"
fi
row "fallocate 1G tmpfs" "fallocate -l" "rm -f $TMP/tmpfs/f" \
	"fallocate -l 1G $TMP/tmpfs/f" "$KTASK fallocate $TMP/tmpfs/f 1G"
row "fallocate 1G ext4" "fallocate -l" "rm -f $TMP/ext4/f; sync" \
	"fallocate -l 1G $TMP/ext4/f" "$KTASK fallocate $TMP/ext4/f 1G"
if command -v vmtouch >/dev/null; then
	mkdir "$TMP/ext4/d"
	i=0
	while [ $i -lt 5000 ]; do
		head -c 65536 /dev/urandom >"$TMP/ext4/d/$i"
		i=$((i + 1))
	done
	sync
	row "evict 5000 x 64 KiB ext4" "vmtouch -e" "vmtouch -qt $TMP/ext4/d" \
		"vmtouch -qe $TMP/ext4/d" "$KTASK evict $TMP/ext4/d"
fi
row "clear 1G" "memset (--serial)" ":" \
	"$KTASK --serial clear 1G" "$KTASK clear 1G"
row "populate --touch 1G" "loop (--serial)" ":" \
	"$KTASK --serial populate --touch 1G" "$KTASK populate --touch 1G"
row "populate 1G" "MADV_POPULATE_WRITE (--serial)" ":" \
	"$KTASK --serial populate 1G" "$KTASK populate 1G"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
