# sweep_pick.awk - for bench/plot_sweep.gp: from a tidy sweep CSV (first
# row: column names, scripts/sweep.sh), the columns named x and y of the
# rows that match every name=value in f (separated by ';'; f empty: every
# row), as "x y" lines.
#   awk -F, -v f='protocol=committee;n=20' -v x=d -v y=value -f sweep_pick.awk time.csv
BEGIN { FS = "," }
NR == 1 {
	for (i = 1; i <= NF; i++)
		col[$i] = i
	conds = f == "" ? 0 : split(f, cond, ";")
	next
}
{
	for (c = 1; c <= conds; c++) {
		split(cond[c], kv, "=")
		if ($(col[kv[1]]) != kv[2])
			next
	}
	print $(col[x]), $(col[y])
}
