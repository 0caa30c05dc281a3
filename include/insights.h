/* insights.h — statistics on metered usage and payment timing (issue 6; docs/insights.md).
 *
 * insights_compute runs after reconcile_period, inside the caller's transaction, and writes the
 * period's insights under the run (sql/005_insights.sql): one settle.insight_usage row per usage
 * series, the points of the most anomalous series for its chart (settle.insight_usage_point),
 * timing statistics per recipient and currency (settle.insight_timing) with their histograms
 * (settle.insight_histogram), the period's totals (settle.insight_summary), and one
 * USAGE_ANOMALY row in settle.exception per incident (SPEC §4.7, §4.9).
 *
 * Everything is computed from integer days and quantities through stats.h (GNU GSL); the only
 * amounts are an incident's expected and actual quantities at the offer's unit price (money.h),
 * written to the exception and never read back, so no insight can change an allocation or a payout. The
 * stored numbers are exact decimals (numeric) or integers, and every query has a total order in
 * C collation, so the same database, period and as-of give the same rows on every machine.
 *
 * The usage method (SPEC §4.9; docs/insights.md has the reasons): a series is
 * (customer_aws_account_id, product_code, dimension), its hours the sums of its Success records.
 * It is scored at a grain chosen from its baseline (hourly, daily or weekly totals): each point of
 * the period against the median and MAD of the same hour of the week (±1 hour for daylight saving),
 * weekday or week of the INSIGHTS_BASE_WEEKS weeks before the period, scaled by the trend of those
 * weeks; hourly series are also checked on daily totals. Consecutive anomalous points are one
 * incident, one USAGE_ANOMALY row priced at the offer's unit price. Series without enough calendar
 * history, onboarding or too irregular are noted, never raised.
 */
#ifndef SETTLE_INSIGHTS_H
#define SETTLE_INSIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "stats.h"

#define INSIGHTS_HISTORY_MONTHS 12       /* window: the 12 calendar months before the period (first usage) */
#define INSIGHTS_BASE_WEEKS 8            /* expectations from the same hour/weekday of the 8 weeks before */
#define INSIGHTS_MIN_WEEKS 4             /* calendar history needed to score: 4 weeks (then W = 4 or 6) */
#define INSIGHTS_ONBOARDING_WEEKS 8      /* a series younger than this whose weekly usage grew ... */
#define INSIGHTS_ONBOARDING_GROWTH_E2 125 /* ... to at least 1.25 x its first full week is onboarding */
#define INSIGHTS_HOURLY_SLOTS_MIN 14     /* hourly grain: at least 14 hours of the week always report ... */
#define INSIGHTS_REGULAR_SLOTS_MIN 151   /* ... and 151 of 168 (90 %) either always or never */
#define INSIGHTS_HOUR_THRESHOLD 5        /* robust score above which an hour is anomalous */
#define INSIGHTS_HOUR_FLOOR_E4 500       /* an hour's sigma is at least 5 % of its expectation */
#define INSIGHTS_DAY_THRESHOLD 4         /* a day's total: score above 4 ... */
#define INSIGHTS_DAY_FLOOR_E4 500        /* ... sigma at least 5 % of the expected total */
#define INSIGHTS_WEEK_THRESHOLD 4        /* a week's total: score above 4 ... */
#define INSIGHTS_WEEK_FLOOR_E4 1000      /* ... sigma at least 10 % */
#define INSIGHTS_LEAK_THRESHOLD 4        /* a shift since day d: total deviation > 4 sigma of the total ... */
#define INSIGHTS_LEAK_MIN_E2 15          /* ... and at least 15 % of the expected total ... */
#define INSIGHTS_LEAK_DAYS_E2 75         /* ... with 75 % of its days on its side */
#define INSIGHTS_TREND_MAX_E2 200        /* the trend factor stays within 1/2 .. 2 */
#define INSIGHTS_MAD_SCALE_E4 14826      /* 1.4826: MAD -> standard deviation under normality */
#define INSIGHTS_SIGMA_FLOOR_UNITS 1     /* sigma is at least one unit of quantity */
#define INSIGHTS_RECORD_TOL_E2 1         /* recorded vs metered: a day short by more than 1 % (and 1 unit) ... */
#define INSIGHTS_RECORD_GAP_DAYS 3       /* ... a run of short days bridges up to 3 days that lean its way */
#define INSIGHTS_HORIZON_LAG_HOURS 3     /* a running month: its newest 3 hours of usage are not scored */
#define INSIGHTS_SERIES_POINTS_MAX 20000 /* more hourly points than 13 months hold is a bug */
/* Usage records held in memory at once, a series counting as INSIGHTS_SERIES_COST_POINTS records
 * (its key and arrays): about 10-15 bytes a record, so some 15 MiB at most. The window is read
 * once; its series are cut in key order into ranges of at most this many points (one series more
 * when a series alone has more), and the records of the ranges after the first wait in temporary
 * files until their turn (docs/insights.md). The environment variable
 * SETTLE_INSIGHTS_POINTS_PER_PASS overrides the budget, for tests. */
#define INSIGHTS_POINTS_PER_PASS 1000000
#define INSIGHTS_SERIES_COST_POINTS 32

/* Which quantities are not anomalies at one point, from the baseline's median and MAD (x4, exact),
 * a threshold T, a floor of sigma (x10^4 of the median) and a trend factor f_num / f_den (> 0):
 * every integer x in [low, high], where
 *   sigma = max(1.4826 MAD, floor |median|, 1)        (sigma_x40000 = sigma x 40000, exact)
 *   expected = f median,  x is no anomaly  <=>  |x - expected| <= T f sigma.
 * low is never below 0 (quantities are not negative). */
struct insights_band {
	int64_t sigma_x40000;
	int64_t median_x4;
	int64_t f_num, f_den;
	int64_t low;
	int64_t high;
};
void insights_band_of(const struct stats_robust *r, int threshold, int64_t floor_e4, int64_t f_num, int64_t f_den,
		      struct insights_band *out);
/* |x - expected| / (f sigma) in tenths, rounded half away from zero (for notes and the chart). */
int64_t insights_score_tenths(const struct insights_band *b, int64_t quantity);
/* 1 when quantity lies outside [low, high]. */
int insights_is_anomaly(const struct insights_band *b, int64_t quantity);

/* The period's totals, also stored in settle.insight_summary. */
struct insights_summary {
	int64_t usage_series;             /* series with Success usage in the period */
	int64_t usage_scored;             /* of which had enough history */
	int64_t usage_not_enough_history; /* of which were not (onboarding, too short, irregular: a note each) */
	int64_t usage_anomalous_series;
	int64_t usage_anomalies;          /* incidents = USAGE_ANOMALY exceptions */
	int64_t payout_samples;           /* invoice_to_payout samples of the period, all recipients */
	int64_t payout_median_days_tenths;     /* valid when payout_samples > 0 */
	int64_t collection_samples;       /* invoice_to_collection samples */
	int64_t collection_median_days_tenths; /* valid when collection_samples > 0 */
};

/* Computes `period` (timeutil.h) as of as_of_us into run run_id, which must exist in settle.run.
 * Must run inside the caller's open transaction (asserted), like reconcile_period. Replaces any
 * insights (and USAGE_ANOMALY exceptions) of the same run and period, so a repeat is harmless.
 * cfg is borrowed; the thresholds above are not settings yet. Fills *out; returns 0, or -1 with
 * e filled (database errors, out of memory, a quantity beyond STATS_VALUE_ABS_MAX). */
int insights_compute(struct db *db, const struct config *cfg, int64_t run_id, int32_t period, int64_t as_of_us,
		     struct insights_summary *out, struct err *e);

/* The nightly summary's sentence, e.g. "3 usage anomalies; median days to payout 34" or
 * "1 usage anomaly; no payouts to time" (median shown with one decimal only when not whole).
 * Writes at most size bytes with the NUL; returns the length it needed (snprintf-like). */
size_t insights_summary_line(const struct insights_summary *s, char *buf, size_t size);

#endif
