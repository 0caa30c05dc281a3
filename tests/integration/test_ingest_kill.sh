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

kill_after() { # delay file: an ingest of file, killed with SIGKILL after delay seconds
	"$SETTLE" --db "$DB" ingest "$2" >"$WORK/k.out" 2>&1 &
	local pid=$!
	sleep "$1"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	wait_lock_state free 30 || fail "lock released after kill at ${1}s ($(basename "$2"))"
}
calibrate() { # file fractions...: prints the kill delays, fractions of a whole ingest's time
	local f=$1 t0 ms
	shift
	t0=$(date +%s%N)
	"$SETTLE" --db "$cal" ingest "$f" >/dev/null 2>&1
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "# a whole ingest of $(basename "$f") takes ${ms} ms here" >&2
	awk -v ms="$ms" -v fr="$*" 'BEGIN { n = split(fr, f, " "); for (i = 1; i <= n; i++) printf "%.3f ", ms * f[i] / 1000 }'
}

delays=$(calibrate "$WORK/bad.csv" 0.02 0.1 0.25 0.4 0.55 0.7 0.85 0.95 1.2)
echo "# killing after: $delays"
for delay in $delays; do
	kill_after "$delay" "$WORK/bad.csv"
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

# The bulk path of a large metering file drops the table's primary key and adds it again inside
# the ingest transaction (src/ingest.c): killed at any moment, the key is there and the file is
# wholly loaded (with its daily sums) or not at all.
awk 'BEGIN { print "metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status"
	for (i = 1; i <= 300000; i++)
		printf "mk%d,2026-10-%02dT%02d:00:00Z,9000000%05d,pc%d,api,%d,Success\n", i, 1 + i % 28, i % 24, i % 3000, i % 7, i % 1000 }' \
	>"$WORK/meter.csv"
mrows=300000
pkey() { q "SELECT count(*) FROM pg_constraint WHERE conname = 'metering_pkey' AND contype = 'p'"; }
delays=$(calibrate "$WORK/meter.csv" 0.1 0.3 0.5 0.7 0.8 0.9 0.97 1.2)
echo "# killing after: $delays"
for delay in $delays; do
	kill_after "$delay" "$WORK/meter.csv"
	n=$(q "SELECT count(*) FROM settle.metering WHERE metering_record_id LIKE 'mk%'")
	d=$(q "SELECT coalesce(sum(d.records), 0) FROM settle.metering_daily d JOIN settle.ingest_file f USING (file_id) WHERE f.file_name = 'meter.csv'")
	k=$(pkey)
	if [ "$n" = 0 ] && [ "$d" = 0 ] && [ "$k" = 1 ]; then
		pass "metering killed at ${delay}s: nothing, key in place"
	elif [ "$n" = "$mrows" ] && [ "$d" = "$mrows" ] && [ "$k" = 1 ]; then
		pass "metering killed at ${delay}s: whole, key in place"
		q "DELETE FROM settle.metering_daily WHERE file_id IN (SELECT file_id FROM settle.ingest_file WHERE file_name = 'meter.csv');
		   DELETE FROM settle.metering WHERE metering_record_id LIKE 'mk%';
		   DELETE FROM settle.ingest_file WHERE file_name = 'meter.csv'" >/dev/null
	else
		fail "metering killed at ${delay}s: partial" "rows=$n daily=$d key=$k"
	fi
done
# (Rolled-back loads leave dead rows behind until VACUUM; the choice of path discounts them, but
# it reads statistics that may lag, so an attempt may take either path: whichever it took, the
# kill left nothing behind.) Then the file loads once, whole.
st ingest "$WORK/meter.csv"
check "metering after the kills: loads once, key in place" "0 $mrows $mrows 1" \
	"$rc $(q "SELECT count(*) FROM settle.metering WHERE metering_record_id LIKE 'mk%'") $(q "SELECT coalesce(sum(records), 0) FROM settle.metering_daily") $(pkey)"
