#!/bin/sh
# Run the benchmarks of two build trees in one sitting, alternating, and
# compare them (scripts/bench-compare.sh): before/after ratios for a change
# that load on the machine affects alike.
#
#   scripts/bench-ab.sh BEFORE_BUILD AFTER_BUILD OUT_DIR [ROUNDS]
#
# BEFORE_BUILD and AFTER_BUILD are build directories (each with bench/ and
# bin/), e.g. a worktree of the baseline commit built with `make build`
# and this tree's build/; each runs from its tree (the build's parent).
# Every bench program present in both runs ROUNDS
# times (default 2) on each side, before and after in turn, so that a
# burst of load falls on both; each program's CSV goes to
# OUT_DIR/{before,after}.csv, and the comparison to OUT_DIR/compare.csv.
# PROGRAMS="bench_crypto bench_dp" runs only those. A bench program that
# fails stops the run (exit 1): a broken benchmark is a bug.
set -eu
if [ $# -lt 3 ] || [ ! -d "$1/bench" ] || [ ! -d "$2/bench" ]; then
	echo "usage: scripts/bench-ab.sh BEFORE_BUILD AFTER_BUILD OUT_DIR [ROUNDS]" >&2
	exit 2
fi
before=$(cd "$1" && pwd)
after=$(cd "$2" && pwd)
mkdir -p "$3"
out=$(cd "$3" && pwd)
rounds=${4:-2}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
: >"$out/before.csv"
: >"$out/after.csv"

run() { # side build program
	start=$(date +%s)
	if ! (cd "$2/.." && TALLY_BIN="$2/bin" "$2/bench/$3") >>"$out/$1.csv" 2>>"$out/$1.err"; then
		echo "bench-ab: $2/bench/$3 failed (its stderr: $out/$1.err)" >&2
		exit 1
	fi
	echo "bench-ab: $1 $3 $(($(date +%s) - start)) s" >&2
}

for path in "$after"/bench/bench_*; do
	program=$(basename "$path")
	case "$program" in *.*) continue ;; esac
	case " ${PROGRAMS:-$program} " in *" $program "*) ;; *) continue ;; esac
	[ -x "$before/bench/$program" ] || {
		echo "bench-ab: $program is not in $before: not compared" >&2
		continue
	}
	r=0
	while [ "$r" -lt "$rounds" ]; do
		run before "$before" "$program"
		run after "$after" "$program"
		r=$((r + 1))
	done
done
"$here/bench-compare.sh" "$out/before.csv" "$out/after.csv" >"$out/compare.csv"
sed -n '/^bench,rows/,$p' "$out/compare.csv"
