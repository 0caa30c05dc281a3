/* insights.c — statistics on metered usage and payment timing (see insights.h, docs/insights.md).
 *
 * Control flow lives in insights_compute: clear the run's previous insights for the period, score
 * the usage series, time the payouts and collections, store the totals. C decides, through
 * stats.h, and writes the results with COPY.
 *
 * The usage records are many (every Success record of the period and of up to
 * INSIGHTS_HISTORY_MONTHS of history: millions), so the server only selects them, in one binary
 * COPY, and C groups them by series and hour and orders the series (C collation) within a bounded
 * budget of memory: insights_read.c. Results are buffered and written after the
 * stream ends, because the connection carries one statement at a time. The timing query groups
 * and sorts in SQL and returns one row per payout or collection and reference, small enough to
 * read whole.
 */
#include "insights.h"
#include "insights_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "reconcile.h"
#include "reconcile_io.h"
#include "timeutil.h"

#define INSIGHTS_COPY_FLUSH_BYTES 65536
#define INSIGHTS_TEXT_MAX 512 /* a note or an exception sentence */

/* ---------------------------------------------------------------------------------------------
 * The usage method: band and score (pure)
 */

static int64_t floor_div128(__int128 n, int64_t d)
{
	ASSERT(d > 0);
	__int128 q = n / d;
	if (n % d != 0 && n < 0)
		q--;
	ASSERT(q >= INT64_MIN && q <= INT64_MAX);
	return (int64_t)q;
}

void insights_band_of(const struct stats_robust *r, struct insights_band *out)
{
	ASSERT(r->mad_x4 >= 0);
	int64_t median_abs_x4 = r->median_x4 < 0 ? -r->median_x4 : r->median_x4;
	/* sigma = max(1.4826·MAD, 10 % of |median|, 1 unit), all × 40000: exact integers. */
	__int128 s = (__int128)INSIGHTS_MAD_SCALE_E4 * r->mad_x4;
	__int128 s_median = (__int128)INSIGHTS_SIGMA_FLOOR_MEDIAN_E4 * median_abs_x4;
	__int128 s_units = (__int128)INSIGHTS_SIGMA_FLOOR_UNITS * 40000;
	if (s < s_median)
		s = s_median;
	if (s < s_units)
		s = s_units;
	ASSERT(s > 0 && s <= INT64_MAX);
	out->sigma_x40000 = (int64_t)s;
	/* An integer x is no anomaly iff |4x − m4|·10^4 <= T·S, i.e.
	 * ceil((m4·10^4 − T·S) / 40000) <= x <= floor((m4·10^4 + T·S) / 40000). */
	__int128 center = (__int128)r->median_x4 * 10000;
	__int128 reach = (__int128)INSIGHTS_SCORE_THRESHOLD * s;
	out->high = floor_div128(center + reach, 40000);
	out->low = -floor_div128(-(center - reach), 40000);
	if (out->low < 0)
		out->low = 0;
}

int64_t insights_score_tenths(const struct stats_robust *r, const struct insights_band *b, int64_t quantity)
{
	__int128 dev_x4 = (__int128)quantity * 4 - r->median_x4;
	if (dev_x4 < 0)
		dev_x4 = -dev_x4;
	return stats_div_round(dev_x4 * 10000 * 10, b->sigma_x40000);
}

int insights_is_anomaly(const struct insights_band *b, int64_t quantity)
{
	return quantity < b->low || quantity > b->high;
}

/* ---------------------------------------------------------------------------------------------
 * The summary sentence
 */

/* Tenths without a useless ".0": 34, 34.5. */
static void format_days(int64_t tenths, char buf[STATS_FORMAT_MAX])
{
	size_t n = stats_format_tenths(tenths, buf);
	if (n >= 2 && strcmp(buf + n - 2, ".0") == 0)
		buf[n - 2] = '\0';
}

size_t insights_summary_line(const struct insights_summary *s, char *buf, size_t size)
{
	char median[STATS_FORMAT_MAX];
	int n;
	if (s->payout_samples > 0) {
		format_days(s->payout_median_days_tenths, median);
		n = snprintf(buf, size, "%" PRId64 " usage %s; median days to payout %s", s->usage_anomalies,
			     s->usage_anomalies == 1 ? "anomaly" : "anomalies", median);
	} else {
		n = snprintf(buf, size, "%" PRId64 " usage %s; no payouts to time", s->usage_anomalies,
			     s->usage_anomalies == 1 ? "anomaly" : "anomalies");
	}
	ASSERT(n >= 0);
	return (size_t)n;
}

/* ---------------------------------------------------------------------------------------------
 * Small helpers: growable arrays, strings, integers from the server
 */

/* Makes room for `need` elements of `elem` bytes in array p of capacity *cap: returns p or its
 * reallocation (the caller stores it), or NULL with e filled (p is then still valid). */
void *insights_grow(void *p, size_t *cap, size_t need, size_t elem, struct err *e)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(p, n * elem);
	if (!q) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		return NULL;
	}
	*cap = n;
	return q;
}

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

/* SETTLE_RECONCILE_TIMING=1 (as for reconcile's phases) prints each insights phase's wall time
 * on stderr, for benchmarks and tuning. */
/* ---------------------------------------------------------------------------------------------
 * COPY ... FROM STDIN in text format, row by row
 */

struct copy_out {
	struct db *db;
	char *buf;
	size_t len, cap;
	int fields; /* fields of the current row so far */
	int oom;
};

static void co_raw(struct copy_out *c, const char *s, size_t n)
{
	if (c->oom)
		return;
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : INSIGHTS_COPY_FLUSH_BYTES * 2;
		while (c->len + n + 1 > cap)
			cap *= 2;
		char *q = realloc(c->buf, cap);
		if (!q) {
			c->oom = 1;
			return;
		}
		c->buf = q;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
}

static void co_sep(struct copy_out *c)
{
	if (c->fields++ > 0)
		co_raw(c, "\t", 1);
}

/* A text field: NULL is \N; backslash, tab, newline and CR are escaped (COPY text format). */
static void co_text(struct copy_out *c, const char *s)
{
	co_sep(c);
	if (!s) {
		co_raw(c, "\\N", 2);
		return;
	}
	for (; *s; s++) {
		switch (*s) {
		case '\\': co_raw(c, "\\\\", 2); break;
		case '\t': co_raw(c, "\\t", 2); break;
		case '\n': co_raw(c, "\\n", 2); break;
		case '\r': co_raw(c, "\\r", 2); break;
		default: co_raw(c, s, 1); break;
		}
	}
}

static void co_i64(struct copy_out *c, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
	co_sep(c);
	co_raw(c, tmp, (size_t)n);
}

static void co_null(struct copy_out *c)
{
	co_text(c, NULL);
}

static void co_tenths(struct copy_out *c, int64_t tenths)
{
	char tmp[STATS_FORMAT_MAX];
	stats_format_tenths(tenths, tmp);
	co_text(c, tmp);
}

static void co_quarters(struct copy_out *c, int64_t x4)
{
	char tmp[STATS_FORMAT_MAX];
	stats_format_quarters(x4, tmp);
	co_text(c, tmp);
}

static void co_instant(struct copy_out *c, int64_t us)
{
	char tmp[40];
	time_format_pg(us, tmp);
	co_text(c, tmp);
}

static int co_begin(struct copy_out *c, struct db *db, const char *copy_sql, struct err *e)
{
	memset(c, 0, sizeof *c);
	c->db = db;
	return db_copy_begin(db, copy_sql, e);
}

static int co_flush(struct copy_out *c, struct err *e)
{
	if (c->oom)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	if (c->len > 0 && db_copy_put(c->db, c->buf, c->len, e) < 0)
		return -1;
	c->len = 0;
	return 0;
}

static int co_end_row(struct copy_out *c, struct err *e)
{
	co_raw(c, "\n", 1);
	c->fields = 0;
	return c->len >= INSIGHTS_COPY_FLUSH_BYTES || c->oom ? co_flush(c, e) : 0;
}

/* Ends the COPY (rc == 0) or aborts it (rc < 0, e already filled); frees the buffer. */
static int co_finish(struct copy_out *c, int rc, struct err *e)
{
	if (rc == 0 && co_flush(c, e) == 0)
		rc = db_copy_end(c->db, e);
	else
		db_copy_abort(c->db, "insights: aborted");
	free(c->buf);
	c->buf = NULL;
	return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Usage: scoring the series (insights_read.c feeds them, insights_int.h)
 */

static void usage_release(struct usage *u)
{
	for (size_t i = 0; i < u->rows_n; i++) {
		free(u->rows[i].customer);
		free(u->rows[i].product_code);
		free(u->rows[i].dimension);
		free(u->rows[i].agreement_id);
		free(u->rows[i].offer_id);
	}
	free(u->rows);
	free(u->anomalies);
	free(u->history);
	free(u->points);
	free(u->best_points);
	memset(u, 0, sizeof *u);
}

/* Scores the period's points of the current series against its history (insights.h). */
static int usage_score(struct usage *u, struct usage_row *row, struct err *e)
{
	size_t row_index = (size_t)(row - u->rows);
	if (stats_robust(u->history, u->history_n, &row->robust, e) < 0)
		return err_prefix(e, "usage of \"%s\" \"%s\" \"%s\"", row->customer, row->product_code,
				  row->dimension);
	insights_band_of(&row->robust, &row->band);
	row->scored = 1;
	for (size_t i = 0; i < u->points_n; i++) {
		const struct point *p = &u->points[i];
		int64_t score = insights_score_tenths(&row->robust, &row->band, p->quantity);
		if (score > row->max_score_tenths)
			row->max_score_tenths = score;
		if (!insights_is_anomaly(&row->band, p->quantity))
			continue;
		struct anomaly *a = insights_grow(u->anomalies, &u->anomalies_cap, u->anomalies_n + 1, sizeof *a, e);
		if (!a)
			return -1;
		u->anomalies = a;
		u->anomalies[u->anomalies_n++] = (struct anomaly){ row_index, p->hour_us, p->quantity, score, 1 };
		row->anomalies++;
	}
	row->status = row->anomalies > 0 ? "ANOMALY" : "OK";
	return 0;
}

/* Ends the current series: its row gets the statistics; the chart keeps the most anomalous. */
int usage_finish_series(struct usage *u, struct err *e)
{
	struct usage_row *row = &u->rows[u->rows_n - 1];
	ASSERT(u->points_n > 0); /* a series exists because it has usage in the period */
	row->history_points = (int64_t)u->history_n;
	row->history_days = u->history_days;
	row->period_points = (int64_t)u->points_n;
	row->observed_min = row->observed_max = u->points[0].quantity;
	for (size_t i = 1; i < u->points_n; i++) {
		if (u->points[i].quantity < row->observed_min)
			row->observed_min = u->points[i].quantity;
		if (u->points[i].quantity > row->observed_max)
			row->observed_max = u->points[i].quantity;
	}
	if (u->history_n < INSIGHTS_HISTORY_POINTS_MIN || u->history_days < INSIGHTS_HISTORY_DAYS_MIN) {
		row->status = "NOT_ENOUGH_HISTORY"; /* a note, never an exception */
	} else if (usage_score(u, row, e) < 0) {
		return -1;
	}
	if (row->anomalies > 0 &&
	    (u->best_row == SIZE_MAX || row->max_score_tenths > u->rows[u->best_row].max_score_tenths)) {
		u->best_row = u->rows_n - 1;
		memcpy(u->best_points, u->points, u->points_n * sizeof *u->points);
		u->best_points_n = u->points_n;
	}
	return 0;
}

/* Starts a series. The strings are copied; agreement_id and offer_id may be NULL (none). */
int usage_start_series(struct usage *u, const char *customer, const char *product_code, const char *dimension,
		       const char *agreement_id, const char *offer_id, struct err *e)
{
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
	u->history_n = 0;
	u->history_days = 0;
	u->points_n = 0;
	return 0;
}

/* One hour of the current series (its records summed), in hour order: history first. */
void usage_take_hour(struct usage *u, int64_t hour_us, int64_t quantity)
{
	ASSERT(u->rows_n > 0);
	ASSERT(u->history_n + u->points_n < INSIGHTS_SERIES_POINTS_MAX); /* distinct hours of 13 months */
	if (hour_us < u->period_start_us) {
		ASSERT(u->points_n == 0); /* sorted by hour: history first */
		int32_t day = time_day_of(hour_us);
		if (u->history_n == 0 || day != u->history_last_day)
			u->history_days++;
		u->history_last_day = day;
		u->history[u->history_n++] = quantity;
	} else {
		u->points[u->points_n++] = (struct point){ hour_us, quantity };
	}
}

/* ---------------------------------------------------------------------------------------------
 * Usage: writing the results
 */

static void usage_note(const struct usage *u, const struct usage_row *row, char *buf, size_t size)
{
	char period[8], median[STATS_FORMAT_MAX], mad[STATS_FORMAT_MAX];
	period_format(u->period, period);
	if (!row->scored) {
		snprintf(buf, size,
			 "not enough history to score: %" PRId64 " hourly points over %" PRId64
			 " days in the %d months before %s; at least %d over %d days are needed",
			 row->history_points, row->history_days, INSIGHTS_HISTORY_MONTHS, period,
			 INSIGHTS_HISTORY_POINTS_MIN, INSIGHTS_HISTORY_DAYS_MIN);
		return;
	}
	stats_format_quarters(row->robust.median_x4, median);
	stats_format_quarters(row->robust.mad_x4, mad);
	char head[64];
	if (row->anomalies > 0)
		snprintf(head, sizeof head, "%" PRId64 " of %" PRId64 " hours outside", row->anomalies,
			 row->period_points);
	else
		snprintf(head, sizeof head, "all %" PRId64 " hours within", row->period_points);
	snprintf(buf, size,
		 "%s the expected %" PRId64 " to %" PRId64 " (history median %s, MAD %s, %" PRId64
		 " hourly points over %" PRId64 " days before %s)",
		 head, row->band.low, row->band.high, median, mad, row->history_points, row->history_days, period);
}

static const char usage_copy_sql[] =
	"COPY settle.insight_usage (run_id, period, customer_aws_account_id, product_code, dimension,"
	" agreement_id, offer_id, status, history_points, history_days, history_median, history_mad,"
	" band_low, band_high, period_points, observed_min, observed_max, anomalies, max_score, note)"
	" FROM STDIN";

static int usage_write_rows(struct db *db, const struct usage *u, int64_t run_id, const char *period,
			    struct err *e)
{
	struct copy_out c;
	if (co_begin(&c, db, usage_copy_sql, e) < 0)
		return -1;
	int rc = 0;
	char note[INSIGHTS_TEXT_MAX];
	for (size_t i = 0; i < u->rows_n && rc == 0; i++) {
		const struct usage_row *row = &u->rows[i];
		co_i64(&c, run_id);
		co_text(&c, period);
		co_text(&c, row->customer);
		co_text(&c, row->product_code);
		co_text(&c, row->dimension);
		co_text(&c, row->agreement_id);
		co_text(&c, row->offer_id);
		co_text(&c, row->status);
		co_i64(&c, row->history_points);
		co_i64(&c, row->history_days);
		if (row->scored) {
			co_quarters(&c, row->robust.median_x4);
			co_quarters(&c, row->robust.mad_x4);
			co_i64(&c, row->band.low);
			co_i64(&c, row->band.high);
		} else {
			for (int k = 0; k < 4; k++)
				co_null(&c); /* median, MAD, band: not scored */
		}
		co_i64(&c, row->period_points);
		co_i64(&c, row->observed_min);
		co_i64(&c, row->observed_max);
		co_i64(&c, row->anomalies);
		if (row->scored)
			co_tenths(&c, row->max_score_tenths);
		else
			co_null(&c);
		usage_note(u, row, note, sizeof note);
		co_text(&c, note);
		rc = co_end_row(&c, e);
	}
	return co_finish(&c, rc, e);
}

static const char exception_copy_sql[] =
	"COPY settle.exception (run_id, period, code, reference, seq, recipient_account_id, agreement_id,"
	" offer_id, currency, expected_micros, actual_micros, difference_micros, detail) FROM STDIN";

/* The exception's reference: customer:product_code:dimension@YYYY-MM-DDTHH (UTC hour). */
static void anomaly_reference(const struct usage *u, const struct anomaly *a, char *ref, size_t ref_size)
{
	const struct usage_row *row = &u->rows[a->row];
	char hour[32];
	time_format(a->hour_us, hour); /* 2026-10-05T13:00:00Z */
	snprintf(ref, ref_size, "%s:%s:%s@%.13s", row->customer, row->product_code, row->dimension, hour);
}

/* SPEC §4.7 addition: one USAGE_ANOMALY per anomalous hour. The money columns stay NULL (a
 * quantity is not an amount); the observed quantity and the expected range are in the sentence. */
static void anomaly_detail(const struct usage *u, const struct anomaly *a, char *detail, size_t detail_size)
{
	const struct usage_row *row = &u->rows[a->row];
	char hour[32], period[8], median[STATS_FORMAT_MAX], mad[STATS_FORMAT_MAX], score[STATS_FORMAT_MAX];
	time_format(a->hour_us, hour);
	period_format(u->period, period);
	stats_format_quarters(row->robust.median_x4, median);
	stats_format_quarters(row->robust.mad_x4, mad);
	stats_format_tenths(a->score_tenths, score);
	snprintf(detail, detail_size,
		 "metered quantity %" PRId64 " in hour %.16sZ is %s the expected %" PRId64 " to %" PRId64
		 " (history median %s, MAD %s, %" PRId64 " hourly points before %s); robust score %s > %d",
		 a->quantity, hour, a->quantity > row->band.high ? "above" : "below", row->band.low, row->band.high,
		 median, mad, row->history_points, period, score, INSIGHTS_SCORE_THRESHOLD);
}

struct numbered_ref {
	char *ref;
	size_t anomaly;
};

static int cmp_numbered_ref(const void *a, const void *b)
{
	const struct numbered_ref *x = a, *y = b;
	int c = strcmp(x->ref, y->ref);
	return c ? c : (x->anomaly > y->anomaly) - (x->anomaly < y->anomaly);
}

/* The key of settle.exception includes (reference, seq). Distinct series may print the same
 * reference when their ids contain ':' or '@' ("a:b" + "c" and "a" + "b:c"): number those 1, 2, ...
 * in series order, so that such input cannot fail a run. */
static int anomalies_number(struct usage *u, struct err *e)
{
	size_t n = u->anomalies_n;
	struct numbered_ref *refs = calloc(n ? n : 1, sizeof *refs);
	int rc = -1;
	if (!refs)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	for (size_t i = 0; i < n; i++) {
		refs[i].anomaly = i;
		refs[i].ref = malloc(INSIGHTS_TEXT_MAX);
		if (!refs[i].ref) {
			err_set(e, EXIT_FAILED, "insights: out of memory");
			goto free_refs;
		}
		anomaly_reference(u, &u->anomalies[i], refs[i].ref, INSIGHTS_TEXT_MAX);
	}
	qsort(refs, n, sizeof *refs, cmp_numbered_ref);
	for (size_t k = 1; k < n; k++)
		if (strcmp(refs[k].ref, refs[k - 1].ref) == 0)
			u->anomalies[refs[k].anomaly].seq = u->anomalies[refs[k - 1].anomaly].seq + 1;
	rc = 0;
free_refs:
	for (size_t i = 0; i < n; i++)
		free(refs[i].ref);
	free(refs);
	return rc;
}

static int usage_write_exceptions(struct db *db, const struct usage *u, int64_t run_id, const char *period,
				  struct err *e)
{
	if (u->anomalies_n == 0)
		return 0;
	struct copy_out c;
	if (co_begin(&c, db, exception_copy_sql, e) < 0)
		return -1;
	int rc = 0;
	char ref[INSIGHTS_TEXT_MAX], detail[INSIGHTS_TEXT_MAX];
	for (size_t i = 0; i < u->anomalies_n && rc == 0; i++) {
		const struct anomaly *a = &u->anomalies[i];
		const struct usage_row *row = &u->rows[a->row];
		anomaly_reference(u, a, ref, sizeof ref);
		anomaly_detail(u, a, detail, sizeof detail);
		co_i64(&c, run_id);
		co_text(&c, period);
		co_text(&c, "USAGE_ANOMALY");
		co_text(&c, ref);
		co_i64(&c, a->seq);
		co_null(&c); /* recipient: a customer is not a feed recipient */
		co_text(&c, row->agreement_id);
		co_text(&c, row->offer_id);
		co_null(&c); /* currency, expected, actual, difference: not money */
		co_null(&c);
		co_null(&c);
		co_null(&c);
		co_text(&c, detail);
		rc = co_end_row(&c, e);
	}
	return co_finish(&c, rc, e);
}

static const char point_copy_sql[] =
	"COPY settle.insight_usage_point (run_id, period, customer_aws_account_id, product_code, dimension,"
	" usage_hour, quantity, band_low, band_high, score, anomaly) FROM STDIN";

static int usage_write_chart(struct db *db, const struct usage *u, int64_t run_id, const char *period,
			     struct err *e)
{
	if (u->best_row == SIZE_MAX)
		return 0;
	const struct usage_row *row = &u->rows[u->best_row];
	struct copy_out c;
	if (co_begin(&c, db, point_copy_sql, e) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < u->best_points_n && rc == 0; i++) {
		const struct point *p = &u->best_points[i];
		co_i64(&c, run_id);
		co_text(&c, period);
		co_text(&c, row->customer);
		co_text(&c, row->product_code);
		co_text(&c, row->dimension);
		co_instant(&c, p->hour_us);
		co_i64(&c, p->quantity);
		co_i64(&c, row->band.low);
		co_i64(&c, row->band.high);
		co_tenths(&c, insights_score_tenths(&row->robust, &row->band, p->quantity));
		co_text(&c, insights_is_anomaly(&row->band, p->quantity) ? "t" : "f");
		rc = co_end_row(&c, e);
	}
	return co_finish(&c, rc, e);
}

static int usage_compute(struct db *db, int64_t run_id, int32_t period, int64_t as_of_us,
			 struct insights_summary *out, struct err *e)
{
	struct usage u = { .period = period, .period_start_us = period_start_us(period), .best_row = SIZE_MAX };
	struct usage_window w;
	char period_text[8];
	int32_t hist_period = period - INSIGHTS_HISTORY_MONTHS;
	if (hist_period < 12) /* time_format_pg prints years from 1 */
		hist_period = 12;
	period_format(period, period_text);
	time_format_pg(as_of_us, w.as_of);
	w.history_start_us = period_start_us(hist_period);
	w.period_end_us = period_end_us(period);
	time_format_pg(w.history_start_us, w.history_start);
	time_format_pg(u.period_start_us, w.period_start);
	time_format_pg(w.period_end_us, w.period_end);
	int rc = -1;
	u.history = malloc(INSIGHTS_SERIES_POINTS_MAX * sizeof *u.history);
	u.points = malloc(INSIGHTS_SERIES_POINTS_MAX * sizeof *u.points);
	u.best_points = malloc(INSIGHTS_SERIES_POINTS_MAX * sizeof *u.best_points);
	if (!u.history || !u.points || !u.best_points) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		goto release;
	}
	double t0 = log_clock();
	size_t passes = 0;
	char phase[64];
	if (usage_read(db, &u, &w, &passes, e) < 0)
		goto release;
	snprintf(phase, sizeof phase, "usage read (%zu %s)", passes, passes == 1 ? "pass" : "passes");
	log_phase("insights", period_text, phase, t0);
	t0 = log_clock();
	if (anomalies_number(&u, e) < 0 || usage_write_rows(db, &u, run_id, period_text, e) < 0 ||
	    usage_write_exceptions(db, &u, run_id, period_text, e) < 0 ||
	    usage_write_chart(db, &u, run_id, period_text, e) < 0)
		goto release;
	log_phase("insights", period_text, "usage stored", t0);
	out->usage_series = (int64_t)u.rows_n;
	for (size_t i = 0; i < u.rows_n; i++) {
		out->usage_scored += u.rows[i].scored;
		out->usage_not_enough_history += !u.rows[i].scored;
		out->usage_anomalous_series += u.rows[i].anomalies > 0;
	}
	out->usage_anomalies = (int64_t)u.anomalies_n;
	rc = 0;
release:
	usage_release(&u);
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Payment timing
 */

/* Histogram bins of days, fixed forever (docs/insights.md): bin i holds lo[i] <= days < lo[i+1]. */
static const struct timing_bin {
	const char *label;
	int64_t lo; /* inclusive */
} timing_bins[] = {
	{ "<0", -STATS_VALUE_ABS_MAX }, { "0-7", 0 }, { "8-14", 8 }, { "15-30", 15 }, { "31-45", 31 },
	{ "46-60", 46 }, { "61-90", 61 }, { ">90", 91 },
};
#define TIMING_BINS_N (sizeof timing_bins / sizeof timing_bins[0])

static const char *const timing_measures[] = { "invoice_to_collection", "invoice_to_payout" };
#define TIMING_MEASURES_N 2

/* One sample per (measure, recipient, reference, currency, event), with its days from the
 * reference's first invoice (earliest invoice_date of its INVOICED/FORGIVEN rows, as-of) to the
 * event, in UTC calendar days:
 *   invoice_to_payout: a payout (DISBURSED DISBURSEMENT) dated in the period and not failed, for
 *     each reference among its DISBURSED lines;
 *   invoice_to_collection: a day in the period on which COLLECTED rows of the reference are dated
 *     (action_date, else invoice_date).
 * The events are reconcile's pg_temp.rc_be (reconcile_current_events): the current versions at
 * as-of, resolved once per run and shared with reconcile (resolving them again here cost 3-4 s of
 * the 6-7 s this query took per period on a million events), dates as UTC day numbers.
 * $1 period start, $2 period end (day numbers). Sorted so that each (measure, recipient,
 * currency) is one run of rows.
 * The period's payouts are materialised, and failed ones dropped with a hashed NOT IN over the
 * failures (a few rows), because the planner underestimates the join of payout lines to payouts
 * (disb_id = beid: ~1 row expected, hundreds of thousands found) and, with NOT EXISTS, once put the
 * anti-join above it as a nested loop scanning rc_be for every line: minutes instead of 2 s. */
static const char timing_sql[] =
	"WITH inv AS ("
	"  SELECT recipient, tref, currency, min(day) AS day"
	"  FROM pg_temp.rc_be WHERE action IN ('INVOICED', 'FORGIVEN') AND tref <> ''"
	"  GROUP BY recipient, tref, currency"
	"), payout AS MATERIALIZED ("
	"  SELECT d.recipient, d.beid, d.day"
	"  FROM pg_temp.rc_be d"
	"  WHERE d.action = 'DISBURSED' AND d.ttype = 'DISBURSEMENT' AND d.day >= $1::int AND d.day < $2::int"
	"    AND (d.recipient, d.beid) NOT IN (SELECT f.recipient, f.parent_id FROM pg_temp.rc_be f"
	"                                      WHERE f.ttype = 'DISBURSEMENT_FAILURE' AND f.parent_id IS NOT NULL)"
	"), sample AS ("
	"  SELECT DISTINCT 'invoice_to_payout' AS measure, l.recipient, l.tref, l.currency, p.beid AS event_id,"
	"         p.day AS event_day"
	"  FROM payout p JOIN pg_temp.rc_be l ON l.recipient = p.recipient AND l.disb_id = p.beid"
	"  WHERE l.action = 'DISBURSED' AND l.ttype NOT IN ('DISBURSEMENT', 'DISBURSEMENT_FAILURE')"
	"  UNION"
	"  SELECT 'invoice_to_collection', c.recipient, c.tref, c.currency, '', coalesce(c.action_day, c.day)"
	"  FROM pg_temp.rc_be c"
	"  WHERE c.action = 'COLLECTED' AND coalesce(c.action_day, c.day) >= $1::int"
	"    AND coalesce(c.action_day, c.day) < $2::int"
	")"
	"SELECT s.measure, s.recipient, s.currency, s.event_day - i.day AS days"
	"  FROM sample s JOIN inv i USING (recipient, tref, currency)"
	" ORDER BY s.measure COLLATE \"C\", s.recipient COLLATE \"C\", s.currency COLLATE \"C\", days";

static const char timing_copy_sql[] =
	"COPY settle.insight_timing (run_id, period, measure, recipient_account_id, currency, samples,"
	" mean_days, median_days, p90_days, min_days, max_days) FROM STDIN";

/* Rows [from, to) of res are one (measure, recipient, currency): one settle.insight_timing row. */
static int timing_write_group(struct copy_out *c, const PGresult *res, int from, int to, const int64_t *days,
			      int64_t run_id, const char *period, struct err *e)
{
	struct stats_summary s;
	if (stats_summarize(days + from, (size_t)(to - from), &s, e) < 0)
		return -1;
	co_i64(c, run_id);
	co_text(c, period);
	co_text(c, PQgetvalue(res, from, 0));
	co_text(c, PQgetvalue(res, from, 1));
	co_text(c, PQgetvalue(res, from, 2));
	co_i64(c, (int64_t)s.n);
	co_tenths(c, s.mean_tenths);
	co_tenths(c, s.median_tenths);
	co_tenths(c, s.p90_tenths);
	co_i64(c, s.min);
	co_i64(c, s.max);
	return co_end_row(c, e);
}

static int same_group(const PGresult *res, int a, int b)
{
	for (int col = 0; col < 3; col++)
		if (strcmp(PQgetvalue(res, a, col), PQgetvalue(res, b, col)) != 0)
			return 0;
	return 1;
}

static int timing_write_stats(struct db *db, const PGresult *res, const int64_t *days, int64_t run_id,
			      const char *period, struct err *e)
{
	int n = PQntuples(res);
	if (n == 0)
		return 0;
	struct copy_out c;
	if (co_begin(&c, db, timing_copy_sql, e) < 0)
		return -1;
	int rc = 0;
	for (int from = 0, to; from < n && rc == 0; from = to) {
		for (to = from + 1; to < n && same_group(res, from, to); to++)
			;
		rc = timing_write_group(&c, res, from, to, days, run_id, period, e);
	}
	return co_finish(&c, rc, e);
}

/* Per measure, over every recipient and currency: the histogram rows and the summary's median. */
static int timing_write_histograms(struct db *db, const PGresult *res, const int64_t *days, int64_t run_id,
				   const char *period, struct insights_summary *out, struct err *e)
{
	int n = PQntuples(res);
	int64_t edges[TIMING_BINS_N + 1], counts[TIMING_BINS_N];
	for (size_t b = 0; b < TIMING_BINS_N; b++)
		edges[b] = timing_bins[b].lo;
	edges[TIMING_BINS_N] = STATS_VALUE_ABS_MAX + 1;
	struct copy_out c;
	if (co_begin(&c, db,
		     "COPY settle.insight_histogram (run_id, period, measure, bin_order, bin_label, days_min,"
		     " days_max, samples) FROM STDIN",
		     e) < 0)
		return -1;
	int rc = 0;
	int from = 0; /* rows are sorted by measure: each measure is one run */
	for (size_t m = 0; m < TIMING_MEASURES_N && rc == 0; m++) {
		int to = from;
		while (to < n && strcmp(PQgetvalue(res, to, 0), timing_measures[m]) == 0)
			to++;
		size_t k = (size_t)(to - from);
		int64_t median = 0;
		rc = stats_histogram(days + from, k, edges, TIMING_BINS_N, counts, e);
		if (rc == 0 && k > 0)
			rc = stats_quantile_tenths(days + from, k, 5, &median, e);
		for (size_t b = 0; b < TIMING_BINS_N && rc == 0; b++) {
			co_i64(&c, run_id);
			co_text(&c, period);
			co_text(&c, timing_measures[m]);
			co_i64(&c, (int64_t)b + 1);
			co_text(&c, timing_bins[b].label);
			if (b == 0)
				co_null(&c);
			else
				co_i64(&c, timing_bins[b].lo);
			if (b + 1 == TIMING_BINS_N)
				co_null(&c);
			else
				co_i64(&c, timing_bins[b + 1].lo - 1);
			co_i64(&c, counts[b]);
			rc = co_end_row(&c, e);
		}
		if (m == 0) {
			out->collection_samples = (int64_t)k;
			out->collection_median_days_tenths = median;
		} else {
			out->payout_samples = (int64_t)k;
			out->payout_median_days_tenths = median;
		}
		from = to;
	}
	ASSERT(rc < 0 || from == n); /* no other measure came back */
	return co_finish(&c, rc, e);
}

static int timing_compute(struct db *db, int64_t run_id, int32_t period, int64_t as_of_us,
			  struct insights_summary *out, struct err *e)
{
	char period_text[8], start[16], end[16];
	period_format(period, period_text);
	snprintf(start, sizeof start, "%" PRId32, time_day_of(period_start_us(period)));
	snprintf(end, sizeof end, "%" PRId32, time_day_of(period_end_us(period)));
	const char *params[2] = { start, end };
	if (reconcile_current_events(db, as_of_us, e) < 0)
		return -1;
	/* Hash joins are right at every size here; a misestimate that nests loops over a million
	 * rows takes minutes, so nested loops are off for this one query, inside the caller's
	 * transaction. */
	if (db_exec(db, "SET LOCAL enable_nestloop = off", e) < 0)
		return -1;
	PGresult *res = db_query(db, timing_sql, 2, params, PGRES_TUPLES_OK, e);
	if (db_exec(db, "SET LOCAL enable_nestloop = on", res ? e : NULL) < 0) {
		PQclear(res);
		return -1;
	}
	if (!res)
		return -1;
	int rc = -1;
	int n = PQntuples(res);
	int64_t *days = malloc(((size_t)n + 1) * sizeof *days);
	if (!days) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		goto clear;
	}
	for (int i = 0; i < n; i++)
		days[i] = insights_cell_i64(res, i, 3);
	if (timing_write_stats(db, res, days, run_id, period_text, e) < 0 ||
	    timing_write_histograms(db, res, days, run_id, period_text, out, e) < 0)
		goto clear;
	rc = 0;
clear:
	free(days);
	PQclear(res);
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The entry point
 */

/* A repeat within the same run replaces what the first call wrote. */
static const char *const clear_sql[] = {
	"DELETE FROM settle.insight_usage WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.insight_usage_point WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.insight_timing WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.insight_histogram WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.insight_summary WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.exception WHERE run_id = $1::bigint AND period = $2 AND code = 'USAGE_ANOMALY'",
};

static int run_params(struct db *db, const char *sql, int nparams, const char *const *params, struct err *e)
{
	PGresult *res = db_query(db, sql, nparams, params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

static int summary_store(struct db *db, const char *run, const char *period, const struct insights_summary *s,
			 struct err *e)
{
	char v[7][24], pm[STATS_FORMAT_MAX], cm[STATS_FORMAT_MAX];
	snprintf(v[0], sizeof v[0], "%" PRId64, s->usage_series);
	snprintf(v[1], sizeof v[1], "%" PRId64, s->usage_scored);
	snprintf(v[2], sizeof v[2], "%" PRId64, s->usage_not_enough_history);
	snprintf(v[3], sizeof v[3], "%" PRId64, s->usage_anomalous_series);
	snprintf(v[4], sizeof v[4], "%" PRId64, s->usage_anomalies);
	snprintf(v[5], sizeof v[5], "%" PRId64, s->payout_samples);
	snprintf(v[6], sizeof v[6], "%" PRId64, s->collection_samples);
	stats_format_tenths(s->payout_median_days_tenths, pm);
	stats_format_tenths(s->collection_median_days_tenths, cm);
	const char *params[] = { run, period, v[0], v[1], v[2], v[3], v[4], v[5],
				 s->payout_samples > 0 ? pm : NULL, v[6], s->collection_samples > 0 ? cm : NULL };
	return run_params(db,
			  "INSERT INTO settle.insight_summary (run_id, period, usage_series, usage_scored,"
			  " usage_not_enough_history, usage_anomalous_series, usage_anomalies, payout_samples,"
			  " payout_median_days, collection_samples, collection_median_days)"
			  " VALUES ($1::bigint, $2, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint,"
			  " $8::bigint, $9::numeric, $10::bigint, $11::numeric)",
			  11, params, e);
}

int insights_compute(struct db *db, const struct config *cfg, int64_t run_id, int32_t period, int64_t as_of_us,
		     struct insights_summary *out, struct err *e)
{
	ASSERT(db != NULL && cfg != NULL && out != NULL);
	/* The caller's transaction makes a run's insights appear whole or not at all. */
	ASSERT(PQtransactionStatus(db_conn(db)) == PQTRANS_INTRANS);
	char run[24], period_text[8];
	snprintf(run, sizeof run, "%" PRId64, run_id);
	period_format(period, period_text);
	const char *params[] = { run, period_text };
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < sizeof clear_sql / sizeof clear_sql[0]; i++)
		if (run_params(db, clear_sql[i], 2, params, e) < 0)
			return err_prefix(e, "insights %s", period_text);
	if (usage_compute(db, run_id, period, as_of_us, out, e) < 0)
		return err_prefix(e, "insights %s", period_text);
	double t0 = log_clock();
	if (timing_compute(db, run_id, period, as_of_us, out, e) < 0 ||
	    summary_store(db, run, period_text, out, e) < 0)
		return err_prefix(e, "insights %s", period_text);
	log_phase("insights", period_text, "payment timing", t0);
	ASSERT(out->usage_series == out->usage_scored + out->usage_not_enough_history);
	ASSERT(out->usage_anomalous_series <= out->usage_scored);
	return 0;
}
