#!/bin/sh
# Run every Criterion test binary given on the command line, with an optional
# wrapper (valgrind) in $TEST_WRAPPER and extra Criterion flags in
# $TEST_FLAGS; print each binary's synthesis, then one closing line with the
# totals. Exits non-zero if any binary fails.
set -u

passed=0
failed=0
broken=""
for bin in "$@"; do
	name=$(basename "$bin")
	out=$(mktemp)
	# shellcheck disable=SC2086
	${TEST_WRAPPER:-} "$bin" ${TEST_FLAGS:-} >"$out" 2>&1
	rc=$?
	synthesis=$(grep 'Synthesis:' "$out" | tail -n 1)
	if [ $rc -ne 0 ] || [ -z "$synthesis" ]; then
		cat "$out"
		broken="$broken $name"
	fi
	tested=$(echo "$synthesis" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	passing=$(echo "$synthesis" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	tested=${tested:-0}
	passing=${passing:-0}
	passed=$((passed + passing))
	failed=$((failed + tested - passing))
	if [ $rc -ne 0 ] && [ "$tested" = "$passing" ]; then
		failed=$((failed + 1))
	fi
	printf '%-28s %s\n' "$name" "${synthesis#*Synthesis: }"
	rm -f "$out"
done

echo "tests: $passed passed, $failed failed"
if [ -n "$broken" ]; then
	echo "failing:$broken"
	exit 1
fi
