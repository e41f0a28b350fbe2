#!/bin/sh
# Lists the length of every production function (crypto wire query protocol
# net store node coordinator cli): lines from the line holding the opening
# brace to the line holding the closing brace, both counted. A function is a
# '{' in column 0 closed by a '}' in column 0, the house style (.clang-format,
# BreakBeforeBraces for functions); structs and initialisers end in '};' and
# are skipped.
#
#   scripts/func-lengths.sh          median, max, and every function over 80
#   scripts/func-lengths.sh -a       also every function: "lines file:line name"
#   LIMIT=60 scripts/func-lengths.sh another limit
set -eu
cd "$(dirname "$0")/.."
LIMIT=${LIMIT:-80}
ALL=0
[ "${1:-}" = "-a" ] && ALL=1
DIRS="crypto wire query protocol net store node coordinator cli"
files=$(for d in $DIRS; do find "$d" -name '*.c'; done | sort)
# shellcheck disable=SC2086
awk '
    FNR == 1 { start = 0; sig = "" }
    /^\{/ && start == 0 {
        start = FNR
        n = sig
        sub(/\(.*/, "", n)
        k = split(n, w, /[ *]+/)
        name = w[k]
        next
    }
    /^\}/ && start > 0 {
        if ($0 !~ /^\};/)
            print FNR - start + 1, FILENAME ":" start, name
        start = 0
        sig = ""
        next
    }
    start == 0 {
        if ($0 ~ /^[ \t]*$/ || $0 ~ /;[ \t]*$/ || $0 ~ /\*\/[ \t]*$/ || $0 ~ /^#/)
            sig = ""
        else
            sig = sig " " $0
    }
' $files | sort -n >/tmp/func-lengths.$$
if [ "$ALL" = 1 ]; then cat /tmp/func-lengths.$$; fi
awk -v limit="$LIMIT" '
    { len[NR] = $1; line[NR] = $0 }
    END {
        if (NR == 0) { print "no functions"; exit 1 }
        if (NR % 2) med = len[(NR + 1) / 2]
        else med = (len[NR / 2] + len[NR / 2 + 1]) / 2
        over = 0
        for (i = 1; i <= NR; i++) if (len[i] > limit) { print "over " limit ": " line[i]; over++ }
        printf "functions %d, median %s lines, max %d, over %d: %d\n", NR, med, len[NR], limit, over
    }
' /tmp/func-lengths.$$
rm -f /tmp/func-lengths.$$
