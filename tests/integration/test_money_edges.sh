#!/usr/bin/env bash
# test_money_edges.sh — rows that must not go silent or read wrong (SPEC §3.2, §4.5, §4.6, §8):
#   U  a USAGE offer written with 12-digit ids, billed through a 42-character recipient with no
#      account feed: RECIPIENT_NOT_PARTY, and its billed usage still counts (SPEC §4.6: billed is B
#      of the offer's charge groups) — no UNBILLED_USAGE, metering.csv shows billed 100.00.
#   Z  a payout line, R a failure's reversal line, that settles no known charge: PAYOUT_MISMATCH.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init medges
S=400000000001 B=900000000001
S42=xk0CSmiAm6PQ4QqEog9iiaochIzuPlkMfba7a1oDlZ
OFFER_HDR=offer_id,agreement_id,product_id,product_code,buyer_account_id,isv_account_id,reseller_account_id,resale_authorization_id,currency,pricing_model,split_basis,markup_pct,isv_share_pct,listing_fee_pct,valid_from,valid_until
BE_HDR=billing_event_id,recipient_account_id,from_account_id,agreement_id,product_id,action,transaction_type,parent_billing_event_id,disbursement_billing_event_id,amount,currency,invoice_date,usage_period_start_date,transaction_reference_id,bank_trace_id,valid_from
newdb() { DB=$(pg_test_createdb "medges_$1") || { ko "$1: create a database"; exit 1; }; mkdir -p "$work/$1"; }
report() { # NAME PERIOD: ingest $work/NAME/*.csv, report PERIOD (as of now) into $work/NAME/out
	settle ingest "$work/$1"/*.csv >"$work/$1/ingest.log" 2>&1
	settle report --period "$2" --out "$work/$1/out" >"$work/$1/report.log" 2>&1 ||
		{ echo "  report $1 failed:"; cat "$work/$1/report.log"; }
}

# --- U: billed usage of a RECIPIENT_NOT_PARTY group ------------------------------------------
newdb u
printf '%s\n%s\n' "$OFFER_HDR" "ou,agmt-u,prod-u,pc-u,$B,$S,,,USD,USAGE,DIRECT,,,,2026-01-01,2026-12-31" >"$work/u/offers.csv"
printf 'offer_id,dimension,unit_price\nou,calls,2.50\n' >"$work/u/dims.csv"
printf '%s\n%s\n' "$BE_HDR" \
	"cu,$S42,$B,agmt-u,prod-u,INVOICED,SELLER_REV_SHARE,,,100.00,USD,2026-10-31,2026-10-01,tr-u,,2026-10-31" >"$work/u/be.csv"
printf 'metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status,agreement_id\nm1,2026-10-05T10:00:00Z,%s,pc-u,calls,40,Success,agmt-u\n' $B >"$work/u/metering.csv"
report u 2026-10
check "U: RECIPIENT_NOT_PARTY for the 42-character recipient" grep -q '^2026-10,RECIPIENT_NOT_PARTY,tr-u,' "$work/u/out/2026-10/exceptions.csv"
check "U: no UNBILLED_USAGE" sh -c "! grep -q ',UNBILLED_USAGE,' '$work/u/out/2026-10/exceptions.csv'"
check "U: no METERING_VARIANCE (expected 40 x 2.50 = billed 100.00)" sh -c "! grep -q ',METERING_VARIANCE,' '$work/u/out/2026-10/exceptions.csv'"
check "U: metering.csv shows billed 100.00" grep -q ',100.00,100.00,' "$work/u/out/2026-10/metering.csv"

# --- Z: a payout line that settles no known charge ------------------------------------------
# zl names a parent no billing event has and carries no reference: the payout cannot be joined
# to what it pays (SPEC §3.1, §4.5; docs/reconcile.md "Payout lines that settle no known charge").
newdb z
printf '%s\n%s\n' "$OFFER_HDR" "o1,agmt-1,prod-1,,$B,$S,,,USD,CONTRACT,DIRECT,,,,2026-01-01,2026-12-31" >"$work/z/offers.csv"
printf '%s\n%s\n%s\n%s\n' "$BE_HDR" \
	"zl,$S,,,,DISBURSED,SELLER_REV_SHARE,nosuch,PZ,-77.00,USD,,,,,2026-10-20" \
	"PZ,$S,AWS,,,DISBURSED,DISBURSEMENT,,,77.00,USD,,,,TRZ,2026-10-20" \
	"PQ,$S,AWS,,,DISBURSED,DISBURSEMENT,,,0.00,USD,,,,,2026-10-21" >"$work/z/be.csv"
printf 'deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference\ndz,%s,2026-10-21,77.00,USD,TRZ,\n' $S >"$work/z/bank.csv"
report z 2026-10
check "Z: PAYOUT_MISMATCH for PZ" grep -q '^2026-10,PAYOUT_MISMATCH,PZ,' "$work/z/out/2026-10/exceptions.csv"
check "Z: ... expected 0.00 (no known charge), actual 77.00" \
	grep -q "^2026-10,PAYOUT_MISMATCH,PZ,$S,,,USD,0.00,77.00,77.00,.*settle.* no known charge" "$work/z/out/2026-10/exceptions.csv"
check "Z: disbursements.csv shows PZ as MISMATCH" grep -q '^2026-10,PAYOUT,PZ,.*,MISMATCH,' "$work/z/out/2026-10/disbursements.csv"
check "Z: a payout without lines is not an unjoined line" sh -c "! grep -q ',PAYOUT_MISMATCH,PQ,' '$work/z/out/2026-10/exceptions.csv'"

# --- R: a reversal line that settles no known charge -----------------------------------------
# FR undoes PR (its parent) and gives PR's line back in two reversal lines: rj with the charge's
# reference, rr with none and a parent no billing event has. rr's money comes back against no
# charge group: PAYOUT_MISMATCH for FR, expected -(sum of the joined reversal lines) = -25.00.
newdb r
printf '%s\n%s\n' "$OFFER_HDR" "o1,agmt-1,prod-1,,$B,$S,,,USD,CONTRACT,DIRECT,,,,2026-01-01,2026-12-31" >"$work/r/offers.csv"
printf '%s\n%s\n%s\n%s\n%s\n%s\n' "$BE_HDR" \
	"cr,$S,$B,agmt-1,prod-1,INVOICED,SELLER_REV_SHARE,,,50.00,USD,2026-10-01,,tr-r,,2026-10-01" \
	"rl,$S,,agmt-1,prod-1,DISBURSED,SELLER_REV_SHARE,cr,PR,-50.00,USD,,,tr-r,,2026-10-10" \
	"PR,$S,AWS,,,DISBURSED,DISBURSEMENT,,,50.00,USD,,,,TRR,2026-10-10" \
	"FR,$S,AWS,,,DISBURSED,DISBURSEMENT_FAILURE,PR,,-50.00,USD,,,,,2026-10-12" \
	"rj,$S,,agmt-1,prod-1,DISBURSED,SELLER_REV_SHARE,cr,FR,25.00,USD,,,tr-r,,2026-10-12" >"$work/r/be.csv"
printf '%s\n%s\n' "$BE_HDR" "rr,$S,,,,DISBURSED,SELLER_REV_SHARE,nosuch,FR,25.00,USD,,,,,2026-10-12" >"$work/r/be2.csv"
report r 2026-10
check "R: PAYOUT_MISMATCH for FR, expected -25.00, actual -50.00" \
	grep -q "^2026-10,PAYOUT_MISMATCH,FR,$S,,,USD,-25.00,-50.00,-25.00,.*1 of its 2 reversal lines .* settles no known charge" "$work/r/out/2026-10/exceptions.csv"
check "R: PR is still DISBURSEMENT_FAILED, not a PAYOUT_MISMATCH" sh -c "grep -q '^2026-10,DISBURSEMENT_FAILED,PR,' '$work/r/out/2026-10/exceptions.csv' && ! grep -q ',PAYOUT_MISMATCH,PR,' '$work/r/out/2026-10/exceptions.csv'"

# --- I: deposits and metering in the other id form (SPEC §1, §3.4, §3.5) -------------------
# The seller's feed names it by its 42-character account_id; its bank statement by its 12-digit
# number; the offer file names the buyer by its number, the metering log by its account_id. The
# account feed joins both forms: the deposit matches the payout, the metering the offer.
newdb i
B42=bUyEr0000AccountIdOfTheBuyerInSddsFormAbcd
ACC_HDR=account_id,aws_account_id,encrypted_account_id,mailing_address_id,tax_address_id,tax_registration_number,tax_legal_name,catalog,valid_from,insert_date,update_date,delete_date
printf '%s\n%s\n%s\n' "$ACC_HDR" "$S42,$S,,,,,Seller Inc,,2026-01-01T00:00:00Z,,," "$B42,$B,,,,,Buyer Ltd,,2026-01-01T00:00:00Z,,," >"$work/i/accounts.csv"
printf '%s\n%s\n' "$OFFER_HDR" "ou,agmt-u,prod-u,pc-u,$B,$S,,,USD,USAGE,DIRECT,,,,2026-01-01,2026-12-31" >"$work/i/offers.csv"
printf 'offer_id,dimension,unit_price\nou,calls,2.50\n' >"$work/i/dims.csv"
printf '%s\n%s\n%s\n%s\n' "$BE_HDR" \
	"cu,$S42,$B42,agmt-u,prod-u,INVOICED,SELLER_REV_SHARE,,,100.00,USD,2026-10-31,2026-10-01,tr-u,,2026-10-31" \
	"lu,$S42,,,,DISBURSED,SELLER_REV_SHARE,cu,PU,-100.00,USD,,,tr-u,,2026-11-20" \
	"PU,$S42,AWS,,,DISBURSED,DISBURSEMENT,,,100.00,USD,,,,,2026-11-20" >"$work/i/be.csv"
printf 'deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference\ndu,%s,2026-11-23,100.00,USD,,\n' $S >"$work/i/bank.csv"
# no agreement_id: matched by customer and product code, the customer in the other form
printf 'metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status\nm1,2026-10-05T10:00:00Z,%s,pc-u,calls,40,Success\n' "$B42" >"$work/i/metering.csv"
report i 2026-10
settle report --period 2026-11 --out "$work/i/out" >"$work/i/report11.log" 2>&1 || cat "$work/i/report11.log"
check "I: the charge is allocated to the seller by its number (no RECIPIENT_NOT_PARTY)" \
	sh -c "grep -q '^2026-10,$S,tr-u,agmt-u,ou,M1,USD,ISV,$S,100.00,' '$work/i/out/2026-10/allocations.csv' && ! grep -q RECIPIENT_NOT_PARTY '$work/i/out/2026-10/exceptions.csv'"
check "I: the metering in the 42-character form belongs to the offer (no USAGE_WITHOUT_OFFER)" \
	sh -c "! grep -q USAGE_WITHOUT_OFFER '$work/i/out/2026-10/exceptions.csv'"
check "I: metering.csv: 40 calls, expected 100.00 = billed 100.00, OK" \
	grep -q '^2026-10,ou,2026-10,calls,USD,40,,2.50,100.00,100.00,OK$' "$work/i/out/2026-10/metering.csv"
check "I: the 12-digit deposit matches the 42-character recipient's payout by amount and date" \
	grep -q "^2026-11,PAYOUT,PU,2026-11-20,$S,USD,100.00,-100.00,0.00,1,SETTLED,.*,du,AMOUNT_DATE$" "$work/i/out/2026-11/disbursements.csv"
check "I: no DEPOSIT_UNMATCHED or DEPOSIT_MISSING" \
	sh -c "! grep -Eq 'DEPOSIT_(UNMATCHED|MISSING)' '$work/i/out/2026-11/exceptions.csv'"
