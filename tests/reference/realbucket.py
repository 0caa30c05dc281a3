#!/usr/bin/env python3
"""realbucket.py -- a seller's SDDS bucket as the marketplace delivers it, night by night.

realbucket.py DIR NIGHT   appends night NIGHT's rows (1..4) to DIR: every row goes to the file of
                          the month it is delivered in (<recipient>/<feed>_v1/year=YYYY/month=MM/
                          data.csv), so a month's file grows by appends and a row can arrive in a
                          later month than its invoice; settle's own offer file, metering log and
                          bank lines (CRLF, as a bank exports them) grow at the inbox root.
                          Night N holds the rows delivered before CUT[N], the as-of of that night.

Written independently of settle's fixtures, in the feeds' real column sets (SDDS.md). Two
recipients: a reseller (CPPO sales of the ISV's product, markup 10 %, a wholesale marketplace tax
that is balance impacting) and the ISV (its own feed of those sales; direct offers in EUR with
usage and VAT, in JPY paid in USD, in USD with seller-liable sales tax, refund, a payout failing in
the older format and paid again, a revised charge (new valid_from), a deleted one, a late one, a
JPY usage offer of a buyer whose account number has a leading zero). Account ids in the feeds'
opaque form, the account feed maps them (leading zeros lost, as a numeric load loses them); the
seller's own files and the November refund rows use 12-digit numbers; that refund is on its own
invoice but shares its forward line item, as do its tax items. Placeholder bank trace ids on
the reseller's payouts (one fails in the current format and is paid again, one of two payouts of
the same amount fails in the next month). Quoted fields with commas and a line break. The figures
these rows must give are asserted in tests/integration/test_reference_queries.sh (bucket real).
"""
import csv, json, os, sys
from decimal import Decimal as D

CUT = {1: "2026-10-15T03:00:00Z", 2: "2026-10-29T03:00:00Z", 3: "2026-11-03T03:00:00Z", 4: "2026-11-10T03:00:00Z"}
NUM = {"R": "111100002222", "I": "444400005555", "B1": "900000000011", "B2": "900000000022", "B3": "012345678901"}
OPQ = {"R": "RsLr7Qw2Er9Ty4Ui1Op6As3Df8Gh5Jk0LzXcVbNmQ1", "I": "IsVx3Mn8Bv2Cx7Zl4Kj9Hg1Fd6Sa5Po0IuYtReWqE2",
       "B1": "By1aQ2wS3eD4rF5tG6yH7uJ8iK9oL0pZ1xC2vB3nM4", "B2": "By2zX9cV8bN7mL6kJ5hG4fD3sA2qW1eR0tY9uI8oP7",
       "B3": "By3pO9iU8yT7rE6wQ5aS4dF3gH2jK1lZ0xC9vB8nM6"}
for k, v in OPQ.items():
    assert len(v) == 42, k
FOLDER = {"R": NUM["R"], "I": NUM["I"]}

BE_HEAD = ("billing_event_id,from_account_id,to_account_id,end_user_account_id,product_id,action,transaction_type,"
           "parent_billing_event_id,disbursement_billing_event_id,amount,currency,balance_impacting,invoice_date,"
           "payment_due_date,usage_period_start_date,usage_period_end_date,invoice_id,billing_address_id,"
           "transaction_reference_id,bank_trace_id,broker_id,agreement_id,buyer_transaction_reference_id,"
           "disbursement_amount,disbursement_currency,disbursement_reference_number,catalog,buyer_invoice_id,"
           "invoice_variant,action_date,offer_id,buyer_invoice_date,line_item_id,buyer_line_item_id,charge_variant,"
           "charge_side,recipient_account_id,valid_from,insert_date,update_date,delete_date").split(",")
HIST = ["valid_from", "insert_date", "update_date", "delete_date"]
HEADS = {
    "accountfeed_v1": "account_id,aws_account_id,encrypted_account_id,mailing_address_id,tax_address_id,tax_registration_number,tax_legal_name,catalog".split(",") + HIST,
    "agreementfeed_v1": "agreement_id,offer_id,proposer_account_id,acceptor_account_id,start_time,end_time,acceptance_time,intent,preceding_agreement_id,status,status_reason_code,currency_code,estimated_agreement_value,offer_set_id,catalog".split(",") + HIST,
    "agreementtermfeed_v1": "agreement_id,term_id,term_type,term_configuration".split(",") + HIST,
    "offerfeed_v1": "offer_id,offer_revision,name,expiration_date,opportunity_name,opportunity_description,seller_account_id,opportunity_id,recipient_account_id,catalog".split(",") + HIST,
    "offerproductfeed_v1": "offer_id,offer_revision,product_id".split(",") + HIST,
    "offertargetfeed_v1": "offer_target_id,offer_id,offer_revision,target_type,polarity,value,catalog".split(",") + HIST,
    "productfeed_v1": "product_id,manufacturer_account_id,product_code,title,catalog".split(",") + HIST,
    "legacyidmappingfeed_v1": "mapping_type,legacy_id,new_id".split(",") + HIST,
    "taxitemfeed_v1": ("tax_item_id,invoice_id,line_item_id,customer_bill_id,product_id,invoice_date,transaction_reference_id,"
                       "transaction_type_code,tax_liable_party,tax_type_code,taxed_jurisdiction,tax_jurisdiction_rate,tax_amount,"
                       "tax_currency,taxed_customer_account_id,taxed_customer_country,taxed_customer_state_or_region,"
                       "taxed_customer_city,taxed_customer_postal_code,product_tax_code,display_price_taxability_type,"
                       "date_used_for_tax_calculation,jurisdiction_level,tax_location_code_taxed_jurisdiction,"
                       "tax_calculation_reason_code,customer_exemption_certificate_id,customer_exemption_certificate_id_domain,"
                       "customer_exemption_certificate_level,customer_exemption_code,customer_exemption_domain").split(",") + HIST,
    "dailyusagefeed_v1": ("usage_feed_id,usage_date,recipient_account_id,payer_account_id,end_user_account_id,product_id,"
                          "offer_id,agreement_id,dimension_key,usage_unit,usage_quantity,region,charge_item_description,"
                          "pricing_currency,usage_rate_per_unit_in_pricing_currency,estimated_revenue_in_pricing_currency,"
                          "catalog").split(",") + HIST,
    "addressfeed_v1": "address_id,company_name,email_domain,country_code,state_or_region,city,postal_code,valid_to".split(",") + HIST,
    "billingeventfeed_v1": BE_HEAD,
}

rows = []  # (who, feed, delivered, dict)


def add(who, feed, delivered, **kw):
    r = dict.fromkeys(HEADS[feed], "")
    r.update(valid_from=delivered, insert_date=delivered)
    r.update(kw)
    rows.append((who, feed, delivered, r))
    return r


def d(month, day, h="10:00:00"):
    return "2026-%02d-%02dT%sZ" % (month, day, h)


SEP = d(9, 1, "00:00:00")
# ---- the reference feeds, in both recipients' folders (each sees the accounts and agreements it deals with)
for who in ("R", "I"):
    for k in ("R", "I", "B1", "B2", "B3"):
        aws = NUM[k].lstrip("0")  # loaded as a number somewhere upstream: leading zeros lost (SDDS.md)
        name = {"R": "Example Reseller, LLC", "I": "Example ISV, Inc."}.get(k, "")
        add(who, "accountfeed_v1", SEP, account_id=OPQ[k], aws_account_id=aws, tax_legal_name=name,
            catalog="AWSMarketplace")
    add(who, "productfeed_v1", SEP, product_id="prod-x", manufacturer_account_id=OPQ["I"], product_code="pc-x",
        title="Widget, Pro Edition", catalog="AWSMarketplace")
    add(who, "agreementfeed_v1", SEP, agreement_id="agmt-c1", offer_id="offer-c1", proposer_account_id=OPQ["R"],
        acceptor_account_id=OPQ["B1"], start_time=SEP, end_time="2027-08-31T23:59:59Z", acceptance_time=SEP,
        intent="NEW", status="ACTIVE", currency_code="USD", catalog="AWSMarketplace")
    add(who, "offerfeed_v1", SEP, offer_id="offer-c1", offer_revision="1", name="Widget, resold",
        expiration_date="2027-08-31T00:00:00Z", seller_account_id=OPQ["R"], opportunity_id="ra-1",
        opportunity_name="Widget, resale", opportunity_description="Resale of Widget,\nterms as agreed",
        recipient_account_id=OPQ[who], catalog="AWSMarketplace")
    add(who, "offerproductfeed_v1", SEP, offer_id="offer-c1", offer_revision="1", product_id="prod-x")
    add(who, "offertargetfeed_v1", SEP, offer_target_id="ot-c1", offer_id="offer-c1", offer_revision="1",
        target_type="BuyerAccounts", polarity="Positive", value=OPQ["B1"], catalog="AWSMarketplace")
# the ISV's own offers
add("I", "productfeed_v1", SEP, product_id="prod-u", manufacturer_account_id=OPQ["I"], product_code="pc-usage",
    title="Widget metered", catalog="AWSMarketplace")
for ag, of, buyer, cur, pid in (("agmt-d1", "offer-d1", "B2", "EUR", "prod-u"), ("agmt-d2", "offer-d2", "B3", "JPY", "prod-x"),
                                ("agmt-d3", "offer-d3", "B1", "USD", "prod-x")):
    add("I", "agreementfeed_v1", SEP, agreement_id=ag, offer_id=of, proposer_account_id=OPQ["I"],
        acceptor_account_id=OPQ[buyer], start_time=SEP, end_time="2027-08-31T23:59:59Z", acceptance_time=SEP,
        intent="NEW", status="ACTIVE", currency_code=cur, catalog="AWSMarketplace")
    add("I", "offerfeed_v1", SEP, offer_id=of, offer_revision="1", name="Private offer " + of,
        expiration_date="2027-08-31T00:00:00Z", seller_account_id=OPQ["I"], recipient_account_id=OPQ["I"],
        catalog="AWSMarketplace")
    add("I", "offerproductfeed_v1", SEP, offer_id=of, offer_revision="1", product_id=pid)
add("I", "productfeed_v1", SEP, product_id="prod-j", manufacturer_account_id=OPQ["I"], product_code="pc-api",
    title="Widget API", catalog="AWSMarketplace")
add("I", "agreementfeed_v1", SEP, agreement_id="agmt-d6", offer_id="offer-d6", proposer_account_id=OPQ["I"],
    acceptor_account_id=OPQ["B3"], start_time=SEP, end_time="2027-08-31T23:59:59Z", acceptance_time=SEP,
    intent="NEW", status="ACTIVE", currency_code="JPY", catalog="AWSMarketplace")
add("I", "offerfeed_v1", SEP, offer_id="offer-d6", offer_revision="1", name="API calls", seller_account_id=OPQ["I"],
    recipient_account_id=OPQ["I"], catalog="AWSMarketplace")
add("I", "offerproductfeed_v1", SEP, offer_id="offer-d6", offer_revision="1", product_id="prod-j")
add("I", "agreementtermfeed_v1", SEP, agreement_id="agmt-d6", term_id="term-d6-usage", term_type="UsageBasedPricingTerm",
    term_configuration=json.dumps({"currencyCode": "JPY", "rateCards": [{"rateCard": [
        {"dimensionKey": "api_calls", "price": "0.5"}]}]}))
add("I", "agreementtermfeed_v1", SEP, agreement_id="agmt-d1", term_id="term-d1-usage", term_type="UsageBasedPricingTerm",
    term_configuration=json.dumps({"currencyCode": "EUR", "rateCards": [{"rateCard": [
        {"dimensionKey": "users", "price": "2.5"}, {"dimensionKey": "gb", "price": "0.125"}]}]}))
add("I", "addressfeed_v1", SEP, address_id="addr-1", company_name="Buyer, GmbH", country_code="DE", city="Berlin",
    postal_code="10115")


# ---- billing events
def be(who, i, action, tt, amount, when, tref="", inv="", line="", parent="", disb="", trace="", delivered=None,
       updated="", cur="USD", agmt="", offer="", prod="", frm="", to="", side="", variant="", ivar="",
       paid=None, dated=False, upd=None, bi=None, usage=None):
    r = dict.fromkeys(BE_HEAD, "")
    r.update(billing_event_id=i, action=action, transaction_type=tt, amount=amount, currency=cur,
             recipient_account_id=OPQ[who], catalog="AWSMarketplace", broker_id="AWS_INC",
             transaction_reference_id=tref, parent_billing_event_id=parent, disbursement_billing_event_id=disb,
             bank_trace_id=trace, valid_from=delivered or when, insert_date=delivered or when, update_date=updated,
             invoice_id=inv, line_item_id=line, agreement_id=agmt, offer_id=offer, product_id=prod,
             from_account_id=frm, to_account_id=to, charge_side=side, charge_variant=variant, invoice_variant=ivar)
    if action != "DISBURSED" or dated:
        r["invoice_date"] = when
    if action == "DISBURSED":
        r["action_date"] = when
    if usage:
        r["usage_period_start_date"], r["usage_period_end_date"] = usage
    if bi is None:
        bi = "0" if tt.startswith("AWS_TAX_SHARE") and action != "DISBURSED" else "1"
    r["balance_impacting"] = bi
    if paid is not None:
        r["disbursement_amount"], r["disbursement_currency"] = paid
    elif bi == "1":
        r["disbursement_amount"], r["disbursement_currency"] = amount, cur
    rows.append((who, "billingeventfeed_v1", r["insert_date"], r))
    return r


BYID = {}


def charge(who, i, tt, amount, when, tref, inv, line, agmt, offer, prod, buyer, side="SELLING", variant="", ivar="PURCHASE",
           **kw):
    fee = tt.startswith("AWS_REV_SHARE")
    if fee:
        frm, to, variant = OPQ[who], "AWS", "LISTING_FEE"
    elif side == "BUYING":
        frm, to = OPQ[who], OPQ["I"]
    elif tt.startswith("AWS_TAX"):
        frm, to = OPQ[buyer], "AWS"
    else:
        frm, to = (OPQ["R"] if variant == "RESALE" else OPQ[buyer]), OPQ[who]
    r = be(who, i, kw.pop("action", "INVOICED"), tt, amount, when, tref, inv, line, agmt=agmt, offer=offer, prod=prod,
           frm=frm, to=to, side=side, variant=variant, ivar=ivar, **kw)
    r["end_user_account_id"] = OPQ[buyer]
    BYID[i] = r
    return r


def line(who, i, parent_id, amount, disb, when, paid=None, noref=False):
    p = BYID[parent_id]
    r = be(who, i, "DISBURSED", p["transaction_type"], amount, when, "" if noref else p["transaction_reference_id"],
           p["invoice_id"], p["line_item_id"], parent=parent_id, disb=disb, cur=p["currency"], side=p["charge_side"],
           variant=p["charge_variant"], paid=paid)
    return r


# Reseller R: CPPO sales of the ISV's product to B1 (markup 10 %, reseller fee 0.5 %)
C = dict(agmt="agmt-c1", offer="offer-c1", prod="prod-x", buyer="B1")
charge("R", "c1-1", "SELLER_REV_SHARE", "11000.00", d(10, 3), "tr-c1", "inv-c1", "li-c1-1", **C)
charge("R", "c1-2", "SELLER_REV_SHARE", "-10000.00", d(10, 3), "tr-c1", "inv-c1w", "li-c1w-1", side="BUYING",
       variant="RESALE", ivar="RESALE", **C)
charge("R", "c1-3", "AWS_REV_SHARE", "-55.00", d(10, 3), "tr-c1", "inv-c1", "li-c1-1", **C)
charge("R", "c1-4", "AWS_TAX_SHARE", "990.00", d(10, 3), "tr-c1", "inv-c1", "li-c1-1", **C)
charge("R", "c1-5", "AWS_TAX_SHARE", "-15.00", d(10, 3), "tr-c1", "inv-c1w", "li-c1w-1", side="BUYING", ivar="RESALE",
       bi="1", **C)
charge("R", "c3-1", "SELLER_REV_SHARE", "2200.00", d(10, 4), "tr-c3", "inv-c3", "li-c3-1", **C)
charge("R", "c3-2", "SELLER_REV_SHARE", "-2000.00", d(10, 4), "tr-c3", "inv-c3", "li-c3-1", side="BUYING",
       variant="RESALE", ivar="RESALE", **C)
charge("R", "c3-3", "AWS_REV_SHARE", "-11.00", d(10, 4), "tr-c3", "inv-c3", "li-c3-1", **C)
charge("R", "c2-1", "SELLER_REV_SHARE", "5500.00", d(10, 12), "tr-c2", "inv-c2", "li-c2-1", **C)
charge("R", "c2-2", "SELLER_REV_SHARE", "-5000.00", d(10, 12), "tr-c2", "inv-c2", "li-c2-1", side="BUYING",
       variant="RESALE", ivar="RESALE", **C)
charge("R", "c2-3", "AWS_REV_SHARE", "-27.50", d(10, 12), "tr-c2", "inv-c2", "li-c2-1", **C)
# pay-r1 (placeholder trace) pays tr-c3, fails on the 18th in the current format (no parent, reversal
# lines, the same placeholder trace); pay-r2 (same placeholder) pays tr-c1; pay-r3 pays tr-c2 in part
be("R", "pay-r1", "DISBURSED", "DISBURSEMENT", "189.00", d(10, 14), trace="testTraceId", to=OPQ["R"], frm="AWS")
line("R", "pay-r1a", "c3-1", "-2200.00", "pay-r1", d(10, 14))
line("R", "pay-r1b", "c3-2", "2000.00", "pay-r1", d(10, 14))
line("R", "pay-r1c", "c3-3", "11.00", "pay-r1", d(10, 14))
be("R", "pay-r2", "DISBURSED", "DISBURSEMENT", "930.00", d(10, 16), trace="testTraceId", to=OPQ["R"], frm="AWS")
line("R", "pay-r2a", "c1-1", "-11000.00", "pay-r2", d(10, 16))
line("R", "pay-r2b", "c1-2", "10000.00", "pay-r2", d(10, 16))
line("R", "pay-r2c", "c1-3", "55.00", "pay-r2", d(10, 16))
line("R", "pay-r2d", "c1-5", "15.00", "pay-r2", d(10, 16))
be("R", "fail-r1", "DISBURSED", "DISBURSEMENT_FAILURE", "-189.00", d(10, 18), trace="testTraceId", to=OPQ["R"], frm="AWS")
line("R", "fail-r1a", "c3-1", "2200.00", "fail-r1", d(10, 18))
line("R", "fail-r1b", "c3-2", "-2000.00", "fail-r1", d(10, 18))
line("R", "fail-r1c", "c3-3", "-11.00", "fail-r1", d(10, 18))
be("R", "pay-r3", "DISBURSED", "DISBURSEMENT", "236.25", d(10, 27), trace="EMEA_MP_TEST_TRACE_ID", to=OPQ["R"], frm="AWS")
line("R", "pay-r3a", "c2-1", "-2750.00", "pay-r3", d(10, 27))
line("R", "pay-r3b", "c2-2", "2500.00", "pay-r3", d(10, 27))
line("R", "pay-r3c", "c2-3", "13.750000000", "pay-r3", d(10, 27))
# November: tr-c3 paid again
be("R", "pay-r4", "DISBURSED", "DISBURSEMENT", "189.00", d(11, 4), trace="TRC-R4", to=OPQ["R"], frm="AWS")
line("R", "pay-r4a", "c3-1", "-2200.00", "pay-r4", d(11, 4), noref=True)
line("R", "pay-r4b", "c3-2", "2000.00", "pay-r4", d(11, 4), noref=True)
line("R", "pay-r4c", "c3-3", "11.00", "pay-r4", d(11, 4), noref=True)

charge("R", "c1r-1", "SELLER_REV_SHARE_REFUND", "-1100.00", d(11, 2, "02:00:00"), "tr-c1", "inv-c1r", "li-c1r-1", parent="c1-1", **C)
charge("R", "c1r-2", "SELLER_REV_SHARE_REFUND", "1000.00", d(11, 2, "02:00:00"), "tr-c1", "inv-c1wr", "li-c1wr-1", side="BUYING",
       variant="RESALE", ivar="RESALE", parent="c1-2", **C)
charge("R", "c1r-3", "AWS_REV_SHARE_REFUND", "5.50", d(11, 2, "02:00:00"), "tr-c1", "inv-c1r", "li-c1r-1", parent="c1-3", **C)
charge("R", "c1r-4", "AWS_TAX_SHARE_REFUND", "-99.00", d(11, 2, "02:00:00"), "tr-c1", "inv-c1r", "li-c1r-1", parent="c1-4", **C)
# ISV I: its own feed of the CPPO sales (the wholesale, its 3 % fee)
W = dict(agmt="agmt-c1", offer="offer-c1", prod="prod-x", buyer="B1", variant="RESALE", ivar="RESALE")
charge("I", "w1-1", "SELLER_REV_SHARE", "10000.00", d(10, 3), "tr-c1", "inv-w1", "li-w1-1", **W)
charge("I", "w1-2", "AWS_REV_SHARE", "-300.00", d(10, 3), "tr-c1", "inv-w1", "li-w1-1", **W)
charge("I", "w3-1", "SELLER_REV_SHARE", "2000.00", d(10, 4), "tr-c3", "inv-w3", "li-w3-1", **W)
charge("I", "w3-2", "AWS_REV_SHARE", "-60.00", d(10, 4), "tr-c3", "inv-w3", "li-w3-1", **W)
charge("I", "w2-1", "SELLER_REV_SHARE", "5000.00", d(10, 12), "tr-c2", "inv-w2", "li-w2-1", **W)
charge("I", "w2-2", "AWS_REV_SHARE", "-150.00", d(10, 12), "tr-c2", "inv-w2", "li-w2-1", **W)
charge("I", "w1r-1", "SELLER_REV_SHARE_REFUND", "-1000.00", d(11, 2, "02:00:00"), "tr-c1", "inv-w1r", "li-w1r-1",
       parent="w1-1", **W)
charge("I", "w1r-2", "AWS_REV_SHARE_REFUND", "30.00", d(11, 2, "02:00:00"), "tr-c1", "inv-w1r", "li-w1r-1", parent="w1-2", **W)
be("I", "pay-i1", "DISBURSED", "DISBURSEMENT", "11640.00", d(10, 21), trace="TRC-I1", to=OPQ["I"], frm="AWS")
line("I", "pay-i1a", "w1-1", "-10000.00", "pay-i1", d(10, 21))
line("I", "pay-i1b", "w1-2", "300.00", "pay-i1", d(10, 21))
line("I", "pay-i1c", "w3-1", "-2000.00", "pay-i1", d(10, 21))
line("I", "pay-i1d", "w3-2", "60.00", "pay-i1", d(10, 21))
# JPY, paid in USD
J = dict(agmt="agmt-d2", offer="offer-d2", prod="prod-x", buyer="B3", cur="JPY")
charge("I", "j1-1", "SELLER_REV_SHARE", "120000", d(10, 7), "tr-j1", "inv-j1", "li-j1-1", paid=("", ""), **J)
charge("I", "j1-2", "AWS_REV_SHARE", "-3600", d(10, 7), "tr-j1", "inv-j1", "li-j1-1", paid=("", ""), **J)
charge("I", "j1-3", "AWS_TAX_SHARE", "12000", d(10, 7), "tr-j1", "inv-j1", "li-j1-1", **J)
be("I", "pay-i2", "DISBURSED", "DISBURSEMENT", "116400", d(10, 25), trace="TRC-I2", cur="JPY", paid=("780.12", "USD"),
   to=OPQ["I"], frm="AWS")
line("I", "pay-i2a", "j1-1", "-120000", "pay-i2", d(10, 25), paid=("-804.25", "USD"))
line("I", "pay-i2b", "j1-2", "3600", "pay-i2", d(10, 25), paid=("24.13", "USD"))
# USD direct with seller-liable sales tax; payout fails in the older format; refund and repayment in November
U = dict(agmt="agmt-d3", offer="offer-d3", prod="prod-x", buyer="B1")
charge("I", "d3-1", "SELLER_REV_SHARE", "2000.00", d(10, 5), "tr-d3", "inv-d3", "li-d3-1", **U)
charge("I", "d3-2", "AWS_REV_SHARE", "-40.00", d(10, 5), "tr-d3", "inv-d3", "li-d3-1", **U)
charge("I", "d3-3", "SELLER_TAX_SHARE", "130.50", d(10, 5), "tr-d3", "inv-d3", "li-d3-1", **U)
be("I", "pay-i3", "DISBURSED", "DISBURSEMENT", "2090.50", d(10, 22), trace="TRC-I3", to=OPQ["I"], frm="AWS")
line("I", "pay-i3a", "d3-1", "-2000.00", "pay-i3", d(10, 22))
line("I", "pay-i3b", "d3-2", "40.00", "pay-i3", d(10, 22))
line("I", "pay-i3c", "d3-3", "-130.50", "pay-i3", d(10, 22))
be("I", "fail-i3", "DISBURSED", "DISBURSEMENT_FAILURE", "-2090.50", d(10, 24), parent="pay-i3", trace="TRC-I3",
   to=OPQ["I"], frm="AWS")
charge("I", "d3r-1", "SELLER_REV_SHARE_REFUND", "-500.00", d(11, 3, "01:00:00"), "tr-d3", "inv-d3r", "li-d3r-1",
       parent="d3-1", **U)
charge("I", "d3r-2", "AWS_REV_SHARE_REFUND", "10.00", d(11, 3, "01:00:00"), "tr-d3", "inv-d3r", "li-d3r-1", parent="d3-2", **U)
charge("I", "d3r-3", "SELLER_TAX_SHARE_REFUND", "-32.625", d(11, 3, "01:00:00"), "tr-d3", "inv-d3r", "li-d3r-1",
       parent="d3-3", **U)
be("I", "pay-i4", "DISBURSED", "DISBURSEMENT", "1567.88", d(11, 6), trace="TRC-I4", to=OPQ["I"], frm="AWS")
line("I", "pay-i4a", "d3-1", "-2000.00", "pay-i4", d(11, 6))
line("I", "pay-i4b", "d3-2", "40.00", "pay-i4", d(11, 6))
line("I", "pay-i4c", "d3-3", "-130.50", "pay-i4", d(11, 6))
line("I", "pay-i4d", "d3r-1", "500.00", "pay-i4", d(11, 6))
line("I", "pay-i4e", "d3r-2", "-10.00", "pay-i4", d(11, 6))
line("I", "pay-i4f", "d3r-3", "32.625", "pay-i4", d(11, 6))
# revised charge: new versions (later valid_from and update_date) with the corrected amounts
charge("I", "d4-1", "SELLER_REV_SHARE", "800.00", d(10, 9), "tr-d4", "inv-d4", "li-d4-1", **U)
charge("I", "d4-2", "AWS_REV_SHARE", "-16.00", d(10, 9), "tr-d4", "inv-d4", "li-d4-1", **U)
for i, amt in (("d4-1", "850.00"), ("d4-2", "-17.00")):
    r = dict(BYID[i])
    r.update(amount=amt, disbursement_amount=amt, valid_from=d(10, 20), insert_date=d(10, 20), update_date=d(10, 20))
    rows.append(("I", "billingeventfeed_v1", r["insert_date"], r))
# a charge of 2026-10-30 delivered on 2026-11-02, into November's file
charge("I", "d5-1", "SELLER_REV_SHARE", "300.00", d(10, 30, "18:00:00"), "tr-d5", "inv-d5", "li-d5-1",
       delivered=d(11, 2), **U)
charge("I", "d5-2", "AWS_REV_SHARE", "-6.00", d(10, 30, "18:00:00"), "tr-d5", "inv-d5", "li-d5-1", delivered=d(11, 2), **U)

# EUR usage (offer-d1, B2 in DE): October's usage billed on 2026-11-02, VAT collected by the marketplace
UQ = {day: {"users": 10 + day % 5, "gb": 40 * day} for day in range(1, 32)}
for day in range(1, 32):
    for dim, unit, desc in (("users", "Users", "EUR 2.50 per user, per day"), ("gb", "GB", "EUR 0.125 per GB")):
        add("I", "dailyusagefeed_v1", "2026-10-%02dT06:00:00Z" % (day + 1) if day < 31 else "2026-11-01T06:00:00Z",
            usage_feed_id="uf-%02d-%s" % (day, dim), usage_date="2026-10-%02d" % day, recipient_account_id=OPQ["I"],
            payer_account_id=OPQ["B2"], end_user_account_id=OPQ["B2"], product_id="prod-u", offer_id="offer-d1",
            agreement_id="" if 20 <= day <= 25 else "agmt-d1", dimension_key=dim, usage_unit=unit,
            usage_quantity=str(UQ[day][dim]), region="eu-central-1", charge_item_description=desc,
            pricing_currency="EUR", catalog="AWSMarketplace")
users = sum(UQ[x]["users"] for x in UQ)
gb = sum(UQ[x]["gb"] for x in UQ)
rev_users, rev_gb = D(users) * D("2.5"), D(gb) * D("0.125")
UB = dict(agmt="agmt-d1", offer="offer-d1", prod="prod-u", buyer="B2", cur="EUR",
          usage=("2026-10-01T00:00:00Z", "2026-10-31T23:59:59Z"), delivered=d(11, 2, "08:00:00"))
fee_u, fee_g = -(rev_users * D("0.03")), -(rev_gb * D("0.03"))
vat_u, vat_g = rev_users * D("0.19"), rev_gb * D("0.19")
charge("I", "u1-1", "SELLER_REV_SHARE", "%.2f" % rev_users, d(11, 2, "04:00:00"), "tr-u1", "inv-u1", "li-u1-users", **UB)
charge("I", "u1-2", "AWS_REV_SHARE", "%.2f" % fee_u, d(11, 2, "04:00:00"), "tr-u1", "inv-u1", "li-u1-users", **UB)
charge("I", "u1-3", "AWS_TAX_SHARE", "%.2f" % vat_u, d(11, 2, "04:00:00"), "tr-u1", "inv-u1", "li-u1-users", **UB)
charge("I", "u1-4", "SELLER_REV_SHARE", "%.3f" % rev_gb, d(11, 2, "04:00:00"), "tr-u1", "inv-u1", "li-u1-gb", **UB)
charge("I", "u1-5", "AWS_REV_SHARE", "%.6f" % fee_g, d(11, 2, "04:00:00"), "tr-u1", "inv-u1", "li-u1-gb", **UB)
charge("I", "u1-6", "AWS_TAX_SHARE", "%.2f" % vat_g, d(11, 2, "04:00:00"), "tr-u1", "inv-u1", "li-u1-gb", **UB)


# JPY usage of B3 (account number with a leading zero), the seller's log without agreement ids
AQ = {day: 1000 + 7 * day for day in range(1, 32)}
for day in range(1, 32):
    add("I", "dailyusagefeed_v1", "2026-10-%02dT06:00:00Z" % (day + 1) if day < 31 else "2026-11-01T06:00:00Z",
        usage_feed_id="uj-%02d" % day, usage_date="2026-10-%02d" % day, recipient_account_id=OPQ["I"],
        payer_account_id=OPQ["B3"], end_user_account_id=OPQ["B3"], product_id="prod-j", offer_id="offer-d6",
        agreement_id="agmt-d6", dimension_key="api_calls", usage_unit="Requests", usage_quantity=str(AQ[day]),
        region="ap-northeast-1", pricing_currency="JPY", catalog="AWSMarketplace")
api = sum(AQ.values())
rev_api = (D(api) * D("0.5")).quantize(D("1"), rounding="ROUND_HALF_UP")
UJ = dict(agmt="agmt-d6", offer="offer-d6", prod="prod-j", buyer="B3", cur="JPY",
          usage=("2026-10-01T00:00:00Z", "2026-10-31T23:59:59Z"), delivered=d(11, 2, "08:00:00"))
charge("I", "a1-1", "SELLER_REV_SHARE", str(rev_api), d(11, 2, "04:00:00"), "tr-a1", "inv-a1", "li-a1-1", **UJ)
charge("I", "a1-2", "AWS_REV_SHARE", str(-(rev_api * 3 / 100).quantize(D("1"), rounding="ROUND_HALF_UP")), d(11, 2, "04:00:00"),
       "tr-a1", "inv-a1", "li-a1-1", **UJ)
# a charge entered and deleted (a later version with delete_date)
charge("I", "d7-1", "SELLER_REV_SHARE", "99.00", d(10, 10), "tr-d7", "inv-d7", "li-d7-1", **U)
charge("I", "d7-2", "AWS_REV_SHARE", "-1.98", d(10, 10), "tr-d7", "inv-d7", "li-d7-1", **U)
for i in ("d7-1", "d7-2"):
    r = dict(BYID[i])
    r.update(valid_from=d(10, 26), insert_date=d(10, 26), update_date=d(10, 26), delete_date=d(10, 26))
    rows.append(("I", "billingeventfeed_v1", r["insert_date"], r))
# October payouts that fail in November: pay-i5 (older format: parent link, no reversal lines) and
# pay-r5 (current format: no parent, the placeholder trace, reversal lines; pay-r3 has the same amount)
be("I", "pay-i5", "DISBURSED", "DISBURSEMENT", "833.00", d(10, 28), trace="TRC-I5", to=OPQ["I"], frm="AWS")
line("I", "pay-i5a", "d4-1", "-850.00", "pay-i5", d(10, 28))
line("I", "pay-i5b", "d4-2", "17.00", "pay-i5", d(10, 28))
be("I", "fail-i5", "DISBURSED", "DISBURSEMENT_FAILURE", "-833.00", d(11, 4), parent="pay-i5", to=OPQ["I"], frm="AWS")
be("R", "pay-r5", "DISBURSED", "DISBURSEMENT", "236.25", d(10, 28), trace="testTraceId", to=OPQ["R"], frm="AWS")
line("R", "pay-r5a", "c2-1", "-2750.00", "pay-r5", d(10, 28))
line("R", "pay-r5b", "c2-2", "2500.00", "pay-r5", d(10, 28))
line("R", "pay-r5c", "c2-3", "13.75", "pay-r5", d(10, 28))
be("R", "fail-r5", "DISBURSED", "DISBURSEMENT_FAILURE", "-236.25", d(11, 5), trace="testTraceId", to=OPQ["R"], frm="AWS")
line("R", "fail-r5a", "c2-1", "2750.00", "fail-r5", d(11, 5))
line("R", "fail-r5b", "c2-2", "-2500.00", "fail-r5", d(11, 5))
line("R", "fail-r5c", "c2-3", "-13.75", "fail-r5", d(11, 5))

# the November refund of tr-d3: its rows carry the ISV's 12-digit number, and it is on its own
# invoice but shares the forward line item (so do its tax items); the CPPO refund has its own
for i in ("d3r-1", "d3r-2", "d3r-3"):
    BYID[i]["recipient_account_id"] = NUM["I"]
    BYID[i]["line_item_id"] = "li-d3-1"

rows.append(("R", "billingeventfeed_v1", d(10, 20), dict(BYID["c1-1"])))

# ---- tax items
def tax(who, i, ev, party, ttype, juris, level, rate, amount, delivered=None, state="", country="US", city=""):
    e = BYID[ev]
    add(who, "taxitemfeed_v1", delivered or e["insert_date"], tax_item_id=i, invoice_id=e["invoice_id"],
        line_item_id=e["line_item_id"], customer_bill_id="cb-" + e["invoice_id"], product_id=e["product_id"],
        invoice_date=e["invoice_date"], transaction_reference_id=e["transaction_reference_id"],
        transaction_type_code="REFUND" if "REFUND" in e["transaction_type"] else "CHARGE", tax_liable_party=party,
        tax_type_code=ttype, taxed_jurisdiction=juris, tax_jurisdiction_rate=rate, tax_amount=amount,
        tax_currency=e["currency"], taxed_customer_account_id=e["end_user_account_id"], taxed_customer_country=country,
        taxed_customer_state_or_region=state, taxed_customer_city=city, jurisdiction_level=level,
        date_used_for_tax_calculation=e["invoice_date"], product_tax_code="ST090000", display_price_taxability_type="EXCLUSIVE")


tax("R", "ti-c1a", "c1-4", "AWS", "SALES", "WASHINGTON", "State", "0.065", "715.00", state="WA", city="SEATTLE")
tax("R", "ti-c1b", "c1-4", "AWS", "SALES", "SEATTLE", "City", "0.025", "275.00", state="WA", city="SEATTLE")
tax("R", "ti-c1c", "c1-5", "AWS", "SALES", "WASHINGTON", "State", "0.065", "-15.00", state="WA", city="SEATTLE")
tax("R", "ti-c1ra", "c1r-4", "AWS", "SALES", "WASHINGTON", "State", "0.065", "-71.50", state="WA", city="SEATTLE")
tax("R", "ti-c1rb", "c1r-4", "AWS", "SALES", "SEATTLE", "City", "0.025", "-27.50", state="WA", city="SEATTLE")
tax("I", "ti-j1", "j1-3", "AWS", "CT", "JAPAN", "Country", "0.10", "12000", country="JP")
tax("I", "ti-d3a", "d3-3", "Seller", "SALES", "WASHINGTON", "State", "0.065", "130.00", state="WA", city="SEATTLE")
tax("I", "ti-d3b", "d3-3", "Seller", "SALES", "SEATTLE", "City", "0.00025", "0.50", state="WA", city="SEATTLE")
tax("I", "ti-d3ra", "d3r-3", "Seller", "SALES", "WASHINGTON", "State", "0.065", "-32.50", state="WA", city="SEATTLE")
tax("I", "ti-d3rb", "d3r-3", "Seller", "SALES", "SEATTLE", "City", "0.00025", "-0.125", state="WA", city="SEATTLE")
tax("I", "ti-u1a", "u1-3", "AWS", "VAT", "GERMANY", "Country", "0.19", "%.2f" % vat_u, country="DE", city="Berlin, Mitte")
tax("I", "ti-u1b", "u1-6", "AWS", "VAT", "GERMANY", "Country", "0.19", "%.2f" % vat_g, country="DE", city="Berlin, Mitte")

# ---- settle's own files at the inbox root: offer terms, metering log, bank lines
OWN = []  # (file, delivered, line)


def own(path, delivered, *fields):
    OWN.append((path, delivered, list(fields)))


own("offers.csv", SEP, ",ra-1,MARKUP,10,0.5")
for of, pct in (("offer-d1", "3"), ("offer-d2", "3"), ("offer-d3", "2"), ("offer-d6", "3")):
    own("offers.csv", SEP, "%s,,DIRECT,,%s" % (of, pct))
MET = {}
for day in range(1, 32):
    own("metering.csv", "2026-10-%02dT01:00:00Z" % (day + 1) if day < 31 else "2026-11-01T01:00:00Z",
        "mj-%02d,2026-10-%02dT09:00:00Z,%s,pc-api,api_calls,%d,Success,," % (day, day, NUM["B3"], AQ[day]))
    for dim in ("users", "gb"):
        q = UQ[day][dim] + (2 if (day, dim) == (17, "users") else 0)  # the seller logged 2 users more
        MET[(day, dim)] = q
        own("metering.csv", "2026-10-%02dT01:00:00Z" % (day + 1) if day < 31 else "2026-11-01T01:00:00Z",
            "mr-%02d-%s,2026-10-%02dT12:00:00Z,%s,pc-usage,%s,%d,Success,,agmt-d1" % (day, dim, day, NUM["B2"], dim, q))
own("metering.csv", "2026-10-11T01:00:00Z", "mr-x1,2026-10-10T13:00:00Z,%s,pc-usage,users,50,CustomerNotSubscribed,," % NUM["B2"])
for dep, acct, vd, amt, cur, trace, dl in (
        ("dep-r2", "R", "2026-10-19", "930.00", "USD", "", d(10, 20)),
        ("dep-i1", "I", "2026-10-23", "11640.00", "USD", "TRC-I1", d(10, 24)),
        ("dep-i2", "I", "2026-10-27", "780.12", "USD", "TRC-I2", d(10, 28)),
        ("dep-r3", "R", "2026-10-29", "236.25", "USD", "", d(10, 30)),
        ("dep-r4", "R", "2026-11-06", "189.00", "USD", "TRC-R4", d(11, 7)),
        ("dep-i4", "I", "2026-11-08", "1567.88", "USD", "TRC-I4", d(11, 9))):
    own("bank_deposits.csv", dl, '%s,%s,%s,%s,%s,%s,"AWS Marketplace, payout"' % (dep, NUM[acct], vd, amt, cur, trace))
OWN_HEAD = {"offers.csv": "offer_id,resale_authorization_id,split_basis,markup_pct,listing_fee_pct",
            "metering.csv": "metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status,license_arn,agreement_id",
            "bank_deposits.csv": "deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference"}
OWN_EOL = {"bank_deposits.csv": "\r\n"}  # the bank's export: CRLF


def night_of(ts):
    for n in (1, 2, 3, 4):
        if ts < CUT[n]:
            return n
    raise SystemExit("row delivered after the last night: " + ts)


def write(dirn, night):
    files = {}
    for who, feed, dl, r in rows:
        if night_of(dl) != night:
            continue
        path = os.path.join(dirn, FOLDER[who], feed, "year=" + dl[:4], "month=" + dl[5:7], "data.csv")
        files.setdefault((path, feed), []).append(r)
    for (path, feed), rs in sorted(files.items()):
        new = not os.path.exists(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, HEADS[feed], lineterminator="\n")
            if new:
                w.writeheader()
            w.writerows(rs)
    for name in OWN_HEAD:
        ls = [l for p, dl, l in OWN if p == name and night_of(dl) == night]
        if not ls:
            continue
        path = os.path.join(dirn, name)
        eol = OWN_EOL.get(name, "\n")
        new = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            if new:
                f.write(OWN_HEAD[name] + eol)
            for l in ls:
                f.write(l[0] + eol)


if __name__ == "__main__":
    write(sys.argv[1], int(sys.argv[2]))
