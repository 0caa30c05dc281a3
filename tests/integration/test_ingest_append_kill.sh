#!/usr/bin/env bash
# SPEC §3 "Appends", §6: an append is one transaction like any ingest. Killed at any moment
# (SIGKILL) while it loads the records after the prefix, it leaves the ledger and the rows as
# before it (one ledger row, the first part) or as after it (two ledger rows, both parts); the next
# run appends exactly once, and then the file is unchanged.
set -u
. "$TOP/fixtures/ingest/lib.sh"
ingest_test_init ingest_append_kill
mkdir -p "$WORK/b/billingeventfeed_v1/year=2026/month=10"
f=billingeventfeed_v1/year=2026/month=10/data.csv
big_billing "$WORK/all.csv" 300000 a
awk 'NR % 1000 == 0 { sub(/,USD,/, ",usd,") } { print }' "$WORK/all.csv" >"$WORK/bad.csv"
head -n 100001 "$WORK/bad.csv" >"$WORK/b/$f"
cd "$WORK/b" || exit 1
"$SETTLE" --db "$DB" ingest "$f" >/dev/null 2>&1
first=$(q "SELECT count(*) FROM settle.billing_event")
check "the first part loads (its bad rows quarantined)" "99900 100" "$first $(q "SELECT count(*) FROM settle.rejected_row")"
cp "$WORK/bad.csv" "$f"

# calibrate on a copy of the database state: the append's time, in a scratch database
cal=$(pg_test_createdb ingest_append_kill_cal)
head -n 100001 "$WORK/bad.csv" >"$WORK/cal.csv"
mkdir -p "$WORK/c/$(dirname "$f")" && cp "$WORK/cal.csv" "$WORK/c/$f"
(cd "$WORK/c" && "$SETTLE" --db "$cal" ingest "$f" >/dev/null 2>&1)
cp "$WORK/bad.csv" "$WORK/c/$f"
t0=$(date +%s%N)
(cd "$WORK/c" && "$SETTLE" --db "$cal" ingest "$f" >/dev/null 2>&1)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# an append of 200000 rows takes ${ms} ms here"
for fr in 0.05 0.2 0.4 0.6 0.8 0.95 1.3; do
	delay=$(awk -v ms="$ms" -v fr="$fr" 'BEGIN { printf "%.3f", ms * fr / 1000 }')
	"$SETTLE" --db "$DB" ingest "$f" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	wait_lock_state free 30 || fail "lock released after a kill at ${delay}s"
	state="$(q "SELECT count(*) FROM settle.ingest_file") $(q "SELECT count(*) FROM settle.billing_event") $(q "SELECT count(*) FROM settle.rejected_row")"
	case $state in
	"1 99900 100") pass "killed at ${delay}s: as before the append" ;;
	"2 299700 300")
		pass "killed at ${delay}s: as after the append"
		q "DELETE FROM settle.rejected_row WHERE file_id = (SELECT max(file_id) FROM settle.ingest_file);
		   DELETE FROM settle.billing_event WHERE file_id = (SELECT max(file_id) FROM settle.ingest_file);
		   DELETE FROM settle.ingest_file WHERE file_id = (SELECT max(file_id) FROM settle.ingest_file)" >/dev/null ;;
	*) fail "killed at ${delay}s: partial" "ledger, rows, rejected: $state" ;;
	esac
done
st ingest "$f"
check "the next run appends once (exit 4: the appended part has bad rows)" "4 2 299700 300" \
	"$rc $(q "SELECT count(*) FROM settle.ingest_file") $(q "SELECT count(*) FROM settle.billing_event") $(q "SELECT count(*) FROM settle.rejected_row")"
check "the append's rejections cite their true lines" "101000 300000" \
	"$(q "SELECT min(line) || ' ' || max(line) FROM settle.rejected_row WHERE file_id = (SELECT max(file_id) FROM settle.ingest_file)")"
st ingest "$f"
check "then the file is unchanged" "0 2" "$rc $(q "SELECT count(*) FROM settle.ingest_file")"
