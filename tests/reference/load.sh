# load.sh — loads an SDDS bucket's data.csv files, as delivered, into text tables for the
# reference queries (bash; source it after tests/lib/harness.sh, which gives `sql` and $DB).
#
#   ref_load DIR   (re)creates schema `ref` with one table per feed of SDDS.md (every column
#                  text, history columns included) and \copy-loads every DIR/**/<feed>_v1/**/data.csv
#                  into its feed's table by the file's own header. Independent of settle's loader:
#                  no validation, no conversion — an empty field is NULL, as the reference
#                  queries' `case when x = '' then null` make it. Prints the rows loaded per feed.
# The reference queries cast amounts and timestamps themselves, as they do in Athena, so a row
# they cannot cast stops them there; such rows are settle's quarantined ones (SPEC §5), and the
# test drops them by billing_event_id before running the queries (ref_drop_quarantined).

_REF_FEEDS="accountfeed_v1 addressfeed_v1 agreementfeed_v1 agreementtermfeed_v1 billingeventfeed_v1
dailyusagefeed_v1 legacyidmappingfeed_v1 offerfeed_v1 offerproductfeed_v1 offertargetfeed_v1
productfeed_v1 taxitemfeed_v1"

ref_load() { # DIR
	local dir=$1 feed cols f hdr
	sql "DROP SCHEMA IF EXISTS ref CASCADE; CREATE SCHEMA ref" >/dev/null || return 1
	for feed in $_REF_FEEDS; do
		# the column lists of SDDS.md, plus the history columns every feed carries
		case $feed in
		accountfeed_v1) cols="account_id, aws_account_id, encrypted_account_id, mailing_address_id, tax_address_id, tax_registration_number, tax_legal_name, catalog" ;;
		addressfeed_v1) cols="address_id, company_name, email_domain, country_code, state_or_region, city, postal_code, valid_to" ;;
		agreementfeed_v1) cols="agreement_id, offer_id, proposer_account_id, acceptor_account_id, start_time, end_time, acceptance_time, intent, preceding_agreement_id, status, status_reason_code, currency_code, estimated_agreement_value, offer_set_id, catalog" ;;
		agreementtermfeed_v1) cols="agreement_id, term_id, term_type, term_configuration" ;;
		billingeventfeed_v1) cols="billing_event_id, from_account_id, to_account_id, end_user_account_id, product_id, action, transaction_type, parent_billing_event_id, disbursement_billing_event_id, amount, currency, balance_impacting, invoice_date, payment_due_date, usage_period_start_date, usage_period_end_date, invoice_id, billing_address_id, transaction_reference_id, bank_trace_id, broker_id, agreement_id, buyer_transaction_reference_id, disbursement_amount, disbursement_currency, disbursement_reference_number, catalog, buyer_invoice_id, invoice_variant, action_date, offer_id, buyer_invoice_date, line_item_id, buyer_line_item_id, charge_variant, charge_side, recipient_account_id" ;;
		dailyusagefeed_v1) cols="usage_feed_id, usage_date, recipient_account_id, payer_account_id, end_user_account_id, product_id, offer_id, agreement_id, dimension_key, usage_unit, usage_quantity, region, charge_item_description, pricing_currency, usage_rate_per_unit_in_pricing_currency, estimated_revenue_in_pricing_currency, catalog" ;;
		legacyidmappingfeed_v1) cols="mapping_type, legacy_id, new_id" ;;
		offerfeed_v1) cols="offer_id, offer_revision, name, expiration_date, opportunity_name, opportunity_description, seller_account_id, opportunity_id, recipient_account_id, catalog" ;;
		offerproductfeed_v1) cols="offer_id, offer_revision, product_id" ;;
		offertargetfeed_v1) cols="offer_target_id, offer_id, offer_revision, target_type, polarity, value, catalog" ;;
		productfeed_v1) cols="product_id, manufacturer_account_id, product_code, title, catalog" ;;
		taxitemfeed_v1) cols="tax_item_id, invoice_id, line_item_id, customer_bill_id, product_id, invoice_date, transaction_reference_id, transaction_type_code, tax_liable_party, tax_type_code, taxed_jurisdiction, tax_jurisdiction_rate, tax_amount, tax_currency, taxed_customer_account_id, taxed_customer_country, taxed_customer_state_or_region, taxed_customer_city, taxed_customer_postal_code, product_tax_code, display_price_taxability_type, date_used_for_tax_calculation, jurisdiction_level, tax_location_code_taxed_jurisdiction, tax_calculation_reason_code, customer_exemption_certificate_id, customer_exemption_certificate_id_domain, customer_exemption_certificate_level, customer_exemption_code, customer_exemption_domain" ;;
		esac
		sql "CREATE TABLE ref.$feed ($(echo "$cols, valid_from, insert_date, update_date, delete_date" |
			sed 's/\([a-z_][a-z_]*\)/\1 text/g'), source_file text)" >/dev/null || return 1
		(cd "$dir" && find . -path "*/${feed}/*" -name data.csv | LC_ALL=C sort) | while read -r f; do
			hdr=$(head -n 1 "$dir/$f" | tr -d '\r\357\273\277')
			"$PG_TEST_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$DB" \
				-c "\\copy ref.$feed ($hdr) FROM '$dir/$f' WITH (FORMAT csv, HEADER true)" \
				-c "UPDATE ref.$feed SET source_file = '${f#./}' WHERE source_file IS NULL" >/dev/null || return 1
		done || return 1
	done
}

ref_counts() { # prints "feed rows" for every non-empty feed table
	local feed n
	for feed in $_REF_FEEDS; do
		n=$(sql "SELECT count(*) FROM ref.$feed")
		[ "$n" = 0 ] || echo "$feed $n"
	done
}

ref_drop_uncastable() { # removes and prints the billing events whose amount the reference
	# queries' cast(amount as decimal(38,6)) cannot read (Athena stops the whole query on them)
	sql "DELETE FROM ref.billingeventfeed_v1
	     WHERE amount !~ '^-?[0-9]+(\.[0-9]+)?$' OR disbursement_amount !~ '^-?[0-9]+(\.[0-9]+)?$'
	     RETURNING source_file || ': ' || billing_event_id || ': amount \"' || amount || '\"'"
}
