/* report_xlsx_restatement.c — the Restatement sheet (see report_xlsx_restatement.h). */
#include "report_xlsx_restatement.h"

#include <stdio.h>
#include <string.h>

#include "money.h"
#include "report_listing.h"
#include "timeutil.h"

#define RST_FIRST_ROW 3 /* title, blank, header */

static int rst_fail(struct err *e, lxw_error le)
{
	return err_set(e, EXIT_FAILED, "Restatement sheet: %s", lxw_strerror(le));
}

/* "#,##0.00" for 2 minor units; counts get "0". */
static lxw_format *rst_money_format(lxw_workbook *wb, lxw_format *cache[7], int minor)
{
	if (minor < 0 || minor > 6)
		minor = 6;
	if (!cache[minor]) {
		char f[24] = "#,##0";
		if (minor > 0) {
			strcat(f, ".");
			for (int i = 0; i < minor; i++)
				strcat(f, "0");
		}
		cache[minor] = workbook_add_format(wb);
		format_set_num_format(cache[minor], f);
	}
	return cache[minor];
}

int report_xlsx_restatement(lxw_workbook *wb, const char *period, int64_t as_of_us, const struct close_view *cv,
			    struct err *e)
{
	lxw_worksheet *ws = workbook_add_worksheet(wb, "Restatement");
	if (!ws)
		return err_set(e, EXIT_FAILED, "Restatement sheet: could not add it");
	lxw_format *bold = workbook_add_format(wb), *count = workbook_add_format(wb);
	lxw_format *money[7] = { 0 };
	format_set_bold(bold);
	format_set_num_format(count, "0");
	char closed_t[32], now_t[32], title[160];
	time_format(cv->close_as_of_us, closed_t);
	time_format(as_of_us, now_t);
	snprintf(title, sizeof title, "Restatement of %s: as closed (as of %s) and as known now (as of %s)", period,
		 closed_t, now_t);
	lxw_error le = worksheet_write_string(ws, 0, 0, title, bold);
	static const char *const head[] = { "Currency", "Measure", "Closed", "Now", "Difference" };
	for (int c = 0; le == LXW_NO_ERROR && c < 5; c++)
		le = worksheet_write_string(ws, 2, (lxw_col_t)c, head[c], bold);
	for (size_t i = 0; le == LXW_NO_ERROR && i < cv->n; i++) {
		const struct close_measure *m = &cv->v[i];
		lxw_row_t row = (lxw_row_t)(RST_FIRST_ROW + i);
		int is_count = strcmp(m->measure, "exceptions") == 0;
		lxw_format *f = is_count ? count
					 : rst_money_format(wb, money, report_minor_units(m->currency[0] ? m->currency : NULL));
		char words[16], formula[48];
		snprintf(words, sizeof words, "%s", m->measure);
		for (char *p = words; *p; p++)
			if (*p == '_')
				*p = ' ';
		int64_t d;
		if (money_sub(m->now, m->closed, &d) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "Restatement sheet: %s %s: the difference overflows", m->currency,
				       m->measure);
		double cd = is_count ? (double)m->closed : money_to_double_for_stats(m->closed);
		double nd = is_count ? (double)m->now : money_to_double_for_stats(m->now);
		double dd = is_count ? (double)d : money_to_double_for_stats(d);
		snprintf(formula, sizeof formula, "=D%u-C%u", (unsigned)row + 1, (unsigned)row + 1);
		le = worksheet_write_string(ws, row, 0, m->currency, NULL);
		if (le == LXW_NO_ERROR)
			le = worksheet_write_string(ws, row, 1, words, NULL);
		if (le == LXW_NO_ERROR)
			le = worksheet_write_number(ws, row, 2, cd, f);
		if (le == LXW_NO_ERROR)
			le = worksheet_write_number(ws, row, 3, nd, f);
		if (le == LXW_NO_ERROR)
			le = worksheet_write_formula_num(ws, row, 4, formula, f, dd);
	}
	if (le != LXW_NO_ERROR)
		return rst_fail(e, le);
	worksheet_set_column(ws, 0, 0, 10, NULL);
	worksheet_set_column(ws, 1, 1, 14, NULL);
	worksheet_set_column(ws, 2, 4, 18, NULL);
	worksheet_freeze_panes(ws, RST_FIRST_ROW, 0);
	char header[128];
	snprintf(header, sizeof header, "&LRestatement %s&Ras of %s", period, now_t);
	worksheet_set_header(ws, header);
	return 0;
}
