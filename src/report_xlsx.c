/* report_xlsx.c — the accountants' workbook settle-YYYY-MM.xlsx (SPEC §8), with libxlsxwriter in
 * constant-memory mode. docs/workbook.md describes what a reader of the workbook sees; this file
 * says how it is produced.
 *
 * Shape of a write. The Summary sheet is added first (so it is the first tab) but written last:
 * every listing of report_listings[] that has a sheet_name is streamed, row by row and in order,
 * into its sheet (constant-memory mode flushes each row to a temporary file as soon as the next
 * one starts), and while streaming we keep what the Summary needs: exact int64 sums per currency
 * and money column, counts, the exception codes, the aging buckets, and the largest payouts per
 * currency. Nothing holds a whole listing in memory; everything kept has a fixed limit (XLSX_*).
 * After the listings comes the "Insight charts" sheet (issue 6): its charts reference ranges, so
 * their data (the payment timing histograms, the usage of the most anomalous series) is written
 * there as blocks of cells, top to bottom as constant-memory mode requires.
 *
 * Money. A REPORT_MONEY value is bigint micros as decimal text. The cell holds
 * money_to_double_for_stats(micros) — the one door from exact money to floating point — with the
 * number format of the row's currency (USD "#,##0.00", JPY "#,##0", KWD "#,##0.000"). Totals are
 * live formulas (SUM, or SUMIFS per currency when a sheet mixes currencies) whose cached value is
 * the exact checked int64 sum, converted once. An IEEE double is exact only to 2^53 micros
 * (about 9.0e9 units); the CSV files are the exact record.
 *
 * Text is always written with worksheet_write_string, never as a formula, whatever it starts with.
 *
 * Determinism (SPEC §6): the only inputs are the database rows, the run input and SETTLE_VERSION;
 * the document's created/modified dates are the run's as-of (libxlsxwriter 1.1.4 stamps every zip
 * entry 1980-01-01 00:00 and writes the core dates in UTC), so two writes give the same bytes.
 */
#include "report_xlsx.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "currency.h"
#include "money.h"
#include "report.h"
#include "report_restatement.h"
#include "timeutil.h"

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
#define XLSX_TOP_PARTIES 15        /* bars per payout chart; the rest is one "Other" bar */
#define XLSX_CHART_CURRENCIES 4    /* payout charts (one per currency, byte order) */
#define XLSX_AGING_CURRENCIES 8    /* amount columns in the Summary's aging block */
#define XLSX_CHART_ROWS 16         /* rows a chart covers at its default size (480 × 288 px) */
#define XLSX_FORMULA_MAX 8192      /* Excel's limit on the length of a formula */
#define XLSX_LITERAL_MAX 255       /* Excel's limit on a string literal in a formula */
#define XLSX_STRING_MAX 32767      /* Excel's limit on the characters of a cell */
#define XLSX_WIDTH_MIN 8
#define XLSX_WIDTH_MAX 60
#define XLSX_SUMMARY_COLS 32       /* Summary columns whose widths are tracked */
#define XLSX_MINOR_UNKNOWN 7       /* format slot for a currency settle does not know (or NULL) */

/* Aging buckets in the order of SPEC §4.8 (the labels of settle.aging.bucket). */
static const char *const xlsx_buckets[] = { "0-30", "31-60", "61-90", "91-120", "over 120" };
#define XLSX_BUCKETS_N (sizeof xlsx_buckets / sizeof xlsx_buckets[0])

/* The columns of the control totals (SPEC §4.3: Σ over parties = B + F + T, and §4.4: payout
 * statements are sums of allocations), matched by name in Allocations and Payouts. */
static const char *const xlsx_measures[] = { "revenue", "listing_fee", "seller_tax", "net" };
#define XLSX_MEASURES_N (sizeof xlsx_measures / sizeof xlsx_measures[0])

struct xlsx_formats {
	lxw_format *title, *header, *bold, *note, *date, *count, *decimal;
	lxw_format *money[XLSX_MINOR_UNKNOWN + 1];      /* by minor units; [7] unknown currency */
	lxw_format *money_bold[XLSX_MINOR_UNKNOWN + 1]; /* the same, for totals */
};

/* One currency value of a listing (NULL is its own key): its rows and exact sums per money
 * column. */
struct xlsx_total {
	char cur[XLSX_KEY_MAX];
	int is_null;
	int64_t rows_n;
	int64_t sum_micros[REPORT_COLS_MAX];
};

/* One worksheet of a listing: data rows are rows 2 .. rows_n + 1 (A1 numbering). */
struct xlsx_part {
	lxw_worksheet *ws;
	char name[LXW_SHEETNAME_MAX * 4 + 1];
	uint32_t rows_n;
};

struct xlsx_sheet {
	const struct report_listing *l;
	struct xlsx_part parts[XLSX_PARTS_MAX];
	size_t parts_n;
	int64_t rows_n;                    /* data rows over all parts */
	unsigned width[REPORT_COLS_MAX];   /* widest cell seen, in characters */
	struct xlsx_total totals[XLSX_KEYS_MAX];
	size_t totals_n;
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
	int alloc, payouts, exceptions, aging, insights;
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
	struct xlsx_parties parties;
	int64_t ins_anomalous;    /* Insights rows with status ANOMALY */
	/* Summary cursor and widths; the next free row of the insight charts sheet */
	uint32_t srow;
	uint32_t crow;
	unsigned swidth[XLSX_SUMMARY_COLS];
};

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 */

/* A libxlsxwriter error. Callers add the sheet ("sheet \"Payouts\": could not write a cell: ..."). */
static int xlsx_fail(struct err *e, lxw_error le, const char *what)
{
	return err_set(e, EXIT_FAILED, "could not write %s: %s", what, lxw_strerror(le));
}

/* Characters (code points) of UTF-8 text, for column widths. */
static size_t xlsx_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void xlsx_widen(unsigned *width, size_t chars)
{
	if (chars > XLSX_WIDTH_MAX)
		chars = XLSX_WIDTH_MAX;
	if (*width < chars)
		*width = (unsigned)chars;
}

/* Strict -?[0-9]{1,19} into int64, overflow-checked (the cursor's text of a bigint). */
static int xlsx_parse_int64(const char *s, int64_t *out)
{
	int neg = *s == '-';
	const char *p = s + neg;
	if (*p == '\0')
		return -1;
	int64_t v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		int d = *p - '0';
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_sub_overflow(v, d, &v))
			return -1; /* accumulated negatively so that INT64_MIN parses */
	}
	if (!neg && __builtin_mul_overflow(v, -1, &v))
		return -1;
	*out = v;
	return 0;
}

/* "YYYY-MM-DD" into an Excel date serial (1900 date system; 25569 = 1970-01-01). */
static int xlsx_parse_date(const char *s, double *serial)
{
	int64_t us;
	if (strlen(s) != 10 || time_parse(s, 10, &us) < 0)
		return -1;
	*serial = (double)time_day_of(us) + 25569.0;
	return 0;
}

/* Format slot of a currency value: its minor units, or XLSX_MINOR_UNKNOWN. */
static int xlsx_minor(const char *cur)
{
	if (cur == NULL)
		return XLSX_MINOR_UNKNOWN;
	int m = currency_minor_units(cur, strlen(cur));
	return m < 0 || m > 6 ? XLSX_MINOR_UNKNOWN : m;
}

/* Display width of an amount in the "#,##0.00" family: sign, digits, group separators and the
 * currency's decimals (an unknown currency shows up to 6). */
static size_t xlsx_money_chars(int64_t micros, int minor)
{
	char buf[MONEY_FORMAT_MAX];
	size_t len = money_format(micros, minor == XLSX_MINOR_UNKNOWN ? 2 : minor, buf);
	const char *dot = strchr(buf, '.');
	size_t int_digits = (dot ? (size_t)(dot - buf) : len) - (buf[0] == '-');
	size_t frac = minor == XLSX_MINOR_UNKNOWN ? (dot ? len - (size_t)(dot - buf) - 1 : 0) : (size_t)minor;
	return (buf[0] == '-') + int_digits + (int_digits - 1) / 3 + (frac ? frac + 1 : 0);
}

/* Display width of a REPORT_DECIMAL in the "0.0" format: sign, integer digits, one decimal. */
static size_t xlsx_decimal_chars(const char *text)
{
	size_t int_chars = strcspn(text, ".");
	return int_chars + 2;
}

/* Excel column letters (A .. XFD). */
static void xlsx_col_name(unsigned col, char out[4])
{
	char tmp[4];
	size_t n = 0;
	col++;
	while (col > 0 && n < 3) {
		tmp[n++] = (char)('A' + (col - 1) % 26);
		col = (col - 1) / 26;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

/* ---------------------------------------------------------------------------------------------
 * Formulas. Built in a fixed buffer; too long (Excel's limit) is reported, never truncated.
 */

struct xlsx_fb {
	char s[XLSX_FORMULA_MAX];
	size_t n;
	int full;
};

__attribute__((format(printf, 2, 3))) static void fb_put(struct xlsx_fb *f, const char *fmt, ...)
{
	if (f->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(f->s + f->n, sizeof f->s - f->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof f->s - f->n)
		f->full = 1;
	else
		f->n += (size_t)k;
}

/* 'Sheet name'!$C$2:$C$<last>, the quote doubled inside the name. */
static void fb_range(struct xlsx_fb *f, const char *sheet, unsigned col, uint32_t row_first,
		     uint32_t row_last)
{
	char c[4];
	xlsx_col_name(col, c);
	fb_put(f, "'");
	for (const char *p = sheet; *p; p++)
		fb_put(f, *p == '\'' ? "''" : "%c", *p);
	fb_put(f, "'!$%s$%" PRIu32 ":$%s$%" PRIu32, c, row_first, c, row_last);
}

static void fb_cell(struct xlsx_fb *f, unsigned col, uint32_t row0)
{
	char c[4];
	xlsx_col_name(col, c);
	fb_put(f, "%s%" PRIu32, c, row0 + 1);
}

/* A criterion that matches exactly value (NULL: blank cells): "=" + value with the wildcards
 * * ? ~ escaped by ~ and '"' doubled for the string literal. -1 when longer than Excel allows. */
static int fb_criterion(struct xlsx_fb *f, const char *value)
{
	char lit[XLSX_LITERAL_MAX + 1];
	size_t n = 0;
	lit[n++] = '=';
	for (const char *p = value ? value : ""; *p; p++) {
		if (n + 2 > XLSX_LITERAL_MAX)
			return -1;
		if (*p == '*' || *p == '?' || *p == '~')
			lit[n++] = '~';
		lit[n++] = *p;
	}
	lit[n] = '\0';
	fb_put(f, "\"");
	for (const char *p = lit; *p; p++)
		fb_put(f, *p == '"' ? "\"\"" : "%c", *p);
	fb_put(f, "\"");
	return 0;
}

struct xlsx_crit {
	int col;
	const char *value; /* NULL: blank cells */
};

/* Σ of column sum_col (or, when sum_col < 0, the count of rows) over the data rows of every part
 * of s whose crit columns equal the crit values: SUM(...) without criteria, else
 * SUMIFS(...)+SUMIFS(...) / COUNTIFS(...)+..., one term per part. An empty listing is 0. */
static int fb_aggregate(struct xlsx_fb *f, const struct xlsx_sheet *s, int sum_col,
			const struct xlsx_crit *crit, size_t crit_n)
{
	size_t used = 0;
	if (s->rows_n == 0) {
		fb_put(f, "0");
		return f->full ? -1 : 0;
	}
	for (size_t i = 0; i < s->parts_n; i++) {
		const struct xlsx_part *p = &s->parts[i];
		if (p->rows_n == 0)
			continue;
		uint32_t last = p->rows_n + 1;
		if (sum_col >= 0 && crit_n == 0) {
			fb_put(f, used ? "," : "SUM(");
			fb_range(f, p->name, (unsigned)sum_col, 2, last);
			used++;
			continue;
		}
		fb_put(f, "%s%s(", used ? "+" : "", sum_col >= 0 ? "SUMIFS" : "COUNTIFS");
		if (sum_col >= 0) {
			fb_range(f, p->name, (unsigned)sum_col, 2, last);
			fb_put(f, ",");
		}
		for (size_t k = 0; k < crit_n; k++) {
			fb_range(f, p->name, (unsigned)crit[k].col, 2, last);
			fb_put(f, ",");
			if (fb_criterion(f, crit[k].value) < 0)
				return -1;
			fb_put(f, k + 1 < crit_n ? "," : "");
		}
		fb_put(f, ")");
		used++;
	}
	if (sum_col >= 0 && crit_n == 0)
		fb_put(f, ")");
	return f->full ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Workbook set-up
 */

static lxw_format *xlsx_format(lxw_workbook *wb, const char *num_format, int bold)
{
	lxw_format *f = workbook_add_format(wb);
	if (f && num_format)
		format_set_num_format(f, num_format);
	if (f && bold)
		format_set_bold(f);
	return f;
}

/* All formats are created up front, in a fixed order, so styles.xml never depends on the data. */
static int xlsx_formats_init(struct xlsx_writer *w, struct err *e)
{
	struct xlsx_formats *x = &w->fmt;
	x->title = xlsx_format(w->wb, NULL, 1);
	if (x->title)
		format_set_font_size(x->title, 14);
	x->header = xlsx_format(w->wb, NULL, 1);
	if (x->header)
		format_set_bottom(x->header, LXW_BORDER_THIN);
	x->bold = xlsx_format(w->wb, NULL, 1);
	x->note = xlsx_format(w->wb, NULL, 0);
	if (x->note)
		format_set_italic(x->note);
	x->date = xlsx_format(w->wb, "yyyy-mm-dd", 0);
	x->count = xlsx_format(w->wb, "#,##0", 0);
	x->decimal = xlsx_format(w->wb, "0.0", 0); /* statistics: days, medians, scores (tenths) */
	int ok = x->title && x->header && x->bold && x->note && x->date && x->count && x->decimal;
	for (int m = 0; m <= XLSX_MINOR_UNKNOWN; m++) {
		char nf[32] = "#,##0";
		if (m == XLSX_MINOR_UNKNOWN)
			snprintf(nf, sizeof nf, "#,##0.00####"); /* 2 to 6 decimals: exact to the micro */
		else if (m > 0)
			snprintf(nf, sizeof nf, "#,##0.%.*s", m, "000000");
		x->money[m] = xlsx_format(w->wb, nf, 0);
		x->money_bold[m] = xlsx_format(w->wb, nf, 1);
		ok = ok && x->money[m] && x->money_bold[m];
	}
	return ok ? 0 : err_set(e, EXIT_FAILED, "out of memory");
}

/* SETTLE_XLSX_MAX_ROWS (test hook), else Excel's 1,048,576. */
static int xlsx_rows_max(uint32_t *out, struct err *e)
{
	const char *v = getenv(XLSX_ROWS_ENV);
	*out = XLSX_ROWS_MAX;
	if (v == NULL || *v == '\0')
		return 0;
	int64_t n;
	if (xlsx_parse_int64(v, &n) < 0 || n < XLSX_ROWS_MIN || n > (int64_t)XLSX_ROWS_MAX)
		return err_set(e, EXIT_USAGE, "%s must be an integer from %d to %" PRIu32 ", not \"%s\"",
			       XLSX_ROWS_ENV, XLSX_ROWS_MIN, XLSX_ROWS_MAX, v);
	*out = (uint32_t)n;
	return 0;
}

/* Title, subject, comments, custom properties and the created date = the run's as-of. */
static int xlsx_properties(struct xlsx_writer *w, struct err *e)
{
	const struct report_xlsx_input *in = w->in;
	char as_of[32], title[64], subject[96], comments[128], author[] = "settle";
	time_format(in->as_of_us, as_of);
	snprintf(title, sizeof title, "settle %s", in->period);
	snprintf(subject, sizeof subject, "Reconciliation of period %s", in->period);
	snprintf(comments, sizeof comments, "Period %s as of %s. The CSV files are the exact record.",
		 in->period, as_of);
	/* Whole seconds, floored. libxlsxwriter reads created == 0 as "now", so the epoch itself
	 * cannot be an as-of (none is: ingest instants are recent). */
	int64_t sec = in->as_of_us / 1000000 - (in->as_of_us % 1000000 < 0);
	if (sec == 0)
		return err_set(e, EXIT_FAILED, "as-of %s cannot be a workbook date", as_of);
	lxw_doc_properties p = { .title = title, .subject = subject, .author = author,
				 .comments = comments, .created = (time_t)sec };
	lxw_error le = workbook_set_properties(w->wb, &p);
	if (le == LXW_NO_ERROR)
		le = workbook_set_custom_property_string(w->wb, "settle period", in->period);
	if (le == LXW_NO_ERROR)
		le = workbook_set_custom_property_string(w->wb, "settle as-of", as_of);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the document properties");
}

/* ---------------------------------------------------------------------------------------------
 * Listing sheets
 */

/* The listing table is code: a money column must name a text column as its currency. */
static void xlsx_check_listing(const struct report_listing *l)
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

/* The currency column of the listing's first money column: rows are counted by its value. -1
 * when the listing has no money. */
static int xlsx_count_col(const struct report_listing *l)
{
	for (size_t c = 0; c < l->ncols; c++)
		if (l->cols[c].type == REPORT_MONEY)
			return l->cols[c].currency_col;
	return -1;
}

/* Adds the next worksheet of a listing ("Name", then "Name (2)", ...) with its header row, frozen
 * below the header. */
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
	for (size_t c = 0; c < l->ncols; c++) {
		le = worksheet_write_string(p->ws, 0, (lxw_col_t)c, l->cols[c].name, w->fmt.header);
		if (le != LXW_NO_ERROR)
			return xlsx_fail(e, le, "the header");
	}
	worksheet_freeze_panes(p->ws, 1, 0);
	/* Printed: landscape, one page wide, the header row on every page. */
	worksheet_set_landscape(p->ws);
	worksheet_fit_to_pages(p->ws, 1, 0);
	le = worksheet_repeat_rows(p->ws, 0, 0);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the print titles");
}

/* The autofilter covers the header and the data rows. In constant-memory mode it must be set
 * while the last data row is still the current one, i.e. before anything is written below it. */
static int xlsx_part_end(struct xlsx_sheet *s, struct err *e)
{
	struct xlsx_part *p = &s->parts[s->parts_n - 1];
	lxw_error le = worksheet_autofilter(p->ws, 0, 0, p->rows_n, (lxw_col_t)(s->l->ncols - 1));
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the autofilter");
}

/* Text longer than Excel's cell limit is cut at a character boundary and ends with "…". */
static lxw_error xlsx_write_text(lxw_worksheet *ws, uint32_t row, unsigned col, const char *text,
				 lxw_format *f)
{
	if (xlsx_chars(text) <= XLSX_STRING_MAX)
		return worksheet_write_string(ws, row, (lxw_col_t)col, text, f);
	size_t keep = 0, chars = 0;
	while (text[keep] && chars < XLSX_STRING_MAX - 1) {
		keep++;
		while (((unsigned char)text[keep] & 0xC0) == 0x80)
			keep++;
		chars++;
	}
	char *cut = malloc(keep + 4);
	if (cut == NULL)
		return LXW_ERROR_MEMORY_MALLOC_FAILED;
	memcpy(cut, text, keep);
	memcpy(cut + keep, "\xE2\x80\xA6", 4);
	lxw_error le = worksheet_write_string(ws, row, (lxw_col_t)col, cut, f);
	free(cut);
	return le;
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
		le = xlsx_write_text(p->ws, row, (unsigned)c, text, NULL);
		xlsx_widen(&s->width[c], xlsx_chars(text));
		break;
	case REPORT_MONEY: {
		const char *cur = v[col->currency_col];
		int minor = xlsx_minor(cur);
		if (xlsx_parse_int64(text, &n) < 0)
			goto bad;
		if (xlsx_total_add(s, c, cur, n, e) < 0)
			return -1;
		le = worksheet_write_number(p->ws, row, (lxw_col_t)c, money_to_double_for_stats(n),
					    w->fmt.money[minor]);
		xlsx_widen(&s->width[c], xlsx_money_chars(n, minor));
		break;
	}
	case REPORT_INT:
		if (xlsx_parse_int64(text, &n) < 0)
			goto bad;
		le = worksheet_write_number(p->ws, row, (lxw_col_t)c, (double)n, NULL);
		xlsx_widen(&s->width[c], strlen(text));
		break;
	case REPORT_DATE:
		if (xlsx_parse_date(text, &serial) < 0)
			goto bad;
		le = worksheet_write_number(p->ws, row, (lxw_col_t)c, serial, w->fmt.date);
		xlsx_widen(&s->width[c], 10);
		break;
	case REPORT_DECIMAL: /* a statistic, never money: the nearest double of the exact decimal */
		if (report_parse_decimal(text, &serial, e) < 0)
			return err_prefix(e, "column \"%s\"", col->name);
		le = worksheet_write_number(p->ws, row, (lxw_col_t)c, serial, w->fmt.decimal);
		xlsx_widen(&s->width[c], xlsx_decimal_chars(text));
		break;
	}
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a cell");
bad:
	return err_set(e, EXIT_FAILED, "column \"%s\": \"%s\" is not a valid value", col->name, text);
}

/* ---------------------------------------------------------------------------------------------
 * What the Summary keeps while listings stream
 */

static int xlsx_tally_add(struct xlsx_tally *t, const char *label, const char *cur, int64_t micros,
			  struct err *e)
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
	x->n++;
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

static int xlsx_parties_flush(struct xlsx_parties *ps, struct err *e)
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
static int xlsx_track(struct xlsx_writer *w, size_t si, const char *const *v, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	const struct report_listing *l = w->sheets[si].l;
	int64_t n = 0;
	if ((int)si == r->exceptions && r->exc_code >= 0)
		return xlsx_tally_add(&w->codes, v[r->exc_code], NULL, 0, e);
	if ((int)si == r->insights && r->ins_status >= 0) {
		if (v[r->ins_status] && strcmp(v[r->ins_status], "ANOMALY") == 0)
			w->ins_anomalous++;
		return 0;
	}
	if ((int)si == r->aging && r->aging_bucket >= 0) {
		const char *cur = NULL;
		if (r->aging_amount >= 0 && v[r->aging_amount]) {
			cur = v[l->cols[r->aging_amount].currency_col];
			if (xlsx_parse_int64(v[r->aging_amount], &n) < 0)
				return err_set(e, EXIT_FAILED, "bad amount \"%s\"", v[r->aging_amount]);
		}
		return xlsx_tally_add(&w->aging, v[r->aging_bucket], cur, n, e);
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
 * Totals under the money columns
 */

static int xlsx_total_cmp(const void *a, const void *b)
{
	const struct xlsx_total *x = a, *y = b;
	if (x->is_null != y->is_null)
		return x->is_null - y->is_null; /* the NULL currency last */
	return strcmp(x->cur, y->cur);
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
 * value. One currency: SUM over the column; several: SUMIFS on the column's currency column. */
static int xlsx_total_row(struct xlsx_writer *w, struct xlsx_sheet *s, struct xlsx_part *p,
			  uint32_t row, const struct xlsx_total *t, struct err *e)
{
	const struct report_listing *l = s->l;
	char label[64];
	snprintf(label, sizeof label, t->is_null ? "Total (no currency)" : "Total %s", t->cur);
	size_t lc = xlsx_label_col(l);
	lxw_error le = worksheet_write_string(p->ws, row, (lxw_col_t)lc, label, w->fmt.bold);
	int minor = xlsx_minor(t->is_null ? NULL : t->cur);
	for (size_t c = 0; c < l->ncols && le == LXW_NO_ERROR; c++) {
		if (xlsx_is_currency_col(l, c) && c != lc && !t->is_null)
			le = worksheet_write_string(p->ws, row, (lxw_col_t)c, t->cur, w->fmt.bold);
		if (l->cols[c].type != REPORT_MONEY)
			continue;
		struct xlsx_fb f = { .n = 0 };
		struct xlsx_crit crit = { l->cols[c].currency_col, t->is_null ? NULL : t->cur };
		fb_put(&f, "=");
		if (fb_aggregate(&f, s, (int)c, &crit, s->totals_n > 1) < 0)
			return err_set(e, EXIT_FAILED, "the total formula is too long");
		le = worksheet_write_formula_num(p->ws, row, (lxw_col_t)c, f.s, w->fmt.money_bold[minor],
						 money_to_double_for_stats(t->sum_micros[c]));
	}
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the totals");
}

/* After a blank row, one totals row per currency value, on the last worksheet of the listing (a
 * new one when they do not fit below the data). */
static int xlsx_totals(struct xlsx_writer *w, struct xlsx_sheet *s, struct err *e)
{
	if (!s->l->sheet_totals || s->totals_n == 0)
		return 0;
	qsort(s->totals, s->totals_n, sizeof s->totals[0], xlsx_total_cmp);
	struct xlsx_part *p = &s->parts[s->parts_n - 1];
	/* rows used: header + data + blank + totals */
	if ((uint64_t)p->rows_n + 2 + s->totals_n > w->rows_max) {
		if (2 + s->totals_n > w->rows_max)
			return err_set(e, EXIT_FAILED, "%zu totals rows do not fit on a worksheet", s->totals_n);
		if (xlsx_part_new(w, s, e) < 0 || xlsx_part_end(s, e) < 0)
			return -1;
		p = &s->parts[s->parts_n - 1];
	}
	for (size_t i = 0; i < s->totals_n; i++)
		if (xlsx_total_row(w, s, p, p->rows_n + 2 + (uint32_t)i, &s->totals[i], e) < 0)
			return -1;
	return 0;
}

/* Column widths of every worksheet of the listing: the widest cell or the header (plus room for
 * the filter button), within XLSX_WIDTH_MIN..XLSX_WIDTH_MAX. set_column may come after the rows:
 * libxlsxwriter writes <cols> when it assembles the sheet. */
static int xlsx_widths(struct xlsx_sheet *s, struct err *e)
{
	for (size_t c = 0; c < s->l->ncols; c++) {
		unsigned wd = s->width[c];
		xlsx_widen(&wd, xlsx_chars(s->l->cols[c].name) + 3);
		if (wd < XLSX_WIDTH_MIN)
			wd = XLSX_WIDTH_MIN;
		for (size_t i = 0; i < s->parts_n; i++) {
			lxw_error le = worksheet_set_column(s->parts[i].ws, (lxw_col_t)c, (lxw_col_t)c,
							    wd + 1, NULL);
			if (le != LXW_NO_ERROR)
				return xlsx_fail(e, le, "the column widths");
		}
	}
	return 0;
}

/* Streams listing number si into its sheet(s). */
static int xlsx_sheet_write(struct xlsx_writer *w, size_t si, struct err *e)
{
	struct xlsx_sheet *s = &w->sheets[si];
	struct report_cursor *cur = NULL;
	const char *const *v;
	int rc;
	if (xlsx_part_new(w, s, e) < 0 ||
	    report_cursor_open(w->db, s->l, w->in->run_id, w->in->period, &cur, e) < 0)
		goto fail;
	while ((rc = report_cursor_next(cur, &v, e)) == 1) {
		struct xlsx_part *p = &s->parts[s->parts_n - 1];
		if (p->rows_n + 1 >= w->rows_max) {
			if (xlsx_part_end(s, e) < 0 || xlsx_part_new(w, s, e) < 0)
				goto fail;
			p = &s->parts[s->parts_n - 1];
		}
		for (size_t c = 0; c < s->l->ncols; c++)
			if (xlsx_cell(w, s, p, p->rows_n + 1, c, v, e) < 0)
				goto fail;
		p->rows_n++;
		s->rows_n++;
		int cc = xlsx_count_col(s->l);
		struct xlsx_total *t = cc >= 0 ? xlsx_total_of(s, v[cc], e) : NULL;
		if ((cc >= 0 && t == NULL) || xlsx_track(w, si, v, e) < 0)
			goto fail;
		if (t)
			t->rows_n++;
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

static int xlsx_sheet_by_name(const struct xlsx_writer *w, const char *name)
{
	for (size_t i = 0; i < w->sheets_n; i++)
		if (strcmp(w->sheets[i].l->sheet_name, name) == 0)
			return (int)i;
	return -1;
}

/* Finds the sheets and columns the Summary is built from; a block whose inputs are missing is
 * left out of the Summary. */
static void xlsx_roles_find(struct xlsx_writer *w)
{
	struct xlsx_roles *r = &w->roles;
	memset(r, -1, sizeof *r);
	r->alloc = xlsx_sheet_by_name(w, "Allocations");
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
		for (size_t c = 0; c < l->ncols && r->aging_amount < 0; c++)
			if (l->cols[c].type == REPORT_MONEY)
				r->aging_amount = (int)c;
	}
}

/* Summary cells. Widths are tracked for the table columns; titles and facts overflow freely. */
static int sum_text(struct xlsx_writer *w, uint32_t row, unsigned col, const char *text,
		    lxw_format *f, int widen, struct err *e)
{
	lxw_error le = xlsx_write_text(w->summary, row, col, text, f);
	if (widen && col < XLSX_SUMMARY_COLS)
		xlsx_widen(&w->swidth[col], xlsx_chars(text) + (f == w->fmt.header || f == w->fmt.bold));
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a cell");
}

static int sum_number(struct xlsx_writer *w, uint32_t row, unsigned col, double value, lxw_format *f,
		      struct err *e)
{
	lxw_error le = worksheet_write_number(w->summary, row, (lxw_col_t)col, value, f);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a cell");
}

static int sum_formula(struct xlsx_writer *w, uint32_t row, unsigned col, const struct xlsx_fb *f,
		       lxw_format *fmt, double cached, size_t chars, struct err *e)
{
	if (f->full)
		return err_set(e, EXIT_FAILED, "a summary formula is too long");
	lxw_error le = worksheet_write_formula_num(w->summary, row, (lxw_col_t)col, f->s, fmt, cached);
	if (col < XLSX_SUMMARY_COLS)
		xlsx_widen(&w->swidth[col], chars);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a formula");
}

/* "OK" when the difference in cell (row0, col) is zero to the micro, else "CHECK". */
static int sum_check(struct xlsx_writer *w, uint32_t row, unsigned col, const char *expr, int ok,
		     struct err *e)
{
	struct xlsx_fb f = { .n = 0 };
	fb_put(&f, "=IF(ROUND(%s,6)=0,\"OK\",\"CHECK\")", expr);
	lxw_error le = worksheet_write_formula_str(w->summary, row, (lxw_col_t)col, f.s, w->fmt.bold,
						   ok ? "OK" : "CHECK");
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a formula");
}

static int sum_header(struct xlsx_writer *w, const char *const *names, size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++)
		if (sum_text(w, w->srow, (unsigned)i, names[i], w->fmt.header, 1, e) < 0)
			return -1;
	w->srow++;
	return 0;
}

static int sum_title(struct xlsx_writer *w, const char *title, struct err *e)
{
	w->srow++; /* a blank row before every block */
	if (sum_text(w, w->srow, 0, title, w->fmt.bold, 0, e) < 0)
		return -1;
	w->srow++;
	return 0;
}

/* The streamed totals of one currency value (NULL: the rows without currency), or NULL. */
static const struct xlsx_total *xlsx_sheet_total(const struct xlsx_sheet *s, const char *cur)
{
	for (size_t i = 0; i < s->totals_n; i++)
		if (s->totals[i].is_null ? cur == NULL : cur && strcmp(s->totals[i].cur, cur) == 0)
			return &s->totals[i];
	return NULL;
}

/* The sum of one money column of a listing for one currency: exact, from the streamed totals. */
static int64_t xlsx_sheet_sum(const struct xlsx_sheet *s, int col, const char *cur)
{
	const struct xlsx_total *t = xlsx_sheet_total(s, cur);
	return t ? t->sum_micros[col] : 0;
}

/* The currencies of the money columns of listings a and b (either may be -1), sorted. */
static size_t xlsx_currencies(const struct xlsx_writer *w, int a, int b, char out[][XLSX_KEY_MAX],
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
	qsort(out, n, XLSX_KEY_MAX, (int (*)(const void *, const void *))strcmp);
	return n;
}

/* A live Σ over one listing's money column for one currency, with its exact cached value. */
static int sum_sumifs(struct xlsx_writer *w, uint32_t row, unsigned col, int si, int money_col,
		      const char *cur, struct err *e)
{
	const struct xlsx_sheet *s = &w->sheets[si];
	int64_t v = xlsx_sheet_sum(s, money_col, cur);
	struct xlsx_fb f = { .n = 0 };
	struct xlsx_crit crit = { s->l->cols[money_col].currency_col, cur };
	fb_put(&f, "=");
	if (fb_aggregate(&f, s, money_col, &crit, 1) < 0)
		f.full = 1;
	int minor = xlsx_minor(cur);
	return sum_formula(w, row, col, &f, w->fmt.money[minor], money_to_double_for_stats(v),
			   xlsx_money_chars(v, minor) + 2, e);
}

/* SPEC §4.3/4.4 proof: per currency and measure, Σ Allocations = Σ Payouts. */
static int sum_control(struct xlsx_writer *w, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	static const char *const head[] = { "Currency", "Measure", "Allocations", "Payouts", "Difference", "Check" };
	char curs[XLSX_KEYS_MAX][XLSX_KEY_MAX];
	if (r->alloc < 0 || r->payouts < 0)
		return 0;
	size_t n = xlsx_currencies(w, r->alloc, r->payouts, curs, XLSX_KEYS_MAX);
	if (sum_title(w, "Control totals: the allocations add up to the payout statements", e) < 0 ||
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
			    sum_check(w, row, 5, x.s, d == 0, e) < 0)
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
	if (streamed != value)
		return err_set(e, EXIT_FAILED,
			       "%s %s is %" PRId64 " in the summary but %" PRId64 " on sheet \"%s\"",
			       w->summary_listing->cols[col].name, cur ? cur : "(no currency)", value,
			       streamed, s->l->sheet_name);
	struct xlsx_fb f = { .n = 0 };
	struct xlsx_crit crit = { money_col >= 0 ? s->l->cols[money_col].currency_col : xlsx_count_col(s->l), cur };
	fb_put(&f, "=");
	if (fb_aggregate(&f, s, money_col, &crit, 1) < 0)
		f.full = 1;
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
		fb_put(&f, "ABS(");
		fb_cell(&f, (unsigned)at, row);
		fb_put(&f, "-");
		fb_cell(&f, (unsigned)an, row);
		fb_put(&f, ")+ABS(");
		fb_cell(&f, (unsigned)an, row);
		fb_put(&f, "-");
		fb_cell(&f, (unsigned)pn, row);
		fb_put(&f, ")");
		if (sum_check(w, row, col++, f.s, x[0] == x[1] && x[1] == x[2], e) < 0)
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

/* "Totals by currency": the Summary listing of report.h, streamed at the end (it refers to the
 * other sheets), with its linked columns as formulas and two check columns. */
static int sum_listing(struct xlsx_writer *w, struct err *e)
{
	const struct report_listing *l = w->summary_listing;
	int link_si[REPORT_COLS_MAX], link_col[REPORT_COLS_MAX];
	struct report_cursor *cur = NULL;
	const char *const *v;
	int rc;
	if (l == NULL)
		return 0;
	ASSERT(xlsx_count_col(l) >= 0 && l->ncols + 2 <= XLSX_SUMMARY_COLS);
	if (sum_title(w, "Totals by currency", e) < 0)
		return -1;
	for (size_t c = 0; c < l->ncols; c++) {
		link_si[c] = l->cols[c].type == REPORT_TEXT ? -1 : xlsx_link_find(w, l->cols[c].name, &link_col[c]);
		if (sum_text(w, w->srow, (unsigned)c, l->cols[c].name, w->fmt.header, 1, e) < 0)
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
static int sum_counts(struct xlsx_writer *w, struct err *e)
{
	static const char *const head[] = { "Sheet", "Rows", "Worksheets" };
	if (sum_title(w, "Rows", e) < 0 || sum_header(w, head, 3, e) < 0)
		return -1;
	for (size_t i = 0; i < w->sheets_n; i++) {
		const struct xlsx_sheet *s = &w->sheets[i];
		uint32_t row = w->srow++;
		if (sum_text(w, row, 0, s->l->sheet_name, NULL, 1, e) < 0 ||
		    sum_number(w, row, 1, (double)s->rows_n, w->fmt.count, e) < 0 ||
		    sum_number(w, row, 2, (double)s->parts_n, w->fmt.count, e) < 0)
			return -1;
	}
	return 0;
}

/* Exceptions by code: COUNTIFS on the Exceptions sheet, in code order. */
static int sum_codes(struct xlsx_writer *w, struct err *e)
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
		struct xlsx_crit crit = { r->exc_code, x->label };
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

/* Chart helpers: no legend, anchored at (row, col) of the Summary. */
static int sum_chart(struct xlsx_writer *w, uint8_t type, const char *title, uint32_t first,
		     uint32_t last, uint32_t anchor, unsigned col, const char *num_format, struct err *e)
{
	lxw_chart *ch = workbook_add_chart(w->wb, type);
	if (ch == NULL)
		return err_set(e, EXIT_FAILED, "could not add a chart");
	lxw_chart_series *se = chart_add_series(ch, NULL, NULL);
	if (se == NULL)
		return err_set(e, EXIT_FAILED, "could not add a chart series");
	chart_series_set_categories(se, "Summary", first, 0, last, 0);
	chart_series_set_values(se, "Summary", first, 1, last, 1);
	chart_title_set_name(ch, title);
	chart_legend_set_position(ch, LXW_CHART_LEGEND_NONE);
	/* In a bar chart libxlsxwriter's y_axis is the category axis and x_axis the value axis. */
	lxw_chart_axis *values = type == LXW_CHART_BAR ? ch->x_axis : ch->y_axis;
	if (num_format)
		chart_axis_set_num_format(values, num_format);
	if (type == LXW_CHART_BAR)
		chart_axis_set_reverse(ch->y_axis); /* the first (largest) party on top */
	lxw_error le = worksheet_insert_chart(w->summary, anchor, (lxw_col_t)col, ch);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a chart");
}

static int64_t xlsx_tally_get(const struct xlsx_tally *t, const char *label, const char *cur, int count)
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
	struct xlsx_crit crit = { col, value };
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

static int sum_insights(struct xlsx_writer *w, struct err *e)
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

/* SPEC §4.8: charge groups not fully disbursed, by bucket: counts and outstanding amounts per
 * currency, and a column chart of the counts. */
static int sum_aging(struct xlsx_writer *w, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	if (r->aging < 0 || r->aging_bucket < 0)
		return 0;
	const struct xlsx_sheet *s = &w->sheets[r->aging];
	char curs[XLSX_KEYS_MAX][XLSX_KEY_MAX];
	size_t ncur = r->aging_amount >= 0 ? xlsx_currencies(w, r->aging, -1, curs, XLSX_AGING_CURRENCIES) : 0;
	const char *labels[XLSX_BUCKETS_N + XLSX_TALLY_MAX];
	size_t nl = 0;
	for (size_t b = 0; b < XLSX_BUCKETS_N; b++)
		labels[nl++] = xlsx_buckets[b];
	for (size_t i = 0; i < w->aging.n; i++) { /* labels outside SPEC §4.8, first seen first */
		size_t j = 0;
		while (j < nl && strcmp(labels[j], w->aging.e[i].label) != 0)
			j++;
		if (j == nl)
			labels[nl++] = w->aging.e[i].label;
	}
	if (sum_title(w, "Aging: charge groups not fully disbursed at as-of, by days since invoice", e) < 0)
		return -1;
	uint32_t anchor = w->srow;
	if (sum_text(w, w->srow, 0, "Days", w->fmt.header, 1, e) < 0 ||
	    sum_text(w, w->srow, 1, "Groups", w->fmt.header, 1, e) < 0)
		return -1;
	for (size_t k = 0; k < ncur; k++) {
		char h[32];
		snprintf(h, sizeof h, "Outstanding %s", curs[k]);
		if (sum_text(w, w->srow, 2 + (unsigned)k, h, w->fmt.header, 1, e) < 0)
			return -1;
	}
	uint32_t first = ++w->srow;
	for (size_t b = 0; b < nl; b++) {
		uint32_t row = w->srow++;
		struct xlsx_crit crit[2] = { { r->aging_bucket, labels[b] }, { -1, NULL } };
		struct xlsx_fb f = { .n = 0 };
		fb_put(&f, "=");
		if (fb_aggregate(&f, s, -1, crit, 1) < 0)
			f.full = 1;
		if (sum_text(w, row, 0, labels[b], NULL, 1, e) < 0 ||
		    sum_formula(w, row, 1, &f, w->fmt.count, (double)xlsx_tally_get(&w->aging, labels[b], NULL, 1), 8, e) < 0)
			return -1;
		for (size_t k = 0; k < ncur; k++) {
			int64_t v = xlsx_tally_get(&w->aging, labels[b], curs[k], 0);
			int minor = xlsx_minor(curs[k]);
			struct xlsx_fb g = { .n = 0 };
			crit[1].col = s->l->cols[r->aging_amount].currency_col;
			crit[1].value = curs[k];
			fb_put(&g, "=");
			if (fb_aggregate(&g, s, r->aging_amount, crit, 2) < 0)
				g.full = 1;
			if (sum_formula(w, row, 2 + (unsigned)k, &g, w->fmt.money[minor],
					money_to_double_for_stats(v), xlsx_money_chars(v, minor) + 2, e) < 0)
				return -1;
		}
	}
	if (sum_chart(w, LXW_CHART_COLUMN, "Charge groups not fully disbursed, by age (days)", first,
		      w->srow - 1, anchor, 3 + (unsigned)ncur, "0", e) < 0)
		return -1;
	if (w->srow < anchor + XLSX_CHART_ROWS)
		w->srow = anchor + XLSX_CHART_ROWS;
	return 0;
}

/* Net payable by party, one block and one bar chart per currency (the first
 * XLSX_CHART_CURRENCIES in byte order): the XLSX_TOP_PARTIES largest by |net payable|, then one
 * "Other" row for the rest, each a live SUMIFS over the Payouts sheet. */
static int sum_parties_one(struct xlsx_writer *w, const struct xlsx_top *t, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	const struct xlsx_sheet *s = &w->sheets[r->payouts];
	int cur_col = s->l->cols[r->pay_payable].currency_col;
	int minor = xlsx_minor(t->cur);
	char title[96];
	snprintf(title, sizeof title, "Net payable by party (%s)", t->cur);
	if (sum_title(w, title, e) < 0)
		return -1;
	uint32_t anchor = w->srow;
	static const char *const head[] = { "Party", "Net payable" };
	if (sum_header(w, head, 2, e) < 0)
		return -1;
	uint32_t first = w->srow;
	int64_t top_sum = 0;
	for (size_t i = 0; i < t->top_n; i++) {
		const struct xlsx_party *p = &t->top[i];
		uint32_t row = w->srow++;
		struct xlsx_crit crit[2] = { { r->pay_party, p->account }, { cur_col, t->cur } };
		struct xlsx_fb f = { .n = 0 };
		fb_put(&f, "=");
		if (money_add(top_sum, p->payable_micros, &top_sum) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "a payable total overflows");
		if (sum_text(w, row, 0, p->account, NULL, 1, e) < 0)
			return -1;
		if (fb_aggregate(&f, s, r->pay_payable, crit, 2) < 0) { /* too long a party id: the number */
			if (sum_number(w, row, 1, money_to_double_for_stats(p->payable_micros), w->fmt.money[minor], e) < 0)
				return -1;
			continue;
		}
		if (sum_formula(w, row, 1, &f, w->fmt.money[minor], money_to_double_for_stats(p->payable_micros),
				xlsx_money_chars(p->payable_micros, minor) + 2, e) < 0)
			return -1;
	}
	if (t->parties_n > (int64_t)t->top_n) {
		uint32_t row = w->srow++;
		int64_t other;
		char label[64];
		struct xlsx_fb f = { .n = 0 };
		struct xlsx_crit crit = { cur_col, t->cur };
		if (money_sub(t->total_micros, top_sum, &other) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "a payable total overflows");
		snprintf(label, sizeof label, "Other (%" PRId64 " parties)", t->parties_n - (int64_t)t->top_n);
		fb_put(&f, "=");
		if (fb_aggregate(&f, s, r->pay_payable, &crit, 1) < 0)
			f.full = 1;
		fb_put(&f, "-SUM(");
		fb_cell(&f, 1, first);
		fb_put(&f, ":");
		fb_cell(&f, 1, row - 1);
		fb_put(&f, ")");
		if (sum_text(w, row, 0, label, NULL, 1, e) < 0 ||
		    sum_formula(w, row, 1, &f, w->fmt.money[minor], money_to_double_for_stats(other),
				xlsx_money_chars(other, minor) + 2, e) < 0)
			return -1;
	}
	char fmt[32];
	snprintf(fmt, sizeof fmt, "#,##0");
	if (sum_chart(w, LXW_CHART_BAR, title, first, w->srow - 1, anchor, 3, fmt, e) < 0)
		return -1;
	if (w->srow < anchor + XLSX_CHART_ROWS)
		w->srow = anchor + XLSX_CHART_ROWS;
	return 0;
}

static int xlsx_top_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xlsx_top *)a)->cur, ((const struct xlsx_top *)b)->cur);
}

static int sum_parties(struct xlsx_writer *w, struct err *e)
{
	struct xlsx_parties *ps = &w->parties;
	if (w->roles.payouts < 0 || w->roles.pay_party < 0)
		return 0;
	qsort(ps->cur, ps->cur_n, sizeof ps->cur[0], xlsx_top_cmp);
	for (size_t i = 0; i < ps->cur_n && i < XLSX_CHART_CURRENCIES; i++)
		if (ps->cur[i].top_n > 0 && sum_parties_one(w, &ps->cur[i], e) < 0)
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

static int sum_write(struct xlsx_writer *w, struct err *e)
{
	const struct report_xlsx_input *in = w->in;
	char title[96], as_of[32];
	time_format(in->as_of_us, as_of);
	snprintf(title, sizeof title, "settle: reconciliation of period %s", in->period);
	w->srow = 0;
	if (sum_text(w, 0, 0, title, w->fmt.title, 0, e) < 0 || sum_text(w, 1, 0, "As of", NULL, 1, e) < 0 ||
	    sum_text(w, 1, 1, as_of, NULL, 0, e) < 0 ||
	    sum_text(w, 2, 0, "Cells show amounts in the currency's minor units and hold the nearest "
			      "floating-point number; the CSV files are the exact record to the micro.",
		     w->fmt.note, 0, e) < 0)
		return -1;
	w->srow = 3;
	if (sum_listing(w, e) < 0 || sum_control(w, e) < 0 || sum_counts(w, e) < 0 ||
	    sum_codes(w, e) < 0 || sum_insights(w, e) < 0 || sum_aging(w, e) < 0 || sum_parties(w, e) < 0 ||
	    sum_facts(w, e) < 0)
		return err_prefix(e, "sheet \"Summary\"");
	for (unsigned c = 0; c < XLSX_SUMMARY_COLS; c++) {
		if (w->swidth[c] == 0)
			continue;
		unsigned wd = w->swidth[c] < XLSX_WIDTH_MIN ? XLSX_WIDTH_MIN : w->swidth[c];
		lxw_error le = worksheet_set_column(w->summary, (lxw_col_t)c, (lxw_col_t)c, wd + 1, NULL);
		if (le != LXW_NO_ERROR)
			return xlsx_fail(e, le, "the column widths of the Summary");
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Insight charts (issue 6): a sheet of its own after the listings, with the data blocks its charts
 * draw from (charts reference cell ranges; constant-memory mode keeps no values in the chart).
 */

#define XLSX_CHARTS_SHEET "Insight charts"
#define XLSX_BINS_MAX 16            /* histogram bins (insights.c writes 8) */
#define XLSX_CHART_TITLE_CHARS 120  /* characters of a series id shown in a chart title */

struct xlsx_bins {
	char label[XLSX_BINS_MAX][XLSX_KEY_MAX];
	int64_t samples[XLSX_BINS_MAX];
	size_t n;
};

/* Reads one histogram (bin_label, samples in bin order) of the period. */
static int xlsx_bins_read(struct xlsx_writer *w, enum report_insight_data_id id, struct xlsx_bins *b,
			  struct err *e)
{
	struct report_cursor *cur = NULL;
	const char *const *v;
	int rc;
	memset(b, 0, sizeof *b);
	if (report_cursor_open(w->db, &report_insight_data[id], w->in->run_id, w->in->period, &cur, e) < 0)
		return -1;
	while ((rc = report_cursor_next(cur, &v, e)) == 1) {
		if (b->n == XLSX_BINS_MAX || !v[0] || strlen(v[0]) >= XLSX_KEY_MAX || !v[1] ||
		    xlsx_parse_int64(v[1], &b->samples[b->n]) < 0) {
			rc = err_set(e, EXIT_FAILED, "unexpected histogram bin \"%.32s\"", v[0] ? v[0] : "");
			break;
		}
		snprintf(b->label[b->n++], XLSX_KEY_MAX, "%s", v[0]);
	}
	report_cursor_close(cur);
	return rc < 0 ? -1 : 0;
}

static lxw_chart *xlsx_chart_new(struct xlsx_writer *w, uint8_t type, const char *title, struct err *e)
{
	lxw_chart *ch = workbook_add_chart(w->wb, type);
	if (ch == NULL) {
		err_set(e, EXIT_FAILED, "could not add a chart");
		return NULL;
	}
	/* Titles are settle's own text (a data id inside is cleaned first): never "=...", which
	 * libxlsxwriter would read as a cell reference. */
	ASSERT(title[0] != '=');
	chart_title_set_name(ch, title);
	return ch;
}

/* One series of rows first..last (0-based) of column col, categories in column 0. */
static lxw_chart_series *xlsx_chart_series(lxw_chart *ch, const char *name, uint32_t first, uint32_t last,
					   unsigned col, struct err *e)
{
	lxw_chart_series *se = chart_add_series(ch, NULL, NULL);
	if (se == NULL) {
		err_set(e, EXIT_FAILED, "could not add a chart series");
		return NULL;
	}
	chart_series_set_categories(se, XLSX_CHARTS_SHEET, first, 0, last, 0);
	chart_series_set_values(se, XLSX_CHARTS_SHEET, first, (lxw_col_t)col, last, (lxw_col_t)col);
	if (name)
		chart_series_set_name(se, name);
	return se;
}

static int xlsx_charts_text(lxw_worksheet *ws, uint32_t row, unsigned col, const char *text, lxw_format *f,
			    struct err *e)
{
	lxw_error le = xlsx_write_text(ws, row, col, text, f);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a cell");
}

static int xlsx_charts_number(lxw_worksheet *ws, uint32_t row, unsigned col, double v, lxw_format *f,
			      struct err *e)
{
	lxw_error le = worksheet_write_number(ws, row, (lxw_col_t)col, v, f);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a cell");
}

/* Days from invoice to payout and to collection: one block (Days, Payouts, Collections), a column
 * chart of each measure beside it. */
static int xlsx_charts_days(struct xlsx_writer *w, lxw_worksheet *ws, struct err *e)
{
	static const char *const head[] = { "Days", "Payouts", "Collections" };
	static const char *const titles[] = { "Days from invoice to payout", "Days from invoice to collection" };
	static const char *const axes[] = { "payouts", "collections" };
	struct xlsx_bins bins[2];
	if (xlsx_bins_read(w, REPORT_INSIGHT_PAYOUT_DAYS, &bins[0], e) < 0 ||
	    xlsx_bins_read(w, REPORT_INSIGHT_COLLECTION_DAYS, &bins[1], e) < 0)
		return -1;
	uint32_t row = w->crow;
	if (bins[0].n == 0) {
		w->crow += 2;
		return xlsx_charts_text(ws, row, 0, "no payment timing was computed for this run", w->fmt.note, e);
	}
	/* Both measures have the same fixed bins (insights.c): one label column serves both. */
	if (bins[1].n != bins[0].n)
		return err_set(e, EXIT_FAILED, "the payout and collection histograms have different bins");
	for (size_t i = 0; i < bins[0].n; i++)
		if (strcmp(bins[0].label[i], bins[1].label[i]) != 0)
			return err_set(e, EXIT_FAILED, "the payout and collection histograms have different bins");
	for (unsigned c = 0; c < 3; c++)
		if (xlsx_charts_text(ws, row, c, head[c], w->fmt.header, e) < 0)
			return -1;
	uint32_t first = row + 1;
	for (size_t i = 0; i < bins[0].n; i++) {
		uint32_t r = first + (uint32_t)i;
		if (xlsx_charts_text(ws, r, 0, bins[0].label[i], NULL, e) < 0 ||
		    xlsx_charts_number(ws, r, 1, (double)bins[0].samples[i], w->fmt.count, e) < 0 ||
		    xlsx_charts_number(ws, r, 2, (double)bins[1].samples[i], w->fmt.count, e) < 0)
			return -1;
	}
	uint32_t last = first + (uint32_t)bins[0].n - 1;
	for (unsigned k = 0; k < 2; k++) {
		lxw_chart *ch = xlsx_chart_new(w, LXW_CHART_COLUMN, titles[k], e);
		if (ch == NULL || xlsx_chart_series(ch, NULL, first, last, 1 + k, e) == NULL)
			return -1;
		chart_legend_set_position(ch, LXW_CHART_LEGEND_NONE);
		chart_axis_set_name(ch->x_axis, "days");
		chart_axis_set_name(ch->y_axis, axes[k]);
		chart_axis_set_num_format(ch->y_axis, "0");
		lxw_error le = worksheet_insert_chart(ws, row, (lxw_col_t)(4 + 8 * k), ch);
		if (le != LXW_NO_ERROR)
			return xlsx_fail(e, le, "a chart");
	}
	w->crow = last + 2 > row + XLSX_CHART_ROWS ? last + 2 : row + XLSX_CHART_ROWS + 1;
	return 0;
}

/* A data id for a chart title: control characters become spaces, long ids end in "…". */
static void xlsx_title_id(const char *id, char *out, size_t size)
{
	size_t n = 0, chars = 0;
	ASSERT(size > 4 * XLSX_CHART_TITLE_CHARS + 4);
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		if ((*p & 0xC0) != 0x80 && ++chars > XLSX_CHART_TITLE_CHARS) {
			memcpy(out + n, "\xE2\x80\xA6", 3);
			n += 3;
			break;
		}
		out[n++] = *p < 0x20 || *p == 0x7F ? ' ' : (char)*p;
	}
	out[n] = '\0';
}

/* The hours of the period's most anomalous series (settle.insight_usage_point): one block (Hour,
 * Quantity, Band low, Band high, Anomaly, Score) and a line chart of the quantity inside its band,
 * the anomalous hours as markers. Nothing when no series is anomalous. */
static int xlsx_charts_usage(struct xlsx_writer *w, lxw_worksheet *ws, struct err *e)
{
	static const char *const head[] = { "Hour (UTC)", "Quantity", "Band low", "Band high", "Anomaly", "Score" };
	static const char *const names[] = { "quantity", "band low", "band high", "anomaly" };
	const struct report_listing *l = &report_insight_data[REPORT_INSIGHT_USAGE];
	struct report_cursor *cur = NULL;
	const char *const *v;
	char id[4 * XLSX_CHART_TITLE_CHARS + 8], title[sizeof id + 48];
	uint32_t row = w->crow, first = row + 2, r = first;
	int rc;
	if (report_cursor_open(w->db, l, w->in->run_id, w->in->period, &cur, e) < 0)
		return -1;
	rc = report_cursor_next(cur, &v, e);
	if (rc == 1) {
		/* The series and the header go above the hours: the first row names the series. */
		if (xlsx_charts_text(ws, row, 0, "Series", w->fmt.bold, e) < 0 ||
		    xlsx_charts_text(ws, row, 1, v[6] ? v[6] : "", NULL, e) < 0)
			rc = -1;
		xlsx_title_id(v[6] ? v[6] : "", id, sizeof id);
		for (unsigned c = 0; c < 6 && rc == 1; c++)
			if (xlsx_charts_text(ws, row + 1, c, head[c], w->fmt.header, e) < 0)
				rc = -1;
	}
	for (; rc == 1; rc = report_cursor_next(cur, &v, e), r++) {
		if (xlsx_charts_text(ws, r, 0, v[0] ? v[0] : "", NULL, e) < 0) {
			rc = -1;
			break;
		}
		for (unsigned c = 1; c < 6; c++) {
			int64_t n;
			double d;
			if (v[c] == NULL) /* no anomaly: a gap in the marker series */
				continue;
			if (l->cols[c].type == REPORT_DECIMAL ? report_parse_decimal(v[c], &d, e) < 0
							      : xlsx_parse_int64(v[c], &n) < 0) {
				rc = err_set(e, EXIT_FAILED, "unexpected usage point value \"%.32s\"", v[c]);
				break;
			}
			if (l->cols[c].type != REPORT_DECIMAL)
				d = (double)n;
			if (xlsx_charts_number(ws, r, c, d, l->cols[c].type == REPORT_DECIMAL ? w->fmt.decimal : w->fmt.count,
					       e) < 0) {
				rc = -1;
				break;
			}
		}
		if (rc < 0)
			break;
	}
	report_cursor_close(cur);
	if (rc < 0)
		return -1;
	if (r == first) {
		w->crow += 2;
		return xlsx_charts_text(ws, row, 0, "no usage series is anomalous in this period: no usage chart",
					w->fmt.note, e);
	}
	snprintf(title, sizeof title, "Usage of %s with its expected band", id);
	lxw_chart *ch = xlsx_chart_new(w, LXW_CHART_LINE, title, e);
	if (ch == NULL)
		return -1;
	lxw_chart_line band = { .color = LXW_COLOR_GRAY, .dash_type = LXW_CHART_LINE_DASH_DASH, .width = 1.25 };
	lxw_chart_line none = { .none = LXW_TRUE };
	for (unsigned k = 0; k < 4; k++) {
		lxw_chart_series *se = xlsx_chart_series(ch, names[k], first, r - 1, 1 + k, e);
		if (se == NULL)
			return -1;
		chart_series_set_marker_type(se, k == 3 ? LXW_CHART_MARKER_CIRCLE : LXW_CHART_MARKER_NONE);
		if (k == 1 || k == 2)
			chart_series_set_line(se, &band);
		if (k == 3) {
			chart_series_set_line(se, &none);
			chart_series_set_marker_size(se, 7);
		}
	}
	chart_legend_set_position(ch, LXW_CHART_LEGEND_BOTTOM);
	chart_axis_set_name(ch->y_axis, "quantity per hour");
	chart_axis_set_num_format(ch->y_axis, "#,##0");
	chart_axis_set_interval_unit(ch->x_axis, 24); /* one label per day of hours */
	chart_axis_set_interval_tick(ch->x_axis, 24);
	lxw_chart_options opt = { .x_scale = 2.0, .y_scale = 1.5 };
	lxw_error le = worksheet_insert_chart_opt(ws, row, 7, ch, &opt);
	if (le != LXW_NO_ERROR)
		return xlsx_fail(e, le, "a chart");
	w->crow = r + 1;
	return 0;
}

static int xlsx_charts_write(struct xlsx_writer *w, struct err *e)
{
	static const double widths[] = { 19, 12, 12, 12, 12, 8 };
	char title[96];
	lxw_worksheet *ws = workbook_add_worksheet(w->wb, XLSX_CHARTS_SHEET);
	if (ws == NULL)
		return err_set(e, EXIT_FAILED, "could not add sheet \"%s\"", XLSX_CHARTS_SHEET);
	worksheet_set_landscape(ws);
	worksheet_fit_to_pages(ws, 1, 0);
	snprintf(title, sizeof title, "settle: insights of period %s", w->in->period);
	if (xlsx_charts_text(ws, 0, 0, title, w->fmt.title, e) < 0 ||
	    xlsx_charts_text(ws, 1, 0, "The charts draw from the blocks below them; sheets Insights and Payment "
				       "timing list every figure (docs/insights.md).", w->fmt.note, e) < 0)
		goto fail;
	w->crow = 3;
	if (xlsx_charts_days(w, ws, e) < 0 || xlsx_charts_usage(w, ws, e) < 0)
		goto fail;
	for (unsigned c = 0; c < sizeof widths / sizeof widths[0]; c++) {
		lxw_error le = worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, widths[c], NULL);
		if (le != LXW_NO_ERROR) {
			xlsx_fail(e, le, "the column widths");
			goto fail;
		}
	}
	return 0;
fail:
	return err_prefix(e, "sheet \"%s\"", XLSX_CHARTS_SHEET);
}

/* ---------------------------------------------------------------------------------------------
 * The entry point
 */

/* Temporary files (one per sheet in constant-memory mode) go next to the output, not to /tmp,
 * which may be small or in memory; libxlsxwriter unlinks them as soon as they are created. */
static void xlsx_tmpdir(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(out, size, ".");
	else if (slash == path)
		snprintf(out, size, "/");
	else
		snprintf(out, size, "%.*s", (int)(slash - path), path);
}

static int xlsx_write_all(struct xlsx_writer *w, struct err *e)
{
	if (xlsx_properties(w, e) < 0 || xlsx_formats_init(w, e) < 0)
		return -1;
	w->summary = workbook_add_worksheet(w->wb, "Summary");
	if (w->summary == NULL)
		return err_set(e, EXIT_FAILED, "could not add sheet \"Summary\"");
	worksheet_set_landscape(w->summary);
	worksheet_fit_to_pages(w->summary, 1, 0);
	for (size_t i = 0; i < report_listings_n; i++) {
		const struct report_listing *l = &report_listings[i];
		if (l->sheet_name == NULL)
			continue;
		xlsx_check_listing(l);
		if (strcmp(l->sheet_name, "Summary") == 0) { /* rendered inside the Summary sheet */
			w->summary_listing = l;
			continue;
		}
		ASSERT(w->sheets_n < XLSX_SHEETS_MAX);
		w->sheets[w->sheets_n++].l = l;
	}
	xlsx_roles_find(w);
	for (size_t i = 0; i < w->sheets_n; i++)
		if (xlsx_sheet_write(w, i, e) < 0)
			return -1;
	if (xlsx_charts_write(w, e) < 0)
		return -1;
	return sum_write(w, e);
}

/* A workbook whose sheets are written and which a thread of its own is zipping. */
struct report_xlsx_pending {
	pthread_t thread;
	int threaded;               /* 0: pthread_create failed, the zip ran in start */
	lxw_workbook *wb;           /* owned by the thread from pthread_create on */
	char path[4096];
	lxw_error result;
	int zip_errno;              /* errno the zip layer left (a full disk), read after the join */
};

/* workbook_close deflates a few hundred MB of sheet XML (zlib at libxlsxwriter's fixed level:
 * ~5 s for a 1M-event month) and touches nothing but the workbook and its temporary files, so
 * it runs beside the caller, which writes the CSV files meanwhile. */
static void *xlsx_close_thread(void *arg)
{
	struct report_xlsx_pending *p = arg;
	errno = 0;
	p->result = workbook_close(p->wb); /* writes the file and frees the workbook, even on error */
	p->zip_errno = errno;
	p->wb = NULL;
	return NULL;
}

int report_xlsx_start(struct db *db, const struct report_xlsx_input *in, const char *path,
		      struct report_xlsx_pending **out, struct err *e)
{
	ASSERT(db && in && in->period && path && out && (in->facts || in->facts_n == 0));
	*out = NULL;
	int32_t period;
	if (period_parse(in->period, strlen(in->period), &period) < 0)
		return err_set(e, EXIT_USAGE, "\"%s\" is not a period (YYYY-MM)", in->period);
	struct report_xlsx_pending *p = calloc(1, sizeof *p); /* owned by the caller's finish */
	struct xlsx_writer *w = calloc(1, sizeof *w);      /* ours, freed below */
	if (p == NULL || w == NULL) {
		free(p);
		free(w);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	if (snprintf(p->path, sizeof p->path, "%s", path) >= (int)sizeof p->path) {
		err_set(e, EXIT_FAILED, "path too long: \"%s\"", path);
		goto fail;
	}
	w->db = db;
	w->in = in;
	char tmpdir[4096];
	xlsx_tmpdir(path, tmpdir, sizeof tmpdir);
	lxw_workbook_options opt = { .constant_memory = LXW_TRUE, .tmpdir = tmpdir, .use_zip64 = LXW_TRUE };
	if (xlsx_rows_max(&w->rows_max, e) < 0)
		goto fail;
	/* Fail before streaming a million rows when the file cannot be created (libxlsxwriter
	 * would find out only in workbook_close). */
	FILE *probe = fopen(path, "wb");
	if (probe == NULL || fclose(probe) != 0) {
		err_set(e, EXIT_FAILED, "could not create \"%s\": %s", path, strerror(errno));
		goto fail;
	}
	w->wb = workbook_new_opt(path, &opt);
	if (w->wb == NULL) {
		err_set(e, EXIT_FAILED, "could not create workbook \"%s\"", path);
		goto fail;
	}
	if (xlsx_write_all(w, e) < 0 ||
	    (in->restatement && report_xlsx_restatement(w->wb, in->period, in->as_of_us, in->restatement, e) < 0)) {
		lxw_workbook_free(w->wb);
		goto fail;
	}
	p->wb = w->wb;
	p->threaded = pthread_create(&p->thread, NULL, xlsx_close_thread, p) == 0;
	if (!p->threaded) /* no thread to be had: zip here */
		xlsx_close_thread(p);
	free(w);
	*out = p;
	return 0;
fail:
	free(w);
	free(p);
	(void)unlink(path); /* a failed workbook never stays behind (ENOENT is fine) */
	return -1;
}

int report_xlsx_finish(struct report_xlsx_pending *p, struct err *e)
{
	if (p == NULL)
		return 0;
	if (p->threaded)
		(void)pthread_join(p->thread, NULL);
	int rc = 0;
	if (p->result != LXW_NO_ERROR) {
		rc = err_set(e, EXIT_FAILED, "could not write \"%s\": %s%s%s", p->path, lxw_strerror(p->result),
			     p->zip_errno ? " " : "", p->zip_errno ? strerror(p->zip_errno) : "");
		(void)unlink(p->path);
	}
	free(p);
	return rc;
}

int report_xlsx_write(struct db *db, const struct report_xlsx_input *in, const char *path, struct err *e)
{
	struct report_xlsx_pending *p;
	if (report_xlsx_start(db, in, path, &p, e) < 0)
		return -1;
	return report_xlsx_finish(p, e);
}
