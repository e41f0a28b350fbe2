#!/bin/sh
# Constant-time check (ctgrind): run each ct_* binary given on the command
# line under valgrind memcheck in its three modes (tests/ct/ct_check.c):
#   control  the deliberately leaky functions MUST be reported, with both a
#            "Conditional jump" and a "Use of uninitialised value" error;
#            otherwise the check below proves nothing and this script fails;
#   check    the real checks MUST give zero memcheck errors;
#   report   the rejection samplers: where they branch on secrets, as
#            "count kind function (file:line)", never fatal.
# Suppressions: tests/ct/*.supp (third-party code only, each justified).
# Exits non-zero when a control is not caught or a real check has an error.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
supp=""
for f in "$here"/tests/ct/*.supp; do
	[ -f "$f" ] && supp="$supp --suppressions=$f"
done
# --show-error-list=yes lists every error context with its count at exit.
vg="valgrind --tool=memcheck --error-limit=no --leak-check=no --num-callers=12 --show-error-list=yes"

# The error list of a valgrind log, summed by place, largest first:
# "count kind innermost-frame [<- first frame in tally's code]".
contexts() {
	sed 's/^==[0-9]*== //' "$1" | awk '
	/^[0-9]+ errors? in context/ { n = $1; want = 1; next }
	want == 1 { kind = $0; sub(/ depends on uninitialised value\(s\)/, "", kind)
		sub(/Use of uninitialised value of size [0-9]+/, "Secret-indexed address", kind)
		want = 2; ours = ""; inner = ""; next }
	want == 2 && /^ *(at|by) / {
		frame = $0; sub(/^ *(at|by) 0x[0-9A-Fa-f]+: /, "", frame)
		if (inner == "") inner = frame
		if (ours == "" && frame ~ /\([a-z_]+\.c:[0-9]+\)$/) ours = frame
		next }
	want == 2 { if (ours != "" && ours != inner) inner = inner " <- " ours
		key = sprintf("%-26s %s", kind, inner); sum[key] += n; want = 0 }
	END { for (k in sum) printf "%8d  %s\n", sum[k], k }' | sort -k1,1nr
}

status=0
for bin in "$@"; do
	name=$(basename "$bin")
	log=$(mktemp)

	# 1. Negative control.
	# shellcheck disable=SC2086
	$vg $supp "$bin" control >"$log.out" 2>"$log"
	rc=$?
	cat "$log.out"
	jumps=$(grep -c 'Conditional jump or move depends on uninitialised' "$log")
	addrs=$(grep -c 'Use of uninitialised value of size' "$log")
	if [ $rc -ne 0 ] || [ "$jumps" -eq 0 ] || [ "$addrs" -eq 0 ]; then
		echo "ctgrind: $name: FAIL: the leaky controls were not all caught" \
			"(rc $rc, branch reports $jumps, index reports $addrs): the check cannot be trusted"
		cat "$log"
		status=1
	else
		echo "ctgrind: $name: controls caught (branch reports $jumps, index reports $addrs)"
	fi

	# 2. The real checks: zero errors.
	# shellcheck disable=SC2086
	$vg $supp --error-exitcode=99 "$bin" check >"$log.out" 2>"$log"
	rc=$?
	cat "$log.out"
	summary=$(grep 'ERROR SUMMARY' "$log" | tail -n 1 | sed 's/^==[0-9]*== //')
	if [ $rc -ne 0 ]; then
		echo "ctgrind: $name: FAIL: secret-dependent branches or indices (rc $rc): $summary"
		contexts "$log"
		echo "--- valgrind log:"
		cat "$log"
		status=1
	else
		echo "ctgrind: $name: checks clean: $summary"
	fi

	# 3. Report: where the rejection samplers branch on secrets.
	# shellcheck disable=SC2086
	$vg $supp "$bin" report >"$log.out" 2>"$log"
	rc=$?
	cat "$log.out"
	if [ $rc -ne 0 ]; then
		echo "ctgrind: $name: FAIL: report mode did not run (rc $rc)"
		cat "$log"
		status=1
	else
		echo "ctgrind: $name: report (not fatal; dp.h documents secret-dependent running time):"
		contexts "$log"
	fi
	rm -f "$log" "$log.out"
done
exit $status
