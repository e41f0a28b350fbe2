#!/bin/sh
# tests/install.sh - `make install` into a temporary root, then checked
# from the installed files only (run by `make install-check`, in `make test`):
#
#   1. the systemd units as installed: `systemd-analyze verify` (ExecStart
#      rewritten into the root, man pages from the root) and
#      `systemd-analyze security --offline` under an exposure threshold;
#   2. the example configs parse (tally-node and tally-coordinator stop at
#      the first missing file under /etc/tally, not at a line of the file);
#   3. a federation run by the installed tally, tally-node and
#      tally-coordinator, with PATH holding only the root's bin/, from a
#      folder outside the source tree: `tally demo --serve`, one query whose
#      answers are checked against the synthetic truth, `tally audit
#      verify`, `tally demo --stop`; every daemon's executable is in the
#      root, and the coordinator serves the dashboard from the root's
#      share/tally/web by itself;
#   4. `make uninstall` leaves no file and no tally folder in the root.
#
# The root, the federation and every daemon are removed on any exit.
# Usage: tests/install.sh [MAKE]   (from the source tree's top)
set -eu

make=${1:-make}
src=$(pwd)
threshold=${TALLY_EXPOSURE_MAX:-15} # tenths: 15 is an exposure of 1.5
tmp=$(mktemp -d /tmp/tally-install.XXXXXX)
root=$tmp/root
fed=$tmp/fed
bin=$root/usr/bin

stop_fed() {
	[ -d "$fed/run" ] || return 0
	for f in "$fed"/run/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	return 0
}
cleanup() {
	stop_fed
	rm -rf "$tmp"
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
	(cd "$tmp" && env -i PATH="$bin" HOME="$tmp" LANG=C.UTF-8 "$@")
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

# 3. A federation from the installed files only.
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

# 4. Uninstall.
"$make" --no-print-directory uninstall DESTDIR="$root" PREFIX=/usr >"$tmp/uninstall.log" 2>&1 ||
	{ cat "$tmp/uninstall.log"; fail "make uninstall"; }
left=$(find "$root" -type f -o -name '*tally*')
[ -z "$left" ] || { echo "$left"; fail "make uninstall left these"; }
echo "install-check: ok (make uninstall removed every file and tally folder)"
