#!/bin/sh
# Run every bench program given on the command line, each to the end: one
# that fails is reported and the rest still run (a broken benchmark is a
# bug, and must not hide the others' figures). CSV rows go to stdout, or
# with QUICK_DIR set (the short pass, `make bench-quick`) each program's
# rows go to QUICK_DIR/NAME.csv and a program that printed no data row
# counts as failed. Closes with one line naming the failures, exit 1 if
# there were any.
set -u
failed=""
ran=0
for bin in "$@"; do
	name=$(basename "$bin")
	ran=$((ran + 1))
	start=$(date +%s)
	if [ -n "${QUICK_DIR:-}" ]; then
		mkdir -p "$QUICK_DIR"
		TALLY_BENCH_QUICK=1 "$bin" >"$QUICK_DIR/$name.csv"
		rc=$?
		rows=$(grep -c '^[a-z_]*,[^,]*,' "$QUICK_DIR/$name.csv")
		header=$(grep -c -e '^bench,' -e ',mechanism,privacy,' "$QUICK_DIR/$name.csv")
		rows=$((rows - header))
		if [ $rc -eq 0 ] && [ "$rows" -le 0 ]; then
			echo "run-bench: $name printed no rows" >&2
			rc=1
		fi
		echo "bench-quick: $name exit $rc, $rows rows, $(($(date +%s) - start)) s" >&2
	else
		"$bin"
		rc=$?
	fi
	if [ $rc -ne 0 ]; then
		echo "run-bench: $name failed (exit $rc)" >&2
		failed="$failed $name"
	fi
done
if [ -n "$failed" ]; then
	echo "run-bench: failed:$failed (of $ran)" >&2
	exit 1
fi
echo "run-bench: $ran of $ran ran to the end" >&2
