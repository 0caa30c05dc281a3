/* test_insights.c — insights.h without a database: the usage band and score (docs/insights.md),
 * the equivalence of "outside the band" and "score above the threshold", and the summary line.
 * The database half is tests/integration/test_insights.sh (through test_insights_db). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "insights.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t lcg_state = 1;
static uint64_t lcg_next(void)
{
	lcg_state = lcg_state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
	return lcg_state >> 11;
}

/* ---------------------------------------------------------------------------------------------
 * Band and score
 */

static const struct band_case {
	const char *why;
	int64_t median_x4, mad_x4, f_num, f_den;
	int64_t sigma_x40000, low, high;
} band_cases[] = {
	/* median 100, MAD 5: 1.4826·5 = 7.413 > 5 % of 100 -> sigma 7.413, 5 sigma = 37.065 -> 63..137 */
	{ "mad above the floor", 400, 20, 1, 1, 296520, 63, 137 },
	/* constant 500: MAD 0 -> sigma = 25 (5 %), band 375..625 (a tiny wobble is no anomaly) */
	{ "constant history", 2000, 0, 1, 1, 1000000, 375, 625 },
	/* all zeros: sigma = 1 unit -> 0..5 */
	{ "zero history", 0, 0, 1, 1, 40000, 0, 5 },
	/* median 110, MAD 90: sigma = 133.434, 5 sigma = 667.17 -> low clamps at 0, high 777 */
	{ "mad dominates", 440, 360, 1, 1, 5337360, 0, 777 },
	/* median 1000, MAD 100: sigma 148.26, 5 sigma = 741.3 -> 258.7..1741.3 -> 259..1741 */
	{ "mad dominates, both ends", 4000, 400, 1, 1, 5930400, 259, 1741 },
	/* median 2.5, MAD 0: sigma 1 -> −2.5..7.5 -> 0..7 */
	{ "half-integer median", 10, 0, 1, 1, 40000, 0, 7 },
	/* median 20, MAD 0.5: 1.4826·0.5 = 0.7413 < 1 (5 % of 20 = 1, one unit = 1) -> 15..25 */
	{ "boundaries included", 80, 2, 1, 1, 40000, 15, 25 },
	/* trend ×1.5 of median 100 MAD 5: expected 150, reach 1.5·37.065 = 55.5975 -> 94.4..205.6 -> 95..205 */
	{ "trend scales centre and width", 400, 20, 3, 2, 296520, 95, 205 },
};

TEST(band_hand_computed)
{
	for (size_t i = 0; i < N_OF(band_cases); i++) {
		const struct band_case *c = &band_cases[i];
		struct stats_robust r = { 8, c->median_x4, c->mad_x4 };
		struct insights_band b;
		insights_band_of(&r, INSIGHTS_HOUR_THRESHOLD, INSIGHTS_HOUR_FLOOR_E4, c->f_num, c->f_den, &b);
		if (b.sigma_x40000 != c->sigma_x40000 || b.low != c->low || b.high != c->high)
			printf("  case \"%s\"\n", c->why);
		CHECK_I64(b.sigma_x40000, c->sigma_x40000);
		CHECK_I64(b.low, c->low);
		CHECK_I64(b.high, c->high);
	}
}

TEST(score_hand_computed)
{
	struct stats_robust r = { 8, 400, 20 }; /* median 100; with a 10 % floor sigma is 10 */
	struct insights_band b;
	insights_band_of(&r, 5, 1000, 1, 1, &b);
	CHECK_I64(insights_score_tenths(&b, 100), 0);
	CHECK_I64(insights_score_tenths(&b, 150), 50); /* exactly 5: not an anomaly */
	CHECK(!insights_is_anomaly(&b, 150));
	CHECK_I64(insights_score_tenths(&b, 151), 51);
	CHECK(insights_is_anomaly(&b, 151));
	CHECK_I64(insights_score_tenths(&b, 50), 50);
	CHECK(!insights_is_anomaly(&b, 50));
	CHECK(insights_is_anomaly(&b, 49));
	CHECK_I64(insights_score_tenths(&b, 5400), 5300);
	CHECK_I64(insights_score_tenths(&b, 0), 100);
	CHECK(insights_is_anomaly(&b, 0));
	/* a half-integer median: 2.5, sigma 1; 8 is 5.5 sigma away, 7 is 4.5 */
	struct stats_robust h = { 8, 10, 0 };
	insights_band_of(&h, 5, 1000, 1, 1, &b);
	CHECK_I64(insights_score_tenths(&b, 8), 55);
	CHECK(insights_is_anomaly(&b, 8));
	CHECK_I64(insights_score_tenths(&b, 7), 45);
	CHECK(!insights_is_anomaly(&b, 7));
	/* trend ×2: expected 200, sigma 20; 300 is 5 sigma, 0 is 10 */
	insights_band_of(&r, 5, 1000, 2, 1, &b);
	CHECK_I64(insights_score_tenths(&b, 300), 50);
	CHECK(!insights_is_anomaly(&b, 300));
	CHECK(insights_is_anomaly(&b, 301));
	CHECK_I64(insights_score_tenths(&b, 0), 100);
}

/* The band is the set {x : |x − f·m| / (f·sigma) <= T}, decided exactly: compare with the
 * definition in 128-bit integers for random medians, MADs, trends and quantities, and at the
 * band's edges. */
TEST(band_equals_score_threshold)
{
	for (int i = 0; i < 200000; i++) {
		int64_t m4 = (int64_t)(lcg_next() % 4000001);
		int64_t mad4 = (int64_t)(lcg_next() % (i % 3 ? 40001 : 41));
		int64_t f_den = 1 + (int64_t)(lcg_next() % 100000);
		int64_t f_num = f_den / 2 + (int64_t)(lcg_next() % (uint64_t)(f_den + f_den / 2 + 1));
		if (f_num < 1)
			f_num = 1;
		int t = i % 2 ? INSIGHTS_HOUR_THRESHOLD : INSIGHTS_DAY_THRESHOLD;
		struct stats_robust r = { 8, m4, mad4 };
		struct insights_band b;
		insights_band_of(&r, t, INSIGHTS_DAY_FLOOR_E4, f_num, f_den, &b);
		int64_t xs[5] = { (int64_t)(lcg_next() % 4000001), b.low, b.high, b.high + 1, b.low - 1 };
		for (size_t k = 0; k < 5; k++) {
			int64_t x = xs[k];
			if (x < 0)
				continue; /* quantities are never negative */
			__int128 dev = (__int128)4 * x * f_den - (__int128)m4 * f_num;
			if (dev < 0)
				dev = -dev;
			int above = dev * 10000 > (__int128)t * b.sigma_x40000 * f_num;
			if (above != insights_is_anomaly(&b, x)) {
				printf("  m4=%" PRId64 " mad4=%" PRId64 " f=%" PRId64 "/%" PRId64 " x=%" PRId64 "\n", m4, mad4,
				       f_num, f_den, x);
				CHECK(above == insights_is_anomaly(&b, x));
				return;
			}
		}
	}
}

/* sigma is never below its floors, whatever the MAD. */
TEST(sigma_floors)
{
	for (int i = 0; i < 10000; i++) {
		struct stats_robust r = { 8, (int64_t)(lcg_next() % 100000), (int64_t)(lcg_next() % 1000) };
		struct insights_band b;
		insights_band_of(&r, INSIGHTS_HOUR_THRESHOLD, INSIGHTS_HOUR_FLOOR_E4, 1, 1, &b);
		CHECK(b.sigma_x40000 >= (int64_t)INSIGHTS_SIGMA_FLOOR_UNITS * 40000);
		CHECK(b.sigma_x40000 >= (int64_t)INSIGHTS_HOUR_FLOOR_E4 * r.median_x4);
		CHECK(b.sigma_x40000 >= (int64_t)INSIGHTS_MAD_SCALE_E4 * r.mad_x4);
		CHECK(b.low >= 0 && b.low <= b.high);
	}
}

/* ---------------------------------------------------------------------------------------------
 * The summary line
 */

TEST(summary_line)
{
	static const struct {
		int64_t anomalies, payouts, median_tenths;
		const char *line;
	} cases[] = {
		{ 3, 7, 340, "3 usage anomalies; median days to payout 34" },
		{ 1, 2, 345, "1 usage anomaly; median days to payout 34.5" },
		{ 0, 1, 0, "0 usage anomalies; median days to payout 0" },
		{ 2, 0, 0, "2 usage anomalies; no payouts to time" },
		{ 0, 3, -5, "0 usage anomalies; median days to payout -0.5" },
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		struct insights_summary s = { 0 };
		s.usage_anomalies = cases[i].anomalies;
		s.payout_samples = cases[i].payouts;
		s.payout_median_days_tenths = cases[i].median_tenths;
		char buf[128];
		size_t n = insights_summary_line(&s, buf, sizeof buf);
		CHECK_STR(buf, cases[i].line);
		CHECK_I64(n, strlen(cases[i].line));
	}
}

TEST(summary_line_truncates_like_snprintf)
{
	struct insights_summary s = { 0 };
	s.usage_anomalies = 3;
	s.payout_samples = 1;
	s.payout_median_days_tenths = 340;
	char small[8];
	size_t n = insights_summary_line(&s, small, sizeof small);
	CHECK_I64(n, strlen("3 usage anomalies; median days to payout 34"));
	CHECK_STR(small, "3 usage");
}

int main(void)
{
	RUN(band_hand_computed);
	RUN(score_hand_computed);
	RUN(band_equals_score_threshold);
	RUN(sigma_floors);
	RUN(summary_line);
	RUN(summary_line_truncates_like_snprintf);
	return CHECK_EXIT;
}
