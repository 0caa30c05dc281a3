#!/usr/bin/env bash
# test_contain.sh — a period whose computation fails fails alone (SPEC §6, §7; docs/reconcile.md
# "Containment"): rows dated 9999-12-31 (billing, deposit, metering) or a charge group whose sums
# overflow, already stored, make their period fail with exit 5 while every other period is still
# reported; the next nightly says "still failing since"; a period that kills the process (an abort
# from data, SETTLE_FAILPOINT=abort:P) costs only itself from the next night on; an unreadable
# later inbox file ends the run partly done (exit 5), not 1 with files committed.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init contain contain

BE_HEAD=billing_event_id,recipient_account_id,from_account_id,to_account_id,product_id,agreement_id,offer_id,action,transaction_type,parent_billing_event_id,disbursement_billing_event_id,charge_side,amount,currency,invoice_date,transaction_reference_id,bank_trace_id
inbox=$work/inbox out=$work/out
mkdir -p "$inbox"
cp "$TOP"/fixtures/demo/inbox/*.csv "$inbox"/
nightly() { settle nightly --inbox "$inbox" --out "$out" >"$work/n.out" 2>"$work/n.err"; echo $?; }
said() { grep -q -- "$1" "$work/n.err" || { echo "  stderr lacks \"$1\":"; sed 's/^/    /' "$work/n.err"; return 1; }; }
summary_has() { tail -n 1 "$work/n.err" | grep -q -- "$1" || { echo "  summary: $(tail -n 1 "$work/n.err")"; return 1; }; }

rc=$(nightly)
check "the demo nightly" test "$rc" = 4
sums() { (cd "$out" && find . -name '*.csv' ! -name run.csv | sort | xargs sha256sum); }
sums >"$work/before.sums"

# --- rows dated 9999-12-31, of all three dated kinds ----------------------------------------------
# Ingest now quarantines such dates (the plausible range, docs/ingest.md), so these rows stand for
# ones a database already holds (stored before that check): ingested dated 2099-12-31 under the
# inbox paths nightly uses, then moved to 9999-12-31 in the stored rows.
{ echo "$BE_HEAD"; echo "be-x-1,444455556666,900000000021,444455556666,prod-analytics,agmt-d1,offer-d1,INVOICED,SELLER_REV_SHARE,,,,8000.00,USD,2099-12-31,tr-x-1,"; } >"$inbox/40-far-billing.csv"
printf 'deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference\ndep-x-1,444455556666,2099-12-31,5.00,USD,TRC-X,x\n' >"$inbox/41-far-deposit.csv"
printf 'metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status,agreement_id,submitted_at\nmr-x-1,2099-12-31T23:00:00Z,900000000051,pc-stream,api_calls,3,Success,agmt-u1,2026-10-03T10:12:41Z\n' >"$inbox/42-far-metering.csv"
(cd "$inbox" && settle ingest 40-far-billing.csv 41-far-deposit.csv 42-far-metering.csv >/dev/null 2>&1) || ko "ingest the far rows"
sql "UPDATE settle.billing_event SET invoice_date = '9999-12-31T00:00:00Z' WHERE billing_event_id = 'be-x-1';
     UPDATE settle.bank_deposit SET value_date = '9999-12-31' WHERE deposit_id = 'dep-x-1';
     UPDATE settle.metering SET usage_hour = '9999-12-31T23:00:00Z' WHERE metering_record_id = 'mr-x-1';
     UPDATE settle.metering_daily SET usage_day = '9999-12-31' WHERE usage_day = '2099-12-31'" >/dev/null ||
	ko "move the far rows to 9999-12-31"
rc=$(nightly)
check "9999-12-31 rows: exit 5 (partly done), not an abort" test "$rc" = 5
check "... the period is named with its reason" said "9999-12: not reported: cannot be computed"
check "... and in the summary line" summary_has "periods failed: 9999-12"
# Issue 15 (SPEC v2 §7): the current month is reported once it has data, so this night writes
# nothing else; the other periods going on beside a failed one are checked below (2026-09 while
# 2026-10 aborts).
check "... the summary line writes no other period" summary_has "no period written; [0-9]* exceptions\? open (settle status), periods failed: 9999-12\$"
check "... no 9999-12 set, no temporary directory" test -z "$(ls -A "$out" | grep -e 9999 -e '^\.')"
check "... the failure is recorded" test "$(sql "SELECT failures FROM settle.period_failure WHERE period = '9999-12'")" = 1
check "... no attempt left behind" test "$(sql "SELECT count(*) FROM settle.period_attempt")" = 0
rc=$(nightly)
check "the next nightly: exit 5 again" test "$rc" = 5
check "... and it says since when" said "9999-12: not reported, still failing since 20"
check "... two nightlies in the streak" test "$(sql "SELECT failures FROM settle.period_failure WHERE period = '9999-12'")" = 2
settle status >"$work/status.out" 2>&1
check "status lists the failing period" grep -q '^  9999-12 .* error ' "$work/status.out"
for f in 40-far-billing.csv 41-far-deposit.csv 42-far-metering.csv; do
	settle retract "$f" --why "far-future test rows" 2>/dev/null || ko "retract $f"
done
rc=$(nightly)
check "after retracting the far rows: exit 0" test "$rc" = 0
check "... the period is dropped and says so" said "9999-12: no longer has rows"
check "... no failure record is left" test "$(sql "SELECT count(*) FROM settle.period_failure")" = 0

# --- a charge group whose sums overflow -------------------------------------------------------------
{ echo "$BE_HEAD"; for i in $(seq 1 12); do echo "be-o-$i,444455556666,900000000021,444455556666,prod-analytics,agmt-d1,offer-d1,INVOICED,SELLER_REV_SHARE,,,,999999999999.99,USD,2026-08-03,tr-o-1,"; done; } >"$inbox/43-overflow.csv"
rc=$(nightly)
check "overflowing sums: exit 5" test "$rc" = 5
check "... the period is named with the overflow" said "2026-08: not reported: .*overflow"
check "... no 2026-08 set" test ! -e "$out/2026-08"
untouched() { sums | grep -e 2026-09 -e 2026-10 >"$work/now.sums"; grep -e 2026-09 -e 2026-10 "$work/before.sums" | cmp -s - "$work/now.sums"; }
check "... the sets of 2026-09 and 2026-10 are untouched" untouched
settle retract 43-overflow.csv --why "test overflow" 2>/dev/null
rc=$(nightly)
check "after retracting it: exit 0" test "$rc" = 0
check "... 2026-08 says it is reported again" said "2026-08: reported again; it had failed since"
check "... and is written" test -f "$out/2026-08/MANIFEST"

# --- a period that kills the process ------------------------------------------------------------
DB=$(pg_test_createdb contain_abort) || { ko "create a database"; exit 1; }
out=$work/out-abort
rm -f "$inbox"/4*.csv
abort_nightly() { (SETTLE_FAILPOINT=abort:2026-10 "$SETTLE_BIN" --db "$DB" nightly --inbox "$inbox" --out "$out" >"$work/n.out" 2>"$work/n.err"; echo $?) 2>/dev/null; }
rc=$(abort_nightly)
check "an abort while computing 2026-10: the first night dies (134)" test "$rc" = 134
check "... its group left its attempts" test "$(sql "SELECT count(*) FROM settle.period_attempt WHERE NOT alone")" -ge 2
rc=$(abort_nightly)
check "the second night dies again, but only in 2026-10 alone" test "$rc" = 134
check "... 2026-09 is written meanwhile" test -f "$out/2026-09/MANIFEST"
check "... 2026-10 is not" test ! -e "$out/2026-10"
rc=$(abort_nightly)
check "the third night says 2026-10 died before" said "2026-10: an earlier nightly died while computing it"
check "... and 2026-09 is not taken for the one that died" test "$(sql "SELECT string_agg(period, ' ') FROM settle.period_failure")" = 2026-10
check "... the crash is recorded" test "$(sql "SELECT crashed FROM settle.period_failure WHERE period = '2026-10'")" = t
settle status >"$work/status.out" 2>&1
check "status shows it crashed" grep -q '^  2026-10 .* crashed ' "$work/status.out"
rc=$(nightly)
check "once fixed (no abort): exit 0" test "$rc" = 0
check "... 2026-10 is reported again and says so" said "2026-10: reported again"
check "... and written" test -f "$out/2026-10/MANIFEST"
check "... nothing left failing or attempted" test "$(sql "SELECT (SELECT count(*) FROM settle.period_failure) + (SELECT count(*) FROM settle.period_attempt)")" = 0

# --- an unreadable later inbox file ----------------------------------------------------------------
DB=$(pg_test_createdb contain_unreadable) || { ko "create a database"; exit 1; }
out=$work/out-unreadable
rm -rf "$inbox" && mkdir -p "$inbox"
cp "$TOP"/fixtures/demo/inbox/0*.csv "$inbox"/
# A regular file whose read fails (EIO, by the eio: failpoint: the walk no longer follows a link
# out of the inbox such as /proc/self/mem, and root reads any file).
cp "$TOP"/fixtures/demo/inbox/20-metering-2026-10.csv "$inbox/50-unreadable.csv"
cp "$TOP"/fixtures/demo/inbox/20-metering-2026-10.csv "$inbox/60-later.csv"
rc=$( (SETTLE_FAILPOINT=eio:50-unreadable.csv "$SETTLE_BIN" --db "$DB" nightly --inbox "$inbox" --out "$out" >"$work/n.out" 2>"$work/n.err"; echo $?) )
# Set aside for the night (exit 4, docs/ingest.md "A file that cannot be read"), no longer a
# night partly done (5) that stops at it.
check "an unreadable later file: exit 4 (set aside), not 1 or 5" test "$rc" = 4
check "... it is named" said "50-unreadable.csv: could not read"
check "... with what becomes of it" said "set aside, not recorded as ingested: read again on the next night; every later file waits behind it"
check "... the files before it are committed" test "$(sql "SELECT count(*) FROM settle.ingest_file")" = 3
check "... the later file is left for the next night (order kept)" test "$(sql "SELECT count(*) FROM settle.ingest_file WHERE file_name = '60-later.csv'")" = 0
check "... and what was ingested is reported" test -f "$out/2026-09/MANIFEST"
rm "$inbox/50-unreadable.csv"
rc=$(nightly)
check "the next night, without it: exit 0" test "$rc" = 0
