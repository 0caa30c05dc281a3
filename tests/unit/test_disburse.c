/* test_disburse.c — SPEC §4.5 disbursement status and deposit matching, §4.6 usage status,
 * §4.8 aging buckets: pure functions. */
#include <stdlib.h>

#include "check.h"
#include "disburse.h"
#include "timeutil.h"
#include "usage.h"

#define TOL 10000 /* one cent */

TEST(status_precedence)
{
	static const struct {
		int64_t remainder;
		int disbursed, last_failed;
		enum disburse_status want;
	} cases[] = {
		{ 0, 1, 0, DISBURSE_DISBURSED },
		{ TOL, 1, 0, DISBURSE_DISBURSED },       /* within tol */
		{ -TOL, 1, 0, DISBURSE_DISBURSED },
		{ TOL + 1, 1, 0, DISBURSE_PARTIAL },
		{ -TOL - 1, 1, 0, DISBURSE_OVER },
		{ 5000000, 0, 0, DISBURSE_NOT_DISBURSED },
		{ 0, 0, 0, DISBURSE_NOT_DISBURSED },     /* nothing disbursed, nothing owed */
		{ -5000000, 0, 0, DISBURSE_NOT_DISBURSED },
		{ 5000000, 0, 1, DISBURSE_FAILED },      /* its only payout failed */
		{ 0, 1, 1, DISBURSE_FAILED },            /* the last payout failed wins */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(disburse_status_name(disburse_status_of(cases[i].remainder, TOL, cases[i].disbursed,
								  cases[i].last_failed)),
			  disburse_status_name(cases[i].want));
}

TEST(aging)
{
	static const struct {
		int64_t days;
		const char *bucket;
	} cases[] = {
		{ -3, "0-30" }, { 0, "0-30" }, { 30, "0-30" }, { 31, "31-60" }, { 60, "31-60" }, { 61, "61-90" },
		{ 90, "61-90" }, { 91, "91-120" }, { 120, "91-120" }, { 121, "over 120" }, { 5000, "over 120" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(disburse_aging_bucket(cases[i].days), cases[i].bucket);
	CHECK(disburse_is_aged(DISBURSE_PARTIAL, TOL + 1, TOL));
	CHECK(disburse_is_aged(DISBURSE_NOT_DISBURSED, -TOL - 1, TOL));
	CHECK(disburse_is_aged(DISBURSE_FAILED, 3041520000, TOL));
	CHECK(!disburse_is_aged(DISBURSE_NOT_DISBURSED, 0, TOL)); /* netted to zero: owed by nobody */
	CHECK(!disburse_is_aged(DISBURSE_DISBURSED, 0, TOL));
	CHECK(!disburse_is_aged(DISBURSE_OVER, -5000000, TOL));
}

static struct disburse_payout payout(const char *id, const char *trace, int32_t day, int64_t amount, int failed)
{
	struct disburse_payout p = { .recipient_account_id = "s-1", .payout_id = id, .currency = "USD",
				     .bank_trace_id = trace, .day = day, .amount_micros = amount, .failed = failed };
	return p;
}

static struct disburse_deposit deposit(const char *id, const char *trace, int32_t day, int64_t amount)
{
	struct disburse_deposit d = { .deposit_id = id, .account_id = "s-1", .currency = "USD",
				      .bank_trace_id = trace, .value_day = day, .amount_micros = amount };
	return d;
}

TEST(deposits_by_trace_then_amount)
{
	struct disburse_payout p[] = {
		payout("p1", "TRC-1", 100, 3041520000, 0),  /* trace id, deposit short by a fee */
		payout("p2", "", 100, 500000000, 0),        /* amount + date */
		payout("p3", "", 100, 700000000, 0),        /* two candidates: none chosen */
		payout("p4", "", 100, 900000000, 0),        /* deposit 11 days later: outside the window */
		payout("p5", "", 100, 111000000, 1),        /* failed: not matched by amount */
		payout("p6", "TRC-none", 100, 222000000, 0),/* trace unknown: falls back to amount */
	};
	struct disburse_deposit d[] = {
		deposit("d-amount", "", 110, 500000000),    /* day + 10: inside, inclusive */
		deposit("d-trace", "TRC-1", 103, 3031520000),
		deposit("d-two-a", "", 101, 700000000),
		deposit("d-two-b", "", 102, 700000000),
		deposit("d-late", "", 111, 900000000),
		deposit("d-failed", "", 101, 111000000),
		deposit("d-fallback", "", 100, 222000000),  /* same day: inside */
	};
	struct err e;
	REQUIRE(disburse_match_deposits(p, 6, d, 7, 10, &e) == 0);
	CHECK_I64(p[0].match, DISBURSE_MATCH_TRACE_ID);
	CHECK_STR(d[p[0].deposit].deposit_id, "d-trace");
	CHECK_I64(p[1].match, DISBURSE_MATCH_AMOUNT_DATE);
	CHECK_STR(d[p[1].deposit].deposit_id, "d-amount");
	CHECK_I64(p[2].match, DISBURSE_MATCH_NONE);
	CHECK_I64(p[2].candidates, 2);
	CHECK_I64(p[3].match, DISBURSE_MATCH_NONE);
	CHECK_I64(p[3].candidates, 0);
	CHECK_I64(p[4].match, DISBURSE_MATCH_NONE);
	CHECK_I64(p[5].match, DISBURSE_MATCH_AMOUNT_DATE);
	CHECK_STR(d[p[5].deposit].deposit_id, "d-fallback");
	CHECK(d[0].claimed && d[1].claimed && d[6].claimed);
	CHECK(!d[2].claimed && !d[3].claimed && !d[4].claimed && !d[5].claimed);
	CHECK_I64(d[1].payout, 0);
}

/* Each deposit goes to one payout: the earlier payout (array order) claims first. */
TEST(deposits_claimed_once)
{
	struct disburse_payout p[] = {
		payout("p1", "", 100, 500000000, 0),
		payout("p2", "", 105, 500000000, 0),
		payout("p3", "T", 100, 1, 0),
		payout("p4", "T", 101, 1, 0),
	};
	struct disburse_deposit d[] = {
		deposit("d1", "", 104, 500000000),
		deposit("d2", "", 112, 500000000),
		deposit("t-b", "T", 102, 1),
		deposit("t-a", "T", 102, 1),
	};
	struct err e;
	REQUIRE(disburse_match_deposits(p, 4, d, 4, 10, &e) == 0);
	/* p1 sees d1 only (d2 is 12 days later); p2 then sees d2 only (d1 claimed) */
	CHECK_STR(d[p[0].deposit].deposit_id, "d1");
	CHECK_STR(d[p[1].deposit].deposit_id, "d2");
	/* the same trace id twice: the smallest deposit_id first */
	CHECK_STR(d[p[2].deposit].deposit_id, "t-a");
	CHECK_STR(d[p[3].deposit].deposit_id, "t-b");
}

TEST(deposits_other_account_or_currency)
{
	struct disburse_payout p[] = { payout("p1", "", 100, 500000000, 0) };
	struct disburse_deposit d[] = { deposit("d1", "", 101, 500000000), deposit("d2", "", 101, 500000000) };
	d[0].account_id = "s-2";
	d[1].currency = "EUR";
	struct err e;
	REQUIRE(disburse_match_deposits(p, 1, d, 2, 10, &e) == 0);
	CHECK_I64(p[0].match, DISBURSE_MATCH_NONE);
	REQUIRE(disburse_match_deposits(p, 1, d, 0, 10, &e) == 0); /* no deposits at all */
	CHECK_I64(p[0].match, DISBURSE_MATCH_NONE);
}

TEST(usage_status)
{
	int64_t end = period_end_us(2026 * 12 + 9); /* 2026-11-01T00:00Z */
	int64_t day = TIME_US_PER_DAY;
	CHECK_I64(usage_status_of(1000000, 1000000, 1, TOL, end, end, 5), USAGE_OK);
	CHECK_I64(usage_status_of(1000000, 1010000, 1, TOL, end, end, 5), USAGE_OK);        /* exactly tol */
	CHECK_I64(usage_status_of(1000000, 1010001, 1, TOL, end, end, 5), USAGE_VARIANCE);
	CHECK_I64(usage_status_of(0, 5000000, 1, TOL, end, end, 5), USAGE_VARIANCE);        /* billed, not metered */
	CHECK_I64(usage_status_of(0, 0, 0, TOL, end + 30 * day, end, 5), USAGE_OK);        /* nothing either side */
	CHECK_I64(usage_status_of(1000000, 0, 0, TOL, end + 5 * day, end, 5), USAGE_PENDING);  /* not more than 5 days */
	CHECK_I64(usage_status_of(1000000, 0, 0, TOL, end + 5 * day + 1, end, 5), USAGE_UNBILLED);
	CHECK_STR(usage_status_name(USAGE_UNBILLED), "UNBILLED");
}

TEST(usage_expected_rounds_per_dimension)
{
	int64_t out;
	/* 3 × 0.333333 = 0.999999 -> USD 1.00, JPY 1 */
	CHECK_I64(usage_expected(3, 333333, 2, MONEY_HALF_UP, &out), MONEY_OK);
	CHECK_I64(out, 1000000);
	CHECK_I64(usage_expected(3, 333333, 0, MONEY_HALF_UP, &out), MONEY_OK);
	CHECK_I64(out, 1000000);
	/* KWD 0.0005 × 1 -> 0.001 half up, 0.000 half even */
	CHECK_I64(usage_expected(1, 500, 3, MONEY_HALF_UP, &out), MONEY_OK);
	CHECK_I64(out, 1000);
	CHECK_I64(usage_expected(1, 500, 3, MONEY_HALF_EVEN, &out), MONEY_OK);
	CHECK_I64(out, 0);
	CHECK_I64(usage_expected(INT64_C(2147483647) * 4, INT64_C(2000000000000), 2, MONEY_HALF_UP, &out), MONEY_OVERFLOW);
}

int main(void)
{
	RUN(status_precedence);
	RUN(aging);
	RUN(deposits_by_trace_then_amount);
	RUN(deposits_claimed_once);
	RUN(deposits_other_account_or_currency);
	RUN(usage_status);
	RUN(usage_expected_rounds_per_dimension);
	return CHECK_EXIT;
}
