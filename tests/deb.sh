#!/bin/sh
# tests/deb.sh DEB - checks of the package `make deb` built (run by
# `make deb-check`, in `make test`): lintian reports no error (its
# warnings are printed); the package holds the programs, the units, the
# conffiles, the dashboard, the docs, the maintainer scripts; Depends
# comes from dpkg-shlibdeps; the extracted programs run and the units
# start them from /usr/bin. The package is not installed on this machine.
set -eu

deb=$1
tmp=$(mktemp -d /tmp/tally-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "deb-check: FAIL: $*" >&2
	exit 1
}

[ -f "$deb" ] || fail "$deb: no such package"
lintian --allow-root "$deb" >"$tmp/lintian" 2>&1 || true
grep -v '^N: ' "$tmp/lintian" | sed 's/^/deb-check: lintian: /' || true
if grep -q '^E: ' "$tmp/lintian"; then
	fail "lintian reports errors"
fi

dpkg-deb -c "$deb" | awk '{print $NF}' >"$tmp/contents"
for f in ./usr/bin/tally ./usr/bin/tally-node ./usr/bin/tally-coordinator \
	./lib/systemd/system/tally-node.service ./lib/systemd/system/tally-node@.service \
	./lib/systemd/system/tally-coordinator.service ./usr/lib/sysusers.d/tally.conf \
	./etc/tally/node.conf ./etc/tally/coordinator.conf ./usr/share/tally/web/index.html \
	./usr/share/doc/tally/copyright ./usr/share/doc/tally/changelog.gz \
	./usr/share/doc/tally/OPERATIONS.md.gz ./usr/share/doc/tally/examples/registry.ini; do
	grep -qx "$f" "$tmp/contents" || fail "the package has no $f"
done
if grep -q '^\./usr/include\|libtally\.a' "$tmp/contents"; then
	fail "the package holds the static library or headers"
fi

depends=$(dpkg-deb -f "$deb" Depends)
for d in libc6 libnng1 libsodium23 libsqlite3-0 adduser; do
	echo "$depends" | grep -q "\\b$d\\b" || fail "Depends ($depends) has no $d"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$tmp" ./conffiles ./postinst ./prerm ./postrm
[ "$(cat "$tmp/conffiles")" = "$(printf '/etc/tally/node.conf\n/etc/tally/coordinator.conf')" ] ||
	fail "conffiles: $(cat "$tmp/conffiles")"
grep -q 'adduser --quiet --system --group' "$tmp/postinst" || fail "postinst adds no system user"

dpkg-deb -x "$deb" "$tmp/root"
grep -q '^ExecStart=/usr/bin/tally-node --config /etc/tally/node.conf$' \
	"$tmp/root/lib/systemd/system/tally-node.service" || fail "tally-node.service: ExecStart"
"$tmp/root/usr/bin/tally" --help >/dev/null 2>&1 || fail "the packaged tally does not run"
"$tmp/root/usr/bin/tally-node" --help >/dev/null 2>&1 || fail "the packaged tally-node does not run"
echo "deb-check: ok ($(basename "$deb"), $(du -k "$deb" | cut -f1) KiB; Depends: $depends)"
