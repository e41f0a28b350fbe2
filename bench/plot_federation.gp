# plot_federation.gp - a federation of node processes at scale (issue 14
# §5) from bench_federation's scale rows: per-node CPU and coordinator CPU
# per query, per-node and coordinator peak RSS, against n (25..200 node
# processes, d = 10^3, TLS), log-log, for committee sharing and SecAgg+
# beside the plaintext sum over the same links (dashed: the CPU inside the
# protocol state machines, the rest being transport); each key entry
# carries the fitted slope of log value against log n that the bench
# printed.
#
#   build/bench/bench_federation scale > build/bench/federation.csv
#   gnuplot -e "csv='build/bench/federation.csv'; out='build/bench/federation'" \
#       bench/plot_federation.gp        (writes out.png and out.svg)

if (!exists("csv")) csv = 'build/bench/federation.csv'
if (!exists("out")) out = 'build/bench/federation'

# "n value" for one mode and measure, sorted on n.
pts(mode, measure) = sprintf('< awk -F''"'' ''$1 == "federation,%s," && $2 ~ /^mode=%s,/ { n = $2; sub(/.*,n=/, "", n); sub(/,.*/, "", n); split($3, r, ","); print n, r[2] }'' %s | sort -g -k1,1', measure, mode, csv)
# The bench's slope for one mode and measure, as text.
slope(mode, measure) = system(sprintf('awk -F''"'' ''$1 == "federation,scale_slope," && $2 ~ /^mode=%s,measure=%s,/ { split($3, r, ","); s = r[2] } END { if (s != "") printf "%%.2f", s; else printf "?" }'' %s', mode, measure, csv))
label(name, mode, measure) = sprintf('%s (slope %s)', name, slope(mode, measure))

set datafile separator whitespace
set logscale xy
set grid
set key top left font ",8"
set xlabel 'n (node processes, d = 10^3, TLS)'

do for [fmt in "png svg"] {
	if (fmt eq "png") { set terminal pngcairo size 1200,900 font ",10" } else { set terminal svg size 1200,900 font ",10" }
	set output out . "." . fmt
	set multiplot layout 2,2 title "a federation of node processes on one machine" noenhanced
	do for [m in "scale_cpu_node scale_cpu_coordinator scale_rss_node scale_rss_coordinator"] {
		cpu = strstrt(m, "cpu") > 0
		w = m . "_work"
		if (m eq "scale_cpu_node") { set title 'CPU per node per query (user + sys; dashed: in the state machine)'; set ylabel 'ms' }
		if (m eq "scale_cpu_coordinator") { set title 'coordinator CPU per query (user + sys; dashed: in the state machine)'; set ylabel 'ms' }
		if (m eq "scale_rss_node") { set title 'peak RSS per node (mean over the n nodes)'; set ylabel 'MB' }
		if (m eq "scale_rss_coordinator") { set title 'coordinator peak RSS'; set ylabel 'MB' }
		if (cpu) { set autoscale y; set key top left } else { set yrange [1:100]; set key bottom right }
		if (cpu) {
			plot pts("committee", m) using 1:2 with linespoints lc 1 pt 7 title label('committee', 'committee', m), \
			     pts("secagg_plus", m) using 1:2 with linespoints lc 4 pt 11 title label('SecAgg+', 'secagg_plus', m), \
			     pts("plaintext", m) using 1:2 with linespoints lc 8 pt 1 title label('plaintext sum', 'plaintext', m), \
			     pts("committee", w) using 1:2 with lines lc 1 dt 2 title label('committee, state machine', 'committee', w), \
			     pts("secagg_plus", w) using 1:2 with lines lc 4 dt 2 title label('SecAgg+, state machine', 'secagg_plus', w)
		} else {
			plot pts("committee", m) using 1:2 with linespoints lc 1 pt 7 title label('committee', 'committee', m), \
			     pts("secagg_plus", m) using 1:2 with linespoints lc 4 pt 11 title label('SecAgg+', 'secagg_plus', m), \
			     pts("plaintext", m) using 1:2 with linespoints lc 8 pt 1 title label('plaintext sum', 'plaintext', m)
		}
	}
	unset multiplot
}
