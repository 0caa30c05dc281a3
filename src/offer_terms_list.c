/* offer_terms_list.c — `settle status`: each offer's terms and where each came from (SPEC §3.2).
 *
 * The terms shown are exactly those reconcile uses now (settle.offer_terms_asof, sql/016; "now" is
 * the command's database clock, run_db_now_us, one instant for every query), one
 * block per offer row (an offer the feeds know has one row per agreement). Beside each term its
 * source, found by comparing the value with what each place gives:
 *   - the feed that carries it (agreement, offer, offer product, product, agreement term feed), as
 *     settle.offer_derived_asof derives it;
 *   - settle's offer file: the offer's own row, or its resale authorization's row (SPEC §3.2);
 *   - both, when they agree ("agreement feed = offer file");
 *   - a feed value that the offer file contradicts names both (that is OFFER_TERMS_CONFLICT);
 *   - a stated value the feed also gives differently (product_code: the file's wins) names both;
 *   - "default" for what neither gives (pricing_model CONTRACT).
 * Rates are percent, as the offer file writes them. Accounts are identities (the 12-digit number
 * where the account feed knows it, SPEC §1). Ordered by offer, agreement (byte order), then the
 * terms in the order of SPEC §3.2's offer file columns, so the section reads the same every time.
 *
 * Then the usage prices per offer and dimension (SPEC §3.3, as reconcile reads them:
 * settle.offer_dimension_terms_asof): the offer_dimension file's, naming the rate card's price it
 * overrides, else the agreement term feed's rate card; and the offer file's resale authorization
 * rows that apply to no offer (a typo in the authorization id would otherwise change nothing,
 * silently: docs/offers.md).
 */
#include "offer_terms_list.h"

#include <stdlib.h>
#include <string.h>

#include "currency.h"
#include "money.h"
#include "timeutil.h"

static const char offer_terms_sql[] =
	"WITH acct AS MATERIALIZED (SELECT m.id, m.account_key FROM settle.account_map($1::timestamptz) m),"
	" st AS MATERIALIZED ("
	"  SELECT s.offer_id, s.agreement_id, s.product_id, s.product_code, s.resale_authorization_id, s.currency,"
	"         s.pricing_model, s.split_basis, s.markup_rate_micros, s.isv_share_rate_micros,"
	"         s.listing_fee_rate_micros, s.valid_from, s.valid_until,"
	"         settle.account_ident(s.buyer_account_id, ab.account_key) AS buyer,"
	"         settle.account_ident(s.isv_account_id, ai.account_key) AS isv,"
	"         settle.account_ident(s.reseller_account_id, ar.account_key) AS reseller"
	"  FROM settle.offer_asof($1::timestamptz) s"
	"  LEFT JOIN acct ab ON ab.id = settle.account_pad(s.buyer_account_id)"
	"  LEFT JOIN acct ai ON ai.id = settle.account_pad(s.isv_account_id)"
	"  LEFT JOIN acct ar ON ar.id = settle.account_pad(s.reseller_account_id)),"
	" d AS MATERIALIZED (SELECT * FROM settle.offer_derived_asof($1::timestamptz)),"
	" t AS MATERIALIZED (SELECT * FROM settle.offer_terms_asof($1::timestamptz)),"
	/* the derived row of a term row: by agreement, or the one row of an offer no agreement accepted */
	" j AS ("
	"  SELECT t.*, d.agreement_id AS d_agreement, d.product_id AS d_product, d.product_code AS d_code,"
	"         d.buyer_account_id AS d_buyer, d.isv_account_id AS d_isv,"
	"         CASE WHEN d.seller_account_id <> d.isv_account_id THEN d.seller_account_id END AS d_reseller,"
	"         d.resale_authorization_id AS d_ra, d.currency AS d_currency,"
	"         CASE WHEN d.usage THEN 'USAGE' END AS d_pricing,"
	"         CASE WHEN d.seller_account_id <> d.isv_account_id THEN 'MARKUP'"
	"              WHEN d.seller_account_id = d.isv_account_id THEN 'DIRECT' END AS d_basis,"
	"         d.valid_from AS d_from, d.valid_until AS d_until,"
	"         so.agreement_id AS o_agreement, so.product_id AS o_product, so.product_code AS o_code,"
	"         so.buyer AS o_buyer, so.isv AS o_isv, so.reseller AS o_reseller,"
	"         so.resale_authorization_id AS o_ra, so.currency AS o_currency, so.pricing_model AS o_pricing,"
	"         so.split_basis AS o_basis, so.markup_rate_micros AS o_markup, so.isv_share_rate_micros AS o_share,"
	"         so.listing_fee_rate_micros AS o_fee, so.valid_from AS o_from, so.valid_until AS o_until,"
	"         sa.product_code AS a_code, sa.buyer AS a_buyer, sa.isv AS a_isv, sa.reseller AS a_reseller,"
	"         sa.currency AS a_currency, sa.pricing_model AS a_pricing, sa.split_basis AS a_basis,"
	"         sa.markup_rate_micros AS a_markup, sa.isv_share_rate_micros AS a_share,"
	"         sa.listing_fee_rate_micros AS a_fee, sa.valid_from AS a_from, sa.valid_until AS a_until"
	"  FROM t"
	"  LEFT JOIN d ON t.derived AND d.offer_id = t.offer_id"
	"       AND (d.agreement_id = t.agreement_id OR d.agreement_id IS NULL)"
	"  LEFT JOIN st so ON so.offer_id = t.offer_id"
	"  LEFT JOIN st sa ON t.derived AND sa.offer_id IS NULL AND sa.resale_authorization_id = t.resale_authorization_id)"
	" SELECT j.offer_id, coalesce(j.agreement_id, ''), coalesce(j.problem_code, ''), coalesce(j.problem_detail, ''),"
	"        v.term, coalesce(v.value, ''),"
	"        CASE WHEN v.value IS NULL THEN ''"
	"             WHEN v.fed IS NOT NULL AND v.value = v.fed AND coalesce(v.own, v.ra) = v.fed"
	"                  THEN v.feed || ' = ' || CASE WHEN v.own IS NOT NULL THEN 'offer file' ELSE 'offer file (resale authorization)' END"
	"             WHEN v.fed IS NOT NULL AND v.value = v.fed AND coalesce(v.own, v.ra) IS NOT NULL"
	"                  THEN v.feed || '; the offer file states ' || coalesce(v.own, v.ra)"
	"             WHEN v.fed IS NOT NULL AND v.value = v.fed THEN v.feed"
	"             WHEN v.own IS NOT NULL AND v.value = v.own"
	"                  THEN 'offer file' || CASE WHEN v.fed IS NOT NULL THEN ' (' || v.feed || ': ' || v.fed || ')' ELSE '' END"
	"             WHEN v.ra IS NOT NULL AND v.value = v.ra"
	"                  THEN 'offer file, resale authorization ' || j.resale_authorization_id"
	"                       || CASE WHEN v.fed IS NOT NULL THEN ' (' || v.feed || ': ' || v.fed || ')' ELSE '' END"
	"             ELSE 'default' END"
	" FROM j CROSS JOIN LATERAL (VALUES"
	"  (1, 'agreement_id', j.agreement_id, j.d_agreement, j.o_agreement, NULL::text, 'agreement feed'),"
	"  (2, 'product_id', j.product_id, j.d_product, j.o_product, NULL, 'offer product feed'),"
	"  (3, 'product_code', j.product_code, j.d_code, j.o_code, j.a_code, 'product feed'),"
	"  (4, 'buyer_account_id', j.buyer_account_id, j.d_buyer, j.o_buyer, j.a_buyer,"
	"      'agreement feed (acceptor) or offer target feed'),"
	"  (5, 'isv_account_id', j.isv_account_id, j.d_isv, j.o_isv, j.a_isv, 'product feed (manufacturer)'),"
	"  (6, 'reseller_account_id', j.reseller_account_id, j.d_reseller, j.o_reseller, j.a_reseller,"
	"      'offer feed (seller of record)'),"
	"  (7, 'resale_authorization_id', j.resale_authorization_id, j.d_ra, j.o_ra, NULL, 'offer feed (opportunity_id)'),"
	"  (8, 'currency', j.currency, j.d_currency, j.o_currency, j.a_currency, 'agreement feed'),"
	"  (9, 'pricing_model', j.pricing_model, j.d_pricing, j.o_pricing, j.a_pricing,"
	"      'agreement term feed (usage-based pricing term)'),"
	"  (10, 'split_basis', j.split_basis, j.d_basis, j.o_basis, j.a_basis, 'offer and product feeds (seller of record vs ISV)'),"
	"  (11, 'markup_pct', trim_scale(j.markup_rate_micros / 10000.0)::text, NULL,"
	"       trim_scale(j.o_markup / 10000.0)::text, trim_scale(j.a_markup / 10000.0)::text, NULL),"
	"  (12, 'isv_share_pct', trim_scale(j.isv_share_rate_micros / 10000.0)::text, NULL,"
	"       trim_scale(j.o_share / 10000.0)::text, trim_scale(j.a_share / 10000.0)::text, NULL),"
	"  (13, 'listing_fee_pct', trim_scale(j.listing_fee_rate_micros / 10000.0)::text, NULL,"
	"       trim_scale(j.o_fee / 10000.0)::text, trim_scale(j.a_fee / 10000.0)::text, NULL),"
	"  (14, 'valid_from', j.valid_from::text, j.d_from::text, j.o_from::text, j.a_from::text, 'agreement feed (start)'),"
	"  (15, 'valid_until', j.valid_until::text, j.d_until::text, j.o_until::text, j.a_until::text, 'agreement feed (end)')"
	" ) v(ord, term, value, fed, own, ra, feed)"
	" ORDER BY j.offer_id COLLATE \"C\", j.agreement_id COLLATE \"C\" NULLS FIRST, v.ord";

enum { C_OFFER, C_AGREEMENT, C_PROBLEM, C_DETAIL, C_TERM, C_VALUE, C_SOURCE, C_N };

/* SPEC §3.3: the offer_dimension file's price wins over the rate card's (offer_dimension_terms_asof);
 * both are shown where both give one. The currency is the offer's, for the amount's digits. */
static const char usage_prices_sql[] =
	"WITH t AS MATERIALIZED (SELECT DISTINCT ON (o.offer_id) o.offer_id, o.currency"
	"                        FROM settle.offer_terms_asof($1::timestamptz) o"
	"                        ORDER BY o.offer_id, o.currency COLLATE \"C\" NULLS LAST),"
	" f AS (SELECT d.offer_id, d.dimension, d.unit_price_micros FROM settle.offer_dimension_asof($1::timestamptz) d),"
	" c AS (SELECT p.offer_id, p.dimension, p.price, p.unit_price_micros FROM settle.offer_term_prices_asof($1::timestamptz) p)"
	" SELECT coalesce(f.offer_id, c.offer_id), coalesce(f.dimension, c.dimension), coalesce(t.currency, ''),"
	"        f.unit_price_micros, c.price, c.unit_price_micros"
	" FROM f FULL JOIN c ON c.offer_id = f.offer_id AND c.dimension = f.dimension"
	" LEFT JOIN t ON t.offer_id = coalesce(f.offer_id, c.offer_id)"
	" ORDER BY coalesce(f.offer_id, c.offer_id) COLLATE \"C\", coalesce(f.dimension, c.dimension) COLLATE \"C\"";

enum { U_OFFER, U_DIMENSION, U_CURRENCY, U_FILE_PRICE, U_CARD_TEXT, U_CARD_PRICE, U_N };

/* SPEC §3.2: a row without offer_id applies to every offer of its resale authorization; one that
 * no offer has applies to nothing. */
static const char unused_ra_sql[] =
	"SELECT o.resale_authorization_id, f.file_name, o.line"
	" FROM settle.offer_asof($1::timestamptz) o JOIN settle.ingest_file f ON f.file_id = o.file_id"
	" WHERE o.offer_id IS NULL"
	"   AND NOT EXISTS (SELECT 1 FROM settle.offer_terms_asof($1::timestamptz) t"
	"                   WHERE t.resale_authorization_id = o.resale_authorization_id)"
	" ORDER BY o.resale_authorization_id COLLATE \"C\"";

static const char *price_text(const char *micros_text, const char *currency, char buf[MONEY_FORMAT_MAX])
{
	int64_t micros = strtoll(micros_text, NULL, 10);
	int minor = currency_minor_units(currency, strlen(currency));
	money_format(micros, minor < 0 ? 2 : minor, buf);
	return buf;
}

static int usage_prices_list(struct db *db, const char *const *as_of, FILE *out, struct err *e)
{
	PGresult *r = db_query(db, usage_prices_sql, 1, as_of, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	ASSERT(PQnfields(r) == U_N);
	int n = PQntuples(r);
	if (n > 0)
		fprintf(out, "\nusage prices (as reconcile uses them now; per offer and dimension, with where each came from):\n");
	for (int i = 0; i < n && i < USAGE_PRICES_LIST_MAX; i++) {
		const char *cur = PQgetvalue(r, i, U_CURRENCY), *card = PQgetvalue(r, i, U_CARD_TEXT);
		char price[MONEY_FORMAT_MAX], source[256];
		const char *shown;
		if (!PQgetisnull(r, i, U_FILE_PRICE)) {
			shown = price_text(PQgetvalue(r, i, U_FILE_PRICE), cur, price);
			if (PQgetisnull(r, i, U_CARD_TEXT))
				snprintf(source, sizeof source, "offer_dimension file");
			else
				snprintf(source, sizeof source, "offer_dimension file (rate card: %s)", card);
		} else if (!PQgetisnull(r, i, U_CARD_PRICE)) {
			shown = price_text(PQgetvalue(r, i, U_CARD_PRICE), cur, price);
			snprintf(source, sizeof source, "agreement term feed (rate card)");
		} else {
			/* reconcile names such a dimension with this price rather than calling it unpriced */
			shown = card;
			snprintf(source, sizeof source, "agreement term feed (rate card): not an exact amount, not used");
		}
		fprintf(out, "  %-24s %-24s %-16s %s\n", PQgetvalue(r, i, U_OFFER), PQgetvalue(r, i, U_DIMENSION), shown,
			source);
	}
	if (n > USAGE_PRICES_LIST_MAX)
		fprintf(out, "  ... and %d more (settle.offer_dimension_terms_asof(now()) has them all)\n",
			n - USAGE_PRICES_LIST_MAX);
	PQclear(r);
	return 0;
}

static int unused_ra_list(struct db *db, const char *const *as_of, FILE *out, struct err *e)
{
	PGresult *r = db_query(db, unused_ra_sql, 1, as_of, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	if (n > 0)
		fprintf(out, "\noffer file rows that apply to no offer (no offer has their resale authorization):\n");
	for (int i = 0; i < n; i++)
		fprintf(out, "  resale authorization %s (%s line %s): applies to no offer\n", PQgetvalue(r, i, 0),
			PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
	PQclear(r);
	return 0;
}

int offer_terms_list(struct db *db, int64_t now_us, FILE *out, struct err *e)
{
	/* One instant for every query ($1), so the three sections read the same state. */
	char now[40];
	time_format_pg(now_us, now);
	const char *as_of[] = { now };
	PGresult *r = db_query(db, offer_terms_sql, 1, as_of, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	ASSERT(PQnfields(r) == C_N);
	int n = PQntuples(r), offers = 0, shown = 0;
	const char *prev_offer = NULL, *prev_agreement = NULL;
	for (int i = 0; i < n; i++) {
		const char *offer = PQgetvalue(r, i, C_OFFER), *agreement = PQgetvalue(r, i, C_AGREEMENT);
		int first = !prev_offer || strcmp(prev_offer, offer) != 0 || strcmp(prev_agreement, agreement) != 0;
		if (first) {
			if (offers++ == 0)
				fprintf(out, "\noffer terms (as reconcile uses them now; each term with where it came from):\n");
			prev_offer = offer;
			prev_agreement = agreement;
			shown = offers <= OFFER_TERMS_LIST_MAX;
			if (!shown)
				continue;
			const char *problem = PQgetvalue(r, i, C_PROBLEM);
			fprintf(out, "  offer %s%s%s%s%s%s%s\n", offer, *agreement ? ", agreement " : "", agreement,
				*problem ? ": " : "", problem, *problem ? ": " : "", PQgetvalue(r, i, C_DETAIL));
		}
		if (!shown)
			continue;
		const char *value = PQgetvalue(r, i, C_VALUE);
		if (!*value)
			continue; /* a term the offer does not have (no reseller of a direct offer, no markup) */
		fprintf(out, "    %-24s %-44s %s\n", PQgetvalue(r, i, C_TERM), value, PQgetvalue(r, i, C_SOURCE));
	}
	if (offers > OFFER_TERMS_LIST_MAX)
		fprintf(out, "  ... and %d more offers (settle.offer_terms_asof(now()) has them all)\n",
			offers - OFFER_TERMS_LIST_MAX);
	else if (offers == 0)
		fprintf(out, "\noffer terms: none (no offer feed, agreement feed or offer file loaded)\n");
	PQclear(r);
	return usage_prices_list(db, as_of, out, e) < 0 || unused_ra_list(db, as_of, out, e) < 0 ? -1 : 0;
}
