/* report_xlsx_cells.c — the small helpers every file of the workbook writer uses (report_xlsx.c
 * has the shape of a write): a libxlsxwriter error as an err, lengths and widths, the server's
 * numbers and dates parsed, the words of the headers, text cells (cut and escaped), a listing's
 * count column, a sheet's subtotal, and the formula builder. The bottom of the writer: it calls
 * no other report_xlsx*.c file, so that every one of them calls down into it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_xlsx_int.h"
#include "currency.h"
#include "money.h"
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

/* Display width of a quantity as shown with its own decimals and grouping: "12,345.25". */
size_t xlsx_quantity_chars(const char *text)
{
	const char *digits = text[0] == '-' ? text + 1 : text;
	size_t int_chars = strcspn(digits, ".");
	return strlen(text) + (int_chars > 0 ? (int_chars - 1) / 3 : 0);
}

/* A column of usage quantities (metering.csv quantity, recorded_quantity): grouped thousands,
 * and exactly the decimals the value has (quantities are exact decimals, never rounded). */
int xlsx_is_quantity(const char *name)
{
	size_t n = strlen(name);
	return n >= 8 && strcmp(name + n - 8, "quantity") == 0;
}

/* A column of sentences (an exception's or a rejected row's detail, an insight's note): wrapped
 * in its column, cut at XLSX_SENTENCE_CHARS. */
int xlsx_is_sentence(const char *name)
{
	return strcmp(name, "detail") == 0 || strcmp(name, "note") == 0;
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

/* The order of two currency codes in the workbook (w->cur_order, then byte order): < 0, 0, > 0. */
int xlsx_cur_cmp(const struct xlsx_writer *w, const char *a, const char *b)
{
	size_t ra = w->cur_order_n, rb = w->cur_order_n;
	for (size_t i = 0; i < w->cur_order_n; i++) {
		if (strcmp(w->cur_order[i], a) == 0)
			ra = i;
		if (strcmp(w->cur_order[i], b) == 0)
			rb = i;
	}
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(a, b);
}

/* xlsx_cur_cmp for qsort_r over arrays of char[XLSX_KEY_MAX]; w is the writer. */
int xlsx_cur_qsort_cmp(const void *a, const void *b, void *w)
{
	return xlsx_cur_cmp(w, a, b);
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
	{ "payout_lines", "Paid by as-of" },
	{ "reference_remainder", "Ref. remainder" },
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
 * Text cells, count columns and subtotals (the listing sheets and the Summary both use them)
 */

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
lxw_error xlsx_write_text(lxw_worksheet *ws, uint32_t row, unsigned col, const char *text, lxw_format *f)
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

/* xlsx_write_text, cut after chars_max characters (at a character boundary) with "…" when
 * longer: the sheet shows the start of a long sentence, the CSV file all of it. */
lxw_error xlsx_write_text_cut(lxw_worksheet *ws, uint32_t row, unsigned col, const char *text, lxw_format *f,
			      size_t chars_max)
{
	ASSERT(chars_max > 1);
	if (xlsx_chars(text) <= chars_max)
		return xlsx_write_text(ws, row, col, text, f);
	size_t keep = 0, chars = 0;
	while (text[keep] && chars < chars_max - 1) {
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
	lxw_error le = xlsx_write_text(ws, row, col, cut, f);
	free(cut);
	return le;
}

/* The currency column of the listing's first money column: rows are counted by its value. -1
 * when the listing has no money. */
int xlsx_count_col(const struct report_listing *l)
{
	for (size_t c = 0; c < l->ncols; c++)
		if (l->cols[c].type == REPORT_MONEY)
			return l->cols[c].currency_col;
	return -1;
}

/* The subtotal of (t's currency, status), or NULL. */
const struct xlsx_sub *xlsx_sub_of(const struct xlsx_sheet *s, const struct xlsx_total *t,
				   const char *status)
{
	for (size_t i = 0; i < s->subs_n; i++)
		if (s->subs[i].is_null == t->is_null && strcmp(s->subs[i].cur, t->cur) == 0 &&
		    strcmp(s->subs[i].status, status) == 0)
			return &s->subs[i];
	return NULL;
}
