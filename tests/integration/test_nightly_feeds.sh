#!/usr/bin/env bash
# test_nightly_feeds.sh — nightly re-reports the periods the SDDS feeds of SPEC §3.6 touch
# (settle.periods_touched, sql/021; SPEC §6, §7 "every period they touch"), night by night on an
# SDDS bucket: a USAGE offer of seller 400000000001 (offer file, agreement agmt-1) with billing
# events, metering, tax items and daily usage in 2026-09 and 2026-10.
#   night 1  everything: both months written
#   night 2  one tax item appended to 2026-10's file, nothing else: 2026-10 only, its tax.csv has
#            the item and its TAX_ITEM_MISMATCH (items 15.00, event 10.00)
#   night 3  one daily usage row appended to 2026-09's file: 2026-09 only, metering.csv recorded
#            quantity 100 -> 120
#   night 4  nothing new: no period
#   night 5  the agreement feed's first row (agmt-1 from 2026-10-01 to 2026-10-31): 2026-10 only
#            (2026-09 is outside the agreement's validity)
#   night 6  an account feed row for the buyer, whose agreement runs in 2026-10: 2026-10 only
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init nightly_feeds nightly_feeds

inbox=$work/inbox
out=$work/reports
python3 - "$inbox" <<'PY' || ko "write the bucket"
import csv, os, sys
d = sys.argv[1]
H = ["valid_from", "insert_date", "update_date", "delete_date"]
BE = ["billing_event_id", "from_account_id", "to_account_id", "end_user_account_id", "product_id", "action",
      "transaction_type", "parent_billing_event_id", "disbursement_billing_event_id", "amount", "currency",
      "balance_impacting", "invoice_date", "payment_due_date", "usage_period_start_date", "usage_period_end_date",
      "invoice_id", "billing_address_id", "transaction_reference_id", "bank_trace_id", "broker_id", "agreement_id",
      "buyer_transaction_reference_id", "disbursement_amount", "disbursement_currency",
      "disbursement_reference_number", "catalog", "buyer_invoice_id", "invoice_variant", "action_date", "offer_id",
      "buyer_invoice_date", "line_item_id", "buyer_line_item_id", "charge_variant", "charge_side",
      "recipient_account_id"] + H
TI = ["tax_item_id", "invoice_id", "line_item_id", "customer_bill_id", "product_id", "invoice_date",
      "transaction_reference_id", "transaction_type_code", "tax_liable_party", "tax_type_code", "taxed_jurisdiction",
      "tax_jurisdiction_rate", "tax_amount", "tax_currency", "taxed_customer_account_id", "taxed_customer_country",
      "taxed_customer_state_or_region", "taxed_customer_city", "taxed_customer_postal_code", "product_tax_code",
      "display_price_taxability_type", "date_used_for_tax_calculation", "jurisdiction_level",
      "tax_location_code_taxed_jurisdiction", "tax_calculation_reason_code", "customer_exemption_certificate_id",
      "customer_exemption_certificate_id_domain", "customer_exemption_certificate_level", "customer_exemption_code",
      "customer_exemption_domain"] + H
DU = ["usage_feed_id", "usage_date", "recipient_account_id", "payer_account_id", "end_user_account_id", "product_id",
      "offer_id", "agreement_id", "dimension_key", "usage_unit", "usage_quantity", "region",
      "charge_item_description", "pricing_currency", "usage_rate_per_unit_in_pricing_currency",
      "estimated_revenue_in_pricing_currency", "catalog"] + H
S, B = "400000000001", "900000000001"
def write(path, cols, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n"); w.writerow(cols)
        for r in rows:
            assert not set(r) - set(cols), set(r) - set(cols)
            w.writerow([r.get(c, "") for c in cols])
for m in ("09", "10"):
    day = "2026-%s-05T00:00:00Z" % m
    ev = dict(recipient_account_id=S, from_account_id=B, agreement_id="agmt-1", product_id="prod-1",
              action="INVOICED", currency="USD", invoice_date=day, transaction_reference_id="tr-" + m,
              usage_period_start_date="2026-%s-01T00:00:00Z" % m, valid_from=day, insert_date=day)
    write("%s/billingeventfeed_v1/year=2026/month=%s/data.csv" % (d, m), BE, [
        dict(ev, billing_event_id="r" + m, transaction_type="SELLER_REV_SHARE", amount="100.00"),
        dict(ev, billing_event_id="t" + m, transaction_type="SELLER_TAX_SHARE", amount="10.00",
             invoice_id="inv-" + m, line_item_id="li-" + m)])
    write("%s/taxitemfeed_v1/year=2026/month=%s/data.csv" % (d, m), TI, [
        dict(tax_item_id="ti-" + m, invoice_id="inv-" + m, line_item_id="li-" + m, product_id="prod-1",
             invoice_date=day, transaction_reference_id="tr-" + m, tax_liable_party="Seller",
             tax_type_code="SalesTax", taxed_jurisdiction="WASHINGTON", tax_amount="10.00", tax_currency="USD",
             valid_from=day, insert_date=day)])
    write("%s/dailyusagefeed_v1/year=2026/month=%s/data.csv" % (d, m), DU, [
        dict(usage_feed_id="du-" + m, usage_date="2026-%s-03T00:00:00Z" % m, recipient_account_id=S,
             payer_account_id=B, product_id="prod-1", offer_id="offer-1", agreement_id="agmt-1",
             dimension_key="users", usage_quantity="100", pricing_currency="USD", valid_from=day, insert_date=day)])
with open(os.path.join(d, "offers.csv"), "w") as f:
    f.write("offer_id,agreement_id,product_id,product_code,buyer_account_id,isv_account_id,reseller_account_id,"
            "currency,pricing_model,split_basis,valid_from,valid_until\n"
            "offer-1,agmt-1,prod-1,pc-1,%s,%s,,USD,USAGE,DIRECT,2026-01-01,2026-12-31\n" % (B, S))
with open(os.path.join(d, "offer_dimension.csv"), "w") as f:
    f.write("offer_id,dimension,unit_price\noffer-1,users,1.00\n")
with open(os.path.join(d, "metering.csv"), "w") as f:
    f.write("metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status,agreement_id\n"
            "m09,2026-09-03T10:00:00Z,%s,pc-1,users,100,Success,agmt-1\n"
            "m10,2026-10-03T10:00:00Z,%s,pc-1,users,100,Success,agmt-1\n" % (B, B))
PY

nightly() { # NIGHT: rc in $rc, stderr in $work/nNIGHT.err
	settle nightly --inbox "$inbox" --out "$out" 2>"$work/n$1.err"
	rc=$?
	[ "$rc" = 0 ] || { echo "  night $1 exited $rc:"; sed 's/^/  /' "$work/n$1.err"; }
}
written() { # NIGHT: the periods the night's summary line says it wrote ("none": "no period written")
	sed -n 's/.*periods written: \([^,]*\).*/\1/p; s/.*: no period written; .*/none/p' "$work/n$1.err" | tail -n 1
}
append() { # FILE ROW: one more record at the end of the month's data.csv, as the marketplace appends
	printf '%s\n' "$2" >>"$inbox/$1"
}
hist() { # DATE: the history columns of a row delivered that day
	printf '%s,%s,,' "$1" "$1"
}
recorded() { # PERIOD: metering.csv's recorded quantity of offer-1, users
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	         $c["offer_id"] == "offer-1" && $c["dimension"] == "users" { print $c["recorded_quantity"] }' \
		"$out/$1/metering.csv"
}

nightly 1
check "night 1 exits 0" test "$rc" = 0
check "night 1 writes both months" test "$(written 1)" = "2026-09 2026-10"
check "night 1: 2026-10 tax.csv has its one item (10.00)" \
	grep -q '^2026-10,SELLER,seller,USD,WASHINGTON,SalesTax,1,10\.00,' "$out/2026-10/tax.csv"
check "night 1: 2026-09 recorded quantity 100" test "$(recorded 2026-09)" = 100

# ---- night 2: a tax item only (2026-10's file grows by one record)
append taxitemfeed_v1/year=2026/month=10/data.csv \
	"ti-10b,inv-10,li-10,,prod-1,2026-10-05T00:00:00Z,tr-10,,Seller,SalesTax,WASHINGTON,,5.00,USD,,,,,,,,,,,,,,,,,$(hist 2026-10-06T00:00:00Z)"
nightly 2
check "night 2 (a tax item only) exits 0" test "$rc" = 0
check "night 2 re-reports the tax item's month 2026-10, and only it" test "$(written 2)" = 2026-10
check "night 2: 2026-10 tax.csv has both items (15.00)" \
	grep -q '^2026-10,SELLER,seller,USD,WASHINGTON,SalesTax,2,15\.00,' "$out/2026-10/tax.csv"
check "night 2: the tax event's TAX_ITEM_MISMATCH against the new sum" \
	grep -q 'TAX_ITEM_MISMATCH' "$out/2026-10/exceptions.csv"

# ---- night 3: a daily usage row only (2026-09's file grows by one record)
append dailyusagefeed_v1/year=2026/month=09/data.csv \
	"du-09b,2026-09-04T00:00:00Z,$(printf %s 400000000001),900000000001,,prod-1,offer-1,agmt-1,users,,20,,,USD,,,,$(hist 2026-10-06T00:00:00Z)"
nightly 3
check "night 3 (a daily usage row only) exits 0" test "$rc" = 0
check "night 3 re-reports the usage day's month 2026-09, and only it" test "$(written 3)" = 2026-09
check "night 3: 2026-09 recorded quantity 120" test "$(recorded 2026-09)" = 120
check "night 3: 2026-10 recorded quantity still 100" test "$(recorded 2026-10)" = 100

# ---- night 4: nothing new
nightly 4
check "night 4 (nothing new) writes no period" test "$(written 4)" = none

# ---- night 5: the agreement feed arrives, agmt-1 valid in October only
mkdir -p "$inbox/agreementfeed_v1/year=2026/month=10"
printf '%s\n' "agreement_id,offer_id,proposer_account_id,acceptor_account_id,start_time,end_time,acceptance_time,intent,preceding_agreement_id,status,status_reason_code,currency_code,estimated_agreement_value,offer_set_id,catalog,valid_from,insert_date,update_date,delete_date" \
	"agmt-1,offer-1,400000000001,900000000001,2026-10-01T00:00:00Z,2026-10-31T23:59:59Z,2026-10-01T00:00:00Z,NEW,,ACTIVE,,USD,,,AWSMarketplace,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,," \
	>"$inbox/agreementfeed_v1/year=2026/month=10/data.csv"
nightly 5
check "night 5 (an agreement only) exits 0" test "$rc" = 0
check "night 5 re-reports the months within the agreement's validity: 2026-10 only" test "$(written 5)" = 2026-10

# ---- night 6: the account feed names the buyer, who accepted agmt-1
mkdir -p "$inbox/accountfeed_v1/year=2026/month=10"
printf '%s\n' "account_id,aws_account_id,encrypted_account_id,mailing_address_id,tax_address_id,tax_registration_number,tax_legal_name,catalog,valid_from,insert_date,update_date,delete_date" \
	"900000000001,900000000001,,,,,Buyer Inc,AWSMarketplace,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,," \
	>"$inbox/accountfeed_v1/year=2026/month=10/data.csv"
nightly 6
check "night 6 (an account only) exits 0" test "$rc" = 0
check "night 6 re-reports the months of the agreements the account accepted: 2026-10 only" test "$(written 6)" = 2026-10
