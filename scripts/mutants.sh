#!/bin/sh
# make mutants: does the suite notice when a privacy or integrity check
# breaks? Each tests/mutants/*.patch is one small bug put into one check.
# Its first lines say what it breaks and which suites should notice:
#
#   bug: the lower clip bound is min - 1 (node/eval.c)
#   run: test_eval
#   run: test_node --filter node/refuses_*
#
# then a blank line and a unified diff (git diff). For each patch, in a
# scratch copy of the tree (the working tree is never touched), this script
# applies the patch, rebuilds, runs each `run:` line (a test binary under
# build/tests/ with Criterion arguments) and prints the bug as
#
#   killed    a run failed, crashed or passed its time limit
#   survived  every run passed: no test noticed the bug
#   broken    the patch no longer applies or the tree does not build
#
# then reverts the patch. The score is killed / (killed + survived); a
# broken patch is a failure of this script's upkeep, printed apart and
# making the exit status non-zero, as does a survivor. Before any patch,
# the same suites run on the unchanged tree and must pass, or no kill would
# mean anything.
#
# Usage: scripts/mutants.sh [NAME ...]   (NAME: a patch's name, without
# .patch, or a prefix of it; default: every patch)
# Environment: MUTANTS_DIR (scratch folder, default build/mutants),
# MUTANTS_TIMEOUT (seconds per run line, default 1200), MUTANTS_JOBS
# (make -j, default 2).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
work=${MUTANTS_DIR:-$top/build/mutants}
limit=${MUTANTS_TIMEOUT:-1200}
jobs=${MUTANTS_JOBS:-2}
src=$work/src
report=$work/report.csv

# git apply in the scratch copy must not find the repository around it
# (it would apply paths relative to that repository's top, silently
# skipping everything outside the current folder).
GIT_CEILING_DIRECTORIES=$work
export GIT_CEILING_DIRECTORIES

say() { printf '%s\n' "$*"; }
die() { say "mutants: $*" >&2; exit 2; }

patches=""
if [ $# -eq 0 ]; then
	patches=$(ls "$top"/tests/mutants/*.patch 2>/dev/null)
else
	for name in "$@"; do
		found=$(ls "$top"/tests/mutants/"$name"*.patch 2>/dev/null)
		[ -n "$found" ] || die "no patch tests/mutants/$name*.patch"
		patches="$patches $found"
	done
fi
[ -n "$patches" ] || die "no patches under tests/mutants/"

# The runs a patch names, one per line: "binary args...".
runs_of() { sed -n 's/^run: *//p' "$1"; }
bug_of() { sed -n 's/^bug: *//p' "$1" | head -n 1; }

# A scratch copy of the tree as it is now (tracked and new files, not
# build/), so the working tree is never changed and an interrupted run
# leaves nothing behind in it.
say "mutants: copying the tree to $src"
rm -rf "$src" && mkdir -p "$src" || die "cannot make $src"
(cd "$top" && git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' |
	xargs -0 tar cf -) | (cd "$src" && tar xf -) || die "cannot copy the tree"

build() {
	# $1: the binaries its runs need
	(cd "$src" && make --no-print-directory -j"$jobs" build/bin/tally build/bin/tally-node \
		build/bin/tally-coordinator $(printf 'build/tests/%s ' $1) \
		$(ls tests/helpers/*.c | sed 's|^tests/|build/tests/|; s|\.c$||')) \
		>"$work/build.log" 2>&1
}

# Run each line of $1 (runs); 0 when all pass, else 1. Output to $2.
run_all() {
	status=0
	log=$2
	: >"$log"
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		set -f
		# shellcheck disable=SC2086
		set -- $line
		set +f
		binary=$1
		shift
		say "== $binary $*" >>"$log"
		(cd "$src" && TALLY_BIN="$src/build/bin" timeout "$limit" "build/tests/$binary" "$@") \
			>>"$log" 2>&1
		rc=$?
		say "== exit $rc" >>"$log"
		[ $rc -eq 0 ] || status=1
	done <<EOF
$1
EOF
	return $status
}

binaries_of() { printf '%s\n' "$1" | awk 'NF { print $1 }' | sort -u | tr '\n' ' '; }

all_runs=""
for p in $patches; do
	all_runs="$all_runs
$(runs_of "$p")"
done
all_runs=$(printf '%s\n' "$all_runs" | awk 'NF' | sort -u)

say "mutants: building the unchanged tree"
build "$(binaries_of "$all_runs")" || die "the unchanged tree does not build: $work/build.log"
say "mutants: the suites on the unchanged tree must pass"
if ! run_all "$all_runs" "$work/baseline.log"; then
	die "a suite fails on the unchanged tree ($work/baseline.log): no kill would mean anything"
fi

killed=0
survived=0
broken=0
say "name,verdict,seconds,bug" >"$report"
for p in $patches; do
	name=$(basename "$p" .patch)
	runs=$(runs_of "$p")
	start=$(date +%s)
	verdict=""
	if [ -z "$runs" ]; then
		verdict=broken
		why="no run: lines"
	elif ! (cd "$src" && git apply --check "$p" 2>"$work/$name.apply"); then
		verdict=broken
		why="does not apply: $(head -n 1 "$work/$name.apply")"
	else
		(cd "$src" && git apply "$p" && git apply -R --check "$p") ||
			die "$name: applied, but not to $src"
		if ! build "$(binaries_of "$runs")"; then
			verdict=broken
			why="does not build ($work/$name.build.log)"
			cp "$work/build.log" "$work/$name.build.log"
		elif run_all "$runs" "$work/$name.log"; then
			verdict=survived
			why="every run passed ($work/$name.log)"
		else
			verdict=killed
			fails=$(grep -c -E '^\[FAIL\]' "$work/$name.log")
			first=$(grep -m 1 -E '^\[FAIL\]' "$work/$name.log" |
				sed 's/^\[FAIL\] *//; s/: .*//')
			timeouts=$(grep -c '^== exit 124' "$work/$name.log")
			why="$fails failing tests, first $first"
			[ "$timeouts" -eq 0 ] || why="$why; $timeouts runs over the time limit"
		fi
		(cd "$src" && git apply -R "$p") || die "cannot revert $name"
	fi
	took=$(($(date +%s) - start))
	case $verdict in
	killed) killed=$((killed + 1)) ;;
	survived) survived=$((survived + 1)) ;;
	broken) broken=$((broken + 1)) ;;
	esac
	printf '%-40s %-9s %5ss  %s\n' "$name" "$verdict" "$took" "$why"
	printf '%s,%s,%s,"%s"\n' "$name" "$verdict" "$took" "$(bug_of "$p" | sed 's/"/""/g')" \
		>>"$report"
done

# The copy is scratch: a tree of sources under build/ would look, to a
# check of the layers (or a reader), like a second tree.
rm -rf "$src"

total=$((killed + survived))
say "mutants: $killed of $total killed, $survived survived, $broken broken ($report)"
[ $survived -eq 0 ] && [ $broken -eq 0 ]
