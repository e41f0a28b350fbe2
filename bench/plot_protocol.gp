# plot_protocol.gp - bench_protocol's CSV as two log-log panels:
#   left:  query CPU time against n at d = 10^4 (committee (3,2) and (5,3),
#          SecAgg, SecAgg+), each beside its primitive floor (dashed);
#   right: committee query CPU time against d at n = 10, beside its floor.
# Noise-free runs with glibc's default malloc only.
#
#   build/bench/bench_protocol > build/bench/protocol.csv
#   gnuplot -e "csv='build/bench/protocol.csv'; out='build/bench/protocol.png'" \
#       bench/plot_protocol.gp

if (!exists("csv")) csv = 'build/bench/protocol.csv'
if (!exists("out")) out = 'build/bench/protocol.png'

# The params field is quoted and holds commas, which gnuplot's own CSV
# reader does not keep together; awk pulls out "n d seconds floor" for the
# query_cpu rows whose params match a regular expression (each n and d
# once: the n sweep and the d sweep share a point), sorted on column `by`.
rows(match, by) = sprintf('< awk -F''"'' ''$1 == "protocol,query_cpu," && $2 ~ /%s/ && $2 ~ /noise=none,malloc=default/ { n = $2; sub(/.*,n=/, "", n); sub(/,.*/, "", n); d = $2; sub(/.*,d=/, "", d); sub(/,.*/, "", d); split($3, r, ","); if (!seen[n "/" d]++) print n, d, r[2], r[5] }'' %s | sort -g -k%d,%d', match, csv, by, by)

committee3 = 'protocol=committee,n=[0-9]*,d=10000,k=3,'
committee5 = 'protocol=committee,n=[0-9]*,d=10000,k=5,'
secagg = 'protocol=secagg,n=[0-9]*,d=10000,'
secagg_plus = 'protocol=secagg\+,n=[0-9]*,d=10000,'
by_d3 = 'protocol=committee,n=10,d=[0-9]*,k=3,'
by_d5 = 'protocol=committee,n=10,d=[0-9]*,k=5,'

set terminal pngcairo size 1400,600 font ",10"
set output out
set datafile separator whitespace
set logscale xy
set grid
set key top left
set ylabel 'query CPU time (s)'
set multiplot layout 1,2

set title 'Time against n (d = 10^4): protocol (solid) and primitive floor (dashed)'
set xlabel 'n (participants)'
plot rows(committee3, 1) using 1:3 with linespoints lc 1 pt 7 title 'committee (3,2)', \
     rows(committee3, 1) using 1:4 with lines lc 1 dt 2 notitle, \
     rows(committee5, 1) using 1:3 with linespoints lc 2 pt 5 title 'committee (5,3)', \
     rows(committee5, 1) using 1:4 with lines lc 2 dt 2 notitle, \
     rows(secagg, 1) using 1:3 with linespoints lc 3 pt 9 title 'SecAgg', \
     rows(secagg, 1) using 1:4 with lines lc 3 dt 2 notitle, \
     rows(secagg_plus, 1) using 1:3 with linespoints lc 4 pt 11 title 'SecAgg+', \
     rows(secagg_plus, 1) using 1:4 with lines lc 4 dt 2 notitle

set title 'Committee time against d (n = 10): protocol (solid) and floor (dashed)'
set xlabel 'd (cells)'
plot rows(by_d3, 2) using 2:3 with linespoints lc 1 pt 7 title 'committee (3,2)', \
     rows(by_d3, 2) using 2:4 with lines lc 1 dt 2 notitle, \
     rows(by_d5, 2) using 2:3 with linespoints lc 2 pt 5 title 'committee (5,3)', \
     rows(by_d5, 2) using 2:4 with lines lc 2 dt 2 notitle

unset multiplot
