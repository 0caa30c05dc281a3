/* reconcile.c — reconcile_period (SPEC §4; see reconcile.h and reconcile_int.h for the phases;
 * the command is cmd_reconcile.c, the run row run.c's run_create). This file holds the frame: the
 * temporary tables every phase reads (the current events themselves are asof.c's), the offers,
 * the flush of collected rows and the balance assertions. The rules themselves live in match.c, alloc.c, disburse.c, usage.c and the phase
 * files reconcile_groups.c, reconcile_payouts.c, reconcile_usage.c.
 */
#include "reconcile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asof.h"
#include "currency.h"
#include "log.h"
#include "msg.h"
#include "reconcile_int.h"
#include "timeutil.h"

/* ---------------------------------------------------------------------------------------------
 * The temporary tables of a period computation
 */

/* The planner needs statistics of the input tables: right after a large ingest (before
 * autovacuum gets to it) a table has none, every filter is guessed at 0.5 % of the rows, and a
 * 5M-row metering month is planned as 64 rows (a nested loop over a materialised copy: a minute
 * instead of seconds). Tables never analysed, or changed by more than a fifth since, are analysed
 * here; ANALYZE samples a bounded number of rows, so this costs well under a second. The names
 * come from this fixed list, never from the database. */
static const struct {
	const char *name;
	const char *analyze_sql;
} rc_inputs[] = {
	{ "ingest_file", "ANALYZE settle.ingest_file" },
	{ "billing_event", "ANALYZE settle.billing_event" },
	{ "offer", "ANALYZE settle.offer" },
	{ "offer_dimension", "ANALYZE settle.offer_dimension" },
	{ "metering", "ANALYZE settle.metering" },
	{ "bank_deposit", "ANALYZE settle.bank_deposit" },
};

static int rc_analyze_inputs(struct rc *rc, struct err *e)
{
	/* Once per transaction: the statistics views are a snapshot taken at the transaction's first
	 * look, so a second period of the same run (nightly) would see the same old counts and
	 * analyse the same tables again (0.7 s for nothing). The marker dies with the transaction. */
	int done;
	if (db_query_bool(rc->db, "SELECT to_regclass('pg_temp.rc_analyzed') IS NOT NULL", 0, NULL, &done, e) < 0)
		return -1;
	if (done)
		return 0;
	if (db_exec(rc->db, "CREATE TEMP TABLE rc_analyzed () ON COMMIT DROP", e) < 0)
		return -1;
	PGresult *res = db_query(
		rc->db,
		"SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		" LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
		" WHERE n.nspname = 'settle' AND c.relkind = 'r'"
		"   AND c.relname IN ('ingest_file', 'billing_event', 'offer', 'offer_dimension', 'metering', 'bank_deposit')"
		"   AND (s.relid IS NULL OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL)"
		"        OR s.n_mod_since_analyze > greatest(1000, c.reltuples * 0.2))",
		0, NULL, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rc_code = 0;
	for (int i = 0; i < PQntuples(res) && rc_code == 0; i++)
		for (size_t k = 0; k < sizeof rc_inputs / sizeof rc_inputs[0]; k++)
			if (strcmp(PQgetvalue(res, i, 0), rc_inputs[k].name) == 0 &&
			    db_exec(rc->db, rc_inputs[k].analyze_sql, e) < 0)
				rc_code = -1;
	PQclear(res);
	return rc_code;
}

static int rc_setup(struct rc *rc, struct err *e)
{
	if (PQtransactionStatus(db_conn(rc->db)) != PQTRANS_INTRANS)
		return err_set(e, EXIT_FAILED, "reconcile_period must run inside the caller's transaction");
	return db_batch_settings(rc->db, e);
}

/* The period's tables: the current events at as-of (asof.c; kept when an earlier period of this
 * transaction built them, rc->be_shared), the period's bounds and the exceptions' staging table. */
static int rc_tables(struct rc *rc, struct err *e)
{
	char as_of[40], p0[16], p1[16];
	time_format_pg(rc->as_of_us, as_of);
	snprintf(p0, sizeof p0, "%" PRId32, rc->period_first_day);
	snprintf(p1, sizeof p1, "%" PRId32, rc->period_end_day);
	if (asof_current_events(rc->db, rc->as_of_us, &rc->be_shared, e) < 0)
		return -1;
	/* The period's bounds, for COPY queries (which take no parameters): one row, joined. */
	if (db_exec(rc->db,
		    "DROP TABLE IF EXISTS pg_temp.rc_param; DROP TABLE IF EXISTS pg_temp.rc_exc;"
		    "CREATE TEMP TABLE rc_param (as_of timestamptz NOT NULL, p0 integer NOT NULL, p1 integer NOT NULL)"
		    " ON COMMIT DROP;"
		    "CREATE TEMP TABLE rc_exc (code text NOT NULL, reference text NOT NULL, recipient text,"
		    " agreement text, offer text, currency text, expected bigint, actual bigint, difference bigint,"
		    " detail text NOT NULL) ON COMMIT DROP",
		    e) < 0)
		return -1;
	const char *params[] = { as_of, p0, p1 };
	PGresult *res = db_query(rc->db, "INSERT INTO pg_temp.rc_param VALUES ($1::timestamptz, $2::int, $3::int)", 3,
				 params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Offers (SPEC §3.2) current at as-of, sorted by offer_id so that "the smallest index" is "the
 * smallest offer_id" wherever a choice must be deterministic.
 */

enum {
	OF_ID, OF_AGREEMENT, OF_PRODUCT, OF_PRODUCT_CODE, OF_BUYER, OF_ISV, OF_RESELLER, OF_CURRENCY, OF_PRICING,
	OF_BASIS, OF_MARKUP, OF_SHARE, OF_FEE, OF_FROM, OF_UNTIL, OF_PROBLEM, OF_PROBLEM_DETAIL, OF_N
};

static int offer_rate(PGresult *res, int row, int col, int *has, int64_t *out, struct err *e)
{
	*has = !PQgetisnull(res, row, col);
	*out = 0;
	if (*has && rio_i64(PQgetvalue(res, row, col), out) < 0)
		return err_set(e, EXIT_FAILED, "database: a stored rate is not an integer");
	return 0;
}

static int offer_day(PGresult *res, int row, int col, int *has, int32_t *out, struct err *e)
{
	*has = !PQgetisnull(res, row, col);
	*out = 0;
	if (*has && rio_i32(PQgetvalue(res, row, col), out) < 0)
		return err_set(e, EXIT_FAILED, "database: a stored date is out of range");
	return 0;
}

int rc_offers_load(struct rc *rc, struct err *e)
{
	char as_of[40];
	time_format_pg(rc->as_of_us, as_of);
	const char *params[] = { as_of };
	rc->offers_res = db_query(
		rc->db,
		"SELECT offer_id, coalesce(agreement_id, ''), coalesce(product_id, ''), coalesce(product_code, ''),"
		"       coalesce(buyer_account_id, ''), coalesce(isv_account_id, ''), coalesce(reseller_account_id, ''),"
		"       coalesce(currency, ''), pricing_model, coalesce(split_basis, 'DIRECT'), markup_rate_micros,"
		"       isv_share_rate_micros, listing_fee_rate_micros,"
		"       valid_from - DATE '1970-01-01', valid_until - DATE '1970-01-01', problem_code, problem_detail"
		" FROM settle.offer_terms_asof($1::timestamptz)"
		" ORDER BY offer_id COLLATE \"C\", agreement_id COLLATE \"C\" NULLS FIRST",
		1, params, PGRES_TUPLES_OK, e);
	if (!rc->offers_res)
		return -1;
	PGresult *res = rc->offers_res;
	ASSERT(PQnfields(res) == OF_N);
	size_t n = (size_t)PQntuples(res);
	rc->offers = calloc(n ? n : 1, sizeof *rc->offers);
	rc->billed = calloc(n ? n : 1, sizeof *rc->billed);
	rc->offer_reported = calloc(n ? n : 1, 1);
	if (!rc->offers || !rc->billed || !rc->offer_reported)
		return err_set(e, EXIT_FAILED, "out of memory");
	rc->offers_n = n;
	for (int i = 0; i < (int)n; i++) {
		struct match_offer *o = &rc->offers[i];
		o->offer_id = PQgetvalue(res, i, OF_ID);
		o->agreement_id = PQgetvalue(res, i, OF_AGREEMENT);
		o->product_id = PQgetvalue(res, i, OF_PRODUCT);
		o->product_code = PQgetvalue(res, i, OF_PRODUCT_CODE);
		o->buyer_account_id = PQgetvalue(res, i, OF_BUYER);
		o->isv_account_id = PQgetvalue(res, i, OF_ISV);
		o->reseller_account_id = PQgetvalue(res, i, OF_RESELLER);
		o->currency = PQgetvalue(res, i, OF_CURRENCY);
		o->usage = strcmp(PQgetvalue(res, i, OF_PRICING), "USAGE") == 0;
		const char *basis = PQgetvalue(res, i, OF_BASIS);
		o->basis = strcmp(basis, "MARKUP") == 0 ? MATCH_BASIS_MARKUP
			 : strcmp(basis, "SHARE") == 0	? MATCH_BASIS_SHARE
							: MATCH_BASIS_DIRECT;
		if (offer_rate(res, i, OF_MARKUP, &o->has_markup_rate, &o->markup_rate_micros, e) < 0 ||
		    offer_rate(res, i, OF_SHARE, &o->has_isv_share_rate, &o->isv_share_rate_micros, e) < 0 ||
		    offer_rate(res, i, OF_FEE, &o->has_listing_fee_rate, &o->listing_fee_rate_micros, e) < 0 ||
		    offer_day(res, i, OF_FROM, &o->has_valid_from, &o->valid_from_day, e) < 0 ||
		    offer_day(res, i, OF_UNTIL, &o->has_valid_until, &o->valid_until_day, e) < 0)
			return -1;
		/* SPEC §3.2: OFFER_TERMS_CONFLICT / OFFER_INCOMPLETE — matched, never allocated */
		o->problem_code = PQgetisnull(res, i, OF_PROBLEM) ? NULL : PQgetvalue(res, i, OF_PROBLEM);
		o->problem_detail = PQgetisnull(res, i, OF_PROBLEM_DETAIL) ? "" : PQgetvalue(res, i, OF_PROBLEM_DETAIL);
	}
	if (match_index_build(rc->offers, n, &rc->index, e) < 0)
		return -1;
	/* SPEC §3.3: the offers' usage prices, by the lookup the insights price incidents with */
	return usage_prices_load_dims(rc->db, params[0], &rc->prices, e);
}

/* ---------------------------------------------------------------------------------------------
 * Payout statements (SPEC §4.4)
 */

static int statement_cmp(const void *a, const void *b)
{
	const struct rc_statement *x = a, *y = b;
	int c = strcmp(x->account, y->account);
	if (!c)
		c = strcmp(alloc_role_name(x->role), alloc_role_name(y->role));
	return c ? c : strcmp(x->currency, y->currency);
}

/* SPEC §4.4: the accounts among the statements' parties with allocations via another
 * recipient's feed that have a feed of their own (billing events ingested up to as-of with the
 * account as recipient: rc_be holds every current one). One scan of rc_be, and none at all when no
 * party earns through another's feed (no CPPO, or only DIRECT offers). */
static const char own_feed_sql[] =
	"SELECT DISTINCT " ASOF_BE_RECIPIENT " FROM pg_temp.rc_be WHERE " ASOF_BE_RECIPIENT " = ANY ($1::text[])";

static int statements_own_feed(struct rc *rc, PGresult **res, struct err *e)
{
	*res = NULL;
	size_t len = 2, n = 0;
	for (size_t i = 0; i < rc->statements_n; i++)
		if (rc->statements[i].via.parts > 0) {
			len += strlen(rc->statements[i].account) * 2 + 3;
			n++;
		}
	if (n == 0)
		return 0;
	/* A text[] literal of the accounts, each quoted with " and \ escaped. */
	char *arr = malloc(len + 1), *w = arr;
	if (!arr)
		return err_set(e, EXIT_FAILED, "out of memory");
	*w++ = '{';
	for (size_t i = 0, k = 0; i < rc->statements_n; i++) {
		if (rc->statements[i].via.parts == 0)
			continue;
		if (k++)
			*w++ = ',';
		*w++ = '"';
		for (const char *c = rc->statements[i].account; *c; c++) {
			if (*c == '"' || *c == '\\')
				*w++ = '\\';
			*w++ = *c;
		}
		*w++ = '"';
	}
	*w++ = '}';
	*w = '\0';
	const char *params[] = { arr };
	*res = db_query(rc->db, own_feed_sql, 1, params, PGRES_TUPLES_OK, e);
	free(arr);
	return *res ? 0 : -1;
}

/* Whether account is among the rows of own (a linear look: there are as many rows as parties
 * that earn through another recipient's feed, the ISVs of CPPO sales). */
static int has_own_feed(PGresult *own, const char *account)
{
	for (int i = 0; own && i < PQntuples(own); i++)
		if (strcmp(PQgetvalue(own, i, 0), account) == 0)
			return 1;
	return 0;
}

int rc_statements_run(struct rc *rc, struct err *e)
{
	PGresult *own;
	if (statements_own_feed(rc, &own, e) < 0)
		return -1;
	if (rc->statements_n > 0)
		qsort(rc->statements, rc->statements_n, sizeof *rc->statements, statement_cmp);
	int rc_code = -1;
	for (size_t i = 0; i < rc->statements_n; i++) {
		const struct rc_statement *s = &rc->statements[i];
		ASSERT(s->own.parts + s->via.parts > 0);
		/* SPEC §4.4: a party with its own feed counts only the groups it received itself. */
		struct rc_sums t = s->own;
		if (s->via.parts > 0 && !has_own_feed(own, s->account)) {
			if (money_add(t.revenue_micros, s->via.revenue_micros, &t.revenue_micros) != MONEY_OK ||
			    money_add(t.listing_fee_micros, s->via.listing_fee_micros, &t.listing_fee_micros) != MONEY_OK ||
			    money_add(t.seller_tax_micros, s->via.seller_tax_micros, &t.seller_tax_micros) != MONEY_OK ||
			    money_add(t.net_micros, s->via.net_micros, &t.net_micros) != MONEY_OK) {
				err_set(e, EXIT_FAILED, "the payout statement of %s in %s overflows", s->account, s->currency);
				goto done;
			}
			t.parts += s->via.parts;
		}
		if (t.parts == 0)
			continue; /* only allocations that the party's own feed counts instead */
		ASSERT((__int128)t.net_micros == (__int128)t.revenue_micros + t.listing_fee_micros + t.seller_tax_micros);
		int mu;
		int64_t payable, rounding;
		if (rc_minor_units(s->currency, &mu, e) < 0)
			goto done;
		if (alloc_payable(t.net_micros, mu, rc->cfg->rounding, &payable, &rounding) != MONEY_OK) {
			err_set(e, EXIT_FAILED, "the net payable of %s in %s overflows", s->account, s->currency);
			goto done;
		}
		struct rio_out *o = &rc->out_stmt;
		rio_int(o, rc->run_id);
		rio_text(o, rc->period_text);
		rio_text(o, s->account);
		rio_text(o, alloc_role_name(s->role));
		rio_text(o, s->currency);
		rio_int(o, t.revenue_micros);
		rio_int(o, t.listing_fee_micros);
		rio_int(o, t.seller_tax_micros);
		rio_int(o, t.net_micros);
		rio_int(o, payable);
		rio_int(o, rounding);
		rio_end_row(o);
	}
	rc_code = 0;
done:
	PQclear(own);
	return rc_code;
}

/* ---------------------------------------------------------------------------------------------
 * Flush: every collected row to its table
 */

static int rc_flush(struct rc *rc, struct err *e)
{
	static const struct {
		size_t offset;
		const char *copy_sql;
	} outs[] = {
		{ offsetof(struct rc, out_group),
		  "COPY settle.charge_group (run_id, period, recipient_account_id, transaction_reference_id, currency,"
		  " agreement_id, offer_id, product_id, buyer_account_id, group_date, revenue_micros, cogs_micros,"
		  " listing_fee_micros, seller_tax_micros, aws_tax_micros, other_seller_tax_micros, infra_micros,"
		  " balance_adjustment_micros, rows_n, match_status, match_rule, matched_offer_id, seller_of_record, allocated,"
		  " disposition, offer_expired, disbursement_status, remainder_micros, paid_micros) FROM STDIN" },
		{ offsetof(struct rc, out_alloc),
		  "COPY settle.allocation (run_id, period, recipient_account_id, transaction_reference_id, currency,"
		  " party_index, agreement_id, offer_id, match_rule, party_role, party_account_id, revenue_micros,"
		  " listing_fee_micros, seller_tax_micros, net_micros) FROM STDIN" },
		{ offsetof(struct rc, out_stmt),
		  "COPY settle.payout_statement (run_id, period, party_account_id, party_role, currency, revenue_micros,"
		  " listing_fee_micros, seller_tax_micros, net_micros, net_payable_micros, rounding_micros) FROM STDIN" },
		{ offsetof(struct rc, out_disb),
		  "COPY settle.disbursement (run_id, period, recipient_account_id, payout_id, payout_date, currency,"
		  " amount_micros, lines_micros, lines_n, status, failure_id, bank_trace_id, deposit_id, deposit_match,"
		  " deposit_status, deposit_amount_micros, deposit_value_date, paid_currency, paid_amount_micros,"
		  " paid_lines_micros, paid_lines_n) FROM STDIN" },
		{ offsetof(struct rc, out_aging),
		  "COPY settle.aging (run_id, period, recipient_account_id, transaction_reference_id, currency,"
		  " invoice_date, days, bucket, disbursement_status, remainder_micros) FROM STDIN" },
		{ offsetof(struct rc, out_meter),
		  "COPY settle.metering_result (run_id, period, offer_id, usage_month, dimension, currency, quantity,"
		  " records, recorded_quantity, unit_price_micros, expected_micros, billed_micros, status, price_note)"
		  " FROM STDIN" },
		{ offsetof(struct rc, out_exc),
		  "COPY pg_temp.rc_exc (code, reference, recipient, agreement, offer, currency, expected, actual,"
		  " difference, detail) FROM STDIN" },
	};
	for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
		if (rio_out_send((struct rio_out *)((char *)rc + outs[i].offset), rc->db, outs[i].copy_sql, e) < 0)
			return -1;
	/* SPEC §4.7 + determinism: seq numbers the exceptions of one (code, reference) in a total order
	 * of their content, whatever order the phases found them in. */
	char run[24];
	snprintf(run, sizeof run, "%" PRId64, rc->run_id);
	const char *params[] = { run, rc->period_text };
	PGresult *res = db_query(
		rc->db,
		"INSERT INTO settle.exception (run_id, period, code, reference, seq, recipient_account_id, agreement_id,"
		" offer_id, currency, expected_micros, actual_micros, difference_micros, detail)"
		" SELECT $1::bigint, $2, code, reference,"
		"        row_number() OVER (PARTITION BY code, reference ORDER BY recipient COLLATE \"C\","
		"                           currency COLLATE \"C\", agreement COLLATE \"C\", offer COLLATE \"C\","
		"                           expected, actual, detail COLLATE \"C\"),"
		"        recipient, agreement, offer, currency, expected, actual, difference, detail"
		" FROM pg_temp.rc_exc",
		2, params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Failpoints: SETTLE_FAILPOINT=<name> damages the rows just stored, before the balance
 * assertions, the way a bug would, so that tests/integration/test_reconcile.sh can show that each
 * assertion catches it (and that the run then commits nothing). Never set in production.
 */

#define RC_ROWS "run_id = $1::bigint AND period = $2"
#define RC_FIRST_REF "(SELECT min(transaction_reference_id COLLATE \"C\") FROM settle.charge_group WHERE " RC_ROWS ")"
#define RC_LAST_REF "(SELECT max(transaction_reference_id COLLATE \"C\") FROM settle.charge_group WHERE " RC_ROWS ")"
#define RC_FIRST_PART "(SELECT min(transaction_reference_id COLLATE \"C\") FROM settle.allocation WHERE " RC_ROWS ")"
#define RC_LAST_PART "(SELECT max(transaction_reference_id COLLATE \"C\") FROM settle.allocation WHERE " RC_ROWS ")"

static const struct {
	const char *name;
	const char *sql;
} rc_failpoints[] = {
	/* a micro of revenue counted in the wrong group: totals unchanged (assertion 1) */
	{ "reconcile-move-revenue",
	  "UPDATE settle.charge_group SET revenue_micros = revenue_micros"
	  " + CASE WHEN transaction_reference_id = " RC_FIRST_REF " THEN 1 ELSE -1 END"
	  " WHERE " RC_ROWS " AND transaction_reference_id IN (" RC_FIRST_REF ", " RC_LAST_REF ")" },
	/* a group lost (assertion 1) */
	{ "reconcile-drop-group",
	  "DELETE FROM settle.charge_group WHERE " RC_ROWS " AND transaction_reference_id = " RC_LAST_REF },
	/* a micro of listing fee moved between the parts of two groups (assertion 2) */
	{ "reconcile-move-part",
	  "UPDATE settle.allocation SET listing_fee_micros = listing_fee_micros"
	  " + CASE WHEN transaction_reference_id = " RC_FIRST_PART " THEN 1 ELSE -1 END,"
	  " net_micros = net_micros + CASE WHEN transaction_reference_id = " RC_FIRST_PART " THEN 1 ELSE -1 END"
	  " WHERE " RC_ROWS " AND party_index = 0"
	  "   AND transaction_reference_id IN (" RC_FIRST_PART ", " RC_LAST_PART ")" },
	/* a part whose net is not its revenue + fee + tax (assertion 3) */
	{ "reconcile-bad-net", "UPDATE settle.allocation SET net_micros = net_micros + 1 WHERE " RC_ROWS },
	/* a payout statement that is not the sum of its allocations (assertion 4) */
	{ "reconcile-bad-statement",
	  "UPDATE settle.payout_statement SET net_micros = net_micros + 1, rounding_micros = rounding_micros - 1"
	  " WHERE " RC_ROWS },
	/* an unmatched group without its exception (assertion 5) */
	{ "reconcile-bad-disposition",
	  "UPDATE settle.charge_group SET match_status = 'AMBIGUOUS_OFFER'"
	  " WHERE " RC_ROWS " AND disposition = 'UNMATCHED' AND match_status = 'NO_OFFER'" },
};

static int rc_failpoint(struct rc *rc, struct err *e)
{
	const char *fp = getenv("SETTLE_FAILPOINT");
	if (!fp || !*fp)
		return 0;
	for (size_t i = 0; i < sizeof rc_failpoints / sizeof rc_failpoints[0]; i++) {
		if (strcmp(fp, rc_failpoints[i].name) != 0)
			continue;
		char run[24];
		snprintf(run, sizeof run, "%" PRId64, rc->run_id);
		const char *params[] = { run, rc->period_text };
		PGresult *res = db_query(rc->db, rc_failpoints[i].sql, 2, params, PGRES_COMMAND_OK, e);
		if (!res)
			return -1;
		PQclear(res);
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Balance assertions, on the stored rows, like a ledger (reconcile issue): a failure is an error
 * and the caller's transaction commits nothing. Sums are numeric in SQL (exact, cannot overflow).
 */

/* The balance assertions compare, exactly, what reconcile stored with what the events say.
 *
 * Per group and component, the check is a hash total (an auditor's control total): Σ w × amount ×
 * h(group key) over the period's events must equal Σ_component w × component × h(group key) over
 * the stored groups, h a 20-bit hash of (recipient, reference, currency) and w the component's
 * weight (B 1, C 2, F 3, T 4, X 5, other tax 6, infra 7, balance adjustment 8). A row counted in
 * the wrong group or component, a group lost or stored twice changes the hash total (but for a
 * 2^-20 coincidence); the plain totals per component and the row counts are compared as well. A
 * join per group would cost seconds more on a million events. Per row the arithmetic stays in 64
 * bits: an amount is split as hi × 2^32 + lo (lo in [0, 2^32), |hi| < 2^31), so every
 * h × Σ w × part is below 2^63; PostgreSQL sums bigints exactly (128 bits, returning numeric), and
 * Σ h × w × amount = Σ h × w × lo + 2^32 × Σ h × w × hi. Each table is read once. */
#define RC_KEY_HASH(r, t, c) "((hashtext(" r ") # hashtext(" t ") # hashtext(" c ")) & 1048575)::bigint"
#define RC_LO(col) "(" col " & 4294967295)"
#define RC_HI(col) "(" col " >> 32)"
/* Σ over the components of weight × part, for the 8 components of a group and the 3 of a part. */
#define RC_W8(P)                                                                                   \
	"1 * " P("revenue_micros") " + 2 * " P("cogs_micros") " + 3 * " P("listing_fee_micros")         \
	" + 4 * " P("seller_tax_micros") " + 5 * " P("aws_tax_micros") " + 6 * " P("other_seller_tax_micros") \
	" + 7 * " P("infra_micros") " + 8 * " P("balance_adjustment_micros")
#define RC_W3(P) "1 * " P("revenue_micros") " + 3 * " P("listing_fee_micros") " + 4 * " P("seller_tax_micros")
/* The hash total Σ h × (weighted lo) + 2^32 × Σ h × (weighted hi), exact. */
#define RC_HT(W, filter)                                                                          \
	"coalesce(sum(h * (" W(RC_LO) "))" filter " + sum(h * (" W(RC_HI) "))" filter " * 4294967296, 0)"

/* RC_B(X): a column of pg_temp.rc_be by asof.h's name; src's amount and fed's recipient are
 * aliased to the names the rest of the query reads. */
#define RC_B(col) "b." ASOF_BE_##col
static const char rc_assert_sql[] =
	"WITH p AS MATERIALIZED (SELECT p0, p1 FROM pg_temp.rc_param),"
	" src AS (SELECT " RC_KEY_HASH(RC_B(RECIPIENT), RC_B(TREF), RC_B(CURRENCY)) " AS h,"
	"         CASE WHEN fw.w = 1 AND " RC_B(SIDE) " = 'BUYING' THEN 2 ELSE coalesce(fw.w, 0) END AS w,"
	"         " RC_B(AMOUNT) " AS amount"
	"       FROM pg_temp.rc_be b"
	/* SPEC §4.1 families, written out a second time, independently of match.c: the weight of
	 * each type (SELLER_REV_SHARE* with charge_side BUYING is C, weight 2) */
	"       LEFT JOIN (VALUES ('SELLER_REV_SHARE', 1), ('SELLER_REV_SHARE_REFUND', 1),"
	"         ('SELLER_REV_SHARE_CREDIT', 1), ('AWS_REV_SHARE', 3), ('AWS_REV_SHARE_REFUND', 3),"
	"         ('AWS_REV_SHARE_CREDIT', 3), ('SELLER_TAX_SHARE', 4), ('SELLER_TAX_SHARE_REFUND', 4),"
	"         ('SELLER_TAX_SHARE_CREDIT', 4), ('AWS_TAX_SHARE', 5), ('AWS_TAX_SHARE_REFUND', 5),"
	"         ('AWS_TAX_SHARE_CREDIT', 5), ('OTHER_SELLER_TAX_SHARE', 6), ('OTHER_SELLER_TAX_SHARE_REFUND', 6),"
	"         ('OTHER_SELLER_TAX_SHARE_CREDIT', 6), ('AWS_INFRA_SHARE', 7), ('BALANCE_ADJUSTMENT', 8))"
	"         fw (ttype, w) ON fw.ttype = " RC_B(TYPE)
	"       WHERE " RC_B(ACTION) " IN ('INVOICED', 'FORGIVEN')"
	"         AND " RC_B(DAY) " >= (SELECT p0 FROM p) AND " RC_B(DAY) " < (SELECT p1 FROM p)),"
	" st AS (SELECT count(*) AS n, coalesce(sum(h), 0) AS hn, count(*) FILTER (WHERE w = 0) AS odd,"
	"          coalesce(sum(h * w * " RC_LO("amount") ") + sum(h * w * " RC_HI("amount") ") * 4294967296, 0) AS ht,"
	"          coalesce(sum(amount) FILTER (WHERE w = 1), 0) AS t_b, coalesce(sum(amount) FILTER (WHERE w = 2), 0) AS t_c,"
	"          coalesce(sum(amount) FILTER (WHERE w = 3), 0) AS t_f, coalesce(sum(amount) FILTER (WHERE w = 4), 0) AS t_t,"
	"          coalesce(sum(amount) FILTER (WHERE w = 5), 0) AS t_x, coalesce(sum(amount) FILTER (WHERE w = 6), 0) AS t_o,"
	"          coalesce(sum(amount) FILTER (WHERE w = 7), 0) AS t_i, coalesce(sum(amount) FILTER (WHERE w = 8), 0) AS t_a"
	"        FROM src),"
	" gt AS (SELECT coalesce(sum(rows_n), 0) AS n, coalesce(sum(h * rows_n), 0) AS hn,"
	"          count(*) FILTER (WHERE allocated IS DISTINCT FROM (disposition = 'ALLOCATED')) AS bad_flag,"
	"          " RC_HT(RC_W8, "") " AS ht,"
	"          coalesce(sum(revenue_micros), 0) AS t_b, coalesce(sum(cogs_micros), 0) AS t_c,"
	"          coalesce(sum(listing_fee_micros), 0) AS t_f, coalesce(sum(seller_tax_micros), 0) AS t_t,"
	"          coalesce(sum(aws_tax_micros), 0) AS t_x, coalesce(sum(other_seller_tax_micros), 0) AS t_o,"
	"          coalesce(sum(infra_micros), 0) AS t_i, coalesce(sum(balance_adjustment_micros), 0) AS t_a,"
	"          count(*) FILTER (WHERE allocated) AS an, coalesce(sum(h) FILTER (WHERE allocated), 0) AS ah,"
	"          " RC_HT(RC_W3, " FILTER (WHERE allocated)") " AS aht,"
	"          coalesce(sum(revenue_micros) FILTER (WHERE allocated), 0) AS at_b,"
	"          coalesce(sum(listing_fee_micros) FILTER (WHERE allocated), 0) AS at_f,"
	"          coalesce(sum(seller_tax_micros) FILTER (WHERE allocated), 0) AS at_t"
	"        FROM (SELECT " RC_KEY_HASH("recipient_account_id", "transaction_reference_id", "currency") " AS h, *"
	"              FROM settle.charge_group WHERE run_id = $1::bigint AND period = $2) g),"
	" at AS (SELECT count(*) FILTER (WHERE party_index = 0) AS an,"
	"          coalesce(sum(h) FILTER (WHERE party_index = 0), 0) AS ah,"
	"          " RC_HT(RC_W3, "") " AS aht,"
	"          coalesce(sum(revenue_micros), 0) AS at_b, coalesce(sum(listing_fee_micros), 0) AS at_f,"
	"          coalesce(sum(seller_tax_micros), 0) AS at_t,"
	"          count(*) FILTER (WHERE net_micros::numeric <> revenue_micros::numeric + listing_fee_micros"
	"                                                       + seller_tax_micros) AS bad_net"
	"        FROM (SELECT " RC_KEY_HASH("recipient_account_id", "transaction_reference_id", "currency") " AS h, *"
	"              FROM settle.allocation WHERE run_id = $1::bigint AND period = $2) a),"
	/* SPEC §4.4: a party with a feed of its own counts only the groups it received itself */
	" fed AS (SELECT DISTINCT " RC_B(RECIPIENT) " AS recipient FROM pg_temp.rc_be b WHERE " RC_B(RECIPIENT) " IN ("
	"          SELECT party_account_id FROM settle.allocation WHERE run_id = $1::bigint AND period = $2"
	"            AND party_account_id <> recipient_account_id)),"
	" ap AS (SELECT party_account_id, party_role, currency, sum(revenue_micros) AS r,"
	"               sum(listing_fee_micros) AS f, sum(seller_tax_micros) AS t, sum(net_micros) AS n"
	"        FROM settle.allocation WHERE run_id = $1::bigint AND period = $2"
	"          AND (party_account_id = recipient_account_id"
	"               OR party_account_id NOT IN (SELECT recipient FROM fed WHERE recipient IS NOT NULL))"
	"        GROUP BY 1, 2, 3),"
	" s AS (SELECT * FROM settle.payout_statement WHERE run_id = $1::bigint AND period = $2),"
	" xm AS (SELECT DISTINCT recipient_account_id, reference, currency, code FROM settle.exception"
	"        WHERE run_id = $1::bigint AND period = $2"
	"          AND code IN ('NO_OFFER', 'AMBIGUOUS_OFFER', 'CURRENCY_MISMATCH'))"
	" SELECT"
	/* 1: the period's events, component by component, are in exactly the stored groups */
	"  (SELECT (st.n <> gt.n OR st.hn <> gt.hn OR st.odd <> 0 OR st.ht <> gt.ht"
	"           OR st.t_b <> gt.t_b OR st.t_c <> gt.t_c OR st.t_f <> gt.t_f OR st.t_t <> gt.t_t"
	"           OR st.t_x <> gt.t_x OR st.t_o <> gt.t_o OR st.t_i <> gt.t_i OR st.t_a <> gt.t_a"
	"          )::int FROM st, gt),"
	/* 2: Σ allocated parts = group totals, component by component; allocated ⇔ has parts */
	"  (SELECT (gt.an <> at.an OR gt.ah <> at.ah OR gt.aht <> at.aht"
	"           OR gt.at_b <> at.at_b OR gt.at_f <> at.at_f OR gt.at_t <> at.at_t"
	"          )::int + gt.bad_flag FROM gt, at),"
	/* 3: every part's net is its revenue + listing fee + seller tax */
	"  (SELECT bad_net FROM at),"
	/* 4: Σ payout statements = Σ allocations, per party, role and currency; rounding = payable − net */
	"  (SELECT count(*) FROM ap FULL JOIN s USING (party_account_id, party_role, currency)"
	"   WHERE ap.r IS DISTINCT FROM s.revenue_micros OR ap.f IS DISTINCT FROM s.listing_fee_micros"
	"     OR ap.t IS DISTINCT FROM s.seller_tax_micros OR ap.n IS DISTINCT FROM s.net_micros"
	"     OR s.net_payable_micros::numeric - s.net_micros <> s.rounding_micros),"
	/* 5: every group is allocated, excepted, not the seller of record's, or has nothing to allocate */
	"  (SELECT count(*) FROM settle.charge_group g LEFT JOIN xm ON xm.recipient_account_id = g.recipient_account_id"
	"     AND xm.reference = g.transaction_reference_id AND xm.currency = g.currency AND xm.code = g.match_status"
	"   WHERE g.run_id = $1::bigint AND g.period = $2 AND NOT ("
	"      (g.disposition = 'ALLOCATED' AND g.match_status = 'MATCHED')"
	"   OR (g.disposition IN ('RECIPIENT_NOT_PARTY', 'OFFER_INCOMPLETE') AND g.match_status = 'MATCHED'"
	"       AND (g.disposition = 'OFFER_INCOMPLETE' OR NOT g.seller_of_record)"
	"       AND EXISTS (SELECT 1 FROM settle.exception x WHERE x.run_id = $1::bigint AND x.period = $2"
	"         AND x.code = g.disposition AND x.recipient_account_id = g.recipient_account_id"
	"         AND x.currency = g.currency"
	"         AND x.reference = CASE g.disposition WHEN 'OFFER_INCOMPLETE' THEN g.matched_offer_id"
	"                                              ELSE g.transaction_reference_id END))"
	"   OR (g.disposition = 'UNMATCHED' AND g.match_status <> 'MATCHED' AND xm.code IS NOT NULL)"
	"   OR (g.disposition = 'OFFER_UNUSABLE' AND g.match_status = 'MATCHED')"
	"   OR (g.disposition = 'NOTHING_TO_ALLOCATE' AND g.revenue_micros = 0 AND g.listing_fee_micros = 0"
	"       AND g.seller_tax_micros = 0)))";
#undef RC_B

static int rc_assert(struct rc *rc, struct err *e)
{
	if (rc_failpoint(rc, e) < 0)
		return -1;
	static const char *const what[] = {
		"the stored charge groups do not hold exactly the period's billing events",
		"allocated parts do not add up to their charge groups",
		"an allocated part's net is not revenue + listing fee + seller tax",
		"payout statements do not add up to the allocations",
		"a charge group is neither allocated, excepted, nor empty",
	};
	char run[24];
	snprintf(run, sizeof run, "%" PRId64, rc->run_id);
	const char *params[] = { run, rc->period_text };
	/* The run's rows were stored by this transaction, so the planner's statistics have none of
	 * them: it expects one row per run and nests loops, and over a month whose groups are all
	 * unmatched (no offers loaded yet) assertion 5 then compares every group with every
	 * exception, minutes for 25k groups; a second run found the same plan. Every join here is
	 * large against large, so hash joins are right at every size: nested loops are off for this
	 * one query, inside the caller's transaction (as insights.c's payment timing does). */
	if (db_exec(rc->db, "SET LOCAL enable_nestloop = off", e) < 0)
		return -1;
	PGresult *res = db_query(rc->db, rc_assert_sql, 2, params, PGRES_TUPLES_OK, e);
	if (db_exec(rc->db, "SET LOCAL enable_nestloop = on", res ? e : NULL) < 0) {
		PQclear(res);
		return -1;
	}
	if (!res)
		return -1;
	ASSERT(PQnfields(res) == (int)(sizeof what / sizeof what[0]));
	for (int i = 0; i < PQnfields(res); i++) {
		const char *v = PQgetvalue(res, 0, i);
		if (strcmp(v, "0") != 0) {
			err_set(e, EXIT_FAILED, "period %s: balance assertion %d failed: %s (%s)", rc->period_text, i + 1,
				what[i], v);
			PQclear(res);
			return -1;
		}
	}
	PQclear(res);
	/* And the counts the phases kept agree with what was stored. */
	res = db_query(rc->db,
		       "SELECT (SELECT count(*) FROM settle.charge_group WHERE run_id = $1::bigint AND period = $2),"
		       "       (SELECT count(*) FROM settle.exception WHERE run_id = $1::bigint AND period = $2"
		       "          AND code IN ('NO_OFFER', 'AMBIGUOUS_OFFER', 'CURRENCY_MISMATCH', 'OFFER_EXPIRED',"
		       "                       'FEE_VARIANCE', 'SPLIT_VARIANCE', 'PAYOUT_MISMATCH', 'DISBURSEMENT_FAILED',"
		       "                       'DEPOSIT_MISSING', 'DEPOSIT_UNMATCHED', 'DEPOSIT_AMOUNT_MISMATCH',"
		       "                       'METERING_VARIANCE', 'UNBILLED_USAGE', 'USAGE_WITHOUT_OFFER',"
		       "                       'UNKNOWN_DIMENSION', 'BALANCE_ADJUSTMENT', 'OFFER_TERMS_CONFLICT',"
		       "                       'OFFER_INCOMPLETE', 'USAGE_RECORD_MISMATCH', 'TAX_ITEM_MISSING',"
		       "                       'TAX_ITEM_MISMATCH', 'RECIPIENT_NOT_PARTY'))",
		       2, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int64_t groups = -1, exceptions = -1;
	rio_i64(PQgetvalue(res, 0, 0), &groups);
	rio_i64(PQgetvalue(res, 0, 1), &exceptions);
	PQclear(res);
	if (groups != rc->summary.groups || exceptions != rc->summary.exceptions)
		return err_set(e, EXIT_FAILED, "period %s: balance assertion failed: %" PRId64 " charge groups and %" PRId64
			       " exceptions stored, %" PRId64 " and %" PRId64 " computed",
			       rc->period_text, groups, exceptions, rc->summary.groups, rc->summary.exceptions);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * reconcile_period
 */

static void rc_release(struct rc *rc)
{
	match_index_free(rc->index);
	free(rc->offers);
	free(rc->billed);
	free(rc->offer_reported);
	PQclear(rc->offers_res);
	usage_prices_clear(&rc->prices);
	free(rc->payouts);
	free(rc->payout_in_period);
	free(rc->failures);
	free(rc->failure_in_period);
	free(rc->failure_lines_micros);
	free(rc->failure_lines_n);
	free(rc->failure_by_id);
	PQclear(rc->failures_res);
	free(rc->payout_lines_micros);
	free(rc->payout_lines_n);
	free(rc->payout_slots);
	PQclear(rc->payouts_res);
	free(rc->deposits);
	free(rc->deposit_in_period);
	PQclear(rc->deposits_res);
	rio_map_free(&rc->statement_map);
	free(rc->statements);
	rio_out_close(&rc->out_group);
	rio_out_close(&rc->out_alloc);
	rio_out_close(&rc->out_stmt);
	rio_out_close(&rc->out_exc);
	rio_out_close(&rc->out_disb);
	rio_out_close(&rc->out_aging);
	rio_out_close(&rc->out_meter);
}

static int rc_open_outputs(struct rc *rc, struct err *e)
{
	struct rio_out *outs[] = { &rc->out_group, &rc->out_alloc, &rc->out_stmt, &rc->out_exc,
				   &rc->out_disb, &rc->out_aging, &rc->out_meter };
	for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
		if (rio_out_open(outs[i], e) < 0)
			return -1;
	return 0;
}

int reconcile_period(struct db *db, const struct config *cfg, int64_t run_id, int32_t period, int64_t as_of_us,
		     const struct msg_sink *msg, struct reconcile_summary *out, struct err *e)
{
	/* A period named by data or by --period whose end no formatter can write (9999-12): an
	 * error of this period, not an assertion (issue 17). */
	if (!period_computable(period))
		return err_set(e, EXIT_FAILED, "period %04d-%02d cannot be computed: its end lies after year 9999",
			       (int)(period / 12), (int)(period % 12 + 1));
	struct rc rc;
	memset(&rc, 0, sizeof rc);
	rc.db = db;
	rc.cfg = cfg;
	rc.run_id = run_id;
	rc.period = period;
	period_format(period, rc.period_text);
	rc.as_of_us = as_of_us;
	rc.as_of_day = time_day_of(as_of_us);
	rc.period_first_day = time_day_of(period_start_us(period));
	rc.period_end_day = time_day_of(period_end_us(period));
	rio_map_init(&rc.statement_map);

	char run[24];
	snprintf(run, sizeof run, "%" PRId64, run_id);
	const char *params[] = { run, rc.period_text };
	int rc_code = -1;
	PGresult *res;
	if (rc_setup(&rc, e) < 0 || rc_open_outputs(&rc, e) < 0)
		goto done;
	res = db_query(db, "INSERT INTO settle.run_period (run_id, period) VALUES ($1::bigint, $2)", 2, params,
		       PGRES_COMMAND_OK, e);
	if (!res)
		goto done;
	PQclear(res);
	static const struct {
		const char *name;
		int (*run)(struct rc *, struct err *);
	} phases[] = {
		{ "input statistics", rc_analyze_inputs }, { "current versions", rc_tables },
		{ "offers", rc_offers_load },
		{ "payouts and deposits", rc_payouts_load }, { "charge groups", rc_groups_run },
		{ "payout checks", rc_payouts_run }, { "metering", rc_usage_run }, { "tax items", rc_tax_run },
		{ "payout statements", rc_statements_run }, { "store", rc_flush },
		{ "balance assertions", rc_assert },
	};
	/* Each phase's name is a progress line on msg (a terminal shows it, msg.h); SETTLE_RECONCILE_TIMING=1
	 * prints each phase's wall time on stderr (benchmarks, tuning: log_phase, a diagnostic). */
	for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
		double t0 = log_clock();
		msg_say(msg, MSG_PROGRESS, "reconcile %s: %s", rc.period_text, phases[i].name);
		if (phases[i].run(&rc, e) < 0) {
			msg_progress_end(msg);
			goto done;
		}
		log_phase("reconcile", rc.period_text, phases[i].name, t0);
	}
	msg_progress_end(msg);
	if (out)
		*out = rc.summary;
	rc_code = 0;
done:
	if (rc_code < 0)
		err_prefix(e, "reconcile %s", rc.period_text);
	rc_release(&rc);
	return rc_code;
}
