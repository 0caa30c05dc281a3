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
#define XLSX_TOP_PARTIES 10        /* bars per payout chart; the rest is one "others" bar */
#define XLSX_AGING_CURRENCIES 8    /* amount columns in the Summary's aging block */
#define XLSX_SUBS_MAX 128          /* (currency, status) subtotals of one listing */
#define XLSX_BRIDGE_ROWS_MAX 40    /* steps of one currency's bridge */
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
	lxw_format *title, *header, *bold, *note, *date, *count, *decimal, *link, *section, *check;
	lxw_format *text, *header_num; /* text indented from the number before it; numbers' headers right */
	lxw_format *money[XLSX_MINOR_UNKNOWN + 1];      /* by minor units; [7] unknown currency */
	lxw_format *money_bold[XLSX_MINOR_UNKNOWN + 1]; /* the same, for totals */
	lxw_format *price[XLSX_MINOR_UNKNOWN + 1];      /* unit prices: every digit, up to 6 */
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
	const struct report_listing *l;
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

/* Display width of a unit price in its "#,##0.00####" format: the digits it has, at least the
 * format's minimum decimals. */
static size_t xlsx_price_chars(int64_t micros, int minor)
{
	size_t lo = minor == XLSX_MINOR_UNKNOWN || minor < 2 ? 2 : (size_t)minor;
	size_t frac = 6;
	for (int64_t m = micros < 0 ? -(micros % 1000000) : micros % 1000000; frac > lo && m % 10 == 0; m /= 10)
		frac--;
	size_t base = xlsx_money_chars(micros, 0); /* sign, integer digits and separators */
	return base + 1 + frac;
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
 * Words. The sheets show headers as words ("Net payable"), the CSV files keep the contract's
 * names (net_payable, SPEC §8); docs/workbook.md lists both. A name without an entry here reads
 * as itself with the underscores as spaces and a capital first letter.
 */

static const struct {
	const char *name, *label;
} xlsx_labels[] = {
	{ "party_role", "Role" },
	{ "party_account_id", "Party account" },
	{ "recipient_account_id", "Recipient account" },
	{ "transaction_reference_id", "Reference" },
	{ "agreement_id", "Agreement" },
	{ "offer_id", "Offer" },
	{ "match_rule", "Match rule" },
	{ "payout_id", "Payout" },
	{ "payout_date", "Payout date" },
	{ "lines_total", "Sum of lines" },
	{ "lines", "Lines" },
	{ "bank_trace_id", "Bank trace id" },
	{ "deposit_id", "Deposit" },
	{ "deposit_match", "Deposit matched by" },
	{ "disbursement_status", "Disbursement status" },
	{ "remainder", "Outstanding" },
	{ "bucket", "Age (days)" },
	{ "days", "Days" },
	{ "usage_month", "Usage month" },
	{ "unit_price", "Unit price" },
	{ "marketplace_tax", "Marketplace tax" },
	{ "other_seller_tax", "Other seller tax" },
	{ "infra", "Infrastructure fee" },
	{ "cost_of_goods", "Cost of goods" },
	{ "net_earned", "Net earned" },
	{ "billed", "Billed (tax incl.)" },
	{ "customer_aws_account_id", "Customer account" },
	{ "product_code", "Product code" },
	{ "history_mad", "History MAD" },
	{ "max_score", "Max score" },
	{ "p90_days", "P90 days" },
};

/* The sheet header of a listing column, written into out. */
static const char *xlsx_label(const char *name, char *out, size_t size)
{
	for (size_t i = 0; i < sizeof xlsx_labels / sizeof xlsx_labels[0]; i++)
		if (strcmp(xlsx_labels[i].name, name) == 0)
			return xlsx_labels[i].label;
	snprintf(out, size, "%s", name);
	for (char *p = out; *p; p++)
		if (*p == '_')
			*p = ' ';
	if (out[0] >= 'a' && out[0] <= 'z')
		out[0] = (char)(out[0] - 'a' + 'A');
	return out;
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
	  "counts them by code." },
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
	  "Nothing was silently dropped: each row names the file, line, column and reason." },
	{ "Insights", "which usage series behave unusually", NULL },
	{ "Payment timing", "how long money takes from invoice to payout and to the bank", NULL },
	{ "Charge groups", "what was billed to buyers and where it went",
	  "Billed = revenue + seller tax + marketplace tax; net earned = revenue + cost of goods + "
	  "listing fee (the Summary's bridge sums these rows)." },
};

static int xlsx_title_of(const char *sheet)
{
	for (size_t i = 0; i < sizeof xlsx_titles / sizeof xlsx_titles[0]; i++)
		if (strcmp(xlsx_titles[i].sheet, sheet) == 0)
			return (int)i;
	return -1;
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
static int fb_criterion(struct xlsx_fb *f, const char *op, const char *value)
{
	char lit[XLSX_LITERAL_MAX + 1];
	size_t n = 0;
	for (const char *o = op ? op : "="; *o; o++)
		lit[n++] = *o;
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
	const char *op;    /* NULL: "=" (equal); "<>": not equal (with NULL: non-blank cells) */
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
		uint32_t last = p->rows_n + XLSX_TOP_ROWS;
		if (sum_col >= 0 && crit_n == 0) {
			fb_put(f, used ? "," : "SUM(");
			fb_range(f, p->name, (unsigned)sum_col, XLSX_FIRST_ROW, last);
			used++;
			continue;
		}
		fb_put(f, "%s%s(", used ? "+" : "", sum_col >= 0 ? "SUMIFS" : "COUNTIFS");
		if (sum_col >= 0) {
			fb_range(f, p->name, (unsigned)sum_col, XLSX_FIRST_ROW, last);
			fb_put(f, ",");
		}
		for (size_t k = 0; k < crit_n; k++) {
			fb_range(f, p->name, (unsigned)crit[k].col, XLSX_FIRST_ROW, last);
			fb_put(f, ",");
			if (fb_criterion(f, crit[k].op, crit[k].value) < 0)
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
	if (x->header) {
		format_set_bottom(x->header, LXW_BORDER_THIN);
		format_set_indent(x->header, 1); /* over the indented text below it */
	}
	x->bold = xlsx_format(w->wb, NULL, 1);
	x->note = xlsx_format(w->wb, NULL, 0);
	if (x->note)
		format_set_italic(x->note);
	x->date = xlsx_format(w->wb, "yyyy-mm-dd", 0);
	if (x->date) /* centred: a right-aligned date would run into the text column after it */
		format_set_align(x->date, LXW_ALIGN_CENTER);
	x->count = xlsx_format(w->wb, "#,##0", 0);
	x->decimal = xlsx_format(w->wb, "0.0", 0); /* statistics: days, medians, scores (tenths) */
	x->link = xlsx_format(w->wb, NULL, 0);
	if (x->link) {
		format_set_underline(x->link, LXW_UNDERLINE_SINGLE);
		format_set_font_color(x->link, LXW_COLOR_BLUE);
	}
	x->section = xlsx_format(w->wb, NULL, 1);
	if (x->section) {
		format_set_font_size(x->section, 12);
		format_set_top(x->section, LXW_BORDER_MEDIUM);
	}
	x->text = xlsx_format(w->wb, NULL, 0);
	if (x->text)
		format_set_indent(x->text, 1);
	x->header_num = xlsx_format(w->wb, NULL, 1);
	if (x->header_num) {
		format_set_bottom(x->header_num, LXW_BORDER_THIN);
		format_set_align(x->header_num, LXW_ALIGN_RIGHT);
	}
	x->check = xlsx_format(w->wb, NULL, 1);
	if (x->check)
		format_set_align(x->check, LXW_ALIGN_CENTER);
	int ok = x->title && x->header && x->bold && x->note && x->date && x->count && x->decimal && x->link &&
		 x->section && x->check && x->text && x->header_num;
	for (int m = 0; m <= XLSX_MINOR_UNKNOWN; m++) {
		char nf[32] = "#,##0";
		if (m == XLSX_MINOR_UNKNOWN)
			snprintf(nf, sizeof nf, "#,##0.00####"); /* 2 to 6 decimals: exact to the micro */
		else if (m > 0)
			snprintf(nf, sizeof nf, "#,##0.%.*s", m, "000000");
		x->money[m] = xlsx_format(w->wb, nf, 0);
		x->money_bold[m] = xlsx_format(w->wb, nf, 1);
		/* A unit price keeps every digit it has (0.0025, not 0.00): the currency's decimals at
		 * least, two at least, up to the micro. */
		int lo = m == XLSX_MINOR_UNKNOWN || m < 2 ? 2 : m;
		snprintf(nf, sizeof nf, "#,##0.%.*s%.*s", lo, "000000", 6 - lo, "######");
		x->price[m] = xlsx_format(w->wb, nf, 0);
		ok = ok && x->money[m] && x->money_bold[m] && x->price[m];
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

/* Whether a money column is totalled: one in another currency column than the row's (the paid
 * amount of Disbursements, SPEC §4.5) is shown but never summed, its currencies differ by row. */
static int xlsx_totalled(const struct report_listing *l, size_t c)
{
	return l->cols[c].type == REPORT_MONEY && l->cols[c].currency_col == xlsx_count_col(l);
}

/* "Payouts · period 2026-10 · as of 2026-11-05T00:00:00Z: what each party is owed ...". */
static void xlsx_sheet_title(const struct xlsx_writer *w, const char *sheet, const char *question, char *out,
			     size_t size)
{
	char as_of[32];
	time_format(w->in->as_of_us, as_of);
	/* period and as-of first: a long question may run past the printed page, they must not */
	snprintf(out, size, "%s \xC2\xB7 period %s \xC2\xB7 as of %s%s%s", sheet, w->in->period, as_of,
		 question ? ": " : "", question ? question : "");
}

/* Page header and footer of every printed page: what, the period and as-of, page n of m. */
static lxw_error xlsx_page_header(const struct xlsx_writer *w, lxw_worksheet *ws)
{
	char as_of[32], head[200];
	time_format(w->in->as_of_us, as_of);
	snprintf(head, sizeof head, "&L&A&Csettle period %s, as of %s&RPage &P of &N", w->in->period, as_of);
	lxw_error le = worksheet_set_header(ws, head);
	if (le == LXW_NO_ERROR)
		le = worksheet_set_footer(ws, "&LThe CSV files are the exact record&R&A, page &P of &N");
	return le;
}

/* Orientation and scale from the columns' widths: landscape when wide, one page wide only while
 * that stays legible, never for the sheets people read line by line (Summary, Exceptions,
 * Rejected: their long sentences would shrink to nothing). */
static void xlsx_print_setup(lxw_worksheet *ws, const char *sheet, unsigned chars)
{
	int no_fit = strcmp(sheet, "Summary") == 0 || strcmp(sheet, "Exceptions") == 0 ||
		     strcmp(sheet, "Rejected") == 0;
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
	if (le == LXW_NO_ERROR && t >= 0 && xlsx_titles[t].note)
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
		le = xlsx_page_header(w, p->ws);
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

/* Text longer than Excel's cell limit is cut at a character boundary and ends with "…". */
static lxw_error xlsx_write_text_as_is(lxw_worksheet *ws, uint32_t row, unsigned col, const char *text,
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

/* 1 when s starts an OOXML escape: "_x", four hex digits, "_". */
static int xlsx_is_ooxml_escape(const char *s)
{
	if (s[0] != '_' || s[1] != 'x')
		return 0;
	for (int i = 2; i < 6; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return s[6] == '_';
}

/* Every text cell goes through here. Excel reads "_xHHHH_" in cell text as the character U+HHHH
 * (ECMA-376 ST_Xstring; libxlsxwriter uses it for control characters but writes a literal one
 * unchanged), so the text "_x003D_1+1" would show as "=1+1". Its "_" is written as the escape
 * of "_" itself, "_x005F_", and the cell shows exactly the text the CSV and the database hold. */
static lxw_error xlsx_write_text(lxw_worksheet *ws, uint32_t row, unsigned col, const char *text, lxw_format *f)
{
	size_t n = 0;
	for (const char *p = strchr(text, '_'); p; p = strchr(p + 1, '_'))
		n += (size_t)xlsx_is_ooxml_escape(p);
	if (n == 0)
		return xlsx_write_text_as_is(ws, row, col, text, f);
	char *esc = malloc(strlen(text) + 6 * n + 1), *o = esc;
	if (esc == NULL)
		return LXW_ERROR_MEMORY_MALLOC_FAILED;
	for (const char *p = text; *p; p++) {
		if (xlsx_is_ooxml_escape(p)) {
			memcpy(o, "_x005F", 6);
			o += 6;
		}
		*o++ = *p;
	}
	*o = '\0';
	lxw_error le = xlsx_write_text_as_is(ws, row, col, esc, f);
	free(esc);
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
	x->rows_n++;
	for (size_t c = 0; c < l->ncols; c++) {
		int64_t n;
		if (!xlsx_totalled(l, c) || v[c] == NULL)
			continue;
		if (xlsx_parse_int64(v[c], &n) < 0 || money_add(x->sum_micros[c], n, &x->sum_micros[c]) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the subtotal of column \"%s\" overflows", l->cols[c].name);
	}
	return 0;
}

/* The status a listing total leaves out: a failed payout was not paid (SPEC §4.5). */
#define XLSX_EXCLUDED_STATUS "FAILED"
/* The rows of Disbursements that are no payout at all: a DISBURSEMENT_FAILURE's own row (SPEC §8,
 * one row per failure). Left out of every payout total and count, like a failed payout. */
#define XLSX_FAILURE_STATUS "FAILURE"

/* Status order in subtotals: SPEC §4.5's, then any other in byte order. */
static int xlsx_status_rank(const char *status)
{
	static const char *const order[] = { "SETTLED", "MISMATCH", "FAILED" };
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (strcmp(order[i], status) == 0)
			return (int)i;
	return 3;
}

static int xlsx_sub_cmp(const void *a, const void *b)
{
	const struct xlsx_sub *x = a, *y = b;
	if (x->is_null != y->is_null)
		return x->is_null - y->is_null;
	int c = strcmp(x->cur, y->cur);
	if (c)
		return c;
	int rx = xlsx_status_rank(x->status), ry = xlsx_status_rank(y->status);
	return rx != ry ? rx - ry : strcmp(x->status, y->status);
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

/* Labels of w->bridge: the B + F + T of allocated groups, the payouts matched to a deposit. */
#define XLSX_T_BFT "allocated B+F+T"
#define XLSX_T_DEPOSITED "deposited"

/* Feeds the Summary's trackers with one row of listing number si. */
static int xlsx_track(struct xlsx_writer *w, size_t si, const char *const *v, struct err *e)
{
	const struct xlsx_roles *r = &w->roles;
	const struct report_listing *l = w->sheets[si].l;
	int64_t n = 0;
	if ((int)si == r->groups && v[r->cg_allocated] && strcmp(v[r->cg_allocated], "yes") == 0) {
		int64_t b = 0, f = 0, t = 0, bft;
		if ((v[r->cg_revenue] && xlsx_parse_int64(v[r->cg_revenue], &b) < 0) ||
		    (v[r->cg_fee] && xlsx_parse_int64(v[r->cg_fee], &f) < 0) ||
		    (v[r->cg_stax] && xlsx_parse_int64(v[r->cg_stax], &t) < 0) ||
		    money_add(b, f, &bft) != MONEY_OK || money_add(bft, t, &bft) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "bad charge group amounts");
		return xlsx_tally_add(&w->bridge, XLSX_T_BFT, v[l->cols[r->cg_revenue].currency_col], bft, e);
	}
	if ((int)si == r->disb && v[r->disb_deposit] && v[r->disb_amount] &&
	    !(v[r->disb_status] && strcmp(v[r->disb_status], XLSX_EXCLUDED_STATUS) == 0)) {
		if (xlsx_parse_int64(v[r->disb_amount], &n) < 0)
			return err_set(e, EXIT_FAILED, "bad amount \"%s\"", v[r->disb_amount]);
		return xlsx_tally_add(&w->bridge, XLSX_T_DEPOSITED, v[l->cols[r->disb_amount].currency_col], n, e);
	}
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

/* The subtotal of (t's currency, status), or NULL. */
static const struct xlsx_sub *xlsx_sub_of(const struct xlsx_sheet *s, const struct xlsx_total *t,
					  const char *status)
{
	for (size_t i = 0; i < s->subs_n; i++)
		if (s->subs[i].is_null == t->is_null && strcmp(s->subs[i].cur, t->cur) == 0 &&
		    strcmp(s->subs[i].status, status) == 0)
			return &s->subs[i];
	return NULL;
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
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the totals");
}

/* After a blank row, one totals row per currency value, on the last worksheet of the listing (a
 * new one when they do not fit below the data). */
static int xlsx_totals(struct xlsx_writer *w, struct xlsx_sheet *s, struct err *e)
{
	if (!s->l->sheet_totals || s->totals_n == 0)
		return 0;
	qsort(s->totals, s->totals_n, sizeof s->totals[0], xlsx_total_cmp);
	qsort(s->subs, s->subs_n, sizeof s->subs[0], xlsx_sub_cmp);
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

/* Column widths of every worksheet of the listing: the widest cell or the header (plus room for
 * the filter button), within XLSX_WIDTH_MIN..XLSX_WIDTH_MAX. set_column may come after the rows:
 * libxlsxwriter writes <cols> when it assembles the sheet. */
static int xlsx_widths(struct xlsx_sheet *s, struct err *e)
{
	unsigned chars = 0;
	for (size_t c = 0; c < s->l->ncols + (s->code_col >= 0); c++) {
		unsigned wd = s->width[c];
		char label[128];
		/* the header is bold (+1) and has the filter button (+3) */
		xlsx_widen(&wd, xlsx_chars(c < s->l->ncols ? xlsx_label(s->l->cols[c].name, label, sizeof label)
							   : "Status") + 4);
		if (wd < XLSX_WIDTH_MIN)
			wd = XLSX_WIDTH_MIN;
		chars += wd + 2; /* the padding between columns */
		for (size_t i = 0; i < s->parts_n; i++) {
			lxw_error le = worksheet_set_column(s->parts[i].ws, (lxw_col_t)c, (lxw_col_t)c,
							    wd + 2, NULL);
			if (le != LXW_NO_ERROR)
				return xlsx_fail(e, le, "the column widths");
		}
	}
	for (size_t i = 0; i < s->parts_n; i++)
		xlsx_print_setup(s->parts[i].ws, s->l->sheet_name, chars);
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
		if (p->rows_n + XLSX_TOP_ROWS >= w->rows_max) {
			if (xlsx_part_end(s, e) < 0 || xlsx_part_new(w, s, e) < 0)
				goto fail;
			p = &s->parts[s->parts_n - 1];
		}
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
	struct xlsx_crit crit = { s->l->cols[money_col].currency_col, cur, NULL };
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

/* ---------------------------------------------------------------------------------------------
 * The bridge (SPEC §8): per currency, how billed money becomes banked money. Columns A..E: step,
 * amount, count, check, the sheet behind it (an internal link); G..H: the largest net payables
 * by party (the payout chart's data); below: the payout chart and the aging chart of the
 * currency. Every amount is a live formula over the sheet it comes from, cached with the exact
 * sum streamed into that sheet; every check is IF(ROUND(x,6)=0,"OK",ROUND(x,6)).
 */

#define XLSX_BRIDGE_PARTY_COL 6
static void sum_page_break(struct xlsx_writer *w, uint32_t row);
static lxw_chart *xlsx_chart_new(struct xlsx_writer *w, uint8_t type, const char *title, struct err *e);

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

/* A check: OK when expr is zero to the micro, else the difference itself (a number). */
static int br_check(struct xlsx_writer *w, uint32_t row, unsigned col, const char *expr, int64_t diff,
		    int minor, struct err *e)
{
	struct xlsx_fb f = { .n = 0 };
	fb_put(&f, "=IF(ROUND(%s,6)=0,\"OK\",ROUND(%s,6))", expr, expr);
	if (f.full)
		return err_set(e, EXIT_FAILED, "a summary formula is too long");
	lxw_error le = diff == 0
			       ? worksheet_write_formula_str(w->summary, row, (lxw_col_t)col, f.s, w->fmt.check, "OK")
			       : worksheet_write_formula_num(w->summary, row, (lxw_col_t)col, f.s,
							     w->fmt.money_bold[minor], money_to_double_for_stats(diff));
	xlsx_widen(&w->swidth[col], diff == 0 ? 3 : xlsx_money_chars(diff, minor) + 2);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "a formula");
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
	int link;                      /* a sheet to link to, -1 none */
	int bold;
};

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
		/* Hook for the account feed's names (SPEC §1): none yet, the account id labels the bar. */
		if (sum_text(w, row, pc, p->account, NULL, 1, e) < 0)
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
		if (f.full || f.n >= sizeof exprs[0][2])
			return err_set(e, EXIT_FAILED, "a summary formula is too long");
		memcpy(exprs[n - 1][2], f.s, f.n + 1);
		x->check = exprs[n - 1][2];
		x->check_diff = earned - net;
		x->link = r->groups;
	}
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
			if (f.full || f.n >= sizeof exprs[0][2])
				return err_set(e, EXIT_FAILED, "a summary formula is too long");
			memcpy(exprs[n - 1][2], f.s, f.n + 1);
			x->check = exprs[n - 1][2];
			x->check_diff = v - xlsx_tally_get(&w->bridge, XLSX_T_BFT, cur, 0);
		}
	}
	if (r->payouts >= 0 && r->pay_payable >= 0 && r->pay_rounding >= 0) {
		const struct xlsx_sheet *s = &w->sheets[r->payouts];
		int64_t v = xlsx_sheet_sum(s, r->pay_payable, cur);
		int64_t rd = xlsx_sheet_sum(s, r->pay_rounding, cur);
		int cc = s->l->cols[r->pay_payable].currency_col;
		x = BR_NEW();
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
			if (f.full || f.n >= sizeof exprs[0][2])
				return err_set(e, EXIT_FAILED, "a summary formula is too long");
			memcpy(exprs[n - 1][2], f.s, f.n + 1);
			x->check = exprs[n - 1][2];
			x->check_diff = v - st[n - 2].amount - rd;
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
			x->label = labels[k];
			x->si = r->disb;
			x->money_col = r->disb_amount;
			x->crit[0] = (struct xlsx_crit){ cc, cur, NULL };
			x->crit[1] = (struct xlsx_crit){ r->disb_status, statuses[k], NULL };
			x->crit_n = 2;
			x->amount = xlsx_sub_sum(d, cur, statuses[k], r->disb_amount, 0);
			x->has_count = 1;
			x->count_si = r->disb;
			x->count = xlsx_sub_sum(d, cur, statuses[k], -1, 1);
			x->link = r->disb;
			if (k == 1) { /* the amount by which mismatched payouts differ from their lines */
				struct xlsx_fb f = { .n = 0 };
				if (fb_aggregate(&f, d, r->disb_diff, x->crit, 2) < 0 || f.n >= sizeof exprs[0][2])
					return err_set(e, EXIT_FAILED, "a summary formula is too long");
				memcpy(exprs[n - 1][2], f.s, f.n + 1);
				x->check = exprs[n - 1][2];
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
			if (f.full || f.n >= sizeof exprs[0][2])
				return err_set(e, EXIT_FAILED, "a summary formula is too long");
			memcpy(exprs[n - 1][2], f.s, f.n + 1);
			x->check = exprs[n - 1][2];
			x->check_diff = rest;
		}
		(void)dt;
		x->link = r->disb;
		size_t disb_row = n - 1;
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
			x->label = labels[k];
			x->si = r->aging;
			x->money_col = r->aging_amount;
			x->crit[0] = (struct xlsx_crit){ cc, cur, NULL };
			x->crit[1] = (struct xlsx_crit){ r->aging_bucket, labels[k], NULL };
			x->crit_n = 2;
			x->amount = xlsx_tally_get(&w->aging, labels[k], cur, 0);
			x->has_count = 1;
			x->count_si = r->aging;
			x->count = xlsx_tally_get(&w->aging, labels[k], cur, 1);
			x->link = r->aging;
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
		if (f.full || f.n >= sizeof exprs[0][2])
			return err_set(e, EXIT_FAILED, "a summary formula is too long");
		memcpy(exprs[n - 1][2], f.s, f.n + 1);
		x->check = exprs[n - 1][2];
		x->check_diff = total - xlsx_sheet_sum(s, r->aging_amount, cur);
		x->link = r->aging;
	}
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
			if (x->check && br_check(w, row, 3, x->check, x->check_diff, minor, e) < 0)
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

/* One bridge per currency of the charge groups, allocations, payouts, disbursements and aging
 * (byte order). */
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
	qsort(curs, n, XLSX_KEY_MAX, (int (*)(const void *, const void *))strcmp);
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

static int sum_write(struct xlsx_writer *w, struct err *e)
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
	w->breaks[w->breaks_n] = 0;
	if (w->breaks_n > 0 && worksheet_set_h_pagebreaks(w->summary, w->breaks) != LXW_NO_ERROR)
		return err_set(e, EXIT_FAILED, "sheet \"Summary\": could not set the page breaks");
	lxw_error le = xlsx_page_header(w, w->summary);
	return le == LXW_NO_ERROR ? 0 : xlsx_fail(e, le, "the page header of the Summary");
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
	char title[512];
	lxw_worksheet *ws = workbook_add_worksheet(w->wb, XLSX_CHARTS_SHEET);
	if (ws == NULL)
		return err_set(e, EXIT_FAILED, "could not add sheet \"%s\"", XLSX_CHARTS_SHEET);
	worksheet_set_landscape(ws);
	worksheet_fit_to_pages(ws, 1, 0);
	if (xlsx_page_header(w, ws) != LXW_NO_ERROR)
		return err_set(e, EXIT_FAILED, "sheet \"%s\": could not set the page header", XLSX_CHARTS_SHEET);
	xlsx_sheet_title(w, XLSX_CHARTS_SHEET, "how usage and payment timing behave", title, sizeof title);
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
		/* The system's reason when there is one ("No space left on device"), else the library's. */
		rc = err_set(e, EXIT_FAILED, "could not write \"%s\": %s", p->path,
			     p->zip_errno ? strerror(p->zip_errno) : lxw_strerror(p->result));
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
