#!/usr/bin/env bash
# test_rerun.sh — auditor reruns (SPEC §6, §7): a set is reproduced byte for byte by `settle rerun`
# and passes `settle verify` after later files arrived; its configuration travels in run.csv; a
# changed file, MANIFEST or run.csv makes verify fail and name the file; `settle status` keeps
# showing the open exceptions of the latest as-of after a verify of an older set.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init rerun report_rerun
export TMPDIR=$work/tmp
mkdir -p "$TMPDIR"

inbox=$TOP/fixtures/demo/inbox
settle ingest "$inbox"/*.csv >"$work/ingest.log" 2>&1
rc=$?
check "ingest the demo month" test $rc = 0 -o $rc = 4
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants"

cat >"$work/tolerant.conf" <<'CONF'
# a configuration that is not the default, so that a rerun must take it from run.csv
rounding = half_even
tolerance.USD = 0.05
deposit_window_days = 7
CONF
settle --config "$work/tolerant.conf" report --period 2026-10 --as-of 2026-11-02T03:00:00.25Z \
	--out "$work/reports" 2>"$work/report.log"
check "report with a configuration file" test $? = 0
set=$work/reports/2026-10
check "run.csv records the configuration" \
	sh -c "grep -qx 'config.rounding,half_even' '$set/run.csv' && grep -qx 'config.tolerance.USD,0.05' '$set/run.csv' && grep -qx 'config.deposit_window_days,7' '$set/run.csv'"
check "run.csv records the as-of with its microseconds" grep -qx 'as_of,2026-11-02T03:00:00.250000Z' "$set/run.csv"

# A later file: a new version of a charge row and a new charge in the same month.
cat >"$work/late_billing_event.csv" <<'CSV'
billing_event_id,recipient_account_id,from_account_id,agreement_id,product_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id,valid_from
be-late-1,444455556666,900000000021,agmt-d1,prod-analytics,INVOICED,SELLER_REV_SHARE,777.00,USD,2026-10-30,tr-late-1,2026-11-20
be-late-2,444455556666,444455556666,agmt-d1,prod-analytics,INVOICED,AWS_REV_SHARE,-23.31,USD,2026-10-30,tr-late-1,2026-11-20
CSV
settle ingest "$work/late_billing_event.csv" >/dev/null 2>&1
check "ingest a later file" test $? = 0

settle verify "$set" >"$work/verify.out" 2>"$work/verify.err"
rc=$?
check "verify passes after a later file arrived" test $rc = 0
[ $rc = 0 ] || cat "$work/verify.out" "$work/verify.err"
check "verify prints OK for every file of MANIFEST" \
	test "$(grep -c ': OK$' "$work/verify.out")" = "$(wc -l <"$set/MANIFEST")"
check "verify leaves no temporary directory" test -z "$(ls -A "$TMPDIR")"

settle rerun --run "$set/run.csv" --out "$work/again" 2>"$work/rerun.err"
check "rerun exits 0" test $? = 0
check "rerun reproduces every file byte for byte (workbook included)" diff -r "$set" "$work/again/2026-10"
check "rerun leaves no temporary directory" test "$(ls -A "$work/again")" = 2026-10

settle report --period 2026-10 --out "$work/now" 2>/dev/null
check "a report as of now sees the later file" grep -q 'tr-late-1' "$work/now/2026-10/allocations.csv"
check "... which the set as of before does not" sh -c "! grep -q 'tr-late-1' '$set/allocations.csv'"
check "the set as of now verifies too" sh -c "'$SETTLE_BIN' --db '$DB' verify '$work/now/2026-10' >/dev/null 2>&1"
# A charge no offer claims (one more exception as of now), reported; then an auditor verifies the
# old set again: a newer run at the older as-of. The period's open exceptions in status are still
# those of the latest as-of, not the old set's.
cat >"$work/stray_billing_event.csv" <<'CSV'
billing_event_id,recipient_account_id,from_account_id,agreement_id,product_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id,valid_from
be-stray-1,444455556666,900000000099,agmt-unknown,prod-unknown,INVOICED,SELLER_REV_SHARE,10.00,USD,2026-10-29,tr-stray-1,2026-11-21
CSV
settle ingest "$work/stray_billing_event.csv" >/dev/null 2>&1
settle report --period 2026-10 --out "$work/now2" 2>/dev/null
check "a charge no offer claims is an exception as of now" grep -q '^2026-10,NO_OFFER,tr-stray-1,' "$work/now2/2026-10/exceptions.csv"
settle verify "$set" >/dev/null 2>&1
check "verify the old set once more" test $? = 0
now_x=$(($(wc -l <"$work/now2/2026-10/exceptions.csv") - 1))
settle status >"$work/status.out" 2>&1
check "status: the period's open exceptions are those of the latest as-of ($now_x), not of the last verify" \
	test "$(awk '/^periods:/ { p = 1; next } p && $1 == "2026-10" { print $3; exit }' "$work/status.out")" = "$now_x"

# Tampering: each copy breaks one thing; verify exits 1 and names the file.
tamper() { # NAME: a fresh copy of the set in $work/t-NAME
	rm -rf "$work/t-$1"
	cp -a "$set" "$work/t-$1"
	echo "$work/t-$1"
}
verify_names() { # DIR FILE: verify fails and its FAILED lines name exactly FILE
	local out rc
	out=$(settle verify "$1" 2>/dev/null)
	rc=$?
	[ $rc = 1 ] || { echo "  verify exited $rc"; return 1; }
	[ "$(printf '%s\n' "$out" | grep 'FAILED' | cut -d: -f1 | tr '\n' ' ')" = "$2 " ] ||
		{ printf '  %s\n' "$out"; return 1; }
}
d=$(tamper amount)
sed -i '2s/\([0-9]\)$/\1\1/' "$d/payouts.csv"
check "a changed amount: verify fails naming payouts.csv" verify_names "$d" payouts.csv
d=$(tamper both)
sed -i '2s/\([0-9]\)\([,]\)/\1\1\2/' "$d/allocations.csv"
h=$(sha256sum "$d/allocations.csv" | cut -c1-64)
sed -i "s/^[0-9a-f]\{64\}  allocations.csv\$/$h  allocations.csv/" "$d/MANIFEST"
check "a changed file with a matching MANIFEST: the rerun differs" verify_names "$d" allocations.csv
check "... and verify says the rerun produced different content" \
	sh -c "'$SETTLE_BIN' --db '$DB' verify '$d' 2>/dev/null | grep -q '^allocations.csv: FAILED (the rerun produced different content)'"
d=$(tamper missing)
rm "$d/exceptions.csv"
check "a missing file: verify fails naming it" verify_names "$d" exceptions.csv
d=$(tamper asof)
sed -i 's/^as_of,.*/as_of,2026-12-01T00:00:00Z/' "$d/run.csv"
out=$(settle verify "$d" 2>/dev/null)
check "a changed run.csv: verify exits 1" test $? = 1
check "... and names run.csv" sh -c "printf '%s\n' \"\$1\" | grep -q '^run.csv: FAILED'" _ "$out"
check "tampered sets leave no temporary directory" test -z "$(ls -A "$TMPDIR")"

# Usage errors.
settle verify "$work/nonexistent" >/dev/null 2>&1
check "verify of a missing directory exits 2" test $? = 2
settle verify >/dev/null 2>&1
check "verify without a directory exits 2" test $? = 2
settle rerun --out "$work/x" >/dev/null 2>&1
check "rerun without --run exits 2" test $? = 2
printf 'key,value\nperiod,2026-10\n' >"$work/bad-run.csv"
settle rerun --run "$work/bad-run.csv" --out "$work/x" >/dev/null 2>&1
check "rerun of an incomplete run.csv exits 2" test $? = 2
check "failed reruns write nothing" test ! -e "$work/x"

# Another settle version wrote it: warn, go on.
d=$(tamper version)
sed -i 's/^settle_version,.*/settle_version,0.0.1-old/' "$d/run.csv"
settle rerun --run "$d/run.csv" --out "$work/old" 2>"$work/old.err"
check "rerun of another version's run.csv goes on" test $? = 0
check "... with a warning naming both versions" grep -q 'settle 0.0.1-old' "$work/old.err"
