#!/usr/bin/env bash
# SPEC §6: killed at any moment (SIGKILL), an ingest leaves the file wholly loaded or not at all;
# the next run loads it exactly once, and a byte-identical run after that is a no-op.
set -u
. "$TOP/fixtures/ingest/lib.sh"
ingest_test_init ingest_kill
big_billing "$WORK/big.csv" 400000 k
# some bad rows, so that kills also land in the quarantine phase
awk 'NR % 1000 == 0 { sub(/,USD,/, ",usd,") } { print }' "$WORK/big.csv" >"$WORK/bad.csv"
rows=$(( $(wc -l <"$WORK/big.csv") - 1 ))

# Calibrate: how long a whole ingest of this file takes here, in a scratch database; then kill at
# fractions of that, so the kills land in every phase (header, COPY, quarantine, commit) whatever
# the machine's speed.
"$SETTLE" --db "$DB" init >/dev/null 2>&1
cal=$(pg_test_createdb ingest_kill_cal)
t0=$(date +%s%N)
"$SETTLE" --db "$cal" ingest "$WORK/bad.csv" >/dev/null 2>&1
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
delays=$(awk -v ms="$ms" 'BEGIN { n = split("0.02 0.1 0.25 0.4 0.55 0.7 0.85 0.95 1.2", f, " ");
	for (i = 1; i <= n; i++) printf "%.3f ", ms * f[i] / 1000 }')
echo "# a whole ingest takes ${ms} ms here; killing after: $delays"

for delay in $delays; do
	"$SETTLE" --db "$DB" ingest "$WORK/bad.csv" >"$WORK/k.out" 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	wait_lock_state free 30 || fail "lock released after kill at ${delay}s"
	files=$(q "SELECT count(*) FROM settle.ingest_file")
	n=$(q "SELECT count(*) FROM settle.billing_event")
	r=$(q "SELECT count(*) FROM settle.rejected_row")
	if [ "$files" = 0 ] && [ "$n" = 0 ] && [ "$r" = 0 ]; then
		pass "killed at ${delay}s: nothing"
	elif [ "$files" = 1 ] && [ "$n" = $((rows - 400)) ] && [ "$r" = 400 ]; then
		pass "killed at ${delay}s: after commit, whole" # the kill came too late
		q "TRUNCATE settle.billing_event, settle.rejected_row, settle.ingest_file" >/dev/null
	else
		fail "killed at ${delay}s: partial" "files=$files rows=$n rejected=$r"
	fi
done

st ingest "$WORK/bad.csv"
loaded=$(q "SELECT count(*) FROM settle.billing_event")
check "rerun loads once" "$((rows - 400)) 400" "$loaded $(q "SELECT count(*) FROM settle.rejected_row")"
st ingest "$WORK/bad.csv"
check "then a no-op" "0 $loaded" "$rc $(q "SELECT count(*) FROM settle.billing_event")"
