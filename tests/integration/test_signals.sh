#!/usr/bin/env bash
# test_signals.sh — SIGTERM and SIGINT during a nightly (SPEC §6, §7; src/signals.c), and kill -9
# with the embedded server (src/pgembed.c, the watchdog), through the real binary on the embedded
# default database: a signal rolls back (the database as before: same `settle status`), stops the
# server, leaves no temporary directory and exits 143 / 130; after kill -9 the postmaster exits
# within seconds (its shutdown checkpoint; the bound is loose for loaded test machines); the next
# nightly then completes.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init signals # no test database: everything here uses the embedded default
unset SETTLE_DB PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE PGSERVICEFILE
chmod 755 "$work" # the server user must reach SETTLE_HOME when run as root
export SETTLE_HOME=$work/home TMPDIR=$work/tmp
mkdir -p "$TMPDIR"
esettle() { "$SETTLE_BIN" "$@"; }

postmaster_alive() { pgrep -f -- "-D $SETTLE_HOME/pg/data" >/dev/null; }
harness_cleanup_extra() { # a failing case must not leave a server behind
	local pid
	for pid in $(pgrep -f -- "-D $SETTLE_HOME/pg/data"); do kill -9 "$pid" 2>/dev/null; done
}
no_postmaster_within() { # seconds
	local i
	for i in $(seq $(($1 * 10))); do postmaster_alive || return 0; sleep 0.1; done
	echo "  a postmaster still serves $SETTLE_HOME/pg/data after $1 s"
	tail -n 5 "$SETTLE_HOME/pg/server.log" | sed 's/^/  log: /'
	pgrep -fa -- "$SETTLE_BIN|$SETTLE_HOME" | sed 's/^/  ps: /'
	[ -f "$work/children" ] && sed 's/^/  children before: /' "$work/children"
	return 1
}
no_temp_left() {
	[ -z "$(ls -A "$TMPDIR")" ] || { echo "  left in TMPDIR: $(ls -A "$TMPDIR")"; return 1; }
	[ ! -d "$out" ] || [ -z "$(ls -A "$out" | grep '^\.')" ] || { echo "  left in $out: $(ls -A "$out")"; return 1; }
}
# Starts a nightly paused at failpoint $1 and sets pid once it is there (not in a subshell: the
# script must be its parent to wait for it).
paused_nightly() {
	SETTLE_FAILPOINT=pause:$1 "$SETTLE_BIN" nightly --inbox "$inbox" --out "$out" >"$work/n.out" 2>"$work/n.err" &
	pid=$!
	local i
	for i in $(seq 600); do
		grep -q "failpoint $1: pausing" "$work/n.err" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
}
home2_clear() { ! pgrep -f -- "-D $work/home2/pg/data" >/dev/null; }

inbox=$work/inbox out=$work/out
mkdir -p "$inbox"
cp "$TOP"/fixtures/demo/inbox/*.csv "$inbox"/
esettle ingest "$inbox"/*.csv >/dev/null 2>&1
check "ingest the demo on the embedded server" test $? = 4
esettle status >"$work/before.status" 2>&1
check "... nothing left running after it" no_postmaster_within 1

for sig in TERM INT; do
	want=143
	[ $sig = INT ] && want=130
	paused_nightly stage-written
	check "SIG$sig: the nightly reached its sets staged, uncommitted" grep -q 'pausing' "$work/n.err"
	check "... its server runs meanwhile" postmaster_alive
	kill -$sig "$pid"
	wait "$pid"
	rc=$?
	check "SIG$sig: exit $want" test "$rc" = $want
	[ "$rc" = $want ] || sed 's/^/  /' "$work/n.err"
	check "... said it was interrupted" grep -q "interrupted by SIG$sig" "$work/n.err"
	check "... no postgres process left" no_postmaster_within 2
	check "... no temporary directory left" no_temp_left
	check "... no report set published" test -z "$(ls "$out" 2>/dev/null)"
	esettle status >"$work/after.status" 2>&1
	check "... the database as before (same status)" cmp -s "$work/before.status" "$work/after.status"
	[ -f "$work/after.status" ] && ! cmp -s "$work/before.status" "$work/after.status" && diff "$work/before.status" "$work/after.status" | head -5
	check "... and nothing left running after status" no_postmaster_within 1
	check "... and the next nightly will not think it died" sh -c "! grep -q 'died' '$work/n.err'"
done

# A signal during the ingest of an inbox: the file being ingested is rolled back (those before it
# stay committed: each file is its own transaction, SPEC §6).
mkdir -p "$work/inbox2"
cp "$TOP"/fixtures/demo/inbox/*.csv "$work/inbox2"/
SETTLE_HOME=$work/home2 SETTLE_FAILPOINT=pause:ingested-one "$SETTLE_BIN" nightly --inbox "$work/inbox2" --out "$work/out2" >/dev/null 2>"$work/i.err" &
pid=$!
for _ in $(seq 600); do grep -q pausing "$work/i.err" 2>/dev/null && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
check "SIGTERM during the ingest: exit 143" test $? = 143
check "... no postgres process left" home2_clear
SETTLE_HOME=$work/home2 "$SETTLE_BIN" status >"$work/i.status" 2>&1
check "... one file committed (the one before the signal), no run" \
	sh -c "grep -q '^files: 1$' '$work/i.status' && grep -q '^runs: none yet' '$work/i.status'"

# kill -9: the watchdog stops the server within a few seconds.
paused_nightly stage-written
check "kill -9: the nightly is paused with its server running" postmaster_alive
ps -o pid=,ppid=,stat=,cmd= --ppid "$pid" >"$work/children" 2>&1
kill -9 "$pid"
wait "$pid" 2>/dev/null
# The watchdog's fast shutdown writes a checkpoint: a second or so here, more on a loaded machine.
check "kill -9: the postmaster exits within seconds (at most 20)" no_postmaster_within 20
esettle nightly --inbox "$inbox" --out "$out" >/dev/null 2>"$work/n.err"
rc=$?
check "the next nightly completes" test $rc = 0 -o $rc = 4
[ $rc = 0 ] || [ $rc = 4 ] || sed 's/^/  /' "$work/n.err"
check "... and publishes whole sets" sh -c "cd '$out/2026-10' && sha256sum --quiet -c MANIFEST"
check "... nothing left running" no_postmaster_within 2
