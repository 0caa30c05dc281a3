#!/usr/bin/env bash
# test_ingest_sdds.sh — every SDDS feed kind (SPEC §3.1, §3.6) from files in the marketplace's own
# column sets (fixtures/ingest/sdds/, written from SDDS.md): one file of each kind through
# `settle ingest --kind ...`, stored and rejected counts, the rejections (bad JSON, amounts,
# dates, currencies, missing keys), each feed's as-of function on versions and deletes of its
# key, the account identity in both forms (SPEC §1), DISBURSED rows without invoice_date, a
# payout line without reference and a placeholder trace id as reconcile reads them.
set -u
. "$TOP/fixtures/ingest/lib.sh"
ingest_test_init ingest_sdds
S=$FIX/sdds
SELLER=xk0CSmiAm6PQ4QqEog9iiaochIzuPlkMfba7a1oDlZ
BUYER=bZ9m2aUXQp1RkfMwYvT7cL8sJ3dN0hEgGiKoW4xyzA

# ingest_kind KIND FILE WANT: exit code, loaded/rejected counts and the rejections of one file
ingest_kind() {
	st ingest --kind "$1" "$S/$2"
	local id
	id=$(last_file_id)
	check "$1: exit, counts, rejections" "$3" \
		"exit=$rc $(q "SELECT kind || ' loaded=' || rows_loaded || ' rejected=' || rows_rejected FROM settle.ingest_file WHERE file_id = $id") $(rejections "$id" | tr '\n' ' ')"
}

ingest_kind billingeventfeed_v1 billingeventfeed.csv "exit=4 billing_event loaded=5 rejected=4 7:invoice_date:MISSING_REQUIRED 8:amount:BAD_AMOUNT 9:invoice_date:BAD_DATE 10:disbursement_currency:BAD_CURRENCY "
be1=$(last_file_id)
T1=$(q "SELECT ingested_at FROM settle.ingest_file WHERE file_id = $be1")
ingest_kind accountfeed_v1 accountfeed.csv "exit=4 accountfeed_v1 loaded=9 rejected=2 11:account_id:MISSING_REQUIRED 12:valid_from:BAD_DATE "
ingest_kind agreementfeed_v1 agreementfeed.csv "exit=4 agreementfeed_v1 loaded=4 rejected=2 4:estimated_agreement_value:BAD_AMOUNT 5:start_time:BAD_DATE "
ingest_kind agreementtermfeed_v1 agreementtermfeed.csv "exit=4 agreementtermfeed_v1 loaded=5 rejected=4 5:term_configuration:BAD_JSON 6:term_configuration:BAD_JSON 7:term_configuration:BAD_JSON 8:term_configuration:BAD_JSON "
ingest_kind offerfeed_v1 offerfeed.csv "exit=4 offerfeed_v1 loaded=4 rejected=1 6:offer_revision:MISSING_REQUIRED "
ingest_kind offerproductfeed_v1 offerproductfeed.csv "exit=0 offerproductfeed_v1 loaded=5 rejected=0 "
ingest_kind offertargetfeed_v1 offertargetfeed.csv "exit=4 offertargetfeed_v1 loaded=3 rejected=1 5:offer_target_id:MISSING_REQUIRED "
ingest_kind productfeed_v1 productfeed.csv "exit=0 productfeed_v1 loaded=4 rejected=0 "
ingest_kind legacyidmappingfeed_v1 legacyidmappingfeed.csv "exit=4 legacyidmappingfeed_v1 loaded=3 rejected=1 5:new_id:MISSING_REQUIRED "
ingest_kind taxitemfeed_v1 taxitemfeed.csv "exit=4 taxitemfeed_v1 loaded=3 rejected=3 5:tax_jurisdiction_rate:BAD_AMOUNT 6:tax_amount:AMOUNT_PRECISION 7:tax_currency:BAD_CURRENCY "
ingest_kind dailyusagefeed_v1 dailyusagefeed.csv "exit=4 dailyusagefeed_v1 loaded=4 rejected=2 5:usage_quantity:BAD_AMOUNT 6:usage_rate_per_unit_in_pricing_currency:AMOUNT_PRECISION "
check "bad JSON: quarantined with the byte and the reason" \
	"is not valid JSON at byte 24: an object key must be a string|is not valid JSON at byte 12: \\u0000 cannot be stored (PostgreSQL's jsonb)" \
	"$(q "SELECT string_agg(detail, '|' ORDER BY line) FROM settle.rejected_row WHERE code = 'BAD_JSON' AND line IN (5, 6)")"
T=$(q "SELECT max(ingested_at) FROM settle.ingest_file")

# The address feed is not a kind (SPEC §3.6): its header fits none, --kind does not name it.
st ingest "$S/addressfeed.csv"
check "address feed: rejected whole" "4 t" "$rc $(q "SELECT file_rejected FROM settle.ingest_file WHERE file_id = $(last_file_id)")"
grep -q 'cannot tell the kind of the file from its header: it has none of the columns' "$WORK/out" &&
	pass "address feed: the message says no kind fits it" || fail "address feed: the message says no kind fits it" "$(cat "$WORK/out")"
st ingest --kind addressfeed_v1 "$S/addressfeed.csv"
check "address feed: --kind addressfeed_v1 is a usage error" "2" "$rc"

# As-of functions: versions and deletes on each feed's key.
check "account: newest valid_from, newest update_date, deletes" \
	"$BUYER=Buyer GmbH cN4kq7TzB2vXw9PyL0aHsD3fR6gJ8mE1uQ5iO7tYbC=No Number Ltd dT5hW2nQ8kZ1xC7vB4mL9pR3sF6gJ0aE2yU8iO5tKq=Tie updated $SELLER=Seller Corp" \
	"$(q "SELECT string_agg(account_id || '=' || tax_legal_name, ' ' ORDER BY account_id) FROM settle.sdds_account_asof('$T')")"
check "agreement: the amendment, a deleted agreement gone" "agmt-1111 AMEND 6000000000 2027-03-31" \
	"$(q "SELECT string_agg(agreement_id || ' ' || intent || ' ' || estimated_agreement_value_micros || ' ' || (end_time AT TIME ZONE 'UTC')::date, '|') FROM settle.sdds_agreement_asof('$T')")"
check "agreement term: jsonb read by PostgreSQL, the newer rate card" "term-legal-1 term-usage-1 | 0.000368 | https://example.com/eula é😀" \
	"$(q "SELECT string_agg(term_id, ' ' ORDER BY term_id) FROM settle.sdds_agreement_term_asof('$T')") | $(q "SELECT term_configuration #>> '{rateCards,0,rateCard,1,price}' FROM settle.sdds_agreement_term_asof('$T') WHERE term_id = 'term-usage-1'") | $(q "SELECT term_configuration #>> '{documents,0,url}' FROM settle.sdds_agreement_term_asof('$T') WHERE term_id = 'term-legal-1'")"
check "offer: per (offer_id, offer_revision), update_date wins a tie" \
	"offer-1111/1=Private offer for Buyer GmbH (renamed) offer-1111/2=Private offer for Buyer GmbH v2 offer-5555/1=CPPO via reseller:resaleauth-1" \
	"$(q "SELECT string_agg(offer_id || '/' || offer_revision || '=' || name || coalesce(':' || opportunity_id, ''), ' ' ORDER BY offer_id, offer_revision) FROM settle.sdds_offer_asof('$T')")"
check "offer product: a deleted pair gone" "offer-1111/1/prod-aaaa1111 offer-1111/2/prod-aaaa1111 offer-5555/1/prod-aaaa1111" \
	"$(q "SELECT string_agg(offer_id || '/' || offer_revision || '/' || product_id, ' ' ORDER BY offer_id, offer_revision, product_id) FROM settle.sdds_offer_product_asof('$T')")"
check "offer target: the newer version" "tgt-1=123456789012 tgt-2=000012345678" \
	"$(q "SELECT string_agg(offer_target_id || '=' || value, ' ' ORDER BY offer_target_id) FROM settle.sdds_offer_target_asof('$T')")"
check "product: the newer title, a deleted product gone" "prod-aaaa1111=Analytics Suite Pro" \
	"$(q "SELECT string_agg(product_id || '=' || title, ' ' ORDER BY product_id) FROM settle.sdds_product_asof('$T')")"
check "legacy ids: per (mapping_type, legacy_id)" "OFFER/legacy-offer-77=offer-5555 PRODUCT/0a1b2c3d-legacy-product=prod-aaaa1111" \
	"$(q "SELECT string_agg(mapping_type || '/' || legacy_id || '=' || new_id, ' ' ORDER BY mapping_type, legacy_id) FROM settle.sdds_legacy_id_mapping_asof('$T')")"
check "tax items: rates exact, amounts in micros" "tax-1=0.19:19000000 tax-2=0.065:650000" \
	"$(q "SELECT string_agg(tax_item_id || '=' || tax_jurisdiction_rate || ':' || tax_amount_micros, ' ' ORDER BY tax_item_id) FROM settle.sdds_tax_item_asof('$T')")"
check "tax items: the older version kept exactly as delivered" "0.065000000001" \
	"$(q "SELECT tax_jurisdiction_rate FROM settle.sdds_tax_item WHERE tax_item_id = 'tax-2' ORDER BY line LIMIT 1")"
check "daily usage: fractional quantities exact, money in micros" "uf-1=1.5:12500000:18750000 uf-2=37266:368:13713888 uf-5=0:12500000:0" \
	"$(q "SELECT string_agg(usage_feed_id || '=' || usage_quantity || ':' || usage_rate_per_unit_in_pricing_currency_micros || ':' || estimated_revenue_in_pricing_currency_micros, ' ' ORDER BY usage_feed_id) FROM settle.sdds_daily_usage_asof('$T')")"
check "as of before a feed's file: nothing of it" "0" \
	"$(q "SELECT count(*) FROM settle.sdds_account_asof('$T1')")"

# Billing events: the new columns, DISBURSED rows dated by valid_from else insert_date.
check "billing: disbursement amount and currency, catalog, buyer columns" "73600000 EUR AWSMarketplace | btr-1 bli-1 2026-10-05" \
	"$(q "SELECT disbursement_amount_micros || ' ' || disbursement_currency || ' ' || catalog FROM settle.billing_event WHERE billing_event_id = 'be-pay-1'") | $(q "SELECT buyer_transaction_reference_id || ' ' || buyer_line_item_id || ' ' || (buyer_invoice_date AT TIME ZONE 'UTC')::date FROM settle.billing_event WHERE billing_event_id = 'be-inv-1'")"
check "billing: DISBURSED rows without invoice_date dated, the source said" \
	"be-dl-1=2026-10-20 03:00:00:insert_date be-dl-2=2026-10-20 03:00:00:insert_date be-inv-1=2026-10-05 00:00:00:file be-pay-1=2026-10-20 00:00:00:valid_from" \
	"$(q "SELECT string_agg(billing_event_id || '=' || (invoice_date AT TIME ZONE 'UTC') || ':' || coalesce(invoice_date_source, 'file'), ' ' ORDER BY billing_event_id) FROM settle.billing_event WHERE billing_event_id IN ('be-inv-1', 'be-pay-1', 'be-dl-1', 'be-dl-2')")"
check "billing: a placeholder trace id is stored as delivered" "EMEA_MP_TEST_TRACE_ID" \
	"$(q "SELECT bank_trace_id FROM settle.billing_event WHERE billing_event_id = 'be-pay-1'")"
st ingest --kind billing_event "$S/billingeventfeed-2.csv"
T2=$(q "SELECT ingested_at FROM settle.ingest_file WHERE file_id = $(last_file_id)")
check "billing: a version differing only in a new column is a new version" "bli-1b" \
	"$(q "SELECT buyer_line_item_id FROM settle.billing_event_asof('$T2') WHERE billing_event_id = 'be-inv-1'")"
check "billing: an identical row again changes nothing" "$be1 3" \
	"$(q "SELECT file_id || ' ' || line FROM settle.billing_event_asof('$T2') WHERE billing_event_id = 'be-inv-2'")"
check "billing: deleted by a later version" "0 1" \
	"$(q "SELECT count(*) FROM settle.billing_event_asof('$T2') WHERE billing_event_id = 'be-pay-1'") $(q "SELECT count(*) FROM settle.billing_event_asof('$T1') WHERE billing_event_id = 'be-pay-1'")"
check "billing: billing_event_current = billing_event_asof" "0 0" \
	"$(q "SET work_mem = '64MB'; SELECT (SELECT count(*) FROM (SELECT * FROM settle.billing_event_asof('$T2') EXCEPT ALL SELECT * FROM settle.billing_event_current('$T2')) x) || ' ' || (SELECT count(*) FROM (SELECT * FROM settle.billing_event_current('$T2') EXCEPT ALL SELECT * FROM settle.billing_event_asof('$T2')) y)")"

# Reconcile reads a payout line without reference under its parent's reference, and a
# placeholder trace id as none (as of the first billing file: the payout is not deleted yet).
st reconcile --period 2026-10 --as-of "$T1"
check "reconcile runs" "0" "$rc"
run=$(q "SELECT max(run_id) FROM settle.run")
check "payout lines without reference settle their parents' charge" "tr-1=DISBURSED" \
	"$(q "SELECT string_agg(transaction_reference_id || '=' || disbursement_status, ' ' ORDER BY transaction_reference_id) FROM settle.charge_group WHERE run_id = $run")"
check "a placeholder trace id counts as none" "be-pay-1::SETTLED" \
	"$(q "SELECT payout_id || ':' || coalesce(bank_trace_id, '') || ':' || status FROM settle.disbursement WHERE run_id = $run")"

# Account ids in two forms (SPEC §1).
ak() { q "SELECT settle.account_key('$1', '$T')"; }
check "identity: the 42-character id -> the 12-digit number" "111122223333 000012345678" "$(ak "$SELLER") $(ak "$BUYER")"
check "identity: the number, with or without its leading zeros" "000012345678 000012345678 111122223333" \
	"$(ak 12345678) $(ak 000012345678) $(ak 111122223333)"
check "identity: an account without a number, or unknown: the id as given" \
	"cN4kq7TzB2vXw9PyL0aHsD3fR6gJ8mE1uQ5iO7tYbC someone-else 000000000042" \
	"$(ak cN4kq7TzB2vXw9PyL0aHsD3fR6gJ8mE1uQ5iO7tYbC) $(ak someone-else) $(ak 42)"
check "identity: a deleted account is no longer mapped" "eR7jK3mN9bV2cX5zL8qW1pT4sG6hF0dA3yU9iO2tPw 777788889999" \
	"$(ak eR7jK3mN9bV2cX5zL8qW1pT4sG6hF0dA3yU9iO2tPw) $(ak 777788889999)"
check "identity: as of before the account feed, nothing is mapped" "$SELLER" \
	"$(q "SELECT settle.account_key('$SELLER', '$T1')")"
check "names: tax_legal_name for either form" "Buyer GmbH|Buyer GmbH|Seller Corp|" \
	"$(q "SELECT settle.account_name('$BUYER', '$T') || '|' || settle.account_name('12345678', '$T') || '|' || settle.account_name('111122223333', '$T') || '|' || coalesce(settle.account_name('nobody', '$T'), '')")"
check "the map: both forms of every current account" "7" "$(q "SELECT count(*) FROM settle.account_map('$T')")"
check "a join over the map: both forms of the buyer meet" "2 000012345678" \
	"$(q "SELECT count(*) || ' ' || min(coalesce(m.account_key, settle.account_pad(x.id))) FROM (VALUES ('$BUYER'), ('12345678')) x (id)
	      LEFT JOIN settle.account_map('$T') m ON m.id = settle.account_pad(x.id)")"

# Exact decimals go to PostgreSQL in numeric's binary form (src/feed.c): every shape of number
# reads back as PostgreSQL's own parse of the same text.
rates="0 0.0 -0.00 1 -1 0010 10000 100000000 12345.6789 -12345.6 0.5 0.00000001 0.065000000001 99999999999999999999999999999999999999 -0.0000000000000000000000000000000000001 1234.00001000"
{
	echo "tax_item_id,tax_jurisdiction_rate"
	i=0
	for r in $rates; do i=$((i + 1)); echo "rate-$i,$r"; done
} >"$WORK/rates.csv"
st ingest --kind taxitemfeed_v1 "$WORK/rates.csv"
check "decimals: every shape stored" "0" "$rc"
check "decimals: numeric's binary form = PostgreSQL's own parse" "" \
	"$(q "SELECT string_agg(t.tax_item_id || ': ' || t.tax_jurisdiction_rate || ' <> ' || v.r::numeric, ', ')
	      FROM settle.sdds_tax_item t JOIN unnest(string_to_array('$rates', ' ')) WITH ORDINALITY v (r, i) ON t.tax_item_id = 'rate-' || v.i
	      WHERE t.tax_jurisdiction_rate::text <> v.r::numeric::text")"
