/* insights.h — statistics on metered usage and payment timing (issue 6; docs/insights.md).
 *
 * insights_compute runs after reconcile_period, inside the caller's transaction, and writes the
 * period's insights under the run (sql/005_insights.sql): one settle.insight_usage row per usage
 * series, the points of the most anomalous series for its chart (settle.insight_usage_point),
 * timing statistics per recipient and currency (settle.insight_timing) with their histograms
 * (settle.insight_histogram), the period's totals (settle.insight_summary), and one
 * USAGE_ANOMALY row in settle.exception per anomalous hour (an addition to SPEC §4.7).
 *
 * Everything is computed from integer days and quantities through stats.h (GNU GSL); nothing
 * here reads an amount or writes one, so no insight can change an allocation or a payout. The
 * stored numbers are exact decimals (numeric) or integers, and every query has a total order in
 * C collation, so the same database, period and as-of give the same rows on every machine.
 *
 * The usage method (docs/insights.md has the reasons): a series is (customer_aws_account_id,
 * product_code, dimension); its points are hours with Success records (quantities of one hour
 * summed); its history is the points of the INSIGHTS_HISTORY_MONTHS months before the period. With
 * at least INSIGHTS_HISTORY_POINTS_MIN points over INSIGHTS_HISTORY_DAYS_MIN distinct days, the
 * history gives a median m and MAD, sigma = max(1.4826·MAD, 10 % of |m|, 1), and an hour x of the
 * period is an anomaly when |x − m| / sigma > INSIGHTS_SCORE_THRESHOLD. Shorter histories are
 * recorded as NOT_ENOUGH_HISTORY with a note, never as exceptions.
 */
#ifndef SETTLE_INSIGHTS_H
#define SETTLE_INSIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "stats.h"

#define INSIGHTS_HISTORY_MONTHS 12       /* history window: the 12 calendar months before the period */
#define INSIGHTS_HISTORY_POINTS_MIN 168  /* hourly points (one week of hours) ... */
#define INSIGHTS_HISTORY_DAYS_MIN 7      /* ... over at least this many distinct UTC days */
#define INSIGHTS_SCORE_THRESHOLD 5       /* robust score above which an hour is an anomaly */
#define INSIGHTS_MAD_SCALE_E4 14826      /* 1.4826: MAD → standard deviation under normality */
#define INSIGHTS_SIGMA_FLOOR_MEDIAN_E4 1000 /* sigma is at least 10 % of |median| ... */
#define INSIGHTS_SIGMA_FLOOR_UNITS 1     /* ... and at least one unit of quantity */
#define INSIGHTS_SERIES_POINTS_MAX 20000 /* more hourly points than 13 months hold is a bug */
/* Usage records held in memory at once, a series counting as INSIGHTS_SERIES_COST_POINTS records
 * (its key and arrays): about 10-15 bytes a record, so some 120 MiB at most. A window with more
 * is read in several passes over ranges of series (docs/insights.md). The environment variable
 * SETTLE_INSIGHTS_POINTS_PER_PASS overrides the budget, for tests. */
#define INSIGHTS_POINTS_PER_PASS 8000000
#define INSIGHTS_SERIES_COST_POINTS 32

/* Which hourly quantities are not anomalies, from a history's median and MAD: every integer x in
 * [low, high]. sigma_x40000 is sigma × 40000 (exact: 4 for the quarters of stats_robust, 10^4 for
 * the scale and floors above). low is never below 0 (quantities are not negative). */
struct insights_band {
	int64_t sigma_x40000;
	int64_t low;
	int64_t high;
};
void insights_band_of(const struct stats_robust *r, struct insights_band *out);
/* |x − median| / sigma in tenths, rounded half away from zero (for notes and the chart). */
int64_t insights_score_tenths(const struct stats_robust *r, const struct insights_band *b, int64_t quantity);
/* 1 when quantity lies outside [low, high], i.e. its exact score is above the threshold. */
int insights_is_anomaly(const struct insights_band *b, int64_t quantity);

/* The period's totals, also stored in settle.insight_summary. */
struct insights_summary {
	int64_t usage_series;             /* series with Success usage in the period */
	int64_t usage_scored;             /* of which had enough history */
	int64_t usage_not_enough_history; /* of which did not (a note each, no exception) */
	int64_t usage_anomalous_series;
	int64_t usage_anomalies;          /* anomalous hours = USAGE_ANOMALY exceptions */
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
