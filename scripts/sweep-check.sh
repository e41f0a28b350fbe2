#!/bin/sh
# scripts/sweep-check.sh DIR - is DIR a complete `make sweep` output? Every
# tidy CSV with its exact columns, at least one row, as many fields in
# every row as in the header and a number in the value column; a
# manifest.json that parses (node) and holds every field the manifest
# promises; each plot as PNG and SVG, non-empty and of its format.
# Prints what is wrong and exits 1 on the first failing part.
# scripts/sweep-check.sh --self-test DIR: the negative controls: copies of
# DIR each with one defect (a column gone, a manifest field gone, a plot
# gone, a row cut short) must each fail the check, and DIR must pass.
set -eu

columns() {
	case $1 in
	time | bytes) echo "mode,transport,n,d" ;;
	accuracy_*) echo "mech,noise,n,h,privacy,epsilon" ;;
	dropout_cpu | dropout_coord | dropout_bytes) echo "protocol,n,d,rate,dropped" ;;
	dropout_*) echo "mech,n,h,epsilon,rate,contributors" ;;
	expansion | expansion_cpu) echo "protocol,axis,n,d" ;;
	prio_job) echo "protocol,n,d" ;;
	esac
}
CSVS="time bytes accuracy_rmse accuracy_width accuracy_coverage dropout_cpu dropout_coord
dropout_bytes dropout_rmse dropout_width dropout_coverage expansion expansion_cpu prio_job"
PLOTS="sweep_time sweep_bytes sweep_accuracy sweep_dropout"
FIELDS='git.commit git.dirty compiler.cc compiler.version compiler.flags libraries.nng
libraries.libsodium libraries.openssl libraries.gmp libraries.sqlite cpu.model cpu.count kernel
seeds.bench_sweep start total_seconds sweeps'

check() {
	cdir=$1
	for m in $CSVS; do
		f=$cdir/$m.csv
		want="$(columns "$m"),value,unit,baseline,baseline_value,ratio"
		[ -s "$f" ] || { echo "sweep-check: $f missing or empty"; return 1; }
		head=$(head -n 1 "$f")
		[ "$head" = "$want" ] || { echo "sweep-check: $f: columns '$head', expected '$want'"; return 1; }
		awk -F, -v f="$f" 'NR == 1 { nf = NF; v = 0; for (i = 1; i <= NF; i++) if ($i == "value") v = i; next }
			NF != nf { print "sweep-check: " f ":" NR ": " NF " fields, the header has " nf; bad = 1; exit }
			$v !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ { print "sweep-check: " f ":" NR ": value " $v " is not a number"; bad = 1; exit }
			END { if (!bad && NR < 2) { print "sweep-check: " f ": no rows"; bad = 1 } exit bad }' "$f" ||
			return 1
	done
	node -e '
		const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		for (const path of process.argv[2].split(/\s+/).filter(Boolean)) {
			const v = path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), m);
			if (v === undefined || v === "" || v === null) {
				console.log("sweep-check: manifest.json: no " + path); process.exit(1);
			}
		}
		for (const s of m.sweeps)
			if (!s.name || !s.start || typeof s.seconds !== "number") {
				console.log("sweep-check: manifest.json: a sweep without name, start or seconds"); process.exit(1);
			}
		if (m.sweeps.length !== 5) { console.log("sweep-check: manifest.json: " + m.sweeps.length + " sweeps, not 5"); process.exit(1); }
	' "$cdir/manifest.json" "$FIELDS" || return 1
	for p in $PLOTS; do
		[ -s "$cdir/$p.png" ] && [ "$(head -c 4 "$cdir/$p.png" | tail -c 3)" = "PNG" ] ||
			{ echo "sweep-check: $cdir/$p.png missing or not a PNG"; return 1; }
		[ -s "$cdir/$p.svg" ] && grep -q '<svg' "$cdir/$p.svg" ||
			{ echo "sweep-check: $cdir/$p.svg missing or not an SVG"; return 1; }
	done
	[ -s "$cdir/summary.txt" ] || { echo "sweep-check: $cdir/summary.txt missing"; return 1; }
}

if [ "$1" != "--self-test" ]; then
	check "$1" && echo "sweep-check: $1: ok"
	exit
fi

dir=$2
check "$dir" >/dev/null || { echo "sweep-check --self-test: $dir itself fails"; exit 1; }
scratch=$(mktemp -d) # removed on exit
trap 'rm -rf "$scratch"' EXIT
failed=0
# control NAME COMMAND: a copy of dir with COMMAND run in it must fail.
control() {
	rm -rf "$scratch/copy"
	cp -r "$dir" "$scratch/copy"
	(cd "$scratch/copy" && sh -c "$2")
	if why=$(check "$scratch/copy"); then
		echo "sweep-check --self-test: $1: not caught"
		failed=1
	else
		echo "sweep-check --self-test: $1: caught (${why#sweep-check: })"
	fi
}
control "a column gone" "cut -d, -f2- time.csv > x && mv x time.csv"
control "a row cut short" "sed -i '2s/,[^,]*\$//' accuracy_rmse.csv"
control "a value not a number" "sed -i '2s/^\\([^,]*,[^,]*,[^,]*,[^,]*,\\)[^,]*/\\1oops/' time.csv"
control "a manifest field gone" "sed -i '/\"kernel\"/d' manifest.json"
control "a plot gone" "rm sweep_dropout.svg"
control "a PNG that is not one" "echo text > sweep_bytes.png"
exit $failed
