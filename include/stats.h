/* stats.h — GNU GSL behind one door (statistics for insights, docs/insights.md).
 *
 * Nothing else in settle includes a GSL header. Every function here takes integer observations
 * (days, metered quantities; never money: an amount would arrive only through
 * money_to_double_for_stats, and no result here ever flows back into an amount, an allocation or a
 * payout), sorts a private copy with a total order, hands exact doubles to GSL, and returns the
 * results as exact scaled integers (tenths, quarters), so that what a report prints is the same
 * text on every machine and every rerun — never a raw double.
 *
 * Why the conversion back is exact: an integer up to STATS_VALUE_ABS_MAX is an exact double; a
 * median of integers is a half-integer, exact in a double; a median absolute deviation from such
 * a median is a half-integer too; a histogram count is an exact small integer. Each
 * conversion asserts it, so a GSL that computed something else stops the run instead of printing
 * a wrong number. GSL's quantile at f = k/10 (linear interpolation between order statistics,
 * Hyndman–Fan type 7) of integers is a multiple of 1/10, but GSL reaches it through f·(n−1) with
 * f = 0.9 not a double: the tenths are computed from the same order statistics in integer
 * arithmetic, and GSL's value must agree within 10^-6 of the data's magnitude (asserted). A mean
 * is not taken from GSL at all: sum/n is rounded in integer arithmetic, where a tie at x.x5 cannot
 * round differently on another machine.
 *
 * GSL's abort-on-error handler is switched off (gsl_set_error_handler_off) at the first call of
 * any function here; every GSL status and allocation is checked instead. No randomness anywhere.
 * Ownership: inputs are borrowed and never modified; outputs are written into caller memory.
 */
#ifndef SETTLE_STATS_H
#define SETTLE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* |value| limit for observations (2^40): exact in a double with 12 bits to spare, so medians,
 * deviations and interpolations of such values stay exact or within 10^-6 (stats.c). */
#define STATS_VALUE_ABS_MAX (INT64_C(1) << 40)
/* At most this many observations per call (a limit on memory, not a statistical one). */
#define STATS_N_MAX ((size_t)1 << 24)
/* Longest text of stats_format_tenths / stats_format_quarters, with the NUL. */
#define STATS_FORMAT_MAX 32

/* The usual description of a sample of integers (e.g. days from invoice to payout). */
struct stats_summary {
	size_t n;               /* > 0 */
	int64_t min;
	int64_t max;
	int64_t mean_tenths;    /* sum / n, rounded half away from zero to 0.1, in integer arithmetic */
	int64_t median_tenths;  /* GSL median (exact: a half-integer) */
	int64_t p90_tenths;     /* quantile f = 0.9, as stats_quantile_tenths */
};

/* Summarises values[0..n), 1 <= n <= STATS_N_MAX, |value| <= STATS_VALUE_ABS_MAX. Returns 0,
 * or -1 with e filled (a value out of range, out of memory). */
int stats_summarize(const int64_t *values, size_t n, struct stats_summary *out, struct err *e);

/* The quantile f = q_tenths / 10 (0..10; 5 is the median, 9 the 90th percentile) of values[0..n),
 * as GSL's gsl_stats_quantile_from_sorted_data defines it (linear interpolation between the
 * order statistics around index f·(n−1)), in tenths: exact, and checked against GSL's double.
 * Same limits and errors as stats_summarize. */
int stats_quantile_tenths(const int64_t *values, size_t n, int q_tenths, int64_t *out_tenths, struct err *e);

/* Robust location and scale: the median and the (unscaled) median absolute deviation
 * MAD = median |x − median| (gsl_stats_median_from_sorted_data, gsl_stats_mad0). Both are
 * half-integers; they are held × 4 (quarters), which the band arithmetic of insights.c uses as
 * is. Same limits and errors as stats_summarize. */
struct stats_robust {
	size_t n;
	int64_t median_x4;
	int64_t mad_x4;
};
int stats_robust(const int64_t *values, size_t n, struct stats_robust *out, struct err *e);

/* The same median and MAD of a small sample (1 <= n <= STATS_SMALL_N_MAX) in integer arithmetic
 * only, without GSL and without allocating: the hour-of-week expectations of insights take
 * thousands of medians of 8 values per series, where GSL's copies and allocations would cost more
 * than the medians. The results are exact and equal to stats_robust's (tests/unit/test_stats.c
 * compares them on random samples). values borrowed; |value| <= STATS_VALUE_ABS_MAX asserted. */
#define STATS_SMALL_N_MAX 64
void stats_robust_small(const int64_t *values, size_t n, struct stats_robust *out);

/* Counts values[0..n) (0 <= n <= STATS_N_MAX) into bins_n bins with gsl_histogram: bin i holds
 * edges[i] <= v < edges[i+1], so edges has bins_n + 1 strictly increasing entries within
 * ±STATS_VALUE_ABS_MAX (plus one at the top). counts has bins_n slots, owned by the caller.
 * A value outside [edges[0], edges[bins_n]) is an error (-1, e filled), as is a GSL failure. */
int stats_histogram(const int64_t *values, size_t n, const int64_t *edges, size_t bins_n, int64_t *counts,
		    struct err *e);

/* Decimal text of a scaled integer, the one form reports store: tenths always with one digit
 * ("34.0", "34.5", "-0.5"); quarters in the shortest exact form ("100", "100.5", "3.25").
 * Returns the length. */
size_t stats_format_tenths(int64_t tenths, char buf[STATS_FORMAT_MAX]);
size_t stats_format_quarters(int64_t x4, char buf[STATS_FORMAT_MAX]);

/* num / den (den > 0) rounded half away from zero, exactly (the rounding rule of every tenth
 * settle derives itself, e.g. a mean). */
int64_t stats_div_round(__int128 num, int64_t den);

#endif
