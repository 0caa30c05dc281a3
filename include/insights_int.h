/* insights_int.h — what insights.c (scoring, results, payment timing) and insights_read.c
 * (reading the usage records) share. Not for other modules: their interface is insights.h.
 *
 * The reader streams a window's records, groups them by series and hour, and feeds each series in
 * key order to the scoring code: usage_start_series, then usage_take_hour per hour in order
 * (history first), then usage_finish_series. Everything lands in struct usage, which insights.c
 * writes out after the stream (the connection carries one statement at a time).
 */
#ifndef SETTLE_INSIGHTS_INT_H
#define SETTLE_INSIGHTS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "err.h"
#include "insights.h"
#include "stats.h"

struct point {
	int64_t hour_us;
	int64_t quantity;
};

/* One series' result: a row of settle.insight_usage. Strings owned (NULL = SQL NULL). */
struct usage_row {
	char *customer, *product_code, *dimension, *agreement_id, *offer_id;
	const char *status;       /* OK | ANOMALY | NOT_ENOUGH_HISTORY */
	int64_t history_points, history_days;
	int scored;
	struct stats_robust robust;
	struct insights_band band;
	int64_t period_points, observed_min, observed_max;
	int64_t anomalies, max_score_tenths;
};

struct anomaly {
	size_t row;               /* index into usage.rows */
	int64_t hour_us, quantity, score_tenths;
	int64_t seq;              /* 1, or more when another series' reference reads the same */
};

/* Everything the usage pass computes, buffered until the stream has ended. */
struct usage {
	int32_t period;
	int64_t period_start_us;
	struct usage_row *rows;
	size_t rows_n, rows_cap;
	struct anomaly *anomalies;
	size_t anomalies_n, anomalies_cap;
	/* the series being read */
	int64_t *history;         /* INSIGHTS_SERIES_POINTS_MAX slots */
	size_t history_n;
	int64_t history_days;
	int32_t history_last_day;
	struct point *points;     /* the period's hours, INSIGHTS_SERIES_POINTS_MAX slots */
	size_t points_n;
	/* the chart: the ANOMALY series with the highest score (first in key order on ties) */
	size_t best_row;          /* SIZE_MAX: none */
	struct point *best_points;
	size_t best_points_n;
};

/* The window: the history's first instant to the period's end; formatted for SQL by
 * time_format_pg (digits, '-', ':', ' ', '.', '+'). */
struct usage_window {
	int64_t history_start_us, period_end_us;
	char as_of[40], history_start[40], period_start[40], period_end[40];
};

/* insights.c: the series being read (see above). Strings are copied; agreement_id and offer_id
 * may be NULL (none). */
int usage_start_series(struct usage *u, const char *customer, const char *product_code, const char *dimension,
		       const char *agreement_id, const char *offer_id, struct err *e);
void usage_take_hour(struct usage *u, int64_t hour_us, int64_t quantity);
int usage_finish_series(struct usage *u, struct err *e);

/* insights.c: makes room for `need` elements of `elem` bytes in array p of capacity *cap: returns
 * p or its reallocation (the caller stores it), or NULL with e filled (p is then still valid). */
void *insights_grow(void *p, size_t *cap, size_t need, size_t elem, struct err *e);
/* insights.c: an integer cell of a result the server computed (0 for NULL). */
int64_t insights_cell_i64(const PGresult *res, int row, int col);

/* insights_read.c: every series with Success usage in the period, as of w->as_of, scored in key
 * order onto u->rows; *passes counts the passes over the window (0 when the period has none). */
int usage_read(struct db *db, struct usage *u, const struct usage_window *w, size_t *passes, struct err *e);

#endif
