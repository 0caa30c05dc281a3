/* test_disburse.c — SPEC §4.5 disbursement status and deposit matching, §4.6 usage status,
 * §4.8 aging buckets: pure functions. */
#include <stdlib.h>

#include "check.h"
#include "disburse.h"
#include "timeutil.h"
#include "usage.h"

#define TOL 10000 /* one cent */

/* SPEC §4.5 (version 2): FAILED, OVER, NOT_DISBURSED, DISBURSED, PARTIAL — the first that applies. */
TEST(status_precedence)
{
	static const struct {
		int64_t remainder;
		int any_line, latest_failed;
		enum disburse_status want;
	} cases[] = {
		{ 0, 1, 0, DISBURSE_DISBURSED },
		{ TOL, 1, 0, DISBURSE_DISBURSED },       /* within tol */
		{ -TOL, 1, 0, DISBURSE_DISBURSED },
		{ TOL + 1, 1, 0, DISBURSE_PARTIAL },
		{ -TOL - 1, 1, 0, DISBURSE_OVER },
		{ 5000000, 0, 0, DISBURSE_NOT_DISBURSED },
		{ 0, 0, 0, DISBURSE_NOT_DISBURSED },     /* nothing disbursed, nothing owed */
		{ -5000000, 0, 0, DISBURSE_OVER },       /* OVER comes before NOT_DISBURSED */
		{ 5000000, 1, 1, DISBURSE_FAILED },      /* its latest payout failed, money still owed */
		{ TOL + 1, 1, 1, DISBURSE_FAILED },
		{ TOL, 1, 1, DISBURSE_DISBURSED },       /* failed, but nothing owed: not FAILED */
		{ 0, 1, 1, DISBURSE_DISBURSED },
		{ -5000000, 1, 1, DISBURSE_OVER },       /* failed and overpaid: OVER */
		{ 5000000, 0, 1, DISBURSE_FAILED },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(disburse_status_name(disburse_status_of(cases[i].remainder, TOL, cases[i].any_line,
								  cases[i].latest_failed)),
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
	CHECK(!disburse_is_aged(DISBURSE_NOT_DISBURSED, -TOL - 1, TOL)); /* owed by the seller: not aged */
	CHECK(disburse_is_aged(DISBURSE_NOT_DISBURSED, TOL + 1, TOL));
	CHECK(!disburse_is_aged(DISBURSE_PARTIAL, TOL, TOL));
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

/* SPEC §4.5: a payout paid in another currency is deposited in that currency, of its paid amount:
 * the amount rule looks for the paid amount in the paid currency, never the pricing one; a paid
 * currency without a known paid amount takes no deposit by amount (nothing to compare). */
TEST(deposits_in_the_paid_currency)
{
	struct disburse_payout p[] = {
		payout("p-eur", "", 100, 970000000, 0),     /* 970.00 USD paid as 900.00 EUR */
		payout("p-usd", "", 100, 500000000, 0),     /* paid as priced */
		payout("p-unknown", "", 100, 300000000, 0), /* paid in EUR, amount unknown */
	};
	p[0].paid_currency = "EUR";
	p[0].paid_amount_micros = 900000000;
	p[0].paid_amount_known = 1;
	p[2].paid_currency = "EUR";
	struct disburse_deposit d[] = {
		deposit("d-usd-970", "", 101, 970000000),   /* the pricing amount: not what was paid */
		deposit("d-eur-900", "", 102, 900000000),
		deposit("d-usd-500", "", 101, 500000000),
		deposit("d-eur-300", "", 101, 300000000),   /* the unknown one's pricing amount, in EUR */
	};
	d[1].currency = "EUR";
	d[3].currency = "EUR";
	struct err e;
	REQUIRE(disburse_match_deposits(p, 3, d, 4, 10, &e) == 0);
	CHECK_I64(p[0].match, DISBURSE_MATCH_AMOUNT_DATE);
	CHECK_STR(d[p[0].deposit].deposit_id, "d-eur-900");
	CHECK_I64(p[1].match, DISBURSE_MATCH_AMOUNT_DATE);
	CHECK_STR(d[p[1].deposit].deposit_id, "d-usd-500");
	CHECK_I64(p[2].match, DISBURSE_MATCH_NONE);
	CHECK(!d[0].claimed && !d[3].claimed);
	CHECK_STR(disburse_paid_currency(&p[0]), "EUR");
	CHECK_I64(disburse_paid_amount(&p[0]), 900000000);
	CHECK_STR(disburse_paid_currency(&p[1]), "USD");
	CHECK_I64(disburse_paid_amount(&p[1]), 500000000);
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

static struct disburse_failure failure(const char *id, const char *parent, const char *trace, int32_t day,
				       int64_t amount)
{
	struct disburse_failure f = { .recipient_account_id = "s-1", .failure_id = id, .currency = "USD",
				      .parent_id = parent, .bank_trace_id = trace, .day = day, .amount_micros = amount };
	return f;
}

/* SPEC §4.5: parent, else bank trace id, else exact amount; one payout per failure and back. */
TEST(failure_links)
{
	struct disburse_payout p[] = {
		payout("p-a", "TRC-A", 100, 247500000, 0), /* named by f-parent */
		payout("p-b", "TRC-B", 100, 300000000, 0), /* same trace id as f-trace */
		payout("p-c", "", 100, 400000000, 0),      /* amount: an older candidate */
		payout("p-d", "", 105, 400000000, 0),      /* amount: the latest on or before f-amount */
		payout("p-e", "", 120, 400000000, 0),      /* after f-amount: not a candidate */
		payout("p-f", "", 90, 500000000, 0),       /* another recipient below */
	};
	p[5].recipient_account_id = "s-2";
	struct disburse_failure f[] = {
		failure("f-amount", "", "", 110, -400000000),
		failure("f-trace", "", "TRC-B", 110, -1),          /* amount differs: the trace id decides */
		failure("f-parent", "p-a", "TRC-B", 111, -247500000), /* the parent wins over the trace id */
		failure("f-none", "", "", 111, -999000000),        /* nothing it cancels */
		failure("f-other", "", "", 111, -500000000),       /* p-f is another recipient's */
		failure("f-dup", "p-a", "", 112, -247500000),      /* p-a is undone already: undoes nothing */
		failure("f-lost-parent", "p-zz", "", 113, -400000000), /* unknown parent: the amount decides */
	};
	struct err e;
	REQUIRE(disburse_link_failures(p, 6, f, 7, &e) == 0);
	CHECK_I64(f[2].link, DISBURSE_LINK_PARENT);
	CHECK_STR(p[f[2].payout].payout_id, "p-a");
	CHECK_I64(f[1].link, DISBURSE_LINK_TRACE_ID);
	CHECK_STR(p[f[1].payout].payout_id, "p-b");
	CHECK_I64(f[0].link, DISBURSE_LINK_AMOUNT);
	CHECK_STR(p[f[0].payout].payout_id, "p-d");
	CHECK_I64(f[3].link, DISBURSE_LINK_NONE);
	CHECK_I64(f[4].link, DISBURSE_LINK_NONE);
	CHECK_I64(f[5].link, DISBURSE_LINK_NONE);
	CHECK_I64(f[6].link, DISBURSE_LINK_AMOUNT); /* p-d is taken: p-c, the next latest before it */
	CHECK_STR(p[f[6].payout].payout_id, "p-c");
	CHECK(p[0].failed && p[1].failed && p[2].failed && p[3].failed && !p[4].failed && !p[5].failed);
	CHECK_I64(p[0].failure, 2);
	CHECK_STR(disburse_link_name(DISBURSE_LINK_TRACE_ID), "TRACE_ID");
	CHECK(disburse_link_name(DISBURSE_LINK_NONE) == NULL);
}

/* Amount ties: the latest date, then the greater billing_event_id; other currencies never match. */
TEST(failure_amount_ties)
{
	struct disburse_payout p[] = {
		payout("p-10", "", 100, 100000000, 0),
		payout("p-9", "", 100, 100000000, 0), /* "p-9" > "p-10" in byte order */
		payout("p-eur", "", 101, 100000000, 0),
	};
	p[2].currency = "EUR";
	struct disburse_failure f[] = { failure("f1", "", "", 101, -100000000), failure("f2", "", "", 101, -100000000),
					failure("f3", "", "", 101, -100000000) };
	struct err e;
	REQUIRE(disburse_link_failures(p, 3, f, 3, &e) == 0);
	CHECK_STR(p[f[0].payout].payout_id, "p-9");
	CHECK_STR(p[f[1].payout].payout_id, "p-10");
	CHECK_I64(f[2].link, DISBURSE_LINK_NONE); /* no third USD payout; p-eur is another currency */
	CHECK(!p[2].failed);
	/* no payouts at all */
	REQUIRE(disburse_link_failures(p, 0, f, 3, &e) == 0);
	CHECK_I64(f[0].link, DISBURSE_LINK_NONE);
}

/* A failed payout's lines count only when its failure has reversal lines of its own. */
TEST(failed_lines_count)
{
	struct disburse_payout p[] = { payout("p1", "", 100, 247500000, 0), payout("p2", "", 100, 1, 0) };
	struct disburse_failure f[] = { failure("f1", "p1", "", 101, -247500000) };
	struct err e;
	REQUIRE(disburse_link_failures(p, 2, f, 1, &e) == 0);
	CHECK(!disburse_lines_count(&p[0], f)); /* older feeds: the failure alone */
	f[0].has_reversal_lines = 1;
	CHECK(disburse_lines_count(&p[0], f)); /* current feeds: lines and reversal lines both count */
	CHECK(disburse_lines_count(&p[1], f)); /* not failed */
	CHECK(disburse_trace_is_placeholder("EMEA_MP_TEST_TRACE_ID"));
	CHECK(disburse_trace_is_placeholder("testTraceId"));
	CHECK(!disburse_trace_is_placeholder("TRC-778"));
	CHECK(!disburse_trace_is_placeholder(""));
	CHECK(!disburse_trace_is_placeholder(NULL));
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
	RUN(deposits_in_the_paid_currency);
	RUN(failure_links);
	RUN(failure_amount_ties);
	RUN(failed_lines_count);
	RUN(usage_status);
	RUN(usage_expected_rounds_per_dimension);
	return CHECK_EXIT;
}
