#!/bin/sh
# Run every libFuzzer harness in BINDIR for SECONDS each, on a working corpus
# under build/ seeded from SEEDDIR/seeds/NAME (committed seeds, if any).
# Prints one line per harness with its executions; exits non-zero when a
# harness finds a crash, leak or timeout (the reproducer is left in build/).
#   usage: run-fuzz.sh SECONDS BINDIR SEEDDIR
set -u
seconds=$1
bindir=$2
seeddir=$3
status=0
for bin in "$bindir"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	corpus="build/fuzz/corpus/$name"
	artifacts="build/fuzz/artifacts/$name/"
	mkdir -p "$corpus" "$artifacts"
	if [ -d "$seeddir/seeds/$name" ]; then
		cp -n "$seeddir/seeds/$name"/* "$corpus"/ 2>/dev/null || true
	fi
	log="build/fuzz/$name.log"
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ $rc -ne 0 ]; then
		echo "fuzz: $name FAILED after ${execs:-?} executions (see $log, $artifacts)"
		tail -n 30 "$log"
		status=1
	else
		echo "fuzz: $name ok, ${execs:-?} executions in ${seconds}s"
	fi
done
exit $status
