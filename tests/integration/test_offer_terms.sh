#!/usr/bin/env bash
# test_offer_terms.sh — SPEC §3.2, §3.3, §1: offer terms derived from the SDDS feeds and completed
# by settle's offer file, with accounts written in both forms. Feeds in the real column sets
# (fixtures/offer-terms/make.py): the SPEC §9 CPPO sale with no hand-written terms but the
# authorization's markup, a direct sale, a usage agreement's rate card, an offer whose product no
# feed knows (OFFER_INCOMPLETE) and a stated ISV that contradicts the product feed
# (OFFER_TERMS_CONFLICT).
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init offerterms offer_terms

fx=$work/feeds
python3 "$TOP/fixtures/offer-terms/make.py" "$fx" || ko "write the fixtures"
ingest_all() {
	local k
	for k in accountfeed_v1 productfeed_v1 offerfeed_v1 offerproductfeed_v1 agreementfeed_v1 agreementtermfeed_v1 billingeventfeed_v1; do
		settle ingest --kind "$k" "$fx/$k.csv" >>"$work/ingest.log" 2>&1 || { echo "  ingest $k failed"; cat "$work/ingest.log"; return 1; }
	done
}
check "every feed ingests" ingest_all
# the reseller agreed its markup per resale authorization, in its own 12-digit terms
printf 'offer_id,resale_authorization_id,reseller_account_id,markup_pct,listing_fee_pct\n,ra-1,111122223333,8,0.5\n' >"$work/offers.csv"
check "an authorization-level offer row ingests" settle ingest --kind offer "$work/offers.csv"

terms() { sql "SELECT concat_ws('|', offer_id, agreement_id, product_id, product_code, buyer_account_id, isv_account_id,
	reseller_account_id, resale_authorization_id, currency, pricing_model, split_basis, markup_rate_micros,
	listing_fee_rate_micros, valid_from, valid_until, problem_code) FROM settle.offer_terms_asof(now()) ORDER BY 1"; }
terms >"$work/terms"
check "CPPO offer: ISV from the product, reseller from the offer, buyer from the agreement, markup from the authorization" \
	grep -qx 'offer-1|agmt-1|prod-a|pc-a|900000000001|444455556666|111122223333|ra-1|USD|CONTRACT|MARKUP|80000|5000|2026-01-01|2026-12-31' "$work/terms"
check "direct offer: DIRECT with the ISV as seller" \
	grep -qx 'offer-2|agmt-2|prod-a|pc-a|900000000002|444455556666|USD|CONTRACT|DIRECT|2026-01-01|2026-12-31' "$work/terms"
check "usage agreement: USAGE, open-ended" \
	grep -qx 'offer-3|agmt-3|prod-u|pc-u|900000000002|444455556666|USD|USAGE|DIRECT|2026-01-01' "$work/terms"
check "an offer whose product no feed knows is OFFER_INCOMPLETE" \
	grep -q '^offer-4|agmt-4|prod-missing|.*|OFFER_INCOMPLETE$' "$work/terms"
check "usage prices from the rate card, exact (0.0025 -> 2500 micros)" \
	test "$(sql "SELECT string_agg(offer_id || ':' || dimension || ':' || unit_price_micros, ',' ORDER BY dimension)
		FROM settle.offer_dimension_terms_asof(now())")" = "offer-3:gb:12500000,offer-3:users:2500"

settle reconcile --period 2026-10 >"$work/rec.log" 2>&1
rc=$?; check "reconcile exits 0" test $rc = 0; [ $rc = 0 ] || sed "s/^/  /" "$work/rec.log"
allocs() { sql "SELECT concat_ws('|', transaction_reference_id, party_role, party_account_id, revenue_micros, listing_fee_micros,
	seller_tax_micros, net_micros) FROM settle.allocation WHERE run_id = (SELECT max(run_id) FROM settle.run) ORDER BY 1"; }
allocs >"$work/alloc"
check "the CPPO group is matched by agreement and allocated to both parties by their 12-digit numbers" \
	test "$(grep -c '^tr-1|' "$work/alloc")" = 2
# SPEC §4.3 v2, the §9 numbers: the ISV its wholesale −C, the reseller B − W with its own fee and tax
check "the ISV's part is its wholesale 40757.50, no fee, no tax" grep -qx 'tr-1|ISV|444455556666|40757500000|0|0|40757500000' "$work/alloc"
check "the reseller keeps 3260.60 less its fee 220.09 plus the seller tax 1.01: net 3041.52" \
	grep -qx 'tr-1|RESELLER|111122223333|3260600000|-220090000|1010000|3041520000' "$work/alloc"
check "the reseller's statement is what the marketplace pays it" test "$(sql "SELECT net_micros FROM settle.payout_statement
	WHERE run_id = (SELECT max(run_id) FROM settle.run) AND party_role = 'RESELLER'")" = 3041520000

# settle status: each offer's terms and where each came from
settle status >"$work/status" 2>&1
check "status lists the offer terms" grep -q '^offer terms' "$work/status"
check "status: the CPPO offer's block" grep -qx '  offer offer-1, agreement agmt-1' "$work/status"
st_term() { awk -v o="  offer $1, agreement $2" -v t="$3" '$0 ~ /^  offer / { on = ($0 == o || index($0, o ":") == 1) }
	on && $1 == t { $1 = ""; sub(/^ +/, ""); print; exit }' "$work/status"; }
check "status: the ISV from the product feed's manufacturer" \
	test "$(st_term offer-1 agmt-1 isv_account_id)" = "444455556666 product feed (manufacturer)"
check "status: the reseller from the offer feed, confirmed by the authorization's row" \
	test "$(st_term offer-1 agmt-1 reseller_account_id)" = "111122223333 offer feed (seller of record) = offer file (resale authorization)"
check "status: the markup from the offer file's resale authorization row" \
	test "$(st_term offer-1 agmt-1 markup_pct)" = "8 offer file, resale authorization ra-1"
check "status: the currency from the agreement feed" test "$(st_term offer-1 agmt-1 currency)" = "USD agreement feed"
check "status: the split basis a CPPO implies" \
	test "$(st_term offer-1 agmt-1 split_basis)" = "MARKUP offer and product feeds (seller of record vs ISV)"
check "status: CONTRACT by default" test "$(st_term offer-2 agmt-2 pricing_model)" = "CONTRACT default"
check "status: USAGE from the agreement's usage-based pricing term" \
	test "$(st_term offer-3 agmt-3 pricing_model)" = "USAGE agreement term feed (usage-based pricing term)"
check "status: an incomplete offer names its problem" grep -q '^  offer offer-4, agreement agmt-4: OFFER_INCOMPLETE: no ISV' "$work/status"
check "the CPPO group's parts add up to B + F + T" \
	test "$(awk -F'|' '$1 == "tr-1" { s += $7 } END { printf "%.0f", s }' "$work/alloc")" = "$((44018100000 - 220090000 + 1010000))"
check "the direct group goes to the ISV alone, by its number" grep -qx 'tr-2|ISV|444455556666|1000000000|-30000000|0|970000000' "$work/alloc"
exc() { sql "SELECT code || ':' || reference FROM settle.exception WHERE run_id = (SELECT max(run_id) FROM settle.run) ORDER BY 1"; }
exc >"$work/exc"
check "OFFER_INCOMPLETE once, for the offer" grep -qx 'OFFER_INCOMPLETE:offer-4' "$work/exc"
check "its group is not allocated" test "$(grep -c '^tr-4|' "$work/alloc")" = 0
check "no NO_OFFER or RECIPIENT_NOT_PARTY: every account joined across both forms" \
	sh -c "! grep -Eq '^(NO_OFFER|RECIPIENT_NOT_PARTY):' '$work/exc'"

# a stated ISV that contradicts the product feed: OFFER_TERMS_CONFLICT, nothing allocated
printf 'offer_id,isv_account_id\noffer-2,999999999999\n' >"$work/conflict.csv"
check "a contradicting offer row ingests" settle ingest --kind offer "$work/conflict.csv"
settle reconcile --period 2026-10 >"$work/rec2.log" 2>&1
check "reconcile exits 0 with the conflict" test $? = 0
exc >"$work/exc2"
check "OFFER_TERMS_CONFLICT for the offer" grep -qx 'OFFER_TERMS_CONFLICT:offer-2' "$work/exc2"
check "the conflict names the term" test "$(sql "SELECT count(*) FROM settle.exception WHERE code = 'OFFER_TERMS_CONFLICT'
	AND detail LIKE '%ISV 999999999999 stated, 444455556666%' AND run_id = (SELECT max(run_id) FROM settle.run)")" = 1
allocs >"$work/alloc2"
check "the conflicting offer's group is not allocated" test "$(grep -c '^tr-2|' "$work/alloc2")" = 0
settle status >"$work/status" 2>&1
check "status: the conflict on the offer's line" grep -q '^  offer offer-2, agreement agmt-2: OFFER_TERMS_CONFLICT: ISV 999999999999 stated' "$work/status"
check "status: the ISV term names both sources" \
	test "$(st_term offer-2 agmt-2 isv_account_id)" = "444455556666 product feed (manufacturer); the offer file states 999999999999"

# the offer file alone still works as in version 1, and an incomplete stated-only offer is named
printf 'offer_id,currency,split_basis\noffer-9,USD,DIRECT\n' >"$work/only.csv"
check "a stated-only offer without ISV ingests" settle ingest --kind offer "$work/only.csv"
check "a stated-only offer without ISV is OFFER_INCOMPLETE" \
	test "$(sql "SELECT problem_code FROM settle.offer_terms_asof(now()) WHERE offer_id = 'offer-9'")" = OFFER_INCOMPLETE
printf 'offer_id,isv_account_id\n,444455556666\n' >"$work/nokey.csv"
settle ingest --kind offer "$work/nokey.csv" >"$work/nokey.log" 2>&1
check "a row without offer_id or resale_authorization_id is quarantined" grep -q 'offer_id: required field is empty' "$work/nokey.log"

# the offer revision of an agreement (SPEC §3.2, as the marketplace's agreement report joins them):
# the one in force at acceptance; a backdated acceptance before the first revision takes the first
# revision (the report extends it back), not the latest
python3 - "$work/rev" <<'PY' || ko "write the revision fixtures"
import csv, os, sys
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
H = ["valid_from", "insert_date", "update_date", "delete_date"]
def write(name, cols, rows):
    with open(os.path.join(d, name + ".csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n"); w.writerow(cols + H)
        for r in rows: w.writerow([r.get(c, "") for c in cols + H])
ISV = "iSvaCCountIdOfTheManufacturerAbcdefghijklmn"
RES = "rSeLLeRaCCountIdOfTheCPPOResellerAbcdefghij"
write("offerfeed_v1", ["offer_id", "offer_revision", "name", "expiration_date", "opportunity_name",
      "opportunity_description", "seller_account_id", "opportunity_id", "recipient_account_id", "catalog"],
      [dict(offer_id="offer-5", offer_revision="1", seller_account_id=RES, opportunity_id="ra-5a",
            valid_from="2026-03-01T00:00:00Z", insert_date="2026-03-01T00:00:00Z"),
       dict(offer_id="offer-5", offer_revision="2", seller_account_id=RES, opportunity_id="ra-5b",
            valid_from="2026-06-01T00:00:00Z", insert_date="2026-06-01T00:00:00Z")])
write("offerproductfeed_v1", ["offer_id", "offer_revision", "product_id"],
      [dict(offer_id="offer-5", offer_revision=r, product_id="prod-a", valid_from=v, insert_date=v)
       for r, v in (("1", "2026-03-01T00:00:00Z"), ("2", "2026-06-01T00:00:00Z"))])
write("agreementfeed_v1", ["agreement_id", "offer_id", "proposer_account_id", "acceptor_account_id", "start_time",
      "end_time", "acceptance_time", "intent", "preceding_agreement_id", "status", "status_reason_code",
      "currency_code", "estimated_agreement_value", "offer_set_id", "catalog"],
      [dict(agreement_id=a, offer_id="offer-5", proposer_account_id=RES, acceptor_account_id=RES,
            start_time=t, acceptance_time=t, status="ACTIVE", currency_code="USD",
            valid_from="2026-07-01T00:00:00Z", insert_date="2026-07-01T00:00:00Z")
       for a, t in (("agmt-5a", "2026-02-01T00:00:00Z"), ("agmt-5b", "2026-04-01T00:00:00Z"),
                    ("agmt-5c", "2026-07-01T00:00:00Z"))])
PY
for k in offerfeed_v1 offerproductfeed_v1 agreementfeed_v1; do
	settle ingest --kind "$k" "$work/rev/$k.csv" >>"$work/ingest.log" 2>&1 || ko "ingest the revision fixture $k"
done
check "agreements take the offer revision of their acceptance; a backdated one the first revision" \
	test "$(sql "SELECT string_agg(agreement_id || ':' || resale_authorization_id, ',' ORDER BY agreement_id)
		FROM settle.offer_derived_asof(now()) WHERE offer_id = 'offer-5'")" = "agmt-5a:ra-5a,agmt-5b:ra-5a,agmt-5c:ra-5b"

# settle status: usage prices per dimension with their source (SPEC §3.3): offer-3's rate card,
# with the offer_dimension file overriding one of its two dimensions and adding one
printf 'offer_id,dimension,unit_price\noffer-3,gb,11.00\noffer-3,seats,4.00\n' >"$work/dims.csv"
check "an offer_dimension file ingests" settle ingest --kind offer_dimension "$work/dims.csv"
# a resale authorization row that applies to no offer (a typo): status names it (docs/offers.md)
printf 'offer_id,resale_authorization_id,markup_pct,listing_fee_pct\n,ra-typo,25,0.2\n' >"$work/ra-typo.csv"
check "an authorization row for no offer ingests" settle ingest --kind offer "$work/ra-typo.csv"
settle status >"$work/status3" 2>&1
check "status lists the usage prices" grep -q '^usage prices' "$work/status3"
check "status: a price from the rate card" \
	grep -qE '^  offer-3 +users +0\.0025 +agreement term feed \(rate card\)$' "$work/status3"
check "status: the offer_dimension file's price over the rate card's" \
	grep -qE '^  offer-3 +gb +11\.00 +offer_dimension file \(rate card: 12\.5\)$' "$work/status3"
check "status: a price from the offer_dimension file alone" \
	grep -qE '^  offer-3 +seats +4\.00 +offer_dimension file$' "$work/status3"
check "status: the authorization row that applies to no offer" \
	grep -q '^  resale authorization ra-typo (ra-typo.csv line 2): applies to no offer' "$work/status3"
check "status: the used authorization row is not listed as unused" sh -c "! grep -q 'resale authorization ra-1 .*applies to no offer' '$work/status3'"

# A CPPO with no hand-written offer file at all (SPEC §3.2: a derived CPPO offer with no stated
# split is MARKUP with an unknown markup, allocated from its cost-of-goods rows), seen from both
# feeds: the reseller's (the SPEC §9 sale) and the ISV's own (the wholesale and the ISV's fee,
# SPEC §9's last paragraph). Nets: the reseller 3041.52, what the marketplace pays it (p1 of §9);
# the ISV 39534.77 from its own feed, its payout statement counting that group only (§4.4).
DB=$(pg_test_createdb offer_terms_nofile) || { ko "create a database"; exit 1; }
fx=$work/nofile
python3 "$TOP/fixtures/offer-terms/make.py" "$fx" || ko "write the no-offer-file fixtures"
ISV42=iSvaCCountIdOfTheManufacturerAbcdefghijklmn RES42=rSeLLeRaCCountIdOfTheCPPOResellerAbcdefghij
python3 - "$fx/billingeventfeed_v1.csv" "$ISV42" "$RES42" <<'PY' || ko "add the ISV's own feed"
import csv, sys
path, isv, res = sys.argv[1:]
with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
cols = list(rows[0].keys())
def isv_row(i, ttype, amount, **kw):
    r = dict.fromkeys(cols, "")
    r.update(billing_event_id=i, recipient_account_id=isv, from_account_id=res, agreement_id="agmt-1",
             product_id="prod-a", action="INVOICED", transaction_type=ttype, amount=amount, currency="USD",
             invoice_date="2026-10-05T00:00:00Z", transaction_reference_id="tr-isv-1", balance_impacting="1",
             valid_from="2026-10-05T00:00:00Z", insert_date="2026-10-05T00:00:00Z", **kw)
    return r
rows += [isv_row("i1", "SELLER_REV_SHARE", "40757.50", charge_side="SELLING", charge_variant="RESALE",
                 invoice_variant="RESALE"),
         isv_row("i2", "AWS_REV_SHARE", "-1222.73")]
with open(path, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n"); w.writeheader(); w.writerows(rows)
PY
check "every feed ingests, no offer file" ingest_all
settle reconcile --period 2026-10 >"$work/rec-nofile.log" 2>&1
check "reconcile exits 0" test $? = 0
allocs >"$work/alloc-nofile"
check "no offer file: the reseller's group gives the ISV its wholesale (−C) and the reseller the rest" \
	test "$(grep '^tr-1|' "$work/alloc-nofile" | tr '\n' ' ')" = \
	"tr-1|ISV|444455556666|40757500000|0|0|40757500000 tr-1|RESELLER|111122223333|3260600000|-220090000|1010000|3041520000 "
check "no offer file: the ISV's own feed of the sale goes to the ISV alone" \
	grep -qx 'tr-isv-1|ISV|444455556666|40757500000|-1222730000|0|39534770000' "$work/alloc-nofile"
stmts() { sql "SELECT concat_ws('|', party_role, party_account_id, net_micros) FROM settle.payout_statement
	WHERE run_id = (SELECT max(run_id) FROM settle.run) ORDER BY 1"; }
check "no offer file: the reseller's net is 3041.52; the ISV's 39534.77 + its direct sale 970.00, the CPPO counted once" \
	test "$(stmts | tr '\n' ' ')" = "ISV|444455556666|40504770000 RESELLER|111122223333|3041520000 "
