#!/usr/bin/env bash
# test_embedded.sh — the embedded default database (SPEC §7, src/pgembed.c) through the real binary.
#
# Every case runs $SETTLE_BIN (default ./settle) with no --db, no SETTLE_DB and no libpq environment,
# in a fresh SETTLE_HOME under one mktemp -d directory, and prints "PASS: test_embedded.sh: <case>"
# or "FAIL: test_embedded.sh: <case>" (tests/run.sh sums these). After every command no postmaster
# may be left running. Run as root it also runs the "normal user" cases as nobody (via setpriv);
# run as a normal user, those cases run as that user.
set -u

name=test_embedded.sh
bin=${SETTLE_BIN:-./settle}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
unset SETTLE_DB PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE PGSERVICEFILE PGPASSWORD PGOPTIONS

failures=0
pass() { echo "PASS: $name: $1"; }
fail() { # case, details...
	echo "FAIL: $name: $1"
	shift
	local line
	for line in "$@"; do [ -z "$line" ] || echo "  $line"; done
	failures=$((failures + 1))
}

if [ ! -x "$bin" ]; then
	fail "binary" "no executable settle at $bin (set SETTLE_BIN)"
	exit 1
fi

root=$(mktemp -d /tmp/settle-embed.XXXXXX) || exit 1
chmod 755 "$root" # the server user must be able to traverse it
out="$root/out" # stdout+stderr of the last command

is_root() { [ "$(id -u)" = 0 ]; }

# A postmaster serving $1 (a SETTLE_HOME): a live, non-zombie process whose working directory is
# $1/pg/data. Prints its pid.
postmaster_of() {
	local data p st
	data=$(readlink -f "$1/pg/data" 2>/dev/null) || return 1
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/cwd" 2>/dev/null)" = "$data" ] || continue
		st=$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f1,2)
		# the postmaster: not a zombie, and its parent is not itself a process of this cluster
		[ "${st%% *}" = Z ] && continue
		[ "$(readlink "/proc/${st#* }/cwd" 2>/dev/null)" = "$data" ] && continue
		echo "${p#/proc/}"
		return 0
	done
	return 1
}

no_postmaster() { # home: succeeds when nothing serves it
	local pid
	pid=$(postmaster_of "$1") || return 0
	echo "postmaster $pid still serves $1/pg/data"
	return 1
}

# Runs settle as the given user ("" = ourselves) with SETTLE_HOME; output in $out.
settle_as() { # user home args...
	local user=$1 home=$2
	shift 2
	if [ -n "$user" ]; then
		setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
			env -i PATH="$PATH" HOME="$home" SETTLE_HOME="$home" "$bin" "$@" >"$out" 2>&1 </dev/null
	else
		SETTLE_HOME="$home" "$bin" "$@" >"$out" 2>&1 </dev/null
	fi
}

bindir() { # where initdb/pg_ctl are, as pgembed looks for them
	local p
	p=$(command -v pg_ctl 2>/dev/null) && { dirname "$(readlink -f "$p")"; return 0; }
	find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1
}

# pg_ctl on home's cluster, as the owner of home/pg (as pgembed would run it).
pg_ctl_as_owner() { # home args...
	local home=$1 owner
	shift
	owner=$(stat -c %U "$home/pg")
	if is_root; then
		(cd "$home/pg" && setpriv --reuid="$owner" --regid="$(id -g "$owner")" --init-groups \
			"$(bindir)/pg_ctl" -D "$home/pg/data" "$@" >>"$home/pg/server.log" 2>&1 </dev/null)
	else
		(cd "$home/pg" && "$(bindir)/pg_ctl" -D "$home/pg/data" "$@" >>"$home/pg/server.log" 2>&1 </dev/null)
	fi
}

cleanup() {
	local h pid
	for h in "$root"/*/; do
		h=${h%/}
		if pid=$(postmaster_of "$h"); then
			pg_ctl_as_owner "$h" stop -m immediate -w >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null
		fi
	done
	rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# init twice in a fresh home: both exit 0, initdb ran once, nothing left running.
init_twice() { # case-label user home
	local label=$1 user=$2 home=$3 rc1 rc2 o1 n
	settle_as "$user" "$home" init
	rc1=$?
	o1=$(cat "$out")
	local left1
	left1=$(no_postmaster "$home")
	settle_as "$user" "$home" init
	rc2=$?
	n=$(grep -c '^settle: running initdb' "$home/pg/server.log" 2>/dev/null)
	if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] && [ "$n" = 1 ] && [ -z "$left1" ] && no_postmaster "$home" >/dev/null; then
		pass "$label: init twice"
	else
		fail "$label: init twice" "first exit $rc1: $o1" "second exit $rc2: $(cat "$out")" \
			"initdb runs: $n" "$left1" "$(no_postmaster "$home")"
	fi
}

# 1. As root (the server runs as an unprivileged user), or as ourselves.
me=$(id -un)
home_a="$root/a/var"
mkdir -p "$root/a" && chmod 755 "$root/a"
init_twice "$me" "" "$home_a"
if is_root; then
	owner=$(stat -c %U "$home_a/pg" 2>/dev/null)
	if [ -n "$owner" ] && [ "$owner" != root ]; then
		pass "root: server directory belongs to \"$owner\""
	else
		fail "root: server directory belongs to an unprivileged user" "owner: ${owner:-none}"
	fi
fi

# 2. As a normal user (nobody) with a SETTLE_HOME it owns.
if is_root; then
	mkdir -p "$root/n" && chown nobody "$root/n"
	init_twice "nobody" nobody "$root/n/var"
fi

# Cases 3-5 reuse the cluster of case 1.
have_home_a() { # label
	[ -f "$home_a/pg/data/PG_VERSION" ] && return 0
	fail "$1" "skipped: no cluster in $home_a (the first init failed)"
	return 1
}

# 3. A stale postmaster.pid from a postmaster killed with -9: init starts a fresh server.
stale_case() {
	local label="$me: stale postmaster.pid of a killed postmaster" pid rc
	have_home_a "$label" || return
	pg_ctl_as_owner "$home_a" start -w -l "$home_a/pg/server.log"
	pid=$(postmaster_of "$home_a") || { fail "$label" "could not start the server by hand"; return; }
	kill -9 "$pid"
	for _ in $(seq 50); do postmaster_of "$home_a" >/dev/null || break; sleep 0.1; done
	if [ ! -f "$home_a/pg/data/postmaster.pid" ]; then
		fail "$label" "no postmaster.pid left behind by kill -9"
		return
	fi
	settle_as "" "$home_a" init
	rc=$?
	if [ "$rc" = 0 ] && no_postmaster "$home_a" >/dev/null && [ ! -f "$home_a/pg/data/postmaster.pid" ]; then
		pass "$label"
	else
		fail "$label" "exit $rc: $(cat "$out")" "$(no_postmaster "$home_a")" "$(tail -n 3 "$home_a/pg/server.log")"
	fi
}
stale_case

# 4. postmaster.pid naming a live process that is not a postmaster (a reused pid).
foreign_case() {
	local label="$me: postmaster.pid naming a live non-postmaster process" owner sleeper rc
	have_home_a "$label" || return
	owner=$(stat -c %U "$home_a/pg")
	if is_root; then
		setpriv --reuid="$owner" --regid="$(id -g "$owner")" --init-groups sleep 60 &
	else
		sleep 60 &
	fi
	sleeper=$!
	printf '%s\n%s\n' "$sleeper" "$home_a/pg/data" >"$home_a/pg/data/postmaster.pid"
	is_root && chown "$owner" "$home_a/pg/data/postmaster.pid"
	settle_as "" "$home_a" init
	rc=$?
	kill "$sleeper" 2>/dev/null
	wait "$sleeper" 2>/dev/null
	if [ "$rc" = 0 ] && no_postmaster "$home_a" >/dev/null; then
		pass "$label"
	else
		fail "$label" "exit $rc: $(cat "$out")" "$(tail -n 3 "$home_a/pg/server.log")"
	fi
}
foreign_case

# 4b. Both lock files (postmaster.pid, .s.PGSQL.5432.lock) naming a zombie of the server user: kill(pid,
# 0) succeeds on a zombie, and an init that does not reap (containers) can leave one for long.
zombie_case() {
	local label="$me: lock files naming a zombie process" owner zpid rc f
	have_home_a "$label" || return
	owner=$(stat -c %U "$home_a/pg")
	if is_root; then
		setpriv --reuid="$owner" --regid="$(id -g "$owner")" --init-groups \
			bash -c 'sleep 0.01 & echo $!; exec sleep 60' >"$root/zpid" &
	else
		bash -c 'sleep 0.01 & echo $!; exec sleep 60' >"$root/zpid" &
	fi
	local parent=$!
	sleep 0.5
	zpid=$(cat "$root/zpid")
	if [ "$(sed 's/.*) //' "/proc/$zpid/stat" 2>/dev/null | cut -c1)" != Z ]; then
		fail "$label" "could not make a zombie"
		kill "$parent" 2>/dev/null
		return
	fi
	for f in "$home_a/pg/data/postmaster.pid" "$home_a/pg/.s.PGSQL.5432.lock"; do
		printf '%s\n%s\n' "$zpid" "$home_a/pg/data" >"$f"
		is_root && chown "$owner" "$f"
	done
	settle_as "" "$home_a" init
	rc=$?
	kill "$parent" 2>/dev/null
	wait "$parent" 2>/dev/null
	if [ "$rc" = 0 ] && no_postmaster "$home_a" >/dev/null; then
		pass "$label"
	else
		fail "$label" "exit $rc: $(cat "$out")" "$(tail -n 3 "$home_a/pg/server.log")"
	fi
}
zombie_case

# 5. A server left running (by a killed settle) is reused, then stopped by the last user.
left_running_case() {
	local label="$me: server left running is reused and stopped" starts1 starts2 rc
	have_home_a "$label" || return
	pg_ctl_as_owner "$home_a" start -w -l "$home_a/pg/server.log"
	postmaster_of "$home_a" >/dev/null || { fail "$label" "could not start the server by hand"; return; }
	starts1=$(grep -c '^settle: running pg_ctl start' "$home_a/pg/server.log")
	settle_as "" "$home_a" init
	rc=$?
	starts2=$(grep -c '^settle: running pg_ctl start' "$home_a/pg/server.log")
	if [ "$rc" = 0 ] && [ "$starts1" = "$starts2" ] && no_postmaster "$home_a" >/dev/null; then
		pass "$label"
	else
		fail "$label" "exit $rc: $(cat "$out")" "settle started a server: $((starts2 - starts1))" \
			"$(no_postmaster "$home_a")"
	fi
}
left_running_case

# 6. Concurrent commands on one fresh SETTLE_HOME: each succeeds, one initdb, nothing left running.
concurrent_case() { # label command... (each one settle command word)
	local label=$1 home="$root/c$RANDOM/var" i rc n bad=() pids=()
	shift
	local cmds=("$@")
	mkdir -p "${home%/var}"
	for i in "${!cmds[@]}"; do
		(SETTLE_HOME="$home" "$bin" "${cmds[$i]}" >"$root/conc.$i.out" 2>&1 </dev/null
			echo $? >"$root/conc.$i.rc") &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in "${!cmds[@]}"; do
		rc=$(cat "$root/conc.$i.rc")
		# SPEC v2 §7: status never creates a database; racing init it may find none yet (2)
		[ "$rc" = 0 ] || { [ "${cmds[$i]}" = status ] && [ "$rc" = 2 ]; } ||
			bad+=("settle ${cmds[$i]} exit $rc: $(cat "$root/conc.$i.out")")
	done
	n=$(grep -c '^settle: running initdb' "$home/pg/server.log" 2>/dev/null)
	[ "$n" = 1 ] || bad+=("initdb runs: $n")
	no_postmaster "$home" >/dev/null || bad+=("$(no_postmaster "$home")")
	if [ ${#bad[@]} = 0 ]; then
		pass "$label"
	else
		fail "$label" "${bad[@]}"
	fi
}
concurrent_case "$me: 4 concurrent init on a fresh home" init init init init
concurrent_case "$me: concurrent init and status on a fresh home" init status

# 7. Configuration errors are reported clearly, with exit code 2.
config_error_case() { # label home pattern
	local label=$1 home=$2 pattern=$3 rc
	settle_as "" "$home" init
	rc=$?
	if [ "$rc" = 2 ] && grep -q -- "$pattern" "$out"; then
		pass "$label"
	else
		fail "$label" "exit $rc (want 2), output: $(cat "$out")" "want a message matching: $pattern"
	fi
}
long="$root/$(printf 'x%.0s' $(seq 1 100))/var"
config_error_case "$me: SETTLE_HOME too long for a socket path" "$long" "too long"
if is_root; then
	mkdir -p "$root/closed" && chmod 700 "$root/closed"
	config_error_case "root: SETTLE_HOME the server user cannot reach" "$root/closed/var" "cannot access directory \"$root/closed\""
fi

[ "$failures" = 0 ]
