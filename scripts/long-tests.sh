#!/bin/sh
# List the Criterion test functions (Test(...) and ParameterizedTest(...))
# whose body is longer than a limit (default 100 lines), longest first:
#   scripts/long-tests.sh [limit] [files...]   (files: tests/test_*.c)
# Exits 1 when any is listed. A body's lines are those between its opening
# and closing braces (both in column 0), excluded.
limit=${1:-100}
[ $# -gt 0 ] && shift
[ $# -eq 0 ] && set -- tests/test_*.c
awk -v limit="$limit" '
/^(Parameterized)?Test\(/ { name = $0; sub(/\).*/, ")", name); pending = FNR; next }
pending && /^{/ { line = pending; pending = 0; start = FNR; file = FILENAME; next }
start && /^}/ { n = FNR - start - 1; if (n > limit) printf "%5d %s:%d %s\n", n, file, line, name; start = 0 }
' "$@" | sort -rn | awk '{ print } END { exit NR > 0 }'
