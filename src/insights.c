/* insights.c — statistics on metered usage and payment timing (see insights.h, docs/insights.md).
 *
 * Control flow lives in insights_compute: clear the run's previous insights for the period, score
 * the usage series, time the payouts and collections, store the totals. C decides, through
 * stats.h, and writes the results with COPY.
 *
 * The usage records are many (every Success record of the period and of up to
 * INSIGHTS_HISTORY_MONTHS of history: millions), so the server only selects them, in one binary
 * COPY, and C groups them by series and hour, in key order (C collation), holding one range of
 * series at a time in memory: insights_read.c. Results are buffered and written after the
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

#include "asof.h"
#include "log.h"
#include "money.h"
#include "pgcopy.h"
#include "reconcile.h"
#include "reconcile_io.h"
#include "timeutil.h"
#include "usage.h"

#define INSIGHTS_TEXT_MAX 768 /* a note or an exception sentence */
#define US_PER_HOUR_I INT64_C(3600000000)

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
 * COPY ... FROM STDIN: pgcopy.h's text writer, the rows sent in one COPY once written
 */

struct insights_out {
	struct db *db;
	const char *copy_sql;
	struct rio_out out;
};

static void co_text(struct insights_out *c, const char *s)
{
	rio_text(&c->out, s);
}

static void co_i64(struct insights_out *c, int64_t v)
{
	rio_int(&c->out, v);
}

static void co_null(struct insights_out *c)
{
	rio_null(&c->out);
}

static void co_tenths(struct insights_out *c, int64_t tenths)
{
	char tmp[STATS_FORMAT_MAX];
	stats_format_tenths(tenths, tmp);
	co_text(c, tmp);
}

static void co_quarters(struct insights_out *c, int64_t x4)
{
	char tmp[STATS_FORMAT_MAX];
	stats_format_quarters(x4, tmp);
	co_text(c, tmp);
}

static void co_instant(struct insights_out *c, int64_t us)
{
	char tmp[40];
	time_format_pg(us, tmp);
	co_text(c, tmp);
}

static int co_begin(struct insights_out *c, struct db *db, const char *copy_sql, struct err *e)
{
	c->db = db;
	c->copy_sql = copy_sql;
	return rio_out_open(&c->out, e);
}

static int co_end_row(struct insights_out *c, struct err *e)
{
	(void)e; /* a write failure is sticky: rio_out_send reports it */
	rio_end_row(&c->out);
	return 0;
}

/* Sends the rows with the COPY (rc == 0) or drops them (rc < 0, e already filled). */
static int co_finish(struct insights_out *c, int rc, struct err *e)
{
	if (rc == 0)
		rc = rio_out_send(&c->out, c->db, c->copy_sql, e);
	rio_out_close(&c->out);
	return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Usage: the series' results (insights_series.c builds them, insights_int.h)
 */

static void usage_release(struct usage *u)
{
	usage_offers_release(u);
	for (size_t i = 0; i < u->rows_n; i++) {
		free(u->rows[i].customer);
		free(u->rows[i].product_code);
		free(u->rows[i].dimension);
		free(u->rows[i].agreement_id);
		free(u->rows[i].offer_id);
	}
	free(u->rows);
	free(u->anomalies);
	free(u->hq);
	free(u->hseen);
	free(u->touched);
	free(u->dq);
	free(u->spoints);
	free(u->points);
	free(u->best_points);
	memset(u, 0, sizeof *u);
}

/* ---------------------------------------------------------------------------------------------
 * Usage: writing the results
 */

/* "2026-11-05" of an instant's UTC day. */
static void day_text(int64_t us, char buf[11])
{
	time_format_day(time_day_of(us), buf);
}

/* " ≈ 1200.00 USD" of an amount in unrounded micros at the row's currency (rounded to its minor
 * units, SPEC §4.6's rule), or "" (unpriced, or beyond the range). */
static void money_text(const struct usage *u, const struct usage_row *row, int priced, int64_t value_micros,
		       char *buf, size_t size)
{
	int64_t micros;
	buf[0] = '\0';
	if (!priced || money_round(value_micros, row->price.minor_units, u->cfg->rounding, &micros) != MONEY_OK)
		return;
	char amount[MONEY_FORMAT_MAX];
	money_format(micros, row->price.minor_units, amount);
	snprintf(buf, size, " \xe2\x89\x88 %s %s", amount, row->price.currency);
}

/* |actual − expected| of two unrounded amounts: 1, or 0 when it leaves the range. */
static int value_gap(int64_t actual, int64_t expected, int64_t *out)
{
	int64_t d;
	if (money_sub(actual, expected, &d) != MONEY_OK)
		return 0;
	if (d >= 0) {
		*out = d;
		return 1;
	}
	return money_neg(d, out) == MONEY_OK;
}

/* "the same hour of the week (±1 hour for daylight saving) in the 8 weeks before 2026-11, trend
 * +1.2 %/week" */
static void basis_text(const struct usage *u, const struct usage_row *row, char *buf, size_t size)
{
	char period[8], trend[STATS_FORMAT_MAX + 8];
	period_format(u->period, period);
	int64_t t = row->trend_e4 < 0 ? -row->trend_e4 : row->trend_e4;
	char tenths[STATS_FORMAT_MAX];
	stats_format_tenths(stats_div_round(t, 10), tenths);
	snprintf(trend, sizeof trend, "%s%s", row->trend_e4 < 0 ? "-" : "+", tenths);
	static const char *const what[] = { "the same hour of the week (\xc2\xb1" "1 hour for daylight saving)",
					    "the same weekday", "the weekly totals" };
	if (row->grain == GRAIN_WEEK)
		snprintf(buf, size, "%s of the %" PRId64 " weeks before %s, no trend", what[row->grain], row->weeks, period);
	else
		snprintf(buf, size, "%s in the %" PRId64 " weeks before %s, trend %s %%/week", what[row->grain], row->weeks,
			 period, trend);
}

static void usage_note(const struct usage *u, const struct usage_row *row, char *buf, size_t size)
{
	const char *src = row->recorded ? "recorded by the marketplace (daily usage feed): " : "";
	char leaks[96] = "";
	if (row->leaks > 0)
		snprintf(leaks, sizeof leaks, "; %" PRId64 " %s below the metering log", row->leaks,
			 row->leaks == 1 ? "incident" : "incidents");
	if (!row->scored) {
		snprintf(buf, size, "%s%s%s", src, row->reason, leaks);
		return;
	}
	char basis[256], from[11], to[11], money[64], head[192];
	static const char *const grain_name[] = { "hourly", "daily totals", "weekly totals" };
	basis_text(u, row, basis, sizeof basis);
	if (row->anomalies > 0)
		snprintf(head, sizeof head, "%" PRId64 " %s%s", row->anomalies, row->anomalies == 1 ? "incident" : "incidents",
			 leaks);
	else
		snprintf(head, sizeof head, "no incident");
	if (row->total_days == 0) {
		snprintf(buf, size, "%s%s against %s; %s (no complete %s of the period yet)", src, grain_name[row->grain],
			 basis, head, row->grain == GRAIN_WEEK ? "week" : "day");
		return;
	}
	time_format_day((int32_t)row->total_from_day, from);
	time_format_day((int32_t)row->total_to_day, to);
	int64_t diff = row->total_actual - row->total_expected;
	char pct[32] = "";
	if (row->total_expected > 0)
		snprintf(pct, sizeof pct, ", %s%" PRId64 " %%", diff < 0 ? "-" : "+",
			 stats_div_round((__int128)(diff < 0 ? -diff : diff) * 100, row->total_expected));
	int64_t gap = 0;
	int priced = row->total_priced &&
		     value_gap(row->total_actual_value_micros, row->total_expected_value_micros, &gap);
	money_text(u, row, priced, gap, money, sizeof money);
	snprintf(buf, size,
		 "%s%s against %s; %s to %s: %" PRId64 " units against %" PRId64 " expected (%s%" PRId64 " units%s%s); %s",
		 src, grain_name[row->grain], basis, from, to, row->total_actual, row->total_expected, diff < 0 ? "-" : "+",
		 diff < 0 ? -diff : diff, money, pct, head);
}

static const char usage_copy_sql[] =
	"COPY settle.insight_usage (run_id, period, customer_aws_account_id, product_code, dimension,"
	" agreement_id, offer_id, status, history_points, history_days, history_median, history_mad,"
	" band_low, band_high, period_points, observed_min, observed_max, anomalies, max_score, note, source)"
	" FROM STDIN";

static int usage_write_rows(struct db *db, const struct usage *u, int64_t run_id, const char *period,
			    struct err *e)
{
	struct insights_out c;
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
			co_i64(&c, row->band_low);
			co_i64(&c, row->band_high);
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
		co_text(&c, row->recorded ? "recorded" : "metering");
		rc = co_end_row(&c, e);
	}
	return co_finish(&c, rc, e);
}

static const char exception_copy_sql[] =
	"COPY settle.exception (run_id, period, code, reference, seq, recipient_account_id, agreement_id,"
	" offer_id, currency, expected_micros, actual_micros, difference_micros, detail) FROM STDIN";

/* The last instant's unit text of an incident: "2026-11-05T13" (hours) or "2026-11-05" (days; a
 * week ends on its seventh day). */
static void unit_text(enum usage_grain g, int64_t us, int last, char buf[32])
{
	if (g == GRAIN_HOUR) {
		char t[32];
		time_format(us, t);
		snprintf(buf, 32, "%.13s", t);
		return;
	}
	if (g == GRAIN_WEEK && last)
		us += 6 * 24 * US_PER_HOUR_I;
	day_text(us, buf);
}

/* The exception's reference (SPEC §4.9): customer:product_code:dimension@FROM/TO, UTC hours
 * YYYY-MM-DDTHH or days YYYY-MM-DD, /TO omitted for a single hour or day. */
static void anomaly_reference(const struct usage *u, const struct anomaly *a, char *ref, size_t ref_size)
{
	const struct usage_row *row = &u->rows[a->row];
	char from[32], to[32];
	unit_text(a->grain, a->from_us, 0, from);
	unit_text(a->grain, a->to_us, 1, to);
	if (a->points == 1 && a->grain != GRAIN_WEEK)
		snprintf(ref, ref_size, "%s:%s:%s@%s", row->customer, row->product_code, row->dimension, from);
	else
		snprintf(ref, ref_size, "%s:%s:%s@%s/%s", row->customer, row->product_code, row->dimension, from, to);
}

/* When: "in hour 2026-11-05T13:00Z", "from 2026-11-05T13:00Z to 2026-11-05T18:59Z (6 hours)",
 * "on 2026-11-05", "from 2026-11-16 to 2026-11-18 (3 days)", "since 2026-11-16 (15 days, to
 * 2026-11-30)", "in the week 2026-11-02 to 2026-11-08". */
static void anomaly_when(const struct anomaly *a, char *buf, size_t size)
{
	char from[32], to[32];
	if (a->grain == GRAIN_HOUR) {
		time_format(a->from_us, from);
		time_format(a->to_us, to);
		if (a->points == 1)
			snprintf(buf, size, "in hour %.16sZ", from);
		else
			snprintf(buf, size, "from %.16sZ to %.14s59Z (%" PRId64 " hours)", from, to, a->points);
		return;
	}
	unit_text(a->grain, a->from_us, 0, from);
	unit_text(a->grain, a->to_us, 1, to);
	if (a->grain == GRAIN_WEEK)
		snprintf(buf, size, "%s %s to %s (%" PRId64 " %s)",
			 a->ongoing && a->points > 1 ? "since the week of" : a->points == 1 ? "in the week" : "in the weeks",
			 from, to, a->points, a->points == 1 ? "week" : "weeks");
	else if (a->points == 1)
		snprintf(buf, size, "on %s", from);
	else if (a->ongoing)
		snprintf(buf, size, "since %s (%" PRId64 " days, to %s)", from, a->points, to);
	else
		snprintf(buf, size, "from %s to %s (%" PRId64 " days)", from, to, a->points);
}

/* SPEC §4.9: when, how much (units, %, money) and the basis. */
static void anomaly_detail(const struct usage *u, const struct anomaly *a, char *detail, size_t detail_size)
{
	const struct usage_row *row = &u->rows[a->row];
	char when[96], basis[256], money[64], score[STATS_FORMAT_MAX], pct[32] = "";
	anomaly_when(a, when, sizeof when);
	basis_text(u, row, basis, sizeof basis);
	stats_format_tenths(a->score_tenths, score);
	int64_t diff = a->actual - a->expected, adiff = diff < 0 ? -diff : diff;
	int64_t gap = 0;
	int priced = a->priced && value_gap(a->actual_value_micros, a->expected_value_micros, &gap);
	money_text(u, row, priced, gap, money, sizeof money);
	if (a->expected > 0)
		snprintf(pct, sizeof pct, "%" PRId64 " %% ", stats_div_round((__int128)adiff * 100, a->expected));
	static const int thresholds[] = { INSIGHTS_HOUR_THRESHOLD, INSIGHTS_DAY_THRESHOLD, INSIGHTS_WEEK_THRESHOLD };
	if (a->kind == ANOMALY_LEAK) {
		snprintf(detail, detail_size,
			 "%s the marketplace's recorded usage (daily usage feed) is %s(\xe2\x89\x88 %" PRId64
			 " units%s%s) below the metered: %" PRId64 " units recorded against %" PRId64
			 " metered (Success records of the metering log); metering records the marketplace did not"
			 " record are not billed",
			 when, pct, adiff, money, a->priced ? "" : "; no unit price known", a->actual, a->expected);
		return;
	}
	snprintf(detail, detail_size,
		 "%s %s is %s(\xe2\x89\x88 %" PRId64 " units%s%s) %s expected: %" PRId64 " units against %" PRId64
		 " expected; expected from %s; highest robust score %s > %d",
		 when, row->recorded ? "the marketplace's recorded usage (daily usage feed)" : "recorded usage", pct, adiff,
		 money, a->priced ? "" : "; no unit price known", a->direction > 0 ? "above" : "below", a->actual,
		 a->expected, basis, score, thresholds[a->grain]);
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

/* An amount in unrounded micros rounded to the currency's minor units (SPEC §4.6's rule,
 * money.h); 0 when beyond the range (*ok = 0). */
static int64_t rounded(const struct usage *u, const struct usage_row *row, int64_t value_micros, int *ok)
{
	int64_t micros = 0;
	if (money_round(value_micros, row->price.minor_units, u->cfg->rounding, &micros) != MONEY_OK)
		*ok = 0;
	return micros;
}

static int usage_write_exceptions(struct db *db, const struct usage *u, int64_t run_id, const char *period,
				  struct err *e)
{
	if (u->anomalies_n == 0)
		return 0;
	struct insights_out c;
	if (co_begin(&c, db, exception_copy_sql, e) < 0)
		return -1;
	int rc = 0;
	char ref[INSIGHTS_TEXT_MAX], detail[INSIGHTS_TEXT_MAX * 2];
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
		int ok = a->priced;
		int64_t expected = 0, actual = 0, difference = 0;
		if (ok) {
			expected = rounded(u, row, a->expected_value_micros, &ok);
			actual = rounded(u, row, a->actual_value_micros, &ok);
			if (ok && money_sub(actual, expected, &difference) != MONEY_OK)
				ok = 0;
		}
		if (ok) {
			co_text(&c, row->price.currency);
			co_i64(&c, expected);
			co_i64(&c, actual);
			co_i64(&c, difference);
		} else {
			for (int k = 0; k < 4; k++)
				co_null(&c); /* no unit price: the quantities are in the sentence */
		}
		co_text(&c, detail);
		rc = co_end_row(&c, e);
	}
	return co_finish(&c, rc, e);
}

static const char point_copy_sql[] =
	"COPY settle.insight_usage_point (run_id, period, customer_aws_account_id, product_code, dimension,"
	" usage_hour, quantity, band_low, band_high, score, anomaly, source) FROM STDIN";

static int usage_write_chart(struct db *db, const struct usage *u, int64_t run_id, const char *period,
			     struct err *e)
{
	if (u->best_row == SIZE_MAX || u->best_points_n == 0)
		return 0;
	const struct usage_row *row = &u->rows[u->best_row];
	struct insights_out c;
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
		co_i64(&c, p->low);
		co_i64(&c, p->high);
		co_tenths(&c, p->score_tenths);
		co_text(&c, p->anomaly ? "t" : "f");
		co_text(&c, row->recorded ? "recorded" : "metering");
		rc = co_end_row(&c, e);
	}
	return co_finish(&c, rc, e);
}

static int usage_alloc(struct usage *u, struct err *e)
{
	size_t h = u->hours;
	u->hq = malloc(h * sizeof *u->hq);
	u->hseen = calloc(h, 1);
	u->touched = malloc(h * sizeof *u->touched);
	u->dq = malloc((h / 24 + h) * sizeof *u->dq);
	u->spoints = malloc(2 * h * sizeof *u->spoints);
	u->points = malloc(h * sizeof *u->points);
	u->best_points = malloc(h * sizeof *u->best_points);
	if (!u->hq || !u->hseen || !u->touched || !u->dq || !u->spoints || !u->points || !u->best_points)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	return 0;
}

static int usage_compute(struct db *db, const struct config *cfg, int64_t run_id, int32_t period, int64_t as_of_us,
			 struct insights_summary *out, struct err *e)
{
	struct usage u = { .period = period, .period_start_us = period_start_us(period), .best_row = SIZE_MAX,
			   .cfg = cfg };
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
	u.window_start_us = w.history_start_us;
	u.hours = (size_t)((w.period_end_us - w.history_start_us) / US_PER_HOUR_I);
	u.ps = (size_t)((u.period_start_us - w.history_start_us) / US_PER_HOUR_I);
	u.pe = u.hours;
	u.horizon = u.pe;
	ASSERT(u.hours <= INSIGHTS_SERIES_POINTS_MAX);
	int rc = -1;
	if (usage_alloc(&u, e) < 0)
		goto release;
	double t0 = log_clock();
	size_t ranges = 0;
	char phase[64];
	if (usage_read(db, &u, &w, &ranges, e) < 0)
		goto release;
	snprintf(phase, sizeof phase, "usage read (%zu %s)", ranges, ranges == 1 ? "range" : "ranges");
	log_phase("insights", period_text, phase, t0);
	t0 = log_clock();
	if (usage_read_recorded(db, &u, &w, e) < 0)
		goto release;
	log_phase("insights", period_text, "recorded usage read", t0);
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
 *     each reference among its DISBURSED lines; failed as reconcile decides it
 *     (reconcile_failed_payouts: a DISBURSEMENT_FAILURE of the same recipient and currency linked
 *     to it by parent, bank trace id or exact amount, SPEC §4.5), not by a second set of rules;
 *   invoice_to_collection: a day in the period on which COLLECTED rows of the reference are dated
 *     (action_date, else invoice_date).
 * The events are pg_temp.rc_be (asof_current_events, asof.c): the current versions at
 * as-of, resolved once per run and shared with reconcile (resolving them again here cost 3-4 s of
 * the 6-7 s this query took per period on a million events), dates as UTC day numbers.
 * $1 period start, $2 period end (day numbers). Sorted so that each (measure, recipient,
 * currency) is one run of rows.
 * The period's payouts are materialised, and failed ones dropped with a hashed NOT IN over the
 * failed payouts (pg_temp.failed_payout, a few rows), because the planner underestimates the join of payout lines to payouts
 * (disb_id = beid: ~1 row expected, hundreds of thousands found) and, with NOT EXISTS, once put the
 * anti-join above it as a nested loop scanning rc_be for every line: minutes instead of 2 s. */
/* rc_be's columns through asof.h's macros (R: recipient, T: tref, C: currency, ...). */
#define TM_R ASOF_BE_RECIPIENT
#define TM_T ASOF_BE_TREF
#define TM_C ASOF_BE_CURRENCY
static const char timing_sql[] =
	"WITH inv AS ("
	"  SELECT " TM_R " AS recipient, " TM_T " AS tref, " TM_C " AS currency, min(" ASOF_BE_DAY ") AS day"
	"  FROM pg_temp.rc_be WHERE " ASOF_BE_ACTION " IN ('INVOICED', 'FORGIVEN') AND " TM_T " <> ''"
	"  GROUP BY " TM_R ", " TM_T ", " TM_C
	"), payout AS MATERIALIZED ("
	"  SELECT d." TM_R " AS recipient, d." ASOF_BE_ID " AS beid, d." ASOF_BE_DAY " AS day"
	"  FROM pg_temp.rc_be d"
	"  WHERE d." ASOF_BE_ACTION " = 'DISBURSED' AND d." ASOF_BE_TYPE " = 'DISBURSEMENT'"
	"    AND d." ASOF_BE_DAY " >= $1::int AND d." ASOF_BE_DAY " < $2::int"
	"    AND (d." TM_R ", d." ASOF_BE_ID ") NOT IN (SELECT f.recipient, f.payout_id FROM pg_temp.failed_payout f)"
	"), sample AS ("
	"  SELECT DISTINCT 'invoice_to_payout' AS measure, l." TM_R " AS recipient, l." TM_T " AS tref,"
	"         l." TM_C " AS currency, p.beid AS event_id, p.day AS event_day"
	"  FROM payout p JOIN pg_temp.rc_be l ON l." TM_R " = p.recipient AND l." ASOF_BE_DISB_ID " = p.beid"
	"  WHERE l." ASOF_BE_ACTION " = 'DISBURSED' AND l." ASOF_BE_TYPE " NOT IN ('DISBURSEMENT', 'DISBURSEMENT_FAILURE')"
	"  UNION"
	"  SELECT 'invoice_to_collection', c." TM_R ", c." TM_T ", c." TM_C ", '',"
	"         coalesce(c." ASOF_BE_ACTION_DAY ", c." ASOF_BE_DAY ")"
	"  FROM pg_temp.rc_be c"
	"  WHERE c." ASOF_BE_ACTION " = 'COLLECTED' AND coalesce(c." ASOF_BE_ACTION_DAY ", c." ASOF_BE_DAY ") >= $1::int"
	"    AND coalesce(c." ASOF_BE_ACTION_DAY ", c." ASOF_BE_DAY ") < $2::int"
	")"
	"SELECT s.measure, s.recipient, s.currency, s.event_day - i.day AS days"
	"  FROM sample s JOIN inv i USING (recipient, tref, currency)"
	" ORDER BY s.measure COLLATE \"C\", s.recipient COLLATE \"C\", s.currency COLLATE \"C\", days";
#undef TM_R
#undef TM_T
#undef TM_C

static const char timing_copy_sql[] =
	"COPY settle.insight_timing (run_id, period, measure, recipient_account_id, currency, samples,"
	" mean_days, median_days, p90_days, min_days, max_days) FROM STDIN";

/* Rows [from, to) of res are one (measure, recipient, currency): one settle.insight_timing row. */
static int timing_write_group(struct insights_out *c, const PGresult *res, int from, int to, const int64_t *days,
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
	struct insights_out c;
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
	struct insights_out c;
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
	if (asof_current_events(db, as_of_us, NULL, e) < 0 ||
	    reconcile_failed_payouts(db, time_day_of(period_start_us(period)), time_day_of(period_end_us(period)), e) < 0)
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
	if (usage_compute(db, cfg, run_id, period, as_of_us, out, e) < 0)
		return err_prefix(e, "insights %s", period_text);
	double t0 = log_clock();
	if (timing_compute(db, run_id, period, as_of_us, out, e) < 0 ||
	    summary_store(db, run, period_text, out, e) < 0)
		return err_prefix(e, "insights %s", period_text);
	log_phase("insights", period_text, "payment timing", t0);
	ASSERT(out->usage_series == out->usage_scored + out->usage_not_enough_history);
	/* a recorded series not scored on its history may still lie below the metering log */
	ASSERT(out->usage_anomalous_series <= out->usage_series);
	return 0;
}
