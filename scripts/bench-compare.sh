#!/bin/sh
# Compare two sets of `make bench` CSV rows: the same benchmarks run on two
# trees (a baseline and a change), in the same sitting.
#
#   scripts/bench-compare.sh BEFORE.csv AFTER.csv
#
# Each file holds the output of one or more runs of the bench programs
# (their CSV, concatenated; header lines are skipped). Two row formats are
# read: "bench,measure,params,value,unit,..." (bench/timing.c) and
# bench_dp's "bench,mechanism,parameters,draws,seconds,cpu_seconds,
# draws_per_second" with its "cost,mechanism,privacy,h,...,ns_per_unit"
# section (key with h, value ns_per_unit). A row's key is its first three fields; where a key
# appears more than once (repeated runs), the best value is kept: the
# highest for a rate (a unit with "/s", or draws_per_second), the lowest
# otherwise (times, sizes). Rows with a value of zero on either side, and
# keys on one side only, are listed apart.
#
# Prints one CSV row per key found on both sides:
#   bench,measure,params,unit,before,after,speed
# where speed > 1 means the change is faster (or smaller): after/before for
# a rate, before/after otherwise. Then, per bench, the geometric mean of
# speed and its lowest and highest row, and the same over all rows.
set -eu
if [ $# -ne 2 ] || [ ! -r "$1" ] || [ ! -r "$2" ]; then
	echo "usage: scripts/bench-compare.sh BEFORE.csv AFTER.csv" >&2
	exit 2
fi
awk '
# Split a CSV line into f[1..], a quoted field keeping its commas; the
# count of fields.
function csv(line, f,    n, q, c, i, cur) {
	n = 0; q = 0; cur = ""
	for (i = 1; i <= length(line); i++) {
		c = substr(line, i, 1)
		if (c == "\"") { q = !q; cur = cur c }
		else if (c == "," && !q) { f[++n] = cur; cur = "" }
		else cur = cur c
	}
	f[++n] = cur
	return n
}
function keep(side, key, v, rate) {
	if (!((side, key) in best) || (rate ? v > best[side, key] : v < best[side, key]))
		best[side, key] = v
	israte[key] = rate
	seen[side, key] = 1
	if (!(key in order)) {
		order[key] = ++n
		keys[n] = key
	}
}
FNR == 1 { side = (NR == FNR) ? "b" : "a" }
{ nf = csv($0, f) }
f[1] == "bench" { dp = (f[2] == "mechanism"); cost = 0; next }
f[2] == "mechanism" && f[nf] == "ns_per_unit" { cost = 1; next }
cost && nf >= 8 {
	key = f[1] "," f[2] "," f[3] " h=" f[4]
	unit[key] = "ns/unit"
	keep(side, key, f[8] + 0, 0)
	next
}
nf >= 5 {
	key = f[1] "," f[2] "," f[3]
	if (dp && nf >= 7) {
		unit[key] = "draws/s"
		keep(side, key, f[7] + 0, 1)
	} else if (!dp) {
		unit[key] = f[5]
		keep(side, key, f[4] + 0, index(f[5], "/s") > 0)
	}
}
END {
	print "bench,measure,params,unit,before,after,speed"
	for (i = 1; i <= n; i++) {
		k = keys[i]
		if (!(("b", k) in seen) || !(("a", k) in seen)) {
			lone[++nl] = k (("b", k) in seen ? " (before only)" : " (after only)")
			continue
		}
		b = best["b", k]; a = best["a", k]
		if (a <= 0 || b <= 0) {
			lone[++nl] = k " (zero)"
			continue
		}
		s = israte[k] ? a / b : b / a
		printf "%s,%s,%g,%g,%.3f\n", k, unit[k], b, a, s
		g = substr(k, 1, index(k, ",") - 1)
		if (!(g in cnt)) { groups[++ng] = g; lo[g] = s; hi[g] = s }
		cnt[g]++; lsum[g] += log(s)
		if (s < lo[g]) lo[g] = s
		if (s > hi[g]) hi[g] = s
		all++; asum += log(s)
	}
	print ""
	print "bench,rows,geomean_speed,lowest,highest"
	for (j = 1; j <= ng; j++) {
		g = groups[j]
		printf "%s,%d,%.3f,%.3f,%.3f\n", g, cnt[g], exp(lsum[g] / cnt[g]), lo[g], hi[g]
	}
	if (all > 0)
		printf "all,%d,%.3f,,\n", all, exp(asum / all)
	for (j = 1; j <= nl; j++)
		print "not compared: " lone[j]
}' "$1" "$2"
