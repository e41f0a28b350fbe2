#!/bin/sh
# Run every libFuzzer harness in BINDIR, one at a time, on a working corpus
# under build/fuzz/corpus/NAME seeded from SEEDDIR/seeds/NAME (the committed
# seeds, if any).
#
#   usage: run-fuzz.sh SECONDS BINDIR SEEDDIR
#
# Bounded by time (-max_total_time=SECONDS) unless FUZZ_RUNS is non-empty:
# then each harness runs exactly -runs=FUZZ_RUNS executions with no time
# cap. FUZZ_ONLY=fuzz_NAME (or NAME) runs that harness alone. FUZZ_OUT
# (default build/fuzz) holds the corpora, logs, artifacts and fuzz.csv.
#
# Prints per harness: executions, wall seconds, exec/s, final coverage
# (cov:/ft: as libFuzzer last reported them) and corpus size, and appends
# "harness,executions,seconds,exec_per_s,cov,result" to build/fuzz/fuzz.csv.
# Exits 1 when a harness finds a crash, leak or timeout (the
# reproducer is left in build/fuzz/artifacts/NAME/, the log in
# build/fuzz/NAME.log), 2 when one was interrupted (its figures are still
# recorded). Leak detection stays on (libFuzzer's default).
set -u
seconds=$1
bindir=$2
seeddir=$3
runs=${FUZZ_RUNS:-}
only=${FUZZ_ONLY:-}
out=${FUZZ_OUT:-build/fuzz}
case "$only" in
"" | fuzz_*) ;;
*) only="fuzz_$only" ;;
esac
# ASan's default 256 MB quarantine makes a harness whose parser callocs a
# large struct per input (node and coordinator configs: ~100 KB) fault in
# fresh pages on every execution, 5-10x slower; 16 MB still holds every
# block freed within one input and the next thousands.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
# UBSan only prints by default (the harnesses are built recoverable): stop
# at the first report, so that libFuzzer keeps the input as a crash.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS
csv="$out/fuzz.csv"
mkdir -p "$out"
[ -s "$csv" ] || echo "harness,executions,seconds,exec_per_s,cov,result" >"$csv"
status=0
found=0
for bin in "$bindir"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	[ -z "$only" ] || [ "$only" = "$name" ] || continue
	found=1
	corpus="$out/corpus/$name"
	artifacts="$out/artifacts/$name/"
	mkdir -p "$corpus" "$artifacts"
	if [ -d "$seeddir/seeds/$name" ]; then
		cp -n "$seeddir/seeds/$name"/* "$corpus"/ 2>/dev/null || true
	fi
	if [ -n "$runs" ]; then
		bound="-runs=$runs"
	else
		bound="-max_total_time=$seconds"
	fi
	log="$out/$name.log"
	start=$(date +%s)
	"$bin" "$bound" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	secs=$((end - start))
	[ "$secs" -gt 0 ] || secs=1
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=${execs:-0}
	rate=$((execs / secs))
	# The last status line libFuzzer printed: "#N DONE cov: C ft: F corp: ..."
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(ls "$corpus" | wc -l)
	if [ $rc -eq 72 ]; then
		# SIGINT/SIGTERM: libFuzzer prints its final stats and exits 72
		result=INTERRUPTED
		[ $status -ne 0 ] || status=2
	elif [ $rc -ne 0 ]; then
		result=FAILED
		if grep -q 'ERROR: LeakSanitizer' "$log"; then
			result=LEAK
		elif grep -q 'runtime error:' "$log"; then
			result=UB
		elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then
			result=TIMEOUT
		elif grep -q 'out-of-memory' "$log"; then
			result=OOM
		else
			result=CRASH
		fi
		status=1
	elif grep -q 'runtime error:' "$log"; then
		result=UB # reported with UBSAN_OPTIONS that do not halt
		status=1
	else
		result=ok
	fi
	echo "fuzz: $name $result: $execs executions in ${secs}s ($rate exec/s)," \
		"cov: ${cov:-?} ft: ${ft:-?}, corpus $corp files"
	echo "$name,$execs,$secs,$rate,${cov:-},$result" >>"$csv"
	if [ $rc -ne 0 ] && [ $rc -ne 72 ]; then
		echo "fuzz: $name: see $log and $artifacts"
		tail -n 30 "$log"
	fi
done
if [ $found -eq 0 ]; then
	echo "fuzz: no harness ${only:+named $only }in $bindir" >&2
	exit 2
fi
exit $status
