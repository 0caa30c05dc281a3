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
 * Long listings. A detail sheet whose listing has more rows than the configuration's
 * workbook_detail_rows shows the listing's subtotals per offer or party instead (the server
 * groups; report_xlsx_sheet.c "Long detail sheets"); the Summary's formulas select on columns
 * every subtotal keeps and count by summing its Rows column, so they tie out the same.
 *
 * Text is always written with worksheet_write_string, never as a formula, whatever it starts with.
 *
 * Determinism (SPEC §6): the only inputs are the database rows, the run input and SETTLE_VERSION;
 * the document's created/modified dates are the run's as-of (libxlsxwriter 1.1.4 stamps every zip
 * entry 1980-01-01 00:00 and writes the core dates in UTC), so two writes give the same bytes.
 *
 * Files. This one holds the entry points, the workbook's set-up, the small helpers and the formula
 * builder; report_xlsx_sheet.c the listing sheets (cells, totals, widths, account names),
 * report_xlsx_summary.c what the Summary keeps while the listings stream and its blocks,
 * report_xlsx_bridge.c the Summary's bridge from billed to banked and the Summary's assembly,
 * report_xlsx_charts.c the Insight charts and Metering by day sheets. report_xlsx_int.h is what
 * they share.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report_xlsx_int.h"
#include "currency.h"
#include "log.h"
#include "money.h"
#include "report_xlsx_restatement.h"
#include "timeutil.h"

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 */

/* A libxlsxwriter error. Callers add the sheet ("sheet \"Payouts\": could not write a cell: ..."). */
int xlsx_fail(struct err *e, lxw_error le, const char *what)
{
	return err_set(e, EXIT_FAILED, "could not write %s: %s", what, lxw_strerror(le));
}

/* Characters (code points) of UTF-8 text, for column widths. */
size_t xlsx_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

void xlsx_widen(unsigned *width, size_t chars)
{
	if (chars > XLSX_WIDTH_MAX)
		chars = XLSX_WIDTH_MAX;
	if (*width < chars)
		*width = (unsigned)chars;
}

/* Strict -?[0-9]{1,19} into int64, overflow-checked (the cursor's text of a bigint). */
int xlsx_parse_int64(const char *s, int64_t *out)
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
int xlsx_parse_date(const char *s, double *serial)
{
	int64_t us;
	if (strlen(s) != 10 || time_parse(s, 10, &us) < 0)
		return -1;
	*serial = (double)time_day_of(us) + 25569.0;
	return 0;
}

/* Format slot of a currency value: its minor units, or XLSX_MINOR_UNKNOWN. */
int xlsx_minor(const char *cur)
{
	if (cur == NULL)
		return XLSX_MINOR_UNKNOWN;
	int m = currency_minor_units(cur, strlen(cur));
	return m < 0 || m > 6 ? XLSX_MINOR_UNKNOWN : m;
}

/* Display width of an amount in the "#,##0.00" family: sign, digits, group separators and the
 * currency's decimals (an unknown currency shows up to 6). */
size_t xlsx_money_chars(int64_t micros, int minor)
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
size_t xlsx_price_chars(int64_t micros, int minor)
{
	size_t lo = minor == XLSX_MINOR_UNKNOWN || minor < 2 ? 2 : (size_t)minor;
	size_t frac = 6;
	for (int64_t m = micros < 0 ? -(micros % 1000000) : micros % 1000000; frac > lo && m % 10 == 0; m /= 10)
		frac--;
	size_t base = xlsx_money_chars(micros, 0); /* sign, integer digits and separators */
	return base + 1 + frac;
}

/* Display width of a REPORT_DECIMAL in the "0.0" format: sign, integer digits, one decimal. */
size_t xlsx_decimal_chars(const char *text)
{
	size_t int_chars = strcspn(text, ".");
	return int_chars + 2;
}

/* Excel column letters (A .. XFD). */
void xlsx_col_name(unsigned col, char out[4])
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
const char *xlsx_label(const char *name, char *out, size_t size)
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

/* ---------------------------------------------------------------------------------------------
 * Formulas. Built in a fixed buffer; too long (Excel's limit) is reported, never truncated.
 */


__attribute__((format(printf, 2, 3))) void fb_put(struct xlsx_fb *f, const char *fmt, ...)
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
void fb_range(struct xlsx_fb *f, const char *sheet, unsigned col, uint32_t row_first,
	      uint32_t row_last)
{
	char c[4];
	xlsx_col_name(col, c);
	fb_put(f, "'");
	for (const char *p = sheet; *p; p++)
		fb_put(f, *p == '\'' ? "''" : "%c", *p);
	fb_put(f, "'!$%s$%" PRIu32 ":$%s$%" PRIu32, c, row_first, c, row_last);
}

void fb_cell(struct xlsx_fb *f, unsigned col, uint32_t row0)
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


/* Σ of column sum_col (or, when sum_col < 0, the count of rows) over the data rows of every part
 * of s whose crit columns equal the crit values: SUM(...) without criteria, else
 * SUMIFS(...)+SUMIFS(...) / COUNTIFS(...)+..., one term per part. An empty listing is 0. */
int fb_aggregate(struct xlsx_fb *f, const struct xlsx_sheet *s, int sum_col,
		 const struct xlsx_crit *crit, size_t crit_n)
{
	size_t used = 0;
	if (sum_col < 0 && s->rows_col >= 0)
		sum_col = s->rows_col; /* a sheet of subtotals: its Rows column counts the listing's rows */
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
	if (xlsx_names_load(w, e) < 0)
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
		xlsx_view_init(w, &w->sheets[w->sheets_n++], l);
	}
	xlsx_roles_find(w);
	for (size_t i = 0; i < w->sheets_n; i++) {
		double t0 = log_clock();
		if (xlsx_sheet_write(w, i, e) < 0)
			return -1;
		char phase[64]; /* SETTLE_RECONCILE_TIMING: the time of each sheet */
		snprintf(phase, sizeof phase, "sheet %s%s", w->sheets[i].l->sheet_name,
			 w->sheets[i].collapsed ? " (subtotals)" : "");
		log_phase("report", w->in->period, phase, t0);
		/* the metering chart's sheet sits beside Metering */
		if (strcmp(w->sheets[i].l->sheet_name, "Metering") == 0 && xlsx_meter_days(w, e) < 0)
			return -1;
	}
	double t0 = log_clock();
	if (xlsx_charts_write(w, e) < 0)
		return -1;
	log_phase("report", w->in->period, "sheet Insight charts", t0);
	t0 = log_clock();
	int rc = sum_write(w, e);
	log_phase("report", w->in->period, "sheet Summary", t0);
	return rc;
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
	PQclear(w->names);
	p->wb = w->wb;
	p->threaded = pthread_create(&p->thread, NULL, xlsx_close_thread, p) == 0;
	if (!p->threaded) /* no thread to be had: zip here */
		xlsx_close_thread(p);
	free(w);
	*out = p;
	return 0;
fail:
	PQclear(w ? w->names : NULL);
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
