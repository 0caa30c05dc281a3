/* insights_int.h — what the insights files share: insights.c (control flow, results, payment
 * timing) above the readers (insights_read.c: the metering log; insights_recorded.c: the daily
 * usage feed), which feed insights_series.c, which scores through insights_score.c. Not for other
 * modules: their interface is insights.h.
 *
 * The reader streams a window's records, groups them by series and hour (one range of series at a
 * time in memory), and feeds each series in key order to the scoring code: usage_start_series, then usage_take_hour per hour in order
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
#include "usage_prices.h"

/* The grain a series is scored at (docs/insights.md, "Which grain"). */
enum usage_grain { GRAIN_HOUR = 0, GRAIN_DAY = 1, GRAIN_WEEK = 2 };

/* One point of the chart (settle.insight_usage_point): an hour, or the first hour of a day or week. */
struct point {
	int64_t hour_us;
	int64_t quantity;
	int64_t low, high;        /* the quantities that are not anomalies there */
	int64_t score_tenths;
	int anomaly;
};

/* The currency a series' usage is priced in: its offer's, when the series' agreement names one
 * offer. The unit price itself comes per day (usage_day_price: the lookup reconcile prices usage
 * with, usage_prices.h), so that a price revised mid-month prices each day at its own. */
struct usage_price {
	char currency[4];
	int minor_units;
};

/* One series' result: a row of settle.insight_usage. Strings owned (NULL = SQL NULL). */
struct usage_row {
	char *customer, *product_code, *dimension, *agreement_id, *offer_id;
	const char *status;       /* OK | ANOMALY | NOT_ENOUGH_HISTORY | ONBOARDING | IRREGULAR */
	int scored;
	enum usage_grain grain;
	int64_t history_points;   /* baseline points (hours, days or weeks) */
	int64_t history_days;     /* calendar days from the first usage to the period (window-capped) */
	int64_t first_day;        /* UTC day number of the first usage in the window; -1: none before */
	int64_t weeks;            /* baseline weeks W */
	int64_t trend_e4;         /* growth per week × 10^4 (for the text) */
	struct stats_robust robust; /* median and MAD of the baseline's points (the level) */
	int64_t band_low, band_high; /* the smallest and largest quantity not flagged over the period */
	int64_t period_points, observed_min, observed_max;
	int64_t anomalies, max_score_tenths;
	/* the period's totals over its scored days (hourly and daily) or weeks (weekly) */
	int64_t total_from_day, total_to_day; /* UTC day numbers, inclusive; total_days 0: none */
	int64_t total_days;
	int64_t total_expected, total_actual;
	int priced;               /* it has an offer and its currency: its days may be priced */
	struct usage_price price;
	/* the period's totals at the prices of their days (usage_price_points), unrounded micros;
	 * total_priced 0: some day has no price */
	int total_priced;
	int64_t total_expected_value_micros, total_actual_value_micros;
	char reason[256];         /* why not scored (status other than OK/ANOMALY) */
	int recorded;             /* the marketplace's recorded series (daily usage feed), not the metering log */
	int64_t leaks;            /* of its incidents, recorded usage below the metering log (ANOMALY_LEAK) */
};

/* One scored point of the series being scored (insights_score.c): its quantity, expectation
 * (× 4 · f_den, exact) and band. */
struct spoint {
	int64_t start_us;
	int64_t quantity;
	__int128 expected_x4f; /* median_x4 · f_num (divide by 4 · f_den) */
	int64_t f_den;
	int64_t low, high, score_tenths;
	int direction;         /* 0, +1, −1: outside the band */
	int lean;              /* 0, +1, −1: at least half the threshold away from the expectation */
	int idle;              /* nothing expected (median 0) and nothing came */
	int64_t dev_q4, exp_q4, sig_q4; /* deviation, expectation and sigma in whole quarter-units */
};

/* What an incident departs from: the series' own history, or (a recorded series only) the
 * seller's metering log of the same days (docs/insights.md, "The marketplace's recorded series"). */
enum anomaly_kind { ANOMALY_HISTORY = 0, ANOMALY_LEAK = 1 };

/* A USAGE_ANOMALY: consecutive anomalous points of one series in one direction (SPEC §4.9). */
struct anomaly {
	enum anomaly_kind kind;
	size_t row;               /* index into usage.rows */
	enum usage_grain grain;
	int64_t from_us, to_us;   /* the first and the last point's first instant */
	int64_t points;
	int direction;            /* +1 above expected, -1 below */
	int64_t expected, actual; /* quantities over the incident (expected rounded half away from zero) */
	/* the same at the unit price of each of its days (usage_price_points), unrounded micros;
	 * priced 0: some day has no price (or the amounts overflow) */
	int priced;
	int64_t expected_value_micros, actual_value_micros;
	int64_t score_tenths;     /* the highest score of its points */
	int ongoing;              /* it reaches the last scored point of the period */
	int64_t seq;              /* 1, or more when another series' reference reads the same */
	int dropped;              /* absorbed by an incident of another grain (not written) */
};

/* Everything the usage pass computes, buffered until the stream has ended. */
struct usage {
	int32_t period;
	int64_t period_start_us;
	const struct config *cfg;
	struct offers *offers; /* owned: the readers', loaded once by usage_offers_get (NULL: not yet) */
	struct usage_row *rows;
	size_t rows_n, rows_cap;
	struct anomaly *anomalies;
	size_t anomalies_n, anomalies_cap;
	/* The window's hours (history and period): window_start_us is its first hour, ps and pe the
	 * period's first and end index, horizon the end of the scored hours (the newest usage of any
	 * series, docs/insights.md "Horizon"). */
	int64_t window_start_us;
	size_t hours, ps, pe, horizon;
	/* the series being read: its hourly sums, which hours have records, and the touched ones */
	int64_t *hq;
	unsigned char *hseen;
	size_t *touched;
	size_t touched_n;
	int64_t *dq;              /* its daily sums (hours / 24 slots), then scratch (hours slots) */
	struct spoint *spoints;   /* scored points: 2 × hours slots */
	/* the chart: the ANOMALY series with the highest score (first in key order on ties) */
	size_t best_row;          /* SIZE_MAX: none */
	struct point *points, *best_points; /* hours slots each */
	size_t points_n, best_points_n;
	/* Called by usage_finish_series right after the series is scored (NULL: none): the recorded
	 * series' reader adds its leak check and drops what the metering log explains there. */
	int (*after_score)(struct usage *u, void *ctx, struct err *e);
	void *after_ctx;
};

/* The window: the history's first instant to the period's end; formatted for SQL by
 * time_format_pg (digits, '-', ':', ' ', '.', '+'). */
struct usage_window {
	int64_t history_start_us, period_end_us;
	char as_of[40], history_start[40], period_start[40], period_end[40];
};

/* insights_series.c: the series being read (see above). Strings are copied; agreement_id and offer_id
 * may be NULL (none). */
int usage_start_series(struct usage *u, const char *customer, const char *product_code, const char *dimension,
		       const char *agreement_id, const char *offer_id, const struct usage_price *price,
		       struct err *e);
void usage_take_hour(struct usage *u, int64_t hour_us, int64_t quantity);
int usage_finish_series(struct usage *u, struct err *e);

/* insights_score.c: scores the current series (u->hq, u->hseen) onto its row u->rows[u->rows_n − 1]
 * and its incidents onto u->anomalies; fills u->points with its chart points. */
int usage_score_series(struct usage *u, struct err *e);

/* insights_score.c: the unit price of the current series' usage on a UTC day (usage_prices_on:
 * the offer_dimension file's, else the agreement term revision's valid that day, else the
 * offer's): 1 and *price_micros, or 0. */
int usage_day_price(const struct usage *u, const struct usage_row *row, int32_t day, int64_t *price_micros);
/* insights_score.c: Σ qty[i] × the price of day[i] (i < n), exact, in *value_micros: 1, or 0 when
 * a day with a quantity has no price or the sum overflows. */
int usage_price_days(const struct usage *u, const struct usage_row *row, const int32_t *day, const int64_t *qty,
		     size_t n, int64_t *value_micros);

/* insights_score.c: makes room for `need` elements of `elem` bytes in array p of capacity *cap: returns
 * p or its reallocation (the caller stores it), or NULL with e filled (p is then still valid). */
void *insights_grow(void *p, size_t *cap, size_t need, size_t elem, struct err *e);
/* insights_series.c: an integer cell of a result the server computed (0 for NULL). */
int64_t insights_cell_i64(const PGresult *res, int row, int col);

/* insights_read.c: every series with Success usage in the period, as of w->as_of, scored in key
 * order onto u->rows; *ranges counts the ranges of series held in memory one after the other
 * (0 when the period has none; the window is read once). */
int usage_read(struct db *db, struct usage *u, const struct usage_window *w, size_t *ranges, struct err *e);

/* The offers by agreement and the usage prices of the period (insights_read.c). Owned by the
 * struct usage that loaded them (usage_offers_release). */
struct offers {
	PGresult *offers; /* agreement_id (sorted in byte order), offer_id, currency */
	struct usage_prices prices; /* the offers' prices, and the agreements' of each day of the period */
};
/* u->offers, loaded on the first call (a period without usage reads none). */
int usage_offers_get(struct db *db, struct usage *u, const struct usage_window *w, const struct offers **out,
		     struct err *e);
void usage_offers_release(struct usage *u);
/* The row of the one offer with that agreement, current at as-of, or -1. */
int usage_offer_row(const PGresult *offers, const char *agreement_id);
/* The currency of that offer's usage: 1 and *out filled, or 0 (none, or one settle cannot format). */
int usage_offer_currency(const struct offers *o, int row, struct usage_price *out);

/* Series sources: the seller's metering records (insights_read.c, hourly) and the marketplace's
 * recorded usage (insights_recorded.c, the daily usage feed): its days are fed as hours at 00:00
 * with the day's total, so the scoring picks the day grain by itself; the reader adds the leak
 * check against the metering log of the same series (docs/insights.md).
 * usage_read_recorded: every series of the daily usage feed with recorded or metered usage in the
 * period, scored onto u->rows after the metering series; nothing when the feed has no row in the
 * window as of w->as_of. */
int usage_read_recorded(struct db *db, struct usage *u, const struct usage_window *w, struct err *e);

#endif
