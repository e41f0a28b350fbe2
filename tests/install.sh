#!/bin/sh
# tests/install.sh - `make install` into a temporary root, then checked
# from the installed files only (run by `make install-check`, in `make test`):
#
#   1. the systemd units as installed: `systemd-analyze verify` (ExecStart
#      rewritten into the root, man pages from the root) and
#      `systemd-analyze security --offline` under an exposure threshold;
#   2. the example configs parse (tally-node and tally-coordinator stop at
#      the first missing file under /etc/tally, not at a line of the file);
#   3. a federation laid out by hand as docs/OPERATIONS.md section 6 says,
#      from the installed example configs (their /etc/tally and
#      /var/lib/tally moved under the root, names and ports of one host):
#      tally pki, tally-node keygen, a registry, four nodes and the
#      coordinator started, one count by sex checked against the data;
#      the daemons run under their units' SystemCallFilter and, where
#      root may mount one, ProcSubset=pid (the rest of the sandbox needs systemd itself);
#   4. a federation run by the installed tally, tally-node and
#      tally-coordinator, with PATH holding only the root's bin/, from a
#      folder outside the source tree: `tally demo --serve`, one query whose
#      answers are checked against the synthetic truth, `tally audit
#      verify`, `tally demo --stop`; every daemon's executable is in the
#      root, and the coordinator serves the dashboard from the root's
#      share/tally/web by itself;
#   5. `make uninstall` leaves no file and no tally folder in the root.
#
# The root, the federation and every daemon are removed on any exit.
# Usage: tests/install.sh [MAKE [SYSCALL_FILTER]]   (from the source tree's top)
set -eu

make=${1:-make}
filter=${2:-$(pwd)/build/tests/helpers/syscall_filter}
threshold=${TALLY_EXPOSURE_MAX:-15} # tenths: 15 is an exposure of 1.5
tmp=$(mktemp -d /tmp/tally-install.XXXXXX)
root=$tmp/root
fed=$tmp/fed
bin=$root/usr/bin

# SIGTERM to every daemon started; then wait (up to 5 s) until none is
# left, so that none writes into the root while it is removed.
stop_fed() {
	for f in "$fed"/run/*.pid "$tmp"/run/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		alive=no
		for f in "$fed"/run/*.pid "$tmp"/run/*.pid; do
			[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=yes
		done
		[ $alive = no ] && return 0
		sleep 0.5
	done
	return 0
}
cleanup() {
	stop_fed
	rm -rf "$tmp" 2>/dev/null || { sleep 1 && rm -rf "$tmp"; }
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "install-check: FAIL: $*" >&2
	exit 1
}

# Run an installed program with nothing of this machine's environment but
# the root's bin/ on PATH, from a folder outside the source tree.
installed() {
	(cd "$tmp" && exec env -i PATH="$bin" HOME="$tmp" LANG=C.UTF-8 "$@")
}

# An installed daemon in the background, sandboxed as far as CI allows
# without systemd: daemon NAME UNIT PROGRAM ARGS... runs it under the
# unit's SystemCallFilter (tests/helpers/syscall_filter, default EPERM)
# and, where root may mount it, in a private /proc (ProcSubset=pid,
# ProtectProc=invisible). Its pid goes to $tmp/run/NAME.pid (every wrapper
# execs: the pid is the program's), its stderr to $tmp/NAME.log.
daemon() {
	name=$1
	unit_file=$units/$2
	calls=$tmp/$2.syscalls
	program=$bin/$3
	shift 3
	[ -s "$calls" ] || unit_syscalls "$unit_file" >"$calls"
	if [ "$procsubset" = yes ]; then
		set -- unshare -m --propagation private sh -c \
			'mount -t proc -o subset=pid,hidepid=invisible proc /proc && exec "$@"' sh \
			env -i PATH="$bin" HOME="$tmp" LANG=C.UTF-8 "$filter" "$calls" "$program" "$@"
	else
		set -- env -i PATH="$bin" HOME="$tmp" LANG=C.UTF-8 "$filter" "$calls" "$program" "$@"
	fi
	(cd "$tmp" && exec "$@") 2>"$tmp/$name.log" &
	echo $! >"$tmp/run/$name.pid"
}

# A private /proc with subset=pid needs root and a kernel and container
# that allow the mount (without it, /proc/meminfo is still there).
procsubset=no
if [ "$(id -u)" -eq 0 ] && unshare -m --propagation private sh -c \
	'mount -t proc -o subset=pid,hidepid=invisible proc /proc && [ ! -e /proc/meminfo ]' \
	2>/dev/null; then
	procsubset=yes
fi

# The system calls a unit's SystemCallFilter= lines allow: its sets
# expanded by systemd-analyze, less those of its ~ line.
expand_calls() {
	for set in "$@"; do
		case $set in
		@*) systemd-analyze syscall-filter "$set" | sed -n 's/^    //p' | grep -v '^#' |
			while read -r call; do expand_calls "$call"; done ;;
		*) echo "$set" ;;
		esac
	done
}
unit_syscalls() {
	# shellcheck disable=SC2046
	expand_calls $(sed -n 's/^SystemCallFilter=\([^~]\)/\1/p' "$1") | sort -u >"$tmp/allow"
	# shellcheck disable=SC2046
	expand_calls $(sed -n 's/^SystemCallFilter=~//p' "$1") | sort -u >"$tmp/deny"
	comm -23 "$tmp/allow" "$tmp/deny"
}

"$make" --no-print-directory install-files DESTDIR="$root" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install"; }

# 1. The units, as installed.
units=$root/usr/lib/systemd/system
mkdir "$tmp/units"
for u in tally-node.service tally-coordinator.service tally-node@.service; do
	[ -f "$units/$u" ] || fail "$u not installed"
	grep -q "^ExecStart=/usr/bin/tally-" "$units/$u" || fail "$u: ExecStart is not in /usr/bin"
done
for u in tally-node.service tally-coordinator.service; do
	sed "s|=/usr/bin/|=$bin/|" "$units/$u" >"$tmp/units/$u"
done
sed "s|=/usr/bin/|=$bin/|" "$units/tally-node@.service" >"$tmp/units/tally-node@ci.service"
# The man pages the units name, when docs/man has them (the man check of
# `make test` is man-check's).
man=no
[ -f "$root/usr/share/man/man8/tally-node.8" ] && man=yes
for u in "$tmp"/units/*.service; do
	out=$(cd "$tmp/units" && MANPATH="$root/usr/share/man" \
		systemd-analyze verify --man=$man "$u" 2>&1) ||
		{ echo "$out"; fail "systemd-analyze verify ${u##*/}"; }
	[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify ${u##*/} warns"; }
	exposure=$(systemd-analyze security --offline=yes --threshold="$threshold" "$u" 2>&1) ||
		{ echo "$exposure" | grep -v '^✓'; fail "${u##*/}: exposure above $threshold tenths"; }
	echo "install-check: ${u##*/}: verified (man pages: $man); $(echo "$exposure" | tail -1 |
		sed 's/^[^O]*Overall/overall/')"
done
[ -f "$root/usr/lib/sysusers.d/tally.conf" ] || fail "sysusers.d/tally.conf not installed"

# 2. The example configs parse.
ex=$root/usr/share/doc/tally/examples
out=$(installed tally-node check --config "$ex/node.conf" 2>&1) && fail "node.conf: check passed"
echo "$out" | grep -q "^tally-node: /etc/tally/keys/node.sign: " ||
	{ echo "$out"; fail "examples/node.conf does not parse"; }
out=$(installed tally-coordinator --config "$ex/coordinator.conf" 2>&1) &&
	fail "coordinator.conf: started"
echo "$out" | grep -q "^tally-coordinator: /etc/tally/keys/coordinator.sign: " ||
	{ echo "$out"; fail "examples/coordinator.conf does not parse"; }
echo "install-check: the example configs parse"

# 3. A federation laid out as docs/OPERATIONS.md section 6 says, from the
# installed example configs: /etc/tally and /var/lib/tally moved under the
# temporary root, the names and ports of one machine, the rest as shipped.
etc=$tmp/etc/tally
state=$tmp/var/lib/tally
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1",
		() => { console.log(s.address().port); s.close(); });'
}
listen=$(free_port)
api=$(free_port)
mkdir -p "$etc" "$state/coordinator" "$tmp/run"
installed tally synth --sites 4 --people 4000 --seed 16 --out "$tmp/synth" --quiet >/dev/null ||
	fail "tally synth"
installed tally pki init --dir "$etc/pki" >/dev/null 2>>"$tmp/pki.log" || fail "tally pki init"
installed tally pki issue --dir "$etc/pki" --name coordinator --role coordinator >/dev/null 2>>"$tmp/pki.log" ||
	fail "tally pki issue coordinator"
installed tally pki issue --dir "$etc/pki" --name alice --role planner >"$etc/planners.ini" 2>>"$tmp/pki.log" ||
	fail "tally pki issue planner"
installed tally-node keygen --out "$etc/keys" >"$tmp/coordinator.pk" || fail "keygen"
mv "$etc/keys/node.sign" "$etc/keys/coordinator.sign"
grep sign_pk "$tmp/coordinator.pk" | sed '1s/^/[coordinator]\n/' >"$etc/registry.ini"
sed -e "s|= /etc/tally/|= $etc/|" -e "s|= /var/lib/tally/|= $state/|" \
	-e "s|0.0.0.0:7400|127.0.0.1:$listen|" -e "s|0.0.0.0:7443|127.0.0.1:$api|" \
	"$ex/coordinator.conf" >"$etc/coordinator.conf"
cp "$ex/catalogue.json" "$etc/"
for k in 1 2 3 4; do
	installed tally pki issue --dir "$etc/pki" --name "node-$k" --role node >/dev/null 2>>"$tmp/pki.log" ||
		fail "tally pki issue node-$k"
	installed tally-node keygen --out "$etc/keys-$k" >"$tmp/node-$k.pk" || fail "keygen $k"
	printf '\n[node %s]\n' "$k" >>"$etc/registry.ini"
	cat "$tmp/node-$k.pk" >>"$etc/registry.ini"
	mkdir -p "$state/node-$k"
	cp "$tmp/synth/site-$k/patients.db" "$state/node-$k/"
	sed -e "s|^id = 3|id = $k|" -e "s|tls+tcp://tally.ics.example:7400|tls+tcp://127.0.0.1:$listen|" \
		-e "s|/etc/tally/pki/node\.|$etc/pki/node-$k.|" -e "s|/etc/tally/keys/|$etc/keys-$k/|" \
		-e "s|= /etc/tally/|= $etc/|" -e "s|= /var/lib/tally/node/|= $state/node-$k/|" \
		"$ex/node.conf" >"$etc/node-$k.conf"
done
daemon coordinator tally-coordinator.service tally-coordinator --config "$etc/coordinator.conf"
for k in 1 2 3 4; do
	installed tally-node check --config "$etc/node-$k.conf" >"$tmp/check-$k.log" 2>&1 ||
		{ cat "$tmp/check-$k.log"; fail "tally-node check node-$k.conf"; }
	daemon "node-$k" tally-node.service tally-node --config "$etc/node-$k.conf"
done
# Liveness only: wait until the four have connected (or a daemon died).
tries=0
until [ "$(grep -c 'node [0-9] connected from' "$tmp/coordinator.log")" -ge 4 ]; do
	tries=$((tries + 1))
	[ $tries -le 600 ] || { cat "$tmp"/*.log; fail "the nodes did not connect in 60 s"; }
	for f in "$tmp"/run/*.pid; do
		kill -0 "$(cat "$f")" 2>/dev/null || { cat "$tmp"/*.log; fail "${f##*/}: exited"; }
	done
	sleep 0.1
done
sed -e "s|tally.ics.example:7443|127.0.0.1:$api|" -e "s|= alice\.|= $etc/pki/alice.|" \
	-e "s|= coordinator-ca.crt|= $etc/pki/coordinator-ca.crt|" "$ex/planner.conf" >"$tmp/planner.conf"
installed tally query --config "$tmp/planner.conf" --count --by sex --epsilon 1 --format csv \
	>"$tmp/by_sex.csv" || { cat "$tmp"/*.log; fail "tally query (examples)"; }
for sex in F M; do
	exact=0
	for k in 1 2 3 4; do
		n=$(sqlite3 "$state/node-$k/patients.db" \
			"SELECT count(*) FROM patients WHERE opted_out = 0 AND sex = '$sex'")
		exact=$((exact + n))
	done
	awk -F, -v sex="$sex" -v exact="$exact" '$1 == sex {
		found = 1; half = ($4 - $3) / 2; if (half < 1) half = 1
		d = $2 - exact; if (d < 0) d = -d
		if (d > 3 * half) { print sex ": " $2 ", truth " exact; exit 1 } }
		END { if (!found) { print sex ": no row"; exit 1 } }' "$tmp/by_sex.csv" ||
		fail "the example federation's count by sex"
done
for f in "$tmp"/run/*.pid; do kill "$(cat "$f")"; done
rm -rf "$tmp/run"
echo "install-check: a federation from the example configs (4 nodes, coordinator) answered a count"
echo "install-check: its daemons ran under their units' SystemCallFilter" \
	"($(wc -l <"$tmp/tally-node.service.syscalls") and $(wc -l <"$tmp/tally-coordinator.service.syscalls") calls)" \
	"$([ "$procsubset" = yes ] && echo "and ProcSubset=pid" || echo "(no private /proc here)")"

# 4. A federation from the installed files only.
installed tally demo --serve --dir "$fed" --sites 3 --people 3000 --seed 16 >"$tmp/demo.out" 2>&1 ||
	{ cat "$tmp/demo.out"; fail "tally demo --serve"; }
for f in "$fed"/run/*.pid; do
	exe=$(readlink "/proc/$(cat "$f")/exe") || fail "${f##*/}: no such process"
	case "$exe" in
	"$bin"/tally-node | "$bin"/tally-coordinator) ;;
	*) fail "${f##*/}: runs $exe, not an installed program" ;;
	esac
done
grep -q "dashboard: [0-9]* files from $bin/../share/tally/web\$" "$fed/logs/coordinator.log" ||
	{ cat "$fed/logs/coordinator.log"; fail "the coordinator found no installed dashboard"; }
grep -q "^web_root" "$fed/coordinator/coordinator.conf" &&
	fail "tally demo set web_root: it found a source tree"

installed tally query --config "$fed/planner.conf" --spec "$fed/queries/diabetes_by_age_sex.json" \
	--format csv >"$tmp/answer.csv" || fail "tally query"
node - "$tmp/answer.csv" "$fed/truth.json" <<'EOF' || fail "the answers are not the truth's"
const fs = require("fs");
const [csvFile, truthFile] = process.argv.slice(2);
const rows = fs.readFileSync(csvFile, "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
const head = rows[0].split(","), cells = rows.slice(1).map((l) => l.split(","));
const truth = new Map();
for (const t of JSON.parse(fs.readFileSync(truthFile, "utf8")).queries["diabetes_by_age_sex.json"])
	truth.set(t.group.age_band + "/" + t.group.sex, t.value);
if (cells.length !== 10 || truth.size !== 10) {
	console.error(`cells ${cells.length}, truth ${truth.size}`);
	process.exit(1);
}
for (const r of cells) {
	const c = Object.fromEntries(head.map((h, i) => [h, r[i]]));
	const v = Number(c.value), lo = Number(c.ci95_low), hi = Number(c.ci95_high);
	const exact = truth.get(c.age_band + "/" + c.sex);
	// Discrete Laplace noise at epsilon 0.5: three half-widths is far out
	// in its tail (a wrong group or a wrong filter is off by tens).
	if (exact === undefined || Math.abs(v - exact) > (3 * Math.max(hi - lo, 2)) / 2) {
		console.error(`${c.age_band} ${c.sex}: ${v}, truth ${exact}, 95% interval [${lo}, ${hi}]`);
		process.exit(1);
	}
}
console.log("install-check: 10 cells within 3 half-widths of the truth");
EOF
installed tally audit verify --dir "$fed" >"$tmp/audit.out" 2>&1 ||
	{ cat "$tmp/audit.out"; fail "tally audit verify"; }
installed tally demo --stop --dir "$fed" >/dev/null || fail "tally demo --stop"
rm -rf "$fed"
echo "install-check: a federation ran from the installed files only (query answered, logs verified)"

# 5. Uninstall.
"$make" --no-print-directory uninstall DESTDIR="$root" PREFIX=/usr >"$tmp/uninstall.log" 2>&1 ||
	{ cat "$tmp/uninstall.log"; fail "make uninstall"; }
left=$(find "$root" -type f -o -name '*tally*')
[ -z "$left" ] || { echo "$left"; fail "make uninstall left these"; }
echo "install-check: ok (make uninstall removed every file and tally folder)"
