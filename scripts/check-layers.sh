#!/bin/sh
# check-layers.sh - the layer rules of docs/ARCHITECTURE.md, checked on the
# #include lines of every .c and .h file (make check-layers; make test runs
# it first). Fails, naming the file, the line and the rule, when
#
#   1. a file includes a header of a folder above its own, or of another
#      folder on its own level (net/ and store/; node/ and coordinator/):
#        crypto < wire < query < protocol < net, store < node, coordinator < cli
#      tests/ and bench/ may include anything;
#   2. a file outside net/ includes an nng header (<nng/...>), tests/ and
#      bench/ included (they reach nng through net/ headers);
#   3. a quoted include names no file of the tree;
#   4. the include graph (every file to the headers it includes, a
#      "name.h" resolved against the including file's folder first) has a
#      loop: tsort names the files on it;
#   5. given object files (scripts/check-layers.sh build/obj/*/*.o; make
#      check-layers passes the built ones): an object calls a function of
#      a folder above or beside its own, or the files of crypto/ .. store/
#      call each other in a loop (nm: each object to the objects that
#      define what it uses).
#
# Prints "check-layers: ok" and the file and edge counts when all hold.
# Shell, awk and tsort only (POSIX and coreutils). Run from the tree's top.
set -eu

files=$(find crypto wire query protocol net store node coordinator cli tests bench \
	-name '*.[ch]' 2>/dev/null | sort)
edges=$(mktemp)
fails=$(mktemp)
trap 'rm -f "$edges" "$edges.files" "$edges.calls" "$fails"' EXIT

# One awk pass over "file:line:#include ..." lines; the first input is the
# list of files (to resolve quoted names), the second the include lines.
echo "$files" >"$edges.files"
grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' $files |
	awk -v edges="$edges" -v fails="$fails" '
	BEGIN {
		rank["crypto"] = 0; rank["wire"] = 1; rank["query"] = 2; rank["protocol"] = 3
		rank["net"] = 4; rank["store"] = 4; rank["node"] = 5; rank["coordinator"] = 5
		rank["cli"] = 6; rank["tests"] = 9; rank["bench"] = 9
	}
	NR == FNR { exists[$0] = 1; next }
	{
		f = $0; sub(/:.*/, "", f)
		rest = substr($0, length(f) + 2); line = rest; sub(/:.*/, "", line)
		inc = substr(rest, length(line) + 2)
		top = f; sub(/\/.*/, "", top)
		dir = f; sub(/\/[^\/]*$/, "", dir)
		if (match(inc, /<[^>]*>/)) {
			name = substr(inc, RSTART + 1, RLENGTH - 2)
			if (name ~ /^nng\// && top != "net")
				printf "%s:%s: includes <%s>: only net/ may include nng\n", f, line, name >> fails
			next
		}
		if (!match(inc, /"[^"]*"/)) next
		name = substr(inc, RSTART + 1, RLENGTH - 2)
		target = dir "/" name
		while (sub(/[^\/]*\/\.\.\//, "", target)) ;
		if (!(target in exists)) target = name
		if (!(target in exists)) {
			printf "%s:%s: includes \"%s\": no such file in the tree\n", f, line, name >> fails
			next
		}
		print f, target >> edges
		ttop = target; sub(/\/.*/, "", ttop)
		if (ttop == top || top == "tests" || top == "bench") next
		if (!(top in rank) || !(ttop in rank))
			printf "%s:%s: includes \"%s\": folder %s/ has no layer\n", f, line, name, ttop >> fails
		else if (rank[top] <= rank[ttop])
			printf "%s:%s: includes \"%s\": %s/ (layer %d) may not include %s/ (layer %d)\n",
			    f, line, name, top, rank[top], ttop, rank[ttop] >> fails
	}' "$edges.files" -
rm -f "$edges.files"

# With object files (make passes the library's and the programs'): the
# same rules for calls. Each object to the objects defining the symbols it uses (nm):
# no call into a folder above or beside its own, and no call loop among
# the library's files (a loop of files that call each other, as secagg.c
# and secagg_unmask.c once did, is a loop that includes cannot show).
if [ $# -gt 0 ]; then
	printf '%s\n' "$@" | xargs nm -A -g |
		awk '{ o = $1; sub(/:.*/, "", o); print ($(NF - 1) == "U" ? "U" : "D"), o, $NF }' |
		awk -v calls="$edges.calls" -v fails="$fails" '
	BEGIN {
		rank["crypto"] = 0; rank["wire"] = 1; rank["query"] = 2; rank["protocol"] = 3
		rank["net"] = 4; rank["store"] = 4; rank["node"] = 5; rank["coordinator"] = 5
		rank["cli"] = 6
	}
	function src(o) { sub(/^.*\/obj\//, "", o); sub(/\.c\.o$|\.o$/, ".c", o); return o }
	$1 == "D" { def[$3] = src($2); next }
	{ use[NR] = src($2) " " $3 }
	END {
		for (i in use) {
			split(use[i], u, " ")
			if (!(u[2] in def) || def[u[2]] == u[1]) continue
			a = u[1]; b = def[u[2]]
			fa = a; sub(/\/.*/, "", fa); fb = b; sub(/\/.*/, "", fb)
			if (fa != fb && (fa in rank) && (fb in rank) && rank[fa] <= rank[fb])
				seen[a ": calls " u[2] " of " b ": " fa "/ (layer " rank[fa] ") may not call " fb "/ (layer " rank[fb] ")"] = 1
			if ((fa in rank) && (fb in rank) && rank[fa] <= 4 && rank[fb] <= 4)
				edge[a " " b] = 1
		}
		for (m in seen) print m >> fails
		for (e in edge) print e >> calls
	}'
	touch "$edges.calls"
	if ! loop=$(tsort "$edges.calls" 2>&1 >/dev/null); then
		echo "call loop: $(echo "$loop" | grep -v 'input contains a loop' | sed 's/^tsort: //' | tr '\n' ' ')" >>"$fails"
	fi
	rm -f "$edges.calls"
fi

# Loops: tsort reports any cycle on stderr and exits nonzero.
if ! loop=$(tsort "$edges" 2>&1 >/dev/null); then
	echo "include loop: $(echo "$loop" | grep -v 'input contains a loop' | sed 's/^tsort: //' | tr '\n' ' ')" >>"$fails"
fi

if [ -s "$fails" ]; then
	sed 's/^/check-layers: /' "$fails"
	echo "check-layers: FAILED ($(grep -c . "$fails") problems; docs/ARCHITECTURE.md has the rules)"
	exit 1
fi
echo "check-layers: ok ($(echo "$files" | wc -l) files, $(wc -l <"$edges") includes, no loops${1:+; calls of $# objects too})"
