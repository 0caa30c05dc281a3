/* stats.c — GNU GSL behind one door (see stats.h for the contracts and the exactness argument).
 *
 * The only file of settle that includes a GSL header. Pattern of every entry point: check the
 * input limits, sort a private copy with a total order (qsort on int64_t: equal elements are
 * indistinguishable, so the result does not depend on qsort's instability), convert to doubles
 * (exact, |v| <= 2^40), call GSL, and turn the double back into a scaled integer with an
 * assertion that the conversion lost nothing.
 *
 * Static state: gsl_handler_off records that gsl_set_error_handler_off() ran (settle is single
 * threaded; the call is idempotent anyway).
 */
#include "stats.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_histogram.h>
#include <gsl/gsl_statistics_double.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gsl_handler_off;

/* GSL's default handler aborts the process on any error; settle checks statuses instead. */
static void stats_init(void)
{
	if (!gsl_handler_off) {
		gsl_set_error_handler_off();
		gsl_handler_off = 1;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int check_values(const int64_t *values, size_t n, size_t n_min, struct err *e)
{
	if (n < n_min)
		return err_set(e, EXIT_FAILED, "statistics: at least %zu value(s) needed, got %zu", n_min, n);
	if (n > STATS_N_MAX)
		return err_set(e, EXIT_FAILED, "statistics: %zu values exceed the limit of %zu", n, STATS_N_MAX);
	ASSERT(n == 0 || values != NULL);
	for (size_t i = 0; i < n; i++)
		if (values[i] > STATS_VALUE_ABS_MAX || values[i] < -STATS_VALUE_ABS_MAX)
			return err_set(e, EXIT_FAILED,
				       "statistics: value %" PRId64 " is outside the range GSL computes exactly",
				       values[i]);
	return 0;
}

/* A sorted copy of values as doubles (exact: |v| <= 2^40). *out is malloc'd, owned by the caller. */
static int sorted_doubles(const int64_t *values, size_t n, double **out, struct err *e)
{
	int64_t *tmp = malloc(n * sizeof *tmp);
	double *d = malloc(n * sizeof *d);
	if (!tmp || !d) {
		free(tmp);
		free(d);
		return err_set(e, EXIT_FAILED, "statistics: out of memory for %zu values", n);
	}
	memcpy(tmp, values, n * sizeof *tmp);
	qsort(tmp, n, sizeof *tmp, cmp_i64);
	for (size_t i = 0; i < n; i++) {
		d[i] = (double)tmp[i];
		ASSERT((int64_t)d[i] == tmp[i]);
	}
	free(tmp);
	*out = d;
	return 0;
}

/* x × scale as an integer, where GSL's x is exact and x × scale an integer (see stats.h): the
 * assertion proves it, so no rounding ever happens here. */
static int64_t to_scaled_exact(double x, int scale)
{
	ASSERT(isfinite(x));
	double y = x * scale;
	ASSERT(fabs(y) < 0x1p62);
	int64_t r = (int64_t)y;
	ASSERT((double)r == y);
	return r;
}

int64_t stats_div_round(__int128 num, int64_t den)
{
	ASSERT(den > 0);
	__int128 q = num / den, r = num % den;
	__int128 r_abs = r < 0 ? -r : r;
	if (2 * r_abs >= den)
		q += num < 0 ? -1 : 1;
	ASSERT(q >= INT64_MIN && q <= INT64_MAX);
	return (int64_t)q;
}

/* GSL's type-7 quantile at f = q/10 of n sorted integers, in tenths. The stored value is the
 * exact one, 10·a + frac·(b − a) with index q·(n−1)/10 = lhs + frac/10, a and b the order
 * statistics at lhs and lhs + 1: GSL's index f·(n−1) and interpolation weights carry rounding
 * errors (f = 0.9 is not a double), far below 1/20 for the limits of stats.h but not zero. GSL's
 * result must agree within 10^-6 of the data's magnitude, or the run stops. */
static int64_t quantile_tenths_sorted(const double *sorted, size_t n, int q_tenths)
{
	ASSERT(n > 0 && q_tenths >= 0 && q_tenths <= 10);
	uint64_t idx10 = (uint64_t)q_tenths * (uint64_t)(n - 1);
	size_t lhs = (size_t)(idx10 / 10);
	int64_t frac = (int64_t)(idx10 % 10);
	int64_t a = (int64_t)sorted[lhs];
	int64_t exact = a * 10;
	if (frac != 0) {
		ASSERT(lhs + 1 < n);
		exact += frac * ((int64_t)sorted[lhs + 1] - a);
	}
	double x = gsl_stats_quantile_from_sorted_data(sorted, 1, n, (double)q_tenths / 10.0);
	double magnitude = fmax(1.0, fmax(fabs(sorted[0]), fabs(sorted[n - 1])));
	ASSERT(isfinite(x) && fabs(x * 10.0 - (double)exact) <= 1e-6 * magnitude);
	return exact;
}

int stats_quantile_tenths(const int64_t *values, size_t n, int q_tenths, int64_t *out_tenths, struct err *e)
{
	stats_init();
	ASSERT(q_tenths >= 0 && q_tenths <= 10);
	double *d = NULL;
	if (check_values(values, n, 1, e) < 0 || sorted_doubles(values, n, &d, e) < 0)
		return -1;
	*out_tenths = quantile_tenths_sorted(d, n, q_tenths);
	free(d);
	return 0;
}

int stats_summarize(const int64_t *values, size_t n, struct stats_summary *out, struct err *e)
{
	stats_init();
	double *d = NULL;
	if (check_values(values, n, 1, e) < 0 || sorted_doubles(values, n, &d, e) < 0)
		return -1;
	__int128 sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += values[i];
	memset(out, 0, sizeof *out);
	out->n = n;
	out->min = (int64_t)d[0];
	out->max = (int64_t)d[n - 1];
	/* The mean in exact arithmetic: GSL's running mean is not exact, and a tie at x.x5 could
	 * then round either way on different machines. */
	out->mean_tenths = stats_div_round(sum * 10, (int64_t)n);
	/* (a + b) / 2 of integers below 2^40 is exact in a double. */
	out->median_tenths = to_scaled_exact(gsl_stats_median_from_sorted_data(d, 1, n), 10);
	out->p90_tenths = quantile_tenths_sorted(d, n, 9);
	free(d);
	ASSERT(out->min * 10 <= out->median_tenths && out->median_tenths <= out->p90_tenths &&
	       out->p90_tenths <= out->max * 10);
	ASSERT(out->min * 10 <= out->mean_tenths && out->mean_tenths <= out->max * 10);
	return 0;
}

int stats_robust(const int64_t *values, size_t n, struct stats_robust *out, struct err *e)
{
	stats_init();
	double *d = NULL;
	if (check_values(values, n, 1, e) < 0 || sorted_doubles(values, n, &d, e) < 0)
		return -1;
	double *work = malloc(n * sizeof *work);
	if (!work) {
		free(d);
		return err_set(e, EXIT_FAILED, "statistics: out of memory for %zu values", n);
	}
	memset(out, 0, sizeof *out);
	out->n = n;
	/* Exact: the median is a half-integer; the |x − median| are then all integers or all
	 * half-integers below 2^41, so their median (the MAD) is a half-integer again. */
	out->median_x4 = to_scaled_exact(gsl_stats_median_from_sorted_data(d, 1, n), 4);
	out->mad_x4 = to_scaled_exact(gsl_stats_mad0(d, 1, n, work), 4);
	free(work);
	free(d);
	ASSERT(out->mad_x4 >= 0);
	return 0;
}

/* Insertion sort of a small array (n <= STATS_SMALL_N_MAX). */
static void sort_small(int64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		int64_t x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* The median × 2 of sorted v[0..n): an integer. */
static int64_t median_x2_sorted(const int64_t *v, size_t n)
{
	return n % 2 ? 2 * v[n / 2] : v[n / 2 - 1] + v[n / 2];
}

void stats_robust_small(const int64_t *values, size_t n, struct stats_robust *out)
{
	ASSERT(n >= 1 && n <= STATS_SMALL_N_MAX);
	int64_t v[STATS_SMALL_N_MAX], dev[STATS_SMALL_N_MAX];
	for (size_t i = 0; i < n; i++) {
		ASSERT(values[i] <= STATS_VALUE_ABS_MAX && values[i] >= -STATS_VALUE_ABS_MAX);
		v[i] = values[i];
	}
	sort_small(v, n);
	int64_t m_x2 = median_x2_sorted(v, n);
	/* |2x − 2m| are integers; their median × 2 is the MAD × 4. */
	for (size_t i = 0; i < n; i++)
		dev[i] = 2 * v[i] > m_x2 ? 2 * v[i] - m_x2 : m_x2 - 2 * v[i];
	sort_small(dev, n);
	out->n = n;
	out->median_x4 = 2 * m_x2;
	out->mad_x4 = median_x2_sorted(dev, n);
}

int stats_histogram(const int64_t *values, size_t n, const int64_t *edges, size_t bins_n, int64_t *counts,
		    struct err *e)
{
	stats_init();
	ASSERT(bins_n >= 1 && edges != NULL && counts != NULL);
	for (size_t i = 0; i <= bins_n; i++) {
		ASSERT(edges[i] >= -STATS_VALUE_ABS_MAX && edges[i] <= STATS_VALUE_ABS_MAX + 1);
		ASSERT(i == 0 || edges[i - 1] < edges[i]);
	}
	if (check_values(values, n, 0, e) < 0)
		return -1;
	int rc = -1;
	double *range = malloc((bins_n + 1) * sizeof *range);
	gsl_histogram *h = gsl_histogram_alloc(bins_n);
	if (!range || !h) {
		err_set(e, EXIT_FAILED, "statistics: could not allocate a histogram of %zu bins", bins_n);
		goto free_all;
	}
	for (size_t i = 0; i <= bins_n; i++)
		range[i] = (double)edges[i];
	int st = gsl_histogram_set_ranges(h, range, bins_n + 1);
	if (st != GSL_SUCCESS) {
		err_set(e, EXIT_FAILED, "statistics: histogram ranges: %s", gsl_strerror(st));
		goto free_all;
	}
	for (size_t i = 0; i < n; i++) {
		st = gsl_histogram_increment(h, (double)values[i]);
		if (st != GSL_SUCCESS) {
			err_set(e, EXIT_FAILED, "statistics: value %" PRId64 " is outside the histogram's bins (%s)",
				values[i], gsl_strerror(st));
			goto free_all;
		}
	}
	int64_t total = 0;
	for (size_t i = 0; i < bins_n; i++) {
		counts[i] = to_scaled_exact(gsl_histogram_get(h, i), 1);
		total += counts[i];
	}
	ASSERT(total == (int64_t)n);
	rc = 0;
free_all:
	if (h)
		gsl_histogram_free(h);
	free(range);
	return rc;
}

size_t stats_format_tenths(int64_t tenths, char buf[STATS_FORMAT_MAX])
{
	uint64_t mag = tenths < 0 ? -(uint64_t)tenths : (uint64_t)tenths;
	int n = snprintf(buf, STATS_FORMAT_MAX, "%s%" PRIu64 ".%" PRIu64, tenths < 0 ? "-" : "", mag / 10,
			 mag % 10);
	ASSERT(n > 0 && n < STATS_FORMAT_MAX);
	return (size_t)n;
}

size_t stats_format_quarters(int64_t x4, char buf[STATS_FORMAT_MAX])
{
	static const char *const frac[4] = { "", ".25", ".5", ".75" };
	uint64_t mag = x4 < 0 ? -(uint64_t)x4 : (uint64_t)x4;
	int n = snprintf(buf, STATS_FORMAT_MAX, "%s%" PRIu64 "%s", x4 < 0 ? "-" : "", mag / 4, frac[mag % 4]);
	ASSERT(n > 0 && n < STATS_FORMAT_MAX);
	return (size_t)n;
}
