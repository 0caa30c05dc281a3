/* insights_score.c — scoring one usage series against its hour-of-week expectation (SPEC §4.9).
 *
 * insights.c hands over one series at a time: its hourly sums over the window (12 months of
 * history and the period) in u->hq / u->hseen. This file decides, in integer arithmetic only:
 *   1. whether the series can be scored: calendar history (first usage to the period's start) of
 *      INSIGHTS_MIN_WEEKS weeks, not onboarding (young and ramping up), regular enough;
 *   2. its grain: hourly when the hours of its week either always or never report (a 24x7
 *      service, business hours, a gauge), daily when its weekdays do (batch jobs), else weekly;
 *   3. each point's expectation: the median and MAD of the same hour of the week (weekday, week)
 *      in the W <= INSIGHTS_BASE_WEEKS weeks before the period — fixed, so that an incident in
 *      the period never becomes its own expectation — times a linear trend from the ratio of
 *      the baseline's recent half to its older half; hours of an hourly series without records
 *      count as 0; an hour is judged against its own hour of the week and both neighbours (±1
 *      hour: daylight saving moves local business hours by one UTC hour);
 *   4. incidents: maximal runs of anomalous points in one direction; an hourly series is also
 *      checked on daily totals (lost records and level shifts hide in hourly noise), and where
 *      a day incident and hour incidents overlap, one of them stands for both.
 * docs/insights.md has the reasons and the measured precision and recall.
 *
 * Nothing here allocates but the list of incidents: the arrays live in struct usage
 * (insights_int.h), sized for the window. insights_grow, at the bottom, is every insights file's
 * growable array (this file is below them all, so no two of them call each other).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insights_int.h"
#include "money.h"
#include "timeutil.h"

#define HOURS_PER_WEEK 168
#define US_PER_HOUR INT64_C(3600000000)

/* ---------------------------------------------------------------------------------------------
 * The band of one point (pure, insights.h)
 */

static int64_t floor_div128(__int128 n, __int128 d)
{
	ASSERT(d > 0);
	__int128 q = n / d;
	if (n % d != 0 && n < 0)
		q--;
	ASSERT(q >= INT64_MIN && q <= INT64_MAX);
	return (int64_t)q;
}

/* n / d rounded half away from zero (d > 0). */
static int64_t round_div128(__int128 n, __int128 d)
{
	ASSERT(d > 0);
	__int128 a = n < 0 ? -n : n;
	__int128 q = (2 * a + d) / (2 * d);
	q = n < 0 ? -q : q;
	ASSERT(q >= INT64_MIN && q <= INT64_MAX);
	return (int64_t)q;
}

void insights_band_of(const struct stats_robust *r, int threshold, int64_t floor_e4, int64_t f_num, int64_t f_den,
		      struct insights_band *out)
{
	ASSERT(r->mad_x4 >= 0 && f_num > 0 && f_den > 0 && threshold > 0 && floor_e4 >= 0);
	int64_t median_abs_x4 = r->median_x4 < 0 ? -r->median_x4 : r->median_x4;
	__int128 s = (__int128)INSIGHTS_MAD_SCALE_E4 * r->mad_x4;
	__int128 s_median = (__int128)floor_e4 * median_abs_x4;
	__int128 s_units = (__int128)INSIGHTS_SIGMA_FLOOR_UNITS * 40000;
	if (s < s_median)
		s = s_median;
	if (s < s_units)
		s = s_units;
	ASSERT(s > 0 && s <= INT64_MAX);
	out->sigma_x40000 = (int64_t)s;
	out->median_x4 = r->median_x4;
	out->f_num = f_num;
	out->f_den = f_den;
	/* x is no anomaly iff |4x·f_den − m4·f_num|·10^4 <= T·S·f_num, i.e.
	 * ceil((m4·10^4 − T·S)·f_num / (40000·f_den)) <= x <= floor((m4·10^4 + T·S)·f_num / (40000·f_den)). */
	__int128 center = (__int128)r->median_x4 * 10000;
	__int128 reach = (__int128)threshold * s;
	__int128 den = (__int128)40000 * f_den;
	out->high = floor_div128((center + reach) * f_num, den);
	out->low = -floor_div128(-(center - reach) * f_num, den);
	if (out->low < 0)
		out->low = 0;
}

int64_t insights_score_tenths(const struct insights_band *b, int64_t quantity)
{
	__int128 dev = (__int128)quantity * 4 * b->f_den - (__int128)b->median_x4 * b->f_num;
	if (dev < 0)
		dev = -dev;
	return round_div128(dev * 10000 * 10, (__int128)b->sigma_x40000 * b->f_num);
}

int insights_is_anomaly(const struct insights_band *b, int64_t quantity)
{
	return quantity < b->low || quantity > b->high;
}

/* ---------------------------------------------------------------------------------------------
 * The series: history, grain, trend
 */

/* What scoring one series needs besides struct usage. */
struct scan {
	size_t first;       /* first hour with a record in the window (SIZE_MAX: none) */
	size_t b0;          /* the baseline's first hour: ps − 168·W */
	int64_t weeks;      /* W */
	int64_t a, b;       /* usage of the baseline's recent and older half */
	size_t day_end;     /* end of the period's complete days before the horizon (hour index) */
};

static int64_t hour_value(const struct usage *u, size_t h)
{
	return u->hseen[h] ? u->hq[h] : 0;
}

/* The trend factor f = f_num / f_den for a point `off` weeks after the baseline's anchor (the
 * baseline's values of that point lie off, off + 1, ..., off + W − 1 weeks before it):
 *   growth per week g = (a − b) / ((a + b)/2) / (W/2),  f = 1 + g·(off + (W − 1)/2),
 * clamped to 1/2 .. 2 (INSIGHTS_TREND_MAX_E2). Without usage in the baseline, f = 1. */
static void trend_factor(const struct scan *sc, int64_t off, int64_t *num, int64_t *den)
{
	int64_t w = sc->weeks;
	if (sc->a + sc->b <= 0) {
		*num = *den = 1;
		return;
	}
	__int128 d = (__int128)2 * w * (sc->a + sc->b);
	__int128 n = d + (__int128)4 * (sc->a - sc->b) * (2 * off + w - 1);
	if (n * 100 > d * INSIGHTS_TREND_MAX_E2)
		n = d * INSIGHTS_TREND_MAX_E2 / 100;
	if (n * INSIGHTS_TREND_MAX_E2 < d * 100)
		n = (d * 100 + INSIGHTS_TREND_MAX_E2 - 1) / INSIGHTS_TREND_MAX_E2;
	/* Keep both within int64: a+b <= 2^40 · 1344 hours, so d < 2^55. */
	ASSERT(d <= INT64_MAX && n > 0 && n <= INT64_MAX);
	*num = (int64_t)n;
	*den = (int64_t)d;
}

/* Growth per week × 10^4 (for the text): 4(a − b) / (W(a + b)). */
static int64_t trend_e4(const struct scan *sc)
{
	if (sc->a + sc->b <= 0)
		return 0;
	return round_div128((__int128)4 * (sc->a - sc->b) * 10000, (__int128)sc->weeks * (sc->a + sc->b));
}

/* Whether the hours of the baseline's week either always or never report, with enough always. */
static int grain_hourly(const struct usage *u, const struct scan *sc)
{
	int64_t w = sc->weeks, present = 0, absent = 0;
	for (size_t k = 0; k < HOURS_PER_WEEK; k++) {
		int64_t c = 0;
		for (int64_t j = 0; j < w; j++)
			c += u->hseen[sc->b0 + (size_t)j * HOURS_PER_WEEK + k];
		present += c >= w - 1;
		absent += c <= 1;
	}
	return present >= INSIGHTS_HOURLY_SLOTS_MIN && present + absent >= INSIGHTS_REGULAR_SLOTS_MIN;
}

static int day_seen(const struct usage *u, size_t day)
{
	for (size_t h = day * 24; h < day * 24 + 24; h++)
		if (u->hseen[h])
			return 1;
	return 0;
}

/* Whether each weekday of the baseline either always or never has usage (some always). */
static int grain_daily(const struct usage *u, const struct scan *sc)
{
	int64_t w = sc->weeks, present = 0;
	size_t d0 = sc->b0 / 24;
	for (size_t k = 0; k < 7; k++) {
		int64_t c = 0;
		for (int64_t j = 0; j < w; j++)
			c += day_seen(u, d0 + (size_t)j * 7 + k);
		if (c > 1 && c < w - 1)
			return 0;
		present += c >= w - 1;
	}
	return present > 0;
}

static size_t iso_week_start(const struct usage *u, size_t h);

/* ISO weeks with usage among the W whole ISO weeks before the period. */
static int64_t weeks_with_usage(const struct usage *u, const struct scan *sc)
{
	int64_t n = 0;
	size_t end = iso_week_start(u, u->ps);
	for (int64_t j = 1; j <= sc->weeks && end >= (size_t)j * HOURS_PER_WEEK; j++) {
		size_t from = end - (size_t)j * HOURS_PER_WEEK;
		int any = 0;
		for (size_t h = from; h < from + HOURS_PER_WEEK && !any; h++)
			any = u->hseen[h];
		n += any;
	}
	return n;
}

static int64_t sum_hours(const struct usage *u, size_t from, size_t to)
{
	int64_t s = 0;
	for (size_t h = from; h < to; h++)
		s += hour_value(u, h);
	return s;
}

/* ---------------------------------------------------------------------------------------------
 * Money: points at the unit price of their days
 */

#define PRICE_DAYS_MAX 40 /* the days a run of the period's points spans: at most 31 */

/* The expected and actual quantities of pts[from, to) at the unit price of each UTC day
 * (usage_day_price, the lookup reconcile prices usage with), unrounded micros: 1, or 0 when a
 * day has no price. A week is priced at the price of its first day in the period (its
 * expectation is a week's, with no day of its own). `expected` is the run's expectation rounded
 * to whole units, as the sentence gives it: it is apportioned to the days by their exact
 * expectations (largest remainder, the earlier day on a tie), so that one price for every day
 * gives exactly expected × price, as before prices by day. */
static int price_points(const struct usage *u, const struct usage_row *row, const struct spoint *pts, size_t from,
			size_t to, int64_t expected, int64_t *expected_value, int64_t *actual_value)
{
	int32_t day[PRICE_DAYS_MAX];
	int64_t exp_q[PRICE_DAYS_MAX], act_q[PRICE_DAYS_MAX];
	__int128 exp_x[PRICE_DAYS_MAX]; /* × 4 · f_den */
	unsigned char bumped[PRICE_DAYS_MAX];
	size_t n = 0;
	int32_t first = time_day_of(u->period_start_us);
	ASSERT(from < to);
	for (size_t i = from; i < to; i++) {
		int32_t d = time_day_of(pts[i].start_us);
		if (d < first)
			d = first; /* a week that began before the period */
		if (n == 0 || day[n - 1] != d) {
			ASSERT(n < PRICE_DAYS_MAX && (n == 0 || d > day[n - 1]));
			day[n] = d;
			act_q[n] = 0;
			exp_x[n] = 0;
			bumped[n] = 0;
			n++;
		}
		act_q[n - 1] += pts[i].quantity; /* a run's sum fits: the run's total did (add_incident) */
		ASSERT(pts[i].f_den == pts[from].f_den); /* one denominator per series */
		exp_x[n - 1] += pts[i].expected_x4f;
	}
	__int128 den = (__int128)4 * pts[from].f_den;
	int64_t rest = expected;
	__int128 rem[PRICE_DAYS_MAX]; /* in [0, den): floors, so a negative expectation (a recorded
				       * series' correction) is shared out the same way */
	for (size_t k = 0; k < n; k++) {
		exp_q[k] = floor_div128(exp_x[k], den);
		rem[k] = exp_x[k] - (__int128)exp_q[k] * den;
		rest -= exp_q[k];
	}
	/* expected = round(Σ exact) = Σ floors + round(Σ remainders) (half away from zero either
	 * side of 0), each remainder below one unit: so 0 to n units are left to share */
	ASSERT(rest >= 0 && (size_t)rest <= n);
	for (; rest > 0; rest--) {
		size_t best = n;
		for (size_t k = 0; k < n; k++)
			if (!bumped[k] && (best == n || rem[k] > rem[best]))
				best = k;
		ASSERT(best < n);
		bumped[best] = 1;
		exp_q[best]++;
	}
	return usage_price_days(u, row, day, exp_q, n, expected_value) &&
	       usage_price_days(u, row, day, act_q, n, actual_value);
}

/* ---------------------------------------------------------------------------------------------
 * Points and incidents
 */

static int add_incident(struct usage *u, enum usage_grain grain, const struct spoint *pts, size_t from, size_t to,
			int ongoing, struct err *e)
{
	struct anomaly *a = insights_grow(u->anomalies, &u->anomalies_cap, u->anomalies_n + 1, sizeof *a, e);
	if (!a)
		return -1;
	u->anomalies = a;
	a = &u->anomalies[u->anomalies_n++];
	memset(a, 0, sizeof *a);
	a->row = u->rows_n - 1;
	a->grain = grain;
	a->from_us = pts[from].start_us;
	a->to_us = pts[to - 1].start_us;
	a->points = (int64_t)(to - from);
	a->direction = pts[from].direction;
	a->ongoing = ongoing;
	a->seq = 1;
	__int128 exp = 0;
	for (size_t i = from; i < to; i++) {
		exp += pts[i].expected_x4f;
		a->actual += pts[i].quantity;
		if (pts[i].score_tenths > a->score_tenths)
			a->score_tenths = pts[i].score_tenths;
	}
	a->expected = round_div128(exp, (__int128)4 * pts[from].f_den);
	a->priced = price_points(u, &u->rows[a->row], pts, from, to, a->expected, &a->expected_value_micros,
				 &a->actual_value_micros);
	return 0;
}

/* Whether point p, not anomalous itself, may lie inside an incident of direction dir: it leans
 * the same way (a score of at least half the threshold), or nothing is expected and nothing came
 * (the night or weekend of business hours). */
static int bridges(const struct spoint *p, int dir)
{
	return p->direction == 0 && (p->lean == dir || p->idle);
}

/* Incidents of pts[0..n): runs of anomalous points in one direction, where up to gap_max
 * consecutive points that bridge (above) do not end the run. An incident starts and ends on an
 * anomalous point. */
static int incidents_of(struct usage *u, enum usage_grain grain, const struct spoint *pts, size_t n, size_t gap_max,
			struct err *e)
{
	for (size_t i = 0; i < n;) {
		if (pts[i].direction == 0) {
			i++;
			continue;
		}
		int dir = pts[i].direction;
		size_t last = i, j = i + 1, gap = 0;
		while (j < n) {
			if (pts[j].direction == dir) {
				last = j;
				gap = 0;
			} else if (gap < gap_max && bridges(&pts[j], dir)) {
				gap++;
			} else {
				break;
			}
			j++;
		}
		if (add_incident(u, grain, pts, i, last + 1, last + 1 == n, e) < 0)
			return -1;
		i = last + 1;
	}
	return 0;
}

/* The revenue-leak check (SPEC §4.9 "since 2026-11-16 recorded usage is 40 % below expected"):
 * lost records and level shifts persist, and a persistent shift too small for any one day's band
 * is large over the days since it began. Among the suffixes of the period's scored days
 * pts[d..n), the one where a shift is most likely — the largest (Σ dev)² / n, the earliest on a
 * tie — is an incident when its total deviation exceeds INSIGHTS_LEAK_THRESHOLD times the root of
 * the sum of the days' variances, is at least INSIGHTS_LEAK_MIN_E2 % of what was expected, spans
 * at least two days, and at least INSIGHTS_LEAK_DAYS_E2 % of its days lean its way (a spike is
 * not a shift). All in whole quarter-units, so the decision is exact. Returns the suffix's first
 * index and *dir, or n. */
static size_t leak_of(const struct spoint *pts, size_t n, int *dir)
{
	__int128 sum = 0, var = 0, exp = 0;
	size_t best = n;
	__int128 best_sum = 0, best_var = 0, best_exp = 0;
	for (size_t k = n; k-- > 0;) {
		sum += pts[k].dev_q4;
		var += (__int128)pts[k].sig_q4 * pts[k].sig_q4;
		exp += pts[k].exp_q4;
		size_t len = n - k, blen = n - best;
		/* sum² / len >= best_sum² / blen, preferring the longer (earlier) suffix on a tie */
		if (best == n || sum * sum * (__int128)blen >= best_sum * best_sum * (__int128)len) {
			best = k;
			best_sum = sum;
			best_var = var;
			best_exp = exp;
		}
	}
	if (best == n || n - best < 2 || best_sum == 0)
		return n;
	int d = best_sum > 0 ? 1 : -1;
	size_t lean = 0;
	for (size_t k = best; k < n; k++)
		lean += (d > 0 ? pts[k].dev_q4 > 0 : pts[k].dev_q4 < 0);
	__int128 abs_sum = best_sum < 0 ? -best_sum : best_sum;
	if (abs_sum * abs_sum <= (__int128)INSIGHTS_LEAK_THRESHOLD * INSIGHTS_LEAK_THRESHOLD * best_var ||
	    abs_sum * 100 < best_exp * INSIGHTS_LEAK_MIN_E2 || lean * 100 < (n - best) * INSIGHTS_LEAK_DAYS_E2)
		return n;
	*dir = d;
	return best;
}

/* The day incidents of pts[0..n): the leak since some day, when there is one, and the runs of
 * anomalous days before it (a weekend may lie inside a run: gaps of up to 3 days). */
static int day_incidents(struct usage *u, const struct spoint *pts, size_t n, struct err *e)
{
	int dir = 0;
	size_t leak = leak_of(pts, n, &dir);
	if (incidents_of(u, GRAIN_DAY, pts, leak, 3, e) < 0)
		return -1;
	/* a run that reaches into the leak's days in its direction joins it */
	size_t from = leak;
	if (leak < n && u->anomalies_n > 0) {
		struct anomaly *last = &u->anomalies[u->anomalies_n - 1];
		if (last->row == u->rows_n - 1 && last->grain == GRAIN_DAY && last->direction == dir &&
		    last->to_us + 4 * 24 * US_PER_HOUR > pts[leak].start_us) {
			for (from = leak; from > 0 && pts[from - 1].start_us >= last->from_us; from--)
				;
			u->anomalies_n--;
		}
	}
	if (leak < n) {
		if (add_incident(u, GRAIN_DAY, pts, from, n, 1, e) < 0)
			return -1;
		u->anomalies[u->anomalies_n - 1].direction = dir;
	}
	return 0;
}

/* Where hour incidents [h0, h1) and day incidents [d0, d1) of the series overlap in one direction,
 * one stands for both: a single-day incident that one hour incident explains (at least half of
 * its deviation) gives way to it — the hours say more precisely what happened; otherwise the day
 * incident stays and the hour incidents within its days are dropped (a level shift or a long
 * outage is one row, not one per day). */
static void merge_grains(struct usage *u, size_t h0, size_t h1, size_t d0, size_t d1)
{
	for (size_t d = d0; d < d1; d++) {
		struct anomaly *day = &u->anomalies[d];
		int64_t day_end_us = day->to_us + 24 * US_PER_HOUR;
		__int128 explained = 0;
		int overlaps = 0;
		for (size_t h = h0; h < h1; h++) {
			const struct anomaly *hr = &u->anomalies[h];
			if (hr->dropped || hr->direction != day->direction || hr->to_us < day->from_us ||
			    hr->from_us >= day_end_us)
				continue;
			overlaps++;
			explained += hr->actual - hr->expected;
		}
		if (!overlaps)
			continue;
		__int128 dev = day->actual - day->expected;
		if (day->points == 1 && overlaps == 1 && (explained < 0 ? -explained : explained) * 2 >= (dev < 0 ? -dev : dev)) {
			day->dropped = 1;
			continue;
		}
		for (size_t h = h0; h < h1; h++) {
			struct anomaly *hr = &u->anomalies[h];
			if (hr->direction == day->direction && hr->to_us >= day->from_us && hr->from_us < day_end_us)
				hr->dropped = 1;
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * Scoring at each grain
 */

/* The rest of point p from its own band b and threshold t: direction, lean, idle, and its
 * deviation, expectation and sigma in whole quarter-units (rounded half away from zero; the
 * leak check adds them up). */
static void finish_point(struct spoint *p, const struct insights_band *b, int t)
{
	p->direction = p->quantity > p->high ? 1 : p->quantity < p->low ? -1 : 0;
	__int128 dev = (__int128)p->quantity * 4 * b->f_den - (__int128)b->median_x4 * b->f_num;
	int64_t own = insights_score_tenths(b, p->quantity);
	p->lean = own * 2 >= (int64_t)t * 10 ? (dev > 0 ? 1 : dev < 0 ? -1 : 0) : 0;
	p->idle = b->median_x4 == 0 && p->quantity == 0;
	p->dev_q4 = round_div128(dev, b->f_den);
	p->exp_q4 = round_div128((__int128)b->median_x4 * b->f_num, b->f_den);
	p->sig_q4 = round_div128((__int128)b->sigma_x40000 * b->f_num, (__int128)10000 * b->f_den);
}

/* The baseline of a slot: the values v(anchor − step·j), j = 0..W−1, that lie in the window. */
static size_t baseline_values(const int64_t *v, int64_t anchor, int64_t step, int64_t weeks, int64_t lowest,
			      int64_t *out)
{
	size_t n = 0;
	for (int64_t j = 0; j < weeks; j++) {
		int64_t i = anchor - step * j;
		if (i >= lowest)
			out[n++] = v[i];
	}
	return n;
}

/* Hours [ps, horizon): each against its hour of the week and both neighbours. */
static void score_hours(struct usage *u, const struct scan *sc, struct spoint *pts, size_t *pts_n)
{
	struct stats_robust slot[HOURS_PER_WEEK];
	int64_t vals[INSIGHTS_BASE_WEEKS];
	/* The baseline is the same for every hour with the same hour of the week: the W weeks before
	 * the period (its values lie 1..W weeks before the period's first week's hours). */
	for (size_t k = 0; k < HOURS_PER_WEEK; k++) {
		int64_t anchor = (int64_t)u->ps - HOURS_PER_WEEK + (int64_t)k;
		ASSERT(anchor - HOURS_PER_WEEK * (sc->weeks - 1) == (int64_t)(sc->b0 + k)); /* within the baseline */
		for (int64_t j = 0; j < sc->weeks; j++)
			vals[j] = hour_value(u, (size_t)(anchor - HOURS_PER_WEEK * j));
		stats_robust_small(vals, (size_t)sc->weeks, &slot[k]);
	}
	size_t n = 0;
	for (size_t h = u->ps; h < u->horizon; h++) {
		size_t rel = h - u->ps;
		size_t k = rel % HOURS_PER_WEEK;
		int64_t off = (int64_t)(rel / HOURS_PER_WEEK) + 1, f_num, f_den;
		trend_factor(sc, off, &f_num, &f_den);
		struct insights_band b[3];
		for (int t = 0; t < 3; t++)
			insights_band_of(&slot[(k + HOURS_PER_WEEK - 1 + (size_t)t) % HOURS_PER_WEEK], INSIGHTS_HOUR_THRESHOLD,
					 INSIGHTS_HOUR_FLOOR_E4, f_num, f_den, &b[t]);
		struct spoint *p = &pts[n++];
		p->start_us = u->window_start_us + (int64_t)h * US_PER_HOUR;
		p->quantity = hour_value(u, h);
		p->expected_x4f = (__int128)b[1].median_x4 * f_num;
		p->f_den = f_den;
		p->low = b[0].low;
		p->high = b[0].high;
		p->score_tenths = INT64_MAX;
		for (int t = 0; t < 3; t++) {
			p->low = b[t].low < p->low ? b[t].low : p->low;
			p->high = b[t].high > p->high ? b[t].high : p->high;
			int64_t s = insights_score_tenths(&b[t], p->quantity);
			p->score_tenths = s < p->score_tenths ? s : p->score_tenths;
		}
		finish_point(p, &b[1], INSIGHTS_HOUR_THRESHOLD);
	}
	*pts_n = n;
}

/* Days of the period before sc->day_end (complete), each against its weekday of the W weeks before. */
static void score_days(struct usage *u, const struct scan *sc, struct spoint *pts, size_t *pts_n)
{
	size_t psd = u->ps / 24, end = sc->day_end / 24, days = u->hours / 24;
	for (size_t d = 0; d < days; d++)
		u->dq[d] = sum_hours(u, d * 24, d * 24 + 24);
	struct stats_robust slot[7];
	int64_t vals[INSIGHTS_BASE_WEEKS];
	for (size_t k = 0; k < 7; k++) {
		int64_t anchor = (int64_t)psd - 7 + (int64_t)k;
		size_t n = baseline_values(u->dq, anchor, 7, sc->weeks, (int64_t)(sc->b0 / 24), vals);
		ASSERT(n >= 1);
		stats_robust_small(vals, n, &slot[k]);
	}
	size_t n = 0;
	for (size_t d = psd; d < end; d++) {
		size_t rel = d - psd;
		int64_t off = (int64_t)(rel / 7) + 1, f_num, f_den;
		trend_factor(sc, off, &f_num, &f_den);
		struct insights_band b;
		insights_band_of(&slot[rel % 7], INSIGHTS_DAY_THRESHOLD, INSIGHTS_DAY_FLOOR_E4, f_num, f_den, &b);
		struct spoint *p = &pts[n++];
		p->start_us = u->window_start_us + (int64_t)d * 24 * US_PER_HOUR;
		p->quantity = u->dq[d];
		p->expected_x4f = (__int128)b.median_x4 * f_num;
		p->f_den = f_den;
		p->low = b.low;
		p->high = b.high;
		p->score_tenths = insights_score_tenths(&b, p->quantity);
		finish_point(p, &b, INSIGHTS_DAY_THRESHOLD);
	}
	*pts_n = n;
}

/* The first hour (window index) of the UTC ISO week (Monday 00:00) holding hour h (h may be the
 * window's end; no array is read). */
static size_t iso_week_start(const struct usage *u, size_t h)
{
	int64_t day = time_day_of(u->window_start_us) + (int64_t)(h / 24); /* days since 1970-01-01, a Thursday */
	int64_t monday_back = ((day + 3) % 7 + 7) % 7;
	ASSERT((int64_t)(h / 24) >= monday_back || h < HOURS_PER_WEEK);
	return (int64_t)(h / 24) >= monday_back ? (h / 24 - (size_t)monday_back) * 24 : 0;
}

/* Weekly totals: the UTC ISO weeks (Monday to Sunday; a weekly job keeps to some weekly cycle,
 * and Monday's is the usual one) that end in the period before the horizon's last complete day,
 * each against the median and MAD of the W weeks before the first of them. No trend: a weekly
 * job's four-week totals are too coarse to estimate one. */
static void score_weeks(struct usage *u, const struct scan *sc, struct spoint *pts, size_t *pts_n)
{
	*pts_n = 0;
	size_t end = iso_week_start(u, sc->day_end); /* the last complete week ends on a Monday */
	size_t nb = 0;
	while (end >= (nb + 1) * HOURS_PER_WEEK && end - nb * HOURS_PER_WEEK > u->ps)
		nb++;
	if (nb == 0)
		return;
	size_t e0 = end - nb * HOURS_PER_WEEK; /* the first scored week's first hour */
	int64_t vals[INSIGHTS_BASE_WEEKS];
	size_t n = 0;
	for (int64_t j = 0; j < sc->weeks; j++) {
		if (e0 < (size_t)(j + 1) * HOURS_PER_WEEK)
			break;
		size_t from = e0 - (size_t)(j + 1) * HOURS_PER_WEEK;
		if (from + 24 < sc->first) /* before the first usage: not history */
			break;
		vals[n++] = sum_hours(u, from, from + HOURS_PER_WEEK);
	}
	if (n < 3)
		return;
	struct stats_robust r;
	stats_robust_small(vals, n, &r);
	for (size_t i = 0; i < nb; i++) {
		size_t from = e0 + i * HOURS_PER_WEEK;
		struct insights_band b;
		insights_band_of(&r, INSIGHTS_WEEK_THRESHOLD, INSIGHTS_WEEK_FLOOR_E4, 1, 1, &b);
		struct spoint *p = &pts[(*pts_n)++];
		p->start_us = u->window_start_us + (int64_t)from * US_PER_HOUR;
		p->quantity = sum_hours(u, from, from + HOURS_PER_WEEK);
		p->expected_x4f = (__int128)b.median_x4;
		p->f_den = 1;
		p->low = b.low;
		p->high = b.high;
		p->score_tenths = insights_score_tenths(&b, p->quantity);
		finish_point(p, &b, INSIGHTS_WEEK_THRESHOLD);
	}
}

/* The row's level (median and MAD of the baseline's points at the series' grain). */
static int row_level(struct usage *u, struct usage_row *row, const struct scan *sc, struct err *e)
{
	size_t n = 0;
	int64_t *v = u->dq + u->hours / 24; /* scratch after the days (sized for the window's hours) */
	if (row->grain == GRAIN_HOUR) {
		for (size_t h = sc->b0; h < u->ps; h++)
			v[n++] = hour_value(u, h);
	} else if (row->grain == GRAIN_DAY) {
		for (size_t d = sc->b0 / 24; d < u->ps / 24; d++)
			v[n++] = sum_hours(u, d * 24, d * 24 + 24);
	} else {
		for (int64_t j = 0; j < sc->weeks; j++)
			v[n++] = sum_hours(u, sc->b0 + (size_t)j * HOURS_PER_WEEK, sc->b0 + (size_t)(j + 1) * HOURS_PER_WEEK);
	}
	row->history_points = (int64_t)n;
	return stats_robust(v, n, &row->robust, e);
}

static void copy_points(struct usage *u, const struct spoint *pts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		u->points[i] = (struct point){ pts[i].start_us, pts[i].quantity, pts[i].low, pts[i].high,
					       pts[i].score_tenths, pts[i].direction != 0 };
	u->points_n = n;
}

static void row_totals(const struct usage *u, struct usage_row *row, const struct spoint *pts, size_t n,
		       int64_t days_per_point)
{
	row->total_days = 0;
	row->total_actual = 0;
	row->total_priced = 0;
	for (size_t i = 0; i < n; i++)
		row->total_actual += pts[i].quantity;
	if (n > 0) {
		__int128 exp = 0; /* f_den is the series' own: one denominator for all its points */
		for (size_t i = 0; i < n; i++)
			exp += pts[i].expected_x4f;
		row->total_expected = round_div128(exp, (__int128)4 * pts[0].f_den);
		row->total_from_day = time_day_of(pts[0].start_us);
		row->total_to_day = time_day_of(pts[n - 1].start_us) + days_per_point - 1;
		row->total_days = row->total_to_day - row->total_from_day + 1;
		row->total_priced = price_points(u, row, pts, 0, n, row->total_expected, &row->total_expected_value_micros,
						 &row->total_actual_value_micros);
	}
}

int usage_score_series(struct usage *u, struct err *e)
{
	struct usage_row *row = &u->rows[u->rows_n - 1];
	struct scan sc = { .first = SIZE_MAX };
	for (size_t i = 0; i < u->touched_n; i++)
		if (u->touched[i] < sc.first)
			sc.first = u->touched[i];
	u->points_n = 0;
	row->first_day = -1;
	size_t cal = sc.first < u->ps ? u->ps - sc.first : 0;
	if (sc.first < u->ps)
		row->first_day = time_day_of(u->window_start_us + (int64_t)sc.first * US_PER_HOUR);
	row->history_days = (int64_t)(cal / 24);
	char pstart[11];
	time_format_day(time_day_of(u->period_start_us), pstart);
	if (cal < 2 * HOURS_PER_WEEK && sc.first < u->ps) {
		char first[11];
		time_format_day((int32_t)row->first_day, first);
		row->status = "NOT_ENOUGH_HISTORY";
		snprintf(row->reason, sizeof row->reason,
			 "not scored: first usage on %s, %" PRId64 " days before %s; %d weeks of usage are needed", first,
			 row->history_days, pstart, INSIGHTS_MIN_WEEKS);
		return 0;
	}
	if (sc.first >= u->ps) {
		row->status = "NOT_ENOUGH_HISTORY";
		snprintf(row->reason, sizeof row->reason,
			 "not scored: no usage in the %d months before %s; %d weeks of usage are needed",
			 INSIGHTS_HISTORY_MONTHS, pstart, INSIGHTS_MIN_WEEKS);
		return 0;
	}
	int64_t full_weeks = (int64_t)(cal / HOURS_PER_WEEK);
	if (full_weeks < INSIGHTS_ONBOARDING_WEEKS) {
		/* Onboarding: the last week before the period against the first full week of usage. */
		size_t w1 = u->ps - (size_t)full_weeks * HOURS_PER_WEEK;
		int64_t first_week = sum_hours(u, w1, w1 + HOURS_PER_WEEK);
		int64_t last_week = sum_hours(u, u->ps - HOURS_PER_WEEK, u->ps);
		if ((__int128)last_week * 100 >= (__int128)first_week * INSIGHTS_ONBOARDING_GROWTH_E2 && last_week > first_week) {
			char first[11];
			time_format_day((int32_t)row->first_day, first);
			row->status = "ONBOARDING";
			snprintf(row->reason, sizeof row->reason,
				 "onboarding, not scored: first usage on %s; weekly usage grew from %" PRId64 " to %" PRId64
				 " units before %s; scored once %d weeks of usage are known",
				 first, first_week, last_week, pstart, INSIGHTS_ONBOARDING_WEEKS);
			return 0;
		}
		if (full_weeks < INSIGHTS_MIN_WEEKS) {
			char first[11];
			time_format_day((int32_t)row->first_day, first);
			row->status = "NOT_ENOUGH_HISTORY";
			snprintf(row->reason, sizeof row->reason,
				 "not scored: first usage on %s, %" PRId64 " days before %s; %d weeks of usage are needed",
				 first, row->history_days, pstart, INSIGHTS_MIN_WEEKS);
			return 0;
		}
	}
	sc.weeks = full_weeks < INSIGHTS_BASE_WEEKS ? full_weeks - full_weeks % 2 : INSIGHTS_BASE_WEEKS;
	row->weeks = sc.weeks;
	sc.b0 = u->ps - (size_t)sc.weeks * HOURS_PER_WEEK;
	size_t half = u->ps - (size_t)(sc.weeks / 2) * HOURS_PER_WEEK;
	sc.a = sum_hours(u, half, u->ps);
	sc.b = sum_hours(u, sc.b0, half);
	row->trend_e4 = trend_e4(&sc);
	sc.day_end = u->horizon - u->horizon % 24;
	if (grain_hourly(u, &sc))
		row->grain = GRAIN_HOUR;
	else if (grain_daily(u, &sc))
		row->grain = GRAIN_DAY;
	else if (weeks_with_usage(u, &sc) >= sc.weeks - 1)
		row->grain = GRAIN_WEEK;
	else {
		row->status = "IRREGULAR";
		int64_t days = 0;
		for (size_t d = sc.b0 / 24; d < u->ps / 24; d++)
			days += day_seen(u, d);
		snprintf(row->reason, sizeof row->reason,
			 "not scored: usage on %" PRId64 " of the %" PRId64 " days and in %" PRId64 " of the %" PRId64
			 " weeks before %s is too irregular for an expectation",
			 days, sc.weeks * 7, weeks_with_usage(u, &sc), sc.weeks, pstart);
		return 0;
	}
	if (row->grain == GRAIN_WEEK)
		row->trend_e4 = 0; /* weekly totals are scored without a trend (score_weeks) */
	if (row_level(u, row, &sc, e) < 0)
		return -1;
	row->scored = 1;
	/* Points: hours and days, or days, or weeks (u->spoints: the window's hours, twice). */
	struct spoint *hp = u->spoints, *dp = hp + u->hours;
	size_t hn = 0, dn = 0;
	size_t first_anomaly = u->anomalies_n;
	if (row->grain == GRAIN_HOUR) {
		score_hours(u, &sc, hp, &hn);
		score_days(u, &sc, dp, &dn);
		size_t h0 = u->anomalies_n;
		if (incidents_of(u, GRAIN_HOUR, hp, hn, 2, e) < 0)
			return -1;
		size_t d0 = u->anomalies_n;
		if (day_incidents(u, dp, dn, e) < 0)
			return -1;
		merge_grains(u, h0, d0, d0, u->anomalies_n);
		copy_points(u, hp, hn);
		row_totals(u, row, dp, dn, 1);
	} else if (row->grain == GRAIN_DAY) {
		score_days(u, &sc, dp, &dn);
		if (day_incidents(u, dp, dn, e) < 0)
			return -1;
		copy_points(u, dp, dn);
		row_totals(u, row, dp, dn, 1);
	} else {
		score_weeks(u, &sc, dp, &dn);
		if (incidents_of(u, GRAIN_WEEK, dp, dn, 1, e) < 0)
			return -1;
		copy_points(u, dp, dn);
		row_totals(u, row, dp, dn, 7);
	}
	/* Compact: drop absorbed incidents. */
	size_t w = first_anomaly;
	for (size_t i = first_anomaly; i < u->anomalies_n; i++)
		if (!u->anomalies[i].dropped)
			u->anomalies[w++] = u->anomalies[i];
	u->anomalies_n = w;
	row->anomalies = (int64_t)(w - first_anomaly);
	row->max_score_tenths = 0;
	for (size_t i = 0; i < u->points_n; i++)
		if (u->points[i].score_tenths > row->max_score_tenths)
			row->max_score_tenths = u->points[i].score_tenths;
	for (size_t i = first_anomaly; i < w; i++)
		if (u->anomalies[i].score_tenths > row->max_score_tenths)
			row->max_score_tenths = u->anomalies[i].score_tenths;
	row->band_low = INT64_MAX;
	row->band_high = 0;
	for (size_t i = 0; i < u->points_n; i++) {
		row->band_low = u->points[i].low < row->band_low ? u->points[i].low : row->band_low;
		row->band_high = u->points[i].high > row->band_high ? u->points[i].high : row->band_high;
	}
	if (u->points_n == 0)
		row->band_low = 0;
	row->status = row->anomalies > 0 ? "ANOMALY" : "OK";
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The insights files' growable arrays: here, in the file below every other insights file, so
 * that each of them calls down into it (insights_int.h)
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

/* ---------------------------------------------------------------------------------------------
 * Prices by day
 */

int usage_day_price(const struct usage *u, const struct usage_row *row, int32_t day, int64_t *price_micros)
{
	if (!row->priced || !u->offers)
		return 0;
	const char *bad; /* a price that is no exact number of micros prices nothing, as in reconcile */
	return usage_prices_on(&u->offers->prices, row->offer_id, row->agreement_id, row->dimension, day, price_micros,
			       &bad);
}

int usage_price_days(const struct usage *u, const struct usage_row *row, const int32_t *day, const int64_t *qty,
		     size_t n, int64_t *value_micros)
{
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t price, v;
		if (qty[i] == 0)
			continue; /* a day without usage costs nothing, priced or not */
		if (!usage_day_price(u, row, day[i], &price) || money_mul_qty(price, qty[i], &v) != MONEY_OK ||
		    money_add(sum, v, &sum) != MONEY_OK)
			return 0;
	}
	*value_micros = sum;
	return 1;
}
