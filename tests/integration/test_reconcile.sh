#!/usr/bin/env bash
# test_reconcile.sh — `settle reconcile` (SPEC §4) on the real binary and a real PostgreSQL.
#
# Every directory of fixtures/reconcile/ with a case.conf is one case: its feeds are ingested,
# reconciled, and everything reconcile stored is dumped as CSV and compared with its expected/
# files (fixtures/reconcile/lib.sh). The SPEC §9 example is compared with the SPEC's own rows
# (fixtures/spec-example/expected). Then the command's contract: exit codes, the lock, atomicity,
# determinism. RECONCILE_REGEN=1 writes the dumps over expected/ (to author a case; review them).
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
export SETTLE_BIN
# shellcheck source=../../fixtures/reconcile/lib.sh
. "$TOP/fixtures/reconcile/lib.sh"
harness_init reconcile # a database per case below
chmod 755 "$work"

dbname_of() { echo "rc_$1" | tr -c 'a-z0-9_\n' '_' | cut -c1-60; }

# --- the fixtures --------------------------------------------------------------------------------
for dir in "$TOP"/fixtures/reconcile/*/; do
	dir=${dir%/}
	[ -f "$dir/case.conf" ] || continue
	name=$(basename "$dir")
	db=$(pg_test_createdb "$(dbname_of "$name")") || { ko "$name: createdb"; continue; }
	out=$work/$name
	if ! rc_fixture_run "$dir" "$db" "$out" 2>"$work/$name.err"; then
		ko "$name: $(tr '\n' ' ' <"$work/$name.err")"
		continue
	fi
	if [ "${RECONCILE_REGEN:-}" = 1 ]; then
		rm -rf "$dir/expected"
		cp -r "$out" "$dir/expected"
	fi
	if diffs=$(diff -r "$dir/expected" "$out" 2>&1); then
		ok "$name"
	else
		ko "$name"
		echo "$diffs" | head -n 40
	fi
done

# --- SPEC §9, to the micro, against the SPEC's own allocations.csv and payouts.csv ---------------
# (and its variant with the ISV's own feed loaded: fixtures/spec-example/expected-isv-feed)
for pair in spec-example:expected spec-example-isv-feed:expected-isv-feed; do
	spec=$work/${pair%%:*}
	for f in allocations.csv payouts.csv; do
		if [ ! -f "$spec/$f" ]; then
			ko "${pair%%:*} $f: not produced"
		elif diff "$TOP/fixtures/spec-example/${pair#*:}/$f" "$spec/$f" >/dev/null; then
			ok "${pair%%:*} $f equals SPEC §9"
		else
			ko "${pair%%:*} $f differs from SPEC §9"
			diff "$TOP/fixtures/spec-example/${pair#*:}/$f" "$spec/$f" | head -n 10
		fi
	done
done

# --- the command's contract ----------------------------------------------------------------------
db=$(pg_test_createdb rc_contract)
"$SETTLE_BIN" --db "$db" init 2>/dev/null
rc_ingest_at "$db" "" "$TOP/fixtures/spec-example/offers.csv" 2026-10-01T00:00:00Z
rc_ingest_at "$db" "" "$TOP/fixtures/spec-example/billing_event.csv" 2026-10-23T00:00:00Z

expect_rc() { # name want command...
	local name=$1 want=$2
	shift 2
	"$@" >"$work/out" 2>"$work/err"
	local rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else ko "$name: exit $rc, expected $want: $(head -c 300 "$work/err")"; fi
}
expect_rc "no --period is a usage error" 2 "$SETTLE_BIN" --db "$db" reconcile
expect_rc "a bad --period is a usage error" 2 "$SETTLE_BIN" --db "$db" reconcile --period 2026-13
expect_rc "a bad --as-of is a usage error" 2 "$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --as-of yesterday
expect_rc "a stray argument is a usage error" 2 "$SETTLE_BIN" --db "$db" reconcile --period 2026-10 extra
expect_rc "an unknown option is a usage error" 2 "$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --frobnicate
expect_rc "reconcile without --as-of uses now" 0 "$SETTLE_BIN" --db "$db" reconcile --period 2026-10
if grep -q "^reconcile 2026-10 as of 20[0-9-]*T[0-9:.]*Z: run [0-9]*: 1 charge groups, 1 allocated, [0-9]* exceptions, 1 payouts$" "$work/out"; then
	ok "summary line"
else
	ko "summary line: $(cat "$work/out")"
fi

# SPEC §6: one run at a time; a second exits 3 without waiting.
lockfifo=$work/lockfifo
mkfifo "$lockfifo"
# The holder is a psql session that reads its commands from the fifo: it takes the run lock and
# keeps it until the fifo closes (EOF ends the session, and the server drops the lock with it).
psql -X -q -d "$db" <"$lockfifo" >/dev/null 2>&1 &
holder=$!
exec 9>"$lockfifo"
echo "SELECT pg_advisory_lock(7271652401);" >&9
for _ in $(seq 1 50); do
	held=$(psql -X -At -d "$db" -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted" 2>/dev/null)
	[ "$held" = 1 ] && break
	sleep 0.1
done
start=$(date +%s)
expect_rc "a second run exits 3 while the lock is held" 3 "$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --as-of 2026-10-31
[ $(($(date +%s) - start)) -lt 10 ] && ok "the locked run does not wait" || ko "the locked run waited"
exec 9>&-
wait "$holder" 2>/dev/null

# Determinism: the same as-of twice gives the same rows (run ids aside), whatever TZ and locale.
r1=$("$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --as-of 2026-11-20T00:00:00Z 2>/dev/null | sed -n 's/.*: run \([0-9]*\):.*/\1/p')
r2=$(TZ=Pacific/Kiritimati LC_ALL=C.UTF-8 "$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --as-of 2026-11-20T00:00:00Z 2>/dev/null | sed -n 's/.*: run \([0-9]*\):.*/\1/p')
if [ -n "$r1" ] && [ -n "$r2" ] && rc_dump "$db" "$r1" "$work/det1" && rc_dump "$db" "$r2" "$work/det2" &&
	diff -r "$work/det1" "$work/det2" >/dev/null && [ "$(wc -l <"$work/det1/allocations.csv")" = 3 ]; then
	ok "two runs at one as-of store the same rows"
else
	ko "two runs at one as-of differ (runs $r1 $r2)"
fi
# An as-of with an offset is the same instant.
r3=$("$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --as-of 2026-11-20T09:00:00+09:00 2>/dev/null | sed -n 's/.*: run \([0-9]*\):.*/\1/p')
if [ -n "$r3" ] && rc_dump "$db" "$r3" "$work/det3" && diff -r "$work/det1" "$work/det3" >/dev/null &&
	[ "$(psql -X -At -d "$db" -c "SELECT count(DISTINCT as_of) FROM settle.run WHERE run_id IN ($r1, $r2, $r3)")" = 1 ]; then
	ok "an as-of with a UTC offset is the same instant"
else
	ko "an as-of with a UTC offset differs"
fi
# As-of before the files were ingested: nothing to reconcile.
line=$("$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --as-of 2000-01-01 2>/dev/null)
case $line in *": 0 charge groups, 0 allocated, 0 exceptions, 0 payouts") ok "as-of before every ingest sees nothing" ;;
*) ko "as-of before every ingest: $line" ;; esac

# Each balance assertion catches the damage it is there for (SETTLE_FAILPOINT damages the rows
# just stored, as a bug would), and the run then commits nothing.
dbm=$(pg_test_createdb rc_assertions)
rc_fixture_run "$TOP/fixtures/reconcile/matching" "$dbm" "$work/assert-base" 2>/dev/null
for fp in reconcile-move-revenue:1 reconcile-drop-group:1 reconcile-move-part:2 reconcile-bad-net:3 \
	reconcile-bad-statement:4 reconcile-bad-disposition:5; do
	name=${fp%:*}
	n=${fp#*:}
	before=$(psql -X -At -d "$dbm" -c "SELECT count(*) FROM settle.run")
	SETTLE_FAILPOINT=$name "$SETTLE_BIN" --db "$dbm" reconcile --period 2026-10 --as-of 2026-11-05 >/dev/null 2>"$work/err"
	rc=$?
	after=$(psql -X -At -d "$dbm" -c "SELECT count(*) FROM settle.run")
	if [ "$rc" = 1 ] && grep -q "balance assertion $n failed" "$work/err" && [ "$before" = "$after" ]; then
		ok "balance assertion $n catches $name"
	else
		ko "balance assertion $n and $name: exit $rc, runs $before/$after: $(head -c 300 "$work/err")"
	fi
done

# Atomicity: a failure inside the period computation commits nothing, not even the run row.
runs_before=$(psql -X -At -d "$db" -c "SELECT count(*) FROM settle.run")
rows_before=$(psql -X -At -d "$db" -c "SELECT (SELECT count(*) FROM settle.charge_group) + (SELECT count(*) FROM settle.allocation)")
psql -X -q -d "$db" -c "INSERT INTO settle.ingest_file (file_name, sha256, kind, rows_loaded, rows_rejected, ingested_at)
                        VALUES ('broken.csv', 'broken', 'offer', 1, 0, '2026-11-01');
                        INSERT INTO settle.offer (offer_id, file_id, line, agreement_id, isv_account_id, reseller_account_id, currency, pricing_model, split_basis)
                        SELECT 'offer-1', max(file_id), 2, 'agmt-1', '111122223333', NULL, 'USD', 'CONTRACT', 'MARKUP' FROM settle.ingest_file" >/dev/null
expect_rc "an offer whose terms cannot be split fails the run" 1 "$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --as-of 2026-11-20
grep -q 'offer "offer-1": split basis MARKUP needs a reseller_account_id' "$work/err" && ok "the failure names the offer" || ko "the failure message: $(cat "$work/err")"
runs_after=$(psql -X -At -d "$db" -c "SELECT count(*) FROM settle.run")
rows_after=$(psql -X -At -d "$db" -c "SELECT (SELECT count(*) FROM settle.charge_group) + (SELECT count(*) FROM settle.allocation)")
[ "$runs_before" = "$runs_after" ] && [ "$rows_before" = "$rows_after" ] && ok "a failed run commits nothing" ||
	ko "a failed run left rows ($runs_before/$runs_after runs, $rows_before/$rows_after rows)"

exit 0
