#!/usr/bin/env bash
# test_usage_tax.sh — SPEC §4.6 three-way metering and tax items, on feeds in the real column sets
# (fixtures/offer-terms/make.py usage-tax): the seller metered 300 users in October, the
# marketplace's daily usage feed recorded 260 (40 lost on 2026-10-02) and 5 GB the log never
# metered; tax events against tax items that add up over two jurisdictions, fall 1.00 short, or
# are missing. Golden metering.csv and tax.csv.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init usagetax usage_tax

fx=$work/feeds
python3 "$TOP/fixtures/offer-terms/make.py" "$fx" usage-tax || ko "write the fixtures"
ingest_all() {
	local k
	for k in accountfeed_v1 productfeed_v1 offerfeed_v1 offerproductfeed_v1 agreementfeed_v1 agreementtermfeed_v1 \
		billingeventfeed_v1 dailyusagefeed_v1 taxitemfeed_v1; do
		settle ingest --kind "$k" "$fx/$k.csv" >>"$work/ingest.log" 2>&1 || { echo "  ingest $k failed"; cat "$work/ingest.log"; return 1; }
	done
	settle ingest --kind metering "$fx/metering.csv" >>"$work/ingest.log" 2>&1 || return 1
	printf 'offer_id,resale_authorization_id,markup_pct\n,ra-1,8\n' >"$work/offers.csv"
	settle ingest --kind offer "$work/offers.csv" >>"$work/ingest.log" 2>&1
}
check "every feed ingests" ingest_all
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants"

out=$work/reports
settle report --period 2026-10 --as-of 2026-11-20T00:00:00Z --out "$out" >"$work/report.log" 2>&1
rc=$?
check "report exits 0" test $rc = 0
[ $rc = 0 ] || sed 's/^/  /' "$work/report.log"
set_dir=$out/2026-10

cat >"$work/metering.expected" <<'CSV'
period,offer_id,usage_month,dimension,currency,quantity,recorded_quantity,unit_price,expected,billed,status
2026-10,offer-3,2026-10,gb,USD,0,5,12.50,0.00,0.00,UNBILLED
2026-10,offer-3,2026-10,users,USD,300,260,0.0025,0.75,0.00,UNBILLED
CSV
check "metering.csv shows metered, recorded and billed side by side" diff -u "$work/metering.expected" "$set_dir/metering.csv"

# the workbook: every check of xlsx_check.py, among them the Metering by day sheet of the offer
# whose metered and recorded usage differ (its days, the line chart over them) and the names
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" "$TOP/tests/lib/xlsx_check.py" check "$set_dir/settle-2026-10.xlsx" --dir "$set_dir" \
	--as-of 2026-11-20T00:00:00Z --names "$fx/accountfeed_v1.csv" --name "$T" || true

exc() { grep "^2026-10,$1," "$set_dir/exceptions.csv"; }
check "USAGE_RECORD_MISMATCH for users: lost records, both quantities, the day they part" \
	sh -c "grep '^2026-10,USAGE_RECORD_MISMATCH,offer-3:2026-10:users,' '$set_dir/exceptions.csv' |
		grep 'has 300 units' | grep 'recorded 260' | grep -q 'differ on 2026-10-02\"\\?\$'"
check "the mismatch is priced: 300 and 260 at 0.0025" \
	sh -c "grep -q '^2026-10,USAGE_RECORD_MISMATCH,offer-3:2026-10:users,[^,]*,[^,]*,offer-3,USD,0.75,0.65,-0.10,' '$set_dir/exceptions.csv'"
check "USAGE_RECORD_MISMATCH for usage the log lacks (gb, 2026-10-05)" \
	sh -c "grep '^2026-10,USAGE_RECORD_MISMATCH,offer-3:2026-10:gb,' '$set_dir/exceptions.csv' | grep -q 'recorded usage the log lacks'"
check "TAX_ITEM_MISMATCH for the VAT event 1.00 off" \
	sh -c "grep -q '^2026-10,TAX_ITEM_MISMATCH,d4,' '$set_dir/exceptions.csv'"
check "TAX_ITEM_MISSING for the event without item" sh -c "grep -q '^2026-10,TAX_ITEM_MISSING,d5,' '$set_dir/exceptions.csv'"
check "no tax exception for the line that adds up over two jurisdictions" \
	sh -c "! grep -q '^2026-10,TAX_ITEM_[A-Z]*,d3,' '$set_dir/exceptions.csv'"

cat >"$work/tax.expected" <<'CSV'
period,liable_party,remitted_by,currency,jurisdiction,tax_type,tax_items,tax_amount,billing_events_amount,difference
2026-10,MARKETPLACE,marketplace,USD,DE,VAT,1,49.00,,
2026-10,MARKETPLACE,marketplace,USD,(all),(all),1,49.00,3241.31,-3192.31
2026-10,SELLER,seller,USD,SEATTLE,SalesTax,1,5.00,,
2026-10,SELLER,seller,USD,WASHINGTON,SalesTax,1,65.00,,
2026-10,SELLER,seller,USD,(all),(all),2,70.00,74.01,-4.01
CSV
check "tax.csv per liable party, jurisdiction and tax type, events beside items" diff -u "$work/tax.expected" "$set_dir/tax.csv"

# without the two feeds: no recorded column values, no tax checks
harness_db2=$(pg_test_createdb usage_tax_plain) || ko "second database"
DB=$harness_db2
for k in accountfeed_v1 productfeed_v1 offerfeed_v1 offerproductfeed_v1 agreementfeed_v1 agreementtermfeed_v1 billingeventfeed_v1; do
	settle ingest --kind "$k" "$fx/$k.csv" >/dev/null 2>&1
done
settle ingest --kind metering "$fx/metering.csv" >/dev/null 2>&1
settle ingest --kind offer "$work/offers.csv" >/dev/null 2>&1
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants (2)"
settle report --period 2026-10 --as-of 2026-11-20T00:00:00Z --out "$work/plain" >/dev/null 2>&1
check "without the daily usage feed the recorded column is empty" \
	grep -qx '2026-10,offer-3,2026-10,users,USD,300,,0.0025,0.75,0.00,UNBILLED' "$work/plain/2026-10/metering.csv"
check "without the feeds no USAGE_RECORD_MISMATCH or TAX_ITEM_ exception" \
	sh -c "! grep -Eq '^2026-10,(USAGE_RECORD_MISMATCH|TAX_ITEM_MISSING|TAX_ITEM_MISMATCH),' '$work/plain/2026-10/exceptions.csv'"

# SPEC §3.3: a rate card price with more than 6 fractional digits prices nothing (exact micros or
# nothing) and is named, not passed off as a dimension the offer does not price
python3 - "$fx/agreementtermfeed_v1.csv" "$work/term_v2.csv" <<'PY' || ko "write the term revision"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n"); w.writeheader()
    for r in rows:
        if r["term_id"] == "term-3":
            r["term_configuration"] = r["term_configuration"].replace('"0.0025"', '"0.00250001"')
            r["update_date"] = "2026-10-20T00:00:00Z"
            w.writerow(r)
PY
settle ingest --kind agreementtermfeed_v1 "$work/term_v2.csv" >/dev/null 2>&1 || ko "ingest the term revision"
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants (3)"
check "the unusable price is passed on without micros" \
	test "$(sql "SELECT price || ':' || coalesce(unit_price_micros::text, 'none') FROM settle.offer_dimension_terms_asof(now())
		WHERE offer_id = 'offer-3' AND dimension = 'users'")" = "0.00250001:none"
settle report --period 2026-10 --as-of 2026-11-20T00:00:00Z --out "$work/badprice" >"$work/badprice.log" 2>&1
check "report exits 0 with a 7-digit price" test $? = 0
check "the dimension is UNKNOWN_DIMENSION naming the feed's price" \
	sh -c "grep '^2026-10,UNKNOWN_DIMENSION,offer-3:2026-10:users,' '$work/badprice/2026-10/exceptions.csv' | grep -q 'price 0.00250001 is not an exact amount'"
check "the other dimension keeps its price" grep -q '^2026-10,offer-3,2026-10,gb,USD,0,,12.50,' "$work/badprice/2026-10/metering.csv"

# SPEC §4.6 is per offer: a usage offer with two agreements (two buyers) is one metering line per
# dimension with both agreements' metering, recorded usage and billing
harness_db3=$(pg_test_createdb usage_tax_two) || ko "third database"
DB=$harness_db3
check "every feed ingests (two agreements)" ingest_all
python3 - "$fx" "$work/two" <<'PY' || ko "write the second agreement"
import csv, os, sys
src, d = sys.argv[1], sys.argv[2]; os.makedirs(d, exist_ok=True)
def rewrite(name, pick, change):
    rows = list(csv.DictReader(open(os.path.join(src, name + ".csv"))))
    with open(os.path.join(d, name + ".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n"); w.writeheader()
        for r in rows:
            if pick(r):
                change(r); w.writerow(r)
BUY = "bUyeRaCCountIdOfTheBuyerOfTheCPPOSaleAbcdef"
rewrite("agreementfeed_v1", lambda r: r["agreement_id"] == "agmt-3",
        lambda r: r.update(agreement_id="agmt-3b", acceptor_account_id=BUY))
rewrite("agreementtermfeed_v1", lambda r: r["agreement_id"] == "agmt-3",
        lambda r: r.update(agreement_id="agmt-3b", term_id="term-3b"))
rewrite("dailyusagefeed_v1", lambda r: r["usage_feed_id"] == "u1",
        lambda r: r.update(usage_feed_id="u1b", agreement_id="agmt-3b", usage_quantity="5"))
# rows without agreement_id on the two-agreement offer: one of Buyer Two (one agreement of that
# customer: agmt-3), one of an account with no agreement on the offer
BU2 = "bUyeR2aCCountIdOfTheDirectBuyerAbcdefghijkl"
RES = "rSeLLeRaCCountIdOfTheCPPOResellerAbcdefghij"
path = os.path.join(d, "dailyusagefeed_v1.csv")
rows = list(csv.DictReader(open(path)))
with open(path, "a", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
    base = dict(rows[0], agreement_id="", dimension_key="gb", usage_date="2026-10-06T00:00:00Z")
    w.writerow(dict(base, usage_feed_id="u5", payer_account_id=BU2, usage_quantity="2"))
    w.writerow(dict(base, usage_feed_id="u6", payer_account_id=RES, usage_quantity="1", usage_date="2026-10-07T00:00:00Z"))
with open(os.path.join(d, "metering.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["metering_record_id", "timestamp", "customer_aws_account_id", "product_code", "dimension",
                "quantity", "status", "agreement_id"])
    w.writerow(["m-b-1", "2026-10-01T03:00:00Z", "900000000001", "pc-u", "users", "5", "Success", "agmt-3b"])
PY
for k in agreementfeed_v1 agreementtermfeed_v1 dailyusagefeed_v1; do
	settle ingest --kind "$k" "$work/two/$k.csv" >/dev/null 2>&1 || ko "ingest the second agreement's $k"
done
settle ingest --kind metering "$work/two/metering.csv" >/dev/null 2>&1 || ko "ingest the second agreement's metering"
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants (4)"
settle report --period 2026-10 --as-of 2026-11-20T00:00:00Z --out "$work/two/out" >"$work/two/report.log" 2>&1
rc=$?
check "report exits 0 with an offer of two usage agreements" test $rc = 0
[ $rc = 0 ] || sed 's/^/  /' "$work/two/report.log"
# Rows without agreement_id on an offer of two agreements: u5 (Buyer Two, whose one agreement on
# the offer is agmt-3) is attributed and counted; u4 (no payer, no end user) and u6 (an account
# without an agreement on the offer) are USAGE_WITHOUT_OFFER, named, and counted nowhere. (Before,
# every such row was counted nowhere and named nowhere.)
cat >"$work/two/metering.expected" <<'CSV'
period,offer_id,usage_month,dimension,currency,quantity,recorded_quantity,unit_price,expected,billed,status
2026-10,offer-3,2026-10,gb,USD,0,2,12.50,0.00,0.00,UNBILLED
2026-10,offer-3,2026-10,users,USD,305,265,0.0025,0.76,0.00,UNBILLED
CSV
check "one metering line per dimension, both agreements' usage in it" \
	diff -u "$work/two/metering.expected" "$work/two/out/2026-10/metering.csv"
two_exc=$work/two/out/2026-10/exceptions.csv
check "a row without agreement and customer names the offer's agreements" \
	sh -c "grep '^2026-10,USAGE_WITHOUT_OFFER,offer-3:2026-10:gb,' '$two_exc' | grep 'recorded 5 units' |
		grep '2026-10-05' | grep 'no customer' | grep -q 'has 2 usage agreements that could be its (agmt-3, agmt-3b)'"
check "a row of a customer without an agreement on the offer is named" \
	sh -c "grep '^2026-10,USAGE_WITHOUT_OFFER,offer-3:2026-10:gb,' '$two_exc' | grep 'recorded 1 units' |
		grep 'customer 111122223333' | grep -q 'has none of that customer valid then'"
check "the attributed row raises nothing" \
	sh -c "! grep 'USAGE_WITHOUT_OFFER' '$two_exc' | grep -q '2026-10-06'"

# --- SPEC §3.3, §4.6: the price of the agreement term revision valid on the usage date ----------
# The usage term of agmt-3 gets a revision valid from 2026-10-02 with users at 0.003 (was 0.0025),
# as the marketplace's reference queries join the agreement revision valid on the usage date:
# October 1 (100 users) is priced at 0.0025, October 2 and 3 (200) at 0.003 — expected 0.85, not
# 300 × one price. The recorded side (100, 60, 100) is priced by its days too: 0.73.
harness_db4=$(pg_test_createdb usage_tax_rev) || ko "fourth database"
DB=$harness_db4
check "every feed ingests (price revision)" ingest_all
python3 - "$fx" "$work/rev" <<'PY' || ko "write the term revision"
import csv, os, sys
src, d = sys.argv[1], sys.argv[2]; os.makedirs(d, exist_ok=True)
for name, pick, change in (
        ("agreementtermfeed_v1", lambda r: r["term_id"] == "term-3",
         lambda r: r.update(term_configuration=r["term_configuration"].replace('"0.0025"', '"0.003"'))),
        ("agreementfeed_v1", lambda r: r["agreement_id"] == "agmt-3", lambda r: None)):
    rows = list(csv.DictReader(open(os.path.join(src, name + ".csv"))))
    with open(os.path.join(d, name + ".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n"); w.writeheader()
        for r in rows:
            if pick(r):
                change(r)
                r.update(valid_from="2026-10-02T00:00:00Z", insert_date="2026-10-02T00:00:00Z")
                w.writerow(r)
PY
for k in agreementtermfeed_v1 agreementfeed_v1; do
	settle ingest --kind "$k" "$work/rev/$k.csv" >/dev/null 2>&1 || ko "ingest the revision's $k"
done
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants (5)"
settle report --period 2026-10 --as-of 2026-11-20T00:00:00Z --out "$work/rev/out" >"$work/rev/report.log" 2>&1
rc=$?
check "report exits 0 with a price revision mid-month" test $rc = 0
[ $rc = 0 ] || sed 's/^/  /' "$work/rev/report.log"
check "the revision valid on each day prices its usage: 100 × 0.0025 + 200 × 0.003 = 0.85" \
	grep -qx '2026-10,offer-3,2026-10,users,USD,300,260,0.003,0.85,0.00,UNBILLED' "$work/rev/out/2026-10/metering.csv"
check "metering_result says which prices applied to which days" \
	test "$(sql "SELECT price_note FROM settle.metering_result WHERE offer_id = 'offer-3' AND dimension = 'users'")" = \
	"0.002500 for 100 units (2026-10-01 to 2026-10-01), 0.003000 for 200 units (2026-10-02 to 2026-10-03)"
check "the mismatch prices both sides by day: metered 0.85, recorded 100 × 0.0025 + 160 × 0.003 = 0.73" \
	sh -c "grep -q '^2026-10,USAGE_RECORD_MISMATCH,offer-3:2026-10:users,[^,]*,[^,]*,offer-3,USD,0.85,0.73,-0.12,' '$work/rev/out/2026-10/exceptions.csv'"
check "a dimension without a change keeps one price and no note" \
	test "$(sql "SELECT coalesce(price_note, 'none') FROM settle.metering_result WHERE offer_id = 'offer-3' AND dimension = 'gb'")" = none
check "the per-day three-way of the mismatching dimension (metering_day_result)" \
	test "$(sql "SELECT string_agg(usage_day || ':' || metered_quantity || ':' || recorded_quantity, ' ' ORDER BY usage_day)
		FROM settle.metering_day_result WHERE offer_id = 'offer-3' AND dimension = 'users' AND usage_day < '2026-10-06'")" = \
	"2026-10-01:100:100 2026-10-02:100:60 2026-10-03:100:100 2026-10-04:0:0 2026-10-05:0:0"

# --- the feed a day or more behind the log (docs/reconcile.md "The daily usage feed's lag"): while
# the month is young the three-way check compares the days the feed has delivered, to its newest
# usage day; from usage_billing_lag_days after the month's end, every day.
sql "DELETE FROM settle.sdds_daily_usage WHERE usage_date >= '2026-10-03T00:00:00Z';
     UPDATE settle.ingest_file SET ingested_at = '2026-10-03T12:00:00Z'" || ko "the feed through 2026-10-02"
lag_report() { settle report --period 2026-10 --as-of "$2" --out "$work/lag/$1" >"$work/lag-$1.log" 2>&1; }
lag_report a 2026-10-04T00:00:00Z || ko "report mid-month (a)"
check "mid-month, a loss on a delivered day is found, the undelivered day named apart" \
	sh -c "grep '^2026-10,USAGE_RECORD_MISMATCH,offer-3:2026-10:users,' '$work/lag/a/2026-10/exceptions.csv' |
	       grep -q 'differ on 2026-10-02 (and on 1 day after 2026-10-02, the feed.s newest day so far)'"
sql "UPDATE settle.sdds_daily_usage SET usage_quantity = 100 WHERE usage_date = '2026-10-02T00:00:00Z' AND dimension_key = 'users'" ||
	ko "the feed's 2026-10-02 complete"
lag_report b 2026-10-04T00:00:00Z || ko "report mid-month (b)"
check "mid-month, days the feed has not delivered yet raise no USAGE_RECORD_MISMATCH" \
	sh -c "! grep -q 'USAGE_RECORD_MISMATCH,offer-3:2026-10:users,' '$work/lag/b/2026-10/exceptions.csv'"
lag_report c 2026-11-20T00:00:00Z || ko "report after the lag (c)"
check "after the billing lag, a day the feed never delivered is a mismatch" \
	sh -c "grep '^2026-10,USAGE_RECORD_MISMATCH,offer-3:2026-10:users,' '$work/lag/c/2026-10/exceptions.csv' | grep -q 'differ on 2026-10-03\"\\?\$'"
