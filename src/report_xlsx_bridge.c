/* report_xlsx_bridge.c — the Summary's bridge from billed to banked, one block per currency
 * (SPEC §8, docs/workbook.md "Summary"), its party lines and charts, and the assembly of the
 * Summary sheet (sum_write).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_xlsx_int.h"
#include "money.h"
#include "timeutil.h"

/* Aging buckets in the order of SPEC §4.8 (the labels of settle.aging.bucket). */
static const char *const xlsx_buckets[] = { "0-30", "31-60", "61-90", "91-120", "over 120" };
#define XLSX_BUCKETS_N (sizeof xlsx_buckets / sizeof xlsx_buckets[0])

/* ---------------------------------------------------------------------------------------------
 * The bridge (SPEC §8): per currency, how billed money becomes banked money. Columns A..E: step,
 * amount, count, check, the sheet behind it (an internal link); G..H: the largest net payables
 * by party (the payout chart's data); below: the payout chart and the aging chart of the
 * currency. Every amount is a live formula over the sheet it comes from, cached with the exact
 * sum streamed into that sheet; every check is IF(ROUND(x,6)=0,"OK",ROUND(x,6)).
 */

#define XLSX_BRIDGE_PARTY_COL 6
static void sum_page_break(struct xlsx_writer *w, uint32_t row);

/* Writes =<sign>Σ(si.money_col | crit) (or the count when money_col < 0) at (row, col). */
static int br_agg(struct xlsx_writer *w, uint32_t row, unsigned col, int si, int money_col,
		  const struct xlsx_crit *crit, size_t crit_n, int neg, int64_t cached, lxw_format *fmt,
		  struct err *e)
{
	struct xlsx_fb f = { .n = 0 };
	fb_put(&f, neg ? "=-(" : "=");
	if (fb_aggregate(&f, &w->sheets[si], money_col, crit, crit_n) < 0)
		f.full = 1;
	if (neg)
		fb_put(&f, ")");
	if (money_col < 0)
		return sum_formula(w, row, col, &f, fmt, (double)cached, 8, e);
	return sum_formula(w, row, col, &f, fmt, money_to_double_for_stats(cached),
			   xlsx_money_chars(cached, XLSX_MINOR_UNKNOWN) + 2, e);
}


/* An internal link to the first worksheet of listing si, its header and data. */
static int br_link(struct xlsx_writer *w, uint32_t row, unsigned col, int si, struct err *e)
{
	if (si < 0)
		return 0;
	const struct xlsx_sheet *s = &w->sheets[si];
	struct xlsx_fb f = { .n = 0 };
	fb_put(&f, "internal:");
	fb_range(&f, s->parts[0].name, 0, XLSX_HEAD_ROW + 1, s->parts[0].rows_n + XLSX_TOP_ROWS);
	if (f.full)
		return err_set(e, EXIT_FAILED, "a link is too long");
	/* fb_range writes $A$3:$A$n: a link selects the first column of the rows behind the figure */
	char text[LXW_SHEETNAME_MAX * 4 + 8];
	snprintf(text, sizeof text, "%s \xE2\x86\x92", s->parts[0].name);
	lxw_error le = worksheet_write_url_opt(w->summary, row, (lxw_col_t)col, f.s, w->fmt.link, text, NULL);
	xlsx_widen(&w->swidth[col], xlsx_chars(text));
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a link");
}

/* One step of the bridge: what it is, its amount (and count), its check, its sheet. */
struct br_step {
	const char *label;
	lxw_format *label_fmt;
	int si, money_col;             /* amount = [−] Σ si.money_col | crit (si < 0: expr, or none) */
	struct xlsx_crit crit[3];
	size_t crit_n;
	int neg;
	const char *expr;              /* instead of a Σ: a formula over cells of this block */
	int64_t amount;                /* exact cached value */
	int count_si;                  /* count = COUNTIFS over count_si | crit (or count_expr) */
	const char *count_expr;
	int64_t count;
	int has_count;
	const char *check;             /* a check expression (zero: OK) */
	int64_t check_diff;
	/* instead of the difference, this word when it is not zero, and a comment on the cell
	 * saying why it may differ (NULL: the difference, no comment) */
	const char *check_word, *check_why;
	int link;                      /* a sheet to link to, -1 none */
	int bold;
};

/* A check: OK when expr is zero to the micro, else the difference itself (a number). */
static int br_check(struct xlsx_writer *w, uint32_t row, unsigned col, const struct br_step *x, int minor,
		    struct err *e)
{
	struct xlsx_fb f = { .n = 0 };
	int64_t diff = x->check_diff;
	if (x->check_word)
		fb_put(&f, "=IF(ROUND(%s,6)=0,\"OK\",\"%s\")", x->check, x->check_word);
	else
		fb_put(&f, "=IF(ROUND(%s,6)=0,\"OK\",ROUND(%s,6))", x->check, x->check);
	if (f.full)
		return err_set(e, EXIT_FAILED, "a summary formula is too long");
	lxw_error le;
	if (diff == 0)
		le = worksheet_write_formula_str(w->summary, row, (lxw_col_t)col, f.s, w->fmt.check, "OK");
	else if (x->check_word)
		le = worksheet_write_formula_str(w->summary, row, (lxw_col_t)col, f.s, w->fmt.bold, x->check_word);
	else
		le = worksheet_write_formula_num(w->summary, row, (lxw_col_t)col, f.s, w->fmt.money_bold[minor],
						 money_to_double_for_stats(diff));
	if (le == LXW_NO_ERROR && diff != 0 && x->check_why)
		le = worksheet_write_comment(w->summary, row, (lxw_col_t)col, x->check_why);
	xlsx_widen(&w->swidth[col], diff == 0 ? 3 : x->check_word ? xlsx_chars(x->check_word)
								   : xlsx_money_chars(diff, minor) + 2);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a formula");
}

/* A step's check formula f, kept in slot (one of w->br_exprs): the formula must fit. */
static int br_check_set(struct br_step *x, char *slot, const struct xlsx_fb *f, struct err *e)
{
	if (f->full || f->n >= XLSX_FORMULA_MAX)
		return err_set(e, EXIT_FAILED, "a summary formula is too long");
	memcpy(slot, f->s, f->n + 1);
	x->check = slot;
	return 0;
}

/* A step that sums money_col of sheet si, and counts its rows, where the currency is cur and
 * column by_col is by (a status, an age bucket); it links to that sheet. */
static void br_step_by(struct br_step *x, const char *label, int si, int money_col, int cur_col, const char *cur,
		       int by_col, const char *by, int64_t amount, int64_t count)
{
	x->label = label;
	x->si = si;
	x->money_col = money_col;
	x->crit[0] = (struct xlsx_crit){ cur_col, cur, NULL };
	x->crit[1] = (struct xlsx_crit){ by_col, by, NULL };
	x->crit_n = 2;
	x->amount = amount;
	x->has_count = 1;
	x->count_si = si;
	x->count = count;
	x->link = si;
}

/* The party rows of a currency (G..H) beside the bridge row `i` (0: header). */
static int br_party(struct xlsx_writer *w, const struct xlsx_top *t, uint32_t row, size_t i,
		    uint32_t first, int64_t *top_sum, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	if (t == NULL || r->payouts < 0 || r->pay_party < 0)
		return 0;
	const struct xlsx_sheet *s = &w->sheets[r->payouts];
	int cur_col = s->l->cols[r->pay_payable].currency_col;
	int minor = xlsx_minor(t->cur);
	unsigned pc = XLSX_BRIDGE_PARTY_COL;
	char head[64], label[XLSX_LABEL_MAX + 32];
	if (i == 0) {
		snprintf(head, sizeof head, "Net payable %s", t->cur);
		return sum_text(w, row, pc, "Party (largest first)", w->fmt.header, 1, e) < 0 ||
				       sum_text(w, row, pc + 1, head, w->fmt.header, 1, e) < 0
			       ? -1
			       : 0;
	}
	if (i <= t->top_n) {
		const struct xlsx_party *p = &t->top[i - 1];
		struct xlsx_crit crit[2] = { { r->pay_party, p->account, NULL }, { cur_col, t->cur, NULL } };
		struct xlsx_fb f = { .n = 0 };
		if (money_add(*top_sum, p->payable_micros, top_sum) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "a payable total overflows");
		/* the bar's label: the account feed's name with the id, else the id */
		const char *name = xlsx_name_of(w, p->account);
		if (name)
			snprintf(label, sizeof label, "%.160s (%s)", name, p->account);
		if (sum_text(w, row, pc, name ? label : p->account, NULL, 1, e) < 0)
			return -1;
		fb_put(&f, "=");
		if (fb_aggregate(&f, s, r->pay_payable, crit, 2) < 0) /* too long a party id: the number */
			return sum_number(w, row, pc + 1, money_to_double_for_stats(p->payable_micros),
					  w->fmt.money[minor], e);
		return sum_formula(w, row, pc + 1, &f, w->fmt.money[minor], money_to_double_for_stats(p->payable_micros),
				   xlsx_money_chars(p->payable_micros, minor) + 2, e);
	}
	if (i == t->top_n + 1 && t->parties_n > (int64_t)t->top_n) {
		int64_t other;
		struct xlsx_fb f = { .n = 0 };
		struct xlsx_crit crit = { cur_col, t->cur, NULL };
		if (money_sub(t->total_micros, *top_sum, &other) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "a payable total overflows");
		snprintf(label, sizeof label, "Others (%" PRId64 " parties)", t->parties_n - (int64_t)t->top_n);
		fb_put(&f, "=");
		if (fb_aggregate(&f, s, r->pay_payable, &crit, 1) < 0)
			f.full = 1;
		fb_put(&f, "-SUM(");
		fb_cell(&f, pc + 1, first);
		fb_put(&f, ":");
		fb_cell(&f, pc + 1, row - 1);
		fb_put(&f, ")");
		return sum_text(w, row, pc, label, NULL, 1, e) < 0 ||
				       sum_formula(w, row, pc + 1, &f, w->fmt.money[minor],
						   money_to_double_for_stats(other), xlsx_money_chars(other, minor) + 2, e) < 0
			       ? -1
			       : 0;
	}
	return 0;
}

/* A chart of the Summary: categories and values in one block, every category labelled. */
static int br_chart(struct xlsx_writer *w, uint8_t type, const char *title, uint32_t first, uint32_t last,
		    unsigned cat_col, unsigned val_col, uint32_t anchor, int32_t x_offset, const char *num_format,
		    struct err *e)
{
	lxw_chart *ch = xlsx_chart_new(w, type, title, e);
	if (ch == NULL)
		return -1;
	lxw_chart_series *se = chart_add_series(ch, NULL, NULL);
	if (se == NULL)
		return err_set(e, EXIT_FAILED, "could not add a chart series");
	chart_series_set_categories(se, "Summary", first, (lxw_col_t)cat_col, last, (lxw_col_t)cat_col);
	chart_series_set_values(se, "Summary", first, (lxw_col_t)val_col, last, (lxw_col_t)val_col);
	chart_series_set_labels(se);
	chart_series_set_labels_num_format(se, num_format);
	chart_legend_set_position(ch, LXW_CHART_LEGEND_NONE);
	/* In a bar chart libxlsxwriter's y_axis is the category axis and x_axis the value axis. */
	lxw_chart_axis *cats = type == LXW_CHART_BAR ? ch->y_axis : ch->x_axis;
	lxw_chart_axis *values = type == LXW_CHART_BAR ? ch->x_axis : ch->y_axis;
	chart_axis_set_num_format(values, num_format);
	chart_axis_set_interval_unit(cats, 1); /* every label shown */
	if (type == LXW_CHART_BAR)
		chart_axis_set_reverse(cats); /* the first (largest) party on top */
	lxw_chart_font small = { .size = 11, .bold = LXW_TRUE };
	chart_title_set_name_font(ch, &small);
	/* two side by side fit the bridge's columns A..E (about 108 characters, 760 px): a printed page
	 * ends at a column edge, so a chart reaching further would be cut */
	lxw_chart_options opt = { .x_offset = x_offset, .x_scale = 0.78, .y_scale = 1.25 };
	lxw_error le = worksheet_insert_chart_opt(w->summary, anchor, 0, ch, &opt);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a chart");
}

static const struct xlsx_top *xlsx_top_find(const struct xlsx_writer *w, const char *cur)
{
	for (size_t i = 0; i < w->parties.cur_n; i++)
		if (strcmp(w->parties.cur[i].cur, cur) == 0 && w->parties.cur[i].top_n > 0)
			return &w->parties.cur[i];
	return NULL;
}

static int64_t xlsx_sub_sum(const struct xlsx_sheet *s, const char *cur, const char *status, int col, int count)
{
	for (size_t i = 0; i < s->subs_n; i++)
		if (!s->subs[i].is_null && strcmp(s->subs[i].cur, cur) == 0 && strcmp(s->subs[i].status, status) == 0)
			return count ? s->subs[i].rows_n : col >= 0 ? s->subs[i].sum_micros[col] : 0;
	return 0;
}

/* "B12": a cell of the bridge's amount (col 1) or count (col 2) column. */
static char *br_ref(char *buf, unsigned col, uint32_t row0)
{
	char c[4];
	xlsx_col_name(col, c);
	sprintf(buf, "%s%" PRIu32, c, row0 + 1);
	return buf;
}

/* The next step of the bridge, empty: no sheet, no link. */
static struct br_step *br_new(struct br_step *st, size_t *n)
{
	ASSERT(*n < XLSX_BRIDGE_ROWS_MAX);
	struct br_step *x = &st[(*n)++];
	memset(x, 0, sizeof *x);
	x->si = x->money_col = x->count_si = x->link = -1;
	return x;
}

/* A formula of the still-owed block built in f, kept as step x's amount (its slot in
 * w->br_exprs, without the "="). */
static int br_expr_set(struct br_step *x, char *slot, const struct xlsx_fb *f, struct err *e)
{
	if (f->full || f->n >= XLSX_FORMULA_MAX)
		return err_set(e, EXIT_FAILED, "a summary formula is too long");
	memcpy(slot, f->s, f->n + 1);
	x->expr = slot;
	return 0;
}

/* "Still owed at as-of, and why" (docs/workbook.md): from what the statements say is payable and
 * what the period disbursed to what the Aging sheet lists as outstanding, every line a formula
 * over Charge groups (or a cell above), the last one checked against Aging; then the same
 * outstanding by cause (Aging's disbursement status) and what of it no party was allocated.
 *
 * Why the lines are what they are. Outstanding is by reference, in each recipient's feed: a
 * group's reference remainder (SPEC §4.5) is what the group charges (owed: B + C + F + T + other
 * tax + infra + balance adjustments, all but the marketplace's tax) + what was paid against the
 * reference by the as-of, whatever the payout's date (paid, negative) + the same reference's
 * charges in other months (other months); aged ones are outstanding (§4.8). The statements and
 * the period's payouts measure other things: net payable is per party, not per feed; payouts of
 * the period pay references of other months too, and a payout after the period but before the
 * as-of pays this one's. So, per currency (Σ over the period's charge groups):
 *
 *   net payable − disbursed
 *   + owed of the groups not allocated          (no statement has them: an exception holds them)
 *   + owed of the allocated groups − net payable (the feeds' view beside the parties' statements)
 *   + disbursed + paid                          (paid other than by the period's payouts)
 *   + other months                              (charges carried in on the same references)
 *   + outstanding − reference remainder         (settled within tolerance or overpaid: not owed)
 *   = Σ outstanding, which must equal Σ Aging remainder (the check).
 *
 * The terms telescope to Σ outstanding whatever the data; the check holds when Charge groups and
 * Aging agree, which reconcile guarantees by writing both from the same reference. */
static int br_owed(struct xlsx_writer *w, const char *cur, struct br_step *st, size_t *np, size_t pay_row,
		   size_t disb_row, uint32_t row0, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	if (r->groups < 0 || r->cg_owed < 0 || r->aging < 0 || r->aging_status < 0)
		return 0;
	const struct xlsx_sheet *g = &w->sheets[r->groups], *ag = &w->sheets[r->aging];
	char (*exprs)[3][XLSX_FORMULA_MAX] = w->br_exprs;
	size_t n = *np;
	int cc = g->l->cols[r->cg_owed].currency_col;
	int acc = ag->l->cols[r->aging_amount].currency_col;
	struct xlsx_crit by_cur = { cc, cur, NULL };
	struct xlsx_crit yes[2] = { by_cur, { r->cg_allocated, "yes", NULL } };
	struct xlsx_crit no[2] = { by_cur, { r->cg_allocated, "no", NULL } };
	char a[16], b[16];
	struct br_step *x;
	struct xlsx_fb f;
#define BO_ROW(i) (row0 + (uint32_t)(i))
#define BO_NEW() br_new(st, &n)
	int64_t payable = st[pay_row].amount, disbursed = st[disb_row].amount;
	int64_t owed_yes = xlsx_tally_get(&w->bridge, XLSX_T_OWED_YES, cur, 0);
	int64_t owed_no = xlsx_tally_get(&w->bridge, XLSX_T_OWED_NO, cur, 0);
	int64_t paid = xlsx_sheet_sum(g, r->cg_paid, cur), other = xlsx_sheet_sum(g, r->cg_other, cur);
	int64_t rem = xlsx_sheet_sum(g, r->cg_rem, cur), out = xlsx_sheet_sum(g, r->cg_out, cur);
	int64_t aged = xlsx_sheet_sum(ag, r->aging_amount, cur);
	int64_t v[8];
	if (money_sub(payable, disbursed, &v[0]) != MONEY_OK || money_sub(owed_yes, payable, &v[1]) != MONEY_OK ||
	    money_add(disbursed, paid, &v[2]) != MONEY_OK || money_sub(out, rem, &v[3]) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the still-owed block of %s overflows", cur);

	x = BO_NEW();
	x->label = "Still owed at as-of, and why";
	x->label_fmt = w->fmt.bold;
	size_t first = n;
	x = BO_NEW();
	x->label = "Net payable (statements) \xE2\x88\x92 disbursed (above)";
	snprintf(exprs[n - 1][0], sizeof exprs[0][0], "%s-%s", br_ref(a, 1, BO_ROW(pay_row)),
		 br_ref(b, 1, BO_ROW(disb_row)));
	x->expr = exprs[n - 1][0];
	x->amount = v[0];
	x->link = r->payouts;
	x = BO_NEW();
	x->label = "+ Owed on groups allocated to no party (see Exceptions)";
	x->si = r->groups;
	x->money_col = r->cg_owed;
	memcpy(x->crit, no, sizeof no);
	x->crit_n = 2;
	x->amount = owed_no;
	x->link = r->groups;
	x = BO_NEW();
	x->label = "+ Owed on allocated groups \xE2\x88\x92 net payable (per feed)";
	f = (struct xlsx_fb){ .n = 0 };
	if (fb_aggregate(&f, g, r->cg_owed, yes, 2) < 0)
		f.full = 1;
	fb_put(&f, "-%s", br_ref(a, 1, BO_ROW(pay_row)));
	if (br_expr_set(x, exprs[n - 1][0], &f, e) < 0)
		return -1;
	x->amount = v[1];
	x->link = r->groups;
	x = BO_NEW();
	x->label = "+ Payouts for other months' charges, less later ones";
	f = (struct xlsx_fb){ .n = 0 };
	fb_put(&f, "%s+", br_ref(a, 1, BO_ROW(disb_row)));
	if (fb_aggregate(&f, g, r->cg_paid, &by_cur, 1) < 0)
		f.full = 1;
	if (br_expr_set(x, exprs[n - 1][0], &f, e) < 0)
		return -1;
	x->amount = v[2];
	x->link = r->groups;
	x = BO_NEW();
	x->label = "+ Carried in: other months' charges, same references";
	x->si = r->groups;
	x->money_col = r->cg_other;
	x->crit[0] = by_cur;
	x->crit_n = 1;
	x->amount = other;
	x->link = r->groups;
	x = BO_NEW();
	x->label = "\xE2\x88\x92 Settled within tolerance or overpaid (not owed)";
	f = (struct xlsx_fb){ .n = 0 };
	if (fb_aggregate(&f, g, r->cg_out, &by_cur, 1) < 0)
		f.full = 1;
	fb_put(&f, "-(");
	if (fb_aggregate(&f, g, r->cg_rem, &by_cur, 1) < 0)
		f.full = 1;
	fb_put(&f, ")"); /* one SUMIFS per worksheet of the listing: subtract them all */
	if (br_expr_set(x, exprs[n - 1][0], &f, e) < 0)
		return -1;
	x->amount = v[3];
	x->link = r->groups;
	x = BO_NEW();
	x->label = "= Still owed at as-of";
	x->bold = 1;
	snprintf(exprs[n - 1][0], sizeof exprs[0][0], "SUM(%s:%s)", br_ref(a, 1, BO_ROW(first)),
		 br_ref(b, 1, BO_ROW(n - 2)));
	x->expr = exprs[n - 1][0];
	x->amount = out;
	{ /* check: what Aging lists as outstanding */
		struct xlsx_crit cr = { acc, cur, NULL };
		f = (struct xlsx_fb){ .n = 0 };
		fb_put(&f, "%s-(", br_ref(a, 1, BO_ROW(n - 1)));
		if (fb_aggregate(&f, ag, r->aging_amount, &cr, 1) < 0)
			f.full = 1;
		fb_put(&f, ")");
		if (br_check_set(x, exprs[n - 1][2], &f, e) < 0)
			return -1;
		if (money_sub(out, aged, &x->check_diff) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the still-owed block of %s overflows", cur);
	}
	x->link = r->aging;

	/* by cause: the reference's disbursement status (SPEC §4.5) on Aging */
	static const char *const causes[] = { "NOT_DISBURSED", "PARTIAL", "FAILED" };
	static const char *const cause_labels[] = { "Not paid at all yet (no payout line)",
						    "Partly paid (payout lines short of the charges)",
						    "Payout failed, awaiting re-payment" };
	x = BO_NEW();
	x->label = "Still owed, by cause (disbursement status)";
	x->label_fmt = w->fmt.bold;
	first = n;
	int64_t total = 0, count = 0;
	for (size_t k = 0; k < 3; k++) {
		char label[XLSX_LABEL_MAX];
		snprintf(label, sizeof label, "%s%s", XLSX_T_STATUS, causes[k]);
		x = BO_NEW();
		br_step_by(x, cause_labels[k], r->aging, r->aging_amount, acc, cur, r->aging_status, causes[k],
			   xlsx_tally_get(&w->bridge, label, cur, 0), xlsx_tally_get(&w->bridge, label, cur, 1));
		if (money_add(total, x->amount, &total) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the still-owed block of %s overflows", cur);
		count += x->count;
	}
	x = BO_NEW();
	x->label = "= Still owed at as-of, by cause";
	x->bold = 1;
	snprintf(exprs[n - 1][0], sizeof exprs[0][0], "SUM(%s:%s)", br_ref(a, 1, BO_ROW(first)),
		 br_ref(b, 1, BO_ROW(n - 2)));
	x->expr = exprs[n - 1][0];
	x->amount = total;
	x->has_count = 1;
	snprintf(exprs[n - 1][1], sizeof exprs[0][1], "SUM(%s:%s)", br_ref(a, 2, BO_ROW(first)),
		 br_ref(b, 2, BO_ROW(n - 2)));
	x->count_expr = exprs[n - 1][1];
	x->count = count;
	{ /* every aged row is one of the three (SPEC §4.8) */
		struct xlsx_crit cr = { acc, cur, NULL };
		f = (struct xlsx_fb){ .n = 0 };
		fb_put(&f, "%s-(", br_ref(a, 1, BO_ROW(n - 1)));
		if (fb_aggregate(&f, ag, r->aging_amount, &cr, 1) < 0)
			f.full = 1;
		fb_put(&f, ")");
		if (br_check_set(x, exprs[n - 1][2], &f, e) < 0)
			return -1;
		if (money_sub(total, aged, &x->check_diff) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the still-owed block of %s overflows", cur);
	}
	x->link = r->aging;
	x = BO_NEW();
	x->label = "of which on groups no party was allocated (see Exceptions)";
	x->si = r->groups;
	x->money_col = r->cg_out;
	memcpy(x->crit, no, sizeof no);
	x->crit_n = 2;
	x->amount = xlsx_tally_get(&w->bridge, XLSX_T_OUT_NO, cur, 0);
	x->link = r->exceptions;
#undef BO_NEW
#undef BO_ROW
	*np = n;
	return 0;
}

static int sum_bridge_one(struct xlsx_writer *w, const char *cur, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	const struct xlsx_top *top = xlsx_top_find(w, cur);
	int minor = xlsx_minor(cur);
	struct br_step st[XLSX_BRIDGE_ROWS_MAX];
	char (*exprs)[3][XLSX_FORMULA_MAX] = w->br_exprs;
	size_t n = 0;
	uint32_t row0 = w->srow + 3; /* the row of st[0]: after a blank row, the title and the header */
#define BR_ROW(i) (row0 + (uint32_t)(i))
#define BR_NEW() (memset(&st[n], 0, sizeof st[n]), st[n].si = -1, st[n].money_col = -1, st[n].count_si = -1, \
		  st[n].link = -1, &st[n++])
	struct br_step *x;
	char a[16], b[16], c[16];

	/* Earned: the charge groups of the period (SPEC §4.1). */
	int64_t billed = 0, xtax = 0, cogs = 0, fee = 0, stax = 0, net = 0, earned = 0;
	if (r->groups >= 0) {
		const struct xlsx_sheet *g = &w->sheets[r->groups];
		int cc = g->l->cols[r->cg_billed].currency_col;
		const struct xlsx_total *gt = xlsx_sheet_total(g, cur);
		billed = xlsx_sheet_sum(g, r->cg_billed, cur);
		xtax = xlsx_sheet_sum(g, r->cg_xtax, cur);
		cogs = xlsx_sheet_sum(g, r->cg_cogs, cur);
		fee = xlsx_sheet_sum(g, r->cg_fee, cur);
		stax = xlsx_sheet_sum(g, r->cg_stax, cur);
		net = xlsx_sheet_sum(g, r->cg_net, cur);
		x = BR_NEW();
		x->label = "Earned from the period's charge groups";
		x->label_fmt = w->fmt.bold;
		const struct {
			const char *label;
			int col, neg;
			int64_t v;
		} e5[] = {
			{ "Billed to buyers, tax included", r->cg_billed, 0, billed },
			{ "\xE2\x88\x92 Marketplace tax (not the seller's)", r->cg_xtax, 1, -xtax },
			{ "\xE2\x88\x92 Cost of goods passed to ISVs", r->cg_cogs, 0, cogs },
			{ "\xE2\x88\x92 Listing fees", r->cg_fee, 0, fee },
			{ "\xE2\x88\x92 Seller tax (to the seller, who remits it)", r->cg_stax, 1, -stax },
		};
		size_t first = n;
		for (size_t k = 0; k < 5; k++) {
			x = BR_NEW();
			x->label = e5[k].label;
			x->si = r->groups;
			x->money_col = e5[k].col;
			x->crit[0] = (struct xlsx_crit){ cc, cur, NULL };
			x->crit_n = 1;
			x->neg = e5[k].neg;
			x->amount = e5[k].v;
			x->link = r->groups;
			if (k == 0) {
				x->has_count = 1;
				x->count_si = r->groups;
				x->count = gt ? gt->rows_n : 0;
			}
			if (k == 1 && xlsx_sheet_by_name(w, "Tax") >= 0)
				x->link = xlsx_sheet_by_name(w, "Tax");
		}
		if (money_sub(billed, xtax, &earned) != MONEY_OK || money_add(earned, cogs, &earned) != MONEY_OK ||
		    money_add(earned, fee, &earned) != MONEY_OK || money_sub(earned, stax, &earned) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the bridge of %s overflows", cur);
		x = BR_NEW();
		x->label = "= Net earned";
		x->bold = 1;
		snprintf(exprs[n - 1][0], sizeof exprs[0][0], "SUM(%s:%s)", br_ref(a, 1, BR_ROW(first)),
			 br_ref(b, 1, BR_ROW(n - 2)));
		x->expr = exprs[n - 1][0];
		x->amount = earned;
		/* check: the steps add up to the sheet's own net earned column */
		struct xlsx_fb f = { .n = 0 };
		fb_put(&f, "%s-(", br_ref(c, 1, BR_ROW(n - 1)));
		struct xlsx_crit cr = { cc, cur, NULL };
		if (fb_aggregate(&f, g, r->cg_net, &cr, 1) < 0)
			f.full = 1;
		fb_put(&f, ")");
		if (br_check_set(x, exprs[n - 1][2], &f, e) < 0)
			return -1;
		x->check_diff = earned - net;
		x->link = r->groups;
	}
	size_t pay_row = SIZE_MAX, disb_row = SIZE_MAX; /* steps the still-owed block starts from */
	/* Allocated (SPEC §4.3) and payout statements (§4.4). */
	if (r->alloc >= 0 && r->alloc_measure[3] >= 0) {
		const struct xlsx_sheet *s = &w->sheets[r->alloc];
		int col = r->alloc_measure[3];
		int64_t v = xlsx_sheet_sum(s, col, cur);
		x = BR_NEW();
		x->label = "Allocated to the parties";
		x->si = r->alloc;
		x->money_col = col;
		x->crit[0] = (struct xlsx_crit){ s->l->cols[col].currency_col, cur, NULL };
		x->crit_n = 1;
		x->amount = v;
		x->link = r->alloc;
		if (r->groups >= 0) {
			const struct xlsx_sheet *g = &w->sheets[r->groups];
			int cc = g->l->cols[r->cg_revenue].currency_col;
			struct xlsx_crit cr[2] = { { cc, cur, NULL }, { r->cg_allocated, "yes", NULL } };
			struct xlsx_fb f = { .n = 0 };
			int cols3[3] = { r->cg_revenue, r->cg_fee, r->cg_stax };
			fb_put(&f, "%s-(", br_ref(a, 1, BR_ROW(n - 1)));
			for (size_t k = 0; k < 3; k++) {
				if (k)
					fb_put(&f, "+");
				if (fb_aggregate(&f, g, cols3[k], cr, 2) < 0)
					f.full = 1;
			}
			fb_put(&f, ")");
			if (br_check_set(x, exprs[n - 1][2], &f, e) < 0)
				return -1;
			x->check_diff = v - xlsx_tally_get(&w->bridge, XLSX_T_BFT, cur, 0);
		}
	}
	if (r->payouts >= 0 && r->pay_payable >= 0 && r->pay_rounding >= 0) {
		const struct xlsx_sheet *s = &w->sheets[r->payouts];
		int64_t v = xlsx_sheet_sum(s, r->pay_payable, cur);
		int64_t rd = xlsx_sheet_sum(s, r->pay_rounding, cur);
		int cc = s->l->cols[r->pay_payable].currency_col;
		x = BR_NEW();
		pay_row = n - 1;
		x->label = "Payout statements (net payable)";
		x->si = r->payouts;
		x->money_col = r->pay_payable;
		x->crit[0] = (struct xlsx_crit){ cc, cur, NULL };
		x->crit_n = 1;
		x->amount = v;
		x->link = r->payouts;
		if (r->alloc >= 0) { /* = allocations + rounding to the currency's units */
			struct xlsx_fb f = { .n = 0 };
			struct xlsx_crit cr = { cc, cur, NULL };
			fb_put(&f, "%s-%s-(", br_ref(a, 1, BR_ROW(n - 1)), br_ref(b, 1, BR_ROW(n - 2)));
			if (fb_aggregate(&f, s, r->pay_rounding, &cr, 1) < 0)
				f.full = 1;
			fb_put(&f, ")");
			if (br_check_set(x, exprs[n - 1][2], &f, e) < 0)
				return -1;
			x->check_diff = v - st[n - 2].amount - rd;
			/* SPEC §4.4: a party whose own feed is loaded counts in its statement only what it
			 * received itself, so net payable may differ from the allocations by the other
			 * parties' views of the same sales -- by design, and reconcile's balance assertion
			 * checks the statements against that rule exactly. The word says so, as the
			 * control totals below do, instead of a difference that reads as an error. */
			x->check_word = "OWN FEED";
			x->check_why = "Net payable differs from the allocations here because a party whose own feed "
				       "is loaded counts in its payout statement only what it received itself "
				       "(SPEC 4.4): the same sale seen in another party's feed is allocated there "
				       "but not paid through this statement. The Control totals block of this sheet "
				       "shows the difference per measure.";
		}
	}
	/* Paid: the period's payouts by status (SPEC §4.5), deposits. */
	if (r->disb >= 0) {
		const struct xlsx_sheet *d = &w->sheets[r->disb];
		int cc = d->l->cols[r->disb_amount].currency_col;
		static const char *const statuses[] = { "SETTLED", "MISMATCH", "FAILED" };
		static const char *const labels[] = { "Payouts settled (amount = lines)",
						      "Payouts mismatched (amount \xE2\x89\xA0 lines)",
						      "Payouts failed (not paid, not disbursed)" };
		x = BR_NEW();
		x->label = "Paid out in the period";
		x->label_fmt = w->fmt.bold;
		size_t first = n;
		for (size_t k = 0; k < 3; k++) {
			x = BR_NEW();
			br_step_by(x, labels[k], r->disb, r->disb_amount, cc, cur, r->disb_status, statuses[k],
				   xlsx_sub_sum(d, cur, statuses[k], r->disb_amount, 0),
				   xlsx_sub_sum(d, cur, statuses[k], -1, 1));
			if (k == 1) { /* the amount by which mismatched payouts differ from their lines */
				struct xlsx_fb f = { .n = 0 };
				if (fb_aggregate(&f, d, r->disb_diff, x->crit, 2) < 0)
					f.full = 1;
				if (br_check_set(x, exprs[n - 1][2], &f, e) < 0)
					return -1;
				x->check_diff = xlsx_sub_sum(d, cur, statuses[k], r->disb_diff, 0);
			}
		}
		int64_t disbursed, all = xlsx_sheet_sum(d, r->disb_amount, cur), rest;
		/* a failure's own row is no payout (XLSX_FAILURE_STATUS) */
		if (money_sub(all, xlsx_sub_sum(d, cur, XLSX_FAILURE_STATUS, r->disb_amount, 0), &all) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the bridge of %s overflows", cur);
		const struct xlsx_total *dt = xlsx_sheet_total(d, cur);
		if (money_add(st[first].amount, st[first + 1].amount, &disbursed) != MONEY_OK ||
		    money_sub(all, disbursed, &rest) != MONEY_OK || money_sub(rest, st[first + 2].amount, &rest) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the bridge of %s overflows", cur);
		x = BR_NEW();
		x->label = "= Disbursed (settled + mismatched)";
		x->bold = 1;
		snprintf(exprs[n - 1][0], sizeof exprs[0][0], "%s+%s", br_ref(a, 1, BR_ROW(first)),
			 br_ref(b, 1, BR_ROW(first + 1)));
		x->expr = exprs[n - 1][0];
		x->amount = disbursed;
		x->has_count = 1;
		snprintf(exprs[n - 1][1], sizeof exprs[0][1], "%s+%s", br_ref(a, 2, BR_ROW(first)),
			 br_ref(b, 2, BR_ROW(first + 1)));
		x->count_expr = exprs[n - 1][1];
		x->count = st[first].count + st[first + 1].count;
		{ /* every payout row of the currency is one of the three */
			struct xlsx_fb f = { .n = 0 };
			struct xlsx_crit cr = { cc, cur, NULL };
			struct xlsx_crit fc[2] = { cr, { r->disb_status, XLSX_FAILURE_STATUS, "<>" } };
			if (fb_aggregate(&f, d, r->disb_amount, fc, 2) < 0)
				f.full = 1;
			fb_put(&f, "-%s-%s", br_ref(a, 1, BR_ROW(n - 1)), br_ref(b, 1, BR_ROW(first + 2)));
			if (br_check_set(x, exprs[n - 1][2], &f, e) < 0)
				return -1;
			x->check_diff = rest;
		}
		(void)dt;
		x->link = r->disb;
		disb_row = n - 1;
		int64_t dep = xlsx_tally_get(&w->bridge, XLSX_T_DEPOSITED, cur, 0);
		x = BR_NEW();
		x->label = "Matched to a bank deposit";
		x->si = r->disb;
		x->money_col = r->disb_amount;
		x->crit[0] = (struct xlsx_crit){ cc, cur, NULL };
		x->crit[1] = (struct xlsx_crit){ r->disb_deposit, NULL, "<>" };
		x->crit[2] = (struct xlsx_crit){ r->disb_status, XLSX_EXCLUDED_STATUS, "<>" };
		x->crit_n = 3;
		x->amount = dep;
		x->has_count = 1;
		x->count_si = r->disb;
		x->count = xlsx_tally_get(&w->bridge, XLSX_T_DEPOSITED, cur, 1);
		x->link = r->disb;
		x = BR_NEW();
		x->label = "Not (yet) matched to a deposit";
		snprintf(exprs[n - 1][0], sizeof exprs[0][0], "%s-%s", br_ref(a, 1, BR_ROW(disb_row)),
			 br_ref(b, 1, BR_ROW(n - 2)));
		x->expr = exprs[n - 1][0];
		x->amount = disbursed - dep;
		x->has_count = 1;
		snprintf(exprs[n - 1][1], sizeof exprs[0][1], "%s-%s", br_ref(a, 2, BR_ROW(disb_row)),
			 br_ref(b, 2, BR_ROW(n - 2)));
		x->count_expr = exprs[n - 1][1];
		x->count = st[disb_row].count - st[n - 2].count;
		snprintf(exprs[n - 1][2], sizeof exprs[0][2], "%s", br_ref(a, 1, BR_ROW(n - 1)));
		x->check = exprs[n - 1][2];
		x->check_diff = x->amount;
		x->link = xlsx_sheet_by_name(w, "Exceptions");
	}
	/* Outstanding at as-of, by age (SPEC §4.8). */
	size_t aging_first = 0, aging_last = 0;
	int64_t aging_count = 0;
	if (r->aging >= 0 && r->aging_bucket >= 0 && r->aging_amount >= 0) {
		const struct xlsx_sheet *s = &w->sheets[r->aging];
		int cc = s->l->cols[r->aging_amount].currency_col;
		const char *labels[XLSX_BUCKETS_N + 8];
		size_t nl = 0;
		for (size_t k = 0; k < XLSX_BUCKETS_N; k++)
			labels[nl++] = xlsx_buckets[k];
		for (size_t i = 0; i < w->aging.n && nl < sizeof labels / sizeof labels[0]; i++) {
			size_t j = 0; /* labels outside SPEC §4.8, first seen first */
			while (j < nl && strcmp(labels[j], w->aging.e[i].label) != 0)
				j++;
			if (j == nl && strcmp(w->aging.e[i].cur, cur) == 0)
				labels[nl++] = w->aging.e[i].label;
		}
		x = BR_NEW();
		x->label = "Outstanding at as-of, by age (days)";
		x->label_fmt = w->fmt.bold;
		aging_first = n;
		int64_t total = 0, count = 0;
		for (size_t k = 0; k < nl; k++) {
			x = BR_NEW();
			br_step_by(x, labels[k], r->aging, r->aging_amount, cc, cur, r->aging_bucket, labels[k],
				   xlsx_tally_get(&w->aging, labels[k], cur, 0),
				   xlsx_tally_get(&w->aging, labels[k], cur, 1));
			if (money_add(total, x->amount, &total) != MONEY_OK)
				return err_set(e, EXIT_FAILED, "the bridge of %s overflows", cur);
			count += x->count;
		}
		aging_last = n - 1;
		aging_count = count;
		x = BR_NEW();
		x->label = "= Outstanding at as-of";
		x->bold = 1;
		snprintf(exprs[n - 1][0], sizeof exprs[0][0], "SUM(%s:%s)", br_ref(a, 1, BR_ROW(aging_first)),
			 br_ref(b, 1, BR_ROW(aging_last)));
		x->expr = exprs[n - 1][0];
		x->amount = total;
		x->has_count = 1;
		snprintf(exprs[n - 1][1], sizeof exprs[0][1], "SUM(%s:%s)", br_ref(a, 2, BR_ROW(aging_first)),
			 br_ref(b, 2, BR_ROW(aging_last)));
		x->count_expr = exprs[n - 1][1];
		x->count = count;
		struct xlsx_fb f = { .n = 0 };
		struct xlsx_crit cr = { cc, cur, NULL };
		fb_put(&f, "%s-(", br_ref(c, 1, BR_ROW(n - 1)));
		if (fb_aggregate(&f, s, r->aging_amount, &cr, 1) < 0)
			f.full = 1;
		fb_put(&f, ")");
		if (br_check_set(x, exprs[n - 1][2], &f, e) < 0)
			return -1;
		x->check_diff = total - xlsx_sheet_sum(s, r->aging_amount, cur);
		x->link = r->aging;
	}
	if (pay_row != SIZE_MAX && disb_row != SIZE_MAX && aging_first > 0 && br_owed(w, cur, st, &n, pay_row, disb_row,
										    row0, e) < 0)
		return -1;
	ASSERT(n <= XLSX_BRIDGE_ROWS_MAX);
#undef BR_NEW

	/* Title and header, then the steps with the party block beside them. Printed: each
	 * currency starts a page, its charts the next one. */
	char title[160], head[32];
	snprintf(title, sizeof title, "%s: from billed to banked", cur);
	snprintf(head, sizeof head, "Amount %s", cur);
	w->srow++;
	if (w->srow > XLSX_TOP_ROWS + 2) /* not before the first: it goes under the Summary's title */
		sum_page_break(w, w->srow);
	if (sum_text(w, w->srow, 0, title, w->fmt.section, 0, e) < 0)
		return -1;
	w->srow++;
	static const char *const cols[] = { "Step", NULL, "Count", "Check", "Rows behind it" };
	for (unsigned k = 0; k < 5; k++)
		if (sum_text(w, w->srow, k, cols[k] ? cols[k] : head, w->fmt.header, 1, e) < 0)
			return -1;
	int64_t top_sum = 0;
	uint32_t party_first = w->srow + 1;
	if (br_party(w, top, w->srow, 0, party_first, &top_sum, e) < 0)
		return -1;
	size_t party_rows = top ? top->top_n + (top->parties_n > (int64_t)top->top_n) : 0;
	size_t rows = n > party_rows ? n : party_rows;
	w->srow++;
	ASSERT(w->srow == row0);
	for (size_t i = 0; i < rows; i++) {
		uint32_t row = w->srow++;
		if (i < n) {
			x = &st[i];
			lxw_format *mf = x->bold ? w->fmt.money_bold[minor] : w->fmt.money[minor];
			if (sum_text(w, row, 0, x->label, x->label_fmt ? x->label_fmt : x->bold ? w->fmt.bold : NULL, 1,
				     e) < 0)
				return -1;
			if (x->si >= 0) {
				if (br_agg(w, row, 1, x->si, x->money_col, x->crit, x->crit_n, x->neg, x->amount, mf, e) < 0)
					return -1;
			} else if (x->expr) {
				struct xlsx_fb f = { .n = 0 };
				fb_put(&f, "=%s", x->expr);
				if (sum_formula(w, row, 1, &f, mf, money_to_double_for_stats(x->amount),
						xlsx_money_chars(x->amount, minor) + 2, e) < 0)
					return -1;
			}
			if (x->has_count && x->count_si >= 0) {
				if (br_agg(w, row, 2, x->count_si, -1, x->crit, x->crit_n ? x->crit_n : 1, 0, x->count,
					   w->fmt.count, e) < 0)
					return -1;
			} else if (x->has_count && x->count_expr) {
				struct xlsx_fb f = { .n = 0 };
				fb_put(&f, "=%s", x->count_expr);
				if (sum_formula(w, row, 2, &f, w->fmt.count, (double)x->count, 8, e) < 0)
					return -1;
			}
			if (x->check && br_check(w, row, 3, x, minor, e) < 0)
				return -1;
			if (x->link >= 0 && (x->si >= 0 || x->expr) && br_link(w, row, 4, x->link, e) < 0)
				return -1;
		}
		if (br_party(w, top, row, i + 1, party_first, &top_sum, e) < 0)
			return -1;
	}
	/* The charts of the currency, side by side under its block. */
	uint32_t anchor = w->srow + 1;
	int aging_chart = aging_first > 0 && aging_count > 0; /* nothing outstanding: no chart */
	if (top || aging_chart)
		sum_page_break(w, anchor);
	int charts = 0;
	if (top) {
		char t[96];
		snprintf(t, sizeof t, "Net payable by party, %s (top %d + others)", cur, XLSX_TOP_PARTIES);
		if (br_chart(w, LXW_CHART_BAR, t, party_first, party_first + (uint32_t)party_rows - 1,
			     XLSX_BRIDGE_PARTY_COL, XLSX_BRIDGE_PARTY_COL + 1, anchor, 0, "#,##0", e) < 0)
			return -1;
		charts++;
	}
	if (aging_chart) {
		char t[96];
		snprintf(t, sizeof t, "Outstanding %s at as-of by days since invoice", cur);
		if (br_chart(w, LXW_CHART_COLUMN, t, BR_ROW(aging_first), BR_ROW(aging_last), 0, 1, anchor,
			     charts ? 385 : 0, "#,##0", e) < 0)
			return -1;
		charts++;
	}
	if (charts)
		w->srow = anchor + XLSX_CHART_ROWS + 3;
#undef BR_ROW
	return 0;
}

/* A printed page starts at row (0-based) of the Summary. */
static void sum_page_break(struct xlsx_writer *w, uint32_t row)
{
	if (row > 0 && w->breaks_n + 1 < XLSX_BREAKS_MAX)
		w->breaks[w->breaks_n++] = row;
}

static int xlsx_top_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xlsx_top *)a)->cur, ((const struct xlsx_top *)b)->cur);
}

/* One bridge per currency of the charge groups, allocations, payouts, disbursements and aging,
 * in the workbook's order of currencies (xlsx_cur_cmp: most charge groups first). */
static int sum_bridge(struct xlsx_writer *w, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	char curs[XLSX_KEYS_MAX][XLSX_KEY_MAX], more[XLSX_KEYS_MAX][XLSX_KEY_MAX];
	size_t n = xlsx_currencies(w, r->groups, r->alloc, curs, XLSX_KEYS_MAX);
	int ids[3] = { r->payouts, r->disb, r->aging };
	for (size_t k = 0; k < 3; k++) {
		size_t m = xlsx_currencies(w, ids[k], -1, more, XLSX_KEYS_MAX);
		for (size_t i = 0; i < m; i++) {
			size_t j = 0;
			while (j < n && strcmp(curs[j], more[i]) != 0)
				j++;
			if (j == n && n < XLSX_KEYS_MAX)
				memcpy(curs[n++], more[i], XLSX_KEY_MAX);
		}
	}
	qsort_r(curs, n, XLSX_KEY_MAX, xlsx_cur_qsort_cmp, w);
	qsort(w->parties.cur, w->parties.cur_n, sizeof w->parties.cur[0], xlsx_top_cmp);
	for (size_t i = 0; i < n; i++)
		if (sum_bridge_one(w, curs[i], e) < 0)
			return -1;
	if (n == 0 && sum_text(w, w->srow++, 0, "nothing was billed, paid or outstanding in this period", w->fmt.note,
			       0, e) < 0)
		return -1;
	return 0;
}

/* The run facts (the rows of run.csv), as text. */
static int sum_facts(struct xlsx_writer *w, struct err *e)
{
	static const char *const head[] = { "Run fact", "Value" };
	const struct report_xlsx_input *in = w->in;
	if (sum_title(w, "Run", e) < 0 || sum_header(w, head, 2, e) < 0)
		return -1;
	for (size_t i = 0; i < in->facts_n; i++) {
		uint32_t row = w->srow++;
		const struct report_fact *f = &in->facts[i];
		if (sum_text(w, row, 0, f->key ? f->key : "", NULL, 1, e) < 0 ||
		    sum_text(w, row, 1, f->value ? f->value : "", NULL, 0, e) < 0)
			return -1;
	}
	return 0;
}

int sum_write(struct xlsx_writer *w, struct err *e)
{
	const struct report_xlsx_input *in = w->in;
	char title[512], as_of[32];
	time_format(in->as_of_us, as_of);
	xlsx_sheet_title(w, "Summary", "how much was billed, earned, paid out and banked, and what is still out",
			 title, sizeof title);
	w->srow = 0;
	if (sum_text(w, 0, 0, title, w->fmt.title, 0, e) < 0 || sum_text(w, 1, 0, "As of", NULL, 1, e) < 0 ||
	    sum_text(w, 1, 1, as_of, NULL, 0, e) < 0 ||
	    sum_text(w, 2, 0, "Per currency, every amount below is a formula over the sheet named beside it; "
			      "a check says OK or shows the difference. Cells show the currency's minor units; "
			      "the CSV files are the exact record to the micro.",
		     w->fmt.note, 0, e) < 0)
		return -1;
	w->srow = 3;
	if (sum_bridge(w, e) < 0)
		return err_prefix(e, "sheet \"Summary\"");
	sum_page_break(w, w->srow + 1);
	if (sum_listing(w, e) < 0 || sum_control(w, e) < 0 || sum_counts(w, e) < 0 ||
	    sum_codes(w, e) < 0 || sum_insights(w, e) < 0 || sum_facts(w, e) < 0)
		return err_prefix(e, "sheet \"Summary\"");
	unsigned chars = 0;
	for (unsigned c = 0; c < 5; c++)
		chars += (w->swidth[c] < XLSX_WIDTH_MIN ? XLSX_WIDTH_MIN : w->swidth[c]) + 2;
	for (unsigned c = 0; c < XLSX_SUMMARY_COLS; c++) {
		if (w->swidth[c] == 0)
			continue;
		unsigned wd = w->swidth[c] < XLSX_WIDTH_MIN ? XLSX_WIDTH_MIN : w->swidth[c];
		lxw_error le = worksheet_set_column(w->summary, (lxw_col_t)c, (lxw_col_t)c, wd + 2, NULL);
		if (le != LXW_NO_ERROR)
			return xlsx_fail(e, le, "the column widths of the Summary");
	}
	xlsx_print_setup(w->summary, "Summary", chars);
	/* The bridge (A..E) and the party lines it explains (G..H) print on one page: scaled to the
	 * width of A..H on a landscape page, never below XLSX_SCALE_MIN (legible); the wider blocks
	 * below print across pages at that scale. */
	unsigned ah = 0;
	for (unsigned c = 0; c <= XLSX_BRIDGE_PARTY_COL + 1; c++)
		ah += w->swidth[c] == 0 ? 9 : (w->swidth[c] < XLSX_WIDTH_MIN ? XLSX_WIDTH_MIN : w->swidth[c]) + 3;
	if (ah > XLSX_LANDSCAPE_CHARS) {
		unsigned scale = XLSX_LANDSCAPE_CHARS * 100 / ah;
		worksheet_set_landscape(w->summary);
		worksheet_set_print_scale(w->summary, (uint16_t)(scale < XLSX_SCALE_MIN ? XLSX_SCALE_MIN : scale));
	}
	w->breaks[w->breaks_n] = 0;
	if (w->breaks_n > 0 && worksheet_set_h_pagebreaks(w->summary, w->breaks) != LXW_NO_ERROR)
		return err_set(e, EXIT_FAILED, "sheet \"Summary\": could not set the page breaks");
	lxw_error le = xlsx_page_header(w, w->summary);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the page header of the Summary");
}
