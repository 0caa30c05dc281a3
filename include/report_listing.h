/* report_listing.h — the one report model both writers render (SPEC §8): the listings,
 * implemented by report_listing.c.
 *
 * A listing is a query over one run's results plus the description of its columns. The CSV writer
 * (report_csv.c) and the workbook writer (report_xlsx.c) iterate the same listings with the same
 * cursor, so the CSV and the sheet cannot show different numbers. Rows stream from the server
 * through a cursor, a bounded batch per FETCH (report_listing.c); nothing holds a whole listing
 * in memory.
 *
 * Every listing's SQL ends in an ORDER BY that is a total order over the rows it can return, with
 * text compared by byte value (COLLATE "C"), so two runs over the same data list the same rows in
 * the same order whatever the server's collation (SPEC §6). Columns and sort orders of every
 * listing are documented in docs/reports.md.
 */
#ifndef SETTLE_REPORT_LISTING_H
#define SETTLE_REPORT_LISTING_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "money.h"

enum report_col_type {
	REPORT_TEXT,   /* text from the data: CSV-escaped, formula-guarded (SPEC §8), a string cell */
	REPORT_MONEY,  /* bigint micros as decimal text; formatted with the row's currency */
	REPORT_INT,    /* integer count */
	REPORT_DATE,   /* YYYY-MM-DD */
	REPORT_DECIMAL, /* numeric statistic (days, medians, scores; never money) as the server prints
			 * it: written as-is to CSV (no guard: it is a number), a number cell with
			 * format "0.0" in the workbook (report_parse_decimal) */
};

#define REPORT_COLS_MAX 32

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

/* The listings in workbook sheet order (SPEC §8): report_listings[REPORT_PAYOUTS] is the payout
 * statement. Summary and Tax are sheet-only (csv_name NULL); every other listing is both a CSV
 * file and a sheet. The insight listings (docs/insights.md) follow the sheets SPEC §8 names. */
enum report_listing_id {
	REPORT_SUMMARY = 0,   /* control totals per currency that tie out (sheet "Summary") */
	REPORT_PAYOUTS,       /* payouts.csv */
	REPORT_ALLOCATIONS,   /* allocations.csv */
	REPORT_EXCEPTIONS,    /* exceptions.csv */
	REPORT_DISBURSEMENTS, /* disbursements.csv */
	REPORT_AGING,         /* aging.csv */
	REPORT_METERING,      /* metering.csv */
	REPORT_TAX,           /* per charge group: T, X, other seller tax, infra, balance adjustment */
	REPORT_REJECTED,      /* rejected.csv */
	REPORT_INSIGHTS,      /* insights.csv: one row per usage series (settle.insight_usage) */
	REPORT_PAYMENT_TIMING, /* payment_timing.csv: days from invoice to payout/collection */
	REPORT_TAX_ITEMS,     /* tax.csv: tax per liable party, jurisdiction and tax type (SPEC §4.6) */
	REPORT_CHARGE_GROUPS, /* every charge group: B, C, F, T, X (the Summary's bridge, sheet only) */
	REPORT_LISTINGS_N
};

extern const struct report_listing report_listings[];
extern const size_t report_listings_n; /* == REPORT_LISTINGS_N */

/* Workbook-only data of the insights (docs/workbook.md "Insights"), read with the same cursor:
 * csv_name is NULL and sheet_name names the sheet that shows them; they get no listing sheet. */
enum report_insight_data_id {
	REPORT_INSIGHT_SUMMARY = 0,     /* settle.insight_summary: at most one row (Summary sheet) */
	REPORT_INSIGHT_PAYOUT_DAYS,     /* bin_label, samples: the invoice_to_payout histogram, 8 rows */
	REPORT_INSIGHT_COLLECTION_DAYS, /* the same for invoice_to_collection */
	REPORT_INSIGHT_USAGE,           /* hour, quantity, band, anomaly, series: the usage chart */
	REPORT_INSIGHT_DATA_N
};
extern const struct report_listing report_insight_data[];

struct report_cursor;

/* Starts streaming a listing. The cursor is owned by the caller; report_cursor_close frees it
 * (NULL is fine) and drains the connection. */
int report_cursor_open(struct db *db, const struct report_listing *l, int64_t run_id,
		       const char *period, struct report_cursor **out, struct err *e);
/* 1 and values[ncols] (NULL = SQL NULL; valid until the next call), 0 at the end, -1 on error. */
int report_cursor_next(struct report_cursor *c, const char *const **values, struct err *e);
/* Frees c. Closing before the end cancels the query on the server (the open transaction is then
 * aborted: only error paths do that) and drains the connection for the next statement. */
void report_cursor_close(struct report_cursor *c);

/* The minor units amounts of `currency` are shown with (SPEC §2 formatting): the currency's own,
 * or 0 (the shortest exact form) for NULL or a code settle does not know. */
int report_minor_units(const char *currency);
/* Parses a REPORT_MONEY value (bigint micros as decimal text, as the server sends it). -1 with e
 * filled when it is not an integer in the int64 range (a sum that overflowed). */
int report_parse_micros(const char *text, int64_t *out_micros, struct err *e);
/* Formats a REPORT_MONEY value of a row for display: money_format with report_minor_units.
 * Returns the length, or -1 with e filled (see report_parse_micros). */
int report_format_money(const char *micros_text, const char *currency, char buf[MONEY_FORMAT_MAX],
			struct err *e);
/* Parses a REPORT_DECIMAL value (-?[0-9]+(.[0-9]+)?, as the server prints numeric) into the
 * nearest double, for a workbook cell only: the digits become an exact integer m and the value
 * is m / 10^k, one correctly rounded division (no locale, no strtod). -1 with e filled when the
 * text is not such a decimal or has more than 15 significant digits (no statistic has). */
int report_parse_decimal(const char *text, double *out, struct err *e);

#endif
