#!/usr/bin/env bash
# test_reference_queries.sh — settle's report figures against the marketplace's own reference
# queries for the seller data feeds (aws-samples/aws-marketplace-api-samples,
# seller-data-feeds/queries: billed revenue, collections and disbursements, taxation, usage),
# translated to PostgreSQL in tests/reference/*.sql and run on the same raw rows: each bucket's
# data.csv files are \copy-loaded into text tables (tests/reference/load.sh), independently of
# settle's loader, after `settle nightly` read the same bucket. Buckets (tests/reference/buckets.sh):
# fixtures/sdds-bucket, the documented CPPO example (opaque account ids), the offer-terms feeds
# (every feed in its real column set; a second night brings later revisions of a tax item and a
# daily usage row), the months bucket (four nights: forgiveness and refunds in a later month,
# failures in both formats, a paid currency, a late row, a revision across month end, a later
# payout whose lines carry no reference), a bench/gen month, and the real bucket (tests/reference/realbucket.py: a reseller and an ISV, four nights at pinned as-of instants, figures also checked by hand in check_real). docs/reference-queries.md maps each query to settle's files and explains every
# place where settle differs on purpose.
#
# Every check is a query that lists the rows where the two disagree: PASS when it lists none.
# Differences that are settle's bugs are printed as KNOWN lines (no PASS/FAIL, so the suite stays
# green) and listed in docs/reference-queries.md ("Known differences") until fixed; none today
# beyond those documented there.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init refq
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
# shellcheck source=../reference/buckets.sh
. "$TOP/tests/reference/buckets.sh"
# shellcheck source=../reference/load.sh
. "$TOP/tests/reference/load.sh"
REF_GEN_EVENTS=${REF_GEN_EVENTS:-2000} # 20000: ~10 min, see docs/reference-queries.md

psqlf() { "$PG_TEST_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$DB" -f "$1" >/dev/null 2>"$work/psql.err"; }

# settle's report CSVs of every period directory, as text tables st_<file> with a period column
load_settle_reports() { # OUTDIR
	local out=$1 f name hdr
	for name in allocations payouts disbursements aging exceptions metering tax; do
		hdr=
		for f in "$out"/*/"$name.csv"; do
			[ -f "$f" ] || continue
			hdr=$(head -n 1 "$f")
			break
		done
		[ -n "$hdr" ] || continue
		sql "DROP TABLE IF EXISTS ref.st_$name CASCADE; CREATE TABLE ref.st_$name ($(echo "$hdr" |
			sed 's/\([a-z_][a-z_]*\)/\1 text/g'))" >/dev/null || return 1
		for f in "$out"/*/"$name.csv"; do
			case $f in *.restated/*) continue ;; esac
			"$PG_TEST_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$DB" \
				-c "\\copy ref.st_$name FROM '$f' WITH (FORMAT csv, HEADER true)" >/dev/null || return 1
		done
	done
}

# one check: QUERY lists disagreeing rows; PASS when it lists none, else FAIL with the rows
agree() { # CASE QUERY
	local rows
	if ! rows=$("$PG_TEST_BINDIR/psql" -X -q -A -F ' | ' -v ON_ERROR_STOP=1 "$DB" -c "$2" 2>&1); then
		ko "$bucket: $1 (query failed)"
		printf '%s\n' "$rows" | sed 's/^/  /'
		return
	fi
	if [ "$(printf '%s\n' "$rows" | tail -n 1)" = "(0 rows)" ]; then
		ok "$bucket: $1"
	else
		ko "$bucket: $1"
		printf '%s\n' "$rows" | sed 's/^/  /'
	fi
}
# a documented difference: prints the rows as KNOWN lines, asserts nothing
known() { # CASE QUERY
	local line
	"$PG_TEST_BINDIR/psql" -X -q -A -t -F ' | ' "$DB" -c "$2" 2>&1 | while IFS= read -r line; do
		printf 'KNOWN: %s: %s: %s: %s\n' "$T" "$bucket" "$1" "$line"
	done
}

# The comparison views over ref.* (reference) and ref.st_* (settle's CSVs). Accounts: the
# reference keeps the feeds' account ids; settle shows the 12-digit number where the account feed
# knows it (SPEC §1), so the reference side is mapped through the account feed first.
compare_views() {
	sql "
CREATE OR REPLACE FUNCTION ref.acct(id text) RETURNS text LANGUAGE sql STABLE AS \$\$
	SELECT coalesce((SELECT lpad(a.aws_account_id, 12, '0') FROM ref.accountfeed_v1 a
	                 WHERE a.account_id = id AND coalesce(a.aws_account_id, '') <> ''
	                 ORDER BY a.valid_from DESC LIMIT 1), id) \$\$;
-- SPEC §4 tol: one minor unit of the currency (SPEC §2)
CREATE OR REPLACE FUNCTION ref.tol(cur text) RETURNS numeric LANGUAGE sql IMMUTABLE AS \$\$
	SELECT CASE WHEN cur = 'JPY' THEN 1 WHEN cur IN ('KWD', 'BHD') THEN 0.001 ELSE 0.01 END \$\$;
CREATE OR REPLACE FUNCTION ref.num(t text) RETURNS numeric LANGUAGE sql IMMUTABLE AS
	\$\$ SELECT coalesce(nullif(t, ''), '0')::numeric \$\$;
-- the reference's billed revenue per charge group (SPEC §4.1: recipient, reference, currency,
-- period), from its line items; net without what settle never counts in a net (marketplace tax
-- even when balance-impacting, other sellers' tax, balance adjustments: SPEC §4.1)
-- A line item's invoiced totals are window sums over the line item (billed_revenue_report.sql,
-- line_items_with_window_functions), repeated on each of its report rows: a line item whose rows
-- differ in a grouped column (an end user on one row only, say) has several rows with the same
-- totals. They are taken once per line item, then summed per charge group.
CREATE OR REPLACE VIEW ref.ref_line AS
SELECT silent_internal_report_transaction AS line, min(ref_period) AS period,
       ref.acct(recipient_account_id) AS recipient, transaction_reference_id AS tr, currency,
       min(offer_id) AS offer_id,
       max(revenue_exact) AS revenue, max(cogs_exact) AS cogs, max(listing_fee_exact) AS listing_fee,
       max(seller_tax_exact) AS seller_tax, max(aws_tax_exact) AS aws_tax,
       max(seller_net_revenue_exact - aws_tax_balance_impacting_exact - other_seller_tax_exact - adjustment_exact) AS net,
       -- SPEC §4.5's remainder: every type but the AWS_TAX_SHARE family (balance adjustments and
       -- other sellers' tax included, unlike a net)
       max(undisbursed_net_revenue_exact - aws_tax_balance_impacting_exact) AS undisbursed,
       max(aws_tax_balance_impacting_exact) AS aws_tax_balance_impacting,
       string_agg(DISTINCT disbursement_status, ',' ORDER BY disbursement_status) AS statuses,
       string_agg(ref_billing_event_ids, ' ' ORDER BY ref_billing_event_ids) AS events
FROM ref.billed_revenue_line
GROUP BY 1, 3, 4, 5;
-- A line item's amounts per month of its own rows' invoice_date (ref.categorized_row: the
-- report's rows before line_items_aggregated, INVOICED/FORGIVEN rows only): SPEC §1 and §4.1 put a
-- row in the month of its invoice_date, so a line item whose forgiveness or refund is dated in a
-- later month is one report line but two charge groups (docs/reference-queries.md, Line items
-- across months). For a line within one month these are its report totals.
CREATE OR REPLACE VIEW ref.ref_line_month AS
SELECT internal_buyer_invoice_line_item_surrogate_id_with_currency AS line,
       to_char(invoice_date AT TIME ZONE 'UTC', 'YYYY-MM') AS period,
       ref.acct(recipient_account_id) AS recipient,
       coalesce(buyer_transaction_reference_id, transaction_reference_id) AS tr, currency,
       min(coalesce(offer_id, 'Not available')) AS offer_id,
       sum(gross_revenue + gross_refund) AS revenue, sum(cogs + cogs_refund) AS cogs,
       sum(aws_rev_share + aws_refund_share) AS listing_fee,
       sum(seller_tax_share + seller_tax_share_refund + wholesale_seller_tax_share + wholesale_seller_tax_share_refund) AS seller_tax,
       sum(aws_tax_share + aws_tax_share_refund + aws_tax_share_listing_fee + wholesale_aws_tax_share) AS aws_tax,
       sum(aws_tax_share_balance_impacting + aws_tax_share_refund_balance_impacting) AS aws_tax_balance_impacting
FROM ref.categorized_row
WHERE disbursement_id_or_invoiced_or_collected = '<invoiced>'
GROUP BY 1, 2, 3, 4, 5;
-- Per charge group: the amounts by month of the rows; what is a line item's as a whole (its
-- undisbursed net revenue and status) in the line's first month, as the report shows the line once.
CREATE OR REPLACE VIEW ref.ref_group AS
WITH m AS (SELECT period, recipient, tr, currency, min(offer_id) AS offer_id,
                  sum(revenue) AS revenue, sum(cogs) AS cogs, sum(listing_fee) AS listing_fee,
                  sum(seller_tax) AS seller_tax, sum(aws_tax) AS aws_tax,
                  sum(revenue + cogs + listing_fee + seller_tax) AS net,
                  sum(aws_tax_balance_impacting) AS aws_tax_balance_impacting
           FROM ref.ref_line_month GROUP BY 1, 2, 3, 4),
     l AS (SELECT period, recipient, tr, currency, min(offer_id) AS offer_id, sum(undisbursed) AS undisbursed,
                  string_agg(DISTINCT statuses, ',' ORDER BY statuses) AS statuses,
                  string_agg(events, ' ' ORDER BY events) AS events
           FROM ref.ref_line GROUP BY 1, 2, 3, 4)
SELECT period, recipient, tr, currency, coalesce(m.offer_id, l.offer_id) AS offer_id,
       coalesce(m.revenue, 0) AS revenue, coalesce(m.cogs, 0) AS cogs, coalesce(m.listing_fee, 0) AS listing_fee,
       coalesce(m.seller_tax, 0) AS seller_tax, coalesce(m.aws_tax, 0) AS aws_tax, coalesce(m.net, 0) AS net,
       l.undisbursed, coalesce(m.aws_tax_balance_impacting, 0) AS aws_tax_balance_impacting, l.statuses, l.events,
       -- SPEC §4.5 keeps the remainder per reference (every line, every month): the report per
       -- line item, so a refund on its own invoice line leaves the charged line undisbursed
       sum(l.undisbursed) OVER (PARTITION BY recipient, tr, currency) AS undisbursed_ref
FROM m FULL JOIN l USING (period, recipient, tr, currency);
-- payouts that failed in the older format (failure linked by parent_billing_event_id, no
-- reversal lines of its own): the report counts their lines disbursed (it reads each line's own
-- payout row), settle not (SPEC §4.5); per reference, what the report counts paid by them
CREATE OR REPLACE VIEW ref.old_failure_paid AS
SELECT ref.acct(c.recipient_account_id) AS recipient, c.transaction_reference_id AS tr,
       sum(c.seller_net_revenue_exact) AS paid
FROM ref.collections_line c
JOIN ref.st_disbursements d ON d.id = c.disbursement_id AND d.status = 'FAILED'
JOIN ref.st_disbursements f ON f.id = d.failed_by AND f.link = 'PARENT' AND f.lines = '0'
GROUP BY 1, 2;
-- line items whose INVOICED/FORGIVEN rows fall in more than one month
CREATE OR REPLACE VIEW ref.ref_line_spanning AS
SELECT line, recipient, tr, currency, string_agg(period || ' B ' || revenue || ' F ' || listing_fee
       || ' T ' || seller_tax || ' X ' || aws_tax, '; ' ORDER BY period) AS months
FROM ref.ref_line_month GROUP BY 1, 2, 3, 4 HAVING count(*) > 1;
-- billing events the report drops by its agreement filter (billing_event_with_business_flags keeps
-- a row only when the agreement feed has its agreement_id): settle keeps them (SPEC §4.2 NO_OFFER)
-- and counts their taxes in tax.csv (SPEC §4.1 T, X)
CREATE OR REPLACE VIEW ref.agreement_dropped AS
SELECT * FROM (
	SELECT DISTINCT ON (b.billing_event_id) b.billing_event_id, b.action, b.agreement_id, b.delete_date,
	       to_char(b.invoice_date::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM') AS period, b.currency,
	       b.transaction_type, b.amount::numeric(38,6) AS amount
	FROM ref.billingeventfeed_v1 b
	ORDER BY b.billing_event_id, b.update_date::timestamptz DESC NULLS LAST) cur
WHERE action IN ('INVOICED', 'FORGIVEN') AND coalesce(agreement_id, '') <> '' AND coalesce(delete_date, '') = ''
  AND NOT EXISTS (SELECT 1 FROM ref.categorized_row c WHERE c.billing_event_id = cur.billing_event_id);
-- settle's allocations per charge group, and the part of the recipient itself
CREATE OR REPLACE VIEW ref.st_group AS
SELECT period, recipient_account_id AS recipient, transaction_reference_id AS tr, currency,
       min(offer_id) AS offer_id, min(match_rule) AS match_rule,
       sum(ref.num(revenue)) AS revenue, sum(ref.num(listing_fee)) AS listing_fee,
       sum(ref.num(seller_tax)) AS seller_tax, sum(ref.num(net)) AS net_all,
       sum(ref.num(net)) FILTER (WHERE party_account_id = recipient_account_id) AS net_recipient,
       sum(ref.num(revenue)) FILTER (WHERE party_role = 'ISV' AND party_account_id <> recipient_account_id) AS isv_wholesale,
       count(*) AS parties,
       bool_or(offer_id IN (SELECT offer_id FROM ref.offer_file WHERE split_basis = 'SHARE')) AS share
FROM ref.st_allocations
GROUP BY 1, 2, 3, 4;" >/dev/null
}

run_bucket() { # NAME: build, nightly, load, run the reference queries, compare
	bucket=$1
	local dir=$work/$bucket out=$work/$bucket.reports rc q
	DB=$(pg_test_createdb "refq_$bucket") || { ko "$bucket: create a database"; return 1; }
	case $bucket in
	sdds) ref_bucket_sdds "$dir" ;;
	cppo) ref_bucket_cppo "$dir" ;;
	terms) ref_bucket_terms "$dir" ;;
	months) ref_bucket_months "$dir" ;;
	gen) ref_bucket_gen "$dir" "$REF_GEN_EVENTS" ;;
	real) ref_bucket_real "$dir" 1 ;;
	esac || { ko "$bucket: build the bucket"; return 1; }
	local asof=() n
	[ "$bucket" = real ] && asof=(--as-of "${REF_REAL_ASOF[1]}")
	settle nightly --inbox "$dir" --out "$out" "${asof[@]}" >"$work/$bucket.n1.log" 2>&1
	rc=$?
	check "$bucket: settle nightly succeeds (exit 0, or 4 for quarantined rows)" test "$rc" = 0 -o "$rc" = 4
	[ "$rc" = 0 ] || [ "$rc" = 4 ] || sed 's/^/  /' "$work/$bucket.n1.log"
	if [ "$bucket" = terms ]; then # night 2: the marketplace revises a tax item and a usage day
		ref_bucket_terms_night2 "$dir"
		settle nightly --inbox "$dir" --out "$out" >"$work/$bucket.n2.log" 2>&1
		rc=$?
		check "$bucket: night 2 (appended revisions) succeeds" test "$rc" = 0
		[ "$rc" = 0 ] || sed 's/^/  /' "$work/$bucket.n2.log"
	fi
	if [ "$bucket" = months ]; then # night 2: November's file, with a row of October arriving late
		ref_bucket_months_night2 "$dir"
		settle nightly --inbox "$dir" --out "$out" >"$work/$bucket.n2.log" 2>&1
		rc=$?
		check "$bucket: night 2 (November's file) succeeds" test "$rc" = 0
		[ "$rc" = 0 ] || sed 's/^/  /' "$work/$bucket.n2.log"
		check "$bucket: night 2 writes October again (a charge of 2026-10-30 delivered in November) and November" \
			grep -q 'periods written: 2026-10 2026-11' "$work/$bucket.n2.log"
		ref_bucket_months_night3 "$dir" # a revision moves a charge from October to November
		settle nightly --inbox "$dir" --out "$out" >"$work/$bucket.n3.log" 2>&1
		rc=$?
		check "$bucket: night 3 (a revision across month end) succeeds" test "$rc" = 0
		[ "$rc" = 0 ] || sed 's/^/  /' "$work/$bucket.n3.log"
		check "$bucket: night 3 writes October (the month the charge leaves) and November" \
			grep -q 'periods written: 2026-10 2026-11' "$work/$bucket.n3.log"
		ref_bucket_months_night4 "$dir" # November pays an October charge, lines without reference
		settle nightly --inbox "$dir" --out "$out" >"$work/$bucket.n4.log" 2>&1
		rc=$?
		check "$bucket: night 4 (a November payout of an October charge) succeeds" test "$rc" = 0
		[ "$rc" = 0 ] || sed 's/^/  /' "$work/$bucket.n4.log"
		check "$bucket: night 4 writes October (the charge's status) and November (the payout)" \
			grep -q 'periods written: 2026-10 2026-11' "$work/$bucket.n4.log"
	fi
	if [ "$bucket" = real ]; then # the month's files grow night by night, rows arrive late
		for n in 2 3 4; do
			[ "$n" = 3 ] && cp "$out/2026-10/aging.csv" "$work/real.aging.n2.csv"
			# an accountant looks back at the first night's October between nights 3 and 4
			[ "$n" = 4 ] && settle report --period 2026-10 --as-of "${REF_REAL_ASOF[1]}" --out "$work/real.old" >/dev/null 2>&1
			ref_bucket_real "$dir" "$n" || { ko "$bucket: build night $n"; return 1; }
			settle nightly --inbox "$dir" --out "$out" --as-of "${REF_REAL_ASOF[$n]}" >"$work/$bucket.n$n.log" 2>&1
			rc=$?
			check "$bucket: night $n succeeds" test "$rc" = 0
			[ "$rc" = 0 ] || sed 's/^/  /' "$work/$bucket.n$n.log"
		done
		check "$bucket: nights 1-2 write October, nights 3-4 October and November (a charge of 2026-10-30 in November's file, October payouts failing in November)" \
			test "$(grep -ho 'periods written: .*' "$work"/real.n[1-4].log | tr '\n' ';')" = \
			"periods written: 2026-10;periods written: 2026-10;periods written: 2026-10 2026-11;periods written: 2026-10 2026-11;"
		# night 4's new exceptions are October's two failed payouts (pay-i5, pay-r5): the report of the
		# first night's as-of run in between is not the previous run
		check "$bucket: night 4: 2 new and 5 carried-over exceptions, whatever was reported as of an earlier instant in between" \
			grep -q 'into .*: 2 new and 5 carried-over exceptions,' "$work/real.n4.log"
	fi
	ref_load "$dir" || { ko "$bucket: load the raw files"; return 1; }
	# rows the reference queries cannot cast are settle's quarantined ones
	local dropped nrej
	dropped=$(ref_drop_uncastable | wc -l)
	nrej=$(sql "SELECT count(*) FROM settle.rejected_row r JOIN settle.ingest_file f USING (file_id) WHERE f.kind = 'billing_event'")
	check "$bucket: the rows the reference queries cannot cast ($dropped) are the rows settle quarantined ($nrej)" \
		test "$dropped" = "$nrej"
	for q in billed_revenue collections_and_disbursements taxation usage; do
		psqlf "$TOP/tests/reference/$q.sql" || { ko "$bucket: reference query $q"; sed 's/^/  /' "$work/psql.err"; return 1; }
	done
	load_settle_reports "$out" || { ko "$bucket: load settle's reports"; return 1; }
	# settle's own offer file says which offers split by SHARE (no feed does, SPEC §3.2)
	local ohdr="offer_id,split_basis"
	[ -f "$dir/offers.csv" ] && ohdr=$(head -n 1 "$dir/offers.csv")
	sql "CREATE TABLE ref.offer_file ($(echo "$ohdr" | sed 's/\([a-z_][a-z_]*\)/\1 text/g'))" >/dev/null
	[ -f "$dir/offers.csv" ] && "$PG_TEST_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$DB" \
		-c "\\copy ref.offer_file FROM '$dir/offers.csv' WITH (FORMAT csv, HEADER true)" >/dev/null
	sql "ALTER TABLE ref.offer_file ADD COLUMN IF NOT EXISTS offer_id text, ADD COLUMN IF NOT EXISTS split_basis text" >/dev/null
	compare_views || { ko "$bucket: comparison views"; return 1; }
	compare_all
	[ "$bucket" = real ] && check_real
	[ "$bucket" = terms ] || { compare_tax_usage; return; }
	# Night 2 brought only tax item and daily usage revisions: nightly re-reports the month they
	# touch (settle.periods_touched, SPEC §6), so 2026-10 shows them without a `settle report`.
	check "$bucket: night 2 re-reported 2026-10 (the period of the revised tax item and usage day)" \
		grep -Eq 'periods written: ([^ ,]+ )*2026-10( |,|$)' "$work/$bucket.n2.log"
	check "$bucket: night 2's tax.csv has the revised tax item (t3: DE VAT 50.00)" \
		test "$(sql "SELECT string_agg(tax_amount, ',') FROM ref.st_tax WHERE period = '2026-10' AND jurisdiction = 'DE' AND tax_type = 'VAT'")" = 50.00
	check "$bucket: night 2's metering.csv has the revised usage day (users recorded 300)" \
		test "$(sql "SELECT string_agg(recorded_quantity, ',') FROM ref.st_metering WHERE usage_month = '2026-10' AND dimension = 'users'")" = 300
	compare_tax_usage
}

compare_all() {
	# ---- billed_revenue_report.sql against allocations.csv (SPEC §4.1, §4.3)
	agree "billed revenue = allocations: gross revenue B, listing fee F, seller tax T per charge group" "
		SELECT r.period, r.recipient, r.tr, r.currency, r.revenue AS ref_b, s.revenue AS settle_b,
		       r.listing_fee AS ref_f, s.listing_fee AS settle_f, r.seller_tax AS ref_t, s.seller_tax AS settle_t
		FROM ref.ref_group r JOIN ref.st_group s USING (period, recipient, tr, currency)
		WHERE r.revenue <> s.revenue OR r.listing_fee <> s.listing_fee OR r.seller_tax <> s.seller_tax"
	agree "billed revenue wholesale cost (COGS) = the ISV's part in the seller of record's MARKUP group (SPEC §4.3 W = -C)" "
		SELECT r.period, r.recipient, r.tr, r.currency, r.cogs AS ref_cogs, s.isv_wholesale AS settle_isv_revenue
		FROM ref.ref_group r JOIN ref.st_group s USING (period, recipient, tr, currency)
		WHERE r.cogs <> 0 AND NOT s.share AND s.isv_wholesale IS DISTINCT FROM -r.cogs"
	agree "billed revenue wholesale cost = the ISV's part of a SHARE group within tol, else SPLIT_VARIANCE (SPEC §4.3)" "
		SELECT r.period, r.recipient, r.tr, r.currency, r.cogs AS ref_cogs, s.isv_wholesale AS settle_isv_revenue
		FROM ref.ref_group r JOIN ref.st_group s USING (period, recipient, tr, currency)
		WHERE r.cogs <> 0 AND s.share AND abs(s.isv_wholesale + r.cogs) > ref.tol(r.currency)
		  AND NOT EXISTS (SELECT 1 FROM ref.st_exceptions e WHERE e.code = 'SPLIT_VARIANCE' AND e.reference = r.tr)"
	agree "billed revenue seller net = the recipient's own net in allocations.csv (DIRECT, MARKUP, the ISV's own feed)" "
		SELECT r.period, r.recipient, r.tr, r.currency, r.net AS ref_net, s.net_recipient AS settle_net, s.parties
		FROM ref.ref_group r JOIN ref.st_group s USING (period, recipient, tr, currency)
		JOIN ref.st_allocations a ON a.period = s.period AND a.recipient_account_id = s.recipient
		     AND a.transaction_reference_id = s.tr AND a.currency = s.currency AND a.party_account_id = s.recipient
		WHERE r.net IS DISTINCT FROM s.net_recipient AND NOT s.share" # SHARE: below
	agree "a line item whose rows fall in several months (forgiven or refunded later): settle's group of each month = the line's rows of that month (SPEC §1, §4.1)" "
		SELECT m.period, m.recipient, m.tr, m.currency, m.revenue AS ref_b, s.revenue AS settle_b,
		       m.listing_fee AS ref_f, s.listing_fee AS settle_f, m.seller_tax AS ref_t, s.seller_tax AS settle_t
		FROM ref.ref_group m LEFT JOIN ref.st_group s USING (period, recipient, tr, currency)
		WHERE (m.recipient, m.tr, m.currency) IN (SELECT recipient, tr, currency FROM ref.ref_line_spanning)
		  AND (m.revenue <> 0 OR m.listing_fee <> 0 OR m.seller_tax <> 0)
		  AND (s.tr IS NULL OR m.revenue <> s.revenue OR m.listing_fee <> s.listing_fee OR m.seller_tax <> s.seller_tax)"
	known "line items of the billed revenue report whose rows fall in several months: one report line, one charge group per month in settle (SPEC §1, §4.1)" "
		SELECT recipient, tr, currency, months FROM ref.ref_line_spanning ORDER BY 1, 2, 3 LIMIT 5"
	agree "every charge group settle allocated is a line of the billed revenue report" "
		SELECT s.period, s.recipient, s.tr, s.currency FROM ref.st_group s
		LEFT JOIN ref.ref_group r USING (period, recipient, tr, currency) WHERE r.tr IS NULL"
	agree "every billed revenue group settle did not allocate is an exception (SPEC §4.2, §3.2) or has nothing to allocate" "
		SELECT r.period, r.recipient, r.tr, r.currency, r.offer_id, r.revenue, r.listing_fee, r.seller_tax
		FROM ref.ref_group r LEFT JOIN ref.st_group s USING (period, recipient, tr, currency)
		WHERE s.tr IS NULL AND (r.revenue <> 0 OR r.listing_fee <> 0 OR r.seller_tax <> 0)
		  AND NOT EXISTS (SELECT 1 FROM ref.st_exceptions e WHERE e.period = r.period
		                  AND (e.reference = r.tr OR e.reference = r.offer_id OR e.offer_id = r.offer_id))"
	known "charge groups settle reports NO_OFFER that the reference drops (agreement_id unknown to the agreement feed: billing_event_with_business_flags keeps only rows whose agreement it finds)" "
		SELECT e.period, e.recipient_account_id, e.reference, e.agreement_id, e.currency, 'settle_actual=' || e.actual
		FROM ref.st_exceptions e WHERE e.code = 'NO_OFFER'
		  AND NOT EXISTS (SELECT 1 FROM ref.ref_group r WHERE r.tr = e.reference AND r.recipient = e.recipient_account_id)
		ORDER BY 1, 2, 3 LIMIT 5"
	known "SHARE groups: the seller of record's net in allocations.csv is its share of B + F + T, the reference's is B + C + F + T (SPEC §4.3 SHARE)" "
		SELECT r.period, r.recipient, r.tr, r.currency, 'ref_net=' || r.net, 'settle_recipient_net=' || s.net_recipient,
		       'settle_all_parties_net=' || s.net_all, 'ref_cogs=' || r.cogs
		FROM ref.ref_group r JOIN ref.st_group s USING (period, recipient, tr, currency)
		WHERE s.share AND r.net IS DISTINCT FROM s.net_recipient
		ORDER BY 1, 2, 3 LIMIT 5"
	known "marketplace tax counted in the reference's seller net (balance_impacting = 1 on AWS_TAX_SHARE): never in settle's (SPEC §4.1 X)" "
		SELECT period, recipient, tr, currency, 'aws_tax_balance_impacting=' || aws_tax_balance_impacting
		FROM ref.ref_group WHERE aws_tax_balance_impacting <> 0 ORDER BY 1, 2, 3 LIMIT 5"

	# ---- billed_revenue_report.sql (undisbursed, disbursement status) against aging.csv (SPEC §4.5, §4.8)
	agree "billed revenue undisbursed net revenue of the reference's line items = aging.csv remainder, per charge group (SPEC §4.5: per reference)" "
		SELECT r.period, r.recipient, r.tr, r.currency, r.undisbursed_ref AS ref_undisbursed, a.remainder AS settle_remainder,
		       r.statuses AS ref_status, a.disbursement_status AS settle_status, o.paid AS ref_paid_by_old_failed_payouts
		FROM ref.ref_group r JOIN ref.st_aging a ON a.period = r.period AND a.recipient_account_id = r.recipient
		     AND a.transaction_reference_id = r.tr AND a.currency = r.currency
		LEFT JOIN ref.old_failure_paid o ON o.recipient = r.recipient AND o.tr = r.tr
		WHERE r.undisbursed_ref + coalesce(o.paid, 0) <> ref.num(a.remainder)"
	agree "billed revenue disbursement status = aging.csv status (Not disbursed/Partially disbursed/Failed)" "
		SELECT r.period, r.recipient, r.tr, r.currency, r.statuses AS ref_status, a.disbursement_status AS settle_status
		FROM ref.ref_group r JOIN ref.st_aging a ON a.period = r.period AND a.recipient_account_id = r.recipient
		     AND a.transaction_reference_id = r.tr AND a.currency = r.currency
		WHERE NOT (r.statuses = CASE a.disbursement_status WHEN 'NOT_DISBURSED' THEN 'Not disbursed'
		           WHEN 'PARTIAL' THEN 'Partially disbursed' WHEN 'FAILED' THEN 'Failed' END
		        OR (a.disbursement_status = 'PARTIAL' AND r.statuses LIKE '%Partially disbursed%')
		        OR (a.disbursement_status = 'FAILED' AND r.statuses LIKE '%Failed%')
		        -- a failure of the current feeds gives the payout's lines back (reversal lines): the
		        -- report calls the line reversed, SPEC §4.5 FAILED (remainder due, failure latest)
		        OR (a.disbursement_status = 'FAILED' AND r.statuses LIKE '%Disbursement reversed%')
		        -- part paid, then a later payout of the rest failed: the report's line is partly
		        -- disbursed, SPEC §4.5 FAILED (the remainder is compared above)
		        OR (a.disbursement_status = 'FAILED' AND r.statuses = 'Partially disbursed')
		        -- an older-format failure: the report shows its payout's lines disbursed
		        OR (a.disbursement_status = 'FAILED' AND r.statuses = 'Disbursed'
		            AND EXISTS (SELECT 1 FROM ref.old_failure_paid o WHERE o.recipient = r.recipient AND o.tr = r.tr)))"
	agree "a group the reference reports with money still due is in aging.csv, and one it reports disbursed is not" "
		SELECT r.period, r.recipient, r.tr, r.currency, r.undisbursed_ref, r.statuses, a.disbursement_status
		FROM ref.ref_group r JOIN ref.st_group s USING (period, recipient, tr, currency)
		LEFT JOIN ref.st_aging a ON a.period = r.period AND a.recipient_account_id = r.recipient
		     AND a.transaction_reference_id = r.tr AND a.currency = r.currency
		WHERE (a.transaction_reference_id IS NULL AND r.undisbursed_ref > 0.01 AND r.statuses <> 'Disbursed')
		   OR (a.transaction_reference_id IS NOT NULL AND r.statuses = 'Disbursed'
		       AND NOT (a.disbursement_status = 'FAILED'
		                AND EXISTS (SELECT 1 FROM ref.old_failure_paid o WHERE o.recipient = r.recipient AND o.tr = r.tr)))"

	# ---- billed_revenue_report.sql summed per recipient against payouts.csv (SPEC §4.4)
	agree "billed revenue seller net per recipient = payouts.csv net of that party (its own feed, SPEC §4.4)" "
		WITH r AS (SELECT r.period, r.recipient, r.currency, sum(r.net) AS net
		           FROM ref.ref_group r JOIN ref.st_group s USING (period, recipient, tr, currency)
		           WHERE NOT s.share GROUP BY 1, 2, 3),
		     p AS (SELECT period, party_account_id, currency, sum(ref.num(net)) AS net FROM ref.st_payouts GROUP BY 1, 2, 3)
		SELECT r.period, r.recipient, r.currency, r.net AS ref_net, p.net AS settle_net
		FROM r LEFT JOIN p ON p.period = r.period AND p.party_account_id = r.recipient AND p.currency = r.currency
		WHERE p.net IS DISTINCT FROM r.net
		  AND NOT EXISTS (SELECT 1 FROM ref.st_group s WHERE s.period = r.period AND s.recipient = r.recipient
		                  AND s.currency = r.currency AND s.share)"
	known "payouts.csv parties with no feed of their own: settle states what a reseller's feed owes them, the reference has no line (SPEC §4.3, §4.4)" "
		SELECT p.period, p.party_role, p.party_account_id, p.currency, 'settle_net=' || p.net
		FROM ref.st_payouts p WHERE NOT EXISTS (SELECT 1 FROM ref.ref_group r WHERE r.recipient = p.party_account_id)
		ORDER BY 1, 3, 4 LIMIT 5"

	# ---- collections_and_disbursements_report.sql against disbursements.csv (SPEC §4.5)
	# the report is in the paid currency (disbursement_amount): settle's paid-currency lines total
	# (SPEC §4.5; the pricing one when the payout is paid in its pricing currency)
	agree "collections: disbursed seller net per disbursement, in the paid currency = -(paid lines total) in disbursements.csv" "
		WITH c AS (SELECT disbursement_id, currency, sum(seller_net_revenue_exact) AS disbursed
		           FROM ref.collections_line GROUP BY 1, 2)
		SELECT d.id, d.currency, d.amount, d.paid_currency, d.paid_lines_total AS settle_paid_lines_total,
		       c.currency AS ref_currency, c.disbursed AS ref_disbursed
		FROM ref.st_disbursements d LEFT JOIN c ON c.disbursement_id = d.id
		WHERE d.status IN ('SETTLED', 'MISMATCH')
		  AND (c.disbursed IS DISTINCT FROM -ref.num(coalesce(nullif(d.paid_lines_total, ''), d.lines_total))
		       OR c.currency IS DISTINCT FROM coalesce(nullif(d.paid_currency, ''), d.currency))"
	agree "collections: every disbursement of the report is a payout or failure in disbursements.csv" "
		SELECT DISTINCT c.disbursement_id FROM ref.collections_line c
		WHERE NOT EXISTS (SELECT 1 FROM ref.st_disbursements d WHERE d.id = c.disbursement_id)"
	agree "collections: lines of a settled payout are Disbursed; lines settle counts failed are Failed or reversed" "
		SELECT c.disbursement_id, c.transaction_reference_id, c.disbursement_status, d.status
		FROM ref.collections_line c JOIN ref.st_disbursements d ON d.id = c.disbursement_id
		WHERE (d.status = 'SETTLED' AND c.disbursement_status NOT IN ('Disbursed', 'Partially disbursed'))
		   OR (d.status = 'FAILED' AND c.disbursement_status NOT IN ('Failed', 'Disbursement reversed', 'Not disbursed')
		       AND NOT (c.disbursement_status = 'Disbursed' AND EXISTS (SELECT 1 FROM ref.st_disbursements f
		                WHERE f.id = d.failed_by AND f.link = 'PARENT' AND f.lines = '0'))
		       -- the report's status is its line item's over all its payouts: a line a failed payout
		       -- paid and a settled one paid (again, or in part) reads Disbursed or Partially disbursed
		       AND NOT (c.disbursement_status IN ('Disbursed', 'Partially disbursed') AND EXISTS (
		                SELECT 1 FROM ref.collections_line c2 JOIN ref.st_disbursements d2 ON d2.id = c2.disbursement_id
		                WHERE d2.status = 'SETTLED' AND c2.silent_internal_report_transaction = c.silent_internal_report_transaction)))"
	known "payouts failed in the older format (failure linked by parent, no reversal lines): the report counts their lines disbursed, settle FAILED with the remainder due (SPEC §4.5)" "
		SELECT recipient, tr, 'ref_paid=' || paid FROM ref.old_failure_paid ORDER BY 1, 2 LIMIT 5"

}

# the real bucket's figures, worked out by hand from tests/reference/realbucket.py's rows
real_rows() { # QUERY: its rows, one line each, fields joined by spaces
	sql "$1" | tr '|' ' '
}
check_real() {
	check "$bucket: allocations: the reseller's CPPO sale (W = -C) and the ISV's own feed of it, a revised charge (850.00), no deleted one (tr-d7), the late one (tr-d5)" \
		test "$(real_rows "SELECT recipient_account_id, transaction_reference_id, party_role, party_account_id, net FROM ref.st_allocations
		        WHERE period = '2026-10' AND transaction_reference_id IN ('tr-c1', 'tr-d4', 'tr-d5', 'tr-d7') ORDER BY 1, 2, 3")" = "$(printf '%s\n' \
		'111100002222 tr-c1 ISV 444400005555 10000.00' '111100002222 tr-c1 RESELLER 111100002222 945.00' \
		'444400005555 tr-c1 ISV 444400005555 9700.00' '444400005555 tr-d4 ISV 444400005555 833.00' \
		'444400005555 tr-d5 ISV 444400005555 294.00')"
	check "$bucket: allocations of November: the CPPO refund in both feeds, the refund whose rows carry the 12-digit number" \
		test "$(real_rows "SELECT recipient_account_id, transaction_reference_id, party_role, net FROM ref.st_allocations
		        WHERE period = '2026-11' AND currency = 'USD' ORDER BY 1, 2, 3")" = "$(printf '%s\n' \
		'111100002222 tr-c1 ISV -1000.00' '111100002222 tr-c1 RESELLER -94.50' '444400005555 tr-c1 ISV -970.00' \
		'444400005555 tr-d3 ISV -522.625')"
	check "$bucket: payouts: the ISV counts its own feed only (SPEC §4.4), the reseller its margin" \
		test "$(real_rows "SELECT party_role, party_account_id, currency, net FROM ref.st_payouts WHERE period = '2026-10' ORDER BY 2, 1, 3")" = "$(printf '%s\n' \
		'RESELLER 111100002222 USD 1606.50' 'ISV 444400005555 JPY 116400' 'ISV 444400005555 USD 19707.50')"
	check "$bucket: disbursements: placeholder trace ids link nothing (fail-r1 by amount), a November failure undoes the later of two equal October payouts, paid currency, deposits" \
		test "$(real_rows "SELECT id, status, coalesce(failed_by, '') || coalesce(undoes, ''), coalesce(link, ''), coalesce(bank_trace_id, ''),
		        paid_currency || ':' || coalesce(paid_amount, ''), coalesce(deposit_id, '') || ':' || coalesce(deposit_match, '')
		        FROM ref.st_disbursements ORDER BY 1")" = "$(printf '%s\n' \
		'fail-i3 FAILURE pay-i3 PARENT TRC-I3 USD:-2090.50 :' 'fail-i5 FAILURE pay-i5 PARENT  USD:-833.00 :' \
		'fail-r1 FAILURE pay-r1 AMOUNT  USD:-189.00 :' 'fail-r5 FAILURE pay-r5 AMOUNT  USD:-236.25 :' \
		'pay-i1 SETTLED   TRC-I1 USD:11640.00 dep-i1:TRACE_ID' 'pay-i2 SETTLED   TRC-I2 USD:780.12 dep-i2:TRACE_ID' \
		'pay-i3 FAILED fail-i3  TRC-I3 USD:2090.50 :' 'pay-i4 SETTLED   TRC-I4 USD:1567.88 dep-i4:TRACE_ID' \
		'pay-i5 FAILED fail-i5  TRC-I5 USD:833.00 :' 'pay-r1 FAILED fail-r1   USD:189.00 :' \
		'pay-r2 SETTLED    USD:930.00 dep-r2:AMOUNT_DATE' 'pay-r3 SETTLED    USD:236.25 dep-r3:AMOUNT_DATE' \
		'pay-r4 SETTLED   TRC-R4 USD:189.00 dep-r4:TRACE_ID' 'pay-r5 FAILED fail-r5   USD:236.25 :')"
	check "$bucket: aging of October at the last night: paid again after a failure (tr-c3, tr-d3) is not aged, failed in November is" \
		test "$(real_rows "SELECT recipient_account_id, transaction_reference_id, days, disbursement_status, remainder FROM ref.st_aging
		        WHERE period = '2026-10' ORDER BY 1, 2")" = "$(printf '%s\n' \
		'111100002222 tr-c2 29 FAILED 236.25' '444400005555 tr-c2 29 NOT_DISBURSED 4850.00' \
		'444400005555 tr-d4 32 FAILED 833.00' '444400005555 tr-d5 11 NOT_DISBURSED 294.00')"
	check "$bucket: metering: usage without agreement ids matched by offer, a buyer number with a leading zero, October's last day in November's file" \
		test "$(real_rows "SELECT offer_id, dimension, quantity, recorded_quantity, expected, billed, status FROM ref.st_metering
		        WHERE period = '2026-10' ORDER BY 1, 2")" = "$(printf '%s\n' \
		'offer-d1 gb 19840 19840 2480.00 3407.50 VARIANCE' 'offer-d1 users 373 371 932.50 3407.50 VARIANCE' \
		'offer-d6 api_calls 34472 34472 17236 17236 OK')"
	check "$bucket: exceptions of October: the failed payouts, the usage the marketplace did not record, no tax item or deposit exception (a refund's tax items on the charge's line item are the refund's)" \
		test "$(real_rows "SELECT code, reference FROM ref.st_exceptions WHERE period = '2026-10' AND code <> 'USAGE_ANOMALY' ORDER BY 1, 2")" = "$(printf '%s\n' \
		'DISBURSEMENT_FAILED pay-i3' 'DISBURSEMENT_FAILED pay-i5' 'DISBURSEMENT_FAILED pay-r1' 'DISBURSEMENT_FAILED pay-r5' \
		'METERING_VARIANCE offer-d1:2026-10' 'USAGE_RECORD_MISMATCH offer-d1:2026-10:users')"
	check "$bucket: no exception in November (the refund of tr-d3 matches its own tax items, not the charge's on the same line item)" \
		test "$(sql "SELECT count(*) FROM ref.st_exceptions WHERE period = '2026-11'")" = 0
	check "$bucket: tax: the buyer's marketplace tax less the reseller's wholesale one, seller tax and its refund of 3 decimals" \
		test "$(real_rows "SELECT period, liable_party, currency, tax_amount, billing_events_amount FROM ref.st_tax WHERE jurisdiction = '(all)' ORDER BY 1, 2, 3")" = "$(printf '%s\n' \
		'2026-10 MARKETPLACE JPY 12000 12000' '2026-10 MARKETPLACE USD 975.00 975.00' '2026-10 SELLER USD 130.50 130.50' \
		'2026-11 MARKETPLACE EUR 647.42 647.42' '2026-11 MARKETPLACE USD -99.00 -99.00' '2026-11 SELLER USD -32.625 -32.625')"
	# pay-r1 and pay-r5 failed in the current format (no parent): not timed as payments
	check "$bucket: payment timing: the reseller's October payouts that did not fail (pay-r2 13 days, pay-r3 15), not the failed ones" \
		grep -qx '2026-10,invoice_to_payout,111100002222,USD,2,14.0,14.0,14.8,13,15' "$out/2026-10/payment_timing.csv"
	# SPEC §4.5's remainder leaves the AWS_TAX_SHARE family out of the invoiced side but counts every
	# DISBURSED line: a reseller's balance-impacting wholesale marketplace tax, which its payout deducts,
	# ages a fully paid charge (docs/reference-queries.md, "Marketplace tax")
	local line
	grep ',tr-c1,' "$work/real.aging.n2.csv" | while IFS= read -r line; do
		printf 'KNOWN: %s: %s: %s: %s\n' "$T" "$bucket" "night 2: a charge paid in full (pay-r2 930.00 = its lines) aged by its balance-impacting wholesale marketplace tax" "$line"
	done
}

# taxation and usage
compare_tax_usage() {
	# ---- taxation_report.sql against tax.csv (SPEC §4.6): the current revision of each tax item
	agree "taxation: tax items and amounts per period, liable party, jurisdiction and tax type = tax.csv" "
		WITH cur AS (SELECT DISTINCT ON (tax_item_id) * FROM ref.taxation_line ORDER BY tax_item_id, valid_from DESC),
		     r AS (SELECT to_char(invoice_date AT TIME ZONE 'UTC', 'YYYY-MM') AS period,
		                  CASE WHEN upper(tax_liable_party) = 'SELLER' THEN 'SELLER' ELSE 'MARKETPLACE' END AS party,
		                  tax_currency AS currency, taxed_jurisdiction AS jurisdiction, tax_type,
		                  count(*) AS items, sum(tax_amount::numeric(38,6)) AS amount
		           FROM cur GROUP BY 1, 2, 3, 4, 5),
		     s AS (SELECT * FROM ref.st_tax WHERE jurisdiction <> '(all)')
		SELECT coalesce(r.period, s.period), coalesce(r.party, s.liable_party), coalesce(r.jurisdiction, s.jurisdiction),
		       coalesce(r.tax_type, s.tax_type), r.items AS ref_items, s.tax_items AS settle_items,
		       r.amount AS ref_amount, s.tax_amount AS settle_amount
		FROM r FULL JOIN s ON s.period = r.period AND s.liable_party = r.party AND s.currency = r.currency
		     AND s.jurisdiction = r.jurisdiction AND s.tax_type = r.tax_type
		WHERE r.items IS DISTINCT FROM ref.num(s.tax_items)::bigint OR r.amount IS DISTINCT FROM ref.num(s.tax_amount)"
	# the report's taxes plus those of the rows its agreement filter drops (settle's NO_OFFER
	# groups, whose T and X tax.csv counts: docs/reference-queries.md, "Agreement filter")
	agree "billed revenue taxes per period and liable party (+ the rows the agreement filter drops) = tax.csv billing events (seller tax T, marketplace tax X)" "
		WITH g AS (SELECT period, currency, seller_tax AS seller, aws_tax AS marketplace FROM ref.ref_group
		           UNION ALL
		           SELECT period, currency,
		                  CASE WHEN transaction_type LIKE 'SELLER_TAX_SHARE%' THEN amount ELSE 0 END,
		                  CASE WHEN transaction_type LIKE 'AWS_TAX_SHARE%' THEN amount ELSE 0 END
		           FROM ref.agreement_dropped),
		     r AS (SELECT period, currency, sum(seller) AS seller, sum(marketplace) AS marketplace FROM g GROUP BY 1, 2)
		SELECT r.period, r.currency, r.seller, s1.billing_events_amount, r.marketplace, s2.billing_events_amount
		FROM r LEFT JOIN ref.st_tax s1 ON s1.period = r.period AND s1.currency = r.currency AND s1.liable_party = 'SELLER' AND s1.jurisdiction = '(all)'
		       LEFT JOIN ref.st_tax s2 ON s2.period = r.period AND s2.currency = r.currency AND s2.liable_party = 'MARKETPLACE' AND s2.jurisdiction = '(all)'
		WHERE (r.seller <> 0 OR s1.period IS NOT NULL) AND r.seller IS DISTINCT FROM ref.num(s1.billing_events_amount)
		   OR (r.marketplace <> 0 OR s2.period IS NOT NULL) AND r.marketplace IS DISTINCT FROM ref.num(s2.billing_events_amount)"
	known "taxation report rows of a revised tax item: the report lists every valid_from revision, settle the current one (SPEC §3.6)" "
		SELECT tax_item_id, valid_from, tax_amount FROM ref.taxation_line
		WHERE tax_item_id IN (SELECT tax_item_id FROM ref.taxation_line GROUP BY 1 HAVING count(*) > 1) ORDER BY 1, 2"

	# ---- usage_report.sql against metering.csv recorded_quantity (SPEC §4.6 three-way)
	agree "usage: the marketplace's recorded quantity per offer, month and dimension = metering.csv recorded_quantity" "
		WITH r AS (SELECT offer_id, to_char(usage_date AT TIME ZONE 'UTC', 'YYYY-MM') AS usage_month, dimension_key,
		                  sum(estimated_usage_units::numeric) AS recorded
		           FROM ref.usage_line WHERE valid_to = timestamp '2999-01-01 00:00:00' GROUP BY 1, 2, 3)
		SELECT r.offer_id, r.usage_month, r.dimension_key, r.recorded AS ref_recorded, m.recorded_quantity AS settle_recorded
		FROM r LEFT JOIN ref.st_metering m ON m.offer_id = r.offer_id AND m.usage_month = r.usage_month AND m.dimension = r.dimension_key
		WHERE ref.num(m.recorded_quantity) IS DISTINCT FROM r.recorded"
	known "usage report rows of a revised usage day: the report lists every revision with its valid_from/valid_to, settle counts the current one (SPEC §3.6)" "
		SELECT internal_usage_line_item_id, valid_from, valid_to, estimated_usage_units FROM ref.usage_line
		WHERE internal_usage_line_item_id IN (SELECT internal_usage_line_item_id FROM ref.usage_line GROUP BY 1 HAVING count(*) > 1)
		ORDER BY 1, 2"
}

for b in sdds cppo terms months gen real; do
	run_bucket "$b"
done
