#!/bin/sh
# plot.sh - one PNG per workload from merged results: a panel per metric,
# bars clustered by size, one bar per peer.  Needs gnuplot (Debian:
# gnuplot-nox); without it the CSV and tables are still there.
#
#   bench/plot.sh results.csv out-dir
set -eu
csv=$1
out=$2
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "plot.sh: gnuplot not found, no plots (apt-get install gnuplot-nox)" >&2
	exit 0
fi
peers="serial pthreads ktask gomp gomp-passive llvm-omp tbb"

for w in $(awk -F, 'NR > 1 && $4 !~ /^note:/ { print $1 }' "$csv" | awk '!s[$0]++'); do
	metrics=$(awk -F, -v w="$w" 'NR > 1 && $1 == w && $4 !~ /^note:/ { print $4 }' "$csv" | awk '!s[$0]++')
	present=$(for p in $peers; do
		awk -F, -v w="$w" -v p="$p" '$1 == w && $3 == p { f = 1 } END { if (f) print p }' "$csv"
	done)
	n=$(echo "$metrics" | wc -l)
	script="$out/$w.gp"
	{
		echo "set terminal pngcairo size $((520 * n)),460 noenhanced"
		echo "set output '$out/$w.png'"
		echo "set multiplot layout 1,$n title '$w (median of repetitions)'"
		echo "set style data histograms"
		echo "set style histogram clustered gap 1"
		echo "set style fill solid 0.8 border -1"
		echo "set key below horizontal font ',9'"
		echo "set xlabel 'size'"
	} > "$script"
	for m in $metrics; do
		dat="$out/$w.$m.dat"
		# Rows are sizes, columns are the peers present.
		awk -F, -v w="$w" -v m="$m" -v peers="$(echo $present)" '
			BEGIN { np = split(peers, P, " ") }
			$1 == w && $4 == m { v[$2, $3] = $5; if (!($2 in s)) { s[$2] = 1; sz[++n] = $2 } }
			END {
				printf "size"; for (i = 1; i <= np; i++) printf " %s", P[i]; print ""
				for (j = 1; j <= n; j++) {
					printf "%s", sz[j]
					for (i = 1; i <= np; i++)
						printf " %s", ((sz[j], P[i]) in v) ? v[sz[j], P[i]] : "NaN"
					print ""
				}
			}' "$csv" > "$dat"
		cols=$(echo $present | wc -w)
		# Values spanning orders of magnitude get a log axis.
		span=$(awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "NaN") {
				if ($i <= 0) neg = 1; else { if (!lo || $i < lo) lo = $i; if ($i > hi) hi = $i } } }
			END { print (!neg && lo && hi / lo > 50) ? "log" : "lin" }' "$dat")
		if [ "$span" = log ]; then
			echo "set logscale y; set yrange [*:*]"
		else
			echo "unset logscale y; set yrange [0:*]"
		fi
		echo "set title '$m'"
		echo "plot for [i=2:$((cols + 1))] '$dat' using i:xtic(1) title columnheader(i)"
	done >> "$script"
	echo "unset multiplot" >> "$script"
	gnuplot "$script" || echo "plot.sh: gnuplot failed for $w" >&2
done
