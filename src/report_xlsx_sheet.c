/* report_xlsx_sheet.c — the listing sheets of the workbook (report_xlsx.c has the shape of a
 * write): one listing of report_listings[] streamed into its worksheet(s) with its title, header,
 * cells by column type, totals per currency (and per status) as live formulas with exact cached
 * values, and column widths that fit; the account names shown beside the account ids.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_xlsx_int.h"
#include "money.h"
#include "timeutil.h"

/* ---------------------------------------------------------------------------------------------
 * Account names (issue 16). The account feed (SDDS.md, settle.account_map) gives each account
 * its tax_legal_name; a sheet shows it in a column of its own beside every account id
 * ("Recipient account", "Recipient name"), and the Summary's party lines as "Name (id)". Sheet
 * only: the CSV files keep SPEC §8's columns, which have no name. The names are read once, for
 * the accounts the period's results name (parties, recipients, customers): memory grows with the
 * number of parties, never with the rows of a listing.
 */

static const char xlsx_names_sql[] =
	"WITH ids AS ("
	"  SELECT recipient_account_id AS id FROM settle.charge_group WHERE run_id = $1::bigint AND period = $2::text"
	"  UNION SELECT party_account_id FROM settle.payout_statement WHERE run_id = $1::bigint AND period = $2::text"
	"  UNION SELECT recipient_account_id FROM settle.disbursement WHERE run_id = $1::bigint AND period = $2::text"
	"  UNION SELECT recipient_account_id FROM settle.exception WHERE run_id = $1::bigint AND period = $2::text"
	"  UNION SELECT recipient_account_id FROM settle.insight_timing WHERE run_id = $1::bigint AND period = $2::text"
	"  UNION SELECT customer_aws_account_id FROM settle.insight_usage WHERE run_id = $1::bigint AND period = $2::text)"
	" SELECT ids.id, m.tax_legal_name"
	" FROM ids JOIN settle.account_map($3::timestamptz) m ON m.id = settle.account_pad(ids.id)"
	" WHERE m.tax_legal_name IS NOT NULL AND m.tax_legal_name <> ''"
	" ORDER BY ids.id COLLATE \"C\"";

int xlsx_names_load(struct xlsx_writer *w, struct err *e)
{
	char run[24], as_of[32];
	snprintf(run, sizeof run, "%" PRId64, w->in->run_id);
	time_format(w->in->as_of_us, as_of);
	const char *params[3] = { run, w->in->period, as_of };
	w->names = db_query(w->db, xlsx_names_sql, 3, params, PGRES_TUPLES_OK, e);
	return w->names ? 0 : err_prefix(e, "account names");
}

/* The currencies of the period's charge groups, most groups first, then by code (byte order):
 * the order every sheet and chart lists currencies in. An accountant reads the currency that
 * carries the period's business first; amounts of different currencies cannot be compared
 * without exchange rates, which settle has none of, so the count of charge groups ranks them.
 * The Summary's totals by currency (report_listing.c, sql_summary) sort the same way. */
static const char xlsx_order_sql[] =
	"SELECT currency FROM settle.charge_group WHERE run_id = $1::bigint AND period = $2::text"
	" GROUP BY currency ORDER BY count(*) DESC, currency COLLATE \"C\"";

int xlsx_order_load(struct xlsx_writer *w, struct err *e)
{
	char run[24];
	snprintf(run, sizeof run, "%" PRId64, w->in->run_id);
	const char *params[2] = { run, w->in->period };
	PGresult *res = db_query(w->db, xlsx_order_sql, 2, params, PGRES_TUPLES_OK, e);
	if (res == NULL)
		return err_prefix(e, "the order of the currencies");
	w->cur_order_n = 0;
	for (int i = 0; i < PQntuples(res) && w->cur_order_n < XLSX_KEYS_MAX; i++) {
		const char *cur = PQgetvalue(res, i, 0);
		if (strlen(cur) < XLSX_KEY_MAX) /* a longer code is no currency a total lists */
			snprintf(w->cur_order[w->cur_order_n++], XLSX_KEY_MAX, "%s", cur);
	}
	PQclear(res);
	return 0;
}

/* The legal name of an account id as the sheets show it, or NULL. */
const char *xlsx_name_of(const struct xlsx_writer *w, const char *id)
{
	if (w->names == NULL || id == NULL)
		return NULL;
	int lo = 0, hi = PQntuples(w->names);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(PQgetvalue(w->names, mid, 0), id);
		if (c == 0)
			return PQgetvalue(w->names, mid, 1);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The name column shown beside an account column, or NULL when the column is no account id. */
static const char *xlsx_name_col(const char *name)
{
	static const struct {
		const char *id, *name;
	} cols[] = {
		{ "party_account_id", "party_name" },
		{ "recipient_account_id", "recipient_name" },
		{ "customer_aws_account_id", "customer_name" },
	};
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
		if (strcmp(cols[i].id, name) == 0)
			return cols[i].name;
	size_t n = strlen(name), k = strlen("_account_id");
	return n > k && strcmp(name + n - k, "_account_id") == 0 ? "account_name" : NULL;
}

/* The sheet's columns: the listing's, and when any party has a name, a text column with the
 * name after each account id (money columns' currency columns renumbered). Without names (no
 * account feed loaded) the sheet has exactly the listing's columns. */
void xlsx_view_init(const struct xlsx_writer *w, struct xlsx_sheet *s, const struct report_listing *src)
{
	int names = w->names && PQntuples(w->names) > 0;
	int at[REPORT_COLS_MAX];
	struct report_listing *v = &s->view;
	*v = *src;
	s->src = src;
	s->l = v;
	v->ncols = 0;
	s->rows_col = -1;
	s->weight = 1;
	for (size_t c = 0; c < src->ncols; c++) {
		ASSERT(v->ncols < REPORT_COLS_MAX);
		at[c] = (int)v->ncols;
		s->from[v->ncols] = (int)c;
		s->name_of[v->ncols] = -1;
		v->cols[v->ncols++] = src->cols[c];
		const char *nc = src->cols[c].type == REPORT_TEXT ? xlsx_name_col(src->cols[c].name) : NULL;
		/* room is kept for the Exceptions' Status column after the last */
		if (names && nc && v->ncols + 1 < REPORT_COLS_MAX) {
			s->from[v->ncols] = -1;
			s->name_of[v->ncols] = (int)c;
			v->cols[v->ncols++] = (struct report_column){ nc, REPORT_TEXT, -1 };
		}
	}
	for (size_t c = 0; c < v->ncols; c++)
		if (v->cols[c].type == REPORT_MONEY)
			v->cols[c].currency_col = at[v->cols[c].currency_col];
}

/* One row of the listing as the sheet's columns (view order, names looked up). */
static void xlsx_view_row(const struct xlsx_writer *w, const struct xlsx_sheet *s, const char *const *src,
			  const char **out)
{
	for (size_t c = 0; c < s->l->ncols; c++)
		out[c] = s->from[c] >= 0 ? src[s->from[c]] : xlsx_name_of(w, src[s->name_of[c]]);
}

/* What each sheet answers (its title line, with the period and the as-of) and the note under
 * it. A sheet without an entry is titled by its name. */
static const struct {
	const char *sheet, *question, *note;
} xlsx_titles[] = {
	{ "Payouts", "what each party is owed for the period's sales (payout statements)",
	  "Payouts are what settle computes each party is owed (SPEC 4.4); Disbursements are what the "
	  "marketplace actually paid out in the period and whether it reached the bank." },
	{ "Allocations", "how each charge group's money divides among the parties",
	  "One row per allocated charge group and party; net = revenue + listing fee + seller tax." },
	{ "Exceptions", "what does not reconcile and needs a person",
	  "Expected and actual of different checks do not add up, so there are no totals; the Summary "
	  "counts them by code. A detail longer than 300 characters is cut here and ends in \"\xE2\x80\xA6\"; "
	  "exceptions.csv has the whole text." },
	{ "Disbursements", "what the marketplace paid out in the period, and whether it reached the bank",
	  "Failed payouts were not paid: the total per currency leaves them out; subtotals by status "
	  "follow. Payouts (the sheet) are what each party is owed." },
	{ "Aging", "what is still not paid out at as-of, and for how long",
	  "Charge groups not fully disbursed (SPEC 4.8), with the amount still outstanding." },
	{ "Metering", "whether the metered usage was billed",
	  "Expected = quantity x unit price per dimension; the billed amount repeats on each dimension row." },
	{ "Tax", "the tax and non-allocated amounts of each charge group",
	  "Marketplace tax is collected and remitted by the marketplace; seller tax is paid out to the seller." },
	{ "Tax by jurisdiction", "who remits which tax, per jurisdiction and tax type",
	  "From the tax item feed; the (all) rows set the billing events' tax beside the items'." },
	{ "Rejected", "which input rows were quarantined, and why",
	  "Nothing was silently dropped: each row names the file, line, column and reason. A detail longer "
	  "than 300 characters is cut here and ends in \"\xE2\x80\xA6\"; rejected.csv has the whole text." },
	{ "Insights", "which usage series behave unusually", NULL },
	{ "Payment timing", "how long money takes from invoice to payout and to the bank", NULL },
	{ "Charge groups", "what was billed to buyers and where it went",
	  "Billed = revenue + seller tax + marketplace tax; net earned = revenue + cost of goods + "
	  "listing fee (the Summary's bridge sums these rows). Owed = what the group charges its recipient "
	  "(all but the marketplace tax); + paid by as-of + other months = the reference's remainder; "
	  "outstanding when aged." },
};

static int xlsx_title_of(const char *sheet)
{
	for (size_t i = 0; i < sizeof xlsx_titles / sizeof xlsx_titles[0]; i++)
		if (strcmp(xlsx_titles[i].sheet, sheet) == 0)
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Listing sheets
 */

/* The listing table is code: a money column must name a text column as its currency. */
void xlsx_check_listing(const struct report_listing *l)
{
	ASSERT(l->ncols > 0 && l->ncols <= REPORT_COLS_MAX);
	for (size_t c = 0; c < l->ncols; c++) {
		if (l->cols[c].type != REPORT_MONEY)
			continue;
		int cc = l->cols[c].currency_col;
		ASSERT(cc >= 0 && (size_t)cc < l->ncols && l->cols[cc].type == REPORT_TEXT);
	}
}

static int xlsx_is_currency_col(const struct report_listing *l, size_t col)
{
	for (size_t c = 0; c < l->ncols; c++)
		if (l->cols[c].type == REPORT_MONEY && (size_t)l->cols[c].currency_col == col)
			return 1;
	return 0;
}

/* Whether a money column is totalled: one in another currency column than the row's (the paid
 * amount of Disbursements, SPEC §4.5) is shown but never summed, its currencies differ by row. */
static int xlsx_totalled(const struct report_listing *l, size_t c)
{
	return l->cols[c].type == REPORT_MONEY && l->cols[c].currency_col == xlsx_count_col(l);
}

/* "Payouts · period 2026-10 · as of 2026-11-05T00:00:00Z: what each party is owed ...". */
void xlsx_sheet_title(const struct xlsx_writer *w, const char *sheet, const char *question, char *out,
		      size_t size)
{
	char as_of[32];
	time_format(w->in->as_of_us, as_of);
	/* period and as-of first: a long question may run past the printed page, they must not */
	snprintf(out, size, "%s \xC2\xB7 period %s \xC2\xB7 as of %s%s%s", sheet, w->in->period, as_of,
		 question ? ": " : "", question ? question : "");
}

/* Page header and footer of every printed page: what, the period and as-of, page n of m. */
lxw_error xlsx_page_header(const struct xlsx_writer *w, lxw_worksheet *ws)
{
	return xlsx_page_header_note(w, ws, NULL);
}

/* The same with another left footer (a sheet of subtotals says where its rows are). */
lxw_error xlsx_page_header_note(const struct xlsx_writer *w, lxw_worksheet *ws, const char *footer)
{
	char as_of[32], head[200], foot[256];
	time_format(w->in->as_of_us, as_of);
	snprintf(head, sizeof head, "&L&A&Csettle period %s, as of %s&RPage &P of &N", w->in->period, as_of);
	snprintf(foot, sizeof foot, "&L%s&R&A, page &P of &N", footer ? footer : "The CSV files are the exact record");
	lxw_error le = worksheet_set_header(ws, head);
	if (le == LXW_NO_ERROR)
		le = worksheet_set_footer(ws, foot);
	return le;
}

/* Orientation and scale from the columns' widths: landscape when wide, one page wide only while
 * that stays legible, never for the sheets people read line by line (Summary, Exceptions,
 * Rejected: their long sentences would shrink to nothing). */
void xlsx_print_setup(lxw_worksheet *ws, const char *sheet, unsigned chars)
{
	/* Exceptions and Rejected fit one page only while their sentences stay at 75 % or more */
	int sentences = strcmp(sheet, "Exceptions") == 0 || strcmp(sheet, "Rejected") == 0;
	int no_fit = strcmp(sheet, "Summary") == 0 || (sentences && chars > XLSX_SENTENCE_FIT_CHARS);
	worksheet_set_paper(ws, 9); /* A4 */
	if (chars > XLSX_PORTRAIT_CHARS)
		worksheet_set_landscape(ws);
	else
		worksheet_set_portrait(ws);
	if (!no_fit && chars <= XLSX_FIT_CHARS)
		worksheet_fit_to_pages(ws, 1, 0);
}

/* Adds the next worksheet of a listing ("Name", then "Name (2)", ...) with its title, note and
 * header row, frozen below the header. */
static int xlsx_part_new(struct xlsx_writer *w, struct xlsx_sheet *s, struct err *e)
{
	const struct report_listing *l = s->l;
	if (s->parts_n == XLSX_PARTS_MAX)
		return err_set(e, EXIT_FAILED,
			       "more than %d worksheets of %" PRIu32 " rows would be needed; the CSV "
			       "file has every row",
			       XLSX_PARTS_MAX, w->rows_max);
	struct xlsx_part *p = &s->parts[s->parts_n];
	if (s->parts_n == 0) {
		snprintf(p->name, sizeof p->name, "%s", l->sheet_name);
	} else {
		char suffix[16];
		int k = snprintf(suffix, sizeof suffix, " (%zu)", s->parts_n + 1);
		snprintf(p->name, sizeof p->name, "%.*s%s", LXW_SHEETNAME_MAX - k, l->sheet_name, suffix);
	}
	lxw_error le = workbook_validate_sheet_name(w->wb, p->name);
	if (le != LXW_NO_ERROR)
		return err_set(e, EXIT_FAILED, "invalid sheet name \"%s\": %s", p->name, lxw_strerror(le));
	p->ws = workbook_add_worksheet(w->wb, p->name);
	if (p->ws == NULL)
		return err_set(e, EXIT_FAILED, "could not add sheet \"%s\"", p->name);
	p->rows_n = 0;
	s->parts_n++;
	char title[512], label[128];
	int t = xlsx_title_of(l->sheet_name);
	xlsx_sheet_title(w, p->name, t >= 0 ? xlsx_titles[t].question : NULL, title, sizeof title);
	le = worksheet_write_string(p->ws, 0, 0, title, w->fmt.title);
	if (le == LXW_NO_ERROR && s->collapsed) /* where the rows are, instead of the sheet's note */
		le = worksheet_write_string(p->ws, 1, 0, s->note, w->fmt.note);
	else if (le == LXW_NO_ERROR && t >= 0 && xlsx_titles[t].note)
		le = worksheet_write_string(p->ws, 1, 0, xlsx_titles[t].note, w->fmt.note);
	for (size_t c = 0; c < l->ncols && le == LXW_NO_ERROR; c++) {
		enum report_col_type ty = l->cols[c].type;
		int num = ty == REPORT_MONEY || ty == REPORT_INT || ty == REPORT_DECIMAL;
		le = worksheet_write_string(p->ws, XLSX_HEAD_ROW, (lxw_col_t)c,
					    xlsx_label(l->cols[c].name, label, sizeof label),
					    num ? w->fmt.header_num : w->fmt.header);
	}
	if (le == LXW_NO_ERROR && s->code_col >= 0)
		le = worksheet_write_string(p->ws, XLSX_HEAD_ROW, (lxw_col_t)l->ncols, "Status", w->fmt.header);
	if (le != LXW_NO_ERROR)
		return xlsx_fail(e, le, "the header");
	worksheet_freeze_panes(p->ws, XLSX_TOP_ROWS, 0);
	/* Printed: the header row on every page, the period, as-of and page numbers in the page
	 * header and footer; orientation and scale are set with the widths (xlsx_print_setup). */
	le = worksheet_repeat_rows(p->ws, XLSX_HEAD_ROW, XLSX_HEAD_ROW);
	if (le == LXW_NO_ERROR)
		le = xlsx_page_header_note(w, p->ws, s->collapsed ? s->footer : NULL);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the print titles");
}

/* The autofilter covers the header and the data rows. In constant-memory mode it must be set
 * while the last data row is still the current one, i.e. before anything is written below it. */
static int xlsx_part_end(struct xlsx_sheet *s, struct err *e)
{
	struct xlsx_part *p = &s->parts[s->parts_n - 1];
	lxw_error le = worksheet_autofilter(p->ws, XLSX_HEAD_ROW, 0, XLSX_HEAD_ROW + p->rows_n,
					    (lxw_col_t)(s->l->ncols - (s->code_col < 0)));
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the autofilter");
}

/* The totals slot of a currency value (NULL included), created on first sight. */
static struct xlsx_total *xlsx_total_of(struct xlsx_sheet *s, const char *cur, struct err *e)
{
	struct xlsx_total *t = NULL;
	for (size_t i = 0; i < s->totals_n && !t; i++)
		if (s->totals[i].is_null ? cur == NULL : cur && strcmp(s->totals[i].cur, cur) == 0)
			t = &s->totals[i];
	if (t == NULL) {
		if (s->totals_n == XLSX_KEYS_MAX || (cur && strlen(cur) >= XLSX_KEY_MAX)) {
			err_set(e, EXIT_FAILED, "unexpected currency \"%.32s\" (more than %d, or too long)",
				cur ? cur : "", XLSX_KEYS_MAX);
			return NULL;
		}
		t = &s->totals[s->totals_n++];
		memset(t, 0, sizeof *t);
		t->is_null = cur == NULL;
		snprintf(t->cur, sizeof t->cur, "%s", cur ? cur : "");
	}
	return t;
}

/* The exact running sum of one money cell under its currency value. */
static int xlsx_total_add(struct xlsx_sheet *s, size_t col, const char *cur, int64_t micros,
			  struct err *e)
{
	struct xlsx_total *t = xlsx_total_of(s, cur, e);
	if (t == NULL)
		return -1;
	if (money_add(t->sum_micros[col], micros, &t->sum_micros[col]) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the total of column \"%s\" overflows", s->l->cols[col].name);
	return 0;
}

/* The (currency, status) subtotals of a listing with a status column (Disbursements: SETTLED,
 * MISMATCH, FAILED, SPEC §4.5), summed exactly like the totals. */
static int xlsx_sub_add(struct xlsx_sheet *s, const char *const *v, struct err *e)
{
	const struct report_listing *l = s->l;
	int cc = xlsx_count_col(l);
	const char *cur = cc >= 0 ? v[cc] : NULL;
	const char *status = v[s->status_col] ? v[s->status_col] : "";
	struct xlsx_sub *x = NULL;
	if (strlen(status) >= XLSX_LABEL_MAX || (cur && strlen(cur) >= XLSX_KEY_MAX))
		return err_set(e, EXIT_FAILED, "unexpected status \"%.64s\"", status);
	for (size_t i = 0; i < s->subs_n && !x; i++)
		if ((s->subs[i].is_null ? cur == NULL : cur && strcmp(s->subs[i].cur, cur) == 0) &&
		    strcmp(s->subs[i].status, status) == 0)
			x = &s->subs[i];
	if (x == NULL) {
		if (s->subs_n == XLSX_SUBS_MAX)
			return err_set(e, EXIT_FAILED, "more than %d (currency, status) pairs", XLSX_SUBS_MAX);
		x = &s->subs[s->subs_n++];
		memset(x, 0, sizeof *x);
		x->is_null = cur == NULL;
		snprintf(x->cur, sizeof x->cur, "%s", cur ? cur : "");
		snprintf(x->status, sizeof x->status, "%s", status);
	}
	x->rows_n += s->weight;
	for (size_t c = 0; c < l->ncols; c++) {
		int64_t n;
		if (!xlsx_totalled(l, c) || v[c] == NULL)
			continue;
		if (xlsx_parse_int64(v[c], &n) < 0 || money_add(x->sum_micros[c], n, &x->sum_micros[c]) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the subtotal of column \"%s\" overflows", l->cols[c].name);
	}
	return 0;
}

/* Status order in subtotals: SPEC §4.5's, then any other in byte order. */
static int xlsx_status_rank(const char *status)
{
	static const char *const order[] = { "SETTLED", "MISMATCH", "FAILED" };
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (strcmp(order[i], status) == 0)
			return (int)i;
	return 3;
}

static int xlsx_sub_cmp(const void *a, const void *b, void *w)
{
	const struct xlsx_sub *x = a, *y = b;
	if (x->is_null != y->is_null)
		return x->is_null - y->is_null;
	int c = xlsx_cur_cmp(w, x->cur, y->cur);
	if (c)
		return c;
	int rx = xlsx_status_rank(x->status), ry = xlsx_status_rank(y->status);
	return rx != ry ? rx - ry : strcmp(x->status, y->status);
}

/* A row with a long sentence is as tall as its wrapped lines: spreadsheets keep the default
 * height of a row they read (neither LibreOffice nor Excel fits it on opening), so a wrapped
 * detail would run over the rows below. Set before the row's cells, as constant-memory mode
 * requires. The column is at most XLSX_WIDTH_MAX wide; a line holds fewer characters than the
 * width in digits (capitals and underscores are wider), hence XLSX_LINE_CHARS. */
static int xlsx_row_height(const struct xlsx_sheet *s, struct xlsx_part *p, uint32_t row, const char *const *v,
			   struct err *e)
{
	size_t lines = 1;
	for (size_t c = 0; c < s->l->ncols; c++) {
		if (v[c] == NULL || s->l->cols[c].type != REPORT_TEXT || !xlsx_is_sentence(s->l->cols[c].name))
			continue;
		size_t chars = xlsx_chars(v[c]);
		if (chars > XLSX_SENTENCE_CHARS)
			chars = XLSX_SENTENCE_CHARS;
		size_t n = (chars + XLSX_LINE_CHARS - 1) / XLSX_LINE_CHARS;
		if (n > lines)
			lines = n;
	}
	if (lines == 1)
		return 0;
	lxw_error le = worksheet_set_row(p->ws, row, 15.0 * (double)lines, NULL);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a row height");
}

/* One cell of a data row, by column type. NULL stays an empty cell. */
static int xlsx_cell(struct xlsx_writer *w, struct xlsx_sheet *s, struct xlsx_part *p, uint32_t row,
		     size_t c, const char *const *v, struct err *e)
{
	const struct report_column *col = &s->l->cols[c];
	const char *text = v[c];
	lxw_error le = LXW_NO_ERROR;
	int64_t n;
	double serial;
	if (text == NULL)
		return 0;
	switch (col->type) {
	case REPORT_TEXT:
		if (xlsx_is_sentence(col->name)) { /* wrapped in its column, cut when long */
			le = xlsx_write_text_cut(p->ws, row, (unsigned)c, text, w->fmt.wrap, XLSX_SENTENCE_CHARS);
			xlsx_widen(&s->width[c], xlsx_chars(text) + 2);
			break;
		}
		le = xlsx_write_text(p->ws, row, (unsigned)c, text, w->fmt.text);
		xlsx_widen(&s->width[c], xlsx_chars(text) + 2); /* + the indent */
		break;
	case REPORT_MONEY: {
		const char *cur = v[col->currency_col];
		int minor = xlsx_minor(cur);
		if (xlsx_parse_int64(text, &n) < 0)
			goto bad;
		if (xlsx_totalled(s->l, c) && xlsx_total_add(s, c, cur, n, e) < 0)
			return -1;
		int price = strcmp(col->name, "unit_price") == 0;
		le = worksheet_write_number(p->ws, row, (lxw_col_t)c, money_to_double_for_stats(n),
					    price ? w->fmt.price[minor] : w->fmt.money[minor]);
		xlsx_widen(&s->width[c], price ? xlsx_price_chars(n, minor) : xlsx_money_chars(n, minor));
		break;
	}
	case REPORT_INT:
		if (xlsx_parse_int64(text, &n) < 0)
			goto bad;
	{
		int grouped = (int)c == s->rows_col || xlsx_is_quantity(col->name);
		le = worksheet_write_number(p->ws, row, (lxw_col_t)c, (double)n, grouped ? w->fmt.count : NULL);
		xlsx_widen(&s->width[c], strlen(text) + grouped * (strlen(text) - (n < 0) - 1) / 3);
		break;
	}
	case REPORT_DATE:
		if (xlsx_parse_date(text, &serial) < 0)
			goto bad;
		le = worksheet_write_number(p->ws, row, (lxw_col_t)c, serial, w->fmt.date);
		xlsx_widen(&s->width[c], 10);
		break;
	case REPORT_DECIMAL: /* a statistic, never money: the nearest double of the exact decimal */
		if (report_parse_decimal(text, &serial, e) < 0)
			return err_prefix(e, "column \"%s\"", col->name);
		if (xlsx_is_quantity(col->name)) {
			/* a quantity shows every decimal it has and no more, grouped (12,345.5) */
			const char *dot = strchr(text, '.');
			size_t k = dot ? strlen(dot + 1) : 0;
			ASSERT(k <= XLSX_QTY_DECIMALS_MAX); /* report_parse_decimal: 15 significant digits */
			le = worksheet_write_number(p->ws, row, (lxw_col_t)c, serial, w->fmt.qty[k]);
			xlsx_widen(&s->width[c], xlsx_quantity_chars(text));
			break;
		}
		le = worksheet_write_number(p->ws, row, (lxw_col_t)c, serial, w->fmt.decimal);
		xlsx_widen(&s->width[c], xlsx_decimal_chars(text));
		break;
	}
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a cell");
bad:
	return err_set(e, EXIT_FAILED, "column \"%s\": \"%s\" is not a valid value", col->name, text);
}

/* ---------------------------------------------------------------------------------------------
 * Totals under the money columns
 */

static int xlsx_total_cmp(const void *a, const void *b, void *w)
{
	const struct xlsx_total *x = a, *y = b;
	if (x->is_null != y->is_null)
		return x->is_null - y->is_null; /* the NULL currency last */
	return xlsx_cur_cmp(w, x->cur, y->cur);
}

/* The column that carries the "Total" label: the first text column that is not a currency. */
static size_t xlsx_label_col(const struct report_listing *l)
{
	for (size_t c = 0; c < l->ncols; c++)
		if (l->cols[c].type == REPORT_TEXT && !xlsx_is_currency_col(l, c))
			return c;
	return 0;
}

/* One totals row: label, currency, and per money column the live formula with its exact cached
 * value. One currency: SUM over the column; several: SUMIFS on the column's currency column.
 * sub != NULL: the subtotal of one status (SUMIFS on the status too). On a sheet with a status
 * column the currency's total leaves the failed rows out: SUMIFS(currency) - SUMIFS(currency,
 * FAILED). Widths grow to fit the bold totals. */
static int xlsx_total_row(struct xlsx_writer *w, struct xlsx_sheet *s, struct xlsx_part *p,
			  uint32_t row, const struct xlsx_total *t, const struct xlsx_sub *sub, struct err *e)
{
	const struct report_listing *l = s->l;
	char label[64];
	const struct xlsx_sub *excl = s->status_col >= 0 && sub == NULL ? xlsx_sub_of(s, t, XLSX_EXCLUDED_STATUS) : NULL;
	const struct xlsx_sub *fail = s->status_col >= 0 && sub == NULL ? xlsx_sub_of(s, t, XLSX_FAILURE_STATUS) : NULL;
	const char *left_out = excl || fail ? ", failed left out" : "";
	if (sub) /* the status again in the label: a printed page may end before the status column */
		snprintf(label, sizeof label, "Subtotal %.40s", sub->status);
	else if (t->is_null)
		snprintf(label, sizeof label, "Total (no currency)%s", left_out);
	else
		snprintf(label, sizeof label, "Total %s%s", t->cur, left_out);
	size_t lc = xlsx_label_col(l);
	lxw_error le = worksheet_write_string(p->ws, row, (lxw_col_t)lc, label, w->fmt.bold);
	int minor = xlsx_minor(t->is_null ? NULL : t->cur);
	if (le == LXW_NO_ERROR && sub)
		le = worksheet_write_string(p->ws, row, (lxw_col_t)s->status_col, sub->status, w->fmt.bold);
	for (size_t c = 0; c < l->ncols && le == LXW_NO_ERROR; c++) {
		if (xlsx_is_currency_col(l, c) && (int)c == xlsx_count_col(l) && c != lc && !t->is_null)
			le = worksheet_write_string(p->ws, row, (lxw_col_t)c, t->cur, w->fmt.bold);
		if (!xlsx_totalled(l, c))
			continue;
		struct xlsx_fb f = { .n = 0 };
		struct xlsx_crit crit[2] = { { l->cols[c].currency_col, t->is_null ? NULL : t->cur, NULL },
					     { s->status_col, sub ? sub->status : XLSX_EXCLUDED_STATUS, NULL } };
		int64_t v = sub ? sub->sum_micros[c] : t->sum_micros[c];
		fb_put(&f, "=");
		if (fb_aggregate(&f, s, (int)c, crit, sub ? 2 : s->totals_n > 1) < 0)
			return err_set(e, EXIT_FAILED, "the total formula is too long");
		if (excl) {
			fb_put(&f, "-(");
			if (fb_aggregate(&f, s, (int)c, crit, 2) < 0)
				return err_set(e, EXIT_FAILED, "the total formula is too long");
			fb_put(&f, ")");
			if (money_sub(v, excl->sum_micros[c], &v) != MONEY_OK)
				return err_set(e, EXIT_FAILED, "the total of column \"%s\" overflows", l->cols[c].name);
		}
		if (fail) {
			struct xlsx_crit fc[2] = { crit[0], { s->status_col, XLSX_FAILURE_STATUS, NULL } };
			fb_put(&f, "-(");
			if (fb_aggregate(&f, s, (int)c, fc, 2) < 0)
				return err_set(e, EXIT_FAILED, "the total formula is too long");
			fb_put(&f, ")");
			if (money_sub(v, fail->sum_micros[c], &v) != MONEY_OK)
				return err_set(e, EXIT_FAILED, "the total of column \"%s\" overflows", l->cols[c].name);
		}
		le = worksheet_write_formula_num(p->ws, row, (lxw_col_t)c, f.s, w->fmt.money_bold[minor],
						 money_to_double_for_stats(v));
		xlsx_widen(&s->width[c], xlsx_money_chars(v, minor) + 1); /* bold is wider */
	}
	if (le == LXW_NO_ERROR && s->rows_col >= 0) { /* subtotals: the rows they stand for, totalled */
		/* a currency's total counts every row, the failed ones too: the Rows add up to the
		 * listing's rows; a status subtotal counts the rows of its status */
		struct xlsx_fb f = { .n = 0 };
		struct xlsx_crit crit[2] = { { xlsx_count_col(l), t->is_null ? NULL : t->cur, NULL },
					     { s->status_col, sub ? sub->status : NULL, NULL } };
		int64_t rows = sub ? sub->rows_n : t->rows_n;
		fb_put(&f, "=");
		if (fb_aggregate(&f, s, s->rows_col, crit, sub ? 2 : s->totals_n > 1) < 0)
			return err_set(e, EXIT_FAILED, "the total formula is too long");
		le = worksheet_write_formula_num(p->ws, row, (lxw_col_t)s->rows_col, f.s, w->fmt.count,
						 (double)rows);
		xlsx_widen(&s->width[s->rows_col], (size_t)snprintf(NULL, 0, "%" PRId64, rows) + 2);
	}
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the totals");
}

/* After a blank row, one totals row per currency value, on the last worksheet of the listing (a
 * new one when they do not fit below the data). */
static int xlsx_totals(struct xlsx_writer *w, struct xlsx_sheet *s, struct err *e)
{
	if (!s->l->sheet_totals || s->totals_n == 0)
		return 0;
	qsort_r(s->totals, s->totals_n, sizeof s->totals[0], xlsx_total_cmp, w);
	qsort_r(s->subs, s->subs_n, sizeof s->subs[0], xlsx_sub_cmp, w);
	struct xlsx_part *p = &s->parts[s->parts_n - 1];
	size_t n = s->totals_n + s->subs_n;
	/* rows used: title, note, header + data + blank + totals */
	if ((uint64_t)p->rows_n + XLSX_TOP_ROWS + 1 + n > w->rows_max) {
		if (XLSX_TOP_ROWS + 1 + n > w->rows_max)
			return err_set(e, EXIT_FAILED, "%zu totals rows do not fit on a worksheet", n);
		if (xlsx_part_new(w, s, e) < 0 || xlsx_part_end(s, e) < 0)
			return -1;
		p = &s->parts[s->parts_n - 1];
	}
	uint32_t row = p->rows_n + XLSX_TOP_ROWS + 1;
	for (size_t i = 0, k = 0; i < s->totals_n; i++) {
		/* per currency: its subtotals by status (in xlsx_sub_cmp order), then its total */
		for (; k < s->subs_n && s->subs[k].is_null == s->totals[i].is_null &&
		       strcmp(s->subs[k].cur, s->totals[i].cur) == 0; k++)
			if (xlsx_total_row(w, s, p, row++, &s->totals[i], &s->subs[k], e) < 0)
				return -1;
		if (xlsx_total_row(w, s, p, row++, &s->totals[i], NULL, e) < 0)
			return -1;
	}
	return 0;
}

/* The columns that say which row a printed line is, for a sheet printed more than one page
 * across (wider than a landscape page and not fitted to it): they repeat at the left of every
 * page, so the page with the money still names the row (Allocations: the recipient's name and
 * the reference beside revenue ... net). The widest run of visible columns that ends at the
 * row's reference (the first column named in refs) and fits XLSX_ID_CHARS, from the first column
 * after the period; none when the sheet has no reference column or prints one page wide. */
static void xlsx_id_cols(const struct xlsx_sheet *s, const unsigned *wd, unsigned chars, int *first, int *last)
{
	static const char *const refs[] = { "transaction_reference_id", "reference", "id", "file", "dimension" };
	*first = *last = -1;
	int sentences = strcmp(s->l->sheet_name, "Exceptions") == 0 || strcmp(s->l->sheet_name, "Rejected") == 0;
	int fitted = chars <= (sentences ? XLSX_SENTENCE_FIT_CHARS : XLSX_FIT_CHARS);
	if (fitted || chars <= XLSX_LANDSCAPE_CHARS)
		return;
	int ref = -1;
	for (size_t k = 0; k < sizeof refs / sizeof refs[0] && ref < 0; k++)
		for (size_t c = 0; c < s->l->ncols && ref < 0; c++)
			if (strcmp(s->l->cols[c].name, refs[k]) == 0 && !(s->collapsed && s->blank[c]))
				ref = (int)c;
	if (ref < 0)
		return;
	unsigned used = wd[ref] + 2;
	int start = ref;
	/* widen to the left while it fits, never over the period (every page header names it) */
	for (int c = ref - 1; c >= 0 && strcmp(s->l->cols[c].name, "period") != 0; c--) {
		unsigned cw = s->collapsed && s->blank[c] ? 0 : wd[c] + 2;
		if (used + cw > XLSX_ID_CHARS)
			break;
		used += cw;
		start = c;
	}
	*first = start;
	*last = ref;
}

/* Column widths of every worksheet of the listing: the widest cell or the header (plus room for
 * the filter button), within XLSX_WIDTH_MIN..XLSX_WIDTH_MAX. set_column may come after the rows:
 * libxlsxwriter writes <cols> when it assembles the sheet. */
static int xlsx_widths(struct xlsx_sheet *s, struct err *e)
{
	unsigned chars = 0, final[REPORT_COLS_MAX + 1] = { 0 };
	for (size_t c = 0; c < s->l->ncols + (s->code_col >= 0); c++) {
		unsigned wd = s->width[c];
		char label[128];
		/* the header is bold (+1) and has the filter button (+3) */
		xlsx_widen(&wd, xlsx_chars(c < s->l->ncols ? xlsx_label(s->l->cols[c].name, label, sizeof label)
							   : "Status") + 4);
		if (wd < XLSX_WIDTH_MIN)
			wd = XLSX_WIDTH_MIN;
		final[c] = wd;
		/* a sheet of subtotals hides the columns no subtotal has (reference, agreement, ...) */
		int hide = s->collapsed && c < s->l->ncols && s->blank[c];
		lxw_row_col_options hidden = { .hidden = 1 };
		if (!hide)
			chars += wd + 2; /* the padding between columns */
		for (size_t i = 0; i < s->parts_n; i++) {
			lxw_error le = worksheet_set_column_opt(s->parts[i].ws, (lxw_col_t)c, (lxw_col_t)c,
								wd + 2, NULL, hide ? &hidden : NULL);
			if (le != LXW_NO_ERROR)
				return xlsx_fail(e, le, "the column widths");
		}
	}
	int first = -1, last = -1;
	xlsx_id_cols(s, final, chars, &first, &last);
	for (size_t i = 0; i < s->parts_n; i++) {
		xlsx_print_setup(s->parts[i].ws, s->l->sheet_name, chars);
		if (first >= 0 && worksheet_repeat_columns(s->parts[i].ws, (lxw_col_t)first, (lxw_col_t)last) != LXW_NO_ERROR)
			return err_set(e, EXIT_FAILED, "the print titles of \"%s\"", s->parts[i].name);
	}
	return 0;
}

/* The sheet-only Status of an exception (issue 16; the CSV keeps SPEC §8's columns): "info" for
 * the codes that flag a fact and need no correction — an allocated group past its offer's
 * validity (§4.2), a balance adjustment reported as is (§4.1) — "open" for every other: something
 * does not reconcile until a person looks. settle keeps no resolution history, so nothing is ever
 * "closed" here. */
static const char *xlsx_exception_status(const char *code)
{
	static const char *const info[] = { "OFFER_EXPIRED", "BALANCE_ADJUSTMENT" };
	for (size_t i = 0; code && i < sizeof info / sizeof info[0]; i++)
		if (strcmp(code, info[i]) == 0)
			return "info";
	return "open";
}

/* ---------------------------------------------------------------------------------------------
 * Long detail sheets (issue 19, docs/workbook.md "Long detail sheets"). A listing with more rows
 * than the configuration's workbook_detail_rows is shown as its subtotals: one row per value of
 * the columns the sheet's question is about (the offer, or the party where the listing has no
 * offer) and of every column the Summary selects on (currency, allocated, bucket, code, status),
 * each money column summed exactly by the server, every other column empty, and a "Rows" column
 * with the rows each subtotal stands for. The Summary's SUMIFS select the same columns, so they
 * add up to the same totals; its counts sum the Rows column (fb_aggregate). The CSV file keeps
 * every row. Sheets not listed here (Payouts and Payment timing are per party already,
 * Disbursements one row per payout, Metering per offer and dimension, Tax by jurisdiction per
 * jurisdiction) always show their rows.
 */

static const struct xlsx_collapse {
	const char *sheet;
	const char *per;                 /* "offer, currency and party": what one subtotal is */
	const char *const keys[10];      /* text columns grouped by, in order (ORDER BY too) */
	const char *const sums[4];       /* integer columns summed (money columns in a key currency
					  * always are) */
	const char *const flags[2];      /* text columns grouped by whether they are empty: the
					  * subtotal shows `flag_word` or nothing (a deposit id) */
	const char *flag_word;
	/* top: a text column listed only for the top_n largest values within each group of the keys
	 * (ranked by the absolute sum of the money column rank_by, then in byte order); the others
	 * of the group are one more subtotal, last, whose top column says "N other offers". */
	const char *top;
	int top_n;
	const char *rank_by;
	const char *others;              /* "other offers" */
	/* A sheet whose rows print long (sentences that wrap, 20 columns two pages across) holds a
	 * tenth of the rows per page: it lists its rows up to workbook_detail_rows / div. */
	int div;
} xlsx_collapses[] = {
	{ "Allocations", "offer, currency and party",
	  { "period", "recipient_account_id", "offer_id", "currency", "party_role", "party_account_id" }, { NULL },
	  { NULL }, NULL, NULL, 0, NULL, NULL, 1 },
	{ "Charge groups",
	  "recipient, currency and allocation (yes/no), with the recipient's 3 largest offers by billed amount "
	  "and one line for its other offers",
	  { "period", "recipient_account_id", "currency", "allocated" }, { NULL }, { NULL }, NULL,
	  "offer_id", 3, "billed", "other offers", 1 },
	{ "Tax", "recipient and currency", { "period", "recipient_account_id", "currency" }, { NULL },
	  { NULL }, NULL, NULL, 0, NULL, NULL, 1 },
	{ "Aging", "recipient, currency, age and disbursement status",
	  { "period", "recipient_account_id", "currency", "bucket", "disbursement_status" }, { NULL },
	  { NULL }, NULL, NULL, 0, NULL, NULL, 1 },
	{ "Exceptions", "code, recipient, offer and currency",
	  { "period", "code", "recipient_account_id", "offer_id", "currency" }, { NULL },
	  { NULL }, NULL, NULL, 0, NULL, NULL, 10 },
	{ "Disbursements", "recipient, currency, kind, status, paid currency and deposit match",
	  { "period", "recipient_account_id", "currency", "kind", "status", "paid_currency", "deposit_match" },
	  { "lines", NULL }, { "deposit_id", NULL }, "(matched)", NULL, 0, NULL, NULL, 10 },
	{ "Rejected", "file, column and code", { "file", "column", "code" }, { NULL },
	  { NULL }, NULL, NULL, 0, NULL, NULL, 1 },
	{ "Insights", "product, dimension, offer, status and source",
	  { "period", "product_code", "dimension", "offer_id", "status", "source" }, { "anomalies", NULL },
	  { NULL }, NULL, NULL, 0, NULL, NULL, 1 },
};

static const struct xlsx_collapse *xlsx_collapse_of(const char *sheet)
{
	for (size_t i = 0; i < sizeof xlsx_collapses / sizeof xlsx_collapses[0]; i++)
		if (strcmp(xlsx_collapses[i].sheet, sheet) == 0)
			return &xlsx_collapses[i];
	return NULL;
}

static int xlsx_in(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n && names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* The grouped listing of src: its columns (each a key, a sum or NULL), then the rows of the
 * group and the rows of the whole listing (a window over the groups, so the first row says
 * whether the listing is long). Ordered by the keys in byte order: a total order, as the keys
 * are what is grouped by (a flag column is grouped and ordered by whether it is empty, after
 * the keys). With a top column, the groups per value of it are ranked within the keys' group
 * and all but the top_n largest merged into one, which comes last (ORDER BY the rank: a total
 * order too, ties broken in byte order). The SQL is malloc'd into g->sql (the caller frees it). */
static int xlsx_grouped_init(const struct report_listing *src, const struct xlsx_collapse *k,
			     struct report_listing *g, unsigned char *blank, struct err *e)
{
	size_t nk = 0;
	while (nk < sizeof k->keys / sizeof k->keys[0] && k->keys[nk])
		nk++;
	size_t size = 3 * strlen(src->sql) + 160 * (src->ncols + 2) + 64 * nk * 4 + 1024;
	char *sql = malloc(size); /* owned by the caller: g->sql */
	if (sql == NULL)
		return err_set(e, EXIT_FAILED, "out of memory");
	size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(sql + n, size - n, __VA_ARGS__))
	enum { NONE, KEY, FLAG, SUM, TOP } kind[REPORT_COLS_MAX];
	int rank = -1;
	/* The listing without its ORDER BY (every listing's SQL ends in one, report_listing.h): the groups
	 * are sorted once, by their keys in byte order, which is also what they are grouped by. */
	const char *order = NULL;
	for (const char *q = strstr(src->sql, " ORDER BY "); q; q = strstr(q + 1, " ORDER BY "))
		order = q;
	ASSERT(order != NULL);
	for (size_t c = 0; c < src->ncols; c++) {
		const struct report_column *col = &src->cols[c];
		int cur_key = col->type == REPORT_MONEY && xlsx_in(k->keys, nk, src->cols[col->currency_col].name);
		kind[c] = col->type == REPORT_TEXT && xlsx_in(k->keys, nk, col->name)   ? KEY
			  : col->type == REPORT_TEXT && xlsx_in(k->flags, 2, col->name) ? FLAG
			  : col->type == REPORT_TEXT && k->top && strcmp(k->top, col->name) == 0 ? TOP
			  : cur_key || (col->type == REPORT_INT && xlsx_in(k->sums, 4, col->name)) ? SUM
										    : NONE;
		blank[c] = kind[c] == NONE;
		if (k->rank_by && strcmp(k->rank_by, col->name) == 0 && kind[c] == SUM)
			rank = (int)c;
	}
	ASSERT(!k->top || rank >= 0);
	/* the group columns of the inner query: keys in k->keys order, then the flags */
	size_t gcol[REPORT_COLS_MAX], ng = 0;
	for (size_t i = 0; i < nk; i++)
		for (size_t c = 0; c < src->ncols; c++)
			if (kind[c] == KEY && strcmp(src->cols[c].name, k->keys[i]) == 0)
				gcol[ng++] = c;
	for (size_t c = 0; c < src->ncols; c++)
		if (kind[c] == FLAG)
			gcol[ng++] = c;
	PUT("SELECT ");
	if (k->top) {
		/* outer: the ranked groups merged past top_n */
		for (size_t c = 0; c < src->ncols; c++) {
			if (kind[c] == KEY || kind[c] == FLAG)
				PUT("r.c%zu, ", c);
			else if (kind[c] == TOP)
				PUT("CASE WHEN count(*) = 1 THEN min(r.c%zu COLLATE \"C\") ELSE count(*) || ' %s' END, ", c,
				    k->others);
			else if (kind[c] == SUM)
				PUT("sum(r.c%zu), ", c);
			else
				PUT("NULL, ");
		}
		PUT("sum(r.n), sum(sum(r.n)) OVER () FROM (SELECT g.*, row_number() OVER (PARTITION BY ");
		for (size_t i = 0; i < ng; i++)
			PUT("%sg.c%zu", i ? ", " : "", gcol[i]);
		PUT(" ORDER BY abs(g.c%d) DESC NULLS LAST, ", rank);
		for (size_t c = 0; c < src->ncols; c++)
			if (kind[c] == TOP)
				PUT("g.c%zu COLLATE \"C\"", c);
		PUT(") AS rk FROM (SELECT ");
	}
	for (size_t c = 0; c < src->ncols; c++) {
		if (kind[c] == KEY || kind[c] == TOP)
			PUT("u.c%zu COLLATE \"C\" AS c%zu, ", c, c);
		else if (kind[c] == FLAG)
			PUT("CASE WHEN u.c%zu IS NULL OR u.c%zu = '' THEN NULL ELSE '%s' END AS c%zu, ", c, c,
			    k->flag_word, c);
		else if (kind[c] == SUM)
			PUT("sum(u.c%zu) AS c%zu, ", c, c);
		else
			PUT("NULL AS c%zu, ", c);
	}
	PUT(k->top ? "count(*) AS n" : "count(*), sum(count(*)) OVER ()");
	PUT(" FROM (%.*s) AS u(", (int)(order - src->sql), src->sql);
	for (size_t c = 0; c < src->ncols; c++)
		PUT("%sc%zu", c ? ", " : "", c);
	PUT(") GROUP BY ");
	/* GROUP BY and ORDER BY name the inner query's output columns (cN), which are the grouped
	 * expressions */
	for (size_t i = 0; i < ng; i++)
		PUT("%s%zu", i ? ", " : "", gcol[i] + 1);
	if (k->top) {
		for (size_t c = 0; c < src->ncols; c++)
			if (kind[c] == TOP)
				PUT(", %zu", c + 1);
		PUT(") AS g) AS r GROUP BY ");
		for (size_t i = 0; i < ng; i++)
			PUT("%s%zu", i ? ", " : "", gcol[i] + 1);
		PUT(", least(r.rk, %d) ORDER BY ", k->top_n + 1);
		for (size_t i = 0; i < ng; i++)
			PUT("%s%zu", i ? ", " : "", gcol[i] + 1);
		PUT(", least(r.rk, %d)", k->top_n + 1);
	} else {
		PUT(" ORDER BY ");
		for (size_t i = 0; i < ng; i++)
			PUT("%s%zu", i ? ", " : "", gcol[i] + 1);
	}
#undef PUT
	ASSERT(n < size);
	*g = *src;
	g->sql = sql;
	ASSERT(src->ncols + 2 <= REPORT_COLS_MAX);
	g->cols[g->ncols++] = (struct report_column){ "rows", REPORT_INT, -1 };
	g->cols[g->ncols++] = (struct report_column){ "rows_listed", REPORT_INT, -1 };
	return 0;
}

/* "65,142" */
static void xlsx_grouped_digits(int64_t v, char *out, size_t size)
{
	char d[24];
	int k = snprintf(d, sizeof d, "%" PRId64, v);
	size_t o = 0;
	for (int i = 0; i < k && o + 2 < size; i++) {
		if (i > 0 && (k - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = d[i];
	}
	out[o] = '\0';
}

/* When listing si has a collapse and more rows than workbook_detail_rows, opens its grouped
 * cursor and turns the sheet into subtotals (*cur open, *first = 1 with the first row in *v);
 * else leaves everything as it was (*cur NULL). */
static int xlsx_collapse_open(struct xlsx_writer *w, struct xlsx_sheet *s, struct report_cursor **cur,
			      const char *const **v, struct err *e)
{
	const struct xlsx_collapse *k = xlsx_collapse_of(s->l->sheet_name);
	*cur = NULL;
	if (k == NULL || w->in->detail_rows <= 0)
		return 0;
	unsigned char src_blank[REPORT_COLS_MAX];
	if (xlsx_grouped_init(s->src, k, &s->grouped, src_blank, e) < 0)
		return -1;
	int rc = report_cursor_open(w->db, &s->grouped, w->in->run_id, w->in->period, cur, e);
	free((char *)s->grouped.sql); /* the server has it now */
	s->grouped.sql = NULL;
	if (rc < 0)
		return -1;
	rc = report_cursor_next(*cur, v, e);
	int64_t listed = 0;
	size_t nc = s->src->ncols;
	if (rc == 1 && ((*v)[nc + 1] == NULL || xlsx_parse_int64((*v)[nc + 1], &listed) < 0))
		rc = err_set(e, EXIT_FAILED, "bad row count");
	/* a sheet of long rows lists a tenth of them (rounded up: a threshold of 4 stays >= 1) */
	int64_t limit = (w->in->detail_rows + k->div - 1) / k->div;
	if (rc < 0 || listed <= limit) {
		report_cursor_close(*cur);
		*cur = NULL;
		return rc < 0 ? -1 : 0;
	}
	s->collapsed = 1;
	s->listed = listed;
	for (size_t c = 0; c < s->view.ncols; c++) /* a name column is as empty as its account's */
		s->blank[c] = src_blank[s->from[c] >= 0 ? s->from[c] : s->name_of[c]];
	ASSERT(s->view.ncols + 2 <= REPORT_COLS_MAX); /* the Rows column, and Exceptions' Status */
	s->rows_col = (int)s->view.ncols;
	s->from[s->view.ncols] = (int)nc;
	s->name_of[s->view.ncols] = -1;
	s->view.cols[s->view.ncols++] = (struct report_column){ "rows", REPORT_INT, -1 };
	char n1[32], n2[32];
	xlsx_grouped_digits(listed, n1, sizeof n1);
	xlsx_grouped_digits(limit, n2, sizeof n2);
	const char *csv = s->src->csv_name;
	if (csv)
		snprintf(s->note, sizeof s->note,
			 "%s rows: see %s, which is complete. Shown here: one subtotal per %s, with the rows "
			 "it stands for (%s lists its rows up to %s, %sworkbook_detail_rows).",
			 n1, csv, k->per, k->div > 1 ? "this sheet" : "a sheet", n2,
			 k->div > 1 ? "a tenth of the setting, as its rows print long: " : "setting ");
	else
		snprintf(s->note, sizeof s->note,
			 "%s rows: shown here as one subtotal per %s, with the rows it stands for (a sheet lists "
			 "its rows up to %s, setting workbook_detail_rows; this sheet has no CSV file: a report "
			 "with a larger workbook_detail_rows lists every row).",
			 n1, k->per, n2);
	/* every printed page says it too */
	if (csv)
		snprintf(s->footer, sizeof s->footer, "Subtotals of %s rows: %s has every row", n1, csv);
	else
		snprintf(s->footer, sizeof s->footer, "Subtotals of %s rows (workbook_detail_rows)", n1);
	return 1;
}

/* Streams listing number si into its sheet(s). */
int xlsx_sheet_write(struct xlsx_writer *w, size_t si, struct err *e)
{
	struct xlsx_sheet *s = &w->sheets[si];
	struct report_cursor *cur = NULL;
	const char *const *v;
	int rc;
	const char *row[REPORT_COLS_MAX];
	int first = xlsx_collapse_open(w, s, &cur, &v, e);
	if (first < 0 || xlsx_part_new(w, s, e) < 0 ||
	    (cur == NULL && report_cursor_open(w->db, s->src, w->in->run_id, w->in->period, &cur, e) < 0))
		goto fail;
	while ((rc = first ? 1 : report_cursor_next(cur, &v, e)) == 1) {
		first = 0;
		if (s->collapsed && (v[s->src->ncols] == NULL || xlsx_parse_int64(v[s->src->ncols], &s->weight) < 0)) {
			err_set(e, EXIT_FAILED, "bad row count");
			goto fail;
		}
		xlsx_view_row(w, s, v, row);
		v = row;
		struct xlsx_part *p = &s->parts[s->parts_n - 1];
		if (p->rows_n + XLSX_TOP_ROWS >= w->rows_max) {
			if (xlsx_part_end(s, e) < 0 || xlsx_part_new(w, s, e) < 0)
				goto fail;
			p = &s->parts[s->parts_n - 1];
		}
		if (xlsx_row_height(s, p, p->rows_n + XLSX_TOP_ROWS, v, e) < 0)
			goto fail;
		for (size_t c = 0; c < s->l->ncols; c++)
			if (xlsx_cell(w, s, p, p->rows_n + XLSX_TOP_ROWS, c, v, e) < 0)
				goto fail;
		if (s->status_col >= 0 && xlsx_sub_add(s, v, e) < 0)
			goto fail;
		if (s->code_col >= 0) {
			const char *st = xlsx_exception_status(v[s->code_col]);
			lxw_error le = xlsx_write_text(p->ws, p->rows_n + XLSX_TOP_ROWS, (unsigned)s->l->ncols, st,
						       w->fmt.text);
			xlsx_widen(&s->width[s->l->ncols], strlen(st) + 2);
			if (le != LXW_NO_ERROR) {
				xlsx_fail(e, le, "a cell");
				goto fail;
			}
		}
		p->rows_n++;
		s->rows_n++;
		int cc = xlsx_count_col(s->l);
		struct xlsx_total *t = cc >= 0 ? xlsx_total_of(s, v[cc], e) : NULL;
		if ((cc >= 0 && t == NULL) || xlsx_track(w, si, v, e) < 0)
			goto fail;
		if (t)
			t->rows_n += s->weight;
	}
	if (rc < 0)
		goto fail;
	report_cursor_close(cur);
	cur = NULL;
	if (((int)si == w->roles.payouts && xlsx_parties_flush(&w->parties, e) < 0) ||
	    xlsx_part_end(s, e) < 0 || xlsx_totals(w, s, e) < 0 || xlsx_widths(s, e) < 0)
		goto fail;
	return 0;
fail:
	report_cursor_close(cur);
	return err_prefix(e, "sheet \"%s\"", s->l->sheet_name);
}
