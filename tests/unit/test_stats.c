/* test_stats.c — stats.h: quantiles, summaries, median/MAD, histograms, formatting, determinism.
 * Expected values are computed by hand in the comments (type-7 quantile: index f·(n−1)). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stats.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A fixed LCG (Knuth's MMIX constants): the same "random" data on every machine and run. */
static uint64_t lcg_state;
static void lcg_seed(uint64_t s)
{
	lcg_state = s;
}
static uint64_t lcg_next(void)
{
	lcg_state = lcg_state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
	return lcg_state >> 11;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* ---------------------------------------------------------------------------------------------
 * Quantiles
 */

static const struct quantile_case {
	int64_t values[12];
	size_t n;
	int q;            /* tenths */
	int64_t tenths;   /* expected */
} quantile_cases[] = {
	/* sorted 10 20 30 40 50: p90 index 3.6 -> 40 + 0.6·10 = 46 */
	{ { 10, 20, 30, 40, 50 }, 5, 9, 460 },
	{ { 10, 20, 30, 40, 50 }, 5, 5, 300 },   /* index 2 */
	{ { 10, 20, 30, 40, 50 }, 5, 0, 100 },   /* min */
	{ { 10, 20, 30, 40, 50 }, 5, 10, 500 },  /* max */
	{ { 10, 20, 30, 40, 50 }, 5, 1, 140 },   /* index 0.4 -> 10 + 0.4·10 */
	{ { 50, 10, 40, 20, 30 }, 5, 9, 460 },   /* input order does not matter */
	{ { 3, 4 }, 2, 9, 39 },                  /* index 0.9 -> 3 + 0.9 */
	{ { 3, 4 }, 2, 5, 35 },                  /* median of two: 3.5 */
	{ { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 10, 9, 91 }, /* index 8.1 -> 9 + 0.1 */
	{ { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, 11, 9, 100 }, /* index 9 exactly */
	{ { 7 }, 1, 9, 70 },
	{ { 7 }, 1, 5, 70 },
	{ { -5, -1, 0, 2 }, 4, 5, -5 },          /* (−1 + 0)/2 = −0.5 */
	{ { -5, -1, 0, 2 }, 4, 9, 14 },          /* index 2.7 -> 0 + 0.7·2 = 1.4 */
	{ { 0, 0, 0, 100 }, 4, 9, 700 },         /* index 2.7 -> 0 + 0.7·100 = 70 */
	{ { 5, 5, 5, 5, 5 }, 5, 9, 50 },
	{ { 0, 1 }, 2, 7, 7 },                   /* f = 0.7 is not a double: still 0.7 */
	{ { 0, 1000000 }, 2, 3, 3000000 },       /* 300000.0 */
};

TEST(quantile_hand_computed)
{
	for (size_t i = 0; i < N_OF(quantile_cases); i++) {
		const struct quantile_case *c = &quantile_cases[i];
		int64_t got = -999;
		struct err e = { 0 };
		CHECK(stats_quantile_tenths(c->values, c->n, c->q, &got, &e) == 0);
		if (got != c->tenths)
			printf("  case %zu (q=%d): got %" PRId64 ", expected %" PRId64 "\n", i, c->q, got, c->tenths);
		CHECK_I64(got, c->tenths);
	}
}

TEST(quantile_large_samples)
{
	/* 0..999: p90 index 899.1 -> 899.1; 0..1000: index 900 -> 900. */
	static int64_t v[1001];
	for (int i = 0; i <= 1000; i++)
		v[i] = 1000 - i; /* reversed: sorting is stats.c's job */
	int64_t got;
	struct err e = { 0 };
	CHECK(stats_quantile_tenths(v + 1, 1000, 9, &got, &e) == 0);
	CHECK_I64(got, 8991);
	CHECK(stats_quantile_tenths(v, 1001, 9, &got, &e) == 0);
	CHECK_I64(got, 9000);
	CHECK(stats_quantile_tenths(v, 1001, 5, &got, &e) == 0);
	CHECK_I64(got, 5000);
}

/* The exact type-7 value by the definition, independently of stats.c's code path. */
static int64_t reference_quantile_tenths(int64_t *sorted, size_t n, int q)
{
	/* index = q(n−1)/10; value = x[lo] + (index − lo)(x[lo+1] − x[lo]), × 10 */
	uint64_t num = (uint64_t)q * (n - 1);
	size_t lo = num / 10;
	int64_t frac = (int64_t)(num - lo * 10);
	return sorted[lo] * 10 + (frac ? frac * (sorted[lo + 1] - sorted[lo]) : 0);
}

TEST(quantile_matches_definition_on_random_data)
{
	/* stats.c also asserts GSL's double agrees within 1e-6 of the data's magnitude: values up
	 * to the limit 2^40 and up to 5000 points exercise that assertion. */
	lcg_seed(42);
	static int64_t v[5000], sorted[5000];
	for (int round = 0; round < 200; round++) {
		size_t n = 1 + lcg_next() % 5000;
		int64_t span = round % 2 ? STATS_VALUE_ABS_MAX : 400;
		for (size_t i = 0; i < n; i++)
			v[i] = (int64_t)(lcg_next() % (uint64_t)(2 * span + 1)) - span;
		memcpy(sorted, v, n * sizeof *v);
		qsort(sorted, n, sizeof *sorted, cmp_i64);
		for (int q = 0; q <= 10; q++) {
			int64_t got;
			struct err e = { 0 };
			REQUIRE(stats_quantile_tenths(v, n, q, &got, &e) == 0);
			CHECK_I64(got, reference_quantile_tenths(sorted, n, q));
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * Summaries
 */

TEST(summarize_hand_computed)
{
	struct stats_summary s;
	struct err e = { 0 };
	const int64_t days[] = { 30, 10, 50, 20, 40 };
	REQUIRE(stats_summarize(days, N_OF(days), &s, &e) == 0);
	CHECK_I64(s.n, 5);
	CHECK_I64(s.min, 10);
	CHECK_I64(s.max, 50);
	CHECK_I64(s.mean_tenths, 300);
	CHECK_I64(s.median_tenths, 300);
	CHECK_I64(s.p90_tenths, 460);

	const int64_t two[] = { 4, 3 };
	REQUIRE(stats_summarize(two, 2, &s, &e) == 0);
	CHECK_I64(s.mean_tenths, 35);
	CHECK_I64(s.median_tenths, 35);
	CHECK_I64(s.p90_tenths, 39);

	const int64_t thirds[] = { 0, 0, 1 }; /* 0.333… -> 0.3 */
	REQUIRE(stats_summarize(thirds, 3, &s, &e) == 0);
	CHECK_I64(s.mean_tenths, 3);
	const int64_t two_thirds[] = { 0, 1, 1 }; /* 0.666… -> 0.7 */
	REQUIRE(stats_summarize(two_thirds, 3, &s, &e) == 0);
	CHECK_I64(s.mean_tenths, 7);
}

TEST(summarize_mean_ties_round_half_away_from_zero)
{
	/* sum 1 over 20 values: 0.05 exactly -> 0.1; sum −1: −0.05 -> −0.1. A floating mean could
	 * land on either side of the tie; the integer one cannot. */
	int64_t v[20] = { 0 };
	struct stats_summary s;
	struct err e = { 0 };
	v[0] = 1;
	REQUIRE(stats_summarize(v, 20, &s, &e) == 0);
	CHECK_I64(s.mean_tenths, 1);
	v[0] = -1;
	REQUIRE(stats_summarize(v, 20, &s, &e) == 0);
	CHECK_I64(s.mean_tenths, -1);
	v[0] = 3; /* 0.15 -> 0.2 */
	REQUIRE(stats_summarize(v, 20, &s, &e) == 0);
	CHECK_I64(s.mean_tenths, 2);
}

TEST(summarize_rejects_bad_input)
{
	struct stats_summary s;
	struct err e = { 0 };
	const int64_t big[] = { 1, STATS_VALUE_ABS_MAX + 1 };
	CHECK(stats_summarize(big, 2, &s, &e) == -1);
	CHECK(strstr(e.msg, "outside the range") != NULL);
	const int64_t small[] = { -STATS_VALUE_ABS_MAX - 1 };
	CHECK(stats_summarize(small, 1, &s, &e) == -1);
	CHECK(stats_summarize(big, 0, &s, &e) == -1);
	CHECK(strstr(e.msg, "at least 1") != NULL);
	int64_t q;
	CHECK(stats_quantile_tenths(big, 0, 9, &q, &e) == -1);
	struct stats_robust r;
	CHECK(stats_robust(big, 2, &r, &e) == -1);
	/* the limits themselves are fine */
	const int64_t edge[] = { -STATS_VALUE_ABS_MAX, STATS_VALUE_ABS_MAX };
	CHECK(stats_summarize(edge, 2, &s, &e) == 0);
	CHECK_I64(s.mean_tenths, 0);
	CHECK_I64(s.median_tenths, 0);
	CHECK(stats_robust(edge, 2, &r, &e) == 0);
	CHECK_I64(r.mad_x4, 4 * STATS_VALUE_ABS_MAX);
}

/* ---------------------------------------------------------------------------------------------
 * Median and MAD
 */

static const struct robust_case {
	int64_t values[8];
	size_t n;
	int64_t median_x4, mad_x4;
} robust_cases[] = {
	/* median 3; |x−3| = 2 1 0 1 97 -> sorted 0 1 1 2 97 -> MAD 1 */
	{ { 1, 2, 3, 4, 100 }, 5, 12, 4 },
	/* median 2.5; |x−2.5| = 1.5 .5 .5 1.5 -> MAD 1 */
	{ { 4, 1, 3, 2 }, 4, 10, 4 },
	/* median 3; |x−3| = 2 1 1 4 -> sorted 1 1 2 4 -> MAD 1.5 */
	{ { 1, 2, 4, 7 }, 4, 12, 6 },
	/* constant: MAD 0 */
	{ { 500, 500, 500, 500, 500, 500 }, 6, 2000, 0 },
	/* one value */
	{ { 9 }, 1, 36, 0 },
	/* median (1 + 1)/2 = 1; |x−1| = 1 1 0 0 9 99 -> sorted 0 0 1 1 9 99 -> MAD 1 */
	{ { 0, 0, 1, 1, 10, 100 }, 6, 4, 4 },
	/* median 2; |x−2| = 2 1 1 2 -> MAD 1.5 */
	{ { 0, 1, 3, 4 }, 4, 8, 6 },
	/* median 3.5; |x−3.5| = 3.5 2.5 .5 .5 2.5 96.5 -> sorted .5 .5 2.5 2.5 3.5 96.5 -> MAD 2.5 */
	{ { 0, 1, 3, 4, 6, 100 }, 6, 14, 10 },
	/* negatives: median −2; |x+2| = 8 1 0 2 3 -> 0 1 2 3 8 -> MAD 2 */
	{ { -10, -3, -2, 0, 1 }, 5, -8, 8 },
};

TEST(robust_hand_computed)
{
	for (size_t i = 0; i < N_OF(robust_cases); i++) {
		const struct robust_case *c = &robust_cases[i];
		struct stats_robust r;
		struct err e = { 0 };
		REQUIRE(stats_robust(c->values, c->n, &r, &e) == 0);
		if (r.median_x4 != c->median_x4 || r.mad_x4 != c->mad_x4)
			printf("  case %zu\n", i);
		CHECK_I64(r.n, c->n);
		CHECK_I64(r.median_x4, c->median_x4);
		CHECK_I64(r.mad_x4, c->mad_x4);
	}
}

/* Median and MAD by the definition, in halves (×2), on a sorted copy. */
static int64_t median_x2_sorted(const int64_t *sorted, size_t n)
{
	return n % 2 ? 2 * sorted[n / 2] : sorted[n / 2 - 1] + sorted[n / 2];
}

TEST(robust_matches_definition_on_random_data)
{
	/* Also the property stats.h relies on: median and MAD of integers are half-integers. */
	static int64_t v[3000], sorted[3000], dev[3000];
	lcg_seed(99);
	for (int round = 0; round < 300; round++) {
		size_t n = 1 + lcg_next() % 3000;
		int64_t span = round % 3 == 0 ? STATS_VALUE_ABS_MAX : round % 3 == 1 ? 1000 : 3;
		for (size_t i = 0; i < n; i++)
			v[i] = (int64_t)(lcg_next() % (uint64_t)(2 * span + 1)) - span;
		memcpy(sorted, v, n * sizeof *v);
		qsort(sorted, n, sizeof *sorted, cmp_i64);
		int64_t m2 = median_x2_sorted(sorted, n);
		for (size_t i = 0; i < n; i++)
			dev[i] = 2 * v[i] - m2 < 0 ? m2 - 2 * v[i] : 2 * v[i] - m2; /* |x − m| × 2 */
		qsort(dev, n, sizeof *dev, cmp_i64);
		int64_t mad2x2 = median_x2_sorted(dev, n); /* MAD × 4 */
		struct stats_robust r;
		struct err e = { 0 };
		REQUIRE(stats_robust(v, n, &r, &e) == 0);
		CHECK_I64(r.median_x4, 2 * m2);
		CHECK_I64(r.mad_x4, mad2x2);
		CHECK(r.median_x4 % 2 == 0 && r.mad_x4 % 2 == 0);
	}
}

TEST(robust_small_equals_gsl)
{
	/* The integer-only median/MAD of small samples gives GSL's numbers, and leaves its input. */
	int64_t v[STATS_SMALL_N_MAX], copy[STATS_SMALL_N_MAX];
	lcg_seed(7);
	for (int round = 0; round < 20000; round++) {
		size_t n = 1 + lcg_next() % STATS_SMALL_N_MAX;
		int64_t span = round % 4 == 0 ? STATS_VALUE_ABS_MAX : round % 4 == 1 ? 100000 : round % 4 == 2 ? 5 : 0;
		for (size_t i = 0; i < n; i++)
			v[i] = (int64_t)(lcg_next() % (uint64_t)(2 * span + 1)) - span;
		memcpy(copy, v, n * sizeof *v);
		struct stats_robust r, s;
		struct err e = { 0 };
		REQUIRE(stats_robust(v, n, &r, &e) == 0);
		stats_robust_small(v, n, &s);
		CHECK_I64(s.n, (int64_t)n);
		CHECK_I64(s.median_x4, r.median_x4);
		CHECK_I64(s.mad_x4, r.mad_x4);
		CHECK(memcmp(v, copy, n * sizeof *v) == 0);
	}
	int64_t eight[] = { 100, 90, 110, 0, 105, 95, 100, 5000 }; /* median 100, |dev| 0 10 10 100 5 5 0 4900 */
	struct stats_robust s;
	stats_robust_small(eight, 8, &s);
	CHECK_I64(s.median_x4, 400);
	CHECK_I64(s.mad_x4, 30); /* median of 0 0 5 5 10 10 100 4900 = 7.5 */
}

TEST(robust_does_not_touch_input)
{
	int64_t v[] = { 9, 1, 8, 2, 7, 3 };
	const int64_t before[] = { 9, 1, 8, 2, 7, 3 };
	struct stats_robust r;
	struct stats_summary s;
	struct err e = { 0 };
	REQUIRE(stats_robust(v, N_OF(v), &r, &e) == 0);
	REQUIRE(stats_summarize(v, N_OF(v), &s, &e) == 0);
	CHECK(memcmp(v, before, sizeof v) == 0);
}

/* ---------------------------------------------------------------------------------------------
 * Histograms
 */

/* The bins of docs/insights.md: <0, 0-7, 8-14, 15-30, 31-45, 46-60, 61-90, >90. */
static const int64_t day_edges[] = { -STATS_VALUE_ABS_MAX, 0, 8, 15, 31, 46, 61, 91, STATS_VALUE_ABS_MAX + 1 };

TEST(histogram_bins)
{
	const int64_t days[] = { -3, 0, 7, 8, 14, 15, 30, 31, 45, 46, 60, 61, 90, 91, 1000, -STATS_VALUE_ABS_MAX,
				 STATS_VALUE_ABS_MAX };
	const int64_t expected[] = { 2, 2, 2, 2, 2, 2, 2, 3 };
	int64_t counts[8];
	struct err e = { 0 };
	REQUIRE(stats_histogram(days, N_OF(days), day_edges, 8, counts, &e) == 0);
	for (size_t b = 0; b < 8; b++)
		CHECK_I64(counts[b], expected[b]);
}

TEST(histogram_empty_and_out_of_range)
{
	int64_t counts[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	struct err e = { 0 };
	REQUIRE(stats_histogram(NULL, 0, day_edges, 8, counts, &e) == 0);
	for (size_t b = 0; b < 8; b++)
		CHECK_I64(counts[b], 0);
	const int64_t edges[] = { 0, 10, 20 };
	const int64_t below[] = { 5, -1 };
	CHECK(stats_histogram(below, 2, edges, 2, counts, &e) == -1);
	CHECK(strstr(e.msg, "outside the histogram") != NULL);
	const int64_t top[] = { 20 }; /* the upper edge is exclusive */
	CHECK(stats_histogram(top, 1, edges, 2, counts, &e) == -1);
	const int64_t ok[] = { 0, 9, 10, 19 };
	REQUIRE(stats_histogram(ok, 4, edges, 2, counts, &e) == 0);
	CHECK_I64(counts[0], 2);
	CHECK_I64(counts[1], 2);
}

/* ---------------------------------------------------------------------------------------------
 * Formatting and rounding
 */

TEST(format_tenths_and_quarters)
{
	static const struct { int64_t v; const char *tenths, *quarters; } cases[] = {
		{ 0, "0.0", "0" },       { 5, "0.5", "1.25" },     { -5, "-0.5", "-1.25" },
		{ 340, "34.0", "85" },   { 345, "34.5", "86.25" }, { 2, "0.2", "0.5" },
		{ 3, "0.3", "0.75" },    { -2, "-0.2", "-0.5" },   { 402, "40.2", "100.5" },
		{ INT64_MAX, "922337203685477580.7", "2305843009213693951.75" },
		{ INT64_MIN, "-922337203685477580.8", "-2305843009213693952" },
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		char buf[STATS_FORMAT_MAX];
		CHECK_I64(stats_format_tenths(cases[i].v, buf), strlen(cases[i].tenths));
		CHECK_STR(buf, cases[i].tenths);
		CHECK_I64(stats_format_quarters(cases[i].v, buf), strlen(cases[i].quarters));
		CHECK_STR(buf, cases[i].quarters);
	}
}

TEST(div_round_half_away_from_zero)
{
	CHECK_I64(stats_div_round(5, 2), 3);
	CHECK_I64(stats_div_round(-5, 2), -3);
	CHECK_I64(stats_div_round(4, 3), 1);
	CHECK_I64(stats_div_round(-4, 3), -1);
	CHECK_I64(stats_div_round(5, 3), 2);
	CHECK_I64(stats_div_round(-5, 3), -2);
	CHECK_I64(stats_div_round(0, 7), 0);
	CHECK_I64(stats_div_round(14, 7), 2);
	CHECK_I64(stats_div_round((__int128)INT64_MAX * 2, 2), INT64_MAX);
}

/* ---------------------------------------------------------------------------------------------
 * Determinism
 */

TEST(results_do_not_depend_on_input_order)
{
	/* The same multiset in two orders (and a rerun) gives byte-identical results. */
	enum { N = 4001 };
	static int64_t a[N], b[N];
	lcg_seed(7);
	for (size_t i = 0; i < N; i++)
		a[i] = (int64_t)(lcg_next() % 200) - 20; /* many ties */
	memcpy(b, a, sizeof a);
	for (size_t i = N - 1; i > 0; i--) { /* Fisher–Yates with the fixed LCG */
		size_t j = lcg_next() % (i + 1);
		int64_t t = b[i];
		b[i] = b[j];
		b[j] = t;
	}
	struct stats_summary sa, sb, sa2;
	struct stats_robust ra, rb;
	int64_t ca[8], cb[8];
	struct err e = { 0 };
	memset(&sa, 0, sizeof sa);
	memset(&sb, 0, sizeof sb);
	memset(&sa2, 0, sizeof sa2);
	REQUIRE(stats_summarize(a, N, &sa, &e) == 0);
	REQUIRE(stats_summarize(b, N, &sb, &e) == 0);
	REQUIRE(stats_summarize(a, N, &sa2, &e) == 0);
	CHECK(memcmp(&sa, &sb, sizeof sa) == 0);
	CHECK(memcmp(&sa, &sa2, sizeof sa) == 0);
	REQUIRE(stats_robust(a, N, &ra, &e) == 0);
	REQUIRE(stats_robust(b, N, &rb, &e) == 0);
	CHECK_I64(ra.median_x4, rb.median_x4);
	CHECK_I64(ra.mad_x4, rb.mad_x4);
	REQUIRE(stats_histogram(a, N, day_edges, 8, ca, &e) == 0);
	REQUIRE(stats_histogram(b, N, day_edges, 8, cb, &e) == 0);
	CHECK(memcmp(ca, cb, sizeof ca) == 0);
}

int main(void)
{
	RUN(quantile_hand_computed);
	RUN(quantile_large_samples);
	RUN(quantile_matches_definition_on_random_data);
	RUN(summarize_hand_computed);
	RUN(summarize_mean_ties_round_half_away_from_zero);
	RUN(summarize_rejects_bad_input);
	RUN(robust_hand_computed);
	RUN(robust_matches_definition_on_random_data);
	RUN(robust_small_equals_gsl);
	RUN(robust_does_not_touch_input);
	RUN(histogram_bins);
	RUN(histogram_empty_and_out_of_range);
	RUN(format_tenths_and_quarters);
	RUN(div_round_half_away_from_zero);
	RUN(results_do_not_depend_on_input_order);
	return CHECK_EXIT;
}
