/* report_xlsx.h — the accountants' workbook settle-YYYY-MM.xlsx (SPEC §8), rendered from the same
 * listings (report_listing.h) as the CSV files, with libxlsxwriter in constant-memory mode. What the
 * workbook holds (sheets, formats, formulas, charts, limits) is docs/workbook.md.
 *
 * Every report_listings[] entry with a sheet_name becomes a sheet, in table order; the one named
 * "Summary" is rendered inside the Summary sheet (first tab), which also carries the control
 * totals, counts, the insight figures, charts and run facts. A last sheet, "Insight charts", holds
 * the data blocks and charts of report_insight_data[] (issue 6). Memory stays constant whatever the
 * row count.
 */
#ifndef SETTLE_REPORT_XLSX_H
#define SETTLE_REPORT_XLSX_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

struct close_view;

/* One fact of the run for the Summary sheet (the same key/value pairs as run.csv). */
struct report_fact {
	const char *key;
	const char *value;
};

struct report_xlsx_input {
	int64_t run_id;
	const char *period;              /* "2026-10" */
	int64_t as_of_us;                /* document properties carry this, never the wall clock */
	const struct report_fact *facts; /* run facts: version, as-of, config, input files + SHA-256 */
	size_t facts_n;
	const struct close_view *restatement; /* non-NULL in a P.restated set: a last sheet
					       * "Restatement" (report_xlsx_restatement.c) */
	int detail_rows;                 /* config workbook_detail_rows: a detail sheet whose listing
					  * has more rows shows its subtotals (0: never) */
};

/* report_xlsx_start writes the workbook to path (the caller renames it into place), streaming each
 * listing of run_id and period with report_cursor_* on db (inside the caller's transaction).
 * Byte-identical for the same database content, run inputs and settle version, whatever TZ (the
 * process must run with LC_NUMERIC "C", as main.c sets it: libxlsxwriter prints numbers with the
 * C library). Temporary files go to path's directory and are unlinked at once. Fails (-1, e
 * filled, path removed) when the file cannot be written, a listing would need more than 32
 * worksheets of 1,048,576 rows, or a Summary figure does not tie out with the sheet it sums
 * (insight counts included). A detail sheet whose listing has more than in->detail_rows rows
 * shows its subtotals per offer or party (docs/workbook.md "Long detail sheets"); the CSV keeps
 * every row. Test hook: SETTLE_XLSX_MAX_ROWS=N (8..1048576) lowers the rows per
 * worksheet to exercise the continuation sheets.
 *
 * It works in two halves: start writes every sheet (reading the database) and leaves the zip to
 * a thread of its own; finish waits for it. Between the two the caller may use the database and
 * write other files, but not call libxlsxwriter. finish must be called once start has returned 0
 * (it frees *out); on failure either half removes the file. */
struct report_xlsx_pending;
int report_xlsx_start(struct db *db, const struct report_xlsx_input *in, const char *path,
		      struct report_xlsx_pending **out, struct err *e);
int report_xlsx_finish(struct report_xlsx_pending *pending, struct err *e);

#endif
