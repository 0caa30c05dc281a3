/* reconcile_payouts.c — SPEC §4.5: payouts against their lines, failures and bank deposits.
 *
 * Load (before the charge groups, which need it): every payout and every DISBURSEMENT_FAILURE up
 * to as-of, then one stream of every payout line, which sums the lines of the period's payouts and
 * finds the failures that have reversal lines of their own; then each failure is linked to the
 * payout it undoes (by parent, bank trace id, or exact amount: disburse_link_failures), and the
 * deposits are matched. The charge groups then count a line as disbursed unless its payout failed
 * without reversal lines (disburse_lines_count).
 *
 * Deposit matching is global (every payout and deposit ingested up to as-of, in one total order;
 * disburse.c), so a payout late in one month and its deposit early in the next are matched the
 * same way whichever period is computed. The period then reports its own payouts (by payout date)
 * and its own unclaimed deposits (by value date).
 *
 * A payout paid in another currency than its pricing one (disbursement_currency/_amount, SPEC
 * §4.5) is checked in both: its lines in the pricing currency, and their disbursement_amount in the
 * paid currency (payout_paid_check); its deposit is expected in the paid currency. The period's
 * failures are stored as rows of their own for disbursements.csv (failures_store, sql/019).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "reconcile_int.h"
#include "reconcile_text.h"
#include "timeutil.h"

/* rc_be's columns are asof.h's (ASOF_BE_*): a rename there is a rename here. Every payout, in the
 * order disburse_link_failures takes them; $1, $2 the period's first and end day. */
#define PAY(col) "pay." ASOF_BE_##col
static const char payouts_sql[] =
	"SELECT " PAY(RECIPIENT) ", " PAY(ID) ", " PAY(CURRENCY) ", coalesce(" PAY(TRACE) ", ''), " PAY(DAY) ", "
	PAY(AMOUNT) ","
	"       (" PAY(DAY) " >= $1::int AND " PAY(DAY) " < $2::int),"
	/* SPEC §4.5: paid in another currency only when disbursement_currency names one */
	"       CASE WHEN " PAY(PAID_CURRENCY) " <> " PAY(CURRENCY) " THEN " PAY(PAID_CURRENCY) " ELSE '' END, "
	PAY(PAID_AMOUNT)
	" FROM pg_temp.rc_be pay"
	" WHERE " PAY(ACTION) " = 'DISBURSED' AND " PAY(TYPE) " = 'DISBURSEMENT'"
	" ORDER BY " PAY(DAY) ", " PAY(RECIPIENT) " COLLATE \"C\", " PAY(ID) " COLLATE \"C\"";
#undef PAY

enum { P_RECIPIENT, P_ID, P_CURRENCY, P_TRACE, P_DAY, P_AMOUNT, P_IN_PERIOD, P_PAID_CURRENCY, P_PAID_AMOUNT, P_N };

/* Every DISBURSEMENT_FAILURE, in the order disburse_link_failures takes them. */
#define FL(col) "f." ASOF_BE_##col
static const char failures_sql[] =
	"SELECT " FL(RECIPIENT) ", " FL(ID) ", " FL(CURRENCY) ", coalesce(" FL(PARENT_ID) ", ''), coalesce(" FL(TRACE)
	", ''), " FL(DAY) ", " FL(AMOUNT) ","
	"       (" FL(DAY) " >= $1::int AND " FL(DAY) " < $2::int),"
	"       CASE WHEN " FL(PAID_CURRENCY) " <> " FL(CURRENCY) " THEN " FL(PAID_CURRENCY) " END, " FL(PAID_AMOUNT)
	" FROM pg_temp.rc_be f"
	" WHERE " FL(TYPE) " = 'DISBURSEMENT_FAILURE'"
	" ORDER BY " FL(DAY) ", " FL(RECIPIENT) " COLLATE \"C\", " FL(ID) " COLLATE \"C\"";
#undef FL

enum { FL_RECIPIENT, FL_ID, FL_CURRENCY, FL_PARENT, FL_TRACE, FL_DAY, FL_AMOUNT, FL_IN_PERIOD, FL_PAID_CURRENCY,
       FL_PAID_AMOUNT, FL_N };

static const char deposits_sql[] =
	"SELECT d.deposit_id, settle.account_ident(d.account_id, da.account_key), d.currency,"
	"       coalesce(d.bank_trace_id, ''), d.value_date - DATE '1970-01-01', d.amount_micros"
	" FROM settle.bank_deposit_asof($1::timestamptz) d"
	/* SPEC §1: the account as its identity (the account map of the run, sql/016) */
	" LEFT JOIN settle.rc_account da ON da.id = settle.account_pad(d.account_id)"
	" ORDER BY d.deposit_id COLLATE \"C\"";

enum { D_ID, D_ACCOUNT, D_CURRENCY, D_TRACE, D_DAY, D_AMOUNT, D_N };

/* Every line that names a payout or a failure; C sums those of the period's payouts and of every
 * failure (its reversal lines, SPEC §4.5), and a payout's lines also in its paid currency. tref
 * is '' for a line without a reference whose parent has none either (rc_be_sql, SPEC §3.1). */
static const char lines_sql[] =
	"COPY (SELECT " ASOF_BE_RECIPIENT ", " ASOF_BE_DISB_ID ", " ASOF_BE_AMOUNT ", " ASOF_BE_PAID_AMOUNT ", "
	ASOF_BE_PAID_CURRENCY ", " ASOF_BE_TREF " FROM pg_temp.rc_be"
	" WHERE " ASOF_BE_ACTION " = 'DISBURSED' AND " ASOF_BE_TYPE " NOT IN ('DISBURSEMENT', 'DISBURSEMENT_FAILURE')"
	"   AND " ASOF_BE_DISB_ID " IS NOT NULL) TO STDOUT";

static uint64_t payout_hash(const char *recipient, const char *id)
{
	return hash_str(hash_sep(hash_str(HASH_INIT, recipient)), id);
}

/* Every DISBURSED line of the period's references looks its payout up: an open-addressing hash
 * (slot = payout index + 1, 0 empty; power-of-two size, at most half full) instead of a binary
 * search with two strcmp per step. The first payout of a key wins, as a unique key should. */
static int payout_hash_build(struct rc *rc, struct err *e)
{
	size_t cap = 16;
	while (cap < 2 * rc->payouts_n + 1)
		cap *= 2;
	rc->payout_slots = calloc(cap, sizeof *rc->payout_slots); /* owned by rc, freed in rc_release */
	if (!rc->payout_slots)
		return err_set(e, EXIT_FAILED, "out of memory");
	rc->payout_slots_mask = cap - 1;
	for (size_t i = 0; i < rc->payouts_n; i++) {
		const struct disburse_payout *p = &rc->payouts[i];
		size_t h = (size_t)payout_hash(p->recipient_account_id, p->payout_id) & rc->payout_slots_mask, found;
		if (rc_payout_find(rc, p->recipient_account_id, p->payout_id, &found) == 0)
			continue;
		while (rc->payout_slots[h] != 0)
			h = (h + 1) & rc->payout_slots_mask;
		rc->payout_slots[h] = i + 1;
	}
	return 0;
}

/* A bank trace id as SPEC §3.1 counts it: placeholders are none. */
static const char *trace_or_none(const char *trace)
{
	return disburse_trace_is_placeholder(trace) ? "" : trace;
}

/* The rows of sql ($1, $2 = the period's first and end day numbers) into *res_out (the caller's
 * from here on, also on errors), with nfields columns, and an array of *n zeroed elements of elem
 * bytes into *rows plus whether each is in the period into *in_period (the caller's; free). The
 * part the payout and failure readers share. */
static int period_rows(struct db *db, const char *sql, int nfields, int32_t p0, int32_t p1, PGresult **res_out,
		       void **rows, size_t elem, int **in_period, size_t *n, struct err *e)
{
	char d0[16], d1[16];
	snprintf(d0, sizeof d0, "%" PRId32, p0);
	snprintf(d1, sizeof d1, "%" PRId32, p1);
	const char *params[] = { d0, d1 };
	*res_out = db_query(db, sql, 2, params, PGRES_TUPLES_OK, e);
	if (!*res_out)
		return -1;
	ASSERT(PQnfields(*res_out) == nfields);
	size_t rows_n = (size_t)PQntuples(*res_out), m = rows_n ? rows_n : 1;
	*rows = calloc(m, elem);
	*in_period = calloc(m, sizeof **in_period);
	if (!*rows || !*in_period)
		return err_set(e, EXIT_FAILED, "out of memory");
	*n = rows_n; /* only once the arrays are there */
	return 0;
}

/* Every payout of rc_be into *out (n_out entries, in_period[i] whether it is dated in [p0, p1)),
 * read from *res (owned by the caller from here on, also on errors: its strings are the
 * payouts'). The arrays are the caller's (free). */
static int payouts_read(struct db *db, int32_t p0, int32_t p1, PGresult **res_out, struct disburse_payout **out,
			int **in_period, size_t *n_out, struct err *e)
{
	void *rows = NULL;
	int rc = period_rows(db, payouts_sql, P_N, p0, p1, res_out, &rows, sizeof **out, in_period, n_out, e);
	*out = rows;
	if (rc < 0)
		return -1;
	PGresult *res = *res_out;
	size_t n = *n_out;
	for (int i = 0; i < (int)n; i++) {
		struct disburse_payout *p = &(*out)[i];
		p->recipient_account_id = PQgetvalue(res, i, P_RECIPIENT);
		p->payout_id = PQgetvalue(res, i, P_ID);
		p->currency = PQgetvalue(res, i, P_CURRENCY);
		p->bank_trace_id = trace_or_none(PQgetvalue(res, i, P_TRACE));
		if (rio_i32(PQgetvalue(res, i, P_DAY), &p->day) < 0 || rio_i64(PQgetvalue(res, i, P_AMOUNT), &p->amount_micros) < 0)
			return err_set(e, EXIT_FAILED, "database: payout \"%s\" has no date or amount", p->payout_id);
		(*in_period)[i] = strcmp(PQgetvalue(res, i, P_IN_PERIOD), "t") == 0;
		/* SPEC §4.5: paid in another currency; its amount there may be missing (then the paid
		 * check says so, payout_finish) */
		p->paid_currency = rc_nullif(PQgetvalue(res, i, P_PAID_CURRENCY));
		p->paid_amount_micros = 0;
		p->paid_amount_known = !PQgetisnull(res, i, P_PAID_AMOUNT);
		if (p->paid_amount_known && rio_i64(PQgetvalue(res, i, P_PAID_AMOUNT), &p->paid_amount_micros) < 0)
			return err_set(e, EXIT_FAILED, "database: payout \"%s\" has a bad paid amount", p->payout_id);
	}
	return 0;
}

static int load_payouts(struct rc *rc, struct err *e)
{
	if (payouts_read(rc->db, rc->period_first_day, rc->period_end_day, &rc->payouts_res, &rc->payouts,
			 &rc->payout_in_period, &rc->payouts_n, e) < 0)
		return -1;
	size_t m = rc->payouts_n ? rc->payouts_n : 1;
	rc->payout_lines_micros = calloc(m, sizeof *rc->payout_lines_micros);
	rc->payout_lines_n = calloc(m, sizeof *rc->payout_lines_n);
	if (!rc->payout_lines_micros || !rc->payout_lines_n)
		return err_set(e, EXIT_FAILED, "out of memory");
	return payout_hash_build(rc, e);
}

/* qsort has no context argument; reconcile is single-threaded. */
static const struct disburse_failure *sort_failures;

static int failure_id_cmp(const void *a, const void *b)
{
	const struct disburse_failure *x = &sort_failures[*(const size_t *)a], *y = &sort_failures[*(const size_t *)b];
	int c = strcmp(x->recipient_account_id, y->recipient_account_id);
	return c ? c : strcmp(x->failure_id, y->failure_id);
}

/* Every DISBURSEMENT_FAILURE of rc_be into *out, as payouts_read reads the payouts. */
static int failures_read(struct db *db, int32_t p0, int32_t p1, PGresult **res_out, struct disburse_failure **out,
			 int **in_period, size_t *n_out, struct err *e)
{
	void *rows = NULL;
	int rc = period_rows(db, failures_sql, FL_N, p0, p1, res_out, &rows, sizeof **out, in_period, n_out, e);
	*out = rows;
	if (rc < 0)
		return -1;
	PGresult *res = *res_out;
	size_t n = *n_out;
	for (int i = 0; i < (int)n; i++) {
		struct disburse_failure *f = &(*out)[i];
		f->recipient_account_id = PQgetvalue(res, i, FL_RECIPIENT);
		f->failure_id = PQgetvalue(res, i, FL_ID);
		f->currency = PQgetvalue(res, i, FL_CURRENCY);
		f->parent_id = PQgetvalue(res, i, FL_PARENT);
		f->bank_trace_id = trace_or_none(PQgetvalue(res, i, FL_TRACE));
		if (rio_i32(PQgetvalue(res, i, FL_DAY), &f->day) < 0 || rio_i64(PQgetvalue(res, i, FL_AMOUNT), &f->amount_micros) < 0)
			return err_set(e, EXIT_FAILED, "database: payout failure \"%s\" has no date or amount", f->failure_id);
		(*in_period)[i] = strcmp(PQgetvalue(res, i, FL_IN_PERIOD), "t") == 0;
	}
	return 0;
}

static int load_failures(struct rc *rc, struct err *e)
{
	if (failures_read(rc->db, rc->period_first_day, rc->period_end_day, &rc->failures_res, &rc->failures,
			  &rc->failure_in_period, &rc->failures_n, e) < 0)
		return -1;
	size_t n = rc->failures_n, m = n ? n : 1;
	rc->failure_lines_micros = calloc(m, sizeof *rc->failure_lines_micros);
	rc->failure_lines_n = calloc(m, sizeof *rc->failure_lines_n);
	rc->failure_by_id = calloc(m, sizeof *rc->failure_by_id);
	if (!rc->failure_lines_micros || !rc->failure_lines_n || !rc->failure_by_id)
		return err_set(e, EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < n; i++)
		rc->failure_by_id[i] = i;
	sort_failures = rc->failures;
	qsort(rc->failure_by_id, n, sizeof *rc->failure_by_id, failure_id_cmp);
	return 0;
}

static int load_deposits(struct rc *rc, struct err *e)
{
	char as_of[40];
	time_format_pg(rc->as_of_us, as_of);
	const char *params[] = { as_of };
	rc->deposits_res = db_query(rc->db, deposits_sql, 1, params, PGRES_TUPLES_OK, e);
	if (!rc->deposits_res)
		return -1;
	PGresult *res = rc->deposits_res;
	size_t n = (size_t)PQntuples(res);
	rc->deposits = calloc(n ? n : 1, sizeof *rc->deposits);
	rc->deposit_in_period = calloc(n ? n : 1, sizeof *rc->deposit_in_period);
	if (!rc->deposits || !rc->deposit_in_period)
		return err_set(e, EXIT_FAILED, "out of memory");
	rc->deposits_n = n;
	for (int i = 0; i < (int)n; i++) {
		struct disburse_deposit *d = &rc->deposits[i];
		d->deposit_id = PQgetvalue(res, i, D_ID);
		d->account_id = PQgetvalue(res, i, D_ACCOUNT);
		d->currency = PQgetvalue(res, i, D_CURRENCY);
		d->bank_trace_id = PQgetvalue(res, i, D_TRACE);
		if (rio_i32(PQgetvalue(res, i, D_DAY), &d->value_day) < 0 ||
		    rio_i64(PQgetvalue(res, i, D_AMOUNT), &d->amount_micros) < 0)
			return err_set(e, EXIT_FAILED, "database: deposit \"%s\" has no date or amount", d->deposit_id);
		/* A deposit belongs to the period of its value date (docs/reconcile.md). */
		rc->deposit_in_period[i] = d->value_day >= rc->period_first_day && d->value_day < rc->period_end_day;
	}
	return 0;
}

static int sum_lines(struct rc *rc, struct err *e);

int rc_payouts_load(struct rc *rc, struct err *e)
{
	if (load_payouts(rc, e) < 0 || load_failures(rc, e) < 0 || sum_lines(rc, e) < 0 ||
	    disburse_link_failures(rc->payouts, rc->payouts_n, rc->failures, rc->failures_n, e) < 0 ||
	    load_deposits(rc, e) < 0)
		return -1;
	/* A failed payout expects no deposit, so the links come before the deposits (disburse.h). */
	return disburse_match_deposits(rc->payouts, rc->payouts_n, rc->deposits, rc->deposits_n,
				       rc->cfg->deposit_window_days, e);
}

/* ---------------------------------------------------------------------------------------------
 * Failed payouts, for the insights' payment timing (reconcile.h)
 */

int reconcile_failed_payouts(struct db *db, int32_t first_day, int32_t end_day, struct err *e)
{
	PGresult *pres = NULL, *fres = NULL;
	struct disburse_payout *payouts = NULL;
	struct disburse_failure *failures = NULL;
	int *payout_in_period = NULL, *failure_in_period = NULL;
	size_t np = 0, nf = 0;
	struct rio_out o;
	int rc_code = -1;
	if (rio_out_open(&o, e) < 0)
		return -1;
	/* the very links reconcile makes: every payout and failure up to as-of, one total order */
	if (payouts_read(db, first_day, end_day, &pres, &payouts, &payout_in_period, &np, e) < 0 ||
	    failures_read(db, first_day, end_day, &fres, &failures, &failure_in_period, &nf, e) < 0 ||
	    disburse_link_failures(payouts, np, failures, nf, e) < 0)
		goto release;
	for (size_t i = 0; i < np; i++) {
		if (!payout_in_period[i] || !payouts[i].failed)
			continue;
		rio_text(&o, payouts[i].recipient_account_id);
		rio_text(&o, payouts[i].payout_id);
		rio_end_row(&o);
	}
	if (db_exec(db,
		    "DROP TABLE IF EXISTS pg_temp.failed_payout;"
		    "CREATE TEMP TABLE failed_payout (recipient text NOT NULL, payout_id text NOT NULL) ON COMMIT DROP",
		    e) < 0)
		goto release;
	if (o.rows > 0 && rio_out_send(&o, db, "COPY pg_temp.failed_payout (recipient, payout_id) FROM STDIN", e) < 0)
		goto release;
	rc_code = 0;
release:
	rio_out_close(&o);
	free(payouts);
	free(payout_in_period);
	free(failures);
	free(failure_in_period);
	PQclear(pres);
	PQclear(fres);
	return rc_code;
}

/* ---------------------------------------------------------------------------------------------
 * The period's payouts
 */

int rc_payout_find(const struct rc *rc, const char *recipient, const char *id, size_t *out)
{
	if (!rc->payout_slots)
		return -1;
	size_t h = (size_t)payout_hash(recipient, id) & rc->payout_slots_mask;
	for (; rc->payout_slots[h] != 0; h = (h + 1) & rc->payout_slots_mask) {
		const struct disburse_payout *p = &rc->payouts[rc->payout_slots[h] - 1];
		if (strcmp(p->payout_id, id) == 0 && strcmp(p->recipient_account_id, recipient) == 0) {
			*out = rc->payout_slots[h] - 1;
			return 0;
		}
	}
	return -1;
}

int rc_failure_find(const struct rc *rc, const char *recipient, const char *id, size_t *out)
{
	size_t lo = 0, hi = rc->failures_n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct disburse_failure *f = &rc->failures[rc->failure_by_id[mid]];
		int c = strcmp(f->recipient_account_id, recipient);
		if (!c)
			c = strcmp(f->failure_id, id);
		if (c == 0) {
			*out = rc->failure_by_id[mid];
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* One line that names a payout (summed when the payout is of the period) or a failure (a reversal
 * line: the failure has lines of its own, SPEC §4.5). */
static int sum_line(struct rc *rc, const char *recipient, const char *disb_id, int64_t amount,
		    const char *paid_amount, const char *paid_currency, const char *tref, struct err *e)
{
	ASSERT(recipient && disb_id);
	size_t i;
	if (rc_payout_find(rc, recipient, disb_id, &i) == 0) {
		if (!rc->payout_in_period[i])
			return 0;
		struct disburse_payout *p = &rc->payouts[i];
		if (money_add(rc->payout_lines_micros[i], amount, &rc->payout_lines_micros[i]) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the lines of payout %s overflow", p->payout_id);
		rc->payout_lines_n[i]++;
		/* a line that settles no known charge: the money is paid against nothing settle can
		 * join it to, which must not be silent (payout_finish) */
		if (!tref || !*tref) {
			if (money_add(p->unjoined_lines_micros, amount, &p->unjoined_lines_micros) != MONEY_OK)
				return err_set(e, EXIT_FAILED, "the lines of payout %s overflow", p->payout_id);
			p->unjoined_lines_n++;
		}
		/* SPEC §4.5: a payout paid in another currency is checked there too, against its lines'
		 * disbursement_amount in that currency (a line in another or no paid currency is not
		 * counted: paid_lines_n < lines_n, and the check says so) */
		int64_t paid;
		if (p->paid_currency && paid_amount && paid_currency && strcmp(paid_currency, p->paid_currency) == 0) {
			if (rio_i64(paid_amount, &paid) < 0)
				return err_set(e, EXIT_FAILED, "database: a line of payout %s has a bad paid amount", p->payout_id);
			if (money_add(p->paid_lines_micros, paid, &p->paid_lines_micros) != MONEY_OK)
				return err_set(e, EXIT_FAILED, "the paid lines of payout %s overflow", p->payout_id);
			p->paid_lines_n++;
		}
		return 0;
	}
	if (rc_failure_find(rc, recipient, disb_id, &i) < 0)
		return 0;
	struct disburse_failure *f = &rc->failures[i];
	f->has_reversal_lines = 1;
	if (money_add(rc->failure_lines_micros[i], amount, &rc->failure_lines_micros[i]) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the reversal lines of failure %s overflow", f->failure_id);
	rc->failure_lines_n[i]++;
	/* a reversal line that settles no known charge gives money back against nothing settle can
	 * join it to, as a payout's line would pay it (failure_unjoined) */
	if (!tref || !*tref) {
		if (money_add(f->unjoined_lines_micros, amount, &f->unjoined_lines_micros) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the reversal lines of failure %s overflow", f->failure_id);
		f->unjoined_lines_n++;
	}
	return 0;
}

static int sum_lines(struct rc *rc, struct err *e)
{
	struct rio_in in;
	if (rio_in_begin(&in, rc->db, lines_sql, e) < 0)
		return -1;
	int st;
	while ((st = rio_in_next(&in, 6, e)) == 1) {
		int64_t amount;
		if (!in.fields[0] || !in.fields[1] || rio_i64(in.fields[2], &amount) < 0) {
			err_set(e, EXIT_FAILED, "database: a payout line lacks its keys or amount");
			rio_in_end(&in);
			return -1;
		}
		if (sum_line(rc, in.fields[0], in.fields[1], amount, in.fields[3], in.fields[4], in.fields[5], e) < 0) {
			rio_in_end(&in);
			return -1;
		}
	}
	rio_in_end(&in);
	return st < 0 ? -1 : 0;
}

static int payout_exception(struct rc *rc, const struct disburse_payout *p, const char *code, int has_expected,
			    int64_t expected, int has_actual, int64_t actual, const char *detail, struct err *e)
{
	struct rc_exception x = {
		.code = code,
		.reference = p->payout_id,
		.recipient_account_id = p->recipient_account_id,
		.currency = p->currency,
		.has_expected = has_expected,
		.expected_micros = expected,
		.has_actual = has_actual,
		.actual_micros = actual,
		.detail = detail,
	};
	return rc_exception_add(rc, &x, e);
}

/* SPEC §4.5 deposits of one payout; returns its deposit status for the disbursement row. */
static int payout_deposit(struct rc *rc, const struct disburse_payout *p, int minor, int64_t tol,
			  const char **status, struct err *e)
{
	char buf[RTEXT_MAX];
	if (p->match != DISBURSE_MATCH_NONE) {
		/* SPEC §4.5: the bank is paid in the paid currency, so the deposit is compared with the
		 * paid amount, in that currency's tolerance (never converted: settle has no rates) */
		const struct disburse_deposit *d = &rc->deposits[p->deposit];
		const char *cur = disburse_paid_currency(p);
		int64_t paid = disburse_paid_amount(p);
		int other_currency = strcmp(d->currency, cur) != 0;
		*status = "MATCHED";
		if (p->paid_currency && (rc_minor_units(cur, &minor, e) < 0 || rc_tolerance(rc, cur, &tol, e) < 0))
			return -1;
		if (p->match == DISBURSE_MATCH_TRACE_ID &&
		    (other_currency || (p->paid_currency && !p->paid_amount_known) || alloc_differs(d->amount_micros, paid, tol))) {
			*status = "AMOUNT_MISMATCH";
			struct rc_exception x = {
				.code = "DEPOSIT_AMOUNT_MISMATCH",
				.reference = p->payout_id,
				.recipient_account_id = p->recipient_account_id,
				.currency = cur,
				.has_expected = !(p->paid_currency && !p->paid_amount_known),
				.expected_micros = paid,
				.has_actual = 1,
				.actual_micros = d->amount_micros,
				.detail = rtext_deposit_amount_mismatch(buf, sizeof buf, d->deposit_id, d->currency,
									d->amount_micros, p->payout_id, cur, paid, minor,
									p->bank_trace_id),
			};
			return rc_exception_add(rc, &x, e);
		}
		return 0;
	}
	if (p->failed) {
		*status = "NOT_EXPECTED"; /* a failed payout sends no money: no deposit to wait for */
		return 0;
	}
	int64_t days = (int64_t)rc->as_of_day - p->day;
	if (days <= rc->cfg->deposit_missing_days) {
		*status = "PENDING";
		return 0;
	}
	*status = "MISSING";
	/* the deposit awaited is the paid amount, in the paid currency (SPEC §4.5) */
	const char *cur = disburse_paid_currency(p);
	if (p->paid_currency && rc_minor_units(cur, &minor, e) < 0)
		return -1;
	struct rc_exception x = {
		.code = "DEPOSIT_MISSING",
		.reference = p->payout_id,
		.recipient_account_id = p->recipient_account_id,
		.currency = cur,
		.has_expected = !(p->paid_currency && !p->paid_amount_known),
		.expected_micros = disburse_paid_amount(p),
		.detail = rtext_deposit_missing(buf, sizeof buf, p->payout_id, cur, minor, disburse_paid_amount(p), p->day,
						days, p->bank_trace_id, p->candidates),
	};
	return rc_exception_add(rc, &x, e);
}

/* SPEC §4.5: a payout paid in another currency — disbursement_currency other than its currency —
 * also has its paid amount checked against its lines' disbursement_amount in that currency,
 * within that currency's tolerance. Amounts are never converted: the marketplace states both.
 * Not comparable (a paid amount missing on the payout or on some of its lines) is a mismatch
 * too: settle does not guess the missing amount. Returns 1 when it differs. */
static int payout_paid_check(struct rc *rc, size_t i, struct err *e)
{
	const struct disburse_payout *p = &rc->payouts[i];
	if (!p->paid_currency)
		return 0;
	int minor;
	int64_t tol, settles;
	char buf[RTEXT_MAX];
	if (rc_minor_units(p->paid_currency, &minor, e) < 0 || rc_tolerance(rc, p->paid_currency, &tol, e) < 0)
		return -1;
	if (money_neg(p->paid_lines_micros, &settles) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the paid lines of payout %s overflow", p->payout_id);
	int64_t missing = rc->payout_lines_n[i] - p->paid_lines_n;
	ASSERT(missing >= 0);
	if (p->paid_amount_known && missing == 0 && !alloc_differs(p->paid_amount_micros, settles, tol))
		return 0;
	struct rc_exception x = {
		.code = "PAYOUT_MISMATCH",
		.reference = p->payout_id,
		.recipient_account_id = p->recipient_account_id,
		.currency = p->paid_currency,
		.has_expected = missing == 0,
		.expected_micros = settles,
		.has_actual = p->paid_amount_known,
		.actual_micros = p->paid_amount_micros,
		.detail = rtext_payout_paid_mismatch(buf, sizeof buf, p->payout_id, p->paid_currency, minor,
						     p->paid_amount_known, p->paid_amount_micros, p->paid_lines_micros,
						     rc->payout_lines_n[i], missing),
	};
	return rc_exception_add(rc, &x, e) < 0 ? -1 : 1;
}

static int payout_finish(struct rc *rc, size_t i, struct err *e)
{
	ASSERT(i < rc->payouts_n && rc->payout_in_period[i] && rc->payout_lines_n[i] >= 0);
	const struct disburse_payout *p = &rc->payouts[i];
	/* a failed payout and its failure point at each other (disburse_link_failures) */
	ASSERT(!p->failed || (p->failure < rc->failures_n && rc->failures[p->failure].payout == i &&
			      rc->failures[p->failure].link != DISBURSE_LINK_NONE));
	int minor;
	int64_t tol, settles;
	char buf[RTEXT_MAX];
	if (rc_minor_units(p->currency, &minor, e) < 0 || rc_tolerance(rc, p->currency, &tol, e) < 0)
		return -1;
	if (money_neg(rc->payout_lines_micros[i], &settles) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the lines of payout %s overflow", p->payout_id);
	const char *status = "SETTLED";
	/* SPEC §4.5 PAYOUT_MISMATCH: |D.amount − (−Σ line amounts)| > tol. */
	if (alloc_differs(p->amount_micros, settles, tol)) {
		status = "MISMATCH";
		if (payout_exception(rc, p, "PAYOUT_MISMATCH", 1, settles, 1, p->amount_micros,
				     rtext_payout_mismatch(buf, sizeof buf, p->payout_id, p->currency, minor, p->amount_micros,
							   rc->payout_lines_micros[i], rc->payout_lines_n[i]),
				     e) < 0)
			return -1;
	} else if (p->unjoined_lines_n > 0) {
		/* Lines that settle no known charge (no reference, no parent with one, SPEC §3.1): the
		 * payout adds up, but not to what it is known to pay. PAYOUT_MISMATCH with expected the
		 * part the joined lines settle (docs/reconcile.md). */
		int64_t joined, joined_settles;
		if (money_sub(rc->payout_lines_micros[i], p->unjoined_lines_micros, &joined) != MONEY_OK ||
		    money_neg(joined, &joined_settles) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the lines of payout %s overflow", p->payout_id);
		status = "MISMATCH";
		if (payout_exception(rc, p, "PAYOUT_MISMATCH", 1, joined_settles, 1, p->amount_micros,
				     rtext_payout_unjoined(buf, sizeof buf, p->payout_id, p->currency, minor, p->amount_micros,
							   p->unjoined_lines_micros, p->unjoined_lines_n,
							   rc->payout_lines_n[i]),
				     e) < 0)
			return -1;
	}
	int paid_differs = payout_paid_check(rc, i, e);
	if (paid_differs < 0)
		return -1;
	if (paid_differs)
		status = "MISMATCH";
	const struct disburse_failure *f = p->failed ? &rc->failures[p->failure] : NULL;
	if (f) {
		/* SPEC §4.5: the failed payout D is reported with reference D, in D's period. */
		status = "FAILED";
		if (payout_exception(rc, p, "DISBURSEMENT_FAILED", 0, 0, 1, p->amount_micros,
				     rtext_disbursement_failed(buf, sizeof buf, p->payout_id, p->currency, minor,
							       p->amount_micros, p->day, f->failure_id,
							       disburse_link_name(f->link), rc->payout_lines_n[i],
							       f->has_reversal_lines),
				     e) < 0)
			return -1;
	}
	const char *deposit_status;
	if (payout_deposit(rc, p, minor, tol, &deposit_status, e) < 0)
		return -1;
	const struct disburse_deposit *d = p->match != DISBURSE_MATCH_NONE ? &rc->deposits[p->deposit] : NULL;
	char day[11], dday[11];
	time_format_day(p->day, day);
	struct rio_out *o = &rc->out_disb;
	rio_int(o, rc->run_id);
	rio_text(o, rc->period_text);
	rio_text(o, p->recipient_account_id);
	rio_text(o, p->payout_id);
	rio_text(o, day);
	rio_text(o, p->currency);
	rio_int(o, p->amount_micros);
	rio_int(o, rc->payout_lines_micros[i]);
	rio_int(o, rc->payout_lines_n[i]);
	rio_text(o, status);
	rio_text(o, f ? f->failure_id : NULL);
	rio_text(o, rc_nullif(p->bank_trace_id));
	rio_text(o, d ? d->deposit_id : NULL);
	rio_text(o, p->match == DISBURSE_MATCH_TRACE_ID ? "TRACE_ID" : p->match == DISBURSE_MATCH_AMOUNT_DATE ? "AMOUNT_DATE" : NULL);
	rio_text(o, deposit_status);
	if (d)
		rio_int(o, d->amount_micros);
	else
		rio_null(o);
	if (d)
		time_format_day(d->value_day, dday);
	rio_text(o, d ? dday : NULL);
	rio_text(o, p->paid_currency);
	if (p->paid_currency && p->paid_amount_known)
		rio_int(o, p->paid_amount_micros);
	else
		rio_null(o);
	/* the lines' paid Σ only when every line carries its paid amount: a partial sum would read as
	 * a total (the PAYOUT_MISMATCH says what is missing) */
	if (p->paid_currency && p->paid_lines_n == rc->payout_lines_n[i])
		rio_int(o, p->paid_lines_micros);
	else
		rio_null(o);
	if (p->paid_currency)
		rio_int(o, p->paid_lines_n);
	else
		rio_null(o);
	rio_end_row(o);
	rc->summary.payouts++;
	return 0;
}

/* SPEC §4.5: a failure that undoes no payout is DISBURSEMENT_FAILED with reference F, in F's
 * period: money the marketplace says it could not pay, with no payout to hang it on. */
static int failure_unlinked(struct rc *rc, size_t k, struct err *e)
{
	ASSERT(k < rc->failures_n && rc->failure_in_period[k] && rc->failures[k].link == DISBURSE_LINK_NONE);
	const struct disburse_failure *f = &rc->failures[k];
	ASSERT(f->has_reversal_lines == (rc->failure_lines_n[k] > 0));
	int minor;
	char buf[RTEXT_MAX];
	if (rc_minor_units(f->currency, &minor, e) < 0)
		return -1;
	struct rc_exception x = {
		.code = "DISBURSEMENT_FAILED",
		.reference = f->failure_id,
		.recipient_account_id = f->recipient_account_id,
		.currency = f->currency,
		.has_actual = 1,
		.actual_micros = f->amount_micros,
		.detail = rtext_failure_unlinked(buf, sizeof buf, f->failure_id, f->currency, minor, f->amount_micros,
						 f->day, f->parent_id, rc->failure_lines_n[k]),
	};
	return rc_exception_add(rc, &x, e);
}

/* SPEC §8 disbursements.csv has a row per failure too: every DISBURSEMENT_FAILURE of the period (by
 * its date) with the payout it undoes, how it was linked and its reversal lines. Few rows, so they
 * go to their table in one COPY of their own, here. */
/* A failure of the period whose reversal lines include lines that settle no known charge: as for a
 * payout's lines (payout_finish), PAYOUT_MISMATCH — reference F, in F's period, expected −Σ of its
 * joined reversal lines (F.amount = −D.amount = −Σ the lines it gives back), actual F's amount. */
static int failure_unjoined(struct rc *rc, size_t k, struct err *e)
{
	ASSERT(k < rc->failures_n && rc->failure_in_period[k] && rc->failures[k].unjoined_lines_n > 0);
	const struct disburse_failure *f = &rc->failures[k];
	ASSERT(f->unjoined_lines_n <= rc->failure_lines_n[k]);
	int minor;
	char buf[RTEXT_MAX];
	int64_t joined, expected;
	if (rc_minor_units(f->currency, &minor, e) < 0)
		return -1;
	if (money_sub(rc->failure_lines_micros[k], f->unjoined_lines_micros, &joined) != MONEY_OK ||
	    money_neg(joined, &expected) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the reversal lines of failure %s overflow", f->failure_id);
	struct rc_exception x = {
		.code = "PAYOUT_MISMATCH",
		.reference = f->failure_id,
		.recipient_account_id = f->recipient_account_id,
		.currency = f->currency,
		.has_expected = 1,
		.expected_micros = expected,
		.has_actual = 1,
		.actual_micros = f->amount_micros,
		.detail = rtext_failure_unjoined(buf, sizeof buf, f->failure_id, f->currency, minor, f->amount_micros,
						 f->unjoined_lines_micros, f->unjoined_lines_n, rc->failure_lines_n[k]),
	};
	return rc_exception_add(rc, &x, e);
}

static const char failures_copy_sql[] =
	"COPY settle.disbursement_failure (run_id, period, recipient_account_id, failure_id, failure_date, currency,"
	" amount_micros, lines_micros, lines_n, payout_id, link, bank_trace_id, paid_currency, paid_amount_micros)"
	" FROM STDIN";

static int failures_store(struct rc *rc, struct err *e)
{
	struct rio_out o;
	if (rio_out_open(&o, e) < 0)
		return -1;
	for (size_t k = 0; k < rc->failures_n; k++) {
		if (!rc->failure_in_period[k])
			continue;
		const struct disburse_failure *f = &rc->failures[k];
		int linked = f->link != DISBURSE_LINK_NONE;
		char day[11];
		time_format_day(f->day, day);
		rio_int(&o, rc->run_id);
		rio_text(&o, rc->period_text);
		rio_text(&o, f->recipient_account_id);
		rio_text(&o, f->failure_id);
		rio_text(&o, day);
		rio_text(&o, f->currency);
		rio_int(&o, f->amount_micros);
		rio_int(&o, rc->failure_lines_micros[k]);
		rio_int(&o, rc->failure_lines_n[k]);
		rio_text(&o, linked ? rc->payouts[f->payout].payout_id : NULL);
		rio_text(&o, disburse_link_name(f->link));
		rio_text(&o, rc_nullif(f->bank_trace_id));
		const char *paid_cur = PQgetvalue(rc->failures_res, (int)k, FL_PAID_CURRENCY);
		int paid = !PQgetisnull(rc->failures_res, (int)k, FL_PAID_CURRENCY);
		rio_text(&o, paid ? paid_cur : NULL);
		int64_t paid_amount;
		if (paid && !PQgetisnull(rc->failures_res, (int)k, FL_PAID_AMOUNT)) {
			if (rio_i64(PQgetvalue(rc->failures_res, (int)k, FL_PAID_AMOUNT), &paid_amount) < 0) {
				rio_out_close(&o);
				return err_set(e, EXIT_FAILED, "database: failure \"%s\" has a bad paid amount", f->failure_id);
			}
			rio_int(&o, paid_amount);
		} else {
			rio_null(&o);
		}
		rio_end_row(&o);
	}
	int rc_code = o.rows > 0 ? rio_out_send(&o, rc->db, failures_copy_sql, e) : 0;
	rio_out_close(&o);
	return rc_code;
}

int rc_payouts_run(struct rc *rc, struct err *e)
{
	/* Loaded, linked and summed by rc_payouts_load; the links are one-to-one. */
	for (size_t k = 0; k < rc->failures_n; k++)
		ASSERT(rc->failures[k].link == DISBURSE_LINK_NONE ||
		       (rc->payouts[rc->failures[k].payout].failed && rc->payouts[rc->failures[k].payout].failure == k));
	for (size_t i = 0; i < rc->payouts_n; i++)
		if (rc->payout_in_period[i] && payout_finish(rc, i, e) < 0)
			return -1;
	for (size_t k = 0; k < rc->failures_n; k++)
		if (rc->failure_in_period[k] && rc->failures[k].link == DISBURSE_LINK_NONE && failure_unlinked(rc, k, e) < 0)
			return -1;
	for (size_t k = 0; k < rc->failures_n; k++)
		if (rc->failure_in_period[k] && rc->failures[k].unjoined_lines_n > 0 && failure_unjoined(rc, k, e) < 0)
			return -1;
	if (failures_store(rc, e) < 0)
		return -1;
	char buf[RTEXT_MAX];
	for (size_t k = 0; k < rc->deposits_n; k++) {
		const struct disburse_deposit *d = &rc->deposits[k];
		if (!rc->deposit_in_period[k] || d->claimed)
			continue;
		int minor;
		if (rc_minor_units(d->currency, &minor, e) < 0)
			return -1;
		struct rc_exception x = {
			.code = "DEPOSIT_UNMATCHED",
			.reference = d->deposit_id,
			.recipient_account_id = d->account_id,
			.currency = d->currency,
			.has_actual = 1,
			.actual_micros = d->amount_micros,
			.detail = rtext_deposit_unmatched(buf, sizeof buf, d->deposit_id, d->account_id, d->currency, minor,
							  d->amount_micros, d->value_day, d->bank_trace_id),
		};
		if (rc_exception_add(rc, &x, e) < 0)
			return -1;
	}
	return 0;
}
