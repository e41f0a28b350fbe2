#!/bin/sh
# scripts/sweep.sh BENCH_DIR OUT_DIR - the research sweeps of `make sweep`
# (docs/BENCHMARKS.md, "Sweeps"): runs bench_federation sweep (node
# processes over TLS: time and bytes against n and d) and each section of
# bench_sweep (in process: accuracy against epsilon, dropouts, bytes against
# the plaintext up to 2^10 users, the libprio job), keeps their raw rows in
# OUT_DIR/raw/, writes one tidy CSV per measure (the params' keys as
# columns, then value,unit,baseline,baseline_value,ratio), draws
# bench/plot_sweep.gp to OUT_DIR/sweep_*.png and .svg, writes
# OUT_DIR/manifest.json (commit, compiler, flags, libraries, CPU, kernel,
# seeds, start and run time of each sweep) and OUT_DIR/summary.txt (the
# headline figures beside the external ones), then checks it all
# (scripts/sweep-check.sh).
# Environment: SWEEP_QUICK=1 runs the same code at tiny sizes (the short
# pass of `make bench-quick`); SWEEP_SEED seeds bench_sweep (default
# 20261207); CC and SWEEP_CFLAGS name the compiler and flags the benches
# were built with (the Makefile passes them).
set -eu

bench=$1
out=$2
quick=${SWEEP_QUICK:-0}
[ "$quick" = 0 ] && quick=""
seed=${SWEEP_SEED:-20261207}
here=$(cd "$(dirname "$0")/.." && pwd)

mkdir -p "$out/raw"
rm -f "$out"/*.csv "$out"/raw/*.csv "$out"/sweep_*.png "$out"/sweep_*.svg "$out/manifest.json"
# The tree the run starts from (dirty: tracked files differ from the commit).
commit=$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" = unknown ]; then
	dirty='"unknown (not a git checkout)"'
elif [ -n "$(git -C "$here" status --porcelain --untracked-files=no)" ]; then
	dirty=true
else
	dirty=false
fi
start_iso=$(date -u +%Y-%m-%dT%H:%M:%SZ)
start_all=$(date +%s)
steps=""

# step NAME COMMAND...: run it with its rows to raw/NAME.csv, timed.
step() {
	name=$1
	shift
	t0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	s0=$(date +%s)
	echo "sweep: $name: $*" >&2
	if [ -n "$quick" ]; then
		TALLY_BENCH_QUICK=1 SWEEP_SEED=$seed "$@" >"$out/raw/$name.csv"
	else
		SWEEP_SEED=$seed "$@" >"$out/raw/$name.csv"
	fi
	secs=$(($(date +%s) - s0))
	echo "sweep: $name done in $secs s" >&2
	steps="$steps{\"name\": \"$name\", \"command\": \"$*\", \"start\": \"$t0\", \"seconds\": $secs},"
}

step federation "$bench/bench_federation" sweep
step accuracy "$bench/bench_sweep" accuracy
step dropout "$bench/bench_sweep" dropout
step expansion "$bench/bench_sweep" expansion
step prio "$bench/bench_sweep" prio

# tidy MEASURE: the rows of that measure as a CSV with named columns.
tidy() {
	cat "$out"/raw/*.csv | awk -F'"' -v m="$1" '
		{ split($1, h, ","); if (h[1] != "sweep" || h[2] != m) next
		  np = split($2, kv, ","); head = ""; line = ""
		  for (i = 1; i <= np; i++) { split(kv[i], p, "="); head = head p[1] ","; line = line p[2] "," }
		  split($3, r, ",")
		  if (!done) { print head "value,unit,baseline,baseline_value,ratio"; done = 1 }
		  print line r[2] "," r[3] "," r[4] "," r[5] "," r[6] }' >"$out/$1.csv"
}
for m in time bytes accuracy_rmse accuracy_width accuracy_coverage dropout_cpu dropout_coord \
	dropout_bytes dropout_rmse dropout_width dropout_coverage expansion expansion_cpu prio_job; do
	tidy "$m"
done

# The points where the two axes cross: the n sweep's d, the d sweep's n.
if [ -n "$quick" ]; then
	axes="fd='100'; fn='5'"
else
	axes="fd='10000'; fn='20'"
fi
for fmt in png svg; do
	gnuplot -e "dir='$out'; fmt='$fmt'; picker='$here/bench/sweep_pick.awk'; $axes" \
		"$here/bench/plot_sweep.gp"
done

# ---- the manifest ----
json() { # a JSON string: backslashes and quotes escaped, newlines and tabs to spaces
	printf '"%s"' "$(printf '%s' "$1" | tr '\n\t' '  ' | sed 's/\\/\\\\/g; s/"/\\"/g')"
}
versions=$("$bench/bench_sweep" versions)
ver() { printf '%s\n' "$versions" | sed -n "s/^$1=//p"; }
nng_h=/usr/include/nng/nng.h
nng=$(awk '/#define NNG_(MAJOR|MINOR|PATCH)_VERSION/ { v = v (v == "" ? "" : ".") $3 } END { print v }' \
	"$nng_h" 2>/dev/null || true)
cc=${CC:-cc}
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
total=$(($(date +%s) - start_all))
{
	echo "{"
	echo "  \"what\": \"make sweep$([ -n "$quick" ] && echo ' SWEEP_QUICK=1')\","
	echo "  \"quick\": $([ -n "$quick" ] && echo true || echo false),"
	echo "  \"git\": {\"commit\": $(json "$commit"), \"dirty\": $dirty},"
	echo "  \"compiler\": {\"cc\": $(json "$cc"), \"version\": $(json "$($cc --version | head -n 1)"),"
	echo "               \"flags\": $(json "${SWEEP_CFLAGS:-unknown}")},"
	echo "  \"libraries\": {\"nng\": $(json "$nng (nng.h)"),"
	echo "                \"libsodium\": $(json "$(ver libsodium) (sodium_version_string)"),"
	echo "                \"openssl\": $(json "$(ver openssl) (OpenSSL_version)"),"
	echo "                \"gmp\": $(json "$(ver gmp) (gmp_version)"),"
	echo "                \"sqlite\": $(json "$(ver sqlite) (sqlite3_libversion)")},"
	echo "  \"cpu\": {\"model\": $(json "$cpu"), \"count\": $(nproc)},"
	echo "  \"kernel\": $(json "$(uname -srvm)"),"
	echo "  \"seeds\": {\"bench_sweep\": $(ver seed),"
	echo "            \"bench_federation\": \"none: inputs are a fixed function of (node, cell); keys and query ids from the OS CSPRNG\"},"
	echo "  \"start\": \"$start_iso\","
	echo "  \"sweeps\": [${steps%,}],"
	echo "  \"total_seconds\": $total"
	echo "}"
} >"$out/manifest.json"

"$here/scripts/sweep-summary.sh" "$out" | tee "$out/summary.txt"
"$here/scripts/sweep-check.sh" "$out"
echo "sweep: $out: CSV, sweep_*.png/.svg, manifest.json, summary.txt ($total s)" >&2
