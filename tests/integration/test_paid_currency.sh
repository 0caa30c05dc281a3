#!/usr/bin/env bash
# test_paid_currency.sh — SPEC §4.5 payouts paid in another currency than the pricing one, checked
# in both; SPEC §8 disbursements.csv with a row per payout and per failure; SPEC §4.6 forgiven tax
# against the tax item feed. Billing events and tax items in the real column sets (SDDS.md), the
# payouts' rows without invoice_date as the marketplace writes them. A DIRECT offer of seller
# 400000000001, priced in USD, paid in EUR:
#   P1  970.00 USD = its lines; paid 900.00 EUR = its lines' 928.00 − 28.00 EUR; deposit d1 of
#       900.00 EUR without trace id, found by paid currency and paid amount: SETTLED, MATCHED
#   P2  500.00 USD = its line; paid 460.00 EUR, its line 463.00 EUR: PAYOUT_MISMATCH in EUR
#       (3.00); deposit d2 by trace id 455.00 EUR: DEPOSIT_AMOUNT_MISMATCH in EUR (460.00 vs 455.00)
#   P3  200.00 USD, paid in EUR, its line carries no disbursement_amount: PAYOUT_MISMATCH in EUR,
#       "cannot be checked"
#   P4  300.00 USD (paid as priced) undone by f4 (amount link) with its reversal line: P4 FAILED,
#       failed by f4; f4 its own row, undoes P4 by AMOUNT, its reversal line summed
#   f9  a failure that undoes no payout: its own row, undoes nothing
#   tr-5 seller tax 10.00 invoiced and forgiven whole (−10.00), one tax item of 10.00: no tax
#       exception; tr-6 10.00 invoiced, −7.00 forgiven: TAX_ITEM_MISMATCH for the forgiveness only;
#       tr-7 and tr-8 the same as tr-5 and tr-6, with the feed repeating the line's item negated for
#       the forgiveness (items 10.00 and −10.00, 10.00 and −7.00): no tax exception
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init paidcur paid_currency

fx=$work/feeds
python3 - "$fx" <<'PY' || ko "write the fixtures"
import csv, os, sys
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
H = ["valid_from", "insert_date", "update_date", "delete_date"]
COLS = {
    "billingeventfeed_v1": ["billing_event_id", "from_account_id", "to_account_id", "end_user_account_id",
                            "product_id", "action", "transaction_type", "parent_billing_event_id",
                            "disbursement_billing_event_id", "amount", "currency", "balance_impacting",
                            "invoice_date", "payment_due_date", "usage_period_start_date",
                            "usage_period_end_date", "invoice_id", "billing_address_id",
                            "transaction_reference_id", "bank_trace_id", "broker_id", "agreement_id",
                            "buyer_transaction_reference_id", "disbursement_amount", "disbursement_currency",
                            "disbursement_reference_number", "catalog", "buyer_invoice_id", "invoice_variant",
                            "action_date", "offer_id", "buyer_invoice_date", "line_item_id", "buyer_line_item_id",
                            "charge_variant", "charge_side", "recipient_account_id"],
    "taxitemfeed_v1": ["tax_item_id", "invoice_id", "line_item_id", "customer_bill_id", "product_id", "invoice_date",
                       "transaction_reference_id", "transaction_type_code", "tax_liable_party", "tax_type_code",
                       "taxed_jurisdiction", "tax_jurisdiction_rate", "tax_amount", "tax_currency",
                       "taxed_customer_account_id", "taxed_customer_country", "taxed_customer_state_or_region",
                       "taxed_customer_city", "taxed_customer_postal_code", "product_tax_code",
                       "display_price_taxability_type", "date_used_for_tax_calculation", "jurisdiction_level",
                       "tax_location_code_taxed_jurisdiction", "tax_calculation_reason_code",
                       "customer_exemption_certificate_id", "customer_exemption_certificate_id_domain",
                       "customer_exemption_certificate_level", "customer_exemption_code",
                       "customer_exemption_domain"],
}
S, B = "400000000001", "900000000001"
def inv(i, tref, ttype, amount, action="INVOICED", **kw):
    r = dict(billing_event_id=i, recipient_account_id=S, from_account_id=B if ttype.startswith("SELLER") else S,
             agreement_id="agmt-1", product_id="prod-1", action=action, transaction_type=ttype, amount=amount,
             currency="USD", invoice_date="2026-10-01T00:00:00Z", transaction_reference_id=tref,
             valid_from="2026-10-01T00:00:00Z", insert_date="2026-10-01T00:00:00Z")
    r.update(kw); return r
def line(i, tref, ttype, amount, payout, day, paid=None):
    r = dict(billing_event_id=i, recipient_account_id=S, action="DISBURSED", transaction_type=ttype, amount=amount,
             currency="USD", transaction_reference_id=tref, disbursement_billing_event_id=payout,
             valid_from=day, insert_date=day)
    if paid is not None:
        r.update(disbursement_amount=paid, disbursement_currency="EUR")
    return r
def payout(i, amount, day, paid=None, trace="", ttype="DISBURSEMENT"):
    r = dict(billing_event_id=i, recipient_account_id=S, from_account_id="AWS", action="DISBURSED",
             transaction_type=ttype, amount=amount, currency="USD", bank_trace_id=trace, valid_from=day, insert_date=day)
    if paid is not None:
        r.update(disbursement_amount=paid, disbursement_currency="EUR")
    return r
D5, D6, D8, D12 = "2026-10-05T00:00:00Z", "2026-10-06T00:00:00Z", "2026-10-08T00:00:00Z", "2026-10-12T00:00:00Z"
rows = [
    inv("c1", "tr-1", "SELLER_REV_SHARE", "1000.00"), inv("c1f", "tr-1", "AWS_REV_SHARE", "-30.00"),
    line("l1", "tr-1", "SELLER_REV_SHARE", "-1000.00", "P1", D5, "-928.00"),
    line("l1f", "tr-1", "AWS_REV_SHARE", "30.00", "P1", D5, "28.00"),
    payout("P1", "970.00", D5, "900.00"),
    inv("c2", "tr-2", "SELLER_REV_SHARE", "500.00"),
    line("l2", "tr-2", "SELLER_REV_SHARE", "-500.00", "P2", D6, "-463.00"),
    payout("P2", "500.00", D6, "460.00", "TRC-2"),
    inv("c3", "tr-3", "SELLER_REV_SHARE", "200.00"),
    line("l3", "tr-3", "SELLER_REV_SHARE", "-200.00", "P3", D6),
    payout("P3", "200.00", D6, "185.00"),
    inv("c4", "tr-4", "SELLER_REV_SHARE", "300.00"),
    line("l4", "tr-4", "SELLER_REV_SHARE", "-300.00", "P4", D8),
    payout("P4", "300.00", D8),
    payout("f4", "-300.00", D12, ttype="DISBURSEMENT_FAILURE"),
    line("r4", "tr-4", "SELLER_REV_SHARE", "300.00", "f4", D12),
    payout("f9", "-45.00", D12, ttype="DISBURSEMENT_FAILURE"),
    inv("c5", "tr-5", "SELLER_REV_SHARE", "100.00"),
    inv("t5", "tr-5", "SELLER_TAX_SHARE", "10.00", line_item_id="li-5", invoice_id="inv-5"),
    inv("t5x", "tr-5", "SELLER_TAX_SHARE", "-10.00", action="FORGIVEN", line_item_id="li-5", invoice_id="inv-5"),
    inv("c6", "tr-6", "SELLER_REV_SHARE", "100.00"),
    inv("t6", "tr-6", "SELLER_TAX_SHARE", "10.00", line_item_id="li-6", invoice_id="inv-6"),
    inv("t6x", "tr-6", "SELLER_TAX_SHARE", "-7.00", action="FORGIVEN", line_item_id="li-6", invoice_id="inv-6"),
    inv("c7", "tr-7", "SELLER_REV_SHARE", "100.00"),
    inv("t7", "tr-7", "SELLER_TAX_SHARE", "10.00", line_item_id="li-7", invoice_id="inv-7"),
    inv("t7x", "tr-7", "SELLER_TAX_SHARE", "-10.00", action="FORGIVEN", line_item_id="li-7", invoice_id="inv-7"),
    inv("c8", "tr-8", "SELLER_REV_SHARE", "100.00"),
    inv("t8", "tr-8", "SELLER_TAX_SHARE", "10.00", line_item_id="li-8", invoice_id="inv-8"),
    inv("t8x", "tr-8", "SELLER_TAX_SHARE", "-7.00", action="FORGIVEN", line_item_id="li-8", invoice_id="inv-8"),
]
tax = [dict(tax_item_id="ti-" + li, invoice_id="inv-" + li[3:], line_item_id=li, product_id="prod-1",
            invoice_date="2026-10-01T00:00:00Z", transaction_reference_id="tr-" + li[3:],
            transaction_type_code="AWS/Marketplace/Charge", tax_liable_party="Seller", tax_type_code="SalesTax",
            taxed_jurisdiction="WASHINGTON", tax_jurisdiction_rate="0.1", tax_amount="10.00", tax_currency="USD",
            valid_from="2026-10-01T00:00:00Z", insert_date="2026-10-01T00:00:00Z")
       for li in ("li-5", "li-6", "li-7", "li-8")]
# tr-7 and tr-8: the feed repeats the line's item for the forgiveness, negated (as refund items
# share their forward line item)
for li, amount in (("li-7", "-10.00"), ("li-8", "-7.00")):
    tax.append(dict(tax[-1], tax_item_id="ti-" + li + "-forgiven", line_item_id=li, invoice_id="inv-" + li[3:],
                    transaction_reference_id="tr-" + li[3:], tax_amount=amount))
for name, data in (("billingeventfeed_v1", rows), ("taxitemfeed_v1", tax)):
    with open(os.path.join(d, name + ".csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n"); w.writerow(COLS[name] + H)
        for r in data:
            assert not set(r) - set(COLS[name] + H), set(r) - set(COLS[name] + H)
            w.writerow([r.get(c, "") for c in COLS[name] + H])
with open(os.path.join(d, "offers.csv"), "w") as f:
    f.write("offer_id,agreement_id,product_id,buyer_account_id,isv_account_id,reseller_account_id,currency,"
            "split_basis,valid_from,valid_until\noffer-1,agmt-1,prod-1,900000000001,400000000001,,USD,DIRECT,"
            "2026-01-01,2026-12-31\n")
with open(os.path.join(d, "deposits.csv"), "w") as f:
    f.write("deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference\n"
            "d1,400000000001,2026-10-07,900.00,EUR,,\nd2,400000000001,2026-10-08,455.00,EUR,TRC-2,\n")
PY
ingest_all() {
	settle ingest --kind offer "$fx/offers.csv" >>"$work/ingest.log" 2>&1 &&
		settle ingest --kind billingeventfeed_v1 "$fx/billingeventfeed_v1.csv" >>"$work/ingest.log" 2>&1 &&
		settle ingest --kind taxitemfeed_v1 "$fx/taxitemfeed_v1.csv" >>"$work/ingest.log" 2>&1 &&
		settle ingest --kind bank_deposit "$fx/deposits.csv" >>"$work/ingest.log" 2>&1 ||
		{ cat "$work/ingest.log"; return 1; }
}
check "every file ingests" ingest_all
sql "UPDATE settle.ingest_file SET ingested_at = '2026-10-13T00:00:00Z'" || ko "set ingest instants"

out=$work/reports
settle report --period 2026-10 --as-of 2026-10-14T00:00:00Z --out "$out" >"$work/report.log" 2>&1
rc=$?
check "report exits 0" test $rc = 0
[ $rc = 0 ] || sed 's/^/  /' "$work/report.log"
set_dir=$out/2026-10

cat >"$work/disb.expected" <<'CSV'
period,kind,id,date,recipient_account_id,currency,amount,lines_total,difference,lines,status,failed_by,undoes,link,bank_trace_id,paid_currency,paid_amount,paid_lines_total,deposit_id,deposit_match
2026-10,PAYOUT,P1,2026-10-05,400000000001,USD,970.00,-970.00,0.00,2,SETTLED,,,,,EUR,900.00,-900.00,d1,AMOUNT_DATE
2026-10,PAYOUT,P2,2026-10-06,400000000001,USD,500.00,-500.00,0.00,1,MISMATCH,,,,TRC-2,EUR,460.00,-463.00,d2,TRACE_ID
2026-10,PAYOUT,P3,2026-10-06,400000000001,USD,200.00,-200.00,0.00,1,MISMATCH,,,,,EUR,185.00,,,
2026-10,PAYOUT,P4,2026-10-08,400000000001,USD,300.00,-300.00,0.00,1,FAILED,f4,,,,USD,300.00,-300.00,,
2026-10,FAILURE,f4,2026-10-12,400000000001,USD,-300.00,300.00,0.00,1,FAILURE,,P4,AMOUNT,,USD,-300.00,,,
2026-10,FAILURE,f9,2026-10-12,400000000001,USD,-45.00,,,0,FAILURE,,,,,USD,-45.00,,,
CSV
check "disbursements.csv: a row per payout and per failure, pricing and paid amounts side by side" \
	diff -u "$work/disb.expected" "$set_dir/disbursements.csv"

check "PAYOUT_MISMATCH for P2 in the paid currency: expected the lines' 463.00 EUR, actual 460.00" \
	sh -c "grep -q '^2026-10,PAYOUT_MISMATCH,P2,400000000001,,,EUR,463.00,460.00,-3.00,' '$set_dir/exceptions.csv'"
check "no PAYOUT_MISMATCH for P2 in USD (its lines settle it there)" \
	sh -c "! grep -q '^2026-10,PAYOUT_MISMATCH,P2,[^,]*,[^,]*,[^,]*,USD,' '$set_dir/exceptions.csv'"
check "DEPOSIT_AMOUNT_MISMATCH for P2 in EUR: paid 460.00, deposited 455.00" \
	sh -c "grep -q '^2026-10,DEPOSIT_AMOUNT_MISMATCH,P2,400000000001,,,EUR,460.00,455.00,-5.00,' '$set_dir/exceptions.csv'"
check "PAYOUT_MISMATCH for P3: its line has no amount in EUR, so it cannot be checked there" \
	sh -c "grep '^2026-10,PAYOUT_MISMATCH,P3,' '$set_dir/exceptions.csv' | grep -q 'cannot be checked there'"
check "no exception for P1 (both currencies tie, its deposit found in EUR)" \
	sh -c "! grep -q '^2026-10,[A-Z_]*,P1,' '$set_dir/exceptions.csv'"
check "DEPOSIT_MISSING for P3 is not raised yet (8 days) and no DEPOSIT_UNMATCHED" \
	sh -c "! grep -Eq '^2026-10,(DEPOSIT_UNMATCHED|DEPOSIT_MISSING),' '$set_dir/exceptions.csv'"
check "DISBURSEMENT_FAILED for P4 and for the failure that undoes nothing" \
	test "$(grep -c '^2026-10,DISBURSEMENT_FAILED,' "$set_dir/exceptions.csv")" = 2
check "a tax wholly forgiven raises nothing" sh -c "! grep -Eq '^2026-10,TAX_ITEM_[A-Z]*,t5x?,' '$set_dir/exceptions.csv'"
check "a tax forgiven in part: TAX_ITEM_MISMATCH for the forgiveness, expected -10.00, actual -7.00" \
	sh -c "grep -q '^2026-10,TAX_ITEM_MISMATCH,t6x,400000000001,[^,]*,[^,]*,USD,-10.00,-7.00,3.00,' '$set_dir/exceptions.csv'"
check "the invoiced tax of tr-6 matches its item" sh -c "! grep -q '^2026-10,TAX_ITEM_[A-Z]*,t6,' '$set_dir/exceptions.csv'"
check "a tax forgiven whole whose item the feed repeats for the forgiveness (10.00, -10.00): nothing raised" \
	sh -c "! grep -Eq '^2026-10,TAX_ITEM_[A-Z]*,t7x?,' '$set_dir/exceptions.csv'"
check "a tax forgiven in part with the feed's item for the forgiveness (10.00, -7.00): nothing raised" \
	sh -c "! grep -Eq '^2026-10,TAX_ITEM_[A-Z]*,t8x?,' '$set_dir/exceptions.csv'"

# the workbook still ties out with failure rows and paid amounts on its Disbursements sheet
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if "$py" -c 'import openpyxl' 2>/dev/null; then
	"$py" "$TOP/tests/lib/xlsx_check.py" check "$set_dir/settle-2026-10.xlsx" --dir "$set_dir" \
		--as-of 2026-10-14T00:00:00Z --name "$T" || true # its cases print their own PASS/FAIL lines
else
	ko "xlsx reader: $py cannot import openpyxl (apt-get install python3-openpyxl)"
fi
