/* reconcile_tax.c — SPEC §4.6 tax items: each SELLER_TAX_SHARE / AWS_TAX_SHARE event of the period
 * (their refunds and credits included) against the marketplace's tax items.
 *
 * Only when the tax item feed is loaded at the run's as-of: without it nothing can be missing. An
 * event is matched to the items of its line_item_id when it has one that some item carries (only
 * those of its own invoice_id when some item of the line carries it: a refund on its own invoice
 * shares its forward line item), else to the items of its invoice_id and transaction_reference_id;
 * of those, the items whose liable party is the event's (SELLER_TAX_SHARE: Seller, AWS_TAX_SHARE:
 * AWS; an item naming no party, or another one, counts for both). TAX_ITEM_MISSING for an event dated 2021-08-05 or later with no
 * item (the marketplace writes a tax item for every tax event since then, SDDS.md);
 * TAX_ITEM_MISMATCH when |Σ tax_amount − event amount| > tol. PostgreSQL matches and sums (exact
 * bigint sums as numeric); C applies the tolerance and words the sentence.
 *
 * A FORGIVEN event is the marketplace forgiving an invoiced charge: it mirrors the INVOICED event
 * with the opposite sign, on the same invoice line, and the tax item feed writes no item of its own
 * for it (the items are the tax computed when the line was invoiced; the marketplace's reference
 * queries count INVOICED and FORGIVEN rows together, so a forgiven charge nets to zero). So a
 * FORGIVEN event is checked as the undoing of its line's items: TAX_ITEM_MISMATCH when
 * |(−Σ tax_amount) − event amount| > tol, and never TAX_ITEM_MISSING (the INVOICED event it forgives
 * carries that check). Compared as an INVOICED one, every forgiven tax would differ by twice its
 * amount (docs/reconcile.md "Tax items"). Should the feed repeat the line's items for the
 * forgiveness (negated, on the same line item, as it writes refund items), the line's items net
 * to the net of its events: a line of the period with a FORGIVEN event whose INVOICED and
 * FORGIVEN events together are within tol of its items' sum raises nothing, for any of its events.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "money.h"
#include "reconcile_int.h"
#include "reconcile_io.h"
#include "reconcile_text.h"
#include "timeutil.h"

static const char tax_loaded_sql[] =
	"SELECT EXISTS (SELECT 1 FROM settle.sdds_tax_item t JOIN settle.ingest_file f ON f.file_id = t.file_id"
	"               WHERE f.file_id IN (SELECT v.file_id FROM settle.visible_files($1::timestamptz) v))";

/* $1 as-of, $2/$3 the period's first and end day (days since 1970-01-01). The items are summed
 * per line item and per invoice and reference first, each sum twice — the items an AWS_TAX_SHARE
 * event may take (party not Seller) and those a SELLER_TAX_SHARE event may (party not AWS) — and
 * the events hash-joined to those sums: a per-event scan of every item would be events × items. */
#define BE(col) "be." ASOF_BE_##col
static const char tax_events_sql[] =
	"WITH ti AS MATERIALIZED ("
	"  SELECT t.line_item_id, t.invoice_id, t.transaction_reference_id, t.tax_amount_micros,"
	"         upper(coalesce(t.tax_liable_party, '')) AS party"
	"  FROM settle.sdds_tax_item_asof($1::timestamptz) t),"
	" li AS ("
	"  SELECT ti.line_item_id,"
	"         count(*) FILTER (WHERE ti.party <> 'SELLER') AS n_aws,"
	"         sum(ti.tax_amount_micros) FILTER (WHERE ti.party <> 'SELLER') AS s_aws,"
	"         count(*) FILTER (WHERE ti.party <> 'AWS') AS n_seller,"
	"         sum(ti.tax_amount_micros) FILTER (WHERE ti.party <> 'AWS') AS s_seller"
	"  FROM ti WHERE ti.line_item_id IS NOT NULL GROUP BY ti.line_item_id),"
	" lii AS ("
	"  SELECT ti.line_item_id, ti.invoice_id,"
	"         count(*) FILTER (WHERE ti.party <> 'SELLER') AS n_aws,"
	"         sum(ti.tax_amount_micros) FILTER (WHERE ti.party <> 'SELLER') AS s_aws,"
	"         count(*) FILTER (WHERE ti.party <> 'AWS') AS n_seller,"
	"         sum(ti.tax_amount_micros) FILTER (WHERE ti.party <> 'AWS') AS s_seller"
	"  FROM ti WHERE ti.line_item_id IS NOT NULL AND ti.invoice_id IS NOT NULL"
	"  GROUP BY ti.line_item_id, ti.invoice_id),"
	" ir AS ("
	"  SELECT ti.invoice_id, ti.transaction_reference_id,"
	"         count(*) FILTER (WHERE ti.party <> 'SELLER') AS n_aws,"
	"         sum(ti.tax_amount_micros) FILTER (WHERE ti.party <> 'SELLER') AS s_aws,"
	"         count(*) FILTER (WHERE ti.party <> 'AWS') AS n_seller,"
	"         sum(ti.tax_amount_micros) FILTER (WHERE ti.party <> 'AWS') AS s_seller"
	"  FROM ti WHERE ti.invoice_id IS NOT NULL AND ti.transaction_reference_id IS NOT NULL"
	"  GROUP BY ti.invoice_id, ti.transaction_reference_id),"
	" ev AS ("
	/* rc_be's columns are asof.h's; ev's keep their names, the rest of the query reads those */
	"  SELECT " BE(ID) " AS beid, " BE(RECIPIENT) " AS recipient, " BE(TREF) " AS tref, " BE(CURRENCY)
	" AS currency, " BE(AMOUNT) " AS amount, " BE(DAY) " AS day, " BE(LINE_ITEM) " AS line_item, " BE(INVOICE)
	" AS invoice,"
	"         " BE(TYPE) " LIKE 'AWS_TAX_SHARE%' AS aws, " BE(ACTION) " = 'FORGIVEN' AS forgiven"
	"  FROM pg_temp.rc_be be"
	"  WHERE " BE(ACTION) " IN ('INVOICED', 'FORGIVEN') AND " BE(DAY) " >= $2::int AND " BE(DAY) " < $3::int"
	"    AND (" BE(TYPE) " LIKE 'SELLER_TAX_SHARE%' OR " BE(TYPE) " LIKE 'AWS_TAX_SHARE%'))"
	/* an event takes its line item's items when some item carries that line item (of whichever
	 * party) — of them only those of its own invoice when some item of the line carries it (a
	 * refund on its own invoice shares its forward line item: the items of both invoices are on
	 * the line) —, else its invoice's and reference's; lkey names those items */
	", m AS ("
	"  SELECT ev.*,"
	"         CASE WHEN lii.line_item_id IS NOT NULL THEN 'l' || lii.line_item_id || chr(31) || lii.invoice_id"
	"              WHEN li.line_item_id IS NOT NULL THEN 'l' || li.line_item_id"
	"              ELSE 'i' || coalesce(ev.invoice, '') || chr(31) || coalesce(ev.tref, '') END AS lkey,"
	"         coalesce(CASE WHEN lii.line_item_id IS NOT NULL THEN CASE WHEN ev.aws THEN lii.n_aws ELSE lii.n_seller END"
	"                       WHEN li.line_item_id IS NOT NULL THEN CASE WHEN ev.aws THEN li.n_aws ELSE li.n_seller END"
	"                       ELSE CASE WHEN ev.aws THEN ir.n_aws ELSE ir.n_seller END END, 0) AS n,"
	"         coalesce(CASE WHEN lii.line_item_id IS NOT NULL THEN CASE WHEN ev.aws THEN lii.s_aws ELSE lii.s_seller END"
	"                       WHEN li.line_item_id IS NOT NULL THEN CASE WHEN ev.aws THEN li.s_aws ELSE li.s_seller END"
	"                       ELSE CASE WHEN ev.aws THEN ir.s_aws ELSE ir.s_seller END END, 0) AS total,"
	"         CASE WHEN lii.line_item_id IS NOT NULL THEN 'line item and invoice'"
	"              WHEN li.line_item_id IS NOT NULL THEN 'line item' ELSE 'invoice and reference' END AS basis"
	"  FROM ev"
	"  LEFT JOIN li ON li.line_item_id = ev.line_item"
	"  LEFT JOIN lii ON lii.line_item_id = ev.line_item AND lii.invoice_id = ev.invoice"
	"  LEFT JOIN ir ON li.line_item_id IS NULL AND ir.invoice_id = ev.invoice AND ir.transaction_reference_id = ev.tref)"
	/* per line (its items, party, recipient and currency): whether the period forgives some of
	 * it, and the net of its INVOICED and FORGIVEN events */
	" SELECT m.beid, m.recipient, m.tref, m.currency, m.amount, m.day, m.n, m.total::text, m.basis, m.forgiven,"
	"        bool_or(m.forgiven) OVER w, (sum(m.amount) OVER w)::text"
	" FROM m"
	" WINDOW w AS (PARTITION BY m.lkey, m.aws, m.recipient, m.currency)"
	" ORDER BY m.beid COLLATE \"C\", m.recipient COLLATE \"C\"";
#undef BE

enum {
	X_BEID, X_RECIPIENT, X_TREF, X_CURRENCY, X_AMOUNT, X_DAY, X_N, X_TOTAL, X_BASIS, X_FORGIVEN,
	X_LINE_FORGIVEN, X_LINE_NET, X_COLS
};

/* 2021-08-05 in days since 1970-01-01: from then on every tax event has its tax item. */
#define TAX_ITEMS_SINCE_DAY 18844

static int tax_event(struct rc *rc, PGresult *res, int i, struct err *e)
{
	int64_t amount, n, total;
	int32_t day;
	if (rio_i64(PQgetvalue(res, i, X_AMOUNT), &amount) < 0 || rio_i32(PQgetvalue(res, i, X_DAY), &day) < 0 ||
	    rio_i64(PQgetvalue(res, i, X_N), &n) < 0)
		return err_set(e, EXIT_FAILED, "database: a tax event has no amount or date");
	if (rio_i64(PQgetvalue(res, i, X_TOTAL), &total) < 0)
		return err_set(e, EXIT_FAILED, "tax event %s: the sum of its tax items overflows",
			       PQgetvalue(res, i, X_BEID));
	const char *beid = PQgetvalue(res, i, X_BEID), *cur = PQgetvalue(res, i, X_CURRENCY);
	int minor;
	int64_t tol, diff;
	if (rc_minor_units(cur, &minor, e) < 0 || rc_tolerance(rc, cur, &tol, e) < 0)
		return -1;
	char a[MONEY_FORMAT_MAX], t[MONEY_FORMAT_MAX], d[11], buf[RTEXT_MAX];
	money_format(amount, minor, a);
	time_format_day(day, d);
	struct rc_exception x = {
		.reference = beid,
		.recipient_account_id = PQgetvalue(res, i, X_RECIPIENT),
		.currency = cur,
		.has_actual = 1,
		.actual_micros = amount,
		.detail = buf,
	};
	int forgiven = strcmp(PQgetvalue(res, i, X_FORGIVEN), "t") == 0;
	if (n == 0) {
		if (day < TAX_ITEMS_SINCE_DAY || forgiven)
			return 0;
		snprintf(buf, sizeof buf,
			 "tax event %s of %s (charge %s, %s %s) has no tax item in the tax item feed, by line item "
			 "or by invoice and reference",
			 beid, d, PQgetvalue(res, i, X_TREF), a, cur);
		x.code = "TAX_ITEM_MISSING";
		return rc_exception_add(rc, &x, e);
	}
	/* The tax item feed may follow a forgiveness with items of its own on the same line (the
	 * invoiced line's items again, negated, as refund items share their forward line item):
	 * then the line's items net to what its invoiced and forgiven events net to, and none of
	 * its events is a mismatch (each alone would be: the invoiced tax against items that net
	 * to less, the forgiveness against their negative). */
	if (strcmp(PQgetvalue(res, i, X_LINE_FORGIVEN), "t") == 0) {
		int64_t net, off;
		if (rio_i64(PQgetvalue(res, i, X_LINE_NET), &net) < 0)
			return err_set(e, EXIT_FAILED, "tax event %s: the sum of its line's events overflows", beid);
		if (money_sub(net, total, &off) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "tax event %s: the difference overflows", beid);
		if (off <= tol && off >= -tol)
			return 0;
	}
	/* a forgiveness undoes its line's items: it is expected to be their negative */
	int64_t expected = total;
	if (forgiven && money_neg(total, &expected) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "tax event %s: the sum of its tax items overflows", beid);
	if (money_sub(amount, expected, &diff) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "tax event %s: the difference overflows", beid);
	if (diff <= tol && diff >= -tol)
		return 0;
	money_format(total, minor, t);
	if (forgiven)
		snprintf(buf, sizeof buf,
			 "forgiven tax event %s of %s (charge %s) is %s %s, but its line's %" PRId64
			 " tax item%s (matched by %s) sum to %s: it does not forgive exactly that tax",
			 beid, d, PQgetvalue(res, i, X_TREF), a, cur, n, n == 1 ? "" : "s", PQgetvalue(res, i, X_BASIS), t);
	else
		snprintf(buf, sizeof buf,
			 "tax event %s of %s (charge %s) is %s %s, its %" PRId64 " tax item%s (matched by %s) sum to %s",
			 beid, d, PQgetvalue(res, i, X_TREF), a, cur, n, n == 1 ? "" : "s", PQgetvalue(res, i, X_BASIS), t);
	x.code = "TAX_ITEM_MISMATCH";
	x.has_expected = 1;
	x.expected_micros = expected;
	return rc_exception_add(rc, &x, e);
}

int rc_tax_run(struct rc *rc, struct err *e)
{
	char as_of[40], d0[16], d1[16];
	time_format_pg(rc->as_of_us, as_of);
	snprintf(d0, sizeof d0, "%" PRId32, rc->period_first_day);
	snprintf(d1, sizeof d1, "%" PRId32, rc->period_end_day);
	const char *params[] = { as_of, d0, d1 };
	int loaded;
	if (db_query_bool(rc->db, tax_loaded_sql, 1, params, &loaded, e) < 0)
		return -1;
	if (!loaded)
		return 0;
	PGresult *res = db_query(rc->db, tax_events_sql, 3, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	ASSERT(PQnfields(res) == X_COLS);
	int rc_code = 0;
	for (int i = 0; i < PQntuples(res) && rc_code == 0; i++)
		rc_code = tax_event(rc, res, i, e);
	PQclear(res);
	return rc_code;
}
