#!/usr/bin/env bash
# test_nightly_failures.sh — `settle nightly` re-reports the months a payout failure or a payout
# changes when their rows arrive in a later month's file (SPEC §4.5, §6, §6.1): payout and reversal
# lines without a transaction_reference_id (they take their parent's, SPEC §3.1) and failures
# without a parent_billing_event_id (linked by bank trace id or exact amount, SPEC §4.5).
#   A  tr-1 invoiced 2026-10-01, paid by P1 (line l1 without a reference) on 2026-10-28 and
#      deposited; 2026-10 closed. A November file brings F1 (no parent, undoes P1 by amount) and its
#      reversal line r1 (no reference): 2026-10 is restated with P1 FAILED.
#   B  the same payout, and an old-style failure naming P1 as parent, without reversal lines, in
#      November: 2026-10 is re-reported with P1 FAILED.
#   C  tr-9 invoiced 2026-09-15; its payout (line without a reference) in a 2026-10 file of a later
#      night: 2026-09's aging no longer lists tr-9; a November failure found by bank trace id: its
#      aging shows FAILED again.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init nfail
S=400000000001

BE_HDR=billing_event_id,recipient_account_id,from_account_id,agreement_id,product_id,action,transaction_type,parent_billing_event_id,disbursement_billing_event_id,amount,currency,invoice_date,transaction_reference_id,bank_trace_id,valid_from
be_file() { # INBOX YEAR MONTH ROWS...: the month's billing event feed file (SDDS layout)
	local d=$1/billingeventfeed_v1/year=$2/month=$3
	shift 3
	mkdir -p "$d"
	{ echo "$BE_HDR"; printf '%s\n' "$@"; } >"$d/data.csv"
}
setup() { # NAME: a fresh database, inbox and report directory with the offer file
	DB=$(pg_test_createdb "nfail_$1") || { ko "$1: create a database"; exit 1; }
	inbox=$work/$1/inbox out=$work/$1/out
	mkdir -p "$inbox" "$out"
	printf '%s\n%s\n' \
		offer_id,agreement_id,product_id,buyer_account_id,isv_account_id,reseller_account_id,currency,split_basis,markup_pct,listing_fee_pct,valid_from,valid_until \
		o1,agmt-1,prod-1,900000000001,$S,,USD,DIRECT,,,2026-01-01,2026-12-31 >"$inbox/offers.csv"
}
night() { # LABEL: one nightly; its summary's period list in $written
	settle nightly --inbox "$inbox" --out "$out" 2>"$work/$1.err"
	local rc=$?
	[ $rc = 0 ] || { echo "  nightly $1 exited $rc"; cat "$work/$1.err"; }
	written=$(tail -n 1 "$work/$1.err" | sed -n 's/.*periods written: //p')
}
C1="c1,$S,900000000001,agmt-1,prod-1,INVOICED,SELLER_REV_SHARE,,,100.00,USD,2026-10-01,tr-1,,2026-10-01"
L1="l1,$S,,,,DISBURSED,SELLER_REV_SHARE,c1,P1,-100.00,USD,,,,2026-10-28"
P1="P1,$S,AWS,,,DISBURSED,DISBURSEMENT,,,100.00,USD,,,TR1,2026-10-28"

# --- A: failure without parent, reversal line without reference; October closed -------------
setup a
be_file "$inbox" 2026 10 "$C1" "$L1" "$P1"
printf 'deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference\nd1,%s,2026-10-29,100.00,USD,TR1,\n' $S >"$inbox/bank.csv"
night a1
check "A: the first night writes 2026-10 with P1 settled" \
	sh -c "test '$written' = 2026-10 && grep -q '^2026-10,PAYOUT,P1,.*,SETTLED,' '$out/2026-10/disbursements.csv'"
settle close --period 2026-10 --out "$out" 2>/dev/null || ko "A: close 2026-10"
be_file "$inbox" 2026 11 \
	"F1,$S,AWS,,,DISBURSED,DISBURSEMENT_FAILURE,,,-100.00,USD,,,,2026-11-03" \
	"r1,$S,,,,DISBURSED,SELLER_REV_SHARE,c1,F1,100.00,USD,,,,2026-11-03"
night a2
check "A: the failure's night re-reports 2026-10 beside 2026-11 ($written)" test "$written" = "2026-10.restated 2026-11"
check "A: 2026-10 is restated" test -f "$out/2026-10.restated/MANIFEST"
check "A: the restated set shows P1 failed" \
	grep -q '^2026-10,PAYOUT,P1,.*,FAILED,' "$out/2026-10.restated/disbursements.csv"
check "A: ... and DISBURSEMENT_FAILED for P1" \
	grep -q '^2026-10,DISBURSEMENT_FAILED,P1,' "$out/2026-10.restated/exceptions.csv"
check "A: the restated set equals a report of 2026-10 at the night's as-of" sh -c "
	'$SETTLE_BIN' --db '$DB' report --period 2026-10 --as-of \$(grep '^as_of,' '$out/2026-10.restated/run.csv' | cut -d, -f2) --out '$work/a/manual' >/dev/null 2>&1
	cmp -s '$work/a/manual/2026-10.restated/exceptions.csv' '$out/2026-10.restated/exceptions.csv'"

# --- B: old-style failure naming P1 as parent, no reversal lines ---------------------------
setup b
be_file "$inbox" 2026 10 "$C1" "$L1" "$P1"
night b1
check "B: the first night writes 2026-10 with P1 settled" \
	sh -c "test '$written' = 2026-10 && grep -q '^2026-10,PAYOUT,P1,.*,SETTLED,' '$out/2026-10/disbursements.csv'"
be_file "$inbox" 2026 11 "F1,$S,AWS,,,DISBURSED,DISBURSEMENT_FAILURE,P1,,-100.00,USD,,,,2026-11-03"
night b2
check "B: the failure's night re-reports 2026-10 ($written)" test "$written" = "2026-10 2026-11"
check "B: 2026-10 shows P1 failed" grep -q '^2026-10,PAYOUT,P1,.*,FAILED,' "$out/2026-10/disbursements.csv"
check "B: ... and DISBURSEMENT_FAILED for P1" grep -q '^2026-10,DISBURSEMENT_FAILED,P1,' "$out/2026-10/exceptions.csv"
check "B: the failure's row without reversal lines: lines 0, lines_total and difference empty (SPEC §8)" \
	grep -q "^2026-11,FAILURE,F1,2026-11-03,$S,USD,-100.00,,,0,FAILURE,,P1,PARENT," "$out/2026-11/disbursements.csv"

# --- C: an earlier month's aging, paid and failed in later files ----------------------------
setup c
be_file "$inbox" 2026 09 "c9,$S,900000000001,agmt-1,prod-1,INVOICED,SELLER_REV_SHARE,,,100.00,USD,2026-09-15,tr-9,,2026-09-15"
night c1
check "C: 2026-09's aging lists tr-9 not disbursed" grep -q "^2026-09,$S,tr-9,USD,.*,NOT_DISBURSED," "$out/2026-09/aging.csv"
be_file "$inbox" 2026 10 \
	"l9,$S,,,,DISBURSED,SELLER_REV_SHARE,c9,P9,-100.00,USD,,,,2026-10-05" \
	"P9,$S,AWS,,,DISBURSED,DISBURSEMENT,,,100.00,USD,,,TR9,2026-10-05"
night c2
check "C: the payout's night re-reports 2026-09 ($written)" test "$written" = "2026-09 2026-10"
check "C: 2026-09's aging no longer lists tr-9" sh -c "test -f '$out/2026-09/aging.csv' && ! grep -q ',tr-9,' '$out/2026-09/aging.csv'"
be_file "$inbox" 2026 11 "F9,$S,AWS,,,DISBURSED,DISBURSEMENT_FAILURE,,,-100.00,USD,,,TR9,2026-11-02"
night c3
check "C: the failure's night re-reports 2026-09 and 2026-10 ($written)" test "$written" = "2026-09 2026-10 2026-11"
check "C: 2026-09's aging lists tr-9 failed" grep -q "^2026-09,$S,tr-9,USD,.*,FAILED," "$out/2026-09/aging.csv"
