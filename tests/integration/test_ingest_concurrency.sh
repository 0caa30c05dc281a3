#!/usr/bin/env bash
# SPEC §6: one run at a time. A held run lock makes ingest exit 3 at once; two ingests started
# together load each file exactly once.
set -u
. "$TOP/fixtures/ingest/lib.sh"
ingest_test_init ingest_concurrency
big_billing "$WORK/big.csv" 300000 b
big_billing "$WORK/other.csv" 1000 o

# 1. Another session holds the lock (as a running nightly would).
psql -X -q -d "$DB" -c "SELECT pg_advisory_lock($RUN_LOCK_KEY)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
wait_lock_state held || fail "lock holder started"
st ingest "$WORK/other.csv"
check "locked: exit 3" "3" "$rc"
grep -q 'another settle run holds the lock' "$WORK/out" && pass "locked: says so" || fail "locked: says so" "$(cat "$WORK/out")"
check "locked: nothing recorded" "0" "$(q "SELECT count(*) FROM settle.ingest_file")"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep%'" >/dev/null
wait_lock_state free || fail "lock released"

# 2. A real race: the second ingest starts while the first is loading.
"$SETTLE" --db "$DB" ingest "$WORK/big.csv" >"$WORK/a.out" 2>&1 &
a=$!
wait_lock_state held 30
"$SETTLE" --db "$DB" ingest "$WORK/other.csv" >"$WORK/b.out" 2>&1
rb=$?
wait "$a"
ra=$?
check "race: first loads, second exits 3" "0 3" "$ra $rb"
check "race: rows once" "300000" "$(q "SELECT count(*) FROM settle.billing_event")"

# 3. The same file twice at the same moment: loaded once, whatever the interleaving.
big_billing "$WORK/same.csv" 100000 s
"$SETTLE" --db "$DB" ingest "$WORK/same.csv" >"$WORK/c.out" 2>&1 &
c=$!
"$SETTLE" --db "$DB" ingest "$WORK/same.csv" >"$WORK/d.out" 2>&1 &
d=$!
wait "$c"; rc_c=$?
wait "$d"; rc_d=$?
case "$rc_c $rc_d" in
"0 0" | "0 3" | "3 0") pass "same file: exits $rc_c $rc_d" ;;
*) fail "same file: exits" "got $rc_c $rc_d" "$(cat "$WORK/c.out" "$WORK/d.out")" ;;
esac
check "same file: rows once" "100000" "$(q "SELECT count(*) FROM settle.billing_event WHERE billing_event_id LIKE 's%'")"
check "same file: one ledger row" "1" "$(q "SELECT count(*) FROM settle.ingest_file WHERE file_name = 'same.csv'")"
st ingest "$WORK/same.csv" "$WORK/other.csv"
check "afterwards: no-op + load" "0 1" "$rc $(grep -c 'already ingested' "$WORK/out")"
check "nothing doubled" "401000" "$(q "SELECT count(*) FROM settle.billing_event")"
