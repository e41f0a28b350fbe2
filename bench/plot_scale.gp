# plot_scale.gp - SecAgg+ at scale (issue 14 §3, §5) from bench_protocol's
# CSV: per-client CPU time (the query's CPU, every party's work included,
# over n) against n at d = 10^3, log-log, beside the primitive floor per
# client (dashed), with the fitted slope of log time against log n that the
# bench printed (goal <= 0.25; O(log n) per client).
#
#   build/bench/bench_protocol > build/bench/protocol.csv   (or: ... scale)
#   gnuplot -e "csv='build/bench/protocol.csv'; out='build/bench/scale'" \
#       bench/plot_scale.gp              (writes out.png and out.svg)

if (!exists("csv")) csv = 'build/bench/protocol.csv'
if (!exists("out")) out = 'build/bench/scale'

# "n per_client_seconds floor_per_client" for the SecAgg+ d = 1000 points
# (query_cpu rows carry the floor in their baseline column), sorted on n.
points = sprintf('< awk -F''"'' ''$1 == "protocol,query_cpu," && $2 ~ /^protocol=secagg\+,n=[0-9]*,d=1000,/ && $2 ~ /noise=none,malloc=default/ { n = $2; sub(/.*,n=/, "", n); sub(/,.*/, "", n); split($3, r, ","); if (!seen[n]++) print n, r[2] / n, r[5] / n }'' %s | sort -g -k1,1', csv)
slope_cmd = sprintf('awk -F''"'' ''$1 == "protocol,per_client_slope," { split($3, r, ","); s = r[2]; w = $2; sub(/.*,n=/, "n = ", w) } END { if (s != "") printf "%%.2f (%%s)", s, w; else printf "not measured" }'' %s', csv)
slope = system(slope_cmd)

set datafile separator whitespace
set logscale xy
set grid
set key top left
set xlabel 'n (SecAgg+ clients, one process)'
set ylabel 'CPU time per client (s)'
set title sprintf("SecAgg+ per-client cost, d = 10^3: slope of log time against log n %s (goal <= 0.25)", slope)

do for [fmt in "png svg"] {
	if (fmt eq "png") { set terminal pngcairo size 900,600 font ",10" } else { set terminal svg size 900,600 font ",10" }
	set output out . "." . fmt
	plot points using 1:2 with linespoints lc 4 pt 11 title 'SecAgg+ (query CPU / n)', \
	     points using 1:3 with lines lc 4 dt 2 title 'primitive floor / n'
}
