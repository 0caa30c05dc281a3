/* report.h — the one report model both writers render (SPEC §8).
 *
 * A listing is a query over one run's results plus the description of its columns. The CSV writer
 * (report_csv.c) and the workbook writer (report_xlsx.c) iterate the same listings with the same
 * cursor, so the CSV and the sheet cannot show different numbers. Rows stream from the server
 * (single-row mode); nothing holds a whole listing in memory.
 */
#ifndef SETTLE_REPORT_H
#define SETTLE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

enum report_col_type {
	REPORT_TEXT,   /* text from the data: CSV-escaped, formula-guarded (SPEC §8), a string cell */
	REPORT_MONEY,  /* bigint micros as decimal text; formatted with the row's currency */
	REPORT_INT,    /* integer count */
	REPORT_DATE,   /* YYYY-MM-DD */
};

#define REPORT_COLS_MAX 24

struct report_column {
	const char *name;          /* CSV header and sheet header */
	enum report_col_type type;
	int currency_col;          /* REPORT_MONEY: index of the column with the currency code */
};

struct report_listing {
	const char *csv_name;      /* "allocations.csv", or NULL when the listing is sheet-only */
	const char *sheet_name;    /* "Allocations", or NULL when CSV-only */
	const char *sql;           /* $1 = run_id, $2 = period; ORDER BY gives a total order */
	size_t ncols;
	struct report_column cols[REPORT_COLS_MAX];
	int sheet_totals;          /* the sheet ends with SUM() formulas under its money columns */
};

extern const struct report_listing report_listings[];
extern const size_t report_listings_n;

struct report_cursor;

/* Starts streaming a listing. The cursor is owned by the caller; report_cursor_close frees it
 * (NULL is fine) and drains the connection. */
int report_cursor_open(struct db *db, const struct report_listing *l, int64_t run_id,
		       const char *period, struct report_cursor **out, struct err *e);
/* 1 and values[ncols] (NULL = SQL NULL; valid until the next call), 0 at the end, -1 on error. */
int report_cursor_next(struct report_cursor *c, const char *const **values, struct err *e);
void report_cursor_close(struct report_cursor *c);

#endif
