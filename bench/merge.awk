# merge.awk - merges the rows of several rounds of the same run: for each
# workload, size, peer and metric, the median of the rounds' medians, the
# lowest minimum, the highest maximum and all the samples.  Notes pass
# through once.  Input: CSV rows without headers.
#
#   awk -f bench/merge.awk rows.csv

BEGIN { FS = OFS = "," }

$4 ~ /^note:/ {
	if (!seen_note[$0]++)
		print
	next
}

{
	key = $1 FS $2 FS $3 FS $4
	if (!(key in n)) {
		keys[++nkeys] = key
		lo[key] = $6
		hi[key] = $7
	}
	m[key, ++n[key]] = $5
	if ($6 < lo[key]) lo[key] = $6
	if ($7 > hi[key]) hi[key] = $7
	samples[key] += $8
	cpus[key] = $9
}

END {
	for (k = 1; k <= nkeys; k++) {
		key = keys[k]
		c = n[key]
		# Insertion sort: a handful of rounds.
		for (i = 2; i <= c; i++)
			for (j = i; j > 1 && m[key, j - 1] > m[key, j]; j--) {
				t = m[key, j]; m[key, j] = m[key, j - 1]; m[key, j - 1] = t
			}
		med = c % 2 ? m[key, (c + 1) / 2] : (m[key, c / 2] + m[key, c / 2 + 1]) / 2
		print key, sprintf("%.6g", med), lo[key], hi[key], samples[key], cpus[key]
	}
}
