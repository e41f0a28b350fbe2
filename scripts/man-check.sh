#!/bin/sh
# The man pages (docs/man/*.[158]) checked five ways, each page by each
# check; any finding fails (exit 1):
#
#   lint     mandoc -Tlint -Wstyle: no message at all, except "referenced
#            manual not found" for a page that is itself in docs/man
#            (mandoc looks only in the installed manpath).
#   render   man --warnings=w -l (groff through man-db, every warning), as
#            lintian runs it otherwise: nothing on stderr.
#   sections NAME SYNOPSIS DESCRIPTION FILES EXAMPLES "SEE ALSO", and in
#            sections 1 and 8 also OPTIONS and "EXIT STATUS".
#   options  (pages with OPTIONS) each ".Ss PROGRAM [COMMAND...]" lists, as
#            ".It Fl -NAME", exactly the long options that `PROGRAM
#            [COMMAND...] --help` shows (its usage block and its lines that
#            start with --; --help itself is left out), every command in
#            `PROGRAM --help`'s "Commands:" list has a .Ss, and every .Fl
#            elsewhere on the page (synopsis, prose) is one of them. Two
#            lists below allow an option on the page that --help does not
#            show: ALIASES (accepted by the binary, checked by asking it)
#            and PENDING (documented ahead of another branch of issue 16:
#            a note, not a failure).
#   keys     (config pages) the ".It Cm KEY" entries under each
#            ".Ss [SECTION]" are exactly the keys that the page's parser
#            reads in that section (source_keys below).
#
#   scripts/man-check.sh [BINDIR]      check docs/man against BINDIR
#                                      (default build/bin)
#   scripts/man-check.sh --self-test [BINDIR]
#                                      negative controls: a deliberate error
#                                      in a copy of a page, per check, must
#                                      make that check fail
set -eu
cd "$(dirname "$0")/.."
LC_ALL=C
export LC_ALL
# every temporary file under one folder, removed however the script ends
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' HUP INT TERM
MANDIR=${MANDIR:-docs/man}

ALIASES="tally_query:--standardize tally_query:--group-by"
PENDING=""

# "SECTION<TAB>KEY" for every key a config page's parser reads: the
# quoted name in each match of the pattern; SECTION from the function the
# match is in (node/config.c: node_key reads [node], ...), or from the
# SECTION_ tag beside it (coordinator/config.c's keys[]), or "*" for files
# whose keys are not tied to one section. Nothing for other pages.
source_keys() {
	case "$1" in
	tally-node.conf.5)
		set -- 'strcmp\(key, "[a-z_]+"\)|strncmp\(key, "column\.", 7\)' \
			'node_key=node policy_key=policy dataset_key=dataset NAME source_key=dataset NAME' node/config.c ;;
	tally-coordinator.conf.5)
		set -- '\{SECTION_[A-Z]+, "[a-z_]+"' '' coordinator/config.c ;;
	tally-registry.5)
		set -- 'strcmp\(key, "[a-z_]+"\)' '' store/keys.c coordinator/planners.c ;;
	tally-planner.conf.5)
		set -- 'strcmp\(key, "[a-z_]+"\)' 'planner_key=planner' cli/query.c ;;
	*) return 0 ;;
	esac
	pattern=$1 functions=$2
	shift 2
	echo "$*" > "$tmp/files"
	awk -v pattern="$pattern" -v functions="$functions" '
		BEGIN {
			n = 0
			rest = functions
			while (match(rest, /[a-z_]+=/)) {
				if (n > 0) section[fname] = substr(rest, 1, RSTART - 2)
				fname = substr(rest, RSTART, RLENGTH - 1)
				rest = substr(rest, RSTART + RLENGTH)
				n++
			}
			if (n > 0) section[fname] = rest
		}
		/^[a-z_]+\(/ { fn = $0; sub(/\(.*/, "", fn) }
		{
			line = $0
			while (match(line, pattern)) {
				m = substr(line, RSTART, RLENGTH)
				line = substr(line, RSTART + RLENGTH)
				key = m
				sub(/^[^"]*"/, "", key)
				sub(/".*/, "", key)
				if (key == "column.") key = "column.NAME"
				if (m ~ /^\{SECTION_/) {
					sec = tolower(m)
					sub(/^\{section_/, "", sec)
					sub(/,.*/, "", sec)
				} else if (functions == "") {
					sec = "*"
				} else if (fn in section) {
					sec = section[fn]
				} else {
					continue
				}
				print sec "\t" key
			}
		}' "$@" | sort -u
}

# "SECTION<TAB>KEY" for every ".It Cm KEY" of a page, SECTION from the
# ".Ss [SECTION]" above it; "*" for every key when ANY is set.
page_keys() { # page any
	awk -v any="$2" '
		/^\.Ss / { sec = substr($0, 5); sub(/\\&$/, "", sec); gsub(/^\[|\]$/, "", sec) }
		/^\.It Cm [a-z][a-zA-Z0-9_.]*$/ { print (any != "" ? "*" : sec) "\t" $3 }' "$1" | sort -u
}

say() { printf '%s\n' "$*" >&2; }

# ---- lint ----
check_lint() {
	page=$1
	out=$(mandoc -Tlint -Wstyle "$page" 2>&1 || true)
	bad=$(printf '%s\n' "$out" | while IFS= read -r line; do
		[ -n "$line" ] || continue
		ref=$(printf '%s\n' "$line" |
			sed -n 's/.*STYLE: referenced manual not found: Xr \([^ ]*\) \([0-9]\).*/\1.\2/p')
		if [ -n "$ref" ] && [ -f "$(dirname "$page")/$ref" ]; then
			continue
		fi
		printf '%s\n' "$line"
	done)
	[ -z "$bad" ] && return 0
	say "$bad"
	return 1
}

# ---- render ----
check_render() {
	page=$1
	# lintian's own invocation (Lintian::Check::Documentation::Manual), at 80
	# columns and with every groff warning (w) rather than man-db's default
	err=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 MANPAGER=cat PAGER=cat \
		man --warnings=w -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null) ||
		{ say "$page: man exited non-zero: $err"; return 1; }
	[ -z "$err" ] && return 0
	say "$page: man --warnings: $err"
	return 1
}

# ---- sections ----
check_sections() {
	page=$1
	need="NAME|SYNOPSIS|DESCRIPTION|FILES|EXAMPLES|SEE ALSO"
	case "$page" in *.1 | *.8) need="$need|OPTIONS|EXIT STATUS" ;; esac
	rc=0
	old_ifs=$IFS
	IFS='|'
	for s in $need; do
		if ! grep -qx "\.Sh $s" "$page"; then
			say "$page: no .Sh $s"
			rc=1
		fi
	done
	IFS=$old_ifs
	return $rc
}

# ---- options ----

# "TITLE<TAB>--option" for every .It Fl -option in OPTIONS' subsections.
page_options() {
	awk '
		/^\.Sh / { in_options = ($0 == ".Sh OPTIONS"); title = ""; next }
		in_options && /^\.Ss / { title = substr($0, 5); sub(/\\&$/, "", title); print title "\t"; next }
		in_options && title != "" && /^\.It / {
			line = $0
			while (match(line, /Fl -[a-z][a-z0-9-]*/)) {
				print title "\t" substr(line, RSTART + 4, RLENGTH - 4)
				line = substr(line, RSTART + RLENGTH)
			}
		}' "$1"
}

# The long options --help shows: its usage block and its option lines.
help_options() {
	awk '/^usage:/ { u = 1 } u && /^[[:space:]]*$/ { u = 0 } u || /^[[:space:]]+--/ { print }' |
		grep -o -- '--[a-z][a-z0-9-]*' | grep -vx -- '--help' | sort -u || true
}

# The commands in `PROGRAM --help`'s "Commands:" block.
help_commands() {
	awk '/^Commands:/ { c = 1; next } c && /^[[:space:]]*$/ { c = 0 } c { print $1 }'
}

listed() { # word list
	for w in $2; do [ "$w" = "$1" ] && return 0; done
	return 1
}

# An option the binary accepts (getopt does not call it "unrecognised"), asked
# without its argument so that nothing runs.
accepted() { # bin args... option
	err=$("$@" 2>&1 >/dev/null </dev/null || true)
	! printf '%s\n' "$err" | grep -qiE 'unrecogni[sz]ed option'
}

check_options() {
	page=$1 bindir=$2
	grep -qx '\.Sh OPTIONS' "$page" || return 0
	rc=0
	titles=$(page_options "$page" | cut -f1 | uniq)
	[ -n "$titles" ] || { say "$page: OPTIONS has no .Ss PROGRAM [COMMAND]"; return 1; }
	programs=$(printf '%s\n' "$titles" | awk '{ print $1 }' | sort -u)
	for prog in $programs; do
		for cmd in $("$bindir/$prog" --help | help_commands); do
			# "PROG CMD" itself, or each "PROG CMD SUB" of its usage lines
			printf '%s\n' "$titles" | grep -qx "$prog $cmd" && continue
			subs=$("$bindir/$prog" "$cmd" --help | sed -n "s/^\(usage:\)\{0,1\} *$prog $cmd \([a-z][a-z-]*\).*/\2/p" |
				sort -u)
			for t in ${subs:-""}; do
				printf '%s\n' "$titles" | grep -qx "$prog $cmd${t:+ $t}" ||
					{ say "$page: \`$prog $cmd${t:+ $t}\` has no .Ss under OPTIONS"; rc=1; }
			done
		done
	done
	tmp=$(mktemp -d "$WORK/t.XXXXXX")
	printf '%s\n' "$titles" > "$tmp/titles"
	while IFS= read -r title; do
		# shellcheck disable=SC2086
		set -- $title
		prog=$1
		shift
		if ! "$bindir/$prog" "$@" --help > "$tmp/help" 2>&1; then
			say "$page: \`$title --help\` failed: $(head -n 3 "$tmp/help")"
			rc=1
			continue
		fi
		help_options < "$tmp/help" > "$tmp/want"
		page_options "$page" | awk -F '\t' -v t="$title" '$1 == t && $2 != "" { print "--" $2 }' |
			grep -vx -- '--help' | sort -u > "$tmp/have" || true
		cat "$tmp/want" "$tmp/have" >> "$tmp/known"
		key=$(printf '%s' "$title" | tr ' ' '_')
		for o in $(comm -23 "$tmp/want" "$tmp/have"); do
			say "$page: $o of \`$title\` (in its --help) is not documented under .Ss $title"
			rc=1
		done
		for o in $(comm -13 "$tmp/want" "$tmp/have"); do
			if listed "$key:$o" "$ALIASES" && accepted "$bindir/$prog" "$@" "$o"; then
				continue
			elif listed "$key:$o" "$PENDING"; then
				say "note: $page: $o of \`$title\` documented before the binary has it (PENDING)"
			else
				say "$page: $o under .Ss $title is not an option of \`$title\` (not in its --help)"
				rc=1
			fi
		done
	done < "$tmp/titles"
	# anywhere on the page (synopsis, prose): an option of some command here
	echo --help >> "$tmp/known"
	sort -u "$tmp/known" -o "$tmp/known"
	grep -o 'Fl -[a-z][a-z0-9-]*' "$page" | sed 's/^Fl -/--/' | sort -u > "$tmp/used"
	for o in $(comm -23 "$tmp/used" "$tmp/known"); do
		say "$page: .Fl $o is no option of any command on this page"
		rc=1
	done
	rm -rf "$tmp"
	return $rc
}

# ---- keys ----
check_keys() {
	page=$1
	tmp=$(mktemp -d "$WORK/t.XXXXXX")
	source_keys "$(basename "$page")" > "$tmp/want"
	if [ ! -s "$tmp/want" ]; then
		rm -rf "$tmp"
		case "$(basename "$page")" in *.5) say "$page: no parser keys found for it"; return 1 ;; esac
		return 0
	fi
	files=$(cat "$tmp/files")
	any=
	grep -q '^\*' "$tmp/want" && any=1
	page_keys "$page" "$any" > "$tmp/have"
	rc=0
	comm -23 "$tmp/want" "$tmp/have" | while IFS="$(printf '\t')" read -r sec k; do
		say "$page: key $k of [$sec] (read by $files) has no .It Cm $k under .Ss [$sec]"
		echo x
	done > "$tmp/missing"
	comm -13 "$tmp/want" "$tmp/have" | while IFS="$(printf '\t')" read -r sec k; do
		say "$page: .It Cm $k under .Ss [$sec] is not a key that $files reads in [$sec]"
		echo x
	done > "$tmp/extra"
	[ -s "$tmp/missing" ] || [ -s "$tmp/extra" ] && rc=1
	rm -rf "$tmp"
	return $rc
}

CHECKS="lint render sections options keys"

check_all() {
	bindir=$1 rc=0 n=0
	for page in "$MANDIR"/*.[158]; do
		n=$((n + 1))
		for c in $CHECKS; do
			# a subshell each: the checks' variables stay their own
			("check_$c" "$page" "$bindir") || { say "man-check: $c: $page FAILED"; rc=1; }
		done
	done
	[ "$n" -gt 0 ] || { say "man-check: no pages in $MANDIR"; return 1; }
	[ $rc -eq 0 ] && echo "man-check: ok ($n pages: $CHECKS)"
	return $rc
}

# ---- negative controls ----

# One control: copy PAGE, apply the sed EDIT, and CHECK must fail on it.
control() { # check page sed-edit what
	dir=$(mktemp -d "$WORK/t.XXXXXX")
	cp "$MANDIR"/*.[158] "$dir"/
	sed -i "$3" "$dir/$2"
	if cmp -s "$MANDIR/$2" "$dir/$2"; then
		say "self-test: the edit \"$3\" changed nothing in $2"
		rm -rf "$dir"
		return 1
	fi
	if ("check_$1" "$dir/$2" "$BINDIR") 2>"$dir/err"; then
		say "self-test: $1 passed $2 with $4: the check cannot fail"
		rm -rf "$dir"
		return 1
	fi
	echo "self-test: $1 fails on $2 with $4: $(grep -v '^note:' "$dir/err" | head -n 1)"
	rm -rf "$dir"
}

self_test() {
	rc=0
	control lint tally.1 's/^\.El$/.Xx bogus/' "an unknown macro" || rc=1
	control lint tally-registry.5 's/^\.Nd .*/& /' "a blank at the end of a line (a STYLE message)" ||
		rc=1
	control render tally-node.8 's/^\.Nd .*/&\n\\[no-such-glyph]/' \
		"an undefined glyph" || rc=1
	control render tally.1 's/^\.Nd .*/&\n.Sh BUGS\n'"$(printf 'x%.0s' $(seq 100))"'/' \
		"a word too long for a line" || rc=1
	control sections tally-coordinator.8 '/^\.Sh EXIT STATUS$/d' "no EXIT STATUS" || rc=1
	control options tally.1 '/^\.It Fl -sites Ar N$/d' "tally synth --sites removed" || rc=1
	control options tally-node.8 's/^\.It Fl -person Ar ID$/.It Fl -persn Ar ID/' \
		"--person misspelt" || rc=1
	control options tally.1 '/^\.Ss tally pki issue$/,/^\.El$/d' "pki issue's section removed" ||
		rc=1
	control options tally.1 '/^\.Ss tally synth$/,/^\.El$/d' "synth's section removed" || rc=1
	control options tally.1 's/^\.Fl -serve$/.Fl -serv/' "--serve misspelt in the synopsis" || rc=1
	control keys tally-node.conf.5 '/^\.It Cm heartbeat_dead_ms$/d' \
		"node heartbeat_dead_ms removed" || rc=1
	control keys tally-coordinator.conf.5 's/^\.It Cm quorum$/.It Cm quorum_size/' \
		"a key the parser does not read" || rc=1
	control keys tally-node.conf.5 's/^\.Ss \[policy\]\\&$/.Ss [node]\\\&/' \
		"the [policy] keys under [node]" || rc=1
	control keys tally-planner.conf.5 '/^\.It Cm timeout_ms$/d' "planner timeout_ms removed" || rc=1
	[ $rc -eq 0 ] && echo "man-check --self-test: ok (every check fails on its broken page)"
	return $rc
}

if [ "${1:-}" = "--self-test" ]; then
	BINDIR=${2:-build/bin}
	self_test
else
	BINDIR=${1:-build/bin}
	check_all "$BINDIR"
fi
