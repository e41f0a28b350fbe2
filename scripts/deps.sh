#!/bin/sh
# Install the Debian 12 packages tally needs, and only those that are missing.
# Runs `apt-get update` only when something has to be installed; prints what
# it installs; does nothing (quietly) when everything is there.
set -eu

packages="pkg-config make gcc libnng-dev libsodium-dev libssl-dev openssl libgmp-dev
libcriterion-dev libsqlite3-dev sqlite3 libjansson-dev libinih-dev gnuplot-nox
clang clang-format libclang-rt-14-dev valgrind iproute2
chromium nodejs
libpq-dev postgresql man-db mandoc lintian dpkg-dev fakeroot systemd
libseccomp-dev"

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# npm: Debian's package, unless a nodejs that bundles it (NodeSource) is there.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
else
	sudo=
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
