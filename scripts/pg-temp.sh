#!/bin/sh
# A private PostgreSQL server for tests and benchmarks: Debian's postgresql
# (scripts/deps.sh), a cluster made by initdb in a directory of the caller's,
# listening on a Unix socket in that directory only (no TCP port, so two runs
# never collide), stopped and removed afterwards.
#
#   pg-temp.sh start DIR   initdb into DIR/data, start the server, wait until
#                          it accepts connections, then print its libpq
#                          connection string on stdout (one line):
#                          host=DIR port=5432 dbname=postgres user=postgres
#   pg-temp.sh stop DIR    stop the server (fast) and remove DIR.
#
# PostgreSQL refuses to run as root, so under root (CI) the server runs as
# the `postgres` user that Debian's package creates, and DIR is given to it.
# Authentication is `trust` on the private socket only: nothing outside DIR
# can reach it. The server's log is DIR/server.log.
set -eu

usage() {
	echo "usage: pg-temp.sh start|stop DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

pgbin=""
for v in $(ls -r /usr/lib/postgresql 2>/dev/null); do
	if [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]; then
		pgbin=/usr/lib/postgresql/$v/bin
		break
	fi
done
if [ -z "$pgbin" ]; then
	echo "pg-temp: no PostgreSQL server under /usr/lib/postgresql (make deps installs it)" >&2
	exit 1
fi

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case $cmd in
start)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	chmod 700 "$dir"
	as_owner "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust \
		--no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	# No TCP listener; the socket lives in DIR. fsync off: a test cluster
	# that a crash would lose is thrown away anyway.
	as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off" \
		start >/dev/null || {
		cat "$dir/server.log" >&2
		exit 1
	}
	echo "host=$dir port=5432 dbname=postgres user=postgres"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
*)
	usage
	;;
esac
