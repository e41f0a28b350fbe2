# plot_soak.gp - a soak run (tests/helpers/soak, `make soak`) over time:
#   top:    RSS of the coordinator and of every node (MB) against time;
#   middle: open descriptors of the coordinator and of every node;
#   bottom: each query's latency (s, log scale) against its start time,
#           released queries only (exit code 0).
# The hostile events (phases.csv) are shaded on every panel: connection
# flood, query flood, heartbeat recipe; cost bombs (hostile.csv) are dashed
# vertical lines. A run with --no-hostile has no phases and no shading.
#
#   gnuplot -e "dir='build/soak'" bench/plot_soak.gp    # writes dir/soak.png

if (!exists("dir")) dir = 'build/soak'
samples = dir.'/samples.csv'
latency = dir.'/latency.csv'
phases = dir.'/phases.csv'
hostile = dir.'/hostile.csv'

set terminal pngcairo size 1200,1200 font ",10"
set output dir.'/soak.png'
set datafile separator ','
set key top left opaque
set xlabel 'time since the load started (s)'

# Shading: one rectangle per phases.csv row, coloured by event.
nphases = int(system(sprintf("test -f %s && awk 'END { print NR - 1 }' %s || echo 0", phases, phases)))
colour(e) = e eq 'conn_flood' ? '#f0a030' : e eq 'query_flood' ? '#3080f0' : '#d03030'
label(e) = e eq 'conn_flood' ? 'connection flood' : e eq 'query_flood' ? 'query flood' : 'heartbeat recipe'
do for [i = 1:nphases] {
	row = system(sprintf("awk -F, 'NR == %d { print $1, $2, $3 }' %s", i + 1, phases))
	ev = word(row, 1)
	set object i rect from first real(word(row, 2)), graph 0 to first real(word(row, 3)), graph 1 \
	    back fc rgb colour(ev) fs transparent solid 0.18 noborder
	set label i label(ev) at first real(word(row, 2)), graph 0.97 left front font ",8" tc rgb colour(ev)
}
bombs = system(sprintf("test -f %s && awk -F, '$2 == \"cost_bomb\" { print $1 }' %s", hostile, hostile))
do for [i = 1:words(bombs)] {
	set arrow 100 + i from first real(word(bombs, i)), graph 0 to first real(word(bombs, i)), graph 1 \
	    nohead back dt 2 lc rgb '#444444'
}

# One time axis for the three panels: the last sample's time.
xmax = real(system(sprintf("awk -F, 'NR > 1 { t = $1 } END { print t + 1 }' %s", samples)))
set xrange [0:xmax]
set multiplot layout 3,1

set title sprintf('RSS (VmRSS) sampled every few seconds%s', nphases > 0 ? '; shaded: hostile events, dashed: cost bombs' : '')
set ylabel 'MB'
plot sprintf('< grep ",node-" %s', samples) using 1:($3/1024) with points pt 7 ps 0.3 lc rgb '#8888cc' title 'nodes', \
     sprintf('< grep ",coordinator," %s', samples) using 1:($3/1024) with linespoints pt 7 ps 0.5 lc rgb '#cc2222' title 'coordinator'

set title 'open descriptors'
set ylabel 'fds'
set logscale y
plot sprintf('< grep ",node-" %s', samples) using 1:($4 > 0 ? $4 : NaN) with points pt 7 ps 0.3 lc rgb '#8888cc' title 'nodes', \
     sprintf('< grep ",coordinator," %s', samples) using 1:($4 > 0 ? $4 : NaN) with linespoints pt 7 ps 0.5 lc rgb '#cc2222' title 'coordinator'

set title 'query latency (honest planners, released queries)'
set ylabel 's'
plot sprintf('< awk -F, ''NR > 1 && $4 == 0'' %s', latency) using 1:($5/1000) with points pt 7 ps 0.3 lc rgb '#227722' title 'tally query'
unset multiplot
