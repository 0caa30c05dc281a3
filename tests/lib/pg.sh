# pg.sh — a throwaway PostgreSQL for one test run (bash; source it, do not execute it).
#
#   pg_test_start           initdb + start a server in a fresh `mktemp -d /tmp/settle-pgtest.XXXXXX`,
#                           on a Unix socket in that directory only (listen_addresses = '', a private
#                           port number that only names the socket); exports PGHOST PGPORT PGUSER
#                           PGDATABASE (and PG_TEST_DIR, PG_TEST_BINDIR). If the environment already
#                           names a running test server (a script run by tests/run.sh), it is reused.
#   pg_test_createdb NAME   (re)creates database NAME, empty, and prints its conninfo on stdout
#   pg_test_stop            stops the server and removes its directory; only the shell that started
#                           it does anything, and pg_test_start arranges for it to run on EXIT
#
# Quiet: initdb/pg_ctl/psql output goes to $PG_TEST_DIR/log; on failure its tail goes to stderr and
# the function returns 1. As root, the server runs as PG_TEST_USER, else "postgres" if it exists,
# else "nobody" (through setpriv). Trust authentication, fsync off: test data only. The directory
# is 0755 so that tests may connect as another local user. Works under `set -eu`.

_pg_test_log() { # message: to stderr with the log's tail
	echo "pg.sh: $1" >&2
	if [ -n "${PG_TEST_DIR:-}" ] && [ -f "$PG_TEST_DIR/log" ]; then
		tail -n 5 "$PG_TEST_DIR/log" | sed 's/^/pg.sh:   /' >&2
	fi
	return 1
}

_pg_test_bindir() { # prints the directory with initdb and pg_ctl: PATH first, then the newest
	local d initdb
	initdb=$(command -v initdb 2>/dev/null) || initdb=
	if [ -n "$initdb" ]; then
		d=$(dirname "$(readlink -f "$initdb")")
		if [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then
			echo "$d"
			return 0
		fi
	fi
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then
		echo "$d"
		return 0
	fi
	return 1
}

_pg_test_as() { # command...: as the server user when root, else as ourselves; output to the log
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid="$_pg_test_user" --regid="$_pg_test_group" --init-groups \
			--reset-env -- env PATH="$PATH" "$@" >>"$PG_TEST_DIR/log" 2>&1 </dev/null
	else
		"$@" >>"$PG_TEST_DIR/log" 2>&1 </dev/null
	fi
}

_pg_test_ctl() { # pg_ctl arguments... (runs in PG_TEST_DIR, which the server user owns)
	(cd "$PG_TEST_DIR" && _pg_test_as "$PG_TEST_BINDIR/pg_ctl" -D "$PG_TEST_DIR/data" "$@")
}

# shellcheck disable=SC2120 # $3 belongs to the eval'd "set --", not to this function
_pg_test_trap_exit() { # chains pg_test_stop in front of any EXIT trap already set
	local prev cmd=
	prev=$(trap -p EXIT)
	if [ -n "$prev" ]; then
		cmd=$(eval "set -- $prev"; printf '%s' "$3")
	fi
	case "$cmd" in *pg_test_stop*) return 0 ;; esac
	# shellcheck disable=SC2064
	trap "pg_test_stop${cmd:+; $cmd}" EXIT
	local sig
	for sig in HUP INT TERM; do # so that the EXIT trap runs when the run is interrupted
		[ -n "$(trap -p "$sig")" ] || trap "exit 1" "$sig"
	done
}

pg_test_start() {
	if [ -n "${PG_TEST_DIR:-}" ] && [ -n "${PG_TEST_BINDIR:-}" ] &&
		"$PG_TEST_BINDIR/pg_isready" -q -h "$PG_TEST_DIR" -p "${PGPORT:-}" >/dev/null 2>&1; then
		return 0 # started by a parent (tests/run.sh): share it
	fi
	local bindir
	bindir=$(_pg_test_bindir) || { echo "pg.sh: initdb/pg_ctl/psql not found on PATH or in /usr/lib/postgresql/*/bin" >&2; return 1; }
	_pg_test_user=$(id -un)
	_pg_test_group=$(id -gn)
	if [ "$(id -u)" = 0 ]; then
		_pg_test_user=${PG_TEST_USER:-}
		if [ -z "$_pg_test_user" ]; then
			if id -u postgres >/dev/null 2>&1; then _pg_test_user=postgres; else _pg_test_user=nobody; fi
		fi
		_pg_test_group=$(id -gn "$_pg_test_user") || { echo "pg.sh: no user \"$_pg_test_user\"" >&2; return 1; }
	fi
	PG_TEST_DIR=$(mktemp -d /tmp/settle-pgtest.XXXXXX) || return 1
	PG_TEST_BINDIR=$bindir
	PG_TEST_OWNER=$BASHPID
	export PG_TEST_DIR PG_TEST_BINDIR PG_TEST_OWNER
	_pg_test_trap_exit
	chmod 755 "$PG_TEST_DIR"
	: >"$PG_TEST_DIR/log"
	if [ "$(id -u)" = 0 ]; then
		chown -R "$_pg_test_user:$_pg_test_group" "$PG_TEST_DIR" || return 1
	fi
	local port=$((20000 + (BASHPID * 7 + RANDOM) % 30000))
	_pg_test_as "$bindir/initdb" -D "$PG_TEST_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C \
		--no-sync || { _pg_test_log "initdb failed"; return 1; }
	cat >>"$PG_TEST_DIR/data/postgresql.conf" <<-EOF

		# tests/lib/pg.sh: Unix socket only, throwaway data
		listen_addresses = ''
		unix_socket_directories = '$PG_TEST_DIR'
		port = $port
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 50
	EOF
	_pg_test_ctl start -w -t 60 -l "$PG_TEST_DIR/log" || { _pg_test_log "could not start the test server"; return 1; }
	unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGPASSWORD PGOPTIONS PGSSLMODE
	export PGHOST=$PG_TEST_DIR PGPORT=$port PGUSER=postgres PGDATABASE=postgres
	return 0
}

pg_test_createdb() { # NAME
	local name=${1:-}
	if ! [[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
		echo "pg.sh: pg_test_createdb: bad database name \"$name\"" >&2
		return 1
	fi
	if [ -z "${PG_TEST_DIR:-}" ] || [ -z "${PGHOST:-}" ]; then
		echo "pg.sh: pg_test_createdb: no test server (call pg_test_start first)" >&2
		return 1
	fi
	"$PG_TEST_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d postgres \
		-c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\"" \
		>>"$PG_TEST_DIR/log" 2>&1 </dev/null || { _pg_test_log "could not create database \"$name\""; return 1; }
	echo "host=$PGHOST port=$PGPORT dbname=$name user=$PGUSER"
}

pg_test_stop() {
	[ -n "${PG_TEST_DIR:-}" ] || return 0
	[ "${PG_TEST_OWNER:-}" = "$BASHPID" ] || return 0 # not ours: the starter stops it
	if [ -d "$PG_TEST_DIR/data" ]; then
		_pg_test_ctl stop -m immediate -w -t 60 >/dev/null 2>&1 || true
	fi
	case "$PG_TEST_DIR" in
	/tmp/settle-pgtest.*) rm -rf "$PG_TEST_DIR" ;;
	esac
	unset PG_TEST_DIR PG_TEST_BINDIR PG_TEST_OWNER PGHOST PGPORT PGUSER PGDATABASE
	return 0
}
