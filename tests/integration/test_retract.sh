#!/usr/bin/env bash
# test_retract.sh — `settle retract FILE|--file-id N --why TEXT` (SPEC §7; docs/ingest.md
# "Retracting a file"): the retraction is recorded with its instant, reason and user; runs at a
# later as-of ignore the file's rows, of every input kind; a rerun at an earlier as-of reproduces
# its set byte for byte (verify); the next nightly re-reports the file's periods; status and
# run.csv show the retraction; retracting by name takes every ledger row of that name.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init retract retract
export USER=auditor

inbox=$work/inbox out=$work/out
mkdir -p "$inbox"
cp "$TOP"/fixtures/demo/inbox/*.csv "$inbox"/
settle nightly --inbox "$inbox" --out "$out" >/dev/null 2>&1
check "the demo nightly" test $? = 4
cp -a "$out/2026-10" "$work/before-2026-10"

# --- usage ------------------------------------------------------------------------------------------
settle retract --why x >/dev/null 2>&1;                   check "no file: exit 2" test $? = 2
settle retract 11-x.csv >/dev/null 2>&1;                  check "no --why: exit 2" test $? = 2
settle retract --file-id 5 --why '' >/dev/null 2>&1;      check "empty --why: exit 2" test $? = 2
settle retract a.csv --file-id 5 --why x >/dev/null 2>&1; check "both FILE and --file-id: exit 2" test $? = 2
settle retract --file-id x5 --why x >/dev/null 2>&1;      check "--file-id not a number: exit 2" test $? = 2
settle retract nosuch.csv --why x 2>"$work/err"
check "an unknown name: exit 2" test $? = 2
check "... said so" grep -q 'no ingested file is named "nosuch.csv"' "$work/err"
settle retract --file-id 999 --why x >/dev/null 2>&1;     check "an unknown id: exit 2" test $? = 2
check "nothing recorded by the failures" test "$(sql "SELECT count(*) FROM settle.retraction")" = 0

# --- retract the ISV's October billing file by its path ------------------------------------------
be=11-billing_event-444455556666-2026-10.csv
fid=$(sql "SELECT file_id FROM settle.ingest_file WHERE file_name = '$be'")
settle retract "$inbox/$be" --why "wrong account's feed" 2>"$work/err"
check "retract by path: exit 0" test $? = 0
check "... says which ledger row" grep -q "retracted file $fid (\"$be\"" "$work/err"
check "... recorded with reason and user" \
	test "$(sql "SELECT file_id || '|' || reason || '|' || retracted_by FROM settle.retraction")" = "$fid|wrong account's feed|auditor"
check "... at an instant after its ingest (database clock)" \
	test "$(sql "SELECT bool_and(r.retracted_at > f.ingested_at) FROM settle.retraction r JOIN settle.ingest_file f USING (file_id)")" = t
settle retract --file-id "$fid" --why again 2>"$work/err"
check "retracting again: exit 0" test $? = 0
check "... a no-op that says so" grep -q "already retracted" "$work/err"
check "... still one retraction" test "$(sql "SELECT count(*) FROM settle.retraction")" = 1

check "billing_event_asof now ignores its rows" test "$(sql "SELECT count(*) FROM settle.billing_event_asof(now()) WHERE file_id = $fid")" = 0
check "billing_event_current too" test "$(sql "SELECT count(*) FROM settle.billing_event_current(now()) WHERE file_id = $fid")" = 0
check "... and both agree" test "$(sql "SELECT count(*) FROM (SELECT * FROM settle.billing_event_asof(now()) EXCEPT ALL SELECT * FROM settle.billing_event_current(now())) x")" = 0
check "an as-of before the retraction still sees them" \
	test "$(sql "SELECT count(*) > 0 FROM settle.billing_event_asof((SELECT retracted_at - interval '1 microsecond' FROM settle.retraction)) WHERE file_id = $fid")" = t

# --- the next nightly re-reports October without the file ------------------------------------------
settle nightly --inbox "$inbox" --out "$out" >/dev/null 2>"$work/n.err"
check "the next nightly: exit 0" test $? = 0
check "... re-reports 2026-10" sh -c "tail -n 1 '$work/n.err' | grep -q 'periods written: .*2026-10'"
check "... whose allocations changed" sh -c "! cmp -s '$work/before-2026-10/allocations.csv' '$out/2026-10/allocations.csv'"
check "... which had the ISV's own charge groups before" grep -q '^2026-10,444455556666,' "$work/before-2026-10/allocations.csv"
check "... and have none now" sh -c "! grep -q '^2026-10,444455556666,' '$out/2026-10/allocations.csv'"
n=$(grep -c "^input\.[0-9]*\.name,$be\$" "$out/2026-10/run.csv")
check "run.csv still lists the file" test "$n" = 1
check "... with its retraction" sh -c "grep -q '^input\.[0-9]*\.retracted_why,wrong account.s feed$' '$out/2026-10/run.csv' && grep -q '^input\.[0-9]*\.retracted_at,20' '$out/2026-10/run.csv'"
check "rejected.csv drops the file's quarantined rows" sh -c "! grep -q '$be' '$out/2026-10/rejected.csv'"
check "the set before the retraction had none of this" sh -c "! grep -q retracted '$work/before-2026-10/run.csv'"
settle verify "$work/before-2026-10" >"$work/verify.out" 2>&1
check "verify of the set from before the retraction passes (byte for byte)" test $? = 0
grep -q 'verified$' "$work/verify.out" || sed 's/^/  /' "$work/verify.out"
settle rerun --run "$work/before-2026-10/run.csv" --out "$work/again" >/dev/null 2>&1
check "rerun at the earlier as-of: exit 0" test $? = 0
check "... every file identical" diff -r "$work/before-2026-10" "$work/again/2026-10"
settle verify "$out/2026-10" >/dev/null 2>&1
check "verify of the set after the retraction passes" test $? = 0
settle nightly --inbox "$inbox" --out "$out" >/dev/null 2>"$work/n.err"
check "the night after: 2026-10 is not re-reported again" sh -c "! tail -n 1 '$work/n.err' | grep -q 2026-10"

settle status >"$work/status.out" 2>&1
check "status marks the file retracted, with when, who and why" \
	grep -q "$be  (retracted 20[0-9-]*T[0-9:]*Z by auditor: wrong account's feed)" "$work/status.out"

# --- every other input kind ---------------------------------------------------------------------------
for f in 01-offers.csv 02-offer_dimensions.csv 20-metering-2026-10.csv 30-bank_deposits-2026-10.csv; do
	settle retract "$f" --why "kind test" >/dev/null 2>&1 || ko "retract $f"
done
check "every as-of function of the schema has the retraction test (sql/013 visibility_rewrite)" \
	test "$(sql "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'settle' AND p.prosrc LIKE '%ingested_at <= as_of%' AND p.prosrc NOT LIKE '%not retracted%' AND p.proname NOT IN ('visibility_rewrite', 'visible_files')")" = 0
check "... once each" test "$(sql "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'settle' AND p.prosrc LIKE '%not retracted%not retracted%' AND p.proname <> 'visibility_rewrite'")" = 0
for fn in offer_asof offer_dimension_asof metering_asof bank_deposit_asof; do
	check "$fn ignores retracted files" test "$(sql "SELECT count(*) FROM settle.$fn(now()) x JOIN settle.retraction r USING (file_id)")" = 0
done
settle report --period 2026-10 --out "$work/kinds" >/dev/null 2>"$work/report.err"
check "a report after retracting every kind: exit 0" test $? = 0
check "... metering.csv (metering_daily's reader) has no rows" test "$(wc -l <"$work/kinds/2026-10/metering.csv")" = 1
check "... neither have payouts.csv nor allocations.csv of the ISV" sh -c "! grep -q '^2026-10,444455556666,' '$work/kinds/2026-10/allocations.csv'"

# --- by name: every ledger row of that name -----------------------------------------------------------
mkdir -p "$work/a" "$work/b"
printf 'deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference\ndep-n-1,444455556666,2026-10-23,1.00,USD,T1,x\n' >"$work/a/dep.csv"
printf 'deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference\ndep-n-1,444455556666,2026-10-23,1.00,USD,T1,x\ndep-n-2,444455556666,2026-10-24,2.00,USD,T2,y\n' >"$work/b/dep.csv"
settle ingest "$work/a/dep.csv" >/dev/null 2>&1 && settle ingest "$work/b/dep.csv" >/dev/null 2>&1
check "two ledger rows of one name" test "$(sql "SELECT count(*) FROM settle.ingest_file WHERE file_name = 'dep.csv'")" = 2
settle retract dep.csv --why "test deposits" >/dev/null 2>&1
check "retract by name takes both" test "$(sql "SELECT count(*) FROM settle.retraction JOIN settle.ingest_file USING (file_id) WHERE file_name = 'dep.csv'")" = 2

# --- every file retracted: the empty-set warning says why it is empty ----------------------------------
for id in $(sql "SELECT file_id FROM settle.ingest_file l WHERE NOT EXISTS (SELECT 1 FROM settle.retraction r WHERE r.file_id = l.file_id) ORDER BY 1"); do
	settle retract --file-id "$id" --why "empty the set" >/dev/null 2>&1
done
check "every file retracted" test "$(sql "SELECT count(*) FROM settle.visible_files(now())")" = 0
settle report --period 2026-10 --out "$work/none" >/dev/null 2>"$work/none.err"
check "a report with every file retracted: exit 0" test $? = 0
check "... warns that every file is retracted" grep -q 'warning: every file ingested by the as-of .* is retracted: the set of 2026-10 is empty' "$work/none.err"
