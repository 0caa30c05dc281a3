/* test_feed.c — header binding, kind recognition and every row rejection of SPEC §5, table-driven;
 * typed values; messages; the binary COPY encoding of a row. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "feed.h"
#include "pgcopy.h"

/* Parses data (a header and at most one row) and binds/validates it. Writes "OK",
 * "CODE column" / "CODE -" for a row rejection, or "HEADER CODE column|-" for a header one. */
static void verdict(const char *kind, const char *recipient, const char *data, size_t len, char *out, size_t cap,
		    struct feed_value *vals, struct feed_reject *rej)
{
	FILE *f = fmemopen((void *)data, len, "rb");
	struct csv_in *r = csv_in_new(f);
	struct csv_in_record rec;
	struct err e;
	static struct feed_header h;
	const struct feed_kind *k = kind ? feed_kind_by_name(kind) : NULL;
	if (csv_in_next(r, &rec, &e) != CSV_IN_RECORD) {
		snprintf(out, cap, "NO HEADER");
	} else if (feed_header_bind(&h, k, &rec, recipient, rej) < 0) {
		snprintf(out, cap, "HEADER %s %s", rej->code, rej->column ? rej->column : "-");
	} else {
		csv_in_set_fields_max(r, h.nfields + 1);
		if (csv_in_next(r, &rec, &e) != CSV_IN_RECORD)
			snprintf(out, cap, "NO ROW");
		else if (feed_row_validate(&h, &rec, vals, rej) < 0)
			snprintf(out, cap, "%s %s", rej->code, rej->column ? rej->column : "-");
		else
			snprintf(out, cap, "OK");
	}
	csv_in_free(r);
	fclose(f);
}

#define BE_HDR "billing_event_id,recipient_account_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id\n"
#define BE(action, type, amount, cur, date, ref) BE_HDR "e1,111122223333," action "," type "," amount "," cur "," date "," ref "\n"
#define OF_HDR "offer_id,isv_account_id,reseller_account_id,currency,split_basis,markup_pct,isv_share_pct,listing_fee_pct,valid_from,valid_until,pricing_model\n"
#define OF(res, basis, mk, sh, fee, from, until) OF_HDR "o1,444455556666," res ",USD," basis "," mk "," sh "," fee "," from "," until ",\n"
#define MT_HDR "metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status\n"
#define MT(ts, qty, status) MT_HDR "m1," ts ",900000000001,pc1,api," qty "," status "\n"
#define DP_HDR "deposit_id,account_id,value_date,amount,currency,bank_trace_id\n"

#define BE_HDR_V "billing_event_id,recipient_account_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id,valid_from,insert_date\n"
#define BE_HDR_D "billing_event_id,recipient_account_id,action,transaction_type,amount,currency,invoice_date,disbursement_amount,disbursement_currency\n"
#define HIST "valid_from,insert_date,update_date,delete_date"
/* The SDDS feeds' real headers (SDDS.md), history columns last. */
#define SDDS_BE_HDR "billing_event_id,from_account_id,to_account_id,end_user_account_id,product_id,action,transaction_type,parent_billing_event_id,disbursement_billing_event_id,amount,currency,balance_impacting,invoice_date,payment_due_date,usage_period_start_date,usage_period_end_date,invoice_id,billing_address_id,transaction_reference_id,bank_trace_id,broker_id,agreement_id,buyer_transaction_reference_id,disbursement_amount,disbursement_currency,disbursement_reference_number,catalog,buyer_invoice_id,invoice_variant,action_date,offer_id,buyer_invoice_date,line_item_id,buyer_line_item_id,charge_variant,charge_side,recipient_account_id," HIST "\n"
#define ACCOUNT_HDR "account_id,aws_account_id,encrypted_account_id,mailing_address_id,tax_address_id,tax_registration_number,tax_legal_name,catalog," HIST "\n"
#define AGREEMENT_HDR "agreement_id,offer_id,proposer_account_id,acceptor_account_id,start_time,end_time,acceptance_time,intent,preceding_agreement_id,status,status_reason_code,currency_code,estimated_agreement_value,offer_set_id,catalog," HIST "\n"
#define TERM_HDR "agreement_id,term_id,term_type,term_configuration," HIST "\n"
#define OFFERFEED_HDR "offer_id,offer_revision,name,expiration_date,opportunity_name,opportunity_description,seller_account_id,opportunity_id,recipient_account_id,catalog," HIST "\n"
#define OFFERPRODUCT_HDR "offer_id,offer_revision,product_id," HIST "\n"
#define OFFERTARGET_HDR "offer_target_id,offer_id,offer_revision,target_type,polarity,value,catalog," HIST "\n"
#define PRODUCT_HDR "product_id,manufacturer_account_id,product_code,title,catalog," HIST "\n"
#define LEGACY_HDR "mapping_type,legacy_id,new_id," HIST "\n"
#define TAX_HDR "tax_item_id,invoice_id,line_item_id,customer_bill_id,product_id,invoice_date,transaction_reference_id,transaction_type_code,tax_liable_party,tax_type_code,taxed_jurisdiction,tax_jurisdiction_rate,tax_amount,tax_currency,taxed_customer_account_id,taxed_customer_country,taxed_customer_state_or_region,taxed_customer_city,taxed_customer_postal_code,product_tax_code,display_price_taxability_type,date_used_for_tax_calculation,jurisdiction_level,tax_location_code_taxed_jurisdiction,tax_calculation_reason_code,customer_exemption_certificate_id,customer_exemption_certificate_id_domain,customer_exemption_certificate_level,customer_exemption_code,customer_exemption_domain," HIST "\n"
#define TAX_ROW(rate, amount, cur) TAX_HDR "tx1,inv1,li1,cb1,p1,2026-10-05T00:00:00Z,tr1,AWS,Seller,VAT,Germany," rate "," amount "," cur ",b,DE,BY,Munich,80331,AWSMP,Taxable,2026-10-05,Country,DE,Taxable,,,,,,2026-10-05T00:00:00Z,,,\n"
#define USAGE_HDR "usage_feed_id,usage_date,recipient_account_id,payer_account_id,end_user_account_id,product_id,offer_id,agreement_id,dimension_key,usage_unit,usage_quantity,region,charge_item_description,pricing_currency,usage_rate_per_unit_in_pricing_currency,estimated_revenue_in_pricing_currency,catalog," HIST "\n"
#define USAGE_ROW(qty, rate, rev) USAGE_HDR "u1,2026-10-03,r,p,e,p1,of1,ag1,users,Users," qty ",us-east-1,desc,USD," rate "," rev ",c,2026-10-04T00:00:00Z,,,\n"
#define ADDRESS_HDR "address_id,company_name,email_domain,country_code,state_or_region,city,postal_code,valid_from,valid_to,insert_date,update_date,delete_date\n"

static const struct {
	const char *name, *kind, *recipient, *data, *want;
} cases[] = {
	/* accepted */
	{ "be_ok", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "44018.10", "USD", "2026-10-05", "tr-1"), "OK" },
	{ "be_disbursed_without_reference", NULL, NULL, BE("DISBURSED", "DISBURSEMENT", "1", "USD", "2026-10-05", ""), "OK" },
	{ "be_precision_zeros_ok", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1.50000000", "USD", "2026-10-05", "t"), "OK" },
	{ "be_negative_zero_ok", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "-0", "USD", "2026-10-05", "t"), "OK" },
	{ "be_timestamp_forms", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-10-03 12:00:00", "t"), "OK" },
	{ "be_timestamp_offset", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-10-03T12:00:00+02:00", "t"), "OK" },
	{ "be_refund_credit_types", NULL, NULL, BE("INVOICED", "OTHER_SELLER_TAX_SHARE_CREDIT", "1", "JPY", "2026-10-03", "t"), "OK" },
	{ "be_unknown_columns_ignored", NULL, NULL, "billing_event_id,x,recipient_account_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id\ne1,\xff\xfe,r,COLLECTED,DISBURSEMENT,1,USD,2026-10-01,\n", "OK" },
	{ "be_columns_any_order", NULL, NULL, "invoice_date,currency,amount,transaction_type,action,recipient_account_id,billing_event_id\n2026-10-01,EUR,5,AWS_REV_SHARE,DISBURSED,r,e1\n", "OK" },
	/* SPEC §5 codes, one row each */
	{ "field_count_short", NULL, NULL, BE_HDR "e1,r,INVOICED\n", "FIELD_COUNT -" },
	{ "field_count_long", NULL, NULL, BE_HDR "e1,r,INVOICED,SELLER_REV_SHARE,1,USD,2026-10-05,t,extra\n", "FIELD_COUNT -" },
	{ "bad_utf8", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", "t\xC3"), "BAD_UTF8 transaction_reference_id" },
	{ "bad_utf8_overlong", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", "\xC0\xAF"), "BAD_UTF8 transaction_reference_id" },
	{ "bad_utf8_surrogate", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", "\xED\xA0\x80"), "BAD_UTF8 transaction_reference_id" },
	{ "missing_required_amount", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "", "USD", "2026-10-05", "t"), "MISSING_REQUIRED amount" },
	{ "missing_reference_for_invoiced", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", ""), "MISSING_REQUIRED transaction_reference_id" },
	{ "missing_reference_for_forgiven", NULL, NULL, BE("FORGIVEN", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", ""), "MISSING_REQUIRED transaction_reference_id" },
	{ "bad_amount_comma", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "\"12,50\"", "USD", "2026-10-05", "t"), "BAD_AMOUNT amount" },
	{ "bad_amount_space", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", " 12.50", "USD", "2026-10-05", "t"), "BAD_AMOUNT amount" },
	{ "bad_amount_plus", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "+1", "USD", "2026-10-05", "t"), "BAD_AMOUNT amount" },
	{ "bad_amount_exponent", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1e3", "USD", "2026-10-05", "t"), "BAD_AMOUNT amount" },
	{ "bad_amount_symbol", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "$1", "USD", "2026-10-05", "t"), "BAD_AMOUNT amount" },
	{ "bad_amount_dot", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1.", "USD", "2026-10-05", "t"), "BAD_AMOUNT amount" },
	{ "amount_precision", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1.0000001", "USD", "2026-10-05", "t"), "AMOUNT_PRECISION amount" },
	{ "amount_range", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1000000000000", "USD", "2026-10-05", "t"), "AMOUNT_RANGE amount" },
	{ "amount_range_negative", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "-1000000000000.00", "USD", "2026-10-05", "t"), "AMOUNT_RANGE amount" },
	{ "bad_date_calendar", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-02-30", "t"), "BAD_DATE invoice_date" },
	{ "bad_date_hour_24", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-10-03T24:00:00Z", "t"), "BAD_DATE invoice_date" },
	{ "bad_date_us_format", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "10/03/2026", "t"), "BAD_DATE invoice_date" },
	{ "bad_enum_action", NULL, NULL, BE("INVOICE", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", "t"), "BAD_ENUM action" },
	{ "bad_enum_case", NULL, NULL, BE("invoiced", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", "t"), "BAD_ENUM action" },
	{ "bad_enum_type", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE_REFUNDED", "1", "USD", "2026-10-05", "t"), "BAD_ENUM transaction_type" },
	{ "bad_currency_lower", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "usd", "2026-10-05", "t"), "BAD_CURRENCY currency" },
	{ "bad_currency_unknown", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "XXX", "2026-10-05", "t"), "BAD_CURRENCY currency" },
	/* the first problem from the left wins */
	{ "leftmost_problem_first", NULL, NULL, BE("INVOICE", "SELLER_REV_SHARE", "x", "usd", "2026-10-05", "t"), "BAD_ENUM action" },
	{ "file_order_not_kind_order", NULL, NULL, "currency,amount,billing_event_id,recipient_account_id,action,transaction_type,invoice_date\nusd,x,e1,r,INVOICED,SELLER_REV_SHARE,2026-10-01\n", "BAD_CURRENCY currency" },
	{ "byte_problems_before_type", NULL, NULL, BE("INVOICED", "SELLER_REV_SHARE", "1\xC3", "USD", "2026-10-05", "t"), "BAD_UTF8 amount" },
	/* recipient (decision: the cell wins, an empty cell takes --recipient) */
	{ "recipient_option_no_column", NULL, "111122223333", "billing_event_id,action,transaction_type,amount,currency,invoice_date\ne1,DISBURSED,DISBURSEMENT,1,USD,2026-10-05\n", "OK" },
	{ "recipient_missing_column", NULL, NULL, "billing_event_id,action,transaction_type,amount,currency,invoice_date\ne1,DISBURSED,DISBURSEMENT,1,USD,2026-10-05\n", "HEADER MISSING_COLUMN recipient_account_id" },
	{ "recipient_empty_cell", NULL, NULL, BE_HDR "e1,,DISBURSED,DISBURSEMENT,1,USD,2026-10-05,\n", "MISSING_REQUIRED recipient_account_id" },
	{ "recipient_empty_cell_option", NULL, "999", BE_HDR "e1,,DISBURSED,DISBURSEMENT,1,USD,2026-10-05,\n", "OK" },
	/* headers */
	{ "header_missing_columns", NULL, NULL, "billing_event_id,recipient_account_id,action\ne1,r,INVOICED\n", "HEADER MISSING_COLUMN transaction_type" },
	{ "header_duplicate_column", NULL, NULL, "billing_event_id,recipient_account_id,action,transaction_type,amount,amount,currency,invoice_date\n", "HEADER BAD_CSV amount" },
	{ "header_bad_utf8", NULL, NULL, "billing_event_id,\xFF\n", "HEADER BAD_UTF8 -" },
	{ "header_nul", NULL, NULL, "billing_event_id,a\0b\n", "HEADER NUL_BYTE -" },
	{ "header_unknown_kind", NULL, NULL, "foo,bar\n1,2\n", "HEADER MISSING_COLUMN -" },
	{ "header_case_matters", NULL, NULL, "Billing_Event_Id,x\n1,2\n", "HEADER MISSING_COLUMN -" },
	{ "kind_forced_mismatch", "metering", NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", "t"), "HEADER MISSING_COLUMN metering_record_id" },
	/* offers: split rules, percentages, validity */
	{ "offer_direct_ok", NULL, NULL, OF("", "DIRECT", "", "", "3.5", "2026-01-01", "2026-12-31"), "OK" },
	{ "offer_markup_ok", NULL, NULL, OF("111122223333", "MARKUP", "8", "", "0.5", "2026-01-01", ""), "OK" },
	{ "offer_share_ok", NULL, NULL, OF("111122223333", "SHARE", "", "25", "", "", ""), "OK" },
	{ "offer_share_100_ok", NULL, NULL, OF("111122223333", "SHARE", "", "100", "", "", ""), "OK" },
	{ "offer_markup_over_100_ok", NULL, NULL, OF("111122223333", "MARKUP", "150", "", "", "", ""), "OK" },
	{ "offer_direct_with_reseller", NULL, NULL, OF("111122223333", "DIRECT", "", "", "", "", ""), "CONFLICTING_FIELDS reseller_account_id" },
	{ "offer_direct_with_markup", NULL, NULL, OF("", "DIRECT", "8", "", "", "", ""), "CONFLICTING_FIELDS markup_pct" },
	{ "offer_markup_without_reseller", NULL, NULL, OF("", "MARKUP", "8", "", "", "", ""), "OK" }, /* SPEC v2: the feeds may name the reseller */
	{ "offer_markup_without_pct", NULL, NULL, OF("1", "MARKUP", "", "", "", "", ""), "MISSING_REQUIRED markup_pct" },
	{ "offer_markup_with_share", NULL, NULL, OF("1", "MARKUP", "8", "50", "", "", ""), "CONFLICTING_FIELDS isv_share_pct" },
	{ "offer_share_without_pct", NULL, NULL, OF("1", "SHARE", "", "", "", "", ""), "MISSING_REQUIRED isv_share_pct" },
	{ "offer_share_with_markup", NULL, NULL, OF("1", "SHARE", "8", "50", "", "", ""), "CONFLICTING_FIELDS markup_pct" },
	{ "offer_bad_split", NULL, NULL, OF("", "RESALE", "", "", "", "", ""), "BAD_ENUM split_basis" },
	{ "offer_missing_split", NULL, NULL, OF("", "", "", "", "", "", ""), "OK" }, /* SPEC v2: the feeds tell the basis */
	{ "bad_percent_comma", NULL, NULL, OF("1", "MARKUP", "\"8,5\"", "", "", "", ""), "BAD_PERCENT markup_pct" },
	{ "bad_percent_sign", NULL, NULL, OF("1", "MARKUP", "8%", "", "", "", ""), "BAD_PERCENT markup_pct" },
	{ "bad_percent_negative", NULL, NULL, OF("1", "MARKUP", "-1", "", "", "", ""), "BAD_PERCENT markup_pct" },
	{ "bad_percent_precision", NULL, NULL, OF("1", "MARKUP", "8.12345", "", "", "", ""), "BAD_PERCENT markup_pct" },
	{ "bad_percent_share_over_100", NULL, NULL, OF("1", "SHARE", "", "100.0001", "", "", ""), "BAD_PERCENT isv_share_pct" },
	{ "bad_percent_fee_over_100", NULL, NULL, OF("", "DIRECT", "", "", "101", "", ""), "BAD_PERCENT listing_fee_pct" },
	{ "offer_valid_until_before_from", NULL, NULL, OF("", "DIRECT", "", "", "", "2026-12-31", "2026-01-01"), "BAD_DATE valid_until" },
	{ "offer_bad_valid_from", NULL, NULL, OF("", "DIRECT", "", "", "", "2026-13-01", ""), "BAD_DATE valid_from" },
	{ "offer_bad_pricing_model", NULL, NULL, OF_HDR "o1,4,,USD,DIRECT,,,,,,SUBSCRIPTION\n", "BAD_ENUM pricing_model" },
	{ "offer_missing_isv", NULL, NULL, OF_HDR "o1,,,USD,DIRECT,,,,,,\n", "OK" }, /* SPEC v2: the product feed names the ISV */
	/* offer dimensions */
	{ "dimension_ok", NULL, NULL, "offer_id,dimension,unit_price\no1,api,0.000368\n", "OK" },
	{ "dimension_negative_price", NULL, NULL, "offer_id,dimension,unit_price\no1,api,-0.1\n", "AMOUNT_RANGE unit_price" },
	{ "dimension_price_precision", NULL, NULL, "offer_id,dimension,unit_price\no1,api,0.0000001\n", "AMOUNT_PRECISION unit_price" },
	{ "dimension_missing_column", NULL, NULL, "offer_id,dimension\no1,api\n", "HEADER MISSING_COLUMN unit_price" },
	/* metering */
	{ "metering_ok", NULL, NULL, MT("2026-10-01T00:00:00Z", "37266", "Success"), "OK" },
	{ "metering_status_default", NULL, NULL, MT("2026-10-01T00:00:00Z", "0", ""), "OK" },
	{ "metering_quantity_max", NULL, NULL, MT("2026-10-01T00:00:00Z", "2147483647", "Unprocessed"), "OK" },
	{ "metering_quantity_over", NULL, NULL, MT("2026-10-01T00:00:00Z", "2147483648", "Success"), "AMOUNT_RANGE quantity" },
	{ "metering_quantity_huge", NULL, NULL, MT("2026-10-01T00:00:00Z", "99999999999999999999999", "Success"), "AMOUNT_RANGE quantity" },
	{ "metering_quantity_fraction", NULL, NULL, MT("2026-10-01T00:00:00Z", "1.5", "Success"), "BAD_AMOUNT quantity" },
	/* SPEC §3.1 v2: DISBURSED rows without invoice_date, the new columns */
	{ "be_disbursed_dated_by_valid_from", NULL, NULL, BE_HDR_V "e1,r,DISBURSED,DISBURSEMENT,1,USD,,,2026-10-20T00:00:00Z,\n", "OK" },
	{ "be_disbursed_dated_by_insert_date", NULL, NULL, BE_HDR_V "e1,r,DISBURSED,SELLER_REV_SHARE,-1,USD,,,,2026-10-20T00:00:00Z\n", "OK" },
	{ "be_disbursed_undated", NULL, NULL, BE_HDR_V "e1,r,DISBURSED,DISBURSEMENT,1,USD,,,,\n", "MISSING_REQUIRED invoice_date" },
	{ "be_invoiced_undated", NULL, NULL, BE_HDR_V "e1,r,INVOICED,SELLER_REV_SHARE,1,USD,,t,2026-10-20T00:00:00Z,\n", "MISSING_REQUIRED invoice_date" },
	{ "be_invoice_date_column_required", NULL, NULL, "billing_event_id,recipient_account_id,action,transaction_type,amount,currency,valid_from\ne1,r,DISBURSED,DISBURSEMENT,1,USD,2026-10-20\n", "HEADER MISSING_COLUMN invoice_date" },
	{ "be_disbursement_amount", NULL, NULL, BE_HDR_D "e1,r,DISBURSED,DISBURSEMENT,1,USD,2026-10-20,0.92,EUR\n", "OK" },
	{ "be_disbursement_bad_amount", NULL, NULL, BE_HDR_D "e1,r,DISBURSED,DISBURSEMENT,1,USD,2026-10-20,0.92.1,EUR\n", "BAD_AMOUNT disbursement_amount" },
	{ "be_disbursement_bad_currency", NULL, NULL, BE_HDR_D "e1,r,DISBURSED,DISBURSEMENT,1,USD,2026-10-20,0.92,Euro\n", "BAD_CURRENCY disbursement_currency" },
	{ "be_alias_kind", "billingeventfeed_v1", NULL, BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", "t"), "OK" },
	/* SPEC §3.6: the other SDDS feeds, a good row and their rejections */
	{ "account_ok", NULL, NULL, ACCOUNT_HDR "a1,012345678901,e,m,t,n,Name,AWSMarketplace,2026-01-01T00:00:00Z,,,\n", "OK" },
	{ "account_missing_key", NULL, NULL, ACCOUNT_HDR ",012345678901,e,m,t,n,Name,AWSMarketplace,2026-01-01T00:00:00Z,,,\n", "MISSING_REQUIRED account_id" },
	{ "account_bad_valid_from", NULL, NULL, ACCOUNT_HDR "a1,1,e,m,t,n,Name,c,2026-01-32,,,\n", "BAD_DATE valid_from" },
	{ "agreement_ok", NULL, NULL, AGREEMENT_HDR "ag1,of1,p,a,2026-10-01T00:00:00Z,2027-09-30T23:59:59Z,2026-09-28T10:00:00Z,NEW,,ACTIVE,,USD,12000.00,,c,2026-09-28T10:00:00Z,,,\n", "OK" },
	{ "agreement_bad_value", NULL, NULL, AGREEMENT_HDR "ag1,of1,p,a,,,,NEW,,ACTIVE,,USD,\"1,000\",,c,,,,\n", "BAD_AMOUNT estimated_agreement_value" },
	{ "agreement_bad_currency", NULL, NULL, AGREEMENT_HDR "ag1,of1,p,a,,,,NEW,,ACTIVE,,US,1,,c,,,,\n", "BAD_CURRENCY currency_code" },
	{ "agreement_bad_end", NULL, NULL, AGREEMENT_HDR "ag1,of1,p,a,,soon,,NEW,,ACTIVE,,USD,1,,c,,,,\n", "BAD_DATE end_time" },
	{ "term_ok", NULL, NULL, TERM_HDR "ag1,t1,UsageBasedPricingTerm,\"{\"\"currencyCode\"\": \"\"USD\"\", \"\"rateCards\"\": [{\"\"rateCard\"\": [{\"\"dimensionKey\"\": \"\"users\"\", \"\"price\"\": \"\"12.5\"\"}]}]}\",,,,\n", "OK" },
	{ "term_empty_configuration", NULL, NULL, TERM_HDR "ag1,t1,LegalTerm,,,,,\n", "OK" },
	{ "term_bad_json", NULL, NULL, TERM_HDR "ag1,t1,X,\"{\"\"a\"\": }\",,,,\n", "BAD_JSON term_configuration" },
	{ "term_missing_term_id", NULL, NULL, TERM_HDR "ag1,,X,{},,,,\n", "MISSING_REQUIRED term_id" },
	{ "offer_feed_ok", NULL, NULL, OFFERFEED_HDR "of1,1,Name,2026-12-31T00:00:00Z,,,s,resaleauth-1,r,c,2026-09-01T00:00:00Z,,,\n", "OK" },
	{ "offer_feed_missing_revision", NULL, NULL, OFFERFEED_HDR "of1,,Name,,,,s,,r,c,,,,\n", "MISSING_REQUIRED offer_revision" },
	{ "offer_feed_bad_expiration", NULL, NULL, OFFERFEED_HDR "of1,1,Name,never,,,s,,r,c,,,,\n", "BAD_DATE expiration_date" },
	{ "offer_product_ok", NULL, NULL, OFFERPRODUCT_HDR "of1,1,p1,2026-09-01T00:00:00Z,,,\n", "OK" },
	{ "offer_product_missing_product", NULL, NULL, OFFERPRODUCT_HDR "of1,1,,,,,\n", "MISSING_REQUIRED product_id" },
	{ "offer_target_ok", NULL, NULL, OFFERTARGET_HDR "t1,of1,1,BuyerAccounts,Positive,123456789012,c,,,,\n", "OK" },
	{ "offer_target_missing_key", NULL, NULL, OFFERTARGET_HDR ",of1,1,BuyerAccounts,Positive,1,c,,,,\n", "MISSING_REQUIRED offer_target_id" },
	{ "product_ok", NULL, NULL, PRODUCT_HDR "p1,m,pc,\"Title, with comma\",c,2020-05-01T00:00:00Z,,,\n", "OK" },
	{ "product_bad_delete_date", NULL, NULL, PRODUCT_HDR "p1,m,pc,T,c,,,,2020-02-30\n", "BAD_DATE delete_date" },
	{ "legacy_ok", NULL, NULL, LEGACY_HDR "PRODUCT,old,new,,,,\n", "OK" },
	{ "legacy_missing_new", NULL, NULL, LEGACY_HDR "PRODUCT,old,,,,,\n", "MISSING_REQUIRED new_id" },
	{ "tax_ok", NULL, NULL, TAX_ROW("0.0725", "7.25", "USD"), "OK" },
	{ "tax_rate_long_exact", NULL, NULL, TAX_ROW("0.0650000000000000000000000000000001", "7.25", "USD"), "OK" },
	{ "tax_rate_percent_sign", NULL, NULL, TAX_ROW("7.25%", "7.25", "USD"), "BAD_AMOUNT tax_jurisdiction_rate" },
	{ "tax_rate_exponent", NULL, NULL, TAX_ROW("7e-2", "7.25", "USD"), "BAD_AMOUNT tax_jurisdiction_rate" },
	{ "tax_rate_too_many_digits", NULL, NULL, TAX_ROW("0.065000000000000000000000000000000000001", "7.25", "USD"), "AMOUNT_RANGE tax_jurisdiction_rate" },
	{ "tax_amount_precision", NULL, NULL, TAX_ROW("0.0725", "7.2500001", "USD"), "AMOUNT_PRECISION tax_amount" },
	{ "tax_bad_currency", NULL, NULL, TAX_ROW("0.0725", "7.25", "usd"), "BAD_CURRENCY tax_currency" },
	{ "usage_ok", NULL, NULL, USAGE_ROW("1.5", "12.5", "18.75"), "OK" },
	{ "usage_quantity_integer", NULL, NULL, USAGE_ROW("37266", "0.000368", "13.713888"), "OK" },
	{ "usage_quantity_comma", NULL, NULL, USAGE_ROW("\"1,5\"", "12.5", "18.75"), "BAD_AMOUNT usage_quantity" },
	{ "usage_quantity_dot", NULL, NULL, USAGE_ROW(".5", "12.5", "18.75"), "BAD_AMOUNT usage_quantity" },
	{ "usage_rate_precision", NULL, NULL, USAGE_ROW("1", "0.00000001", "0"), "AMOUNT_PRECISION usage_rate_per_unit_in_pricing_currency" },
	{ "usage_bad_revenue", NULL, NULL, USAGE_ROW("1", "1", "$1"), "BAD_AMOUNT estimated_revenue_in_pricing_currency" },
	/* recognition never guesses (SPEC §3) */
	{ "kind_ambiguous", NULL, NULL, "offer_id,dimension,unit_price,split_basis\no1,api,1,DIRECT\n", "HEADER AMBIGUOUS_KIND -" },
	{ "kind_offer_id_alone", NULL, NULL, "offer_id,currency\no1,USD\n", "HEADER MISSING_COLUMN -" },
	{ "kind_address_feed", NULL, NULL, ADDRESS_HDR "a1,C,e,DE,BY,M,1,,,,,\n", "HEADER MISSING_COLUMN -" },
	{ "kind_forced_overrides", "offer_dimension", NULL, "offer_id,dimension,unit_price,split_basis\no1,api,1,DIRECT\n", "OK" },
	{ "metering_quantity_negative", NULL, NULL, MT("2026-10-01T00:00:00Z", "-1", "Success"), "BAD_AMOUNT quantity" },
	{ "metering_bad_status", NULL, NULL, MT("2026-10-01T00:00:00Z", "1", "SUCCESS"), "BAD_ENUM status" },
	{ "metering_bad_timestamp", NULL, NULL, MT("2026-10-01T00:00", "1", "Success"), "BAD_DATE timestamp" },
	/* deposits */
	{ "deposit_ok", NULL, NULL, DP_HDR "d1,4,2026-10-09,-3197.66,USD,\n", "OK" },
	{ "deposit_bad_currency", NULL, NULL, DP_HDR "d1,4,2026-10-09,3197.66,US,\n", "BAD_CURRENCY currency" },
	{ "deposit_missing_value_date", NULL, NULL, DP_HDR "d1,4,,3197.66,USD,\n", "MISSING_REQUIRED value_date" },
};

TEST(table)
{
	struct feed_value vals[FEED_COLUMNS_MAX];
	struct feed_reject rej;
	char got[128];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* "header_nul" embeds a NUL: its length is up to the final newline */
		size_t len = strlen(cases[i].data);
		if (strcmp(cases[i].name, "header_nul") == 0)
			len = sizeof "billing_event_id,a\0b\n" - 1;
		verdict(cases[i].kind, cases[i].recipient, cases[i].data, len, got, sizeof got, vals, &rej);
		if (strcmp(got, cases[i].want) != 0) {
			printf("  case %s: got \"%s\" (%s), want \"%s\"\n", cases[i].name, got,
			       strcmp(got, "OK") ? rej.detail : "", cases[i].want);
			check_failed_++;
		}
	}
}

static const char *detail_of(const char *data)
{
	static struct feed_value vals[FEED_COLUMNS_MAX];
	static struct feed_reject rej;
	char got[128];
	verdict(NULL, NULL, data, strlen(data), got, sizeof got, vals, &rej);
	return rej.detail;
}

TEST(messages)
{
	CHECK_STR(detail_of(BE("INVOICED", "SELLER_REV_SHARE", "\"12,50\"", "USD", "2026-10-05", "t")),
		  "\"12,50\" is not a decimal number");
	CHECK_STR(detail_of(BE("INVOICE", "SELLER_REV_SHARE", "1", "USD", "2026-10-05", "t")),
		  "\"INVOICE\" is not one of INVOICED, FORGIVEN, DISBURSED, COLLECTED");
	CHECK_STR(detail_of(OF("1", "MARKUP", "\"8,5\"", "", "", "", "")),
		  "\"8,5\" is not a decimal number (a percentage like 8 or 3.5, without %)");
	CHECK_STR(detail_of(BE_HDR "e1,r,INVOICED\n"), "the record has 3 fields, the header has 8");
	CHECK_STR(detail_of(BE("INVOICED", "SELLER_REV_SHARE", "1", "usd", "2026-10-05", "t")),
		  "\"usd\" is not a currency settle knows (AUD, BHD, CAD, CHF, EUR, GBP, INR, JPY, KWD, USD)");
	CHECK_STR(detail_of("billing_event_id,recipient_account_id,action\ne1,r,INVOICED\n"),
		  "the billing_event header lacks the required columns \"transaction_type\", \"amount\", "
		  "\"currency\", \"invoice_date\"");
	CHECK(strstr(detail_of(BE("INVOICED", "SELLER_REV_SHARE", "1", "USD", "2026-02-30", "t")),
		     "\"2026-02-30\" is not a valid ISO 8601 date") != NULL);
}

TEST(values)
{
	struct feed_value v[FEED_COLUMNS_MAX];
	struct feed_reject rej;
	char got[128];
	static const char be[] = BE("INVOICED", "SELLER_REV_SHARE", "-40757.5", "USD", "2026-10-05T12:00:00+02:00", "tr");
	verdict(NULL, NULL, be, strlen(be), got, sizeof got, v, &rej);
	REQUIRE(strcmp(got, "OK") == 0);
	const struct feed_kind *k = &feed_kinds[FEED_BILLING_EVENT];
	for (size_t c = 0; c < k->ncols; c++) {
		if (strcmp(k->cols[c].name, "amount") == 0)
			CHECK_I64(v[c].i64, -40757500000);
		if (strcmp(k->cols[c].name, "invoice_date") == 0) /* 2026-10-05T10:00:00Z */
			CHECK_I64(v[c].i64, INT64_C(1791194400) * 1000000);
		if (strcmp(k->cols[c].name, "valid_from") == 0)
			CHECK(!v[c].present);
	}
	static const char of[] = OF("1", "MARKUP", "8", "", "0.5", "2026-01-01T23:30:00-01:00", "");
	verdict(NULL, NULL, of, strlen(of), got, sizeof got, v, &rej);
	REQUIRE(strcmp(got, "OK") == 0);
	k = &feed_kinds[FEED_OFFER];
	for (size_t c = 0; c < k->ncols; c++) {
		if (strcmp(k->cols[c].name, "markup_pct") == 0)
			CHECK_I64(v[c].i64, 80000); /* 8 % = pct × 10^4 */
		if (strcmp(k->cols[c].name, "listing_fee_pct") == 0)
			CHECK_I64(v[c].i64, 5000);
		if (strcmp(k->cols[c].name, "valid_from") == 0) /* 2026-01-02 UTC: the UTC day of the instant */
			CHECK_I64(v[c].i64, 20455);
		if (strcmp(k->cols[c].name, "pricing_model") == 0) /* empty: unstated (sql/016 defaults it) */
			CHECK(!v[c].present);
	}
	static const char mt[] = MT("2026-10-01T00:00:00Z", "7", "");
	verdict(NULL, NULL, mt, strlen(mt), got, sizeof got, v, &rej);
	REQUIRE(strcmp(got, "OK") == 0);
	CHECK(v[6].present && v[6].len == 7 && memcmp(v[6].ptr, "Success", 7) == 0);
	CHECK_I64(v[5].i64, 7);
}

TEST(kind_detection)
{
	static const struct {
		const char *header, *kind;
	} k[] = {
		{ "billing_event_id,x\n", "billing_event" }, { "x,metering_record_id\n", "metering" },
		{ "deposit_id\n", "bank_deposit" },            { "offer_id,unit_price\n", "offer_dimension" },
		{ "offer_id,dimension\n", "offer_dimension" }, { "offer_id,isv_account_id\n", "offer" },
		{ "nothing\n", NULL },
	};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
		FILE *f = fmemopen((void *)k[i].header, strlen(k[i].header), "rb");
		struct csv_in *r = csv_in_new(f);
		struct csv_in_record rec;
		struct err e;
		REQUIRE(csv_in_next(r, &rec, &e) == CSV_IN_RECORD);
		const struct feed_kind *got = feed_kind_detect(&rec);
		CHECK((got == NULL) == (k[i].kind == NULL));
		if (got && k[i].kind)
			CHECK_STR(got->name, k[i].kind);
		csv_in_free(r);
		fclose(f);
	}
}

/* SPEC §3: each kind's real header (SDDS.md for the feeds; settle's own files as documented) is
 * recognised as that kind and no other; the headers that fooled the v1 rule ("offer_id" means
 * offer) no longer do. */
TEST(kind_detection_real_headers)
{
	static const struct {
		const char *header, *kind;
	} k[] = {
		{ SDDS_BE_HDR, "billing_event" },
		{ ACCOUNT_HDR, "accountfeed_v1" },
		{ AGREEMENT_HDR, "agreementfeed_v1" },
		{ TERM_HDR, "agreementtermfeed_v1" },
		{ OFFERFEED_HDR, "offerfeed_v1" },
		{ OFFERPRODUCT_HDR, "offerproductfeed_v1" },
		{ OFFERTARGET_HDR, "offertargetfeed_v1" },
		{ PRODUCT_HDR, "productfeed_v1" },
		{ LEGACY_HDR, "legacyidmappingfeed_v1" },
		{ TAX_HDR, "taxitemfeed_v1" },
		{ USAGE_HDR, "dailyusagefeed_v1" },
		{ ADDRESS_HDR, NULL },
		{ OF_HDR, "offer" },
		{ "offer_id,agreement_id,product_id,product_code,buyer_account_id,isv_account_id,reseller_account_id,resale_authorization_id,currency,pricing_model,split_basis,markup_pct,isv_share_pct,listing_fee_pct,valid_from,valid_until\n", "offer" },
		{ "offer_id,dimension,unit_price\n", "offer_dimension" },
		{ MT_HDR, "metering" },
		{ "metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status,license_arn,agreement_id,submitted_at\n", "metering" },
		{ DP_HDR, "bank_deposit" },
		{ "deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference\n", "bank_deposit" },
	};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
		FILE *f = fmemopen((void *)k[i].header, strlen(k[i].header), "rb");
		struct csv_in *r = csv_in_new(f);
		struct csv_in_record rec;
		struct err e;
		const struct feed_kind *fits[FEED_KINDS_N];
		REQUIRE(csv_in_next(r, &rec, &e) == CSV_IN_RECORD);
		size_t n = feed_kind_fits(&rec, fits, FEED_KINDS_N);
		if (k[i].kind) {
			CHECK_I64(n, 1);
			if (n >= 1)
				CHECK_STR(fits[0]->name, k[i].kind);
		} else {
			CHECK_I64(n, 0);
		}
		/* the header binds to its kind: every required column is there */
		static struct feed_header h;
		struct feed_reject rej;
		if (k[i].kind)
			CHECK(feed_header_bind(&h, NULL, &rec, "111122223333", &rej) == 0 && strcmp(h.kind->name, k[i].kind) == 0);
		csv_in_free(r);
		fclose(f);
	}
	/* kind names: the SDDS feed names, the alias, and no address feed */
	CHECK(feed_kind_by_name("billingeventfeed_v1") == &feed_kinds[FEED_BILLING_EVENT]);
	CHECK(feed_kind_by_name("billing_event") == &feed_kinds[FEED_BILLING_EVENT]);
	CHECK(feed_kind_by_name("dailyusagefeed_v1") == &feed_kinds[FEED_DAILY_USAGE]);
	CHECK(feed_kind_by_name("addressfeed_v1") == NULL);
	CHECK(feed_kind_by_name("billingeventfeed") == NULL);
	CHECK(strstr(feed_kind_names(), "billing_event (billingeventfeed_v1), offer,") == feed_kind_names());
	for (size_t i = 0; i < FEED_KINDS_N; i++) {
		CHECK(feed_kind_by_name(feed_kinds[i].name) == &feed_kinds[i]);
		CHECK(strstr(feed_kind_names(), feed_kinds[i].name) != NULL);
		CHECK_I64(feed_kind_has_recipient(&feed_kinds[i]), i == FEED_BILLING_EVENT);
	}
}

TEST(kind_messages)
{
	CHECK_STR(detail_of("offer_id,dimension,unit_price,split_basis\n"),
		  "cannot tell the kind of the file from its header: it fits 2 kinds (offer, offer_dimension); "
		  "name the kind with --kind");
	CHECK_STR(detail_of("offer_id,offer_revision,x\n"),
		  "cannot tell the kind of the file from its header: it fits no kind; it could be offerfeed_v1 "
		  "(needs offer_id, offer_revision, seller_account_id), offerproductfeed_v1 (needs offer_id, "
		  "offer_revision, product_id); name the kind with --kind");
	CHECK(strstr(detail_of("foo,bar\n"), "it has none of the columns that identify a kind") != NULL);
	CHECK(strstr(detail_of("agreement_id,foo\n"), "agreementfeed_v1 (needs agreement_id, proposer_account_id, "
							"acceptor_account_id), agreementtermfeed_v1 (needs agreement_id, "
							"term_id)") != NULL);
	CHECK(strstr(detail_of("currency,amount\n"), "offer (needs one of isv_account_id") == NULL);
}

/* SPEC §3.1: a DISBURSED row without invoice_date takes valid_from, else insert_date, and says
 * which; a row with its own invoice_date keeps it and says nothing. */
TEST(disbursed_dates)
{
	static struct feed_value v[FEED_COLUMNS_MAX];
	struct feed_reject rej;
	char got[128];
	const struct feed_kind *k = &feed_kinds[FEED_BILLING_EVENT];
	int date = -1, source = -1, vf = -1;
	for (size_t c = 0; c < k->ncols; c++) {
		date = strcmp(k->cols[c].name, "invoice_date") == 0 ? (int)c : date;
		source = strcmp(k->cols[c].name, "invoice_date_source") == 0 ? (int)c : source;
		vf = strcmp(k->cols[c].name, "valid_from") == 0 ? (int)c : vf;
	}
	REQUIRE(date >= 0 && source >= 0 && vf >= 0);
	static const char a[] = BE_HDR_V "e1,r,DISBURSED,DISBURSEMENT,1,USD,,,2026-10-20T00:00:00Z,2026-10-21T00:00:00Z\n";
	verdict(NULL, NULL, a, strlen(a), got, sizeof got, v, &rej);
	REQUIRE(strcmp(got, "OK") == 0);
	CHECK_I64(v[date].i64, v[vf].i64);
	CHECK(v[source].present && v[source].len == 10 && memcmp(v[source].ptr, "valid_from", 10) == 0);
	static const char b[] = BE_HDR_V "e1,r,DISBURSED,DISBURSEMENT,1,USD,,,,2026-10-21T00:00:00Z\n";
	verdict(NULL, NULL, b, strlen(b), got, sizeof got, v, &rej);
	REQUIRE(strcmp(got, "OK") == 0);
	CHECK_I64(v[date].i64, INT64_C(1792540800) * 1000000);
	CHECK(v[source].present && v[source].len == 11 && memcmp(v[source].ptr, "insert_date", 11) == 0);
	static const char c[] = BE_HDR_V "e1,r,DISBURSED,DISBURSEMENT,1,USD,2026-10-05,,2026-10-20T00:00:00Z,\n";
	verdict(NULL, NULL, c, strlen(c), got, sizeof got, v, &rej);
	REQUIRE(strcmp(got, "OK") == 0);
	CHECK(!v[source].present);
	CHECK(strstr(detail_of(BE_HDR_V "e1,r,DISBURSED,DISBURSEMENT,1,USD,,,,\n"),
		     "dated by its valid_from or insert_date, and this row has neither") != NULL);
	/* the derived column goes into the COPY only when the file has a column to derive it from */
	static const char hdr[] = BE_HDR_V;
	FILE *f = fmemopen((void *)hdr, sizeof hdr - 1, "rb");
	struct csv_in *r = csv_in_new(f);
	struct csv_in_record rec;
	struct err e;
	static struct feed_header h;
	char cols[1024];
	REQUIRE(csv_in_next(r, &rec, &e) == CSV_IN_RECORD);
	REQUIRE(feed_header_bind(&h, NULL, &rec, NULL, &rej) == 0);
	feed_copy_columns(&h, cols, sizeof cols);
	CHECK_STR(cols, "file_id, line, recipient_account_id, billing_event_id, action, transaction_type, amount_micros, "
			"currency, invoice_date, transaction_reference_id, valid_from, insert_date, invoice_date_source");
	csv_in_free(r);
	fclose(f);
}

/* The JSON checker accepts what jsonb accepts and names the first bad byte otherwise. */
TEST(json)
{
	static const struct {
		const char *text;
		long at; /* -1: valid */
	} j[] = {
		{ "{}", -1 },
		{ " [1, -0, 0.5, 1e3, 1E-2, 2.5e+10, true, false, null, \"\"] ", -1 },
		{ "{\"a\": {\"b\": [\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"]}}", -1 },
		{ "\"caf\xC3\xA9\"", -1 },
		{ "12", -1 },
		{ "", 0 },
		{ "   ", 3 },
		{ "{", 1 },
		{ "{\"a\"}", 4 },
		{ "{\"a\": 1,}", 8 },
		{ "[1,]", 3 },
		{ "[1 2]", 3 },
		{ "{a: 1}", 1 },
		{ "'a'", 0 },
		{ "01", 1 },
		{ "1.", 2 },
		{ ".5", 0 },
		{ "+1", 0 },
		{ "1e", 2 },
		{ "-", 1 },
		{ "NaN", 0 },
		{ "tru", 0 },
		{ "nul", 0 },
		{ "\"a\nb\"", 2 },
		{ "\"\\x\"", 2 },
		{ "\"\\u12\"", 5 },
		{ "\"\\u0000\"", 1 },
		{ "\"\\udc00\"", 1 },
		{ "\"\\ud800\"", 1 },
		{ "\"\\ud800\\u0041\"", 1 },
		{ "\"abc", 4 },
		{ "{} x", 3 },
		{ "1e1001", 0 },
		{ "1e1000", -1 },
	};
	for (size_t i = 0; i < sizeof j / sizeof j[0]; i++) {
		const char *why = NULL;
		long at = feed_json_invalid_at(j[i].text, strlen(j[i].text), &why);
		if (at != j[i].at) {
			printf("  json case %zu (%s): at %ld (%s), want %ld\n", i, j[i].text, at, why ? why : "", j[i].at);
			check_failed_++;
		}
		CHECK((at < 0) == (why == NULL) || at < 0);
	}
	/* nesting: FEED_JSON_DEPTH_MAX levels, not one more */
	char deep[2 * FEED_JSON_DEPTH_MAX + 8];
	for (int depth = FEED_JSON_DEPTH_MAX; depth <= FEED_JSON_DEPTH_MAX + 1; depth++) {
		size_t n = 0;
		for (int i = 0; i < depth; i++)
			deep[n++] = '[';
		for (int i = 0; i < depth; i++)
			deep[n++] = ']';
		const char *why = NULL;
		CHECK_I64(feed_json_invalid_at(deep, n, &why), depth == FEED_JSON_DEPTH_MAX ? -1 : FEED_JSON_DEPTH_MAX);
	}
}

static int collect_any(void *arg, const char *buf, size_t len, struct err *e);

/* numeric's binary form for a FEED_DECIMAL, and jsonb's for a FEED_JSON. */
TEST(encode_numeric_jsonb)
{
	static const struct {
		const char *text;
		unsigned char want[32];
		size_t n;
	} d[] = {
		/* len 8+2n | ndigits | weight | sign | dscale | digits (base 10000) */
		{ "1.5", { 0, 0, 0, 12, 0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x88 }, 16 },        /* 1 . 5000 */
		{ "0.065", { 0, 0, 0, 10, 0, 1, 0xFF, 0xFF, 0, 0, 0, 3, 0x02, 0x8A }, 14 },      /* w -1: 0650 */
		{ "-12345.6", { 0, 0, 0, 14, 0, 3, 0, 1, 0x40, 0, 0, 1, 0, 1, 0x09, 0x29, 0x17, 0x70 }, 18 }, /* 1 2345 . 6000 */
		{ "0", { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0 }, 12 },
		{ "-0.00", { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2 }, 12 },
		{ "10000", { 0, 0, 0, 10, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1 }, 14 },                   /* 1 0000: trailing zero dropped */
		{ "0.00000001", { 0, 0, 0, 10, 0, 1, 0xFF, 0xFE, 0, 0, 0, 8, 0, 1 }, 14 },      /* . 0000 0001: w -2 */
	};
	for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
		struct { char b[256]; size_t n; } out = { { 0 }, 0 };
		struct copy_out c;
		REQUIRE(copy_out_init(&c, 64 * 1024, collect_any, &out) == 0);
		struct feed_header h;
		memset(&h, 0, sizeof h);
		h.kind = &feed_kinds[FEED_TAX_ITEM];
		int rate = -1;
		for (size_t k = 0; k < h.kind->ncols; k++)
			if (strcmp(h.kind->cols[k].name, "tax_jurisdiction_rate") == 0)
				rate = (int)k;
		REQUIRE(rate >= 0);
		h.sent[rate] = 1;
		h.sent_n = 1;
		struct feed_value v[FEED_COLUMNS_MAX];
		memset(v, 0, sizeof v);
		v[rate] = (struct feed_value){ 1, d[i].text, strlen(d[i].text), 0 };
		feed_row_encode(&h, 1, 2, v, &c);
		CHECK(copy_out_flush(&c, NULL) == 0);
		/* skip the tuple header (2) and file_id, line (12 each) */
		if (out.n != 26 + d[i].n || memcmp(out.b + 26, d[i].want, d[i].n) != 0) {
			printf("  numeric case %s: got", d[i].text);
			for (size_t b = 26; b < out.n; b++)
				printf(" %02x", (unsigned char)out.b[b]);
			printf("\n");
			check_failed_++;
		}
		copy_out_release(&c);
	}
	struct { char b[256]; size_t n; } out = { { 0 }, 0 };
	struct copy_out c;
	REQUIRE(copy_out_init(&c, 64 * 1024, collect_any, &out) == 0);
	struct feed_header h;
	memset(&h, 0, sizeof h);
	h.kind = &feed_kinds[FEED_AGREEMENT_TERM];
	h.sent[3] = 1; /* term_configuration */
	h.sent_n = 1;
	REQUIRE(strcmp(h.kind->cols[3].name, "term_configuration") == 0);
	struct feed_value v[FEED_COLUMNS_MAX];
	memset(v, 0, sizeof v);
	v[3] = (struct feed_value){ 1, "{}", 2, 0 };
	feed_row_encode(&h, 1, 2, v, &c);
	CHECK(copy_out_flush(&c, NULL) == 0);
	static const unsigned char want[] = { 0, 0, 0, 3, 1, '{', '}' };
	CHECK(out.n == 26 + sizeof want && memcmp(out.b + 26, want, sizeof want) == 0);
	copy_out_release(&c);
}

TEST(unknown_columns_listed)
{
	static const char data[] = "offer_id,dimension,unit_price,note,\"x y\"\n";
	FILE *f = fmemopen((void *)data, sizeof data - 1, "rb");
	struct csv_in *r = csv_in_new(f);
	struct csv_in_record rec;
	struct err e;
	struct feed_header h;
	struct feed_reject rej;
	REQUIRE(csv_in_next(r, &rec, &e) == CSV_IN_RECORD);
	REQUIRE(feed_header_bind(&h, NULL, &rec, NULL, &rej) == 0);
	CHECK_I64(h.unknown_n, 2);
	CHECK_STR(h.unknown_list, "\"note\", \"x y\"");
	csv_in_free(r);
	fclose(f);
}

TEST(utf8)
{
	CHECK(feed_utf8_invalid_at("plain ascii text", 16) == -1);
	CHECK(feed_utf8_invalid_at("caf\xC3\xA9", 5) == -1);
	CHECK(feed_utf8_invalid_at("\xE2\x82\xAC", 3) == -1);          /* € */
	CHECK(feed_utf8_invalid_at("\xF0\x9F\x98\x80", 4) == -1);      /* 😀 */
	CHECK(feed_utf8_invalid_at("\xF4\x8F\xBF\xBF", 4) == -1);      /* U+10FFFF */
	CHECK(feed_utf8_invalid_at("ab\x80", 3) == 2);                  /* lone continuation */
	CHECK(feed_utf8_invalid_at("\xC3", 1) == 0);                    /* truncated */
	CHECK(feed_utf8_invalid_at("12345678\xE2\x82", 10) == 8);       /* truncated after a fast run */
	CHECK(feed_utf8_invalid_at("\xC1\xBF", 2) == 0);                /* overlong */
	CHECK(feed_utf8_invalid_at("\xE0\x80\xAF", 3) == 0);            /* overlong */
	CHECK(feed_utf8_invalid_at("\xED\xBF\xBF", 3) == 0);            /* surrogate */
	CHECK(feed_utf8_invalid_at("\xF4\x90\x80\x80", 4) == 0);        /* > U+10FFFF */
	CHECK(feed_utf8_invalid_at("\xF5\x80\x80\x80", 4) == 0);
}

TEST(quote)
{
	char q[FEED_QUOTE_MAX * 4 + 8];
	CHECK_STR(feed_quote("12,50", 5, q, sizeof q), "\"12,50\"");
	CHECK_STR(feed_quote("a\tb\n", 4, q, sizeof q), "\"a\\x09b\\x0A\"");
	char long_value[100];
	memset(long_value, 'x', sizeof long_value);
	long_value[63] = '\xC3'; /* a 2-byte sequence across the cut: not split */
	long_value[64] = '\xA9';
	feed_quote(long_value, sizeof long_value, q, sizeof q);
	CHECK_I64(strlen(q), 1 + 63 + 1 + 3);
	CHECK(strcmp(q + strlen(q) - 4, "\"...") == 0);
}

static int collect(void *arg, const char *buf, size_t len, struct err *e)
{
	(void)e;
	struct { char b[256]; size_t n; } *out = arg;
	memcpy(out->b + out->n, buf, len);
	out->n += len;
	return 0;
}

static int collect_any(void *arg, const char *buf, size_t len, struct err *e)
{
	(void)e;
	struct { char b[256]; size_t n; } *out = arg;
	memcpy(out->b + out->n, buf, len);
	out->n += len;
	return 0;
}

TEST(encode)
{
	struct { char b[256]; size_t n; } out = { { 0 }, 0 };
	struct copy_out c;
	REQUIRE(copy_out_init(&c, 64 * 1024, collect, &out) == 0);
	static const char hdr[] = "unit_price,dimension,offer_id\n";
	FILE *f = fmemopen((void *)hdr, sizeof hdr - 1, "rb");
	struct csv_in *r = csv_in_new(f);
	struct csv_in_record rec;
	struct err e;
	static struct feed_header h;
	struct feed_reject rej;
	REQUIRE(csv_in_next(r, &rec, &e) == CSV_IN_RECORD);
	REQUIRE(feed_header_bind(&h, NULL, &rec, NULL, &rej) == 0);
	csv_in_free(r);
	fclose(f);
	char cols[256];
	feed_copy_columns(&h, cols, sizeof cols);
	CHECK_STR(cols, "file_id, line, offer_id, dimension, unit_price_micros");
	struct feed_value v[3] = { { 1, "o1", 2, 0 }, { 0, NULL, 0, 0 }, { 1, NULL, 0, 368 } };
	feed_row_encode(&h, 7, 2, v, &c);
	CHECK(copy_out_flush(&c, NULL) == 0);
	static const unsigned char want[] = {
		0, 5,                                   /* 5 fields */
		0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7,     /* file_id */
		0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2,     /* line */
		0, 0, 0, 2, 'o', '1',                   /* offer_id */
		0xFF, 0xFF, 0xFF, 0xFF,                 /* dimension NULL */
		0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 0x70,  /* unit_price_micros 368 */
	};
	CHECK_I64(out.n, sizeof want);
	CHECK(memcmp(out.b, want, sizeof want) == 0);
	/* timestamptz and date shift to PostgreSQL's 2000-01-01 epoch */
	out.n = 0;
	copy_out_timestamptz(&c, INT64_C(946684800000000));
	copy_out_date(&c, 10958);
	CHECK(copy_out_flush(&c, NULL) == 0);
	static const unsigned char want2[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1 };
	CHECK(out.n == sizeof want2 && memcmp(out.b, want2, sizeof want2) == 0);
	copy_out_release(&c);
}

/* Only the columns a file can fill go into the COPY; the rest stay the table's NULL. */
TEST(copy_columns_of_a_file)
{
	static const char hdr[] = "billing_event_id,action,transaction_type,amount,currency,invoice_date\n";
	FILE *f = fmemopen((void *)hdr, sizeof hdr - 1, "rb");
	struct csv_in *r = csv_in_new(f);
	struct csv_in_record rec;
	struct err e;
	static struct feed_header h;
	struct feed_reject rej;
	char cols[1024];
	REQUIRE(csv_in_next(r, &rec, &e) == CSV_IN_RECORD);
	REQUIRE(feed_header_bind(&h, NULL, &rec, "111122223333", &rej) == 0);
	feed_copy_columns(&h, cols, sizeof cols);
	CHECK_STR(cols, "file_id, line, recipient_account_id, billing_event_id, action, transaction_type, "
			"amount_micros, currency, invoice_date");
	csv_in_free(r);
	fclose(f);
}

/* The per-column cache gives the same values as parsing, row after row, and never keeps a bad
 * value. */
TEST(cache)
{
	static const char data[] = MT_HDR
		"m1,2026-10-01T00:00:00Z,9,pc1,api,1,Success\n"
		"m2,2026-10-01T00:00:00Z,9,pc1,api,2,Success\n"
		"m3,2026-10-01T01:00:00Z,9,pc1,api,3,Unprocessed\n"
		"m4,2026-10-01T0X:00:00Z,9,pc1,api,4,Unprocessed\n"
		"m5,2026-10-01T01:00:00Z,9,pc1,api,5,Unprocessed\n";
	static const int64_t want_hour[] = { 1790812800, 1790812800, 1790816400, -1, 1790816400 };
	FILE *f = fmemopen((void *)data, sizeof data - 1, "rb");
	struct csv_in *r = csv_in_new(f);
	struct csv_in_record rec;
	struct err e;
	static struct feed_header h;
	struct feed_reject rej;
	struct feed_value v[FEED_COLUMNS_MAX];
	REQUIRE(csv_in_next(r, &rec, &e) == CSV_IN_RECORD);
	REQUIRE(feed_header_bind(&h, NULL, &rec, NULL, &rej) == 0);
	for (int i = 0; i < 5; i++) {
		REQUIRE(csv_in_next(r, &rec, &e) == CSV_IN_RECORD);
		int rc = feed_row_validate(&h, &rec, v, &rej);
		if (want_hour[i] < 0) {
			CHECK(rc < 0 && strcmp(rej.code, FEED_BAD_DATE) == 0);
			continue;
		}
		REQUIRE(rc == 0);
		CHECK_I64(v[1].i64, want_hour[i] * 1000000);
		CHECK(v[1].ptr == rec.fields[1].ptr); /* borrowed from this row, not the cached one */
		CHECK(v[6].len == (i < 2 ? 7u : 11u));
	}
	csv_in_free(r);
	fclose(f);
}

int main(void)
{
	RUN(table);
	RUN(messages);
	RUN(values);
	RUN(kind_detection);
	RUN(kind_detection_real_headers);
	RUN(kind_messages);
	RUN(disbursed_dates);
	RUN(json);
	RUN(encode_numeric_jsonb);
	RUN(unknown_columns_listed);
	RUN(utf8);
	RUN(quote);
	RUN(encode);
	RUN(copy_columns_of_a_file);
	RUN(cache);
	return CHECK_EXIT;
}
