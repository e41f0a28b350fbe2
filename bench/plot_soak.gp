# plot_soak.gp - a soak run (tests/helpers/soak, `make soak`) over time:
#   top:    RSS of the coordinator and of every node (MB) against time;
#   bottom: each query's latency (s, log scale) against its start time,
#           released queries only (exit code 0).
#
#   gnuplot -e "dir='build/soak'" bench/plot_soak.gp    # writes dir/soak.png

if (!exists("dir")) dir = 'build/soak'
samples = dir.'/samples.csv'
latency = dir.'/latency.csv'

set terminal pngcairo size 1200,900 font ",10"
set output dir.'/soak.png'
set datafile separator ','
set key top left
set multiplot layout 2,1

set title 'RSS (VmRSS) sampled every few seconds'
set xlabel 'time since the load started (s)'
set ylabel 'MB'
plot sprintf('< grep ",node-" %s', samples) using 1:($3/1024) with points pt 7 ps 0.3 lc rgb '#8888cc' title 'nodes', \
     sprintf('< grep ",coordinator," %s', samples) using 1:($3/1024) with linespoints pt 7 ps 0.5 lc rgb '#cc2222' title 'coordinator'

set title 'query latency (released queries)'
set ylabel 's'
set logscale y
plot sprintf('< awk -F, ''NR > 1 && $4 == 0'' %s', latency) using 1:($5/1000) with points pt 7 ps 0.3 lc rgb '#227722' title 'tally query'
unset multiplot
