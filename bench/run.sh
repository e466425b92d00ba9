#!/bin/sh
# run.sh - runs every workload on every peer, each in a process of its own,
# and merges the rows into one CSV, a Markdown table, a check of the
# targets and a plot per workload.
#
#   bench/run.sh [quick|full] [build-dir] [out-dir]
#
# Environment: ROUNDS (default 1 in quick mode, 3 in full) repeats the whole
# run and keeps the median of the rounds; WORKLOADS (default "1 ... 9")
# picks workloads by number; BENCH_FIFO=1 runs every workload but 8 under
# SCHED_FIFO priority 1 (chrt), all peers alike, so that other users of a
# shared machine (compilers) do not preempt the benchmark; workload 8 stays
# in the normal class, since a cgroup's CPU quota does not limit real-time
# threads.
#
# Separate processes keep one peer's idle threads from stealing CPU from
# the next, and let the same binary run under different environments:
# libgomp is run as it comes and with OMP_WAIT_POLICY=passive.  LLVM's
# libomp has its own binary.  Workload 8 also runs OpenMP and TBB with 16
# threads, as sized for a 16-CPU host, under the fakecpus LD_PRELOAD shim
# that shows them 16 CPUs ("-t16") and without it ("-t16-unshimmed").  Peers are interleaved workload by workload
# and round by round, so every ratio compares runs made close together, and
# every process gets the same calibration of the unit of work.
set -eu
mode=${1:-quick}
build=${2:-build}
out=${3:-bench-results}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench/ktask-bench
llvm=$build/bench/ktask-bench-llvm-omp
# The LD_PRELOAD shim that shows workload 8's "-t16" peers 16 CPUs.
shim=$(cd "$build/bench" && pwd)/libktask-bench-fakecpus.so
[ -f "$shim" ] || { echo "run.sh: no $shim: the -t16 peers run unshimmed only" >&2; shim=""; }

case $mode in
quick|tiny) rounds=${ROUNDS:-1} ;;
full) rounds=${ROUNDS:-3} ;;
*) echo "usage: $0 [quick|full] [build-dir] [out-dir]" >&2; exit 2 ;;
esac
workloads=${WORKLOADS:-1 2 3 4 5 6 7 8 9}
[ -x "$bin" ] || { echo "run.sh: $bin not built" >&2; exit 1; }
mkdir -p "$out/parts"
rm -f "$out"/parts/*.csv "$out/load.log"

# Settings the peers read are cleared, so that every peer runs as it comes.
unset OMP_WAIT_POLICY OMP_NUM_THREADS GOMP_SPINCOUNT KMP_BLOCKTIME \
	KTASK_MAX_THREADS KTASK_IDLE_MS KMP_TOPOLOGY_METHOD BENCH_THREADS \
	BENCH_FAKE_CPUS LD_PRELOAD 2>/dev/null || true

peers=$("$bin" -l 2>&1 | sed -n 's/^peers: //p')
cal=$("$bin" -C)
start=$(date +%s)
r=1
while [ $r -le "$rounds" ]; do
	for w in $workloads; do
		# Other users of a shared machine show up here: keep the record.
		echo "round $r workload $w: loadavg $(cat /proc/loadavg)" >> "$out/load.log"
		rt=""
		if [ "${BENCH_FIFO:-0}" = 1 ] && [ "$w" != 8 ]; then
			rt="chrt -f 1"
			echo "round $r workload $w: under SCHED_FIFO 1" >> "$out/load.log"
		fi
		for p in $peers; do
			$rt "$bin" -m "$mode" -c "$cal" -w $w -p $p \
				-o "$out/parts/$r-$w-$p.csv"
			if [ "$p" = gomp ]; then
				OMP_WAIT_POLICY=passive $rt "$bin" -m "$mode" -c "$cal" \
					-w $w -p gomp -o "$out/parts/$r-$w-gomp-passive.csv"
			fi
		done
		if [ -x "$llvm" ]; then
			$rt "$llvm" -m "$mode" -c "$cal" -w $w -p llvm-omp \
				-o "$out/parts/$r-$w-llvm-omp.csv"
		fi
		# Workload 8 again with the peers sized for a 16-CPU host, as
		# in a container on a big machine (ktask sizes itself): 16
		# threads, and under the fakecpus shim a runtime that sees 16
		# CPUs ("-t16"), as it would there.  Without the shim the
		# runtimes see 2 CPUs and throttle their spinning
		# ("-t16-unshimmed", the earlier emulation, kept to compare).
		if [ "$w" = 8 ]; then
			for fake in 16 ""; do
				pre=""
				if [ -n "$fake" ]; then
					[ -n "$shim" ] || continue
					pre="LD_PRELOAD=$shim BENCH_FAKE_CPUS=$fake"
				fi
				for p in gomp tbb; do
					case " $peers " in *" $p "*) ;; *) continue ;; esac
					env $pre BENCH_THREADS=16 "$bin" -m "$mode" \
						-c "$cal" -w 8 -p $p \
						-o "$out/parts/$r-8-$p-t16${fake:+-fake}.csv"
				done
				if [ -x "$llvm" ]; then
					env $pre BENCH_THREADS=16 "$llvm" -m "$mode" \
						-c "$cal" -w 8 -p llvm-omp \
						-o "$out/parts/$r-8-llvm-omp-t16${fake:+-fake}.csv"
				fi
			done
		fi
	done
	r=$((r + 1))
done

csv=$out/results.csv
head -n 1 "$(ls "$out"/parts/*.csv | head -n 1)" > "$csv"
for f in "$out"/parts/*.csv; do
	tail -n +2 "$f"
done | sort -t, -s -k1,1 | awk -f "$here/merge.awk" >> "$csv"
# Each round on its own too: on a shared machine one round may have had the
# CPUs to itself while another had half of them.
r=1
while [ "$rounds" -gt 1 ] && [ $r -le "$rounds" ]; do
	head -n 1 "$csv" > "$out/round-$r.csv"
	for f in "$out"/parts/$r-*.csv; do
		tail -n +2 "$f"
	done | sort -t, -s -k1,1 | awk -f "$here/merge.awk" >> "$out/round-$r.csv"
	awk -f "$here/targets.awk" "$out/round-$r.csv" > "$out/targets-round-$r.md"
	r=$((r + 1))
done
awk -f "$here/table.awk" "$csv" > "$out/table.md"
awk -f "$here/targets.awk" "$csv" > "$out/targets.md"
cat "$out/table.md"
echo
cat "$out/targets.md"
"$here/plot.sh" "$csv" "$out"
echo "run.sh: $mode mode, $rounds round(s), took $(( $(date +%s) - start )) s; results in $out/"
