# table.awk - turns merged benchmark CSV into Markdown tables: one row per
# workload, size and metric; per peer its median and, in parentheses, its
# ratio to ktask's median from the same run.  Notes (skipped workloads) are
# listed after the tables.
#
#   awk -F, -f bench/table.awk results.csv

BEGIN {
	FS = ","
	split("serial pthreads ktask gomp gomp-passive llvm-omp tbb", order, " ")
	for (i = 1; i in order; i++) {
		peers[++npeers] = order[i]
		known[order[i]] = 1
	}
}

NR == 1 && $1 == "workload" { next }

$4 ~ /^note:/ {
	notes[++nnotes] = $1 " (" $3 "): " substr($4, 6)
	next
}

{
	key = $1 SUBSEP $2 SUBSEP $4
	if (!(key in seen)) {
		seen[key] = 1
		keys[++nkeys] = key
	}
	med[key, $3] = $5
	if (!($3 in known)) {
		known[$3] = 1
		peers[++npeers] = $3
	}
	present[$3] = 1
	# The CPUs of ktask's runs: the shimmed "-t16" peers see 16.
	if ($3 == "ktask" || cpus == "") cpus = $9
}

function fmt(v) {
	if (v >= 1000) return sprintf("%.0f", v)
	if (v >= 10) return sprintf("%.1f", v)
	return sprintf("%.3g", v)
}

END {
	line = "| workload | size | metric |"
	sep = "|---|---:|---|"
	for (p = 1; p <= npeers; p++) {
		if (!(peers[p] in present)) continue
		line = line " " peers[p] " |"
		sep = sep "---:|"
	}
	print line
	print sep
	for (k = 1; k <= nkeys; k++) {
		split(keys[k], f, SUBSEP)
		line = "| " f[1] " | " f[2] " | " f[3] " |"
		kt = (keys[k], "ktask") in med ? med[keys[k], "ktask"] : ""
		for (p = 1; p <= npeers; p++) {
			if (!(peers[p] in present)) continue
			if (!((keys[k], peers[p]) in med)) {
				line = line " - |"
				continue
			}
			v = med[keys[k], peers[p]]
			cell = fmt(v)
			if (kt != "" && kt != 0 && peers[p] != "ktask")
				cell = cell sprintf(" (%.2f)", v / kt)
			line = line " " cell " |"
		}
		print line
	}
	print ""
	print "Cells: median, and in parentheses the ratio to ktask's median."
	print "CPUs available to the benchmark: " cpus "."
	for (n = 1; n <= nnotes; n++)
		print "Note: " notes[n]
}
