# targets.awk - checks merged results against the targets (issues 5, 13 and 19) and
# prints a Markdown table: what was measured, the goal, met or missed.
# The result is information; nothing here fails a build.
#
#   awk -f bench/targets.awk results.csv
#
# "Best peer" means the best of every other system in the run, serial
# included: where one thread is fastest, that is what a user would pick.

BEGIN { FS = "," }
NR == 1 || $4 ~ /^note:/ { next }
{
	v[$1, $2, $3, $4] = $5
	mx[$1, $2, $3, $4] = $7
	if (!(($1, $2) in sz)) { sz[$1, $2] = 1; sizes[$1] = sizes[$1] " " $2 }
	if (!($3 in pseen)) { pseen[$3] = 1; peers[++np] = $3 }
	# The CPUs of ktask's runs: the shimmed "-t16" peers see 16.
	if ($3 == "ktask" || cpus == "") cpus = $9
}

function has(w, s, p, m) { return (w, s, p, m) in v }

# The best value of metric m among the peers other than ktask.
function best(w, s, m, higher,    i, b, p) {
	b = ""
	for (i = 1; i <= np; i++) {
		p = peers[i]
		if (p == "ktask" || !has(w, s, p, m)) continue
		if (b == "" || (higher ? v[w, s, p, m] > b : v[w, s, p, m] < b)) {
			b = v[w, s, p, m]; who = p
		}
	}
	return b
}

function row(name, s, measured, goal, ok) {
	printf "| %s | %s | %s | %s | %s |\n", name, s, measured, goal, ok ? "met" : "**missed**"
}

END {
	print "| target | size | measured | goal | result |"
	print "|---|---:|---|---|---|"
	n = split(sizes["forkjoin"], S, " ")
	for (i = 1; i <= n; i++) if (has("forkjoin", S[i], "ktask", "latency_ns") && has("forkjoin", S[i], "gomp", "latency_ns")) {
		r = v["forkjoin", S[i], "ktask", "latency_ns"] / v["forkjoin", S[i], "gomp", "latency_ns"]
		row("1 latency vs gomp", S[i], sprintf("%.2fx", r), "<= 1.5x", r <= 1.5)
		# Issue 19: back to back, the easiest rhythm, stays far ahead.
		row("1 back-to-back latency vs gomp", S[i], sprintf("%.2fx", r), "<= 0.3x", r <= 0.3)
		r = v["forkjoin", S[i], "ktask", "cpu_ns_per_call"] / v["forkjoin", S[i], "gomp", "cpu_ns_per_call"]
		row("1 CPU per call vs gomp", S[i], sprintf("%.2fx", r), "<= 1x", r <= 1)
	}
	n = split(sizes["periodic"], S, " ")
	for (i = 1; i <= n; i++) if (has("periodic", S[i], "ktask", "latency_us") && has("periodic", S[i], "gomp", "latency_us")) {
		r = v["periodic", S[i], "ktask", "latency_us"] / v["periodic", S[i], "gomp", "latency_us"]
		row("2 latency vs gomp", S[i], sprintf("%.2fx", r), "<= 1.25x", r <= 1.25)
		r = v["periodic", S[i], "ktask", "cpu_us_per_period"] / v["periodic", S[i], "gomp", "cpu_us_per_period"]
		row("2 CPU vs gomp", S[i], sprintf("%.2fx", r), "<= 0.2x", r <= 0.2)
	}
	split("zero populate", M, " ")
	for (k = 1; k <= 2; k++) {
		n = split(sizes[M[k]], S, " ")
		for (i = 1; i <= n; i++) if (has(M[k], S[i], "ktask", "GB_per_s")) {
			b = best(M[k], S[i], "GB_per_s", 1)
			r = v[M[k], S[i], "ktask", "GB_per_s"] / b
			row((k + 2) " GB/s vs best peer (" who ")", S[i] " MiB", sprintf("%.2fx", r), ">= 0.97x", r >= 0.97)
		}
	}
	n = split(sizes["populate"], S, " ")
	for (i = 1; i <= n; i++) if (has("populate", S[i], "serial", "GB_per_s")) {
		r = v["populate", S[i], "ktask", "GB_per_s"] / v["populate", S[i], "serial", "GB_per_s"]
		row("4 speedup over serial", S[i] " MiB", sprintf("%.2fx", r), ">= 1.7x", r >= 1.7)
	}
	n = split(sizes["uneven"], S, " ")
	for (i = 1; i <= n; i++) if (has("uneven", S[i], "serial", "makespan_ms")) {
		ideal = v["uneven", S[i], "serial", "makespan_ms"] / cpus
		r = v["uneven", S[i], "ktask", "makespan_ms"] / ideal
		row("5 makespan vs ideal (serial/" cpus ")", S[i], sprintf("%.2fx", r), "<= 1.05x", r <= 1.05)
		b = best("uneven", S[i], "makespan_ms", 0)
		r = v["uneven", S[i], "ktask", "makespan_ms"] / b
		row("5 makespan vs best peer (" who ")", S[i], sprintf("%.2fx", r), "<= 1x", r <= 1)
	}
	n = split(sizes["list"], S, " ")
	for (i = 1; i <= n; i++) if (has("list", S[i], "serial", "ms")) {
		r = v["list", S[i], "serial", "ms"] / v["list", S[i], "ktask", "ms"]
		row("6 speedup over serial", S[i], sprintf("%.2fx", r), ">= 1.7x", r >= 1.7)
	}
	n = split(sizes["callers"], S, " ")
	for (i = 1; i <= n; i++) if (has("callers", S[i], "ktask", "tasks_per_s")) {
		b = best("callers", S[i], "tasks_per_s", 1)
		r = v["callers", S[i], "ktask", "tasks_per_s"] / b
		row("7 throughput vs best peer (" who ")", S[i] " us", sprintf("%.2fx", r), ">= 1x", r >= 1)
		p = mx["callers", S[i], "ktask", "peak_runnable_workers"]
		row("7 peak runnable workers", S[i] " us", p, "<= " cpus " CPUs", p <= cpus)
	}
	n = split(sizes["quota"], S, " ")
	# Peers as they come (their team follows the affinity mask: 2 here)
	# are reported; the 2x goal is for peers sized for a 16-CPU host, as
	# a container on a big host meets them (BENCH_THREADS=16, "-t16",
	# with the fakecpus shim showing them 16 CPUs).  The same 16 threads
	# without the shim ("-t16-unshimmed") see 2 CPUs and throttle their
	# spinning, which they would not do there: reported for comparison.
	for (i = 1; i <= n; i++) if (has("quota", S[i], "ktask", "wall_ms")) {
		if (has("quota", S[i], "gomp", "wall_ms")) {
			r = v["quota", S[i], "gomp", "wall_ms"] / v["quota", S[i], "ktask", "wall_ms"]
			printf "| 8 speed vs gomp in 0.5 CPU (information) | %s us | %.2fx | none | - |\n", S[i], r
		}
		for (j = 1; j <= np; j++) if (peers[j] ~ /-t16$/ && has("quota", S[i], peers[j], "wall_ms")) {
			r = v["quota", S[i], peers[j], "wall_ms"] / v["quota", S[i], "ktask", "wall_ms"]
			row("8 speed vs " peers[j] " in 0.5 CPU", S[i] " us", sprintf("%.2fx", r), ">= 2x", r >= 2)
		}
		for (j = 1; j <= np; j++) if (peers[j] ~ /-t16-unshimmed$/ && has("quota", S[i], peers[j], "wall_ms")) {
			r = v["quota", S[i], peers[j], "wall_ms"] / v["quota", S[i], "ktask", "wall_ms"]
			printf "| 8 speed vs %s in 0.5 CPU (information) | %s us | %.2fx | none | - |\n", peers[j], S[i], r
		}
	}
	n = split(sizes["tiny"], S, " ")
	for (i = 1; i <= n; i++) if (has("tiny", S[i], "ktask", "overhead_ns")) {
		r = v["tiny", S[i], "ktask", "overhead_ns"]
		row("9 overhead over a direct call", S[i], sprintf("%.1f ns", r), "< 20 ns", r < 20)
	}
}
