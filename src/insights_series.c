/* insights_series.c — the series being read, one at a time: the readers (insights_read.c for the
 * metering log, insights_recorded.c for the daily usage feed) start a series, give it its hours in
 * order and finish it; finishing scores it (insights_score.c) onto struct usage, which
 * insights.c writes out after the stream (insights_int.h).
 *
 * It sits below both readers and above the scoring, so that the dependencies point one way:
 * insights.c -> the readers -> this file -> insights_score.c (the readers no longer call back into
 * insights.c).
 */
#include <stdlib.h>
#include <string.h>

#include "insights_int.h"

#define US_PER_HOUR_I INT64_C(3600000000)

/* ---------------------------------------------------------------------------------------------
 * Small helpers: strings, integers from the server (the growable arrays are insights_score.c's,
 * the file below this one)
 */

/* A copy of s, or NULL for NULL (SQL NULL). -1 when out of memory. */
static int dup_opt(const char *s, char **out, struct err *e)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : err_set(e, EXIT_FAILED, "insights: out of memory");
}

/* A bigint the server printed: well-formed by construction. */
int64_t insights_cell_i64(const PGresult *res, int row, int col)
{
	ASSERT(!PQgetisnull(res, row, col));
	const char *s = PQgetvalue(res, row, col);
	char *end;
	long long v = strtoll(s, &end, 10);
	ASSERT(end != s && *end == '\0');
	return (int64_t)v;
}

/* ---------------------------------------------------------------------------------------------
 * The series being read
 */

/* Forgets the hours of the series just scored (only those it touched: a window has thousands). */
static void usage_clear_hours(struct usage *u)
{
	for (size_t i = 0; i < u->touched_n; i++)
		u->hseen[u->touched[i]] = 0;
	u->touched_n = 0;
}

/* Ends the current series: its row gets the statistics; the chart keeps the most anomalous. */
int usage_finish_series(struct usage *u, struct err *e)
{
	struct usage_row *row = &u->rows[u->rows_n - 1];
	row->period_points = 0;
	for (size_t i = 0; i < u->touched_n; i++) {
		size_t h = u->touched[i];
		if (h < u->ps || h >= u->pe)
			continue;
		int64_t q = u->hq[h];
		if (row->period_points == 0 || q < row->observed_min)
			row->observed_min = q;
		if (row->period_points == 0 || q > row->observed_max)
			row->observed_max = q;
		row->period_points++;
	}
	/* a series exists because it has usage in the period; a recorded one may have lost it all
	 * (its metering log has usage there) */
	ASSERT(row->period_points > 0 || row->recorded);
	/* a status set already says why the series is not scored (a recorded series of fractions) */
	int rc = row->status ? 0 : usage_score_series(u, e);
	if (rc == 0 && u->after_score)
		rc = u->after_score(u, u->after_ctx, e);
	if (rc == 0 && row->anomalies > 0 &&
	    (u->best_row == SIZE_MAX || row->max_score_tenths > u->rows[u->best_row].max_score_tenths)) {
		u->best_row = u->rows_n - 1;
		memcpy(u->best_points, u->points, u->points_n * sizeof *u->points);
		u->best_points_n = u->points_n;
	}
	usage_clear_hours(u);
	if (rc < 0)
		return err_prefix(e, "usage of \"%s\" \"%s\" \"%s\"", row->customer, row->product_code, row->dimension);
	return 0;
}

/* Starts a series. The strings are copied; agreement_id and offer_id may be NULL (none), and
 * price, the offer's currency (NULL: unpriced). */
int usage_start_series(struct usage *u, const char *customer, const char *product_code, const char *dimension,
		       const char *agreement_id, const char *offer_id, const struct usage_price *price,
		       struct err *e)
{
	usage_clear_hours(u);
	struct usage_row *rows = insights_grow(u->rows, &u->rows_cap, u->rows_n + 1, sizeof *rows, e);
	if (!rows)
		return -1;
	u->rows = rows;
	struct usage_row *row = &u->rows[u->rows_n++];
	memset(row, 0, sizeof *row);
	if (dup_opt(customer, &row->customer, e) < 0 || dup_opt(product_code, &row->product_code, e) < 0 ||
	    dup_opt(dimension, &row->dimension, e) < 0 || dup_opt(agreement_id, &row->agreement_id, e) < 0 ||
	    dup_opt(offer_id, &row->offer_id, e) < 0)
		return -1;
	ASSERT(row->customer && row->product_code && row->dimension);
	if (price) {
		row->priced = 1;
		row->price = *price;
	}
	return 0;
}

/* One hour of the current series (its records summed), each hour once. */
void usage_take_hour(struct usage *u, int64_t hour_us, int64_t quantity)
{
	ASSERT(u->rows_n > 0);
	ASSERT(hour_us >= u->window_start_us && (hour_us - u->window_start_us) % US_PER_HOUR_I == 0);
	size_t h = (size_t)((hour_us - u->window_start_us) / US_PER_HOUR_I);
	ASSERT(h < u->hours && !u->hseen[h]);
	u->hq[h] = quantity;
	u->hseen[h] = 1;
	u->touched[u->touched_n++] = h;
}
