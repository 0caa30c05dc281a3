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
 * Files, top to bottom (each calls only the files below it: no two call each other). This one
 * holds the entry points and the workbook's set-up; report_xlsx_bridge.c the Summary's bridge from
 * billed to banked and the Summary's assembly; report_xlsx_charts.c the Insight charts and
 * Metering by day sheets; report_xlsx_sheet.c the listing sheets (cells, totals, widths, account
 * names); report_xlsx_summary.c what the Summary keeps while the listings stream and its blocks;
 * report_xlsx_restatement.c the Restatement sheet; report_xlsx_cells.c, at the bottom, the small
 * helpers every sheet uses (lengths, parsing, words, text cells, the formula builder).
 * report_xlsx_int.h is what they share.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
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
	x->wrap = xlsx_format(w->wb, NULL, 0);
	if (x->wrap) { /* a sentence stays in its column, line under line, its last line on the row's line */
		format_set_text_wrap(x->wrap);
		format_set_indent(x->wrap, 1);
	}
	int ok = x->title && x->header && x->bold && x->note && x->date && x->count && x->decimal && x->link &&
		 x->section && x->check && x->text && x->header_num && x->wrap;
	for (int k = 0; k <= XLSX_QTY_DECIMALS_MAX; k++) {
		char nf[32];
		snprintf(nf, sizeof nf, "#,##0%s%.*s", k ? "." : "", k, "000000000000000");
		x->qty[k] = xlsx_format(w->wb, nf, 0);
		ok = ok && x->qty[k];
	}
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
	if (xlsx_names_load(w, e) < 0 || xlsx_order_load(w, e) < 0)
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
