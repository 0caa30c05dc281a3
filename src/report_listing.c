/* report_listing.c — the listings of a report set and the streaming cursor over them
 * (report_listing.h).
 *
 * Each listing reads one run's results (sql/003_results.sql) for one period: $1 = run_id,
 * $2 = period "YYYY-MM". Text is sorted with COLLATE "C" (byte order, SPEC §4) and every ORDER BY
 * ends in a key of the table, so the order is total. Money stays bigint micros here and is
 * formatted in C (report_format_money); SQL only sums for the control totals, never rounds.
 */
#include "report_listing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "currency.h"

#define M(name, cur) { name, REPORT_MONEY, cur }
#define T(name) { name, REPORT_TEXT, -1 }
#define I(name) { name, REPORT_INT, -1 }
#define D(name) { name, REPORT_DATE, -1 }
#define N(name) { name, REPORT_DECIMAL, -1 }

/* Sheet-only: per currency, the totals that must tie out (docs/reports.md "Summary"):
 * allocated_total (B + F + T of the allocated groups) = allocations_net = payouts_net, and
 * net_payable - payouts_net = rounding. Sums are numeric in SQL, so they cannot wrap. */
static const char sql_summary[] =
	"WITH g AS ("
	"  SELECT currency, count(*) AS groups,"
	"         count(*) FILTER (WHERE match_status = 'MATCHED') AS matched,"
	"         count(*) FILTER (WHERE allocated) AS allocated,"
	"         sum(revenue_micros) AS b, sum(cogs_micros) AS c, sum(listing_fee_micros) AS f,"
	"         sum(seller_tax_micros) AS t, sum(aws_tax_micros) AS x,"
	"         coalesce(sum(revenue_micros::numeric + listing_fee_micros + seller_tax_micros)"
	"                  FILTER (WHERE allocated), 0) AS bft"
	"  FROM settle.charge_group WHERE run_id = $1::bigint AND period = $2::text GROUP BY currency),"
	" a AS (SELECT currency, sum(net_micros) AS net FROM settle.allocation"
	"       WHERE run_id = $1::bigint AND period = $2::text GROUP BY currency),"
	" p AS (SELECT currency, sum(net_micros) AS net, sum(net_payable_micros) AS payable,"
	"              sum(rounding_micros) AS rounding FROM settle.payout_statement"
	"       WHERE run_id = $1::bigint AND period = $2::text GROUP BY currency),"
	" d AS (SELECT currency, count(*) AS n,"
	"              coalesce(sum(amount_micros) FILTER (WHERE status <> 'FAILED'), 0) AS amount"
	"       FROM settle.disbursement"
	"       WHERE run_id = $1::bigint AND period = $2::text GROUP BY currency),"
	" x AS (SELECT currency, count(*) AS n FROM settle.exception"
	"       WHERE run_id = $1::bigint AND period = $2::text GROUP BY currency),"
	" k AS (SELECT currency FROM g UNION SELECT currency FROM a UNION SELECT currency FROM p"
	"       UNION SELECT currency FROM d UNION SELECT currency FROM x)"
	" SELECT k.currency, coalesce(g.groups, 0), coalesce(g.matched, 0), coalesce(g.allocated, 0),"
	"        coalesce(g.b, 0), coalesce(g.c, 0), coalesce(g.f, 0), coalesce(g.t, 0), coalesce(g.x, 0),"
	"        coalesce(g.bft, 0), coalesce(a.net, 0), coalesce(p.net, 0), coalesce(p.payable, 0),"
	"        coalesce(p.rounding, 0), coalesce(d.n, 0), coalesce(d.amount, 0), coalesce(x.n, 0)"
	" FROM k"
	" LEFT JOIN g ON g.currency IS NOT DISTINCT FROM k.currency"
	" LEFT JOIN a ON a.currency IS NOT DISTINCT FROM k.currency"
	" LEFT JOIN p ON p.currency IS NOT DISTINCT FROM k.currency"
	" LEFT JOIN d ON d.currency IS NOT DISTINCT FROM k.currency"
	" LEFT JOIN x ON x.currency IS NOT DISTINCT FROM k.currency"
	/* the workbook's order of currencies (report_xlsx_sheet.c, xlsx_order_load): most charge
	 * groups first, then code; the row without a currency last */
	" ORDER BY k.currency IS NULL, coalesce(g.groups, 0) DESC, k.currency COLLATE \"C\"";

/* SPEC §8 payouts.csv, sorted by account, role, currency (the table's key). */
static const char sql_payouts[] =
	"SELECT period, party_role, party_account_id, currency, revenue_micros, listing_fee_micros,"
	"       seller_tax_micros, net_micros, net_payable_micros, rounding_micros"
	" FROM settle.payout_statement WHERE run_id = $1::bigint AND period = $2::text"
	" ORDER BY party_account_id COLLATE \"C\", party_role COLLATE \"C\", currency COLLATE \"C\"";

/* SPEC §8 allocations.csv: by recipient, reference, currency, party order (ISV first). */
static const char sql_allocations[] =
	"SELECT period, recipient_account_id, transaction_reference_id, agreement_id, offer_id, match_rule,"
	"       currency, party_role, party_account_id, revenue_micros, listing_fee_micros,"
	"       seller_tax_micros, net_micros"
	" FROM settle.allocation WHERE run_id = $1::bigint AND period = $2::text"
	" ORDER BY recipient_account_id COLLATE \"C\", transaction_reference_id COLLATE \"C\","
	"          currency COLLATE \"C\", party_index";

/* SPEC §8 exceptions.csv: by code, reference; seq orders several exceptions of one reference. */
static const char sql_exceptions[] =
	"SELECT period, code, reference, recipient_account_id, agreement_id, offer_id, currency,"
	"       expected_micros, actual_micros, difference_micros, detail"
	" FROM settle.exception WHERE run_id = $1::bigint AND period = $2::text"
	" ORDER BY code COLLATE \"C\", reference COLLATE \"C\", seq";

/* disbursements.csv (SPEC §8): one row per payout and per failure of the period, by date, then
 * recipient and id (ids are billing_event_ids: a payout and a failure never share one). kind
 * PAYOUT or FAILURE; difference is amount + lines_total (zero when the payout pays exactly its
 * lines, SPEC §4.5; a failure's against its reversal lines, both empty when it has none). status: SETTLED, MISMATCH, FAILED
 * for a payout, FAILURE for a failure; failed_by names a failed payout's failure, undoes the
 * payout a failure undoes (empty: none) and link how (docs/reconcile.md §4.5). paid_currency and
 * paid_amount: what the bank is paid, the pricing currency and amount unless the payout carries
 * another disbursement_currency; paid_lines_total its lines in that currency. */
static const char sql_disbursements[] =
	"SELECT * FROM ("
	" SELECT period, 'PAYOUT' AS kind, payout_id AS id, payout_date AS date, recipient_account_id, currency,"
	"        amount_micros, lines_micros, amount_micros::numeric + lines_micros, lines_n, status,"
	"        failure_id AS failed_by, NULL::text AS undoes, NULL::text AS link, bank_trace_id,"
	"        coalesce(paid_currency, currency) AS paid_currency,"
	"        CASE WHEN paid_currency IS NULL THEN amount_micros ELSE paid_amount_micros END AS paid_amount,"
	"        CASE WHEN paid_currency IS NULL THEN lines_micros ELSE paid_lines_micros END AS paid_lines,"
	"        deposit_id, deposit_match"
	" FROM settle.disbursement WHERE run_id = $1::bigint AND period = $2::text"
	" UNION ALL"
	" SELECT period, 'FAILURE', failure_id, failure_date, recipient_account_id, currency, amount_micros,"
	/* a failure without reversal lines (older feeds) has nothing to compare: lines_total and
	 * difference empty, not 0.00 and the whole amount, which read as a mismatch (SPEC §8) */
	"        CASE WHEN lines_n > 0 THEN lines_micros END,"
	"        CASE WHEN lines_n > 0 THEN amount_micros::numeric + lines_micros END, lines_n, 'FAILURE', NULL, payout_id, link,"
	"        bank_trace_id, coalesce(paid_currency, currency),"
	"        CASE WHEN paid_currency IS NULL THEN amount_micros ELSE paid_amount_micros END, NULL, NULL, NULL"
	" FROM settle.disbursement_failure WHERE run_id = $1::bigint AND period = $2::text) u"
	" ORDER BY u.date, u.recipient_account_id COLLATE \"C\", u.id COLLATE \"C\"";

/* aging.csv (SPEC §4.8): the period's charge groups not fully disbursed at as-of. */
static const char sql_aging[] =
	"SELECT period, recipient_account_id, transaction_reference_id, currency, invoice_date, days,"
	"       bucket, disbursement_status, remainder_micros"
	" FROM settle.aging WHERE run_id = $1::bigint AND period = $2::text"
	" ORDER BY recipient_account_id COLLATE \"C\", transaction_reference_id COLLATE \"C\","
	"          currency COLLATE \"C\"";

/* metering.csv (SPEC §4.6): per USAGE offer, usage month and dimension. */
static const char sql_metering[] =
	"SELECT period, offer_id, usage_month, dimension, currency, quantity, recorded_quantity,"
	"       unit_price_micros, expected_micros, billed_micros, status"
	" FROM settle.metering_result WHERE run_id = $1::bigint AND period = $2::text"
	" ORDER BY offer_id COLLATE \"C\", usage_month COLLATE \"C\", dimension COLLATE \"C\"";

/* Sheet-only: the tax and other non-allocated amounts of each charge group (SPEC §4.1). */
static const char sql_tax[] =
	"SELECT period, recipient_account_id, transaction_reference_id, currency, seller_tax_micros,"
	"       aws_tax_micros, other_seller_tax_micros, infra_micros, balance_adjustment_micros"
	" FROM settle.charge_group WHERE run_id = $1::bigint AND period = $2::text"
	"   AND (seller_tax_micros <> 0 OR aws_tax_micros <> 0 OR other_seller_tax_micros <> 0"
	"        OR infra_micros <> 0 OR balance_adjustment_micros <> 0)"
	" ORDER BY recipient_account_id COLLATE \"C\", transaction_reference_id COLLATE \"C\","
	"          currency COLLATE \"C\"";

/* SPEC §8 tax.csv (§4.6): the period's tax items (invoice_date in the period, current at the
 * run's as-of) per liable party, currency, jurisdiction and tax type — who remits it: the
 * marketplace for items it is liable for (it collected the tax), the seller for its own — and per
 * party and currency one "(all)" row with the billing events' amount beside the items': the
 * period's charge groups' seller tax T (Seller) or marketplace tax X (AWS), so a gap between what
 * was billed as tax and what the tax engine computed shows in one line. Without the tax item feed
 * (none loaded at the as-of) the items' amount and the difference are empty, not zero. */
static const char sql_tax_items[] =
	"WITH r AS (SELECT as_of FROM settle.run WHERE run_id = $1::bigint),"
	" p AS (SELECT ($2::text || '-01')::date AS d0, (($2::text || '-01')::date + interval '1 month')::date AS d1),"
	" ti AS (SELECT CASE upper(coalesce(t.tax_liable_party, '')) WHEN 'SELLER' THEN 'SELLER' WHEN 'AWS' THEN 'MARKETPLACE'"
	"                    ELSE coalesce(t.tax_liable_party, '') END AS party,"
	"               coalesce(t.taxed_jurisdiction, '') AS jurisdiction, coalesce(t.tax_type_code, '') AS tax_type,"
	"               t.tax_currency AS currency, t.tax_amount_micros AS amount"
	"        FROM r, p, settle.sdds_tax_item_asof(r.as_of) t"
	"        WHERE t.invoice_date >= p.d0::timestamp AT TIME ZONE 'UTC'"
	"          AND t.invoice_date < p.d1::timestamp AT TIME ZONE 'UTC'),"
	" ev AS (SELECT 'SELLER' AS party, currency, sum(seller_tax_micros) AS amount FROM settle.charge_group"
	"        WHERE run_id = $1::bigint AND period = $2::text GROUP BY currency HAVING sum(seller_tax_micros) <> 0"
	"        UNION ALL"
	"        SELECT 'MARKETPLACE', currency, sum(aws_tax_micros) FROM settle.charge_group"
	"        WHERE run_id = $1::bigint AND period = $2::text GROUP BY currency HAVING sum(aws_tax_micros) <> 0),"
	" loaded AS (SELECT EXISTS (SELECT 1 FROM settle.sdds_tax_item t JOIN settle.ingest_file f ON f.file_id = t.file_id, r"
	"                           WHERE f.file_id IN (SELECT v.file_id FROM settle.visible_files(r.as_of) v)) AS yes),"
	" detail AS (SELECT party, currency, jurisdiction, tax_type, count(*) AS items, sum(amount) AS amount"
	"            FROM ti GROUP BY 1, 2, 3, 4),"
	" tot AS (SELECT coalesce(i.party, ev.party) AS party, coalesce(i.currency, ev.currency) AS currency,"
	"                coalesce(i.items, 0) AS items, i.amount, ev.amount AS events"
	"         FROM (SELECT party, currency, sum(items) AS items, sum(amount) AS amount FROM detail GROUP BY 1, 2) i"
	"         FULL JOIN ev ON ev.party = i.party AND ev.currency = i.currency)"
	" SELECT pe, party, remitter, currency, jurisdiction, tax_type, items, amount, events, difference FROM ("
	" SELECT $2::text AS pe, party,"
	"        CASE party WHEN 'SELLER' THEN 'seller' WHEN 'MARKETPLACE' THEN 'marketplace' ELSE '' END AS remitter,"
	"        currency, jurisdiction, tax_type, items, amount, NULL::numeric AS events, NULL::numeric AS difference,"
	"        0 AS o"
	" FROM detail"
	" UNION ALL"
	" SELECT $2::text, party, CASE party WHEN 'SELLER' THEN 'seller' WHEN 'MARKETPLACE' THEN 'marketplace' ELSE '' END,"
	"        currency, '(all)', '(all)', items, CASE WHEN loaded.yes THEN coalesce(amount, 0) END, coalesce(events, 0),"
	"        CASE WHEN loaded.yes THEN coalesce(amount, 0)::numeric - coalesce(events, 0) END, 1"
	" FROM tot, loaded) u"
	" ORDER BY party COLLATE \"C\", currency COLLATE \"C\", o, jurisdiction COLLATE \"C\", tax_type COLLATE \"C\"";

/* The charges of a group that its reference's remainder counts (SPEC §4.5: all but X). */
#define CG_OWED \
	"(g.revenue_micros::numeric + g.cogs_micros + g.listing_fee_micros + g.seller_tax_micros" \
	" + g.other_seller_tax_micros + g.infra_micros + g.balance_adjustment_micros)"

/* Sheet-only: every charge group of the period with its B, C, F, T, X (SPEC §4.1), the rows the
 * Summary's bridge from billed to earned sums (docs/workbook.md). billed is what the buyers were
 * invoiced, tax included (B + T + X); net_earned is B + C + F (the seller's, taxes excluded);
 * allocated is "yes" for the groups that have allocations.
 *
 * Then what the Summary's "still owed" block sums (SPEC §4.5, §4.8): owed is what the group
 * charges in its recipient's feed, every component the remainder counts (all but the
 * marketplace's tax X); payout_lines the reference's payout lines that count, by the as-of and whatever
 * the payout's date (negative: paid out); other_months the reference's charges in other months
 * (the rest of the remainder); reference_remainder the reference's remainder = owed +
 * payout_lines + other_months; outstanding the remainder when the group is aged (aging.csv has the group),
 * else NULL. */
static const char sql_charge_groups[] =
	"SELECT g.period, g.recipient_account_id, g.transaction_reference_id, g.currency, g.group_date,"
	"       coalesce(g.matched_offer_id, g.offer_id), g.match_status, g.disposition,"
	"       CASE WHEN g.allocated THEN 'yes' ELSE 'no' END, g.disbursement_status,"
	"       g.revenue_micros::numeric + g.seller_tax_micros + g.aws_tax_micros, g.aws_tax_micros,"
	"       g.revenue_micros, g.cogs_micros, g.listing_fee_micros, g.seller_tax_micros,"
	"       g.revenue_micros::numeric + g.cogs_micros + g.listing_fee_micros,"
	"       " CG_OWED " AS owed, g.paid_micros,"
	"       g.remainder_micros::numeric - " CG_OWED " - g.paid_micros, g.remainder_micros,"
	"       a.remainder_micros"
	" FROM settle.charge_group g"
	" LEFT JOIN settle.aging a ON a.run_id = g.run_id AND a.period = g.period"
	"  AND a.recipient_account_id = g.recipient_account_id"
	"  AND a.transaction_reference_id = g.transaction_reference_id AND a.currency = g.currency"
	" WHERE g.run_id = $1::bigint AND g.period = $2::text"
	" ORDER BY g.recipient_account_id COLLATE \"C\", g.transaction_reference_id COLLATE \"C\","
	"          g.currency COLLATE \"C\"";

/* SPEC §8 rejected.csv: the quarantined rows of every file ingested at or before the run's as-of
 * that contributed a row to the period, and of every file that loaded no row at all. A row
 * "belongs" to the period by invoice_date (billing events, tax items), usage hour (metering),
 * usage date (daily usage) or value date (deposits); offer and price files and the other SDDS
 * feeds (accounts, agreements, offers, products, ...) are reference data without a period and
 * count for every period (a rejected offer row may be the very offer a group of this period
 * misses). The sort
 * has no key to end in (rejected_row has none): it orders by every column, so rows that tie are
 * identical and the output is still unique. */
static const char sql_rejected[] =
	"WITH r AS ("
	"  SELECT as_of, ($2::text || '-01')::date AS d0,"
	"         (($2::text || '-01')::date + interval '1 month')::date AS d1"
	"  FROM settle.run WHERE run_id = $1::bigint),"
	" f AS (SELECT i.file_id, i.file_name, i.kind, i.rows_loaded FROM settle.ingest_file i, r"
	"       WHERE i.file_id IN (SELECT v.file_id FROM settle.visible_files(r.as_of) v)"
	"         AND EXISTS (SELECT 1 FROM settle.rejected_row x WHERE x.file_id = i.file_id)),"
	" contrib AS ("
	"  SELECT b.file_id FROM settle.billing_event b, r"
	"   WHERE b.file_id IN (SELECT file_id FROM f WHERE kind = 'billing_event')"
	"     AND b.invoice_date >= r.d0::timestamp AT TIME ZONE 'UTC'"
	"     AND b.invoice_date < r.d1::timestamp AT TIME ZONE 'UTC'"
	"  UNION SELECT m.file_id FROM settle.metering m, r"
	"   WHERE m.file_id IN (SELECT file_id FROM f WHERE kind = 'metering')"
	"     AND m.usage_hour >= r.d0::timestamp AT TIME ZONE 'UTC'"
	"     AND m.usage_hour < r.d1::timestamp AT TIME ZONE 'UTC'"
	"  UNION SELECT d.file_id FROM settle.bank_deposit d, r"
	"   WHERE d.file_id IN (SELECT file_id FROM f WHERE kind = 'bank_deposit')"
	"     AND d.value_date >= r.d0 AND d.value_date < r.d1"
	"  UNION SELECT t.file_id FROM settle.sdds_tax_item t, r"
	"   WHERE t.file_id IN (SELECT file_id FROM f WHERE kind = 'taxitemfeed_v1')"
	"     AND t.invoice_date >= r.d0::timestamp AT TIME ZONE 'UTC'"
	"     AND t.invoice_date < r.d1::timestamp AT TIME ZONE 'UTC'"
	"  UNION SELECT u.file_id FROM settle.sdds_daily_usage u, r"
	"   WHERE u.file_id IN (SELECT file_id FROM f WHERE kind = 'dailyusagefeed_v1')"
	"     AND u.usage_date >= r.d0::timestamp AT TIME ZONE 'UTC'"
	"     AND u.usage_date < r.d1::timestamp AT TIME ZONE 'UTC')"
	" SELECT f.file_name, x.line, x.column_name, x.code, x.detail"
	" FROM f JOIN settle.rejected_row x ON x.file_id = f.file_id"
	" WHERE f.rows_loaded = 0"
	"    OR f.kind NOT IN ('billing_event', 'metering', 'bank_deposit', 'taxitemfeed_v1', 'dailyusagefeed_v1')"
	"    OR f.file_id IN (SELECT file_id FROM contrib)"
	" ORDER BY f.file_name COLLATE \"C\", f.file_id, x.line, x.column_name COLLATE \"C\" NULLS FIRST,"
	"          x.code COLLATE \"C\", x.detail COLLATE \"C\"";

/* insights.csv (docs/insights.md): one row per usage series with usage in the period — the
 * metering log's, and the marketplace's recorded series (source) — sorted by the table's key. Statistics are numeric text,
 * printed by the server exactly as insights.c stored them. */
static const char sql_insights[] =
	"SELECT period, customer_aws_account_id, product_code, dimension, agreement_id, offer_id, status,"
	"       history_points, history_days, history_median, history_mad, band_low, band_high,"
	"       period_points, observed_min, observed_max, anomalies, max_score, note, source"
	" FROM settle.insight_usage WHERE run_id = $1::bigint AND period = $2::text"
	" ORDER BY customer_aws_account_id COLLATE \"C\", product_code COLLATE \"C\", dimension COLLATE \"C\","
	"          source COLLATE \"C\"";

/* payment_timing.csv (docs/insights.md): days from invoice to payout / collection per measure,
 * recipient and currency, sorted by the table's key. */
static const char sql_payment_timing[] =
	"SELECT period, measure, recipient_account_id, currency, samples, mean_days, median_days, p90_days,"
	"       min_days, max_days"
	" FROM settle.insight_timing WHERE run_id = $1::bigint AND period = $2::text"
	" ORDER BY measure COLLATE \"C\", recipient_account_id COLLATE \"C\", currency COLLATE \"C\"";

const struct report_listing report_listings[] = {
	[REPORT_SUMMARY] = {
		NULL, "Summary", sql_summary, 17,
		{ T("currency"), I("charge_groups"), I("matched_groups"), I("allocated_groups"),
		  M("revenue", 0), M("cost_of_goods", 0), M("listing_fee", 0), M("seller_tax", 0),
		  M("marketplace_tax", 0), M("allocated_total", 0), M("allocations_net", 0),
		  M("payouts_net", 0), M("net_payable", 0), M("rounding", 0), I("payouts"),
		  M("payout_amount", 0), I("exceptions") },
		0,
	},
	[REPORT_PAYOUTS] = {
		"payouts.csv", "Payouts", sql_payouts, 10,
		{ T("period"), T("party_role"), T("party_account_id"), T("currency"), M("revenue", 3),
		  M("listing_fee", 3), M("seller_tax", 3), M("net", 3), M("net_payable", 3),
		  M("rounding", 3) },
		1,
	},
	[REPORT_ALLOCATIONS] = {
		"allocations.csv", "Allocations", sql_allocations, 13,
		{ T("period"), T("recipient_account_id"), T("transaction_reference_id"), T("agreement_id"),
		  T("offer_id"), T("match_rule"), T("currency"), T("party_role"), T("party_account_id"),
		  M("revenue", 6), M("listing_fee", 6), M("seller_tax", 6), M("net", 6) },
		1,
	},
	[REPORT_EXCEPTIONS] = {
		"exceptions.csv", "Exceptions", sql_exceptions, 11,
		{ T("period"), T("code"), T("reference"), T("recipient_account_id"), T("agreement_id"),
		  T("offer_id"), T("currency"), M("expected", 6), M("actual", 6), M("difference", 6),
		  T("detail") },
		0,
	},
	[REPORT_DISBURSEMENTS] = {
		"disbursements.csv", "Disbursements", sql_disbursements, 20,
		{ T("period"), T("kind"), T("id"), D("date"), T("recipient_account_id"), T("currency"),
		  M("amount", 5), M("lines_total", 5), M("difference", 5), I("lines"), T("status"),
		  T("failed_by"), T("undoes"), T("link"), T("bank_trace_id"), T("paid_currency"),
		  M("paid_amount", 15), M("paid_lines_total", 15), T("deposit_id"), T("deposit_match") },
		1,
	},
	[REPORT_AGING] = {
		"aging.csv", "Aging", sql_aging, 9,
		{ T("period"), T("recipient_account_id"), T("transaction_reference_id"), T("currency"),
		  D("invoice_date"), I("days"), T("bucket"), T("disbursement_status"), M("remainder", 3) },
		1,
	},
	[REPORT_METERING] = {
		"metering.csv", "Metering", sql_metering, 11,
		{ T("period"), T("offer_id"), T("usage_month"), T("dimension"), T("currency"),
		  I("quantity"), N("recorded_quantity"), M("unit_price", 4), M("expected", 4), M("billed", 4),
		  T("status") },
		0,
	},
	[REPORT_TAX] = {
		NULL, "Tax", sql_tax, 9,
		{ T("period"), T("recipient_account_id"), T("transaction_reference_id"), T("currency"),
		  M("seller_tax", 3), M("marketplace_tax", 3), M("other_seller_tax", 3), M("infra", 3),
		  M("balance_adjustment", 3) },
		1,
	},
	[REPORT_REJECTED] = {
		"rejected.csv", "Rejected", sql_rejected, 5,
		{ T("file"), I("line"), T("column"), T("code"), T("detail") },
		0,
	},
	[REPORT_INSIGHTS] = {
		"insights.csv", "Insights", sql_insights, 20,
		{ T("period"), T("customer_aws_account_id"), T("product_code"), T("dimension"), T("agreement_id"),
		  T("offer_id"), T("status"), I("history_points"), I("history_days"), N("history_median"),
		  N("history_mad"), I("band_low"), I("band_high"), I("period_points"), I("observed_min"),
		  I("observed_max"), I("anomalies"), N("max_score"), T("note"), T("source") },
		0,
	},
	[REPORT_PAYMENT_TIMING] = {
		"payment_timing.csv", "Payment timing", sql_payment_timing, 10,
		{ T("period"), T("measure"), T("recipient_account_id"), T("currency"), I("samples"),
		  N("mean_days"), N("median_days"), N("p90_days"), I("min_days"), I("max_days") },
		0,
	},
	[REPORT_TAX_ITEMS] = {
		"tax.csv", "Tax by jurisdiction", sql_tax_items, 10,
		{ T("period"), T("liable_party"), T("remitted_by"), T("currency"), T("jurisdiction"), T("tax_type"),
		  I("tax_items"), M("tax_amount", 3), M("billing_events_amount", 3), M("difference", 3) },
		0,
	},
	[REPORT_CHARGE_GROUPS] = {
		NULL, "Charge groups", sql_charge_groups, 22,
		{ T("period"), T("recipient_account_id"), T("transaction_reference_id"), T("currency"),
		  D("invoice_date"), T("offer_id"), T("match_status"), T("disposition"), T("allocated"),
		  T("disbursement_status"), M("billed", 3), M("marketplace_tax", 3), M("revenue", 3),
		  M("cost_of_goods", 3), M("listing_fee", 3), M("seller_tax", 3), M("net_earned", 3),
		  M("owed", 3), M("payout_lines", 3), M("other_months", 3), M("reference_remainder", 3),
		  M("outstanding", 3) },
		1,
	},
};
const size_t report_listings_n = sizeof report_listings / sizeof report_listings[0];
_Static_assert(sizeof report_listings / sizeof report_listings[0] == REPORT_LISTINGS_N,
	       "one listing per report_listing_id");

/* The workbook's insight figures (report_listing.h, docs/workbook.md). The histograms always have their 8
 * bins (insights.c writes empty ones), so the charts keep their shape; bin_order is the key. The
 * usage chart's hours are written by the server in UTC whatever the session's time zone. */
static const char sql_insight_summary[] =
	"SELECT usage_series, usage_scored, usage_not_enough_history, usage_anomalous_series,"
	"       usage_anomalies, payout_samples, payout_median_days, collection_samples,"
	"       collection_median_days"
	" FROM settle.insight_summary WHERE run_id = $1::bigint AND period = $2::text"
	" ORDER BY period COLLATE \"C\"";
static const char sql_insight_payout_days[] =
	"SELECT bin_label, samples FROM settle.insight_histogram"
	" WHERE run_id = $1::bigint AND period = $2::text AND measure = 'invoice_to_payout'"
	" ORDER BY bin_order, bin_label COLLATE \"C\"";
static const char sql_insight_collection_days[] =
	"SELECT bin_label, samples FROM settle.insight_histogram"
	" WHERE run_id = $1::bigint AND period = $2::text AND measure = 'invoice_to_collection'"
	" ORDER BY bin_order, bin_label COLLATE \"C\"";
static const char sql_insight_usage[] =
	"SELECT to_char(usage_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24\":00Z\"'), quantity, band_low,"
	"       band_high, CASE WHEN anomaly THEN quantity END, score,"
	"       customer_aws_account_id || ':' || product_code || ':' || dimension"
	" FROM settle.insight_usage_point WHERE run_id = $1::bigint AND period = $2::text"
	" ORDER BY usage_hour, customer_aws_account_id COLLATE \"C\"";

const struct report_listing report_insight_data[] = {
	[REPORT_INSIGHT_SUMMARY] = {
		NULL, "Summary", sql_insight_summary, 9,
		{ I("usage_series"), I("usage_scored"), I("usage_not_enough_history"),
		  I("usage_anomalous_series"), I("usage_anomalies"), I("payout_samples"),
		  N("payout_median_days"), I("collection_samples"), N("collection_median_days") },
		0,
	},
	[REPORT_INSIGHT_PAYOUT_DAYS] = {
		NULL, "Insight charts", sql_insight_payout_days, 2, { T("days"), I("payouts") }, 0,
	},
	[REPORT_INSIGHT_COLLECTION_DAYS] = {
		NULL, "Insight charts", sql_insight_collection_days, 2, { T("days"), I("collections") }, 0,
	},
	[REPORT_INSIGHT_USAGE] = {
		NULL, "Insight charts", sql_insight_usage, 7,
		{ T("hour"), I("quantity"), I("band_low"), I("band_high"), I("anomaly"), N("score"),
		  T("series") },
		0,
	},
};
_Static_assert(sizeof report_insight_data / sizeof report_insight_data[0] == REPORT_INSIGHT_DATA_N,
	       "one listing per report_insight_data_id");

/* A listing is read through a server-side cursor, REPORT_FETCH_ROWS rows per FETCH: memory stays
 * bounded (a million allocations never sit in memory) and the per-row cost is a pointer into the
 * batch, where libpq's single-row mode built a result object per row (a few seconds over a
 * month's listings). A cursor needs the transaction the report runs in anyway. */
#define REPORT_FETCH_ROWS 10000
#define REPORT_CURSOR_NAME "settle_listing"

struct report_cursor {
	struct db *db;
	const struct report_listing *l;
	PGresult *batch;    /* the current FETCH's rows, owned */
	int next_row;       /* the next row of batch to hand out */
	int open;           /* the server-side cursor exists */
	int last;           /* batch is the last one (shorter than a full FETCH) */
	const char *values[REPORT_COLS_MAX];
};

int report_cursor_open(struct db *db, const struct report_listing *l, int64_t run_id,
		       const char *period, struct report_cursor **out, struct err *e)
{
	ASSERT(l->ncols > 0 && l->ncols <= REPORT_COLS_MAX);
	char run[24];
	snprintf(run, sizeof run, "%lld", (long long)run_id);
	const char *params[2] = { run, period };
	static const char declare[] = "DECLARE " REPORT_CURSOR_NAME " NO SCROLL CURSOR FOR ";
	size_t n = strlen(declare) + strlen(l->sql) + 1;
	char *sql = malloc(n); /* freed below */
	struct report_cursor *c = calloc(1, sizeof *c); /* owned by the caller: report_cursor_close */
	if (!sql || !c) {
		free(sql);
		free(c);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	snprintf(sql, n, "%s%s", declare, l->sql);
	c->db = db;
	c->l = l;
	PGresult *res = db_query(db, sql, 2, params, PGRES_COMMAND_OK, e);
	free(sql);
	if (!res) {
		free(c);
		return err_prefix(e, "%s", l->csv_name ? l->csv_name : l->sheet_name);
	}
	PQclear(res);
	c->open = 1;
	*out = c;
	return 0;
}

int report_cursor_next(struct report_cursor *c, const char *const **values, struct err *e)
{
	if (!c->batch || c->next_row >= PQntuples(c->batch)) {
		if (c->last || !c->open)
			return 0;
		PQclear(c->batch);
		c->batch = NULL;
		c->next_row = 0;
		char fetch[64];
		snprintf(fetch, sizeof fetch, "FETCH %d FROM " REPORT_CURSOR_NAME, REPORT_FETCH_ROWS);
		c->batch = db_query(c->db, fetch, 0, NULL, PGRES_TUPLES_OK, e);
		if (!c->batch)
			return err_prefix(e, "%s", c->l->csv_name ? c->l->csv_name : c->l->sheet_name);
		/* The table of columns and the SQL are written together: a mismatch is a bug. */
		ASSERT((size_t)PQnfields(c->batch) == c->l->ncols);
		c->last = PQntuples(c->batch) < REPORT_FETCH_ROWS;
		if (PQntuples(c->batch) == 0)
			return 0;
	}
	int r = c->next_row++;
	for (size_t i = 0; i < c->l->ncols; i++)
		c->values[i] = PQgetisnull(c->batch, r, (int)i) ? NULL : PQgetvalue(c->batch, r, (int)i);
	*values = c->values;
	return 1;
}

void report_cursor_close(struct report_cursor *c)
{
	if (!c)
		return;
	PQclear(c->batch);
	/* The name is reused by the next listing. In a failed transaction CLOSE fails too, and
	 * the rollback drops the cursor with everything else. */
	if (c->open)
		(void)db_exec(c->db, "CLOSE " REPORT_CURSOR_NAME, NULL);
	free(c);
}

int report_minor_units(const char *currency)
{
	if (!currency)
		return 0;
	int mu = currency_minor_units(currency, strlen(currency));
	return mu < 0 ? 0 : mu;
}

int report_parse_micros(const char *text, int64_t *out_micros, struct err *e)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || end == text || *end)
		return err_set(e, EXIT_FAILED, "amount \"%s\" is out of range for a report", text);
	*out_micros = (int64_t)v;
	return 0;
}

/* Exact powers of ten as doubles: 10^22 is the largest a double holds exactly. */
static const double report_pow10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
#define REPORT_DECIMAL_DIGITS_MAX 15 /* significant digits: below 2^53, so the integer is exact */

int report_parse_decimal(const char *text, double *out, struct err *e)
{
	const char *p = text;
	int neg = *p == '-';
	p += neg;
	const char *int_start = p;
	while (*p >= '0' && *p <= '9')
		p++;
	const char *int_end = p, *frac_start = p, *frac_end = p;
	if (*p == '.') {
		frac_start = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		frac_end = p;
		if (frac_end == frac_start)
			goto bad;
	}
	if (*p != '\0' || int_end == int_start)
		goto bad;
	while (frac_end > frac_start && frac_end[-1] == '0') /* 34.50 is 34.5 */
		frac_end--;
	while (int_start < int_end - 1 && *int_start == '0')
		int_start++;
	size_t k = (size_t)(frac_end - frac_start);
	if (k >= sizeof report_pow10 / sizeof report_pow10[0])
		goto bad;
	uint64_t m = 0;
	size_t significant = 0;
	const char *digits[2][2] = { { int_start, int_end }, { frac_start, frac_end } };
	for (size_t r = 0; r < 2; r++)
		for (const char *q = digits[r][0]; q < digits[r][1]; q++) {
			m = m * 10 + (uint64_t)(*q - '0');
			if (m != 0 && ++significant > REPORT_DECIMAL_DIGITS_MAX)
				goto bad; /* leading zeros are not significant */
		}
	/* m and 10^k are exact doubles; IEEE division rounds their quotient correctly. */
	double v = (double)m / report_pow10[k];
	*out = neg && m != 0 ? -v : v;
	return 0;
bad:
	return err_set(e, EXIT_FAILED, "\"%.40s\" is not a decimal a report cell can hold", text);
}

int report_format_money(const char *micros_text, const char *currency, char buf[MONEY_FORMAT_MAX],
			struct err *e)
{
	int64_t micros;
	if (report_parse_micros(micros_text, &micros, e) < 0)
		return -1;
	return (int)money_format(micros, report_minor_units(currency), buf);
}
