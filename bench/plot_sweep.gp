# plot_sweep.gp - the figures of `make sweep` (scripts/sweep.sh) from its
# tidy CSVs in dir, as dir/sweep_time, sweep_bytes, sweep_accuracy and
# sweep_dropout in format fmt (png or svg):
#   sweep_time      query wall time against n (at d = fd) and against d (at
#                   n = fn), node processes over TLS, each protocol beside
#                   the plaintext sum over the same links (bench_federation)
#   sweep_bytes     bytes on the wire / plaintext bytes against n (d = 2^16)
#                   and against d (n = 2^8), in process (bench_sweep), with
#                   Bonawitz et al.'s 1.73x (2^10 users, 2^20 cells) marked,
#                   and the hub bytes of the node processes (dashed)
#   sweep_accuracy  RMSE, 95% interval width and its empirical coverage
#                   against epsilon: distributed noise (9 shares, h = 3)
#                   against one curator's (central), discrete Laplace and
#                   Skellam (at the epsilon its rho gives with delta 10^-6)
#   sweep_dropout   CPU per query, coordinator time, bytes / plaintext and
#                   the noise's RMSE and width against the dropout rate
#
#   gnuplot -e "dir='build/sweep'; fmt='png'; picker='bench/sweep_pick.awk'; fd='10000'; fn='20'" \
#       bench/plot_sweep.gp

if (!exists("dir")) dir = 'build/sweep'
if (!exists("fmt")) fmt = 'png'
if (!exists("picker")) picker = 'bench/sweep_pick.awk'
if (!exists("fd")) fd = '10000'
if (!exists("fn")) fn = '20'

# "x y" of the rows of dir/file.csv matching filter, sorted on x.
pts(file, filter, x, y) = sprintf("< awk -v f='%s' -v x=%s -v y=%s -f %s %s/%s.csv | sort -g -k1,1", filter, x, y, picker, dir, file)

if (fmt eq "png") { set terminal pngcairo size 1200,900 font ",10" noenhanced } else { set terminal svg size 1200,900 font ",10" noenhanced }
set datafile separator whitespace
set grid
set key top left font ",9" noenhanced

# RMSE distributed / central per epsilon for one mechanism (accuracy_rmse
# columns: mech, noise, n, h, privacy, epsilon, value, ...).
ratio(mech) = sprintf("< awk -F, 'NR > 1 && $1 == \"%s\" { v[$2, $6] = $7 } END { for (k in v) { split(k, a, SUBSEP); if (a[1] == \"distributed\") print a[2], v[k] / v[\"central\", a[2]] } }' %s/accuracy_rmse.csv | sort -g", mech, dir)

protocols = "committee secagg secagg_plus"
pname(p) = p eq "committee" ? "committee (k=4, t=2)" : p eq "secagg" ? "SecAgg (complete graph)" : "SecAgg+ (sparse graph)"
pcolour(p) = p eq "committee" ? 1 : p eq "secagg" ? 2 : 4

# ---- time against n and d ----
set output dir . "/sweep_time." . fmt
set multiplot layout 1,2 title "query wall time, node processes over TLS (median; plaintext: the same processes and links)" noenhanced
set logscale xy
set ylabel 'ms per query'
set xlabel sprintf('n (node processes, d = %s)', fd)
set title 'against n'
plot for [p in protocols] pts("time", "mode=".p.";d=".fd, "n", "value") using 1:2 with linespoints lc pcolour(p) pt 7 title pname(p), \
     pts("time", "mode=committee;d=".fd, "n", "baseline_value") using 1:2 with linespoints lc 8 pt 1 dt 2 title 'plaintext sum'
set xlabel sprintf('d (cells, n = %s)', fn)
set title 'against d'
plot for [p in protocols] pts("time", "mode=".p.";n=".fn, "d", "value") using 1:2 with linespoints lc pcolour(p) pt 7 title pname(p), \
     pts("time", "mode=committee;n=".fn, "d", "baseline_value") using 1:2 with linespoints lc 8 pt 1 dt 2 title 'plaintext sum'
unset multiplot

# ---- bytes against the plaintext ----
set output dir . "/sweep_bytes." . fmt
set multiplot layout 1,2 title "bytes on the wire / plaintext bytes (solid: in process, every hop; dashed: node processes, through the TLS hub)" noenhanced
set logscale x
set logscale y
set ylabel 'expansion (x plaintext)'
set xlabel 'n (users)'
set title 'against n (solid: d = 2^16; dashed: d = '.fd.')'
plot for [p in protocols] pts("expansion", "protocol=".p.";axis=n", "n", "ratio") using 1:2 with linespoints lc pcolour(p) pt 7 title pname(p), \
     for [p in protocols] pts("bytes", "mode=".p.";d=".fd, "n", "ratio") using 1:2 with linespoints lc pcolour(p) pt 6 dt 2 notitle, \
     1.73 with lines lc 7 dt 3 title 'Bonawitz et al. 2017: 1.73x at 2^10 users, 2^20 cells'
set xlabel 'd (cells)'
set title 'against d (solid: n = 2^8; dashed: n = '.fn.')'
plot for [p in protocols] pts("expansion", "protocol=".p.";axis=d", "d", "ratio") using 1:2 with linespoints lc pcolour(p) pt 7 title pname(p), \
     for [p in protocols] pts("bytes", "mode=".p.";n=".fn, "d", "ratio") using 1:2 with linespoints lc pcolour(p) pt 6 dt 2 notitle, \
     1.73 with lines lc 7 dt 3 title 'Bonawitz et al.: 1.73x'
unset multiplot

# ---- accuracy against epsilon ----
set output dir . "/sweep_accuracy." . fmt
set multiplot layout 2,2 title "accuracy against epsilon: distributed noise (9 shares, each for h = 3 honest) and one curator's, same epsilon; 10^6 totals a point" noenhanced
set logscale xy
set xlabel 'epsilon (Skellam: its (epsilon, 10^-6))'
series = "laplace;noise=distributed laplace;noise=central skellam;noise=distributed skellam;noise=central"
sname(s) = s eq "laplace;noise=distributed" ? "Laplace, distributed" : s eq "laplace;noise=central" ? "Laplace, central" : s eq "skellam;noise=distributed" ? "Skellam, distributed" : "Skellam, central"
scolour(s) = strstrt(s, "laplace") > 0 ? 1 : 4
sdash(s) = strstrt(s, "central") > 0 ? 2 : 1
set ylabel 'RMSE (counts)'
set title 'RMSE of the released total (lines: the sd tally states)'
plot for [s in series] pts("accuracy_rmse", "mech=".s, "epsilon", "value") using 1:2 with points lc scolour(s) pt (sdash(s) == 1 ? 7 : 6) title sname(s), \
     for [s in series] pts("accuracy_rmse", "mech=".s, "epsilon", "baseline_value") using 1:2 with lines lc scolour(s) dt sdash(s) notitle
set ylabel 'width (counts)'
set title 'width of the 95% interval tally reports (2 x ci95_half_width; 0 drawn at 0.5)'
set logscale y
plot for [s in series] pts("accuracy_width", "mech=".s, "epsilon", "value") using 1:($2 > 0 ? $2 : 0.5) with linespoints lc scolour(s) dt sdash(s) pt 7 title sname(s)
unset logscale y
set ylabel 'coverage'
set title 'empirical coverage of that interval'
set yrange [0.9:1.0]
plot for [s in series] pts("accuracy_coverage", "mech=".s, "epsilon", "value") using 1:2 with linespoints lc scolour(s) dt sdash(s) pt 7 title sname(s), \
     0.95 with lines lc 8 dt 3 title 'nominal 0.95'
set autoscale y
set logscale y
set ylabel 'RMSE distributed / central'
set title 'the price of distribution (expected: sqrt(9/3) = 1.73)'
set key bottom right
plot ratio("laplace") using 1:2 with linespoints lc 1 pt 7 title 'Laplace', \
     ratio("skellam") using 1:2 with linespoints lc 4 pt 7 title 'Skellam', \
     sqrt(3) with lines lc 8 dt 3 title 'sqrt(n/h)'
set key top left
unset multiplot

# ---- dropouts ----
set output dir . "/sweep_dropout." . fmt
set multiplot layout 2,2 title "dropouts: in process (bench_sweep), droppers silent from their masked input (SecAgg) or shares (committee)" noenhanced
unset logscale
set logscale y
set xlabel 'dropout rate'
set ylabel 'ms'
set title 'CPU per query, every party'
plot for [p in protocols] pts("dropout_cpu", "protocol=".p, "rate", "value") using 1:2 with linespoints lc pcolour(p) pt 7 title pname(p)
set title 'time inside the coordinator'
plot for [p in protocols] pts("dropout_coord", "protocol=".p, "rate", "value") using 1:2 with linespoints lc pcolour(p) pt 7 title pname(p)
unset logscale y
set ylabel 'x plaintext of the contributors'
set title 'bytes on the wire / plaintext bytes'
plot for [p in protocols] pts("dropout_bytes", "protocol=".p, "rate", "ratio") using 1:2 with linespoints lc pcolour(p) pt 7 title pname(p)
set ylabel 'counts'
set title 'noise: Laplace epsilon = 1, 20 shares each for h = 10'
plot pts("dropout_rmse", "", "rate", "value") using 1:2 with points lc 1 pt 7 title 'RMSE (simulated)', \
     pts("dropout_rmse", "", "rate", "baseline_value") using 1:2 with lines lc 1 title 'sd tally states', \
     pts("dropout_width", "", "rate", "value") using 1:2 with linespoints lc 2 pt 5 title '95% interval width', \
     pts("dropout_coverage", "", "rate", "value") using 1:($2 * 10) with linespoints lc 3 pt 9 title 'coverage x 10'
unset multiplot
