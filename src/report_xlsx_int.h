/* report_xlsx_int.h — what the files of the workbook writer (report_xlsx*.c) share: its limits,
 * the writer's state while a workbook is written, and the helpers one file defines and another
 * uses. Private to the writer; its contract is include/report_xlsx.h, what a reader sees is
 * docs/workbook.md.
 */
#ifndef SETTLE_REPORT_XLSX_INT_H
#define SETTLE_REPORT_XLSX_INT_H

#include <stddef.h>
#include <stdint.h>

#include <xlsxwriter.h>

#include "db.h"
#include "err.h"
#include "report_listing.h"
#include "report_xlsx.h"

/* Rows of one sheet, the header included: Excel's maximum. A listing with more data rows goes on
 * "Name (2)", "Name (3)", ... */
#define XLSX_ROWS_MAX ((uint32_t)LXW_ROW_MAX)
/* Test hook: SETTLE_XLSX_MAX_ROWS lowers the rows per sheet (XLSX_ROWS_MIN..XLSX_ROWS_MAX), so
 * that tests can exercise the continuation sheets with a few rows. Not a user setting. */
#define XLSX_ROWS_ENV "SETTLE_XLSX_MAX_ROWS"
#define XLSX_ROWS_MIN 8
#define XLSX_PARTS_MAX 32          /* sheets per listing: 32 × 1048575 data rows at most */
#define XLSX_SHEETS_MAX 32         /* listings with a sheet */
#define XLSX_KEYS_MAX 32           /* distinct currency values in one listing */
#define XLSX_KEY_MAX 16            /* bytes of a currency value, with the NUL */
#define XLSX_LABEL_MAX 256         /* bytes of a tallied text (code, bucket, party), with the NUL */
#define XLSX_TALLY_MAX 512         /* distinct (label, currency) pairs in one tally */
#define XLSX_TOP_PARTIES 10        /* bars per payout chart; the rest is one "others" bar */
#define XLSX_AGING_CURRENCIES 8    /* amount columns in the Summary's aging block */
#define XLSX_SUBS_MAX 128          /* (currency, status) subtotals of one listing */
#define XLSX_BRIDGE_ROWS_MAX 64    /* steps of one currency's bridge */
#define XLSX_BREAKS_MAX 80         /* page breaks of the Summary (two per currency, then one) */
/* A listing sheet: row 0 the title (what the sheet answers, period, as-of), row 1 a note, row 2
 * the header; data from row 3 (A1: row 4). */
#define XLSX_HEAD_ROW 2
#define XLSX_TOP_ROWS 3
#define XLSX_FIRST_ROW (XLSX_TOP_ROWS + 1) /* the first data row in A1 numbering */
/* Printing: a sheet whose columns add up to more characters than this is printed landscape;
 * up to XLSX_FIT_CHARS it is scaled to one page wide (to about 65 %, 7 points), wider it is not
 * scaled (an unreadable page is worse than two). */
#define XLSX_PORTRAIT_CHARS 95
#define XLSX_FIT_CHARS 215
#define XLSX_SENTENCE_FIT_CHARS 165 /* Exceptions, Rejected: fitted only down to about 75 % */
#define XLSX_LANDSCAPE_CHARS 125   /* column width (characters, padding included) that a landscape
				    * A4 page prints at 100 %, with a margin for the renderer's rounding */
#define XLSX_ID_CHARS 45           /* at most this width of id columns repeats on every printed page */
#define XLSX_SENTENCE_CHARS 300    /* a detail or note longer than this is cut in the sheet (the CSV
				    * keeps it whole) and wraps in its column */
#define XLSX_LINE_CHARS 58         /* characters of a sentence per wrapped line (column width 60) */
#define XLSX_QTY_DECIMALS_MAX 15   /* decimals of a quantity format (report_parse_decimal's digits) */
#define XLSX_SCALE_MIN 65          /* the smallest print scale that stays legible (7 points) */
#define XLSX_CHART_ROWS 16         /* rows a chart covers at its default size (480 × 288 px) */
#define XLSX_FORMULA_MAX 8192      /* Excel's limit on the length of a formula */
#define XLSX_LITERAL_MAX 255       /* Excel's limit on a string literal in a formula */
#define XLSX_STRING_MAX 32767      /* Excel's limit on the characters of a cell */
#define XLSX_WIDTH_MIN 8
#define XLSX_WIDTH_MAX 60
#define XLSX_SUMMARY_COLS 32       /* Summary columns whose widths are tracked */
#define XLSX_MINOR_UNKNOWN 7       /* format slot for a currency settle does not know (or NULL) */
#define XLSX_MEASURES_N 4 /* xlsx_measures[] (report_xlsx_summary.c) */

struct xlsx_formats {
	lxw_format *title, *header, *bold, *note, *date, *count, *decimal, *link, *section, *check;
	lxw_format *text, *header_num; /* text indented from the number before it; numbers' headers right */
	lxw_format *money[XLSX_MINOR_UNKNOWN + 1];      /* by minor units; [7] unknown currency */
	lxw_format *money_bold[XLSX_MINOR_UNKNOWN + 1]; /* the same, for totals */
	lxw_format *price[XLSX_MINOR_UNKNOWN + 1];      /* unit prices: every digit, up to 6 */
	lxw_format *qty[XLSX_QTY_DECIMALS_MAX + 1];     /* quantities with k decimals: #,##0.000 */
	lxw_format *wrap;                               /* sentences: indented, wrapped */
};

/* One currency value of a listing (NULL is its own key): its rows and exact sums per money
 * column. */
struct xlsx_total {
	char cur[XLSX_KEY_MAX];
	int is_null;
	int64_t rows_n;
	int64_t sum_micros[REPORT_COLS_MAX];
};

/* Subtotals of one (currency, status) pair of a listing with a "status" column. */
struct xlsx_sub {
	char cur[XLSX_KEY_MAX];
	char status[XLSX_LABEL_MAX];
	int is_null;
	int64_t rows_n;
	int64_t sum_micros[REPORT_COLS_MAX];
};

/* One worksheet of a listing: data rows are rows XLSX_FIRST_ROW .. rows_n + XLSX_TOP_ROWS (A1
 * numbering). */
struct xlsx_part {
	lxw_worksheet *ws;
	char name[LXW_SHEETNAME_MAX * 4 + 1];
	uint32_t rows_n;
};

struct xlsx_sheet {
	const struct report_listing *l;    /* the sheet's columns: &view */
	const struct report_listing *src;  /* the listing (report_listing.h: the CSV's columns) the cursor reads */
	struct report_listing view;        /* src's columns, with an account name beside each account id
					    * when the account feed names any party (xlsx_view_init) */
	int from[REPORT_COLS_MAX];         /* view column -> src column; a name column: -1 */
	int name_of[REPORT_COLS_MAX];      /* view column: the src account column it names; -1 */
	struct xlsx_part parts[XLSX_PARTS_MAX];
	size_t parts_n;
	int64_t rows_n;                    /* data rows over all parts */
	unsigned width[REPORT_COLS_MAX];   /* widest cell seen, in characters */
	struct xlsx_total totals[XLSX_KEYS_MAX];
	size_t totals_n;
	int status_col;                    /* a "status" text column: subtotals per status; -1 */
	int code_col;                      /* Exceptions' "code": a sheet-only Status column after
					    * the listing's (xlsx_exception_status); -1 */
	struct xlsx_sub subs[XLSX_SUBS_MAX];
	size_t subs_n;
	/* A long listing shown as its subtotals (docs/workbook.md "Long detail sheets"): the rows
	 * of grouped (src's columns, each key or a sum or NULL, then the rows of the group and the
	 * rows of the listing) stand for `listed` rows of src; rows_col is the sheet's "Rows"
	 * column, which the counts of the Summary sum instead of counting cells. */
	int collapsed;
	int64_t listed;                    /* rows of the listing (the CSV's rows) */
	int rows_col;                      /* view column of the group's rows; -1 */
	int64_t weight;                    /* rows the current sheet row stands for: 1, or its group's */
	struct report_listing grouped;
	unsigned char blank[REPORT_COLS_MAX]; /* view columns empty in every subtotal: hidden */
	char note[512];                    /* what the sheet shows instead of the rows */
	char footer[200];
};

/* Counts and sums by (label, currency): exception codes, aging buckets. */
struct xlsx_tally_entry {
	char label[XLSX_LABEL_MAX];
	char cur[XLSX_KEY_MAX];
	int64_t n;
	int64_t sum_micros;
};
struct xlsx_tally {
	struct xlsx_tally_entry e[XLSX_TALLY_MAX];
	size_t n;
};

/* The largest net payables of one currency, kept while the Payouts listing streams. */
struct xlsx_party {
	char account[XLSX_LABEL_MAX];
	int64_t payable_micros;
};
struct xlsx_top {
	char cur[XLSX_KEY_MAX];
	struct xlsx_party top[XLSX_TOP_PARTIES]; /* sorted: |payable| descending, then account */
	size_t top_n;
	int64_t parties_n;
	int64_t total_micros;
};
struct xlsx_parties {
	struct xlsx_top cur[XLSX_KEYS_MAX];
	size_t cur_n;
	/* The account being summed: the Payouts listing is sorted by account first (SPEC §8), so
	 * an account's rows (one per role and currency) are consecutive. */
	char account[XLSX_LABEL_MAX];
	int account_set;
	int64_t acc_micros[XLSX_KEYS_MAX];
	int acc_used[XLSX_KEYS_MAX];
	char acc_cur[XLSX_KEYS_MAX][XLSX_KEY_MAX];
	size_t acc_n;
};

/* Where the Summary finds its inputs: sheet indexes and column indexes, -1 when absent. */
struct xlsx_roles {
	int alloc, payouts, exceptions, aging, insights, groups, disb;
	int cg_billed, cg_xtax, cg_revenue, cg_cogs, cg_fee, cg_stax, cg_net, cg_allocated;
	/* the "still owed" block's columns of Charge groups (all present, or cg_owed = -1) */
	int cg_owed, cg_paid, cg_other, cg_rem, cg_out;
	int aging_status;
	int disb_amount, disb_status, disb_diff, disb_deposit;
	int alloc_measure[XLSX_MEASURES_N], pay_measure[XLSX_MEASURES_N];
	int pay_party, pay_net, pay_rounding, pay_payable;
	int exc_code;
	int aging_bucket, aging_amount;
	int ins_status;
};

struct xlsx_writer {
	lxw_workbook *wb;
	struct db *db;
	const struct report_xlsx_input *in;
	uint32_t rows_max;
	struct xlsx_formats fmt;
	lxw_worksheet *summary;
	const struct report_listing *summary_listing; /* the listing whose sheet_name is "Summary" */
	struct xlsx_sheet sheets[XLSX_SHEETS_MAX];
	size_t sheets_n;
	struct xlsx_roles roles;
	struct xlsx_tally codes;  /* exception code -> count */
	struct xlsx_tally aging;  /* (bucket, currency) -> count, Σ amount */
	struct xlsx_tally bridge; /* (XLSX_T_*, currency) -> count, Σ: the bridge's two-criteria sums */
	struct xlsx_parties parties;
	int64_t ins_anomalous;    /* Insights rows with status ANOMALY */
	/* Summary cursor and widths; the next free row of the insight charts sheet */
	uint32_t srow;
	uint32_t crow;
	unsigned swidth[XLSX_SUMMARY_COLS];
	/* the bridge's formulas over its own cells: amount, count and check of each step */
	char br_exprs[XLSX_BRIDGE_ROWS_MAX][3][XLSX_FORMULA_MAX];
	lxw_row_t breaks[XLSX_BREAKS_MAX]; /* the Summary's page breaks, 0-terminated */
	size_t breaks_n;
	/* The order currencies are listed in, everywhere in the workbook (xlsx_order_load): by the
	 * period's charge groups, most first, then code in byte order; a currency without charge
	 * groups comes after them, by code (xlsx_cur_cmp). */
	char cur_order[XLSX_KEYS_MAX][XLSX_KEY_MAX];
	size_t cur_order_n;
	PGresult *names;          /* (account id, legal name) of the period's parties, sorted by id
				   * in byte order (xlsx_names_load); NULL or no rows: no name columns */
};

struct xlsx_fb {
	char s[XLSX_FORMULA_MAX];
	size_t n;
	int full;
};

struct xlsx_crit {
	int col;
	const char *value; /* NULL: blank cells */
	const char *op;    /* NULL: "=" (equal); "<>": not equal (with NULL: non-blank cells) */
};

/* The status a listing total leaves out: a failed payout was not paid (SPEC §4.5). Labels of
 * w->bridge: the B + F + T of allocated groups, the payouts matched to a deposit. */
#define XLSX_EXCLUDED_STATUS "FAILED"
/* The rows of Disbursements that are no payout at all: a DISBURSEMENT_FAILURE's own row (SPEC §8,
 * one row per failure). Left out of every payout total and count, like a failed payout. */
#define XLSX_FAILURE_STATUS "FAILURE"
#define XLSX_T_BFT "allocated B+F+T"
#define XLSX_T_DEPOSITED "deposited"
#define XLSX_T_OWED_YES "owed, allocated"     /* Charge groups owed, allocated = yes */
#define XLSX_T_OWED_NO "owed, not allocated"  /* ... allocated = no */
#define XLSX_T_OUT_NO "outstanding, not allocated"
#define XLSX_T_STATUS "aged " /* + an Aging disbursement status: its remainder and rows */

/* report_xlsx_cells.c: the bottom of the writer, called by every other file */
int xlsx_fail(struct err *e, lxw_error le, const char *what);
size_t xlsx_chars(const char *s);
void xlsx_widen(unsigned *width, size_t chars);
int xlsx_parse_int64(const char *s, int64_t *out);
int xlsx_parse_date(const char *s, double *serial);
int xlsx_minor(const char *cur);
size_t xlsx_money_chars(int64_t micros, int minor);
size_t xlsx_price_chars(int64_t micros, int minor);
size_t xlsx_decimal_chars(const char *text);
size_t xlsx_quantity_chars(const char *text);
int xlsx_is_quantity(const char *name);
int xlsx_is_sentence(const char *name);
lxw_error xlsx_write_text_cut(lxw_worksheet *ws, uint32_t row, unsigned col, const char *text, lxw_format *f,
			      size_t chars_max);
void xlsx_col_name(unsigned col, char out[4]);
const char *xlsx_label(const char *name, char *out, size_t size);
void fb_range(struct xlsx_fb *f, const char *sheet, unsigned col, uint32_t row_first, uint32_t row_last);
void fb_cell(struct xlsx_fb *f, unsigned col, uint32_t row0);
int fb_aggregate(struct xlsx_fb *f, const struct xlsx_sheet *s, int sum_col,
		 const struct xlsx_crit *crit, size_t crit_n);
__attribute__((format(printf, 2, 3))) void fb_put(struct xlsx_fb *f, const char *fmt, ...);
int xlsx_count_col(const struct report_listing *l);
lxw_error xlsx_write_text(lxw_worksheet *ws, uint32_t row, unsigned col, const char *text, lxw_format *f);
int xlsx_cur_cmp(const struct xlsx_writer *w, const char *a, const char *b);
int xlsx_cur_qsort_cmp(const void *a, const void *b, void *w);
const struct xlsx_sub *xlsx_sub_of(const struct xlsx_sheet *s, const struct xlsx_total *t,
				   const char *status);

/* report_xlsx_sheet.c */
int xlsx_names_load(struct xlsx_writer *w, struct err *e);
int xlsx_order_load(struct xlsx_writer *w, struct err *e);
const char *xlsx_name_of(const struct xlsx_writer *w, const char *id);
void xlsx_view_init(const struct xlsx_writer *w, struct xlsx_sheet *s, const struct report_listing *src);
void xlsx_check_listing(const struct report_listing *l);
void xlsx_sheet_title(const struct xlsx_writer *w, const char *sheet, const char *question, char *out,
		      size_t size);
lxw_error xlsx_page_header(const struct xlsx_writer *w, lxw_worksheet *ws);
lxw_error xlsx_page_header_note(const struct xlsx_writer *w, lxw_worksheet *ws, const char *footer);
void xlsx_print_setup(lxw_worksheet *ws, const char *sheet, unsigned chars);
int xlsx_sheet_write(struct xlsx_writer *w, size_t si, struct err *e);

/* report_xlsx_summary.c */
int xlsx_parties_flush(struct xlsx_parties *ps, struct err *e);
int xlsx_track(struct xlsx_writer *w, size_t si, const char *const *v, struct err *e);
int xlsx_sheet_by_name(const struct xlsx_writer *w, const char *name);
void xlsx_roles_find(struct xlsx_writer *w);
int sum_text(struct xlsx_writer *w, uint32_t row, unsigned col, const char *text,
	     lxw_format *f, int widen, struct err *e);
int sum_number(struct xlsx_writer *w, uint32_t row, unsigned col, double value, lxw_format *f, struct err *e);
int sum_formula(struct xlsx_writer *w, uint32_t row, unsigned col, const struct xlsx_fb *f,
		lxw_format *fmt, double cached, size_t chars, struct err *e);
int sum_header(struct xlsx_writer *w, const char *const *names, size_t n, struct err *e);
int sum_title(struct xlsx_writer *w, const char *title, struct err *e);
const struct xlsx_total *xlsx_sheet_total(const struct xlsx_sheet *s, const char *cur);
int64_t xlsx_sheet_sum(const struct xlsx_sheet *s, int col, const char *cur);
size_t xlsx_currencies(const struct xlsx_writer *w, int a, int b, char out[][XLSX_KEY_MAX], size_t max);
int sum_control(struct xlsx_writer *w, struct err *e);
int sum_listing(struct xlsx_writer *w, struct err *e);
int sum_counts(struct xlsx_writer *w, struct err *e);
int sum_codes(struct xlsx_writer *w, struct err *e);
int64_t xlsx_tally_get(const struct xlsx_tally *t, const char *label, const char *cur, int count);
int sum_insights(struct xlsx_writer *w, struct err *e);

/* report_xlsx_bridge.c */
int sum_write(struct xlsx_writer *w, struct err *e);

/* report_xlsx_charts.c */
lxw_chart *xlsx_chart_new(struct xlsx_writer *w, uint8_t type, const char *title, struct err *e);
int xlsx_charts_write(struct xlsx_writer *w, struct err *e);
int xlsx_meter_days(struct xlsx_writer *w, struct err *e);

#endif
