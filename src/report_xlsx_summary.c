/* report_xlsx_summary.c — the Summary sheet's inputs and blocks (docs/workbook.md "Summary"):
 * what it keeps while the listings stream (tallies by label and currency, the largest net payables
 * per currency), where its inputs are (sheets and columns by name), and its blocks below the
 * bridge: control totals, the totals by currency, counts, exceptions by code, insights.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_xlsx_int.h"
#include "money.h"

/* The columns of the control totals (SPEC §4.3: Σ over parties = B + F + T, and §4.4: payout
 * statements are sums of allocations), matched by name in Allocations and Payouts. */
static const char *const xlsx_measures[] = { "revenue", "listing_fee", "seller_tax", "net" };
_Static_assert(sizeof xlsx_measures / sizeof xlsx_measures[0] == XLSX_MEASURES_N, "XLSX_MEASURES_N");

/* ---------------------------------------------------------------------------------------------
 * What the Summary keeps while listings stream
 */

/* One sheet row of `weight` listing rows (1, or a subtotal's rows) under (label, currency). */
static int xlsx_tally_add(struct xlsx_tally *t, const char *label, const char *cur, int64_t micros,
			  int64_t weight, struct err *e)
{
	if (label == NULL)
		label = "";
	if (cur == NULL)
		cur = "";
	if (strlen(label) >= XLSX_LABEL_MAX || strlen(cur) >= XLSX_KEY_MAX)
		return err_set(e, EXIT_FAILED, "unexpected value \"%.64s\" in a summary column", label);
	struct xlsx_tally_entry *x = NULL;
	for (size_t i = 0; i < t->n && !x; i++)
		if (strcmp(t->e[i].label, label) == 0 && strcmp(t->e[i].cur, cur) == 0)
			x = &t->e[i];
	if (x == NULL) {
		if (t->n == XLSX_TALLY_MAX)
			return err_set(e, EXIT_FAILED, "more than %d distinct values in a summary column",
				       XLSX_TALLY_MAX);
		x = &t->e[t->n++];
		memset(x, 0, sizeof *x);
		snprintf(x->label, sizeof x->label, "%s", label);
		snprintf(x->cur, sizeof x->cur, "%s", cur);
	}
	x->n += weight;
	if (money_add(x->sum_micros, micros, &x->sum_micros) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "a summary total overflows");
	return 0;
}

/* Ranking of the payout chart: larger |payable| first, then account in byte order. */
static int xlsx_party_before(const struct xlsx_party *a, const struct xlsx_party *b)
{
	int64_t x = a->payable_micros < 0 ? -(a->payable_micros + 1) : a->payable_micros;
	int64_t y = b->payable_micros < 0 ? -(b->payable_micros + 1) : b->payable_micros;
	if (x != y)
		return x > y;
	return strcmp(a->account, b->account) < 0;
}

static struct xlsx_top *xlsx_top_of(struct xlsx_parties *ps, const char *cur)
{
	for (size_t i = 0; i < ps->cur_n; i++)
		if (strcmp(ps->cur[i].cur, cur) == 0)
			return &ps->cur[i];
	if (ps->cur_n == XLSX_KEYS_MAX)
		return NULL;
	struct xlsx_top *t = &ps->cur[ps->cur_n++];
	memset(t, 0, sizeof *t);
	snprintf(t->cur, sizeof t->cur, "%s", cur);
	return t;
}

/* Puts one (account, currency, Σ payable) into the currency's top list. */
static int xlsx_top_push(struct xlsx_parties *ps, const char *cur, int64_t payable, struct err *e)
{
	struct xlsx_top *t = xlsx_top_of(ps, cur);
	if (t == NULL)
		return err_set(e, EXIT_FAILED, "more than %d currencies in the payouts", XLSX_KEYS_MAX);
	t->parties_n++;
	if (money_add(t->total_micros, payable, &t->total_micros) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the total of net payables overflows");
	struct xlsx_party p;
	snprintf(p.account, sizeof p.account, "%s", ps->account);
	p.payable_micros = payable;
	size_t at = t->top_n;
	while (at > 0 && xlsx_party_before(&p, &t->top[at - 1]))
		at--;
	if (at == XLSX_TOP_PARTIES)
		return 0;
	size_t last = t->top_n < XLSX_TOP_PARTIES ? t->top_n : XLSX_TOP_PARTIES - 1;
	memmove(&t->top[at + 1], &t->top[at], (last - at) * sizeof p);
	t->top[at] = p;
	if (t->top_n < XLSX_TOP_PARTIES)
		t->top_n++;
	return 0;
}

int xlsx_parties_flush(struct xlsx_parties *ps, struct err *e)
{
	for (size_t i = 0; i < ps->acc_n; i++)
		if (xlsx_top_push(ps, ps->acc_cur[i], ps->acc_micros[i], e) < 0)
			return -1;
	ps->acc_n = 0;
	ps->account_set = 0;
	return 0;
}

/* One Payouts row: the party's payable is summed over its roles, per currency. */
static int xlsx_parties_add(struct xlsx_parties *ps, const char *account, const char *cur,
			    int64_t payable, struct err *e)
{
	if (account == NULL || cur == NULL)
		return 0;
	if (strlen(account) >= XLSX_LABEL_MAX || strlen(cur) >= XLSX_KEY_MAX)
		return err_set(e, EXIT_FAILED, "unexpected party \"%.64s\" in the payouts", account);
	if (ps->account_set && strcmp(ps->account, account) != 0 && xlsx_parties_flush(ps, e) < 0)
		return -1;
	snprintf(ps->account, sizeof ps->account, "%s", account);
	ps->account_set = 1;
	size_t i = 0;
	while (i < ps->acc_n && strcmp(ps->acc_cur[i], cur) != 0)
		i++;
	if (i == ps->acc_n) {
		if (ps->acc_n == XLSX_KEYS_MAX)
			return err_set(e, EXIT_FAILED, "more than %d currencies in the payouts", XLSX_KEYS_MAX);
		snprintf(ps->acc_cur[ps->acc_n], XLSX_KEY_MAX, "%s", cur);
		ps->acc_micros[ps->acc_n++] = 0;
	}
	if (money_add(ps->acc_micros[i], payable, &ps->acc_micros[i]) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the net payable of party \"%s\" overflows", account);
	return 0;
}

/* Feeds the Summary's trackers with one row of listing number si. */
int xlsx_track(struct xlsx_writer *w, size_t si, const char *const *v, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	const struct report_listing *l = w->sheets[si].l;
	int64_t n = 0, wt = w->sheets[si].weight;
	if ((int)si == r->groups && r->cg_owed >= 0 && v[r->cg_allocated]) {
		/* the still-owed block: owed by allocated yes/no, outstanding of the groups not allocated */
		int yes = strcmp(v[r->cg_allocated], "yes") == 0;
		const char *cur = v[l->cols[r->cg_owed].currency_col];
		int64_t owed = 0, out = 0;
		if ((v[r->cg_owed] && xlsx_parse_int64(v[r->cg_owed], &owed) < 0) ||
		    (v[r->cg_out] && xlsx_parse_int64(v[r->cg_out], &out) < 0))
			return err_set(e, EXIT_FAILED, "bad charge group amounts");
		if (xlsx_tally_add(&w->bridge, yes ? XLSX_T_OWED_YES : XLSX_T_OWED_NO, cur, owed, wt, e) < 0 ||
		    (!yes && xlsx_tally_add(&w->bridge, XLSX_T_OUT_NO, cur, out, wt, e) < 0))
			return -1;
	}
	if ((int)si == r->groups && v[r->cg_allocated] && strcmp(v[r->cg_allocated], "yes") == 0) {
		int64_t b = 0, f = 0, t = 0, bft;
		if ((v[r->cg_revenue] && xlsx_parse_int64(v[r->cg_revenue], &b) < 0) ||
		    (v[r->cg_fee] && xlsx_parse_int64(v[r->cg_fee], &f) < 0) ||
		    (v[r->cg_stax] && xlsx_parse_int64(v[r->cg_stax], &t) < 0) ||
		    money_add(b, f, &bft) != MONEY_OK || money_add(bft, t, &bft) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "bad charge group amounts");
		return xlsx_tally_add(&w->bridge, XLSX_T_BFT, v[l->cols[r->cg_revenue].currency_col], bft, wt, e);
	}
	if ((int)si == r->disb && v[r->disb_deposit] && v[r->disb_amount] &&
	    !(v[r->disb_status] && strcmp(v[r->disb_status], XLSX_EXCLUDED_STATUS) == 0)) {
		if (xlsx_parse_int64(v[r->disb_amount], &n) < 0)
			return err_set(e, EXIT_FAILED, "bad amount \"%s\"", v[r->disb_amount]);
		return xlsx_tally_add(&w->bridge, XLSX_T_DEPOSITED, v[l->cols[r->disb_amount].currency_col], n, wt, e);
	}
	if ((int)si == r->exceptions && r->exc_code >= 0)
		return xlsx_tally_add(&w->codes, v[r->exc_code], NULL, 0, wt, e);
	if ((int)si == r->insights && r->ins_status >= 0) {
		if (v[r->ins_status] && strcmp(v[r->ins_status], "ANOMALY") == 0)
			w->ins_anomalous += wt;
		return 0;
	}
	if ((int)si == r->aging && r->aging_bucket >= 0) {
		const char *cur = NULL;
		if (r->aging_amount >= 0 && v[r->aging_amount]) {
			cur = v[l->cols[r->aging_amount].currency_col];
			if (xlsx_parse_int64(v[r->aging_amount], &n) < 0)
				return err_set(e, EXIT_FAILED, "bad amount \"%s\"", v[r->aging_amount]);
		}
		if (r->aging_status >= 0) { /* the still-owed block's causes */
			char label[XLSX_LABEL_MAX];
			snprintf(label, sizeof label, "%s%.200s", XLSX_T_STATUS,
				 v[r->aging_status] ? v[r->aging_status] : "");
			if (xlsx_tally_add(&w->bridge, label, cur, n, wt, e) < 0)
				return -1;
		}
		return xlsx_tally_add(&w->aging, v[r->aging_bucket], cur, n, wt, e);
	}
	if ((int)si == r->payouts && r->pay_party >= 0 && v[r->pay_payable]) {
		if (xlsx_parse_int64(v[r->pay_payable], &n) < 0)
			return err_set(e, EXIT_FAILED, "bad net payable \"%s\"", v[r->pay_payable]);
		return xlsx_parties_add(&w->parties, v[r->pay_party],
					v[l->cols[r->pay_payable].currency_col], n, e);
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Summary
 */

static int xlsx_col_by_name(const struct report_listing *l, const char *name, int type)
{
	for (size_t c = 0; c < l->ncols; c++)
		if (strcmp(l->cols[c].name, name) == 0 && (type < 0 || (int)l->cols[c].type == type))
			return (int)c;
	return -1;
}

int xlsx_sheet_by_name(const struct xlsx_writer *w, const char *name)
{
	for (size_t i = 0; i < w->sheets_n; i++)
		if (strcmp(w->sheets[i].l->sheet_name, name) == 0)
			return (int)i;
	return -1;
}

/* Finds the sheets and columns the Summary is built from; a block whose inputs are missing is
 * left out of the Summary. */
void xlsx_roles_find(struct xlsx_writer *w)
{
	struct xlsx_roles *r = &w->roles;
	memset(r, -1, sizeof *r);
	for (size_t i = 0; i < w->sheets_n; i++) {
		const struct report_listing *l = w->sheets[i].l;
		w->sheets[i].status_col = l->sheet_totals ? xlsx_col_by_name(l, "status", REPORT_TEXT) : -1;
		w->sheets[i].code_col = strcmp(l->sheet_name, "Exceptions") == 0 && l->ncols < REPORT_COLS_MAX
						? xlsx_col_by_name(l, "code", REPORT_TEXT)
						: -1;
	}
	r->alloc = xlsx_sheet_by_name(w, "Allocations");
	r->groups = xlsx_sheet_by_name(w, "Charge groups");
	r->disb = xlsx_sheet_by_name(w, "Disbursements");
	if (r->groups >= 0) {
		const struct report_listing *l = w->sheets[r->groups].l;
		r->cg_billed = xlsx_col_by_name(l, "billed", REPORT_MONEY);
		r->cg_xtax = xlsx_col_by_name(l, "marketplace_tax", REPORT_MONEY);
		r->cg_revenue = xlsx_col_by_name(l, "revenue", REPORT_MONEY);
		r->cg_cogs = xlsx_col_by_name(l, "cost_of_goods", REPORT_MONEY);
		r->cg_fee = xlsx_col_by_name(l, "listing_fee", REPORT_MONEY);
		r->cg_stax = xlsx_col_by_name(l, "seller_tax", REPORT_MONEY);
		r->cg_net = xlsx_col_by_name(l, "net_earned", REPORT_MONEY);
		r->cg_allocated = xlsx_col_by_name(l, "allocated", REPORT_TEXT);
		if (r->cg_billed < 0 || r->cg_xtax < 0 || r->cg_revenue < 0 || r->cg_cogs < 0 || r->cg_fee < 0 ||
		    r->cg_stax < 0 || r->cg_net < 0 || r->cg_allocated < 0)
			r->groups = -1;
		r->cg_owed = xlsx_col_by_name(l, "owed", REPORT_MONEY);
		r->cg_paid = xlsx_col_by_name(l, "payout_lines", REPORT_MONEY);
		r->cg_other = xlsx_col_by_name(l, "other_months", REPORT_MONEY);
		r->cg_rem = xlsx_col_by_name(l, "reference_remainder", REPORT_MONEY);
		r->cg_out = xlsx_col_by_name(l, "outstanding", REPORT_MONEY);
		if (r->cg_paid < 0 || r->cg_other < 0 || r->cg_rem < 0 || r->cg_out < 0)
			r->cg_owed = -1;
	}
	if (r->disb >= 0) {
		const struct report_listing *l = w->sheets[r->disb].l;
		r->disb_amount = xlsx_col_by_name(l, "amount", REPORT_MONEY);
		r->disb_status = xlsx_col_by_name(l, "status", REPORT_TEXT);
		r->disb_diff = xlsx_col_by_name(l, "difference", REPORT_MONEY);
		r->disb_deposit = xlsx_col_by_name(l, "deposit_id", REPORT_TEXT);
		if (r->disb_amount < 0 || r->disb_status < 0 || r->disb_diff < 0 || r->disb_deposit < 0)
			r->disb = -1;
	}
	r->payouts = xlsx_sheet_by_name(w, "Payouts");
	r->exceptions = xlsx_sheet_by_name(w, "Exceptions");
	r->aging = xlsx_sheet_by_name(w, "Aging");
	r->insights = xlsx_sheet_by_name(w, "Insights");
	for (size_t m = 0; m < XLSX_MEASURES_N; m++) {
		if (r->alloc >= 0)
			r->alloc_measure[m] = xlsx_col_by_name(w->sheets[r->alloc].l, xlsx_measures[m], REPORT_MONEY);
		if (r->payouts >= 0)
			r->pay_measure[m] = xlsx_col_by_name(w->sheets[r->payouts].l, xlsx_measures[m], REPORT_MONEY);
	}
	if (r->payouts >= 0) {
		const struct report_listing *l = w->sheets[r->payouts].l;
		r->pay_net = xlsx_col_by_name(l, "net", REPORT_MONEY);
		r->pay_rounding = xlsx_col_by_name(l, "rounding", REPORT_MONEY);
		r->pay_payable = xlsx_col_by_name(l, "net_payable", REPORT_MONEY);
		r->pay_party = xlsx_col_by_name(l, "party_account_id", REPORT_TEXT);
		if (r->pay_payable < 0)
			r->pay_party = -1;
	}
	if (r->exceptions >= 0)
		r->exc_code = xlsx_col_by_name(w->sheets[r->exceptions].l, "code", REPORT_TEXT);
	if (r->insights >= 0)
		r->ins_status = xlsx_col_by_name(w->sheets[r->insights].l, "status", REPORT_TEXT);
	if (r->aging >= 0) {
		const struct report_listing *l = w->sheets[r->aging].l;
		r->aging_bucket = xlsx_col_by_name(l, "bucket", REPORT_TEXT);
		r->aging_status = xlsx_col_by_name(l, "disbursement_status", REPORT_TEXT);
		for (size_t c = 0; c < l->ncols && r->aging_amount < 0; c++)
			if (l->cols[c].type == REPORT_MONEY)
				r->aging_amount = (int)c;
	}
}

/* Summary cells. Widths are tracked for the table columns; titles and facts overflow freely. */
int sum_text(struct xlsx_writer *w, uint32_t row, unsigned col, const char *text,
	     lxw_format *f, int widen, struct err *e)
{
	lxw_error le = xlsx_write_text(w->summary, row, col, text, f);
	if (widen && col < XLSX_SUMMARY_COLS)
		xlsx_widen(&w->swidth[col], xlsx_chars(text) + (f == w->fmt.header || f == w->fmt.bold));
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a cell");
}

int sum_number(struct xlsx_writer *w, uint32_t row, unsigned col, double value, lxw_format *f,
	       struct err *e)
{
	lxw_error le = worksheet_write_number(w->summary, row, (lxw_col_t)col, value, f);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a cell");
}

int sum_formula(struct xlsx_writer *w, uint32_t row, unsigned col, const struct xlsx_fb *f,
		lxw_format *fmt, double cached, size_t chars, struct err *e)
{
	if (f->full)
		return err_set(e, EXIT_FAILED, "a summary formula is too long");
	lxw_error le = worksheet_write_formula_num(w->summary, row, (lxw_col_t)col, f->s, fmt, cached);
	if (col < XLSX_SUMMARY_COLS)
		xlsx_widen(&w->swidth[col], chars);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a formula");
}

/* "OK" when the difference in cell (row0, col) is zero to the micro, else word ("CHECK" for a
 * tie-out that must hold; another word where a difference has a known cause). */
static int sum_check_word(struct xlsx_writer *w, uint32_t row, unsigned col, const char *expr, int ok,
			  const char *word, struct err *e)
{
	struct xlsx_fb f = { .n = 0 };
	fb_put(&f, "=IF(ROUND(%s,6)=0,\"OK\",\"%s\")", expr, word);
	lxw_error le = worksheet_write_formula_str(w->summary, row, (lxw_col_t)col, f.s, w->fmt.bold,
						   ok ? "OK" : word);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a formula");
}

static int sum_check(struct xlsx_writer *w, uint32_t row, unsigned col, const char *expr, int ok,
		     struct err *e)
{
	return sum_check_word(w, row, col, expr, ok, "CHECK", e);
}

int sum_header(struct xlsx_writer *w, const char *const *names, size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++)
		if (sum_text(w, w->srow, (unsigned)i, names[i], w->fmt.header, 1, e) < 0)
			return -1;
	w->srow++;
	return 0;
}

int sum_title(struct xlsx_writer *w, const char *title, struct err *e)
{
	w->srow++; /* a blank row before every block */
	if (sum_text(w, w->srow, 0, title, w->fmt.bold, 0, e) < 0)
		return -1;
	w->srow++;
	return 0;
}

/* The streamed totals of one currency value (NULL: the rows without currency), or NULL. */
const struct xlsx_total *xlsx_sheet_total(const struct xlsx_sheet *s, const char *cur)
{
	for (size_t i = 0; i < s->totals_n; i++)
		if (s->totals[i].is_null ? cur == NULL : cur && strcmp(s->totals[i].cur, cur) == 0)
			return &s->totals[i];
	return NULL;
}

/* The sum of one money column of a listing for one currency: exact, from the streamed totals. */
int64_t xlsx_sheet_sum(const struct xlsx_sheet *s, int col, const char *cur)
{
	const struct xlsx_total *t = xlsx_sheet_total(s, cur);
	return t ? t->sum_micros[col] : 0;
}

/* The currencies of the money columns of listings a and b (either may be -1), sorted. */
size_t xlsx_currencies(const struct xlsx_writer *w, int a, int b, char out[][XLSX_KEY_MAX],
		       size_t max)
{
	size_t n = 0;
	int ids[2] = { a, b };
	for (size_t k = 0; k < 2; k++) {
		if (ids[k] < 0)
			continue;
		const struct xlsx_sheet *s = &w->sheets[ids[k]];
		for (size_t i = 0; i < s->totals_n; i++) {
			size_t j = 0;
			while (j < n && strcmp(out[j], s->totals[i].cur) != 0)
				j++;
			if (j == n && n < max && !s->totals[i].is_null)
				snprintf(out[n++], XLSX_KEY_MAX, "%s", s->totals[i].cur);
		}
	}
	qsort_r(out, n, XLSX_KEY_MAX, xlsx_cur_qsort_cmp, (void *)w);
	return n;
}

/* A live Σ over one listing's money column for one currency, with its exact cached value. */
static int sum_sumifs(struct xlsx_writer *w, uint32_t row, unsigned col, int si, int money_col,
		      const char *cur, struct err *e)
{
	const struct xlsx_sheet *s = &w->sheets[si];
	int64_t v = xlsx_sheet_sum(s, money_col, cur);
	struct xlsx_fb f = { .n = 0 };
	struct xlsx_crit crit = { s->l->cols[money_col].currency_col, cur, NULL };
	fb_put(&f, "=");
	if (fb_aggregate(&f, s, money_col, &crit, 1) < 0)
		f.full = 1;
	int minor = xlsx_minor(cur);
	return sum_formula(w, row, col, &f, w->fmt.money[minor], money_to_double_for_stats(v),
			   xlsx_money_chars(v, minor) + 2, e);
}

/* SPEC §4.3/4.4 proof: per currency and measure, Σ Allocations = Σ Payouts. */
int sum_control(struct xlsx_writer *w, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	static const char *const head[] = { "Currency", "Measure", "Allocations", "Payouts", "Difference", "Check" };
	char curs[XLSX_KEYS_MAX][XLSX_KEY_MAX];
	if (r->alloc < 0 || r->payouts < 0)
		return 0;
	size_t n = xlsx_currencies(w, r->alloc, r->payouts, curs, XLSX_KEYS_MAX);
	/* SPEC §4.4: a party whose own feed is loaded counts in its statement only the groups it
	 * received itself, so the two may differ by the other views of the same sales ("OWN FEED");
	 * reconcile's balance assertion 4 checks the statements against that rule exactly. */
	if (sum_title(w, "Control totals: the allocations beside the payout statements (OWN FEED: a party whose"
			 " own feed is loaded counts only what it received itself, SPEC §4.4)", e) < 0 ||
	    sum_header(w, head, 6, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		for (size_t m = 0; m < XLSX_MEASURES_N; m++) {
			int ac = r->alloc_measure[m], pc = r->pay_measure[m];
			if (ac < 0 || pc < 0)
				continue;
			uint32_t row = w->srow++;
			int64_t a = xlsx_sheet_sum(&w->sheets[r->alloc], ac, curs[i]);
			int64_t p = xlsx_sheet_sum(&w->sheets[r->payouts], pc, curs[i]);
			int64_t d;
			if (money_sub(a, p, &d) != MONEY_OK)
				return err_set(e, EXIT_FAILED, "a control total overflows");
			struct xlsx_fb f = { .n = 0 }, x = { .n = 0 };
			fb_put(&f, "=ROUND(");
			fb_cell(&f, 2, row);
			fb_put(&f, "-");
			fb_cell(&f, 3, row);
			fb_put(&f, ",6)");
			fb_cell(&x, 4, row);
			int minor = xlsx_minor(curs[i]);
			if (sum_text(w, row, 0, curs[i], NULL, 1, e) < 0 ||
			    sum_text(w, row, 1, xlsx_measures[m], NULL, 1, e) < 0 ||
			    sum_sumifs(w, row, 2, r->alloc, ac, curs[i], e) < 0 ||
			    sum_sumifs(w, row, 3, r->payouts, pc, curs[i], e) < 0 ||
			    sum_formula(w, row, 4, &f, w->fmt.money[minor], money_to_double_for_stats(d),
					xlsx_money_chars(d, minor) + 2, e) < 0 ||
			    sum_check_word(w, row, 5, x.s, d == 0, "OWN FEED", e) < 0)
				return -1;
		}
	}
	if (n == 0 && sum_text(w, w->srow++, 0, "no allocations and no payouts", w->fmt.note, 0, e) < 0)
		return -1;
	return 0;
}

/* Columns of the Summary listing that are an aggregate of another sheet. They are written as
 * live formulas over that sheet, with the listing's own figure (summed by the server) as the cached
 * value — and that figure must equal what was streamed into the sheet: the tie-out is checked
 * here, before anyone opens the workbook. */
static const struct xlsx_link {
	const char *summary_col;
	const char *sheet;
	const char *col; /* the money column summed; NULL: rows counted */
} xlsx_links[] = {
	{ "allocations_net", "Allocations", "net" },
	{ "payouts_net", "Payouts", "net" },
	{ "net_payable", "Payouts", "net_payable" },
	{ "rounding", "Payouts", "rounding" },
	{ "payout_amount", "Disbursements", "amount" },
	{ "payouts", "Disbursements", NULL },
	{ "exceptions", "Exceptions", NULL },
	{ "seller_tax", "Tax", "seller_tax" },
	{ "marketplace_tax", "Tax", "marketplace_tax" },
};
#define XLSX_LINKS_N (sizeof xlsx_links / sizeof xlsx_links[0])

/* The sheet and column a Summary column is linked to (*col -1: a row count); -1 if none. */
static int xlsx_link_find(const struct xlsx_writer *w, const char *name, int *col)
{
	for (size_t k = 0; k < XLSX_LINKS_N; k++) {
		if (strcmp(xlsx_links[k].summary_col, name) != 0)
			continue;
		int si = xlsx_sheet_by_name(w, xlsx_links[k].sheet);
		if (si < 0)
			return -1;
		const struct report_listing *l = w->sheets[si].l;
		*col = xlsx_links[k].col ? xlsx_col_by_name(l, xlsx_links[k].col, REPORT_MONEY) : -1;
		if (xlsx_links[k].col && *col < 0)
			return -1;
		if (*col < 0 && xlsx_count_col(l) < 0)
			return -1;
		return si;
	}
	return -1;
}

/* One linked cell of the Summary listing: SUMIFS/COUNTIFS over the linked sheet by currency. */
static int sum_linked(struct xlsx_writer *w, uint32_t row, unsigned col, int si, int money_col,
		      const char *cur, int64_t value, lxw_format *fmt, struct err *e)
{
	const struct xlsx_sheet *s = &w->sheets[si];
	const struct xlsx_total *t = xlsx_sheet_total(s, cur);
	int64_t streamed = t == NULL ? 0 : money_col >= 0 ? t->sum_micros[money_col] : t->rows_n;
	/* the payout amount leaves the failed payouts out (SPEC §4.5): they were not paid */
	const struct xlsx_sub *excl = t && money_col >= 0 && s->status_col >= 0
					      ? xlsx_sub_of(s, t, XLSX_EXCLUDED_STATUS)
					      : NULL;
	if (excl && money_sub(streamed, excl->sum_micros[money_col], &streamed) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "a summary total overflows");
	/* a failure's own row is no payout: neither its amount nor its row counts */
	const struct xlsx_sub *fail = t && s->status_col >= 0 ? xlsx_sub_of(s, t, XLSX_FAILURE_STATUS) : NULL;
	if (fail && money_sub(streamed, money_col >= 0 ? fail->sum_micros[money_col] : fail->rows_n, &streamed) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "a summary total overflows");
	if (streamed != value)
		return err_set(e, EXIT_FAILED,
			       "%s %s is %" PRId64 " in the summary but %" PRId64 " on sheet \"%s\"",
			       w->summary_listing->cols[col].name, cur ? cur : "(no currency)", value,
			       streamed, s->l->sheet_name);
	struct xlsx_fb f = { .n = 0 };
	struct xlsx_crit crit = { money_col >= 0 ? s->l->cols[money_col].currency_col : xlsx_count_col(s->l), cur, NULL };
	fb_put(&f, "=");
	if (fb_aggregate(&f, s, money_col, &crit, 1) < 0)
		f.full = 1;
	if (excl) {
		struct xlsx_crit cr[2] = { crit, { s->status_col, XLSX_EXCLUDED_STATUS, NULL } };
		fb_put(&f, "-(");
		if (fb_aggregate(&f, s, money_col, cr, 2) < 0)
			f.full = 1;
		fb_put(&f, ")");
	}
	if (fail) {
		struct xlsx_crit cr[2] = { crit, { s->status_col, XLSX_FAILURE_STATUS, NULL } };
		fb_put(&f, "-(");
		if (fb_aggregate(&f, s, money_col, cr, 2) < 0)
			f.full = 1;
		fb_put(&f, ")");
	}
	double cached = money_col >= 0 ? money_to_double_for_stats(value) : (double)value;
	size_t chars = money_col >= 0 ? xlsx_money_chars(value, xlsx_minor(cur)) : 8;
	return sum_formula(w, row, col, &f, fmt, cached, chars + 2, e);
}

/* The check columns right of the Summary listing: SPEC §4.3 (Σ B+F+T of allocated groups =
 * Σ allocation net = Σ payout statement net) and §4.4 (net + rounding = net payable). */
static int sum_listing_checks(struct xlsx_writer *w, uint32_t row, const char *const *v, struct err *e)
{
	const struct report_listing *l = w->summary_listing;
	int at = xlsx_col_by_name(l, "allocated_total", REPORT_MONEY);
	int an = xlsx_col_by_name(l, "allocations_net", REPORT_MONEY);
	int pn = xlsx_col_by_name(l, "payouts_net", REPORT_MONEY);
	int np = xlsx_col_by_name(l, "net_payable", REPORT_MONEY);
	int rd = xlsx_col_by_name(l, "rounding", REPORT_MONEY);
	unsigned col = (unsigned)l->ncols;
	int64_t x[5] = { 0 };
	int cols[5] = { at, an, pn, np, rd };
	for (size_t i = 0; i < 5; i++)
		if (cols[i] >= 0 && v[cols[i]] && xlsx_parse_int64(v[cols[i]], &x[i]) < 0)
			return err_set(e, EXIT_FAILED, "bad amount \"%s\"", v[cols[i]]);
	if (at >= 0 && an >= 0 && pn >= 0) {
		struct xlsx_fb f = { .n = 0 };
		/* allocated = Σ allocations always; the statements may count fewer (SPEC §4.4: OWN FEED) */
		fb_put(&f, "ABS(");
		fb_cell(&f, (unsigned)at, row);
		fb_put(&f, "-");
		fb_cell(&f, (unsigned)an, row);
		fb_put(&f, ")");
		if (sum_check(w, row, col++, f.s, x[0] == x[1], e) < 0)
			return -1;
	}
	if (pn >= 0 && np >= 0 && rd >= 0) {
		struct xlsx_fb f = { .n = 0 };
		int64_t d;
		fb_cell(&f, (unsigned)pn, row);
		fb_put(&f, "+");
		fb_cell(&f, (unsigned)rd, row);
		fb_put(&f, "-");
		fb_cell(&f, (unsigned)np, row);
		int ok = money_add(x[2], x[4], &d) == MONEY_OK && d == x[3];
		if (sum_check(w, row, col, f.s, ok, e) < 0)
			return -1;
	}
	return 0;
}

/* One row of the Summary listing (one currency). */
static int sum_listing_row(struct xlsx_writer *w, uint32_t row, const char *const *v,
			   const int *link_si, const int *link_col, struct err *e)
{
	const struct report_listing *l = w->summary_listing;
	for (size_t c = 0; c < l->ncols; c++) {
		const struct report_column *col = &l->cols[c];
		int64_t n = 0;
		if (v[c] == NULL) {
			/* The row of what concerns no currency (USAGE_ANOMALY, USAGE_WITHOUT_OFFER, ...):
			 * labelled, while its formulas still match the blank cells of the sheets. */
			if ((int)c == xlsx_count_col(l) && sum_text(w, row, (unsigned)c, "\xE2\x80\x94", NULL, 1, e) < 0)
				return -1;
			continue;
		}
		if (col->type == REPORT_TEXT) {
			if (sum_text(w, row, (unsigned)c, v[c], NULL, 1, e) < 0)
				return -1;
			continue;
		}
		if (col->type != REPORT_MONEY && col->type != REPORT_INT)
			return err_set(e, EXIT_FAILED, "column \"%s\" has an unsupported type", col->name);
		if (xlsx_parse_int64(v[c], &n) < 0)
			return err_set(e, EXIT_FAILED, "column \"%s\": \"%s\" is not a valid value",
				       col->name, v[c]);
		const char *cur = col->type == REPORT_MONEY ? v[col->currency_col] : v[xlsx_count_col(l)];
		int minor = xlsx_minor(cur);
		lxw_format *fmt = col->type == REPORT_MONEY ? w->fmt.money[minor] : w->fmt.count;
		if (link_si[c] >= 0) {
			if (sum_linked(w, row, (unsigned)c, link_si[c], link_col[c], cur, n, fmt, e) < 0)
				return -1;
		} else {
			double d = col->type == REPORT_MONEY ? money_to_double_for_stats(n) : (double)n;
			if (sum_number(w, row, (unsigned)c, d, fmt, e) < 0)
				return -1;
			xlsx_widen(&w->swidth[c], col->type == REPORT_MONEY ? xlsx_money_chars(n, minor) : strlen(v[c]));
		}
	}
	return sum_listing_checks(w, row, v, e);
}

/* "Totals by currency": the Summary listing of report_listing.h, streamed at the end (it refers to the
 * other sheets), with its linked columns as formulas and two check columns. */
int sum_listing(struct xlsx_writer *w, struct err *e)
{
	const struct report_listing *l = w->summary_listing;
	int link_si[REPORT_COLS_MAX], link_col[REPORT_COLS_MAX];
	struct report_cursor *cur = NULL;
	const char *const *v;
	int rc;
	if (l == NULL)
		return 0;
	ASSERT(xlsx_count_col(l) >= 0 && l->ncols + 2 <= XLSX_SUMMARY_COLS);
	if (sum_title(w, "Detail: totals by currency (charge groups, allocations, payout statements, payouts)", e) < 0)
		return -1;
	for (size_t c = 0; c < l->ncols; c++) {
		char label[128];
		link_si[c] = l->cols[c].type == REPORT_TEXT ? -1 : xlsx_link_find(w, l->cols[c].name, &link_col[c]);
		if (sum_text(w, w->srow, (unsigned)c, xlsx_label(l->cols[c].name, label, sizeof label), w->fmt.header,
			     0, e) < 0)
			return -1;
	}
	if (xlsx_col_by_name(l, "allocations_net", REPORT_MONEY) >= 0 &&
	    sum_text(w, w->srow, (unsigned)l->ncols, "allocations tie out", w->fmt.header, 1, e) < 0)
		return -1;
	if (xlsx_col_by_name(l, "net_payable", REPORT_MONEY) >= 0 &&
	    sum_text(w, w->srow, (unsigned)l->ncols + 1, "payable ties out", w->fmt.header, 1, e) < 0)
		return -1;
	w->srow++;
	uint32_t first = w->srow;
	if (report_cursor_open(w->db, l, w->in->run_id, w->in->period, &cur, e) < 0)
		return -1;
	while ((rc = report_cursor_next(cur, &v, e)) == 1)
		if (sum_listing_row(w, w->srow++, v, link_si, link_col, e) < 0) {
			rc = -1;
			break;
		}
	report_cursor_close(cur);
	if (rc < 0)
		return -1;
	if (w->srow == first && sum_text(w, w->srow++, 0, "nothing in this period", w->fmt.note, 0, e) < 0)
		return -1;
	return 0;
}

/* Rows per sheet (and worksheets, when a listing was continued). */
int sum_counts(struct xlsx_writer *w, struct err *e)
{
	static const char *const head[] = { "Sheet", "Rows", "Worksheets", "Shown as" };
	if (sum_title(w, "Rows", e) < 0 || sum_header(w, head, 4, e) < 0)
		return -1;
	for (size_t i = 0; i < w->sheets_n; i++) {
		const struct xlsx_sheet *s = &w->sheets[i];
		uint32_t row = w->srow++;
		char shown[160];
		/* a sheet of subtotals: the listing's rows, and where they are (docs/workbook.md) */
		snprintf(shown, sizeof shown, "%" PRId64 " subtotals; %s has every row", s->rows_n,
			 s->src->csv_name ? s->src->csv_name : "no CSV file");
		if (sum_text(w, row, 0, s->l->sheet_name, NULL, 1, e) < 0 ||
		    sum_number(w, row, 1, (double)(s->collapsed ? s->listed : s->rows_n), w->fmt.count, e) < 0 ||
		    sum_number(w, row, 2, (double)s->parts_n, w->fmt.count, e) < 0 ||
		    sum_text(w, row, 3, s->collapsed ? shown : "rows", NULL, 0, e) < 0)
			return -1;
	}
	return 0;
}

/* Exceptions by code: COUNTIFS on the Exceptions sheet, in code order. */
int sum_codes(struct xlsx_writer *w, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	static const char *const head[] = { "Exception code", "Count" };
	if (r->exceptions < 0 || r->exc_code < 0)
		return 0;
	const struct xlsx_sheet *s = &w->sheets[r->exceptions];
	if (sum_title(w, "Exceptions by code", e) < 0 || sum_header(w, head, 2, e) < 0)
		return -1;
	for (size_t i = 0; i < w->codes.n; i++) {
		const struct xlsx_tally_entry *x = &w->codes.e[i];
		uint32_t row = w->srow++;
		struct xlsx_fb f = { .n = 0 };
		struct xlsx_crit crit = { r->exc_code, x->label, NULL };
		fb_put(&f, "=");
		if (fb_aggregate(&f, s, -1, &crit, 1) < 0)
			f.full = 1;
		if (sum_text(w, row, 0, x->label, NULL, 1, e) < 0 ||
		    sum_formula(w, row, 1, &f, w->fmt.count, (double)x->n, 8, e) < 0)
			return -1;
	}
	if (w->codes.n == 0 && sum_text(w, w->srow++, 0, "no exceptions", w->fmt.note, 0, e) < 0)
		return -1;
	return 0;
}

int64_t xlsx_tally_get(const struct xlsx_tally *t, const char *label, const char *cur, int count)
{
	int64_t v = 0;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].label, label) == 0 && (cur == NULL || strcmp(t->e[i].cur, cur) == 0))
			v += count ? t->e[i].n : t->e[i].sum_micros; /* one entry when cur is given */
	return v;
}

/* Issue 6: the period's insights (settle.insight_summary, docs/insights.md). The two figures
 * another sheet lists are live COUNTIFS over it — anomalous series over the Insights statuses,
 * usage anomalies over the Exceptions codes — and, like the linked totals, must equal what was
 * streamed into that sheet. Medians are decimals ("—" without samples). */
static const char *const xlsx_insight_labels[] = {
	"usage series", "scored", "not enough history", "anomalous series", "usage anomalies",
	"payouts timed", "median days to payout", "collections timed", "median days to collection",
};

static int sum_insight_count(struct xlsx_writer *w, uint32_t row, int si, int col, const char *value,
			     int64_t listed, int64_t streamed, const char *label, struct err *e)
{
	if (si < 0 || col < 0)
		return sum_number(w, row, 1, (double)listed, w->fmt.count, e);
	const struct xlsx_sheet *s = &w->sheets[si];
	if (listed != streamed)
		return err_set(e, EXIT_FAILED, "%s is %" PRId64 " in the insights but %" PRId64 " on sheet \"%s\"",
			       label, listed, streamed, s->l->sheet_name);
	struct xlsx_fb f = { .n = 0 };
	struct xlsx_crit crit = { col, value, NULL };
	fb_put(&f, "=");
	if (fb_aggregate(&f, s, -1, &crit, 1) < 0)
		f.full = 1;
	return sum_formula(w, row, 1, &f, w->fmt.count, (double)listed, 8, e);
}

static int sum_insights_row(struct xlsx_writer *w, const char *const *v, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	const struct report_listing *l = &report_insight_data[REPORT_INSIGHT_SUMMARY];
	ASSERT(l->ncols == sizeof xlsx_insight_labels / sizeof xlsx_insight_labels[0]);
	for (size_t c = 0; c < l->ncols; c++) {
		uint32_t row = w->srow++;
		int64_t n = 0;
		double d;
		if (sum_text(w, row, 0, xlsx_insight_labels[c], NULL, 1, e) < 0)
			return -1;
		if (v[c] == NULL) { /* a median without samples */
			if (sum_text(w, row, 1, "\xE2\x80\x94", NULL, 1, e) < 0)
				return -1;
			continue;
		}
		if (l->cols[c].type == REPORT_DECIMAL) {
			if (report_parse_decimal(v[c], &d, e) < 0 ||
			    sum_number(w, row, 1, d, w->fmt.decimal, e) < 0)
				return -1;
			xlsx_widen(&w->swidth[1], xlsx_decimal_chars(v[c]));
			continue;
		}
		if (xlsx_parse_int64(v[c], &n) < 0)
			return err_set(e, EXIT_FAILED, "insights: \"%s\" is not a count", v[c]);
		int rc;
		if (strcmp(l->cols[c].name, "usage_anomalous_series") == 0)
			rc = sum_insight_count(w, row, r->insights, r->ins_status, "ANOMALY", n, w->ins_anomalous,
					       xlsx_insight_labels[c], e);
		else if (strcmp(l->cols[c].name, "usage_anomalies") == 0)
			rc = sum_insight_count(w, row, r->exceptions, r->exc_code, "USAGE_ANOMALY", n,
					       xlsx_tally_get(&w->codes, "USAGE_ANOMALY", NULL, 1),
					       xlsx_insight_labels[c], e);
		else
			rc = sum_number(w, row, 1, (double)n, w->fmt.count, e);
		if (rc < 0)
			return -1;
		xlsx_widen(&w->swidth[1], strlen(v[c]));
	}
	return 0;
}

int sum_insights(struct xlsx_writer *w, struct err *e)
{
	static const char *const head[] = { "Insight", "Value" };
	struct report_cursor *cur = NULL;
	const char *const *v;
	int rc, rows = 0;
	if (sum_title(w, "Insights: usage anomalies and payment timing (sheets Insights, Payment timing, "
			 "Insight charts)", e) < 0 ||
	    sum_header(w, head, 2, e) < 0)
		return -1;
	if (report_cursor_open(w->db, &report_insight_data[REPORT_INSIGHT_SUMMARY], w->in->run_id, w->in->period,
			       &cur, e) < 0)
		return -1;
	while ((rc = report_cursor_next(cur, &v, e)) == 1) {
		rows++;
		ASSERT(rows == 1); /* (run_id, period) is the table's key */
		if (sum_insights_row(w, v, e) < 0) {
			rc = -1;
			break;
		}
	}
	report_cursor_close(cur);
	if (rc < 0)
		return -1;
	if (rows == 0 && sum_text(w, w->srow++, 0, "no insights were computed for this run", w->fmt.note, 0, e) < 0)
		return -1;
	return 0;
}
