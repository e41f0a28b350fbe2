#!/bin/sh
# scripts/deb.sh - build build/deb/tally_VERSION_ARCH.deb from a staged
# tree with dpkg-deb (run by `make deb`, after the programs were built with
# dpkg-buildflags' hardening into BUILD).
#
# The package: the three programs (stripped; Depends from dpkg-shlibdeps,
# plus adduser), the dashboard, the units in /lib/systemd/system, the user
# tally (postinst: adduser --system; sysusers.d too), the example configs
# as conffiles in /etc/tally (node.conf, coordinator.conf) and all of them
# in /usr/share/doc/tally/examples, the docs, the man pages (gzip -9n), a
# copyright file and a changelog. No libtally.a or headers: they are for
# building against tally, not for running it (a tally-dev would hold them).
#
# Usage: scripts/deb.sh MAKE BUILD VERSION
set -eu

make=$1
build=$2
version=$3
arch=$(dpkg --print-architecture)
out=build/deb
stage=$out/stage
pkg=$stage/root
rm -rf "$stage"
mkdir -p "$pkg/DEBIAN" "$stage/debian"

# The same files as `make install PREFIX=/usr`, units in /lib (Debian 12).
"$make" --no-print-directory BUILD="$build" install-files DESTDIR="$PWD/$pkg" PREFIX=/usr \
	UNITDIR=/lib/systemd/system >"$stage/install.log"
rm -rf "$pkg/usr/include" "$pkg/usr/lib/libtally.a"
for p in tally tally-node tally-coordinator; do
	strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/$p"
done

# Debian policy 12.3: docs and man pages compressed with gzip -9n.
doc=$pkg/usr/share/doc/tally
gzip -9n "$doc"/*.md
if [ -d "$pkg/usr/share/man" ]; then
	find "$pkg/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} +
fi
sed "s/@VERSION@/$version/" dist/debian/changelog | gzip -9n >"$doc/changelog.gz"
install -m 644 dist/debian/copyright "$doc/copyright"

# Conffiles: the commented node and coordinator configs.
install -d "$pkg/etc/tally"
for c in node.conf coordinator.conf; do
	install -m 644 "dist/examples/$c" "$pkg/etc/tally/$c"
	echo "/etc/tally/$c" >>"$pkg/DEBIAN/conffiles"
done
for s in postinst prerm postrm; do
	install -m 755 "dist/debian/$s" "$pkg/DEBIAN/$s"
done

# Depends: the shared libraries' packages (dpkg-shlibdeps reads
# debian/control from where it runs).
printf 'Source: tally\n\nPackage: tally\nArchitecture: any\n' >"$stage/debian/control"
shlibs=$(cd "$stage" && dpkg-shlibdeps -O root/usr/bin/tally root/usr/bin/tally-node \
	root/usr/bin/tally-coordinator 2>"$PWD/shlibdeps.err" | sed -n 's/^shlibs:Depends=//p') ||
	{
		cat "$stage/shlibdeps.err"
		exit 1
	}
[ -n "$shlibs" ] || {
	echo "deb: dpkg-shlibdeps found no dependencies" >&2
	exit 1
}

(cd "$pkg" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' | sed 's|^\./||' | sort |
	xargs md5sum >DEBIAN/md5sums)
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	-e "s/@DEPENDS@/$shlibs, adduser/" dist/debian/control >"$pkg/DEBIAN/control"
find "$pkg" -type d -exec chmod 755 {} +

deb=$out/tally_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "deb: $deb (Depends: $shlibs, adduser)"
