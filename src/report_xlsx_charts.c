/* report_xlsx_charts.c — the workbook's chart sheets: Insight charts (issue 6: payment timing
 * histograms, the usage of the most anomalous series) and Metering by day (issue 14), each chart
 * drawn from a block of cells on its own sheet.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_xlsx_int.h"
#include "money.h"

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

lxw_chart *xlsx_chart_new(struct xlsx_writer *w, uint8_t type, const char *title, struct err *e)
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

int xlsx_charts_write(struct xlsx_writer *w, struct err *e)
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
 * Metering by day (issue 14): for each offer whose metered and recorded usage differ (SPEC §4.6
 * three-way, USAGE_RECORD_MISMATCH), the days of the month with what was metered (the seller's
 * Success records), recorded (the marketplace's daily usage feed) and billed, and a line chart
 * of the three, on a sheet beside Metering. Values are at the offer's unit prices, so the three
 * series of a multi-dimension offer add up and the billed amount (per offer, not per dimension:
 * metering.csv repeats it on each dimension row) compares with them.
 *
 * The query maps each day's metering sum to its offer as reconcile_usage.c does (match.c's
 * match_usage_offer: by agreement when some USAGE offer has it, else by buyer and product code
 * valid on the day; exactly one offer, or none) and the daily usage rows by agreement, else
 * offer id; billed is the revenue of the offer's charge groups by invoice date. A block whose
 * days do not add up to its metering.csv rows (quantities, recorded quantities, billed) says so
 * in its caption: metering.csv is the record, the chart a picture of it.
 */
#define XLSX_METER_SHEET "Metering by day"
#define XLSX_METER_OFFERS_MAX 32 /* offers charted; the rest are named in one line */

static const char xlsx_meter_days_sql[] =
	"WITH r AS (SELECT as_of FROM settle.run WHERE run_id = $1::bigint),"
	" p AS (SELECT ($2::text || '-01')::date AS d0, (($2::text || '-01')::date + interval '1 month')::date AS d1),"
	" mr AS MATERIALIZED (SELECT offer_id, dimension, currency, quantity, recorded_quantity, unit_price_micros,"
	"                            billed_micros FROM settle.metering_result"
	"  WHERE run_id = $1::bigint AND period = $2::text"
	"    AND offer_id IN (SELECT offer_id FROM settle.metering_result WHERE run_id = $1::bigint"
	"                       AND period = $2::text AND recorded_quantity IS NOT NULL"
	"                       AND recorded_quantity <> quantity)),"
	" o AS MATERIALIZED (SELECT t.offer_id, t.agreement_id, t.product_code, t.buyer_account_id, t.valid_from,"
	"                           t.valid_until FROM r, settle.offer_terms_asof(r.as_of) t"
	"                    WHERE t.pricing_model = 'USAGE'),"
	" acct AS MATERIALIZED (SELECT m.id, m.account_key FROM r, settle.account_map(r.as_of) m),"
	" md AS (SELECT d.agreement_id, settle.account_ident(d.customer_aws_account_id, a.account_key) AS customer,"
	"               d.product_code, d.dimension, d.usage_day AS day, sum(d.quantity)::numeric AS q"
	"        FROM r, p, settle.metering_daily d"
	"        LEFT JOIN acct a ON a.id = settle.account_pad(d.customer_aws_account_id)"
	"        WHERE d.file_id IN (SELECT v.file_id FROM settle.visible_files(r.as_of) v)"
	"          AND d.usage_day >= p.d0 AND d.usage_day < p.d1 AND d.dimension IN (SELECT dimension FROM mr)"
	"        GROUP BY 1, 2, 3, 4, 5),"
	" mc AS (SELECT CASE WHEN ag.n > 0 THEN CASE WHEN ag.n = 1 THEN ag.offer_id END"
	"                    WHEN bc.n = 1 THEN bc.offer_id END AS offer_id, md.dimension, md.day, md.q"
	"        FROM md"
	"        CROSS JOIN LATERAL (SELECT count(*) AS n, min(o.offer_id) AS offer_id FROM o"
	"                            WHERE md.agreement_id <> '' AND o.agreement_id = md.agreement_id) ag"
	"        CROSS JOIN LATERAL (SELECT count(*) AS n, min(o.offer_id) AS offer_id FROM o"
	"                            WHERE o.buyer_account_id = md.customer AND o.product_code = md.product_code"
	"                              AND (o.valid_from IS NULL OR md.day >= o.valid_from)"
	"                              AND (o.valid_until IS NULL OR md.day <= o.valid_until)) bc),"
	" ru AS (SELECT coalesce((SELECT min(o.offer_id) FROM o WHERE o.agreement_id = u.agreement_id),"
	"                        (SELECT min(o.offer_id) FROM o WHERE o.offer_id = u.offer_id)) AS offer_id,"
	"               u.dimension_key AS dimension, u.usage_date::date AS day, sum(u.usage_quantity) AS q"
	"        FROM r, p, settle.sdds_daily_usage_asof(r.as_of) u"
	"        WHERE u.usage_date >= p.d0 AND u.usage_date < p.d1 AND u.dimension_key IS NOT NULL"
	"          AND u.usage_quantity IS NOT NULL"
	"        GROUP BY 1, 2, 3),"
	" bd AS (SELECT coalesce(g.matched_offer_id, g.offer_id) AS offer_id, g.group_date::date AS day,"
	"               sum(g.revenue_micros) AS v FROM settle.charge_group g"
	"        WHERE g.run_id = $1::bigint AND g.period = $2::text"
	"          AND coalesce(g.matched_offer_id, g.offer_id) IN (SELECT offer_id FROM mr) GROUP BY 1, 2),"
	" mv AS (SELECT mc.offer_id, mc.day, sum(mc.q * mr.unit_price_micros) AS v FROM mc"
	"        JOIN mr ON mr.offer_id = mc.offer_id AND mr.dimension = mc.dimension"
	"        WHERE mr.unit_price_micros IS NOT NULL GROUP BY 1, 2),"
	" rv AS (SELECT ru.offer_id, ru.day, sum(ru.q * mr.unit_price_micros) AS v FROM ru"
	"        JOIN mr ON mr.offer_id = ru.offer_id AND mr.dimension = ru.dimension"
	"        WHERE mr.unit_price_micros IS NOT NULL GROUP BY 1, 2),"
	" dq AS (SELECT mr.offer_id,"
	"               bool_and(coalesce((SELECT sum(q) FROM mc WHERE mc.offer_id = mr.offer_id"
	"                                    AND mc.dimension = mr.dimension), 0) = mr.quantity"
	"                        AND (mr.recorded_quantity IS NULL OR coalesce((SELECT sum(q) FROM ru"
	"                             WHERE ru.offer_id = mr.offer_id AND ru.dimension = mr.dimension), 0)"
	"                             = mr.recorded_quantity)) AS ok,"
	"               min(mr.currency) AS currency, min(mr.billed_micros) AS billed,"
	"               string_agg(mr.dimension || ': metered ' || mr.quantity || ', recorded '"
	"                          || coalesce(mr.recorded_quantity::text, '-'), '; '"
	"                          ORDER BY mr.dimension COLLATE \"C\") AS dims"
	"        FROM mr GROUP BY 1)"
	" SELECT dq.offer_id, dq.currency, to_char(d.day, 'YYYY-MM-DD'), round(coalesce(mv.v, 0))::bigint,"
	"        round(coalesce(rv.v, 0))::bigint, coalesce(bd.v, 0)::bigint,"
	"        dq.ok AND coalesce((SELECT sum(b.v) FROM bd b WHERE b.offer_id = dq.offer_id), 0) = dq.billed, dq.dims"
	" FROM dq CROSS JOIN p"
	" CROSS JOIN LATERAL (SELECT g::date AS day FROM generate_series(p.d0, p.d1 - 1, interval '1 day') g) d"
	" LEFT JOIN mv ON mv.offer_id = dq.offer_id AND mv.day = d.day"
	" LEFT JOIN rv ON rv.offer_id = dq.offer_id AND rv.day = d.day"
	" LEFT JOIN bd ON bd.offer_id = dq.offer_id AND bd.day = d.day"
	" ORDER BY dq.offer_id COLLATE \"C\", d.day";
enum { MD_OFFER, MD_CURRENCY, MD_DAY, MD_METERED, MD_RECORDED, MD_BILLED, MD_OK, MD_DIMS, MD_N };

/* One offer's block: its title, the caption, the header, the days; the chart beside it. */
static int xlsx_meter_block(struct xlsx_writer *w, lxw_worksheet *ws, PGresult *res, int first, int last,
			    uint32_t *row, struct err *e)
{
	const char *offer = PQgetvalue(res, first, MD_OFFER);
	const char *cur = PQgetisnull(res, first, MD_CURRENCY) ? NULL : PQgetvalue(res, first, MD_CURRENCY);
	int minor = xlsx_minor(cur);
	int ok = strcmp(PQgetvalue(res, first, MD_OK), "t") == 0;
	static const char *const heads[] = { "Day", "Metered", "Recorded", "Billed" };
	char text[1024], id[4 * XLSX_CHART_TITLE_CHARS + 8];
	xlsx_title_id(offer, id, sizeof id);
	snprintf(text, sizeof text, "Offer %s%s%s%s", id, cur ? " (" : "", cur ? cur : "", cur ? ")" : "");
	uint32_t r = *row;
	if (xlsx_charts_text(ws, r++, 0, text, w->fmt.section, e) < 0)
		return -1;
	snprintf(text, sizeof text, "Month (units): %.700s.%s", PQgetvalue(res, first, MD_DIMS),
		 ok ? "" : " The days below do not add up to metering.csv's month (which is the record).");
	if (xlsx_charts_text(ws, r++, 0, text, w->fmt.note, e) < 0)
		return -1;
	for (unsigned c = 0; c < 4; c++)
		if (xlsx_charts_text(ws, r, c, heads[c], c ? w->fmt.header_num : w->fmt.header, e) < 0)
			return -1;
	uint32_t head = r++, top = r;
	for (int i = first; i < last; i++, r++) {
		if (xlsx_charts_text(ws, r, 0, PQgetvalue(res, i, MD_DAY), NULL, e) < 0)
			return -1;
		for (unsigned c = 0; c < 3; c++) {
			int64_t v;
			if (xlsx_parse_int64(PQgetvalue(res, i, MD_METERED + (int)c), &v) < 0)
				return err_set(e, EXIT_FAILED, "offer %s: a daily value is out of range", id);
			if (xlsx_charts_number(ws, r, c + 1, money_to_double_for_stats(v), w->fmt.money[minor], e) < 0)
				return -1;
		}
	}
	snprintf(text, sizeof text, "Offer %s: metered, recorded and billed per day, at its unit prices", id);
	lxw_chart *ch = xlsx_chart_new(w, LXW_CHART_LINE, text, e);
	if (ch == NULL)
		return -1;
	static const char *const names[] = { "Metered (seller's Success records)", "Recorded (daily usage feed)",
					     "Billed (charge groups)" };
	for (unsigned c = 0; c < 3; c++) {
		lxw_chart_series *se = chart_add_series(ch, NULL, NULL);
		if (se == NULL)
			return err_set(e, EXIT_FAILED, "could not add a chart series");
		chart_series_set_categories(se, XLSX_METER_SHEET, top, 0, r - 1, 0);
		chart_series_set_values(se, XLSX_METER_SHEET, top, (lxw_col_t)(c + 1), r - 1, (lxw_col_t)(c + 1));
		chart_series_set_name(se, names[c]);
		chart_series_set_marker_type(se, LXW_CHART_MARKER_CIRCLE);
		chart_series_set_marker_size(se, 4);
	}
	chart_axis_set_interval_unit(ch->x_axis, 7); /* a label a week; the block names every day */
	chart_axis_set_num_format(ch->y_axis, minor == 0 ? "#,##0" : minor == 3 ? "#,##0.000" : "#,##0.00");
	chart_legend_set_position(ch, LXW_CHART_LEGEND_BOTTOM);
	lxw_chart_font small = { .size = 11, .bold = LXW_TRUE };
	chart_title_set_name_font(ch, &small);
	lxw_chart_options opt = { .x_offset = 10, .x_scale = 1.3, .y_scale = 1.6 };
	lxw_error le = worksheet_insert_chart_opt(ws, head, 5, ch, &opt);
	if (le != LXW_NO_ERROR)
		return xlsx_fail(e, le, "a chart");
	*row = r + 1;
	return 0;
}

/* The sheet, right after Metering's; only when some offer's metered and recorded usage differ. */
int xlsx_meter_days(struct xlsx_writer *w, struct err *e)
{
	static const double widths[] = { 12, 16, 16, 16 };
	char run[24], title[512];
	snprintf(run, sizeof run, "%" PRId64, w->in->run_id);
	const char *params[2] = { run, w->in->period };
	PGresult *res = db_query(w->db, xlsx_meter_days_sql, 2, params, PGRES_TUPLES_OK, e);
	if (res == NULL)
		return err_prefix(e, "sheet \"%s\"", XLSX_METER_SHEET);
	ASSERT(PQnfields(res) == MD_N);
	int n = PQntuples(res), rc = -1, offers = 0, more = 0;
	lxw_row_t breaks[XLSX_METER_OFFERS_MAX + 1] = { 0 };
	if (n == 0) {
		PQclear(res);
		return 0;
	}
	lxw_worksheet *ws = workbook_add_worksheet(w->wb, XLSX_METER_SHEET);
	if (ws == NULL) {
		PQclear(res);
		return err_set(e, EXIT_FAILED, "could not add sheet \"%s\"", XLSX_METER_SHEET);
	}
	worksheet_set_paper(ws, 9);
	worksheet_set_landscape(ws);
	worksheet_fit_to_pages(ws, 1, 0);
	if (xlsx_page_header(w, ws) != LXW_NO_ERROR) {
		err_set(e, EXIT_FAILED, "could not set the page header");
		goto done;
	}
	xlsx_sheet_title(w, XLSX_METER_SHEET,
			 "what was metered, what the marketplace recorded and what it billed, per day, for the "
			 "offers whose metered and recorded usage differ",
			 title, sizeof title);
	if (xlsx_charts_text(ws, 0, 0, title, w->fmt.title, e) < 0 ||
	    xlsx_charts_text(ws, 1, 0,
			     "At the offer's unit prices. Metered: the seller's Success records; recorded: the "
			     "marketplace's daily usage feed; billed: the offer's charge groups by invoice date. "
			     "Sheet Metering and metering.csv have the month per dimension.",
			     w->fmt.note, e) < 0)
		goto done;
	uint32_t row = 3;
	for (int i = 0; i < n;) {
		int j = i;
		while (j < n && strcmp(PQgetvalue(res, j, MD_OFFER), PQgetvalue(res, i, MD_OFFER)) == 0)
			j++;
		if (offers < XLSX_METER_OFFERS_MAX) {
			if (offers > 0)
				breaks[offers - 1] = row; /* an offer a printed page */
			if (xlsx_meter_block(w, ws, res, i, j, &row, e) < 0)
				goto done;
			offers++;
		} else {
			more++;
		}
		i = j;
	}
	if (more) {
		char text[160];
		snprintf(text, sizeof text, "%d more offers differ; sheet Metering and metering.csv list them.", more);
		if (xlsx_charts_text(ws, row, 0, text, w->fmt.note, e) < 0)
			goto done;
	}
	for (unsigned c = 0; c < sizeof widths / sizeof widths[0]; c++)
		if (worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, widths[c], NULL) != LXW_NO_ERROR) {
			err_set(e, EXIT_FAILED, "could not set the column widths");
			goto done;
		}
	if (offers > 1 && worksheet_set_h_pagebreaks(ws, breaks) != LXW_NO_ERROR) {
		err_set(e, EXIT_FAILED, "could not set the page breaks");
		goto done;
	}
	rc = 0;
done:
	PQclear(res);
	return rc < 0 ? err_prefix(e, "sheet \"%s\"", XLSX_METER_SHEET) : 0;
}
